-- The transactional outbox: every message to a borrower, written in the transaction of the event
-- that causes it (a reminder or overdue day of the close, a recorded promise, a decision, a call
-- an agent asked for) and delivered by a worker. `idempotency_key` names the message to the
-- provider, so that a message sent again after a crash is not delivered twice; the event's
-- figures (`amount_fen`, `on_date`, `days`, and `detail`: the operation a decision applied) fill
-- the template when it is sent. A worker holds the
-- messages it claimed until `leased_until`; one that dies lets them go when the lease ends.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('phone', 'sms', 'email', 'wechat')),
    loan_id         INTEGER NOT NULL REFERENCES loans (id),
    task_id         INTEGER REFERENCES tasks (id),
    user_id         INTEGER REFERENCES users (id),
    amount_fen      INTEGER,
    on_date         TEXT,
    days            INTEGER,
    detail          TEXT,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sent', 'delivered', 'failed', 'dead', 'blocked')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    due_at          TEXT NOT NULL,
    leased_until    TEXT,
    provider_id     TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    business_date   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    finished_at     TEXT
);
CREATE INDEX outbox_pending ON outbox (due_at, id) WHERE state IN ('queued', 'failed');
CREATE INDEX outbox_provider ON outbox (provider_id) WHERE provider_id IS NOT NULL;
CREATE INDEX outbox_loan ON outbox (loan_id, sent_at);

-- What providers reported about a message: delivery receipts, and a call's events (ringing,
-- answered, hangup with its duration and recording reference).
CREATE TABLE outbox_receipts (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id),
    status      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL
);
CREATE INDEX outbox_receipts_message ON outbox_receipts (outbox_id, id);

-- The signatures of the provider callbacks accepted, so that a replayed one is refused.
CREATE TABLE webhook_signatures (
    signature   TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);

-- A borrower's addresses on the channels the borrower file does not carry (the mobile is the
-- borrower's own): an email address, a WeChat open id.
CREATE TABLE contact_addresses (
    borrower_id INTEGER NOT NULL REFERENCES borrowers (id),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'wechat')),
    address     TEXT NOT NULL,
    PRIMARY KEY (borrower_id, channel)
);

-- A borrower's emergency contacts (紧急联系人): contacted only to locate the borrower, only
-- with their consent (`consent_on`: the day it was given; none: not given).
CREATE TABLE emergency_contacts (
    id          INTEGER PRIMARY KEY,
    borrower_id INTEGER NOT NULL REFERENCES borrowers (id),
    name        TEXT NOT NULL,
    relation    TEXT NOT NULL,
    mobile      TEXT NOT NULL,
    consent_on  TEXT,
    UNIQUE (borrower_id, mobile)
);

-- A contact made with an emergency contact instead of the borrower.
ALTER TABLE interactions ADD COLUMN emergency_contact_id INTEGER REFERENCES emergency_contacts (id);

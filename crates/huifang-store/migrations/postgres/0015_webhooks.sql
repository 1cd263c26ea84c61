-- Events out: subscribers (a URL, the secret their deliveries are signed with, the event kinds
-- they take) and how far the relay has read each source of events (the last loan event, payment
-- and applied decision's operation queued for them; a new subscriber starts from the present).
CREATE TABLE webhooks (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                TEXT NOT NULL UNIQUE,
    url                 TEXT NOT NULL,
    secret              TEXT NOT NULL,
    kinds               TEXT NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    read_event_id       BIGINT NOT NULL DEFAULT 0,
    read_payment_id     BIGINT NOT NULL DEFAULT 0,
    read_decision_op_id BIGINT NOT NULL DEFAULT 0
);

-- Every delivery of an event to a subscriber: its id (the receiver's idempotency key), the
-- signed JSON body, attempts, the last answer, and when it was delivered (the delivery log).
CREATE TABLE webhook_deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id   BIGINT NOT NULL REFERENCES webhooks (id),
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'delivered', 'failed', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       TEXT NOT NULL,
    leased_until TEXT,
    last_status  INTEGER,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (due_at, id) WHERE state IN ('queued', 'failed');

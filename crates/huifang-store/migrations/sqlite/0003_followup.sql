-- Follow-up (回访) engine and the team that works it (SQLite).

CREATE TABLE teams (
    id   INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

-- Roles: agent, collector, team_lead, risk_officer, auditor, admin.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('agent', 'collector', 'team_lead', 'risk_officer', 'auditor', 'admin')),
    team_id        INTEGER REFERENCES teams (id),
    skills         TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,
    api_token_hash TEXT UNIQUE,
    active         INTEGER NOT NULL DEFAULT 1
);

-- Login sessions (token hashed with SHA-256; the token itself is only ever shown once).
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    expires_at TEXT NOT NULL
);

-- Queues of work; strategy: round_robin, least_loaded or sticky.
CREATE TABLE queues (
    id        INTEGER PRIMARY KEY,
    code      TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    team_id   INTEGER REFERENCES teams (id),
    skill     TEXT NOT NULL DEFAULT '',
    strategy  TEXT NOT NULL DEFAULT 'round_robin' CHECK (strategy IN ('round_robin', 'least_loaded', 'sticky')),
    rr_cursor INTEGER NOT NULL DEFAULT 0
);

-- Follow-up plans and scripts, held as data (JSON text), per product code ('*' = default).
CREATE TABLE followup_plans (
    product_code TEXT PRIMARY KEY,
    plan         TEXT NOT NULL
);
CREATE TABLE scripts (
    task_kind TEXT NOT NULL,
    lang      TEXT NOT NULL,
    questions TEXT NOT NULL,
    PRIMARY KEY (task_kind, lang)
);

-- A task exists at most once per loan and reason (reason_key), whatever reruns or backdated
-- postings happen: that is what makes generation idempotent.
-- state: open, assigned, in_progress, done, failed, rescheduled, cancelled
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY,
    loan_id       INTEGER NOT NULL REFERENCES loans (id),
    kind          TEXT NOT NULL,
    reason_key    TEXT NOT NULL,
    queue_code    TEXT NOT NULL,
    state         TEXT NOT NULL,
    assignee_id   INTEGER REFERENCES users (id),
    created_on    TEXT NOT NULL,
    due_on        TEXT NOT NULL,
    window_end_on TEXT,
    late          INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 3,
    outcome       TEXT,
    closed_on     TEXT,
    close_reason  TEXT,
    UNIQUE (loan_id, reason_key)
);
CREATE INDEX tasks_queue_state ON tasks (queue_code, state, due_on);
CREATE INDEX tasks_assignee_state ON tasks (assignee_id, state);
CREATE INDEX tasks_loan_state ON tasks (loan_id, state);

-- Per-loan follow-up schedule kept by the daily close (continuous follow-ups).
CREATE TABLE loan_followup (
    loan_id             INTEGER NOT NULL PRIMARY KEY REFERENCES loans (id),
    next_continuous_on  TEXT,
    last_agent_id       INTEGER REFERENCES users (id)
);
CREATE INDEX loan_followup_next ON loan_followup (next_continuous_on) WHERE next_continuous_on IS NOT NULL;

-- Every contact with a borrower. idempotency_key makes recording an outcome twice record it once.
CREATE TABLE interactions (
    id                 INTEGER PRIMARY KEY,
    idempotency_key    TEXT NOT NULL UNIQUE,
    task_id            INTEGER REFERENCES tasks (id),
    loan_id            INTEGER NOT NULL REFERENCES loans (id),
    user_id            INTEGER NOT NULL REFERENCES users (id),
    channel            TEXT NOT NULL CHECK (channel IN ('phone', 'sms', 'email', 'wechat', 'visit')),
    occurred_at        TEXT NOT NULL,
    duration_seconds   INTEGER NOT NULL DEFAULT 0,
    outcome            TEXT NOT NULL,
    promise_amount_fen INTEGER,
    promise_date       TEXT,
    income_change_pct  INTEGER,
    job_status         TEXT,
    vehicle_status     TEXT,
    answers            TEXT NOT NULL DEFAULT '{}',
    notes              TEXT NOT NULL DEFAULT '',
    business_date      TEXT NOT NULL,
    salt               TEXT
);
CREATE INDEX interactions_loan ON interactions (loan_id);

-- state: open, kept, broken
CREATE TABLE promises (
    id             INTEGER PRIMARY KEY,
    interaction_id INTEGER NOT NULL REFERENCES interactions (id),
    loan_id        INTEGER NOT NULL REFERENCES loans (id),
    amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
    promised_on    TEXT NOT NULL,
    due_on         TEXT NOT NULL,
    paid_before_fen INTEGER NOT NULL,
    state          TEXT NOT NULL DEFAULT 'open',
    resolved_on    TEXT
);
CREATE INDEX promises_open ON promises (due_on) WHERE state = 'open';

-- Risk signals from outcomes and answers, for the warning rules:
-- hardship, income_drop, job_loss, business_trouble, vehicle_sold, vehicle_pledged, vehicle_lost,
-- unreachable, broken_promise, ...
CREATE TABLE risk_signals (
    id             INTEGER PRIMARY KEY,
    loan_id        INTEGER NOT NULL REFERENCES loans (id),
    kind           TEXT NOT NULL,
    value          TEXT NOT NULL DEFAULT '',
    observed_on    TEXT NOT NULL,
    interaction_id INTEGER REFERENCES interactions (id)
);
CREATE INDEX risk_signals_loan ON risk_signals (loan_id, kind);

-- Every reveal of a borrower's full ID number or mobile to a user (PIPL: masked by default).
CREATE TABLE reveals (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    borrower_id   INTEGER NOT NULL REFERENCES borrowers (id),
    loan_id       INTEGER REFERENCES loans (id),
    task_id       INTEGER REFERENCES tasks (id),
    fields        TEXT NOT NULL,
    revealed_at   TEXT NOT NULL,
    business_date TEXT NOT NULL
);
CREATE INDEX reveals_borrower ON reveals (borrower_id);
CREATE INDEX interactions_user_date ON interactions (user_id, business_date);
-- The next task to claim in a queue: unassigned and waiting, earliest due first.
CREATE INDEX tasks_unassigned ON tasks (queue_code, due_on, id) WHERE assignee_id IS NULL AND state IN ('open', 'rescheduled');

-- Foundation schema (SQLite). Dates are ISO text (YYYY-MM-DD), money is integer fen.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE products (
    id                  INTEGER PRIMARY KEY,
    code                TEXT NOT NULL UNIQUE,
    name                TEXT NOT NULL,
    grace_days          INTEGER NOT NULL CHECK (grace_days >= 0),
    penalty_rate_markup TEXT NOT NULL
);

CREATE TABLE borrowers (
    id                 INTEGER PRIMARY KEY,
    external_id        TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    id_number          TEXT NOT NULL,
    mobile             TEXT NOT NULL,
    employer           TEXT NOT NULL,
    monthly_income_fen INTEGER NOT NULL CHECK (monthly_income_fen >= 0),
    city               TEXT NOT NULL
);

-- The contract: written once by the import, read by every replay.
CREATE TABLE loans (
    id                   INTEGER PRIMARY KEY,
    external_id          TEXT NOT NULL UNIQUE,
    borrower_id          INTEGER NOT NULL REFERENCES borrowers (id),
    borrower_external_id TEXT NOT NULL,
    product_id           INTEGER NOT NULL REFERENCES products (id),
    principal_fen        INTEGER NOT NULL CHECK (principal_fen > 0),
    annual_rate          TEXT NOT NULL,
    term_months          INTEGER NOT NULL,
    method               TEXT NOT NULL,
    disbursed_on         TEXT NOT NULL,
    vin                  TEXT NOT NULL,
    vehicle_model        TEXT NOT NULL,
    vehicle_price_fen    INTEGER NOT NULL,
    dealer               TEXT NOT NULL
);
CREATE INDEX loans_borrower ON loans (borrower_id);

-- The derived state of each loan as of evaluated_on, kept current by imports, operations and the
-- daily close. A narrow table of its own: the close rewrites these rows, not the contracts.
CREATE TABLE loan_state (
    loan_id                   INTEGER NOT NULL PRIMARY KEY REFERENCES loans (id),
    lifecycle                 TEXT NOT NULL,
    oldest_unpaid_due         TEXT,
    bucket                    INTEGER NOT NULL,
    classification            TEXT NOT NULL,
    overdue_installments      INTEGER NOT NULL,
    outstanding_principal_fen INTEGER NOT NULL,
    warning_level             INTEGER NOT NULL,
    warning_rule              TEXT,
    next_event_on             TEXT,
    evaluated_on              TEXT NOT NULL
);
CREATE INDEX loan_state_next_event ON loan_state (next_event_on) WHERE next_event_on IS NOT NULL;

CREATE TABLE payments (
    id          INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    loan_id     INTEGER NOT NULL REFERENCES loans (id),
    paid_on     TEXT NOT NULL,
    amount_fen  INTEGER NOT NULL CHECK (amount_fen > 0),
    channel     TEXT NOT NULL,
    received_on TEXT NOT NULL
);
-- covering: a replay reads a loan's payments from the index alone
CREATE INDEX payments_loan ON payments (loan_id, paid_on, id, amount_fen);

CREATE TABLE loan_ops (
    id         INTEGER PRIMARY KEY,
    loan_id    INTEGER NOT NULL REFERENCES loans (id),
    on_date    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    params     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    recorded_on TEXT NOT NULL
);
CREATE INDEX loan_ops_loan ON loan_ops (loan_id);

CREATE TABLE loan_events (
    id            INTEGER PRIMARY KEY,
    loan_id       INTEGER NOT NULL REFERENCES loans (id),
    business_date TEXT NOT NULL,
    kind          TEXT NOT NULL,
    details       TEXT NOT NULL
);
CREATE INDEX loan_events_date ON loan_events (business_date, kind);
CREATE INDEX loan_events_loan ON loan_events (loan_id);

CREATE TABLE status_history (
    id             INTEGER PRIMARY KEY,
    loan_id        INTEGER NOT NULL REFERENCES loans (id),
    business_date  TEXT NOT NULL,
    lifecycle      TEXT NOT NULL,
    bucket         INTEGER NOT NULL,
    classification TEXT NOT NULL,
    warning_level  INTEGER NOT NULL,
    cause          TEXT NOT NULL
);
CREATE INDEX status_history_loan ON status_history (loan_id);

CREATE TABLE warnings (
    id         INTEGER PRIMARY KEY,
    loan_id    INTEGER NOT NULL REFERENCES loans (id),
    level      INTEGER NOT NULL,
    rule       TEXT NOT NULL,
    facts      TEXT NOT NULL,
    raised_on  TEXT NOT NULL,
    cleared_on TEXT
);
CREATE INDEX warnings_open ON warnings (loan_id) WHERE cleared_on IS NULL;

CREATE TABLE closed_days (
    business_date TEXT PRIMARY KEY,
    loans_touched INTEGER NOT NULL,
    events        INTEGER NOT NULL
);

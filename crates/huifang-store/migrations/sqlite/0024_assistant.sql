-- The follow-up assistant's conversations, one per task it took. While a conversation is
-- active its task is assigned to the built-in user `huifang-assistant`, so that no agent takes
-- it; a task closed or reassigned meanwhile ends it as `closed`. Answers and the transcript are JSON; times are RFC 3339 UTC text, as the outbox's.
CREATE TABLE assistant_sessions (
    id             INTEGER PRIMARY KEY,
    task_id        INTEGER NOT NULL UNIQUE REFERENCES tasks (id),
    loan_id        INTEGER NOT NULL REFERENCES loans (id),
    borrower_id    INTEGER NOT NULL REFERENCES borrowers (id),
    kind           TEXT NOT NULL,
    flow           TEXT NOT NULL CHECK (flow IN ('ivr', 'sms', 'wechat')),
    state          TEXT NOT NULL CHECK (state IN ('active', 'completed', 'handed_over', 'closed')),
    reason         TEXT,
    step           INTEGER NOT NULL DEFAULT 0,
    asks           INTEGER NOT NULL DEFAULT 0,
    prompts        INTEGER NOT NULL DEFAULT 0,
    answers        TEXT NOT NULL,
    transcript     TEXT NOT NULL,
    next_at        TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    business_date  TEXT NOT NULL,
    interaction_id INTEGER REFERENCES interactions (id)
);
CREATE INDEX assistant_sessions_due ON assistant_sessions (next_at) WHERE state = 'active';
CREATE INDEX assistant_sessions_borrower ON assistant_sessions (borrower_id) WHERE state = 'active';

-- The processes that share this database: servers and workers, each with its heartbeat and what
-- it is doing (`huifang status --workers`). Times are RFC 3339 UTC text.
CREATE TABLE processes (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('serve', 'worker')),
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    doing        TEXT NOT NULL DEFAULT ''
);

-- A business day's close shared by workers: the coordinator holds the business date's lock in
-- its transaction, cuts the day's due loans into chunks, and every worker plans chunks it claims
-- (FOR UPDATE SKIP LOCKED); the coordinator writes the plans and commits the day once. A run
-- whose coordinator is gone is abandoned and its chunks dropped.
CREATE TABLE close_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day         TEXT NOT NULL,
    coordinator TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'done', 'abandoned')),
    loans       BIGINT NOT NULL,
    chunks      BIGINT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- once done: how many chunks each process planned, "id=count" by lines
    planners    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX close_runs_running ON close_runs (id) WHERE state = 'running';

-- A chunk's loans (ids, comma-separated, in order) and, once planned, its plan as JSON (none when
-- the coordinator planned it itself and kept it in memory).
CREATE TABLE close_chunks (
    run_id     BIGINT NOT NULL REFERENCES close_runs (id),
    seq        BIGINT NOT NULL,
    loan_ids   TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'planned')),
    planned_by TEXT,
    plan       TEXT,
    PRIMARY KEY (run_id, seq)
);


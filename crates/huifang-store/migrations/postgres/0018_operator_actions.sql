-- What the machine's operator did on the command line as a user (`--as USER`): who the operator
-- was (their login on the machine), as whom, which command, and how it ended ('started' until it
-- has; then 'done', 'refused' or 'failed').
CREATE TABLE operator_actions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operator    TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    command     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    outcome     TEXT NOT NULL DEFAULT 'started'
                CHECK (outcome IN ('started', 'done', 'refused', 'failed')),
    finished_at TEXT
);
CREATE INDEX operator_actions_user ON operator_actions (user_id, id);

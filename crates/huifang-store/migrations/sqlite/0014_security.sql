-- Sign-in failures, per username as typed (known or not), to lock out password guessing: a
-- successful sign-in clears its username's rows.
CREATE TABLE login_failures (
    id        INTEGER PRIMARY KEY,
    username  TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, failed_at);

-- An API token expires (RFC 3339, UTC). Tokens issued before expiries existed get 90 days.
ALTER TABLE users ADD COLUMN api_token_expires_at TEXT;
UPDATE users SET api_token_expires_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+90 days')
 WHERE api_token_hash IS NOT NULL;
CREATE INDEX sessions_user ON sessions (user_id);

-- Requests refused for the caller's role or team: who, what, why, when.
CREATE TABLE denials (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    action        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    denied_at     TEXT NOT NULL,
    business_date TEXT
);
CREATE INDEX denials_user ON denials (user_id, id);

-- The answers of the intake routes by Idempotency-Key, per caller: the same key with the same
-- body answers the same; `status` is NULL while the first request is still being handled.
CREATE TABLE idempotency_keys (
    user_id     INTEGER NOT NULL REFERENCES users (id),
    key         TEXT NOT NULL,
    route       TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status      INTEGER,
    response    TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

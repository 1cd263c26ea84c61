-- Early-warning rules are a versioned set of their own: one row per version, never updated, the
-- highest version in force. `document` is the rule set as `huifang rules show` prints it (each
-- rule with the version in which it last changed); `set_on` is the business date after which it
-- applies, `set_at` the moment it was stored (RFC 3339, UTC).
CREATE TABLE warning_rule_sets (
    version  BIGINT PRIMARY KEY CHECK (version >= 1),
    document TEXT NOT NULL,
    set_on   TEXT NOT NULL,
    set_at   TEXT NOT NULL
);

-- The default rules now read follow-up signals (hardship, job loss, vehicle sold, broken
-- promises, …) as well as repayment: every loan is made due the day after the business date, so
-- the next close evaluates each one once under them. A database without a business date has no
-- evaluations to redo.
UPDATE loan_state s
SET next_event_on = to_char(CAST(b.value AS date) + 1, 'YYYY-MM-DD')
FROM settings b
WHERE b.key = 'business_date';

-- The life of a warning: raised, acknowledged and acted on by a risk officer, resolved (by
-- hand, or automatically once its condition has been false for the rule set's number of days),
-- or escalated when a higher level is raised on its loan. `false_since`: the business date its
-- loan stopped meeting any warning rule, while it waits to be resolved.
ALTER TABLE warnings ADD COLUMN state TEXT NOT NULL DEFAULT 'raised'
    CHECK (state IN ('raised', 'acknowledged', 'actioned', 'resolved', 'escalated'));
ALTER TABLE warnings ADD COLUMN false_since TEXT;
UPDATE warnings SET state = 'resolved' WHERE cleared_on IS NOT NULL;
CREATE INDEX warnings_false ON warnings (false_since) WHERE cleared_on IS NULL AND false_since IS NOT NULL;
CREATE INDEX warnings_open_level ON warnings (level, id) WHERE cleared_on IS NULL;

-- Each step of a warning's life after it was raised, by a user or by the system (user_id
-- NULL), logged in the tamper-evident record (kind `warning_action`).
CREATE TABLE warning_actions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    warning_id    BIGINT NOT NULL REFERENCES warnings (id),
    loan_id       BIGINT NOT NULL REFERENCES loans (id),
    action        TEXT NOT NULL CHECK (action IN ('acknowledged', 'action_taken', 'resolved',
                  'auto_resolved', 'escalated', 'condition_false', 'condition_holds')),
    user_id       BIGINT REFERENCES users (id),
    task_id       BIGINT REFERENCES tasks (id),
    note          TEXT NOT NULL DEFAULT '',
    business_date TEXT NOT NULL,
    occurred_at   TEXT,
    salt          TEXT
);
CREATE INDEX warning_actions_warning ON warning_actions (warning_id, id);

-- Decisions on loans asked for by a person: applied at once (its loan operation recorded), or
-- pending until a second person approves it (the four-eyes rule above an amount).
CREATE TABLE decisions (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id       BIGINT NOT NULL REFERENCES loans (id),
    kind          TEXT NOT NULL,
    params        TEXT NOT NULL,
    on_date       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    requested_by  BIGINT NOT NULL REFERENCES users (id),
    requested_at  TEXT NOT NULL,
    business_date TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'applied')),
    approved_by   BIGINT REFERENCES users (id),
    approved_at   TEXT,
    op_id         BIGINT REFERENCES loan_ops (id)
);
CREATE INDEX decisions_loan ON decisions (loan_id, id);

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

-- The contact rules' borrower side: a borrower who opted out of a channel (`channel`), or who
-- is not to be contacted at all (`channel` = 'all'), from `since_on`, as recorded by a user.
-- Lifting an opt-out deletes its row; both are kept in the team's record as they happen.
CREATE TABLE contact_opt_outs (
    borrower_id BIGINT NOT NULL REFERENCES borrowers (id),
    channel     TEXT NOT NULL CHECK (channel IN ('phone', 'sms', 'email', 'wechat', 'visit', 'all')),
    since_on    TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    note        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (borrower_id, channel)
);

-- Every contact the rules refused, with the rule and the reason: who tried, on which task and
-- channel, when (RFC 3339, UTC) and on which business date.
CREATE TABLE blocked_contacts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id       BIGINT NOT NULL REFERENCES loans (id),
    task_id       BIGINT REFERENCES tasks (id),
    user_id       BIGINT REFERENCES users (id),
    channel       TEXT NOT NULL,
    rule          TEXT NOT NULL,
    reason        TEXT NOT NULL,
    attempted_at  TEXT NOT NULL,
    business_date TEXT NOT NULL
);
CREATE INDEX blocked_contacts_loan ON blocked_contacts (loan_id, id);

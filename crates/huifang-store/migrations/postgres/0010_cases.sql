-- Repossession (收车) and legal (诉讼) cases opened on a loan by a risk officer, each with its
-- life: `stage` is where it stands (the core's `CaseStage`, parsed on read), `closed_on` the
-- business date it was closed.
CREATE TABLE cases (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    loan_id   BIGINT NOT NULL REFERENCES loans (id),
    kind      TEXT NOT NULL,
    stage     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    opened_by BIGINT NOT NULL REFERENCES users (id),
    opened_on TEXT NOT NULL,
    closed_on TEXT
);
CREATE INDEX cases_loan ON cases (loan_id, id);
CREATE INDEX cases_open ON cases (id) WHERE closed_on IS NULL;

-- Each step of a case, its opening included, by whom and when, logged in the tamper-evident
-- record (kind `case_step`). A step that collects (a sale, an enforcement) names the payment
-- it posted.
CREATE TABLE case_steps (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       BIGINT NOT NULL REFERENCES cases (id),
    loan_id       BIGINT NOT NULL REFERENCES loans (id),
    kind          TEXT NOT NULL,
    stage         TEXT NOT NULL,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    note          TEXT NOT NULL,
    amount_fen    BIGINT CHECK (amount_fen > 0),
    payment       TEXT,
    business_date TEXT NOT NULL,
    occurred_at   TEXT NOT NULL,
    salt          TEXT
);
CREATE INDEX case_steps_case ON case_steps (case_id, id);

-- A restructured loan is at least special_mention during its watch period: restructured loans
-- are evaluated again by the next close.
UPDATE loan_state s
SET next_event_on = to_char(CAST(b.value AS date) + 1, 'YYYY-MM-DD')
FROM settings b
WHERE b.key = 'business_date'
  AND s.loan_id IN (SELECT loan_id FROM loan_ops WHERE kind = 'restructure');

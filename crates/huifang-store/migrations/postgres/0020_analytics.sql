-- The book at each month-end (the last day of a calendar month), for the reports over time: one
-- row per loan on the book that day, and one for each loan that left it during the month (paid
-- off or written off), with where it stood at the previous month-end (prev_bucket NULL: not on
-- the book then). Written by the close of the month's last day from the loans' states, or by
-- `huifang report backfill` from a replay of each loan, for the months before the first day
-- closed.
CREATE TABLE month_end_state (
    month_end        TEXT NOT NULL,
    loan_id          BIGINT NOT NULL,
    lifecycle        TEXT NOT NULL,
    bucket           BIGINT NOT NULL,
    classification   TEXT NOT NULL,
    warning_level    BIGINT NOT NULL,
    dpd              BIGINT NOT NULL,
    balance_fen      BIGINT NOT NULL,
    prev_bucket      BIGINT,
    prev_balance_fen BIGINT NOT NULL,
    PRIMARY KEY (month_end, loan_id)
);
-- The month-ends stored, with how many rows each holds and what wrote them (close, backfill).
CREATE TABLE month_ends (
    month_end TEXT PRIMARY KEY,
    loans     BIGINT NOT NULL,
    source    TEXT NOT NULL CHECK (source IN ('close', 'backfill'))
);
-- Vintages: each loan's first month-end at 30, 60 or 90 days past due or more.
CREATE INDEX month_end_state_late ON month_end_state (dpd, loan_id, month_end) WHERE dpd >= 30;
-- Warnings and promises over a range of business dates.
CREATE INDEX warnings_raised ON warnings (raised_on);
CREATE INDEX interactions_date ON interactions (business_date);

-- The book's totals, kept as the book is written: loans and outstanding principal by lifecycle,
-- bucket, classification and warning level, moved in the same transaction as every write of
-- loan_state (the dashboard reads them instead of scanning the book), and the totals at the end
-- of each closed day (the dashboard's trend over the closed days).
CREATE TABLE book_totals (
    lifecycle      TEXT NOT NULL,
    bucket         INTEGER NOT NULL,
    classification TEXT NOT NULL,
    warning_level  INTEGER NOT NULL,
    loans          BIGINT NOT NULL,
    balance_fen    BIGINT NOT NULL,
    PRIMARY KEY (lifecycle, bucket, classification, warning_level)
);
INSERT INTO book_totals (lifecycle, bucket, classification, warning_level, loans, balance_fen)
SELECT lifecycle, bucket, classification, warning_level, COUNT(*),
       CAST(COALESCE(SUM(outstanding_principal_fen), 0) AS BIGINT)
FROM loan_state
GROUP BY lifecycle, bucket, classification, warning_level;
CREATE TABLE daily_totals (
    business_date  TEXT NOT NULL,
    lifecycle      TEXT NOT NULL,
    bucket         INTEGER NOT NULL,
    classification TEXT NOT NULL,
    warning_level  INTEGER NOT NULL,
    loans          BIGINT NOT NULL,
    balance_fen    BIGINT NOT NULL,
    PRIMARY KEY (business_date, lifecycle, bucket, classification, warning_level)
);

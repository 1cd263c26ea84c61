-- The daily close starts by listing the loans whose next event is due. Holding the loan id in the
-- index lets PostgreSQL answer that from the index alone (the pages a vacuum marked all-visible),
-- instead of visiting one heap page per due loan. SQLite's index already holds the row id, which
-- is the loan id.
DROP INDEX loan_state_next_event;
CREATE INDEX loan_state_next_event ON loan_state (next_event_on) INCLUDE (loan_id) WHERE next_event_on IS NOT NULL;

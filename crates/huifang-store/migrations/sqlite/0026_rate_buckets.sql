-- The rate limits shared by every server of one database: a token bucket per key (e.g. the
-- public document check per address), in thousandths of a token, refilled with time; `at_ms` is
-- the last take, in milliseconds since 1970 by the taking server's clock.
CREATE TABLE rate_buckets (
    key          TEXT PRIMARY KEY,
    milli_tokens INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL
);
CREATE INDEX rate_buckets_at ON rate_buckets (at_ms);

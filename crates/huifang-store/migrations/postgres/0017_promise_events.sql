-- Events out: broken promises to pay, read from the `broken_promise` risk signals the close
-- writes. Subscribers already there start from now, as a new subscriber does.
ALTER TABLE webhooks ADD COLUMN read_signal_id BIGINT NOT NULL DEFAULT 0;
UPDATE webhooks SET read_signal_id = (SELECT COALESCE(MAX(id), 0) FROM risk_signals);

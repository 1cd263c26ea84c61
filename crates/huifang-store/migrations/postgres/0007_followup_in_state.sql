-- The daily close reads each visited loan's next continuous follow-up date and may move it. Kept
-- in the loan's state row, like the open task keys, the date comes with the loan's state in one
-- read and is written with it: no separate follow-up row is read or written for each loan. The
-- agent who last worked the loan moves with it, and the follow-up table goes.
ALTER TABLE loan_state ADD COLUMN next_continuous_on TEXT;
ALTER TABLE loan_state ADD COLUMN last_agent_id BIGINT REFERENCES users (id);
UPDATE loan_state s SET next_continuous_on = f.next_continuous_on, last_agent_id = f.last_agent_id
FROM loan_followup f
WHERE f.loan_id = s.loan_id AND (f.next_continuous_on IS NOT NULL OR f.last_agent_id IS NOT NULL);
DROP TABLE loan_followup;

-- The daily close reads the keys of each visited loan's open tasks and adds new ones. An index of
-- open tasks only, holding the key (and the state its condition tests), answers that read without
-- visiting the table. It replaces `tasks (loan_id, state)`: lookups of a loan's tasks are served
-- by `UNIQUE (loan_id, reason_key)`. The condition is written exactly as the store's queries
-- write it, so that the planner uses the index.
DROP INDEX tasks_loan_state;
CREATE INDEX tasks_open ON tasks (loan_id, reason_key, state) WHERE state NOT IN ('done', 'failed', 'cancelled');

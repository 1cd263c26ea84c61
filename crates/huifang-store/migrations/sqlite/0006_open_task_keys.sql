-- The daily close reads the reason keys of each visited loan's unfinished tasks and then writes
-- the loan's state row. Kept in that row (sorted, one per line), the keys come with the loan's
-- state in one read, and the close writes them with it: no separate index of open tasks is read
-- or written for each loan. Every change of a task's state keeps the column true
-- (huifang-store: `insert_planned_tasks`, `cancel_tasks`, `cancel_loan_tasks`, the team's task
-- updates); the conformance suite checks it against the tasks.
ALTER TABLE loan_state ADD COLUMN open_task_keys TEXT NOT NULL DEFAULT '';
UPDATE loan_state SET open_task_keys = COALESCE((
    SELECT group_concat(t.reason_key, char(10) ORDER BY t.reason_key)
    FROM tasks t
    WHERE t.loan_id = loan_state.loan_id AND t.state NOT IN ('done', 'failed', 'cancelled')
), '');
DROP INDEX tasks_open;

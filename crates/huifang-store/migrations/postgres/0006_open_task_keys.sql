-- The daily close reads the reason keys of each visited loan's unfinished tasks and then writes
-- the loan's state row. Kept in that row (sorted, one per line), the keys come with the loan's
-- state in one read, and the close writes them with it: no separate index of open tasks is read
-- or written for each loan. Every change of a task's state keeps the column true
-- (huifang-store: `insert_planned_tasks`, `cancel_tasks`, `cancel_loan_tasks`, the team's task
-- updates); the conformance suite checks it against the tasks.
ALTER TABLE loan_state ADD COLUMN open_task_keys TEXT NOT NULL DEFAULT '';
UPDATE loan_state s SET open_task_keys = k.keys
FROM (
    SELECT loan_id, string_agg(reason_key, chr(10) ORDER BY reason_key COLLATE "C") AS keys
    FROM tasks
    WHERE state NOT IN ('done', 'failed', 'cancelled')
    GROUP BY loan_id
) k
WHERE s.loan_id = k.loan_id;
DROP INDEX tasks_open;

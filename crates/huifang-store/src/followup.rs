//! The follow-up engine's tables as the daily close uses them: tasks created and cancelled in
//! bulk (a task exists at most once per loan and reason key), each loan's next continuous
//! follow-up, promises to pay resolved from the payments, plans and scripts held as JSON text.
//! Every bulk statement is generated with the row lists and parameters of `sql.rs`.

use std::collections::HashMap;

use huifang_core::loan::Payment;
use huifang_core::money::Money;
use huifang_core::team::TaskState;
use huifang_core::{Date, LoanId};
use sqlx::{AssertSqlSafe, Row};

use crate::sql::{
    MAX_PARAMS, Val, bind_vals, date_text, keyed_by_list, opt_date_col, param, parse_date_col,
    row_lists,
};
use crate::team::{TASK_SELECT, task_from_row};
use crate::{Dialect, Result, Task, TaskRecord, Tx};

/// A task to cancel, by loan and reason key, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskCancel {
    pub loan_id: LoanId,
    pub reason_key: String,
    pub reason: String,
}

/// An open promise to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPromise {
    pub id: i64,
    pub loan_id: LoanId,
    pub interaction_id: i64,
    pub amount: Money,
    pub promised_on: Date,
    pub due_on: Date,
}

/// A stored promise and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromiseState {
    pub id: i64,
    pub loan_id: LoanId,
    pub amount: Money,
    pub promised_on: Date,
    pub due_on: Date,
    pub state: String,
    pub resolved_on: Option<Date>,
}

/// States of a task that is finished one way or another: the states outside `TaskState::OPEN`
/// in SQL (a test checks it against the core's list).
pub(crate) const CLOSED_STATES: &str = "('done', 'failed', 'cancelled')";

/// The packed open task keys of the loan `loan_column` names, computed from its tasks (sorted by
/// byte, one per line, as `records::pack_keys` writes them).
pub(crate) fn open_keys_sql(dialect: Dialect, loan_column: &str) -> String {
    let agg = match dialect {
        Dialect::Sqlite => "group_concat(t.reason_key, char(10) ORDER BY t.reason_key)",
        Dialect::Postgres => {
            "string_agg(t.reason_key, chr(10) ORDER BY t.reason_key COLLATE \"C\")"
        }
    };
    format!(
        "COALESCE((SELECT {agg} FROM tasks t WHERE t.loan_id = {loan_column} AND t.state NOT IN {CLOSED_STATES}), '')"
    )
}

/// (loan id, reason key) of returned task rows.
fn keys_of(rows: &[sqlx::any::AnyRow]) -> Result<Vec<(LoanId, String)>> {
    rows.iter()
        .map(|r| Ok((LoanId(r.try_get(0)?), r.try_get::<String, _>(1)?)))
        .collect()
}

impl Tx {
    /// Creates tasks, skipping any whose loan already has a task for the same reason key.
    /// Returns (loan id, reason key) of those created. The caller stores the loans' open task
    /// keys with their state (`Evaluation::open_task_keys`), or refreshes them
    /// (`refresh_open_task_keys`).
    pub async fn insert_planned_tasks(&mut self, tasks: &[Task]) -> Result<Vec<(LoanId, String)>> {
        let rows = tasks
            .iter()
            .map(|t| {
                vec![
                    Val::from(t.loan_id),
                    Val::Text(t.kind.clone()),
                    Val::Text(t.reason_key.clone()),
                    Val::Text(t.queue_code.clone()),
                    Val::Text(TaskState::Open.as_str().into()),
                    Val::Text(date_text(t.created_on)),
                    Val::Text(date_text(t.due_on)),
                    Val::OptText(t.window_end_on.map(date_text)),
                    Val::Int(i64::from(t.late)),
                    Val::Int(t.max_attempts),
                ]
            })
            .collect();
        let rows = self
            .upsert_rows_returning(
                "tasks",
                &[
                    "loan_id",
                    "kind",
                    "reason_key",
                    "queue_code",
                    "state",
                    "created_on",
                    "due_on",
                    "window_end_on",
                    "late",
                    "max_attempts",
                ],
                rows,
                "ON CONFLICT (loan_id, reason_key) DO NOTHING",
                "RETURNING loan_id, reason_key",
            )
            .await?;
        keys_of(&rows)
    }

    /// Cancels these tasks on `date` if they are not finished. Returns (loan id, reason key) of
    /// those cancelled; like `insert_planned_tasks`, the caller keeps the loans' open keys.
    pub async fn cancel_tasks(
        &mut self,
        cancels: &[TaskCancel],
        date: Date,
    ) -> Result<Vec<(LoanId, String)>> {
        let rows: Vec<Vec<Val>> = cancels
            .iter()
            .map(|c| {
                vec![
                    Val::from(c.loan_id),
                    Val::Text(c.reason_key.clone()),
                    Val::Text(c.reason.clone()),
                ]
            })
            .collect();
        let mut done = Vec::new();
        for (list, mut vals) in row_lists(self.dialect, 3, &rows, &["BIGINT", "TEXT", "TEXT"], 1) {
            let date_param = param(self.dialect, vals.len() + 1);
            let sql = format!(
                "WITH v (loan_id, reason_key, reason) AS ({list}) UPDATE tasks SET state = '{cancelled}', closed_on = {date_param}, close_reason = v.reason FROM v WHERE {} AND tasks.state NOT IN {CLOSED_STATES} RETURNING tasks.loan_id, tasks.reason_key",
                keyed_by_list(
                    "tasks",
                    &[("loan_id", "loan_id"), ("reason_key", "reason_key")],
                    &["reason_key"]
                ),
                cancelled = TaskState::Cancelled,
            );
            vals.push(Val::Text(date_text(date)));
            let rows = self.bulk_query(sql, &vals).fetch_all(&mut *self.tx).await?;
            done.extend(keys_of(&rows)?);
        }
        Ok(done)
    }

    /// Cancels every unfinished task of these loans (of these kinds only, when given).
    pub async fn cancel_loan_tasks(
        &mut self,
        loan_ids: &[LoanId],
        kinds: Option<&[&str]>,
        reason: &str,
        date: Date,
    ) -> Result<u64> {
        let kinds = kinds.unwrap_or(&[]);
        let mut done = 0;
        for chunk in loan_ids.chunks(MAX_PARAMS / 2) {
            let mut n = 2;
            let mut next = |count: usize| {
                let list = (n + 1..=n + count)
                    .map(|i| param(self.dialect, i))
                    .collect::<Vec<_>>()
                    .join(",");
                n += count;
                list
            };
            let ids = next(chunk.len());
            let kind_filter = if kinds.is_empty() {
                String::new()
            } else {
                format!(" AND kind IN ({})", next(kinds.len()))
            };
            let sql = format!(
                "UPDATE tasks SET state = '{cancelled}', closed_on = {}, close_reason = {} WHERE state NOT IN {CLOSED_STATES} AND loan_id IN ({ids}){kind_filter}",
                param(self.dialect, 1),
                param(self.dialect, 2),
                cancelled = TaskState::Cancelled,
            );
            let mut vals = vec![Val::Text(date_text(date)), Val::Text(reason.to_string())];
            vals.extend(chunk.iter().map(|id| Val::from(*id)));
            vals.extend(kinds.iter().map(|k| Val::Text((*k).to_string())));
            done += bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        }
        self.refresh_open_task_keys(loan_ids).await?;
        Ok(done)
    }

    /// Recomputes the stored open task keys of these loans from their tasks (after task changes
    /// whose keys the caller does not track), one statement per chunk: for a caller no other
    /// writer runs beside (the business date's lock held exclusive: a close, an import) or that
    /// holds the rows. A team write changes one task at a time, and refreshes its loan's keys
    /// with the row locked first (`Tx::refresh_task_loan_keys`).
    pub async fn refresh_open_task_keys(&mut self, loan_ids: &[LoanId]) -> Result<()> {
        let keys = open_keys_sql(self.dialect, "loan_state.loan_id");
        for chunk in loan_ids.chunks(MAX_PARAMS) {
            let sql = format!(
                "UPDATE loan_state SET open_task_keys = {keys} WHERE loan_id IN ({})",
                crate::sql::param_list(self.dialect, 1, chunk.len())
            );
            let vals: Vec<Val> = chunk.iter().map(|id| Val::from(*id)).collect();
            bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Loans whose stored open task keys differ from their tasks (none, unless a task was
    /// changed without its loan's keys): for checks of the stored state.
    pub async fn stale_open_task_keys(&mut self) -> Result<Vec<LoanId>> {
        let keys = open_keys_sql(self.dialect, "s.loan_id");
        let sql = format!(
            "SELECT s.loan_id FROM loan_state s WHERE s.open_task_keys <> {keys} ORDER BY s.loan_id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(|r| Ok(LoanId(r.try_get(0)?))).collect()
    }

    /// Tasks of one loan and/or one queue (all of them when both are `None`), oldest first.
    pub async fn followup_tasks(
        &mut self,
        loan_id: Option<LoanId>,
        queue: Option<&str>,
        only_open: bool,
    ) -> Result<Vec<TaskRecord>> {
        let open = if only_open {
            format!(" AND t.state NOT IN {CLOSED_STATES}")
        } else {
            String::new()
        };
        // a loan's tasks through the index on their loan (an `OR $1 IS NULL` would scan them all)
        let loan = if loan_id.is_some() {
            "t.loan_id = $1"
        } else {
            "CAST($1 AS BIGINT) IS NULL"
        };
        let sql = format!(
            "{TASK_SELECT} WHERE {loan} AND ($2 IS NULL OR t.queue_code = $2){open} ORDER BY t.id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(loan_id.map(LoanId::get))
            .bind(queue)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Stores the next continuous follow-up date of these loans (in their state rows).
    pub async fn set_next_continuous(&mut self, rows: &[(LoanId, Option<Date>)]) -> Result<()> {
        let rows: Vec<(LoanId, Option<String>)> =
            rows.iter().map(|(id, d)| (*id, d.map(date_text))).collect();
        self.set_state_dates("next_continuous_on", &rows).await
    }

    /// Sets each loan's `next_event_on`, the date the daily close visits it next.
    pub async fn set_next_event_on(&mut self, rows: &[(LoanId, Date)]) -> Result<()> {
        let rows: Vec<(LoanId, Option<String>)> = rows
            .iter()
            .map(|(id, d)| (*id, Some(date_text(*d))))
            .collect();
        self.set_state_dates("next_event_on", &rows).await
    }

    /// Sets a date `column` of these loans' state rows: (loan id, date text or NULL).
    async fn set_state_dates(
        &mut self,
        column: &str,
        rows: &[(LoanId, Option<String>)],
    ) -> Result<()> {
        let rows: Vec<Vec<Val>> = rows
            .iter()
            .map(|(id, d)| vec![Val::from(*id), Val::OptText(d.clone())])
            .collect();
        for (list, vals) in row_lists(self.dialect, 2, &rows, &["BIGINT", "TEXT"], 0) {
            let sql = format!(
                "WITH v (id, d) AS ({list}) UPDATE loan_state SET {column} = v.d FROM v WHERE {}",
                keyed_by_list("loan_state", &[("loan_id", "id")], &[])
            );
            self.bulk_query(sql, &vals).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Open promises due before `date` (their day has passed: they are kept or broken now).
    pub async fn open_promises_due_before(&mut self, date: Date) -> Result<Vec<OpenPromise>> {
        let rows = sqlx::query("SELECT id, loan_id, interaction_id, amount_fen, promised_on, due_on FROM promises WHERE state = 'open' AND due_on < $1 ORDER BY id")
            .bind(date_text(date))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OpenPromise {
                    id: r.try_get(0)?,
                    loan_id: LoanId(r.try_get(1)?),
                    interaction_id: r.try_get(2)?,
                    amount: Money::from_fen(r.try_get(3)?),
                    promised_on: parse_date_col(&r.try_get::<String, _>(4)?)?,
                    due_on: parse_date_col(&r.try_get::<String, _>(5)?)?,
                })
            })
            .collect()
    }

    /// Marks promises kept or broken on `date`: (promise id, "kept" | "broken").
    pub async fn resolve_promises(&mut self, rows: &[(i64, String)], date: Date) -> Result<()> {
        let rows: Vec<Vec<Val>> = rows
            .iter()
            .map(|(id, st)| vec![Val::from(*id), Val::Text(st.clone())])
            .collect();
        for (list, mut vals) in row_lists(self.dialect, 2, &rows, &["BIGINT", "TEXT"], 1) {
            let date_param = param(self.dialect, vals.len() + 1);
            let sql = format!(
                "WITH v (id, st) AS ({list}) UPDATE promises SET state = v.st, resolved_on = {date_param} FROM v WHERE {} AND promises.state = 'open'",
                keyed_by_list("promises", &[("id", "id")], &[])
            );
            vals.push(Val::Text(date_text(date)));
            self.bulk_query(sql, &vals).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Every promise (or one loan's), oldest first.
    pub async fn promise_states(&mut self, loan_id: Option<LoanId>) -> Result<Vec<PromiseState>> {
        // one loan's through the index on their loan (an `OR $1 IS NULL` would scan them all)
        let sql = if loan_id.is_some() {
            "SELECT id, loan_id, amount_fen, promised_on, due_on, state, resolved_on FROM promises WHERE loan_id = $1 ORDER BY id"
        } else {
            "SELECT id, loan_id, amount_fen, promised_on, due_on, state, resolved_on FROM promises WHERE CAST($1 AS BIGINT) IS NULL ORDER BY id"
        };
        let rows = sqlx::query(sql)
            .bind(loan_id.map(LoanId::get))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PromiseState {
                    id: r.try_get(0)?,
                    loan_id: LoanId(r.try_get(1)?),
                    amount: Money::from_fen(r.try_get(2)?),
                    promised_on: parse_date_col(&r.try_get::<String, _>(3)?)?,
                    due_on: parse_date_col(&r.try_get::<String, _>(4)?)?,
                    state: r.try_get(5)?,
                    resolved_on: opt_date_col(r.try_get(6)?)?,
                })
            })
            .collect()
    }

    /// The payments of these loans, by loan, in value-date order.
    pub async fn payments_of_loans(
        &mut self,
        loan_ids: &[LoanId],
    ) -> Result<HashMap<LoanId, Vec<Payment>>> {
        let keys: Vec<Val> = loan_ids.iter().map(|id| Val::from(*id)).collect();
        let rows = self
            .fetch_in(
                "SELECT loan_id, paid_on, amount_fen FROM payments WHERE loan_id IN",
                "ORDER BY loan_id, paid_on, id",
                &keys,
                |r| {
                    Ok((
                        LoanId(r.try_get(0)?),
                        Payment {
                            paid_on: parse_date_col(&r.try_get::<String, _>(1)?)?,
                            amount: Money::from_fen(r.try_get(2)?),
                        },
                    ))
                },
            )
            .await?;
        let mut out: HashMap<LoanId, Vec<Payment>> = HashMap::new();
        for (loan, p) in rows {
            out.entry(loan).or_default().push(p);
        }
        Ok(out)
    }

    /// The date each of these loans last reached its borrower (interaction outcome 'reached' or
    /// a promise to pay).
    pub async fn last_reached(&mut self, loan_ids: &[LoanId]) -> Result<HashMap<LoanId, Date>> {
        let keys: Vec<Val> = loan_ids.iter().map(|id| Val::from(*id)).collect();
        let rows = self
            .fetch_in(
                "SELECT loan_id, MAX(business_date) FROM interactions WHERE outcome IN ('reached', 'promise_to_pay') AND loan_id IN",
                "GROUP BY loan_id",
                &keys,
                |r| {
                    Ok((
                        LoanId(r.try_get(0)?),
                        parse_date_col(&r.try_get::<String, _>(1)?)?,
                    ))
                },
            )
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// The date of the latest risk signal of `kind` of each of these loans.
    pub async fn last_signal_on(
        &mut self,
        loan_ids: &[LoanId],
        kind: &str,
    ) -> Result<HashMap<LoanId, Date>> {
        let mut out = HashMap::new();
        for chunk in loan_ids.chunks(MAX_PARAMS / 2) {
            let list = (2..2 + chunk.len())
                .map(|i| param(self.dialect, i))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "SELECT loan_id, MAX(observed_on) FROM risk_signals WHERE kind = {} AND loan_id IN ({list}) GROUP BY loan_id",
                param(self.dialect, 1)
            );
            let mut vals = vec![Val::Text(kind.to_string())];
            vals.extend(chunk.iter().map(|id| Val::from(*id)));
            let rows = bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
                .fetch_all(&mut *self.tx)
                .await?;
            for r in &rows {
                out.insert(
                    LoanId(r.try_get(0)?),
                    parse_date_col(&r.try_get::<String, _>(1)?)?,
                );
            }
        }
        Ok(out)
    }

    /// Records risk signals in bulk: (loan, kind, value, observed on, interaction).
    pub async fn insert_risk_signals(
        &mut self,
        signals: &[(LoanId, String, String, Date, Option<i64>)],
    ) -> Result<()> {
        let rows: Vec<Vec<Val>> = signals
            .iter()
            .map(|(loan, kind, value, on, interaction)| {
                vec![
                    Val::from(*loan),
                    Val::Text(kind.clone()),
                    Val::Text(value.clone()),
                    Val::Text(date_text(*on)),
                    // travels as text, cast back (Val has no optional int)
                    Val::OptText(interaction.map(|i| i.to_string())),
                ]
            })
            .collect();
        for (list, vals) in row_lists(self.dialect, 5, &rows, &["", "", "", "", "BIGINT"], 0) {
            let sql = format!(
                "INSERT INTO risk_signals (loan_id, kind, value, observed_on, interaction_id) {list}"
            );
            self.bulk_query(sql, &vals).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    // ----- plans and scripts --------------------------------------------------------------------

    /// The follow-up plan (JSON text) of a product code ('*' = the default).
    pub async fn followup_plan(&mut self, product_code: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT plan FROM followup_plans WHERE product_code = $1")
            .bind(product_code)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Every stored plan: (product code, JSON text).
    pub async fn followup_plans(&mut self) -> Result<Vec<(String, String)>> {
        let rows =
            sqlx::query("SELECT product_code, plan FROM followup_plans ORDER BY product_code")
                .fetch_all(&mut *self.tx)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Stores a product's follow-up plan (JSON text).
    pub async fn put_followup_plan(&mut self, product_code: &str, plan: &str) -> Result<()> {
        sqlx::query("INSERT INTO followup_plans (product_code, plan) VALUES ($1, $2) ON CONFLICT (product_code) DO UPDATE SET plan = excluded.plan")
            .bind(product_code)
            .bind(plan)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Stores a script (its questions, JSON text); `replace` false keeps an existing one.
    pub async fn put_script(
        &mut self,
        task_kind: &str,
        lang: &str,
        questions: &str,
        replace: bool,
    ) -> Result<()> {
        let action = if replace {
            "DO UPDATE SET questions = excluded.questions"
        } else {
            "DO NOTHING"
        };
        let sql = format!(
            "INSERT INTO scripts (task_kind, lang, questions) VALUES ($1, $2, $3) ON CONFLICT (task_kind, lang) {action}"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(task_kind)
            .bind(lang)
            .bind(questions)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

//! The facts the reports over time are counted from: the book kept at each month-end
//! (`month_end_state`, written by the close of a month's last day or by a backfill), and the
//! contacts, promises and warnings of a period, grouped here and turned into rates by the core.

use huifang_core::Date;
use huifang_core::analytics::{BookCell, Cohort, ContactCell, FirstLate, RaisedWarning, RollState};
use huifang_core::money::Money;
use huifang_core::policy::Bucket;
use huifang_core::status::Lifecycle;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::records::{classification, lifecycle, small};
use crate::sql::{Val, date_text, parse_date_col, row_lists};
use crate::{Dialect, Result, StoreError, Tx};

/// One loan at a month-end, as the backfill computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthEndRow {
    pub loan_id: i64,
    pub lifecycle: Lifecycle,
    pub bucket: Bucket,
    pub classification: huifang_core::policy::Classification,
    pub warning_level: u8,
    pub dpd: u32,
    pub balance: Money,
    /// The bucket at the previous month-end, `None` when the loan was not on the book then.
    pub prev_bucket: Option<Bucket>,
    pub prev_balance: Money,
}

/// A month-end kept, with the rows it holds and what wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthEnd {
    pub date: Date,
    pub loans: i64,
    pub source: String,
}

/// Counted transitions of one month-end: (from, to, loans, balance then, balance now).
pub type RollRow = (RollState, RollState, u64, Money, Money);

/// One agent's work in a period, for the collection report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentWorkRow {
    pub username: String,
    pub display_name: String,
    pub attempts: u64,
    pub reached: u64,
    pub promises: u64,
    pub tasks_done: u64,
    /// Tasks done on or before their due date.
    pub done_on_time: u64,
}

fn count(row: &AnyRow, i: usize) -> Result<u64> {
    let n: i64 = row.try_get(i)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

fn days_past_due(d: Dialect, date: &str) -> String {
    match d {
        Dialect::Sqlite => format!(
            "CASE WHEN s.oldest_unpaid_due IS NULL THEN 0 ELSE MAX(0, CAST(julianday({date}) - julianday(s.oldest_unpaid_due) AS INTEGER)) END"
        ),
        Dialect::Postgres => format!(
            "CASE WHEN s.oldest_unpaid_due IS NULL THEN 0 ELSE GREATEST(0, CAST({date} AS date) - CAST(s.oldest_unpaid_due AS date)) END"
        ),
    }
}

impl Tx {
    /// The month-ends kept, oldest first.
    pub async fn month_ends(&mut self) -> Result<Vec<MonthEnd>> {
        let rows =
            sqlx::query("SELECT month_end, loans, source FROM month_ends ORDER BY month_end")
                .fetch_all(&mut *self.tx)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(MonthEnd {
                    date: parse_date_col(&r.try_get::<String, _>(0)?)?,
                    loans: r.try_get(1)?,
                    source: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Keeps the book as it stands after the close of `month_end`: every loan on the book, and each
    /// loan on it at `previous` (the month-end before) that has left it since; each with its bucket
    /// at `previous`. Returns the rows written.
    pub async fn keep_month_end(&mut self, month_end: Date, previous: Date) -> Result<u64> {
        let dpd = days_past_due(self.dialect, "$1");
        let sql = format!(
            "INSERT INTO month_end_state (month_end, loan_id, lifecycle, bucket, classification, warning_level, dpd, balance_fen, prev_bucket, prev_balance_fen) \
             SELECT $1, s.loan_id, s.lifecycle, s.bucket, s.classification, s.warning_level, {dpd}, s.outstanding_principal_fen, p.bucket, COALESCE(p.balance_fen, 0) \
             FROM loan_state s LEFT JOIN month_end_state p ON p.month_end = $2 AND p.loan_id = s.loan_id AND p.lifecycle = 'active' \
             WHERE s.lifecycle = 'active' OR p.loan_id IS NOT NULL"
        );
        let written = sqlx::query(AssertSqlSafe(sql))
            .bind(date_text(month_end))
            .bind(date_text(previous))
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        self.record_month_end(month_end, written, "close").await?;
        Ok(written)
    }

    async fn record_month_end(&mut self, month_end: Date, loans: u64, source: &str) -> Result<()> {
        sqlx::query("INSERT INTO month_ends (month_end, loans, source) VALUES ($1, $2, $3) ON CONFLICT (month_end) DO UPDATE SET loans = excluded.loans, source = excluded.source")
            .bind(date_text(month_end))
            .bind(i64::try_from(loans).unwrap_or(i64::MAX))
            .bind(source)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Writes month-end rows computed by a backfill (one statement per many rows).
    pub async fn insert_month_end_rows(
        &mut self,
        month_end: Date,
        rows: &[MonthEndRow],
    ) -> Result<()> {
        let at = date_text(month_end);
        let vals: Vec<Vec<Val>> = rows
            .iter()
            .map(|r| {
                vec![
                    Val::Text(at.clone()),
                    Val::Int(r.loan_id),
                    Val::Text(r.lifecycle.as_str().to_string()),
                    Val::Int(i64::from(r.bucket.0)),
                    Val::Text(r.classification.as_str().to_string()),
                    Val::Int(i64::from(r.warning_level)),
                    Val::Int(i64::from(r.dpd)),
                    Val::Int(r.balance.fen()),
                    r.prev_bucket
                        .map_or(Val::OptText(None), |b| Val::Int(i64::from(b.0))),
                    Val::Int(r.prev_balance.fen()),
                ]
            })
            .collect();
        // the previous bucket may be NULL in every row of a batch: typed by its cast
        let casts = ["", "", "", "", "", "", "", "", "BIGINT", ""];
        for (list, flat) in row_lists(self.dialect, casts.len(), &vals, &casts, 0) {
            let sql = format!(
                "INSERT INTO month_end_state (month_end, loan_id, lifecycle, bucket, classification, warning_level, dpd, balance_fen, prev_bucket, prev_balance_fen) {list}"
            );
            self.bulk_query(sql, &flat).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Records that a backfill wrote `month_end` (its rows counted).
    pub async fn finish_backfilled_month_end(&mut self, month_end: Date) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM month_end_state WHERE month_end = $1")
            .bind(date_text(month_end))
            .fetch_one(&mut *self.tx)
            .await?
            .try_get(0)?;
        let n = u64::try_from(n).unwrap_or(0);
        self.record_month_end(month_end, n, "backfill").await?;
        Ok(n)
    }

    /// After a backfill of the month-end before it, sets the previous bucket and balance of each
    /// row of `month_end` from the rows of `previous`.
    pub async fn relink_month_end(&mut self, month_end: Date, previous: Date) -> Result<()> {
        sqlx::query(
            "UPDATE month_end_state SET \
             prev_bucket = (SELECT p.bucket FROM month_end_state p WHERE p.month_end = $2 AND p.loan_id = month_end_state.loan_id AND p.lifecycle = 'active'), \
             prev_balance_fen = COALESCE((SELECT p.balance_fen FROM month_end_state p WHERE p.month_end = $2 AND p.loan_id = month_end_state.loan_id AND p.lifecycle = 'active'), 0) \
             WHERE month_end = $1",
        )
        .bind(date_text(month_end))
        .bind(date_text(previous))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// The loans on the book at a month-end kept, grouped by bucket, tier and warning level.
    pub async fn book_at_month_end(&mut self, month_end: Date) -> Result<Vec<BookCell>> {
        let rows = sqlx::query(
            "SELECT bucket, classification, warning_level, COUNT(*), CAST(COALESCE(SUM(balance_fen), 0) AS BIGINT) FROM month_end_state WHERE month_end = $1 AND lifecycle = 'active' GROUP BY bucket, classification, warning_level",
        )
        .bind(date_text(month_end))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(book_cell).collect()
    }

    /// The loans on the book now (their states), grouped by bucket, tier and warning level.
    pub async fn book_now(&mut self) -> Result<Vec<BookCell>> {
        let rows = sqlx::query(
            "SELECT bucket, classification, warning_level, COUNT(*), CAST(COALESCE(SUM(outstanding_principal_fen), 0) AS BIGINT) FROM loan_state WHERE lifecycle = 'active' GROUP BY bucket, classification, warning_level",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(book_cell).collect()
    }

    /// The transitions into a month-end kept from the one before it, counted.
    pub async fn roll_at_month_end(&mut self, month_end: Date) -> Result<Vec<RollRow>> {
        let rows = sqlx::query(
            "SELECT prev_bucket, lifecycle, bucket, COUNT(*), CAST(SUM(prev_balance_fen) AS BIGINT), CAST(SUM(balance_fen) AS BIGINT) FROM month_end_state WHERE month_end = $1 GROUP BY prev_bucket, lifecycle, bucket",
        )
        .bind(date_text(month_end))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                let from = match r.try_get::<Option<i64>, _>(0)? {
                    None => RollState::New,
                    Some(b) => RollState::Bucket(Bucket(u8::try_from(b).map_err(|_| {
                        StoreError::Corrupt(format!("month_end_state.prev_bucket {b}"))
                    })?)),
                };
                let to = match lifecycle(&r.try_get::<String, _>(1)?)? {
                    Lifecycle::Active => RollState::Bucket(Bucket(small(r, 2, "bucket")?)),
                    Lifecycle::PaidOff => RollState::PaidOff,
                    Lifecycle::WrittenOff => RollState::WrittenOff,
                };
                Ok((
                    from,
                    to,
                    count(r, 3)?,
                    Money::from_fen(r.try_get(4)?),
                    Money::from_fen(r.try_get(5)?),
                ))
            })
            .collect()
    }

    /// Loans and disbursed principal by disbursement month.
    pub async fn cohorts(&mut self) -> Result<Vec<Cohort>> {
        let rows = sqlx::query(
            "SELECT substr(disbursed_on, 1, 7), COUNT(*), CAST(SUM(principal_fen) AS BIGINT) FROM loans GROUP BY substr(disbursed_on, 1, 7) ORDER BY 1",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Cohort {
                    month: year_month(r, 0)?,
                    loans: count(r, 1)?,
                    principal: Money::from_fen(r.try_get(2)?),
                })
            })
            .collect()
    }

    /// For each DPD threshold, the loans by disbursement month and by the month of the first
    /// month-end at which they were at that DPD or more.
    pub async fn first_late(&mut self, thresholds: &[u32]) -> Result<Vec<FirstLate>> {
        let mut out = Vec::new();
        for &t in thresholds {
            let rows = sqlx::query(
                "SELECT substr(l.disbursed_on, 1, 7), substr(f.first_on, 1, 7), COUNT(*), CAST(SUM(l.principal_fen) AS BIGINT) \
                 FROM (SELECT loan_id, MIN(month_end) AS first_on FROM month_end_state WHERE dpd >= 30 AND dpd >= $1 GROUP BY loan_id) f \
                 JOIN loans l ON l.id = f.loan_id GROUP BY substr(l.disbursed_on, 1, 7), substr(f.first_on, 1, 7)",
            )
            .bind(i64::from(t))
            .fetch_all(&mut *self.tx)
            .await?;
            for r in &rows {
                out.push(FirstLate {
                    threshold: t,
                    cohort: year_month(r, 0)?,
                    first: year_month(r, 1)?,
                    loans: count(r, 2)?,
                    principal: Money::from_fen(r.try_get(3)?),
                });
            }
        }
        Ok(out)
    }

    /// Each loan's first month-end at `dpd` days past due or more (`dpd` at least 30).
    pub async fn first_month_end_at(&mut self, dpd: u32) -> Result<Vec<(i64, Date)>> {
        let rows = sqlx::query(
            "SELECT loan_id, MIN(month_end) FROM month_end_state WHERE dpd >= 30 AND dpd >= $1 GROUP BY loan_id",
        )
        .bind(i64::from(dpd))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, parse_date_col(&r.try_get::<String, _>(1)?)?)))
            .collect()
    }

    /// The contacts recorded on business dates `from` to `to`, counted by channel, queue, outcome
    /// and whether an emergency contact was called.
    pub async fn contact_cells(&mut self, from: Date, to: Date) -> Result<Vec<ContactCell>> {
        let rows = sqlx::query(
            "SELECT i.channel, COALESCE(t.queue_code, ''), i.outcome, CASE WHEN i.emergency_contact_id IS NULL THEN 0 ELSE 1 END, COUNT(*) \
             FROM interactions i LEFT JOIN tasks t ON t.id = i.task_id \
             WHERE i.business_date >= $1 AND i.business_date <= $2 \
             GROUP BY i.channel, COALESCE(t.queue_code, ''), i.outcome, CASE WHEN i.emergency_contact_id IS NULL THEN 0 ELSE 1 END",
        )
        .bind(date_text(from))
        .bind(date_text(to))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ContactCell {
                    channel: r.try_get(0)?,
                    queue: r.try_get(1)?,
                    outcome: r.try_get(2)?,
                    emergency_contact: r.try_get::<i32, _>(3)? != 0,
                    count: count(r, 4)?,
                })
            })
            .collect()
    }

    /// Promises falling due on `from` to `to`, by state: (state, promises, amount).
    pub async fn promises_due(
        &mut self,
        from: Date,
        to: Date,
    ) -> Result<Vec<(String, u64, Money)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*), CAST(SUM(amount_fen) AS BIGINT) FROM promises WHERE due_on >= $1 AND due_on <= $2 GROUP BY state",
        )
        .bind(date_text(from))
        .bind(date_text(to))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, count(r, 1)?, Money::from_fen(r.try_get(2)?))))
            .collect()
    }

    /// Each agent's and collector's work on business dates `from` to `to`.
    pub async fn agent_work(
        &mut self,
        from: Date,
        to: Date,
        done: &str,
    ) -> Result<Vec<AgentWorkRow>> {
        let not_reached = huifang_core::outcome::not_reached_sql();
        let sql = format!(
            "SELECT u.username, u.display_name, \
             CAST((SELECT COUNT(*) FROM interactions i WHERE i.user_id = u.id AND i.business_date >= $1 AND i.business_date <= $2) AS BIGINT), \
             CAST((SELECT COUNT(*) FROM interactions i WHERE i.user_id = u.id AND i.business_date >= $1 AND i.business_date <= $2 AND i.outcome NOT IN ({not_reached})) AS BIGINT), \
             CAST((SELECT COUNT(*) FROM interactions i WHERE i.user_id = u.id AND i.business_date >= $1 AND i.business_date <= $2 AND i.outcome = 'promise_to_pay') AS BIGINT), \
             CAST((SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.state = $3 AND t.closed_on >= $1 AND t.closed_on <= $2) AS BIGINT), \
             CAST((SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.state = $3 AND t.closed_on >= $1 AND t.closed_on <= $2 AND t.closed_on <= t.due_on) AS BIGINT) \
             FROM users u WHERE u.role IN ('agent', 'collector') ORDER BY u.username"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(date_text(from))
            .bind(date_text(to))
            .bind(done)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentWorkRow {
                    username: r.try_get(0)?,
                    display_name: r.try_get(1)?,
                    attempts: count(r, 2)?,
                    reached: count(r, 3)?,
                    promises: count(r, 4)?,
                    tasks_done: count(r, 5)?,
                    done_on_time: count(r, 6)?,
                })
            })
            .collect()
    }

    /// Warnings raised on `from` to `to`.
    pub async fn warnings_raised(&mut self, from: Date, to: Date) -> Result<Vec<RaisedWarning>> {
        let rows = sqlx::query(
            "SELECT loan_id, rule, level, raised_on FROM warnings WHERE raised_on >= $1 AND raised_on <= $2",
        )
        .bind(date_text(from))
        .bind(date_text(to))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RaisedWarning {
                    loan: r.try_get(0)?,
                    rule: r.try_get(1)?,
                    level: small(r, 2, "warnings.level")?,
                    raised_on: parse_date_col(&r.try_get::<String, _>(3)?)?,
                })
            })
            .collect()
    }

    /// Each loan's earliest warning.
    pub async fn first_warnings(&mut self) -> Result<Vec<(i64, Date)>> {
        let rows = sqlx::query("SELECT loan_id, MIN(raised_on) FROM warnings GROUP BY loan_id")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, parse_date_col(&r.try_get::<String, _>(1)?)?)))
            .collect()
    }
}

fn book_cell(r: &AnyRow) -> Result<BookCell> {
    Ok(BookCell {
        bucket: Bucket(small(r, 0, "bucket")?),
        classification: classification(&r.try_get::<String, _>(1)?)?,
        warning_level: small(r, 2, "warning_level")?,
        loans: count(r, 3)?,
        balance: Money::from_fen(r.try_get(4)?),
    })
}

fn year_month(r: &AnyRow, i: usize) -> Result<huifang_core::analytics::YearMonth> {
    let s: String = r.try_get(i)?;
    huifang_core::analytics::YearMonth::parse(&s)
        .ok_or_else(|| StoreError::Corrupt(format!("not a month: {s:?}")))
}

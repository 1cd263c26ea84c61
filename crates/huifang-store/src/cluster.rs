//! What the processes sharing one database keep there: who they are and their heartbeats
//! (`processes`), and the daily close's shared runs and chunks (`close_runs`, `close_chunks`).

use huifang_core::{Date, LoanId};
use sqlx::Row;

use crate::sql::{date_text, parse_date_col};
use crate::{Dialect, Result, StoreError, Tx};

/// A server or worker as it last told the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    pub id: String,
    /// `serve` or `worker`.
    pub kind: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub heartbeat_at: String,
    pub doing: String,
}

/// A day's shared close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRun {
    pub id: i64,
    pub day: Date,
    pub coordinator: String,
    /// running, done or abandoned.
    pub state: String,
    pub loans: i64,
    pub chunks: i64,
    /// Chunks planned so far (all of them once the run is done).
    pub planned: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Once done: how many chunks each process planned.
    pub planners: Vec<(String, i64)>,
}

/// A chunk of a run claimed by a worker: its transaction holds the chunk's row until it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedChunk {
    pub run_id: i64,
    pub seq: i64,
    pub loans: Vec<LoanId>,
}

fn loan_list(text: &str) -> Result<Vec<LoanId>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map(LoanId)
                .map_err(|e| StoreError::Column {
                    column: "close_chunks.loan_ids",
                    value: s.to_string(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

impl Tx {
    /// Adds or refreshes a process's row: its heartbeat and what it is doing.
    pub async fn beat(&mut self, p: &ProcessRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO processes (id, kind, host, pid, started_at, heartbeat_at, doing) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, doing = excluded.doing",
        )
        .bind(p.id.clone())
        .bind(p.kind.clone())
        .bind(p.host.clone())
        .bind(p.pid)
        .bind(p.started_at.clone())
        .bind(p.heartbeat_at.clone())
        .bind(p.doing.clone())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Removes a process's row (it stops), and those whose last heartbeat is before `stale`.
    pub async fn forget_processes(&mut self, id: &str, stale: &str) -> Result<()> {
        sqlx::query("DELETE FROM processes WHERE id = $1 OR heartbeat_at < $2")
            .bind(id.to_string())
            .bind(stale.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Every process on record, servers first, then by start.
    pub async fn processes(&mut self) -> Result<Vec<ProcessRecord>> {
        let rows = sqlx::query("SELECT id, kind, host, pid, started_at, heartbeat_at, doing FROM processes ORDER BY kind, started_at, id")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ProcessRecord {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    host: r.try_get(2)?,
                    pid: r.try_get(3)?,
                    started_at: r.try_get(4)?,
                    heartbeat_at: r.try_get(5)?,
                    doing: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// PostgreSQL: whether this transaction is the one coordinating the close (a transaction
    /// advisory lock, let go when it ends; never waited for). SQLite has one writer: always.
    pub async fn try_coordinate_close(&mut self) -> Result<bool> {
        match self.dialect {
            Dialect::Sqlite => Ok(true),
            Dialect::Postgres => {
                let row = sqlx::query("SELECT pg_try_advisory_xact_lock(4242130001)")
                    .fetch_one(&mut *self.tx)
                    .await?;
                Ok(row.try_get::<bool, _>(0)?)
            }
        }
    }

    /// Abandons every run still marked running (its coordinator is gone: the caller holds the
    /// coordination) and drops their chunks. Returns how many were abandoned.
    pub async fn abandon_close_runs(&mut self, at: &str) -> Result<u64> {
        sqlx::query("DELETE FROM close_chunks WHERE run_id IN (SELECT id FROM close_runs WHERE state = 'running')")
            .execute(&mut *self.tx)
            .await?;
        let done = sqlx::query(
            "UPDATE close_runs SET state = 'abandoned', finished_at = $1 WHERE state = 'running'",
        )
        .bind(at.to_string())
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Starts a run of `day` cut into these chunks of loans; returns its id.
    pub async fn insert_close_run(
        &mut self,
        day: Date,
        coordinator: &str,
        chunks: &[&[LoanId]],
        at: &str,
    ) -> Result<i64> {
        let loans: usize = chunks.iter().map(|c| c.len()).sum();
        let row = sqlx::query("INSERT INTO close_runs (day, coordinator, state, loans, chunks, started_at) VALUES ($1, $2, 'running', $3, $4, $5) RETURNING id")
            .bind(date_text(day))
            .bind(coordinator.to_string())
            .bind(i64::try_from(loans).unwrap_or(i64::MAX))
            .bind(i64::try_from(chunks.len()).unwrap_or(i64::MAX))
            .bind(at.to_string())
            .fetch_one(&mut *self.tx)
            .await?;
        let id: i64 = row.try_get(0)?;
        for (seq, chunk) in chunks.iter().enumerate() {
            let ids = chunk
                .iter()
                .map(|l| l.0.to_string())
                .collect::<Vec<_>>()
                .join(",");
            sqlx::query("INSERT INTO close_chunks (run_id, seq, loan_ids, state) VALUES ($1, $2, $3, 'pending')")
                .bind(id)
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .bind(ids)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(id)
    }

    /// The run in progress, if any, with how many of its chunks are planned.
    pub async fn running_close(&mut self) -> Result<Option<CloseRun>> {
        self.close_run_where("state = 'running'").await
    }

    /// The latest run, whatever its state.
    pub async fn latest_close_run(&mut self) -> Result<Option<CloseRun>> {
        self.close_run_where("1 = 1").await
    }

    async fn close_run_where(&mut self, filter: &'static str) -> Result<Option<CloseRun>> {
        let sql = format!(
            "SELECT r.id, r.day, r.coordinator, r.state, r.loans, r.chunks, \
             (SELECT COUNT(*) FROM close_chunks c WHERE c.run_id = r.id AND c.state = 'planned'), \
             r.started_at, r.finished_at, r.planners FROM close_runs r WHERE {filter} ORDER BY r.id DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| {
            let day: String = r.try_get(1)?;
            let state: String = r.try_get(3)?;
            let chunks: i64 = r.try_get(5)?;
            Ok(CloseRun {
                id: r.try_get(0)?,
                day: parse_date_col(&day)?,
                coordinator: r.try_get(2)?,
                planned: if state == "done" {
                    chunks
                } else {
                    r.try_get(6)?
                },
                state,
                loans: r.try_get(4)?,
                chunks,
                started_at: r.try_get(7)?,
                finished_at: r.try_get(8)?,
                planners: r
                    .try_get::<String, _>(9)?
                    .lines()
                    .filter_map(|l| {
                        let (id, n) = l.rsplit_once('=')?;
                        Some((id.to_string(), n.parse().ok()?))
                    })
                    .collect(),
            })
        })
        .transpose()
    }

    /// Claims the first pending chunk of a run that no other transaction holds (PostgreSQL: `FOR
    /// UPDATE SKIP LOCKED`); held until this transaction ends.
    pub async fn claim_close_chunk(&mut self, run_id: i64) -> Result<Option<ClaimedChunk>> {
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "SELECT seq, loan_ids FROM close_chunks WHERE run_id = $1 AND state = 'pending' ORDER BY seq LIMIT 1{lock}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| {
            let ids: String = r.try_get(1)?;
            Ok(ClaimedChunk {
                run_id,
                seq: r.try_get(0)?,
                loans: loan_list(&ids)?,
            })
        })
        .transpose()
    }

    /// Marks a claimed chunk planned, with its plan (none: its planner keeps it).
    pub async fn finish_close_chunk(
        &mut self,
        chunk: &ClaimedChunk,
        by: &str,
        plan: Option<String>,
    ) -> Result<()> {
        sqlx::query("UPDATE close_chunks SET state = 'planned', planned_by = $1, plan = $2 WHERE run_id = $3 AND seq = $4")
            .bind(by.to_string())
            .bind(plan)
            .bind(chunk.run_id)
            .bind(chunk.seq)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// A chunk's state: its planner and plan once planned, none while pending.
    pub async fn planned_chunk(
        &mut self,
        run_id: i64,
        seq: i64,
    ) -> Result<Option<(String, Option<String>)>> {
        let row = sqlx::query("SELECT planned_by, plan FROM close_chunks WHERE run_id = $1 AND seq = $2 AND state = 'planned'")
            .bind(run_id)
            .bind(seq)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| {
            Ok((
                r.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
                r.try_get(1)?,
            ))
        })
        .transpose()
    }

    /// Ends a run as done, keeping how many chunks each process planned, and drops its chunks
    /// (in the day's transaction).
    pub async fn finish_close_run(&mut self, run_id: i64, at: &str) -> Result<()> {
        let rows = sqlx::query("SELECT planned_by, COUNT(*) FROM close_chunks WHERE run_id = $1 GROUP BY planned_by ORDER BY planned_by")
            .bind(run_id)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut planners = String::new();
        for r in &rows {
            let by: Option<String> = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            planners.push_str(&format!("{}={n}\n", by.unwrap_or_default()));
        }
        sqlx::query("DELETE FROM close_chunks WHERE run_id = $1")
            .bind(run_id)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query(
            "UPDATE close_runs SET state = 'done', finished_at = $1, planners = $2 WHERE id = $3",
        )
        .bind(at.to_string())
        .bind(planners)
        .bind(run_id)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

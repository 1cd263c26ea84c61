//! Several processes on one PostgreSQL database: each server and worker keeps a heartbeat row,
//! and workers share each business day's close.
//!
//! The close of a day shared by workers: whichever worker takes the coordination (a transaction
//! advisory lock, never waited for) locks the business date in its transaction, opens the day as
//! one process would (`close::Day`), and cuts the day's due loans into chunks, committed apart as
//! a run. Every worker, the coordinator among them, claims pending chunks with `FOR UPDATE SKIP
//! LOCKED` and plans each in the chunk's own transaction: it reads the loans as the day started
//! (the business date's lock holds every team write back, and the coordinator's writes are not
//! committed), replays them and stores the plan. The coordinator writes the plans in chunk order
//! in its transaction, then the rest of the day, and commits the day once. Readers never see a
//! half-closed day; no loan is in two chunks; a worker killed while planning lets its chunk's row
//! go with its transaction, and another claims it. A coordinator killed lets the business date
//! go: the next coordinator abandons its run, whose plans may no longer hold, and starts the day
//! again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use huifang_core::policy::Policy;
use huifang_core::{Date, LoanId};
use huifang_store::{CloseRun, Dialect, ProcessRecord, Store};

use crate::close::{Day, DayReport, LOANS_PER_CLOSE_BATCH};
use crate::engine::Planned;
use crate::followup::Plans;
use crate::team::{now_stamp, stamp};
use crate::views::{CloseRunView, ClusterView, PlannerView, ProcessView};
use crate::{AppError, lock_business_date};

/// A process is taken for gone when its heartbeat is older than this.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// How often a process writes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// This process, as the others see it.
#[derive(Debug, Clone)]
pub struct Process {
    record: ProcessRecord,
    doing: Arc<Mutex<String>>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Seconds since a process's last heartbeat at `now` (an unreadable one: as long ago as can be).
fn seconds_since(p: &ProcessRecord, now: DateTime<Utc>) -> i64 {
    DateTime::parse_from_rfc3339(&p.heartbeat_at)
        .map(|t| (now - t.with_timezone(&Utc)).num_seconds())
        .unwrap_or(i64::MAX)
}

/// Whether a process is alive: its heartbeat is at most [`STALE_AFTER`] old (or ahead of this
/// clock).
fn alive(seconds_since_heartbeat: i64) -> bool {
    seconds_since_heartbeat <= i64::try_from(STALE_AFTER.as_secs()).unwrap_or(i64::MAX)
}

/// Whether a process of this host with this pid is running (Linux; elsewhere: assumed so).
fn running_here(pid: i64) -> bool {
    !std::path::Path::new("/proc/self").exists()
        || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl Process {
    /// Joins the database as a `serve` or `worker` process. A worker needs PostgreSQL; on a SQLite
    /// file, a second server is refused while the first one runs (one process writes a SQLite
    /// file at a time).
    pub async fn join(store: &Store, kind: &'static str) -> Result<Process, AppError> {
        let started = now_stamp();
        let host = host_name();
        let pid = i64::from(std::process::id());
        let me = Process {
            record: ProcessRecord {
                id: format!("{kind}@{host}:{pid}:{started}"),
                kind: kind.to_string(),
                host,
                pid,
                started_at: started,
                heartbeat_at: String::new(),
                doing: String::new(),
            },
            doing: Arc::new(Mutex::new("starting".to_string())),
        };
        if store.dialect() == Dialect::Sqlite {
            if kind == "worker" {
                return Err(AppError::Invalid(
                    "huifang worker needs PostgreSQL (--db postgres://…): several processes share the close there. On a SQLite file, `huifang run-daily` closes the days and `huifang serve` runs the background work".to_string(),
                ));
            }
            let now = Utc::now();
            let mut tx = store.begin().await?;
            let others = tx.processes().await?;
            tx.rollback().await?;
            if let Some(other) = others.iter().find(|p| {
                p.kind == "serve"
                    && alive(seconds_since(p, now))
                    && (p.host != me.record.host || running_here(p.pid))
                    && p.id != me.record.id
            }) {
                return Err(AppError::Conflict(format!(
                    "another server (pid {} on {}) is serving this SQLite file: one server per SQLite file; several servers need PostgreSQL",
                    other.pid, other.host
                )));
            }
        }
        me.beat(store).await?;
        Ok(me)
    }

    /// This process's id in `processes`.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Says what this process is doing (written with the next heartbeat).
    pub fn doing(&self, what: impl Into<String>) {
        if let Ok(mut d) = self.doing.lock() {
            *d = what.into();
        }
    }

    /// Writes the heartbeat now, and forgets the processes gone for a day.
    pub async fn beat(&self, store: &Store) -> Result<(), AppError> {
        let now = Utc::now();
        let mut record = self.record.clone();
        record.heartbeat_at = stamp(now);
        record.doing = self.doing.lock().map(|d| d.clone()).unwrap_or_default();
        let mut tx = store.begin().await?;
        tx.beat(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Leaves: removes this process's row, and the rows of processes gone for a day.
    pub async fn leave(&self, store: &Store) -> Result<(), AppError> {
        let mut tx = store.begin().await?;
        tx.forget_processes(
            &self.record.id,
            &stamp(Utc::now() - chrono::Duration::days(1)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// [`view`] for a user of the team (admins and auditors).
pub async fn view_as(
    store: &Store,
    actor: &crate::team::Actor,
    now: DateTime<Utc>,
) -> Result<ClusterView, AppError> {
    actor.require(
        huifang_core::team::Role::watches_processes,
        "see the servers and workers",
    )?;
    view(store, now).await
}

/// The processes on the database, the business date and the close's progress.
pub async fn view(store: &Store, now: DateTime<Utc>) -> Result<ClusterView, AppError> {
    let mut tx = store.begin().await?;
    let business_date = crate::require_business_date(&mut tx).await?;
    let processes = tx.processes().await?;
    let run = tx.latest_close_run().await?;
    tx.rollback().await?;
    Ok(ClusterView {
        business_date: business_date.to_string(),
        processes: processes
            .into_iter()
            .map(|p| {
                let seconds = seconds_since(&p, now);
                ProcessView {
                    alive: alive(seconds),
                    seconds_since_heartbeat: seconds,
                    id: p.id,
                    kind: p.kind,
                    host: p.host,
                    pid: p.pid,
                    started_at: p.started_at,
                    heartbeat_at: p.heartbeat_at,
                    doing: p.doing,
                }
            })
            .collect(),
        close: run.map(|r| CloseRunView::from(&r)),
    })
}

/// The last business date the close should have reached at `now`: today in Asia/Shanghai once
/// its local time is `close_at` or later, yesterday before.
pub fn due_through(now: DateTime<Utc>, close_at: NaiveTime) -> Date {
    let local = now.with_timezone(&chrono_tz::Asia::Shanghai);
    let today = local.date_naive();
    if local.time() >= close_at {
        today
    } else {
        huifang_core::calendar::add_days(today, -1)
    }
}

/// What a worker's turn at the close did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// It coordinated a day, which is closed.
    Closed(DayReport),
    /// It planned a chunk of a day another worker coordinates.
    Planned,
    /// Another worker coordinates, and no chunk is free: try again shortly.
    Waiting,
    /// The business date has reached the date asked for.
    UpToDate,
}

/// A worker's part in the shared close.
pub struct Closer {
    me: Process,
    chunk_loans: usize,
    /// Held inside each chunk's transaction before it is planned (a failover drill).
    pause: Duration,
    /// The run whose policy and plans are loaded, with them.
    held: Option<(i64, Arc<Policy>, Arc<Plans>)>,
}

impl Closer {
    /// `chunk_loans`: loans per chunk (0: the one-process close's batch size).
    pub fn new(me: Process, chunk_loans: usize, pause: Duration) -> Closer {
        Closer {
            me,
            chunk_loans: if chunk_loans == 0 {
                LOANS_PER_CLOSE_BATCH
            } else {
                chunk_loans
            },
            pause,
            held: None,
        }
    }

    /// One turn: plan a chunk of the day being closed, or else coordinate the next day when
    /// the business date is before `through`.
    pub async fn turn(&mut self, store: &Store, through: Date) -> Result<Turn, AppError> {
        let mut tx = store.begin().await?;
        let run = tx.running_close().await?;
        let current = crate::require_business_date(&mut tx).await?;
        tx.rollback().await?;
        if let Some(run) = run {
            if self
                .plan_chunk(store, run.id, run.day, false)
                .await?
                .is_some()
            {
                return Ok(Turn::Planned);
            }
        } else if current >= through {
            self.me.doing("idle: the close is up to date");
            return Ok(Turn::UpToDate);
        }
        self.coordinate(store, through).await
    }

    /// Claims and plans a pending chunk of run `run_id` (of `day`), if any; its plan is stored
    /// with the chunk unless `keep`, and returned.
    async fn plan_chunk(
        &mut self,
        store: &Store,
        run_id: i64,
        day: Date,
        keep: bool,
    ) -> Result<Option<(i64, Planned)>, AppError> {
        let mut tx = store.begin().await?;
        let Some(chunk) = tx.claim_close_chunk(run_id).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        self.me.doing(format!(
            "planning chunk {} of the close of {day}",
            chunk.seq
        ));
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        let (policy, plans) = match &self.held {
            Some((id, policy, plans)) if *id == run_id => (Arc::clone(policy), Arc::clone(plans)),
            _ => {
                let policy = Arc::new(crate::policy::load_in(&mut tx).await?);
                let plans = Arc::new(Plans::load(&mut tx).await?);
                self.held = Some((run_id, Arc::clone(&policy), Arc::clone(&plans)));
                (policy, plans)
            }
        };
        let planned = crate::close::prepare(&mut tx, &policy, &plans, day, Some(&chunk.loans))
            .await?
            .ok_or_else(|| AppError::Invalid("a chunk planned nothing".to_string()))?;
        let plan = if keep {
            None
        } else {
            Some(serde_json::to_string(&planned).map_err(|e| {
                AppError::Invalid(format!("a chunk's plan does not serialise: {e}"))
            })?)
        };
        tx.finish_close_chunk(&chunk, self.me.id(), plan).await?;
        tx.commit().await?;
        self.me
            .doing(format!("planned chunk {} of the close of {day}", chunk.seq));
        Ok(Some((chunk.seq, planned)))
    }

    /// Coordinates the day after the business date, if this worker can take the coordination.
    async fn coordinate(&mut self, store: &Store, through: Date) -> Result<Turn, AppError> {
        let mut tx = store.begin().await?;
        if !tx.try_coordinate_close().await? {
            tx.rollback().await?;
            return Ok(Turn::Waiting);
        }
        // waits for the team writes in flight; holds back the next ones until the day commits
        let current = lock_business_date(&mut tx).await?;
        if current >= through {
            tx.rollback().await?;
            return Ok(Turn::UpToDate);
        }
        let policy = crate::policy::load_in(&mut tx).await?;
        let mut day = Day::open(&mut tx, &policy, current).await?;
        let date = day.date;
        self.me.doing(format!("coordinating the close of {date}"));
        let due = tx.loans_with_event_between(current, date).await?;
        let chunks: Vec<&[LoanId]> = due.chunks(self.chunk_loans).collect();
        let run_id = {
            let mut run = store.begin().await?;
            let at = now_stamp();
            // a run still marked running lost its coordinator: its day starts again
            run.abandon_close_runs(&at).await?;
            let id = run
                .insert_close_run(date, self.me.id(), &chunks, &at)
                .await?;
            run.commit().await?;
            id
        };
        self.held = Some((run_id, Arc::clone(&day.policy), Arc::clone(&day.plans)));
        let count = i64::try_from(chunks.len()).unwrap_or(i64::MAX);
        // chunks this worker planned, kept in memory until written
        let mut kept: HashMap<i64, Planned> = HashMap::new();
        let mut next = 0i64;
        while next < count {
            let ready = match kept.remove(&next) {
                Some(planned) => Some(planned),
                None => match tx.planned_chunk(run_id, next).await? {
                    None => None,
                    Some((_, Some(plan))) => {
                        Some(serde_json::from_str::<Planned>(&plan).map_err(|e| {
                            AppError::Invalid(format!("chunk {next}'s stored plan: {e}"))
                        })?)
                    }
                    Some((by, None)) => {
                        return Err(AppError::Invalid(format!(
                            "chunk {next} of run {run_id} was planned by {by} without its plan"
                        )));
                    }
                },
            };
            let wrote = ready.is_some();
            let (written, planned) = tokio::join!(
                async {
                    match ready {
                        Some(planned) => day.write(&mut tx, planned).await,
                        None => Ok(()),
                    }
                },
                self.plan_chunk(store, run_id, date, true),
            );
            written?;
            let planned = planned?;
            let idle = !wrote && planned.is_none();
            if let Some((seq, planned)) = planned {
                kept.insert(seq, planned);
            }
            if wrote {
                next += 1;
                self.me.doing(format!(
                    "coordinating the close of {date}: {next} of {count} chunks written"
                ));
            } else if idle {
                // the next chunk is being planned by another worker
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        tx.finish_close_run(run_id, &now_stamp()).await?;
        let report = day.finish(&mut tx).await?;
        tx.commit().await?;
        self.me.doing(format!("closed {date}"));
        Ok(Turn::Closed(report))
    }
}

impl From<&CloseRun> for CloseRunView {
    fn from(r: &CloseRun) -> CloseRunView {
        CloseRunView {
            run: r.id,
            day: r.day.to_string(),
            coordinator: r.coordinator.clone(),
            state: r.state.clone(),
            loans: r.loans,
            chunks: r.chunks,
            planned: r.planned,
            started_at: r.started_at.clone(),
            finished_at: r.finished_at.clone(),
            planners: r
                .planners
                .iter()
                .map(|(process, chunks)| PlannerView {
                    process: process.clone(),
                    chunks: *chunks,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_close_is_due_through_today_from_its_local_time() {
        let at = NaiveTime::from_hms_opt(0, 30, 0).unwrap();
        let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
        // 16:29 UTC on the 6th is 00:29 on the 7th in Beijing: not yet
        let before = Utc.with_ymd_and_hms(2026, 12, 6, 16, 29, 59).unwrap();
        assert_eq!(due_through(before, at), d(2026, 12, 6));
        let after = Utc.with_ymd_and_hms(2026, 12, 6, 16, 30, 0).unwrap();
        assert_eq!(due_through(after, at), d(2026, 12, 7));
        // across a month and a year
        let new_year = Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap();
        assert_eq!(due_through(new_year, at), d(2026, 12, 31));
        assert_eq!(
            due_through(new_year, NaiveTime::from_hms_opt(0, 0, 0).unwrap()),
            d(2027, 1, 1)
        );
    }
}

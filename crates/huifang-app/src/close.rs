//! The daily close: each business day in order up to a target date. A day touches only the loans
//! whose next event falls on or before it (an index lookup), so its cost grows with the day's
//! events, not with the portfolio. Each day is one transaction; a closed day is never closed again.

use std::sync::Arc;

use huifang_core::calendar::add_days;
use huifang_core::policy::Policy;
use huifang_core::{Date, LoanId};
use huifang_store::{Store, Tx};

use crate::engine::{self, Batch, Cause, Planned};
use crate::followup::Plans;
use crate::{AppError, lock_business_date};

/// How many loans are replayed per batch inside a day. Small, because the writing of one batch
/// waits for the reading of the first: with 500 loans a quiet day at 1M loans closed 20% faster
/// than with 2,000 (docs/PERFORMANCE.md).
pub const LOANS_PER_CLOSE_BATCH: usize = 500;

/// What closing one day did (two reports are equal when they say the same of the day, however
/// long its scoring took).
#[derive(Debug, Clone, Copy)]
pub struct DayReport {
    pub date: Date,
    /// Loans replayed because they had an event due.
    pub loans: u64,
    pub events: u64,
    pub status_changes: u64,
    /// Loans whose risk score was computed again (their inputs changed), and how long it took.
    pub scored: u64,
    pub scoring: std::time::Duration,
}

impl PartialEq for DayReport {
    fn eq(&self, other: &DayReport) -> bool {
        let key = |r: &DayReport| (r.date, r.loans, r.events, r.status_changes, r.scored);
        key(self) == key(other)
    }
}

impl Eq for DayReport {}

/// Closes every business day after the current business date up to and including `through`,
/// calling `on_day` after each. Returns the days closed (none when `through` is not after the
/// business date: re-running a closed day changes nothing).
pub async fn run_daily(
    store: &Store,
    policy: &Policy,
    through: Date,
    on_day: impl FnMut(&DayReport),
) -> Result<Vec<DayReport>, AppError> {
    run_daily_in_batches(store, policy, through, LOANS_PER_CLOSE_BATCH, on_day).await
}

/// `run_daily` with `batch_loans` loans per batch (at least one).
pub async fn run_daily_in_batches(
    store: &Store,
    policy: &Policy,
    through: Date,
    batch_loans: usize,
    mut on_day: impl FnMut(&DayReport),
) -> Result<Vec<DayReport>, AppError> {
    let mut reports = Vec::new();
    loop {
        let mut tx = store.begin().await?;
        let current = lock_business_date(&mut tx).await?;
        if current >= through {
            tx.rollback().await?;
            return Ok(reports);
        }
        // `huifang policy set` may have run between two days of this close: the days after it
        // must wait for a close that loads the new policy, or they would spend the re-evaluation
        // it asked for under the old one.
        if crate::policy::stored_differs(&mut tx, policy).await? {
            tx.rollback().await?;
            return Err(AppError::Conflict(format!(
                "the policy was changed while the days up to {current} were closed: run `huifang run-daily` again to close the days after it under the new policy"
            )));
        }
        let mut open = Day::open(&mut tx, policy, current).await?;
        let due = tx.loans_with_event_between(current, open.date).await?;
        // Pipelined: while one batch is written in the day's transaction, the next is read on a
        // second connection (see `engine::Batch`) and replayed on a worker thread, so the
        // writing never waits for reading or replaying. Begun after the write lock, the reader
        // sees what the day started from.
        let mut reader = store.begin().await?;
        let mut batches = due.chunks(batch_loans.max(1));
        let (policy, plans, day) = (Arc::clone(&open.policy), Arc::clone(&open.plans), open.date);
        let mut next = prepare(&mut reader, &policy, &plans, day, batches.next()).await?;
        while let Some(planned) = next.take() {
            let (written, prepared) = tokio::join!(
                open.write(&mut tx, planned),
                prepare(&mut reader, &policy, &plans, day, batches.next()),
            );
            written?;
            next = prepared?;
        }
        reader.rollback().await?;
        let report = open.finish(&mut tx).await?;
        tx.commit().await?;
        on_day(&report);
        reports.push(report);
    }
}

/// A business day being closed in the caller's transaction, which holds the business date's
/// lock: what it was opened with and what its batches have written so far. Shared by the
/// one-process close (`run_daily`) and the close shared by workers (`cluster`), so that a day
/// is closed one way whoever plans its batches.
pub(crate) struct Day {
    pub(crate) date: Date,
    pub(crate) policy: Arc<Policy>,
    pub(crate) plans: Arc<Plans>,
    outgoing: crate::notify::Outgoing,
    report: DayReport,
    /// the loans whose risk score's inputs changed today (a status change, a signal)
    changed: Vec<LoanId>,
}

impl Day {
    /// Opens the day after `current`: keeps what the book stood at before it, and loads what
    /// its batches are planned and written with.
    pub(crate) async fn open(tx: &mut Tx, policy: &Policy, current: Date) -> Result<Day, AppError> {
        let day = add_days(current, 1);
        if tx.is_day_closed(day).await? {
            return Err(AppError::Invalid(format!(
                "business day {day} is already closed but the business date is {current}"
            )));
        }
        // the book at the end of a month-end, with every fact of that day posted, before the next
        // day changes it
        crate::analytics::keep_month_end(tx, current).await?;
        // and its totals, as every day's (the dashboard's trend over the closed days)
        tx.keep_daily_totals(current).await?;
        Ok(Day {
            date: day,
            // shared with the worker threads for the whole day, not copied per batch
            policy: Arc::new(policy.clone()),
            plans: Arc::new(Plans::load(tx).await?),
            outgoing: crate::notify::Outgoing::load(tx, day).await?,
            report: DayReport {
                date: day,
                loans: 0,
                events: 0,
                status_changes: 0,
                scored: 0,
                scoring: std::time::Duration::ZERO,
            },
            changed: Vec::new(),
        })
    }

    /// Writes a planned batch of the day, its messages with it.
    pub(crate) async fn write(
        &mut self,
        tx: &mut Tx,
        mut planned: Planned,
    ) -> Result<(), AppError> {
        let notices = planned.take_notices();
        self.outgoing.write(tx, &notices).await?;
        let written = planned.write(tx, self.date).await?;
        self.report.loans += written.loans;
        self.report.events += written.events;
        self.report.status_changes += written.status_changes;
        self.changed.extend(written.changed);
        Ok(())
    }

    /// The rest of the day once every batch is written: promises kept or broken, fresh risk
    /// scores, the signals weighed, warnings resolved, the signed checkpoint, and the business
    /// date moved. The caller commits.
    pub(crate) async fn finish(self, tx: &mut Tx) -> Result<DayReport, AppError> {
        let Day {
            date: day,
            policy,
            plans,
            mut report,
            mut changed,
            ..
        } = self;
        let mut signalled = crate::followup::close_day(tx, day).await?.signalled; // kept or broken
        // the loans whose inputs changed get a fresh risk score (when a model is trained); a
        // score rising into band D or E is a signal the warning rules weigh with the others
        changed.extend(signalled.iter().copied());
        changed.sort_unstable();
        changed.dedup();
        let started = std::time::Instant::now();
        let scored = crate::score::score_loans(tx, day, Some(&changed)).await?;
        report.scoring = started.elapsed();
        report.scored = u64::try_from(scored.loans).unwrap_or(u64::MAX);
        signalled.extend(scored.signalled);
        let weighed = engine::weigh_signals(tx, &policy, &plans, day, signalled).await?;
        report.events += weighed.events;
        report.status_changes += weighed.status_changes;
        crate::warnings::auto_resolve(tx, policy.warning_auto_resolve_days, day).await?;
        crate::ledger::checkpoint(tx, day).await?; // the day's signed checkpoint
        tx.record_closed_day(day, report.loans, report.events)
            .await?;
        tx.set_business_date(day).await?;
        Ok(report)
    }
}

/// Reads a batch of loans and plans its re-evaluation (off the async threads).
pub(crate) async fn prepare(
    reader: &mut Tx,
    policy: &Arc<Policy>,
    plans: &Arc<Plans>,
    day: Date,
    ids: Option<&[LoanId]>,
) -> Result<Option<Planned>, AppError> {
    let Some(ids) = ids else {
        return Ok(None);
    };
    let batch = Batch::load(reader, ids, plans).await?;
    let (policy, plans) = (Arc::clone(policy), Arc::clone(plans));
    tokio::task::spawn_blocking(move || {
        engine::plan(&policy, &plans, day, &batch, Cause::Close, true)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    .map(Some)
}

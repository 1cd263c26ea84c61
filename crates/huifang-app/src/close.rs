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
        let day = add_days(current, 1);
        // `huifang policy set` may have run between two days of this close: the days after it
        // must wait for a close that loads the new policy, or they would spend the re-evaluation
        // it asked for under the old one.
        if crate::policy::stored_differs(&mut tx, policy).await? {
            tx.rollback().await?;
            return Err(AppError::Conflict(format!(
                "the policy was changed while the days up to {current} were closed: run `huifang run-daily` again to close the days after it under the new policy"
            )));
        }
        if tx.is_day_closed(day).await? {
            return Err(AppError::Invalid(format!(
                "business day {day} is already closed but the business date is {current}"
            )));
        }
        // the book at the end of a month-end, with every fact of that day posted, before the next
        // day changes it
        crate::analytics::keep_month_end(&mut tx, current).await?;
        // and its totals, as every day's (the dashboard's trend over the closed days)
        tx.keep_daily_totals(current).await?;
        let mut report = DayReport {
            date: day,
            loans: 0,
            events: 0,
            status_changes: 0,
            scored: 0,
            scoring: std::time::Duration::ZERO,
        };
        let due = tx.loans_with_event_between(current, day).await?;
        // Pipelined: while one batch is written in the day's transaction, the next is read on a
        // second connection (see `engine::Batch`) and replayed on a worker thread, so the
        // writing never waits for reading or replaying. Begun after the write lock, the reader
        // sees what the day started from.
        // shared with the worker threads for the whole day, not copied per batch
        let (policy, plans) = (
            Arc::new(policy.clone()),
            Arc::new(Plans::load(&mut tx).await?),
        );
        let outgoing = crate::notify::Outgoing::load(&mut tx, day).await?;
        let mut signalled = Vec::new();
        // the loans whose risk score's inputs changed today (a status change, a signal)
        let mut changed = Vec::new();
        let mut reader = store.begin().await?;
        let mut batches = due.chunks(batch_loans.max(1));
        let mut next = prepare(&mut reader, &policy, &plans, day, batches.next()).await?;
        while let Some(mut planned) = next.take() {
            let notices = planned.take_notices();
            let (written, prepared) = tokio::join!(
                async {
                    outgoing.write(&mut tx, &notices).await?;
                    planned.write(&mut tx, day).await
                },
                prepare(&mut reader, &policy, &plans, day, batches.next()),
            );
            let written = written?;
            next = prepared?;
            report.loans += written.loans;
            report.events += written.events;
            report.status_changes += written.status_changes;
            changed.extend(written.changed);
        }
        reader.rollback().await?;
        let promises = crate::followup::close_day(&mut tx, day).await?; // kept or broken
        signalled.extend(promises.signalled);
        // the loans whose inputs changed get a fresh risk score (when a model is trained); a
        // score rising into band D or E is a signal the warning rules weigh with the others
        changed.extend(signalled.iter().copied());
        changed.sort_unstable();
        changed.dedup();
        let started = std::time::Instant::now();
        let scored = crate::score::score_loans(&mut tx, day, Some(&changed)).await?;
        report.scoring = started.elapsed();
        report.scored = u64::try_from(scored.loans).unwrap_or(u64::MAX);
        signalled.extend(scored.signalled);
        let weighed = engine::weigh_signals(&mut tx, &policy, &plans, day, signalled).await?;
        report.events += weighed.events;
        report.status_changes += weighed.status_changes;
        crate::warnings::auto_resolve(&mut tx, policy.warning_auto_resolve_days, day).await?;
        crate::ledger::checkpoint(&mut tx, day).await?; // the day's signed checkpoint
        tx.record_closed_day(day, report.loans, report.events)
            .await?;
        tx.set_business_date(day).await?;
        tx.commit().await?;
        on_day(&report);
        reports.push(report);
    }
}

/// Reads a batch of loans and plans its re-evaluation (off the async threads).
async fn prepare(
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

//! The daily close: each business day in order up to a target date. A day touches only the loans
//! whose next event falls on or before it (an index lookup), so its cost grows with the day's
//! events, not with the portfolio. Each day is one transaction; a closed day is never closed again.

use huifang_core::Date;
use huifang_core::calendar::add_days;
use huifang_core::policy::Policy;
use huifang_store::Store;

use crate::engine::{self, Cause};
use crate::{AppError, lock_business_date};

/// How many loans are replayed per batch inside a day.
pub const BATCH_LOANS: usize = 2_000;

/// What closing one day did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayReport {
    pub date: Date,
    /// Loans replayed because they had an event due.
    pub loans: u64,
    pub events: u64,
    pub status_changes: u64,
}

/// Closes every business day after the current business date up to and including `through`,
/// calling `on_day` after each. Returns the days closed (none when `through` is not after the
/// business date: re-running a closed day changes nothing).
pub async fn run_daily(
    store: &Store,
    policy: &Policy,
    through: Date,
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
        if tx.is_day_closed(day).await? {
            return Err(AppError::Invalid(format!(
                "business day {day} is already closed but the business date is {current}"
            )));
        }
        let mut report = DayReport {
            date: day,
            loans: 0,
            events: 0,
            status_changes: 0,
        };
        let due = tx.loans_with_event_by(day).await?;
        for ids in due.chunks(BATCH_LOANS) {
            let inputs = tx.replay_inputs(ids).await?;
            let written =
                engine::reevaluate(&mut tx, policy, day, &inputs, Cause::Close, true).await?;
            report.loans += written.loans;
            report.events += written.events;
            report.status_changes += written.status_changes;
        }
        crate::followup::close_day(&mut tx, day).await?; // promises to pay kept or broken
        crate::ledger::checkpoint(&mut tx, day).await?; // the day's signed checkpoint
        tx.record_closed_day(day, report.loans, report.events)
            .await?;
        tx.set_business_date(day).await?;
        tx.commit().await?;
        on_day(&report);
        reports.push(report);
    }
}

//! Re-evaluating loans: replay each one with the core, compare with what was stored, and write
//! the new evaluation, the events, the status history and the warnings in the caller's
//! transaction. Shared by the daily close, imports and loan operations so that a loan's state is
//! computed one way only.

use std::collections::{BTreeMap, HashMap};

use huifang_core::loan::LoanState;
use huifang_core::policy::Policy;
use huifang_core::status::{self, LoanEvent, LoanStatus, StatusSummary};
use huifang_core::warning::ObservedSignal;
use huifang_core::{Date, LoanId};
use huifang_store::{Evaluation, EventRecord, HistoryRecord, ReplayInput, Tx, WarningRecord};
use serde::Serialize;

use crate::{AppError, to_u64};

/// What moved a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The daily close of a business day.
    Close,
    /// A payment was posted (possibly backdated).
    Payment,
    /// A loan operation was recorded.
    Operation,
    /// The loan was imported.
    Import,
    /// A follow-up recorded a risk signal (an outcome, a broken promise, a borrower unreachable).
    Signal,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Close => "close",
            Cause::Payment => "payment",
            Cause::Operation => "operation",
            Cause::Import => "import",
            Cause::Signal => "signal",
        }
    }
}

/// A loan replayed and evaluated on a date.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub state: LoanState,
    pub status: LoanStatus,
    pub evaluation: Evaluation,
}

/// Replays a loan and evaluates it on `date`.
pub fn evaluate(input: &ReplayInput, policy: &Policy, date: Date) -> Result<Evaluated, AppError> {
    let loan = &input.loan;
    let state = LoanState::replay(loan.loan.terms, &loan.rules, &input.ops, &input.payments)
        .map_err(|e| AppError::Loan {
            loan: loan.loan.external_id.clone(),
            error: e,
        })?;
    let status = status::evaluate_with(&state, policy, &input.signals, date);
    let evaluation = evaluation_of(&state, &status, policy, &input.signals);
    Ok(Evaluated {
        state,
        status,
        evaluation,
    })
}

/// The stored form of a status, its next event date counting the loan's risk signals.
pub fn evaluation_of(
    state: &LoanState,
    status: &LoanStatus,
    policy: &Policy,
    signals: &[ObservedSignal],
) -> Evaluation {
    Evaluation {
        summary: status.summary(),
        oldest_unpaid_due: status.oldest_unpaid_due,
        outstanding_principal: status.outstanding_principal,
        warning_rule: status.warning.as_ref().map(|w| w.rule.clone()),
        next_event_on: status::next_event_date_with(state, policy, signals, status.as_of),
        evaluated_on: status.as_of,
        open_task_keys: Vec::new(),
        next_continuous_on: None,
    }
}

/// One value of a stored event's details: a text, or the facts of a warning (by name).
#[derive(Serialize)]
#[serde(untagged)]
enum Detail {
    Text(String),
    Facts(BTreeMap<String, String>),
}

/// A loan event as stored: its kind and a JSON object of its details (the event's named values,
/// and its `fact` values, `name=value`, gathered under `facts`), keys in sorted order.
pub fn event_record(loan_id: LoanId, date: Date, event: &LoanEvent) -> EventRecord {
    let mut details: BTreeMap<String, Detail> = BTreeMap::new();
    let mut facts: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in event.details() {
        if key == "fact" {
            if let Some((k, v)) = value.split_once('=') {
                facts.insert(k.to_string(), v.to_string());
            }
        } else {
            details.insert(key.to_string(), Detail::Text(value));
        }
    }
    if !facts.is_empty() {
        details.insert("facts".to_string(), Detail::Facts(facts));
    }
    EventRecord {
        loan_id,
        business_date: date,
        kind: event.kind().to_string(),
        // Text keys and values always serialise.
        details: serde_json::to_string(&details).unwrap_or_default(),
    }
}

/// What re-evaluating a batch of loans reads before it writes anything: the replay inputs, which
/// hold what the follow-up planner needs too (open task keys, next continuous follow-up date,
/// stored with each loan's state). A use case reads it in its own transaction; the daily close
/// reads the next batch on a second connection while the current one is written (loans of
/// different batches share no rows, and the day's writer holds the database's write lock, so the
/// second connection sees the state the day started from).
#[derive(Debug)]
pub struct Batch {
    pub inputs: Vec<ReplayInput>,
    /// The loans' risk score bands, read when a follow-up plan routes tasks by them.
    pub bands: HashMap<LoanId, char>,
}

impl Batch {
    /// Reads the batch of these loans (and their score bands when `plans` route by them).
    pub async fn load(
        tx: &mut Tx,
        loan_ids: &[LoanId],
        plans: &crate::followup::Plans,
    ) -> Result<Batch, AppError> {
        let mut batch = Batch::of(tx.replay_inputs(loan_ids).await?);
        batch.read_bands(tx, plans).await?;
        Ok(batch)
    }

    /// The batch of replay inputs already in hand (an operation being recorded).
    pub fn of(inputs: Vec<ReplayInput>) -> Batch {
        Batch {
            inputs,
            bands: HashMap::new(),
        }
    }

    /// Reads the loans' score bands when `plans` route tasks by them.
    pub async fn read_bands(
        &mut self,
        tx: &mut Tx,
        plans: &crate::followup::Plans,
    ) -> Result<(), AppError> {
        if plans.route_by_band() {
            let ids: Vec<LoanId> = self.inputs.iter().map(|i| i.loan.id).collect();
            self.bands = tx
                .loan_bands(&ids)
                .await?
                .into_iter()
                .filter_map(|(loan, band)| {
                    Some((LoanId(loan), huifang_core::score::parse_band(&band)?))
                })
                .collect();
        }
        Ok(())
    }
}

/// Counts of what a batch of re-evaluations wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub loans: u64,
    pub events: u64,
    pub status_changes: u64,
    pub followup: crate::followup::FollowupWritten,
    /// The loans whose status changed or that got a risk signal: their risk score's inputs
    /// changed.
    pub changed: Vec<LoanId>,
}

fn changed(before: &StatusSummary, after: &StatusSummary) -> bool {
    (
        before.lifecycle,
        before.bucket,
        before.classification,
        before.warning_level,
    ) != (
        after.lifecycle,
        after.bucket,
        after.classification,
        after.warning_level,
    )
}

/// Re-evaluates a batch on `date`, plans their follow-up and writes the results (`plan`, then
/// `Planned::write`).
pub async fn reevaluate(
    tx: &mut Tx,
    policy: &Policy,
    date: Date,
    mut batch: Batch,
    cause: Cause,
    dated_events: bool,
) -> Result<Written, AppError> {
    let plans = crate::followup::Plans::load(tx).await?;
    batch.read_bands(tx, &plans).await?;
    let planned = plan(policy, &plans, date, &batch, cause, dated_events)?;
    planned.write(tx, date).await
}

/// Records risk signals found outside a contact (trackers' events, borrowers' replies) and lets
/// the warning rules weigh their loans now, in the caller's transaction. Returns how many loans
/// were weighed.
pub async fn record_signals(
    tx: &mut Tx,
    policy: &Policy,
    date: Date,
    signals: &[(LoanId, String, String, Date, Option<i64>)],
) -> Result<usize, AppError> {
    if signals.is_empty() {
        return Ok(0);
    }
    // weighed in the ledger's order, as a contact's signals are (`team::record_in`): the loans
    // are read with every contact recorded before
    tx.lock_ledger().await?;
    tx.insert_risk_signals(signals).await?;
    let mut loans: Vec<LoanId> = signals.iter().map(|s| s.0).collect();
    loans.sort_unstable();
    loans.dedup();
    let count = loans.len();
    let plans = crate::followup::Plans::load(tx).await?;
    weigh_signals(tx, policy, &plans, date, loans).await?;
    Ok(count)
}

/// Re-evaluates `loans` after risk signals were written for them (the day's broken promises),
/// so that a warning the signals raise is the same day's.
pub async fn weigh_signals(
    tx: &mut Tx,
    policy: &Policy,
    plans: &crate::followup::Plans,
    date: Date,
    mut loans: Vec<LoanId>,
) -> Result<Written, AppError> {
    let mut total = Written::default();
    loans.sort_unstable();
    loans.dedup();
    for chunk in loans.chunks(crate::close::LOANS_PER_CLOSE_BATCH) {
        let batch = Batch::load(tx, chunk, plans).await?;
        let w = plan(policy, plans, date, &batch, Cause::Signal, false)?
            .write(tx, date)
            .await?;
        total.loans += w.loans;
        total.events += w.events;
        total.status_changes += w.status_changes;
        total.changed.extend(w.changed);
    }
    Ok(total)
}

/// What re-evaluating a batch writes, computed without the database (and sent as JSON from the
/// worker that planned a chunk of a shared close to the one that writes the day).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Planned {
    evaluations: Vec<(LoanId, Evaluation)>,
    events: Vec<EventRecord>,
    history: Vec<HistoryRecord>,
    opened: Vec<WarningRecord>,
    cleared: Vec<LoanId>,
    auto_resolve_days: u32,
    /// Risk signals the day brought (an overdue borrower nobody reached), already weighed.
    signals: Vec<(LoanId, String, String, Date, Option<i64>)>,
    followup: crate::followup::FollowupPlanned,
    /// The messages the day's events call for (the close only), by loan.
    notices: Vec<crate::notify::Notice>,
    /// What the new evaluations change in the book's totals.
    totals: huifang_store::TotalsDelta,
}

/// Re-evaluates a batch on `date` and plans its follow-up. With `dated_events` (the daily close)
/// the day's reminders and newly overdue installments are recorded too. Each loan's state row is
/// written once, its next event date already moved up to any earlier visit the follow-up plan
/// asks for.
pub fn plan(
    policy: &Policy,
    plans: &crate::followup::Plans,
    date: Date,
    batch: &Batch,
    cause: Cause,
    dated_events: bool,
) -> Result<Planned, AppError> {
    let inputs = &batch.inputs;
    let mut evaluations = Vec::with_capacity(inputs.len());
    let mut totals = huifang_store::TotalsDelta::default();
    let mut events = Vec::new();
    let mut history = Vec::new();
    let mut opened = Vec::new();
    let mut cleared = Vec::new();
    let mut signals = Vec::new();
    let mut notices = Vec::new();
    let mut evaluated = Vec::with_capacity(inputs.len());
    for input in inputs {
        let loan_id = input.loan.id;
        let before = input.loan.loan.evaluation.summary;
        let mut done = evaluate(input, policy, date)?;
        // An overdue borrower nobody has reached for the plan's days: the signal is recorded
        // today and weighed by the rules in this same evaluation.
        let plan = plans.for_product(&input.loan.product_code);
        if let Some(s) = crate::followup::unreachable_signal(
            plan,
            &done.status,
            input.last_reached,
            &input.signals,
        ) {
            let mut all = input.signals.clone();
            signals.push((loan_id, s.kind.clone(), s.value.clone(), date, None));
            all.push(s);
            done.status = status::evaluate_with(&done.state, policy, &all, date);
            done.evaluation = evaluation_of(&done.state, &done.status, policy, &all);
        } else if let Some(on) = huifang_core::followup::unreachable_signal_on(
            plan,
            &done.status,
            input.last_reached,
            &input.signals,
        ) {
            // tried in vain: visited again on the day the borrower counts as unreachable
            let next = &mut done.evaluation.next_event_on;
            *next = Some(next.map_or(on, |n| n.min(on)));
        }
        let after = done.status.summary();
        let mut day_events = if dated_events {
            status::dated_events(&done.state, policy, date)
        } else {
            Vec::new()
        };
        notices.extend(
            day_events
                .iter()
                .filter_map(|e| crate::notify::Notice::of_event(loan_id, date, e)),
        );
        day_events.extend(status::transition_events(&before, &done.status));
        events.extend(day_events.iter().map(|e| event_record(loan_id, date, e)));
        if changed(&before, &after) {
            history.push(HistoryRecord {
                loan_id,
                business_date: date,
                summary: after,
                cause: cause.as_str().to_string(),
            });
        }
        if before.warning_level != after.warning_level {
            if before.warning_level > 0 {
                cleared.push(loan_id);
            }
            if let Some(hit) = &done.status.warning {
                opened.push(warning_record(loan_id, date, hit));
            }
        }
        evaluated.push(crate::followup::Reevaluated {
            loan_id,
            product_code: input.loan.product_code.clone(),
            disbursed_on: input.loan.loan.terms.disbursed_on,
            before: Some(before),
            open_installments: done
                .state
                .open_installments()
                .map(|i| (i.n, i.due_date))
                .collect(),
            next_event_on: done.evaluation.next_event_on,
            open_keys: input.loan.loan.evaluation.open_task_keys.clone(),
            next_continuous_on: input.loan.loan.evaluation.next_continuous_on,
            band: batch.bands.get(&loan_id).copied(),
            status: done.status,
            events: day_events,
        });
        totals.replace(&input.loan.loan.evaluation, &done.evaluation);
        evaluations.push((loan_id, done.evaluation));
    }
    let (followup, state) = crate::followup::plan_batch(plans, policy, date, &evaluated);
    // Each state row keeps the loan's open task keys as they stand (`Planned::write` applies the
    // batch's task changes) and its follow-up date (moved below where the plan asks): handed over
    // from what the planner read, not copied again.
    for ((_, e), l) in evaluations.iter_mut().zip(&mut evaluated) {
        e.open_task_keys = std::mem::take(&mut l.open_keys);
        e.next_continuous_on = l.next_continuous_on;
    }
    apply_in_order(&mut evaluations, state.pulls, |e, visit| {
        e.next_event_on = Some(visit);
    })?;
    apply_in_order(&mut evaluations, state.nexts, |e, next| {
        e.next_continuous_on = next;
    })?;
    Ok(Planned {
        evaluations,
        events,
        history,
        opened,
        cleared,
        auto_resolve_days: policy.warning_auto_resolve_days,
        signals,
        followup,
        notices,
        totals,
    })
}

impl Planned {
    /// The messages the day's events call for, taken out to be written with them.
    pub fn take_notices(&mut self) -> Vec<crate::notify::Notice> {
        std::mem::take(&mut self.notices)
    }

    /// The warning level a loan of the batch is evaluated at.
    pub fn warning_level(&self, loan: LoanId) -> Option<u8> {
        self.evaluations
            .iter()
            .find(|(id, _)| *id == loan)
            .map(|(_, e)| e.summary.warning_level)
    }

    /// Writes the batch in the caller's transaction.
    pub async fn write(mut self, tx: &mut Tx, date: Date) -> Result<Written, AppError> {
        let changes = self.followup.write(tx, date).await?;
        tx.insert_risk_signals(&self.signals).await?;
        let followup = changes.written();
        let untracked = apply_task_changes(&mut self.evaluations, &changes);
        tx.save_evaluations(&self.evaluations, &self.totals).await?;
        tx.refresh_open_task_keys(&untracked).await?;
        tx.insert_events(&self.events).await?;
        tx.insert_history(&self.history).await?;
        // the open warnings follow the levels; new ones logged in the same transaction
        crate::warnings::follow_levels(
            tx,
            &self.opened,
            &self.cleared,
            self.auto_resolve_days,
            date,
        )
        .await?;
        let mut changed: Vec<LoanId> = self
            .history
            .iter()
            .map(|h| h.loan_id)
            .chain(self.signals.iter().map(|s| s.0))
            .collect();
        changed.sort_unstable();
        changed.dedup();
        Ok(Written {
            loans: to_u64(self.evaluations.len()),
            events: to_u64(self.events.len()),
            status_changes: to_u64(self.history.len()),
            followup,
            changed,
        })
    }
}

/// Applies changes listed in the order of the evaluations (each finds its loan by walking
/// forward; a change for a loan not found ahead of the last one is an error).
fn apply_in_order<T>(
    evaluations: &mut [(LoanId, Evaluation)],
    changes: Vec<(LoanId, T)>,
    apply: impl Fn(&mut Evaluation, T),
) -> Result<(), AppError> {
    let mut rest = evaluations.iter_mut().peekable();
    for (loan_id, change) in changes {
        while rest.next_if(|(id, _)| *id != loan_id).is_some() {}
        let Some((_, evaluation)) = rest.peek_mut() else {
            return Err(AppError::Invalid(format!(
                "follow-up change for loan {loan_id}, which is not in the batch (or out of order)"
            )));
        };
        apply(evaluation, change);
    }
    Ok(())
}

/// Applies a batch's task changes to the open task keys of its evaluations (kept sorted).
/// Returns the loans changed that the batch does not hold (none: the follow-up plans only the
/// batch's loans), whose keys the caller refreshes from their tasks.
fn apply_task_changes(
    evaluations: &mut [(LoanId, Evaluation)],
    changes: &crate::followup::TaskChanges,
) -> Vec<LoanId> {
    let at: HashMap<LoanId, usize> = evaluations
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    let mut untracked = Vec::new();
    for (loan, key) in &changes.cancelled {
        match at.get(loan).and_then(|&i| evaluations.get_mut(i)) {
            Some((_, evaluation)) => evaluation.open_task_keys.retain(|k| k != key),
            None => untracked.push(*loan),
        }
    }
    for (loan, key) in &changes.created {
        match at.get(loan).and_then(|&i| evaluations.get_mut(i)) {
            Some((_, evaluation)) => {
                let keys = &mut evaluation.open_task_keys;
                if let Err(pos) = keys.binary_search(key) {
                    keys.insert(pos, key.clone());
                }
            }
            None => untracked.push(*loan),
        }
    }
    untracked.sort_unstable();
    untracked.dedup();
    untracked
}

/// The stored form of a warning hit.
pub fn warning_record(
    loan_id: LoanId,
    date: Date,
    hit: &huifang_core::status::WarningHit,
) -> WarningRecord {
    let version = hit.version.to_string();
    let mut facts: BTreeMap<&str, &str> = hit
        .facts
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    facts.insert("rule_version", &version);
    facts.insert("text_zh", &hit.text.zh);
    facts.insert("text_en", &hit.text.en);
    WarningRecord {
        loan_id,
        level: hit.level,
        rule: hit.rule.clone(),
        // Text keys and values always serialise.
        facts: serde_json::to_string(&facts).unwrap_or_default(),
        raised_on: date,
        cleared_on: None,
    }
}

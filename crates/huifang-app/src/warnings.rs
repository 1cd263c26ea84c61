//! The life of a warning (DOMAIN.md capability 7): raised by the rules, acknowledged and acted on
//! by a risk officer, resolved by them with a reason or automatically once no rule has held for
//! its loan for the rule set's number of days, escalated when a higher level is raised on its
//! loan. Every step is a row of the warning's history, logged in the tamper-evident record in
//! the transaction that takes it. The rules of the life (states, commands, what becomes of an
//! open warning when its loan's level changes) are the core's (`huifang_core::warning`).

use std::collections::BTreeSet;

use huifang_core::warning::{
    OpenWarningFate, WarningAction, WarningCommand, WarningState, fate_of_open,
};
use huifang_core::{Date, LoanId, TaskId};
use huifang_store::{Store, Tx, WarningRecord, WarningRow, WarningStep, WarningStepRecord};

use crate::team::{Actor, Role, now_stamp};
use crate::{AppError, ledger, require_business_date};

/// Most warnings one list returns.
pub const MAX_LIST: usize = 500;

/// Writes what the rules' re-evaluation of a batch says of its warnings: `raised` are the hits
/// of loans whose level rose or fell to another non-zero level, `dropped` the loans whose level
/// fell (to zero, unless they are also raised). Each loan's open warning meets its fate
/// ([`fate_of_open`]); the new warnings are inserted and logged, every step recorded.
pub async fn follow_levels(
    tx: &mut Tx,
    raised: &[WarningRecord],
    dropped: &[LoanId],
    auto_resolve_days: u32,
    date: Date,
) -> Result<(), AppError> {
    let touched: BTreeSet<LoanId> = raised
        .iter()
        .map(|w| w.loan_id)
        .chain(dropped.iter().copied())
        .collect();
    if touched.is_empty() {
        return Ok(());
    }
    let touched: Vec<LoanId> = touched.into_iter().collect();
    let open = tx.open_warnings_of(&touched).await?;
    let (mut changes, mut steps) = (Vec::new(), Vec::new());
    let mut to_raise = Vec::with_capacity(raised.len());
    for loan in &touched {
        let new = raised.iter().find(|w| w.loan_id == *loan);
        let to = new.map_or(0, |w| w.level);
        let mut raise = new.is_some();
        for w in open.iter().filter(|w| w.warning.loan_id == *loan) {
            let Some(fate) = fate_of_open(
                w.warning.level,
                w.false_since.is_some(),
                to,
                auto_resolve_days,
            ) else {
                raise = false; // the same level still holds: the open warning carries on
                continue;
            };
            let (state, cleared, false_since, action, note) = match fate {
                OpenWarningFate::Escalated => (
                    WarningState::Escalated,
                    Some(date),
                    w.false_since,
                    WarningAction::Escalated,
                    format!("level {to} raised on the loan"),
                ),
                OpenWarningFate::AutoResolved => (
                    WarningState::Resolved,
                    Some(date),
                    w.false_since,
                    WarningAction::AutoResolved,
                    if to == 0 {
                        "no warning rule holds for the loan".to_string()
                    } else {
                        format!("the loan fell to level {to}")
                    },
                ),
                OpenWarningFate::ConditionFalse => (
                    w.state,
                    None,
                    Some(date),
                    WarningAction::ConditionFalse,
                    format!("no warning rule holds: resolved after {auto_resolve_days} day(s)"),
                ),
                OpenWarningFate::ConditionHolds => {
                    raise = false;
                    (
                        w.state,
                        None,
                        None,
                        WarningAction::ConditionHolds,
                        format!("level {to} holds again"),
                    )
                }
            };
            changes.push((w.id, state, cleared, false_since));
            steps.push(system_step(w, action, note, date));
        }
        if let (true, Some(w)) = (raise, new) {
            to_raise.push(w.clone());
        }
    }
    tx.set_warnings(&changes).await?;
    ledger::open_warnings(tx, &to_raise).await?;
    ledger::record_warning_steps(tx, &steps).await?;
    Ok(())
}

/// Resolves the warnings whose condition has been false for `days` days on `date` (the daily
/// close, when the rule set keeps such warnings open). Returns how many.
pub async fn auto_resolve(tx: &mut Tx, days: u32, date: Date) -> Result<u64, AppError> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = huifang_core::calendar::add_days(date, -i64::from(days));
    let due = tx.false_warnings_since(cutoff).await?;
    let mut steps = Vec::with_capacity(due.len());
    let changes: Vec<_> = due
        .iter()
        .map(|w| (w.id, WarningState::Resolved, Some(date), w.false_since))
        .collect();
    tx.set_warnings(&changes).await?;
    for w in &due {
        let since = w.false_since.map(|d| d.to_string()).unwrap_or_default();
        steps.push(system_step(
            w,
            WarningAction::AutoResolved,
            format!("no warning rule has held since {since}: {days} day(s)"),
            date,
        ));
    }
    ledger::record_warning_steps(tx, &steps).await?;
    Ok(crate::to_u64(due.len()))
}

fn system_step(w: &WarningRow, action: WarningAction, note: String, date: Date) -> WarningStep {
    WarningStep {
        warning_id: w.id,
        loan_id: w.warning.loan_id,
        action,
        user_id: None,
        task_id: None,
        note,
        business_date: date,
        occurred_at: None,
    }
}

/// Which warnings to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarningFilter {
    /// Open warnings only (the default), or every warning.
    pub all: bool,
    pub level: Option<u8>,
    /// A loan's external id.
    pub loan: Option<String>,
    /// At most this many (at most [`MAX_LIST`]).
    pub limit: Option<usize>,
}

fn require_reader(actor: &Actor) -> Result<(), AppError> {
    actor.require(Role::reads_loans, "read warnings")
}

/// Warnings newest first, for the roles that read loans.
pub async fn list(
    store: &Store,
    actor: &Actor,
    filter: &WarningFilter,
) -> Result<Vec<WarningRow>, AppError> {
    require_reader(actor)?;
    let limit = filter.limit.unwrap_or(MAX_LIST).clamp(1, MAX_LIST);
    let mut tx = store.begin().await?;
    let rows = tx
        .warnings_page(!filter.all, filter.level, filter.loan.as_deref(), limit)
        .await?;
    tx.rollback().await?;
    Ok(rows)
}

/// A warning with its history, for the roles that read loans.
pub async fn show(
    store: &Store,
    actor: &Actor,
    id: i64,
) -> Result<(WarningRow, Vec<WarningStepRecord>), AppError> {
    require_reader(actor)?;
    let mut tx = store.begin().await?;
    let w = load(&mut tx, id).await?;
    let steps = tx.warning_steps(id).await?;
    tx.rollback().await?;
    Ok((w, steps))
}

async fn load(tx: &mut Tx, id: i64) -> Result<WarningRow, AppError> {
    tx.warning(id).await?.ok_or_else(|| AppError::NotFound {
        what: "warning",
        id: id.to_string(),
    })
}

/// Acknowledges a warning (a risk officer).
pub async fn acknowledge(
    store: &Store,
    actor: &Actor,
    id: i64,
    note: &str,
) -> Result<WarningRow, AppError> {
    step(store, actor, id, WarningCommand::Acknowledge, None, note).await
}

/// Records what was done about a warning: the task that answers it, with a note (a risk
/// officer; the warning acknowledged first). The task must be of the warning's loan.
pub async fn record_action(
    store: &Store,
    actor: &Actor,
    id: i64,
    task: Option<TaskId>,
    note: &str,
) -> Result<WarningRow, AppError> {
    if task.is_none() && note.trim().is_empty() {
        return Err(AppError::Field {
            field: "note",
            reason: "say what was done (and give the task, when a task answers it)".into(),
        });
    }
    step(store, actor, id, WarningCommand::RecordAction, task, note).await
}

/// A decision applied or a case opened on a loan answers its open warnings: each is actioned in
/// the caller's transaction, by the actor, the note naming the decision or case (a warning not
/// yet acknowledged is acknowledged by it first). Every step is logged.
pub(crate) async fn answered_by(
    tx: &mut Tx,
    actor: &Actor,
    loan: LoanId,
    note: &str,
    date: Date,
) -> Result<(), AppError> {
    let mut steps = Vec::new();
    for w in tx.open_warnings_of(&[loan]).await? {
        let step = |action| WarningStep {
            warning_id: w.id,
            loan_id: loan,
            action,
            user_id: Some(actor.id()),
            task_id: None,
            note: note.to_string(),
            business_date: date,
            occurred_at: Some(now_stamp()),
        };
        let mut state = w.state;
        if let Ok(acked) = state.after(WarningCommand::Acknowledge) {
            steps.push(step(WarningAction::of(WarningCommand::Acknowledge)));
            state = acked;
        }
        if let Ok(actioned) = state.after(WarningCommand::RecordAction) {
            steps.push(step(WarningAction::of(WarningCommand::RecordAction)));
            tx.set_warning(w.id, actioned, None, w.false_since).await?;
        }
    }
    ledger::record_warning_steps(tx, &steps).await?;
    Ok(())
}

/// Resolves a warning with a reason (a risk officer).
pub async fn resolve(
    store: &Store,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<WarningRow, AppError> {
    if reason.trim().is_empty() {
        return Err(AppError::Field {
            field: "reason",
            reason: "required: why the warning is resolved".into(),
        });
    }
    step(store, actor, id, WarningCommand::Resolve, None, reason).await
}

/// One step a user takes, in one transaction: the role, the warning (locked), the command's
/// transition, the task's loan; then the warning's new state and the logged step.
async fn step(
    store: &Store,
    actor: &Actor,
    id: i64,
    command: WarningCommand,
    task: Option<TaskId>,
    note: &str,
) -> Result<WarningRow, AppError> {
    actor.require(Role::works_warnings, "act on warnings (risk officers do)")?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    if !tx.lock_warning(id).await? {
        return Err(AppError::NotFound {
            what: "warning",
            id: id.to_string(),
        });
    }
    let w = load(&mut tx, id).await?;
    let state = w
        .state
        .after(command)
        .map_err(|why| AppError::Conflict(format!("warning {id}: {why}")))?;
    if let Some(t) = task {
        let found = tx.task(t).await?.ok_or_else(|| AppError::Field {
            field: "task",
            reason: format!("no task {t}"),
        })?;
        if found.task.loan_id != w.warning.loan_id {
            return Err(AppError::Field {
                field: "task",
                reason: format!(
                    "task {t} is of loan {}, not of the warning's loan {}",
                    found.loan_external_id, w.loan_external_id
                ),
            });
        }
    }
    let cleared = (state == WarningState::Resolved).then_some(date);
    tx.set_warning(id, state, cleared, w.false_since).await?;
    ledger::record_warning_steps(
        &mut tx,
        &[WarningStep {
            warning_id: id,
            loan_id: w.warning.loan_id,
            action: WarningAction::of(command),
            user_id: Some(actor.id()),
            task_id: task,
            note: note.trim().to_string(),
            business_date: date,
            occurred_at: Some(now_stamp()),
        }],
    )
    .await?;
    let w = load(&mut tx, id).await?;
    tx.commit().await?;
    Ok(w)
}

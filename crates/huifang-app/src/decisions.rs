//! Decisions on loans taken by risk officers (DOMAIN.md capability 2 and 7): a deferral, a
//! restructure, an early settlement, an acceleration, a write-off or a classification floor, each
//! with its reason, within the limits of the loan's product; above the policy's four-eyes
//! amount, a decision waits for a second risk officer — not the one who asked — to approve it.
//! An applied decision is the loan operation it records (logged as a `decision` leaf), naming
//! who asked and who approved.

use huifang_core::Date;
use huifang_core::calendar::check_value_date;
use huifang_core::decision::check_approver;
use huifang_core::loan::{DatedOp, LoanOp, OpKind};
use huifang_core::policy::Policy;
use huifang_core::status::Lifecycle;
use huifang_store::{Decision, DecisionRecord, Store, Tx};

use crate::team::{Actor, Role, now_stamp};
use crate::{AppError, engine, loans};

/// A decision as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRequest {
    pub op: LoanOp,
    /// Effective date (default: the business date; earlier re-processes the loan).
    pub on: Option<Date>,
    pub reason: String,
}

fn require_decider(actor: &Actor) -> Result<(), AppError> {
    actor.require(Role::decides_loans, "decide on loans (risk officers do)")
}

/// Asks for a decision on a loan: refused (nothing written) for another role, without a reason,
/// beyond the product's limits, or on a loan no longer serviced; applied at once when the loan's
/// outstanding principal is at most the four-eyes amount, else recorded pending approval.
pub async fn decide(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    external_id: &str,
    request: &DecisionRequest,
) -> Result<DecisionRecord, AppError> {
    require_decider(actor)?;
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(AppError::Field {
            field: "reason",
            reason: "a decision needs its reason recorded".into(),
        });
    }
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let input = loans::find(&mut tx, external_id).await?;
    let on = check_request(&input, policy, request, business_date)?;
    let limits = policy.limits_for(&input.loan.product_code);
    let now_status = engine::evaluate(&input, policy, business_date)?.status;
    if now_status.lifecycle != Lifecycle::Active {
        return Err(AppError::Conflict(format!(
            "loan {external_id} is {}: it takes no more decisions",
            now_status.lifecycle.as_str()
        )));
    }
    let decision = Decision {
        loan_id: input.loan.id,
        op: DatedOp {
            on,
            op: request.op.clone(),
        },
        reason: reason.to_string(),
        requested_by: actor.id(),
        requested_at: now_stamp(),
        business_date,
    };
    let applied = if limits.needs_second_approver(now_status.outstanding_principal) {
        None
    } else {
        let (_, op_id) = loans::operate_in(
            &mut tx,
            policy,
            business_date,
            input,
            decision.op.clone(),
            reason,
            &actor.user.user.username,
        )
        .await?;
        Some(op_id)
    };
    let id = tx.insert_decision(&decision, applied).await?;
    if applied.is_some() {
        answer_warnings(&mut tx, actor, &decision, id, business_date).await?;
        let op = &decision.op;
        crate::notify::notify_decision(
            &mut tx,
            decision.loan_id,
            op.op.kind(),
            op.on,
            business_date,
        )
        .await?;
    }
    let record = load(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(record)
}

/// The checks of a decision that need only the loan and the policy (its value date, the
/// product's limits with the restructures already made): its effective date, or the field
/// refused. [`decide`] and [`preview`] both ask them.
fn check_request(
    input: &huifang_store::ReplayInput,
    policy: &Policy,
    request: &DecisionRequest,
    business_date: huifang_core::Date,
) -> Result<huifang_core::Date, AppError> {
    let on = request.on.unwrap_or(business_date);
    check_value_date(on, business_date).map_err(|reason| AppError::Field {
        field: "on",
        reason,
    })?;
    let restructures = input
        .ops
        .iter()
        .filter(|o| o.op.kind() == OpKind::Restructure)
        .count();
    policy
        .limits_for(&input.loan.product_code)
        .check(&request.op, u32::try_from(restructures).unwrap_or(u32::MAX))
        .map_err(|r| AppError::Field {
            field: r.field,
            reason: r.reason,
        })?;
    Ok(on)
}

/// What a decision would make of the loan's schedule, without recording anything: the
/// installments after replaying the loan with the operation (a restructure's new schedule, a
/// deferral's moved dates). Refused as [`decide`] would refuse it.
pub async fn preview(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    external_id: &str,
    request: &DecisionRequest,
) -> Result<Vec<huifang_core::loan::InstallmentState>, AppError> {
    require_decider(actor)?;
    let mut tx = store.begin().await?;
    let business_date = crate::require_business_date(&mut tx).await?;
    let mut input = loans::find(&mut tx, external_id).await?;
    tx.rollback().await?;
    let on = check_request(&input, policy, request, business_date)?;
    let before = engine::evaluate(&input, policy, business_date)?;
    input.ops.push(DatedOp {
        on,
        op: request.op.clone(),
    });
    let after = engine::evaluate(&input, policy, business_date)?;
    if after.state.skipped_ops.len() > before.state.skipped_ops.len() {
        return Err(AppError::Loan {
            loan: external_id.to_string(),
            error: huifang_core::loan::LoanError::NothingOutstanding {
                op: request.op.kind(),
                on,
            },
        });
    }
    Ok(after.state.installments)
}

/// Approves a pending decision (a risk officer other than the one who asked), which applies it.
pub async fn approve(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    id: i64,
) -> Result<DecisionRecord, AppError> {
    require_decider(actor)?;
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let pending = load(&mut tx, id, true).await?;
    if pending.applied {
        return Err(AppError::Conflict(format!(
            "decision {id} was applied already"
        )));
    }
    check_approver(pending.decision.requested_by, actor.id()).map_err(AppError::Forbidden)?;
    let input = loans::find(&mut tx, &pending.loan_external_id).await?;
    let decided_by = format!(
        "{} (approved by {})",
        pending.requester, actor.user.user.username
    );
    let (_, op_id) = loans::operate_in(
        &mut tx,
        policy,
        business_date,
        input,
        pending.decision.op.clone(),
        &pending.decision.reason,
        &decided_by,
    )
    .await?;
    tx.approve_decision(id, actor.id(), &now_stamp(), op_id)
        .await?;
    answer_warnings(&mut tx, actor, &pending.decision, id, business_date).await?;
    let op = &pending.decision.op;
    crate::notify::notify_decision(
        &mut tx,
        pending.decision.loan_id,
        op.op.kind(),
        op.on,
        business_date,
    )
    .await?;
    let record = load(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(record)
}

/// A loan's decisions newest first, or every decision pending approval (no loan), for the roles
/// that read loans.
pub async fn list(
    store: &Store,
    actor: &Actor,
    external_id: Option<&str>,
) -> Result<Vec<DecisionRecord>, AppError> {
    actor.require(Role::reads_loans, "read decisions")?;
    let mut tx = store.begin().await?;
    let loan = match external_id {
        Some(ext) => Some(loans::find(&mut tx, ext).await?.loan.id),
        None => None,
    };
    let rows = tx.decisions(loan).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// An applied decision is the action taken on its loan's open warnings.
async fn answer_warnings(
    tx: &mut Tx,
    actor: &Actor,
    decision: &Decision,
    id: i64,
    date: Date,
) -> Result<(), AppError> {
    let note = format!(
        "decision {id} ({}): {}",
        decision.op.op.kind(),
        decision.reason
    );
    crate::warnings::answered_by(tx, actor, decision.loan_id, &note, date).await
}

async fn load(tx: &mut Tx, id: i64, lock: bool) -> Result<DecisionRecord, AppError> {
    tx.decision(id, lock)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "decision",
            id: id.to_string(),
        })
}

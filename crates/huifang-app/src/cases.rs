//! Repossession (收车) and legal (诉讼) cases (DOMAIN.md capability 7, the level-3 playbook's
//! answers). A risk officer opens a case on a loan still serviced, with a reason; risk officers
//! and collectors record its steps in the order the core allows (`huifang_core::case`). A sale
//! (or what an enforcement recovers) is posted as a payment on the loan in the step's own
//! transaction, and the loan is re-evaluated from the payment's date. Every step, the opening
//! included, is logged in the tamper-evident record (`case_step`).

use huifang_core::Date;
use huifang_core::Money;
use huifang_core::calendar::check_value_date;
use huifang_core::case::{CaseKind, CaseStage, check_step};
use huifang_core::loan::Payment;
use huifang_core::policy::Policy;
use huifang_core::status::Lifecycle;
use huifang_store::{Case, CaseRecord, CaseStep, CaseStepRecord, NewPayment, Store, Tx};

use crate::engine::{self, Cause};
use crate::team::{Actor, Role, now_stamp};
use crate::{AppError, ledger, loans};

/// A step as asked for: the stage to move to, what it collected, a note, its value date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepRequest {
    pub stage: String,
    pub amount: Option<Money>,
    pub note: String,
    /// The value date of the payment a collecting step posts (default: the business date).
    pub on: Option<Date>,
}

/// A case with its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseWithSteps {
    pub case: CaseRecord,
    pub steps: Vec<CaseStepRecord>,
}

/// The channel of a payment a case posts.
fn channel(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Repossession => "repossession_sale",
        CaseKind::Legal => "legal_enforcement",
    }
}

fn field(field: &'static str, reason: impl Into<String>) -> AppError {
    AppError::Field {
        field,
        reason: reason.into(),
    }
}

/// Opens a case of `kind` on a loan (risk officers, with a reason): refused, changing nothing,
/// for another role, without a reason, or on a loan no longer serviced.
pub async fn open(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    external_id: &str,
    kind: &str,
    reason: &str,
) -> Result<CaseWithSteps, AppError> {
    actor.require(Role::decides_loans, "open a case (risk officers do)")?;
    let kind: CaseKind = kind.parse().map_err(|e: String| field("kind", e))?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(field("reason", "a case needs its reason recorded"));
    }
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let input = loans::find(&mut tx, external_id).await?;
    let status = engine::evaluate(&input, policy, business_date)?.status;
    if status.lifecycle == Lifecycle::PaidOff {
        return Err(AppError::Conflict(format!(
            "loan {external_id} is paid_off: it takes no case"
        )));
    }
    let loan_id = input.loan.id;
    let id = tx
        .insert_case(&Case {
            loan_id,
            kind,
            reason: reason.to_string(),
            opened_by: actor.id(),
            opened_on: business_date,
        })
        .await?;
    record_step(
        &mut tx,
        CaseStep {
            case_id: id,
            loan_id,
            kind,
            stage: kind.first(),
            user_id: actor.id(),
            note: reason.to_string(),
            amount: None,
            payment: None,
            business_date,
            occurred_at: now_stamp(),
        },
    )
    .await?;
    crate::warnings::answered_by(
        &mut tx,
        actor,
        loan_id,
        &format!("case {id} ({kind}) opened: {reason}"),
        business_date,
    )
    .await?;
    let out = load(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(out)
}

/// Records a step of a case (risk officers and collectors): the next stage of its kind, or
/// closed. A step that collects posts its amount as a payment (value date `on`, default the
/// business date) and re-evaluates the loan. Refused, changing nothing, for another role, for a
/// stage out of order, or for an amount where none belongs (or missing where one does).
pub async fn step(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    id: i64,
    request: &StepRequest,
) -> Result<CaseWithSteps, AppError> {
    actor.require(Role::works_cases, "record a case's steps")?;
    let to: CaseStage = request
        .stage
        .trim()
        .parse()
        .map_err(|e: String| field("stage", e))?;
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let current = load(&mut tx, id, true).await?.case;
    let kind = current.case.kind;
    check_step(kind, current.stage, to, request.amount).map_err(|r| field(r.field, r.reason))?;
    let payment = match request.amount {
        Some(amount) => {
            let on = request.on.unwrap_or(business_date);
            check_value_date(on, business_date).map_err(|reason| field("on", reason))?;
            let external_id = format!("case-{id}-{to}");
            post(
                &mut tx,
                policy,
                business_date,
                &current,
                NewPayment {
                    external_id: external_id.clone(),
                    loan_id: current.case.loan_id,
                    paid_on: on,
                    amount,
                    channel: channel(kind).to_string(),
                    received_on: business_date,
                },
            )
            .await?;
            Some(external_id)
        }
        None => None,
    };
    record_step(
        &mut tx,
        CaseStep {
            case_id: id,
            loan_id: current.case.loan_id,
            kind,
            stage: to,
            user_id: actor.id(),
            note: request.note.trim().to_string(),
            amount: request.amount,
            payment,
            business_date,
            occurred_at: now_stamp(),
        },
    )
    .await?;
    let closed_on = (to == CaseStage::Closed).then_some(business_date);
    tx.set_case_stage(id, to, closed_on).await?;
    let out = load(&mut tx, id, false).await?;
    tx.commit().await?;
    Ok(out)
}

/// Posts a case's payment and re-evaluates its loan from the payment's date.
async fn post(
    tx: &mut Tx,
    policy: &Policy,
    business_date: Date,
    case: &CaseRecord,
    payment: NewPayment,
) -> Result<(), AppError> {
    let mut input = loans::find(tx, &case.loan_external_id).await?;
    if payment.paid_on < input.loan.loan.terms.disbursed_on {
        return Err(field(
            "on",
            format!(
                "{} is before the loan's disbursement on {}",
                payment.paid_on, input.loan.loan.terms.disbursed_on
            ),
        ));
    }
    tx.insert_payments(std::slice::from_ref(&payment)).await?;
    // the loan as read, with the new payment (a replay orders payments by date itself)
    input.payments.push(Payment {
        paid_on: payment.paid_on,
        amount: payment.amount,
    });
    let batch = engine::Batch::of(vec![input]);
    engine::reevaluate(tx, policy, business_date, batch, Cause::Payment, false).await?;
    Ok(())
}

async fn record_step(tx: &mut Tx, step: CaseStep) -> Result<i64, AppError> {
    let id = tx
        .insert_case_step_salted(&step, &ledger::new_salt())
        .await?;
    ledger::log_records(tx, &ledger::CASE_STEP, &[id]).await?;
    Ok(id)
}

/// A loan's cases newest first, or every open case (no loan), for the roles that read loans and
/// those who work cases.
pub async fn list(
    store: &Store,
    actor: &Actor,
    external_id: Option<&str>,
) -> Result<Vec<CaseRecord>, AppError> {
    actor.require(reads_cases, "read cases")?;
    let mut tx = store.begin().await?;
    let loan = match external_id {
        Some(ext) => Some(loans::find(&mut tx, ext).await?.loan.id),
        None => None,
    };
    let rows = tx.cases(loan).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// Who reads cases: the roles that read loans, and those who work cases.
fn reads_cases(role: Role) -> bool {
    role.reads_loans() || role.works_cases()
}

/// One case with its steps, for the roles that read loans and those who work cases.
pub async fn show(store: &Store, actor: &Actor, id: i64) -> Result<CaseWithSteps, AppError> {
    actor.require(reads_cases, "read cases")?;
    let mut tx = store.begin().await?;
    let out = load(&mut tx, id, false).await?;
    tx.rollback().await?;
    Ok(out)
}

async fn load(tx: &mut Tx, id: i64, lock: bool) -> Result<CaseWithSteps, AppError> {
    let case = tx.case(id, lock).await?.ok_or_else(|| AppError::NotFound {
        what: "case",
        id: id.to_string(),
    })?;
    let steps = tx.case_steps(id).await?;
    Ok(CaseWithSteps { case, steps })
}

//! One loan: its full view (schedule, payments and their allocation, status history, events,
//! warnings) and the loan operations a risk officer records.

use huifang_core::Date;
use huifang_core::calendar::check_value_date;
use huifang_core::loan::{DatedOp, InstallmentState, LoanOp};
use huifang_core::policy::Policy;
use huifang_core::status::LoanStatus;
use huifang_store::{
    EventRecord, HistoryRecord, LoanRecord, NewOp, OpRecord, PaymentRecord, Store, WarningRecord,
};

use crate::engine::{self, Cause};
use crate::{AppError, require_business_date};

/// Everything known about one loan on the business date.
#[derive(Debug, Clone)]
pub struct LoanView {
    pub loan: LoanRecord,
    pub business_date: Date,
    pub status: LoanStatus,
    pub installments: Vec<InstallmentState>,
    pub payments: Vec<PaymentRecord>,
    /// (payment index into `payments`, installment, penalty, interest, principal)
    pub allocations: Vec<huifang_core::loan::Allocation>,
    pub unapplied: huifang_core::Money,
    pub settlement_quote: huifang_core::Money,
    pub ops: Vec<OpRecord>,
    pub history: Vec<HistoryRecord>,
    pub events: Vec<EventRecord>,
    pub warnings: Vec<WarningRecord>,
}

/// The id of the loan with this external id.
pub(crate) async fn loan_id(
    tx: &mut huifang_store::Tx,
    external_id: &str,
) -> Result<huifang_core::LoanId, AppError> {
    let ids = tx
        .loan_ids_by_external_id(&[external_id.to_string()])
        .await?;
    ids.get(external_id)
        .copied()
        .ok_or_else(|| AppError::NotFound {
            what: "loan",
            id: external_id.to_string(),
        })
}

pub(crate) async fn find(
    tx: &mut huifang_store::Tx,
    external_id: &str,
) -> Result<huifang_store::ReplayInput, AppError> {
    let id = loan_id(tx, external_id).await?;
    tx.replay_inputs(&[id])
        .await?
        .pop()
        .ok_or_else(|| AppError::NotFound {
            what: "loan",
            id: external_id.to_string(),
        })
}

/// Shows one loan.
pub async fn view(store: &Store, policy: &Policy, external_id: &str) -> Result<LoanView, AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let input = find(&mut tx, external_id).await?;
    let done = engine::evaluate(&input, policy, business_date)?;
    let id = input.loan.id;
    let view = LoanView {
        business_date,
        status: done.status,
        installments: done.state.installments.clone(),
        payments: tx.loan_payments(id).await?,
        allocations: done.state.allocations.clone(),
        unapplied: done.state.unapplied,
        settlement_quote: done.state.settlement_quote(business_date),
        ops: tx.loan_ops(id).await?,
        history: tx.loan_history(id).await?,
        events: tx.loan_events(id).await?,
        warnings: tx.loan_warnings(id).await?,
        loan: input.loan,
    };
    tx.rollback().await?;
    Ok(view)
}

/// Records a loan operation effective on `on` (default: the business date; an earlier date
/// re-processes the loan from it, like a backdated payment) and re-evaluates the loan.
pub async fn operate(
    store: &Store,
    policy: &Policy,
    external_id: &str,
    op: LoanOp,
    on: Option<Date>,
    reason: &str,
    decided_by: &str,
) -> Result<LoanStatus, AppError> {
    if reason.trim().is_empty() {
        return Err(AppError::Field {
            field: "reason",
            reason: "a loan operation needs its reason recorded".into(),
        });
    }
    if decided_by.trim().is_empty() {
        return Err(AppError::Field {
            field: "decided_by",
            reason: "a loan operation needs the name of who decided it".into(),
        });
    }
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let on = on.unwrap_or(business_date);
    check_value_date(on, business_date).map_err(|reason| AppError::Field {
        field: "on",
        reason,
    })?;
    let input = find(&mut tx, external_id).await?;
    let op = DatedOp { on, op };
    let (status, _) = operate_in(
        &mut tx,
        policy,
        business_date,
        input,
        op,
        reason,
        decided_by,
    )
    .await?;
    tx.commit().await?;
    Ok(status)
}

/// Records a loan operation (logged as a decision) in the caller's transaction and
/// re-evaluates the loan; an operation the loan cannot take (nothing outstanding) is refused
/// before anything is written. Returns the loan's status and the operation's id.
pub(crate) async fn operate_in(
    tx: &mut huifang_store::Tx,
    policy: &Policy,
    business_date: Date,
    mut input: huifang_store::ReplayInput,
    dated: DatedOp,
    reason: &str,
    decided_by: &str,
) -> Result<(LoanStatus, i64), AppError> {
    let external_id = input.loan.loan.external_id.clone();
    let on = dated.on;
    let skipped_before = engine::evaluate(&input, policy, business_date)?
        .state
        .skipped_ops
        .len();
    let kind = dated.op.kind();
    input.ops.push(dated.clone());
    // replaying first refuses an operation the loan cannot take, before anything is written
    let done = engine::evaluate(&input, policy, business_date)?;
    if done.state.skipped_ops.len() > skipped_before {
        return Err(AppError::Loan {
            loan: external_id.to_string(),
            error: huifang_core::loan::LoanError::NothingOutstanding { op: kind, on },
        });
    }
    let op_id = crate::ledger::insert_op(
        tx,
        &NewOp {
            loan_id: input.loan.id,
            op: dated,
            reason: reason.trim().to_string(),
            decided_by: decided_by.trim().to_string(),
            recorded_on: business_date,
        },
    )
    .await?;
    let batch = engine::Batch::of(vec![input]);
    engine::reevaluate(tx, policy, business_date, batch, Cause::Operation, false).await?;
    Ok((done.status, op_id))
}

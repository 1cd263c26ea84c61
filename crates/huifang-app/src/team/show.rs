//! Showing a task (its script and the borrower's context) and a loan, the borrower masked
//! unless the role may reveal them (every reveal logged); registering a document (every role but
//! the auditor).

use huifang_core::Date;
use huifang_core::TaskId;
use huifang_core::policy::Policy;
use huifang_core::team::Access;
use huifang_store::{NewReveal, QueueRecord, Store, TaskRecord, Tx};
use serde_json::Value;

use super::{Actor, authorize_task, forbidden, load_task, now_utc, stamp};
use crate::loans::{self, LoanView};
use crate::views::BorrowerView;
use crate::{AppError, ledger, require_business_date};

/// The borrower as a user may see them (ID number and mobile masked unless revealed): the view
/// itself, which the use cases build.
pub type BorrowerContext = BorrowerView;

/// A task with its script and the borrower's context.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub task: TaskRecord,
    pub queue: Option<QueueRecord>,
    /// The script's questions (JSON), if the task kind has one in the language.
    pub script: Option<Value>,
    pub borrower: BorrowerContext,
    pub loan: LoanView,
    pub interactions: Vec<huifang_store::InteractionRecord>,
    /// The loan's promises to pay, oldest first.
    pub promises: Vec<huifang_store::PromiseState>,
}

/// The borrower of a loan as `actor` may see them; a reveal (full ID number and mobile) is
/// refused to roles that may not, and logged when granted.
async fn borrower_context(
    tx: &mut Tx,
    actor: &Actor,
    loan: &huifang_store::LoanRecord,
    task_id: Option<TaskId>,
    reveal: Option<&str>,
    date: Date,
) -> Result<BorrowerContext, AppError> {
    if reveal.is_some() && !actor.role.may_reveal() {
        return Err(forbidden(format!(
            "{} may not reveal a borrower's ID number or mobile",
            actor.name()
        )));
    }
    let not_found = || AppError::NotFound {
        what: "borrower",
        id: loan.loan.borrower_external_id.clone(),
    };
    let card = tx
        .borrower_card(&loan.loan.borrower_external_id)
        .await?
        .ok_or_else(not_found)?;
    let (id_number, mobile, bank_account) = if let Some(reason) = reveal {
        let b = tx
            .borrowers_by_external_id(std::slice::from_ref(&loan.loan.borrower_external_id))
            .await?
            .remove(&loan.loan.borrower_external_id)
            .ok_or_else(not_found)?;
        let account = tx.bank_account(&card.external_id).await?;
        tx.insert_reveal(&NewReveal {
            user_id: actor.id(),
            borrower_id: b.id,
            loan_id: Some(loan.id),
            task_id,
            fields: if account.is_some() {
                "id_number,mobile,bank_account".into()
            } else {
                "id_number,mobile".into()
            },
            reason: reason.trim().to_string(),
            revealed_at: stamp(now_utc()),
            business_date: date,
        })
        .await?;
        (b.borrower.id_number, b.borrower.mobile, account)
    } else {
        (
            card.id_number_masked,
            card.mobile_masked,
            card.bank_account_masked,
        )
    };
    Ok(BorrowerContext {
        external_id: card.external_id,
        name: card.name,
        id_number,
        mobile,
        bank_account,
        city: card.city,
        revealed: reveal.is_some(),
    })
}

/// Shows a task: its script (in `lang`, falling back to zh) and the borrower's context, masked
/// unless `reveal` gives the reason to reveal it (logged with the reason).
pub async fn show_task(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    task_id: TaskId,
    lang: &str,
    reveal: Option<&str>,
) -> Result<TaskView, AppError> {
    let mut tx = store.begin().await?;
    if reveal.is_some() {
        tx.lock_for_write().await?;
    }
    let date = require_business_date(&mut tx).await?;
    let task = load_task(&mut tx, task_id).await?;
    let queue = authorize_task(&mut tx, actor, &task, Access::View).await?;
    let script = match tx.script(&task.task.kind, lang).await? {
        Some(s) => Some(s),
        None => tx.script(&task.task.kind, "zh").await?,
    };
    let script = script.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s)));
    let loan = tx
        .loans_by_external_id(std::slice::from_ref(&task.loan_external_id))
        .await?
        .remove(&task.loan_external_id)
        .ok_or_else(|| AppError::NotFound {
            what: "loan",
            id: task.loan_external_id.clone(),
        })?;
    let borrower = borrower_context(&mut tx, actor, &loan, Some(task.id), reveal, date).await?;
    let interactions = tx.loan_interactions(task.task.loan_id).await?;
    let promises = tx.promise_states(Some(task.task.loan_id)).await?;
    tx.commit().await?;
    let loan = loans::view(store, policy, &task.loan_external_id).await?;
    Ok(TaskView {
        task,
        queue,
        script,
        borrower,
        loan,
        interactions,
        promises,
    })
}

/// A loan's full view with its borrower, for the roles that read loans; revealed as
/// [`show_task`] reveals.
pub async fn show_loan(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    external_id: &str,
    reveal: Option<&str>,
) -> Result<(LoanView, BorrowerContext), AppError> {
    if !actor.role.reads_loans() {
        return Err(forbidden(format!(
            "{} may not read loans (risk officers, team leads, auditors and admins may)",
            actor.name()
        )));
    }
    let view = loans::view(store, policy, external_id).await?;
    let mut tx = store.begin().await?;
    if reveal.is_some() {
        tx.lock_for_write().await?;
    }
    let date = require_business_date(&mut tx).await?;
    // a task's view needs no such check: seeing the task is seeing its borrower
    super::authorize_borrower(
        &mut tx,
        actor,
        view.loan.loan.borrower_id,
        &view.loan.loan.borrower_external_id,
    )
    .await?;
    let borrower = borrower_context(&mut tx, actor, &view.loan, None, reveal, date).await?;
    tx.commit().await?;
    Ok((view, borrower))
}

// ----- documents -----------------------------------------------------------------------------

/// Refuses an actor who may not register documents (the auditor): checked before anything of
/// the request is read, so that a refused caller learns nothing about loans or borrowers.
pub fn authorize_document_registration(actor: &Actor) -> Result<(), AppError> {
    if actor.role.registers_documents() {
        Ok(())
    } else {
        Err(forbidden(format!(
            "{} may not register documents (the auditor reads and changes nothing)",
            actor.name()
        )))
    }
}

/// Registers a document uploaded by `actor` (every role but the auditor) by its SHA-256
/// (lowercase hex) and size, anchored in the log: [`ledger::register_document`] behind the
/// role check.
pub async fn register_document(
    store: &Store,
    actor: &Actor,
    owner: &ledger::Owner,
    kind: &str,
    file_name: &str,
    sha256: &str,
    size_bytes: u64,
) -> Result<ledger::Registration, AppError> {
    authorize_document_registration(actor)?;
    ledger::register_document(store, owner, kind, file_name, sha256, size_bytes).await
}

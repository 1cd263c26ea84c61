//! The book's records read a page at a time, for integrations and reports: borrowers (masked),
//! payments, interactions. Each page is in id order after a cursor (the previous page's
//! `next_after`); each list asks the team's rules who may read it.

use huifang_core::LoanId;
use huifang_core::team::{BorrowerScope, Role};
use huifang_store::{BorrowerCard, InteractionRecord, PaymentRecord, Store};

use crate::team::{Actor, authorize_borrower, forbidden};
use crate::views::{ProductList, ProductView};
use crate::{AppError, loans};

/// The most records one page holds.
pub const MAX_PAGE: usize = 500;

fn next_after<T>(page: &[T], limit: usize, id: impl Fn(&T) -> i64) -> Option<i64> {
    (page.len() == limit).then(|| page.last().map(id)).flatten()
}

/// A page of borrowers, ID numbers and mobiles masked: for the roles that read every borrower's
/// personal data (risk officers, auditors).
pub async fn borrowers(
    store: &Store,
    actor: &Actor,
    after: Option<i64>,
    limit: usize,
) -> Result<(Vec<BorrowerCard>, Option<i64>), AppError> {
    if actor.role.borrower_scope() != BorrowerScope::Every {
        return Err(forbidden(format!(
            "{} may not list borrowers (risk officers and auditors may; a team's members read their team's borrowers through their tasks)",
            actor.name()
        )));
    }
    let limit = limit.clamp(1, MAX_PAGE);
    let mut tx = store.begin().await?;
    let page = tx
        .borrower_cards(after.unwrap_or(0), i64::try_from(limit).unwrap_or(i64::MAX))
        .await?;
    tx.rollback().await?;
    let next = next_after(&page, limit, |b| b.id.get());
    Ok((page, next))
}

/// The loan `external_id` names, if any (404 when there is none).
async fn loan_of(
    tx: &mut huifang_store::Tx,
    external_id: Option<&str>,
) -> Result<Option<(LoanId, huifang_core::BorrowerId, String)>, AppError> {
    let Some(external_id) = external_id else {
        return Ok(None);
    };
    let input = loans::find(tx, external_id).await?;
    Ok(Some((
        input.loan.id,
        input.loan.loan.borrower_id,
        input.loan.loan.borrower_external_id.clone(),
    )))
}

/// A page of payments (of one loan, or all): for the roles that read loans.
pub async fn payments(
    store: &Store,
    actor: &Actor,
    loan: Option<&str>,
    after: Option<i64>,
    limit: usize,
) -> Result<(Vec<PaymentRecord>, Option<i64>), AppError> {
    actor.require(Role::reads_loans, "list payments")?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut tx = store.begin().await?;
    let loan = loan_of(&mut tx, loan).await?.map(|(id, _, _)| id);
    let page = tx
        .payments_page(
            loan,
            after.unwrap_or(0),
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
        .await?;
    tx.rollback().await?;
    let next = next_after(&page, limit, |p| p.id);
    Ok((page, next))
}

/// A page of interactions (of one loan, or all), each with its loan. Their notes are the
/// borrowers' personal data: risk officers and auditors read every loan's; a team lead reads
/// one loan's at a time (`loan`), of their team's borrowers.
pub async fn interactions(
    store: &Store,
    actor: &Actor,
    loan: Option<&str>,
    after: Option<i64>,
    limit: usize,
) -> Result<(Vec<(String, InteractionRecord)>, Option<i64>), AppError> {
    actor.require(Role::reads_loans, "list interactions")?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut tx = store.begin().await?;
    let loan = loan_of(&mut tx, loan).await?;
    match (&loan, actor.role.borrower_scope()) {
        (_, BorrowerScope::Every) => {}
        (Some((_, borrower, external)), _) => {
            authorize_borrower(&mut tx, actor, *borrower, external).await?
        }
        (None, _) => {
            return Err(forbidden(format!(
                "{} may list the interactions of one loan of their team's borrowers at a time (loan=…)",
                actor.name()
            )));
        }
    }
    let page = tx
        .interactions_page(
            loan.map(|(id, _, _)| id),
            after.unwrap_or(0),
            i64::try_from(limit).unwrap_or(i64::MAX),
        )
        .await?;
    tx.rollback().await?;
    let next = next_after(&page, limit, |(_, i)| i.id);
    Ok((page, next))
}

/// What a loan's 360° view shows besides its contract, status and contacts: its follow-up
/// tasks (every state), its borrower's promises to pay, and the documents of the loan and its
/// borrower with their proofs in the tamper-evident log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanWork {
    pub tasks: Vec<huifang_store::TaskRecord>,
    pub promises: Vec<huifang_store::PromiseState>,
    pub documents: Vec<crate::ledger::DocumentMatch>,
}

/// [`LoanWork`] of one loan, for the roles that read loans (a team lead: of their team's
/// borrowers).
pub async fn loan_work(
    store: &Store,
    actor: &Actor,
    external_id: &str,
) -> Result<LoanWork, AppError> {
    actor.require(
        Role::reads_loans,
        "read a loan's tasks, promises and documents",
    )?;
    let mut tx = store.begin().await?;
    let Some((loan_id, borrower, external)) = loan_of(&mut tx, Some(external_id)).await? else {
        return Err(AppError::NotFound {
            what: "loan",
            id: external_id.to_string(),
        });
    };
    if actor.role.borrower_scope() != BorrowerScope::Every {
        authorize_borrower(&mut tx, actor, borrower, &external).await?;
    }
    let tasks = tx.followup_tasks(Some(loan_id), None, false).await?;
    let promises = tx.promise_states(Some(loan_id)).await?;
    let checkpoint = tx.ledger_latest_checkpoint().await?;
    let documents = tx.documents_of_loan(loan_id, borrower).await?;
    let documents = crate::ledger::with_proofs(&mut tx, documents, checkpoint.as_ref()).await?;
    tx.rollback().await?;
    Ok(LoanWork {
        tasks,
        promises,
        documents,
    })
}

/// Every product with its loans' count and whether it has a follow-up plan of its own: for the
/// roles that read loans.
pub async fn products(store: &Store, actor: &Actor) -> Result<ProductList, AppError> {
    if !actor.role.reads_loans() {
        return Err(forbidden(format!(
            "{} may not list products (the roles that read loans may)",
            actor.name()
        )));
    }
    let mut tx = store.begin().await?;
    let products = tx.products().await?;
    let counts = tx.product_loan_counts().await?;
    let plans: Vec<String> = tx
        .followup_plans()
        .await?
        .into_iter()
        .map(|(code, _)| code)
        .collect();
    tx.rollback().await?;
    Ok(ProductList {
        products: products
            .iter()
            .map(|p| ProductView {
                code: p.product.code.clone(),
                name: p.product.name.clone(),
                grace_days: p.product.rules.grace_days,
                penalty_rate_markup: p.product.rules.penalty_rate_markup.to_string(),
                loans: counts.get(&p.id).copied().unwrap_or(0),
                own_plan: plans.contains(&p.product.code),
            })
            .collect(),
    })
}

//! The portfolio's status on the business date, one row per loan, read page by page.

use huifang_core::loan::{DatedOp, LoanState, Payment};
use huifang_core::policy::Policy;
use huifang_core::report::{TierMigration, TierOn};
use huifang_core::status::{Lifecycle, dpd_on};
use huifang_core::{Date, LoanId};
use huifang_store::{ReplayInput, StatusRow, Store, SummaryRow};

use crate::{AppError, require_business_date};

/// Rows per page when streaming the portfolio.
const PAGE: usize = 10_000;

/// One loan's status line, in the columns of `huifang status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub business_date: Date,
    pub dpd: u32,
    pub row: StatusRow,
}

/// The CSV header of `huifang status --format csv`.
pub const STATUS_COLUMNS: [&str; 8] = [
    "loan_external_id",
    "business_date",
    "dpd",
    "bucket",
    "classification",
    "overdue_installments",
    "outstanding_principal",
    "warning_level",
];

impl StatusLine {
    /// The values in [`STATUS_COLUMNS`] order.
    pub fn values(&self) -> [String; 8] {
        [
            self.row.external_id.clone(),
            self.business_date.to_string(),
            self.dpd.to_string(),
            self.row.bucket.to_string(),
            self.row.classification.to_string(),
            self.row.overdue_installments.to_string(),
            self.row.outstanding_principal.to_string(),
            self.row.warning_level.to_string(),
        ]
    }
}

/// Streams every loan's status line, in loan order, to `emit`. Returns the business date.
pub async fn each_status(
    store: &Store,
    mut emit: impl FnMut(StatusLine) -> Result<(), AppError>,
) -> Result<Date, AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let mut after = None;
    loop {
        let page = tx.status_page(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for row in page {
            let dpd = dpd_on(row.oldest_unpaid_due, business_date);
            emit(StatusLine {
                business_date,
                dpd,
                row,
            })?;
        }
    }
    tx.rollback().await?;
    Ok(business_date)
}

/// The most loans one page of [`page`] holds.
pub const MAX_PAGE: usize = 500;

/// One page of the loans' status lines that pass `filter`, in loan order after the loan
/// `after` (a previous page's cursor), for the roles that read loans; with the cursor of the
/// next page when there may be one.
pub async fn page(
    store: &Store,
    actor: &crate::team::Actor,
    filter: &huifang_store::StatusFilter,
    after: Option<huifang_core::LoanId>,
    limit: usize,
) -> Result<(Vec<StatusLine>, Option<huifang_core::LoanId>), AppError> {
    actor.require(crate::team::Role::reads_loans, "list loans")?;
    let limit = limit.clamp(1, MAX_PAGE);
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let rows = tx.status_page_where(after, limit, filter).await?;
    tx.rollback().await?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let lines = rows
        .into_iter()
        .map(|row| StatusLine {
            business_date,
            dpd: dpd_on(row.oldest_unpaid_due, business_date),
            row,
        })
        .collect();
    Ok((lines, next))
}

/// The portfolio summary (loans and balances by lifecycle, bucket, classification and warning level).
pub async fn summary(store: &Store) -> Result<(Date, Vec<SummaryRow>), AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let rows = tx.portfolio_summary().await?;
    tx.rollback().await?;
    Ok((business_date, rows))
}

/// The book's totals at the end of each of the last `days` closed days that have them, oldest
/// first, then today's as they stand (the last point, dated the business date).
pub async fn daily_summaries(
    store: &Store,
    days: i64,
) -> Result<Vec<(Date, Vec<SummaryRow>)>, AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let kept = tx
        .daily_totals(
            huifang_core::calendar::add_days(business_date, -days),
            huifang_core::calendar::add_days(business_date, -1),
        )
        .await?;
    let today = tx.portfolio_summary().await?;
    tx.rollback().await?;
    let mut out: Vec<(Date, Vec<SummaryRow>)> = Vec::new();
    for (date, row) in kept {
        match out.last_mut() {
            Some((d, rows)) if *d == date => rows.push(row),
            _ => out.push((date, vec![row])),
        }
    }
    out.push((business_date, today));
    Ok(out)
}

/// [`tiers`] for a user: the roles that read loans.
pub async fn tiers_as(
    store: &Store,
    actor: &crate::team::Actor,
    policy: &Policy,
    first: Date,
    second: Option<Date>,
) -> Result<(Date, Date, TierMigration), AppError> {
    actor.require(
        crate::team::Role::reads_loans,
        "read the portfolio's reports",
    )?;
    tiers(store, policy, first, second).await
}

/// Loans replayed per read of the tier report.
const TIER_PAGE: usize = 500;

/// The five-tier classification report between `first` and `second` (default: the business
/// date; both on or before it, `first` before `second`): every loan replayed as of each date with what is
/// known now (payments and operations value-dated on or before it, a backdated one included),
/// its tier and outstanding principal counted; paid-off and not yet disbursed loans are off the
/// book. A read of the whole book, page by page.
pub async fn tiers(
    store: &Store,
    policy: &Policy,
    first: Date,
    second: Option<Date>,
) -> Result<(Date, Date, TierMigration), AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let second = second.unwrap_or(business_date);
    if first >= second {
        return Err(AppError::Refused {
            field: "from",
            reason: format!("must be before the second date {second}, not {first}"),
        });
    }
    if second > business_date {
        return Err(AppError::Refused {
            field: "to",
            reason: format!("must be on or before the business date {business_date}, not {second}"),
        });
    }
    let mut report = TierMigration::default();
    let mut after = None;
    loop {
        let page = tx.status_page(after, TIER_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<LoanId> = page.iter().map(|r| r.id).collect();
        for input in tx.replay_inputs(&ids).await? {
            report.add(
                tier_on(&input, policy, first)?,
                tier_on(&input, policy, second)?,
            );
        }
    }
    tx.rollback().await?;
    Ok((first, second, report))
}

/// A loan's status on `date`, replayed with the payments, operations and follow-up signals
/// value-dated on or before it, as known now; `None` before its disbursement.
pub(crate) fn status_as_of(
    input: &ReplayInput,
    policy: &Policy,
    date: Date,
) -> Result<Option<huifang_core::status::LoanStatus>, AppError> {
    let loan = &input.loan.loan;
    if loan.terms.disbursed_on > date {
        return Ok(None);
    }
    let ops: Vec<DatedOp> = input.ops.iter().filter(|o| o.on <= date).cloned().collect();
    let payments: Vec<Payment> = input
        .payments
        .iter()
        .filter(|p| p.paid_on <= date)
        .copied()
        .collect();
    let signals: Vec<huifang_core::warning::ObservedSignal> = input
        .signals
        .iter()
        .filter(|s| s.observed_on <= date)
        .cloned()
        .collect();
    let state = LoanState::replay(loan.terms, &input.loan.rules, &ops, &payments).map_err(|e| {
        AppError::Loan {
            loan: loan.external_id.clone(),
            error: e,
        }
    })?;
    Ok(Some(huifang_core::status::evaluate_with(
        &state, policy, &signals, date,
    )))
}

/// A loan's tier and outstanding principal on `date` ([`status_as_of`]); `None` when it was not
/// on the book.
fn tier_on(input: &ReplayInput, policy: &Policy, date: Date) -> Result<TierOn, AppError> {
    let Some(status) = status_as_of(input, policy, date)? else {
        return Ok(None);
    };
    Ok(match status.lifecycle {
        Lifecycle::PaidOff => None,
        _ => Some((status.classification, status.outstanding_principal)),
    })
}

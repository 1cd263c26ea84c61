//! The portfolio's status on the business date, one row per loan, read page by page.

use huifang_core::Date;
use huifang_core::status::dpd_on;
use huifang_store::{StatusRow, Store, SummaryRow};

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

/// The portfolio summary (loans and balances by lifecycle, bucket, classification and warning level).
pub async fn summary(store: &Store) -> Result<(Date, Vec<SummaryRow>), AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let rows = tx.portfolio_summary().await?;
    tx.rollback().await?;
    Ok((business_date, rows))
}

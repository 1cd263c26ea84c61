//! Imports: products, borrowers, loans and payments. Each import is one transaction: every row is
//! checked (fields were parsed at the edge; here references, dates and idempotency), and a single
//! bad row rejects the whole file with every problem listed (`import_file` lists those of the
//! rows that did not parse with them). Rows already imported with the same content change nothing;
//! the same external id with different content is an error.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use huifang_core::LoanId;
use huifang_core::calendar::check_value_date;
use huifang_core::loan::{LoanState, LoanTerms};
use huifang_core::policy::{Policy, ProductRules};
use huifang_core::status;
use huifang_store::{
    Borrower, BorrowerRecord, HistoryRecord, Loan, LoanRecord, NewPayment, PaymentRecord, Product,
    Store, Tx, WarningRecord,
};

use crate::engine::{self, Cause, evaluation_of};
use crate::files::{self, ImportFormat, Source};
use crate::rows::{BorrowerContacts, BorrowerRow, LoanRow, PaymentRow, ProductRow, RowError};
use crate::{AppError, require_business_date};

/// Rows written by one import above which the database's planner statistics are refreshed.
const BULK_ROWS: usize = 10_000;

/// How many loans an import handles per batch: the loans a payments import re-evaluates, and
/// the new loans of a loans import whose follow-up is planned (`followup::after_import`).
pub(crate) const LOANS_PER_IMPORT_BATCH: usize = 2_000;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Rows written.
    pub inserted: usize,
    /// Rows already present with the same content.
    pub unchanged: usize,
    /// Loans re-processed (payments only).
    pub loans_reprocessed: usize,
    /// The keys (external ids; products: codes) of the rows already present.
    pub unchanged_keys: Vec<String>,
}

/// A file's refusal: every error, in file order (the reader's and the import's of the same line
/// stay in that order).
fn refusal(mut errors: Vec<RowError>) -> AppError {
    errors.sort_by_key(|e| e.line);
    AppError::Rows(errors)
}

/// Imports a file of `format` (CSV or `.xlsx`): every bad row is listed in one refusal, those
/// whose fields do not parse and those the import refuses (unknown references, dates after the
/// business date, content differing from what was imported), and a file with any bad row changes
/// nothing.
pub async fn import_file(
    store: &Store,
    policy: &Policy,
    format: ImportFormat,
    path: &Path,
) -> Result<ImportReport, AppError> {
    import_from(store, policy, format, Source::File(path)).await
}

/// Imports a table of `format` from `source` (a file, uploaded bytes, or an intake's JSON
/// objects) as [`import_file`] does: all or nothing, every bad row listed in one refusal
/// (for JSON objects, `AppError::Items`, numbered from 0 as the request's items are).
pub async fn import_from(
    store: &Store,
    policy: &Policy,
    format: ImportFormat,
    source: Source<'_>,
) -> Result<ImportReport, AppError> {
    let done = match format {
        ImportFormat::Products => {
            let read = files::parse_products(source)?;
            products(store, &read.rows, read.errors).await
        }
        ImportFormat::Borrowers => {
            let read = files::parse_borrowers(source)?;
            borrowers(store, &read.rows, read.errors).await
        }
        ImportFormat::Loans => {
            let read = files::parse_loans(source)?;
            loans(store, policy, &read.rows, read.errors).await
        }
        ImportFormat::Payments => {
            let read = files::parse_payments(source)?;
            payments(store, policy, &read.rows, read.errors).await
        }
        ImportFormat::TrackerEvents => {
            let read = files::parse_tracker_events(source)?;
            crate::vehicles::import_events(store, policy, &read.rows, read.errors).await
        }
        ImportFormat::Places => {
            let read = files::parse_places(source)?;
            crate::vehicles::import_places(store, &read.rows, read.errors).await
        }
    };
    match (done, source) {
        (Err(AppError::Rows(errors)), Source::Records(_)) => Err(AppError::Items(errors)),
        (done, _) => done,
    }
}

fn row_error(line: usize, column: &str, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        column: column.to_string(),
        reason: reason.into(),
    }
}

fn differs(line: usize, what: &str, key: &str, fields: &[(&str, bool)]) -> Option<RowError> {
    let names: Vec<&str> = fields
        .iter()
        .filter(|(_, same)| !same)
        .map(|(n, _)| *n)
        .collect();
    let first = *names.first()?;
    Some(row_error(
        line,
        first,
        format!(
            "{what} {key} was already imported with different {}",
            names.join(", ")
        ),
    ))
}

/// Imports products.
pub async fn import_products(
    store: &Store,
    rows: &[(usize, ProductRow)],
) -> Result<ImportReport, AppError> {
    products(store, rows, Vec::new()).await
}

/// `import_products`, refusing the file also for the rows its reader refused (`refused`).
async fn products(
    store: &Store,
    rows: &[(usize, ProductRow)],
    refused: Vec<RowError>,
) -> Result<ImportReport, AppError> {
    let mut tx = store.begin().await?;
    require_business_date(&mut tx).await?;
    let existing: HashMap<String, _> = tx
        .products()
        .await?
        .into_iter()
        .map(|p| (p.product.code.clone(), p))
        .collect();
    let mut errors = refused;
    let mut new = Vec::new();
    let mut report = ImportReport::default();
    for (line, row) in rows {
        let rules = ProductRules {
            grace_days: row.grace_days,
            penalty_rate_markup: row.penalty_rate_markup,
        };
        match existing.get(&row.code) {
            Some(p) => match differs(
                *line,
                "product",
                &row.code,
                &[
                    ("name", p.product.name == row.name),
                    ("grace_days", p.product.rules.grace_days == rules.grace_days),
                    (
                        "penalty_rate_markup",
                        p.product.rules.penalty_rate_markup == rules.penalty_rate_markup,
                    ),
                ],
            ) {
                Some(e) => errors.push(e),
                None => {
                    report.unchanged += 1;
                    report.unchanged_keys.push(row.code.clone());
                }
            },
            None => new.push(Product {
                code: row.code.clone(),
                name: row.name.clone(),
                rules,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(refusal(errors));
    }
    tx.insert_products(&new).await?;
    tx.commit().await?;
    report.inserted = new.len();
    if report.inserted >= BULK_ROWS {
        store.refresh_statistics().await?;
    }
    Ok(report)
}

fn borrower_differs(line: usize, b: &BorrowerRecord, row: &BorrowerRow) -> Option<RowError> {
    differs(
        line,
        "borrower",
        &row.external_id,
        &[
            ("name", b.borrower.name == row.name),
            ("id_number", b.borrower.id_number == row.id_number.as_str()),
            ("mobile", b.borrower.mobile == row.mobile.as_str()),
            ("employer", b.borrower.employer == row.employer),
            (
                "monthly_income",
                b.borrower.monthly_income == row.monthly_income,
            ),
            ("city", b.borrower.city == row.city),
        ],
    )
}

/// Imports borrowers.
pub async fn import_borrowers(
    store: &Store,
    rows: &[(usize, BorrowerRow)],
) -> Result<ImportReport, AppError> {
    borrowers(store, rows, Vec::new()).await
}

/// `import_borrowers`, refusing the file also for the rows its reader refused (`refused`).
async fn borrowers(
    store: &Store,
    rows: &[(usize, BorrowerRow)],
    refused: Vec<RowError>,
) -> Result<ImportReport, AppError> {
    let mut tx = store.begin().await?;
    require_business_date(&mut tx).await?;
    let ids: Vec<String> = rows.iter().map(|(_, r)| r.external_id.clone()).collect();
    let existing = tx.borrowers_by_external_id(&ids).await?;
    let mut errors = refused;
    let mut new = Vec::new();
    let mut report = ImportReport::default();
    for (line, row) in rows {
        match existing.get(&row.external_id) {
            Some(b) => match borrower_differs(*line, b, row) {
                Some(e) => errors.push(e),
                None => {
                    report.unchanged += 1;
                    report.unchanged_keys.push(row.external_id.clone());
                }
            },
            None => new.push(Borrower {
                external_id: row.external_id.clone(),
                name: row.name.clone(),
                id_number: row.id_number.as_str().to_string(),
                mobile: row.mobile.as_str().to_string(),
                employer: row.employer.clone(),
                monthly_income: row.monthly_income,
                city: row.city.clone(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(refusal(errors));
    }
    tx.insert_borrowers(&new).await?;
    write_contacts(&mut tx, rows).await?;
    tx.commit().await?;
    report.inserted = new.len();
    if report.inserted >= BULK_ROWS {
        store.refresh_statistics().await?;
    }
    Ok(report)
}

/// The contacts of the optional columns, set on their borrowers (new or already there): the
/// email and WeChat addresses, the emergency contact added or updated by its mobile. A file
/// imported again sets the same.
async fn write_contacts(tx: &mut Tx, rows: &[(usize, BorrowerRow)]) -> Result<(), AppError> {
    let with: Vec<&BorrowerRow> = rows
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.contacts != BorrowerContacts::default())
        .collect();
    if with.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = with.iter().map(|r| r.external_id.clone()).collect();
    let found = tx.borrower_ids_by_external_id(&ids).await?;
    for r in with {
        let Some(&id) = found.get(&r.external_id) else {
            continue;
        };
        let c = &r.contacts;
        if let Some(account) = &c.bank_account {
            tx.set_bank_account(id, &r.external_id, account).await?;
        }
        for (channel, address) in [("email", &c.email), ("wechat", &c.wechat_id)] {
            if let Some(a) = address {
                tx.set_contact_address(id, channel, a).await?;
            }
        }
        if let Some(e) = &c.emergency {
            tx.upsert_emergency_contact(&huifang_store::EmergencyContact {
                borrower_id: id,
                name: e.name.clone(),
                relation: e.relation.clone(),
                mobile: e.mobile.as_str().to_string(),
                consent_on: e.consent_on,
            })
            .await?;
        }
    }
    Ok(())
}

fn loan_differs(line: usize, l: &LoanRecord, row: &LoanRow) -> Option<RowError> {
    differs(
        line,
        "loan",
        &row.external_id,
        &[
            (
                "borrower_external_id",
                l.loan.borrower_external_id == row.borrower_external_id,
            ),
            ("product_code", l.product_code == row.product_code),
            ("principal", l.loan.terms.principal == row.principal),
            ("annual_rate", l.loan.terms.annual_rate == row.annual_rate),
            ("term_months", l.loan.terms.term_months == row.term_months),
            ("repayment_method", l.loan.terms.method == row.method),
            (
                "disbursed_on",
                l.loan.terms.disbursed_on == row.disbursed_on,
            ),
            ("vin", l.loan.vin == row.vin.as_str()),
            ("vehicle_model", l.loan.vehicle_model == row.vehicle_model),
            ("vehicle_price", l.loan.vehicle_price == row.vehicle_price),
            ("dealer", l.loan.dealer == row.dealer),
        ],
    )
}

/// Imports loans. A loan disbursed after the business date is refused; one disbursed earlier is
/// evaluated on the business date at once (a loan imported long after disbursement is overdue
/// straight away if no payment has been imported yet).
pub async fn import_loans(
    store: &Store,
    policy: &Policy,
    rows: &[(usize, LoanRow)],
) -> Result<ImportReport, AppError> {
    loans(store, policy, rows, Vec::new()).await
}

/// `import_loans`, refusing the file also for the rows its reader refused (`refused`).
async fn loans(
    store: &Store,
    policy: &Policy,
    rows: &[(usize, LoanRow)],
    refused: Vec<RowError>,
) -> Result<ImportReport, AppError> {
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let products: HashMap<String, _> = tx
        .products()
        .await?
        .into_iter()
        .map(|p| (p.product.code.clone(), p))
        .collect();
    let ids: Vec<String> = rows.iter().map(|(_, r)| r.external_id.clone()).collect();
    let existing = tx.loans_by_external_id(&ids).await?;
    let mut borrower_ids: Vec<String> = rows
        .iter()
        .map(|(_, r)| r.borrower_external_id.clone())
        .collect();
    borrower_ids.sort_unstable();
    borrower_ids.dedup();
    let borrowers = tx.borrower_ids_by_external_id(&borrower_ids).await?;
    let mut errors = refused;
    let mut new = Vec::new();
    let mut hits = Vec::new();
    let mut welcomes = Vec::new();
    let mut report = ImportReport::default();
    for (line, row) in rows {
        if let Some(l) = existing.get(&row.external_id) {
            match loan_differs(*line, l, row) {
                Some(e) => errors.push(e),
                None => {
                    report.unchanged += 1;
                    report.unchanged_keys.push(row.external_id.clone());
                }
            }
            continue;
        }
        let mut row_ok = true;
        let borrower = borrowers.get(&row.borrower_external_id);
        if borrower.is_none() {
            errors.push(row_error(
                *line,
                "borrower_external_id",
                format!(
                    "no borrower {:?}: import borrowers first",
                    row.borrower_external_id
                ),
            ));
            row_ok = false;
        }
        let product = products.get(&row.product_code);
        if product.is_none() {
            errors.push(row_error(
                *line,
                "product_code",
                format!("no product {:?}", row.product_code),
            ));
            row_ok = false;
        }
        if let Err(reason) = check_value_date(row.disbursed_on, business_date) {
            errors.push(row_error(*line, "disbursed_on", reason));
            row_ok = false;
        }
        let (Some(borrower), Some(product), true) = (borrower, product, row_ok) else {
            continue;
        };
        let terms = LoanTerms {
            principal: row.principal,
            annual_rate: row.annual_rate,
            term_months: row.term_months,
            method: row.method,
            disbursed_on: row.disbursed_on,
        };
        let state = match LoanState::replay(terms, &product.product.rules, &[], &[]) {
            Ok(s) => s,
            Err(e) => {
                errors.push(row_error(*line, "principal", e.to_string()));
                continue;
            }
        };
        let st = status::evaluate(&state, policy, business_date);
        hits.push(st.warning.clone());
        if huifang_core::notify::welcomes(row.disbursed_on, business_date)
            && let Some(first) = state.installments.first()
        {
            welcomes.push((
                row.external_id.clone(),
                huifang_core::template::Figures {
                    amount: Some(first.principal + first.interest),
                    date: Some(first.due_date),
                    days: None,
                    decision: None,
                },
            ));
        }
        new.push(Loan {
            external_id: row.external_id.clone(),
            borrower_id: *borrower,
            borrower_external_id: row.borrower_external_id.clone(),
            product_id: product.id,
            terms,
            vin: row.vin.as_str().to_string(),
            vehicle_model: row.vehicle_model.clone(),
            vehicle_price: row.vehicle_price,
            dealer: row.dealer.clone(),
            evaluation: evaluation_of(&state, &st, policy, &[]),
        });
    }
    if !errors.is_empty() {
        return Err(refusal(errors));
    }
    tx.insert_loans(&new).await?;
    let new_ids: Vec<String> = new.iter().map(|l| l.external_id.clone()).collect();
    let ids = tx.loan_ids_by_external_id(&new_ids).await?;
    let history: Vec<HistoryRecord> = new
        .iter()
        .filter_map(|l| {
            ids.get(&l.external_id).map(|id| HistoryRecord {
                loan_id: *id,
                business_date,
                summary: l.evaluation.summary,
                cause: "import".to_string(),
            })
        })
        .collect();
    tx.insert_history(&history).await?;
    // a loan imported already overdue has its warning recorded like any other
    let warnings: Vec<WarningRecord> = new
        .iter()
        .zip(&hits)
        .filter_map(|(l, hit)| {
            Some(engine::warning_record(
                *ids.get(&l.external_id)?,
                business_date,
                hit.as_ref()?,
            ))
        })
        .collect();
    crate::ledger::open_warnings(&mut tx, &warnings).await?;
    // a loan disbursed within the week gets its welcome message, written with it
    let notices: Vec<crate::notify::Notice> = welcomes
        .into_iter()
        .filter_map(|(loan, figures)| {
            Some(crate::notify::Notice {
                loan_id: *ids.get(&loan)?,
                event: huifang_core::template::MessageEvent::Welcome,
                figures,
            })
        })
        .collect();
    if !notices.is_empty() {
        crate::notify::Outgoing::load(&mut tx, business_date)
            .await?
            .write(&mut tx, &notices)
            .await?;
    }
    crate::followup::after_import(
        &mut tx,
        policy,
        business_date,
        &new,
        &ids,
        LOANS_PER_IMPORT_BATCH,
    )
    .await?;
    tx.commit().await?;
    report.inserted = new.len();
    if report.inserted >= BULK_ROWS {
        store.tidy_after_load().await?;
    }
    Ok(report)
}

fn payment_differs(line: usize, p: &PaymentRecord, row: &PaymentRow) -> Option<RowError> {
    differs(
        line,
        "payment",
        &row.external_id,
        &[
            (
                "loan_external_id",
                p.loan_external_id == row.loan_external_id,
            ),
            ("paid_on", p.paid_on == row.paid_on),
            ("amount", p.amount == row.amount),
            ("channel", p.channel == row.channel),
        ],
    )
}

/// Imports payments. A payment dated after the business date is refused; one dated on or before
/// it is posted and its loan re-processed from the start (so from the payment's value date on),
/// so that the loan's status is right at once.
pub async fn import_payments(
    store: &Store,
    policy: &Policy,
    rows: &[(usize, PaymentRow)],
) -> Result<ImportReport, AppError> {
    payments(store, policy, rows, Vec::new()).await
}

/// `import_payments`, refusing the file also for the rows its reader refused (`refused`).
async fn payments(
    store: &Store,
    policy: &Policy,
    rows: &[(usize, PaymentRow)],
    refused: Vec<RowError>,
) -> Result<ImportReport, AppError> {
    let mut tx = store.begin().await?;
    let business_date = crate::lock_business_date(&mut tx).await?;
    let ids: Vec<String> = rows.iter().map(|(_, r)| r.external_id.clone()).collect();
    let existing = tx.payments_by_external_id(&ids).await?;
    let mut loan_keys: Vec<String> = rows
        .iter()
        .map(|(_, r)| r.loan_external_id.clone())
        .collect();
    loan_keys.sort_unstable();
    loan_keys.dedup();
    let loans = tx.loans_by_external_id(&loan_keys).await?;
    let mut errors = refused;
    let mut new = Vec::new();
    let mut report = ImportReport::default();
    for (line, row) in rows {
        if let Some(p) = existing.get(&row.external_id) {
            match payment_differs(*line, p, row) {
                Some(e) => errors.push(e),
                None => {
                    report.unchanged += 1;
                    report.unchanged_keys.push(row.external_id.clone());
                }
            }
            continue;
        }
        let Some(loan) = loans.get(&row.loan_external_id) else {
            errors.push(row_error(
                *line,
                "loan_external_id",
                format!("no loan {:?}: import loans first", row.loan_external_id),
            ));
            continue;
        };
        if let Err(reason) = check_value_date(row.paid_on, business_date) {
            errors.push(row_error(*line, "paid_on", reason));
            continue;
        }
        if row.paid_on < loan.loan.terms.disbursed_on {
            errors.push(row_error(
                *line,
                "paid_on",
                format!(
                    "{} is before the loan's disbursement on {}",
                    row.paid_on, loan.loan.terms.disbursed_on
                ),
            ));
            continue;
        }
        new.push(NewPayment {
            external_id: row.external_id.clone(),
            loan_id: loan.id,
            paid_on: row.paid_on,
            amount: row.amount,
            channel: row.channel.clone(),
            received_on: business_date,
        });
    }
    if !errors.is_empty() {
        return Err(refusal(errors));
    }
    tx.insert_payments(&new).await?;
    let touched: BTreeMap<LoanId, ()> = new.iter().map(|p| (p.loan_id, ())).collect();
    let loan_ids: Vec<LoanId> = touched.into_keys().collect();
    for chunk in loan_ids.chunks(LOANS_PER_IMPORT_BATCH) {
        let batch = engine::Batch::of(tx.replay_inputs(chunk).await?);
        engine::reevaluate(&mut tx, policy, business_date, batch, Cause::Payment, false).await?;
    }
    tx.commit().await?;
    report.inserted = new.len();
    if report.inserted >= BULK_ROWS {
        store.refresh_statistics().await?;
    }
    report.loans_reprocessed = loan_ids.len();
    Ok(report)
}

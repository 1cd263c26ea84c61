//! Huifang's use cases. Each one parses its input into valid core types, runs the core's rules
//! and writes the result through the store in one transaction.

pub mod analytics;
pub mod assistant;
pub mod book;
pub mod cases;
pub mod close;
pub mod cluster;
pub mod contact;
pub mod decisions;
pub mod demo;
pub mod engine;
pub mod files;
pub mod followup;
pub mod import;
pub mod intake;
pub mod keys;
pub mod ledger;
pub mod loans;
pub mod notify;
pub mod policy;
pub mod ports;
pub mod rows;
pub mod rules;
pub mod score;
pub mod status;
pub mod team;
pub mod templates;
pub mod text;
pub mod vehicles;
pub mod views;
pub mod warnings;
pub mod webhooks;

/// The synthetic portfolio of the demo, the benchmarks and the tests ([`demo::synth`]).
pub use demo::synth;

use huifang_core::Date;
use huifang_core::loan::LoanError;
use huifang_store::{Store, StoreError, Tx};

use crate::rows::RowError;

/// A use case failed; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the database has no business date: run `huifang init` first")]
    NotInitialised,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{} row error(s):\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Rows(Vec<RowError>),
    /// The refused items of an intake request (`line` is the item's index, from 0).
    #[error("{} item error(s): {}", .0.len(), .0.iter().map(|e| format!("items[{}]{}{}: {}", e.line, if e.column.is_empty() { "" } else { "." }, e.column, e.reason)).collect::<Vec<_>>().join("; "))]
    Items(Vec<RowError>),
    #[error(transparent)]
    File(#[from] files::FileError),
    #[error("loan {loan}: {error}")]
    Loan { loan: String, error: LoanError },
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    /// A well-formed value the request may not ask for (a date after the business date, a
    /// range the wrong way round): answered 422 over HTTP, where 400 means malformed.
    #[error("{field}: {reason}")]
    Refused { field: &'static str, reason: String },
    #[error("no {what} {id:?}")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many attempts (failed sign-ins of one username): refused until later.
    #[error("locked: {0}")]
    Locked(String),
    /// A contact the contact rules refuse: the record of the refused contact, with the rule's
    /// name and the reason (kept by [`contact::keep_refusal`]).
    #[error("refused by the contact rule {}: {}", record.rule, record.reason)]
    Blocked {
        record: Box<huifang_store::BlockedContact>,
    },
}

/// A count or index as a `u64`: lossless wherever `usize` is at most 64 bits (every target we
/// build for), saturating otherwise.
pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The business date, or [`AppError::NotInitialised`].
pub async fn require_business_date(tx: &mut Tx) -> Result<Date, AppError> {
    tx.business_date().await?.ok_or(AppError::NotInitialised)
}

/// The book's business date, read in a transaction of its own.
pub async fn business_date(store: &Store) -> Result<Date, AppError> {
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    tx.rollback().await?;
    Ok(date)
}

/// The locks a use case that records contacts on tasks it locks first starts with (the
/// assistant's conversations, the providers' callbacks): the business date's, shared, then the
/// ledger's, before any task's, in the order every recording of a contact takes them
/// (`team::record_in`); in the other order, two of them could each hold what the other waits for.
pub async fn lock_for_contacts(tx: &mut Tx) -> Result<(), AppError> {
    tx.lock_for_write().await?;
    tx.lock_ledger().await?;
    Ok(())
}

/// The business date, locked until `tx` ends: for every use case that evaluates loans (the close,
/// imports of loans and payments, loan operations), so that two of them never write the same loan
/// as of different business dates, and the close never moves the date under an import.
pub async fn lock_business_date(tx: &mut Tx) -> Result<Date, AppError> {
    tx.lock_business_date().await?;
    require_business_date(tx).await
}

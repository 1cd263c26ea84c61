//! Intake: core banking pushes borrowers, loans and payments (one or a batch of JSON objects) or
//! a whole import file over the API. The same validation, errors and transaction as the file
//! import (`import::import_from`): all or nothing per request, idempotent by external id. A
//! request may also carry an `Idempotency-Key`: the same key with the same body is answered as
//! the first time, without doing anything again; the same key with another body is refused; a
//! request whose key is still being handled is told so (`claim_key`, `finish_key`).

use chrono::Utc;
use huifang_core::policy::Policy;
use huifang_core::team::Role;
use huifang_store::{KeyClaim, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::files::{FileKind, ImportFormat, Source};
use crate::import::{self, ImportReport};
use crate::team::Actor;

/// The most records one request may carry.
pub const MAX_ITEMS: usize = 1_000;

/// How long a key's first request may stay unanswered before the key counts as abandoned (the
/// server stopped while handling it) and another request may take it over.
const ABANDONED_AFTER_MINUTES: i64 = 10;

/// What an intake did, with the external ids of its records in request order (row order for a
/// file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub report: ImportReport,
    pub external_ids: Vec<String>,
}

/// Refuses callers who may not feed the book.
fn require_feeder(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        Role::feeds_book,
        "push borrowers, loans, payments or import files",
    )
}

/// The external id (or product code) each record names, in order.
fn keys_of(format: ImportFormat, records: &[Value]) -> Vec<String> {
    let key = format.key_column();
    records
        .iter()
        .map(|r| match r.get(key) {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        })
        .collect()
}

/// Imports `records` (1 to [`MAX_ITEMS`] JSON objects of `format`'s columns) as one file would
/// be: all or nothing, every bad item named by its index and field.
pub async fn records(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    format: ImportFormat,
    records: &[Value],
) -> Result<Intake, AppError> {
    require_feeder(actor)?;
    if records.is_empty() || records.len() > MAX_ITEMS {
        return Err(AppError::Field {
            field: "items",
            reason: format!(
                "a request carries 1 to {MAX_ITEMS} records, not {}",
                records.len()
            ),
        });
    }
    let report = import::import_from(store, policy, format, Source::Records(records)).await?;
    Ok(Intake {
        report,
        external_ids: keys_of(format, records),
    })
}

/// Imports an uploaded file (CSV, UTF-8 or GBK, or `.xlsx`) of `format` as `huifang import`
/// does.
pub async fn file(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    format: ImportFormat,
    bytes: &[u8],
) -> Result<Intake, AppError> {
    require_feeder(actor)?;
    if bytes.is_empty() {
        return Err(AppError::Field {
            field: "body",
            reason: "the file is empty".into(),
        });
    }
    let kind = FileKind::detect(None, bytes);
    let report = import::import_from(store, policy, format, Source::Bytes(bytes, kind)).await?;
    Ok(Intake {
        report,
        external_ids: Vec::new(),
    })
}

/// The lowercase-hex SHA-256 of a request body.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// What a request with an `Idempotency-Key` is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyed {
    /// Handle it, then [`finish_key`] (or [`release_key`] when it fails on the server's side).
    Handle,
    /// Answer this, as the first request with the key was answered.
    Replay { status: u16, body: String },
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Claims `key` for `actor`'s request to `route` with `body` (committed at once, so that a
/// concurrent request with the key finds it). The same key with another route or body is
/// [`AppError::Refused`]; one still being handled is [`AppError::Conflict`].
pub async fn claim_key(
    store: &Store,
    actor: &Actor,
    key: &str,
    route: &str,
    body: &[u8],
) -> Result<Keyed, AppError> {
    let key = crate::team::checked_idempotency_key("Idempotency-Key", key)?;
    let now = Utc::now();
    let stale = stamp(now - chrono::Duration::minutes(ABANDONED_AFTER_MINUTES));
    let mut tx = store.begin().await?;
    let claim = tx
        .claim_idempotency_key(
            actor.id(),
            key,
            route,
            &body_hash(body),
            &stamp(now),
            &stale,
        )
        .await?;
    tx.commit().await?;
    match claim {
        KeyClaim::New => Ok(Keyed::Handle),
        KeyClaim::Done { status, response } => Ok(Keyed::Replay {
            status,
            body: response,
        }),
        KeyClaim::InProgress => Err(AppError::Conflict(format!(
            "a request with Idempotency-Key {key:?} is still being handled: retry shortly"
        ))),
        KeyClaim::Mismatch => Err(AppError::Refused {
            field: "Idempotency-Key",
            reason: format!("{key:?} was used for another request (another route or body)"),
        }),
    }
}

/// Stores the answer of a claimed key.
pub async fn finish_key(
    store: &Store,
    actor: &Actor,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    tx.finish_idempotency_key(actor.id(), key, status, body)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a claimed key back unanswered: its request failed on the server's side and may be
/// tried again with the same key.
pub async fn release_key(store: &Store, actor: &Actor, key: &str) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    tx.release_idempotency_key(actor.id(), key).await?;
    tx.commit().await?;
    Ok(())
}

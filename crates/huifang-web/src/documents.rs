//! Document authenticity: register an uploaded document (authenticated), and is this file a
//! registered document? (public).
//!
//! `POST /api/v1/documents?loan=L|borrower=B&kind=K&file_name=F` (body: the file) registers the
//! file's SHA-256 and size for a loan or a borrower, anchored in the log, for every role but the
//! auditor (`huifang_app::team::register_document`); it answers 201 with what
//! `huifang document register` prints. Its inclusion proof comes from the check once a
//! checkpoint covers its leaf.
//!
//! The check's answer holds what a partner needs to check it without trusting Huifang's
//! database: the committed fields (opaque owner id, kind, SHA-256, size, date — no name, no file
//! name), the salt, the leaf, and its inclusion proof against the latest signed checkpoint.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use huifang_app::ledger::{self, Owner};
use huifang_app::team;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Authed;
use crate::ledger::hexes;
use crate::tasks::{Params, params};
use crate::{ApiError, AppState};

/// Largest file accepted for a registration or a check.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/documents",
            post(register).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES)),
        )
        .route(
            "/api/v1/documents/check",
            post(check).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES)),
        )
}

async fn register(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // the role first: a refused caller learns nothing of the loans or borrowers it names
    team::authorize_document_registration(&actor)?;
    let m = params(p)?;
    let given = |name: &str| {
        m.get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let owner = match (given("loan"), given("borrower")) {
        (Some(loan), None) => Owner::Loan(loan),
        (None, Some(borrower)) => Owner::Borrower(borrower),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give loan=<external id> or borrower=<external id>, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "loan=<external id> or borrower=<external id> is required",
            ));
        }
    };
    let kind = given("kind").ok_or_else(|| {
        ApiError::bad_request(format!(
            "kind={} is required",
            ledger::DOCUMENT_KINDS.join("|")
        ))
    })?;
    let file_name = given("file_name").unwrap_or_default();
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body must be the document's bytes; it is empty",
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    let size_bytes = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let reg = team::register_document(
        &state.store,
        &actor,
        &owner,
        &kind,
        &file_name,
        &sha256,
        size_bytes,
    )
    .await?;
    let (owner_kind, owner_external_id) = match &owner {
        Owner::Loan(e) => ("loan", e),
        Owner::Borrower(e) => ("borrower", e),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "document_id": reg.document_id,
            "owner_kind": owner_kind,
            "owner_external_id": owner_external_id,
            "kind": kind,
            "file_name": file_name,
            "size_bytes": size_bytes,
            "sha256": reg.sha256,
            "registered_on": reg.registered_on.to_string(),
            "leaf_index": reg.leaf_index,
        })),
    ))
}

async fn check(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let sha256 = hex::encode(Sha256::digest(&body));
    let result = ledger::check_document(&state.store, &sha256).await?;
    let documents: Vec<Value> = result
        .matches
        .iter()
        .map(|m| {
            json!({
                "id": m.document.id,
                "kind": m.document.kind,
                "size_bytes": m.document.size_bytes,
                "registered_on": m.document.registered_on.to_string(),
                "record": m.record,
                "salt": m.document.salt,
                "leaf_index": m.leaf_index,
                "leaf": m.leaf.as_ref().map(hex::encode),
                "leaf_matches": m.leaf_matches,
                "inclusion": m.proof.as_ref().map(|p| json!({
                    "index": p.index,
                    "size": p.size,
                    "root": hex::encode(p.root),
                    "hashes": hexes(&p.hashes),
                })),
            })
        })
        .collect();
    Ok(Json(json!({
        "sha256": sha256,
        "size_bytes": body.len(),
        "registered": result.registered(),
        "documents": documents,
        "checkpoint": result.checkpoint.map(|c| c.note),
    })))
}

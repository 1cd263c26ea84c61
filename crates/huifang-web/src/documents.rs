//! Document authenticity: is this file a registered document?
//!
//! The answer holds what a partner needs to check it without trusting Huifang's database: the
//! committed fields (opaque owner id, kind, SHA-256, size, date — no name, no file name), the
//! salt, the leaf, and its inclusion proof against the latest signed checkpoint.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use huifang_app::ledger;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ledger::hexes;
use crate::{ApiError, AppState};

/// Largest file accepted for a check.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/documents/check",
        post(check).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES)),
    )
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

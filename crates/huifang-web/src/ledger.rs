//! The public face of the tamper-evident record: the latest signed checkpoint, the entries and
//! the proofs. Nothing here carries personal data: a leaf holds a kind, an opaque record id, a
//! date and a salted commitment.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use huifang_app::ledger;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/ledger/checkpoint", get(checkpoint))
        .route("/api/v1/ledger/entries", get(entries))
        .route("/api/v1/ledger/proof/inclusion", get(inclusion))
        .route("/api/v1/ledger/proof/consistency", get(consistency))
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// A required non-negative integer query parameter.
pub(crate) fn param(params: &Params, name: &str) -> Result<u64, ApiError> {
    let Ok(Query(map)) = params else {
        return Err(ApiError::bad_request("the query string is malformed"));
    };
    let text = map
        .get(name)
        .ok_or_else(|| ApiError::bad_request(format!("missing query parameter {name:?}")))?;
    let canonical = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    text.parse::<u64>()
        .ok()
        .filter(|_| canonical)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "query parameter {name:?} must be a non-negative integer, got {text:?}"
            ))
        })
}

pub(crate) fn hexes(hashes: &[huifang_ledger::Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cp = ledger::latest_checkpoint(&state.store)
        .await?
        .ok_or_else(|| ApiError::NotFound("the log has no checkpoint yet".into()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.note,
    )
        .into_response())
}

async fn entries(State(state): State<AppState>, params: Params) -> Result<Json<Value>, ApiError> {
    let start = param(&params, "start")?;
    let end = param(&params, "end")?;
    let (size, leaves) = ledger::entries(&state.store, start, end).await?;
    let entries: Vec<Value> = leaves
        .iter()
        .map(|l| {
            json!({
                "index": l.index,
                "kind": l.kind,
                "record_id": l.record_id,
                "leaf": hex::encode(&l.bytes),
                "leaf_hash": hex::encode(l.hash),
            })
        })
        .collect();
    Ok(Json(json!({
        "start": start,
        "end": end,
        "tree_size": size,
        "entries": entries,
    })))
}

async fn inclusion(State(state): State<AppState>, params: Params) -> Result<Json<Value>, ApiError> {
    let index = param(&params, "index")?;
    let size = param(&params, "size")?;
    let p = ledger::inclusion_proof(&state.store, index, size).await?;
    Ok(Json(json!({
        "index": p.index,
        "size": p.size,
        "leaf_hash": hex::encode(p.leaf_hash),
        "root": hex::encode(p.root),
        "hashes": hexes(&p.hashes),
    })))
}

async fn consistency(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let first = param(&params, "first")?;
    let second = param(&params, "second")?;
    let p = ledger::consistency_proof(&state.store, first, second).await?;
    Ok(Json(json!({
        "first": p.first,
        "second": p.second,
        "first_root": hex::encode(p.first_root),
        "second_root": hex::encode(p.second_root),
        "hashes": hexes(&p.hashes),
    })))
}

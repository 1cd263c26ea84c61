//! The public face of the tamper-evident record: the latest signed checkpoint, the entries and
//! the proofs. Nothing here carries personal data: a leaf holds a kind, an opaque record id, a
//! date and a salted commitment.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use huifang_app::ledger;
use huifang_app::views::{
    ConsistencyProofView, EntriesView, EntryView, ErrorView, InclusionProofView,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(entries))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
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
    // at most i64::MAX: the int64 of the document (and of every tree size the log can hold)
    text.parse::<u64>()
        .ok()
        .filter(|n| canonical && i64::try_from(*n).is_ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "query parameter {name:?} must be a non-negative integer, got {text:?}"
            ))
        })
}

/// The latest signed checkpoint: a C2SP tlog-checkpoint note (origin, size, root hash, Ed25519
/// signature lines).
#[utoipa::path(
    get,
    path = "/api/v1/ledger/checkpoint",
    tag = "ledger",
    responses(
        (status = 200, description = "The signed checkpoint note", content_type = "text/plain", body = String),
        (status = 404, description = "The log has no checkpoint yet", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
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

/// Leaves `start` (inclusive) to `end` (exclusive) with the kind and id of the record each
/// logs. As RFC 6962's get-entries, fewer may be answered than asked: at most 1,000, none beyond
/// the tree; the answer's `end` is one past the last leaf answered (ask again from there).
#[utoipa::path(
    get,
    path = "/api/v1/ledger/entries",
    tag = "ledger",
    params(
        ("start" = u64, Query, description = "The first leaf's index"),
        ("end" = u64, Query, description = "One past the last leaf's index wanted (answered up to start + 1,000 and the tree size)")
    ),
    responses(
        (status = 200, description = "The leaves (none when the range holds none)", body = EntriesView),
        (status = 400, description = "A missing or malformed parameter", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn entries(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<EntriesView>, ApiError> {
    let start = param(&params, "start")?;
    let end = param(&params, "end")?;
    let (tree_size, leaves) = ledger::entries(&state.store, start, end).await?;
    Ok(Json(EntriesView {
        start,
        end: start.saturating_add(u64::try_from(leaves.len()).unwrap_or(u64::MAX)),
        tree_size,
        entries: leaves.iter().map(EntryView::from).collect(),
    }))
}

/// The RFC 6962 inclusion proof of leaf `index` in the tree of `size` leaves.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/proof/inclusion",
    tag = "ledger",
    params(
        ("index" = u64, Query, description = "The leaf's index"),
        ("size" = u64, Query, description = "The tree size (a checkpoint's)")
    ),
    responses(
        (status = 200, description = "The proof", body = InclusionProofView),
        (status = 400, description = "A missing or malformed parameter", body = ErrorView),
        (status = 404, description = "No such proof: the index is outside the tree, or the tree is larger than the log", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn inclusion(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<InclusionProofView>, ApiError> {
    let index = param(&params, "index")?;
    let size = param(&params, "size")?;
    let p = ledger::inclusion_proof(&state.store, index, size).await?;
    Ok(Json(InclusionProofView::from(&p)))
}

/// The RFC 6962 consistency proof between the trees of `first` and `second` leaves.
#[utoipa::path(
    get,
    path = "/api/v1/ledger/proof/consistency",
    tag = "ledger",
    params(
        ("first" = u64, Query, description = "The older tree's size"),
        ("second" = u64, Query, description = "The newer tree's size")
    ),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProofView),
        (status = 400, description = "A missing or malformed parameter", body = ErrorView),
        (status = 404, description = "No such proof: first is greater than second, or second is larger than the log", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn consistency(
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<ConsistencyProofView>, ApiError> {
    let first = param(&params, "first")?;
    let second = param(&params, "second")?;
    let p = ledger::consistency_proof(&state.store, first, second).await?;
    Ok(Json(ConsistencyProofView::from(&p)))
}

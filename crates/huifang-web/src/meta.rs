//! Health, the OpenAPI document and the JSON 404.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// The OpenAPI 3.1 document of the API, written by hand.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let mut tx = state
        .store
        .begin()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
    let size = tx
        .ledger_size()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
    tx.rollback().await?;
    Ok(Json(json!({"status": "ok", "ledger_size": size})))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

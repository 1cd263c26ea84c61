//! Health, the OpenAPI document and the JSON 404.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use huifang_app::views::{ErrorView, HealthView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(openapi))
}

/// Whether the service and its database answer.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "meta",
    responses(
        (status = 200, description = "The database answers", body = HealthView),
        (status = 503, description = "The database is unreachable", body = ErrorView)
    )
)]
async fn health(State(state): State<AppState>) -> Result<Json<HealthView>, ApiError> {
    let unavailable =
        |e: huifang_store::StoreError| ApiError::Unavailable(format!("database: {e}"));
    let mut tx = state.store.begin().await.map_err(unavailable)?;
    let ledger_size = tx.ledger_size().await.map_err(unavailable)?;
    tx.rollback().await?;
    Ok(Json(HealthView {
        status: "ok".into(),
        ledger_size,
    }))
}

/// The document, generated once from the routes.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&crate::openapi())
        .unwrap_or_else(|e| format!("{{\"error\": \"internal\", \"message\": \"{e}\"}}"))
});

/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document of the API", content_type = "application/json", body = Object))
)]
async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

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
        .routes(routes!(workers))
}

/// The servers and workers on the database, their last heartbeats, and the latest daily close
/// shared by workers with its progress (admins and auditors).
#[utoipa::path(
    get,
    path = "/api/v1/workers",
    tag = "meta",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The processes and the close", body = huifang_app::views::ClusterView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller is neither an admin nor an auditor", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn workers(
    State(state): State<AppState>,
    crate::auth::Authed(actor): crate::auth::Authed,
) -> Result<Json<huifang_app::views::ClusterView>, ApiError> {
    Ok(Json(
        huifang_app::cluster::view_as(&state.store, &actor, chrono::Utc::now()).await?,
    ))
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

//! The risk score over HTTP: the models with their metrics, a loan's score and its factors, the
//! score of a new application (`huifang_app::score`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use huifang_app::score::{self, ApplicationRequest, ModelView, ScoreView};
use huifang_app::views::ErrorView;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(models))
        .routes(routes!(loan_score))
        .routes(routes!(application))
}

/// The trained models, newest first: their holdout AUC, KS and calibration, population
/// stability and whether it is flagged.
#[utoipa::path(
    get,
    path = "/api/v1/score/models",
    tag = "loans",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The models", body = Vec<ModelView>),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn models(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<Vec<ModelView>>, ApiError> {
    Ok(Json(score::models(&state.store, Some(&actor)).await?))
}

/// A loan's latest risk score: the probability of 90+ DPD within six months, its band and the
/// factors that raise it most.
#[utoipa::path(
    get,
    path = "/api/v1/loans/{external_id}/score",
    tag = "loans",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    responses(
        (status = 200, description = "The score", body = ScoreView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such loan, or a loan not scored (off the book)", body = ErrorView),
        (status = 409, description = "No behaviour model trained yet", body = ErrorView)
    )
)]
async fn loan_score(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
) -> Result<Json<ScoreView>, ApiError> {
    score::loan_score(&state.store, Some(&actor), &external_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("loan {external_id:?} has no score")))
}

/// Scores a new application (pre-loan) from its fields alone with the latest application model.
#[utoipa::path(
    post,
    path = "/api/v1/scores/application",
    tag = "loans",
    security(("bearer" = [])),
    request_body = ApplicationRequest,
    responses(
        (status = 200, description = "The score", body = ScoreView),
        (status = 400, description = "A malformed or refused field, named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 409, description = "No application model trained yet", body = ErrorView)
    )
)]
async fn application(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ScoreView>, ApiError> {
    let req: ApplicationRequest = request(body)?;
    let facts = req.facts()?;
    Ok(Json(
        score::score_application(&state.store, Some(&actor), &facts).await?,
    ))
}

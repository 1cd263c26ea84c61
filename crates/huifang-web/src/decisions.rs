//! Decisions on loans by risk officers (`huifang_app::decisions`): asked for on a loan, applied at
//! once or pending a second approver above the policy's four-eyes amount; approved by another
//! risk officer; listed for the roles that read loans.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::decisions;
use huifang_app::views::{
    DecisionListView, DecisionRequestView, DecisionView, ErrorView, InstallmentView,
    SchedulePreview,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::policy_in_force;
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, decide))
        .routes(routes!(approve))
        .routes(routes!(preview))
}

/// A loan's decisions, newest first (the roles that read loans).
#[utoipa::path(
    get,
    path = "/api/v1/loans/{external_id}/decisions",
    tag = "loans",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    responses(
        (status = 200, description = "The decisions", body = DecisionListView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView)
    )
)]
async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
) -> Result<Json<DecisionListView>, ApiError> {
    let rows = decisions::list(&state.store, &actor, Some(&external_id)).await?;
    Ok(Json(DecisionListView {
        decisions: rows.iter().map(DecisionView::from).collect(),
    }))
}

/// Decides on a loan (risk officers): 201 applied, or 202 pending a second approver.
#[utoipa::path(
    post,
    path = "/api/v1/loans/{external_id}/decisions",
    tag = "loans",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    request_body = DecisionRequestView,
    responses(
        (status = 201, description = "Applied", body = DecisionView),
        (status = 202, description = "Pending a second approver", body = DecisionView),
        (status = 400, description = "A malformed body, or beyond the product's limits", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers decide", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 409, description = "The loan is paid off or written off", body = ErrorView)
    )
)]
async fn decide(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<DecisionView>), ApiError> {
    let req: DecisionRequestView = request(body)?;
    let policy = policy_in_force(&state).await?;
    let r = decisions::decide(
        &state.store,
        &policy,
        &actor,
        &external_id,
        &req.to_request()?,
    )
    .await?;
    let status = if r.applied {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(DecisionView::from(&r))))
}

/// Approves a pending decision, which applies it (a risk officer other than who asked).
#[utoipa::path(
    post,
    path = "/api/v1/decisions/{id}/approve",
    tag = "loans",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The decision's id")),
    responses(
        (status = 200, description = "Approved and applied", body = DecisionView),
        (status = 400, description = "A malformed id", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Not a risk officer, or the one who asked (four eyes)", body = ErrorView),
        (status = 404, description = "No such decision", body = ErrorView),
        (status = 409, description = "Applied already", body = ErrorView)
    )
)]
async fn approve(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<DecisionView>, ApiError> {
    let id = id
        .map(|Path(id)| id)
        .map_err(|_| ApiError::bad_request("the decision id must be an integer"))?;
    let policy = policy_in_force(&state).await?;
    let r = decisions::approve(&state.store, &policy, &actor, id).await?;
    Ok(Json(DecisionView::from(&r)))
}

/// What a decision would make of a loan's schedule, nothing recorded (risk officers): a
/// restructure's new installments, a deferral's or holiday's moved dates. Refused as the decision
/// itself would be (the product's limits, a closed loan).
#[utoipa::path(
    post,
    path = "/api/v1/loans/{external_id}/decisions/preview",
    tag = "loans",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    request_body = DecisionRequestView,
    responses(
        (status = 200, description = "The schedule the decision would make", body = SchedulePreview),
        (status = 400, description = "A malformed body, or beyond the product's limits", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers decide", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 409, description = "The loan is paid off or written off", body = ErrorView)
    )
)]
async fn preview(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<SchedulePreview>, ApiError> {
    let req: DecisionRequestView = request(body)?;
    let policy = policy_in_force(&state).await?;
    let r = req.to_request()?;
    let rows = decisions::preview(&state.store, &policy, &actor, &external_id, &r).await?;
    Ok(Json(SchedulePreview {
        loan: external_id,
        op: req.kind.clone(),
        installments: rows.iter().map(InstallmentView::from).collect(),
    }))
}

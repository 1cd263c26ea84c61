//! Repossession and legal cases (`huifang_app::cases`): opened on a loan by a risk officer, moved
//! through their stages by risk officers and collectors (a sale posted as a payment), listed and
//! shown with their steps.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::cases;
use huifang_app::views::{
    CaseDetailView, CaseListView, CaseOpenRequest, CaseStepRequest, CaseView, ErrorView,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::policy_in_force;
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(loan_cases, open))
        .routes(routes!(open_cases))
        .routes(routes!(show))
        .routes(routes!(step))
}

fn case_id(id: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    id.map(|Path(id)| id)
        .map_err(|_| ApiError::bad_request("the case id must be an integer"))
}

/// A loan's cases, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/loans/{external_id}/cases",
    tag = "cases",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    responses(
        (status = 200, description = "The cases", body = CaseListView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role reads no cases", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView)
    )
)]
async fn loan_cases(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
) -> Result<Json<CaseListView>, ApiError> {
    let rows = cases::list(&state.store, &actor, Some(&external_id)).await?;
    Ok(Json(CaseListView {
        cases: rows.iter().map(CaseView::from).collect(),
    }))
}

/// Every open case, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    tag = "cases",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The open cases", body = CaseListView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role reads no cases", body = ErrorView)
    )
)]
async fn open_cases(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<CaseListView>, ApiError> {
    let rows = cases::list(&state.store, &actor, None).await?;
    Ok(Json(CaseListView {
        cases: rows.iter().map(CaseView::from).collect(),
    }))
}

/// Opens a case on a loan (risk officers).
#[utoipa::path(
    post,
    path = "/api/v1/loans/{external_id}/cases",
    tag = "cases",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    request_body = CaseOpenRequest,
    responses(
        (status = 201, description = "Opened", body = CaseDetailView),
        (status = 400, description = "A malformed body, an unknown kind, no reason", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers open cases", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 409, description = "The loan is paid off", body = ErrorView)
    )
)]
async fn open(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<CaseDetailView>), ApiError> {
    let req: CaseOpenRequest = request(body)?;
    let policy = policy_in_force(&state).await?;
    let c = cases::open(
        &state.store,
        &policy,
        &actor,
        &external_id,
        &req.kind,
        &req.reason,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(CaseDetailView::from(&c))))
}

/// One case with its steps.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The case's id")),
    responses(
        (status = 200, description = "The case", body = CaseDetailView),
        (status = 400, description = "A malformed id", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role reads no cases", body = ErrorView),
        (status = 404, description = "No such case", body = ErrorView)
    )
)]
async fn show(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<CaseDetailView>, ApiError> {
    let c = cases::show(&state.store, &actor, case_id(id)?).await?;
    Ok(Json(CaseDetailView::from(&c)))
}

/// Records a case's next step, or closes it (risk officers, collectors); a sale's amount is
/// posted as a payment on the loan.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/steps",
    tag = "cases",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The case's id")),
    request_body = CaseStepRequest,
    responses(
        (status = 200, description = "The case after the step", body = CaseDetailView),
        (status = 400, description = "A stage out of order, an amount missing or out of place", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role records no case steps", body = ErrorView),
        (status = 404, description = "No such case", body = ErrorView)
    )
)]
async fn step(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<CaseDetailView>, ApiError> {
    let id = case_id(id)?;
    let req: CaseStepRequest = request(body)?;
    let policy = policy_in_force(&state).await?;
    let c = cases::step(&state.store, &policy, &actor, id, &req.to_request()?).await?;
    Ok(Json(CaseDetailView::from(&c)))
}

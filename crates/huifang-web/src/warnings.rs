//! Early warnings for the roles that read loans, and their life for risk officers
//! (`huifang_app::warnings`): the list and one warning with its history; acknowledging, recording
//! what was done (the task that answers it) and resolving with a reason, each a step of its
//! history logged in the tamper-evident record.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use huifang_app::views::{
    ErrorView, WarningActionRequest, WarningDetailView, WarningItemView, WarningListView,
    WarningNoteRequest, WarningResolveRequest, WarningStepView,
};
use huifang_app::warnings::{self, WarningFilter};
use huifang_core::TaskId;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::{Params, params};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(acknowledge))
        .routes(routes!(act))
        .routes(routes!(resolve))
}

fn warning_id(p: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|_| ApiError::bad_request("the warning id must be an integer"))
}

/// An optional `limit` query parameter: 1 to `max`, `default` when absent.
pub(crate) fn limit_param(
    value: Option<&String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match number::<usize>(value, "limit")? {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be 1 to {max}, got {n}"
        ))),
    }
}

/// An optional query parameter that must be a whole number from 1.
pub(crate) fn positive(value: Option<&String>, name: &str) -> Result<Option<i64>, ApiError> {
    match number::<i64>(value, name)? {
        Some(n) if n < 1 => Err(ApiError::bad_request(format!(
            "{name} must be 1 or more, got {n}"
        ))),
        n => Ok(n),
    }
}

pub(crate) fn number<T: std::str::FromStr>(
    value: Option<&String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request(format!("{name} must be a number, got {v:?}")))
        })
        .transpose()
}

/// Warnings newest first: the open ones, or all (`state=all`), of one level or loan.
#[utoipa::path(
    get,
    path = "/api/v1/warnings",
    tag = "warnings",
    security(("bearer" = [])),
    params(
        ("state" = Option<String>, Query, pattern = "^(open|all)$", description = "open (the default) or all"),
        ("level" = Option<u8>, Query, minimum = 1, maximum = 3, description = "Only this level (1, 2, 3)"),
        ("loan" = Option<String>, Query, description = "Only this loan's (external id)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most)")
    ),
    responses(
        (status = 200, description = "The warnings", body = WarningListView),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read warnings", body = ErrorView)
    )
)]
async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<WarningListView>, ApiError> {
    let m = params(p)?;
    let all = match m.get("state").map(String::as_str) {
        None | Some("open") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "state must be open or all, got {other:?}"
            )));
        }
    };
    let filter = WarningFilter {
        all,
        level: match number::<u8>(m.get("level"), "level")? {
            Some(other @ (0 | 4..)) => {
                return Err(ApiError::bad_request(format!(
                    "level must be 1, 2 or 3, got {other}"
                )));
            }
            level => level,
        },
        loan: m.get("loan").cloned(),
        limit: Some(limit_param(m.get("limit"), 500, 500)?),
    };
    let rows = warnings::list(&state.store, &actor, &filter).await?;
    Ok(Json(WarningListView {
        warnings: rows.iter().map(WarningItemView::from).collect(),
    }))
}

/// One warning with its history.
#[utoipa::path(
    get,
    path = "/api/v1/warnings/{id}",
    tag = "warnings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The warning's id")),
    responses(
        (status = 200, description = "The warning and its history", body = WarningDetailView),
        (status = 400, description = "A malformed id", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read warnings", body = ErrorView),
        (status = 404, description = "No such warning", body = ErrorView)
    )
)]
async fn show(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<WarningDetailView>, ApiError> {
    let (w, steps) = warnings::show(&state.store, &actor, warning_id(id)?).await?;
    Ok(Json(WarningDetailView {
        warning: WarningItemView::from(&w),
        history: steps.iter().map(WarningStepView::from).collect(),
    }))
}

/// Acknowledges a warning (risk officers).
#[utoipa::path(
    post,
    path = "/api/v1/warnings/{id}/ack",
    tag = "warnings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The warning's id")),
    request_body = WarningNoteRequest,
    responses(
        (status = 200, description = "The warning, acknowledged", body = WarningItemView),
        (status = 400, description = "A malformed id or body", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers act on warnings", body = ErrorView),
        (status = 404, description = "No such warning", body = ErrorView),
        (status = 409, description = "Acknowledged already, or closed", body = ErrorView)
    )
)]
async fn acknowledge(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<WarningItemView>, ApiError> {
    let id = warning_id(id)?;
    let req: WarningNoteRequest = request(body)?;
    let w = warnings::acknowledge(&state.store, &actor, id, &req.note).await?;
    Ok(Json(WarningItemView::from(&w)))
}

/// Records what was done about an acknowledged warning: the task that answers it, a note
/// (risk officers).
#[utoipa::path(
    post,
    path = "/api/v1/warnings/{id}/action",
    tag = "warnings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The warning's id")),
    request_body = WarningActionRequest,
    responses(
        (status = 200, description = "The warning, actioned", body = WarningItemView),
        (status = 400, description = "A malformed id or body, or a task of another loan", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers act on warnings", body = ErrorView),
        (status = 404, description = "No such warning", body = ErrorView),
        (status = 409, description = "Not acknowledged yet, or closed", body = ErrorView)
    )
)]
async fn act(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<WarningItemView>, ApiError> {
    let id = warning_id(id)?;
    let req: WarningActionRequest = request(body)?;
    let w = warnings::record_action(&state.store, &actor, id, req.task_id.map(TaskId), &req.note)
        .await?;
    Ok(Json(WarningItemView::from(&w)))
}

/// Resolves a warning with a reason (risk officers).
#[utoipa::path(
    post,
    path = "/api/v1/warnings/{id}/resolve",
    tag = "warnings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The warning's id")),
    request_body = WarningResolveRequest,
    responses(
        (status = 200, description = "The warning, resolved", body = WarningItemView),
        (status = 400, description = "A malformed id or body, or an empty reason", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers act on warnings", body = ErrorView),
        (status = 404, description = "No such warning", body = ErrorView),
        (status = 409, description = "Closed already", body = ErrorView)
    )
)]
async fn resolve(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<WarningItemView>, ApiError> {
    let id = warning_id(id)?;
    let req: WarningResolveRequest = request(body)?;
    let w = warnings::resolve(&state.store, &actor, id, &req.reason).await?;
    Ok(Json(WarningItemView::from(&w)))
}

//! Working follow-up tasks over HTTP: my queue, take next, show (script and the borrower's
//! context, masked unless the role may reveal), record an outcome (`Idempotency-Key` header
//! required), reassign; the team lead's statistics; a loan's view for the roles that read loans.
//! Every route needs a bearer token (see `auth`); the rules are `huifang_app::team`'s.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use huifang_app::team::{self, OutcomeInput};
use huifang_app::views::{
    ErrorView, LoanSummaryView, OutcomeRequest, ReassignRequest, RecordedView, TaskAnswer,
    TaskDetail, TaskList, TeamStatsList,
};
use huifang_app::{AppError, policy};
use huifang_core::calendar::parse_date;
use huifang_core::policy::Policy;
use huifang_core::{Date, TaskId};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(next))
        .routes(routes!(show))
        .routes(routes!(outcome))
        .routes(routes!(reassign))
        .routes(routes!(stats))
        .routes(routes!(loan))
}

/// The policy in force. A stored policy that no longer validates is the server's fault (503,
/// logged), not the request's.
pub(crate) async fn policy_in_force(state: &AppState) -> Result<Policy, ApiError> {
    policy::load(&state.store).await.map_err(|e| match e {
        AppError::Invalid(message) => ApiError::Unavailable(message),
        other => other.into(),
    })
}

/// `reveal=true` with its optional `reason`: the reason the reveal is logged with.
fn reveal_reason(m: &HashMap<String, String>) -> Result<Option<&str>, ApiError> {
    Ok(flag(m, "reveal")?.then(|| m.get("reason").map_or("", |r| r.trim())))
}

/// The query string as a map; a malformed one is a 400 in the API's format.
pub(crate) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn params(p: Params) -> Result<HashMap<String, String>, ApiError> {
    p.map(|Query(m)| m)
        .map_err(|_| ApiError::bad_request("the query string is malformed"))
}

pub(crate) fn task_id(p: Result<Path<i64>, PathRejection>) -> Result<TaskId, ApiError> {
    p.map(|Path(id)| TaskId(id))
        .map_err(|_| ApiError::bad_request("the task id must be an integer"))
}

pub(crate) fn flag(m: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match m.get(name).map(String::as_str) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, got {other:?}"
        ))),
    }
}

pub(crate) fn date_param(
    m: &HashMap<String, String>,
    name: &str,
) -> Result<Option<Date>, ApiError> {
    m.get(name)
        .map(|s| {
            parse_date(s).ok_or_else(|| {
                let shaped = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
                let message = format!("{name} must be a date (YYYY-MM-DD) from 1900, got {s:?}");
                if shaped {
                    // a real calendar date Huifang does not take: well-formed, refused
                    ApiError::Unprocessable {
                        code: "refused",
                        message,
                    }
                } else {
                    ApiError::bad_request(message)
                }
            })
        })
        .transpose()
}

/// The caller's open tasks: an agent's own and the unassigned ones of their team's queues; a
/// team lead's whole team.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    params(("queue" = Option<String>, Query, description = "Only this queue's tasks")),
    responses(
        (status = 200, description = "The tasks, due first", body = TaskList),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller works no queue of this team", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<TaskList>, ApiError> {
    let m = params(p)?;
    let tasks = team::my_queue(&state.store, &actor, m.get("queue").map(String::as_str)).await?;
    Ok(Json(TaskList::new(&tasks)))
}

/// Takes the next task: the caller's own in progress first, else the queue's oldest due task,
/// claimed so that no one else takes it.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/next",
    tag = "tasks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The task taken, or null when none waits", body = TaskAnswer),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not work tasks", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn next(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<TaskAnswer>, ApiError> {
    let task = team::take_next(&state.store, &actor).await?;
    Ok(Json(TaskAnswer::new(task.as_ref())))
}

/// A task with its script, the borrower's context (masked unless revealed) and the loan.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The task's id"),
        ("lang" = Option<String>, Query, pattern = "^(zh|en)$", description = "The script's language: zh (default) or en"),
        ("reveal" = Option<bool>, Query, description = "Show the full ID number and mobile (team leads and risk officers; logged)"),
        ("reason" = Option<String>, Query, description = "Why the reveal is needed (logged with it)")
    ),
    responses(
        (status = 200, description = "The task", body = TaskDetail),
        (status = 400, description = "A malformed id or parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller may not see this task, or reveal", body = ErrorView),
        (status = 404, description = "No such task", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn show(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    p: Params,
) -> Result<Json<TaskDetail>, ApiError> {
    let id = task_id(id)?;
    let m = params(p)?;
    let lang = match m.get("lang").map(String::as_str) {
        None => "zh",
        Some(lang @ ("zh" | "en")) => lang,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "lang must be zh or en, got {other:?}"
            )));
        }
    };
    let view = team::show_task(
        &state.store,
        &policy_in_force(&state).await?,
        &actor,
        id,
        lang,
        reveal_reason(&m)?,
    )
    .await?;
    Ok(Json(TaskDetail::from(&view)))
}

/// Records the outcome of an attempt, once per `Idempotency-Key`: the interaction (in the
/// tamper-evident log), a promise to pay, risk signals and the task's next state.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/outcome",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The task's id"),
        ("Idempotency-Key" = String, Header, description = "Recording again with the same key returns the first answer and writes nothing")
    ),
    request_body = OutcomeRequest,
    responses(
        (status = 201, description = "Recorded", body = RecordedView),
        (status = 200, description = "Recorded before under this Idempotency-Key", body = RecordedView),
        (status = 400, description = "No Idempotency-Key, or an invalid outcome (the field is named)", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller may not work this task", body = ErrorView),
        (status = 404, description = "No such task", body = ErrorView),
        (status = 409, description = "The task is closed", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn outcome(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<RecordedView>), ApiError> {
    let id = task_id(id)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::BadRequest {
            code: "idempotency_key_required",
            message: "recording an outcome needs an Idempotency-Key header".into(),
        })?
        .to_string();
    let req: OutcomeRequest = request(body)?;
    let date = req
        .date
        .map(|s| {
            parse_date(&s)
                .ok_or_else(|| ApiError::bad_request(format!("date must be YYYY-MM-DD, got {s:?}")))
        })
        .transpose()?;
    let input = OutcomeInput {
        channel: req.channel.unwrap_or_else(|| "phone".into()),
        outcome: req.outcome,
        amount: req.amount.map(|a| a.into_text()),
        date,
        income_change_pct: req.income_change_pct,
        job_status: req.job_status,
        vehicle_status: req.vehicle_status,
        answers: req.answers,
        notes: req.notes.unwrap_or_default(),
        duration_seconds: req.duration_seconds.unwrap_or(0),
        idempotency_key: key,
        occurred_at: req.occurred_at,
        emergency_contact: req.emergency_contact,
    };
    let r = team::record_outcome(&state.store, &actor, id, &input).await?;
    let status = if r.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(RecordedView::from(&r))))
}

/// Reassigns an open task to another member of its team (team leads).
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/reassign",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The task's id")),
    request_body = ReassignRequest,
    responses(
        (status = 200, description = "The task, reassigned", body = TaskAnswer),
        (status = 400, description = "A malformed id or body", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller may not reassign it, or not to that user", body = ErrorView),
        (status = 404, description = "No such task or user", body = ErrorView),
        (status = 409, description = "The task is closed", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn reassign(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<TaskAnswer>, ApiError> {
    let id = task_id(id)?;
    let req: ReassignRequest = request(body)?;
    let task = team::reassign(&state.store, &actor, id, &req.to).await?;
    Ok(Json(TaskAnswer::new(Some(&task))))
}

/// The team's queues (depth, SLA breaches) and each agent's work in a period (team leads,
/// admins and auditors).
#[utoipa::path(
    get,
    path = "/api/v1/team/stats",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("from" = Option<String>, Query, format = Date, description = "First day (YYYY-MM-DD; default: 30 days before the business date)"),
        ("to" = Option<String>, Query, format = Date, description = "Last day (YYYY-MM-DD; default: the business date)")
    ),
    responses(
        (status = 200, description = "The teams' statistics", body = TeamStatsList),
        (status = 400, description = "A malformed date", body = ErrorView),
        (status = 422, description = "A date before 1900, or from after to", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role may not see team statistics", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn stats(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<TeamStatsList>, ApiError> {
    let m = params(p)?;
    let all = team::team_stats(
        &state.store,
        &actor,
        date_param(&m, "from")?,
        date_param(&m, "to")?,
    )
    .await?;
    Ok(Json(TeamStatsList::new(&all)))
}

/// A loan for the roles that read loans: contract, status, the borrower (masked unless
/// revealed) and the warnings.
#[utoipa::path(
    get,
    path = "/api/v1/loans/{external_id}",
    tag = "loans",
    security(("bearer" = [])),
    params(
        ("external_id" = String, Path, description = "The loan's external id"),
        ("reveal" = Option<bool>, Query, description = "Show the full ID number and mobile (team leads and risk officers; logged)"),
        ("reason" = Option<String>, Query, description = "Why the reveal is needed (logged with it)")
    ),
    responses(
        (status = 200, description = "The loan", body = LoanSummaryView),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role may not read loans, or reveal", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn loan(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    p: Params,
) -> Result<Json<LoanSummaryView>, ApiError> {
    let m = params(p)?;
    let (view, borrower) = team::show_loan(
        &state.store,
        &policy_in_force(&state).await?,
        &actor,
        &external_id,
        reveal_reason(&m)?,
    )
    .await?;
    Ok(Json(LoanSummaryView::new(&view, &borrower)))
}

//! Working follow-up tasks over HTTP: my queue, take next, show (script and the borrower's
//! context, masked unless the role may reveal), record an outcome (`Idempotency-Key` header
//! required), reassign; the team lead's statistics; a loan's view for the roles that read loans.
//! Every route needs a bearer token (see `auth`); the rules are `huifang_app::team`'s.

use std::collections::HashMap;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use huifang_app::policy;
use huifang_app::team::{self, OutcomeInput};
use huifang_core::Date;
use huifang_core::calendar::parse_date;
use serde_json::{Value, json};

use crate::auth::{Authed, object};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tasks", get(list))
        .route("/api/v1/tasks/next", post(next))
        .route("/api/v1/tasks/{id}", get(show))
        .route("/api/v1/tasks/{id}/outcome", post(outcome))
        .route("/api/v1/tasks/{id}/reassign", post(reassign))
        .route("/api/v1/team/stats", get(stats))
        .route("/api/v1/loans/{external_id}", get(loan))
}

/// The query string as a map; a malformed one is a 400 in the API's format.
pub(crate) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn params(p: Params) -> Result<HashMap<String, String>, ApiError> {
    p.map(|Query(m)| m)
        .map_err(|_| ApiError::bad_request("the query string is malformed"))
}

fn task_id(p: Result<Path<i64>, PathRejection>) -> Result<i64, ApiError> {
    p.map(|Path(id)| id)
        .map_err(|_| ApiError::bad_request("the task id must be an integer"))
}

fn flag(m: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match m.get(name).map(String::as_str) {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1" | "") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "{name} must be true or false, got {other:?}"
        ))),
    }
}

fn date_param(m: &HashMap<String, String>, name: &str) -> Result<Option<Date>, ApiError> {
    m.get(name)
        .map(|s| {
            parse_date(s).ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a date (YYYY-MM-DD), got {s:?}"))
            })
        })
        .transpose()
}

async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let m = params(p)?;
    let tasks = team::my_queue(&state.store, &actor, m.get("queue").map(String::as_str)).await?;
    Ok(Json(json!({
        "tasks": tasks.iter().map(team::task_json).collect::<Vec<_>>(),
    })))
}

async fn next(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<Value>, ApiError> {
    let task = team::take_next(&state.store, &actor).await?;
    Ok(Json(json!({"task": task.as_ref().map(team::task_json)})))
}

async fn show(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let id = task_id(id)?;
    let m = params(p)?;
    let lang = m.get("lang").map_or("zh", String::as_str);
    let view = team::show_task(
        &state.store,
        &policy::load(&state.store).await?,
        &actor,
        id,
        lang,
        flag(&m, "reveal")?,
    )
    .await?;
    Ok(Json(team::task_view_json(&view)))
}

fn opt_str(body: &Value, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if name == "amount" => Ok(Some(n.to_string())),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
    }
}

fn opt_int(body: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be an integer"))),
    }
}

async fn outcome(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    let body = object(body)?;
    let date = opt_str(&body, "date")?
        .map(|s| {
            parse_date(&s)
                .ok_or_else(|| ApiError::bad_request(format!("date must be YYYY-MM-DD, got {s:?}")))
        })
        .transpose()?;
    let income = opt_int(&body, "income_change_pct")?
        .map(|v| {
            i32::try_from(v).map_err(|_| ApiError::bad_request("income_change_pct is out of range"))
        })
        .transpose()?;
    let input = OutcomeInput {
        channel: opt_str(&body, "channel")?.unwrap_or_else(|| "phone".into()),
        outcome: opt_str(&body, "outcome")?
            .ok_or_else(|| ApiError::bad_request("\"outcome\" is required"))?,
        amount: opt_str(&body, "amount")?,
        date,
        income_change_pct: income,
        job_status: opt_str(&body, "job_status")?,
        vehicle_status: opt_str(&body, "vehicle_status")?,
        answers: body.get("answers").filter(|v| !v.is_null()).cloned(),
        notes: opt_str(&body, "notes")?.unwrap_or_default(),
        duration_seconds: opt_int(&body, "duration_seconds")?.unwrap_or(0),
        idempotency_key: key,
        occurred_at: opt_str(&body, "occurred_at")?,
    };
    let r = team::record_outcome(&state.store, &actor, id, &input).await?;
    let status = if r.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "interaction_id": r.interaction_id,
            "recorded": r.new,
            "task": team::task_json(&r.task),
            "promise_id": r.promise_id,
            "risk_signals": r.signals,
            "escalation_task_id": r.escalation_task,
            "ledger_index": r.leaf_index,
        })),
    ))
}

async fn reassign(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = task_id(id)?;
    let body = object(body)?;
    let to = body
        .get("to")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("\"to\" (a username) is required"))?;
    let task = team::reassign(&state.store, &actor, id, to).await?;
    Ok(Json(json!({"task": team::task_json(&task)})))
}

async fn stats(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let m = params(p)?;
    let all = team::team_stats(
        &state.store,
        &actor,
        date_param(&m, "from")?,
        date_param(&m, "to")?,
    )
    .await?;
    Ok(Json(json!({"teams": team::stats_json(&all)})))
}

async fn loan(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    p: Params,
) -> Result<Json<Value>, ApiError> {
    let m = params(p)?;
    let (view, b) = team::show_loan(
        &state.store,
        &policy::load(&state.store).await?,
        &actor,
        &external_id,
        flag(&m, "reveal")?,
    )
    .await?;
    let s = &view.status;
    Ok(Json(json!({
        "external_id": view.loan.external_id,
        "business_date": view.business_date.to_string(),
        "product": view.loan.product_code,
        "principal": view.loan.terms.principal.to_string(),
        "disbursed_on": view.loan.terms.disbursed_on.to_string(),
        "vehicle_model": view.loan.vehicle_model,
        "dealer": view.loan.dealer,
        "status": {
            "lifecycle": s.lifecycle.as_str(),
            "dpd": s.dpd,
            "bucket": s.bucket.to_string(),
            "classification": s.classification.as_str(),
            "warning_level": s.warning_level(),
            "overdue_amount": s.overdue_amount.to_string(),
            "outstanding_principal": s.outstanding_principal.to_string(),
        },
        "borrower": {
            "external_id": b.external_id,
            "name": b.name,
            "id_number": b.id_number,
            "mobile": b.mobile,
            "city": b.city,
            "revealed": b.revealed,
        },
        "warnings": view.warnings.iter().map(|w| json!({
            "level": w.level,
            "rule": w.rule,
            "facts": serde_json::from_str::<Value>(&w.facts).unwrap_or(Value::String(w.facts.clone())),
            "raised_on": w.raised_on.to_string(),
            "cleared_on": w.cleared_on.map(|d| d.to_string()),
        })).collect::<Vec<_>>(),
    })))
}

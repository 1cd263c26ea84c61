//! The team's set-up and the follow-up's documents: teams and queues (the admin), the products
//! with their loans' counts (the roles that read loans), each product's follow-up plan and each
//! task kind's script (read by the roles that read loans, changed by the admin). Each change is
//! validated as the command line validates it; a refused one names the field and changes
//! nothing.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::views::{
    ErrorView, NewQueueRequest, PlanDoc, ProductList, QueueChangeRequest, QueueView, ScriptView,
    TeamList, TeamRequest,
};
use huifang_app::{AppError, book, followup, team};
use huifang_core::followup::TaskKind;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, add_team))
        .routes(routes!(rename_team))
        .routes(routes!(add_queue))
        .routes(routes!(change_queue))
        .routes(routes!(products))
        .routes(routes!(show_plan, set_plan))
        .routes(routes!(show_script, set_script))
}

fn segment(p: Result<Path<String>, PathRejection>, what: &str) -> Result<String, ApiError> {
    p.map(|Path(s)| s)
        .map_err(|_| ApiError::bad_request(format!("the {what} in the path is malformed")))
}

async fn team_list(state: &AppState, actor: &team::Actor) -> Result<TeamList, ApiError> {
    Ok(TeamList::new(
        &team::teams(&state.store, Some(actor)).await?,
    ))
}

/// Every team with its members' count and its queues (the admin).
#[utoipa::path(
    get,
    path = "/api/v1/teams",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every team", body = TeamList),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages teams", body = ErrorView)
    )
)]
async fn list_teams(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<TeamList>, ApiError> {
    Ok(Json(team_list(&state, &actor).await?))
}

/// Adds a team (the admin); returns every team.
#[utoipa::path(
    post,
    path = "/api/v1/teams",
    tag = "auth",
    security(("bearer" = [])),
    request_body = TeamRequest,
    responses(
        (status = 201, description = "Added", body = TeamList),
        (status = 400, description = "A malformed body, a missing code or name", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages teams", body = ErrorView),
        (status = 409, description = "The code is taken", body = ErrorView)
    )
)]
async fn add_team(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<TeamList>), ApiError> {
    let req: TeamRequest = request(body)?;
    let code = req.code.unwrap_or_default();
    team::create_team(&state.store, Some(&actor), &code, &req.name).await?;
    Ok((StatusCode::CREATED, Json(team_list(&state, &actor).await?)))
}

/// Renames a team (the admin); its code stays.
#[utoipa::path(
    put,
    path = "/api/v1/teams/{code}",
    tag = "auth",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The team's code")),
    request_body = TeamRequest,
    responses(
        (status = 200, description = "Renamed; every team", body = TeamList),
        (status = 400, description = "A malformed body or an empty name", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages teams", body = ErrorView),
        (status = 404, description = "No such team", body = ErrorView)
    )
)]
async fn rename_team(
    State(state): State<AppState>,
    Authed(actor): Authed,
    code: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<TeamList>, ApiError> {
    let code = segment(code, "team")?;
    let req: TeamRequest = request(body)?;
    team::rename_team(&state.store, Some(&actor), &code, &req.name).await?;
    Ok(Json(team_list(&state, &actor).await?))
}

/// Adds a queue to a team (the admin).
#[utoipa::path(
    post,
    path = "/api/v1/queues",
    tag = "auth",
    security(("bearer" = [])),
    request_body = NewQueueRequest,
    responses(
        (status = 201, description = "Added", body = QueueView),
        (status = 400, description = "A malformed body or an unknown strategy: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages queues", body = ErrorView),
        (status = 404, description = "No such team", body = ErrorView),
        (status = 409, description = "The code is taken", body = ErrorView)
    )
)]
async fn add_queue(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<QueueView>), ApiError> {
    let req: NewQueueRequest = request(body)?;
    let code = req.code.trim();
    if code.is_empty() {
        return Err(AppError::Field {
            field: "code",
            reason: "a queue needs a code".into(),
        }
        .into());
    }
    let added = team::create_queue(
        &state.store,
        Some(&actor),
        code,
        req.name.as_deref().unwrap_or(""),
        req.team.trim(),
        req.strategy.as_deref().unwrap_or("round_robin"),
        req.skill.as_deref().unwrap_or(""),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(QueueView::from(&added))))
}

/// Changes a queue's name, skill or assignment strategy (the admin); tasks already assigned
/// stay with their agents.
#[utoipa::path(
    patch,
    path = "/api/v1/queues/{code}",
    tag = "auth",
    security(("bearer" = [])),
    params(("code" = String, Path, description = "The queue's code")),
    request_body = QueueChangeRequest,
    responses(
        (status = 200, description = "Changed", body = QueueView),
        (status = 400, description = "A malformed body, an empty name or an unknown strategy: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages queues", body = ErrorView),
        (status = 404, description = "No such queue", body = ErrorView)
    )
)]
async fn change_queue(
    State(state): State<AppState>,
    Authed(actor): Authed,
    code: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<QueueView>, ApiError> {
    let code = segment(code, "queue")?;
    let req: QueueChangeRequest = request(body)?;
    let q = team::change_queue(&state.store, Some(&actor), &code, &(&req).into()).await?;
    Ok(Json(QueueView::from(&q)))
}

/// Every product with its loans' count and whether it has a follow-up plan of its own (the
/// roles that read loans). Products are added by the import (`POST /api/v1/imports/products`).
#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "loans",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every product", body = ProductList),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn products(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<ProductList>, ApiError> {
    Ok(Json(book::products(&state.store, &actor).await?))
}

fn may_read_settings(actor: &team::Actor) -> Result<(), ApiError> {
    if actor.role.reads_loans() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "{} may not read the follow-up's settings (the roles that read loans may)",
            actor.name()
        )))
    }
}

fn plan_doc(v: Value) -> Result<PlanDoc, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Internal(format!("a stored plan: {e}")))
}

/// The follow-up plan in force for a product (`*`: the default plan every product without its
/// own follows).
#[utoipa::path(
    get,
    path = "/api/v1/plans/{product}",
    tag = "tasks",
    security(("bearer" = [])),
    params(("product" = String, Path, description = "The product's code, or * for the default plan")),
    responses(
        (status = 200, description = "The plan in force", body = PlanDoc),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn show_plan(
    State(state): State<AppState>,
    Authed(actor): Authed,
    product: Result<Path<String>, PathRejection>,
) -> Result<Json<PlanDoc>, ApiError> {
    let product = segment(product, "product")?;
    may_read_settings(&actor)?;
    plan_doc(followup::show_plan(&state.store, Some(&product)).await?).map(Json)
}

/// Stores a product's follow-up plan (the admin); fields left out take the default plan's
/// values. New tasks follow it from the next close.
#[utoipa::path(
    put,
    path = "/api/v1/plans/{product}",
    tag = "tasks",
    security(("bearer" = [])),
    params(("product" = String, Path, description = "The product's code, or * for the default plan")),
    request_body = PlanDoc,
    responses(
        (status = 200, description = "Stored; the plan as it now stands", body = PlanDoc),
        (status = 400, description = "A malformed plan: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin changes plans", body = ErrorView),
        (status = 404, description = "No such product", body = ErrorView)
    )
)]
async fn set_plan(
    State(state): State<AppState>,
    Authed(actor): Authed,
    product: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<PlanDoc>, ApiError> {
    let product = segment(product, "product")?;
    let text = crate::auth::object_text(body)?;
    plan_doc(followup::set_plan_as(&state.store, &actor, Some(&product), &text).await?).map(Json)
}

/// The script a path names (404 for a task kind or a language without scripts).
fn script_key(
    p: Result<Path<(String, String)>, PathRejection>,
) -> Result<(TaskKind, String), ApiError> {
    let Path((kind, lang)) =
        p.map_err(|_| ApiError::bad_request("the kind or language in the path is malformed"))?;
    Ok((followup::script_named(&kind, &lang)?, lang))
}

/// A task kind's script (questionnaire) in a language: the stored one, else the default.
#[utoipa::path(
    get,
    path = "/api/v1/scripts/{kind}/{lang}",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("kind" = String, Path, description = "welcome_call, initial_followup, continuous_followup, repayment_reminder, overdue_reminder, collection_call, escalation or field_visit"),
        ("lang" = String, Path, description = "zh or en")
    ),
    responses(
        (status = 200, description = "The script", body = ScriptView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such task kind, or no scripts in that language", body = ErrorView)
    )
)]
async fn show_script(
    State(state): State<AppState>,
    Authed(actor): Authed,
    key: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<ScriptView>, ApiError> {
    let (kind, lang) = script_key(key)?;
    may_read_settings(&actor)?;
    Ok(Json(
        followup::show_script(&state.store, kind, &lang).await?,
    ))
}

/// Stores a task kind's script in a language (the admin): a list of questions, checked first
/// (unique ids, a text each, two options or more for a choice, signals only where they
/// belong). Tasks show it from then on; answers already recorded stay as they are.
#[utoipa::path(
    put,
    path = "/api/v1/scripts/{kind}/{lang}",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("kind" = String, Path, description = "The task kind"),
        ("lang" = String, Path, description = "zh or en")
    ),
    request_body = huifang_app::views::ScriptRequest,
    responses(
        (status = 200, description = "Stored; the script as it now stands", body = ScriptView),
        (status = 400, description = "A malformed script: the question and field are named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin changes scripts", body = ErrorView),
        (status = 404, description = "No such task kind, or no scripts in that language", body = ErrorView)
    )
)]
async fn set_script(
    State(state): State<AppState>,
    Authed(actor): Authed,
    key: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ScriptView>, ApiError> {
    let (kind, lang) = script_key(key)?;
    let text = crate::auth::object_text(body)?;
    Ok(Json(
        followup::set_script_as(&state.store, &actor, kind, &lang, &text).await?,
    ))
}

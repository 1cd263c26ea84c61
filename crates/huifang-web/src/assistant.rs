//! The follow-up assistant (`huifang_app::assistant`): its rules, the telephony provider's IVR
//! webhook, a pass run on demand, a task's conversation and the report of its flows.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use huifang_app::assistant;
use huifang_app::views::{
    AssistantReportRow, AssistantRulesDoc, AssistantRunView, AssistantSessionView, ErrorView,
    IvrReplyView,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::notify::header;
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_rules, set_rules))
        .routes(routes!(ivr))
        .routes(routes!(run))
        .routes(routes!(report))
        .routes(routes!(session))
}

/// The assistant's rules: the flow each task kind is handed to, the share taken, the asks and the
/// wait.
#[utoipa::path(
    get,
    path = "/api/v1/assistant/rules",
    tag = "assistant",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules", body = AssistantRulesDoc),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn show_rules(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<AssistantRulesDoc>, ApiError> {
    Ok(Json(assistant::show_rules(&state.store, &actor).await?))
}

/// Replaces the assistant's rules (administrators); they apply from the next pass.
#[utoipa::path(
    put,
    path = "/api/v1/assistant/rules",
    tag = "assistant",
    security(("bearer" = [])),
    request_body = AssistantRulesDoc,
    responses(
        (status = 200, description = "Stored", body = AssistantRulesDoc),
        (status = 400, description = "A malformed document: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not set contact rules", body = ErrorView)
    )
)]
async fn set_rules(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<AssistantRulesDoc>, ApiError> {
    let text = crate::auth::object_text(body)?;
    Ok(Json(
        assistant::set_rules(&state.store, &actor, &text).await?,
    ))
}

/// The telephony provider's IVR webhook for the assistant's calls: `{"id"?: the event's id,
/// "call": the provider's call id, "event": "answered" | "input" | "timeout" | "no_answer" |
/// "hangup", "digits"?, "speech"?}`. The answer says what the IVR does next. Signed as the channels' callbacks:
/// `X-Huifang-Timestamp` and `X-Huifang-Signature` (hex HMAC-SHA256 of "{timestamp}.{body}" with
/// the channels' webhook secret); a replay is refused.
#[utoipa::path(
    post,
    path = "/api/v1/assistant/ivr",
    tag = "assistant",
    params(
        ("X-Huifang-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Huifang-Signature" = String, Header, description = "hex HMAC-SHA256")
    ),
    request_body(content = Value, description = "{\"id\"?, \"call\", \"event\", \"digits\"?, \"speech\"?}"),
    responses(
        (status = 200, description = "What the IVR says next, and whether it hangs up", body = IvrReplyView),
        (status = 400, description = "A malformed event: the field is named; nothing recorded", body = ErrorView),
        (status = 401, description = "A bad signature, a stale timestamp or a replay: nothing recorded", body = ErrorView),
        (status = 404, description = "No assistant call has this id", body = ErrorView)
    )
)]
async fn ivr(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IvrReplyView>, ApiError> {
    Ok(Json(
        assistant::ivr(
            &state.store,
            &header(&headers, "x-huifang-timestamp"),
            &header(&headers, "x-huifang-signature"),
            &body,
            chrono::Utc::now(),
        )
        .await?,
    ))
}

/// Runs one pass of the assistant now (administrators; `huifang serve` runs one every minute):
/// takes the tasks its rules give it and asks again, or hands over, where an answer is late.
#[utoipa::path(
    post,
    path = "/api/v1/assistant/run",
    tag = "assistant",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What the pass did", body = AssistantRunView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not set contact rules", body = ErrorView)
    )
)]
async fn run(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<AssistantRunView>, ApiError> {
    Ok(Json(
        assistant::run(&state.store, &actor, chrono::Utc::now()).await?,
    ))
}

/// The assistant's flows by task kind: conversations started, completed and handed to agents
/// (by reason), with the completion and hand-over rates.
#[utoipa::path(
    get,
    path = "/api/v1/assistant/report",
    tag = "assistant",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One row per task kind and flow", body = [AssistantReportRow]),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn report(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<Vec<AssistantReportRow>>, ApiError> {
    Ok(Json(assistant::report(&state.store, &actor).await?))
}

/// The assistant's conversation on a task: its answers and transcript, and how it ended.
#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/assistant",
    tag = "assistant",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The conversation", body = AssistantSessionView),
        (status = 400, description = "A malformed id", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller may not see this task", body = ErrorView),
        (status = 404, description = "No such task, or the assistant did not take it", body = ErrorView)
    )
)]
async fn session(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<AssistantSessionView>, ApiError> {
    let id = crate::tasks::task_id(id)?;
    Ok(Json(assistant::session(&state.store, &actor, id).await?))
}

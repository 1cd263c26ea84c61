//! Messages to borrowers (`huifang_app::notify`): the outbox's messages and their report, a
//! message sent again, the notification rules and the channels' connections (secrets never
//! shown), calls placed for agents, the providers' signed callbacks; and the borrowers' contact
//! data the channels use (email and WeChat addresses, emergency contacts).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use huifang_app::views::{
    AddressRequest, CallView, CallbackView, ChannelsDoc, EmergencyContactRequest,
    EmergencyContactView, ErrorView, MessagePage, MessageView, NotifyReportRow, NotifyRulesDoc,
};
use huifang_app::{contact, notify};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::{Params, params, task_id};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(messages))
        .routes(routes!(report))
        .routes(routes!(retry))
        .routes(routes!(show_rules, set_rules))
        .routes(routes!(show_channels, set_channels))
        .routes(routes!(callback))
        .routes(routes!(call))
        .routes(routes!(emergency_contacts, add_emergency_contact))
        .routes(routes!(set_address))
}

/// The outbox's messages, newest first, filtered; a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    tag = "messages",
    security(("bearer" = [])),
    params(
        ("state" = Option<String>, Query, pattern = "^(queued|sent|delivered|failed|dead|blocked)$", description = "queued, sent, delivered, failed, dead or blocked"),
        ("channel" = Option<String>, Query, pattern = "^(sms|wechat|email|phone)$", description = "sms, wechat, email or phone"),
        ("loan" = Option<String>, Query, min_length = 1, max_length = 64, description = "A loan's external id"),
        ("before" = Option<i64>, Query, minimum = 1, description = "Messages with a smaller id (the previous page's next_before)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most; 50 by default)")
    ),
    responses(
        (status = 200, description = "A page of messages", body = MessagePage),
        (status = 400, description = "A malformed query: the parameter is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView)
    )
)]
async fn messages(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<MessagePage>, ApiError> {
    let m = params(p)?;
    let page = notify::list(
        &state.store,
        &actor,
        m.get("state").map(String::as_str),
        m.get("channel").map(String::as_str),
        m.get("loan").map(String::as_str),
        crate::warnings::positive(m.get("before"), "before")?,
        crate::warnings::limit_param(m.get("limit"), 50, 500)?,
    )
    .await?;
    Ok(Json(page))
}

/// Messages per channel and event: queued, sent, delivered, failed, dead, blocked.
#[utoipa::path(
    get,
    path = "/api/v1/messages/report",
    tag = "messages",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts per channel and event", body = [NotifyReportRow]),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn report(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<Vec<NotifyReportRow>>, ApiError> {
    Ok(Json(notify::report(&state.store, &actor).await?))
}

/// Sends a failed, dead-lettered or refused message again, with the same idempotency key.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{id}/retry",
    tag = "messages",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The message's id")),
    responses(
        (status = 200, description = "Queued again", body = MessageView),
        (status = 400, description = "A malformed id", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator sends messages again", body = ErrorView),
        (status = 404, description = "No such message", body = ErrorView),
        (status = 409, description = "The message is queued, sent or delivered", body = ErrorView)
    )
)]
async fn retry(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<MessageView>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::bad_request("the message id must be an integer"))?;
    Ok(Json(notify::retry(&state.store, &actor, id).await?))
}

/// The notification rules: channels per event, language, retries.
#[utoipa::path(
    get,
    path = "/api/v1/notify-rules",
    tag = "messages",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules in force", body = NotifyRulesDoc),
        (status = 401, description = "No valid token", body = ErrorView)
    )
)]
async fn show_rules(
    State(state): State<AppState>,
    Authed(_actor): Authed,
) -> Result<Json<NotifyRulesDoc>, ApiError> {
    Ok(Json(notify::show_rules(&state.store).await?))
}

/// Replaces the notification rules (the administrator).
#[utoipa::path(
    put,
    path = "/api/v1/notify-rules",
    tag = "messages",
    security(("bearer" = [])),
    request_body = NotifyRulesDoc,
    responses(
        (status = 200, description = "Stored", body = NotifyRulesDoc),
        (status = 400, description = "A malformed document: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator changes them", body = ErrorView)
    )
)]
async fn set_rules(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<NotifyRulesDoc>, ApiError> {
    let text = crate::auth::object_text(body)?;
    Ok(Json(notify::set_rules(&state.store, &actor, &text).await?))
}

/// The channels' connections, secrets hidden (the administrator).
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "messages",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connections; every secret is \"********\"", body = ChannelsDoc),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator reads them", body = ErrorView)
    )
)]
async fn show_channels(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<ChannelsDoc>, ApiError> {
    Ok(Json(notify::show_channels(&state.store, &actor).await?))
}

/// Replaces the channels' connections (the administrator); a secret sent as "********" keeps
/// the one kept.
#[utoipa::path(
    put,
    path = "/api/v1/channels",
    tag = "messages",
    security(("bearer" = [])),
    request_body = ChannelsDoc,
    responses(
        (status = 200, description = "Stored; secrets hidden", body = ChannelsDoc),
        (status = 400, description = "A malformed document: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator changes them", body = ErrorView)
    )
)]
async fn set_channels(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ChannelsDoc>, ApiError> {
    let text = crate::auth::object_text(body)?;
    Ok(Json(
        notify::set_channels(&state.store, &actor, &text).await?,
    ))
}

/// A request header's text; empty when absent or not text (a signature check then refuses it).
pub(crate) fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A provider's callback: delivery receipts, call events (a hangup becomes an interaction on
/// the call's task) and borrowers' replies ("TD" / "退订" opts out). Signed: `X-Huifang-Timestamp`
/// (Unix seconds, within 5 minutes) and `X-Huifang-Signature` (hex HMAC-SHA256 of
/// "{timestamp}.{body}" with the webhook secret); a replay is refused.
#[utoipa::path(
    post,
    path = "/api/v1/channels/{channel}/callbacks",
    tag = "messages",
    params(
        ("channel" = String, Path, pattern = "^(sms|wechat|email|phone)$", description = "sms, wechat, email or phone"),
        ("X-Huifang-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Huifang-Signature" = String, Header, description = "hex HMAC-SHA256")
    ),
    request_body(content = Value, description = "{\"events\": [{\"type\": \"receipt\" | \"call\" | \"reply\", …}]}"),
    responses(
        (status = 200, description = "Recorded", body = CallbackView),
        (status = 400, description = "A malformed body or channel", body = ErrorView),
        (status = 401, description = "A bad signature, a stale timestamp or a replay: nothing recorded", body = ErrorView)
    )
)]
async fn callback(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CallbackView>, ApiError> {
    let view = notify::callback(
        &state.store,
        &channel,
        &header(&headers, "x-huifang-timestamp"),
        &header(&headers, "x-huifang-signature"),
        &body,
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(view))
}

/// Asks the telephony provider to call the task's borrower for the caller: the contact rules are
/// checked now (a refusal names its rule and is kept); the call's events come back on the
/// callback and become an interaction on the task.
#[utoipa::path(
    post,
    path = "/api/v1/tasks/{id}/call",
    tag = "messages",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, description = "The task's id"),
        ("Idempotency-Key" = String, Header, description = "The same key places one call")
    ),
    responses(
        (status = 201, description = "Queued for the provider", body = CallView),
        (status = 400, description = "No Idempotency-Key, or a malformed id", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 404, description = "No such task", body = ErrorView),
        (status = 409, description = "The task is closed", body = ErrorView),
        (status = 403, description = "The caller may not work this task, or a contact rule (named) refuses the call", body = ErrorView)
    )
)]
async fn call(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<CallView>), ApiError> {
    let id = task_id(id)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let view = notify::place_call(&state.store, &actor, id, &key).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A borrower's emergency contacts (mobiles masked).
#[utoipa::path(
    get,
    path = "/api/v1/borrowers/{external_id}/emergency-contacts",
    tag = "contact",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The borrower's external id")),
    responses(
        (status = 200, description = "The emergency contacts", body = [EmergencyContactView]),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not talk to borrowers", body = ErrorView),
        (status = 404, description = "No such borrower", body = ErrorView)
    )
)]
async fn emergency_contacts(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
) -> Result<Json<Vec<EmergencyContactView>>, ApiError> {
    Ok(Json(
        contact::emergency_contacts(&state.store, &actor, &external_id).await?,
    ))
}

/// Adds a borrower's emergency contact, or updates the one with that mobile (consent given or
/// withdrawn).
#[utoipa::path(
    post,
    path = "/api/v1/borrowers/{external_id}/emergency-contacts",
    tag = "contact",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The borrower's external id")),
    request_body = EmergencyContactRequest,
    responses(
        (status = 200, description = "Recorded", body = EmergencyContactView),
        (status = 400, description = "A malformed body: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not talk to borrowers", body = ErrorView),
        (status = 404, description = "No such borrower", body = ErrorView)
    )
)]
async fn add_emergency_contact(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<EmergencyContactView>, ApiError> {
    let req: EmergencyContactRequest = request(body)?;
    Ok(Json(
        contact::set_emergency_contact(&state.store, &actor, &external_id, &req).await?,
    ))
}

/// Sets a borrower's email address or WeChat open id.
#[utoipa::path(
    put,
    path = "/api/v1/borrowers/{external_id}/addresses",
    tag = "contact",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The borrower's external id")),
    request_body = AddressRequest,
    responses(
        (status = 200, description = "Stored: the borrower's addresses", body = [AddressRequest]),
        (status = 400, description = "A malformed body: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not talk to borrowers", body = ErrorView),
        (status = 404, description = "No such borrower", body = ErrorView)
    )
)]
async fn set_address(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Vec<AddressRequest>>, ApiError> {
    let req: AddressRequest = request(body)?;
    contact::set_address(&state.store, &actor, &external_id, &req).await?;
    Ok(Json(
        contact::addresses(&state.store, &actor, &external_id).await?,
    ))
}

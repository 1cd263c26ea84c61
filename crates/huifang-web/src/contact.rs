//! The contact rules (`huifang_app::contact`): the rules document, read by every user and
//! replaced by the administrator; borrowers' opt-outs, recorded and lifted by those who talk to
//! borrowers; the contacts the rules refused, for the roles that read loans.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::contact;
use huifang_app::views::{
    BlockedContactView, ContactRulesDoc, ErrorView, OptOutRequest, OptOutView, RetentionView,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::{Params, params};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_rules, set_rules))
        .routes(routes!(opt_outs, opt_out))
        .routes(routes!(opt_in))
        .routes(routes!(blocked))
        .routes(routes!(retention))
}

/// The contact rules in force: hours in the lender's local time, daily caps.
#[utoipa::path(
    get,
    path = "/api/v1/contact-rules",
    tag = "contact",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The contact rules in force", body = ContactRulesDoc),
        (status = 401, description = "No valid token", body = ErrorView)
    )
)]
async fn show_rules(
    State(state): State<AppState>,
    Authed(_actor): Authed,
) -> Result<Json<ContactRulesDoc>, ApiError> {
    Ok(Json(contact::show_rules(&state.store).await?))
}

/// Replaces the contact rules (the administrator); they apply to the next contact.
#[utoipa::path(
    put,
    path = "/api/v1/contact-rules",
    tag = "contact",
    security(("bearer" = [])),
    request_body = ContactRulesDoc,
    responses(
        (status = 200, description = "Stored", body = ContactRulesDoc),
        (status = 400, description = "A malformed document: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator changes the contact rules", body = ErrorView)
    )
)]
async fn set_rules(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<ContactRulesDoc>, ApiError> {
    let text = crate::auth::object_text(body)?;
    Ok(Json(contact::set_rules(&state.store, &actor, &text).await?))
}

/// A borrower's opt-outs, as answered.
async fn opt_outs_of(
    state: &AppState,
    actor: &huifang_app::team::Actor,
    borrower: &str,
) -> Result<Json<Vec<OptOutView>>, ApiError> {
    let list = contact::opt_outs(&state.store, actor, borrower).await?;
    Ok(Json(list.iter().map(OptOutView::from).collect()))
}

/// A borrower's opt-outs.
#[utoipa::path(
    get,
    path = "/api/v1/borrowers/{external_id}/opt-outs",
    tag = "contact",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The borrower's external id")),
    responses(
        (status = 200, description = "The borrower's opt-outs", body = [OptOutView]),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not record opt-outs", body = ErrorView),
        (status = 404, description = "No such borrower", body = ErrorView)
    )
)]
async fn opt_outs(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
) -> Result<Json<Vec<OptOutView>>, ApiError> {
    opt_outs_of(&state, &actor, &external_id).await
}

/// Records that a borrower opted out of a channel, or of every contact (`all`); honoured from
/// the next contact.
#[utoipa::path(
    post,
    path = "/api/v1/borrowers/{external_id}/opt-outs",
    tag = "contact",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The borrower's external id")),
    request_body = OptOutRequest,
    responses(
        (status = 201, description = "Recorded", body = [OptOutView]),
        (status = 200, description = "Already recorded: nothing changed", body = [OptOutView]),
        (status = 400, description = "A malformed body or an unknown channel", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not record opt-outs", body = ErrorView),
        (status = 404, description = "No such borrower", body = ErrorView)
    )
)]
async fn opt_out(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Vec<OptOutView>>), ApiError> {
    let req: OptOutRequest = request(body)?;
    let new = contact::set_opt_out(
        &state.store,
        &actor,
        &external_id,
        &req.channel,
        true,
        &req.note,
    )
    .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, opt_outs_of(&state, &actor, &external_id).await?))
}

/// Lifts a borrower's opt-out of a channel (or `all`).
#[utoipa::path(
    delete,
    path = "/api/v1/borrowers/{external_id}/opt-outs/{channel}",
    tag = "contact",
    security(("bearer" = [])),
    params(
        ("external_id" = String, Path, description = "The borrower's external id"),
        ("channel" = String, Path, pattern = "^(phone|sms|email|wechat|visit|all)$", description = "phone, sms, email, wechat, visit, or all")
    ),
    responses(
        (status = 200, description = "The borrower's opt-outs after", body = [OptOutView]),
        (status = 400, description = "An unknown channel", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not record opt-outs", body = ErrorView),
        (status = 404, description = "No such borrower, or no such opt-out", body = ErrorView)
    )
)]
async fn opt_in(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((external_id, channel)): Path<(String, String)>,
) -> Result<Json<Vec<OptOutView>>, ApiError> {
    if !contact::set_opt_out(&state.store, &actor, &external_id, &channel, false, "").await? {
        return Err(ApiError::NotFound(format!(
            "borrower {external_id:?} has no opt-out of {channel}"
        )));
    }
    opt_outs_of(&state, &actor, &external_id).await
}

/// The contacts the rules refused, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/blocked",
    tag = "contact",
    security(("bearer" = [])),
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most; 50 by default)")),
    responses(
        (status = 200, description = "The refused contacts", body = [BlockedContactView]),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn blocked(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<Vec<BlockedContactView>>, ApiError> {
    let m = params(p)?;
    let limit = crate::warnings::limit_param(m.get("limit"), 50, 500)?;
    let list = contact::blocked(&state.store, &actor, limit).await?;
    Ok(Json(list.iter().map(BlockedContactView::from).collect()))
}

/// How long contacts are kept (5 years at least; nothing deletes one), and the recorded and
/// refused contacts by year.
#[utoipa::path(
    get,
    path = "/api/v1/contacts/retention",
    tag = "contact",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The retention report", body = RetentionView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn retention(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<RetentionView>, ApiError> {
    Ok(Json(contact::retention(&state.store, &actor).await?))
}

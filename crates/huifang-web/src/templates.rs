//! Message templates (`huifang_app::templates`): read by every user, set by the administrator,
//! previewed with a loan's facts by the roles that read loans.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use huifang_app::templates::{self, TemplateKey};
use huifang_app::views::{ErrorView, RenderedView, TemplateRequest, TemplateView};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::{Params, params, policy_in_force};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show, set))
        .routes(routes!(preview))
}

/// A template's event, language and channel, as the path names them.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct KeyParams {
    /// reminder_before, reminder_due, overdue_notice, promise_confirmation, welcome or
    /// decision_notice.
    #[param(
        pattern = "^(reminder_before|reminder_due|overdue_notice|promise_confirmation|welcome|decision_notice)$"
    )]
    event: String,
    /// zh or en.
    #[param(pattern = "^(zh|en)$")]
    lang: String,
    /// sms, wechat or email.
    #[param(pattern = "^(sms|wechat|email)$")]
    channel: String,
}

impl KeyParams {
    fn key(&self) -> Result<TemplateKey, ApiError> {
        Ok(TemplateKey::parse(&self.event, &self.lang, &self.channel)?)
    }
}

/// Every template in force: each event, language and channel, the lender's or the default.
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "contact",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The templates in force", body = [TemplateView]),
        (status = 401, description = "No valid token", body = ErrorView)
    )
)]
async fn list(
    State(state): State<AppState>,
    Authed(_actor): Authed,
) -> Result<Json<Vec<TemplateView>>, ApiError> {
    Ok(Json(templates::list(&state.store).await?))
}

/// One template in force, with the fields its event fills.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{event}/{lang}/{channel}",
    tag = "contact",
    security(("bearer" = [])),
    params(KeyParams),
    responses(
        (status = 200, description = "The template in force", body = TemplateView),
        (status = 400, description = "An unknown event, language or channel", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView)
    )
)]
async fn show(
    State(state): State<AppState>,
    Authed(_actor): Authed,
    Path(k): Path<KeyParams>,
) -> Result<Json<TemplateView>, ApiError> {
    let key = k.key()?;
    Ok(Json(templates::show(&state.store, key).await?))
}

/// Sets the lender's template (the administrator).
#[utoipa::path(
    put,
    path = "/api/v1/templates/{event}/{lang}/{channel}",
    tag = "contact",
    security(("bearer" = [])),
    params(KeyParams),
    request_body = TemplateRequest,
    responses(
        (status = 200, description = "Stored", body = TemplateView),
        (status = 400, description = "A malformed template: the part and field are named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator sets templates", body = ErrorView)
    )
)]
async fn set(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(k): Path<KeyParams>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<TemplateView>, ApiError> {
    let key = k.key()?;
    let req: TemplateRequest = request(body)?;
    Ok(Json(
        templates::set(&state.store, &actor, key, &req.subject, &req.body).await?,
    ))
}

/// The message a template would send about a loan today.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{event}/{lang}/{channel}/preview",
    tag = "contact",
    security(("bearer" = [])),
    params(KeyParams, ("loan" = String, Query, min_length = 1, max_length = 64, description = "The loan's external id")),
    responses(
        (status = 200, description = "The message", body = RenderedView),
        (status = 400, description = "An unknown event, language or channel, or no loan given", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 409, description = "The loan has nothing for this event (not overdue, no promise, nothing left to pay)", body = ErrorView)
    )
)]
async fn preview(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(k): Path<KeyParams>,
    p: Params,
) -> Result<Json<RenderedView>, ApiError> {
    let key = k.key()?;
    let m = params(p)?;
    let loan = m
        .get("loan")
        .ok_or_else(|| ApiError::bad_request("loan (the loan's external id) is required"))?;
    let policy = policy_in_force(&state).await?;
    Ok(Json(
        templates::preview(&state.store, &policy, &actor, key, loan).await?,
    ))
}

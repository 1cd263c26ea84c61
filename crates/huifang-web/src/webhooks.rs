//! Events out (`huifang_app::webhooks`), for the administrator: the subscribers, adding one (its
//! secret shown once), a test delivery, the delivery log.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::views::{
    DeliveryList, ErrorView, NewWebhookRequest, NewWebhookView, WebhookChangeRequest, WebhookList,
    WebhookTestView, WebhookView,
};
use huifang_app::webhooks;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::{Params, params};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(change))
        .routes(routes!(test))
        .routes(routes!(log))
}

/// Every subscriber (secrets not shown).
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "intake",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscribers", body = WebhookList),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator manages webhooks", body = ErrorView)
    )
)]
async fn list(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<WebhookList>, ApiError> {
    let all = webhooks::list(&state.store, Some(&actor)).await?;
    Ok(Json(WebhookList::new(&all)))
}

/// Adds a subscriber taking the events of its kinds from now on; its secret (generated unless
/// given) is shown once.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "intake",
    security(("bearer" = [])),
    request_body = NewWebhookRequest,
    responses(
        (status = 201, description = "Added", body = NewWebhookView),
        (status = 400, description = "A malformed body, name, URL, kind or secret: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator manages webhooks", body = ErrorView),
        (status = 409, description = "The name is taken", body = ErrorView)
    )
)]
async fn add(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<NewWebhookView>), ApiError> {
    let req: NewWebhookRequest = request(body)?;
    let (hook, secret) = webhooks::add(
        &state.store,
        Some(&actor),
        &req.name,
        &req.url,
        &req.events.join(","),
        req.secret,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewWebhookView::new(&hook, secret)),
    ))
}

/// Changes a subscriber's address, kinds, or whether it is active (disabled: sent nothing until
/// enabled again, when it gets the events written meanwhile).
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{name}",
    tag = "intake",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The subscriber")),
    request_body = WebhookChangeRequest,
    responses(
        (status = 200, description = "Changed: the subscriber as it now is", body = WebhookView),
        (status = 400, description = "A malformed body, URL or kind: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator manages webhooks", body = ErrorView),
        (status = 404, description = "No such subscriber", body = ErrorView)
    )
)]
async fn change(
    State(state): State<AppState>,
    Authed(actor): Authed,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<WebhookView>, ApiError> {
    let Path(name) = name.map_err(|_| ApiError::bad_request("the name is malformed"))?;
    let req: WebhookChangeRequest = request(body)?;
    let events = req.events.map(|e| e.join(","));
    let hook = webhooks::change(
        &state.store,
        Some(&actor),
        &name,
        req.url.as_deref(),
        events.as_deref(),
        req.active,
    )
    .await?;
    Ok(Json(WebhookView::from(&hook)))
}

/// Queues a test delivery (kind `ping`) to a subscriber.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{name}/test",
    tag = "intake",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The subscriber")),
    responses(
        (status = 202, description = "Queued: the worker delivers it", body = WebhookTestView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator manages webhooks", body = ErrorView),
        (status = 404, description = "No such subscriber", body = ErrorView)
    )
)]
async fn test(
    State(state): State<AppState>,
    Authed(actor): Authed,
    name: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<WebhookTestView>), ApiError> {
    let Path(name) = name.map_err(|_| ApiError::bad_request("the name is malformed"))?;
    let event_id = webhooks::test(&state.store, Some(&actor), &name).await?;
    Ok((StatusCode::ACCEPTED, Json(WebhookTestView { event_id })))
}

/// The delivery log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/deliveries",
    tag = "intake",
    security(("bearer" = [])),
    params(
        ("name" = Option<String>, Query, description = "Only this subscriber's"),
        ("state" = Option<String>, Query, pattern = "^(queued|delivered|failed|dead)$", description = "queued, delivered, failed or dead"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (1 to 1000; 100 by default)")
    ),
    responses(
        (status = 200, description = "The deliveries", body = DeliveryList),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator manages webhooks", body = ErrorView)
    )
)]
async fn log(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<DeliveryList>, ApiError> {
    let m = params(p)?;
    let limit = crate::warnings::limit_param(m.get("limit"), 100, 1_000)?;
    let rows = webhooks::log(
        &state.store,
        Some(&actor),
        m.get("name").map(String::as_str),
        m.get("state").map(String::as_str),
        limit,
    )
    .await?;
    Ok(Json(DeliveryList::new(&rows)))
}

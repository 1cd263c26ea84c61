//! The early-warning rule set: read by the roles that read loans and their warnings, changed by
//! risk officers and the administrator (`huifang_app::rules`). A new set applies from the next
//! close; a refused document names the rule and field and changes nothing.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use huifang_app::rules;
use huifang_app::views::{ErrorView, RuleSetChangeView, RuleSetDoc};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, set))
}

/// The rule set in force, with its version and each rule's.
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "warnings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rule set in force", body = RuleSetDoc),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read warnings", body = ErrorView)
    )
)]
async fn show(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<RuleSetDoc>, ApiError> {
    Ok(Json(rules::show_as(&state.store, &actor).await?))
}

/// Stores the body as the next version of the rule set, in force from the next close (which
/// re-evaluates every loan under it). Rules unchanged keep their version.
#[utoipa::path(
    put,
    path = "/api/v1/rules",
    tag = "warnings",
    security(("bearer" = [])),
    request_body = RuleSetDoc,
    responses(
        (status = 200, description = "Stored, or unchanged", body = RuleSetChangeView),
        (status = 400, description = "A malformed rule set: the rule and field are named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only risk officers and the administrator change the rules", body = ErrorView),
        (status = 409, description = "A daily close is running", body = ErrorView)
    )
)]
async fn set(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<RuleSetChangeView>, ApiError> {
    let text = crate::auth::object_text(body)?;
    let change = rules::set_as(&state.store, &actor, &text).await?;
    Ok(Json(RuleSetChangeView::from(&change)))
}

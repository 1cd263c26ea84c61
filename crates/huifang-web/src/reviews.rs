//! Quality reviews of contacts (质检) for team leads: the team's contacts newest first with
//! their reviews, and a review (score 0 to 100 and a comment) of one contact.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::team;
use huifang_app::views::{ContactReviewPage, ContactReviewView, ErrorView, ReviewRequest};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, request};
use crate::tasks::{Params, flag, params};
use crate::warnings::{limit_param, number};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(contacts))
        .routes(routes!(review))
}

/// The contacts made by members of the caller's team, newest first, with their reviews (team
/// leads).
#[utoipa::path(
    get,
    path = "/api/v1/reviews",
    tag = "tasks",
    security(("bearer" = [])),
    params(
        ("before" = Option<i64>, Query, minimum = 1, description = "Contacts older than this one (the previous page's next_before)"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 200, description = "At most this many (default 50)"),
        ("unreviewed" = Option<bool>, Query, description = "Only contacts without a review")
    ),
    responses(
        (status = 200, description = "A page of contacts", body = ContactReviewPage),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only team leads review contacts", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn contacts(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<ContactReviewPage>, ApiError> {
    let m = params(p)?;
    let before = number::<i64>(m.get("before"), "before")?;
    if before.is_some_and(|b| b < 1) {
        return Err(ApiError::bad_request("before must be 1 or more"));
    }
    let limit = limit_param(m.get("limit"), 50, team::MAX_REVIEW_PAGE)?;
    let (rows, next) =
        team::contacts_to_review(&state.store, &actor, before, limit, flag(&m, "unreviewed")?)
            .await?;
    Ok(Json(ContactReviewPage {
        contacts: rows.iter().map(ContactReviewView::from).collect(),
        next_before: next,
    }))
}

/// Reviews a contact made by a member of the caller's team: a score of 0 to 100 and a comment
/// (team leads); one review per contact.
#[utoipa::path(
    post,
    path = "/api/v1/interactions/{id}/review",
    tag = "tasks",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "The contact's (interaction's) id")),
    request_body = ReviewRequest,
    responses(
        (status = 201, description = "Reviewed", body = ContactReviewView),
        (status = 400, description = "A malformed body, or a score outside 0 to 100", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Not the lead of the team whose member made the contact", body = ErrorView),
        (status = 404, description = "No such contact", body = ErrorView),
        (status = 409, description = "The contact has a review already", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn review(
    State(state): State<AppState>,
    Authed(actor): Authed,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<ContactReviewView>), ApiError> {
    let Path(id) = id.map_err(|_| ApiError::bad_request("the contact id must be an integer"))?;
    let req: ReviewRequest = request(body)?;
    let reviewed = team::review_contact(&state.store, &actor, id, req.score, &req.comment).await?;
    Ok((
        StatusCode::CREATED,
        Json(ContactReviewView::from(&reviewed)),
    ))
}

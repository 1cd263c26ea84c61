//! The book's records a page at a time (`huifang_app::book`): borrowers (masked), payments,
//! interactions, each in id order after a cursor.

use axum::Json;
use axum::extract::State;
use huifang_app::book;
use huifang_app::views::{
    BorrowerCardView, BorrowerPageView, ErrorView, InteractionEntryView, InteractionPageView,
    InteractionView, PaymentEntryView, PaymentPageView,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::tasks::{Params, params};
use crate::warnings::{limit_param, number};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(borrowers))
        .routes(routes!(payments))
        .routes(routes!(interactions))
}

/// The cursor and the page size of a list.
fn page(m: &std::collections::HashMap<String, String>) -> Result<(Option<i64>, usize), ApiError> {
    let after = number::<i64>(m.get("after"), "after")?;
    if after.is_some_and(|a| a < 0) {
        return Err(ApiError::bad_request("after must be 0 or more"));
    }
    Ok((after, limit_param(m.get("limit"), 100, book::MAX_PAGE)?))
}

/// The loan, the cursor and the page size of a list of one loan's records (or all).
fn loan_page(p: Params) -> Result<(Option<String>, Option<i64>, usize), ApiError> {
    let m = params(p)?;
    let (after, limit) = page(&m)?;
    Ok((m.get("loan").cloned(), after, limit))
}

/// Borrowers in id order, ID numbers and mobiles masked, a page at a time (pass `next_after` as
/// `after`): for risk officers and auditors.
#[utoipa::path(
    get,
    path = "/api/v1/borrowers",
    tag = "book",
    security(("bearer" = [])),
    params(
        ("after" = Option<i64>, Query, minimum = 0, description = "The previous page's next_after"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most; 100 by default)")
    ),
    responses(
        (status = 200, description = "A page of borrowers", body = BorrowerPageView),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not list borrowers", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn borrowers(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<BorrowerPageView>, ApiError> {
    let (after, limit) = page(&params(p)?)?;
    let (cards, next_after) = book::borrowers(&state.store, &actor, after, limit).await?;
    Ok(Json(BorrowerPageView {
        borrowers: cards.iter().map(BorrowerCardView::from).collect(),
        next_after,
    }))
}

/// Payments in id order (of one loan, or all), a page at a time: for the roles that read loans.
#[utoipa::path(
    get,
    path = "/api/v1/payments",
    tag = "book",
    security(("bearer" = [])),
    params(
        ("loan" = Option<String>, Query, description = "Only this loan's (its external id)"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The previous page's next_after"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most; 100 by default)")
    ),
    responses(
        (status = 200, description = "A page of payments", body = PaymentPageView),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn payments(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<PaymentPageView>, ApiError> {
    let (loan, after, limit) = loan_page(p)?;
    let (list, next_after) =
        book::payments(&state.store, &actor, loan.as_deref(), after, limit).await?;
    Ok(Json(PaymentPageView {
        payments: list.iter().map(PaymentEntryView::from).collect(),
        next_after,
    }))
}

/// Interactions in id order (of one loan, or all), a page at a time: risk officers and auditors
/// every loan's; a team lead one loan's at a time, of their team's borrowers.
#[utoipa::path(
    get,
    path = "/api/v1/interactions",
    tag = "book",
    security(("bearer" = [])),
    params(
        ("loan" = Option<String>, Query, description = "Only this loan's (its external id)"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The previous page's next_after"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most; 100 by default)")
    ),
    responses(
        (status = 200, description = "A page of interactions", body = InteractionPageView),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller may not read these interactions", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn interactions(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<InteractionPageView>, ApiError> {
    let (loan, after, limit) = loan_page(p)?;
    let (list, next_after) =
        book::interactions(&state.store, &actor, loan.as_deref(), after, limit).await?;
    Ok(Json(InteractionPageView {
        interactions: list
            .iter()
            .map(|(loan, i)| InteractionEntryView {
                loan: loan.clone(),
                task_id: i.interaction.task_id.map(|t| t.get()),
                interaction: InteractionView::from(i),
            })
            .collect(),
        next_after,
    }))
}

//! Reports of the portfolio for the roles that read loans: the five-tier classification report
//! (五级分类) between two dates with its migration matrix (`huifang_app::status::tiers`).

use axum::Json;
use axum::extract::State;
use huifang_app::status;
use huifang_app::views::{ErrorView, TierReportView};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::tasks::{Params, date_param, params, policy_in_force};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tiers))
}

/// Loans and outstanding principal per tier on two dates, and the loans (with their balance on
/// the first date) that moved from each tier to each tier; every loan replayed as of each date.
#[utoipa::path(
    get,
    path = "/api/v1/reports/tiers",
    tag = "loans",
    security(("bearer" = [])),
    params(
        ("from" = String, Query, format = Date, description = "The first date (YYYY-MM-DD)"),
        ("to" = Option<String>, Query, format = Date, description = "The second date (default: the business date)")
    ),
    responses(
        (status = 200, description = "The report", body = TierReportView),
        (status = 400, description = "A missing or malformed date", body = ErrorView),
        (status = 422, description = "Dates out of order, after the business date, or before 1900", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn tiers(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<TierReportView>, ApiError> {
    let m = params(p)?;
    let first = date_param(&m, "from")?.ok_or_else(|| ApiError::bad_request("from is required"))?;
    let second = date_param(&m, "to")?;
    let policy = policy_in_force(&state).await?;
    let (first, second, report) =
        status::tiers_as(&state.store, &actor, &policy, first, second).await?;
    Ok(Json(TierReportView::new(first, second, &report)))
}

//! The portfolio for the roles that read loans: its loans page by page, filtered by bucket,
//! classification and warning level (`huifang_app::status::page`), and the five-tier
//! classification report (五级分类) between two dates with its migration matrix
//! (`huifang_app::status::tiers`); the reports over time (`huifang_app::analytics`) as JSON, CSV
//! or an .xlsx workbook.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use huifang_app::analytics::{self, Headers, Report, ReportQuery};
use huifang_app::status;
use huifang_app::views::{ErrorView, LoanPageView, StatusLineView, TierReportView};
use huifang_core::LoanId;
use huifang_store::StatusFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::tasks::{Params, date_param, params, policy_in_force};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tiers))
        .routes(routes!(over_time))
        .routes(routes!(loans))
}

/// The loans' status lines in loan order, a page at a time (pass `next_after` as `after`),
/// filtered by bucket, classification and warning level.
#[utoipa::path(
    get,
    path = "/api/v1/loans",
    tag = "loans",
    security(("bearer" = [])),
    params(
        ("bucket" = Option<String>, Query, pattern = "^M[0-9]{1,2}\\+?$", description = "Only this bucket: M0, M1, … M7+"),
        ("classification" = Option<String>, Query, pattern = "^(normal|special_mention|substandard|doubtful|loss)$", description = "Only this tier"),
        ("warning_level" = Option<u8>, Query, minimum = 0, maximum = 3, description = "Only this warning level (0: none)"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The previous page's next_after"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "At most this many (500 at most; 100 by default)")
    ),
    responses(
        (status = 200, description = "A page of loans", body = LoanPageView),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn loans(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<LoanPageView>, ApiError> {
    let m = params(p)?;
    let parsed = |name: &str| -> Result<Option<String>, ApiError> { Ok(m.get(name).cloned()) };
    let bucket = parsed("bucket")?
        .map(|b| {
            b.parse()
                .map_err(|e: String| ApiError::bad_request(format!("bucket: {e}")))
        })
        .transpose()?;
    let classification = parsed("classification")?
        .map(|c| {
            c.parse()
                .map_err(|e: String| ApiError::bad_request(format!("classification: {e}")))
        })
        .transpose()?;
    let warning_level =
        match crate::warnings::number::<u8>(m.get("warning_level"), "warning_level")? {
            Some(level @ 4..) => {
                return Err(ApiError::bad_request(format!(
                    "warning_level must be 0 to 3, got {level}"
                )));
            }
            level => level,
        };
    let after = crate::warnings::number::<i64>(m.get("after"), "after")?;
    if after.is_some_and(|a| a < 0) {
        return Err(ApiError::bad_request("after must be 0 or more"));
    }
    let limit = crate::warnings::limit_param(m.get("limit"), 100, status::MAX_PAGE)?;
    let filter = StatusFilter {
        bucket,
        classification,
        warning_level,
    };
    let (lines, next) =
        status::page(&state.store, &actor, &filter, after.map(LoanId), limit).await?;
    Ok(Json(LoanPageView {
        loans: lines.iter().map(StatusLineView::from).collect(),
        next_after: next.map(LoanId::get),
    }))
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
        status::tiers_as(state.store.for_reports(), &actor, &policy, first, second).await?;
    Ok(Json(TierReportView::new(first, second, &report)))
}

/// A report over time: delinquency (as of `to`, with its monthly trend), roll-rates, vintage,
/// collection or warnings (over `from`..`to`), as JSON (default), CSV (`format=csv`, one sheet
/// with `sheet=`) or an .xlsx workbook (`format=xlsx`, headers in Chinese or `lang=en`).
#[utoipa::path(
    get,
    path = "/api/v1/reports/{name}",
    tag = "loans",
    security(("bearer" = [])),
    params(
        ("name" = String, Path, pattern = "^(delinquency|roll-rates|vintage|collection|warnings)$", description = "The report"),
        ("from" = Option<String>, Query, format = Date, description = "The first business date (each report has its default)"),
        ("to" = Option<String>, Query, format = Date, description = "The last business date, or the date delinquency is as of (default: the business date)"),
        ("months" = Option<u32>, Query, minimum = 1, maximum = 120, description = "Month-ends in a trend or range"),
        ("format" = Option<String>, Query, pattern = "^(json|csv|xlsx)$", description = "json (default), csv or xlsx"),
        ("sheet" = Option<String>, Query, description = "csv: only this sheet"),
        ("lang" = Option<String>, Query, pattern = "^(zh|en)$", description = "xlsx: the headers' language (default zh)")
    ),
    responses(
        (status = 200, description = "The report", content(
            (Report = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "A malformed parameter", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView),
        (status = 404, description = "No such report, or no such sheet in it", body = ErrorView),
        (status = 422, description = "Dates out of order, after the business date, or before 1900", body = ErrorView)
    )
)]
async fn over_time(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(name): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let m = params(p)?;
    let months = crate::warnings::number::<u32>(m.get("months"), "months")?;
    let query = ReportQuery {
        from: date_param(&m, "from")?,
        to: date_param(&m, "to")?,
        months,
    };
    let headers = match m.get("lang").map(String::as_str) {
        None | Some("zh") => Headers::Chinese,
        Some("en") => Headers::English,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "lang must be zh or en, got {other:?}"
            )));
        }
    };
    let format = m.get("format").map_or("json", String::as_str);
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(ApiError::bad_request(format!(
            "format must be json, csv or xlsx, got {format:?}"
        )));
    }
    let policy = policy_in_force(&state).await?;
    let report =
        analytics::report_as(state.store.for_reports(), &actor, &policy, &name, query).await?;
    Ok(match format {
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            analytics::to_csv(&report, m.get("sheet").map(String::as_str))?,
        )
            .into_response(),
        "xlsx" => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.xlsx\"", report.name),
                ),
            ],
            analytics::to_xlsx(&report, headers)?,
        )
            .into_response(),
        _ => Json(report).into_response(),
    })
}

//! Vehicle monitoring (`huifang_app::vehicles`): GPS vendors' signed tracker events, a loan's
//! vehicle, the monitoring's rules, the known places and the log of location views.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use huifang_app::vehicles;
use huifang_app::views::{
    ErrorView, LocationViewView, MonitoringDoc, PlaceView, TrackerIngestView, VehicleView,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::notify::header;
use crate::tasks::{Params, params, policy_in_force};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tracker_events))
        .routes(routes!(vehicle))
        .routes(routes!(show_rules, set_rules))
        .routes(routes!(places))
        .routes(routes!(location_views))
}

/// A GPS vendor's tracker events: bound to loans by VIN, judged at once into risk signals the
/// warning rules weigh. Signed: `X-Huifang-Timestamp` (Unix seconds, within 5 minutes) and
/// `X-Huifang-Signature` (hex HMAC-SHA256 of "{timestamp}.{body}" with the monitoring's webhook
/// secret); a replay is refused. An event sent again (same tracker, time and event) is kept once.
#[utoipa::path(
    post,
    path = "/api/v1/trackers/events",
    tag = "vehicles",
    params(
        ("X-Huifang-Timestamp" = String, Header, description = "Unix seconds"),
        ("X-Huifang-Signature" = String, Header, description = "hex HMAC-SHA256")
    ),
    request_body(content = Value, description = "{\"events\": [{\"device_id\", \"vin\", \"tracker\": \"wired\" | \"wireless\", \"time\": RFC 3339, \"lat\", \"lon\", \"event\": \"position\" | \"offline\" | \"power_cut\" | \"tamper\"}, …]} (1 to 5,000; every field a string)"),
    responses(
        (status = 200, description = "Kept and judged", body = TrackerIngestView),
        (status = 400, description = "A malformed body or event: the event's index and field are named; nothing kept", body = ErrorView),
        (status = 401, description = "A bad signature, a stale timestamp or a replay: nothing kept", body = ErrorView)
    )
)]
async fn tracker_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TrackerIngestView>, ApiError> {
    let policy = policy_in_force(&state).await?;
    let view = vehicles::webhook(
        &state.store,
        &policy,
        &header(&headers, "x-huifang-timestamp"),
        &header(&headers, "x-huifang-signature"),
        &body,
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(view))
}

/// A loan's vehicle: its trackers' last positions, the stay being timed, the signals its
/// trackers raised, its latest events. Risk officers, and collectors while the loan has an open
/// repossession case; every view is logged.
#[utoipa::path(
    get,
    path = "/api/v1/loans/{external_id}/vehicle",
    tag = "vehicles",
    security(("bearer" = [])),
    params(("external_id" = String, Path, description = "The loan's external id")),
    responses(
        (status = 200, description = "The vehicle", body = VehicleView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller may not see this vehicle's locations", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView)
    )
)]
async fn vehicle(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(external_id): Path<String>,
) -> Result<Json<VehicleView>, ApiError> {
    Ok(Json(
        vehicles::vehicle(&state.store, &actor, &external_id).await?,
    ))
}

/// The monitoring's rules (the webhook secret hidden): risk officers and administrators.
#[utoipa::path(
    get,
    path = "/api/v1/vehicle-monitoring",
    tag = "vehicles",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rules", body = MonitoringDoc),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not set rules", body = ErrorView)
    )
)]
async fn show_rules(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<MonitoringDoc>, ApiError> {
    Ok(Json(vehicles::show_settings(&state.store, &actor).await?))
}

/// Replaces the monitoring's rules; a secret sent as "********" keeps the one kept.
#[utoipa::path(
    put,
    path = "/api/v1/vehicle-monitoring",
    tag = "vehicles",
    security(("bearer" = [])),
    request_body = MonitoringDoc,
    responses(
        (status = 200, description = "Stored; the secret hidden", body = MonitoringDoc),
        (status = 400, description = "A malformed document: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not set rules", body = ErrorView)
    )
)]
async fn set_rules(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<MonitoringDoc>, ApiError> {
    let text = crate::auth::object_text(body)?;
    Ok(Json(
        vehicles::set_settings(&state.store, &actor, &text).await?,
    ))
}

/// The known pawn shops and used-car markets (imported as `places.csv`).
#[utoipa::path(
    get,
    path = "/api/v1/places",
    tag = "vehicles",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The places", body = [PlaceView]),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role does not read loans", body = ErrorView)
    )
)]
async fn places(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<Vec<PlaceView>>, ApiError> {
    Ok(Json(vehicles::places(&state.store, &actor).await?))
}

/// Who saw which vehicle's locations, newest first (auditors).
#[utoipa::path(
    get,
    path = "/api/v1/location-views",
    tag = "vehicles",
    security(("bearer" = [])),
    params(("loan" = Option<String>, Query, description = "Only this loan's (its external id)")),
    responses(
        (status = 200, description = "The views", body = [LocationViewView]),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only auditors read the log", body = ErrorView),
        (status = 404, description = "No such loan", body = ErrorView)
    )
)]
async fn location_views(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<Vec<LocationViewView>>, ApiError> {
    let m = params(p)?;
    Ok(Json(
        vehicles::location_views(&state.store, &actor, m.get("loan").map(String::as_str)).await?,
    ))
}

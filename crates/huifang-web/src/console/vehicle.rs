//! A loan's vehicle as its GPS trackers see it (`huifang_app::vehicles::vehicle`): the trackers'
//! last positions, the stay being timed, the signals and the latest events. Locations are
//! shown only to those the core lets see them; every view is logged, and auditors read the log
//! here too.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use huifang_app::vehicles;
use huifang_app::views::{LocationViewView, VehicleView};

use super::{Chrome, ConsoleError, Viewer, page};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/loans/{id}/vehicle", get(vehicle))
        .route("/audit/locations", get(location_views))
}

#[derive(Template)]
#[template(path = "console/vehicle.html")]
struct VehiclePage {
    c: Chrome,
    v: VehicleView,
}

async fn vehicle(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let v = vehicles::vehicle(&state.store, &viewer.actor, &id).await?;
    page(&VehiclePage {
        c: viewer.chrome("Vehicle and trackers", "/loans"),
        v,
    })
}

#[derive(Template)]
#[template(path = "console/location_views.html")]
struct LocationViewsPage {
    c: Chrome,
    loan: String,
    views: Vec<LocationViewView>,
}

/// Who saw which vehicle's locations, newest first (auditors), of one loan or of all.
async fn location_views(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let loan = q
        .get("loan")
        .map(|l| l.trim().to_string())
        .unwrap_or_default();
    let views = vehicles::location_views(
        &state.store,
        &viewer.actor,
        Some(loan.as_str()).filter(|l| !l.is_empty()),
    )
    .await?;
    page(&LocationViewsPage {
        c: viewer.chrome("Location views", "/audit/locations"),
        loan,
        views,
    })
}

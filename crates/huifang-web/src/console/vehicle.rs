//! A loan's vehicle as its GPS trackers see it (`huifang_app::vehicles::vehicle`): the trackers'
//! last positions, the stay being timed, the signals and the latest events. Locations are
//! shown only to those the core lets see them; every view is logged.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use huifang_app::vehicles;
use huifang_app::views::VehicleView;

use super::{Chrome, ConsoleError, Viewer, page};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/loans/{id}/vehicle", get(vehicle))
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

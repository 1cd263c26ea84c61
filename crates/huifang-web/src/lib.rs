//! Huifang's HTTP API: `/api/v1`, JSON, described by the OpenAPI document it serves at
//! `/api/v1/openapi.json`.
//!
//! One module per area (`ledger`, `documents`, `meta`); every handler returns
//! `Result<_, ApiError>`, whose `IntoResponse` answers `{"error": code, "message": …}` and logs,
//! without leaking, every internal error. The routes here carry no personal data and need no
//! login; authenticated areas are added as further modules behind their own middleware.
//! The web crate holds no business rule: it parses requests and calls `huifang_app`.

mod auth;
mod documents;
mod error;
mod ledger;
mod meta;
mod tasks;

use std::net::SocketAddr;

use axum::Router;
use huifang_store::Store;
use tokio::net::TcpListener;

pub use error::ApiError;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
}

/// The whole API.
pub fn router(store: Store) -> Router {
    let state = AppState { store };
    Router::new()
        .merge(meta::routes())
        .merge(ledger::routes())
        .merge(documents::routes())
        .merge(auth::routes())
        .merge(tasks::routes())
        .fallback(meta::not_found)
        .with_state(state)
}

/// Binds `addr` and serves the API until the process ends.
pub async fn serve(store: Store, addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_listener(store, listener).await
}

/// Serves the API on a bound listener (bind `127.0.0.1:0` to get a free port).
pub async fn serve_listener(store: Store, listener: TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(store)).await
}

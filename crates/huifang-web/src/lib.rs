//! Huifang's HTTP API: `/api/v1`, JSON, described by the OpenAPI document it serves at
//! `/api/v1/openapi.json`.
//!
//! One module per area (`meta`, `ledger`, `documents`, `auth`, `tasks`, `rules`, `warnings`, `reports`, `decisions`). Every route is
//! registered through `utoipa_axum::routes!` from a handler annotated with `#[utoipa::path]`, so
//! the router and the OpenAPI document are built from the same list and cannot disagree; the
//! request and response bodies are `huifang_app::views` types, whose schemas the document
//! carries. Every handler returns `Result<_, ApiError>`, whose `IntoResponse` answers
//! `{"error": code, "message": …}` and logs, without leaking, every internal error. The ledger,
//! document-check and health routes carry no personal data and need no login; the others take a
//! bearer token (`auth::Authed`). The web crate holds no business rule: it parses requests and
//! calls `huifang_app`.

mod admin;
mod assistant;
mod auth;
mod book;
mod cases;
mod console;
mod contact;
mod decisions;
mod documents;
mod error;
mod guard;
mod intake;
mod ledger;
mod meta;
mod notify;
mod reports;
mod reviews;
mod rules;
mod score;
mod tasks;
mod templates;
mod users;
mod vehicles;
mod warnings;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use huifang_app::views::ErrorView;
use huifang_store::Store;
use tokio::net::TcpListener;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;
pub use guard::HttpConfig;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    guard: Arc<guard::Guard>,
    /// The intake's writer: concurrent pushes written together.
    intake: huifang_app::intake::Coalescer,
    /// The console dashboard's portfolio summary, computed at most every 30 seconds.
    portfolio: Arc<console::PortfolioCache>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Huifang API",
        version = "1",
        description = "Huifang (回访) post-loan management. The ledger and document-check routes carry no personal data and need no login; registering a document needs one. Errors are JSON objects {\"error\": code, \"message\": text}. Every other route needs `Authorization: Bearer <token>`: a session token from POST /api/v1/auth/login or a per-user API token (`huifang user token`). 401 without a valid token, 403 when the caller's role or team does not allow the request; ID numbers and mobiles are masked unless the role may reveal them (team lead, risk officer), and every reveal is logged. Money is a decimal string with two places, dates are YYYY-MM-DD."
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorView)),
    tags(
        (name = "meta", description = "Health and this document"),
        (name = "ledger", description = "The tamper-evident record: checkpoints, entries and proofs (public)"),
        (name = "documents", description = "Documents anchored by their SHA-256 in the record"),
        (name = "auth", description = "Sessions and the caller"),
        (name = "tasks", description = "Follow-up tasks, outcomes and the team's figures"),
        (name = "loans", description = "Loans, for the roles that read them"),
        (name = "book", description = "The book's borrowers (masked), payments and interactions, a page at a time"),
        (name = "warnings", description = "Early warnings and the rule set that raises them"),
        (name = "cases", description = "Repossession and legal cases and their steps"),
        (name = "contact", description = "The contact rules, borrowers' opt-outs, addresses and emergency contacts, the contacts the rules refused, and message templates"),
        (name = "intake", description = "Core banking pushes borrowers, loans and payments (one or a batch of up to 1,000, all or nothing) and import files; idempotent by external id and by Idempotency-Key"),
        (name = "messages", description = "Messages to borrowers through the outbox: the messages and their report, the notification rules, the channels' connections, calls placed for agents, providers' signed callbacks"),
        (name = "assistant", description = "The follow-up assistant: its rules, the telephony provider's signed IVR webhook, a pass on demand, a task's conversation and the report of its flows"),
        (name = "vehicles", description = "Vehicle monitoring: GPS vendors' signed tracker events, a loan's vehicle (locations for risk officers and repossession agents only, every view logged), the rules, the known places, the log of location views")
    )
)]
struct ApiDoc;

/// The `bearer` security scheme the authenticated routes name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token (POST /api/v1/auth/login) or a per-user API token",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route with its OpenAPI description.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(meta::routes())
        .merge(ledger::routes())
        .merge(documents::routes())
        .merge(auth::routes())
        .merge(tasks::routes())
        .merge(rules::routes())
        .merge(warnings::routes())
        .merge(reports::routes())
        .merge(score::routes())
        .merge(reviews::routes())
        .merge(book::routes())
        .merge(decisions::routes())
        .merge(cases::routes())
        .merge(contact::routes())
        .merge(templates::routes())
        .merge(notify::routes())
        .merge(users::routes())
        .merge(admin::routes())
        .merge(intake::routes())
        .merge(webhooks::routes())
        .merge(vehicles::routes())
        .merge(assistant::routes())
}

/// The OpenAPI document of the API, as JSON: generated from the same route list the router serves,
/// with the intake routes' links.
pub fn openapi() -> serde_json::Value {
    let mut doc = serde_json::to_value(api().into_openapi()).unwrap_or_default();
    intake::link(&mut doc);
    doc
}

/// The largest body a route takes unless it says otherwise (documents, imports and intake
/// batches take more).
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// The whole API, with the default limits.
pub fn router(store: Store) -> Router {
    router_with(store, HttpConfig::default())
}

/// The whole API behind the guard (`guard.rs`: limits, security headers, access log, denial
/// record) and, when origins are configured, CORS for them alone.
pub fn router_with(store: Store, config: HttpConfig) -> Router {
    let cors = cors(&config.cors_origins);
    let warm = config.warm_dashboard;
    let state = AppState {
        intake: huifang_app::intake::Coalescer::new(store.clone()),
        portfolio: Arc::default(),
        store,
        guard: Arc::new(guard::Guard::new(config)),
    };
    if warm && let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let (cache, store) = (
            Arc::clone(&state.portfolio),
            state.store.for_reports().clone(),
        );
        runtime.spawn(async move { cache.warm(&store).await });
    }
    let (routes, _) = api().split_for_parts();
    let app = routes
        .merge(console::routes())
        .route_layer(axum::middleware::from_fn(guard::route_seen))
        .fallback(meta::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state);
    match cors {
        Some(layer) => app.layer(layer),
        None => app,
    }
}

/// CORS for the configured origins; none: closed (a browser on another origin may not call the
/// API).
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    if allowed.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(allowed)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("idempotency-key"),
            ]),
    )
}

/// Binds `addr` and serves the API until the process ends.
pub async fn serve(store: Store, addr: SocketAddr, config: HttpConfig) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    serve_with(store, listener, config).await
}

/// Serves the API on a bound listener (bind `127.0.0.1:0` to get a free port), default limits.
pub async fn serve_listener(store: Store, listener: TcpListener) -> std::io::Result<()> {
    serve_with(store, listener, HttpConfig::default()).await
}

/// Serves the API on a bound listener with `config`'s limits.
pub async fn serve_with(
    store: Store,
    listener: TcpListener,
    config: HttpConfig,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router_with(store, config).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

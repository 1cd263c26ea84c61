//! What every request passes through: a bound on requests in flight and on each one's time
//! (503 when exceeded, in the API's error format), a per-address rate on the public document
//! check shared by every server of the database (`Store::take_token`), the security headers, the
//! access log (method, route template, status, time, user id: no query string, no body, no
//! personal data) and the record of every request refused for the caller's role or team
//! (`huifang_app::team::record_denial`).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use huifang_app::team::{self, Actor};
use tokio::sync::Semaphore;

use crate::{ApiError, AppState};

/// The limits of the HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Longest a request may take before it is answered 503 (its work is dropped: every write
    /// is one transaction, so nothing half-done remains).
    pub request_timeout: Duration,
    /// Requests handled at once; more are answered 503 at once rather than queued.
    pub max_in_flight: usize,
    /// Public document checks per minute from one address (each hashes an upload).
    pub public_checks_per_minute: u32,
    /// Origins allowed to call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// Mark the console's cookies Secure (the server is reached over TLS, through a proxy that
    /// does not say so with `X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
    /// How long a console session lasts without use.
    pub console_idle: Duration,
    /// Compute the dashboard's portfolio summary as the server starts (`huifang serve`), so
    /// that its first page is answered from it.
    pub warm_dashboard: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_timeout: Duration::from_secs(60),
            max_in_flight: 512,
            public_checks_per_minute: 30,
            cors_origins: Vec::new(),
            secure_cookies: false,
            console_idle: Duration::from_secs(
                u64::try_from(huifang_app::team::CONSOLE_IDLE_MINUTES * 60).unwrap_or(1800),
            ),
            warm_dashboard: false,
        }
    }
}

/// The routes without login that do work per request, rate-limited per address.
const RATE_LIMITED: [&str; 1] = ["/api/v1/documents/check"];

/// The headers every answer carries: the API serves JSON only, never to be framed, sniffed,
/// cached or sent on as a referrer.
const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
];

/// Shared by every request of one server.
#[derive(Debug)]
pub struct Guard {
    config: HttpConfig,
    in_flight: Arc<Semaphore>,
}

impl Guard {
    pub fn new(config: HttpConfig) -> Guard {
        Guard {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config,
        }
    }

    /// Whether the console's cookies are marked Secure whatever the request says.
    pub fn secure_cookies(&self) -> bool {
        self.config.secure_cookies
    }

    /// How long a console session lasts without use.
    pub fn console_idle(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.console_idle)
            .unwrap_or_else(|_| chrono::Duration::minutes(huifang_app::team::CONSOLE_IDLE_MINUTES))
    }

    /// Takes one of `addr`'s public checks from the bucket every server of the database shares;
    /// how long to wait when there is none left.
    async fn take(&self, store: &huifang_store::Store, addr: IpAddr) -> Result<(), ApiError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let key = format!("documents/check {addr}");
        match store
            .take_token(&key, self.config.public_checks_per_minute, now_ms)
            .await
        {
            Ok(None) => Ok(()),
            Ok(Some(wait_ms)) => Err(ApiError::TooMany {
                message: format!(
                    "at most {} checks a minute from one address",
                    self.config.public_checks_per_minute
                ),
                retry_after: u64::try_from(wait_ms).unwrap_or(0).div_ceil(1000).max(1),
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot take from the rate limit's bucket");
                Err(ApiError::Busy(
                    "the rate limit could not be read: retry shortly".into(),
                ))
            }
        }
    }
}

/// What routing and authentication learn of a request, for the guard to log and record: the
/// route's template (filled by [`route_seen`]) and the caller (filled by `auth::Authed`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen(Arc<Mutex<(Option<String>, Option<Actor>)>>);

impl Seen {
    pub(crate) fn caller(&self, actor: &Actor) {
        if let Ok(mut seen) = self.0.lock() {
            seen.1 = Some(actor.clone());
        }
    }

    fn route(&self, template: &str) {
        if let Ok(mut seen) = self.0.lock() {
            seen.0 = Some(template.to_string());
        }
    }

    fn get(&self) -> (Option<String>, Option<Actor>) {
        self.0.lock().map(|seen| seen.clone()).unwrap_or_default()
    }
}

/// Notes the matched route's template (a route layer: it runs after routing).
pub async fn route_seen(req: Request, next: Next) -> Response {
    if let (Some(seen), Some(path)) = (
        req.extensions().get::<Seen>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        seen.route(path.as_str());
    }
    next.run(req).await
}

/// Set on a 403 answered for the caller's role or team: the reason, for the denial record.
#[derive(Debug, Clone)]
pub(crate) struct Denied(pub String);

/// The middleware: see the module's description.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let guard = Arc::clone(&state.guard);
    let seen = Seen::default();

    let mut response = 'answer: {
        let Ok(_permit) = Arc::clone(&guard.in_flight).try_acquire_owned() else {
            break 'answer ApiError::Busy(
                "the server is handling as many requests as it may: retry shortly".into(),
            )
            .into_response();
        };
        if RATE_LIMITED.contains(&path.as_str()) {
            let addr = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
            if let Err(refused) = guard.take(&state.store, addr).await {
                break 'answer refused.into_response();
            }
        }
        req.extensions_mut().insert(seen.clone());
        let answer = tokio::time::timeout(guard.config.request_timeout, next.run(req)).await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(_) => ApiError::Busy(format!(
                "the request took longer than {} s and was abandoned: nothing of it was written",
                guard.config.request_timeout.as_secs()
            ))
            .into_response(),
        };
        if let (Some(Denied(reason)), (_, Some(actor))) =
            (answer.extensions().get::<Denied>(), seen.get())
        {
            let action = format!("{method} {path}");
            if let Err(e) = team::record_denial(&state.store, &actor, &action, reason).await {
                tracing::error!(error = %e, "cannot record a denial");
            }
        }
        answer
    };
    let headers = response.headers_mut();
    for (name, value) in &SECURITY_HEADERS {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
    }
    let (route, actor) = seen.get();
    tracing::info!(
        target: "huifang::access",
        %method,
        route = route.as_deref().unwrap_or("(no route)"),
        user = actor.map(|a| a.id().get()),
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis(),
    );
    response
}

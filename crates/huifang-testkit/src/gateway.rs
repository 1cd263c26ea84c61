//! A message gateway on loopback for the channels' tests and benchmark: it speaks Huifang's
//! gateway protocol (`POST /messages`, `POST /calls`, a bearer token, an `Idempotency-Key`
//! header, `{"id": …}` in answer) and misbehaves on purpose: a share of requests fail with 503
//! before doing anything, a share hang past the client's timeout after the message was taken
//! (the sender never learns it went). It counts what reached the borrower once per idempotency
//! key ("in effect") and every request it saw.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

/// How the gateway misbehaves: per mille of requests that fail (503, nothing done) and that
/// hang for `hang` after taking the message. Which requests do is a hash of the key and how
/// often it was asked, so a run is reproducible.
#[derive(Debug, Clone, Copy)]
pub struct Flaky {
    pub fail_permille: u64,
    pub hang_permille: u64,
    pub hang: Duration,
}

impl Flaky {
    /// A gateway that always answers at once.
    pub const RELIABLE: Flaky = Flaky {
        fail_permille: 0,
        hang_permille: 0,
        hang: Duration::ZERO,
    };
}

/// What the gateway saw.
#[derive(Debug, Default, Clone)]
pub struct GatewayLog {
    /// Per idempotency key: the message as it took it (path and JSON body) and how many times it
    /// was delivered (1, whatever the repeats).
    pub delivered: HashMap<String, (String, Value, u32)>,
    /// Per idempotency key: every request, failed ones included.
    pub requests: HashMap<String, u32>,
    /// Requests refused for a missing or wrong token, or a missing key.
    pub refused: u32,
}

#[derive(Clone)]
struct GatewayState {
    token: String,
    flaky: Flaky,
    log: Arc<Mutex<GatewayLog>>,
}

/// A running gateway.
pub struct FakeGateway {
    pub addr: SocketAddr,
    pub token: String,
    log: Arc<Mutex<GatewayLog>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeGateway {
    /// Starts a gateway on a free loopback port, answering to `token`.
    pub async fn start(token: &str, flaky: Flaky) -> FakeGateway {
        let log = Arc::new(Mutex::new(GatewayLog::default()));
        let state = GatewayState {
            token: token.to_string(),
            flaky,
            log: Arc::clone(&log),
        };
        let app = axum::Router::new()
            .route("/messages", post(message))
            .route("/calls", post(call))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGateway {
            addr,
            token: token.to_string(),
            log,
            server,
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What it saw so far.
    pub fn log(&self) -> GatewayLog {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub(crate) fn roll(key: &str, n: u32) -> u64 {
    // FNV-1a of the key and the request's number: reproducible, spread evenly
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(n.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 1000
}

async fn take(
    state: GatewayState,
    path: &str,
    headers: HeaderMap,
    body: Value,
) -> (StatusCode, Json<Value>) {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if token != format!("Bearer {}", state.token) || key.is_empty() {
        state.log.lock().unwrap().refused += 1;
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "bad token or no key"})),
        );
    }
    let n = {
        let mut log = state.log.lock().unwrap();
        let n = log.requests.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let r = roll(&key, n);
    if r < state.flaky.fail_permille {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "try again"})),
        );
    }
    let id = format!("gw-{}", roll(&key, 0));
    {
        let mut log = state.log.lock().unwrap();
        let entry = log
            .delivered
            .entry(key.clone())
            .or_insert_with(|| (path.to_string(), body, 0));
        if entry.2 == 0 {
            entry.2 = 1; // a repeated key is answered, never delivered again
        }
    }
    if r < state.flaky.fail_permille + state.flaky.hang_permille {
        tokio::time::sleep(state.flaky.hang).await;
    }
    (
        StatusCode::OK,
        Json(serde_json::json!({ "id": format!("{id}-{key}") })),
    )
}

async fn message(
    State(state): State<GatewayState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    take(state, "/messages", headers, body).await
}

async fn call(
    State(state): State<GatewayState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    take(state, "/calls", headers, body).await
}

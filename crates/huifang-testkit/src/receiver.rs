//! A webhook receiver on loopback for the events-out tests: `POST /hook` takes a delivery, and
//! a share of requests fail with 500 before anything is applied. It keeps every request as it
//! came (headers and raw body, so that a test checks each signature itself) and counts the
//! successful requests of each delivery by its `X-Huifang-Delivery` id, by which a receiver
//! applies each once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use crate::gateway::roll;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub delivery: String,
    pub event: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// Whether the receiver failed it (500) instead of applying it.
    pub failed: bool,
}

/// What the receiver saw.
#[derive(Debug, Default, Clone)]
pub struct ReceiverLog {
    /// Every request, in arrival order.
    pub requests: Vec<Received>,
    /// How many times each delivery was answered 2xx (a receiver applies it on the first and
    /// acknowledges the others).
    pub applied: HashMap<String, u32>,
}

#[derive(Clone)]
struct ReceiverState {
    fail_permille: u64,
    log: Arc<Mutex<ReceiverLog>>,
}

/// A running receiver.
pub struct WebhookReceiver {
    pub addr: SocketAddr,
    log: Arc<Mutex<ReceiverLog>>,
    server: tokio::task::JoinHandle<()>,
}

impl WebhookReceiver {
    /// Starts a receiver on a free loopback port failing `fail_permille` of requests (which,
    /// a hash of the delivery id and its attempt, so a run is reproducible).
    pub async fn start(fail_permille: u64) -> WebhookReceiver {
        let log = Arc::new(Mutex::new(ReceiverLog::default()));
        let state = ReceiverState {
            fail_permille,
            log: Arc::clone(&log),
        };
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        WebhookReceiver { addr, log, server }
    }

    /// The subscriber URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// What it saw so far.
    pub fn log(&self) -> ReceiverLog {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn hook(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let delivery = header(&headers, "x-huifang-delivery");
    let mut log = state.log.lock().unwrap();
    let attempt = log
        .requests
        .iter()
        .filter(|r| r.delivery == delivery)
        .count();
    let failed = roll(&delivery, u32::try_from(attempt).unwrap_or(u32::MAX)) < state.fail_permille;
    log.requests.push(Received {
        delivery: delivery.clone(),
        event: header(&headers, "x-huifang-event"),
        timestamp: header(&headers, "x-huifang-timestamp"),
        signature: header(&headers, "x-huifang-signature"),
        body: body.to_vec(),
        failed,
    });
    if failed {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    *log.applied.entry(delivery).or_insert(0) += 1;
    StatusCode::NO_CONTENT
}

//! A burst of wrong-password logins (argon2 is slow on purpose) does not stall the server's other
//! requests: passwords are hashed on the blocking pool, one per core at a time, never on the
//! async runtime's threads. Runs alone (`.config/nextest.toml`), on a runtime of two workers as
//! `huifang serve` has on a 2-core machine.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "../../huifang-app/tests/support/team_fixture.rs"]
mod support;

mod api;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use api::Api;
use huifang_testkit::Dbs;
use reqwest::StatusCode;
use serde_json::json;
use support::book;

const LOGINS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_password_logins_leaves_health_answering_within_100_ms() {
    let mut dbs = Dbs::new(false);
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let api = Api::start(&store).await;
    assert_eq!(api.get("/api/v1/health", None).await.0, StatusCode::OK);

    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut logins = Vec::new();
    for i in 0..LOGINS {
        let api = Api {
            base: api.base.clone(),
            client: api.client.clone(),
        };
        let done = done.clone();
        // a few for a user that exists (fewer than lock its sign-ins), the rest each for a
        // username that does not: every one is hashed
        let username = if i < 4 {
            "a1".to_string()
        } else {
            format!("nobody{i}")
        };
        logins.push(tokio::spawn(async move {
            let body = json!({"username": username, "password": "wrong password"});
            let (status, _) = api
                .call("POST", "/api/v1/auth/login", None, None, Some(body))
                .await;
            done.fetch_add(1, Ordering::SeqCst);
            status
        }));
    }

    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut latencies = Vec::new();
    while done.load(Ordering::SeqCst) < LOGINS {
        let t = Instant::now();
        let (status, _) = api.get("/api/v1/health", None).await;
        assert_eq!(status, StatusCode::OK);
        latencies.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let burst = started.elapsed();
    for login in logins {
        assert_eq!(login.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        latencies.len() >= 5,
        "the burst ({burst:?}) was over before health could be asked 5 times during it"
    );
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(100),
        "health took {slowest:?} during a burst of {LOGINS} logins ({burst:?}); all: {latencies:?}"
    );
}

//! Benchmark of the intake over HTTP: payments posted to `POST /api/v1/payments` of a real
//! server on loopback (the same router `huifang serve` runs) over a synthetic book on SQLite,
//! first in batches of 1,000, then one per request; each answered request is committed (the
//! payments durable, their loans re-evaluated). Prints payments per second and, one per request,
//! the latency percentiles.
//!
//!   cargo run --release -p huifang-cli --example bench_intake -- [LOANS] [BATCHES] [SINGLES] [CLIENTS]
//!
//! Defaults: 20,000 loans, 20 batches of 1,000, 3,000 single payments, 4 clients at once.

// A benchmark program: it may panic on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use huifang_app::synth::{Portfolio, SynthConfig, default_products};
use huifang_app::{import, ledger, policy, team};
use huifang_core::Date;
use huifang_core::calendar::parse_date;
use huifang_core::team::Role;
use huifang_store::Store;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The allocator of `huifang serve` (mimalloc, SQLite's allocations included).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn lines<T>(rows: Vec<T>) -> Vec<(usize, T)> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

fn payment(n: usize, loan: &str) -> Value {
    json!({
        "external_id": format!("BENCH{n:08}"),
        "loan_external_id": loan,
        "paid_on": "2026-12-01",
        "amount": "100.00",
        "channel": "bank_transfer"
    })
}

/// Posts `bodies` from `clients` concurrent clients; each request's latency.
async fn post_all(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    bodies: Vec<Value>,
    clients: usize,
) -> Vec<Duration> {
    let queue = Arc::new(Mutex::new(bodies));
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (queue, client, url, token) = (
            Arc::clone(&queue),
            client.clone(),
            url.to_string(),
            token.to_string(),
        );
        workers.push(tokio::spawn(async move {
            let mut took = Vec::new();
            loop {
                let Some(body) = queue.lock().await.pop() else {
                    break;
                };
                let started = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let text = resp.text().await.unwrap();
                assert!(status.is_success(), "{status}: {text}");
                took.push(started.elapsed());
            }
            took
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut next = |default: usize| args.next().map_or(default, |n| n.parse().unwrap());
    let (loans, batches, singles, clients) = (next(20_000), next(20), next(3_000), next(4));
    let dir = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = Store::connect(&url)
        .await
        .unwrap()
        .with_keys(Some(huifang_app::keys::ephemeral()));
    store.migrate().await.unwrap();
    let today: Date = parse_date("2026-12-01").unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.set_business_date(today).await.unwrap();
    tx.commit().await.unwrap();
    ledger::init(&store, Some("bench.huifang/log"))
        .await
        .unwrap();
    import::import_products(&store, &lines(default_products()))
        .await
        .unwrap();
    let book = Portfolio::new(SynthConfig {
        seed: 11,
        loans,
        business_date: today,
        disbursed_from: parse_date("2025-06-01").unwrap(),
        products: default_products(),
    })
    .unwrap()
    .generate()
    .unwrap();
    let policy = policy::load(&store).await.unwrap();
    import::import_borrowers(&store, &lines(book.borrowers))
        .await
        .unwrap();
    let loan_ids: Vec<String> = book.loans.iter().map(|l| l.external_id.clone()).collect();
    import::import_loans(&store, &policy, &lines(book.loans))
        .await
        .unwrap();
    team::create_user(
        &store,
        None,
        &team::UserInput {
            username: "feed".into(),
            display_name: "core banking".into(),
            role: Role::Admin,
            team: None,
            skills: Vec::new(),
            password: None,
        },
    )
    .await
    .unwrap();
    let (token, _) = team::issue_api_token(&store, None, "feed", Some(1))
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(huifang_web::serve_listener(store.clone(), listener));
    let client = reqwest::Client::new();
    let endpoint = format!("http://{addr}/api/v1/payments");
    println!(
        "book: {loans} loans on SQLite; {clients} clients; {} cores",
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    );

    // batches of 1,000, each payment on its own loan
    let mut n = 0;
    let mut bodies = Vec::new();
    for _ in 0..batches {
        let batch: Vec<Value> = (0..1_000)
            .map(|_| {
                n += 1;
                payment(n, &loan_ids[n % loan_ids.len()])
            })
            .collect();
        bodies.push(Value::Array(batch));
    }
    let started = Instant::now();
    let took = post_all(&client, &endpoint, &token, bodies, clients).await;
    let elapsed = started.elapsed();
    let posted = batches * 1_000;
    if let Some(slowest) = took.iter().max() {
        println!(
            "batches of 1,000: {posted} payments in {:.2} s = {:.0} payments/s ({} requests, slowest {:.0} ms)",
            elapsed.as_secs_f64(),
            posted as f64 / elapsed.as_secs_f64(),
            took.len(),
            slowest.as_secs_f64() * 1e3
        );
    }

    // one per request
    let bodies: Vec<Value> = (0..singles)
        .map(|_| {
            n += 1;
            payment(n, &loan_ids[(n * 7) % loan_ids.len()])
        })
        .collect();
    let started = Instant::now();
    let mut took = post_all(&client, &endpoint, &token, bodies, clients).await;
    let elapsed = started.elapsed();
    took.sort();
    if !took.is_empty() {
        println!(
            "one per request: {singles} payments in {:.2} s = {:.0} payments/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            elapsed.as_secs_f64(),
            singles as f64 / elapsed.as_secs_f64(),
            percentile(&took, 0.50).as_secs_f64() * 1e3,
            percentile(&took, 0.99).as_secs_f64() * 1e3,
            took.last().unwrap().as_secs_f64() * 1e3
        );
    }

    // every answered payment is there
    let mut tx = store.begin().await.unwrap();
    let (_, _, payments, _) = tx.counts().await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(payments as usize, posted + singles, "payments stored");
    println!("stored: {payments} payments");
}

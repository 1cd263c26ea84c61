//! Benchmark of the outbox's delivery worker: MESSAGES queued reminders for a synthetic book,
//! delivered through the real SMS adapter to a gateway on loopback that answers at once; prints
//! the messages per second of the whole drain (claim, contact rules, rendering, HTTP, results).
//!
//!   cargo run --release -p huifang-cli --example bench_notify -- [MESSAGES] [DATABASE_URL]
//!
//! The database (default: a SQLite file in a temporary directory) is emptied first.

// A benchmark program: it may panic on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::time::Instant;

use huifang_adapters::Couriers;
use huifang_app::notify::{self, DeliveryOptions};
use huifang_app::synth::{Portfolio, SynthConfig, default_products};
use huifang_app::{import, ledger, policy};
use huifang_core::calendar::parse_date;
use huifang_core::{Date, Money};
use huifang_store::{NewMessage, Store};
use huifang_testkit::gateway::{FakeGateway, Flaky};

const LOANS: usize = 2_000;

fn lines<T>(rows: Vec<T>) -> Vec<(usize, T)> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

#[tokio::main]
async fn main() {
    if let Ok(filter) = std::env::var("HUIFANG_LOG") {
        // e.g. HUIFANG_LOG=sqlx::query=debug: every statement with its time
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let mut args = std::env::args().skip(1);
    let messages: usize = args.next().map_or(20_000, |n| n.parse().unwrap());
    let dir = tempfile::TempDir::new().unwrap();
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::connect(&url)
        .await
        .unwrap()
        .with_keys(Some(huifang_app::keys::ephemeral()));
    store.wipe().await.unwrap();
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
        seed: 7,
        loans: LOANS,
        business_date: today,
        disbursed_from: parse_date("2025-12-01").unwrap(),
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

    // the messages, as the close writes them; sent at any hour, capped high
    let mut tx = store.begin().await.unwrap();
    let ids = tx.loan_ids_by_external_id(&loan_ids).await.unwrap();
    let ids: Vec<_> = loan_ids.iter().map(|l| ids[l]).collect();
    tx.set_setting(
        "contact_rules",
        r#"{"utc_offset_minutes":480,"hours":{"from":"00:00","until":"24:00"},"max_connected_collection_calls":3,"channel_caps":{"sms":100}}"#,
    )
    .await
    .unwrap();
    let rows: Vec<NewMessage> = (0..messages)
        .map(|i| NewMessage {
            key: format!("bench:{i}"),
            event: "reminder_due".into(),
            channel: "sms".into(),
            loan_id: ids[i % ids.len()],
            task_id: None,
            user_id: None,
            amount_fen: Some(Money::parse("3120.50").unwrap().fen()),
            on_date: Some(today),
            days: Some(0),
            detail: None,
            due_at: "2026-12-01T00:00:00Z".into(),
            business_date: today,
            created_at: "2026-12-01T00:00:00Z".into(),
        })
        .collect();
    tx.insert_messages(&rows).await.unwrap();
    // with the welcome messages the import queued for the loans disbursed in the last week
    let messages: usize = tx
        .message_counts()
        .await
        .unwrap()
        .iter()
        .filter(|(_, _, state, _)| state == "queued")
        .map(|(_, _, _, n)| usize::try_from(*n).unwrap())
        .sum();
    tx.commit().await.unwrap();
    store.analyze().await.unwrap(); // statistics, as a server's tables have them

    let gateway = FakeGateway::start("bench-token", Flaky::RELIABLE).await;
    let doc = serde_json::json!({"sms": {"url": gateway.url(), "token": gateway.token}});
    let mut tx = store.begin().await.unwrap();
    tx.set_setting("channels", &doc.to_string()).await.unwrap();
    tx.commit().await.unwrap();
    let couriers = Couriers::from_doc(&notify::load_channels(&store).await.unwrap()).unwrap();

    let options = DeliveryOptions {
        batch: 1_000,
        concurrency: 64,
        ..DeliveryOptions::default()
    };
    let started = Instant::now();
    let (mut sent, mut passes) = (0u64, 0u32);
    loop {
        let r = notify::deliver_once(&store, &couriers, chrono::Utc::now(), options, || 500)
            .await
            .unwrap();
        passes += 1;
        sent += r.sent;
        if r.claimed == 0 {
            break;
        }
        assert_eq!(r.sent, r.claimed, "{r:?}");
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(sent as usize, messages);
    assert_eq!(gateway.log().delivered.len(), messages);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{messages} messages sent in {seconds:.2} s over {passes} passes: {:.0} messages/s ({}, {cores} cores)",
        messages as f64 / seconds,
        url.split(':').next().unwrap_or("")
    );
    store.close().await;
}

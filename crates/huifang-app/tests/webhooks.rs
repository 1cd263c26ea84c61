//! Events out over real HTTP: a subscriber on loopback that fails 30 % of requests receives
//! every event of its kinds (payments posted, installments overdue, buckets and tiers changed,
//! warnings) exactly once in effect, each request's signature checked here independently; the
//! delivery log records the attempts; only an admin manages subscribers.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use huifang_adapters::HttpWebhooks;
use huifang_app::rows::PaymentRow;
use huifang_app::{AppError, close, import, policy, team, webhooks};
use huifang_core::Money;
use huifang_testkit::receiver::WebhookReceiver;
use huifang_testkit::{Dbs, on_both};
use serde_json::Value;
use sha2::Sha256;
use support::{book, d};

on_both!(
    a_flaky_subscriber_gets_every_event_once_in_effect,
    a_subscriber_is_changed_disabled_and_enabled_again
);

async fn a_flaky_subscriber_gets_every_event_once_in_effect(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 10).await;
    let receiver = WebhookReceiver::start(300).await;
    let ledger_receiver = WebhookReceiver::start(300).await;

    // only an admin manages subscribers; bad input is refused by field
    let agent = team::actor(&store, "a1").await.unwrap();
    let refused = webhooks::add(&store, Some(&agent), "core", &receiver.url(), "all", None)
        .await
        .unwrap_err();
    assert!(matches!(refused, AppError::Forbidden(_)), "{refused}");
    let bad = webhooks::add(&store, None, "core", "ftp://x", "all", None)
        .await
        .unwrap_err();
    assert!(matches!(bad, AppError::Field { field: "url", .. }), "{bad}");
    let bad = webhooks::add(&store, None, "core", &receiver.url(), "overdue", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            bad,
            AppError::Field {
                field: "events",
                ..
            }
        ),
        "{bad}"
    );

    let admin = team::actor(&store, "admin").await.unwrap();
    let (hook, secret) = webhooks::add(&store, Some(&admin), "core", &receiver.url(), "all", None)
        .await
        .unwrap();
    assert_eq!(hook.name, "core");
    // a second subscriber taking payments only
    let (_, _) = webhooks::add(
        &store,
        None,
        "ledger",
        &ledger_receiver.url(),
        "payment_posted",
        None,
    )
    .await
    .unwrap();

    // events: payments posted, then a month closed (installments overdue, buckets and tiers)
    let policy = policy::load(&store).await.unwrap();
    let payments: Vec<(usize, PaymentRow)> = (1..=3)
        .map(|n| {
            (
                n + 1,
                PaymentRow {
                    external_id: format!("P{n}"),
                    loan_external_id: format!("L{n}"),
                    paid_on: d("2026-03-18"),
                    amount: Money::parse("500.00").unwrap(),
                    channel: "bank".into(),
                },
            )
        })
        .collect();
    import::import_payments(&store, &policy, &payments)
        .await
        .unwrap();
    // a promise to pay that the month's close finds broken
    let promised = support::task(&store, 4, "promise", "early_collection", "2026-03-20").await;
    let c1 = team::actor(&store, "c1").await.unwrap();
    team::record_outcome(
        &store,
        &c1,
        promised,
        &team::OutcomeInput {
            channel: "phone".into(),
            outcome: "promise_to_pay".into(),
            amount: Some("3000".into()),
            date: Some(d("2026-03-25")),
            idempotency_key: "promise-1".into(),
            occurred_at: Some("2026-03-20T02:00:00Z".into()),
            ..team::OutcomeInput::default()
        },
    )
    .await
    .unwrap();
    close::run_daily(&store, &policy, d("2026-07-20"), |_| {})
        .await
        .unwrap();
    let ping = webhooks::test(&store, None, "core").await.unwrap();

    // the worker, an hour later each pass, until nothing is left to deliver
    let poster = HttpWebhooks::new(Duration::from_secs(5)).unwrap();
    let mut now = Utc::now();
    let mut draws = 0u32;
    let mut passes = 0;
    loop {
        let pass = webhooks::deliver_once(&store, &poster, now, || {
            draws += 1;
            draws * 7 % 1000
        })
        .await
        .unwrap();
        passes += 1;
        let open = webhooks::log(&store, None, None, Some("failed"), 1000)
            .await
            .unwrap()
            .len()
            + webhooks::log(&store, None, None, Some("queued"), 1000)
                .await
                .unwrap()
                .len();
        if pass.claimed == 0 && open == 0 {
            break;
        }
        assert!(passes < 60, "still delivering after {passes} passes");
        now += chrono::Duration::hours(1);
    }

    // what was queued: every payment for both, the loan events of the month for core, the ping
    let log = webhooks::log(&store, None, None, None, 1000).await.unwrap();
    assert!(log.iter().all(|d| d.state == "delivered"), "{log:#?}");
    let core: BTreeSet<String> = log
        .iter()
        .filter(|d| d.webhook == "core")
        .map(|d| d.event_id.clone())
        .collect();
    let ledger: BTreeSet<String> = log
        .iter()
        .filter(|d| d.webhook == "ledger")
        .map(|d| d.event_id.clone())
        .collect();
    assert_eq!(ledger.len(), 3, "{ledger:?}");
    assert!(ledger.iter().all(|id| id.starts_with("payment:")));
    assert!(ledger.is_subset(&core));
    assert!(core.contains(&ping));
    let kinds: BTreeSet<&str> = log.iter().map(|d| d.kind.as_str()).collect();
    for kind in [
        "payment_posted",
        "installment_overdue",
        "bucket_changed",
        "promise_broken",
        "ping",
    ] {
        assert!(kinds.contains(kind), "{kinds:?}");
    }
    assert_eq!(
        log.iter()
            .filter(|d| d.webhook == "core" && d.kind == "promise_broken")
            .count(),
        1,
        "the one promise broken"
    );
    assert!(
        !kinds.contains("reminder_due"),
        "reminders go to borrowers only"
    );
    let mut tx = store.begin().await.unwrap();
    let overdue_events = tx
        .loan_events_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e, huifang_store::SourceEvent::Loan { kind, .. } if kind == "installment_overdue"))
        .count();
    tx.rollback().await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|d| d.webhook == "core" && d.kind == "installment_overdue")
            .count(),
        overdue_events
    );

    // each receiver: every delivery of its subscriber applied once, failures retried, each
    // request's signature right
    let secrets = webhooks::list(&store, None).await.unwrap();
    assert!(secrets.iter().any(|h| h.secret == secret));
    let mut requests = 0;
    let mut failed = 0;
    for (receiver, name, expected) in [
        (&receiver, "core", &core),
        (&ledger_receiver, "ledger", &ledger),
    ] {
        let seen = receiver.log();
        requests += seen.requests.len();
        failed += seen.requests.iter().filter(|r| r.failed).count();
        let applied: BTreeSet<String> = seen.applied.keys().cloned().collect();
        assert_eq!(&applied, expected, "{name}");
        assert!(
            seen.applied.values().all(|n| *n == 1),
            "{name}: {:?}",
            seen.applied
        );
        let key = &secrets.iter().find(|h| h.name == name).unwrap().secret;
        for r in &seen.requests {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["id"], r.delivery.as_str());
            assert_eq!(body["kind"], r.event.as_str());
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(r.timestamp.as_bytes());
            mac.update(b".");
            mac.update(&r.body);
            assert!(
                mac.verify_slice(&hex::decode(&r.signature).unwrap())
                    .is_ok(),
                "{name}: bad signature on {}",
                r.delivery
            );
        }
    }
    // about 30 % of the requests failed (each draw is a hash: some spread on a small sample)
    assert!(
        failed * 100 >= requests * 15 && failed * 100 <= requests * 45,
        "{failed} of {requests} requests failed"
    );
    // a delivery's attempts are in the log
    assert!(log.iter().any(|d| d.attempts > 1));
}

async fn a_subscriber_is_changed_disabled_and_enabled_again(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    webhooks::add(
        &store,
        None,
        "erp",
        "http://127.0.0.1:9/a",
        "decision_made",
        None,
    )
    .await
    .unwrap();
    let agent = team::actor(&store, "a1").await.unwrap();
    let refused = webhooks::change(&store, Some(&agent), "erp", None, None, Some(false))
        .await
        .unwrap_err();
    assert!(matches!(refused, AppError::Forbidden(_)), "{refused}");
    let bad = webhooks::change(&store, None, "erp", Some("ftp://x"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(bad, AppError::Field { field: "url", .. }), "{bad}");
    let bad = webhooks::change(&store, None, "erp", None, Some("nothing"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            bad,
            AppError::Field {
                field: "events",
                ..
            }
        ),
        "{bad}"
    );
    let missing = webhooks::change(&store, None, "nope", None, None, Some(true))
        .await
        .unwrap_err();
    assert!(matches!(missing, AppError::NotFound { .. }), "{missing}");

    // disabled, and taking payments now: a payment posted meanwhile is not queued
    let off = webhooks::change(
        &store,
        None,
        "erp",
        Some("http://127.0.0.1:9/b"),
        Some("payment_posted"),
        Some(false),
    )
    .await
    .unwrap();
    assert_eq!(
        (off.url.as_str(), off.kinds.as_str(), off.active),
        ("http://127.0.0.1:9/b", "payment_posted", false)
    );
    let policy = policy::load(&store).await.unwrap();
    let pay = |n: usize| {
        vec![(
            2,
            PaymentRow {
                external_id: format!("Q{n}"),
                loan_external_id: "L1".into(),
                paid_on: d("2026-03-19"),
                amount: Money::parse("100.00").unwrap(),
                channel: "bank".into(),
            },
        )]
    };
    import::import_payments(&store, &policy, &pay(1))
        .await
        .unwrap();
    assert_eq!(webhooks::relay(&store, Utc::now()).await.unwrap(), 0);
    // enabled again: the payment written meanwhile is queued, once
    let on = webhooks::change(&store, None, "erp", None, None, Some(true))
        .await
        .unwrap();
    assert!(on.active);
    import::import_payments(&store, &policy, &pay(2))
        .await
        .unwrap();
    assert_eq!(webhooks::relay(&store, Utc::now()).await.unwrap(), 2);
    assert_eq!(webhooks::relay(&store, Utc::now()).await.unwrap(), 0);
    let queued: BTreeSet<String> = webhooks::log(&store, None, Some("erp"), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event_id)
        .collect();
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|id| id.starts_with("payment:")));
}

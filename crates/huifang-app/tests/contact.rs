//! The contact rules (compliance guard) on every recorded contact, against real databases: the
//! hours in Asia/Shanghai whatever the machine's time zone (20:59 allowed, 21:00 held until
//! 08:00), the fourth connected collection call of a day refused, opt-outs and do-not-contact
//! honoured at once, each refusal naming its rule, changing nothing but the record of the
//! refusal; the rules changed from a document, a malformed one refused naming the field.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::team::{self, OutcomeInput};
use huifang_app::{AppError, contact};
use huifang_core::TaskId;
use huifang_store::Store;
use huifang_testkit::{Dbs, on_both};
use support::{book, counts, ledger_size, task};

on_both!(
    the_contact_rules_hold_when_a_contact_is_recorded,
    the_daily_cap_holds_for_calls_recorded_at_once,
);

fn call(key: &str, channel: &str, outcome: &str, at: &str) -> OutcomeInput {
    OutcomeInput {
        channel: channel.into(),
        outcome: outcome.into(),
        idempotency_key: key.into(),
        occurred_at: Some(at.into()),
        ..OutcomeInput::default()
    }
}

async fn record(store: &Store, who: &str, t: TaskId, input: &OutcomeInput) -> Result<(), AppError> {
    let actor = team::actor(store, who).await.unwrap();
    team::record_outcome(store, &actor, t, input)
        .await
        .map(|_| ())
}

/// The rule a refusal names, after checking that it changed nothing in the ledger.
async fn refused(store: &Store, who: &str, t: TaskId, input: &OutcomeInput) -> (String, String) {
    let before = ledger_size(store).await;
    let e = record(store, who, t, input).await.unwrap_err();
    assert_eq!(ledger_size(store).await, before, "a refusal logs nothing");
    match e {
        AppError::Blocked { record } => (record.rule, record.reason),
        other => panic!("expected a contact rule's refusal, got {other}"),
    }
}

async fn the_contact_rules_hold_when_a_contact_is_recorded(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let calls: Vec<TaskId> = {
        let mut v = Vec::new();
        for n in 1..=5 {
            v.push(
                task(
                    &store,
                    1,
                    &format!("c{n}"),
                    "early_collection",
                    "2026-03-20",
                )
                .await,
            );
        }
        v
    };
    // 20:59 in Shanghai (12:59 UTC) is inside the hours; 21:00 is not, and waits for 08:00
    record(
        &store,
        "c1",
        calls[0],
        &call("k1", "phone", "reached", "2026-03-20T12:59:00Z"),
    )
    .await
    .unwrap();
    let (rule, reason) = refused(
        &store,
        "c1",
        calls[1],
        &call("k2", "phone", "reached", "2026-03-20T21:00:00+08:00"),
    )
    .await;
    assert_eq!(rule, "contact_hours");
    assert_eq!(
        reason,
        "contacts only 08:00–21:00 local time; allowed again from 2026-03-21 08:00"
    );
    // the same key records once the contact is inside the hours: nothing was kept of the refusal
    // but its record
    record(
        &store,
        "c1",
        calls[1],
        &call("k2", "phone", "reached", "2026-03-20T02:00:00Z"),
    )
    .await
    .unwrap();
    record(
        &store,
        "c1",
        calls[2],
        &call(
            "k3",
            "phone",
            "promise_to_pay_missing",
            "2026-03-20T02:30:00Z",
        ),
    )
    .await
    .unwrap_err(); // not an outcome: refused as before, not by a contact rule
    record(
        &store,
        "c1",
        calls[2],
        &call("k3", "phone", "refused", "2026-03-20T02:30:00Z"),
    )
    .await
    .unwrap();
    // three connected collection calls on 2026-03-20 (local): the fourth is refused
    let (rule, _) = refused(
        &store,
        "c1",
        calls[3],
        &call("k4", "phone", "no_answer", "2026-03-20T03:00:00Z"),
    )
    .await;
    assert_eq!(rule, "collection_call_cap");
    // 00:30 local on the 21st is another day, but outside the hours; 08:00 is inside
    let (rule, _) = refused(
        &store,
        "c1",
        calls[3],
        &call("k4", "phone", "reached", "2026-03-20T16:30:00Z"),
    )
    .await;
    assert_eq!(rule, "contact_hours");
    record(
        &store,
        "c1",
        calls[3],
        &call("k4", "phone", "reached", "2026-03-21T00:00:00Z"),
    )
    .await
    .unwrap();

    // opt-outs, honoured at once, by channel; do-not-contact on every channel
    let a1 = team::actor(&store, "a1").await.unwrap();
    let audit = team::actor(&store, "audit").await.unwrap();
    // a1's team follows B2 up: a1 may read and record the borrower's opt-outs
    let follow = task(&store, 2, "f1", "followup", "2026-03-20").await;
    assert!(matches!(
        contact::set_opt_out(&store, &audit, "B2", "sms", true, "").await,
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        contact::set_opt_out(&store, &a1, "B2", "fax", true, "").await,
        Err(AppError::Field {
            field: "channel",
            ..
        })
    ));
    assert!(
        contact::set_opt_out(&store, &a1, "B2", "phone", true, "客户要求不再来电")
            .await
            .unwrap()
    );
    assert!(
        !contact::set_opt_out(&store, &a1, "B2", "phone", true, "")
            .await
            .unwrap()
    );
    let (rule, reason) = refused(
        &store,
        "a1",
        follow,
        &call("f1", "phone", "reached", "2026-03-20T02:00:00Z"),
    )
    .await;
    assert_eq!(
        (rule.as_str(), reason.as_str()),
        ("opted_out", "the borrower opted out of phone")
    );
    assert!(
        contact::set_opt_out(&store, &a1, "B2", "all", true, "")
            .await
            .unwrap()
    );
    let (rule, _) = refused(
        &store,
        "a1",
        follow,
        &call("f1", "sms", "reached", "2026-03-20T02:00:00Z"),
    )
    .await;
    assert_eq!(rule, "do_not_contact");
    assert!(
        contact::set_opt_out(&store, &a1, "B2", "all", false, "")
            .await
            .unwrap()
    );
    let outs = contact::opt_outs(&store, &a1, "B2").await.unwrap();
    assert_eq!(outs.len(), 1);
    assert_eq!(
        (outs[0].channel.as_str(), outs[0].note.as_str()),
        ("phone", "客户要求不再来电")
    );
    record(
        &store,
        "a1",
        follow,
        &call("f1", "sms", "reached", "2026-03-20T02:00:00Z"),
    )
    .await
    .unwrap();

    // every refusal is on record, newest first, with its rule, its channel and who tried
    let blocked = contact::blocked(&store, &audit, 50).await.unwrap();
    let rules: Vec<(&str, &str, Option<&str>)> = blocked
        .iter()
        .map(|b| {
            (
                b.contact.rule.as_str(),
                b.contact.channel.as_str(),
                b.username.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        vec![
            ("do_not_contact", "sms", Some("a1")),
            ("opted_out", "phone", Some("a1")),
            ("contact_hours", "phone", Some("c1")),
            ("collection_call_cap", "phone", Some("c1")),
            ("contact_hours", "phone", Some("c1")),
        ]
    );
    assert_eq!(blocked[4].contact.attempted_at, "2026-03-20T13:00:00Z");
    assert_eq!(blocked[4].loan_external_id, "L1");
    assert!(matches!(
        contact::blocked(&store, &a1, 50).await,
        Err(AppError::Forbidden(_))
    ));

    // the rules are data: a fourth call allowed under a cap of 4; a malformed document refused
    let shown = contact::show_rules(&store).await.unwrap();
    assert_eq!(shown.hours.from, "08:00");
    assert_eq!(shown.hours.until, "21:00");
    assert_eq!(shown.max_connected_collection_calls, 3);
    let admin = team::actor(&store, "admin").await.unwrap();
    let c1 = team::actor(&store, "c1").await.unwrap();
    let mut doc = serde_json::to_value(&shown).unwrap();
    doc["max_connected_collection_calls"] = 4.into();
    assert!(matches!(
        contact::set_rules(&store, &c1, &doc.to_string()).await,
        Err(AppError::Forbidden(_))
    ));
    contact::set_rules(&store, &admin, &doc.to_string())
        .await
        .unwrap();
    record(
        &store,
        "c1",
        calls[4],
        &call("k5", "phone", "reached", "2026-03-20T03:00:00Z"),
    )
    .await
    .unwrap();
    for (field, value, named) in [
        (
            "hours",
            serde_json::json!({"from": "08:00", "until": "07:00"}),
            "hours.until",
        ),
        (
            "hours",
            serde_json::json!({"from": "8h", "until": "21:00"}),
            "hours.from",
        ),
        (
            "utc_offset_minutes",
            serde_json::json!(900),
            "utc_offset_minutes",
        ),
        (
            "channel_caps",
            serde_json::json!({"fax": 1}),
            "channel_caps.fax",
        ),
        ("calling_hours", serde_json::json!(1), "calling_hours"),
    ] {
        let mut bad = doc.clone();
        bad[field] = value;
        let e = contact::set_rules(&store, &admin, &bad.to_string())
            .await
            .unwrap_err();
        assert!(e.to_string().contains(named), "{e} names {named}");
    }
    assert_eq!(
        contact::show_rules(&store)
            .await
            .unwrap()
            .max_connected_collection_calls,
        4,
        "a refused document changes nothing"
    );

    // every contact is kept five years: what is kept, by year of its business date
    assert!(matches!(
        contact::retention(&store, &a1).await,
        Err(AppError::Forbidden(_))
    ));
    let kept = contact::retention(&store, &audit).await.unwrap();
    assert_eq!(kept.retention_years, 5);
    assert_eq!(kept.oldest.as_deref(), Some("2026-03-20"));
    assert_eq!(kept.oldest_kept_until.as_deref(), Some("2031-03-20"));
    let years: Vec<(&str, i64, i64)> = kept
        .years
        .iter()
        .map(|y| (y.year.as_str(), y.contacts, y.refused))
        .collect();
    assert_eq!(years, [("2026", 6, 5)]);
}

/// Five connected calls to one borrower, on five tasks, recorded at once: each is checked with
/// the ones committed before it, so three are kept and two refused by the daily cap, whichever
/// connections record them.
async fn the_daily_cap_holds_for_calls_recorded_at_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let mut calls = Vec::new();
    for n in 1..=5 {
        let t = task(
            &store,
            1,
            &format!("c{n}"),
            "early_collection",
            "2026-03-20",
        )
        .await;
        let input = call(&format!("k{n}"), "phone", "reached", "2026-03-20T02:00:00Z");
        let store = store.clone();
        calls.push(tokio::spawn(async move {
            record(&store, "c1", t, &input).await
        }));
    }
    let mut kept = 0;
    for c in calls {
        match c.await.unwrap() {
            Ok(()) => kept += 1,
            Err(AppError::Blocked { record }) => assert_eq!(record.rule, "collection_call_cap"),
            Err(e) => panic!("expected a record or the cap's refusal, got {e}"),
        }
    }
    assert_eq!(kept, 3, "connected calls kept on one day");
    assert_eq!(counts(&store).await.interactions, 3);
}

//! Messages through the outbox against real databases and real HTTP gateways on loopback (the
//! real adapters of `huifang-adapters`): the close's reminders and notices written with the
//! day, a promise's confirmation written with the promise and nothing for a contact rolled back,
//! delivery through a gateway that fails 30% of requests and hangs past the timeout on 10%
//! (every message in effect once: one key per message, whatever the retries), dead-lettering
//! after the limit, the contact hours (20:59 sent, 21:00 held until 08:00 Asia/Shanghai), the
//! channel cap, opt-outs, and emergency contacts (only with consent, only to locate).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use huifang_adapters::Couriers;
use huifang_app::notify::{self, DeliveryOptions};
use huifang_app::team::{self, OutcomeInput};
use huifang_app::views::{AddressRequest, DeliveryView, EmergencyContactRequest, MessageView};
use huifang_app::{AppError, close, contact, policy};
use huifang_core::TaskId;
use huifang_store::Store;
use huifang_testkit::gateway::{FakeGateway, Flaky};
use huifang_testkit::{Dbs, on_both};
use support::{book, d, task};

on_both!(
    the_close_writes_its_messages_and_each_is_delivered_once_in_effect,
    a_promise_is_confirmed_with_its_contact_and_nothing_is_sent_for_one_rolled_back,
    messages_keep_the_contact_hours_caps_and_opt_outs,
    emergency_contacts_are_called_only_with_consent_and_only_to_locate,
    a_loan_disbursed_within_the_week_is_welcomed_with_its_import,
    contacts_come_with_the_borrower_file,
    a_decision_is_announced_to_the_borrower,
    wechat_messages_and_calls_through_flaky_gateways_arrive_once
);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn admin(store: &Store) -> team::Actor {
    team::actor(store, "admin").await.unwrap()
}

/// Points the channels at the gateways (sms, and wechat when given), with a 1 s timeout.
async fn channels(store: &Store, sms: &FakeGateway, wechat: Option<&FakeGateway>) {
    let gateway = |g: &FakeGateway| {
        serde_json::json!({"url": g.url(), "token": g.token, "timeout_seconds": 1,
                           "templates": {"reminder_due": "TPL_DUE"}})
    };
    let mut doc =
        serde_json::json!({"sms": gateway(sms), "webhook_secret": "0123456789abcdef-secret"});
    if let Some(w) = wechat {
        doc["wechat"] = gateway(w);
    }
    let shown = notify::set_channels(store, &admin(store).await, &doc.to_string())
        .await
        .unwrap();
    // the secrets are kept, never shown
    assert_eq!(shown.sms.unwrap().token, notify::HIDDEN);
    assert_eq!(shown.webhook_secret.as_deref(), Some(notify::HIDDEN));
}

/// Rules: the given events by the given channels; 4 attempts, 1 s backoff doubling to 2 s.
async fn rules(store: &Store, events: serde_json::Value) {
    let doc = serde_json::json!({"events": events, "lang": "zh", "max_attempts": 4,
                                 "backoff_seconds": 1, "max_backoff_seconds": 2});
    notify::set_rules(store, &admin(store).await, &doc.to_string())
        .await
        .unwrap();
}

async fn couriers(store: &Store) -> Couriers {
    Couriers::from_doc(&notify::load_channels(store).await.unwrap()).unwrap()
}

async fn deliver(store: &Store, now: &str) -> DeliveryView {
    let mut n = 0u32;
    notify::deliver_once(
        store,
        &couriers(store).await,
        at(now),
        DeliveryOptions::default(),
        || {
            n += 373;
            n % 1000
        },
    )
    .await
    .unwrap()
}

async fn all_messages(store: &Store) -> Vec<MessageView> {
    notify::list(store, &admin(store).await, None, None, None, None, 500)
        .await
        .unwrap()
        .messages
}

async fn the_close_writes_its_messages_and_each_is_delivered_once_in_effect(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 3).await;
    let flaky = FakeGateway::start(
        "sms-token",
        Flaky {
            fail_permille: 300,
            hang_permille: 100,
            hang: Duration::from_millis(1500),
        },
    )
    .await;
    let down = FakeGateway::start(
        "wechat-token",
        Flaky {
            fail_permille: 1000,
            ..Flaky::RELIABLE
        },
    )
    .await;
    channels(&store, &flaky, Some(&down)).await;
    let by_both = serde_json::json!(["sms", "wechat"]);
    rules(
        &store,
        serde_json::json!({"reminder_before": by_both, "reminder_due": by_both,
                           "overdue_notice": by_both}),
    )
    .await;
    let admin = admin(&store).await;
    let risk = team::actor(&store, "risk").await.unwrap();
    for b in ["B1", "B2"] {
        let address = AddressRequest {
            channel: "wechat".into(),
            address: format!("openid-{b}"),
        };
        contact::set_address(&store, &risk, b, &address)
            .await
            .unwrap();
    }

    // 3 loans due on the 15th: the reminder 3 days before (04-12), on the day (04-15) and the
    // notice of the installment overdue (04-16), each by SMS and WeChat
    let policy = policy::load(&store).await.unwrap();
    close::run_daily(&store, &policy, d("2026-04-16"), |_| {})
        .await
        .unwrap();
    let written = all_messages(&store).await;
    assert_eq!(written.len(), 3 * 3 * 2, "{written:#?}");
    assert!(
        written
            .iter()
            .all(|m| m.state == "queued" && m.attempts == 0)
    );
    let due: Vec<&str> = written.iter().map(|m| m.due_at.as_str()).collect();
    assert!(
        due.contains(&"2026-04-12T00:00:00Z"),
        "08:00 in Shanghai: {due:?}"
    );
    // a day closed again writes nothing twice (the keys are the events')
    close::run_daily(&store, &policy, d("2026-04-16"), |_| {})
        .await
        .unwrap();
    assert_eq!(all_messages(&store).await.len(), 18);

    // the worker runs at 10:00 in Shanghai, every 10 s, until nothing is pending
    let mut passes = 0;
    let mut now = at("2026-04-16T02:00:00Z");
    loop {
        let r = deliver(&store, &now.to_rfc3339()).await;
        passes += 1;
        if r.claimed == 0 {
            break;
        }
        assert!(passes < 40, "the outbox does not drain");
        now += chrono::Duration::seconds(10);
    }
    let after = all_messages(&store).await;
    let log = flaky.log();
    let by_key: HashMap<&str, &MessageView> = after
        .iter()
        .map(|m| (m.idempotency_key.as_str(), m))
        .collect();
    let sms: Vec<&MessageView> = after.iter().filter(|m| m.channel == "sms").collect();
    // the flaky gateway was asked more often than there were messages, yet took each once
    let asked: u32 = log.requests.values().sum();
    assert!(
        asked > 9,
        "30% failures and 10% hangs make retries: {asked}"
    );
    for m in &sms {
        match m.state.as_str() {
            "sent" => {
                let (_, body, times) = &log.delivered[m.idempotency_key.as_str()];
                assert_eq!(*times, 1);
                assert_eq!(body["to"], "13800138000");
                let text = body["text"].as_str().unwrap();
                assert!(text.starts_with("张") && text.contains(&m.loan), "{text}");
                assert_eq!(
                    body["params"]["loan"],
                    m.loan.as_str(),
                    "short numbers show whole"
                );
                assert!(m.provider_id.as_deref().unwrap().starts_with("gw-"));
            }
            // 4 attempts failed (a hang may have delivered it unknown to the worker: then once)
            "dead" => assert_eq!(m.attempts, 4, "{m:?}"),
            other => panic!("sms message {} left {other}", m.id),
        }
    }
    // every key the gateway saw is one message's, and no message reached a borrower twice
    // under another key: one delivery per loan, event and due date
    let mut effects: HashMap<(String, String, String), u32> = HashMap::new();
    for (key, (_, body, _)) in &log.delivered {
        let m = by_key[key.as_str()];
        assert_eq!(m.channel, "sms");
        *effects
            .entry((
                m.loan.clone(),
                m.event.clone(),
                body["params"]["due_date"].to_string(),
            ))
            .or_default() += 1;
    }
    assert!(effects.values().all(|n| *n == 1), "{effects:?}");
    assert!(
        log.delivered.len() >= sms.iter().filter(|m| m.state == "sent").count(),
        "every sent message was taken"
    );
    // the WeChat gateway refused every attempt: dead-lettered after exactly 4; the borrower
    // without a WeChat address is never sent to
    let down_log = down.log();
    for m in after.iter().filter(|m| m.channel == "wechat") {
        assert_eq!(m.state, "dead", "{m:?}");
        if m.loan == "L3" {
            assert!(m.last_error.contains("no wechat address"), "{m:?}");
            assert!(!down_log.requests.contains_key(&m.idempotency_key));
        } else {
            assert_eq!(m.attempts, 4);
            assert_eq!(down_log.requests[&m.idempotency_key], 4);
            assert!(m.last_error.contains("503"), "{m:?}");
        }
    }
    // the report counts them per channel and event
    let report = notify::report(&store, &admin).await.unwrap();
    let wechat: i64 = report
        .iter()
        .filter(|r| r.channel == "wechat")
        .map(|r| r.dead)
        .sum();
    assert_eq!(wechat, 9);
    // a dead message sent again keeps its key: the gateway that took it does not send it twice
    let retried = after.iter().find(|m| m.channel == "wechat").unwrap();
    let again = notify::retry(&store, &admin, retried.id).await.unwrap();
    assert_eq!((again.state.as_str(), again.attempts), ("queued", 0));
    assert_eq!(again.idempotency_key, retried.idempotency_key);
    let sent = after.iter().find(|m| m.state == "sent").unwrap();
    assert!(matches!(
        notify::retry(&store, &admin, sent.id).await,
        Err(AppError::Conflict(_))
    ));
}

async fn a_promise_is_confirmed_with_its_contact_and_nothing_is_sent_for_one_rolled_back(
    dbs: &mut Dbs,
) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let gateway = FakeGateway::start("sms-token", Flaky::RELIABLE).await;
    channels(&store, &gateway, None).await;
    let t = task(&store, 1, "p", "early_collection", "2026-03-20").await;
    let promise = |key: &str, when: &str| OutcomeInput {
        channel: "phone".into(),
        outcome: "promise_to_pay".into(),
        amount: Some("3000".into()),
        date: Some(d("2026-03-25")),
        idempotency_key: key.into(),
        occurred_at: Some(when.into()),
        ..OutcomeInput::default()
    };
    let c1 = team::actor(&store, "c1").await.unwrap();
    // 22:00 in Shanghai: the contact is refused and rolled back, and its message with it
    let refused = team::record_outcome(&store, &c1, t, &promise("late", "2026-03-20T14:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(refused, AppError::Blocked { .. }), "{refused}");
    assert!(all_messages(&store).await.is_empty());
    assert_eq!(deliver(&store, "2026-03-20T14:00:00Z").await.claimed, 0);
    // 10:00: recorded, and its confirmation with it
    team::record_outcome(&store, &c1, t, &promise("ok", "2026-03-20T02:00:00Z"))
        .await
        .unwrap();
    let written = all_messages(&store).await;
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].event, "promise_confirmation");
    assert_eq!(written[0].due_at, "2026-03-20T02:00:00Z");
    let r = deliver(&store, "2026-03-20T02:00:05Z").await;
    assert_eq!((r.claimed, r.sent), (1, 1));
    let log = gateway.log();
    assert_eq!(log.delivered.len(), 1);
    let (_, body, _) = log.delivered.values().next().unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("承诺于 2026-03-25 前") && text.contains("3000.00 元"),
        "{text}"
    );
    assert!(
        text.starts_with("张1您好") && text.contains("2026-03-25") && text.contains("合同L1"),
        "{text}"
    );
}

async fn messages_keep_the_contact_hours_caps_and_opt_outs(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let gateway = FakeGateway::start("sms-token", Flaky::RELIABLE).await;
    channels(&store, &gateway, None).await;
    let c1 = team::actor(&store, "c1").await.unwrap();
    let risk = team::actor(&store, "risk").await.unwrap();
    // confirmations of promises recorded in the day (14:00 to 20:40 in Shanghai)
    let promise = async |loan: usize, n: u32, when: &str| -> TaskId {
        let t = task(
            &store,
            loan,
            &format!("p{loan}-{n}"),
            "early_collection",
            "2026-03-20",
        )
        .await;
        let input = OutcomeInput {
            channel: "phone".into(),
            outcome: "promise_to_pay".into(),
            amount: Some("1000".into()),
            date: Some(d("2026-03-25")),
            idempotency_key: format!("k{loan}-{n}"),
            occurred_at: Some(when.into()),
            ..OutcomeInput::default()
        };
        team::record_outcome(&store, &c1, t, &input).await.unwrap();
        t
    };
    promise(1, 1, "2026-03-20T06:00:00Z").await;
    // 20:59 in Shanghai (12:59 UTC): sent
    let r = deliver(&store, "2026-03-20T12:59:00Z").await;
    assert_eq!((r.claimed, r.sent, r.held), (1, 1, 0));
    // 21:00: held until 08:00 the next day, its attempt not counted
    promise(1, 2, "2026-03-20T12:40:00Z").await;
    let r = deliver(&store, "2026-03-20T13:00:00Z").await;
    assert_eq!((r.claimed, r.sent, r.held), (1, 0, 1));
    let held = all_messages(&store)
        .await
        .into_iter()
        .find(|m| m.state == "queued")
        .unwrap();
    assert_eq!(
        (held.due_at.as_str(), held.attempts),
        ("2026-03-21T00:00:00Z", 0)
    );
    assert_eq!(deliver(&store, "2026-03-20T23:59:59Z").await.claimed, 0);
    let r = deliver(&store, "2026-03-21T00:00:00Z").await;
    assert_eq!((r.claimed, r.sent), (1, 1));
    assert_eq!(gateway.log().delivered.len(), 2);

    // SMS is capped at 3 a day per borrower: the 4th of the 21st is refused, with its rule
    for n in 3..=5 {
        promise(1, n, "2026-03-21T01:00:00Z").await;
    }
    let r = deliver(&store, "2026-03-21T02:00:00Z").await;
    assert_eq!((r.claimed, r.sent, r.blocked), (3, 2, 1));
    let blocked = all_messages(&store)
        .await
        .into_iter()
        .find(|m| m.state == "blocked")
        .unwrap();
    assert!(blocked.last_error.starts_with("channel_cap"), "{blocked:?}");
    let kept = contact::blocked(&store, &admin(&store).await, 10)
        .await
        .unwrap();
    assert_eq!(kept[0].contact.rule, "channel_cap");

    // an opted-out borrower is never messaged, and the refusal is kept
    contact::set_opt_out(&store, &risk, "B2", "sms", true, "asked on the phone")
        .await
        .unwrap();
    promise(2, 1, "2026-03-21T03:00:00Z").await;
    let before = gateway.log().requests.len();
    let r = deliver(&store, "2026-03-21T03:00:10Z").await;
    assert_eq!((r.claimed, r.sent, r.blocked), (1, 0, 1));
    assert_eq!(
        gateway.log().requests.len(),
        before,
        "nothing reached the gateway"
    );
    let kept = contact::blocked(&store, &admin(&store).await, 10)
        .await
        .unwrap();
    assert_eq!(kept[0].contact.rule, "opted_out");
}

async fn emergency_contacts_are_called_only_with_consent_and_only_to_locate(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let c1 = team::actor(&store, "c1").await.unwrap();
    // c1's team works B1's loan: c1 may read and record the borrower's contacts
    let t = task(&store, 1, "locate", "early_collection", "2026-03-20").await;
    let add = |name: &str, mobile: &str, consent: Option<&str>| EmergencyContactRequest {
        name: name.into(),
        relation: "配偶".into(),
        mobile: mobile.into(),
        consent_on: consent.map(str::to_string),
    };
    let without =
        contact::set_emergency_contact(&store, &c1, "B1", &add("李四", "13900139000", None))
            .await
            .unwrap();
    let with = contact::set_emergency_contact(
        &store,
        &c1,
        "B1",
        &add("王五", "13700137000", Some("2026-01-15")),
    )
    .await
    .unwrap();
    assert_eq!(with.mobile, "137****7000");
    let bad = contact::set_emergency_contact(&store, &c1, "B1", &add("赵六", "12345", None)).await;
    assert!(matches!(
        bad,
        Err(AppError::Field {
            field: "mobile",
            ..
        })
    ));
    let listed = contact::emergency_contacts(&store, &c1, "B1")
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    let call = |key: &str, outcome: &str, who: i64| OutcomeInput {
        channel: "phone".into(),
        outcome: outcome.into(),
        idempotency_key: key.into(),
        occurred_at: Some("2026-03-20T02:00:00Z".into()),
        emergency_contact: Some(who),
        ..OutcomeInput::default()
    };
    // no consent: refused with its rule, kept, nothing recorded
    let e = team::record_outcome(&store, &c1, t, &call("e1", "reached", without.id))
        .await
        .unwrap_err();
    match e {
        AppError::Blocked { record } => assert_eq!(record.rule, "third_party_consent"),
        other => panic!("{other}"),
    }
    // consent, but collection content: refused naming the outcome
    let mut promise = call("e2", "promise_to_pay", with.id);
    promise.amount = Some("100".into());
    promise.date = Some(d("2026-03-25"));
    let e = team::record_outcome(&store, &c1, t, &promise)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            AppError::Field {
                field: "outcome",
                ..
            }
        ),
        "{e}"
    );
    // consent, to locate: recorded, the task left as it was
    let r = team::record_outcome(&store, &c1, t, &call("e3", "reached", with.id))
        .await
        .unwrap();
    assert!(r.new);
    assert!(
        r.task.state.is_open(),
        "reaching a third party does not work the task"
    );
    assert!(r.promise_id.is_none() && r.signals.is_empty());
}

async fn a_loan_disbursed_within_the_week_is_welcomed_with_its_import(dbs: &mut Dbs) {
    use huifang_app::rows::LoanRow;
    use huifang_core::ids::Vin;
    use huifang_core::schedule::Method;
    use huifang_core::{Money, Rate};
    let store = dbs.fresh().await;
    book(&store, 1).await; // L1, disbursed 2026-01-15: too old to be welcomed
    assert!(all_messages(&store).await.is_empty());
    let loan = |id: &str, on: &str| LoanRow {
        external_id: id.into(),
        borrower_external_id: "B1".into(),
        product_code: "P3".into(),
        principal: Money::parse("12000.00").unwrap(),
        annual_rate: Rate::parse_annual("0.12").unwrap(),
        term_months: 12,
        method: Method::Annuity,
        disbursed_on: d(on),
        vin: Vin::parse("LVSN4BKM0R1944736").unwrap(),
        vehicle_model: "大众 朗逸".into(),
        vehicle_price: Money::parse("150000").unwrap(),
        dealer: "上海大众4S店".into(),
    };
    let policy = policy::load(&store).await.unwrap();
    let rows = vec![
        (2, loan("NEW1", "2026-03-13")),
        (3, loan("OLD1", "2026-03-12")),
    ];
    huifang_app::import::import_loans(&store, &policy, &rows)
        .await
        .unwrap();
    let written = all_messages(&store).await;
    assert_eq!(written.len(), 1, "{written:#?}");
    let m = &written[0];
    assert_eq!((m.event.as_str(), m.loan.as_str()), ("welcome", "NEW1"));
    let key = &m.idempotency_key;
    assert!(
        key.starts_with("welcome:") && key.ends_with(":2026-04-13:sms"),
        "{key}"
    );
    // the same file again writes nothing more
    huifang_app::import::import_loans(&store, &policy, &rows)
        .await
        .unwrap();
    assert_eq!(all_messages(&store).await.len(), 1);
    // rendered with the first installment (12,000 at 12 % over 12 months: 1066.19)
    let gateway = FakeGateway::start("sms-token", Flaky::RELIABLE).await;
    channels(&store, &gateway, None).await;
    let r = deliver(&store, "2026-03-20T02:00:00Z").await;
    assert_eq!(r.sent, 1);
    let log = gateway.log();
    let (_, body, _) = log.delivered.values().next().unwrap();
    assert_eq!(body["params"]["due_date"], "2026-04-13");
    assert_eq!(body["params"]["amount"], "1066.19");
}

async fn contacts_come_with_the_borrower_file(dbs: &mut Dbs) {
    use huifang_app::files::ImportFormat;
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let policy = policy::load(&store).await.unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("borrowers.csv");
    let header = "external_id,name,id_number,mobile,employer,monthly_income,city,email,wechat_id,emergency_name,emergency_relation,emergency_mobile,emergency_consent_on";
    let good = [
        "B7,王七,11010519491231002X,13800138007,某公司,9000,北京市,wang7@example.com,oWx-7,王妻,配偶,13900139007,2026-01-15",
        "B8,李八,11010519491231002X,13800138008,某公司,9000,北京市,,,李父,父母,13900139008,",
        "B9,赵九,11010519491231002X,13800138009,某公司,9000,北京市,,,,,,",
    ];
    // an emergency contact without its mobile: the file is refused, naming line and column
    let bad = format!(
        "{header}\n{}\nB10,钱十,11010519491231002X,13800138010,某公司,9000,北京市,not-an-email,,钱母,父母,,\n",
        good[0]
    );
    std::fs::write(&file, bad).unwrap();
    let e = huifang_app::import::import_file(&store, &policy, ImportFormat::Borrowers, &file)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 3") && e.contains("emergency_mobile") && e.contains("email"),
        "{e}"
    );
    // a risk officer reads every borrower's contacts
    let c1 = team::actor(&store, "risk").await.unwrap();
    assert!(
        contact::emergency_contacts(&store, &c1, "B7")
            .await
            .is_err(),
        "nothing imported"
    );

    std::fs::write(&file, format!("{header}\n{}\n", good.join("\n"))).unwrap();
    for _ in 0..2 {
        // the same file twice: the same contacts
        huifang_app::import::import_file(&store, &policy, ImportFormat::Borrowers, &file)
            .await
            .unwrap();
    }
    let seven = contact::emergency_contacts(&store, &c1, "B7")
        .await
        .unwrap();
    assert_eq!(seven.len(), 1);
    assert_eq!(
        (
            seven[0].name.as_str(),
            seven[0].relation.as_str(),
            seven[0].consent_on.as_deref()
        ),
        ("王妻", "配偶", Some("2026-01-15"))
    );
    let eight = contact::emergency_contacts(&store, &c1, "B8")
        .await
        .unwrap();
    assert_eq!(eight[0].consent_on, None, "no consent given");
    assert!(
        contact::emergency_contacts(&store, &c1, "B9")
            .await
            .unwrap()
            .is_empty()
    );
    let addresses = contact::addresses(&store, &c1, "B7").await.unwrap();
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0].address, "wang7@example.com");
    // a file with the seven columns only still imports
    std::fs::write(
        &file,
        "external_id,name,id_number,mobile,employer,monthly_income,city\nB11,孙十一,11010519491231002X,13800138011,某公司,9000,北京市\n",
    )
    .unwrap();
    huifang_app::import::import_file(&store, &policy, ImportFormat::Borrowers, &file)
        .await
        .unwrap();
}

async fn a_decision_is_announced_to_the_borrower(dbs: &mut Dbs) {
    use huifang_app::decisions::{self, DecisionRequest};
    use huifang_core::loan::LoanOp;
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let policy = policy::load(&store).await.unwrap();
    let risk = team::actor(&store, "risk").await.unwrap();
    let request = DecisionRequest {
        op: LoanOp::Defer { months: 2 },
        on: None,
        reason: "客户失业，申请展期".into(),
    };
    decisions::decide(&store, &policy, &risk, "L1", &request)
        .await
        .unwrap();
    let written = all_messages(&store).await;
    assert_eq!(written.len(), 1, "{written:#?}");
    assert_eq!(written[0].event, "decision_notice");
    let gateway = FakeGateway::start("sms-token", Flaky::RELIABLE).await;
    channels(&store, &gateway, None).await;
    assert_eq!(deliver(&store, "2026-03-20T02:00:00Z").await.sent, 1);
    let log = gateway.log();
    let (_, body, _) = log.delivered.values().next().unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("张1您好") && text.contains("已办理展期，自 2026-03-20 起生效"),
        "{text}"
    );
}

async fn wechat_messages_and_calls_through_flaky_gateways_arrive_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 3).await;
    let flaky = Flaky {
        fail_permille: 300,
        hang_permille: 100,
        hang: Duration::from_millis(1500),
    };
    let (sms, wechat, phone) = (
        FakeGateway::start("sms-token", Flaky::RELIABLE).await,
        FakeGateway::start("wechat-token", flaky).await,
        FakeGateway::start("phone-token", flaky).await,
    );
    channels(&store, &sms, Some(&wechat)).await;
    // calls at any hour here (they are placed now, whenever the test runs)
    let admin = admin(&store).await;
    contact::set_rules(
        &store,
        &admin,
        r#"{"utc_offset_minutes":480,"hours":{"from":"00:00","until":"24:00"},"max_connected_collection_calls":3,"channel_caps":{"wechat":100}}"#,
    )
    .await
    .unwrap();
    let mut doc = serde_json::to_value(notify::load_channels(&store).await.unwrap()).unwrap();
    doc["phone"] =
        serde_json::json!({"url": phone.url(), "token": phone.token, "timeout_seconds": 1});
    notify::set_channels(&store, &admin, &doc.to_string())
        .await
        .unwrap();
    rules(
        &store,
        serde_json::json!({"promise_confirmation": ["wechat"]}),
    )
    .await;
    let c1 = team::actor(&store, "c1").await.unwrap();
    let risk = team::actor(&store, "risk").await.unwrap();
    let mut promised = 0;
    for loan in 1..=3usize {
        contact::set_address(
            &store,
            &risk,
            &format!("B{loan}"),
            &AddressRequest {
                channel: "wechat".into(),
                address: format!("openid-{loan}"),
            },
        )
        .await
        .unwrap();
        for n in 0..4 {
            let t = task(
                &store,
                loan,
                &format!("w{loan}-{n}"),
                "early_collection",
                "2026-03-20",
            )
            .await;
            // promised in a WeChat chat: no connected call counts against the calls' cap
            let input = OutcomeInput {
                channel: "wechat".into(),
                outcome: "promise_to_pay".into(),
                amount: Some(format!("{}", 100 * (n + 1))),
                date: Some(d("2026-03-25")),
                idempotency_key: format!("p{loan}-{n}"),
                ..OutcomeInput::default()
            };
            team::record_outcome(&store, &c1, t, &input).await.unwrap();
            promised += 1;
            let call = task(
                &store,
                loan,
                &format!("c{loan}-{n}"),
                "early_collection",
                "2026-03-20",
            )
            .await;
            notify::place_call(&store, &c1, call, "once").await.unwrap();
            // the same request again places nothing more
            notify::place_call(&store, &c1, call, "once").await.unwrap();
        }
    }
    let written = all_messages(&store).await;
    assert_eq!(
        written.len(),
        promised * 2,
        "a confirmation and a call each"
    );
    let mut now = Utc::now();
    let mut passes = 0;
    loop {
        let r = deliver(&store, &now.to_rfc3339()).await;
        passes += 1;
        if r.claimed == 0 {
            break;
        }
        assert!(passes < 60, "the outbox does not drain");
        now += chrono::Duration::seconds(10);
    }
    let after = all_messages(&store).await;
    for (gateway, channel) in [(&wechat, "wechat"), (&phone, "phone")] {
        let log = gateway.log();
        let asked: u32 = log.requests.values().sum();
        let mine: Vec<&MessageView> = after.iter().filter(|m| m.channel == channel).collect();
        assert!(
            asked as usize > mine.len(),
            "{channel}: failures made retries"
        );
        for m in &mine {
            match m.state.as_str() {
                "sent" => assert_eq!(log.delivered[&m.idempotency_key].2, 1),
                "dead" => assert_eq!(m.attempts, 4, "{m:?}"),
                other => panic!("{channel} message {} left {other}", m.id),
            }
        }
        // every key the gateway took is one message's; one delivery per confirmation (borrower
        // and amount) and per call (task): never two keys for one message
        let mut effects: HashMap<String, u32> = HashMap::new();
        for (key, (_, body, _)) in &log.delivered {
            assert!(by_key_exists(&after, key), "{key}");
            let what = format!(
                "{} {} {}",
                body["to"], body["task_id"], body["params"]["promise_amount"]
            );
            *effects.entry(what).or_default() += 1;
        }
        assert!(effects.values().all(|n| *n == 1), "{channel}: {effects:?}");
    }
}

fn by_key_exists(all: &[MessageView], key: &str) -> bool {
    all.iter().any(|m| m.idempotency_key == key)
}

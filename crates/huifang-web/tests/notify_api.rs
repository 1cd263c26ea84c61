//! Messages and calls over a real server on 127.0.0.1, with the telephony and SMS gateways on
//! loopback: the channels' connections set by the administrator (secrets never shown); a call
//! placed for a collector, delivered to the provider by the worker, and its hangup arriving on
//! the signed callback as an interaction on the task (duration and recording kept); a bad
//! signature, a stale timestamp and a replay each refused with 401 and nothing recorded; a
//! delivery receipt; a "退订" reply opting the borrower out; emergency contacts and addresses.

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

use api::Api;
use huifang_adapters::Couriers;
use huifang_app::notify::{self, DeliveryOptions};
use huifang_store::Store;
use huifang_testkit::gateway::{FakeGateway, Flaky};
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{book, task};

on_both!(messages_calls_and_callbacks_over_http);

const SECRET: &str = "a-shared-secret-of-the-providers";

async fn deliver(store: &Store) -> huifang_app::views::DeliveryView {
    let couriers = Couriers::from_doc(&notify::load_channels(store).await.unwrap()).unwrap();
    notify::deliver_once(
        store,
        &couriers,
        chrono::Utc::now(),
        DeliveryOptions::default(),
        || 500,
    )
    .await
    .unwrap()
}

/// Posts a callback signed at `ts` (Unix seconds) with `secret`.
async fn callback(
    api: &Api,
    channel: &str,
    body: &Value,
    ts: i64,
    secret: &str,
) -> (StatusCode, Value) {
    let text = body.to_string();
    let sig = notify::sign(secret, &ts.to_string(), text.as_bytes());
    post_signed(api, channel, &text, &ts.to_string(), &sig).await
}

async fn post_signed(
    api: &Api,
    channel: &str,
    text: &str,
    ts: &str,
    sig: &str,
) -> (StatusCode, Value) {
    let resp = api
        .client
        .post(format!("{}/api/v1/channels/{channel}/callbacks", api.base))
        .header("Content-Type", "application/json")
        .header("X-Huifang-Timestamp", ts)
        .header("X-Huifang-Signature", sig)
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn messages_calls_and_callbacks_over_http(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let api = Api::start(&store).await;
    let (c1, admin, risk) = (
        api.login("c1").await,
        api.login("admin").await,
        api.login("risk").await,
    );
    let phone = FakeGateway::start("phone-token", Flaky::RELIABLE).await;
    let sms = FakeGateway::start("sms-token", Flaky::RELIABLE).await;

    // contacts at any hour, so that the test runs whenever it runs (the hours have their own)
    let rules = json!({"utc_offset_minutes": 480, "hours": {"from": "00:00", "until": "24:00"},
                       "max_connected_collection_calls": 3, "channel_caps": {"sms": 3}});
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/contact-rules",
            Some(&admin),
            None,
            Some(rules),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let doc = json!({
        "phone": {"url": phone.url(), "token": phone.token, "timeout_seconds": 2},
        "sms": {"url": sms.url(), "token": sms.token},
        "webhook_secret": SECRET,
    });
    let (s, b) = api
        .call("PUT", "/api/v1/channels", Some(&admin), None, Some(doc))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["webhook_secret"], notify::HIDDEN);
    assert_eq!(b["phone"]["token"], notify::HIDDEN);
    let (s, _) = api.get("/api/v1/channels", Some(&c1)).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only the administrator reads the connections"
    );
    let bad = json!({"sms": {"url": "ftp://x", "token": "t"}});
    let (s, b) = api
        .call("PUT", "/api/v1/channels", Some(&admin), None, Some(bad))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["message"].as_str().unwrap().contains("sms.url"), "{b}");

    // a call placed for the collector: queued, then handed to the provider by the worker
    let t = task(&store, 1, "call", "early_collection", "2026-03-20").await;
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/call"),
            Some(&c1),
            Some("call-1"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let r = deliver(&store).await;
    assert_eq!((r.claimed, r.sent), (1, 1));
    let log = phone.log();
    assert_eq!(log.delivered.len(), 1);
    let (path, body, _) = log.delivered.values().next().unwrap();
    assert_eq!(
        (path.as_str(), body["to"].as_str()),
        ("/calls", Some("13800138000"))
    );
    assert_eq!(body["agent"], "c1");
    let (_, page) = api.get("/api/v1/messages?channel=phone", Some(&risk)).await;
    let call_id = page["messages"][0]["provider_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(page["messages"][0]["state"], "sent");

    let now = chrono::Utc::now().timestamp();
    let events = json!({"events": [
        {"type": "call", "id": call_id, "event": "ringing"},
        {"type": "call", "id": call_id, "event": "answered"},
        {"type": "call", "id": call_id, "event": "hangup", "duration_seconds": 95, "recording": "rec-0001"}
    ]});
    let interactions = async || {
        let (_, b) = api.get(&format!("/api/v1/tasks/{t}"), Some(&c1)).await;
        b["interactions"].as_array().unwrap().clone()
    };

    // refused, each with 401 and nothing recorded: a bad signature, a stale timestamp, no secret
    let text = events.to_string();
    let (s, b) = post_signed(&api, "phone", &text, &now.to_string(), &"0".repeat(64)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    let (s, b) = callback(&api, "phone", &events, now - 301, SECRET).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    assert!(b["message"].as_str().unwrap().contains("stale"), "{b}");
    let (s, _) = callback(&api, "phone", &events, now, "another-secret-of-16+").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(interactions().await.is_empty());

    // signed: the hangup of an answered call is the task's interaction, by the collector
    let (s, b) = callback(&api, "phone", &events, now, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["receipts"].as_u64(), b["interactions"].as_u64()),
        (Some(3), Some(1))
    );
    let recorded = interactions().await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["outcome"], "reached");
    assert_eq!(recorded[0]["duration_seconds"], 95);
    let (_, me) = api.get("/api/v1/me", Some(&c1)).await;
    assert_eq!(recorded[0]["user_id"], me["id"], "{me}");
    assert!(recorded[0]["notes"].as_str().unwrap().contains("rec-0001"));
    // the same callback again is a replay: 401, nothing recorded twice
    let (s, b) = callback(&api, "phone", &events, now, SECRET).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(b["message"].as_str().unwrap().contains("replayed"), "{b}");
    assert_eq!(interactions().await.len(), 1);

    // a call whose task was closed before its hangup arrived: the events are kept with the
    // call, no interaction is recorded, the provider's report is taken
    let t3 = task(&store, 1, "closed", "early_collection", "2026-03-20").await;
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t3}/call"),
            Some(&c1),
            Some("call-3"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(deliver(&store).await.sent, 1);
    let (_, page) = api.get("/api/v1/messages?channel=phone", Some(&risk)).await;
    let late_call = page["messages"][0]["provider_id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = json!({"channel": "phone", "outcome": "refused"});
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t3}/outcome"),
            Some(&c1),
            Some("t3-done"),
            Some(done),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let hangup = json!({"events": [
        {"type": "call", "id": late_call, "event": "hangup", "duration_seconds": 12, "recording": "rec-0003"}
    ]});
    let (s, b) = callback(&api, "phone", &hangup, now + 3, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["receipts"].as_u64(), b["interactions"].as_u64()),
        (Some(1), Some(0))
    );
    let (_, shown) = api.get(&format!("/api/v1/tasks/{t3}"), Some(&c1)).await;
    let loan_contacts = shown["interactions"].as_array().unwrap();
    assert_eq!(
        loan_contacts.len(),
        2,
        "the first call and the refusal: {shown}"
    );
    assert!(
        loan_contacts
            .iter()
            .all(|i| !i["notes"].as_str().unwrap().contains("rec-0003"))
    );

    // a promise's confirmation by SMS, delivered, and its receipt
    let t2 = task(&store, 1, "promise", "early_collection", "2026-03-20").await;
    let promise = json!({"channel": "phone", "outcome": "promise_to_pay", "amount": "500",
                         "date": "2026-03-25"});
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t2}/outcome"),
            Some(&c1),
            Some("p1"),
            Some(promise),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(deliver(&store).await.sent, 1);
    let (_, page) = api.get("/api/v1/messages?channel=sms", Some(&risk)).await;
    let sms_id = page["messages"][0]["provider_id"]
        .as_str()
        .unwrap()
        .to_string();
    let receipt = json!({"events": [{"type": "receipt", "id": sms_id, "status": "delivered"}]});
    let (s, b) = callback(&api, "sms", &receipt, now + 1, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, page) = api
        .get("/api/v1/messages?state=delivered", Some(&risk))
        .await;
    assert_eq!(page["messages"][0]["event"], "promise_confirmation");
    let (_, report) = api.get("/api/v1/messages/report", Some(&risk)).await;
    let row = report
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["channel"] == "sms")
        .unwrap();
    assert_eq!(row["delivered"], 1);

    // "退订" by SMS opts the borrower out of SMS at once
    let reply = json!({"events": [{"type": "reply", "from": "13800138000", "text": "退订"}]});
    let (s, b) = callback(&api, "sms", &reply, now + 2, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["opt_outs"], 1);
    let (_, outs) = api.get("/api/v1/borrowers/B1/opt-outs", Some(&c1)).await;
    assert_eq!(outs[0]["channel"], "sms", "{outs}");

    // a reply that says the car was sold is a risk signal on the borrower's loan: level 3 at
    // once; one that denies it is none
    let reply = json!({"events": [
        {"type": "reply", "from": "13800138000", "text": "我没有把车卖掉"},
        {"type": "reply", "from": "13800138000", "text": "车已经卖了，钱还不上"}
    ]});
    let (s, b) = callback(&api, "sms", &reply, now + 3, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["signals"].as_u64().unwrap() >= 1, "{b}");
    let (_, w) = api.get("/api/v1/warnings?loan=L1", Some(&risk)).await;
    assert_eq!(w["warnings"][0]["level"], 3, "{w}");
    assert_eq!(w["warnings"][0]["rule"], "vehicle_sold", "{w}");

    // emergency contacts and addresses
    let ec = json!({"name": "李四", "relation": "配偶", "mobile": "13900139000", "consent_on": "2026-01-15"});
    let (s, b) = api
        .call(
            "POST",
            "/api/v1/borrowers/B1/emergency-contacts",
            Some(&c1),
            None,
            Some(ec),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["mobile"], "139****9000");
    let (_, list) = api
        .get("/api/v1/borrowers/B1/emergency-contacts", Some(&c1))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/borrowers/B1/addresses",
            Some(&c1),
            None,
            Some(json!({"channel": "email", "address": "zhang@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b[0]["address"], "zhang@example.com");
}

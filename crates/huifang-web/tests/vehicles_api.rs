//! Vehicle monitoring over a real server on 127.0.0.1: the monitoring's rules set by a risk
//! officer (the webhook secret never shown); a GPS vendor's signed batch of tracker events
//! judged at once into a level-3 warning; a bad signature, a stale timestamp, a replay and a
//! bad event each refused with nothing kept; the vehicle's page over the API and in the
//! console for the risk officer, refused to others, every view in the auditors' log.

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

use api::{Api, Console};
use huifang_app::notify;
use huifang_store::Store;
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::book;

on_both!(tracker_events_over_the_signed_webhook_and_the_vehicle_page);

const SECRET: &str = "a-shared-secret-of-the-gps-vendor";
/// L1's vehicle in the fixture (its borrower registered in Beijing, 110105…).
const VIN: &str = "LVSN4BKM0R1944736";

async fn post_signed(api: &Api, text: &str, ts: i64, secret: &str) -> (StatusCode, Value) {
    let sig = notify::sign(secret, &ts.to_string(), text.as_bytes());
    let resp = api
        .client
        .post(format!("{}/api/v1/trackers/events", api.base))
        .header("Content-Type", "application/json")
        .header("X-Huifang-Timestamp", ts.to_string())
        .header("X-Huifang-Signature", sig)
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn kept(store: &Store) -> (i64, i64, i64) {
    let mut tx = store.begin().await.unwrap();
    let c = tx.vehicle_counts().await.unwrap();
    tx.rollback().await.unwrap();
    c
}

async fn tracker_events_over_the_signed_webhook_and_the_vehicle_page(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    huifang_app::rules::seed_default(&store).await.unwrap();
    let api = Api::start(&store).await;
    let (risk, c1, audit) = (
        api.login("risk").await,
        api.login("c1").await,
        api.login("audit").await,
    );

    // the rules with the vendor's secret, which is never shown again
    let mut doc = json!({"offline_hours": 48, "diverge_m": 2000, "diverge_minutes": 30,
                         "stay_hours": 24, "retention_days": 180, "webhook_secret": SECRET});
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/vehicle-monitoring",
            Some(&risk),
            None,
            Some(doc.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["webhook_secret"], "********");
    doc["stay_hours"] = json!(0);
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/vehicle-monitoring",
            Some(&risk),
            None,
            Some(doc),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["message"].as_str().unwrap().contains("stay_hours"), "{b}");

    let now = chrono::Utc::now();
    let at = |minutes: i64| (now - chrono::Duration::minutes(minutes)).to_rfc3339();
    let batch = json!({"events": [
        {"device_id": "GW-1", "vin": VIN, "tracker": "wired", "time": at(120),
         "lat": "39.904200", "lon": "116.407400", "event": "position"},
        {"device_id": "GW-1", "vin": VIN, "tracker": "wired", "time": at(60),
         "lat": "", "lon": "", "event": "power_cut"},
    ]})
    .to_string();
    let ts = now.timestamp();

    // refused, nothing kept: another secret, a stale timestamp, a bad event
    let (s, _) = post_signed(&api, &batch, ts, "another-secret-of-16+").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = post_signed(&api, &batch, ts - 301, SECRET).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let bad = batch.replace("39.904200", "99.9");
    let (s, b) = post_signed(&api, &bad, ts, SECRET).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["message"].as_str().unwrap().contains("[0].lat"), "{b}");
    assert_eq!(kept(&store).await, (0, 0, 0));

    // the good batch: bound by VIN, the power cut a level-3 warning at once
    let (s, b) = post_signed(&api, &batch, ts + 1, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["kept"].as_u64(), b["trackers_bound"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(b["signals"][0]["kind"], "gps_power_cut", "{b}");
    assert_eq!(b["signals"][0]["loan"], "L1");
    let (s, w) = api.get("/api/v1/warnings?loan=L1", Some(&risk)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(w["warnings"][0]["level"], 3, "{w}");
    assert_eq!(w["warnings"][0]["rule"], "gps_power_cut", "{w}");
    // the same request again is a replay
    let (s, _) = post_signed(&api, &batch, ts + 1, SECRET).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(kept(&store).await, (1, 2, 0));

    // the vehicle: the risk officer sees it, a collector without a case does not
    let (s, v) = api.get("/api/v1/loans/L1/vehicle", Some(&risk)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["province"], "11");
    assert_eq!(v["trackers"][0]["last_position"]["lat"], "39.904200");
    assert_eq!(v["signals"][0]["kind"], "gps_power_cut");
    let (s, _) = api.get("/api/v1/loans/L1/vehicle", Some(&c1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // the console's page, in Chinese
    let risk_page = Console::signed_in(&api.base, "risk").await;
    let (status, html) = risk_page.get("/loans/L1/vehicle").await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "车辆与定位",
        "GW-1",
        "39.904200, 116.407400",
        "定位器断电",
        "北京",
    ] {
        assert!(html.contains(text), "{text} not on the page");
    }
    let (_, loan) = risk_page.get("/loans/L1").await;
    assert!(loan.contains("/loans/L1/vehicle"));
    let (status, _) = Console::signed_in(&api.base, "lead_fu")
        .await
        .get("/loans/L1/vehicle")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // every view logged, read by auditors
    let (s, log) = api
        .get("/api/v1/location-views?loan=L1", Some(&audit))
        .await;
    assert_eq!(s, StatusCode::OK);
    let users: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["username"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["risk", "risk"]);
    let (status, html) = Console::signed_in(&api.base, "audit")
        .await
        .get("/audit/locations?loan=L1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches("<td>risk</td>").count(), 2, "{html}");
}

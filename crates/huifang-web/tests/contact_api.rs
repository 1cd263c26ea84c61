//! The contact rules over a real server on 127.0.0.1: an outcome recorded at 21:00 in Shanghai
//! refused with 403 naming the rule (and kept in the refusals), an opt-out recorded and honoured
//! at once and lifted, the rules document read by any user and changed by the administrator
//! only, a malformed one refused naming the field; message templates listed, set by the
//! administrator (a field outside the event refused) and previewed with a loan's facts.

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
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::json;
use support::{book, task};

on_both!(contact_rules_over_http);

async fn contact_rules_over_http(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let api = Api::start(&store).await;
    let (a1, audit, admin) = (
        api.login("a1").await,
        api.login("audit").await,
        api.login("admin").await,
    );
    let t = task(&store, 1, "welcome", "followup", "2026-03-19").await;
    let outcome = format!("/api/v1/tasks/{t}/outcome");

    // 21:00 in Shanghai: 403, the rule named, nothing recorded; 20:59 is recorded
    let late =
        json!({"channel": "phone", "outcome": "reached", "occurred_at": "2026-03-19T13:00:00Z"});
    let (s, b) = api
        .call("POST", &outcome, Some(&a1), Some("k1"), Some(late))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let msg = b["message"].as_str().unwrap();
    assert!(msg.contains("contact rule contact_hours"), "{msg}");
    let (s, b) = api.get(&format!("/api/v1/tasks/{t}"), Some(&a1)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["task"]["attempts"], 0, "{b}");
    assert_eq!(b["interactions"], json!([]), "{b}");

    // an opt-out honoured at once, then lifted
    let opt = "/api/v1/borrowers/B1/opt-outs";
    let (s, b) = api
        .call(
            "POST",
            opt,
            Some(&a1),
            None,
            Some(json!({"channel": "phone", "note": "客户要求"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b[0]["channel"], "phone");
    let (s, _) = api
        .call(
            "POST",
            opt,
            Some(&a1),
            None,
            Some(json!({"channel": "phone"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = api
        .call(
            "POST",
            opt,
            Some(&a1),
            None,
            Some(json!({"channel": "fax"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(
        api.call(
            "POST",
            opt,
            Some(&audit),
            None,
            Some(json!({"channel": "sms"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let in_time =
        json!({"channel": "phone", "outcome": "reached", "occurred_at": "2026-03-19T12:59:00Z"});
    let (s, b) = api
        .call(
            "POST",
            &outcome,
            Some(&a1),
            Some("k2"),
            Some(in_time.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(b["message"].as_str().unwrap().contains("opted_out"), "{b}");
    let (s, b) = api
        .call("DELETE", &format!("{opt}/phone"), Some(&a1), None, None)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!([]));
    assert_eq!(
        api.call("DELETE", &format!("{opt}/phone"), Some(&a1), None, None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (s, b) = api
        .call("POST", &outcome, Some(&a1), Some("k2"), Some(in_time))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // the refusals, for the roles that read loans
    assert_eq!(
        api.get("/api/v1/contacts/blocked", Some(&a1)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = api
        .get("/api/v1/contacts/blocked?limit=10", Some(&audit))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rules: Vec<&str> = b
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["opted_out", "contact_hours"]);
    assert_eq!(b[1]["attempted_at"], "2026-03-19T13:00:00Z");
    assert_eq!(b[1]["user"], "a1");

    // the rules document
    let (s, doc) = api.get("/api/v1/contact-rules", Some(&a1)).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["hours"], json!({"from": "08:00", "until": "21:00"}));
    let mut later = doc.clone();
    later["hours"]["until"] = json!("22:00");
    assert_eq!(
        api.call(
            "PUT",
            "/api/v1/contact-rules",
            Some(&a1),
            None,
            Some(later.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let mut bad = later.clone();
    bad["channel_caps"]["sms"] = json!(0);
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/contact-rules",
            Some(&admin),
            None,
            Some(bad),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("channel_caps.sms"),
        "{b}"
    );
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/contact-rules",
            Some(&admin),
            None,
            Some(later),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["hours"]["until"], "22:00");

    let (s, b) = api.get("/api/v1/contacts/retention", Some(&audit)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["retention_years"], 5);
    assert_eq!(
        b["years"],
        json!([{"year": "2026", "contacts": 1, "refused": 2}])
    );
    assert_eq!(
        api.get("/api/v1/contacts/retention", Some(&a1)).await.0,
        StatusCode::FORBIDDEN
    );

    // message templates: read by any user, set by the administrator, previewed with a loan
    let (s, b) = api.get("/api/v1/templates", Some(&a1)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b.as_array().unwrap().len(), 36);
    let path = "/api/v1/templates/reminder_due/zh/sms";
    let good = json!({"body": "{name}：今天（{due_date}）请还 {amount} 元。"});
    assert_eq!(
        api.call("PUT", path, Some(&a1), None, Some(good.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = api
        .call(
            "PUT",
            path,
            Some(&admin),
            None,
            Some(json!({"body": "{promise_date}"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("{promise_date} is not a field"),
        "{b}"
    );
    let (s, b) = api.call("PUT", path, Some(&admin), None, Some(good)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["set_on"], "2026-03-20");
    assert_eq!(
        api.get("/api/v1/templates/birthday/zh/sms", Some(&a1))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (s, b) = api
        .get(
            "/api/v1/templates/overdue_notice/zh/sms/preview?loan=L1",
            Some(&audit),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        b["body"],
        "张1您好，您的车贷（合同L1）自 2026-02-15 起已逾期 33 天，应还 2150.38 元，请尽快还款，以免产生更多罚息并影响您的信用记录。"
    );
    assert_eq!(
        api.get(
            "/api/v1/templates/overdue_notice/zh/sms/preview",
            Some(&audit)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

//! Warnings and their rules over a real server on 127.0.0.1: the rule set read by the roles that
//! read loans and changed by risk officers (a malformed one refused naming the rule and field);
//! an outcome whose signal raises a warning answers with the loan's new level; the warning's life
//! taken by a risk officer, refused to other roles.

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
use serde_json::{Value, json};
use support::{book, task};

on_both!(warnings_and_rules_over_http);

async fn warnings_and_rules_over_http(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    huifang_app::rules::seed_default(&store).await.unwrap();
    let api = Api::start(&store).await;
    let (a1, risk, audit, admin, lead) = (
        api.login("a1").await,
        api.login("risk").await,
        api.login("audit").await,
        api.login("admin").await,
        api.login("lead_fu").await,
    );

    // The rule set: read by the auditor, refused to an agent; changed by a risk officer only.
    assert_eq!(
        api.get("/api/v1/rules", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.get("/api/v1/rules", Some(&a1)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, doc) = api.get("/api/v1/rules", Some(&audit)).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["version"], 1);
    // the repayment and follow-up rules, and the GPS trackers' seven
    assert_eq!(doc["rules"].as_array().unwrap().len(), 23);
    let mut bad = doc.clone();
    bad["rules"][3]["when"]["within_days"] = json!(0);
    let (s, b) = api
        .call("PUT", "/api/v1/rules", Some(&risk), None, Some(bad))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.contains("rules[3].when.within_days (rule business_trouble)"),
        "{msg}"
    );
    let mut raised = doc.clone();
    raised["rules"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "hardship_reported", "level": 1,
                     "when": {"kind": "signal", "signal": "hardship", "within_days": 30}}));
    for who in [&a1, &lead, &audit] {
        let (s, _) = api
            .call(
                "PUT",
                "/api/v1/rules",
                Some(who),
                None,
                Some(raised.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    assert_eq!(api.get("/api/v1/rules", Some(&admin)).await.1["version"], 1);
    let (s, b) = api
        .call("PUT", "/api/v1/rules", Some(&risk), None, Some(raised))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["version"].as_u64(), b["changed"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(b["applies_after"], "2026-03-20");

    // An outcome whose signal raises a warning answers with the loan's level, at once.
    let t = task(&store, 2, "welcome", "followup", "2026-03-19").await;
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/outcome"),
            Some(&a1),
            Some("veh-1"),
            Some(
                json!({"channel": "visit", "outcome": "vehicle_status", "vehicle_status": "sold", "occurred_at": "2026-12-05T02:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["warning_level"], 3);
    assert_eq!(b["risk_signals"], json!(["vehicle_sold"]));

    // The warning list: open warnings, newest first, with the facts in words.
    assert_eq!(
        api.get("/api/v1/warnings", Some(&a1)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, list) = api.get("/api/v1/warnings?loan=L2", Some(&risk)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let w: &Value = &list["warnings"][0];
    assert_eq!(
        (&w["level"], &w["rule"], &w["state"], &w["text_zh"]),
        (
            &json!(3),
            &json!("vehicle_sold"),
            &json!("raised"),
            &json!("回访记录 2026-03-20: 车辆已出售")
        )
    );
    let id = w["id"].as_i64().unwrap();
    assert_eq!(
        api.get("/api/v1/warnings?level=x", Some(&risk)).await.0,
        StatusCode::BAD_REQUEST
    );

    // Its life: refused to the auditor, taken by the risk officer.
    let ack = format!("/api/v1/warnings/{id}/ack");
    let (s, _) = api
        .call("POST", &ack, Some(&audit), None, Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let act = format!("/api/v1/warnings/{id}/action");
    let (s, _) = api
        .call("POST", &act, Some(&risk), None, Some(json!({"note": "x"})))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "acknowledged first");
    let (s, b) = api
        .call(
            "POST",
            &ack,
            Some(&risk),
            None,
            Some(json!({"note": "seen"})),
        )
        .await;
    assert_eq!(
        (s, &b["state"]),
        (StatusCode::OK, &json!("acknowledged")),
        "{b}"
    );
    let (s, b) = api
        .call(
            "POST",
            &act,
            Some(&risk),
            None,
            Some(json!({"task_id": t.get(), "note": "repossession review"})),
        )
        .await;
    assert_eq!(
        (s, &b["state"]),
        (StatusCode::OK, &json!("actioned")),
        "{b}"
    );
    let resolve = format!("/api/v1/warnings/{id}/resolve");
    let (s, _) = api
        .call(
            "POST",
            &resolve,
            Some(&risk),
            None,
            Some(json!({"reason": ""})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, b) = api
        .call(
            "POST",
            &resolve,
            Some(&risk),
            None,
            Some(json!({"reason": "vehicle recovered"})),
        )
        .await;
    assert_eq!(
        (s, &b["state"]),
        (StatusCode::OK, &json!("resolved")),
        "{b}"
    );
    let (s, b) = api
        .get(&format!("/api/v1/warnings/{id}"), Some(&audit))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let steps: Vec<(&str, &str)> = b["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["action"].as_str().unwrap(), h["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("acknowledged", "risk"),
            ("action_taken", "risk"),
            ("resolved", "risk")
        ]
    );
    assert_eq!(
        api.get("/api/v1/warnings/999999", Some(&risk)).await.0,
        StatusCode::NOT_FOUND
    );

    // Decisions over HTTP: a risk officer decides; above the four-eyes amount (100,000.00) not
    // reached here (12,000.00), it is applied at once; a collector may not; beyond the product's
    // deferral limit refused naming the field.
    let body = json!({"kind": "defer", "months": 1, "reason": "协商延期"});
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/loans/L1/decisions",
            Some(&a1),
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = api
        .call(
            "POST",
            "/api/v1/loans/L1/decisions",
            Some(&risk),
            None,
            Some(json!({"kind": "defer", "months": 9, "reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["message"].as_str().unwrap().contains("months"), "{b}");
    // the preview: refused as the decision would be, records nothing, and shows the schedule
    // the decision then makes
    let preview = "/api/v1/loans/L1/decisions/preview";
    let (s, _) = api
        .call("POST", preview, Some(&a1), None, Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = api
        .call(
            "POST",
            preview,
            Some(&risk),
            None,
            Some(json!({"kind": "defer", "months": 9, "reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["message"].as_str().unwrap().contains("months"), "{b}");
    // the schedule as the loan's full view shows it
    let schedule = || async {
        let policy = huifang_app::policy::load(&store).await.unwrap();
        let view = huifang_app::loans::view(&store, &policy, "L1")
            .await
            .unwrap();
        serde_json::to_value(huifang_app::views::LoanDetailView::from(&view)).unwrap()
            ["installments"]
            .clone()
    };
    let before = schedule().await;
    assert_eq!(before.as_array().map(Vec::len), Some(12));
    let (s, previewed) = api
        .call("POST", preview, Some(&risk), None, Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{previewed}");
    assert_eq!(
        (&previewed["loan"], &previewed["op"]),
        (&json!("L1"), &json!("defer"))
    );
    assert_ne!(previewed["installments"], before);
    let (_, listed) = api.get("/api/v1/loans/L1/decisions", Some(&audit)).await;
    assert_eq!(listed["decisions"], json!([]), "a preview records nothing");
    assert_eq!(schedule().await, before);
    let (s, b) = api
        .call(
            "POST",
            "/api/v1/loans/L1/decisions",
            Some(&risk),
            None,
            Some(body),
        )
        .await;
    assert_eq!(
        (s, &b["state"]),
        (StatusCode::CREATED, &json!("applied")),
        "{b}"
    );
    assert_eq!(
        schedule().await,
        previewed["installments"],
        "the decision makes the schedule its preview showed"
    );
    let (s, b) = api.get("/api/v1/loans/L1/decisions", Some(&audit)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            &b["decisions"][0]["kind"],
            &b["decisions"][0]["requested_by"]
        ),
        (&json!("defer"), &json!("risk"))
    );
    assert_eq!(
        api.call(
            "POST",
            "/api/v1/decisions/999999/approve",
            Some(&risk),
            None,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // The five-tier report: two loans, both normal on 02-10 and overdue on 03-20.
    assert_eq!(
        api.get("/api/v1/reports/tiers?from=2026-02-10", Some(&a1))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/api/v1/reports/tiers", Some(&risk)).await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, b) = api
        .get("/api/v1/reports/tiers?from=2026-02-10", Some(&audit))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (&b["from"], &b["to"]),
        (&json!("2026-02-10"), &json!("2026-03-20"))
    );
    assert_eq!(
        b["moves"],
        json!([{"from": "normal", "to": "special_mention", "loans": 2, "balance": "24000.00", "rate_pct": "100.00"}])
    );

    // The reports over time: JSON, CSV and an .xlsx workbook; an unknown report is named.
    let (s, b) = api.get("/api/v1/reports/delinquency", Some(&risk)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["sheets"][0]["name"], json!("by_bucket"));
    // its M1 line counts the loans the loan list shows in M1
    let (_, m1) = api.get("/api/v1/loans?bucket=M1", Some(&risk)).await;
    let m1 = m1["loans"].as_array().unwrap();
    let balance: i64 = m1
        .iter()
        .map(|l| {
            huifang_core::Money::parse(l["outstanding_principal"].as_str().unwrap())
                .unwrap()
                .fen()
        })
        .sum();
    assert!(!m1.is_empty());
    assert_eq!(b["sheets"][0]["rows"][1][0], json!("M1"));
    assert_eq!(b["sheets"][0]["rows"][1][1], json!(m1.len().to_string()));
    assert_eq!(
        b["sheets"][0]["rows"][1][2],
        json!(huifang_core::Money::from_fen(balance).to_string())
    );
    let get = |path: &str| {
        api.client
            .get(format!("{}{path}", api.base))
            .bearer_auth(&audit)
            .send()
    };
    let csv = get("/api/v1/reports/delinquency?format=csv&sheet=by_tier")
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("tier,loans,balance,share_pct\nnormal,"),
        "{csv}"
    );
    let xlsx = get("/api/v1/reports/collection?format=xlsx&lang=en")
        .await
        .unwrap();
    assert_eq!(xlsx.status(), StatusCode::OK);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));
    let (s, b) = api.get("/api/v1/reports/roll", Some(&risk)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, b) = api
        .get(
            "/api/v1/reports/vintage?from=2026-03-01&to=2026-02-01",
            Some(&risk),
        )
        .await;
    assert_eq!(
        (s, &b["message"]),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!("from: must be on or before 2026-02-01, not 2026-03-01")
        ),
        "{b}"
    );

    // A legal case on L2 over HTTP: opened by a risk officer (refused to an agent), moved in
    // order by a collector, refused out of order naming the field; enforcement posts what it
    // recovered as a payment.
    let c1 = api.login("c1").await;
    let open = json!({"kind": "legal", "reason": "协商无果，起诉"});
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/loans/L2/cases",
            Some(&a1),
            None,
            Some(open.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = api
        .call(
            "POST",
            "/api/v1/loans/L2/cases",
            Some(&risk),
            None,
            Some(open),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["case"]["stage"], "filed");
    let id = b["case"]["id"].as_i64().unwrap();
    let steps = format!("/api/v1/cases/{id}/steps");
    let (s, b) = api
        .call(
            "POST",
            &steps,
            Some(&c1),
            None,
            Some(json!({"stage": "enforcement"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["message"].as_str().unwrap().contains("stage"), "{b}");
    for body in [
        json!({"stage": "judgment", "note": "判决胜诉"}),
        json!({"stage": "enforcement", "amount": "800.00"}),
    ] {
        let (s, b) = api.call("POST", &steps, Some(&c1), None, Some(body)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = api.get(&format!("/api/v1/cases/{id}"), Some(&audit)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            &b["case"]["stage"],
            &b["steps"][2]["amount"],
            &b["steps"][2]["payment"]
        ),
        (
            &json!("enforcement"),
            &json!("800.00"),
            &json!(format!("case-{id}-enforcement"))
        )
    );
    let (s, b) = api.get("/api/v1/cases", Some(&risk)).await;
    assert_eq!(
        (s, b["cases"][0]["id"].as_i64()),
        (StatusCode::OK, Some(id))
    );
    let (s, b) = api.get("/api/v1/loans/L2/cases", Some(&a1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
}

//! The task API over a real server on 127.0.0.1: 401 without a valid token, 403 when the role
//! or team forbids, 200 otherwise; outcomes recorded once per Idempotency-Key; the interaction
//! in the ledger with an inclusion proof that verifies; masking and reveals.

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

use api::{Api, hash};
use huifang_app::team;
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{book, counts, task};

on_both!(roles_tokens_and_outcomes_over_http);

async fn roles_tokens_and_outcomes_over_http(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let t = task(&store, 1, "welcome", "followup", "2026-03-19").await;
    let t2 = task(&store, 2, "welcome", "followup", "2026-03-19").await;
    let api = Api::start(&store).await;

    // 401: no token, a bad token, a wrong password
    let (s, b) = api.get("/api/v1/tasks", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["error"], "unauthorized");
    assert_eq!(
        api.get("/api/v1/me", Some("nope")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = api
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            None,
            Some(json!({"username": "a1", "password": "wrong password"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // the OpenAPI document describes every route of this area with its security
    let (_, spec) = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (path, method) in [
        ("/api/v1/me", "get"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/next", "post"),
        ("/api/v1/tasks/{id}", "get"),
        ("/api/v1/tasks/{id}/outcome", "post"),
        ("/api/v1/tasks/{id}/reassign", "post"),
        ("/api/v1/team/stats", "get"),
        ("/api/v1/loans/{external_id}", "get"),
    ] {
        assert_eq!(
            spec["paths"][path][method]["security"][0]["bearer"],
            json!([]),
            "{path}"
        );
    }
    assert!(spec["paths"]["/api/v1/auth/login"]["post"].is_object());
    // public routes stay public
    assert_eq!(api.get("/api/v1/health", None).await.0, StatusCode::OK);

    let a1 = api.login("a1").await;
    let c1 = api.login("c1").await;
    let lead = api.login("lead_fu").await;
    let audit = api.login("audit").await;
    let risk = team::issue_api_token(&store, None, "risk", None)
        .await
        .unwrap()
        .0;
    let (s, me) = api.get("/api/v1/me", Some(&risk)).await;
    assert_eq!(
        (s, me["role"].as_str()),
        (StatusCode::OK, Some("risk_officer"))
    );

    // my queue, per role
    let (s, b) = api.get("/api/v1/tasks", Some(&a1)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["tasks"].as_array().unwrap().len(), 2);
    let (s, b) = api.get("/api/v1/tasks", Some(&c1)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["tasks"].as_array().unwrap().len(), 0);
    let (s, b) = api.get("/api/v1/tasks", Some(&risk)).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // show: masked for the agent, refused to another team, reveal refused to an agent
    let (s, b) = api.get(&format!("/api/v1/tasks/{t}"), Some(&a1)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["borrower"]["id_number"], "110105********002X");
    assert_eq!(b["borrower"]["mobile"], "138****8000");
    assert_eq!(b["task"]["id"], t.get());
    assert_eq!(
        api.get(&format!("/api/v1/tasks/{t}"), Some(&c1)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get(&format!("/api/v1/tasks/{t}?reveal=true"), Some(&a1))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = api
        .get(&format!("/api/v1/tasks/{t}?reveal=true"), Some(&lead))
        .await;
    assert_eq!(
        (s, b["borrower"]["mobile"].as_str()),
        (StatusCode::OK, Some("13800138000"))
    );

    // loans: risk officer, team lead, auditor; not an agent
    assert_eq!(
        api.get("/api/v1/loans/L1", Some(&a1)).await.0,
        StatusCode::FORBIDDEN
    );
    for token in [&risk, &lead, &audit] {
        let (s, b) = api.get("/api/v1/loans/L1", Some(token)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["borrower"]["id_number"], "110105********002X");
    }
    let (s, b) = api.get("/api/v1/loans/L1?reveal=true", Some(&risk)).await;
    assert_eq!(
        (s, b["borrower"]["id_number"].as_str()),
        (StatusCode::OK, Some("11010519491231002X"))
    );
    assert_eq!(
        api.get("/api/v1/loans/L1?reveal=true", Some(&audit))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/api/v1/loans/L404", Some(&risk)).await.0,
        StatusCode::NOT_FOUND
    );

    // outcome: Idempotency-Key required; another team refused with nothing recorded
    let body = json!({"channel": "phone", "outcome": "promise_to_pay", "amount": "3000", "date": "2026-03-25", "notes": "月底前还款", "duration_seconds": 80, "occurred_at": "2026-03-20T02:00:00Z"});
    let path = format!("/api/v1/tasks/{t}/outcome");
    let (s, b) = api
        .call("POST", &path, Some(&a1), None, Some(body.clone()))
        .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("idempotency_key_required"))
    );
    let before = counts(&store).await;
    for token in [&c1, &audit, &risk] {
        let (s, b) = api
            .call("POST", &path, Some(token), Some("k1"), Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    }
    assert_eq!(
        api.call("POST", &path, None, Some("k1"), Some(body.clone()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(counts(&store).await, before);
    // recorded once
    let (s, first) = api
        .call("POST", &path, Some(&a1), Some("k1"), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["recorded"], true);
    assert_eq!(first["task"]["state"], "done");
    let (s, again) = api
        .call("POST", &path, Some(&a1), Some("k1"), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["recorded"], false);
    assert_eq!(again["interaction_id"], first["interaction_id"]);
    let after = counts(&store).await;
    assert_eq!(
        (after.interactions, after.promises),
        (before.interactions + 1, before.promises + 1)
    );
    // invalid input: 400, nothing recorded
    let (s, _) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t2}/outcome"),
            Some(&a1),
            Some("k2"),
            Some(json!({"outcome": "promise_to_pay", "amount": "-5", "date": "2026-03-25"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(counts(&store).await, after);

    // the interaction is in the ledger: its entry, and an inclusion proof that verifies
    let index = first["ledger_index"].as_u64().unwrap();
    let (s, entries) = api
        .get(
            &format!("/api/v1/ledger/entries?start={index}&end={}", index + 1),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{entries}");
    let entry = &entries["entries"][0];
    assert_eq!(entry["kind"], "interaction");
    assert_eq!(entry["record_id"], first["interaction_id"]);
    let size = entries["tree_size"].as_u64().unwrap();
    let (s, proof) = api
        .get(
            &format!("/api/v1/ledger/proof/inclusion?index={index}&size={size}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{proof}");
    let leaf = hex::decode(entry["leaf"].as_str().unwrap()).unwrap();
    let hashes: Vec<[u8; 32]> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    huifang_ledger::verify_inclusion(
        index,
        size,
        &huifang_ledger::leaf_hash(&leaf),
        &hashes,
        &hash(proof["root"].as_str().unwrap()),
    )
    .expect("inclusion proof verifies");

    // reassign: team lead only; take next
    let rpath = format!("/api/v1/tasks/{t2}/reassign");
    assert_eq!(
        api.call("POST", &rpath, Some(&a1), None, Some(json!({"to": "a2"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = api
        .call("POST", &rpath, Some(&lead), None, Some(json!({"to": "a2"})))
        .await;
    assert_eq!(
        (s, b["task"]["assignee"].as_str()),
        (StatusCode::OK, Some("a2"))
    );
    let a2 = api.login("a2").await;
    let (s, b) = api
        .call("POST", "/api/v1/tasks/next", Some(&a2), None, None)
        .await;
    assert_eq!(
        (s, b["task"]["id"].as_i64()),
        (StatusCode::OK, Some(t2.get()))
    );
    assert_eq!(b["task"]["state"], "in_progress");
    let (s, b) = api
        .call("POST", "/api/v1/tasks/next", Some(&a1), None, None)
        .await;
    assert_eq!((s, &b["task"]), (StatusCode::OK, &Value::Null));

    // team stats: team lead and auditor, not an agent
    assert_eq!(
        api.get("/api/v1/team/stats", Some(&a1)).await.0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = api.get("/api/v1/team/stats", Some(&lead)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let agents = b["teams"][0]["agents"].as_array().unwrap();
    let a1_row = agents.iter().find(|a| a["username"] == "a1").unwrap();
    assert_eq!(
        (a1_row["tasks_done"].as_i64(), a1_row["promises"].as_i64()),
        (Some(1), Some(1))
    );
    let (s, _) = api
        .get(
            "/api/v1/team/stats?from=2026-03-01&to=2026-03-20",
            Some(&audit),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

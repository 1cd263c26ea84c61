//! The book's records a page at a time over HTTP: borrowers (ID numbers and mobiles masked),
//! payments and interactions, each in id order after a cursor, filtered by loan.

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
use huifang_app::rows::PaymentRow;
use huifang_app::{import, policy, team};
use huifang_core::Money;
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{book, d, task};

on_both!(borrowers_payments_and_interactions_page_by_page);

async fn borrowers_payments_and_interactions_page_by_page(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 3).await;
    let policy = policy::load(&store).await.unwrap();
    let payments: Vec<(usize, PaymentRow)> = [("P1", "L1"), ("P2", "L2"), ("P3", "L1")]
        .iter()
        .enumerate()
        .map(|(i, (p, l))| {
            (
                i + 2,
                PaymentRow {
                    external_id: (*p).into(),
                    loan_external_id: (*l).into(),
                    paid_on: d("2026-03-19"),
                    amount: Money::parse("250.50").unwrap(),
                    channel: "bank".into(),
                },
            )
        })
        .collect();
    import::import_payments(&store, &policy, &payments)
        .await
        .unwrap();
    let api = Api::start(&store).await;
    let token = |u: &'static str| {
        let store = store.clone();
        async move {
            team::issue_api_token(&store, None, u, None)
                .await
                .unwrap()
                .0
        }
    };
    let (risk, lead, admin) = (
        token("risk").await,
        token("lead_fu").await,
        token("admin").await,
    );
    let t = task(&store, 1, "call", "followup", "2026-03-20").await;
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/outcome"),
            Some(&token("a1").await),
            Some("o1"),
            Some(json!({"channel":"phone","outcome":"no_answer","occurred_at":"2026-03-20T02:00:00Z","notes":"无人接听"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // borrowers: masked, two pages
    let (s, first) = api.get("/api/v1/borrowers?limit=2", Some(&risk)).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let ids: Vec<&str> = first["borrowers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["B1", "B2"]);
    assert_eq!(first["borrowers"][0]["id_number"], "110105********002X");
    assert_eq!(first["borrowers"][0]["mobile"], "138****8000");
    let next = first["next_after"].as_i64().unwrap();
    let (_, second) = api
        .get(
            &format!("/api/v1/borrowers?limit=2&after={next}"),
            Some(&risk),
        )
        .await;
    assert_eq!(second["borrowers"].as_array().unwrap().len(), 1);
    assert_eq!(second["borrowers"][0]["external_id"], "B3");
    assert_eq!(second["next_after"], Value::Null);
    assert_eq!(
        api.get("/api/v1/borrowers", Some(&admin)).await.0,
        StatusCode::FORBIDDEN
    );

    // payments: all, then one loan's; an unknown loan is 404
    let (_, all) = api.get("/api/v1/payments", Some(&admin)).await;
    let listed: Vec<(&str, &str)> = all["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["external_id"].as_str().unwrap(),
                p["loan"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("P1", "L1"), ("P2", "L2"), ("P3", "L1")]);
    assert_eq!(all["payments"][0]["amount"], "250.50");
    assert_eq!(all["payments"][0]["received_on"], "2026-03-20");
    let (_, l1) = api
        .get("/api/v1/payments?loan=L1&limit=1", Some(&risk))
        .await;
    assert_eq!(l1["payments"][0]["external_id"], "P1");
    let after = l1["next_after"].as_i64().unwrap();
    let (_, rest) = api
        .get(
            &format!("/api/v1/payments?loan=L1&after={after}"),
            Some(&risk),
        )
        .await;
    assert_eq!(rest["payments"][0]["external_id"], "P3");
    assert_eq!(rest["payments"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/api/v1/payments?loan=L9", Some(&risk)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/v1/payments?after=-1", Some(&risk)).await.0,
        StatusCode::BAD_REQUEST
    );

    // interactions: a team lead one loan of the team's at a time; a risk officer all
    let (s, mine) = api.get("/api/v1/interactions?loan=L1", Some(&lead)).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["interactions"][0]["loan"], "L1");
    assert_eq!(mine["interactions"][0]["task_id"], t.get());
    assert_eq!(
        mine["interactions"][0]["interaction"]["outcome"],
        "no_answer"
    );
    assert_eq!(mine["interactions"][0]["interaction"]["notes"], "无人接听");
    assert_eq!(
        api.get("/api/v1/interactions", Some(&lead)).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, all) = api.get("/api/v1/interactions", Some(&risk)).await;
    assert_eq!(all["interactions"].as_array().unwrap().len(), 1);
}

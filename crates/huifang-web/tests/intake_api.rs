//! Intake over a real server: core banking pushes borrowers, loans and payments (one or a
//! batch) and import files; the file import's validation and errors (each bad item named by
//! index and field, nothing written), idempotent by external id and by Idempotency-Key (same key
//! and body: the same answer, nothing done again; another body: 422; a key still being handled:
//! 409), for the administrator's users only.

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
use huifang_app::intake::{self, Keyed};
use huifang_app::team;
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::book;

on_both!(core_banking_pushes_borrowers_loans_and_payments);

fn borrower(id: &str, mobile: &str) -> Value {
    json!({
        "external_id": id, "name": "王小明", "id_number": "11010519491231002X",
        "mobile": mobile, "employer": "杭州某公司", "monthly_income": "9000.00",
        "city": "杭州市", "email": "wxm@example.com"
    })
}

fn loan(id: &str, borrower: &str) -> Value {
    json!({
        "external_id": id, "borrower_external_id": borrower, "product_code": "P3",
        "principal": "80000.00", "annual_rate": "0.0588", "term_months": "24",
        "repayment_method": "annuity", "disbursed_on": "2026-03-10",
        "vin": "LVSN4BKM0R1944736", "vehicle_model": "比亚迪 秦", "vehicle_price": "120000.00",
        "dealer": "杭州比亚迪4S店"
    })
}

async fn counts(store: &huifang_store::Store) -> (usize, usize) {
    let mut tx = store.begin().await.unwrap();
    let b = tx
        .borrowers_by_external_id(&["NB1".into(), "NB2".into(), "NB3".into()])
        .await
        .unwrap()
        .len();
    let l = tx
        .loans_by_external_id(&["NL1".into(), "NL2".into()])
        .await
        .unwrap()
        .len();
    tx.rollback().await.unwrap();
    (b, l)
}

async fn core_banking_pushes_borrowers_loans_and_payments(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let api = Api::start(&store).await;
    let admin = api.login("admin").await;
    let agent = api.login("a1").await;

    // only the administrator's users feed the book
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/borrowers",
            Some(&agent),
            None,
            Some(borrower("NB1", "13912345678")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // a batch with one bad item is refused whole, the item and field named
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/borrowers",
            Some(&admin),
            None,
            Some(json!([borrower("NB1", "13912345678"), borrower("NB2", "1391234"), {"external_id": "NB3", "colour": "red"}])),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("items[1].mobile"), "{message}");
    assert!(message.contains("items[2].colour"), "{message}");
    assert_eq!(counts(&store).await, (0, 0));

    // one object, then the same again: written once
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/borrowers",
            Some(&admin),
            None,
            Some(borrower("NB1", "13912345678")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["inserted"], 1);
    assert_eq!(body["external_ids"], json!(["NB1"]));
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/borrowers",
            Some(&admin),
            None,
            Some(borrower("NB1", "13912345678")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unchanged"], 1);
    // the same external id with other content is refused
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/borrowers",
            Some(&admin),
            None,
            Some(borrower("NB1", "13912345679")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("items[0].mobile"),
        "{body}"
    );
    // money is never a number
    let mut float = borrower("NB2", "13912345670");
    float["monthly_income"] = json!(9000.5);
    let (status, body) = api
        .call("POST", "/api/v1/borrowers", Some(&admin), None, Some(float))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("items[0].monthly_income: must be a string"),
        "{body}"
    );

    // a loan with an Idempotency-Key: the same key and body are answered as the first time
    let (status, first) = api
        .call(
            "POST",
            "/api/v1/loans",
            Some(&admin),
            Some("loan-NL1"),
            Some(loan("NL1", "NB1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["inserted"], 1);
    let (status, again) = api
        .call(
            "POST",
            "/api/v1/loans",
            Some(&admin),
            Some("loan-NL1"),
            Some(loan("NL1", "NB1")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again, first);
    // the same key with another body: 422, nothing done
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/loans",
            Some(&admin),
            Some("loan-NL1"),
            Some(loan("NL2", "NB1")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(counts(&store).await, (1, 1));
    // a key whose first request is still being handled: 409
    let actor = team::actor(&store, "admin").await.unwrap();
    let body = loan("NL2", "NB1").to_string();
    let claim = intake::claim_key(
        &store,
        &actor,
        "busy",
        "POST /api/v1/loans",
        body.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(claim, Keyed::Handle);
    let (status, answer) = api
        .call(
            "POST",
            "/api/v1/loans",
            Some(&admin),
            Some("busy"),
            Some(loan("NL2", "NB1")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(counts(&store).await, (1, 1));

    // payments: posted, the loan re-processed
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/payments",
            Some(&admin),
            None,
            Some(json!([
                {"external_id": "NP1", "loan_external_id": "NL1", "paid_on": "2026-03-15", "amount": "500.00", "channel": "bank"},
                {"external_id": "NP2", "loan_external_id": "NL1", "paid_on": "2026-03-16", "amount": "300.00", "channel": "bank"}
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["inserted"], 2);
    assert_eq!(body["loans_reprocessed"], 1);
    let mut tx = store.begin().await.unwrap();
    let paid = tx
        .payments_by_external_id(&["NP1".into(), "NP2".into()])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(paid.len(), 2);
    // a payment after the business date is refused, by field
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/payments",
            Some(&admin),
            None,
            Some(json!({"external_id": "NP3", "loan_external_id": "NL1", "paid_on": "2026-03-21", "amount": "1.00", "channel": "bank"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("items[0].paid_on"),
        "{body}"
    );

    // the book, page by page, filtered: the roles that read loans
    let risk = api.login("risk").await;
    let (status, first_page) = api.get("/api/v1/loans?limit=1", Some(&risk)).await;
    assert_eq!(status, StatusCode::OK, "{first_page}");
    assert_eq!(first_page["loans"].as_array().unwrap().len(), 1);
    assert_eq!(first_page["loans"][0]["loan_external_id"], "L1");
    let after = first_page["next_after"].as_i64().unwrap();
    let (_, second_page) = api
        .get(&format!("/api/v1/loans?limit=1&after={after}"), Some(&risk))
        .await;
    assert_eq!(second_page["loans"][0]["loan_external_id"], "NL1");
    let (_, normal) = api
        .get("/api/v1/loans?classification=normal&bucket=M0", Some(&risk))
        .await;
    let normal: Vec<&str> = normal["loans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["loan_external_id"].as_str().unwrap())
        .collect();
    assert!(normal.contains(&"NL1"), "{normal:?}");
    let (status, _) = api
        .get("/api/v1/loans?classification=loss", Some(&risk))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.get("/api/v1/loans", Some(&agent)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("/api/v1/loans?bucket=X", Some(&risk)).await.0,
        StatusCode::BAD_REQUEST
    );

    // more than 1,000 records in one request
    let many: Vec<Value> = (0..1001)
        .map(|i| borrower(&format!("X{i}"), "13912345678"))
        .collect();
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/borrowers",
            Some(&admin),
            None,
            Some(Value::Array(many)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // events out: the administrator adds a subscriber (its secret shown once), tests it, reads
    // the delivery log; others may not
    let hook = json!({"name": "core", "url": "http://127.0.0.1:9/hook", "events": ["payment_posted", "bucket_changed"]});
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&agent),
            None,
            Some(hook.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, added) = api
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&admin),
            None,
            Some(hook.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["secret"].as_str().unwrap().len(), 64);
    let (status, _) = api
        .call("POST", "/api/v1/webhooks", Some(&admin), None, Some(hook))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, listed) = api.get("/api/v1/webhooks", Some(&admin)).await;
    assert_eq!(
        listed["webhooks"][0]["events"],
        json!(["bucket_changed", "payment_posted"])
    );
    assert!(listed["webhooks"][0].get("secret").is_none(), "{listed}");
    let (status, ping) = api
        .call(
            "POST",
            "/api/v1/webhooks/core/test",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ping}");
    let (status, log) = api
        .get(
            "/api/v1/webhooks/deliveries?name=core&state=queued",
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert_eq!(log["deliveries"][0]["event_id"], ping["event_id"]);

    // an import file over HTTP, as `huifang import` reads it
    let csv =
        "external_id,loan_external_id,paid_on,amount,channel\nNP4,NL1,2026-03-17,200.00,bank\n";
    let resp = api
        .client
        .post(format!("{}/api/v1/imports/payments", api.base))
        .header("Authorization", format!("Bearer {admin}"))
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["inserted"], 1);
    let resp = api
        .client
        .post(format!("{}/api/v1/imports/payments", api.base))
        .header("Authorization", format!("Bearer {admin}"))
        .body("external_id,loan,paid_on\nNP5,NL1,2026-03-17\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("bad header"),
        "{body}"
    );
}

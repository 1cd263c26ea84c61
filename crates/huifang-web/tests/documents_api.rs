//! Registering documents over HTTP, on a real server on 127.0.0.1: `POST /api/v1/documents`
//! answers 401 without a valid token, 403 to the auditor (read-only) and 201 to the other roles,
//! with the document's id, SHA-256 and ledger entry; the public check then says the same bytes
//! are the registered document (with an inclusion proof that verifies once a checkpoint covers
//! it) and a different file is not.

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
use huifang_app::{ledger, team};
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{TODAY, book, ledger_size};

on_both!(documents_are_registered_over_http_then_checked);

const CHECK: &str = "/api/v1/documents/check";

async fn documents_are_registered_over_http_then_checked(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let api = Api::start(&store).await;
    let contract = "%PDF-1.7 汽车贷款合同 L1 张1".as_bytes();
    let other = b"%PDF-1.7 not the contract";
    let sha = hex::encode(Sha256::digest(contract));
    let register = "/api/v1/documents?loan=L1&kind=contract&file_name=contract-L1.pdf";

    // the route is in the OpenAPI document, behind the bearer scheme
    let (_, spec) = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(
        spec["paths"]["/api/v1/documents"]["post"]["security"][0]["bearer"],
        json!([])
    );
    assert!(spec["paths"][CHECK]["post"]["security"].is_null());

    // not registered yet
    let (s, c) = api.post_bytes(CHECK, None, contract).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        (c["sha256"].as_str(), &c["registered"]),
        (Some(&*sha), &json!(false))
    );

    // 401 without a token or with an unknown one; 403 for the auditor: nothing registered
    let size = ledger_size(&store).await;
    let (s, b) = api.post_bytes(register, None, contract).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (s, _) = api
        .post_bytes(register, Some("not-a-token"), contract)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let audit = api.login("audit").await;
    let (s, b) = api.post_bytes(register, Some(&audit), contract).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{b}"
    );
    // the role is refused before the parameters are looked at
    let (s, _) = api
        .post_bytes("/api/v1/documents", Some(&audit), contract)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(ledger_size(&store).await, size);
    let (_, c) = api.post_bytes(CHECK, None, contract).await;
    assert_eq!(c["registered"], false, "{c}");

    // 201 for an agent: what `huifang document register` prints
    let a1 = api.login("a1").await;
    let (s, reg) = api.post_bytes(register, Some(&a1), contract).await;
    assert_eq!(s, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["sha256"], sha.as_str());
    assert_eq!(reg["leaf_index"], size);
    assert_eq!(reg["size_bytes"], contract.len());
    assert_eq!(reg["kind"], "contract");
    assert_eq!(reg["owner_kind"], "loan");
    assert_eq!(reg["owner_external_id"], "L1");
    assert_eq!(reg["file_name"], "contract-L1.pdf");
    assert_eq!(reg["registered_on"], TODAY);
    let document_id = reg["document_id"].as_i64().expect("a document id");
    assert_eq!(ledger_size(&store).await, size + 1);

    // bad requests change nothing
    for (target, status) in [
        ("/api/v1/documents?kind=contract", StatusCode::BAD_REQUEST),
        (
            "/api/v1/documents?loan=L1&borrower=B1&kind=contract",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/documents?loan=L1", StatusCode::BAD_REQUEST),
        (
            "/api/v1/documents?loan=L1&kind=selfie",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/documents?loan=L404&kind=contract",
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/documents?borrower=B404&kind=id_scan",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (s, b) = api.post_bytes(target, Some(&a1), other).await;
        assert_eq!(s, status, "{target}: {b}");
        assert!(b["error"].is_string(), "{target}: {b}");
    }
    let (s, b) = api.post_bytes(register, Some(&a1), b"").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(ledger_size(&store).await, size + 1);

    // the other roles that may: collector, team lead, risk officer (API token), admin
    let risk = team::issue_api_token(&store, None, "risk", None)
        .await
        .unwrap()
        .0;
    let mut tokens = Vec::new();
    for user in ["c1", "lead_fu", "admin"] {
        tokens.push((user, api.login(user).await));
    }
    tokens.push(("risk", risk));
    for (n, (user, token)) in tokens.iter().enumerate() {
        let bytes = format!("income proof {n} of B2 by {user}");
        let (s, b) = api
            .post_bytes(
                "/api/v1/documents?borrower=B2&kind=income_proof&file_name=%E6%94%B6%E5%85%A5.pdf",
                Some(token),
                bytes.as_bytes(),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{user}: {b}");
        assert_eq!(
            (b["owner_kind"].as_str(), b["file_name"].as_str()),
            (Some("borrower"), Some("收入.pdf")),
            "{user}: {b}"
        );
    }

    // checked before a checkpoint covers it: registered, no inclusion proof yet
    let (s, c) = api.post_bytes(CHECK, None, contract).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["registered"], true, "{c}");
    assert_eq!(c["documents"][0]["id"], document_id);
    assert!(c["documents"][0]["inclusion"].is_null(), "{c}");

    // after a checkpoint: registered, with an inclusion proof that verifies against it
    let cp = ledger::new_checkpoint(&store).await.unwrap();
    let (s, c) = api.post_bytes(CHECK, None, contract).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["registered"], true, "{c}");
    let documents = c["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 1, "{c}");
    let d = &documents[0];
    assert_eq!(
        (
            d["id"].as_i64(),
            d["kind"].as_str(),
            &d["leaf_index"],
            &d["leaf_matches"]
        ),
        (
            Some(document_id),
            Some("contract"),
            &reg["leaf_index"],
            &json!(true)
        ),
        "{c}"
    );
    assert_eq!(c["checkpoint"], cp.note.as_str());
    let proof = &d["inclusion"];
    assert_eq!(proof["size"], cp.size, "{c}");
    assert_eq!(proof["root"], hex::encode(cp.root).as_str());
    let leaf = hex::decode(d["leaf"].as_str().unwrap()).unwrap();
    let hashes: Vec<[u8; 32]> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash(h.as_str().unwrap()))
        .collect();
    huifang_ledger::verify_inclusion(
        proof["index"].as_u64().unwrap(),
        cp.size,
        &huifang_ledger::leaf_hash(&leaf),
        &hashes,
        &cp.root,
    )
    .expect("inclusion proof verifies");

    // a different file is not registered
    let (s, c) = api.post_bytes(CHECK, None, other).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["registered"], false, "{c}");
    assert_eq!(c["documents"], json!([]), "{c}");
    assert_eq!(c["sha256"], hex::encode(Sha256::digest(other)).as_str());
}

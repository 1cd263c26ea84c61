//! The API's security over a real server: sign-in lockout, sign-out, disabled users and revoked
//! or expired API tokens refused at once, admin-only account management, every refused request
//! recorded and reported to auditors, security headers on every answer, CORS closed by default
//! and the public document check rate-limited per address across servers.

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
use huifang_app::team;
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::json;
use support::{PASSWORD, book};

async fn login_as(api: &Api, username: &str, password: &str) -> (StatusCode, serde_json::Value) {
    api.call(
        "POST",
        "/api/v1/auth/login",
        None,
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

on_both!(
    sign_in_locks_after_five_failures_then_sign_out_disable_and_tokens_end_access,
    the_public_document_check_is_rate_limited_per_address_across_servers
);

async fn sign_in_locks_after_five_failures_then_sign_out_disable_and_tokens_end_access(
    dbs: &mut Dbs,
) {
    {
        let store = dbs.fresh().await;
        book(&store, 1).await;
        let api = Api::start(&store).await;

        // five wrong passwords lock a1's sign-ins, even with the right one; a2 is not affected;
        // an unknown username locks the same way (the answer does not tell who exists)
        for _ in 0..5 {
            assert_eq!(
                login_as(&api, "a1", "wrong password").await.0,
                StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                login_as(&api, "nobody", "wrong password").await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        let (status, body) = login_as(&api, "a1", PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["error"], "too_many");
        assert_eq!(
            login_as(&api, "nobody", PASSWORD).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        let a2 = api.login("a2").await;

        // sign-out ends the session at once
        assert_eq!(api.get("/api/v1/me", Some(&a2)).await.0, StatusCode::OK);
        let (status, body) = api
            .call("POST", "/api/v1/auth/logout", Some(&a2), None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["ended"], true);
        assert_eq!(
            api.get("/api/v1/me", Some(&a2)).await.0,
            StatusCode::UNAUTHORIZED
        );

        // an admin disables a user: their sessions and API token stop at once
        let admin = api.login("admin").await;
        let c1 = api.login("c1").await;
        let (status, body) = api
            .call(
                "POST",
                "/api/v1/users/c1/token",
                Some(&admin),
                None,
                Some(json!({"days": 30})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let c1_api = body["token"].as_str().unwrap().to_string();
        assert_eq!(api.get("/api/v1/me", Some(&c1_api)).await.0, StatusCode::OK);
        let (status, body) = api
            .call(
                "POST",
                "/api/v1/users/c1/account",
                Some(&admin),
                None,
                Some(json!({"action": "disable"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sessions_ended"], 1);
        assert_eq!(body["token_revoked"], true);
        for token in [&c1, &c1_api] {
            assert_eq!(
                api.get("/api/v1/me", Some(token)).await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            login_as(&api, "c1", PASSWORD).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (_, users) = api.get("/api/v1/users", Some(&admin)).await;
        let c1_row = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "c1")
            .unwrap()
            .clone();
        assert_eq!(c1_row["active"], false);
        assert!(c1_row["api_token_expires_at"].is_null());
        // enabled again, c1 signs in; an admin may not disable themself
        api.call(
            "POST",
            "/api/v1/users/c1/account",
            Some(&admin),
            None,
            Some(json!({"action": "enable"})),
        )
        .await;
        assert_eq!(login_as(&api, "c1", PASSWORD).await.0, StatusCode::OK);
        let (status, _) = api
            .call(
                "POST",
                "/api/v1/users/admin/account",
                Some(&admin),
                None,
                Some(json!({"action": "disable"})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);

        // an expired API token is refused
        let (risk_token, _) = team::issue_api_token(&store, None, "risk", Some(1))
            .await
            .unwrap();
        assert_eq!(
            api.get("/api/v1/me", Some(&risk_token)).await.0,
            StatusCode::OK
        );
        let mut tx = store.begin().await.unwrap();
        let risk = tx.user_by_username("risk").await.unwrap().unwrap();
        tx.set_api_token_hash(
            risk.id,
            Some((&team::token_hash(&risk_token), "2001-01-01T00:00:00Z")),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            api.get("/api/v1/me", Some(&risk_token)).await.0,
            StatusCode::UNAUTHORIZED
        );

        // only the admin manages users: the agent is refused, and the refusal is recorded for
        // the auditor, who alone reads the record
        let a3 = api.login("a3").await;
        let (status, body) = api.get("/api/v1/users", Some(&a3)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = api
            .call(
                "POST",
                "/api/v1/users/a2/account",
                Some(&a3),
                None,
                Some(json!({"action": "disable"})),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            api.get("/api/v1/audit/denials", Some(&a3)).await.0,
            StatusCode::FORBIDDEN
        );
        let audit = api.login("audit").await;
        let (status, body) = api.get("/api/v1/audit/denials?user=a3", Some(&audit)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let actions: Vec<&str> = body["denials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "GET /api/v1/audit/denials",
                "POST /api/v1/users/a2/account",
                "GET /api/v1/users"
            ]
        );
        assert!(
            body["denials"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("security record")
        );
        let (status, body) = api.get("/api/v1/audit/reveals", Some(&audit)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["reveals"].is_array());
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_cors_is_closed() {
    let mut dbs = Dbs::new(false);
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let api = Api::start(&store).await;
    for path in ["/api/v1/health", "/api/v1/me", "/api/v1/no-such-route"] {
        let resp = api
            .client
            .get(format!("{}{path}", api.base))
            .header("Origin", "https://elsewhere.example")
            .send()
            .await
            .unwrap();
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(h.get("access-control-allow-origin").is_none(), "{path}");
    }
}

/// Two servers of one database draw on one bucket per address: half the minute's checks through
/// each, and the next one is refused by both.
async fn the_public_document_check_is_rate_limited_per_address_across_servers(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let servers = [Api::start(&store).await, Api::start(&store).await];
    let per_minute = huifang_web::HttpConfig::default().public_checks_per_minute;
    for i in 0..per_minute {
        let api = &servers[usize::try_from(i % 2).unwrap()];
        let (status, body) = api
            .post_bytes(
                "/api/v1/documents/check",
                None,
                format!("file {i}").as_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "check {i}: {body}");
    }
    for api in &servers {
        let resp = api
            .client
            .post(format!("{}/api/v1/documents/check", api.base))
            .body("one more")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3).contains(&wait), "Retry-After {wait}");
    }
    // a token is back after 60 / per_minute seconds, on either server
    tokio::time::sleep(std::time::Duration::from_millis(
        60_000 / u64::from(per_minute) + 200,
    ))
    .await;
    let (status, body) = servers[1]
        .post_bytes("/api/v1/documents/check", None, b"after the wait")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = servers[0]
        .post_bytes("/api/v1/documents/check", None, b"and no more")
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // the signed-in routes are not limited by it
    assert_eq!(
        servers[0].get("/api/v1/health", None).await.0,
        StatusCode::OK
    );
}

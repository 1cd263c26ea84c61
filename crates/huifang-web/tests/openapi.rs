//! The served OpenAPI document is generated from the router's own route list: it lists exactly
//! the routes the server answers, each with its response schemas (and request schema where it
//! takes a body), and every documented operation is served (none falls through to the 404 of
//! unknown routes).

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

use std::collections::BTreeSet;

use api::Api;
use huifang_testkit::Dbs;
use reqwest::StatusCode;
use serde_json::Value;
use support::book;

/// Every route of the API: (method, path), as the router registers them.
const ROUTES: [(&str, &str); 107] = [
    ("get", "/api/v1/health"),
    ("get", "/api/v1/workers"),
    ("get", "/api/v1/reviews"),
    ("post", "/api/v1/interactions/{id}/review"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/ledger/checkpoint"),
    ("get", "/api/v1/ledger/entries"),
    ("get", "/api/v1/ledger/proof/inclusion"),
    ("get", "/api/v1/ledger/proof/consistency"),
    ("post", "/api/v1/documents"),
    ("post", "/api/v1/documents/check"),
    ("post", "/api/v1/auth/login"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/tasks"),
    ("post", "/api/v1/tasks/next"),
    ("get", "/api/v1/tasks/{id}"),
    ("post", "/api/v1/tasks/{id}/outcome"),
    ("post", "/api/v1/tasks/{id}/reassign"),
    ("get", "/api/v1/team/stats"),
    ("get", "/api/v1/loans/{external_id}"),
    ("get", "/api/v1/rules"),
    ("put", "/api/v1/rules"),
    ("get", "/api/v1/warnings"),
    ("get", "/api/v1/warnings/{id}"),
    ("post", "/api/v1/warnings/{id}/ack"),
    ("post", "/api/v1/warnings/{id}/action"),
    ("post", "/api/v1/warnings/{id}/resolve"),
    ("get", "/api/v1/reports/tiers"),
    ("get", "/api/v1/reports/{name}"),
    ("get", "/api/v1/score/models"),
    ("get", "/api/v1/loans/{external_id}/score"),
    ("post", "/api/v1/scores/application"),
    ("get", "/api/v1/loans/{external_id}/decisions"),
    ("post", "/api/v1/loans/{external_id}/decisions"),
    ("post", "/api/v1/decisions/{id}/approve"),
    ("get", "/api/v1/loans/{external_id}/cases"),
    ("post", "/api/v1/loans/{external_id}/cases"),
    ("get", "/api/v1/cases"),
    ("get", "/api/v1/cases/{id}"),
    ("post", "/api/v1/cases/{id}/steps"),
    ("get", "/api/v1/contact-rules"),
    ("put", "/api/v1/contact-rules"),
    ("get", "/api/v1/borrowers/{external_id}/opt-outs"),
    ("post", "/api/v1/borrowers/{external_id}/opt-outs"),
    (
        "delete",
        "/api/v1/borrowers/{external_id}/opt-outs/{channel}",
    ),
    ("get", "/api/v1/contacts/blocked"),
    ("get", "/api/v1/contacts/retention"),
    ("get", "/api/v1/templates"),
    ("get", "/api/v1/templates/{event}/{lang}/{channel}"),
    ("put", "/api/v1/templates/{event}/{lang}/{channel}"),
    ("get", "/api/v1/templates/{event}/{lang}/{channel}/preview"),
    ("get", "/api/v1/messages"),
    ("get", "/api/v1/messages/report"),
    ("post", "/api/v1/messages/{id}/retry"),
    ("get", "/api/v1/notify-rules"),
    ("put", "/api/v1/notify-rules"),
    ("get", "/api/v1/channels"),
    ("put", "/api/v1/channels"),
    ("post", "/api/v1/channels/{channel}/callbacks"),
    ("post", "/api/v1/tasks/{id}/call"),
    ("get", "/api/v1/borrowers/{external_id}/emergency-contacts"),
    ("post", "/api/v1/borrowers/{external_id}/emergency-contacts"),
    ("put", "/api/v1/borrowers/{external_id}/addresses"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("post", "/api/v1/users/{username}/account"),
    ("post", "/api/v1/users/{username}/token"),
    ("get", "/api/v1/audit/reveals"),
    ("get", "/api/v1/audit/denials"),
    ("post", "/api/v1/borrowers"),
    ("post", "/api/v1/loans"),
    ("post", "/api/v1/payments"),
    ("post", "/api/v1/imports/{kind}"),
    ("get", "/api/v1/loans"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks/{name}/test"),
    ("get", "/api/v1/webhooks/deliveries"),
    ("post", "/api/v1/trackers/events"),
    ("get", "/api/v1/loans/{external_id}/vehicle"),
    ("get", "/api/v1/vehicle-monitoring"),
    ("put", "/api/v1/vehicle-monitoring"),
    ("get", "/api/v1/places"),
    ("get", "/api/v1/location-views"),
    ("post", "/api/v1/webhooks/{name}"),
    ("get", "/api/v1/borrowers"),
    ("get", "/api/v1/payments"),
    ("get", "/api/v1/interactions"),
    ("patch", "/api/v1/users/{username}"),
    ("get", "/api/v1/teams"),
    ("post", "/api/v1/teams"),
    ("put", "/api/v1/teams/{code}"),
    ("post", "/api/v1/queues"),
    ("patch", "/api/v1/queues/{code}"),
    ("get", "/api/v1/products"),
    ("get", "/api/v1/plans/{product}"),
    ("put", "/api/v1/plans/{product}"),
    ("get", "/api/v1/scripts/{kind}/{lang}"),
    ("put", "/api/v1/scripts/{kind}/{lang}"),
    ("post", "/api/v1/loans/{external_id}/decisions/preview"),
    ("get", "/api/v1/assistant/rules"),
    ("put", "/api/v1/assistant/rules"),
    ("post", "/api/v1/assistant/ivr"),
    ("post", "/api/v1/assistant/run"),
    ("get", "/api/v1/assistant/report"),
    ("get", "/api/v1/tasks/{id}/assistant"),
];

/// The routes that take a body, by method and path.
const WITH_BODY: [(&str, &str); 43] = [
    ("post", "/api/v1/assistant/ivr"),
    ("put", "/api/v1/assistant/rules"),
    ("post", "/api/v1/trackers/events"),
    ("put", "/api/v1/vehicle-monitoring"),
    ("post", "/api/v1/scores/application"),
    ("post", "/api/v1/documents"),
    ("post", "/api/v1/interactions/{id}/review"),
    ("post", "/api/v1/documents/check"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/tasks/{id}/outcome"),
    ("post", "/api/v1/tasks/{id}/reassign"),
    ("put", "/api/v1/rules"),
    ("post", "/api/v1/warnings/{id}/ack"),
    ("post", "/api/v1/warnings/{id}/action"),
    ("post", "/api/v1/warnings/{id}/resolve"),
    ("post", "/api/v1/loans/{external_id}/decisions"),
    ("post", "/api/v1/loans/{external_id}/cases"),
    ("post", "/api/v1/cases/{id}/steps"),
    ("put", "/api/v1/contact-rules"),
    ("post", "/api/v1/borrowers/{external_id}/opt-outs"),
    ("put", "/api/v1/templates/{event}/{lang}/{channel}"),
    ("put", "/api/v1/notify-rules"),
    ("put", "/api/v1/channels"),
    ("post", "/api/v1/channels/{channel}/callbacks"),
    ("post", "/api/v1/borrowers/{external_id}/emergency-contacts"),
    ("put", "/api/v1/borrowers/{external_id}/addresses"),
    ("post", "/api/v1/users"),
    ("patch", "/api/v1/users/{username}"),
    ("post", "/api/v1/teams"),
    ("put", "/api/v1/teams/{code}"),
    ("post", "/api/v1/queues"),
    ("patch", "/api/v1/queues/{code}"),
    ("put", "/api/v1/plans/{product}"),
    ("put", "/api/v1/scripts/{kind}/{lang}"),
    ("post", "/api/v1/loans/{external_id}/decisions/preview"),
    ("post", "/api/v1/users/{username}/account"),
    ("post", "/api/v1/users/{username}/token"),
    ("post", "/api/v1/borrowers"),
    ("post", "/api/v1/loans"),
    ("post", "/api/v1/payments"),
    ("post", "/api/v1/imports/{kind}"),
    ("post", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks/{name}"),
];

fn is_fallback(status: StatusCode, body: &Value) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body["message"] == "no such route")
}

#[tokio::test]
async fn the_served_document_lists_exactly_the_routes_with_their_schemas() {
    let mut dbs = Dbs::new(false);
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let api = Api::start(&store).await;
    let (status, spec) = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec, serde_json::to_value(huifang_web::openapi()).unwrap());

    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, served);

    for (method, path) in ROUTES {
        let op = &spec["paths"][path][method];
        let responses = op["responses"].as_object().expect("responses");
        let ok = responses
            .iter()
            .find(|(code, _)| code.starts_with('2'))
            .unwrap_or_else(|| panic!("{method} {path}: no success response"));
        let content = ok.1["content"].as_object().expect("success content");
        assert!(
            content.values().all(|c| c["schema"].is_object()),
            "{method} {path}: a success response without a schema"
        );
        if op["security"].is_array() {
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
        }
        if WITH_BODY.contains(&(method, path)) {
            let body = op["requestBody"]["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: no request body"));
            assert!(body.values().all(|c| c["schema"].is_object()));
        } else {
            assert!(op["requestBody"].is_null(), "{method} {path} takes no body");
        }
        for (code, response) in responses {
            if code.starts_with('4') && code != "413" || code.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorView",
                    "{method} {path} {code}"
                );
            }
        }

        // Served: whatever the answer (401 without a token, 400 without parameters), it is the
        // route's own, not the fallback's.
        let concrete = path.replace("{id}", "1").replace("{external_id}", "L1");
        let (status, body) = match method {
            "get" => api.get(&concrete, None).await,
            other => {
                api.call(&other.to_uppercase(), &concrete, None, None, None)
                    .await
            }
        };
        assert!(
            !is_fallback(status, &body),
            "{method} {path} is documented but not served: {status} {body}"
        );
    }

    // And nothing else is served.
    for (method, path) in [
        ("GET", "/api/v1/openapi.yaml"),
        ("GET", "/api/v1/borrowers/B1"),
        ("POST", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks/next"),
        ("POST", "/api/v1/me"),
    ] {
        let (status, body) = match method {
            "GET" => api.get(path, None).await,
            _ => api.call(method, path, None, None, None).await,
        };
        assert!(
            is_fallback(status, &body),
            "{method} {path}: {status} {body}"
        );
    }
}

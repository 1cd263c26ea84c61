//! Shared by the HTTP tests of huifang-web: a real server on 127.0.0.1 over a store, and a
//! client that calls it with or without a bearer token. `login` uses the password of the team
//! fixture (`support::PASSWORD`), which every test that includes this module declares too.
#![allow(dead_code)]

use huifang_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::PASSWORD;

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    /// Serves the API over `store` on a free port of 127.0.0.1.
    pub async fn start(store: &Store) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(huifang_web::serve_listener(store.clone(), listener));
        Api {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    /// A GET or POST with an optional bearer token, Idempotency-Key and JSON body; the answer's
    /// status and body (JSON, or the text as a JSON string).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.client.get(url),
            "PUT" => self.client.put(url),
            "DELETE" => self.client.delete(url),
            "PATCH" => self.client.patch(url),
            _ => self.client.post(url),
        };
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        Self::answer(req).await
    }

    /// A POST whose body is raw bytes (a file upload), with an optional bearer token.
    pub async fn post_bytes(
        &self,
        path: &str,
        token: Option<&str>,
        bytes: &[u8],
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec());
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::answer(req).await
    }

    async fn answer(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call("GET", path, token, None, None).await
    }

    /// A session token of a fixture user.
    pub async fn login(&self, username: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                None,
                Some(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }
}

/// A lowercase-hex SHA-256 as bytes.
pub fn hash(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).unwrap();
    out
}

/// A console session: signed in through the sign-in form, its cookie carried.
pub struct Console {
    base: String,
    http: reqwest::Client,
    session: String,
}

impl Console {
    pub async fn signed_in(base: &str, username: &str) -> Console {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = |r: &reqwest::Response, name: &str| {
            r.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.starts_with(name))
                .map(|v| v.split(';').next().unwrap().to_string())
                .unwrap()
        };
        let login = http.get(format!("{base}/login")).send().await.unwrap();
        let login_cookie = cookie(&login, "huifang_login");
        let page = login.text().await.unwrap();
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let signed = http
            .post(format!("{base}/login"))
            .header("Cookie", login_cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "csrf={csrf}&username={username}&password={}",
                PASSWORD.replace(' ', "+")
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        let session = cookie(&signed, "huifang_session");
        Console {
            base: base.to_string(),
            http,
            session,
        }
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.session.clone())
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }
}

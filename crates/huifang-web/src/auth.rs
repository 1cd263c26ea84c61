//! Authentication: `POST /api/v1/auth/login` (username and password → session token) and the
//! bearer extractor every non-public route takes — a session token or a per-user API token in
//! `Authorization: Bearer …`, answered 401 when missing or unknown. What the caller may then do
//! is decided by `huifang_app::team` (403 when the role or team forbids it).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use huifang_app::team::{self, Actor};
use serde_json::{Value, json};

use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/me", get(me))
}

/// The authenticated caller of a request.
pub struct Authed(pub Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "this route needs `Authorization: Bearer <session or API token>`".into(),
                )
            })?
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        Ok(Authed(team::authenticate(&state.store, token).await?))
    }
}

/// A JSON body that must be an object; a malformed body is a 400 in the API's format.
pub(crate) fn object(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    match body {
        Ok(Json(v @ Value::Object(_))) => Ok(v),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// The caller as JSON.
pub(crate) fn me_json(a: &Actor) -> Value {
    json!({
        "id": a.user.id,
        "username": a.user.username,
        "display_name": a.user.display_name,
        "role": a.role.as_str(),
        "team": a.user.team_code,
        "skills": a.user.skills,
    })
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = object(body)?;
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("{name:?} (a string) is required")))
    };
    let (token, actor) = team::login(&state.store, field("username")?, field("password")?).await?;
    Ok(Json(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": team::SESSION_HOURS * 3600,
        "user": me_json(&actor),
    })))
}

async fn me(Authed(actor): Authed) -> Json<Value> {
    Json(me_json(&actor))
}

//! Authentication: `POST /api/v1/auth/login` (username and password → session token) and the
//! bearer extractor every non-public route takes — a session token or a per-user API token in
//! `Authorization: Bearer …`, answered 401 when missing or unknown. What the caller may then do
//! is decided by `huifang_app::team` (403 when the role or team forbids it).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use huifang_app::team::{self, Actor};
use huifang_app::views::{ErrorView, LoginRequest, SessionView, UserView};
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::guard::Seen;
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(me))
}

/// The authenticated caller of a request.
pub struct Authed(pub Actor);

/// The bearer token of a request, as sent (`Authorization: Bearer <token>`); 401 when missing.
pub struct BearerToken(pub String);

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
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
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| BearerToken(t.to_string()))
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        let actor = team::authenticate(&state.store, &token).await?;
        if let Some(seen) = parts.extensions.get::<Seen>() {
            seen.caller(&actor);
        }
        Ok(Authed(actor))
    }
}

/// A JSON body that must be an object (a document the application validates), as text: not
/// JSON or not an object is a 400.
pub(crate) fn object_text(body: Result<Json<Value>, JsonRejection>) -> Result<String, ApiError> {
    let value = request_object(body)?;
    Ok(value.to_string())
}

/// The body as a JSON object, or the 400 (413 when too large) of the API's format.
fn request_object(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    match body {
        Ok(Json(v @ Value::Object(_))) => Ok(v),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::TooLarge(format!("the body is too large: {e}")))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// A JSON body read into its request type: not JSON, not an object or a field of the wrong
/// type is a 400 in the API's format, naming the field.
pub(crate) fn request<T: DeserializeOwned>(
    body: Result<Json<Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let value = request_object(body)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::bad_request(inner.to_string())
        } else {
            ApiError::bad_request(format!("{path}: {inner}"))
        }
    })
}

/// Logs in: a session token (shown once) for `Authorization: Bearer`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session", body = SessionView),
        (status = 400, description = "The body is not a login", body = ErrorView),
        (status = 401, description = "Wrong username or password, or a disabled user", body = ErrorView),
        (status = 429, description = "Too many failed sign-ins of this username lately: try again later", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn login(
    State(state): State<AppState>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<SessionView>, ApiError> {
    let req: LoginRequest = request(body)?;
    let (token, actor) = team::login(&state.store, &req.username, &req.password).await?;
    Ok(Json(SessionView {
        token,
        token_type: "Bearer".into(),
        expires_in: team::SESSION_HOURS * 3600,
        user: UserView::from(&actor),
    }))
}

/// The caller.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserView),
        (status = 401, description = "No valid token", body = ErrorView)
    )
)]
async fn me(Authed(actor): Authed) -> Json<UserView> {
    Json(UserView::from(&actor))
}

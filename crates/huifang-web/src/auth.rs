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

use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(me))
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

/// A JSON body read into its request type: not JSON, not an object or a field of the wrong
/// type is a 400 in the API's format, naming the field.
pub(crate) fn request<T: DeserializeOwned>(
    body: Result<Json<Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let value = match body {
        Ok(Json(v @ Value::Object(_))) => v,
        Ok(_) => return Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "the body is not valid JSON: {e}"
            )));
        }
    };
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

//! The one error type of the API.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use huifang_app::AppError;
use huifang_app::views::ErrorView;

/// An API failure: a status, a stable code the console translates, and a message.
#[derive(Debug)]
pub enum ApiError {
    /// 400: a parameter is missing or invalid.
    BadRequest { code: &'static str, message: String },
    /// 401: no valid session or API token.
    Unauthorized(String),
    /// 403: the caller's role or team does not allow it.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409: the request conflicts with the current state.
    Conflict(String),
    /// 503: the database is not initialised or unreachable.
    Unavailable(String),
    /// 500: logged with its cause, answered without it.
    Internal(String),
}

impl ApiError {
    /// A 400 for an invalid or missing parameter.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "bad_request",
            message: message.into(),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Field { field, reason } => ApiError::BadRequest {
                code: "invalid_parameter",
                message: format!("{field}: {reason}"),
            },
            AppError::Invalid(message) => ApiError::BadRequest {
                code: "invalid",
                message,
            },
            AppError::NotFound { what, id } => ApiError::NotFound(format!("no {what} {id:?}")),
            AppError::NotInitialised => ApiError::Unavailable(e.to_string()),
            AppError::Unauthenticated(m) => ApiError::Unauthorized(m),
            AppError::Forbidden(m) => ApiError::Forbidden(m),
            AppError::Blocked { .. } => ApiError::Forbidden(e.to_string()),
            AppError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<huifang_store::StoreError> for ApiError {
    fn from(e: huifang_store::StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, "not_found", message),
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message),
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, "forbidden", message),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, "conflict", message),
            ApiError::Unavailable(message) => {
                tracing::warn!(%message, "service unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error (logged on the server)".to_string(),
                )
            }
        };
        let body = ErrorView {
            error: code.to_string(),
            message,
        };
        (status, Json(body)).into_response()
    }
}

//! The one error type of the API.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use huifang_app::AppError;
use huifang_app::views::ErrorView;

use crate::guard::Denied;

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
    /// 403 for a contact the contact rules refuse (kept in `blocked_contacts`, not a denial).
    Refused(String),
    /// 409: the request conflicts with the current state.
    Conflict(String),
    /// 413: the body is larger than the route takes.
    TooLarge(String),
    /// 422: the body is well-formed but its content is refused (an intake's rows, a key
    /// reused with another body).
    Unprocessable { code: &'static str, message: String },
    /// 429: too many attempts; `retry_after` in seconds when known.
    TooMany { message: String, retry_after: u64 },
    /// 503 because the server is at its limits (requests in flight, a request's time).
    Busy(String),
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
            AppError::Refused { field, reason } => ApiError::Unprocessable {
                code: "refused",
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
            AppError::Blocked { .. } => ApiError::Refused(e.to_string()),
            AppError::Conflict(m) => ApiError::Conflict(m),
            AppError::Locked(message) => ApiError::TooMany {
                message,
                retry_after: 0,
            },
            AppError::Rows(_) | AppError::Items(_) | AppError::File(_) => ApiError::Unprocessable {
                code: "rows_refused",
                message: e.to_string(),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<huifang_store::StoreError> for ApiError {
    fn from(e: huifang_store::StoreError) -> Self {
        AppError::from(e).into()
    }
}

/// An error as it is answered: the status, a stable code, the message (an internal cause is
/// logged, never answered), the denial to record and the seconds to wait before trying again.
pub(crate) struct Answered {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub denied: Option<Denied>,
    pub retry: Option<u64>,
}

impl Answered {
    /// Puts the denial (for the guard to record) and Retry-After on an answer.
    pub(crate) fn mark(self, mut response: Response) -> Response {
        if let Some(d) = self.denied {
            response.extensions_mut().insert(d);
        }
        if let Some(seconds) = self.retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let answered = self.answered();
        let body = ErrorView {
            error: answered.code.to_string(),
            message: answered.message.clone(),
        };
        let response = (answered.status, Json(body)).into_response();
        answered.mark(response)
    }
}

impl ApiError {
    /// How the error is answered, over the API as JSON and in the console as a page.
    pub(crate) fn answered(self) -> Answered {
        let mut denied = None;
        let mut retry = None;
        let (status, code, message) = match self {
            ApiError::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, "not_found", message),
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, "unauthorized", message),
            ApiError::Forbidden(message) => {
                denied = Some(Denied(message.clone()));
                (StatusCode::FORBIDDEN, "forbidden", message)
            }
            ApiError::Refused(message) => (StatusCode::FORBIDDEN, "forbidden", message),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, "conflict", message),
            ApiError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", message),
            ApiError::Unprocessable { code, message } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, message)
            }
            ApiError::TooMany {
                message,
                retry_after,
            } => {
                retry = (retry_after > 0).then_some(retry_after);
                (StatusCode::TOO_MANY_REQUESTS, "too_many", message)
            }
            ApiError::Busy(message) => {
                tracing::warn!(%message, "busy");
                (StatusCode::SERVICE_UNAVAILABLE, "busy", message)
            }
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
        Answered {
            status,
            code,
            message,
            denied,
            retry,
        }
    }
}

//! Intake from core banking (`huifang_app::intake`): `POST /api/v1/borrowers`, `/loans`,
//! `/payments` (one JSON object or an array of up to 1,000) and `POST /api/v1/imports/{kind}`
//! (a CSV or .xlsx file), each all or nothing, idempotent by external id and, when the request
//! carries one, by `Idempotency-Key`: the same key and body are answered as the first time, the
//! same key with another body is a 422, a key whose first request is still being handled a 409.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use huifang_app::files::ImportFormat;
use huifang_app::intake::{self, Intake, Keyed};
use huifang_app::team::Actor;
use huifang_app::views::{BorrowersIn, ErrorView, IntakeView, LoansIn, PaymentsIn};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::tasks::policy_in_force;
use crate::{ApiError, AppState};

/// The largest body of records: 1,000 loans take about half of it.
pub const MAX_RECORDS_BYTES: usize = 4 * 1024 * 1024;

/// The largest import file.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(borrowers).layer(DefaultBodyLimit::max(MAX_RECORDS_BYTES)))
        .routes(routes!(loans).layer(DefaultBodyLimit::max(MAX_RECORDS_BYTES)))
        .routes(routes!(payments).layer(DefaultBodyLimit::max(MAX_RECORDS_BYTES)))
        .routes(routes!(import_file).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
}

/// The intake routes' links in the document (JSON): from a pushed or listed record to where it
/// is read (a loan's view, decisions, cases, payments and interactions; a borrower's opt-outs
/// and emergency contacts; a payment's loan), for clients and for stateful testing.
pub fn link(doc: &mut Value) {
    /// A route, its method and answer, the reads it links to (by name, with the parameter they
    /// take) and where the parameter's value is.
    type Links<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str, &'a str)], &'a str);
    let loan_reads: &[(&str, &str, &str)] = &[
        ("ShowLoan", "/api/v1/loans/{external_id}", "external_id"),
        (
            "LoanDecisions",
            "/api/v1/loans/{external_id}/decisions",
            "external_id",
        ),
        (
            "LoanCases",
            "/api/v1/loans/{external_id}/cases",
            "external_id",
        ),
        ("LoanPayments", "/api/v1/payments", "loan"),
        ("LoanInteractions", "/api/v1/interactions", "loan"),
    ];
    let borrower_reads: &[(&str, &str, &str)] = &[
        (
            "BorrowerOptOuts",
            "/api/v1/borrowers/{external_id}/opt-outs",
            "external_id",
        ),
        (
            "BorrowerEmergencyContacts",
            "/api/v1/borrowers/{external_id}/emergency-contacts",
            "external_id",
        ),
    ];
    let targets: [Links<'_>; 6] = [
        (
            "/api/v1/loans",
            "post",
            loan_reads,
            "$response.body#/external_ids/0",
        ),
        (
            "/api/v1/borrowers",
            "post",
            borrower_reads,
            "$response.body#/external_ids/0",
        ),
        (
            "/api/v1/payments",
            "post",
            loan_reads,
            "$request.body#/loan_external_id",
        ),
        (
            "/api/v1/loans",
            "get",
            loan_reads,
            "$response.body#/loans/0/loan_external_id",
        ),
        (
            "/api/v1/borrowers",
            "get",
            borrower_reads,
            "$response.body#/borrowers/0/external_id",
        ),
        (
            "/api/v1/payments",
            "get",
            loan_reads,
            "$response.body#/payments/0/loan",
        ),
    ];
    for (path, method, links, value) in targets {
        for status in ["200", "201"] {
            let Some(response) = doc
                .pointer_mut(&format!(
                    "/paths/{}/{method}/responses/{status}",
                    path.replace('/', "~1")
                ))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let mut all = serde_json::Map::new();
            for (name, target, parameter) in links {
                all.insert(
                    (*name).to_string(),
                    serde_json::json!({
                        "operationRef": format!("#/paths/{}/get", target.replace('/', "~1")),
                        "parameters": {*parameter: value},
                    }),
                );
            }
            response.insert("links".to_string(), Value::Object(all));
        }
    }
}

/// The `Idempotency-Key` header, if the request has one.
fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(|s| s.trim().to_string())
                .map_err(|_| ApiError::bad_request("Idempotency-Key: must be printable ASCII"))
        })
        .transpose()
}

/// A JSON answer of `status` from stored text.
fn stored(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Answers `work`, once per `Idempotency-Key` when the request carries one: a 2xx or 4xx answer
/// is kept for the key; a 5xx gives the key back (the request may be tried again).
async fn keyed(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
    work: impl Future<Output = Result<Intake, ApiError>>,
) -> Result<Response, ApiError> {
    let Some(key) = key_of(headers)? else {
        return work.await.map(answer);
    };
    match intake::claim_key(&state.store, actor, &key, route, body).await? {
        Keyed::Replay { status, body } => Ok(stored(status, body)),
        Keyed::Handle => {
            let response = match work.await {
                Ok(done) => answer(done),
                Err(e) => e.into_response(),
            };
            let status = response.status();
            if status.is_server_error() {
                intake::release_key(&state.store, actor, &key).await?;
                return Ok(response);
            }
            let bytes = axum::body::to_bytes(response.into_body(), MAX_RECORDS_BYTES)
                .await
                .map_err(|e| ApiError::Internal(format!("reading an answer: {e}")))?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            intake::finish_key(&state.store, actor, &key, status.as_u16(), &text).await?;
            Ok(stored(status.as_u16(), text))
        }
    }
}

/// 201 when rows were written, 200 when every one was there already.
fn answer(done: Intake) -> Response {
    let status = if done.report.inserted > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(IntakeView::from(&done))).into_response()
}

/// The records of a body: one JSON object, or an array of them.
fn records_of(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(one @ Value::Object(_)) => Ok(vec![one]),
        Ok(Value::Array(many)) => Ok(many),
        Ok(_) => Err(ApiError::bad_request(
            "the body must be a JSON object or an array of them",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

async fn push(
    state: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
    format: ImportFormat,
    route: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    keyed(state, actor, headers, route, body, async {
        let records = records_of(body)?;
        Ok(state.intake.records(actor, format, records).await?)
    })
    .await
}

/// Pushes one borrower or a batch (all or nothing, idempotent by external id): the columns of
/// `borrowers.csv`, each a string, checked as the file import checks them.
#[utoipa::path(
    post,
    path = "/api/v1/borrowers",
    tag = "intake",
    security(("bearer" = [])),
    request_body = BorrowersIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key and body are answered as the first time")),
    responses(
        (status = 201, description = "Written", body = IntakeView),
        (status = 200, description = "Every record was there already with the same content", body = IntakeView),
        (status = 400, description = "Not JSON, or not an object or an array of them", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator's users feed the book", body = ErrorView),
        (status = 409, description = "A request with this Idempotency-Key is still being handled", body = ErrorView),
        (status = 413, description = "The body is larger than 4 MiB", body = ErrorView),
        (status = 422, description = "Refused records (each named by index and field, nothing written), or an Idempotency-Key used for another body", body = ErrorView)
    )
)]
async fn borrowers(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    push(
        &state,
        &actor,
        &headers,
        ImportFormat::Borrowers,
        "POST /api/v1/borrowers",
        &body,
    )
    .await
}

/// Pushes one loan or a batch: the columns of `loans.csv`. A loan is evaluated on the business
/// date at once, and one disbursed within the last 7 days is welcomed.
#[utoipa::path(
    post,
    path = "/api/v1/loans",
    tag = "intake",
    security(("bearer" = [])),
    request_body = LoansIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key and body are answered as the first time")),
    responses(
        (status = 201, description = "Written", body = IntakeView),
        (status = 200, description = "Every record was there already with the same content", body = IntakeView),
        (status = 400, description = "Not JSON, or not an object or an array of them", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator's users feed the book", body = ErrorView),
        (status = 409, description = "A request with this Idempotency-Key is still being handled", body = ErrorView),
        (status = 413, description = "The body is larger than 4 MiB", body = ErrorView),
        (status = 422, description = "Refused records (each named by index and field, nothing written), or an Idempotency-Key used for another body", body = ErrorView)
    )
)]
async fn loans(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    push(
        &state,
        &actor,
        &headers,
        ImportFormat::Loans,
        "POST /api/v1/loans",
        &body,
    )
    .await
}

/// Pushes one payment or a batch: the columns of `payments.csv`. Each payment is posted and its
/// loan re-processed from the start in the same transaction, and logged in the ledger.
#[utoipa::path(
    post,
    path = "/api/v1/payments",
    tag = "intake",
    security(("bearer" = [])),
    request_body = PaymentsIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key and body are answered as the first time")),
    responses(
        (status = 201, description = "Written", body = IntakeView),
        (status = 200, description = "Every record was there already with the same content", body = IntakeView),
        (status = 400, description = "Not JSON, or not an object or an array of them", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator's users feed the book", body = ErrorView),
        (status = 409, description = "A request with this Idempotency-Key is still being handled", body = ErrorView),
        (status = 413, description = "The body is larger than 4 MiB", body = ErrorView),
        (status = 422, description = "Refused records (each named by index and field, nothing written), or an Idempotency-Key used for another body", body = ErrorView)
    )
)]
async fn payments(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    push(
        &state,
        &actor,
        &headers,
        ImportFormat::Payments,
        "POST /api/v1/payments",
        &body,
    )
    .await
}

/// An import file's bytes: CSV (UTF-8 or GBK) or .xlsx.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // a schema, never built
struct ImportBytes(Vec<u8>);

/// Imports a file as `huifang import KIND FILE` does: all or nothing, every bad row listed by
/// line and column, idempotent by external id.
#[utoipa::path(
    post,
    path = "/api/v1/imports/{kind}",
    tag = "intake",
    security(("bearer" = [])),
    params(
        ("kind" = String, Path, pattern = "^(products|borrowers|loans|payments)$", description = "products, borrowers, loans or payments"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body are answered as the first time")
    ),
    request_body(content = ImportBytes, content_type = "application/octet-stream", description = "The file: CSV (UTF-8 or GBK) or .xlsx"),
    responses(
        (status = 201, description = "Imported", body = IntakeView),
        (status = 200, description = "Every row was there already with the same content", body = IntakeView),
        (status = 400, description = "An unknown kind or an empty file", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the administrator's users feed the book", body = ErrorView),
        (status = 409, description = "A request with this Idempotency-Key is still being handled", body = ErrorView),
        (status = 413, description = "The file is larger than 32 MiB", body = ErrorView),
        (status = 422, description = "A bad header or refused rows (each named by line and column, nothing written), or an Idempotency-Key used for another body", body = ErrorView)
    )
)]
async fn import_file(
    State(state): State<AppState>,
    Authed(actor): Authed,
    kind: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Path(kind) = kind.map_err(|_| ApiError::bad_request("the kind is malformed"))?;
    let format = match kind.as_str() {
        "products" => ImportFormat::Products,
        "borrowers" => ImportFormat::Borrowers,
        "loans" => ImportFormat::Loans,
        "payments" => ImportFormat::Payments,
        other => {
            return Err(ApiError::bad_request(format!(
                "kind: {other:?} is not products, borrowers, loans or payments"
            )));
        }
    };
    let route = format!("POST /api/v1/imports/{kind}");
    keyed(&state, &actor, &headers, &route, &body, async {
        let policy = policy_in_force(&state).await?;
        Ok(intake::file(&state.store, &policy, &actor, format, &body).await?)
    })
    .await
}

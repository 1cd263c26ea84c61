//! Document authenticity: register an uploaded document (authenticated), and is this file a
//! registered document? (public).
//!
//! `POST /api/v1/documents?loan=L|borrower=B&kind=K&file_name=F` (body: the file) registers the
//! file's SHA-256 and size for a loan or a borrower, anchored in the log, for every role but the
//! auditor (`huifang_app::team::register_document`); it answers 201 with what
//! `huifang document register` prints. Its inclusion proof comes from the check once a
//! checkpoint covers its leaf.
//!
//! The check's answer holds what a partner needs to check it without trusting Huifang's
//! database: the committed fields (opaque owner id, kind, SHA-256, size, date — no name, no file
//! name), the salt, the leaf, and its inclusion proof against the latest signed checkpoint.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use huifang_app::ledger::{self, Owner};
use huifang_app::team;
use huifang_app::views::{
    DocumentCheckView, DocumentMatchView, DocumentRegistrationView, ErrorView,
};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::auth::Authed;
use crate::tasks::{Params, params};
use crate::{ApiError, AppState};

/// Largest file accepted for a registration or a check.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES)))
        .routes(routes!(check).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES)))
}

/// A file's bytes, sent as the request body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct FileBytes(Vec<u8>);

/// Registers the body's SHA-256 and size as a document of a loan or a borrower, anchored in the
/// log (every role but the auditor).
#[utoipa::path(
    post,
    path = "/api/v1/documents",
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("loan" = Option<String>, Query, description = "The loan's external id (or borrower)"),
        ("borrower" = Option<String>, Query, description = "The borrower's external id (or loan)"),
        ("kind" = String, Query, pattern = "^(income_proof|contract|id_scan|other)$", description = "income_proof, contract, id_scan or other"),
        ("file_name" = Option<String>, Query, description = "The file's name (kept, never logged)")
    ),
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The document's bytes"),
    responses(
        (status = 201, description = "Registered", body = DocumentRegistrationView),
        (status = 400, description = "A missing or invalid parameter, or an empty body", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "The caller's role may not register documents", body = ErrorView),
        (status = 404, description = "No such loan or borrower", body = ErrorView),
        (status = 413, description = "The body is larger than 64 MiB"),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn register(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
    body: Bytes,
) -> Result<(StatusCode, Json<DocumentRegistrationView>), ApiError> {
    team::authorize_document_registration(&actor)?;
    let m = params(p)?;
    let given = |name: &str| {
        m.get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let owner = match (given("loan"), given("borrower")) {
        (Some(loan), None) => Owner::Loan(loan),
        (None, Some(borrower)) => Owner::Borrower(borrower),
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give loan=<external id> or borrower=<external id>, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "loan=<external id> or borrower=<external id> is required",
            ));
        }
    };
    let kind = given("kind").ok_or_else(|| {
        ApiError::bad_request(format!(
            "kind={} is required",
            ledger::DOCUMENT_KINDS.join("|")
        ))
    })?;
    let file_name = given("file_name").unwrap_or_default();
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body must be the document's bytes; it is empty",
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    let size_bytes = u64::try_from(body.len()).unwrap_or(u64::MAX);
    let reg = team::register_document(
        &state.store,
        &actor,
        &owner,
        &kind,
        &file_name,
        &sha256,
        size_bytes,
    )
    .await?;
    let (owner_kind, owner_external_id) = match owner {
        Owner::Loan(e) => ("loan", e),
        Owner::Borrower(e) => ("borrower", e),
    };
    Ok((
        StatusCode::CREATED,
        Json(DocumentRegistrationView {
            document_id: reg.document_id,
            owner_kind: owner_kind.to_string(),
            owner_external_id,
            kind,
            file_name,
            size_bytes,
            sha256: reg.sha256,
            registered_on: reg.registered_on.to_string(),
            leaf_index: reg.leaf_index,
        }),
    ))
}

/// Is this file a registered document? Each registration with its committed fields, salt, leaf
/// and inclusion proof against the latest signed checkpoint (public: no personal data).
#[utoipa::path(
    post,
    path = "/api/v1/documents/check",
    tag = "documents",
    request_body(content = FileBytes, content_type = "application/octet-stream", description = "The file to check"),
    responses(
        (status = 200, description = "The check", body = DocumentCheckView),
        (status = 413, description = "The body is larger than 64 MiB"),
        (status = 400, description = "An empty body", body = ErrorView),
        (status = 429, description = "Too many checks from this address in the last minute (see Retry-After)", body = ErrorView),
        (status = 503, description = "The database is not initialised", body = ErrorView)
    )
)]
async fn check(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<DocumentCheckView>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty: send the file's bytes",
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    let result = ledger::check_document(&state.store, &sha256).await?;
    Ok(Json(DocumentCheckView {
        registered: result.registered(),
        size_bytes: u64::try_from(body.len()).unwrap_or(u64::MAX),
        documents: result.matches.iter().map(DocumentMatchView::from).collect(),
        checkpoint: result.checkpoint.map(|c| c.note),
        sha256,
    }))
}

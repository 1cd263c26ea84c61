//! The auditors' page: the ledger's latest checkpoint, the verification of the whole log run
//! from the page, the inclusion proof of any record, and a document checked by upload. Nothing
//! on it changes the book.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::ledger;
use huifang_app::views::{DocumentCheckView, DocumentMatchView, EntryView, InclusionProofView};
use sha2::{Digest, Sha256};

use super::work::number;
use super::{Chrome, ConsoleError, Posted, Viewer, page, same_token};
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ledger", get(ledger_page))
        .route("/ledger/verify", post(verify))
        .route(
            "/ledger/document",
            post(document).layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
}

/// The result of a verification run from the page.
pub struct Verified {
    pub ok: bool,
    pub tree_size: u64,
    pub records: u64,
    pub checkpoints: u64,
    pub problems: Vec<String>,
}

/// The latest checkpoint as the page shows it.
pub struct CheckpointShown {
    pub size: u64,
    pub root: String,
    pub business_date: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "console/ledger.html")]
struct LedgerPage {
    c: Chrome,
    checkpoint: Option<CheckpointShown>,
    verified: Option<Verified>,
    index: String,
    entry: Option<EntryView>,
    proof: Option<InclusionProofView>,
    proof_error: Option<String>,
    check: Option<DocumentCheckView>,
}

impl LedgerPage {
    async fn new(state: &AppState, v: &Viewer) -> Result<LedgerPage, ConsoleError> {
        require_auditor(v)?;
        let checkpoint = ledger::latest_checkpoint(&state.store)
            .await?
            .map(|cp| CheckpointShown {
                size: cp.size,
                root: hex::encode(cp.root),
                business_date: cp.business_date.to_string(),
                note: cp.note,
            });
        Ok(LedgerPage {
            c: v.chrome("Ledger", "/ledger"),
            checkpoint,
            verified: None,
            index: String::new(),
            entry: None,
            proof: None,
            proof_error: None,
            check: None,
        })
    }
}

/// The ledger's page is the auditors' (the log itself is public over the API).
fn require_auditor(v: &Viewer) -> Result<(), ConsoleError> {
    super::require(v, v.actor.role.audits(), "use the auditors' ledger page")
}

async fn ledger_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let mut view = LedgerPage::new(&state, &v).await?;
    if let Some(raw) = q.get("index").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        view.index = raw.to_string();
        match number::<u64>(&q, "index") {
            None => view.proof_error = Some(v.lang.t("The index must be a whole number.").into()),
            Some(index) => {
                let size = view.checkpoint.as_ref().map_or(0, |c| c.size);
                if index >= size {
                    view.proof_error = Some(
                        v.lang
                            .t("No record at this index in the latest checkpoint.")
                            .into(),
                    );
                } else {
                    let (_, leaves) = ledger::entries(&state.store, index, index + 1).await?;
                    view.entry = leaves.first().map(EntryView::from);
                    let p = ledger::inclusion_proof(&state.store, index, size).await?;
                    view.proof = Some(InclusionProofView::from(&p));
                }
            }
        }
    }
    page(&view)
}

async fn verify(State(state): State<AppState>, posted: Posted) -> Result<Response, ConsoleError> {
    let mut view = LedgerPage::new(&state, &posted.viewer).await?;
    let report = ledger::verify(&state.store, None).await?;
    view.verified = Some(Verified {
        ok: report.ok(),
        tree_size: report.tree_size,
        records: report.records,
        checkpoints: report.checkpoints,
        problems: report
            .problems
            .iter()
            .take(100)
            .map(ToString::to_string)
            .collect(),
    });
    page(&view)
}

/// A document uploaded (multipart: the CSRF token, then the file): its SHA-256 looked up among
/// the registered documents, with each match's inclusion proof.
async fn document(
    State(state): State<AppState>,
    v: Viewer,
    mut form: Multipart,
) -> Result<Response, ConsoleError> {
    let mut csrf = None;
    let mut bytes = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ConsoleError::Api(ApiError::bad_request(e.body_text())))?
    {
        match field.name() {
            Some("csrf") => csrf = field.text().await.ok(),
            Some("file") => {
                bytes = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| ConsoleError::Api(ApiError::bad_request(e.body_text())))?,
                );
            }
            _ => {}
        }
    }
    if !csrf.is_some_and(|t| same_token(t.trim(), &v.csrf)) {
        return Err(ConsoleError::Csrf);
    }
    let bytes = bytes
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ConsoleError::Api(ApiError::bad_request("choose a file to check")))?;
    let mut view = LedgerPage::new(&state, &v).await?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let result = ledger::check_document(&state.store, &sha256).await?;
    view.check = Some(DocumentCheckView {
        registered: result.registered(),
        size_bytes: u64::try_from(bytes.len()).unwrap_or(u64::MAX),
        documents: result.matches.iter().map(DocumentMatchView::from).collect(),
        checkpoint: result.checkpoint.map(|c| c.note),
        sha256,
    });
    page(&view)
}

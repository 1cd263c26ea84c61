//! Repossession and legal cases (资产保全 / 诉讼): opened by a risk officer on a loan, worked step
//! by step (stages in the core's order; a sale or an enforcement posts what it collected as a
//! payment) by the collectors who work cases, read by the roles that read loans.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::cases;
use huifang_app::views::{CaseDetailView, CaseStepRequest, CaseView};
use huifang_core::case::{CaseKind, CaseStage, next_stages};

use super::work::FormState;
use super::{Chrome, ConsoleError, Posted, Viewer, page, page_or_refused, to};
use crate::tasks::policy_in_force;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list))
        .route("/cases/{id}", get(case))
        .route("/cases/{id}/steps", post(step))
        .route("/loans/{id}/cases", post(open))
}

#[derive(Template)]
#[template(path = "console/cases.html")]
struct CasesPage {
    c: Chrome,
    cases: Vec<CaseView>,
    kind: String,
    open_only: bool,
}

async fn list(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let kind = q
        .get("kind")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    let open_only = q.get("open").map(String::as_str) != Some("0");
    let mut rows: Vec<CaseView> = cases::list(&state.store, &v.actor, None)
        .await?
        .iter()
        .map(CaseView::from)
        .filter(|c| kind.is_empty() || c.kind == kind)
        .filter(|c| !open_only || c.closed_on.is_none())
        .collect();
    rows.sort_by_key(|c| std::cmp::Reverse(c.id));
    page(&CasesPage {
        c: v.chrome("Cases", "/cases"),
        cases: rows,
        kind,
        open_only,
    })
}

#[derive(Template)]
#[template(path = "console/case.html")]
struct CasePage {
    c: Chrome,
    detail: CaseDetailView,
    /// The stages a step may go to next (the core's order, then closed).
    next: Vec<&'static str>,
    can_step: bool,
    form: FormState,
}

fn case_id(id: &str) -> Result<i64, ConsoleError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConsoleError::Api(ApiError::NotFound(format!("no case {id:?}"))))
}

async fn case_page(
    state: &AppState,
    v: Viewer,
    id: &str,
    form: FormState,
    done: Option<&str>,
) -> Result<Response, ConsoleError> {
    let found = cases::show(&state.store, &v.actor, case_id(id)?).await?;
    let detail = CaseDetailView::from(&found);
    let next = match (
        detail.case.kind.parse::<CaseKind>(),
        detail.case.stage.parse::<CaseStage>(),
    ) {
        (Ok(kind), Ok(stage)) => next_stages(kind, stage)
            .into_iter()
            .map(CaseStage::as_str)
            .collect(),
        _ => Vec::new(),
    };
    let refused = !form.errors.is_empty() || form.general.is_some();
    let view = CasePage {
        c: v.chrome_done("Case", "/cases", done),
        can_step: v.actor.role.works_cases() && !next.is_empty(),
        next,
        detail,
        form,
    };
    page_or_refused(refused, &view)
}

async fn case(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    case_page(
        &state,
        v,
        &id,
        FormState::default(),
        q.get("done").map(String::as_str),
    )
    .await
}

async fn step(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let case = case_id(&id)?;
    let mut form = FormState {
        values: fields.0.iter().cloned().collect(),
        ..FormState::default()
    };
    let request = CaseStepRequest {
        stage: fields.text("stage"),
        amount: fields.get("amount").map(str::to_string),
        note: fields.text("note"),
        on: fields.get("on").map(str::to_string),
    };
    let policy = policy_in_force(&state).await?;
    let stepped = match request.to_request() {
        Ok(r) => cases::step(&state.store, &policy, &viewer.actor, case, &r).await,
        Err(e) => Err(e),
    };
    match stepped {
        Ok(_) => Ok(to(&format!("/cases/{case}?done=stepped"))),
        Err(e) => {
            form.refused(e)?;
            case_page(&state, viewer, &id, form, None).await
        }
    }
}

/// Opens a case on a loan from its warning's page; back to that page when refused.
async fn open(
    State(state): State<AppState>,
    Path(loan): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let policy = policy_in_force(&state).await?;
    let opened = cases::open(
        &state.store,
        &policy,
        &viewer.actor,
        &loan,
        &fields.text("kind"),
        &fields.text("reason"),
    )
    .await;
    match opened {
        Ok(c) => Ok(to(&format!("/cases/{}?done=opened", c.case.id))),
        Err(e) => {
            let mut form = FormState {
                values: fields.0.iter().cloned().collect(),
                ..FormState::default()
            };
            form.refused(e)?;
            let back = fields.text("warning");
            super::risk::warning_refused(&state, viewer, &back, form).await
        }
    }
}

//! The risk officers' work: the warning board by level with the facts that fired each warning,
//! a warning's life (acknowledge, act, resolve), and decisions on its loan (deferral, payment
//! holiday, restructure, early settlement, acceleration, write-off, classification floor) with
//! four-eyes approval.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::decisions;
use huifang_app::team;
use huifang_app::views::{
    DecisionRequestView, DecisionView, InstallmentView, LoanSummaryView, WarningItemView,
    WarningStepView,
};
use huifang_app::warnings::{self, WarningFilter};

use super::work::{FormState, number};
use super::{Chrome, ConsoleError, Pager, Posted, Viewer, page, page_or_refused, query_of, to};
use crate::tasks::policy_in_force;
use crate::{ApiError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/warnings", get(board))
        .route("/warnings/{id}", get(warning))
        .route("/warnings/{id}/{step}", post(step))
        .route("/loans/{id}/decisions", post(decide))
        .route("/decisions/{id}/approve", post(approve))
}

type Params = Query<HashMap<String, String>>;

/// A warning as the board shows it: its facts in the reader's language.
pub struct BoardItem {
    pub w: WarningItemView,
    pub facts: String,
}

fn item(w: WarningItemView, c: &Chrome) -> BoardItem {
    let facts = match c.lang {
        super::Lang::Zh => w.text_zh.clone(),
        super::Lang::En => w.text_en.clone(),
    };
    BoardItem { w, facts }
}

#[derive(Template)]
#[template(path = "console/warnings.html")]
struct BoardPage {
    c: Chrome,
    levels: Vec<(u8, i64)>,
    level: String,
    state: String,
    items: Vec<BoardItem>,
    pager: Pager,
}

async fn board(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    let level: Option<u8> = number(&q, "level");
    let wanted_state = q
        .get("state")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let filter = WarningFilter {
        all: false,
        level: None,
        loan: None,
        limit: Some(warnings::MAX_LIST),
    };
    let rows = warnings::list(&state.store, &v.actor, &filter).await?;
    let mut levels: Vec<(u8, i64)> = (1..=3).rev().map(|l| (l, 0)).collect();
    for r in &rows {
        if let Some((_, n)) = levels.iter_mut().find(|(l, _)| *l == r.warning.level) {
            *n += 1;
        }
    }
    let c = v.chrome_done("Warnings", "/warnings", q.get("done").map(String::as_str));
    let mut items: Vec<BoardItem> = rows
        .iter()
        .map(WarningItemView::from)
        .filter(|w| level.is_none_or(|l| w.warning.level == l))
        .filter(|w| wanted_state.is_empty() || w.state == wanted_state)
        .map(|w| item(w, &c))
        .collect();
    // the highest level first, the oldest warning of a level first
    items.sort_by(|a, b| {
        (b.w.warning.level, &a.w.warning.raised_on, a.w.id).cmp(&(
            a.w.warning.level,
            &b.w.warning.raised_on,
            b.w.id,
        ))
    });
    let level_text = level.map(|l| l.to_string()).unwrap_or_default();
    let query = query_of(&[("level", Some(&level_text)), ("state", Some(&wanted_state))]);
    let (items, pager) = Pager::slice(items, number(&q, "page"), query);
    page(&BoardPage {
        c,
        levels,
        level: level_text,
        state: wanted_state,
        items,
        pager,
    })
}

#[derive(Template)]
#[template(path = "console/warning.html")]
struct WarningPage {
    c: Chrome,
    item: BoardItem,
    history: Vec<WarningStepView>,
    loan: LoanSummaryView,
    decisions: Vec<DecisionView>,
    can_act: bool,
    can_decide: bool,
    me: String,
    kinds: Vec<&'static str>,
    form: FormState,
    /// The schedule a decision of the form would make (nothing recorded).
    preview: Option<Vec<InstallmentView>>,
}

fn warning_id(id: &str) -> Result<i64, ConsoleError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConsoleError::Api(ApiError::NotFound(format!("no warning {id:?}"))))
}

async fn warning(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    let done = q.get("done").cloned();
    warning_page(&state, v, &id, FormState::default(), done.as_deref(), None).await
}

/// The warning's page again with a refused form of it (a case on its loan).
pub(super) async fn warning_refused(
    state: &AppState,
    v: Viewer,
    id: &str,
    form: FormState,
) -> Result<Response, ConsoleError> {
    warning_page(state, v, id, form, None, None).await
}

async fn warning_page(
    state: &AppState,
    v: Viewer,
    id: &str,
    form: FormState,
    done: Option<&str>,
    preview: Option<Vec<InstallmentView>>,
) -> Result<Response, ConsoleError> {
    let (w, steps) = warnings::show(&state.store, &v.actor, warning_id(id)?).await?;
    let w = WarningItemView::from(&w);
    let policy = policy_in_force(state).await?;
    let (loan, borrower) = team::show_loan(&state.store, &policy, &v.actor, &w.loan, None).await?;
    let loan = LoanSummaryView::new(&loan, &borrower);
    let decisions = decisions::list(&state.store, &v.actor, Some(&w.loan))
        .await?
        .iter()
        .map(DecisionView::from)
        .collect();
    let c = v.chrome_done("Warning", "/warnings", done);
    let refused = !form.errors.is_empty() || form.general.is_some();
    let view = WarningPage {
        item: item(w, &c),
        c,
        history: steps.iter().map(WarningStepView::from).collect(),
        loan,
        decisions,
        can_act: v.actor.role.works_warnings(),
        can_decide: v.actor.role.decides_loans(),
        me: v.actor.user.user.username.clone(),
        kinds: huifang_core::loan::OpKind::ALL
            .map(huifang_core::loan::OpKind::as_str)
            .to_vec(),
        form,
        preview,
    };
    page_or_refused(refused, &view)
}

async fn step(
    State(state): State<AppState>,
    Path((id, step)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let warning = warning_id(&id)?;
    let Posted { viewer, fields } = posted;
    let note = fields.text("note");
    let done = match step.as_str() {
        "acknowledge" => warnings::acknowledge(&state.store, &viewer.actor, warning, &note).await,
        "act" => {
            let task = fields
                .get("task_id")
                .and_then(|t| t.parse::<i64>().ok())
                .map(huifang_core::TaskId);
            warnings::record_action(&state.store, &viewer.actor, warning, task, &note).await
        }
        "resolve" => warnings::resolve(&state.store, &viewer.actor, warning, &note).await,
        _ => {
            return Err(ConsoleError::Api(ApiError::NotFound(format!(
                "no step {step:?}"
            ))));
        }
    };
    let word = match step.as_str() {
        "acknowledge" => "acknowledged",
        "act" => "actioned",
        _ => "resolved",
    };
    match done {
        Ok(_) => Ok(to(&format!("/warnings/{warning}?done={word}"))),
        Err(e) => {
            let mut form = FormState::default();
            form.refused(e)?;
            warning_page(&state, viewer, &id, form, None, None).await
        }
    }
}

/// A decision form as the API's request: empty fields are absent.
fn decision_request(fields: &super::Fields, form: &mut FormState) -> Option<DecisionRequestView> {
    let mut whole = |name: &str| match fields.get(name) {
        None => None,
        Some(n) => match n.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                form.errors
                    .insert(name.to_string(), "must be a whole number".to_string());
                None
            }
        },
    };
    let months = whole("months");
    let term_months = whole("term_months");
    if !form.errors.is_empty() {
        return None;
    }
    Some(DecisionRequestView {
        kind: fields.text("kind"),
        months,
        annual_rate: fields.get("annual_rate").map(str::to_string),
        term_months,
        method: fields.get("method").map(str::to_string),
        floor: fields.get("floor").map(str::to_string),
        on: fields.get("on").map(str::to_string),
        reason: fields.text("reason"),
    })
}

async fn decide(
    State(state): State<AppState>,
    Path(loan): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let back = fields.text("warning");
    let mut form = FormState {
        values: fields.0.iter().cloned().collect(),
        ..FormState::default()
    };
    let previewing = fields.get("preview").is_some();
    if let Some(req) = decision_request(&fields, &mut form) {
        let policy = policy_in_force(&state).await?;
        if previewing {
            let shown = match req.to_request() {
                Ok(r) => decisions::preview(&state.store, &policy, &viewer.actor, &loan, &r).await,
                Err(e) => Err(e),
            };
            match shown {
                Ok(rows) => {
                    let rows = rows.iter().map(InstallmentView::from).collect();
                    return warning_page(&state, viewer, &back, form, None, Some(rows)).await;
                }
                Err(e) => form.refused(e)?,
            }
            return warning_page(&state, viewer, &back, form, None, None).await;
        }
        let asked = match req.to_request() {
            Ok(r) => decisions::decide(&state.store, &policy, &viewer.actor, &loan, &r).await,
            Err(e) => Err(e),
        };
        match asked {
            Ok(_) => return Ok(to(&format!("/warnings/{back}?done=decided"))),
            Err(e) => form.refused(e)?,
        }
    }
    warning_page(&state, viewer, &back, form, None, None).await
}

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let id = id
        .parse::<i64>()
        .map_err(|_| ConsoleError::Api(ApiError::NotFound(format!("no decision {id:?}"))))?;
    let policy = policy_in_force(&state).await?;
    decisions::approve(&state.store, &policy, &posted.viewer.actor, id).await?;
    let back = posted.fields.text("warning");
    Ok(to(&format!("/warnings/{back}?done=approved")))
}

//! The administrator's set-up of the follow-up work: teams and their queues, products and each
//! product's follow-up plan, and each task kind's script. Every change goes through the use case
//! the command line and the API use, so it is validated the same way; a refused form is shown
//! again with the reason on its field.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::files::{ImportFormat, Source};
use huifang_app::team::{self, QueueChange};
use huifang_app::views::{ProductView, TeamList, TeamView};
use huifang_app::{AppError, book, followup, import};
use huifang_core::followup::{SCRIPT_LANGS, TaskKind};
use huifang_core::outcome::Strategy;
use serde_json::json;

use super::work::FormState;
use super::{Chrome, ConsoleError, Posted, Viewer, page_or_refused, require, to};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/teams", get(teams).post(add_team))
        .route("/admin/teams/{code}", post(rename_team))
        .route("/admin/queues", post(add_queue))
        .route("/admin/queues/{code}", post(change_queue))
        .route("/admin/products", get(products).post(add_product))
        .route("/admin/products/{code}/plan", get(plan).post(save_plan))
        .route("/admin/scripts", get(scripts))
        .route("/admin/scripts/{kind}/{lang}", post(save_script))
}

fn admin_only(v: &Viewer) -> Result<(), ConsoleError> {
    require(
        v,
        v.actor.role.administers(),
        "set up teams, products and scripts",
    )
}

/// Which form of the page was refused, and what it said.
#[derive(Default)]
struct Refusal {
    /// The form's key: `new-team`, `team-CODE`, `new-queue`, `queue-CODE`, `new-product`, …
    form: String,
    state: FormState,
}

impl Refusal {
    fn of(
        form: impl Into<String>,
        fields: &super::Fields,
        e: AppError,
    ) -> Result<Self, ConsoleError> {
        let mut state = FormState {
            values: fields.0.iter().cloned().collect(),
            ..FormState::default()
        };
        match e {
            AppError::NotFound { what, id } => {
                let field = match what {
                    "team" => "team",
                    "queue" => "code",
                    "product" => "product",
                    _ => "",
                };
                if field.is_empty() {
                    state.general = Some(format!("no {what} {id:?}"));
                } else {
                    state
                        .errors
                        .insert(field.into(), format!("no {what} {id:?}"));
                }
            }
            e => state.refused(e)?,
        }
        Ok(Refusal {
            form: form.into(),
            state,
        })
    }

    /// The refusal's state if it belongs to this form, else an empty one.
    pub fn on(&self, form: &str) -> Option<&FormState> {
        (self.form == form).then_some(&self.state)
    }

    fn any(&self) -> bool {
        !self.form.is_empty()
    }
}

// ----- teams and queues -------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/teams.html")]
struct TeamsPage {
    c: Chrome,
    teams: Vec<TeamView>,
    /// Every team's code and name, for the new queue's team.
    all_teams: Vec<(String, String)>,
    /// The filter: a text in a team's or one of its queues' code or name.
    q: String,
    strategies: Vec<&'static str>,
    refusal: Refusal,
    empty: FormState,
}

impl TeamsPage {
    /// The state of a form: the refused one's, else empty.
    fn form(&self, key: &str) -> &FormState {
        self.refusal.on(key).unwrap_or(&self.empty)
    }

    fn team_form(&self, code: &str) -> &FormState {
        self.form(&format!("team-{code}"))
    }

    fn queue_form(&self, code: &str) -> &FormState {
        self.form(&format!("queue-{code}"))
    }
}

async fn teams_page(
    state: &AppState,
    v: Viewer,
    q: &HashMap<String, String>,
    refusal: Refusal,
) -> Result<Response, ConsoleError> {
    admin_only(&v)?;
    let all = TeamList::new(&team::teams(&state.store, Some(&v.actor)).await?).teams;
    let needle = super::needle(q);
    let all_teams = all
        .iter()
        .map(|t| (t.code.clone(), t.name.clone()))
        .collect();
    let teams = all
        .into_iter()
        .filter(|t| {
            super::holds(&needle, &[&t.code, &t.name])
                || t.queues
                    .iter()
                    .any(|qu| super::holds(&needle, &[&qu.code, &qu.name]))
        })
        .collect();
    let refused = refusal.any();
    let view = TeamsPage {
        c: v.chrome_done(
            "Teams and queues",
            "/admin/teams",
            q.get("done").map(String::as_str),
        ),
        teams,
        all_teams,
        q: needle,
        strategies: Strategy::ALL.iter().map(|s| s.as_str()).collect(),
        refusal,
        empty: FormState::default(),
    };
    page_or_refused(refused, &view)
}

async fn teams(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    teams_page(&state, v, &q, Refusal::default()).await
}

/// Ends a team or queue form: back to the page, or the page again with the refusal.
async fn after(
    state: &AppState,
    posted: Posted,
    form: String,
    done: Result<(), AppError>,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    match done {
        Ok(()) => Ok(to("/admin/teams?done=saved")),
        Err(e) => {
            let refusal = Refusal::of(form, &fields, e)?;
            teams_page(state, viewer, &HashMap::new(), refusal).await
        }
    }
}

async fn add_team(State(state): State<AppState>, posted: Posted) -> Result<Response, ConsoleError> {
    admin_only(&posted.viewer)?;
    let f = &posted.fields;
    let done = team::create_team(
        &state.store,
        Some(&posted.viewer.actor),
        &f.text("code"),
        &f.text("name"),
    )
    .await
    .map(drop);
    after(&state, posted, "new-team".into(), done).await
}

async fn rename_team(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    admin_only(&posted.viewer)?;
    let done = team::rename_team(
        &state.store,
        Some(&posted.viewer.actor),
        &code,
        &posted.fields.text("name"),
    )
    .await;
    after(&state, posted, format!("team-{code}"), done).await
}

async fn add_queue(
    State(state): State<AppState>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    admin_only(&posted.viewer)?;
    let f = &posted.fields;
    let code = f.text("code");
    let done = if code.trim().is_empty() {
        Err(AppError::Field {
            field: "code",
            reason: "a queue needs a code".into(),
        })
    } else {
        team::create_queue(
            &state.store,
            Some(&posted.viewer.actor),
            code.trim(),
            &f.text("name"),
            &f.text("team"),
            &f.text("strategy"),
            &f.text("skill"),
        )
        .await
        .map(drop)
    };
    after(&state, posted, "new-queue".into(), done).await
}

async fn change_queue(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    admin_only(&posted.viewer)?;
    let f = &posted.fields;
    let change = QueueChange {
        name: Some(f.text("name")),
        skill: Some(f.text("skill")),
        strategy: Some(f.text("strategy")),
    };
    let done = team::change_queue(&state.store, Some(&posted.viewer.actor), &code, &change)
        .await
        .map(drop);
    after(&state, posted, format!("queue-{code}"), done).await
}

// ----- products and their plans -----------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/products.html")]
struct ProductsPage {
    c: Chrome,
    products: Vec<ProductView>,
    /// The filter: a text in a product's code or name.
    q: String,
    form: FormState,
}

async fn products_page(
    state: &AppState,
    v: Viewer,
    q: &HashMap<String, String>,
    form: FormState,
) -> Result<Response, ConsoleError> {
    admin_only(&v)?;
    let needle = super::needle(q);
    let mut products: Vec<ProductView> = book::products(&state.store, &v.actor)
        .await?
        .products
        .into_iter()
        .filter(|p| super::holds(&needle, &[&p.code, &p.name]))
        .collect();
    match q.get("sort").map(String::as_str) {
        Some("name") => products.sort_by(|a, b| (&a.name, &a.code).cmp(&(&b.name, &b.code))),
        Some("loans") => products.sort_by(|a, b| b.loans.cmp(&a.loans).then(a.code.cmp(&b.code))),
        _ => products.sort_by(|a, b| a.code.cmp(&b.code)),
    }
    let refused = !form.errors.is_empty() || form.general.is_some();
    let view = ProductsPage {
        c: v.chrome_done(
            "Products",
            "/admin/products",
            q.get("done").map(String::as_str),
        ),
        products,
        q: needle,
        form,
    };
    page_or_refused(refused, &view)
}

async fn products(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    products_page(&state, v, &q, FormState::default()).await
}

/// Adds a product through the import (the same checks as `huifang import products`); a product
/// already there is refused rather than counted as unchanged.
async fn add_product(
    State(state): State<AppState>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    admin_only(&viewer)?;
    let mut form = FormState {
        values: fields.0.iter().cloned().collect(),
        ..FormState::default()
    };
    let code = fields.text("code").trim().to_string();
    let record = json!({
        "code": code,
        "name": fields.text("name").trim(),
        "grace_days": fields.text("grace_days").trim(),
        "penalty_rate_markup": fields.text("penalty_rate_markup").trim(),
    });
    let policy = crate::tasks::policy_in_force(&state).await?;
    let imported = import::import_from(
        &state.store,
        &policy,
        ImportFormat::Products,
        Source::Records(std::slice::from_ref(&record)),
    )
    .await;
    match imported {
        Ok(report) if report.inserted == 1 => return Ok(to("/admin/products?done=saved")),
        Ok(_) => form.general = Some(format!("product {code:?} exists already")),
        Err(AppError::Items(errors) | AppError::Rows(errors)) => {
            for e in errors {
                if e.column.is_empty() {
                    form.general = Some(e.reason);
                } else {
                    form.errors.insert(e.column, e.reason);
                }
            }
        }
        Err(e) => form.refused(e)?,
    }
    products_page(&state, viewer, &HashMap::new(), form).await
}

#[derive(Template)]
#[template(path = "console/document.html")]
struct DocumentPage {
    c: Chrome,
    /// What the document is, shown above it.
    heading: String,
    hint: &'static str,
    action: String,
    text: String,
    error: Option<String>,
    /// Other documents of the same kind: (link, label, whether it is this one).
    others: Vec<(String, String, bool)>,
}

fn product_links(all: &[ProductView], current: &str) -> Vec<(String, String, bool)> {
    std::iter::once((followup::DEFAULT_PRODUCT.to_string(), "*".to_string()))
        .chain(
            all.iter()
                .map(|p| (p.code.clone(), format!("{} {}", p.code, p.name))),
        )
        .map(|(code, label)| {
            let href = format!("/admin/products/{}/plan", code.replace('*', "%2A"));
            (href, label, code == current)
        })
        .collect()
}

async fn plan_page(
    state: &AppState,
    v: Viewer,
    code: &str,
    refused: Option<(String, String)>,
    done: Option<&str>,
) -> Result<Response, ConsoleError> {
    admin_only(&v)?;
    let all = book::products(&state.store, &v.actor).await?.products;
    if code != followup::DEFAULT_PRODUCT && !all.iter().any(|p| p.code == code) {
        return Err(ConsoleError::Api(crate::ApiError::NotFound(format!(
            "no product {code:?}"
        ))));
    }
    let (text, error) = match refused {
        Some((text, e)) => (text, Some(e)),
        None => (
            serde_json::to_string_pretty(&followup::show_plan(&state.store, Some(code)).await?)
                .unwrap_or_default(),
            None,
        ),
    };
    let is_refused = error.is_some();
    let view = DocumentPage {
        c: v.chrome_done("Follow-up plan", "/admin/products", done),
        heading: code.to_string(),
        hint: "A product without a plan of its own follows the default plan (*). Fields left out take the default plan's values. New tasks follow it from the next close.",
        action: format!("/admin/products/{}/plan", code.replace('*', "%2A")),
        text,
        error,
        others: product_links(&all, code),
    };
    page_or_refused(is_refused, &view)
}

async fn plan(
    State(state): State<AppState>,
    v: Viewer,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    plan_page(&state, v, &code, None, q.get("done").map(String::as_str)).await
}

async fn save_plan(
    State(state): State<AppState>,
    Path(code): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let text = fields.text("document");
    match followup::set_plan_as(&state.store, &viewer.actor, Some(&code), &text).await {
        Ok(_) => Ok(to(&format!(
            "/admin/products/{}/plan?done=saved",
            code.replace('*', "%2A")
        ))),
        Err(e @ (AppError::Invalid(_) | AppError::Field { .. })) => {
            plan_page(&state, viewer, &code, Some((text, e.to_string())), None).await
        }
        Err(e) => Err(e.into()),
    }
}

// ----- scripts ----------------------------------------------------------------------------------

fn script_links(kind: TaskKind, lang: &str) -> Vec<(String, String, bool)> {
    TaskKind::ALL
        .iter()
        .flat_map(|k| SCRIPT_LANGS.iter().map(move |l| (*k, *l)))
        .map(|(k, l)| {
            (
                format!("/admin/scripts?kind={k}&lang={l}"),
                format!("{} · {k} · {l}", k.zh()),
                k == kind && l == lang,
            )
        })
        .collect()
}

async fn script_page(
    state: &AppState,
    v: Viewer,
    kind: TaskKind,
    lang: &str,
    refused: Option<(String, String)>,
    done: Option<&str>,
) -> Result<Response, ConsoleError> {
    admin_only(&v)?;
    let (text, error) = match refused {
        Some((text, e)) => (text, Some(e)),
        None => {
            let shown = followup::show_script(&state.store, kind, lang).await?;
            (
                serde_json::to_string_pretty(&shown.questions).unwrap_or_default(),
                None,
            )
        }
    };
    let is_refused = error.is_some();
    let view = DocumentPage {
        c: v.chrome_done("Scripts", "/admin/scripts", done),
        heading: format!("{} · {kind} · {lang}", kind.zh()),
        hint: "The questions agents ask, in order: id, text, answer (yes_no, choice, number, money, date, text), the options of a choice, and the risk signal an answer raises. Tasks show it from now on; answers already recorded stay as they are.",
        action: format!("/admin/scripts/{kind}/{lang}"),
        text,
        error,
        others: script_links(kind, lang),
    };
    page_or_refused(is_refused, &view)
}

fn script_key(kind: &str, lang: &str) -> Result<(TaskKind, String), ConsoleError> {
    Ok((followup::script_named(kind, lang)?, lang.to_string()))
}

async fn scripts(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    let (kind, lang) = script_key(
        q.get("kind").map_or("welcome_call", String::as_str),
        q.get("lang").map_or("zh", String::as_str),
    )?;
    script_page(
        &state,
        v,
        kind,
        &lang,
        None,
        q.get("done").map(String::as_str),
    )
    .await
}

async fn save_script(
    State(state): State<AppState>,
    Path((kind, lang)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let (kind, lang) = script_key(&kind, &lang)?;
    let text = fields.text("document");
    match followup::set_script_as(&state.store, &viewer.actor, kind, &lang, &text).await {
        Ok(_) => Ok(to(&format!(
            "/admin/scripts?kind={kind}&lang={lang}&done=saved"
        ))),
        Err(AppError::Field { reason, .. }) => {
            script_page(&state, viewer, kind, &lang, Some((text, reason)), None).await
        }
        Err(e) => Err(e.into()),
    }
}

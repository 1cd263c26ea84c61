//! The administrator's users: every account (filtered, sorted, a page at a time), a new user,
//! and a change to an account (disable, enable, end sessions, revoke the API token, a new
//! password), each validated by the same use cases as the command line and the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::AppError;
use huifang_app::team::{self, Account, Role, UserInput};
use huifang_app::views::{AccountList, AccountView, ProfileRequest, TemplateView};

use super::work::{FormState, number};
use super::{Chrome, ConsoleError, Pager, Posted, Viewer, page_or_refused, query_of, to};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{name}", post(change))
        .route("/admin/users/{name}/profile", post(change_profile))
        .route("/admin/settings", get(settings))
        .route("/admin/settings/{key}", post(save_setting))
        .route(
            "/admin/templates/{event}/{lang}/{channel}",
            post(save_template),
        )
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<AccountView>,
    pager: Pager,
    roles: Vec<String>,
    /// Every team's code, for the team selects.
    teams: Vec<String>,
    filter_role: String,
    q: String,
    /// A refused change of one user's role, team or skills (`profile_of` names the user).
    form: FormState,
    /// A refused new user.
    new_form: FormState,
    /// What a refused form said that names no field.
    general: Option<String>,
}

async fn users_page(
    state: &AppState,
    v: Viewer,
    q: &HashMap<String, String>,
    form: FormState,
) -> Result<Response, ConsoleError> {
    let all = team::users(&state.store, Some(&v.actor)).await?;
    let filter_role = q
        .get("role")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let needle = super::needle(q);
    let mut rows: Vec<AccountView> = AccountList::new(&all)
        .users
        .into_iter()
        .filter(|u| filter_role.is_empty() || u.user.role == filter_role)
        .filter(|u| super::holds(&needle, &[&u.user.username, &u.user.display_name]))
        .collect();
    match q.get("sort").map(String::as_str) {
        Some("role") => rows.sort_by(|a, b| {
            (&a.user.role, &a.user.username).cmp(&(&b.user.role, &b.user.username))
        }),
        Some("team") => rows.sort_by(|a, b| {
            (&a.user.team, &a.user.username).cmp(&(&b.user.team, &b.user.username))
        }),
        _ => rows.sort_by(|a, b| a.user.username.cmp(&b.user.username)),
    }
    let query = query_of(&[
        ("role", Some(&filter_role)),
        ("q", Some(&needle)),
        ("sort", q.get("sort").map(String::as_str)),
    ]);
    let (users, pager) = Pager::slice(rows, number(q, "page"), query);
    let refused = !form.errors.is_empty() || form.general.is_some();
    let general = form.general.clone();
    let (form, new_form) = if form.values.contains_key("profile_of") {
        (form, FormState::default())
    } else {
        (FormState::default(), form)
    };
    let view = UsersPage {
        c: v.chrome_done("Users", "/admin/users", q.get("done").map(String::as_str)),
        users,
        pager,
        roles: Role::ALL.iter().map(|r| r.as_str().to_string()).collect(),
        teams: team::teams(&state.store, Some(&v.actor))
            .await?
            .into_iter()
            .map(|t| t.team.code)
            .collect(),
        filter_role,
        q: needle,
        form,
        new_form,
        general,
    };
    page_or_refused(refused, &view)
}

async fn users(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    users_page(&state, v, &q, FormState::default()).await
}

async fn add_user(State(state): State<AppState>, posted: Posted) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let mut form = FormState {
        values: fields.0.iter().cloned().collect(),
        ..FormState::default()
    };
    match fields.text("role").parse::<Role>() {
        Err(e) => {
            form.errors.insert("role".into(), e.to_string());
        }
        Ok(role) => {
            let input = UserInput {
                username: fields.text("username"),
                display_name: fields.text("display_name"),
                role,
                team: fields
                    .get("team")
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
                skills: fields
                    .text("skills")
                    .split([',', '，', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                password: Some(fields.get("password").unwrap_or_default().to_string()),
            };
            match team::create_user(&state.store, Some(&viewer.actor), &input).await {
                Ok(_) => return Ok(to("/admin/users?done=created")),
                Err(e) => form.refused(e)?,
            }
        }
    }
    users_page(&state, viewer, &HashMap::new(), form).await
}

async fn change(
    State(state): State<AppState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let mut form = FormState::default();
    let action = fields.text("action");
    let change = Account::parse(&action, fields.get("password").map(str::to_string));
    let done = match change {
        Ok(change) => team::change_account(&state.store, Some(&viewer.actor), &name, change).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(to("/admin/users?done=changed")),
        Err(e) => {
            form.refused(e)?;
            users_page(&state, viewer, &HashMap::new(), form).await
        }
    }
}

/// Changes a user's display name, role, team or skills; a refusal is shown on the users page
/// with the field it names.
async fn change_profile(
    State(state): State<AppState>,
    Path(name): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let mut form = FormState {
        values: fields.0.iter().cloned().collect(),
        ..FormState::default()
    };
    // the users page shows the refusal on this user's form
    form.values.insert("profile_of".into(), name.clone());
    // the form sends every field: a blank one is a blank value (no team, no skills)
    let request = ProfileRequest {
        display_name: Some(fields.text("display_name")),
        role: Some(fields.text("role")),
        team: Some(fields.text("team")),
        skills: Some(
            fields
                .text("skills")
                .split([',', '，', ' '])
                .map(str::to_string)
                .collect(),
        ),
    };
    let done = match request.to_profile() {
        Ok(p) => {
            team::change_account(
                &state.store,
                Some(&viewer.actor),
                &name,
                Account::Profile(p),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(to("/admin/users?done=changed")),
        Err(AppError::NotFound { what: "team", id }) => {
            form.errors.insert("team".into(), format!("no team {id:?}"));
            users_page(&state, viewer, &HashMap::new(), form).await
        }
        Err(e) => {
            form.refused(e)?;
            users_page(&state, viewer, &HashMap::new(), form).await
        }
    }
}

// ----- settings: the documents that configure the book --------------------------------------

/// A document of the settings page: its key, its title, its text and what was wrong with it.
pub struct SettingDoc {
    pub key: &'static str,
    pub title: &'static str,
    pub text: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    c: Chrome,
    docs: Vec<SettingDoc>,
    templates: Vec<TemplateView>,
    template_error: Option<(String, String)>,
    /// The servers and workers on the database and the daily close's progress.
    cluster: huifang_app::views::ClusterView,
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The settings page; `refused` puts a refused text back on its document with the reason.
async fn settings_page(
    state: &AppState,
    v: Viewer,
    done: Option<&str>,
    refused: Option<(&str, String, String)>,
    template_error: Option<(String, String)>,
) -> Result<Response, ConsoleError> {
    super::require(&v, v.actor.role.administers(), "change the settings")?;
    let policy = huifang_app::policy::load(&state.store).await?;
    let mut docs = vec![
        SettingDoc {
            key: "policy",
            title: "Servicing policy (buckets, classification, reminders, decision limits)",
            text: huifang_app::policy::to_text(&policy),
            error: None,
        },
        SettingDoc {
            key: "rules",
            title: "Warning rules",
            text: pretty(&huifang_app::rules::show(&state.store).await?),
            error: None,
        },
        SettingDoc {
            key: "contact-rules",
            title: "Contact rules",
            text: pretty(&huifang_app::contact::show_rules(&state.store).await?),
            error: None,
        },
        SettingDoc {
            key: "notify-rules",
            title: "Notification rules",
            text: pretty(&huifang_app::notify::show_rules(&state.store).await?),
            error: None,
        },
        SettingDoc {
            key: "assistant",
            title: "Follow-up assistant (flows, share, asks, wait)",
            text: pretty(&huifang_app::assistant::show_rules(&state.store, &v.actor).await?),
            error: None,
        },
        SettingDoc {
            key: "plan",
            title: "Follow-up plan (every product)",
            text: pretty(&huifang_app::followup::show_plan(&state.store, None).await?),
            error: None,
        },
    ];
    if let Some((key, text, error)) = refused
        && let Some(doc) = docs.iter_mut().find(|d| d.key == key)
    {
        doc.text = text;
        doc.error = Some(error);
    }
    let refused = docs.iter().any(|d| d.error.is_some()) || template_error.is_some();
    let view = SettingsPage {
        c: v.chrome_done("Settings", "/admin/settings", done),
        docs,
        templates: huifang_app::templates::list(&state.store).await?,
        template_error,
        cluster: huifang_app::cluster::view_as(&state.store, &v.actor, chrono::Utc::now()).await?,
    };
    page_or_refused(refused, &view)
}

async fn settings(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ConsoleError> {
    settings_page(&state, v, q.get("done").map(String::as_str), None, None).await
}

/// Saves one document, validated as the command line validates it; a refused one is shown
/// again with the reason, nothing saved.
async fn save_setting(
    State(state): State<AppState>,
    Path(key): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    super::require(
        &viewer,
        viewer.actor.role.administers(),
        "change the settings",
    )?;
    let text = fields.text("document");
    let store = &state.store;
    let actor = &viewer.actor;
    let saved: Result<(), AppError> = match key.as_str() {
        "policy" => huifang_app::policy::set(store, &text).await.map(drop),
        "rules" => huifang_app::rules::set_as(store, actor, &text)
            .await
            .map(drop),
        "contact-rules" => huifang_app::contact::set_rules(store, actor, &text)
            .await
            .map(drop),
        "notify-rules" => huifang_app::notify::set_rules(store, actor, &text)
            .await
            .map(drop),
        "assistant" => huifang_app::assistant::set_rules(store, actor, &text)
            .await
            .map(drop),
        "plan" => huifang_app::followup::set_plan(store, None, &text)
            .await
            .map(drop),
        _ => {
            return Err(ConsoleError::Api(crate::ApiError::NotFound(format!(
                "no setting {key:?}"
            ))));
        }
    };
    match saved {
        Ok(()) => Ok(to("/admin/settings?done=saved")),
        Err(
            e @ (AppError::Field { .. }
            | AppError::Refused { .. }
            | AppError::Invalid(_)
            | AppError::Conflict(_)),
        ) => {
            let key: &'static str = match key.as_str() {
                "policy" => "policy",
                "rules" => "rules",
                "contact-rules" => "contact-rules",
                "notify-rules" => "notify-rules",
                "assistant" => "assistant",
                _ => "plan",
            };
            settings_page(&state, viewer, None, Some((key, text, e.to_string())), None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Saves a message template (subject for email, body), validated as the command line does.
async fn save_template(
    State(state): State<AppState>,
    Path((event, lang, channel)): Path<(String, String, String)>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let saved = match huifang_app::templates::TemplateKey::parse(&event, &lang, &channel) {
        Ok(key) => {
            huifang_app::templates::set(
                &state.store,
                &viewer.actor,
                key,
                &fields.text("subject"),
                fields.get("body").unwrap_or_default(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(to("/admin/settings?done=saved")),
        Err(e @ (AppError::Field { .. } | AppError::Invalid(_) | AppError::Refused { .. })) => {
            let which = format!("{event}/{lang}/{channel}");
            settings_page(&state, viewer, None, None, Some((which, e.to_string()))).await
        }
        Err(e) => Err(e.into()),
    }
}

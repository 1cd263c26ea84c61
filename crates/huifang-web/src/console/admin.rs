//! The administrator's users: every account (filtered, sorted, a page at a time), a new user,
//! and a change to an account (disable, enable, end sessions, revoke the API token, a new
//! password), each validated by the same use cases as the command line and the API.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::team::{self, Account, Role, UserInput};
use huifang_app::views::{AccountList, AccountView};

use super::work::{FormState, number};
use super::{Chrome, ConsoleError, Pager, Posted, Viewer, page, page_with, query_of, to};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{name}", post(change))
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<AccountView>,
    pager: Pager,
    roles: Vec<String>,
    filter_role: String,
    q: String,
    form: FormState,
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
    let needle = q
        .get("q")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    let mut rows: Vec<AccountView> = AccountList::new(&all)
        .users
        .into_iter()
        .filter(|u| filter_role.is_empty() || u.user.role == filter_role)
        .filter(|u| {
            needle.is_empty()
                || u.user.username.to_lowercase().contains(&needle)
                || u.user.display_name.to_lowercase().contains(&needle)
        })
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
    let view = UsersPage {
        c: v.chrome_done("Users", "/admin/users", q.get("done").map(String::as_str)),
        users,
        pager,
        roles: Role::ALL.iter().map(|r| r.as_str().to_string()).collect(),
        filter_role,
        q: needle,
        form,
    };
    if refused {
        page_with(StatusCode::UNPROCESSABLE_ENTITY, &view)
    } else {
        page(&view)
    }
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
                team: fields.get("team").map(str::to_string),
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

//! Accounts and the security record: signing out; users, their accounts (disable, enable, end
//! sessions, revoke the API token, set a password) and API tokens, by an admin; the reveals of
//! personal data and the refused requests, for auditors.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use huifang_app::team::{self, Account, UserInput};
use huifang_app::views::{
    AccountChangeView, AccountList, AccountRequest, AccountView, DenialList, ErrorView, LogoutView,
    NewUserRequest, ProfileRequest, RevealList, TokenRequest, TokenView,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Authed, BearerToken, request};
use crate::tasks::{Params, params};
use crate::{ApiError, AppState};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(list_users, add_user))
        .routes(routes!(change_account))
        .routes(routes!(change_profile))
        .routes(routes!(issue_token))
        .routes(routes!(reveals))
        .routes(routes!(denials))
}

/// Signs out: the session of the bearer token ends at once.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The session ended (`ended` false for an API token, which an admin revokes)", body = LogoutView),
        (status = 401, description = "No valid token", body = ErrorView)
    )
)]
async fn logout(
    State(state): State<AppState>,
    Authed(_actor): Authed,
    BearerToken(token): BearerToken,
) -> Result<Json<LogoutView>, ApiError> {
    let ended = team::logout(&state.store, &token).await?;
    Ok(Json(LogoutView { ended }))
}

/// Every user, with whether they may sign in and their API token's expiry (the admin).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user", body = AccountList),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages users", body = ErrorView)
    )
)]
async fn list_users(
    State(state): State<AppState>,
    Authed(actor): Authed,
) -> Result<Json<AccountList>, ApiError> {
    let all = team::users(&state.store, Some(&actor)).await?;
    Ok(Json(AccountList::new(&all)))
}

/// Adds a user (the admin): password hashed with argon2id.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "auth",
    security(("bearer" = [])),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Added", body = AccountView),
        (status = 400, description = "A malformed body, an unknown role or team, a short password: the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages users", body = ErrorView),
        (status = 409, description = "The username is taken", body = ErrorView)
    )
)]
async fn add_user(
    State(state): State<AppState>,
    Authed(actor): Authed,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let req: NewUserRequest = request(body)?;
    let role = req
        .role
        .parse()
        .map_err(|e| ApiError::bad_request(format!("role: {e}")))?;
    team::create_user(
        &state.store,
        Some(&actor),
        &UserInput {
            username: req.username.clone(),
            display_name: req.display_name.unwrap_or_default(),
            role,
            team: req.team,
            skills: req.skills,
            password: Some(req.password),
        },
    )
    .await?;
    let all = team::users(&state.store, Some(&actor)).await?;
    let list = AccountList::new(&all);
    let added = list
        .users
        .into_iter()
        .find(|u| u.user.username == req.username.trim())
        .ok_or_else(|| ApiError::Internal("the added user is not found".into()))?;
    Ok((StatusCode::CREATED, Json(added)))
}

fn username(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(u)| u)
        .map_err(|_| ApiError::bad_request("the username in the path is malformed"))
}

/// Changes a user's account (the admin): `disable` (their sessions end and their API token is
/// revoked), `enable`, `end_sessions`, `revoke_token`, `set_password`.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/account",
    tag = "auth",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The user")),
    request_body = AccountRequest,
    responses(
        (status = 200, description = "Done", body = AccountChangeView),
        (status = 400, description = "A malformed body, an unknown action or a short password", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages users", body = ErrorView),
        (status = 404, description = "No such user", body = ErrorView),
        (status = 409, description = "An admin may not disable themself", body = ErrorView)
    )
)]
async fn change_account(
    State(state): State<AppState>,
    Authed(actor): Authed,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<AccountChangeView>, ApiError> {
    let name = username(name)?;
    let req: AccountRequest = request(body)?;
    let change = Account::parse(&req.action, req.password)?;
    let done = team::change_account(&state.store, Some(&actor), &name, change).await?;
    Ok(Json(AccountChangeView::from(done)))
}

/// Changes a user's display name, role, team or skills (the admin). A new role or team ends the
/// user's sessions and gives the tasks they hold back to their queues.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{username}",
    tag = "auth",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The user")),
    request_body = ProfileRequest,
    responses(
        (status = 200, description = "Changed", body = AccountChangeView),
        (status = 400, description = "A malformed body, an unknown role, a team the role may not have (or lacks): the field is named", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin manages users", body = ErrorView),
        (status = 404, description = "No such user or team", body = ErrorView),
        (status = 409, description = "An admin may not change their own role", body = ErrorView)
    )
)]
async fn change_profile(
    State(state): State<AppState>,
    Authed(actor): Authed,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<AccountChangeView>, ApiError> {
    let name = username(name)?;
    let req: ProfileRequest = request(body)?;
    let change = Account::Profile(req.to_profile()?);
    let done = team::change_account(&state.store, Some(&actor), &name, change).await?;
    Ok(Json(AccountChangeView::from(done)))
}

/// Issues a new API token for a user (the admin), replacing the old one; shown once.
#[utoipa::path(
    post,
    path = "/api/v1/users/{username}/token",
    tag = "auth",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The user")),
    request_body = TokenRequest,
    responses(
        (status = 201, description = "The new token (shown once) and its expiry", body = TokenView),
        (status = 400, description = "A malformed body or days out of 1 to 366", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only the admin issues API tokens", body = ErrorView),
        (status = 404, description = "No such user", body = ErrorView)
    )
)]
async fn issue_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let name = username(name)?;
    let req: TokenRequest = request(body)?;
    let (token, expires_at) =
        team::issue_api_token(&state.store, Some(&actor), &name, req.days).await?;
    Ok((StatusCode::CREATED, Json(TokenView { token, expires_at })))
}

/// The query of the security reports: one user's or everyone's, at most `limit`.
fn report_query(p: Params) -> Result<(Option<String>, usize), ApiError> {
    let m = params(p)?;
    let limit = crate::warnings::limit_param(m.get("limit"), 100, team::MAX_REPORT_ROWS)?;
    Ok((m.get("user").cloned(), limit))
}

/// Every reveal of a borrower's personal data, newest first (auditors).
#[utoipa::path(
    get,
    path = "/api/v1/audit/reveals",
    tag = "auth",
    security(("bearer" = [])),
    params(
        ("user" = Option<String>, Query, description = "Only this user's"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (1 to 1000; 100 by default)")
    ),
    responses(
        (status = 200, description = "The reveals", body = RevealList),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only auditors read the security record", body = ErrorView),
        (status = 404, description = "No such user", body = ErrorView)
    )
)]
async fn reveals(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<RevealList>, ApiError> {
    let (user, limit) = report_query(p)?;
    let rows = team::reveals(&state.store, Some(&actor), user.as_deref(), limit).await?;
    Ok(Json(RevealList::new(&rows)))
}

/// Every request refused for the caller's role or team, newest first (auditors).
#[utoipa::path(
    get,
    path = "/api/v1/audit/denials",
    tag = "auth",
    security(("bearer" = [])),
    params(
        ("user" = Option<String>, Query, description = "Only this user's"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (1 to 1000; 100 by default)")
    ),
    responses(
        (status = 200, description = "The refused requests", body = DenialList),
        (status = 400, description = "A malformed query string", body = ErrorView),
        (status = 401, description = "No valid token", body = ErrorView),
        (status = 403, description = "Only auditors read the security record", body = ErrorView),
        (status = 404, description = "No such user", body = ErrorView)
    )
)]
async fn denials(
    State(state): State<AppState>,
    Authed(actor): Authed,
    p: Params,
) -> Result<Json<DenialList>, ApiError> {
    let (user, limit) = report_query(p)?;
    let rows = team::denials(&state.store, Some(&actor), user.as_deref(), limit).await?;
    Ok(Json(DenialList::new(&rows)))
}

//! The web console (管理后台): server-rendered pages for every role, beside the API on the same
//! server. Chinese by default, English when the user chooses it (remembered per user).
//!
//! - Sign-in makes a console session (`team::console_login`): an HttpOnly, SameSite=Lax cookie
//!   (Secure when served over TLS), ending after 12 hours or 30 minutes without use.
//! - Every form carries a CSRF token derived from the session, checked by [`Posted`] before a
//!   handler sees the form; the sign-in form carries one tied to a cookie of its own.
//! - Pages call the same `huifang_app` use cases as the API, so they enforce the same role and
//!   team checks (a refusal is a 403 page, recorded as a denial by the guard), and show the
//!   same views (`huifang_app::views`): ID numbers and mobiles masked unless revealed.
//! - Templates (askama, `templates/console/`) and the stylesheet are compiled into the binary;
//!   charts are SVG drawn on the server (`chart.rs`); no script runs in the page.

mod admin;
mod audit;
mod book;
mod cases;
mod chart;
mod i18n;
mod reports;
mod risk;
mod setup;
mod vehicle;
mod work;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use huifang_app::AppError;
use huifang_app::team::{self, Actor, Role};
use sha2::{Digest, Sha256};

use crate::guard::Seen;
use crate::{ApiError, AppState};

pub use book::PortfolioCache;
pub use i18n::Lang;

/// The session cookie.
const COOKIE: &str = "huifang_session";
/// The sign-in form's own CSRF cookie (there is no session yet to derive a token from).
const LOGIN_COOKIE: &str = "huifang_login";

/// What the console's pages may load: styles from the server itself, images inline (SVG charts
/// are elements of the page); no script, no frame, forms posted only back to the server.
const CONSOLE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("../../templates/console/console.css");

/// The console's routes (HTML), merged beside `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/lang", post(language))
        .route("/console.css", get(stylesheet))
        .merge(work::routes())
        .merge(risk::routes())
        .merge(audit::routes())
        .merge(admin::routes())
        .merge(setup::routes())
        .merge(book::routes())
        .merge(reports::routes())
        .merge(cases::routes())
        .merge(vehicle::routes())
}

// ----- the signed-in user --------------------------------------------------------------------

/// The signed-in user of a page: who they are, their language and the CSRF token of their
/// session.
pub struct Viewer {
    pub actor: Actor,
    pub lang: Lang,
    csrf: String,
    token: String,
}

impl Viewer {
    /// The page's frame (menu, user, language switch) titled `title` (English; translated).
    pub fn chrome(&self, title: &str, at: &'static str) -> Chrome {
        let role = self.actor.role;
        let has_team = self.actor.user.user.team_id.is_some();
        let nav = menu(role, has_team)
            .into_iter()
            .map(|(href, label)| NavItem {
                href,
                label: self.lang.t(label),
                active: href == at,
            })
            .collect();
        Chrome {
            lang: self.lang,
            title: self.lang.t(title).to_string(),
            user: self.actor.user.user.display_name.clone(),
            username: self.actor.user.user.username.clone(),
            role: match self.lang {
                Lang::Zh => role.zh().to_string(),
                Lang::En => role.as_str().replace('_', " "),
            },
            csrf: self.csrf.clone(),
            back: at,
            nav,
            flash: None,
        }
    }

    /// The chrome with a message of what the last form did (`done`, English; translated).
    pub fn chrome_done(&self, title: &str, at: &'static str, done: Option<&str>) -> Chrome {
        let mut c = self.chrome(title, at);
        c.flash = done.map(|d| self.lang.t(done_message(d)).to_string());
        c
    }
}

/// Refuses a page to a role without the core's permission for it (a 403 page, recorded as a
/// denial).
pub fn require(v: &Viewer, allowed: bool, what: &str) -> Result<(), ConsoleError> {
    if allowed {
        Ok(())
    } else {
        Err(ConsoleError::Api(ApiError::Forbidden(format!(
            "{} may not {what}",
            v.actor.name()
        ))))
    }
}

/// The CSRF token of a session: SHA-256 of a label and the session token, which only the
/// session's browser holds (the cookie is HttpOnly, and another site cannot read the page).
fn csrf_of(token: &str) -> String {
    hex::encode(Sha256::digest(
        format!("huifang-console-csrf\0{token}").as_bytes(),
    ))
}

/// Whether two tokens are equal, comparing every byte.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie's value from the request's Cookie headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ConsoleError> {
        let ended = if parts.method == Method::GET {
            ConsoleError::SignIn
        } else {
            ConsoleError::Expired
        };
        let Some(token) = cookie(&parts.headers, COOKIE).map(str::to_string) else {
            return Err(ended);
        };
        let (actor, lang) = match team::console_authenticate(
            &state.store,
            &token,
            state.guard.console_idle(),
        )
        .await
        {
            Ok(found) => found,
            Err(AppError::Unauthenticated(_)) => return Err(ended),
            Err(e) => return Err(e.into()),
        };
        if let Some(seen) = parts.extensions.get::<Seen>() {
            seen.caller(&actor);
        }
        Ok(Viewer {
            actor,
            lang: Lang::parse(&lang),
            csrf: csrf_of(&token),
            token,
        })
    }
}

/// A form sent by the signed-in user, its CSRF token checked: a wrong or missing token is
/// refused before the handler runs, so nothing changes.
pub struct Posted {
    pub viewer: Viewer,
    pub fields: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ConsoleError> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let fields = Fields::read(req, state).await?;
        if !fields
            .get("csrf")
            .is_some_and(|t| same_token(t, &viewer.csrf))
        {
            return Err(ConsoleError::Csrf);
        }
        Ok(Posted { viewer, fields })
    }
}

/// A form's fields, in the order sent (a name may repeat).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    async fn read(req: Request, state: &AppState) -> Result<Fields, ConsoleError> {
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|e| ConsoleError::Api(ApiError::bad_request(e.body_text())))?;
        Ok(Fields(pairs))
    }

    /// A field's value, trimmed; none when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A field's value, trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// The fields whose name starts with `prefix`, the prefix taken off.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter_map(move |(k, v)| {
            k.strip_prefix(prefix)
                .map(|rest| (rest, v.trim()))
                .filter(|(_, v)| !v.is_empty())
        })
    }
}

// ----- the frame of every page ---------------------------------------------------------------

/// One entry of the menu.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What every page's frame shows.
pub struct Chrome {
    pub lang: Lang,
    pub title: String,
    pub user: String,
    pub username: String,
    pub role: String,
    pub csrf: String,
    /// Where the language switch comes back to.
    pub back: &'static str,
    pub nav: Vec<NavItem>,
    pub flash: Option<String>,
}

impl Chrome {
    /// A text of the page in the user's language (the English text is the key).
    pub fn t<'a>(&self, en: &'a str) -> &'a str {
        self.lang.t(en)
    }

    /// A number of loans or tasks in Chinese or English digit grouping (万 in Chinese from
    /// 100,000).
    pub fn count(&self, n: &i64) -> String {
        i18n::count(self.lang, *n)
    }

    /// An amount of money ("1234567.89") as the language writes it: 123.46万 or 1,234,567.89.
    pub fn money(&self, amount: &str) -> String {
        i18n::money(self.lang, amount)
    }
}

/// The menu of a role: what its permissions (the core's) let it use; a queue for those who
/// work tasks in a team.
fn menu(role: Role, has_team: bool) -> Vec<(&'static str, &'static str)> {
    let mut items = Vec::new();
    if role.works_tasks() && has_team {
        items.push(("/queue", "My queue"));
    }
    if role.reads_team_stats() {
        items.push(("/team", "Team"));
    }
    if role.reviews_quality() {
        items.push(("/team/reviews", "Quality review"));
    }
    if role.reads_loans() {
        items.push(("/dashboard", "Dashboard"));
        items.push(("/warnings", "Warnings"));
        items.push(("/loans", "Loans"));
        items.push(("/reports", "Reports"));
    }
    if role.reads_loans() || role.works_cases() {
        items.push(("/cases", "Cases"));
    }
    if role.audits() {
        items.push(("/ledger", "Ledger"));
        items.push(("/audit/locations", "Location views"));
    }
    if role.administers() {
        items.push(("/admin/users", "Users"));
        items.push(("/admin/teams", "Teams and queues"));
        items.push(("/admin/products", "Products"));
        items.push(("/admin/scripts", "Scripts"));
        items.push(("/admin/settings", "Settings"));
    }
    items
}

/// The page a role lands on after signing in.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::Agent | Role::Collector => "/queue",
        Role::TeamLead => "/team",
        Role::RiskOfficer => "/warnings",
        Role::Auditor => "/ledger",
        Role::Admin => "/admin/users",
    }
}

/// The message a page shows after a form (`?done=…`), English (translated by the caller).
fn done_message(done: &str) -> &'static str {
    match done {
        "recorded" => "The outcome is recorded.",
        "reassigned" => "The task is reassigned.",
        "acknowledged" => "The warning is acknowledged.",
        "actioned" => "The action is recorded.",
        "resolved" => "The warning is resolved.",
        "decided" => "The decision is recorded.",
        "approved" => "The decision is approved and applied.",
        "created" => "The user is created.",
        "changed" => "The account is changed.",
        "nothing" => "There is no task to take now.",
        "reviewed" => "The review is recorded.",
        "saved" => "The settings are saved.",
        "opened" => "The case is opened.",
        "stepped" => "The step is recorded.",
        _ => "Done.",
    }
}

/// A page as an answer: HTML, never cached, with the console's content policy.
pub fn page(template: &impl Template) -> Result<Response, ConsoleError> {
    page_with(StatusCode::OK, template)
}

/// A page with a form: 422 when the form was refused (shown again with its errors), else 200.
pub fn page_or_refused(refused: bool, template: &impl Template) -> Result<Response, ConsoleError> {
    if refused {
        page_with(StatusCode::UNPROCESSABLE_ENTITY, template)
    } else {
        page(template)
    }
}

/// A page with its status (a form shown again with its errors is 422).
pub fn page_with(status: StatusCode, template: &impl Template) -> Result<Response, ConsoleError> {
    let html = template
        .render()
        .map_err(|e| ConsoleError::Api(ApiError::Internal(format!("a page failed: {e}"))))?;
    Ok(html_answer(status, html))
}

fn html_answer(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// After a form: back to a page (303, so the browser asks for it with GET).
pub fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// A path inside the console to come back to, or none: only local paths, never another site.
fn local_path(path: Option<&str>) -> Option<&str> {
    path.filter(|p| p.starts_with('/') && !p.starts_with("//") && !p.contains('\\'))
}

// ----- errors --------------------------------------------------------------------------------

/// Why a page cannot be shown.
#[derive(Debug)]
pub enum ConsoleError {
    /// A page asked for without a session: to the sign-in page.
    SignIn,
    /// A form sent after the session ended: a page that says so, nothing changed.
    Expired,
    /// A form without this session's CSRF token: a page that says so, nothing changed.
    Csrf,
    /// A refusal or failure of the application, as the API would answer it.
    Api(ApiError),
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    title_zh: &'static str,
    title_en: &'static str,
    message: String,
    link: &'static str,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title_zh, title_en, message, link, answered) = match self {
            ConsoleError::SignIn => return to("/login"),
            ConsoleError::Expired => (
                StatusCode::UNAUTHORIZED,
                "会话已结束",
                "Your session has ended",
                "请重新登录；这次提交没有改变任何内容。 Sign in again: nothing was changed by this form."
                    .to_string(),
                "/login",
                None,
            ),
            ConsoleError::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效",
                "This form is no longer valid",
                "表单的安全令牌不对（可能来自其他网站或旧页面）；没有改变任何内容。 The form's security token is wrong (another site, or an old page): nothing was changed."
                    .to_string(),
                "/",
                None,
            ),
            ConsoleError::Api(e) => {
                let answered = e.answered();
                let (zh, en) = match answered.status {
                    StatusCode::FORBIDDEN => ("无权访问", "Not allowed"),
                    StatusCode::NOT_FOUND => ("找不到", "Not found"),
                    StatusCode::CONFLICT => ("无法执行", "Cannot be done now"),
                    StatusCode::TOO_MANY_REQUESTS => ("尝试次数过多", "Too many attempts"),
                    s if s.is_client_error() => ("输入有误", "Invalid input"),
                    _ => ("出错了", "Something went wrong"),
                };
                (
                    answered.status,
                    zh,
                    en,
                    answered.message.clone(),
                    "/",
                    Some(answered),
                )
            }
        };
        let html = ErrorPage {
            title_zh,
            title_en,
            message,
            link,
        }
        .render()
        .unwrap_or_else(|_| format!("{title_zh} / {title_en}"));
        let response = html_answer(status, html);
        match answered {
            Some(a) => a.mark(response),
            None => response,
        }
    }
}

// ----- sign-in, sign-out, language -----------------------------------------------------------

async fn home(viewer: Viewer) -> Response {
    to(home_of(viewer.actor.role))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    lang: Lang,
    csrf: String,
    username: String,
    error: Option<String>,
}

impl LoginPage {
    pub fn t<'a>(&self, en: &'a str) -> &'a str {
        self.lang.t(en)
    }
}

/// Whether the request came over TLS (directly, or through a proxy that says so).
fn over_tls(headers: &HeaderMap, state: &AppState) -> bool {
    state.guard.secure_cookies()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A Set-Cookie value: HttpOnly, SameSite=Lax, the whole site, Secure over TLS.
fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn lang_of(headers: &HeaderMap) -> Lang {
    let wants_english = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("en"));
    if wants_english { Lang::En } else { Lang::Zh }
}

async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = team::new_token();
    let form = LoginPage {
        lang: lang_of(&headers),
        csrf: csrf_of(&token),
        username: String::new(),
        error: None,
    };
    let mut response = page(&form).unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &token, None, over_tls(&headers, &state)),
    );
    response
}

async fn login(State(state): State<AppState>, req: Request) -> Result<Response, ConsoleError> {
    let headers = req.headers().clone();
    let secure = over_tls(&headers, &state);
    let fields = Fields::read(req, &state).await?;
    let expected = cookie(&headers, LOGIN_COOKIE).map(csrf_of);
    let sent = fields.get("csrf");
    if !matches!((expected.as_deref(), sent), (Some(e), Some(s)) if same_token(e, s)) {
        return Err(ConsoleError::Csrf);
    }
    let username = fields.text("username");
    let password = fields.get("password").unwrap_or_default();
    match team::console_login(
        &state.store,
        &username,
        password,
        state.guard.console_idle(),
    )
    .await
    {
        Ok((token, actor)) => {
            let mut response = to(home_of(actor.role));
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(COOKIE, &token, Some(team::SESSION_HOURS * 3600), secure),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", Some(0), secure),
            );
            Ok(response)
        }
        Err(e @ (AppError::Unauthenticated(_) | AppError::Locked(_))) => {
            let lang = lang_of(&headers);
            let (status, message) = match e {
                AppError::Locked(_) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed sign-ins of this username: try again later.",
                ),
                _ => (StatusCode::UNAUTHORIZED, "Wrong username or password."),
            };
            let form = LoginPage {
                lang,
                csrf: sent.unwrap_or_default().to_string(),
                username,
                error: Some(lang.t(message).to_string()),
            };
            page_with(status, &form)
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, posted: Posted) -> Response {
    if let Err(e) = team::logout(&state.store, &posted.viewer.token).await {
        tracing::error!(error = %e, "cannot end a console session");
    }
    let mut response = to("/login");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, "", Some(0), over_tls(&headers, &state)),
    );
    response
}

async fn language(State(state): State<AppState>, posted: Posted) -> Result<Response, ConsoleError> {
    let lang = posted.fields.text("lang");
    team::set_language(&state.store, &posted.viewer.actor, &lang).await?;
    let back = local_path(posted.fields.get("back")).unwrap_or("/");
    Ok(to(back))
}

async fn stylesheet() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

// ----- lists: pages and sorting --------------------------------------------------------------

/// Rows per page of the console's tables.
pub const PAGE_ROWS: usize = 50;

/// One page of a list and the links to the others.
pub struct Pager {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    /// The query string of every other parameter, to which `page=N` is added.
    pub query: String,
}

impl Pager {
    /// The page `asked` (from 1) of `rows`, sliced.
    pub fn slice<T>(rows: Vec<T>, asked: Option<usize>, query: String) -> (Vec<T>, Pager) {
        let total = rows.len();
        let pages = total.div_ceil(PAGE_ROWS).max(1);
        let page = asked.unwrap_or(1).clamp(1, pages);
        let shown = rows
            .into_iter()
            .skip((page - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .collect();
        (
            shown,
            Pager {
                page,
                pages,
                total,
                query,
            },
        )
    }

    pub fn prev(&self) -> Option<usize> {
        (self.page > 1).then(|| self.page - 1)
    }

    pub fn next(&self) -> Option<usize> {
        (self.page < self.pages).then(|| self.page + 1)
    }
}

/// A list's text filter (`?q=`), trimmed and in lower case; empty when there is none.
pub fn needle(q: &std::collections::HashMap<String, String>) -> String {
    q.get("q")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default()
}

/// Whether one of the texts holds the filter, case aside (an empty filter: every text).
pub fn holds(needle: &str, texts: &[&str]) -> bool {
    needle.is_empty() || texts.iter().any(|t| t.to_lowercase().contains(needle))
}

/// A query string of the pairs whose value is set (for links that keep the filters).
pub fn query_of(pairs: &[(&str, Option<&str>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            v.filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

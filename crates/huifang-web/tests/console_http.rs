//! The web console over a real server on 127.0.0.1, as a browser talks to it (forms, cookies,
//! redirects), on both backends: sign-in with its own CSRF token and the session cookie's flags;
//! a wrong CSRF token, an expired session and a forged task id each answered with a clear page
//! and nothing changed; an outcome refused on its field, then recorded; a team lead's reassign;
//! an admin's disable ending the user's session; the language remembered per user; every form
//! field of every page labelled; the same role checks as the API (a refusal recorded).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "../../huifang-app/tests/support/team_fixture.rs"]
mod support;

use std::time::Duration;

use huifang_app::team;
use huifang_store::Store;
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use support::{PASSWORD, book, counts, task};

/// A browser's view of the console: no redirect followed, the session cookie carried.
struct Console {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    /// Sent as X-Forwarded-Proto when set.
    proto: Option<&'static str>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The value of a Set-Cookie for `name` (the whole header).
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The page's CSRF token (the first form's).
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Console {
    async fn start(store: &Store, config: huifang_web::HttpConfig) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(huifang_web::serve_with(store.clone(), listener, config));
        format!("http://{addr}")
    }

    fn new(base: &str) -> Console {
        Console {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            proto: None,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, extra_cookie: Option<&str>) -> Answer {
        let mut cookies: Vec<String> = self.cookie.iter().cloned().collect();
        cookies.extend(extra_cookie.map(str::to_string));
        let mut req = req;
        if !cookies.is_empty() {
            req = req.header("Cookie", cookies.join("; "));
        }
        if let Some(p) = self.proto {
            req = req.header("X-Forwarded-Proto", p);
        }
        let resp = req.send().await.unwrap();
        Answer {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(format!("{}{path}", self.base)), None)
            .await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_with(path, fields, None).await
    }

    async fn post_with(&self, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> Answer {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        self.send(req, cookie).await
    }

    /// Signs in through the sign-in form; the answer to the form.
    async fn sign_in(&mut self, username: &str, password: &str) -> Answer {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK);
        let login_cookie = page.set_cookie("huifang_login").expect("a sign-in cookie");
        let pair = login_cookie.split(';').next().unwrap().to_string();
        let csrf = page.csrf();
        let answer = self
            .post_with(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("username", username),
                    ("password", password),
                ],
                Some(&pair),
            )
            .await;
        if let Some(c) = answer.set_cookie("huifang_session") {
            self.cookie = Some(c.split(';').next().unwrap().to_string());
        }
        answer
    }

    async fn signed_in(base: &str, username: &str) -> Console {
        let mut c = Console::new(base);
        let a = c.sign_in(username, PASSWORD).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        c
    }
}

/// A form refused on one of its fields: 422, the form shown again with the field's error.
fn refused_on(answer: &Answer, field: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains(&format!("id=\"{field}-error\"")),
        "{field}: {}",
        answer.body
    );
}

/// Whether a page lists a task (a row of the queue).
fn lists(page: &Answer, task: huifang_core::TaskId) -> bool {
    page.body.contains(&format!("data-task=\"{}\"", task.get()))
}

/// Every visible form field of a page has a label naming its id; how many fields there are.
fn assert_labelled(page: &str, html: &str) -> usize {
    let mut rest = html;
    let mut fields = 0;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        let name = tag.split_whitespace().next().unwrap_or_default();
        if !matches!(name, "input" | "select" | "textarea") || tag.contains("type=\"hidden\"") {
            continue;
        }
        fields += 1;
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{page}: a field without an id: <{tag}>"));
        assert!(
            html.contains(&format!("<label for=\"{id}\"")),
            "{page}: the field {id:?} has no label"
        );
    }
    fields
}

on_both!(
    the_console_signs_in_refuses_forged_forms_and_records_what_the_forms_say,
    an_idle_session_ends_and_its_forms_change_nothing,
    an_admin_sets_up_people_teams_queues_products_plans_and_scripts
);

async fn the_console_signs_in_refuses_forged_forms_and_records_what_the_forms_say(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 3).await;
    huifang_app::rules::seed_default(&store).await.unwrap();
    // contacts at any hour: the test runs whenever it runs (the hours have tests of their own)
    let admin = team::actor(&store, "admin").await.unwrap();
    let rules = r#"{"utc_offset_minutes": 480, "hours": {"from": "00:00", "until": "24:00"},
                    "max_connected_collection_calls": 3,
                    "channel_caps": {"sms": 100, "email": 100, "wechat": 100}}"#;
    huifang_app::contact::set_rules(&store, &admin, rules)
        .await
        .unwrap();
    let ours = task(&store, 1, "welcome", "followup", "2026-03-20").await;
    let second = task(&store, 2, "welcome", "followup", "2026-03-19").await;
    let theirs = task(&store, 3, "collect", "early_collection", "2026-03-20").await;
    let base = Console::start(&store, huifang_web::HttpConfig::default()).await;

    // --- sign-in: a wrong CSRF token is refused before the password is looked at
    let mut browser = Console::new(&base);
    let page = browser.get("/login").await;
    assert_eq!(assert_labelled("/login", &page.body), 2);
    let pair = page
        .set_cookie("huifang_login")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let forged = browser
        .post_with(
            "/login",
            &[("csrf", "0000"), ("username", "a1"), ("password", PASSWORD)],
            Some(&pair),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("表单已失效"), "{}", forged.body);
    assert!(forged.set_cookie("huifang_session").is_none());
    // a wrong password is said on the form, in the page's language
    let wrong = browser.sign_in("a1", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("用户名或密码错误"), "{}", wrong.body);
    // the right one: the agent's home, an HttpOnly SameSite=Lax cookie, not Secure over HTTP
    let ok = browser.sign_in("a1", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), "/queue");
    let cookie = ok.set_cookie("huifang_session").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    let mut tls = Console::new(&base);
    tls.proto = Some("https");
    let over_tls = tls.sign_in("a2", PASSWORD).await;
    assert!(
        over_tls
            .set_cookie("huifang_session")
            .unwrap()
            .contains("; Secure"),
        "behind a TLS proxy the cookie is Secure"
    );

    // --- my queue: the team's open tasks, never another team's; the console's headers
    let queue = browser.get("/queue").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert_eq!(queue.headers["cache-control"], "no-store");
    let csp = queue.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(lists(&queue, ours));
    assert!(lists(&queue, second));
    assert!(!lists(&queue, theirs));
    assert!(queue.body.contains("我的队列"), "Chinese by default");
    assert_labelled("/queue", &queue.body);
    let overdue = browser.get("/queue?view=overdue").await;
    assert!(lists(&overdue, second));
    assert!(!lists(&overdue, ours));

    // --- a forged task id: another team's task is a 403 page, recorded for auditors
    let forged = browser.get(&format!("/tasks/{}", theirs.get())).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(forged.body.contains("无权访问"), "{}", forged.body);
    let auditor = team::actor(&store, "audit").await.unwrap();
    let denials = team::denials(&store, Some(&auditor), Some("a1"), 10)
        .await
        .unwrap();
    assert!(
        denials
            .iter()
            .any(|d| d.action == format!("GET /tasks/{}", theirs.get())),
        "{denials:?}"
    );

    // --- the task page: the borrower masked, the script as a form, every field labelled
    let page = browser.get(&format!("/tasks/{}", ours.get())).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(assert_labelled("/tasks/N", &page.body) >= 10);
    assert!(
        page.body.contains("id=\"script\""),
        "the welcome call's script"
    );
    assert!(!page.body.contains("110101"), "the ID number is masked");
    let csrf = page.csrf();
    let key = page
        .body
        .split("name=\"key\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let before = counts(&store).await;
    let outcome = format!("/tasks/{}/outcome", ours.get());

    // a wrong CSRF token changes nothing
    let forged = browser
        .post(
            &outcome,
            &[("csrf", "deadbeef"), ("key", &key), ("outcome", "reached")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("表单已失效"));
    assert_eq!(counts(&store).await, before);

    // a promise without its amount is refused on the amount field, nothing written
    let refused = browser
        .post(
            &outcome,
            &[
                ("csrf", &csrf),
                ("key", &key),
                ("outcome", "promise_to_pay"),
                ("date", "2026-03-25"),
            ],
        )
        .await;
    refused_on(&refused, "amount");
    assert!(
        refused.body.contains("value=\"2026-03-25\""),
        "the form keeps what was typed"
    );
    assert_eq!(counts(&store).await, before);

    // the promise with its amount: recorded once, the task leaves the queue
    let fields = [
        ("csrf", csrf.as_str()),
        ("key", key.as_str()),
        ("outcome", "promise_to_pay"),
        ("amount", "3000"),
        ("date", "2026-03-25"),
        ("notes", "下周一还款"),
    ];
    let done = browser.post(&outcome, &fields).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(done.location().starts_with("/queue?done=recorded"));
    let after = counts(&store).await;
    assert_eq!(after.interactions, before.interactions + 1);
    assert_eq!(after.promises, before.promises + 1);
    // the same form sent twice records once (its key)
    let again = browser.post(&outcome, &fields).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert_eq!(counts(&store).await, after);
    let queue = browser.get("/queue?done=recorded").await;
    assert!(!lists(&queue, ours));
    assert!(queue.body.contains("结果已记录"), "the flash message");

    // --- the language: English when chosen, remembered for the next sign-in
    let csrf = queue.csrf();
    let switched = browser
        .post(
            "/lang",
            &[("csrf", &csrf), ("lang", "en"), ("back", "/queue")],
        )
        .await;
    assert_eq!(switched.status, StatusCode::SEE_OTHER);
    assert_eq!(switched.location(), "/queue");
    let english = browser.get("/queue").await;
    assert!(english.body.contains("My queue") && english.body.contains("lang=\"en\""));
    let later = Console::signed_in(&base, "a1").await;
    assert!(later.get("/queue").await.body.contains("My queue"));
    let refused = browser
        .post(
            "/lang",
            &[("csrf", &csrf), ("lang", "fr"), ("back", "/queue")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // --- a team lead reassigns: the agent's queue changes
    let lead = Console::signed_in(&base, "lead_fu").await;
    let team_page = lead.get("/team").await;
    assert_eq!(team_page.status, StatusCode::OK, "{}", team_page.body);
    assert_labelled("/team", &team_page.body);
    let moved = lead
        .post(
            &format!("/tasks/{}/reassign", second.get()),
            &[("csrf", &team_page.csrf()), ("to", "a3")],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    // the lead reviews the quality of the agent's contact (质检): a score out of range is
    // refused on its field, then the review is recorded once
    let reviews = lead.get("/team/reviews?unreviewed=1").await;
    assert_eq!(reviews.status, StatusCode::OK, "{}", reviews.body);
    assert_labelled("/team/reviews", &reviews.body);
    let contact = reviews
        .body
        .split("data-contact=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let path = format!("/reviews/{contact}");
    let csrf = reviews.csrf();
    let bad = lead
        .post(
            &path,
            &[("csrf", &csrf), ("score", "120"), ("comment", "好")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("id=\"score-error\""), "{}", bad.body);
    let good = lead
        .post(
            &path,
            &[("csrf", &csrf), ("score", "85"), ("comment", "话术规范")],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
    let after = lead.get("/team/reviews").await;
    assert!(
        after.body.contains("<strong>85</strong> · 话术规范"),
        "{}",
        after.body
    );
    let twice = lead
        .post(
            &path,
            &[("csrf", &csrf), ("score", "60"), ("comment", "again")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("reviewed already"), "{}", twice.body);
    assert_eq!(
        browser.get("/team/reviews").await.status,
        StatusCode::FORBIDDEN
    );

    // the lead reveals a borrower for a reason, logged with it; without a reason, refused
    let page = lead.get(&format!("/tasks/{}", second.get())).await;
    assert!(
        page.body.contains("id=\"reveal-form\""),
        "a lead may reveal"
    );
    let masked = counts(&store).await.reveals;
    let refused = lead
        .post(
            &format!("/tasks/{}/reveal", second.get()),
            &[("csrf", &page.csrf()), ("reason", " ")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"reveal-reason-error\""));
    assert_eq!(counts(&store).await.reveals, masked);
    let revealed = lead
        .post(
            &format!("/tasks/{}/reveal", second.get()),
            &[("csrf", &page.csrf()), ("reason", "核对还款账户")],
        )
        .await;
    assert_eq!(revealed.status, StatusCode::OK, "{}", revealed.body);
    assert!(
        !revealed.body.contains("id=\"reveal-form\""),
        "shown in full"
    );
    let logged = team::reveals(&store, Some(&auditor), Some("lead_fu"), 1)
        .await
        .unwrap();
    assert_eq!(logged[0].reason, "核对还款账户");
    assert_eq!(logged[0].task_id, Some(second.get()));
    let a3 = Console::signed_in(&base, "a3").await;
    let a3_queue = a3.get("/queue").await;
    assert!(lists(&a3_queue, second));
    // an agent may not reassign: refused, nothing moved
    let csrf = a3_queue.csrf();
    let refused = a3
        .post(
            &format!("/tasks/{}/reassign", second.get()),
            &[("csrf", &csrf), ("to", "a1")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(lists(&a3.get("/queue").await, second));

    // --- pages of other roles: labelled, and refused to roles without the permission
    let risk = Console::signed_in(&base, "risk").await;
    for path in [
        "/warnings",
        "/dashboard",
        "/loans",
        "/loans/L1",
        "/reports",
        "/reports?name=roll-rates",
        "/reports?name=vintage",
        "/reports?name=collection",
        "/reports?name=warnings",
    ] {
        let p = risk.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
        assert_labelled(path, &p.body);
    }
    // the reports: a chart and the report's tables; a refused range named on the page; the
    // downloads as a workbook and as CSV; agents have no reports
    let delinquency = risk.get("/reports?name=delinquency").await;
    assert!(
        delinquency.body.contains("<svg class=\"chart\""),
        "{}",
        delinquency.body
    );
    assert!(delinquency.body.contains("M7+"));
    let refused = risk
        .get("/reports?name=vintage&from=2026-03-01&to=2026-02-01")
        .await;
    assert!(
        refused.body.contains("id=\"report-error\""),
        "{}",
        refused.body
    );
    let xlsx = risk
        .get("/reports/export?name=delinquency&format=xlsx")
        .await;
    assert_eq!(
        xlsx.headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let csv = risk.get("/reports/export?name=collection&format=csv").await;
    assert!(
        csv.body.starts_with("channel,attempts,reached,right_party"),
        "{}",
        csv.body
    );
    assert_eq!(a3.get("/reports").await.status, StatusCode::FORBIDDEN);
    // a legal case opened from a warning's page, then worked by a collector
    let board = risk.get("/warnings").await;
    let warning = board
        .body
        .split("href=\"/warnings/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let wpage = risk.get(&format!("/warnings/{warning}")).await;
    assert_labelled("/warnings/N", &wpage.body);
    let wloan = wpage
        .body
        .split("action=\"/loans/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // a restructure previewed: the new schedule shown, nothing recorded
    let decisions_before = huifang_app::decisions::list(
        &store,
        &team::actor(&store, "risk").await.unwrap(),
        Some(&wloan),
    )
    .await
    .unwrap()
    .len();
    let previewed = risk
        .post(
            &format!("/loans/{wloan}/decisions"),
            &[
                ("csrf", &wpage.csrf()),
                ("warning", &warning),
                ("kind", "restructure"),
                ("annual_rate", "0.05"),
                ("term_months", "24"),
                ("method", "annuity"),
                ("reason", "收入下降"),
                ("preview", "1"),
            ],
        )
        .await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    assert!(
        previewed.body.contains("id=\"preview-schedule\""),
        "{}",
        previewed.body
    );
    assert_eq!(
        huifang_app::decisions::list(
            &store,
            &team::actor(&store, "risk").await.unwrap(),
            Some(&wloan)
        )
        .await
        .unwrap()
        .len(),
        decisions_before
    );
    let no_reason = risk
        .post(
            &format!("/loans/{wloan}/cases"),
            &[
                ("csrf", &wpage.csrf()),
                ("kind", "legal"),
                ("warning", &warning),
            ],
        )
        .await;
    assert_eq!(
        no_reason.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_reason.body
    );
    let opened = risk
        .post(
            &format!("/loans/{wloan}/cases"),
            &[
                ("csrf", &wpage.csrf()),
                ("kind", "legal"),
                ("reason", "逾期不还"),
                ("warning", &warning),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let case_path = opened.location().split('?').next().unwrap().to_string();
    let collector = Console::signed_in(&base, "c1").await;
    let case_page = collector.get(&case_path).await;
    assert_eq!(case_page.status, StatusCode::OK, "{}", case_page.body);
    assert_labelled("/cases/N", &case_page.body);
    let stepped = collector
        .post(
            &format!("{case_path}/steps"),
            &[
                ("csrf", &case_page.csrf()),
                ("stage", "judgment"),
                ("note", "胜诉"),
            ],
        )
        .await;
    assert_eq!(stepped.status, StatusCode::SEE_OTHER, "{}", stepped.body);
    assert!(risk.get(&case_path).await.body.contains("已判决"));
    assert!(risk.get("/cases").await.body.contains(&case_path));
    assert_eq!(browser.get("/cases").await.status, StatusCode::FORBIDDEN);

    let l1 = risk.get("/loans/L1").await;
    assert!(
        l1.body.contains("id=\"promises\"") && l1.body.contains("3,000.00"),
        "the promise on the 360° view"
    );
    assert!(
        l1.body.contains(&format!("href=\"/tasks/{}\"", ours.get())),
        "the loan's tasks"
    );
    let audit = Console::signed_in(&base, "audit").await;
    let ledger = audit.get("/ledger").await;
    assert_eq!(ledger.status, StatusCode::OK, "{}", ledger.body);
    assert_labelled("/ledger", &ledger.body);
    let verified = audit
        .post("/ledger/verify", &[("csrf", &ledger.csrf())])
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert!(verified.body.contains("日志完整无误"), "{}", verified.body);
    assert_eq!(a3.get("/ledger").await.status, StatusCode::FORBIDDEN);
    assert_eq!(a3.get("/dashboard").await.status, StatusCode::FORBIDDEN);
    assert_eq!(a3.get("/loans/L1").await.status, StatusCode::FORBIDDEN);
    assert_eq!(risk.get("/queue").await.status, StatusCode::FORBIDDEN);

    // --- an admin disables a user: their session ends at once, their sign-in is refused
    let admin = Console::signed_in(&base, "admin").await;
    let users = admin.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    assert!(assert_labelled("/admin/users", &users.body) >= 6);
    let disabled = admin
        .post(
            "/admin/users/a3",
            &[("csrf", &users.csrf()), ("action", "disable")],
        )
        .await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER, "{}", disabled.body);
    let gone = a3.get("/queue").await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(gone.location(), "/login");
    let mut again = Console::new(&base);
    assert_eq!(
        again.sign_in("a3", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // a new user with a short password is refused on the password field
    let short = admin
        .post(
            "/admin/users",
            &[
                ("csrf", &users.csrf()),
                ("username", "newbie"),
                ("display_name", "新人"),
                ("role", "agent"),
                ("team", "fu"),
                ("password", "short"),
            ],
        )
        .await;
    refused_on(&short, "password");

    // --- the settings: each document validated as the command line does; a refused one is
    // shown again with its reason and nothing is saved
    let settings = admin.get("/admin/settings").await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    assert!(assert_labelled("/admin/settings", &settings.body) >= 5);
    // the servers and workers on the database: none has a heartbeat here (the test serves in
    // its own process), and no close has been shared yet
    assert!(
        settings.body.contains("id=\"workers\""),
        "{}",
        settings.body
    );
    assert!(
        settings
            .body
            .contains(r#"<p class="hint" id="close-progress">尚无多进程日终。</p>"#),
        "{}",
        settings.body
    );
    let rules_before = huifang_app::rules::show(&store).await.unwrap();
    let broken = admin
        .post(
            "/admin/settings/rules",
            &[("csrf", &settings.csrf()), ("document", "{\"rules\": [")],
        )
        .await;
    assert_eq!(
        broken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        broken.body
    );
    assert!(
        broken.body.contains("id=\"error-rules\""),
        "{}",
        broken.body
    );
    assert_eq!(
        huifang_app::rules::show(&store).await.unwrap(),
        rules_before
    );
    let policy = huifang_app::policy::to_text(&huifang_app::policy::load(&store).await.unwrap())
        .replace("\"bucket_days\": 30", "\"bucket_days\": 0");
    let refused = admin
        .post(
            "/admin/settings/policy",
            &[("csrf", &settings.csrf()), ("document", &policy)],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"error-policy\""));
    let saved = admin
        .post(
            "/admin/settings/plan",
            &[
                ("csrf", &settings.csrf()),
                (
                    "document",
                    &serde_json::to_string(
                        &huifang_app::followup::show_plan(&store, None)
                            .await
                            .unwrap(),
                    )
                    .unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    // the assistant's rules: a kind it may not take is refused by field, a flow saved
    let refused = admin
        .post(
            "/admin/settings/assistant",
            &[
                ("csrf", &settings.csrf()),
                (
                    "document",
                    r#"{"flows": {"field_visit": "ivr"}, "share_pct": 50, "asks": 3, "wait_minutes": 30}"#,
                ),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r#"id="error-assistant""#)
            && refused.body.contains("flows.field_visit"),
        "{}",
        refused.body
    );
    let saved = admin
        .post(
            "/admin/settings/assistant",
            &[
                ("csrf", &settings.csrf()),
                (
                    "document",
                    r#"{"flows": {"welcome_call": "wechat"}, "share_pct": 50, "asks": 3, "wait_minutes": 30}"#,
                ),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings = admin.get("/admin/settings").await;
    assert!(
        settings
            .body
            .contains("&#34;welcome_call&#34;: &#34;wechat&#34;"),
        "{}",
        settings.body
    );
    assert_eq!(
        lead.get("/admin/settings").await.status,
        StatusCode::FORBIDDEN
    );

    // --- sign-out ends the session
    let csrf = later.get("/queue").await.csrf();
    let out = later.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(later.get("/queue").await.location(), "/login");

    // --- the dashboard's daily trend: each closed day as it ended, then today; the overdue rate
    // by balance of each recomputed here from the loans' status lines of that day
    let policy = huifang_app::policy::load(&store).await.unwrap();
    let mut expected = Vec::new();
    for _ in 0..3 {
        let mut tx = store.begin().await.unwrap();
        let today = tx.business_date().await.unwrap().unwrap();
        tx.rollback().await.unwrap();
        let (mut overdue, mut all) = (0i128, 0i128);
        huifang_app::status::each_status(&store, |l| {
            if l.row.lifecycle == huifang_core::status::Lifecycle::Active {
                let fen = i128::from(l.row.outstanding_principal.fen());
                all += fen;
                if l.dpd > 0 {
                    overdue += fen;
                }
            }
            Ok(())
        })
        .await
        .unwrap();
        let bp = (overdue * 20_000 + all) / (all * 2);
        expected.push((today, format!("{}.{:02}%", bp / 100, bp % 100)));
        if expected.len() < 3 {
            huifang_app::close::run_daily(
                &store,
                &policy,
                huifang_core::calendar::add_days(today, 1),
                |_| {},
            )
            .await
            .unwrap();
        }
    }
    let dash = risk.get("/dashboard").await;
    assert_eq!(dash.status, StatusCode::OK, "{}", dash.body);
    let daily = dash
        .body
        .split("id=\"daily-trend\"")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .unwrap_or_else(|| panic!("no daily trend: {}", dash.body));
    for (day, rate) in &expected {
        let point = format!("逾期率（余额） {day}: {rate}</title>");
        assert!(daily.contains(&point), "{point} not in {daily}");
    }
    assert_eq!(daily.matches("逾期率（余额） ").count(), 3);
}

async fn an_idle_session_ends_and_its_forms_change_nothing(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let t = task(&store, 1, "welcome", "followup", "2026-03-20").await;
    let config = huifang_web::HttpConfig {
        console_idle: Duration::from_secs(3),
        ..huifang_web::HttpConfig::default()
    };
    let base = Console::start(&store, config).await;
    let agent = Console::signed_in(&base, "a1").await;
    let page = agent.get(&format!("/tasks/{}", t.get())).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (csrf, before) = (page.csrf(), counts(&store).await);
    // used within the idle time, the session goes on
    // (deadlines are kept in whole seconds: a page pushes the deadline at least 2 s ahead)
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(agent.get("/queue").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(agent.get("/queue").await.status, StatusCode::OK);
    // then left idle
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let late = agent
        .post(
            &format!("/tasks/{}/outcome", t.get()),
            &[("csrf", &csrf), ("key", "k1"), ("outcome", "reached")],
        )
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "{}", late.body);
    assert!(late.body.contains("会话已结束"), "{}", late.body);
    assert_eq!(counts(&store).await, before);
    let page = agent.get("/queue").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/login");
}

/// The administrator's set-up pages: each form labelled, each refusal shown on its field with
/// nothing changed, each accepted change visible where the team works.
async fn an_admin_sets_up_people_teams_queues_products_plans_and_scripts(dbs: &mut Dbs) {
    use huifang_core::followup::TaskKind;

    let store = dbs.fresh().await;
    book(&store, 2).await;
    let held = task(&store, 1, "welcome", "followup", "2026-03-20").await;
    team::reassign(
        &store,
        &team::actor(&store, "lead_fu").await.unwrap(),
        held,
        "a1",
    )
    .await
    .unwrap();
    let base = Console::start(&store, huifang_web::HttpConfig::default()).await;
    let admin = Console::signed_in(&base, "admin").await;
    let a1 = Console::signed_in(&base, "a1").await;
    assert!(lists(&a1.get("/queue").await, held));

    // --- a user's role, team and skills
    let users = admin.get("/admin/users").await;
    assert!(assert_labelled("/admin/users", &users.body) >= 10);
    let before = team::users(&store, None).await.unwrap();
    // an agent without a team is refused on the team field of that user's form
    let refused = admin
        .post(
            "/admin/users/a1/profile",
            &[
                ("csrf", &users.csrf()),
                ("display_name", "王芳"),
                ("role", "agent"),
                ("team", ""),
                ("skills", ""),
            ],
        )
        .await;
    refused_on(&refused, "profile-team");
    assert_eq!(team::users(&store, None).await.unwrap(), before);
    assert!(lists(&a1.get("/queue").await, held));
    // a move to the collections team: a1's session ends and the task goes back to its queue
    let moved = admin
        .post(
            "/admin/users/a1/profile",
            &[
                ("csrf", &users.csrf()),
                ("display_name", "王芳"),
                ("role", "collector"),
                ("team", "col"),
                ("skills", "field, vip"),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    assert_eq!(a1.get("/queue").await.location(), "/login");
    let a1_now = team::actor(&store, "a1").await.unwrap();
    assert_eq!(
        (
            a1_now.role,
            a1_now.user.team_code.as_deref(),
            a1_now.user.user.skills.clone()
        ),
        (
            team::Role::Collector,
            Some("col"),
            vec!["field".to_string(), "vip".to_string()]
        )
    );
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.task(held).await.unwrap().unwrap().assignee, None);
    tx.rollback().await.unwrap();

    // --- teams and queues
    let teams = admin.get("/admin/teams").await;
    assert_eq!(teams.status, StatusCode::OK, "{}", teams.body);
    assert!(assert_labelled("/admin/teams", &teams.body) >= 12);
    let taken = admin
        .post(
            "/admin/teams",
            &[("csrf", &teams.csrf()), ("code", "fu"), ("name", "重复")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        taken.body.contains("id=\"new-team-error\""),
        "{}",
        taken.body
    );
    let added = admin
        .post(
            "/admin/teams",
            &[
                ("csrf", &teams.csrf()),
                ("code", "legal"),
                ("name", "法务组"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let bad = admin
        .post(
            "/admin/queues",
            &[
                ("csrf", &teams.csrf()),
                ("code", "lawsuits"),
                ("name", "诉讼"),
                ("team", "legal"),
                ("skill", "legal"),
                ("strategy", "fastest"),
            ],
        )
        .await;
    refused_on(&bad, "new-queue-strategy");
    let queue = admin
        .post(
            "/admin/queues",
            &[
                ("csrf", &teams.csrf()),
                ("code", "lawsuits"),
                ("name", "诉讼"),
                ("team", "legal"),
                ("skill", "legal"),
                ("strategy", "least_loaded"),
            ],
        )
        .await;
    assert_eq!(queue.status, StatusCode::SEE_OTHER, "{}", queue.body);
    let changed = admin
        .post(
            "/admin/queues/followup",
            &[
                ("csrf", &teams.csrf()),
                ("name", "回访队列"),
                ("skill", ""),
                ("strategy", "sticky"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let teams = admin.get("/admin/teams").await;
    assert!(teams.body.contains("id=\"team-legal\""));
    assert!(teams.body.contains("data-queue=\"lawsuits\""));
    // filtered by a queue's name: its team only
    let filtered = admin.get("/admin/teams?q=%E8%AF%89%E8%AE%BC").await;
    assert!(filtered.body.contains("id=\"team-legal\""));
    assert!(
        !filtered.body.contains("id=\"team-fu\""),
        "{}",
        filtered.body
    );
    let all = team::teams(&store, None).await.unwrap();
    let fu = all.iter().find(|t| t.team.code == "fu").unwrap();
    assert_eq!(
        (fu.queues[0].name.as_str(), fu.queues[0].strategy.as_str()),
        ("回访队列", "sticky")
    );

    // --- products: added through the import's checks; a product's own plan
    let products = admin.get("/admin/products").await;
    assert_eq!(products.status, StatusCode::OK, "{}", products.body);
    assert!(assert_labelled("/admin/products", &products.body) >= 4);
    let csrf = products.csrf();
    let p9 = |grace: &'static str| {
        [
            ("csrf", csrf.as_str()),
            ("code", "P9"),
            ("name", "新能源贷"),
            ("grace_days", grace),
            ("penalty_rate_markup", "0.5"),
        ]
    };
    refused_on(
        &admin.post("/admin/products", &p9("three")).await,
        "grace_days",
    );
    let product = admin.post("/admin/products", &p9("5")).await;
    assert_eq!(product.status, StatusCode::SEE_OTHER, "{}", product.body);
    // the same product again: refused, not counted as unchanged
    let again = admin.post("/admin/products", &p9("5")).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        admin
            .get("/admin/products")
            .await
            .body
            .contains("data-product=\"P9\"")
    );
    let filtered = admin.get("/admin/products?q=p9&sort=loans").await.body;
    assert!(filtered.contains("data-product=\"P9\""));
    assert_eq!(
        filtered.matches("<tr data-product=").count(),
        2,
        "P9 and the default plan"
    );
    let plan = admin.get("/admin/products/P9/plan").await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    assert!(assert_labelled("/admin/products/P9/plan", &plan.body) >= 1);
    let broken = admin
        .post(
            "/admin/products/P9/plan",
            &[
                ("csrf", &plan.csrf()),
                ("document", r#"{"collection": {"from_dpd": "x"}}"#),
            ],
        )
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        broken.body.contains("id=\"document-error\""),
        "{}",
        broken.body
    );
    let saved = admin
        .post(
            "/admin/products/P9/plan",
            &[
                ("csrf", &plan.csrf()),
                ("document", r#"{"collection": {"from_dpd": 10}}"#),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        huifang_app::followup::show_plan(&store, Some("P9"))
            .await
            .unwrap()["collection"]["from_dpd"],
        10
    );
    assert_eq!(
        admin.get("/admin/products/NOPE/plan").await.status,
        StatusCode::NOT_FOUND
    );

    // --- scripts: a refused one names the question and field, nothing stored
    let scripts = admin.get("/admin/scripts?kind=field_visit&lang=en").await;
    assert_eq!(scripts.status, StatusCode::OK, "{}", scripts.body);
    assert!(assert_labelled("/admin/scripts", &scripts.body) >= 1);
    let stored = huifang_app::followup::show_script(&store, TaskKind::FieldVisit, "en")
        .await
        .unwrap();
    let twice = admin
        .post(
            "/admin/scripts/field_visit/en",
            &[
                ("csrf", &scripts.csrf()),
                (
                    "document",
                    r#"[{"id":"seen","text":"Vehicle seen?","answer":"yes_no"},{"id":"seen","text":"Again?","answer":"text"}]"#,
                ),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("questions[1].id"), "{}", twice.body);
    assert_eq!(
        huifang_app::followup::show_script(&store, TaskKind::FieldVisit, "en")
            .await
            .unwrap(),
        stored
    );
    let ok = admin
        .post(
            "/admin/scripts/field_visit/en",
            &[
                ("csrf", &scripts.csrf()),
                (
                    "document",
                    r#"[{"id":"seen","text":"Vehicle seen?","answer":"yes_no","signal_if_no":"vehicle_missing"}]"#,
                ),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        huifang_app::followup::show_script(&store, TaskKind::FieldVisit, "en")
            .await
            .unwrap()
            .questions[0]["signal_if_no"],
        "vehicle_missing"
    );

    // --- none of it for anyone else
    let lead = Console::signed_in(&base, "lead_fu").await;
    for path in [
        "/admin/teams",
        "/admin/products",
        "/admin/scripts",
        "/admin/products/P9/plan",
    ] {
        assert_eq!(lead.get(path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
}

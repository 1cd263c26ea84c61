//! The authorization matrix: every route of the API, called by every role, on the work and
//! borrowers of the caller's own team and of another team, answers as one table below says.
//!
//! Subjects: team `fu` works borrower B1's loan L1 (its follow-up queue holds their tasks), team
//! `col` works B2's L2 (early collection). A member of `fu` (agent a1, team lead lead_fu) calls
//! "own" on B1 and "other" on B4, whose loan L4 has tasks only in `col`'s queue; the collector
//! c1 of `col` calls "own" on B2 and "other" on B3, whose L3 has tasks only in `fu`'s. The other
//! subjects' loans are never worked (a worked overdue loan gets tasks in both teams' queues).
//! Risk officers, auditors and the administrator belong to no team; their two calls tell whether
//! anything depends on the team.
//!
//! A cell is `Y` (allowed: a success, or a conflict with the object's state, never a refusal,
//! 400 or 5xx), `N` (refused: 403, recorded as a denial), or `-` for a public route (called
//! without a token; never a 5xx). Two letters are own/other; one letter is both.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "../../huifang-app/tests/support/team_fixture.rs"]
mod support;

mod api;

use std::collections::BTreeSet;

use api::Api;
use huifang_app::team::{self, Role, UserInput};
use huifang_app::views::DecisionRequestView;
use huifang_app::{cases, decisions};
use huifang_core::Money;
use huifang_core::policy::Policy;
use huifang_testkit::Dbs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{PASSWORD, book};

/// The callers, in the matrix's column order.
const ROLES: [&str; 6] = ["a1", "c1", "lead_fu", "risk", "audit", "admin"];

/// The teams' subjects: (team of the caller it is "own" for, borrower, loan, task queue).
const FU: Subject = Subject {
    borrower: "B1",
    loan: "L1",
    loan_no: 1,
    queue: "followup",
};
const COL: Subject = Subject {
    borrower: "B2",
    loan: "L2",
    loan_no: 2,
    queue: "early_collection",
};
const FU_QUIET: Subject = Subject {
    borrower: "B3",
    loan: "L3",
    loan_no: 3,
    queue: "followup",
};
const COL_QUIET: Subject = Subject {
    borrower: "B4",
    loan: "L4",
    loan_no: 4,
    queue: "early_collection",
};

#[derive(Clone, Copy)]
struct Subject {
    borrower: &'static str,
    loan: &'static str,
    loan_no: usize,
    queue: &'static str,
}

/// The subjects of the caller's own team and of the other team.
fn subjects(user: &str) -> (Subject, Subject) {
    if user == "c1" {
        (COL, FU_QUIET)
    } else {
        (FU, COL_QUIET)
    }
}

/// (method, path, body, cells a1 c1 lead_fu risk audit admin). In the path and body: {b} the
/// subject's borrower, {l} its loan, {t} a new open task of its team's queue on that loan, {w}
/// its team's warning, {i} a new contact made by a member of its team (on the team's worked
/// loan), {c} a new legal case on its loan, {d} a new decision on it pending a second
/// approver, {m} a message, {n} a number used once.
type Row = (&'static str, &'static str, &'static str, [&'static str; 6]);

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // public
    ("GET", "/api/v1/health", "", ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/workers", "", ["N", "N", "N", "N", "Y", "Y"]),
    ("GET", "/api/v1/openapi.json", "", ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/ledger/checkpoint", "", ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/ledger/entries?start=0&end=1", "", ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/ledger/proof/inclusion?index=0&size=1", "", ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/ledger/proof/consistency?first=1&second=1", "", ["-", "-", "-", "-", "-", "-"]),
    ("BYTES", "/api/v1/documents/check", "a file", ["-", "-", "-", "-", "-", "-"]),
    ("POST", "/api/v1/auth/login", r#"{"username":"nobody","password":"x"}"#, ["-", "-", "-", "-", "-", "-"]),
    ("POST", "/api/v1/channels/sms/callbacks", r#"{"events":[]}"#, ["-", "-", "-", "-", "-", "-"]),
    // every user
    ("GET", "/api/v1/me", "", ["Y", "Y", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/contact-rules", "", ["Y", "Y", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/notify-rules", "", ["Y", "Y", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/templates", "", ["Y", "Y", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/templates/reminder_due/zh/sms", "", ["Y", "Y", "Y", "Y", "Y", "Y"]),
    // tasks: the team's own only
    ("GET", "/api/v1/tasks", "", ["Y", "Y", "Y", "N", "Y", "N"]),
    ("GET", "/api/v1/tasks?queue={q}", "", ["YN", "YN", "YN", "N", "Y", "N"]),
    ("POST", "/api/v1/tasks/next", "", ["Y", "Y", "Y", "N", "N", "N"]),
    ("GET", "/api/v1/tasks/{t}", "", ["YN", "YN", "YN", "N", "Y", "N"]),
    ("GET", "/api/v1/tasks/{t}?reveal=true", "", ["N", "N", "YN", "N", "N", "N"]),
    ("KEY", "/api/v1/tasks/{t}/outcome", r#"{"channel":"phone","outcome":"no_answer","occurred_at":"2026-03-20T02:00:00Z"}"#, ["YN", "YN", "YN", "N", "N", "N"]),
    ("POST", "/api/v1/tasks/{t}/reassign", r#"{"to":"lead_fu"}"#, ["N", "N", "YN", "N", "N", "N"]),
    ("KEY", "/api/v1/tasks/{t}/call", "", ["YN", "YN", "YN", "N", "N", "N"]),
    ("GET", "/api/v1/team/stats", "", ["N", "N", "Y", "N", "Y", "N"]),
    ("GET", "/api/v1/reviews", "", ["N", "N", "Y", "N", "N", "N"]),
    ("POST", "/api/v1/interactions/{i}/review", r#"{"score":80,"comment":"clear"}"#, ["N", "N", "YN", "N", "N", "N"]),
    // loans and their borrowers: a team's members only their team's borrowers; the
    // administrator none
    ("GET", "/api/v1/loans/{l}", "", ["N", "N", "YN", "Y", "Y", "N"]),
    ("GET", "/api/v1/loans/{l}?reveal=true", "", ["N", "N", "YN", "Y", "N", "N"]),
    ("GET", "/api/v1/loans", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/reports/tiers?from=2026-03-01", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/reports/roll-rates?format=csv", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/score/models", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/loans/{l}/score", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("POST", "/api/v1/scores/application", r#"{"principal":"100000.00","vehicle_price":"150000.00","monthly_income":"12000.00","annual_rate":"0.0588","term_months":36}"#, ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/borrowers/{b}/opt-outs", "", ["YN", "YN", "YN", "Y", "N", "N"]),
    ("POST", "/api/v1/borrowers/{b}/opt-outs", r#"{"channel":"email"}"#, ["YN", "YN", "YN", "Y", "N", "N"]),
    ("DELETE", "/api/v1/borrowers/{b}/opt-outs/email", "", ["YN", "YN", "YN", "Y", "N", "N"]),
    ("GET", "/api/v1/borrowers/{b}/emergency-contacts", "", ["YN", "YN", "YN", "Y", "N", "N"]),
    ("POST", "/api/v1/borrowers/{b}/emergency-contacts", r#"{"name":"李四","relation":"配偶","mobile":"13912345678"}"#, ["YN", "YN", "YN", "Y", "N", "N"]),
    ("PUT", "/api/v1/borrowers/{b}/addresses", r#"{"channel":"email","address":"b@example.com"}"#, ["YN", "YN", "YN", "Y", "N", "N"]),
    ("GET", "/api/v1/borrowers", "", ["N", "N", "N", "Y", "Y", "N"]),
    ("GET", "/api/v1/interactions?loan={l}", "", ["N", "N", "YN", "Y", "Y", "N"]),
    ("GET", "/api/v1/payments?loan={l}", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/contacts/blocked", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/contacts/retention", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    // warnings and rules
    ("GET", "/api/v1/warnings", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/warnings/{w}", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("POST", "/api/v1/warnings/{w}/ack", "{}", ["N", "N", "N", "Y", "N", "N"]),
    ("POST", "/api/v1/warnings/{w}/action", r#"{"note":"called the dealer"}"#, ["N", "N", "N", "Y", "N", "N"]),
    ("POST", "/api/v1/warnings/{w}/resolve", r#"{"reason":"checked"}"#, ["N", "N", "N", "Y", "N", "N"]),
    ("GET", "/api/v1/rules", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("PUT", "/api/v1/rules", "{rules}", ["N", "N", "N", "Y", "N", "Y"]),
    // decisions and cases
    ("GET", "/api/v1/loans/{l}/decisions", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("POST", "/api/v1/loans/{l}/decisions", r#"{"kind":"defer","months":1,"reason":"hardship"}"#, ["N", "N", "N", "Y", "N", "N"]),
    ("POST", "/api/v1/decisions/{d}/approve", "", ["N", "N", "N", "Y", "N", "N"]),
    ("POST", "/api/v1/loans/{l}/decisions/preview", r#"{"kind":"defer","months":1,"reason":"hardship"}"#, ["N", "N", "N", "Y", "N", "N"]),
    ("GET", "/api/v1/loans/{l}/cases", "", ["N", "Y", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/cases", "", ["N", "Y", "Y", "Y", "Y", "Y"]),
    ("POST", "/api/v1/loans/{l}/cases", r#"{"kind":"legal","reason":"no payment"}"#, ["N", "N", "N", "Y", "N", "N"]),
    ("GET", "/api/v1/cases/{c}", "", ["N", "Y", "Y", "Y", "Y", "Y"]),
    ("POST", "/api/v1/cases/{c}/steps", r#"{"stage":"judgment"}"#, ["N", "Y", "N", "Y", "N", "N"]),
    // settings: the administrator
    ("PUT", "/api/v1/contact-rules", r#"{"utc_offset_minutes":480,"hours":{"from":"00:00","until":"24:00"},"max_connected_collection_calls":3,"channel_caps":{"sms":3}}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("PUT", "/api/v1/templates/reminder_due/zh/sms", r#"{"body":"{name}：今天（{due_date}）请还 {amount} 元。"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/templates/reminder_due/zh/sms/preview?loan={l}", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/messages", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/messages/report", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("POST", "/api/v1/messages/{m}/retry", "", ["N", "N", "N", "N", "N", "Y"]),
    ("PUT", "/api/v1/notify-rules", "{notify}", ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/channels", "", ["N", "N", "N", "N", "N", "Y"]),
    ("PUT", "/api/v1/channels", r#"{"webhook_secret":"a-shared-secret-of-the-providers"}"#, ["N", "N", "N", "N", "N", "Y"]),
    // vehicle monitoring: locations for risk officers (and collectors on a repossession case)
    ("POST", "/api/v1/trackers/events", r#"{"events":[]}"#, ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/loans/{l}/vehicle", "", ["N", "N", "N", "Y", "N", "N"]),
    ("GET", "/api/v1/vehicle-monitoring", "", ["N", "N", "N", "Y", "N", "Y"]),
    ("PUT", "/api/v1/vehicle-monitoring", r#"{"offline_hours":48,"diverge_m":2000,"diverge_minutes":30,"stay_hours":24,"retention_days":180}"#, ["N", "N", "N", "Y", "N", "Y"]),
    ("GET", "/api/v1/places", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/location-views", "", ["N", "N", "N", "N", "Y", "N"]),
    // the follow-up assistant: its conversations are their tasks'; its rules and passes the
    // administrator's
    ("POST", "/api/v1/assistant/ivr", r#"{"call":"x","event":"answered"}"#, ["-", "-", "-", "-", "-", "-"]),
    ("GET", "/api/v1/assistant/rules", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("PUT", "/api/v1/assistant/rules", r#"{"flows":{},"share_pct":100,"asks":3,"wait_minutes":30}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/assistant/run", "", ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/assistant/report", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/tasks/{t}/assistant", "", ["YN", "YN", "YN", "N", "Y", "N"]),
    ("GET", "/api/v1/users", "", ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/users", r#"{"username":"u{n}","display_name":"新人","role":"agent","team":"fu","password":"a long enough password"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/users/a3/account", r#"{"action":"end_sessions"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/users/a3/token", "{}", ["N", "N", "N", "N", "N", "Y"]),
    ("PATCH", "/api/v1/users/a3", r#"{"display_name":"测试 a3"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/teams", "", ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/teams", r#"{"code":"t{n}","name":"新团队"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("PUT", "/api/v1/teams/fu", r#"{"name":"回访组"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/queues", r#"{"code":"q{n}","team":"fu"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("PATCH", "/api/v1/queues/followup", r#"{"name":"followup"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/products", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("GET", "/api/v1/plans/*", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("PUT", "/api/v1/plans/*", "{}", ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/scripts/welcome_call/zh", "", ["N", "N", "Y", "Y", "Y", "Y"]),
    ("PUT", "/api/v1/scripts/welcome_call/en", r#"{"questions":[{"id":"delivered","text":"Is the car delivered?","answer":"yes_no"}]}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/webhooks", "", ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/webhooks", r#"{"name":"h{n}","url":"http://127.0.0.1:9/h","events":["all"]}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/webhooks/h0", r#"{"active":true}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/webhooks/h0/test", "", ["N", "N", "N", "N", "N", "Y"]),
    ("GET", "/api/v1/webhooks/deliveries", "", ["N", "N", "N", "N", "N", "Y"]),
    // the security record: the auditor
    ("GET", "/api/v1/audit/reveals", "", ["N", "N", "N", "N", "Y", "N"]),
    ("GET", "/api/v1/audit/denials", "", ["N", "N", "N", "N", "Y", "N"]),
    // core banking's intake: the administrator's service users
    ("POST", "/api/v1/borrowers", r#"{"external_id":"NB{n}","name":"王五","id_number":"11010519491231002X","mobile":"13700000001","employer":"某公司","monthly_income":"8000.00","city":"上海市"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/loans", r#"{"external_id":"NL{n}","borrower_external_id":"B5","product_code":"P3","principal":"80000.00","annual_rate":"0.0588","term_months":"24","repayment_method":"annuity","disbursed_on":"2026-03-10","vin":"LVSN4BKM0R1944736","vehicle_model":"比亚迪 秦","vehicle_price":"120000.00","dealer":"杭州比亚迪4S店"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("POST", "/api/v1/payments", r#"{"external_id":"NP{n}","loan_external_id":"L5","paid_on":"2026-03-20","amount":"1.00","channel":"bank"}"#, ["N", "N", "N", "N", "N", "Y"]),
    ("BYTES", "/api/v1/imports/products", "code,name,grace_days,penalty_rate_markup\nP{n},产品,3,0.5\n", ["N", "N", "N", "N", "N", "Y"]),
    ("DOC", "/api/v1/documents?loan={l}&kind=other", "document {n}", ["Y", "Y", "Y", "Y", "N", "Y"]),
    // last: it ends the session it is called with
    ("POST", "/api/v1/auth/logout", "", ["Y", "Y", "Y", "Y", "Y", "Y"]),
];

/// Every route of the API (method, path), as the router registers them: the matrix must cover
/// each one.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// The documented path a concrete path of the matrix stands for.
fn route_of(method: &str, path: &str) -> (String, String) {
    let method = match method {
        "KEY" | "BYTES" | "DOC" => "POST",
        m => m,
    };
    let path = path.split('?').next().unwrap();
    let path = path
        .replace("{t}", "{id}")
        .replace("{i}", "{id}")
        .replace("{w}", "{id}")
        .replace("{c}", "{id}")
        .replace("{d}", "{id}")
        .replace("{m}", "{id}")
        .replace("{l}", "{external_id}")
        .replace("{b}", "{external_id}")
        .replace("/opt-outs/email", "/opt-outs/{channel}")
        .replace(
            "/templates/reminder_due/zh/sms",
            "/templates/{event}/{lang}/{channel}",
        )
        .replace("/users/a3/", "/users/{username}/")
        .replace("/users/a3", "/users/{username}")
        .replace("/teams/fu", "/teams/{code}")
        .replace("/queues/followup", "/queues/{code}")
        .replace("/plans/*", "/plans/{product}")
        .replace("/scripts/welcome_call/zh", "/scripts/{kind}/{lang}")
        .replace("/scripts/welcome_call/en", "/scripts/{kind}/{lang}")
        .replace("/webhooks/h0", "/webhooks/{name}")
        .replace("/imports/products", "/imports/{kind}")
        .replace("/channels/sms/", "/channels/{channel}/")
        .replace("/reports/roll-rates", "/reports/{name}");
    (method.to_string(), path)
}

struct World {
    store: huifang_store::Store,
    api: Api,
    tokens: Vec<(String, String)>,
    warnings: Vec<(String, i64)>,
    message: i64,
    rules: Value,
    notify: Value,
    n: u64,
}

impl World {
    fn token(&self, user: &str) -> String {
        self.tokens
            .iter()
            .find(|(u, _)| u == user)
            .unwrap()
            .1
            .clone()
    }

    fn next(&mut self) -> u64 {
        self.n += 1;
        self.n
    }

    /// The matrix's path or body made concrete for a call on `s`.
    async fn fill(&mut self, text: &str, s: Subject) -> String {
        let mut out = text
            .replace("{b}", s.borrower)
            .replace("{l}", s.loan)
            .replace("{q}", s.queue)
            .replace("{m}", &self.message.to_string());
        if out.contains("{n}") {
            let n = self.next();
            out = out.replace("{n}", &n.to_string());
        }
        if out.contains("{t}") {
            let n = self.next();
            let t = support::task(
                &self.store,
                s.loan_no,
                &format!("m{n}"),
                s.queue,
                "2026-03-20",
            )
            .await;
            out = out.replace("{t}", &t.to_string());
        }
        if out.contains("{i}") {
            // made on the team's worked loan (L1 or L2): a contact on a quiet loan would make it
            // worked, and its borrower the other team's too
            let n = self.next();
            let (member, worked) = if s.queue == FU.queue {
                ("a1", FU)
            } else {
                ("c1", COL)
            };
            let t = support::task(
                &self.store,
                worked.loan_no,
                &format!("i{n}"),
                worked.queue,
                "2026-03-20",
            )
            .await;
            let actor = team::actor(&self.store, member).await.unwrap();
            let input = team::OutcomeInput {
                channel: "phone".into(),
                outcome: "no_answer".into(),
                amount: None,
                date: None,
                income_change_pct: None,
                job_status: None,
                vehicle_status: None,
                answers: None,
                notes: String::new(),
                duration_seconds: 0,
                idempotency_key: format!("review-{n}"),
                occurred_at: Some("2026-03-20T02:00:00Z".into()),
                emergency_contact: None,
            };
            let recorded = team::record_outcome(&self.store, &actor, t, &input)
                .await
                .unwrap();
            out = out.replace("{i}", &recorded.interaction_id.to_string());
        }
        if out.contains("{w}") {
            let w = self.warnings.iter().find(|(q, _)| q == s.queue).unwrap().1;
            out = out.replace("{w}", &w.to_string());
        }
        if out.contains("{c}") {
            let risk = team::actor(&self.store, "risk").await.unwrap();
            let case = cases::open(
                &self.store,
                &Policy::default(),
                &risk,
                s.loan,
                "legal",
                "no payment",
            )
            .await
            .unwrap();
            out = out.replace("{c}", &case.case.id.to_string());
        }
        if out.contains("{d}") {
            let mut strict = Policy::default();
            strict.decision_limits.four_eyes_above = Money::parse("5000.00").unwrap();
            let risk2 = team::actor(&self.store, "risk2").await.unwrap();
            let request = DecisionRequestView {
                kind: "defer".into(),
                months: Some(1),
                reason: "hardship".into(),
                annual_rate: None,
                term_months: None,
                method: None,
                floor: None,
                on: None,
            }
            .to_request()
            .unwrap();
            let pending = decisions::decide(&self.store, &strict, &risk2, s.loan, &request)
                .await
                .unwrap();
            out = out.replace("{d}", &pending.id.to_string());
        }
        out.replace("{rules}", &self.rules.to_string())
            .replace("{notify}", &self.notify.to_string())
    }
}

#[tokio::test]
async fn every_route_answers_every_role_as_the_matrix_says() {
    let mut dbs = Dbs::new(false);
    let store = dbs.fresh().await;
    book(&store, 6).await;
    huifang_app::rules::seed_default(&store).await.unwrap();
    team::create_user(
        &store,
        None,
        &UserInput {
            username: "risk2".into(),
            display_name: "风控二".into(),
            role: Role::RiskOfficer,
            team: None,
            skills: Vec::new(),
            password: Some(PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    let api = Api::start(&store).await;
    let mut tokens = Vec::new();
    for user in ROLES.iter().chain(&["risk2"]) {
        let (token, _) = team::issue_api_token(&store, None, user, None)
            .await
            .unwrap();
        tokens.push((user.to_string(), token));
    }
    let tok = |u: &str| tokens.iter().find(|(n, _)| n == u).unwrap().1.clone();

    // every route is in the matrix
    let (_, doc) = api.get("/api/v1/openapi.json", None).await;
    let covered: BTreeSet<_> = MATRIX.iter().map(|r| route_of(r.0, r.1)).collect();
    assert_eq!(documented_routes(&doc), covered);
    assert_eq!(covered.len(), 107);

    // the contact hours open all day, so that no contact rule refuses a call of the matrix
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/contact-rules",
            Some(&tok("admin")),
            None,
            Some(json!({"utc_offset_minutes":480,"hours":{"from":"00:00","until":"24:00"},"max_connected_collection_calls":30,"channel_caps":{"sms":30}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // a level-3 warning for each subject, from a follow-up's finding, on loans of their own (a
    // warned loan gets continuous follow-up tasks, which would give the teams each other's
    // borrowers)
    let mut warnings = Vec::new();
    for (user, s, warned) in [("a1", FU, 5), ("c1", COL, 6)] {
        let t = support::task(&store, warned, "warn", s.queue, "2026-03-20").await;
        let (st, b) = api
            .call(
                "POST",
                &format!("/api/v1/tasks/{t}/outcome"),
                Some(&tok(user)),
                Some(&format!("warn-{t}")),
                Some(json!({"channel":"visit","outcome":"vehicle_status","vehicle_status":"sold","occurred_at":"2026-03-20T02:00:00Z"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{b}");
        let (_, w) = api
            .get(
                &format!("/api/v1/warnings?loan=L{warned}"),
                Some(&tok("risk")),
            )
            .await;
        warnings.push((
            s.queue.to_string(),
            w["warnings"][0]["id"].as_i64().unwrap(),
        ));
    }
    // a message in the outbox, a subscriber, and the documents sent back by PUT
    let t = support::task(&store, 1, "msg", "followup", "2026-03-20").await;
    let (st, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{t}/call"),
            Some(&tok("a1")),
            Some("msg"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let (_, messages) = api.get("/api/v1/messages", Some(&tok("risk"))).await;
    let message = messages["messages"][0]["id"].as_i64().unwrap();
    let (st, b) = api
        .call(
            "POST",
            "/api/v1/webhooks",
            Some(&tok("admin")),
            None,
            Some(json!({"name":"h0","url":"http://127.0.0.1:9/h","events":["all"]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let rules = api.get("/api/v1/rules", Some(&tok("risk"))).await.1;
    let notify = api.get("/api/v1/notify-rules", Some(&tok("risk"))).await.1;

    let mut world = World {
        store: store.clone(),
        api,
        tokens,
        warnings,
        message,
        rules,
        notify,
        n: 0,
    };
    let mut wrong = Vec::new();
    for (method, path, body, cells) in MATRIX {
        for (role, cell) in ROLES.iter().zip(cells) {
            let (own, other) = subjects(role);
            let expected: Vec<char> = if cell.len() == 2 {
                cell.chars().collect()
            } else {
                vec![cell.chars().next().unwrap(); 2]
            };
            for (subject, want) in [(own, expected[0]), (other, expected[1])] {
                let p = world.fill(path, subject).await;
                let b = world.fill(body, subject).await;
                let token = if *path == "/api/v1/auth/logout" {
                    // logging out ends the session it is called with: a session of its own
                    Some(
                        team::issue_api_token(&world.store, None, role, None)
                            .await
                            .unwrap()
                            .0,
                    )
                } else {
                    (want != '-').then(|| world.token(role))
                };
                let (status, answer) = match *method {
                    "BYTES" | "DOC" => {
                        world
                            .api
                            .post_bytes(&p, token.as_deref(), b.as_bytes())
                            .await
                    }
                    "KEY" => {
                        let key = format!("k{}", world.next());
                        let body = (!b.is_empty()).then(|| serde_json::from_str(&b).unwrap());
                        world
                            .api
                            .call("POST", &p, token.as_deref(), Some(&key), body)
                            .await
                    }
                    m => {
                        let body = (!b.is_empty()).then(|| serde_json::from_str(&b).unwrap());
                        world.api.call(m, &p, token.as_deref(), None, body).await
                    }
                };
                let ok = match want {
                    // a conflict with the object's state, (deleting) an opt-out already lifted,
                    // or a task the assistant never took
                    'Y' => {
                        status.is_success()
                            || status == StatusCode::CONFLICT
                            || (*method == "DELETE" && status == StatusCode::NOT_FOUND)
                            || (path.ends_with("/assistant") && status == StatusCode::NOT_FOUND)
                    }
                    'N' => status == StatusCode::FORBIDDEN && answer["error"] == "forbidden",
                    _ => !status.is_server_error(),
                };
                if !ok {
                    wrong.push(format!(
                        "{method} {p} as {role} ({}): expected {want}, got {status} {answer}",
                        if subject.loan == own.loan {
                            "own"
                        } else {
                            "other"
                        }
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} cell(s) wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // every refusal of the matrix is in the security record, for the auditor
    let (auditor, _) = team::issue_api_token(&world.store, None, "audit", None)
        .await
        .unwrap();
    let (_, denials) = world
        .api
        .get("/api/v1/audit/denials?limit=1000", Some(&auditor))
        .await;
    let refused: usize = MATRIX
        .iter()
        .flat_map(|r| r.3.iter())
        .map(|c| {
            if c.len() == 2 {
                c.matches('N').count()
            } else {
                2 * c.matches('N').count()
            }
        })
        .sum();
    assert!(
        denials["denials"].as_array().unwrap().len() >= refused.min(1000),
        "{refused} refusals, {} recorded",
        denials["denials"].as_array().unwrap().len()
    );
    dbs.finish().await;
}

//! The web console in Debian's headless Chromium and in Firefox ESR, driven over WebDriver,
//! against `huifang serve` on a demo database: each role's work end to end, as its users would do
//! it. Screenshots of each role's home page are saved under `target/console-screenshots/`
//! (Chromium's; the README shows them) and `target/console-screenshots/firefox/`.
//!
//! - an agent signs in, takes the next task, fills the script, records a promise to pay, and the
//!   task leaves the queue;
//! - a team lead reassigns a task, and the other agent's queue has it;
//! - a risk officer acknowledges a warning and decides a deferral;
//! - an auditor verifies the log;
//! - an admin disables a user, whose sign-in is then refused, and moves another to a team;
//! - switching to English changes the page.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/demo_cli.rs"]
mod support;

use std::path::PathBuf;

use huifang_testkit::browser::{Browser, Engine};
use support::{ok, serve};
use tempfile::TempDir;

const PASSWORD: &str = "huifang-demo";

/// Where the screenshots go: `target/console-screenshots/` of the workspace.
fn shots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("console-screenshots")
}

async fn sign_in(b: &Browser, base: &str, user: &str) {
    b.goto(&format!("{base}/login")).await.unwrap();
    b.fill("#username", user).await.unwrap();
    b.fill("#password", PASSWORD).await.unwrap();
    b.submit("#sign-in").await.unwrap();
    let who = b.find("#who").await.unwrap();
    assert_eq!(
        who.attribute("data-username").await.unwrap().as_deref(),
        Some(user),
        "signed in as {user}"
    );
}

async fn sign_out(b: &Browser) {
    b.submit("#logout").await.unwrap();
    let url = b.url().await.unwrap();
    assert!(
        url.ends_with("/login"),
        "signed out: {url}\n{}",
        b.source().await.unwrap()
    );
}

/// The task ids of the queue's page.
async fn task_ids(b: &Browser) -> Vec<String> {
    let mut ids = Vec::new();
    for row in b.all("tr[data-task]").await.unwrap() {
        ids.push(row.attribute("data-task").await.unwrap().unwrap());
    }
    ids
}

#[tokio::test]
async fn each_role_works_in_the_console_in_chromium() {
    each_role_works(Engine::Chromium, shots()).await;
}

#[tokio::test]
async fn each_role_works_in_the_console_in_firefox() {
    each_role_works(Engine::Firefox, shots().join("firefox")).await;
}

async fn each_role_works(engine: Engine, shots: PathBuf) {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    ok(dir, &["demo", "--loans", "200", "--seed", "11"]);
    // contacts at any hour: the test runs whenever it runs (the hours have tests of their own)
    let rules = dir.join("contact.json");
    std::fs::write(
        &rules,
        r#"{"utc_offset_minutes": 480, "hours": {"from": "00:00", "until": "24:00"},
            "max_connected_collection_calls": 3,
            "channel_caps": {"sms": 100, "email": 100, "wechat": 100}}"#,
    )
    .unwrap();
    ok(
        dir,
        &[
            "contact",
            "rules",
            "--set",
            rules.to_str().unwrap(),
            "--as",
            "admin",
        ],
    );
    // the assistant takes no more welcome calls while the roles work (its pass in `serve` would
    // take unassigned ones from the queues the test reads)
    let off = dir.join("assistant.json");
    std::fs::write(
        &off,
        r#"{"flows": {}, "share_pct": 100, "asks": 3, "wait_minutes": 30}"#,
    )
    .unwrap();
    ok(
        dir,
        &[
            "assistant",
            "rules",
            "--set",
            off.to_str().unwrap(),
            "--as",
            "admin",
        ],
    );
    let (_server, addr) = serve(dir);
    let base = format!("http://{addr}");
    let b = Browser::start(engine)
        .await
        .unwrap_or_else(|e| panic!("headless {}: {e}", engine.name()));

    // --- an agent: take the next task, fill the script, record a promise to pay
    sign_in(&b, &base, "wangfang").await;
    assert!(b.url().await.unwrap().ends_with("/queue"));
    assert!(
        b.source().await.unwrap().contains("我的队列"),
        "Chinese by default"
    );
    b.screenshot(&shots.join("agent.png")).await.unwrap();
    b.submit("#take-next").await.unwrap();
    let url = b.url().await.unwrap();
    let task = url
        .rsplit("/tasks/")
        .next()
        .filter(|_| url.contains("/tasks/"))
        .unwrap_or_else(|| panic!("the next task opens, got {url}"))
        .to_string();
    // the borrower is masked
    let id_number = b.text("#borrower-id-number").await.unwrap();
    assert!(id_number.contains('*'), "{id_number}");
    // every question of the script answered: yes, the first choice, a number, a text
    for select in b.all("#script select").await.unwrap() {
        let id = select.attribute("id").await.unwrap().unwrap();
        let yes = b
            .all(&format!("#{id} option[value=\"yes\"]"))
            .await
            .unwrap();
        match yes.first() {
            Some(o) => o.click().await.unwrap(),
            None => b
                .find(&format!("#{id} option:nth-child(2)"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap(),
        }
    }
    for field in b.all("#script input, #script textarea").await.unwrap() {
        let id = field.attribute("id").await.unwrap().unwrap();
        let text = if field.attribute("placeholder").await.unwrap().is_some() {
            "2026-12-20"
        } else if field.attribute("inputmode").await.unwrap().is_some() {
            "10"
        } else {
            "正常"
        };
        b.fill(&format!("#{id}"), text).await.unwrap();
    }
    b.choose("#outcome-kind", "promise_to_pay").await.unwrap();
    b.fill("#amount", "3000").await.unwrap();
    b.fill("#date", "2099-01-05").await.unwrap();
    b.fill("#notes", "借款人承诺月底前还款").await.unwrap();
    b.submit("#record").await.unwrap();
    let after = b.url().await.unwrap();
    if !after.contains("done=recorded") {
        let page = b.source().await.unwrap();
        panic!("the outcome is not recorded: {after}\n{page}");
    }
    assert!(
        !task_ids(&b).await.contains(&task),
        "task {task} left the queue"
    );
    sign_out(&b).await;

    // --- a team lead reassigns a task; the other agent's queue has it
    sign_in(&b, &base, "zhenglead").await;
    assert!(b.url().await.unwrap().ends_with("/team"));
    b.screenshot(&shots.join("team_lead.png")).await.unwrap();
    let rows = b.all("#team-tasks tr[data-task]").await.unwrap();
    assert!(!rows.is_empty(), "the team has open tasks");
    let moved = rows[0].attribute("data-task").await.unwrap().unwrap();
    let assignee = b
        .text(&format!("tr[data-task=\"{moved}\"] td.assignee"))
        .await
        .unwrap();
    let target = if assignee.trim() == "lina" {
        "zhangwei"
    } else {
        "lina"
    };
    b.choose(&format!("#to-{moved}"), target).await.unwrap();
    b.submit(&format!("#reassign-{moved}")).await.unwrap();
    assert!(b.url().await.unwrap().contains("done=reassigned"));
    sign_out(&b).await;
    sign_in(&b, &base, target).await;
    b.goto(&format!("{base}/queue?view=all")).await.unwrap();
    let mut found = task_ids(&b).await.contains(&moved);
    while !found && b.all("a[rel=next]").await.unwrap().len() == 1 {
        b.submit("a[rel=next]").await.unwrap();
        found = task_ids(&b).await.contains(&moved);
    }
    assert!(found, "task {moved} is in {target}'s queue");
    sign_out(&b).await;

    // --- a risk officer acknowledges a warning and decides a deferral
    sign_in(&b, &base, "risk").await;
    assert!(b.url().await.unwrap().ends_with("/warnings"));
    b.screenshot(&shots.join("risk_officer.png")).await.unwrap();
    b.goto(&format!("{base}/warnings?state=raised"))
        .await
        .unwrap();
    b.submit("#board tbody tr td a[href^=\"/warnings/\"]")
        .await
        .unwrap();
    assert!(
        !b.text("#warning-facts").await.unwrap().is_empty(),
        "the facts that fired it"
    );
    b.fill("#ack-note", "已电话核实").await.unwrap();
    b.submit("#acknowledge").await.unwrap();
    assert_eq!(b.text("#warning-state").await.unwrap(), "已确认");
    b.choose("#decision-kind", "defer").await.unwrap();
    b.fill("#months", "1").await.unwrap();
    b.fill("#decision-reason", "借款人住院，延期一个月")
        .await
        .unwrap();
    b.submit("#decide").await.unwrap();
    if !b.url().await.unwrap().contains("done=decided") {
        panic!(
            "the deferral is not recorded:\n{}",
            b.source().await.unwrap()
        );
    }
    let decided = b.text("#decisions tbody").await.unwrap();
    assert!(decided.contains("延期"), "{decided}");
    b.goto(&format!("{base}/dashboard")).await.unwrap();
    assert!(b.find("svg.chart").await.is_ok());
    b.screenshot(&shots.join("dashboard.png")).await.unwrap();
    // the reports over time: the roll rates' flow chart and matrix
    b.goto(&format!("{base}/reports?name=roll-rates"))
        .await
        .unwrap();
    assert!(b.find("svg.chart").await.is_ok());
    assert!(b.find("table.report").await.is_ok());
    b.screenshot(&shots.join("reports.png")).await.unwrap();
    sign_out(&b).await;

    // --- an auditor verifies the log
    sign_in(&b, &base, "audit").await;
    assert!(b.url().await.unwrap().ends_with("/ledger"));
    b.screenshot(&shots.join("auditor.png")).await.unwrap();
    b.submit("#verify-log").await.unwrap();
    let result = b.text("#verify-result").await.unwrap();
    assert!(result.contains("日志完整无误"), "{result}");
    sign_out(&b).await;

    // --- an admin disables a user, who is then refused; English on the switch
    sign_in(&b, &base, "admin").await;
    assert!(b.url().await.unwrap().ends_with("/admin/users"));
    b.screenshot(&shots.join("admin.png")).await.unwrap();
    b.choose("#action-liuyang", "disable").await.unwrap();
    b.submit("#change-liuyang").await.unwrap();
    assert_eq!(
        b.text("tr[data-user=\"liuyang\"] td.user-state")
            .await
            .unwrap(),
        "已停用"
    );
    // zhangwei moves to the first collections team as a collector with a skill
    b.click("tr[data-user=\"zhangwei\"] details.profile summary")
        .await
        .unwrap();
    b.choose("#profile-role-zhangwei", "collector")
        .await
        .unwrap();
    b.choose("#profile-team-zhangwei", "early").await.unwrap();
    b.fill("#profile-skills-zhangwei", "visit").await.unwrap();
    b.submit("#profile-save-zhangwei").await.unwrap();
    assert!(b.url().await.unwrap().contains("done=changed"));
    let row = b.text("tr[data-user=\"zhangwei\"]").await.unwrap();
    assert!(row.contains("催收员") && row.contains("early"), "{row}");
    // the teams and queues page lists the team's queues
    b.goto(&format!("{base}/admin/teams")).await.unwrap();
    assert!(b.find("#team-early tr[data-queue]").await.is_ok());
    b.screenshot(&shots.join("admin_teams.png")).await.unwrap();
    b.goto(&format!("{base}/admin/users")).await.unwrap();
    b.submit("#lang-switch").await.unwrap();
    assert!(b.text("h1").await.unwrap().contains("Users"));
    assert!(b.source().await.unwrap().contains("lang=\"en\""));
    sign_out(&b).await;
    b.goto(&format!("{base}/login")).await.unwrap();
    b.fill("#username", "liuyang").await.unwrap();
    b.fill("#password", PASSWORD).await.unwrap();
    b.submit("#sign-in").await.unwrap();
    assert!(
        b.find("#login-error").await.is_ok(),
        "the disabled user is refused"
    );
    assert!(b.url().await.unwrap().ends_with("/login"));
}

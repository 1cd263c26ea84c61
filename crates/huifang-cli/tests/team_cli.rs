//! `huifang user|team|queue|task` end to end on a demo database: users and tokens, my queue,
//! take next, show (masked), record twice with one idempotency key, refusals across teams,
//! reassign and the team lead's statistics.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/demo_cli.rs"]
mod support;

use serde_json::Value;
use support::{demo_and_next_task, fails, huifang, huifang_in, ok};

#[test]
fn team_commands_end_to_end() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let demo = ok(
        d,
        &[
            "demo",
            "--loans",
            "120",
            "--today",
            "2026-11-27",
            "--seed",
            "5",
        ],
    );
    assert!(demo.contains("password huifang-demo"), "{demo}");

    // administration
    ok(d, &["team", "add", "north", "华北组"]);
    ok(
        d,
        &[
            "queue",
            "add",
            "north_q",
            "--team",
            "north",
            "--strategy",
            "sticky",
            "--skill",
            "phone",
        ],
    );
    let out = huifang(
        d,
        &[
            "user",
            "add",
            "liming",
            "--role",
            "agent",
            "--team",
            "north",
            "--skills",
            "phone,wechat",
            "--password-stdin",
        ],
        Some("a-long-password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = ok(d, &["user", "token", "liming"]);
    assert_eq!(token.trim().len(), 64);
    assert!(
        fails(
            d,
            &[
                "queue",
                "add",
                "q2",
                "--team",
                "north",
                "--strategy",
                "random"
            ]
        )
        .contains("strategy")
    );
    // a team renamed, a queue changed, a user moved: each listed as changed
    ok(d, &["team", "rename", "north", "华北一组"]);
    let set = ok(
        d,
        &[
            "queue",
            "set",
            "north_q",
            "--strategy",
            "least_loaded",
            "--skill",
            "",
        ],
    );
    assert!(set.contains("least_loaded, skill -"), "{set}");
    let teams: Value = serde_json::from_str(&ok(d, &["team", "list", "--json"])).unwrap();
    let north = teams["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "north")
        .unwrap();
    assert_eq!(
        (
            &north["name"],
            &north["members"],
            &north["queues"][0]["strategy"]
        ),
        (
            &Value::from("华北一组"),
            &Value::from(1),
            &Value::from("least_loaded")
        )
    );
    assert!(
        fails(d, &["user", "set", "liming", "--no-team"]).contains("belongs to a team"),
        "an agent keeps a team"
    );
    assert!(fails(d, &["user", "set", "liming", "--team", "nowhere"]).contains("nowhere"));
    ok(
        d,
        &[
            "user",
            "set",
            "liming",
            "--role",
            "collector",
            "--team",
            "early",
            "--skills",
            "visit",
            "--name",
            "李明",
        ],
    );
    let users: Value = serde_json::from_str(&ok(d, &["user", "list", "--json"])).unwrap();
    let liming = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "liming")
        .unwrap();
    assert_eq!(
        (
            &liming["role"],
            &liming["team"],
            &liming["skills"],
            &liming["display_name"]
        ),
        (
            &Value::from("collector"),
            &Value::from("early"),
            &serde_json::json!(["visit"]),
            &Value::from("李明")
        )
    );
    // a script from a file: refused naming the question and field, then stored
    let script = d.join("script.json");
    std::fs::write(
        &script,
        r#"[{"id":"seen","text":"见到车辆了吗？","answer":"choice","options":[{"code":"yes","label":"见到"}]}]"#,
    )
    .unwrap();
    assert!(
        fails(
            d,
            &["script", "set", "field_visit", script.to_str().unwrap()]
        )
        .contains("questions[0].options")
    );
    std::fs::write(
        &script,
        r#"[{"id":"seen","text":"见到车辆了吗？","answer":"yes_no","signal_if_no":"vehicle_missing"}]"#,
    )
    .unwrap();
    ok(
        d,
        &["script", "set", "field_visit", script.to_str().unwrap()],
    );
    let shown: Value = serde_json::from_str(&ok(d, &["script", "show", "field_visit"])).unwrap();
    assert_eq!(shown["questions"][0]["signal_if_no"], "vehicle_missing");

    // take next, show masked, record twice with the same key
    let next: Value =
        serde_json::from_str(&ok(d, &["task", "next", "--as", "wangfang", "--json"])).unwrap();
    let id = next["id"]
        .as_i64()
        .expect("a task for wangfang")
        .to_string();
    assert_eq!(next["state"], "in_progress");
    assert_eq!(next["assignee"], "wangfang");
    let shown: Value =
        serde_json::from_str(&ok(d, &["task", "show", &id, "--as", "wangfang", "--json"])).unwrap();
    assert!(
        shown["borrower"]["id_number"]
            .as_str()
            .unwrap()
            .contains("********")
    );
    assert!(
        shown["borrower"]["mobile"]
            .as_str()
            .unwrap()
            .contains("****")
    );
    assert!(
        fails(d, &["task", "show", &id, "--as", "wangfang", "--reveal"]).contains("may not reveal")
    );
    assert!(
        fails(d, &["task", "show", &id, "--as", "chenjing"]).contains("belongs to another team")
    );
    let record = [
        "task",
        "record",
        &id,
        "--as",
        "wangfang",
        "--channel",
        "phone",
        "--outcome",
        "promise_to_pay",
        "--amount",
        "3000",
        "--date",
        "2026-12-05",
        "--idempotency-key",
        "K1",
        "--at",
        "2026-12-05T10:30:00+08:00",
        "--notes",
        "客户承诺月初还款",
        "--duration-seconds",
        "95",
    ];
    let first = ok(d, &record);
    assert!(
        first.contains("promise") && first.contains("now done"),
        "{first}"
    );
    let again = ok(d, &record);
    assert!(again.contains("nothing recorded"), "{again}");
    // another team's collector cannot record on it
    let mut other = record.to_vec();
    other[4] = "chenjing";
    other[14] = "K2";
    assert!(fails(d, &other).contains("forbidden"));

    // lists, reassign and statistics
    let mine: Value =
        serde_json::from_str(&ok(d, &["task", "list", "--as", "lina", "--json"])).unwrap();
    let open = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["assignee"].is_null() || t["assignee"] == "lina")
        .expect("an open task")["id"]
        .to_string();
    assert!(
        fails(
            d,
            &[
                "task", "reassign", &open, "--to", "zhangwei", "--as", "lina"
            ]
        )
        .contains("team leads")
    );
    let moved = ok(
        d,
        &[
            "task",
            "reassign",
            &open,
            "--to",
            "zhangwei",
            "--as",
            "zhenglead",
        ],
    );
    assert!(moved.contains("zhangwei"), "{moved}");
    let stats: Value =
        serde_json::from_str(&ok(d, &["team", "stats", "--as", "zhenglead", "--json"])).unwrap();
    assert_eq!(stats[0]["team"], "followup");
    assert!(!stats[0]["agents"].as_array().unwrap().is_empty());
    assert!(fails(d, &["team", "stats", "--as", "wangfang"]).contains("forbidden"));
}

#[test]
fn rules_and_warnings_from_the_command_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "demo",
            "--loans",
            "80",
            "--today",
            "2026-11-27",
            "--seed",
            "7",
        ],
    );

    // The rule set: shown, edited, set as version 2, shown again.
    let shown = ok(d, &["rules", "show"]);
    let mut doc: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(doc["version"], 1);
    doc["rules"][5]["when"]["days"] = serde_json::json!(45);
    assert_eq!(doc["rules"][5]["id"], "dpd_31");
    let file = d.join("rules.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = ok(d, &["rules", "set", file.to_str().unwrap()]);
    assert!(out.starts_with("rules v2 set from "), "{out}");
    let again: serde_json::Value = serde_json::from_str(&ok(d, &["rules", "show"])).unwrap();
    assert_eq!(again["version"], 2);
    assert_eq!(
        (
            &again["rules"][5]["when"]["days"],
            &again["rules"][5]["version"]
        ),
        (&serde_json::json!(45), &serde_json::json!(2))
    );
    // A malformed file is refused, naming the rule and the field; nothing changes.
    doc["rules"][0]["level"] = serde_json::json!(9);
    std::fs::write(&file, doc.to_string()).unwrap();
    let err = fails(d, &["rules", "set", file.to_str().unwrap()]);
    assert!(err.contains("refused, nothing changed"), "{err}");
    assert!(
        err.contains("rules[0].level (rule two_consecutive_late): must be 1, 2 or 3, not 9"),
        "{err}"
    );
    let after: serde_json::Value = serde_json::from_str(&ok(d, &["rules", "show"])).unwrap();
    assert_eq!(after, again);

    // The demo's warnings, for the risk officer; refused to an agent.
    let err = fails(d, &["warning", "list", "--as", "wangfang"]);
    assert!(err.contains("may not read warnings"), "{err}");
    let list: serde_json::Value =
        serde_json::from_str(&ok(d, &["warning", "list", "--as", "risk", "--json"])).unwrap();
    let first = &list.as_array().expect("open warnings")[0];
    let id = first["id"].as_i64().unwrap().to_string();
    assert_eq!(first["state"], "raised");
    assert!(!first["text_zh"].as_str().unwrap().is_empty(), "{first}");
    let out = ok(
        d,
        &["warning", "ack", &id, "--as", "risk", "--note", "seen"],
    );
    assert!(out.contains("acknowledged"), "{out}");
    let out = ok(
        d,
        &[
            "warning",
            "act",
            &id,
            "--as",
            "risk",
            "--note",
            "called the dealer",
        ],
    );
    assert!(out.contains("actioned"), "{out}");
    let err = fails(
        d,
        &["warning", "resolve", &id, "--as", "audit", "--reason", "x"],
    );
    assert!(err.contains("may not act on warnings"), "{err}");
    ok(
        d,
        &[
            "warning", "resolve", &id, "--as", "risk", "--reason", "cured",
        ],
    );
    let shown = ok(d, &["warning", "show", &id, "--as", "audit"]);
    for step in ["acknowledged", "action_taken", "resolved"] {
        assert!(shown.contains(step), "{shown}");
    }
    // every command run --as a user is recorded with the operator who ran it and how it ended;
    // the refused one is a denial too
    let ops: Value =
        serde_json::from_str(&ok(d, &["audit", "operators", "--json", "--limit", "1000"])).unwrap();
    let actions = ops["actions"].as_array().unwrap();
    let ran = |user: &str, outcome: &str| {
        actions.iter().find(|a| {
            a["command"] == "warning resolve" && a["username"] == user && a["outcome"] == outcome
        })
    };
    let refused = ran("audit", "refused").expect("the refused resolve");
    assert!(
        refused["operator"].as_str().unwrap().contains('@'),
        "{refused}"
    );
    assert!(refused["finished_at"].is_string(), "{refused}");
    assert!(ran("risk", "done").is_some(), "{ops}");
    assert!(
        actions.iter().all(|a| a["command"] != "audit operators"),
        "no --as, no record: {ops}"
    );
    let denials: Value =
        serde_json::from_str(&ok(d, &["audit", "denials", "--json", "--user", "audit"])).unwrap();
    assert!(
        denials["denials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["action"] == "command line: warning resolve"),
        "{denials}"
    );
    assert!(ok(d, &["ledger", "verify"]).contains("ok: every record matches its leaf"));

    // A decision on the warned loan: refused to a collector; pending a second risk officer when
    // its balance is above the four-eyes amount, then approved by the other one.
    let loan = first["loan"].as_str().unwrap().to_string();
    let err = fails(
        d,
        &[
            "decide", "on", &loan, "defer", "--months", "1", "--reason", "hardship", "--as",
            "chenjing",
        ],
    );
    assert!(err.contains("may not decide on loans"), "{err}");
    let out = ok(
        d,
        &[
            "decide", "on", &loan, "defer", "--months", "1", "--reason", "hardship", "--as", "risk",
        ],
    );
    assert!(out.starts_with("decision "), "{out}");
    let id = out
        .trim_start_matches("decision ")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    if out.contains("pending a second approver") {
        let err = fails(d, &["decide", "approve", &id, "--as", "risk"]);
        assert!(err.contains("four eyes"), "{err}");
        let out = ok(d, &["decide", "approve", &id, "--as", "risk2"]);
        assert!(out.contains("approved by risk2: applied"), "{out}");
    }
    let listed = ok(d, &["decide", "list", "--loan", &loan, "--as", "audit"]);
    assert!(
        listed.contains("defer") && listed.contains("applied"),
        "{listed}"
    );
    let err = fails(
        d,
        &[
            "decide", "on", &loan, "defer", "--months", "9", "--reason", "x", "--as", "risk",
        ],
    );
    assert!(err.contains("at most 6 month(s)"), "{err}");
    let err = fails(
        d,
        &[
            "decide", "on", &loan, "holiday", "--months", "4", "--reason", "x", "--as", "risk",
        ],
    );
    assert!(
        err.contains("payment holiday of at most 3 month(s)"),
        "{err}"
    );

    // A repossession case on the warned loan: opened by the risk officer, moved by a collector,
    // refused out of order, the sale posted as a payment on the loan.
    let err = fails(
        d,
        &[
            "case",
            "open",
            &loan,
            "repossession",
            "--reason",
            "失联",
            "--as",
            "chenjing",
        ],
    );
    assert!(err.contains("may not open a case"), "{err}");
    let out = ok(
        d,
        &[
            "case",
            "open",
            &loan,
            "repossession",
            "--reason",
            "失联",
            "--as",
            "risk",
        ],
    );
    let case_id = out.split_whitespace().next().unwrap().to_string();
    assert!(out.contains("assigned"), "{out}");
    let err = fails(d, &["case", "step", &case_id, "sold", "--as", "chenjing"]);
    assert!(
        err.contains("moves to located (or closed), not sold"),
        "{err}"
    );
    for stage in ["located", "recovered"] {
        ok(d, &["case", "step", &case_id, stage, "--as", "chenjing"]);
    }
    let out = ok(
        d,
        &[
            "case", "step", &case_id, "sold", "--amount", "1000.00", "--as", "chenjing",
        ],
    );
    assert!(
        out.contains(&format!("1000.00 posted as payment case-{case_id}-sold")),
        "{out}"
    );
    let shown: serde_json::Value = serde_json::from_str(&ok(
        d,
        &["case", "show", &case_id, "--as", "audit", "--json"],
    ))
    .unwrap();
    assert_eq!(shown["case"]["stage"], "sold");
    assert_eq!(shown["steps"].as_array().unwrap().len(), 4);
    let loan_view = ok(d, &["loan", &loan, "--format", "json"]);
    assert!(
        loan_view.contains(&format!("case-{case_id}-sold")),
        "{loan_view}"
    );
    assert!(ok(d, &["ledger", "verify"]).contains("ok: every record matches its leaf"));

    // The five-tier report between two dates: as JSON, its tiers on the business date agree
    // with the portfolio summary; as CSV and as a workbook.
    let report: serde_json::Value = serde_json::from_str(&ok(
        d,
        &[
            "report",
            "tiers",
            "--from",
            "2026-10-01",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(report["to"], "2026-11-27");
    let summary: serde_json::Value =
        serde_json::from_str(&ok(d, &["report", "--format", "json"])).unwrap();
    let active_loans: u64 = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["lifecycle"] != "paid_off")
        .map(|g| g["loans"].as_u64().unwrap())
        .sum();
    let on_book: u64 = report["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["loans_to"].as_u64().unwrap())
        .sum();
    assert_eq!(on_book, active_loans, "{report}");
    let csv = ok(
        d,
        &["report", "tiers", "--from", "2026-10-01", "--format", "csv"],
    );
    assert!(
        csv.starts_with("tier,loans_from,balance_from,loans_to,balance_to\nnormal,"),
        "{csv}"
    );
    assert!(
        csv.contains("\n\nfrom,to,loans,balance,rate_pct\n"),
        "{csv}"
    );
    let book = d.join("tiers.xlsx");
    let out = ok(
        d,
        &[
            "report",
            "tiers",
            "--from",
            "2026-10-01",
            "--format",
            "xlsx",
            "--output",
            book.to_str().unwrap(),
        ],
    );
    assert!(out.starts_with("wrote "), "{out}");
    assert!(std::fs::read(&book).unwrap().starts_with(b"PK\x03\x04"));
    let err = fails(d, &["report", "tiers", "--from", "2026-12-01"]);
    assert!(err.contains("from"), "{err}");
}

/// A small demo in `d` (60 loans on 2026-11-27) and the task wangfang takes next, as JSON.
#[test]
fn contact_rules_from_the_command_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let next = demo_and_next_task(d);
    let id = next["id"]
        .as_i64()
        .expect("a task for wangfang")
        .to_string();
    let shown: Value =
        serde_json::from_str(&ok(d, &["task", "show", &id, "--as", "wangfang", "--json"])).unwrap();
    let borrower = shown["borrower"]["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    let record = |at: &str, key: &str, tz: &str| {
        huifang_in(
            d,
            tz,
            &[
                "task",
                "record",
                &id,
                "--as",
                "wangfang",
                "--channel",
                "phone",
                "--outcome",
                "reached",
                "--idempotency-key",
                key,
                "--at",
                at,
            ],
        )
    };
    // 21:00 in Shanghai is refused whatever the machine's zone; 20:59 is recorded
    for tz in ["America/New_York", "UTC", "Asia/Shanghai"] {
        let out = record("2026-12-05T21:00:00+08:00", "late", tz);
        assert!(!out.status.success(), "recorded at 21:00 under TZ={tz}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("contact rule contact_hours")
                && err.contains("allowed again from 2026-12-06 08:00"),
            "{err}"
        );
    }
    let out = record("2026-12-05T12:59:00Z", "in-time", "America/New_York");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // opt-outs, and the refusals on record
    assert!(
        ok(
            d,
            &[
                "contact",
                "opt-out",
                &borrower,
                "--channel",
                "sms",
                "--as",
                "wangfang"
            ]
        )
        .contains("opted out of sms")
    );
    assert!(ok(d, &["contact", "opt-outs", &borrower, "--as", "wangfang"]).starts_with("sms"));
    assert!(
        fails(
            d,
            &[
                "contact",
                "opt-out",
                &borrower,
                "--channel",
                "fax",
                "--as",
                "wangfang"
            ]
        )
        .contains("channel")
    );
    let blocked = ok(d, &["contact", "blocked", "--as", "audit"]);
    assert_eq!(blocked.lines().count(), 3, "{blocked}");
    assert!(
        blocked.contains("contact_hours") && blocked.contains("wangfang"),
        "{blocked}"
    );

    // the rules as a document: shown, replaced by the administrator, a bad one refused
    let rules: Value = serde_json::from_str(&ok(d, &["contact", "rules"])).unwrap();
    assert_eq!(rules["hours"]["until"], "21:00");
    let mut earlier = rules.clone();
    earlier["hours"]["until"] = "20:00".into();
    std::fs::write(d.join("rules.json"), earlier.to_string()).unwrap();
    assert!(
        fails(
            d,
            &[
                "contact",
                "rules",
                "--set",
                "rules.json",
                "--as",
                "wangfang"
            ]
        )
        .contains("may not change the contact rules")
    );
    ok(
        d,
        &["contact", "rules", "--set", "rules.json", "--as", "admin"],
    );
    let mut bad = earlier.clone();
    bad["max_connected_collection_calls"] = 0.into();
    std::fs::write(d.join("bad.json"), bad.to_string()).unwrap();
    assert!(
        fails(
            d,
            &["contact", "rules", "--set", "bad.json", "--as", "admin"]
        )
        .contains("max_connected_collection_calls")
    );
    let rules: Value = serde_json::from_str(&ok(d, &["contact", "rules"])).unwrap();
    assert_eq!(rules["hours"]["until"], "20:00");
}

#[test]
fn message_templates_from_the_command_line() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    let next = demo_and_next_task(d);
    assert_eq!(ok(d, &["template", "list"]).lines().count(), 36);
    let shown: Value = serde_json::from_str(&ok(
        d,
        &[
            "template",
            "show",
            "welcome",
            "--lang",
            "en",
            "--channel",
            "email",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(shown["subject"], "Welcome");
    assert_eq!(shown["set_on"], Value::Null);
    assert!(fails(d, &["template", "show", "birthday"]).contains("event"));

    std::fs::write(d.join("bad.txt"), "{name}，请还 {promise_amount} 元").unwrap();
    let args = |file: &'static str, user: &'static str| {
        vec![
            "template",
            "set",
            "reminder_due",
            "--body-file",
            file,
            "--as",
            user,
        ]
    };
    assert!(fails(d, &args("bad.txt", "admin")).contains("{promise_amount} is not a field"));
    std::fs::write(
        d.join("good.txt"),
        "{name}您好，合同{loan}今天（{due_date}）请还 {amount} 元。",
    )
    .unwrap();
    assert!(
        fails(d, &args("good.txt", "wangfang")).contains("may not change the message templates")
    );
    assert!(ok(d, &args("good.txt", "admin")).contains("set 2026-11-27"));

    let loan = next["loan"].as_str().expect("the task's loan").to_string();
    let preview = ok(
        d,
        &[
            "template",
            "preview",
            "reminder_due",
            "--loan",
            &loan,
            "--as",
            "risk",
        ],
    );
    let n = loan.chars().count();
    let masked: String = loan
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 4 >= n { c } else { '*' })
        .collect();
    assert!(n > 4 && masked.starts_with('*'), "{loan}");
    assert!(
        preview.contains(&format!("您好，合同{masked}今天（20")) && preview.contains("）请还 "),
        "{preview}"
    );
    assert!(
        !preview.contains(&loan),
        "the loan number is masked: {preview}"
    );
}

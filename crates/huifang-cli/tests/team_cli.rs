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

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn huifang(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_huifang"))
        .arg("--db")
        .arg(&db)
        .args(args)
        .current_dir(dir)
        .env_remove("HUIFANG_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn huifang");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = huifang(dir, args, None);
    assert!(
        out.status.success(),
        "huifang {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = huifang(dir, args, None);
    assert!(!out.status.success(), "huifang {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

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

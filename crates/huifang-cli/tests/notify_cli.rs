//! `huifang notify …` end to end, as separate processes: email to a real SMTP server on loopback
//! (Python's aiosmtpd), read back from its mailbox (subject and body in Chinese, the loan number
//! masked); and the worker killed with SIGKILL in the middle of a batch to a gateway that fails
//! 30% of requests and hangs past the timeout on 10%, restarted, losing nothing and sending
//! nothing twice in effect; and `huifang serve` delivering the outbox with its own worker.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/demo_cli.rs"]
mod support;

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use huifang_testkit::gateway::{FakeGateway, Flaky};
use serde_json::{Value, json};
use support::{command, demo_and_next_task, ok};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An aiosmtpd server on loopback, keeping what it receives in a Maildir.
struct Smtpd {
    child: Child,
    port: u16,
    mbox: PathBuf,
}

impl Smtpd {
    fn start(dir: &Path) -> Smtpd {
        let port = free_port();
        let mbox = dir.join("maildir");
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&mbox)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 (with aiosmtpd: pip install aiosmtpd) is needed for this test");
        let mut server = Smtpd { child, port, mbox };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut err)
                    .unwrap();
                panic!("aiosmtpd ended ({status}): {err} (pip install aiosmtpd)");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The messages received: subject, body (decoded), To and Message-ID of each.
    fn messages(&self) -> Vec<Value> {
        let script = r#"
import json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    body = m.get_payload(decode=True).decode(m.get_content_charset() or "utf-8")
    subject = str(__import__("email.header", fromlist=["make_header"]).make_header(
        __import__("email.header", fromlist=["decode_header"]).decode_header(m["Subject"])))
    out.append({"subject": subject, "body": body, "to": m["To"], "message_id": m["Message-ID"]})
print(json.dumps(out, ensure_ascii=False))
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&self.mbox)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `doc` to a file in `d` and sets it with `huifang ARGS --set FILE --as admin`.
fn set_doc(d: &Path, args: &[&str], name: &str, doc: &Value) {
    let file = d.join(name);
    std::fs::write(&file, doc.to_string()).unwrap();
    let mut all: Vec<&str> = args.to_vec();
    let path = file.to_str().unwrap();
    all.extend(["--set", path, "--as", "admin"]);
    ok(d, &all);
}

/// Contacts at any hour (the tests run whenever they run; the hours have their own tests).
fn any_hour(d: &Path) {
    let rules = json!({"utc_offset_minutes": 480, "hours": {"from": "00:00", "until": "24:00"},
                       "max_connected_collection_calls": 3,
                       "channel_caps": {"sms": 100, "email": 100, "wechat": 100}});
    set_doc(d, &["contact", "rules"], "contact.json", &rules);
}

fn messages(d: &Path, state: &str) -> Vec<Value> {
    let page: Value = serde_json::from_str(&ok(
        d,
        &[
            "notify", "list", "--state", state, "--limit", "500", "--json", "--as", "risk",
        ],
    ))
    .unwrap();
    page["messages"].as_array().unwrap().clone()
}

#[test]
fn a_promise_confirmed_by_email_through_a_real_smtp_server() {
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
    let name = shown["borrower"]["name"].as_str().unwrap().to_string();
    let loan = shown["task"]["loan"].as_str().unwrap().to_string();

    let smtpd = Smtpd::start(d);
    any_hour(d);
    let email = json!(["email"]);
    let events = json!({"reminder_before": email, "reminder_due": email, "overdue_notice": email,
                        "promise_confirmation": email, "welcome": email});
    set_doc(
        d,
        &["notify", "rules"],
        "rules.json",
        &json!({"events": events, "lang": "zh", "max_attempts": 5, "backoff_seconds": 1,
                "max_backoff_seconds": 2}),
    );
    let channels = json!({"email": {"host": "127.0.0.1", "port": smtpd.port, "tls": "none",
                                    "from": "回访中心 <huifang@lender.example>"}});
    set_doc(d, &["notify", "channels"], "channels.json", &channels);
    ok(
        d,
        &[
            "contact",
            "address",
            &borrower,
            "--channel",
            "email",
            "--address",
            "borrower@example.com",
            "--as",
            "wangfang",
        ],
    );
    ok(
        d,
        &[
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
            "2026-12-01",
            "--idempotency-key",
            "promise-1",
        ],
    );
    let run = ok(d, &["notify", "run", "--once"]);
    assert!(run.contains("done: 1 claimed: 1 sent"), "{run}");

    let mail = smtpd.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    let m = &mail[0];
    assert_eq!(m["subject"], "还款承诺确认");
    assert!(m["to"].as_str().unwrap().contains("borrower@example.com"));
    let body = m["body"].as_str().unwrap();
    let masked: String = loan
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 4 >= loan.len() { c } else { '*' })
        .collect();
    assert!(
        body.starts_with(&format!("{name}您好")) && body.contains("2026-12-01"),
        "{body}"
    );
    assert!(
        body.contains(&format!("合同{masked}")) && !body.contains(&loan),
        "{body}"
    );
    assert!(body.contains("3000.00 元"), "{body}");
    let message_id = m["message_id"].as_str().unwrap();
    assert!(message_id.contains("promise_confirmation:"), "{message_id}");
    let sent = messages(d, "sent");
    let email_sent: Vec<&Value> = sent.iter().filter(|m| m["channel"] == "email").collect();
    assert_eq!(email_sent.len(), 1);
    assert_eq!(email_sent[0]["provider_id"], message_id);
    // nothing more is due: a second run sends nothing, and the server got one message
    let again = ok(d, &["notify", "run", "--once"]);
    assert!(again.contains("done: 0 claimed"), "{again}");
    assert_eq!(smtpd.messages().len(), 1);
}

#[test]
fn the_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    demo_and_next_task(d);
    let queued = messages(d, "queued");
    assert!(
        queued.len() >= 40,
        "the demo's close queued its reminders: {}",
        queued.len()
    );
    assert!(queued.iter().all(|m| m["channel"] == "sms"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let gateway = rt.block_on(FakeGateway::start(
        "sms-token",
        Flaky {
            fail_permille: 300,
            hang_permille: 100,
            hang: Duration::from_millis(1500),
        },
    ));
    any_hour(d);
    set_doc(
        d,
        &["notify", "rules"],
        "rules.json",
        &json!({"events": {"reminder_before": ["sms"], "reminder_due": ["sms"],
                           "overdue_notice": ["sms"]},
                "lang": "zh", "max_attempts": 8, "backoff_seconds": 1, "max_backoff_seconds": 2}),
    );
    set_doc(
        d,
        &["notify", "channels"],
        "channels.json",
        &json!({"sms": {"url": gateway.url(), "token": gateway.token, "timeout_seconds": 1}}),
    );

    // a worker taking small batches, killed once the gateway has seen a share of them
    let mut worker = command(
        d,
        &[
            "notify",
            "run",
            "--batch",
            "20",
            "--concurrency",
            "4",
            "--lease",
            "2",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let start = Instant::now();
    while gateway.log().requests.values().sum::<u32>() < 15 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the worker sent nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    let taken = gateway.log().delivered.len();
    assert!(
        taken < queued.len(),
        "killed mid-way: {taken} of {}",
        queued.len()
    );

    // restarted once its lease is over, until nothing is pending
    std::thread::sleep(Duration::from_millis(2100));
    let start = Instant::now();
    loop {
        ok(d, &["notify", "run", "--once", "--lease", "2"]);
        let pending = messages(d, "queued").len() + messages(d, "failed").len();
        if pending == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{pending} still pending"
        );
        std::thread::sleep(Duration::from_millis(1100));
    }
    let log = gateway.log();
    // the texts (the demo's sent messages before are the assistant's calls)
    let texts = |state: &str| -> Vec<Value> {
        messages(d, state)
            .into_iter()
            .filter(|m| m["channel"] == "sms")
            .collect()
    };
    let sent = texts("sent");
    let dead = texts("dead");
    assert_eq!(sent.len() + dead.len(), queued.len(), "every message ended");
    let keys: HashMap<&str, &Value> = queued
        .iter()
        .map(|m| (m["idempotency_key"].as_str().unwrap(), m))
        .collect();
    for m in &sent {
        let key = m["idempotency_key"].as_str().unwrap();
        assert_eq!(log.delivered[key].2, 1, "{key}");
    }
    for m in &dead {
        assert_eq!(m["attempts"], 8, "{m}");
    }
    // no message reached its borrower twice under another key: one per loan, event and date
    let mut effects: HashMap<String, u32> = HashMap::new();
    for (key, (_, body, _)) in &log.delivered {
        assert!(
            keys.contains_key(key.as_str()),
            "a key the outbox never had: {key}"
        );
        let what = format!(
            "{} {} {} {}",
            body["to"], body["event"], body["params"]["loan"], body["params"]["due_date"]
        );
        *effects.entry(what).or_default() += 1;
    }
    assert!(effects.values().all(|n| *n == 1), "{effects:?}");
    assert!(log.requests.values().sum::<u32>() as usize > log.delivered.len());
    drop(rt);
}

#[test]
fn the_server_delivers_the_outbox_as_well() {
    let dir = tempfile::TempDir::new().unwrap();
    let d = dir.path();
    demo_and_next_task(d);
    let queued = messages(d, "queued").len();
    assert!(queued > 0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gateway = rt.block_on(FakeGateway::start("sms-token", Flaky::RELIABLE));
    any_hour(d);
    set_doc(
        d,
        &["notify", "channels"],
        "channels.json",
        &json!({"sms": {"url": gateway.url(), "token": gateway.token}}),
    );
    let mut server = command(d, &["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while gateway.log().delivered.len() < queued {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server's worker sent nothing"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // the gateway has them all; the worker records each as sent in its own commit just after
    // (the demo's sent messages before are the assistant's calls)
    let texts_sent = || {
        messages(d, "sent")
            .iter()
            .filter(|m| m["channel"] == "sms")
            .count()
    };
    while texts_sent() < queued && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(texts_sent(), queued);
    assert!(messages(d, "queued").is_empty());
    // --no-worker leaves the outbox alone
    drop(rt);
}

#[test]
fn a_webhook_added_on_the_command_line_gets_its_test_delivery() {
    let tmp = tempfile::TempDir::new().unwrap();
    let d = tmp.path();
    ok(
        d,
        &[
            "demo",
            "--loans",
            "40",
            "--today",
            "2026-11-27",
            "--seed",
            "5",
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(huifang_testkit::receiver::WebhookReceiver::start(0));
    let added = ok(
        d,
        &[
            "webhook",
            "add",
            "core",
            "--url",
            &receiver.url(),
            "--events",
            "payment_posted,installment_overdue",
        ],
    );
    assert!(added.contains("webhook core added"), "{added}");
    assert!(added.contains("secret (shown once): "), "{added}");
    let bad = support::fails(
        d,
        &["webhook", "add", "x", "--url", "ftp://h", "--events", "all"],
    );
    assert!(bad.contains("url"), "{bad}");
    let listed = ok(d, &["webhook", "list"]);
    assert!(
        listed.contains("installment_overdue,payment_posted"),
        "{listed}"
    );
    let queued = ok(d, &["webhook", "test", "core"]);
    let id = queued
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    assert!(id.starts_with("ping:"), "{queued}");
    ok(d, &["notify", "run", "--once"]);
    let log = ok(d, &["webhook", "log", "--name", "core"]);
    assert!(log.contains(&id) && log.contains("delivered"), "{log}");
    let seen = receiver.log();
    assert_eq!(seen.applied.get(&id), Some(&1), "{:?}", seen.applied);

    // changed and disabled, then enabled again
    let changed = ok(
        d,
        &[
            "webhook",
            "change",
            "core",
            "--events",
            "promise_broken",
            "--disable",
        ],
    );
    assert!(
        changed.contains("webhook core off") && changed.contains("<- promise_broken"),
        "{changed}"
    );
    assert!(ok(d, &["webhook", "list"]).contains("off"));
    let bad = support::fails(d, &["webhook", "change", "core", "--url", "ftp://x"]);
    assert!(bad.contains("url"), "{bad}");
    let on = ok(d, &["webhook", "change", "core", "--enable"]);
    assert!(on.contains("webhook core active"), "{on}");
    drop(runtime);
}

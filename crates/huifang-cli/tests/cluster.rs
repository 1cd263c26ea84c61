//! A production deployment on one PostgreSQL database: three `huifang worker` processes share
//! thirty days of closes while agents record outcomes through two `huifang serve` processes,
//! and one worker is killed (SIGKILL) in the middle of a day. The book they leave equals the
//! book one process makes by closing the same days with the same outcomes recorded between
//! them. On a SQLite file, a worker and a second server are refused. A server given a hot standby
//! with `--read-db` answers the reports from it (as of the day the standby has replayed, shown by
//! pausing its replay) and everything else from the primary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/demo_cli.rs"]
mod support;

use huifang_testkit::PgDb;
use serde_json::Value;
use sqlx::{Connection, Row};
use support::{Server, serve_by};
use tempfile::TempDir;

const TODAY: &str = "2026-11-27";
const THROUGH: &str = "2026-12-27";
const DAYS: i64 = 30;

fn huifang(dir: &Path, db: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_huifang"));
    c.arg("--db")
        .arg(db)
        .args(args)
        .current_dir(dir)
        .env_remove("HUIFANG_DATABASE_URL")
        .stdin(Stdio::null());
    c
}

/// A command that must fail: its standard error.
fn refused(dir: &Path, db: &str, args: &[&str]) -> String {
    let out = huifang(dir, db, args).output().unwrap();
    assert!(!out.status.success(), "huifang {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok(dir: &Path, db: &str, args: &[&str]) -> String {
    let out = huifang(dir, db, args).output().unwrap();
    assert!(
        out.status.success(),
        "huifang {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Contacts at any hour: the test runs whenever it runs.
fn contacts_at_any_hour(dir: &Path, db: &str) {
    std::fs::write(
        dir.join("contact.json"),
        r#"{"utc_offset_minutes": 480, "hours": {"from": "00:00", "until": "24:00"}, "max_connected_collection_calls": 3, "channel_caps": {"sms": 3, "email": 3, "wechat": 3}}"#,
    )
    .unwrap();
    ok(
        dir,
        db,
        &["contact", "rules", "--set", "contact.json", "--as", "admin"],
    );
}

/// A day's API token of `user`.
fn token(dir: &Path, db: &str, user: &str) -> String {
    ok(dir, db, &["user", "token", user, "--days", "1"])
        .trim()
        .to_string()
}

/// The URL a test needs in `name`; the test fails, saying what it needs, when it is unset.
fn required_env(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: this test needs {what}"))
}

/// The database a PostgreSQL URL names.
fn database_name(url: &str) -> &str {
    url.rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap()
}

/// A server on `db`, its log in `log`.
fn serve(dir: &Path, db: &str, log: &str) -> (Server, String) {
    let mut c = huifang(
        dir,
        db,
        &["serve", "--listen", "127.0.0.1:0", "--no-worker"],
    );
    c.stderr(std::fs::File::create(dir.join(log)).unwrap());
    serve_by(c)
}

/// The servers' logs' error lines.
fn logs(dir: &Path) -> String {
    ["s1.log", "s2.log"]
        .iter()
        .map(|l| std::fs::read_to_string(dir.join(l)).unwrap_or_default())
        .flat_map(|t| {
            t.lines()
                .filter(|l| l.contains("ERROR") || l.contains("error"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn worker(dir: &Path, db: &str, log: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "worker",
        "--through",
        THROUGH,
        "--exit-when-closed",
        "--chunk-loans",
        "5",
        "--no-background",
    ];
    args.extend(extra);
    let out = std::fs::File::create(dir.join(log)).unwrap();
    let err = out.try_clone().unwrap();
    Server(
        huifang(dir, db, &args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap(),
    )
}

/// An HTTP/1.1 request; the status and the body.
fn http(
    addr: &str,
    method: &str,
    target: &str,
    token: &str,
    extra: &str,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // chunked answers: the JSON is the first chunk's payload
    let body = match body.split_once("\r\n") {
        Some((len, rest)) if u64::from_str_radix(len.trim(), 16).is_ok() => rest,
        _ => body,
    };
    (status, body.to_string())
}

/// Rows of a query, each column as text.
fn rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let out = rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<Option<String>, _>(i)
                                .unwrap()
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .collect();
            let _ = conn.close().await;
            out
        })
}

fn one(url: &str, sql: &str) -> String {
    rows(url, sql).remove(0).remove(0)
}

/// What the close and the team leave in the book, compared between two databases: counts and
/// digests of the loans' state rows, events, status history, tasks, warnings, messages,
/// interactions and ledger leaves, and the closed days. A task is compared without its id and
/// its assignee, an assigned or started task as open: taking the next task hands others out by
/// the queue's strategy, and those hand-outs are the team's, not the close's (the reference
/// book replays only the tasks worked). An unreachable borrower's escalation names the task it
/// follows by id, and ids are each database's own (a rolled-back transaction, a killed
/// coordinator's among them, spends sequence numbers): such keys are compared without the id.
const BOOK: &str = "SELECT \
  (SELECT COUNT(*) FROM loan_events)::text, \
  (SELECT COUNT(*) FROM status_history)::text, \
  (SELECT COUNT(*) FROM tasks)::text, \
  (SELECT COUNT(*) FROM warnings)::text, \
  (SELECT COUNT(*) FROM outbox)::text, \
  (SELECT COUNT(*) FROM interactions)::text, \
  (SELECT COUNT(*) FROM ledger_leaves)::text, \
  (SELECT COUNT(*) FROM closed_days)::text, \
  (SELECT value FROM settings WHERE key = 'business_date'), \
  (SELECT md5(string_agg(concat_ws('|', loan_id, lifecycle, bucket, classification, warning_level, warning_rule, next_event_on, evaluated_on, regexp_replace(open_task_keys, 'escalate_unreachable:[0-9]+', 'escalate_unreachable:#', 'g'), next_continuous_on, outstanding_principal_fen, oldest_unpaid_due), ',' ORDER BY loan_id)) FROM loan_state), \
  (SELECT md5(string_agg(concat_ws('|', loan_id, business_date, kind, details), ',' ORDER BY loan_id, business_date, kind, details)) FROM loan_events), \
  (SELECT md5(string_agg(concat_ws('|', loan_id, business_date, lifecycle, bucket, classification, warning_level, cause), ',' ORDER BY loan_id, business_date, cause, lifecycle, bucket)) FROM status_history), \
  (SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (SELECT concat_ws('|', loan_id, kind, regexp_replace(reason_key, 'escalate_unreachable:[0-9]+', 'escalate_unreachable:#', 'g'), queue_code, CASE WHEN state IN ('assigned', 'in_progress') THEN 'open' ELSE state END, created_on, due_on, window_end_on, attempts, outcome, closed_on, close_reason) AS x FROM tasks) t), \
  (SELECT md5(string_agg(concat_ws('|', loan_id, level, rule, raised_on, cleared_on), ',' ORDER BY loan_id, raised_on, rule, level)) FROM warnings), \
  (SELECT md5(string_agg(concat_ws('|', loan_id, business_date, outcome), ',' ORDER BY loan_id, business_date, outcome)) FROM interactions)";

/// The id in the book at `other` of task `id` of the book at `url`: the task of the same loan,
/// kind, creation date and reason key, where an unreachable borrower's escalation names the
/// task it follows by that task's id in its own book.
fn same_task(url: &str, other: &str, id: &str) -> String {
    let task = rows(
        url,
        &format!("SELECT loan_id::text, reason_key, created_on, kind FROM tasks WHERE id = {id}"),
    )
    .remove(0);
    let key = match task[1].strip_prefix("escalate_unreachable:") {
        Some(followed) => format!("escalate_unreachable:{}", same_task(url, other, followed)),
        None => task[1].clone(),
    };
    let found = rows(
        other,
        &format!(
            "SELECT id::text FROM tasks WHERE loan_id = {} AND reason_key = '{key}' AND created_on = '{}' AND kind = '{}'",
            task[0], task[2], task[3]
        ),
    );
    assert_eq!(
        found.len(),
        1,
        "task {id} ({task:?}) in the other book: {found:?}"
    );
    found[0][0].clone()
}

const BOOK_COLUMNS: [&str; 15] = [
    "events",
    "status history",
    "tasks",
    "warnings",
    "messages",
    "interactions",
    "ledger leaves",
    "closed days",
    "business date",
    "state rows",
    "events digest",
    "history digest",
    "tasks digest",
    "warnings digest",
    "interactions digest",
];

fn book(url: &str) -> BTreeMap<&'static str, String> {
    BOOK_COLUMNS
        .iter()
        .copied()
        .zip(rows(url, BOOK).remove(0))
        .collect()
}

/// An outcome an agent recorded: the task, its answer's status.
#[derive(Debug, Clone)]
struct Recorded {
    agent: &'static str,
    task: i64,
    status: u16,
}

const AGENTS: [&str; 8] = [
    "wangfang",
    "lina",
    "zhangwei",
    "liuyang",
    "chenjing",
    "yanglei",
    "zhaomin",
    "huangqiang",
];

#[test]
#[ignore = "needs PostgreSQL: set HUIFANG_TEST_PG_URL and run with --run-ignored all / --include-ignored"]
fn three_workers_and_two_servers_close_thirty_days_as_one_process_would() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    let shared = PgDb::create_blocking();
    let db = shared.url.as_str();
    ok(
        dir,
        db,
        &["demo", "--loans", "500", "--today", TODAY, "--seed", "23"],
    );
    contacts_at_any_hour(dir, db);
    let tokens: Vec<String> = AGENTS.iter().map(|a| token(dir, db, a)).collect();
    let audit = token(dir, db, "audit");
    // the same book for the one-process close, copied before anything else happens
    let reference = shared.copy_blocking();
    let first_interaction: i64 = one(db, "SELECT COALESCE(MAX(id), 0)::text FROM interactions")
        .parse()
        .unwrap();

    let (_s1, addr1) = serve(dir, db, "s1.log");
    let (_s2, addr2) = serve(dir, db, "s2.log");
    let servers = [addr1, addr2];

    // agents work their queues through both servers, one after the other, until told to stop
    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(Mutex::new(Vec::<Recorded>::new()));
    let claims = Arc::new(Mutex::new(Vec::<(&'static str, i64)>::new()));
    let agent_token = tokens[0].clone();
    let failed_takes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let agents: Vec<_> = AGENTS
        .iter()
        .zip(tokens)
        .map(|(&agent, token)| {
            let logdir = dir.to_path_buf();
            let failed_takes = Arc::clone(&failed_takes);
            let (stop, recorded, claims, servers) = (
                Arc::clone(&stop),
                Arc::clone(&recorded),
                Arc::clone(&claims),
                servers.clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let server = &servers[n % 2];
                    n += 1;
                    let (status, body) = http(server, "POST", "/api/v1/tasks/next", &token, "", "");
                    if status == 500 {
                        // a take that failed writes nothing (its transaction is rolled back):
                        // the agent asks again, as a client does; counted, its cause printed,
                        // and at most a few accepted
                        eprintln!("{agent} next: {body}\n{}", logs(&logdir));
                        let before = failed_takes.fetch_add(1, Ordering::SeqCst);
                        assert!(before < 3, "{agent}: the next task keeps failing");
                        continue;
                    }
                    assert_eq!(status, 200, "{agent} next: {body}\n{}", logs(&logdir));
                    let answer: Value = serde_json::from_str(&body).unwrap();
                    let Some(task) = answer["task"]["id"].as_i64() else {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    claims.lock().unwrap().push((agent, task));
                    // the outcome through the other server
                    let outcome = if n.is_multiple_of(3) {
                        "reached"
                    } else {
                        "no_answer"
                    };
                    let (status, body) = http(
                        &servers[n % 2],
                        "POST",
                        &format!("/api/v1/tasks/{task}/outcome"),
                        &token,
                        &format!("Idempotency-Key: {agent}-{n}\r\n"),
                        &format!(r#"{{"channel": "phone", "outcome": "{outcome}"}}"#),
                    );
                    assert!(
                        status == 201 || status == 409,
                        "{agent} outcome of task {task}: {status} {body}\n{}",
                        logs(&logdir)
                    );
                    recorded.lock().unwrap().push(Recorded {
                        agent,
                        task,
                        status,
                    });
                    std::thread::sleep(Duration::from_millis(30));
                }
            })
        })
        .collect();

    // two workers close the days; a third joins in the middle, holding each chunk it takes for a
    // while, and is killed while it holds one
    let started = Instant::now();
    let mut w1 = worker(dir, db, "w1.log", &[]);
    let mut w2 = worker(dir, db, "w2.log", &[]);
    let date = || one(db, "SELECT value FROM settings WHERE key = 'business_date'");
    while date().as_str() < "2026-12-05" {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the close does not move"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut w3 = worker(dir, db, "w3.log", &["--chunk-pause-ms", "8000"]);
    let pid3 = w3.0.id();
    let holding = loop {
        let doing = rows(
            db,
            &format!("SELECT doing FROM processes WHERE kind = 'worker' AND pid = {pid3}"),
        );
        if let Some(d) = doing.first().map(|r| r[0].clone())
            && d.starts_with("planning chunk")
        {
            break d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "worker 3 never took a chunk"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let killed_on = one(db, "SELECT value FROM settings WHERE key = 'business_date'");
    w3.0.kill().unwrap(); // SIGKILL
    w3.0.wait().unwrap();
    for (name, w) in [("w1", &mut w1), ("w2", &mut w2)] {
        let status = w.0.wait().unwrap();
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap();
        assert!(status.success(), "worker {name} failed: {log}");
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for a in agents {
        a.join().unwrap();
    }
    let took = started.elapsed();

    // the servers and workers as an auditor sees them, through either server (an agent may not)
    let (status, body) = http(&servers[1], "GET", "/api/v1/workers", &audit, "", "");
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).unwrap();
    let alive = |kind: &str| {
        seen["processes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == kind && p["alive"] == true)
            .count()
    };
    assert_eq!(alive("serve"), 2, "{seen}");
    assert_eq!(seen["close"]["day"], THROUGH, "{seen}");
    assert_eq!(seen["close"]["state"], "done", "{seen}");
    let (status, _) = http(&servers[0], "GET", "/api/v1/workers", &agent_token, "", "");
    assert_eq!(status, 403);

    // every day closed once, the killed worker's day among them
    assert_eq!(
        one(db, "SELECT value FROM settings WHERE key = 'business_date'"),
        THROUGH
    );
    assert_eq!(
        rows(
            db,
            "SELECT COUNT(*)::text, COUNT(DISTINCT business_date)::text, MIN(business_date), MAX(business_date) FROM closed_days WHERE business_date > '2026-11-27'"
        ),
        vec![vec![
            DAYS.to_string(),
            DAYS.to_string(),
            "2026-11-28".to_string(),
            THROUGH.to_string()
        ]]
    );
    let runs = rows(
        db,
        "SELECT day, state, coordinator, planners FROM close_runs ORDER BY id",
    );
    let done: Vec<&Vec<String>> = runs.iter().filter(|r| r[1] == "done").collect();
    let days: BTreeSet<&str> = done.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        done.len(),
        usize::try_from(DAYS).unwrap(),
        "one run done per day: {runs:?}"
    );
    assert_eq!(days.len(), done.len());
    let killed = format!(":{pid3}:");
    for r in &done {
        assert!(
            !r[2].contains(&killed) && !r[3].contains(&killed),
            "the killed worker finished nothing: {r:?}"
        );
    }
    // the work was shared: both surviving workers planned chunks
    let planners: BTreeSet<String> = done
        .iter()
        .flat_map(|r| {
            r[3].lines()
                .filter_map(|l| l.split('=').next().map(str::to_string))
        })
        .collect();
    assert!(planners.len() >= 2, "chunks planned by {planners:?}");

    // no task taken by two agents, no outcome lost
    let claims = claims.lock().unwrap().clone();
    let mut holder: BTreeMap<i64, &str> = BTreeMap::new();
    for (agent, task) in &claims {
        let first = *holder.entry(*task).or_insert(agent);
        assert_eq!(first, *agent, "task {task} taken by {first} and {agent}");
    }
    let recorded = recorded.lock().unwrap().clone();
    let landed: Vec<&Recorded> = recorded.iter().filter(|r| r.status == 201).collect();
    assert!(
        landed.len() >= 40,
        "only {} outcomes recorded",
        landed.len()
    );
    let kept = rows(
        db,
        &format!(
            "SELECT i.task_id::text, u.username, i.business_date FROM interactions i JOIN users u ON u.id = i.user_id WHERE i.id > {first_interaction} ORDER BY i.id"
        ),
    );
    assert_eq!(
        kept.len(),
        landed.len(),
        "every outcome answered 201 is in the book"
    );
    for r in &landed {
        assert!(
            kept.iter()
                .any(|k| k[0] == r.task.to_string() && k[1] == r.agent),
            "{r:?} is not in the book"
        );
    }
    let dates: BTreeSet<&str> = kept.iter().map(|k| k[2].as_str()).collect();
    assert!(
        dates.len() >= 3,
        "the outcomes landed between the closes: {dates:?}"
    );

    // the log holds together
    ok(dir, db, &["ledger", "verify"]);
    let status = ok(dir, db, &["status", "--workers"]);
    assert!(status.contains("close of 2026-12-27: done"), "{status}");

    // the same book closed by one process, the same outcomes recorded between the same days
    let mine = rows(
        db,
        &format!(
            "SELECT i.business_date, i.task_id::text, i.outcome, u.username \
             FROM interactions i JOIN users u ON u.id = i.user_id \
             WHERE i.id > {first_interaction} ORDER BY i.id"
        ),
    );
    let one_db = reference.url.as_str();
    let replay = |on: &str| {
        for (n, r) in mine.iter().enumerate().filter(|(_, r)| r[0] == on) {
            let id = same_task(db, one_db, &r[1]);
            // taken as `tasks/next` takes it, then recorded
            rows(
                one_db,
                &format!(
                    "UPDATE tasks SET assignee_id = (SELECT id FROM users WHERE username = '{}'), state = 'in_progress' WHERE id = {id} AND assignee_id IS NULL RETURNING id::text",
                    r[3]
                ),
            );
            ok(
                dir,
                one_db,
                &[
                    "task",
                    "record",
                    &id,
                    "--as",
                    &r[3],
                    "--outcome",
                    &r[2],
                    "--idempotency-key",
                    &format!("replay-{n}"),
                ],
            );
        }
    };
    let mut day = chrono::NaiveDate::parse_from_str(TODAY, "%Y-%m-%d").unwrap();
    for _ in 0..DAYS {
        replay(&day.to_string());
        day = day.succ_opt().unwrap();
        ok(dir, one_db, &["run-daily", "--through", &day.to_string()]);
    }
    replay(THROUGH);
    let (shared_book, one_book) = (book(db), book(one_db));
    if shared_book != one_book {
        // the rows that differ, to say where
        let state = "SELECT concat_ws('|', loan_id, lifecycle, bucket, classification, warning_level, warning_rule, next_event_on, evaluated_on, regexp_replace(open_task_keys, 'escalate_unreachable:[0-9]+', 'escalate_unreachable:#', 'g'), next_continuous_on, outstanding_principal_fen, oldest_unpaid_due) FROM loan_state";
        let tasks = "SELECT concat_ws('|', loan_id, kind, regexp_replace(reason_key, 'escalate_unreachable:[0-9]+', 'escalate_unreachable:#', 'g'), queue_code, CASE WHEN state IN ('assigned', 'in_progress') THEN 'open' ELSE state END, created_on, due_on, window_end_on, attempts, outcome, closed_on, close_reason) FROM tasks";
        for sql in [state, tasks] {
            let (a, b): (BTreeSet<Vec<String>>, BTreeSet<Vec<String>>) = (
                rows(db, sql).into_iter().collect(),
                rows(one_db, sql).into_iter().collect(),
            );
            let only_a: Vec<_> = a.difference(&b).take(6).collect();
            let only_b: Vec<_> = b.difference(&a).take(6).collect();
            eprintln!("{sql}\n  shared only: {only_a:?}\n  one process only: {only_b:?}");
        }
        // the history of the loans whose state differs, in both books
        let state_ids =
            |url: &str| -> BTreeSet<Vec<String>> { rows(url, state).into_iter().collect() };
        let (a, b) = (state_ids(db), state_ids(one_db));
        let differing: BTreeSet<String> = a
            .symmetric_difference(&b)
            .filter_map(|r| r.first()?.split('|').next().map(str::to_string))
            .take(3)
            .collect();
        for loan in differing {
            for (name, url) in [("shared", db), ("one process", one_db)] {
                for sql in [
                    format!(
                        "SELECT concat_ws('|', business_date, kind, details) FROM loan_events WHERE loan_id = {loan} AND business_date >= '{TODAY}' ORDER BY business_date, kind"
                    ),
                    format!(
                        "SELECT concat_ws('|', id, kind, reason_key, state, created_on, due_on, attempts, outcome, closed_on, close_reason) FROM tasks WHERE loan_id = {loan} AND (closed_on IS NULL OR closed_on >= '{TODAY}') ORDER BY created_on, reason_key"
                    ),
                    format!(
                        "SELECT concat_ws('|', id, business_date, outcome, channel) FROM interactions WHERE loan_id = {loan} AND business_date >= '{TODAY}' ORDER BY id"
                    ),
                    format!(
                        "SELECT concat_ws('|', loan_id, level, rule, raised_on, cleared_on) FROM warnings WHERE loan_id = {loan} ORDER BY raised_on"
                    ),
                ] {
                    eprintln!("{name}, loan {loan}: {sql}\n  {:?}", rows(url, &sql));
                }
            }
        }
    }
    assert_eq!(
        shared_book, one_book,
        "the shared close differs from one process's"
    );
    eprintln!(
        "30 days closed by 3 workers in {:.1} s ({} outcomes through 2 servers meanwhile, {} takes of the next task failed and asked again; worker 3 killed on {killed_on} while {holding})",
        took.as_secs_f64(),
        landed.len(),
        failed_takes.load(Ordering::SeqCst)
    );
}

#[test]
fn on_a_sqlite_file_a_worker_and_a_second_server_are_refused() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    let db = format!("sqlite://{}", dir.join("book.db").display());
    ok(dir, &db, &["init", "--business-date", TODAY]);
    let err = refused(dir, &db, &["worker", "--exit-when-closed"]);
    assert!(err.contains("huifang worker needs PostgreSQL"), "{err}");

    let (_first, _) = serve(dir, &db, "first.log");
    let err = refused(dir, &db, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(
        err.contains("another server") && err.contains("several servers need PostgreSQL"),
        "{err}"
    );
    // the status shows the one server
    let status = ok(dir, &db, &["status", "--workers"]);
    assert!(status.contains("serve"), "{status}");
}

/// One column of the first row of a query, or `None` while the database cannot answer it (not
/// yet on a standby).
fn try_one(url: &str, sql: &str) -> Option<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
            let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_optional(&mut conn)
                .await
                .ok()??;
            let value = row.try_get::<Option<String>, _>(0).ok()?;
            let _ = conn.close().await;
            value
        })
}

/// Waits up to a minute for `sql` on `url` to answer `want`.
fn wait_for(url: &str, sql: &str, want: &str) {
    let start = Instant::now();
    while try_one(url, sql).as_deref() != Some(want) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{sql} on {url} did not answer {want:?} within a minute (last: {:?})",
            try_one(url, sql)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The standby's replay, resumed when dropped (the test pauses it).
struct Replay(String);

impl Replay {
    fn pause(url: &str) -> Replay {
        one(url, "SELECT 'paused' FROM pg_wal_replay_pause()");
        wait_for(url, "SELECT pg_get_wal_replay_pause_state()", "paused");
        Replay(url.to_string())
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = try_one(&self.0, "SELECT 'resumed' FROM pg_wal_replay_resume()");
    }
}

const BUSINESS_DATE: &str = "SELECT value FROM settings WHERE key = 'business_date'";

#[test]
#[ignore = "needs PostgreSQL and a hot standby of it: set HUIFANG_TEST_PG_URL and HUIFANG_TEST_PG_REPLICA_URL (scripts/pg-replica makes one) and run with --run-ignored all / --include-ignored"]
fn with_a_read_replica_the_reports_read_the_standby_and_the_writes_the_primary() {
    let standby = required_env(
        "HUIFANG_TEST_PG_REPLICA_URL",
        "a hot standby of the server at HUIFANG_TEST_PG_URL (scripts/pg-replica makes one and prints its URL)",
    );
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    let shared = PgDb::create_blocking();
    let db = shared.url.as_str();
    ok(
        dir,
        db,
        &["demo", "--loans", "200", "--today", TODAY, "--seed", "29"],
    );
    let risk = token(dir, db, "risk");
    let agent = token(dir, db, AGENTS[0]);
    let replica = huifang_testkit::with_database(&standby, database_name(db));
    assert_eq!(
        one(&standby, "SELECT pg_is_in_recovery()::text"),
        "true",
        "{standby} is not a standby"
    );
    // the standby has replayed the book, tokens included
    wait_for(&replica, BUSINESS_DATE, TODAY);
    wait_for(
        &replica,
        "SELECT count(*)::text FROM sessions",
        &one(db, "SELECT count(*)::text FROM sessions"),
    );

    // the standby stops replaying; the primary closes a day it will not see until it resumes
    let replay = Replay::pause(&replica);
    let tomorrow = "2026-11-28";
    ok(dir, db, &["run-daily", "--through", tomorrow]);
    assert_eq!(one(db, BUSINESS_DATE), tomorrow);

    let mut c = huifang(
        dir,
        db,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-worker",
            "--read-db",
            &replica,
        ],
    );
    c.stderr(std::fs::File::create(dir.join("replica.log")).unwrap());
    let (_server, addr) = serve_by(c);
    let report_date = |addr: &str| {
        let (status, body) = http(addr, "GET", "/api/v1/reports/delinquency", &risk, "", "");
        assert_eq!(status, 200, "{body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        report["to"].as_str().unwrap().to_string()
    };
    // the report is the standby's: as of the day it has replayed
    assert_eq!(report_date(&addr), TODAY);
    let (status, body) = http(
        &addr,
        "GET",
        "/api/v1/reports/tiers?from=2026-10-31",
        &risk,
        "",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let tiers: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(tiers["to"], TODAY, "{body}");
    // the same command line reads the standby with --read-db, the primary without
    let cli_report = |extra: &[&str]| -> Value {
        let mut args = extra.to_vec();
        args.extend(["report", "delinquency", "--format", "json"]);
        serde_json::from_str(&ok(dir, db, &args)).unwrap()
    };
    assert_eq!(cli_report(&["--read-db", &replica])["to"], TODAY);
    assert_eq!(cli_report(&[])["to"], tomorrow);
    // everything else is the primary's: the business date the tasks are taken on, and the write
    let (status, body) = http(&addr, "POST", "/api/v1/tasks/next", &agent, "", "{}");
    assert_eq!(status, 200, "{body}");
    let task: Value = serde_json::from_str(&body).unwrap();
    let id = task["task"]["id"].as_i64().unwrap();
    assert_eq!(
        one(
            db,
            &format!(
                "SELECT u.username FROM tasks t JOIN users u ON u.id = t.assignee_id WHERE t.id = {id}"
            )
        ),
        AGENTS[0]
    );
    // the standby resumes, catches up, and the report moves on with it
    drop(replay);
    wait_for(&replica, BUSINESS_DATE, tomorrow);
    assert_eq!(report_date(&addr), tomorrow);

    // a replica is a PostgreSQL database, and one with this program's schema
    let err = refused(
        dir,
        db,
        &[
            "--read-db",
            "sqlite://elsewhere.db",
            "report",
            "delinquency",
        ],
    );
    assert!(err.contains("is not a postgres:// URL"), "{err}");
    let elsewhere = huifang_testkit::with_database(&standby, "postgres");
    let err = refused(dir, db, &["--read-db", &elsewhere, "report", "delinquency"]);
    assert!(err.contains("opening the read replica"), "{err}");
}

#[test]
#[ignore = "needs PostgreSQL and PgBouncer in front of it: set HUIFANG_TEST_PG_URL and HUIFANG_TEST_PGBOUNCER_URL (scripts/pgbouncer starts one) and run with --run-ignored all / --include-ignored"]
fn through_pgbouncer_in_transaction_mode_two_servers_and_two_workers_work() {
    let bouncer = required_env(
        "HUIFANG_TEST_PGBOUNCER_URL",
        "PgBouncer in transaction mode in front of the server at HUIFANG_TEST_PG_URL (scripts/pgbouncer starts one and prints its URL)",
    );
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path();
    let direct = PgDb::create_blocking();
    // the migrations take a session lock: the book is made directly
    ok(
        dir,
        &direct.url,
        &["demo", "--loans", "200", "--today", TODAY, "--seed", "31"],
    );
    let db = format!(
        "{}?statement-cache-capacity=0",
        huifang_testkit::with_database(&bouncer, database_name(&direct.url))
    );
    let db = db.as_str();
    contacts_at_any_hour(dir, db);
    ok(dir, db, &["run-daily", "--through", "2026-11-29"]);
    let tokens: Vec<String> = AGENTS[..4].iter().map(|a| token(dir, db, a)).collect();
    let first_interaction: i64 = one(
        &direct.url,
        "SELECT COALESCE(MAX(id), 0)::text FROM interactions",
    )
    .parse()
    .unwrap();
    let (_s1, addr1) = serve(dir, db, "s1.log");
    let (_s2, addr2) = serve(dir, db, "s2.log");
    let servers = [addr1, addr2];

    let stop = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let agents: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, token)| {
            let (stop, recorded, servers, logdir) = (
                Arc::clone(&stop),
                Arc::clone(&recorded),
                servers.clone(),
                dir.to_path_buf(),
            );
            std::thread::spawn(move || {
                let mut n = i;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let (status, body) = http(
                        &servers[n % 2],
                        "POST",
                        "/api/v1/tasks/next",
                        &token,
                        "",
                        "",
                    );
                    assert_eq!(status, 200, "next: {body}\n{}", logs(&logdir));
                    let answer: Value = serde_json::from_str(&body).unwrap();
                    let Some(task) = answer["task"]["id"].as_i64() else {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    let (status, body) = http(
                        &servers[(n + 1) % 2],
                        "POST",
                        &format!("/api/v1/tasks/{task}/outcome"),
                        &token,
                        &format!("Idempotency-Key: bouncer-{i}-{n}\r\n"),
                        r#"{"channel": "phone", "outcome": "no_answer"}"#,
                    );
                    assert!(
                        status == 201 || status == 409,
                        "outcome of task {task}: {status} {body}\n{}",
                        logs(&logdir)
                    );
                    if status == 201 {
                        recorded.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();

    let through = "2026-12-09";
    let workers: Vec<_> = ["w1.log", "w2.log"]
        .iter()
        .map(|log| {
            let out = std::fs::File::create(dir.join(log)).unwrap();
            let err = out.try_clone().unwrap();
            huifang(
                dir,
                db,
                &[
                    "worker",
                    "--through",
                    through,
                    "--exit-when-closed",
                    "--chunk-loans",
                    "20",
                ],
            )
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap()
        })
        .collect();
    for (mut w, log) in workers.into_iter().zip(["w1.log", "w2.log"]) {
        let status = w.wait().unwrap();
        let text = std::fs::read_to_string(dir.join(log)).unwrap();
        assert!(status.success(), "{log}: {status}\n{text}");
    }
    stop.store(true, Ordering::SeqCst);
    for a in agents {
        a.join().unwrap();
    }
    assert_eq!(one(&direct.url, BUSINESS_DATE), through);
    assert_eq!(
        one(
            &direct.url,
            "SELECT count(*)::text FROM close_runs WHERE state = 'done'"
        ),
        "10"
    );
    let recorded = recorded.load(Ordering::SeqCst);
    assert!(recorded > 0, "no outcome was recorded");
    assert_eq!(
        one(
            &direct.url,
            &format!(
                "SELECT count(*)::text FROM interactions i JOIN users u ON u.id = i.user_id \
                 WHERE i.id > {first_interaction} AND u.username IN ('{}')",
                AGENTS[..4].join("', '")
            )
        ),
        recorded.to_string()
    );
    // reports, the record's audit and the workers' view, through PgBouncer too
    let report: Value =
        serde_json::from_str(&ok(dir, db, &["report", "delinquency", "--format", "json"])).unwrap();
    assert_eq!(report["to"], through);
    let verified = ok(dir, db, &["ledger", "verify"]);
    assert!(
        verified.contains("ok: every record matches its leaf"),
        "{verified}"
    );
    let status = ok(dir, db, &["status", "--workers"]);
    assert!(status.contains("serve"), "{status}");
    eprintln!(
        "through PgBouncer: 10 days closed by 2 workers, {recorded} outcomes through 2 servers"
    );
}

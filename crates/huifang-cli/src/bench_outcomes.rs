//! `huifang bench-outcomes`: the team's load on running servers. Every active user who works
//! tasks gets an API token and works the queue as an agent does, one request after the other:
//! take the next task through one server, record its outcome through the next. It runs for a
//! number of seconds, or until the business date reaches a day (while workers close the days),
//! and prints the throughput and the latencies. `scripts/bench-outcomes` runs it beside a close.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use huifang_core::Date;
use huifang_store::Store;
use tokio::sync::Mutex;

/// What one run measures.
#[derive(Debug, Default)]
struct Tally {
    /// Each outcome's latency, in microseconds, and its answer.
    outcomes: Vec<(u64, u16)>,
    /// Each take of the next task's latency, in microseconds.
    takes: Vec<u64>,
    /// Outcomes recorded (201) in each second of the run.
    per_second: Vec<u64>,
    /// Takes that found no task.
    empty: u64,
    /// Answers other than 200 / 201 / 409, with the first one's body.
    failed: u64,
    first_failure: Option<String>,
}

/// When the run ends.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    Seconds(u64),
    BusinessDate(Date),
}

/// Runs the load on `servers` (base URLs) with the database `store` (for the tokens and the
/// business date) until `until`.
pub async fn run(store: &Store, servers: &[String], until: Until) -> Result<String> {
    if servers.is_empty() {
        bail!("--server: give at least one server's base URL, e.g. http://127.0.0.1:8080");
    }
    let admin = None;
    let agents: Vec<String> = huifang_app::team::users(store, admin)
        .await?
        .into_iter()
        .filter(|(u, _)| u.active && u.user.role.works_tasks())
        .map(|(u, _)| u.user.username)
        .collect();
    if agents.is_empty() {
        bail!("no active user works tasks in this book: there is no one to record outcomes");
    }
    let mut tokens = Vec::new();
    for a in &agents {
        let (token, _) = huifang_app::team::issue_api_token(store, admin, a, Some(1)).await?;
        tokens.push(token);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(agents.len())
        .build()?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    // the keys of this run: a task worked in an earlier run may come back with the same count
    let run = chrono::Utc::now().timestamp_millis();
    eprintln!("load started: {} agents", agents.len());
    let mut handles = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (client, tally, stop) = (client.clone(), Arc::clone(&tally), Arc::clone(&stop));
        let servers = servers.to_vec();
        handles.push(tokio::spawn(async move {
            agent(i, run, &client, &servers, &token, &tally, &stop, started).await
        }));
    }
    match until {
        Until::Seconds(s) => tokio::time::sleep(Duration::from_secs(s)).await,
        Until::BusinessDate(day) => loop {
            let mut tx = store.begin().await?;
            let today = tx.business_date().await?;
            tx.rollback().await?;
            if today.is_some_and(|t| t >= day) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        },
    }
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.await.context("an agent's loop")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let t = tally.lock().await;
    let recorded = t.outcomes.iter().filter(|(_, s)| *s == 201).count();
    let closed = t.outcomes.iter().filter(|(_, s)| *s == 409).count();
    let mut outcome_us: Vec<u64> = t.outcomes.iter().map(|(us, _)| *us).collect();
    let mut take_us = t.takes.clone();
    let mut report = format!(
        "{} agents through {} server(s) for {elapsed:.1} s: {recorded} outcomes recorded ({:.1}/s), \
         {closed} answered 409 (task closed meanwhile), {} takes found no task, {} failed\n\
         outcome latency: {}\nnext-task latency: {}\n",
        agents.len(),
        servers.len(),
        crate::bench::approx_f64(recorded) / elapsed.max(f64::EPSILON),
        t.empty,
        t.failed,
        percentiles(&mut outcome_us),
        percentiles(&mut take_us),
    );
    report.push_str(&format!(
        "outcomes recorded in each second: {}\n",
        t.per_second
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    ));
    if let Some(f) = &t.first_failure {
        report.push_str(&format!("first failure: {f}\n"));
    }
    Ok(report)
}

/// p50, p99 and the largest, in milliseconds.
fn percentiles(us: &mut [u64]) -> String {
    if us.is_empty() {
        return "none".into();
    }
    us.sort_unstable();
    let at = |p: usize| us.get((us.len() - 1) * p / 100).copied().unwrap_or(0);
    let ms = |v: u64| crate::bench::approx_f64(v) / 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} requests)",
        ms(at(50)),
        ms(at(99)),
        ms(at(100)),
        us.len()
    )
}

/// One agent's loop: the next task through one server, its outcome through the next.
#[allow(clippy::too_many_arguments)]
async fn agent(
    i: usize,
    run: i64,
    client: &reqwest::Client,
    servers: &[String],
    token: &str,
    tally: &Mutex<Tally>,
    stop: &AtomicBool,
    started: Instant,
) -> Result<()> {
    let mut n = i;
    while !stop.load(Ordering::SeqCst) {
        let server = at(servers, n);
        n += 1;
        let asked = Instant::now();
        let resp = client
            .post(format!("{server}/api/v1/tasks/next"))
            .bearer_auth(token)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let took = micros(asked);
        if status != 200 {
            failure(tally, status, &body).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let Some(task) = body
            .get("task")
            .and_then(|t| t.get("id"))
            .and_then(serde_json::Value::as_i64)
        else {
            let mut t = tally.lock().await;
            t.takes.push(took);
            t.empty += 1;
            drop(t);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        tally.lock().await.takes.push(took);
        let outcome = if n.is_multiple_of(3) {
            "reached"
        } else {
            "no_answer"
        };
        let server = at(servers, n);
        let asked = Instant::now();
        let resp = client
            .post(format!("{server}/api/v1/tasks/{task}/outcome"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("bench-{run}-{i}-{n}"))
            .json(&serde_json::json!({"channel": "phone", "outcome": outcome}))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let took = micros(asked);
        if status == 201 || status == 409 {
            let second = usize::try_from(started.elapsed().as_secs()).unwrap_or(usize::MAX);
            let mut t = tally.lock().await;
            t.outcomes.push((took, status));
            if status == 201 {
                if t.per_second.len() <= second {
                    t.per_second.resize(second.saturating_add(1), 0);
                }
                if let Some(n) = t.per_second.get_mut(second) {
                    *n += 1;
                }
            }
        } else {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            failure(tally, status, &body).await;
        }
    }
    Ok(())
}

/// The `n`th server, round the list.
fn at(servers: &[String], n: usize) -> &str {
    servers
        .get(n % servers.len().max(1))
        .map_or("", String::as_str)
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

async fn failure(tally: &Mutex<Tally>, status: u16, body: &serde_json::Value) {
    let mut t = tally.lock().await;
    t.failed += 1;
    if t.first_failure.is_none() {
        t.first_failure = Some(format!("{status} {body}"));
    }
}

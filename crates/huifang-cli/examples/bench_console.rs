//! Benchmark of the web console's heaviest pages on a large book: an agent's queue, a task page,
//! the 360° view of a loan and the portfolio dashboard, each asked for ROUNDS times through the
//! router of `huifang serve` on loopback (in this process), signed in through the sign-in form;
//! prints each page's median, 95th percentile and slowest time.
//!
//!   huifang bench --loans 1000000 --days 3 --db sqlite://book.db     # the book (once)
//!   cargo run --release -p huifang-cli --example bench_console -- sqlite://book.db [ROUNDS]
//!
//! The demo team (users, teams, queues) is added to the book when it has no users; the book is
//! otherwise read only (a sign-in writes its session).

// A benchmark program: it may panic on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::time::{Duration, Instant};

use huifang_store::Store;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Client {
    base: String,
    http: reqwest::Client,
    cookie: String,
}

/// The first `name="csrf" value="…"` of a page.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF token");
    let rest = &page[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    async fn sign_in(base: &str, user: &str) -> Client {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http.get(format!("{base}/login")).send().await.unwrap();
        let login = page
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let token = csrf(&page.text().await.unwrap());
        let answer = http
            .post(format!("{base}/login"))
            .header("Cookie", login)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", &token),
                ("username", user),
                ("password", huifang_app::demo::team::DEMO_PASSWORD),
            ]))
            .send()
            .await
            .unwrap();
        let cookie = answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with("huifang_session="))
            .unwrap_or_else(|| panic!("{user} cannot sign in"))
            .split(';')
            .next()
            .unwrap()
            .to_string();
        Client {
            base: base.to_string(),
            http,
            cookie,
        }
    }

    /// A page and how long it took; it must answer 200.
    async fn get(&self, path: &str) -> (String, Duration) {
        let started = Instant::now();
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.text().await.unwrap();
        let took = started.elapsed();
        assert_eq!(status, 200, "{path}: {body}");
        (body, took)
    }
}

/// Times `path` `rounds` times after a first request (timed apart: the dashboard's first
/// computes the portfolio summary the next ones are served from): first, median, p95 and max
/// in ms.
async fn time(client: &Client, path: &str, rounds: usize) -> (f64, f64, f64, f64) {
    let first = client.get(path).await.1.as_secs_f64() * 1000.0;
    let mut times: Vec<f64> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        times.push(client.get(path).await.1.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    (first, at(0.5), at(0.95), times[times.len() - 1])
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("the book's database URL");
    let rounds: usize = args.next().map_or(20, |n| n.parse().unwrap());
    let store = Store::connect(&url).await.unwrap();
    let users = huifang_app::team::users(&store, None).await.unwrap();
    if users.is_empty() {
        huifang_app::demo::team::demo_team(&store, |m| eprintln!("{m}"))
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(huifang_web::serve_listener(store.clone(), listener));

    let (date, _) = huifang_app::status::summary(&store).await.unwrap();
    println!("book: {url}, business date {date}, {rounds} rounds per page");
    let agent = Client::sign_in(&base, "wangfang").await;
    let risk = Client::sign_in(&base, "risk").await;
    let (queue, _) = agent.get("/queue").await;
    let task = queue
        .split("data-task=\"")
        .nth(1)
        .map(|s| s.split('"').next().unwrap().to_string());
    let loans = risk.get("/loans?level=3").await.0;
    let loan = loans
        .split("href=\"/loans/")
        .nth(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .unwrap_or_else(|| "L00000001".into());
    let mut pages = vec![(&agent, "/queue".to_string())];
    match task {
        Some(t) => pages.push((&agent, format!("/tasks/{t}"))),
        None => println!("(the agent's queue is empty: no task page timed)"),
    }
    pages.push((&risk, format!("/loans/{loan}")));
    pages.push((&risk, "/dashboard".to_string()));
    pages.push((&risk, "/warnings".to_string()));
    println!(
        "{:<24} {:>10} {:>10} {:>10} {:>10}",
        "page", "first ms", "median ms", "p95 ms", "max ms"
    );
    for (client, path) in pages {
        let (first, p50, p95, max) = time(client, &path, rounds).await;
        println!("{path:<24} {first:>10.1} {p50:>10.1} {p95:>10.1} {max:>10.1}");
    }
}

//! `huifang notify run|list|retry|report|rules|channels|call`: the outbox's worker and what it
//! sent (`huifang_app::notify`), with the channels' real providers (`adapters::Couriers`); the
//! same worker delivers the webhooks' events (`huifang webhook …`, `huifang_app::webhooks`).

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use huifang_app::notify::{self, DeliveryOptions};
use huifang_app::team;
use huifang_app::views::{ChannelsDoc, DeliveryView};
use huifang_core::TaskId;
use huifang_store::Store;
use rand::{Rng, SeedableRng};

use huifang_adapters::{Couriers, HttpWebhooks};
use huifang_app::webhooks::{self, WebhookPass};

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a subscriber: its events are POSTed to URL, signed with a secret (generated and
    /// printed once unless --secret-stdin).
    Add {
        name: String,
        #[arg(long)]
        url: String,
        /// Event kinds, comma-separated, or all: installment_overdue, bucket_changed,
        /// classification_changed, warning_raised, warning_resolved, paid_off, payment_posted,
        /// decision_made, promise_broken.
        #[arg(long)]
        events: String,
        /// Read the secret from standard input (first line; at least 16 characters).
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Every subscriber.
    List,
    /// Change a subscriber's address or kinds, or disable it (sent nothing) and enable it again
    /// (it then gets the events written meanwhile).
    Change {
        name: String,
        #[arg(long)]
        url: Option<String>,
        /// Event kinds, comma-separated, or all.
        #[arg(long)]
        events: Option<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Queue a test delivery (kind ping) to a subscriber.
    Test { name: String },
    /// The delivery log, newest first.
    Log {
        #[arg(long)]
        name: Option<String>,
        /// queued, delivered, failed or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// Runs a `huifang webhook` command (the machine's operator).
pub async fn webhook(store: &Store, command: &WebhookCommand) -> Result<()> {
    match command {
        WebhookCommand::Add {
            name,
            url,
            events,
            secret_stdin,
        } => {
            let secret = if *secret_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim().to_string())
            } else {
                None
            };
            let given = secret.is_some();
            let (hook, secret) = webhooks::add(store, None, name, url, events, secret).await?;
            say!(
                "webhook {} added: {} <- {}",
                hook.name,
                hook.url,
                hook.kinds
            );
            if !given {
                say!("secret (shown once): {secret}");
            }
        }
        WebhookCommand::List => {
            for h in webhooks::list(store, None).await? {
                say!(
                    "{:<16} {:<8} {} <- {}",
                    h.name,
                    if h.active { "active" } else { "off" },
                    h.url,
                    h.kinds
                );
            }
        }
        WebhookCommand::Change {
            name,
            url,
            events,
            disable,
            enable,
        } => {
            let active = match (disable, enable) {
                (true, _) => Some(false),
                (_, true) => Some(true),
                _ => None,
            };
            let h = webhooks::change(store, None, name, url.as_deref(), events.as_deref(), active)
                .await?;
            say!(
                "webhook {} {}: {} <- {}",
                h.name,
                if h.active { "active" } else { "off" },
                h.url,
                h.kinds
            );
        }
        WebhookCommand::Test { name } => {
            let id = webhooks::test(store, None, name).await?;
            say!("queued {id}: `huifang notify run --once` or `huifang serve` delivers it");
        }
        WebhookCommand::Log { name, state, limit } => {
            for d in webhooks::log(store, None, name.as_deref(), state.as_deref(), *limit).await? {
                say!(
                    "{:>6} {:<16} {:<22} {:<24} {:<9} attempts {} {}{}",
                    d.id,
                    d.webhook,
                    d.kind,
                    d.event_id,
                    d.state,
                    d.attempts,
                    d.last_status
                        .map_or(String::new(), |s| format!("status {s} ")),
                    d.last_error
                );
            }
        }
    }
    Ok(())
}

/// One pass of the webhooks' worker: new events relayed, due deliveries posted.
async fn webhook_pass(store: &Store, poster: &HttpWebhooks) -> Result<WebhookPass> {
    let mut rng = rand::rngs::StdRng::from_entropy();
    Ok(
        webhooks::deliver_once(store, poster, chrono::Utc::now(), || rng.gen_range(0..1000))
            .await?,
    )
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Deliver the outbox: claim due messages, check them against the contact rules, hand them
    /// to their channel's provider, retry failures with backoff; until Ctrl-C, or with --once
    /// until nothing is due.
    Run {
        #[arg(long)]
        once: bool,
        /// Seconds to wait when nothing is due.
        #[arg(long, default_value_t = 1)]
        every: u64,
        /// Messages claimed per pass.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Messages handed to providers at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds a claim holds its messages; a worker that dies lets them go after it.
        #[arg(long, default_value_t = 120)]
        lease: u64,
    },
    /// The messages, newest first.
    List {
        /// queued, sent, delivered, failed, dead or blocked.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        loan: Option<String>,
        /// Messages with an id below this (the next page).
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// Send a failed, dead-lettered or refused message again (same idempotency key).
    Retry {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// Messages per channel and event: queued, sent, delivered, failed, dead, blocked.
    Report {
        #[arg(long)]
        json: bool,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// Show the notification rules (channels per event, language, retries), or replace them
    /// (--set FILE, the administrator).
    Rules {
        #[arg(long)]
        set: Option<std::path::PathBuf>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: Option<String>,
    },
    /// Show the channels' connections (secrets hidden), or replace them (--set FILE).
    Channels {
        #[arg(long)]
        set: Option<std::path::PathBuf>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// Ask the telephony provider to call a task's borrower for the agent.
    Call {
        task: i64,
        /// Names this request: the same key places one call.
        #[arg(long)]
        key: Option<String>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
}

fn options(batch: usize, concurrency: usize, lease: u64) -> DeliveryOptions {
    DeliveryOptions {
        batch: batch.max(1),
        concurrency: concurrency.max(1),
        lease: chrono::Duration::seconds(i64::try_from(lease.max(1)).unwrap_or(i64::MAX)),
    }
}

/// One pass with the providers of the channels configured now.
async fn pass(
    store: &Store,
    kept: &mut Option<(ChannelsDoc, Couriers)>,
    options: DeliveryOptions,
) -> Result<DeliveryView> {
    let doc = notify::load_channels(store).await?;
    if kept.as_ref().is_none_or(|(d, _)| *d != doc) {
        let couriers = Couriers::from_doc(&doc)?;
        *kept = Some((doc, couriers));
    }
    let Some((_, couriers)) = kept.as_ref() else {
        return Ok(DeliveryView::default());
    };
    let mut rng = rand::rngs::StdRng::from_entropy();
    Ok(
        notify::deliver_once(store, couriers, chrono::Utc::now(), options, || {
            rng.gen_range(0..1000)
        })
        .await?,
    )
}

fn add(total: &mut DeliveryView, r: &DeliveryView) {
    total.claimed += r.claimed;
    total.sent += r.sent;
    total.failed += r.failed;
    total.dead += r.dead;
    total.blocked += r.blocked;
    total.held += r.held;
}

fn line(r: &DeliveryView) -> String {
    format!(
        "{} claimed: {} sent, {} failed (to retry), {} dead-lettered, {} blocked, {} held for the contact hours",
        r.claimed, r.sent, r.failed, r.dead, r.blocked, r.held
    )
}

/// The delivery worker: passes back to back while messages are due, a wait of `every` when
/// none is; with `once`, until a pass finds nothing to send. Ends on Ctrl-C between passes.
pub async fn work(
    store: &Store,
    once: bool,
    every: Duration,
    options: DeliveryOptions,
    quiet: bool,
) -> Result<DeliveryView> {
    let mut kept = None;
    let mut total = DeliveryView::default();
    let poster = HttpWebhooks::new(Duration::from_secs(10))?;
    loop {
        let r = pass(store, &mut kept, options).await?;
        add(&mut total, &r);
        if r.claimed > 0 && !quiet {
            say!("{}", line(&r));
        }
        let w = webhook_pass(store, &poster).await?;
        if w.claimed > 0 && !quiet {
            say!(
                "webhooks: {} claimed: {} delivered, {} failed (to retry), {} dead-lettered",
                w.claimed,
                w.delivered,
                w.failed,
                w.dead
            );
        }
        // a pass that held every message it claimed has nothing more to do now
        let idle = (r.claimed == 0 || r.held == r.claimed) && w.claimed == 0;
        if idle && once {
            return Ok(total);
        }
        if idle {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = tokio::signal::ctrl_c() => return Ok(total),
            }
        }
    }
}

pub async fn run(store: &Store, command: &NotifyCommand) -> Result<()> {
    match command {
        NotifyCommand::Run {
            once,
            every,
            batch,
            concurrency,
            lease,
        } => {
            let total = work(
                store,
                *once,
                Duration::from_secs((*every).max(1)),
                options(*batch, *concurrency, *lease),
                false,
            )
            .await?;
            say!("done: {}", line(&total));
        }
        NotifyCommand::List {
            state,
            channel,
            loan,
            before,
            limit,
            json,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            let page = notify::list(
                store,
                &actor,
                state.as_deref(),
                channel.as_deref(),
                loan.as_deref(),
                *before,
                *limit,
            )
            .await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&page)?);
            } else {
                for m in &page.messages {
                    say!(
                        "{:>7}  {:<9} {:<7} {:<20} {:<12} attempts {}  due {}  {}{}",
                        m.id,
                        m.state,
                        m.channel,
                        m.event,
                        m.loan,
                        m.attempts,
                        m.due_at,
                        m.provider_id.as_deref().unwrap_or("-"),
                        if m.last_error.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", m.last_error)
                        }
                    );
                }
                if let Some(b) = page.next_before {
                    say!("more: --before {b}");
                }
            }
        }
        NotifyCommand::Retry { id, user } => {
            let actor = team::actor(store, user).await?;
            let m = notify::retry(store, &actor, *id).await?;
            say!("message {}: queued again, due {}", m.id, m.due_at);
        }
        NotifyCommand::Report { json, user } => {
            let actor = team::actor(store, user).await?;
            let rows = notify::report(store, &actor).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                say!(
                    "{:<7} {:<21} {:>8} {:>8} {:>9} {:>7} {:>7} {:>8}",
                    "channel",
                    "event",
                    "queued",
                    "sent",
                    "delivered",
                    "failed",
                    "dead",
                    "blocked"
                );
                for r in &rows {
                    say!(
                        "{:<7} {:<21} {:>8} {:>8} {:>9} {:>7} {:>7} {:>8}",
                        r.channel,
                        r.event,
                        r.queued,
                        r.sent,
                        r.delivered,
                        r.failed,
                        r.dead,
                        r.blocked
                    );
                }
            }
        }
        NotifyCommand::Rules { set, user } => {
            let doc = match (set, user) {
                (Some(path), Some(user)) => {
                    let actor = team::actor(store, user).await?;
                    notify::set_rules(store, &actor, &std::fs::read_to_string(path)?).await?
                }
                (Some(_), None) => anyhow::bail!("--set needs --as USER (the administrator)"),
                (None, _) => notify::show_rules(store).await?,
            };
            say!("{}", serde_json::to_string_pretty(&doc)?);
        }
        NotifyCommand::Channels { set, user } => {
            let actor = team::actor(store, user).await?;
            let doc = match set {
                Some(path) => {
                    notify::set_channels(store, &actor, &std::fs::read_to_string(path)?).await?
                }
                None => notify::show_channels(store, &actor).await?,
            };
            say!("{}", serde_json::to_string_pretty(&doc)?);
        }
        NotifyCommand::Call { task, key, user } => {
            let actor = team::actor(store, user).await?;
            let key = key
                .clone()
                .unwrap_or_else(|| format!("{}", chrono::Utc::now().timestamp_micros()));
            let call = notify::place_call(store, &actor, TaskId(*task), &key).await?;
            say!(
                "call on task {} queued as message {} ({})",
                call.task_id,
                call.message_id,
                call.idempotency_key
            );
        }
    }
    Ok(())
}

//! `huifang worker`: the daily close on a schedule, shared with the other workers of the same
//! PostgreSQL database, and the background work. `huifang status --workers` shows them.

use std::time::Duration;

use anyhow::Result;
use chrono::NaiveTime;
use huifang_app::cluster::{self, Closer, Process, Turn};
use huifang_core::Date;
use huifang_store::Store;

use crate::workers;

/// How `huifang worker` runs.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Local time in Asia/Shanghai at which a day's close is due (HH:MM): from then on the
    /// business date is brought up to that day, and a worker that was down catches up every day
    /// it missed, in order.
    #[arg(long, default_value = "00:30", value_parser = time_arg)]
    close_at: NaiveTime,
    /// Close through this date instead of the schedule's.
    #[arg(long, value_parser = crate::date_arg)]
    through: Option<Date>,
    /// Exit once the business date has reached the date due (instead of keeping to the schedule).
    #[arg(long)]
    exit_when_closed: bool,
    /// Loans per chunk of a day's close.
    #[arg(long, default_value_t = huifang_app::close::LOANS_PER_CLOSE_BATCH)]
    chunk_loans: usize,
    /// Hold each chunk this many milliseconds before planning it: for failover drills (stop a
    /// worker meanwhile and watch another take its chunk over).
    #[arg(long, default_value_t = 0)]
    chunk_pause_ms: u64,
    /// Close only: leave the background work (outbox, webhooks, assistant, vehicle sweep) to
    /// other processes.
    #[arg(long)]
    no_background: bool,
}

fn time_arg(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("{s:?} is not a time HH:MM"))
}

/// Runs a worker until Ctrl-C (or, with `--exit-when-closed`, until the close is up to date).
pub async fn run(store: &Store, args: &WorkerArgs) -> Result<()> {
    let me = Process::join(store, "worker").await?;
    crate::init_tracing();
    say!("worker {}", me.id());
    workers::heartbeat(store, &me);
    if !args.no_background {
        workers::background(store);
    }
    let stop = workers::Stop::listen();
    let mut closer = Closer::new(
        me.clone(),
        args.chunk_loans,
        Duration::from_millis(args.chunk_pause_ms),
    );
    // a turn is never cut short: Ctrl-C ends the loop between two turns
    while !stop.stopped() {
        let through = args
            .through
            .unwrap_or_else(|| cluster::due_through(chrono::Utc::now(), args.close_at));
        match closer.turn(store, through).await {
            Ok(Turn::Closed(r)) => {
                tracing::info!(day = %r.date, loans = r.loans, events = r.events, "day closed");
                say!(
                    "closed {}: {} loans, {} events, {} status changes",
                    r.date,
                    r.loans,
                    r.events,
                    r.status_changes
                );
            }
            Ok(Turn::Planned) => {}
            Ok(Turn::Waiting) => {
                stop.wait(Duration::from_millis(50)).await;
            }
            Ok(Turn::UpToDate) if args.exit_when_closed => break,
            Ok(Turn::UpToDate) => {
                stop.wait(Duration::from_secs(1)).await;
            }
            Err(e) if args.exit_when_closed => return Err(e.into()),
            Err(e) => {
                tracing::warn!("close: {e:#}");
                stop.wait(Duration::from_secs(5)).await;
            }
        }
    }
    me.leave(store).await?;
    Ok(())
}

/// `huifang status --workers`: the processes on the database and the close's progress.
pub async fn status(store: &Store, json: bool) -> Result<String> {
    let view = cluster::view(store, chrono::Utc::now()).await?;
    if json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&view)?));
    }
    let mut out = format!("business date {}\n", view.business_date);
    if view.processes.is_empty() {
        out.push_str("no server or worker has a heartbeat on record\n");
    }
    for p in &view.processes {
        out.push_str(&format!(
            "{:<6} {:<8} pid {:<7} {:<20} heartbeat {} ({} s ago){}  {}\n",
            p.kind,
            p.host,
            p.pid,
            p.started_at,
            p.heartbeat_at,
            p.seconds_since_heartbeat,
            if p.alive { "" } else { " GONE" },
            p.doing
        ));
    }
    match &view.close {
        None => out.push_str("no close shared by workers yet\n"),
        Some(c) => out.push_str(&format!(
            "close of {}: {} ({} of {} chunks planned, {} loans), coordinated by {}, started {}{}\n",
            c.day,
            c.state,
            c.planned,
            c.chunks,
            c.loans,
            c.coordinator,
            c.started_at,
            c.finished_at
                .as_ref()
                .map(|f| format!(", finished {f}"))
                .unwrap_or_default()
        )),
    }
    for p in view.close.iter().flat_map(|c| &c.planners) {
        out.push_str(&format!(
            "  {} chunk(s) planned by {}\n",
            p.chunks, p.process
        ));
    }
    Ok(out)
}

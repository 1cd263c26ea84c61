//! `huifang assistant run|rules|report|show`: the follow-up assistant (`huifang_app::assistant`).
//! Its answers come in on the channels' signed callbacks and the IVR webhook of `huifang serve`,
//! which also runs a pass every minute.

use anyhow::Result;
use clap::Subcommand;
use huifang_app::assistant;
use huifang_app::team;
use huifang_core::TaskId;
use huifang_store::Store;

#[derive(Debug, Subcommand)]
pub enum AssistantCommand {
    /// One pass: take the welcome calls and reminders the rules give the assistant (first
    /// question sent, or IVR call placed, through the outbox) and ask again, or hand to an
    /// agent, where an answer is late.
    Run {
        /// The moment to act at (RFC 3339); default now.
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show the assistant's rules, or replace them with a JSON file (administrators).
    Rules {
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        /// A JSON file of the rules (as shown).
        #[arg(long)]
        set: Option<std::path::PathBuf>,
    },
    /// Conversations by task kind and flow: completed, handed to agents (by reason), and the
    /// completion and hand-over rates.
    Report {
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// The assistant's conversation on a task: answers, transcript, how it ended.
    Show {
        task: i64,
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &Store, command: &AssistantCommand) -> Result<()> {
    match command {
        AssistantCommand::Run { now, json } => {
            let now = crate::output::now_or(now.as_deref())?;
            let v = assistant::run_once(store, now).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                say_text!(
                    "{} conversation(s) started, {} question(s) asked again, {} task(s) handed to agents, {} waiting for the contact hours\n",
                    v.started,
                    v.asked_again,
                    v.handed_over,
                    v.waiting
                );
            }
        }
        AssistantCommand::Rules { user, set } => {
            let actor = team::actor(store, user).await?;
            let doc = match set {
                None => assistant::show_rules(store, &actor).await?,
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    assistant::set_rules(store, &actor, &text).await?
                }
            };
            say!("{}", serde_json::to_string_pretty(&doc)?);
        }
        AssistantCommand::Report { user, json } => {
            let actor = team::actor(store, user).await?;
            let rows = assistant::report(store, &actor).await?;
            crate::output::list(&rows, *json, |r| {
                let reasons: Vec<String> =
                    r.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
                format!(
                    "{:<20} {:<7} started {:>5}  active {:>4}  completed {:>5} ({}%)  handed over {:>5} ({}%)  closed {:>4}  {}",
                    r.kind,
                    r.flow,
                    r.started,
                    r.active,
                    r.completed,
                    r.completion_pct,
                    r.handed_over,
                    r.hand_over_pct,
                    r.closed,
                    reasons.join(", ")
                )
            })?;
        }
        AssistantCommand::Show { task, user, json } => {
            let actor = team::actor(store, user).await?;
            let s = assistant::session(store, &actor, TaskId(*task)).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                let mut out = format!(
                    "task {}  {}  by {}  {}{}\n",
                    s.task_id,
                    s.kind,
                    s.flow,
                    s.state,
                    s.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                for (q, a) in &s.answers {
                    out.push_str(&format!("  {q} = {a}\n"));
                }
                for l in &s.transcript {
                    out.push_str(&format!("  [{}] {}\n", l.speaker, l.text));
                }
                say_text!("{}", out);
            }
        }
    }
    Ok(())
}

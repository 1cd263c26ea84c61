//! `huifang warning list|show|ack|act|resolve`: early warnings for the roles that read loans, and
//! their life for risk officers (`huifang_app::warnings`).

use anyhow::Result;
use clap::Subcommand;
use huifang_app::team;
use huifang_app::views::{WarningDetailView, WarningItemView, WarningStepView};
use huifang_app::warnings::{self, WarningFilter};
use huifang_core::TaskId;
use huifang_store::Store;

#[derive(Debug, Subcommand)]
pub enum WarningCommand {
    /// Warnings newest first: the open ones (or --all), of one level or loan.
    List {
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        level: Option<u8>,
        /// A loan's external id.
        #[arg(long)]
        loan: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One warning with its history.
    Show {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a warning (risk officers).
    Ack {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record what was done about an acknowledged warning: the task that answers it, a note.
    Act {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        task: Option<i64>,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Resolve a warning, with the reason.
    Resolve {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        reason: String,
    },
}

fn line(w: &WarningItemView) -> String {
    format!(
        "{:>6}  {:<10} L{}  {:<24} {:<12} raised {}  {}",
        w.id, w.loan, w.warning.level, w.warning.rule, w.state, w.warning.raised_on, w.text_zh
    )
}

fn step_line(s: &WarningStepView) -> String {
    format!(
        "  {}  {:<16} {:<10} {}{}",
        s.business_date,
        s.action,
        s.by.as_deref().unwrap_or("system"),
        s.task_id.map(|t| format!("task {t}: ")).unwrap_or_default(),
        s.note
    )
}

pub async fn run(store: &Store, command: &WarningCommand) -> Result<()> {
    match command {
        WarningCommand::List {
            user,
            all,
            level,
            loan,
            json,
        } => {
            let actor = team::actor(store, user).await?;
            let filter = WarningFilter {
                all: *all,
                level: *level,
                loan: loan.clone(),
                limit: None,
            };
            let rows = warnings::list(store, &actor, &filter).await?;
            let items: Vec<WarningItemView> = rows.iter().map(WarningItemView::from).collect();
            crate::output::list(&items, *json, line)?;
        }
        WarningCommand::Show { id, user, json } => {
            let actor = team::actor(store, user).await?;
            let (w, steps) = warnings::show(store, &actor, *id).await?;
            let view = WarningDetailView {
                warning: WarningItemView::from(&w),
                history: steps.iter().map(WarningStepView::from).collect(),
            };
            if *json {
                say!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                say!("{}", line(&view.warning));
                say!("  {}", view.warning.text_en);
                for s in &view.history {
                    say!("{}", step_line(s));
                }
            }
        }
        WarningCommand::Ack { id, user, note } => {
            let actor = team::actor(store, user).await?;
            let w = warnings::acknowledge(store, &actor, *id, note).await?;
            say!("{}", line(&WarningItemView::from(&w)));
        }
        WarningCommand::Act {
            id,
            user,
            task,
            note,
        } => {
            let actor = team::actor(store, user).await?;
            let w = warnings::record_action(store, &actor, *id, task.map(TaskId), note).await?;
            say!("{}", line(&WarningItemView::from(&w)));
        }
        WarningCommand::Resolve { id, user, reason } => {
            let actor = team::actor(store, user).await?;
            let w = warnings::resolve(store, &actor, *id, reason).await?;
            say!("{}", line(&WarningItemView::from(&w)));
        }
    }
    Ok(())
}

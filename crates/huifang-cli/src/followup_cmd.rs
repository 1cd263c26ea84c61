//! `huifang plan show|set` and `huifang script show`: the follow-up plans and scripts, held as
//! data in the database.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use huifang_app::followup;
use huifang_core::followup::TaskKind;
use huifang_store::Store;

/// The follow-up commands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// The follow-up (回访) plan: welcome, initial and continuous follow-ups, reminders, escalation.
    Plan {
        #[command(subcommand)]
        action: PlanAction,
    },
    /// Follow-up scripts (questionnaires) per task kind.
    Script {
        #[command(subcommand)]
        action: ScriptAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlanAction {
    /// Print the plan in force (JSON) for a product (default: the default plan '*').
    Show {
        #[arg(long)]
        product: Option<String>,
    },
    /// Store a plan from a JSON file (missing fields take the defaults) for a product
    /// (default: the default plan '*').
    Set {
        file: PathBuf,
        #[arg(long)]
        product: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Lang {
    Zh,
    En,
}

#[derive(Debug, Subcommand)]
pub enum ScriptAction {
    /// Print the script of a task kind: welcome_call, initial_followup, continuous_followup,
    /// repayment_reminder, overdue_reminder, collection_call, escalation, field_visit.
    Show {
        kind: String,
        #[arg(long, value_enum, default_value = "zh")]
        lang: Lang,
    },
    /// Store the script of a task kind from a JSON file (a list of questions, or the document
    /// `script show` prints); it is checked first and the error names the question and field.
    Set {
        kind: String,
        file: PathBuf,
        #[arg(long, value_enum, default_value = "zh")]
        lang: Lang,
    },
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
}

/// Runs a follow-up command against an opened store.
pub async fn run(store: &Store, command: &Commands) -> Result<()> {
    let value = match command {
        Commands::Plan {
            action: PlanAction::Show { product },
        } => followup::show_plan(store, product.as_deref()).await?,
        Commands::Plan {
            action: PlanAction::Set { file, product },
        } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let plan = followup::set_plan(store, product.as_deref(), &text).await?;
            eprintln!(
                "plan stored for product {}",
                product.as_deref().unwrap_or(followup::DEFAULT_PRODUCT)
            );
            plan
        }
        Commands::Script {
            action: ScriptAction::Show { kind, lang },
        } => {
            let kind: TaskKind = kind.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            serde_json::to_value(followup::show_script(store, kind, lang.code()).await?)?
        }
        Commands::Script {
            action: ScriptAction::Set { kind, file, lang },
        } => {
            let kind: TaskKind = kind.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let script = followup::set_script(store, kind, lang.code(), &text).await?;
            eprintln!("script stored for {kind} ({})", lang.code());
            serde_json::to_value(script)?
        }
    };
    // written, not printed: a closed pipe (`| head`) is an error the caller lets pass
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

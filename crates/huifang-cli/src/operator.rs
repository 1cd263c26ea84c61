//! The record of what the machine's operator does as a user (`--as USER`): the command line
//! holds the database, so it may act as anyone; every such command is recorded, before it runs,
//! with the operator's login on the machine, the user and the command, and then how it ended
//! (`huifang audit operators`). A command refused for the user's role or team is a denial too.

use anyhow::Result;
use huifang_app::AppError;
use huifang_app::team::{self, OperatorOutcome};
use huifang_store::Store;

/// A command run as a user: the user and the command's name (its subcommands, without their
/// values, which may carry personal data).
pub struct Acting {
    pub user: String,
    pub command: String,
}

/// The `--as` of a command line, with the names of its subcommands.
pub fn acting_as(args: &[String], matches: &clap::ArgMatches) -> Option<Acting> {
    let user = args.iter().enumerate().find_map(|(i, a)| {
        if a == "--as" {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix("--as=").map(str::to_string)
        }
    })?;
    let mut names = Vec::new();
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        names.push(name.to_string());
        m = sub;
    }
    Some(Acting {
        user,
        command: names.join(" "),
    })
}

/// The operator's login on this machine: `login@host`.
pub fn login() -> String {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{user}@{host}")
}

/// An operator's command being recorded.
pub struct Record {
    store: Store,
    id: i64,
    actor: team::Actor,
    command: String,
}

/// Records the start of `acting` in the database `store`; none when the user does not exist
/// (the command says so itself).
pub async fn begin(store: Store, acting: &Acting) -> Result<Option<Record>> {
    let started =
        team::begin_operator_action(&store, &login(), &acting.user, &acting.command).await?;
    Ok(started.map(|(id, actor)| Record {
        store,
        id,
        actor,
        command: acting.command.clone(),
    }))
}

impl Record {
    /// Records how the command ended.
    pub async fn end(self, result: &Result<()>) -> Result<()> {
        let refusal = result.as_ref().err().and_then(|e| {
            e.chain().find_map(|c| match c.downcast_ref::<AppError>() {
                Some(AppError::Forbidden(why)) => Some(why.clone()),
                _ => None,
            })
        });
        let (outcome, reason) = match (result, refusal) {
            (Ok(()), _) => (OperatorOutcome::Done, String::new()),
            (Err(_), Some(why)) => (OperatorOutcome::Refused, why),
            (Err(e), None) => (OperatorOutcome::Failed, format!("{e:#}")),
        };
        team::end_operator_action(
            &self.store,
            self.id,
            &self.actor,
            &self.command,
            outcome,
            &reason,
        )
        .await?;
        self.store.close().await;
        Ok(())
    }
}

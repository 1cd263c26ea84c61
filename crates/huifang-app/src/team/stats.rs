//! The team lead's views: queue depth, SLA breaches and per-agent productivity.

use huifang_core::Date;
use huifang_core::calendar::add_days;
use huifang_store::{AgentStatsRow, DepthRow, Store, TaskRecord, TeamRecord};

use super::{Actor, Role, forbidden, require_team};
use crate::{AppError, require_business_date};

/// One team's queues and people.
#[derive(Debug, Clone)]
pub struct TeamStats {
    pub team: TeamRecord,
    pub business_date: Date,
    pub from: Date,
    pub to: Date,
    pub depth: Vec<DepthRow>,
    /// Open tasks past their due date (SLA breaches): how many, and the oldest.
    pub past_due: i64,
    pub oldest_past_due: Vec<TaskRecord>,
    pub agents: Vec<AgentStatsRow>,
}

/// Queue depth, SLA breaches and per-agent productivity between `from` and `to` (default: the
/// 30 days up to the business date): a team lead's own team, or every team for an auditor.
pub async fn team_stats(
    store: &Store,
    actor: &Actor,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Vec<TeamStats>, AppError> {
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    if !actor.role.reads_team_stats() {
        return Err(forbidden(format!(
            "{} may not see team statistics (team leads and auditors may)",
            actor.name()
        )));
    }
    let teams: Vec<TeamRecord> = match actor.role {
        Role::TeamLead => {
            let id = require_team(actor)?;
            tx.teams()
                .await?
                .into_iter()
                .filter(|t| t.id == id)
                .collect()
        }
        _ => tx.teams().await?,
    };
    let to = to.unwrap_or(date);
    let from = from.unwrap_or_else(|| add_days(to, -29));
    if from > to {
        return Err(AppError::Refused {
            field: "from",
            reason: format!("{from} is after {to}"),
        });
    }
    let mut out = Vec::new();
    for team in teams {
        let codes: Vec<String> = tx
            .queues(Some(team.id))
            .await?
            .into_iter()
            .map(|q| q.code)
            .collect();
        let depth = if codes.is_empty() {
            Vec::new()
        } else {
            tx.queue_depth(&codes).await?
        };
        let (past_due, oldest_past_due) = tx.tasks_past_due(&codes, date, 20).await?;
        let agents = tx.agent_stats(team.id, from, to).await?;
        out.push(TeamStats {
            team,
            business_date: date,
            from,
            to,
            depth,
            past_due,
            oldest_past_due,
            agents,
        });
    }
    tx.rollback().await?;
    Ok(out)
}

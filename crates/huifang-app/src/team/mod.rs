//! The team that works follow-up tasks (DOMAIN.md capabilities 4, 5 and 13): users, teams and
//! queues; authentication (argon2 passwords, session and API tokens stored as SHA-256);
//! authorisation by role and team; my queue, take next (assignment by the queue's strategy),
//! show a task with its script and the borrower's context (masked unless the role may reveal,
//! every reveal logged), record an outcome (interaction, promise, risk signals, task transition
//! and the interaction's ledger leaf in one transaction, once per idempotency key), reassign,
//! and the team lead's SLA and productivity views.
//!
//! One private module per job, every use case re-exported here: `auth` (passwords, login,
//! tokens), `admin` (teams, users, queues, API tokens), `dispatch` (my queue, take next,
//! automatic assignment), `show` (a task, a loan, the borrower's context, document
//! registration), `record` (an outcome, its escalation, reassignment) and `stats` (the team
//! lead's views). This module holds the [`Actor`] and the checks they share.

mod admin;
mod audit;
mod auth;
mod dispatch;
mod quality;
mod record;
mod show;
mod stats;

use huifang_core::team::{self, Access, Member, TaskPlace};
use huifang_core::{BorrowerId, TaskId, UserId};
use huifang_store::{QueueRecord, TaskRecord, Tx, UserRecord};

use crate::AppError;

pub use admin::{
    Account, AccountChange, Profile, QueueChange, TeamOverview, UserInput, change_account,
    change_queue, create_queue, create_team, create_user, issue_api_token, rename_team, teams,
    users,
};
pub use audit::{
    MAX_REPORT_ROWS, OperatorOutcome, begin_operator_action, denials, end_operator_action,
    operator_actions, record_denial, reveals,
};
pub use auth::{
    CONSOLE_IDLE_MINUTES, SESSION_HOURS, actor, authenticate, console_authenticate, console_login,
    hash_password, login, logout, new_token, set_language, token_hash,
};
pub use dispatch::{
    QueueCounts, auto_assign, my_queue, my_queue_counts, my_queue_where, take_next,
};
pub use huifang_core::team::Role;
pub use quality::{MAX_REVIEW_PAGE, contacts_to_review, review_contact};
pub(crate) use record::{
    ContactFacts, checked_idempotency_key, record_assistant_in, record_call_in, record_in,
    stored_script,
};
pub use record::{OutcomeInput, Recorded, reassign, record_outcome};
pub use show::{
    BorrowerContext, TaskView, authorize_document_registration, register_document, show_loan,
    show_task,
};
pub use stats::{TeamStats, team_stats};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: UserRecord,
    pub role: Role,
}

impl Actor {
    pub(crate) fn from_user(user: UserRecord) -> Result<Actor, AppError> {
        let role = user.user.role;
        Ok(Actor { user, role })
    }

    /// The actor as the core's access rules see them.
    fn member(&self) -> Member<'_> {
        Member {
            user_id: self.user.id,
            role: self.role,
            team_id: self.user.user.team_id,
            skills: &self.user.user.skills,
        }
    }

    pub fn id(&self) -> UserId {
        self.user.id
    }

    pub fn name(&self) -> String {
        format!(
            "{} ({}, team {})",
            self.user.user.username,
            self.role,
            self.user.team_code.as_deref().unwrap_or("none")
        )
    }

    /// Refuses the actor unless their role has the core's `permission`: "NAME may not `what`".
    pub(crate) fn require(&self, permission: fn(Role) -> bool, what: &str) -> Result<(), AppError> {
        if permission(self.role) {
            Ok(())
        } else {
            Err(forbidden(format!("{} may not {what}", self.name())))
        }
    }

    fn has_skill(&self, skill: &str) -> bool {
        self.member().has_skill(skill)
    }
}

pub(crate) fn forbidden(msg: String) -> AppError {
    AppError::Forbidden(msg)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> AppError {
    AppError::Field {
        field,
        reason: reason.into(),
    }
}

fn now_utc() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

pub(crate) fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Now, as stored: RFC 3339, UTC, whole seconds.
pub(crate) fn now_stamp() -> String {
    stamp(now_utc())
}

// ----- authorisation -------------------------------------------------------------------------

async fn task_queue(tx: &mut Tx, task: &TaskRecord) -> Result<Option<QueueRecord>, AppError> {
    Ok(tx.queue_by_code(&task.task.queue_code).await?)
}

/// Checks, by the core's rule, that `actor` may view or work `task`; returns the task's queue.
pub(crate) async fn authorize_task(
    tx: &mut Tx,
    actor: &Actor,
    task: &TaskRecord,
    access: Access,
) -> Result<Option<QueueRecord>, AppError> {
    let queue = task_queue(tx, task).await?;
    let place = TaskPlace {
        queue_code: &task.task.queue_code,
        queue: queue.as_ref().map(|q| (q.team_id, q.skill.as_str())),
        assignee_id: task.task.assignee_id,
        assignee: task.assignee.as_deref(),
    };
    team::task_access(&actor.member(), &place, access).map_err(|why| {
        let what = match access {
            Access::View => "see",
            Access::Work => "work",
        };
        forbidden(format!(
            "{} may not {what} task {}: {why}",
            actor.name(),
            task.id
        ))
    })?;
    Ok(queue)
}

/// Checks, by the core's rule ([`team::borrower_access`]), that `actor` may read the personal
/// data of `borrower` (`external_id` names them in the refusal).
pub(crate) async fn authorize_borrower(
    tx: &mut Tx,
    actor: &Actor,
    borrower: BorrowerId,
    external_id: &str,
) -> Result<(), AppError> {
    let tasks = match actor.role.borrower_scope() {
        team::BorrowerScope::TeamTasks => tx.borrower_tasks(borrower).await?,
        _ => Vec::new(),
    };
    team::borrower_access(&actor.member(), &tasks).map_err(|why| {
        forbidden(format!(
            "{} may not read borrower {external_id}: {why}",
            actor.name()
        ))
    })
}

pub(crate) async fn load_task(tx: &mut Tx, id: TaskId) -> Result<TaskRecord, AppError> {
    tx.task(id).await?.ok_or_else(|| AppError::NotFound {
        what: "task",
        id: id.to_string(),
    })
}

fn require_team(actor: &Actor) -> Result<i64, AppError> {
    actor
        .user
        .user
        .team_id
        .ok_or_else(|| forbidden(format!("{} belongs to no team", actor.name())))
}

//! The team that works follow-up tasks: users, teams, queues, sessions, working tasks
//! (claiming, assignment, state changes), interactions, promises, risk signals, reveals of
//! personal data, and the SLA / productivity views. No business rule: the core decides, the
//! application orchestrates, this maps rows.

use std::collections::HashMap;

use huifang_core::{BorrowerId, Date, LoanId, TaskId, UserId};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use huifang_core::outcome::Strategy;
use huifang_core::team::{BorrowerTask, Role, TaskState};

use crate::sql::{Val, bind_vals, date_text, named_col, opt_date_col, param, parse_date_col};
use crate::{Dialect, Result, Tx};

/// Task states in which a task still waits for work: `TaskState::OPEN` in SQL (a test checks
/// it against the core's list).
pub(crate) const OPEN_TASK_STATES: &str = "('open', 'assigned', 'in_progress', 'rescheduled')";

/// `TaskState::HELD` in SQL (checked like `OPEN_TASK_STATES`).
pub(crate) const HELD_TASK_STATES: &str = "('assigned', 'in_progress', 'rescheduled')";

/// The roles that `Role::belongs_to_team`, in SQL (checked like `OPEN_TASK_STATES`).
pub(crate) const TEAM_ROLES: &str = "('agent', 'collector', 'team_lead')";

/// `TaskState::CLAIMABLE` in SQL (checked like `OPEN_TASK_STATES`).
pub(crate) const CLAIMABLE_TASK_STATES: &str = "('open', 'rescheduled')";

/// A team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
}

/// A stored user, with the code of its team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    pub team_code: Option<String>,
    pub active: bool,
    pub user: User,
}

/// A user: what is created, and what a [`UserRecord`] holds besides its key. `password_hash` is
/// an argon2 PHC string; the API token is only stored hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub team_id: Option<i64>,
    pub skills: Vec<String>,
    pub password_hash: Option<String>,
}

/// A queue of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub team_id: Option<i64>,
    pub skill: String,
    pub strategy: Strategy,
    pub rr_cursor: i64,
}

/// A stored follow-up task: the task as created, where it stands, its loan's and borrower's
/// external ids and its assignee's username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub task: Task,
    pub loan_external_id: String,
    pub borrower_external_id: String,
    pub state: TaskState,
    pub assignee: Option<String>,
    pub attempts: i64,
    pub outcome: Option<String>,
    pub closed_on: Option<Date>,
    pub close_reason: Option<String>,
}

/// A follow-up task as created, by the follow-up engine (which a loan's existing task for the
/// same reason key makes it skip) or by an escalation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    pub loan_id: LoanId,
    pub kind: String,
    pub reason_key: String,
    pub queue_code: String,
    pub assignee_id: Option<UserId>,
    pub created_on: Date,
    pub due_on: Date,
    pub window_end_on: Option<Date>,
    pub late: bool,
    pub max_attempts: i64,
}

/// A task's new state after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUpdate {
    pub state: TaskState,
    pub attempts: i64,
    pub due_on: Date,
    pub outcome: Option<String>,
    pub closed_on: Option<Date>,
    pub close_reason: Option<String>,
}

/// An interaction: what is recorded (with its ledger salt), and what an [`InteractionRecord`]
/// holds besides its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub idempotency_key: String,
    pub task_id: Option<TaskId>,
    pub loan_id: LoanId,
    pub user_id: UserId,
    pub channel: String,
    pub occurred_at: String,
    pub duration_seconds: i64,
    pub outcome: String,
    pub promise_amount_fen: Option<i64>,
    pub promise_date: Option<Date>,
    pub income_change_pct: Option<i64>,
    pub job_status: Option<String>,
    pub vehicle_status: Option<String>,
    pub answers: String,
    pub notes: String,
    pub business_date: Date,
    pub salt: String,
}

/// A recorded interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionRecord {
    pub id: i64,
    pub interaction: Interaction,
}

/// A promise to pay to record (state open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromise {
    pub interaction_id: i64,
    pub loan_id: LoanId,
    pub amount_fen: i64,
    pub promised_on: Date,
    pub due_on: Date,
    pub paid_before_fen: i64,
}

/// A risk signal to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSignal {
    pub loan_id: LoanId,
    pub kind: String,
    pub value: String,
    pub observed_on: Date,
    pub interaction_id: Option<i64>,
}

/// A reveal of a borrower's personal data to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReveal {
    pub user_id: UserId,
    pub borrower_id: BorrowerId,
    pub loan_id: Option<LoanId>,
    pub task_id: Option<TaskId>,
    pub fields: String,
    /// Why (asked by the console; may be empty over the API and the command line).
    pub reason: String,
    pub revealed_at: String,
    pub business_date: Date,
}

/// Tasks of one queue in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepthRow {
    pub queue_code: String,
    pub state: TaskState,
    pub tasks: i64,
}

/// One agent's work in a date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatsRow {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub tasks_done: i64,
    pub attempts: i64,
    pub reached: i64,
    pub promises: i64,
    pub open_tasks: i64,
}

/// Which open tasks a list holds: due on or before a date, of one kind; each when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenTaskFilter {
    pub due: Option<(DueFilter, Date)>,
    pub kind: Option<String>,
}

/// Tasks due on a date, or before it (overdue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueFilter {
    On,
    Before,
}

/// Row counts of the follow-up tables: (interactions, promises, risk signals, tasks, reveals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowupCounts {
    pub interactions: i64,
    pub promises: i64,
    pub risk_signals: i64,
    pub tasks: i64,
    pub reveals: i64,
}

const USER_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.role, u.team_id, t.code, u.skills, u.password_hash, u.active FROM users u LEFT JOIN teams t ON t.id = u.team_id";

fn user_from_row(r: &AnyRow) -> Result<UserRecord> {
    let skills: String = r.try_get(6)?;
    Ok(UserRecord {
        id: UserId(r.try_get(0)?),
        team_code: r.try_get(5)?,
        active: r.try_get::<i64, _>(8)? != 0,
        user: User {
            username: r.try_get(1)?,
            display_name: r.try_get(2)?,
            role: named_col(r, 3, "users.role")?,
            team_id: r.try_get(4)?,
            skills: skills
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            password_hash: r.try_get(7)?,
        },
    })
}

const QUEUE_SELECT: &str = "SELECT id, code, name, team_id, skill, strategy, rr_cursor FROM queues";

fn queue_from_row(r: &AnyRow) -> Result<QueueRecord> {
    Ok(QueueRecord {
        id: r.try_get(0)?,
        code: r.try_get(1)?,
        name: r.try_get(2)?,
        team_id: r.try_get(3)?,
        skill: r.try_get(4)?,
        strategy: named_col(r, 5, "queues.strategy")?,
        rr_cursor: r.try_get(6)?,
    })
}

pub(crate) const TASK_SELECT: &str = "SELECT t.id, t.loan_id, l.external_id, l.borrower_external_id, t.kind, t.reason_key, t.queue_code, t.state, t.assignee_id, u.username, t.created_on, t.due_on, t.window_end_on, t.late, t.attempts, t.max_attempts, t.outcome, t.closed_on, t.close_reason FROM tasks t JOIN loans l ON l.id = t.loan_id LEFT JOIN users u ON u.id = t.assignee_id";

pub(crate) fn task_from_row(r: &AnyRow) -> Result<TaskRecord> {
    Ok(TaskRecord {
        id: TaskId(r.try_get(0)?),
        task: Task {
            loan_id: LoanId(r.try_get(1)?),
            kind: r.try_get(4)?,
            reason_key: r.try_get(5)?,
            queue_code: r.try_get(6)?,
            assignee_id: r.try_get::<Option<i64>, _>(8)?.map(UserId),
            created_on: parse_date_col(&r.try_get::<String, _>(10)?)?,
            due_on: parse_date_col(&r.try_get::<String, _>(11)?)?,
            window_end_on: opt_date_col(r.try_get(12)?)?,
            late: r.try_get::<i64, _>(13)? != 0,
            max_attempts: r.try_get(15)?,
        },
        loan_external_id: r.try_get(2)?,
        borrower_external_id: r.try_get(3)?,
        state: named_col(r, 7, "tasks.state")?,
        assignee: r.try_get(9)?,
        attempts: r.try_get(14)?,
        outcome: r.try_get(16)?,
        closed_on: opt_date_col(r.try_get(17)?)?,
        close_reason: r.try_get(18)?,
    })
}

pub(crate) const INTERACTION_COLUMNS: &str = "id, idempotency_key, task_id, loan_id, user_id, channel, occurred_at, duration_seconds, outcome, promise_amount_fen, promise_date, income_change_pct, job_status, vehicle_status, answers, notes, business_date, COALESCE(salt, '')";

pub(crate) fn interaction_from_row(r: &AnyRow) -> Result<InteractionRecord> {
    Ok(InteractionRecord {
        id: r.try_get(0)?,
        interaction: Interaction {
            idempotency_key: r.try_get(1)?,
            task_id: r.try_get::<Option<i64>, _>(2)?.map(TaskId),
            loan_id: LoanId(r.try_get(3)?),
            user_id: UserId(r.try_get(4)?),
            channel: r.try_get(5)?,
            occurred_at: r.try_get(6)?,
            duration_seconds: r.try_get(7)?,
            outcome: r.try_get(8)?,
            promise_amount_fen: r.try_get(9)?,
            promise_date: opt_date_col(r.try_get(10)?)?,
            income_change_pct: r.try_get(11)?,
            job_status: r.try_get(12)?,
            vehicle_status: r.try_get(13)?,
            answers: r.try_get(14)?,
            notes: r.try_get(15)?,
            business_date: parse_date_col(&r.try_get::<String, _>(16)?)?,
            salt: r.try_get(17)?,
        },
    })
}

/// `$first, $first+1, …` for `n` values (never empty: callers check).
fn list(dialect: Dialect, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| param(dialect, i))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tx {
    /// The tasks of this borrower's loans in teams' queues: team, state, attempts (one row per
    /// distinct combination).
    pub async fn borrower_tasks(&mut self, borrower: BorrowerId) -> Result<Vec<BorrowerTask>> {
        let rows = sqlx::query("SELECT DISTINCT q.team_id, t.state, t.attempts FROM loans l JOIN tasks t ON t.loan_id = l.id JOIN queues q ON q.code = t.queue_code WHERE l.borrower_id = $1 AND q.team_id IS NOT NULL")
            .bind(borrower.get())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BorrowerTask {
                    team_id: r.try_get(0)?,
                    state: named_col(r, 1, "tasks.state")?,
                    attempts: r.try_get(2)?,
                })
            })
            .collect()
    }

    // ----- teams and users --------------------------------------------------------------------

    /// Creates a team; returns its id.
    pub async fn insert_team(&mut self, code: &str, name: &str) -> Result<i64> {
        let row = sqlx::query("INSERT INTO teams (code, name) VALUES ($1, $2) RETURNING id")
            .bind(code)
            .bind(name)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Every team, by code.
    pub async fn teams(&mut self) -> Result<Vec<TeamRecord>> {
        let rows = sqlx::query("SELECT id, code, name FROM teams ORDER BY code")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TeamRecord {
                    id: r.try_get(0)?,
                    code: r.try_get(1)?,
                    name: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The team with this code.
    pub async fn team_by_code(&mut self, code: &str) -> Result<Option<TeamRecord>> {
        Ok(self.teams().await?.into_iter().find(|t| t.code == code))
    }

    /// Creates a user; returns its id.
    pub async fn insert_user(&mut self, user: &User) -> Result<UserId> {
        let row = sqlx::query("INSERT INTO users (username, display_name, role, team_id, skills, password_hash) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(user.username.as_str())
            .bind(user.display_name.as_str())
            .bind(user.role.as_str())
            .bind(user.team_id)
            .bind(user.skills.join(","))
            .bind(user.password_hash.as_deref())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(UserId(row.try_get(0)?))
    }

    /// The user with this username.
    pub async fn user_by_username(&mut self, username: &str) -> Result<Option<UserRecord>> {
        let sql = format!("{USER_SELECT} WHERE u.username = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this id.
    pub async fn user_by_id(&mut self, id: UserId) -> Result<Option<UserRecord>> {
        let sql = format!("{USER_SELECT} WHERE u.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The active user whose unexpired API token (at `now`, RFC 3339 UTC) hashes to
    /// `token_hash`.
    pub async fn user_by_api_token(
        &mut self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<UserRecord>> {
        let sql = format!(
            "{USER_SELECT} WHERE u.api_token_hash = $1 AND u.api_token_expires_at > $2 AND u.active = 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The active user of an unexpired session (`now` is an RFC 3339 UTC timestamp): before its
    /// absolute expiry and, for a console session, before its idle deadline.
    pub async fn user_by_session(
        &mut self,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<UserRecord>> {
        let sql = format!(
            "{USER_SELECT} JOIN sessions s ON s.user_id = u.id WHERE s.token_hash = $1 AND s.expires_at > $2 AND (s.idle_expires_at IS NULL OR s.idle_expires_at > $2) AND u.active = 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Replaces a user's API token (its hash and expiry); none revokes it.
    pub async fn set_api_token_hash(
        &mut self,
        user_id: UserId,
        token: Option<(&str, &str)>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE users SET api_token_hash = $1, api_token_expires_at = $2 WHERE id = $3",
        )
        .bind(token.map(|t| t.0))
        .bind(token.map(|t| t.1))
        .bind(user_id.get())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Opens a session.
    pub async fn insert_session(
        &mut self,
        token_hash: &str,
        user_id: UserId,
        expires_at: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id.get())
            .bind(expires_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Opens a console session: it ends at `expires_at`, or at `idle_expires_at` unless used
    /// before ([`Tx::extend_session`]).
    pub async fn insert_console_session(
        &mut self,
        token_hash: &str,
        user_id: UserId,
        expires_at: &str,
        idle_expires_at: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, expires_at, idle_expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id.get())
        .bind(expires_at)
        .bind(idle_expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Pushes a console session's idle deadline forward (an API session has none to push).
    pub async fn extend_session(&mut self, token_hash: &str, idle_expires_at: &str) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET idle_expires_at = $1 WHERE token_hash = $2 AND idle_expires_at IS NOT NULL",
        )
        .bind(idle_expires_at)
        .bind(token_hash)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// A user's language: `zh` or `en`.
    pub async fn user_lang(&mut self, user_id: UserId) -> Result<String> {
        let lang: Option<String> = sqlx::query_scalar("SELECT lang FROM users WHERE id = $1")
            .bind(user_id.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(lang.unwrap_or_else(|| "zh".into()))
    }

    /// Remembers a user's language (`zh` or `en`; the schema refuses others).
    pub async fn set_user_lang(&mut self, user_id: UserId, lang: &str) -> Result<()> {
        sqlx::query("UPDATE users SET lang = $1 WHERE id = $2")
            .bind(lang)
            .bind(user_id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Every user, by id, with the expiry of their API token (none: no token), in one read.
    pub async fn users(&mut self) -> Result<Vec<(UserRecord, Option<String>)>> {
        let sql = format!(
            "{} ORDER BY u.id",
            USER_SELECT.replacen(
                " FROM users u",
                ", CASE WHEN u.api_token_hash IS NULL THEN NULL ELSE u.api_token_expires_at END FROM users u",
                1
            )
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((user_from_row(r)?, r.try_get(9)?)))
            .collect()
    }

    /// Sets a user's display name, role, team and skills.
    pub async fn set_user_profile(&mut self, id: UserId, user: &User) -> Result<()> {
        sqlx::query(
            "UPDATE users SET display_name = $1, role = $2, team_id = $3, skills = $4 WHERE id = $5",
        )
        .bind(user.display_name.as_str())
        .bind(user.role.as_str())
        .bind(user.team_id)
        .bind(user.skills.join(","))
        .bind(id.get())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Gives the tasks a user holds back to their queues, unassigned (an assigned or started
    /// task is open again, a rescheduled one keeps its date); returns how many.
    pub async fn release_tasks_of(&mut self, user: UserId) -> Result<u64> {
        let sql = format!(
            "UPDATE tasks SET assignee_id = NULL, state = CASE WHEN state = '{rescheduled}' THEN state ELSE '{open}' END WHERE assignee_id = $1 AND state IN {HELD_TASK_STATES}",
            rescheduled = TaskState::Rescheduled,
            open = TaskState::Open,
        );
        // the tasks stay open: the loans' open task keys do not change
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(user.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// How many users each team has, by team id.
    pub async fn team_sizes(&mut self) -> Result<HashMap<i64, i64>> {
        let rows = sqlx::query(
            "SELECT team_id, COUNT(*) FROM users WHERE team_id IS NOT NULL GROUP BY team_id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Renames a team.
    pub async fn set_team_name(&mut self, id: i64, name: &str) -> Result<()> {
        sqlx::query("UPDATE teams SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The users of a team, by id.
    pub async fn team_users(&mut self, team_id: i64) -> Result<Vec<UserRecord>> {
        let sql = format!("{USER_SELECT} WHERE u.team_id = $1 ORDER BY u.id");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(team_id)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    // ----- queues -----------------------------------------------------------------------------

    /// Creates a queue; returns its id.
    pub async fn insert_queue(
        &mut self,
        code: &str,
        name: &str,
        team_id: i64,
        skill: &str,
        strategy: &str,
    ) -> Result<i64> {
        let row = sqlx::query("INSERT INTO queues (code, name, team_id, skill, strategy) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(code)
            .bind(name)
            .bind(team_id)
            .bind(skill)
            .bind(strategy)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Sets a queue's name, skill and assignment strategy.
    pub async fn set_queue(
        &mut self,
        id: i64,
        name: &str,
        skill: &str,
        strategy: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE queues SET name = $1, skill = $2, strategy = $3 WHERE id = $4")
            .bind(name)
            .bind(skill)
            .bind(strategy)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The queue with this code.
    pub async fn queue_by_code(&mut self, code: &str) -> Result<Option<QueueRecord>> {
        let sql = format!("{QUEUE_SELECT} WHERE code = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(code)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(queue_from_row).transpose()
    }

    /// Every queue (optionally of one team), by code.
    pub async fn queues(&mut self, team_id: Option<i64>) -> Result<Vec<QueueRecord>> {
        let sql = format!("{QUEUE_SELECT} WHERE ($1 IS NULL OR team_id = $1) ORDER BY code");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(team_id)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(queue_from_row).collect()
    }

    /// Locks a queue for assignment (a row lock on PostgreSQL, the write lock on SQLite) and
    /// returns its round-robin cursor.
    pub async fn lock_queue(&mut self, queue_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "UPDATE queues SET rr_cursor = rr_cursor WHERE id = $1 RETURNING rr_cursor",
        )
        .bind(queue_id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Moves a queue's round-robin cursor.
    pub async fn set_queue_cursor(&mut self, queue_id: i64, cursor: i64) -> Result<()> {
        sqlx::query("UPDATE queues SET rr_cursor = $1 WHERE id = $2")
            .bind(cursor)
            .bind(queue_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    // ----- tasks ------------------------------------------------------------------------------

    /// Open tasks assigned per user (assigned, in progress or rescheduled).
    pub async fn open_loads(&mut self, user_ids: &[UserId]) -> Result<HashMap<UserId, i64>> {
        let keys: Vec<Val> = user_ids.iter().map(|id| Val::from(*id)).collect();
        let rows = self
            .fetch_in(
                "SELECT assignee_id, CAST(COUNT(*) AS BIGINT) FROM tasks WHERE assignee_id IN",
                &format!("AND state IN {HELD_TASK_STATES} GROUP BY assignee_id"),
                &keys,
                |r| Ok((UserId(r.try_get(0)?), r.try_get::<i64, _>(1)?)),
            )
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Notes the agent who last worked a loan, in its state row.
    pub async fn set_last_agent(&mut self, loan_id: LoanId, user_id: UserId) -> Result<()> {
        sqlx::query("UPDATE loan_state SET last_agent_id = $1 WHERE loan_id = $2")
            .bind(user_id.get())
            .bind(loan_id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The agent who last worked this loan (its last interaction, else its last assigned task).
    pub async fn previous_agent(
        &mut self,
        loan_id: LoanId,
        except_task: TaskId,
    ) -> Result<Option<UserId>> {
        let row = sqlx::query(
            "SELECT user_id FROM interactions WHERE loan_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(loan_id.get())
        .fetch_optional(&mut *self.tx)
        .await?;
        if let Some(r) = row {
            return Ok(Some(UserId(r.try_get(0)?)));
        }
        let row = sqlx::query("SELECT assignee_id FROM tasks WHERE loan_id = $1 AND id <> $2 AND assignee_id IS NOT NULL ORDER BY id DESC LIMIT 1")
            .bind(loan_id.get())
            .bind(except_task.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get(0).map(UserId)).transpose()?)
    }

    /// One task.
    pub async fn task(&mut self, id: TaskId) -> Result<Option<TaskRecord>> {
        let sql = format!("{TASK_SELECT} WHERE t.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Locks a task row for the rest of the transaction; false if there is no such task.
    pub async fn lock_task(&mut self, id: TaskId) -> Result<bool> {
        let done = sqlx::query("UPDATE tasks SET attempts = attempts WHERE id = $1")
            .bind(id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Open tasks of these queues, optionally only those assigned to `user` or unassigned,
    /// earliest due first (at most `limit`).
    pub async fn open_tasks(
        &mut self,
        queue_codes: &[String],
        user: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<TaskRecord>> {
        self.open_tasks_where(queue_codes, user, &OpenTaskFilter::default(), limit)
            .await
    }

    /// [`Tx::open_tasks`] narrowed by `filter`. The tasks are chosen (and ordered) on the
    /// tasks table alone, through its indexes, before their loans and assignees are joined: a
    /// queue of a million open tasks answers its first page in milliseconds.
    pub async fn open_tasks_where(
        &mut self,
        queue_codes: &[String],
        user: Option<UserId>,
        filter: &OpenTaskFilter,
        limit: i64,
    ) -> Result<Vec<TaskRecord>> {
        if queue_codes.is_empty() {
            return Ok(Vec::new());
        }
        let (conditions, mut vals) = self.open_task_conditions(queue_codes, user, filter);
        let sql = format!(
            "{TASK_SELECT} WHERE t.id IN (SELECT id FROM tasks WHERE {conditions} ORDER BY due_on, id LIMIT {}) ORDER BY t.due_on, t.id",
            param(self.dialect, vals.len() + 1)
        );
        vals.push(Val::Int(limit));
        let rows = bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// How many open tasks [`Tx::open_tasks_where`] would find, counted up to `cap` (a count
    /// of `cap` means "at least").
    pub async fn count_open_tasks(
        &mut self,
        queue_codes: &[String],
        user: Option<UserId>,
        filter: &OpenTaskFilter,
        cap: i64,
    ) -> Result<i64> {
        if queue_codes.is_empty() {
            return Ok(0);
        }
        let (conditions, mut vals) = self.open_task_conditions(queue_codes, user, filter);
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM tasks WHERE {conditions} LIMIT {}) capped",
            param(self.dialect, vals.len() + 1)
        );
        vals.push(Val::Int(cap));
        Ok(bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
            .fetch_one(&mut *self.tx)
            .await?
            .try_get(0)?)
    }

    /// The WHERE conditions (on `tasks`, unaliased) of the open tasks of these queues, the
    /// user's and the unassigned ones when a user is given, narrowed by `filter`; with their
    /// values.
    fn open_task_conditions(
        &self,
        queue_codes: &[String],
        user: Option<UserId>,
        filter: &OpenTaskFilter,
    ) -> (String, Vec<Val>) {
        let d = self.dialect;
        let mut vals = Vec::new();
        let mut conditions = format!("state IN {OPEN_TASK_STATES}");
        if let Some(u) = user {
            vals.push(Val::from(u));
            conditions.push_str(&format!(
                " AND (assignee_id = {} OR assignee_id IS NULL)",
                param(d, vals.len())
            ));
        }
        conditions.push_str(&format!(
            " AND queue_code IN ({})",
            list(d, vals.len() + 1, queue_codes.len())
        ));
        vals.extend(queue_codes.iter().cloned().map(Val::Text));
        if let Some((due, date)) = filter.due {
            vals.push(Val::Text(date_text(date)));
            let op = match due {
                DueFilter::On => "=",
                DueFilter::Before => "<",
            };
            conditions.push_str(&format!(" AND due_on {op} {}", param(d, vals.len())));
        }
        if let Some(kind) = &filter.kind {
            vals.push(Val::Text(kind.clone()));
            conditions.push_str(&format!(" AND kind = {}", param(d, vals.len())));
        }
        (conditions, vals)
    }

    /// The task a user should work next among those already theirs: in progress first, then
    /// assigned, then rescheduled ones due by `date`; earliest due first.
    pub async fn next_own_task(
        &mut self,
        user_id: UserId,
        date: Date,
    ) -> Result<Option<TaskRecord>> {
        let sql = format!(
            "{TASK_SELECT} WHERE t.assignee_id = $1 AND t.state IN {HELD_TASK_STATES} AND (t.state <> '{rescheduled}' OR t.due_on <= $2) ORDER BY CASE t.state WHEN '{in_progress}' THEN 0 ELSE 1 END, t.due_on, t.id LIMIT 1",
            rescheduled = TaskState::Rescheduled,
            in_progress = TaskState::InProgress,
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.get())
            .bind(date_text(date))
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Claims the earliest-due unassigned task of a queue for `user_id` (state `assigned`), one
    /// statement: concurrent claimers never get the same task. Returns its id.
    pub async fn claim_unassigned(
        &mut self,
        queue_code: &str,
        user_id: UserId,
        date: Date,
    ) -> Result<Option<TaskId>> {
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE tasks SET assignee_id = $1, state = '{assigned}' WHERE id = (SELECT id FROM tasks WHERE queue_code = $2 AND assignee_id IS NULL AND state IN {CLAIMABLE_TASK_STATES} AND due_on <= $3 ORDER BY due_on, id LIMIT 1{lock}) AND assignee_id IS NULL RETURNING id",
            assigned = TaskState::Assigned,
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.get())
            .bind(queue_code)
            .bind(date_text(date))
            .fetch_optional(&mut *self.tx)
            .await?;
        let id: Option<TaskId> = row.map(|r| r.try_get(0).map(TaskId)).transpose()?;
        if let Some(id) = id {
            self.refresh_task_loan_keys(id).await?;
        }
        Ok(id)
    }

    /// Sets a task's assignee and state.
    pub async fn set_task_assignee(
        &mut self,
        task_id: TaskId,
        assignee: Option<UserId>,
        state: TaskState,
    ) -> Result<()> {
        sqlx::query("UPDATE tasks SET assignee_id = $1, state = $2 WHERE id = $3")
            .bind(assignee.map(UserId::get))
            .bind(state.as_str())
            .bind(task_id.get())
            .execute(&mut *self.tx)
            .await?;
        self.refresh_task_loan_keys(task_id).await
    }

    /// Applies a task's new state after an attempt.
    pub async fn update_task(&mut self, task_id: TaskId, u: &TaskUpdate) -> Result<()> {
        sqlx::query("UPDATE tasks SET state = $1, attempts = $2, due_on = $3, outcome = $4, closed_on = $5, close_reason = $6 WHERE id = $7")
            .bind(u.state.as_str())
            .bind(u.attempts)
            .bind(date_text(u.due_on))
            .bind(u.outcome.as_deref())
            .bind(u.closed_on.map(date_text))
            .bind(u.close_reason.as_deref())
            .bind(task_id.get())
            .execute(&mut *self.tx)
            .await?;
        self.refresh_task_loan_keys(task_id).await
    }

    /// Keeps the stored open task keys of a task's loan true after a change of the task (or its
    /// creation). On PostgreSQL the loan's state row is found and locked in a statement of its
    /// own: the refresh then reads the tasks as they stand once the lock is held. In one
    /// statement, an update waiting for another transaction's change of the row would apply keys
    /// read before that transaction committed (a task it closed still listed, one it created
    /// missing).
    async fn refresh_task_loan_keys(&mut self, task_id: TaskId) -> Result<()> {
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE",
            Dialect::Sqlite => "",
        };
        let loan: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT loan_id FROM loan_state WHERE loan_id = (SELECT loan_id FROM tasks WHERE id = $1){lock}"
        )))
        .bind(task_id.get())
        .fetch_optional(&mut *self.tx)
        .await?;
        match loan {
            Some(loan) => self.refresh_open_task_keys(&[LoanId(loan)]).await,
            None => Ok(()),
        }
    }

    /// Creates a task unless the loan already has one for this reason; returns its id if new.
    pub async fn insert_task(&mut self, t: &Task) -> Result<Option<TaskId>> {
        let state = if t.assignee_id.is_some() {
            TaskState::Assigned
        } else {
            TaskState::Open
        };
        let row = sqlx::query("INSERT INTO tasks (loan_id, kind, reason_key, queue_code, state, assignee_id, created_on, due_on, window_end_on, late, max_attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (loan_id, reason_key) DO NOTHING RETURNING id")
            .bind(t.loan_id.get())
            .bind(t.kind.as_str())
            .bind(t.reason_key.as_str())
            .bind(t.queue_code.as_str())
            .bind(state.as_str())
            .bind(t.assignee_id.map(UserId::get))
            .bind(date_text(t.created_on))
            .bind(date_text(t.due_on))
            .bind(t.window_end_on.map(date_text))
            .bind(i64::from(t.late))
            .bind(t.max_attempts)
            .fetch_optional(&mut *self.tx)
            .await?;
        let id: Option<TaskId> = row.map(|r| r.try_get(0).map(TaskId)).transpose()?;
        if let Some(id) = id {
            self.refresh_task_loan_keys(id).await?;
        }
        Ok(id)
    }

    /// Ids of tasks (optionally only open ones), in id order; for the demo.
    pub async fn task_ids(&mut self, only_open: bool) -> Result<Vec<TaskId>> {
        let sql = if only_open {
            format!("SELECT id FROM tasks WHERE state IN {OPEN_TASK_STATES} ORDER BY id")
        } else {
            "SELECT id FROM tasks ORDER BY id".to_string()
        };
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(|r| Ok(TaskId(r.try_get(0)?))).collect()
    }

    // ----- interactions, promises, signals, reveals ---------------------------------------------

    /// The interaction recorded under this idempotency key.
    pub async fn interaction_by_key(&mut self, key: &str) -> Result<Option<InteractionRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions WHERE idempotency_key = $1"
        )))
        .bind(key)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(interaction_from_row).transpose()
    }

    /// Interactions in id order after `after` (of one loan, or all), at most `limit`, each with
    /// its loan's external id.
    pub async fn interactions_page(
        &mut self,
        loan: Option<LoanId>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(String, InteractionRecord)>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTERACTION_COLUMNS}, (SELECT l.external_id FROM loans l WHERE l.id = interactions.loan_id) FROM interactions WHERE id > $1 AND (CAST($2 AS BIGINT) IS NULL OR loan_id = $2) ORDER BY id LIMIT $3"
        )))
        .bind(after)
        .bind(loan.map(LoanId::get))
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(18)?, interaction_from_row(r)?)))
            .collect()
    }

    /// A loan's interactions, newest first.
    pub async fn loan_interactions(&mut self, loan_id: LoanId) -> Result<Vec<InteractionRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTERACTION_COLUMNS} FROM interactions WHERE loan_id = $1 ORDER BY id DESC"
        )))
        .bind(loan_id.get())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(interaction_from_row).collect()
    }

    /// Records an interaction unless its idempotency key is already used; returns its id if new.
    pub async fn insert_interaction(&mut self, i: &Interaction) -> Result<Option<i64>> {
        let row = sqlx::query("INSERT INTO interactions (idempotency_key, task_id, loan_id, user_id, channel, occurred_at, duration_seconds, outcome, promise_amount_fen, promise_date, income_change_pct, job_status, vehicle_status, answers, notes, business_date, salt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")
            .bind(i.idempotency_key.as_str())
            .bind(i.task_id.map(TaskId::get))
            .bind(i.loan_id.get())
            .bind(i.user_id.get())
            .bind(i.channel.as_str())
            .bind(i.occurred_at.as_str())
            .bind(i.duration_seconds)
            .bind(i.outcome.as_str())
            .bind(i.promise_amount_fen)
            .bind(i.promise_date.map(date_text))
            .bind(i.income_change_pct)
            .bind(i.job_status.as_deref())
            .bind(i.vehicle_status.as_deref())
            .bind(i.answers.as_str())
            .bind(i.notes.as_str())
            .bind(date_text(i.business_date))
            .bind(i.salt.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Records an open promise to pay; returns its id.
    pub async fn insert_promise(&mut self, p: &NewPromise) -> Result<i64> {
        let row = sqlx::query("INSERT INTO promises (interaction_id, loan_id, amount_fen, promised_on, due_on, paid_before_fen, state) VALUES ($1, $2, $3, $4, $5, $6, 'open') RETURNING id")
            .bind(p.interaction_id)
            .bind(p.loan_id.get())
            .bind(p.amount_fen)
            .bind(date_text(p.promised_on))
            .bind(date_text(p.due_on))
            .bind(p.paid_before_fen)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Records risk signals (a handful per interaction).
    pub async fn insert_signals(&mut self, signals: &[NewSignal]) -> Result<()> {
        for s in signals {
            sqlx::query("INSERT INTO risk_signals (loan_id, kind, value, observed_on, interaction_id) VALUES ($1, $2, $3, $4, $5)")
                .bind(s.loan_id.get())
                .bind(s.kind.as_str())
                .bind(s.value.as_str())
                .bind(date_text(s.observed_on))
                .bind(s.interaction_id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// A loan's risk signals: (kind, value, observed on), oldest first.
    pub async fn loan_signals(&mut self, loan_id: LoanId) -> Result<Vec<(String, String, Date)>> {
        let rows = sqlx::query(
            "SELECT kind, value, observed_on FROM risk_signals WHERE loan_id = $1 ORDER BY id",
        )
        .bind(loan_id.get())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    parse_date_col(&r.try_get::<String, _>(2)?)?,
                ))
            })
            .collect()
    }

    /// Total paid on a loan so far (fen).
    pub async fn loan_paid_fen(&mut self, loan_id: LoanId) -> Result<i64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM payments WHERE loan_id = $1",
        )
        .bind(loan_id.get())
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Logs a reveal of personal data.
    pub async fn insert_reveal(&mut self, r: &NewReveal) -> Result<()> {
        sqlx::query("INSERT INTO reveals (user_id, borrower_id, loan_id, task_id, fields, revealed_at, business_date, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(r.user_id.get())
            .bind(r.borrower_id.get())
            .bind(r.loan_id.map(LoanId::get))
            .bind(r.task_id.map(TaskId::get))
            .bind(r.fields.as_str())
            .bind(r.revealed_at.as_str())
            .bind(date_text(r.business_date))
            .bind(r.reason.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The script of a task kind in a language (its questions, JSON text).
    pub async fn script(&mut self, task_kind: &str, lang: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT questions FROM scripts WHERE task_kind = $1 AND lang = $2")
            .bind(task_kind)
            .bind(lang)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Row counts of the follow-up tables.
    pub async fn followup_counts(&mut self) -> Result<FollowupCounts> {
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM interactions), (SELECT COUNT(*) FROM promises), (SELECT COUNT(*) FROM risk_signals), (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM reveals)")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(FollowupCounts {
            interactions: row.try_get(0)?,
            promises: row.try_get(1)?,
            risk_signals: row.try_get(2)?,
            tasks: row.try_get(3)?,
            reveals: row.try_get(4)?,
        })
    }

    // ----- SLA and productivity ---------------------------------------------------------------

    /// Open tasks per queue and state, for these queues.
    pub async fn queue_depth(&mut self, queue_codes: &[String]) -> Result<Vec<DepthRow>> {
        let keys: Vec<Val> = queue_codes.iter().cloned().map(Val::Text).collect();
        let mut rows = self
            .fetch_in(
                "SELECT queue_code, state, CAST(COUNT(*) AS BIGINT) FROM tasks WHERE queue_code IN",
                &format!("AND state IN {OPEN_TASK_STATES} GROUP BY queue_code, state"),
                &keys,
                |r| {
                    Ok(DepthRow {
                        queue_code: r.try_get(0)?,
                        state: named_col(r, 1, "tasks.state")?,
                        tasks: r.try_get(2)?,
                    })
                },
            )
            .await?;
        rows.sort_by(|a, b| {
            (&a.queue_code, a.state.as_str()).cmp(&(&b.queue_code, b.state.as_str()))
        });
        Ok(rows)
    }

    /// Open tasks of these queues past their due date on `date` (SLA breaches), oldest first.
    pub async fn tasks_past_due(
        &mut self,
        queue_codes: &[String],
        date: Date,
        limit: i64,
    ) -> Result<(i64, Vec<TaskRecord>)> {
        if queue_codes.is_empty() {
            return Ok((0, Vec::new()));
        }
        let d = self.dialect;
        let codes = list(d, 2, queue_codes.len());
        let count_sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks t WHERE t.state IN {OPEN_TASK_STATES} AND t.due_on < {} AND t.queue_code IN ({codes})",
            param(d, 1)
        );
        let mut vals = vec![Val::Text(date_text(date))];
        vals.extend(queue_codes.iter().cloned().map(Val::Text));
        let total: i64 = bind_vals(sqlx::query(AssertSqlSafe(count_sql)), &vals)
            .fetch_one(&mut *self.tx)
            .await?
            .try_get(0)?;
        let sql = format!(
            "{TASK_SELECT} WHERE t.state IN {OPEN_TASK_STATES} AND t.due_on < {} AND t.queue_code IN ({codes}) ORDER BY t.due_on, t.id LIMIT {}",
            param(d, 1),
            param(d, 2 + queue_codes.len())
        );
        vals.push(Val::Int(limit));
        let rows = bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok((
            total,
            rows.iter().map(task_from_row).collect::<Result<_>>()?,
        ))
    }

    /// Per-agent productivity of a team between two business dates (inclusive): tasks done,
    /// attempts (interactions), borrowers reached, promises taken, tasks still open.
    pub async fn agent_stats(
        &mut self,
        team_id: i64,
        from: Date,
        to: Date,
    ) -> Result<Vec<AgentStatsRow>> {
        let sql = format!(
            "SELECT u.id, u.username, u.display_name, \
             CAST((SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.state = '{done}' AND t.closed_on >= $2 AND t.closed_on <= $3) AS BIGINT), \
             CAST((SELECT COUNT(*) FROM interactions i WHERE i.user_id = u.id AND i.business_date >= $2 AND i.business_date <= $3) AS BIGINT), \
             CAST((SELECT COUNT(*) FROM interactions i WHERE i.user_id = u.id AND i.business_date >= $2 AND i.business_date <= $3 AND i.outcome NOT IN ({not_reached})) AS BIGINT), \
             CAST((SELECT COUNT(*) FROM interactions i WHERE i.user_id = u.id AND i.business_date >= $2 AND i.business_date <= $3 AND i.outcome = 'promise_to_pay') AS BIGINT), \
             CAST((SELECT COUNT(*) FROM tasks t WHERE t.assignee_id = u.id AND t.state IN {HELD_TASK_STATES}) AS BIGINT) \
             FROM users u WHERE u.team_id = $1 AND u.role IN {TEAM_ROLES} ORDER BY u.id",
            done = TaskState::Done,
            not_reached = huifang_core::outcome::not_reached_sql(),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(team_id)
            .bind(date_text(from))
            .bind(date_text(to))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentStatsRow {
                    user_id: UserId(r.try_get(0)?),
                    username: r.try_get(1)?,
                    display_name: r.try_get(2)?,
                    tasks_done: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    reached: r.try_get(5)?,
                    promises: r.try_get(6)?,
                    open_tasks: r.try_get(7)?,
                })
            })
            .collect()
    }
}

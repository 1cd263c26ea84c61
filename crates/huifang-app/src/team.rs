//! The team that works follow-up tasks (DOMAIN.md capabilities 4, 5 and 13): users, teams and
//! queues; authentication (argon2 passwords, session and API tokens stored as SHA-256);
//! authorisation by role and team; my queue, take next (assignment by the queue's strategy),
//! show a task with its script and the borrower's context (masked unless the role may reveal,
//! every reveal logged), record an outcome (interaction, promise, risk signals, task transition
//! and the interaction's ledger leaf in one transaction, once per idempotency key), reassign,
//! and the team lead's SLA and productivity views.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use huifang_core::calendar::add_days;
use huifang_core::followup::{self, AnswerType, ChoiceOption, Question, Script, TaskKind};
use huifang_core::outcome::{
    self, Answers, Candidate, Channel, JobStatus, Outcome, Strategy, Transition, VehicleUse,
};
use huifang_core::policy::Policy;
use huifang_core::team::{self, Access, Member, TaskPlace, TaskState};
use huifang_core::{Date, Money};
use huifang_store::{
    AgentStatsRow, DepthRow, NewInteraction, NewPromise, NewReveal, NewSignal, NewTask, NewUser,
    QueueRecord, Store, TaskRecord, TaskUpdate, TeamRecord, Tx, UserRecord,
};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::loans::{self, LoanView};
use crate::{AppError, ledger, require_business_date};

/// How long a login session lasts.
pub const SESSION_HOURS: i64 = 12;

pub use huifang_core::team::Role;

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: UserRecord,
    pub role: Role,
}

impl Actor {
    pub(crate) fn from_user(user: UserRecord) -> Result<Actor, AppError> {
        let role = user.role;
        Ok(Actor { user, role })
    }

    /// The actor as the core's access rules see them.
    fn member(&self) -> Member<'_> {
        Member {
            user_id: self.user.id,
            role: self.role,
            team_id: self.user.team_id,
            skills: &self.user.skills,
        }
    }

    pub fn id(&self) -> i64 {
        self.user.id
    }

    fn name(&self) -> String {
        format!(
            "{} ({}, team {})",
            self.user.username,
            self.role,
            self.user.team_code.as_deref().unwrap_or("none")
        )
    }

    fn has_skill(&self, skill: &str) -> bool {
        self.member().has_skill(skill)
    }
}

fn forbidden(msg: String) -> AppError {
    AppError::Forbidden(msg)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> AppError {
    AppError::Field {
        field,
        reason: reason.into(),
    }
}

/// SHA-256 of a token, lowercase hex: what the database keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes from the OS-seeded thread CSPRNG, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An argon2id PHC hash of a password, computed off the async runtime's threads.
pub async fn hash_password(password: &str) -> Result<String, AppError> {
    if password.chars().count() < 8 {
        return Err(invalid("password", "must have at least 8 characters"));
    }
    let password = password.to_string();
    off_the_runtime(move || hash_now(&password)).await?
}

fn hash_now(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches `phc`. With no hash (no such user, or one without a password) it
/// checks against a hash of a random password instead, so that the answer takes as long whether
/// or not the user exists, and is false.
async fn verify_password(password: &str, phc: Option<String>) -> Result<bool, AppError> {
    let password = password.to_string();
    off_the_runtime(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| UNKNOWN_USER_HASH.clone());
        let matches = PasswordHash::new(&phc).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        known && matches
    })
    .await
}

/// The hash an unknown user's login is checked against (of a random password nobody knows).
static UNKNOWN_USER_HASH: LazyLock<String> =
    LazyLock::new(|| hash_now(&new_token()).unwrap_or_default());

/// How many password hashes run at once: one per core. argon2 is slow on purpose (tens of
/// milliseconds and 19 MiB each); run on the async runtime's threads, a burst of logins would
/// stall every other request, and unbounded on the blocking pool it would take every core.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// Runs CPU-heavy work (password hashing) on the blocking pool, at most [`HASHING`] at once.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|e| AppError::Invalid(format!("password hashing is closed: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Invalid(format!("password hashing failed: {e}")))
}

fn now_utc() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ----- administration ------------------------------------------------------------------------

fn require_admin(by: Option<&Actor>) -> Result<(), AppError> {
    match by {
        None => Ok(()), // the command line: whoever holds the database
        Some(a) if a.role == Role::Admin => Ok(()),
        Some(a) => Err(forbidden(format!(
            "{} may not manage users, teams or queues (admin only)",
            a.name()
        ))),
    }
}

/// Creates a team. `by` is the acting user (None: the command line operator).
pub async fn create_team(
    store: &Store,
    by: Option<&Actor>,
    code: &str,
    name: &str,
) -> Result<i64, AppError> {
    require_admin(by)?;
    let code = code.trim();
    if code.is_empty() || name.trim().is_empty() {
        return Err(invalid("team", "a team needs a code and a name"));
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    if tx.team_by_code(code).await?.is_some() {
        return Err(AppError::Conflict(format!("team {code:?} exists already")));
    }
    let id = tx.insert_team(code, name.trim()).await?;
    tx.commit().await?;
    Ok(id)
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub team: Option<String>,
    pub skills: Vec<String>,
    pub password: Option<String>,
}

/// Creates a user (password hashed with argon2id); returns its id.
pub async fn create_user(
    store: &Store,
    by: Option<&Actor>,
    input: &UserInput,
) -> Result<i64, AppError> {
    require_admin(by)?;
    let username = input.username.trim();
    if username.is_empty()
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(invalid(
            "username",
            format!("{username:?}: letters, digits, '.', '_' and '-' only"),
        ));
    }
    let password_hash = match input.password.as_deref() {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    if tx.user_by_username(username).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "user {username:?} exists already"
        )));
    }
    let team_id = match input.team.as_deref() {
        Some(code) => Some(
            tx.team_by_code(code)
                .await?
                .ok_or_else(|| AppError::NotFound {
                    what: "team",
                    id: code.to_string(),
                })?
                .id,
        ),
        None => None,
    };
    if matches!(input.role, Role::Agent | Role::Collector | Role::TeamLead) && team_id.is_none() {
        return Err(invalid(
            "team",
            format!("a {} belongs to a team (--team)", input.role),
        ));
    }
    let display_name = if input.display_name.trim().is_empty() {
        username.to_string()
    } else {
        input.display_name.trim().to_string()
    };
    let id = tx
        .insert_user(&NewUser {
            username: username.to_string(),
            display_name,
            role: input.role,
            team_id,
            skills: input
                .skills
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            password_hash,
        })
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Issues a new API token for a user (replacing any earlier one) and returns it: it is shown
/// once, only its SHA-256 is kept.
pub async fn issue_api_token(
    store: &Store,
    by: Option<&Actor>,
    username: &str,
) -> Result<String, AppError> {
    require_admin(by)?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let user = tx
        .user_by_username(username)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "user",
            id: username.to_string(),
        })?;
    let token = new_token();
    tx.set_api_token_hash(user.id, &token_hash(&token)).await?;
    tx.commit().await?;
    Ok(token)
}

/// Creates a queue of a team; returns its id.
pub async fn create_queue(
    store: &Store,
    by: Option<&Actor>,
    code: &str,
    name: &str,
    team: &str,
    strategy: &str,
    skill: &str,
) -> Result<i64, AppError> {
    require_admin(by)?;
    let strategy: Strategy = strategy
        .parse()
        .map_err(|e: outcome::OutcomeError| invalid("strategy", e.to_string()))?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let team = tx
        .team_by_code(team)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "team",
            id: team.to_string(),
        })?;
    if tx.queue_by_code(code).await?.is_some() {
        return Err(AppError::Conflict(format!("queue {code:?} exists already")));
    }
    let name = if name.trim().is_empty() { code } else { name };
    let id = tx
        .insert_queue(code, name, team.id, skill.trim(), strategy.as_str())
        .await?;
    tx.commit().await?;
    Ok(id)
}

// ----- authentication ------------------------------------------------------------------------

/// Logs in with a password; returns a new session token (shown once) and the user.
pub async fn login(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<(String, Actor), AppError> {
    let mut tx = store.begin().await?;
    let user = tx.user_by_username(username).await?;
    tx.rollback().await?;
    // the password is checked outside any transaction, off the async threads: argon2 is slow
    // on purpose; an unknown or disabled user is checked too, so every refusal takes as long
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = verify_password(password, hash).await?;
    let ok = matches && user.as_ref().is_some_and(|u| u.active);
    let Some(user) = user.filter(|_| ok) else {
        return Err(AppError::Unauthenticated(
            "wrong username or password".into(),
        ));
    };
    let token = new_token();
    let expires = stamp(now_utc() + chrono::Duration::hours(SESSION_HOURS));
    let mut tx = store.begin().await?;
    tx.insert_session(&token_hash(&token), user.id, &expires)
        .await?;
    tx.commit().await?;
    Ok((token, Actor::from_user(user)?))
}

/// The user of a bearer token: an API token or an unexpired session token.
pub async fn authenticate(store: &Store, token: &str) -> Result<Actor, AppError> {
    let hash = token_hash(token.trim());
    let mut tx = store.begin().await?;
    let user = match tx.user_by_api_token(&hash).await? {
        Some(u) => Some(u),
        None => tx.user_by_session(&hash, &stamp(now_utc())).await?,
    };
    tx.rollback().await?;
    let user = user.ok_or_else(|| {
        AppError::Unauthenticated("the token is unknown, revoked or expired".into())
    })?;
    Actor::from_user(user)
}

/// The user named on the command line (`--as`): whoever holds the database acts as them.
pub async fn actor(store: &Store, username: &str) -> Result<Actor, AppError> {
    let mut tx = store.begin().await?;
    let user = tx.user_by_username(username).await?;
    tx.rollback().await?;
    let user = user
        .filter(|u| u.active)
        .ok_or_else(|| AppError::NotFound {
            what: "active user",
            id: username.to_string(),
        })?;
    Actor::from_user(user)
}

// ----- authorisation -------------------------------------------------------------------------

async fn task_queue(tx: &mut Tx, task: &TaskRecord) -> Result<Option<QueueRecord>, AppError> {
    Ok(tx.queue_by_code(&task.queue_code).await?)
}

/// Checks, by the core's rule, that `actor` may view or work `task`; returns the task's queue.
async fn authorize_task(
    tx: &mut Tx,
    actor: &Actor,
    task: &TaskRecord,
    access: Access,
) -> Result<Option<QueueRecord>, AppError> {
    let queue = task_queue(tx, task).await?;
    let place = TaskPlace {
        queue_code: &task.queue_code,
        queue: queue.as_ref().map(|q| (q.team_id, q.skill.as_str())),
        assignee_id: task.assignee_id,
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

async fn load_task(tx: &mut Tx, id: i64) -> Result<TaskRecord, AppError> {
    tx.task(id).await?.ok_or_else(|| AppError::NotFound {
        what: "task",
        id: id.to_string(),
    })
}

fn require_team(actor: &Actor) -> Result<i64, AppError> {
    actor
        .user
        .team_id
        .ok_or_else(|| forbidden(format!("{} belongs to no team", actor.name())))
}

// ----- my queue and take next ----------------------------------------------------------------

/// The open tasks an actor may see: an agent's own and the unassigned ones of their team's
/// queues; a team lead's whole team; an auditor's every queue. `queue` narrows to one queue.
pub async fn my_queue(
    store: &Store,
    actor: &Actor,
    queue: Option<&str>,
) -> Result<Vec<TaskRecord>, AppError> {
    let mut tx = store.begin().await?;
    let (queues, only_mine) = match actor.role {
        Role::Agent | Role::Collector => (
            tx.queues(Some(require_team(actor)?))
                .await?
                .into_iter()
                .filter(|q| actor.has_skill(&q.skill))
                .collect::<Vec<_>>(),
            true,
        ),
        Role::TeamLead => (tx.queues(Some(require_team(actor)?)).await?, false),
        Role::Auditor => (tx.queues(None).await?, false),
        Role::RiskOfficer | Role::Admin => {
            return Err(forbidden(format!(
                "{} has no task queue: a {} does not work follow-up tasks",
                actor.name(),
                actor.role
            )));
        }
    };
    let mut codes: Vec<String> = queues.into_iter().map(|q| q.code).collect();
    if let Some(q) = queue {
        if !codes.iter().any(|c| c == q) {
            return Err(forbidden(format!(
                "{} may not see queue {q:?}: not a queue of their team",
                actor.name()
            )));
        }
        codes = vec![q.to_string()];
    }
    let tasks = tx
        .open_tasks(&codes, only_mine.then_some(actor.id()), 500)
        .await?;
    tx.rollback().await?;
    Ok(tasks)
}

async fn candidates(tx: &mut Tx, queue: &QueueRecord) -> Result<Vec<Candidate>, AppError> {
    let Some(team_id) = queue.team_id else {
        return Ok(Vec::new());
    };
    let users: Vec<UserRecord> = tx
        .team_users(team_id)
        .await?
        .into_iter()
        .filter(|u| {
            u.active
                && matches!(u.role.as_str(), "agent" | "collector")
                && (queue.skill.is_empty() || u.skills.contains(&queue.skill))
        })
        .collect();
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let loads = if ids.is_empty() {
        HashMap::new()
    } else {
        tx.open_loads(&ids).await?
    };
    Ok(ids
        .into_iter()
        .map(|id| Candidate {
            user_id: id,
            open_tasks: u32::try_from(loads.get(&id).copied().unwrap_or(0)).unwrap_or(u32::MAX),
        })
        .collect())
}

/// The agent a task goes to by its queue's strategy (locks the queue; moves the round-robin
/// cursor). None when the queue has no eligible agent.
async fn dispatch(
    tx: &mut Tx,
    queue: &QueueRecord,
    task: &TaskRecord,
) -> Result<Option<i64>, AppError> {
    let cursor = tx.lock_queue(queue.id).await?;
    let strategy = queue.strategy;
    let cands = candidates(tx, queue).await?;
    let previous = if strategy == Strategy::Sticky {
        tx.previous_agent(task.loan_id, task.id).await?
    } else {
        None
    };
    let pick = outcome::assign(strategy, &cands, cursor, previous);
    if let (Strategy::RoundRobin, Some(p)) = (strategy, pick) {
        tx.set_queue_cursor(queue.id, p).await?;
    }
    Ok(pick)
}

/// Most tasks one `take_next` hands to colleagues (by the strategy) before giving up.
const MAX_DISPATCH: usize = 64;

/// Takes the next task: the actor's own task in progress or assigned (or rescheduled and due),
/// else the earliest-due unassigned task of their team's queues, each claimed task going to the
/// agent the queue's strategy picks until one falls to the actor. The task is then in progress.
pub async fn take_next(store: &Store, actor: &Actor) -> Result<Option<TaskRecord>, AppError> {
    if !matches!(actor.role, Role::Agent | Role::Collector | Role::TeamLead) {
        return Err(forbidden(format!(
            "{} does not work follow-up tasks",
            actor.name()
        )));
    }
    let team_id = require_team(actor)?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    if let Some(t) = tx.next_own_task(actor.id(), date).await? {
        tx.set_task_assignee(t.id, Some(actor.id()), TaskState::InProgress)
            .await?;
        let t = load_task(&mut tx, t.id).await?;
        tx.commit().await?;
        return Ok(Some(t));
    }
    if !actor.role.works_tasks() {
        tx.commit().await?;
        return Ok(None);
    }
    let queues: Vec<QueueRecord> = tx
        .queues(Some(team_id))
        .await?
        .into_iter()
        .filter(|q| actor.has_skill(&q.skill))
        .collect();
    let mut handed = 0;
    for queue in &queues {
        while handed < MAX_DISPATCH {
            let Some(id) = tx.claim_unassigned(&queue.code, actor.id(), date).await? else {
                break;
            };
            let task = load_task(&mut tx, id).await?;
            let pick = dispatch(&mut tx, queue, &task).await?.unwrap_or(actor.id());
            if pick == actor.id() {
                tx.set_task_assignee(id, Some(pick), TaskState::InProgress)
                    .await?;
                let t = load_task(&mut tx, id).await?;
                tx.commit().await?;
                return Ok(Some(t));
            }
            tx.set_task_assignee(id, Some(pick), TaskState::Assigned)
                .await?;
            handed += 1;
        }
    }
    tx.commit().await?;
    Ok(None)
}

/// Assigns one open unassigned task by its queue's strategy (the demo, a dispatcher); returns
/// the agent.
pub async fn auto_assign(store: &Store, task_id: i64) -> Result<Option<i64>, AppError> {
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    tx.lock_task(task_id).await?;
    let task = load_task(&mut tx, task_id).await?;
    if task.assignee_id.is_some() || !task.state.is_claimable() {
        return Ok(task.assignee_id);
    }
    let Some(queue) = tx.queue_by_code(&task.queue_code).await? else {
        return Ok(None);
    };
    let pick = dispatch(&mut tx, &queue, &task).await?;
    if let Some(p) = pick {
        tx.set_task_assignee(task_id, Some(p), TaskState::Assigned)
            .await?;
    }
    tx.commit().await?;
    Ok(pick)
}

// ----- show a task ---------------------------------------------------------------------------

/// The borrower as a user may see them: ID number and mobile masked unless revealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorrowerContext {
    pub external_id: String,
    pub name: String,
    pub id_number: String,
    pub mobile: String,
    pub city: String,
    pub revealed: bool,
}

/// A task with its script and the borrower's context.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub task: TaskRecord,
    pub queue: Option<QueueRecord>,
    /// The script's questions (JSON), if the task kind has one in the language.
    pub script: Option<Value>,
    pub borrower: BorrowerContext,
    pub loan: LoanView,
    pub interactions: Vec<huifang_store::InteractionRecord>,
}

/// The borrower of a loan as `actor` may see them; a reveal (full ID number and mobile) is
/// refused to roles that may not, and logged when granted.
async fn borrower_context(
    tx: &mut Tx,
    actor: &Actor,
    loan: &huifang_store::LoanRecord,
    task_id: Option<i64>,
    reveal: bool,
    date: Date,
) -> Result<BorrowerContext, AppError> {
    if reveal && !actor.role.may_reveal() {
        return Err(forbidden(format!(
            "{} may not reveal a borrower's ID number or mobile",
            actor.name()
        )));
    }
    let b = tx
        .borrowers_by_external_id(std::slice::from_ref(&loan.borrower_external_id))
        .await?
        .remove(&loan.borrower_external_id)
        .ok_or_else(|| AppError::NotFound {
            what: "borrower",
            id: loan.borrower_external_id.clone(),
        })?;
    if reveal {
        tx.insert_reveal(&NewReveal {
            user_id: actor.id(),
            borrower_id: b.id,
            loan_id: Some(loan.id),
            task_id,
            fields: "id_number,mobile".into(),
            revealed_at: stamp(now_utc()),
            business_date: date,
        })
        .await?;
    }
    Ok(BorrowerContext {
        external_id: b.external_id,
        name: b.name,
        id_number: if reveal {
            b.id_number.clone()
        } else {
            team::mask_id_number(&b.id_number)
        },
        mobile: if reveal {
            b.mobile.clone()
        } else {
            team::mask_mobile(&b.mobile)
        },
        city: b.city,
        revealed: reveal,
    })
}

/// Shows a task: its script (in `lang`, falling back to zh) and the borrower's context.
pub async fn show_task(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    task_id: i64,
    lang: &str,
    reveal: bool,
) -> Result<TaskView, AppError> {
    let mut tx = store.begin().await?;
    if reveal {
        tx.lock_for_write().await?;
    }
    let date = require_business_date(&mut tx).await?;
    let task = load_task(&mut tx, task_id).await?;
    let queue = authorize_task(&mut tx, actor, &task, Access::View).await?;
    let script = match tx.script(&task.kind, lang).await? {
        Some(s) => Some(s),
        None => tx.script(&task.kind, "zh").await?,
    };
    let script = script.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s)));
    let loan = tx
        .loans_by_external_id(std::slice::from_ref(&task.loan_external_id))
        .await?
        .remove(&task.loan_external_id)
        .ok_or_else(|| AppError::NotFound {
            what: "loan",
            id: task.loan_external_id.clone(),
        })?;
    let borrower = borrower_context(&mut tx, actor, &loan, Some(task.id), reveal, date).await?;
    let interactions = tx.loan_interactions(task.loan_id).await?;
    tx.commit().await?;
    let loan = loans::view(store, policy, &task.loan_external_id).await?;
    Ok(TaskView {
        task,
        queue,
        script,
        borrower,
        loan,
        interactions,
    })
}

/// A loan's full view with its borrower, for the roles that read loans.
pub async fn show_loan(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    external_id: &str,
    reveal: bool,
) -> Result<(LoanView, BorrowerContext), AppError> {
    if !actor.role.reads_loans() {
        return Err(forbidden(format!(
            "{} may not read loans (risk officers, team leads, auditors and admins may)",
            actor.name()
        )));
    }
    let view = loans::view(store, policy, external_id).await?;
    let mut tx = store.begin().await?;
    if reveal {
        tx.lock_for_write().await?;
    }
    let date = require_business_date(&mut tx).await?;
    let borrower = borrower_context(&mut tx, actor, &view.loan, None, reveal, date).await?;
    tx.commit().await?;
    Ok((view, borrower))
}

// ----- documents -----------------------------------------------------------------------------

/// Refuses an actor who may not register documents (the auditor): checked before anything of
/// the request is read, so that a refused caller learns nothing about loans or borrowers.
pub fn authorize_document_registration(actor: &Actor) -> Result<(), AppError> {
    if actor.role.registers_documents() {
        Ok(())
    } else {
        Err(forbidden(format!(
            "{} may not register documents (the auditor reads and changes nothing)",
            actor.name()
        )))
    }
}

/// Registers a document uploaded by `actor` (every role but the auditor) by its SHA-256
/// (lowercase hex) and size, anchored in the log: [`ledger::register_document`] behind the
/// role check.
pub async fn register_document(
    store: &Store,
    actor: &Actor,
    owner: &ledger::Owner,
    kind: &str,
    file_name: &str,
    sha256: &str,
    size_bytes: u64,
) -> Result<ledger::Registration, AppError> {
    authorize_document_registration(actor)?;
    ledger::register_document(store, owner, kind, file_name, sha256, size_bytes).await
}

// ----- record an outcome ---------------------------------------------------------------------

/// An outcome as entered.
#[derive(Debug, Clone, Default)]
pub struct OutcomeInput {
    pub channel: String,
    pub outcome: String,
    /// Promise amount in yuan ("3000", "3000.50").
    pub amount: Option<String>,
    pub date: Option<Date>,
    pub income_change_pct: Option<i32>,
    pub job_status: Option<String>,
    pub vehicle_status: Option<String>,
    /// Structured script answers: a JSON object.
    pub answers: Option<Value>,
    pub notes: String,
    pub duration_seconds: i64,
    pub idempotency_key: String,
    /// When the contact happened (RFC 3339); default now.
    pub occurred_at: Option<String>,
}

/// What recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub interaction_id: i64,
    /// False when the idempotency key had been used: nothing was recorded this time.
    pub new: bool,
    pub task: TaskRecord,
    pub signals: Vec<String>,
    pub promise_id: Option<i64>,
    pub escalation_task: Option<i64>,
    /// Index of the interaction's leaf in the ledger (when new).
    pub leaf_index: Option<u64>,
}

fn parse_answers(v: Option<&Value>) -> Result<(Answers, String), AppError> {
    let Some(v) = v else {
        return Ok((Answers::new(), "{}".into()));
    };
    let Value::Object(map) = v else {
        return Err(invalid("answers", "must be a JSON object"));
    };
    let answers = map
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(true) => "yes".into(),
                Value::Bool(false) => "no".into(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    Ok((answers, v.to_string()))
}

/// A stored script (the JSON the follow-up engine keeps in `scripts`) as the core's [`Script`].
fn script_from_json(kind: TaskKind, lang: &str, v: &Value) -> Option<Script> {
    let text = |q: &Value, k: &str| q.get(k).and_then(Value::as_str).map(String::from);
    let questions = v
        .as_array()?
        .iter()
        .map(|q| {
            let answer = match q.get("answer").and_then(Value::as_str)? {
                "yes_no" => AnswerType::YesNo,
                "number" => AnswerType::Number,
                "money" => AnswerType::Money,
                "date" => AnswerType::Date,
                "text" => AnswerType::Text,
                "choice" => AnswerType::Choice(
                    q.get("options")?
                        .as_array()?
                        .iter()
                        .map(|o| {
                            Some(ChoiceOption {
                                code: text(o, "code")?,
                                label: text(o, "label").unwrap_or_default(),
                                signal: text(o, "signal"),
                            })
                        })
                        .collect::<Option<Vec<_>>>()?,
                ),
                _ => return None,
            };
            let at_most = q
                .get("signal_at_most")
                .and_then(|a| Some((a.get("value")?.as_i64()?, text(a, "signal")?)));
            Some(Question {
                id: text(q, "id")?,
                text: text(q, "text").unwrap_or_default(),
                answer,
                signal_if_no: text(q, "signal_if_no"),
                signal_at_most: at_most,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Script {
        kind,
        lang: lang.to_string(),
        questions,
    })
}

/// The signals the task kind's script attaches to these answers (its options, "no" answers and
/// number thresholds), as (signal, answer) pairs; none when the kind has no script.
async fn script_signals(
    tx: &mut Tx,
    task_kind: &str,
    answers: &Answers,
) -> Result<Vec<(String, String)>, AppError> {
    let Some(kind) = TaskKind::ALL.into_iter().find(|k| k.as_str() == task_kind) else {
        return Ok(Vec::new());
    };
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let Some(text) = tx.script(task_kind, "zh").await? else {
        return Ok(Vec::new());
    };
    let script = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| script_from_json(kind, "zh", &v))
        .ok_or_else(|| {
            AppError::Store(huifang_store::StoreError::Corrupt(format!(
                "the {task_kind} script is not a valid script"
            )))
        })?;
    let pairs: Vec<(String, String)> = answers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(followup::signals_from_answers(&script, &pairs))
}

/// Records the outcome of a contact on a task: the interaction (logged in the ledger), an open
/// promise to pay, the risk signals, and the task's next state — escalating it when the
/// borrower stays unreachable after its attempt limit — all in one transaction. The same
/// idempotency key records once: a repeat returns the first record and writes nothing.
pub async fn record_outcome(
    store: &Store,
    actor: &Actor,
    task_id: i64,
    input: &OutcomeInput,
) -> Result<Recorded, AppError> {
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    let r = record_in(&mut tx, actor, task_id, input, date).await?;
    tx.commit().await?;
    Ok(r)
}

pub(crate) async fn record_in(
    tx: &mut Tx,
    actor: &Actor,
    task_id: i64,
    input: &OutcomeInput,
    date: Date,
) -> Result<Recorded, AppError> {
    let key = input.idempotency_key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(invalid("idempotency_key", "required, 1 to 200 characters"));
    }
    if !tx.lock_task(task_id).await? {
        return Err(AppError::NotFound {
            what: "task",
            id: task_id.to_string(),
        });
    }
    let task = load_task(tx, task_id).await?;
    authorize_task(tx, actor, &task, Access::Work).await?;
    if let Some(first) = tx.interaction_by_key(key).await? {
        if first.task_id != Some(task_id) || first.user_id != actor.id() {
            return Err(AppError::Conflict(format!(
                "idempotency key {key:?} was used for another record"
            )));
        }
        return Ok(Recorded {
            interaction_id: first.id,
            new: false,
            task,
            signals: Vec::new(),
            promise_id: None,
            escalation_task: None,
            leaf_index: None,
        });
    }
    if !task.state.is_open() {
        return Err(AppError::Conflict(format!(
            "task {task_id} is {}: nothing more can be recorded on it",
            task.state
        )));
    }
    let channel: Channel = input
        .channel
        .parse()
        .map_err(|e: outcome::OutcomeError| invalid("channel", e.to_string()))?;
    let amount = input
        .amount
        .as_deref()
        .map(Money::parse)
        .transpose()
        .map_err(|e| invalid("amount", e.to_string()))?;
    let job = input
        .job_status
        .as_deref()
        .map(JobStatus::from_str)
        .transpose()
        .map_err(|e| invalid("job_status", e.to_string()))?;
    let vehicle = input
        .vehicle_status
        .as_deref()
        .map(VehicleUse::from_str)
        .transpose()
        .map_err(|e| invalid("vehicle_status", e.to_string()))?;
    let outcome = Outcome::build(
        &input.outcome,
        amount,
        input.date,
        input.income_change_pct,
        job,
        vehicle,
        date,
    )
    .map_err(|e| invalid("outcome", e.to_string()))?;
    let (answers, answers_json) = parse_answers(input.answers.as_ref())?;
    let attempts = u32::try_from(task.attempts).unwrap_or(0);
    let max_attempts = u32::try_from(task.max_attempts).unwrap_or(1);
    let transition = outcome::next_state(&outcome, attempts, max_attempts, date);
    let attempts_after = match transition {
        Transition::Done => attempts,
        Transition::Reschedule { attempts, .. } | Transition::FailAndEscalate { attempts } => {
            attempts
        }
    };
    let signals = outcome::signals(&outcome, &answers, attempts_after)
        .map_err(|e| invalid("answers", e.to_string()))?;
    let mut signal_rows: Vec<(String, String)> = signals
        .iter()
        .map(|s| (s.kind.to_string(), s.value.clone()))
        .collect();
    for (kind, answer) in script_signals(tx, &task.kind, &answers).await? {
        if !signal_rows.iter().any(|(k, _)| *k == kind) {
            signal_rows.push((kind, answer));
        }
    }
    if input.duration_seconds < 0 {
        return Err(invalid("duration_seconds", "cannot be negative"));
    }
    let occurred_at = match input.occurred_at.as_deref() {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| invalid("occurred_at", format!("{t:?}: {e}")))?
            .with_timezone(&chrono::Utc),
        None => now_utc(),
    };
    let (promise_amount, promise_date) = match outcome {
        Outcome::PromiseToPay { amount, date } => (Some(amount.fen()), Some(date)),
        _ => (None, None),
    };
    let (income, job_status) = match outcome {
        Outcome::HardshipReported {
            income_change_pct,
            job_status,
        } => (
            Some(i64::from(income_change_pct)),
            Some(job_status.as_str().to_string()),
        ),
        _ => (None, None),
    };
    let vehicle_status = match outcome {
        Outcome::VehicleStatus(v) => Some(v.as_str().to_string()),
        _ => None,
    };
    let Some(interaction_id) = tx
        .insert_interaction(&NewInteraction {
            idempotency_key: key.to_string(),
            task_id: Some(task_id),
            loan_id: task.loan_id,
            user_id: actor.id(),
            channel: channel.as_str().to_string(),
            occurred_at: stamp(occurred_at),
            duration_seconds: input.duration_seconds,
            outcome: outcome.kind().to_string(),
            promise_amount_fen: promise_amount,
            promise_date,
            income_change_pct: income,
            job_status,
            vehicle_status,
            answers: answers_json,
            notes: input.notes.trim().to_string(),
            business_date: date,
            salt: ledger::new_salt(),
        })
        .await?
    else {
        // a concurrent recorder won the key between our check and insert
        return Err(AppError::Conflict(format!(
            "idempotency key {key:?} is being recorded by another request: retry"
        )));
    };
    let leaf_index = ledger::log_records(tx, &ledger::INTERACTION, &[interaction_id]).await?;
    tx.set_last_agent(task.loan_id, actor.id()).await?;
    let paid_before_fen = match outcome {
        Outcome::PromiseToPay { .. } => tx.loan_paid_fen(task.loan_id).await?,
        _ => 0,
    };
    let promise_id = match outcome {
        Outcome::PromiseToPay { amount, date: due } => Some(
            tx.insert_promise(&NewPromise {
                interaction_id,
                loan_id: task.loan_id,
                amount_fen: amount.fen(),
                promised_on: date,
                due_on: due,
                paid_before_fen,
            })
            .await?,
        ),
        _ => None,
    };
    tx.insert_signals(
        &signal_rows
            .iter()
            .map(|(kind, value)| NewSignal {
                loan_id: task.loan_id,
                kind: kind.clone(),
                value: value.clone(),
                observed_on: date,
                interaction_id: Some(interaction_id),
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    if task.assignee_id.is_none() {
        tx.set_task_assignee(task_id, Some(actor.id()), TaskState::InProgress)
            .await?;
    }
    let kind = Some(outcome.kind().to_string());
    let mut escalation_task = None;
    let update = match transition {
        Transition::Done => TaskUpdate {
            state: TaskState::after(transition),
            attempts: i64::from(attempts),
            due_on: task.due_on,
            outcome: kind,
            closed_on: Some(date),
            close_reason: Some("outcome".into()),
        },
        Transition::Reschedule { attempts, due_on } => TaskUpdate {
            state: TaskState::after(transition),
            attempts: i64::from(attempts),
            due_on,
            outcome: kind,
            closed_on: None,
            close_reason: None,
        },
        Transition::FailAndEscalate { attempts } => {
            escalation_task = escalate(tx, &task, date).await?;
            TaskUpdate {
                state: TaskState::after(transition),
                attempts: i64::from(attempts),
                due_on: task.due_on,
                outcome: kind,
                closed_on: Some(date),
                close_reason: Some("unreachable".into()),
            }
        }
    };
    tx.update_task(task_id, &update).await?;
    Ok(Recorded {
        interaction_id,
        new: true,
        task: load_task(tx, task_id).await?,
        signals: signal_rows.into_iter().map(|(kind, _)| kind).collect(),
        promise_id,
        escalation_task,
        leaf_index: Some(leaf_index),
    })
}

/// Creates the escalation of an unreachable task: in the next queue, or — when the queue has
/// no next — assigned to the lead of the queue's team. Once per task.
async fn escalate(tx: &mut Tx, task: &TaskRecord, date: Date) -> Result<Option<i64>, AppError> {
    let target = outcome::escalation_queue(&task.queue_code).to_string();
    let assignee = if target == task.queue_code {
        match tx.queue_by_code(&target).await?.and_then(|q| q.team_id) {
            Some(team) => tx
                .team_users(team)
                .await?
                .into_iter()
                .find(|u| u.active && u.role == Role::TeamLead)
                .map(|u| u.id),
            None => None,
        }
    } else {
        None
    };
    Ok(tx
        .insert_task(&NewTask {
            loan_id: task.loan_id,
            kind: outcome::ESCALATION_KIND.into(),
            reason_key: outcome::escalation_reason(task.id),
            queue_code: target,
            assignee_id: assignee,
            created_on: date,
            due_on: date,
            max_attempts: task.max_attempts,
        })
        .await?)
}

// ----- reassign ------------------------------------------------------------------------------

/// A team lead moves an open task of their team to another member of the team.
pub async fn reassign(
    store: &Store,
    actor: &Actor,
    task_id: i64,
    to: &str,
) -> Result<TaskRecord, AppError> {
    if actor.role != Role::TeamLead {
        return Err(forbidden(format!(
            "{} may not reassign tasks (team leads may)",
            actor.name()
        )));
    }
    let team = require_team(actor)?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    if !tx.lock_task(task_id).await? {
        return Err(AppError::NotFound {
            what: "task",
            id: task_id.to_string(),
        });
    }
    let task = load_task(&mut tx, task_id).await?;
    authorize_task(&mut tx, actor, &task, Access::View).await?;
    if !task.state.is_open() {
        return Err(AppError::Conflict(format!(
            "task {task_id} is {}: it cannot be reassigned",
            task.state
        )));
    }
    let target = tx
        .user_by_username(to)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| AppError::NotFound {
            what: "active user",
            id: to.to_string(),
        })?;
    if target.team_id != Some(team)
        || !matches!(target.role.as_str(), "agent" | "collector" | "team_lead")
    {
        return Err(forbidden(format!(
            "{to} is not an agent, collector or lead of team {}",
            actor.user.team_code.as_deref().unwrap_or("?")
        )));
    }
    tx.set_task_assignee(task_id, Some(target.id), task.state.reassigned())
        .await?;
    let task = load_task(&mut tx, task_id).await?;
    tx.commit().await?;
    Ok(task)
}

// ----- SLA and productivity ------------------------------------------------------------------

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
    let teams: Vec<TeamRecord> = match actor.role {
        Role::TeamLead => {
            let id = require_team(actor)?;
            tx.teams()
                .await?
                .into_iter()
                .filter(|t| t.id == id)
                .collect()
        }
        Role::Auditor => tx.teams().await?,
        _ => {
            return Err(forbidden(format!(
                "{} may not see team statistics (team leads and auditors may)",
                actor.name()
            )));
        }
    };
    let to = to.unwrap_or(date);
    let from = from.unwrap_or_else(|| add_days(to, -29));
    if from > to {
        return Err(invalid("from", format!("{from} is after {to}")));
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

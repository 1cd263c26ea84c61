//! Administration: teams, users, queues and API tokens, by an admin or the command line's
//! operator.

use huifang_core::UserId;
use huifang_core::outcome::{self, Strategy};
use huifang_core::team::{API_TOKEN_DAYS, MAX_API_TOKEN_DAYS};
use huifang_store::{QueueRecord, Store, TeamRecord, Tx, User, UserRecord};

use super::{
    Actor, Role, forbidden, hash_password, invalid, new_token, now_utc, stamp, token_hash,
};
use crate::AppError;

fn require_admin(by: Option<&Actor>) -> Result<(), AppError> {
    match by {
        None => Ok(()), // the command line: whoever holds the database
        Some(a) if a.role.administers() => Ok(()),
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
) -> Result<UserId, AppError> {
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
    check_place(input.role, team_id)?;
    let display_name = if input.display_name.trim().is_empty() {
        username.to_string()
    } else {
        input.display_name.trim().to_string()
    };
    let id = tx
        .insert_user(&User {
            username: username.to_string(),
            display_name,
            role: input.role,
            team_id,
            skills: clean_skills(&input.skills),
            password_hash,
        })
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Whether a user of `role` may be in this team (or none): agents, collectors and team leads
/// belong to one, a risk officer may, auditors and admins do not.
fn check_place(role: Role, team_id: Option<i64>) -> Result<(), AppError> {
    if role.belongs_to_team() && team_id.is_none() {
        return Err(invalid(
            "team",
            format!("a {role} belongs to a team (--team)"),
        ));
    }
    if !role.may_join_team() && team_id.is_some() {
        return Err(invalid(
            "team",
            format!("a {role} works across teams and belongs to none"),
        ));
    }
    Ok(())
}

fn clean_skills(skills: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in skills.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    }
    out
}

/// Issues a new API token for a user (replacing any earlier one), valid for `days` (1 to
/// [`MAX_API_TOKEN_DAYS`]; none: [`API_TOKEN_DAYS`]), and returns it with its expiry: it is
/// shown once, only its SHA-256 is kept.
pub async fn issue_api_token(
    store: &Store,
    by: Option<&Actor>,
    username: &str,
    days: Option<u32>,
) -> Result<(String, String), AppError> {
    require_admin(by)?;
    let days = days.unwrap_or(API_TOKEN_DAYS);
    if !(1..=MAX_API_TOKEN_DAYS).contains(&days) {
        return Err(invalid(
            "days",
            format!("an API token lasts 1 to {MAX_API_TOKEN_DAYS} days, not {days}"),
        ));
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let user = user_named(&mut tx, username).await?;
    let token = new_token();
    let expires = stamp(now_utc() + chrono::Duration::days(i64::from(days)));
    tx.set_api_token_hash(user.id, Some((&token_hash(&token), &expires)))
        .await?;
    tx.commit().await?;
    Ok((token, expires))
}

async fn user_named(tx: &mut Tx, username: &str) -> Result<UserRecord, AppError> {
    tx.user_by_username(username)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "user",
            id: username.to_string(),
        })
}

/// What an account change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountChange {
    /// The user's sessions that were ended.
    pub sessions_ended: u64,
    /// Whether an API token was revoked.
    pub token_revoked: bool,
    /// The tasks the user held that went back to their queues, unassigned.
    pub tasks_released: u64,
}

/// A change to a user's place in the team; what is `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// The team's code; `Some(None)`: no team.
    pub team: Option<Option<String>>,
    pub skills: Option<Vec<String>>,
}

impl Profile {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Profile::default()
    }
}

/// A change to a user's account by an admin (or the command line's operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// Refuse every sign-in and token of the user: their sessions end, their API token is
    /// revoked.
    Disable,
    /// Let the user sign in again (a new API token must be issued).
    Enable,
    /// End every session of the user (they sign in again).
    EndSessions,
    /// Revoke the user's API token.
    RevokeToken,
    /// Set a new password; the user's sessions end.
    SetPassword(String),
    /// Change the display name, role, team or skills. A new role or team ends the user's
    /// sessions and gives the tasks they hold back to their queues.
    Profile(Profile),
}

impl Account {
    /// The change an action names (`disable`, `enable`, `end_sessions`, `revoke_token`,
    /// `set_password` with its password).
    pub fn parse(action: &str, password: Option<String>) -> Result<Account, AppError> {
        let change = match action {
            "disable" => Account::Disable,
            "enable" => Account::Enable,
            "end_sessions" => Account::EndSessions,
            "revoke_token" => Account::RevokeToken,
            "set_password" => Account::SetPassword(
                password
                    .clone()
                    .ok_or_else(|| invalid("password", "set_password needs the new password"))?,
            ),
            other => {
                return Err(invalid(
                    "action",
                    format!(
                        "{other:?} is not disable, enable, end_sessions, revoke_token or set_password"
                    ),
                ));
            }
        };
        if password.is_some() && !matches!(change, Account::SetPassword(_)) {
            return Err(invalid("password", "only set_password takes a password"));
        }
        Ok(change)
    }
}

/// Applies an account change to `username`. An admin cannot disable themself (the last way in
/// would be lost).
pub async fn change_account(
    store: &Store,
    by: Option<&Actor>,
    username: &str,
    change: Account,
) -> Result<AccountChange, AppError> {
    require_admin(by)?;
    let hash = match &change {
        Account::SetPassword(p) => Some(hash_password(p).await?),
        _ => None,
    };
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let user = user_named(&mut tx, username).await?;
    let myself = by.is_some_and(|a| a.id() == user.id);
    if change == Account::Disable && myself {
        return Err(AppError::Conflict(format!(
            "{username} may not disable themself"
        )));
    }
    let had_token = tx.api_token_expiry(user.id).await?.is_some();
    let mut done = AccountChange {
        sessions_ended: 0,
        token_revoked: false,
        tasks_released: 0,
    };
    match change {
        Account::Disable => {
            tx.set_user_active(user.id, false).await?;
            done.sessions_ended = tx.delete_sessions_of(user.id).await?;
            tx.set_api_token_hash(user.id, None).await?;
            done.token_revoked = had_token;
            done.tasks_released = tx.release_tasks_of(user.id).await?;
        }
        Account::Profile(p) => {
            let role = p.role.unwrap_or(user.user.role);
            if myself && role != user.user.role {
                return Err(AppError::Conflict(format!(
                    "{username} may not change their own role"
                )));
            }
            let team_id = match &p.team {
                None => user.user.team_id,
                Some(None) => None,
                Some(Some(code)) => Some(
                    tx.team_by_code(code.trim())
                        .await?
                        .ok_or_else(|| AppError::NotFound {
                            what: "team",
                            id: code.trim().to_string(),
                        })?
                        .id,
                ),
            };
            check_place(role, team_id)?;
            let display_name = match p.display_name.as_deref().map(str::trim) {
                Some("") => return Err(invalid("display_name", "a display name is not empty")),
                Some(name) => name.to_string(),
                None => user.user.display_name.clone(),
            };
            let skills = match &p.skills {
                Some(s) => clean_skills(s),
                None => user.user.skills.clone(),
            };
            let moved = role != user.user.role || team_id != user.user.team_id;
            tx.set_user_profile(
                user.id,
                &User {
                    username: user.user.username.clone(),
                    display_name,
                    role,
                    team_id,
                    skills,
                    password_hash: None,
                },
            )
            .await?;
            if moved {
                done.sessions_ended = tx.delete_sessions_of(user.id).await?;
                done.tasks_released = tx.release_tasks_of(user.id).await?;
            }
        }
        Account::Enable => tx.set_user_active(user.id, true).await?,
        Account::EndSessions => done.sessions_ended = tx.delete_sessions_of(user.id).await?,
        Account::RevokeToken => {
            tx.set_api_token_hash(user.id, None).await?;
            done.token_revoked = had_token;
        }
        Account::SetPassword(_) => {
            if let Some(hash) = &hash {
                tx.set_password_hash(user.id, hash).await?;
            }
            done.sessions_ended = tx.delete_sessions_of(user.id).await?;
        }
    }
    tx.commit().await?;
    Ok(done)
}

/// Every user, by id, with the expiry of their API token (none: no token): for an admin.
pub async fn users(
    store: &Store,
    by: Option<&Actor>,
) -> Result<Vec<(UserRecord, Option<String>)>, AppError> {
    require_admin(by)?;
    let mut tx = store.begin().await?;
    let all = tx.users().await?;
    tx.rollback().await?;
    Ok(all)
}

/// Creates a queue of a team; returns it as stored.
pub async fn create_queue(
    store: &Store,
    by: Option<&Actor>,
    code: &str,
    name: &str,
    team: &str,
    strategy: &str,
    skill: &str,
) -> Result<QueueRecord, AppError> {
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
    tx.insert_queue(code, name, team.id, skill.trim(), strategy.as_str())
        .await?;
    let queue = stored_queue(&mut tx, code).await?;
    tx.commit().await?;
    Ok(queue)
}

async fn stored_queue(tx: &mut Tx, code: &str) -> Result<QueueRecord, AppError> {
    tx.queue_by_code(code)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "queue",
            id: code.to_string(),
        })
}

/// A team with its members' count and its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamOverview {
    pub team: TeamRecord,
    pub members: i64,
    pub queues: Vec<QueueRecord>,
}

/// Every team with its members' count and queues, by code (the admin).
pub async fn teams(store: &Store, by: Option<&Actor>) -> Result<Vec<TeamOverview>, AppError> {
    require_admin(by)?;
    let mut tx = store.begin().await?;
    let teams = tx.teams().await?;
    let sizes = tx.team_sizes().await?;
    let queues = tx.queues(None).await?;
    tx.rollback().await?;
    Ok(teams
        .into_iter()
        .map(|team| TeamOverview {
            members: sizes.get(&team.id).copied().unwrap_or(0),
            queues: queues
                .iter()
                .filter(|q| q.team_id == Some(team.id))
                .cloned()
                .collect(),
            team,
        })
        .collect())
}

/// Renames a team (its code stays: queues, users and plans name it).
pub async fn rename_team(
    store: &Store,
    by: Option<&Actor>,
    code: &str,
    name: &str,
) -> Result<(), AppError> {
    require_admin(by)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("name", "a team needs a name"));
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let team = tx
        .team_by_code(code.trim())
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "team",
            id: code.to_string(),
        })?;
    tx.set_team_name(team.id, name).await?;
    tx.commit().await?;
    Ok(())
}

/// A change to a queue; what is `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueChange {
    pub name: Option<String>,
    /// The skill its tasks need (empty: none).
    pub skill: Option<String>,
    pub strategy: Option<String>,
}

/// Changes a queue's name, skill or assignment strategy; tasks already assigned stay with
/// their agents.
pub async fn change_queue(
    store: &Store,
    by: Option<&Actor>,
    code: &str,
    change: &QueueChange,
) -> Result<QueueRecord, AppError> {
    require_admin(by)?;
    let strategy: Option<Strategy> = change
        .strategy
        .as_deref()
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|e: outcome::OutcomeError| invalid("strategy", e.to_string()))
        })
        .transpose()?;
    if change.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(invalid("name", "a queue needs a name"));
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let queue = stored_queue(&mut tx, code.trim()).await?;
    let name = change
        .name
        .as_deref()
        .map_or(queue.name.clone(), |n| n.trim().to_string());
    let skill = change
        .skill
        .as_deref()
        .map_or(queue.skill.clone(), |s| s.trim().to_string());
    let strategy = strategy.unwrap_or(queue.strategy);
    tx.set_queue(queue.id, &name, &skill, strategy.as_str())
        .await?;
    let changed = stored_queue(&mut tx, &queue.code).await?;
    tx.commit().await?;
    Ok(changed)
}

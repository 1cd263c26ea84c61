//! Administration: teams, users, queues and API tokens, by an admin or the command line's
//! operator.

use huifang_core::UserId;
use huifang_core::outcome::{self, Strategy};
use huifang_store::{Store, User};

use super::{Actor, Role, forbidden, hash_password, invalid, new_token, token_hash};
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
    if input.role.belongs_to_team() && team_id.is_none() {
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
        .insert_user(&User {
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

//! The security record for auditors: every reveal of personal data and every request refused
//! for the caller's role or team (each refusal is recorded by the edge that refused it).

use huifang_store::{DenialRecord, NewDenial, OperatorActionRecord, RevealRecord, Store};

use super::{Actor, now_stamp};
use crate::AppError;

/// The most rows one report answers.
pub const MAX_REPORT_ROWS: usize = 1_000;

/// Records that `actor` was refused `action` (e.g. `GET /api/v1/tasks/7`, or a command) for
/// `reason`, in a transaction of its own.
pub async fn record_denial(
    store: &Store,
    actor: &Actor,
    action: &str,
    reason: &str,
) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    // the write lock before the read: on SQLite a read that then writes is refused at once if
    // another connection committed in between (and the denial would be lost)
    tx.lock_for_write().await?;
    let business_date = tx.business_date().await?;
    tx.insert_denial(&NewDenial {
        user_id: actor.id(),
        action: action.chars().take(300).collect(),
        reason: reason.chars().take(500).collect(),
        denied_at: now_stamp(),
        business_date,
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How a command the operator ran as a user ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorOutcome {
    Done,
    /// Refused for the user's role or team: recorded as a denial too.
    Refused,
    Failed,
}

/// Records, in a transaction of its own, that the machine's operator (`operator`: their login
/// on the machine) starts `command` as `user`; returns the record's id and the user, or none
/// when there is no such user (the command itself says so).
pub async fn begin_operator_action(
    store: &Store,
    operator: &str,
    user: &str,
    command: &str,
) -> Result<Option<(i64, Actor)>, AppError> {
    let Ok(actor) = super::actor(store, user).await else {
        return Ok(None);
    };
    let mut tx = store.begin().await?;
    let id = tx
        .insert_operator_action(
            &operator.chars().take(200).collect::<String>(),
            actor.id(),
            &command.chars().take(300).collect::<String>(),
            &now_stamp(),
        )
        .await?;
    tx.commit().await?;
    Ok(Some((id, actor)))
}

/// Records how the operator's command `id` ended; a refusal (`reason`) is written to the
/// denials as well, under the user acted as.
pub async fn end_operator_action(
    store: &Store,
    id: i64,
    actor: &Actor,
    command: &str,
    outcome: OperatorOutcome,
    reason: &str,
) -> Result<(), AppError> {
    let name = match outcome {
        OperatorOutcome::Done => "done",
        OperatorOutcome::Refused => "refused",
        OperatorOutcome::Failed => "failed",
    };
    let mut tx = store.begin().await?;
    tx.finish_operator_action(id, name, &now_stamp()).await?;
    tx.commit().await?;
    if outcome == OperatorOutcome::Refused {
        record_denial(store, actor, &format!("command line: {command}"), reason).await?;
    }
    Ok(())
}

/// The commands operators ran as users, newest first (as one user, or all): for auditors
/// (`by` none: the command line's operator).
pub async fn operator_actions(
    store: &Store,
    by: Option<&Actor>,
    username: Option<&str>,
    limit: usize,
) -> Result<Vec<OperatorActionRecord>, AppError> {
    require_auditor(by)?;
    let limit = check_limit(limit)?;
    let mut tx = store.begin().await?;
    let user = user_filter(&mut tx, username).await?;
    let rows = tx.operator_actions(user, limit).await?;
    tx.rollback().await?;
    Ok(rows)
}

fn require_auditor(by: Option<&Actor>) -> Result<(), AppError> {
    match by {
        Some(a) => a.require(huifang_core::team::Role::audits, "read the security record"),
        None => Ok(()),
    }
}

fn check_limit(limit: usize) -> Result<usize, AppError> {
    if (1..=MAX_REPORT_ROWS).contains(&limit) {
        Ok(limit)
    } else {
        Err(super::invalid(
            "limit",
            format!("must be 1 to {MAX_REPORT_ROWS}, not {limit}"),
        ))
    }
}

async fn user_filter(
    tx: &mut huifang_store::Tx,
    username: Option<&str>,
) -> Result<Option<huifang_core::UserId>, AppError> {
    match username {
        None => Ok(None),
        Some(name) => Ok(Some(
            tx.user_by_username(name)
                .await?
                .ok_or_else(|| AppError::NotFound {
                    what: "user",
                    id: name.to_string(),
                })?
                .id,
        )),
    }
}

/// The reveals of personal data, newest first (of one user, or all): for auditors (`by` none:
/// the command line's operator).
pub async fn reveals(
    store: &Store,
    by: Option<&Actor>,
    username: Option<&str>,
    limit: usize,
) -> Result<Vec<RevealRecord>, AppError> {
    require_auditor(by)?;
    let limit = check_limit(limit)?;
    let mut tx = store.begin().await?;
    let user = user_filter(&mut tx, username).await?;
    let rows = tx.reveals(user, limit).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// The refused requests, newest first (of one user, or all): for auditors.
pub async fn denials(
    store: &Store,
    by: Option<&Actor>,
    username: Option<&str>,
    limit: usize,
) -> Result<Vec<DenialRecord>, AppError> {
    require_auditor(by)?;
    let limit = check_limit(limit)?;
    let mut tx = store.begin().await?;
    let user = user_filter(&mut tx, username).await?;
    let rows = tx.denials(user, limit).await?;
    tx.rollback().await?;
    Ok(rows)
}

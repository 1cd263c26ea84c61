//! The security record for auditors: every reveal of personal data and every request refused
//! for the caller's role or team (each refusal is recorded by the edge that refused it).

use huifang_store::{DenialRecord, NewDenial, RevealRecord, Store};

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

//! Quality reviews of contacts (质检): a team lead reads their team's contacts, newest first,
//! and scores each one (0 to 100) with a comment; one review per contact. Who may review what
//! is the core's rule (`team::review_access`).

use huifang_core::team::{check_review_score, review_access};
use huifang_store::{ContactForReview, NewReview, Store};

use super::{Actor, forbidden, invalid, now_utc, require_team, stamp};
use crate::{AppError, require_business_date};

/// The most contacts one page holds.
pub const MAX_REVIEW_PAGE: usize = 200;

/// The contacts of the lead's team, newest first, before contact `before`, at most `limit`
/// (only those without a review when `unreviewed`), with the cursor of the next page.
pub async fn contacts_to_review(
    store: &Store,
    actor: &Actor,
    before: Option<i64>,
    limit: usize,
    unreviewed: bool,
) -> Result<(Vec<ContactForReview>, Option<i64>), AppError> {
    if !actor.role.reviews_quality() {
        return Err(forbidden(format!(
            "{} may not review contacts (team leads review their team's)",
            actor.name()
        )));
    }
    let team = require_team(actor)?;
    let limit = limit.clamp(1, MAX_REVIEW_PAGE);
    let mut tx = store.begin().await?;
    let rows = tx
        .team_contacts(
            team,
            before,
            i64::try_from(limit).unwrap_or(200),
            unreviewed,
        )
        .await?;
    tx.rollback().await?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.interaction.id))
        .flatten();
    Ok((rows, next))
}

/// Reviews a contact: refused (nothing written) to anyone but the lead of the team whose member
/// made it, for a score outside 0 to 100, or when the contact has a review already.
pub async fn review_contact(
    store: &Store,
    actor: &Actor,
    interaction_id: i64,
    score: i64,
    comment: &str,
) -> Result<ContactForReview, AppError> {
    check_review_score(score).map_err(|e| invalid("score", e))?;
    let comment = comment.trim();
    if comment.chars().count() > 2000 {
        return Err(invalid("comment", "at most 2,000 characters"));
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    let (_, author_team) = tx
        .interaction_author(interaction_id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "contact",
            id: interaction_id.to_string(),
        })?;
    review_access(&actor.member(), author_team).map_err(|why| {
        forbidden(format!(
            "{} may not review contact {interaction_id}: {why}",
            actor.name()
        ))
    })?;
    let new = tx
        .insert_review(&NewReview {
            interaction_id,
            reviewer_id: actor.id(),
            score,
            comment,
            reviewed_at: &stamp(now_utc()),
            business_date: date,
        })
        .await?;
    if new.is_none() {
        return Err(AppError::Conflict(format!(
            "contact {interaction_id} has been reviewed already"
        )));
    }
    let reviewed = tx
        .contact_for_review(interaction_id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "contact",
            id: interaction_id.to_string(),
        })?;
    tx.commit().await?;
    Ok(reviewed)
}

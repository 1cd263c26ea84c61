//! Quality reviews of contacts (质检): a team lead's score and comment on a contact made by a
//! member of their team, one per contact; the team's contacts newest first with their reviews.

use huifang_core::{Date, UserId};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::sql::date_text;
use crate::team::{INTERACTION_COLUMNS, interaction_from_row};
use crate::{InteractionRecord, Result, Tx};

/// A review as stored, with its reviewer's username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub interaction_id: i64,
    pub reviewer: String,
    pub score: i64,
    pub comment: String,
    pub reviewed_at: String,
}

/// A contact of a team with what a reviewer needs: its loan, who made it, its review if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactForReview {
    pub interaction: InteractionRecord,
    pub loan_external_id: String,
    pub agent: String,
    pub review: Option<ReviewRecord>,
}

/// A review to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview<'a> {
    pub interaction_id: i64,
    pub reviewer_id: UserId,
    pub score: i64,
    pub comment: &'a str,
    pub reviewed_at: &'a str,
    pub business_date: Date,
}

/// The review columns after the interaction's, as subqueries on the contact's id.
const REVIEW_COLUMNS: &str = "(SELECT l.external_id FROM loans l WHERE l.id = interactions.loan_id), (SELECT u.username FROM users u WHERE u.id = interactions.user_id), (SELECT r.score FROM interaction_reviews r WHERE r.interaction_id = interactions.id), (SELECT r.comment FROM interaction_reviews r WHERE r.interaction_id = interactions.id), (SELECT u.username FROM interaction_reviews r JOIN users u ON u.id = r.reviewer_id WHERE r.interaction_id = interactions.id), (SELECT r.reviewed_at FROM interaction_reviews r WHERE r.interaction_id = interactions.id)";

fn contact_from_row(r: &AnyRow) -> Result<ContactForReview> {
    let interaction = interaction_from_row(r)?;
    let score: Option<i64> = r.try_get(20)?;
    let review = match score {
        None => None,
        Some(score) => Some(ReviewRecord {
            interaction_id: interaction.id,
            score,
            comment: r.try_get(21)?,
            reviewer: r.try_get(22)?,
            reviewed_at: r.try_get(23)?,
        }),
    };
    Ok(ContactForReview {
        loan_external_id: r.try_get(18)?,
        agent: r.try_get(19)?,
        interaction,
        review,
    })
}

impl Tx {
    /// The user who made a contact and their team; none when there is no such contact.
    pub async fn interaction_author(&mut self, id: i64) -> Result<Option<(UserId, Option<i64>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.team_id FROM interactions i JOIN users u ON u.id = i.user_id WHERE i.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| Ok((UserId(r.try_get(0)?), r.try_get(1)?)))
            .transpose()
    }

    /// Records a review unless the contact has one; its id when new.
    pub async fn insert_review(&mut self, r: &NewReview<'_>) -> Result<Option<i64>> {
        let row = sqlx::query("INSERT INTO interaction_reviews (interaction_id, reviewer_id, score, comment, reviewed_at, business_date) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (interaction_id) DO NOTHING RETURNING id")
            .bind(r.interaction_id)
            .bind(r.reviewer_id.get())
            .bind(r.score)
            .bind(r.comment)
            .bind(r.reviewed_at)
            .bind(date_text(r.business_date))
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    /// One contact with its review.
    pub async fn contact_for_review(&mut self, id: i64) -> Result<Option<ContactForReview>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTERACTION_COLUMNS}, {REVIEW_COLUMNS} FROM interactions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(contact_from_row).transpose()
    }

    /// The contacts made by members of team `team_id`, newest first, before contact `before`
    /// (all when none), at most `limit`; only those without a review when `unreviewed`.
    pub async fn team_contacts(
        &mut self,
        team_id: i64,
        before: Option<i64>,
        limit: i64,
        unreviewed: bool,
    ) -> Result<Vec<ContactForReview>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INTERACTION_COLUMNS}, {REVIEW_COLUMNS} FROM interactions WHERE user_id IN (SELECT id FROM users WHERE team_id = $1) AND (CAST($2 AS BIGINT) IS NULL OR id < $2) AND ($3 = 0 OR NOT EXISTS (SELECT 1 FROM interaction_reviews r WHERE r.interaction_id = interactions.id)) ORDER BY id DESC LIMIT $4"
        )))
        .bind(team_id)
        .bind(before)
        .bind(i64::from(unreviewed))
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(contact_from_row).collect()
    }
}

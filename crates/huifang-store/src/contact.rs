//! The contact rules' records: borrowers' opt-outs (a channel, or 'all': not to be contacted),
//! the contacts a borrower had in a span of time, and the contacts the rules refused.

use huifang_core::{BorrowerId, Date, LoanId, TaskId, UserId};
use sqlx::Row;

use crate::sql::{date_text, parse_date_col};
use crate::{Result, Tx};

/// A borrower's opt-out of a channel ('all': not to be contacted at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOut {
    pub borrower_id: BorrowerId,
    pub channel: String,
    pub since_on: Date,
    pub recorded_by: UserId,
    pub note: String,
}

/// A contact the rules refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedContact {
    pub loan_id: LoanId,
    pub task_id: Option<TaskId>,
    pub user_id: Option<UserId>,
    pub channel: String,
    pub rule: String,
    pub reason: String,
    /// RFC 3339, UTC.
    pub attempted_at: String,
    pub business_date: Date,
}

/// A stored refused contact, with its loan's and user's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedContactRecord {
    pub id: i64,
    pub loan_external_id: String,
    pub username: Option<String>,
    pub contact: BlockedContact,
}

/// One contact a borrower had: its channel, the kind of task it was made on (if any) and its
/// outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastContact {
    pub channel: String,
    pub task_kind: Option<String>,
    pub outcome: String,
}

impl Tx {
    /// The channels a borrower opted out of ('all' among them when not to be contacted).
    pub async fn opt_outs(&mut self, borrower: BorrowerId) -> Result<Vec<OptOut>> {
        let rows = sqlx::query("SELECT channel, since_on, recorded_by, note FROM contact_opt_outs WHERE borrower_id = $1 ORDER BY channel")
            .bind(borrower.get())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OptOut {
                    borrower_id: borrower,
                    channel: r.try_get(0)?,
                    since_on: parse_date_col(&r.try_get::<String, _>(1)?)?,
                    recorded_by: UserId(r.try_get(2)?),
                    note: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Records an opt-out (kept as first recorded when it exists); true if it is new.
    pub async fn insert_opt_out(&mut self, o: &OptOut) -> Result<bool> {
        let done = sqlx::query("INSERT INTO contact_opt_outs (borrower_id, channel, since_on, recorded_by, note) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (borrower_id, channel) DO NOTHING")
            .bind(o.borrower_id.get())
            .bind(o.channel.as_str())
            .bind(date_text(o.since_on))
            .bind(o.recorded_by.get())
            .bind(o.note.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Lifts an opt-out; true if there was one.
    pub async fn delete_opt_out(&mut self, borrower: BorrowerId, channel: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM contact_opt_outs WHERE borrower_id = $1 AND channel = $2")
                .bind(borrower.get())
                .bind(channel)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The contacts recorded with a borrower (on any of their loans) from `from` up to `until`
    /// (RFC 3339 UTC instants, `until` excluded).
    pub async fn borrower_contacts_between(
        &mut self,
        borrower: BorrowerId,
        from: &str,
        until: &str,
    ) -> Result<Vec<PastContact>> {
        let rows = sqlx::query("SELECT i.channel, t.kind, i.outcome FROM interactions i JOIN loans l ON l.id = i.loan_id LEFT JOIN tasks t ON t.id = i.task_id WHERE l.borrower_id = $1 AND i.occurred_at >= $2 AND i.occurred_at < $3 ORDER BY i.id")
            .bind(borrower.get())
            .bind(from)
            .bind(until)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(PastContact {
                    channel: r.try_get(0)?,
                    task_kind: r.try_get(1)?,
                    outcome: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The recorded contacts and the refused ones, by year of their business date: (year,
    /// contacts, refusals), oldest first; and the earliest business date of a contact.
    pub async fn contacts_by_year(&mut self) -> Result<(Vec<(String, i64, i64)>, Option<Date>)> {
        let rows = sqlx::query("SELECT y, SUM(c), SUM(b) FROM (SELECT substr(business_date, 1, 4) AS y, 1 AS c, 0 AS b FROM interactions UNION ALL SELECT substr(business_date, 1, 4), 0, 1 FROM blocked_contacts) t GROUP BY y ORDER BY y")
            .fetch_all(&mut *self.tx)
            .await?;
        let years = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>>>()?;
        let oldest: Option<String> = sqlx::query("SELECT MIN(business_date) FROM interactions")
            .fetch_one(&mut *self.tx)
            .await?
            .try_get(0)?;
        Ok((years, oldest.map(|d| parse_date_col(&d)).transpose()?))
    }

    /// Records a contact the rules refused; returns its id.
    pub async fn insert_blocked_contact(&mut self, b: &BlockedContact) -> Result<i64> {
        let row = sqlx::query("INSERT INTO blocked_contacts (loan_id, task_id, user_id, channel, rule, reason, attempted_at, business_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(b.loan_id.get())
            .bind(b.task_id.map(TaskId::get))
            .bind(b.user_id.map(UserId::get))
            .bind(b.channel.as_str())
            .bind(b.rule.as_str())
            .bind(b.reason.as_str())
            .bind(b.attempted_at.as_str())
            .bind(date_text(b.business_date))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The refused contacts, newest first, at most `limit`.
    pub async fn blocked_contacts(&mut self, limit: usize) -> Result<Vec<BlockedContactRecord>> {
        let rows = sqlx::query("SELECT b.id, l.external_id, u.username, b.loan_id, b.task_id, b.user_id, b.channel, b.rule, b.reason, b.attempted_at, b.business_date FROM blocked_contacts b JOIN loans l ON l.id = b.loan_id LEFT JOIN users u ON u.id = b.user_id ORDER BY b.id DESC LIMIT $1")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BlockedContactRecord {
                    id: r.try_get(0)?,
                    loan_external_id: r.try_get(1)?,
                    username: r.try_get(2)?,
                    contact: BlockedContact {
                        loan_id: LoanId(r.try_get(3)?),
                        task_id: r.try_get::<Option<i64>, _>(4)?.map(TaskId),
                        user_id: r.try_get::<Option<i64>, _>(5)?.map(UserId),
                        channel: r.try_get(6)?,
                        rule: r.try_get(7)?,
                        reason: r.try_get(8)?,
                        attempted_at: r.try_get(9)?,
                        business_date: parse_date_col(&r.try_get::<String, _>(10)?)?,
                    },
                })
            })
            .collect()
    }
}

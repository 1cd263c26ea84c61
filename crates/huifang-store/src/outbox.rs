//! The outbox: messages to borrowers written with their events, claimed by workers under a
//! lease, and their results and receipts; the signatures of provider callbacks already accepted;
//! borrowers' email and WeChat addresses; emergency contacts.

use huifang_core::notify::MessageState;
use huifang_core::{BorrowerId, Date, LoanId, TaskId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::{
    Val, date_text, keyed_by_list, named_col, opt_date_col, param, param_list, parse_date_col,
    row_lists,
};
use crate::{BORROWER_MOBILE, Dialect, EMERGENCY_MOBILE, Result, Tx, pii};

/// A message to write with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Names the message to the provider; a message whose key exists is not written again.
    pub key: String,
    /// A `MessageEvent` name, or `call` for a call an agent asked for.
    pub event: String,
    pub channel: String,
    pub loan_id: LoanId,
    pub task_id: Option<TaskId>,
    pub user_id: Option<UserId>,
    /// The event's figures: an amount (fen), a date and a number of days.
    pub amount_fen: Option<i64>,
    pub on_date: Option<Date>,
    pub days: Option<i64>,
    /// The operation a decision applied (a decision notice).
    pub detail: Option<String>,
    /// Not sent before (RFC 3339, UTC).
    pub due_at: String,
    pub business_date: Date,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
}

/// A stored message, with its loan's and borrower's particulars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: i64,
    pub message: NewMessage,
    pub state: MessageState,
    pub attempts: i64,
    pub provider_id: Option<String>,
    pub last_error: String,
    pub sent_at: Option<String>,
    pub finished_at: Option<String>,
    pub loan_external_id: String,
    pub borrower_id: BorrowerId,
    pub borrower_name: String,
    /// The borrower's mobile: opened in the messages a worker claims ([`Tx::claim_messages`]),
    /// masked everywhere else.
    pub mobile: String,
    /// The borrower's address on the message's channel when it is not the mobile (email,
    /// WeChat), if known.
    pub address: Option<String>,
    pub username: Option<String>,
}

/// What an attempt (or a receipt) made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageUpdate {
    pub id: i64,
    pub state: MessageState,
    /// The attempts counted (a message held for the contact hours gives its attempt back).
    pub attempts: i64,
    /// The next attempt's time when it is tried again (RFC 3339, UTC).
    pub due_at: String,
    pub provider_id: Option<String>,
    pub last_error: String,
    pub sent_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A borrower's emergency contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyContact {
    pub borrower_id: BorrowerId,
    pub name: String,
    pub relation: String,
    pub mobile: String,
    /// The day the contact consented to be called; none: no consent.
    pub consent_on: Option<Date>,
}

/// Filters of the message list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub state: Option<MessageState>,
    pub channel: Option<String>,
    pub loan_id: Option<LoanId>,
    /// Messages with an id below this one (the next page of a list, newest first).
    pub before_id: Option<i64>,
    pub limit: usize,
}

const MESSAGE_COLUMNS: &str = "o.id, o.idempotency_key, o.event, o.channel, o.loan_id, o.task_id, o.user_id, o.amount_fen, o.on_date, o.days, o.detail, o.due_at, o.business_date, o.created_at, o.state, o.attempts, o.provider_id, o.last_error, o.sent_at, o.finished_at, l.external_id, b.id, b.name, b.mobile, a.address, u.username, b.mobile_masked, b.external_id";
const MESSAGE_JOINS: &str = "FROM outbox o JOIN loans l ON l.id = o.loan_id JOIN borrowers b ON b.id = l.borrower_id LEFT JOIN contact_addresses a ON a.borrower_id = b.id AND a.channel = o.channel LEFT JOIN users u ON u.id = o.user_id";

fn message_record(r: &AnyRow) -> Result<MessageRecord> {
    Ok(MessageRecord {
        id: r.try_get(0)?,
        message: NewMessage {
            key: r.try_get(1)?,
            event: r.try_get(2)?,
            channel: r.try_get(3)?,
            loan_id: LoanId(r.try_get(4)?),
            task_id: r.try_get::<Option<i64>, _>(5)?.map(TaskId),
            user_id: r.try_get::<Option<i64>, _>(6)?.map(UserId),
            amount_fen: r.try_get(7)?,
            on_date: opt_date_col(r.try_get(8)?)?,
            days: r.try_get(9)?,
            detail: r.try_get(10)?,
            due_at: r.try_get(11)?,
            business_date: parse_date_col(&r.try_get::<String, _>(12)?)?,
            created_at: r.try_get(13)?,
        },
        state: named_col(r, 14, "outbox.state")?,
        attempts: r.try_get(15)?,
        provider_id: r.try_get(16)?,
        last_error: r.try_get(17)?,
        sent_at: r.try_get(18)?,
        finished_at: r.try_get(19)?,
        loan_external_id: r.try_get(20)?,
        borrower_id: BorrowerId(r.try_get(21)?),
        borrower_name: r.try_get(22)?,
        mobile: pii::shown_masked(
            r.try_get(23)?,
            r.try_get(26)?,
            huifang_core::team::mask_mobile,
        ),
        address: r.try_get(24)?,
        username: r.try_get(25)?,
    })
}

impl Tx {
    /// Writes messages; one whose key exists is left as it is. Returns how many were new.
    pub async fn insert_messages(&mut self, messages: &[NewMessage]) -> Result<u64> {
        if messages.is_empty() {
            return Ok(0);
        }
        // optional numbers travel as text, cast back (Val has no optional int)
        let opt_int = |n: Option<i64>| Val::OptText(n.map(|i| i.to_string()));
        let rows: Vec<Vec<Val>> = messages
            .iter()
            .map(|m| {
                vec![
                    Val::Text(m.key.clone()),
                    Val::Text(m.event.clone()),
                    Val::Text(m.channel.clone()),
                    Val::from(m.loan_id),
                    opt_int(m.task_id.map(TaskId::get)),
                    opt_int(m.user_id.map(UserId::get)),
                    opt_int(m.amount_fen),
                    Val::OptText(m.on_date.map(date_text)),
                    opt_int(m.days),
                    Val::OptText(m.detail.clone()),
                    Val::Text(m.due_at.clone()),
                    Val::Text(date_text(m.business_date)),
                    Val::Text(m.created_at.clone()),
                ]
            })
            .collect();
        let casts = [
            "", "", "", "", "BIGINT", "BIGINT", "BIGINT", "", "BIGINT", "", "", "", "",
        ];
        let mut written = 0;
        for (list, vals) in row_lists(self.dialect, 13, &rows, &casts, 0) {
            let sql = format!(
                "INSERT INTO outbox (idempotency_key, event, channel, loan_id, task_id, user_id, amount_fen, on_date, days, detail, due_at, business_date, created_at) {list} ON CONFLICT (idempotency_key) DO NOTHING"
            );
            written += self
                .bulk_query(sql, &vals)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        }
        Ok(written)
    }

    /// Claims up to `limit` messages due at `now` on `channels` that no live lease holds,
    /// oldest due first: each is held until `lease_until` and its attempt counted. On
    /// PostgreSQL rows another worker is claiming are skipped (`FOR UPDATE SKIP LOCKED`).
    pub async fn claim_messages(
        &mut self,
        now: &str,
        lease_until: &str,
        channels: &[&str],
        limit: usize,
    ) -> Result<Vec<MessageRecord>> {
        if channels.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        // nothing is claimed that could not be sent
        let keys = self.keyring()?;
        let list = channels
            .iter()
            .map(|c| format!("'{}'", c.replace('\'', "")))
            .collect::<Vec<_>>()
            .join(",");
        let skip = match self.dialect {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE outbox SET leased_until = $1, attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE state IN ('queued', 'failed') AND due_at <= $2 AND channel IN ({list}) AND (leased_until IS NULL OR leased_until <= $2) ORDER BY due_at, id LIMIT $3 {skip}) RETURNING id"
        );
        let ids: Vec<Val> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until)
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0).map(Val::Int))
            .collect::<std::result::Result<_, _>>()?;
        self.fetch_in(
            &format!("SELECT {MESSAGE_COLUMNS} {MESSAGE_JOINS} WHERE o.id IN"),
            "ORDER BY o.due_at, o.id",
            &ids,
            |r| {
                let mut m = message_record(r)?;
                let stored: String = r.try_get(23)?;
                let owner: String = r.try_get(27)?;
                m.mobile = match pii::sealed_under(&stored) {
                    None => stored,
                    Some(_) => keys.open(BORROWER_MOBILE, &owner, &stored)?,
                };
                Ok(m)
            },
        )
        .await
    }

    /// Writes the results of attempts (or receipts): state, next time, provider id, error and
    /// times; the lease ends. A result whose message the lease no longer holds is written as well:
    /// the last word on a message is the last result.
    pub async fn update_messages(&mut self, updates: &[MessageUpdate]) -> Result<()> {
        let rows: Vec<Vec<Val>> = updates
            .iter()
            .map(|u| {
                vec![
                    Val::Int(u.id),
                    Val::Text(u.state.as_str().to_string()),
                    Val::Int(u.attempts),
                    Val::Text(u.due_at.clone()),
                    Val::OptText(u.provider_id.clone()),
                    Val::Text(u.last_error.clone()),
                    Val::OptText(u.sent_at.clone()),
                    Val::OptText(u.finished_at.clone()),
                ]
            })
            .collect();
        let casts = [
            "BIGINT", "TEXT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
        ];
        let key = keyed_by_list("outbox", &[("id", "id")], &[]);
        for (list, vals) in row_lists(self.dialect, 8, &rows, &casts, 0) {
            let sql = format!(
                "WITH v (id, state, attempts, due_at, provider_id, last_error, sent_at, finished_at) AS ({list}) UPDATE outbox SET state = v.state, attempts = v.attempts, due_at = v.due_at, provider_id = COALESCE(v.provider_id, outbox.provider_id), last_error = v.last_error, sent_at = COALESCE(v.sent_at, outbox.sent_at), finished_at = v.finished_at, leased_until = NULL FROM v WHERE {key}"
            );
            self.bulk_query(sql, &vals).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Messages, newest first, filtered.
    pub async fn messages(&mut self, f: &MessageFilter) -> Result<Vec<MessageRecord>> {
        let mut conds = Vec::new();
        let mut vals = Vec::new();
        let mut n = 0;
        let mut p = || {
            n += 1;
            format!("${n}")
        };
        if let Some(s) = f.state {
            conds.push(format!("o.state = {}", p()));
            vals.push(Val::Text(s.as_str().to_string()));
        }
        if let Some(c) = &f.channel {
            conds.push(format!("o.channel = {}", p()));
            vals.push(Val::Text(c.clone()));
        }
        if let Some(l) = f.loan_id {
            conds.push(format!("o.loan_id = {}", p()));
            vals.push(Val::from(l));
        }
        if let Some(b) = f.before_id {
            conds.push(format!("o.id < {}", p()));
            vals.push(Val::Int(b));
        }
        let limit = p();
        vals.push(Val::Int(i64::try_from(f.limit).unwrap_or(i64::MAX)));
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} {MESSAGE_JOINS} {filter} ORDER BY o.id DESC LIMIT {limit}"
        );
        let rows = crate::sql::bind_vals(sqlx::query(sqlx::AssertSqlSafe(sql)), &vals)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(message_record).collect()
    }

    /// One message.
    pub async fn message(&mut self, id: i64) -> Result<Option<MessageRecord>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} {MESSAGE_JOINS} WHERE o.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(message_record).transpose()
    }

    /// The message with this idempotency key.
    pub async fn message_by_key(&mut self, key: &str) -> Result<Option<MessageRecord>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} {MESSAGE_JOINS} WHERE o.idempotency_key = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(message_record).transpose()
    }

    /// The message a provider knows by `provider_id` on `channel`.
    pub async fn message_by_provider_id(
        &mut self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<MessageRecord>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} {MESSAGE_JOINS} WHERE o.provider_id = $1 AND o.channel = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(provider_id)
            .bind(channel)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(message_record).transpose()
    }

    /// Puts a failed, dead or blocked message back in the queue for `due_at`, with its attempts
    /// counted afresh; true if it was one.
    pub async fn requeue_message(&mut self, id: i64, due_at: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE outbox SET state = 'queued', attempts = 0, due_at = $1, leased_until = NULL, finished_at = NULL, last_error = '' WHERE id = $2 AND state IN ('failed', 'dead', 'blocked')")
            .bind(due_at)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Messages by channel, event and state: (channel, event, state, count), with the refused
    /// contacts of each channel counted under `blocked` as well.
    pub async fn message_counts(&mut self) -> Result<Vec<(String, String, String, i64)>> {
        let rows = sqlx::query("SELECT channel, event, state, COUNT(*) FROM outbox GROUP BY channel, event, state ORDER BY channel, event, state")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    /// Records what a provider reported about a message.
    pub async fn insert_receipt(
        &mut self,
        outbox_id: i64,
        status: &str,
        detail: &str,
        received_at: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO outbox_receipts (outbox_id, status, detail, received_at) VALUES ($1, $2, $3, $4)")
            .bind(outbox_id)
            .bind(status)
            .bind(detail)
            .bind(received_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The receipts of a message, oldest first: (status, detail, received at).
    pub async fn receipts(&mut self, outbox_id: i64) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT status, detail, received_at FROM outbox_receipts WHERE outbox_id = $1 ORDER BY id")
            .bind(outbox_id)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Keeps the signature of an accepted callback; false if it was kept before (a replay).
    pub async fn accept_signature(&mut self, signature: &str, received_at: &str) -> Result<bool> {
        let done = sqlx::query("INSERT INTO webhook_signatures (signature, received_at) VALUES ($1, $2) ON CONFLICT (signature) DO NOTHING")
            .bind(signature)
            .bind(received_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The (borrower, channel) of every message sent to these borrowers from `from` up to
    /// `until` (RFC 3339 UTC instants), and of every contact recorded with them then.
    pub async fn contacts_in_span(
        &mut self,
        borrowers: &[BorrowerId],
        from: &str,
        until: &str,
    ) -> Result<Vec<(BorrowerId, String)>> {
        if borrowers.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Val> = borrowers.iter().copied().map(Val::from).collect();
        // Each borrower's loans, then each loan's contacts of the span by index (a lateral
        // subquery: a planner whose statistics predate the day's sending, sent_at all empty, would
        // otherwise scan the span once per borrower of the list).
        // (table, condition): a loan's messages sent, and its contacts recorded, in the span
        let spans = [
            (
                "outbox c",
                "c.loan_id = l.id AND c.state IN ('sent', 'delivered') AND c.sent_at >= {from} AND c.sent_at < {until}",
            ),
            (
                "interactions c",
                "c.loan_id = l.id AND c.occurred_at >= {from} AND c.occurred_at < {until}",
            ),
        ];
        let mut statements: Vec<(String, Vec<Val>)> = Vec::new();
        for (table, cond) in spans {
            match self.dialect {
                Dialect::Postgres => {
                    let cond = cond.replace("{from}", "$2").replace("{until}", "$3");
                    statements.push((
                        // OFFSET 0 keeps the subquery from being pulled up into the join
                        format!("SELECT l.borrower_id, c.channel FROM loans l CROSS JOIN LATERAL (SELECT c.channel FROM {table} WHERE {cond} OFFSET 0) c WHERE l.borrower_id IN (SELECT unnest(CAST($1 AS BIGINT[])))"),
                        vec![
                            Val::Text(crate::sql::pg_array(keys.iter())),
                            Val::Text(from.into()),
                            Val::Text(until.into()),
                        ],
                    ));
                }
                Dialect::Sqlite => {
                    // no LATERAL here; SQLite's planner walks the list, then the indexes
                    let cond = cond.replace("{from}", "?").replace("{until}", "?");
                    for chunk in keys.chunks(crate::sql::MAX_PARAMS / 2) {
                        let list = crate::sql::param_list(self.dialect, 3, chunk.len());
                        // the condition's two parameters come first in the statement
                        let mut vals = vec![Val::Text(from.into()), Val::Text(until.into())];
                        vals.extend_from_slice(chunk);
                        statements.push((
                            format!("SELECT l.borrower_id, c.channel FROM loans l JOIN {table} ON {cond} WHERE l.borrower_id IN ({list})"),
                            vals,
                        ));
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (sql, vals) in statements {
            let rows = crate::sql::bind_vals(sqlx::query(sqlx::AssertSqlSafe(sql)), &vals)
                .fetch_all(&mut *self.tx)
                .await?;
            for r in &rows {
                out.push((BorrowerId(r.try_get(0)?), r.try_get(1)?));
            }
        }
        Ok(out)
    }

    /// The opt-outs of these borrowers: (borrower, channel or 'all').
    pub async fn opt_outs_of(
        &mut self,
        borrowers: &[BorrowerId],
    ) -> Result<Vec<(BorrowerId, String)>> {
        let keys: Vec<Val> = borrowers.iter().copied().map(Val::from).collect();
        self.fetch_in(
            "SELECT borrower_id, channel FROM contact_opt_outs WHERE borrower_id IN",
            "",
            &keys,
            |r| Ok((BorrowerId(r.try_get(0)?), r.try_get(1)?)),
        )
        .await
    }

    /// The built-in user that records what arrives from outside without a person (a borrower's
    /// reply opting out): `huifang-system`, inactive, created on first use.
    pub async fn system_user(&mut self) -> Result<UserId> {
        sqlx::query("INSERT INTO users (username, display_name, role, active) VALUES ('huifang-system', 'Huifang (provider callbacks)', 'auditor', 0) ON CONFLICT (username) DO NOTHING")
            .execute(&mut *self.tx)
            .await?;
        let row = sqlx::query("SELECT id FROM users WHERE username = 'huifang-system'")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(UserId(row.try_get(0)?))
    }

    /// The borrower whose mobile this is (the first, when several share it), found by its lookup
    /// hash under every data key (or, for a row stored before sealing, by the clear value).
    pub async fn borrower_by_mobile(&mut self, mobile: &str) -> Result<Option<BorrowerId>> {
        let mut keys = self.keyring()?.lookups(pii::MOBILE, mobile);
        keys.push(mobile.to_string());
        let list = param_list(self.dialect, 1, keys.len() - 1);
        let clear = param(self.dialect, keys.len());
        let sql = format!(
            "SELECT id FROM borrowers WHERE mobile_lookup IN ({list}) OR (mobile_lookup IS NULL AND mobile = {clear}) ORDER BY id LIMIT 1"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in keys {
            q = q.bind(k);
        }
        let row = q.fetch_optional(&mut *self.tx).await?;
        Ok(row.map(|r| r.try_get(0).map(BorrowerId)).transpose()?)
    }

    /// Sets a borrower's address on `channel` (email, wechat).
    pub async fn set_contact_address(
        &mut self,
        borrower: BorrowerId,
        channel: &str,
        address: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO contact_addresses (borrower_id, channel, address) VALUES ($1, $2, $3) ON CONFLICT (borrower_id, channel) DO UPDATE SET address = excluded.address")
            .bind(borrower.get())
            .bind(channel)
            .bind(address)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// A borrower's addresses: (channel, address).
    pub async fn contact_addresses(
        &mut self,
        borrower: BorrowerId,
    ) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT channel, address FROM contact_addresses WHERE borrower_id = $1 ORDER BY channel")
            .bind(borrower.get())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Adds or updates (by borrower and mobile) an emergency contact, the mobile sealed; returns
    /// its id.
    pub async fn upsert_emergency_contact(&mut self, c: &EmergencyContact) -> Result<i64> {
        let keys = self.keyring()?;
        let owner = c.borrower_id.get().to_string();
        let sealed = keys.seal(EMERGENCY_MOBILE, &owner, &c.mobile);
        let lookup = keys.lookup(pii::MOBILE, &c.mobile);
        let masked = huifang_core::team::mask_mobile(&c.mobile);
        let existing = self
            .emergency_contacts(c.borrower_id)
            .await?
            .into_iter()
            .find(|(_, e)| e.mobile == c.mobile)
            .map(|(id, _)| id);
        let row = match existing {
            Some(id) => sqlx::query("UPDATE emergency_contacts SET name = $1, relation = $2, consent_on = $3, mobile = $4, mobile_lookup = $5, mobile_masked = $6 WHERE id = $7 RETURNING id")
                .bind(c.name.as_str())
                .bind(c.relation.as_str())
                .bind(c.consent_on.map(date_text))
                .bind(sealed)
                .bind(lookup)
                .bind(masked)
                .bind(id)
                .fetch_one(&mut *self.tx)
                .await?,
            None => sqlx::query("INSERT INTO emergency_contacts (borrower_id, name, relation, mobile, mobile_lookup, mobile_masked, consent_on) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(c.borrower_id.get())
                .bind(c.name.as_str())
                .bind(c.relation.as_str())
                .bind(sealed)
                .bind(lookup)
                .bind(masked)
                .bind(c.consent_on.map(date_text))
                .fetch_one(&mut *self.tx)
                .await?,
        };
        Ok(row.try_get(0)?)
    }

    /// A borrower's emergency contacts, with their ids, mobiles opened.
    pub async fn emergency_contacts(
        &mut self,
        borrower: BorrowerId,
    ) -> Result<Vec<(i64, EmergencyContact)>> {
        let rows = sqlx::query("SELECT id, borrower_id, name, relation, mobile, consent_on FROM emergency_contacts WHERE borrower_id = $1 ORDER BY id")
            .bind(borrower.get())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, self.emergency_contact_from(r)?)))
            .collect()
    }

    fn emergency_contact_from(&self, r: &AnyRow) -> Result<EmergencyContact> {
        let borrower_id = BorrowerId(r.try_get(1)?);
        let stored: String = r.try_get(4)?;
        Ok(EmergencyContact {
            borrower_id,
            name: r.try_get(2)?,
            relation: r.try_get(3)?,
            mobile: self.open_personal(
                EMERGENCY_MOBILE,
                &borrower_id.get().to_string(),
                &stored,
            )?,
            consent_on: opt_date_col(r.try_get(5)?)?,
        })
    }

    /// Marks an interaction as a contact with an emergency contact.
    pub async fn set_interaction_emergency_contact(
        &mut self,
        interaction: i64,
        contact: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE interactions SET emergency_contact_id = $1 WHERE id = $2")
            .bind(contact)
            .bind(interaction)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// One emergency contact, the mobile opened.
    pub async fn emergency_contact(&mut self, id: i64) -> Result<Option<EmergencyContact>> {
        let row = sqlx::query("SELECT id, borrower_id, name, relation, mobile, consent_on FROM emergency_contacts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|r| self.emergency_contact_from(&r)).transpose()
    }
}

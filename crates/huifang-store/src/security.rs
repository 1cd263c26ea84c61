//! Security's rows: sign-in failures (lockout), sessions ended and users disabled, API tokens'
//! expiry, the requests refused for a caller's role or team (denials), the reveals' report, and
//! the intake routes' answers by `Idempotency-Key`, and the rate limits every server of the
//! database shares. No rule: the application decides.

use huifang_core::UserId;
use sqlx::Row;

use crate::sql::date_text;
use crate::{Dialect, Result, Store, Tx};

/// A request refused for the caller's role or team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDenial {
    pub user_id: UserId,
    /// What was asked, e.g. `GET /api/v1/tasks/{id}` with the id, or a command.
    pub action: String,
    pub reason: String,
    /// RFC 3339, UTC.
    pub denied_at: String,
    pub business_date: Option<huifang_core::Date>,
}

/// A stored denial with its user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenialRecord {
    pub id: i64,
    pub username: String,
    pub action: String,
    pub reason: String,
    pub denied_at: String,
    pub business_date: Option<String>,
}

/// A stored reveal of personal data, with its user's name and the borrower's external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealRecord {
    pub id: i64,
    pub username: String,
    pub borrower_external_id: String,
    pub loan_external_id: Option<String>,
    pub task_id: Option<i64>,
    pub fields: String,
    pub revealed_at: String,
    pub business_date: String,
    pub reason: String,
}

/// A command the machine's operator ran as a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorActionRecord {
    pub id: i64,
    /// The operator's login on the machine (`login@host`).
    pub operator: String,
    pub username: String,
    pub command: String,
    pub started_at: String,
    /// started, done, refused or failed.
    pub outcome: String,
    pub finished_at: Option<String>,
}

/// What a claim of an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is new (or its earlier request was abandoned): this request handles it.
    New,
    /// The key was used with this route and body: its stored answer.
    Done { status: u16, response: String },
    /// The key's first request is still being handled.
    InProgress,
    /// The key was used with another route or body.
    Mismatch,
}

impl Tx {
    // ----- sign-in failures -----------------------------------------------------------------

    /// How many failed sign-ins `username` has had at or after `since` (RFC 3339, UTC).
    pub async fn login_failures_since(&mut self, username: &str, since: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM login_failures WHERE username = $1 AND failed_at >= $2",
        )
        .bind(username)
        .bind(since)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Records a failed sign-in of `username` at `at`.
    pub async fn insert_login_failure(&mut self, username: &str, at: &str) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (username, failed_at) VALUES ($1, $2)")
            .bind(username)
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Forgets every failed sign-in before `before`: they no longer count.
    pub async fn purge_login_failures(&mut self, before: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE failed_at < $1")
            .bind(before)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Forgets `username`'s failed sign-ins (after a successful one).
    pub async fn clear_login_failures(&mut self, username: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1")
            .bind(username)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    // ----- sessions, tokens, users ----------------------------------------------------------

    /// Ends one session; false when there was none.
    pub async fn delete_session(&mut self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user; how many there were.
    pub async fn delete_sessions_of(&mut self, user_id: UserId) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    /// Ends the sessions that expired before `now`.
    pub async fn delete_expired_sessions(&mut self, now: &str) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1")
                .bind(now)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected())
    }

    /// Enables or disables a user.
    pub async fn set_user_active(&mut self, user_id: UserId, active: bool) -> Result<()> {
        sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(user_id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&mut self, user_id: UserId, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The expiry of a user's API token (none: no token).
    pub async fn api_token_expiry(&mut self, user_id: UserId) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT api_token_expires_at FROM users WHERE id = $1 AND api_token_hash IS NOT NULL",
        )
        .bind(user_id.get())
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    // ----- denials and reveals --------------------------------------------------------------

    /// Records that the operator `operator` starts `command` as `user`; returns its id.
    pub async fn insert_operator_action(
        &mut self,
        operator: &str,
        user: UserId,
        command: &str,
        at: &str,
    ) -> Result<i64> {
        let row = sqlx::query("INSERT INTO operator_actions (operator, user_id, command, started_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(operator)
            .bind(user.get())
            .bind(command)
            .bind(at)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Records how an operator's command ended (done, refused or failed).
    pub async fn finish_operator_action(&mut self, id: i64, outcome: &str, at: &str) -> Result<()> {
        sqlx::query("UPDATE operator_actions SET outcome = $1, finished_at = $2 WHERE id = $3")
            .bind(outcome)
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The operators' commands, newest first, at most `limit`, as one user or all.
    pub async fn operator_actions(
        &mut self,
        user: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<OperatorActionRecord>> {
        let rows = sqlx::query("SELECT o.id, o.operator, u.username, o.command, o.started_at, o.outcome, o.finished_at FROM operator_actions o JOIN users u ON u.id = o.user_id WHERE (CAST($1 AS BIGINT) IS NULL OR o.user_id = $1) ORDER BY o.id DESC LIMIT $2")
            .bind(user.map(UserId::get))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OperatorActionRecord {
                    id: r.try_get(0)?,
                    operator: r.try_get(1)?,
                    username: r.try_get(2)?,
                    command: r.try_get(3)?,
                    started_at: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                    finished_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Records a refused request.
    pub async fn insert_denial(&mut self, d: &NewDenial) -> Result<()> {
        sqlx::query("INSERT INTO denials (user_id, action, reason, denied_at, business_date) VALUES ($1, $2, $3, $4, $5)")
            .bind(d.user_id.get())
            .bind(d.action.as_str())
            .bind(d.reason.as_str())
            .bind(d.denied_at.as_str())
            .bind(d.business_date.map(date_text))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The refused requests, newest first, at most `limit`, of one user or all.
    pub async fn denials(
        &mut self,
        user: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<DenialRecord>> {
        let rows = sqlx::query("SELECT d.id, u.username, d.action, d.reason, d.denied_at, d.business_date FROM denials d JOIN users u ON u.id = d.user_id WHERE (CAST($1 AS BIGINT) IS NULL OR d.user_id = $1) ORDER BY d.id DESC LIMIT $2")
            .bind(user.map(UserId::get))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DenialRecord {
                    id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    action: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    denied_at: r.try_get(4)?,
                    business_date: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// The reveals of personal data, newest first, at most `limit`, of one user or all.
    pub async fn reveals(
        &mut self,
        user: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<RevealRecord>> {
        let rows = sqlx::query("SELECT r.id, u.username, b.external_id, l.external_id, r.task_id, r.fields, r.revealed_at, r.business_date, r.reason FROM reveals r JOIN users u ON u.id = r.user_id JOIN borrowers b ON b.id = r.borrower_id LEFT JOIN loans l ON l.id = r.loan_id WHERE (CAST($1 AS BIGINT) IS NULL OR r.user_id = $1) ORDER BY r.id DESC LIMIT $2")
            .bind(user.map(UserId::get))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RevealRecord {
                    id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    borrower_external_id: r.try_get(2)?,
                    loan_external_id: r.try_get(3)?,
                    task_id: r.try_get(4)?,
                    fields: r.try_get(5)?,
                    revealed_at: r.try_get(6)?,
                    business_date: r.try_get(7)?,
                    reason: r.try_get(8)?,
                })
            })
            .collect()
    }

    // ----- idempotency keys -----------------------------------------------------------------

    /// Claims `key` for a request of `user` to `route` with a body hashing to `body_sha256`, at
    /// `now`; a first request still unanswered since before `stale` (both RFC 3339, UTC) counts
    /// as abandoned and is taken over. Commit the claim before handling the request, so that a
    /// concurrent request with the same key finds it.
    pub async fn claim_idempotency_key(
        &mut self,
        user: UserId,
        key: &str,
        route: &str,
        body_sha256: &str,
        now: &str,
        stale: &str,
    ) -> Result<KeyClaim> {
        let inserted = sqlx::query("INSERT INTO idempotency_keys (user_id, key, route, body_sha256, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, key) DO NOTHING")
            .bind(user.get())
            .bind(key)
            .bind(route)
            .bind(body_sha256)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        if inserted.rows_affected() > 0 {
            return Ok(KeyClaim::New);
        }
        let row = sqlx::query("SELECT route, body_sha256, status, response, created_at FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user.get())
            .bind(key)
            .fetch_one(&mut *self.tx)
            .await?;
        let (was_route, was_body): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if was_route != route || was_body != body_sha256 {
            return Ok(KeyClaim::Mismatch);
        }
        let status: Option<i64> = row.try_get(2)?;
        match status {
            Some(status) => Ok(KeyClaim::Done {
                status: u16::try_from(status).unwrap_or(500),
                response: row.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
            }),
            None => {
                let taken = sqlx::query("UPDATE idempotency_keys SET created_at = $1 WHERE user_id = $2 AND key = $3 AND status IS NULL AND created_at < $4")
                    .bind(now)
                    .bind(user.get())
                    .bind(key)
                    .bind(stale)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(if taken.rows_affected() > 0 {
                    KeyClaim::New
                } else {
                    KeyClaim::InProgress
                })
            }
        }
    }

    /// Stores the answer of a claimed key.
    pub async fn finish_idempotency_key(
        &mut self,
        user: UserId,
        key: &str,
        status: u16,
        response: &str,
    ) -> Result<()> {
        sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2 WHERE user_id = $3 AND key = $4")
            .bind(i64::from(status))
            .bind(response)
            .bind(user.get())
            .bind(key)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Gives a claimed key back unanswered (the request failed on the server's side: the same
    /// key may be tried again).
    pub async fn release_idempotency_key(&mut self, user: UserId, key: &str) -> Result<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL",
        )
        .bind(user.get())
        .bind(key)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Takes one token from `key`'s bucket, which holds `per_minute` tokens and refills at that
    /// rate, at `now_ms` (milliseconds since 1970, the caller's clock): `None` when taken, else
    /// the milliseconds until a token is back. One transaction of its own, so that every server
    /// of the database draws on the same bucket; whole thousandths of a token, no float.
    pub async fn take_token(&self, key: &str, per_minute: u32, now_ms: i64) -> Result<Option<i64>> {
        let rate = i64::from(per_minute.max(1));
        let full = rate.saturating_mul(1000);
        let least = match self.dialect {
            Dialect::Sqlite => "MIN",
            Dialect::Postgres => "LEAST",
        };
        let greatest = match self.dialect {
            Dialect::Sqlite => "MAX",
            Dialect::Postgres => "GREATEST",
        };
        // the level now: what was left plus the refill since, at most full
        let level = format!(
            "{least}($2, rate_buckets.milli_tokens + {greatest}($3 - rate_buckets.at_ms, 0) * $4 / 60)"
        );
        let mut tx = self.begin().await?;
        if self.dialect == Dialect::Sqlite {
            // the database's write lock, in the process's order of writers
            tx.lock_business_date().await?;
        }
        let taken = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO rate_buckets (key, milli_tokens, at_ms) VALUES ($1, $2 - 1000, $3) \
             ON CONFLICT (key) DO UPDATE SET milli_tokens = {level} - 1000, \
             at_ms = {greatest}($3, rate_buckets.at_ms) WHERE {level} >= 1000"
        )))
        .bind(key)
        .bind(full)
        .bind(now_ms)
        .bind(rate)
        .execute(&mut *tx.tx)
        .await?;
        let wait = if taken.rows_affected() > 0 {
            None
        } else {
            // the level now, by the same expression as the take
            let level: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT {level} FROM rate_buckets WHERE key = $1"
            )))
            .bind(key)
            .bind(full)
            .bind(now_ms)
            .bind(rate)
            .fetch_one(&mut *tx.tx)
            .await?;
            // milliseconds until the level reaches a whole token, rounded up
            let missing = 1000_i64.saturating_sub(level).max(1);
            Some((missing * 60 + rate - 1) / rate)
        };
        // forget the buckets untouched for a minute: full again, as a new one would be
        sqlx::query("DELETE FROM rate_buckets WHERE at_ms < $1")
            .bind(now_ms.saturating_sub(60_000))
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await?;
        Ok(wait)
    }
}

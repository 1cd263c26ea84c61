//! Events out: subscribers, the sources the relay reads events from (loan events, payments,
//! applied decisions, each after a cursor), and the deliveries with their attempts and answers.
//! No rule: the application decides what goes to whom and when to try again.

use huifang_core::Money;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::Val;
use crate::{Dialect, Result, Tx, WEBHOOK_SECRET, pii};

/// A subscriber to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub secret: String,
    /// Event kinds, comma-separated.
    pub kinds: String,
    pub created_at: String,
}

/// A stored subscriber, with how far the relay has read each source for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub kinds: String,
    pub active: bool,
    pub created_at: String,
    pub read_event_id: i64,
    pub read_payment_id: i64,
    pub read_decision_op_id: i64,
    pub read_signal_id: i64,
}

/// One event of a source, as the relay reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    /// A row of `loan_events`: its id, loan, business date, kind and details (JSON text).
    Loan {
        id: i64,
        loan: String,
        business_date: String,
        kind: String,
        details: String,
    },
    /// A posted payment.
    Payment {
        id: i64,
        external_id: String,
        loan: String,
        paid_on: String,
        amount: Money,
        channel: String,
        received_on: String,
    },
    /// A promise to pay found broken by the close (its `broken_promise` risk signal).
    PromiseBroken {
        signal_id: i64,
        loan: String,
        observed_on: String,
        details: String,
    },
    /// An applied decision, by the id of the operation it made.
    Decision {
        op_id: i64,
        decision_id: i64,
        loan: String,
        kind: String,
        on_date: String,
        business_date: String,
    },
}

/// A delivery to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub event_id: String,
    pub kind: String,
    pub payload: String,
    pub due_at: String,
    pub created_at: String,
}

/// A delivery as the worker claims it, with its subscriber's address and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook: String,
    pub url: String,
    pub secret: String,
    pub event_id: String,
    pub kind: String,
    pub payload: String,
    pub state: String,
    /// Attempts made, this one included once claimed.
    pub attempts: i64,
    pub due_at: String,
    pub last_status: Option<i64>,
    pub last_error: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// The result of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub id: i64,
    /// delivered, failed (to try again at `due_at`) or dead.
    pub state: String,
    pub due_at: String,
    pub last_status: Option<i64>,
    pub last_error: String,
    pub delivered_at: Option<String>,
}

const DELIVERY_COLUMNS: &str = "d.id, w.name, w.url, w.secret, d.event_id, d.kind, d.payload, d.state, d.attempts, d.due_at, d.last_status, d.last_error, d.created_at, d.delivered_at FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id";

fn delivery(r: &AnyRow) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.try_get(0)?,
        webhook: r.try_get(1)?,
        url: r.try_get(2)?,
        secret: r.try_get(3)?,
        event_id: r.try_get(4)?,
        kind: r.try_get(5)?,
        payload: r.try_get(6)?,
        state: r.try_get(7)?,
        attempts: r.try_get(8)?,
        due_at: r.try_get(9)?,
        last_status: r.try_get(10)?,
        last_error: r.try_get(11)?,
        created_at: r.try_get(12)?,
        delivered_at: r.try_get(13)?,
    })
}

fn webhook(r: &AnyRow) -> Result<WebhookRecord> {
    Ok(WebhookRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        url: r.try_get(2)?,
        secret: r.try_get(3)?,
        kinds: r.try_get(4)?,
        active: r.try_get::<i64, _>(5)? != 0,
        created_at: r.try_get(6)?,
        read_event_id: r.try_get(7)?,
        read_payment_id: r.try_get(8)?,
        read_decision_op_id: r.try_get(9)?,
        read_signal_id: r.try_get(10)?,
    })
}

const WEBHOOK_COLUMNS: &str = "id, name, url, secret, kinds, active, created_at, read_event_id, read_payment_id, read_decision_op_id, read_signal_id FROM webhooks";

impl Tx {
    /// Adds a subscriber, reading every source from the present on; its id.
    pub async fn insert_webhook(&mut self, w: &NewWebhook) -> Result<i64> {
        let secret = self.keyring()?.seal(WEBHOOK_SECRET, &w.name, &w.secret);
        let row = sqlx::query("INSERT INTO webhooks (name, url, secret, kinds, created_at, read_event_id, read_payment_id, read_decision_op_id, read_signal_id) VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(id), 0) FROM loan_events), (SELECT COALESCE(MAX(id), 0) FROM payments), (SELECT COALESCE(MAX(op_id), 0) FROM decisions), (SELECT COALESCE(MAX(id), 0) FROM risk_signals)) RETURNING id")
            .bind(w.name.as_str())
            .bind(w.url.as_str())
            .bind(secret)
            .bind(w.kinds.as_str())
            .bind(w.created_at.as_str())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Every subscriber, by id.
    pub async fn webhooks(&mut self) -> Result<Vec<WebhookRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} ORDER BY id"
        )))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                let mut w = webhook(r)?;
                w.secret = self.shown_secret(&w.name, &w.secret)?;
                Ok(w)
            })
            .collect()
    }

    /// A subscriber's stored secret opened when the data keys are at hand; empty without them
    /// (only the delivery worker needs it, and it claims nothing without them).
    fn shown_secret(&self, name: &str, stored: &str) -> Result<String> {
        match (pii::sealed_under(stored), &self.keys) {
            (Some(_), None) => Ok(String::new()),
            _ => self.open_personal(WEBHOOK_SECRET, name, stored),
        }
    }

    /// Changes a subscriber's address, kinds and whether it is active.
    pub async fn update_webhook(
        &mut self,
        id: i64,
        url: &str,
        kinds: &str,
        active: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE webhooks SET url = $1, kinds = $2, active = $3 WHERE id = $4")
            .bind(url)
            .bind(kinds)
            .bind(i64::from(active))
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Moves a subscriber's cursors.
    pub async fn set_webhook_cursors(
        &mut self,
        id: i64,
        event: i64,
        payment: i64,
        decision_op: i64,
        signal: i64,
    ) -> Result<()> {
        sqlx::query("UPDATE webhooks SET read_event_id = $1, read_payment_id = $2, read_decision_op_id = $3, read_signal_id = $4 WHERE id = $5")
            .bind(event)
            .bind(payment)
            .bind(decision_op)
            .bind(signal)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The rows of `sql` (a source read after a cursor: `$1` the cursor, `$2` the limit).
    async fn rows_after(
        &mut self,
        sql: &'static str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AnyRow>> {
        Ok(sqlx::query(sql)
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// The loan events after `after`, in order, at most `limit`.
    pub async fn loan_events_after(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<SourceEvent>> {
        let rows = self.rows_after("SELECT e.id, l.external_id, e.business_date, e.kind, e.details FROM loan_events e JOIN loans l ON l.id = e.loan_id WHERE e.id > $1 ORDER BY e.id LIMIT $2", after, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(SourceEvent::Loan {
                    id: r.try_get(0)?,
                    loan: r.try_get(1)?,
                    business_date: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    details: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// The payments after `after`, in order, at most `limit`.
    pub async fn payments_after(&mut self, after: i64, limit: usize) -> Result<Vec<SourceEvent>> {
        let page = self
            .payments_page(None, after, i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        Ok(page
            .into_iter()
            .map(|p| SourceEvent::Payment {
                id: p.id,
                external_id: p.external_id,
                loan: p.loan_external_id,
                paid_on: p.paid_on.to_string(),
                amount: p.amount,
                channel: p.channel,
                received_on: p.received_on.to_string(),
            })
            .collect())
    }

    /// The promises found broken after the risk signal `after`, in order, at most `limit`.
    pub async fn broken_promises_after(
        &mut self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<SourceEvent>> {
        let rows = self.rows_after("SELECT s.id, l.external_id, s.observed_on, s.value FROM risk_signals s JOIN loans l ON l.id = s.loan_id WHERE s.id > $1 AND s.kind = 'broken_promise' ORDER BY s.id LIMIT $2", after, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(SourceEvent::PromiseBroken {
                    signal_id: r.try_get(0)?,
                    loan: r.try_get(1)?,
                    observed_on: r.try_get(2)?,
                    details: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The decisions applied by an operation after `after_op`, in operation order, at most
    /// `limit`.
    pub async fn decisions_after(
        &mut self,
        after_op: i64,
        limit: usize,
    ) -> Result<Vec<SourceEvent>> {
        let rows = self.rows_after("SELECT d.op_id, d.id, l.external_id, d.kind, d.on_date, d.business_date FROM decisions d JOIN loans l ON l.id = d.loan_id WHERE d.op_id > $1 ORDER BY d.op_id LIMIT $2", after_op, limit).await?;
        rows.iter()
            .map(|r| {
                Ok(SourceEvent::Decision {
                    op_id: r.try_get(0)?,
                    decision_id: r.try_get(1)?,
                    loan: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    on_date: r.try_get(4)?,
                    business_date: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Queues deliveries for a subscriber; an event already queued for it is skipped.
    pub async fn insert_deliveries(&mut self, webhook_id: i64, rows: &[NewDelivery]) -> Result<()> {
        for d in rows {
            sqlx::query("INSERT INTO webhook_deliveries (webhook_id, event_id, kind, payload, due_at, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id, event_id) DO NOTHING")
                .bind(webhook_id)
                .bind(d.event_id.as_str())
                .bind(d.kind.as_str())
                .bind(d.payload.as_str())
                .bind(d.due_at.as_str())
                .bind(d.created_at.as_str())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Claims up to `limit` deliveries due at `now` (queued, or failed and due again) of active
    /// subscribers, under a lease until `lease_until`, counting the attempt; on PostgreSQL
    /// skipping those another worker holds.
    pub async fn claim_deliveries(
        &mut self,
        now: &str,
        lease_until: &str,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>> {
        let skip = match self.dialect {
            Dialect::Postgres => "FOR UPDATE OF d SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET leased_until = $1, attempts = attempts + 1 WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.active = 1 AND d.state IN ('queued', 'failed') AND d.due_at <= $2 AND (d.leased_until IS NULL OR d.leased_until <= $2) ORDER BY d.due_at, d.id LIMIT $3 {skip}) RETURNING id"
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
        let keys = self.keyring()?;
        self.fetch_in(
            &format!("SELECT {DELIVERY_COLUMNS} WHERE d.id IN"),
            "ORDER BY d.due_at, d.id",
            &ids,
            |r| {
                let mut d = delivery(r)?;
                if pii::sealed_under(&d.secret).is_some() {
                    d.secret = keys.open(WEBHOOK_SECRET, &d.webhook, &d.secret)?;
                }
                Ok(d)
            },
        )
        .await
    }

    /// Writes the results of attempts; their leases end.
    pub async fn update_deliveries(&mut self, updates: &[DeliveryUpdate]) -> Result<()> {
        for u in updates {
            sqlx::query("UPDATE webhook_deliveries SET state = $1, due_at = $2, last_status = $3, last_error = $4, delivered_at = $5, leased_until = NULL WHERE id = $6")
                .bind(u.state.as_str())
                .bind(u.due_at.as_str())
                .bind(u.last_status)
                .bind(u.last_error.as_str())
                .bind(u.delivered_at.as_deref())
                .bind(u.id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// The delivery log, newest first: of one subscriber or all, in one state or all.
    pub async fn deliveries(
        &mut self,
        webhook: Option<&str>,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} WHERE (CAST($1 AS TEXT) IS NULL OR w.name = $1) AND (CAST($2 AS TEXT) IS NULL OR d.state = $2) ORDER BY d.id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(webhook)
            .bind(state)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                let mut d = delivery(r)?;
                d.secret = self.shown_secret(&d.webhook, &d.secret)?;
                Ok(d)
            })
            .collect()
    }
}

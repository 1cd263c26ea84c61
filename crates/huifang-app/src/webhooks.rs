//! Events out (DOMAIN.md's webhooks): subscribers take the book's events of the kinds they ask
//! for — installments overdue, buckets and tiers changed, warnings raised and resolved, loans
//! paid off, payments posted, decisions applied — as signed JSON POSTs.
//!
//! The events are the book's own records, each written in the transaction of what caused it
//! (`loan_events` by the close and every re-evaluation, `payments` by the import, `decisions` by
//! their approval): the relay (`relay`) reads each source after the subscriber's cursor and
//! queues a delivery per event in one transaction, moving the cursor with it, so an event is
//! queued once and none is missed. The worker (`deliver_once`, in `huifang notify run` and
//! `huifang serve`) posts the due deliveries, signed as providers' callbacks are
//! (`X-Huifang-Signature`: hex HMAC-SHA256 of "{timestamp}.{body}" with the subscriber's secret),
//! with the event's id in `X-Huifang-Delivery` for the receiver to apply each once; a failure
//! is tried again after the notification rules' backoff, and dead-lettered after their attempts.

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::stream::{self, StreamExt};
use huifang_core::webhook::EventKind;
use huifang_store::{
    DeliveryRecord, DeliveryUpdate, NewDelivery, NewWebhook, SourceEvent, Store, WebhookRecord,
};
use serde_json::{Value, json};

use crate::AppError;
use crate::notify::{rules_in, sign};
use crate::ports::WebhookPoster;
use crate::team::{Actor, Role, new_token, stamp};

/// Events read from each source per relay step.
const RELAY_BATCH: usize = 1_000;

/// Deliveries claimed per pass.
const DELIVERY_BATCH: usize = 200;

/// Deliveries posted at once.
const CONCURRENCY: usize = 16;

/// How long claimed deliveries are held before another worker may take them.
const LEASE_SECONDS: i64 = 120;

fn require_admin(by: Option<&Actor>) -> Result<(), AppError> {
    match by {
        None => Ok(()),
        Some(a) => a.require(Role::administers, "manage webhooks"),
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> AppError {
    AppError::Field {
        field,
        reason: reason.into(),
    }
}

/// Adds a subscriber taking the events of `kinds` (comma-separated, or `all`) from now on; the
/// secret is generated when none is given. Returns the subscriber and its secret (shown once).
pub async fn add(
    store: &Store,
    by: Option<&Actor>,
    name: &str,
    url: &str,
    kinds: &str,
    secret: Option<String>,
) -> Result<(WebhookRecord, String), AppError> {
    require_admin(by)?;
    let name = name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid("name", "1 to 64 letters, digits, _ or -"));
    }
    let url = checked_url(url)?;
    let kinds = EventKind::parse_list(kinds).map_err(|e| invalid("events", e))?;
    let secret = match secret {
        Some(s) if s.trim().len() >= 16 => s.trim().to_string(),
        Some(_) => return Err(invalid("secret", "at least 16 characters")),
        None => new_token(),
    };
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    if tx.webhooks().await?.iter().any(|w| w.name == name) {
        return Err(AppError::Conflict(format!(
            "webhook {name:?} exists already"
        )));
    }
    let id = tx
        .insert_webhook(&NewWebhook {
            name: name.to_string(),
            url: url.to_string(),
            secret: secret.clone(),
            kinds: kinds_text(&kinds),
            created_at: stamp(Utc::now()),
        })
        .await?;
    let added = tx
        .webhooks()
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| AppError::Invalid("the added webhook vanished".into()))?;
    tx.commit().await?;
    Ok((added, secret))
}

fn checked_url(url: &str) -> Result<&str, AppError> {
    let url = url.trim();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 500 {
        return Err(invalid("url", "an http:// or https:// address"));
    }
    Ok(url)
}

fn kinds_text(kinds: &[EventKind]) -> String {
    kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Changes a subscriber: its address, its kinds (comma-separated, or `all`), or whether it is
/// active. A disabled subscriber is sent nothing; enabled again, it gets the events written
/// meanwhile (its read positions wait for it). Returns it as it now is.
pub async fn change(
    store: &Store,
    by: Option<&Actor>,
    name: &str,
    url: Option<&str>,
    kinds: Option<&str>,
    active: Option<bool>,
) -> Result<WebhookRecord, AppError> {
    require_admin(by)?;
    let url = url.map(checked_url).transpose()?;
    let kinds = kinds
        .map(|k| EventKind::parse_list(k).map_err(|e| invalid("events", e)))
        .transpose()?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let hook = named(&mut tx, name).await?;
    let url = url.unwrap_or(&hook.url).to_string();
    let kinds = kinds.map_or_else(|| hook.kinds.clone(), |k| kinds_text(&k));
    let active = active.unwrap_or(hook.active);
    tx.update_webhook(hook.id, &url, &kinds, active).await?;
    tx.commit().await?;
    Ok(WebhookRecord {
        url,
        kinds,
        active,
        ..hook
    })
}

/// The subscriber called `name`.
async fn named(tx: &mut huifang_store::Tx, name: &str) -> Result<WebhookRecord, AppError> {
    tx.webhooks()
        .await?
        .into_iter()
        .find(|w| w.name == name)
        .ok_or_else(|| AppError::NotFound {
            what: "webhook",
            id: name.to_string(),
        })
}

/// Every subscriber (for an admin).
pub async fn list(store: &Store, by: Option<&Actor>) -> Result<Vec<WebhookRecord>, AppError> {
    require_admin(by)?;
    let mut tx = store.begin().await?;
    let all = tx.webhooks().await?;
    tx.rollback().await?;
    Ok(all)
}

/// Queues a test delivery (`ping`) to a subscriber; the worker sends it as any other.
pub async fn test(store: &Store, by: Option<&Actor>, name: &str) -> Result<String, AppError> {
    require_admin(by)?;
    let now = Utc::now();
    let mut tx = store.begin().await?;
    let hook = named(&mut tx, name).await?;
    let event_id = format!("ping:{}", &new_token()[..16]);
    let payload = json!({
        "id": event_id,
        "kind": EventKind::Ping.as_str(),
        "webhook": hook.name,
        "sent_at": stamp(now),
    });
    tx.insert_deliveries(
        hook.id,
        &[NewDelivery {
            event_id: event_id.clone(),
            kind: EventKind::Ping.as_str().to_string(),
            payload: payload.to_string(),
            due_at: stamp(now),
            created_at: stamp(now),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(event_id)
}

/// The delivery log, newest first (for an admin): of one subscriber or all, in one state
/// (queued, delivered, failed, dead) or all.
pub async fn log(
    store: &Store,
    by: Option<&Actor>,
    name: Option<&str>,
    state: Option<&str>,
    limit: usize,
) -> Result<Vec<DeliveryRecord>, AppError> {
    require_admin(by)?;
    if let Some(s) = state
        && !["queued", "delivered", "failed", "dead"].contains(&s)
    {
        return Err(invalid("state", "queued, delivered, failed or dead"));
    }
    let mut tx = store.begin().await?;
    let rows = tx.deliveries(name, state, limit.clamp(1, 1_000)).await?;
    tx.rollback().await?;
    Ok(rows)
}

/// The delivery of one source event to a subscriber taking `kinds`, or none when it takes
/// other kinds (or the event is not one sent out).
fn delivery_of(event: &SourceEvent, kinds: &[EventKind], now: &str) -> Option<NewDelivery> {
    let (event_id, kind, loan, business_date, data) = match event {
        SourceEvent::Loan {
            id,
            loan,
            business_date,
            kind,
            details,
        } => (
            format!("loan_event:{id}"),
            EventKind::of_loan_event(kind)?,
            loan,
            business_date,
            serde_json::from_str(details).unwrap_or_else(|_| Value::String(details.clone())),
        ),
        SourceEvent::Payment {
            id,
            external_id,
            loan,
            paid_on,
            amount,
            channel,
            received_on,
        } => (
            format!("payment:{id}"),
            EventKind::PaymentPosted,
            loan,
            received_on,
            json!({"payment": external_id, "paid_on": paid_on, "amount": amount.to_string(), "channel": channel}),
        ),
        SourceEvent::PromiseBroken {
            signal_id,
            loan,
            observed_on,
            details,
        } => (
            format!("promise_broken:{signal_id}"),
            EventKind::PromiseBroken,
            loan,
            observed_on,
            serde_json::from_str(details).unwrap_or_else(|_| Value::String(details.clone())),
        ),
        SourceEvent::Decision {
            decision_id,
            loan,
            kind,
            on_date,
            business_date,
            ..
        } => (
            format!("decision:{decision_id}"),
            EventKind::DecisionMade,
            loan,
            business_date,
            json!({"decision_id": decision_id, "decision": kind, "on_date": on_date}),
        ),
    };
    if !kinds.contains(&kind) {
        return None;
    }
    let payload = json!({
        "id": event_id,
        "kind": kind.as_str(),
        "loan": loan,
        "business_date": business_date,
        "data": data,
    });
    Some(NewDelivery {
        event_id,
        kind: kind.as_str().to_string(),
        payload: payload.to_string(),
        due_at: now.to_string(),
        created_at: now.to_string(),
    })
}

/// Queues, for every active subscriber, a delivery of each event written since its cursors,
/// moving them in the same transaction; how many deliveries were queued.
pub async fn relay(store: &Store, now: DateTime<Utc>) -> Result<usize, AppError> {
    let now = stamp(now);
    let mut queued = 0;
    let hooks = {
        let mut tx = store.begin().await?;
        let all = tx.webhooks().await?;
        tx.rollback().await?;
        all
    };
    for hook in hooks.into_iter().filter(|h| h.active) {
        let kinds = EventKind::parse_list(&hook.kinds)
            .map_err(|e| AppError::Invalid(format!("webhook {}: stored kinds: {e}", hook.name)))?;
        let (mut event, mut payment, mut decision, mut signal) = (
            hook.read_event_id,
            hook.read_payment_id,
            hook.read_decision_op_id,
            hook.read_signal_id,
        );
        loop {
            let mut tx = store.begin().await?;
            let mut read = Vec::new();
            read.extend(tx.loan_events_after(event, RELAY_BATCH).await?);
            read.extend(tx.payments_after(payment, RELAY_BATCH).await?);
            read.extend(tx.decisions_after(decision, RELAY_BATCH).await?);
            read.extend(tx.broken_promises_after(signal, RELAY_BATCH).await?);
            if read.is_empty() {
                break;
            }
            let full = read.len() >= RELAY_BATCH;
            let mut rows = Vec::new();
            for e in &read {
                match e {
                    SourceEvent::Loan { id, .. } => event = event.max(*id),
                    SourceEvent::Payment { id, .. } => payment = payment.max(*id),
                    SourceEvent::Decision { op_id, .. } => decision = decision.max(*op_id),
                    SourceEvent::PromiseBroken { signal_id, .. } => signal = signal.max(*signal_id),
                }
                rows.extend(delivery_of(e, &kinds, &now));
            }
            tx.insert_deliveries(hook.id, &rows).await?;
            tx.set_webhook_cursors(hook.id, event, payment, decision, signal)
                .await?;
            tx.commit().await?;
            queued += rows.len();
            if !full {
                break;
            }
        }
    }
    Ok(queued)
}

/// One delivery being posted: its index among the claimed and the subscriber's answer.
type Posting<'a> =
    std::pin::Pin<Box<dyn Future<Output = (usize, Result<u16, String>)> + Send + 'a>>;

/// What one pass of the webhook worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookPass {
    pub queued: usize,
    pub claimed: usize,
    pub delivered: usize,
    pub failed: usize,
    pub dead: usize,
}

fn naive(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// One pass: relays the new events, then posts the due deliveries through `poster` (at most
/// [`DELIVERY_BATCH`], [`CONCURRENCY`] at a time) and records each answer: 2xx delivered, any
/// other answer or none tried again after the notification rules' backoff (`jitter` gives each
/// a draw of 0 to 999), dead-lettered after their attempts.
pub async fn deliver_once<P: WebhookPoster>(
    store: &Store,
    poster: &P,
    now: DateTime<Utc>,
    mut jitter: impl FnMut() -> u32,
) -> Result<WebhookPass, AppError> {
    let mut pass = WebhookPass {
        queued: relay(store, now).await?,
        ..WebhookPass::default()
    };
    let mut tx = store.begin().await?;
    let rules = rules_in(&mut tx).await?;
    let claimed = tx
        .claim_deliveries(
            &stamp(now),
            &stamp(now + chrono::Duration::seconds(LEASE_SECONDS)),
            DELIVERY_BATCH,
        )
        .await?;
    tx.commit().await?;
    pass.claimed = claimed.len();
    if claimed.is_empty() {
        return Ok(pass);
    }
    let timestamp = now.timestamp().to_string();
    // the futures are made before they are streamed: a stream that makes them with a closure
    // over these borrows is not `Send` (the worker runs on a spawned task in `huifang serve`)
    let posting: Vec<Posting<'_>> = claimed
        .iter()
        .enumerate()
        .map(|(i, d)| -> Posting<'_> {
            let headers = vec![
                ("X-Huifang-Event", d.kind.clone()),
                ("X-Huifang-Delivery", d.event_id.clone()),
                ("X-Huifang-Timestamp", timestamp.clone()),
                (
                    "X-Huifang-Signature",
                    sign(&d.secret, &timestamp, d.payload.as_bytes()),
                ),
            ];
            Box::pin(async move {
                let answer = poster
                    .post(&d.url, &headers, &d.payload)
                    .await
                    .map_err(|e| e.message);
                (i, answer)
            })
        })
        .collect();
    let answers: Vec<(usize, Result<u16, String>)> = stream::iter(posting)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut updates = Vec::with_capacity(answers.len());
    for (i, answer) in answers {
        let Some(d) = claimed.get(i) else { continue };
        let (status, error) = match answer {
            Ok(code) if (200..300).contains(&code) => {
                pass.delivered += 1;
                updates.push(DeliveryUpdate {
                    id: d.id,
                    state: "delivered".into(),
                    due_at: d.due_at.clone(),
                    last_status: Some(i64::from(code)),
                    last_error: String::new(),
                    delivered_at: Some(stamp(now)),
                });
                continue;
            }
            Ok(code) => (Some(i64::from(code)), format!("answered {code}")),
            Err(e) => (None, e),
        };
        let attempts = u32::try_from(d.attempts).unwrap_or(u32::MAX);
        let (state, next) = rules.after_failure(attempts, naive(now), jitter());
        let dead = state == huifang_core::notify::MessageState::Dead;
        if dead {
            pass.dead += 1;
        } else {
            pass.failed += 1;
        }
        updates.push(DeliveryUpdate {
            id: d.id,
            state: if dead { "dead" } else { "failed" }.into(),
            due_at: stamp(next.and_utc()),
            last_status: status,
            last_error: error.chars().take(500).collect(),
            delivered_at: None,
        });
    }
    let mut tx = store.begin().await?;
    tx.update_deliveries(&updates).await?;
    tx.commit().await?;
    Ok(pass)
}

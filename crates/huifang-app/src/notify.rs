//! Messages to borrowers (DOMAIN.md capability 6) through the transactional outbox:
//! - the notification rules (which channels each event goes by, the retry policy) and the
//!   channels' connections, both documents in the settings;
//! - messages written in the transaction of their event: the close's reminders and overdue
//!   notices ([`Outgoing`]), a recorded promise's confirmation, a call an agent asks for;
//! - the worker's pass ([`deliver_once`]): claim due messages under a lease, hold them to the
//!   contact hours, refuse what the contact rules refuse (kept with its rule), render and hand
//!   the rest to their provider (each with its idempotency key), and record what came of each;
//! - the providers' signed callbacks ([`callback`]): receipts, call events (which become
//!   interactions on the call's task) and replies that opt a borrower out.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use futures_util::stream::{self, StreamExt};
use hmac::{Hmac, Mac};
use huifang_core::contact::{self, Attempt, ContactRules, Purpose, Standing};
use huifang_core::notify::{self as rules, MessageState, NotifyRules};
use huifang_core::outcome::Channel;
use huifang_core::status::LoanEvent;
use huifang_core::team::mask_mobile;
use huifang_core::template::{Figures, Lang, MESSAGE_CHANNELS, MessageEvent};
use huifang_core::{BorrowerId, Date, LoanId, Money, TaskId};
use huifang_store::{
    BlockedContact, MessageFilter, MessageRecord, MessageUpdate, NewMessage, OptOut, Store, Tx,
};
use serde::Deserialize;
use sha2::Sha256;

use crate::ports::{Courier, Failure, Outgoing as OutgoingMessage};
use crate::team::{Actor, Role, stamp};
use crate::templates::{TemplateKey, in_force};
use crate::views::{
    CallView, CallbackView, ChannelsDoc, DeliveryView, MessagePage, MessageView, NotifyReportRow,
    NotifyRulesDoc,
};
use crate::{AppError, require_business_date, to_u64};

/// The settings key of the notification rules.
const RULES_SETTING: &str = "notify_rules";
/// The settings key of the channels' connections.
const CHANNELS_SETTING: &str = "channels";
/// What stands for a secret when a document is shown.
pub const HIDDEN: &str = "********";
/// How far a callback's timestamp may be from the server's clock.
pub const CALLBACK_TOLERANCE_SECONDS: i64 = 300;
/// The event name of a call an agent asked for.
pub const CALL_EVENT: &str = "call";
/// Most messages one page lists.
pub const MAX_PAGE: usize = 500;

fn corrupt(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Store(huifang_store::StoreError::Corrupt(format!(
        "the stored {what}: {e}"
    )))
}

fn parse_channel(field: &str, s: &str) -> Result<Channel, AppError> {
    Channel::from_str(s).map_err(|e| AppError::Invalid(format!("{field}: {e}")))
}

// ----- the notification rules ----------------------------------------------------------------

impl From<&NotifyRules> for NotifyRulesDoc {
    fn from(r: &NotifyRules) -> Self {
        NotifyRulesDoc {
            events: r
                .events
                .iter()
                .map(|(e, cs)| {
                    (
                        e.as_str().to_string(),
                        cs.iter().map(|c| c.as_str().to_string()).collect(),
                    )
                })
                .collect(),
            lang: r.lang.as_str().to_string(),
            max_attempts: r.max_attempts,
            backoff_seconds: r.backoff_seconds,
            max_backoff_seconds: r.max_backoff_seconds,
        }
    }
}

impl NotifyRulesDoc {
    /// The rules of this document, checked; a refusal names the field.
    pub fn to_rules(&self) -> Result<NotifyRules, AppError> {
        let mut events = BTreeMap::new();
        for (e, cs) in &self.events {
            let event = MessageEvent::parse(e)
                .ok_or_else(|| AppError::Invalid(format!("events.{e}: not an event")))?;
            let channels = cs
                .iter()
                .enumerate()
                .map(|(i, c)| parse_channel(&format!("events.{e}[{i}]"), c))
                .collect::<Result<Vec<_>, _>>()?;
            events.insert(event, channels);
        }
        let rules = NotifyRules {
            events,
            lang: Lang::parse(&self.lang).ok_or_else(|| {
                AppError::Invalid(format!("lang: {:?} is not zh or en", self.lang))
            })?,
            max_attempts: self.max_attempts,
            backoff_seconds: self.backoff_seconds,
            max_backoff_seconds: self.max_backoff_seconds,
        };
        rules
            .validate()
            .map_err(|e| AppError::Invalid(format!("{}: {}", e.field, e.reason)))?;
        Ok(rules)
    }
}

/// The notification rules in force: the stored document, or the defaults.
pub async fn rules_in(tx: &mut Tx) -> Result<NotifyRules, AppError> {
    match tx.setting(RULES_SETTING).await? {
        None => Ok(NotifyRules::default()),
        Some(text) => serde_json::from_str::<NotifyRulesDoc>(&text)
            .map_err(|e| corrupt("notification rules", e))?
            .to_rules(),
    }
}

/// The notification rules in force, as a document.
pub async fn show_rules(store: &Store) -> Result<NotifyRulesDoc, AppError> {
    let mut tx = store.begin().await?;
    let rules = rules_in(&mut tx).await?;
    tx.rollback().await?;
    Ok(NotifyRulesDoc::from(&rules))
}

/// Replaces the notification rules (JSON); they apply to the next message written and the next
/// attempt. A refused document names the field and changes nothing.
pub async fn set_rules(
    store: &Store,
    actor: &Actor,
    document: &str,
) -> Result<NotifyRulesDoc, AppError> {
    actor.require(Role::sets_contact_rules, "change the notification rules")?;
    let doc: NotifyRulesDoc = serde_json::from_str(document)
        .map_err(|e| AppError::Invalid(format!("notification rules: {e}")))?;
    let doc = NotifyRulesDoc::from(&doc.to_rules()?);
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| AppError::Invalid(format!("notification rules: {e}")))?;
    let mut tx = store.begin().await?;
    tx.set_setting(RULES_SETTING, &text).await?;
    tx.commit().await?;
    Ok(doc)
}

// ----- the channels' connections -------------------------------------------------------------

impl ChannelsDoc {
    /// The document with every secret replaced by [`HIDDEN`] (what is shown and logged).
    pub fn redacted(&self) -> ChannelsDoc {
        let mut out = self.clone();
        for g in [&mut out.sms, &mut out.wechat, &mut out.phone]
            .into_iter()
            .flatten()
        {
            g.token = HIDDEN.to_string();
        }
        if let Some(e) = &mut out.email
            && !e.password.is_empty()
        {
            e.password = HIDDEN.to_string();
        }
        if out.webhook_secret.is_some() {
            out.webhook_secret = Some(HIDDEN.to_string());
        }
        out
    }

    /// Checks the document, naming the field at fault; a secret given as [`HIDDEN`] takes the
    /// one kept in `old`.
    fn checked(mut self, old: &ChannelsDoc) -> Result<ChannelsDoc, AppError> {
        let bad =
            |field: String, reason: &str| Err(AppError::Invalid(format!("{field}: {reason}")));
        for (name, g, before) in [
            ("sms", &mut self.sms, &old.sms),
            ("wechat", &mut self.wechat, &old.wechat),
            ("phone", &mut self.phone, &old.phone),
        ] {
            let Some(g) = g else { continue };
            if !(g.url.starts_with("http://") || g.url.starts_with("https://")) {
                return bad(format!("{name}.url"), "must be an http:// or https:// URL");
            }
            if g.token == HIDDEN {
                match before {
                    Some(b) => g.token.clone_from(&b.token),
                    None => return bad(format!("{name}.token"), "no token is kept to reuse"),
                }
            }
            if g.token.trim().is_empty() {
                return bad(format!("{name}.token"), "required");
            }
            for event in g.templates.keys() {
                if MessageEvent::parse(event).is_none() {
                    return bad(format!("{name}.templates.{event}"), "not an event");
                }
            }
            if !(1..=120).contains(&g.timeout_seconds) {
                return bad(format!("{name}.timeout_seconds"), "must be 1 to 120");
            }
        }
        if let Some(e) = &mut self.email {
            if !["none", "starttls", "tls"].contains(&e.tls.as_str()) {
                return bad("email.tls".into(), "must be none, starttls or tls");
            }
            if e.host.trim().is_empty() {
                return bad("email.host".into(), "required");
            }
            if !e.from.contains('@') {
                return bad("email.from".into(), "must hold an email address");
            }
            if e.password == HIDDEN {
                e.password = old
                    .email
                    .as_ref()
                    .map(|o| o.password.clone())
                    .unwrap_or_default();
            }
            if !(1..=120).contains(&e.timeout_seconds) {
                return bad("email.timeout_seconds".into(), "must be 1 to 120");
            }
        }
        if self.webhook_secret.as_deref() == Some(HIDDEN) {
            self.webhook_secret.clone_from(&old.webhook_secret);
        }
        if self.webhook_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return bad("webhook_secret".into(), "must be at least 16 characters");
        }
        Ok(self)
    }
}

/// The channels' connections, secrets included (for the adapters only: never shown).
pub async fn channels_in(tx: &mut Tx) -> Result<ChannelsDoc, AppError> {
    match tx.setting(CHANNELS_SETTING).await? {
        None => Ok(ChannelsDoc::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("channels", e)),
    }
}

/// The channels' connections with their secrets (for the binary's adapters).
pub async fn load_channels(store: &Store) -> Result<ChannelsDoc, AppError> {
    let mut tx = store.begin().await?;
    let doc = channels_in(&mut tx).await?;
    tx.rollback().await?;
    Ok(doc)
}

/// The channels' connections as shown: secrets hidden (administrators).
pub async fn show_channels(store: &Store, actor: &Actor) -> Result<ChannelsDoc, AppError> {
    actor.require(Role::sets_contact_rules, "read the channels' connections")?;
    Ok(load_channels(store).await?.redacted())
}

/// Replaces the channels' connections (JSON); a secret sent back hidden keeps the one kept.
/// Returns the document as shown.
pub async fn set_channels(
    store: &Store,
    actor: &Actor,
    document: &str,
) -> Result<ChannelsDoc, AppError> {
    actor.require(Role::sets_contact_rules, "change the channels' connections")?;
    let doc: ChannelsDoc =
        serde_json::from_str(document).map_err(|e| AppError::Invalid(format!("channels: {e}")))?;
    let mut tx = store.begin().await?;
    let doc = doc.checked(&channels_in(&mut tx).await?)?;
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| AppError::Invalid(format!("channels: {e}")))?;
    tx.set_setting(CHANNELS_SETTING, &text).await?;
    tx.commit().await?;
    Ok(doc.redacted())
}

// ----- messages written with their events ----------------------------------------------------

/// A message an event of the close calls for: the loan, the event and its figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub loan_id: LoanId,
    pub event: MessageEvent,
    pub figures: Figures,
}

impl Notice {
    /// The message a loan's event of `date` calls for: a reminder before or on the due date, or
    /// the notice of an installment overdue.
    pub fn of_event(loan_id: LoanId, date: Date, event: &LoanEvent) -> Option<Notice> {
        let (event, figures) = match *event {
            LoanEvent::ReminderDue {
                due_date,
                days_before,
                amount,
                ..
            } => (
                if days_before == 0 {
                    MessageEvent::ReminderDue
                } else {
                    MessageEvent::ReminderBefore
                },
                Figures {
                    amount: Some(amount),
                    date: Some(due_date),
                    days: Some(i64::from(days_before)),
                    decision: None,
                },
            ),
            LoanEvent::InstallmentOverdue {
                due_date, amount, ..
            } => (
                MessageEvent::OverdueNotice,
                Figures {
                    amount: Some(amount),
                    date: Some(due_date),
                    days: Some((date - due_date).num_days()),
                    decision: None,
                },
            ),
            _ => return None,
        };
        Some(Notice {
            loan_id,
            event,
            figures,
        })
    }
}

/// What the messages of one business day are written with: the rules, when they are due (the
/// day's contact hours open) and when they were written.
#[derive(Debug, Clone)]
pub struct Outgoing {
    rules: NotifyRules,
    day: Date,
    due_at: String,
    created_at: String,
}

impl Outgoing {
    /// The messages of `day`: due when its contact hours open.
    pub async fn load(tx: &mut Tx, day: Date) -> Result<Outgoing, AppError> {
        let contact = crate::contact::rules_in(tx).await?;
        let opens = contact.day_bounds(day).0 + Duration::minutes(i64::from(contact.from_minute));
        Ok(Outgoing {
            rules: rules_in(tx).await?,
            day,
            due_at: stamp(opens.and_utc()),
            created_at: stamp(Utc::now()),
        })
    }

    /// Writes the messages of these notices, one per channel of their event, in the caller's
    /// transaction (the event's). A message already written (its key) is not written again.
    pub async fn write(&self, tx: &mut Tx, notices: &[Notice]) -> Result<u64, AppError> {
        let mut messages = Vec::new();
        for n in notices {
            for c in self.rules.channels(n.event) {
                let on = n.figures.date.unwrap_or(self.day);
                messages.push(NewMessage {
                    key: format!("{}:{}:{on}:{}", n.event.as_str(), n.loan_id, c.as_str()),
                    event: n.event.as_str().to_string(),
                    channel: c.as_str().to_string(),
                    loan_id: n.loan_id,
                    task_id: None,
                    user_id: None,
                    amount_fen: n.figures.amount.map(Money::fen),
                    on_date: n.figures.date,
                    days: n.figures.days,
                    detail: n.figures.decision.map(|k| k.as_str().to_string()),
                    due_at: self.due_at.clone(),
                    business_date: self.day,
                    created_at: self.created_at.clone(),
                });
            }
        }
        Ok(tx.insert_messages(&messages).await?)
    }
}

/// Writes the confirmation of a promise to pay (`amount` by `due_on`) recorded by interaction
/// `interaction` at `at` (in its transaction): due from then, held by the worker to the contact
/// hours.
pub(crate) async fn confirm_promise(
    tx: &mut Tx,
    loan_id: LoanId,
    interaction: i64,
    (amount, due_on): (Money, Date),
    at: DateTime<Utc>,
    date: Date,
) -> Result<(), AppError> {
    let rules = rules_in(tx).await?;
    let now = stamp(at);
    let event = MessageEvent::PromiseConfirmation;
    let messages: Vec<NewMessage> = rules
        .channels(event)
        .iter()
        .map(|c| NewMessage {
            key: format!("{}:{interaction}:{}", event.as_str(), c.as_str()),
            event: event.as_str().to_string(),
            channel: c.as_str().to_string(),
            loan_id,
            task_id: None,
            user_id: None,
            amount_fen: Some(amount.fen()),
            on_date: Some(due_on),
            days: None,
            detail: None,
            due_at: now.clone(),
            business_date: date,
            created_at: now.clone(),
        })
        .collect();
    tx.insert_messages(&messages).await?;
    Ok(())
}

/// Writes the notice of a decision applied to a loan (`kind` effective `on`), in the decision's
/// transaction: for the operations a borrower is told of.
pub(crate) async fn notify_decision(
    tx: &mut Tx,
    loan_id: LoanId,
    kind: huifang_core::loan::OpKind,
    on: Date,
    date: Date,
) -> Result<(), AppError> {
    if huifang_core::template::decision_words(kind, Lang::Zh).is_none() {
        return Ok(());
    }
    let notice = Notice {
        loan_id,
        event: MessageEvent::DecisionNotice,
        figures: Figures {
            date: Some(on),
            decision: Some(kind),
            ..Figures::default()
        },
    };
    Outgoing::load(tx, date).await?.write(tx, &[notice]).await?;
    Ok(())
}

/// Asks the telephony provider to call the borrower of a task for the agent: the contact rules
/// are checked now (a refusal is kept and answered with its rule), and the call is written to
/// the outbox, placed by the worker; its events come back on the callback.
pub async fn place_call(
    store: &Store,
    actor: &Actor,
    task_id: TaskId,
    key: &str,
) -> Result<CallView, AppError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 200 {
        return Err(AppError::Field {
            field: "idempotency_key",
            reason: "required, 1 to 200 characters".into(),
        });
    }
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    let placed = async {
        let task = crate::team::load_task(&mut tx, task_id).await?;
        crate::team::authorize_task(&mut tx, actor, &task, huifang_core::team::Access::Work)
            .await?;
        if !task.state.is_open() {
            return Err(AppError::Conflict(format!(
                "task {task_id} is {}: no call is placed on it",
                task.state
            )));
        }
        let now = Utc::now();
        crate::contact::guard(&mut tx, actor, &task, Channel::Phone, now, date).await?;
        let key = format!("{CALL_EVENT}:{task_id}:{key}");
        tx.insert_messages(&[NewMessage {
            key: key.clone(),
            event: CALL_EVENT.to_string(),
            channel: Channel::Phone.as_str().to_string(),
            loan_id: task.task.loan_id,
            task_id: Some(task_id),
            user_id: Some(actor.id()),
            amount_fen: None,
            on_date: None,
            days: None,
            detail: None,
            due_at: stamp(now),
            business_date: date,
            created_at: stamp(now),
        }])
        .await?;
        let id = tx
            .message_by_key(&key)
            .await?
            .map(|m| m.id)
            .ok_or_else(|| AppError::Conflict(format!("call {key} was not written")))?;
        Ok(CallView {
            message_id: id,
            task_id: task_id.get(),
            idempotency_key: key,
        })
    }
    .await;
    match placed {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(crate::contact::keep_refusal(store, e).await)
        }
    }
}

// ----- the worker's pass ---------------------------------------------------------------------

/// How a worker's pass claims and sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Messages claimed per pass.
    pub batch: usize,
    /// How long the claimed messages are held before another worker may take them.
    pub lease: Duration,
    /// Messages handed to providers at once.
    pub concurrency: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            batch: 500,
            lease: Duration::seconds(120),
            concurrency: 32,
        }
    }
}

/// A message being handed to its provider: its place in the batch and what the provider said.
type Sending<'a> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = (usize, Result<String, crate::ports::PortError>)>
            + Send
            + 'a,
    >,
>;

/// What the contact rules make of a claimed message.
enum Verdict {
    Send(OutgoingMessage),
    Hold(NaiveDateTime),
    Refuse(contact::Blocked),
    /// It cannot be sent at all (no address on the channel, a template that does not render).
    Undeliverable(String),
}

/// One pass of the delivery worker at `now`: claims the due messages of the channels `courier`
/// delivers, checks each against the contact rules (outside the hours it waits for them to open,
/// its attempt not counted; a refusal is kept with its rule), renders and hands the rest to their
/// providers, and records the result of each: sent with the provider's id, or failed and tried
/// again after a backoff (`jitter` draws its random part, 0..1000), or dead-lettered.
pub async fn deliver_once<C: Courier>(
    store: &Store,
    courier: &C,
    now: DateTime<Utc>,
    options: DeliveryOptions,
    mut jitter: impl FnMut() -> u32,
) -> Result<DeliveryView, AppError> {
    let channels: Vec<&str> = courier.channels().iter().map(|c| c.as_str()).collect();
    if channels.is_empty() {
        return Ok(DeliveryView::default()); // nothing configured: nothing to claim
    }
    let now_text = stamp(now);
    let mut tx = store.begin().await?;
    let claimed = tx
        .claim_messages(
            &now_text,
            &stamp(now + options.lease),
            &channels,
            options.batch,
        )
        .await?;
    tx.commit().await?;
    let mut report = DeliveryView {
        claimed: to_u64(claimed.len()),
        ..DeliveryView::default()
    };
    if claimed.is_empty() {
        return Ok(report);
    }
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    let contact_rules = crate::contact::rules_in(&mut tx).await?;
    let rules = rules_in(&mut tx).await?;
    let templates = tx.message_templates().await?;
    let mut standing = standings(&mut tx, &contact_rules, &claimed, now.naive_utc()).await?;
    tx.rollback().await?;

    let mut verdicts = Vec::with_capacity(claimed.len());
    for m in &claimed {
        let s = standing.entry(m.borrower_id).or_default();
        let verdict = judge(m, &contact_rules, &rules, &templates, s, now.naive_utc());
        if let Verdict::Send(o) = &verdict {
            s.today.push((o.channel, Purpose::Service, false));
        }
        verdicts.push(verdict);
    }
    let sends: Vec<(usize, &OutgoingMessage)> = verdicts
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Verdict::Send(o) => Some((i, o)),
            _ => None,
        })
        .collect();
    // the futures are made before they are streamed: a stream that makes them with a closure
    // over these borrows is not `Send` (the worker runs on a spawned task in `huifang serve`)
    let sending: Vec<Sending<'_>> = sends
        .into_iter()
        .map(|(i, o)| -> Sending<'_> { Box::pin(async move { (i, courier.send(o).await) }) })
        .collect();
    let results: HashMap<usize, Result<String, crate::ports::PortError>> = stream::iter(sending)
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;

    // the pass's time (the messages' sending time, as the caps count it)
    let done = now_text.clone();
    let mut updates = Vec::with_capacity(claimed.len());
    let mut refusals = Vec::new();
    for (i, (m, verdict)) in claimed.iter().zip(verdicts).enumerate() {
        let mut u = MessageUpdate {
            id: m.id,
            state: m.state,
            attempts: m.attempts,
            due_at: m.message.due_at.clone(),
            provider_id: None,
            last_error: String::new(),
            sent_at: None,
            finished_at: None,
        };
        match verdict {
            Verdict::Hold(at) => {
                report.held += 1;
                u.attempts -= 1; // waiting for the hours is not an attempt
                u.due_at = stamp(at.and_utc());
                u.last_error = m.last_error.clone();
            }
            Verdict::Refuse(b) => {
                report.blocked += 1;
                u.state = MessageState::Blocked;
                u.last_error = format!("{}: {}", b.rule(), b.reason(&contact_rules));
                u.finished_at = Some(done.clone());
                refusals.push(BlockedContact {
                    loan_id: m.message.loan_id,
                    task_id: m.message.task_id,
                    user_id: m.message.user_id,
                    channel: m.message.channel.clone(),
                    rule: b.rule().to_string(),
                    reason: b.reason(&contact_rules),
                    attempted_at: now_text.clone(),
                    business_date: date,
                });
            }
            Verdict::Undeliverable(why) => {
                report.dead += 1;
                u.state = MessageState::Dead;
                u.last_error = why;
                u.finished_at = Some(done.clone());
            }
            Verdict::Send(_) => match results.get(&i) {
                Some(Ok(provider_id)) => {
                    report.sent += 1;
                    u.state = MessageState::Sent;
                    u.provider_id = Some(provider_id.clone());
                    u.sent_at = Some(done.clone());
                }
                Some(Err(e)) => {
                    let attempts = u32::try_from(m.attempts).unwrap_or(u32::MAX);
                    let (state, next) = if e.failure == Failure::Unreachable {
                        rules.after_failure(attempts, now.naive_utc(), jitter())
                    } else {
                        (MessageState::Dead, now.naive_utc())
                    };
                    u.state = state;
                    u.due_at = stamp(next.and_utc());
                    u.last_error = e.to_string();
                    if state == MessageState::Dead {
                        report.dead += 1;
                        u.finished_at = Some(done.clone());
                    } else {
                        report.failed += 1;
                    }
                }
                None => {
                    return Err(AppError::Invalid(format!(
                        "message {} was sent but its result was lost",
                        m.id
                    )));
                }
            },
        }
        updates.push(u);
    }
    let mut tx = store.begin().await?;
    tx.update_messages(&updates).await?;
    for r in &refusals {
        tx.insert_blocked_contact(r).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// What the contact rules know of the borrowers of these messages: their opt-outs and the
/// contacts they had this local day (messages sent, contacts recorded).
async fn standings(
    tx: &mut Tx,
    rules: &ContactRules,
    messages: &[MessageRecord],
    now: NaiveDateTime,
) -> Result<HashMap<BorrowerId, Standing>, AppError> {
    let mut borrowers: Vec<BorrowerId> = messages.iter().map(|m| m.borrower_id).collect();
    borrowers.sort_unstable();
    borrowers.dedup();
    let mut out: HashMap<BorrowerId, Standing> = HashMap::new();
    for (b, channel) in tx.opt_outs_of(&borrowers).await? {
        out.entry(b).or_default().add_opt_out(&channel);
    }
    let (from, until) = rules.day_bounds(rules.local(now).date());
    for (b, channel) in tx
        .contacts_in_span(&borrowers, &stamp(from.and_utc()), &stamp(until.and_utc()))
        .await?
    {
        if let Ok(c) = Channel::from_str(&channel) {
            out.entry(b)
                .or_default()
                .today
                .push((c, Purpose::Service, false));
        }
    }
    Ok(out)
}

/// The contact rules' verdict on a message, and the message as its provider gets it.
fn judge(
    m: &MessageRecord,
    contact_rules: &ContactRules,
    rules: &NotifyRules,
    templates: &[huifang_store::StoredTemplate],
    standing: &Standing,
    now: NaiveDateTime,
) -> Verdict {
    let Ok(channel) = Channel::from_str(&m.message.channel) else {
        return Verdict::Undeliverable(format!("unknown channel {}", m.message.channel));
    };
    let event = MessageEvent::parse(&m.message.event);
    let purpose = match event {
        Some(e) => rules::purpose_of(e),
        None => Purpose::Service, // a call: its purpose was checked when the agent placed it
    };
    let attempt = Attempt {
        at: now,
        channel,
        purpose,
    };
    // a call's caps were checked when it was placed: only the hours and the opt-outs here
    let checked = if event.is_none() {
        Standing {
            today: Vec::new(),
            ..standing.clone()
        }
    } else {
        standing.clone()
    };
    match contact::check(contact_rules, &attempt, &checked) {
        Ok(()) => {}
        Err(contact::Blocked::OutsideHours { resume_at }) => return Verdict::Hold(resume_at),
        Err(b) => return Verdict::Refuse(b),
    }
    let to = match channel {
        Channel::Sms | Channel::Phone => Some(m.mobile.clone()),
        _ => m.address.clone(),
    };
    let Some(to) = to.filter(|t| !t.trim().is_empty()) else {
        return Verdict::Undeliverable(format!("the borrower has no {} address", channel.as_str()));
    };
    let (subject, body, fields) = match event {
        // an agent's call says nothing; the assistant's prompt is its text
        None => (
            String::new(),
            m.message.detail.clone().unwrap_or_default(),
            BTreeMap::new(),
        ),
        Some(event) => {
            let figures = Figures {
                amount: m.message.amount_fen.map(Money::from_fen),
                date: m.message.on_date,
                days: m.message.days,
                decision: m.message.detail.as_deref().and_then(|d| d.parse().ok()),
            };
            let values = event.values(&m.borrower_name, &m.loan_external_id, &figures, rules.lang);
            let key = TemplateKey {
                event,
                lang: rules.lang,
                channel,
            };
            if !MESSAGE_CHANNELS.contains(&channel) {
                return Verdict::Undeliverable(format!("no messages go by {}", channel.as_str()));
            }
            let (template, _) = in_force(templates, key);
            match template.render(&values) {
                Ok(t) => (
                    t.subject,
                    t.body,
                    values
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                ),
                Err(e) => return Verdict::Undeliverable(format!("template: {e}")),
            }
        }
    };
    Verdict::Send(OutgoingMessage {
        id: m.id,
        idempotency_key: m.message.key.clone(),
        channel,
        event: m.message.event.clone(),
        to,
        subject,
        body,
        fields,
        task_id: m.message.task_id.map(TaskId::get),
        agent: m.username.clone(),
    })
}

// ----- reading and retrying ------------------------------------------------------------------

impl From<MessageRecord> for MessageView {
    fn from(m: MessageRecord) -> Self {
        MessageView {
            id: m.id,
            idempotency_key: m.message.key,
            event: m.message.event,
            channel: m.message.channel,
            loan: m.loan_external_id,
            task_id: m.message.task_id.map(TaskId::get),
            user: m.username,
            state: m.state.as_str().to_string(),
            attempts: m.attempts,
            due_at: m.message.due_at,
            provider_id: m.provider_id,
            last_error: m.last_error,
            business_date: m.message.business_date.to_string(),
            created_at: m.message.created_at,
            sent_at: m.sent_at,
            finished_at: m.finished_at,
        }
    }
}

/// Messages, newest first: filtered by state, channel and loan, `limit` a page (at most
/// [`MAX_PAGE`]), after `before` (the previous page's `next_before`).
pub async fn list(
    store: &Store,
    actor: &Actor,
    state: Option<&str>,
    channel: Option<&str>,
    loan: Option<&str>,
    before: Option<i64>,
    limit: usize,
) -> Result<MessagePage, AppError> {
    actor.require(Role::reads_loans, "read the messages")?;
    let state = state
        .map(|s| {
            MessageState::parse(s).ok_or_else(|| AppError::Field {
                field: "state",
                reason: format!(
                    "{s:?} is not one of queued, sent, delivered, failed, dead, blocked"
                ),
            })
        })
        .transpose()?;
    if let Some(c) = channel {
        parse_channel("channel", c)?;
    }
    let limit = limit.clamp(1, MAX_PAGE);
    let mut tx = store.begin().await?;
    let loan_id = match loan {
        Some(l) => Some(crate::loans::loan_id(&mut tx, l).await?),
        None => None,
    };
    let messages = tx
        .messages(&MessageFilter {
            state,
            channel: channel.map(str::to_string),
            loan_id,
            before_id: before,
            limit,
        })
        .await?;
    tx.rollback().await?;
    let next_before = (messages.len() == limit)
        .then(|| messages.last().map(|m| m.id))
        .flatten();
    Ok(MessagePage {
        messages: messages.into_iter().map(MessageView::from).collect(),
        next_before,
    })
}

/// Puts a failed, dead-lettered or refused message back in the queue, due now, its attempts
/// counted afresh (its idempotency key unchanged: a provider that had it does not send it twice).
pub async fn retry(store: &Store, actor: &Actor, id: i64) -> Result<MessageView, AppError> {
    actor.require(Role::sets_contact_rules, "send a message again")?;
    let mut tx = store.begin().await?;
    if !tx.requeue_message(id, &stamp(Utc::now())).await? {
        let m = tx.message(id).await?.ok_or_else(|| AppError::NotFound {
            what: "message",
            id: id.to_string(),
        })?;
        return Err(AppError::Conflict(format!(
            "message {id} is {}: only failed, dead or blocked messages are sent again",
            m.state.as_str()
        )));
    }
    let m = tx.message(id).await?.ok_or_else(|| AppError::NotFound {
        what: "message",
        id: id.to_string(),
    })?;
    tx.commit().await?;
    Ok(MessageView::from(m))
}

/// Messages per channel and event by state.
pub async fn report(store: &Store, actor: &Actor) -> Result<Vec<NotifyReportRow>, AppError> {
    actor.require(Role::reads_loans, "read the messages' report")?;
    let mut tx = store.begin().await?;
    let counts = tx.message_counts().await?;
    tx.rollback().await?;
    let mut rows: BTreeMap<(String, String), NotifyReportRow> = BTreeMap::new();
    for (channel, event, state, n) in counts {
        let row = rows
            .entry((channel.clone(), event.clone()))
            .or_insert_with(|| NotifyReportRow {
                channel,
                event,
                queued: 0,
                sent: 0,
                delivered: 0,
                failed: 0,
                dead: 0,
                blocked: 0,
            });
        match MessageState::parse(&state) {
            Some(MessageState::Queued) => row.queued += n,
            Some(MessageState::Sent) => row.sent += n,
            Some(MessageState::Delivered) => row.delivered += n,
            Some(MessageState::Failed) => row.failed += n,
            Some(MessageState::Dead) => row.dead += n,
            Some(MessageState::Blocked) => row.blocked += n,
            None => return Err(corrupt("message state", state)),
        }
    }
    Ok(rows.into_values().collect())
}

// ----- providers' callbacks ------------------------------------------------------------------

/// A provider's callback: what happened to messages and calls, and what borrowers replied.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackBody {
    events: Vec<CallbackEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum CallbackEvent {
    /// A message's delivery receipt: delivered, or failed.
    Receipt {
        id: String,
        status: String,
        #[serde(default)]
        detail: String,
    },
    /// A call's event: ringing, answered, or hangup (with its duration and recording).
    Call {
        id: String,
        event: String,
        #[serde(default)]
        duration_seconds: i64,
        #[serde(default)]
        recording: String,
        /// When it happened (RFC 3339); default: when it arrived.
        #[serde(default)]
        at: Option<String>,
    },
    /// A borrower's reply to a message.
    Reply { from: String, text: String },
}

type HmacSha256 = Hmac<Sha256>;

/// The signature of a callback: lowercase hex HMAC-SHA256, keyed with the shared secret, of
/// `"{timestamp}.{body}"`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn unauthenticated(why: &str) -> AppError {
    AppError::Unauthenticated(format!("callback refused: {why}"))
}

/// Checks a callback's signature and timestamp against the secret, in constant time.
pub(crate) fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| unauthenticated("the timestamp is not a number of seconds"))?;
    if (now.timestamp() - ts).abs() > CALLBACK_TOLERANCE_SECONDS {
        return Err(unauthenticated("the timestamp is stale"));
    }
    let given =
        hex::decode(signature.trim()).map_err(|_| unauthenticated("the signature is not hex"))?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.trim().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| unauthenticated("bad signature"))
}

/// Takes a provider's signed callback on `channel` (sms, wechat, email, phone): a bad or
/// missing signature, a timestamp more than [`CALLBACK_TOLERANCE_SECONDS`] away, or a replay
/// is refused ([`AppError::Unauthenticated`]) and records nothing. Receipts move their messages
/// to delivered (or dead); a call's hangup becomes an interaction on its task, by the agent who
/// placed it (reached when answered, no answer otherwise); a reply "TD" / "退订" opts the
/// borrower out of the channel at once. All in one transaction.
pub async fn callback(
    store: &Store,
    channel: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<CallbackView, AppError> {
    let channel = parse_channel("channel", channel)?;
    let mut tx = store.begin().await?;
    let secret = channels_in(&mut tx)
        .await?
        .webhook_secret
        .ok_or_else(|| unauthenticated("no webhook secret is configured"))?;
    verify(&secret, timestamp, signature, body, now)?;
    let parsed: CallbackBody = serde_json::from_slice(body)
        .map_err(|e| AppError::Invalid(format!("callback body: {e}")))?;
    let received = stamp(now);
    if !tx.accept_signature(signature.trim(), &received).await? {
        return Err(unauthenticated("replayed"));
    }
    // a reply's risk signals re-evaluate its loans: the close's state rows must not cross them;
    // a call's hangup or an answer to the assistant records a contact (receipts alone do not)
    if parsed
        .events
        .iter()
        .any(|e| !matches!(e, CallbackEvent::Receipt { .. }))
    {
        crate::lock_for_contacts(&mut tx).await?;
    } else {
        tx.lock_for_write().await?;
    }
    let date = require_business_date(&mut tx).await?;
    let mut view = CallbackView::default();
    let mut signals = Vec::new();
    for (i, event) in parsed.events.into_iter().enumerate() {
        match event {
            CallbackEvent::Receipt { id, status, detail } => {
                let Some(m) = tx.message_by_provider_id(channel.as_str(), &id).await? else {
                    view.unknown += 1;
                    continue;
                };
                let state = match status.as_str() {
                    "delivered" => MessageState::Delivered,
                    "failed" => MessageState::Dead,
                    other => {
                        return Err(AppError::Invalid(format!(
                            "events[{i}].status: {other:?} is not delivered or failed"
                        )));
                    }
                };
                tx.insert_receipt(m.id, &status, &detail, &received).await?;
                tx.update_messages(&[MessageUpdate {
                    id: m.id,
                    state,
                    attempts: m.attempts,
                    due_at: m.message.due_at.clone(),
                    provider_id: None,
                    last_error: if state == MessageState::Dead {
                        format!("provider: {detail}")
                    } else {
                        String::new()
                    },
                    sent_at: None,
                    finished_at: Some(received.clone()),
                }])
                .await?;
                view.receipts += 1;
            }
            CallbackEvent::Call {
                id,
                event,
                duration_seconds,
                recording,
                at,
            } => {
                let Some(m) = tx.message_by_provider_id(channel.as_str(), &id).await? else {
                    view.unknown += 1;
                    continue;
                };
                if !["ringing", "answered", "hangup"].contains(&event.as_str()) {
                    return Err(AppError::Invalid(format!(
                        "events[{i}].event: {event:?} is not ringing, answered or hangup"
                    )));
                }
                let detail = format!("duration={duration_seconds}s recording={recording}");
                tx.insert_receipt(m.id, &event, &detail, &received).await?;
                view.receipts += 1;
                let was_answered = tx
                    .receipts(m.id)
                    .await?
                    .iter()
                    .any(|(s, _, _)| s == "answered");
                if event == "hangup"
                    && m.message.event == CALL_EVENT
                    && record_call(
                        &mut tx,
                        &m,
                        was_answered,
                        duration_seconds,
                        &recording,
                        at,
                        date,
                    )
                    .await?
                {
                    view.interactions += 1;
                }
            }
            CallbackEvent::Reply { from, text } => {
                let opt_out = rules::is_opt_out_reply(&text);
                let Some(borrower) = tx.borrower_by_mobile(from.trim()).await? else {
                    if opt_out {
                        view.unknown += 1;
                    }
                    continue;
                };
                if !opt_out {
                    // an answer to the assistant's question, when the borrower is in a
                    // conversation on this channel
                    if crate::assistant::answer_chat(&mut tx, borrower, channel, &text, now).await?
                    {
                        view.assistant_answers += 1;
                        continue;
                    }
                    // what the borrower wrote, read for risk signals on their loans on the book
                    let found = crate::text::read_as(&format!("{channel} reply"), &text);
                    if found.is_empty() {
                        continue;
                    }
                    for loan in tx.active_loans_of_borrower(borrower).await? {
                        for (kind, value) in &found {
                            signals.push((loan, kind.clone(), value.clone(), date, None));
                            view.signals += 1;
                        }
                    }
                    continue;
                }
                let system = tx.system_user().await?;
                if tx
                    .insert_opt_out(&OptOut {
                        borrower_id: borrower,
                        channel: channel.as_str().to_string(),
                        since_on: date,
                        recorded_by: system,
                        note: format!(
                            "replied {:?} from {} at {received}",
                            text.trim(),
                            mask_mobile(&from)
                        ),
                    })
                    .await?
                {
                    view.opt_outs += 1;
                }
            }
        }
    }
    if !signals.is_empty() {
        let policy = crate::policy::load(store).await?;
        crate::engine::record_signals(&mut tx, &policy, date, &signals).await?;
    }
    tx.commit().await?;
    Ok(view)
}

/// A call's hangup as an interaction on its task, by the agent who placed it: reached when it
/// was answered, no answer otherwise, with its duration and recording. The call's key records it
/// once. A task closed meanwhile, or no longer the agent's to work, takes no interaction (the
/// call's events stay with the call): the provider's report is not refused for what happened
/// since. Returns whether an interaction was recorded.
async fn record_call(
    tx: &mut Tx,
    m: &MessageRecord,
    answered: bool,
    duration: i64,
    recording: &str,
    at: Option<String>,
    date: Date,
) -> Result<bool, AppError> {
    let (Some(task), Some(user)) = (m.message.task_id, m.message.user_id) else {
        return Err(AppError::Invalid(format!(
            "call {} has no task or agent",
            m.id
        )));
    };
    let user = tx
        .user_by_id(user)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "user",
            id: user.to_string(),
        })?;
    let actor = Actor::from_user(user)?;
    let input = crate::team::OutcomeInput {
        channel: Channel::Phone.as_str().to_string(),
        outcome: if answered { "reached" } else { "no_answer" }.to_string(),
        notes: format!(
            "call {}; recording {recording}",
            m.provider_id.clone().unwrap_or_default()
        ),
        duration_seconds: duration.max(0),
        idempotency_key: format!("{}:hangup", m.message.key),
        occurred_at: at,
        ..crate::team::OutcomeInput::default()
    };
    // the checks come before anything is written: a refusal leaves the transaction as it was
    match crate::team::record_call_in(tx, &actor, task, &input, date).await {
        Ok(r) => Ok(r.new),
        Err(AppError::Conflict(_) | AppError::Forbidden(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_with_the_secret_the_body_and_a_fresh_timestamp() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ts = now.timestamp().to_string();
        let body = br#"{"events":[]}"#;
        let sig = sign("a shared secret 0123", &ts, body);
        assert!(verify("a shared secret 0123", &ts, &sig, body, now).is_ok());
        assert!(verify("another secret 01234", &ts, &sig, body, now).is_err());
        assert!(verify("a shared secret 0123", &ts, &sig, b"{}", now).is_err());
        let late = now + Duration::seconds(CALLBACK_TOLERANCE_SECONDS + 1);
        assert!(verify("a shared secret 0123", &ts, &sig, body, late).is_err());
        assert!(verify("a shared secret 0123", &ts, "zz", body, now).is_err());
    }
}

//! Message templates (DOMAIN.md capability 6): the lender's text per event, language and
//! channel, or the core's default; set by the administrator (checked by the core: the event's
//! fields only, a subject on email only); previewed with a loan's facts, its number masked.

use std::str::FromStr;

use huifang_core::outcome::Channel;
use huifang_core::policy::Policy;
use huifang_core::template::{
    Figures, Lang, MESSAGE_CHANNELS, MessageEvent, Template, decision_words,
};
use huifang_store::{Store, StoredTemplate};

use crate::team::{Actor, Role};
use crate::views::{RenderedView, TemplateView};
use crate::{AppError, loans, require_business_date};

/// An event, language and channel, parsed from their names (a refusal names the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateKey {
    pub event: MessageEvent,
    pub lang: Lang,
    pub channel: Channel,
}

impl TemplateKey {
    pub fn parse(event: &str, lang: &str, channel: &str) -> Result<TemplateKey, AppError> {
        let names =
            |all: &mut dyn Iterator<Item = &'static str>| all.collect::<Vec<_>>().join(", ");
        let event = MessageEvent::parse(event).ok_or_else(|| AppError::Field {
            field: "event",
            reason: format!(
                "{event:?} is not one of {}",
                names(&mut MessageEvent::ALL.iter().map(|e| e.as_str()))
            ),
        })?;
        let lang = Lang::parse(lang).ok_or_else(|| AppError::Field {
            field: "lang",
            reason: format!("{lang:?} is not zh or en"),
        })?;
        let channel = Channel::from_str(channel)
            .ok()
            .filter(|c| MESSAGE_CHANNELS.contains(c))
            .ok_or_else(|| AppError::Field {
                field: "channel",
                reason: format!("{channel:?} is not sms, wechat or email"),
            })?;
        Ok(TemplateKey {
            event,
            lang,
            channel,
        })
    }

    fn view(self, t: &Template, set_on: Option<String>) -> TemplateView {
        TemplateView {
            event: self.event.as_str().to_string(),
            lang: self.lang.as_str().to_string(),
            channel: self.channel.as_str().to_string(),
            subject: t.subject.clone(),
            body: t.body.clone(),
            fields: self
                .event
                .fields()
                .iter()
                .map(|f| (*f).to_string())
                .collect(),
            set_on,
        }
    }

    fn is(self, s: &StoredTemplate) -> bool {
        s.event == self.event.as_str()
            && s.lang == self.lang.as_str()
            && s.channel == self.channel.as_str()
    }
}

/// The template in force for `key` among the stored ones, and the date the lender set it
/// (none: the default).
pub(crate) fn in_force(stored: &[StoredTemplate], key: TemplateKey) -> (Template, Option<String>) {
    match stored.iter().find(|s| key.is(s)) {
        Some(s) => (
            Template {
                subject: s.subject.clone(),
                body: s.body.clone(),
            },
            Some(s.set_on.to_string()),
        ),
        None => (
            Template::default_for(key.event, key.lang, key.channel),
            None,
        ),
    }
}

/// The stored templates.
async fn stored(store: &Store) -> Result<Vec<StoredTemplate>, AppError> {
    let mut tx = store.begin().await?;
    let stored = tx.message_templates().await?;
    tx.rollback().await?;
    Ok(stored)
}

/// Every template in force: each event, language and channel.
pub async fn list(store: &Store) -> Result<Vec<TemplateView>, AppError> {
    let stored = stored(store).await?;
    let mut out = Vec::new();
    for event in MessageEvent::ALL {
        for lang in Lang::ALL {
            for channel in MESSAGE_CHANNELS {
                let key = TemplateKey {
                    event,
                    lang,
                    channel,
                };
                let (t, set_on) = in_force(&stored, key);
                out.push(key.view(&t, set_on));
            }
        }
    }
    Ok(out)
}

/// The template in force for one event, language and channel.
pub async fn show(store: &Store, key: TemplateKey) -> Result<TemplateView, AppError> {
    let (t, set_on) = in_force(&stored(store).await?, key);
    Ok(key.view(&t, set_on))
}

/// Sets the lender's template for `key` (the administrator); a refusal names the part and the
/// field at fault and changes nothing.
pub async fn set(
    store: &Store,
    actor: &Actor,
    key: TemplateKey,
    subject: &str,
    body: &str,
) -> Result<TemplateView, AppError> {
    actor.require(Role::sets_templates, "change the message templates")?;
    let t = Template {
        subject: subject.trim().to_string(),
        body: body.trim().to_string(),
    };
    t.validate(key.event, key.channel)
        .map_err(|e| AppError::Invalid(format!("template {}: {e}", key.event.as_str())))?;
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    tx.put_message_template(&StoredTemplate {
        event: key.event.as_str().to_string(),
        lang: key.lang.as_str().to_string(),
        channel: key.channel.as_str().to_string(),
        subject: t.subject.clone(),
        body: t.body.clone(),
        set_on: date,
        set_by: actor.id(),
    })
    .await?;
    tx.commit().await?;
    Ok(key.view(&t, Some(date.to_string())))
}

/// The message `key` would send about a loan today: its borrower's name, its number masked,
/// and the event's facts (the next installment, what is overdue, the latest promise, the latest
/// decision a borrower is told of).
pub async fn preview(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    key: TemplateKey,
    loan: &str,
) -> Result<RenderedView, AppError> {
    actor.require(Role::reads_loans, "preview messages about a loan")?;
    let view = loans::view(store, policy, loan).await?;
    let (template, _) = in_force(&stored(store).await?, key);
    let mut tx = store.begin().await?;
    let borrower_id = view.loan.loan.borrower_external_id.clone();
    // the name only for those who may read the borrower's personal data
    let name = match tx.borrower_card(&borrower_id).await? {
        Some(b) => {
            match crate::team::authorize_borrower(&mut tx, actor, b.id, &b.external_id).await {
                Ok(()) => b.name,
                Err(_) => "***".to_string(),
            }
        }
        None => String::new(),
    };
    let promises = tx.promise_states(Some(view.loan.id)).await?;
    tx.rollback().await?;
    let today = view.business_date;
    let unpaid = |due: huifang_core::Date| due >= today;
    let next = view
        .installments
        .iter()
        .filter(|i| i.paid_off_on.is_none())
        .find(|i| unpaid(i.due_date))
        .or_else(|| view.installments.iter().find(|i| i.paid_off_on.is_none()));
    let figures = match key.event {
        MessageEvent::OverdueNotice => {
            let since = view
                .status
                .oldest_unpaid_due
                .ok_or_else(|| AppError::Conflict(format!("loan {loan} is not overdue")))?;
            Figures {
                amount: Some(view.status.overdue_amount),
                date: Some(since),
                days: Some(i64::from(view.status.dpd)),
                decision: None,
            }
        }
        MessageEvent::PromiseConfirmation => {
            let p = promises
                .last()
                .ok_or_else(|| AppError::Conflict(format!("loan {loan} has no promise to pay")))?;
            Figures {
                amount: Some(p.amount),
                date: Some(p.due_on),
                days: None,
                decision: None,
            }
        }
        MessageEvent::DecisionNotice => {
            let op = view
                .ops
                .iter()
                .rev()
                .find(|o| decision_words(o.op.op.kind(), key.lang).is_some())
                .ok_or_else(|| AppError::Conflict(format!("loan {loan} has no decision")))?;
            Figures {
                date: Some(op.op.on),
                decision: Some(op.op.op.kind()),
                ..Figures::default()
            }
        }
        MessageEvent::ReminderBefore | MessageEvent::ReminderDue | MessageEvent::Welcome => {
            let i = next.ok_or_else(|| {
                AppError::Conflict(format!("loan {loan} has no installment left to pay"))
            })?;
            Figures {
                amount: Some(i.principal_left() + i.interest_left()),
                date: Some(i.due_date),
                days: Some((i.due_date - today).num_days().max(0)),
                decision: None,
            }
        }
    };
    let values = key
        .event
        .values(&name, &view.loan.loan.external_id, &figures, key.lang);
    let m = template
        .render(&values)
        .map_err(|e| AppError::Invalid(format!("template {}: {e}", key.event.as_str())))?;
    Ok(RenderedView {
        event: key.event.as_str().to_string(),
        lang: key.lang.as_str().to_string(),
        channel: key.channel.as_str().to_string(),
        subject: m.subject,
        body: m.body,
    })
}

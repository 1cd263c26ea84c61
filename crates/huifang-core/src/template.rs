//! Message templates (DOMAIN.md capability 6): per event, language and channel, with the fields
//! each event fills (`{name}`, `{amount}`, …), DOMAIN.md's default texts, and rendering that
//! refuses a field the event does not have. Loan numbers in messages are masked.

use std::collections::BTreeMap;

use crate::loan::OpKind;
use crate::outcome::Channel;
use crate::{Date, Money};

/// What a message is sent for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum MessageEvent {
    /// 还款提醒: days before a due date (3 by default).
    ReminderBefore,
    /// 还款提醒: on the due date.
    ReminderDue,
    /// 逾期通知: an installment is overdue.
    OverdueNotice,
    /// 承诺还款确认: a promise to pay was recorded.
    PromiseConfirmation,
    /// 欢迎: the loan was disbursed.
    Welcome,
    /// 还款安排变更: a decision changed the loan (a deferral, a payment holiday, a restructure,
    /// early settlement, acceleration).
    DecisionNotice,
}

impl MessageEvent {
    pub const ALL: [MessageEvent; 6] = [
        MessageEvent::ReminderBefore,
        MessageEvent::ReminderDue,
        MessageEvent::OverdueNotice,
        MessageEvent::PromiseConfirmation,
        MessageEvent::Welcome,
        MessageEvent::DecisionNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageEvent::ReminderBefore => "reminder_before",
            MessageEvent::ReminderDue => "reminder_due",
            MessageEvent::OverdueNotice => "overdue_notice",
            MessageEvent::PromiseConfirmation => "promise_confirmation",
            MessageEvent::Welcome => "welcome",
            MessageEvent::DecisionNotice => "decision_notice",
        }
    }

    /// The event of a name, if it is one.
    pub fn parse(s: &str) -> Option<MessageEvent> {
        MessageEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The fields a template of this event may use.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            MessageEvent::ReminderBefore => &["name", "loan", "amount", "due_date", "days"],
            MessageEvent::ReminderDue | MessageEvent::Welcome => {
                &["name", "loan", "amount", "due_date"]
            }
            MessageEvent::OverdueNotice => &["name", "loan", "amount", "due_date", "days_overdue"],
            MessageEvent::PromiseConfirmation => {
                &["name", "loan", "promise_amount", "promise_date"]
            }
            MessageEvent::DecisionNotice => &["name", "loan", "decision", "due_date"],
        }
    }
}

/// The figures a message carries besides the borrower's name and the loan's number: an amount
/// (the installment, what is overdue, or the promise), a date (the due date or the promise's
/// date) and a number of days (before the due date, or overdue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    pub amount: Option<Money>,
    pub date: Option<Date>,
    pub days: Option<i64>,
    /// The operation a decision applied (a decision notice).
    pub decision: Option<OpKind>,
}

/// A decision as a borrower reads it, in the message's language; none for the operations a
/// borrower is not told of (a write-off, a classification).
pub fn decision_words(kind: OpKind, lang: Lang) -> Option<&'static str> {
    Some(match (kind, lang) {
        (OpKind::Defer, Lang::Zh) => "展期",
        (OpKind::Defer, Lang::En) => "a deferral",
        (OpKind::PaymentHoliday, Lang::Zh) => "还款假期",
        (OpKind::PaymentHoliday, Lang::En) => "a payment holiday",
        (OpKind::Restructure, Lang::Zh) => "贷款重组",
        (OpKind::Restructure, Lang::En) => "a restructure",
        (OpKind::EarlySettlement, Lang::Zh) => "提前结清",
        (OpKind::EarlySettlement, Lang::En) => "early settlement",
        (OpKind::Acceleration, Lang::Zh) => "提前收回（全部余额立即到期）",
        (OpKind::Acceleration, Lang::En) => "acceleration (the whole balance is due now)",
        (OpKind::WriteOff | OpKind::Classify, _) => return None,
    })
}

impl MessageEvent {
    /// The values of a template's fields: the borrower's name, the loan's number (masked
    /// here), and the figures under the event's names. A figure the event has no field for is
    /// left out; a field with no figure is refused when the template is rendered. A decision
    /// is put in words of the message's language.
    pub fn values(
        self,
        name: &str,
        loan_number: &str,
        f: &Figures,
        lang: Lang,
    ) -> BTreeMap<&'static str, String> {
        let (amount, date, days) = match self {
            MessageEvent::PromiseConfirmation => ("promise_amount", "promise_date", ""),
            MessageEvent::OverdueNotice => ("amount", "due_date", "days_overdue"),
            MessageEvent::ReminderBefore => ("amount", "due_date", "days"),
            MessageEvent::ReminderDue | MessageEvent::Welcome | MessageEvent::DecisionNotice => {
                ("amount", "due_date", "")
            }
        };
        let mut out = BTreeMap::new();
        out.insert("name", name.to_string());
        out.insert("loan", mask_loan_number(loan_number));
        if let Some(a) = f.amount {
            out.insert(amount, a.to_string());
        }
        if let Some(d) = f.date {
            out.insert(date, d.to_string());
        }
        if let (Some(n), false) = (f.days, days.is_empty()) {
            out.insert(days, n.to_string());
        }
        if let Some(words) = f.decision.and_then(|k| decision_words(k, lang)) {
            out.insert("decision", words.to_string());
        }
        out
    }
}

/// A message's language: Chinese (the default) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The channels messages are sent on.
pub const MESSAGE_CHANNELS: [Channel; 3] = [Channel::Sms, Channel::Wechat, Channel::Email];

/// A template: a subject (email only; empty on other channels) and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

/// The most characters a body may have (a long SMS is cut into parts by the gateway).
pub const MAX_BODY_CHARS: usize = 1000;
/// The most characters a subject may have.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Why a template or a rendering was refused: the part (`subject`, `body`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {reason}")]
pub struct TemplateError {
    pub part: &'static str,
    pub reason: String,
}

fn refuse<T>(part: &'static str, reason: String) -> Result<T, TemplateError> {
    Err(TemplateError { part, reason })
}

/// The pieces of a template's text: literal text and `{field}` names, in order. `{{` and `}}`
/// stand for a brace.
fn pieces(part: &'static str, text: &str) -> Result<Vec<(bool, String)>, TemplateError> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_lowercase() || c == '_' => name.push(c),
                        _ => {
                            return refuse(
                                part,
                                format!("a field must be {{name}} of a-z and _, after {literal:?}"),
                            );
                        }
                    }
                }
                out.push((false, std::mem::take(&mut literal)));
                out.push((true, name));
            }
            '}' => return refuse(part, "a lone }: write }} for a brace".to_string()),
            c => literal.push(c),
        }
    }
    out.push((false, literal));
    Ok(out)
}

fn check_part(
    event: MessageEvent,
    part: &'static str,
    text: &str,
    max: usize,
) -> Result<(), TemplateError> {
    if text.chars().count() > max {
        return refuse(part, format!("at most {max} characters"));
    }
    for (is_field, name) in pieces(part, text)? {
        if is_field && !event.fields().contains(&name.as_str()) {
            return refuse(
                part,
                format!(
                    "{{{name}}} is not a field of {} (fields: {})",
                    event.as_str(),
                    event.fields().join(", ")
                ),
            );
        }
    }
    Ok(())
}

impl Template {
    /// Checks the template for `event` on `channel`: a body, a subject on email only, every
    /// field one of the event's.
    pub fn validate(&self, event: MessageEvent, channel: Channel) -> Result<(), TemplateError> {
        if self.body.trim().is_empty() {
            return refuse("body", "required".to_string());
        }
        match (channel == Channel::Email, self.subject.trim().is_empty()) {
            (true, true) => return refuse("subject", "required for email".to_string()),
            (false, false) => {
                return refuse(
                    "subject",
                    format!("only email has a subject, not {}", channel.as_str()),
                );
            }
            _ => {}
        }
        check_part(event, "subject", &self.subject, MAX_SUBJECT_CHARS)?;
        check_part(event, "body", &self.body, MAX_BODY_CHARS)
    }

    /// The message: each field replaced by its value. A field without a value is refused.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> Result<Template, TemplateError> {
        let fill = |part: &'static str, text: &str| -> Result<String, TemplateError> {
            let mut out = String::new();
            for (is_field, s) in pieces(part, text)? {
                if is_field {
                    match values.get(s.as_str()) {
                        Some(v) => out.push_str(v),
                        None => return refuse(part, format!("no value for {{{s}}}")),
                    }
                } else {
                    out.push_str(&s);
                }
            }
            Ok(out)
        };
        Ok(Template {
            subject: fill("subject", &self.subject)?,
            body: fill("body", &self.body)?,
        })
    }

    /// DOMAIN.md's default template of an event, language and channel.
    pub fn default_for(event: MessageEvent, lang: Lang, channel: Channel) -> Template {
        let (subject, body) = match (event, lang) {
            (MessageEvent::ReminderBefore, Lang::Zh) => (
                "还款提醒",
                "{name}您好，您的车贷（合同{loan}）本期应还 {amount} 元，还款日为 {due_date}（{days} 天后），请提前存足款项。",
            ),
            (MessageEvent::ReminderBefore, Lang::En) => (
                "Repayment reminder",
                "Dear {name}, the installment of {amount} yuan on your car loan {loan} is due on {due_date}, in {days} days. Please make sure the funds are in your account.",
            ),
            (MessageEvent::ReminderDue, Lang::Zh) => (
                "今日还款提醒",
                "{name}您好，您的车贷（合同{loan}）本期应还 {amount} 元，今天（{due_date}）为还款日，请确保账户余额充足。",
            ),
            (MessageEvent::ReminderDue, Lang::En) => (
                "Your installment is due today",
                "Dear {name}, the installment of {amount} yuan on your car loan {loan} is due today ({due_date}). Please make sure the funds are in your account.",
            ),
            (MessageEvent::OverdueNotice, Lang::Zh) => (
                "逾期通知",
                "{name}您好，您的车贷（合同{loan}）自 {due_date} 起已逾期 {days_overdue} 天，应还 {amount} 元，请尽快还款，以免产生更多罚息并影响您的信用记录。",
            ),
            (MessageEvent::OverdueNotice, Lang::En) => (
                "Overdue notice",
                "Dear {name}, your car loan {loan} has been overdue for {days_overdue} days since {due_date}; {amount} yuan is due. Please pay as soon as possible to avoid further penalty interest and harm to your credit record.",
            ),
            (MessageEvent::PromiseConfirmation, Lang::Zh) => (
                "还款承诺确认",
                "{name}您好，您已承诺于 {promise_date} 前归还车贷（合同{loan}）{promise_amount} 元，感谢您的配合。",
            ),
            (MessageEvent::PromiseConfirmation, Lang::En) => (
                "Your promise to pay",
                "Dear {name}, thank you: you promised to pay {promise_amount} yuan on your car loan {loan} by {promise_date}.",
            ),
            (MessageEvent::Welcome, Lang::Zh) => (
                "欢迎",
                "{name}您好，您的车贷（合同{loan}）已放款，首期应还 {amount} 元，还款日为 {due_date}。如有疑问请联系我们。",
            ),
            (MessageEvent::Welcome, Lang::En) => (
                "Welcome",
                "Dear {name}, your car loan {loan} has been disbursed. The first installment of {amount} yuan is due on {due_date}. Contact us with any question.",
            ),
            (MessageEvent::DecisionNotice, Lang::Zh) => (
                "还款安排变更通知",
                "{name}您好，您的车贷（合同{loan}）已办理{decision}，自 {due_date} 起生效，新的还款计划以合同变更为准。如有疑问请联系我们。",
            ),
            (MessageEvent::DecisionNotice, Lang::En) => (
                "Change to your repayment plan",
                "Dear {name}, {decision} has been applied to your car loan {loan}, effective {due_date}. Contact us with any question.",
            ),
        };
        Template {
            subject: if channel == Channel::Email {
                subject.to_string()
            } else {
                String::new()
            },
            body: body.to_string(),
        }
    }
}

/// A loan number as a message shows it: its last four characters, the rest starred.
pub fn mask_loan_number(s: &str) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 >= n { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
    }

    #[test]
    fn every_default_is_valid_and_renders_with_its_events_fields() {
        for event in MessageEvent::ALL {
            let all: BTreeMap<&str, String> = event
                .fields()
                .iter()
                .map(|f| (*f, format!("<{f}>")))
                .collect();
            for lang in Lang::ALL {
                for channel in MESSAGE_CHANNELS {
                    let t = Template::default_for(event, lang, channel);
                    assert_eq!(t.validate(event, channel), Ok(()), "{event:?} {lang:?}");
                    let body = t.render(&all).unwrap().body;
                    for f in event.fields() {
                        assert!(
                            body.contains(&format!("<{f}>")),
                            "{event:?} {lang:?} uses {f}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_reminder_renders_in_chinese_with_the_loan_masked() {
        let t = Template::default_for(MessageEvent::ReminderBefore, Lang::Zh, Channel::Email);
        let m = t
            .render(&values(&[
                ("name", "张三"),
                ("loan", &mask_loan_number("L00000029")),
                ("amount", "3,581.24"),
                ("due_date", "2026-12-09"),
                ("days", "3"),
            ]))
            .unwrap();
        assert_eq!(m.subject, "还款提醒");
        assert_eq!(
            m.body,
            "张三您好，您的车贷（合同*****0029）本期应还 3,581.24 元，还款日为 2026-12-09（3 天后），请提前存足款项。"
        );
    }

    #[test]
    fn fields_outside_the_event_and_broken_braces_are_refused() {
        let t = |body: &str| Template {
            subject: String::new(),
            body: body.to_string(),
        };
        let e = t("{name} owes {promise_amount}")
            .validate(MessageEvent::ReminderDue, Channel::Sms)
            .unwrap_err();
        assert_eq!(e.part, "body");
        assert!(
            e.reason
                .starts_with("{promise_amount} is not a field of reminder_due")
        );
        for bad in ["{name", "a } b", "{Name}", "{na me}"] {
            assert!(
                t(bad)
                    .validate(MessageEvent::Welcome, Channel::Sms)
                    .is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            t("{{literal}} {name}")
                .render(&values(&[("name", "李四")]))
                .unwrap()
                .body,
            "{literal} 李四"
        );
        assert_eq!(
            t("")
                .validate(MessageEvent::Welcome, Channel::Sms)
                .unwrap_err()
                .part,
            "body"
        );
        let email_without_subject = t("{name}");
        assert_eq!(
            email_without_subject
                .validate(MessageEvent::Welcome, Channel::Email)
                .unwrap_err()
                .part,
            "subject"
        );
        let sms_with_subject = Template {
            subject: "x".into(),
            body: "{name}".into(),
        };
        assert_eq!(
            sms_with_subject
                .validate(MessageEvent::Welcome, Channel::Sms)
                .unwrap_err()
                .part,
            "subject"
        );
        assert_eq!(
            t("{name} {loan}")
                .render(&values(&[("name", "x")]))
                .unwrap_err()
                .reason,
            "no value for {loan}"
        );
        assert_eq!(mask_loan_number("L1"), "L1");
    }
}

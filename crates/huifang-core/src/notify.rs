//! Messages to borrowers through the outbox (DOMAIN.md capability 6): which channels each event
//! is sent on, the life of a message (queued → sent → delivered, or failed and retried with
//! exponential backoff and jitter until dead-lettered), the purpose of its content, and the
//! replies that opt a borrower out. The jitter is passed in (a number in 0..1000): the core
//! draws nothing.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};

use crate::contact::Purpose;
use crate::outcome::Channel;
use crate::policy::PolicyError;
use crate::template::{Lang, MESSAGE_CHANNELS, MessageEvent};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageState {
    /// Written with its event; waiting for its time (`due_at`).
    Queued,
    /// The provider accepted it (its message id is kept); waiting for a receipt.
    Sent,
    /// The provider reported it delivered.
    Delivered,
    /// An attempt failed; it is tried again at `due_at`.
    Failed,
    /// Given up: the attempts ran out, or the provider reported it undeliverable.
    Dead,
    /// The contact rules refused it (the refusal is kept with its rule).
    Blocked,
}

impl MessageState {
    pub const ALL: [MessageState; 6] = [
        MessageState::Queued,
        MessageState::Sent,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Dead,
        MessageState::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Sent => "sent",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Dead => "dead",
            MessageState::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Option<MessageState> {
        MessageState::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether a worker still has to send it.
    pub fn is_pending(self) -> bool {
        matches!(self, MessageState::Queued | MessageState::Failed)
    }
}

impl std::str::FromStr for MessageState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MessageState::parse(s).ok_or_else(|| format!("not a message state: {s:?}"))
    }
}

/// What a message's content is for: an overdue notice is collection content, the rest service.
pub fn purpose_of(event: MessageEvent) -> Purpose {
    match event {
        MessageEvent::OverdueNotice => Purpose::Collection,
        _ => Purpose::Service,
    }
}

/// The notification rules: the channels each event is sent on and the retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRules {
    /// The channels each event is sent on (an event absent or with no channel sends nothing).
    pub events: BTreeMap<MessageEvent, Vec<Channel>>,
    /// The language messages are written in (Chinese by default).
    pub lang: Lang,
    /// Attempts before a message is dead-lettered (5).
    pub max_attempts: u32,
    /// The wait after the first failed attempt, doubled after each (30 s).
    pub backoff_seconds: u32,
    /// The longest wait between two attempts (1 h).
    pub max_backoff_seconds: u32,
}

impl Default for NotifyRules {
    /// Every event by SMS; 5 attempts, 30 s doubling up to an hour.
    fn default() -> Self {
        NotifyRules {
            events: MessageEvent::ALL
                .into_iter()
                .map(|e| (e, vec![Channel::Sms]))
                .collect(),
            lang: Lang::Zh,
            max_attempts: 5,
            backoff_seconds: 30,
            max_backoff_seconds: 3600,
        }
    }
}

/// The most attempts a message may be given.
pub const MAX_ATTEMPTS: u32 = 20;
/// The longest wait between attempts that may be set (a day).
pub const MAX_BACKOFF_SECONDS: u32 = 86_400;

fn refuse(field: String, reason: String) -> Result<(), PolicyError> {
    Err(PolicyError { field, reason })
}

impl NotifyRules {
    /// Checks the rules, naming the field at fault.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (event, channels) in &self.events {
            for (i, c) in channels.iter().enumerate() {
                if !MESSAGE_CHANNELS.contains(c) {
                    refuse(
                        format!("events.{}[{i}]", event.as_str()),
                        format!("messages go by sms, wechat or email, not {}", c.as_str()),
                    )?;
                }
                if channels.get(..i).is_some_and(|before| before.contains(c)) {
                    refuse(
                        format!("events.{}[{i}]", event.as_str()),
                        format!("{} is listed twice", c.as_str()),
                    )?;
                }
            }
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            refuse(
                "max_attempts".into(),
                format!("must be 1 to {MAX_ATTEMPTS}, not {}", self.max_attempts),
            )?;
        }
        if !(1..=MAX_BACKOFF_SECONDS).contains(&self.backoff_seconds) {
            refuse(
                "backoff_seconds".into(),
                format!(
                    "must be 1 to {MAX_BACKOFF_SECONDS}, not {}",
                    self.backoff_seconds
                ),
            )?;
        }
        if !(self.backoff_seconds..=MAX_BACKOFF_SECONDS).contains(&self.max_backoff_seconds) {
            refuse(
                "max_backoff_seconds".into(),
                format!(
                    "must be backoff_seconds ({}) to {MAX_BACKOFF_SECONDS}, not {}",
                    self.backoff_seconds, self.max_backoff_seconds
                ),
            )?;
        }
        Ok(())
    }

    /// The channels `event` is sent on.
    pub fn channels(&self, event: MessageEvent) -> &[Channel] {
        self.events.get(&event).map_or(&[], Vec::as_slice)
    }

    /// The wait before attempt `attempts + 1` after `attempts` failed ones (1 or more):
    /// `backoff_seconds × 2^(attempts−1)`, capped, of which a random part is dropped ("equal
    /// jitter": half the wait is kept, the other half scaled by `jitter_permille`, 0..=999),
    /// so that messages failed together do not come back together.
    pub fn backoff(&self, attempts: u32, jitter_permille: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let full = u64::from(self.backoff_seconds)
            .saturating_mul(1u64 << doublings)
            .min(u64::from(self.max_backoff_seconds));
        let half = full / 2;
        let jitter = (full - half) * u64::from(jitter_permille.min(999)) / 1000;
        Duration::seconds(i64::try_from(half + jitter).unwrap_or(i64::MAX))
    }

    /// What follows a failed attempt (the `attempts`-th): tried again at `now` + the backoff,
    /// or dead-lettered when the attempts have run out.
    pub fn after_failure(
        &self,
        attempts: u32,
        now: NaiveDateTime,
        jitter_permille: u32,
    ) -> (MessageState, NaiveDateTime) {
        if attempts >= self.max_attempts {
            (MessageState::Dead, now)
        } else {
            (
                MessageState::Failed,
                now + self.backoff(attempts, jitter_permille),
            )
        }
    }
}

/// Days after disbursement within which a loan's welcome message is sent: a loan imported later
/// (a book taken over, history loaded) is not welcomed.
pub const WELCOME_WITHIN_DAYS: i64 = 7;

/// Whether a loan disbursed on `disbursed_on` gets its welcome message on `today`.
pub fn welcomes(disbursed_on: crate::Date, today: crate::Date) -> bool {
    let days = (today - disbursed_on).num_days();
    (0..=WELCOME_WITHIN_DAYS).contains(&days)
}

/// Whether a borrower's reply to a message asks to stop messages on its channel: "TD", "T",
/// "退订", "取消订阅", "STOP" or "UNSUBSCRIBE", alone (any case, spaces and punctuation around).
pub fn is_opt_out_reply(text: &str) -> bool {
    let word: String = text
        .trim_matches(|c: char| {
            c.is_whitespace() || c.is_ascii_punctuation() || "。！，".contains(c)
        })
        .to_uppercase();
    matches!(
        word.as_str(),
        "TD" | "T" | "退订" | "取消订阅" | "STOP" | "UNSUBSCRIBE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_keeps_half_of_it_whatever_the_jitter() {
        let r = NotifyRules::default();
        let secs = |n, j| r.backoff(n, j).num_seconds();
        assert_eq!(secs(1, 0), 15);
        assert_eq!(secs(1, 999), 29);
        assert_eq!(secs(2, 0), 30);
        assert_eq!(secs(3, 500), 60 + 30);
        assert_eq!(secs(8, 0), 1800); // 30 × 128 = 3840, capped at 3600
        assert_eq!(secs(40, 999), 1800 + 1798);
        for n in 1..10 {
            for j in [0, 1, 500, 999, 5000] {
                let s = secs(n, j);
                let full = (30i64 << (n - 1)).min(3600);
                assert!(s >= full / 2 && s < full, "{n} {j}: {s}");
            }
        }
    }

    #[test]
    fn the_last_attempt_dead_letters() {
        let r = NotifyRules::default();
        let now = at("2026-05-01 02:00:00");
        assert_eq!(
            r.after_failure(1, now, 0),
            (MessageState::Failed, at("2026-05-01 02:00:15"))
        );
        assert_eq!(r.after_failure(4, now, 0).0, MessageState::Failed);
        assert_eq!(r.after_failure(5, now, 0), (MessageState::Dead, now));
    }

    #[test]
    fn rules_are_checked_field_by_field() {
        assert!(NotifyRules::default().validate().is_ok());
        let mut r = NotifyRules::default();
        r.events
            .insert(MessageEvent::Welcome, vec![Channel::Sms, Channel::Phone]);
        assert_eq!(r.validate().unwrap_err().field, "events.welcome[1]");
        r.events
            .insert(MessageEvent::Welcome, vec![Channel::Email, Channel::Email]);
        assert!(r.validate().unwrap_err().reason.contains("twice"));
        let mut r = NotifyRules {
            max_attempts: 0,
            ..NotifyRules::default()
        };
        assert_eq!(r.validate().unwrap_err().field, "max_attempts");
        r.max_attempts = 3;
        r.max_backoff_seconds = 10;
        assert_eq!(r.validate().unwrap_err().field, "max_backoff_seconds");
    }

    #[test]
    fn only_recent_loans_are_welcomed() {
        let d = |s| crate::calendar::parse_date(s).unwrap();
        assert!(welcomes(d("2026-05-01"), d("2026-05-01")));
        assert!(welcomes(d("2026-05-01"), d("2026-05-08")));
        assert!(!welcomes(d("2026-05-01"), d("2026-05-09")));
        assert!(!welcomes(d("2026-05-02"), d("2026-05-01")));
    }

    #[test]
    fn opt_out_replies() {
        for yes in ["TD", "td", " 退订 ", "T", "退订。", "Stop!", "取消订阅"] {
            assert!(is_opt_out_reply(yes), "{yes}");
        }
        for no in ["好的", "TD 明天还", "我不想退订", "", "tdd"] {
            assert!(!is_opt_out_reply(no), "{no}");
        }
    }

    #[test]
    fn only_overdue_notices_are_collection_content() {
        for e in MessageEvent::ALL {
            assert_eq!(
                purpose_of(e) == Purpose::Collection,
                e == MessageEvent::OverdueNotice
            );
        }
        assert!(MessageState::Failed.is_pending() && !MessageState::Sent.is_pending());
        for s in MessageState::ALL {
            assert_eq!(MessageState::parse(s.as_str()), Some(s));
        }
    }
}

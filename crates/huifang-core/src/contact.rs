//! The contact rules (compliance guard, DOMAIN.md capability 6) every contact with a borrower
//! passes: calling hours in the lender's local time, at most so many connected collection calls
//! per borrower and day, a cap per channel and day, the borrower's opt-outs and a do-not-contact
//! flag. The rules are data (defaults: 08:00–21:00 Asia/Shanghai, 3 connected collection calls);
//! the moment of a contact is passed in as a UTC instant, so the machine's time zone never
//! matters.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::followup::TaskKind;
use crate::outcome::Channel;
use crate::policy::PolicyError;

/// Years every contact is kept (DOMAIN.md: at least 5); nothing deletes one.
pub const RETENTION_YEARS: u32 = 5;

/// The first day a contact recorded on `day` may be let go: `RETENTION_YEARS` later (29
/// February falls back to the 28th).
pub fn kept_until(day: NaiveDate) -> NaiveDate {
    day.checked_add_months(chrono::Months::new(RETENTION_YEARS * 12))
        .unwrap_or(NaiveDate::MAX)
}

/// Asia/Shanghai: UTC+8 all year (no daylight saving since 1991).
pub const SHANGHAI_OFFSET_MINUTES: i32 = 8 * 60;

/// The contact rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRules {
    /// The lender's local time as minutes east of UTC (480: Asia/Shanghai).
    pub utc_offset_minutes: i32,
    /// The first minute of the day a borrower may be contacted (480: 08:00).
    pub from_minute: u32,
    /// The minute from which no contact is made (1260: 21:00; 20:59 is the last allowed).
    pub until_minute: u32,
    /// Connected collection calls per borrower and local day (3).
    pub max_connected_collection_calls: u32,
    /// Contacts per borrower, channel and local day, for the channels that have a cap.
    pub channel_caps: BTreeMap<Channel, u32>,
}

impl Default for ContactRules {
    fn default() -> Self {
        ContactRules {
            utc_offset_minutes: SHANGHAI_OFFSET_MINUTES,
            from_minute: 8 * 60,
            until_minute: 21 * 60,
            max_connected_collection_calls: 3,
            channel_caps: [(Channel::Sms, 3), (Channel::Wechat, 3), (Channel::Email, 3)]
                .into_iter()
                .collect(),
        }
    }
}

/// The most a cap may allow in a day.
pub const MAX_DAILY_CAP: u32 = 100;

fn refuse(field: &str, reason: String) -> Result<(), PolicyError> {
    Err(PolicyError {
        field: field.to_string(),
        reason,
    })
}

impl ContactRules {
    /// Checks the rules' own consistency, naming the field at fault.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(-14 * 60..=14 * 60).contains(&self.utc_offset_minutes) {
            refuse(
                "utc_offset_minutes",
                format!(
                    "must be -840 to 840 (UTC-14:00 to UTC+14:00), not {}",
                    self.utc_offset_minutes
                ),
            )?;
        }
        if self.from_minute >= 24 * 60 {
            refuse(
                "hours.from",
                "must be a time of day, 00:00 to 23:59".to_string(),
            )?;
        }
        if self.until_minute > 24 * 60 || self.until_minute <= self.from_minute {
            refuse(
                "hours.until",
                "must be after hours.from, at most 24:00".to_string(),
            )?;
        }
        if !(1..=MAX_DAILY_CAP).contains(&self.max_connected_collection_calls) {
            refuse(
                "max_connected_collection_calls",
                format!(
                    "must be 1 to {MAX_DAILY_CAP}, not {}",
                    self.max_connected_collection_calls
                ),
            )?;
        }
        for (channel, cap) in &self.channel_caps {
            if !(1..=MAX_DAILY_CAP).contains(cap) {
                refuse(
                    &format!("channel_caps.{}", channel.as_str()),
                    format!("must be 1 to {MAX_DAILY_CAP}, not {cap}"),
                )?;
            }
        }
        Ok(())
    }

    fn offset(&self) -> Duration {
        Duration::minutes(i64::from(self.utc_offset_minutes))
    }

    /// The local date and time of a UTC instant.
    pub fn local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        utc + self.offset()
    }

    /// The UTC instants the local day `day` runs from (inclusive) and to (exclusive).
    pub fn day_bounds(&self, day: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
        let start = day.and_time(NaiveTime::MIN) - self.offset();
        (start, start + Duration::days(1))
    }

    fn minute_of(&self, utc: NaiveDateTime) -> u32 {
        let t = self.local(utc).time();
        u32::try_from(
            (t - NaiveTime::MIN).num_minutes(), // 0..1440
        )
        .unwrap_or(0)
    }

    /// Whether a contact at `utc` falls in the contact hours.
    pub fn within_hours(&self, utc: NaiveDateTime) -> bool {
        (self.from_minute..self.until_minute).contains(&self.minute_of(utc))
    }

    /// The first instant at or after `utc` inside the contact hours (a message due at night
    /// waits for the morning).
    pub fn next_allowed(&self, utc: NaiveDateTime) -> NaiveDateTime {
        if self.within_hours(utc) {
            return utc;
        }
        let local = self.local(utc);
        let opens = |day: NaiveDate| {
            day.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(self.from_minute))
                - self.offset()
        };
        if self.minute_of(utc) < self.from_minute {
            opens(local.date())
        } else {
            opens(local.date() + Duration::days(1))
        }
    }
}

/// What a contact is for: collection content only on collection tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A follow-up, a reminder or a review: service.
    Service,
    /// Collecting an overdue amount.
    Collection,
}

impl Purpose {
    /// The purpose of a contact made on a task of this kind.
    pub fn of_task(kind: TaskKind) -> Purpose {
        match kind {
            TaskKind::CollectionCall | TaskKind::Escalation | TaskKind::FieldVisit => {
                Purpose::Collection
            }
            _ => Purpose::Service,
        }
    }
}

/// One contact about to be made or recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// When, in UTC.
    pub at: NaiveDateTime,
    pub channel: Channel,
    pub purpose: Purpose,
}

/// What the guard knows of the borrower.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// The borrower asked not to be contacted at all (or the lender flagged them so).
    pub do_not_contact: bool,
    /// The channels the borrower opted out of.
    pub opted_out: Vec<Channel>,
    /// The borrower's contacts earlier the same local day: (channel, purpose, connected).
    pub today: Vec<(Channel, Purpose, bool)>,
}

/// The name of an opt-out of every channel: the borrower is not to be contacted at all.
pub const ALL_CHANNELS: &str = "all";

impl Standing {
    /// Adds a stored opt-out: a channel's name, or [`ALL_CHANNELS`] (do not contact). A name that
    /// is neither is ignored.
    pub fn add_opt_out(&mut self, channel: &str) {
        if channel == ALL_CHANNELS {
            self.do_not_contact = true;
        } else if let Ok(c) = channel.parse::<Channel>() {
            self.opted_out.push(c);
        }
    }
}

/// The channels a borrower has an address on besides the mobile.
pub const ADDRESS_CHANNELS: [Channel; 2] = [Channel::Email, Channel::Wechat];

/// A borrower's address on a channel the borrower file does not carry, checked and trimmed: an
/// email address (something@something, at most 254 characters) or a WeChat open id (1 to 128
/// characters); no control characters. The error is the reason, for the caller to name its field.
pub fn check_address(channel: Channel, address: &str) -> Result<String, String> {
    let a = address.trim();
    if a.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    match channel {
        Channel::Email
            if a.contains('@') && !a.starts_with('@') && !a.ends_with('@') && a.len() <= 254 =>
        {
            Ok(a.to_string())
        }
        Channel::Email => Err(format!("{a:?} is not an email address")),
        Channel::Wechat if !a.is_empty() && a.chars().count() <= 128 => Ok(a.to_string()),
        Channel::Wechat => Err("a WeChat open id is 1 to 128 characters".into()),
        other => Err(format!("{} has no address but the mobile", other.as_str())),
    }
}

/// Why a contact is not made: the rule, by name, and its particulars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    DoNotContact,
    OptedOut(Channel),
    /// Outside the contact hours; the contact may be made from `resume_at` (UTC).
    OutsideHours {
        resume_at: NaiveDateTime,
    },
    /// The borrower had `cap` connected collection calls this local day.
    CollectionCallCap {
        cap: u32,
    },
    /// The borrower had `cap` contacts on this channel this local day.
    ChannelCap {
        channel: Channel,
        cap: u32,
    },
    /// An emergency contact (a third party) who has not consented to be called.
    NoConsent,
}

impl Blocked {
    /// The rule's name, as recorded and reported.
    pub fn rule(&self) -> &'static str {
        match self {
            Blocked::DoNotContact => "do_not_contact",
            Blocked::OptedOut(_) => "opted_out",
            Blocked::OutsideHours { .. } => "contact_hours",
            Blocked::CollectionCallCap { .. } => "collection_call_cap",
            Blocked::ChannelCap { .. } => "channel_cap",
            Blocked::NoConsent => "third_party_consent",
        }
    }

    /// The reason in words, times in the lender's local time.
    pub fn reason(&self, rules: &ContactRules) -> String {
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        match self {
            Blocked::DoNotContact => "the borrower is not to be contacted".to_string(),
            Blocked::OptedOut(c) => format!("the borrower opted out of {}", c.as_str()),
            Blocked::OutsideHours { resume_at } => format!(
                "contacts only {}–{} local time; allowed again from {}",
                hm(rules.from_minute),
                hm(rules.until_minute),
                rules.local(*resume_at).format("%Y-%m-%d %H:%M")
            ),
            Blocked::CollectionCallCap { cap } => {
                format!("{cap} connected collection call(s) with the borrower today already")
            }
            Blocked::ChannelCap { channel, cap } => format!(
                "{cap} {} contact(s) with the borrower today already",
                channel.as_str()
            ),
            Blocked::NoConsent => {
                "the emergency contact has not consented to be called".to_string()
            }
        }
    }
}

/// Whether an emergency contact (a third party, DOMAIN.md capability 6) may be contacted: only
/// with their consent, only by phone or in person, and only to locate the borrower: the outcome
/// may say whether they were reached, never carry collection content (a promise, a dispute, the
/// borrower's hardship or vehicle). The hours and the borrower's do-not-contact flag apply as to
/// any contact ([`check`]).
pub fn check_third_party(
    consented: bool,
    channel: Channel,
    outcome: &crate::outcome::Outcome,
) -> Result<(), ThirdPartyRefusal> {
    use crate::outcome::Outcome;
    if !consented {
        return Err(ThirdPartyRefusal::Blocked(Blocked::NoConsent));
    }
    if !matches!(channel, Channel::Phone | Channel::Visit) {
        return Err(ThirdPartyRefusal::Channel);
    }
    match outcome {
        Outcome::Reached | Outcome::NoAnswer | Outcome::WrongNumber | Outcome::Refused => Ok(()),
        _ => Err(ThirdPartyRefusal::Content),
    }
}

/// Why a contact with an emergency contact is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThirdPartyRefusal {
    /// A contact rule refuses it (no consent): kept as a refused contact.
    Blocked(Blocked),
    /// Not by phone or visit.
    Channel,
    /// Collection content.
    Content,
}

/// Whether the borrower may be contacted so: the do-not-contact flag, the channel's opt-out,
/// the hours, then the daily caps. A collection call counts against the cap of connected calls
/// once the borrower has had that many, whether or not this one connects.
pub fn check(rules: &ContactRules, attempt: &Attempt, standing: &Standing) -> Result<(), Blocked> {
    if standing.do_not_contact {
        return Err(Blocked::DoNotContact);
    }
    if standing.opted_out.contains(&attempt.channel) {
        return Err(Blocked::OptedOut(attempt.channel));
    }
    if !rules.within_hours(attempt.at) {
        return Err(Blocked::OutsideHours {
            resume_at: rules.next_allowed(attempt.at),
        });
    }
    if attempt.channel == Channel::Phone && attempt.purpose == Purpose::Collection {
        let cap = rules.max_connected_collection_calls;
        let connected = standing
            .today
            .iter()
            .filter(|(c, p, connected)| {
                *c == Channel::Phone && *p == Purpose::Collection && *connected
            })
            .count();
        if connected >= usize::try_from(cap).unwrap_or(usize::MAX) {
            return Err(Blocked::CollectionCallCap { cap });
        }
    }
    if let Some(&cap) = rules.channel_caps.get(&attempt.channel) {
        let made = standing
            .today
            .iter()
            .filter(|(c, _, _)| *c == attempt.channel)
            .count();
        if made >= usize::try_from(cap).unwrap_or(usize::MAX) {
            return Err(Blocked::ChannelCap {
                channel: attempt.channel,
                cap,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod third_party_tests {
    use super::*;
    use crate::outcome::Outcome;

    #[test]
    fn opt_outs_and_addresses() {
        let mut s = Standing::default();
        s.add_opt_out("sms");
        s.add_opt_out("carrier pigeon");
        assert_eq!(
            (s.do_not_contact, s.opted_out.clone()),
            (false, vec![Channel::Sms])
        );
        s.add_opt_out(ALL_CHANNELS);
        assert!(s.do_not_contact);
        assert_eq!(
            check_address(Channel::Email, " a@b.cn "),
            Ok("a@b.cn".into())
        );
        for bad in ["a.b.cn", "@b.cn", "a@", "a@b\u{7}"] {
            assert!(check_address(Channel::Email, bad).is_err(), "{bad}");
        }
        assert!(check_address(Channel::Wechat, "").is_err());
        assert!(check_address(Channel::Wechat, &"o".repeat(129)).is_err());
        assert!(check_address(Channel::Sms, "13800138000").is_err());
    }

    #[test]
    fn an_emergency_contact_is_called_only_with_consent_and_only_to_locate() {
        assert_eq!(
            check_third_party(false, Channel::Phone, &Outcome::Reached),
            Err(ThirdPartyRefusal::Blocked(Blocked::NoConsent))
        );
        assert_eq!(Blocked::NoConsent.rule(), "third_party_consent");
        for ok in [Outcome::Reached, Outcome::NoAnswer, Outcome::WrongNumber] {
            assert_eq!(check_third_party(true, Channel::Phone, &ok), Ok(()));
        }
        assert_eq!(
            check_third_party(true, Channel::Sms, &Outcome::Reached),
            Err(ThirdPartyRefusal::Channel)
        );
        assert_eq!(
            check_third_party(true, Channel::Phone, &Outcome::Dispute),
            Err(ThirdPartyRefusal::Content)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn call(at: &str, purpose: Purpose) -> Attempt {
        Attempt {
            at: utc(at),
            channel: Channel::Phone,
            purpose,
        }
    }

    #[test]
    fn the_hours_run_from_eight_to_before_nine_in_shanghai() {
        let rules = ContactRules::default();
        let ok = Standing::default();
        // 20:59 in Shanghai is 12:59 UTC: allowed
        assert_eq!(
            check(&rules, &call("2026-10-28 12:59", Purpose::Service), &ok),
            Ok(())
        );
        // 21:00 in Shanghai is held until 08:00 the next morning (00:00 UTC)
        let late = check(&rules, &call("2026-10-28 13:00", Purpose::Service), &ok);
        assert_eq!(
            late,
            Err(Blocked::OutsideHours {
                resume_at: utc("2026-10-29 00:00")
            })
        );
        assert_eq!(
            late.unwrap_err().reason(&rules),
            "contacts only 08:00–21:00 local time; allowed again from 2026-10-29 08:00"
        );
        // 07:59 waits for 08:00 the same morning; 08:00 itself is allowed
        assert_eq!(
            rules.next_allowed(utc("2026-10-28 23:59")),
            utc("2026-10-29 00:00")
        );
        assert_eq!(
            check(&rules, &call("2026-10-29 00:00", Purpose::Service), &ok),
            Ok(())
        );
        // 02:00 in Shanghai (18:00 UTC the day before) waits for 08:00 the same local day
        assert_eq!(
            rules.next_allowed(utc("2026-10-28 18:00")),
            utc("2026-10-29 00:00")
        );
        assert_eq!(
            rules.day_bounds(NaiveDate::from_ymd_opt(2026, 10, 29).unwrap()),
            (utc("2026-10-28 16:00"), utc("2026-10-29 16:00"))
        );
    }

    #[test]
    fn the_fourth_connected_collection_call_of_a_day_is_refused() {
        let rules = ContactRules::default();
        let mut standing = Standing::default();
        let at = "2026-10-28 03:00";
        for _ in 0..3 {
            assert_eq!(
                check(&rules, &call(at, Purpose::Collection), &standing),
                Ok(())
            );
            standing
                .today
                .push((Channel::Phone, Purpose::Collection, true));
        }
        assert_eq!(
            check(&rules, &call(at, Purpose::Collection), &standing),
            Err(Blocked::CollectionCallCap { cap: 3 })
        );
        // unanswered calls and service calls do not count; a service call is still allowed
        let mut tried = Standing::default();
        tried
            .today
            .extend([(Channel::Phone, Purpose::Collection, false); 5]);
        tried.today.push((Channel::Phone, Purpose::Service, true));
        assert_eq!(
            check(&rules, &call(at, Purpose::Collection), &tried),
            Ok(())
        );
        assert_eq!(
            check(&rules, &call(at, Purpose::Service), &standing),
            Ok(())
        );
    }

    #[test]
    fn opt_outs_and_do_not_contact_come_first() {
        let rules = ContactRules::default();
        let opted = Standing {
            opted_out: vec![Channel::Sms],
            ..Standing::default()
        };
        let sms = Attempt {
            at: utc("2026-10-28 03:00"),
            channel: Channel::Sms,
            purpose: Purpose::Service,
        };
        assert_eq!(
            check(&rules, &sms, &opted),
            Err(Blocked::OptedOut(Channel::Sms))
        );
        assert_eq!(
            check(&rules, &call("2026-10-28 03:00", Purpose::Service), &opted),
            Ok(())
        );
        let dnc = Standing {
            do_not_contact: true,
            ..Standing::default()
        };
        // even inside the hours, and named before the hours outside them
        assert_eq!(
            check(&rules, &call("2026-10-28 14:00", Purpose::Service), &dnc),
            Err(Blocked::DoNotContact)
        );
        // the channel cap: three SMS a day
        let mut texted = Standing::default();
        texted
            .today
            .extend([(Channel::Sms, Purpose::Service, true); 3]);
        assert_eq!(
            check(&rules, &sms, &texted),
            Err(Blocked::ChannelCap {
                channel: Channel::Sms,
                cap: 3
            })
        );
    }

    #[test]
    fn contacts_are_kept_five_years() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(kept_until(d("2026-03-20")), d("2031-03-20"));
        assert_eq!(kept_until(d("2028-02-29")), d("2033-02-28"));
    }

    #[test]
    fn rules_that_contradict_themselves_are_refused_naming_the_field() {
        let field = |r: ContactRules| r.validate().unwrap_err().field;
        let d = ContactRules::default;
        assert_eq!(d().validate(), Ok(()));
        assert_eq!(
            field(ContactRules {
                until_minute: 8 * 60,
                ..d()
            }),
            "hours.until"
        );
        assert_eq!(
            field(ContactRules {
                max_connected_collection_calls: 0,
                ..d()
            }),
            "max_connected_collection_calls"
        );
        assert_eq!(
            field(ContactRules {
                utc_offset_minutes: 900,
                ..d()
            }),
            "utc_offset_minutes"
        );
        let mut caps = d();
        caps.channel_caps.insert(Channel::Email, 0);
        assert_eq!(field(caps), "channel_caps.email");
    }
}

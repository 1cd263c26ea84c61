//! The contact rules in use (DOMAIN.md capability 6): the rules document (stored in the
//! settings, DOMAIN.md's defaults until one is set), the guard every recorded contact passes
//! (the core's `contact::check` on what the store knows of the borrower), borrowers' opt-outs,
//! and the report of refused contacts.

use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use huifang_core::contact::{
    self, Attempt, Blocked, ContactRules, Purpose, Standing, ThirdPartyRefusal,
};
use huifang_core::followup::TaskKind;
use huifang_core::outcome::{self, Channel};
use huifang_core::{BorrowerId, Date};
use huifang_store::{
    BlockedContact, BlockedContactRecord, EmergencyContact, OptOut, Store, TaskRecord, Tx,
};

use crate::team::{Actor, Role, stamp};
use crate::views::{
    AddressRequest, ContactRulesDoc, EmergencyContactRequest, EmergencyContactView, HoursDoc,
    RetentionView, RetentionYearView,
};
use crate::{AppError, require_business_date};

/// The settings key of the contact rules document.
const SETTING: &str = "contact_rules";

/// Most refused contacts one report lists.
pub const MAX_LIST: usize = 500;

fn hm(minute: u32) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn minute_of(field: &str, s: &str) -> Result<u32, AppError> {
    let bad = || {
        AppError::Invalid(format!(
            "{field}: must be a time HH:MM (00:00 to 24:00), not {s:?}"
        ))
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h.to_string().len() > 2 || m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl From<&ContactRules> for ContactRulesDoc {
    fn from(r: &ContactRules) -> Self {
        ContactRulesDoc {
            utc_offset_minutes: r.utc_offset_minutes,
            hours: HoursDoc {
                from: hm(r.from_minute),
                until: hm(r.until_minute),
            },
            max_connected_collection_calls: r.max_connected_collection_calls,
            channel_caps: r
                .channel_caps
                .iter()
                .map(|(c, n)| (c.as_str().to_string(), *n))
                .collect(),
        }
    }
}

impl ContactRulesDoc {
    /// The rules of this document, checked; a refusal names the field.
    pub fn to_rules(&self) -> Result<ContactRules, AppError> {
        let channel_caps = self
            .channel_caps
            .iter()
            .map(|(c, n)| {
                Channel::from_str(c)
                    .map(|c| (c, *n))
                    .map_err(|e| AppError::Invalid(format!("channel_caps.{c}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let rules = ContactRules {
            utc_offset_minutes: self.utc_offset_minutes,
            from_minute: minute_of("hours.from", &self.hours.from)?,
            until_minute: minute_of("hours.until", &self.hours.until)?,
            max_connected_collection_calls: self.max_connected_collection_calls,
            channel_caps,
        };
        rules
            .validate()
            .map_err(|e| AppError::Invalid(format!("{}: {}", e.field, e.reason)))?;
        Ok(rules)
    }
}

/// The contact rules in force: the stored document, or the defaults.
pub async fn rules_in(tx: &mut Tx) -> Result<ContactRules, AppError> {
    match tx.setting(SETTING).await? {
        None => Ok(ContactRules::default()),
        Some(text) => serde_json::from_str::<ContactRulesDoc>(&text)
            .map_err(|e| {
                AppError::Store(huifang_store::StoreError::Corrupt(format!(
                    "the stored contact rules: {e}"
                )))
            })?
            .to_rules(),
    }
}

/// The contact rules in force, as a document.
pub async fn show_rules(store: &Store) -> Result<ContactRulesDoc, AppError> {
    let mut tx = store.begin().await?;
    let rules = rules_in(&mut tx).await?;
    tx.rollback().await?;
    Ok(ContactRulesDoc::from(&rules))
}

/// Replaces the contact rules with a document (JSON); they apply to the next contact. A
/// refused document names the field and changes nothing.
pub async fn set_rules(
    store: &Store,
    actor: &Actor,
    document: &str,
) -> Result<ContactRulesDoc, AppError> {
    actor.require(Role::sets_contact_rules, "change the contact rules")?;
    let doc: ContactRulesDoc = serde_json::from_str(document)
        .map_err(|e| AppError::Invalid(format!("contact rules: {e}")))?;
    let rules = doc.to_rules()?;
    let doc = ContactRulesDoc::from(&rules);
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| AppError::Invalid(format!("contact rules: {e}")))?;
    let mut tx = store.begin().await?;
    tx.set_setting(SETTING, &text).await?;
    tx.commit().await?;
    Ok(doc)
}

fn purpose_of(task_kind: Option<&str>) -> Purpose {
    task_kind
        .and_then(TaskKind::parse)
        .map_or(Purpose::Service, Purpose::of_task)
}

fn utc_text(t: NaiveDateTime) -> String {
    stamp(t.and_utc())
}

/// The id of the borrower with this external id.
async fn borrower_id(tx: &mut Tx, borrower: &str) -> Result<BorrowerId, AppError> {
    tx.borrower_id_by_external_id(borrower)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "borrower",
            id: borrower.to_string(),
        })
}

/// The id of the borrower with this external id, whose personal data `actor` may read.
async fn actor_borrower(
    tx: &mut Tx,
    actor: &Actor,
    borrower: &str,
) -> Result<BorrowerId, AppError> {
    let id = borrower_id(tx, borrower).await?;
    crate::team::authorize_borrower(tx, actor, id, borrower).await?;
    Ok(id)
}

/// Checks a contact with the task's borrower at `at` on `channel` against the rules, in the
/// caller's transaction. A refusal is [`AppError::Blocked`], carrying the record of the refused
/// contact for the caller to keep once its own transaction is rolled back.
pub async fn guard(
    tx: &mut Tx,
    actor: &Actor,
    task: &TaskRecord,
    channel: Channel,
    at: DateTime<Utc>,
    date: Date,
) -> Result<(), AppError> {
    let rules = rules_in(tx).await?;
    let borrower = borrower_id(tx, &task.borrower_external_id).await?;
    let mut standing = Standing::default();
    for o in tx.opt_outs(borrower).await? {
        standing.add_opt_out(&o.channel);
    }
    let at = at.naive_utc();
    let (from, until) = rules.day_bounds(rules.local(at).date());
    for c in tx
        .borrower_contacts_between(borrower, &utc_text(from), &utc_text(until))
        .await?
    {
        if let Ok(channel) = Channel::from_str(&c.channel) {
            standing.today.push((
                channel,
                purpose_of(c.task_kind.as_deref()),
                outcome::reaches(&c.outcome),
            ));
        }
    }
    let attempt = Attempt {
        at,
        channel,
        purpose: purpose_of(Some(&task.task.kind)),
    };
    contact::check(&rules, &attempt, &standing).map_err(|b: Blocked| AppError::Blocked {
        record: Box::new(BlockedContact {
            loan_id: task.task.loan_id,
            task_id: Some(task.id),
            user_id: Some(actor.id()),
            channel: channel.as_str().to_string(),
            rule: b.rule().to_string(),
            reason: b.reason(&rules),
            attempted_at: utc_text(at),
            business_date: date,
        }),
    })
}

/// Keeps the record of a refused contact in a transaction of its own (the refused work's was
/// rolled back); returns the error to answer with.
pub async fn keep_refusal(store: &Store, e: AppError) -> AppError {
    if let AppError::Blocked { record, .. } = &e {
        let kept = async {
            let mut tx = store.begin().await?;
            tx.insert_blocked_contact(record).await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        if let Err(failed) = kept {
            return failed;
        }
    }
    e
}

/// Records that a borrower (by external id) opted out of `channel` ("all": not to be contacted
/// at all) from the business date, or lifts it (`opted_out` false). Returns whether anything
/// changed.
pub async fn set_opt_out(
    store: &Store,
    actor: &Actor,
    borrower: &str,
    channel: &str,
    opted_out: bool,
    note: &str,
) -> Result<bool, AppError> {
    actor.require(Role::records_opt_outs, "record a borrower's opt-out")?;
    if channel != contact::ALL_CHANNELS {
        Channel::from_str(channel).map_err(|e| AppError::Field {
            field: "channel",
            reason: format!("{e}, or all"),
        })?;
    }
    let user = actor.id();
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    let borrower_id = actor_borrower(&mut tx, actor, borrower).await?;
    let changed = if opted_out {
        tx.insert_opt_out(&OptOut {
            borrower_id,
            channel: channel.to_string(),
            since_on: date,
            recorded_by: user,
            note: note.trim().to_string(),
        })
        .await?
    } else {
        tx.delete_opt_out(borrower_id, channel).await?
    };
    tx.commit().await?;
    Ok(changed)
}

/// A borrower's opt-outs (channels, 'all' for not to be contacted).
pub async fn opt_outs(
    store: &Store,
    actor: &Actor,
    borrower: &str,
) -> Result<Vec<OptOut>, AppError> {
    actor.require(Role::records_opt_outs, "read a borrower's opt-outs")?;
    let mut tx = store.begin().await?;
    let borrower_id = actor_borrower(&mut tx, actor, borrower).await?;
    let list = tx.opt_outs(borrower_id).await?;
    tx.rollback().await?;
    Ok(list)
}

/// The refused contacts, newest first (at most [`MAX_LIST`]).
pub async fn blocked(
    store: &Store,
    actor: &Actor,
    limit: usize,
) -> Result<Vec<BlockedContactRecord>, AppError> {
    actor.require(Role::reads_loans, "read the refused contacts")?;
    let mut tx = store.begin().await?;
    let list = tx.blocked_contacts(limit.clamp(1, MAX_LIST)).await?;
    tx.rollback().await?;
    Ok(list)
}

/// How long contacts are kept and what is kept, by year (the roles that read loans).
pub async fn retention(store: &Store, actor: &Actor) -> Result<RetentionView, AppError> {
    actor.require(Role::reads_loans, "read the contacts' retention")?;
    let mut tx = store.begin().await?;
    let (years, oldest) = tx.contacts_by_year().await?;
    tx.rollback().await?;
    Ok(RetentionView {
        retention_years: contact::RETENTION_YEARS,
        oldest: oldest.map(|d| d.to_string()),
        oldest_kept_until: oldest.map(|d| contact::kept_until(d).to_string()),
        years: years
            .into_iter()
            .map(|(year, contacts, refused)| RetentionYearView {
                year,
                contacts,
                refused,
            })
            .collect(),
    })
}

/// Checks a contact with one of the task's borrower's emergency contacts (`contact`): theirs,
/// consented, by phone or visit, only to locate the borrower (the core's
/// `contact::check_third_party`). No consent is a refusal kept with its rule; the rest are
/// field errors.
pub(crate) async fn third_party(
    tx: &mut Tx,
    actor: &Actor,
    task: &TaskRecord,
    contact: i64,
    recorded: &crate::team::ContactFacts,
    date: Date,
) -> Result<(), AppError> {
    let borrower = borrower_id(tx, &task.borrower_external_id).await?;
    let c = tx
        .emergency_contact(contact)
        .await?
        .filter(|c| c.borrower_id == borrower)
        .ok_or_else(|| AppError::Field {
            field: "emergency_contact",
            reason: format!("no emergency contact {contact} of this task's borrower"),
        })?;
    match contact::check_third_party(c.consent_on.is_some(), recorded.channel, &recorded.outcome)
    {
        Ok(()) => Ok(()),
        Err(ThirdPartyRefusal::Blocked(b)) => {
            let rules = rules_in(tx).await?;
            Err(AppError::Blocked {
                record: Box::new(BlockedContact {
                    loan_id: task.task.loan_id,
                    task_id: Some(task.id),
                    user_id: Some(actor.id()),
                    channel: recorded.channel.as_str().to_string(),
                    rule: b.rule().to_string(),
                    reason: b.reason(&rules),
                    attempted_at: stamp(recorded.occurred_at),
                    business_date: date,
                }),
            })
        }
        Err(ThirdPartyRefusal::Channel) => Err(AppError::Field {
            field: "channel",
            reason: "an emergency contact is called or visited, never messaged".into(),
        }),
        Err(ThirdPartyRefusal::Content) => Err(AppError::Field {
            field: "outcome",
            reason: "a contact with an emergency contact only locates the borrower: reached, no_answer, wrong_number or refused".into(),
        }),
    }
}

/// Sets a borrower's address on a channel the borrower file does not carry (email, wechat).
pub async fn set_address(
    store: &Store,
    actor: &Actor,
    borrower: &str,
    request: &AddressRequest,
) -> Result<(), AppError> {
    actor.require(Role::records_opt_outs, "set a borrower's contact address")?;
    let channel = Channel::from_str(&request.channel)
        .ok()
        .filter(|c| contact::ADDRESS_CHANNELS.contains(c))
        .ok_or_else(|| AppError::Field {
            field: "channel",
            reason: format!("{:?} is not email or wechat", request.channel),
        })?;
    let address =
        contact::check_address(channel, &request.address).map_err(|reason| AppError::Field {
            field: "address",
            reason,
        })?;
    let mut tx = store.begin().await?;
    let id = actor_borrower(&mut tx, actor, borrower).await?;
    tx.set_contact_address(id, channel.as_str(), &address)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A borrower's addresses on the channels the borrower file does not carry.
pub async fn addresses(
    store: &Store,
    actor: &Actor,
    borrower: &str,
) -> Result<Vec<AddressRequest>, AppError> {
    actor.require(
        Role::records_opt_outs,
        "read a borrower's contact addresses",
    )?;
    let mut tx = store.begin().await?;
    let id = actor_borrower(&mut tx, actor, borrower).await?;
    let list = tx.contact_addresses(id).await?;
    tx.rollback().await?;
    Ok(list
        .into_iter()
        .map(|(channel, address)| AddressRequest { channel, address })
        .collect())
}

fn emergency_view(borrower: &str, id: i64, c: &EmergencyContact) -> EmergencyContactView {
    EmergencyContactView {
        id,
        borrower: borrower.to_string(),
        name: c.name.clone(),
        relation: c.relation.clone(),
        mobile: huifang_core::team::mask_mobile(&c.mobile),
        consent_on: c.consent_on.map(|d| d.to_string()),
    }
}

/// A borrower's emergency contacts, mobiles masked.
pub async fn emergency_contacts(
    store: &Store,
    actor: &Actor,
    borrower: &str,
) -> Result<Vec<EmergencyContactView>, AppError> {
    actor.require(
        Role::records_opt_outs,
        "read a borrower's emergency contacts",
    )?;
    let mut tx = store.begin().await?;
    let id = actor_borrower(&mut tx, actor, borrower).await?;
    let list = tx.emergency_contacts(id).await?;
    tx.rollback().await?;
    Ok(list
        .iter()
        .map(|(i, c)| emergency_view(borrower, *i, c))
        .collect())
}

/// Adds a borrower's emergency contact, or updates the one with the same mobile (its consent
/// given or withdrawn).
pub async fn set_emergency_contact(
    store: &Store,
    actor: &Actor,
    borrower: &str,
    request: &EmergencyContactRequest,
) -> Result<EmergencyContactView, AppError> {
    actor.require(
        Role::records_opt_outs,
        "record a borrower's emergency contact",
    )?;
    let text = |field: &'static str, v: &str| {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 100 {
            Err(AppError::Field {
                field,
                reason: "required, at most 100 characters".into(),
            })
        } else {
            Ok(v.to_string())
        }
    };
    let contact = EmergencyContact {
        borrower_id: BorrowerId(0),
        name: text("name", &request.name)?,
        relation: text("relation", &request.relation)?,
        mobile: huifang_core::ids::Mobile::parse(request.mobile.trim())
            .map_err(|e| AppError::Field {
                field: "mobile",
                reason: e.to_string(),
            })?
            .as_str()
            .to_string(),
        consent_on: request
            .consent_on
            .as_deref()
            .map(|d| {
                huifang_core::calendar::parse_date(d).ok_or_else(|| AppError::Field {
                    field: "consent_on",
                    reason: format!("{d:?} is not a date YYYY-MM-DD"),
                })
            })
            .transpose()?,
    };
    let mut tx = store.begin().await?;
    let contact = EmergencyContact {
        borrower_id: actor_borrower(&mut tx, actor, borrower).await?,
        ..contact
    };
    let id = tx.upsert_emergency_contact(&contact).await?;
    tx.commit().await?;
    Ok(emergency_view(borrower, id, &contact))
}

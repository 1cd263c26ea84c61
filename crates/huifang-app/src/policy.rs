//! The servicing policy as data: buckets, classification thresholds, warning rules and reminder
//! days are stored in the database, seeded with the product brief's defaults by `huifang init`,
//! loaded once per command or request, and shown and changed as a JSON document
//! (`huifang policy show|set FILE`). The rules themselves live in `huifang_core::policy`; this
//! module only maps the document to them and back.

use huifang_core::Date;
use huifang_core::policy::{Policy, WarningCondition, WarningRule};
use huifang_store::{Store, Tx};
use serde::{Deserialize, Serialize};

use crate::{AppError, lock_business_date};

/// The settings key the policy document is stored under.
const KEY: &str = "policy";

/// The policy document: every field is required, none other is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Width of a delinquency bucket in days (30: M1 = DPD 1–30).
    pub bucket_days: u32,
    /// The last bucket number (7: M7+).
    pub last_bucket: u8,
    /// The lowest DPD of each five-tier classification.
    pub classification_min_dpd: TierDays,
    /// Early-warning rules; a loan's level is the highest level whose rule holds.
    pub warning_rules: Vec<RuleDoc>,
    /// Days before a due date on which a repayment reminder is due (0: on the day).
    pub reminder_days_before: Vec<u32>,
}

/// The lowest DPD of each tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierDays {
    pub normal: u32,
    pub special_mention: u32,
    pub substandard: u32,
    pub doubtful: u32,
    pub loss: u32,
}

/// One warning rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub code: String,
    pub level: u8,
    pub condition: ConditionDoc,
}

/// What makes a warning rule fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionDoc {
    /// The `count` most recent installments past due date + grace were all late.
    ConsecutiveLate { count: u32 },
    /// Days past due at least `days`.
    DpdAtLeast { days: u32 },
}

impl From<&Policy> for PolicyDoc {
    fn from(p: &Policy) -> Self {
        let [normal, special_mention, substandard, doubtful, loss] = p.classification_min_dpd;
        PolicyDoc {
            bucket_days: p.bucket_days,
            last_bucket: p.last_bucket,
            classification_min_dpd: TierDays {
                normal,
                special_mention,
                substandard,
                doubtful,
                loss,
            },
            warning_rules: p
                .warning_rules
                .iter()
                .map(|r| RuleDoc {
                    code: r.code.clone(),
                    level: r.level,
                    condition: match r.condition {
                        WarningCondition::ConsecutiveLate { count } => {
                            ConditionDoc::ConsecutiveLate { count }
                        }
                        WarningCondition::DpdAtLeast { days } => ConditionDoc::DpdAtLeast { days },
                    },
                })
                .collect(),
            reminder_days_before: p.reminder_days_before.clone(),
        }
    }
}

impl From<PolicyDoc> for Policy {
    fn from(d: PolicyDoc) -> Self {
        let t = d.classification_min_dpd;
        Policy {
            bucket_days: d.bucket_days,
            last_bucket: d.last_bucket,
            classification_min_dpd: [
                t.normal,
                t.special_mention,
                t.substandard,
                t.doubtful,
                t.loss,
            ],
            warning_rules: d
                .warning_rules
                .into_iter()
                .map(|r| WarningRule {
                    code: r.code,
                    level: r.level,
                    condition: match r.condition {
                        ConditionDoc::ConsecutiveLate { count } => {
                            WarningCondition::ConsecutiveLate { count }
                        }
                        ConditionDoc::DpdAtLeast { days } => WarningCondition::DpdAtLeast { days },
                    },
                })
                .collect(),
            reminder_days_before: d.reminder_days_before,
        }
    }
}

/// Parses and validates a policy document. A malformed one is refused with the field named
/// (`policy.<path>: reason`).
pub fn parse(text: &str) -> Result<Policy, AppError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let doc: PolicyDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "policy".to_string()
        } else {
            format!("policy.{path}")
        };
        AppError::Invalid(format!("{field}: {}", e.into_inner()))
    })?;
    de.end()
        .map_err(|e| AppError::Invalid(format!("policy: {e}")))?;
    let policy = Policy::from(doc);
    policy
        .validate()
        .map_err(|e| AppError::Invalid(format!("policy.{}: {}", e.field, e.reason)))?;
    Ok(policy)
}

/// The policy as a pretty-printed JSON document (what `huifang policy set` reads back).
pub fn to_text(policy: &Policy) -> String {
    // A document of plain numbers, strings and lists always serialises.
    serde_json::to_string_pretty(&PolicyDoc::from(policy)).unwrap_or_default()
}

/// The policy in force: the stored document, or the product brief's defaults for a database
/// initialised before policies were stored. A stored document that no longer validates is an
/// error naming the field, not a silent fallback.
pub async fn load(store: &Store) -> Result<Policy, AppError> {
    let mut tx = store.begin().await?;
    let policy = load_in(&mut tx).await;
    tx.rollback().await?;
    policy
}

async fn load_in(tx: &mut Tx) -> Result<Policy, AppError> {
    match tx.setting(KEY).await? {
        None => Ok(Policy::default()),
        Some(text) => parse(&text).map_err(|e| AppError::Invalid(format!("stored {e}"))),
    }
}

/// Whether a policy is stored and is not `policy` (a close started under `policy` checks this
/// each day: a change between two of its days ends it). A database without a stored policy runs
/// on whatever policy its caller passes.
pub(crate) async fn stored_differs(tx: &mut Tx, policy: &Policy) -> Result<bool, AppError> {
    Ok(match tx.setting(KEY).await? {
        None => false,
        Some(text) => parse(&text).ok().as_ref() != Some(policy),
    })
}

/// Stores the defaults unless a policy is stored already (`huifang init`).
pub async fn seed_default(store: &Store) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    if tx.setting(KEY).await?.is_none() {
        tx.set_setting(KEY, &to_text(&Policy::default())).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What [`set`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// The business date the new policy applies after: from the next close on.
    pub business_date: Date,
    /// Whether the document differs from the one in force.
    pub changed: bool,
    /// Loans whose next close re-evaluates them under the new policy.
    pub loans_to_revisit: u64,
}

/// Validates `text` and stores it as the policy in force, in one transaction with the business
/// date locked. Every loan is then due the day after the business date, so the next close
/// re-evaluates each one under the new policy (its bucket, classification, warnings and next
/// event date: a new threshold may fall before the event date stored under the old one). A
/// document equal to the one in force changes nothing. A refused document changes nothing.
pub async fn set(store: &Store, text: &str) -> Result<PolicyChange, AppError> {
    let policy = parse(text)?;
    let mut tx = store.begin().await?;
    let business_date = lock_business_date(&mut tx).await?;
    if load_in(&mut tx).await.ok().as_ref() == Some(&policy) {
        tx.rollback().await?;
        return Ok(PolicyChange {
            business_date,
            changed: false,
            loans_to_revisit: 0,
        });
    }
    tx.set_setting(KEY, &to_text(&policy)).await?;
    let loans_to_revisit = tx.revisit_every_loan_after(business_date).await?;
    tx.commit().await?;
    Ok(PolicyChange {
        business_date,
        changed: true,
        loans_to_revisit,
    })
}

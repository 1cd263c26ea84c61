//! The early-warning rule set as data: versioned in the database (one row per version, never
//! changed), seeded with the product brief's defaults by `huifang init`, loaded with the policy
//! once per command or request, shown and changed as a JSON document (`huifang rules show|set
//! FILE`, `GET`/`PUT /api/v1/rules`). A new set applies from the next close, which re-evaluates
//! every loan under it. The rules themselves are the core's (`huifang_core::policy`).

use huifang_core::Date;
use huifang_core::policy::{Policy, WarningRule};
use huifang_store::{RuleSetRecord, Store, Tx};

use crate::team::{Actor, Role, now_stamp};

/// The warning rules and how long a warning whose condition is false stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub rules: Vec<WarningRule>,
    pub auto_resolve_days: u32,
}

impl Default for RuleSet {
    /// The product brief's rules, resolving at once.
    fn default() -> Self {
        RuleSet {
            rules: WarningRule::defaults(),
            auto_resolve_days: 0,
        }
    }
}
use crate::views::{PolicyDoc, RuleSetDoc};
use crate::{AppError, lock_business_date};

/// Parses and validates a rule-set document into rules (their versions as the document gives
/// them, else 0: [`set`] numbers them). A malformed one is refused with the rule and field named
/// (`rules[4].when.within_days (rule job_loss): …`).
pub fn parse(text: &str) -> Result<RuleSet, AppError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let doc: RuleSetDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "rules document".to_string()
        } else {
            named(&path, text)
        };
        AppError::Invalid(format!("{field}: {}", e.into_inner()))
    })?;
    de.end()
        .map_err(|e| AppError::Invalid(format!("rules document: {e}")))?;
    rules_of(&doc)
}

/// `path` with the id of the rule it is in, when the document names one.
fn named(path: &str, text: &str) -> String {
    let rule = path
        .strip_prefix("rules[")
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(i, _)| i.parse::<usize>().ok())
        .and_then(|i| {
            let v: serde_json::Value = serde_json::from_str(text).ok()?;
            v.get("rules")?
                .get(i)?
                .get("id")?
                .as_str()
                .map(String::from)
        });
    match rule {
        Some(id) => format!("{path} (rule {id})"),
        None => path.to_string(),
    }
}

fn rules_of(doc: &RuleSetDoc) -> Result<RuleSet, AppError> {
    let mut rules = Vec::with_capacity(doc.rules.len());
    for (i, r) in doc.rules.iter().enumerate() {
        let condition = r.when.to_condition().map_err(|e| {
            AppError::Invalid(format!("rules[{i}].when.signal (rule {}): {e}", r.id))
        })?;
        rules.push(WarningRule {
            code: r.id.clone(),
            level: r.level,
            version: r.version.unwrap_or(0),
            condition,
        });
    }
    let policy = Policy {
        warning_rules: rules,
        warning_auto_resolve_days: doc.auto_resolve_days,
        ..Policy::default()
    };
    policy.validate().map_err(|e| {
        let field = e.field.replacen("warning_rules[", "rules[", 1);
        let id = field
            .strip_prefix("rules[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(i, _)| i.parse::<usize>().ok())
            .and_then(|i| doc.rules.get(i))
            .map(|r| format!(" (rule {})", r.id))
            .unwrap_or_default();
        AppError::Invalid(format!("{field}{id}: {}", e.reason))
    })?;
    Ok(RuleSet {
        rules: policy.warning_rules,
        auto_resolve_days: policy.warning_auto_resolve_days,
    })
}

/// The rule set as a pretty-printed JSON document.
pub fn to_text(version: Option<u32>, set: &RuleSet) -> String {
    // A document of plain numbers and strings always serialises.
    serde_json::to_string_pretty(&RuleSetDoc::of(version, &set.rules, set.auto_resolve_days))
        .unwrap_or_default()
}

/// The rule set in force and its version: the latest stored set; before one is stored, the
/// rules a policy stored earlier carried, else the product brief's defaults (version 1). A
/// stored set that no longer validates is an error naming the field, not a silent fallback.
pub async fn load_in(tx: &mut Tx) -> Result<(u32, RuleSet), AppError> {
    if let Some(set) = tx.latest_rule_set().await? {
        let rules = parse(&set.document)
            .map_err(|e| AppError::Invalid(format!("stored rule set {}: {e}", set.version)))?;
        return Ok((version_of(&set)?, rules));
    }
    let rules = legacy_rules(tx).await?;
    Ok((
        1,
        rules.map_or_else(RuleSet::default, |rules| RuleSet {
            rules,
            auto_resolve_days: 0,
        }),
    ))
}

fn version_of(set: &RuleSetRecord) -> Result<u32, AppError> {
    u32::try_from(set.version)
        .map_err(|_| AppError::Invalid(format!("stored rule set version {}", set.version)))
}

/// The warning rules of a policy document stored before rule sets, as version 1.
async fn legacy_rules(tx: &mut Tx) -> Result<Option<Vec<WarningRule>>, AppError> {
    let Some(text) = tx.setting(crate::policy::KEY).await? else {
        return Ok(None);
    };
    let Ok(doc) = serde_json::from_str::<PolicyDoc>(&text) else {
        return Ok(None);
    };
    doc.warning_rules
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    Ok(WarningRule {
                        code: r.code.clone(),
                        level: r.level,
                        version: 1,
                        condition: r.condition.to_condition().map_err(AppError::Invalid)?,
                    })
                })
                .collect()
        })
        .transpose()
}

/// [`show`] for a user: every role that reads loans and their warnings.
pub async fn show_as(store: &Store, actor: &Actor) -> Result<RuleSetDoc, AppError> {
    actor.require(Role::reads_loans, "read the warning rules")?;
    show(store).await
}

/// [`set`] by a user: a risk officer or the administrator.
pub async fn set_as(store: &Store, actor: &Actor, text: &str) -> Result<RuleSetChange, AppError> {
    actor.require(
        Role::sets_warning_rules,
        "change the warning rules (risk officers and the administrator do)",
    )?;
    set(store, text).await
}

/// The rule set in force, as `huifang rules show` prints it.
pub async fn show(store: &Store) -> Result<RuleSetDoc, AppError> {
    let mut tx = store.begin().await?;
    let (version, set) = load_in(&mut tx).await?;
    tx.rollback().await?;
    Ok(RuleSetDoc::of(
        Some(version),
        &set.rules,
        set.auto_resolve_days,
    ))
}

/// Stores the rule set in force as version 1 unless a set is stored already (`huifang init`).
pub async fn seed_default(store: &Store) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    let set_on = tx.business_date().await?.unwrap_or_default();
    keep_in_force(&mut tx, set_on).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores the rule set in force (the defaults, or an earlier policy's rules) as version 1 when
/// no set is stored yet.
pub(crate) async fn keep_in_force(tx: &mut Tx, set_on: Date) -> Result<(), AppError> {
    if tx.latest_rule_set().await?.is_none() {
        let (version, rules) = load_in(tx).await?;
        tx.insert_rule_set(&RuleSetRecord {
            version: i64::from(version),
            document: to_text(None, &rules),
            set_on,
            set_at: now_stamp(),
        })
        .await?;
    }
    Ok(())
}

/// What [`set`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetChange {
    /// The version in force after the call.
    pub version: u32,
    /// Whether the document differs from the set in force (else nothing was stored).
    pub changed: bool,
    /// The business date the new set applies after: from the next close on.
    pub business_date: Date,
    /// Loans whose next close re-evaluates them under the new set.
    pub loans_to_revisit: u64,
}

/// Validates `text` and stores it as the next version of the rule set, in one transaction with
/// the business date locked. Each rule keeps its version when it is unchanged and takes the new
/// set's version when it is new or changed. Every loan is then due the day after the business
/// date, so the next close re-evaluates each one under the new rules. A document whose rules
/// equal those in force, or a refused one, changes nothing.
pub async fn set(store: &Store, text: &str) -> Result<RuleSetChange, AppError> {
    let mut set = parse(text)?;
    let mut tx = store.begin().await?;
    let business_date = lock_business_date(&mut tx).await?;
    let (current, in_force) = load_in(&mut tx).await?;
    let version = current + 1;
    set.rules = std::mem::take(&mut set.rules)
        .into_iter()
        .map(|mut r| {
            r.version = in_force
                .rules
                .iter()
                .find(|old| {
                    old.code == r.code && old.level == r.level && old.condition == r.condition
                })
                .map_or(version, |old| old.version);
            r
        })
        .collect();
    if set == in_force {
        tx.rollback().await?;
        return Ok(RuleSetChange {
            version: current,
            changed: false,
            business_date,
            loans_to_revisit: 0,
        });
    }
    // The set in force may come from the defaults or an earlier policy: it is version 1.
    keep_in_force(&mut tx, business_date).await?;
    tx.insert_rule_set(&RuleSetRecord {
        version: i64::from(version),
        document: to_text(None, &set),
        set_on: business_date,
        set_at: now_stamp(),
    })
    .await?;
    let loans_to_revisit = tx.revisit_every_loan_after(business_date).await?;
    tx.commit().await?;
    Ok(RuleSetChange {
        version,
        changed: true,
        business_date,
        loans_to_revisit,
    })
}

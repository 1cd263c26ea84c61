//! The servicing policy as data: buckets, classification thresholds and reminder days are stored
//! in the database, seeded with the product brief's defaults by `huifang init`, loaded once per
//! command or request with the warning rule set in force (`crate::rules`), and shown and changed
//! as a JSON document (`huifang policy show|set FILE`). The rules themselves live in
//! `huifang_core::policy`; this module only maps the document to them and back.

use huifang_core::Date;
use huifang_core::policy::Policy;

use crate::rules::RuleSet;
use huifang_store::{Store, Tx};

use crate::views::PolicyDoc;
use crate::{AppError, lock_business_date};

/// The settings key the policy document is stored under.
pub(crate) const KEY: &str = "policy";

/// Parses and validates a policy document, with the default warning rules. A malformed one is
/// refused with the field named (`policy.<path>: reason`); so is one that carries warning rules,
/// which are a rule set of their own (`huifang rules set`).
pub fn parse(text: &str) -> Result<Policy, AppError> {
    let doc = parse_doc(text)?;
    if doc.warning_rules.is_some() {
        return Err(AppError::Invalid(
            "policy.warning_rules: warning rules are a rule set of their own, changed with `huifang rules set`".into(),
        ));
    }
    with_rules(doc, RuleSet::default())
}

/// The policy of a document with these warning rules, validated.
fn with_rules(doc: PolicyDoc, rules: RuleSet) -> Result<Policy, AppError> {
    let policy = doc
        .into_policy(rules)
        .map_err(|e| AppError::Invalid(format!("policy.{e}")))?;
    policy
        .validate()
        .map_err(|e| AppError::Invalid(format!("policy.{}: {}", e.field, e.reason)))?;
    Ok(policy)
}

fn parse_doc(text: &str) -> Result<PolicyDoc, AppError> {
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
    Ok(doc)
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

pub(crate) async fn load_in(tx: &mut Tx) -> Result<Policy, AppError> {
    let (_, rules) = crate::rules::load_in(tx).await?;
    let doc = match tx.setting(KEY).await? {
        None => PolicyDoc::from(&Policy::default()),
        Some(text) => parse_doc(&text).map_err(|e| AppError::Invalid(format!("stored {e}")))?,
    };
    with_rules(doc, rules).map_err(|e| AppError::Invalid(format!("stored {e}")))
}

/// Whether a policy or rule set is stored and the two are not `policy` (a close started under
/// `policy` checks this each day: a change between two of its days ends it). A database with
/// neither stored runs on whatever policy its caller passes.
pub(crate) async fn stored_differs(tx: &mut Tx, policy: &Policy) -> Result<bool, AppError> {
    if tx.setting(KEY).await?.is_none() && tx.latest_rule_set().await?.is_none() {
        return Ok(false);
    }
    Ok(load_in(tx).await.ok().as_ref() != Some(policy))
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
    let doc = parse(text).map(|p| PolicyDoc::from(&p))?;
    let mut tx = store.begin().await?;
    let business_date = lock_business_date(&mut tx).await?;
    // The rules in force stay: stored as a set first if they still come from an earlier policy.
    crate::rules::keep_in_force(&mut tx, business_date).await?;
    let (_, rules) = crate::rules::load_in(&mut tx).await?;
    let policy = with_rules(doc, rules)?;
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

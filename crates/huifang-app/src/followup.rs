//! The follow-up (回访) engine in the flows: after every re-evaluation (daily close, payments,
//! loan operations) and every loan import, the core's planner says which tasks to create and to
//! cancel; this module loads what it needs per batch (open task keys, next continuous dates, the
//! plan of each product), writes the result in bulk in the caller's transaction, and brings each
//! loan's `next_event_on` forward to its next follow-up date so that the close visits it then.
//! Once per closed day, the promises to pay due the day before are marked kept or broken.
//!
//! Plans and scripts are data (JSON text in `followup_plans` and `scripts`); the defaults of the
//! product brief are seeded by `huifang init` and used whenever nothing is stored.

use std::collections::HashMap;

use huifang_core::calendar::add_months;
use huifang_core::followup::{
    self, FollowUpPlan, LoanFacts, PromiseOutcome, Question, Script, TaskKind,
};
use huifang_core::policy::Policy;
use huifang_core::status::{LoanEvent, LoanStatus, StatusSummary, WarningHit, dpd_on};
use huifang_core::warning::{ObservedSignal, SignalKind};
use huifang_core::{Date, LoanId};
use huifang_store::{Evaluation, Loan, Store, Task, TaskCancel, Tx};
use serde::Serialize;
use serde_json::Value;

use crate::AppError;
use crate::views::{PlanDoc, QuestionView, ScriptView};

/// The product code of the default plan.
pub const DEFAULT_PRODUCT: &str = "*";

/// A loan as a re-evaluation left it, for the planner.
#[derive(Debug, Clone)]
pub struct Reevaluated {
    pub loan_id: LoanId,
    pub product_code: String,
    pub disbursed_on: Date,
    /// The stored summary before; `None` for a loan just imported.
    pub before: Option<StatusSummary>,
    pub status: LoanStatus,
    /// The day's events (dated and transition events).
    pub events: Vec<LoanEvent>,
    /// (number, due date) of every installment not fully paid.
    pub open_installments: Vec<(u32, Date)>,
    /// Its next event date as evaluated (before any earlier visit the plan asks for).
    pub next_event_on: Option<Date>,
    /// Reason keys of its unfinished tasks and its next continuous follow-up date, as stored
    /// with its state (read with the loan).
    pub open_keys: Vec<String>,
    pub next_continuous_on: Option<Date>,
    /// Its risk score's band, when a plan routes tasks by it (`FollowUpPlan::score_queues`).
    pub band: Option<char>,
}

/// What the follow-up engine wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowupWritten {
    pub created: u64,
    pub cancelled: u64,
}

/// What the follow-up plan of a batch asks to store in its loans' state rows, each list in the
/// order of the batch. The re-evaluation stores both with the evaluations, in one write.
#[derive(Debug, Default)]
pub struct StateChanges {
    /// Loans whose next visit the plan wants earlier than their next loan event: (loan id,
    /// date), only ever earlier (decided in `apply`), so the date is the loan's next event date.
    pub pulls: Vec<(LoanId, Date)>,
    /// Loans whose next continuous follow-up date moves: (loan id, new date).
    pub nexts: Vec<(LoanId, Option<Date>)>,
}

/// The plans in force: per product code, falling back to the default.
#[derive(Debug, Clone)]
pub struct Plans {
    default: FollowUpPlan,
    by_product: HashMap<String, FollowUpPlan>,
}

impl Plans {
    /// Loads the stored plans (the built-in default when none is stored).
    pub async fn load(tx: &mut Tx) -> Result<Plans, AppError> {
        let mut plans = Plans {
            default: FollowUpPlan::default(),
            by_product: HashMap::new(),
        };
        for (code, text) in tx.followup_plans().await? {
            let plan = plan_from_text(&text)
                .map_err(|e| AppError::Invalid(format!("stored follow-up plan {code:?}: {e}")))?;
            if code == DEFAULT_PRODUCT {
                plans.default = plan;
            } else {
                plans.by_product.insert(code, plan);
            }
        }
        Ok(plans)
    }

    /// The plan of a product.
    pub fn for_product(&self, code: &str) -> &FollowUpPlan {
        self.by_product.get(code).unwrap_or(&self.default)
    }

    /// Whether any plan routes tasks by the loans' risk scores.
    pub fn route_by_band(&self) -> bool {
        self.default.routes_by_band() || self.by_product.values().any(FollowUpPlan::routes_by_band)
    }
}

/// What the follow-up plan of a batch asks to write: tasks to create and to cancel, and the
/// loans to check for an `unreachable` signal. Computed without the database (`plan_batch`),
/// written by `write`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FollowupPlanned {
    creates: Vec<Task>,
    cancels: Vec<TaskCancel>,
}

/// The tasks a batch's follow-up created and cancelled, as (loan id, reason key): how the
/// loans' open task keys changed.
#[derive(Debug, Default)]
pub(crate) struct TaskChanges {
    pub created: Vec<(LoanId, String)>,
    pub cancelled: Vec<(LoanId, String)>,
}

impl TaskChanges {
    pub(crate) fn written(&self) -> FollowupWritten {
        FollowupWritten {
            created: crate::to_u64(self.created.len()),
            cancelled: crate::to_u64(self.cancelled.len()),
        }
    }
}

impl FollowupPlanned {
    /// Writes the plan in the caller's transaction. The caller stores the loans' open task keys
    /// as the returned changes leave them.
    pub(crate) async fn write(&self, tx: &mut Tx, date: Date) -> Result<TaskChanges, AppError> {
        let created = tx.insert_planned_tasks(&self.creates).await?;
        let cancelled = tx.cancel_tasks(&self.cancels, date).await?;
        Ok(TaskChanges { created, cancelled })
    }
}

/// Plans the follow-up of loans just imported: welcome call and initial follow-up (late ones
/// marked). An imported loan's continuous series and collection tasks wait for its payments
/// (usually imported next); an overdue one is visited by the next close. The loans are planned
/// and written `batch_loans` at a time (at least one): the import's batch size.
pub async fn after_import(
    tx: &mut Tx,
    policy: &Policy,
    date: Date,
    loans: &[Loan],
    ids: &HashMap<String, LoanId>,
    batch_loans: usize,
) -> Result<FollowupWritten, AppError> {
    let codes: HashMap<i64, String> = tx
        .products()
        .await?
        .into_iter()
        .map(|p| (p.id, p.product.code))
        .collect();
    let items: Vec<Reevaluated> = loans
        .iter()
        .filter_map(|l| {
            Some(Reevaluated {
                loan_id: *ids.get(&l.external_id)?,
                product_code: codes.get(&l.product_id).cloned().unwrap_or_default(),
                disbursed_on: l.terms.disbursed_on,
                before: None,
                status: status_of_evaluation(&l.evaluation),
                events: Vec::new(),
                // nothing is paid yet: every installment, due on disbursement + k months
                open_installments: (1..=l.terms.term_months)
                    .map(|k| (k, add_months(l.terms.disbursed_on, k)))
                    .collect(),
                next_event_on: l.evaluation.next_event_on,
                // loans just imported have no tasks and no follow-up dates yet
                open_keys: Vec::new(),
                next_continuous_on: None,
                band: None, // not scored yet
            })
        })
        .collect();
    let plans = Plans::load(tx).await?;
    let mut written = FollowupWritten::default();
    for chunk in items.chunks(batch_loans.max(1)) {
        let ids: Vec<LoanId> = chunk.iter().map(|l| l.loan_id).collect();
        let (planned, state) = plan_batch(&plans, policy, date, chunk);
        let w = planned.write(tx, date).await?.written();
        tx.refresh_open_task_keys(&ids).await?;
        tx.set_next_event_on(&state.pulls).await?;
        tx.set_next_continuous(&state.nexts).await?;
        written.created += w.created;
        written.cancelled += w.cancelled;
    }
    Ok(written)
}

/// The status a stored evaluation describes (what the planner reads of it).
fn status_of_evaluation(e: &Evaluation) -> LoanStatus {
    let dpd = dpd_on(e.oldest_unpaid_due, e.evaluated_on);
    LoanStatus {
        as_of: e.evaluated_on,
        lifecycle: e.summary.lifecycle,
        oldest_unpaid_due: e.oldest_unpaid_due,
        dpd,
        bucket: e.summary.bucket,
        classification: e.summary.classification,
        overdue_installments: e.summary.overdue_installments,
        outstanding_principal: e.outstanding_principal,
        overdue_amount: huifang_core::Money::ZERO,
        penalty_due: huifang_core::Money::ZERO,
        warning: (e.summary.warning_level > 0).then(|| WarningHit {
            level: e.summary.warning_level,
            rule: e.warning_rule.clone().unwrap_or_default(),
            version: 0,
            facts: Vec::new(),
            text: Default::default(),
        }),
    }
}

/// Plans the follow-up of a batch of loans (re-evaluated, or just imported): what to write, and what
/// to change in the loans' state rows. The latter is returned apart: the caller stores it with the
/// loans' state, in one write.
pub(crate) fn plan_batch(
    plans: &Plans,
    policy: &Policy,
    date: Date,
    loans: &[Reevaluated],
) -> (FollowupPlanned, StateChanges) {
    let mut creates = Vec::new();
    let mut cancels = Vec::new();
    let mut state = StateChanges::default();
    for l in loans {
        let plan = plans.for_product(&l.product_code);
        let next = l.next_continuous_on;
        let facts = LoanFacts {
            date,
            disbursed_on: l.disbursed_on,
            status: &l.status,
            before: l.before.as_ref(),
            events: &l.events,
            open_installments: &l.open_installments,
            open_keys: &l.open_keys,
            next_continuous_on: next,
            next_event_on: l.next_event_on,
        };
        let actions = followup::plan(plan, policy, &facts);
        creates.extend(actions.create.into_iter().map(|t| Task {
            loan_id: l.loan_id,
            kind: t.kind.as_str().to_string(),
            reason_key: t.reason_key,
            queue_code: plan.queue_for(t.kind, l.band, t.queue),
            assignee_id: None,
            created_on: date,
            due_on: t.due_on,
            window_end_on: t.window_end_on,
            late: t.late,
            max_attempts: i64::from(plan.max_attempts),
        }));
        cancels.extend(actions.cancel.into_iter().map(|(key, why)| TaskCancel {
            loan_id: l.loan_id,
            reason_key: key,
            reason: why.as_str().to_string(),
        }));
        if actions.next_continuous_on != next {
            state.nexts.push((l.loan_id, actions.next_continuous_on));
        }
        if let Some(visit) = actions.next_visit_on
            && l.next_event_on.is_none_or(|n| visit < n)
        {
            state.pulls.push((l.loan_id, visit));
        }
    }
    let planned = FollowupPlanned { creates, cancels };
    (planned, state)
}

/// The `unreachable` risk signal the core's rule gives the loan today, with its details.
pub(crate) fn unreachable_signal(
    plan: &FollowUpPlan,
    status: &LoanStatus,
    last_reached: Option<Date>,
    signals: &[ObservedSignal],
) -> Option<ObservedSignal> {
    let days = followup::unreachable_signal_days(plan, status, last_reached, signals)?;
    Some(ObservedSignal {
        kind: SignalKind::Unreachable.as_str().to_string(),
        observed_on: status.as_of,
        value: signal_details(&UnreachableDetails {
            days,
            dpd: status.dpd,
        }),
    })
}

/// What the day's promise check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromisesResolved {
    pub kept: u64,
    pub broken: u64,
    /// Loans with a promise broken (a `broken_promise` risk signal each).
    pub signalled: Vec<LoanId>,
}

/// Once per closed day `date`: every open promise whose date has passed is kept (the loan's
/// payments from the promise through its date reach its amount) or broken; a broken promise is
/// a `broken_promise` risk signal.
pub async fn close_day(tx: &mut Tx, date: Date) -> Result<PromisesResolved, AppError> {
    let due = tx.open_promises_due_before(date).await?;
    if due.is_empty() {
        return Ok(PromisesResolved::default());
    }
    let mut loan_ids: Vec<LoanId> = due.iter().map(|p| p.loan_id).collect();
    loan_ids.sort_unstable();
    loan_ids.dedup();
    let payments = tx.payments_of_loans(&loan_ids).await?;
    let mut resolved = Vec::with_capacity(due.len());
    let mut signals = Vec::new();
    let mut report = PromisesResolved::default();
    for p in &due {
        let pays = payments.get(&p.loan_id).map_or(&[][..], Vec::as_slice);
        let outcome = followup::evaluate_promise(p.amount, p.promised_on, p.due_on, pays, date);
        match outcome {
            PromiseOutcome::Kept => report.kept += 1,
            PromiseOutcome::Broken => {
                report.broken += 1;
                signals.push((
                    p.loan_id,
                    "broken_promise".to_string(),
                    signal_details(&BrokenPromiseDetails {
                        amount: p.amount.to_string(),
                        due_on: p.due_on.to_string(),
                        promise: p.id,
                    }),
                    date,
                    Some(p.interaction_id),
                ));
            }
            PromiseOutcome::Open => continue,
        }
        resolved.push((p.id, outcome.as_str().to_string()));
    }
    tx.resolve_promises(&resolved, date).await?;
    tx.insert_risk_signals(&signals).await?;
    report.signalled = signals.into_iter().map(|s| s.0).collect();
    Ok(report)
}

/// The details of an `unreachable` risk signal (fields in sorted order, as stored).
#[derive(Serialize)]
struct UnreachableDetails {
    days: u32,
    dpd: u32,
}

/// The details of a `broken_promise` risk signal (fields in sorted order, as stored).
#[derive(Serialize)]
struct BrokenPromiseDetails {
    amount: String,
    due_on: String,
    promise: i64,
}

/// A signal's details as stored: a JSON object (plain fields always serialise).
fn signal_details(details: &impl Serialize) -> String {
    serde_json::to_string(details).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Plans and scripts as JSON

/// A plan as JSON (the `views::PlanDoc` document).
pub fn plan_to_json(p: &FollowUpPlan) -> Value {
    serde_json::to_value(PlanDoc::from(p)).unwrap_or(Value::Null)
}

/// Parses a plan from JSON; missing fields take the defaults, and the error names the field.
pub fn plan_from_json(v: &Value) -> Result<FollowUpPlan, String> {
    let doc: PlanDoc = serde_path_to_error::deserialize(v.clone()).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })?;
    doc.into_plan()
}

fn plan_from_text(text: &str) -> Result<FollowUpPlan, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    plan_from_json(&v)
}

/// A script's questions as JSON (a list of `views::QuestionView`).
pub fn script_to_json(s: &Script) -> Value {
    let questions: Vec<QuestionView> = s.questions.iter().map(QuestionView::from).collect();
    serde_json::to_value(questions).unwrap_or(Value::Null)
}

/// Stores the default plan (product '*') and the default scripts in zh and en, keeping anything
/// already stored. Called by `huifang init`.
pub async fn seed_defaults(store: &Store) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    if tx.followup_plan(DEFAULT_PRODUCT).await?.is_none() {
        tx.put_followup_plan(
            DEFAULT_PRODUCT,
            &plan_to_json(&FollowUpPlan::default()).to_string(),
        )
        .await?;
    }
    for kind in TaskKind::ALL {
        for lang in followup::SCRIPT_LANGS {
            let script = followup::default_script(kind, lang);
            tx.put_script(
                kind.as_str(),
                lang,
                &script_to_json(&script).to_string(),
                false,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The plan in force for a product (its own, else the default), as JSON.
pub async fn show_plan(store: &Store, product: Option<&str>) -> Result<Value, AppError> {
    let mut tx = store.begin().await?;
    let plans = Plans::load(&mut tx).await?;
    tx.rollback().await?;
    Ok(plan_to_json(
        plans.for_product(product.unwrap_or(DEFAULT_PRODUCT)),
    ))
}

/// Stores a product's plan (default '*') from JSON text; it is checked first.
pub async fn set_plan(store: &Store, product: Option<&str>, text: &str) -> Result<Value, AppError> {
    let plan = plan_from_text(text).map_err(|e| AppError::Invalid(format!("plan: {e}")))?;
    let v = plan_to_json(&plan);
    let product = product.map_or(DEFAULT_PRODUCT, str::trim);
    let mut tx = store.begin().await?;
    if product != DEFAULT_PRODUCT
        && !tx
            .products()
            .await?
            .iter()
            .any(|p| p.product.code == product)
    {
        return Err(AppError::NotFound {
            what: "product",
            id: product.to_string(),
        });
    }
    tx.put_followup_plan(product, &v.to_string()).await?;
    tx.commit().await?;
    Ok(v)
}

fn script_lang(lang: &str) -> Result<(), AppError> {
    if followup::SCRIPT_LANGS.contains(&lang) {
        Ok(())
    } else {
        Err(AppError::Field {
            field: "lang",
            reason: format!(
                "{lang:?}: scripts exist in {}",
                followup::SCRIPT_LANGS.join(", ")
            ),
        })
    }
}

/// The task kind of the script a caller names by kind and language; a kind or a language
/// without scripts is no such script.
pub fn script_named(kind: &str, lang: &str) -> Result<TaskKind, AppError> {
    let missing = || AppError::NotFound {
        what: "script",
        id: format!("{kind}/{lang}"),
    };
    let kind: TaskKind = kind.parse().map_err(|_: String| missing())?;
    script_lang(lang).map_err(|_| missing())?;
    Ok(kind)
}

/// Reads a script's questions from JSON text (a list of questions, or a script document with
/// `questions`), checked by the core; the error names the field.
pub fn questions_from_text(text: &str) -> Result<Vec<Question>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let list = match v {
        Value::Object(mut doc) => doc
            .remove("questions")
            .ok_or_else(|| "questions: missing (a list of questions)".to_string())?,
        other => other,
    };
    let views: Vec<QuestionView> = serde_path_to_error::deserialize(list).map_err(|e| {
        format!(
            "questions{}: {}",
            e.path().to_string().trim_start_matches('.'),
            e.into_inner()
        )
    })?;
    let questions = views
        .iter()
        .enumerate()
        .map(|(i, q)| {
            q.to_question().ok_or_else(|| {
                format!(
                    "questions[{i}].answer: {:?} is not yes_no, choice (with options), number, money, date or text",
                    q.answer
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    followup::check_questions(&questions)?;
    Ok(questions)
}

/// Stores the script of a task kind in a language from JSON text, checked first; returns it as
/// shown. Tasks take it from their next showing on; answers already recorded stay as they are.
pub async fn set_script(
    store: &Store,
    kind: TaskKind,
    lang: &str,
    text: &str,
) -> Result<ScriptView, AppError> {
    script_lang(lang)?;
    let questions = questions_from_text(text).map_err(|reason| AppError::Field {
        field: "questions",
        reason,
    })?;
    let script = Script {
        kind,
        lang: lang.to_string(),
        questions,
    };
    let mut tx = store.begin().await?;
    tx.put_script(
        kind.as_str(),
        lang,
        &script_to_json(&script).to_string(),
        true,
    )
    .await?;
    tx.commit().await?;
    show_script(store, kind, lang).await
}

/// [`set_plan`] by a user: the admin.
pub async fn set_plan_as(
    store: &Store,
    actor: &crate::team::Actor,
    product: Option<&str>,
    text: &str,
) -> Result<Value, AppError> {
    require_settings(actor, "follow-up plans")?;
    set_plan(store, product, text).await
}

/// [`set_script`] by a user: the admin.
pub async fn set_script_as(
    store: &Store,
    actor: &crate::team::Actor,
    kind: TaskKind,
    lang: &str,
    text: &str,
) -> Result<ScriptView, AppError> {
    require_settings(actor, "scripts")?;
    set_script(store, kind, lang, text).await
}

fn require_settings(actor: &crate::team::Actor, what: &str) -> Result<(), AppError> {
    if actor.role.administers() {
        Ok(())
    } else {
        Err(crate::team::forbidden(format!(
            "{} may not change {what} (admin only)",
            actor.name()
        )))
    }
}

/// The script of a task kind in a language: the stored one, else the default.
pub async fn show_script(
    store: &Store,
    kind: TaskKind,
    lang: &str,
) -> Result<ScriptView, AppError> {
    script_lang(lang)?;
    let mut tx = store.begin().await?;
    let stored = tx.script(kind.as_str(), lang).await?;
    tx.rollback().await?;
    let questions = match stored {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| AppError::Invalid(format!("stored script {kind}/{lang}: {e}")))?,
        None => script_to_json(&followup::default_script(kind, lang)),
    };
    let view = ScriptView {
        kind: kind.as_str().to_string(),
        name: kind.zh().to_string(),
        lang: lang.to_string(),
        questions,
    };
    Ok(view)
}

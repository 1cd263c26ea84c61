//! What Huifang shows and what it is asked, as serde types: the one view layer of the command
//! line's JSON, the HTTP API (whose OpenAPI document is generated from these types) and the
//! console. No JSON is built by hand outside this module.
//!
//! Conventions: money is a decimal string with two places (`"1234.50"`), dates are ISO
//! (`"2026-12-05"`), names are the core's (`"special_mention"`, `"in_progress"`). ID numbers
//! and mobiles are masked unless the view says `revealed`.

use std::collections::BTreeMap;

use huifang_core::TaskId;
use huifang_core::decision::DecisionLimits;
use huifang_core::followup::{
    AnswerType, ChoiceOption, EscalationTier, FollowUpPlan, Playbook, Question, ScoreQueue,
    TaskKind,
};
use huifang_core::loan::LoanOp;
use huifang_core::policy::{Classification, Policy, WarningCondition, WarningRule};
use huifang_core::schedule::Installment;
use huifang_core::status::LoanStatus;
use huifang_core::{Date, Money, Rate};
use huifang_ledger::Hash;
use huifang_store::{
    DepthRow, InteractionRecord, LeafRecord, QueueRecord, SummaryRow, TaskRecord, UserRecord,
    WarningRecord, WarningRow, WarningStepRecord,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppError;
use crate::ledger::{ConsistencyProof, DocumentMatch, InclusionProof};
use crate::loans::LoanView;
use crate::status::StatusLine;
use crate::team::{Actor, Recorded, Role, TaskView, TeamStats};

fn amount(m: Money) -> String {
    m.to_string()
}

fn hex_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(hex::encode).collect()
}

/// A stored JSON text as JSON (a text that is not JSON is returned as a string).
/// Answers to a task's script, by question id: text, yes/no, a number, or null for none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct ScriptAnswers(pub BTreeMap<String, AnswerValue>);

/// One answer to a script question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    Text(String),
    Flag(bool),
    Number(serde_json::Number),
    None(()),
}

impl AnswerValue {
    /// The answer as the core reads it: yes/no for flags, empty for none.
    pub fn text(&self) -> String {
        match self {
            AnswerValue::Text(s) => s.clone(),
            AnswerValue::Flag(true) => "yes".into(),
            AnswerValue::Flag(false) => "no".into(),
            AnswerValue::Number(n) => n.to_string(),
            AnswerValue::None(()) => String::new(),
        }
    }
}

impl<const N: usize> From<[(&str, AnswerValue); N]> for ScriptAnswers {
    fn from(pairs: [(&str, AnswerValue); N]) -> Self {
        ScriptAnswers(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
}

fn json_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

// ----- loans ----------------------------------------------------------------------------------

/// A loan's status on the business date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LoanStatusView {
    /// active, paid_off or written_off.
    pub lifecycle: String,
    /// Days past due.
    pub dpd: u32,
    /// M0 … M7+.
    pub bucket: String,
    /// normal, special_mention, substandard, doubtful or loss.
    pub classification: String,
    /// Installments due before the business date with an unpaid amount.
    pub overdue_installments: u32,
    pub outstanding_principal: String,
    /// Everything due now: overdue principal, interest and penalty.
    pub overdue_amount: String,
    pub penalty_due: String,
    /// The highest warning level whose rule holds now (0: none).
    pub warning_level: u8,
}

impl From<&LoanStatus> for LoanStatusView {
    fn from(s: &LoanStatus) -> Self {
        LoanStatusView {
            lifecycle: s.lifecycle.as_str().to_string(),
            dpd: s.dpd,
            bucket: s.bucket.to_string(),
            classification: s.classification.as_str().to_string(),
            overdue_installments: s.overdue_installments,
            outstanding_principal: amount(s.outstanding_principal),
            overdue_amount: amount(s.overdue_amount),
            penalty_due: amount(s.penalty_due),
            warning_level: s.warning_level(),
        }
    }
}

/// A warning raised on a loan, with the facts that fired it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WarningView {
    pub level: u8,
    /// The rule's code.
    pub rule: String,
    #[schema(value_type = Object)]
    pub facts: Value,
    pub raised_on: String,
    pub cleared_on: Option<String>,
}

impl From<&WarningRecord> for WarningView {
    fn from(w: &WarningRecord) -> Self {
        WarningView {
            level: w.level,
            rule: w.rule.clone(),
            facts: json_text(&w.facts),
            raised_on: w.raised_on.to_string(),
            cleared_on: w.cleared_on.map(|d| d.to_string()),
        }
    }
}

/// A warning in the risk officers' list: where it is in its life, and what fired it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WarningItemView {
    pub id: i64,
    pub loan: String,
    /// raised, acknowledged, actioned, resolved or escalated.
    pub state: String,
    /// The business date since which no rule holds for its loan, while it waits to be resolved.
    pub false_since: Option<String>,
    /// The facts as a risk officer reads them (Chinese, English).
    pub text_zh: String,
    pub text_en: String,
    #[serde(flatten)]
    pub warning: WarningView,
}

impl From<&WarningRow> for WarningItemView {
    fn from(w: &WarningRow) -> Self {
        let warning = WarningView::from(&w.warning);
        let text = |key: &str| {
            warning
                .facts
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        WarningItemView {
            id: w.id,
            loan: w.loan_external_id.clone(),
            state: w.state.as_str().to_string(),
            false_since: w.false_since.map(|d| d.to_string()),
            text_zh: text("text_zh"),
            text_en: text("text_en"),
            warning,
        }
    }
}

/// Warnings, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WarningListView {
    pub warnings: Vec<WarningItemView>,
}

/// One step of a warning's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WarningStepView {
    pub action: String,
    /// Who took it; absent for the system.
    pub by: Option<String>,
    pub task_id: Option<i64>,
    pub note: String,
    pub business_date: String,
    pub occurred_at: Option<String>,
}

impl From<&WarningStepRecord> for WarningStepView {
    fn from(s: &WarningStepRecord) -> Self {
        WarningStepView {
            action: s.step.action.as_str().to_string(),
            by: s.username.clone(),
            task_id: s.step.task_id.map(TaskId::get),
            note: s.step.note.clone(),
            business_date: s.step.business_date.to_string(),
            occurred_at: s.step.occurred_at.clone(),
        }
    }
}

/// A warning with its history, oldest step first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WarningDetailView {
    pub warning: WarningItemView,
    pub history: Vec<WarningStepView>,
}

/// A note on a step (acknowledging a warning).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningNoteRequest {
    #[serde(default)]
    pub note: String,
}

/// What was done about a warning: the task that answers it, and a note.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningActionRequest {
    pub task_id: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// Why a warning is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarningResolveRequest {
    pub reason: String,
}

/// One tier of the five-tier report: loans and outstanding principal on each date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierLineView {
    pub tier: String,
    /// 正常, 关注, 次级, 可疑, 损失.
    pub tier_zh: String,
    pub loans_from: u64,
    pub balance_from: String,
    pub loans_to: u64,
    pub balance_to: String,
}

/// Loans that moved from one tier to another between the two dates, with their balance on the
/// first (`from` absent: new to the book; `to` absent: paid off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierMoveView {
    pub from: Option<String>,
    pub to: Option<String>,
    pub loans: u64,
    pub balance: String,
    /// The share of the `from` tier's loans, in percent with two decimals.
    pub rate_pct: Option<String>,
}

/// The five-tier classification report (五级分类) between two dates, and its migration matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TierReportView {
    pub from: String,
    pub to: String,
    pub tiers: Vec<TierLineView>,
    pub moves: Vec<TierMoveView>,
}

impl TierReportView {
    pub fn new(from: Date, to: Date, r: &huifang_core::report::TierMigration) -> TierReportView {
        let total = |m: &BTreeMap<Classification, huifang_core::report::TierTotal>, c| {
            m.get(&c).copied().unwrap_or_default()
        };
        let tiers = Classification::ALL
            .into_iter()
            .map(|c| {
                let (a, b) = (total(&r.from, c), total(&r.to, c));
                TierLineView {
                    tier: c.as_str().to_string(),
                    tier_zh: c.zh().to_string(),
                    loans_from: a.loans,
                    balance_from: a.balance.to_string(),
                    loans_to: b.loans,
                    balance_to: b.balance.to_string(),
                }
            })
            .collect();
        let moves = r
            .cells
            .iter()
            .map(|((a, b), t)| TierMoveView {
                from: a.map(|c| c.as_str().to_string()),
                to: b.map(|c| c.as_str().to_string()),
                loans: t.loans,
                balance: t.balance.to_string(),
                rate_pct: match (a, b) {
                    (Some(a), Some(b)) => r
                        .rate_bp(*a, *b)
                        .map(|bp| format!("{}.{:02}", bp / 100, bp % 100)),
                    _ => None,
                },
            })
            .collect();
        TierReportView {
            from: from.to_string(),
            to: to.to_string(),
            tiers,
            moves,
        }
    }
}

/// A decision on a loan, as asked for over the API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequestView {
    /// defer, restructure, early_settlement, acceleration, write_off or classify.
    pub kind: String,
    /// defer, payment_holiday: months.
    pub months: Option<u32>,
    /// restructure: the new annual rate ("0.06"), term in months and method.
    pub annual_rate: Option<String>,
    pub term_months: Option<u32>,
    pub method: Option<String>,
    /// classify: the floor tier.
    pub floor: Option<String>,
    /// Effective date (YYYY-MM-DD; default the business date).
    pub on: Option<String>,
    pub reason: String,
}

impl DecisionRequestView {
    /// The request, parsed; a missing or malformed field is named.
    pub fn to_request(&self) -> Result<crate::decisions::DecisionRequest, AppError> {
        let need = |field: &'static str| AppError::Field {
            field,
            reason: format!("required for a {}", self.kind),
        };
        let op = match self.kind.as_str() {
            "defer" => LoanOp::Defer {
                months: self.months.ok_or_else(|| need("months"))?,
            },
            "payment_holiday" => LoanOp::PaymentHoliday {
                months: self.months.ok_or_else(|| need("months"))?,
            },
            "restructure" => LoanOp::Restructure {
                annual_rate: Rate::parse_annual(
                    self.annual_rate
                        .as_deref()
                        .ok_or_else(|| need("annual_rate"))?,
                )
                .map_err(|e| AppError::Field {
                    field: "annual_rate",
                    reason: e.to_string(),
                })?,
                term_months: self.term_months.ok_or_else(|| need("term_months"))?,
                method: self
                    .method
                    .as_deref()
                    .ok_or_else(|| need("method"))?
                    .parse()
                    .map_err(|reason| AppError::Field {
                        field: "method",
                        reason,
                    })?,
            },
            "early_settlement" => LoanOp::EarlySettlement,
            "acceleration" => LoanOp::Acceleration,
            "write_off" => LoanOp::WriteOff,
            "classify" => LoanOp::Classify {
                floor: self
                    .floor
                    .as_deref()
                    .ok_or_else(|| need("floor"))?
                    .parse()
                    .map_err(|reason| AppError::Field {
                        field: "floor",
                        reason,
                    })?,
            },
            other => {
                return Err(AppError::Field {
                    field: "kind",
                    reason: format!(
                        "unknown decision {other:?}: defer, payment_holiday, restructure, early_settlement, acceleration, write_off or classify"
                    ),
                });
            }
        };
        let on = optional_date("on", self.on.as_deref())?;
        Ok(crate::decisions::DecisionRequest {
            op,
            on,
            reason: self.reason.clone(),
        })
    }
}

/// A decision on a loan: applied (its operation recorded), or pending a second approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DecisionView {
    pub id: i64,
    pub loan: String,
    pub kind: String,
    pub on: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: String,
    /// applied or pending.
    pub state: String,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
}

impl From<&huifang_store::DecisionRecord> for DecisionView {
    fn from(r: &huifang_store::DecisionRecord) -> Self {
        DecisionView {
            id: r.id,
            loan: r.loan_external_id.clone(),
            kind: r.decision.op.op.kind().as_str().to_string(),
            on: r.decision.op.on.to_string(),
            reason: r.decision.reason.clone(),
            requested_by: r.requester.clone(),
            requested_at: r.decision.requested_at.clone(),
            state: if r.applied { "applied" } else { "pending" }.to_string(),
            approved_by: r.approved_by.clone(),
            approved_at: r.approved_at.clone(),
        }
    }
}

/// Decisions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DecisionListView {
    pub decisions: Vec<DecisionView>,
}

/// A borrower as the caller may see them: ID number and mobile masked unless `revealed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BorrowerView {
    pub external_id: String,
    pub name: String,
    pub id_number: String,
    pub mobile: String,
    /// 还款账户, when known: its last four digits unless revealed.
    pub bank_account: Option<String>,
    pub city: String,
    pub revealed: bool,
}

/// A loan for the roles that read loans: contract, status, borrower and warnings.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LoanSummaryView {
    pub external_id: String,
    pub business_date: String,
    /// The product's code.
    pub product: String,
    pub principal: String,
    pub disbursed_on: String,
    pub vehicle_model: String,
    pub dealer: String,
    pub status: LoanStatusView,
    pub borrower: BorrowerView,
    pub warnings: Vec<WarningView>,
}

impl LoanSummaryView {
    pub fn new(view: &LoanView, borrower: &BorrowerView) -> Self {
        LoanSummaryView {
            external_id: view.loan.loan.external_id.clone(),
            business_date: view.business_date.to_string(),
            product: view.loan.product_code.clone(),
            principal: amount(view.loan.loan.terms.principal),
            disbursed_on: view.loan.loan.terms.disbursed_on.to_string(),
            vehicle_model: view.loan.loan.vehicle_model.clone(),
            dealer: view.loan.loan.dealer.clone(),
            status: LoanStatusView::from(&view.status),
            borrower: borrower.clone(),
            warnings: view.warnings.iter().map(WarningView::from).collect(),
        }
    }
}

// ----- tasks ----------------------------------------------------------------------------------

/// A follow-up task (no personal data: loan and borrower external ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskSummary {
    pub id: i64,
    /// The loan's external id.
    pub loan: String,
    pub kind: String,
    pub reason_key: String,
    pub queue: String,
    /// open, assigned, in_progress, rescheduled, done, failed or cancelled.
    pub state: String,
    /// The assignee's username.
    pub assignee: Option<String>,
    pub created_on: String,
    pub due_on: String,
    pub window_end_on: Option<String>,
    pub late: bool,
    pub attempts: i64,
    pub max_attempts: i64,
    pub outcome: Option<String>,
    pub closed_on: Option<String>,
    pub close_reason: Option<String>,
}

impl From<&TaskRecord> for TaskSummary {
    fn from(t: &TaskRecord) -> Self {
        TaskSummary {
            id: t.id.get(),
            loan: t.loan_external_id.clone(),
            kind: t.task.kind.clone(),
            reason_key: t.task.reason_key.clone(),
            queue: t.task.queue_code.clone(),
            state: t.state.as_str().to_string(),
            assignee: t.assignee.clone(),
            created_on: t.task.created_on.to_string(),
            due_on: t.task.due_on.to_string(),
            window_end_on: t.task.window_end_on.map(|d| d.to_string()),
            late: t.task.late,
            attempts: t.attempts,
            max_attempts: t.task.max_attempts,
            outcome: t.outcome.clone(),
            closed_on: t.closed_on.map(|d| d.to_string()),
            close_reason: t.close_reason.clone(),
        }
    }
}

/// The caller's open tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskSummary>,
}

impl TaskList {
    pub fn new(tasks: &[TaskRecord]) -> Self {
        TaskList {
            tasks: tasks.iter().map(TaskSummary::from).collect(),
        }
    }
}

/// One task (or none, when there is nothing to take).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskAnswer {
    pub task: Option<TaskSummary>,
}

impl TaskAnswer {
    pub fn new(task: Option<&TaskRecord>) -> Self {
        TaskAnswer {
            task: task.map(TaskSummary::from),
        }
    }
}

/// The loan of a task as its agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskLoanView {
    pub external_id: String,
    pub business_date: String,
    #[serde(flatten)]
    pub status: LoanStatusView,
    pub vehicle_model: String,
}

/// One recorded contact with the borrower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InteractionView {
    pub id: i64,
    pub channel: String,
    pub outcome: String,
    pub occurred_at: String,
    pub business_date: String,
    pub duration_seconds: i64,
    pub notes: String,
    /// The user who made (or placed) the contact.
    pub user_id: i64,
}

impl From<&InteractionRecord> for InteractionView {
    fn from(i: &InteractionRecord) -> Self {
        InteractionView {
            id: i.id,
            channel: i.interaction.channel.clone(),
            outcome: i.interaction.outcome.clone(),
            occurred_at: i.interaction.occurred_at.clone(),
            business_date: i.interaction.business_date.to_string(),
            duration_seconds: i.interaction.duration_seconds,
            notes: i.interaction.notes.clone(),
            user_id: i.interaction.user_id.get(),
        }
    }
}

/// A promise to pay and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PromiseView {
    pub id: i64,
    pub amount: String,
    /// When it was made.
    pub promised_on: String,
    /// The date promised.
    pub due_on: String,
    /// open, kept or broken.
    pub state: String,
    pub resolved_on: Option<String>,
}

impl From<&huifang_store::PromiseState> for PromiseView {
    fn from(p: &huifang_store::PromiseState) -> Self {
        PromiseView {
            id: p.id,
            amount: amount(p.amount),
            promised_on: p.promised_on.to_string(),
            due_on: p.due_on.to_string(),
            state: p.state.clone(),
            resolved_on: p.resolved_on.map(|d| d.to_string()),
        }
    }
}

/// A quality review (质检) of a contact: the reviewer's score (0 to 100) and comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReviewView {
    /// The reviewer's username.
    pub reviewer: String,
    pub score: i64,
    pub comment: String,
    pub reviewed_at: String,
}

/// A contact made by a member of the reviewer's team, with its review when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactReviewView {
    pub contact: InteractionView,
    /// The loan's external id.
    pub loan: String,
    /// The username of who made the contact.
    pub agent: String,
    pub review: Option<ReviewView>,
}

impl From<&huifang_store::ContactForReview> for ContactReviewView {
    fn from(c: &huifang_store::ContactForReview) -> Self {
        ContactReviewView {
            contact: InteractionView::from(&c.interaction),
            loan: c.loan_external_id.clone(),
            agent: c.agent.clone(),
            review: c.review.as_ref().map(|r| ReviewView {
                reviewer: r.reviewer.clone(),
                score: r.score,
                comment: r.comment.clone(),
                reviewed_at: r.reviewed_at.clone(),
            }),
        }
    }
}

/// A page of the team's contacts, newest first, with the cursor of the next (older) page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactReviewPage {
    pub contacts: Vec<ContactReviewView>,
    /// Pass as `before` for the next page; none on the last.
    pub next_before: Option<i64>,
}

/// A review of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// 0 to 100.
    pub score: i64,
    #[serde(default)]
    pub comment: String,
}

/// A task with its script (questionnaire), the borrower's context and the loan's status.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TaskDetail {
    pub task: TaskSummary,
    /// The task kind's script in the language asked (questions and their answer types), if
    /// the kind has one.
    #[schema(value_type = Option<Vec<Object>>)]
    pub script: Option<Value>,
    pub borrower: BorrowerView,
    pub loan: TaskLoanView,
    pub interactions: Vec<InteractionView>,
    /// The loan's promises to pay, oldest first.
    pub promises: Vec<PromiseView>,
}

impl From<&TaskView> for TaskDetail {
    fn from(v: &TaskView) -> Self {
        TaskDetail {
            task: TaskSummary::from(&v.task),
            script: v.script.clone(),
            borrower: v.borrower.clone(),
            loan: TaskLoanView {
                external_id: v.loan.loan.loan.external_id.clone(),
                business_date: v.loan.business_date.to_string(),
                status: LoanStatusView::from(&v.loan.status),
                vehicle_model: v.loan.loan.loan.vehicle_model.clone(),
            },
            interactions: v.interactions.iter().map(InteractionView::from).collect(),
            promises: v.promises.iter().map(PromiseView::from).collect(),
        }
    }
}

/// What recording an outcome did (the same answer again for a repeated Idempotency-Key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordedView {
    pub interaction_id: i64,
    /// False when this Idempotency-Key had been recorded before (nothing new was written).
    pub recorded: bool,
    pub task: TaskSummary,
    pub promise_id: Option<i64>,
    pub risk_signals: Vec<String>,
    pub escalation_task_id: Option<i64>,
    /// The interaction's leaf in the tamper-evident log.
    pub ledger_index: Option<u64>,
    /// The loan's warning level once the risk signals recorded were weighed (absent when none
    /// were recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning_level: Option<u8>,
}

impl From<&Recorded> for RecordedView {
    fn from(r: &Recorded) -> Self {
        RecordedView {
            interaction_id: r.interaction_id,
            recorded: r.new,
            task: TaskSummary::from(&r.task),
            promise_id: r.promise_id,
            risk_signals: r.signals.clone(),
            escalation_task_id: r.escalation_task.map(TaskId::get),
            ledger_index: r.leaf_index,
            warning_level: r.warning_level,
        }
    }
}

/// A queue's open tasks in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DepthView {
    pub queue: String,
    pub state: String,
    pub tasks: i64,
}

impl From<&DepthRow> for DepthView {
    fn from(d: &DepthRow) -> Self {
        DepthView {
            queue: d.queue_code.clone(),
            state: d.state.as_str().to_string(),
            tasks: d.tasks,
        }
    }
}

/// One agent's work in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgentView {
    pub username: String,
    pub name: String,
    pub tasks_done: i64,
    pub attempts: i64,
    pub reached: i64,
    pub promises: i64,
    pub open_tasks: i64,
}

/// One team's queues, SLA breaches and agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TeamStatsView {
    /// The team's code.
    pub team: String,
    pub name: String,
    pub business_date: String,
    pub from: String,
    pub to: String,
    pub queue_depth: Vec<DepthView>,
    /// Open tasks past their due date.
    pub sla_breaches: i64,
    pub oldest_breaches: Vec<TaskSummary>,
    pub agents: Vec<AgentView>,
}

impl From<&TeamStats> for TeamStatsView {
    fn from(s: &TeamStats) -> Self {
        TeamStatsView {
            team: s.team.code.clone(),
            name: s.team.name.clone(),
            business_date: s.business_date.to_string(),
            from: s.from.to_string(),
            to: s.to.to_string(),
            queue_depth: s.depth.iter().map(DepthView::from).collect(),
            sla_breaches: s.past_due,
            oldest_breaches: s.oldest_past_due.iter().map(TaskSummary::from).collect(),
            agents: s
                .agents
                .iter()
                .map(|a| AgentView {
                    username: a.username.clone(),
                    name: a.display_name.clone(),
                    tasks_done: a.tasks_done,
                    attempts: a.attempts,
                    reached: a.reached,
                    promises: a.promises,
                    open_tasks: a.open_tasks,
                })
                .collect(),
        }
    }
}

/// The statistics of the teams the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TeamStatsList {
    pub teams: Vec<TeamStatsView>,
}

impl TeamStatsList {
    pub fn new(all: &[TeamStats]) -> Self {
        TeamStatsList {
            teams: all.iter().map(TeamStatsView::from).collect(),
        }
    }
}

// ----- users and sessions --------------------------------------------------------------------

/// A user as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// agent, collector, team_lead, risk_officer, auditor or admin.
    pub role: String,
    /// The team's code.
    pub team: Option<String>,
    pub skills: Vec<String>,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id.get(),
            username: u.user.username.clone(),
            display_name: u.user.display_name.clone(),
            role: u.user.role.as_str().to_string(),
            team: u.team_code.clone(),
            skills: u.user.skills.clone(),
        }
    }
}

impl From<&Actor> for UserView {
    fn from(a: &Actor) -> Self {
        UserView::from(&a.user)
    }
}

/// A new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SessionView {
    /// Shown once: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the session expires.
    pub expires_in: i64,
    pub user: UserView,
}

/// Logging in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A user as an admin sees them: with whether they may sign in and their API token's expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountView {
    #[serde(flatten)]
    pub user: UserView,
    /// False: disabled, every sign-in and token refused.
    pub active: bool,
    /// When the API token expires (RFC 3339, UTC); none: no token.
    pub api_token_expires_at: Option<String>,
}

/// Every user, for an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountList {
    pub users: Vec<AccountView>,
}

impl AccountList {
    pub fn new(all: &[(UserRecord, Option<String>)]) -> Self {
        AccountList {
            users: all
                .iter()
                .map(|(u, expiry)| AccountView {
                    user: UserView::from(u),
                    active: u.active,
                    api_token_expires_at: expiry.clone(),
                })
                .collect(),
        }
    }
}

/// A user to create (an admin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    /// agent, collector, team_lead, risk_officer, auditor or admin.
    pub role: String,
    /// The team's code (agents, collectors and team leads belong to one).
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
}

/// A change to a user's account (an admin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRequest {
    /// disable (sessions end, API token revoked), enable, end_sessions, revoke_token or
    /// set_password.
    pub action: String,
    /// The new password (set_password only; at least 8 characters).
    #[serde(default)]
    pub password: Option<String>,
}

/// What an account change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccountChangeView {
    pub sessions_ended: u64,
    pub token_revoked: bool,
    /// The tasks the user held that went back to their queues, unassigned (disabling them, or
    /// a new role or team).
    pub tasks_released: u64,
}

impl From<crate::team::AccountChange> for AccountChangeView {
    fn from(c: crate::team::AccountChange) -> Self {
        AccountChangeView {
            sessions_ended: c.sessions_ended,
            token_revoked: c.token_revoked,
            tasks_released: c.tasks_released,
        }
    }
}

/// A change to a user's place in the team (an admin); what is left out stays as it is. A new
/// role or team ends the user's sessions and gives the tasks they hold back to their queues.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    #[serde(default)]
    #[schema(min_length = 1)]
    pub display_name: Option<String>,
    /// agent, collector, team_lead, risk_officer, auditor or admin.
    #[serde(default)]
    pub role: Option<String>,
    /// The team's code; an empty text: no team (auditors, admins, a risk officer outside
    /// the teams).
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub skills: Option<Vec<String>>,
}

impl ProfileRequest {
    /// The core's profile change; an unknown role is refused, naming the field.
    pub fn to_profile(&self) -> Result<crate::team::Profile, AppError> {
        let role = self
            .role
            .as_deref()
            .map(|r| {
                r.trim().parse::<Role>().map_err(|e| AppError::Field {
                    field: "role",
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let p = crate::team::Profile {
            display_name: self.display_name.clone(),
            role,
            team: self.team.as_deref().map(|t| {
                let t = t.trim();
                (!t.is_empty()).then(|| t.to_string())
            }),
            skills: self.skills.clone(),
        };
        if p.is_empty() {
            return Err(AppError::Invalid(
                "nothing to change: give display_name, role, team or skills".into(),
            ));
        }
        Ok(p)
    }
}

/// A queue of follow-up work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct QueueView {
    pub code: String,
    pub name: String,
    /// The skill a user needs to be given its tasks (empty: none).
    pub skill: String,
    /// round_robin, least_loaded or sticky.
    pub strategy: String,
}

impl From<&QueueRecord> for QueueView {
    fn from(q: &QueueRecord) -> Self {
        QueueView {
            code: q.code.clone(),
            name: q.name.clone(),
            skill: q.skill.clone(),
            strategy: q.strategy.as_str().to_string(),
        }
    }
}

/// A team, its members' count and its queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TeamView {
    pub code: String,
    pub name: String,
    pub members: i64,
    pub queues: Vec<QueueView>,
}

/// Every team (an admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TeamList {
    pub teams: Vec<TeamView>,
}

impl TeamList {
    pub fn new(all: &[crate::team::TeamOverview]) -> Self {
        TeamList {
            teams: all
                .iter()
                .map(|t| TeamView {
                    code: t.team.code.clone(),
                    name: t.team.name.clone(),
                    members: t.members,
                    queues: t.queues.iter().map(QueueView::from).collect(),
                })
                .collect(),
        }
    }
}

/// A new team, or a team's new name (an admin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    /// The team's code (a new team; ignored when renaming).
    #[serde(default)]
    pub code: Option<String>,
    #[schema(min_length = 1)]
    pub name: String,
}

/// A new queue (an admin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQueueRequest {
    #[schema(min_length = 1)]
    pub code: String,
    /// The team's code.
    pub team: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The skill a user needs to be given its tasks (empty: none).
    #[serde(default)]
    pub skill: Option<String>,
    /// round_robin (default), least_loaded or sticky.
    #[serde(default)]
    pub strategy: Option<String>,
}

/// A change to a queue (an admin); what is left out stays as it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueChangeRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub skill: Option<String>,
    #[serde(default)]
    pub strategy: Option<String>,
}

impl From<&QueueChangeRequest> for crate::team::QueueChange {
    fn from(r: &QueueChangeRequest) -> Self {
        crate::team::QueueChange {
            name: r.name.clone(),
            skill: r.skill.clone(),
            strategy: r.strategy.clone(),
        }
    }
}

/// A product and its loans' count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductView {
    pub code: String,
    pub name: String,
    /// Days after a due date within which a payment bears no penalty.
    pub grace_days: u32,
    /// The penalty rate's markup over the loan's rate (0.5: the rate × 1.5).
    pub penalty_rate_markup: String,
    pub loans: i64,
    /// Whether a follow-up plan of its own is stored (else the default plan applies).
    pub own_plan: bool,
}

/// Every product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductList {
    pub products: Vec<ProductView>,
}

/// A script as stored (a list of questions), or a script document with `questions`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct ScriptRequest {
    pub questions: Vec<QuestionView>,
}

/// What a decision would make of a loan's schedule (nothing recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SchedulePreview {
    pub loan: String,
    /// The operation previewed.
    pub op: String,
    pub installments: Vec<InstallmentView>,
}

/// Issuing an API token (an admin).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// How many days it lasts: 1 to 366 (default 90).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
}

/// A new API token: shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenView {
    pub token: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// The end of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct LogoutView {
    /// False when the token was not a session (an API token is revoked by an admin).
    pub ended: bool,
}

/// A reveal of a borrower's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevealView {
    pub id: i64,
    pub username: String,
    pub borrower: String,
    pub loan: Option<String>,
    pub task_id: Option<i64>,
    /// The fields shown in full.
    pub fields: String,
    /// Why, as the revealer gave it (empty when none was asked).
    pub reason: String,
    pub revealed_at: String,
    pub business_date: String,
}

/// Reveals, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RevealList {
    pub reveals: Vec<RevealView>,
}

impl RevealList {
    pub fn new(rows: &[huifang_store::RevealRecord]) -> Self {
        RevealList {
            reveals: rows
                .iter()
                .map(|r| RevealView {
                    id: r.id,
                    username: r.username.clone(),
                    borrower: r.borrower_external_id.clone(),
                    loan: r.loan_external_id.clone(),
                    task_id: r.task_id,
                    fields: r.fields.clone(),
                    reason: r.reason.clone(),
                    revealed_at: r.revealed_at.clone(),
                    business_date: r.business_date.clone(),
                })
                .collect(),
        }
    }
}

/// A request refused for the caller's role or team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DenialView {
    pub id: i64,
    pub username: String,
    /// What was asked: the method and path, or the command.
    pub action: String,
    pub reason: String,
    pub denied_at: String,
    pub business_date: Option<String>,
}

/// Denials, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DenialList {
    pub denials: Vec<DenialView>,
}

impl DenialList {
    pub fn new(rows: &[huifang_store::DenialRecord]) -> Self {
        DenialList {
            denials: rows
                .iter()
                .map(|d| DenialView {
                    id: d.id,
                    username: d.username.clone(),
                    action: d.action.clone(),
                    reason: d.reason.clone(),
                    denied_at: d.denied_at.clone(),
                    business_date: d.business_date.clone(),
                })
                .collect(),
        }
    }
}

/// A command the machine's operator ran as a user (`--as`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OperatorActionView {
    pub id: i64,
    /// The operator's login on the machine (`login@host`).
    pub operator: String,
    /// The user acted as.
    pub username: String,
    pub command: String,
    pub started_at: String,
    /// started, done, refused or failed.
    pub outcome: String,
    pub finished_at: Option<String>,
}

/// Operators' commands, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OperatorActionList {
    pub actions: Vec<OperatorActionView>,
}

impl OperatorActionList {
    pub fn new(rows: &[huifang_store::OperatorActionRecord]) -> Self {
        OperatorActionList {
            actions: rows
                .iter()
                .map(|a| OperatorActionView {
                    id: a.id,
                    operator: a.operator.clone(),
                    username: a.username.clone(),
                    command: a.command.clone(),
                    started_at: a.started_at.clone(),
                    outcome: a.outcome.clone(),
                    finished_at: a.finished_at.clone(),
                })
                .collect(),
        }
    }
}

/// An amount given as a decimal string (`"1500.00"`) or a number (`1500`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AmountText {
    Text(String),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
}

impl AmountText {
    /// The amount as the text the application parses.
    pub fn into_text(self) -> String {
        match self {
            AmountText::Text(s) => s,
            AmountText::Number(n) => n.to_string(),
        }
    }
}

/// Recording the outcome of an attempt on a task.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct OutcomeRequest {
    /// phone (default), sms, email, wechat or visit.
    pub channel: Option<String>,
    /// reached, no_answer, wrong_number, refused, promise_to_pay, dispute, hardship or
    /// vehicle_status.
    pub outcome: String,
    /// A promise's amount.
    pub amount: Option<AmountText>,
    /// A promise's date (YYYY-MM-DD).
    pub date: Option<String>,
    /// Hardship: the change of income in percent (−40 for a 40 % drop).
    pub income_change_pct: Option<i32>,
    pub job_status: Option<String>,
    pub vehicle_status: Option<String>,
    /// Answers to the task's script, by question id.
    pub answers: Option<ScriptAnswers>,
    pub notes: Option<String>,
    pub duration_seconds: Option<i64>,
    /// When the contact happened (RFC 3339; default now).
    pub occurred_at: Option<String>,
    /// The id of the borrower's emergency contact called instead (only to locate the borrower,
    /// only with their consent): recorded, the task left as it was.
    pub emergency_contact: Option<i64>,
}

/// Reassigning a task.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub struct ReassignRequest {
    /// The new assignee's username.
    pub to: String,
}

// ----- the tamper-evident record -------------------------------------------------------------

/// One leaf of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntryView {
    pub index: u64,
    /// The kind of record the leaf logs (interaction, warning, decision, document …).
    pub kind: String,
    pub record_id: i64,
    /// The leaf's bytes, hex.
    pub leaf: String,
    /// SHA-256 of 0x00 ‖ leaf, hex.
    pub leaf_hash: String,
}

impl From<&LeafRecord> for EntryView {
    fn from(l: &LeafRecord) -> Self {
        EntryView {
            index: l.index,
            kind: l.leaf.kind.clone(),
            record_id: l.leaf.record_id,
            leaf: hex::encode(&l.leaf.bytes),
            leaf_hash: hex::encode(l.hash),
        }
    }
}

/// Leaves `start` (inclusive) to `end` (exclusive) of a log of `tree_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EntriesView {
    pub start: u64,
    pub end: u64,
    pub tree_size: u64,
    pub entries: Vec<EntryView>,
}

/// An RFC 6962 inclusion proof of leaf `index` in the tree of `size` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InclusionProofView {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub hashes: Vec<String>,
}

impl From<&InclusionProof> for InclusionProofView {
    fn from(p: &InclusionProof) -> Self {
        InclusionProofView {
            index: p.index,
            size: p.size,
            leaf_hash: hex::encode(p.leaf_hash),
            root: hex::encode(p.root),
            hashes: hex_all(&p.hashes),
        }
    }
}

/// An RFC 6962 consistency proof between the trees of `first` and `second` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    pub first: u64,
    pub second: u64,
    pub first_root: String,
    pub second_root: String,
    pub hashes: Vec<String>,
}

impl From<&ConsistencyProof> for ConsistencyProofView {
    fn from(p: &ConsistencyProof) -> Self {
        ConsistencyProofView {
            first: p.first,
            second: p.second,
            first_root: hex::encode(p.first_root),
            second_root: hex::encode(p.second_root),
            hashes: hex_all(&p.hashes),
        }
    }
}

/// A registered document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DocumentRegistrationView {
    pub document_id: i64,
    /// loan or borrower.
    pub owner_kind: String,
    pub owner_external_id: String,
    pub kind: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub registered_on: String,
    pub leaf_index: u64,
}

/// An inclusion proof inside a document check (the leaf hash is the match's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DocumentInclusionView {
    pub index: u64,
    pub size: u64,
    pub root: String,
    pub hashes: Vec<String>,
}

/// A registered document with the bytes checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DocumentMatchView {
    pub id: i64,
    pub kind: String,
    pub size_bytes: u64,
    pub registered_on: String,
    /// The record the leaf commits to.
    pub record: String,
    pub salt: String,
    pub leaf_index: Option<u64>,
    pub leaf: Option<String>,
    /// Whether the stored leaf is the one the record commits to.
    pub leaf_matches: bool,
    pub inclusion: Option<DocumentInclusionView>,
}

impl From<&DocumentMatch> for DocumentMatchView {
    fn from(m: &DocumentMatch) -> Self {
        DocumentMatchView {
            id: m.document.id,
            kind: m.document.document.kind.clone(),
            size_bytes: m.document.document.size_bytes,
            registered_on: m.document.document.registered_on.to_string(),
            record: m.record.clone(),
            salt: m.document.document.salt.clone(),
            leaf_index: m.leaf_index,
            leaf: m.leaf.as_ref().map(hex::encode),
            leaf_matches: m.leaf_matches,
            inclusion: m.proof.as_ref().map(|p| DocumentInclusionView {
                index: p.index,
                size: p.size,
                root: hex::encode(p.root),
                hashes: hex_all(&p.hashes),
            }),
        }
    }
}

/// Whether a file is a registered document, with each registration's proof and the signed
/// checkpoint the proofs lead to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DocumentCheckView {
    pub sha256: String,
    pub size_bytes: u64,
    pub registered: bool,
    pub documents: Vec<DocumentMatchView>,
    /// The signed checkpoint note (C2SP tlog-checkpoint).
    pub checkpoint: Option<String>,
}

/// The service's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HealthView {
    /// Always `ok` when the database answers.
    pub status: String,
    pub ledger_size: u64,
}

/// An error answer: a stable code the console translates and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorView {
    /// bad_request, invalid_parameter, invalid, idempotency_key_required, unauthorized,
    /// forbidden, not_found, conflict, unavailable or internal.
    pub error: String,
    pub message: String,
}

// ----- the command line's loan, schedule, status and portfolio ---------------------------------

/// One installment of a schedule, in the fields of the reference vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScheduleRowView {
    pub n: u32,
    pub due_date: String,
    pub principal: String,
    pub interest: String,
    pub payment: String,
    pub balance_after: String,
}

impl From<&Installment> for ScheduleRowView {
    fn from(i: &Installment) -> Self {
        ScheduleRowView {
            n: i.n,
            due_date: i.due_date.to_string(),
            principal: amount(i.principal),
            interest: amount(i.interest),
            payment: amount(i.payment),
            balance_after: amount(i.balance_after),
        }
    }
}

/// One loan's line of `huifang status` (the status CSV's columns, numbers as numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusLineView {
    pub loan_external_id: String,
    pub business_date: String,
    pub dpd: u32,
    pub bucket: String,
    pub classification: String,
    pub overdue_installments: u32,
    pub outstanding_principal: String,
    pub warning_level: u8,
}

impl From<&StatusLine> for StatusLineView {
    fn from(l: &StatusLine) -> Self {
        StatusLineView {
            loan_external_id: l.row.external_id.clone(),
            business_date: l.business_date.to_string(),
            dpd: l.dpd,
            bucket: l.row.bucket.to_string(),
            classification: l.row.classification.as_str().to_string(),
            overdue_installments: l.row.overdue_installments,
            outstanding_principal: amount(l.row.outstanding_principal),
            warning_level: l.row.warning_level,
        }
    }
}

/// A page of loans' status lines, with the cursor of the next page (none: the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LoanPageView {
    pub loans: Vec<StatusLineView>,
    /// Pass as `after` for the next page.
    pub next_after: Option<i64>,
}

/// A borrower as lists show them: ID number and mobile masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BorrowerCardView {
    /// The cursor of the list.
    pub id: i64,
    pub external_id: String,
    pub name: String,
    #[schema(example = "110105********002X")]
    pub id_number: String,
    #[schema(example = "138****8000")]
    pub mobile: String,
    /// 还款账户, when known: its last four digits.
    pub bank_account: Option<String>,
    pub city: String,
}

impl From<&huifang_store::BorrowerCard> for BorrowerCardView {
    fn from(b: &huifang_store::BorrowerCard) -> Self {
        BorrowerCardView {
            id: b.id.get(),
            external_id: b.external_id.clone(),
            name: b.name.clone(),
            id_number: b.id_number_masked.clone(),
            mobile: b.mobile_masked.clone(),
            bank_account: b.bank_account_masked.clone(),
            city: b.city.clone(),
        }
    }
}

/// A page of borrowers, with the cursor of the next page (none: the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BorrowerPageView {
    pub borrowers: Vec<BorrowerCardView>,
    /// Pass as `after` for the next page.
    pub next_after: Option<i64>,
}

/// A payment as stored: when it was paid (its value date) and when it was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentEntryView {
    /// The cursor of the list.
    pub id: i64,
    pub external_id: String,
    pub loan: String,
    #[schema(format = Date)]
    pub paid_on: String,
    #[schema(example = "2500.00")]
    pub amount: String,
    pub channel: String,
    /// The business date it was posted (after `paid_on` when backdated).
    #[schema(format = Date)]
    pub received_on: String,
}

impl From<&huifang_store::PaymentRecord> for PaymentEntryView {
    fn from(p: &huifang_store::PaymentRecord) -> Self {
        PaymentEntryView {
            id: p.id,
            external_id: p.external_id.clone(),
            loan: p.loan_external_id.clone(),
            paid_on: p.paid_on.to_string(),
            amount: p.amount.to_string(),
            channel: p.channel.clone(),
            received_on: p.received_on.to_string(),
        }
    }
}

/// A page of payments, with the cursor of the next page (none: the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentPageView {
    pub payments: Vec<PaymentEntryView>,
    /// Pass as `after` for the next page.
    pub next_after: Option<i64>,
}

/// An interaction with its loan, as the list of interactions shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InteractionEntryView {
    pub loan: String,
    pub task_id: Option<i64>,
    pub interaction: InteractionView,
}

/// A page of interactions, with the cursor of the next page (none: the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InteractionPageView {
    pub interactions: Vec<InteractionEntryView>,
    /// Pass as `after` for the next page.
    pub next_after: Option<i64>,
}

/// Loans and balance of one group of the portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SummaryGroupView {
    pub lifecycle: String,
    pub bucket: String,
    pub classification: String,
    pub warning_level: u8,
    pub loans: i64,
    pub outstanding_principal: String,
}

/// The portfolio by lifecycle, bucket, classification and warning level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PortfolioSummaryView {
    pub business_date: String,
    pub groups: Vec<SummaryGroupView>,
}

impl PortfolioSummaryView {
    pub fn new(date: Date, rows: &[SummaryRow]) -> Self {
        PortfolioSummaryView {
            business_date: date.to_string(),
            groups: rows
                .iter()
                .map(|r| SummaryGroupView {
                    lifecycle: r.lifecycle.as_str().to_string(),
                    bucket: r.bucket.to_string(),
                    classification: r.classification.as_str().to_string(),
                    warning_level: r.warning_level,
                    loans: r.loans,
                    outstanding_principal: amount(r.outstanding_principal),
                })
                .collect(),
        }
    }
}

/// The warning that holds now, with its facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WarningHitView {
    pub level: u8,
    pub rule: String,
    pub facts: BTreeMap<String, String>,
}

/// A loan's status with what settles it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LoanStatusDetail {
    pub business_date: String,
    #[serde(flatten)]
    pub status: LoanStatusView,
    pub warning: Option<WarningHitView>,
    /// What settles the loan today (overdue amounts with penalty, remaining principal and the
    /// current period's interest).
    pub settlement_quote: String,
}

/// An installment and what has been paid on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct InstallmentView {
    pub n: u32,
    pub due_date: String,
    pub principal: String,
    pub interest: String,
    pub principal_paid: String,
    pub interest_paid: String,
    pub penalty_paid: String,
    pub paid_off_on: Option<String>,
    /// The operation that closed it (restructure, early_settlement, acceleration).
    pub closed_by: Option<String>,
}

/// Where part of a payment went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AllocationView {
    pub installment: u32,
    pub penalty: String,
    pub interest: String,
    pub principal: String,
}

/// A payment and its allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PaymentView {
    pub external_id: String,
    pub paid_on: String,
    pub amount: String,
    pub channel: String,
    pub posted_on: String,
    pub allocation: Vec<AllocationView>,
}

/// A loan operation and who decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OperationView {
    pub on: String,
    pub kind: String,
    pub params: String,
    pub reason: String,
    pub decided_by: String,
}

/// A change of status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct HistoryView {
    pub business_date: String,
    pub lifecycle: String,
    pub bucket: String,
    pub classification: String,
    pub warning_level: u8,
    /// What caused it: close, payment, import or operation.
    pub cause: String,
}

/// An event of the loan's days.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventView {
    pub business_date: String,
    pub kind: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

impl From<&huifang_core::loan::InstallmentState> for InstallmentView {
    fn from(i: &huifang_core::loan::InstallmentState) -> Self {
        InstallmentView {
            n: i.n,
            due_date: i.due_date.to_string(),
            principal: amount(i.principal),
            interest: amount(i.interest),
            principal_paid: amount(i.principal_paid),
            interest_paid: amount(i.interest_paid),
            penalty_paid: amount(i.penalty_paid),
            paid_off_on: i.paid_off_on.map(|d| d.to_string()),
            closed_by: i.closed_by.map(|k| k.as_str().to_string()),
        }
    }
}

/// Everything about one loan: contract, status, schedule, payments and their allocation,
/// operations, status history, warnings and events (`huifang loan --format json`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LoanDetailView {
    pub external_id: String,
    pub borrower_external_id: String,
    pub product_code: String,
    pub principal: String,
    pub annual_rate: String,
    pub term_months: u32,
    pub repayment_method: String,
    pub disbursed_on: String,
    pub vin: String,
    pub vehicle_model: String,
    pub vehicle_price: String,
    pub dealer: String,
    pub status: LoanStatusDetail,
    pub installments: Vec<InstallmentView>,
    pub payments: Vec<PaymentView>,
    /// Paid beyond everything owed.
    pub unapplied: String,
    pub operations: Vec<OperationView>,
    pub status_history: Vec<HistoryView>,
    pub warnings: Vec<WarningView>,
    pub events: Vec<EventView>,
}

impl From<&LoanView> for LoanDetailView {
    fn from(v: &LoanView) -> Self {
        let l = &v.loan;
        let st = &v.status;
        LoanDetailView {
            external_id: l.loan.external_id.clone(),
            borrower_external_id: l.loan.borrower_external_id.clone(),
            product_code: l.product_code.clone(),
            principal: amount(l.loan.terms.principal),
            annual_rate: l.loan.terms.annual_rate.to_string(),
            term_months: l.loan.terms.term_months,
            repayment_method: l.loan.terms.method.as_str().to_string(),
            disbursed_on: l.loan.terms.disbursed_on.to_string(),
            vin: l.loan.vin.clone(),
            vehicle_model: l.loan.vehicle_model.clone(),
            vehicle_price: amount(l.loan.vehicle_price),
            dealer: l.loan.dealer.clone(),
            status: LoanStatusDetail {
                business_date: v.business_date.to_string(),
                status: LoanStatusView::from(st),
                warning: st.warning.as_ref().map(|w| WarningHitView {
                    level: w.level,
                    rule: w.rule.clone(),
                    facts: w.facts.iter().cloned().collect(),
                }),
                settlement_quote: amount(v.settlement_quote),
            },
            installments: v.installments.iter().map(InstallmentView::from).collect(),
            payments: v
                .payments
                .iter()
                .enumerate()
                .map(|(index, p)| PaymentView {
                    external_id: p.external_id.clone(),
                    paid_on: p.paid_on.to_string(),
                    amount: amount(p.amount),
                    channel: p.channel.clone(),
                    posted_on: p.received_on.to_string(),
                    allocation: v
                        .allocations
                        .iter()
                        .filter(|a| a.payment == index)
                        .map(|a| AllocationView {
                            installment: a.installment,
                            penalty: amount(a.penalty),
                            interest: amount(a.interest),
                            principal: amount(a.principal),
                        })
                        .collect(),
                })
                .collect(),
            unapplied: amount(v.unapplied),
            operations: v
                .ops
                .iter()
                .map(|o| {
                    let (kind, params) = huifang_store::encode_op(&o.op.op);
                    OperationView {
                        on: o.op.on.to_string(),
                        kind: kind.to_string(),
                        params,
                        reason: o.reason.clone(),
                        decided_by: o.decided_by.clone(),
                    }
                })
                .collect(),
            status_history: v
                .history
                .iter()
                .map(|h| HistoryView {
                    business_date: h.business_date.to_string(),
                    lifecycle: h.summary.lifecycle.as_str().to_string(),
                    bucket: h.summary.bucket.to_string(),
                    classification: h.summary.classification.as_str().to_string(),
                    warning_level: h.summary.warning_level,
                    cause: h.cause.clone(),
                })
                .collect(),
            warnings: v.warnings.iter().map(WarningView::from).collect(),
            events: v
                .events
                .iter()
                .map(|e| EventView {
                    business_date: e.business_date.to_string(),
                    kind: e.kind.clone(),
                    details: json_text(&e.details),
                })
                .collect(),
        }
    }
}

// ----- follow-up plans and scripts -------------------------------------------------------------

/// The welcome call (首次回访).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct WelcomeDoc {
    /// Due within this many days of disbursement.
    pub within_days: u32,
    pub queue: String,
}

/// The initial follow-up (初期回访).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct InitialDoc {
    /// [from, to] days after disbursement.
    pub window_days: [u32; 2],
    pub queue: String,
}

/// Continuous follow-up (持续性回访).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ContinuousDoc {
    /// Days between two follow-ups at warning level 0, 1, 2 and 3.
    pub days_by_warning_level: [u32; 4],
    pub queue: String,
}

/// Repayment reminders (还款提醒).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RemindersDoc {
    pub days_before: Vec<u32>,
    pub queue: String,
}

/// The reminder on DPD 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct OverdueReminderDoc {
    pub enabled: bool,
    pub queue: String,
}

/// The collection call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CollectionDoc {
    pub from_dpd: u32,
}

/// A further task an escalation tier creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExtraTaskDoc {
    pub kind: String,
    #[serde(default)]
    pub queue: String,
}

/// An escalation tier by bucket. A tier's queue left out is empty, as plans stored before
/// this document kept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EscalationDoc {
    #[serde(default)]
    pub from_bucket: u8,
    #[serde(default)]
    pub queue: String,
    #[serde(default)]
    pub extra: Vec<ExtraTaskDoc>,
}

/// A product's follow-up plan (`huifang plan show|set`): every field may be left out and takes
/// the default plan's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PlanDoc {
    pub welcome: WelcomeDoc,
    pub initial: InitialDoc,
    pub continuous: ContinuousDoc,
    pub reminders: RemindersDoc,
    pub overdue_reminder: OverdueReminderDoc,
    pub collection: CollectionDoc,
    pub escalation: Vec<EscalationDoc>,
    pub max_attempts: u32,
    pub unreachable_days: u32,
    /// The task each warning level brings (once per warning raised).
    pub playbooks: Vec<PlaybookDoc>,
    /// Tasks of `kinds` for a loan whose risk score is in `from_band` (A–E) or higher go to
    /// `queue`.
    pub score_queues: Vec<ScoreQueueDoc>,
}

/// Where a loan's tasks go once its risk score reaches a band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreQueueDoc {
    pub from_band: String,
    pub kinds: Vec<String>,
    pub queue: String,
}

/// The task a warning of `level` brings: in `queue`, due `due_days` after it is raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaybookDoc {
    pub level: u8,
    pub queue: String,
    pub due_days: u32,
    /// Extra repayment reminders while the loan is at this level: days before each due date.
    #[serde(default)]
    pub reminder_days_before: Vec<u32>,
}

impl From<&FollowUpPlan> for PlanDoc {
    fn from(p: &FollowUpPlan) -> Self {
        PlanDoc {
            welcome: WelcomeDoc {
                within_days: p.welcome_within_days,
                queue: p.welcome_queue.clone(),
            },
            initial: InitialDoc {
                window_days: [p.initial_window.0, p.initial_window.1],
                queue: p.initial_queue.clone(),
            },
            continuous: ContinuousDoc {
                days_by_warning_level: p.continuous_days,
                queue: p.continuous_queue.clone(),
            },
            reminders: RemindersDoc {
                days_before: p.reminder_days_before.clone(),
                queue: p.reminder_queue.clone(),
            },
            overdue_reminder: OverdueReminderDoc {
                enabled: p.overdue_reminder,
                queue: p.overdue_queue.clone(),
            },
            collection: CollectionDoc {
                from_dpd: p.collection_dpd,
            },
            escalation: p
                .escalation
                .iter()
                .map(|t| EscalationDoc {
                    from_bucket: t.min_bucket,
                    queue: t.queue.clone(),
                    extra: t
                        .extra
                        .iter()
                        .map(|(kind, queue)| ExtraTaskDoc {
                            kind: kind.as_str().to_string(),
                            queue: queue.clone(),
                        })
                        .collect(),
                })
                .collect(),
            max_attempts: p.max_attempts,
            unreachable_days: p.unreachable_days,
            score_queues: p
                .score_queues
                .iter()
                .map(|q| ScoreQueueDoc {
                    from_band: q.from_band.to_string(),
                    kinds: q.kinds.iter().map(|k| k.as_str().to_string()).collect(),
                    queue: q.queue.clone(),
                })
                .collect(),
            playbooks: p
                .playbooks
                .iter()
                .map(|b| PlaybookDoc {
                    level: b.level,
                    queue: b.queue.clone(),
                    due_days: b.due_days,
                    reminder_days_before: b.reminder_days_before.clone(),
                })
                .collect(),
        }
    }
}

macro_rules! default_from_plan {
    ($($doc:ident => $field:ident),* $(,)?) => {
        $(impl Default for $doc {
            fn default() -> Self {
                PlanDoc::from(&FollowUpPlan::default()).$field
            }
        })*
    };
}

default_from_plan!(
    WelcomeDoc => welcome,
    InitialDoc => initial,
    ContinuousDoc => continuous,
    RemindersDoc => reminders,
    OverdueReminderDoc => overdue_reminder,
    CollectionDoc => collection,
);

impl Default for PlanDoc {
    fn default() -> Self {
        PlanDoc::from(&FollowUpPlan::default())
    }
}

impl PlanDoc {
    /// The plan, checked: queue names non-empty, task kinds known, then the core's rules
    /// (`FollowUpPlan::validate`). The error names the field.
    pub fn into_plan(self) -> Result<FollowUpPlan, String> {
        let queue = |field: &str, q: String| {
            if q.trim().is_empty() {
                Err(format!("{field} must be a non-empty string"))
            } else {
                Ok(q)
            }
        };
        let escalation = self
            .escalation
            .into_iter()
            .map(|t| {
                let extra = t
                    .extra
                    .into_iter()
                    .map(|x| Ok((x.kind.parse::<TaskKind>()?, x.queue)))
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(EscalationTier {
                    min_bucket: t.from_bucket,
                    queue: t.queue,
                    extra,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let [from, to] = self.initial.window_days;
        let plan = FollowUpPlan {
            welcome_within_days: self.welcome.within_days,
            welcome_queue: queue("welcome.queue", self.welcome.queue)?,
            initial_window: (from, to),
            initial_queue: queue("initial.queue", self.initial.queue)?,
            continuous_days: self.continuous.days_by_warning_level,
            continuous_queue: queue("continuous.queue", self.continuous.queue)?,
            reminder_days_before: self.reminders.days_before,
            reminder_queue: queue("reminders.queue", self.reminders.queue)?,
            overdue_reminder: self.overdue_reminder.enabled,
            overdue_queue: queue("overdue_reminder.queue", self.overdue_reminder.queue)?,
            collection_dpd: self.collection.from_dpd,
            escalation,
            max_attempts: self.max_attempts,
            unreachable_days: self.unreachable_days,
            playbooks: self
                .playbooks
                .into_iter()
                .enumerate()
                .map(|(i, b)| {
                    Ok(Playbook {
                        level: b.level,
                        queue: queue(&format!("playbooks[{i}].queue"), b.queue)?,
                        due_days: b.due_days,
                        reminder_days_before: b.reminder_days_before,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
            score_queues: self
                .score_queues
                .into_iter()
                .enumerate()
                .map(|(i, q)| {
                    let from_band =
                        huifang_core::score::parse_band(&q.from_band).ok_or_else(|| {
                            format!(
                                "score_queues[{i}].from_band must be A, B, C, D or E, not {:?}",
                                q.from_band
                            )
                        })?;
                    Ok(ScoreQueue {
                        from_band,
                        kinds: q
                            .kinds
                            .iter()
                            .map(|k| k.parse::<TaskKind>())
                            .collect::<Result<Vec<_>, String>>()?,
                        queue: queue(&format!("score_queues[{i}].queue"), q.queue)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
        };
        plan.validate()?;
        Ok(plan)
    }
}

/// An option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChoiceView {
    pub code: String,
    #[serde(default)]
    pub label: String,
    /// The risk signal this answer raises.
    pub signal: Option<String>,
}

/// A number question's threshold: an answer at most `value` raises `signal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThresholdView {
    pub value: i64,
    pub signal: String,
}

/// One question of a script (as shown, and as stored in the `scripts` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuestionView {
    pub id: String,
    #[serde(default)]
    pub text: String,
    /// yes_no, choice, number, money, date or text.
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<ChoiceView>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_if_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_at_most: Option<ThresholdView>,
}

impl QuestionView {
    /// The core's question; `None` for an answer type it does not know or a choice question
    /// without options.
    pub fn to_question(&self) -> Option<Question> {
        let answer = match self.answer.as_str() {
            "yes_no" => AnswerType::YesNo,
            "number" => AnswerType::Number,
            "money" => AnswerType::Money,
            "date" => AnswerType::Date,
            "text" => AnswerType::Text,
            "choice" => AnswerType::Choice(
                self.options
                    .as_ref()?
                    .iter()
                    .map(|o| ChoiceOption {
                        code: o.code.clone(),
                        label: o.label.clone(),
                        signal: o.signal.clone(),
                    })
                    .collect(),
            ),
            _ => return None,
        };
        Some(Question {
            id: self.id.clone(),
            text: self.text.clone(),
            answer,
            signal_if_no: self.signal_if_no.clone(),
            signal_at_most: self
                .signal_at_most
                .as_ref()
                .map(|t| (t.value, t.signal.clone())),
        })
    }
}

impl From<&Question> for QuestionView {
    fn from(q: &Question) -> Self {
        QuestionView {
            id: q.id.clone(),
            text: q.text.clone(),
            answer: q.answer.as_str().to_string(),
            options: match &q.answer {
                AnswerType::Choice(options) => Some(
                    options
                        .iter()
                        .map(|c| ChoiceView {
                            code: c.code.clone(),
                            label: c.label.clone(),
                            signal: c.signal.clone(),
                        })
                        .collect(),
                ),
                _ => None,
            },
            signal_if_no: q.signal_if_no.clone(),
            signal_at_most: q
                .signal_at_most
                .as_ref()
                .map(|(value, signal)| ThresholdView {
                    value: *value,
                    signal: signal.clone(),
                }),
        }
    }
}

/// A task kind's script in one language (`huifang script show`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScriptView {
    pub kind: String,
    /// The kind's Chinese name.
    pub name: String,
    pub lang: String,
    /// The questions as stored.
    #[schema(value_type = Vec<QuestionView>)]
    pub questions: Value,
}

// ----- the servicing policy ----------------------------------------------------------------

/// The policy document: every field is required, none other is allowed. Warning rules are a
/// document of their own ([`RuleSetDoc`], `huifang rules set`); a policy stored before carries
/// them here, and they are read as the first rule set until one is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Width of a delinquency bucket in days (30: M1 = DPD 1–30).
    pub bucket_days: u32,
    /// The last bucket number (7: M7+).
    pub last_bucket: u8,
    /// The lowest DPD of each five-tier classification.
    pub classification_min_dpd: TierDays,
    /// Warning rules of a policy stored before rule sets (read only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_rules: Option<Vec<LegacyRuleDoc>>,
    /// Days before a due date on which a repayment reminder is due (0: on the day).
    pub reminder_days_before: Vec<u32>,
    /// The limits on decisions and the four-eyes amount (default: the product brief's).
    #[serde(default)]
    pub decisions: DecisionsDoc,
    /// Days after a restructure during which the loan is classified at least special_mention
    /// (its watch period; 0: none).
    #[serde(default = "default_watch_days")]
    pub restructure_watch_days: u32,
}

fn default_watch_days() -> u32 {
    Policy::default().restructure_watch_days
}

fn default_holiday_months() -> u32 {
    DecisionLimits::default().max_holiday_months
}

/// The limits on decisions: for every product, and for products with limits of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsDoc {
    #[serde(flatten)]
    pub all: LimitsDoc,
    /// Limits of products of their own, by product code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub products: BTreeMap<String, LimitsDoc>,
}

/// Decision limits: above `four_eyes_above` (yuan) of outstanding principal a second approver
/// is needed; the longest deferral; how many restructures in a loan's life; the longest payment
/// holiday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsDoc {
    pub four_eyes_above: String,
    pub max_deferral_months: u32,
    pub max_restructures: u32,
    #[serde(default = "default_holiday_months")]
    pub max_holiday_months: u32,
}

impl From<&DecisionLimits> for LimitsDoc {
    fn from(l: &DecisionLimits) -> Self {
        LimitsDoc {
            four_eyes_above: l.four_eyes_above.to_string(),
            max_deferral_months: l.max_deferral_months,
            max_restructures: l.max_restructures,
            max_holiday_months: l.max_holiday_months,
        }
    }
}

impl LimitsDoc {
    fn to_limits(&self, field: &str) -> Result<DecisionLimits, String> {
        Ok(DecisionLimits {
            four_eyes_above: Money::parse(&self.four_eyes_above)
                .map_err(|e| format!("{field}.four_eyes_above: {e}"))?,
            max_deferral_months: self.max_deferral_months,
            max_restructures: self.max_restructures,
            max_holiday_months: self.max_holiday_months,
        })
    }
}

impl Default for DecisionsDoc {
    fn default() -> Self {
        DecisionsDoc {
            all: LimitsDoc::from(&DecisionLimits::default()),
            products: BTreeMap::new(),
        }
    }
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

/// A warning rule as a policy stored before rule sets held it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyRuleDoc {
    pub code: String,
    pub level: u8,
    pub condition: ConditionDoc,
}

/// The early-warning rule set: what `huifang rules show` prints and `huifang rules set` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSetDoc {
    /// The set's version (shown; `set` numbers the new version itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub version: Option<u32>,
    /// Days a warning stays open once no rule holds for its loan, before it is resolved
    /// automatically (0, the default: at once).
    #[serde(default)]
    pub auto_resolve_days: u32,
    /// The rules; a loan's warning level is the highest level whose rule holds.
    pub rules: Vec<RuleDoc>,
}

/// One warning rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// A stable id, stored with each warning the rule raises (a-z, 0-9 and _).
    pub id: String,
    /// 1 初步, 2 中级, 3 高级.
    pub level: u8,
    /// The set version in which the rule last changed (shown; `set` works it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub version: Option<u32>,
    pub when: ConditionDoc,
}

/// What makes a warning rule fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionDoc {
    /// The `count` most recent installments past due date + grace were all late.
    ConsecutiveLate { count: u32 },
    /// Days past due at least `days`.
    DpdAtLeast { days: u32 },
    /// At least `count` promises to pay broken within the last `within_days` days.
    BrokenPromises { count: u32, within_days: u32 },
    /// A follow-up within `within_days` days reported income down by `pct` % or more.
    IncomeDown { pct: u32, within_days: u32 },
    /// A follow-up signal (`job_loss`, `vehicle_sold`, …) recorded within `within_days` days.
    Signal { signal: String, within_days: u32 },
    /// Overdue and not reached for at least `days` days of it.
    UnreachableWhileOverdue { days: u32 },
}

impl From<&WarningCondition> for ConditionDoc {
    fn from(c: &WarningCondition) -> Self {
        match *c {
            WarningCondition::ConsecutiveLate { count } => ConditionDoc::ConsecutiveLate { count },
            WarningCondition::DpdAtLeast { days } => ConditionDoc::DpdAtLeast { days },
            WarningCondition::BrokenPromises { count, within_days } => {
                ConditionDoc::BrokenPromises { count, within_days }
            }
            WarningCondition::IncomeDown { pct, within_days } => {
                ConditionDoc::IncomeDown { pct, within_days }
            }
            WarningCondition::Signal {
                ref kind,
                within_days,
            } => ConditionDoc::Signal {
                signal: kind.clone(),
                within_days,
            },
            WarningCondition::UnreachableWhileOverdue { days } => {
                ConditionDoc::UnreachableWhileOverdue { days }
            }
        }
    }
}

impl ConditionDoc {
    /// The core's condition; an unknown signal kind is refused with the reason.
    pub fn to_condition(&self) -> Result<WarningCondition, String> {
        Ok(match *self {
            ConditionDoc::ConsecutiveLate { count } => WarningCondition::ConsecutiveLate { count },
            ConditionDoc::DpdAtLeast { days } => WarningCondition::DpdAtLeast { days },
            ConditionDoc::BrokenPromises { count, within_days } => {
                WarningCondition::BrokenPromises { count, within_days }
            }
            ConditionDoc::IncomeDown { pct, within_days } => {
                WarningCondition::IncomeDown { pct, within_days }
            }
            ConditionDoc::Signal {
                ref signal,
                within_days,
            } => WarningCondition::Signal {
                kind: signal.clone(),
                within_days,
            },
            ConditionDoc::UnreachableWhileOverdue { days } => {
                WarningCondition::UnreachableWhileOverdue { days }
            }
        })
    }
}

/// What setting a rule set did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleSetChangeView {
    /// The rule set's version in force now.
    pub version: u32,
    /// False when the document equals the set in force (nothing was stored).
    pub changed: bool,
    /// The new set applies from the close after this business date.
    pub applies_after: String,
    /// Loans the next close re-evaluates under the new set.
    pub loans_to_revisit: u64,
}

impl From<&crate::rules::RuleSetChange> for RuleSetChangeView {
    fn from(c: &crate::rules::RuleSetChange) -> Self {
        RuleSetChangeView {
            version: c.version,
            changed: c.changed,
            applies_after: c.business_date.to_string(),
            loans_to_revisit: c.loans_to_revisit,
        }
    }
}

impl RuleSetDoc {
    /// The document of a rule set.
    pub fn of(version: Option<u32>, rules: &[WarningRule], auto_resolve_days: u32) -> RuleSetDoc {
        RuleSetDoc {
            version,
            auto_resolve_days,
            rules: rules
                .iter()
                .map(|r| RuleDoc {
                    id: r.code.clone(),
                    level: r.level,
                    version: Some(r.version),
                    when: ConditionDoc::from(&r.condition),
                })
                .collect(),
        }
    }
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
            warning_rules: None,
            reminder_days_before: p.reminder_days_before.clone(),
            decisions: DecisionsDoc {
                all: LimitsDoc::from(&p.decision_limits),
                products: p
                    .product_decision_limits
                    .iter()
                    .map(|(code, l)| (code.clone(), LimitsDoc::from(l)))
                    .collect(),
            },
            restructure_watch_days: p.restructure_watch_days,
        }
    }
}

impl PolicyDoc {
    /// The policy of this document with these warning rules; an amount that does not parse is
    /// refused naming its field.
    pub fn into_policy(self, warnings: crate::rules::RuleSet) -> Result<Policy, String> {
        let decision_limits = self.decisions.all.to_limits("decisions")?;
        let product_decision_limits = self
            .decisions
            .products
            .iter()
            .map(|(code, l)| {
                Ok((
                    code.clone(),
                    l.to_limits(&format!("decisions.products.{code}"))?,
                ))
            })
            .collect::<Result<BTreeMap<_, _>, String>>()?;
        let t = self.classification_min_dpd;
        Ok(Policy {
            bucket_days: self.bucket_days,
            last_bucket: self.last_bucket,
            classification_min_dpd: [
                t.normal,
                t.special_mention,
                t.substandard,
                t.doubtful,
                t.loss,
            ],
            warning_rules: warnings.rules,
            warning_auto_resolve_days: warnings.auto_resolve_days,
            reminder_days_before: self.reminder_days_before,
            decision_limits,
            product_decision_limits,
            restructure_watch_days: self.restructure_watch_days,
        })
    }
}

// ----- the contact rules and opt-outs --------------------------------------------------------

/// The contact rules as a document (`huifang contact rules`, `/api/v1/contact-rules`): every
/// field required, no other allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRulesDoc {
    /// The lender's local time, minutes east of UTC (480: Asia/Shanghai).
    pub utc_offset_minutes: i32,
    /// Contact hours in local time.
    pub hours: HoursDoc,
    /// Connected collection calls per borrower and local day.
    pub max_connected_collection_calls: u32,
    /// Contacts per borrower, channel (phone, sms, email, wechat, visit) and local day; channels
    /// without a cap are left out.
    pub channel_caps: BTreeMap<String, u32>,
}

/// Contact hours: from (HH:MM) until (HH:MM, excluded; 24:00 for midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDoc {
    pub from: String,
    pub until: String,
}

/// How long contacts are kept, and what is kept: recorded and refused contacts by year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RetentionView {
    /// Years every contact is kept at least (nothing deletes one).
    pub retention_years: u32,
    /// The business date of the oldest recorded contact.
    pub oldest: Option<String>,
    /// The first day the oldest may be let go.
    pub oldest_kept_until: Option<String>,
    pub years: Vec<RetentionYearView>,
}

/// One year's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RetentionYearView {
    pub year: String,
    /// Contacts recorded (interactions).
    pub contacts: i64,
    /// Contacts the contact rules refused.
    pub refused: i64,
}

/// A borrower's opt-out of a channel, or of every contact (`all`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptOutView {
    /// phone, sms, email, wechat, visit, or all.
    pub channel: String,
    pub since_on: String,
    pub note: String,
}

impl From<&huifang_store::OptOut> for OptOutView {
    fn from(o: &huifang_store::OptOut) -> Self {
        OptOutView {
            channel: o.channel.clone(),
            since_on: o.since_on.to_string(),
            note: o.note.clone(),
        }
    }
}

/// An opt-out to record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    /// phone, sms, email, wechat, visit, or all (not to be contacted at all).
    pub channel: String,
    #[serde(default)]
    pub note: String,
}

/// A contact the contact rules refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BlockedContactView {
    pub id: i64,
    pub loan: String,
    pub task_id: Option<i64>,
    pub user: Option<String>,
    pub channel: String,
    /// contact_hours, collection_call_cap, channel_cap, opted_out or do_not_contact.
    pub rule: String,
    pub reason: String,
    /// RFC 3339, UTC.
    pub attempted_at: String,
    pub business_date: String,
}

impl From<&huifang_store::BlockedContactRecord> for BlockedContactView {
    fn from(b: &huifang_store::BlockedContactRecord) -> Self {
        BlockedContactView {
            id: b.id,
            loan: b.loan_external_id.clone(),
            task_id: b.contact.task_id.map(TaskId::get),
            user: b.username.clone(),
            channel: b.contact.channel.clone(),
            rule: b.contact.rule.clone(),
            reason: b.contact.reason.clone(),
            attempted_at: b.contact.attempted_at.clone(),
            business_date: b.contact.business_date.to_string(),
        }
    }
}

// ----- message templates -------------------------------------------------------------------

/// A message template of an event, language and channel: the lender's, or the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TemplateView {
    /// reminder_before, reminder_due, overdue_notice, promise_confirmation or welcome.
    pub event: String,
    /// zh or en.
    pub lang: String,
    /// sms, wechat or email.
    pub channel: String,
    /// Email only; empty on other channels.
    pub subject: String,
    pub body: String,
    /// The fields the event fills: {name}, {loan} (masked), {amount}, ….
    pub fields: Vec<String>,
    /// The business date the lender set it; none for the default.
    pub set_on: Option<String>,
}

/// A template to set: the subject (email only) and the body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    #[serde(default)]
    pub subject: String,
    pub body: String,
}

/// A message as it would be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RenderedView {
    pub event: String,
    pub lang: String,
    pub channel: String,
    pub subject: String,
    pub body: String,
}

// ----- repossession and legal cases ---------------------------------------------------------

/// A repossession or legal case and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseView {
    pub id: i64,
    pub loan: String,
    /// repossession or legal.
    pub kind: String,
    /// assigned, located, recovered, sold (repossession); filed, judgment, enforcement (legal);
    /// closed.
    pub stage: String,
    pub reason: String,
    pub opened_by: String,
    pub opened_on: String,
    pub closed_on: Option<String>,
}

impl From<&huifang_store::CaseRecord> for CaseView {
    fn from(c: &huifang_store::CaseRecord) -> Self {
        CaseView {
            id: c.id,
            loan: c.loan_external_id.clone(),
            kind: c.case.kind.as_str().to_string(),
            stage: c.stage.as_str().to_string(),
            reason: c.case.reason.clone(),
            opened_by: c.opener.clone(),
            opened_on: c.case.opened_on.to_string(),
            closed_on: c.closed_on.map(|d| d.to_string()),
        }
    }
}

/// One step of a case (its opening is the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseStepView {
    pub stage: String,
    pub by: String,
    pub note: String,
    /// What the step collected (yuan), posted as the payment `payment`.
    pub amount: Option<String>,
    pub payment: Option<String>,
    pub business_date: String,
    pub occurred_at: String,
}

/// A case with its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseDetailView {
    pub case: CaseView,
    pub steps: Vec<CaseStepView>,
}

impl From<&crate::cases::CaseWithSteps> for CaseDetailView {
    fn from(c: &crate::cases::CaseWithSteps) -> Self {
        CaseDetailView {
            case: CaseView::from(&c.case),
            steps: c
                .steps
                .iter()
                .map(|s| CaseStepView {
                    stage: s.step.stage.as_str().to_string(),
                    by: s.username.clone(),
                    note: s.step.note.clone(),
                    amount: s.step.amount.map(|a| a.to_string()),
                    payment: s.step.payment.clone(),
                    business_date: s.step.business_date.to_string(),
                    occurred_at: s.step.occurred_at.clone(),
                })
                .collect(),
        }
    }
}

/// Cases, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CaseListView {
    pub cases: Vec<CaseView>,
}

/// A case to open on a loan.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseOpenRequest {
    /// repossession or legal.
    pub kind: String,
    pub reason: String,
}

/// A step of a case: the stage it moves to, what it collected (yuan, for a sale or an
/// enforcement), a note, the payment's value date (YYYY-MM-DD; default the business date).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseStepRequest {
    pub stage: String,
    pub amount: Option<String>,
    #[serde(default)]
    pub note: String,
    pub on: Option<String>,
}

/// An optional date field of a request (YYYY-MM-DD), refused naming the field.
fn optional_date(field: &'static str, text: Option<&str>) -> Result<Option<Date>, AppError> {
    text.map(|t| {
        huifang_core::calendar::parse_date(t).ok_or_else(|| AppError::Field {
            field,
            reason: format!("{t:?} is not a date (YYYY-MM-DD)"),
        })
    })
    .transpose()
}

impl CaseStepRequest {
    /// The step, parsed; a malformed amount or date is named.
    pub fn to_request(&self) -> Result<crate::cases::StepRequest, AppError> {
        let amount = self
            .amount
            .as_deref()
            .map(Money::parse)
            .transpose()
            .map_err(|e| AppError::Field {
                field: "amount",
                reason: e.to_string(),
            })?;
        let on = optional_date("on", self.on.as_deref())?;
        Ok(crate::cases::StepRequest {
            stage: self.stage.clone(),
            amount,
            note: self.note.clone(),
            on,
        })
    }
}

// ----- messages (the outbox) and channels ----------------------------------------------------

/// The notification rules: the channels each event is sent on, the language of messages and the
/// retry policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyRulesDoc {
    /// Per event (reminder_before, reminder_due, overdue_notice, promise_confirmation,
    /// welcome): the channels it is sent on (sms, wechat, email); an event left out sends none.
    pub events: BTreeMap<String, Vec<String>>,
    /// zh (default) or en.
    pub lang: String,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failed attempt, doubled after each (seconds).
    pub backoff_seconds: u32,
    /// The longest wait between two attempts (seconds).
    pub max_backoff_seconds: u32,
}

/// An HTTP gateway (SMS, WeChat template messages, telephony). The token is never shown:
/// `"********"` stands for the one kept, and keeps it when sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayDoc {
    /// Base URL (http or https); messages go to `{url}/messages`, calls to `{url}/calls`.
    pub url: String,
    /// Bearer token.
    pub token: String,
    /// The provider's template id per event (WeChat template messages; SMS templates filed
    /// with the carrier).
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
    /// Seconds a request may take before it counts as failed.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
}

fn default_timeout() -> u32 {
    10
}

/// An SMTP server for email. The password is never shown (see [`GatewayDoc`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpDoc {
    pub host: String,
    pub port: u16,
    /// none (loopback only), starttls or tls.
    pub tls: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// The sender, e.g. `"回访中心 <huifang@lender.example>"`.
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
}

/// The channels' connections: each configured channel is delivered by the worker; the webhook
/// secret signs providers' callbacks. Secrets are never shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelsDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<GatewayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat: Option<GatewayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<GatewayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<SmtpDoc>,
    /// The shared secret of the providers' signed callbacks (HMAC-SHA256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    /// The key the provider knows the message by (it sends it once, however often asked).
    pub idempotency_key: String,
    /// The event (reminder_before, …, or call).
    pub event: String,
    pub channel: String,
    pub loan: String,
    pub task_id: Option<i64>,
    /// Who asked for it (a call), if anyone.
    pub user: Option<String>,
    /// queued, sent, delivered, failed, dead or blocked.
    pub state: String,
    pub attempts: i64,
    /// Not sent before (RFC 3339, UTC): the next attempt of a failed message.
    pub due_at: String,
    pub provider_id: Option<String>,
    pub last_error: String,
    pub business_date: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub finished_at: Option<String>,
}

/// A page of messages, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
    /// The `before` of the next page, when there may be one.
    pub next_before: Option<i64>,
}

/// Messages of a channel and event by state, with the contacts the rules refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NotifyReportRow {
    pub channel: String,
    pub event: String,
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub dead: i64,
    pub blocked: i64,
}

/// What one pass of the delivery worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Messages claimed.
    pub claimed: u64,
    /// Accepted by their provider.
    pub sent: u64,
    /// Failed, to be tried again.
    pub failed: u64,
    /// Dead-lettered (attempts run out, or refused by the provider).
    pub dead: u64,
    /// Refused by the contact rules.
    pub blocked: u64,
    /// Held until the contact hours open.
    pub held: u64,
}

/// What a provider's callback recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CallbackView {
    pub receipts: u64,
    /// Interactions recorded from call events.
    pub interactions: u64,
    /// Borrowers opted out by their reply.
    pub opt_outs: u64,
    /// Risk signals read in borrowers' replies (one per signal and loan on the book).
    pub signals: u64,
    /// Replies taken as answers to the assistant's questions.
    pub assistant_answers: u64,
    /// Events about messages Huifang does not know (ignored).
    pub unknown: u64,
}

/// A call placed through the telephony provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CallView {
    pub message_id: i64,
    pub task_id: i64,
    pub idempotency_key: String,
}

/// A borrower's emergency contact (紧急联系人); the mobile is masked unless revealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EmergencyContactView {
    pub id: i64,
    pub borrower: String,
    pub name: String,
    pub relation: String,
    pub mobile: String,
    /// The day the contact consented to be called to locate the borrower; none: no consent.
    pub consent_on: Option<String>,
}

/// An emergency contact to add (or update, by mobile).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContactRequest {
    pub name: String,
    /// 配偶, 父母, 子女, 朋友, 同事, ….
    pub relation: String,
    pub mobile: String,
    /// The day consent was given (YYYY-MM-DD); none: not given.
    #[serde(default)]
    pub consent_on: Option<String>,
}

/// A borrower's address on a channel the borrower file does not carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRequest {
    /// email or wechat.
    pub channel: String,
    /// An email address, or a WeChat open id.
    pub address: String,
}

// ----- intake ---------------------------------------------------------------------------------

/// A borrower pushed by core banking: the columns of `borrowers.csv`, each a string written as
/// in the file (money `"8500.00"`, dates `"2026-12-05"`), checked as the file import checks
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "external_id": "B90000001", "name": "王小明", "id_number": "11010519491231002X",
    "mobile": "13912345678", "employer": "杭州某科技有限公司", "monthly_income": "9000.00",
    "city": "杭州市", "email": "wxm@example.com"
}))]
pub struct BorrowerIn {
    #[schema(min_length = 1, max_length = 64)]
    pub external_id: String,
    pub name: String,
    /// The 18-character resident ID number.
    pub id_number: String,
    /// An 11-digit mainland mobile.
    pub mobile: String,
    pub employer: String,
    /// Monthly income, yuan with two places.
    pub monthly_income: String,
    pub city: String,
    pub email: Option<String>,
    pub wechat_id: Option<String>,
    pub emergency_name: Option<String>,
    pub emergency_relation: Option<String>,
    pub emergency_mobile: Option<String>,
    /// The day the emergency contact consented to be called (none: not called).
    pub emergency_consent_on: Option<String>,
    /// 还款账户: the account withholding debits, 10 to 30 digits.
    pub bank_account: Option<String>,
}

/// A loan pushed by core banking: the columns of `loans.csv`, as strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "external_id": "L90000001", "borrower_external_id": "B00000001", "product_code": "LEASE36",
    "principal": "80000.00", "annual_rate": "0.0588", "term_months": "36",
    "repayment_method": "annuity", "disbursed_on": "2026-11-02", "vin": "LVSN4BKM0R1944736",
    "vehicle_model": "比亚迪 秦", "vehicle_price": "120000.00", "dealer": "杭州比亚迪4S店"
}))]
pub struct LoanIn {
    #[schema(min_length = 1, max_length = 64)]
    pub external_id: String,
    pub borrower_external_id: String,
    pub product_code: String,
    pub principal: String,
    /// An annual rate, e.g. `"0.0588"`.
    pub annual_rate: String,
    pub term_months: String,
    /// `annuity` (等额本息), `equal_principal` (等额本金) or `flat` (等本等息).
    pub repayment_method: String,
    pub disbursed_on: String,
    pub vin: String,
    pub vehicle_model: String,
    pub vehicle_price: String,
    pub dealer: String,
}

/// A payment pushed by core banking: the columns of `payments.csv`, as strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "external_id": "P90000001", "loan_external_id": "L00000001", "paid_on": "2026-11-30",
    "amount": "2500.00", "channel": "bank_transfer"
}))]
pub struct PaymentIn {
    #[schema(min_length = 1, max_length = 64)]
    pub external_id: String,
    pub loan_external_id: String,
    /// The value date.
    pub paid_on: String,
    pub amount: String,
    pub channel: String,
}

/// One borrower or a batch of 1 to 1,000.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BorrowersIn {
    One(Box<BorrowerIn>),
    Many(Vec<BorrowerIn>),
}

/// One loan or a batch of 1 to 1,000.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoansIn {
    One(Box<LoanIn>),
    Many(Vec<LoanIn>),
}

/// One payment or a batch of 1 to 1,000.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PaymentsIn {
    One(Box<PaymentIn>),
    Many(Vec<PaymentIn>),
}

/// What an intake did: rows written, rows already there with the same content, loans
/// re-evaluated (payments), and the external ids of the records in request order (none for a
/// file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IntakeView {
    pub inserted: usize,
    pub unchanged: usize,
    pub loans_reprocessed: usize,
    pub external_ids: Vec<String>,
}

impl From<&crate::intake::Intake> for IntakeView {
    fn from(i: &crate::intake::Intake) -> Self {
        IntakeView {
            inserted: i.report.inserted,
            unchanged: i.report.unchanged,
            loans_reprocessed: i.report.loans_reprocessed,
            external_ids: i.external_ids.clone(),
        }
    }
}

// ----- webhooks -------------------------------------------------------------------------------

/// A webhook subscriber (its secret is never shown again after it is added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookView {
    pub name: String,
    pub url: String,
    /// The event kinds it takes.
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: String,
}

impl From<&huifang_store::WebhookRecord> for WebhookView {
    fn from(w: &huifang_store::WebhookRecord) -> Self {
        WebhookView {
            name: w.name.clone(),
            url: w.url.clone(),
            events: w.kinds.split(',').map(str::to_string).collect(),
            active: w.active,
            created_at: w.created_at.clone(),
        }
    }
}

/// Every subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

impl WebhookList {
    pub fn new(all: &[huifang_store::WebhookRecord]) -> Self {
        WebhookList {
            webhooks: all.iter().map(WebhookView::from).collect(),
        }
    }
}

/// A subscriber to add.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookRequest {
    /// 1 to 64 letters, digits, _ or -.
    pub name: String,
    /// http:// or https://.
    pub url: String,
    /// Event kinds (installment_overdue, bucket_changed, classification_changed,
    /// warning_raised, warning_resolved, paid_off, payment_posted, decision_made, promise_broken) or all.
    pub events: Vec<String>,
    /// At least 16 characters; generated when absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A change to a subscriber: what is given changes, the rest stays.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChangeRequest {
    /// http:// or https://.
    #[serde(default)]
    pub url: Option<String>,
    /// Event kinds, or all (as when added).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// False: sent nothing until enabled again, which sends the events written meanwhile.
    #[serde(default)]
    pub active: Option<bool>,
}

/// A subscriber just added, with its secret: shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct NewWebhookView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    pub secret: String,
}

impl NewWebhookView {
    pub fn new(w: &huifang_store::WebhookRecord, secret: String) -> Self {
        NewWebhookView {
            webhook: WebhookView::from(w),
            secret,
        }
    }
}

/// A test delivery queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookTestView {
    pub event_id: String,
}

/// One delivery of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    pub id: i64,
    pub webhook: String,
    pub event_id: String,
    pub kind: String,
    /// queued, delivered, failed or dead.
    pub state: String,
    pub attempts: i64,
    /// When it is (or was last) due.
    pub due_at: String,
    /// The subscriber's last HTTP status, if it answered.
    pub last_status: Option<i64>,
    pub last_error: String,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// Deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<WebhookDeliveryView>,
}

impl DeliveryList {
    pub fn new(rows: &[huifang_store::DeliveryRecord]) -> Self {
        DeliveryList {
            deliveries: rows
                .iter()
                .map(|d| WebhookDeliveryView {
                    id: d.id,
                    webhook: d.webhook.clone(),
                    event_id: d.event_id.clone(),
                    kind: d.kind.clone(),
                    state: d.state.clone(),
                    attempts: d.attempts,
                    due_at: d.due_at.clone(),
                    last_status: d.last_status,
                    last_error: d.last_error.clone(),
                    created_at: d.created_at.clone(),
                    delivered_at: d.delivered_at.clone(),
                })
                .collect(),
        }
    }
}

// ----- vehicle monitoring ----------------------------------------------------------------------

/// The vehicle monitoring's rules (data) and the GPS vendors' webhook secret (never shown:
/// `"********"` stands for the one kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringDoc {
    /// A wired tracker silent this many hours is offline.
    pub offline_hours: u32,
    /// The wired and wireless trackers of a vehicle farther apart than this (metres) diverge...
    pub diverge_m: u32,
    /// ...judged on fixes at most this many minutes apart.
    pub diverge_minutes: u32,
    /// Positions within a place's radius this many hours are a stay.
    pub stay_hours: u32,
    /// Tracker events are deleted after this many days.
    pub retention_days: u32,
    /// Signs the vendors' webhook (at least 16 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl Default for MonitoringDoc {
    fn default() -> Self {
        let r = huifang_core::vehicle::MonitorRules::default();
        MonitoringDoc {
            offline_hours: r.offline_hours,
            diverge_m: r.diverge_m,
            diverge_minutes: r.diverge_minutes,
            stay_hours: r.stay_hours,
            retention_days: r.retention_days,
            webhook_secret: None,
        }
    }
}

impl MonitoringDoc {
    const HIDDEN: &'static str = "********";

    /// The core's rules.
    pub fn rules(&self) -> huifang_core::vehicle::MonitorRules {
        huifang_core::vehicle::MonitorRules {
            offline_hours: self.offline_hours,
            diverge_m: self.diverge_m,
            diverge_minutes: self.diverge_minutes,
            stay_hours: self.stay_hours,
            retention_days: self.retention_days,
        }
    }

    /// As shown: the secret hidden.
    pub fn redacted(mut self) -> MonitoringDoc {
        if self.webhook_secret.is_some() {
            self.webhook_secret = Some(Self::HIDDEN.to_string());
        }
        self
    }

    /// A secret sent back hidden keeps `old`'s; a new one must be at least 16 characters.
    pub fn keep_hidden_secret(&mut self, old: &MonitoringDoc) -> Result<(), AppError> {
        if self.webhook_secret.as_deref() == Some(Self::HIDDEN) {
            self.webhook_secret.clone_from(&old.webhook_secret);
        }
        if self.webhook_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(AppError::Field {
                field: "webhook_secret",
                reason: "must be at least 16 characters".into(),
            });
        }
        Ok(())
    }
}

/// A risk signal a tracker's events raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VehicleSignalView {
    /// The loan's external id.
    pub loan: String,
    /// `gps_offline`, `gps_power_cut`, `gps_tamper`, `gps_diverged`, `gps_left_province`,
    /// `gps_pawn_shop_stay`, `gps_used_car_market_stay`.
    pub kind: String,
    /// When it held (RFC 3339, UTC).
    pub at: String,
    /// What it says (no position).
    pub detail: String,
}

/// What a batch of tracker events did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrackerIngestView {
    pub received: usize,
    /// Events kept (new).
    pub kept: usize,
    /// Events kept before (the same tracker, time and event).
    pub duplicates: usize,
    /// Trackers bound to their loans by VIN now.
    pub trackers_bound: usize,
    pub signals: Vec<VehicleSignalView>,
    /// Loans the warning rules weighed at once.
    pub loans_weighed: usize,
}

/// What the offline sweep found and the retention deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SweepView {
    pub offline: Vec<VehicleSignalView>,
    /// Tracker events older than the retention period, deleted.
    pub purged: u64,
}

/// A position: decimal degrees, six places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PositionView {
    pub lat: String,
    pub lon: String,
}

/// A tracker of a vehicle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrackerView {
    pub device: String,
    /// `wired` or `wireless`.
    pub tracker: String,
    /// Last heard from (RFC 3339, UTC).
    pub last_seen: String,
    pub silent_hours: i64,
    /// A wired tracker silent for the rules' hours.
    pub offline: bool,
    pub last_position: Option<PositionView>,
    pub last_position_at: Option<String>,
}

/// A stay being timed within a place's radius.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StayView {
    pub place: String,
    pub kind: String,
    pub since: String,
    pub hours: i64,
}

/// A risk signal of a loan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SignalRowView {
    pub kind: String,
    pub value: String,
    /// The business date it was recorded on.
    pub observed_on: String,
}

/// One tracker event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TrackerEventView {
    pub device: String,
    pub tracker: String,
    pub at: String,
    /// `position`, `offline`, `power_cut` or `tamper`.
    pub event: String,
    pub position: Option<PositionView>,
}

/// A loan's vehicle as its trackers see it (locations: risk officers and repossession agents
/// only; every view logged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VehicleView {
    pub loan: String,
    pub vin: String,
    /// The province of registration (GB/T 2260 code), from the borrower's ID number.
    pub province: String,
    pub province_name: Option<String>,
    pub trackers: Vec<TrackerView>,
    pub stay: Option<StayView>,
    /// The risk signals the trackers raised, oldest first.
    pub signals: Vec<SignalRowView>,
    /// The latest events, newest first.
    pub events: Vec<TrackerEventView>,
}

/// A known place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlaceView {
    pub external_id: String,
    /// `pawn_shop` or `used_car_market`.
    pub kind: String,
    pub name: String,
    pub lat: String,
    pub lon: String,
    pub radius_m: u32,
}

/// One view of a vehicle's locations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LocationViewView {
    pub id: i64,
    pub username: String,
    pub loan: String,
    pub viewed_at: String,
    pub business_date: String,
}

// ----- the follow-up assistant -----------------------------------------------------------------

/// The assistant's rules: which task kinds it takes and by which flow, the share it takes, how
/// often it asks a question and how long it waits for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistantRulesDoc {
    /// Task kind (welcome_call, repayment_reminder) → flow (ivr, sms, wechat); a kind absent is
    /// left to agents.
    pub flows: BTreeMap<String, String>,
    /// The share of those tasks it takes, in per cent (0–100).
    pub share_pct: u32,
    /// Times a question is asked without a usable answer before the task goes to an agent (1–5).
    pub asks: u32,
    /// Minutes an answer is waited for before the question is asked again (1–1440).
    pub wait_minutes: u32,
}

/// What one pass of the assistant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssistantRunView {
    /// Conversations started (a task taken, its first question sent or its call placed).
    pub started: u64,
    /// Questions asked again after no answer.
    pub asked_again: u64,
    /// Tasks handed to agents (no answer after the asks, or a contact rule refused the flow).
    pub handed_over: u64,
    /// Tasks or questions left for later: outside the contact hours.
    pub waiting: u64,
}

/// The assistant's conversations of a task kind on a flow: how many ended done and how many
/// went to agents, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssistantReportRow {
    pub kind: String,
    pub flow: String,
    pub started: i64,
    pub active: i64,
    pub completed: i64,
    pub handed_over: i64,
    /// Ended without a contact: the task was closed (its loan paid off …) or reassigned by a
    /// team lead while the assistant held it.
    pub closed: i64,
    /// Completed of those completed or handed over, in per cent, one decimal ("83.3").
    pub completion_pct: String,
    /// Handed over of those ended, in per cent, one decimal.
    pub hand_over_pct: String,
    /// Handed over by reason: risk, answer, person, no_answer, unclear, blocked.
    pub reasons: BTreeMap<String, i64>,
}

/// One line of a conversation's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TranscriptLineView {
    /// assistant or borrower.
    pub speaker: String,
    pub text: String,
}

/// The assistant's conversation on a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AssistantSessionView {
    pub task_id: i64,
    pub kind: String,
    pub flow: String,
    /// active, completed, handed_over or closed.
    pub state: String,
    /// Why it was handed over (risk, answer, person, no_answer, unclear, blocked) or closed
    /// (task_closed, reassigned).
    pub reason: Option<String>,
    /// Question id → answer as the script reads it (yes/no, an option's code, a number).
    pub answers: BTreeMap<String, String>,
    pub transcript: Vec<TranscriptLineView>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The contact recorded when it ended.
    pub interaction_id: Option<i64>,
}

/// The answer to the telephony provider's IVR webhook: say this, then gather the next answer
/// (`ask`) or hang up (`hangup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IvrReplyView {
    pub action: String,
    pub say: String,
}

/// The processes sharing the database, and the daily close's progress
/// (`huifang status --workers`, `GET /api/v1/workers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ClusterView {
    pub business_date: String,
    /// Servers first, then workers, by start.
    pub processes: Vec<ProcessView>,
    /// The latest close shared by workers (none before the first).
    pub close: Option<CloseRunView>,
}

/// A server or worker and its last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProcessView {
    pub id: String,
    /// `serve` or `worker`.
    pub kind: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub heartbeat_at: String,
    pub seconds_since_heartbeat: i64,
    /// Its heartbeat is recent (15 s).
    pub alive: bool,
    pub doing: String,
}

/// A day's close shared by workers: its chunks and how many are planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CloseRunView {
    pub run: i64,
    pub day: String,
    pub coordinator: String,
    /// running, done or abandoned (its coordinator was gone; the day started again).
    pub state: String,
    pub loans: i64,
    pub chunks: i64,
    pub planned: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Once done: how many chunks each process planned.
    pub planners: Vec<PlannerView>,
}

/// How many chunks of a close a process planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlannerView {
    pub process: String,
    pub chunks: i64,
}

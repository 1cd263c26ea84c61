//! Plain records moved in and out of the database, and their row mappings.

use huifang_core::loan::{DatedOp, LoanOp, LoanTerms, Payment};
use huifang_core::policy::{Bucket, Classification, ProductRules};
use huifang_core::status::{Lifecycle, StatusSummary};
use huifang_core::warning::{ObservedSignal, WarningAction, WarningState};
use huifang_core::{BorrowerId, Date, LoanId, Money, Rate, TaskId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::{Val, date_text, named_col, opt_date_col, parse_date_col};
use crate::{Result, StoreError, decode_op};

/// A product: what is inserted, and what a [`ProductRecord`] holds besides its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub code: String,
    pub name: String,
    pub rules: ProductRules,
}

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    pub id: i64,
    pub product: Product,
}

/// A stored borrower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorrowerRecord {
    pub id: BorrowerId,
    pub borrower: Borrower,
}

/// A borrower as pages show them without a reveal: ID number and mobile masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorrowerCard {
    pub id: BorrowerId,
    pub external_id: String,
    pub name: String,
    pub id_number_masked: String,
    pub mobile_masked: String,
    /// The repayment account's masked form, when known.
    pub bank_account_masked: Option<String>,
    pub city: String,
}

/// A borrower: what is inserted, and what a [`BorrowerRecord`] holds besides its key.
/// `id_number` and `mobile` are the full values: mask them before display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Borrower {
    pub external_id: String,
    pub name: String,
    pub id_number: String,
    pub mobile: String,
    pub employer: String,
    pub monthly_income: Money,
    pub city: String,
}

/// What the daily close and imports store about a loan after evaluating it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    pub summary: StatusSummary,
    pub oldest_unpaid_due: Option<Date>,
    pub outstanding_principal: Money,
    pub warning_rule: Option<String>,
    pub next_event_on: Option<Date>,
    pub evaluated_on: Date,
    /// Reason keys of the loan's unfinished tasks, sorted. Stored with the state so that the
    /// daily close reads them with it; whoever writes the state writes the loan's keys as they
    /// stand after the same transaction's task changes.
    pub open_task_keys: Vec<String>,
    /// The loan's next continuous follow-up date, kept by the follow-up planner and stored with
    /// the state for the same reason as the keys.
    pub next_continuous_on: Option<Date>,
}

/// A stored loan with its product's rules and its last evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanRecord {
    pub id: LoanId,
    pub product_code: String,
    pub rules: ProductRules,
    pub loan: Loan,
}

/// A loan with an evaluation: what is inserted (with its first evaluation), and what a
/// [`LoanRecord`] holds besides its key and its product's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loan {
    pub external_id: String,
    pub borrower_id: BorrowerId,
    pub borrower_external_id: String,
    pub product_id: i64,
    pub terms: LoanTerms,
    pub vin: String,
    pub vehicle_model: String,
    pub vehicle_price: Money,
    pub dealer: String,
    pub evaluation: Evaluation,
}

/// A loan with everything a replay needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayInput {
    pub loan: LoanRecord,
    pub ops: Vec<DatedOp>,
    pub payments: Vec<Payment>,
    /// The loan's risk signals, oldest first (the warning rules read them).
    pub signals: Vec<ObservedSignal>,
    /// The last business date a contact reached the borrower.
    pub last_reached: Option<Date>,
}

/// A stored version of the early-warning rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetRecord {
    pub version: i64,
    /// The rule set as `huifang rules show` prints it.
    pub document: String,
    /// The business date after which it applies.
    pub set_on: Date,
    /// When it was stored (RFC 3339, UTC).
    pub set_at: String,
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: i64,
    pub external_id: String,
    pub loan_external_id: String,
    pub paid_on: Date,
    pub amount: Money,
    pub channel: String,
    /// The business date on which it was posted (after `paid_on` when it was backdated).
    pub received_on: Date,
}

/// A payment to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub external_id: String,
    pub loan_id: LoanId,
    pub paid_on: Date,
    pub amount: Money,
    pub channel: String,
    pub received_on: Date,
}

/// A loan operation to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOp {
    pub loan_id: LoanId,
    pub op: DatedOp,
    pub reason: String,
    pub decided_by: String,
    pub recorded_on: Date,
}

/// A stored loan operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    pub op: DatedOp,
    pub reason: String,
    pub decided_by: String,
    pub recorded_on: Date,
}

/// A stored event. `details` is a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventRecord {
    pub loan_id: LoanId,
    pub business_date: Date,
    pub kind: String,
    pub details: String,
}

/// A status history row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryRecord {
    pub loan_id: LoanId,
    pub business_date: Date,
    pub summary: StatusSummary,
    /// What moved it: "close", "payment", "import", "operation:<kind>".
    pub cause: String,
}

/// A warning raised on a loan. `facts` is a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WarningRecord {
    pub loan_id: LoanId,
    pub level: u8,
    pub rule: String,
    pub facts: String,
    pub raised_on: Date,
    pub cleared_on: Option<Date>,
}

/// A decision on a loan asked for by a person: what is recorded, and what a [`DecisionRecord`]
/// holds besides its key and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub loan_id: LoanId,
    pub op: DatedOp,
    pub reason: String,
    pub requested_by: UserId,
    /// When it was asked for (RFC 3339, UTC).
    pub requested_at: String,
    pub business_date: Date,
}

/// A recorded decision: pending a second approver, or applied (its loan operation recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub id: i64,
    pub loan_external_id: String,
    pub requester: String,
    pub applied: bool,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub op_id: Option<i64>,
    pub decision: Decision,
}

pub(crate) const DECISION_SELECT: &str = "SELECT d.id, l.external_id, r.username, d.state, a.username, d.approved_at, d.op_id, d.loan_id, d.kind, d.params, d.on_date, d.reason, d.requested_by, d.requested_at, d.business_date FROM decisions d JOIN loans l ON l.id = d.loan_id JOIN users r ON r.id = d.requested_by LEFT JOIN users a ON a.id = d.approved_by";

pub(crate) fn decision_from_row(row: &AnyRow) -> Result<DecisionRecord> {
    let kind: String = row.try_get(8)?;
    let params: String = row.try_get(9)?;
    let state: String = row.try_get(3)?;
    Ok(DecisionRecord {
        id: row.try_get(0)?,
        loan_external_id: row.try_get(1)?,
        requester: row.try_get(2)?,
        applied: match state.as_str() {
            "applied" => true,
            "pending" => false,
            _ => return Err(corrupt("decisions.state", &state)),
        },
        approved_by: row.try_get(4)?,
        approved_at: row.try_get(5)?,
        op_id: row.try_get(6)?,
        decision: Decision {
            loan_id: LoanId(row.try_get(7)?),
            op: DatedOp {
                on: parse_date_col(&row.try_get::<String, _>(10)?)?,
                op: decode_op(&kind, &params).map_err(StoreError::Corrupt)?,
            },
            reason: row.try_get(11)?,
            requested_by: UserId(row.try_get(12)?),
            requested_at: row.try_get(13)?,
            business_date: parse_date_col(&row.try_get::<String, _>(14)?)?,
        },
    })
}

/// A warning with where it is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningRow {
    pub id: i64,
    pub loan_external_id: String,
    pub state: WarningState,
    /// The business date since which no rule holds for its loan, while it waits to be resolved.
    pub false_since: Option<Date>,
    pub warning: WarningRecord,
}

/// A step of a warning's life: what is recorded (with its ledger salt), and what a
/// [`WarningStepRecord`] holds besides its key and its user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningStep {
    pub warning_id: i64,
    pub loan_id: LoanId,
    pub action: WarningAction,
    /// Who took it; `None` for the system (the close, a re-evaluation).
    pub user_id: Option<UserId>,
    /// The task that answers the warning, for an action taken.
    pub task_id: Option<TaskId>,
    pub note: String,
    pub business_date: Date,
    /// When a user took it (RFC 3339, UTC).
    pub occurred_at: Option<String>,
}

/// A recorded step of a warning's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningStepRecord {
    pub id: i64,
    pub username: Option<String>,
    pub step: WarningStep,
}

/// The stored status of one loan (DPD is derived from `oldest_unpaid_due` and the date asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    pub id: LoanId,
    pub external_id: String,
    pub lifecycle: Lifecycle,
    pub oldest_unpaid_due: Option<Date>,
    pub bucket: Bucket,
    pub classification: Classification,
    pub overdue_installments: u32,
    pub outstanding_principal: Money,
    pub warning_level: u8,
}

/// One group of the portfolio summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub lifecycle: Lifecycle,
    pub bucket: Bucket,
    pub classification: Classification,
    pub warning_level: u8,
    pub loans: i64,
    pub outstanding_principal: Money,
}

pub(crate) const LOAN_COLUMNS: &str = "l.id, l.external_id, l.borrower_id, l.borrower_external_id, l.product_id, p.code, p.grace_days, p.penalty_rate_markup, l.principal_fen, l.annual_rate, l.term_months, l.method, l.disbursed_on, l.vin, l.vehicle_model, l.vehicle_price_fen, l.dealer, s.lifecycle, s.oldest_unpaid_due, s.bucket, s.classification, s.overdue_installments, s.outstanding_principal_fen, s.warning_level, s.warning_rule, s.next_event_on, s.evaluated_on, s.open_task_keys, s.next_continuous_on";

/// The tables [`LOAN_COLUMNS`] reads from.
pub(crate) const LOAN_FROM: &str =
    "loans l JOIN loan_state s ON s.loan_id = l.id JOIN products p ON p.id = l.product_id";

/// Parses payments packed as `YYYY-MM-DD:fen,YYYY-MM-DD:fen,…`.
pub(crate) fn unpack_payments(packed: &str) -> Result<Vec<Payment>> {
    packed
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (date, fen) = item
                .split_once(':')
                .ok_or_else(|| corrupt("packed payment", item))?;
            let fen: i64 = fen
                .parse()
                .map_err(|_| corrupt("packed payment amount", item))?;
            Ok(Payment {
                paid_on: parse_date_col(date)?,
                amount: Money::from_fen(fen),
            })
        })
        .collect()
}

/// The columns of a `loan_state` row: the loan, then its evaluation.
pub(crate) const STATE_COLUMNS: [&str; 13] = [
    "loan_id",
    "lifecycle",
    "oldest_unpaid_due",
    "bucket",
    "classification",
    "overdue_installments",
    "outstanding_principal_fen",
    "warning_level",
    "warning_rule",
    "next_event_on",
    "evaluated_on",
    "open_task_keys",
    "next_continuous_on",
];

/// A `loan_state` row in the order of `STATE_COLUMNS`.
pub(crate) fn state_row(loan_id: LoanId, e: &Evaluation) -> Vec<Val> {
    let mut row = Vec::with_capacity(STATE_COLUMNS.len());
    row.push(Val::Int(loan_id.get()));
    row.extend(evaluation_vals(e));
    row
}

fn evaluation_vals(e: &Evaluation) -> Vec<Val> {
    vec![
        Val::Text(e.summary.lifecycle.as_str().to_string()),
        Val::OptText(e.oldest_unpaid_due.map(date_text)),
        Val::Int(i64::from(e.summary.bucket.0)),
        Val::Text(e.summary.classification.as_str().to_string()),
        Val::Int(i64::from(e.summary.overdue_installments)),
        Val::Int(e.outstanding_principal.fen()),
        Val::Int(i64::from(e.summary.warning_level)),
        Val::OptText(e.warning_rule.clone()),
        Val::OptText(e.next_event_on.map(date_text)),
        Val::Text(date_text(e.evaluated_on)),
        Val::Text(pack_keys(&e.open_task_keys)),
        Val::OptText(e.next_continuous_on.map(date_text)),
    ]
}

/// Reason keys as stored in `loan_state.open_task_keys`: one per line. Keys are generated by
/// Huifang and never hold a line break.
pub(crate) fn pack_keys(keys: &[String]) -> String {
    keys.join("\n")
}

/// The keys of a stored `open_task_keys`, sorted.
pub(crate) fn unpack_keys(packed: &str) -> Vec<String> {
    let mut keys: Vec<String> = packed
        .split('\n')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    keys.sort_unstable();
    keys
}

fn corrupt(what: &str, value: impl std::fmt::Debug) -> StoreError {
    StoreError::Corrupt(format!("bad {what}: {value:?}"))
}

pub(crate) fn small<T: TryFrom<i64>>(row: &AnyRow, i: usize, what: &str) -> Result<T> {
    let v: i64 = row.try_get(i)?;
    T::try_from(v).map_err(|_| corrupt(what, v))
}

pub(crate) fn lifecycle(s: &str) -> Result<Lifecycle> {
    Lifecycle::parse(s).ok_or_else(|| corrupt("lifecycle", s))
}

pub(crate) fn classification(s: &str) -> Result<Classification> {
    s.parse().map_err(|_| corrupt("classification", s))
}

fn rules(row: &AnyRow, grace: usize, markup: usize) -> Result<ProductRules> {
    let text: String = row.try_get(markup)?;
    let markup = Rate::parse_in(&text, 0.into(), 100.into())
        .map_err(|_| corrupt("penalty_rate_markup", &text))?;
    Ok(ProductRules {
        grace_days: small(row, grace, "grace_days")?,
        penalty_rate_markup: markup,
    })
}

pub(crate) fn product_from_row(row: &AnyRow) -> Result<ProductRecord> {
    Ok(ProductRecord {
        id: row.try_get(0)?,
        product: Product {
            code: row.try_get(1)?,
            name: row.try_get(2)?,
            rules: rules(row, 3, 4)?,
        },
    })
}

pub(crate) fn borrower_from_row(row: &AnyRow) -> Result<BorrowerRecord> {
    Ok(BorrowerRecord {
        id: BorrowerId(row.try_get(0)?),
        borrower: Borrower {
            external_id: row.try_get(1)?,
            name: row.try_get(2)?,
            id_number: row.try_get(3)?,
            mobile: row.try_get(4)?,
            employer: row.try_get(5)?,
            monthly_income: Money::from_fen(row.try_get(6)?),
            city: row.try_get(7)?,
        },
    })
}

pub(crate) fn loan_from_row(row: &AnyRow) -> Result<LoanRecord> {
    let rate_text: String = row.try_get(9)?;
    let method_text: String = row.try_get(11)?;
    let terms = LoanTerms {
        principal: Money::from_fen(row.try_get(8)?),
        annual_rate: Rate::parse_annual(&rate_text)
            .map_err(|_| corrupt("annual_rate", &rate_text))?,
        term_months: small(row, 10, "term_months")?,
        method: method_text
            .parse()
            .map_err(|_| corrupt("method", &method_text))?,
        disbursed_on: parse_date_col(&row.try_get::<String, _>(12)?)?,
    };
    let evaluation = Evaluation {
        summary: StatusSummary {
            lifecycle: lifecycle(&row.try_get::<String, _>(17)?)?,
            bucket: Bucket(small(row, 19, "bucket")?),
            classification: classification(&row.try_get::<String, _>(20)?)?,
            warning_level: small(row, 23, "warning_level")?,
            overdue_installments: small(row, 21, "overdue_installments")?,
        },
        oldest_unpaid_due: opt_date_col(row.try_get(18)?)?,
        outstanding_principal: Money::from_fen(row.try_get(22)?),
        warning_rule: row.try_get(24)?,
        next_event_on: opt_date_col(row.try_get(25)?)?,
        evaluated_on: parse_date_col(&row.try_get::<String, _>(26)?)?,
        open_task_keys: unpack_keys(&row.try_get::<String, _>(27)?),
        next_continuous_on: opt_date_col(row.try_get(28)?)?,
    };
    Ok(LoanRecord {
        id: LoanId(row.try_get(0)?),
        product_code: row.try_get(5)?,
        rules: rules(row, 6, 7)?,
        loan: Loan {
            external_id: row.try_get(1)?,
            borrower_id: BorrowerId(row.try_get(2)?),
            borrower_external_id: row.try_get(3)?,
            product_id: row.try_get(4)?,
            terms,
            vin: row.try_get(13)?,
            vehicle_model: row.try_get(14)?,
            vehicle_price: Money::from_fen(row.try_get(15)?),
            dealer: row.try_get(16)?,
            evaluation,
        },
    })
}

pub(crate) fn payment_from_row(row: &AnyRow) -> Result<PaymentRecord> {
    Ok(PaymentRecord {
        id: row.try_get(0)?,
        external_id: row.try_get(1)?,
        loan_external_id: row.try_get(2)?,
        paid_on: parse_date_col(&row.try_get::<String, _>(3)?)?,
        amount: Money::from_fen(row.try_get(4)?),
        channel: row.try_get(5)?,
        received_on: parse_date_col(&row.try_get::<String, _>(6)?)?,
    })
}

pub(crate) fn op_from_row(row: &AnyRow) -> Result<OpRecord> {
    let kind: String = row.try_get(1)?;
    let params: String = row.try_get(2)?;
    let op: LoanOp = decode_op(&kind, &params).map_err(StoreError::Corrupt)?;
    Ok(OpRecord {
        op: DatedOp {
            on: parse_date_col(&row.try_get::<String, _>(0)?)?,
            op,
        },
        reason: row.try_get(3)?,
        decided_by: row.try_get(4)?,
        recorded_on: parse_date_col(&row.try_get::<String, _>(5)?)?,
    })
}

pub(crate) fn event_from_row(row: &AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        loan_id: LoanId(row.try_get(0)?),
        business_date: parse_date_col(&row.try_get::<String, _>(1)?)?,
        kind: row.try_get(2)?,
        details: row.try_get(3)?,
    })
}

pub(crate) fn history_from_row(row: &AnyRow) -> Result<HistoryRecord> {
    Ok(HistoryRecord {
        loan_id: LoanId(row.try_get(0)?),
        business_date: parse_date_col(&row.try_get::<String, _>(1)?)?,
        summary: StatusSummary {
            lifecycle: lifecycle(&row.try_get::<String, _>(2)?)?,
            bucket: Bucket(small(row, 3, "bucket")?),
            classification: classification(&row.try_get::<String, _>(4)?)?,
            warning_level: small(row, 5, "warning_level")?,
            overdue_installments: 0,
        },
        cause: row.try_get(6)?,
    })
}

pub(crate) fn warning_from_row(row: &AnyRow) -> Result<WarningRecord> {
    Ok(WarningRecord {
        loan_id: LoanId(row.try_get(0)?),
        level: small(row, 1, "level")?,
        rule: row.try_get(2)?,
        facts: row.try_get(3)?,
        raised_on: parse_date_col(&row.try_get::<String, _>(4)?)?,
        cleared_on: opt_date_col(row.try_get(5)?)?,
    })
}

pub(crate) const WARNING_ROW_SELECT: &str = "SELECT w.id, l.external_id, w.state, w.false_since, w.loan_id, w.level, w.rule, w.facts, w.raised_on, w.cleared_on FROM warnings w JOIN loans l ON l.id = w.loan_id";

pub(crate) fn warning_row_from_row(row: &AnyRow) -> Result<WarningRow> {
    Ok(WarningRow {
        id: row.try_get(0)?,
        loan_external_id: row.try_get(1)?,
        state: named_col(row, 2, "warnings.state")?,
        false_since: opt_date_col(row.try_get(3)?)?,
        warning: WarningRecord {
            loan_id: LoanId(row.try_get(4)?),
            level: small(row, 5, "level")?,
            rule: row.try_get(6)?,
            facts: row.try_get(7)?,
            raised_on: parse_date_col(&row.try_get::<String, _>(8)?)?,
            cleared_on: opt_date_col(row.try_get(9)?)?,
        },
    })
}

pub(crate) const WARNING_STEP_SELECT: &str = "SELECT a.id, u.username, a.warning_id, a.loan_id, a.action, a.user_id, a.task_id, a.note, a.business_date, a.occurred_at FROM warning_actions a LEFT JOIN users u ON u.id = a.user_id";

pub(crate) fn warning_step_from_row(row: &AnyRow) -> Result<WarningStepRecord> {
    Ok(WarningStepRecord {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        step: WarningStep {
            warning_id: row.try_get(2)?,
            loan_id: LoanId(row.try_get(3)?),
            action: named_col(row, 4, "warning_actions.action")?,
            user_id: row.try_get::<Option<i64>, _>(5)?.map(UserId),
            task_id: row.try_get::<Option<i64>, _>(6)?.map(TaskId),
            note: row.try_get(7)?,
            business_date: parse_date_col(&row.try_get::<String, _>(8)?)?,
            occurred_at: row.try_get(9)?,
        },
    })
}

pub(crate) fn status_from_row(row: &AnyRow) -> Result<StatusRow> {
    Ok(StatusRow {
        id: LoanId(row.try_get(0)?),
        external_id: row.try_get(1)?,
        lifecycle: lifecycle(&row.try_get::<String, _>(2)?)?,
        oldest_unpaid_due: opt_date_col(row.try_get(3)?)?,
        bucket: Bucket(small(row, 4, "bucket")?),
        classification: classification(&row.try_get::<String, _>(5)?)?,
        overdue_installments: small(row, 6, "overdue_installments")?,
        outstanding_principal: Money::from_fen(row.try_get(7)?),
        warning_level: small(row, 8, "warning_level")?,
    })
}

pub(crate) fn summary_from_row(row: &AnyRow) -> Result<SummaryRow> {
    Ok(SummaryRow {
        lifecycle: lifecycle(&row.try_get::<String, _>(0)?)?,
        bucket: Bucket(small(row, 1, "bucket")?),
        classification: classification(&row.try_get::<String, _>(2)?)?,
        warning_level: small(row, 3, "warning_level")?,
        loans: row.try_get(4)?,
        outstanding_principal: Money::from_fen(row.try_get(5)?),
    })
}

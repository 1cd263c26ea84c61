//! A loan's life as a pure replay: terms, dated operations and value-dated payments in, the state
//! of every installment and the allocation of every payment out.
//!
//! Replaying from the start is how a backdated payment "re-processes the loan from its date": the
//! result is by construction the same as if the payment had arrived on its value date.

use std::fmt;
use std::str::FromStr;

use crate::calendar::{Date, add_days, add_months, days_between};
use crate::money::{Money, Rate};
use crate::policy::{Classification, PenaltyRate, ProductRules};
use crate::schedule::{self, Method, ScheduleError, ScheduleTerms};

/// The contractual terms of a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoanTerms {
    pub principal: Money,
    pub annual_rate: Rate,
    pub term_months: u32,
    pub method: Method,
    pub disbursed_on: Date,
}

impl LoanTerms {
    /// The schedule terms of the original contract.
    pub fn schedule_terms(&self) -> ScheduleTerms {
        ScheduleTerms {
            principal: self.principal,
            annual_rate: self.annual_rate,
            term_months: self.term_months,
            method: self.method,
            start: self.disbursed_on,
        }
    }
}

/// A loan operation decided by a risk officer or requested by the borrower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoanOp {
    /// 展期/延期: every installment not yet paid moves `months` months later.
    Defer { months: u32 },
    /// 还款假期: nothing falls due for `months` months from the date. The installments not yet
    /// due move `months` months later (what is already overdue stays due), and the interest of
    /// the holiday — their principal × the loan's annual rate × months / 12, rounded half-up
    /// from its exact value — is added to the first installment after it.
    PaymentHoliday { months: u32 },
    /// 重组: everything unpaid (principal, overdue interest, penalty) becomes the principal of a
    /// new schedule starting on the operation date.
    Restructure {
        annual_rate: Rate,
        term_months: u32,
        method: Method,
    },
    /// 提前结清: all remaining principal and the current period's interest fall due on the date.
    EarlySettlement,
    /// 提前收回: the whole balance is due now (same schedule change as early settlement).
    Acceleration,
    /// 核销: the loan is written off; it stays owed and payments still apply as recoveries.
    WriteOff,
    /// A manual classification floor (a downgrade; DPD can still force a worse tier).
    Classify { floor: Classification },
}

impl LoanOp {
    /// The operation's name used in storage and the API.
    pub fn kind(&self) -> OpKind {
        match self {
            LoanOp::Defer { .. } => OpKind::Defer,
            LoanOp::PaymentHoliday { .. } => OpKind::PaymentHoliday,
            LoanOp::Restructure { .. } => OpKind::Restructure,
            LoanOp::EarlySettlement => OpKind::EarlySettlement,
            LoanOp::Acceleration => OpKind::Acceleration,
            LoanOp::WriteOff => OpKind::WriteOff,
            LoanOp::Classify { .. } => OpKind::Classify,
        }
    }
}

/// The kinds of loan operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OpKind {
    Defer,
    PaymentHoliday,
    Restructure,
    EarlySettlement,
    Acceleration,
    WriteOff,
    Classify,
}

impl OpKind {
    /// Every kind.
    pub const ALL: [OpKind; 7] = [
        OpKind::Defer,
        OpKind::PaymentHoliday,
        OpKind::Restructure,
        OpKind::EarlySettlement,
        OpKind::Acceleration,
        OpKind::WriteOff,
        OpKind::Classify,
    ];

    /// The name used in storage, files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Defer => "defer",
            OpKind::PaymentHoliday => "payment_holiday",
            OpKind::Restructure => "restructure",
            OpKind::EarlySettlement => "early_settlement",
            OpKind::Acceleration => "acceleration",
            OpKind::WriteOff => "write_off",
            OpKind::Classify => "classify",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OpKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            OpKind::Defer,
            OpKind::PaymentHoliday,
            OpKind::Restructure,
            OpKind::EarlySettlement,
            OpKind::Acceleration,
            OpKind::WriteOff,
            OpKind::Classify,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown loan operation {s:?}"))
    }
}

/// An operation with its effective date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedOp {
    pub on: Date,
    pub op: LoanOp,
}

/// A value-dated payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payment {
    pub paid_on: Date,
    pub amount: Money,
}

/// Where part of a payment went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// Index of the payment in the replayed payment list.
    pub payment: usize,
    /// Installment number.
    pub installment: u32,
    pub penalty: Money,
    pub interest: Money,
    pub principal: Money,
}

/// One installment and what has been paid on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallmentState {
    pub n: u32,
    pub due_date: Date,
    pub principal: Money,
    pub interest: Money,
    pub principal_paid: Money,
    pub interest_paid: Money,
    pub penalty_paid: Money,
    /// The date the installment was fully paid (or closed by an operation).
    pub paid_off_on: Option<Date>,
    /// Set when an operation (restructure, settlement, acceleration) replaced what was unpaid.
    pub closed_by: Option<OpKind>,
    anchor: Date,
    months: u32,
    penalty_rate: PenaltyRate,
    /// Exact penalty accrued from the due date through `penalty_through`, in units of
    /// `1 / penalty_rate.unit()` fen.
    penalty_accrued: i128,
    penalty_through: Date,
}

impl InstallmentState {
    /// Principal not yet paid.
    pub fn principal_left(&self) -> Money {
        self.principal - self.principal_paid
    }

    /// Interest not yet paid.
    pub fn interest_left(&self) -> Money {
        self.interest - self.interest_paid
    }

    /// Whether the installment was fully paid on or before `date`.
    pub fn is_paid_by(&self, date: Date) -> bool {
        self.paid_off_on.is_some_and(|d| d <= date)
    }

    /// The penalty interest owed on `date` (zero while the installment is within its grace days,
    /// and for good when it was fully paid within them).
    pub fn penalty_due(&self, date: Date, grace_days: u32) -> Money {
        if self.paid_off_on.is_some() || date <= add_days(self.due_date, i64::from(grace_days)) {
            return Money::ZERO;
        }
        let accrued = self
            .penalty_accrued
            .saturating_add(self.accrual_since_through(date));
        let due = self.penalty_rate.to_money(accrued) - self.penalty_paid;
        if due.is_positive() { due } else { Money::ZERO }
    }

    /// Everything owed on this installment on `date`: penalty, interest and principal.
    pub fn amount_due(&self, date: Date, grace_days: u32) -> Money {
        self.penalty_due(date, grace_days) + self.interest_left() + self.principal_left()
    }

    fn accrual_since_through(&self, date: Date) -> i128 {
        let days = days_between(self.penalty_through, date);
        if days <= 0 || self.penalty_rate.is_zero() {
            return 0;
        }
        let fen_days = i128::from(self.principal_left().fen()).saturating_mul(i128::from(days));
        self.penalty_rate.accrue(fen_days)
    }

    fn accrue_to(&mut self, date: Date) {
        if date > self.penalty_through {
            self.penalty_accrued = self
                .penalty_accrued
                .saturating_add(self.accrual_since_through(date));
            self.penalty_through = date;
        }
    }

    fn close(&mut self, on: Date, by: OpKind) {
        self.principal = self.principal_paid;
        self.interest = self.interest_paid;
        self.penalty_accrued =
            i128::from(self.penalty_paid.fen()).saturating_mul(self.penalty_rate.unit());
        self.paid_off_on = Some(on);
        self.closed_by = Some(by);
    }
}

/// Why a replay failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoanError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error("{op} on {on}: the loan has nothing unpaid")]
    NothingOutstanding { op: OpKind, on: Date },
    #[error("{op} on {on} is before the disbursement date")]
    BeforeDisbursement { op: OpKind, on: Date },
    #[error("a payment dated {0} is before the disbursement date")]
    PaymentBeforeDisbursement(Date),
    #[error("deferral must be 1 to 120 months")]
    DeferralMonths,
    #[error("a payment holiday must be 1 to 12 months")]
    HolidayMonths,
}

/// The replayed state of a loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanState {
    pub terms: LoanTerms,
    pub grace_days: u32,
    /// Installments in due-date order (restructured schedules follow the closed ones).
    pub installments: Vec<InstallmentState>,
    pub allocations: Vec<Allocation>,
    /// Paid beyond everything owed (a credit to refund or apply).
    pub unapplied: Money,
    pub written_off_on: Option<Date>,
    pub classification_floor: Option<Classification>,
    /// The annual rate the loan's interest runs at now (the contract's, or its last
    /// restructure's).
    pub annual_rate: Rate,
    /// The date of the loan's last restructure (the start of its watch period).
    pub restructured_on: Option<Date>,
    /// Operations the replay passed over because, with the payments as they now stand, the loan
    /// had nothing unpaid on their date (a backdated payoff before a recorded write-off, say).
    pub skipped_ops: Vec<(Date, OpKind)>,
}

impl LoanState {
    /// Replays a loan. `ops` and `payments` may come in any order; on one date operations apply
    /// before payments, and each list keeps its own order within a date. An operation that finds
    /// nothing unpaid on its date is passed over and listed in `skipped_ops` (recording one is
    /// refused at the edge; this only happens when a backdated payment settles the loan first).
    pub fn replay(
        terms: LoanTerms,
        rules: &ProductRules,
        ops: &[DatedOp],
        payments: &[Payment],
    ) -> Result<LoanState, LoanError> {
        let penalty_rate = rules.penalty_rate(terms.annual_rate);
        let installments = schedule::build(&terms.schedule_terms())?
            .into_iter()
            .map(|i| {
                new_installment(
                    i.n,
                    terms.disbursed_on,
                    i.n,
                    i.principal,
                    i.interest,
                    penalty_rate,
                )
            })
            .collect();
        let mut state = LoanState {
            terms,
            grace_days: rules.grace_days,
            installments,
            allocations: Vec::new(),
            unapplied: Money::ZERO,
            written_off_on: None,
            classification_floor: None,
            annual_rate: terms.annual_rate,
            restructured_on: None,
            skipped_ops: Vec::new(),
        };

        // Stable sorts, so each list keeps its own order within a date.
        let mut op_order: Vec<&DatedOp> = ops.iter().collect();
        op_order.sort_by_key(|op| op.on);
        let mut pay_order: Vec<(usize, &Payment)> = payments.iter().enumerate().collect();
        pay_order.sort_by_key(|(_, payment)| payment.paid_on);
        let mut op_order = op_order.into_iter().peekable();
        let mut pay_order = pay_order.into_iter().peekable();
        loop {
            // On one date operations apply before payments.
            let next_op = op_order.next_if(|op| {
                pay_order
                    .peek()
                    .is_none_or(|(_, payment)| op.on <= payment.paid_on)
            });
            if let Some(op) = next_op {
                match state.apply_op(op, rules) {
                    Err(LoanError::NothingOutstanding { op, on }) => {
                        state.skipped_ops.push((on, op))
                    }
                    other => other?,
                }
            } else if let Some((index, &payment)) = pay_order.next() {
                state.apply_payment(index, payment)?;
            } else {
                break;
            }
        }
        Ok(state)
    }

    fn apply_payment(&mut self, index: usize, payment: Payment) -> Result<(), LoanError> {
        if payment.paid_on < self.terms.disbursed_on {
            return Err(LoanError::PaymentBeforeDisbursement(payment.paid_on));
        }
        let t = payment.paid_on;
        let mut left = payment.amount;
        for inst in self
            .installments
            .iter_mut()
            .filter(|i| i.paid_off_on.is_none())
        {
            if !left.is_positive() {
                break;
            }
            inst.accrue_to(t);
            let penalty = inst.penalty_due(t, self.grace_days).min(left);
            left -= penalty;
            let interest = inst.interest_left().min(left);
            left -= interest;
            let principal = inst.principal_left().min(left);
            left -= principal;
            inst.penalty_paid += penalty;
            inst.interest_paid += interest;
            inst.principal_paid += principal;
            if inst.principal_left().is_zero()
                && inst.interest_left().is_zero()
                && inst.penalty_due(t, self.grace_days).is_zero()
            {
                inst.paid_off_on = Some(t);
            }
            if (penalty + interest + principal).is_positive() {
                self.allocations.push(Allocation {
                    payment: index,
                    installment: inst.n,
                    penalty,
                    interest,
                    principal,
                });
            }
        }
        self.unapplied += left;
        Ok(())
    }

    fn apply_op(&mut self, op: &DatedOp, rules: &ProductRules) -> Result<(), LoanError> {
        let on = op.on;
        let kind = op.op.kind();
        if on < self.terms.disbursed_on {
            return Err(LoanError::BeforeDisbursement { op: kind, on });
        }
        for inst in self
            .installments
            .iter_mut()
            .filter(|i| i.paid_off_on.is_none())
        {
            inst.accrue_to(on);
        }
        match &op.op {
            LoanOp::Defer { months } => {
                if *months == 0 || *months > 120 {
                    return Err(LoanError::DeferralMonths);
                }
                for inst in self
                    .installments
                    .iter_mut()
                    .filter(|i| i.paid_off_on.is_none())
                {
                    inst.months += months;
                    inst.due_date = add_months(inst.anchor, inst.months);
                    inst.penalty_through = inst.penalty_through.max(inst.due_date);
                }
            }
            LoanOp::PaymentHoliday { months } => {
                if *months == 0 || *months > 12 {
                    return Err(LoanError::HolidayMonths);
                }
                let mut principal = Money::ZERO;
                let mut first = None;
                for (i, inst) in self.installments.iter_mut().enumerate() {
                    if inst.paid_off_on.is_some() || inst.due_date <= on {
                        continue;
                    }
                    principal += inst.principal_left();
                    inst.months += months;
                    inst.due_date = add_months(inst.anchor, inst.months);
                    inst.penalty_through = inst.penalty_through.max(inst.due_date);
                    first.get_or_insert(i);
                }
                let Some(first) = first else {
                    return Err(LoanError::NothingOutstanding { op: kind, on });
                };
                let (num, den) = self.annual_rate.fraction();
                let interest = principal.mul_ratio_half_up(num * i128::from(*months), den * 12);
                if let Some(inst) = self.installments.get_mut(first) {
                    inst.interest += interest;
                }
            }
            LoanOp::Restructure {
                annual_rate,
                term_months,
                method,
            } => {
                let grace = self.grace_days;
                let mut capital = Money::ZERO;
                for inst in self
                    .installments
                    .iter_mut()
                    .filter(|i| i.paid_off_on.is_none())
                {
                    capital += inst.principal_left() + inst.penalty_due(on, grace);
                    if inst.due_date <= on {
                        capital += inst.interest_left();
                    }
                    inst.close(on, kind);
                }
                if !capital.is_positive() {
                    return Err(LoanError::NothingOutstanding { op: kind, on });
                }
                let penalty_rate = rules.penalty_rate(*annual_rate);
                self.annual_rate = *annual_rate;
                self.restructured_on = Some(on);
                let first_n = self.installments.last().map_or(1, |i| i.n + 1);
                let terms = ScheduleTerms {
                    principal: capital,
                    annual_rate: *annual_rate,
                    term_months: *term_months,
                    method: *method,
                    start: on,
                };
                for row in schedule::build(&terms)? {
                    self.installments.push(new_installment(
                        first_n + row.n - 1,
                        on,
                        row.n,
                        row.principal,
                        row.interest,
                        penalty_rate,
                    ));
                }
            }
            LoanOp::EarlySettlement | LoanOp::Acceleration => {
                let mut future = self
                    .installments
                    .iter_mut()
                    .filter(|i| i.paid_off_on.is_none() && i.due_date > on);
                let Some(current) = future.next() else {
                    if self.installments.iter().all(|i| i.paid_off_on.is_some()) {
                        return Err(LoanError::NothingOutstanding { op: kind, on });
                    }
                    return Ok(());
                };
                let mut moved = Money::ZERO;
                for later in future {
                    moved += later.principal_left();
                    later.close(on, kind);
                }
                current.principal += moved;
                current.due_date = on;
                current.penalty_through = on;
            }
            LoanOp::WriteOff => {
                if self.installments.iter().all(|i| i.paid_off_on.is_some()) {
                    return Err(LoanError::NothingOutstanding { op: kind, on });
                }
                self.written_off_on = Some(on);
            }
            LoanOp::Classify { floor } => {
                self.classification_floor = (*floor != Classification::Normal).then_some(*floor);
            }
        }
        self.installments.sort_by_key(|i| (i.due_date, i.n));
        Ok(())
    }

    /// Installments still open (not fully paid, not closed by an operation).
    pub fn open_installments(&self) -> impl Iterator<Item = &InstallmentState> {
        self.installments.iter().filter(|i| i.paid_off_on.is_none())
    }

    /// Principal not yet paid.
    pub fn outstanding_principal(&self) -> Money {
        self.open_installments()
            .map(InstallmentState::principal_left)
            .sum()
    }

    /// Whether every installment is settled.
    pub fn is_paid_off(&self) -> bool {
        self.installments.iter().all(|i| i.paid_off_on.is_some())
    }

    /// The amount that settles the loan on `date` under an early settlement: all overdue amounts
    /// with penalty, the remaining principal and the current period's interest.
    pub fn settlement_quote(&self, date: Date) -> Money {
        let mut total = Money::ZERO;
        let mut current_seen = false;
        for inst in self.open_installments() {
            total += inst.principal_left() + inst.penalty_due(date, self.grace_days);
            if inst.due_date <= date || !current_seen {
                total += inst.interest_left();
            }
            if inst.due_date > date {
                current_seen = true;
            }
        }
        total
    }

    /// Total penalty interest owed on `date`.
    pub fn penalty_due(&self, date: Date) -> Money {
        self.open_installments()
            .map(|i| i.penalty_due(date, self.grace_days))
            .sum()
    }

    /// Total paid on the loan's installments (penalty, interest and principal), excluding any
    /// unapplied credit.
    pub fn total_allocated(&self) -> Money {
        self.allocations
            .iter()
            .map(|a| a.penalty + a.interest + a.principal)
            .sum()
    }
}

fn new_installment(
    n: u32,
    anchor: Date,
    months: u32,
    principal: Money,
    interest: Money,
    penalty_rate: PenaltyRate,
) -> InstallmentState {
    let due_date = add_months(anchor, months);
    InstallmentState {
        n,
        due_date,
        principal,
        interest,
        principal_paid: Money::ZERO,
        interest_paid: Money::ZERO,
        penalty_paid: Money::ZERO,
        paid_off_on: None,
        closed_by: None,
        anchor,
        months,
        penalty_rate,
        penalty_accrued: 0,
        penalty_through: due_date,
    }
}

//! Repayment schedules: 等额本息 (annuity), 等额本金 (equal principal) and 等本等息 (flat).
//!
//! Conventions: monthly rate r = annual / 12 in exact decimal arithmetic; every money figure is
//! rounded half-up to the fen; the last installment takes the remaining balance; the k-th due
//! date is the disbursement date plus k months, the day clamped to the month's end.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::calendar::{Date, add_months};
use crate::money::{Money, Rate};

/// How a loan is repaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// 等额本息: equal payments.
    Annuity,
    /// 等额本金: equal principal, interest on the balance.
    EqualPrincipal,
    /// 等本等息: equal principal, interest on the original principal (add-on).
    Flat,
}

impl Method {
    /// The name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Annuity => "annuity",
            Method::EqualPrincipal => "equal_principal",
            Method::Flat => "flat",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "annuity" | "等额本息" => Ok(Method::Annuity),
            "equal_principal" | "等额本金" => Ok(Method::EqualPrincipal),
            "flat" | "等本等息" => Ok(Method::Flat),
            other => Err(format!(
                "unknown repayment method {other:?} (annuity, equal_principal, flat)"
            )),
        }
    }
}

/// One planned installment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installment {
    /// 1-based number.
    pub n: u32,
    pub due_date: Date,
    pub principal: Money,
    pub interest: Money,
    /// principal + interest.
    pub payment: Money,
    /// Principal still owed after this installment.
    pub balance_after: Money,
}

/// The terms a schedule is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleTerms {
    pub principal: Money,
    pub annual_rate: Rate,
    pub term_months: u32,
    pub method: Method,
    /// The date the months are counted from (the disbursement date).
    pub start: Date,
}

/// Why terms cannot make a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("principal must be greater than zero")]
    Principal,
    #[error("term must be 1 to 600 months")]
    Term,
    #[error("principal is too small for the term: every installment needs at least one fen")]
    TooSmall,
}

/// The most months a loan may run.
pub const MAX_TERM_MONTHS: u32 = 600;

/// Builds the schedule for `terms`. Its principals always sum to the loan's principal.
pub fn build(terms: &ScheduleTerms) -> Result<Vec<Installment>, ScheduleError> {
    if !terms.principal.is_positive() {
        return Err(ScheduleError::Principal);
    }
    if terms.term_months == 0 || terms.term_months > MAX_TERM_MONTHS {
        return Err(ScheduleError::Term);
    }
    if terms.principal.fen() < i64::from(terms.term_months) {
        return Err(ScheduleError::TooSmall);
    }
    let n = terms.term_months;
    let p = terms.principal.to_yuan();
    let r = terms.annual_rate.value() / Decimal::from(12);
    let equal_principal = Money::from_yuan_half_up(p / Decimal::from(n));
    let annuity = if r.is_zero() {
        equal_principal
    } else {
        let growth = (0..n).fold(Decimal::ONE, |acc, _| acc * (Decimal::ONE + r));
        Money::from_yuan_half_up(p * r * growth / (growth - Decimal::ONE))
    };
    let flat_interest = Money::from_yuan_half_up(p * r);

    let mut balance = terms.principal;
    let mut rows = Vec::with_capacity(n as usize);
    for k in 1..=n {
        let interest = match terms.method {
            Method::Flat => flat_interest,
            Method::Annuity | Method::EqualPrincipal => {
                Money::from_yuan_half_up(balance.to_yuan() * r)
            }
        };
        let principal = if k == n {
            balance
        } else {
            match terms.method {
                Method::Annuity => (annuity - interest).min(balance),
                Method::EqualPrincipal | Method::Flat => equal_principal.min(balance),
            }
        };
        balance -= principal;
        rows.push(Installment {
            n: k,
            due_date: add_months(terms.start, k),
            principal,
            interest,
            payment: principal + interest,
            balance_after: balance,
        });
    }
    debug_assert_eq!(
        rows.iter().map(|i| i.principal).sum::<Money>(),
        terms.principal
    );
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_date;
    use proptest::prelude::*;

    fn terms(principal_fen: i64, rate: &str, n: u32, method: Method) -> ScheduleTerms {
        ScheduleTerms {
            principal: Money::from_fen(principal_fen),
            annual_rate: Rate::parse_annual(rate).unwrap(),
            term_months: n,
            method,
            start: parse_date("2026-01-31").unwrap(),
        }
    }

    proptest! {
        #[test]
        fn principal_sums_to_the_loan(
            fen in 100_000i64..10_000_000_000,
            rate_bp in 0u32..3600,
            n in 1u32..=84,
            m in 0usize..3,
        ) {
            let method = [Method::Annuity, Method::EqualPrincipal, Method::Flat][m];
            let rate = format!("{}", Decimal::new(i64::from(rate_bp), 4));
            let rows = build(&terms(fen, &rate, n, method)).unwrap();
            prop_assert_eq!(rows.len() as u32, n);
            prop_assert_eq!(rows.iter().map(|i| i.principal).sum::<Money>(), Money::from_fen(fen));
            prop_assert!(rows.iter().all(|i| i.principal.fen() >= 0 && i.interest.fen() >= 0));
            prop_assert_eq!(rows.last().unwrap().balance_after, Money::ZERO);
            for w in rows.windows(2) {
                prop_assert!(w[0].due_date < w[1].due_date);
                prop_assert_eq!(w[0].balance_after - w[1].principal, w[1].balance_after);
            }
        }
    }

    #[test]
    fn refuses_bad_terms() {
        assert_eq!(
            build(&terms(0, "0.05", 12, Method::Annuity)),
            Err(ScheduleError::Principal)
        );
        assert_eq!(
            build(&terms(100, "0.05", 0, Method::Annuity)),
            Err(ScheduleError::Term)
        );
        assert_eq!(
            build(&terms(5, "0.05", 12, Method::Annuity)),
            Err(ScheduleError::TooSmall)
        );
    }
}

//! Decisions on a loan (展期, 重组, 提前收回, 核销, …) taken by a person: the limits a product
//! sets on them and the four-eyes rule — above an amount, a second person who is not the one
//! who asked approves before the decision takes effect.

use crate::UserId;
use crate::loan::LoanOp;
use crate::money::Money;

/// What a product allows, and from what balance a decision needs a second approver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionLimits {
    /// A decision on a loan whose outstanding principal is above this needs a second approver.
    pub four_eyes_above: Money,
    /// The longest deferral, in months (one decision).
    pub max_deferral_months: u32,
    /// How many restructures a loan may have in its life.
    pub max_restructures: u32,
    /// The longest payment holiday, in months (one decision).
    pub max_holiday_months: u32,
}

impl Default for DecisionLimits {
    fn default() -> Self {
        DecisionLimits {
            four_eyes_above: Money::from_fen(10_000_000),
            max_deferral_months: 6,
            max_restructures: 1,
            max_holiday_months: 3,
        }
    }
}

/// Why a decision is refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub reason: String,
}

impl DecisionLimits {
    /// Whether `op` stays within the limits, the loan having had `restructures` before.
    pub fn check(&self, op: &LoanOp, restructures: u32) -> Result<(), Refusal> {
        match op {
            LoanOp::Defer { months } if *months > self.max_deferral_months => Err(Refusal {
                field: "months",
                reason: format!(
                    "the product allows a deferral of at most {} month(s), not {months}",
                    self.max_deferral_months
                ),
            }),
            LoanOp::PaymentHoliday { months } if *months > self.max_holiday_months => {
                Err(Refusal {
                    field: "months",
                    reason: format!(
                        "the product allows a payment holiday of at most {} month(s), not {months}",
                        self.max_holiday_months
                    ),
                })
            }
            LoanOp::Restructure { .. } if restructures >= self.max_restructures => Err(Refusal {
                field: "kind",
                reason: format!(
                    "the product allows {} restructure(s) in a loan's life; this loan has had {restructures}",
                    self.max_restructures
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Whether a decision on a loan with this outstanding principal needs a second approver.
    pub fn needs_second_approver(&self, outstanding: Money) -> bool {
        outstanding > self.four_eyes_above
    }
}

/// The four-eyes rule: the approver is not the requester.
pub fn check_approver(requested_by: UserId, approver: UserId) -> Result<(), String> {
    if requested_by == approver {
        Err("four eyes: a decision is approved by someone other than who asked for it".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Rate;
    use crate::schedule::Method;

    #[test]
    fn limits_and_four_eyes() {
        let l = DecisionLimits::default();
        assert!(l.check(&LoanOp::Defer { months: 6 }, 0).is_ok());
        assert_eq!(
            l.check(&LoanOp::Defer { months: 7 }, 0)
                .map_err(|r| r.field),
            Err("months")
        );
        let r = LoanOp::Restructure {
            annual_rate: Rate::parse_annual("0.06").unwrap(),
            term_months: 24,
            method: Method::Annuity,
        };
        assert!(l.check(&r, 0).is_ok());
        assert!(l.check(&LoanOp::PaymentHoliday { months: 3 }, 0).is_ok());
        assert_eq!(
            l.check(&LoanOp::PaymentHoliday { months: 4 }, 0)
                .map_err(|r| r.field),
            Err("months")
        );
        assert_eq!(l.check(&r, 1).map_err(|r| r.field), Err("kind"));
        assert!(!l.needs_second_approver(Money::from_fen(10_000_000)));
        assert!(l.needs_second_approver(Money::from_fen(10_000_001)));
        assert!(check_approver(UserId(1), UserId(1)).is_err());
        assert!(check_approver(UserId(1), UserId(2)).is_ok());
    }
}

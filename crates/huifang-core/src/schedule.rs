//! Repayment schedules: 等额本息 (annuity), 等额本金 (equal principal) and 等本等息 (flat).
//!
//! Conventions: monthly rate r = annual / 12 in exact rational arithmetic; every money figure is
//! rounded half-up to the fen from its exact value; the last installment takes the remaining
//! balance; the k-th due date is the disbursement date plus k months, the day clamped to the
//! month's end.

use std::fmt;
use std::str::FromStr;

use num_bigint::BigInt;
use num_traits::Pow;

use crate::calendar::{Date, add_months};
use crate::money::{Money, Rate, reduce};

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

/// One month's interest on `balance` at `annual_rate`: balance × annual rate / 12, rounded
/// half-up from the exact product (the division by 12 comes last). Every schedule, restructured
/// or deferred, and so the settlement quote's current-period interest, takes its interest here.
pub fn monthly_interest(balance: Money, annual_rate: Rate) -> Money {
    let (num, den) = annual_rate.fraction();
    balance.mul_ratio_half_up(num, den.saturating_mul(12))
}

/// The level payment of an annuity (等额本息) of `principal` over `n` months at `annual_rate`:
/// A = P·r·(1+r)^n / ((1+r)^n − 1) with r = annual rate / 12, rounded half-up from its exact
/// rational value. With r = a / d in lowest terms, A = P·a·(d+a)^n / (d·((d+a)^n − d^n)), which
/// is computed in big integers, so a payment that falls on exactly half a fen rounds up.
pub fn annuity_payment(principal: Money, annual_rate: Rate, n: u32) -> Money {
    let (rate_num, rate_den) = annual_rate.fraction();
    let (a, d) = reduce(rate_num, rate_den.saturating_mul(12));
    if a <= 0 || n == 0 {
        return Money::from_fen_ratio_half_up(i128::from(principal.fen()), i128::from(n.max(1)));
    }
    let (a, d) = (BigInt::from(a), BigInt::from(d));
    let grown = Pow::pow(&(&d + &a), n);
    let numerator = BigInt::from(principal.fen()) * &a * &grown;
    let denominator = &d * (grown - Pow::pow(&d, n));
    // Half-up for a positive ratio: floor((2·num + den) / (2·den)).
    let two = BigInt::from(2);
    let fen = (numerator * &two + &denominator) / (denominator * two);
    Money::from_fen(i64::try_from(fen).unwrap_or(i64::MAX))
}

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
    let equal_principal =
        Money::from_fen_ratio_half_up(i128::from(terms.principal.fen()), i128::from(n));
    // big-integer powers: only an annuity's schedule needs its level payment
    let annuity = match terms.method {
        Method::Annuity => annuity_payment(terms.principal, terms.annual_rate, n),
        Method::EqualPrincipal | Method::Flat => Money::ZERO,
    };
    let flat_interest = monthly_interest(terms.principal, terms.annual_rate);

    let mut balance = terms.principal;
    // The capacity is only a hint.
    let mut rows = Vec::with_capacity(usize::try_from(n).unwrap_or_default());
    for k in 1..=n {
        let interest = match terms.method {
            Method::Flat => flat_interest,
            Method::Annuity | Method::EqualPrincipal => {
                monthly_interest(balance, terms.annual_rate)
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
    use rust_decimal::Decimal;

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
        // Test code: its assertions compare lengths with `as` (n is at most 84).
        #[allow(clippy::as_conversions)]
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

    /// Reference arithmetic for the tests, independent of the code under test: fen and a rate in
    /// units of 1e-4 (basis points), big integers, half-up from the quotient's remainder.
    mod reference {
        use num_bigint::BigInt;
        use num_traits::{Pow, Zero};

        pub fn half_up(num: &BigInt, den: &BigInt) -> i64 {
            let (q, r) = (num / den, num % den);
            let q = if BigInt::from(2) * r >= *den {
                q + 1
            } else {
                q
            };
            i64::try_from(q).unwrap()
        }

        /// balance × bp / 10,000 / 12, in fen.
        pub fn interest(balance_fen: i64, bp: i64) -> i64 {
            half_up(&(BigInt::from(balance_fen) * bp), &BigInt::from(120_000))
        }

        /// P·r·(1+r)^n / ((1+r)^n − 1) with r = bp / 120,000, in fen.
        pub fn annuity(principal_fen: i64, bp: i64, n: u32) -> i64 {
            if bp == 0 {
                return half_up(&BigInt::from(principal_fen), &BigInt::from(n));
            }
            let base = BigInt::from(120_000);
            let grown: BigInt = Pow::pow(&(&base + bp), n);
            let num = BigInt::from(principal_fen) * bp * &grown;
            let den = &base * (grown - Pow::pow(&base, n));
            assert!(!den.is_zero());
            half_up(&num, &den)
        }
    }

    fn rate_bp(bp: i64) -> String {
        Decimal::new(bp, 4).to_string()
    }

    #[test]
    fn flat_interest_of_exactly_half_a_fen_rounds_up() {
        // 208,500.00 × 0.025 / 12 = 434.375 exactly → 434.38; principal 208,500 / 24 = 8,687.50.
        let rows = build(&terms(20_850_000, "0.025", 24, Method::Flat)).unwrap();
        for row in &rows[..23] {
            assert_eq!(
                row.interest,
                Money::from_fen(43_438),
                "installment {}",
                row.n
            );
            assert_eq!(row.principal, Money::from_fen(868_750));
            assert_eq!(row.payment, Money::from_fen(912_188));
        }
    }

    #[test]
    fn equal_principal_interest_of_exactly_half_a_fen_rounds_up() {
        // Installment 1: 208,500.00 × 0.025 / 12 = 434.375 → 434.38.
        // Installment 2: balance 199,812.50 × 0.025 / 12 = 416.2760416… → 416.28.
        // 0.06 a year: 10,001.00 × 0.06 / 12 = 50.005 → 50.01.
        let rows = build(&terms(20_850_000, "0.025", 24, Method::EqualPrincipal)).unwrap();
        assert_eq!(rows[0].interest, Money::from_fen(43_438));
        assert_eq!(rows[1].interest, Money::from_fen(41_628));
        let rows = build(&terms(1_000_100, "0.06", 12, Method::EqualPrincipal)).unwrap();
        assert_eq!(rows[0].interest, Money::from_fen(5_001));
    }

    #[test]
    fn annuity_interest_and_payment_of_exactly_half_a_fen_round_up() {
        // Interest of the balance: 208,500.00 × 0.025 / 12 = 434.375 → 434.38.
        let rows = build(&terms(20_850_000, "0.025", 36, Method::Annuity)).unwrap();
        assert_eq!(rows[0].interest, Money::from_fen(43_438));
        // Payment: r = 0.025 / 12 = 1/480, n = 2, P = 11,532.00:
        // A = P·r(1+r)² / ((1+r)² − 1) = P · 481² / (480 · 961) = 1,153,200 · 231,361 / 461,280 fen
        //   = 2.5 · 231,361 = 578,402.5 fen → 5,784.03.
        assert_eq!(
            annuity_payment(
                Money::from_fen(1_153_200),
                Rate::parse_annual("0.025").unwrap(),
                2
            ),
            Money::from_fen(578_403)
        );
        let rows = build(&terms(1_153_200, "0.025", 2, Method::Annuity)).unwrap();
        // Interest 1: 11,532.00 / 480 = 24.025 → 24.03; principal 5,784.03 − 24.03 = 5,760.00.
        assert_eq!(rows[0].interest, Money::from_fen(2_403));
        assert_eq!(rows[0].payment, Money::from_fen(578_403));
        assert_eq!(rows[0].principal, Money::from_fen(576_000));
    }

    #[test]
    fn every_flat_interest_tie_in_basis_points_rounds_up() {
        // For every annual rate in basis points up to 100%, the smallest principal above
        // 10,000.00 whose monthly interest is an exact half fen (P·bp ≡ 60,000 mod 120,000).
        let mut ties = 0;
        for bp in 1..=10_000i64 {
            let Some(p) = tie_principal(bp, 1_000_000) else {
                continue;
            };
            ties += 1;
            let exact_twice = 2 * p * bp / 120_000;
            assert_eq!(2 * p * bp % 120_000, 0);
            assert_eq!(exact_twice % 2, 1, "a tie for {bp} bp at {p} fen");
            let rows = build(&terms(p, &rate_bp(bp), 12, Method::Flat)).unwrap();
            assert_eq!(
                rows[0].interest.fen(),
                exact_twice / 2 + 1,
                "{bp} bp, {p} fen"
            );
        }
        assert!(ties > 1_000, "only {ties} rates have a tie");
    }

    /// The smallest principal ≥ `from` fen with P·bp ≡ 60,000 (mod 120,000), if any.
    fn tie_principal(bp: i64, from: i64) -> Option<i64> {
        let (mut g, mut x, mut x1, mut b) = (bp, 1i64, 0i64, 120_000i64);
        while b != 0 {
            let q = g / b;
            (g, b) = (b, g - q * b);
            (x, x1) = (x1, x - q * x1);
        }
        // bp·x ≡ g (mod 120,000).
        if 60_000 % g != 0 {
            return None;
        }
        let modulus = 120_000 / g;
        let p0 = (x * (60_000 / g)).rem_euclid(modulus);
        Some(from + (p0 - from).rem_euclid(modulus))
    }

    proptest! {
        #[test]
        fn every_figure_is_the_half_up_rounding_of_its_exact_value(
            fen in 100_000i64..=1_000_000_000,
            bp in 0i64..=10_000,
            n in 1u32..=360,
            m in 0usize..3,
        ) {
            let method = [Method::Annuity, Method::EqualPrincipal, Method::Flat][m];
            let rows = build(&terms(fen, &rate_bp(bp), n, method)).unwrap();
            let level = match method {
                Method::Annuity => reference::annuity(fen, bp, n),
                Method::EqualPrincipal | Method::Flat => {
                    reference::half_up(&fen.into(), &i64::from(n).into())
                }
            };
            let mut balance = fen;
            for row in &rows {
                let interest = match method {
                    Method::Flat => reference::interest(fen, bp),
                    Method::Annuity | Method::EqualPrincipal => reference::interest(balance, bp),
                };
                prop_assert_eq!(row.interest.fen(), interest, "installment {}", row.n);
                let principal = if row.n == n {
                    balance
                } else if method == Method::Annuity {
                    (level - interest).min(balance)
                } else {
                    level.min(balance)
                };
                prop_assert_eq!(row.principal.fen(), principal, "installment {}", row.n);
                balance -= principal;
            }
        }

        #[test]
        fn the_annuity_payment_is_exact_for_large_books(
            fen in 1i64..=1_000_000_000,
            bp in 1i64..=10_000,
            n in 1u32..=360,
        ) {
            let rate = Rate::parse_annual(&rate_bp(bp)).unwrap();
            prop_assert_eq!(
                annuity_payment(Money::from_fen(fen), rate, n).fen(),
                reference::annuity(fen, bp, n)
            );
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

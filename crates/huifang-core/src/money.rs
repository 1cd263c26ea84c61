//! Money in integer fen, and rates as exact decimals.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use rust_decimal::{Decimal, RoundingStrategy};

/// An amount of money in fen (0.01 yuan). Never a float.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a money or rate text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is empty")]
    Empty,
    #[error("is not a decimal number: {0:?}")]
    NotANumber(String),
    #[error("has more than 2 decimal places: {0:?}")]
    TooPrecise(String),
    #[error("must be greater than zero")]
    NotPositive,
    #[error("must not be negative")]
    Negative,
    #[error("is too large")]
    TooLarge,
    #[error("must be between {min} and {max}")]
    OutOfRange { min: String, max: String },
}

impl Money {
    /// Zero fen.
    pub const ZERO: Money = Money(0);

    /// From a count of fen.
    pub const fn from_fen(fen: i64) -> Self {
        Money(fen)
    }

    /// The count of fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Parses a yuan amount with at most two decimals ("1234.5", "1234.50", "1234"), any sign.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, frac) = match digits.split_once('.') {
            Some((w, f)) => (w, f),
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(frac)
            || (digits.contains('.') && frac.is_empty())
        {
            return Err(AmountError::NotANumber(text.to_string()));
        }
        if frac.len() > 2 {
            return Err(AmountError::TooPrecise(text.to_string()));
        }
        if whole.len() > 15 {
            return Err(AmountError::TooLarge);
        }
        let whole: i64 = whole
            .parse()
            .map_err(|_| AmountError::NotANumber(text.to_string()))?;
        let mut frac_fen: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse()
                .map_err(|_| AmountError::NotANumber(text.to_string()))?
        };
        if frac.len() == 1 {
            frac_fen *= 10;
        }
        let fen = whole * 100 + frac_fen;
        Ok(Money(if negative { -fen } else { fen }))
    }

    /// Parses an amount that must be greater than zero.
    pub fn parse_positive(text: &str) -> Result<Self, AmountError> {
        let money = Self::parse(text)?;
        if money.0 <= 0 {
            return Err(AmountError::NotPositive);
        }
        Ok(money)
    }

    /// Parses an amount that must not be negative.
    pub fn parse_non_negative(text: &str) -> Result<Self, AmountError> {
        let money = Self::parse(text)?;
        if money.0 < 0 {
            return Err(AmountError::Negative);
        }
        Ok(money)
    }

    /// The amount in yuan as an exact decimal.
    pub fn to_yuan(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// An exact yuan decimal rounded half-up (away from zero at .5) to the fen.
    pub fn from_yuan_half_up(yuan: Decimal) -> Self {
        Money(decimal_to_fen(yuan))
    }

    /// An exact fen decimal (possibly fractional) rounded half-up to a whole fen.
    pub fn from_fen_half_up(fen: Decimal) -> Self {
        Money(decimal_to_fen(fen / Decimal::ONE_HUNDRED))
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Money) -> Money {
        if self <= other { self } else { other }
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether the amount is greater than zero.
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

/// Rounds yuan half-up to the fen and returns the count of fen (saturating).
fn decimal_to_fen(yuan: Decimal) -> i64 {
    let mut scaled = yuan.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        * Decimal::ONE_HUNDRED;
    scaled.rescale(0);
    i64::try_from(scaled.mantissa()).unwrap_or(if scaled.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        f.pad(&format!("{sign}{}.{:02}", abs / 100, abs % 100))
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}
impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}
impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}
impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}
impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

/// A rate as an exact decimal fraction (0.0485 = 4.85%).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(Decimal);

impl Rate {
    /// Zero.
    pub const ZERO: Rate = Rate(Decimal::ZERO);

    /// From an exact decimal, unchecked (use [`Rate::parse_in`] at the edge).
    pub const fn from_decimal(value: Decimal) -> Self {
        Rate(value)
    }

    /// The decimal value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// Parses a decimal fraction within `min..=max`, at most 8 decimals.
    pub fn parse_in(text: &str, min: Decimal, max: Decimal) -> Result<Self, AmountError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let value: Decimal = text
            .parse()
            .map_err(|_| AmountError::NotANumber(text.to_string()))?;
        if !text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(AmountError::NotANumber(text.to_string()));
        }
        if value.scale() > 8 {
            return Err(AmountError::TooPrecise(text.to_string()));
        }
        if value < min || value > max {
            return Err(AmountError::OutOfRange {
                min: min.normalize().to_string(),
                max: max.normalize().to_string(),
            });
        }
        Ok(Rate(value))
    }

    /// Parses an annual interest rate: a fraction from 0 to 1 (0.0485 for 4.85%).
    pub fn parse_annual(text: &str) -> Result<Self, AmountError> {
        Self::parse_in(text, Decimal::ZERO, Decimal::ONE)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = self.0.normalize();
        if v.scale() < 2 {
            v.rescale(2);
        }
        f.pad(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!(Money::parse("1234.5").unwrap().fen(), 123_450);
        assert_eq!(Money::parse("0.07").unwrap().fen(), 7);
        assert_eq!(Money::parse("12").unwrap().to_string(), "12.00");
        assert_eq!(Money::parse("-3.10").unwrap().to_string(), "-3.10");
        assert!(matches!(
            Money::parse("1.234"),
            Err(AmountError::TooPrecise(_))
        ));
        assert!(matches!(
            Money::parse("1e3"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            Money::parse("1."),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(Money::parse(""), Err(AmountError::Empty)));
        assert_eq!(Money::parse_positive("0"), Err(AmountError::NotPositive));
    }

    #[test]
    fn half_up_rounding() {
        assert_eq!(
            Money::from_yuan_half_up("404.165".parse().unwrap()).fen(),
            40_417
        );
        assert_eq!(
            Money::from_yuan_half_up("404.1649".parse().unwrap()).fen(),
            40_416
        );
        assert_eq!(Money::from_fen_half_up("12.5".parse().unwrap()).fen(), 13);
        assert_eq!(Money::from_fen_half_up("12.49".parse().unwrap()).fen(), 12);
    }

    #[test]
    fn rates() {
        assert_eq!(Rate::parse_annual("0.0485").unwrap().to_string(), "0.0485");
        assert!(Rate::parse_annual("1.5").is_err());
        assert!(Rate::parse_annual("-0.1").is_err());
        assert!(Rate::parse_annual("4.85%").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(fen in -10_000_000_000i64..10_000_000_000i64) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
        }
    }
}

//! Money in integer fen, and rates as exact decimals.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use rust_decimal::Decimal;

/// An amount of money in fen (0.01 yuan). Never a float.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
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

    /// The exact fraction `num / den` of a fen rounded half-up (away from zero at exactly one
    /// half) to a whole fen. `den` must be positive; a result beyond `i64` saturates.
    pub fn from_fen_ratio_half_up(num: i128, den: i128) -> Self {
        Money(saturate(div_half_up(num, den)))
    }

    /// `self × num / den`, rounded half-up from the exact product: the division comes last, so
    /// a figure that falls on exactly half a fen rounds up. `den` must be positive.
    pub fn mul_ratio_half_up(self, num: i128, den: i128) -> Self {
        Self::from_fen_ratio_half_up(i128::from(self.0).saturating_mul(num), den)
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

/// `num / den` rounded half-up (away from zero at exactly one half) to an integer; `den > 0`.
pub fn div_half_up(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0, "a ratio's denominator is positive");
    let den = den.max(1);
    let (quotient, remainder) = (num / den, num % den);
    // |remainder| / den ≥ 1/2  ⇔  2·|remainder| ≥ den, without overflow.
    let half_or_more = remainder.unsigned_abs() >= den.unsigned_abs() - remainder.unsigned_abs();
    match (half_or_more, remainder.signum()) {
        (true, 1) => quotient + 1,
        (true, -1) => quotient - 1,
        _ => quotient,
    }
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
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

    /// The rate as an exact fraction `(num, den)` in lowest terms, `den` positive.
    pub fn fraction(self) -> (i128, i128) {
        let normal = self.0.normalize();
        reduce(normal.mantissa(), 10i128.pow(normal.scale()))
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

/// The fraction `num / den` (`den > 0`) in lowest terms.
pub fn reduce(num: i128, den: i128) -> (i128, i128) {
    let (mut a, mut b) = (num.unsigned_abs(), den.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    // The divisor divides `den`, a positive i128, so it fits.
    let g = i128::try_from(a).unwrap_or(1).max(1);
    (num / g, (den / g).max(1))
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
        // 404.165 yuan = 40,416.5 fen → 40,417; 404.1649 → 40,416.
        assert_eq!(Money::from_fen_ratio_half_up(404_165, 10).fen(), 40_417);
        assert_eq!(Money::from_fen_ratio_half_up(4_041_649, 100).fen(), 40_416);
        assert_eq!(Money::from_fen_ratio_half_up(-404_165, 10).fen(), -40_417);
    }

    #[test]
    fn ratios_round_half_up_from_the_exact_value() {
        // 208500.00 × 0.025 / 12 = 434.375 yuan exactly = 43437.5 fen: a tie, rounded up.
        assert_eq!(
            Money::from_fen(20_850_000).mul_ratio_half_up(25, 12_000),
            Money::from_fen(43_438)
        );
        assert_eq!(div_half_up(25, 2), 13);
        assert_eq!(div_half_up(24, 2), 12);
        assert_eq!(div_half_up(49, 10), 5);
        assert_eq!(div_half_up(44, 10), 4);
        assert_eq!(div_half_up(-25, 2), -13);
        assert_eq!(div_half_up(-44, 10), -4);
        assert_eq!(div_half_up(0, 7), 0);
        assert_eq!(div_half_up(i128::MAX, i128::MAX), 1);
    }

    #[test]
    fn rate_fractions_are_exact_and_reduced() {
        assert_eq!(Rate::parse_annual("0.0485").unwrap().fraction(), (97, 2000));
        assert_eq!(Rate::parse_annual("0.025000").unwrap().fraction(), (1, 40));
        assert_eq!(Rate::parse_annual("0").unwrap().fraction(), (0, 1));
        assert_eq!(Rate::parse_annual("1").unwrap().fraction(), (1, 1));
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

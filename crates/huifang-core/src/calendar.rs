//! Calendar arithmetic on business dates.

use chrono::{Days, Months, NaiveDate};

/// A calendar date (no time, no zone). The business date is always one of these, passed in.
pub type Date = NaiveDate;

/// `date` plus `months` months, the day clamped to the last day of the target month
/// (2026-01-31 + 1 month = 2026-02-28).
pub fn add_months(date: Date, months: u32) -> Date {
    // chrono's `checked_add_months` clamps to the month end, which is the rule we want.
    date.checked_add_months(Months::new(months))
        .unwrap_or(Date::MAX)
}

/// `date` plus `days` days.
pub fn add_days(date: Date, days: i64) -> Date {
    if days >= 0 {
        date.checked_add_days(Days::new(days.unsigned_abs()))
            .unwrap_or(Date::MAX)
    } else {
        date.checked_sub_days(Days::new(days.unsigned_abs()))
            .unwrap_or(Date::MIN)
    }
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    (to - from).num_days()
}

/// The value-date rule: a fact (a disbursement, a payment, a loan operation) may be dated on or
/// before the business date, never after it (a date before it re-processes the loan from then).
/// The refusal reads "2026-03-21 is after the business date 2026-03-20".
pub fn check_value_date(date: Date, business_date: Date) -> Result<(), String> {
    if date > business_date {
        return Err(format!("{date} is after the business date {business_date}"));
    }
    Ok(())
}

/// Parses an ISO date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    // Exactly the form we print: four-digit year, zero-padded month and day (a close parses
    // tens of thousands of stored dates, so no pattern is interpreted here).
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = text.trim().as_bytes() else {
        return None;
    };
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(number(&[y0, y1, y2, y3])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(&[m0, m1])?, number(&[d0, d1])?)?;
    (year >= 1900).then_some(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn month_end_is_clamped() {
        assert_eq!(add_months(d("2026-01-31"), 1), d("2026-02-28"));
        assert_eq!(add_months(d("2024-01-31"), 1), d("2024-02-29"));
        assert_eq!(add_months(d("2026-01-31"), 2), d("2026-03-31"));
        assert_eq!(add_months(d("2025-08-15"), 60), d("2030-08-15"));
    }

    #[test]
    fn parse_rejects_loose_forms() {
        assert!(parse_date("2026-2-1").is_none());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("20260201").is_none());
        assert!(parse_date("+2026-02-01").is_none());
        assert!(parse_date("2026-02-1 ").is_none());
        assert!(parse_date("2026/02/01").is_none());
        assert!(parse_date("2026-0a-01").is_none());
        assert!(parse_date("1899-12-31").is_none());
        assert!(parse_date("2026-13-01").is_none());
        assert_eq!(parse_date(" 2024-02-29 "), Some(d("2024-02-29")));
        assert_eq!(
            parse_date("1900-01-01").map(|x| x.to_string()).as_deref(),
            Some("1900-01-01")
        );
        assert_eq!(days_between(d("2026-02-28"), d("2026-03-01")), 1);
    }
}

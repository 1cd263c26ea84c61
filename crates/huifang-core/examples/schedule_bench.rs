//! Times what every replay of a loan pays for its schedule: the annuity payment (exact, in big
//! integers) and a whole annuity schedule, over 200,000 loans of 12–48 months at 64 rates.
//!
//! `cargo run --release -p huifang-core --example schedule_bench`

use std::time::Instant;

use huifang_core::calendar::parse_date;
use huifang_core::schedule::{self, Method, ScheduleTerms};
use huifang_core::{Money, Rate};
use rust_decimal::Decimal;

const LOANS: u32 = 200_000;

fn main() {
    let Some(start) = parse_date("2026-01-31") else {
        return;
    };
    let rates: Vec<Rate> = (0..64)
        .map(|i| Rate::from_decimal(Decimal::new(300 + i * 17, 4)))
        .collect();
    let loan = |i: u32| {
        let rate = rates.get(usize::try_from(i % 64).unwrap_or(0)).copied();
        (
            Money::from_fen(10_000_000 + i64::from(i)),
            rate.unwrap_or(Rate::ZERO),
            12 + (i % 4) * 12,
        )
    };

    let t = Instant::now();
    let mut total = 0i64;
    for i in 0..LOANS {
        let (principal, rate, n) = loan(i);
        total += schedule::annuity_payment(principal, rate, n).fen();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(LOANS);
    println!("annuity payment: {per:.2} µs per loan (checksum {total})");

    let t = Instant::now();
    let mut rows = 0usize;
    for i in 0..LOANS {
        let (principal, annual_rate, term_months) = loan(i);
        let terms = ScheduleTerms {
            principal,
            annual_rate,
            term_months,
            method: Method::Annuity,
            start,
        };
        rows += schedule::build(&terms).map_or(0, |s| s.len());
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / f64::from(LOANS);
    println!("annuity schedule: {per:.2} µs per loan ({rows} installments)");
}

//! Measures synthetic portfolio generation: `cargo run --release -p huifang-app --example
//! synth_size -- 1000000` generates that many loans in chunks of 10 000 and prints the speed and a
//! few sample rows.

use std::time::Instant;

use huifang_app::synth::{Portfolio, SynthConfig};
use huifang_core::calendar::parse_date;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let loans: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let business_date = parse_date("2026-03-15").ok_or("bad date")?;
    let portfolio = Portfolio::new(SynthConfig::demo(business_date, loans))?;
    let started = Instant::now();
    let (mut borrowers, mut loan_rows, mut payments, mut late, mut settlements) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for (n, chunk) in portfolio.chunks(10_000).enumerate() {
        let chunk = chunk?;
        if n == 0 {
            for b in chunk.borrowers.iter().take(3) {
                println!(
                    "{},{},{},{},{},{},{}",
                    b.external_id,
                    b.name,
                    b.id_number.as_str(),
                    b.mobile.as_str(),
                    b.employer,
                    b.monthly_income,
                    b.city
                );
            }
            for l in chunk.loans.iter().take(3) {
                println!(
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    l.external_id,
                    l.borrower_external_id,
                    l.product_code,
                    l.principal,
                    l.annual_rate,
                    l.term_months,
                    l.method,
                    l.disbursed_on,
                    l.vin,
                    l.vehicle_model,
                    l.vehicle_price,
                    l.dealer
                );
            }
            for p in chunk.payments.iter().take(5) {
                println!(
                    "{},{},{},{},{}",
                    p.external_id, p.loan_external_id, p.paid_on, p.amount, p.channel
                );
            }
        }
        borrowers += chunk.borrowers.len();
        loan_rows += chunk.loans.len();
        payments += chunk.payments.len();
        late += chunk.late_payments.len();
        settlements += chunk.early_settlements.len();
    }
    let elapsed = started.elapsed();
    let rows = borrowers + loan_rows + payments + late;
    println!(
        "{loan_rows} loans, {borrowers} borrowers, {payments} payments, {late} late payments, {settlements} early settlements"
    );
    let micros_each = |n: usize| -> Result<f64, std::num::TryFromIntError> {
        Ok(elapsed.as_secs_f64() * 1e6 / f64::from(u32::try_from(n)?))
    };
    println!(
        "{rows} rows in {elapsed:.2?}: {:.3} µs per row, {:.2} µs per loan",
        micros_each(rows)?,
        micros_each(loan_rows)?
    );
    Ok(())
}

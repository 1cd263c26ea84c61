//! The synthetic portfolio: deterministic, valid identifiers, dates in range, documented
//! behaviour shares, chunking transparent, and payments the engine allocates as intended.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::Datelike;
use huifang_app::rows::ProductRow;
use huifang_app::synth::{
    Behaviour, Portfolio, PortfolioChunk, SynthConfig, SynthLoan, default_products,
};
use huifang_core::calendar::{add_days, parse_date};
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::loan::{DatedOp, LoanOp, LoanState, LoanTerms, Payment};
use huifang_core::policy::ProductRules;
use huifang_core::{Date, Money};

fn date(text: &str) -> Date {
    parse_date(text).unwrap()
}

fn config(loans: usize) -> SynthConfig {
    SynthConfig::demo(date("2026-03-15"), loans)
}

fn loans(config: SynthConfig) -> Vec<SynthLoan> {
    Portfolio::new(config)
        .unwrap()
        .loans()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn age_on(birth: Date, on: Date) -> i32 {
    let before_birthday = (on.month(), on.day()) < (birth.month(), birth.day());
    on.year() - birth.year() - i32::from(before_birthday)
}

#[test]
fn same_seed_same_portfolio_other_seed_other_portfolio() {
    let a = Portfolio::new(config(2_000)).unwrap().generate().unwrap();
    let b = Portfolio::new(config(2_000)).unwrap().generate().unwrap();
    assert_eq!(a, b);
    let mut other = config(2_000);
    other.seed += 1;
    let c = Portfolio::new(other).unwrap().generate().unwrap();
    assert_ne!(a.loans, c.loans);
    // A longer portfolio starts with the shorter one.
    let longer = Portfolio::new(config(2_500)).unwrap().generate().unwrap();
    assert_eq!(longer.loans[..2_000], a.loans[..]);
}

#[test]
fn chunked_output_equals_unchunked() {
    let portfolio = Portfolio::new(config(3_001)).unwrap();
    let whole = portfolio.generate().unwrap();
    for size in [1, 7, 1_000, 5_000] {
        let mut joined = PortfolioChunk::default();
        let mut count = 0;
        for chunk in portfolio.chunks(size) {
            let chunk = chunk.unwrap();
            assert!(chunk.loans.len() <= size && !chunk.is_empty());
            assert_eq!(chunk.loans.len(), chunk.behaviours.len());
            // Every chunk's loans refer to borrowers of this chunk or of an earlier one.
            count += 1;
            joined.append(chunk);
        }
        assert_eq!(count, 3_001usize.div_ceil(size));
        assert_eq!(joined, whole, "chunk size {size}");
    }
    assert_eq!(portfolio.chunks(0).next().unwrap().unwrap().loans.len(), 1);
    assert!(
        Portfolio::new(config(0))
            .unwrap()
            .chunks(10)
            .next()
            .is_none()
    );
}

#[test]
fn rows_are_valid_and_dated_in_range() {
    let cfg = config(20_000);
    let (from, business_date) = (cfg.disbursed_from, cfg.business_date);
    let products: HashSet<String> = cfg.products.iter().map(|p| p.code.clone()).collect();
    let all = loans(cfg);

    let mut borrowers: HashMap<String, Date> = HashMap::new();
    let mut payment_ids = HashSet::new();
    let mut late = 0usize;
    let mut recent = 0usize;
    let mut repeats = 0usize;
    for item in &all {
        let loan = &item.loan;
        if let Some(b) = &item.borrower {
            assert_eq!(
                ResidentId::parse(b.id_number.as_str()).as_ref(),
                Ok(&b.id_number)
            );
            assert_eq!(Mobile::parse(b.mobile.as_str()).as_ref(), Ok(&b.mobile));
            let age = age_on(b.id_number.birth_date().unwrap(), loan.disbursed_on);
            assert!(
                (22..=60).contains(&age),
                "{} is {age} on {}",
                b.id_number.as_str(),
                loan.disbursed_on
            );
            assert!(
                b.monthly_income >= Money::from_fen(400_000)
                    && b.monthly_income <= Money::from_fen(6_000_000)
            );
            assert_eq!(b.monthly_income.fen() % 10_000, 0);
            assert!(!b.name.is_empty() && !b.employer.is_empty() && b.city.ends_with('市'));
            assert!(b.external_id.starts_with('B') && b.external_id.len() == 9);
            assert!(
                borrowers
                    .insert(b.external_id.clone(), loan.disbursed_on)
                    .is_none()
            );
        } else {
            repeats += 1;
        }
        let first_loan_on = borrowers.get(&loan.borrower_external_id).copied();
        assert!(
            first_loan_on.is_some_and(|d| d <= loan.disbursed_on),
            "{} refers to an unknown or later borrower",
            loan.external_id
        );

        assert_eq!(Vin::parse(loan.vin.as_str()).as_ref(), Ok(&loan.vin));
        assert!(products.contains(&loan.product_code));
        assert!(loan.principal <= loan.vehicle_price && loan.principal.is_positive());
        assert!(
            loan.principal.fen() * 100 >= loan.vehicle_price.fen() * 49,
            "{}: principal under half the price",
            loan.external_id
        );
        assert_eq!(loan.principal.fen() % 10_000, 0);
        assert!(
            loan.vehicle_price >= Money::from_fen(5_000_000)
                && loan.vehicle_price <= Money::from_fen(40_000_000)
        );
        assert!([12, 24, 36, 48, 60].contains(&loan.term_months));
        let rate = loan.annual_rate.value();
        assert!(
            rate >= "0.0299".parse().unwrap()
                && rate <= "0.1299".parse().unwrap()
                && rate.scale() <= 4
        );
        assert!(loan.disbursed_on >= from && loan.disbursed_on <= business_date);
        assert!(loan.dealer.ends_with("有限公司"));

        for p in &item.payments {
            assert!(
                p.paid_on >= loan.disbursed_on && p.paid_on <= business_date,
                "{} dated {}",
                p.external_id,
                p.paid_on
            );
            assert!(p.amount.is_positive());
            assert_eq!(p.loan_external_id, loan.external_id);
            assert!(
                [
                    "withholding",
                    "bank_transfer",
                    "wechat_pay",
                    "alipay",
                    "cash"
                ]
                .contains(&p.channel.as_str())
            );
            assert!(payment_ids.insert(p.external_id.clone()));
            if p.paid_on > add_days(business_date, -30) {
                recent += 1;
            }
        }
        for l in &item.late_payments {
            let p = &l.row;
            assert!(
                p.paid_on >= loan.disbursed_on
                    && p.paid_on < l.arrives_on
                    && l.arrives_on <= business_date
            );
            assert!(
                l.arrives_on <= add_days(p.paid_on, 10)
                    && p.paid_on >= add_days(business_date, -30)
            );
            assert!(payment_ids.insert(p.external_id.clone()));
            late += 1;
        }
        for w in item.payments.windows(2) {
            assert!(w[0].paid_on <= w[1].paid_on);
        }
        if let Some(on) = item.early_settlement {
            assert_eq!(item.behaviour, Behaviour::EarlyPayoff);
            assert!(on > loan.disbursed_on && on <= business_date);
        }
    }
    assert!(
        repeats > 0 && repeats < all.len() / 20,
        "{repeats} repeat loans"
    );
    // About 1% of the recent payments arrive late.
    let share = late as f64 / (late + recent) as f64;
    assert!(
        late > 0 && share < 0.03,
        "{late} late of {} recent",
        late + recent
    );
}

#[test]
fn behaviour_shares_are_as_documented() {
    let all = loans(SynthConfig {
        seed: 7,
        ..config(20_000)
    });
    let total = all.len() as f64;
    assert_eq!(
        Behaviour::ALL
            .iter()
            .map(|b| b.share_per_mille())
            .sum::<u32>(),
        1000
    );
    for behaviour in Behaviour::ALL {
        let count = all.iter().filter(|l| l.behaviour == behaviour).count();
        let share = count as f64 / total;
        let expected = f64::from(behaviour.share_per_mille()) / 1000.0;
        assert!(
            (share - expected).abs() < 0.015,
            "{}: {share:.4} vs {expected}",
            behaviour.as_str()
        );
    }
    // Products by their weights too, and every method appears.
    let lease = all
        .iter()
        .filter(|l| l.loan.product_code == "LEASE36")
        .count() as f64
        / total;
    assert!((lease - 0.10).abs() < 0.015, "LEASE36 share {lease}");
    assert!(
        all.iter()
            .filter(|l| l.loan.product_code == "LEASE36")
            .all(|l| l.loan.method.as_str() == "flat")
    );
    for method in ["annuity", "equal_principal", "flat"] {
        assert!(all.iter().any(|l| l.loan.method.as_str() == method));
    }
}

/// Replays generated loans through the engine: nothing is overpaid, what a borrower catches up on
/// is cured exactly (the open installments are always the latest ones), on-time borrowers owe
/// nothing past due, and an early payoff with its settlement operation pays the loan off.
#[test]
fn the_engine_allocates_the_payments_as_intended() {
    let cfg = config(6_000);
    let business_date = cfg.business_date;
    let rules: HashMap<String, ProductRules> = default_products()
        .into_iter()
        .map(|p: ProductRow| {
            (
                p.code,
                ProductRules {
                    grace_days: p.grace_days,
                    penalty_rate_markup: p.penalty_rate_markup,
                },
            )
        })
        .collect();
    let mut settled = 0;
    let mut defaulted = 0;
    for item in loans(cfg) {
        let loan = &item.loan;
        let terms = LoanTerms {
            principal: loan.principal,
            annual_rate: loan.annual_rate,
            term_months: loan.term_months,
            method: loan.method,
            disbursed_on: loan.disbursed_on,
        };
        let payments: Vec<Payment> = item
            .payments
            .iter()
            .chain(item.late_payments.iter().map(|l| &l.row))
            .map(|p| Payment {
                paid_on: p.paid_on,
                amount: p.amount,
            })
            .collect();
        let ops: Vec<DatedOp> = item
            .early_settlement
            .map(|on| DatedOp {
                on,
                op: LoanOp::EarlySettlement,
            })
            .into_iter()
            .collect();
        let state = LoanState::replay(terms, &rules[&loan.product_code], &ops, &payments).unwrap();
        let id = &loan.external_id;
        assert_eq!(state.unapplied, Money::ZERO, "{id} overpaid");
        let open: Vec<bool> = state
            .installments
            .iter()
            .map(|i| i.paid_off_on.is_none())
            .collect();
        assert!(
            open.windows(2).all(|w| !w[0] || w[1]),
            "{id} ({}): an older installment is left open: {open:?}",
            item.behaviour.as_str()
        );
        let overdue = state
            .open_installments()
            .any(|i| i.due_date < business_date);
        // A payment due to come within the grace days may still be on its way.
        let past_grace = state
            .open_installments()
            .any(|i| add_days(i.due_date, i64::from(state.grace_days)) < business_date);
        match item.behaviour {
            Behaviour::OnTime | Behaviour::LateWithinGrace => {
                assert!(
                    !past_grace,
                    "{id} ({}) is overdue past its grace days",
                    item.behaviour.as_str()
                );
                assert!(
                    item.behaviour == Behaviour::LateWithinGrace || !overdue,
                    "{id} is overdue"
                );
                assert_eq!(
                    state
                        .installments
                        .iter()
                        .map(|i| i.penalty_paid)
                        .sum::<Money>(),
                    Money::ZERO,
                    "{id} paid penalty"
                );
            }
            Behaviour::EarlyPayoff => {
                assert!(!overdue, "{id} is overdue");
                if item.early_settlement.is_some() {
                    assert!(
                        state.is_paid_off(),
                        "{id} is not paid off by its settlement"
                    );
                    settled += 1;
                }
            }
            Behaviour::Defaulter => defaulted += usize::from(overdue),
            Behaviour::ChronicallyLate | Behaviour::PartialPayer => {}
        }
    }
    assert!(settled > 0 && defaulted > 0);
}

#[test]
fn a_large_portfolio_is_generated_quickly_with_unique_identifiers() {
    let started = Instant::now();
    let portfolio = Portfolio::new(SynthConfig {
        seed: 42,
        ..config(100_000)
    })
    .unwrap();
    let (mut loans, mut payments) = (0usize, 0usize);
    let mut ids = HashSet::new();
    let mut mobiles = HashSet::new();
    let mut vins = HashSet::new();
    for chunk in portfolio.chunks(10_000) {
        let chunk = chunk.unwrap();
        loans += chunk.loans.len();
        payments += chunk.payments.len() + chunk.late_payments.len();
        for b in &chunk.borrowers {
            assert!(
                ids.insert(b.id_number.as_str().to_string()),
                "duplicate ID number {}",
                b.id_number.as_str()
            );
            assert!(
                mobiles.insert(b.mobile.as_str().to_string()),
                "duplicate mobile {}",
                b.mobile.as_str()
            );
        }
        for l in &chunk.loans {
            assert!(
                vins.insert(l.vin.as_str().to_string()),
                "duplicate VIN {}",
                l.vin.as_str()
            );
        }
    }
    assert_eq!(loans, 100_000);
    let elapsed = started.elapsed();
    eprintln!(
        "100000 loans, {} borrowers, {payments} payments in {elapsed:?} ({:.2} µs per row)",
        ids.len(),
        elapsed.as_secs_f64() * 1e6 / (loans + ids.len() + payments) as f64
    );
}

#[test]
fn invalid_configurations_are_refused() {
    let mut no_products = config(10);
    no_products.products.clear();
    assert!(Portfolio::new(no_products).is_err());
    let mut backwards = config(10);
    backwards.disbursed_from = date("2026-04-01");
    assert!(Portfolio::new(backwards).is_err());
    // An unknown product code gets the generic terms.
    let mut custom = config(200);
    custom.products = vec![ProductRow {
        code: "TRUCK".into(),
        name: "卡车贷".into(),
        grace_days: 2,
        penalty_rate_markup: huifang_core::Rate::ZERO,
    }];
    assert!(loans(custom).iter().all(|l| l.loan.product_code == "TRUCK"));
}

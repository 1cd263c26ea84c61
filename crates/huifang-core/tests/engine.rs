//! Allocation, penalty, DPD, buckets, classification, warnings and loan operations, checked
//! against hand-worked figures and against an independent recomputation.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use huifang_core::calendar::{add_days, parse_date};
use huifang_core::loan::{DatedOp, LoanOp, LoanState, LoanTerms, Payment};
use huifang_core::policy::{Classification, Policy, ProductRules};
use huifang_core::schedule::{self, Method};
use huifang_core::status::{self, Lifecycle};
use huifang_core::{Date, Money, Rate};
use proptest::prelude::*;

fn d(s: &str) -> Date {
    parse_date(s).unwrap()
}
fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}
fn terms(principal: &str, rate: &str, n: u32, method: Method, on: &str) -> LoanTerms {
    LoanTerms {
        principal: m(principal),
        annual_rate: Rate::parse_annual(rate).unwrap(),
        term_months: n,
        method,
        disbursed_on: d(on),
    }
}
fn rules(grace: u32, markup: &str) -> ProductRules {
    ProductRules {
        grace_days: grace,
        penalty_rate_markup: Rate::parse_in(markup, 0.into(), 10.into()).unwrap(),
    }
}
fn pay(on: &str, amount: &str) -> Payment {
    Payment {
        paid_on: d(on),
        amount: m(amount),
    }
}

/// 12,000 over 12 months equal principal at 12%: 1,000 principal a month, interest 1% of balance.
fn simple() -> LoanTerms {
    terms("12000.00", "0.12", 12, Method::EqualPrincipal, "2026-01-15")
}

#[test]
fn on_time_payments_keep_the_loan_current() {
    let payments = [pay("2026-02-15", "1120.00"), pay("2026-03-14", "1110.00")];
    let state = LoanState::replay(simple(), &rules(3, "0.5"), &[], &payments).unwrap();
    let st = status::evaluate(&state, &Policy::default(), d("2026-04-10"));
    assert_eq!(st.dpd, 0);
    assert_eq!(st.bucket.to_string(), "M0");
    assert_eq!(st.outstanding_principal, m("10000.00"));
    assert_eq!(st.warning_level(), 0);
    assert_eq!(st.overdue_installments, 0);
}

#[test]
fn penalty_is_waived_within_grace_and_charged_from_the_due_date_after() {
    let r = rules(3, "0.5");
    // Paid 3 days late: within grace, no penalty.
    let s = LoanState::replay(simple(), &r, &[], &[pay("2026-02-18", "1120.00")]).unwrap();
    assert_eq!(s.installments[0].paid_off_on, Some(d("2026-02-18")));
    assert_eq!(s.installments[0].penalty_paid, Money::ZERO);
    assert_eq!(s.unapplied, Money::ZERO);
    // 10 days late: 1000.00 × 12% × 1.5 / 360 × 10 = 5.00 penalty comes first.
    let s = LoanState::replay(simple(), &r, &[], &[pay("2026-02-25", "1120.00")]).unwrap();
    let first = &s.installments[0];
    assert_eq!(first.penalty_paid, m("5.00"));
    assert_eq!(first.interest_paid, m("120.00"));
    assert_eq!(first.principal_paid, m("995.00"));
    assert_eq!(first.paid_off_on, None);
    // The rest accrues only on the 5.00 left: a day later the installment is settled by 5.00.
    let s = LoanState::replay(
        simple(),
        &r,
        &[],
        &[pay("2026-02-25", "1120.00"), pay("2026-02-26", "5.00")],
    )
    .unwrap();
    assert_eq!(s.installments[0].paid_off_on, Some(d("2026-02-26")));
    // a markup of 0 means no penalty at all
    let s = LoanState::replay(
        simple(),
        &rules(0, "0"),
        &[],
        &[pay("2026-03-15", "1120.00")],
    )
    .unwrap();
    assert_eq!(s.installments[0].penalty_paid, Money::ZERO);
    assert_eq!(s.installments[0].paid_off_on, Some(d("2026-03-15")));
}

#[test]
fn a_payment_straddles_installments_oldest_first() {
    let r = rules(0, "0");
    let s = LoanState::replay(simple(), &r, &[], &[pay("2026-04-01", "2500.00")]).unwrap();
    // installment 1 (1120) and 2 (1110) settled, 270 to installment 3's interest then principal
    assert_eq!(s.installments[0].paid_off_on, Some(d("2026-04-01")));
    assert_eq!(s.installments[1].paid_off_on, Some(d("2026-04-01")));
    assert_eq!(s.installments[2].interest_paid, m("100.00"));
    assert_eq!(s.installments[2].principal_paid, m("170.00"));
    let st = status::evaluate(&s, &Policy::default(), d("2026-04-20"));
    assert_eq!(st.dpd, 5, "installment 3 due 2026-04-15 is unpaid");
    assert_eq!(st.overdue_installments, 1);
    assert_eq!(st.outstanding_principal, m("9830.00"));
}

#[test]
fn a_backdated_payment_re_processes_the_loan() {
    let r = rules(3, "0.5");
    let policy = Policy::default();
    let late = LoanState::replay(simple(), &r, &[], &[]).unwrap();
    let before = status::evaluate(&late, &policy, d("2026-04-20"));
    assert_eq!(before.dpd, 64);
    assert_eq!(before.bucket.to_string(), "M3");
    assert_eq!(before.warning_level(), 2);
    // the payments arrive late in the file but are value-dated on the due dates
    let cured = LoanState::replay(
        simple(),
        &r,
        &[],
        &[
            pay("2026-03-15", "1110.00"),
            pay("2026-02-15", "1120.00"),
            pay("2026-04-15", "1100.00"),
        ],
    )
    .unwrap();
    let after = status::evaluate(&cured, &policy, d("2026-04-20"));
    assert_eq!(
        (after.dpd, after.warning_level(), after.classification),
        (0, 0, Classification::Normal)
    );
    let events = status::transition_events(&before.summary(), &after);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            "bucket_changed",
            "classification_changed",
            "warning_cleared"
        ]
    );
}

#[test]
fn two_consecutive_late_installments_raise_level_one() {
    let r = rules(3, "0");
    let policy = Policy::default();
    // installments 1 and 2 paid 5 days late (past grace), then current
    let payments = [pay("2026-02-20", "1120.00"), pay("2026-03-20", "1110.00")];
    let s = LoanState::replay(simple(), &r, &[], &payments).unwrap();
    // on 2026-03-18 only installment 1's grace has passed, and installment 2 is not yet judged
    assert_eq!(
        status::evaluate(&s, &policy, d("2026-03-18")).warning_level(),
        0
    );
    let st = status::evaluate(&s, &policy, d("2026-03-21"));
    assert_eq!(st.dpd, 0);
    let hit = st.warning.unwrap();
    assert_eq!((hit.level, hit.rule.as_str()), (1, "two_consecutive_late"));
    assert!(
        hit.facts
            .contains(&("installments".to_string(), "1,2".to_string()))
    );
    // once installment 3 is paid on time the two most recent are 2 (late) and 3 (on time)
    let s = LoanState::replay(
        simple(),
        &r,
        &[],
        &[payments[0], payments[1], pay("2026-04-15", "1100.00")],
    )
    .unwrap();
    assert_eq!(
        status::evaluate(&s, &policy, d("2026-04-19")).warning_level(),
        0
    );
}

#[test]
fn dpd_buckets_and_tiers_follow_the_oldest_unpaid_installment() {
    let s = LoanState::replay(simple(), &rules(0, "0.5"), &[], &[]).unwrap();
    let policy = Policy::default();
    let cases = [
        ("2026-02-15", 0, "M0", Classification::Normal, 0),
        ("2026-02-16", 1, "M1", Classification::SpecialMention, 0),
        ("2026-03-18", 31, "M2", Classification::SpecialMention, 2),
        ("2026-05-17", 91, "M4", Classification::Substandard, 3),
        ("2026-11-13", 271, "M7+", Classification::Doubtful, 3),
        ("2027-02-11", 361, "M7+", Classification::Loss, 3),
    ];
    for (date, dpd, bucket, class, level) in cases {
        let st = status::evaluate(&s, &policy, d(date));
        assert_eq!(
            (
                st.dpd,
                st.bucket.to_string().as_str(),
                st.classification,
                st.warning_level()
            ),
            (dpd, bucket, class, level),
            "{date}"
        );
    }
}

#[test]
fn operations_change_the_schedule() {
    let r = rules(3, "0.5");
    let policy = Policy::default();
    let base = simple();
    // deferral of 2 months cures a loan one installment behind
    let ops = [DatedOp {
        on: d("2026-02-25"),
        op: LoanOp::Defer { months: 2 },
    }];
    let s = LoanState::replay(base, &r, &ops, &[]).unwrap();
    assert_eq!(s.installments[0].due_date, d("2026-04-15"));
    assert_eq!(s.installments[11].due_date, d("2027-03-15"));
    assert_eq!(status::evaluate(&s, &policy, d("2026-03-01")).dpd, 0);

    // acceleration makes the whole balance due at once
    let ops = [DatedOp {
        on: d("2026-03-01"),
        op: LoanOp::Acceleration,
    }];
    let s = LoanState::replay(base, &r, &ops, &[pay("2026-02-15", "1120.00")]).unwrap();
    let st = status::evaluate(&s, &policy, d("2026-03-02"));
    assert_eq!(st.dpd, 1);
    assert_eq!(st.overdue_installments, 1);
    assert_eq!(
        st.overdue_amount,
        m("11110.00"),
        "11,000 principal + the current period's 110 interest"
    );

    // early settlement on the quote pays the loan off
    let paid = [pay("2026-02-15", "1120.00")];
    let before = LoanState::replay(base, &r, &[], &paid).unwrap();
    let quote = before.settlement_quote(d("2026-03-01"));
    assert_eq!(quote, m("11110.00"));
    let ops = [DatedOp {
        on: d("2026-03-01"),
        op: LoanOp::EarlySettlement,
    }];
    let s = LoanState::replay(base, &r, &ops, &[paid[0], pay("2026-03-01", "11110.00")]).unwrap();
    assert!(s.is_paid_off());
    assert_eq!(s.unapplied, Money::ZERO);
    assert_eq!(
        status::evaluate(&s, &policy, d("2026-03-02")).lifecycle,
        Lifecycle::PaidOff
    );

    // restructure: unpaid principal, overdue interest and penalty become a new 24-month loan
    let ops = [DatedOp {
        on: d("2026-03-25"),
        op: LoanOp::Restructure {
            annual_rate: Rate::parse_annual("0.06").unwrap(),
            term_months: 24,
            method: Method::Annuity,
        },
    }];
    let s = LoanState::replay(base, &r, &ops, &[]).unwrap();
    // installment 1: 1000 + 120 interest + penalty 1000×0.18/360×38 = 19.00; installment 2: 1000 + 110 + 1000×0.18/360×10 = 5.00; 10,000 future principal
    let new_principal: Money = s.open_installments().map(|i| i.principal).sum();
    assert_eq!(new_principal, m("12254.00"));
    assert_eq!(s.open_installments().count(), 24);
    assert_eq!(
        s.open_installments().next().unwrap().due_date,
        d("2026-04-25")
    );
    let st = status::evaluate(&s, &policy, d("2026-03-26"));
    assert_eq!((st.dpd, st.warning_level()), (0, 0));

    // write-off: classified loss, no more events
    let ops = [DatedOp {
        on: d("2026-06-01"),
        op: LoanOp::WriteOff,
    }];
    let s = LoanState::replay(base, &r, &ops, &[]).unwrap();
    let st = status::evaluate(&s, &policy, d("2026-06-02"));
    assert_eq!(
        (st.lifecycle, st.classification),
        (Lifecycle::WrittenOff, Classification::Loss)
    );
    // no reminders any more, but the status still moves with DPD (next: installment 5 overdue)
    assert!(status::dated_events(&s, &policy, d("2026-06-12")).is_empty());
    assert_eq!(
        status::next_event_date(&s, &policy, d("2026-06-02")),
        Some(d("2026-06-16"))
    );

    // a manual downgrade is a floor, never an upgrade past DPD
    let ops = [DatedOp {
        on: d("2026-02-01"),
        op: LoanOp::Classify {
            floor: Classification::Substandard,
        },
    }];
    let s = LoanState::replay(base, &r, &ops, &[]).unwrap();
    assert_eq!(
        status::evaluate(&s, &policy, d("2026-02-02")).classification,
        Classification::Substandard
    );
    assert_eq!(
        status::evaluate(&s, &policy, d("2027-02-11")).classification,
        Classification::Loss
    );
}

#[test]
fn reminders_and_overdue_events_fall_on_their_days() {
    let s = LoanState::replay(simple(), &rules(3, "0.5"), &[], &[]).unwrap();
    let policy = Policy::default();
    let kinds = |date: &str| {
        status::dated_events(&s, &policy, d(date))
            .iter()
            .map(|e| e.kind())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds("2026-02-12"), ["reminder_due"]);
    assert_eq!(kinds("2026-02-15"), ["reminder_due"]);
    assert_eq!(kinds("2026-02-16"), ["installment_overdue"]);
    assert!(kinds("2026-02-17").is_empty());
    assert_eq!(
        status::next_event_date(&s, &policy, d("2026-02-01")),
        Some(d("2026-02-12"))
    );
    assert_eq!(
        status::next_event_date(&s, &policy, d("2026-02-16")),
        Some(d("2026-02-19")),
        "grace end"
    );
}

/// Independent recomputation for a product without penalty: installment k is paid off on the
/// first payment date where cumulative payments cover the cumulative scheduled amounts through k.
fn oracle_dpd(t: &LoanTerms, payments: &[Payment], date: Date) -> u32 {
    let rows = schedule::build(&t.schedule_terms()).unwrap();
    let mut sorted: Vec<Payment> = payments
        .iter()
        .copied()
        .filter(|p| p.paid_on <= date)
        .collect();
    sorted.sort_by_key(|p| p.paid_on);
    let paid: Money = sorted.iter().map(|p| p.amount).sum();
    let mut needed = Money::ZERO;
    for row in &rows {
        needed += row.payment;
        if paid < needed {
            return if row.due_date < date {
                u32::try_from((date - row.due_date).num_days()).unwrap()
            } else {
                0
            };
        }
    }
    0
}

fn arb_case() -> impl Strategy<Value = (LoanTerms, Vec<Payment>, u32)> {
    (
        1_000_000i64..50_000_000,
        0u32..2000,
        3u32..=36,
        0usize..3,
        0i64..365,
        proptest::collection::vec((0i64..1200, 1i64..800_000), 0..30),
        0u32..900,
    )
        .prop_map(|(fen, bp, n, mi, start, pays, horizon)| {
            let disbursed = add_days(d("2024-01-01"), start);
            let t = LoanTerms {
                principal: Money::from_fen(fen),
                annual_rate: Rate::from_decimal(rust_decimal::Decimal::new(i64::from(bp), 4)),
                term_months: n,
                method: [Method::Annuity, Method::EqualPrincipal, Method::Flat][mi],
                disbursed_on: disbursed,
            };
            let payments = pays
                .into_iter()
                .map(|(off, amt)| Payment {
                    paid_on: add_days(disbursed, off),
                    amount: Money::from_fen(amt),
                })
                .collect();
            (t, payments, horizon)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn allocation_never_creates_or_loses_a_fen((t, payments, _h) in arb_case(), grace in 0u32..10) {
        let s = LoanState::replay(t, &rules(grace, "0.5"), &[], &payments).unwrap();
        let paid: Money = payments.iter().map(|p| p.amount).sum();
        prop_assert_eq!(s.total_allocated() + s.unapplied, paid);
        let principal_paid: Money = s.installments.iter().map(|i| i.principal_paid).sum();
        prop_assert_eq!(principal_paid + s.outstanding_principal(), t.principal);
        for i in &s.installments {
            prop_assert!(i.principal_paid <= i.principal && i.interest_paid <= i.interest);
        }
        if s.unapplied.is_positive() {
            prop_assert!(s.is_paid_off());
        }
    }

    #[test]
    fn dpd_matches_an_independent_recomputation((t, payments, horizon) in arb_case()) {
        let date = add_days(t.disbursed_on, i64::from(horizon));
        let visible: Vec<Payment> = payments.iter().copied().filter(|p| p.paid_on <= date).collect();
        let s = LoanState::replay(t, &rules(0, "0"), &[], &visible).unwrap();
        let policy = Policy::default();
        let st = status::evaluate(&s, &policy, date);
        let dpd = oracle_dpd(&t, &visible, date);
        prop_assert_eq!(st.dpd, dpd);
        prop_assert_eq!(st.bucket, policy.bucket(dpd));
        prop_assert_eq!(st.classification, policy.classification(dpd));
        let dpd_level = if dpd >= 91 { 3 } else if dpd >= 31 { 2 } else { 0 };
        prop_assert!(st.warning_level() == dpd_level || (dpd_level < 1 && st.warning_level() == 1));
    }

    #[test]
    fn nothing_changes_between_event_dates((t, payments, horizon) in arb_case(), grace in 0u32..6) {
        let start = add_days(t.disbursed_on, i64::from(horizon));
        let visible: Vec<Payment> = payments.iter().copied().filter(|p| p.paid_on <= start).collect();
        let s = LoanState::replay(t, &rules(grace, "0.5"), &[], &visible).unwrap();
        let policy = Policy::default();
        let first = status::evaluate(&s, &policy, start).summary();
        let next = status::next_event_date(&s, &policy, start);
        let end = next.unwrap_or(add_days(start, 400)).min(add_days(start, 400));
        let mut day = add_days(start, 1);
        while day < end {
            prop_assert_eq!(status::evaluate(&s, &policy, day).summary(), first, "status changed on {} before next event {:?}", day, next);
            prop_assert!(status::dated_events(&s, &policy, day).is_empty(), "event on {} before next event {:?}", day, next);
            day = add_days(day, 1);
        }
    }
}

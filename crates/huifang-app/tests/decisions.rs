//! Decisions on loans by risk officers (issue 17), against real databases: a deferral and a
//! restructure exact to the fen against schedules worked out by hand, the deferral replayed when
//! a payment dated before it arrives afterwards; the four-eyes rule above an amount; refusals
//! that change nothing.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::decisions::{self, DecisionRequest};
use huifang_app::rows::PaymentRow;
use huifang_app::team::{self, Actor, Role, UserInput};
use huifang_app::{AppError, close, import, loans};
use huifang_core::loan::LoanOp;
use huifang_core::policy::{Classification, Policy};
use huifang_core::schedule::Method;
use huifang_core::{Money, Rate};
use huifang_store::Store;
use huifang_testkit::{Dbs, on_both};
use support::{book, d, ledger_size};

on_both!(decisions_are_exact_four_eyed_and_refused_within_limits);

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

async fn actor(store: &Store, name: &str) -> Actor {
    team::actor(store, name).await.unwrap()
}

/// (due date, interest, principal, paid on) of each installment from `from` (1-based).
async fn schedule(
    store: &Store,
    loan: &str,
    from: usize,
) -> Vec<(String, String, String, Option<String>)> {
    let view = loans::view(store, &Policy::default(), loan).await.unwrap();
    view.installments[from - 1..]
        .iter()
        .map(|i| {
            (
                i.due_date.to_string(),
                i.interest.to_string(),
                i.principal.to_string(),
                i.paid_off_on.map(|p| p.to_string()),
            )
        })
        .collect()
}

fn request(op: LoanOp, reason: &str) -> DecisionRequest {
    DecisionRequest {
        op,
        on: None,
        reason: reason.into(),
    }
}

async fn decisions_are_exact_four_eyed_and_refused_within_limits(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    // Loans of 12,000.00 at 12 % (1 % a month), 12 monthly annuity installments of 1,066.19
    // from 2026-02-15; business date 2026-03-20.
    book(&store, 3).await;
    team::create_user(
        &store,
        None,
        &UserInput {
            username: "risk2".into(),
            display_name: "风控 二".into(),
            role: Role::RiskOfficer,
            team: None,
            skills: Vec::new(),
            password: None,
        },
    )
    .await
    .unwrap();
    // L1 and L2 pay installments 1 and 2 on their due dates; L3 is paid off on 03-10.
    let pay = |id: &str, loan: &str, on: &str, amount: &str| PaymentRow {
        external_id: id.into(),
        loan_external_id: loan.into(),
        paid_on: d(on),
        amount: m(amount),
        channel: "代扣".into(),
    };
    let rows: Vec<_> = [
        pay("a1", "L1", "2026-02-15", "1066.19"),
        pay("a2", "L1", "2026-03-15", "1066.19"),
        pay("b1", "L2", "2026-02-15", "1066.19"),
        pay("b2", "L2", "2026-03-15", "1066.19"),
        pay("c1", "L3", "2026-03-10", "13000.00"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, r)| (i + 2, r))
    .collect();
    let policy = Policy::default();
    import::import_payments(&store, &policy, &rows)
        .await
        .unwrap();
    // By hand: installment 1 interest 12,000.00 × 1 % = 120.00, principal 946.19, balance
    // 11,053.81; 2: 110.54, 955.65, balance 10,098.16; 3: 100.98, 965.21, balance 9,132.95;
    // 4: 91.33, 974.86.
    assert_eq!(
        schedule(&store, "L1", 3).await[..2],
        [
            ("2026-04-15".into(), "100.98".into(), "965.21".into(), None),
            ("2026-05-15".into(), "91.33".into(), "974.86".into(), None),
        ]
    );

    // Refused, each changing nothing.
    let risk = actor(&store, "risk").await;
    let size = ledger_size(&store).await;
    let defer = |months| request(LoanOp::Defer { months }, "收入暂时下降，协商延期");
    let err = decisions::decide(&store, &policy, &actor(&store, "c1").await, "L1", &defer(2))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    let err = decisions::decide(
        &store,
        &policy,
        &risk,
        "L1",
        &request(LoanOp::Defer { months: 2 }, " "),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Field {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    let err = decisions::decide(&store, &policy, &risk, "L1", &defer(7))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Field { field: "months", reason } if reason.contains("at most 6 month(s), not 7")),
        "{err}"
    );
    let err = decisions::decide(&store, &policy, &risk, "L3", &defer(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m.contains("paid_off")),
        "{err}"
    );
    assert_eq!(ledger_size(&store).await, size, "nothing logged");
    assert!(
        decisions::list(&store, &risk, Some("L1"))
            .await
            .unwrap()
            .is_empty()
    );

    // A deferral of 2 months, under the four-eyes amount: applied at once. Installment 3 and the
    // rest move two months, their amounts unchanged.
    let r = decisions::decide(&store, &policy, &risk, "L1", &defer(2))
        .await
        .unwrap();
    assert!(r.applied && r.op_id.is_some());
    assert_eq!(
        schedule(&store, "L1", 3).await[..2],
        [
            ("2026-06-15".into(), "100.98".into(), "965.21".into(), None),
            ("2026-07-15".into(), "91.33".into(), "974.86".into(), None),
        ]
    );
    // A payment dated 03-18, before the decision, arrives afterwards: replayed in date order it
    // paid installment 3 (100.98 + 965.21) before the deferral, which then moved 4 onwards.
    import::import_payments(
        &store,
        &policy,
        &[(2, pay("a3", "L1", "2026-03-18", "1066.19"))],
    )
    .await
    .unwrap();
    assert_eq!(
        schedule(&store, "L1", 3).await[..2],
        [
            (
                "2026-04-15".into(),
                "100.98".into(),
                "965.21".into(),
                Some("2026-03-18".into())
            ),
            ("2026-07-15".into(), "91.33".into(), "974.86".into(), None),
        ]
    );

    // A payment holiday (还款假期) of 2 months from 03-20: what is not yet due moves two months
    // (installment 4: 07-15 → 09-15), and the holiday's interest — the 9,132.95 still owed ×
    // 12 % × 2 / 12 = 182.659 → 182.66 — is added to installment 4: 91.33 + 182.66 = 273.99.
    // Installment 5 keeps its figures: interest (9,132.95 − 974.86) × 1 % = 81.5809 → 81.58,
    // principal 1,066.19 − 81.58 = 984.61. Beyond the product's 3 months it is refused.
    let holiday = |months| request(LoanOp::PaymentHoliday { months }, "工厂停工，还款假期");
    let size = ledger_size(&store).await;
    let err = decisions::decide(&store, &policy, &risk, "L1", &holiday(4))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Field { field: "months", reason } if reason.contains("payment holiday of at most 3 month(s), not 4")),
        "{err}"
    );
    assert_eq!(ledger_size(&store).await, size, "nothing logged");
    let r = decisions::decide(&store, &policy, &risk, "L1", &holiday(2))
        .await
        .unwrap();
    assert!(r.applied);
    assert_eq!(
        schedule(&store, "L1", 4).await[..2],
        [
            ("2026-09-15".into(), "273.99".into(), "974.86".into(), None),
            ("2026-10-15".into(), "81.58".into(), "984.61".into(), None),
        ]
    );

    // Four eyes: above 5,000.00 of outstanding principal, a second risk officer approves.
    let mut strict = policy.clone();
    strict.decision_limits.four_eyes_above = m("5000.00");
    // and a watch period of 10 days after a restructure (checked at the end)
    strict.restructure_watch_days = 10;
    let restructure = request(
        LoanOp::Restructure {
            annual_rate: Rate::parse_annual("0.06").unwrap(),
            term_months: 24,
            method: Method::Annuity,
        },
        "重组: hardship review",
    );
    let pending = decisions::decide(&store, &strict, &risk, "L2", &restructure)
        .await
        .unwrap();
    assert!(!pending.applied && pending.op_id.is_none());
    assert_eq!(
        decisions::list(&store, &risk, None).await.unwrap()[0].id,
        pending.id
    );
    let size = ledger_size(&store).await;
    let err = decisions::approve(&store, &strict, &risk, pending.id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Forbidden(m) if m.contains("four eyes")),
        "{err}"
    );
    let err = decisions::approve(&store, &strict, &actor(&store, "audit").await, pending.id)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    assert_eq!(
        ledger_size(&store).await,
        size,
        "a refused approval logs nothing"
    );
    let applied = decisions::approve(&store, &strict, &actor(&store, "risk2").await, pending.id)
        .await
        .unwrap();
    assert!(applied.applied);
    assert_eq!(applied.approved_by.as_deref(), Some("risk2"));
    assert_eq!(ledger_size(&store).await, size + 1, "the decision's leaf");
    // By hand: the unpaid principal 10,098.16 over 24 months at 0.5 % a month from 03-20:
    // payment 10,098.16 × 0.005 × 1.005^24 / (1.005^24 − 1) = 447.5566… → 447.56; the first
    // interest 10,098.16 × 0.005 = 50.4908 → 50.49, principal 397.07, due 04-20.
    let view = loans::view(&store, &policy, "L2").await.unwrap();
    let first_new = view
        .installments
        .iter()
        .find(|i| i.closed_by.is_none() && i.paid_off_on.is_none())
        .unwrap();
    assert_eq!(
        (
            first_new.due_date.to_string(),
            first_new.interest.to_string(),
            first_new.principal.to_string()
        ),
        ("2026-04-20".into(), "50.49".into(), "397.07".into())
    );
    assert_eq!(
        view.ops.last().map(|o| o.decided_by.as_str()),
        Some("risk (approved by risk2)")
    );
    // Once restructured, the product allows no second restructure.
    let err = decisions::decide(&store, &strict, &risk, "L2", &restructure)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Field { field: "kind", .. }),
        "{err}"
    );
    let err = decisions::approve(&store, &strict, &actor(&store, "risk2").await, pending.id)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");

    // The watch period: a restructured loan is at least special_mention until it ends, though
    // nothing is overdue — here 10 days, from the restructure on 03-20 to 03-30, when the close
    // visits it and it is normal again.
    let watch = &strict;
    let now = loans::view(&store, watch, "L2").await.unwrap().status;
    assert_eq!(
        (now.dpd, now.classification),
        (0, Classification::SpecialMention)
    );
    close::run_daily(&store, watch, d("2026-03-30"), |_| {})
        .await
        .unwrap();
    let view = loans::view(&store, watch, "L2").await.unwrap();
    assert_eq!(view.status.classification, Classification::Normal);
    let moves: Vec<_> = view
        .history
        .iter()
        .filter(|h| h.business_date > d("2026-03-20"))
        .map(|h| (h.business_date, h.summary.classification, h.cause.as_str()))
        .collect();
    assert_eq!(
        moves,
        [(d("2026-03-30"), Classification::Normal, "close")],
        "the close visited the loan the day its watch period ended"
    );
}

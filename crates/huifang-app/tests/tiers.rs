//! The five-tier classification report (五级分类) between two dates, on real databases: loans
//! and balances per tier on each date, and the matrix of moves between the tiers.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::rows::PaymentRow;
use huifang_app::views::TierReportView;
use huifang_app::{AppError, import, status};
use huifang_core::Money;
use huifang_core::policy::Policy;
use huifang_testkit::{Dbs, on_both};
use serde_json::json;
use support::{book, d};

on_both!(the_tier_report_counts_where_loans_were_and_where_they_went);

async fn the_tier_report_counts_where_loans_were_and_where_they_went(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    // Four loans of 12,000.00 disbursed 2026-01-15, due on the 15th; business date 2026-03-20.
    book(&store, 4).await;
    let pay = |id: &str, loan: &str, on: &str, amount: &str| PaymentRow {
        external_id: id.into(),
        loan_external_id: loan.into(),
        paid_on: d(on),
        amount: Money::parse(amount).unwrap(),
        channel: "代扣".into(),
    };
    let rows: Vec<(usize, PaymentRow)> = [
        pay("a1", "L1", "2026-02-15", "1100.00"), // L1: on time, current on 03-20
        pay("a2", "L1", "2026-03-15", "1100.00"),
        pay("b1", "L2", "2026-02-15", "1100.00"), // L2: the second installment unpaid, DPD 5
        pay("d1", "L4", "2026-02-15", "1100.00"), // L4: paid off on 03-10
        pay("d2", "L4", "2026-03-10", "13000.00"), // (L3: nothing paid, DPD 33)
    ]
    .into_iter()
    .enumerate()
    .map(|(i, r)| (i + 2, r))
    .collect();
    let policy = Policy::default();
    import::import_payments(&store, &policy, &rows)
        .await
        .unwrap();

    let (_, _, r) = status::tiers(&store, &policy, d("2026-02-10"), Some(d("2026-03-20")))
        .await
        .unwrap();
    let view =
        serde_json::to_value(TierReportView::new(d("2026-02-10"), d("2026-03-20"), &r)).unwrap();
    // On 02-10 nothing was due yet: four normal loans, nothing repaid.
    assert_eq!(
        view["tiers"][0],
        json!({"tier": "normal", "tier_zh": "正常", "loans_from": 4, "balance_from": "48000.00",
               "loans_to": 1, "balance_to": view["tiers"][0]["balance_to"]})
    );
    assert_eq!(
        (
            &view["tiers"][1]["loans_from"],
            &view["tiers"][1]["loans_to"]
        ),
        (&json!(0), &json!(2))
    );
    // On 03-20 the balances are those the status rows hold.
    let mut lines = Vec::new();
    status::each_status(&store, |l| {
        lines.push(l);
        Ok(())
    })
    .await
    .unwrap();
    let outstanding = |id: &str| {
        lines
            .iter()
            .find(|l| l.row.external_id == id)
            .unwrap()
            .row
            .outstanding_principal
    };
    assert_eq!(
        view["tiers"][0]["balance_to"],
        outstanding("L1").to_string()
    );
    assert_eq!(
        view["tiers"][1]["balance_to"],
        (outstanding("L2") + outstanding("L3")).to_string()
    );
    // The moves, each with the balance the loans had on 02-10 and its share of the tier.
    assert_eq!(
        view["moves"],
        json!([
            {"from": "normal", "to": null, "loans": 1, "balance": "12000.00", "rate_pct": null},
            {"from": "normal", "to": "normal", "loans": 1, "balance": "12000.00", "rate_pct": "25.00"},
            {"from": "normal", "to": "special_mention", "loans": 2, "balance": "24000.00", "rate_pct": "50.00"},
        ])
    );
    // Refused: dates out of order, a date after the business date.
    let err = status::tiers(&store, &policy, d("2026-03-20"), Some(d("2026-03-01")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Refused { field: "from", .. }),
        "{err}"
    );
    let err = status::tiers(&store, &policy, d("2026-03-01"), Some(d("2026-03-21")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::Refused { field: "to", .. }),
        "{err}"
    );
}

//! Repossession and legal cases (issue 17), against real databases: opened by a risk officer,
//! moved through their stages in order by risk officers and collectors, a sale posted as a
//! payment that re-evaluates the loan, every step in the tamper-evident record; refusals that
//! change nothing.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::cases::{self, StepRequest};
use huifang_app::rows::PaymentRow;
use huifang_app::team::{self, Actor};
use huifang_app::warnings::{self, WarningFilter};
use huifang_app::{AppError, import, ledger, loans};
use huifang_core::Money;
use huifang_core::case::CaseStage;
use huifang_core::policy::Policy;
use huifang_core::warning::WarningState;
use huifang_store::Store;
use huifang_testkit::{Dbs, on_both};
use support::{book, d, ledger_size};

on_both!(cases_move_in_order_and_a_sale_is_a_payment);

fn m(text: &str) -> Money {
    Money::parse(text).unwrap()
}

async fn actor(store: &Store, name: &str) -> Actor {
    team::actor(store, name).await.unwrap()
}

fn to(stage: &str, amount: Option<&str>) -> StepRequest {
    StepRequest {
        stage: stage.into(),
        amount: amount.map(m),
        note: format!("→ {stage}"),
        on: None,
    }
}

fn field_of(err: &AppError) -> &'static str {
    match err {
        AppError::Field { field, .. } => field,
        other => panic!("expected a field error, got {other}"),
    }
}

async fn cases_move_in_order_and_a_sale_is_a_payment(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    // Loans of 12,000.00 at 12 %, 12 annuity installments of 1,066.19 from 2026-02-15, nothing
    // paid; business date 2026-03-20 (L1 and L2 overdue since 02-15). L3 is paid off on 03-10.
    book(&store, 3).await;
    import::import_payments(
        &store,
        &policy,
        &[(
            2,
            PaymentRow {
                external_id: "c1".into(),
                loan_external_id: "L3".into(),
                paid_on: d("2026-03-10"),
                amount: m("13000.00"),
                channel: "代扣".into(),
            },
        )],
    )
    .await
    .unwrap();
    let (risk, c1, a1) = (
        actor(&store, "risk").await,
        actor(&store, "c1").await,
        actor(&store, "a1").await,
    );

    // Refused, each changing nothing: a collector opens no case; no reason; an unknown kind; a
    // paid-off loan.
    let size = ledger_size(&store).await;
    let reason = "车辆失联，启动收车";
    let err = cases::open(&store, &policy, &c1, "L1", "repossession", reason)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    let err = cases::open(&store, &policy, &risk, "L1", "repossession", "  ")
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "reason");
    let err = cases::open(&store, &policy, &risk, "L1", "auction", reason)
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "kind");
    let err = cases::open(&store, &policy, &risk, "L3", "repossession", reason)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m.contains("paid_off")),
        "{err}"
    );
    assert_eq!(ledger_size(&store).await, size, "nothing logged");
    assert!(cases::list(&store, &risk, None).await.unwrap().is_empty());

    // A repossession on L1: opened at `assigned`, the opening its first logged step.
    let case = cases::open(&store, &policy, &risk, "L1", "repossession", reason)
        .await
        .unwrap();
    let id = case.case.id;
    assert_eq!(case.case.stage, CaseStage::Assigned);
    assert_eq!(case.case.opener, "risk");
    assert_eq!(case.steps.len(), 1);
    // The case is the action taken on L1's open warning (level 2 at DPD 33): acknowledged and
    // actioned by it, the note naming the case; three leaves in all.
    assert_eq!(ledger_size(&store).await, size + 3);
    let filter = WarningFilter {
        loan: Some("L1".into()),
        ..WarningFilter::default()
    };
    let warned = &warnings::list(&store, &risk, &filter).await.unwrap()[0];
    assert_eq!(warned.state, WarningState::Actioned);
    let (_, history) = warnings::show(&store, &risk, warned.id).await.unwrap();
    let note = format!("case {id} (repossession) opened: {reason}");
    assert_eq!(
        history
            .iter()
            .map(|s| (
                s.step.action.as_str(),
                s.step.note.as_str(),
                s.username.as_deref()
            ))
            .collect::<Vec<_>>(),
        [
            ("acknowledged", note.as_str(), Some("risk")),
            ("action_taken", note.as_str(), Some("risk")),
        ]
    );

    // Steps out of order, by a role that works no cases, or with an amount out of place are
    // refused and change nothing.
    let size = ledger_size(&store).await;
    let err = cases::step(&store, &policy, &a1, id, &to("located", None))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    let err = cases::step(&store, &policy, &c1, id, &to("recovered", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Field { field: "stage", reason } if reason == "a repossession case at assigned moves to located (or closed), not recovered"),
        "{err}"
    );
    let err = cases::step(&store, &policy, &c1, id, &to("located", Some("1.00")))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "amount");
    let err = cases::step(&store, &policy, &c1, id, &to("found", None))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "stage");
    assert_eq!(ledger_size(&store).await, size, "nothing logged");

    // assigned → located (a collector) → recovered (the risk officer) → sold (the sale's
    // proceeds, 2,000.00, posted as a payment on 03-20).
    cases::step(&store, &policy, &c1, id, &to("located", None))
        .await
        .unwrap();
    cases::step(&store, &policy, &risk, id, &to("recovered", None))
        .await
        .unwrap();
    let err = cases::step(&store, &policy, &c1, id, &to("sold", None))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "amount", "a sale without its proceeds");
    let before = loans::view(&store, &policy, "L1").await.unwrap();
    assert_eq!(before.status.dpd, 33);
    let sold = cases::step(&store, &policy, &c1, id, &to("sold", Some("2000.00")))
        .await
        .unwrap();
    assert_eq!(sold.case.stage, CaseStage::Sold);
    // A leaf per step; the sale also moved L1 from level 2 (DPD 33) to level 1 (installments 1
    // and 2 both paid late): the level-2 warning resolved automatically, a level-1 one raised.
    assert_eq!(ledger_size(&store).await, size + 5);
    let last = sold.steps.last().unwrap();
    assert_eq!(
        (
            last.step.amount,
            last.step.payment.as_deref(),
            last.username.as_str()
        ),
        (
            Some(m("2000.00")),
            Some(format!("case-{id}-sold").as_str()),
            "c1"
        )
    );
    // The proceeds paid installment 1 (1,066.19 and its penalty) and part of installment 2:
    // the loan is now overdue since installment 2's due date (03-15), DPD 5.
    let after = loans::view(&store, &policy, "L1").await.unwrap();
    let payment = after.payments.last().unwrap();
    assert_eq!(
        (payment.amount, payment.paid_on, payment.channel.as_str()),
        (m("2000.00"), d("2026-03-20"), "repossession_sale")
    );
    assert_eq!(after.installments[0].paid_off_on, Some(d("2026-03-20")));
    assert_eq!(after.installments[1].paid_off_on, None);
    assert_eq!(after.status.dpd, 5);
    assert_eq!(after.status.warning_level(), 1);

    // Closed; a closed case takes no more steps.
    let closed = cases::step(&store, &policy, &risk, id, &to("closed", None))
        .await
        .unwrap();
    assert_eq!(
        (closed.case.stage, closed.case.closed_on),
        (CaseStage::Closed, Some(d("2026-03-20")))
    );
    let err = cases::step(&store, &policy, &risk, id, &to("closed", None))
        .await
        .unwrap_err();
    assert_eq!(field_of(&err), "stage");

    // A legal case on L2: filed → judgment → enforcement, which recovers 500.00.
    let legal = cases::open(&store, &policy, &risk, "L2", "legal", "协商无果，起诉")
        .await
        .unwrap();
    let lid = legal.case.id;
    assert_eq!(legal.case.stage, CaseStage::Filed);
    cases::step(&store, &policy, &risk, lid, &to("judgment", None))
        .await
        .unwrap();
    let enforced = cases::step(
        &store,
        &policy,
        &c1,
        lid,
        &to("enforcement", Some("500.00")),
    )
    .await
    .unwrap();
    assert_eq!(
        enforced
            .steps
            .iter()
            .map(|s| (s.step.stage, s.username.as_str()))
            .collect::<Vec<_>>(),
        [
            (CaseStage::Filed, "risk"),
            (CaseStage::Judgment, "risk"),
            (CaseStage::Enforcement, "c1"),
        ]
    );
    let l2 = loans::view(&store, &policy, "L2").await.unwrap();
    assert_eq!(
        l2.payments.last().map(|p| p.channel.as_str()),
        Some("legal_enforcement")
    );

    // The open cases are L2's only; L1's are listed on the loan; a collector reads them too.
    let open: Vec<i64> = cases::list(&store, &c1, None)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open, [lid]);
    assert_eq!(
        cases::list(&store, &risk, Some("L1")).await.unwrap()[0].id,
        id
    );
    let err = cases::show(&store, &a1, id).await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    // Every step is in the record, and the record verifies.
    let report = ledger::verify(&store, None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

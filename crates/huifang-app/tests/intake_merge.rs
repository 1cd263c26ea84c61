//! Concurrent intake requests written together (`intake::Coalescer`): each request keeps its
//! own answer and its all-or-nothing — a request with a bad record is refused alone, two
//! requests naming one new payment write it once, the others are written — on both backends.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use futures_util::future::join_all;
use huifang_app::AppError;
use huifang_app::files::ImportFormat;
use huifang_app::intake::Coalescer;
use huifang_app::team;
use huifang_testkit::{Dbs, on_both};
use serde_json::{Value, json};
use support::book;

fn payment(id: &str, loan: &str, amount: &str) -> Value {
    json!({"external_id": id, "loan_external_id": loan, "paid_on": "2026-03-19",
           "amount": amount, "channel": "bank"})
}

on_both!(requests_written_together_keep_their_own_answers);

async fn requests_written_together_keep_their_own_answers(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 4).await;
    let admin = team::actor(&store, "admin").await.unwrap();
    let agent = team::actor(&store, "a1").await.unwrap();
    let intake = Coalescer::new(store.clone());

    // every request is queued before the writer runs: they are offered to it together
    let requests = vec![
        vec![payment("M1", "L1", "100.00")],
        vec![payment("M2", "L2", "100.00"), payment("M3", "L3", "50.00")],
        vec![payment("M4", "L9", "100.00")], // no such loan: refused alone
        vec![payment("M5", "L4", "100.00")],
        vec![payment("M5", "L4", "100.00")], // the same payment again
    ];
    let answers = join_all(
        requests
            .into_iter()
            .map(|r| intake.records(&admin, ImportFormat::Payments, r)),
    )
    .await;
    let refused = answers[2].as_ref().unwrap_err();
    assert!(
        matches!(refused, AppError::Items(e) if e.len() == 1 && e[0].column == "loan_external_id"),
        "{refused}"
    );
    let ok: Vec<_> = [0, 1, 3, 4]
        .iter()
        .map(|&i| answers[i].as_ref().unwrap())
        .collect();
    assert_eq!((ok[0].report.inserted, ok[0].report.unchanged), (1, 0));
    assert_eq!(
        (ok[1].report.inserted, ok[1].report.loans_reprocessed),
        (2, 2)
    );
    assert_eq!(ok[1].external_ids, ["M2", "M3"]);
    // one of the two same requests wrote the payment, the other found it there
    let same = [&ok[2].report, &ok[3].report];
    assert_eq!(same.iter().map(|r| r.inserted).sum::<usize>(), 1);
    assert_eq!(same.iter().map(|r| r.unchanged).sum::<usize>(), 1);
    let mut tx = store.begin().await.unwrap();
    let stored = tx
        .payments_by_external_id(&["M1", "M2", "M3", "M4", "M5"].map(String::from))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut ids: Vec<&String> = stored.keys().collect();
    ids.sort();
    assert_eq!(ids, ["M1", "M2", "M3", "M5"]);

    assert_eq!(intake.merged(), 0, "the first group was refused merged");
    // a merged group of good requests: each its own share
    let answers = join_all((6..10).map(|n| {
        intake.records(
            &admin,
            ImportFormat::Payments,
            vec![payment(
                &format!("M{n}"),
                &format!("L{}", n % 4 + 1),
                "10.00",
            )],
        )
    }))
    .await;
    for a in &answers {
        let a = a.as_ref().unwrap();
        assert_eq!((a.report.inserted, a.report.unchanged), (1, 0));
    }
    assert_eq!(intake.merged(), 4, "written as one batch");
    // only the administrator's users feed the book
    assert!(matches!(
        intake
            .records(
                &agent,
                ImportFormat::Payments,
                vec![payment("X", "L1", "1.00")]
            )
            .await,
        Err(AppError::Forbidden(_))
    ));
}

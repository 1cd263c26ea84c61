//! The risk score on the demo's synthetic book, on real databases: the behaviour model reaches a
//! holdout AUC of 0.80 and a KS of 0.40 (recomputed here from the stored predictions, with the
//! test's own arithmetic); training again on the same history gives the same model; a population
//! that drifts from the training rows flags the model; the close scores the loans it visits; an
//! application is scored from its fields alone, a bad field named.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use huifang_app::score::{self, ModelView};
use huifang_app::{AppError, close, demo};
use huifang_core::Date;
use huifang_core::calendar::{add_days, parse_date};
use huifang_core::score::{ApplicationFacts, ModelKind};
use huifang_testkit::{Dbs, on_both};

fn d(s: &str) -> Date {
    parse_date(s).unwrap()
}

const TODAY: &str = "2026-12-06";

/// The area under the ROC curve by counting pairs: each (event, non-event) pair ranked right
/// counts 1, a tie ½.
fn auc_by_pairs(p: &[(f64, bool)]) -> f64 {
    let pos: Vec<&(f64, bool)> = p.iter().filter(|x| x.1).collect();
    let neg: Vec<&(f64, bool)> = p.iter().filter(|x| !x.1).collect();
    let mut right = 0.0;
    for a in &pos {
        for b in &neg {
            right += if a.0 > b.0 {
                1.0
            } else if a.0 == b.0 {
                0.5
            } else {
                0.0
            };
        }
    }
    right / (pos.len() * neg.len()) as f64
}

/// KS: the largest gap between the share of events and of non-events scored at or above a
/// threshold, over every distinct score.
fn ks_by_thresholds(p: &[(f64, bool)]) -> f64 {
    let pos = p.iter().filter(|x| x.1).count() as f64;
    let neg = p.len() as f64 - pos;
    let mut thresholds: Vec<f64> = p.iter().map(|x| x.0).collect();
    thresholds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    thresholds.dedup();
    thresholds
        .iter()
        .map(|t| {
            let tp = p.iter().filter(|x| x.1 && x.0 >= *t).count() as f64;
            let fp = p.iter().filter(|x| !x.1 && x.0 >= *t).count() as f64;
            tp / pos - fp / neg
        })
        .fold(0.0, f64::max)
}

fn behaviour(models: &[ModelView]) -> &ModelView {
    models.iter().find(|m| m.kind == "behaviour").unwrap()
}

on_both!(the_score_is_validated_repeatable_watched_and_explained);

async fn the_score_is_validated_repeatable_watched_and_explained(dbs: &mut Dbs) {
    let url = dbs.fresh_url().await;
    let store = demo::fresh_store(&url)
        .await
        .unwrap()
        .with_keys(Some(huifang_testkit::test_keys()));
    let policy = huifang_app::policy::load(&store).await.unwrap();
    // the demo trains both models on its history and scores every loan
    demo::run(&store, &policy, 3_000, 20_261_128, d(TODAY), |_| {})
        .await
        .unwrap();
    let models = score::models(&store, None).await.unwrap();
    assert_eq!(models.len(), 2);
    let b = behaviour(&models).clone();

    // the holdout's metrics, recomputed from its stored predictions
    let mut tx = store.begin().await.unwrap();
    let predictions = tx.predictions(b.version).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(predictions.len() as i64, b.holdout_rows);
    assert!(
        predictions.iter().all(|p| p.1 == predictions[0].1),
        "one observation month-end"
    );
    let pairs: Vec<(f64, bool)> = predictions.iter().map(|p| (p.2, p.3)).collect();
    let (auc, ks) = (auc_by_pairs(&pairs), ks_by_thresholds(&pairs));
    assert!(
        (auc - b.metrics.auc).abs() < 1e-12,
        "{auc} vs {}",
        b.metrics.auc
    );
    assert!(
        (ks - b.metrics.ks).abs() < 1e-12,
        "{ks} vs {}",
        b.metrics.ks
    );
    assert!(auc >= 0.80, "holdout AUC {auc}");
    assert!(ks >= 0.40, "holdout KS {ks}");
    assert!(b.metrics.holdout_events > 0 && b.metrics.training_events > 0);
    let psi = b.psi.unwrap();
    assert!(
        psi < 0.25 && !b.flagged,
        "PSI {psi} on the day it was trained"
    );
    let calibrated: usize = b.metrics.calibration.iter().map(|c| c.loans).sum();
    assert_eq!(calibrated as i64, b.holdout_rows);

    // the same history gives the same model
    let again = score::train(
        &store,
        None,
        &[ModelKind::Behaviour, ModelKind::Application],
    )
    .await
    .unwrap();
    let b2 = behaviour(&again);
    assert_ne!(b2.version, b.version);
    assert_eq!(b2.model, b.model);
    assert_eq!(b2.metrics, b.metrics);

    // every loan on the book has a score; the close then scores the loans whose inputs changed
    let on_book = count(
        &url,
        "SELECT COUNT(*) FROM loan_state WHERE lifecycle = 'active'",
    )
    .await;
    assert_eq!(scored_on(&url, d(TODAY)).await, on_book);
    let explained = score::loan_score(&store, None, "L00000001").await.unwrap();
    if let Some(s) = explained {
        assert_eq!(s.model_version, b2.version);
        assert!(
            s.factors
                .iter()
                .all(|f| f.contribution > 0.0 && !f.zh.is_empty())
        );
    }
    close::run_daily(&store, &policy, add_days(d(TODAY), 1), |_| {})
        .await
        .unwrap();
    // the loans on the book whose status changed that day are among those scored again
    let changed = count(
        &url,
        &format!(
            "SELECT COUNT(DISTINCT h.loan_id) FROM status_history h JOIN loan_state s ON s.loan_id = h.loan_id AND s.lifecycle = 'active' WHERE h.business_date = '{}'",
            add_days(d(TODAY), 1)
        ),
    )
    .await;
    let rescored = scored_on(&url, add_days(d(TODAY), 1)).await;
    assert!(
        changed > 0 && rescored >= changed,
        "{rescored} scored again, {changed} changed"
    );

    // a rule on the score's band: the loans whose score rises into band E get its warning
    let mut doc = huifang_app::rules::show(&store).await.unwrap();
    let mut rules = serde_json::to_value(&doc).unwrap();
    rules["rules"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": "score_band_e", "level": 2,
            "when": {"kind": "signal", "signal": "score_band_e", "within_days": 30}
        }));
    rules.as_object_mut().unwrap().remove("version");
    for r in rules["rules"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("version");
    }
    huifang_app::rules::set(&store, &rules.to_string())
        .await
        .unwrap();
    let policy = huifang_app::policy::load(&store).await.unwrap();
    doc = huifang_app::rules::show(&store).await.unwrap();
    assert!(
        serde_json::to_string(&doc)
            .unwrap()
            .contains("score_band_e")
    );
    // a fresh score table: every loan's band is new, the high ones signal
    exec(&url, "DELETE FROM loan_scores").await;
    exec(
        &url,
        "DELETE FROM risk_signals WHERE kind LIKE 'score_band%'",
    )
    .await;
    score::score_book(&store).await.unwrap();
    let band_e = count(&url, "SELECT COUNT(*) FROM loan_scores WHERE band = 'E'").await;
    let signalled = count(
        &url,
        "SELECT COUNT(*) FROM risk_signals WHERE kind = 'score_band_e'",
    )
    .await;
    let warned = count(
        &url,
        "SELECT COUNT(DISTINCT loan_id) FROM warnings WHERE rule = 'score_band_e' AND cleared_on IS NULL",
    )
    .await;
    assert!(band_e > 0, "no loan in band E");
    assert_eq!(signalled, band_e);
    // a loan's warning is its highest rule's: most band E loans are warned by this one
    assert!(
        warned > 0 && warned <= band_e,
        "{warned} of {band_e} warned by the rule"
    );

    // score bands in queue assignment: the plan sends the tasks of loans in band D or E to the
    // senior collectors; the bands are the ones the day's planning starts from
    let routed = [
        "collection_call",
        "overdue_reminder",
        "repayment_reminder",
        "continuous_followup",
    ];
    huifang_app::followup::set_plan(
        &store,
        None,
        &serde_json::json!({"score_queues": [{"from_band": "D", "kinds": routed, "queue": "senior_collection"}]}).to_string(),
    )
    .await
    .unwrap();
    let high: std::collections::HashSet<i64> = rows(
        &url,
        "SELECT loan_id FROM loan_scores WHERE band IN ('D', 'E')",
    )
    .await
    .into_iter()
    .collect();
    let day = add_days(d(TODAY), 2);
    close::run_daily(&store, &policy, day, |_| {})
        .await
        .unwrap();
    let created = rows_of(
        &url,
        &format!("SELECT loan_id, kind, queue_code FROM tasks WHERE created_on = '{day}'"),
    )
    .await;
    let mine: Vec<&(i64, String, String)> = created
        .iter()
        .filter(|(loan, kind, _)| high.contains(loan) && routed.contains(&kind.as_str()))
        .collect();
    assert!(
        !mine.is_empty(),
        "no task created for a band D/E loan on {day}"
    );
    assert!(mine.iter().all(|t| t.2 == "senior_collection"), "{mine:?}");
    assert!(
        created.iter().any(|(loan, kind, q)| !high.contains(loan)
            && kind == "repayment_reminder"
            && q == "reminders"),
        "the other loans' reminders stay in their queue"
    );

    // months without a payment: today's loans drift from the training rows, the model is flagged
    close::run_daily(&store, &policy, add_days(d(TODAY), 150), |_| {})
        .await
        .unwrap();
    let drifted = score::stability(&store, b2.version).await.unwrap();
    assert!(drifted.flagged, "PSI {:?}", drifted.psi);
    assert!(drifted.psi.unwrap() > 0.25);
    assert!(behaviour(&score::models(&store, None).await.unwrap()).flagged);

    // an application, scored from its fields alone; a bad field is named
    let application = ApplicationFacts {
        principal_fen: 10_000_000,
        vehicle_price_fen: 15_000_000,
        monthly_income_fen: 1_200_000,
        annual_rate_bp: 588,
        term_months: 36,
    };
    let s = score::score_application(&store, None, &application)
        .await
        .unwrap();
    assert!(("ABCDE").contains(&s.band));
    assert!(s.probability_bp <= 10_000);
    for (bad, field) in [
        (
            ApplicationFacts {
                term_months: 0,
                ..application
            },
            "term_months",
        ),
        (
            ApplicationFacts {
                monthly_income_fen: 0,
                ..application
            },
            "monthly_income",
        ),
        (
            ApplicationFacts {
                vehicle_price_fen: 0,
                ..application
            },
            "vehicle_price",
        ),
    ] {
        match score::score_application(&store, None, &bad).await {
            Err(AppError::Field { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// Loans whose latest score is dated `on`.
async fn scored_on(url: &str, on: Date) -> i64 {
    count(
        url,
        &format!("SELECT COUNT(*) FROM loan_scores WHERE scored_on = '{on}'"),
    )
    .await
}

/// Every row `sql` returns, on a connection of its own (outside the store).
async fn all(url: &str, sql: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

async fn rows(url: &str, sql: &str) -> Vec<i64> {
    use sqlx::Row;
    all(url, sql)
        .await
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect()
}

async fn rows_of(url: &str, sql: &str) -> Vec<(i64, String, String)> {
    use sqlx::Row;
    all(url, sql)
        .await
        .iter()
        .map(|r| {
            (
                r.try_get(0).unwrap(),
                r.try_get(1).unwrap(),
                r.try_get(2).unwrap(),
            )
        })
        .collect()
}

async fn exec(url: &str, sql: &str) {
    all(url, sql).await;
}

async fn count(url: &str, sql: &str) -> i64 {
    rows(url, sql).await[0]
}

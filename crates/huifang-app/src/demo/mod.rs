//! `huifang demo`: a fresh database with a synthetic portfolio whose last 60 business days are
//! lived through day by day — loans disbursed, payments posted (some days late: backdated),
//! early settlements recorded and every day closed — so that status, events and history look like
//! a lender's real book. The loans, payments and settlements come from [`synth`]; the team, its
//! people and their first worked tasks from [`team`].

mod assistant;
pub mod synth;
pub mod team;
mod vehicles;

use huifang_core::calendar::add_days;
use huifang_core::loan::LoanOp;
use huifang_core::policy::Policy;
use huifang_core::{Date, calendar};
use huifang_store::Store;

use crate::{AppError, close, import, loans};
use synth::{Portfolio, SynthConfig, default_products};

/// Business days the demo closes one by one, up to its last business date.
pub const LIVED_DAYS: i64 = 60;

/// Days before the last on which the demo's team starts working its tasks.
const TEAM_DAYS: i64 = 10;

/// A setting that marks a database as a demo (so `demo` may replace it).
const DEMO_KEY: &str = "demo";

/// Connects to `url`, refusing a database that holds anything but an earlier demo, and empties it.
pub async fn fresh_store(url: &str) -> Result<Store, AppError> {
    let store = Store::connect(url).await?;
    if store.check_schema().await.is_ok() {
        let mut tx = store.begin().await?;
        let is_demo = tx.setting(DEMO_KEY).await?.is_some();
        let (borrowers, loans, _, _) = tx.counts().await?;
        tx.rollback().await?;
        if !is_demo && (borrowers > 0 || loans > 0) {
            return Err(AppError::Invalid(format!(
                "{url} holds a portfolio that is not a demo: the demo needs a new or demo database (use --db)"
            )));
        }
    }
    store.wipe().await?;
    store.migrate().await?;
    crate::policy::seed_default(&store).await?;
    crate::rules::seed_default(&store).await?;
    Ok(store)
}

fn lines<T: Clone>(rows: &[T]) -> Vec<(usize, T)> {
    rows.iter()
        .cloned()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

/// Builds the demo in an empty, migrated store. `log` receives progress lines.
pub async fn run(
    store: &Store,
    policy: &Policy,
    loans: usize,
    seed: u64,
    today: Date,
    mut log: impl FnMut(&str),
) -> Result<String, AppError> {
    let start = add_days(today, -LIVED_DAYS);
    {
        let mut tx = store.begin().await?;
        tx.set_business_date(start).await?;
        tx.set_setting(DEMO_KEY, "1").await?;
        tx.commit().await?;
    }
    import::import_products(store, &lines(&default_products())).await?;
    let from = calendar::add_months(start, 0)
        .checked_sub_months(chrono::Months::new(36))
        .unwrap_or(start);
    let portfolio = Portfolio::new(SynthConfig {
        seed,
        loans,
        business_date: today,
        disbursed_from: from,
        products: default_products(),
    })
    .map_err(|e| AppError::Invalid(e.to_string()))?;
    let all = portfolio
        .generate()
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    log(&format!(
        "generated {} borrowers, {} loans, {} payments ({} posted late)",
        all.borrowers.len(),
        all.loans.len(),
        all.payments.len(),
        all.late_payments.len()
    ));

    // Everything that happens, by the business day on which it reaches the lender.
    let days = all.by_arrival_day(start);

    let mut closed = 0usize;
    // the team starts ten days before the last: the promises it takes fall due and are kept or
    // broken by the days closed after
    let team_on = add_days(today, -TEAM_DAYS);
    let mut team = None;
    for (date, day) in days {
        if date > start {
            if team.is_none() && date > team_on {
                close::run_daily(store, policy, team_on, |_| {}).await?;
                team = Some(team::demo_team(store, &mut log).await?);
            }
            let reports = close::run_daily(store, policy, date, |_| {}).await?;
            closed += reports.len();
        }
        import::import_borrowers(store, &lines(&day.borrowers)).await?;
        import::import_loans(store, policy, &lines(&day.loans)).await?;
        import::import_payments(store, policy, &lines(&day.payments)).await?;
        for settlement in &day.early_settlements {
            loans::operate(
                store,
                policy,
                &settlement.loan_external_id,
                LoanOp::EarlySettlement,
                Some(settlement.on),
                "客户申请提前结清 / borrower asked to settle early",
                "demo",
            )
            .await?;
        }
    }
    // the vehicles' trackers: two days of their events up to the morning of the last day, some
    // of each signal; the record their warnings are logged in is signed again
    log(&vehicles::demo_vehicles(store, policy, today).await?);
    crate::ledger::new_checkpoint(store).await?;
    let reports = close::run_daily(store, policy, today, |_| {}).await?;
    closed += reports.len();
    // the month-ends before the lived days, for the reports over time
    let backfilled = crate::analytics::backfill(store, policy).await?;
    log(&format!(
        "{} month-ends before the lived days computed",
        backfilled.len()
    ));
    // the risk models, trained on that history, and every loan scored
    match crate::score::train(
        store,
        None,
        &[
            huifang_core::score::ModelKind::Behaviour,
            huifang_core::score::ModelKind::Application,
        ],
    )
    .await
    {
        Ok(models) => {
            for m in models {
                log(&format!(
                    "risk model {} ({}): holdout AUC {:.3}, KS {:.3}",
                    m.version, m.kind, m.metrics.auc, m.metrics.ks
                ));
            }
        }
        // a demo too small or too short to train on
        Err(e @ (AppError::Refused { .. } | AppError::Invalid(_))) => {
            log(&format!("no risk model: {e}"));
        }
        Err(e) => return Err(e),
    }
    let mut tx = store.begin().await?;
    let (borrowers, loan_count, payments, events) = tx.counts().await?;
    tx.rollback().await?;
    let team = match team {
        Some(team) => team,
        None => team::demo_team(store, &mut log).await?,
    };
    Ok(format!(
        "{borrowers} borrowers, {loan_count} loans, {payments} payments, {closed} business days closed up to {today}, {events} events\n{team}"
    ))
}

//! A synthetic book to live day by day in the tests: shared by the foundation and follow-up suites.

use huifang_app::import;
use huifang_app::rows::ProductRow;
use huifang_app::synth::{Portfolio, PortfolioChunk, SynthConfig, default_products};
use huifang_core::{Date, Rate};
use huifang_store::Store;

/// Migrates `store` and sets its business date.
pub async fn init(store: &Store, date: Date) {
    store.migrate().await.expect("migrate");
    let mut tx = store.begin().await.unwrap();
    tx.set_business_date(date).await.unwrap();
    tx.commit().await.unwrap();
}

/// Initialises `store` on `start`, imports the default products without penalty interest (so an
/// installment is paid exactly when the cumulative payments cover the schedule) and generates
/// 300 loans disbursed from 18 months before `start`, with payments up to `last`.
pub async fn book_without_penalty(
    store: &Store,
    start: Date,
    last: Date,
    seed: u64,
) -> PortfolioChunk {
    let products: Vec<ProductRow> = default_products()
        .into_iter()
        .map(|mut p| {
            p.penalty_rate_markup = Rate::ZERO;
            p
        })
        .collect();
    init(store, start).await;
    let rows: Vec<(usize, ProductRow)> = products
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect();
    import::import_products(store, &rows).await.unwrap();
    Portfolio::new(SynthConfig {
        seed,
        loans: 300,
        business_date: last,
        disbursed_from: start.checked_sub_months(chrono::Months::new(18)).unwrap(),
        products,
    })
    .unwrap()
    .generate()
    .unwrap()
}

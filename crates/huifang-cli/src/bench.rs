//! `huifang bench`: generates N loans with repayment history, imports them through the same
//! use cases as `huifang import`, then times the daily close.
//!
//! The portfolio is shaped so that one day is quiet: most loans have their due day of month in
//! 1–20 (the timeline of a loan disbursed on the 21st–31st is moved back as a whole, payments
//! included, which keeps its repayment behaviour), so on the 28th only about 1% of loans (some of
//! the rest, and delinquent loans crossing a DPD threshold) have an event: the quiet day. The 27th,
//! the first day closed, is nearly as quiet (it also meets the loans imported overdue, about 2.4%
//! in all); the following days are ordinary ones.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

use anyhow::{Context, Result};
use huifang_app::rows::{BorrowerRow, LoanRow, PaymentRow};
use huifang_app::synth::{Portfolio, PortfolioChunk, SynthConfig, default_products};
use huifang_app::{close, import};
use huifang_core::Date;
use huifang_core::calendar::{add_days, parse_date};
use huifang_core::policy::Policy;
use huifang_store::Store;

/// The business date the imported history runs to; the day after next (the 28th) is the quiet day.
const HISTORY_THROUGH: &str = "2026-10-26";
/// Loans in 100 whose timeline stays as generated (about a third of them fall after the 20th);
/// the rest are moved so their due day is in 1–20. Tuned so that about 1% of loans have an event
/// on the 28th.
const KEPT_PER_100: usize = 18;
/// Days the generated book is made for: up to this many days it is the same whatever `--days`
/// is, so a `--keep-book` run meets the book a `--days 0` run made.
const BOOK_DAYS: u32 = 10;
/// Loans generated and imported per transaction.
const CHUNK_LOANS: usize = 20_000;

/// A count as an `f64`, for rates and shares printed to a few digits (exact up to 2^53).
pub(crate) fn approx_f64(n: impl TryInto<u64>) -> f64 {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    let high = u32::try_from(n >> 32).unwrap_or(u32::MAX);
    let low = u32::try_from(n & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    f64::from(high) * 4_294_967_296.0 + f64::from(low)
}

fn lines<T>(rows: Vec<T>) -> Vec<(usize, T)> {
    rows.into_iter()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

/// Moves the whole timeline of the loans not kept whose due day would be after the 20th back so
/// it falls in 1–20.
fn quiet_the_27th(chunk: &mut PortfolioChunk, first_index: usize) {
    use chrono::Datelike;
    let mut shift_by_loan = std::collections::HashMap::new();
    for (i, loan) in chunk.loans.iter_mut().enumerate() {
        let day = loan.disbursed_on.day();
        if day <= 20 || (first_index + i) % 100 < KEPT_PER_100 {
            continue;
        }
        let target = (day - 21) % 20 + 1;
        let back = i64::from(day - target);
        loan.disbursed_on = add_days(loan.disbursed_on, -back);
        shift_by_loan.insert(loan.external_id.clone(), back);
    }
    for p in &mut chunk.payments {
        if let Some(back) = shift_by_loan.get(&p.loan_external_id) {
            p.paid_on = add_days(p.paid_on, -back);
        }
    }
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn reset_peak_rss() {
    // Linux: writing 5 resets the peak resident set size (VmHWM) to the current one.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// What reaches the lender on a later day.
#[derive(Default)]
struct Later {
    loans: Vec<LoanRow>,
    payments: Vec<PaymentRow>,
}

async fn import_chunk(
    store: &Store,
    policy: &Policy,
    borrowers: Vec<BorrowerRow>,
    loans: Vec<LoanRow>,
    payments: Vec<PaymentRow>,
) -> Result<()> {
    import::import_borrowers(store, &lines(borrowers)).await?;
    import::import_loans(store, policy, &lines(loans)).await?;
    import::import_payments(store, policy, &lines(payments)).await?;
    Ok(())
}

/// Runs the benchmark against a scratch database (it is emptied first).
///
/// With `keep_book` the database must hold the book an earlier `--days 0` run imported (same
/// `loans` and `seed`): nothing is emptied or imported, the portfolio is generated again only for
/// what arrives on the days closed, and the days are timed as usual.
/// The book a benchmark closes days of.
pub struct Book {
    pub loans: usize,
    pub seed: u64,
    /// On the book an earlier `--days 0` run imported (not emptied, not imported again).
    pub keep_book: bool,
    /// Whether the days' events write their messages to the outbox (the default rules: every
    /// event by SMS), or none (the notification rules emptied).
    pub messages: bool,
}

pub async fn run(url: &str, book: &Book, days: u32, policy: &Policy) -> Result<()> {
    let (loans, seed, keep_book) = (book.loans, book.seed, book.keep_book);
    let machine = format!(
        "{} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    say!("bench: {loans} loans, {url}, {machine}");
    // the scratch book's personal data is sealed under a key that ends with the run
    let store = Store::connect(url)
        .await
        .with_context(|| format!("opening {url}"))?
        .with_keys(Some(huifang_app::keys::ephemeral()));
    let history_through: Date = parse_date(HISTORY_THROUGH).context("bench date")?;
    if keep_book {
        let needs = format!(
            "--keep-book needs the book a `--days 0` run left at business date {history_through}"
        );
        store.check_schema().await.context(needs.clone())?;
        let mut tx = store.begin().await?;
        let current = tx.business_date().await?;
        tx.rollback().await?;
        anyhow::ensure!(current == Some(history_through), needs);
        anyhow::ensure!(
            days <= BOOK_DAYS,
            "--keep-book closes at most {BOOK_DAYS} days (a longer run generates another book)"
        );
    } else {
        store.wipe().await?;
        store.migrate().await?;
        let mut tx = store.begin().await?;
        tx.set_business_date(history_through).await?;
        tx.commit().await?;
        import::import_products(&store, &lines(default_products())).await?;
    }
    let last_day = add_days(history_through, i64::from(days.max(1)));
    let from = history_through
        .checked_sub_months(chrono::Months::new(12))
        .unwrap_or(history_through);
    // Generated a month past the last day: a timeline moved back by `quiet_the_27th` still has its
    // payments up to the last day; whatever falls after it is dropped.
    let generated_through = add_days(history_through, i64::from(days.max(BOOK_DAYS)) + 31);
    let portfolio = Portfolio::new(SynthConfig {
        seed,
        loans,
        business_date: generated_through,
        disbursed_from: from,
        products: default_products(),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;

    // History up to the business date is imported now; what happens later waits for its day.
    let mut later: BTreeMap<Date, Later> = BTreeMap::new();
    let started = Instant::now();
    let (mut imported_loans, mut imported_payments, mut first_index) = (0usize, 0usize, 0usize);
    let progress = std::io::stderr().is_terminal();
    for chunk in portfolio.chunks(CHUNK_LOANS) {
        let mut chunk = chunk.map_err(|e| anyhow::anyhow!("{e}"))?;
        quiet_the_27th(&mut chunk, first_index);
        first_index += chunk.loans.len();
        // late postings are value-dated payments like the rest here
        chunk
            .payments
            .extend(chunk.late_payments.drain(..).map(|l| l.row));
        chunk.loans.retain(|l| l.disbursed_on <= last_day);
        chunk.payments.retain(|p| p.paid_on <= last_day);
        let kept: std::collections::HashSet<&str> =
            chunk.loans.iter().map(|l| l.external_id.as_str()).collect();
        chunk
            .payments
            .retain(|p| kept.contains(p.loan_external_id.as_str()));
        let (loans_now, loans_later): (Vec<LoanRow>, Vec<LoanRow>) = chunk
            .loans
            .into_iter()
            .partition(|l| l.disbursed_on <= history_through);
        let (payments_now, payments_later): (Vec<PaymentRow>, Vec<PaymentRow>) = chunk
            .payments
            .into_iter()
            .partition(|p| p.paid_on <= history_through);
        for l in loans_later {
            later.entry(l.disbursed_on).or_default().loans.push(l);
        }
        for p in payments_later {
            later.entry(p.paid_on).or_default().payments.push(p);
        }
        imported_loans += loans_now.len();
        imported_payments += payments_now.len();
        if !keep_book {
            import_chunk(&store, policy, chunk.borrowers, loans_now, payments_now).await?;
        }
        if progress {
            eprint!(
                "\rimported {imported_loans} loans, {imported_payments} payments ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    if progress {
        eprintln!();
    }
    let import_secs = started.elapsed().as_secs_f64();
    if keep_book {
        say!(
            "book kept: {imported_loans} loans, {imported_payments} payments (generated again in {import_secs:.1} s)"
        );
    } else {
        say!(
            "import: {imported_loans} loans, {imported_payments} payments in {import_secs:.1} s ({:.0} loans/s with their payments); peak RSS so far {} MiB",
            approx_f64(imported_loans) / import_secs,
            peak_rss_mib().unwrap_or(0)
        );
    }

    if days == 0 {
        store.close().await;
        return Ok(());
    }
    reset_peak_rss();
    if !book.messages {
        let mut tx = store.begin().await?;
        tx.set_setting(
            "notify_rules",
            r#"{"events":{},"lang":"zh","max_attempts":5,"backoff_seconds":30,"max_backoff_seconds":3600}"#,
        )
        .await?;
        tx.commit().await?;
    }
    say!("each day: close it, then post the loans disbursed and the payments value-dated that day");
    say!(
        "{:<12} {:>9} {:>7} {:>9} {:>9} {:>9} | {:>8} {:>9}",
        "day",
        "loans",
        "share",
        "events",
        "close s",
        "loans/s",
        "payments",
        "post s"
    );
    let mut total = 0.0;
    for k in 1..=i64::from(days) {
        let day = add_days(history_through, k);
        store.settle().await; // as after a quiet night: checkpointed (SQLite's log, or the server)
        let t = Instant::now();
        let reports = close::run_daily(&store, policy, day, |_| {}).await?;
        let secs = t.elapsed().as_secs_f64();
        total += secs;
        let arrivals = later.remove(&day).unwrap_or_default();
        let posted = arrivals.payments.len();
        let t = Instant::now();
        import_chunk(
            &store,
            policy,
            Vec::new(),
            arrivals.loans,
            arrivals.payments,
        )
        .await?;
        let post_secs = t.elapsed().as_secs_f64();
        for r in reports {
            let share = 100.0 * approx_f64(r.loans) / approx_f64(imported_loans.max(1));
            say!(
                "{:<12} {:>9} {:>6.2}% {:>9} {:>9.3} {:>9.0} | {:>8} {:>9.3}",
                r.date.to_string(),
                r.loans,
                share,
                r.events,
                secs,
                approx_f64(r.loans) / secs.max(1e-9),
                posted,
                post_secs
            );
        }
    }
    let mut tx = store.begin().await?;
    let messages: i64 = tx.message_counts().await?.iter().map(|c| c.3).sum();
    tx.rollback().await?;
    say!(
        "closed {days} day(s) in {total:.2} s, {messages} message(s) in the outbox; peak RSS during the days {} MiB",
        peak_rss_mib().unwrap_or(0)
    );
    store.close().await;
    Ok(())
}

//! The use cases of capabilities 1–3 against real databases: imports (all or nothing,
//! idempotent), backdated payments, the daily close (idempotent, catch-up, event-driven, the
//! day's events), loan operations, and an independent recomputation of DPD, bucket,
//! classification and warning level over a synthetic portfolio lived through 120 days.
//!
//! Every test runs on its own SQLite file; the most important ones also run, ignored by
//! default, on a fresh PostgreSQL database of the server named by `HUIFANG_TEST_PG_URL`.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/lived.rs"]
mod lived;
use lived::init;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Months;
use huifang_app::close::{self, DayReport};
use huifang_app::rows::{BorrowerRow, LoanRow, PaymentRow, ProductRow, RowError};
use huifang_app::status::{StatusLine, each_status};
use huifang_app::synth::{Portfolio, SynthConfig, default_products};
use huifang_app::{AppError, import, loans, policy};
use huifang_core::calendar::{add_days, parse_date};
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::loan::LoanOp;
use huifang_core::policy::{Bucket, Classification, Policy, WarningCondition};
use huifang_core::schedule::{self, Installment, Method, ScheduleTerms};
use huifang_core::status::Lifecycle;
use huifang_core::{Date, LoanId, Money, Rate};
use huifang_store::{
    EventRecord, HistoryRecord, LoanRecord, OpRecord, PaymentRecord, ProductRecord, Store,
    WarningRecord,
};
use huifang_testkit::{Dbs, on_both, on_sqlite};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Databases: fresh ones of `huifang_testkit::Dbs` for every scenario

on_both!(
    imports_are_all_or_nothing,
    backdated_payment_reprocesses_the_loan_at_once,
    rerunning_a_closed_date_changes_nothing,
    catch_up_equals_day_by_day,
    a_day_in_many_batches_writes_what_one_batch_writes,
    day_events_of_a_hand_made_loan,
    loan_operations,
    lived_portfolio_matches_an_independent_oracle,
    concurrent_closes_write_each_day_once,
    a_book_kept_before_exact_rounding_is_rederived_by_its_next_close,
    a_policy_set_applies_from_the_next_close_and_a_bad_one_changes_nothing,
);

on_sqlite!(
    reimport_is_idempotent,
    same_external_id_with_other_content_names_the_field,
    close_touches_only_loans_with_events,
    not_initialised_is_reported,
    written_off_loan_keeps_a_consistent_status_row,
    imported_overdue_loan_has_its_warning_recorded,
    backdated_payoff_before_a_recorded_write_off_is_posted,
    warning_level_follows_a_prepaid_installment_passing_its_grace,
    stored_status_equals_a_fresh_evaluation,
);

// ---------------------------------------------------------------------------------------------
// Rows and helpers

const IDS: [&str; 4] = [
    "11010519491231002X",
    "310104200105087510",
    "370202199505033683",
    "440305199006118079",
];
const VINS: [&str; 6] = [
    "LVSN4BKM0R1944736",
    "LSGWRR9U1R0983833",
    "LVSDNRFE2MG623341",
    "LRWHA2AV0S2635679",
    "LRWXLCRG5SP583566",
    "LVS1327D5PX772448",
];

fn d(text: &str) -> Date {
    parse_date(text).expect("date")
}

fn money(text: &str) -> Money {
    Money::parse(text).expect("money")
}

fn product(code: &str, grace_days: u32, markup: &str) -> ProductRow {
    ProductRow {
        code: code.into(),
        name: format!("产品 {code}"),
        grace_days,
        penalty_rate_markup: Rate::parse_in(markup, 0.into(), 10.into()).expect("markup"),
    }
}

fn borrower(external_id: &str, n: usize) -> BorrowerRow {
    BorrowerRow {
        external_id: external_id.into(),
        name: format!("张{n}"),
        id_number: ResidentId::parse(IDS[n % IDS.len()]).expect("id"),
        mobile: Mobile::parse("13800138000").expect("mobile"),
        employer: "上海某科技有限公司".into(),
        monthly_income: money("15000"),
        city: "上海市".into(),
        contacts: Default::default(),
    }
}

fn loan(external_id: &str, borrower: &str, product: &str, disbursed_on: &str) -> LoanRow {
    LoanRow {
        external_id: external_id.into(),
        borrower_external_id: borrower.into(),
        product_code: product.into(),
        principal: money("12000.00"),
        annual_rate: Rate::parse_annual("0.12").expect("rate"),
        term_months: 12,
        method: Method::Annuity,
        disbursed_on: d(disbursed_on),
        vin: Vin::parse(VINS[external_id.len() % VINS.len()]).expect("vin"),
        vehicle_model: "大众 朗逸".into(),
        vehicle_price: money("150000"),
        dealer: "上海大众4S店".into(),
    }
}

fn pay(external_id: &str, loan: &str, paid_on: &str, amount: Money) -> PaymentRow {
    PaymentRow {
        external_id: external_id.into(),
        loan_external_id: loan.into(),
        paid_on: d(paid_on),
        amount,
        channel: "代扣".into(),
    }
}

fn lines<T: Clone>(rows: &[T]) -> Vec<(usize, T)> {
    rows.iter()
        .cloned()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

fn schedule_of(l: &LoanRow) -> Vec<Installment> {
    schedule::build(&ScheduleTerms {
        principal: l.principal,
        annual_rate: l.annual_rate,
        term_months: l.term_months,
        method: l.method,
        start: l.disbursed_on,
    })
    .expect("schedule")
}

fn places(err: &AppError) -> Vec<(usize, String)> {
    match err {
        AppError::Rows(errors) => errors.iter().map(|e| (e.line, e.column.clone())).collect(),
        other => panic!("expected row errors, got {other}"),
    }
}

fn row_errors(err: &AppError) -> &[RowError] {
    match err {
        AppError::Rows(errors) => errors,
        other => panic!("expected row errors, got {other}"),
    }
}

async fn status_lines(store: &Store) -> Vec<StatusLine> {
    let mut out = Vec::new();
    each_status(store, |line| {
        out.push(line);
        Ok(())
    })
    .await
    .expect("status");
    out
}

async fn status_of(store: &Store, external_id: &str) -> StatusLine {
    status_lines(store)
        .await
        .into_iter()
        .find(|l| l.row.external_id == external_id)
        .unwrap_or_else(|| panic!("no loan {external_id}"))
}

async fn business_date(store: &Store) -> Date {
    let mut tx = store.begin().await.unwrap();
    let date = tx.business_date().await.unwrap().expect("business date");
    tx.rollback().await.unwrap();
    date
}

async fn loan_id(store: &Store, external_id: &str) -> LoanId {
    let mut tx = store.begin().await.unwrap();
    let ids = tx
        .loan_ids_by_external_id(&[external_id.to_string()])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    ids[external_id]
}

/// Everything a use case could have written.
#[derive(Debug, PartialEq)]
struct FullState {
    business_date: Date,
    counts: (i64, i64, i64, i64),
    products: Vec<ProductRecord>,
    status: Vec<StatusLine>,
    loans: Vec<LoanRecord>,
    payments: Vec<Vec<PaymentRecord>>,
    ops: Vec<Vec<OpRecord>>,
    events: Vec<Vec<EventRecord>>,
    history: Vec<Vec<HistoryRecord>>,
    warnings: Vec<Vec<WarningRecord>>,
}

async fn full_state(store: &Store) -> FullState {
    let status = status_lines(store).await;
    let ids: Vec<LoanId> = status.iter().map(|l| l.row.id).collect();
    let mut tx = store.begin().await.unwrap();
    let mut state = FullState {
        business_date: tx.business_date().await.unwrap().expect("business date"),
        counts: tx.counts().await.unwrap(),
        products: tx.products().await.unwrap(),
        status,
        loans: tx
            .replay_inputs(&ids)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.loan)
            .collect(),
        payments: Vec::new(),
        ops: Vec::new(),
        events: Vec::new(),
        history: Vec::new(),
        warnings: Vec::new(),
    };
    for id in ids {
        state.payments.push(tx.loan_payments(id).await.unwrap());
        state.ops.push(tx.loan_ops(id).await.unwrap());
        state.events.push(tx.loan_events(id).await.unwrap());
        state.history.push(tx.loan_history(id).await.unwrap());
        state.warnings.push(tx.loan_warnings(id).await.unwrap());
    }
    tx.rollback().await.unwrap();
    state
}

/// A small book on one SQLite or PostgreSQL store, business date 2026-03-20: product P3 (grace 3,
/// markup 0.5); borrowers B1, B2; loan L1 of B1 disbursed 2026-01-15 with one payment on time.
async fn small_book(store: &Store) {
    init(store, d("2026-03-20")).await;
    import::import_products(store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(store, &lines(&[borrower("B1", 0), borrower("B2", 1)]))
        .await
        .unwrap();
    let l1 = loan("L1", "B1", "P3", "2026-01-15");
    let first = schedule_of(&l1)[0].payment;
    import::import_loans(store, &Policy::default(), &lines(&[l1]))
        .await
        .unwrap();
    import::import_payments(
        store,
        &Policy::default(),
        &lines(&[pay("P1", "L1", "2026-02-15", first)]),
    )
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Imports

async fn imports_are_all_or_nothing(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    small_book(&store).await;
    let before = full_state(&store).await;
    assert_eq!(
        (before.counts.0, before.counts.1, before.counts.2),
        (2, 1, 1)
    );

    // Loans: good rows around bad ones; every bad line and column is listed.
    let err = import::import_loans(
        &store,
        &policy,
        &lines(&[
            loan("L2", "B2", "P3", "2026-02-01"),
            loan("L3", "B-nobody", "P3", "2026-02-01"),
            loan("L4", "B2", "P3", "2026-03-21"),
            loan("L5", "B1", "P3", "2026-03-20"),
            loan("L6", "B-ghost", "NOPE", "2026-02-01"),
        ]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        places(&err),
        [
            (3, "borrower_external_id".to_string()),
            (4, "disbursed_on".to_string()),
            (6, "borrower_external_id".to_string()),
            (6, "product_code".to_string()),
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("line 3, column borrower_external_id"),
        "{text}"
    );
    assert!(text.contains("B-nobody"), "{text}");
    assert!(
        text.contains("2026-03-21 is after the business date 2026-03-20"),
        "{text}"
    );
    assert_eq!(
        full_state(&store).await,
        before,
        "nothing of the loans file was written"
    );

    // Payments: after the business date, before disbursement, unknown loan.
    let err = import::import_payments(
        &store,
        &policy,
        &lines(&[
            pay("P2", "L1", "2026-03-15", money("100")),
            pay("P3", "L1", "2026-03-21", money("100")),
            pay("P4", "L1", "2026-01-14", money("100")),
            pay("P5", "L-none", "2026-03-01", money("100")),
            pay("P6", "L1", "2026-01-15", money("1")),
        ]),
    )
    .await
    .unwrap_err();
    assert_eq!(
        places(&err),
        [
            (3, "paid_on".to_string()),
            (4, "paid_on".to_string()),
            (5, "loan_external_id".to_string()),
        ]
    );
    let reasons: Vec<&str> = row_errors(&err).iter().map(|e| e.reason.as_str()).collect();
    assert!(
        reasons[0].contains("after the business date"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("before the loan's disbursement"),
        "{reasons:?}"
    );
    assert_eq!(
        full_state(&store).await,
        before,
        "nothing of the payments file was written"
    );

    // Borrowers: a new one next to a conflicting one: neither is written.
    let mut changed = borrower("B1", 0);
    changed.city = "北京市".into();
    let err = import::import_borrowers(&store, &lines(&[borrower("B9", 2), changed]))
        .await
        .unwrap_err();
    assert_eq!(places(&err), [(3, "city".to_string())]);
    assert_eq!(full_state(&store).await, before);

    // A good file afterwards goes through whole.
    let report = import::import_loans(
        &store,
        &policy,
        &lines(&[
            loan("L2", "B2", "P3", "2026-02-01"),
            loan("L5", "B1", "P3", "2026-03-20"),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(report.inserted, 2);
    let counts = full_state(&store).await.counts;
    assert_eq!((counts.0, counts.1, counts.2), (2, 3, 1));
}

async fn reimport_is_idempotent(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    init(&store, d("2026-03-20")).await;
    let products = [product("P3", 3, "0.5"), product("P0", 0, "0")];
    let borrowers = [borrower("B1", 0), borrower("B2", 1)];
    let loans = [
        loan("L1", "B1", "P3", "2026-01-15"),
        loan("L2", "B2", "P0", "2026-02-01"),
    ];
    let first = schedule_of(&loans[0])[0].payment;
    let payments = [
        pay("P1", "L1", "2026-02-15", first),
        pay("P2", "L2", "2026-03-01", money("500.55")),
    ];
    let r = import::import_products(&store, &lines(&products))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged), (2, 0));
    let r = import::import_borrowers(&store, &lines(&borrowers))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged), (2, 0));
    let r = import::import_loans(&store, &policy, &lines(&loans))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged), (2, 0));
    let r = import::import_payments(&store, &policy, &lines(&payments))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged, r.loans_reprocessed), (2, 0, 2));
    let before = full_state(&store).await;

    let r = import::import_products(&store, &lines(&products))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged), (0, 2));
    let r = import::import_borrowers(&store, &lines(&borrowers))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged), (0, 2));
    let r = import::import_loans(&store, &policy, &lines(&loans))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged), (0, 2));
    let r = import::import_payments(&store, &policy, &lines(&payments))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.unchanged, r.loans_reprocessed), (0, 2, 0));
    assert_eq!(
        full_state(&store).await,
        before,
        "a re-import changes nothing"
    );

    // A file mixing known rows with a new one inserts only the new one.
    let r = import::import_payments(
        &store,
        &policy,
        &lines(&[
            payments[0].clone(),
            pay("P3", "L2", "2026-03-20", money("1")),
        ]),
    )
    .await
    .unwrap();
    assert_eq!((r.inserted, r.unchanged, r.loans_reprocessed), (1, 1, 1));
}

async fn same_external_id_with_other_content_names_the_field(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    small_book(&store).await;
    let before = full_state(&store).await;

    let err = import::import_products(&store, &lines(&[product("P3", 5, "0.5")]))
        .await
        .unwrap_err();
    assert_eq!(places(&err), [(2, "grace_days".to_string())]);
    assert!(
        err.to_string()
            .contains("product P3 was already imported with different grace_days")
    );

    let mut b = borrower("B2", 1);
    b.mobile = Mobile::parse("19912345678").unwrap();
    let err = import::import_borrowers(&store, &lines(&[borrower("B1", 0), b]))
        .await
        .unwrap_err();
    assert_eq!(places(&err), [(3, "mobile".to_string())]);
    assert!(err.to_string().contains("different mobile"), "{err}");

    let mut l = loan("L1", "B1", "P3", "2026-01-15");
    l.principal = money("12000.01");
    let err = import::import_loans(&store, &policy, &lines(&[l.clone()]))
        .await
        .unwrap_err();
    assert_eq!(places(&err), [(2, "principal".to_string())]);
    assert!(
        err.to_string()
            .contains("loan L1 was already imported with different principal")
    );
    // Several fields differ: the first is the column, all are named.
    l.dealer = "another dealer".into();
    l.method = Method::Flat;
    let err = import::import_loans(&store, &policy, &lines(&[l]))
        .await
        .unwrap_err();
    assert_eq!(places(&err), [(2, "principal".to_string())]);
    let text = err.to_string();
    assert!(
        text.contains("principal, repayment_method, dealer"),
        "every differing field is named: {text}"
    );

    let err = import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P1", "L1", "2026-02-15", money("1.00"))]),
    )
    .await
    .unwrap_err();
    assert_eq!(places(&err), [(2, "amount".to_string())]);
    assert!(err.to_string().contains("different amount"), "{err}");
    let mut p = pay("P1", "L1", "2026-02-14", money("1.00"));
    p.channel = "现金".into();
    let err = import::import_payments(&store, &policy, &lines(&[p]))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("paid_on, amount, channel"),
        "{err}"
    );

    assert_eq!(full_state(&store).await, before);
}

async fn not_initialised_is_reported(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    store.migrate().await.unwrap();
    let err = import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotInitialised), "{err}");
    assert!(err.to_string().contains("huifang init"));
    let err = close::run_daily(&store, &Policy::default(), d("2026-01-01"), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotInitialised), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Backdated payments

/// The default policy with its repayment rules only, for the tests that follow repayment (the
/// follow-up signals' rules are covered by the warning tests).
fn repayment_policy() -> Policy {
    let mut policy = Policy::default();
    policy.warning_rules.retain(|r| {
        matches!(
            r.condition,
            WarningCondition::ConsecutiveLate { .. } | WarningCondition::DpdAtLeast { .. }
        )
    });
    policy
}

async fn backdated_payment_reprocesses_the_loan_at_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = repayment_policy();
    init(&store, d("2026-01-15")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    let l1 = loan("L1", "B1", "P3", "2026-01-15");
    let sched = schedule_of(&l1);
    import::import_loans(&store, &policy, &lines(&[l1]))
        .await
        .unwrap();
    close::run_daily(&store, &policy, d("2026-04-15"), |_| {})
        .await
        .unwrap();

    let st = status_of(&store, "L1").await;
    assert_eq!(st.business_date, d("2026-04-15"));
    assert_eq!(st.dpd, 59, "oldest unpaid 2026-02-15");
    assert_eq!(st.row.bucket, Bucket(2));
    assert_eq!(st.row.classification, Classification::SpecialMention);
    assert_eq!(st.row.overdue_installments, 2);
    assert_eq!(st.row.warning_level, 2);
    let id = loan_id(&store, "L1").await;
    let (history_before, events_before) = {
        let mut tx = store.begin().await.unwrap();
        let w = tx.loan_warnings(id).await.unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].level, w[0].rule.as_str()), (2, "dpd_31"));
        assert_eq!(w[0].cleared_on, None);
        let h = tx.loan_history(id).await.unwrap();
        let e = tx.loan_events(id).await.unwrap();
        tx.rollback().await.unwrap();
        (h, e)
    };

    // The first three installments, paid (as it turns out) the day before the first due date.
    let amount: Money = sched[..3].iter().map(|i| i.payment).sum();
    let report = import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P-back", "L1", "2026-02-14", amount)]),
    )
    .await
    .unwrap();
    assert_eq!((report.inserted, report.loans_reprocessed), (1, 1));

    // Right at once, without a close.
    assert_eq!(business_date(&store).await, d("2026-04-15"));
    let st = status_of(&store, "L1").await;
    assert_eq!(st.dpd, 0);
    assert_eq!(st.row.bucket, Bucket(0));
    assert_eq!(st.row.classification, Classification::Normal);
    assert_eq!(st.row.overdue_installments, 0);
    assert_eq!(st.row.warning_level, 0);
    let principal_paid: Money = sched[..3].iter().map(|i| i.principal).sum();
    assert_eq!(
        st.row.outstanding_principal,
        money("12000.00") - principal_paid
    );

    let mut tx = store.begin().await.unwrap();
    let history = tx.loan_history(id).await.unwrap();
    assert_eq!(history.len(), history_before.len() + 1);
    let last = history.last().unwrap();
    assert_eq!(last.cause, "payment");
    assert_eq!(last.business_date, d("2026-04-15"));
    assert_eq!(
        (
            last.summary.bucket,
            last.summary.classification,
            last.summary.warning_level
        ),
        (Bucket(0), Classification::Normal, 0)
    );
    let warnings = tx.loan_warnings(id).await.unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].cleared_on,
        Some(d("2026-04-15")),
        "warning cleared"
    );
    let events = tx.loan_events(id).await.unwrap();
    let new: Vec<(String, Value)> = events[events_before.len()..]
        .iter()
        .map(|e| {
            assert_eq!(e.business_date, d("2026-04-15"));
            (e.kind.clone(), serde_json::from_str(&e.details).unwrap())
        })
        .collect();
    assert_eq!(
        new,
        vec![
            (
                "bucket_changed".to_string(),
                json!({"from": "M2", "to": "M0"})
            ),
            (
                "classification_changed".to_string(),
                json!({"from": "special_mention", "to": "normal"})
            ),
            (
                "warning_cleared".to_string(),
                json!({"from": "2", "to": "0"})
            ),
        ]
    );
    let payments = tx.loan_payments(id).await.unwrap();
    assert_eq!(
        payments[0].received_on,
        d("2026-04-15"),
        "posted on the business date"
    );
    assert_eq!(payments[0].paid_on, d("2026-02-14"));
    tx.rollback().await.unwrap();

    // The view allocates it to the three oldest installments, none of them late.
    let view = loans::view(&store, &policy, "L1").await.unwrap();
    assert_eq!(view.status.dpd, 0);
    let allocated: Vec<u32> = view.allocations.iter().map(|a| a.installment).collect();
    assert_eq!(allocated, [1, 2, 3]);
    assert!(view.allocations.iter().all(|a| a.penalty.is_zero()));
    assert!(
        view.installments[..3]
            .iter()
            .all(|i| i.paid_off_on == Some(d("2026-02-14")))
    );
}

// ---------------------------------------------------------------------------------------------
// The daily close

/// Two fresh stores holding the same synthetic book (see `synthetic_book`), to compare two ways
/// of closing the same days.
async fn twin_books(dbs: &mut Dbs, on: Date, loans: usize, seed: u64) -> (Store, Store) {
    let (a, b) = (dbs.fresh().await, dbs.fresh().await);
    synthetic_book(&a, on, loans, seed).await;
    synthetic_book(&b, on, loans, seed).await;
    (a, b)
}

/// A synthetic book as of `on` (payments up to `on`), imported at once.
async fn synthetic_book(store: &Store, on: Date, loans: usize, seed: u64) {
    let policy = Policy::default();
    init(store, on).await;
    let products = default_products();
    import::import_products(store, &lines(&products))
        .await
        .unwrap();
    let all = Portfolio::new(SynthConfig {
        seed,
        loans,
        business_date: on,
        disbursed_from: on.checked_sub_months(Months::new(24)).unwrap(),
        products,
    })
    .unwrap()
    .generate()
    .unwrap();
    import::import_borrowers(store, &lines(&all.borrowers))
        .await
        .unwrap();
    import::import_loans(store, &policy, &lines(&all.loans))
        .await
        .unwrap();
    let mut payments = all.payments.clone();
    payments.extend(all.late_payments.iter().map(|l| l.row.clone()));
    import::import_payments(store, &policy, &lines(&payments))
        .await
        .unwrap();
}

async fn rerunning_a_closed_date_changes_nothing(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    synthetic_book(&store, d("2026-03-01"), 80, 11).await;
    let reports = close::run_daily(&store, &policy, d("2026-04-15"), |_| {})
        .await
        .unwrap();
    assert_eq!(reports.len(), 45);
    assert!(reports.iter().map(|r| r.events).sum::<u64>() > 0);
    let before = full_state(&store).await;
    assert!(before.events.iter().map(Vec::len).sum::<usize>() > 0);

    for through in ["2026-04-15", "2026-04-14", "2026-03-02", "2026-01-01"] {
        let mut seen = 0;
        let again = close::run_daily(&store, &policy, d(through), |_| seen += 1)
            .await
            .unwrap();
        assert!(again.is_empty(), "through {through}: nothing to close");
        assert_eq!(seen, 0);
        assert_eq!(full_state(&store).await, before, "through {through}");
    }
    let mut tx = store.begin().await.unwrap();
    for day in 1..=45 {
        assert!(
            tx.is_day_closed(add_days(d("2026-03-01"), day))
                .await
                .unwrap()
        );
    }
    assert!(!tx.is_day_closed(d("2026-03-01")).await.unwrap());
    assert!(!tx.is_day_closed(d("2026-04-16")).await.unwrap());
    tx.rollback().await.unwrap();
}

async fn catch_up_equals_day_by_day(dbs: &mut Dbs) {
    let policy = Policy::default();
    let start = d("2026-05-01");
    let end = add_days(start, 60);
    let (daily, caught_up) = twin_books(dbs, start, 120, 7).await;
    assert_eq!(full_state(&daily).await, full_state(&caught_up).await);

    let mut one_by_one: Vec<DayReport> = Vec::new();
    for day in 1..=60 {
        let r = close::run_daily(&daily, &policy, add_days(start, day), |_| {})
            .await
            .unwrap();
        assert_eq!(r.len(), 1);
        one_by_one.extend(r);
    }
    let mut called = Vec::new();
    let at_once = close::run_daily(&caught_up, &policy, end, |r| called.push(r.date))
        .await
        .unwrap();
    assert_eq!(at_once.len(), 60);
    assert_eq!(called, at_once.iter().map(|r| r.date).collect::<Vec<_>>());
    assert_eq!(at_once, one_by_one, "the same day reports");
    let a = full_state(&daily).await;
    let b = full_state(&caught_up).await;
    assert_eq!(a.business_date, end);
    assert!(
        a.events.iter().map(Vec::len).sum::<usize>() > 100,
        "a lively book"
    );
    assert!(a.history.iter().map(Vec::len).sum::<usize>() > a.status.len());
    assert_eq!(
        a, b,
        "catch-up and day-by-day give the same status, events and history"
    );
}

/// The close reads and replays the next batch of a day on a second connection while it writes the
/// current one: a day cut into batches of 3 loans writes exactly what one batch of the whole day
/// writes (status, events, history, warnings and follow-up tasks).
async fn a_day_in_many_batches_writes_what_one_batch_writes(dbs: &mut Dbs) {
    let policy = Policy::default();
    let start = d("2026-05-01");
    let end = add_days(start, 45);
    let (small, whole) = twin_books(dbs, start, 120, 7).await;
    let in_small = close::run_daily_in_batches(&small, &policy, end, 3, |_| {})
        .await
        .unwrap();
    let in_one = close::run_daily_in_batches(&whole, &policy, end, 100_000, |_| {})
        .await
        .unwrap();
    assert_eq!(in_small.len(), 45);
    assert!(
        in_small.iter().filter(|r| r.loans > 2 * 3).count() > 30,
        "many days of several batches: {in_small:?}"
    );
    assert_eq!(in_small, in_one, "the same day reports");
    assert_eq!(full_state(&small).await, full_state(&whole).await);
    let (a, b) = (all_tasks(&small).await, all_tasks(&whole).await);
    assert!(a.len() > 100, "follow-up tasks were planned: {}", a.len());
    assert_eq!(a, b, "the same follow-up tasks");
}

async fn all_tasks(store: &Store) -> Vec<huifang_store::TaskRecord> {
    let mut tx = store.begin().await.unwrap();
    let tasks = tx.followup_tasks(None, None, false).await.unwrap();
    tx.rollback().await.unwrap();
    tasks
}

/// The event list of a loan as (date, kind, details).
async fn events_of(store: &Store, external_id: &str) -> Vec<(Date, String, Value)> {
    let id = loan_id(store, external_id).await;
    let mut tx = store.begin().await.unwrap();
    let events = tx.loan_events(id).await.unwrap();
    tx.rollback().await.unwrap();
    events
        .into_iter()
        .map(|e| {
            (
                e.business_date,
                e.kind,
                serde_json::from_str(&e.details).expect("details are JSON"),
            )
        })
        .collect()
}

async fn day_events_of_a_hand_made_loan(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = repayment_policy();
    init(&store, d("2026-01-15")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    let l1 = loan("L1", "B1", "P3", "2026-01-15");
    let s = schedule_of(&l1);
    let (pay1, pay2) = (s[0].payment.to_string(), s[1].payment.to_string());
    import::import_loans(&store, &policy, &lines(&[l1]))
        .await
        .unwrap();
    let reports = close::run_daily(&store, &policy, d("2026-03-18"), |_| {})
        .await
        .unwrap();
    let with_events: Vec<(Date, u64)> = reports
        .iter()
        .filter(|r| r.events > 0)
        .map(|r| (r.date, r.events))
        .collect();
    assert_eq!(
        with_events,
        [
            (d("2026-02-12"), 1),
            (d("2026-02-15"), 1),
            (d("2026-02-16"), 3),
            (d("2026-03-12"), 1),
            (d("2026-03-15"), 1),
            (d("2026-03-16"), 1),
            (d("2026-03-18"), 2),
        ]
    );
    let ev = |date: &str, kind: &str, details: Value| (d(date), kind.to_string(), details);
    let mut want = vec![
        ev(
            "2026-02-12",
            "reminder_due",
            json!({"installment": "1", "due_date": "2026-02-15", "days_before": "3", "amount": pay1}),
        ),
        ev(
            "2026-02-15",
            "reminder_due",
            json!({"installment": "1", "due_date": "2026-02-15", "days_before": "0", "amount": pay1}),
        ),
        ev(
            "2026-02-16",
            "installment_overdue",
            json!({"installment": "1", "due_date": "2026-02-15", "amount": pay1}),
        ),
        ev(
            "2026-02-16",
            "bucket_changed",
            json!({"from": "M0", "to": "M1"}),
        ),
        ev(
            "2026-02-16",
            "classification_changed",
            json!({"from": "normal", "to": "special_mention"}),
        ),
        ev(
            "2026-03-12",
            "reminder_due",
            json!({"installment": "2", "due_date": "2026-03-15", "days_before": "3", "amount": pay2}),
        ),
        ev(
            "2026-03-15",
            "reminder_due",
            json!({"installment": "2", "due_date": "2026-03-15", "days_before": "0", "amount": pay2}),
        ),
        ev(
            "2026-03-16",
            "installment_overdue",
            json!({"installment": "2", "due_date": "2026-03-15", "amount": pay2}),
        ),
        ev(
            "2026-03-18",
            "bucket_changed",
            json!({"from": "M1", "to": "M2"}),
        ),
        ev(
            "2026-03-18",
            "warning_raised",
            json!({"from": "0", "level": "2", "rule": "dpd_31", "facts": {"dpd": "31", "threshold": "31"}}),
        ),
    ];
    assert_eq!(events_of(&store, "L1").await, want);
    let st = status_of(&store, "L1").await;
    assert_eq!(
        (st.dpd, st.row.bucket, st.row.warning_level),
        (31, Bucket(2), 2)
    );
    let id = loan_id(&store, "L1").await;
    {
        let mut tx = store.begin().await.unwrap();
        let w = tx.loan_warnings(id).await.unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].level, w[0].rule.as_str(), w[0].raised_on),
            (2, "dpd_31", d("2026-03-18"))
        );
        let facts: Value = serde_json::from_str(&w[0].facts).unwrap();
        assert_eq!(
            facts,
            json!({
                "dpd": "31",
                "threshold": "31",
                "rule_version": "1",
                "text_zh": "逾期 31 天（阈值 31 天）",
                "text_en": "31 days past due (threshold 31)"
            })
        );
        let by_day = tx.events_on(d("2026-02-16"), None).await.unwrap();
        assert_eq!(by_day.len(), 3);
        let overdue = tx
            .events_on(d("2026-02-16"), Some("installment_overdue"))
            .await
            .unwrap();
        assert_eq!(overdue.len(), 1);
        tx.rollback().await.unwrap();
    }

    // Everything due (with penalty on installment 1) paid on the business date.
    let view = loans::view(&store, &policy, "L1").await.unwrap();
    assert!(
        view.status.penalty_due.is_positive(),
        "installment 1 is past its grace days"
    );
    let due = view.status.overdue_amount;
    assert_eq!(
        due,
        s[0].payment + s[1].payment + view.status.penalty_due,
        "due now: two installments and the penalty of the first"
    );
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P1", "L1", "2026-03-18", due)]),
    )
    .await
    .unwrap();
    want.extend([
        ev(
            "2026-03-18",
            "bucket_changed",
            json!({"from": "M2", "to": "M0"}),
        ),
        ev(
            "2026-03-18",
            "classification_changed",
            json!({"from": "special_mention", "to": "normal"}),
        ),
        ev(
            "2026-03-18",
            "warning_cleared",
            json!({"from": "2", "to": "0"}),
        ),
    ]);
    assert_eq!(events_of(&store, "L1").await, want);
    let reports = close::run_daily(&store, &policy, d("2026-03-20"), |_| {})
        .await
        .unwrap();
    assert_eq!(reports.iter().map(|r| r.events).sum::<u64>(), 0);
    assert_eq!(events_of(&store, "L1").await, want);

    let mut tx = store.begin().await.unwrap();
    let w = tx.loan_warnings(id).await.unwrap();
    assert_eq!(w[0].cleared_on, Some(d("2026-03-18")));
    let history: Vec<(Date, Bucket, Classification, u8, String)> = tx
        .loan_history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| {
            (
                h.business_date,
                h.summary.bucket,
                h.summary.classification,
                h.summary.warning_level,
                h.cause,
            )
        })
        .collect();
    tx.rollback().await.unwrap();
    assert_eq!(
        history,
        [
            (
                d("2026-01-15"),
                Bucket(0),
                Classification::Normal,
                0,
                "import".into()
            ),
            (
                d("2026-02-16"),
                Bucket(1),
                Classification::SpecialMention,
                0,
                "close".into()
            ),
            (
                d("2026-03-18"),
                Bucket(2),
                Classification::SpecialMention,
                2,
                "close".into()
            ),
            (
                d("2026-03-18"),
                Bucket(0),
                Classification::Normal,
                0,
                "payment".into()
            ),
        ]
    );
}

async fn stored_next_events(store: &Store) -> Vec<Option<Date>> {
    let ids: Vec<LoanId> = status_lines(store).await.iter().map(|l| l.row.id).collect();
    let mut tx = store.begin().await.unwrap();
    let inputs = tx.replay_inputs(&ids).await.unwrap();
    tx.rollback().await.unwrap();
    inputs
        .iter()
        .map(|r| r.loan.loan.evaluation.next_event_on)
        .collect()
}

async fn close_touches_only_loans_with_events(dbs: &mut Dbs) {
    let policy = Policy::default();
    let store = dbs.fresh().await;
    synthetic_book(&store, d("2026-02-01"), 150, 3).await;
    // The import leaves every next event after the business date, as each close does below: the
    // close selects the loans due on a day from the business date on.
    assert!(
        stored_next_events(&store)
            .await
            .iter()
            .all(|n| n.is_none_or(|n| n > d("2026-02-01")))
    );
    let mut touched_days = 0;
    for day in 1..=45 {
        let date = add_days(d("2026-02-01"), day);
        let due = stored_next_events(&store)
            .await
            .iter()
            .filter(|n| n.is_some_and(|n| n <= date))
            .count() as u64;
        let reports = close::run_daily(&store, &policy, date, |_| {})
            .await
            .unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(
            reports[0].loans, due,
            "{date}: loans replayed = loans with an event due"
        );
        let mut tx = store.begin().await.unwrap();
        let events = tx.events_on(date, None).await.unwrap().len() as u64;
        tx.rollback().await.unwrap();
        assert_eq!(reports[0].events, events, "{date}");
        assert!(reports[0].loans < 150, "{date}: never the whole book");
        touched_days += u64::from(reports[0].loans > 0);
        // After the close nothing is left due on or before the day.
        assert!(
            stored_next_events(&store)
                .await
                .iter()
                .all(|n| n.is_none_or(|n| n > date)),
            "{date}"
        );
    }
    assert!(touched_days > 20);

    // A book where nothing falls due: the close touches no loan.
    let quiet = dbs.fresh().await;
    init(&quiet, d("2026-03-01")).await;
    import::import_products(&quiet, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&quiet, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    let fresh: Vec<LoanRow> = (0..20)
        .map(|i| loan(&format!("L{i:02}"), "B1", "P3", "2026-03-01"))
        .collect();
    import::import_loans(&quiet, &policy, &lines(&fresh))
        .await
        .unwrap();
    let reports = close::run_daily(&quiet, &policy, d("2026-03-25"), |_| {})
        .await
        .unwrap();
    assert_eq!(reports.len(), 24);
    for r in &reports {
        assert_eq!(
            (r.loans, r.events, r.status_changes),
            (0, 0, 0),
            "{}",
            r.date
        );
    }
    // The first reminder falls on 2026-03-29 (3 days before 2026-04-01): every loan then.
    let reports = close::run_daily(&quiet, &policy, d("2026-03-29"), |_| {})
        .await
        .unwrap();
    let loans_per_day: Vec<u64> = reports.iter().map(|r| r.loans).collect();
    assert_eq!(loans_per_day, [0, 0, 0, 20]);
    assert_eq!(reports[3].events, 20);
}

// ---------------------------------------------------------------------------------------------
// Loan operations

async fn loan_operations(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    init(&store, d("2026-01-15")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    let rows: Vec<LoanRow> = ["LD", "LA", "LR", "LW"]
        .iter()
        .map(|id| loan(id, "B1", "P3", "2026-01-15"))
        .collect();
    let s = schedule_of(&rows[0]);
    import::import_loans(&store, &policy, &lines(&rows))
        .await
        .unwrap();
    close::run_daily(&store, &policy, d("2026-02-15"), |_| {})
        .await
        .unwrap();
    // LA pays installment 1 on its due date; the others do not.
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("PA1", "LA", "2026-02-15", s[0].payment)]),
    )
    .await
    .unwrap();
    close::run_daily(&store, &policy, d("2026-03-01"), |_| {})
        .await
        .unwrap();
    for id in ["LD", "LR", "LW"] {
        let st = status_of(&store, id).await;
        assert_eq!((st.dpd, st.row.bucket), (14, Bucket(1)), "{id}");
    }
    assert_eq!(status_of(&store, "LA").await.dpd, 0);

    // An empty reason (or decider) is refused and writes nothing.
    let before = full_state(&store).await;
    for (reason, by, field) in [
        ("", "王", "reason"),
        ("   ", "王", "reason"),
        ("why", " ", "decided_by"),
    ] {
        let err = loans::operate(
            &store,
            &policy,
            "LR",
            LoanOp::Defer { months: 1 },
            None,
            reason,
            by,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, AppError::Field { field: f, .. } if f == field),
            "{err}"
        );
    }
    // So is an effective date after the business date, and an unknown loan.
    let err = loans::operate(
        &store,
        &policy,
        "LR",
        LoanOp::WriteOff,
        Some(d("2026-03-02")),
        "r",
        "b",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::Field { field: "on", .. }), "{err}");
    let err = loans::operate(&store, &policy, "L-none", LoanOp::WriteOff, None, "r", "b")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err}");
    // Operations the loan cannot take are refused by the replay before anything is written.
    let err = loans::operate(
        &store,
        &policy,
        "LR",
        LoanOp::Defer { months: 0 },
        None,
        "r",
        "b",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::Loan { .. }), "{err}");
    let err = loans::operate(
        &store,
        &policy,
        "LR",
        LoanOp::WriteOff,
        Some(d("2026-01-14")),
        "before disbursement",
        "b",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::Loan { .. }), "{err}");
    assert_eq!(
        full_state(&store).await,
        before,
        "refused operations write nothing"
    );

    // Deferral cures the overdue loan.
    let st = loans::operate(
        &store,
        &policy,
        "LD",
        LoanOp::Defer { months: 2 },
        None,
        "收入暂时下降，协商延期 / temporary hardship",
        "风控专员 李",
    )
    .await
    .unwrap();
    assert_eq!(
        (st.dpd, st.bucket, st.classification),
        (0, Bucket(0), Classification::Normal)
    );
    let line = status_of(&store, "LD").await;
    assert_eq!(
        (line.dpd, line.row.bucket, line.row.overdue_installments),
        (0, Bucket(0), 0)
    );
    let view = loans::view(&store, &policy, "LD").await.unwrap();
    assert_eq!(view.installments[0].due_date, d("2026-04-15"));
    assert_eq!(view.ops.len(), 1);
    assert_eq!(
        view.ops[0].reason,
        "收入暂时下降，协商延期 / temporary hardship"
    );
    assert_eq!(view.ops[0].decided_by, "风控专员 李");
    assert_eq!(view.ops[0].recorded_on, d("2026-03-01"));
    assert_eq!(view.ops[0].op.op, LoanOp::Defer { months: 2 });
    let last = view.history.last().unwrap();
    assert_eq!(
        (last.cause.as_str(), last.summary.bucket),
        ("operation", Bucket(0))
    );

    // Acceleration: the whole balance falls due now.
    let before_la = status_of(&store, "LA").await;
    let st = loans::operate(
        &store,
        &policy,
        "LA",
        LoanOp::Acceleration,
        None,
        "车辆被转卖",
        "组长",
    )
    .await
    .unwrap();
    assert_eq!(
        st.outstanding_principal,
        before_la.row.outstanding_principal
    );
    assert_eq!(
        st.overdue_amount,
        st.outstanding_principal + s[1].interest,
        "all principal and the current period's interest are due now"
    );
    let view = loans::view(&store, &policy, "LA").await.unwrap();
    assert!(
        view.installments
            .iter()
            .filter(|i| i.paid_off_on.is_none())
            .all(|i| i.due_date <= d("2026-03-01")),
        "nothing open falls due later"
    );
    close::run_daily(&store, &policy, d("2026-03-02"), |_| {})
        .await
        .unwrap();
    let line = status_of(&store, "LA").await;
    assert_eq!(
        (line.dpd, line.row.bucket, line.row.overdue_installments),
        (1, Bucket(1), 1)
    );

    // Write-off.
    let st = loans::operate(
        &store,
        &policy,
        "LW",
        LoanOp::WriteOff,
        None,
        "无法收回",
        "委员会",
    )
    .await
    .unwrap();
    assert_eq!(st.lifecycle, Lifecycle::WrittenOff);
    assert_eq!(st.classification, Classification::Loss);
    let line = status_of(&store, "LW").await;
    assert_eq!(line.row.lifecycle, Lifecycle::WrittenOff);
    assert_eq!(line.row.classification, Classification::Loss);
    let kinds: Vec<String> = events_of(&store, "LW")
        .await
        .into_iter()
        .filter(|e| e.0 == d("2026-03-02"))
        .map(|e| e.1)
        .collect();
    assert!(kinds.contains(&"written_off".to_string()), "{kinds:?}");
    assert!(
        kinds.contains(&"classification_changed".to_string()),
        "{kinds:?}"
    );
    let events_after = events_of(&store, "LW").await.len();
    close::run_daily(&store, &policy, d("2026-04-30"), |_| {})
        .await
        .unwrap();
    let line = status_of(&store, "LW").await;
    assert_eq!(
        (line.row.lifecycle, line.row.classification),
        (Lifecycle::WrittenOff, Classification::Loss)
    );
    assert_eq!(
        events_of(&store, "LW").await.len(),
        events_after,
        "a written-off loan is quiet"
    );
    // The refused operations never reached the loan.
    let view = loans::view(&store, &policy, "LR").await.unwrap();
    assert!(view.ops.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The independent oracle

/// What DOMAIN.md says a loan's status is, computed from its schedule and the total paid (exact
/// when the product charges no penalty).
#[derive(Debug, PartialEq)]
struct Oracle {
    dpd: u32,
    bucket: String,
    classification: &'static str,
    overdue_installments: u32,
    outstanding_principal: Money,
    lifecycle: &'static str,
}

fn oracle(schedule: &[Installment], paid: Money, on: Date) -> Oracle {
    let mut cumulative = Money::ZERO;
    let mut first_unpaid_due = None;
    let mut overdue_installments = 0;
    let mut left = paid;
    let mut outstanding = Money::ZERO;
    for inst in schedule {
        cumulative += inst.payment;
        if paid < cumulative && inst.due_date < on {
            first_unpaid_due.get_or_insert(inst.due_date);
            overdue_installments += 1;
        }
        let interest = inst.interest.min(left);
        left -= interest;
        let principal = inst.principal.min(left);
        left -= principal;
        outstanding += inst.principal - principal;
    }
    let dpd = first_unpaid_due.map_or(0, |due: Date| (on - due).num_days() as u32);
    let bucket = match dpd {
        0 => "M0".to_string(),
        1..=180 => format!("M{}", dpd.div_ceil(30)),
        _ => "M7+".to_string(),
    };
    let classification = match dpd {
        0 => "normal",
        1..=90 => "special_mention",
        91..=270 => "substandard",
        271..=360 => "doubtful",
        _ => "loss",
    };
    Oracle {
        dpd,
        bucket,
        classification,
        overdue_installments,
        outstanding_principal: outstanding,
        lifecycle: if paid >= cumulative {
            "paid_off"
        } else {
            "active"
        },
    }
}

#[derive(Default)]
struct Day {
    borrowers: Vec<BorrowerRow>,
    loans: Vec<LoanRow>,
    payments: Vec<PaymentRow>,
}

async fn lived_portfolio_matches_an_independent_oracle(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = repayment_policy();
    let last = d("2026-06-30");
    let start = add_days(last, -120);
    let all = lived::book_without_penalty(&store, start, last, 20_260_630).await;
    assert!(
        !all.late_payments.is_empty(),
        "the book has backdated payments"
    );

    // Everything by the business day on which it reaches the lender.
    let day_of = |date: Date| date.max(start);
    let days = all.by_arrival_day(start);
    // (known on, loan, amount) of every payment.
    let mut known: Vec<(Date, &str, Money)> = all
        .payments
        .iter()
        .map(|p| (day_of(p.paid_on), p.loan_external_id.as_str(), p.amount))
        .collect();
    for late in &all.late_payments {
        assert!(late.arrives_on > late.row.paid_on);
        known.push((
            day_of(late.arrives_on),
            late.row.loan_external_id.as_str(),
            late.row.amount,
        ));
    }
    let schedules: HashMap<&str, (Date, Vec<Installment>)> = all
        .loans
        .iter()
        .map(|l| (l.external_id.as_str(), (l.disbursed_on, schedule_of(l))))
        .collect();

    let mut seen_dpd = HashSet::new();
    let mut date = start;
    loop {
        if date > start {
            let reports = close::run_daily(&store, &policy, date, |_| {})
                .await
                .unwrap();
            assert_eq!(reports.len(), 1);
        }
        if let Some(day) = days.get(&date) {
            import::import_borrowers(&store, &lines(&day.borrowers))
                .await
                .unwrap();
            import::import_loans(&store, &policy, &lines(&day.loans))
                .await
                .unwrap();
            import::import_payments(&store, &policy, &lines(&day.payments))
                .await
                .unwrap();
        }

        // Check every loan against the oracle on every day.
        let mut paid: HashMap<&str, Money> = HashMap::new();
        for (on, loan, amount) in &known {
            if *on <= date {
                *paid.entry(loan).or_default() += *amount;
            }
        }
        let lines_today = status_lines(&store).await;
        let mut expected_loans: Vec<&str> = schedules
            .iter()
            .filter(|(_, (disbursed, _))| *disbursed <= date)
            .map(|(id, _)| *id)
            .collect();
        expected_loans.sort_unstable();
        let mut got_loans: Vec<&str> = lines_today
            .iter()
            .map(|l| l.row.external_id.as_str())
            .collect();
        got_loans.sort_unstable();
        assert_eq!(got_loans, expected_loans, "{date}: the loans known");
        let mut wrong = Vec::new();
        for line in &lines_today {
            let id = line.row.external_id.as_str();
            let want = oracle(
                &schedules[id].1,
                paid.get(id).copied().unwrap_or_default(),
                date,
            );
            let got = Oracle {
                dpd: line.dpd,
                bucket: line.row.bucket.to_string(),
                classification: line.row.classification.as_str(),
                overdue_installments: line.row.overdue_installments,
                outstanding_principal: line.row.outstanding_principal,
                lifecycle: line.row.lifecycle.as_str(),
            };
            let level = line.row.warning_level;
            let level_ok = (level >= 2) == (want.dpd >= 31) && (level == 3) == (want.dpd >= 91);
            if got != want || !level_ok || line.business_date != date {
                wrong.push(format!(
                    "{id} on {date}: got {got:?} level {level}, want {want:?}"
                ));
            }
            seen_dpd.insert(want.dpd.min(200) / 30);
        }
        assert!(
            wrong.is_empty(),
            "{} loan(s) disagree with the oracle, e.g.:\n{}",
            wrong.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
        if date == last {
            break;
        }
        date = add_days(date, 1);
    }
    assert_eq!(business_date(&store).await, last);
    // The portfolio summary groups exactly the status lines.
    let (on, groups) = huifang_app::status::summary(&store).await.unwrap();
    assert_eq!(on, last);
    let mut want: BTreeMap<(String, Bucket, String, u8), (i64, Money)> = BTreeMap::new();
    for l in status_lines(&store).await {
        let g = want
            .entry((
                l.row.lifecycle.as_str().to_string(),
                l.row.bucket,
                l.row.classification.as_str().to_string(),
                l.row.warning_level,
            ))
            .or_default();
        g.0 += 1;
        g.1 += l.row.outstanding_principal;
    }
    let got: BTreeMap<(String, Bucket, String, u8), (i64, Money)> = groups
        .iter()
        .map(|g| {
            (
                (
                    g.lifecycle.as_str().to_string(),
                    g.bucket,
                    g.classification.as_str().to_string(),
                    g.warning_level,
                ),
                (g.loans, g.outstanding_principal),
            )
        })
        .collect();
    assert_eq!(got, want);
    // The book covers the interesting ranges: current, M1..M3 and beyond M3.
    for band in 0..=3 {
        assert!(
            seen_dpd.contains(&band),
            "no loan with DPD in band {band}: {seen_dpd:?}"
        );
    }
}

/// DOMAIN.md: "overdue_installments = installments with due date before the business date and an
/// unpaid amount", and the bucket follows DPD. A written-off loan stays owed (its DPD keeps
/// growing in `status`), so its bucket and overdue count must keep following too.
async fn written_off_loan_keeps_a_consistent_status_row(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    init(&store, d("2026-01-15")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    import::import_loans(
        &store,
        &policy,
        &lines(&[loan("LW", "B1", "P3", "2026-01-15")]),
    )
    .await
    .unwrap();
    close::run_daily(&store, &policy, d("2026-03-01"), |_| {})
        .await
        .unwrap();
    loans::operate(
        &store,
        &policy,
        "LW",
        LoanOp::WriteOff,
        None,
        "无法收回",
        "委员会",
    )
    .await
    .unwrap();
    close::run_daily(&store, &policy, d("2026-04-30"), |_| {})
        .await
        .unwrap();
    let line = status_of(&store, "LW").await;
    let view = loans::view(&store, &policy, "LW").await.unwrap();
    assert_eq!(line.dpd, 74, "oldest unpaid installment due 2026-02-15");
    assert_eq!(view.status.dpd, 74);
    assert_eq!(
        (line.row.lifecycle, line.row.classification),
        (Lifecycle::WrittenOff, Classification::Loss)
    );
    assert_eq!(
        (line.row.bucket, line.row.overdue_installments),
        (view.status.bucket, view.status.overdue_installments),
        "the stored status row must agree with the loan evaluated on the business date"
    );
    assert_eq!(
        (line.row.bucket, line.row.overdue_installments),
        (Bucket(3), 3),
        "DPD 74 is M3; installments due 02-15, 03-15 and 04-15 are unpaid"
    );
}

/// A loan imported long after its disbursement is overdue at once (DOMAIN.md) and its status row
/// carries a warning level; DOMAIN.md capability 7: "each warning stores the rule and the facts
/// that fired it", so the warning must be on record too (as the daily close records it).
async fn imported_overdue_loan_has_its_warning_recorded(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    init(&store, d("2026-03-20")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    import::import_loans(
        &store,
        &policy,
        &lines(&[loan("L1", "B1", "P3", "2026-01-15")]),
    )
    .await
    .unwrap();
    let line = status_of(&store, "L1").await;
    assert_eq!(
        (line.dpd, line.row.bucket, line.row.warning_level),
        (33, Bucket(2), 2)
    );
    let id = loan_id(&store, "L1").await;
    let mut tx = store.begin().await.unwrap();
    let warnings = tx.loan_warnings(id).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.cleared_on.is_none())
            .map(|w| (w.level, w.rule.as_str()))
            .collect::<Vec<_>>(),
        [(2, "dpd_31")],
        "the status says warning level 2: the open warning with its rule and facts must exist"
    );
}

/// Two workers closing the same days at once (several servers share one PostgreSQL database):
/// every day is closed once, and the result is the same as one worker's.
async fn concurrent_closes_write_each_day_once(dbs: &mut Dbs) {
    let policy = Policy::default();
    let start = d("2026-05-01");
    let end = add_days(start, 20);
    let (alone, shared) = twin_books(dbs, start, 60, 5).await;
    close::run_daily(&alone, &policy, end, |_| {})
        .await
        .unwrap();

    let (a, b) = tokio::join!(
        close::run_daily(&shared, &policy, end, |_| {}),
        close::run_daily(&shared, &policy, end, |_| {}),
    );
    let closed: usize = [&a, &b]
        .iter()
        .map(|r| r.as_ref().map_or(0, Vec::len))
        .sum();
    assert!(a.is_ok() || b.is_ok(), "a: {a:?}\nb: {b:?}");
    assert!(closed <= 20, "no day closed twice: {closed}");
    // Whatever a refused worker left undone, a later run finishes.
    close::run_daily(&shared, &policy, end, |_| {})
        .await
        .unwrap();
    assert_eq!(full_state(&shared).await, full_state(&alone).await);
}

/// DOMAIN.md: "a payment dated before the business date (backdated) re-processes the loan from
/// that date". A loan written off on 2026-03-01 stays owed and payments still apply as recoveries;
/// if the bank file then shows the borrower had in fact paid everything on 2026-02-20, the
/// payment must be posted (the loan is paid off), not refused because the later write-off now
/// finds nothing outstanding.
async fn backdated_payoff_before_a_recorded_write_off_is_posted(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    init(&store, d("2026-01-15")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    let l = loan("LW", "B1", "P3", "2026-01-15");
    let total: Money = schedule_of(&l).iter().map(|i| i.payment).sum();
    import::import_loans(&store, &policy, &lines(&[l]))
        .await
        .unwrap();
    close::run_daily(&store, &policy, d("2026-03-01"), |_| {})
        .await
        .unwrap();
    loans::operate(
        &store,
        &policy,
        "LW",
        LoanOp::WriteOff,
        None,
        "失联",
        "委员会",
    )
    .await
    .unwrap();
    close::run_daily(&store, &policy, d("2026-03-05"), |_| {})
        .await
        .unwrap();
    // More than enough to pay everything on 2026-02-20 (penalty on installment 1 included).
    let result = import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P-all", "LW", "2026-02-20", total + money("100.00"))]),
    )
    .await;
    assert!(
        result.is_ok(),
        "a backdated payment that pays the loan off must be posted: {:?}",
        result.err().map(|e| e.to_string())
    );
    let line = status_of(&store, "LW").await;
    assert_eq!((line.dpd, line.row.outstanding_principal), (0, Money::ZERO));
}

/// The stored status row of one loan next to a fresh evaluation on the business date.
async fn stored_and_fresh(store: &Store, policy: &Policy, external_id: &str) -> (String, String) {
    let line = status_of(store, external_id).await;
    let fresh = loans::view(store, policy, external_id)
        .await
        .unwrap()
        .status;
    let stored = format!(
        "{} dpd {} {} {} overdue {} outstanding {} level {}",
        line.row.lifecycle.as_str(),
        line.dpd,
        line.row.bucket,
        line.row.classification,
        line.row.overdue_installments,
        line.row.outstanding_principal,
        line.row.warning_level
    );
    let fresh = format!(
        "{} dpd {} {} {} overdue {} outstanding {} level {}",
        fresh.lifecycle.as_str(),
        fresh.dpd,
        fresh.bucket,
        fresh.classification,
        fresh.overdue_installments,
        fresh.outstanding_principal,
        fresh.warning_level()
    );
    (stored, fresh)
}

/// Level 1 ("the two most recent installments whose due date + grace has passed were both late")
/// changes when a prepaid installment's due date + grace passes: that day must be an event day of
/// the loan, or the stored warning level stays stale until the next one.
async fn warning_level_follows_a_prepaid_installment_passing_its_grace(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    init(&store, d("2026-01-15")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    let l = loan("L1", "B1", "P3", "2026-01-15");
    let s = schedule_of(&l);
    import::import_loans(&store, &policy, &lines(&[l]))
        .await
        .unwrap();
    // Installment 1 paid 10 days late.
    close::run_daily(&store, &policy, d("2026-02-25"), |_| {})
        .await
        .unwrap();
    let due = loans::view(&store, &policy, "L1")
        .await
        .unwrap()
        .status
        .overdue_amount;
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P1", "L1", "2026-02-25", due)]),
    )
    .await
    .unwrap();
    // Installment 2 paid 10 days late, with installment 3 paid in advance.
    close::run_daily(&store, &policy, d("2026-03-25"), |_| {})
        .await
        .unwrap();
    let due = loans::view(&store, &policy, "L1")
        .await
        .unwrap()
        .status
        .overdue_amount;
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P2", "L1", "2026-03-25", due + s[2].payment)]),
    )
    .await
    .unwrap();
    let line = status_of(&store, "L1").await;
    assert_eq!(
        (line.dpd, line.row.warning_level),
        (0, 1),
        "installments 1 and 2 were late"
    );

    // 2026-04-19: installment 3's due date + grace (04-18) has passed; it was paid on time, so
    // the two most recent are 3 (on time) and 2 (late): level 1 no longer holds.
    close::run_daily(&store, &policy, d("2026-04-19"), |_| {})
        .await
        .unwrap();
    let (stored, fresh) = stored_and_fresh(&store, &policy, "L1").await;
    assert!(fresh.ends_with("level 0"), "{fresh}");
    assert_eq!(stored, fresh, "the stored status is stale on 2026-04-19");
}

/// Over a synthetic book with late payers and penalties, lived through 90 days with payments
/// posted on their days, the stored status of every loan equals a fresh evaluation every 5 days.
async fn stored_status_equals_a_fresh_evaluation(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    let last = d("2026-09-30");
    let start = add_days(last, -90);
    init(&store, start).await;
    let products = default_products();
    import::import_products(&store, &lines(&products))
        .await
        .unwrap();
    let all = Portfolio::new(SynthConfig {
        seed: 99,
        loans: 150,
        business_date: last,
        disbursed_from: start.checked_sub_months(Months::new(12)).unwrap(),
        products,
    })
    .unwrap()
    .generate()
    .unwrap();
    let day_of = |date: Date| date.max(start);
    let mut days: BTreeMap<Date, Day> = BTreeMap::new();
    for b in &all.borrowers {
        // Borrowers first, all on the first day (a repeat customer's loan needs its borrower).
        days.entry(start).or_default().borrowers.push(b.clone());
    }
    for l in &all.loans {
        days.entry(day_of(l.disbursed_on))
            .or_default()
            .loans
            .push(l.clone());
    }
    for p in &all.payments {
        days.entry(day_of(p.paid_on))
            .or_default()
            .payments
            .push(p.clone());
    }
    for late in &all.late_payments {
        days.entry(day_of(late.arrives_on))
            .or_default()
            .payments
            .push(late.row.clone());
    }
    let mut date = start;
    let mut wrong = Vec::new();
    loop {
        if date > start {
            close::run_daily(&store, &policy, date, |_| {})
                .await
                .unwrap();
        }
        if let Some(day) = days.get(&date) {
            import::import_borrowers(&store, &lines(&day.borrowers))
                .await
                .unwrap();
            import::import_loans(&store, &policy, &lines(&day.loans))
                .await
                .unwrap();
            import::import_payments(&store, &policy, &lines(&day.payments))
                .await
                .unwrap();
        }
        if (date - start).num_days() % 5 == 0 {
            for line in status_lines(&store).await {
                let (stored, fresh) =
                    stored_and_fresh(&store, &policy, &line.row.external_id).await;
                if stored != fresh {
                    wrong.push(format!(
                        "{} on {date}: stored {stored}, fresh {fresh}",
                        line.row.external_id
                    ));
                }
            }
        }
        if date == last {
            break;
        }
        date = add_days(date, 1);
    }
    assert!(
        wrong.is_empty(),
        "{} stored status row(s) differ from a fresh evaluation, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
}

/// Migration 8: a book whose stored evaluations were derived before interest was rounded from its
/// exact value is re-derived, every loan of it, by the next close after the upgrade.
async fn a_book_kept_before_exact_rounding_is_rederived_by_its_next_close(dbs: &mut Dbs) {
    let (store, url) = dbs.fresh_with_url().await;
    let policy = Policy::default();
    init(&store, d("2026-05-01")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1", 0)]))
        .await
        .unwrap();
    // Flat, 208,500.00 at 2.5% over 24 months: interest 208,500 × 0.025 / 12 = 434.375 → 434.38,
    // principal 8,687.50, payment 9,121.88, paid in full on each of the first three due dates.
    let mut l = loan("LF", "B1", "P3", "2026-01-27");
    l.principal = money("208500.00");
    l.annual_rate = Rate::parse_annual("0.025").unwrap();
    l.term_months = 24;
    l.method = Method::Flat;
    import::import_loans(&store, &policy, &lines(&[l]))
        .await
        .unwrap();
    let payments: Vec<PaymentRow> = ["2026-02-27", "2026-03-27", "2026-04-27"]
        .iter()
        .enumerate()
        .map(|(i, on)| pay(&format!("PF{i}"), "LF", on, money("9121.88")))
        .collect();
    import::import_payments(&store, &policy, &lines(&payments))
        .await
        .unwrap();
    // 208,500.00 − 3 × 8,687.50 = 182,437.50, nothing carried over.
    let exact = money("182437.50");
    assert_eq!(
        status_of(&store, "LF").await.row.outstanding_principal,
        exact
    );

    // The row as the old rounding stored it (434.37 of interest, so a 0.01 surplus of each
    // payment ran on to principal), next visited on the reminder date before installment 4.
    let pool = sqlx::AnyPool::connect(&url).await.expect("raw connection");
    sqlx::query(
        "UPDATE loan_state SET outstanding_principal_fen = 18243747, next_event_on = '2026-05-24'",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Without the migration a close passes the loan over: the stale figure stays.
    close::run_daily(&store, &policy, d("2026-05-02"), |_| {})
        .await
        .unwrap();
    let stale = status_of(&store, "LF").await.row.outstanding_principal;
    assert_eq!(stale, money("182437.47"));

    // The upgrade applies migration 8 to this book; the next close re-derives the loan.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 8")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    store.migrate().await.unwrap();
    store.check_schema().await.unwrap();
    assert_eq!(
        stored_next_events(&store).await,
        vec![Some(d("2026-05-03"))],
        "every loan is due the day after the business date"
    );
    close::run_daily(&store, &policy, d("2026-05-03"), |_| {})
        .await
        .unwrap();
    let (stored, fresh) = stored_and_fresh(&store, &policy, "LF").await;
    assert_eq!(stored, fresh);
    assert_eq!(
        status_of(&store, "LF").await.row.outstanding_principal,
        exact
    );
    let next = stored_next_events(&store).await;
    assert_eq!(
        next,
        vec![Some(d("2026-05-24"))],
        "reminder 3 days before 05-27"
    );
}

/// The policy is data in the database: `policy::set` with a narrower bucket and a lower
/// substandard threshold changes what the next close derives, without a rebuild; a malformed
/// document is refused with the field named and changes nothing.
async fn a_policy_set_applies_from_the_next_close_and_a_bad_one_changes_nothing(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    small_book(&store).await;
    policy::seed_default(&store).await.unwrap();
    assert_eq!(policy::load(&store).await.unwrap(), Policy::default());
    let before = status_of(&store, "L1").await;
    assert_eq!(
        (
            before.dpd,
            before.row.bucket.to_string(),
            before.row.classification
        ),
        (5, "M1".to_string(), Classification::SpecialMention)
    );
    let next_before = stored_next_events(&store).await;

    let default_text = policy::to_text(&Policy::default());
    let edited = |from: &str, to: &str| {
        assert!(default_text.contains(from), "{from} in {default_text}");
        default_text.replace(from, to)
    };
    for (text, field) in [
        (
            edited("\"bucket_days\": 30", "\"bucket_days\": \"15\""),
            "policy.bucket_days",
        ),
        (
            edited("\"bucket_days\": 30", "\"bucket_days\": 0"),
            "policy.bucket_days",
        ),
        (
            edited("\"loss\": 361", "\"loss\": 200"),
            "policy.classification_min_dpd.loss",
        ),
        (
            edited("\"bucket_days\": 30", "\"bucket_width\": 30"),
            "bucket_width",
        ),
        (
            // warning rules are a rule set of their own (`rules set`)
            edited(
                "\"bucket_days\": 30",
                "\"warning_rules\": [], \"bucket_days\": 30",
            ),
            "policy.warning_rules",
        ),
    ] {
        let err = policy::set(&store, &text).await.unwrap_err().to_string();
        assert!(err.contains(field), "{field} not named in: {err}");
    }
    assert_eq!(policy::load(&store).await.unwrap(), Policy::default());
    assert_eq!(
        stored_next_events(&store).await,
        next_before,
        "nothing changed"
    );

    // Buckets of 15 days, substandard from DPD 20: on 2026-04-05 L1 (DPD 21) is M2 substandard,
    // where the defaults make it M1 special_mention.
    let text = edited("\"bucket_days\": 30", "\"bucket_days\": 15")
        .replace("\"substandard\": 91", "\"substandard\": 20");
    let change = policy::set(&store, &text).await.unwrap();
    assert_eq!(
        (
            change.changed,
            change.loans_to_revisit,
            change.business_date
        ),
        (true, 1, d("2026-03-20"))
    );
    let new_policy = policy::load(&store).await.unwrap();
    assert_eq!(
        (new_policy.bucket_days, new_policy.classification_min_dpd[2]),
        (15, 20)
    );
    assert_eq!(status_of(&store, "L1").await.row.bucket.to_string(), "M1");
    // A close still holding the policy it started with stops before a day it would close
    // under the old one (as when the policy is set between two days of a long close).
    let stale = close::run_daily(&store, &Policy::default(), d("2026-04-05"), |_| {}).await;
    assert!(
        matches!(&stale, Err(AppError::Conflict(m)) if m.contains("policy was changed")),
        "{stale:?}"
    );
    assert_eq!(business_date(&store).await, d("2026-03-20"));
    close::run_daily(&store, &new_policy, d("2026-04-05"), |_| {})
        .await
        .unwrap();
    let after = status_of(&store, "L1").await;
    assert_eq!(
        (
            after.dpd,
            after.row.bucket.to_string(),
            after.row.classification
        ),
        (21, "M2".to_string(), Classification::Substandard)
    );
    let (stored, fresh) = stored_and_fresh(&store, &new_policy, "L1").await;
    assert_eq!(stored, fresh);
    // The same document again changes nothing.
    let again = policy::set(&store, &text).await.unwrap();
    assert_eq!((again.changed, again.loans_to_revisit), (false, 0));
}

//! The storage conformance suite: one set of scenarios, each run on a real SQLite file and (when
//! `HUIFANG_TEST_PG_URL` is set and the ignored tests are included) on a fresh PostgreSQL
//! database created for the test and dropped after it.
//!
//! Every scenario is an `async fn(&Store, &str)` (the store, and its URL for the few scenarios
//! that must look under the store). `huifang_testkit::on_both!` turns the list into
//! `sqlite::<scenario>` tests and ignored `postgres::<scenario>` tests.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::collections::{BTreeMap, HashMap};

use huifang_core::loan::{DatedOp, LoanOp, LoanTerms, Payment};
use huifang_core::policy::{Bucket, Classification, ProductRules};
use huifang_core::schedule::Method;
use huifang_core::status::{Lifecycle, StatusSummary};
use huifang_core::{BorrowerId, Date, LoanId, Money, Rate};
use huifang_store::{
    Borrower, BorrowerRecord, Evaluation, EventRecord, HistoryRecord, Loan, LoanRecord, NewOp,
    NewPayment, PaymentRecord, Product, ProductRecord, StatusRow, Store, StoreError, SummaryRow,
    Task, TaskCancel, TaskUpdate, WarningRecord, decode_op, encode_op,
};
use huifang_testkit::{Dbs, on_both, with_database};
use sqlx::Row;

// ---------------------------------------------------------------------------------------------
// Databases

/// The reason every PostgreSQL test is ignored by default.
const PG_ONLY: &str =
    "needs PostgreSQL: set HUIFANG_TEST_PG_URL and run with --run-ignored all / --include-ignored";

/// Runs a scenario on a fresh database of `dbs` (SQLite file or PostgreSQL database created for
/// the test and dropped after it), given the store and its URL.
async fn with_store_and_url(dbs: &mut Dbs, scenario: impl AsyncFnOnce(&Store, &str)) {
    let (store, url) = dbs.fresh_with_url().await;
    scenario(&store, &url).await;
}

on_both!(
    via with_store_and_url;
    migrate_and_check_schema,
    settings_and_business_date,
    products_borrowers_loans_round_trip,
    payments_round_trip_and_order,
    ops_round_trip,
    events_history_warnings,
    loans_with_event_in_range,
    tidy_after_load_keeps_the_book,
    settle_checkpoints_the_database,
    save_evaluations_updates_only_given_loans,
    open_task_keys_follow_the_tasks,
    replay_inputs_per_loan,
    status_page_paging,
    portfolio_summary_and_counts,
    closed_days,
    dropped_transaction_rolls_back,
    a_waiting_close_is_not_starved_by_team_writes,
    large_batches,
    wipe_empties_everything,
    unknown_names_in_a_row_are_errors_naming_the_column,
);

#[test]
fn pg_ignore_reason_is_the_documented_one() {
    // The macro repeats the text literally (attributes take literals only); keep them in step.
    assert!(PG_ONLY.starts_with("needs PostgreSQL: set HUIFANG_TEST_PG_URL"));
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = Store::connect("mysql://localhost/huifang")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedUrl(ref u) if u == "mysql://localhost/huifang"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Values

fn d(text: &str) -> Date {
    huifang_core::calendar::parse_date(text).expect("date")
}

fn rate(text: &str) -> Rate {
    Rate::parse_in(text, 0.into(), 100.into()).expect("rate")
}

fn rules(grace_days: u32, markup: &str) -> ProductRules {
    ProductRules {
        grace_days,
        penalty_rate_markup: rate(markup),
    }
}

fn summary(
    lifecycle: Lifecycle,
    bucket: u8,
    classification: Classification,
    warning_level: u8,
    overdue_installments: u32,
) -> StatusSummary {
    StatusSummary {
        lifecycle,
        bucket: Bucket(bucket),
        classification,
        warning_level,
        overdue_installments,
    }
}

/// A plain evaluation of a current loan with no event scheduled.
fn current(on: Date, outstanding_fen: i64) -> Evaluation {
    Evaluation {
        summary: summary(Lifecycle::Active, 0, Classification::Normal, 0, 0),
        oldest_unpaid_due: None,
        outstanding_principal: Money::from_fen(outstanding_fen),
        warning_rule: None,
        next_event_on: None,
        evaluated_on: on,
        open_task_keys: Vec::new(),
        next_continuous_on: None,
    }
}

async fn migrated(store: &Store) {
    store.migrate().await.expect("migrate");
    store.check_schema().await.expect("schema current");
}

fn product(code: &str, name: &str, rules: ProductRules) -> Product {
    Product {
        code: code.into(),
        name: name.into(),
        rules,
    }
}

fn borrower(n: usize) -> Borrower {
    Borrower {
        external_id: format!("B{n:06}"),
        name: format!("借款人{n}"),
        id_number: "11010519491231002X".into(),
        mobile: "13800138000".into(),
        employer: format!("雇主 {n}"),
        monthly_income: Money::from_fen(1_200_000 + n as i64),
        city: "上海市".into(),
    }
}

fn terms(
    principal_fen: i64,
    annual_rate: &str,
    term_months: u32,
    method: Method,
    on: &str,
) -> LoanTerms {
    LoanTerms {
        principal: Money::from_fen(principal_fen),
        annual_rate: rate(annual_rate),
        term_months,
        method,
        disbursed_on: d(on),
    }
}

fn new_loan(
    external_id: &str,
    borrower_id: BorrowerId,
    product_id: i64,
    evaluation: Evaluation,
) -> Loan {
    Loan {
        external_id: external_id.into(),
        borrower_id,
        // `base`'s borrower; tests on other borrowers set both fields.
        borrower_external_id: "B000001".into(),
        product_id,
        terms: terms(10_000_000, "0.0485", 36, Method::Annuity, "2026-01-31"),
        vin: "LVSN4BKM0R1944736".into(),
        vehicle_model: "比亚迪 秦PLUS".into(),
        vehicle_price: Money::from_fen(15_000_000),
        dealer: "上海某4S店".into(),
        evaluation,
    }
}

/// A product and a borrower to hang loans on: (product, borrower).
async fn base(store: &Store) -> (ProductRecord, BorrowerRecord) {
    let mut tx = store.begin().await.unwrap();
    tx.insert_products(&[product("P1", "新车贷", rules(3, "0.5"))])
        .await
        .unwrap();
    tx.insert_borrowers(&[borrower(1)]).await.unwrap();
    let p = tx.products().await.unwrap().remove(0);
    let b = tx
        .borrowers_by_external_id(&["B000001".into()])
        .await
        .unwrap()
        .remove("B000001")
        .unwrap();
    tx.commit().await.unwrap();
    (p, b)
}

/// Inserts loans (all on `base`'s product and borrower) and returns their ids in order.
async fn insert_loans(store: &Store, loans: &[Loan]) -> Vec<LoanId> {
    let mut tx = store.begin().await.unwrap();
    tx.insert_loans(loans).await.unwrap();
    let keys: Vec<String> = loans.iter().map(|l| l.external_id.clone()).collect();
    let ids = tx.loan_ids_by_external_id(&keys).await.unwrap();
    tx.commit().await.unwrap();
    keys.iter().map(|k| ids[k]).collect()
}

fn payment(
    external_id: &str,
    loan_id: LoanId,
    paid_on: &str,
    fen: i64,
    received_on: &str,
) -> NewPayment {
    NewPayment {
        external_id: external_id.into(),
        loan_id,
        paid_on: d(paid_on),
        amount: Money::from_fen(fen),
        channel: "代扣".into(),
        received_on: d(received_on),
    }
}

fn every_op() -> Vec<LoanOp> {
    vec![
        LoanOp::Defer { months: 3 },
        LoanOp::Restructure {
            annual_rate: rate("0.0399"),
            term_months: 24,
            method: Method::EqualPrincipal,
        },
        LoanOp::Restructure {
            annual_rate: rate("0.12345678"),
            term_months: 600,
            method: Method::Flat,
        },
        LoanOp::EarlySettlement,
        LoanOp::Acceleration,
        LoanOp::WriteOff,
        LoanOp::Classify {
            floor: Classification::Substandard,
        },
        LoanOp::Classify {
            floor: Classification::Normal,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async fn migrate_and_check_schema(store: &Store, url: &str) {
    match store.check_schema().await {
        Err(StoreError::SchemaBehind { pending }) => assert!(pending >= 1, "pending {pending}"),
        other => panic!("a fresh database must be SchemaBehind, got {other:?}"),
    }
    assert!(
        store
            .check_schema()
            .await
            .unwrap_err()
            .to_string()
            .contains("huifang init"),
        "the error tells the user to run init"
    );
    store.migrate().await.expect("first migrate");
    store
        .check_schema()
        .await
        .expect("schema current after migrate");
    store.migrate().await.expect("second migrate is a no-op");
    store.check_schema().await.expect("still current");
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.business_date().await.unwrap(), None);
        assert_eq!(tx.counts().await.unwrap(), (0, 0, 0, 0));
        tx.rollback().await.unwrap();
    }

    // A migration this program does not know: the schema is ahead.
    let future: i64 = 99_990_101_000_000;
    let pool = sqlx::AnyPool::connect(url).await.expect("raw connection");
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, 'from the future', TRUE, $2, 0)")
        .bind(future)
        .bind(vec![0u8; 4])
        .execute(&pool)
        .await
        .expect("insert a future migration");
    match store.check_schema().await {
        Err(StoreError::SchemaAhead(v)) => assert_eq!(v, future),
        other => panic!("expected SchemaAhead, got {other:?}"),
    }
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(future)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    store.check_schema().await.expect("current again");
}

async fn settings_and_business_date(store: &Store, _url: &str) {
    migrated(store).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.setting("colour").await.unwrap(), None);
    assert_eq!(tx.business_date().await.unwrap(), None);
    tx.set_setting("colour", "红色 / red").await.unwrap();
    tx.set_setting("empty", "").await.unwrap();
    tx.set_business_date(d("2024-02-29")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.setting("colour").await.unwrap().as_deref(),
        Some("红色 / red")
    );
    assert_eq!(tx.setting("empty").await.unwrap().as_deref(), Some(""));
    assert_eq!(tx.business_date().await.unwrap(), Some(d("2024-02-29")));
    // Overwriting keeps one value per key.
    tx.set_setting("colour", "blue").await.unwrap();
    tx.set_business_date(d("2026-12-31")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.setting("colour").await.unwrap().as_deref(), Some("blue"));
    assert_eq!(tx.business_date().await.unwrap(), Some(d("2026-12-31")));
    assert_eq!(
        tx.setting("business_date").await.unwrap().as_deref(),
        Some("2026-12-31"),
        "the business date is stored as ISO text"
    );
    // A corrupt stored date is reported as such, not as a panic.
    tx.set_setting("business_date", "31/12/2026").await.unwrap();
    assert!(matches!(
        tx.business_date().await,
        Err(StoreError::Corrupt(_))
    ));
    tx.rollback().await.unwrap();
}

async fn products_borrowers_loans_round_trip(store: &Store, _url: &str) {
    migrated(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_products(&[
        product("USED24", "二手车贷", rules(0, "0")),
        product("LEASE36", "融资租赁", rules(90, "0.3")),
        product("NEWCAR36", "新车贷", rules(3, "0.5")),
        product("HIGH", "high markup", rules(5, "10")),
    ])
    .await
    .unwrap();
    let products = tx.products().await.unwrap();
    let codes: Vec<&str> = products.iter().map(|p| p.product.code.as_str()).collect();
    assert_eq!(
        codes,
        ["HIGH", "LEASE36", "NEWCAR36", "USED24"],
        "ordered by code"
    );
    let by_code: HashMap<&str, &ProductRecord> = products
        .iter()
        .map(|p| (p.product.code.as_str(), p))
        .collect();
    assert_eq!(by_code["LEASE36"].product.name, "融资租赁");
    assert_eq!(by_code["LEASE36"].product.rules, rules(90, "0.3"));
    assert_eq!(by_code["USED24"].product.rules, rules(0, "0"));
    assert_eq!(by_code["HIGH"].product.rules, rules(5, "10"));
    assert_eq!(by_code["NEWCAR36"].product.rules, ProductRules::default());
    // A duplicate code is refused by the database.
    assert!(
        tx.insert_products(&[product("HIGH", "again", rules(1, "0"))])
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    tx.insert_products(&[
        product("USED24", "二手车贷", rules(0, "0")),
        product("LEASE36", "融资租赁", rules(90, "0.3")),
    ])
    .await
    .unwrap();
    let products = tx.products().await.unwrap();
    let lease = products
        .iter()
        .find(|p| p.product.code == "LEASE36")
        .unwrap()
        .clone();
    let used = products
        .iter()
        .find(|p| p.product.code == "USED24")
        .unwrap()
        .clone();

    let rich = Borrower {
        external_id: "B-富".into(),
        name: "欧阳娜娜".into(),
        id_number: "310104200105087510".into(),
        mobile: "19912345678".into(),
        employer: String::new(),
        monthly_income: Money::from_fen(900_000_000_000_000),
        city: "北京市".into(),
    };
    let poor = Borrower {
        external_id: "B-0".into(),
        name: "O'Brien, \"Jim\"".into(),
        id_number: "11010519680723655X".into(),
        mobile: "13800138000".into(),
        // what a bulk statement must quote: PostgreSQL binds each column as an array literal
        employer: "line\tbreak-free, back\\slash {braces} \"quoted\"".into(),
        monthly_income: Money::ZERO,
        city: "NULL".into(),
    };
    tx.insert_borrowers(&[rich.clone(), poor.clone()])
        .await
        .unwrap();
    let found = tx
        .borrowers_by_external_id(&[
            "B-富".into(),
            "B-0".into(),
            "B-unknown".into(),
            "B-\"{0}\\".into(),
        ])
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "unknown ids are simply absent");
    for want in [&rich, &poor] {
        let got = &found[&want.external_id];
        assert_eq!(
            (
                &got.borrower.external_id,
                &got.borrower.name,
                &got.borrower.id_number,
                &got.borrower.mobile,
                &got.borrower.employer,
                got.borrower.monthly_income,
                &got.borrower.city
            ),
            (
                &want.external_id,
                &want.name,
                &want.id_number,
                &want.mobile,
                &want.employer,
                want.monthly_income,
                &want.city
            )
        );
    }
    assert_ne!(found["B-富"].id, found["B-0"].id);
    assert!(tx.borrowers_by_external_id(&[]).await.unwrap().is_empty());
    assert!(
        tx.insert_borrowers(std::slice::from_ref(&poor))
            .await
            .is_err(),
        "a duplicate external id is refused"
    );
    tx.rollback().await.unwrap();

    // Loans: every method, extreme money, 8-decimal and zero rates, every evaluation column
    // with values and with NULLs.
    let mut tx = store.begin().await.unwrap();
    tx.insert_products(&[
        product("USED24", "二手车贷", rules(0, "0")),
        product("LEASE36", "融资租赁", rules(90, "0.3")),
    ])
    .await
    .unwrap();
    tx.insert_borrowers(&[rich.clone(), poor.clone()])
        .await
        .unwrap();
    let products = tx.products().await.unwrap();
    let lease = ProductRecord {
        id: products
            .iter()
            .find(|p| p.product.code == "LEASE36")
            .unwrap()
            .id,
        ..lease
    };
    let used = ProductRecord {
        id: products
            .iter()
            .find(|p| p.product.code == "USED24")
            .unwrap()
            .id,
        ..used
    };
    let borrowers = tx
        .borrowers_by_external_id(&["B-富".into(), "B-0".into()])
        .await
        .unwrap();
    let full_eval = Evaluation {
        summary: summary(Lifecycle::WrittenOff, 7, Classification::Loss, 3, 42),
        oldest_unpaid_due: Some(d("2024-02-29")),
        outstanding_principal: Money::from_fen(12_345_678_901_234),
        warning_rule: Some("dpd_91".into()),
        next_event_on: Some(d("2026-03-01")),
        evaluated_on: d("2026-02-28"),
        open_task_keys: vec!["continuous:2026-03-01".into(), "welcome".into()],
        next_continuous_on: Some(d("2026-03-04")),
    };
    let null_eval = Evaluation {
        summary: summary(Lifecycle::PaidOff, 0, Classification::Normal, 0, 0),
        oldest_unpaid_due: None,
        outstanding_principal: Money::ZERO,
        warning_rule: None,
        next_event_on: None,
        evaluated_on: d("1999-12-31"),
        open_task_keys: Vec::new(),
        next_continuous_on: None,
    };
    let mid_eval = Evaluation {
        summary: summary(Lifecycle::Active, 2, Classification::SpecialMention, 2, 2),
        oldest_unpaid_due: Some(d("2026-01-15")),
        outstanding_principal: Money::from_fen(1),
        warning_rule: Some("dpd_31".into()),
        next_event_on: Some(d("2026-03-18")),
        evaluated_on: d("2026-02-16"),
        open_task_keys: Vec::new(),
        next_continuous_on: None,
    };
    let loans = vec![
        Loan {
            external_id: "L-annuity".into(),
            borrower_id: borrowers["B-富"].id,
            borrower_external_id: "B-富".into(),
            product_id: used.id,
            terms: terms(
                99_999_999_999_999,
                "0.12345678",
                600,
                Method::Annuity,
                "2024-02-29",
            ),
            vin: "1M8GDM9AXKP042788".into(),
            vehicle_model: "Tesla Model Y".into(),
            vehicle_price: Money::from_fen(i64::MAX / 4),
            dealer: "特斯拉 上海".into(),
            evaluation: full_eval.clone(),
        },
        Loan {
            external_id: "L-equal".into(),
            borrower_id: borrowers["B-0"].id,
            borrower_external_id: "B-0".into(),
            product_id: lease.id,
            terms: terms(1, "0", 1, Method::EqualPrincipal, "1900-01-01"),
            vin: "11111111111111111".into(),
            vehicle_model: "五菱宏光MINI".into(),
            vehicle_price: Money::from_fen(1),
            dealer: "d".into(),
            evaluation: null_eval.clone(),
        },
        Loan {
            external_id: "L-flat".into(),
            borrower_id: borrowers["B-0"].id,
            borrower_external_id: "B-0".into(),
            product_id: lease.id,
            terms: terms(12_000_000, "1", 36, Method::Flat, "2026-01-31"),
            vin: "LSGWRR9U1R0983833".into(),
            vehicle_model: "别克 GL8".into(),
            vehicle_price: Money::from_fen(30_000_000),
            dealer: "别克 成都".into(),
            evaluation: mid_eval.clone(),
        },
    ];
    tx.insert_loans(&loans).await.unwrap();
    let keys: Vec<String> = loans.iter().map(|l| l.external_id.clone()).collect();
    let mut asked = keys.clone();
    asked.push("L-missing".into());
    let ids = tx.loan_ids_by_external_id(&asked).await.unwrap();
    assert_eq!(ids.len(), 3);
    let found = tx.loans_by_external_id(&asked).await.unwrap();
    assert_eq!(found.len(), 3);
    for l in &loans {
        let (product_code, rules) = if l.product_id == used.id {
            (used.product.code.clone(), used.product.rules.clone())
        } else {
            (lease.product.code.clone(), lease.product.rules.clone())
        };
        let borrower_external_id = borrowers
            .values()
            .find(|b| b.id == l.borrower_id)
            .unwrap()
            .borrower
            .external_id
            .clone();
        let want = LoanRecord {
            id: ids[&l.external_id],
            product_code,
            rules,
            loan: Loan {
                borrower_external_id,
                ..l.clone()
            },
        };
        assert_eq!(
            found[&l.external_id], want,
            "loan {} round trip",
            l.external_id
        );
    }
    // Rates keep their exact value.
    assert_eq!(
        found["L-annuity"]
            .loan
            .terms
            .annual_rate
            .value()
            .to_string(),
        "0.12345678"
    );
    assert!(
        tx.insert_loans(&loans[..1]).await.is_err(),
        "a duplicate loan external id is refused"
    );
    tx.rollback().await.unwrap();
}

async fn payments_round_trip_and_order(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let ids = insert_loans(
        store,
        &[
            new_loan("L1", b, p, current(d("2026-01-31"), 10_000_000)),
            new_loan("L2", b, p, current(d("2026-01-31"), 10_000_000)),
        ],
    )
    .await;
    let (l1, l2) = (ids[0], ids[1]);
    let mut tx = store.begin().await.unwrap();
    // Inserted out of value-date order; two on the same date keep their insertion order.
    let rows = vec![
        payment("P-c", l1, "2026-03-31", 299_036, "2026-03-31"),
        payment("P-a", l1, "2026-02-27", 100_000, "2026-03-05"),
        payment("P-x", l2, "2026-02-28", 1, "2026-02-28"),
        payment("P-b", l1, "2026-02-27", 199_036, "2026-02-27"),
    ];
    tx.insert_payments(&rows).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let got = tx.loan_payments(l1).await.unwrap();
    let order: Vec<&str> = got.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(order, ["P-a", "P-b", "P-c"]);
    let a = &got[0];
    assert_eq!(
        (
            a.loan_external_id.as_str(),
            a.paid_on,
            a.amount,
            a.channel.as_str(),
            a.received_on
        ),
        (
            "L1",
            d("2026-02-27"),
            Money::from_fen(100_000),
            "代扣",
            d("2026-03-05")
        )
    );
    assert!(
        got.windows(2)
            .all(|w| w[0].id < w[1].id || w[0].paid_on < w[1].paid_on)
    );
    let by_ext = tx
        .payments_by_external_id(&["P-x".into(), "P-a".into(), "P-none".into()])
        .await
        .unwrap();
    assert_eq!(by_ext.len(), 2);
    assert_eq!(
        by_ext["P-x"],
        PaymentRecord {
            id: by_ext["P-x"].id,
            external_id: "P-x".into(),
            loan_external_id: "L2".into(),
            paid_on: d("2026-02-28"),
            amount: Money::from_fen(1),
            channel: "代扣".into(),
            received_on: d("2026-02-28"),
        }
    );
    assert_eq!(by_ext["P-a"], got[0]);
    assert_eq!(tx.loan_payments(l2).await.unwrap().len(), 1);
    assert!(
        tx.loan_payments(LoanId(l2.get() + 1000))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.insert_payments(&[payment("P-a", l2, "2026-02-01", 5, "2026-02-01")])
            .await
            .is_err(),
        "a duplicate payment external id is refused"
    );
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.insert_payments(&[payment("P-zero", l2, "2026-02-01", 0, "2026-02-01")])
            .await
            .is_err(),
        "a zero amount is refused by the schema"
    );
    tx.rollback().await.unwrap();
}

/// The ids of `base`'s product and borrower.
async fn base_ids(store: &Store) -> (i64, BorrowerId) {
    let mut tx = store.begin().await.unwrap();
    let p = tx.products().await.unwrap()[0].id;
    let b = tx
        .borrowers_by_external_id(&["B000001".into()])
        .await
        .unwrap()["B000001"]
        .id;
    tx.rollback().await.unwrap();
    (p, b)
}

async fn ops_round_trip(store: &Store, _url: &str) {
    // The codec alone, for every variant.
    for op in every_op() {
        let (kind, params) = encode_op(&op);
        assert_eq!(kind, op.kind().as_str());
        assert_eq!(decode_op(kind, &params), Ok(op.clone()), "{kind} {params}");
    }
    assert!(decode_op("teleport", "").is_err());
    assert!(decode_op("defer", "").is_err());
    assert!(decode_op("defer", "months=x").is_err());
    assert!(decode_op("restructure", "annual_rate=0.05;term_months=12").is_err());
    assert!(decode_op("classify", "floor=excellent").is_err());

    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let ids = insert_loans(
        store,
        &[
            new_loan("L1", b, p, current(d("2026-01-31"), 1)),
            new_loan("L2", b, p, current(d("2026-01-31"), 1)),
        ],
    )
    .await;
    let mut tx = store.begin().await.unwrap();
    let mut recorded = Vec::new();
    for (i, op) in every_op().into_iter().enumerate() {
        let new = NewOp {
            loan_id: ids[0],
            op: DatedOp {
                on: huifang_core::calendar::add_days(d("2026-02-01"), 10 - i as i64),
                op,
            },
            reason: format!("客户申请 #{i}; reason=with;semicolons"),
            decided_by: "风控专员 王".into(),
            recorded_on: d("2026-03-01"),
        };
        tx.insert_op(&new).await.unwrap();
        recorded.push(new);
    }
    tx.insert_op(&NewOp {
        loan_id: ids[1],
        op: DatedOp {
            on: d("2026-02-02"),
            op: LoanOp::WriteOff,
        },
        reason: "r".into(),
        decided_by: "b".into(),
        recorded_on: d("2026-02-02"),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let got = tx.loan_ops(ids[0]).await.unwrap();
    assert_eq!(got.len(), recorded.len());
    for (g, want) in got.iter().zip(&recorded) {
        assert_eq!(g.op, want.op, "in recording order, not date order");
        assert_eq!(g.reason, want.reason);
        assert_eq!(g.decided_by, want.decided_by);
        assert_eq!(g.recorded_on, want.recorded_on);
    }
    assert_eq!(tx.loan_ops(ids[1]).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
}

async fn events_history_warnings(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let ids = insert_loans(
        store,
        &[
            new_loan("L1", b, p, current(d("2026-01-31"), 1)),
            new_loan("L2", b, p, current(d("2026-01-31"), 1)),
        ],
    )
    .await;
    let (l1, l2) = (ids[0], ids[1]);
    let ev = |loan_id, date: &str, kind: &str, details: &str| EventRecord {
        loan_id,
        business_date: d(date),
        kind: kind.into(),
        details: details.into(),
    };
    let events = vec![
        ev(
            l1,
            "2026-02-25",
            "reminder_due",
            r#"{"installment":"1","days_before":"3"}"#,
        ),
        ev(
            l2,
            "2026-02-28",
            "reminder_due",
            r#"{"installment":"1","days_before":"0"}"#,
        ),
        ev(
            l1,
            "2026-02-28",
            "reminder_due",
            r#"{"installment":"1","days_before":"0"}"#,
        ),
        ev(
            l1,
            "2026-03-01",
            "installment_overdue",
            r#"{"amount":"2990.36"}"#,
        ),
        ev(
            l1,
            "2026-03-01",
            "bucket_changed",
            r#"{"from":"M0","to":"M1"}"#,
        ),
        ev(
            l2,
            "2026-02-28",
            "warning_raised",
            r#"{"facts":{"dpd":"31"},"rule":"dpd_31"}"#,
        ),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert_events(&events).await.unwrap();
    tx.insert_events(&[]).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.events_on(d("2026-02-28"), None).await.unwrap(),
        vec![events[1].clone(), events[2].clone(), events[5].clone()],
        "a day's events in insertion order"
    );
    assert_eq!(
        tx.events_on(d("2026-02-28"), Some("warning_raised"))
            .await
            .unwrap(),
        vec![events[5].clone()]
    );
    assert_eq!(
        tx.events_on(d("2026-03-01"), Some("reminder_due"))
            .await
            .unwrap(),
        vec![]
    );
    assert!(
        tx.events_on(d("2026-01-01"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tx.loan_events(l1).await.unwrap(),
        vec![
            events[0].clone(),
            events[2].clone(),
            events[3].clone(),
            events[4].clone()
        ]
    );

    // History (overdue_installments is not part of a history row: it reads back as 0).
    let history = vec![
        HistoryRecord {
            loan_id: l1,
            business_date: d("2026-01-31"),
            summary: summary(Lifecycle::Active, 0, Classification::Normal, 0, 0),
            cause: "import".into(),
        },
        HistoryRecord {
            loan_id: l2,
            business_date: d("2026-03-01"),
            summary: summary(Lifecycle::WrittenOff, 7, Classification::Loss, 3, 0),
            cause: "operation".into(),
        },
        HistoryRecord {
            loan_id: l1,
            business_date: d("2026-03-01"),
            summary: summary(Lifecycle::Active, 1, Classification::SpecialMention, 1, 0),
            cause: "close".into(),
        },
        HistoryRecord {
            loan_id: l1,
            business_date: d("2026-03-02"),
            summary: summary(Lifecycle::PaidOff, 0, Classification::Normal, 0, 0),
            cause: "payment".into(),
        },
    ];
    tx.insert_history(&history).await.unwrap();
    assert_eq!(
        tx.loan_history(l1).await.unwrap(),
        vec![history[0].clone(), history[2].clone(), history[3].clone()]
    );
    assert_eq!(tx.loan_history(l2).await.unwrap(), vec![history[1].clone()]);

    // Warnings: open, list newest first, clear only the open ones of the given loans.
    let w = |loan_id, level, rule: &str, raised: &str| WarningRecord {
        loan_id,
        level,
        rule: rule.into(),
        facts: format!(r#"{{"rule":"{rule}","note":"事实"}}"#),
        raised_on: d(raised),
        cleared_on: None,
    };
    tx.open_warnings(&[
        w(l1, 1, "two_consecutive_late", "2026-03-01"),
        w(l2, 2, "dpd_31", "2026-03-01"),
    ])
    .await
    .unwrap();
    tx.clear_warnings(&[l1], d("2026-03-05")).await.unwrap();
    tx.open_warnings(&[w(l1, 3, "dpd_91", "2026-03-06")])
        .await
        .unwrap();
    tx.clear_warnings(&[], d("2026-03-06")).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let got = tx.loan_warnings(l1).await.unwrap();
    assert_eq!(
        got,
        vec![
            w(l1, 3, "dpd_91", "2026-03-06"),
            WarningRecord {
                cleared_on: Some(d("2026-03-05")),
                ..w(l1, 1, "two_consecutive_late", "2026-03-01")
            },
        ]
    );
    let facts: serde_json::Value = serde_json::from_str(&got[0].facts).unwrap();
    assert_eq!(facts["note"], "事实");
    assert_eq!(
        tx.loan_warnings(l2).await.unwrap(),
        vec![w(l2, 2, "dpd_31", "2026-03-01")],
        "clearing one loan leaves the others open"
    );
    // Clearing again touches only the still open warning: the first keeps its date.
    tx.clear_warnings(&[l1, l2], d("2026-03-10")).await.unwrap();
    let got = tx.loan_warnings(l1).await.unwrap();
    assert_eq!(got[0].cleared_on, Some(d("2026-03-10")));
    assert_eq!(got[1].cleared_on, Some(d("2026-03-05")));
    assert_eq!(
        tx.loan_warnings(l2).await.unwrap()[0].cleared_on,
        Some(d("2026-03-10"))
    );
    tx.commit().await.unwrap();
}

async fn loans_with_event_in_range(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let next_events = [
        None,
        Some("2026-03-01"),
        Some("2026-03-02"),
        Some("2026-02-28"),
        Some("2025-12-31"),
        None,
        Some("2026-03-01"),
        Some("2026-03-10"),
        Some("2026-03-01"),
        Some("2026-02-01"),
        Some("2027-01-01"),
        Some("2026-03-01"),
        Some("2026-01-09"),
    ];
    let loans: Vec<Loan> = next_events
        .iter()
        .enumerate()
        .map(|(i, next)| {
            let mut e = current(d("2026-01-31"), 100);
            e.next_event_on = next.map(d);
            new_loan(&format!("L{i:02}"), b, p, e)
        })
        .collect();
    let ids = insert_loans(store, &loans).await;
    let day = d("2026-03-01");
    let mut want: Vec<LoanId> = ids
        .iter()
        .zip(&next_events)
        .filter(|(_, n)| n.is_some_and(|n| d(n) <= day))
        .map(|(id, _)| *id)
        .collect();
    want.sort_unstable();
    assert_eq!(want.len(), 8);

    let mut tx = store.begin().await.unwrap();
    let far = d("2000-01-01");
    let got = tx.loans_with_event_between(far, day).await.unwrap();
    assert_eq!(
        got, want,
        "exactly the loans whose next event is on or before the day, ascending ids"
    );
    assert_eq!(
        tx.loans_with_event_between(far, d("2026-02-28"))
            .await
            .unwrap()
            .len(),
        4,
        "the upper bound is inclusive and dates compare as dates"
    );
    let on_the_day: Vec<LoanId> = ids
        .iter()
        .zip(&next_events)
        .filter(|(_, n)| **n == Some("2026-03-01"))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(on_the_day.len(), 4);
    assert_eq!(
        tx.loans_with_event_between(d("2026-02-28"), day)
            .await
            .unwrap(),
        on_the_day,
        "the lower bound is exclusive"
    );
    assert!(
        tx.loans_with_event_between(far, d("2025-01-01"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        tx.loans_with_event_between(far, d("2030-01-01"))
            .await
            .unwrap()
            .len(),
        11,
        "every loan with a next event, none without"
    );
    // A change of the stored next event is seen at once in the same transaction.
    let mut moved = current(d("2026-03-01"), 100);
    moved.next_event_on = Some(d("2026-03-05"));
    save_states(&mut tx, &[(want[0], moved)]).await.unwrap();
    assert_eq!(
        tx.loans_with_event_between(far, day).await.unwrap(),
        want[1..].to_vec()
    );
    tx.rollback().await.unwrap();
}

/// After a bulk load the store tidies up (on PostgreSQL: vacuums the tables a load left full of
/// dead rows or grew by more than a fifth); what it holds is unchanged, and on PostgreSQL every
/// page of the rewritten loan states and of the inserted loans is marked all-visible, so that the
/// close's selection of due loans is answered from its index and no first read of a row rewrites
/// its page.
async fn tidy_after_load_keeps_the_book(store: &Store, url: &str) {
    const LOANS: i64 = 1_500; // past autovacuum's insert threshold (1,000 rows + 20%)
    let (_, ids) = current_book(store, LOANS as usize).await;
    // the load writes every state a second time, as payments arriving after their loans do
    let mut tx = store.begin().await.unwrap();
    let moved: Vec<(LoanId, Evaluation)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut e = current(d("2026-02-20"), 9_000_000);
            e.next_event_on = Some(d(if i % 3 == 0 {
                "2026-03-01"
            } else {
                "2026-03-09"
            }));
            (*id, e)
        })
        .collect();
    save_states(&mut tx, &moved).await.unwrap();
    tx.commit().await.unwrap();
    if url.starts_with("postgres") {
        // the writing sessions report their rows to the statistics within seconds
        let pool = sqlx::AnyPool::connect(url).await.expect("raw connection");
        let mut counted = (0, 0);
        for _ in 0..150 {
            let row = sqlx::query("SELECT CAST(SUM(CASE WHEN relname = 'loan_state' THEN n_dead_tup END) AS BIGINT), CAST(SUM(CASE WHEN relname = 'loans' THEN n_ins_since_vacuum END) AS BIGINT) FROM pg_stat_user_tables WHERE relname IN ('loan_state', 'loans')")
                .fetch_one(&pool)
                .await
                .unwrap();
            counted = (row.try_get(0).unwrap(), row.try_get(1).unwrap());
            if counted.0 >= LOANS && counted.1 >= LOANS {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(
            counted.0 >= LOANS && counted.1 >= LOANS,
            "the statistics show {} dead states and {} inserted loans",
            counted.0,
            counted.1
        );
        pool.close().await;
    }

    store.tidy_after_load().await.expect("tidy after a load");
    store
        .tidy_after_load()
        .await
        .expect("tidying twice is harmless");

    let mut tx = store.begin().await.unwrap();
    let due = tx
        .loans_with_event_between(d("2000-01-01"), d("2026-03-01"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let want: Vec<LoanId> = ids.iter().step_by(3).copied().collect();
    assert_eq!(due, want, "the rewritten states are the ones read back");
    if url.starts_with("postgres") {
        let pool = sqlx::AnyPool::connect(url).await.expect("raw connection");
        for table in ["loan_state", "loans"] {
            let row = sqlx::query(
                "SELECT CAST(relpages AS BIGINT), CAST(relallvisible AS BIGINT) FROM pg_class WHERE relname = $1",
            )
            .bind(table)
            .fetch_one(&pool)
            .await
            .unwrap();
            let (pages, visible): (i64, i64) = (row.try_get(0).unwrap(), row.try_get(1).unwrap());
            assert!(pages > 0, "the vacuum counted the pages of {table}");
            assert_eq!(visible, pages, "every page of {table} is all-visible");
        }
        pool.close().await;
    }
}

/// `settle` leaves the database as after a quiet night: on PostgreSQL the server has run a
/// checkpoint (the test's role is a superuser); SQLite's side is in tests/checkpoint.rs.
async fn settle_checkpoints_the_database(store: &Store, url: &str) {
    migrated(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.set_setting("test.settle", "value").await.unwrap();
    tx.commit().await.unwrap();
    if !url.starts_with("postgres") {
        store.settle().await;
        return;
    }
    let pool = sqlx::AnyPool::connect(url).await.expect("raw connection");
    let requested = async || -> i64 {
        sqlx::query("SELECT CAST(checkpoints_req AS BIGINT) FROM pg_stat_bgwriter")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get(0)
            .unwrap()
    };
    let before = requested().await;
    store.settle().await;
    // The checkpointer reports its count just after it wakes the waiting session: give it a moment.
    let mut after = requested().await;
    for _ in 0..50 {
        if after > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        after = requested().await;
    }
    assert!(after > before, "settle ran a checkpoint");
    pool.close().await;
}

/// A migrated store holding `n` loans current on 2026-01-31 (100,000.00 outstanding, next event
/// on 2026-02-25), external ids `L0`, `L1`, …; returns them and their ids.
async fn current_book(store: &Store, n: usize) -> (Vec<Loan>, Vec<LoanId>) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let loans: Vec<Loan> = (0..n)
        .map(|i| {
            let mut e = current(d("2026-01-31"), 10_000_000);
            e.next_event_on = Some(d("2026-02-25"));
            new_loan(&format!("L{i}"), b, p, e)
        })
        .collect();
    let ids = insert_loans(store, &loans).await;
    (loans, ids)
}

async fn save_evaluations_updates_only_given_loans(store: &Store, _url: &str) {
    let (loans, ids) = current_book(store, 5).await;
    let keys: Vec<String> = loans.iter().map(|l| l.external_id.clone()).collect();
    let mut tx = store.begin().await.unwrap();
    let before = tx.loans_by_external_id(&keys).await.unwrap();
    tx.rollback().await.unwrap();

    // NULLs become values on one loan, values become NULLs on another.
    let overdue = Evaluation {
        summary: summary(Lifecycle::Active, 2, Classification::SpecialMention, 2, 2),
        oldest_unpaid_due: Some(d("2026-02-28")),
        outstanding_principal: Money::from_fen(9_876_543),
        warning_rule: Some("dpd_31".into()),
        next_event_on: Some(d("2026-05-30")),
        evaluated_on: d("2026-03-31"),
        open_task_keys: Vec::new(),
        next_continuous_on: None,
    };
    let paid_off = Evaluation {
        summary: summary(Lifecycle::PaidOff, 0, Classification::Normal, 0, 0),
        oldest_unpaid_due: None,
        outstanding_principal: Money::ZERO,
        warning_rule: None,
        next_event_on: None,
        evaluated_on: d("2026-03-31"),
        open_task_keys: Vec::new(),
        next_continuous_on: None,
    };
    let mut tx = store.begin().await.unwrap();
    save_states(
        &mut tx,
        &[(ids[1], overdue.clone()), (ids[3], paid_off.clone())],
    )
    .await
    .unwrap();
    save_states(&mut tx, &[]).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let after = tx.loans_by_external_id(&keys).await.unwrap();
    for (i, key) in keys.iter().enumerate() {
        let want = match i {
            1 => {
                let mut l = before[key].clone();
                l.loan.evaluation = overdue.clone();
                l
            }
            3 => {
                let mut l = before[key].clone();
                l.loan.evaluation = paid_off.clone();
                l
            }
            _ => before[key].clone(),
        };
        assert_eq!(after[key], want, "loan {key}");
    }
    // And back: the overdue loan becomes NULL-valued, the paid-off one gets values.
    save_states(
        &mut tx,
        &[(ids[1], paid_off.clone()), (ids[3], overdue.clone())],
    )
    .await
    .unwrap();
    let again = tx.loans_by_external_id(&keys).await.unwrap();
    assert_eq!(again[&keys[1]].loan.evaluation, paid_off);
    assert_eq!(again[&keys[3]].loan.evaluation, overdue);
    assert_eq!(again[&keys[0]], before[&keys[0]]);
    tx.rollback().await.unwrap();
}

fn planned(loan_id: LoanId, key: &str) -> Task {
    Task {
        loan_id,
        kind: "continuous_followup".into(),
        reason_key: key.into(),
        queue_code: "care".into(),
        assignee_id: None,
        created_on: d("2026-02-25"),
        due_on: d("2026-02-25"),
        window_end_on: None,
        late: false,
        max_attempts: 3,
    }
}

async fn stored_keys(store: &Store, ids: &[LoanId]) -> Vec<Vec<String>> {
    let mut tx = store.begin().await.unwrap();
    let inputs = tx.replay_inputs(ids).await.unwrap();
    tx.rollback().await.unwrap();
    inputs
        .into_iter()
        .map(|i| i.loan.loan.evaluation.open_task_keys)
        .collect()
}

/// The open task keys kept in `loan_state`: bulk task writes report what they changed (the
/// caller stores it, or refreshes), the team's single-task writes keep them themselves, and
/// `stale_open_task_keys` finds any loan whose stored keys differ from its tasks.
async fn open_task_keys_follow_the_tasks(store: &Store, _url: &str) {
    let (_, ids) = current_book(store, 3).await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let mut tx = store.begin().await.unwrap();
    let created = tx
        .insert_planned_tasks(&[planned(a, "k2"), planned(a, "k1"), planned(b, "k1")])
        .await
        .unwrap();
    assert_eq!(created.len(), 3);
    // an existing key is skipped and not reported
    let created = tx
        .insert_planned_tasks(&[planned(a, "k1"), planned(a, "k3")])
        .await
        .unwrap();
    assert_eq!(created, vec![(a, "k3".to_string())]);
    // the bulk insert leaves the stored keys to its caller
    assert_eq!(tx.stale_open_task_keys().await.unwrap(), vec![a, b]);
    tx.refresh_open_task_keys(&[a, b]).await.unwrap();
    assert!(tx.stale_open_task_keys().await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert_eq!(
        stored_keys(store, &[a, b, c]).await,
        vec![vec!["k1", "k2", "k3"], vec!["k1"], vec![]]
    );

    let cancel = |loan_id, key: &str| TaskCancel {
        loan_id,
        reason_key: key.into(),
        reason: "cured".into(),
    };
    let mut tx = store.begin().await.unwrap();
    let cancelled = tx
        .cancel_tasks(&[cancel(a, "k2"), cancel(b, "nope")], d("2026-02-26"))
        .await
        .unwrap();
    assert_eq!(cancelled, vec![(a, "k2".to_string())]);
    // a finished task is not cancelled again
    let again = tx.cancel_tasks(&[cancel(a, "k2")], d("2026-02-26")).await;
    assert_eq!(again.unwrap(), vec![]);
    assert_eq!(tx.stale_open_task_keys().await.unwrap(), vec![a]);
    // the caller stores the keys with the loan's state
    let mut inputs = tx.replay_inputs(&[a]).await.unwrap();
    let mut e = inputs.remove(0).loan.loan.evaluation;
    e.open_task_keys = vec!["k1".into(), "k3".into()];
    save_states(&mut tx, &[(a, e)]).await.unwrap();
    assert!(tx.stale_open_task_keys().await.unwrap().is_empty());

    // single-task writes of the team keep the keys themselves
    let id = tx
        .insert_task(&Task {
            loan_id: c,
            kind: "escalation".into(),
            reason_key: "escalated:1".into(),
            queue_code: "care".into(),
            assignee_id: None,
            created_on: d("2026-02-26"),
            due_on: d("2026-02-26"),
            window_end_on: None,
            late: false,
            max_attempts: 3,
        })
        .await
        .unwrap()
        .unwrap();
    assert!(tx.stale_open_task_keys().await.unwrap().is_empty());
    tx.update_task(
        id,
        &TaskUpdate {
            state: huifang_core::team::TaskState::Done,
            attempts: 1,
            due_on: d("2026-02-26"),
            outcome: Some("reached".into()),
            closed_on: Some(d("2026-02-26")),
            close_reason: None,
        },
    )
    .await
    .unwrap();
    assert!(tx.stale_open_task_keys().await.unwrap().is_empty());
    let n = tx
        .cancel_loan_tasks(&[a], None, "paid_off", d("2026-02-27"))
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(tx.stale_open_task_keys().await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert_eq!(
        stored_keys(store, &[a, b, c]).await,
        vec![Vec::<String>::new(), vec!["k1".to_string()], vec![]]
    );
}

async fn replay_inputs_per_loan(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let mut loans: Vec<Loan> = (0..4)
        .map(|i| new_loan(&format!("L{i}"), b, p, current(d("2026-01-31"), 100)))
        .collect();
    loans[2].terms = terms(
        5_000_000,
        "0.0799",
        24,
        Method::EqualPrincipal,
        "2025-11-30",
    );
    let ids = insert_loans(store, &loans).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_payments(&[
        payment("P1", ids[0], "2026-03-01", 300, "2026-03-01"),
        payment("P2", ids[2], "2026-02-01", 200, "2026-02-01"),
        payment("P3", ids[0], "2026-02-28", 100, "2026-03-02"),
        payment("P4", ids[0], "2026-02-28", 150, "2026-02-28"),
        payment("P5", ids[2], "2026-01-15", 50, "2026-01-20"),
    ])
    .await
    .unwrap();
    let ops = [
        (ids[2], "2026-03-01", LoanOp::Defer { months: 2 }),
        (ids[3], "2026-02-15", LoanOp::WriteOff),
        (
            ids[2],
            "2026-02-01",
            LoanOp::Classify {
                floor: Classification::Doubtful,
            },
        ),
    ];
    for (loan_id, on, op) in &ops {
        tx.insert_op(&NewOp {
            loan_id: *loan_id,
            op: DatedOp {
                on: d(on),
                op: op.clone(),
            },
            reason: "r".into(),
            decided_by: "b".into(),
            recorded_on: d("2026-03-01"),
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let asked = vec![ids[3], ids[0], ids[2], ids[1], LoanId(999_999)];
    let got = tx.replay_inputs(&asked).await.unwrap();
    let order: Vec<LoanId> = got.iter().map(|r| r.loan.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted, "one input per existing loan, in id order");
    let by_id: HashMap<LoanId, _> = got.iter().map(|r| (r.loan.id, r)).collect();
    let pay = |on: &str, fen| Payment {
        paid_on: d(on),
        amount: Money::from_fen(fen),
    };
    assert_eq!(
        by_id[&ids[0]].payments,
        vec![
            pay("2026-02-28", 100),
            pay("2026-02-28", 150),
            pay("2026-03-01", 300)
        ],
        "by value date, then posting order"
    );
    assert!(by_id[&ids[0]].ops.is_empty());
    assert!(by_id[&ids[1]].payments.is_empty() && by_id[&ids[1]].ops.is_empty());
    assert_eq!(
        by_id[&ids[2]].payments,
        vec![pay("2026-01-15", 50), pay("2026-02-01", 200)]
    );
    assert_eq!(
        by_id[&ids[2]].ops,
        vec![
            DatedOp {
                on: d("2026-03-01"),
                op: LoanOp::Defer { months: 2 }
            },
            DatedOp {
                on: d("2026-02-01"),
                op: LoanOp::Classify {
                    floor: Classification::Doubtful
                }
            },
        ],
        "operations in recording order"
    );
    assert_eq!(by_id[&ids[2]].loan.loan.terms, loans[2].terms);
    assert_eq!(
        by_id[&ids[3]].ops,
        vec![DatedOp {
            on: d("2026-02-15"),
            op: LoanOp::WriteOff
        }]
    );
    // The loan record is the same as the one found by external id.
    let by_ext = tx.loans_by_external_id(&["L2".into()]).await.unwrap();
    assert_eq!(by_id[&ids[2]].loan, by_ext["L2"]);
    assert!(tx.replay_inputs(&[]).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
}

async fn status_page_paging(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let loans: Vec<Loan> = (0..10)
        .map(|i| {
            let e = Evaluation {
                summary: summary(
                    if i == 9 {
                        Lifecycle::PaidOff
                    } else {
                        Lifecycle::Active
                    },
                    (i % 8) as u8,
                    Classification::ALL[i % 5],
                    (i % 4) as u8,
                    i as u32,
                ),
                oldest_unpaid_due: (i % 2 == 1).then(|| d("2026-01-31")),
                outstanding_principal: Money::from_fen(1_000 * i as i64),
                warning_rule: None,
                next_event_on: None,
                evaluated_on: d("2026-03-01"),
                open_task_keys: Vec::new(),
                next_continuous_on: None,
            };
            new_loan(&format!("L{i}"), b, p, e)
        })
        .collect();
    let ids = insert_loans(store, &loans).await;
    let want: Vec<StatusRow> = loans
        .iter()
        .zip(&ids)
        .map(|(l, id)| StatusRow {
            id: *id,
            external_id: l.external_id.clone(),
            lifecycle: l.evaluation.summary.lifecycle,
            oldest_unpaid_due: l.evaluation.oldest_unpaid_due,
            bucket: l.evaluation.summary.bucket,
            classification: l.evaluation.summary.classification,
            overdue_installments: l.evaluation.summary.overdue_installments,
            outstanding_principal: l.evaluation.outstanding_principal,
            warning_level: l.evaluation.summary.warning_level,
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    for limit in [1, 3, 10, 50] {
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let page = tx.status_page(after, limit).await.unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            got.extend(page);
        }
        assert_eq!(got, want, "limit {limit}");
    }
    assert_eq!(
        tx.status_page(Some(ids[7]), 10).await.unwrap(),
        want[8..].to_vec()
    );
    tx.rollback().await.unwrap();
}

async fn portfolio_summary_and_counts(store: &Store, _url: &str) {
    migrated(store).await;
    {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.portfolio_summary().await.unwrap().is_empty());
        assert_eq!(tx.counts().await.unwrap(), (0, 0, 0, 0));
        tx.rollback().await.unwrap();
    }
    base(store).await;
    let (p, b) = base_ids(store).await;
    // Sums well beyond 32 bits, so that PostgreSQL's NUMERIC SUM must decode as BIGINT.
    let groups = [
        (
            Lifecycle::Active,
            0u8,
            Classification::Normal,
            0u8,
            300_000_000_000i64,
        ),
        (
            Lifecycle::Active,
            2,
            Classification::SpecialMention,
            2,
            700_000_000_000,
        ),
        (Lifecycle::Active, 4, Classification::Substandard, 3, 1),
        (Lifecycle::PaidOff, 0, Classification::Normal, 0, 0),
        (
            Lifecycle::WrittenOff,
            7,
            Classification::Loss,
            0,
            500_000_000_001,
        ),
    ];
    let mut loans = Vec::new();
    for i in 0..23usize {
        let (lifecycle, bucket, class, level, fen) = groups[i % groups.len()];
        let e = Evaluation {
            summary: summary(lifecycle, bucket, class, level, 0),
            oldest_unpaid_due: None,
            outstanding_principal: Money::from_fen(fen + i as i64),
            warning_rule: None,
            next_event_on: None,
            evaluated_on: d("2026-03-01"),
            open_task_keys: Vec::new(),
            next_continuous_on: None,
        };
        loans.push(new_loan(&format!("L{i:02}"), b, p, e));
    }
    let ids = insert_loans(store, &loans).await;
    let mut want: BTreeMap<(&str, u8, &str, u8), (i64, i64)> = BTreeMap::new();
    for l in &loans {
        let s = l.evaluation.summary;
        let g = want
            .entry((
                s.lifecycle.as_str(),
                s.bucket.0,
                s.classification.as_str(),
                s.warning_level,
            ))
            .or_default();
        g.0 += 1;
        g.1 += l.evaluation.outstanding_principal.fen();
    }
    let want: Vec<SummaryRow> = want
        .into_iter()
        .map(|((lifecycle, bucket, class, level), (n, fen))| SummaryRow {
            lifecycle: Lifecycle::parse(lifecycle).unwrap(),
            bucket: Bucket(bucket),
            classification: class.parse().unwrap(),
            warning_level: level,
            loans: n,
            outstanding_principal: Money::from_fen(fen),
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.portfolio_summary().await.unwrap(), want);
    let total: i64 = want.iter().map(|r| r.outstanding_principal.fen()).sum();
    assert!(total > i64::from(i32::MAX));

    tx.insert_borrowers(&[borrower(2), borrower(3)])
        .await
        .unwrap();
    tx.insert_payments(&[
        payment("P1", ids[0], "2026-02-01", 1, "2026-02-01"),
        payment("P2", ids[1], "2026-02-01", 1, "2026-02-01"),
        payment("P3", ids[1], "2026-02-02", 1, "2026-02-02"),
    ])
    .await
    .unwrap();
    tx.insert_events(&[EventRecord {
        loan_id: ids[0],
        business_date: d("2026-02-01"),
        kind: "paid_off".into(),
        details: "{}".into(),
    }])
    .await
    .unwrap();
    assert_eq!(tx.counts().await.unwrap(), (3, 23, 3, 1));
    tx.rollback().await.unwrap();
}

async fn closed_days(store: &Store, _url: &str) {
    migrated(store).await;
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.is_day_closed(d("2026-03-01")).await.unwrap());
    tx.record_closed_day(d("2026-03-01"), 12, 34).await.unwrap();
    tx.record_closed_day(d("2026-03-02"), 0, 0).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.is_day_closed(d("2026-03-01")).await.unwrap());
    assert!(tx.is_day_closed(d("2026-03-02")).await.unwrap());
    assert!(!tx.is_day_closed(d("2026-03-03")).await.unwrap());
    assert!(!tx.is_day_closed(d("2026-02-28")).await.unwrap());
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.record_closed_day(d("2026-03-01"), 1, 1).await.is_err(),
        "a day is closed once"
    );
    tx.rollback().await.unwrap();
}

/// Team writes share the business date's lock and a close takes it alone: while the team keeps
/// writing, each transaction overlapping the next so that the shared lock is never free, a close
/// that asks for the lock gets it once the writes before it end, and the writes after it wait for
/// it (on PostgreSQL an advisory lock, queued fairly; on SQLite the writers' turns, in order).
async fn a_waiting_close_is_not_starved_by_team_writes(store: &Store, _url: &str) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    migrated(store).await;
    let mut tx = store.begin().await.unwrap();
    tx.set_business_date(d("2026-11-27")).await.unwrap();
    tx.commit().await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    // as many writers as the pool leaves beside the close (SQLite's pool holds four)
    let writers: u64 = match store.dialect() {
        huifang_store::Dialect::Sqlite => 3,
        huifang_store::Dialect::Postgres => 6,
    };
    let team: Vec<_> = (0..writers)
        .map(|i| {
            let (store, stop, writes) = (store.clone(), Arc::clone(&stop), Arc::clone(&writes));
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30 * i / writers)).await;
                while !stop.load(Ordering::SeqCst) {
                    let mut tx = store.begin().await.unwrap();
                    tx.lock_for_write().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    tx.commit().await.unwrap();
                    writes.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(writes.load(Ordering::SeqCst) > 0, "the team writes");

    let mut close = store.begin().await.unwrap();
    // the writes before it hold the lock 30 ms at most; a share lock joined by each new write
    // kept the close waiting seconds with a few writers, indefinitely with a team's
    tokio::time::timeout(Duration::from_millis(1500), close.lock_business_date())
        .await
        .expect("the close waited more than 1.5 s for the team's writes")
        .unwrap();
    // held by the close: the team's writes wait (a write committed just before counts itself
    // right after)
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = writes.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        writes.load(Ordering::SeqCst),
        before,
        "a team write ran during the close"
    );
    close.set_business_date(d("2026-11-28")).await.unwrap();
    close.commit().await.unwrap();
    // and go on after it
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        writes.load(Ordering::SeqCst) > before,
        "the team's writes did not resume"
    );
    stop.store(true, Ordering::SeqCst);
    for t in team {
        t.await.unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.business_date().await.unwrap(), Some(d("2026-11-28")));
    tx.rollback().await.unwrap();
}

async fn dropped_transaction_rolls_back(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    let ids = insert_loans(store, &[new_loan("L1", b, p, current(d("2026-01-31"), 1))]).await;
    let before = snapshot(store, ids[0]).await;
    {
        let mut tx = store.begin().await.unwrap();
        tx.set_business_date(d("2030-01-01")).await.unwrap();
        tx.set_setting("demo", "1").await.unwrap();
        tx.insert_products(&[product("P2", "x", rules(1, "0"))])
            .await
            .unwrap();
        tx.insert_borrowers(&[borrower(9)]).await.unwrap();
        tx.insert_loans(&[new_loan("L2", b, p, current(d("2026-01-31"), 1))])
            .await
            .unwrap();
        tx.insert_payments(&[payment("P1", ids[0], "2026-02-01", 5, "2026-02-01")])
            .await
            .unwrap();
        tx.insert_events(&[EventRecord {
            loan_id: ids[0],
            business_date: d("2026-02-01"),
            kind: "paid_off".into(),
            details: "{}".into(),
        }])
        .await
        .unwrap();
        save_states(&mut tx, &[(ids[0], current(d("2029-01-01"), 77))])
            .await
            .unwrap();
        tx.record_closed_day(d("2026-02-01"), 1, 1).await.unwrap();
        // Visible inside the transaction...
        assert_eq!(tx.counts().await.unwrap(), (2, 2, 1, 1));
        assert_eq!(tx.business_date().await.unwrap(), Some(d("2030-01-01")));
        // ...and gone once it is dropped without a commit.
    }
    assert_eq!(snapshot(store, ids[0]).await, before);
    // An explicit rollback too.
    let mut tx = store.begin().await.unwrap();
    tx.insert_borrowers(&[borrower(10)]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(snapshot(store, ids[0]).await, before);
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    counts: (i64, i64, i64, i64),
    products: Vec<ProductRecord>,
    business_date: Option<Date>,
    demo: Option<String>,
    loan: Option<LoanRecord>,
    closed: bool,
}

async fn snapshot(store: &Store, loan_id: LoanId) -> Snapshot {
    let mut tx = store.begin().await.unwrap();
    let s = Snapshot {
        counts: tx.counts().await.unwrap(),
        products: tx.products().await.unwrap(),
        business_date: tx.business_date().await.unwrap(),
        demo: tx.setting("demo").await.unwrap(),
        loan: tx
            .replay_inputs(&[loan_id])
            .await
            .unwrap()
            .pop()
            .map(|r| r.loan),
        closed: tx.is_day_closed(d("2026-02-01")).await.unwrap(),
    };
    tx.rollback().await.unwrap();
    s
}

async fn large_batches(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, _) = base_ids(store).await;
    const BORROWERS: usize = 12_000;
    const LOANS: usize = 4_000;
    const PAYMENTS: usize = 12_000;
    let borrowers: Vec<Borrower> = (2..BORROWERS + 2).map(borrower).collect();
    let mut tx = store.begin().await.unwrap();
    tx.insert_borrowers(&borrowers)
        .await
        .expect("12,000 borrowers in one call");
    // More keys than one statement may bind: unknown keys mixed in.
    let mut keys: Vec<String> = borrowers.iter().map(|b| b.external_id.clone()).collect();
    keys.extend((0..20_000).map(|i| format!("X{i}")));
    let found = tx.borrowers_by_external_id(&keys).await.unwrap();
    assert_eq!(found.len(), BORROWERS);
    assert_eq!(found["B012001"].borrower.name, "借款人12001");
    assert_eq!(
        found["B012001"].borrower.monthly_income,
        Money::from_fen(1_200_000 + 12_001)
    );

    let loans: Vec<Loan> = (0..LOANS)
        .map(|i| {
            let mut e = current(d("2026-01-31"), i as i64);
            e.next_event_on = Some(d("2026-02-25"));
            let key = format!("B{:06}", i + 2);
            Loan {
                borrower_external_id: key.clone(),
                ..new_loan(&format!("L{i:06}"), found[&key].id, p, e)
            }
        })
        .collect();
    tx.insert_loans(&loans)
        .await
        .expect("4,000 loans (22 columns) in one call");
    let loan_keys: Vec<String> = loans.iter().map(|l| l.external_id.clone()).collect();
    let ids = tx.loan_ids_by_external_id(&loan_keys).await.unwrap();
    assert_eq!(ids.len(), LOANS);
    let id_list: Vec<LoanId> = loan_keys.iter().map(|k| ids[k]).collect();
    let payments: Vec<NewPayment> = (0..PAYMENTS)
        .map(|i| {
            payment(
                &format!("P{i:06}"),
                id_list[i % LOANS],
                "2026-02-28",
                1 + i as i64,
                "2026-02-28",
            )
        })
        .collect();
    tx.insert_payments(&payments).await.unwrap();
    let evaluations: Vec<(LoanId, Evaluation)> = id_list
        .iter()
        .map(|id| {
            let mut e = current(d("2026-03-01"), 5);
            e.summary = summary(Lifecycle::Active, 1, Classification::SpecialMention, 1, 1);
            e.oldest_unpaid_due = Some(d("2026-02-28"));
            e.next_event_on = Some(d("2026-03-31"));
            (*id, e)
        })
        .collect();
    save_states(&mut tx, &evaluations)
        .await
        .expect("4,000 evaluations (11 values each) in one call");
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.counts().await.unwrap(),
        (BORROWERS as i64 + 1, LOANS as i64, PAYMENTS as i64, 0)
    );
    let inputs = tx.replay_inputs(&id_list).await.unwrap();
    assert_eq!(inputs.len(), LOANS);
    assert!(inputs.iter().all(|r| r.payments.len() == PAYMENTS / LOANS));
    assert!(
        inputs
            .iter()
            .all(|r| r.loan.loan.evaluation == evaluations[0].1)
    );
    let due = tx
        .loans_with_event_between(d("2000-01-01"), d("2026-03-31"))
        .await
        .unwrap();
    assert_eq!(due.len(), LOANS);
    let summary_rows = tx.portfolio_summary().await.unwrap();
    assert_eq!(summary_rows.len(), 1);
    assert_eq!(summary_rows[0].loans, LOANS as i64);
    assert_eq!(
        summary_rows[0].outstanding_principal,
        Money::from_fen(5 * LOANS as i64)
    );
    let mut warnings = Vec::new();
    for id in &id_list {
        warnings.push(WarningRecord {
            loan_id: *id,
            level: 1,
            rule: "two_consecutive_late".into(),
            facts: "{}".into(),
            raised_on: d("2026-03-01"),
            cleared_on: None,
        });
    }
    tx.open_warnings(&warnings).await.unwrap();
    tx.clear_warnings(&id_list, d("2026-03-02")).await.unwrap();
    assert_eq!(
        tx.loan_warnings(id_list[LOANS - 1]).await.unwrap()[0].cleared_on,
        Some(d("2026-03-02"))
    );
    tx.commit().await.unwrap();
}

async fn wipe_empties_everything(store: &Store, _url: &str) {
    migrated(store).await;
    base(store).await;
    let (p, b) = base_ids(store).await;
    insert_loans(store, &[new_loan("L1", b, p, current(d("2026-01-31"), 1))]).await;
    let mut tx = store.begin().await.unwrap();
    tx.set_business_date(d("2026-03-01")).await.unwrap();
    tx.commit().await.unwrap();

    store.wipe().await.expect("wipe");
    assert!(
        matches!(
            store.check_schema().await,
            Err(StoreError::SchemaBehind { .. })
        ),
        "after a wipe the database is as new"
    );
    store.migrate().await.unwrap();
    store.check_schema().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.counts().await.unwrap(), (0, 0, 0, 0));
    assert!(tx.products().await.unwrap().is_empty());
    assert_eq!(tx.business_date().await.unwrap(), None);
    tx.rollback().await.unwrap();
    // Wiping an empty database is fine too.
    store.wipe().await.unwrap();
    store.wipe().await.unwrap();
    store.migrate().await.unwrap();
    store.check_schema().await.unwrap();
}

/// A task state the core does not know, written behind the program's back, is read as an
/// error naming the column, never passed on as a string.
async fn unknown_names_in_a_row_are_errors_naming_the_column(store: &Store, url: &str) {
    let (_, ids) = current_book(store, 1).await;
    let mut tx = store.begin().await.unwrap();
    tx.insert_planned_tasks(&[planned(ids[0], "k1")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let pool = sqlx::AnyPool::connect(url).await.expect("raw connection");
    sqlx::query("UPDATE tasks SET state = 'parked'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let mut tx = store.begin().await.unwrap();
    let id = tx.task_ids(false).await.unwrap()[0];
    match tx.task(id).await {
        Err(e @ StoreError::Column { column, .. }) => {
            assert_eq!(column, "tasks.state");
            assert!(
                e.to_string().contains("\"parked\" is not a task state"),
                "{e}"
            );
        }
        other => panic!("expected a column error, got {other:?}"),
    }
    tx.rollback().await.unwrap();
}

/// Saves evaluations as the engine does: with what they change in the book's totals, each in the
/// place of the loan's stored evaluation.
async fn save_states(
    tx: &mut huifang_store::Tx,
    rows: &[(LoanId, Evaluation)],
) -> huifang_store::Result<()> {
    let ids: Vec<LoanId> = rows.iter().map(|(id, _)| *id).collect();
    let stored = tx.replay_inputs(&ids).await?;
    let mut totals = huifang_store::TotalsDelta::default();
    for (id, e) in rows {
        let old = stored
            .iter()
            .find(|i| i.loan.id == *id)
            .expect("a stored loan");
        totals.replace(&old.loan.loan.evaluation, e);
    }
    tx.save_evaluations(rows, &totals).await
}

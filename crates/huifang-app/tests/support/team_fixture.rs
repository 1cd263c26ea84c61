//! Shared by the team tests of huifang-app and huifang-web: a small book with teams, queues,
//! people and follow-up tasks inserted directly, in the fresh databases of `huifang_testkit`.
#![allow(dead_code)]

use huifang_app::rows::{BorrowerRow, LoanRow, ProductRow};
use huifang_app::team::{self, Role, UserInput};
use huifang_app::{import, ledger};
use huifang_core::TaskId;
use huifang_core::calendar::parse_date;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::policy::Policy;
use huifang_core::schedule::Method;
use huifang_core::{Date, Money, Rate};
use huifang_store::{FollowupCounts, Store, Task, TaskUpdate};

pub fn d(text: &str) -> Date {
    parse_date(text).expect("date")
}

/// The business date of the fixture.
pub const TODAY: &str = "2026-03-20";

/// Teams, queues and people of the fixture. Every password is [`PASSWORD`].
pub const PASSWORD: &str = "correct horse battery";

fn lines<T: Clone>(rows: &[T]) -> Vec<(usize, T)> {
    rows.iter()
        .cloned()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

/// A book of `loans` loans (L1..), two teams (`fu` with queue `followup`, round robin; `col`
/// with `early_collection`, least loaded, and `senior_collection`, sticky), agents a1 a2 a3 (fu),
/// collectors c1 c2 (col), leads lead_fu lead_col, risk officer `risk`, auditor `audit`,
/// admin `admin`, and the ledger set up.
pub async fn book(store: &Store, loans: usize) {
    store.migrate().await.expect("migrate");
    let mut tx = store.begin().await.unwrap();
    tx.set_business_date(d(TODAY)).await.unwrap();
    tx.commit().await.unwrap();
    ledger::init(store, Some("test.huifang/log")).await.unwrap();
    huifang_app::followup::seed_defaults(store).await.unwrap();
    let policy = Policy::default();
    import::import_products(
        store,
        &lines(&[ProductRow {
            code: "P3".into(),
            name: "产品".into(),
            grace_days: 3,
            penalty_rate_markup: Rate::parse_in("0.5", 0.into(), 10.into()).unwrap(),
        }]),
    )
    .await
    .unwrap();
    let borrowers: Vec<BorrowerRow> = (1..=loans)
        .map(|n| BorrowerRow {
            external_id: format!("B{n}"),
            name: format!("张{n}"),
            id_number: ResidentId::parse("11010519491231002X").unwrap(),
            mobile: Mobile::parse("13800138000").unwrap(),
            employer: "上海某科技有限公司".into(),
            monthly_income: Money::parse("15000").unwrap(),
            city: "上海市".into(),
            contacts: Default::default(),
        })
        .collect();
    import::import_borrowers(store, &lines(&borrowers))
        .await
        .unwrap();
    let rows: Vec<LoanRow> = (1..=loans)
        .map(|n| LoanRow {
            external_id: format!("L{n}"),
            borrower_external_id: format!("B{n}"),
            product_code: "P3".into(),
            principal: Money::parse("12000.00").unwrap(),
            annual_rate: Rate::parse_annual("0.12").unwrap(),
            term_months: 12,
            method: Method::Annuity,
            disbursed_on: d("2026-01-15"),
            vin: Vin::parse("LVSN4BKM0R1944736").unwrap(),
            vehicle_model: "大众 朗逸".into(),
            vehicle_price: Money::parse("150000").unwrap(),
            dealer: "上海大众4S店".into(),
        })
        .collect();
    import::import_loans(store, &policy, &lines(&rows))
        .await
        .unwrap();
    // the follow-up engine may already have planned tasks for these loans: the tests work
    // their own, so those are cancelled
    let mut tx = store.begin().await.unwrap();
    for id in tx.task_ids(true).await.unwrap() {
        let t = tx.task(id).await.unwrap().unwrap();
        tx.update_task(
            id,
            &TaskUpdate {
                state: huifang_core::team::TaskState::Cancelled,
                attempts: t.attempts,
                due_on: t.task.due_on,
                outcome: None,
                closed_on: Some(d(TODAY)),
                close_reason: Some("test".into()),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    for (code, name) in [("fu", "回访组"), ("col", "催收一组")] {
        team::create_team(store, None, code, name).await.unwrap();
    }
    for (code, team_code, strategy) in [
        ("followup", "fu", "round_robin"),
        ("early_collection", "col", "least_loaded"),
        ("senior_collection", "col", "sticky"),
    ] {
        team::create_queue(store, None, code, code, team_code, strategy, "")
            .await
            .unwrap();
    }
    let people = [
        ("a1", Role::Agent, Some("fu")),
        ("a2", Role::Agent, Some("fu")),
        ("a3", Role::Agent, Some("fu")),
        ("c1", Role::Collector, Some("col")),
        ("c2", Role::Collector, Some("col")),
        ("lead_fu", Role::TeamLead, Some("fu")),
        ("lead_col", Role::TeamLead, Some("col")),
        ("risk", Role::RiskOfficer, None),
        ("audit", Role::Auditor, None),
        ("admin", Role::Admin, None),
    ];
    for (username, role, team_code) in people {
        team::create_user(
            store,
            None,
            &UserInput {
                username: username.into(),
                display_name: format!("测试 {username}"),
                role,
                team: team_code.map(String::from),
                skills: Vec::new(),
                password: Some(PASSWORD.into()),
            },
        )
        .await
        .unwrap();
    }
}

/// Inserts a task for loan `L{loan}` in `queue`; returns its id.
pub async fn task(store: &Store, loan: usize, reason: &str, queue: &str, due: &str) -> TaskId {
    let kind = if queue == "followup" {
        "welcome_call"
    } else {
        "collection_call"
    };
    task_of_kind(store, loan, kind, reason, queue, due).await
}

/// Inserts a task of `kind` for loan `L{loan}` in `queue`; returns its id.
pub async fn task_of_kind(
    store: &Store,
    loan: usize,
    kind: &str,
    reason: &str,
    queue: &str,
    due: &str,
) -> TaskId {
    let mut tx = store.begin().await.unwrap();
    // the write lock first, as the application's writers take it: a server of the test may
    // commit between this transaction's read and its write
    tx.lock_for_write().await.unwrap();
    let ids = tx
        .loan_ids_by_external_id(&[format!("L{loan}")])
        .await
        .unwrap();
    let id = tx
        .insert_task(&Task {
            loan_id: ids[&format!("L{loan}")],
            kind: kind.into(),
            reason_key: format!("test:{reason}"),
            queue_code: queue.into(),
            assignee_id: None,
            created_on: d("2026-03-01"),
            due_on: d(due),
            window_end_on: None,
            late: false,
            max_attempts: 3,
        })
        .await
        .unwrap()
        .expect("new task");
    tx.commit().await.unwrap();
    id
}

pub async fn counts(store: &Store) -> FollowupCounts {
    let mut tx = store.begin().await.unwrap();
    let c = tx.followup_counts().await.unwrap();
    tx.rollback().await.unwrap();
    c
}

pub async fn ledger_size(store: &Store) -> u64 {
    let mut tx = store.begin().await.unwrap();
    let (size, _) = tx.ledger_head().await.unwrap();
    tx.rollback().await.unwrap();
    size
}

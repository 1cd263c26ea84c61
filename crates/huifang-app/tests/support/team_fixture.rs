//! Shared by the team tests of huifang-app and huifang-web: fresh databases (SQLite files, or
//! PostgreSQL databases of the server named by `HUIFANG_TEST_PG_URL`), and a small book with
//! teams, queues, people and follow-up tasks inserted directly.
#![allow(dead_code)]

use std::hash::BuildHasher;

use huifang_app::rows::{BorrowerRow, LoanRow, ProductRow};
use huifang_app::team::{self, Role, UserInput};
use huifang_app::{import, ledger};
use huifang_core::calendar::parse_date;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::policy::Policy;
use huifang_core::schedule::Method;
use huifang_core::{Date, Money, Rate};
use huifang_store::{FollowupCounts, NewTask, Store, TaskUpdate};
use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;

/// Fresh databases of one backend for one test; PostgreSQL databases are dropped at the end.
pub struct Dbs {
    postgres: bool,
    dir: TempDir,
    made: usize,
    pg: Vec<PgDb>,
    stores: Vec<Store>,
}

impl Dbs {
    pub fn new(postgres: bool) -> Dbs {
        Dbs {
            postgres,
            dir: TempDir::new().expect("temp dir"),
            made: 0,
            pg: Vec::new(),
            stores: Vec::new(),
        }
    }

    /// A new, empty database (not migrated) and its URL.
    pub async fn fresh(&mut self) -> (Store, String) {
        self.made += 1;
        let url = if self.postgres {
            let db = PgDb::create().await;
            let url = db.url.clone();
            self.pg.push(db);
            url
        } else {
            format!(
                "sqlite://{}",
                self.dir
                    .path()
                    .join(format!("db{}.sqlite", self.made))
                    .display()
            )
        };
        let store = Store::connect(&url).await.expect("connect");
        self.stores.push(store.clone());
        (store, url)
    }

    pub async fn finish(self) {
        for s in &self.stores {
            s.close().await;
        }
        drop(self.pg);
    }
}

struct PgDb {
    admin_url: String,
    name: String,
    url: String,
}

fn random_hex() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = std::collections::hash_map::RandomState::new().hash_one((std::process::id(), nanos));
    format!("{h:016x}")
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

impl PgDb {
    async fn create() -> PgDb {
        let admin_url = std::env::var("HUIFANG_TEST_PG_URL").unwrap_or_else(|_| {
            panic!(
                "HUIFANG_TEST_PG_URL is not set: this PostgreSQL test needs a server, e.g. \
                 HUIFANG_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres"
            )
        });
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at HUIFANG_TEST_PG_URL={admin_url} is unreachable: {e}")
            });
        let name = format!("huifang_t_{}", random_hex());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        PgDb {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        if let Ok(Err(e)) | Err(e) = dropped.map_err(|_| "panicked".to_string()) {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Scenarios run on SQLite (`sqlite::name`) and on PostgreSQL (`postgres::name`, ignored).
#[macro_export]
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let mut dbs = super::support::Dbs::new(false);
                    super::$scenario(&mut dbs).await;
                    dbs.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL: set HUIFANG_TEST_PG_URL and run with --run-ignored all / --include-ignored"]
                async fn $scenario() {
                    let mut dbs = super::support::Dbs::new(true);
                    super::$scenario(&mut dbs).await;
                    dbs.finish().await;
                }
            )*
        }
    };
}

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
                state: "cancelled".into(),
                attempts: t.attempts,
                due_on: t.due_on,
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
pub async fn task(store: &Store, loan: usize, reason: &str, queue: &str, due: &str) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let ids = tx
        .loan_ids_by_external_id(&[format!("L{loan}")])
        .await
        .unwrap();
    let id = tx
        .insert_task(&NewTask {
            loan_id: ids[&format!("L{loan}")],
            kind: if queue == "followup" {
                "welcome_call".into()
            } else {
                "collection_call".into()
            },
            reason_key: format!("test:{reason}"),
            queue_code: queue.into(),
            assignee_id: None,
            created_on: d("2026-03-01"),
            due_on: d(due),
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

//! Test support shared by Huifang's crates (a dev-dependency only).
//!
//! - [`Dbs`]: fresh databases of one backend for one test — SQLite files in a temporary folder,
//!   or PostgreSQL databases created on the server named by `HUIFANG_TEST_PG_URL` and dropped at
//!   the end. A PostgreSQL test panics when the variable is unset or the server unreachable: it
//!   never passes without having run.
//! - [`on_both!`]: runs each scenario on SQLite (`sqlite::name`) and on PostgreSQL
//!   (`postgres::name`, ignored unless run with `--run-ignored all`, as `scripts/test` does);
//!   [`on_sqlite!`] on SQLite only (`sqlite_only::name`). Both take scenarios of another
//!   signature through a runner of the calling module (`on_both!(via runner; …)`).
//! - [`PgDb`]: one PostgreSQL database for a test that needs only that (also from a plain
//!   `#[test]`, with [`PgDb::create_blocking`]).
//! - [`vectors_dir`]: where the reference vectors are (`HUIFANG_VECTORS_DIR` or `../shared/vectors`).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

pub mod browser;
pub mod gateway;
pub mod receiver;

use std::path::PathBuf;

use huifang_store::{Dialect, Store};
use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;

/// The folder of the reference vectors: `HUIFANG_VECTORS_DIR`, or `shared/vectors` beside the
/// The data key of the tests' databases (a key file line, `ID HEX`).
pub const TEST_KEY_LINE: &str =
    "ktest 5f2b9c1e7a3d4086b1e2f3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

/// The tests' data keys.
pub fn test_keys() -> huifang_store::pii::Keyring {
    huifang_store::pii::Keyring::parse(TEST_KEY_LINE).expect("the test key")
}

/// repository.
pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("HUIFANG_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    }
}

/// Fresh databases of one backend for one test; PostgreSQL databases are dropped at the end.
pub struct Dbs {
    postgres: bool,
    dir: TempDir,
    made: usize,
    pg: Vec<PgDb>,
    stores: Vec<Store>,
}

impl Dbs {
    /// Databases on PostgreSQL when `postgres`, else SQLite files.
    pub fn new(postgres: bool) -> Dbs {
        Dbs {
            postgres,
            dir: TempDir::new().expect("temp dir"),
            made: 0,
            pg: Vec::new(),
            stores: Vec::new(),
        }
    }

    /// Whether these are PostgreSQL databases.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// The URL of a new, empty database (nothing connected, not migrated).
    pub async fn fresh_url(&mut self) -> String {
        self.made += 1;
        if self.postgres {
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
        }
    }

    /// A new, empty database (not migrated), with the test data key.
    pub async fn fresh(&mut self) -> Store {
        self.fresh_with_url().await.0
    }

    /// A new, empty database (not migrated) and its URL, for a test that also opens connections
    /// of its own. Panics unless the store is of this backend's dialect.
    pub async fn fresh_with_url(&mut self) -> (Store, String) {
        let url = self.fresh_url().await;
        let store = Store::connect(&url)
            .await
            .expect("connect")
            .with_keys(Some(test_keys()));
        if let Some(path) = url.strip_prefix("sqlite://") {
            // where the command line looks for the key file of this database
            let file = format!("{}.keys", path.split('?').next().unwrap_or(path));
            std::fs::write(file, format!("{TEST_KEY_LINE}\n")).expect("write the key file");
        }
        let dialect = if self.postgres {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        assert_eq!(store.dialect(), dialect);
        self.stores.push(store.clone());
        (store, url)
    }

    /// A new database with the schema applied.
    pub async fn migrated(&mut self) -> Store {
        let store = self.fresh().await;
        store.migrate().await.expect("migrate");
        store
    }

    /// The temporary folder of this test (for files it writes).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Closes every store, then drops the PostgreSQL databases.
    pub async fn finish(self) {
        for s in &self.stores {
            s.close().await;
        }
        drop(self.pg);
    }
}

/// A PostgreSQL database made for one test and dropped with it.
pub struct PgDb {
    admin_url: String,
    name: String,
    /// The database's URL.
    pub url: String,
}

fn random_hex() -> String {
    use std::hash::BuildHasher;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = std::collections::hash_map::RandomState::new().hash_one((std::process::id(), nanos));
    format!("{h:016x}")
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
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
    /// Creates a database on the server of `HUIFANG_TEST_PG_URL`; panics if it is unset or
    /// unreachable.
    pub async fn create() -> PgDb {
        let admin_url = std::env::var("HUIFANG_TEST_PG_URL").unwrap_or_else(|_| {
            panic!("HUIFANG_TEST_PG_URL is not set: this PostgreSQL test needs a server, e.g. HUIFANG_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres")
        });
        PgDb::create_on(admin_url, None).await
    }

    /// A new database on the server of `admin_url`, empty or a copy of `template`.
    async fn create_on(admin_url: String, template: Option<&str>) -> PgDb {
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at HUIFANG_TEST_PG_URL={admin_url} is unreachable: {e}")
            });
        let name = format!("huifang_t_{}", random_hex());
        let from = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}{from}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}{from}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        PgDb {
            admin_url,
            name,
            url,
        }
    }

    /// A new database made from this one as a template (no session may be open on this one);
    /// dropped as the other.
    pub fn copy_blocking(&self) -> PgDb {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(PgDb::create_on(self.admin_url.clone(), Some(&self.name)))
    }

    /// [`PgDb::create`] for a test without a runtime (a plain `#[test]`): creates the database on
    /// a runtime of its own. Must not be called from inside a runtime.
    pub fn create_blocking() -> PgDb {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(PgDb::create())
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

/// Runs `scenario` on `dbs`: the runner of [`on_both!`] and [`on_sqlite!`] for scenarios that
/// are an `async fn(&mut Dbs)`.
pub async fn run(dbs: &mut Dbs, scenario: impl AsyncFnOnce(&mut Dbs)) {
    scenario(dbs).await;
}

/// Runs each `async fn scenario(dbs: &mut Dbs)` of the calling module on SQLite (`sqlite::name`)
/// and on PostgreSQL (`postgres::name`, ignored by default).
///
/// `on_both!(via runner; a, b)` runs scenarios of another signature: `runner` is an
/// `async fn(&mut Dbs, S)` of the calling module, called with each scenario `S` (for instance
/// one that opens `dbs.fresh_with_url()` and calls an `async fn(&Store, &str)`). The
/// databases are dropped after every scenario either way.
///
/// ```text
/// async fn imports_twice(dbs: &mut huifang_testkit::Dbs) {
///     let store = dbs.migrated().await;
///     // …
/// }
/// huifang_testkit::on_both!(imports_twice);
/// ```
#[macro_export]
macro_rules! on_both {
    (via $runner:ident; $($scenario:ident),* $(,)?) => {
        $crate::__scenarios!(sqlite, false, super::$runner; $($scenario),*);
        $crate::__scenarios!(postgres, true, super::$runner; $($scenario),*);
    };
    ($($scenario:ident),* $(,)?) => {
        $crate::__scenarios!(sqlite, false, $crate::run; $($scenario),*);
        $crate::__scenarios!(postgres, true, $crate::run; $($scenario),*);
    };
}

/// Runs each `async fn scenario(dbs: &mut Dbs)` of the calling module on SQLite only
/// (`sqlite_only::name`); `on_sqlite!(via runner; …)` as with [`on_both!`].
#[macro_export]
macro_rules! on_sqlite {
    (via $runner:ident; $($scenario:ident),* $(,)?) => {
        $crate::__scenarios!(sqlite_only, false, super::$runner; $($scenario),*);
    };
    ($($scenario:ident),* $(,)?) => {
        $crate::__scenarios!(sqlite_only, false, $crate::run; $($scenario),*);
    };
}

/// The module `$module` of one test per scenario, each on fresh databases of PostgreSQL (and
/// ignored by default) when `$postgres` is `true`, else of SQLite: the expansion of [`on_both!`]
/// and [`on_sqlite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __scenarios {
    ($module:ident, $postgres:tt, $runner:path; $($scenario:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                #[cfg_attr(
                    $postgres,
                    ignore = "needs PostgreSQL: set HUIFANG_TEST_PG_URL and run with --run-ignored all / --include-ignored"
                )]
                async fn $scenario() {
                    let mut dbs = $crate::Dbs::new($postgres);
                    $runner(&mut dbs, super::$scenario).await;
                    dbs.finish().await;
                }
            )*
        }
    };
}

/// Asserts that what the store keeps beside the book equals what it is kept from: each loan's
/// open task keys (`loan_state.open_task_keys`) are its unfinished tasks' reason keys, and the
/// book's totals (`book_totals`) are the book grouped.
pub async fn assert_kept_figures_true(store: &huifang_store::Store) {
    let mut tx = store.begin().await.unwrap();
    let stale = tx.stale_open_task_keys().await.unwrap();
    let kept = tx.book_totals().await.unwrap();
    let scanned = tx.book_totals_scanned().await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        stale.is_empty(),
        "loans with stale open task keys: {stale:?}"
    );
    assert_eq!(kept, scanned, "the book's totals kept differ from the book");
}

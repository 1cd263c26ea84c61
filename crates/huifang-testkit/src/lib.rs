//! Test support shared by Huifang's crates (a dev-dependency only).
//!
//! - [`Dbs`]: fresh databases of one backend for one test — SQLite files in a temporary folder,
//!   or PostgreSQL databases created on the server named by `HUIFANG_TEST_PG_URL` and dropped at
//!   the end. A PostgreSQL test panics when the variable is unset or the server unreachable: it
//!   never passes without having run.
//! - [`on_both!`]: runs each scenario on SQLite (`sqlite::name`) and on PostgreSQL
//!   (`postgres::name`, ignored unless run with `--run-ignored all`, as `scripts/test` does).
//! - [`vectors_dir`]: where the reference vectors are (`HUIFANG_VECTORS_DIR` or `../shared/vectors`).

use std::path::PathBuf;

use huifang_store::Store;
use sqlx::{AssertSqlSafe, Connection};
use tempfile::TempDir;

/// The folder of the reference vectors: `HUIFANG_VECTORS_DIR`, or `shared/vectors` beside the
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
        Dbs { postgres, dir: TempDir::new().expect("temp dir"), made: 0, pg: Vec::new(), stores: Vec::new() }
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
            format!("sqlite://{}", self.dir.path().join(format!("db{}.sqlite", self.made)).display())
        }
    }

    /// A new, empty database (not migrated).
    pub async fn fresh(&mut self) -> Store {
        let url = self.fresh_url().await;
        let store = Store::connect(&url).await.expect("connect");
        self.stores.push(store.clone());
        store
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
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
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
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| panic!("PostgreSQL at HUIFANG_TEST_PG_URL={admin_url} is unreachable: {e}"));
        let name = format!("huifang_t_{}", random_hex());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        PgDb { admin_url, name, url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await.map_err(|e| e.to_string())?;
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

/// Runs each `async fn scenario(dbs: &mut Dbs)` of the calling module on SQLite (`sqlite::name`)
/// and on PostgreSQL (`postgres::name`, ignored by default).
#[macro_export]
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let mut dbs = $crate::Dbs::new(false);
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
                    let mut dbs = $crate::Dbs::new(true);
                    super::$scenario(&mut dbs).await;
                    dbs.finish().await;
                }
            )*
        }
    };
}

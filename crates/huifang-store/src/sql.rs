//! The SQL plumbing that every table's statements share, written once for both dialects: the
//! values bound to statements ([`Val`]) and their positional parameters; the row lists of bulk
//! statements (a `VALUES` list of parameters on SQLite, `SELECT * FROM UNNEST(…)` of one array
//! literal per column on PostgreSQL) and the [`Tx`] methods that insert or look up keys in bulk
//! with them; the join of a bulk update to its list ([`keyed_by_list`]); and the parsing of date
//! and named columns. It knows no table: the statements live with their tables' `Tx` methods.

use std::str::FromStr;

use huifang_core::Date;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row};

use crate::{Dialect, Result, StoreError, Tx};

/// SQLite limits a statement to 32,766 parameters; PostgreSQL to 65,535.
pub(crate) const MAX_PARAMS: usize = 30_000;

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Int(i64),
    Text(String),
    OptText(Option<String>),
    Float(f64),
}

macro_rules! key_vals {
    ($($key:ty),*) => {$(
        impl From<$key> for Val {
            fn from(key: $key) -> Val {
                Val::Int(key.get())
            }
        }
    )*};
}
key_vals!(
    huifang_core::LoanId,
    huifang_core::BorrowerId,
    huifang_core::TaskId,
    huifang_core::UserId
);

impl From<i64> for Val {
    fn from(n: i64) -> Val {
        Val::Int(n)
    }
}

pub(crate) fn bind_vals<'q>(
    query: Query<'q, Any, AnyArguments>,
    vals: &'q [Val],
) -> Query<'q, Any, AnyArguments> {
    // Generated statements vary with their batch size: caching each prepared form per connection
    // would only hold memory (a 30,000-parameter statement is large) and evict the useful ones.
    let mut query = query.persistent(false);
    for v in vals {
        query = match v {
            Val::Int(i) => query.bind(*i),
            Val::Text(t) => query.bind(t.as_str()),
            Val::OptText(t) => query.bind(t.as_deref()),
            Val::Float(f) => query.bind(*f),
        };
    }
    query
}

/// The `n`-th (1-based) positional parameter. SQLite gets anonymous `?` parameters: with `$n`
/// names it looks each name up in a list, which makes binding a 30,000-parameter statement
/// quadratic. Callers emit parameters in order, so `?` binds exactly like `$n`.
pub(crate) fn param(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => "?".to_string(),
        Dialect::Postgres => format!("${n}"),
    }
}

/// `count` parameters numbered from `first`, comma-separated.
pub(crate) fn param_list(dialect: Dialect, first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| param(dialect, n))
        .collect::<Vec<_>>()
        .join(",")
}

/// `rows` tuples of `cols` parameters, optionally each cast to a type.
fn placeholders(dialect: Dialect, rows: usize, cols: usize, casts: &[&str]) -> String {
    let mut out = String::with_capacity(rows * cols * 8);
    for r in 0..rows {
        if r > 0 {
            out.push(',');
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push(',');
            }
            let p = param(dialect, r * cols + c + 1);
            match casts.get(c) {
                Some(t) if !t.is_empty() => out.push_str(&format!("CAST({p} AS {t})")),
                _ => out.push_str(&p),
            }
        }
        out.push(')');
    }
    out
}

/// The statements that insert `rows` into `table`, each followed by `tail`; with their
/// parameters, made one at a time (see [`row_lists`]).
fn insert_statements<'a>(
    dialect: Dialect,
    table: &'a str,
    cols: &'a [&'a str],
    rows: &'a [Vec<Val>],
    tail: &'a str,
) -> impl Iterator<Item = (String, Vec<Val>)> + Send + 'a {
    row_lists(dialect, cols.len(), rows, &[], 0).map(move |(list, vals)| {
        let sql = format!("INSERT INTO {table} ({}) {list} {tail}", cols.join(","));
        (sql, vals)
    })
}

/// `rows` (each `cols` wide) as the row lists of bulk statements (`INSERT … list`,
/// `WITH v (…) AS (list) UPDATE …`), with their parameters; the statement's own `extra`
/// parameters come after them (`param(dialect, vals.len() + 1)`…). Each column is cast to its
/// `casts` entry when one is given.
/// - SQLite: `VALUES (…), …` lists of as many rows as the parameter limit allows.
/// - PostgreSQL: one `SELECT * FROM UNNEST(…)` of one array parameter per column
///   ([`pg_arrays`]), whatever the row count: the statement's text is the same for every batch,
///   so each connection parses and plans it once.
pub(crate) fn row_lists<'a>(
    dialect: Dialect,
    cols: usize,
    rows: &'a [Vec<Val>],
    casts: &'a [&'a str],
    extra: usize,
) -> Box<dyn Iterator<Item = (String, Vec<Val>)> + Send + 'a> {
    match dialect {
        Dialect::Postgres if rows.is_empty() => Box::new(std::iter::empty()),
        Dialect::Postgres => {
            let (types, arrays) = pg_arrays(cols, rows);
            let unnest = types
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = casts.get(i).filter(|c| !c.is_empty()).unwrap_or(t);
                    format!("CAST(${} AS {t}[])", i + 1)
                })
                .collect::<Vec<_>>()
                .join(", ");
            Box::new(std::iter::once((
                format!("SELECT * FROM UNNEST({unnest})"),
                arrays,
            )))
        }
        Dialect::Sqlite => {
            let per_chunk = (MAX_PARAMS.saturating_sub(extra) / cols).max(1);
            Box::new(rows.chunks(per_chunk).map(move |chunk| {
                let list = placeholders(dialect, chunk.len(), cols, casts);
                (
                    format!("VALUES {list}"),
                    chunk.iter().flatten().cloned().collect(),
                )
            }))
        }
    }
}

/// The columns of `rows` (each `cols` wide) as PostgreSQL array literals, one text parameter
/// per column (`{1,2}`, `{"a","b \"c\"",NULL}`), with each column's element type (`BIGINT` or
/// `TEXT`, after its first row). A statement casts each parameter to its array type.
fn pg_arrays(cols: usize, rows: &[Vec<Val>]) -> (Vec<&'static str>, Vec<Val>) {
    let types = (0..cols)
        .map(|c| pg_type(rows.first().and_then(|r| r.get(c))))
        .collect();
    // Every row is `cols` wide (the callers build them so); a short one would give NULLs.
    const NULL: &Val = &Val::OptText(None);
    let arrays = (0..cols)
        .map(|c| Val::Text(pg_array(rows.iter().map(|r| r.get(c).unwrap_or(NULL)))))
        .collect();
    (types, arrays)
}

/// The PostgreSQL element type of a column whose first value is `first`.
fn pg_type(first: Option<&Val>) -> &'static str {
    match first {
        Some(Val::Int(_)) => "BIGINT",
        Some(Val::Float(_)) => "DOUBLE PRECISION",
        _ => "TEXT",
    }
}

/// One PostgreSQL array literal of these values.
pub(crate) fn pg_array<'v>(vals: impl Iterator<Item = &'v Val>) -> String {
    let mut out = String::from("{");
    for (i, v) in vals.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            Val::Int(n) => out.push_str(&n.to_string()),
            Val::Text(t) | Val::OptText(Some(t)) => {
                out.push('"');
                for ch in t.chars() {
                    if ch == '"' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push('"');
            }
            Val::OptText(None) => out.push_str("NULL"),
            // the shortest text that reads back as the same number
            Val::Float(f) => out.push_str(&format!("{f:?}")),
        }
    }
    out.push('}');
    out
}

/// The condition of a bulk `UPDATE target … FROM v`, where `v` is a `VALUES` list: each pair is
/// (target column, list column), and a list column holds text when its name is in `text`. The
/// list's side is wrapped (`+n`, `t || ''`) so that SQLite cannot build an automatic index on
/// the list; it then walks the list and finds each target row by the target's key. Given that
/// index, SQLite 3.51 planned lists of about 300–2,000 rows as a scan of the whole target
/// (docs/PERFORMANCE.md). PostgreSQL still finds the rows by the target's key.
pub(crate) fn keyed_by_list(target: &str, pairs: &[(&str, &str)], text: &[&str]) -> String {
    pairs
        .iter()
        .map(|(t, v)| {
            if text.contains(v) {
                format!("{target}.{t} = v.{v} || ''")
            } else {
                format!("{target}.{t} = +v.{v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

pub(crate) fn date_text(d: Date) -> String {
    // `Display` writes YYYY-MM-DD directly; `format("%Y-%m-%d")` parses its pattern on every call.
    d.to_string()
}

pub(crate) fn parse_date_col(s: &str) -> Result<Date> {
    huifang_core::calendar::parse_date(s)
        .ok_or_else(|| StoreError::Corrupt(format!("bad date {s:?}")))
}

/// A text column parsed into the core type it names (a role, a task state, a strategy): an
/// unknown value is an error naming the column, never a string passed on.
pub(crate) fn named_col<T>(r: &AnyRow, index: usize, column: &'static str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let value: String = r.try_get(index)?;
    value.parse().map_err(|e: T::Err| StoreError::Column {
        column,
        reason: e.to_string(),
        value,
    })
}

pub(crate) fn opt_date_col(s: Option<String>) -> Result<Option<Date>> {
    s.map(|s| parse_date_col(&s)).transpose()
}

impl Tx {
    pub(crate) async fn insert_rows(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: Vec<Vec<Val>>,
    ) -> Result<()> {
        self.upsert_rows(table, cols, rows, "").await.map(|_| ())
    }

    /// Inserts rows in statements of many rows each, `on_conflict` (an `ON CONFLICT` clause, or
    /// nothing) saying what a row whose key exists does. Returns how many rows were written.
    pub(crate) async fn upsert_rows(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: Vec<Vec<Val>>,
        on_conflict: &str,
    ) -> Result<u64> {
        let mut written = 0;
        for (sql, flat) in insert_statements(self.dialect, table, cols, &rows, on_conflict) {
            written += self
                .bulk_query(sql, &flat)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        }
        Ok(written)
    }

    /// `upsert_rows` ending in `returning` (a `RETURNING` clause): the rows it returns.
    pub(crate) async fn upsert_rows_returning(
        &mut self,
        table: &str,
        cols: &[&str],
        rows: Vec<Vec<Val>>,
        on_conflict: &str,
        returning: &str,
    ) -> Result<Vec<AnyRow>> {
        let tail = format!("{on_conflict} {returning}");
        let mut out = Vec::new();
        for (sql, flat) in insert_statements(self.dialect, table, cols, &rows, &tail) {
            out.extend(self.bulk_query(sql, &flat).fetch_all(&mut *self.tx).await?);
        }
        Ok(out)
    }

    /// A statement made of [`row_lists`] with its parameters. On PostgreSQL its text does not
    /// depend on the row count, so it is kept prepared on the connection.
    pub(crate) fn bulk_query<'q>(
        &self,
        sql: String,
        vals: &'q [Val],
    ) -> Query<'q, Any, AnyArguments> {
        bind_vals(sqlx::query(AssertSqlSafe(sql)), vals)
            .persistent(self.dialect == Dialect::Postgres)
    }

    /// Rows of `sql_prefix` (ending in `column IN`) for every key, then `sql_suffix`. SQLite
    /// gets lists of parameters; PostgreSQL one array parameter, unnested.
    pub(crate) async fn fetch_in<T>(
        &mut self,
        sql_prefix: &str,
        sql_suffix: &str,
        keys: &[Val],
        mut map: impl FnMut(&AnyRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        if keys.is_empty() {
            return Ok(out);
        }
        let statements: Vec<(String, Vec<Val>)> = match self.dialect {
            Dialect::Postgres => {
                // A subquery, not `= ANY(CAST($1 …))`: the cast from text is not folded into a
                // constant when the statement is planned, so a scan that tests every row would
                // parse the whole array once per row (an import's lookup of 20,000 keys took
                // minutes). The subquery unnests it once, and the planner joins on it. Unlike
                // the inserts, these are planned at each run (not kept prepared), for the
                // tables as they are now: an import grows them from nothing.
                let t = pg_type(keys.first());
                vec![(
                    format!("{sql_prefix} (SELECT unnest(CAST($1 AS {t}[]))) {sql_suffix}"),
                    vec![Val::Text(pg_array(keys.iter()))],
                )]
            }
            Dialect::Sqlite => keys
                .chunks(MAX_PARAMS / 2)
                .map(|chunk| {
                    let list = param_list(self.dialect, 1, chunk.len());
                    (
                        format!("{sql_prefix} ({list}) {sql_suffix}"),
                        chunk.to_vec(),
                    )
                })
                .collect(),
        };
        for (sql, vals) in statements {
            let rows = bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
                .fetch_all(&mut *self.tx)
                .await?;
            for row in &rows {
                out.push(map(row)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite's plan of each step of a statement (`EXPLAIN QUERY PLAN`).
    fn plan(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = st.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            steps.push(row.get::<_, String>(3).unwrap());
        }
        steps
    }

    #[test]
    fn bulk_updates_find_their_rows_by_key_whatever_the_list_length() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE s (id INTEGER PRIMARY KEY, d TEXT);
             CREATE TABLE t (id INTEGER PRIMARY KEY, k BIGINT, r TEXT, st TEXT, UNIQUE (k, r));
             CREATE INDEX t_open ON t (k, r, st) WHERE st <> 'done';",
        )
        .unwrap();
        for rows in [1, 10, 300, 500, 1_000, 1_520, 1_999, 2_000, 5_000] {
            let by_id = format!(
                "WITH v (id, d) AS (VALUES {}) UPDATE s SET d = v.d FROM v WHERE {}",
                placeholders(Dialect::Sqlite, rows, 2, &["BIGINT", "TEXT"]),
                keyed_by_list("s", &[("id", "id")], &[])
            );
            let by_pair = format!(
                "WITH v (k, r) AS (VALUES {}) UPDATE t SET st = 'done' FROM v WHERE {} AND t.st <> 'done'",
                placeholders(Dialect::Sqlite, rows, 2, &["BIGINT", "TEXT"]),
                keyed_by_list("t", &[("k", "k"), ("r", "r")], &["r"])
            );
            for (sql, target) in [(by_id, "s"), (by_pair, "t")] {
                let steps = plan(&conn, &sql);
                assert!(
                    steps
                        .iter()
                        .any(|s| s.starts_with(&format!("SEARCH {target} "))),
                    "{rows} rows: {steps:?}"
                );
                assert!(
                    !steps
                        .iter()
                        .any(|s| s.starts_with(&format!("SCAN {target}"))),
                    "{rows} rows: {steps:?}"
                );
            }
        }
    }
}

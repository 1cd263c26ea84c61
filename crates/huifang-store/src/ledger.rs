//! Storage of the tamper-evident record: the leaves of the RFC 6962 Merkle log, the hashes of
//! its complete subtrees, the writer's frontier, signed checkpoints, registered documents, and
//! the salted rows of the logged tables.
//!
//! Appending costs O(1) amortised (O(log n) at worst) node rows per leaf, written in batches in
//! the caller's transaction; the single `ledger_state` row serialises appenders (PostgreSQL row
//! lock, SQLite write lock). Proofs and roots read O(log² n) stored subtree hashes at most, in
//! one or two queries ([`Tx::ledger_prove`]).
//!
//! The store knows how leaves are *stored*, not how records are *encoded*: the leaf bytes come
//! from the caller (huifang-app), built with `huifang_ledger::leaf_bytes`.

use std::cell::RefCell;
use std::collections::HashMap;

use huifang_core::{BorrowerId, Date, LoanId, TaskId, UserId};
use huifang_ledger::{Hash, HashSource, LedgerError, leaf_hash, node_hash};
use sqlx::{AssertSqlSafe, Row};

use crate::codec::encode_op;
use crate::sql::{MAX_PARAMS, Val, bind_vals, date_text, param, parse_date_col, row_lists};
use crate::{NewOp, Result, StoreError, Tx, WarningRecord, WarningStep};

/// A leaf: the record it logs and its canonical bytes (what is appended, and what a
/// [`LeafRecord`] holds besides its index and hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub kind: String,
    pub record_id: i64,
    pub bytes: Vec<u8>,
}

/// A stored leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRecord {
    pub index: u64,
    pub hash: Hash,
    pub leaf: Leaf,
}

/// A stored signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRecord {
    pub id: i64,
    pub size: u64,
    pub root: Hash,
    /// The signed note text.
    pub note: String,
    pub business_date: Date,
}

/// How a logged record kind is read back from its table: the table, the column holding the
/// record's business date, and the columns of its canonical fields in order, each as
/// `(field name, SQL column)`. The table has an integer `id` and a `salt` TEXT column.
///
/// The strings are static SQL fragments written by programmers, never user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedTable {
    pub kind: &'static str,
    pub table: &'static str,
    pub date_column: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}

impl LoggedTable {
    /// `CAST(date AS TEXT), CAST(f1 AS TEXT), …` with the given table alias.
    fn select_list(&self, alias: &str) -> String {
        let mut cols = vec![format!("CAST({alias}.{} AS TEXT)", self.date_column)];
        cols.extend(
            self.fields
                .iter()
                .map(|(_, col)| format!("CAST({alias}.{col} AS TEXT)")),
        );
        cols.join(", ")
    }
}

/// A logged record as read back from its table: everything its leaf is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub id: i64,
    pub salt: Option<String>,
    pub date: String,
    /// One value per field of the table's [`LoggedTable::fields`], in order.
    pub values: Vec<Option<String>>,
}

/// A record as the audit reads it back from its table.
#[derive(Debug)]
pub struct ScannedRecord<'r> {
    pub id: i64,
    pub salt: Option<&'r str>,
    pub date: &'r str,
    pub values: &'r [Option<&'r str>],
}

/// A stored leaf as the audit reads it.
#[derive(Debug)]
pub struct ScannedLeaf<'r> {
    pub index: i64,
    pub kind: &'r str,
    pub record_id: i64,
    /// The stored hex text, unchecked (it need not be UTF-8 if tampered with).
    pub leaf_hex: &'r [u8],
    pub leaf_hash: &'r [u8],
}

/// A document: what is registered, and what a [`DocumentRecord`] holds besides its key and its
/// owner's external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `loan` or `borrower`.
    pub owner_kind: String,
    pub owner_id: i64,
    /// `income_proof`, `contract`, `id_scan` or `other`.
    pub kind: String,
    pub file_name: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    pub size_bytes: u64,
    pub salt: String,
    pub registered_on: Date,
}

/// A registered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    pub id: i64,
    /// The owner's external id (loan or borrower), if it still exists.
    pub owner_external_id: Option<String>,
    pub document: Document,
}

fn hash_from_hex(text: &str) -> Result<Hash> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| StoreError::Corrupt(format!("bad hash {text:?}")))?;
    Ok(out)
}

fn to_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} does not fit in BIGINT")))
}

fn to_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative size or index {v}")))
}

fn parse_frontier(size: u64, text: &str) -> Result<Vec<Hash>> {
    let count = usize::try_from(size.count_ones()).unwrap_or(64); // at most 64
    if text.len() != count * 64 {
        return Err(StoreError::Corrupt(format!(
            "ledger frontier of size {size} has {} hex digits, expected {}",
            text.len(),
            count * 64
        )));
    }
    (0..count)
        .map(|i| hash_from_hex(&text[i * 64..(i + 1) * 64]))
        .collect()
}

fn leaf_from_row(row: &sqlx::any::AnyRow) -> Result<LeafRecord> {
    let bytes_hex: String = row.try_get(3)?;
    Ok(LeafRecord {
        index: to_u64(row.try_get(0)?)?,
        hash: hash_from_hex(&row.try_get::<String, _>(4)?)?,
        leaf: Leaf {
            kind: row.try_get(1)?,
            record_id: row.try_get(2)?,
            bytes: hex::decode(&bytes_hex)
                .map_err(|_| StoreError::Corrupt(format!("bad leaf bytes {bytes_hex:?}")))?,
        },
    })
}

/// The ids of rows returned as (id, salt), in the order of `salts` (each unique).
fn ids_by_salt<'s>(
    returned: Vec<sqlx::any::AnyRow>,
    salts: impl Iterator<Item = &'s String>,
    what: &str,
) -> Result<Vec<i64>> {
    let mut by_salt: HashMap<String, i64> = HashMap::with_capacity(returned.len());
    for r in returned {
        by_salt.insert(r.try_get(1)?, r.try_get(0)?);
    }
    salts
        .map(|salt| {
            by_salt
                .get(salt)
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("{what} salts must be unique")))
        })
        .collect()
}

fn checkpoint_from_row(row: &sqlx::any::AnyRow) -> Result<CheckpointRecord> {
    Ok(CheckpointRecord {
        id: row.try_get(0)?,
        size: to_u64(row.try_get(1)?)?,
        root: hash_from_hex(&row.try_get::<String, _>(2)?)?,
        note: row.try_get(3)?,
        business_date: parse_date_col(&row.try_get::<String, _>(4)?)?,
    })
}

const CHECKPOINT_COLUMNS: &str = "id, tree_size, root_hex, note, business_date";
const DOCUMENT_COLUMNS: &str = "d.id, d.owner_kind, d.owner_id, COALESCE(l.external_id, b.external_id), d.kind, d.file_name, d.sha256, d.size_bytes, d.salt, d.registered_on";
const DOCUMENT_FROM: &str = "documents d LEFT JOIN loans l ON d.owner_kind = 'loan' AND l.id = d.owner_id LEFT JOIN borrowers b ON d.owner_kind = 'borrower' AND b.id = d.owner_id";

fn document_from_row(row: &sqlx::any::AnyRow) -> Result<DocumentRecord> {
    Ok(DocumentRecord {
        id: row.try_get(0)?,
        owner_external_id: row.try_get(3)?,
        document: Document {
            owner_kind: row.try_get(1)?,
            owner_id: row.try_get(2)?,
            kind: row.try_get(4)?,
            file_name: row.try_get(5)?,
            sha256: row.try_get(6)?,
            size_bytes: to_u64(row.try_get(7)?)?,
            salt: row.try_get(8)?,
            registered_on: parse_date_col(&row.try_get::<String, _>(9)?)?,
        },
    })
}

/// Records (or nodes) packed into one fetched row by the verification scans.
pub const SCAN_CHUNK: i64 = 5_000;

/// Takes one `<len>:<text>` (or `-` for NULL) field off the front of a packed scan row.
fn take_packed<'a>(rest: &mut &'a str) -> Result<Option<&'a str>> {
    let bad = || StoreError::Corrupt("malformed packed scan row".into());
    if let Some(after) = rest.strip_prefix('-') {
        *rest = after;
        return Ok(None);
    }
    let (len, after) = rest.split_once(':').ok_or_else(bad)?;
    let len: usize = len.parse().map_err(|_| bad())?;
    let value = after.get(..len).ok_or_else(bad)?;
    *rest = after.get(len..).ok_or_else(bad)?;
    Ok(Some(value))
}

fn parse_packed_int(field: Option<&str>) -> Result<i64> {
    field
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("malformed integer in a packed scan row".into()))
}

/// A source that records which subtrees a computation asks for and answers zeros: proof and
/// root computations never branch on hash values, so a first dry run names every node needed.
struct Recorder(RefCell<Vec<(u32, u64)>>);

impl HashSource for Recorder {
    fn subtree_hash(&self, level: u32, index: u64) -> std::result::Result<Hash, LedgerError> {
        self.0.borrow_mut().push((level, index));
        Ok([0u8; 32])
    }
}

impl Tx {
    // ----- the log --------------------------------------------------------------------------

    /// The tree size and its frontier (right-edge subtree hashes, largest first).
    pub async fn ledger_head(&mut self) -> Result<(u64, Vec<Hash>)> {
        let row = sqlx::query("SELECT tree_size, frontier FROM ledger_state WHERE id = 1")
            .fetch_one(&mut *self.tx)
            .await?;
        let size = to_u64(row.try_get(0)?)?;
        let frontier = parse_frontier(size, &row.try_get::<String, _>(1)?)?;
        Ok((size, frontier))
    }

    /// The number of leaves.
    pub async fn ledger_size(&mut self) -> Result<u64> {
        Ok(self.ledger_head().await?.0)
    }

    /// Takes the log's append lock until the transaction ends (the lock `ledger_append` takes
    /// first), once: a write that will log records takes it before it reads what it records
    /// from, so that such writes are serialised in one order, the log's.
    pub async fn lock_ledger(&mut self) -> Result<()> {
        if !self.ledger_held {
            sqlx::query("UPDATE ledger_state SET tree_size = tree_size WHERE id = 1")
                .execute(&mut *self.tx)
                .await?;
            self.ledger_held = true;
        }
        Ok(())
    }

    /// Appends leaves in order and returns the index of the first. Writes one row per leaf and
    /// one per subtree the leaf completes (one on average), in batched statements; locks the
    /// log until the transaction ends.
    pub async fn ledger_append(&mut self, leaves: &[Leaf]) -> Result<u64> {
        // Taking the row lock first serialises appenders on PostgreSQL; SQLite holds its
        // database write lock from this statement on.
        let row = sqlx::query(
            "UPDATE ledger_state SET tree_size = tree_size WHERE id = 1 RETURNING tree_size, frontier",
        )
        .fetch_one(&mut *self.tx)
        .await?;
        self.ledger_held = true;
        let first = to_u64(row.try_get(0)?)?;
        if leaves.is_empty() {
            return Ok(first);
        }
        let mut frontier = parse_frontier(first, &row.try_get::<String, _>(1)?)?;
        let mut size = first;
        let mut leaf_rows = Vec::with_capacity(leaves.len());
        let mut node_rows = Vec::with_capacity(leaves.len() + 64);
        for leaf in leaves {
            let hash = leaf_hash(&leaf.bytes);
            leaf_rows.push(vec![
                Val::Int(to_i64(size)?),
                Val::Text(leaf.kind.clone()),
                Val::Int(leaf.record_id),
                Val::Text(hex::encode(&leaf.bytes)),
                Val::Text(hex::encode(hash)),
            ]);
            // Frontier append that also emits every complete subtree it forms.
            let (mut acc, mut position, mut level) = (hash, size, 0i64);
            while position & 1 == 1 {
                let left = frontier.pop().ok_or_else(|| {
                    StoreError::Corrupt("ledger frontier shorter than its size".into())
                })?;
                acc = node_hash(&left, &acc);
                position >>= 1;
                level += 1;
                node_rows.push(vec![
                    Val::Int(level),
                    Val::Int(to_i64(position)?),
                    Val::Text(hex::encode(acc)),
                ]);
            }
            frontier.push(acc);
            size += 1;
        }
        self.insert_rows(
            "ledger_leaves",
            &["leaf_index", "kind", "record_id", "leaf_hex", "leaf_hash"],
            leaf_rows,
        )
        .await?;
        self.insert_rows("ledger_nodes", &["level", "node_index", "hash"], node_rows)
            .await?;
        let frontier_hex: String = frontier.iter().map(hex::encode).collect();
        sqlx::query("UPDATE ledger_state SET tree_size = $1, frontier = $2 WHERE id = 1")
            .bind(to_i64(size)?)
            .bind(frontier_hex)
            .execute(&mut *self.tx)
            .await?;
        Ok(first)
    }

    /// Leaves `start..end` (clamped to the tree), in order.
    pub async fn ledger_leaves(&mut self, start: u64, end: u64) -> Result<Vec<LeafRecord>> {
        let rows = sqlx::query("SELECT leaf_index, kind, record_id, leaf_hex, leaf_hash FROM ledger_leaves WHERE leaf_index >= $1 AND leaf_index < $2 ORDER BY leaf_index")
            .bind(to_i64(start)?)
            .bind(i64::try_from(end).unwrap_or(i64::MAX))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(leaf_from_row).collect()
    }

    /// The leaf that logs a record, if any.
    pub async fn ledger_leaf_of(
        &mut self,
        kind: &str,
        record_id: i64,
    ) -> Result<Option<LeafRecord>> {
        let row = sqlx::query("SELECT leaf_index, kind, record_id, leaf_hex, leaf_hash FROM ledger_leaves WHERE kind = $1 AND record_id = $2")
            .bind(kind)
            .bind(record_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(leaf_from_row).transpose()
    }

    /// Stored hashes of complete subtrees, keyed by `(level, index)`; level 0 are leaf hashes.
    /// Fails with [`StoreError::Corrupt`] if one is missing.
    pub async fn ledger_subtrees(
        &mut self,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Hash>> {
        let mut out = HashMap::with_capacity(keys.len());
        let mut leaves: Vec<Val> = Vec::new();
        let mut nodes: Vec<(u32, u64)> = Vec::new();
        for &(level, index) in keys {
            if level == 0 {
                leaves.push(Val::Int(to_i64(index)?));
            } else {
                nodes.push((level, index));
            }
        }
        leaves.sort_by_key(|v| if let Val::Int(i) = v { *i } else { 0 });
        leaves.dedup_by_key(|v| if let Val::Int(i) = v { *i } else { 0 });
        nodes.sort_unstable();
        nodes.dedup();
        let found = self
            .fetch_in(
                "SELECT leaf_index, leaf_hash FROM ledger_leaves WHERE leaf_index IN",
                "",
                &leaves,
                |r| {
                    Ok((
                        to_u64(r.try_get(0)?)?,
                        hash_from_hex(&r.try_get::<String, _>(1)?)?,
                    ))
                },
            )
            .await?;
        out.extend(found.into_iter().map(|(i, h)| ((0u32, i), h)));
        for chunk in nodes.chunks(MAX_PARAMS / 2) {
            let mut sql = String::from("SELECT level, node_index, hash FROM ledger_nodes WHERE ");
            let mut vals = Vec::with_capacity(chunk.len() * 2);
            for (n, (level, index)) in chunk.iter().enumerate() {
                if n > 0 {
                    sql.push_str(" OR ");
                }
                sql.push_str(&format!(
                    "(level = {} AND node_index = {})",
                    param(self.dialect, 2 * n + 1),
                    param(self.dialect, 2 * n + 2)
                ));
                vals.push(Val::Int(i64::from(*level)));
                vals.push(Val::Int(to_i64(*index)?));
            }
            let rows = bind_vals(sqlx::query(AssertSqlSafe(sql)), &vals)
                .fetch_all(&mut *self.tx)
                .await?;
            for r in &rows {
                let level = u32::try_from(r.try_get::<i64, _>(0)?)
                    .map_err(|_| StoreError::Corrupt("bad node level".into()))?;
                out.insert(
                    (level, to_u64(r.try_get(1)?)?),
                    hash_from_hex(&r.try_get::<String, _>(2)?)?,
                );
            }
        }
        if let Some((level, index)) = keys.iter().find(|k| !out.contains_key(k)) {
            return Err(StoreError::Corrupt(format!(
                "ledger subtree ({level}, {index}) is missing"
            )));
        }
        Ok(out)
    }

    /// Runs a proof or root computation over the stored tree, for a tree of `size` leaves: a
    /// dry run names the subtrees needed, one or two queries fetch them, and the computation
    /// runs again on them. The outer error is the database's; the inner one the computation's
    /// (an index out of range, …). A `size` beyond the tree is refused with
    /// [`LedgerError::SizeOrder`].
    pub async fn ledger_prove<T>(
        &mut self,
        size: u64,
        compute: impl Fn(&dyn HashSource) -> std::result::Result<T, LedgerError>,
    ) -> Result<std::result::Result<T, LedgerError>> {
        let tree_size = self.ledger_size().await?;
        if size > tree_size {
            return Ok(Err(LedgerError::SizeOrder {
                first: size,
                second: tree_size,
            }));
        }
        let recorder = Recorder(RefCell::new(Vec::new()));
        if let Err(e) = compute(&recorder) {
            return Ok(Err(e));
        }
        let keys = recorder.0.into_inner();
        let hashes = self.ledger_subtrees(&keys).await?;
        let source = |level: u32, index: u64| -> std::result::Result<Hash, LedgerError> {
            hashes
                .get(&(level, index))
                .copied()
                .ok_or(LedgerError::SubtreeUnavailable { level, index, size })
        };
        Ok(compute(&source))
    }

    // ----- checkpoints ------------------------------------------------------------------------

    /// Stores a signed checkpoint.
    pub async fn ledger_insert_checkpoint(
        &mut self,
        size: u64,
        root: &Hash,
        note: &str,
        business_date: Date,
    ) -> Result<i64> {
        let row = sqlx::query("INSERT INTO ledger_checkpoints (tree_size, root_hex, note, business_date) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(to_i64(size)?)
            .bind(hex::encode(root))
            .bind(note)
            .bind(date_text(business_date))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The latest checkpoint.
    pub async fn ledger_latest_checkpoint(&mut self) -> Result<Option<CheckpointRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY id DESC LIMIT 1"
        )))
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(checkpoint_from_row).transpose()
    }

    /// Every checkpoint, oldest first.
    pub async fn ledger_checkpoints(&mut self) -> Result<Vec<CheckpointRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM ledger_checkpoints ORDER BY id"
        )))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    // ----- logged records ---------------------------------------------------------------------

    /// Reads back logged records by id, in id order.
    pub async fn ledger_records(
        &mut self,
        table: &LoggedTable,
        ids: &[i64],
    ) -> Result<Vec<RawRecord>> {
        let keys: Vec<Val> = ids.iter().map(|id| Val::Int(*id)).collect();
        let prefix = format!(
            "SELECT r.id, r.salt, {} FROM {} r WHERE r.id IN",
            table.select_list("r"),
            table.table
        );
        let width = table.fields.len();
        self.fetch_in(&prefix, "ORDER BY r.id", &keys, |r| {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(r.try_get::<Option<String>, _>(3 + i)?);
            }
            Ok(RawRecord {
                id: r.try_get(0)?,
                salt: r.try_get(1)?,
                date: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                values,
            })
        })
        .await
    }

    /// Ids of the records of a table that no leaf logs, in id order.
    pub async fn ledger_unlogged_ids(&mut self, table: &LoggedTable) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT r.id FROM {} r WHERE NOT EXISTS (SELECT 1 FROM ledger_leaves l WHERE l.kind = $1 AND l.record_id = r.id) ORDER BY r.id",
            table.table
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(table.kind)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
    }

    /// Gives a record logged before it had a salt its salt (only if it has none).
    pub async fn ledger_set_salt(
        &mut self,
        table: &LoggedTable,
        id: i64,
        salt: &str,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET salt = $1 WHERE id = $2 AND salt IS NULL",
            table.table
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(salt)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// `<byte length>:<text>` of an expression cast to text, or `-` when it is NULL: fields
    /// packed into one string so a scan moves thousands of records per row fetched.
    fn packed(&self, expr: &str) -> String {
        let text = format!("CAST({expr} AS TEXT)");
        match self.dialect {
            crate::Dialect::Sqlite => {
                format!("COALESCE(octet_length({text}) || ':' || {text}, '-')")
            }
            crate::Dialect::Postgres => {
                format!("COALESCE(octet_length({text}) || ':' || {text}, '-')")
            }
        }
    }

    fn string_agg(&self, expr: &str) -> String {
        match self.dialect {
            crate::Dialect::Sqlite => format!("group_concat({expr}, '')"),
            crate::Dialect::Postgres => format!("string_agg({expr}, '')"),
        }
    }

    /// The full audit's scan: every record of each table (to `on_record`, with the table's
    /// position in `tables`, in id order) and every leaf (to `on_leaf`, in index order). On a
    /// SQLite file the two run in parallel on two read-only connections; the records' snapshot
    /// is taken first, so every record seen has its leaf in the leaves' snapshot. Elsewhere they
    /// run in this transaction, records packed [`SCAN_CHUNK`] per fetched row.
    pub async fn ledger_audit_scan<L, R>(
        &mut self,
        tables: &[LoggedTable],
        mut on_leaf: L,
        mut on_record: R,
    ) -> Result<()>
    where
        L: FnMut(ScannedLeaf<'_>) + Send,
        R: FnMut(usize, ScannedRecord<'_>) + Send,
    {
        if let Some(file) = self.sqlite_file() {
            return fast_audit_scan(&file, tables, &mut on_leaf, &mut on_record);
        }
        for (position, table) in tables.iter().enumerate() {
            self.scan_records_packed(table, |r| on_record(position, r))
                .await?;
        }
        self.scan_leaves_packed(on_leaf).await
    }

    async fn scan_records_packed(
        &mut self,
        table: &LoggedTable,
        mut each: impl FnMut(ScannedRecord<'_>),
    ) -> Result<()> {
        let width = table.fields.len();
        let mut parts = vec![
            self.packed("r.id"),
            self.packed("r.salt"),
            self.packed(&format!("r.{}", table.date_column)),
        ];
        parts.extend(
            table
                .fields
                .iter()
                .map(|(_, col)| self.packed(&format!("r.{col}"))),
        );
        let sql = format!(
            "SELECT {}, CAST(COUNT(*) AS BIGINT), CAST(MAX(id) AS BIGINT) FROM (SELECT r.id AS id, {} AS rec FROM {} r WHERE r.id > $1 ORDER BY r.id LIMIT $2) t",
            self.string_agg("rec"),
            parts.join(" || "),
            table.table
        );
        self.scan_packed(&sql, i64::MIN, |packed, count| {
            let mut rest = packed;
            let mut values: Vec<Option<&str>> = Vec::with_capacity(width);
            for _ in 0..count {
                let id = parse_packed_int(take_packed(&mut rest)?)?;
                let salt = take_packed(&mut rest)?;
                let date = take_packed(&mut rest)?.unwrap_or_default();
                values.clear();
                for _ in 0..width {
                    values.push(take_packed(&mut rest)?);
                }
                each(ScannedRecord {
                    id,
                    salt,
                    date,
                    values: &values,
                });
            }
            Ok(())
        })
        .await
    }

    async fn scan_leaves_packed(&mut self, mut each: impl FnMut(ScannedLeaf<'_>)) -> Result<()> {
        let rec = ["leaf_index", "kind", "record_id", "leaf_hex", "leaf_hash"]
            .map(|c| self.packed(c))
            .join(" || ");
        let sql = format!(
            "SELECT {}, CAST(COUNT(*) AS BIGINT), CAST(MAX(leaf_index) AS BIGINT) FROM (SELECT leaf_index, {rec} AS rec FROM ledger_leaves WHERE leaf_index > $1 ORDER BY leaf_index LIMIT $2) t",
            self.string_agg("rec"),
        );
        self.scan_packed(&sql, -1, |packed, count| {
            let mut rest = packed;
            for _ in 0..count {
                let index = parse_packed_int(take_packed(&mut rest)?)?;
                let kind = take_packed(&mut rest)?.unwrap_or_default();
                let record_id = parse_packed_int(take_packed(&mut rest)?)?;
                let leaf_hex = take_packed(&mut rest)?.unwrap_or_default().as_bytes();
                let leaf_hash = take_packed(&mut rest)?.unwrap_or_default().as_bytes();
                each(ScannedLeaf {
                    index,
                    kind,
                    record_id,
                    leaf_hex,
                    leaf_hash,
                });
            }
            Ok(())
        })
        .await
    }

    /// Runs a packed scan: `sql` returns, for the keys after `$1` (at most `$2` = [`SCAN_CHUNK`]
    /// rows), the rows packed into one text, their count and the last key. `parse` reads each
    /// chunk's text, given its row count.
    async fn scan_packed(
        &mut self,
        sql: &str,
        first_after: i64,
        mut parse: impl FnMut(&str, i64) -> Result<()>,
    ) -> Result<()> {
        let mut after = first_after;
        loop {
            let row = sqlx::query(AssertSqlSafe(sql.to_string()))
                .bind(after)
                .bind(SCAN_CHUNK)
                .fetch_one(&mut *self.tx)
                .await?;
            let count: i64 = row.try_get(1)?;
            if count == 0 {
                return Ok(());
            }
            let packed: String = row.try_get::<Option<String>, _>(0)?.unwrap_or_default();
            parse(&packed, count)?;
            after = row.try_get(2)?;
            if count < SCAN_CHUNK {
                return Ok(());
            }
        }
    }

    /// Streams every stored subtree hash of height ≥ 1: `(level, index, hash hex)`, packed
    /// [`SCAN_CHUNK`] per fetched row.
    pub async fn ledger_scan_nodes(&mut self, mut each: impl FnMut(i64, i64, &str)) -> Result<()> {
        if let Some(file) = self.sqlite_file() {
            return fast_scan_nodes(&file, &mut each);
        }
        let rec = [
            self.packed("level"),
            self.packed("node_index"),
            self.packed("hash"),
        ]
        .join(" || ");
        let sql = format!(
            "SELECT {}, CAST(COUNT(*) AS BIGINT) FROM (SELECT {rec} AS rec FROM ledger_nodes WHERE (level, node_index) > ($1, $2) ORDER BY level, node_index LIMIT $3) t",
            self.string_agg("rec"),
        );
        let (mut level, mut index) = (0i64, i64::MIN);
        loop {
            let row = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(level)
                .bind(index)
                .bind(SCAN_CHUNK)
                .fetch_one(&mut *self.tx)
                .await?;
            let count: i64 = row.try_get(1)?;
            if count == 0 {
                return Ok(());
            }
            let packed: String = row.try_get::<Option<String>, _>(0)?.unwrap_or_default();
            let mut rest = packed.as_str();
            for _ in 0..count {
                level = parse_packed_int(take_packed(&mut rest)?)?;
                index = parse_packed_int(take_packed(&mut rest)?)?;
                let hash = take_packed(&mut rest)?.unwrap_or_default();
                each(level, index, hash);
            }
            if count < SCAN_CHUNK {
                return Ok(());
            }
        }
    }

    // ----- the salted writes of logged tables -------------------------------------------------

    /// Opens warnings, each with its salt (unique), and returns their ids in input order.
    pub async fn open_warnings_salted(
        &mut self,
        warnings: &[(WarningRecord, String)],
    ) -> Result<Vec<i64>> {
        let rows = warnings
            .iter()
            .map(|(w, salt)| {
                vec![
                    Val::from(w.loan_id),
                    Val::Int(i64::from(w.level)),
                    Val::Text(w.rule.clone()),
                    Val::Text(w.facts.clone()),
                    Val::Text(date_text(w.raised_on)),
                    Val::Text(salt.clone()),
                ]
            })
            .collect();
        let cols = ["loan_id", "level", "rule", "facts", "raised_on", "salt"];
        let returned = self
            .upsert_rows_returning("warnings", &cols, rows, "", "RETURNING id, salt")
            .await?;
        ids_by_salt(returned, warnings.iter().map(|(_, salt)| salt), "warning")
    }

    /// Records steps of warnings' lives, each with its salt (unique), in statements of many rows
    /// each; returns their ids in input order.
    pub async fn insert_warning_steps_salted(
        &mut self,
        steps: &[(WarningStep, String)],
    ) -> Result<Vec<i64>> {
        // optional ids travel as text, cast back (Val has no optional int)
        let opt_id = |id: Option<i64>| Val::OptText(id.map(|i| i.to_string()));
        let rows: Vec<Vec<Val>> = steps
            .iter()
            .map(|(s, salt)| {
                vec![
                    Val::Int(s.warning_id),
                    Val::from(s.loan_id),
                    Val::Text(s.action.as_str().to_string()),
                    opt_id(s.user_id.map(UserId::get)),
                    opt_id(s.task_id.map(TaskId::get)),
                    Val::Text(s.note.clone()),
                    Val::Text(date_text(s.business_date)),
                    Val::OptText(s.occurred_at.clone()),
                    Val::Text(salt.clone()),
                ]
            })
            .collect();
        let casts = ["", "", "", "BIGINT", "BIGINT", "", "", "", ""];
        let mut returned = Vec::with_capacity(steps.len());
        for (list, vals) in row_lists(self.dialect, 9, &rows, &casts, 0) {
            let sql = format!(
                "INSERT INTO warning_actions (warning_id, loan_id, action, user_id, task_id, note, business_date, occurred_at, salt) {list} RETURNING id, salt"
            );
            returned.extend(self.bulk_query(sql, &vals).fetch_all(&mut *self.tx).await?);
        }
        ids_by_salt(returned, steps.iter().map(|(_, salt)| salt), "warning step")
    }

    /// Records a loan operation with its salt and returns its id.
    pub async fn insert_op_salted(&mut self, op: &NewOp, salt: &str) -> Result<i64> {
        let (kind, params) = encode_op(&op.op.op);
        let row = sqlx::query("INSERT INTO loan_ops (loan_id, on_date, kind, params, reason, decided_by, recorded_on, salt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(op.loan_id.get())
            .bind(date_text(op.op.on))
            .bind(kind)
            .bind(params)
            .bind(op.reason.as_str())
            .bind(op.decided_by.as_str())
            .bind(date_text(op.recorded_on))
            .bind(salt)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    // ----- documents --------------------------------------------------------------------------

    /// Registers a document and returns its id.
    pub async fn insert_document(&mut self, doc: &Document) -> Result<i64> {
        let row = sqlx::query("INSERT INTO documents (owner_kind, owner_id, kind, file_name, sha256, size_bytes, salt, registered_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(doc.owner_kind.as_str())
            .bind(doc.owner_id)
            .bind(doc.kind.as_str())
            .bind(doc.file_name.as_str())
            .bind(doc.sha256.as_str())
            .bind(to_i64(doc.size_bytes)?)
            .bind(doc.salt.as_str())
            .bind(date_text(doc.registered_on))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Documents registered with this SHA-256 (lowercase hex), oldest first.
    pub async fn documents_by_sha256(&mut self, sha256: &str) -> Result<Vec<DocumentRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM {DOCUMENT_FROM} WHERE d.sha256 = $1 ORDER BY d.id"
        )))
        .bind(sha256)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(document_from_row).collect()
    }

    /// The documents of a loan and of its borrower, oldest first.
    pub async fn documents_of_loan(
        &mut self,
        loan_id: LoanId,
        borrower_id: BorrowerId,
    ) -> Result<Vec<DocumentRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DOCUMENT_COLUMNS} FROM {DOCUMENT_FROM} WHERE (d.owner_kind = 'loan' AND d.owner_id = $1) OR (d.owner_kind = 'borrower' AND d.owner_id = $2) ORDER BY d.id"
        )))
        .bind(loan_id.get())
        .bind(borrower_id.get())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(document_from_row).collect()
    }

    /// The id of the borrower with this external id.
    pub async fn borrower_id_by_external_id(
        &mut self,
        external_id: &str,
    ) -> Result<Option<BorrowerId>> {
        let row = sqlx::query("SELECT id FROM borrowers WHERE external_id = $1")
            .bind(external_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.try_get(0).map(BorrowerId)).transpose()?)
    }
}

// ----- the audit's fast read path on SQLite ---------------------------------------------------
//
// A full audit reads every record, leaf and node once. Through sqlx's `Any` driver each row costs
// a channel hop and owned copies of every value, which is most of the audit's time; on SQLite the
// scans therefore read the database file directly through a second, read-only connection
// (rusqlite over the same libsqlite3), borrowing each value in place. The snapshot of that
// connection may be newer than the caller's transaction; the log being append-only, a newer
// snapshot only adds rows beyond the audited tree size, which the caller ignores.

fn fast_err(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("audit scan: {e}"))
}

/// A text or blob value's bytes, without UTF-8 validation (empty for NULL).
fn fast_bytes<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> Result<&'a [u8]> {
    row.get_ref(i)
        .and_then(|v| v.as_bytes_or_null().map_err(rusqlite::Error::from))
        .map(Option::unwrap_or_default)
        .map_err(fast_err)
}

fn fast_str<'a>(row: &'a rusqlite::Row<'_>, i: usize) -> Result<Option<&'a str>> {
    row.get_ref(i)
        .and_then(|v| v.as_str_or_null().map_err(rusqlite::Error::from))
        .map_err(fast_err)
}

impl Tx {
    /// The file of a SQLite database, for the audit's direct read path (`None` in memory, or
    /// on PostgreSQL): the file the store's checkpointer serves.
    fn sqlite_file(&self) -> Option<String> {
        self.checkpointer.as_ref().map(|c| c.file().to_string())
    }
}

fn fast_open(file: &str) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fast_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(fast_err)?;
    // Reading the file through a memory map spares a copy of every page through the kernel.
    conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA mmap_size = 4294967296")
        .map_err(fast_err)?;
    Ok(conn)
}

fn fast_scan_records(
    conn: &rusqlite::Connection,
    table: &LoggedTable,
    each: &mut impl FnMut(ScannedRecord<'_>),
) -> Result<()> {
    let width = table.fields.len();
    let sql = format!(
        "SELECT r.id, r.salt, {} FROM {} r ORDER BY r.id",
        table.select_list("r"),
        table.table
    );
    let mut stmt = conn.prepare(&sql).map_err(fast_err)?;
    let mut rows = stmt.query([]).map_err(fast_err)?;
    while let Some(row) = rows.next().map_err(fast_err)? {
        let mut values: Vec<Option<&str>> = Vec::with_capacity(width);
        for i in 0..width {
            values.push(fast_str(row, 3 + i)?);
        }
        each(ScannedRecord {
            id: row.get(0).map_err(fast_err)?,
            salt: fast_str(row, 1)?,
            date: fast_str(row, 2)?.unwrap_or_default(),
            values: &values,
        });
    }
    Ok(())
}

fn fast_scan_leaves(file: &str, each: &mut impl FnMut(ScannedLeaf<'_>)) -> Result<()> {
    let conn = fast_open(file)?;
    let mut stmt = conn
        .prepare("SELECT leaf_index, kind, record_id, leaf_hex, leaf_hash FROM ledger_leaves ORDER BY leaf_index")
        .map_err(fast_err)?;
    let mut rows = stmt.query([]).map_err(fast_err)?;
    while let Some(row) = rows.next().map_err(fast_err)? {
        each(ScannedLeaf {
            index: row.get(0).map_err(fast_err)?,
            kind: fast_str(row, 1)?.unwrap_or_default(),
            record_id: row.get(2).map_err(fast_err)?,
            leaf_hex: fast_bytes(row, 3)?,
            leaf_hash: fast_bytes(row, 4)?,
        });
    }
    Ok(())
}

fn fast_audit_scan<L, R>(
    file: &str,
    tables: &[LoggedTable],
    on_leaf: &mut L,
    on_record: &mut R,
) -> Result<()>
where
    L: FnMut(ScannedLeaf<'_>) + Send,
    R: FnMut(usize, ScannedRecord<'_>) + Send,
{
    let records = fast_open(file)?;
    // One read transaction for every table, its snapshot taken before the leaves' connection
    // starts: a record seen then has its leaf (written in the same transaction) seen too.
    records.execute_batch("BEGIN").map_err(fast_err)?;
    records
        .query_row("SELECT tree_size FROM ledger_state", [], |_| Ok(()))
        .map_err(fast_err)?;
    std::thread::scope(|scope| {
        let leaves = scope.spawn(|| fast_scan_leaves(file, on_leaf));
        let mut result = Ok(());
        for (position, table) in tables.iter().enumerate() {
            result = fast_scan_records(&records, table, &mut |r| on_record(position, r));
            if result.is_err() {
                break;
            }
        }
        let leaves = leaves
            .join()
            .unwrap_or_else(|_| Err(StoreError::Corrupt("the audit's leaf scan panicked".into())));
        result.and(leaves)
    })?;
    records.execute_batch("COMMIT").map_err(fast_err)?;
    Ok(())
}

fn fast_scan_nodes(file: &str, each: &mut impl FnMut(i64, i64, &str)) -> Result<()> {
    let conn = fast_open(file)?;
    let mut stmt = conn
        .prepare("SELECT level, node_index, hash FROM ledger_nodes")
        .map_err(fast_err)?;
    let mut rows = stmt.query([]).map_err(fast_err)?;
    while let Some(row) = rows.next().map_err(fast_err)? {
        each(
            row.get(0).map_err(fast_err)?,
            row.get(1).map_err(fast_err)?,
            fast_str(row, 2)?.unwrap_or_default(),
        );
    }
    Ok(())
}

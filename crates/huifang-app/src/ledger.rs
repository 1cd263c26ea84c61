//! The tamper-evident record (DOMAIN.md capability 8): every warning, decision, registered
//! document and (with the follow-up engine) interaction record is appended, in the transaction
//! that writes it, as a leaf of an RFC 6962 Merkle log whose bytes commit to the record through a
//! salted hash (`huifang-leaf/v1`, see docs/LEDGER.md). Signed checkpoints (C2SP notes, Ed25519)
//! are made at the end of every closed day and on demand; proofs come from the stored tree.
//!
//! # Logging a new kind of record
//!
//! A table whose rows are logged has an integer `id` and a `salt TEXT` column. Describe it with
//! a [`LoggedTable`] (its fields in canonical order), add it to [`LOGGED_TABLES`] so that
//! [`verify`] audits it, and in the transaction that writes the rows:
//!
//! ```ignore
//! let salt = ledger::new_salt();              // one per row, stored in the row
//! let id = insert_the_row(&mut tx, ..., &salt).await?;
//! ledger::log_records(&mut tx, &ledger::INTERACTION, &[id]).await?;   // the one call
//! ```
//!
//! [`log_records`] reads the rows back and computes each leaf from what is stored, exactly as
//! [`verify`] will, so a record and its leaf cannot disagree by construction.

use std::time::{Duration, Instant};

use huifang_core::BorrowerId;
use huifang_core::Date;
use huifang_ledger::{
    Checkpoint, Frontier, Hash, HashSource, LedgerError, MerkleTree, RecordHasher, Signer,
    Verifier, leaf_hash, open_checkpoint, parse_salt, record_bytes, record_commitment,
    verify_consistency, verify_inclusion, write_leaf_bytes,
};
use huifang_store::{
    CheckpointRecord, Document, DocumentRecord, Leaf, LeafRecord, LoggedTable, NewOp, RawRecord,
    Store, Tx, WarningRecord, WarningStep,
};
use rand::RngCore;

use crate::ports::{Failure, LogSource, PortError};
use crate::{AppError, require_business_date, to_u64};

/// Most entries one call to [`entries`] returns.
pub const MAX_ENTRIES: u64 = 1_000;

/// Environment variable that supplies the signer key string instead of the settings table.
pub const KEY_ENV: &str = "HUIFANG_LEDGER_KEY";

const ORIGIN_SETTING: &str = "ledger_origin";
const SIGNER_SETTING: &str = "ledger_signer_key";
const VERIFIER_SETTING: &str = "ledger_verifier_key";

/// Warnings (风险预警): what fired, on which loan, when.
pub const WARNING: LoggedTable = LoggedTable {
    kind: "warning",
    table: "warnings",
    date_column: "raised_on",
    fields: &[
        ("loan_id", "loan_id"),
        ("level", "level"),
        ("rule", "rule"),
        ("facts", "facts"),
        ("raised_on", "raised_on"),
    ],
};

/// The steps of a warning's life after it was raised: acknowledged, acted on, resolved (by a
/// user or automatically), escalated, its condition false or holding again.
pub const WARNING_STEP: LoggedTable = LoggedTable {
    kind: "warning_action",
    table: "warning_actions",
    date_column: "business_date",
    fields: &[
        ("warning_id", "warning_id"),
        ("loan_id", "loan_id"),
        ("action", "action"),
        ("user_id", "user_id"),
        ("task_id", "task_id"),
        ("note", "note"),
        ("business_date", "business_date"),
        ("occurred_at", "occurred_at"),
    ],
};

/// Decisions: loan operations with their reason and who decided.
pub const DECISION: LoggedTable = LoggedTable {
    kind: "decision",
    table: "loan_ops",
    date_column: "recorded_on",
    fields: &[
        ("loan_id", "loan_id"),
        ("on_date", "on_date"),
        ("op", "kind"),
        ("params", "params"),
        ("reason", "reason"),
        ("decided_by", "decided_by"),
        ("recorded_on", "recorded_on"),
    ],
};

/// Registered documents. The file name is a label kept for people and is not committed: it may
/// carry a person's name, and a document check returns the committed fields to anyone holding
/// the file. The content is committed through its SHA-256.
pub const DOCUMENT: LoggedTable = LoggedTable {
    kind: "document",
    table: "documents",
    date_column: "registered_on",
    fields: &[
        ("owner_kind", "owner_kind"),
        ("owner_id", "owner_id"),
        ("kind", "kind"),
        ("sha256", "sha256"),
        ("size_bytes", "size_bytes"),
        ("registered_on", "registered_on"),
    ],
};

/// Interactions with borrowers (follow-up contacts and their outcomes). The idempotency key is
/// a client's retry handle and is not committed.
pub const INTERACTION: LoggedTable = LoggedTable {
    kind: "interaction",
    table: "interactions",
    date_column: "business_date",
    fields: &[
        ("loan_id", "loan_id"),
        ("task_id", "task_id"),
        ("user_id", "user_id"),
        ("channel", "channel"),
        ("occurred_at", "occurred_at"),
        ("duration_seconds", "duration_seconds"),
        ("outcome", "outcome"),
        ("promise_amount_fen", "promise_amount_fen"),
        ("promise_date", "promise_date"),
        ("income_change_pct", "income_change_pct"),
        ("job_status", "job_status"),
        ("vehicle_status", "vehicle_status"),
        ("answers", "answers"),
        ("notes", "notes"),
        ("business_date", "business_date"),
    ],
};

/// The steps of repossession and legal cases, their opening included: the stage, who, what a
/// sale or an enforcement collected and the payment it posted.
pub const CASE_STEP: LoggedTable = LoggedTable {
    kind: "case_step",
    table: "case_steps",
    date_column: "business_date",
    fields: &[
        ("case_id", "case_id"),
        ("loan_id", "loan_id"),
        ("kind", "kind"),
        ("stage", "stage"),
        ("user_id", "user_id"),
        ("note", "note"),
        ("amount_fen", "amount_fen"),
        ("payment", "payment"),
        ("business_date", "business_date"),
        ("occurred_at", "occurred_at"),
    ],
};

/// Every logged table, audited by [`verify`].
pub const LOGGED_TABLES: &[LoggedTable] = &[
    WARNING,
    DECISION,
    DOCUMENT,
    INTERACTION,
    WARNING_STEP,
    CASE_STEP,
];

/// Document kinds that can be registered.
pub const DOCUMENT_KINDS: &[&str] = &["income_proof", "contract", "id_scan", "other"];

/// A fresh salt: 16 random bytes from the thread's CSPRNG (ChaCha seeded by the OS), hex.
pub fn new_salt() -> String {
    let mut salt = [0u8; huifang_ledger::SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    hex::encode(salt)
}

fn corrupt(msg: String) -> AppError {
    AppError::Store(huifang_store::StoreError::Corrupt(msg))
}

fn ledger_invalid(e: LedgerError) -> AppError {
    AppError::Invalid(e.to_string())
}

/// The canonical record bytes of a record read back from its table.
pub fn canonical_record(table: &LoggedTable, record: &RawRecord) -> Vec<u8> {
    record_bytes(
        table
            .fields
            .iter()
            .zip(&record.values)
            .map(|((name, _), value)| (*name, value.as_deref())),
    )
}

/// The leaf of a record read back from its table.
pub fn leaf_of(table: &LoggedTable, record: &RawRecord) -> Result<Vec<u8>, AppError> {
    let salt = record
        .salt
        .as_deref()
        .and_then(parse_salt)
        .ok_or_else(|| corrupt(format!("{} {} has no valid salt", table.kind, record.id)))?;
    let commitment = record_commitment(&salt, &canonical_record(table, record));
    let mut leaf = Vec::with_capacity(128);
    write_leaf_bytes(&mut leaf, table.kind, record.id, &record.date, &commitment);
    Ok(leaf)
}

/// Appends the leaves of these records of `table` (already written, with their salts, in this
/// transaction), in id order; returns the index of the first leaf.
pub async fn log_records(tx: &mut Tx, table: &LoggedTable, ids: &[i64]) -> Result<u64, AppError> {
    let records = tx.ledger_records(table, ids).await?;
    if records.len() != ids.len() {
        return Err(corrupt(format!(
            "{} of {} {} record(s) to log were not found",
            ids.len() - records.len(),
            ids.len(),
            table.kind
        )));
    }
    let leaves = records
        .iter()
        .map(|r| {
            Ok(Leaf {
                kind: table.kind.to_string(),
                record_id: r.id,
                bytes: leaf_of(table, r)?,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(tx.ledger_append(&leaves).await?)
}

/// Opens warnings and logs them; returns their ids. (The write path of the daily close.)
pub async fn open_warnings(tx: &mut Tx, warnings: &[WarningRecord]) -> Result<Vec<i64>, AppError> {
    if warnings.is_empty() {
        return Ok(Vec::new());
    }
    let salted: Vec<(WarningRecord, String)> =
        warnings.iter().map(|w| (w.clone(), new_salt())).collect();
    let ids = tx.open_warnings_salted(&salted).await?;
    log_records(tx, &WARNING, &ids).await?;
    Ok(ids)
}

/// Records steps of warnings' lives and logs them; returns their ids.
pub async fn record_warning_steps(
    tx: &mut Tx,
    steps: &[WarningStep],
) -> Result<Vec<i64>, AppError> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let salted: Vec<(WarningStep, String)> =
        steps.iter().map(|s| (s.clone(), new_salt())).collect();
    let ids = tx.insert_warning_steps_salted(&salted).await?;
    log_records(tx, &WARNING_STEP, &ids).await?;
    Ok(ids)
}

/// Records a loan operation (a decision) and logs it; returns its id.
pub async fn insert_op(tx: &mut Tx, op: &NewOp) -> Result<i64, AppError> {
    let id = tx.insert_op_salted(op, &new_salt()).await?;
    log_records(tx, &DECISION, &[id]).await?;
    Ok(id)
}

/// Logs the records of every logged table that have no leaf yet (rows written before the
/// ledger existed), giving them a salt first. Returns how many were logged.
pub async fn backfill(tx: &mut Tx) -> Result<u64, AppError> {
    let mut logged = 0;
    for table in LOGGED_TABLES {
        let ids = tx.ledger_unlogged_ids(table).await?;
        for id in &ids {
            tx.ledger_set_salt(table, *id, &new_salt()).await?;
        }
        for chunk in ids.chunks(5_000) {
            log_records(tx, table, chunk).await?;
        }
        logged += to_u64(ids.len());
    }
    Ok(logged)
}

// ----- keys and checkpoints -----------------------------------------------------------------

/// The default origin (and key name) of a new log: `huifang.log/<8 random bytes hex>`, fixed
/// for the database at `init`.
pub fn default_origin() -> String {
    let mut id = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut id);
    format!("huifang.log/{}", hex::encode(id))
}

/// The signer: `HUIFANG_LEDGER_KEY` if set, else the key in the settings table, else a new key
/// (named after `origin`, or the stored or default origin) stored there. The verifier key is
/// recorded in the settings on first use; a different key is refused.
pub async fn signer(tx: &mut Tx, origin: Option<&str>) -> Result<Signer, AppError> {
    let signer = match std::env::var(KEY_ENV) {
        Ok(key) if !key.trim().is_empty() => Signer::from_key_string(key.trim())
            .map_err(|e| AppError::Invalid(format!("{KEY_ENV}: {e}")))?,
        _ => match tx.setting(SIGNER_SETTING).await? {
            Some(key) => Signer::from_key_string(&key)
                .map_err(|e| corrupt(format!("stored ledger key: {e}")))?,
            None => {
                let name = match origin {
                    Some(o) => o.to_string(),
                    None => tx
                        .setting(ORIGIN_SETTING)
                        .await?
                        .unwrap_or_else(default_origin),
                };
                let signer = Signer::generate(&name, &mut rand::rngs::OsRng).map_err(|e| {
                    AppError::Field {
                        field: "ledger_origin",
                        reason: e.to_string(),
                    }
                })?;
                tx.set_setting(SIGNER_SETTING, &signer.to_key_string())
                    .await?;
                signer
            }
        },
    };
    if let Some(o) = origin
        && o != signer.name()
    {
        return Err(AppError::Invalid(format!(
            "the ledger key is named {:?}, not {o:?}: the origin is fixed when the key is created",
            signer.name()
        )));
    }
    let verifier = signer.verifier_key_string();
    match tx.setting(VERIFIER_SETTING).await? {
        Some(stored) if stored != verifier => {
            return Err(AppError::Invalid(format!(
                "the ledger key ({}) is not the key this log was signed with ({stored})",
                verifier
            )));
        }
        Some(_) => {}
        None => {
            tx.set_setting(VERIFIER_SETTING, &verifier).await?;
            tx.set_setting(ORIGIN_SETTING, signer.name()).await?;
        }
    }
    Ok(signer)
}

/// Sets the log up at `init`: creates (or checks) the key and, the first time only, logs any
/// record written before the ledger existed. Returns the verifier key string and how many
/// records were back-filled.
pub async fn init(store: &Store, origin: Option<&str>) -> Result<(String, u64), AppError> {
    let mut tx = store.begin().await?;
    let first_time = tx.setting(VERIFIER_SETTING).await?.is_none();
    let signer = signer(&mut tx, origin).await?;
    // Only when the log is first set up: afterwards a record without a leaf was written behind
    // Huifang's back, and `verify` must keep reporting it rather than have it laundered.
    let logged = if first_time {
        backfill(&mut tx).await?
    } else {
        0
    };
    tx.commit().await?;
    Ok((signer.verifier_key_string(), logged))
}

/// The note verifier key of this log (`<name>+<id>+<key>`).
pub async fn verifier_key(store: &Store) -> Result<String, AppError> {
    let mut tx = store.begin().await?;
    let key = match tx.setting(VERIFIER_SETTING).await? {
        Some(key) => key,
        None => signer(&mut tx, None).await?.verifier_key_string(),
    };
    tx.commit().await?;
    Ok(key)
}

/// Signs and stores a checkpoint of the log as it stands in this transaction (called at the end
/// of each closed day, inside its transaction).
pub async fn checkpoint(tx: &mut Tx, business_date: Date) -> Result<CheckpointRecord, AppError> {
    let signer = signer(tx, None).await?;
    let (size, hashes) = tx.ledger_head().await?;
    let root = Frontier::from_parts(size, hashes)
        .map_err(|e| corrupt(e.to_string()))?
        .root();
    let note = Checkpoint::new(signer.name(), size, root)
        .sign(&signer)
        .map_err(ledger_invalid)?;
    let id = tx
        .ledger_insert_checkpoint(size, &root, &note, business_date)
        .await?;
    Ok(CheckpointRecord {
        id,
        size,
        root,
        note,
        business_date,
    })
}

/// Makes a checkpoint now (`huifang ledger checkpoint --new`).
pub async fn new_checkpoint(store: &Store) -> Result<CheckpointRecord, AppError> {
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    let cp = checkpoint(&mut tx, date).await?;
    tx.commit().await?;
    Ok(cp)
}

/// The latest checkpoint, if any.
pub async fn latest_checkpoint(store: &Store) -> Result<Option<CheckpointRecord>, AppError> {
    let mut tx = store.begin().await?;
    let cp = tx.ledger_latest_checkpoint().await?;
    tx.rollback().await?;
    Ok(cp)
}

// ----- reading the log ----------------------------------------------------------------------

/// The leaves from `start` up to `end` (exclusive) and the tree size. As RFC 6962's
/// get-entries, fewer may be answered than asked: at most [`MAX_ENTRIES`], none beyond the tree,
/// none when `end` is not after `start`; the caller asks again from the last one answered.
pub async fn entries(
    store: &Store,
    start: u64,
    end: u64,
) -> Result<(u64, Vec<LeafRecord>), AppError> {
    let mut tx = store.begin().await?;
    let size = tx.ledger_size().await?;
    let end = end.min(start.saturating_add(MAX_ENTRIES)).min(size);
    let leaves = if end > start {
        tx.ledger_leaves(start, end).await?
    } else {
        Vec::new()
    };
    tx.rollback().await?;
    Ok((size, leaves))
}

/// An inclusion proof from the stored tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    pub leaf_hash: Hash,
    /// Root of the tree of `size` leaves.
    pub root: Hash,
    pub hashes: Vec<Hash>,
}

/// A consistency proof from the stored tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub first_root: Hash,
    pub second_root: Hash,
    pub hashes: Vec<Hash>,
}

fn root_of(source: &dyn HashSource, size: u64) -> Result<Hash, LedgerError> {
    Ok(Frontier::from_source(source, size)?.root())
}

/// A proof the log cannot give (a tree larger than the log, a leaf outside its tree): there is
/// no such proof.
fn no_proof(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::NotFound {
        what: "proof",
        id: format!("{what}: {e}"),
    }
}

async fn inclusion_in(tx: &mut Tx, index: u64, size: u64) -> Result<InclusionProof, AppError> {
    if index >= size {
        return Err(no_proof(
            "index",
            format!("index ({index}) must be smaller than size ({size})"),
        ));
    }
    let (hashes, root, leaf) = tx
        .ledger_prove(size, |source| {
            Ok((
                huifang_ledger::inclusion_proof(source, index, size)?,
                root_of(source, size)?,
                source.subtree_hash(0, index)?,
            ))
        })
        .await?
        .map_err(|e| no_proof("size", e))?;
    Ok(InclusionProof {
        index,
        size,
        leaf_hash: leaf,
        root,
        hashes,
    })
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub async fn inclusion_proof(
    store: &Store,
    index: u64,
    size: u64,
) -> Result<InclusionProof, AppError> {
    let mut tx = store.begin().await?;
    let proof = inclusion_in(&mut tx, index, size).await?;
    tx.rollback().await?;
    Ok(proof)
}

/// The consistency proof between the trees of `first` and `second` leaves.
pub async fn consistency_proof(
    store: &Store,
    first: u64,
    second: u64,
) -> Result<ConsistencyProof, AppError> {
    if first > second {
        return Err(no_proof(
            "first",
            format!("first ({first}) must not be greater than second ({second})"),
        ));
    }
    let mut tx = store.begin().await?;
    let (hashes, first_root, second_root) = tx
        .ledger_prove(second, |source| {
            Ok((
                huifang_ledger::consistency_proof(source, first, second)?,
                root_of(source, first)?,
                root_of(source, second)?,
            ))
        })
        .await?
        .map_err(|e| no_proof("second", e))?;
    tx.rollback().await?;
    Ok(ConsistencyProof {
        first,
        second,
        first_root,
        second_root,
        hashes,
    })
}

// ----- documents ----------------------------------------------------------------------------

/// Whose document it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A loan, by external id.
    Loan(String),
    /// A borrower, by external id.
    Borrower(String),
}

/// A registered document and its leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub document_id: i64,
    pub leaf_index: u64,
    pub sha256: String,
    pub registered_on: Date,
}

/// Registers a document by its SHA-256 (lowercase hex) and size, anchored in the log.
pub async fn register_document(
    store: &Store,
    owner: &Owner,
    kind: &str,
    file_name: &str,
    sha256: &str,
    size_bytes: u64,
) -> Result<Registration, AppError> {
    if !DOCUMENT_KINDS.contains(&kind) {
        return Err(AppError::Field {
            field: "kind",
            reason: format!("{kind:?} is not one of {}", DOCUMENT_KINDS.join(", ")),
        });
    }
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(AppError::Field {
            field: "sha256",
            reason: "must be 64 lowercase hexadecimal digits".into(),
        });
    }
    let mut tx = store.begin().await?;
    let registered_on = require_business_date(&mut tx).await?;
    let (owner_kind, owner_id) = match owner {
        Owner::Loan(external) => (
            "loan",
            tx.loan_ids_by_external_id(std::slice::from_ref(external))
                .await?
                .get(external)
                .map(|id| id.get()),
        ),
        Owner::Borrower(external) => (
            "borrower",
            tx.borrower_id_by_external_id(external)
                .await?
                .map(BorrowerId::get),
        ),
    };
    let owner_id = owner_id.ok_or_else(|| AppError::NotFound {
        what: owner_kind,
        id: match owner {
            Owner::Loan(e) | Owner::Borrower(e) => e.clone(),
        },
    })?;
    let document_id = tx
        .insert_document(&Document {
            owner_kind: owner_kind.to_string(),
            owner_id,
            kind: kind.to_string(),
            file_name: file_name.to_string(),
            sha256: sha256.to_string(),
            size_bytes,
            salt: new_salt(),
            registered_on,
        })
        .await?;
    let leaf_index = log_records(&mut tx, &DOCUMENT, &[document_id]).await?;
    tx.commit().await?;
    Ok(Registration {
        document_id,
        leaf_index,
        sha256: sha256.to_string(),
        registered_on,
    })
}

/// One registration of a checked document, with what a verifier needs to recompute its leaf
/// and check it against the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentMatch {
    pub document: DocumentRecord,
    /// The canonical record bytes (the committed fields), as text.
    pub record: String,
    pub leaf_index: Option<u64>,
    pub leaf: Option<Vec<u8>>,
    /// Whether the stored leaf equals the leaf recomputed from the stored record.
    pub leaf_matches: bool,
    /// Inclusion proof against the latest checkpoint; `None` while the leaf is newer than it.
    pub proof: Option<InclusionProof>,
}

/// The answer to "is this file a registered document?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentCheck {
    pub sha256: String,
    pub matches: Vec<DocumentMatch>,
    pub checkpoint: Option<CheckpointRecord>,
}

impl DocumentCheck {
    /// Registered, logged, and its leaf intact.
    pub fn registered(&self) -> bool {
        self.matches.iter().any(|m| m.leaf_matches)
    }
}

/// Checks a file by its SHA-256 (lowercase hex).
pub async fn check_document(store: &Store, sha256: &str) -> Result<DocumentCheck, AppError> {
    let mut tx = store.begin().await?;
    let checkpoint = tx.ledger_latest_checkpoint().await?;
    let documents = tx.documents_by_sha256(sha256).await?;
    let matches = with_proofs(&mut tx, documents, checkpoint.as_ref()).await?;
    tx.rollback().await?;
    Ok(DocumentCheck {
        sha256: sha256.to_string(),
        matches,
        checkpoint,
    })
}

/// Documents with their record, their leaf (checked against the record) and its inclusion
/// proof in the latest checkpoint.
pub(crate) async fn with_proofs(
    tx: &mut Tx,
    documents: Vec<huifang_store::DocumentRecord>,
    checkpoint: Option<&CheckpointRecord>,
) -> Result<Vec<DocumentMatch>, AppError> {
    let mut matches = Vec::with_capacity(documents.len());
    for document in documents {
        let raw = tx
            .ledger_records(&DOCUMENT, &[document.id])
            .await?
            .pop()
            .ok_or_else(|| corrupt(format!("document {} vanished", document.id)))?;
        let record = String::from_utf8_lossy(&canonical_record(&DOCUMENT, &raw)).into_owned();
        let stored = tx.ledger_leaf_of(DOCUMENT.kind, document.id).await?;
        let recomputed = leaf_of(&DOCUMENT, &raw).ok();
        let leaf_matches =
            matches!((&stored, &recomputed), (Some(s), Some(r)) if &s.leaf.bytes == r);
        let proof = match (&stored, checkpoint) {
            (Some(leaf), Some(cp)) if leaf.index < cp.size => {
                Some(inclusion_in(tx, leaf.index, cp.size).await?)
            }
            _ => None,
        };
        matches.push(DocumentMatch {
            document,
            record,
            leaf_index: stored.as_ref().map(|l| l.index),
            leaf: stored.map(|l| l.leaf.bytes),
            leaf_matches,
            proof,
        });
    }
    Ok(matches)
}

// ----- verification -------------------------------------------------------------------------

/// What is wrong with the log or a logged record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A record's stored form no longer matches its leaf.
    Tampered { kind: String, id: i64, index: u64 },
    /// A record has no leaf (written behind Huifang's back, or before `init` back-filled it).
    NotLogged { kind: String, id: i64 },
    /// A record's salt is missing or malformed.
    BadSalt { kind: String, id: i64 },
    /// A leaf whose record is gone (deleted) or whose kind is unknown.
    Orphan { kind: String, id: i64, index: u64 },
    /// A stored leaf's bytes do not hash to its stored hash (entries served would not verify).
    LeafBytes { index: u64 },
    /// A leaf index outside the tree, or two leaves for one record.
    BadIndex { kind: String, id: i64, index: i64 },
    /// A stored subtree hash differs from the one recomputed (proofs served would fail).
    StoredNode { level: u32, index: u64 },
    /// The stored frontier or node count disagrees with the leaves.
    Tree(String),
    /// A checkpoint's signature, root or consistency with the previous one fails.
    Checkpoint { id: i64, size: u64, reason: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Tampered { kind, id, index } => write!(
                f,
                "TAMPERED {kind} {id} (leaf {index}): the stored record no longer matches its leaf"
            ),
            Problem::NotLogged { kind, id } => {
                write!(f, "NOT LOGGED {kind} {id}: the record has no leaf")
            }
            Problem::BadSalt { kind, id } => {
                write!(f, "BAD SALT {kind} {id}: missing or malformed salt")
            }
            Problem::Orphan { kind, id, index } => write!(
                f,
                "MISSING RECORD {kind} {id} (leaf {index}): the logged record is gone"
            ),
            Problem::LeafBytes { index } => write!(
                f,
                "STORED LEAF {index}: its bytes do not hash to its stored hash"
            ),
            Problem::BadIndex { kind, id, index } => {
                write!(f, "BAD LEAF INDEX {kind} {id}: leaf {index}")
            }
            Problem::StoredNode { level, index } => write!(
                f,
                "STORED NODE level {level} index {index} differs from the recomputed tree"
            ),
            Problem::Tree(msg) => write!(f, "TREE {msg}"),
            Problem::Checkpoint { id, size, reason } => {
                write!(f, "CHECKPOINT {id} (size {size}): {reason}")
            }
        }
    }
}

/// The result of a full audit.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub tree_size: u64,
    pub records: u64,
    pub checkpoints: u64,
    pub nodes: u64,
    pub latest: Option<Checkpoint>,
    pub problems: Vec<Problem>,
    /// (phase, time) for reporting.
    pub timings: Vec<(&'static str, Duration)>,
}

impl VerifyReport {
    /// No problem found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Value of each ASCII hex digit (either case); 0xFF for any other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xFFu8; 256];
    let mut rest: &mut [u8] = &mut table;
    let mut byte = 0u8;
    while let Some((value, tail)) = rest.split_first_mut() {
        *value = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => 0xFF,
        };
        rest = tail;
        byte = byte.wrapping_add(1);
    }
    table
};

/// Decodes hex into `out` (exactly `2 * out.len()` digits); `false` if malformed. The audit's
/// hot loop decodes a million leaves, so this goes through a lookup table, branch-free.
fn decode_hex(bytes: &[u8], out: &mut [u8]) -> bool {
    if bytes.len() != 2 * out.len() {
        return false;
    }
    // Every byte is in the table (the bounds check is optimised away); 0xFF marks it invalid.
    let value = |b: u8| HEX_VALUES.get(usize::from(b)).copied().unwrap_or(0xFF);
    let mut invalid = 0u8;
    for (o, &[hi, lo]) in out.iter_mut().zip(bytes.as_chunks::<2>().0) {
        let (hi, lo) = (value(hi), value(lo));
        invalid |= hi | lo;
        *o = (hi << 4) | (lo & 0x0F);
    }
    invalid & 0xF0 == 0
}

/// Number of complete subtrees of height ≥ 1 in a tree of `size` leaves.
fn node_count(size: u64) -> u64 {
    (1..64).map(|level| size >> level).sum()
}

/// Audits the whole log: recomputes every leaf from the records and their salts and compares it
/// with the stored leaf (naming every record that differs), rebuilds the tree from the stored
/// leaves, checks the stored subtree hashes and frontier against it, every
/// checkpoint's signature (with `key`, or the log's own verifier key) and root, and each
/// checkpoint's consistency with the one before. Reads one consistent snapshot.
pub async fn verify(store: &Store, key: Option<&str>) -> Result<VerifyReport, AppError> {
    let mut report = VerifyReport::default();
    let mut tx = store.begin().await?;
    let verifier_key = match key {
        Some(k) => Some(k.to_string()),
        None => tx.setting(VERIFIER_SETTING).await?,
    };
    let (size, frontier) = tx.ledger_head().await?;
    report.tree_size = size;
    let n = usize::try_from(size).map_err(|_| corrupt("tree too large".into()))?;
    let mut clock = Instant::now();

    // 1. Every stored leaf (its bytes must hash to its stored hash) and every record (its leaf
    //    recomputed), read side by side; then matched by (kind, record id).
    let mut leaves: Vec<Hash> = vec![[0u8; 32]; n];
    let mut filled = vec![false; n];
    let mut leaf_problems = Vec::new();
    // Per logged table: (record id, leaf index) of its leaves, and the record ids of leaves
    // logged after the audited tree (a newer snapshot).
    let mut logged: Vec<Vec<(i64, u64)>> = vec![Vec::new(); LOGGED_TABLES.len()];
    let mut newer: Vec<Vec<i64>> = vec![Vec::new(); LOGGED_TABLES.len()];
    let mut recomputed: Vec<Vec<(i64, Hash)>> = vec![Vec::new(); LOGGED_TABLES.len()];
    let mut record_problems = Vec::new();
    {
        let mut leaf_bytes = Vec::with_capacity(256);
        let on_leaf = |l: huifang_store::ScannedLeaf<'_>| {
            let position = LOGGED_TABLES.iter().position(|t| t.kind == l.kind);
            // Both lists have one entry per logged table.
            let Some((logged, newer)) =
                position.and_then(|p| Some((logged.get_mut(p)?, newer.get_mut(p)?)))
            else {
                if let Ok(index) = u64::try_from(l.index)
                    && usize::try_from(l.index).is_ok_and(|i| i < n)
                {
                    leaf_problems.push(Problem::Orphan {
                        kind: l.kind.to_string(),
                        id: l.record_id,
                        index,
                    });
                }
                return;
            };
            let slot = match usize::try_from(l.index) {
                Ok(i) if i >= n => {
                    newer.push(l.record_id);
                    return;
                }
                Ok(i) if filled.get(i) == Some(&false) => i,
                _ => {
                    leaf_problems.push(Problem::BadIndex {
                        kind: l.kind.to_string(),
                        id: l.record_id,
                        index: l.index,
                    });
                    return;
                }
            };
            let mut stored = [0u8; 32];
            leaf_bytes.resize(l.leaf_hex.len() / 2, 0);
            let intact = decode_hex(l.leaf_hash, &mut stored)
                && l.leaf_hex.len().is_multiple_of(2)
                && decode_hex(l.leaf_hex, &mut leaf_bytes)
                && leaf_hash(&leaf_bytes) == stored;
            if !intact {
                leaf_problems.push(Problem::LeafBytes {
                    index: to_u64(slot),
                });
            }
            // slot < n, the length of both (checked above).
            if let (Some(leaf), Some(done)) = (leaves.get_mut(slot), filled.get_mut(slot)) {
                *leaf = stored;
                *done = true;
            }
            logged.push((l.record_id, to_u64(slot)));
        };
        let mut buf = Vec::with_capacity(256);
        let on_record = |position: usize, r: huifang_store::ScannedRecord<'_>| {
            // The scan numbers the tables of LOGGED_TABLES; `recomputed` has one list for each.
            let (Some(table), Some(recomputed)) =
                (LOGGED_TABLES.get(position), recomputed.get_mut(position))
            else {
                return;
            };
            let mut salt = [0u8; huifang_ledger::SALT_LEN];
            if !r
                .salt
                .is_some_and(|text| decode_hex(text.as_bytes(), &mut salt))
            {
                record_problems.push(Problem::BadSalt {
                    kind: table.kind.into(),
                    id: r.id,
                });
                return;
            }
            let mut hasher = RecordHasher::new(&salt);
            for ((name, _), value) in table.fields.iter().zip(r.values) {
                hasher.field(name, *value);
            }
            buf.clear();
            write_leaf_bytes(&mut buf, table.kind, r.id, r.date, &hasher.finish());
            recomputed.push((r.id, leaf_hash(&buf)));
        };
        tx.ledger_audit_scan(LOGGED_TABLES, on_leaf, on_record)
            .await?;
    }
    let per_table = LOGGED_TABLES
        .iter()
        .zip(&mut logged)
        .zip(&mut recomputed)
        .zip(&mut newer);
    for (((table, leaves_of), records), newer) in per_table {
        report.records += match_records_to_leaves(
            table.kind,
            leaves_of,
            records,
            newer,
            &leaves,
            &mut report.problems,
        );
    }
    report.problems.extend(record_problems);
    report.problems.extend(leaf_problems);
    drop(recomputed);
    if let Some(i) = filled.iter().position(|f| !f) {
        report.problems.push(Problem::Tree(format!(
            "leaf {i} (and {} more) has no stored row",
            filled.iter().skip(i + 1).filter(|f| !**f).count()
        )));
    }
    drop(filled);
    report.timings.push(("records and leaves", clock.elapsed()));
    clock = Instant::now();

    // 2. The tree rebuilt from the stored leaves.
    let tree = MerkleTree::from_leaf_hashes(leaves);
    let expected_frontier =
        Frontier::from_source(&tree, size).map_err(|e| corrupt(e.to_string()))?;
    if expected_frontier.hashes() != frontier.as_slice() {
        report.problems.push(Problem::Tree(
            "the stored frontier differs from the leaves".into(),
        ));
    }
    report.timings.push(("tree", clock.elapsed()));
    clock = Instant::now();

    report.nodes = check_stored_nodes(&mut tx, &tree, size, &mut report.problems).await?;
    report.timings.push(("stored nodes", clock.elapsed()));
    clock = Instant::now();

    let checkpoints = tx.ledger_checkpoints().await?;
    tx.rollback().await?;
    report.checkpoints = to_u64(checkpoints.len());
    let verifier = match verifier_key.as_deref().map(Verifier::from_key_string) {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            return Err(AppError::Field {
                field: "key",
                reason: e.to_string(),
            });
        }
        None => None,
    };
    let previous = check_checkpoints(
        &checkpoints,
        verifier.as_ref(),
        &tree,
        size,
        &mut report.problems,
    );
    report.latest = previous;
    report.timings.push(("checkpoints", clock.elapsed()));
    Ok(report)
}

/// Matches one logged table's records (their recomputed leaf hashes) with its stored leaves, by
/// record id: a record whose leaf differs is tampered with, a record without a leaf was not
/// logged (unless its leaf lies beyond the audited tree, in `newer`), a leaf without a record is
/// an orphan, a second leaf of one record a bad index. Returns how many records were audited.
fn match_records_to_leaves(
    kind: &str,
    leaves_of: &mut [(i64, u64)],
    records: &mut [(i64, Hash)],
    newer: &mut [i64],
    leaves: &[Hash],
    problems: &mut Vec<Problem>,
) -> u64 {
    leaves_of.sort_unstable();
    records.sort_unstable_by_key(|(id, _)| *id);
    newer.sort_unstable();
    let kind = || kind.to_string();
    let mut at = 0;
    for (id, hash) in records.iter() {
        while let Some(&(leaf_id, index)) = leaves_of.get(at)
            && leaf_id < *id
        {
            problems.push(Problem::Orphan {
                kind: kind(),
                id: leaf_id,
                index,
            });
            at += 1;
        }
        let mut matched = false;
        while let Some(&(leaf_id, index)) = leaves_of.get(at)
            && leaf_id == *id
        {
            if matched {
                problems.push(Problem::BadIndex {
                    kind: kind(),
                    id: *id,
                    index: i64::try_from(index).unwrap_or(i64::MAX),
                });
            } else if usize::try_from(index)
                .ok()
                .and_then(|i| leaves.get(i))
                .is_some_and(|leaf| leaf != hash)
            {
                problems.push(Problem::Tampered {
                    kind: kind(),
                    id: *id,
                    index,
                });
            }
            matched = true;
            at += 1;
        }
        if !matched && newer.binary_search(id).is_err() {
            problems.push(Problem::NotLogged {
                kind: kind(),
                id: *id,
            });
        }
    }
    for &(id, index) in leaves_of.iter().skip(at) {
        problems.push(Problem::Orphan {
            kind: kind(),
            id,
            index,
        });
    }
    to_u64(records.len()) - to_u64(newer.len().min(records.len()))
}

/// Checks every stored subtree hash of the audited tree against the recomputed tree, and their
/// number; returns how many were checked.
async fn check_stored_nodes(
    tx: &mut Tx,
    tree: &MerkleTree,
    size: u64,
    problems: &mut Vec<Problem>,
) -> Result<u64, AppError> {
    let mut node_problems = Vec::new();
    let mut nodes = 0u64;
    tx.ledger_scan_nodes(|level, index, hash| {
        let (Ok(level), Ok(index)) = (u32::try_from(level), u64::try_from(index)) else {
            node_problems.push(Problem::Tree(format!("bad node key ({level}, {index})")));
            return;
        };
        let end = index
            .checked_add(1)
            .and_then(|i| i.checked_mul(1u64.checked_shl(level)?));
        if level < 64 && end.is_some_and(|end| end > size) {
            return; // completed after the audited tree (newer snapshot)
        }
        nodes += 1;
        let ok = tree.subtree_hash(level, index).is_ok_and(|expected| {
            let mut hex_expected = [0u8; 64];
            let _ = hex::encode_to_slice(expected, &mut hex_expected);
            hash.as_bytes() == hex_expected
        });
        if !ok && node_problems.len() < 1_000 {
            node_problems.push(Problem::StoredNode { level, index });
        }
    })
    .await?;
    if nodes != node_count(size) {
        node_problems.push(Problem::Tree(format!(
            "{nodes} stored subtree hashes, expected {}",
            node_count(size)
        )));
    }
    problems.extend(node_problems);
    Ok(nodes)
}

/// Checks every checkpoint: its signature, its size and root against the signed note and the
/// recomputed tree, and its consistency with the one before. Returns the latest that opened.
fn check_checkpoints(
    checkpoints: &[CheckpointRecord],
    verifier: Option<&Verifier>,
    tree: &MerkleTree,
    size: u64,
    problems: &mut Vec<Problem>,
) -> Option<Checkpoint> {
    let mut previous: Option<Checkpoint> = None;
    for cp in checkpoints {
        let fail = |reason: String| Problem::Checkpoint {
            id: cp.id,
            size: cp.size,
            reason,
        };
        let opened = match verifier {
            Some(v) => open_checkpoint(&cp.note, v).map_err(|e| format!("signature: {e}")),
            None => Err("no verifier key: the log has never been signed".to_string()),
        };
        let opened = match opened {
            Ok(c) => c,
            Err(reason) => {
                problems.push(fail(reason));
                continue;
            }
        };
        if opened.size != cp.size || opened.root != cp.root {
            problems.push(fail(
                "the stored size or root differs from the signed note".into(),
            ));
        }
        if opened.size > size {
            problems.push(fail(format!(
                "signed size {} is beyond the tree ({size})",
                opened.size
            )));
            continue;
        }
        match tree.root_at(opened.size) {
            Ok(root) if root == opened.root => {}
            _ => problems.push(fail(
                "the signed root is not the root of the recomputed tree at its size".into(),
            )),
        }
        if let Some(prev) = &previous {
            let consistent = if prev.origin != opened.origin {
                Err(format!("origin changed from {:?}", prev.origin))
            } else if prev.size > opened.size {
                Err(format!("the log shrank from {}", prev.size))
            } else {
                tree.consistency_proof(prev.size, opened.size)
                    .and_then(|proof| {
                        verify_consistency(prev.size, opened.size, &prev.root, &opened.root, &proof)
                    })
                    .map_err(|e| format!("not consistent with the previous checkpoint: {e}"))
            };
            if let Err(reason) = consistent {
                problems.push(fail(reason));
            }
        }
        previous = Some(opened);
    }
    previous
}

// ----- witness ------------------------------------------------------------------------------

/// Why a witness refuses a new checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    #[error("the checkpoint is not validly signed by the key: {0}")]
    Signature(String),
    #[error("the log changed its origin from {old:?} to {new:?}")]
    Origin { old: String, new: String },
    #[error("the log shrank from {old} to {new} entries")]
    Shrank { old: u64, new: u64 },
    #[error("the log changed its root at size {size}: a fork")]
    RootChanged { size: u64 },
    #[error(
        "the log forked: its tree of size {new} does not extend the tree of size {old} ({reason})"
    )]
    Fork { old: u64, new: u64, reason: String },
    #[error("the log answered something that is not a checkpoint or a proof: {0}")]
    Malformed(String),
}

/// What the witness needs next after opening a new checkpoint against the one it kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessStep {
    /// Nothing kept yet, or the same tree: accept.
    Accept,
    /// Fetch and check the consistency proof from `first` to `second`.
    NeedProof { first: u64, second: u64 },
}

/// Opens a checkpoint note with the witness's key.
pub fn witness_open(note: &str, verifier: &Verifier) -> Result<Checkpoint, WitnessRefusal> {
    open_checkpoint(note, verifier).map_err(|e| WitnessRefusal::Signature(e.to_string()))
}

/// Compares a new checkpoint with the one the witness kept.
pub fn witness_step(
    old: Option<&Checkpoint>,
    new: &Checkpoint,
) -> Result<WitnessStep, WitnessRefusal> {
    let Some(old) = old else {
        return Ok(WitnessStep::Accept);
    };
    if old.origin != new.origin {
        return Err(WitnessRefusal::Origin {
            old: old.origin.clone(),
            new: new.origin.clone(),
        });
    }
    if new.size < old.size {
        return Err(WitnessRefusal::Shrank {
            old: old.size,
            new: new.size,
        });
    }
    if new.size == old.size {
        return if new.root == old.root {
            Ok(WitnessStep::Accept)
        } else {
            Err(WitnessRefusal::RootChanged { size: new.size })
        };
    }
    Ok(WitnessStep::NeedProof {
        first: old.size,
        second: new.size,
    })
}

/// Checks the consistency proof between the kept checkpoint and the new one.
pub fn witness_check_proof(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[Hash],
) -> Result<(), WitnessRefusal> {
    verify_consistency(old.size, new.size, &old.root, &new.root, proof).map_err(|e| {
        WitnessRefusal::Fork {
            old: old.size,
            new: new.size,
            reason: e.to_string(),
        }
    })
}

/// What one witness run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witnessed {
    /// No checkpoint was kept: this one is the first.
    First { origin: String, size: u64 },
    /// The same tree as the one kept.
    Unchanged { origin: String, size: u64 },
    /// The log grew from `from` to `to` entries, consistently with the tree kept.
    Grew { origin: String, from: u64, to: u64 },
}

/// Why a witness run ended without a verdict or with a refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// The kept checkpoint does not open with the key (a state file of another log).
    #[error("the kept checkpoint: {0}")]
    Kept(WitnessRefusal),
    /// The log said something a witness must refuse: report it, do not retry.
    #[error("refused: {0}")]
    Refused(WitnessRefusal),
    /// The log could not be asked (try again later).
    #[error(transparent)]
    Unreachable(PortError),
}

/// One witness run: asks `source` for its latest checkpoint, decides with [`witness_step`]
/// against the `kept` note, fetches and checks the consistency proof when the log grew. Returns
/// what was found and the note to keep from now on; keeps nothing on a refusal.
pub async fn witness_once(
    source: &impl LogSource,
    verifier: &Verifier,
    kept: Option<&str>,
) -> Result<(Witnessed, String), WitnessError> {
    let old = kept
        .map(|note| witness_open(note, verifier))
        .transpose()
        .map_err(WitnessError::Kept)?;
    let asked = |e: PortError| match e.failure {
        Failure::Malformed | Failure::Rejected => {
            WitnessError::Refused(WitnessRefusal::Malformed(e.to_string()))
        }
        Failure::Unreachable => WitnessError::Unreachable(e),
    };
    let note = source.checkpoint().await.map_err(asked)?;
    let new = witness_open(&note, verifier).map_err(WitnessError::Refused)?;
    if let WitnessStep::NeedProof { first, second } =
        witness_step(old.as_ref(), &new).map_err(WitnessError::Refused)?
    {
        let proof = source
            .consistency_proof(first, second)
            .await
            .map_err(asked)?;
        if let Some(old) = &old {
            witness_check_proof(old, &new, &proof).map_err(WitnessError::Refused)?;
        }
    }
    let found = match old {
        None => Witnessed::First {
            origin: new.origin,
            size: new.size,
        },
        Some(o) if o.size == new.size => Witnessed::Unchanged {
            origin: new.origin,
            size: new.size,
        },
        Some(o) => Witnessed::Grew {
            origin: new.origin,
            from: o.size,
            to: new.size,
        },
    };
    Ok((found, note))
}

/// Checks an inclusion proof of a leaf's bytes against a root (for callers that verify a
/// document check or an entry themselves).
pub fn check_inclusion(
    leaf: &[u8],
    proof: &InclusionProof,
    root: &Hash,
) -> Result<(), LedgerError> {
    verify_inclusion(
        proof.index,
        proof.size,
        &leaf_hash(leaf),
        &proof.hashes,
        root,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log served from memory: its trees of 3 and 5 leaves, signed, and what it answers for
    /// the consistency proof.
    struct Served {
        notes: Vec<String>,
        asked: std::sync::atomic::AtomicUsize,
        proof: Result<Vec<Hash>, Failure>,
    }

    impl LogSource for Served {
        async fn checkpoint(&self) -> Result<String, PortError> {
            let i = self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(self.notes.get(i).cloned().unwrap_or_default())
        }

        async fn consistency_proof(&self, _: u64, _: u64) -> Result<Vec<Hash>, PortError> {
            self.proof.clone().map_err(|failure| PortError {
                system: "served".into(),
                message: "no proof".into(),
                failure,
            })
        }
    }

    fn served(proof: impl FnOnce(&MerkleTree) -> Result<Vec<Hash>, Failure>) -> (Served, Verifier) {
        let signer = Signer::generate("huifang.test/served", &mut rand::rngs::OsRng).unwrap();
        let leaves: Vec<Hash> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
        let tree = MerkleTree::from_leaf_hashes(leaves);
        let note = |size| {
            Checkpoint::new(signer.name(), size, tree.root_at(size).unwrap())
                .sign(&signer)
                .unwrap()
        };
        let notes = vec![note(3), note(5)];
        let proof = proof(&tree);
        let log = Served {
            notes,
            asked: 0.into(),
            proof,
        };
        (log, signer.verifier())
    }

    #[tokio::test]
    async fn the_witness_follows_growth_waits_out_an_unreachable_log_and_refuses_a_malformed_one() {
        let (log, verifier) = served(|t| Ok(t.consistency_proof(3, 5).unwrap()));
        let (first, kept) = witness_once(&log, &verifier, None).await.unwrap();
        assert!(
            matches!(first, Witnessed::First { size: 3, .. }),
            "{first:?}"
        );
        let (grew, _) = witness_once(&log, &verifier, Some(&kept)).await.unwrap();
        assert!(
            matches!(grew, Witnessed::Grew { from: 3, to: 5, .. }),
            "{grew:?}"
        );

        let (log, verifier) = served(|_| Err(Failure::Unreachable));
        let (_, kept) = witness_once(&log, &verifier, None).await.unwrap();
        let err = witness_once(&log, &verifier, Some(&kept))
            .await
            .unwrap_err();
        assert!(matches!(err, WitnessError::Unreachable(_)), "{err:?}");

        let (log, verifier) = served(|_| Err(Failure::Malformed));
        let (_, kept) = witness_once(&log, &verifier, None).await.unwrap();
        let err = witness_once(&log, &verifier, Some(&kept))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WitnessError::Refused(WitnessRefusal::Malformed(_))),
            "{err:?}"
        );

        let (log, verifier) = served(|t| Ok(t.consistency_proof(2, 5).unwrap()));
        let (_, kept) = witness_once(&log, &verifier, None).await.unwrap();
        let err = witness_once(&log, &verifier, Some(&kept))
            .await
            .unwrap_err();
        assert!(
            matches!(err, WitnessError::Refused(WitnessRefusal::Fork { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn decode_hex_accepts_hex_only() {
        let mut out = [0u8; 3];
        assert!(decode_hex(b"00aFf9", &mut out));
        assert_eq!(out, [0x00, 0xaf, 0xf9]);
        for bad in ["00aff", "00aff90", "00agf9", "0 aff9", "00aff\u{e9}"] {
            assert!(!decode_hex(bad.as_bytes(), &mut out), "{bad:?}");
        }
        let all: String = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        let mut out = [0u8; 256];
        assert!(decode_hex(all.as_bytes(), &mut out));
        assert!(out.iter().enumerate().all(|(i, b)| usize::from(*b) == i));
    }

    #[test]
    fn node_counts() {
        assert_eq!(node_count(0), 0);
        assert_eq!(node_count(1), 0);
        assert_eq!(node_count(2), 1);
        assert_eq!(node_count(7), 4);
        assert_eq!(node_count(8), 7);
    }
}

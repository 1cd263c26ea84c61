//! Intake: core banking pushes borrowers, loans and payments (one or a batch of JSON objects) or
//! a whole import file over the API. The same validation, errors and transaction as the file
//! import (`import::import_from`): all or nothing per request, idempotent by external id. A
//! request may also carry an `Idempotency-Key`: the same key with the same body is answered as
//! the first time, without doing anything again; the same key with another body is refused; a
//! request whose key is still being handled is told so (`claim_key`, `finish_key`).

use chrono::Utc;
use huifang_core::policy::Policy;
use huifang_core::team::Role;
use huifang_store::{KeyClaim, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::files::{FileKind, ImportFormat, Source};
use crate::import::{self, ImportReport};
use crate::team::Actor;

/// The most records one request may carry.
pub const MAX_ITEMS: usize = 1_000;

/// How long a key's first request may stay unanswered before the key counts as abandoned (the
/// server stopped while handling it) and another request may take it over.
const ABANDONED_AFTER_MINUTES: i64 = 10;

/// What an intake did, with the external ids of its records in request order (row order for a
/// file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub report: ImportReport,
    pub external_ids: Vec<String>,
}

/// Refuses callers who may not feed the book.
fn require_feeder(actor: &Actor) -> Result<(), AppError> {
    actor.require(
        Role::feeds_book,
        "push borrowers, loans, payments or import files",
    )
}

/// The external id (or product code) each record names, in order.
fn keys_of(format: ImportFormat, records: &[Value]) -> Vec<String> {
    match format.key_column() {
        Some(key) => records.iter().map(|r| keys_of_column(r, key)).collect(),
        None => vec![String::new(); records.len()],
    }
}

/// Imports `records` (1 to [`MAX_ITEMS`] JSON objects of `format`'s columns) as one file would
/// be: all or nothing, every bad item named by its index and field.
pub async fn records(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    format: ImportFormat,
    records: &[Value],
) -> Result<Intake, AppError> {
    require_feeder(actor)?;
    check_count(records)?;
    let report = import::import_from(store, policy, format, Source::Records(records)).await?;
    Ok(Intake {
        report,
        external_ids: keys_of(format, records),
    })
}

/// Requests that arrive while another is being written, written together.
///
/// One server's JSON intake requests go through one writer task: while it writes, requests
/// queue; it then takes every queued request of one kind (up to [`MERGED_RECORDS`] records) and
/// imports their records as one batch, in one transaction, so that a burst of small requests
/// costs the statements and the commit of one. Each request is still all or nothing: when the
/// merged batch is refused (one request's bad record, or two requests naming one new external
/// id), every request of it is imported again on its own, and each gets its own answer. A
/// request is answered only once what it wrote is committed.
#[derive(Debug, Clone)]
pub struct Coalescer {
    store: Store,
    queue: std::sync::Arc<std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Job>>>,
    /// Requests written as part of a merged batch so far.
    merged: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// The most records the writer task imports in one merged batch.
pub const MERGED_RECORDS: usize = 5_000;

#[derive(Debug)]
struct Job {
    format: ImportFormat,
    records: Vec<Value>,
    reply: tokio::sync::oneshot::Sender<Result<ImportReport, AppError>>,
}

impl Coalescer {
    /// A coalescer of the requests to `store` (its writer task starts with the first request).
    pub fn new(store: Store) -> Coalescer {
        Coalescer {
            store,
            queue: std::sync::Arc::new(std::sync::OnceLock::new()),
            merged: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// How many requests were written as part of a merged batch so far.
    pub fn merged(&self) -> u64 {
        self.merged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`records`], written together with the requests that arrive meanwhile (under the policy
    /// in force when their group is written).
    pub async fn records(
        &self,
        actor: &Actor,
        format: ImportFormat,
        records: Vec<Value>,
    ) -> Result<Intake, AppError> {
        require_feeder(actor)?;
        check_count(&records)?;
        let queue = self.queue.get_or_init(|| {
            let (send, receive) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(write_jobs(
                self.store.clone(),
                receive,
                std::sync::Arc::clone(&self.merged),
            ));
            send
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        let external_ids = keys_of(format, &records);
        queue
            .send(Job {
                format,
                records,
                reply,
            })
            .map_err(|_| AppError::Invalid("the intake writer has stopped".into()))?;
        let report = answer
            .await
            .map_err(|_| AppError::Invalid("the intake writer has stopped".into()))??;
        Ok(Intake {
            report,
            external_ids,
        })
    }
}

/// The writer task: takes the queued requests, one kind at a time, and writes each group.
async fn write_jobs(
    store: Store,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Job>,
    merged: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let mut waiting: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    loop {
        if waiting.is_empty() {
            match queue.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while let Ok(job) = queue.try_recv() {
            waiting.push_back(job);
        }
        let Some(format) = waiting.front().map(|j| j.format) else {
            continue;
        };
        let mut group = Vec::new();
        let mut size = 0;
        let mut rest = std::collections::VecDeque::new();
        while let Some(job) = waiting.pop_front() {
            if job.format == format
                && (group.is_empty() || size + job.records.len() <= MERGED_RECORDS)
            {
                size += job.records.len();
                group.push(job);
            } else {
                rest.push_back(job);
            }
        }
        waiting = rest;
        let n = write_group(&store, group).await;
        merged.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Writes a group of requests of one kind: merged when there are several, each on its own when
/// the merged batch is refused. Returns how many were written merged.
async fn write_group(store: &Store, group: Vec<Job>) -> u64 {
    let policy = crate::policy::load(store).await;
    if let (true, Some(first), Ok(policy)) = (group.len() > 1, group.first(), &policy) {
        let merged: Vec<Value> = group
            .iter()
            .flat_map(|j| j.records.iter().cloned())
            .collect();
        if let Ok(report) =
            import::import_from(store, policy, first.format, Source::Records(&merged)).await
        {
            let unchanged: std::collections::HashSet<&str> =
                report.unchanged_keys.iter().map(String::as_str).collect();
            let n = u64::try_from(group.len()).unwrap_or(u64::MAX);
            for job in group {
                let share = share_of(&job, &unchanged);
                let _ = job.reply.send(Ok(share));
            }
            return n;
        }
    }
    for job in group {
        // each on its own, with its own answer (a policy that cannot be read says why to each)
        let done = match &policy {
            Ok(policy) => {
                import::import_from(store, policy, job.format, Source::Records(&job.records)).await
            }
            Err(_) => match crate::policy::load(store).await {
                Ok(policy) => {
                    import::import_from(store, &policy, job.format, Source::Records(&job.records))
                        .await
                }
                Err(e) => Err(e),
            },
        };
        let _ = job.reply.send(done);
    }
    0
}

/// What a merged batch did for one of its requests.
fn share_of(job: &Job, unchanged: &std::collections::HashSet<&str>) -> ImportReport {
    let keys = keys_of(job.format, &job.records);
    let mut report = ImportReport::default();
    let mut loans = std::collections::BTreeSet::new();
    for (key, record) in keys.iter().zip(&job.records) {
        if unchanged.contains(key.as_str()) {
            report.unchanged += 1;
            report.unchanged_keys.push(key.clone());
        } else {
            report.inserted += 1;
            if job.format == ImportFormat::Payments {
                loans.insert(keys_of_column(record, "loan_external_id"));
            }
        }
    }
    report.loans_reprocessed = loans.len();
    report
}

fn keys_of_column(record: &Value, column: &str) -> String {
    match record.get(column) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn check_count(records: &[Value]) -> Result<(), AppError> {
    if records.is_empty() || records.len() > MAX_ITEMS {
        return Err(AppError::Field {
            field: "items",
            reason: format!(
                "a request carries 1 to {MAX_ITEMS} records, not {}",
                records.len()
            ),
        });
    }
    Ok(())
}

/// Imports an uploaded file (CSV, UTF-8 or GBK, or `.xlsx`) of `format` as `huifang import`
/// does.
pub async fn file(
    store: &Store,
    policy: &Policy,
    actor: &Actor,
    format: ImportFormat,
    bytes: &[u8],
) -> Result<Intake, AppError> {
    require_feeder(actor)?;
    if bytes.is_empty() {
        return Err(AppError::Field {
            field: "body",
            reason: "the file is empty".into(),
        });
    }
    let kind = FileKind::detect(None, bytes);
    let report = import::import_from(store, policy, format, Source::Bytes(bytes, kind)).await?;
    Ok(Intake {
        report,
        external_ids: Vec::new(),
    })
}

/// The lowercase-hex SHA-256 of a request body.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// What a request with an `Idempotency-Key` is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyed {
    /// Handle it, then [`finish_key`] (or [`release_key`] when it fails on the server's side).
    Handle,
    /// Answer this, as the first request with the key was answered.
    Replay { status: u16, body: String },
}

fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Claims `key` for `actor`'s request to `route` with `body` (committed at once, so that a
/// concurrent request with the key finds it). The same key with another route or body is
/// [`AppError::Refused`]; one still being handled is [`AppError::Conflict`].
pub async fn claim_key(
    store: &Store,
    actor: &Actor,
    key: &str,
    route: &str,
    body: &[u8],
) -> Result<Keyed, AppError> {
    let key = crate::team::checked_idempotency_key("Idempotency-Key", key)?;
    let now = Utc::now();
    let stale = stamp(now - chrono::Duration::minutes(ABANDONED_AFTER_MINUTES));
    let mut tx = store.begin().await?;
    let claim = tx
        .claim_idempotency_key(
            actor.id(),
            key,
            route,
            &body_hash(body),
            &stamp(now),
            &stale,
        )
        .await?;
    tx.commit().await?;
    match claim {
        KeyClaim::New => Ok(Keyed::Handle),
        KeyClaim::Done { status, response } => Ok(Keyed::Replay {
            status,
            body: response,
        }),
        KeyClaim::InProgress => Err(AppError::Conflict(format!(
            "a request with Idempotency-Key {key:?} is still being handled: retry shortly"
        ))),
        KeyClaim::Mismatch => Err(AppError::Refused {
            field: "Idempotency-Key",
            reason: format!("{key:?} was used for another request (another route or body)"),
        }),
    }
}

/// Stores the answer of a claimed key.
pub async fn finish_key(
    store: &Store,
    actor: &Actor,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    tx.finish_idempotency_key(actor.id(), key, status, body)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a claimed key back unanswered: its request failed on the server's side and may be
/// tried again with the same key.
pub async fn release_key(store: &Store, actor: &Actor, key: &str) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    tx.release_idempotency_key(actor.id(), key).await?;
    tx.commit().await?;
    Ok(())
}

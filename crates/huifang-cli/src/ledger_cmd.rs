//! `huifang ledger …`, `huifang document …`, `huifang serve` and `huifang bench-ledger`: the
//! tamper-evident record from the command line.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::workers::{self, Next};
use huifang_adapters::HttpLogSource;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Subcommand, ValueEnum};
use huifang_app::ledger::{self, Owner, WitnessError, Witnessed};
use huifang_app::views;
use huifang_ledger::Verifier;
use huifang_store::Store;
use sha2::{Digest, Sha256};

use crate::Db;
use crate::bench::approx_f64;

/// The commands of this module, flattened into the top-level command list.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// The tamper-evident record: key, checkpoints, entries, proofs, audit, witness.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Register documents by their SHA-256 in the log, or check a file against them.
    Document {
        #[command(subcommand)]
        command: DocumentCommand,
    },
    /// Serve the web console (at /) and the HTTP API (/api/v1, OpenAPI at
    /// /api/v1/openapi.json).
    Serve {
        /// Address to listen on (port 0: any free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Do not run the background work in this server: the outbox's delivery (run `huifang
        /// notify run` elsewhere) and the vehicles' offline sweep (`huifang vehicle sweep`).
        #[arg(long)]
        no_worker: bool,
        /// Longest a request may take, in seconds, before it is answered 503 and abandoned.
        #[arg(long, default_value_t = 60)]
        request_timeout: u64,
        /// Requests handled at once; more are answered 503 at once.
        #[arg(long, default_value_t = 512)]
        max_in_flight: usize,
        /// Public document checks a minute from one address.
        #[arg(long, default_value_t = 30)]
        public_checks_per_minute: u32,
        /// An origin (e.g. https://console.example.com) allowed to call the API from a browser;
        /// repeat for several. None by default: CORS is closed.
        #[arg(long = "cors-origin")]
        cors_origins: Vec<String>,
        /// Mark the console's session cookie Secure: the server is reached over TLS through a
        /// proxy that does not send `X-Forwarded-Proto: https` (when it does, the cookie is
        /// Secure anyway).
        #[arg(long, env = "HUIFANG_SECURE_COOKIES")]
        secure_cookies: bool,
        /// Minutes a console session lasts without use (it ends 12 hours after sign-in
        /// whatever its use).
        #[arg(long, default_value_t = 30)]
        console_idle_minutes: u64,
    },
    /// Benchmark the ledger: appends in daily-close-sized transactions, proofs, full audit.
    BenchLedger {
        /// Entries to append (the database is emptied first).
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Entries per transaction (the daily close writes up to 2,000 loans' warnings per batch).
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
        /// Proofs of each kind to time.
        #[arg(long, default_value_t = 2_000)]
        proofs: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Print the note verifier key of this log.
    Key,
    /// Print the latest signed checkpoint (with --new: make one now first).
    Checkpoint {
        #[arg(long)]
        new: bool,
    },
    /// Print entries START..END (END exclusive, at most 1,000) as JSON.
    Entries {
        #[arg(long)]
        start: u64,
        #[arg(long)]
        end: u64,
    },
    /// Print an inclusion proof (--index I --size N) or a consistency proof
    /// (--consistency --first M --second N) as JSON.
    Prove {
        #[arg(long, conflicts_with = "consistency")]
        index: Option<u64>,
        /// Tree size (default: the latest checkpoint's).
        #[arg(long)]
        size: Option<u64>,
        #[arg(long, requires_all = ["first", "second"])]
        consistency: bool,
        #[arg(long)]
        first: Option<u64>,
        #[arg(long)]
        second: Option<u64>,
    },
    /// Audit the whole log against the records; non-zero exit if anything is wrong.
    Verify {
        /// Verifier key to check the checkpoints with (default: the log's own).
        #[arg(long)]
        key: Option<String>,
    },
    /// Follow another Huifang server's log: check its new checkpoint against the one kept in
    /// the state file (signature, consistency), refuse forks, shrinks and changed roots.
    Witness {
        /// The server's base URL, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        /// The log's note verifier key.
        #[arg(long)]
        key: String,
        /// File holding the last accepted checkpoint (created on first use).
        #[arg(long)]
        state: PathBuf,
        /// Keep following: check again every SECONDS (until Ctrl-C, a refusal, or --runs).
        /// An unreachable server is reported and asked again at the next check.
        #[arg(long, value_name = "SECONDS")]
        every: Option<u64>,
        /// With --every: stop after this many checks.
        #[arg(long, requires = "every")]
        runs: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum DocumentKind {
    IncomeProof,
    Contract,
    IdScan,
    Other,
}

impl DocumentKind {
    fn as_str(self) -> &'static str {
        match self {
            DocumentKind::IncomeProof => "income_proof",
            DocumentKind::Contract => "contract",
            DocumentKind::IdScan => "id_scan",
            DocumentKind::Other => "other",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Register a file (its SHA-256 and size) for a loan or a borrower, anchored in the log.
    Register {
        /// The loan's external id.
        #[arg(
            long,
            required_unless_present = "borrower",
            conflicts_with = "borrower"
        )]
        loan: Option<String>,
        /// The borrower's external id.
        #[arg(long)]
        borrower: Option<String>,
        #[arg(long, value_enum)]
        kind: DocumentKind,
        file: PathBuf,
    },
    /// Say whether a file is a registered document, which one, and print its inclusion proof
    /// against the latest checkpoint. Exits 1 when it is not registered.
    Check { file: PathBuf },
}

/// Runs one of this module's commands against the database `db`.
pub async fn run(db: &Db, command: &Commands) -> Result<()> {
    let url = db.url.as_str();
    match command {
        Commands::Ledger { command } => ledger(db, command).await,
        Commands::Document { command } => document(db, command).await,
        Commands::Serve {
            listen,
            no_worker,
            request_timeout,
            max_in_flight,
            public_checks_per_minute,
            cors_origins,
            secure_cookies,
            console_idle_minutes,
        } => {
            let config = huifang_web::HttpConfig {
                request_timeout: Duration::from_secs((*request_timeout).max(1)),
                max_in_flight: *max_in_flight,
                public_checks_per_minute: *public_checks_per_minute,
                cors_origins: cors_origins.clone(),
                secure_cookies: *secure_cookies,
                console_idle: Duration::from_secs((*console_idle_minutes).max(1) * 60),
                warm_dashboard: true,
            };
            let store = db.open_reporting().await?;
            // refused here when another server serves the same SQLite file
            let me = huifang_app::cluster::Process::join(&store, "serve").await?;
            crate::init_tracing();
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let addr = listener.local_addr()?;
            {
                // for whoever started the server; a closed standard output does not stop it
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "listening on http://{addr}")
                    .and_then(|()| writeln!(out, "console: http://{addr}/ (API: /api/v1)"))
                    .and_then(|()| out.flush());
            }
            workers::heartbeat(&store, &me);
            if !*no_worker {
                workers::background(&store);
            }
            let served = huifang_web::serve_with(store.clone(), listener, config).await;
            me.leave(&store).await?;
            served?;
            Ok(())
        }
        Commands::BenchLedger {
            entries,
            batch,
            proofs,
        } => bench(url, *entries, *batch, *proofs).await,
    }
}

async fn ledger(db: &Db, command: &LedgerCommand) -> Result<()> {
    let store = db.open().await?;
    match command {
        LedgerCommand::Key => say!("{}", ledger::verifier_key(&store).await?),
        LedgerCommand::Checkpoint { new } => {
            let cp = if *new {
                Some(ledger::new_checkpoint(&store).await?)
            } else {
                ledger::latest_checkpoint(&store).await?
            };
            let cp = cp.context(
                "the log has no checkpoint yet: `huifang ledger checkpoint --new` makes one",
            )?;
            say_text!("{}", cp.note);
        }
        LedgerCommand::Entries { start, end } => {
            let (size, leaves) = ledger::entries(&store, *start, *end).await?;
            let view = views::EntriesView {
                start: *start,
                end: *end,
                tree_size: size,
                entries: leaves.iter().map(views::EntryView::from).collect(),
            };
            say!("{}", serde_json::to_string_pretty(&view)?);
        }
        LedgerCommand::Prove {
            index,
            size,
            consistency,
            first,
            second,
        } => {
            if *consistency {
                let (Some(first), Some(second)) = (first, second) else {
                    bail!("--consistency needs --first and --second");
                };
                let p = ledger::consistency_proof(&store, *first, *second).await?;
                say!(
                    "{}",
                    serde_json::to_string_pretty(&views::ConsistencyProofView::from(&p))?
                );
            } else {
                let index = index.context("--index is needed (or --consistency)")?;
                let size = match size {
                    Some(s) => *s,
                    None => {
                        ledger::latest_checkpoint(&store)
                            .await?
                            .context("no checkpoint yet: give --size")?
                            .size
                    }
                };
                let p = ledger::inclusion_proof(&store, index, size).await?;
                say!(
                    "{}",
                    serde_json::to_string_pretty(&views::InclusionProofView::from(&p))?
                );
            }
        }
        LedgerCommand::Verify { key } => {
            let started = Instant::now();
            let report = ledger::verify(&store, key.as_deref()).await?;
            let elapsed = started.elapsed();
            for problem in &report.problems {
                say!("{problem}");
            }
            let timings = report
                .timings
                .iter()
                .map(|(phase, d)| format!("{phase} {:.3} s", d.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ");
            let latest = report
                .latest
                .as_ref()
                .map_or("no checkpoint yet".to_string(), |c| {
                    format!("latest checkpoint size {} ({})", c.size, c.origin)
                });
            say!(
                "{} leaves, {} records, {} stored nodes, {} checkpoints; {latest}; {:.3} s ({timings})",
                report.tree_size,
                report.records,
                report.nodes,
                report.checkpoints,
                elapsed.as_secs_f64()
            );
            if !report.ok() {
                bail!(
                    "the ledger does not verify: {} problem(s)",
                    report.problems.len()
                );
            }
            say!("ok: every record matches its leaf and every checkpoint verifies");
        }
        LedgerCommand::Witness {
            url,
            key,
            state,
            every,
            runs,
        } => witness(url, key, state, *every, *runs).await?,
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).context("a read overran its buffer")?);
        size += u64::try_from(n)?;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

async fn document(db: &Db, command: &DocumentCommand) -> Result<()> {
    let store = db.open().await?;
    match command {
        DocumentCommand::Register {
            loan,
            borrower,
            kind,
            file,
        } => {
            let owner = match (loan, borrower) {
                (Some(l), _) => Owner::Loan(l.clone()),
                (None, Some(b)) => Owner::Borrower(b.clone()),
                (None, None) => bail!("--loan or --borrower is needed"),
            };
            let (sha256, size) = sha256_file(file)?;
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let reg =
                ledger::register_document(&store, &owner, kind.as_str(), &file_name, &sha256, size)
                    .await?;
            say!(
                "registered document {} ({}, {size} bytes, sha256 {sha256}) on {} as ledger entry {}",
                reg.document_id,
                kind.as_str(),
                reg.registered_on,
                reg.leaf_index
            );
        }
        DocumentCommand::Check { file } => {
            let (sha256, size) = sha256_file(file)?;
            let check = ledger::check_document(&store, &sha256).await?;
            say!("file {} ({size} bytes), sha256 {sha256}", file.display());
            if check.matches.is_empty() {
                say!("NOT REGISTERED: no document has this SHA-256");
                std::process::exit(1);
            }
            let verifier = Verifier::from_key_string(&ledger::verifier_key(&store).await?)
                .map_err(|e| anyhow!("the log's key: {e}"))?;
            let signed = check
                .checkpoint
                .as_ref()
                .map(|cp| huifang_ledger::open_checkpoint(&cp.note, &verifier));
            for m in &check.matches {
                let d = &m.document;
                say!(
                    "registered document {}: {} of {} {}, file {:?}, registered {}",
                    d.id,
                    d.document.kind,
                    d.document.owner_kind,
                    d.owner_external_id.as_deref().unwrap_or("(gone)"),
                    d.document.file_name,
                    d.document.registered_on
                );
                say!("  record (committed fields, salt {}):", d.document.salt);
                for line in m.record.lines() {
                    say!("    {line}");
                }
                match (m.leaf_index, m.leaf_matches) {
                    (Some(i), true) => say!("  ledger entry {i}: the leaf matches the record"),
                    (Some(i), false) => {
                        say!("  ledger entry {i}: THE LEAF DOES NOT MATCH THE RECORD")
                    }
                    (None, _) => say!("  NOT LOGGED: the document has no ledger entry"),
                }
                match (&m.proof, &signed, &m.leaf) {
                    (Some(p), Some(Ok(cp)), Some(leaf)) => {
                        let verdict = match ledger::check_inclusion(leaf, p, &cp.root) {
                            Ok(()) => "verified against the signed checkpoint".to_string(),
                            Err(e) => format!("DOES NOT VERIFY: {e}"),
                        };
                        say!(
                            "  inclusion proof of entry {} in the checkpoint of size {}: {verdict}",
                            p.index,
                            p.size
                        );
                        for h in &p.hashes {
                            say!("    {}", hex::encode(h));
                        }
                    }
                    (_, Some(Err(e)), _) => {
                        say!("  the latest checkpoint does not verify: {e}")
                    }
                    _ => say!(
                        "  not yet in a checkpoint (run `huifang ledger checkpoint --new` or wait for the daily close)"
                    ),
                }
            }
            if let Some(cp) = &check.checkpoint {
                say!("latest checkpoint:\n{}", cp.note.trim_end());
            }
            if !check.registered() {
                bail!("the document's ledger entry does not match its record");
            }
        }
    }
    Ok(())
}

// ----- witness ------------------------------------------------------------------------------

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    use std::io::Write as _;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Follows another server's log: one check, or one every `every` seconds (a worker loop) until
/// a refusal, Ctrl-C or `runs` checks. The decision is `ledger::witness_once`'s; this keeps the
/// accepted checkpoint in the state file and says what happened.
async fn witness(
    url: &str,
    key: &str,
    state: &Path,
    every: Option<u64>,
    runs: Option<u64>,
) -> Result<()> {
    let verifier = Verifier::from_key_string(key).map_err(|e| anyhow!("--key: {e}"))?;
    let source = HttpLogSource::new(url, Duration::from_secs(30))?;
    let check = async |_run: u64| -> Result<Next> {
        let kept = match std::fs::read_to_string(state) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", state.display())),
        };
        match ledger::witness_once(&source, &verifier, kept.as_deref()).await {
            Ok((found, note)) => {
                write_atomically(state, &note)?;
                match found {
                    Witnessed::Unchanged { origin, size } => {
                        say!("unchanged: {origin} at size {size}")
                    }
                    Witnessed::Grew { origin, from, to } => {
                        say!("accepted: {origin} grew from {from} to {to} entries, consistently")
                    }
                    Witnessed::First { origin, size } => {
                        say!("accepted: {origin} at size {size} (first checkpoint kept)")
                    }
                }
                Ok(Next::Continue)
            }
            Err(WitnessError::Unreachable(e)) if every.is_some() => {
                eprintln!("not reached, will ask again: {e}");
                Ok(Next::Continue)
            }
            Err(WitnessError::Kept(e)) => {
                Err(anyhow!(e)).with_context(|| format!("the state file {}", state.display()))
            }
            Err(e) => Err(e.into()),
        }
    };
    match every {
        None => check(1).await.map(|_| ()),
        Some(seconds) => workers::every(Duration::from_secs(seconds.max(1)), runs, check)
            .await
            .map(|_| ()),
    }
}

// ----- benchmark ----------------------------------------------------------------------------

async fn bench(url: &str, entries: u64, batch: usize, proofs: u32) -> Result<()> {
    use huifang_app::synth::{Portfolio, SynthConfig};
    use huifang_core::calendar::parse_date;
    use rand::{Rng, SeedableRng};

    let policy = huifang_core::policy::Policy::default();
    let date = parse_date("2026-11-27").context("date")?;
    let store = Store::connect(url)
        .await?
        .with_keys(Some(huifang_app::keys::ephemeral()));
    store.wipe().await?;
    store.migrate().await?;
    {
        let mut tx = store.begin().await?;
        tx.set_business_date(date).await?;
        tx.commit().await?;
    }
    ledger::init(&store, Some("huifang.bench/ledger")).await?;
    let portfolio = Portfolio::new(SynthConfig::demo(date, 200))
        .map_err(|e| anyhow!("{e}"))?
        .generate()
        .map_err(|e| anyhow!("{e}"))?;
    let lines = |n: usize| 2..n + 2;
    let products: Vec<_> = lines(huifang_app::synth::default_products().len())
        .zip(huifang_app::synth::default_products())
        .collect();
    huifang_app::import::import_products(&store, &products).await?;
    let borrowers: Vec<_> = lines(portfolio.borrowers.len())
        .zip(portfolio.borrowers.iter().cloned())
        .collect();
    huifang_app::import::import_borrowers(&store, &borrowers).await?;
    let loans: Vec<_> = lines(portfolio.loans.len())
        .zip(portfolio.loans.iter().cloned())
        .collect();
    huifang_app::import::import_loans(&store, &policy, &loans).await?;
    let loan_ids: Vec<huifang_core::LoanId> = {
        let mut tx = store.begin().await?;
        let ids = tx
            .loan_ids_by_external_id(
                &portfolio
                    .loans
                    .iter()
                    .map(|l| l.external_id.clone())
                    .collect::<Vec<_>>(),
            )
            .await?;
        tx.rollback().await?;
        ids.into_values().collect()
    };
    let already = {
        let mut tx = store.begin().await?;
        let size = tx.ledger_size().await?;
        tx.rollback().await?;
        size
    };
    say!(
        "bench-ledger: {url}, {entries} entries in transactions of {batch} warnings ({} loans imported, {already} entries logged by the import)",
        loan_ids.len()
    );

    // Appends: warnings opened and logged as the daily close does, one transaction per batch.
    if loan_ids.is_empty() {
        bail!("bench-ledger: the import left no loan to raise warnings on");
    }
    let batch64 = u64::try_from(batch)?;
    let started = Instant::now();
    let mut written = 0u64;
    let mut n = 0usize;
    while written < entries {
        let take = usize::try_from((entries - written).min(batch64)).unwrap_or(batch);
        let warnings = (0..take)
            .map(|i| {
                n += 1;
                Ok(huifang_store::WarningRecord {
                    loan_id: *loan_ids
                        .get((n + i) % loan_ids.len())
                        .context("loan index")?,
                    level: 1 + u8::try_from(n % 3)?,
                    rule: "bench".into(),
                    facts: format!("{{\"dpd\":\"{}\",\"n\":\"{n}\"}}", n % 200),
                    raised_on: date,
                    cleared_on: None,
                })
            })
            .collect::<Result<Vec<huifang_store::WarningRecord>>>()?;
        let mut tx = store.begin().await?;
        ledger::open_warnings(&mut tx, &warnings).await?;
        tx.commit().await?;
        written += u64::try_from(take)?;
        if written % 100_000 < batch64 {
            eprintln!(
                "  {written} appended, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let append_s = started.elapsed().as_secs_f64();
    say!(
        "append: {written} entries in {append_s:.2} s = {:.0} entries/s ({:.1} ms per {batch}-entry transaction, record + leaf + nodes)",
        approx_f64(written) / append_s,
        append_s * 1000.0 / (approx_f64(written) / approx_f64(batch))
    );

    let started = Instant::now();
    let cp = ledger::new_checkpoint(&store).await?;
    say!(
        "checkpoint: size {} signed in {:.1} ms",
        cp.size,
        started.elapsed().as_secs_f64() * 1000.0
    );
    let size = cp.size;

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let started = Instant::now();
    for _ in 0..proofs {
        let index = rng.gen_range(0..size);
        let p = ledger::inclusion_proof(&store, index, size).await?;
        if p.root != cp.root {
            bail!("inclusion proof root differs from the checkpoint");
        }
    }
    let s = started.elapsed().as_secs_f64();
    say!(
        "inclusion proofs: {proofs} at size {size} in {s:.2} s = {:.0} proofs/s",
        f64::from(proofs) / s
    );
    let started = Instant::now();
    for _ in 0..proofs {
        let first = rng.gen_range(1..size);
        let p = ledger::consistency_proof(&store, first, size).await?;
        if p.second_root != cp.root {
            bail!("consistency proof root differs from the checkpoint");
        }
    }
    let s = started.elapsed().as_secs_f64();
    say!(
        "consistency proofs: {proofs} to size {size} in {s:.2} s = {:.0} proofs/s",
        f64::from(proofs) / s
    );

    for round in 1..=3 {
        let started = Instant::now();
        let report = ledger::verify(&store, None).await?;
        let s = started.elapsed().as_secs_f64();
        let timings = report
            .timings
            .iter()
            .map(|(phase, d)| format!("{phase} {:.3} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        say!(
            "full audit (round {round}): {} leaves, {} records, {} nodes, {} checkpoints in {s:.3} s ({timings}){}",
            report.tree_size,
            report.records,
            report.nodes,
            report.checkpoints,
            if report.ok() {
                ""
            } else {
                " — PROBLEMS FOUND"
            }
        );
        if !report.ok() {
            bail!(
                "the benchmark log does not verify: {:?}",
                report.problems.iter().take(5).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

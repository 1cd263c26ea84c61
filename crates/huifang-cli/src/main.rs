//! `huifang`: the command line of Huifang (回访), post-loan management for car-finance lenders.

/// `println!` that returns a closed pipe (`huifang status | head`) as an error, which `main`
/// treats as the reader's choice, instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

/// `print!` likewise.
macro_rules! say_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod assistant_cmd;
mod bench;
mod bench_outcomes;
mod case_cmd;
mod contact_cmd;
mod followup_cmd;
mod ledger_cmd;
mod notify_cmd;
mod operator;
mod output;
mod report_cmd;
mod score_cmd;
mod team_cmd;
mod template_cmd;
mod tiers_cmd;
mod vehicle_cmd;
mod warning_cmd;
mod worker_cmd;
mod workers;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use huifang_app::files::ImportFormat;
use huifang_app::views;
use huifang_app::{close, import, loans, status};
use huifang_core::calendar::parse_date;
use huifang_core::loan::LoanOp;
use huifang_core::policy::{Classification, Policy};
use huifang_core::schedule::{self, Method, ScheduleTerms};
use huifang_core::{Date, Money, Rate};
use huifang_store::Store;

/// mimalloc serves every allocation, SQLite's included (the `override` feature replaces
/// `malloc` itself): under glibc's allocator a daily close spent a third of its writing
/// thread in `malloc` and `free` (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Huifang (回访): post-loan management for lenders that finance cars.
#[derive(Debug, Parser)]
#[command(name = "huifang", version, about)]
struct Cli {
    /// Database: sqlite://PATH (default sqlite://huifang.db in the current folder) or postgres://…
    #[arg(long, global = true, env = "HUIFANG_DATABASE_URL")]
    db: Option<String>,
    /// The key file that seals personal data (ID numbers, mobiles); never inside the database.
    /// Default: PATH.keys beside a SQLite file PATH, huifang.keys in the current folder for
    /// PostgreSQL. Without it the book still opens for everything but personal data.
    #[arg(long, global = true, env = huifang_app::keys::KEY_FILE_ENV)]
    data_key_file: Option<PathBuf>,
    /// PostgreSQL: connections in this process's pool (default 8).
    #[arg(long, global = true, env = "HUIFANG_DB_POOL")]
    db_pool: Option<u32>,
    /// PostgreSQL: longest a statement may run, in seconds, before the server cancels it
    /// (default: no bound).
    #[arg(long, global = true, env = "HUIFANG_STATEMENT_TIMEOUT")]
    statement_timeout: Option<u64>,
    /// PostgreSQL: a read replica of the book (postgres://…, e.g. a hot standby) that answers
    /// the reports (`report`, `tiers`, the API's and the console's reports and dashboard); writes
    /// and everything else stay on --db.
    #[arg(long, global = true, env = "HUIFANG_READ_DATABASE_URL")]
    read_db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum SignalsCommand {
    /// What a text yields: each signal with the words that fired it and its confidence, and the
    /// words the text was cut into.
    Test {
        text: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Put a new random key first in the key file (made if missing): it seals from now on;
    /// the older keys stay to open what they sealed until `keys rotate` has re-sealed it.
    New,
    /// Re-seal every ID number and mobile under the current key (and seal any stored in clear),
    /// in short transactions while servers and the close keep working.
    Rotate,
    /// The key file, its keys and how many rows are not yet sealed under the current key.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Products,
    Borrowers,
    Loans,
    Payments,
    /// A GPS vendor's `tracker_events.csv`: device_id,vin,tracker,time,lat,lon,event.
    TrackerEvents,
    /// `places.csv` (pawn shops, used-car markets): external_id,kind,name,lat,lon,radius_m.
    Places,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database (or bring its schema up to date) and set the business date.
    Init {
        /// The business date (default: today in Asia/Shanghai). Only set when the database is new.
        #[arg(long, value_parser = date_arg)]
        business_date: Option<Date>,
        /// Name of the new ledger log and its signing key (default: huifang.log/<random id>).
        #[arg(long)]
        ledger_origin: Option<String>,
    },
    /// Import a CSV (UTF-8 or GBK) or .xlsx file; all rows or none.
    Import { kind: Kind, file: PathBuf },
    /// Close each business day in order up to DATE.
    RunDaily {
        #[arg(long, value_parser = date_arg)]
        through: Date,
    },
    /// One row per loan at the business date (with --workers: the servers and workers on the
    /// database, their heartbeats and the daily close's progress).
    Status {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(long)]
        workers: bool,
    },
    /// Close each business day on a schedule (shared with the other workers of a PostgreSQL
    /// database) and run the background work, until Ctrl-C.
    Worker(worker_cmd::WorkerArgs),
    /// One loan: schedule, payments and their allocation, status history.
    Loan {
        external_id: String,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Print a repayment schedule.
    Schedule {
        #[arg(long)]
        principal: String,
        /// Annual rate as a fraction (0.0485 for 4.85%).
        #[arg(long)]
        rate: String,
        #[arg(long)]
        term: u32,
        #[arg(long, value_parser = method_arg)]
        method: Method,
        #[arg(long, value_parser = date_arg)]
        disbursed_on: Date,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Record a loan operation effective on the business date.
    Operate {
        external_id: String,
        #[command(subcommand)]
        op: OpCommand,
        /// Why (recorded with the decision).
        #[arg(long, global = true)]
        reason: Option<String>,
        /// Who decided.
        #[arg(long = "by", global = true)]
        decided_by: Option<String>,
        /// Effective date (default: the business date; earlier re-processes the loan).
        #[arg(long, global = true, value_parser = date_arg)]
        on: Option<Date>,
    },
    /// The data keys that seal personal data at rest: a new key, re-sealing under it, status.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Portfolio summary: loans and balances by bucket, classification and warning level; with
    /// `tiers`, the five-tier classification report between two dates; the reports over time:
    /// `delinquency`, `roll-rates`, `vintage`, `collection`, `warnings` (table, CSV, JSON, .xlsx).
    Report {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[command(subcommand)]
        what: Option<ReportCommand>,
    },
    /// Risk signals read in Chinese free text (notes, replies, transcripts).
    Signals {
        #[command(subcommand)]
        command: SignalsCommand,
    },
    /// The risk score (风险评分): train the models, list them, a loan's score, a new application's.
    Score {
        #[command(subcommand)]
        command: score_cmd::Command,
    },
    /// Create a fresh demo database with a synthetic portfolio and close its days up to today.
    Demo {
        /// Loans in the demo portfolio.
        #[arg(long, default_value_t = 3000)]
        loans: usize,
        #[arg(long, default_value_t = 20261128)]
        seed: u64,
        /// The last business date (default: today in Asia/Shanghai).
        #[arg(long, value_parser = date_arg)]
        today: Option<Date>,
        /// Then serve the web console and the API on the demo (until Ctrl-C).
        #[arg(long)]
        serve: bool,
        /// Where `--serve` listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Benchmark: generate N loans with repayment history, import them and time the daily close.
    Bench {
        #[arg(long, default_value_t = 100_000)]
        loans: usize,
        /// Days to close after the import (0: import only, leaving the database at the eve of the
        /// first day closed, before the quiet day, for `--keep-book` runs on copies of it).
        #[arg(long, default_value_t = 3)]
        days: u32,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Time the days on the book an earlier `--days 0` run imported into this database (same
        /// --loans and --seed) instead of emptying it and importing again.
        #[arg(long)]
        keep_book: bool,
        /// Close the days with no event sending a message (the notification rules emptied), to
        /// measure what writing the day's messages to the outbox costs.
        #[arg(long)]
        no_messages: bool,
    },
    /// Benchmark the team's load on running servers: every user who works tasks takes the next
    /// task through one server and records its outcome through the next (an API token issued to
    /// each, replacing theirs), for --seconds or until the business date reaches --until; prints
    /// outcomes a second and the latencies.
    BenchOutcomes {
        /// A server's base URL, e.g. http://127.0.0.1:8080 (repeat for several).
        #[arg(long = "server", required = true)]
        servers: Vec<String>,
        #[arg(long, default_value_t = 30, conflicts_with = "until")]
        seconds: u64,
        /// Run until the business date reaches this day (while workers close the days).
        #[arg(long, value_parser = date_arg)]
        until: Option<Date>,
    },
    /// The servicing policy: bucket width, classification thresholds, reminder days (a JSON
    /// document stored in the database).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The early-warning rule set (预警规则): versioned, each rule a repayment fact or a
    /// follow-up signal with its level (a JSON document stored in the database).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Decisions on loans by risk officers (展期, 重组, 提前收回, 核销, …), four-eyes above an
    /// amount, within the product's limits.
    Decide {
        #[command(subcommand)]
        command: DecideCommand,
    },
    /// Early warnings (风险预警): list and show them; a risk officer acknowledges them, records
    /// what was done and resolves them.
    Warning {
        #[command(subcommand)]
        command: warning_cmd::WarningCommand,
    },
    /// The follow-up assistant: welcome calls and reminders by IVR or chat; a pass, its rules,
    /// the report of its flows, a task's conversation.
    Assistant {
        #[command(subcommand)]
        command: assistant_cmd::AssistantCommand,
    },
    /// Vehicle monitoring (GPS trackers): a loan's vehicle, the offline sweep and retention,
    /// the rules, the known places, the log of location views.
    Vehicle {
        #[command(subcommand)]
        command: vehicle_cmd::VehicleCommand,
    },
    /// Repossession (收车) and legal (诉讼) cases: a risk officer opens one on a loan; risk
    /// officers and collectors record its steps; a sale is posted as a payment.
    Case {
        #[command(subcommand)]
        command: case_cmd::CaseCommand,
    },
    /// The contact rules (08:00–21:00 local time, call and channel caps) and the borrowers'
    /// opt-outs; the contacts the rules refused.
    Contact {
        #[command(subcommand)]
        command: contact_cmd::ContactCommand,
    },
    /// Messages to borrowers through the outbox: the delivery worker, the messages and their
    /// report, the notification rules and the channels' connections, calls placed for agents.
    Notify {
        #[command(subcommand)]
        command: notify_cmd::NotifyCommand,
    },
    /// Events out to subscribers (webhooks): add, list, send a test, the delivery log; the
    /// deliveries are made by `huifang notify run` and `huifang serve`.
    Webhook {
        #[command(subcommand)]
        command: notify_cmd::WebhookCommand,
    },
    /// Message templates per event, language and channel: list, show, set (the administrator),
    /// preview with a loan's facts.
    Template {
        #[command(subcommand)]
        command: template_cmd::TemplateCommand,
    },
    #[command(flatten)]
    Ledger(ledger_cmd::Commands),
    #[command(flatten)]
    Followup(followup_cmd::Commands),
    #[command(flatten)]
    Team(team_cmd::Commands),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the policy in force as the JSON document `policy set` reads.
    Show,
    /// Validate FILE and make it the policy in force from the next close on (every loan is
    /// re-evaluated by that close). A refused file changes nothing.
    Set { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// 五级分类: loans and outstanding principal per tier on two dates, and the migration
    /// matrix between them (every loan replayed as of each date).
    Tiers {
        #[arg(long, value_parser = date_arg)]
        from: Date,
        /// Default: the business date.
        #[arg(long, value_parser = date_arg)]
        to: Option<Date>,
        #[arg(long, value_enum, default_value = "table")]
        format: tiers_cmd::TierFormat,
        /// Where to write the .xlsx workbook.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    #[command(flatten)]
    Over(report_cmd::Command),
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Print the rule set in force as the JSON document `rules set` reads.
    Show,
    /// Validate FILE and make it the next version of the rule set, in force from the next close
    /// on (every loan is re-evaluated by that close). A refused file changes nothing.
    Set { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum DecideCommand {
    /// Decide on a loan (risk officers): applied at once, or pending a second approver above
    /// the policy's four-eyes amount.
    On {
        external_id: String,
        #[command(subcommand)]
        op: OpCommand,
        /// Why (recorded with the decision; required).
        #[arg(long, global = true)]
        reason: Option<String>,
        /// Who decides (required; for the machine's operator, who holds the database: the user's
        /// role applies and the decision is recorded as theirs).
        #[arg(long = "as", global = true)]
        user: Option<String>,
        /// Effective date (default: the business date; earlier re-processes the loan).
        #[arg(long, global = true, value_parser = date_arg)]
        on: Option<Date>,
    },
    /// Approve a pending decision (a risk officer other than the one who asked).
    Approve {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// A loan's decisions, or every decision pending approval.
    List {
        #[arg(long)]
        loan: Option<String>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum OpCommand {
    /// 展期: move every unpaid installment N months later.
    Defer {
        #[arg(long)]
        months: u32,
    },
    /// 还款假期: nothing falls due for N months; the holiday's interest is added to the first
    /// installment after it.
    Holiday {
        #[arg(long)]
        months: u32,
    },
    /// 重组: a new schedule for everything unpaid.
    Restructure {
        #[arg(long)]
        rate: String,
        #[arg(long)]
        term: u32,
        #[arg(long, value_parser = method_arg)]
        method: Method,
    },
    /// 提前结清: remaining principal and the current interest fall due today.
    Settle,
    /// 提前收回: the whole balance is due now.
    Accelerate,
    /// 核销: write the loan off.
    WriteOff,
    /// Manual classification floor (a downgrade; never an upgrade past what DPD forces).
    Classify {
        #[arg(long)]
        floor: String,
    },
}

fn date_arg(s: &str) -> Result<Date, String> {
    parse_date(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

fn method_arg(s: &str) -> Result<Method, String> {
    s.parse()
}

/// Today in Asia/Shanghai (UTC+8 all year).
fn today_shanghai() -> Date {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

fn db_url(cli: &Cli, default: &str) -> String {
    cli.db.clone().unwrap_or_else(|| default.to_string())
}

/// A database and the key file of its personal data.
pub(crate) struct Db {
    pub url: String,
    pub key_file: PathBuf,
    pub pool: huifang_store::PoolSettings,
    /// The read replica that answers the reports.
    pub read_url: Option<String>,
}

impl Db {
    fn of(cli: &Cli, default: &str) -> Db {
        let url = db_url(cli, default);
        let key_file = cli
            .data_key_file
            .clone()
            .unwrap_or_else(|| huifang_app::keys::default_key_file(&url));
        let pool = huifang_store::PoolSettings {
            max_connections: cli.db_pool,
            statement_timeout: cli.statement_timeout.map(std::time::Duration::from_secs),
        };
        Db {
            url,
            key_file,
            pool,
            read_url: cli.read_db.clone(),
        }
    }

    /// Connects (without checking the schema), with the data keys if the key file exists.
    pub async fn connect(&self) -> Result<Store> {
        let keys = huifang_app::keys::load(&self.key_file)?;
        Ok(Store::connect_with(&self.url, self.pool)
            .await
            .with_context(|| format!("opening {}", self.url))?
            .with_keys(keys))
    }

    /// Connects to an initialised database.
    pub async fn open(&self) -> Result<Store> {
        let store = self.connect().await?;
        store.check_schema().await?;
        Ok(store)
    }

    /// [`Db::open`], with the read replica that answers the reports when one is given (the
    /// commands that report: the other commands neither need it nor wait for it).
    pub async fn open_reporting(&self) -> Result<Store> {
        let mut store = self.open().await?;
        if let Some(read_url) = &self.read_url {
            let replica = Store::connect_replica(read_url, self.pool)
                .await
                .with_context(|| format!("opening the read replica {read_url}"))?;
            store = store.with_replica(replica);
        }
        Ok(store)
    }

    /// Makes the key file if there is none; what to say about it when it was made.
    fn ensure_key_file(&self) -> Result<Option<String>> {
        Ok(huifang_app::keys::ensure(&self.key_file)?.then(|| {
            format!(
                "made the data key file {} (it seals ID numbers and mobiles): keep it apart from the database and its backups",
                self.key_file.display()
            )
        }))
    }
}

async fn open(cli: &Cli) -> Result<Store> {
    Db::of(cli, "sqlite://huifang.db").open().await
}

/// The database and the policy in force in it (loaded once per command).
async fn open_with_policy(cli: &Cli) -> Result<(Store, Policy)> {
    let store = open(cli).await?;
    let policy = huifang_app::policy::load(&store).await?;
    Ok((store, policy))
}

/// [`open_with_policy`] with the read replica that answers the reports (`--read-db`).
async fn open_reporting_with_policy(cli: &Cli) -> Result<(Store, Policy)> {
    let store = Db::of(cli, "sqlite://huifang.db").open_reporting().await?;
    let policy = huifang_app::policy::load(&store).await?;
    Ok((store, policy))
}

/// Logging to standard error, filtered by `HUIFANG_LOG` (default `info`). Every command turns it
/// on when `HUIFANG_LOG` is set; `huifang serve` always does.
pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUIFANG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let matches = <Cli as clap::CommandFactory>::command().get_matches_from(&args);
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if std::env::var_os("HUIFANG_LOG").is_some() {
        init_tracing(); // e.g. HUIFANG_LOG=sqlx::query=debug logs every statement
    }
    // a command run as a user (--as) is recorded with the operator who ran it
    let record = match operator::acting_as(&args, &matches) {
        Some(acting) => match Db::of(&cli, "sqlite://huifang.db").open().await {
            Ok(store) => operator::begin(store, &acting).await,
            Err(e) => Err(e),
        },
        None => Ok(None),
    };
    let result = match record {
        Ok(record) => {
            let result = run(cli).await;
            match record {
                Some(r) => match r.end(&result).await {
                    Ok(()) => result,
                    Err(e) => result.and(Err(e)),
                },
                None => result,
            }
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        // A closed pipe (`huifang status | head`) is the reader's choice, not a failure.
        let broken_pipe = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
        if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(broken_pipe) || matches!(c.downcast_ref::<huifang_app::AppError>(), Some(huifang_app::AppError::Io(io)) if broken_pipe(io))) {
            return;
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Init {
            business_date,
            ledger_origin,
        } => init_command(&cli, *business_date, ledger_origin.as_deref()).await?,
        Command::Import { kind, file } => import_command(&cli, *kind, file).await?,
        Command::RunDaily { through } => {
            let (store, policy) = open_with_policy(&cli).await?;
            let reports = run_daily_with_progress(&store, &policy, *through).await?;
            say_text!("{}", output::close_summary(&reports, *through));
            store.close().await;
        }
        Command::Status {
            format,
            workers: true,
        } => {
            let store = open(&cli).await?;
            say_text!(
                "{}",
                worker_cmd::status(&store, *format == Format::Json).await?
            );
            store.close().await;
        }
        Command::Worker(args) => {
            let store = open(&cli).await?;
            worker_cmd::run(&store, args).await?;
            store.close().await;
        }
        Command::Status { format, .. } => {
            let store = open(&cli).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            output::status(
                &store,
                *format == Format::Csv,
                *format == Format::Json,
                &mut out,
            )
            .await?;
            out.flush()?;
        }
        Command::Loan {
            external_id,
            format,
        } => {
            let (store, policy) = open_with_policy(&cli).await?;
            let view = loans::view(&store, &policy, external_id).await?;
            match format {
                Format::Json => say!(
                    "{}",
                    serde_json::to_string_pretty(&views::LoanDetailView::from(&view))?
                ),
                Format::Table | Format::Csv => {
                    say_text!("{}", output::loan_text(&view));
                    // its risk score, once a model is trained
                    let score =
                        match huifang_app::score::loan_score(&store, None, external_id).await {
                            Err(huifang_app::AppError::Conflict(_)) => None, // no model yet
                            other => other?,
                        };
                    if let Some(s) = score {
                        say_text!(
                            "\nrisk score: band {} ({}% probability of 90+ DPD within 6 months, model {}, {})\n",
                            s.band,
                            s.probability_pct,
                            s.model_version,
                            s.scored_on
                        );
                        for f in &s.factors {
                            say_text!(
                                "  {} {}: {} (+{:.3})\n",
                                f.zh,
                                f.en,
                                f.value,
                                f.contribution
                            );
                        }
                    }
                }
            }
        }
        Command::Schedule {
            principal,
            rate,
            term,
            method,
            disbursed_on,
            format,
        } => schedule_command(principal, rate, *term, *method, *disbursed_on, *format)?,
        Command::Operate {
            external_id,
            op,
            reason,
            decided_by,
            on,
        } => {
            operate_command(
                &cli,
                external_id,
                op,
                reason.as_deref(),
                decided_by.as_deref(),
                *on,
            )
            .await?
        }
        Command::Report {
            what:
                Some(ReportCommand::Tiers {
                    from,
                    to,
                    format,
                    output,
                }),
            ..
        } => {
            let (store, policy) = open_reporting_with_policy(&cli).await?;
            let (from, to, report) =
                status::tiers(store.for_reports(), &policy, *from, *to).await?;
            let view = views::TierReportView::new(from, to, &report);
            say_text!("{}", tiers_cmd::render(&view, *format, output.as_deref())?);
            store.close().await;
        }
        Command::Report {
            what: Some(ReportCommand::Over(command)),
            ..
        } => {
            let (store, policy) = open_reporting_with_policy(&cli).await?;
            say_text!("{}", report_cmd::run(&store, &policy, command).await?);
            store.close().await;
        }
        Command::Signals {
            command: SignalsCommand::Test { text, json },
        } => {
            let reader = huifang_app::text::reader();
            let signals = reader.read(text);
            if *json {
                let v: Vec<serde_json::Value> = signals
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "kind": s.kind,
                            "words": s.words,
                            "confidence": s.confidence,
                        })
                    })
                    .collect();
                say!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                say!("words: {}", reader.words(text).join(" / "));
                if signals.is_empty() {
                    say!("no signal");
                }
                for s in &signals {
                    say!(
                        "{:<18} {:>3}%  {}",
                        s.kind,
                        s.confidence,
                        s.words.join(", ")
                    );
                }
            }
        }
        Command::Score { command } => {
            let store = open(&cli).await?;
            say_text!("{}", score_cmd::run(&store, command).await?);
            store.close().await;
        }
        Command::Report { format, .. } => {
            let store = open(&cli).await?;
            let (date, rows) = status::summary(&store).await?;
            match format {
                Format::Json => say!(
                    "{}",
                    serde_json::to_string_pretty(&views::PortfolioSummaryView::new(date, &rows))?
                ),
                Format::Table | Format::Csv => say_text!("{}", output::summary_text(date, &rows)),
            }
        }
        Command::Demo {
            loans,
            seed,
            today,
            serve,
            listen,
        } => demo_command(&cli, *loans, *seed, *today, serve.then_some(*listen)).await?,
        Command::Followup(command) => followup_cmd::run(&open(&cli).await?, command).await?,
        Command::Team(command) => {
            let (store, policy) = open_with_policy(&cli).await?;
            team_cmd::run(&store, &policy, command).await?
        }
        Command::Policy { command } => policy_command(&cli, command).await?,
        Command::Rules { command } => rules_command(&cli, command).await?,
        Command::Decide { command } => decide_command(&cli, command).await?,
        Command::Warning { command } => {
            let store = open(&cli).await?;
            warning_cmd::run(&store, command).await?;
            store.close().await;
        }
        Command::Assistant { command } => {
            let store = open(&cli).await?;
            assistant_cmd::run(&store, command).await?;
            store.close().await;
        }
        Command::Vehicle { command } => {
            let (store, policy) = open_with_policy(&cli).await?;
            vehicle_cmd::run(&store, &policy, command).await?;
            store.close().await;
        }
        Command::Case { command } => {
            let (store, policy) = open_with_policy(&cli).await?;
            case_cmd::run(&store, &policy, command).await?;
            store.close().await;
        }
        Command::Template { command } => {
            let (store, policy) = open_with_policy(&cli).await?;
            template_cmd::run(&store, &policy, command).await?;
            store.close().await;
        }
        Command::Contact { command } => {
            let store = open(&cli).await?;
            contact_cmd::run(&store, command).await?;
            store.close().await;
        }
        Command::Notify { command } => {
            let store = open(&cli).await?;
            notify_cmd::run(&store, command).await?;
            store.close().await;
        }
        Command::Webhook { command } => {
            let store = open(&cli).await?;
            notify_cmd::webhook(&store, command).await?;
            store.close().await;
        }
        Command::Ledger(command) => {
            ledger_cmd::run(&Db::of(&cli, "sqlite://huifang.db"), command).await?
        }
        Command::Keys { command } => keys_command(&cli, command).await?,
        Command::BenchOutcomes {
            servers,
            seconds,
            until,
        } => {
            let store = open(&cli).await?;
            let until = match until {
                Some(day) => bench_outcomes::Until::BusinessDate(*day),
                None => bench_outcomes::Until::Seconds(*seconds),
            };
            say!("{}", bench_outcomes::run(&store, servers, until).await?);
            store.close().await;
        }
        Command::Bench {
            loans,
            days,
            seed,
            keep_book,
            no_messages,
        } => {
            let url = cli.db.clone().context(
                "bench needs --db (a scratch SQLite file or PostgreSQL database: it is emptied)",
            )?;
            let book = bench::Book {
                loans: *loans,
                seed: *seed,
                keep_book: *keep_book,
                messages: !*no_messages,
            };
            bench::run(&url, &book, *days, &Policy::default()).await?;
        }
    }
    Ok(())
}

/// `huifang init`.
async fn init_command(
    cli: &Cli,
    business_date: Option<Date>,
    ledger_origin: Option<&str>,
) -> Result<()> {
    let db = Db::of(cli, "sqlite://huifang.db");
    let url = db.url.clone();
    let store = db.connect().await?;
    store.migrate().await?;
    let made_key = db.ensure_key_file()?;
    let mut tx = store.begin().await?;
    let date = match tx.business_date().await? {
        Some(existing) => {
            if business_date.is_some_and(|d| d != existing) {
                bail!(
                    "the database is already initialised with business date {existing}; the business date moves only with `huifang run-daily`"
                );
            }
            existing
        }
        None => {
            let date = business_date.unwrap_or_else(today_shanghai);
            tx.set_business_date(date).await?;
            date
        }
    };
    tx.commit().await?;
    let (key, backfilled) = huifang_app::ledger::init(&store, ledger_origin).await?;
    huifang_app::followup::seed_defaults(&store).await?; // default plan and scripts
    huifang_app::policy::seed_default(&store).await?;
    huifang_app::rules::seed_default(&store).await?;
    // said once everything is done: a reader that stops early cannot cut the work short
    say!("initialised {url}: business date {date}");
    say!("ledger key {key} ({backfilled} earlier record(s) logged)");
    if let Some(made) = made_key {
        say!("{made}");
    }
    Ok(())
}

/// `huifang import`.
async fn import_command(cli: &Cli, kind: Kind, file: &std::path::Path) -> Result<()> {
    let (store, policy) = open_with_policy(cli).await?;
    let format = match kind {
        Kind::Products => ImportFormat::Products,
        Kind::Borrowers => ImportFormat::Borrowers,
        Kind::Loans => ImportFormat::Loans,
        Kind::Payments => ImportFormat::Payments,
        Kind::TrackerEvents => ImportFormat::TrackerEvents,
        Kind::Places => ImportFormat::Places,
    };
    let report = import::import_file(&store, &policy, format, file).await?;
    let reprocessed = if report.loans_reprocessed > 0 {
        format!(", {} loan(s) re-processed", report.loans_reprocessed)
    } else {
        String::new()
    };
    say!(
        "{}: {} imported, {} already present{reprocessed}",
        file.display(),
        report.inserted,
        report.unchanged
    );
    store.close().await;
    Ok(())
}

/// `huifang schedule`.
fn schedule_command(
    principal: &str,
    rate: &str,
    term: u32,
    method: Method,
    disbursed_on: Date,
    format: Format,
) -> Result<()> {
    let terms = ScheduleTerms {
        principal: Money::parse_positive(principal)
            .map_err(|e| anyhow::anyhow!("--principal {e}"))?,
        annual_rate: Rate::parse_annual(rate).map_err(|e| anyhow::anyhow!("--rate {e}"))?,
        term_months: term,
        method,
        start: disbursed_on,
    };
    let rows = schedule::build(&terms).map_err(|e| anyhow::anyhow!("{e}"))?;
    match format {
        Format::Json => say!(
            "{}",
            serde_json::to_string_pretty(
                &rows
                    .iter()
                    .map(views::ScheduleRowView::from)
                    .collect::<Vec<_>>()
            )?
        ),
        Format::Csv => say_text!("{}", output::schedule_csv(&rows)?),
        Format::Table => say_text!("{}", output::schedule_table(&rows)),
    }
    Ok(())
}

/// `huifang operate`.
async fn operate_command(
    cli: &Cli,
    external_id: &str,
    op: &OpCommand,
    reason: Option<&str>,
    decided_by: Option<&str>,
    on: Option<Date>,
) -> Result<()> {
    let (store, policy) = open_with_policy(cli).await?;
    let op = op_of(op)?;
    let kind = op.kind();
    let st = loans::operate(
        &store,
        &policy,
        external_id,
        op,
        on,
        reason.unwrap_or(""),
        decided_by.unwrap_or(""),
    )
    .await?;
    say!(
        "{external_id}: {kind} recorded; now dpd {} {} {} warning level {}, due now {}",
        st.dpd,
        st.bucket,
        st.classification,
        st.warning_level(),
        st.overdue_amount
    );
    Ok(())
}

/// The loan operation a command names.
fn op_of(op: &OpCommand) -> Result<LoanOp> {
    Ok(match op {
        OpCommand::Defer { months } => LoanOp::Defer { months: *months },
        OpCommand::Holiday { months } => LoanOp::PaymentHoliday { months: *months },
        OpCommand::Restructure { rate, term, method } => LoanOp::Restructure {
            annual_rate: Rate::parse_annual(rate).map_err(|e| anyhow::anyhow!("--rate {e}"))?,
            term_months: *term,
            method: *method,
        },
        OpCommand::Settle => LoanOp::EarlySettlement,
        OpCommand::Accelerate => LoanOp::Acceleration,
        OpCommand::WriteOff => LoanOp::WriteOff,
        OpCommand::Classify { floor } => LoanOp::Classify {
            floor: floor
                .parse::<Classification>()
                .map_err(|e| anyhow::anyhow!("--floor {e}"))?,
        },
    })
}

/// `huifang decide`.
async fn decide_command(cli: &Cli, command: &DecideCommand) -> Result<()> {
    let (store, policy) = open_with_policy(cli).await?;
    let line = |r: &huifang_store::DecisionRecord| {
        format!(
            "decision {}: {} {} on {} by {}{} — {}",
            r.id,
            r.loan_external_id,
            r.decision.op.op.kind(),
            r.decision.op.on,
            r.requester,
            match (&r.applied, &r.approved_by) {
                (true, Some(a)) => format!(", approved by {a}: applied"),
                (true, None) => ": applied".to_string(),
                (false, _) => ": pending a second approver".to_string(),
            },
            r.decision.reason
        )
    };
    match command {
        DecideCommand::On {
            external_id,
            op,
            reason,
            user,
            on,
        } => {
            let user = user.as_deref().context("--as USER is required")?;
            let actor = huifang_app::team::actor(&store, user).await?;
            let request = huifang_app::decisions::DecisionRequest {
                op: op_of(op)?,
                on: *on,
                reason: reason.clone().unwrap_or_default(),
            };
            let r = huifang_app::decisions::decide(&store, &policy, &actor, external_id, &request)
                .await?;
            say!("{}", line(&r));
        }
        DecideCommand::Approve { id, user } => {
            let actor = huifang_app::team::actor(&store, user).await?;
            let r = huifang_app::decisions::approve(&store, &policy, &actor, *id).await?;
            say!("{}", line(&r));
        }
        DecideCommand::List { loan, user } => {
            let actor = huifang_app::team::actor(&store, user).await?;
            for r in huifang_app::decisions::list(&store, &actor, loan.as_deref()).await? {
                say!("{}", line(&r));
            }
        }
    }
    store.close().await;
    Ok(())
}

/// `huifang demo`.
async fn demo_command(
    cli: &Cli,
    loans: usize,
    seed: u64,
    today: Option<Date>,
    serve: Option<std::net::SocketAddr>,
) -> Result<()> {
    let db = Db::of(cli, "sqlite://huifang-demo.db");
    let url = db.url.clone();
    let today = today.unwrap_or_else(today_shanghai);
    let store = huifang_app::demo::fresh_store(&url).await?;
    if let Some(made) = db.ensure_key_file()? {
        eprintln!("{made}");
    }
    let store = store.with_keys(huifang_app::keys::load(&db.key_file)?);
    let policy = huifang_app::policy::load(&store).await?;
    let summary = huifang_app::demo::run(&store, &policy, loans, seed, today, |msg| {
        eprintln!("{msg}")
    })
    .await?;
    say!("demo database {url}: {summary}");
    let (date, rows) = status::summary(&store).await?;
    say_text!("{}", output::summary_text(date, &rows));
    say!("\ntry: huifang --db {url} status | head; huifang --db {url} loan L00000001");
    let logins = "one login per role (password huifang-demo): agent wangfang, collector chenjing, team lead zhenglead, risk officer risk, auditor audit, admin admin";
    match serve {
        None => {
            say!("the web console: huifang --db {url} serve   (then open http://127.0.0.1:8080/)");
            say!("{logins}");
            store.close().await;
            Ok(())
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let addr = listener.local_addr()?;
            say!("the web console: http://{addr}/  (API: http://{addr}/api/v1; Ctrl-C ends)");
            say!("{logins}");
            init_tracing();
            let config = huifang_web::HttpConfig {
                warm_dashboard: true,
                ..huifang_web::HttpConfig::default()
            };
            huifang_web::serve_with(store, listener, config).await?;
            Ok(())
        }
    }
}

/// `huifang keys`.
async fn keys_command(cli: &Cli, command: &KeysCommand) -> Result<()> {
    let db = Db::of(cli, "sqlite://huifang.db");
    let path = db.key_file.display();
    match command {
        KeysCommand::New => {
            let id = huifang_app::keys::add_key(&db.key_file)?;
            say!("key {id} put first in {path}: it seals from now on");
            say!(
                "run `huifang keys rotate` (with every server given the new file) to re-seal what older keys sealed"
            );
        }
        KeysCommand::Rotate => {
            let store = db.open().await?;
            let current = store
                .keys()
                .map(|k| k.current_id().to_string())
                .ok_or(huifang_store::StoreError::NoDataKey)?;
            let done = huifang_app::keys::rotate(&store, |d| {
                eprint!(
                    "\rre-sealed {} borrower(s), {} emergency contact(s)",
                    d.borrowers, d.emergency_contacts
                )
            })
            .await?;
            eprintln!();
            say!(
                "re-sealed under key {current}: {} borrower(s), {} emergency contact(s), {} webhook secret(s), {} location(s)",
                done.borrowers,
                done.emergency_contacts,
                done.webhook_secrets,
                done.locations
            );
            store.close().await;
        }
        KeysCommand::Status => {
            let store = db.open().await?;
            let Some(keys) = store.keys() else {
                say!("no key file at {path}: personal data can be neither read nor written");
                return Ok(());
            };
            say!(
                "key file {path}: current key {}, keys {}",
                keys.current_id(),
                keys.ids().join(", ")
            );
            let left = huifang_app::keys::backlog(&store).await?;
            say!(
                "not sealed under the current key: {} borrower(s), {} emergency contact(s), {} location(s)",
                left.borrowers,
                left.emergency_contacts,
                left.locations
            );
            store.close().await;
        }
    }
    Ok(())
}

/// `huifang policy`.
async fn policy_command(cli: &Cli, command: &PolicyCommand) -> Result<()> {
    let store = open(cli).await?;
    match command {
        PolicyCommand::Show => {
            let policy = huifang_app::policy::load(&store).await?;
            say!("{}", huifang_app::policy::to_text(&policy));
        }
        PolicyCommand::Set { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let change = huifang_app::policy::set(&store, &text)
                .await
                .with_context(|| format!("{} refused, nothing changed", file.display()))?;
            if change.changed {
                say!(
                    "policy set from {}: applies from the close after {}, which re-evaluates {} loan(s)",
                    file.display(),
                    change.business_date,
                    change.loans_to_revisit
                );
            } else {
                say!(
                    "policy unchanged: {} is the policy in force",
                    file.display()
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// `huifang rules`.
async fn rules_command(cli: &Cli, command: &RulesCommand) -> Result<()> {
    let store = open(cli).await?;
    match command {
        RulesCommand::Show => {
            let doc = huifang_app::rules::show(&store).await?;
            say!("{}", serde_json::to_string_pretty(&doc)?);
        }
        RulesCommand::Set { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let change = huifang_app::rules::set(&store, &text)
                .await
                .with_context(|| format!("{} refused, nothing changed", file.display()))?;
            if change.changed {
                say!(
                    "rules v{} set from {}: applies from the close after {}, which re-evaluates {} loan(s)",
                    change.version,
                    file.display(),
                    change.business_date,
                    change.loans_to_revisit
                );
            } else {
                say!(
                    "rules unchanged: {} is rule set v{}, in force",
                    file.display(),
                    change.version
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

/// Runs the daily close with a progress bar on a terminal.
pub async fn run_daily_with_progress(
    store: &Store,
    policy: &Policy,
    through: Date,
) -> Result<Vec<close::DayReport>> {
    let current = {
        let mut tx = store.begin().await?;
        tx.business_date()
            .await?
            .context("the database has no business date: run `huifang init` first")?
    };
    let days = (through - current).num_days().max(0);
    let bar = if std::io::stderr().is_terminal() && days > 1 {
        let bar = indicatif::ProgressBar::new(u64::try_from(days).unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} closing {msg} [{bar:40}] {pos}/{len} days ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let reports = close::run_daily(store, policy, through, |r| {
        if let Some(bar) = &bar {
            bar.set_message(r.date.to_string());
            bar.inc(1);
        }
    })
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(reports)
}

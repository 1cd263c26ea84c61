//! `huifang report delinquency | roll-rates | vintage | collection | warnings | backfill`: the
//! reports over time, as a table, CSV, JSON or an .xlsx workbook.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use huifang_app::analytics::{self, Headers, Report, ReportQuery};
use huifang_core::Date;
use huifang_core::policy::Policy;
use huifang_store::Store;

use crate::date_arg;

/// How a report is written.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
    Xlsx,
}

/// The language of the headers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Lang {
    Zh,
    En,
}

/// Where and how a report is written.
#[derive(Debug, Args)]
pub struct Out {
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Write to FILE instead of standard output (needed for xlsx).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Only this sheet (table, csv).
    #[arg(long)]
    sheet: Option<String>,
    /// The headers' language (table, xlsx).
    #[arg(long, value_enum, default_value = "zh")]
    lang: Lang,
}

/// A range of business dates.
#[derive(Debug, Args)]
pub struct Range {
    #[arg(long, value_parser = date_arg)]
    from: Option<Date>,
    /// Default: the business date.
    #[arg(long, value_parser = date_arg)]
    to: Option<Date>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// 逾期与五级分类: loans, balance and share of balance by bucket, tier and warning level on a
    /// date (the business date, a month-end or any closed date), and the trend over the month-ends.
    Delinquency {
        /// Default: the business date.
        #[arg(long = "as-of", value_parser = date_arg)]
        as_of: Option<Date>,
        /// Month-ends in the trend (default 12).
        #[arg(long)]
        months: Option<u32>,
        #[command(flatten)]
        out: Out,
    },
    /// 迁徙率: the month-end bucket-to-bucket transition matrix (loans and balance) and the flow
    /// rates M0→M1→…→M7+, for the month-ends in the range (default: the last 12).
    RollRates {
        #[command(flatten)]
        range: Range,
        #[arg(long)]
        months: Option<u32>,
        #[command(flatten)]
        out: Out,
    },
    /// 账龄分析: for each disbursement month in the range (default: the last 24), the share of its
    /// disbursed principal ever at 30+, 60+ and 90+ DPD at a month-end, by months on book.
    Vintage {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        out: Out,
    },
    /// 催收与联系: contact, right-party, promise and promise-kept rates by channel and queue, cure
    /// rates by bucket, each agent's work and SLA hits, over the range (default: 30 days).
    Collection {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        out: Out,
    },
    /// 预警质量: for each rule and level, the warnings raised in the range (default: 12 months) and
    /// the share that went on to 90+ DPD within six months; the 90+ loans with no earlier warning.
    Warnings {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        out: Out,
    },
    /// Compute the month-ends before the first one the close kept (a book imported with its
    /// history), each loan replayed as of each of them.
    Backfill,
}

/// Runs a report command.
pub async fn run(store: &Store, policy: &Policy, command: &Command) -> Result<String> {
    let (name, query, out) = match command {
        Command::Backfill => {
            let written = analytics::backfill(store, policy).await?;
            let total: u64 = written.iter().map(|(_, n)| n).sum();
            return Ok(match (written.first(), written.last()) {
                (Some(a), Some(b)) => format!(
                    "{} month-ends computed, {} to {}, {total} loan rows\n",
                    written.len(),
                    a.0,
                    b.0
                ),
                _ => "no month-end to compute: every month-end since the first loan is kept\n"
                    .to_string(),
            });
        }
        Command::Delinquency { as_of, months, out } => (
            "delinquency",
            ReportQuery {
                to: *as_of,
                months: *months,
                ..ReportQuery::default()
            },
            out,
        ),
        Command::RollRates { range, months, out } => (
            "roll-rates",
            ReportQuery {
                from: range.from,
                to: range.to,
                months: *months,
            },
            out,
        ),
        Command::Vintage { range, out } => ("vintage", query(range), out),
        Command::Collection { range, out } => ("collection", query(range), out),
        Command::Warnings { range, out } => ("warnings", query(range), out),
    };
    let report = analytics::report(store.for_reports(), policy, name, query).await?;
    write(&report, out)
}

fn query(range: &Range) -> ReportQuery {
    ReportQuery {
        from: range.from,
        to: range.to,
        months: None,
    }
}

fn write(report: &Report, out: &Out) -> Result<String> {
    let headers = match out.lang {
        Lang::Zh => Headers::Chinese,
        Lang::En => Headers::English,
    };
    let sheet = out.sheet.as_deref();
    let bytes = match out.format {
        ReportFormat::Table => analytics::to_table(report, sheet, headers)?.into_bytes(),
        ReportFormat::Csv => analytics::to_csv(report, sheet)?.into_bytes(),
        ReportFormat::Json => format!("{}\n", serde_json::to_string_pretty(report)?).into_bytes(),
        ReportFormat::Xlsx if out.output.is_none() => bail!("--format xlsx needs --output FILE"),
        ReportFormat::Xlsx => analytics::to_xlsx(report, headers)?,
    };
    match &out.output {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            Ok(format!("wrote {}\n", path.display()))
        }
        None => Ok(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

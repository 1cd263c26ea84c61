//! `huifang report tiers`: the five-tier classification report (五级分类) between two dates, as a
//! table, CSV, JSON or an .xlsx workbook.

use std::path::Path;

use anyhow::{Context, Result, bail};
use huifang_app::views::{TierLineView, TierMoveView, TierReportView};
use rust_xlsxwriter::Workbook;

/// How the report is written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TierFormat {
    Table,
    Csv,
    Json,
    Xlsx,
}

/// The tier of a move as shown: `new` (not on the book on the first date), `paid_off`.
fn side(tier: Option<&String>, none: &str) -> String {
    tier.cloned().unwrap_or_else(|| none.to_string())
}

/// The report as text (a table, or CSV: the tiers, a blank line, the moves).
pub fn text(r: &TierReportView, csv_out: bool) -> Result<String> {
    if csv_out {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "tier",
            "loans_from",
            "balance_from",
            "loans_to",
            "balance_to",
        ])?;
        for t in &r.tiers {
            w.write_record(tier_cells(t))?;
        }
        let mut out = String::from_utf8(w.into_inner()?)?;
        out.push('\n');
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["from", "to", "loans", "balance", "rate_pct"])?;
        for m in &r.moves {
            w.write_record(move_cells(m))?;
        }
        out.push_str(&String::from_utf8(w.into_inner()?)?);
        return Ok(out);
    }
    let mut out = format!("五级分类 five-tier classification, {} → {}\n", r.from, r.to);
    out.push_str(&format!(
        "{:<16} {:>8} {:>18} {:>8} {:>18}\n",
        "tier", "loans", "balance", "loans", "balance"
    ));
    for t in &r.tiers {
        out.push_str(&format!(
            "{:<16} {:>8} {:>18} {:>8} {:>18}\n",
            format!("{} {}", t.tier_zh, t.tier),
            t.loans_from,
            t.balance_from,
            t.loans_to,
            t.balance_to
        ));
    }
    out.push_str("\nmigration (loans, balance on the first date, share of the first tier)\n");
    for m in &r.moves {
        out.push_str(&format!(
            "{:<16} → {:<16} {:>8} {:>18} {:>8}\n",
            side(m.from.as_ref(), "new"),
            side(m.to.as_ref(), "paid_off"),
            m.loans,
            m.balance,
            m.rate_pct
                .as_ref()
                .map(|p| format!("{p}%"))
                .unwrap_or_default()
        ));
    }
    Ok(out)
}

fn tier_cells(t: &TierLineView) -> [String; 5] {
    [
        t.tier.clone(),
        t.loans_from.to_string(),
        t.balance_from.clone(),
        t.loans_to.to_string(),
        t.balance_to.clone(),
    ]
}

fn move_cells(m: &TierMoveView) -> [String; 5] {
    [
        side(m.from.as_ref(), "new"),
        side(m.to.as_ref(), "paid_off"),
        m.loans.to_string(),
        m.balance.clone(),
        m.rate_pct.clone().unwrap_or_default(),
    ]
}

/// Writes the report as an .xlsx workbook: sheet `tiers` and sheet `migration`, the amounts as
/// text (exact to the fen).
pub fn write_xlsx(r: &TierReportView, path: &Path) -> Result<()> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet().set_name("tiers")?;
    let header = [
        "tier",
        "loans_from",
        "balance_from",
        "loans_to",
        "balance_to",
    ];
    for (col, h) in (0u16..).zip(header) {
        sheet.write_string(0, col, h)?;
    }
    for (row, t) in (1u32..).zip(&r.tiers) {
        for (col, cell) in (0u16..).zip(tier_cells(t)) {
            sheet.write_string(row, col, &cell)?;
        }
    }
    let sheet = book.add_worksheet().set_name("migration")?;
    for (col, h) in (0u16..).zip(["from", "to", "loans", "balance", "rate_pct"]) {
        sheet.write_string(0, col, h)?;
    }
    for (row, m) in (1u32..).zip(&r.moves) {
        for (col, cell) in (0u16..).zip(move_cells(m)) {
            sheet.write_string(row, col, &cell)?;
        }
    }
    book.save(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The output: text or JSON on standard output, or the workbook to `output`.
pub fn render(r: &TierReportView, format: TierFormat, output: Option<&Path>) -> Result<String> {
    match (format, output) {
        (TierFormat::Xlsx, Some(path)) => {
            write_xlsx(r, path)?;
            Ok(format!("wrote {}\n", path.display()))
        }
        (TierFormat::Xlsx, None) => bail!("--format xlsx needs --output FILE"),
        (TierFormat::Json, _) => Ok(format!("{}\n", serde_json::to_string_pretty(r)?)),
        (TierFormat::Csv, _) => text(r, true),
        (TierFormat::Table, _) => text(r, false),
    }
}

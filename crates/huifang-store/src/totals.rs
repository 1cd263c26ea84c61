//! The book's totals, kept as the book is written: loans and outstanding principal by lifecycle,
//! bucket, classification and warning level (`book_totals`). Every write of `loan_state` moves
//! them in its own transaction — a new loan adds itself, a new evaluation takes the old one's
//! place — so that they always equal the book grouped, without a scan. The close of each day
//! keeps them as they stood at the end of the day before, every fact of it posted
//! (`daily_totals`).

use std::collections::BTreeMap;

use huifang_core::Date;
use sqlx::{AssertSqlSafe, Row};

use crate::records::{self, Evaluation, SummaryRow};
use crate::sql::{Val, date_text, parse_date_col};
use crate::{Result, Tx};

/// (lifecycle, bucket, classification, warning level): what a total is kept by.
type Key = (&'static str, i64, &'static str, i64);

fn key_of(e: &Evaluation) -> Key {
    (
        e.summary.lifecycle.as_str(),
        i64::from(e.summary.bucket.0),
        e.summary.classification.as_str(),
        i64::from(e.summary.warning_level),
    )
}

/// Changes to the book's totals, summed by key before they are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotalsDelta(BTreeMap<Key, (i64, i64)>);

/// Sent between the processes of a close as its entries, each key's names spelled out (the
/// names are read back to the core's own).
impl serde::Serialize for TotalsDelta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> serde::Deserialize<'de> for TotalsDelta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        type Entry = ((String, i64, String, i64), (i64, i64));
        let entries: Vec<Entry> = serde::Deserialize::deserialize(d)?;
        let mut delta = BTreeMap::new();
        for ((lifecycle, bucket, classification, level), moved) in entries {
            let lifecycle = huifang_core::status::Lifecycle::parse(&lifecycle)
                .ok_or_else(|| D::Error::custom(format!("unknown lifecycle {lifecycle}")))?;
            let classification: huifang_core::policy::Classification =
                classification.parse().map_err(D::Error::custom)?;
            delta.insert(
                (lifecycle.as_str(), bucket, classification.as_str(), level),
                moved,
            );
        }
        Ok(TotalsDelta(delta))
    }
}

impl TotalsDelta {
    fn move_by(&mut self, e: &Evaluation, sign: i64) {
        let t = self.0.entry(key_of(e)).or_default();
        t.0 += sign;
        t.1 += sign * e.outstanding_principal.fen();
    }

    /// A loan added to the book.
    pub fn add(&mut self, e: &Evaluation) {
        self.move_by(e, 1);
    }

    /// A loan's new evaluation in the place of its old one.
    pub fn replace(&mut self, old: &Evaluation, new: &Evaluation) {
        if key_of(old) != key_of(new) || old.outstanding_principal != new.outstanding_principal {
            self.move_by(old, -1);
            self.move_by(new, 1);
        }
    }

    /// Adds another delta's changes.
    pub fn merge(&mut self, other: TotalsDelta) {
        for (k, (loans, fen)) in other.0 {
            let t = self.0.entry(k).or_default();
            t.0 += loans;
            t.1 += fen;
        }
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(|&(loans, fen)| loans == 0 && fen == 0)
    }
}

const COLUMNS: [&str; 6] = [
    "lifecycle",
    "bucket",
    "classification",
    "warning_level",
    "loans",
    "balance_fen",
];

const SELECT: &str = "lifecycle, bucket, classification, warning_level, loans, balance_fen";

impl Tx {
    /// Moves the book's totals by `delta` (keys in order: two writers never wait on each other's
    /// rows crosswise); a key left with no loan is dropped.
    pub async fn adjust_book_totals(&mut self, delta: &TotalsDelta) -> Result<()> {
        let rows: Vec<Vec<Val>> = delta
            .0
            .iter()
            .filter(|(_, (loans, fen))| *loans != 0 || *fen != 0)
            .map(
                |((lifecycle, bucket, classification, level), (loans, fen))| {
                    vec![
                        Val::Text((*lifecycle).to_string()),
                        Val::Int(*bucket),
                        Val::Text((*classification).to_string()),
                        Val::Int(*level),
                        Val::Int(*loans),
                        Val::Int(*fen),
                    ]
                },
            )
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        self.upsert_rows(
            "book_totals",
            &COLUMNS,
            rows,
            "ON CONFLICT (lifecycle, bucket, classification, warning_level) DO UPDATE SET loans = book_totals.loans + excluded.loans, balance_fen = book_totals.balance_fen + excluded.balance_fen",
        )
        .await?;
        sqlx::query("DELETE FROM book_totals WHERE loans = 0 AND balance_fen = 0")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The book's totals as they stand, in key order.
    pub async fn book_totals(&mut self) -> Result<Vec<SummaryRow>> {
        let sql = format!(
            "SELECT {SELECT} FROM book_totals ORDER BY lifecycle, bucket, classification, warning_level"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(records::summary_from_row).collect()
    }

    /// Keeps the book's totals as they stand as the totals at the end of business day `date`
    /// (replacing any kept).
    pub async fn keep_daily_totals(&mut self, date: Date) -> Result<()> {
        sqlx::query("DELETE FROM daily_totals WHERE business_date = $1")
            .bind(date_text(date))
            .execute(&mut *self.tx)
            .await?;
        let sql = format!(
            "INSERT INTO daily_totals (business_date, {SELECT}) SELECT $1, {SELECT} FROM book_totals"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(date_text(date))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The totals of the closed days from `from` to `to`, by day then key.
    pub async fn daily_totals(&mut self, from: Date, to: Date) -> Result<Vec<(Date, SummaryRow)>> {
        let sql = format!(
            "SELECT {SELECT}, business_date FROM daily_totals WHERE business_date >= $1 AND business_date <= $2 ORDER BY business_date, lifecycle, bucket, classification, warning_level"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(date_text(from))
            .bind(date_text(to))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_date_col(&r.try_get::<String, _>(6)?)?,
                    records::summary_from_row(r)?,
                ))
            })
            .collect()
    }

    /// The book grouped by scanning `loan_state`: what [`Tx::book_totals`] keeps without the
    /// scan (for the checks that it does).
    pub async fn book_totals_scanned(&mut self) -> Result<Vec<SummaryRow>> {
        let rows = sqlx::query(
            "SELECT lifecycle, bucket, classification, warning_level, COUNT(*), CAST(COALESCE(SUM(outstanding_principal_fen), 0) AS BIGINT) FROM loan_state GROUP BY lifecycle, bucket, classification, warning_level ORDER BY lifecycle, bucket, classification, warning_level",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(records::summary_from_row).collect()
    }
}

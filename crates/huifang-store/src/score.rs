//! The risk score's facts and records: what the features are read from (the contracts and
//! borrowers, the month-ends kept, the risk signals, the loans' states), the trained models with
//! their metrics and holdout predictions, and each loan's latest score.

use huifang_core::{Date, LoanId};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::sql::{Val, date_text, opt_date_col, parse_date_col, row_lists};
use crate::{Result, StoreError, Tx};

/// A loan's application facts, as the score reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreStatic {
    pub loan_id: i64,
    pub principal_fen: i64,
    pub vehicle_price_fen: i64,
    pub monthly_income_fen: i64,
    /// The contract's annual rate as stored ("0.0588").
    pub annual_rate: String,
    pub term_months: u32,
    pub disbursed_on: Date,
}

/// A stored model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    pub version: i64,
    pub kind: String,
    pub trained_on: Date,
    pub as_of: Date,
    /// The model's parameters (JSON).
    pub model: String,
    /// Its metrics (JSON).
    pub metrics: String,
    pub training_rows: i64,
    pub holdout_rows: i64,
    pub psi: Option<f64>,
    pub flagged: bool,
}

/// A model to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel<'a> {
    pub kind: &'a str,
    pub trained_on: Date,
    pub as_of: Date,
    pub model: &'a str,
    pub metrics: &'a str,
    pub training_rows: usize,
    pub holdout_rows: usize,
}

/// A holdout prediction: the loan, the observation date, the probability, whether the event came.
pub type Prediction = (i64, Date, f64, bool);

/// A loan's latest score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanScoreRow {
    pub loan_id: i64,
    pub model_version: i64,
    pub scored_on: Date,
    pub probability_bp: u32,
    pub band: String,
    /// The top factors (JSON).
    pub factors: String,
}

fn n32(r: &AnyRow, i: usize) -> Result<u32> {
    let n: i64 = r.try_get(i)?;
    u32::try_from(n.max(0)).map_err(|_| StoreError::Corrupt(format!("out of range: {n}")))
}

fn keys(ids: &[LoanId]) -> Vec<Val> {
    ids.iter().map(|i| Val::Int(i.get())).collect()
}

impl Tx {
    /// Runs `sql` (a `SELECT … WHERE …`) over every loan, or with `AND column IN` the `ids`,
    /// then `suffix`.
    async fn over_loans<T>(
        &mut self,
        (sql, column, suffix): (&str, &str, &str),
        ids: Option<&[LoanId]>,
        map: impl FnMut(&AnyRow) -> Result<T>,
    ) -> Result<Vec<T>> {
        match ids {
            Some(ids) => {
                self.fetch_in(&format!("{sql} AND {column} IN"), suffix, &keys(ids), map)
                    .await
            }
            None => {
                let rows = sqlx::query(AssertSqlSafe(format!("{sql} {suffix}")))
                    .fetch_all(&mut *self.tx)
                    .await?;
                rows.iter().map(map).collect()
            }
        }
    }

    /// The application facts of every loan, or of `ids`.
    pub async fn score_statics(&mut self, ids: Option<&[LoanId]>) -> Result<Vec<ScoreStatic>> {
        self.over_loans(
            (
                "SELECT l.id, l.principal_fen, l.vehicle_price_fen, b.monthly_income_fen, l.annual_rate, l.term_months, l.disbursed_on FROM loans l JOIN borrowers b ON b.id = l.borrower_id WHERE 1 = 1",
                "l.id",
                "",
            ),
            ids,
            |r| {
                Ok(ScoreStatic {
                    loan_id: r.try_get(0)?,
                    principal_fen: r.try_get(1)?,
                    vehicle_price_fen: r.try_get(2)?,
                    monthly_income_fen: r.try_get(3)?,
                    annual_rate: r.try_get(4)?,
                    term_months: n32(r, 5)?,
                    disbursed_on: parse_date_col(&r.try_get::<String, _>(6)?)?,
                })
            },
        )
        .await
    }

    /// The loans on the book at a month-end kept: (loan, DPD, balance).
    pub async fn month_end_active(&mut self, month_end: Date) -> Result<Vec<(i64, u32, i64)>> {
        let rows = sqlx::query(
            "SELECT loan_id, dpd, balance_fen FROM month_end_state WHERE month_end = $1 AND lifecycle = 'active'",
        )
        .bind(date_text(month_end))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, n32(r, 1)?, r.try_get(2)?)))
            .collect()
    }

    /// Per loan, over the month-ends kept on `from`..`before` (not `before` itself): how many
    /// found it past due, and its highest DPD.
    pub async fn month_end_history(
        &mut self,
        from: Date,
        before: Date,
        ids: Option<&[LoanId]>,
    ) -> Result<Vec<(i64, u32, u32)>> {
        if let Some(ids) = ids {
            return self.month_end_history_of(from, before, ids).await;
        }
        let sql = format!(
            "SELECT loan_id, CAST(SUM(CASE WHEN dpd > 0 THEN 1 ELSE 0 END) AS BIGINT), CAST(MAX(dpd) AS BIGINT) FROM month_end_state WHERE month_end >= '{}' AND month_end < '{}'",
            date_text(from),
            date_text(before)
        );
        self.over_loans((&sql, "loan_id", "GROUP BY loan_id"), ids, |r| {
            Ok((r.try_get(0)?, n32(r, 1)?, n32(r, 2)?))
        })
        .await
    }

    /// [`Tx::month_end_history`] for a few loans: each month-end's rows found by their key.
    async fn month_end_history_of(
        &mut self,
        from: Date,
        before: Date,
        ids: &[LoanId],
    ) -> Result<Vec<(i64, u32, u32)>> {
        let mut acc: std::collections::BTreeMap<i64, (u32, u32)> =
            std::collections::BTreeMap::new();
        let month_ends: Vec<Date> = self
            .month_ends()
            .await?
            .into_iter()
            .map(|m| m.date)
            .filter(|d| *d >= from && *d < before)
            .collect();
        for m in month_ends {
            let sql = format!(
                "SELECT loan_id, dpd FROM month_end_state WHERE month_end = '{}' AND loan_id IN",
                date_text(m)
            );
            let rows = self
                .fetch_in(&sql, "", &keys(ids), |r| {
                    Ok((r.try_get::<i64, _>(0)?, n32(r, 1)?))
                })
                .await?;
            for (loan, dpd) in rows {
                let e = acc.entry(loan).or_default();
                e.0 += u32::from(dpd > 0);
                e.1 = e.1.max(dpd);
            }
        }
        Ok(acc
            .into_iter()
            .map(|(l, (late, max))| (l, late, max))
            .collect())
    }

    /// Per loan and kind, the risk signals observed on or before `through`.
    pub async fn signal_counts(
        &mut self,
        through: Date,
        ids: Option<&[LoanId]>,
    ) -> Result<Vec<(i64, String, u32)>> {
        let sql = format!(
            "SELECT loan_id, kind, CAST(COUNT(*) AS BIGINT) FROM risk_signals WHERE observed_on <= '{}'",
            date_text(through)
        );
        self.over_loans((&sql, "loan_id", "GROUP BY loan_id, kind"), ids, |r| {
            Ok((r.try_get(0)?, r.try_get(1)?, n32(r, 2)?))
        })
        .await
    }

    /// The loans on the book now: (loan, oldest unpaid due date, outstanding principal).
    pub async fn active_now(
        &mut self,
        ids: Option<&[LoanId]>,
    ) -> Result<Vec<(i64, Option<Date>, i64)>> {
        self.over_loans(
            (
                "SELECT loan_id, oldest_unpaid_due, outstanding_principal_fen FROM loan_state WHERE lifecycle = 'active'",
                "loan_id",
                "",
            ),
            ids,
            |r| {
                Ok((
                    r.try_get(0)?,
                    opt_date_col(r.try_get(1)?)?,
                    r.try_get(2)?,
                ))
            },
        )
        .await
    }

    /// Stores a model; returns its version.
    pub async fn insert_model(&mut self, m: &NewModel<'_>) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO score_models (kind, trained_on, as_of, model, metrics, training_rows, holdout_rows) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING version",
        )
        .bind(m.kind)
        .bind(date_text(m.trained_on))
        .bind(date_text(m.as_of))
        .bind(m.model)
        .bind(m.metrics)
        .bind(i64::try_from(m.training_rows).unwrap_or(i64::MAX))
        .bind(i64::try_from(m.holdout_rows).unwrap_or(i64::MAX))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Records a model's population stability and whether it is flagged.
    pub async fn set_model_stability(
        &mut self,
        version: i64,
        psi: f64,
        flagged: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE score_models SET psi = $1, flagged = $2 WHERE version = $3")
            .bind(psi)
            .bind(i32::from(flagged))
            .bind(version)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Stores a model's holdout predictions.
    pub async fn insert_predictions(&mut self, version: i64, rows: &[Prediction]) -> Result<()> {
        let vals: Vec<Vec<Val>> = rows
            .iter()
            .map(|(loan, on, p, event)| {
                vec![
                    Val::Int(version),
                    Val::Int(*loan),
                    Val::Text(date_text(*on)),
                    Val::Float(*p),
                    Val::Int(i64::from(*event)),
                ]
            })
            .collect();
        for (list, flat) in row_lists(self.dialect, 5, &vals, &[], 0) {
            let sql = format!(
                "INSERT INTO score_predictions (model_version, loan_id, observed_on, probability, event) {list}"
            );
            self.bulk_query(sql, &flat).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// A model's holdout predictions.
    pub async fn predictions(&mut self, version: i64) -> Result<Vec<Prediction>> {
        let rows = sqlx::query(
            "SELECT loan_id, observed_on, probability, event FROM score_predictions WHERE model_version = $1 ORDER BY loan_id, observed_on",
        )
        .bind(version)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    parse_date_col(&r.try_get::<String, _>(1)?)?,
                    r.try_get(2)?,
                    r.try_get::<i64, _>(3)? != 0,
                ))
            })
            .collect()
    }

    /// The models, newest first.
    pub async fn models(&mut self) -> Result<Vec<ModelRecord>> {
        let rows = sqlx::query(
            "SELECT version, kind, trained_on, as_of, model, metrics, training_rows, holdout_rows, psi, flagged FROM score_models ORDER BY version DESC",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ModelRecord {
                    version: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    trained_on: parse_date_col(&r.try_get::<String, _>(2)?)?,
                    as_of: parse_date_col(&r.try_get::<String, _>(3)?)?,
                    model: r.try_get(4)?,
                    metrics: r.try_get(5)?,
                    training_rows: r.try_get(6)?,
                    holdout_rows: r.try_get(7)?,
                    psi: r.try_get(8)?,
                    flagged: r.try_get::<i32, _>(9)? != 0,
                })
            })
            .collect()
    }

    /// Writes loans' latest scores.
    pub async fn upsert_loan_scores(&mut self, rows: &[LoanScoreRow]) -> Result<()> {
        let vals: Vec<Vec<Val>> = rows
            .iter()
            .map(|s| {
                vec![
                    Val::Int(s.loan_id),
                    Val::Int(s.model_version),
                    Val::Text(date_text(s.scored_on)),
                    Val::Int(i64::from(s.probability_bp)),
                    Val::Text(s.band.clone()),
                    Val::Text(s.factors.clone()),
                ]
            })
            .collect();
        self.upsert_rows(
            "loan_scores",
            &["loan_id", "model_version", "scored_on", "probability_bp", "band", "factors"],
            vals,
            "ON CONFLICT (loan_id) DO UPDATE SET model_version = excluded.model_version, scored_on = excluded.scored_on, probability_bp = excluded.probability_bp, band = excluded.band, factors = excluded.factors",
        )
        .await?;
        Ok(())
    }

    /// The latest band of each of these loans that has a score.
    pub async fn loan_bands(&mut self, ids: &[LoanId]) -> Result<Vec<(i64, String)>> {
        self.fetch_in(
            "SELECT loan_id, band FROM loan_scores WHERE loan_id IN",
            "",
            &keys(ids),
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )
        .await
    }

    /// A loan's latest score.
    pub async fn loan_score(&mut self, loan: LoanId) -> Result<Option<LoanScoreRow>> {
        let row = sqlx::query(
            "SELECT loan_id, model_version, scored_on, probability_bp, band, factors FROM loan_scores WHERE loan_id = $1",
        )
        .bind(loan.get())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            Ok(LoanScoreRow {
                loan_id: r.try_get(0)?,
                model_version: r.try_get(1)?,
                scored_on: parse_date_col(&r.try_get::<String, _>(2)?)?,
                probability_bp: n32(&r, 3)?,
                band: r.try_get(4)?,
                factors: r.try_get(5)?,
            })
        })
        .transpose()
    }
}

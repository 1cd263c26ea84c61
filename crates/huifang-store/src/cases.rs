//! Repossession and legal cases: the case row with where it stands, and its steps (each logged
//! in the tamper-evident record by the application).

use huifang_core::case::{CaseKind, CaseStage};
use huifang_core::{Date, LoanId, Money, UserId};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::sql::{date_text, named_col, opt_date_col, parse_date_col};
use crate::{Result, Tx};

/// A case as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub loan_id: LoanId,
    pub kind: CaseKind,
    pub reason: String,
    pub opened_by: UserId,
    pub opened_on: Date,
}

/// A stored case and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub id: i64,
    pub loan_external_id: String,
    pub opener: String,
    pub stage: CaseStage,
    pub closed_on: Option<Date>,
    pub case: Case,
}

/// A step of a case (its opening is the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStep {
    pub case_id: i64,
    pub loan_id: LoanId,
    pub kind: CaseKind,
    pub stage: CaseStage,
    pub user_id: UserId,
    pub note: String,
    /// What the step collected (posted as the payment `payment`).
    pub amount: Option<Money>,
    pub payment: Option<String>,
    pub business_date: Date,
    /// When it was recorded (RFC 3339, UTC).
    pub occurred_at: String,
}

/// A stored step, with who took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStepRecord {
    pub id: i64,
    pub username: String,
    pub step: CaseStep,
}

const CASE_SELECT: &str = "SELECT c.id, l.external_id, u.username, c.stage, c.closed_on, c.loan_id, c.kind, c.reason, c.opened_by, c.opened_on FROM cases c JOIN loans l ON l.id = c.loan_id JOIN users u ON u.id = c.opened_by";

fn case_from_row(r: &AnyRow) -> Result<CaseRecord> {
    Ok(CaseRecord {
        id: r.try_get(0)?,
        loan_external_id: r.try_get(1)?,
        opener: r.try_get(2)?,
        stage: named_col(r, 3, "cases.stage")?,
        closed_on: opt_date_col(r.try_get(4)?)?,
        case: Case {
            loan_id: LoanId(r.try_get(5)?),
            kind: named_col(r, 6, "cases.kind")?,
            reason: r.try_get(7)?,
            opened_by: UserId(r.try_get(8)?),
            opened_on: parse_date_col(&r.try_get::<String, _>(9)?)?,
        },
    })
}

impl Tx {
    /// Opens a case at its kind's first stage; returns its id.
    pub async fn insert_case(&mut self, c: &Case) -> Result<i64> {
        let row = sqlx::query("INSERT INTO cases (loan_id, kind, stage, reason, opened_by, opened_on) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(c.loan_id.get())
            .bind(c.kind.as_str())
            .bind(c.kind.first().as_str())
            .bind(c.reason.as_str())
            .bind(c.opened_by.get())
            .bind(date_text(c.opened_on))
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// One case; locked for the rest of the transaction (`lock`).
    pub async fn case(&mut self, id: i64, lock: bool) -> Result<Option<CaseRecord>> {
        if lock {
            sqlx::query("UPDATE cases SET stage = stage WHERE id = $1")
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        }
        let sql = format!("{CASE_SELECT} WHERE c.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    /// A loan's cases (or every open case, for `None`), newest first.
    pub async fn cases(&mut self, loan: Option<LoanId>) -> Result<Vec<CaseRecord>> {
        let sql = format!(
            "{CASE_SELECT} WHERE ($1 IS NULL AND c.closed_on IS NULL) OR c.loan_id = $1 ORDER BY c.id DESC"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(loan.map(LoanId::get))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(case_from_row).collect()
    }

    /// Moves a case to `stage` (closed on `closed_on`, for the closing step).
    pub async fn set_case_stage(
        &mut self,
        id: i64,
        stage: CaseStage,
        closed_on: Option<Date>,
    ) -> Result<()> {
        sqlx::query("UPDATE cases SET stage = $1, closed_on = $2 WHERE id = $3")
            .bind(stage.as_str())
            .bind(closed_on.map(date_text))
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Records a step of a case with its salt; returns its id.
    pub async fn insert_case_step_salted(&mut self, s: &CaseStep, salt: &str) -> Result<i64> {
        let row = sqlx::query("INSERT INTO case_steps (case_id, loan_id, kind, stage, user_id, note, amount_fen, payment, business_date, occurred_at, salt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(s.case_id)
            .bind(s.loan_id.get())
            .bind(s.kind.as_str())
            .bind(s.stage.as_str())
            .bind(s.user_id.get())
            .bind(s.note.as_str())
            .bind(s.amount.map(Money::fen))
            .bind(s.payment.as_deref())
            .bind(date_text(s.business_date))
            .bind(s.occurred_at.as_str())
            .bind(salt)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// A case's steps, oldest first.
    pub async fn case_steps(&mut self, case_id: i64) -> Result<Vec<CaseStepRecord>> {
        let rows = sqlx::query("SELECT s.id, u.username, s.case_id, s.loan_id, s.kind, s.stage, s.user_id, s.note, s.amount_fen, s.payment, s.business_date, s.occurred_at FROM case_steps s JOIN users u ON u.id = s.user_id WHERE s.case_id = $1 ORDER BY s.id")
            .bind(case_id)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseStepRecord {
                    id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    step: CaseStep {
                        case_id: r.try_get(2)?,
                        loan_id: LoanId(r.try_get(3)?),
                        kind: named_col(r, 4, "case_steps.kind")?,
                        stage: named_col(r, 5, "case_steps.stage")?,
                        user_id: UserId(r.try_get(6)?),
                        note: r.try_get(7)?,
                        amount: r.try_get::<Option<i64>, _>(8)?.map(Money::from_fen),
                        payment: r.try_get(9)?,
                        business_date: parse_date_col(&r.try_get::<String, _>(10)?)?,
                        occurred_at: r.try_get(11)?,
                    },
                })
            })
            .collect()
    }
}

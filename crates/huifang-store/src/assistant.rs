//! The follow-up assistant's conversations (`assistant_sessions`).

use huifang_core::{BorrowerId, Date, LoanId, TaskId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::{Val, bind_vals, date_text, param, param_list, parse_date_col};
use crate::{Result, Tx};

/// A task the assistant may take: open, unassigned, due, of an assisted kind, never taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantCandidate {
    pub task_id: TaskId,
    pub kind: String,
    pub loan_id: LoanId,
    pub borrower_id: BorrowerId,
}

/// One conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantSession {
    pub id: i64,
    pub task_id: TaskId,
    pub loan_id: LoanId,
    pub borrower_id: BorrowerId,
    pub kind: String,
    /// ivr, sms or wechat.
    pub flow: String,
    /// active, completed or handed_over.
    pub state: String,
    /// Why it was handed over (the core's reasons).
    pub reason: Option<String>,
    /// The question being asked and how often it was.
    pub step: i64,
    pub asks: i64,
    /// Prompts written to the outbox (calls placed, messages sent): their keys' numbers.
    pub prompts: i64,
    /// JSON: [[question id, answer], …].
    pub answers: String,
    /// JSON: [[speaker, text], …].
    pub transcript: String,
    /// When the answer waited for is late (RFC 3339 UTC).
    pub next_at: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub business_date: Date,
    pub interaction_id: Option<i64>,
}

const COLUMNS: &str = "id, task_id, loan_id, borrower_id, kind, flow, state, reason, step, asks, prompts, answers, transcript, next_at, started_at, finished_at, business_date, interaction_id";

fn session(r: &AnyRow) -> Result<AssistantSession> {
    let date: String = r.try_get(16)?;
    Ok(AssistantSession {
        id: r.try_get(0)?,
        task_id: TaskId(r.try_get(1)?),
        loan_id: LoanId(r.try_get(2)?),
        borrower_id: BorrowerId(r.try_get(3)?),
        kind: r.try_get(4)?,
        flow: r.try_get(5)?,
        state: r.try_get(6)?,
        reason: r.try_get(7)?,
        step: r.try_get(8)?,
        asks: r.try_get(9)?,
        prompts: r.try_get(10)?,
        answers: r.try_get(11)?,
        transcript: r.try_get(12)?,
        next_at: r.try_get(13)?,
        started_at: r.try_get(14)?,
        finished_at: r.try_get(15)?,
        business_date: parse_date_col(&date)?,
        interaction_id: r.try_get(17)?,
    })
}

impl Tx {
    /// The built-in user the assistant's contacts are recorded by and its tasks assigned to while
    /// it talks: `huifang-assistant`, an inactive agent outside any team (no one signs in as it),
    /// created on first use.
    pub async fn assistant_user(&mut self) -> Result<UserId> {
        sqlx::query("INSERT INTO users (username, display_name, role, active) VALUES ('huifang-assistant', 'Huifang assistant', 'agent', 0) ON CONFLICT (username) DO NOTHING")
            .execute(&mut *self.tx)
            .await?;
        let row = sqlx::query("SELECT id FROM users WHERE username = 'huifang-assistant'")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(UserId(row.try_get(0)?))
    }

    /// Tasks of these kinds the assistant may take on `today`: open or rescheduled, unassigned,
    /// due, on a loan on the book, never taken before; oldest first, at most `limit`.
    pub async fn assistant_candidates(
        &mut self,
        kinds: &[String],
        today: Date,
        limit: i64,
    ) -> Result<Vec<AssistantCandidate>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let mut vals: Vec<Val> = vec![Val::Text(date_text(today))];
        vals.extend(kinds.iter().cloned().map(Val::Text));
        vals.push(Val::Int(limit));
        let d = self.dialect;
        let sql = format!(
            "SELECT t.id, t.kind, t.loan_id, l.borrower_id FROM tasks t JOIN loans l ON l.id = t.loan_id \
             WHERE t.state IN ('open', 'rescheduled') AND t.assignee_id IS NULL AND t.due_on <= {} \
             AND t.kind IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM assistant_sessions s WHERE s.task_id = t.id) \
             ORDER BY t.id LIMIT {}",
            param(d, 1),
            param_list(d, 2, kinds.len()),
            param(d, kinds.len() + 2)
        );
        let q = bind_vals(sqlx::query(sqlx::AssertSqlSafe(sql)), &vals);
        let rows = q.fetch_all(&mut *self.tx).await?;
        rows.iter()
            .map(|r| {
                Ok(AssistantCandidate {
                    task_id: TaskId(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    loan_id: LoanId(r.try_get(2)?),
                    borrower_id: BorrowerId(r.try_get(3)?),
                })
            })
            .collect()
    }

    /// Writes a new conversation; returns its id.
    pub async fn insert_assistant_session(&mut self, s: &AssistantSession) -> Result<i64> {
        let row = sqlx::query("INSERT INTO assistant_sessions (task_id, loan_id, borrower_id, kind, flow, state, reason, step, asks, prompts, answers, transcript, next_at, started_at, finished_at, business_date, interaction_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id")
            .bind(s.task_id.get())
            .bind(s.loan_id.0)
            .bind(s.borrower_id.0)
            .bind(s.kind.clone())
            .bind(s.flow.clone())
            .bind(s.state.clone())
            .bind(s.reason.clone())
            .bind(s.step)
            .bind(s.asks)
            .bind(s.prompts)
            .bind(s.answers.clone())
            .bind(s.transcript.clone())
            .bind(s.next_at.clone())
            .bind(s.started_at.clone())
            .bind(s.finished_at.clone())
            .bind(date_text(s.business_date))
            .bind(s.interaction_id)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Saves where a conversation stands (everything but what it is about).
    pub async fn save_assistant_session(&mut self, s: &AssistantSession) -> Result<()> {
        sqlx::query("UPDATE assistant_sessions SET state = $1, reason = $2, step = $3, asks = $4, prompts = $5, answers = $6, transcript = $7, next_at = $8, finished_at = $9, interaction_id = $10 WHERE id = $11")
            .bind(s.state.clone())
            .bind(s.reason.clone())
            .bind(s.step)
            .bind(s.asks)
            .bind(s.prompts)
            .bind(s.answers.clone())
            .bind(s.transcript.clone())
            .bind(s.next_at.clone())
            .bind(s.finished_at.clone())
            .bind(s.interaction_id)
            .bind(s.id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The conversation of a task, if the assistant took it.
    pub async fn assistant_session_of_task(
        &mut self,
        task: TaskId,
    ) -> Result<Option<AssistantSession>> {
        let sql = format!("SELECT {COLUMNS} FROM assistant_sessions WHERE task_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(task.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(session).transpose()
    }

    /// The borrower's active conversation on a chat flow (the oldest, when several are).
    pub async fn active_chat_session(
        &mut self,
        borrower: BorrowerId,
        flow: &str,
    ) -> Result<Option<AssistantSession>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM assistant_sessions WHERE borrower_id = $1 AND flow = $2 AND state = 'active' ORDER BY id LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(borrower.0)
            .bind(flow.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(session).transpose()
    }

    /// Active conversations whose answer is late at `now`, oldest first, at most `limit`.
    pub async fn late_assistant_sessions(
        &mut self,
        now: &str,
        limit: i64,
    ) -> Result<Vec<AssistantSession>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM assistant_sessions WHERE state = 'active' AND next_at <= $1 ORDER BY next_at, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.to_string())
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(session).collect()
    }

    /// Conversations counted by task kind, flow, state and hand-over reason.
    pub async fn assistant_counts(&mut self) -> Result<Vec<(String, String, String, String, i64)>> {
        let rows = sqlx::query("SELECT kind, flow, state, COALESCE(reason, ''), COUNT(*) FROM assistant_sessions GROUP BY kind, flow, state, COALESCE(reason, '') ORDER BY 1, 2, 3, 4")
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            })
            .collect()
    }
}

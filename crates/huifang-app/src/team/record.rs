//! Recording the outcome of a contact on a task (interaction, its ledger leaf, promise, risk
//! signals and the task's next state, in one transaction, once per idempotency key), the
//! escalation of an unreachable task, and a team lead's reassignment.

use std::str::FromStr;

use huifang_core::TaskId;
use huifang_core::followup::{self, Script, TaskKind};
use huifang_core::outcome::{self, Answers, Channel, JobStatus, Outcome, Transition, VehicleUse};
use huifang_core::team::{Access, TaskState};
use huifang_core::{Date, Money};
use huifang_store::{
    Interaction, InteractionRecord, NewPromise, NewSignal, Store, Task, TaskRecord, TaskUpdate, Tx,
};
use serde_json::Value;

use super::{
    Actor, Role, authorize_task, forbidden, invalid, load_task, now_utc, require_team, stamp,
};
use crate::views::{QuestionView, ScriptAnswers};
use crate::{AppError, engine, ledger, require_business_date};

/// An outcome as entered.
#[derive(Debug, Clone, Default)]
pub struct OutcomeInput {
    pub channel: String,
    pub outcome: String,
    /// Promise amount in yuan ("3000", "3000.50").
    pub amount: Option<String>,
    pub date: Option<Date>,
    pub income_change_pct: Option<i32>,
    pub job_status: Option<String>,
    pub vehicle_status: Option<String>,
    /// Structured script answers.
    pub answers: Option<ScriptAnswers>,
    pub notes: String,
    pub duration_seconds: i64,
    pub idempotency_key: String,
    /// When the contact happened (RFC 3339); default now.
    pub occurred_at: Option<String>,
    /// The borrower's emergency contact called instead of the borrower (to locate them): the
    /// contact is recorded, the task is left as it was.
    pub emergency_contact: Option<i64>,
}

/// What recording did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub interaction_id: i64,
    /// False when the idempotency key had been used: nothing was recorded this time.
    pub new: bool,
    /// The loan's warning level after the risk signals this contact recorded were weighed by
    /// the warning rules (None when it recorded none).
    pub warning_level: Option<u8>,
    pub task: TaskRecord,
    pub signals: Vec<String>,
    pub promise_id: Option<i64>,
    pub escalation_task: Option<TaskId>,
    /// Index of the interaction's leaf in the ledger (when new).
    pub leaf_index: Option<u64>,
}

/// The answers as the core reads them, and as stored (a JSON object).
fn parse_answers(v: Option<&ScriptAnswers>) -> Result<(Answers, String), AppError> {
    let Some(v) = v else {
        return Ok((Answers::new(), "{}".into()));
    };
    let answers = v.0.iter().map(|(k, a)| (k.clone(), a.text())).collect();
    let stored = serde_json::to_string(v).map_err(|e| invalid("answers", e.to_string()))?;
    Ok((answers, stored))
}

/// A stored script (the JSON the follow-up engine keeps in `scripts`: a list of
/// `views::QuestionView`) as the core's [`Script`]; `None` when any question is not one.
fn script_from_json(kind: TaskKind, lang: &str, v: &Value) -> Option<Script> {
    let stored: Vec<QuestionView> = serde_json::from_value(v.clone()).ok()?;
    let questions = stored
        .iter()
        .map(QuestionView::to_question)
        .collect::<Option<Vec<_>>>()?;
    Some(Script {
        kind,
        lang: lang.to_string(),
        questions,
    })
}

/// The task kind's script in force (the stored Chinese one), if one is stored.
pub(crate) async fn stored_script(tx: &mut Tx, kind: TaskKind) -> Result<Option<Script>, AppError> {
    let Some(text) = tx.script(kind.as_str(), "zh").await? else {
        return Ok(None);
    };
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| script_from_json(kind, "zh", &v))
        .map(Some)
        .ok_or_else(|| {
            AppError::Store(huifang_store::StoreError::Corrupt(format!(
                "the {} script is not a valid script",
                kind.as_str()
            )))
        })
}

/// The signals the task kind's script attaches to these answers (its options, "no" answers and
/// number thresholds), as (signal, answer) pairs; none when the kind has no script.
async fn script_signals(
    tx: &mut Tx,
    task_kind: &str,
    answers: &Answers,
) -> Result<Vec<(String, String)>, AppError> {
    let Some(kind) = TaskKind::parse(task_kind) else {
        return Ok(Vec::new());
    };
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let Some(script) = stored_script(tx, kind).await? else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(String, String)> = answers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(followup::signals_from_answers(&script, &pairs))
}

/// Records the outcome of a contact on a task: the interaction (logged in the ledger), an open
/// promise to pay, the risk signals, and the task's next state — escalating it when the
/// borrower stays unreachable after its attempt limit — all in one transaction. The same
/// idempotency key records once: a repeat returns the first record and writes nothing.
pub async fn record_outcome(
    store: &Store,
    actor: &Actor,
    task_id: TaskId,
    input: &OutcomeInput,
) -> Result<Recorded, AppError> {
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    match record_in(&mut tx, actor, task_id, input, date).await {
        Ok(r) => {
            tx.commit().await?;
            Ok(r)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(crate::contact::keep_refusal(store, e).await)
        }
    }
}

/// [`record_outcome`] in the caller's transaction, as of `date` (the demo team records each
/// contact on its task's due day, up to the business date). In order: the key is checked, the
/// task locked and checked, a repeated key answered, the contact read (nothing written so far);
/// then the interaction and its ledger leaf, the loan's last agent, the promise, the signals and
/// the task's assignment and next state (with its escalation) are written.
pub(crate) async fn record_in(
    tx: &mut Tx,
    actor: &Actor,
    task_id: TaskId,
    input: &OutcomeInput,
    date: Date,
) -> Result<Recorded, AppError> {
    record_checked(tx, actor, task_id, input, date, Mode::Agent).await
}

/// [`record_in`] for a call the telephony provider reports ended: the contact rules were
/// checked when the agent placed it, and a call made is recorded whatever came since.
pub(crate) async fn record_call_in(
    tx: &mut Tx,
    actor: &Actor,
    task_id: TaskId,
    input: &OutcomeInput,
    date: Date,
) -> Result<Recorded, AppError> {
    record_checked(tx, actor, task_id, input, date, Mode::Call).await
}

/// [`record_in`] for the assistant's conversation on a task it holds (`assistant` is the
/// assistant's user, the task's assignee): the contact rules were checked on each prompt, the
/// risk signals are those it screened (`signals`: the transcript in the notes is not read again),
/// and a hand-over leaves the task open, unassigned and due on `date` for an agent, its attempts
/// as they were.
pub(crate) async fn record_assistant_in(
    tx: &mut Tx,
    assistant: &Actor,
    task_id: TaskId,
    input: &OutcomeInput,
    date: Date,
    hand_over: bool,
    signals: Vec<(String, String)>,
) -> Result<Recorded, AppError> {
    let mode = Mode::Assistant { hand_over, signals };
    record_checked(tx, assistant, task_id, input, date, mode).await
}

/// Who records a contact, and so what is checked and what follows.
enum Mode {
    /// An agent: authorised by the task's team, checked against the contact rules.
    Agent,
    /// The provider's report of an agent's call: authorised, the rules checked when placed.
    Call,
    /// The assistant on a task assigned to it.
    Assistant {
        hand_over: bool,
        signals: Vec<(String, String)>,
    },
}

async fn record_checked(
    tx: &mut Tx,
    actor: &Actor,
    task_id: TaskId,
    input: &OutcomeInput,
    date: Date,
    mode: Mode,
) -> Result<Recorded, AppError> {
    let key = idempotency_key(input)?;
    // Contacts are recorded one after another, in the ledger's order: each reads the borrower's
    // contacts and the loan (the contact rules, the evaluation of its signals) with every
    // contact recorded before it committed, and its interaction's id follows theirs. Side by
    // side, two contacts on one loan's tasks would each be weighed without the other, the one
    // that committed last leaving the loan's state row as if the other had not been. The lock is
    // taken before the task's (`crate::lock_for_contacts`).
    tx.lock_ledger().await?;
    let task = match mode {
        Mode::Assistant { .. } => lock_task_held_by(tx, actor, task_id).await?,
        _ => lock_task_to_work(tx, actor, task_id).await?,
    };
    if let Some(first) = tx.interaction_by_key(key).await? {
        return repeated(first, task, actor, key);
    }
    if !task.state.is_open() {
        return Err(AppError::Conflict(format!(
            "task {task_id} is {}: nothing more can be recorded on it",
            task.state
        )));
    }
    let screened = match &mode {
        Mode::Assistant { signals, .. } => Some(signals.clone()),
        _ => None,
    };
    let contact = read_contact(tx, &task, input, date, screened).await?;
    if let Some(id) = input.emergency_contact {
        crate::contact::third_party(tx, actor, &task, id, &contact, date).await?;
    }
    if matches!(mode, Mode::Agent) {
        crate::contact::guard(tx, actor, &task, contact.channel, contact.occurred_at, date).await?;
    }
    let interaction_id = insert_interaction(tx, actor, &task, key, input, &contact, date).await?;
    if let Some(id) = input.emergency_contact {
        // a third party located the borrower (or not): nothing of the borrower's own is recorded
        tx.set_interaction_emergency_contact(interaction_id, id)
            .await?;
        let leaf_index = ledger::log_records(tx, &ledger::INTERACTION, &[interaction_id]).await?;
        return Ok(Recorded {
            interaction_id,
            new: true,
            warning_level: None,
            task: load_task(tx, task_id).await?,
            signals: Vec::new(),
            promise_id: None,
            escalation_task: None,
            leaf_index: Some(leaf_index),
        });
    }
    let leaf_index = ledger::log_records(tx, &ledger::INTERACTION, &[interaction_id]).await?;
    let hand_over = matches!(
        mode,
        Mode::Assistant {
            hand_over: true,
            ..
        }
    );
    if !matches!(mode, Mode::Assistant { .. }) {
        tx.set_last_agent(task.task.loan_id, actor.id()).await?;
    }
    let promise_id = insert_promise(
        tx,
        &task,
        contact.outcome,
        interaction_id,
        contact.occurred_at,
        date,
    )
    .await?;
    insert_signals(tx, &task, &contact.signal_rows, interaction_id, date).await?;
    let escalation_task = if hand_over {
        tx.set_task_assignee(task.id, None, TaskState::Open).await?;
        tx.update_task(
            task.id,
            &TaskUpdate {
                state: TaskState::Open,
                attempts: task.attempts,
                due_on: date,
                outcome: Some(contact.outcome.kind().to_string()),
                closed_on: None,
                close_reason: None,
            },
        )
        .await?;
        None
    } else {
        advance_task(tx, actor, &task, &contact, date).await?
    };
    let warning_level = warn_on_signals(tx, &task, &contact).await?;
    Ok(Recorded {
        interaction_id,
        new: true,
        warning_level,
        task: load_task(tx, task_id).await?,
        signals: contact
            .signal_rows
            .into_iter()
            .map(|(kind, _)| kind)
            .collect(),
        promise_id,
        escalation_task,
        leaf_index: Some(leaf_index),
    })
}

/// Weighs the signals a contact recorded: the loan is re-evaluated on the business date under the
/// rules in force, in the contact's transaction, so that a warning they raise is stored (and
/// logged) with the contact and shows in the loan's status at once. Returns the loan's level.
async fn warn_on_signals(
    tx: &mut Tx,
    task: &TaskRecord,
    contact: &ContactFacts,
) -> Result<Option<u8>, AppError> {
    if contact.signal_rows.is_empty() {
        return Ok(None);
    }
    let policy = crate::policy::load_in(tx).await?;
    let today = require_business_date(tx).await?;
    let loan = task.task.loan_id;
    let plans = crate::followup::Plans::load(tx).await?;
    let batch = engine::Batch::load(tx, &[loan], &plans).await?;
    let planned = engine::plan(&policy, &plans, today, &batch, engine::Cause::Signal, false)?;
    let level = planned.warning_level(loan);
    planned.write(tx, today).await?;
    Ok(level)
}

/// The idempotency key, trimmed: 1 to 200 characters.
fn idempotency_key(input: &OutcomeInput) -> Result<&str, AppError> {
    checked_idempotency_key("idempotency_key", &input.idempotency_key)
}

/// An idempotency key as every use case takes it (an outcome's, an intake request's): trimmed,
/// 1 to 200 characters, no control characters; refused naming `field`.
pub(crate) fn checked_idempotency_key<'a>(
    field: &'static str,
    key: &'a str,
) -> Result<&'a str, AppError> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > 200 || key.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "required, 1 to 200 characters without control characters",
        ));
    }
    Ok(key)
}

/// Locks the task until the transaction ends; returns it.
async fn locked_task(tx: &mut Tx, task_id: TaskId) -> Result<TaskRecord, AppError> {
    if !tx.lock_task(task_id).await? {
        return Err(AppError::NotFound {
            what: "task",
            id: task_id.to_string(),
        });
    }
    load_task(tx, task_id).await
}

/// Locks the task until the transaction ends and checks that `actor` may work it.
async fn lock_task_to_work(
    tx: &mut Tx,
    actor: &Actor,
    task_id: TaskId,
) -> Result<TaskRecord, AppError> {
    let task = locked_task(tx, task_id).await?;
    authorize_task(tx, actor, &task, Access::Work).await?;
    Ok(task)
}

/// Locks the task until the transaction ends and checks that it is held by `holder` (the
/// assistant's tasks: no team's rule applies to it).
async fn lock_task_held_by(
    tx: &mut Tx,
    holder: &Actor,
    task_id: TaskId,
) -> Result<TaskRecord, AppError> {
    let task = locked_task(tx, task_id).await?;
    if task.task.assignee_id != Some(holder.id()) {
        return Err(AppError::Conflict(format!(
            "task {task_id} is not held by {}",
            holder.name()
        )));
    }
    Ok(task)
}

/// The answer to a key already used (`first` is its interaction): the first record, when it
/// was this actor's on this task, else a conflict. Nothing is written.
fn repeated(
    first: InteractionRecord,
    task: TaskRecord,
    actor: &Actor,
    key: &str,
) -> Result<Recorded, AppError> {
    if first.interaction.task_id != Some(task.id) || first.interaction.user_id != actor.id() {
        return Err(AppError::Conflict(format!(
            "idempotency key {key:?} was used for another record"
        )));
    }
    Ok(Recorded {
        interaction_id: first.id,
        new: false,
        warning_level: None,
        task,
        signals: Vec::new(),
        promise_id: None,
        escalation_task: None,
        leaf_index: None,
    })
}

/// A contact as entered, parsed and read against its task: what recording it writes.
pub(crate) struct ContactFacts {
    pub(crate) channel: Channel,
    pub(crate) outcome: Outcome,
    /// The script answers as stored (a JSON object).
    answers_json: String,
    /// The task's attempts before this contact.
    attempts: u32,
    transition: Transition,
    /// (kind, value) of each risk signal: the core's, then those the script adds, then those
    /// the notes yield.
    signal_rows: Vec<(String, String)>,
    pub(crate) occurred_at: chrono::DateTime<chrono::Utc>,
}

/// Parses the contact and reads it against the task: its outcome and answers, the task's next
/// state and the risk signals (reading the task kind's script). Writes nothing.
async fn read_contact(
    tx: &mut Tx,
    task: &TaskRecord,
    input: &OutcomeInput,
    date: Date,
    screened: Option<Vec<(String, String)>>,
) -> Result<ContactFacts, AppError> {
    let (channel, outcome) = parse_outcome(input, date)?;
    let (answers, answers_json) = parse_answers(input.answers.as_ref())?;
    let attempts = u32::try_from(task.attempts).unwrap_or(0);
    let max_attempts = u32::try_from(task.task.max_attempts).unwrap_or(1);
    let transition = outcome::next_state(&outcome, attempts, max_attempts, date);
    let attempts_after = match transition {
        Transition::Done => attempts,
        Transition::Reschedule { attempts, .. } | Transition::FailAndEscalate { attempts } => {
            attempts
        }
    };
    let mut signal_rows =
        signal_rows(tx, &task.task.kind, &outcome, &answers, attempts_after).await?;
    // what the agent's notes say, read by the text reader, weighed as the structured signals;
    // the assistant's signals were screened from the borrower's words as they came
    let found: Vec<(String, String)> = match screened {
        Some(signals) => signals,
        None => crate::text::read_as("notes", &input.notes),
    };
    for (kind, value) in found {
        if !signal_rows.iter().any(|(k, _)| *k == kind) {
            signal_rows.push((kind, value));
        }
    }
    if input.duration_seconds < 0 {
        return Err(invalid("duration_seconds", "cannot be negative"));
    }
    let occurred_at = match input.occurred_at.as_deref() {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| invalid("occurred_at", format!("{t:?}: {e}")))?
            .with_timezone(&chrono::Utc),
        None => now_utc(),
    };
    Ok(ContactFacts {
        channel,
        outcome,
        answers_json,
        attempts,
        transition,
        signal_rows,
        occurred_at,
    })
}

/// The channel and the outcome (with its amount, dates, job and vehicle), checked by the core.
fn parse_outcome(input: &OutcomeInput, date: Date) -> Result<(Channel, Outcome), AppError> {
    let channel: Channel = input
        .channel
        .parse()
        .map_err(|e: outcome::OutcomeError| invalid("channel", e.to_string()))?;
    let amount = input
        .amount
        .as_deref()
        .map(Money::parse)
        .transpose()
        .map_err(|e| invalid("amount", e.to_string()))?;
    let job = input
        .job_status
        .as_deref()
        .map(JobStatus::from_str)
        .transpose()
        .map_err(|e| invalid("job_status", e.to_string()))?;
    let vehicle = input
        .vehicle_status
        .as_deref()
        .map(VehicleUse::from_str)
        .transpose()
        .map_err(|e| invalid("vehicle_status", e.to_string()))?;
    let outcome = Outcome::build(
        &input.outcome,
        amount,
        input.date,
        input.income_change_pct,
        job,
        vehicle,
        date,
    )
    .map_err(|e| invalid(e.field(), e.to_string()))?;
    Ok((channel, outcome))
}

/// The risk signals of an outcome and its answers, as (kind, value): the core's, then those the
/// task kind's script attaches to the answers, each kind once.
async fn signal_rows(
    tx: &mut Tx,
    task_kind: &str,
    outcome: &Outcome,
    answers: &Answers,
    attempts_after: u32,
) -> Result<Vec<(String, String)>, AppError> {
    let signals = outcome::signals(outcome, answers, attempts_after)
        .map_err(|e| invalid("answers", e.to_string()))?;
    let mut signal_rows: Vec<(String, String)> = signals
        .iter()
        .map(|s| (s.kind.to_string(), s.value.clone()))
        .collect();
    for (kind, answer) in script_signals(tx, task_kind, answers).await? {
        if !signal_rows.iter().any(|(k, _)| *k == kind) {
            signal_rows.push((kind, answer));
        }
    }
    Ok(signal_rows)
}

/// Inserts the interaction; returns its id. A key that another transaction has just recorded
/// is a conflict.
async fn insert_interaction(
    tx: &mut Tx,
    actor: &Actor,
    task: &TaskRecord,
    key: &str,
    input: &OutcomeInput,
    contact: &ContactFacts,
    date: Date,
) -> Result<i64, AppError> {
    let (promise_amount, promise_date) = match contact.outcome {
        Outcome::PromiseToPay { amount, date } => (Some(amount.fen()), Some(date)),
        _ => (None, None),
    };
    let (income, job_status) = match contact.outcome {
        Outcome::HardshipReported {
            income_change_pct,
            job_status,
        } => (
            Some(i64::from(income_change_pct)),
            Some(job_status.as_str().to_string()),
        ),
        _ => (None, None),
    };
    let vehicle_status = match contact.outcome {
        Outcome::VehicleStatus(v) => Some(v.as_str().to_string()),
        _ => None,
    };
    let Some(interaction_id) = tx
        .insert_interaction(&Interaction {
            idempotency_key: key.to_string(),
            task_id: Some(task.id),
            loan_id: task.task.loan_id,
            user_id: actor.id(),
            channel: contact.channel.as_str().to_string(),
            occurred_at: stamp(contact.occurred_at),
            duration_seconds: input.duration_seconds,
            outcome: contact.outcome.kind().to_string(),
            promise_amount_fen: promise_amount,
            promise_date,
            income_change_pct: income,
            job_status,
            vehicle_status,
            answers: contact.answers_json.clone(),
            notes: input.notes.trim().to_string(),
            business_date: date,
            salt: ledger::new_salt(),
        })
        .await?
    else {
        // a concurrent recorder won the key between our check and insert
        return Err(AppError::Conflict(format!(
            "idempotency key {key:?} is being recorded by another request: retry"
        )));
    };
    Ok(interaction_id)
}

/// Opens the promise to pay of a promise outcome, with what the loan had been paid before it;
/// returns its id (none for another outcome).
async fn insert_promise(
    tx: &mut Tx,
    task: &TaskRecord,
    outcome: Outcome,
    interaction_id: i64,
    at: chrono::DateTime<chrono::Utc>,
    date: Date,
) -> Result<Option<i64>, AppError> {
    let Outcome::PromiseToPay { amount, date: due } = outcome else {
        return Ok(None);
    };
    crate::notify::confirm_promise(
        tx,
        task.task.loan_id,
        interaction_id,
        (amount, due),
        at,
        date,
    )
    .await?;
    let paid_before_fen = tx.loan_paid_fen(task.task.loan_id).await?;
    let id = tx
        .insert_promise(&NewPromise {
            interaction_id,
            loan_id: task.task.loan_id,
            amount_fen: amount.fen(),
            promised_on: date,
            due_on: due,
            paid_before_fen,
        })
        .await?;
    Ok(Some(id))
}

/// Records the risk signals (kind, value) the interaction observed on the task's loan.
async fn insert_signals(
    tx: &mut Tx,
    task: &TaskRecord,
    signal_rows: &[(String, String)],
    interaction_id: i64,
    date: Date,
) -> Result<(), AppError> {
    tx.insert_signals(
        &signal_rows
            .iter()
            .map(|(kind, value)| NewSignal {
                loan_id: task.task.loan_id,
                kind: kind.clone(),
                value: value.clone(),
                observed_on: date,
                interaction_id: Some(interaction_id),
            })
            .collect::<Vec<_>>(),
    )
    .await?;
    Ok(())
}

/// Moves the task on: an unassigned task goes to `actor` first; then its next state (done,
/// rescheduled, or failed and escalated). Returns the escalation task created, if any.
async fn advance_task(
    tx: &mut Tx,
    actor: &Actor,
    task: &TaskRecord,
    contact: &ContactFacts,
    date: Date,
) -> Result<Option<TaskId>, AppError> {
    if task.task.assignee_id.is_none() {
        tx.set_task_assignee(task.id, Some(actor.id()), TaskState::InProgress)
            .await?;
    }
    let transition = contact.transition;
    let kind = Some(contact.outcome.kind().to_string());
    let mut escalation_task = None;
    let update = match transition {
        Transition::Done => TaskUpdate {
            state: TaskState::after(transition),
            attempts: i64::from(contact.attempts),
            due_on: task.task.due_on,
            outcome: kind,
            closed_on: Some(date),
            close_reason: Some("outcome".into()),
        },
        Transition::Reschedule { attempts, due_on } => TaskUpdate {
            state: TaskState::after(transition),
            attempts: i64::from(attempts),
            due_on,
            outcome: kind,
            closed_on: None,
            close_reason: None,
        },
        Transition::FailAndEscalate { attempts } => {
            escalation_task = escalate(tx, task, date).await?;
            TaskUpdate {
                state: TaskState::after(transition),
                attempts: i64::from(attempts),
                due_on: task.task.due_on,
                outcome: kind,
                closed_on: Some(date),
                close_reason: Some("unreachable".into()),
            }
        }
    };
    tx.update_task(task.id, &update).await?;
    Ok(escalation_task)
}

/// Creates the escalation of an unreachable task: in the next queue, or — when the queue has
/// no next — assigned to the lead of the queue's team. Once per task.
async fn escalate(tx: &mut Tx, task: &TaskRecord, date: Date) -> Result<Option<TaskId>, AppError> {
    let target = outcome::escalation_queue(&task.task.queue_code).to_string();
    let assignee = if target == task.task.queue_code {
        match tx.queue_by_code(&target).await?.and_then(|q| q.team_id) {
            Some(team) => tx
                .team_users(team)
                .await?
                .into_iter()
                .find(|u| u.active && u.user.role == Role::TeamLead)
                .map(|u| u.id),
            None => None,
        }
    } else {
        None
    };
    Ok(tx
        .insert_task(&Task {
            loan_id: task.task.loan_id,
            kind: outcome::ESCALATION_KIND.into(),
            reason_key: outcome::escalation_reason(task.id),
            queue_code: target,
            assignee_id: assignee,
            created_on: date,
            due_on: date,
            window_end_on: None,
            late: false,
            max_attempts: task.task.max_attempts,
        })
        .await?)
}

// ----- reassign ------------------------------------------------------------------------------

/// A team lead moves an open task of their team to another member of the team.
pub async fn reassign(
    store: &Store,
    actor: &Actor,
    task_id: TaskId,
    to: &str,
) -> Result<TaskRecord, AppError> {
    if !actor.role.reassigns_tasks() {
        return Err(forbidden(format!(
            "{} may not reassign tasks (team leads may)",
            actor.name()
        )));
    }
    let team = require_team(actor)?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    if !tx.lock_task(task_id).await? {
        return Err(AppError::NotFound {
            what: "task",
            id: task_id.to_string(),
        });
    }
    let task = load_task(&mut tx, task_id).await?;
    authorize_task(&mut tx, actor, &task, Access::View).await?;
    if !task.state.is_open() {
        return Err(AppError::Conflict(format!(
            "task {task_id} is {}: it cannot be reassigned",
            task.state
        )));
    }
    let target = tx
        .user_by_username(to)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| AppError::NotFound {
            what: "active user",
            id: to.to_string(),
        })?;
    if target.user.team_id != Some(team)
        || !matches!(
            target.user.role.as_str(),
            "agent" | "collector" | "team_lead"
        )
    {
        return Err(forbidden(format!(
            "{to} is not an agent, collector or lead of team {}",
            actor.user.team_code.as_deref().unwrap_or("?")
        )));
    }
    tx.set_task_assignee(task_id, Some(target.id), task.state.reassigned())
        .await?;
    let task = load_task(&mut tx, task_id).await?;
    tx.commit().await?;
    Ok(task)
}

//! The follow-up assistant: welcome calls and repayment reminders handed to a scripted flow
//! (`huifang_core::assistant`). A pass ([`run_once`], `huifang assistant run`, and every minute
//! inside `huifang serve`) takes the tasks its rules give it, checks the contact rules and sends
//! the first question (an SMS or WeChat message, or an IVR call placed through the telephony
//! provider, all by the outbox), and asks again — or hands the task over — when an answer is
//! late. Answers arrive as the borrower's replies on the channels' callback ([`answer_chat`]) or
//! on the IVR webhook ([`ivr`]); each is screened by the core, read by the text reader, and
//! followed by the next question, the task done, or the task back in its queue for an agent
//! with the transcript. The end of a conversation is recorded as a contact by the built-in user
//! `huifang-assistant` (logged in the ledger, its signals weighed by the warning rules).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use huifang_core::TaskId;
use huifang_core::assistant::{
    self as core, AssistantRules, Conversation, Flow, HandOver, Heard, SessionState, Speaker, Step,
    Turn,
};
use huifang_core::followup::{AnswerType, Script, TaskKind, default_script};
use huifang_store::{AssistantSession, NewMessage, Store, Tx};
use serde::Deserialize;

use crate::team::{Actor, OutcomeInput, Role, stamp};
use crate::views::{
    AnswerValue, AssistantReportRow, AssistantRulesDoc, AssistantRunView, AssistantSessionView,
    IvrReplyView, ScriptAnswers, TranscriptLineView,
};
use crate::{AppError, require_business_date};

/// The setting that holds the assistant's rules.
const RULES_SETTING: &str = "assistant";
/// The outbox event of the assistant's prompts (a message, or an IVR call placed).
pub const ASSISTANT_EVENT: &str = "assistant";
/// Tasks taken and late conversations handled per pass.
const PASS_LIMIT: i64 = 500;
/// What the IVR says when it hangs up.
const GOODBYE: &str = "感谢您的配合，再见。";
const HANDING_OVER: &str = "稍后将由客服专员与您联系，感谢您的耐心，再见。";

// ----- the rules -------------------------------------------------------------------------------

impl From<&AssistantRules> for AssistantRulesDoc {
    fn from(r: &AssistantRules) -> Self {
        AssistantRulesDoc {
            flows: r
                .flows
                .iter()
                .map(|(k, f)| (k.as_str().to_string(), f.as_str().to_string()))
                .collect(),
            share_pct: r.share_pct,
            asks: r.asks,
            wait_minutes: r.wait_minutes,
        }
    }
}

impl AssistantRulesDoc {
    /// The rules the document sets, checked by the core; the error names the field.
    pub fn to_rules(&self) -> Result<AssistantRules, AppError> {
        let mut flows = BTreeMap::new();
        for (kind, flow) in &self.flows {
            let k = TaskKind::parse(kind)
                .ok_or_else(|| AppError::Invalid(format!("flows: {kind:?} is not a task kind")))?;
            let f = Flow::parse(flow).ok_or_else(|| {
                AppError::Invalid(format!("flows.{kind}: {flow:?} is not ivr, sms or wechat"))
            })?;
            flows.insert(k, f);
        }
        let rules = AssistantRules {
            flows,
            share_pct: self.share_pct,
            asks: self.asks,
            wait_minutes: self.wait_minutes,
        };
        rules
            .validate()
            .map_err(|e| AppError::Invalid(format!("{}: {}", e.field, e.reason)))?;
        Ok(rules)
    }
}

/// The assistant's rules in force: the stored document, or the defaults (off).
pub async fn rules_in(tx: &mut Tx) -> Result<AssistantRules, AppError> {
    match tx.setting(RULES_SETTING).await? {
        None => Ok(AssistantRules::default()),
        Some(text) => serde_json::from_str::<AssistantRulesDoc>(&text)
            .map_err(|e| AppError::Invalid(format!("the stored {RULES_SETTING} setting: {e}")))?
            .to_rules(),
    }
}

/// The assistant's rules, as a document.
pub async fn show_rules(store: &Store, actor: &Actor) -> Result<AssistantRulesDoc, AppError> {
    actor.require(Role::reads_loans, "read the assistant's rules")?;
    let mut tx = store.begin().await?;
    let rules = rules_in(&mut tx).await?;
    tx.rollback().await?;
    Ok(AssistantRulesDoc::from(&rules))
}

/// Replaces the assistant's rules (JSON): administrators, who set the contact rules. They apply
/// from the next pass; conversations under way go on. A refused document names the field and
/// changes nothing.
pub async fn set_rules(
    store: &Store,
    actor: &Actor,
    text: &str,
) -> Result<AssistantRulesDoc, AppError> {
    actor.require(Role::sets_contact_rules, "change the assistant's rules")?;
    let mut de = serde_json::Deserializer::from_str(text);
    let doc: AssistantRulesDoc = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| AppError::Invalid(format!("{}: {}", e.path(), e.inner())))?;
    let rules = doc.to_rules()?;
    put_rules(store, &rules).await?;
    Ok(AssistantRulesDoc::from(&rules))
}

/// Stores the assistant's rules (checked).
pub(crate) async fn put_rules(store: &Store, rules: &AssistantRules) -> Result<(), AppError> {
    let stored = serde_json::to_string(&AssistantRulesDoc::from(rules))
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let mut tx = store.begin().await?;
    tx.set_setting(RULES_SETTING, &stored).await?;
    tx.commit().await?;
    Ok(())
}

// ----- conversations as stored -----------------------------------------------------------------

fn corrupt(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Store(huifang_store::StoreError::Corrupt(format!("{what}: {e}")))
}

fn flow_of(s: &AssistantSession) -> Result<Flow, AppError> {
    Flow::parse(&s.flow).ok_or_else(|| corrupt("assistant session flow", &s.flow))
}

fn conversation(s: &AssistantSession) -> Result<Conversation, AppError> {
    let answers: Vec<(String, String)> =
        serde_json::from_str(&s.answers).map_err(|e| corrupt("assistant answers", e))?;
    let lines: Vec<(String, String)> =
        serde_json::from_str(&s.transcript).map_err(|e| corrupt("assistant transcript", e))?;
    let transcript = lines
        .into_iter()
        .map(|(who, text)| {
            Speaker::parse(&who)
                .map(|speaker| Turn { speaker, text })
                .ok_or_else(|| corrupt("assistant transcript speaker", who))
        })
        .collect::<Result<_, _>>()?;
    Ok(Conversation {
        step: usize::try_from(s.step).unwrap_or(0),
        asks: u32::try_from(s.asks).unwrap_or(0),
        answers,
        transcript,
    })
}

fn keep(s: &mut AssistantSession, c: &Conversation) -> Result<(), AppError> {
    s.step = i64::try_from(c.step).unwrap_or(i64::MAX);
    s.asks = i64::from(c.asks);
    s.answers = serde_json::to_string(&c.answers).map_err(|e| corrupt("assistant answers", e))?;
    let lines: Vec<(&str, &str)> = c
        .transcript
        .iter()
        .map(|t| (t.speaker.as_str(), t.text.as_str()))
        .collect();
    s.transcript = serde_json::to_string(&lines).map_err(|e| corrupt("assistant transcript", e))?;
    Ok(())
}

/// The script the assistant asks for a task kind: the one stored, or the default.
async fn script_of(tx: &mut Tx, kind: &str) -> Result<Script, AppError> {
    let kind = TaskKind::parse(kind).ok_or_else(|| corrupt("assistant task kind", kind))?;
    Ok(crate::team::stored_script(tx, kind)
        .await?
        .unwrap_or_else(|| default_script(kind, "zh")))
}

async fn assistant_actor(tx: &mut Tx) -> Result<Actor, AppError> {
    let id = tx.assistant_user().await?;
    let user = tx.user_by_id(id).await?.ok_or_else(|| AppError::NotFound {
        what: "user",
        id: "huifang-assistant".into(),
    })?;
    Actor::from_user(user)
}

/// Writes a prompt to the outbox, due now: a message on a chat flow, an IVR call placed on the
/// voice flow (the provider says the prompt when the borrower answers).
async fn write_prompt(
    tx: &mut Tx,
    s: &mut AssistantSession,
    assistant: &Actor,
    prompt: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    s.prompts += 1;
    let flow = flow_of(s)?;
    tx.insert_messages(&[NewMessage {
        key: format!("{ASSISTANT_EVENT}:{}:{}", s.task_id, s.prompts),
        event: ASSISTANT_EVENT.to_string(),
        channel: flow.channel().as_str().to_string(),
        loan_id: s.loan_id,
        task_id: Some(s.task_id),
        user_id: Some(assistant.id()),
        amount_fen: None,
        on_date: None,
        days: None,
        detail: Some(prompt.to_string()),
        due_at: stamp(now),
        business_date: s.business_date,
        created_at: stamp(now),
    }])
    .await?;
    Ok(())
}

/// Whether the assistant still holds the conversation's task. A task closed meanwhile (the close
/// cancelled it, its loan paid off) or reassigned by a team lead ends the conversation as
/// `closed`, nothing recorded: the task is no longer the assistant's to work.
async fn still_held(
    tx: &mut Tx,
    s: &mut AssistantSession,
    assistant: &Actor,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let task = crate::team::load_task(tx, s.task_id).await?;
    let held = task.task.assignee_id == Some(assistant.id());
    let Some(reason) = core::closed_reason(task.state.is_open(), held) else {
        return Ok(true);
    };
    s.state = SessionState::Closed.as_str().into();
    s.reason = Some(reason.into());
    s.finished_at = Some(stamp(now));
    tx.save_assistant_session(s).await?;
    Ok(false)
}

/// What a step of a conversation works with, read once per step.
struct Talk {
    rules: AssistantRules,
    script: Script,
    flow: Flow,
    assistant: Actor,
}

/// Where a conversation the assistant was asked to move on stands.
enum Held {
    /// Active, its task still the assistant's: what the step works with.
    Talk(Box<(AssistantSession, Talk)>),
    /// Ended before (or no conversation).
    Ended,
    /// Its task was closed or reassigned meanwhile: ended now as `closed`.
    Closed,
}

/// Locks the task and reads its active conversation with what a step works with.
async fn held(tx: &mut Tx, task_id: TaskId, now: DateTime<Utc>) -> Result<Held, AppError> {
    tx.lock_task(task_id).await?;
    let Some(mut s) = tx.assistant_session_of_task(task_id).await? else {
        return Ok(Held::Ended);
    };
    if s.state != SessionState::Active.as_str() {
        return Ok(Held::Ended);
    }
    let talk = Talk {
        rules: rules_in(tx).await?,
        script: script_of(tx, &s.kind).await?,
        flow: flow_of(&s)?,
        assistant: assistant_actor(tx).await?,
    };
    if !still_held(tx, &mut s, &talk.assistant, now).await? {
        return Ok(Held::Closed);
    }
    Ok(Held::Talk(Box::new((s, talk))))
}

/// How a conversation ends.
enum Ending {
    Complete,
    HandOver(HandOver),
    /// A contact rule refused its prompt (the rule's name).
    Blocked(String),
}

impl Ending {
    fn reason(&self) -> Option<&'static str> {
        match self {
            Ending::Complete => None,
            Ending::HandOver(h) => Some(h.reason()),
            Ending::Blocked(_) => Some(core::BLOCKED),
        }
    }

    fn words(&self) -> String {
        match self {
            Ending::Complete => String::new(),
            Ending::HandOver(HandOver::Risk(signals)) => format!(
                "转人工：风险回答（{}）",
                signals
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            Ending::HandOver(HandOver::Answer { question, answer }) => {
                format!("转人工：{question} 回答 {answer}")
            }
            Ending::HandOver(HandOver::Person) => "转人工：借款人要求人工服务".into(),
            Ending::HandOver(HandOver::NoAnswer) => "转人工：多次询问未获回答".into(),
            Ending::HandOver(HandOver::Unclear) => "转人工：回答无法识别".into(),
            Ending::Blocked(rule) => format!("转人工：联系规则 {rule} 拒绝了提问"),
        }
    }
}

/// The answers as recorded with the contact: yes/no as flags, numbers as numbers.
fn script_answers(script: &Script, answers: &[(String, String)]) -> ScriptAnswers {
    ScriptAnswers(
        answers
            .iter()
            .map(|(id, a)| {
                let kind = script
                    .questions
                    .iter()
                    .find(|q| &q.id == id)
                    .map(|q| &q.answer);
                let value = match (kind, a.as_str()) {
                    (Some(AnswerType::YesNo), "yes") => AnswerValue::Flag(true),
                    (Some(AnswerType::YesNo), "no") => AnswerValue::Flag(false),
                    (Some(AnswerType::Number), n) => n
                        .parse::<i64>()
                        .map(|n| AnswerValue::Number(n.into()))
                        .unwrap_or_else(|_| AnswerValue::Text(a.clone())),
                    _ => AnswerValue::Text(a.clone()),
                };
                (id.clone(), value)
            })
            .collect(),
    )
}

/// Ends a conversation in the caller's transaction: the contact recorded by the assistant with
/// the answers and the transcript, the task done (a clean conversation) or back in its queue,
/// unassigned and due today, for an agent (any other end).
async fn finish(
    tx: &mut Tx,
    t: &Talk,
    s: &mut AssistantSession,
    c: &Conversation,
    ending: Ending,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let date = require_business_date(tx).await?;
    let heard = c.transcript.iter().any(|t| t.speaker == Speaker::Borrower);
    let transcript = core::transcript_text(&c.transcript);
    let notes = match ending {
        Ending::Complete => format!("智能回访完成\n{transcript}"),
        _ => format!("{}\n{transcript}", ending.words()),
    };
    let signals = match &ending {
        Ending::HandOver(HandOver::Risk(signals)) => signals.clone(),
        _ => Vec::new(),
    };
    let input = OutcomeInput {
        channel: t.flow.channel().as_str().to_string(),
        outcome: if heard { "reached" } else { "no_answer" }.to_string(),
        answers: Some(script_answers(&t.script, &c.answers)),
        notes,
        idempotency_key: format!("{ASSISTANT_EVENT}:{}", s.task_id),
        occurred_at: Some(stamp(now)),
        ..OutcomeInput::default()
    };
    let hand_over = !matches!(ending, Ending::Complete);
    let recorded = crate::team::record_assistant_in(
        tx,
        &t.assistant,
        s.task_id,
        &input,
        date,
        hand_over,
        signals,
    )
    .await?;
    s.state = if hand_over {
        SessionState::HandedOver
    } else {
        SessionState::Completed
    }
    .as_str()
    .to_string();
    s.reason = ending.reason().map(str::to_string);
    s.finished_at = Some(stamp(now));
    s.interaction_id = Some(recorded.interaction_id);
    keep(s, c)?;
    tx.save_assistant_session(s).await?;
    Ok(())
}

/// Follows what the core says after hearing an answer (or silence): the next prompt (written to
/// the outbox on a chat flow, returned to the IVR during a call), or the end.
async fn follow(
    tx: &mut Tx,
    t: &Talk,
    s: &mut AssistantSession,
    c: &Conversation,
    step: Step,
    now: DateTime<Utc>,
    send_prompt: bool,
) -> Result<IvrReplyView, AppError> {
    let wait = Duration::minutes(i64::from(t.rules.wait_minutes));
    match step {
        Step::Ask(prompt) => {
            if send_prompt {
                write_prompt(tx, s, &t.assistant, &prompt, now).await?;
            }
            s.next_at = stamp(now + wait);
            keep(s, c)?;
            tx.save_assistant_session(s).await?;
            Ok(IvrReplyView {
                action: "ask".into(),
                say: prompt,
            })
        }
        Step::Complete => {
            finish(tx, t, s, c, Ending::Complete, now).await?;
            Ok(IvrReplyView {
                action: "hangup".into(),
                say: GOODBYE.into(),
            })
        }
        Step::HandOver(h) => {
            finish(tx, t, s, c, Ending::HandOver(h), now).await?;
            Ok(IvrReplyView {
                action: "hangup".into(),
                say: HANDING_OVER.into(),
            })
        }
    }
}

/// What the borrower said, as the core hears it: the text and the risk signals the text reader
/// finds in it (keypad digits are not read).
pub(crate) fn heard(text: &str) -> Heard {
    Heard::Answer {
        text: text.to_string(),
        signals: crate::text::read_as("assistant", text),
    }
}

// ----- the pass ----------------------------------------------------------------------------------

/// One pass of the assistant at `now`: takes the due welcome calls and reminders its rules give
/// it (the contact rules checked first: outside the hours a task waits for the next pass; a
/// refusal leaves the task to agents, the refusal kept with its rule) and sends each its first
/// question; then asks again, or hands over, each conversation whose answer is late.
pub async fn run_once(store: &Store, now: DateTime<Utc>) -> Result<AssistantRunView, AppError> {
    let mut view = AssistantRunView::default();
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    let rules = rules_in(&mut tx).await?;
    let kinds: Vec<String> = rules.flows.keys().map(|k| k.as_str().to_string()).collect();
    let candidates = tx.assistant_candidates(&kinds, date, PASS_LIMIT).await?;
    let late = tx.late_assistant_sessions(&stamp(now), PASS_LIMIT).await?;
    tx.rollback().await?;

    for cand in candidates {
        let Some(kind) = TaskKind::parse(&cand.kind) else {
            continue;
        };
        let Some(flow) = rules.takes(kind, cand.task_id.get()) else {
            continue;
        };
        let mut tx = store.begin().await?;
        tx.lock_for_write().await?;
        match start(&mut tx, &cand, flow, &rules, now, date).await {
            Ok(Started::Yes) => {
                tx.commit().await?;
                view.started += 1;
            }
            Ok(Started::Taken) => tx.rollback().await?,
            Err(AppError::Blocked { record }) if record.rule == "contact_hours" => {
                tx.rollback().await?;
                view.waiting += 1;
            }
            Err(AppError::Blocked { record }) => {
                // the task stays with agents: the conversation is kept as handed over, unstarted
                tx.rollback().await?;
                let mut tx = store.begin().await?;
                tx.insert_blocked_contact(&record).await?;
                let mut s = new_session(&cand, flow, now, date);
                s.state = SessionState::HandedOver.as_str().into();
                s.reason = Some(core::BLOCKED.into());
                s.finished_at = Some(stamp(now));
                tx.insert_assistant_session(&s).await?;
                tx.commit().await?;
                view.handed_over += 1;
            }
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        }
    }

    for s in late {
        let mut tx = store.begin().await?;
        crate::lock_for_contacts(&mut tx).await?;
        match ask_again(&mut tx, s.task_id, now).await {
            Ok(Late::AskedAgain) => {
                tx.commit().await?;
                view.asked_again += 1;
            }
            Ok(Late::HandedOver) => {
                tx.commit().await?;
                view.handed_over += 1;
            }
            Ok(Late::Closed) => tx.commit().await?,
            Ok(Late::Waiting) => {
                tx.rollback().await?;
                view.waiting += 1;
            }
            Ok(Late::OnTime) => tx.rollback().await?,
            Err(e) => {
                tx.rollback().await?;
                return Err(e);
            }
        }
    }
    Ok(view)
}

/// [`run_once`] asked for by a person: administrators, who set the contact rules.
pub async fn run(
    store: &Store,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<AssistantRunView, AppError> {
    actor.require(Role::sets_contact_rules, "run the assistant")?;
    run_once(store, now).await
}

enum Started {
    Yes,
    /// Another pass or an agent took it first.
    Taken,
}

fn new_session(
    cand: &huifang_store::AssistantCandidate,
    flow: Flow,
    now: DateTime<Utc>,
    date: huifang_core::Date,
) -> AssistantSession {
    AssistantSession {
        id: 0,
        task_id: cand.task_id,
        loan_id: cand.loan_id,
        borrower_id: cand.borrower_id,
        kind: cand.kind.clone(),
        flow: flow.as_str().to_string(),
        state: SessionState::Active.as_str().into(),
        reason: None,
        step: 0,
        asks: 0,
        prompts: 0,
        answers: "[]".into(),
        transcript: "[]".into(),
        next_at: stamp(now),
        started_at: stamp(now),
        finished_at: None,
        business_date: date,
        interaction_id: None,
    }
}

async fn start(
    tx: &mut Tx,
    cand: &huifang_store::AssistantCandidate,
    flow: Flow,
    rules: &AssistantRules,
    now: DateTime<Utc>,
    date: huifang_core::Date,
) -> Result<Started, AppError> {
    if !tx.lock_task(cand.task_id).await? {
        return Ok(Started::Taken);
    }
    let task = crate::team::load_task(tx, cand.task_id).await?;
    if task.task.assignee_id.is_some()
        || !task.state.is_open()
        || tx.assistant_session_of_task(cand.task_id).await?.is_some()
    {
        return Ok(Started::Taken);
    }
    let assistant = assistant_actor(tx).await?;
    crate::contact::guard(tx, &assistant, &task, flow.channel(), now, date).await?;
    tx.set_task_assignee(
        cand.task_id,
        Some(assistant.id()),
        huifang_core::team::TaskState::InProgress,
    )
    .await?;
    let script = script_of(tx, &cand.kind).await?;
    let (c, step) = core::start(&script, flow);
    let Step::Ask(prompt) = step else {
        return Err(corrupt("assistant script", "it asks no question"));
    };
    let mut s = new_session(cand, flow, now, date);
    write_prompt(tx, &mut s, &assistant, &prompt, now).await?;
    s.next_at = stamp(now + Duration::minutes(i64::from(rules.wait_minutes)));
    keep(&mut s, &c)?;
    s.id = tx.insert_assistant_session(&s).await?;
    Ok(Started::Yes)
}

enum Late {
    AskedAgain,
    /// Its task was closed or reassigned meanwhile.
    Closed,
    HandedOver,
    Waiting,
    OnTime,
}

/// A conversation whose answer is late: its question asked again (the contact rules checked
/// first), or the task handed over when the asks have run out.
async fn ask_again(tx: &mut Tx, task_id: TaskId, now: DateTime<Utc>) -> Result<Late, AppError> {
    let (mut s, t) = match held(tx, task_id, now).await? {
        Held::Talk(b) => *b,
        Held::Ended => return Ok(Late::OnTime), // ended meanwhile
        Held::Closed => return Ok(Late::Closed),
    };
    if s.next_at > stamp(now) {
        return Ok(Late::OnTime); // answered meanwhile
    }
    let date = require_business_date(tx).await?;
    let mut c = conversation(&s)?;
    let step = core::hear(&t.script, t.flow, &t.rules, &mut c, Heard::Silence);
    if let Step::Ask(_) = step {
        let task = crate::team::load_task(tx, task_id).await?;
        match crate::contact::guard(tx, &t.assistant, &task, t.flow.channel(), now, date).await {
            Ok(()) => {}
            Err(AppError::Blocked { record }) if record.rule == "contact_hours" => {
                return Ok(Late::Waiting);
            }
            Err(AppError::Blocked { record }) => {
                tx.insert_blocked_contact(&record).await?;
                let c = conversation(&s)?; // the question not asked again
                finish(
                    tx,
                    &t,
                    &mut s,
                    &c,
                    Ending::Blocked(record.rule.clone()),
                    now,
                )
                .await?;
                return Ok(Late::HandedOver);
            }
            Err(e) => return Err(e),
        }
    }
    let asked = matches!(step, Step::Ask(_));
    follow(tx, &t, &mut s, &c, step, now, true).await?;
    Ok(if asked {
        Late::AskedAgain
    } else {
        Late::HandedOver
    })
}

// ----- answers -----------------------------------------------------------------------------------

/// A borrower's reply on a chat channel, in the callback's transaction: when the borrower has a
/// conversation on that channel, the reply is its answer (screened, and followed by the next
/// question or the end) and `true` is returned; otherwise `false`, and the reply is the
/// callback's to read.
pub(crate) async fn answer_chat(
    tx: &mut Tx,
    borrower: huifang_core::BorrowerId,
    channel: huifang_core::outcome::Channel,
    text: &str,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let Some(flow) = Flow::of_chat(channel) else {
        return Ok(false);
    };
    let Some(s) = tx.active_chat_session(borrower, flow.as_str()).await? else {
        return Ok(false);
    };
    let Held::Talk(b) = held(tx, s.task_id, now).await? else {
        return Ok(false); // the reply is read as any other
    };
    let (mut s, t) = *b;
    let mut c = conversation(&s)?;
    let step = core::hear(&t.script, flow, &t.rules, &mut c, heard(text));
    follow(tx, &t, &mut s, &c, step, now, true).await?;
    Ok(true)
}

/// The telephony provider's IVR webhook: what happened on a call the assistant placed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct IvrEvent {
    /// The provider's id of this event: two events alike within a second are told apart by it
    /// (the same signed body twice is a replay).
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    /// The provider's id of the call (as it answered when the call was placed).
    call: String,
    /// answered, input, timeout (no input), no_answer, hangup.
    event: String,
    #[serde(default)]
    digits: Option<String>,
    #[serde(default)]
    speech: Option<String>,
}

/// Takes the IVR webhook, signed as the channels' callbacks are (a bad signature, a stale
/// timestamp or a replay is refused and changes nothing), and answers with what the IVR says
/// next: the question when the borrower answers the call; after an answer (keypad `digits` or
/// recognised `speech`, read for risk signals) or a `timeout`, the next question, the same one
/// again, or goodbye; an unanswered call or a hang-up before the end leaves the question to be
/// asked again by a later pass, after the wait.
pub async fn ivr(
    store: &Store,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<IvrReplyView, AppError> {
    let mut tx = store.begin().await?;
    let secret = crate::notify::channels_in(&mut tx)
        .await?
        .webhook_secret
        .ok_or_else(|| {
            AppError::Unauthenticated("IVR webhook refused: no webhook secret is configured".into())
        })?;
    crate::notify::verify(&secret, timestamp, signature, body, now)?;
    let event: IvrEvent =
        serde_json::from_slice(body).map_err(|e| AppError::Invalid(format!("IVR event: {e}")))?;
    if !tx.accept_signature(signature.trim(), &stamp(now)).await? {
        return Err(AppError::Unauthenticated(
            "IVR webhook refused: replayed".into(),
        ));
    }
    crate::lock_for_contacts(&mut tx).await?;
    let reply = ivr_in(&mut tx, &event, now).await;
    match reply {
        Ok(r) => {
            tx.commit().await?;
            Ok(r)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

async fn ivr_in(tx: &mut Tx, e: &IvrEvent, now: DateTime<Utc>) -> Result<IvrReplyView, AppError> {
    let m = tx
        .message_by_provider_id("phone", e.call.trim())
        .await?
        .filter(|m| m.message.event == ASSISTANT_EVENT)
        .ok_or_else(|| AppError::NotFound {
            what: "assistant call",
            id: e.call.clone(),
        })?;
    let Some(task_id) = m.message.task_id else {
        return Err(corrupt("assistant call", "it has no task"));
    };
    let heard = match e.event.as_str() {
        "answered" => Said::Hello,
        "no_answer" | "hangup" => Said::Gone,
        "timeout" => Said::Heard(Heard::Silence),
        "input" => {
            let said = e
                .speech
                .as_deref()
                .filter(|t| !t.trim().is_empty())
                .map(heard);
            let pressed = e
                .digits
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| Heard::Answer {
                    text: d.trim().to_string(),
                    signals: Vec::new(),
                });
            Said::Heard(said.or(pressed).ok_or_else(|| {
                AppError::Invalid("input: an input event carries digits or speech".into())
            })?)
        }
        other => {
            return Err(AppError::Invalid(format!(
                "event: {other:?} is not answered, input, timeout, no_answer or hangup"
            )));
        }
    };
    converse(tx, task_id, heard, now).await
}

/// What happened on a voice conversation's call.
pub(crate) enum Said {
    /// The borrower picked up: the question is said.
    Hello,
    /// The call was not answered, or ended before the conversation did: a later pass calls
    /// again after the wait.
    Gone,
    /// An answer, or silence.
    Heard(Heard),
}

/// Moves a voice conversation on (in the caller's transaction) and says what the IVR does next.
pub(crate) async fn converse(
    tx: &mut Tx,
    task_id: TaskId,
    said: Said,
    now: DateTime<Utc>,
) -> Result<IvrReplyView, AppError> {
    let hang_up = |say: &str| IvrReplyView {
        action: "hangup".into(),
        say: say.into(),
    };
    let Held::Talk(b) = held(tx, task_id, now).await? else {
        return Ok(hang_up(GOODBYE));
    };
    let (mut s, t) = *b;
    let (script, flow) = (&t.script, t.flow);
    let mut c = conversation(&s)?;
    let wait = Duration::minutes(i64::from(t.rules.wait_minutes));
    let heard = match said {
        Said::Hello => {
            // the question is said now; the call is live until the wait after the last exchange
            let prompt = core::prompt(script, c.step, flow)
                .ok_or_else(|| corrupt("assistant conversation", "no question left"))?;
            s.next_at = stamp(now + wait);
            tx.save_assistant_session(&s).await?;
            return Ok(IvrReplyView {
                action: "ask".into(),
                say: prompt,
            });
        }
        Said::Gone => {
            s.next_at = stamp(now + wait);
            tx.save_assistant_session(&s).await?;
            return Ok(hang_up(""));
        }
        Said::Heard(h) => h,
    };
    let step = core::hear(script, flow, &t.rules, &mut c, heard);
    follow(tx, &t, &mut s, &c, step, now, false).await
}

// ----- reading -----------------------------------------------------------------------------------

/// One decimal of `n` in `d`, in per cent, rounded half up from the exact fraction.
fn pct(n: i64, d: i64) -> String {
    if d <= 0 {
        return "0.0".into();
    }
    let tenths = (n * 2000 + d) / (2 * d);
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// The conversations by task kind and flow: started, active, completed and handed over (by
/// reason), with the completion and hand-over rates of those ended.
pub async fn report(store: &Store, actor: &Actor) -> Result<Vec<AssistantReportRow>, AppError> {
    actor.require(Role::reads_loans, "read the assistant's report")?;
    let mut tx = store.begin().await?;
    let counts = tx.assistant_counts().await?;
    tx.rollback().await?;
    let mut rows: BTreeMap<(String, String), AssistantReportRow> = BTreeMap::new();
    for (kind, flow, state, reason, n) in counts {
        let row = rows
            .entry((kind.clone(), flow.clone()))
            .or_insert_with(|| AssistantReportRow {
                kind,
                flow,
                started: 0,
                active: 0,
                completed: 0,
                handed_over: 0,
                closed: 0,
                completion_pct: String::new(),
                hand_over_pct: String::new(),
                reasons: BTreeMap::new(),
            });
        row.started += n;
        match SessionState::parse(&state) {
            Some(SessionState::Active) => row.active += n,
            Some(SessionState::Completed) => row.completed += n,
            Some(SessionState::Closed) => row.closed += n,
            Some(SessionState::HandedOver) => {
                row.handed_over += n;
                *row.reasons.entry(reason).or_insert(0) += n;
            }
            None => return Err(corrupt("assistant session state", state)),
        }
    }
    Ok(rows
        .into_values()
        .map(|mut r| {
            let ended = r.completed + r.handed_over;
            r.completion_pct = pct(r.completed, ended);
            r.hand_over_pct = pct(r.handed_over, ended);
            r
        })
        .collect())
}

/// The assistant's conversation on a task: for those who may see the task.
pub async fn session(
    store: &Store,
    actor: &Actor,
    task_id: TaskId,
) -> Result<AssistantSessionView, AppError> {
    let mut tx = store.begin().await?;
    let task = crate::team::load_task(&mut tx, task_id).await?;
    crate::team::authorize_task(&mut tx, actor, &task, huifang_core::team::Access::View).await?;
    let s = tx
        .assistant_session_of_task(task_id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "assistant conversation of task",
            id: task_id.to_string(),
        })?;
    tx.rollback().await?;
    let c = conversation(&s)?;
    Ok(AssistantSessionView {
        task_id: s.task_id.get(),
        kind: s.kind,
        flow: s.flow,
        state: s.state,
        reason: s.reason,
        answers: c.answers.into_iter().collect(),
        transcript: c
            .transcript
            .into_iter()
            .map(|t| TranscriptLineView {
                speaker: t.speaker.as_str().to_string(),
                text: t.text,
            })
            .collect(),
        started_at: s.started_at,
        finished_at: s.finished_at,
        interaction_id: s.interaction_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_half_up_from_the_exact_fraction() {
        assert_eq!(pct(1, 3), "33.3");
        assert_eq!(pct(2, 3), "66.7");
        assert_eq!(pct(1, 8), "12.5");
        assert_eq!(pct(1, 16), "6.3"); // 6.25 → 6.3
        assert_eq!(pct(5, 5), "100.0");
        assert_eq!(pct(0, 0), "0.0");
    }
}

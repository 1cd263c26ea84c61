//! The follow-up assistant (DOMAIN.md capability 11): a welcome call or a repayment reminder
//! handed to a scripted flow instead of an agent. The flow asks the task kind's script, one
//! question at a time, by voice (the telephony provider's IVR: keypad or recognised speech) or by
//! chat (SMS or WeChat: numbered options, free text), and screens each answer by the script's
//! rules: a clean conversation closes the task; a risk answer, a "no", a request for a person, no
//! answer after the asks, or answers it cannot make out hand the task to an agent with the
//! transcript. Which tasks it takes, how often it asks and how long it waits are data.
//!
//! What the borrower says is read for risk signals by the caller (the text reader needs its
//! dictionary); the signals found come in with the answer.

use std::collections::BTreeMap;

use crate::followup::{AnswerType, Question, Script, TaskKind, signals_from_answers};
use crate::outcome::Channel;
use crate::policy::PolicyError;

/// How the assistant talks to the borrower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flow {
    /// A voice call through the telephony provider's IVR.
    Ivr,
    /// Text messages; the borrower's SMS replies are the answers.
    Sms,
    /// WeChat messages; the borrower's replies are the answers.
    Wechat,
}

impl Flow {
    pub const ALL: [Flow; 3] = [Flow::Ivr, Flow::Sms, Flow::Wechat];

    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Ivr => "ivr",
            Flow::Sms => "sms",
            Flow::Wechat => "wechat",
        }
    }

    pub fn parse(s: &str) -> Option<Flow> {
        Flow::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The channel its prompts go by (and the contact rules count).
    pub fn channel(self) -> Channel {
        match self {
            Flow::Ivr => Channel::Phone,
            Flow::Sms => Channel::Sms,
            Flow::Wechat => Channel::Wechat,
        }
    }

    /// The flow that answers on `channel`: the chat flows, by their channel.
    pub fn of_chat(channel: Channel) -> Option<Flow> {
        match channel {
            Channel::Sms => Some(Flow::Sms),
            Channel::Wechat => Some(Flow::Wechat),
            _ => None,
        }
    }
}

/// The task kinds the assistant may take: first contact and reminders.
pub const ASSISTED_KINDS: [TaskKind; 2] = [TaskKind::WelcomeCall, TaskKind::RepaymentReminder];

/// The assistant's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantRules {
    /// The flow each assisted task kind is handed to (a kind absent is left to agents).
    pub flows: BTreeMap<TaskKind, Flow>,
    /// The share of those tasks it takes, in per cent (by task id: the same task always falls
    /// on the same side).
    pub share_pct: u32,
    /// Times a question is asked (a call placed, a message sent, a prompt repeated) without an
    /// answer it can use before the task goes to an agent (3).
    pub asks: u32,
    /// Minutes an answer is waited for before the question is asked again (30).
    pub wait_minutes: u32,
}

impl Default for AssistantRules {
    /// Off: no kind is handed to it until the lender chooses a flow.
    fn default() -> Self {
        AssistantRules {
            flows: BTreeMap::new(),
            share_pct: 100,
            asks: 3,
            wait_minutes: 30,
        }
    }
}

/// The most times a question may be asked.
pub const MAX_ASKS: u32 = 5;
/// The longest wait for an answer that may be set (a day).
pub const MAX_WAIT_MINUTES: u32 = 1440;

impl AssistantRules {
    /// Checks the rules, naming the field at fault.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let refuse = |field: String, reason: String| Err(PolicyError { field, reason });
        for kind in self.flows.keys() {
            if !ASSISTED_KINDS.contains(kind) {
                return refuse(
                    format!("flows.{}", kind.as_str()),
                    "the assistant takes welcome_call and repayment_reminder tasks only".into(),
                );
            }
        }
        if self.share_pct > 100 {
            return refuse(
                "share_pct".into(),
                format!("must be 0 to 100, not {}", self.share_pct),
            );
        }
        if !(1..=MAX_ASKS).contains(&self.asks) {
            return refuse(
                "asks".into(),
                format!("must be 1 to {MAX_ASKS}, not {}", self.asks),
            );
        }
        if !(1..=MAX_WAIT_MINUTES).contains(&self.wait_minutes) {
            return refuse(
                "wait_minutes".into(),
                format!("must be 1 to {MAX_WAIT_MINUTES}, not {}", self.wait_minutes),
            );
        }
        Ok(())
    }

    /// The flow task `task_id` of `kind` is handed to, if the assistant takes it.
    pub fn takes(&self, kind: TaskKind, task_id: i64) -> Option<Flow> {
        let flow = *self.flows.get(&kind)?;
        (task_id.rem_euclid(100) < i64::from(self.share_pct)).then_some(flow)
    }
}

/// Who said a line of the transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    Assistant,
    Borrower,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Assistant => "assistant",
            Speaker::Borrower => "borrower",
        }
    }

    pub fn parse(s: &str) -> Option<Speaker> {
        [Speaker::Assistant, Speaker::Borrower]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub speaker: Speaker,
    pub text: String,
}

/// Where a conversation stands: the question being asked, how often it was asked, the answers
/// so far (question id, answer as the script reads it: yes/no, an option's code, a number,
/// text) and what was said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversation {
    pub step: usize,
    pub asks: u32,
    pub answers: Vec<(String, String)>,
    pub transcript: Vec<Turn>,
}

/// What the assistant heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An answer: a chat reply, recognised speech or keypad digits, with the risk signals the
    /// text reader found in it (kind, value).
    Answer {
        text: String,
        signals: Vec<(String, String)>,
    },
    /// Nothing within the wait, an unanswered call, or a call hung up before the end.
    Silence,
}

/// Why a task goes to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOver {
    /// An answer raised risk signals (kind, value): the script's or the text reader's.
    Risk(Vec<(String, String)>),
    /// An answer that needs a person although it raises no signal (a "no").
    Answer { question: String, answer: String },
    /// The borrower asked for a person.
    Person,
    /// No answer after the asks.
    NoAnswer,
    /// Answers it could not make out, as many times as it asks.
    Unclear,
}

impl HandOver {
    /// The reason as stored and reported.
    pub fn reason(&self) -> &'static str {
        match self {
            HandOver::Risk(_) => "risk",
            HandOver::Answer { .. } => "answer",
            HandOver::Person => "person",
            HandOver::NoAnswer => "no_answer",
            HandOver::Unclear => "unclear",
        }
    }
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// The assistant holds the task and waits for an answer.
    Active,
    /// Every question answered cleanly: the task done.
    Completed,
    /// The task went to an agent (for one of [`HAND_OVER_REASONS`]).
    HandedOver,
    /// The task was closed or reassigned while the assistant held it: nothing recorded.
    Closed,
}

impl SessionState {
    pub const ALL: [SessionState; 4] = [
        SessionState::Active,
        SessionState::Completed,
        SessionState::HandedOver,
        SessionState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Active => "active",
            SessionState::Completed => "completed",
            SessionState::HandedOver => "handed_over",
            SessionState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<SessionState> {
        SessionState::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Whether the assistant may go on with a conversation whose task is open (`task_open`) and
/// assigned to it (`held`): `None`, or why the conversation ends as closed (`task_closed`: the
/// close cancelled it, its loan paid off …; `reassigned`: a team lead gave it to an agent).
pub fn closed_reason(task_open: bool, held: bool) -> Option<&'static str> {
    match (task_open, held) {
        (true, true) => None,
        (true, false) => Some("reassigned"),
        (false, _) => Some("task_closed"),
    }
}

/// The reason a task is handed over when a contact rule refused the flow's prompt.
pub const BLOCKED: &str = "blocked";

/// The reasons a task is handed over, as stored: [`HandOver::reason`]'s and [`BLOCKED`].
pub const HAND_OVER_REASONS: [&str; 6] =
    ["risk", "answer", "person", "no_answer", "unclear", BLOCKED];

/// What the assistant does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Say this prompt and wait for the answer.
    Ask(String),
    /// Every question answered cleanly: the task is done.
    Complete,
    /// The task goes to an agent.
    HandOver(HandOver),
}

fn options_text(q: &Question, flow: Flow) -> String {
    let press = |n: usize, label: &str| match flow {
        Flow::Ivr => format!("{label}请按{n}"),
        _ => format!("{n} {label}"),
    };
    let listed: Vec<String> = match &q.answer {
        AnswerType::YesNo => vec![press(1, "是"), press(2, "否")],
        AnswerType::Choice(options) => options
            .iter()
            .enumerate()
            .map(|(i, o)| press(i + 1, &o.label))
            .collect(),
        AnswerType::Number => vec!["请说出或回复数字".into()],
        AnswerType::Money => vec!["请说出或回复金额（元）".into()],
        AnswerType::Date => vec!["请说出或回复日期（如 2026-06-15）".into()],
        AnswerType::Text => vec!["请直接说明".into()],
    };
    let person = match flow {
        Flow::Ivr => "转人工请按0".to_string(),
        _ => "回复 0 转人工".to_string(),
    };
    match &q.answer {
        AnswerType::YesNo | AnswerType::Choice(_) if flow != Flow::Ivr => {
            format!("请回复：{}；{person}。", listed.join("，"))
        }
        _ => format!("{}；{person}。", listed.join("，")),
    }
}

/// The prompt of question `step` of the script, numbered, with how to answer it on the flow.
pub fn prompt(script: &Script, step: usize, flow: Flow) -> Option<String> {
    let q = script.questions.get(step)?;
    let intro = if step == 0 {
        "您好，这里是贷后回访。"
    } else {
        ""
    };
    Some(format!(
        "{intro}（{}/{}）{} {}",
        step + 1,
        script.questions.len(),
        q.text.trim(),
        options_text(q, flow)
    ))
}

/// The conversation's first step: its first question.
pub fn start(script: &Script, flow: Flow) -> (Conversation, Step) {
    let mut c = Conversation::default();
    let step = ask(script, flow, &mut c);
    (c, step)
}

fn ask(script: &Script, flow: Flow, c: &mut Conversation) -> Step {
    match prompt(script, c.step, flow) {
        Some(p) => {
            c.asks += 1;
            c.transcript.push(Turn {
                speaker: Speaker::Assistant,
                text: p.clone(),
            });
            Step::Ask(p)
        }
        None => Step::Complete,
    }
}

/// The question being asked again, or the hand-over when it was asked as often as the rules
/// allow (`why`).
fn again(
    script: &Script,
    flow: Flow,
    rules: &AssistantRules,
    c: &mut Conversation,
    why: HandOver,
) -> Step {
    if c.asks >= rules.asks {
        return Step::HandOver(why);
    }
    ask(script, flow, c)
}

/// Whether an answer asks for a person: "0", or words for an agent or a human.
pub fn asks_for_person(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    t == "0"
        || [
            "人工", "客服", "真人", "坐席", "找人", "agent", "person", "human",
        ]
        .iter()
        .any(|w| t.contains(w))
}

fn trimmed(text: &str) -> String {
    text.trim()
        .trim_matches(|c: char| ".,!?;:~\"'。！，？、～；：".contains(c))
        .trim()
        .to_lowercase()
}

/// A yes or a no in a short answer: 1 / 2, 是 / 否, 对 / 不对, 有 / 没有, yes / no …; a
/// negation decides (不是, 没有, 未 are no).
pub fn yes_or_no(text: &str) -> Option<bool> {
    let t = trimmed(text);
    match t.as_str() {
        "1" | "y" | "yes" | "ok" => return Some(true),
        "2" | "n" | "no" => return Some(false),
        _ => {}
    }
    if t.is_empty() || t.chars().count() > 20 {
        return None;
    }
    if t == "无" || ["不", "没", "否", "未", "no"].iter().any(|w| t.contains(w)) {
        return Some(false);
    }
    if [
        "是", "对", "好", "嗯", "有", "已", "收到", "知道", "清楚", "可以", "能", "会", "yes",
    ]
    .iter()
    .any(|w| t.contains(w))
    {
        return Some(true);
    }
    None
}

/// The answer to question `q` the script reads (yes/no, an option's code, a number, text), if
/// it can be made out.
pub fn understand(q: &Question, text: &str) -> Option<String> {
    let t = trimmed(text);
    match &q.answer {
        AnswerType::YesNo => yes_or_no(text).map(|y| if y { "yes" } else { "no" }.to_string()),
        AnswerType::Choice(options) => {
            if let Ok(n) = t.parse::<usize>() {
                return options.get(n.checked_sub(1)?).map(|o| o.code.clone());
            }
            options
                .iter()
                .find(|o| t == o.code || t == o.label.to_lowercase())
                .or_else(|| {
                    options
                        .iter()
                        .find(|o| !o.label.is_empty() && t.contains(&o.label.to_lowercase()))
                })
                .map(|o| o.code.clone())
        }
        AnswerType::Number => {
            let negative = ["下降", "减少", "少了", "降了"]
                .iter()
                .any(|w| t.contains(w));
            let digits: String = t
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            let n: i64 = digits.parse().ok()?;
            Some(if negative && n > 0 { -n } else { n }.to_string())
        }
        AnswerType::Money => crate::Money::parse(&t).ok().map(|m| m.to_string()),
        AnswerType::Date => crate::calendar::parse_date(&t).map(|d| d.to_string()),
        AnswerType::Text => (!t.is_empty()).then(|| text.trim().to_string()),
    }
}

/// Screens what was heard to the question being asked and says what comes next: the next
/// question, the same question again (silence or an answer it cannot make out, until the asks
/// run out), the task done (the last question answered cleanly), or the hand-over. An answer is
/// clean when it raises no signal by the script (its options, its "no" signals, its number
/// thresholds) nor by the text reader, and is not a "no": a borrower who says no to a welcome
/// call's question needs a person.
pub fn hear(
    script: &Script,
    flow: Flow,
    rules: &AssistantRules,
    c: &mut Conversation,
    heard: Heard,
) -> Step {
    let Some(q) = script.questions.get(c.step) else {
        return Step::Complete;
    };
    let (text, mut signals) = match heard {
        Heard::Silence => return again(script, flow, rules, c, HandOver::NoAnswer),
        Heard::Answer { text, signals } => (text, signals),
    };
    c.transcript.push(Turn {
        speaker: Speaker::Borrower,
        text: text.trim().to_string(),
    });
    if asks_for_person(&text) {
        return Step::HandOver(HandOver::Person);
    }
    let Some(answer) = understand(q, &text) else {
        if !signals.is_empty() {
            return Step::HandOver(HandOver::Risk(signals));
        }
        return again(script, flow, rules, c, HandOver::Unclear);
    };
    c.answers.push((q.id.clone(), answer.clone()));
    for s in signals_from_answers(script, &[(q.id.clone(), answer.clone())]) {
        if !signals.iter().any(|(k, _)| *k == s.0) {
            signals.push(s);
        }
    }
    if !signals.is_empty() {
        return Step::HandOver(HandOver::Risk(signals));
    }
    if q.answer == AnswerType::YesNo && answer == "no" {
        return Step::HandOver(HandOver::Answer {
            question: q.id.clone(),
            answer,
        });
    }
    c.step += 1;
    c.asks = 0;
    ask(script, flow, c)
}

/// The transcript as an agent reads it, one line per turn ("助手：…" / "借款人：…").
pub fn transcript_text(transcript: &[Turn]) -> String {
    transcript
        .iter()
        .map(|t| {
            let who = match t.speaker {
                Speaker::Assistant => "助手",
                Speaker::Borrower => "借款人",
            };
            format!("{who}：{}", t.text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followup::default_script;

    fn rules() -> AssistantRules {
        AssistantRules {
            flows: [
                (TaskKind::WelcomeCall, Flow::Ivr),
                (TaskKind::RepaymentReminder, Flow::Sms),
            ]
            .into(),
            ..AssistantRules::default()
        }
    }

    fn say(text: &str) -> Heard {
        Heard::Answer {
            text: text.into(),
            signals: Vec::new(),
        }
    }

    #[test]
    fn a_clean_welcome_call_completes_after_every_question() {
        let s = default_script(TaskKind::WelcomeCall, "zh");
        let r = rules();
        let (mut c, first) = start(&s, Flow::Ivr);
        assert!(matches!(first, Step::Ask(p) if p.contains("（1/6）") && p.contains("是请按1")));
        let answers = ["1", "是的", "对", "嗯，确认了", "知道", "1"];
        for (i, a) in answers.iter().enumerate() {
            let step = hear(&s, Flow::Ivr, &r, &mut c, say(a));
            if i + 1 < answers.len() {
                assert!(matches!(step, Step::Ask(_)), "{i}: {step:?}");
            } else {
                assert_eq!(step, Step::Complete);
            }
        }
        assert_eq!(c.answers.len(), 6);
        assert!(c.answers.iter().all(|(_, a)| a == "yes"));
        assert_eq!(c.transcript.len(), 12);
        assert!(transcript_text(&c.transcript).starts_with("助手：您好"));
    }

    #[test]
    fn a_no_that_raises_a_signal_hands_over_as_risk_and_a_plain_no_as_an_answer() {
        let s = default_script(TaskKind::WelcomeCall, "zh");
        let r = rules();
        let (mut c, _) = start(&s, Flow::Sms);
        assert_eq!(
            hear(&s, Flow::Sms, &r, &mut c, say("没有")),
            Step::HandOver(HandOver::Risk(vec![(
                "funds_not_at_dealer".into(),
                "funds_reached_dealer=no".into()
            )]))
        );
        let s = default_script(TaskKind::RepaymentReminder, "zh");
        let (mut c, _) = start(&s, Flow::Sms);
        assert!(matches!(
            hear(&s, Flow::Sms, &r, &mut c, say("1")),
            Step::Ask(_)
        ));
        assert_eq!(
            hear(&s, Flow::Sms, &r, &mut c, say("不能")),
            Step::HandOver(HandOver::Answer {
                question: "will_pay_on_time".into(),
                answer: "no".into()
            })
        );
    }

    #[test]
    fn the_text_readers_signals_hand_over_even_on_a_yes() {
        let s = default_script(TaskKind::RepaymentReminder, "zh");
        let (mut c, _) = start(&s, Flow::Sms);
        let step = hear(
            &s,
            Flow::Sms,
            &rules(),
            &mut c,
            Heard::Answer {
                text: "知道，但是我失业了".into(),
                signals: vec![("job_loss".into(), "失业".into())],
            },
        );
        assert_eq!(
            step,
            Step::HandOver(HandOver::Risk(vec![("job_loss".into(), "失业".into())]))
        );
    }

    #[test]
    fn silence_and_unclear_answers_ask_again_until_the_asks_run_out() {
        let s = default_script(TaskKind::RepaymentReminder, "zh");
        let r = rules(); // 3 asks
        let (mut c, _) = start(&s, Flow::Sms);
        assert!(matches!(
            hear(&s, Flow::Sms, &r, &mut c, Heard::Silence),
            Step::Ask(_)
        ));
        assert!(matches!(
            hear(&s, Flow::Sms, &r, &mut c, say("？？")),
            Step::Ask(_)
        ));
        assert_eq!(
            hear(&s, Flow::Sms, &r, &mut c, Heard::Silence),
            Step::HandOver(HandOver::NoAnswer)
        );
        let (mut c, _) = start(&s, Flow::Sms);
        hear(&s, Flow::Sms, &r, &mut c, say("1")); // next question: asks start again
        assert_eq!(c.asks, 1);
        hear(&s, Flow::Sms, &r, &mut c, say("什么意思"));
        hear(&s, Flow::Sms, &r, &mut c, say("啥"));
        assert_eq!(
            hear(&s, Flow::Sms, &r, &mut c, say("啊？")),
            Step::HandOver(HandOver::Unclear)
        );
    }

    #[test]
    fn a_request_for_a_person_hands_over_at_once() {
        let s = default_script(TaskKind::WelcomeCall, "zh");
        for a in ["0", "转人工", "我要找客服", "agent please"] {
            let (mut c, _) = start(&s, Flow::Wechat);
            assert_eq!(
                hear(&s, Flow::Wechat, &rules(), &mut c, say(a)),
                Step::HandOver(HandOver::Person),
                "{a}"
            );
        }
    }

    #[test]
    fn a_conversation_goes_on_only_while_its_task_is_open_and_held() {
        assert_eq!(closed_reason(true, true), None);
        assert_eq!(closed_reason(true, false), Some("reassigned"));
        assert_eq!(closed_reason(false, true), Some("task_closed"));
        for s in SessionState::ALL {
            assert_eq!(SessionState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn answers_are_made_out_by_type() {
        let s = default_script(TaskKind::InitialFollowUp, "zh");
        let q = |id: &str| s.questions.iter().find(|q| q.id == id).unwrap();
        assert_eq!(understand(q("vehicle_use"), "5"), Some("sold".into()));
        assert_eq!(understand(q("vehicle_use"), "已出售"), Some("sold".into()));
        assert_eq!(understand(q("vehicle_use"), "9"), None);
        assert_eq!(
            understand(q("income_change_pct"), "下降40%"),
            Some("-40".into())
        );
        assert_eq!(
            understand(q("income_change_pct"), "-10"),
            Some("-10".into())
        );
        assert_eq!(understand(q("income_change_pct"), "不知道"), None);
        for (t, want) in [
            ("是", Some(true)),
            ("不是", Some(false)),
            ("没有", Some(false)),
            ("还没到", Some(false)),
            ("2", Some(false)),
            ("YES", Some(true)),
            ("已经交车了", Some(true)),
            ("？", None),
        ] {
            assert_eq!(yes_or_no(t), want, "{t}");
        }
    }

    #[test]
    fn the_share_and_the_kinds_decide_which_tasks_it_takes() {
        let mut r = rules();
        assert_eq!(r.takes(TaskKind::WelcomeCall, 7), Some(Flow::Ivr));
        assert_eq!(r.takes(TaskKind::CollectionCall, 7), None);
        r.share_pct = 30;
        let taken = (1..=1000)
            .filter(|id| r.takes(TaskKind::RepaymentReminder, *id).is_some())
            .count();
        assert_eq!(taken, 300);
        assert!(r.validate().is_ok());
        r.flows.insert(TaskKind::CollectionCall, Flow::Sms);
        assert_eq!(r.validate().unwrap_err().field, "flows.collection_call");
        let r = AssistantRules { asks: 0, ..rules() };
        assert_eq!(r.validate().unwrap_err().field, "asks");
        let r = AssistantRules {
            wait_minutes: 5000,
            ..rules()
        };
        assert_eq!(r.validate().unwrap_err().field, "wait_minutes");
        assert_eq!(
            AssistantRules::default().takes(TaskKind::WelcomeCall, 1),
            None
        );
    }
}

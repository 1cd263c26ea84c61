//! Working a follow-up task (DOMAIN.md capabilities 4 and 5): the channels and outcomes of an
//! interaction, their validation, the risk signals an outcome and its structured script answers
//! raise, the task's next state, and the assignment strategies of a queue.
//!
//! Pure: the business date, the answers and the candidates are arguments.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::calendar::add_days;
use crate::warning::SignalKind;
use crate::{Date, Money, TaskId, UserId};

/// How the borrower was contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Phone,
    Sms,
    Email,
    Wechat,
    Visit,
}

impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Phone,
        Channel::Sms,
        Channel::Email,
        Channel::Wechat,
        Channel::Visit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Wechat => "wechat",
            Channel::Visit => "visit",
        }
    }
}

impl FromStr for Channel {
    type Err = OutcomeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| OutcomeError::Unknown {
                what: "channel",
                value: s.to_string(),
                expected: "phone, sms, email, wechat, visit",
            })
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The borrower's job as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Unchanged,
    Changed,
    Lost,
    BusinessTrouble,
    /// Out of work with no income at all.
    UnemployedNoIncome,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Unchanged,
        JobStatus::Changed,
        JobStatus::Lost,
        JobStatus::BusinessTrouble,
        JobStatus::UnemployedNoIncome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Unchanged => "unchanged",
            JobStatus::Changed => "changed",
            JobStatus::Lost => "lost",
            JobStatus::BusinessTrouble => "business_trouble",
            JobStatus::UnemployedNoIncome => "unemployed_no_income",
        }
    }
}

impl FromStr for JobStatus {
    type Err = OutcomeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| OutcomeError::Unknown {
                what: "job status",
                value: s.to_string(),
                expected: "unchanged, changed, lost, business_trouble, unemployed_no_income",
            })
    }
}

/// How the financed vehicle is used, or what happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VehicleUse {
    UsedBySelf,
    Family,
    Commercial,
    LentOut,
    Sold,
    Pledged,
    Lost,
}

impl VehicleUse {
    pub const ALL: [VehicleUse; 7] = [
        VehicleUse::UsedBySelf,
        VehicleUse::Family,
        VehicleUse::Commercial,
        VehicleUse::LentOut,
        VehicleUse::Sold,
        VehicleUse::Pledged,
        VehicleUse::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VehicleUse::UsedBySelf => "used_by_self",
            VehicleUse::Family => "family",
            VehicleUse::Commercial => "commercial",
            VehicleUse::LentOut => "lent_out",
            VehicleUse::Sold => "sold",
            VehicleUse::Pledged => "pledged",
            VehicleUse::Lost => "lost",
        }
    }
}

impl FromStr for VehicleUse {
    type Err = OutcomeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = if s == "self" { "used_by_self" } else { s };
        VehicleUse::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| OutcomeError::Unknown {
                what: "vehicle status",
                value: s.to_string(),
                expected: "used_by_self, family, commercial, lent_out, sold, pledged, lost",
            })
    }
}

/// What came of one contact attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Reached,
    NoAnswer,
    WrongNumber,
    Refused,
    PromiseToPay {
        amount: Money,
        date: Date,
    },
    Dispute,
    HardshipReported {
        income_change_pct: i32,
        job_status: JobStatus,
    },
    VehicleStatus(VehicleUse),
}

/// The outcome kinds, as stored.
pub const OUTCOME_KINDS: [&str; 8] = [
    "reached",
    "no_answer",
    "wrong_number",
    "refused",
    "promise_to_pay",
    "dispute",
    "hardship_reported",
    "vehicle_status",
];

/// An outcome or an answer that cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutcomeError {
    #[error("unknown {what} {value:?} (expected one of {expected})")]
    Unknown {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{0} is missing for this outcome")]
    Missing(&'static str),
    #[error("a promise to pay needs an amount above zero, got {0}")]
    PromiseAmount(Money),
    #[error("a promise to pay cannot be dated {date}, before the business date {business_date}")]
    PromiseDate { date: Date, business_date: Date },
    #[error("income change {0}% is outside -100..=1000")]
    IncomeChange(i32),
}

impl OutcomeError {
    /// The field of a recorded outcome the error is about (`amount`, `date`,
    /// `income_change_pct`, `job_status`, `vehicle_status`, or `outcome` itself).
    pub fn field(&self) -> &'static str {
        match self {
            OutcomeError::Missing("amount") | OutcomeError::PromiseAmount(_) => "amount",
            OutcomeError::Missing("date") | OutcomeError::PromiseDate { .. } => "date",
            OutcomeError::Missing("income change %") | OutcomeError::IncomeChange(_) => {
                "income_change_pct"
            }
            OutcomeError::Missing("job status") => "job_status",
            OutcomeError::Missing("vehicle status") => "vehicle_status",
            OutcomeError::Missing(_) | OutcomeError::Unknown { .. } => "outcome",
        }
    }
}

impl Outcome {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Reached => "reached",
            Outcome::NoAnswer => "no_answer",
            Outcome::WrongNumber => "wrong_number",
            Outcome::Refused => "refused",
            Outcome::PromiseToPay { .. } => "promise_to_pay",
            Outcome::Dispute => "dispute",
            Outcome::HardshipReported { .. } => "hardship_reported",
            Outcome::VehicleStatus(_) => "vehicle_status",
        }
    }

    /// Builds an outcome from its kind and optional details, validating them on `business_date`.
    pub fn build(
        kind: &str,
        amount: Option<Money>,
        date: Option<Date>,
        income_change_pct: Option<i32>,
        job_status: Option<JobStatus>,
        vehicle: Option<VehicleUse>,
        business_date: Date,
    ) -> Result<Outcome, OutcomeError> {
        let outcome = match kind {
            "reached" => Outcome::Reached,
            "no_answer" => Outcome::NoAnswer,
            "wrong_number" => Outcome::WrongNumber,
            "refused" => Outcome::Refused,
            "dispute" => Outcome::Dispute,
            "promise_to_pay" => Outcome::PromiseToPay {
                amount: amount.ok_or(OutcomeError::Missing("amount"))?,
                date: date.ok_or(OutcomeError::Missing("date"))?,
            },
            "hardship_reported" => Outcome::HardshipReported {
                income_change_pct: income_change_pct
                    .ok_or(OutcomeError::Missing("income change %"))?,
                job_status: job_status.ok_or(OutcomeError::Missing("job status"))?,
            },
            "vehicle_status" => {
                Outcome::VehicleStatus(vehicle.ok_or(OutcomeError::Missing("vehicle status"))?)
            }
            other => {
                return Err(OutcomeError::Unknown {
                    what: "outcome",
                    value: other.to_string(),
                    expected: "reached, no_answer, wrong_number, refused, promise_to_pay, dispute, hardship_reported, vehicle_status",
                });
            }
        };
        outcome.validate(business_date)?;
        Ok(outcome)
    }

    /// Checks the details: a promise is above zero and not dated before the business date; an
    /// income change lies in -100..=+1000 %.
    pub fn validate(&self, business_date: Date) -> Result<(), OutcomeError> {
        match *self {
            Outcome::PromiseToPay { amount, date } => {
                if !amount.is_positive() {
                    return Err(OutcomeError::PromiseAmount(amount));
                }
                if date < business_date {
                    return Err(OutcomeError::PromiseDate {
                        date,
                        business_date,
                    });
                }
            }
            Outcome::HardshipReported {
                income_change_pct, ..
            } if !(-100..=1000).contains(&income_change_pct) => {
                return Err(OutcomeError::IncomeChange(income_change_pct));
            }
            _ => {}
        }
        Ok(())
    }

    /// The borrower could not be reached by this attempt.
    pub fn is_unreachable(&self) -> bool {
        !reaches(self.kind())
    }
}

/// The stored outcome kinds of a contact that reached nobody, or not the person called for.
pub const NOT_REACHED: [&str; 2] = ["no_answer", "wrong_number"];

/// Whether a contact with this stored outcome kind reached the borrower (every outcome but
/// [`NOT_REACHED`]).
pub fn reaches(kind: &str) -> bool {
    !NOT_REACHED.contains(&kind)
}

/// [`NOT_REACHED`] as an SQL list of literals (`'no_answer', 'wrong_number'`), for a statement
/// that counts the contacts that reached someone.
pub fn not_reached_sql() -> String {
    NOT_REACHED.map(|o| format!("'{o}'")).join(", ")
}

/// A risk signal for the warning rules: a kind and a short value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub kind: SignalKind,
    pub value: String,
}

fn signal(kind: SignalKind, value: impl Into<String>) -> Signal {
    Signal {
        kind,
        value: value.into(),
    }
}

/// A life event reported in a follow-up (`life_event` answer), each a signal of its own.
pub const LIFE_EVENTS: [SignalKind; 4] = [
    SignalKind::Bankruptcy,
    SignalKind::Death,
    SignalKind::SeriousIllness,
    SignalKind::Imprisonment,
];

/// Structured script answers: question id → answer text. Questions whose answers become signals:
/// `vehicle_use` (a [`VehicleUse`]), `income_change_pct` (an integer %: any fall is an
/// `income_drop` signal, which the warning rules weigh), `job_status` (a [`JobStatus`]),
/// `hardship` (`yes`/`no`), `life_event` (one of [`LIFE_EVENTS`], or `none`). Other questions
/// are kept but raise nothing.
pub type Answers = BTreeMap<String, String>;

/// The risk signals an outcome and its answers raise. `attempts_after` is the task's attempt
/// count including this one (used for `unreachable`).
pub fn signals(
    outcome: &Outcome,
    answers: &Answers,
    attempts_after: u32,
) -> Result<Vec<Signal>, OutcomeError> {
    let mut out = Vec::new();
    let mut income: Option<i32> = None;
    let mut job: Option<JobStatus> = None;
    let mut vehicle: Option<VehicleUse> = None;
    let mut hardship = false;
    match *outcome {
        Outcome::HardshipReported {
            income_change_pct,
            job_status,
        } => {
            hardship = true;
            income = Some(income_change_pct);
            job = Some(job_status);
        }
        Outcome::VehicleStatus(v) => vehicle = Some(v),
        Outcome::NoAnswer | Outcome::WrongNumber => {
            out.push(signal(
                SignalKind::Unreachable,
                format!("{}:{attempts_after}", outcome.kind()),
            ));
        }
        _ => {}
    }
    if let Some(text) = answers.get("income_change_pct").filter(|t| !t.is_empty()) {
        let pct: i32 = text.trim().parse().map_err(|_| OutcomeError::Unknown {
            what: "income change %",
            value: text.clone(),
            expected: "an integer in -100..=1000",
        })?;
        if !(-100..=1000).contains(&pct) {
            return Err(OutcomeError::IncomeChange(pct));
        }
        income = income.or(Some(pct));
    }
    if let Some(text) = answers.get("job_status").filter(|t| !t.is_empty()) {
        job = job.or(Some(text.parse()?));
    }
    if let Some(text) = answers.get("vehicle_use").filter(|t| !t.is_empty()) {
        vehicle = vehicle.or(Some(text.parse()?));
    }
    if answers
        .get("hardship")
        .is_some_and(|a| matches!(a.as_str(), "yes" | "true" | "是"))
    {
        hardship = true;
    }
    if hardship {
        out.push(signal(SignalKind::Hardship, ""));
    }
    if let Some(pct) = income.filter(|p| *p < 0) {
        out.push(signal(SignalKind::IncomeDrop, pct.to_string()));
    }
    match job {
        Some(JobStatus::Lost) => out.push(signal(SignalKind::JobLoss, "")),
        Some(JobStatus::BusinessTrouble) => out.push(signal(SignalKind::BusinessTrouble, "")),
        Some(JobStatus::UnemployedNoIncome) => {
            out.push(signal(SignalKind::UnemployedNoIncome, ""));
        }
        _ => {}
    }
    match vehicle {
        Some(VehicleUse::Sold) => out.push(signal(SignalKind::VehicleSold, "")),
        Some(VehicleUse::Pledged) => out.push(signal(SignalKind::VehiclePledged, "")),
        Some(VehicleUse::Lost) => out.push(signal(SignalKind::VehicleLost, "")),
        _ => {}
    }
    if let Some(text) = answers
        .get("life_event")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty() && *t != "none")
    {
        let kind = LIFE_EVENTS
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| OutcomeError::Unknown {
                what: "life event",
                value: text.to_string(),
                expected: "bankruptcy, death, serious_illness, imprisonment, none",
            })?;
        out.push(signal(kind, ""));
    }
    Ok(out)
}

/// What happens to the task after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The task is done.
    Done,
    /// Not reached: try again on `due_on`, with `attempts` recorded so far.
    Reschedule { attempts: u32, due_on: Date },
    /// Not reached `attempts` times, the limit: the task fails and escalates.
    FailAndEscalate { attempts: u32 },
}

/// Days between two attempts to reach a borrower.
pub const RETRY_DAYS: i64 = 1;

/// The task's next state after `outcome`, given its attempts so far and its limit.
pub fn next_state(
    outcome: &Outcome,
    attempts: u32,
    max_attempts: u32,
    business_date: Date,
) -> Transition {
    if !outcome.is_unreachable() {
        return Transition::Done;
    }
    let attempts = attempts.saturating_add(1);
    if attempts >= max_attempts.max(1) {
        Transition::FailAndEscalate { attempts }
    } else {
        Transition::Reschedule {
            attempts,
            due_on: add_days(business_date, RETRY_DAYS),
        }
    }
}

/// The queue an unreachable task escalates to. The same queue means: to the team lead.
pub fn escalation_queue(queue_code: &str) -> &str {
    match queue_code {
        "reminders" => "early_collection",
        "early_collection" => "senior_collection",
        "senior_collection" => "field_visit",
        "field_visit" => "legal",
        other => other,
    }
}

/// The task kind of an escalation.
pub const ESCALATION_KIND: &str = "escalation";

/// The reason key of the escalation of task `task_id` (one escalation per task, ever).
pub fn escalation_reason(task_id: TaskId) -> String {
    format!("escalate_unreachable:{task_id}")
}

// ----- assignment ---------------------------------------------------------------------------

/// A queue's assignment strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    RoundRobin,
    LeastLoaded,
    Sticky,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
        Strategy::Sticky,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
            Strategy::Sticky => "sticky",
        }
    }
}

impl FromStr for Strategy {
    type Err = OutcomeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "round_robin" => Ok(Strategy::RoundRobin),
            "least_loaded" => Ok(Strategy::LeastLoaded),
            "sticky" => Ok(Strategy::Sticky),
            other => Err(OutcomeError::Unknown {
                what: "strategy",
                value: other.to_string(),
                expected: "round_robin, least_loaded, sticky",
            }),
        }
    }
}

/// An agent who may take a task of the queue (same team, has the skill, active), with the
/// number of open tasks assigned to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: UserId,
    pub open_tasks: u32,
}

/// Round-robin: the first candidate (by id) after the last one served (`cursor`), wrapping.
/// Returns the agent, who is the new cursor.
pub fn round_robin(candidates: &[Candidate], cursor: i64) -> Option<UserId> {
    let mut ids: Vec<UserId> = candidates.iter().map(|c| c.user_id).collect();
    ids.sort_unstable();
    ids.iter()
        .copied()
        .find(|id| id.get() > cursor)
        .or_else(|| ids.first().copied())
}

/// Least-loaded: the candidate with the fewest open tasks; ties go to the lowest id.
pub fn least_loaded(candidates: &[Candidate]) -> Option<UserId> {
    candidates
        .iter()
        .min_by_key(|c| (c.open_tasks, c.user_id))
        .map(|c| c.user_id)
}

/// Sticky: the borrower's previous agent while still a candidate, else least-loaded.
pub fn sticky(candidates: &[Candidate], previous: Option<UserId>) -> Option<UserId> {
    previous
        .filter(|p| candidates.iter().any(|c| c.user_id == *p))
        .or_else(|| least_loaded(candidates))
}

/// The agent a task goes to under `strategy`.
pub fn assign(
    strategy: Strategy,
    candidates: &[Candidate],
    cursor: i64,
    previous: Option<UserId>,
) -> Option<UserId> {
    match strategy {
        Strategy::RoundRobin => round_robin(candidates, cursor),
        Strategy::LeastLoaded => least_loaded(candidates),
        Strategy::Sticky => sticky(candidates, previous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_date;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    fn c(user_id: i64, open_tasks: u32) -> Candidate {
        Candidate {
            user_id: UserId(user_id),
            open_tasks,
        }
    }

    #[test]
    fn promise_is_validated() {
        let bd = d("2026-11-28");
        let ok = Outcome::build(
            "promise_to_pay",
            Some(Money::from_fen(300_000)),
            Some(bd),
            None,
            None,
            None,
            bd,
        );
        assert!(ok.is_ok());
        let zero = Outcome::build(
            "promise_to_pay",
            Some(Money::from_fen(0)),
            Some(bd),
            None,
            None,
            None,
            bd,
        );
        assert_eq!(zero, Err(OutcomeError::PromiseAmount(Money::from_fen(0))));
        let past = Outcome::build(
            "promise_to_pay",
            Some(Money::from_fen(1)),
            Some(d("2026-11-27")),
            None,
            None,
            None,
            bd,
        );
        assert!(matches!(past, Err(OutcomeError::PromiseDate { .. })));
        let missing = Outcome::build("promise_to_pay", None, Some(bd), None, None, None, bd);
        assert_eq!(missing, Err(OutcomeError::Missing("amount")));
        assert_eq!(OutcomeError::Missing("amount").field(), "amount");
        assert_eq!(
            OutcomeError::IncomeChange(2000).field(),
            "income_change_pct"
        );
        assert!(Outcome::build("maybe", None, None, None, None, None, bd).is_err());
    }

    #[test]
    fn income_change_is_bounded() {
        let bd = d("2026-11-28");
        for (pct, ok) in [(-101, false), (-100, true), (1000, true), (1001, false)] {
            let r = Outcome::build(
                "hardship_reported",
                None,
                None,
                Some(pct),
                Some(JobStatus::Changed),
                None,
                bd,
            );
            assert_eq!(r.is_ok(), ok, "{pct}");
        }
    }

    #[test]
    fn outcomes_and_answers_become_signals() {
        let none = Answers::new();
        let kinds = |s: Vec<Signal>| s.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>();
        let hardship = Outcome::HardshipReported {
            income_change_pct: -40,
            job_status: JobStatus::Lost,
        };
        assert_eq!(
            kinds(signals(&hardship, &none, 0).unwrap()),
            ["hardship", "income_drop", "job_loss"]
        );
        let mild = Outcome::HardshipReported {
            income_change_pct: -29,
            job_status: JobStatus::BusinessTrouble,
        };
        // Any fall in income is a signal: the warning rules weigh how large it is.
        assert_eq!(
            kinds(signals(&mild, &none, 0).unwrap()),
            ["hardship", "income_drop", "business_trouble"]
        );
        let unemployed = Outcome::HardshipReported {
            income_change_pct: 0,
            job_status: JobStatus::UnemployedNoIncome,
        };
        assert_eq!(
            kinds(signals(&unemployed, &none, 0).unwrap()),
            ["hardship", "unemployed_no_income"]
        );
        for (v, k) in [
            (VehicleUse::Sold, Some("vehicle_sold")),
            (VehicleUse::Pledged, Some("vehicle_pledged")),
            (VehicleUse::Lost, Some("vehicle_lost")),
            (VehicleUse::Family, None),
        ] {
            let s = kinds(signals(&Outcome::VehicleStatus(v), &none, 0).unwrap());
            assert_eq!(s, k.into_iter().collect::<Vec<_>>());
        }
        let mut answers = Answers::new();
        answers.insert("vehicle_use".into(), "pledged".into());
        answers.insert("income_change_pct".into(), "-30".into());
        answers.insert("job_status".into(), "unchanged".into());
        assert_eq!(
            kinds(signals(&Outcome::Reached, &answers, 0).unwrap()),
            ["income_drop", "vehicle_pledged"]
        );
        let s = signals(&Outcome::NoAnswer, &none, 2).unwrap();
        assert_eq!(s, vec![signal(SignalKind::Unreachable, "no_answer:2")]);
        for event in LIFE_EVENTS {
            let mut answers = Answers::new();
            answers.insert("life_event".into(), event.as_str().into());
            assert_eq!(
                kinds(signals(&Outcome::Reached, &answers, 0).unwrap()),
                [event.as_str()]
            );
        }
        let mut calm = Answers::new();
        calm.insert("life_event".into(), "none".into());
        assert!(signals(&Outcome::Reached, &calm, 0).unwrap().is_empty());
        calm.insert("life_event".into(), "holiday".into());
        assert!(signals(&Outcome::Reached, &calm, 0).is_err());
        answers.insert("vehicle_use".into(), "flying".into());
        assert!(signals(&Outcome::Reached, &answers, 0).is_err());
    }

    #[test]
    fn unreachable_attempts_reschedule_then_escalate() {
        let bd = d("2026-11-28");
        assert_eq!(next_state(&Outcome::Refused, 0, 3, bd), Transition::Done);
        assert_eq!(
            next_state(&Outcome::NoAnswer, 0, 3, bd),
            Transition::Reschedule {
                attempts: 1,
                due_on: d("2026-11-29")
            }
        );
        assert_eq!(
            next_state(&Outcome::WrongNumber, 2, 3, bd),
            Transition::FailAndEscalate { attempts: 3 }
        );
        assert_eq!(escalation_queue("early_collection"), "senior_collection");
        assert_eq!(escalation_queue("followup"), "followup");
        assert_eq!(escalation_reason(TaskId(7)), "escalate_unreachable:7");
    }

    #[test]
    fn strategies() {
        let cs = [c(5, 2), c(3, 1), c(9, 1)];
        // round robin cycles by id from the cursor
        let mut cursor = 0;
        let mut order = Vec::new();
        for _ in 0..4 {
            cursor = round_robin(&cs, cursor).unwrap().get();
            order.push(cursor);
        }
        assert_eq!(order, [3, 5, 9, 3]);
        assert_eq!(least_loaded(&cs), Some(UserId(3)));
        assert_eq!(sticky(&cs, Some(UserId(5))), Some(UserId(5)));
        assert_eq!(sticky(&cs, Some(UserId(42))), Some(UserId(3)));
        assert_eq!(sticky(&cs, None), Some(UserId(3)));
        assert_eq!(assign(Strategy::RoundRobin, &[], 0, None), None);
        assert_eq!("sticky".parse::<Strategy>(), Ok(Strategy::Sticky));
    }
}

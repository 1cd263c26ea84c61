//! The follow-up (回访) engine's rules: the plan (held as data, with the defaults of the product
//! brief), the task kinds, and a pure planner that, from a loan's facts on a business date, says
//! which tasks to create and which to cancel, and when the loan must be looked at next. Also the
//! promise-to-pay evaluation and the "unreachable while overdue" signal rule.
//!
//! Every task carries a reason key, unique per loan ("welcome", "initial",
//! "continuous:2027-05-01", "reminder:7:2027-05-01:3", "overdue:7:2027-05-01",
//! "collect:2027-04-01", "escalate:M2:2027-04-01", "field_visit:2027-04-01"): the store keeps at
//! most one task per loan and reason, so re-running a day or re-planning a loan never duplicates.
//! Reminder and overdue keys carry the installment's due date as well as its number, so that a
//! deferred or restructured installment gets its own reminders.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::calendar::{Date, add_days, days_between};
use crate::loan::Payment;
use crate::money::Money;
use crate::policy::Policy;
use crate::status::{Lifecycle, LoanEvent, LoanStatus, StatusSummary};
use crate::warning::{ObservedSignal, SignalKind};

/// What a follow-up task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskKind {
    /// 首次回访: created at disbursement, due within a week.
    WelcomeCall,
    /// 初期回访: in the window day 30–60.
    InitialFollowUp,
    /// 持续性回访: every 180/30/14/7 days by warning level.
    ContinuousFollowUp,
    /// 还款提醒: before and on each due date.
    RepaymentReminder,
    /// 逾期提醒: the day after a due date passed unpaid.
    OverdueReminder,
    /// 催收电话: from DPD 3, in the queue of the first escalation tier.
    CollectionCall,
    /// 升级: the loan moved to a later escalation tier (M2–M3 senior collection, M4+ legal).
    Escalation,
    /// 上门/外访.
    FieldVisit,
    /// 预警处置: the playbook task of a warning raised (a call, a hardship review, an
    /// acceleration / repossession / legal review, by level).
    WarningReview,
}

impl TaskKind {
    /// Every kind.
    pub const ALL: [TaskKind; 9] = [
        Self::WelcomeCall,
        Self::InitialFollowUp,
        Self::ContinuousFollowUp,
        Self::RepaymentReminder,
        Self::OverdueReminder,
        Self::CollectionCall,
        Self::Escalation,
        Self::FieldVisit,
        Self::WarningReview,
    ];

    /// The kind of a stored name, if it is one.
    pub fn parse(s: &str) -> Option<TaskKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WelcomeCall => "welcome_call",
            Self::InitialFollowUp => "initial_followup",
            Self::ContinuousFollowUp => "continuous_followup",
            Self::RepaymentReminder => "repayment_reminder",
            Self::OverdueReminder => "overdue_reminder",
            Self::CollectionCall => "collection_call",
            Self::Escalation => "escalation",
            Self::FieldVisit => "field_visit",
            Self::WarningReview => "warning_review",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::WelcomeCall => "首次回访",
            Self::InitialFollowUp => "初期回访",
            Self::ContinuousFollowUp => "持续性回访",
            Self::RepaymentReminder => "还款提醒",
            Self::OverdueReminder => "逾期提醒",
            Self::CollectionCall => "催收电话",
            Self::Escalation => "逾期升级",
            Self::FieldVisit => "外访",
            Self::WarningReview => "预警处置",
        }
    }

    /// The prefix of this kind's reason keys.
    fn key_prefix(self) -> &'static str {
        match self {
            Self::WelcomeCall => "welcome",
            Self::InitialFollowUp => "initial",
            Self::ContinuousFollowUp => "continuous",
            Self::RepaymentReminder => "reminder",
            Self::OverdueReminder => "overdue",
            Self::CollectionCall => "collect",
            Self::Escalation => "escalate",
            Self::FieldVisit => "field_visit",
            Self::WarningReview => "warning",
        }
    }

    /// The kind a reason key belongs to.
    pub fn of_key(key: &str) -> Option<TaskKind> {
        let prefix = key.split(':').next().unwrap_or(key);
        Self::ALL.into_iter().find(|k| k.key_prefix() == prefix)
    }

    /// Whether tasks of this kind exist because the loan is overdue (cancelled when it is cured).
    pub fn is_delinquency(self) -> bool {
        matches!(
            self,
            Self::OverdueReminder | Self::CollectionCall | Self::Escalation | Self::FieldVisit
        )
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for TaskKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.zh() == s)
            .ok_or_else(|| format!("unknown task kind {s:?}"))
    }
}

/// One escalation tier: from bucket `min_bucket` on, the loan's delinquency task sits in `queue`;
/// `extra` tasks (kind, queue) come with it (e.g. a field visit at M2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationTier {
    pub min_bucket: u8,
    pub queue: String,
    pub extra: Vec<(TaskKind, String)>,
}

/// The task a warning of `level` brings (DOMAIN.md's playbooks): in `queue`, due `due_days`
/// after the warning is raised, once per warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playbook {
    pub level: u8,
    pub queue: String,
    pub due_days: u32,
    /// Extra repayment reminders while the loan is at this level, in days before each due date
    /// (level 1: a week before, besides the plan's 3 days before and the day itself).
    pub reminder_days_before: Vec<u32>,
}

/// The follow-up plan of a product (or the default, product '*'). Every default of the brief is
/// a value here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpPlan {
    /// The welcome call is due within this many days of disbursement (7).
    pub welcome_within_days: u32,
    pub welcome_queue: String,
    /// The initial follow-up window, in days after disbursement (30–60).
    pub initial_window: (u32, u32),
    pub initial_queue: String,
    /// Days between continuous follow-ups by warning level 0–3 (180, 30, 14, 7).
    pub continuous_days: [u32; 4],
    pub continuous_queue: String,
    /// Days before a due date on which a reminder task is created (3 and 0).
    pub reminder_days_before: Vec<u32>,
    pub reminder_queue: String,
    /// Whether an installment passing its due date unpaid (DPD 1) gets an overdue reminder.
    pub overdue_reminder: bool,
    pub overdue_queue: String,
    /// The DPD from which the loan has a collection task (3).
    pub collection_dpd: u32,
    /// Escalation tiers by bucket, ascending `min_bucket`; the first is the collection call's.
    pub escalation: Vec<EscalationTier>,
    /// Attempts before a task that cannot reach the borrower escalates.
    pub max_attempts: u32,
    /// "Unreachable for N days while overdue" (30).
    pub unreachable_days: u32,
    /// The task each warning level brings: level 1 a follow-up call within a day (its continuous
    /// follow-up comes sooner too), level 2 a hardship review by a risk officer, level 3 an
    /// acceleration / repossession / legal review.
    pub playbooks: Vec<Playbook>,
    /// Tasks of these kinds for a loan whose risk score is in `from_band` or a higher band go to
    /// `queue` instead of the plan's (the highest band that applies wins).
    pub score_queues: Vec<ScoreQueue>,
}

/// Where a loan's tasks go once its risk score reaches a band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreQueue {
    /// 'A' to 'E' (the risk score's bands, lowest risk first).
    pub from_band: char,
    pub kinds: Vec<TaskKind>,
    pub queue: String,
}

impl Default for FollowUpPlan {
    fn default() -> Self {
        FollowUpPlan {
            welcome_within_days: 7,
            welcome_queue: "followup".into(),
            initial_window: (30, 60),
            initial_queue: "followup".into(),
            continuous_days: [180, 30, 14, 7],
            continuous_queue: "followup".into(),
            reminder_days_before: vec![3, 0],
            reminder_queue: "reminders".into(),
            overdue_reminder: true,
            overdue_queue: "reminders".into(),
            collection_dpd: 3,
            escalation: vec![
                EscalationTier {
                    min_bucket: 1,
                    queue: "early_collection".into(),
                    extra: vec![],
                },
                EscalationTier {
                    min_bucket: 2,
                    queue: "senior_collection".into(),
                    extra: vec![(TaskKind::FieldVisit, "field_visit".into())],
                },
                EscalationTier {
                    min_bucket: 4,
                    queue: "legal".into(),
                    extra: vec![],
                },
            ],
            max_attempts: 3,
            unreachable_days: 30,
            playbooks: vec![
                Playbook {
                    level: 1,
                    queue: "followup".into(),
                    due_days: 1,
                    reminder_days_before: vec![7],
                },
                Playbook {
                    level: 2,
                    queue: "risk_review".into(),
                    due_days: 3,
                    reminder_days_before: vec![],
                },
                Playbook {
                    level: 3,
                    queue: "risk_review".into(),
                    due_days: 1,
                    reminder_days_before: vec![],
                },
            ],
            score_queues: vec![],
        }
    }
}

impl FollowUpPlan {
    /// Days between continuous follow-ups at a warning level (levels above 3 use level 3's).
    pub fn continuous_interval(&self, warning_level: u8) -> u32 {
        let [level0, level1, level2, level3] = self.continuous_days;
        match warning_level {
            0 => level0,
            1 => level1,
            2 => level2,
            _ => level3,
        }
        .max(1)
    }

    /// The escalation tier of a bucket with its index, if any.
    fn tier(&self, bucket: u8) -> Option<(usize, &EscalationTier)> {
        self.escalation
            .iter()
            .enumerate()
            .rfind(|(_, t)| t.min_bucket <= bucket)
    }

    /// The queue a loan in `bucket` sits in for its delinquency, if any.
    pub fn queue_of_bucket(&self, bucket: u8) -> Option<&str> {
        self.tier(bucket).map(|(_, t)| t.queue.as_str())
    }

    /// The queue of a new task of `kind`, planned for `planned`, for a loan whose risk score is
    /// in `band` (none: not scored).
    pub fn queue_for(&self, kind: TaskKind, band: Option<char>, planned: String) -> String {
        band.and_then(|b| {
            self.score_queues
                .iter()
                .filter(|q| b >= q.from_band && q.kinds.contains(&kind))
                .max_by_key(|q| q.from_band)
        })
        .map_or(planned, |q| q.queue.clone())
    }

    /// Whether the plan routes tasks by the loans' risk scores.
    pub fn routes_by_band(&self) -> bool {
        !self.score_queues.is_empty()
    }

    /// Checks the plan is usable.
    pub fn validate(&self) -> Result<(), String> {
        for (i, q) in self.score_queues.iter().enumerate() {
            if crate::score::parse_band(&q.from_band.to_string()).is_none() {
                return Err(format!(
                    "score_queues[{i}].from_band must be A to E, not {}",
                    q.from_band
                ));
            }
            if q.kinds.is_empty() {
                return Err(format!("score_queues[{i}].kinds must name a task kind"));
            }
        }
        let (a, b) = self.initial_window;
        if a > b {
            return Err(format!("initial window {a}–{b} is empty"));
        }
        if self.continuous_days.contains(&0) {
            return Err("continuous follow-up intervals must be at least 1 day".into());
        }
        if self.escalation.is_empty() {
            return Err("at least one escalation tier is needed".into());
        }
        if self
            .escalation
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.min_bucket >= b.min_bucket))
        {
            return Err("escalation tiers must have ascending min_bucket".into());
        }
        if self.escalation.first().is_some_and(|t| t.min_bucket == 0) {
            return Err("escalation starts at bucket 1 or later".into());
        }
        for (i, p) in self.playbooks.iter().enumerate() {
            if !(1..=3).contains(&p.level) {
                return Err(format!(
                    "playbooks[{i}].level must be 1, 2 or 3, not {}",
                    p.level
                ));
            }
            if self.playbooks.iter().take(i).any(|q| q.level == p.level) {
                return Err(format!(
                    "playbooks[{i}]: level {} has a playbook already",
                    p.level
                ));
            }
            if p.due_days > 30 {
                return Err(format!(
                    "playbooks[{i}].due_days must be 0 to 30, not {}",
                    p.due_days
                ));
            }
            for (j, days) in p.reminder_days_before.iter().enumerate() {
                if *days > 30 || p.reminder_days_before.iter().take(j).any(|d| d == days) {
                    return Err(format!(
                        "playbooks[{i}].reminder_days_before[{j}] must be 0 to 30 and not repeated, not {days}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A task the planner wants to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub kind: TaskKind,
    pub reason_key: String,
    pub queue: String,
    /// From when it is due (its SLA runs from here).
    pub due_on: Date,
    /// The last day it makes sense (initial window end, the installment's due date).
    pub window_end_on: Option<Date>,
    /// Created after its due date (a loan imported long after disbursement, a missed day).
    pub late: bool,
}

/// Why the planner cancels a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    PaidOff,
    WrittenOff,
    /// DPD back to 0.
    Cured,
    /// The loan moved to another escalation tier or delinquency episode.
    Escalated,
    /// The installment the reminder was for is paid, or no longer due then.
    NoLongerDue,
    /// The loan's warning level no longer asks for the playbook's extra reminder.
    LevelChanged,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaidOff => "paid_off",
            Self::WrittenOff => "written_off",
            Self::Cured => "cured",
            Self::Escalated => "escalated",
            Self::NoLongerDue => "no_longer_due",
            Self::LevelChanged => "level_changed",
        }
    }
}

/// What the planner knows of a loan on a business date.
#[derive(Debug, Clone, Copy)]
pub struct LoanFacts<'a> {
    pub date: Date,
    pub disbursed_on: Date,
    /// The status on `date`.
    pub status: &'a LoanStatus,
    /// The stored status before this evaluation; `None` for a loan just imported.
    pub before: Option<&'a StatusSummary>,
    /// The day's events of the loan (dated and transition events).
    pub events: &'a [LoanEvent],
    /// (number, due date) of every installment not fully paid.
    pub open_installments: &'a [(u32, Date)],
    /// Reason keys of the loan's tasks not yet done, failed or cancelled.
    pub open_keys: &'a [String],
    /// The stored date of the next continuous follow-up.
    pub next_continuous_on: Option<Date>,
    /// The loan's next status event (`next_event_date`): it is looked at again then at the latest.
    pub next_event_on: Option<Date>,
}

/// What the planner decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanActions {
    pub create: Vec<TaskSpec>,
    /// Reason keys of open tasks to cancel, and why.
    pub cancel: Vec<(String, CancelReason)>,
    pub next_continuous_on: Option<Date>,
    /// The first date after `date` on which the follow-up needs the loan looked at again even if
    /// nothing about its status changes (a continuous follow-up, the collection DPD).
    pub next_visit_on: Option<Date>,
}

fn key_date(key: &str) -> Option<&str> {
    key.rsplit(':').next()
}

fn reminder_key(n: u32, due: Date, days_before: u32) -> String {
    format!("reminder:{n}:{due}:{days_before}")
}

fn overdue_key(n: u32, due: Date) -> String {
    format!("overdue:{n}:{due}")
}

/// (number, due date) a reminder or overdue key is about.
/// The extra reminder days (before a due date) the playbook of the loan's level adds to the
/// plan's.
fn extra_reminder_days<'p>(
    plan: &'p FollowUpPlan,
    facts: &LoanFacts<'_>,
) -> impl Iterator<Item = &'p u32> {
    let level = facts.status.warning_level();
    plan.playbooks
        .iter()
        .filter(move |b| b.level == level)
        .flat_map(|b| &b.reminder_days_before)
        .filter(|d| !plan.reminder_days_before.contains(d))
}

/// (days before, the day) of a repayment reminder's key.
fn reminder_day_of_key(key: &str) -> Option<(u32, Date)> {
    let (_, due) = installment_of_key(key)?;
    let days: u32 = key.rsplit(':').next()?.parse().ok()?;
    Some((days, add_days(due, -i64::from(days))))
}

fn installment_of_key(key: &str) -> Option<(u32, Date)> {
    let mut parts = key.split(':').skip(1);
    let n = parts.next()?.parse().ok()?;
    let due = crate::calendar::parse_date(parts.next()?)?;
    Some((n, due))
}

/// The key of a tier's main delinquency task (the tier at `index` of the plan's escalation) for
/// the episode that started with `oldest`.
fn tier_key(index: usize, tier: &EscalationTier, oldest: Date) -> (TaskKind, String) {
    if index == 0 {
        (TaskKind::CollectionCall, format!("collect:{oldest}"))
    } else {
        (
            TaskKind::Escalation,
            format!("escalate:M{}:{oldest}", tier.min_bucket),
        )
    }
}

/// The DPD at which a tier starts (its bucket's first day, never before the collection DPD).
fn tier_start_dpd(plan: &FollowUpPlan, policy: &Policy, tier: &EscalationTier) -> u32 {
    let bucket = u32::from(tier.min_bucket);
    (policy.bucket_days * bucket.saturating_sub(1) + 1).max(plan.collection_dpd)
}

/// Plans a loan's follow-up on `facts.date`.
pub fn plan(plan: &FollowUpPlan, policy: &Policy, facts: &LoanFacts<'_>) -> PlanActions {
    let mut p = Planner {
        open: facts.open_keys.iter().map(String::as_str).collect(),
        wanted: BTreeSet::new(),
        out: PlanActions::default(),
    };

    // A loan that left servicing has nothing more to follow up.
    let gone = match facts.status.lifecycle {
        Lifecycle::PaidOff => Some(CancelReason::PaidOff),
        Lifecycle::WrittenOff => Some(CancelReason::WrittenOff),
        Lifecycle::Active => None,
    };
    if let Some(reason) = gone {
        p.out.cancel = p.open.iter().map(|k| (k.to_string(), reason)).collect();
        return p.out;
    }

    let fresh = facts.before.is_none();
    p.out.next_continuous_on = p.first_contact_and_continuous(plan, facts, fresh);
    let next_reminder = p.reminders(plan, facts);
    p.playbook(plan, facts);
    let cured = p.delinquency(plan, policy, facts, fresh);
    p.cancel_stale(plan, facts, cured);
    let mut out = p.out;
    out.next_visit_on = [out.next_visit_on, out.next_continuous_on, next_reminder]
        .into_iter()
        .flatten()
        .min();
    out
}

/// The planner's working state for one loan: the keys of its open tasks, the keys wanted so
/// far, and the actions decided.
struct Planner<'a> {
    open: BTreeSet<&'a str>,
    wanted: BTreeSet<String>,
    out: PlanActions,
}

impl Planner<'_> {
    /// The playbook task of a warning raised today (the loan's level rose): once per warning,
    /// its reason key naming the level and the day.
    fn playbook(&mut self, plan: &FollowUpPlan, facts: &LoanFacts<'_>) {
        let level = facts.status.warning_level();
        let raised = facts.before.is_some_and(|b| level > b.warning_level);
        if !raised {
            return;
        }
        if let Some(book) = plan.playbooks.iter().find(|b| b.level == level) {
            self.create(TaskSpec {
                kind: TaskKind::WarningReview,
                reason_key: format!("warning:L{level}:{}", facts.date),
                queue: book.queue.clone(),
                due_on: add_days(facts.date, i64::from(book.due_days)),
                window_end_on: None,
                late: false,
            });
        }
    }

    /// Creates the task unless the loan has it open or it was already planned.
    fn create(&mut self, spec: TaskSpec) {
        if !self.open.contains(spec.reason_key.as_str())
            && self.wanted.insert(spec.reason_key.clone())
        {
            self.out.create.push(spec);
        }
    }

    /// The welcome call and the initial follow-up of a loan seen for the first time; the
    /// continuous series of the others. Returns the loan's next continuous follow-up date.
    fn first_contact_and_continuous(
        &mut self,
        plan: &FollowUpPlan,
        facts: &LoanFacts<'_>,
        fresh: bool,
    ) -> Option<Date> {
        let date = facts.date;
        let level = facts.status.warning_level();
        let interval = i64::from(plan.continuous_interval(level));
        let disbursed = facts.disbursed_on;
        let mut next_continuous = facts.next_continuous_on;

        // A loan seen for the first time (just imported): its welcome call and its initial
        // follow-up while its window is open. Its status at import, before its payments are
        // posted, is not final: its continuous series and delinquency tasks wait for its first
        // evaluation with them (the payments' import, or the close of the next day).
        if fresh {
            let due = add_days(disbursed, i64::from(plan.welcome_within_days));
            self.create(TaskSpec {
                kind: TaskKind::WelcomeCall,
                reason_key: "welcome".into(),
                queue: plan.welcome_queue.clone(),
                due_on: due,
                window_end_on: None,
                late: date > due,
            });
            let (from, to) = plan.initial_window;
            let start = add_days(disbursed, i64::from(from));
            let end = add_days(disbursed, i64::from(to));
            if date <= end {
                self.create(TaskSpec {
                    kind: TaskKind::InitialFollowUp,
                    reason_key: "initial".into(),
                    queue: plan.initial_queue.clone(),
                    due_on: start,
                    window_end_on: Some(end),
                    late: date > start,
                });
            }
            next_continuous = None;
        } else {
            // A loan without a continuous series yet starts one from its disbursement (the
            // current period's follow-up, if one has passed, is still due: created below, late).
            if next_continuous.is_none() {
                let periods = days_between(disbursed, date).max(0) / interval;
                next_continuous = Some(add_days(disbursed, periods.max(1) * interval));
            }
            // Sooner when the warning level rises.
            if let Some(before) = facts.before
                && level > before.warning_level
                && let Some(n) = next_continuous
                && n > add_days(date, interval)
            {
                next_continuous = Some(add_days(date, interval));
            }
        }
        if let Some(n) = next_continuous
            && n <= date
        {
            self.create(TaskSpec {
                kind: TaskKind::ContinuousFollowUp,
                reason_key: format!("continuous:{n}"),
                queue: plan.continuous_queue.clone(),
                due_on: n,
                window_end_on: None,
                late: n < date,
            });
            let after = add_days(n, interval);
            next_continuous = Some(if after > date {
                after
            } else {
                add_days(date, interval)
            });
        }
        // The loan will not be looked at again before its next status event: the follow-ups
        // that fall before it are created now, due on their dates (no visit just for them).
        if let Some(horizon) = facts.next_event_on {
            while let Some(n) = next_continuous
                && n < horizon
            {
                self.create(TaskSpec {
                    kind: TaskKind::ContinuousFollowUp,
                    reason_key: format!("continuous:{n}"),
                    queue: plan.continuous_queue.clone(),
                    due_on: n,
                    window_end_on: None,
                    late: false,
                });
                next_continuous = Some(add_days(n, interval));
            }
        }
        next_continuous
    }

    /// Repayment reminders on the plan's days before each unpaid installment's due date;
    /// overdue reminders from the day's events. Returns the next reminder day (a visit).
    ///
    /// The loan's level's playbook adds reminders of its own. They are scheduled ahead, not
    /// visited for: created (due on their day) by a visit whose next status event comes after
    /// their day, and cancelled by a later visit if the loan's level no longer asks for them (or
    /// the installment is paid), so they cost the close no visits.
    fn reminders(&mut self, plan: &FollowUpPlan, facts: &LoanFacts<'_>) -> Option<Date> {
        let date = facts.date;
        let mut next_reminder: Option<Date> = None;
        let plan_days = &plan.reminder_days_before;
        for &(n, due) in facts.open_installments {
            for &days in plan_days.iter().chain(extra_reminder_days(plan, facts)) {
                let on = add_days(due, -i64::from(days));
                let ahead = !plan_days.contains(&days)
                    && on > date
                    && facts.next_event_on.is_none_or(|next| on < next);
                if on == date || ahead {
                    self.create(TaskSpec {
                        kind: TaskKind::RepaymentReminder,
                        reason_key: reminder_key(n, due, days),
                        queue: plan.reminder_queue.clone(),
                        due_on: on,
                        window_end_on: Some(due),
                        late: false,
                    });
                } else if plan_days.contains(&days)
                    && on > date
                    && next_reminder.is_none_or(|r| on < r)
                {
                    next_reminder = Some(on);
                }
            }
        }
        for event in facts.events {
            if let LoanEvent::InstallmentOverdue {
                installment,
                due_date,
                ..
            } = event
                && plan.overdue_reminder
            {
                self.create(TaskSpec {
                    kind: TaskKind::OverdueReminder,
                    reason_key: overdue_key(*installment, *due_date),
                    queue: plan.overdue_queue.clone(),
                    due_on: date,
                    window_end_on: None,
                    late: false,
                });
            }
        }
        next_reminder
    }

    /// Delinquency: the task of the loan's escalation tier from the collection DPD on (other
    /// tiers' and episodes' tasks give way to it). Returns whether the loan is cured (nothing
    /// unpaid is past due).
    fn delinquency(
        &mut self,
        plan: &FollowUpPlan,
        policy: &Policy,
        facts: &LoanFacts<'_>,
        fresh: bool,
    ) -> bool {
        let date = facts.date;
        let status = facts.status;
        match status.oldest_unpaid_due {
            None => return true,
            Some(_) if fresh => {
                if status.dpd >= plan.collection_dpd {
                    self.out.next_visit_on = Some(add_days(date, 1));
                }
            }
            Some(oldest) if status.dpd >= plan.collection_dpd => {
                if let Some((index, tier)) = plan.tier(status.bucket.0) {
                    self.escalation_tier(plan, policy, date, oldest, index, tier);
                }
            }
            Some(oldest) => {
                self.out.next_visit_on = Some(add_days(oldest, i64::from(plan.collection_dpd)));
            }
        }
        false
    }

    /// The tasks of one escalation tier for the episode that began at `oldest`.
    fn escalation_tier(
        &mut self,
        plan: &FollowUpPlan,
        policy: &Policy,
        date: Date,
        oldest: Date,
        index: usize,
        tier: &EscalationTier,
    ) {
        let mut desired: BTreeSet<String> = BTreeSet::new();
        let due = add_days(oldest, i64::from(tier_start_dpd(plan, policy, tier)));
        let (kind, key) = tier_key(index, tier, oldest);
        desired.insert(key.clone());
        self.create(TaskSpec {
            kind,
            reason_key: key,
            queue: tier.queue.clone(),
            due_on: due,
            window_end_on: None,
            late: date > due,
        });
        for (kind, queue) in &tier.extra {
            let key = format!("{}:{oldest}", kind.key_prefix());
            desired.insert(key.clone());
            self.create(TaskSpec {
                kind: *kind,
                reason_key: key,
                queue: queue.clone(),
                due_on: due,
                window_end_on: None,
                late: date > due,
            });
        }
        // the tasks of other tiers or episodes give way to this one
        for key in &self.open {
            let Some(kind) = TaskKind::of_key(key) else {
                continue;
            };
            if matches!(
                kind,
                TaskKind::CollectionCall | TaskKind::Escalation | TaskKind::FieldVisit
            ) && !desired.contains(*key)
            {
                self.out
                    .cancel
                    .push((key.to_string(), CancelReason::Escalated));
            }
        }
    }

    /// Cancels a cured loan's delinquency tasks and the reminders of installments no longer
    /// unpaid; sorts the cancellations and keeps one per key.
    fn cancel_stale(&mut self, plan: &FollowUpPlan, facts: &LoanFacts<'_>, cured: bool) {
        let installments: BTreeSet<(u32, Date)> = facts.open_installments.iter().copied().collect();
        for key in &self.open {
            let Some(kind) = TaskKind::of_key(key) else {
                continue;
            };
            if cured && kind.is_delinquency() {
                self.out.cancel.push((key.to_string(), CancelReason::Cured));
            } else if kind == TaskKind::RepaymentReminder
                && let Some((days, on)) = reminder_day_of_key(key)
                && on > facts.date
                && !plan.reminder_days_before.contains(&days)
                && !extra_reminder_days(plan, facts).any(|d| *d == days)
            {
                self.out
                    .cancel
                    .push((key.to_string(), CancelReason::LevelChanged));
            } else if matches!(
                kind,
                TaskKind::RepaymentReminder | TaskKind::OverdueReminder
            ) && installment_of_key(key).is_some_and(|i| !installments.contains(&i))
            {
                self.out
                    .cancel
                    .push((key.to_string(), CancelReason::NoLongerDue));
            }
        }
        self.out.cancel.sort_by(|a, b| a.0.cmp(&b.0));
        self.out.cancel.dedup_by(|a, b| a.0 == b.0);
    }
}

/// The date a reason key is about, when it names one (for display).
pub fn key_on(key: &str) -> Option<Date> {
    key_date(key).and_then(crate::calendar::parse_date)
}

/// Where a promise to pay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseOutcome {
    Open,
    Kept,
    Broken,
}

impl PromiseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Kept => "kept",
            Self::Broken => "broken",
        }
    }
}

/// A promise to pay `amount` by `due_on`, made on `promised_on`, judged on `date`: kept when the
/// loan's payments dated from `promised_on` through `due_on` (inclusive) total at least `amount`;
/// broken from the day after `due_on` otherwise; open until then.
pub fn evaluate_promise(
    amount: Money,
    promised_on: Date,
    due_on: Date,
    payments: &[Payment],
    date: Date,
) -> PromiseOutcome {
    let paid: Money = payments
        .iter()
        .filter(|p| p.paid_on >= promised_on && p.paid_on <= due_on && p.paid_on <= date)
        .map(|p| p.amount)
        .sum();
    if paid >= amount {
        PromiseOutcome::Kept
    } else if date > due_on {
        PromiseOutcome::Broken
    } else {
        PromiseOutcome::Open
    }
}

/// Whether an overdue loan gets its `unreachable` risk signal today, and for how many days: when
/// the team tried to reach the borrower during this delinquency and failed (an unanswered or
/// wrong-number attempt's `unreachable` signal after the oldest unpaid due date and after the
/// last contact that reached the borrower), and nobody has reached the borrower for the plan's
/// `unreachable_days` (at a DPD of at least as many). A borrower nobody tried to call is not
/// unreachable. Once per delinquency: none when the loan already has this signal (one with its
/// days) since its oldest unpaid due date.
pub fn unreachable_signal_days(
    plan: &FollowUpPlan,
    status: &LoanStatus,
    last_reached: Option<Date>,
    signals: &[ObservedSignal],
) -> Option<u32> {
    if plan.unreachable_days == 0
        || status.dpd < plan.unreachable_days
        || !may_become_unreachable(status, last_reached, signals)
    {
        return None;
    }
    unreachable_for(status, last_reached, plan.unreachable_days)
}

/// The date on which an overdue loan tried in vain gets its `unreachable` signal if nobody
/// reaches the borrower before (a visit of the daily close), when that is after the status's
/// date.
pub fn unreachable_signal_on(
    plan: &FollowUpPlan,
    status: &LoanStatus,
    last_reached: Option<Date>,
    signals: &[ObservedSignal],
) -> Option<Date> {
    if plan.unreachable_days == 0
        || status.lifecycle != Lifecycle::Active
        || !may_become_unreachable(status, last_reached, signals)
    {
        return None;
    }
    let oldest = status.oldest_unpaid_due?;
    let since = last_reached.map_or(oldest, |r| r.max(oldest));
    let on = add_days(since, i64::from(plan.unreachable_days));
    (on > status.as_of).then_some(on)
}

/// A failed attempt after the oldest unpaid due date and the last contact, and no `unreachable`
/// signal of the engine (with its days) yet in this delinquency.
fn may_become_unreachable(
    status: &LoanStatus,
    last_reached: Option<Date>,
    signals: &[ObservedSignal],
) -> bool {
    let Some(episode) = status.oldest_unpaid_due else {
        return false;
    };
    let in_episode = |s: &&ObservedSignal| s.is(SignalKind::Unreachable) && s.observed_on > episode;
    let tried = signals
        .iter()
        .filter(in_episode)
        .any(|s| is_failed_attempt(s) && last_reached.is_none_or(|r| s.observed_on >= r));
    tried
        && !signals
            .iter()
            .filter(in_episode)
            .any(|s| s.unreachable_days().is_some())
}

/// Whether a loan's signals hold a failed contact attempt (an `unreachable` signal without its
/// days) after `since`: only such a loan can become unreachable (see
/// [`unreachable_signal_days`]), so only its last contact needs reading.
pub fn tried_in_vain_after(signals: &[ObservedSignal], since: Date) -> bool {
    signals
        .iter()
        .any(|s| s.observed_on > since && is_failed_attempt(s))
}

/// An unanswered or wrong-number attempt's `unreachable` signal (the engine's own carries the
/// days the borrower has been unreachable).
fn is_failed_attempt(s: &ObservedSignal) -> bool {
    s.is(SignalKind::Unreachable) && s.unreachable_days().is_none()
}

/// "Unreachable for N days while overdue": the days since the later of the oldest unpaid due
/// date and the last contact that reached the borrower, when that is at least `days`.
pub fn unreachable_for(status: &LoanStatus, last_reached: Option<Date>, days: u32) -> Option<u32> {
    let oldest = status.oldest_unpaid_due?;
    if status.lifecycle != Lifecycle::Active {
        return None;
    }
    let since = last_reached.map_or(oldest, |r| r.max(oldest));
    let n = u32::try_from(days_between(since, status.as_of).max(0)).unwrap_or(u32::MAX);
    (n >= days && days > 0).then_some(n)
}

// ---------------------------------------------------------------------------------------------
// Scripts

/// How a question is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerType {
    YesNo,
    /// One of the options; an option may name the risk signal it raises.
    Choice(Vec<ChoiceOption>),
    /// A whole number (e.g. an income change in %).
    Number,
    Money,
    Date,
    Text,
}

impl AnswerType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::YesNo => "yes_no",
            Self::Choice(_) => "choice",
            Self::Number => "number",
            Self::Money => "money",
            Self::Date => "date",
            Self::Text => "text",
        }
    }
}

/// One option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOption {
    pub code: String,
    pub label: String,
    /// The risk signal this answer raises (e.g. "vehicle_sold").
    pub signal: Option<String>,
}

/// One question of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Stable id the structured answers are keyed by.
    pub id: String,
    pub text: String,
    pub answer: AnswerType,
    /// For a yes/no question: the signal a "no" raises.
    pub signal_if_no: Option<String>,
    /// For a number question: the signal raised when the answer is at most this value.
    pub signal_at_most: Option<(i64, String)>,
}

/// A questionnaire for one task kind in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub kind: TaskKind,
    pub lang: String,
    pub questions: Vec<Question>,
}

/// Whether a name is a plain identifier (`a`–`z`, digits, `_`, starting with a letter), as
/// question ids, option codes and signal names are.
pub(crate) fn identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a script's questions before it is stored: at least one; ids unique identifiers; a
/// text each; a choice with two options or more of unique codes; `signal_if_no` only on a
/// yes/no question and `signal_at_most` only on a number question; every signal an
/// identifier. The error names the field (`questions[2].options[1].code: …`).
pub fn check_questions(questions: &[Question]) -> Result<(), String> {
    if questions.is_empty() {
        return Err("questions: a script asks one question at least".into());
    }
    let signal = |at: String, s: &str| {
        if identifier(s) {
            Ok(())
        } else {
            Err(format!("{at}: signal {s:?} is not a name (a-z, 0-9, _)"))
        }
    };
    for (i, q) in questions.iter().enumerate() {
        let at = format!("questions[{i}]");
        if !identifier(&q.id) {
            return Err(format!("{at}.id: {:?} is not a name (a-z, 0-9, _)", q.id));
        }
        if questions.iter().take(i).any(|p| p.id == q.id) {
            return Err(format!("{at}.id: {:?} is asked twice", q.id));
        }
        if q.text.trim().is_empty() {
            return Err(format!("{at}.text: a question has a text"));
        }
        if let AnswerType::Choice(options) = &q.answer {
            if options.len() < 2 {
                return Err(format!("{at}.options: a choice has two options at least"));
            }
            for (j, o) in options.iter().enumerate() {
                let at = format!("{at}.options[{j}]");
                if !identifier(&o.code) {
                    return Err(format!(
                        "{at}.code: {:?} is not a name (a-z, 0-9, _)",
                        o.code
                    ));
                }
                if options.iter().take(j).any(|p| p.code == o.code) {
                    return Err(format!("{at}.code: {:?} is offered twice", o.code));
                }
                if o.label.trim().is_empty() {
                    return Err(format!("{at}.label: an option has a label"));
                }
                if let Some(s) = &o.signal {
                    signal(format!("{at}.signal"), s)?;
                }
            }
        }
        match (&q.signal_if_no, &q.answer) {
            (Some(s), AnswerType::YesNo) => signal(format!("{at}.signal_if_no"), s)?,
            (Some(_), other) => {
                return Err(format!(
                    "{at}.signal_if_no: only a yes_no question has one, not a {} question",
                    other.as_str()
                ));
            }
            (None, _) => {}
        }
        match (&q.signal_at_most, &q.answer) {
            (Some((_, s)), AnswerType::Number) => signal(format!("{at}.signal_at_most"), s)?,
            (Some(_), other) => {
                return Err(format!(
                    "{at}.signal_at_most: only a number question has one, not a {} question",
                    other.as_str()
                ));
            }
            (None, _) => {}
        }
    }
    Ok(())
}

/// The languages default scripts exist in.
pub const SCRIPT_LANGS: [&str; 2] = ["zh", "en"];

fn yes_no(id: &str, text: &str, signal_if_no: Option<&str>) -> Question {
    Question {
        id: id.into(),
        text: text.into(),
        answer: AnswerType::YesNo,
        signal_if_no: signal_if_no.map(Into::into),
        signal_at_most: None,
    }
}

fn open_question(id: &str, text: &str, answer: AnswerType) -> Question {
    Question {
        id: id.into(),
        text: text.into(),
        answer,
        signal_if_no: None,
        signal_at_most: None,
    }
}

fn choice(id: &str, text: &str, options: &[(&str, &str, Option<&str>)]) -> Question {
    Question {
        id: id.into(),
        text: text.into(),
        answer: AnswerType::Choice(
            options
                .iter()
                .map(|(code, label, signal)| ChoiceOption {
                    code: (*code).into(),
                    label: (*label).into(),
                    signal: signal.map(Into::into),
                })
                .collect(),
        ),
        signal_if_no: None,
        signal_at_most: None,
    }
}

/// The default script of a task kind in `lang` ("zh" or "en"), with the questions of the brief.
pub fn default_script(kind: TaskKind, lang: &str) -> Script {
    let zh = lang == "zh";
    let t = |zh_text: &'static str, en_text: &'static str| if zh { zh_text } else { en_text };
    let vehicle_use = choice(
        "vehicle_use",
        t("车辆目前的使用情况？", "How is the vehicle used now?"),
        &[
            ("self", t("本人自用", "by the borrower"), None),
            ("family", t("家人使用", "by the family"), None),
            (
                "commercial",
                t("营运", "commercially"),
                Some("vehicle_commercial"),
            ),
            (
                "lent_out",
                t("已出借", "lent out"),
                Some("vehicle_lent_out"),
            ),
            ("sold", t("已出售", "sold"), Some("vehicle_sold")),
            (
                "pledged",
                t("已抵押/质押", "pledged"),
                Some("vehicle_pledged"),
            ),
            (
                "lost",
                t("丢失/被盗", "lost or stolen"),
                Some("vehicle_lost"),
            ),
        ],
    );
    let income = {
        let mut q = open_question(
            "income_change_pct",
            t(
                "与放款时相比，收入变化了多少（%，下降为负数）？",
                "How has income changed since the loan (%, negative for a drop)?",
            ),
            AnswerType::Number,
        );
        q.signal_at_most = Some((-30, "income_drop".into()));
        q
    };
    let job = choice(
        "job_status",
        t("工作情况？", "Employment?"),
        &[
            ("unchanged", t("未变化", "unchanged"), None),
            ("changed", t("换了工作", "changed job"), None),
            ("lost", t("失业", "lost the job"), Some("job_loss")),
            (
                "business_trouble",
                t("经营困难", "business in trouble"),
                Some("business_trouble"),
            ),
        ],
    );
    let hardship = yes_no(
        "hardship",
        t(
            "是否存在还款困难（需协商）？",
            "Is there hardship (needs a negotiated plan)?",
        ),
        None,
    );
    let questions = match kind {
        TaskKind::WelcomeCall => vec![
            yes_no(
                "funds_reached_dealer",
                t(
                    "贷款资金是否已到达经销商？",
                    "Did the loan funds reach the dealer?",
                ),
                Some("funds_not_at_dealer"),
            ),
            yes_no(
                "vehicle_delivered",
                t("车辆是否已交付？", "Has the vehicle been delivered?"),
                Some("vehicle_not_delivered"),
            ),
            yes_no(
                "identity_confirmed",
                t(
                    "借款人身份是否核实无误？",
                    "Is the borrower's identity confirmed?",
                ),
                Some("identity_mismatch"),
            ),
            yes_no(
                "contacts_confirmed",
                t(
                    "联系电话、地址及紧急联系人是否确认？",
                    "Are phone, address and emergency contacts confirmed?",
                ),
                Some("contacts_unconfirmed"),
            ),
            yes_no(
                "due_day_explained",
                t(
                    "是否已告知每期还款日？",
                    "Was the monthly due day explained?",
                ),
                None,
            ),
            yes_no(
                "repayment_account_explained",
                t(
                    "是否已告知还款账户及扣款方式？",
                    "Was the repayment account explained?",
                ),
                None,
            ),
        ],
        TaskKind::InitialFollowUp | TaskKind::ContinuousFollowUp => vec![
            yes_no(
                "repayment_started",
                t("是否已按时开始还款？", "Has repayment started on time?"),
                Some("repayment_not_started"),
            ),
            vehicle_use,
            income,
            job,
            open_question("notes", t("其他情况", "Anything else"), AnswerType::Text),
        ],
        TaskKind::RepaymentReminder | TaskKind::OverdueReminder => vec![
            yes_no(
                "reminder_acknowledged",
                t(
                    "借款人是否知悉应还金额与日期？",
                    "Does the borrower know the amount and date due?",
                ),
                None,
            ),
            yes_no(
                "will_pay_on_time",
                t(
                    "是否能按时足额还款？",
                    "Will the borrower pay in full on time?",
                ),
                None,
            ),
        ],
        TaskKind::CollectionCall | TaskKind::Escalation | TaskKind::FieldVisit => vec![
            choice(
                "non_payment_reason",
                t("未还款原因？", "Reason for non-payment?"),
                &[
                    ("forgot", t("忘记还款", "forgot"), None),
                    ("account_issue", t("扣款账户问题", "account problem"), None),
                    (
                        "cash_flow",
                        t("短期资金紧张", "short of cash for now"),
                        None,
                    ),
                    (
                        "income_drop",
                        t("收入下降", "income fell"),
                        Some("income_drop"),
                    ),
                    ("job_loss", t("失业", "lost the job"), Some("job_loss")),
                    ("illness", t("重病", "serious illness"), Some("hardship")),
                    (
                        "dispute",
                        t("对欠款有异议", "disputes the debt"),
                        Some("dispute"),
                    ),
                    ("refuses", t("拒绝还款", "refuses to pay"), Some("refused")),
                ],
            ),
            open_question(
                "promise_amount",
                t("承诺还款金额", "Promised amount"),
                AnswerType::Money,
            ),
            open_question(
                "promise_date",
                t("承诺还款日期", "Promised date"),
                AnswerType::Date,
            ),
            hardship,
            income,
            job,
            vehicle_use,
        ],
        TaskKind::WarningReview => vec![
            hardship,
            income,
            job,
            vehicle_use,
            choice(
                "life_event",
                t("重大变故？", "A major life event?"),
                &[
                    ("none", t("无", "none"), None),
                    ("bankruptcy", t("破产", "bankruptcy"), None),
                    ("death", t("死亡", "death"), None),
                    ("serious_illness", t("重大疾病", "serious illness"), None),
                    ("imprisonment", t("被羁押或服刑", "imprisonment"), None),
                ],
            ),
            choice(
                "proposed_action",
                t("建议处置", "Proposed action"),
                &[
                    ("monitor", t("继续观察", "keep monitoring"), None),
                    ("deferral", t("展期", "deferral"), None),
                    ("restructure", t("重组", "restructure"), None),
                    ("acceleration", t("提前收回", "acceleration"), None),
                    ("repossession", t("收车", "repossession"), None),
                    ("legal", t("诉讼", "legal action"), None),
                ],
            ),
            open_question("notes", t("处置说明", "Notes"), AnswerType::Text),
        ],
    };
    Script {
        kind,
        lang: lang.into(),
        questions,
    }
}

/// The risk signals structured answers raise: (signal, answer) pairs. Answers are (question id,
/// answer text): "yes"/"no", an option code, a whole number.
pub fn signals_from_answers(
    script: &Script,
    answers: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, value) in answers {
        let Some(q) = script.questions.iter().find(|q| &q.id == id) else {
            continue;
        };
        match &q.answer {
            AnswerType::YesNo => {
                if value == "no"
                    && let Some(s) = &q.signal_if_no
                {
                    out.push((s.clone(), format!("{id}=no")));
                }
            }
            AnswerType::Choice(options) => {
                if let Some(s) = options
                    .iter()
                    .find(|o| &o.code == value)
                    .and_then(|o| o.signal.as_ref())
                {
                    out.push((s.clone(), format!("{id}={value}")));
                }
            }
            AnswerType::Number => {
                if let (Some((limit, s)), Ok(v)) = (&q.signal_at_most, value.trim().parse::<i64>())
                    && v <= *limit
                {
                    out.push((s.clone(), format!("{id}={v}")));
                }
            }
            AnswerType::Money | AnswerType::Date | AnswerType::Text => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_date;
    use crate::policy::{Bucket, Classification};
    use proptest::prelude::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    fn status(on: Date, oldest: Option<Date>, lifecycle: Lifecycle, level: u8) -> LoanStatus {
        let policy = Policy::default();
        let dpd = crate::status::dpd_on(oldest, on);
        LoanStatus {
            as_of: on,
            lifecycle,
            oldest_unpaid_due: oldest,
            dpd,
            bucket: policy.bucket(dpd),
            classification: policy.classification(dpd),
            overdue_installments: u32::from(oldest.is_some()),
            outstanding_principal: Money::from_fen(100_000),
            overdue_amount: Money::ZERO,
            penalty_due: Money::ZERO,
            warning: (level > 0).then(|| crate::status::WarningHit {
                level,
                rule: "r".into(),
                version: 1,
                facts: vec![],
                text: Default::default(),
            }),
        }
    }

    fn summary(level: u8) -> StatusSummary {
        StatusSummary {
            lifecycle: Lifecycle::Active,
            bucket: Bucket(0),
            classification: Classification::Normal,
            warning_level: level,
            overdue_installments: 0,
        }
    }

    fn keys(a: &PlanActions) -> Vec<&str> {
        a.create.iter().map(|t| t.reason_key.as_str()).collect()
    }

    fn run(
        st: &LoanStatus,
        before: Option<&StatusSummary>,
        events: &[LoanEvent],
        open: &[&str],
        next: Option<Date>,
    ) -> PlanActions {
        let open: Vec<String> = open.iter().map(|s| s.to_string()).collect();
        let inst = [(1, d("2026-02-01")), (2, d("2026-03-01"))];
        plan(
            &FollowUpPlan::default(),
            &Policy::default(),
            &LoanFacts {
                date: st.as_of,
                disbursed_on: d("2026-01-01"),
                status: st,
                before,
                events,
                open_installments: &inst,
                open_keys: &open,
                next_continuous_on: next,
                next_event_on: None,
            },
        )
    }

    #[test]
    fn a_new_loan_gets_its_welcome_and_initial_follow_up() {
        let st = status(d("2026-01-01"), None, Lifecycle::Active, 0);
        let a = run(&st, None, &[], &[], None);
        assert_eq!(keys(&a), ["welcome", "initial"]);
        assert_eq!(a.create[0].due_on, d("2026-01-08"));
        assert!(!a.create[0].late && !a.create[1].late);
        assert_eq!(
            (a.create[1].due_on, a.create[1].window_end_on),
            (d("2026-01-31"), Some(d("2026-03-02")))
        );
        assert_eq!(
            a.next_continuous_on, None,
            "started by its first evaluation"
        );
        // the next visit: the first reminder, 3 days before installment 1
        assert_eq!(a.next_visit_on, Some(d("2026-01-29")));
    }

    #[test]
    fn a_loan_imported_late_gets_late_tasks() {
        // day 40: welcome late, initial late (window started), still open
        let st = status(d("2026-02-10"), None, Lifecycle::Active, 0);
        let a = run(&st, None, &[], &[], None);
        assert_eq!(keys(&a), ["welcome", "initial"]);
        assert!(a.create.iter().all(|t| t.late));
        // day 70: initial window over; day 200: the current continuous period's task, late
        let st = status(d("2026-07-20"), None, Lifecycle::Active, 0);
        let a = run(&st, None, &[], &[], None);
        assert_eq!(keys(&a), ["welcome"]);
        assert!(a.create.iter().all(|t| t.late));
        // its first evaluation with its payments: the current continuous period's one, late
        let a = run(&st, Some(&summary(0)), &[], &["welcome"], None);
        assert_eq!(keys(&a), ["continuous:2026-06-30"]);
        assert!(a.create[0].late);
        assert_eq!(a.next_continuous_on, Some(d("2026-12-27")));
        // imported overdue: its collection waits for its payments, looked at again tomorrow
        let st = status(d("2026-07-20"), Some(d("2026-02-01")), Lifecycle::Active, 3);
        let a = run(&st, None, &[], &[], None);
        assert_eq!(keys(&a), ["welcome"]);
        assert_eq!(a.next_visit_on, Some(d("2026-07-21")));
    }

    #[test]
    fn continuous_follow_up_and_a_rising_level() {
        let st = status(d("2026-06-30"), None, Lifecycle::Active, 0);
        let a = run(&st, Some(&summary(0)), &[], &[], Some(d("2026-06-30")));
        assert_eq!(keys(&a), ["continuous:2026-06-30"]);
        assert_eq!(a.next_continuous_on, Some(d("2026-12-27")));
        // level 2 raised on 2026-07-10: next within 14 days
        let st = status(d("2026-07-10"), Some(d("2026-06-01")), Lifecycle::Active, 2);
        let a = run(&st, Some(&summary(0)), &[], &[], Some(d("2026-12-27")));
        assert_eq!(a.next_continuous_on, Some(d("2026-07-24")));
    }

    #[test]
    fn follow_ups_before_the_next_status_event_are_created_ahead() {
        let st = status(d("2026-06-10"), None, Lifecycle::Active, 0);
        let open: Vec<String> = vec![];
        let facts = LoanFacts {
            date: st.as_of,
            disbursed_on: d("2026-01-01"),
            status: &st,
            before: Some(&summary(0)),
            events: &[],
            open_installments: &[],
            open_keys: &open,
            next_continuous_on: Some(d("2026-06-30")),
            next_event_on: Some(d("2026-07-05")),
        };
        let a = plan(&FollowUpPlan::default(), &Policy::default(), &facts);
        assert_eq!(keys(&a), ["continuous:2026-06-30"]);
        assert_eq!(
            (a.create[0].due_on, a.create[0].late),
            (d("2026-06-30"), false)
        );
        assert_eq!(a.next_continuous_on, Some(d("2026-12-27")));
        // at level 3 (every 7 days) all those before the next event
        let st = status(d("2026-06-10"), Some(d("2026-03-01")), Lifecycle::Active, 3);
        let before = StatusSummary {
            warning_level: 3,
            ..summary(0)
        };
        let a = plan(
            &FollowUpPlan::default(),
            &Policy::default(),
            &LoanFacts {
                status: &st,
                before: Some(&before),
                next_continuous_on: Some(d("2026-06-12")),
                ..facts
            },
        );
        let continuous: Vec<&str> = keys(&a)
            .into_iter()
            .filter(|k| k.starts_with("continuous"))
            .collect();
        assert_eq!(
            continuous,
            [
                "continuous:2026-06-12",
                "continuous:2026-06-19",
                "continuous:2026-06-26",
                "continuous:2026-07-03"
            ]
        );
        assert_eq!(a.next_continuous_on, Some(d("2026-07-10")));
    }

    #[test]
    fn the_level_one_playbook_schedules_its_extra_reminder_ahead() {
        let plan = FollowUpPlan::default();
        let inst = [(2, d("2026-03-01"))];
        let at = |st: &LoanStatus, open: &[String], next: &str| {
            plan_for(&plan, st, &inst, open, Some(d(next)))
        };
        // Level 1 on 02-02, next status event 02-26 (the plan's reminder 3 days before 03-01):
        // the week-before reminder (02-22) is created now, due on its day; no visit is asked
        // for it.
        let l1 = status(d("2026-02-02"), None, Lifecycle::Active, 1);
        let a = at(&l1, &[], "2026-02-26");
        let r = a
            .create
            .iter()
            .find(|t| t.reason_key == "reminder:2:2026-03-01:7")
            .expect("scheduled");
        assert_eq!(
            (r.due_on, r.window_end_on),
            (d("2026-02-22"), Some(d("2026-03-01")))
        );
        assert_ne!(a.next_visit_on, Some(d("2026-02-22")));
        // A next event before its day: created by that later visit, not now.
        let a = at(&l1, &[], "2026-02-10");
        assert!(
            a.create.iter().all(|t| !t.reason_key.ends_with(":7")),
            "{a:?}"
        );
        // The level fell to 0 before its day: cancelled; at level 1 it stays.
        let open = vec!["reminder:2:2026-03-01:7".to_string()];
        let l0 = status(d("2026-02-10"), None, Lifecycle::Active, 0);
        assert_eq!(
            at(&l0, &open, "2026-02-26").cancel,
            [(open[0].clone(), CancelReason::LevelChanged)]
        );
        let l1 = status(d("2026-02-10"), None, Lifecycle::Active, 1);
        assert!(at(&l1, &open, "2026-02-26").cancel.is_empty());
        // Its day passed: the task lives its own life.
        let l0 = status(d("2026-02-23"), None, Lifecycle::Active, 0);
        assert!(at(&l0, &open, "2026-02-26").cancel.is_empty());
    }

    fn plan_for(
        plan: &FollowUpPlan,
        st: &LoanStatus,
        inst: &[(u32, Date)],
        open: &[String],
        next_event_on: Option<Date>,
    ) -> PlanActions {
        let before = summary(st.warning_level());
        crate::followup::plan(
            plan,
            &Policy::default(),
            &LoanFacts {
                date: st.as_of,
                disbursed_on: d("2025-12-01"),
                status: st,
                before: Some(&before),
                events: &[],
                open_installments: inst,
                open_keys: open,
                next_continuous_on: Some(d("2026-06-30")),
                next_event_on,
            },
        )
    }

    #[test]
    fn reminders_overdue_collection_and_escalation() {
        let ev = [LoanEvent::InstallmentOverdue {
            installment: 1,
            due_date: d("2026-02-01"),
            amount: Money::ZERO,
        }];
        let st = status(d("2026-02-26"), Some(d("2026-02-01")), Lifecycle::Active, 0);
        let a = run(&st, Some(&summary(0)), &ev, &[], Some(d("2026-06-30")));
        assert_eq!(
            keys(&a),
            [
                "reminder:2:2026-03-01:3",
                "overdue:1:2026-02-01",
                "collect:2026-02-01"
            ]
        );
        assert_eq!(a.create[2].queue, "early_collection");
        // DPD 2: nothing yet, but a visit on DPD 3
        let st = status(d("2026-02-03"), Some(d("2026-02-01")), Lifecycle::Active, 0);
        let a = run(&st, Some(&summary(0)), &[], &[], Some(d("2026-06-30")));
        assert!(a.create.is_empty());
        assert_eq!(a.next_visit_on, Some(d("2026-02-04")));
        // M2: escalation to senior collection with a field visit; the M1 call gives way. The
        // loan's level rose to 2 today: its playbook's hardship review, due in 3 days.
        let st = status(d("2026-03-04"), Some(d("2026-02-01")), Lifecycle::Active, 2);
        let mut a = run(
            &st,
            Some(&summary(0)),
            &[],
            &["collect:2026-02-01", "welcome"],
            Some(d("2026-06-30")),
        );
        assert_eq!(
            keys(&a),
            [
                "warning:L2:2026-03-04",
                "escalate:M2:2026-02-01",
                "field_visit:2026-02-01"
            ]
        );
        let review = a.create.remove(0);
        assert_eq!(
            (review.kind, review.queue.as_str(), review.due_on),
            (TaskKind::WarningReview, "risk_review", d("2026-03-07"))
        );
        assert_eq!(a.create[0].queue, "senior_collection");
        assert_eq!(
            a.cancel,
            [("collect:2026-02-01".to_string(), CancelReason::Escalated)]
        );
        // M4: legal; the senior task and field visit give way
        let st = status(d("2026-05-05"), Some(d("2026-02-01")), Lifecycle::Active, 3);
        let a = run(
            &st,
            Some(&summary(2)),
            &[],
            &["escalate:M2:2026-02-01", "field_visit:2026-02-01"],
            Some(d("2026-06-30")),
        );
        // (and level 3: the acceleration / repossession / legal review, due the next day)
        assert_eq!(
            keys(&a),
            ["warning:L3:2026-05-05", "escalate:M4:2026-02-01"]
        );
        assert_eq!(
            (a.create[0].queue.as_str(), a.create[0].due_on),
            ("risk_review", d("2026-05-06"))
        );
        assert_eq!(a.create[1].queue, "legal");
        assert_eq!(a.cancel.len(), 2);
    }

    #[test]
    fn cure_payoff_and_write_off_cancel() {
        let open = [
            "welcome",
            "collect:2026-02-01",
            "overdue:1:2026-02-01",
            "reminder:2:2026-03-01:3",
        ];
        let st = status(d("2026-02-10"), None, Lifecycle::Active, 0);
        let a = run(&st, Some(&summary(0)), &[], &open, Some(d("2026-06-30")));
        // cured: delinquency tasks go; the reminder of installment 2 (still open) stays
        assert_eq!(
            a.cancel,
            [
                ("collect:2026-02-01".to_string(), CancelReason::Cured),
                ("overdue:1:2026-02-01".to_string(), CancelReason::Cured),
            ]
        );
        for (lifecycle, reason) in [
            (Lifecycle::PaidOff, CancelReason::PaidOff),
            (Lifecycle::WrittenOff, CancelReason::WrittenOff),
        ] {
            let st = status(d("2026-02-10"), None, lifecycle, 0);
            let a = run(&st, Some(&summary(0)), &[], &open, Some(d("2026-06-30")));
            assert!(a.create.is_empty());
            assert_eq!(a.cancel.len(), 4);
            assert!(a.cancel.iter().all(|(_, r)| *r == reason));
            assert_eq!((a.next_continuous_on, a.next_visit_on), (None, None));
        }
    }

    #[test]
    fn promises() {
        let pay = |on: &str, fen: i64| Payment {
            paid_on: d(on),
            amount: Money::from_fen(fen),
        };
        let a = Money::from_fen(1000);
        let (p, due) = (d("2026-03-01"), d("2026-03-05"));
        let pays = [pay("2026-02-28", 5000), pay("2026-03-02", 600)];
        assert_eq!(
            evaluate_promise(a, p, due, &pays, d("2026-03-05")),
            PromiseOutcome::Open
        );
        assert_eq!(
            evaluate_promise(a, p, due, &pays, d("2026-03-06")),
            PromiseOutcome::Broken
        );
        let pays = [
            pay("2026-03-02", 600),
            pay("2026-03-05", 400),
            pay("2026-03-06", 1),
        ];
        assert_eq!(
            evaluate_promise(a, p, due, &pays, d("2026-03-06")),
            PromiseOutcome::Kept
        );
        assert_eq!(
            evaluate_promise(a, p, due, &pays, d("2026-03-04")),
            PromiseOutcome::Open
        );
    }

    #[test]
    fn unreachable_while_overdue() {
        let st = status(d("2026-03-10"), Some(d("2026-02-01")), Lifecycle::Active, 2);
        assert_eq!(unreachable_for(&st, None, 30), Some(37));
        assert_eq!(unreachable_for(&st, Some(d("2026-02-20")), 30), None);
        assert_eq!(unreachable_for(&st, Some(d("2026-01-20")), 30), Some(37));
        let current = status(d("2026-03-10"), None, Lifecycle::Active, 0);
        assert_eq!(unreachable_for(&current, None, 30), None);
        let plan = FollowUpPlan::default();
        let signal = |on: &str, value: &str| ObservedSignal {
            kind: "unreachable".into(),
            observed_on: d(on),
            value: value.into(),
        };
        let attempt = |on: &str| signal(on, "no_answer:1");
        let engine = |on: &str| signal(on, "{\"days\":30}");
        // nobody tried: the borrower is not unreachable, however long the loan is overdue
        assert_eq!(unreachable_signal_days(&plan, &st, None, &[]), None);
        // an unanswered attempt during this delinquency, nobody reached since: 37 days
        assert_eq!(
            unreachable_signal_days(&plan, &st, None, &[attempt("2026-02-05")]),
            Some(37)
        );
        assert_eq!(
            unreachable_signal_days(&plan, &st, None, &[attempt("2026-01-05")]),
            None,
            "an earlier delinquency's attempt does not count"
        );
        assert_eq!(
            unreachable_signal_days(&plan, &st, Some(d("2026-02-06")), &[attempt("2026-02-05")]),
            None,
            "reached after the attempt (and less than 30 days ago)"
        );
        // once per delinquency: not again after the signal with its days
        assert_eq!(
            unreachable_signal_days(
                &plan,
                &st,
                None,
                &[attempt("2026-02-05"), engine("2026-03-03")]
            ),
            None
        );
        assert_eq!(
            unreachable_signal_days(
                &plan,
                &st,
                None,
                &[engine("2026-01-03"), attempt("2026-02-05")]
            ),
            Some(37),
            "an earlier delinquency's signal does not count"
        );
        // the visit it asks for: 30 days after the due date (or the last contact), if later
        let early = status(d("2026-02-20"), Some(d("2026-02-01")), Lifecycle::Active, 1);
        assert_eq!(
            unreachable_signal_on(&plan, &early, None, &[attempt("2026-02-05")]),
            Some(d("2026-03-03"))
        );
        assert_eq!(
            unreachable_signal_on(
                &plan,
                &early,
                Some(d("2026-02-04")),
                &[attempt("2026-02-05")]
            ),
            Some(d("2026-03-06"))
        );
        assert_eq!(unreachable_signal_on(&plan, &early, None, &[]), None);
        assert_eq!(
            unreachable_signal_on(&plan, &st, None, &[attempt("2026-02-05")]),
            None,
            "already due: today's evaluation records it"
        );
        assert!(tried_in_vain_after(
            &[attempt("2026-02-05")],
            d("2026-02-01")
        ));
        assert!(!tried_in_vain_after(
            &[engine("2026-02-05")],
            d("2026-02-01")
        ));
        assert!(!tried_in_vain_after(
            &[attempt("2026-01-05")],
            d("2026-02-01")
        ));
    }

    #[test]
    fn scripts_raise_signals() {
        for kind in TaskKind::ALL {
            for lang in SCRIPT_LANGS {
                assert!(!default_script(kind, lang).questions.is_empty());
            }
        }
        let s = default_script(TaskKind::InitialFollowUp, "en");
        let answers = [
            ("vehicle_use".to_string(), "sold".to_string()),
            ("income_change_pct".to_string(), "-40".to_string()),
            ("repayment_started".to_string(), "yes".to_string()),
        ];
        let signals: Vec<String> = signals_from_answers(&s, &answers)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(signals, ["vehicle_sold", "income_drop"]);
        assert_eq!(
            TaskKind::of_key("escalate:M2:2026-01-01"),
            Some(TaskKind::Escalation)
        );
        assert_eq!(
            "collection_call".parse::<TaskKind>(),
            Ok(TaskKind::CollectionCall)
        );
    }

    proptest! {
        /// Whatever the loan's state: keys are unique, only open tasks are cancelled, nothing is
        /// both created and cancelled, and planning again with what was created changes nothing.
        #[test]
        fn planning_is_idempotent(
            day in 0i64..800,
            oldest_back in proptest::option::of(0i64..400),
            level in 0u8..4,
            before_level in 0u8..4,
            new_loan in any::<bool>(),
            lifecycle in 0u8..6,
            next_off in proptest::option::of(-30i64..400),
            open_mask in 0u16..256,
            horizon in proptest::option::of(1i64..90),
        ) {
            let disbursed = d("2026-01-01");
            let on = add_days(disbursed, day);
            let oldest = oldest_back.map(|b| add_days(on, -b - 1)).filter(|o| *o >= disbursed);
            let lifecycle = match lifecycle {
                0 => Lifecycle::PaidOff,
                1 => Lifecycle::WrittenOff,
                _ => Lifecycle::Active,
            };
            let st = status(on, oldest, lifecycle, level);
            let before = summary(before_level);
            let candidates = [
                "welcome".to_string(),
                "initial".to_string(),
                format!("collect:{}", oldest.unwrap_or(disbursed)),
                "collect:2025-01-01".to_string(),
                format!("escalate:M2:{}", oldest.unwrap_or(disbursed)),
                "reminder:1:2026-02-01:3".to_string(),
                "overdue:9:2030-01-01".to_string(),
                "field_visit:2025-01-01".to_string(),
            ];
            let open: Vec<String> = candidates
                .iter()
                .enumerate()
                .filter(|(i, _)| open_mask & (1 << i) != 0)
                .map(|(_, k)| k.clone())
                .collect();
            let next = next_off.map(|o| add_days(on, o));
            let inst = [(1, d("2026-02-01"))];
            let fp = FollowUpPlan::default();
            let policy = Policy::default();
            let facts = LoanFacts {
                date: on,
                disbursed_on: disbursed,
                status: &st,
                before: (!new_loan).then_some(&before),
                events: &[],
                open_installments: &inst,
                open_keys: &open,
                next_continuous_on: next,
                next_event_on: horizon.map(|h| add_days(on, h)),
            };
            let a = plan(&fp, &policy, &facts);
            let created: BTreeSet<&str> = a.create.iter().map(|t| t.reason_key.as_str()).collect();
            prop_assert_eq!(created.len(), a.create.len());
            for (k, _) in &a.cancel {
                prop_assert!(open.contains(k));
                prop_assert!(!created.contains(k.as_str()));
            }
            for t in &a.create {
                prop_assert!(!open.contains(&t.reason_key));
                prop_assert_eq!(TaskKind::of_key(&t.reason_key), Some(t.kind));
                prop_assert_eq!(t.late, t.due_on < on);
            }
            if lifecycle != Lifecycle::Active {
                prop_assert!(a.create.is_empty());
                prop_assert_eq!(a.cancel.len(), open.len());
            }
            if let Some(n) = a.next_visit_on {
                prop_assert!(n > on);
            }
            // again, with what was created now open and the new continuous date: nothing new
            let mut open2: Vec<String> = open
                .iter()
                .filter(|k| !a.cancel.iter().any(|(c, _)| c == *k))
                .cloned()
                .collect();
            open2.extend(a.create.iter().map(|t| t.reason_key.clone()));
            // (a re-run the same day starts from the summary this evaluation stored)
            let stored = st.summary();
            let again = plan(&fp, &policy, &LoanFacts {
                before: (!new_loan).then_some(&stored),
                open_keys: &open2,
                next_continuous_on: a.next_continuous_on,
                ..facts
            });
            prop_assert!(again.create.is_empty(), "{:?}", again.create);
            prop_assert!(again.cancel.is_empty(), "{:?}", again.cancel);
            prop_assert_eq!(again.next_continuous_on, a.next_continuous_on);
        }

        /// A promise is kept exactly when the payments in its window reach its amount, and more
        /// payments never turn a kept promise into a broken one.
        #[test]
        fn promise_evaluation(
            amount in 1i64..10_000,
            pays in proptest::collection::vec((0i64..20, 1i64..5_000), 0..6),
            late in 0i64..5,
        ) {
            let promised = d("2026-03-01");
            let due = d("2026-03-08");
            let payments: Vec<Payment> = pays
                .iter()
                .map(|(o, f)| Payment { paid_on: add_days(promised, *o - 3), amount: Money::from_fen(*f) })
                .collect();
            let in_window: i64 = pays.iter().filter(|(o, _)| (3..=10).contains(o)).map(|(_, f)| *f).sum();
            let on = add_days(due, late + 1);
            let got = evaluate_promise(Money::from_fen(amount), promised, due, &payments, on);
            prop_assert_eq!(got == PromiseOutcome::Kept, in_window >= amount);
            prop_assert!(got != PromiseOutcome::Open);
            let mut more = payments.clone();
            more.push(Payment { paid_on: due, amount: Money::from_fen(1) });
            if got == PromiseOutcome::Kept {
                prop_assert_eq!(evaluate_promise(Money::from_fen(amount), promised, due, &more, on), PromiseOutcome::Kept);
            }
        }
    }

    #[test]
    fn tasks_go_to_the_queue_of_the_highest_band_that_applies() {
        let mut plan = FollowUpPlan::default();
        assert!(!plan.routes_by_band());
        plan.score_queues = vec![
            ScoreQueue {
                from_band: 'D',
                kinds: vec![TaskKind::CollectionCall],
                queue: "high_risk".into(),
            },
            ScoreQueue {
                from_band: 'E',
                kinds: vec![TaskKind::CollectionCall],
                queue: "senior_collection".into(),
            },
        ];
        assert!(plan.routes_by_band());
        let q = |kind, band| plan.queue_for(kind, band, "early_collection".into());
        assert_eq!(q(TaskKind::CollectionCall, Some('C')), "early_collection");
        assert_eq!(q(TaskKind::CollectionCall, Some('D')), "high_risk");
        assert_eq!(q(TaskKind::CollectionCall, Some('E')), "senior_collection");
        assert_eq!(q(TaskKind::CollectionCall, None), "early_collection");
        assert_eq!(q(TaskKind::WelcomeCall, Some('E')), "early_collection");
        plan.score_queues[0].from_band = 'F';
        assert!(
            plan.validate()
                .unwrap_err()
                .contains("score_queues[0].from_band")
        );
    }
}

#[cfg(test)]
mod script_checks {
    use super::*;

    #[test]
    fn every_default_script_passes_and_a_broken_one_names_its_field() {
        for kind in TaskKind::ALL {
            for lang in SCRIPT_LANGS {
                let s = default_script(kind, lang);
                assert_eq!(check_questions(&s.questions), Ok(()), "{kind}/{lang}");
            }
        }
        let mut qs = default_script(TaskKind::WelcomeCall, "zh").questions;
        let first = qs[0].clone();
        qs.push(first.clone());
        let e = check_questions(&qs).unwrap_err();
        assert!(
            e.starts_with(&format!("questions[{}].id:", qs.len() - 1)),
            "{e}"
        );
        let mut q = first.clone();
        q.answer = AnswerType::Choice(vec![ChoiceOption {
            code: "only".into(),
            label: "x".into(),
            signal: None,
        }]);
        q.signal_if_no = None;
        assert_eq!(
            check_questions(&[q.clone()]),
            Err("questions[0].options: a choice has two options at least".into())
        );
        q.answer = AnswerType::Text;
        q.signal_if_no = Some("job_loss".into());
        assert!(
            check_questions(&[q.clone()])
                .unwrap_err()
                .starts_with("questions[0].signal_if_no: only a yes_no")
        );
        q.answer = AnswerType::YesNo;
        q.signal_if_no = Some("Job Loss".into());
        assert!(
            check_questions(&[q.clone()])
                .unwrap_err()
                .contains("is not a name")
        );
        q.signal_if_no = None;
        q.text = " ".into();
        assert_eq!(
            check_questions(&[q]),
            Err("questions[0].text: a question has a text".into())
        );
        assert!(check_questions(&[]).is_err());
    }
}

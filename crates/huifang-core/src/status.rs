//! A loan's status on a business date, the events a day brings, and the next date on which
//! anything about the loan can change — which is what lets the daily close touch only the loans
//! that have an event that day.

use crate::calendar::{Date, add_days, days_between};
use crate::loan::{InstallmentState, LoanState};
use crate::money::Money;
use crate::policy::{Bucket, Classification, Policy, WarningCondition, WarningRule};
use crate::warning::{self, FactsText, ObservedSignal, SignalKind};

/// Where a loan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Lifecycle {
    Active,
    PaidOff,
    WrittenOff,
}

impl Lifecycle {
    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::PaidOff => "paid_off",
            Lifecycle::WrittenOff => "written_off",
        }
    }

    /// Parses [`Lifecycle::as_str`].
    pub fn parse(s: &str) -> Option<Lifecycle> {
        [Lifecycle::Active, Lifecycle::PaidOff, Lifecycle::WrittenOff]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// A warning rule that holds, with the facts that made it fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningHit {
    pub level: u8,
    pub rule: String,
    /// The version of the rule that fired.
    pub version: u32,
    /// Name/value pairs, e.g. ("installments", "4,5").
    pub facts: Vec<(String, String)>,
    /// The facts as a risk officer reads them.
    pub text: FactsText,
}

/// A loan's status on one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanStatus {
    pub as_of: Date,
    pub lifecycle: Lifecycle,
    /// Due date of the oldest installment still unpaid, when it is before `as_of`.
    pub oldest_unpaid_due: Option<Date>,
    pub dpd: u32,
    pub bucket: Bucket,
    pub classification: Classification,
    /// Installments due before `as_of` with an unpaid amount.
    pub overdue_installments: u32,
    pub outstanding_principal: Money,
    /// Everything due before or on `as_of` and unpaid, penalty included.
    pub overdue_amount: Money,
    pub penalty_due: Money,
    pub warning: Option<WarningHit>,
}

impl LoanStatus {
    /// The highest warning level that holds, 0 when none.
    pub fn warning_level(&self) -> u8 {
        self.warning.as_ref().map_or(0, |w| w.level)
    }

    /// The parts that, when they change, are events.
    pub fn summary(&self) -> StatusSummary {
        StatusSummary {
            lifecycle: self.lifecycle,
            bucket: self.bucket,
            classification: self.classification,
            warning_level: self.warning_level(),
            overdue_installments: self.overdue_installments,
        }
    }
}

/// The stored part of a status that the daily close compares day to day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusSummary {
    pub lifecycle: Lifecycle,
    pub bucket: Bucket,
    pub classification: Classification,
    pub warning_level: u8,
    pub overdue_installments: u32,
}

/// DPD on `date` for a loan whose oldest unpaid installment fell due on `oldest_unpaid_due`.
pub fn dpd_on(oldest_unpaid_due: Option<Date>, date: Date) -> u32 {
    oldest_unpaid_due.map_or(0, |due| {
        u32::try_from(days_between(due, date).max(0)).unwrap_or(u32::MAX)
    })
}

/// Evaluates a replayed loan on `date`, with no follow-up signals (see [`evaluate_with`]).
pub fn evaluate(state: &LoanState, policy: &Policy, date: Date) -> LoanStatus {
    evaluate_with(state, policy, &[], date)
}

/// Evaluates a replayed loan on `date`, its warning rules reading the loan's risk signals too.
/// The state must hold only payments dated on or before `date` (payments after the business
/// date are refused at the edge).
pub fn evaluate_with(
    state: &LoanState,
    policy: &Policy,
    signals: &[ObservedSignal],
    date: Date,
) -> LoanStatus {
    let grace = state.grace_days;
    let lifecycle = if state.written_off_on.is_some_and(|d| d <= date) {
        Lifecycle::WrittenOff
    } else if state.is_paid_off() {
        Lifecycle::PaidOff
    } else {
        Lifecycle::Active
    };
    let mut oldest_unpaid_due = None;
    let mut overdue_installments = 0;
    let mut overdue_amount = Money::ZERO;
    let mut penalty_due = Money::ZERO;
    for inst in state.open_installments() {
        if inst.due_date < date {
            oldest_unpaid_due.get_or_insert(inst.due_date);
            overdue_installments += 1;
        }
        if inst.due_date <= date {
            overdue_amount += inst.amount_due(date, grace);
        }
        penalty_due += inst.penalty_due(date, grace);
    }
    let dpd = dpd_on(oldest_unpaid_due, date);
    let mut classification = policy.classification(dpd);
    if let Some(floor) = state.classification_floor {
        classification = classification.max(floor);
    }
    if watch_ends(state, policy).is_some_and(|end| date < end) {
        classification = classification.max(Classification::SpecialMention);
    }
    if lifecycle == Lifecycle::WrittenOff {
        classification = Classification::Loss;
    }
    let warning = if lifecycle == Lifecycle::Active {
        let facts = RuleFacts {
            state,
            signals,
            dpd,
            oldest_unpaid_due,
            date,
        };
        warning_on(policy, &facts)
    } else {
        None
    };
    LoanStatus {
        as_of: date,
        lifecycle,
        oldest_unpaid_due,
        dpd,
        bucket: policy.bucket(dpd),
        classification,
        overdue_installments,
        outstanding_principal: state.outstanding_principal(),
        overdue_amount,
        penalty_due,
        warning,
    }
}

/// Whether an installment was late: not fully paid by due date + grace.
fn was_late(inst: &InstallmentState, grace_days: u32) -> bool {
    let deadline = add_days(inst.due_date, i64::from(grace_days));
    !inst.is_paid_by(deadline)
}

/// The facts of "the `count` most recent installments whose due date + grace has passed were all
/// late", when it holds on `date`.
fn consecutive_late(state: &LoanState, count: u32, date: Date) -> Option<Fired> {
    let grace = state.grace_days;
    let wanted = usize::try_from(count).unwrap_or(usize::MAX);
    let recent: Vec<&InstallmentState> = state
        .installments
        .iter()
        .filter(|i| i.closed_by.is_none() && add_days(i.due_date, i64::from(grace)) < date)
        .rev()
        .take(wanted)
        .collect();
    let holds = wanted > 0 && recent.len() == wanted && recent.iter().all(|i| was_late(i, grace));
    holds.then(|| {
        let numbers: Vec<String> = recent.iter().rev().map(|i| i.n.to_string()).collect();
        let dues: Vec<String> = recent
            .iter()
            .rev()
            .map(|i| i.due_date.to_string())
            .collect();
        let late: Vec<(u32, i64)> = recent
            .iter()
            .rev()
            .map(|i| {
                let until = i.paid_off_on.map_or(date, |p| p.min(date));
                (i.n, days_between(i.due_date, until))
            })
            .collect();
        (
            vec![
                ("installments".to_string(), numbers.join(",")),
                ("due_dates".to_string(), dues.join(",")),
                ("grace_days".to_string(), grace.to_string()),
            ],
            warning::late_text(&late),
        )
    })
}

/// What the warning rules read about a loan on a date.
struct RuleFacts<'a> {
    state: &'a LoanState,
    signals: &'a [ObservedSignal],
    dpd: u32,
    oldest_unpaid_due: Option<Date>,
    date: Date,
}

type Fired = (Vec<(String, String)>, FactsText);

impl RuleFacts<'_> {
    /// The latest signal of `kind` that counts under a window of `within_days` and passes `keep`.
    fn latest(
        &self,
        kind: &str,
        within_days: u32,
        keep: impl Fn(&ObservedSignal) -> bool,
    ) -> Option<&ObservedSignal> {
        self.signals
            .iter()
            .filter(|s| s.kind == kind && s.counts_on(self.date, within_days) && keep(s))
            .max_by_key(|s| s.observed_on)
    }

    /// The facts of `condition` when it holds.
    fn fired(&self, condition: &WarningCondition) -> Option<Fired> {
        let signal_facts = |s: &ObservedSignal| {
            vec![
                ("signal".to_string(), s.kind.clone()),
                ("signal_on".to_string(), s.observed_on.to_string()),
                ("signal_value".to_string(), s.value.clone()),
            ]
        };
        match *condition {
            WarningCondition::DpdAtLeast { days } => (self.dpd >= days).then(|| {
                (
                    vec![
                        ("dpd".to_string(), self.dpd.to_string()),
                        ("threshold".to_string(), days.to_string()),
                    ],
                    warning::dpd_text(self.dpd, days),
                )
            }),
            WarningCondition::ConsecutiveLate { count } => {
                consecutive_late(self.state, count, self.date)
            }
            WarningCondition::Signal {
                ref kind,
                within_days,
            } => self
                .latest(kind, within_days, |_| true)
                .map(|s| (signal_facts(s), warning::signal_text(s))),
            WarningCondition::IncomeDown { pct, within_days } => {
                let floor = -i64::from(pct);
                self.latest(SignalKind::IncomeDrop.as_str(), within_days, |s| {
                    s.income_change_pct().is_some_and(|p| i64::from(p) <= floor)
                })
                .map(|s| (signal_facts(s), warning::signal_text(s)))
            }
            WarningCondition::BrokenPromises { count, within_days } => {
                let mut dates: Vec<Date> = self
                    .signals
                    .iter()
                    .filter(|s| {
                        s.is(SignalKind::BrokenPromise) && s.counts_on(self.date, within_days)
                    })
                    .map(|s| s.observed_on)
                    .collect();
                dates.sort_unstable();
                (u32::try_from(dates.len()).unwrap_or(u32::MAX) >= count).then(|| {
                    let listed: Vec<String> = dates.iter().map(Date::to_string).collect();
                    (
                        vec![
                            ("broken_on".to_string(), listed.join(",")),
                            ("within_days".to_string(), within_days.to_string()),
                        ],
                        warning::broken_text(&dates, within_days),
                    )
                })
            }
            WarningCondition::UnreachableWhileOverdue { days } => {
                let oldest = self.oldest_unpaid_due?;
                let s = self.latest(SignalKind::Unreachable.as_str(), u32::MAX, |s| {
                    s.observed_on > oldest && s.unreachable_days().is_some_and(|d| d >= days)
                })?;
                let reached = s.unreachable_days().unwrap_or(days);
                Some((
                    vec![
                        ("days".to_string(), reached.to_string()),
                        ("signal_on".to_string(), s.observed_on.to_string()),
                    ],
                    warning::unreachable_text(reached, s.observed_on),
                ))
            }
        }
    }

    /// The first date after `date` on which a signal that `rule` counts leaves its window.
    fn window_ends(&self, rule: &WarningRule) -> Option<Date> {
        let (kind, within_days) = match rule.condition {
            WarningCondition::Signal {
                ref kind,
                within_days,
            } => (kind.as_str(), within_days),
            WarningCondition::IncomeDown { within_days, .. } => {
                (SignalKind::IncomeDrop.as_str(), within_days)
            }
            WarningCondition::BrokenPromises { within_days, .. } => {
                (SignalKind::BrokenPromise.as_str(), within_days)
            }
            _ => return None,
        };
        self.signals
            .iter()
            .filter(|s| s.kind == kind && s.counts_on(self.date, within_days))
            .map(|s| s.until(within_days))
            .min()
    }
}

/// The highest-level rule that holds (the first in rule order among equals).
fn warning_on(policy: &Policy, facts: &RuleFacts) -> Option<WarningHit> {
    let mut best: Option<WarningHit> = None;
    for rule in &policy.warning_rules {
        if best.as_ref().is_some_and(|b| rule.level <= b.level) {
            continue;
        }
        if let Some((values, text)) = facts.fired(&rule.condition) {
            best = Some(WarningHit {
                level: rule.level,
                rule: rule.code.clone(),
                version: rule.version,
                facts: values,
                text,
            });
        }
    }
    best
}

/// Something the day brought to a loan, for follow-up and notification to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoanEvent {
    /// A repayment reminder is due (`days_before` 3, or 0 on the due date itself).
    ReminderDue {
        installment: u32,
        due_date: Date,
        days_before: u32,
        amount: Money,
    },
    /// An installment passed its due date unpaid.
    InstallmentOverdue {
        installment: u32,
        due_date: Date,
        amount: Money,
    },
    BucketChanged {
        from: Bucket,
        to: Bucket,
    },
    ClassificationChanged {
        from: Classification,
        to: Classification,
    },
    WarningRaised {
        from: u8,
        hit: WarningHit,
    },
    WarningCleared {
        from: u8,
        to: u8,
    },
    PaidOff,
    WrittenOff,
}

impl LoanEvent {
    /// The event's name used in storage and the API.
    pub fn kind(&self) -> &'static str {
        match self {
            LoanEvent::ReminderDue { .. } => "reminder_due",
            LoanEvent::InstallmentOverdue { .. } => "installment_overdue",
            LoanEvent::BucketChanged { .. } => "bucket_changed",
            LoanEvent::ClassificationChanged { .. } => "classification_changed",
            LoanEvent::WarningRaised { .. } => "warning_raised",
            LoanEvent::WarningCleared { .. } => "warning_cleared",
            LoanEvent::PaidOff => "paid_off",
            LoanEvent::WrittenOff => "written_off",
        }
    }

    /// The event's details as name/value pairs.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        match self {
            LoanEvent::ReminderDue {
                installment,
                due_date,
                days_before,
                amount,
            } => vec![
                ("installment", installment.to_string()),
                ("due_date", due_date.to_string()),
                ("days_before", days_before.to_string()),
                ("amount", amount.to_string()),
            ],
            LoanEvent::InstallmentOverdue {
                installment,
                due_date,
                amount,
            } => vec![
                ("installment", installment.to_string()),
                ("due_date", due_date.to_string()),
                ("amount", amount.to_string()),
            ],
            LoanEvent::BucketChanged { from, to } => {
                vec![("from", from.to_string()), ("to", to.to_string())]
            }
            LoanEvent::ClassificationChanged { from, to } => {
                vec![("from", from.to_string()), ("to", to.to_string())]
            }
            LoanEvent::WarningRaised { from, hit } => {
                let mut out = vec![
                    ("from", from.to_string()),
                    ("level", hit.level.to_string()),
                    ("rule", hit.rule.clone()),
                ];
                out.extend(hit.facts.iter().map(|(k, v)| ("fact", format!("{k}={v}"))));
                out
            }
            LoanEvent::WarningCleared { from, to } => {
                vec![("from", from.to_string()), ("to", to.to_string())]
            }
            LoanEvent::PaidOff | LoanEvent::WrittenOff => vec![],
        }
    }
}

/// The events that the change from `before` to `after` is (bucket, classification, warning,
/// pay-off and write-off transitions).
pub fn transition_events(before: &StatusSummary, after: &LoanStatus) -> Vec<LoanEvent> {
    // A written-off loan still moves through buckets (its status stays true), but nobody works it:
    // its moves are not events.
    if before.lifecycle == Lifecycle::WrittenOff && after.lifecycle == Lifecycle::WrittenOff {
        return Vec::new();
    }
    let mut out = Vec::new();
    if before.bucket != after.bucket {
        out.push(LoanEvent::BucketChanged {
            from: before.bucket,
            to: after.bucket,
        });
    }
    if before.classification != after.classification {
        out.push(LoanEvent::ClassificationChanged {
            from: before.classification,
            to: after.classification,
        });
    }
    let level = after.warning_level();
    match (&after.warning, level.cmp(&before.warning_level)) {
        (Some(hit), std::cmp::Ordering::Greater) => out.push(LoanEvent::WarningRaised {
            from: before.warning_level,
            hit: hit.clone(),
        }),
        (_, std::cmp::Ordering::Less) => out.push(LoanEvent::WarningCleared {
            from: before.warning_level,
            to: level,
        }),
        _ => {}
    }
    if before.lifecycle != after.lifecycle {
        match after.lifecycle {
            Lifecycle::PaidOff => out.push(LoanEvent::PaidOff),
            Lifecycle::WrittenOff => out.push(LoanEvent::WrittenOff),
            Lifecycle::Active => {}
        }
    }
    out
}

/// The events dated `date` itself: reminders and installments falling overdue.
pub fn dated_events(state: &LoanState, policy: &Policy, date: Date) -> Vec<LoanEvent> {
    if state.written_off_on.is_some_and(|d| d <= date) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for inst in state.open_installments() {
        for &before in &policy.reminder_days_before {
            if add_days(inst.due_date, -i64::from(before)) == date {
                out.push(LoanEvent::ReminderDue {
                    installment: inst.n,
                    due_date: inst.due_date,
                    days_before: before,
                    amount: inst.amount_due(date, state.grace_days),
                });
            }
        }
        if add_days(inst.due_date, 1) == date {
            out.push(LoanEvent::InstallmentOverdue {
                installment: inst.n,
                due_date: inst.due_date,
                amount: inst.amount_due(date, state.grace_days),
            });
        }
    }
    out
}

/// The first day after a restructured loan's watch period (during it the loan is at least
/// special_mention).
pub fn watch_ends(state: &LoanState, policy: &Policy) -> Option<Date> {
    let on = state.restructured_on?;
    (policy.restructure_watch_days > 0)
        .then(|| add_days(on, i64::from(policy.restructure_watch_days)))
}

/// The first date after `date` on which the loan's status can change or a dated event falls, if
/// nothing else (a payment, an operation) happens first. `None` once nothing more can happen.
///
/// A written-off loan still moves through buckets as its DPD grows (it stays owed), so its DPD
/// thresholds and overdue dates remain events; only reminders stop (see [`dated_events`]).
pub fn next_event_date(state: &LoanState, policy: &Policy, date: Date) -> Option<Date> {
    next_event_date_with(state, policy, &[], date)
}

/// [`next_event_date`] of a loan with risk signals: also the first date a signal a rule counts
/// leaves its window (the warning it raised may clear then).
pub fn next_event_date_with(
    state: &LoanState,
    policy: &Policy,
    signals: &[ObservedSignal],
    date: Date,
) -> Option<Date> {
    let written_off = state.written_off_on.is_some_and(|d| d <= date);
    let grace = i64::from(state.grace_days);
    let mut next: Option<Date> = None;
    let mut consider = |d: Date| {
        if d > date && next.is_none_or(|n| d < n) {
            next = Some(d);
        }
    };
    if let Some(end) = watch_ends(state, policy) {
        consider(end);
    }
    let mut oldest = None;
    for inst in state.open_installments() {
        oldest.get_or_insert(inst.due_date);
        if !written_off {
            for &before in &policy.reminder_days_before {
                consider(add_days(inst.due_date, -i64::from(before)));
            }
        }
        consider(add_days(inst.due_date, 1));
        consider(add_days(inst.due_date, grace + 1));
    }
    // While a consecutive-late rule holds, any installment passing its grace shifts the window
    // of "most recent" installments, even one already paid, and may clear the warning.
    let late_rule_holds = policy.warning_rules.iter().any(|r| matches!(r.condition, WarningCondition::ConsecutiveLate { count } if consecutive_late(state, count, date).is_some()));
    if !signals.is_empty() {
        let facts = RuleFacts {
            state,
            signals,
            dpd: 0,
            oldest_unpaid_due: None,
            date,
        };
        for rule in &policy.warning_rules {
            if let Some(end) = facts.window_ends(rule) {
                consider(end);
            }
        }
    }
    if late_rule_holds {
        for inst in state.installments.iter().filter(|i| i.closed_by.is_none()) {
            consider(add_days(inst.due_date, grace + 1));
        }
    }
    if let Some(due) = oldest {
        for threshold in policy.dpd_thresholds() {
            consider(add_days(due, i64::from(threshold)));
        }
    }
    if let Some(on) = state.written_off_on {
        consider(on);
    }
    next
}

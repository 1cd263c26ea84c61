//! The facts early-warning rules read besides repayment: the risk signals follow-ups record
//! (hardship, job loss, vehicle sold, unreachable, broken promises, …), and the text a risk
//! officer reads for each rule that fires, in Chinese and English.

use std::fmt;
use std::str::FromStr;

use crate::calendar::{Date, add_days};

/// A kind of risk signal, as recorded by follow-up outcomes, script answers and the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalKind {
    Hardship,
    IncomeDrop,
    JobLoss,
    BusinessTrouble,
    UnemployedNoIncome,
    Bankruptcy,
    Death,
    SeriousIllness,
    Imprisonment,
    VehicleSold,
    VehiclePledged,
    VehicleLost,
    Unreachable,
    BrokenPromise,
    GpsOffline,
    GpsPowerCut,
    GpsTamper,
    GpsDiverged,
    GpsLeftProvince,
    GpsPawnShopStay,
    GpsUsedCarMarketStay,
}

impl SignalKind {
    pub const ALL: [SignalKind; 21] = [
        SignalKind::Hardship,
        SignalKind::IncomeDrop,
        SignalKind::JobLoss,
        SignalKind::BusinessTrouble,
        SignalKind::UnemployedNoIncome,
        SignalKind::Bankruptcy,
        SignalKind::Death,
        SignalKind::SeriousIllness,
        SignalKind::Imprisonment,
        SignalKind::VehicleSold,
        SignalKind::VehiclePledged,
        SignalKind::VehicleLost,
        SignalKind::Unreachable,
        SignalKind::BrokenPromise,
        SignalKind::GpsOffline,
        SignalKind::GpsPowerCut,
        SignalKind::GpsTamper,
        SignalKind::GpsDiverged,
        SignalKind::GpsLeftProvince,
        SignalKind::GpsPawnShopStay,
        SignalKind::GpsUsedCarMarketStay,
    ];

    /// Kinds with a condition of their own (their value matters): a plain signal condition
    /// refuses them.
    pub const OWN_CONDITION: [SignalKind; 3] = [
        SignalKind::IncomeDrop,
        SignalKind::Unreachable,
        SignalKind::BrokenPromise,
    ];

    /// The name used in storage and rule documents.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Hardship => "hardship",
            SignalKind::IncomeDrop => "income_drop",
            SignalKind::JobLoss => "job_loss",
            SignalKind::BusinessTrouble => "business_trouble",
            SignalKind::UnemployedNoIncome => "unemployed_no_income",
            SignalKind::Bankruptcy => "bankruptcy",
            SignalKind::Death => "death",
            SignalKind::SeriousIllness => "serious_illness",
            SignalKind::Imprisonment => "imprisonment",
            SignalKind::VehicleSold => "vehicle_sold",
            SignalKind::VehiclePledged => "vehicle_pledged",
            SignalKind::VehicleLost => "vehicle_lost",
            SignalKind::Unreachable => "unreachable",
            SignalKind::BrokenPromise => "broken_promise",
            SignalKind::GpsOffline => "gps_offline",
            SignalKind::GpsPowerCut => "gps_power_cut",
            SignalKind::GpsTamper => "gps_tamper",
            SignalKind::GpsDiverged => "gps_diverged",
            SignalKind::GpsLeftProvince => "gps_left_province",
            SignalKind::GpsPawnShopStay => "gps_pawn_shop_stay",
            SignalKind::GpsUsedCarMarketStay => "gps_used_car_market_stay",
        }
    }

    /// What the signal says, in Chinese and in English.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            SignalKind::Hardship => ("反映经济困难", "hardship reported"),
            SignalKind::IncomeDrop => ("收入下降", "income down"),
            SignalKind::JobLoss => ("失业", "job lost"),
            SignalKind::BusinessTrouble => ("经营困难", "business in trouble"),
            SignalKind::UnemployedNoIncome => ("失业且无收入", "unemployed with no income"),
            SignalKind::Bankruptcy => ("破产", "bankrupt"),
            SignalKind::Death => ("死亡", "deceased"),
            SignalKind::SeriousIllness => ("重大疾病", "serious illness"),
            SignalKind::Imprisonment => ("被羁押或服刑", "imprisoned"),
            SignalKind::VehicleSold => ("车辆已出售", "vehicle sold"),
            SignalKind::VehiclePledged => ("车辆已质押", "vehicle pledged"),
            SignalKind::VehicleLost => ("车辆下落不明", "vehicle lost"),
            SignalKind::Unreachable => ("无法联系", "unreachable"),
            SignalKind::BrokenPromise => ("承诺还款未兑现", "promise to pay broken"),
            SignalKind::GpsOffline => ("有线定位器长时间离线", "wired tracker offline"),
            SignalKind::GpsPowerCut => ("定位器断电", "tracker power cut"),
            SignalKind::GpsTamper => ("定位器被拆动", "tracker tampered with"),
            SignalKind::GpsDiverged => (
                "有线与无线定位器位置分离",
                "wired and wireless trackers apart",
            ),
            SignalKind::GpsLeftProvince => ("车辆离开登记省份", "vehicle left its province"),
            SignalKind::GpsPawnShopStay => {
                ("车辆在典当行长时间停留", "vehicle staying at a pawn shop")
            }
            SignalKind::GpsUsedCarMarketStay => (
                "车辆在二手车市场长时间停留",
                "vehicle staying at a used-car market",
            ),
        }
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignalKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SignalKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown signal kind {s:?} (one of {})", names.join(", "))
            })
    }
}

/// Where a warning is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningState {
    /// Raised by a rule; nobody has looked at it yet.
    Raised,
    /// A risk officer has seen it.
    Acknowledged,
    /// A risk officer has recorded what was done about it (a task, a decision).
    Actioned,
    /// Closed: by a risk officer with a reason, or automatically once its condition had been
    /// false for the rule set's number of days.
    Resolved,
    /// Closed by a higher level raised on its loan.
    Escalated,
}

/// What a user asks of a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningCommand {
    Acknowledge,
    RecordAction,
    Resolve,
}

/// A step of a warning's life, as recorded in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningAction {
    Acknowledged,
    ActionTaken,
    Resolved,
    AutoResolved,
    Escalated,
    ConditionFalse,
    ConditionHolds,
}

impl WarningState {
    pub const ALL: [WarningState; 5] = [
        WarningState::Raised,
        WarningState::Acknowledged,
        WarningState::Actioned,
        WarningState::Resolved,
        WarningState::Escalated,
    ];

    /// The states of a warning still open.
    pub const OPEN: [WarningState; 3] = [
        WarningState::Raised,
        WarningState::Acknowledged,
        WarningState::Actioned,
    ];

    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningState::Raised => "raised",
            WarningState::Acknowledged => "acknowledged",
            WarningState::Actioned => "actioned",
            WarningState::Resolved => "resolved",
            WarningState::Escalated => "escalated",
        }
    }

    /// Whether the warning is still open.
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// The state after `command`, or why it is refused: a closed warning takes no command, one
    /// is acknowledged once, and what was done about it is recorded after it was acknowledged.
    pub fn after(self, command: WarningCommand) -> Result<WarningState, String> {
        match (self, command) {
            (WarningState::Resolved | WarningState::Escalated, _) => {
                Err(format!("the warning is {self}: it takes no more steps"))
            }
            (WarningState::Raised, WarningCommand::Acknowledge) => Ok(WarningState::Acknowledged),
            (_, WarningCommand::Acknowledge) => Err("the warning is acknowledged already".into()),
            (WarningState::Raised, WarningCommand::RecordAction) => {
                Err("acknowledge the warning first".into())
            }
            (_, WarningCommand::RecordAction) => Ok(WarningState::Actioned),
            (_, WarningCommand::Resolve) => Ok(WarningState::Resolved),
        }
    }
}

impl fmt::Display for WarningState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WarningState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WarningState::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| format!("unknown warning state {s:?}"))
    }
}

impl WarningAction {
    pub const ALL: [WarningAction; 7] = [
        WarningAction::Acknowledged,
        WarningAction::ActionTaken,
        WarningAction::Resolved,
        WarningAction::AutoResolved,
        WarningAction::Escalated,
        WarningAction::ConditionFalse,
        WarningAction::ConditionHolds,
    ];

    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            WarningAction::Acknowledged => "acknowledged",
            WarningAction::ActionTaken => "action_taken",
            WarningAction::Resolved => "resolved",
            WarningAction::AutoResolved => "auto_resolved",
            WarningAction::Escalated => "escalated",
            WarningAction::ConditionFalse => "condition_false",
            WarningAction::ConditionHolds => "condition_holds",
        }
    }

    /// The action a user's command records.
    pub fn of(command: WarningCommand) -> WarningAction {
        match command {
            WarningCommand::Acknowledge => WarningAction::Acknowledged,
            WarningCommand::RecordAction => WarningAction::ActionTaken,
            WarningCommand::Resolve => WarningAction::Resolved,
        }
    }
}

impl FromStr for WarningAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WarningAction::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| format!("unknown warning action {s:?}"))
    }
}

/// What becomes of a loan's open warning when the rules say its level changed. `to` is the
/// loan's new level (0: no rule holds), `auto_resolve_days` the rule set's grace before a
/// warning whose condition is false is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenWarningFate {
    /// Closed by the higher level raised on the loan.
    Escalated,
    /// Closed now: a lower level is raised instead, or the rule set resolves at once.
    AutoResolved,
    /// Kept open, its condition false from today, until it has been false for the days.
    ConditionFalse,
    /// The same level holds again: kept open, no longer false, and no new warning raised.
    ConditionHolds,
}

/// The fate of an open warning at `open_level` (false since some day, or not) when its loan's
/// level becomes `to`.
pub fn fate_of_open(
    open_level: u8,
    open_is_false: bool,
    to: u8,
    auto_resolve_days: u32,
) -> Option<OpenWarningFate> {
    if to > open_level {
        Some(OpenWarningFate::Escalated)
    } else if to == open_level {
        open_is_false.then_some(OpenWarningFate::ConditionHolds)
    } else if to == 0 && auto_resolve_days > 0 {
        (!open_is_false).then_some(OpenWarningFate::ConditionFalse)
    } else {
        Some(OpenWarningFate::AutoResolved)
    }
}

/// A risk signal recorded on a loan. Its kind is one of [`SignalKind`]'s, or a name a follow-up
/// script attaches to an answer (`funds_not_at_dealer`, …): rules may read either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedSignal {
    pub kind: String,
    pub observed_on: Date,
    /// The signal's value: the income change in % for `income_drop` (`-40`), the days without
    /// contact for the close's `unreachable` (a JSON object with `days`), empty for most.
    pub value: String,
}

impl ObservedSignal {
    /// Whether the signal still counts on `date` under a window of `within_days`: observed on or
    /// before `date` and fewer than `within_days` days before it.
    pub fn counts_on(&self, date: Date, within_days: u32) -> bool {
        self.observed_on <= date && date < self.until(within_days)
    }

    /// The first date the signal no longer counts under a window of `within_days`.
    pub fn until(&self, within_days: u32) -> Date {
        add_days(self.observed_on, i64::from(within_days))
    }

    /// Whether the signal is of this built-in kind.
    pub fn is(&self, kind: SignalKind) -> bool {
        self.kind == kind.as_str()
    }

    /// The income change in % an `income_drop` signal carries.
    pub fn income_change_pct(&self) -> Option<i32> {
        self.is(SignalKind::IncomeDrop)
            .then(|| self.value.trim().parse().ok())
            .flatten()
    }

    /// The days without contact the close's `unreachable` signal carries (`{"days":"30",…}`);
    /// `None` for the per-attempt `unreachable` signals of unanswered calls.
    pub fn unreachable_days(&self) -> Option<u32> {
        if !self.is(SignalKind::Unreachable) {
            return None;
        }
        let rest = self.value.split("\"days\":").nth(1)?;
        let digits: String = rest
            .trim_start_matches([' ', '"'])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }
}

/// A rule's facts as a risk officer reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FactsText {
    pub zh: String,
    pub en: String,
}

/// "7 and 8", "6, 7 and 8".
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The text of "installments … late by … days".
pub(crate) fn late_text(installments: &[(u32, i64)]) -> FactsText {
    let numbers: Vec<String> = installments.iter().map(|(n, _)| n.to_string()).collect();
    let days: Vec<String> = installments.iter().map(|(_, d)| d.to_string()).collect();
    match installments {
        [(n, d)] => FactsText {
            zh: format!("第 {n} 期逾期 {d} 天"),
            en: format!("installment {n} late by {d} days"),
        },
        _ => FactsText {
            zh: format!(
                "第 {} 期分别逾期 {} 天",
                numbers.join("、"),
                days.join(" 天、")
            ),
            en: format!(
                "installments {} late by {} days",
                and_list(&numbers),
                and_list(&days)
            ),
        },
    }
}

/// The text of a follow-up signal: "回访记录 2026-11-03: 收入下降 40%".
pub(crate) fn signal_text(s: &ObservedSignal) -> FactsText {
    let words = s.kind.parse::<SignalKind>().map(SignalKind::words);
    let (zh, en) = match words {
        Ok((zh, en)) => (zh, en),
        Err(_) => (s.kind.as_str(), s.kind.as_str()),
    };
    match s.income_change_pct() {
        Some(pct) => FactsText {
            zh: format!("回访记录 {}: {zh} {}%", s.observed_on, pct.unsigned_abs()),
            en: format!("follow-up {}: {en} {}%", s.observed_on, pct.unsigned_abs()),
        },
        None => FactsText {
            zh: format!("回访记录 {}: {zh}", s.observed_on),
            en: format!("follow-up {}: {en}", s.observed_on),
        },
    }
}

/// The text of broken promises within a window.
pub(crate) fn broken_text(dates: &[Date], within_days: u32) -> FactsText {
    let days: Vec<String> = dates.iter().map(Date::to_string).collect();
    FactsText {
        zh: format!(
            "{within_days} 天内 {} 次承诺还款未兑现: {}",
            dates.len(),
            days.join("、")
        ),
        en: format!(
            "{} promises to pay broken within {within_days} days: {}",
            dates.len(),
            days.join(", ")
        ),
    }
}

/// The text of a DPD threshold reached.
pub(crate) fn dpd_text(dpd: u32, threshold: u32) -> FactsText {
    FactsText {
        zh: format!("逾期 {dpd} 天（阈值 {threshold} 天）"),
        en: format!("{dpd} days past due (threshold {threshold})"),
    }
}

/// The text of an overdue loan nobody reached.
pub(crate) fn unreachable_text(days: u32, since: Date) -> FactsText {
    FactsText {
        zh: format!("逾期期间 {days} 天未能联系上借款人（{since} 记录）"),
        en: format!("unreachable for {days} days while overdue (recorded {since})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_date;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn a_warning_lives_raised_acknowledged_actioned_resolved() {
        use WarningCommand as C;
        use WarningState as S;
        assert_eq!(S::Raised.after(C::Acknowledge), Ok(S::Acknowledged));
        assert!(S::Raised.after(C::RecordAction).is_err());
        assert_eq!(S::Acknowledged.after(C::RecordAction), Ok(S::Actioned));
        assert_eq!(S::Actioned.after(C::RecordAction), Ok(S::Actioned));
        assert!(S::Acknowledged.after(C::Acknowledge).is_err());
        for open in S::OPEN {
            assert_eq!(open.after(C::Resolve), Ok(S::Resolved));
        }
        for closed in [S::Resolved, S::Escalated] {
            for c in [C::Acknowledge, C::RecordAction, C::Resolve] {
                assert!(closed.after(c).is_err());
            }
        }
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<S>(), Ok(s));
        }
        for a in WarningAction::ALL {
            assert_eq!(a.as_str().parse::<WarningAction>(), Ok(a));
        }
    }

    #[test]
    fn an_open_warning_follows_its_loans_level() {
        use OpenWarningFate as F;
        assert_eq!(fate_of_open(2, false, 3, 0), Some(F::Escalated));
        assert_eq!(fate_of_open(2, true, 3, 7), Some(F::Escalated));
        assert_eq!(fate_of_open(3, false, 2, 7), Some(F::AutoResolved));
        assert_eq!(fate_of_open(2, false, 0, 0), Some(F::AutoResolved));
        assert_eq!(fate_of_open(2, false, 0, 7), Some(F::ConditionFalse));
        assert_eq!(fate_of_open(2, true, 0, 7), None, "false already");
        assert_eq!(fate_of_open(2, true, 2, 7), Some(F::ConditionHolds));
        assert_eq!(fate_of_open(2, false, 2, 7), None);
    }

    #[test]
    fn names_round_trip() {
        for k in SignalKind::ALL {
            assert_eq!(k.as_str().parse::<SignalKind>(), Ok(k));
        }
        assert!("vehicle".parse::<SignalKind>().is_err());
    }

    #[test]
    fn windows_and_values() {
        let s = ObservedSignal {
            kind: "income_drop".into(),
            observed_on: d("2026-11-03"),
            value: "-40".into(),
        };
        assert!(!s.counts_on(d("2026-11-02"), 30));
        assert!(s.counts_on(d("2026-11-03"), 30));
        assert!(s.counts_on(d("2026-12-02"), 30));
        assert!(!s.counts_on(d("2026-12-03"), 30));
        assert_eq!(s.income_change_pct(), Some(-40));
        assert_eq!(
            signal_text(&s),
            FactsText {
                zh: "回访记录 2026-11-03: 收入下降 40%".into(),
                en: "follow-up 2026-11-03: income down 40%".into()
            }
        );
        let u = ObservedSignal {
            kind: "unreachable".into(),
            observed_on: d("2026-11-03"),
            value: r#"{"days":"31","dpd":"40"}"#.into(),
        };
        assert_eq!(u.unreachable_days(), Some(31));
        let attempt = ObservedSignal {
            value: "no_answer:2".into(),
            ..u
        };
        assert_eq!(attempt.unreachable_days(), None);
    }

    #[test]
    fn late_text_reads_as_written() {
        assert_eq!(
            late_text(&[(7, 12), (8, 9)]),
            FactsText {
                zh: "第 7、8 期分别逾期 12 天、9 天".into(),
                en: "installments 7 and 8 late by 12 and 9 days".into()
            }
        );
        assert_eq!(
            late_text(&[(6, 40), (7, 12), (8, 9)]).en,
            "installments 6, 7 and 8 late by 40, 12 and 9 days"
        );
        assert_eq!(late_text(&[(3, 5)]).zh, "第 3 期逾期 5 天");
    }
}

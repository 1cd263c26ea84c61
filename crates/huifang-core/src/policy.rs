//! Business rules held as data: products, buckets, classification, warning rules, reminders.
//!
//! Every default of the product brief is a value here, not code: a lender changes it without a
//! rebuild (the application loads overrides from its configuration).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::decision::DecisionLimits;
use crate::money::{Money, Rate};
use crate::warning::SignalKind;

/// A loan product's servicing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRules {
    /// Days after a due date within which a full payment waives penalty interest.
    pub grace_days: u32,
    /// Penalty interest = overdue principal × annual rate × (1 + markup) / 360 per day;
    /// a markup of 0 means the product charges no penalty interest.
    pub penalty_rate_markup: Rate,
}

impl Default for ProductRules {
    fn default() -> Self {
        ProductRules {
            grace_days: 3,
            penalty_rate_markup: Rate::from_decimal(Decimal::new(5, 1)),
        }
    }
}

impl ProductRules {
    /// Penalty interest per fen of overdue principal per day, for a loan at `annual_rate`:
    /// annual rate × (1 + markup) / 360, as an exact fraction.
    pub fn penalty_rate(&self, annual_rate: Rate) -> PenaltyRate {
        let (markup_num, markup_den) = self.penalty_rate_markup.fraction();
        if markup_num == 0 {
            return PenaltyRate::ZERO;
        }
        let (rate_num, rate_den) = annual_rate.fraction();
        PenaltyRate::new(
            rate_num.saturating_mul(markup_den.saturating_add(markup_num)),
            rate_den.saturating_mul(markup_den).saturating_mul(360),
        )
    }
}

/// Penalty interest per fen of overdue principal per day, as the exact fraction `num / den`.
///
/// Penalty is accrued in fen-days (overdue principal in fen × days) and rounded half-up to the
/// fen only from the exact product, so a figure of exactly half a fen rounds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PenaltyRate {
    num: i128,
    den: i128,
}

impl PenaltyRate {
    /// No penalty interest.
    pub const ZERO: PenaltyRate = PenaltyRate { num: 0, den: 1 };

    fn new(num: i128, den: i128) -> Self {
        let (num, den) = crate::money::reduce(num, den);
        PenaltyRate { num, den }
    }

    /// Whether the rate charges nothing.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// The exact penalty on `fen_days` (overdue principal in fen × days), in units of
    /// `1 / self.unit()` fen: what [`PenaltyRate::to_money`] rounds.
    pub fn accrue(self, fen_days: i128) -> i128 {
        fen_days.saturating_mul(self.num)
    }

    /// How many accrual units make a fen.
    pub fn unit(self) -> i128 {
        self.den
    }

    /// An exact accrual (in units of `1 / self.unit()` fen) rounded half-up to the fen.
    pub fn to_money(self, accrued: i128) -> Money {
        Money::from_fen_ratio_half_up(accrued, self.den)
    }

    /// The penalty on `principal` overdue for `days`, rounded half-up from its exact value.
    pub fn on(self, principal: Money, days: i64) -> Money {
        self.to_money(self.accrue(i128::from(principal.fen()).saturating_mul(i128::from(days))))
    }
}

/// The five-tier loan classification (五级分类).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Classification {
    /// 正常
    Normal,
    /// 关注
    SpecialMention,
    /// 次级
    Substandard,
    /// 可疑
    Doubtful,
    /// 损失
    Loss,
}

impl Classification {
    /// Non-performing (不良): substandard, doubtful or loss.
    pub fn is_non_performing(self) -> bool {
        self >= Classification::Substandard
    }

    /// All tiers, best first.
    pub const ALL: [Classification; 5] = [
        Self::Normal,
        Self::SpecialMention,
        Self::Substandard,
        Self::Doubtful,
        Self::Loss,
    ];

    /// The name used in files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::SpecialMention => "special_mention",
            Self::Substandard => "substandard",
            Self::Doubtful => "doubtful",
            Self::Loss => "loss",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Self::Normal => "正常",
            Self::SpecialMention => "关注",
            Self::Substandard => "次级",
            Self::Doubtful => "可疑",
            Self::Loss => "损失",
        }
    }
}

impl fmt::Display for Classification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Classification {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s || c.zh() == s)
            .ok_or_else(|| format!("unknown classification {s:?}"))
    }
}

/// A delinquency bucket: M0 (current), M1 … M6, and M7+ (the last bucket, open-ended).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Bucket(pub u8);

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&if self.0 >= 7 {
            format!("M{}+", self.0)
        } else {
            format!("M{}", self.0)
        })
    }
}

impl FromStr for Bucket {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.strip_prefix('M')
            .map(|r| r.trim_end_matches('+'))
            .and_then(|r| r.parse().ok())
            .map(Bucket)
            .ok_or_else(|| format!("unknown bucket {s:?}"))
    }
}

/// What makes a warning rule fire: a repayment fact, or a follow-up signal recorded within a
/// window of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningCondition {
    /// The `count` most recent installments whose due date + grace has passed were all late
    /// (not fully paid by due date + grace).
    ConsecutiveLate { count: u32 },
    /// Days past due at least `days`.
    DpdAtLeast { days: u32 },
    /// At least `count` promises to pay broken within the last `within_days` days.
    BrokenPromises { count: u32, within_days: u32 },
    /// A follow-up within the last `within_days` days reported income down by `pct` % or more.
    IncomeDown { pct: u32, within_days: u32 },
    /// A follow-up signal of `kind` (a [`SignalKind`], or a name a follow-up script attaches to
    /// an answer) recorded within the last `within_days` days.
    Signal { kind: String, within_days: u32 },
    /// Overdue, and nobody has reached the borrower for at least `days` days of it (the close
    /// records this once per delinquency, after the follow-up plan's unreachable days).
    UnreachableWhileOverdue { days: u32 },
}

/// One early-warning rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningRule {
    /// A stable id stored with each warning it raises.
    pub code: String,
    /// 1 初步, 2 中级, 3 高级.
    pub level: u8,
    /// The version of the rule set in which this rule last changed.
    pub version: u32,
    pub condition: WarningCondition,
}

/// The longest a warning whose condition is false may wait to be resolved automatically.
pub const MAX_AUTO_RESOLVE_DAYS: u32 = 365;

/// The longest window of days a signal condition may look back.
pub const MAX_WINDOW_DAYS: u32 = 3_650;

impl WarningRule {
    fn new(code: &str, level: u8, condition: WarningCondition) -> WarningRule {
        WarningRule {
            code: code.into(),
            level,
            version: 1,
            condition,
        }
    }

    /// The product brief's default rules (rule-set version 1): its repayment rules, and one rule
    /// per follow-up signal that DOMAIN.md names for levels 2 and 3.
    pub fn defaults() -> Vec<WarningRule> {
        use WarningCondition as C;
        let signal = |kind: SignalKind, within_days| C::Signal {
            kind: kind.as_str().to_string(),
            within_days,
        };
        vec![
            WarningRule::new("two_consecutive_late", 1, C::ConsecutiveLate { count: 2 }),
            WarningRule::new(
                "income_down_30",
                2,
                C::IncomeDown {
                    pct: 30,
                    within_days: 180,
                },
            ),
            WarningRule::new("job_loss", 2, signal(SignalKind::JobLoss, 180)),
            WarningRule::new(
                "business_trouble",
                2,
                signal(SignalKind::BusinessTrouble, 180),
            ),
            WarningRule::new(
                "two_broken_promises_90d",
                2,
                C::BrokenPromises {
                    count: 2,
                    within_days: 90,
                },
            ),
            WarningRule::new("dpd_31", 2, C::DpdAtLeast { days: 31 }),
            WarningRule::new(
                "unemployed_no_income",
                3,
                signal(SignalKind::UnemployedNoIncome, 365),
            ),
            WarningRule::new("bankruptcy", 3, signal(SignalKind::Bankruptcy, 365)),
            WarningRule::new("death", 3, signal(SignalKind::Death, 365)),
            WarningRule::new(
                "serious_illness",
                3,
                signal(SignalKind::SeriousIllness, 365),
            ),
            WarningRule::new("imprisonment", 3, signal(SignalKind::Imprisonment, 365)),
            WarningRule::new("vehicle_sold", 3, signal(SignalKind::VehicleSold, 365)),
            WarningRule::new(
                "vehicle_pledged",
                3,
                signal(SignalKind::VehiclePledged, 365),
            ),
            WarningRule::new("vehicle_lost", 3, signal(SignalKind::VehicleLost, 365)),
            WarningRule::new(
                "unreachable_30d_overdue",
                3,
                C::UnreachableWhileOverdue { days: 30 },
            ),
            WarningRule::new("dpd_91", 3, C::DpdAtLeast { days: 91 }),
            // the trackers' signals (vehicle monitoring)
            WarningRule::new("gps_offline", 2, signal(SignalKind::GpsOffline, 30)),
            WarningRule::new("gps_diverged", 2, signal(SignalKind::GpsDiverged, 30)),
            WarningRule::new(
                "gps_left_province",
                2,
                signal(SignalKind::GpsLeftProvince, 30),
            ),
            WarningRule::new("gps_tamper", 2, signal(SignalKind::GpsTamper, 30)),
            WarningRule::new(
                "gps_used_car_market_stay",
                2,
                signal(SignalKind::GpsUsedCarMarketStay, 90),
            ),
            WarningRule::new("gps_power_cut", 3, signal(SignalKind::GpsPowerCut, 30)),
            WarningRule::new(
                "gps_pawn_shop_stay",
                3,
                signal(SignalKind::GpsPawnShopStay, 90),
            ),
        ]
    }
}

impl WarningCondition {
    /// Checks the condition's numbers; `field` names a field of its rule.
    fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), PolicyError> {
        let within = |days: u32| {
            if (1..=MAX_WINDOW_DAYS).contains(&days) {
                Ok(())
            } else {
                refuse(
                    field("within_days"),
                    format!("must be 1 to {MAX_WINDOW_DAYS}, not {days}"),
                )
            }
        };
        match *self {
            WarningCondition::ConsecutiveLate { count } if !(1..=12).contains(&count) => {
                refuse(field("count"), format!("must be 1 to 12, not {count}"))
            }
            WarningCondition::DpdAtLeast { days } if days == 0 || days > MAX_THRESHOLD_DPD => {
                refuse(
                    field("days"),
                    format!("must be 1 to {MAX_THRESHOLD_DPD}, not {days}"),
                )
            }
            WarningCondition::BrokenPromises { count, .. } if !(1..=20).contains(&count) => {
                refuse(field("count"), format!("must be 1 to 20, not {count}"))
            }
            WarningCondition::IncomeDown { pct, .. } if !(1..=100).contains(&pct) => {
                refuse(field("pct"), format!("must be 1 to 100, not {pct}"))
            }
            WarningCondition::Signal { ref kind, .. } if !is_name(kind) => refuse(
                field("signal"),
                "must be a signal name: 1 to 64 characters of a-z, 0-9 and _",
            ),
            WarningCondition::Signal { ref kind, .. }
                if SignalKind::OWN_CONDITION
                    .iter()
                    .any(|k| k.as_str() == kind.as_str()) =>
            {
                let own = match kind.as_str() {
                    "income_drop" => "income_down",
                    "broken_promise" => "broken_promises",
                    _ => "unreachable_while_overdue",
                };
                refuse(
                    field("signal"),
                    format!("{kind} has a condition of its own: use {own}"),
                )
            }
            WarningCondition::UnreachableWhileOverdue { days }
                if !(1..=MAX_WINDOW_DAYS).contains(&days) =>
            {
                refuse(
                    field("days"),
                    format!("must be 1 to {MAX_WINDOW_DAYS}, not {days}"),
                )
            }
            WarningCondition::BrokenPromises { within_days, .. }
            | WarningCondition::IncomeDown { within_days, .. }
            | WarningCondition::Signal { within_days, .. } => within(within_days),
            _ => Ok(()),
        }
    }
}

/// Whether `s` is a name: 1 to 64 characters of a-z, 0-9 and _.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The servicing policy: every threshold of the product brief, with its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Width of a delinquency bucket in days (30: M1 = DPD 1–30).
    pub bucket_days: u32,
    /// The last bucket number; DPD beyond `bucket_days × (last_bucket − 1)` falls in it (7: M7+).
    pub last_bucket: u8,
    /// The lowest DPD of each tier, in tier order (0, 1, 91, 271, 361).
    pub classification_min_dpd: [u32; 5],
    /// Warning rules; the loan's warning level is the highest level whose rule holds.
    pub warning_rules: Vec<WarningRule>,
    /// Days a warning stays open once no rule holds for its loan any more, before it is
    /// resolved automatically (0: at once).
    pub warning_auto_resolve_days: u32,
    /// The limits on decisions (deferral, restructures) and the four-eyes amount, for every
    /// product without limits of its own.
    pub decision_limits: DecisionLimits,
    /// Limits of products of their own, by product code.
    pub product_decision_limits: BTreeMap<String, DecisionLimits>,
    /// Days before a due date on which a repayment reminder is due (3 and 0: on the day).
    pub reminder_days_before: Vec<u32>,
    /// Days after a restructure during which the loan is classified at least special_mention,
    /// its watch period (365: the 2023 classification rules' observation period of a year).
    pub restructure_watch_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            bucket_days: 30,
            last_bucket: 7,
            classification_min_dpd: [0, 1, 91, 271, 361],
            warning_rules: WarningRule::defaults(),
            warning_auto_resolve_days: 0,
            decision_limits: DecisionLimits::default(),
            product_decision_limits: BTreeMap::new(),
            reminder_days_before: vec![3, 0],
            restructure_watch_days: 365,
        }
    }
}

/// Why a policy was refused: the field (a path such as `warning_rules[1].level`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PolicyError {
    pub field: String,
    pub reason: String,
}

fn refuse(field: impl Into<String>, reason: impl Into<String>) -> Result<(), PolicyError> {
    Err(PolicyError {
        field: field.into(),
        reason: reason.into(),
    })
}

/// The most days a bucket may span.
pub const MAX_BUCKET_DAYS: u32 = 365;
/// The last bucket, open-ended (M7+): its label is fixed, so is its number.
pub const LAST_BUCKET: u8 = 7;
/// The highest DPD threshold a policy may name (100 years): every threshold is added to a due
/// date to find a loan's next event, which must stay a four-digit-year date.
pub const MAX_THRESHOLD_DPD: u32 = 36_500;
/// The most days before a due date a reminder may be due.
pub const MAX_REMINDER_DAYS: u32 = 60;

impl Policy {
    /// Checks every field; the first one out of bounds is named in the error.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(1..=MAX_BUCKET_DAYS).contains(&self.bucket_days) {
            refuse(
                "bucket_days",
                format!("must be 1 to {MAX_BUCKET_DAYS}, not {}", self.bucket_days),
            )?;
        }
        if self.last_bucket != LAST_BUCKET {
            refuse(
                "last_bucket",
                format!(
                    "must be {LAST_BUCKET} (the buckets are M0 … M{LAST_BUCKET}+), not {}",
                    self.last_bucket
                ),
            )?;
        }
        let mut previous: Option<u32> = None;
        for (dpd, tier) in self.classification_min_dpd.iter().zip(Classification::ALL) {
            let field = format!("classification_min_dpd.{tier}");
            match previous {
                _ if *dpd > MAX_THRESHOLD_DPD => refuse(
                    field,
                    format!("must be at most {MAX_THRESHOLD_DPD}, not {dpd}"),
                )?,
                None if *dpd != 0 => refuse(field, "the normal tier starts at DPD 0")?,
                Some(p) if *dpd <= p => refuse(
                    field,
                    format!("must be above the tier before it ({p}), not {dpd}"),
                )?,
                _ => {}
            }
            previous = Some(*dpd);
        }
        for (i, rule) in self.warning_rules.iter().enumerate() {
            let field = |name: &str| format!("warning_rules[{i}].{name}");
            let code_ok = !rule.code.is_empty()
                && rule.code.len() <= 64
                && rule
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !code_ok {
                refuse(field("id"), "must be 1 to 64 characters of a-z, 0-9 and _")?;
            }
            if self
                .warning_rules
                .iter()
                .take(i)
                .any(|r| r.code == rule.code)
            {
                refuse(
                    field("id"),
                    format!("{:?} is used by an earlier rule", rule.code),
                )?;
            }
            if !(1..=3).contains(&rule.level) {
                refuse(
                    field("level"),
                    format!("must be 1, 2 or 3, not {}", rule.level),
                )?;
            }
            rule.condition
                .validate(&|name: &str| field(&format!("when.{name}")))?;
        }
        if self.warning_auto_resolve_days > MAX_AUTO_RESOLVE_DAYS {
            refuse(
                "auto_resolve_days",
                format!(
                    "must be 0 to {MAX_AUTO_RESOLVE_DAYS}, not {}",
                    self.warning_auto_resolve_days
                ),
            )?;
        }
        let limits = std::iter::once(("decisions".to_string(), &self.decision_limits)).chain(
            self.product_decision_limits
                .iter()
                .map(|(code, l)| (format!("decisions.products.{code}"), l)),
        );
        for (field, l) in limits {
            if l.four_eyes_above.fen() < 0 {
                refuse(format!("{field}.four_eyes_above"), "must not be negative")?;
            }
            if l.max_deferral_months > 60 {
                refuse(
                    format!("{field}.max_deferral_months"),
                    format!("must be 0 to 60, not {}", l.max_deferral_months),
                )?;
            }
            if l.max_holiday_months > 12 {
                refuse(
                    format!("{field}.max_holiday_months"),
                    format!("must be 0 to 12, not {}", l.max_holiday_months),
                )?;
            }
            if l.max_restructures > 10 {
                refuse(
                    format!("{field}.max_restructures"),
                    format!("must be 0 to 10, not {}", l.max_restructures),
                )?;
            }
        }
        if self.restructure_watch_days > 3650 {
            refuse(
                "restructure_watch_days",
                format!("must be 0 to 3650, not {}", self.restructure_watch_days),
            )?;
        }
        for (i, days) in self.reminder_days_before.iter().enumerate() {
            let field = format!("reminder_days_before[{i}]");
            if *days > MAX_REMINDER_DAYS {
                refuse(
                    field,
                    format!("must be 0 to {MAX_REMINDER_DAYS}, not {days}"),
                )?;
            } else if self.reminder_days_before.iter().take(i).any(|d| d == days) {
                refuse(field, format!("{days} is listed twice"))?;
            }
        }
        Ok(())
    }

    /// The decision limits of a product.
    pub fn limits_for(&self, product_code: &str) -> &DecisionLimits {
        self.product_decision_limits
            .get(product_code)
            .unwrap_or(&self.decision_limits)
    }

    /// The bucket of a DPD.
    pub fn bucket(&self, dpd: u32) -> Bucket {
        if dpd == 0 {
            return Bucket(0);
        }
        let k = dpd.div_ceil(self.bucket_days.max(1));
        Bucket(u8::try_from(k).unwrap_or(u8::MAX).min(self.last_bucket))
    }

    /// The classification a DPD forces.
    pub fn classification(&self, dpd: u32) -> Classification {
        let mut tier = Classification::Normal;
        for (min, class) in self.classification_min_dpd.iter().zip(Classification::ALL) {
            if dpd >= *min {
                tier = class;
            }
        }
        tier
    }

    /// Every DPD at which the bucket, the classification or a DPD warning rule changes, ascending.
    pub fn dpd_thresholds(&self) -> Vec<u32> {
        let mut out: Vec<u32> = (1..=u32::from(self.last_bucket))
            .map(|k| self.bucket_days * (k - 1) + 1)
            .collect();
        out.extend(
            self.classification_min_dpd
                .iter()
                .copied()
                .filter(|d| *d > 0),
        );
        out.extend(self.warning_rules.iter().filter_map(|r| match r.condition {
            WarningCondition::DpdAtLeast { days } => Some(days),
            _ => None,
        }));
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_default_policy_is_valid_and_a_bad_one_names_its_field() {
        assert_eq!(Policy::default().validate(), Ok(()));
        let field = |edit: fn(&mut Policy)| {
            let mut p = Policy::default();
            edit(&mut p);
            p.validate().map_err(|e| e.field)
        };
        assert_eq!(field(|p| p.bucket_days = 0), Err("bucket_days".into()));
        assert_eq!(field(|p| p.last_bucket = 1), Err("last_bucket".into()));
        assert_eq!(field(|p| p.last_bucket = 12), Err("last_bucket".into()));
        assert_eq!(
            field(|p| p.classification_min_dpd[4] = 3_650_000),
            Err("classification_min_dpd.loss".into())
        );
        assert_eq!(
            field(|p| p.warning_rules[2].condition = WarningCondition::DpdAtLeast { days: 40_000 }),
            Err("warning_rules[2].when.days".into())
        );
        assert_eq!(
            field(|p| p.classification_min_dpd[0] = 1),
            Err("classification_min_dpd.normal".into())
        );
        assert_eq!(
            field(|p| p.classification_min_dpd[3] = 91),
            Err("classification_min_dpd.doubtful".into())
        );
        assert_eq!(
            field(|p| p.warning_rules[1].level = 4),
            Err("warning_rules[1].level".into())
        );
        assert_eq!(
            field(|p| p.warning_rules[2].code = "two_consecutive_late".into()),
            Err("warning_rules[2].id".into())
        );
        assert_eq!(
            field(|p| p.warning_rules[0].condition = WarningCondition::ConsecutiveLate { count: 0 }),
            Err("warning_rules[0].when.count".into())
        );
        assert_eq!(
            field(|p| p.reminder_days_before = vec![3, 3]),
            Err("reminder_days_before[1]".into())
        );
        assert_eq!(field(|p| p.bucket_days = 15), Ok(()));
    }

    #[test]
    fn penalty_of_exactly_half_a_fen_rounds_up() {
        // 0.025 × (1 + 0.5) / 360 = 1/9,600 per fen-day.
        let rate = ProductRules::default().penalty_rate(Rate::parse_annual("0.025").unwrap());
        // 48.00 overdue for 1 day: 4,800 / 9,600 = 0.5 fen → 0.01.
        assert_eq!(rate.on(Money::from_fen(4_800), 1), Money::from_fen(1));
        // 144.00 for 1 day: 1.5 fen → 0.02; 4,799 fen-days: 0.4999 fen → 0.
        assert_eq!(rate.on(Money::from_fen(14_400), 1), Money::from_fen(2));
        assert_eq!(rate.on(Money::from_fen(4_799), 1), Money::ZERO);
        // 10,000.00 overdue for 30 days: 30,000,000 / 9,600 = 3,125 fen exactly.
        assert_eq!(
            rate.on(Money::from_fen(1_000_000), 30),
            Money::from_fen(3_125)
        );
        let none = ProductRules {
            grace_days: 3,
            penalty_rate_markup: Rate::ZERO,
        };
        assert!(
            none.penalty_rate(Rate::parse_annual("0.1").unwrap())
                .is_zero()
        );
    }

    proptest! {
        #[test]
        fn penalty_is_the_half_up_rounding_of_its_exact_value(
            fen in 0i64..=1_000_000_000,
            days in 0i64..=3_650,
            rate_bp in 0i64..=10_000,
            markup_pct in 1i64..=200,
        ) {
            // Reference: fen × days × bp/10,000 × (100 + pct)/100 / 360, half-up by remainder.
            let num = i128::from(fen) * i128::from(days) * i128::from(rate_bp)
                * i128::from(100 + markup_pct);
            let den = 10_000i128 * 100 * 360;
            let expected = num / den + i128::from(2 * (num % den) >= den);
            let rules = ProductRules {
                grace_days: 0,
                penalty_rate_markup: Rate::from_decimal(Decimal::new(markup_pct, 2)),
            };
            let rate = rules.penalty_rate(Rate::from_decimal(Decimal::new(rate_bp, 4)));
            prop_assert_eq!(i128::from(rate.on(Money::from_fen(fen), days).fen()), expected);
        }
    }

    #[test]
    fn buckets_and_tiers() {
        let p = Policy::default();
        let cases = [
            (0, "M0", "normal"),
            (1, "M1", "special_mention"),
            (30, "M1", "special_mention"),
            (31, "M2", "special_mention"),
            (90, "M3", "special_mention"),
            (91, "M4", "substandard"),
            (180, "M6", "substandard"),
            (181, "M7+", "substandard"),
            (270, "M7+", "substandard"),
            (271, "M7+", "doubtful"),
            (360, "M7+", "doubtful"),
            (361, "M7+", "loss"),
        ];
        for (dpd, bucket, class) in cases {
            assert_eq!(p.bucket(dpd).to_string(), bucket, "dpd {dpd}");
            assert_eq!(p.classification(dpd).as_str(), class, "dpd {dpd}");
        }
        assert_eq!("M7+".parse::<Bucket>().unwrap(), Bucket(7));
        assert_eq!(
            p.dpd_thresholds(),
            vec![1, 31, 61, 91, 121, 151, 181, 271, 361]
        );
    }
}

//! Business rules held as data: products, buckets, classification, warning rules, reminders.
//!
//! Every default of the product brief is a value here, not code: a lender changes it without a
//! rebuild (the application loads overrides from its configuration).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::money::Rate;

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
    /// Penalty interest per fen of overdue principal per day, for a loan at `annual_rate`.
    pub fn penalty_per_fen_day(&self, annual_rate: Rate) -> Decimal {
        if self.penalty_rate_markup.value().is_zero() {
            return Decimal::ZERO;
        }
        annual_rate.value() * (Decimal::ONE + self.penalty_rate_markup.value()) / Decimal::from(360)
    }
}

/// The five-tier loan classification (五级分类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// What makes a warning rule fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningCondition {
    /// The `count` most recent installments whose due date + grace has passed were all late
    /// (not fully paid by due date + grace).
    ConsecutiveLate { count: u32 },
    /// Days past due at least `days`.
    DpdAtLeast { days: u32 },
}

/// One early-warning rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarningRule {
    /// A stable code stored with each warning it raises.
    pub code: String,
    /// 1 初步, 2 中级, 3 高级.
    pub level: u8,
    pub condition: WarningCondition,
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
    /// Days before a due date on which a repayment reminder is due (3 and 0: on the day).
    pub reminder_days_before: Vec<u32>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            bucket_days: 30,
            last_bucket: 7,
            classification_min_dpd: [0, 1, 91, 271, 361],
            warning_rules: vec![
                WarningRule {
                    code: "two_consecutive_late".into(),
                    level: 1,
                    condition: WarningCondition::ConsecutiveLate { count: 2 },
                },
                WarningRule {
                    code: "dpd_31".into(),
                    level: 2,
                    condition: WarningCondition::DpdAtLeast { days: 31 },
                },
                WarningRule {
                    code: "dpd_91".into(),
                    level: 3,
                    condition: WarningCondition::DpdAtLeast { days: 91 },
                },
            ],
            reminder_days_before: vec![3, 0],
        }
    }
}

impl Policy {
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
            WarningCondition::ConsecutiveLate { .. } => None,
        }));
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

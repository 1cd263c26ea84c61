//! The portfolio's reports over time (风险分析): delinquency by bucket, tier and warning level; roll
//! rates and flow rates between month-ends; vintage curves; contact, promise and cure rates; the
//! quality of the warnings. Each is built here from counted facts (rows grouped by the store), so
//! that every rate is computed once, exactly, and rounded half-up from its exact value.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::Datelike;

use crate::calendar::{Date, add_months};
use crate::money::Money;
use crate::policy::{Bucket, Classification};

/// `num / den` in basis points (1/100 of a percent), rounded half-up from the exact fraction;
/// `None` when `den` is not above zero.
pub fn rate_bp(num: i128, den: i128) -> Option<u64> {
    if den <= 0 || num < 0 {
        return None;
    }
    let bp = (num.saturating_mul(20_000).saturating_add(den)) / den.saturating_mul(2);
    u64::try_from(bp).ok()
}

/// A rate in basis points as a percentage with two decimals ("12.34"); empty when there is none.
pub fn percent(bp: Option<u64>) -> String {
    bp.map(|bp| format!("{}.{:02}", bp / 100, bp % 100))
        .unwrap_or_default()
}

/// A calendar month (a vintage, the month of a month-end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    pub month: u32,
}

impl YearMonth {
    pub fn of(date: Date) -> YearMonth {
        YearMonth {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parses `YYYY-MM` (or the month of a `YYYY-MM-DD`).
    pub fn parse(s: &str) -> Option<YearMonth> {
        let (y, m) = s.get(..7)?.split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        (1..=12)
            .contains(&month)
            .then_some(YearMonth { year, month })
    }

    /// Months from `self` to `later` (negative when `later` is earlier).
    pub fn months_to(self, later: YearMonth) -> i64 {
        (i64::from(later.year) - i64::from(self.year)) * 12 + i64::from(later.month)
            - i64::from(self.month)
    }

    /// The month's first day.
    pub fn first_day(self) -> Option<Date> {
        Date::from_ymd_opt(self.year, self.month, 1)
    }

    /// The month's last day: its month-end.
    pub fn last_day(self) -> Option<Date> {
        self.first_day()
            .map(|d| add_months(d, 1))
            .and_then(|d| d.pred_opt())
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Whether `date` is the last day of its month (a month-end, on which the book is kept for the
/// reports over time).
pub fn is_month_end(date: Date) -> bool {
    date.succ_opt()
        .is_some_and(|next| next.month() != date.month())
}

/// The month-end before the month of `date`.
pub fn previous_month_end(date: Date) -> Option<Date> {
    date.with_day(1).and_then(|d| d.pred_opt())
}

/// Loans and the balance they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub loans: u64,
    pub balance: Money,
}

impl Totals {
    fn add(&mut self, loans: u64, balance: Money) {
        self.loans += loans;
        self.balance += balance;
    }
}

/// Share of `part` in `whole`, by balance, in basis points.
pub fn balance_share_bp(part: Money, whole: Money) -> Option<u64> {
    rate_bp(i128::from(part.fen()), i128::from(whole.fen()))
}

// ----- Delinquency ------------------------------------------------------------------------------

/// Loans on the book on a date grouped by bucket, tier and warning level, as the store counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookCell {
    pub bucket: Bucket,
    pub classification: Classification,
    pub warning_level: u8,
    pub loans: u64,
    pub balance: Money,
}

/// Delinquency on one date: loans and balance by bucket (M0 … M7+), by the five tiers in tier
/// order and by warning level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delinquency {
    pub as_of: Date,
    pub by_bucket: BTreeMap<Bucket, Totals>,
    pub by_tier: BTreeMap<Classification, Totals>,
    pub by_level: BTreeMap<u8, Totals>,
    pub total: Totals,
}

impl Delinquency {
    /// Every bucket up to `last_bucket`, tier and level 0 appear, with zeros where no loan is.
    pub fn new(as_of: Date, last_bucket: u8, cells: &[BookCell]) -> Delinquency {
        let mut d = Delinquency {
            as_of,
            by_bucket: (0..=last_bucket)
                .map(|b| (Bucket(b), Totals::default()))
                .collect(),
            by_tier: Classification::ALL
                .into_iter()
                .map(|c| (c, Totals::default()))
                .collect(),
            by_level: BTreeMap::from([(0, Totals::default())]),
            total: Totals::default(),
        };
        for c in cells {
            d.by_bucket
                .entry(c.bucket)
                .or_default()
                .add(c.loans, c.balance);
            d.by_tier
                .entry(c.classification)
                .or_default()
                .add(c.loans, c.balance);
            d.by_level
                .entry(c.warning_level)
                .or_default()
                .add(c.loans, c.balance);
            d.total.add(c.loans, c.balance);
        }
        d
    }

    /// The overdue rate: the balance of loans past due (bucket M1 or later) over the book's.
    pub fn overdue_rate_bp(&self) -> Option<u64> {
        let overdue: Money = self
            .by_bucket
            .iter()
            .filter(|(b, _)| b.0 > 0)
            .map(|(_, t)| t.balance)
            .sum();
        balance_share_bp(overdue, self.total.balance)
    }

    /// The share of the book's balance a line holds.
    pub fn share_bp(&self, line: &Totals) -> Option<u64> {
        balance_share_bp(line.balance, self.total.balance)
    }
}

// ----- Roll rates ----------------------------------------------------------------------------------

/// Where a loan stood at a month-end for the roll rates: not yet on the book, in a bucket, or how
/// it left the book during the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RollState {
    New,
    Bucket(Bucket),
    PaidOff,
    WrittenOff,
}

impl fmt::Display for RollState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RollState::New => f.write_str("new"),
            RollState::Bucket(b) => write!(f, "{b}"),
            RollState::PaidOff => f.write_str("paid_off"),
            RollState::WrittenOff => f.write_str("written_off"),
        }
    }
}

/// Loans that went from one state to another between two month-ends, with their balances then and
/// now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RollTotals {
    pub loans: u64,
    pub from_balance: Money,
    pub to_balance: Money,
}

/// The month-end transition matrix into `month_end` from the month-end before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollMatrix {
    pub month_end: Date,
    pub cells: BTreeMap<(RollState, RollState), RollTotals>,
}

impl RollMatrix {
    pub fn new(month_end: Date) -> RollMatrix {
        RollMatrix {
            month_end,
            cells: BTreeMap::new(),
        }
    }

    /// Counts loans that moved from `from` to `to`.
    pub fn add(&mut self, from: RollState, to: RollState, moved: RollTotals) {
        let cell = self.cells.entry((from, to)).or_default();
        cell.loans += moved.loans;
        cell.from_balance += moved.from_balance;
        cell.to_balance += moved.to_balance;
    }

    /// The loans in `from` at the previous month-end, and their balance then.
    pub fn from_total(&self, from: RollState) -> Totals {
        let mut t = Totals::default();
        for ((a, _), c) in &self.cells {
            if *a == from {
                t.add(c.loans, c.from_balance);
            }
        }
        t
    }

    /// The share of `from`'s loans (by count) that went to `to`.
    pub fn count_rate_bp(&self, from: RollState, to: RollState) -> Option<u64> {
        let moved = self.cells.get(&(from, to)).map_or(0, |c| c.loans);
        rate_bp(i128::from(moved), i128::from(self.from_total(from).loans))
    }

    /// The share of `from`'s balance (at the previous month-end) that went to `to`.
    pub fn balance_rate_bp(&self, from: RollState, to: RollState) -> Option<u64> {
        let moved = self
            .cells
            .get(&(from, to))
            .map_or(Money::ZERO, |c| c.from_balance);
        balance_share_bp(moved, self.from_total(from).balance)
    }

    /// The flow rate out of bucket `k`: the share of its balance that rolled into bucket `k + 1`.
    pub fn flow_rate_bp(&self, k: u8) -> Option<u64> {
        self.balance_rate_bp(
            RollState::Bucket(Bucket(k)),
            RollState::Bucket(Bucket(k.saturating_add(1))),
        )
    }

    /// Loans of bucket `k` (M1 or later) that were cured (back to M0) or paid off by the month-end,
    /// and the loans that were in it.
    pub fn cured(&self, k: u8) -> (u64, u64) {
        let from = RollState::Bucket(Bucket(k));
        let cured = [RollState::Bucket(Bucket(0)), RollState::PaidOff]
            .iter()
            .map(|to| self.cells.get(&(from, *to)).map_or(0, |c| c.loans))
            .sum();
        (cured, self.from_total(from).loans)
    }
}

// ----- Vintages ------------------------------------------------------------------------------------

/// The DPD thresholds of the vintage curves.
pub const VINTAGE_DPD: [u32; 3] = [30, 60, 90];

/// One disbursement month's loans: count and disbursed principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cohort {
    pub month: YearMonth,
    pub loans: u64,
    pub principal: Money,
}

/// Loans of a cohort first seen at a DPD threshold at the month-end of `first`, with their
/// disbursed principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstLate {
    pub threshold: u32,
    pub cohort: YearMonth,
    pub first: YearMonth,
    pub loans: u64,
    pub principal: Money,
}

/// One cohort's curves: for each threshold, the disbursed principal of its loans seen at that DPD
/// or more at a month-end by each month on book (MOB 0 is the month-end of the disbursement month).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VintageCurve {
    pub cohort: Cohort,
    /// `ever[t][k]`: threshold `VINTAGE_DPD[t]`, MOB `k`, cumulative.
    pub ever: [Vec<Money>; 3],
}

impl VintageCurve {
    /// The share of the cohort's disbursed principal ever at the threshold by MOB `k`.
    pub fn share_bp(&self, threshold: usize, k: usize) -> Option<u64> {
        let ever = self.ever.get(threshold)?.get(k)?;
        balance_share_bp(*ever, self.cohort.principal)
    }
}

/// The curves of every cohort, each up to the month of `through` (the last month-end observed).
pub fn vintages(cohorts: &[Cohort], firsts: &[FirstLate], through: YearMonth) -> Vec<VintageCurve> {
    let mut by_cohort: HashMap<(YearMonth, u32), BTreeMap<i64, Money>> = HashMap::new();
    for f in firsts {
        *by_cohort
            .entry((f.cohort, f.threshold))
            .or_default()
            .entry(f.cohort.months_to(f.first).max(0))
            .or_default() += f.principal;
    }
    cohorts
        .iter()
        .filter(|c| c.month <= through)
        .map(|c| {
            let months = usize::try_from(c.month.months_to(through) + 1).unwrap_or(0);
            let curve = |threshold: u32| {
                let firsts = by_cohort.get(&(c.month, threshold));
                let mut running = Money::ZERO;
                (0..months)
                    .map(|k| {
                        let k = i64::try_from(k).unwrap_or(i64::MAX);
                        running += firsts
                            .and_then(|f| f.get(&k))
                            .copied()
                            .unwrap_or(Money::ZERO);
                        running
                    })
                    .collect::<Vec<Money>>()
            };
            VintageCurve {
                cohort: *c,
                ever: VINTAGE_DPD.map(curve),
            }
        })
        .collect()
}

// ----- Contact and promises ------------------------------------------------------------------------

/// Contacts recorded, grouped by the store: channel, queue (empty for a contact outside a task),
/// outcome, and whether an emergency contact (not the borrower) was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCell {
    pub channel: String,
    pub queue: String,
    pub outcome: String,
    pub emergency_contact: bool,
    pub count: u64,
}

/// Attempts, contacts (someone reached), right-party contacts (the borrower reached) and promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactTotals {
    pub attempts: u64,
    pub reached: u64,
    pub right_party: u64,
    pub promises: u64,
}

impl ContactTotals {
    fn add(&mut self, c: &ContactCell) {
        let reached = crate::outcome::reaches(&c.outcome);
        self.attempts += c.count;
        if reached {
            self.reached += c.count;
            if !c.emergency_contact {
                self.right_party += c.count;
            }
        }
        if c.outcome == "promise_to_pay" {
            self.promises += c.count;
        }
    }

    /// Contact rate: reached / attempted.
    pub fn contact_rate_bp(&self) -> Option<u64> {
        rate_bp(i128::from(self.reached), i128::from(self.attempts))
    }

    /// Right-party contact rate: the borrower reached / attempted.
    pub fn right_party_rate_bp(&self) -> Option<u64> {
        rate_bp(i128::from(self.right_party), i128::from(self.attempts))
    }

    /// Promise-to-pay rate: promises / right-party contacts.
    pub fn promise_rate_bp(&self) -> Option<u64> {
        rate_bp(i128::from(self.promises), i128::from(self.right_party))
    }
}

/// Contact totals by channel, by queue and overall.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactReport {
    pub by_channel: BTreeMap<String, ContactTotals>,
    pub by_queue: BTreeMap<String, ContactTotals>,
    pub total: ContactTotals,
}

impl ContactReport {
    pub fn new(cells: &[ContactCell]) -> ContactReport {
        let mut r = ContactReport::default();
        for c in cells {
            r.by_channel.entry(c.channel.clone()).or_default().add(c);
            r.by_queue.entry(c.queue.clone()).or_default().add(c);
            r.total.add(c);
        }
        r
    }
}

/// Promises due in a period by how they ended: kept, broken, still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PromiseTotals {
    pub kept: Totals,
    pub broken: Totals,
    pub open: Totals,
}

impl PromiseTotals {
    /// Promise-kept rate by count: kept / (kept + broken).
    pub fn kept_rate_bp(&self) -> Option<u64> {
        rate_bp(
            i128::from(self.kept.loans),
            i128::from(self.kept.loans + self.broken.loans),
        )
    }

    /// Promise-kept rate by amount: amount kept / amount of the kept and broken promises.
    pub fn kept_amount_rate_bp(&self) -> Option<u64> {
        balance_share_bp(self.kept.balance, self.kept.balance + self.broken.balance)
    }
}

// ----- Warning quality -----------------------------------------------------------------------------

/// Months after a warning within which its loan reaching 90 DPD counts as a hit.
pub const HIT_HORIZON_MONTHS: u32 = 6;

/// The DPD a warning is meant to foresee.
pub const DEFAULT_DPD: u32 = 90;

/// A warning as raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaisedWarning {
    pub loan: i64,
    pub rule: String,
    pub level: u8,
    pub raised_on: Date,
}

/// One rule and level's warnings: raised; matured (their six months have passed by the last
/// month-end); hits (the loan first seen at 90 DPD or more at a month-end within six months after
/// the warning); already (the loan was at 90+ before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WarningLine {
    pub raised: u64,
    pub matured: u64,
    pub hits: u64,
    pub matured_hits: u64,
    pub already: u64,
}

impl WarningLine {
    /// The hit rate: the matured warnings that were hits, over those matured (a warning younger
    /// than six months is not judged yet).
    pub fn hit_rate_bp(&self) -> Option<u64> {
        rate_bp(i128::from(self.matured_hits), i128::from(self.matured))
    }
}

/// The warnings' quality over a period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WarningQuality {
    pub lines: BTreeMap<(String, u8), WarningLine>,
    /// Loans first seen at 90+ at a month-end in the period.
    pub defaults: u64,
    /// Of those, the ones with no warning raised before.
    pub missed: u64,
}

impl WarningQuality {
    /// `warnings`: raised in the period; `first_default`: each loan's first month-end at 90+;
    /// `first_warning`: each loan's earliest warning; `last_month_end`: the last observed.
    pub fn new(
        warnings: &[RaisedWarning],
        first_default: &HashMap<i64, Date>,
        first_warning: &HashMap<i64, Date>,
        (from, to): (Date, Date),
        last_month_end: Date,
    ) -> WarningQuality {
        let mut q = WarningQuality::default();
        for w in warnings {
            let line = q.lines.entry((w.rule.clone(), w.level)).or_default();
            let horizon = add_months(w.raised_on, HIT_HORIZON_MONTHS);
            let matured = horizon <= last_month_end;
            let first = first_default.get(&w.loan).copied();
            line.raised += 1;
            line.matured += u64::from(matured);
            match first {
                Some(d) if d <= w.raised_on => line.already += 1,
                Some(d) if d <= horizon => {
                    line.hits += 1;
                    line.matured_hits += u64::from(matured);
                }
                _ => {}
            }
        }
        for (loan, first) in first_default {
            if *first < from || *first > to {
                continue;
            }
            q.defaults += 1;
            if first_warning.get(loan).is_none_or(|w| w >= first) {
                q.missed += 1;
            }
        }
        q
    }

    /// The miss rate: loans at 90+ with no earlier warning, over the loans at 90+.
    pub fn miss_rate_bp(&self) -> Option<u64> {
        rate_bp(i128::from(self.missed), i128::from(self.defaults))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn m(fen: i64) -> Money {
        Money::from_fen(fen)
    }

    #[test]
    fn rates_round_half_up_from_the_exact_fraction() {
        assert_eq!(rate_bp(1, 3), Some(3_333));
        assert_eq!(rate_bp(2, 3), Some(6_667));
        // 1/8 = 12.5 bp of ... : 0.000125 → 1.25 bp → 1; 0.00125 → 12.5 bp → 13 (half up)
        assert_eq!(rate_bp(1, 8_000), Some(1));
        assert_eq!(rate_bp(1, 800), Some(13));
        assert_eq!(rate_bp(0, 5), Some(0));
        assert_eq!(rate_bp(5, 0), None);
        assert_eq!(percent(Some(1_234)), "12.34");
        assert_eq!(percent(Some(5)), "0.05");
        assert_eq!(percent(None), "");
    }

    #[test]
    fn months_and_month_ends() {
        assert!(is_month_end(d("2026-02-28")));
        assert!(!is_month_end(d("2028-02-28")));
        assert!(is_month_end(d("2026-12-31")));
        assert_eq!(previous_month_end(d("2026-03-15")), Some(d("2026-02-28")));
        let ym = YearMonth::parse("2025-11").unwrap();
        assert_eq!(ym.months_to(YearMonth::of(d("2026-02-01"))), 3);
        assert_eq!(ym.last_day(), Some(d("2025-11-30")));
        assert_eq!(YearMonth::parse("2025-13"), None);
        assert_eq!(ym.to_string(), "2025-11");
    }

    #[test]
    fn delinquency_lists_every_bucket_and_tier_and_its_overdue_rate() {
        let cells = [
            BookCell {
                bucket: Bucket(0),
                classification: Classification::Normal,
                warning_level: 0,
                loans: 3,
                balance: m(7_500),
            },
            BookCell {
                bucket: Bucket(2),
                classification: Classification::SpecialMention,
                warning_level: 2,
                loans: 1,
                balance: m(2_500),
            },
        ];
        let r = Delinquency::new(d("2026-11-30"), 7, &cells);
        assert_eq!(r.by_bucket.len(), 8);
        assert_eq!(r.by_tier.len(), 5);
        assert_eq!(r.total.loans, 4);
        assert_eq!(r.overdue_rate_bp(), Some(2_500));
        assert_eq!(r.share_bp(&r.by_bucket[&Bucket(0)]), Some(7_500));
        assert_eq!(r.by_level[&2].balance, m(2_500));
    }

    #[test]
    fn roll_matrix_rates_flows_and_cures() {
        let mut r = RollMatrix::new(d("2026-11-30"));
        let b = |k| RollState::Bucket(Bucket(k));
        let t = |loans, a, z| RollTotals {
            loans,
            from_balance: m(a),
            to_balance: m(z),
        };
        r.add(b(1), b(2), t(2, 600, 600));
        r.add(b(1), b(0), t(1, 300, 200));
        r.add(b(1), RollState::PaidOff, t(1, 100, 0));
        r.add(RollState::New, b(0), t(5, 0, 5_000));
        assert_eq!(
            r.from_total(b(1)),
            Totals {
                loans: 4,
                balance: m(1_000)
            }
        );
        assert_eq!(r.flow_rate_bp(1), Some(6_000));
        assert_eq!(r.count_rate_bp(b(1), b(2)), Some(5_000));
        assert_eq!(r.cured(1), (2, 4));
        assert_eq!(r.flow_rate_bp(3), None);
    }

    #[test]
    fn vintage_curves_accumulate_by_month_on_book() {
        let ym = |s| YearMonth::parse(s).unwrap();
        let cohorts = [Cohort {
            month: ym("2026-01"),
            loans: 4,
            principal: m(400),
        }];
        let firsts = [
            FirstLate {
                threshold: 30,
                cohort: ym("2026-01"),
                first: ym("2026-03"),
                loans: 1,
                principal: m(100),
            },
            FirstLate {
                threshold: 30,
                cohort: ym("2026-01"),
                first: ym("2026-05"),
                loans: 1,
                principal: m(100),
            },
        ];
        let v = vintages(&cohorts, &firsts, ym("2026-05"));
        assert_eq!(v[0].ever[0], vec![m(0), m(0), m(100), m(100), m(200)]);
        assert_eq!(v[0].share_bp(0, 4), Some(5_000));
        assert_eq!(v[0].ever[2], vec![m(0); 5]);
    }

    #[test]
    fn contact_rates_count_the_borrower_apart_from_emergency_contacts() {
        let c = |outcome: &str, emergency, count| ContactCell {
            channel: "phone".into(),
            queue: "q".into(),
            outcome: outcome.into(),
            emergency_contact: emergency,
            count,
        };
        let r = ContactReport::new(&[
            c("no_answer", false, 5),
            c("wrong_number", false, 1),
            c("reached", true, 2),
            c("promise_to_pay", false, 2),
        ]);
        assert_eq!(
            r.total,
            ContactTotals {
                attempts: 10,
                reached: 4,
                right_party: 2,
                promises: 2
            }
        );
        assert_eq!(r.total.contact_rate_bp(), Some(4_000));
        assert_eq!(r.total.promise_rate_bp(), Some(10_000));
    }

    #[test]
    fn warnings_are_judged_on_what_followed_within_six_months() {
        let w = |loan, raised: &str| RaisedWarning {
            loan,
            rule: "overdue".into(),
            level: 1,
            raised_on: d(raised),
        };
        let first_default = HashMap::from([(1, d("2026-05-31")), (2, d("2026-01-31"))]);
        let first_warning = HashMap::from([(1, d("2026-01-10")), (2, d("2026-02-01"))]);
        let q = WarningQuality::new(
            &[w(1, "2026-01-10"), w(2, "2026-02-01"), w(3, "2026-01-15")],
            &first_default,
            &first_warning,
            (d("2026-01-01"), d("2026-06-30")),
            d("2026-07-31"),
        );
        let line = q.lines[&("overdue".to_string(), 1)];
        assert_eq!(line.raised, 3);
        // the warning of 02-01 has not had its six months by 07-31
        assert_eq!(line.matured, 2);
        assert_eq!(line.hits, 1);
        assert_eq!(line.already, 1);
        assert_eq!(line.hit_rate_bp(), Some(5_000));
        assert_eq!((q.defaults, q.missed), (2, 1));
        assert_eq!(q.miss_rate_bp(), Some(5_000));
    }
}

//! The risk score (风险评分): the probability that a loan reaches 90 days past due within six
//! months, from its repayment and follow-up history (the behaviour model), or that a new loan
//! reaches it within its first year, from the application's fields alone (the application model).
//! A logistic regression fitted by Newton's method on standardised features with a small ridge
//! penalty: deterministic (the same rows give the same model, bit for bit), explained by each
//! feature's contribution to the log-odds. Validated by AUC, KS, a calibration table by band and
//! the population stability index between the training scores and today's.

use std::cmp::Ordering;

use crate::analytics::{DEFAULT_DPD, HIT_HORIZON_MONTHS};

/// The months after an observation within which reaching 90 DPD is the behaviour model's event.
pub const BEHAVIOUR_HORIZON_MONTHS: u32 = HIT_HORIZON_MONTHS;
/// The months on book within which reaching 90 DPD is the application model's event.
pub const APPLICATION_HORIZON_MONTHS: u32 = 12;
/// The DPD the score predicts.
pub const EVENT_DPD: u32 = DEFAULT_DPD;
/// A model whose population stability index exceeds this is flagged: today's loans no longer look
/// like those it was trained on.
pub const PSI_FLAG: f64 = 0.25;
/// The ridge penalty on the standardised coefficients, per training row: the fit maximises the
/// log-likelihood less `RIDGE · n / 2 · Σ β²` (scikit-learn's `C = 1 / (RIDGE · n)`).
pub const RIDGE: f64 = 1e-3;

/// The two models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Behaviour,
    Application,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Behaviour => "behaviour",
            ModelKind::Application => "application",
        }
    }

    pub fn parse(s: &str) -> Option<ModelKind> {
        [ModelKind::Behaviour, ModelKind::Application]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// The model's features, in the order of its vectors.
    pub fn features(self) -> &'static [Feature] {
        match self {
            ModelKind::Behaviour => &BEHAVIOUR_FEATURES,
            ModelKind::Application => &APPLICATION_FEATURES,
        }
    }
}

/// A feature: its key, and how it reads in Chinese and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub key: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

const fn f(key: &'static str, zh: &'static str, en: &'static str) -> Feature {
    Feature { key, zh, en }
}

/// The behaviour model's features (counts are as of the observation date; "month-ends" are the
/// twelve before it).
pub const BEHAVIOUR_FEATURES: [Feature; 13] = [
    f("dpd", "当前逾期天数", "days past due now"),
    f(
        "late_month_ends",
        "近12个月末逾期次数",
        "month-ends past due in the last 12",
    ),
    f(
        "max_dpd_12m",
        "近12个月末最高逾期天数",
        "highest month-end DPD in the last 12",
    ),
    f("broken_promises", "未兑现承诺", "broken promises"),
    f("hardship_signals", "困难信号", "hardship reported"),
    f(
        "vehicle_signals",
        "车辆异常信号",
        "vehicle sold, pledged or lost",
    ),
    f("unreachable_signals", "失联信号", "unreachable"),
    f("months_on_book", "账龄(月)", "months on book"),
    f(
        "balance_share",
        "剩余本金比例",
        "share of principal outstanding",
    ),
    f("ltv", "贷款价值比", "loan to vehicle value"),
    f("payment_to_income", "月供收入比", "payment to income"),
    f("annual_rate", "年利率", "annual rate"),
    f("term_months", "期限(月)", "term in months"),
];

/// The application model's features: the application's fields alone.
pub const APPLICATION_FEATURES: [Feature; 5] = [
    f("ltv", "贷款价值比", "loan to vehicle value"),
    f("payment_to_income", "月供收入比", "payment to income"),
    f("annual_rate", "年利率", "annual rate"),
    f("term_months", "期限(月)", "term in months"),
    f("log_income", "月收入(对数)", "monthly income (log)"),
];

/// An annual rate in basis points, rounded half-up.
pub fn rate_basis_points(rate: crate::money::Rate) -> i64 {
    let (num, den) = rate.fraction();
    let bp = (num.saturating_mul(20_000).saturating_add(den)) / den.max(1).saturating_mul(2);
    i64::try_from(bp).unwrap_or(i64::MAX)
}

/// What a loan's application says (amounts in fen, the rate in basis points a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationFacts {
    pub principal_fen: i64,
    pub vehicle_price_fen: i64,
    pub monthly_income_fen: i64,
    pub annual_rate_bp: i64,
    pub term_months: u32,
}

/// Why an application cannot be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ApplicationError {
    pub field: &'static str,
    pub reason: String,
}

impl ApplicationFacts {
    /// Checks the fields a score needs.
    pub fn check(&self) -> Result<(), ApplicationError> {
        let refuse = |field, reason: &str| {
            Err(ApplicationError {
                field,
                reason: reason.to_string(),
            })
        };
        if self.principal_fen <= 0 {
            return refuse("principal", "must be above zero");
        }
        if self.vehicle_price_fen <= 0 {
            return refuse("vehicle_price", "must be above zero");
        }
        if self.principal_fen > self.vehicle_price_fen.saturating_mul(2) {
            return refuse("principal", "must not exceed twice the vehicle price");
        }
        if self.monthly_income_fen <= 0 {
            return refuse("monthly_income", "must be above zero");
        }
        if !(0..=10_000).contains(&self.annual_rate_bp) {
            return refuse("annual_rate", "must be 0 to 1 (0 % to 100 % a year)");
        }
        if !(1..=120).contains(&self.term_months) {
            return refuse("term_months", "must be 1 to 120");
        }
        Ok(())
    }

    /// An approximate monthly payment: principal and simple interest over the term, in fen.
    fn monthly_payment(&self) -> f64 {
        let p = fen_f64(self.principal_fen);
        let years = f64::from(self.term_months) / 12.0;
        p * (1.0 + bp_f64(self.annual_rate_bp) * years) / f64::from(self.term_months.max(1))
    }

    fn ltv(&self) -> f64 {
        fen_f64(self.principal_fen) / fen_f64(self.vehicle_price_fen.max(1))
    }

    fn payment_to_income(&self) -> f64 {
        (self.monthly_payment() / fen_f64(self.monthly_income_fen.max(1))).min(5.0)
    }

    /// The value of the application feature `i` as a reader sees it.
    pub fn shown(&self, i: usize) -> String {
        match i {
            0 => format!("{:.0}%", 100.0 * self.ltv()),
            1 => format!("{:.0}%", 100.0 * self.payment_to_income()),
            2 => format!("{:.2}%", bp_f64(self.annual_rate_bp) * 100.0),
            3 => self.term_months.to_string(),
            4 => format!(
                "{}.{:02}",
                self.monthly_income_fen / 100,
                self.monthly_income_fen % 100
            ),
            _ => String::new(),
        }
    }

    /// The application model's vector.
    pub fn vector(&self) -> Vec<f64> {
        vec![
            self.ltv(),
            self.payment_to_income(),
            bp_f64(self.annual_rate_bp),
            f64::from(self.term_months),
            (fen_f64(self.monthly_income_fen.max(1)) / 100.0).ln(),
        ]
    }
}

/// What a loan's history says on an observation date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BehaviourFacts {
    pub application: ApplicationFacts,
    pub dpd: u32,
    pub late_month_ends: u32,
    pub max_dpd_12m: u32,
    pub broken_promises: u32,
    pub hardship_signals: u32,
    pub vehicle_signals: u32,
    pub unreachable_signals: u32,
    pub months_on_book: u32,
    pub balance_fen: i64,
}

impl BehaviourFacts {
    /// The behaviour model's vector (days and counts on a log scale).
    pub fn vector(&self) -> Vec<f64> {
        let log = |n: u32| f64::from(n).ln_1p();
        let a = &self.application;
        vec![
            log(self.dpd),
            f64::from(self.late_month_ends),
            log(self.max_dpd_12m),
            log(self.broken_promises),
            log(self.hardship_signals),
            log(self.vehicle_signals),
            log(self.unreachable_signals),
            f64::from(self.months_on_book),
            fen_f64(self.balance_fen) / fen_f64(a.principal_fen.max(1)),
            a.ltv(),
            a.payment_to_income(),
            bp_f64(a.annual_rate_bp),
            f64::from(a.term_months),
        ]
    }

    /// The value of feature `i` as a reader sees it.
    pub fn shown(&self, i: usize) -> String {
        let a = &self.application;
        match i {
            0 => self.dpd.to_string(),
            1 => self.late_month_ends.to_string(),
            2 => self.max_dpd_12m.to_string(),
            3 => self.broken_promises.to_string(),
            4 => self.hardship_signals.to_string(),
            5 => self.vehicle_signals.to_string(),
            6 => self.unreachable_signals.to_string(),
            7 => self.months_on_book.to_string(),
            8 => format!(
                "{:.0}%",
                100.0 * fen_f64(self.balance_fen) / fen_f64(a.principal_fen.max(1))
            ),
            9 => format!("{:.0}%", 100.0 * a.ltv()),
            10 => format!("{:.0}%", 100.0 * a.payment_to_income()),
            11 => format!("{:.2}%", bp_f64(a.annual_rate_bp) * 100.0),
            12 => a.term_months.to_string(),
            _ => String::new(),
        }
    }
}

fn fen_f64(fen: i64) -> f64 {
    // amounts only enter the model as ratios; i64 fen fit f64 exactly below 2^53
    let (hi, lo) = (fen / 1_000_000, fen % 1_000_000);
    f64::from(i32::try_from(hi).unwrap_or(i32::MAX)) * 1_000_000.0
        + f64::from(i32::try_from(lo).unwrap_or(0))
}

fn bp_f64(bp: i64) -> f64 {
    f64::from(i32::try_from(bp).unwrap_or(i32::MAX)) / 10_000.0
}

/// A fitted model: the features' means and scales, the coefficients on the standardised
/// features, and the intercept.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub kind: ModelKind,
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("no training rows")]
    NoRows,
    #[error("the training rows hold {events} events among {rows}: both outcomes are needed")]
    OneOutcome { rows: usize, events: usize },
    #[error("the rows are {got} wide, the model's features {want}")]
    Width { got: usize, want: usize },
    #[error("the fit did not converge")]
    Diverged,
}

impl Model {
    /// Fits a model to `rows` (each the model's vector) and their outcomes.
    pub fn fit(kind: ModelKind, rows: &[Vec<f64>], events: &[bool]) -> Result<Model, FitError> {
        let p = kind.features().len();
        let n = rows.len();
        if n == 0 {
            return Err(FitError::NoRows);
        }
        if let Some(r) = rows.iter().find(|r| r.len() != p) {
            return Err(FitError::Width {
                got: r.len(),
                want: p,
            });
        }
        let positives = events.iter().filter(|e| **e).count();
        if positives == 0 || positives == n {
            return Err(FitError::OneOutcome {
                rows: n,
                events: positives,
            });
        }
        let nf = usize_f64(n);
        let means: Vec<f64> = (0..p)
            .map(|j| {
                rows.iter()
                    .map(|r| r.get(j).copied().unwrap_or(0.0))
                    .sum::<f64>()
                    / nf
            })
            .collect();
        let scales: Vec<f64> = (0..p)
            .map(|j| {
                let m = means.get(j).copied().unwrap_or(0.0);
                let var = rows
                    .iter()
                    .map(|r| (r.get(j).copied().unwrap_or(0.0) - m).powi(2))
                    .sum::<f64>()
                    / nf;
                if var > 1e-12 { var.sqrt() } else { 1.0 }
            })
            .collect();
        let z: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| standardise(r, &means, &scales))
            .collect();
        // β[0] the intercept, β[1..] the coefficients
        let prior = usize_f64(positives) / nf;
        let mut beta = vec![0.0; p + 1];
        if let Some(b0) = beta.first_mut() {
            *b0 = (prior / (1.0 - prior)).ln();
        }
        for _ in 0..50 {
            let mut grad = vec![0.0; p + 1];
            let mut hess = vec![vec![0.0; p + 1]; p + 1];
            for (x, y) in z.iter().zip(events) {
                let eta = linear(&beta, x);
                let mu = sigmoid(eta);
                let w = (mu * (1.0 - mu)).max(1e-12);
                let r = f64::from(u8::from(*y)) - mu;
                for a in 0..=p {
                    let xa = if a == 0 {
                        1.0
                    } else {
                        x.get(a - 1).copied().unwrap_or(0.0)
                    };
                    if let Some(g) = grad.get_mut(a) {
                        *g += xa * r;
                    }
                    let Some(row) = hess.get_mut(a) else { continue };
                    for b in 0..=a {
                        let xb = if b == 0 {
                            1.0
                        } else {
                            x.get(b - 1).copied().unwrap_or(0.0)
                        };
                        if let Some(h) = row.get_mut(b) {
                            *h += w * xa * xb;
                        }
                    }
                }
            }
            for a in 0..=p {
                for b in 0..a {
                    let v = hess.get(a).and_then(|r| r.get(b)).copied().unwrap_or(0.0);
                    if let Some(h) = hess.get_mut(b).and_then(|r| r.get_mut(a)) {
                        *h = v;
                    }
                }
                if a > 0 {
                    let penalty = RIDGE * nf;
                    if let Some(g) = grad.get_mut(a) {
                        *g -= penalty * beta.get(a).copied().unwrap_or(0.0);
                    }
                    if let Some(h) = hess.get_mut(a).and_then(|r| r.get_mut(a)) {
                        *h += penalty;
                    }
                }
            }
            let step = solve(hess, grad).ok_or(FitError::Diverged)?;
            // a damped Newton step: halved until the penalised likelihood does not fall
            let now = penalised_log_likelihood(&beta, &z, events, RIDGE * nf);
            let mut t = 1.0;
            let mut next = beta.clone();
            for _ in 0..40 {
                next = beta.iter().zip(&step).map(|(b, s)| b + t * s).collect();
                if penalised_log_likelihood(&next, &z, events, RIDGE * nf) >= now - 1e-12 {
                    break;
                }
                t /= 2.0;
            }
            let largest = beta
                .iter()
                .zip(&next)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            beta = next;
            if !largest.is_finite() {
                return Err(FitError::Diverged);
            }
            if largest < 1e-9 {
                break;
            }
        }
        let (intercept, coefficients) = match beta.split_first() {
            Some((i, c)) => (*i, c.to_vec()),
            None => return Err(FitError::Diverged),
        };
        Ok(Model {
            kind,
            means,
            scales,
            coefficients,
            intercept,
        })
    }

    /// The log-odds of the event for a vector.
    pub fn log_odds(&self, x: &[f64]) -> f64 {
        let z = standardise(x, &self.means, &self.scales);
        self.intercept
            + self
                .coefficients
                .iter()
                .zip(&z)
                .map(|(c, v)| c * v)
                .sum::<f64>()
    }

    /// The probability of the event.
    pub fn probability(&self, x: &[f64]) -> f64 {
        sigmoid(self.log_odds(x))
    }

    /// Each feature's contribution to the log-odds against an average loan of the training rows,
    /// largest raise first.
    pub fn contributions(&self, x: &[f64]) -> Vec<(usize, f64)> {
        let z = standardise(x, &self.means, &self.scales);
        let mut c: Vec<(usize, f64)> = self
            .coefficients
            .iter()
            .zip(&z)
            .map(|(c, v)| c * v)
            .enumerate()
            .collect();
        c.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(Ordering::Equal)
                .then(a.0.cmp(&b.0))
        });
        c
    }
}

/// Σ log-likelihood − penalty/2 · Σ coefficient² (the intercept not penalised).
fn penalised_log_likelihood(beta: &[f64], z: &[Vec<f64>], events: &[bool], penalty: f64) -> f64 {
    let ll: f64 = z
        .iter()
        .zip(events)
        .map(|(x, y)| {
            let eta = linear(beta, x);
            // log σ(η) = −log(1 + e^−η), computed without overflow
            let log1pexp = |v: f64| {
                if v > 0.0 {
                    v + (-v).exp().ln_1p()
                } else {
                    v.exp().ln_1p()
                }
            };
            if *y { -log1pexp(-eta) } else { -log1pexp(eta) }
        })
        .sum();
    let ridge: f64 = beta.iter().skip(1).map(|b| b * b).sum();
    ll - penalty / 2.0 * ridge
}

fn usize_f64(n: usize) -> f64 {
    f64::from(u32::try_from(n).unwrap_or(u32::MAX))
}

fn standardise(x: &[f64], means: &[f64], scales: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(means)
        .zip(scales)
        .map(|((v, m), s)| (v - m) / s)
        .collect()
}

fn linear(beta: &[f64], x: &[f64]) -> f64 {
    let mut it = beta.iter();
    let b0 = it.next().copied().unwrap_or(0.0);
    b0 + it.zip(x).map(|(b, v)| b * v).sum::<f64>()
}

fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let magnitude = |r: usize| {
            a.get(r)
                .and_then(|row| row.get(col))
                .map_or(0.0, |v| v.abs())
        };
        let pivot = (col..n).max_by(|i, j| {
            magnitude(*i)
                .partial_cmp(&magnitude(*j))
                .unwrap_or(Ordering::Equal)
        })?;
        a.swap(col, pivot);
        b.swap(col, pivot);
        let p = *a.get(col)?.get(col)?;
        if p.abs() < 1e-300 {
            return None;
        }
        let pivot_row = a.get(col)?.clone();
        let pivot_b = *b.get(col)?;
        for r in col + 1..n {
            let row = a.get_mut(r)?;
            let factor = row.get(col)? / p;
            for (x, y) in row.iter_mut().zip(&pivot_row).skip(col) {
                *x -= factor * y;
            }
            *b.get_mut(r)? -= factor * pivot_b;
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let row = a.get(r)?;
        let tail: f64 = (r + 1..n)
            .map(|c| row.get(c).copied().unwrap_or(0.0) * x.get(c).copied().unwrap_or(0.0))
            .sum();
        *x.get_mut(r)? = (b.get(r)? - tail) / row.get(r)?;
    }
    Some(x)
}

// ----- Validation ------------------------------------------------------------------------------

/// The area under the ROC curve of `scores` against `events` (ties count half); `None` without
/// both outcomes.
pub fn auc(scores: &[f64], events: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| {
        let (x, y) = (scores.get(*a), scores.get(*b));
        x.partial_cmp(&y).unwrap_or(Ordering::Equal)
    });
    let (mut rank_sum, mut positives) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let score = idx.get(i).and_then(|k| scores.get(*k));
        let mut j = i;
        while j < idx.len() && idx.get(j).and_then(|k| scores.get(*k)) == score {
            j += 1;
        }
        // ranks i+1 ..= j share their mean
        let mean_rank = (usize_f64(i + 1) + usize_f64(j)) / 2.0;
        for k in i..j {
            if idx
                .get(k)
                .and_then(|n| events.get(*n))
                .copied()
                .unwrap_or(false)
            {
                rank_sum += mean_rank;
                positives += 1;
            }
        }
        i = j;
    }
    let negatives = scores.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let (p, n) = (usize_f64(positives), usize_f64(negatives));
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The Kolmogorov–Smirnov statistic: the largest gap between the shares of events and of
/// non-events scored at or above a threshold.
pub fn ks(scores: &[f64], events: &[bool]) -> Option<f64> {
    let positives = events.iter().filter(|e| **e).count();
    let negatives = events.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| {
        let (x, y) = (scores.get(*a), scores.get(*b));
        y.partial_cmp(&x).unwrap_or(Ordering::Equal)
    });
    let (mut tp, mut fp, mut best) = (0usize, 0usize, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let score = idx.get(i).and_then(|k| scores.get(*k));
        while i < idx.len() && idx.get(i).and_then(|k| scores.get(*k)) == score {
            if idx
                .get(i)
                .and_then(|n| events.get(*n))
                .copied()
                .unwrap_or(false)
            {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let gap = usize_f64(tp) / usize_f64(positives) - usize_f64(fp) / usize_f64(negatives);
        best = best.max(gap);
    }
    Some(best)
}

/// One band of the calibration table: loans, mean predicted probability, observed event rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationBand {
    pub loans: usize,
    pub predicted: f64,
    pub observed: f64,
}

/// The calibration table: the scored loans in `bands` bands of equal count by probability,
/// lowest first.
pub fn calibration(scores: &[f64], events: &[bool], bands: usize) -> Vec<CalibrationBand> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(events.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    let n = pairs.len();
    let bands = bands.max(1);
    (0..bands)
        .filter_map(|k| {
            let part = pairs.get(k * n / bands..(k + 1) * n / bands)?;
            (!part.is_empty()).then(|| {
                let m = usize_f64(part.len());
                CalibrationBand {
                    loans: part.len(),
                    predicted: part.iter().map(|p| p.0).sum::<f64>() / m,
                    observed: usize_f64(part.iter().filter(|p| p.1).count()) / m,
                }
            })
        })
        .collect()
}

/// The cut points of ten bands of equal count of `scores` (the training scores).
pub fn decile_cuts(scores: &[f64]) -> Vec<f64> {
    let mut s = scores.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    (1..10)
        .filter_map(|k| s.get(k * s.len() / 10).copied())
        .collect()
}

/// The share of `scores` in each band cut at `cuts` (each at least 0.0001).
pub fn band_shares(cuts: &[f64], scores: &[f64]) -> Vec<f64> {
    let mut counts = vec![0usize; cuts.len() + 1];
    for s in scores {
        let band = cuts.iter().take_while(|c| s >= c).count();
        if let Some(c) = counts.get_mut(band) {
            *c += 1;
        }
    }
    let n = usize_f64(scores.len().max(1));
    counts
        .into_iter()
        .map(|c| (usize_f64(c) / n).max(1e-4))
        .collect()
}

/// The population stability index of `actual` scores against the `expected` shares of the bands
/// cut at `cuts`: Σ (a − e) · ln(a / e) over the bands.
pub fn psi_of(cuts: &[f64], expected: &[f64], actual: &[f64]) -> Option<f64> {
    if actual.is_empty() || expected.len() != cuts.len() + 1 {
        return None;
    }
    let a = band_shares(cuts, actual);
    Some(
        expected
            .iter()
            .zip(&a)
            .map(|(e, a)| (a - e) * (a / e).ln())
            .sum(),
    )
}

/// [`psi_of`] with the expected shares those of `expected` scores.
pub fn psi(cuts: &[f64], expected: &[f64], actual: &[f64]) -> Option<f64> {
    if expected.is_empty() {
        return None;
    }
    psi_of(cuts, &band_shares(cuts, expected), actual)
}

/// The groups of risk signals the behaviour model counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalGroup {
    Hardship,
    Vehicle,
    Unreachable,
    BrokenPromise,
}

/// The group of a stored signal kind.
pub fn signal_group(kind: &str) -> Option<SignalGroup> {
    use crate::warning::SignalKind as K;
    let k = K::ALL.into_iter().find(|k| k.as_str() == kind)?;
    Some(match k {
        K::VehicleSold | K::VehiclePledged | K::VehicleLost => SignalGroup::Vehicle,
        K::Unreachable => SignalGroup::Unreachable,
        K::BrokenPromise => SignalGroup::BrokenPromise,
        _ => SignalGroup::Hardship,
    })
}

/// The score bands, by probability of the event: A below 1 %, B below 3 %, C below 10 %, D below
/// 30 %, E from 30 %.
pub const BANDS: [(char, f64); 5] = [
    ('A', 0.01),
    ('B', 0.03),
    ('C', 0.10),
    ('D', 0.30),
    ('E', 1.01),
];

/// The risk signal a loan's score records when it rises into a high band (D or E): the warning
/// rules read it like any follow-up signal (`{"signal": {"kind": "score_band_e", ...}}`).
pub fn band_signal(previous: Option<char>, band: char) -> Option<&'static str> {
    let kind = match band {
        'D' => "score_band_d",
        'E' => "score_band_e",
        _ => return None,
    };
    previous.is_none_or(|p| p < band).then_some(kind)
}

/// A band named by its letter ("D"), as a plan or a request writes it.
pub fn parse_band(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let band = chars.next()?;
    (chars.next().is_none() && BANDS.iter().any(|(b, _)| *b == band)).then_some(band)
}

/// The band of a probability.
pub fn band(probability: f64) -> char {
    BANDS
        .iter()
        .find(|(_, upper)| probability < *upper)
        .map_or('E', |(b, _)| *b)
}

/// A probability in basis points, rounded half-up.
pub fn probability_bp(p: f64) -> u32 {
    let bp = (p.clamp(0.0, 1.0) * 10_000.0 + 0.5).floor();
    // 0 ..= 10,000 fits
    (0..=10_000u32)
        .find(|n| f64::from(*n) >= bp)
        .unwrap_or(10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_ks_on_a_known_ranking() {
        let scores = [0.1, 0.4, 0.35, 0.8];
        let events = [false, false, true, true];
        // pairs (pos, neg): (0.35,0.1)✓ (0.35,0.4)✗ (0.8,0.1)✓ (0.8,0.4)✓ → 3/4
        assert_eq!(auc(&scores, &events), Some(0.75));
        // thresholds from the top: 0.8 → tpr .5 fpr 0; 0.4 → .5 .5; 0.35 → 1 .5; 0.1 → 1 1
        assert_eq!(ks(&scores, &events), Some(0.5));
        assert_eq!(auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(auc(&[0.5], &[true]), None);
    }

    #[test]
    fn a_separable_outcome_is_learnt_and_the_fit_is_repeatable() {
        let rows: Vec<Vec<f64>> = (0..400)
            .map(|i| {
                let x = f64::from(i % 40);
                vec![x, 0.0, 0.0, 0.0, f64::from(i % 7)]
            })
            .collect();
        let events: Vec<bool> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| r[0] > 28.0 || (r[0] > 20.0 && i % 3 == 0))
            .collect();
        let a = Model::fit(ModelKind::Application, &rows, &events).unwrap();
        let b = Model::fit(ModelKind::Application, &rows, &events).unwrap();
        assert_eq!(a, b);
        let scores: Vec<f64> = rows.iter().map(|r| a.probability(r)).collect();
        assert!(auc(&scores, &events).unwrap() > 0.95);
        assert!(a.coefficients[0] > 0.0);
        assert_eq!(a.contributions(&rows[39])[0].0, 0);
        let cal = calibration(&scores, &events, 10);
        assert_eq!(cal.len(), 10);
        assert!(cal[9].observed > cal[0].observed);
        assert!(matches!(
            Model::fit(ModelKind::Application, &rows, &vec![false; 400]),
            Err(FitError::OneOutcome { .. })
        ));
    }

    #[test]
    fn psi_is_zero_for_the_same_population_and_large_for_a_shifted_one() {
        let base: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
        let cuts = decile_cuts(&base);
        assert!(psi(&cuts, &base, &base).unwrap().abs() < 1e-12);
        let shifted: Vec<f64> = base.iter().map(|s| (s + 0.5).min(0.999)).collect();
        assert!(psi(&cuts, &base, &shifted).unwrap() > PSI_FLAG);
    }

    #[test]
    fn a_score_signals_when_it_rises_into_a_high_band() {
        assert_eq!(band_signal(None, 'E'), Some("score_band_e"));
        assert_eq!(band_signal(Some('C'), 'D'), Some("score_band_d"));
        assert_eq!(band_signal(Some('D'), 'D'), None);
        assert_eq!(band_signal(Some('E'), 'D'), None);
        assert_eq!(band_signal(Some('A'), 'C'), None);
    }

    #[test]
    fn bands_and_basis_points() {
        assert_eq!(band(0.005), 'A');
        assert_eq!(band(0.05), 'C');
        assert_eq!(band(0.99), 'E');
        assert_eq!(parse_band("D"), Some('D'));
        assert_eq!(parse_band("F"), None);
        assert_eq!(parse_band("DE"), None);
        assert_eq!(probability_bp(0.123_45), 1_235);
        assert_eq!(probability_bp(1.0), 10_000);
    }

    #[test]
    fn applications_are_checked_field_by_field() {
        let ok = ApplicationFacts {
            principal_fen: 10_000_000,
            vehicle_price_fen: 15_000_000,
            monthly_income_fen: 1_500_000,
            annual_rate_bp: 588,
            term_months: 36,
        };
        assert_eq!(ok.check(), Ok(()));
        let bad = ApplicationFacts {
            term_months: 0,
            ..ok
        };
        assert_eq!(bad.check().unwrap_err().field, "term_months");
        assert_eq!(ok.vector().len(), APPLICATION_FEATURES.len());
    }
}

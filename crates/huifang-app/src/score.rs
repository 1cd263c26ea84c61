//! The risk score's use cases: training both models from the book's history with a time-based
//! holdout (`huifang score train`), scoring every loan on the book or the loans a close visited,
//! watching a model's population stability, a loan's score with its top factors, and the score of
//! a new application.

use std::collections::HashMap;

use huifang_core::calendar::add_months;
use huifang_core::score::{
    self as core, ApplicationFacts, BehaviourFacts, Model, ModelKind, SignalGroup,
};
use huifang_core::status::dpd_on;
use huifang_core::{Date, LoanId};
use huifang_store::{LoanScoreRow, ModelRecord, NewModel, ScoreStatic, Store, Tx};
use serde::{Deserialize, Serialize};

use crate::team::{Actor, Role};
use crate::{AppError, require_business_date};

/// A model as stored (JSON): its features by key, and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredModel {
    pub kind: String,
    pub features: Vec<String>,
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

impl StoredModel {
    fn of(m: &Model) -> StoredModel {
        StoredModel {
            kind: m.kind.as_str().to_string(),
            features: m
                .kind
                .features()
                .iter()
                .map(|f| f.key.to_string())
                .collect(),
            means: m.means.clone(),
            scales: m.scales.clone(),
            coefficients: m.coefficients.clone(),
            intercept: m.intercept,
        }
    }

    fn model(&self) -> Result<Model, AppError> {
        let kind = ModelKind::parse(&self.kind)
            .ok_or_else(|| AppError::Invalid(format!("stored model of kind {:?}", self.kind)))?;
        let keys: Vec<&str> = kind.features().iter().map(|f| f.key).collect();
        if self.features != keys {
            return Err(AppError::Invalid(format!(
                "the stored {} model's features {:?} are not the ones Huifang computes {keys:?}: train it again",
                self.kind, self.features
            )));
        }
        Ok(Model {
            kind,
            means: self.means.clone(),
            scales: self.scales.clone(),
            coefficients: self.coefficients.clone(),
            intercept: self.intercept,
        })
    }
}

/// One band of the calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalibrationView {
    pub loans: usize,
    pub predicted: f64,
    pub observed: f64,
}

/// A model's validation (JSON): on the holdout, AUC, KS and calibration; the training scores'
/// bands, against which population stability is measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metrics {
    pub auc: f64,
    pub ks: f64,
    pub calibration: Vec<CalibrationView>,
    pub training_events: usize,
    pub holdout_events: usize,
    /// The holdout's observation dates.
    pub holdout_from: String,
    pub holdout_to: String,
    pub band_cuts: Vec<f64>,
    pub band_shares: Vec<f64>,
}

/// A trained model as reported.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelView {
    pub version: i64,
    pub kind: String,
    pub trained_on: String,
    pub as_of: String,
    pub training_rows: i64,
    pub holdout_rows: i64,
    pub metrics: Metrics,
    /// Population stability between the training scores and today's loans.
    pub psi: Option<f64>,
    /// PSI above 0.25: today's loans no longer look like the training rows.
    pub flagged: bool,
    pub model: StoredModel,
}

impl ModelView {
    fn of(r: &ModelRecord) -> Result<ModelView, AppError> {
        let parse = |what: &str, text: &str| {
            AppError::Invalid(format!("model {} {what}: {text}", r.version))
        };
        Ok(ModelView {
            version: r.version,
            kind: r.kind.clone(),
            trained_on: r.trained_on.to_string(),
            as_of: r.as_of.to_string(),
            training_rows: r.training_rows,
            holdout_rows: r.holdout_rows,
            metrics: serde_json::from_str(&r.metrics)
                .map_err(|e| parse("metrics", &e.to_string()))?,
            psi: r.psi,
            flagged: r.flagged,
            model: serde_json::from_str(&r.model)
                .map_err(|e| parse("parameters", &e.to_string()))?,
        })
    }
}

/// A factor of a score: the feature, its value, its contribution to the log-odds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FactorView {
    pub feature: String,
    pub zh: String,
    pub en: String,
    pub value: String,
    pub contribution: f64,
}

/// A score: the probability of reaching 90 DPD within the horizon, its band, its top factors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoreView {
    pub model_version: i64,
    pub scored_on: String,
    /// Basis points (1234 is 12.34 %).
    pub probability_bp: u32,
    pub probability_pct: String,
    /// A (lowest risk) to E.
    pub band: String,
    pub factors: Vec<FactorView>,
}

/// The factors shown with a score.
const TOP_FACTORS: usize = 3;

fn factors(model: &Model, x: &[f64], shown: impl Fn(usize) -> String) -> Vec<FactorView> {
    model
        .contributions(x)
        .into_iter()
        .filter(|(_, c)| *c > 0.0)
        .take(TOP_FACTORS)
        .filter_map(|(i, c)| {
            let f = model.kind.features().get(i)?;
            Some(FactorView {
                feature: f.key.to_string(),
                zh: f.zh.to_string(),
                en: f.en.to_string(),
                value: shown(i),
                contribution: (c * 1000.0).round() / 1000.0,
            })
        })
        .collect()
}

fn score_view(
    model: &Model,
    version: i64,
    on: Date,
    x: &[f64],
    shown: impl Fn(usize) -> String,
) -> ScoreView {
    let p = model.probability(x);
    let bp = core::probability_bp(p);
    ScoreView {
        model_version: version,
        scored_on: on.to_string(),
        probability_bp: bp,
        probability_pct: huifang_core::analytics::percent(Some(u64::from(bp))),
        band: core::band(p).to_string(),
        factors: factors(model, x, shown),
    }
}

// ----- Facts -------------------------------------------------------------------------------------

fn rate_bp(text: &str) -> Result<i64, AppError> {
    let rate = huifang_core::Rate::parse_annual(text)
        .map_err(|e| AppError::Invalid(format!("annual rate {text:?}: {e}")))?;
    Ok(core::rate_basis_points(rate))
}

fn application_of(s: &ScoreStatic) -> Result<ApplicationFacts, AppError> {
    Ok(ApplicationFacts {
        principal_fen: s.principal_fen,
        vehicle_price_fen: s.vehicle_price_fen,
        monthly_income_fen: s.monthly_income_fen,
        annual_rate_bp: rate_bp(&s.annual_rate)?,
        term_months: s.term_months,
    })
}

fn months_between(from: Date, to: Date) -> u32 {
    let y = huifang_core::analytics::YearMonth::of(from);
    u32::try_from(
        y.months_to(huifang_core::analytics::YearMonth::of(to))
            .max(0),
    )
    .unwrap_or(0)
}

/// What the behaviour model reads on `date`, for the loans in `on_book` ((loan, DPD, balance)).
async fn behaviour_facts(
    tx: &mut Tx,
    date: Date,
    on_book: &[(i64, u32, i64)],
    statics: &HashMap<i64, ScoreStatic>,
    ids: Option<&[LoanId]>,
) -> Result<Vec<(i64, BehaviourFacts)>, AppError> {
    let year_before = date
        .checked_sub_months(chrono::Months::new(12))
        .unwrap_or(date);
    let history: HashMap<i64, (u32, u32)> = tx
        .month_end_history(year_before, date, ids)
        .await?
        .into_iter()
        .map(|(l, late, max)| (l, (late, max)))
        .collect();
    let mut signals: HashMap<i64, [u32; 4]> = HashMap::new();
    for (loan, kind, n) in tx.signal_counts(date, ids).await? {
        let slot = match core::signal_group(&kind) {
            Some(SignalGroup::Hardship) => 0,
            Some(SignalGroup::Vehicle) => 1,
            Some(SignalGroup::Unreachable) => 2,
            Some(SignalGroup::BrokenPromise) => 3,
            None => continue,
        };
        if let Some(c) = signals.entry(loan).or_default().get_mut(slot) {
            *c += n;
        }
    }
    let mut out = Vec::with_capacity(on_book.len());
    for (loan, dpd, balance) in on_book {
        let Some(s) = statics.get(loan) else { continue };
        let (late, max) = history.get(loan).copied().unwrap_or_default();
        let [hardship, vehicle, unreachable, broken] =
            signals.get(loan).copied().unwrap_or_default();
        out.push((
            *loan,
            BehaviourFacts {
                application: application_of(s)?,
                dpd: *dpd,
                late_month_ends: late,
                max_dpd_12m: max,
                broken_promises: broken,
                hardship_signals: hardship,
                vehicle_signals: vehicle,
                unreachable_signals: unreachable,
                months_on_book: months_between(s.disbursed_on, date),
                balance_fen: *balance,
            },
        ));
    }
    Ok(out)
}

async fn statics(
    tx: &mut Tx,
    ids: Option<&[LoanId]>,
) -> Result<HashMap<i64, ScoreStatic>, AppError> {
    Ok(tx
        .score_statics(ids)
        .await?
        .into_iter()
        .map(|s| (s.loan_id, s))
        .collect())
}

// ----- Training ------------------------------------------------------------------------------------

/// Observation month-ends in the behaviour model's training rows (before the holdout's).
const TRAINING_MONTHS: usize = 3;

/// Trains the models of `kinds` on the book's history up to `as_of` (default: the business date)
/// and scores every loan on the book; returns the models stored.
pub async fn train(
    store: &Store,
    as_of: Option<Date>,
    kinds: &[ModelKind],
) -> Result<Vec<ModelView>, AppError> {
    let mut tx = store.begin().await?;
    let today = require_business_date(&mut tx).await?;
    let as_of = as_of.unwrap_or(today);
    if as_of > today {
        return Err(AppError::Refused {
            field: "as_of",
            reason: format!("must be on or before the business date {today}, not {as_of}"),
        });
    }
    let kept: Vec<Date> = tx
        .month_ends()
        .await?
        .into_iter()
        .map(|m| m.date)
        .filter(|d| *d <= as_of)
        .collect();
    let Some(last) = kept.last().copied() else {
        return Err(AppError::Refused {
            field: "as_of",
            reason: format!(
                "no month-end is kept on or before {as_of}: close a month or run `huifang report backfill`"
            ),
        });
    };
    let first90: HashMap<i64, Date> = tx
        .first_month_end_at(core::EVENT_DPD)
        .await?
        .into_iter()
        .filter(|(_, d)| *d <= last)
        .collect();
    let all = statics(&mut tx, None).await?;
    let mut versions = Vec::new();
    if kinds.contains(&ModelKind::Behaviour) {
        versions.push((
            ModelKind::Behaviour,
            train_behaviour(&mut tx, &kept, last, &first90, &all, today, as_of).await?,
        ));
    }
    if kinds.contains(&ModelKind::Application) {
        versions.push((
            ModelKind::Application,
            train_application(&mut tx, last, &first90, &all, today, as_of).await?,
        ));
    }
    tx.commit().await?;
    // every loan scored with the new behaviour model; its stability measured on those scores
    let scored = score_book_scored(store).await?;
    let mut views = Vec::new();
    for (kind, version) in versions {
        let known = (kind == ModelKind::Behaviour).then_some(scored.probabilities.as_slice());
        views.push(stability_with(store, version, known).await?);
    }
    Ok(views)
}

async fn train_behaviour(
    tx: &mut Tx,
    kept: &[Date],
    last: Date,
    first90: &HashMap<i64, Date>,
    all: &HashMap<i64, ScoreStatic>,
    today: Date,
    as_of: Date,
) -> Result<i64, AppError> {
    let observable: Vec<Date> = kept
        .iter()
        .copied()
        .filter(|m| add_months(*m, core::BEHAVIOUR_HORIZON_MONTHS) <= last)
        .collect();
    let Some((holdout, earlier)) = observable.split_last() else {
        return Err(AppError::Refused {
            field: "as_of",
            reason: format!(
                "the month-ends kept up to {last} leave no observation with {} months after it: the behaviour model needs month-ends over at least {} months",
                core::BEHAVIOUR_HORIZON_MONTHS,
                core::BEHAVIOUR_HORIZON_MONTHS + 2
            ),
        });
    };
    if earlier.is_empty() {
        return Err(AppError::Refused {
            field: "as_of",
            reason: "one observation month only: a time-based holdout needs at least two".into(),
        });
    }
    let training = earlier
        .get(earlier.len().saturating_sub(TRAINING_MONTHS)..)
        .unwrap_or(earlier);
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for m in training {
        for (loan, facts) in observation(tx, *m, all).await? {
            rows.push(facts.vector());
            events.push(event_after(first90, loan, *m));
        }
    }
    let model = Model::fit(ModelKind::Behaviour, &rows, &events)
        .map_err(|e| AppError::Invalid(format!("the behaviour model: {e}")))?;
    let train_scores: Vec<f64> = rows.iter().map(|r| model.probability(r)).collect();
    let mut predictions = Vec::new();
    for (loan, facts) in observation(tx, *holdout, all).await? {
        predictions.push((
            loan,
            *holdout,
            model.probability(&facts.vector()),
            event_after(first90, loan, *holdout),
        ));
    }
    store_model(
        tx,
        &model,
        (today, as_of),
        (&train_scores, &events),
        &predictions,
        (*holdout, *holdout),
    )
    .await
}

/// The loans on the book at month-end `m` not yet at 90 DPD, with their facts then.
async fn observation(
    tx: &mut Tx,
    m: Date,
    all: &HashMap<i64, ScoreStatic>,
) -> Result<Vec<(i64, BehaviourFacts)>, AppError> {
    let on_book: Vec<(i64, u32, i64)> = tx
        .month_end_active(m)
        .await?
        .into_iter()
        .filter(|(_, dpd, _)| *dpd < core::EVENT_DPD)
        .collect();
    behaviour_facts(tx, m, &on_book, all, None).await
}

fn event_after(first90: &HashMap<i64, Date>, loan: i64, m: Date) -> bool {
    first90
        .get(&loan)
        .is_some_and(|f| *f > m && *f <= add_months(m, core::BEHAVIOUR_HORIZON_MONTHS))
}

async fn train_application(
    tx: &mut Tx,
    last: Date,
    first90: &HashMap<i64, Date>,
    all: &HashMap<i64, ScoreStatic>,
    today: Date,
    as_of: Date,
) -> Result<i64, AppError> {
    // loans whose first year on book has been seen, oldest first
    let mut seen: Vec<&ScoreStatic> = all
        .values()
        .filter(|s| add_months(s.disbursed_on, core::APPLICATION_HORIZON_MONTHS) <= last)
        .collect();
    seen.sort_by_key(|s| (s.disbursed_on, s.loan_id));
    let cut = seen.len() * 4 / 5;
    let (train, hold) = seen.split_at(cut);
    let event = |s: &ScoreStatic| {
        first90
            .get(&s.loan_id)
            .is_some_and(|f| *f <= add_months(s.disbursed_on, core::APPLICATION_HORIZON_MONTHS))
    };
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for s in train {
        rows.push(application_of(s)?.vector());
        events.push(event(s));
    }
    let model = Model::fit(ModelKind::Application, &rows, &events)
        .map_err(|e| AppError::Invalid(format!("the application model: {e}")))?;
    let train_scores: Vec<f64> = rows.iter().map(|r| model.probability(r)).collect();
    let mut predictions = Vec::new();
    for s in hold {
        predictions.push((
            s.loan_id,
            s.disbursed_on,
            model.probability(&application_of(s)?.vector()),
            event(s),
        ));
    }
    let range = (
        hold.first().map_or(last, |s| s.disbursed_on),
        hold.last().map_or(last, |s| s.disbursed_on),
    );
    store_model(
        tx,
        &model,
        (today, as_of),
        (&train_scores, &events),
        &predictions,
        range,
    )
    .await
}

async fn store_model(
    tx: &mut Tx,
    model: &Model,
    (today, as_of): (Date, Date),
    (train_scores, train_events): (&[f64], &[bool]),
    predictions: &[huifang_store::Prediction],
    (holdout_from, holdout_to): (Date, Date),
) -> Result<i64, AppError> {
    let scores: Vec<f64> = predictions.iter().map(|p| p.2).collect();
    let events: Vec<bool> = predictions.iter().map(|p| p.3).collect();
    let none = |what: &str| {
        AppError::Invalid(format!(
            "the {} model's holdout holds no {what}: more history is needed",
            model.kind.as_str()
        ))
    };
    let cuts = core::decile_cuts(train_scores);
    let metrics = Metrics {
        auc: core::auc(&scores, &events).ok_or_else(|| none("event or no non-event"))?,
        ks: core::ks(&scores, &events).ok_or_else(|| none("event or no non-event"))?,
        calibration: core::calibration(&scores, &events, 10)
            .into_iter()
            .map(|b| CalibrationView {
                loans: b.loans,
                predicted: b.predicted,
                observed: b.observed,
            })
            .collect(),
        training_events: train_events.iter().filter(|e| **e).count(),
        holdout_events: events.iter().filter(|e| **e).count(),
        holdout_from: holdout_from.to_string(),
        holdout_to: holdout_to.to_string(),
        band_shares: core::band_shares(&cuts, train_scores),
        band_cuts: cuts,
    };
    let json = |v: &dyn erased::Json| v.text();
    let version = tx
        .insert_model(&NewModel {
            kind: model.kind.as_str(),
            trained_on: today,
            as_of,
            model: &json(&StoredModel::of(model))?,
            metrics: &json(&metrics)?,
            training_rows: train_scores.len(),
            holdout_rows: predictions.len(),
        })
        .await?;
    tx.insert_predictions(version, predictions).await?;
    Ok(version)
}

mod erased {
    use crate::AppError;

    /// A value written as JSON text.
    pub trait Json {
        fn text(&self) -> Result<String, AppError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn text(&self) -> Result<String, AppError> {
            serde_json::to_string(self).map_err(|e| AppError::Invalid(e.to_string()))
        }
    }
}

// ----- Scoring -------------------------------------------------------------------------------------

async fn latest(tx: &mut Tx, kind: ModelKind) -> Result<Option<(ModelRecord, Model)>, AppError> {
    let Some(r) = tx
        .models()
        .await?
        .into_iter()
        .find(|m| m.kind == kind.as_str())
    else {
        return Ok(None);
    };
    let model = ModelView::of(&r)?.model.model()?;
    Ok(Some((r, model)))
}

/// What scoring wrote: how many loans were scored, and those whose score rose into a high band
/// (a risk signal recorded for the warning rules).
#[derive(Debug, Default)]
pub struct Scored {
    pub loans: usize,
    pub signalled: Vec<LoanId>,
    /// Each scored loan's probability.
    pub probabilities: Vec<f64>,
}

/// Scores the loans on the book on the business date (all of them, or `ids`) with the latest
/// behaviour model, writing their scores, and records a risk signal (`score_band_d`,
/// `score_band_e`) for each loan whose score rose into band D or E. Nothing without a model.
pub async fn score_loans(
    tx: &mut Tx,
    date: Date,
    ids: Option<&[LoanId]>,
) -> Result<Scored, AppError> {
    let Some((record, model)) = latest(tx, ModelKind::Behaviour).await? else {
        return Ok(Scored::default());
    };
    if ids.is_some_and(<[LoanId]>::is_empty) {
        return Ok(Scored::default());
    }
    let on_book: Vec<(i64, u32, i64)> = tx
        .active_now(ids)
        .await?
        .into_iter()
        .map(|(loan, oldest, balance)| (loan, dpd_on(oldest, date), balance))
        .collect();
    let keys: Vec<LoanId> = on_book.iter().map(|r| LoanId(r.0)).collect();
    let statics = statics(tx, Some(&keys)).await?;
    let facts = behaviour_facts(tx, date, &on_book, &statics, Some(&keys)).await?;
    let previous: HashMap<i64, char> = tx
        .loan_bands(&keys)
        .await?
        .into_iter()
        .filter_map(|(loan, band)| Some((loan, huifang_core::score::parse_band(&band)?)))
        .collect();
    let mut rows = Vec::with_capacity(facts.len());
    let mut probabilities = Vec::with_capacity(facts.len());
    let mut signals = Vec::new();
    for (loan, f) in &facts {
        let x = f.vector();
        let view = score_view(&model, record.version, date, &x, |i| f.shown(i));
        probabilities.push(model.probability(&x));
        let band = view.band.chars().next().unwrap_or('A');
        if let Some(kind) = core::band_signal(previous.get(loan).copied(), band) {
            signals.push((
                LoanId(*loan),
                kind.to_string(),
                view.probability_pct.clone(),
                date,
                None,
            ));
        }
        rows.push(LoanScoreRow {
            loan_id: *loan,
            model_version: record.version,
            scored_on: date,
            probability_bp: view.probability_bp,
            band: view.band,
            factors: serde_json::to_string(&view.factors)
                .map_err(|e| AppError::Invalid(e.to_string()))?,
        });
    }
    for chunk in rows.chunks(5_000) {
        tx.upsert_loan_scores(chunk).await?;
    }
    tx.insert_risk_signals(&signals).await?;
    Ok(Scored {
        loans: rows.len(),
        signalled: signals.into_iter().map(|s| s.0).collect(),
        probabilities,
    })
}

/// Scores every loan on the book (the loans rising into a high band weighed by the warning
/// rules). Returns how many were scored.
pub async fn score_book(store: &Store) -> Result<usize, AppError> {
    Ok(score_book_scored(store).await?.loans)
}

async fn score_book_scored(store: &Store) -> Result<Scored, AppError> {
    let policy = crate::policy::load(store).await?;
    let mut tx = store.begin().await?;
    let today = require_business_date(&mut tx).await?;
    let scored = score_loans(&mut tx, today, None).await?;
    // the loans whose score rose into a high band are weighed by the warning rules now
    let plans = crate::followup::Plans::load(&mut tx).await?;
    crate::engine::weigh_signals(&mut tx, &policy, &plans, today, scored.signalled.clone()).await?;
    tx.commit().await?;
    Ok(scored)
}

/// Measures a model's population stability on today's loans (the behaviour model on their
/// histories, the application model on their applications) and flags it above 0.25.
pub async fn stability(store: &Store, version: i64) -> Result<ModelView, AppError> {
    stability_with(store, version, None).await
}

/// [`stability`], with today's behaviour scores when they are in hand (just computed by scoring
/// the book with this model).
async fn stability_with(
    store: &Store,
    version: i64,
    known: Option<&[f64]>,
) -> Result<ModelView, AppError> {
    let mut tx = store.begin().await?;
    let today = require_business_date(&mut tx).await?;
    let record = tx
        .models()
        .await?
        .into_iter()
        .find(|m| m.version == version)
        .ok_or_else(|| AppError::NotFound {
            what: "model",
            id: version.to_string(),
        })?;
    let view = ModelView::of(&record)?;
    let model = view.model.model()?;
    let today_scores = match known {
        Some(scores) => scores.to_vec(),
        None => today_scores(&mut tx, &model, today).await?,
    };
    let psi = core::psi_of(
        &view.metrics.band_cuts,
        &view.metrics.band_shares,
        &today_scores,
    )
    .unwrap_or(0.0);
    let flagged = psi > core::PSI_FLAG;
    tx.set_model_stability(version, psi, flagged).await?;
    tx.commit().await?;
    Ok(ModelView {
        psi: Some(psi),
        flagged,
        ..view
    })
}

/// Scores every loan on the book again and measures the latest models' stability (the
/// behaviour model's on the scores just computed): `huifang score run`.
pub async fn rescore(store: &Store) -> Result<(usize, Vec<ModelView>), AppError> {
    let scored = score_book_scored(store).await?;
    let mut views = Vec::new();
    for kind in [ModelKind::Behaviour, ModelKind::Application] {
        let latest = models(store, None)
            .await?
            .into_iter()
            .find(|m| m.kind == kind.as_str());
        if let Some(m) = latest {
            let known = (kind == ModelKind::Behaviour).then_some(scored.probabilities.as_slice());
            views.push(stability_with(store, m.version, known).await?);
        }
    }
    Ok((scored.loans, views))
}

/// A model's probabilities for today's loans (the behaviour model on their histories, the
/// application model on their applications).
async fn today_scores(tx: &mut Tx, model: &Model, today: Date) -> Result<Vec<f64>, AppError> {
    let on_book: Vec<(i64, u32, i64)> = tx
        .active_now(None)
        .await?
        .into_iter()
        .map(|(loan, oldest, balance)| (loan, dpd_on(oldest, today), balance))
        .collect();
    let all = statics(tx, None).await?;
    Ok(match model.kind {
        ModelKind::Behaviour => behaviour_facts(tx, today, &on_book, &all, None)
            .await?
            .iter()
            .map(|(_, f)| model.probability(&f.vector()))
            .collect(),
        ModelKind::Application => {
            let mut s = Vec::new();
            for (loan, _, _) in &on_book {
                if let Some(st) = all.get(loan) {
                    s.push(model.probability(&application_of(st)?.vector()));
                }
            }
            s
        }
    })
}

/// The models, newest first, for the roles that read loans.
pub async fn models(store: &Store, actor: Option<&Actor>) -> Result<Vec<ModelView>, AppError> {
    if let Some(a) = actor {
        a.require(Role::reads_loans, "read the risk models")?;
    }
    let mut tx = store.begin().await?;
    let models = tx.models().await?;
    tx.rollback().await?;
    models.iter().map(ModelView::of).collect()
}

/// A loan's latest score, by external id.
pub async fn loan_score(
    store: &Store,
    actor: Option<&Actor>,
    external_id: &str,
) -> Result<Option<ScoreView>, AppError> {
    if let Some(a) = actor {
        a.require(Role::reads_loans, "read a loan's risk score")?;
    }
    let mut tx = store.begin().await?;
    let id = tx
        .loan_ids_by_external_id(&[external_id.to_string()])
        .await?
        .get(external_id)
        .copied()
        .ok_or_else(|| AppError::NotFound {
            what: "loan",
            id: external_id.to_string(),
        })?;
    let row = tx.loan_score(id).await?;
    if row.is_none() && latest(&mut tx, ModelKind::Behaviour).await?.is_none() {
        return Err(AppError::Conflict(
            "no behaviour model yet: run `huifang score train`".into(),
        ));
    }
    tx.rollback().await?;
    row.map(|r| {
        Ok(ScoreView {
            model_version: r.model_version,
            scored_on: r.scored_on.to_string(),
            probability_bp: r.probability_bp,
            probability_pct: huifang_core::analytics::percent(Some(u64::from(r.probability_bp))),
            band: r.band,
            factors: serde_json::from_str(&r.factors)
                .map_err(|e| AppError::Invalid(format!("stored factors: {e}")))?,
        })
    })
    .transpose()
}

/// Scores a new application (pre-loan) with the latest application model.
pub async fn score_application(
    store: &Store,
    actor: Option<&Actor>,
    facts: &ApplicationFacts,
) -> Result<ScoreView, AppError> {
    if let Some(a) = actor {
        a.require(Role::reads_loans, "score an application")?;
    }
    facts.check().map_err(|e| AppError::Field {
        field: e.field,
        reason: e.reason,
    })?;
    let mut tx = store.begin().await?;
    let today = require_business_date(&mut tx).await?;
    let (record, model) = latest(&mut tx, ModelKind::Application)
        .await?
        .ok_or_else(|| {
            AppError::Conflict("no application model yet: run `huifang score train`".into())
        })?;
    tx.rollback().await?;
    let x = facts.vector();
    Ok(score_view(&model, record.version, today, &x, |i| {
        facts.shown(i)
    }))
}

/// A new application to score, as asked for over the API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// Yuan ("100000.00").
    pub principal: String,
    /// Yuan.
    pub vehicle_price: String,
    /// The borrower's monthly income, yuan.
    pub monthly_income: String,
    /// "0.0588".
    pub annual_rate: String,
    pub term_months: u32,
}

impl ApplicationRequest {
    /// The facts, parsed; a malformed field is named.
    pub fn facts(&self) -> Result<ApplicationFacts, AppError> {
        let amount = |field: &'static str, text: &str| {
            huifang_core::Money::parse(text)
                .map(|m| m.fen())
                .map_err(|e| AppError::Field {
                    field,
                    reason: e.to_string(),
                })
        };
        let rate =
            huifang_core::Rate::parse_annual(&self.annual_rate).map_err(|e| AppError::Field {
                field: "annual_rate",
                reason: e.to_string(),
            })?;
        Ok(ApplicationFacts {
            principal_fen: amount("principal", &self.principal)?,
            vehicle_price_fen: amount("vehicle_price", &self.vehicle_price)?,
            monthly_income_fen: amount("monthly_income", &self.monthly_income)?,
            annual_rate_bp: core::rate_basis_points(rate),
            term_months: self.term_months,
        })
    }
}

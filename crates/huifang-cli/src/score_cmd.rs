//! `huifang score train | models | loan | application | run`: the risk score.

use anyhow::Context;
use anyhow::Result;
use clap::Subcommand;
use huifang_app::score::{self, ModelView, ScoreView};
use huifang_core::score::{ApplicationFacts, ModelKind};
use huifang_core::{Date, Money, Rate};
use huifang_store::Store;

use crate::date_arg;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train the behaviour model (90+ DPD within 6 months, from each loan's repayment and
    /// follow-up history at past month-ends, the latest observation month held out) and the
    /// application model (90+ DPD within the first year, from the application's fields, the
    /// latest 20 % of loans held out); store both, versioned, with AUC, KS, calibration and
    /// population stability; score every loan on the book.
    Train {
        /// Train on the history up to this date (default: the business date).
        #[arg(long = "as-of", value_parser = date_arg)]
        as_of: Option<Date>,
        /// Only this model (behaviour or application; default both).
        #[arg(long, value_parser = kind_arg)]
        kind: Option<ModelKind>,
        #[arg(long)]
        json: bool,
    },
    /// The models, newest first, with their metrics.
    Models {
        #[arg(long)]
        json: bool,
    },
    /// A loan's latest score and its top factors.
    Loan {
        external_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Score every loan on the book now and measure each latest model's population stability.
    Run,
    /// Score a new application (pre-loan) from its fields alone.
    Application {
        /// Loan principal (yuan).
        #[arg(long)]
        principal: String,
        /// Vehicle price (yuan).
        #[arg(long = "vehicle-price")]
        vehicle_price: String,
        /// The borrower's monthly income (yuan).
        #[arg(long = "monthly-income")]
        monthly_income: String,
        /// Annual rate (0.0588).
        #[arg(long)]
        rate: String,
        /// Term in months.
        #[arg(long)]
        term: u32,
        #[arg(long)]
        json: bool,
    },
}

fn kind_arg(s: &str) -> Result<ModelKind, String> {
    ModelKind::parse(s).ok_or_else(|| format!("{s:?} is not a model (behaviour, application)"))
}

fn model_text(m: &ModelView) -> String {
    let mut out = format!(
        "model {} ({}) trained {} on the history to {}: {} training rows, {} held out ({} to {})\n  AUC {:.3}  KS {:.3}  PSI {}{}\n  calibration (band: loans, predicted, observed)\n",
        m.version,
        m.kind,
        m.trained_on,
        m.as_of,
        m.training_rows,
        m.holdout_rows,
        m.metrics.holdout_from,
        m.metrics.holdout_to,
        m.metrics.auc,
        m.metrics.ks,
        m.psi.map_or("-".to_string(), |p| format!("{p:.3}")),
        if m.flagged {
            "  FLAGGED: today's loans differ from the training rows"
        } else {
            ""
        },
    );
    for (i, b) in m.metrics.calibration.iter().enumerate() {
        out.push_str(&format!(
            "  {:>2}: {:>7}  {:>6.2}%  {:>6.2}%\n",
            i + 1,
            b.loans,
            b.predicted * 100.0,
            b.observed * 100.0
        ));
    }
    out
}

fn score_text(s: &ScoreView) -> String {
    let mut out = format!(
        "band {}: {}% probability of 90+ DPD (model {}, scored {})\n",
        s.band, s.probability_pct, s.model_version, s.scored_on
    );
    for f in &s.factors {
        out.push_str(&format!(
            "  {} {} ({}): {} (+{:.3})\n",
            f.zh, f.en, f.feature, f.value, f.contribution
        ));
    }
    out
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(v)?))
}

/// Runs a score command.
pub async fn run(store: &Store, command: &Command) -> Result<String> {
    Ok(match command {
        Command::Train {
            as_of,
            kind,
            json: j,
        } => {
            let kinds = match kind {
                Some(k) => vec![*k],
                None => vec![ModelKind::Behaviour, ModelKind::Application],
            };
            let models = score::train(store, *as_of, &kinds).await?;
            if *j {
                json(&models)?
            } else {
                models.iter().map(model_text).collect()
            }
        }
        Command::Models { json: j } => {
            let models = score::models(store, None).await?;
            if *j {
                json(&models)?
            } else if models.is_empty() {
                "no model yet: run `huifang score train`\n".into()
            } else {
                models.iter().map(model_text).collect()
            }
        }
        Command::Loan {
            external_id,
            json: j,
        } => match score::loan_score(store, None, external_id).await? {
            Some(s) if *j => json(&s)?,
            Some(s) => score_text(&s),
            None => format!("loan {external_id} has no score yet: run `huifang score train`\n"),
        },
        Command::Run => {
            let (scored, models) = score::rescore(store).await?;
            let mut out = format!("{scored} loans scored\n");
            for m in &models {
                out.push_str(&model_text(m));
            }
            out
        }
        Command::Application {
            principal,
            vehicle_price,
            monthly_income,
            rate,
            term,
            json: j,
        } => {
            let amount = |text: &str, field: &str| {
                Money::parse(text).with_context(|| format!("--{field} {text:?}"))
            };
            let rate = Rate::parse_annual(rate).with_context(|| format!("--rate {rate:?}"))?;
            let facts = ApplicationFacts {
                principal_fen: amount(principal, "principal")?.fen(),
                vehicle_price_fen: amount(vehicle_price, "vehicle-price")?.fen(),
                monthly_income_fen: amount(monthly_income, "monthly-income")?.fen(),
                annual_rate_bp: huifang_core::score::rate_basis_points(rate),
                term_months: *term,
            };
            let s = score::score_application(store, None, &facts).await?;
            if *j { json(&s)? } else { score_text(&s) }
        }
    })
}

//! The book as the roles that read loans see it: the portfolio dashboard (loans and balance by
//! bucket, five-tier classification and warning level, the overdue rate), the loan list
//! (filtered, a page at a time) and the borrower 360° view of a loan (contract, schedule,
//! payments, operations, status history, warnings, decisions, contacts).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::views::{
    DecisionView, DocumentMatchView, InteractionView, LoanDetailView, LoanSummaryView, PromiseView,
    StatusLineView, TaskSummary,
};
use huifang_app::{book, decisions, status, team};
use huifang_core::policy::Classification;
use huifang_core::status::Lifecycle;
use huifang_core::{LoanId, Money};
use huifang_store::StatusFilter;

use super::chart::{self, Bar};
use super::work::number;
use super::{Chrome, ConsoleError, Viewer, page, query_of, to};
use crate::AppState;
use crate::tasks::policy_in_force;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(dashboard))
        .route("/loans", get(loans))
        .route("/loans/{id}", get(loan))
        .route("/loans/{id}/reveal", post(reveal))
}

type Params = Query<HashMap<String, String>>;

// ----- the dashboard -------------------------------------------------------------------------

/// One line of a breakdown: a label, loans, balance and share of the balance.
pub struct Line {
    pub label: String,
    pub loans: i64,
    pub balance: String,
    pub share: String,
    /// The balance in fen (the length of its bar).
    pub fen: i64,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    business_date: String,
    /// When the figures were computed.
    taken_at: String,
    active: i64,
    balance: String,
    overdue_loans: i64,
    overdue_rate: String,
    overdue_balance_rate: String,
    buckets: Vec<Line>,
    tiers: Vec<Line>,
    levels: Vec<Line>,
    bucket_chart: String,
    tier_chart: String,
    level_chart: String,
    /// The last [`TREND_DAYS`] closed days and today.
    daily_chart: String,
    trend_chart: String,
    contact_rate: String,
    right_party_rate: String,
    promise_kept_rate: String,
}

/// A share `part / whole` in percent with one decimal, rounded half up from the exact ratio.
pub fn percent(part: i128, whole: i128) -> String {
    if whole <= 0 {
        return "0.0%".into();
    }
    let tenths = (part * 2000 + whole) / (2 * whole);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// Sums of (loans, balance in fen) per key, in the order of `keys`.
fn breakdown<K: PartialEq + Copy>(
    rows: &[(K, i64, i64)],
    keys: &[K],
    label: impl Fn(K) -> String,
    total: i64,
    c: &Chrome,
) -> Vec<Line> {
    keys.iter()
        .map(|k| {
            let (loans, fen) = rows
                .iter()
                .filter(|(key, _, _)| key == k)
                .fold((0i64, 0i64), |(n, f), (_, l, b)| (n + l, f + b));
            Line {
                label: label(*k),
                loans,
                balance: c.money(&Money::from_fen(fen).to_string()),
                share: percent(i128::from(fen), i128::from(total)),
                fen,
            }
        })
        .collect()
}

fn bars(lines: &[Line], colors: &[&'static str]) -> Vec<Bar> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| Bar {
            label: l.label.clone(),
            value: i128::from(l.fen),
            text: format!("{} · {}", l.balance, l.share),
            color: colors.get(i).copied().unwrap_or("#5470c6"),
        })
        .collect()
}

/// The dashboard's figures over time that come from the reports (the month-end trend, the
/// 30-day rates), computed at most every [`FRESH_FOR`]: at a million loans they take a second or
/// two, so pages are answered from the last ones while newer ones are computed in the
/// background. The book's totals, today's and each closed day's, are kept as it is written and
/// read at every page.
#[derive(Debug, Default)]
pub struct PortfolioCache {
    last: std::sync::Mutex<Option<Summary>>,
    refreshing: std::sync::atomic::AtomicBool,
}

/// One computed trend: when (as an instant and as a time of day), and what.
type Summary = (
    std::time::Instant,
    chrono::DateTime<chrono::Utc>,
    Arc<Trend>,
);

/// The dashboard's figures over time: the delinquency trend over the month-ends kept, and the
/// contact and promise-kept rates of the last 30 days (from the reports over time).
#[derive(Debug, Default)]
pub struct Trend {
    /// The delinquency report's trend sheet: date, overdue rate and the tiers' shares.
    pub months: Option<huifang_app::analytics::Sheet>,
    pub contact_rate: String,
    pub right_party_rate: String,
    pub promise_kept_rate: String,
}

impl Trend {
    async fn compute(store: &huifang_store::Store) -> Result<Trend, ConsoleError> {
        use huifang_app::analytics::{self, ReportQuery};
        let policy = huifang_app::policy::load(store).await?;
        // the trend ends at the last month-end kept: today's book is the summary's already
        let last = analytics::month_ends(store).await?.last().copied();
        let delinquency = match last {
            Some(to) => Some(
                analytics::report(
                    store,
                    &policy,
                    "delinquency",
                    ReportQuery {
                        to: Some(to),
                        months: Some(12),
                        ..ReportQuery::default()
                    },
                )
                .await?,
            ),
            None => None,
        };
        let collection =
            analytics::report(store, &policy, "collection", ReportQuery::default()).await?;
        let value = |sheet: &str, row: &str, key: &str| {
            collection
                .sheets
                .iter()
                .find(|s| s.name == sheet)
                .and_then(|s| {
                    let i = (0..s.rows.len())
                        .find(|i| row.is_empty() || s.value(*i, "channel") == Some(row))?;
                    s.value(i, key).map(str::to_string)
                })
                .filter(|v| !v.is_empty())
                .map_or_else(|| "-".to_string(), |v| format!("{v}%"))
        };
        Ok(Trend {
            contact_rate: value("by_channel", "total", "contact_rate_pct"),
            right_party_rate: value("by_channel", "total", "right_party_rate_pct"),
            promise_kept_rate: value("promises", "", "kept_rate_pct"),
            months: delinquency.and_then(|d| d.sheets.into_iter().find(|s| s.name == "trend")),
        })
    }
}

/// How many closed days the dashboard's daily trend covers.
const TREND_DAYS: i64 = 90;

/// A day's rates over its active loans, in basis points: overdue by balance and by loans, the
/// non-performing tiers' share of balance (次级, 可疑, 损失) and warning levels 2 and 3's.
fn day_rates(rows: &[huifang_store::SummaryRow]) -> [Option<i128>; 4] {
    let active = rows.iter().filter(|r| r.lifecycle == Lifecycle::Active);
    let (mut loans, mut fen, mut overdue_loans, mut overdue_fen, mut npl_fen, mut warned_fen) =
        (0i128, 0i128, 0i128, 0i128, 0i128, 0i128);
    for r in active {
        let b = i128::from(r.outstanding_principal.fen());
        loans += i128::from(r.loans);
        fen += b;
        if r.bucket.0 > 0 {
            overdue_loans += i128::from(r.loans);
            overdue_fen += b;
        }
        if r.classification.is_non_performing() {
            npl_fen += b;
        }
        if r.warning_level >= 2 {
            warned_fen += b;
        }
    }
    let rate =
        |part: i128, whole: i128| huifang_core::analytics::rate_bp(part, whole).map(i128::from);
    [
        rate(overdue_fen, fen),
        rate(overdue_loans, loans),
        rate(npl_fen, fen),
        rate(warned_fen, fen),
    ]
}

/// The daily trend: each closed day's rates and today's, as lines.
fn daily_chart(
    days: &[(huifang_core::Date, Vec<huifang_store::SummaryRow>)],
    c: &Chrome,
) -> String {
    if days.len() < 2 {
        return String::new();
    }
    let cats: Vec<String> = days.iter().map(|(d, _)| d.to_string()).collect();
    let rates: Vec<[Option<i128>; 4]> = days.iter().map(|(_, rows)| day_rates(rows)).collect();
    let labels = [
        ("Overdue rate (balance)", "#ee6666"),
        ("Overdue rate (loans)", "#fc8452"),
        ("Non-performing share (balance)", "#9a60b4"),
        ("Warning level 2–3 share (balance)", "#5470c6"),
    ];
    let series: Vec<chart::Series> = labels
        .iter()
        .enumerate()
        .map(|(i, (label, color))| chart::Series {
            label: c.t(label).to_string(),
            color,
            points: rates.iter().map(|r| r.get(i).copied().flatten()).collect(),
        })
        .collect();
    chart::lines(&cats, &series, c.t("The last 90 closed days and today"))
}

/// How long a summary is shown before a newer one is computed.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(30);

impl PortfolioCache {
    /// The latest summary: the cached one (refreshed in the background once older than
    /// [`FRESH_FOR`]), or a new one when there is none yet.
    pub async fn get(
        self: &Arc<Self>,
        store: &huifang_store::Store,
    ) -> Result<Summary, ConsoleError> {
        let cached = self.last.lock().ok().and_then(|l| l.clone());
        if let Some(hit) = cached {
            if hit.0.elapsed() > FRESH_FOR
                && !self
                    .refreshing
                    .swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                let (cache, store) = (Arc::clone(self), store.clone());
                tokio::spawn(async move {
                    if let Err(e) = cache.compute(&store).await {
                        tracing::warn!(error = ?e, "the portfolio summary could not be refreshed");
                    }
                    cache
                        .refreshing
                        .store(false, std::sync::atomic::Ordering::Release);
                });
            }
            return Ok(hit);
        }
        self.compute(store).await
    }

    /// Computes the first summary (as the server starts); a failure is logged, and the first
    /// page computes it again.
    pub async fn warm(&self, store: &huifang_store::Store) {
        if let Err(e) = self.compute(store).await {
            tracing::info!(error = ?e, "the portfolio summary is computed at the first dashboard");
        }
    }

    async fn compute(&self, store: &huifang_store::Store) -> Result<Summary, ConsoleError> {
        let trend = Trend::compute(store).await?;
        let fresh = (
            std::time::Instant::now(),
            chrono::Utc::now(),
            Arc::new(trend),
        );
        if let Ok(mut last) = self.last.lock() {
            *last = Some(fresh.clone());
        }
        Ok(fresh)
    }
}

async fn dashboard(State(state): State<AppState>, v: Viewer) -> Result<Response, ConsoleError> {
    super::require(
        &v,
        v.actor.role.reads_loans(),
        "see the portfolio dashboard",
    )?;
    let (_, taken_at, trend) = state.portfolio.get(state.store.for_reports()).await?;
    // the book's totals are kept as it is written: today's and each closed day's are read, not
    // computed
    let days = status::daily_summaries(&state.store, TREND_DAYS).await?;
    let Some((date, rows)) = days.last() else {
        return Err(ConsoleError::Api(crate::ApiError::Internal(
            "no business date".into(),
        )));
    };
    let c = v.chrome("Dashboard", "/dashboard");
    let active: Vec<_> = rows
        .iter()
        .filter(|r| r.lifecycle == Lifecycle::Active)
        .collect();
    let total_loans: i64 = active.iter().map(|r| r.loans).sum();
    let total_fen: i64 = active.iter().map(|r| r.outstanding_principal.fen()).sum();
    let last_bucket = active.iter().map(|r| r.bucket.0).max().unwrap_or(0).max(7);
    let by_bucket: Vec<(u8, i64, i64)> = active
        .iter()
        .map(|r| (r.bucket.0, r.loans, r.outstanding_principal.fen()))
        .collect();
    let bucket_keys: Vec<u8> = (0..=last_bucket).collect();
    let bucket_name = |b: u8| {
        if b == last_bucket {
            format!("M{b}+")
        } else {
            format!("M{b}")
        }
    };
    let buckets = breakdown(&by_bucket, &bucket_keys, bucket_name, total_fen, &c);
    let by_tier: Vec<(Classification, i64, i64)> = active
        .iter()
        .map(|r| (r.classification, r.loans, r.outstanding_principal.fen()))
        .collect();
    let tier_name = |t: Classification| match c.lang {
        super::Lang::Zh => t.zh().to_string(),
        super::Lang::En => t.as_str().replace('_', " "),
    };
    let tiers = breakdown(&by_tier, &Classification::ALL, tier_name, total_fen, &c);
    let by_level: Vec<(u8, i64, i64)> = active
        .iter()
        .map(|r| (r.warning_level, r.loans, r.outstanding_principal.fen()))
        .collect();
    let level_name = |l: u8| format!("{} {l}", c.t("Level"));
    let levels = breakdown(&by_level, &[0, 1, 2, 3], level_name, total_fen, &c);
    let overdue: Vec<_> = active.iter().filter(|r| r.bucket.0 > 0).collect();
    let overdue_loans: i64 = overdue.iter().map(|r| r.loans).sum();
    let overdue_fen: i64 = overdue.iter().map(|r| r.outstanding_principal.fen()).sum();
    let bucket_chart = chart::bars(
        &bars(&buckets, &chart::BUCKET_COLORS),
        c.t("Balance by bucket"),
    );
    let tier_chart = chart::bars(
        &bars(&tiers, &chart::TIER_COLORS),
        c.t("Balance by classification"),
    );
    let level_chart = chart::bars(
        &bars(&levels, &chart::LEVEL_COLORS),
        c.t("Balance by warning level"),
    );
    let trend_chart = trend.months.as_ref().map_or_else(String::new, |s| {
        let cats: Vec<String> = (0..s.rows.len())
            .map(|i| s.value(i, "date").unwrap_or_default().to_string())
            .collect();
        let line = |key: &str, label: &str, color| chart::Series {
            label: c.t(label).to_string(),
            color,
            points: (0..s.rows.len())
                .map(|i| s.value(i, key).and_then(super::reports::bp))
                .collect(),
        };
        chart::lines(
            &cats,
            &[
                line("overdue_rate_pct", "Overdue rate (balance)", "#ee6666"),
                line("special_mention_pct", "special_mention", "#fac858"),
                line("substandard_pct", "substandard", "#f2a33a"),
            ],
            c.t("Overdue rate and tiers by month-end"),
        )
    });
    let daily = daily_chart(&days, &c);
    page(&DashboardPage {
        daily_chart: daily,
        trend_chart,
        contact_rate: trend.contact_rate.clone(),
        right_party_rate: trend.right_party_rate.clone(),
        promise_kept_rate: trend.promise_kept_rate.clone(),
        business_date: date.to_string(),
        taken_at: taken_at.format("%H:%M:%S UTC").to_string(),
        active: total_loans,
        balance: c.money(&Money::from_fen(total_fen).to_string()),
        overdue_loans,
        overdue_rate: percent(i128::from(overdue_loans), i128::from(total_loans)),
        overdue_balance_rate: percent(i128::from(overdue_fen), i128::from(total_fen)),
        buckets,
        tiers,
        levels,
        bucket_chart,
        tier_chart,
        level_chart,
        c,
    })
}

// ----- loans ---------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/loans.html")]
struct LoansPage {
    c: Chrome,
    loans: Vec<StatusLineView>,
    bucket: String,
    classification: String,
    level: String,
    next: Option<String>,
    buckets: Vec<String>,
    levels: Vec<String>,
    tiers: Vec<(String, String)>,
    error: Option<String>,
}

async fn loans(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    if let Some(id) = q.get("q").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        return Ok(to(&format!("/loans/{}", super::encode(id))));
    }
    let c = v.chrome("Loans", "/loans");
    let text = |name: &str| {
        q.get(name)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let (bucket, classification, level) = (text("bucket"), text("classification"), text("level"));
    let mut error = None;
    let mut filter = StatusFilter::default();
    if !bucket.is_empty() {
        match bucket.parse() {
            Ok(b) => filter.bucket = Some(b),
            Err(e) => error = Some(format!("bucket: {e}")),
        }
    }
    if !classification.is_empty() {
        match classification.parse() {
            Ok(t) => filter.classification = Some(t),
            Err(e) => error = Some(format!("classification: {e}")),
        }
    }
    if !level.is_empty() {
        match level.parse::<u8>() {
            Ok(l @ 0..=3) => filter.warning_level = Some(l),
            _ => error = Some("level: must be 0 to 3".into()),
        }
    }
    let after: Option<i64> = number(&q, "after");
    let (lines, next) = if error.is_none() {
        status::page(
            &state.store,
            &v.actor,
            &filter,
            after.map(LoanId),
            super::PAGE_ROWS,
        )
        .await?
    } else {
        (Vec::new(), None)
    };
    let next = next.map(|n| {
        format!(
            "{}&after={}",
            query_of(&[
                ("bucket", Some(&bucket)),
                ("classification", Some(&classification)),
                ("level", Some(&level)),
            ]),
            n.get()
        )
    });
    let tiers = Classification::ALL
        .iter()
        .map(|t| {
            (
                t.as_str().to_string(),
                match c.lang {
                    super::Lang::Zh => t.zh().to_string(),
                    super::Lang::En => t.as_str().replace('_', " "),
                },
            )
        })
        .collect();
    page(&LoansPage {
        c,
        loans: lines.iter().map(StatusLineView::from).collect(),
        bucket,
        classification,
        level,
        next,
        buckets: ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"]
            .map(String::from)
            .to_vec(),
        levels: ["0", "1", "2", "3"].map(String::from).to_vec(),
        tiers,
        error,
    })
}

#[derive(Template)]
#[template(path = "console/loan.html")]
struct LoanPage {
    c: Chrome,
    summary: LoanSummaryView,
    detail: LoanDetailView,
    interactions: Vec<InteractionView>,
    decisions: Vec<DecisionView>,
    can_reveal: bool,
    /// The role may see a vehicle's locations (a collector, on an open repossession case).
    can_see_vehicle: bool,
    reveal_error: Option<String>,
    tasks: Vec<TaskSummary>,
    promises: Vec<PromiseView>,
    documents: Vec<DocumentMatchView>,
    score: Option<ScoreLine>,
}

/// A loan's risk score as the 360° view shows it: factors as (name, value, contribution).
struct ScoreLine {
    band: String,
    probability: String,
    model: i64,
    scored_on: String,
    factors: Vec<(String, String, String)>,
}

async fn loan(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    loan_page(&state, v, &id, None, None).await
}

/// The 360° view with the borrower revealed, for the reason the form gives (logged with it).
async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: super::Posted,
) -> Result<Response, ConsoleError> {
    let super::Posted { viewer, fields } = posted;
    match fields.get("reason") {
        Some(reason) => loan_page(&state, viewer, &id, Some(reason), None).await,
        None => {
            let missing = viewer.lang.t("A reveal needs its reason.").to_string();
            loan_page(&state, viewer, &id, None, Some(missing)).await
        }
    }
}

async fn loan_page(
    state: &AppState,
    v: Viewer,
    id: &str,
    reveal: Option<&str>,
    reveal_error: Option<String>,
) -> Result<Response, ConsoleError> {
    let policy = policy_in_force(state).await?;
    let (view, borrower) = team::show_loan(&state.store, &policy, &v.actor, id, reveal).await?;
    let summary = LoanSummaryView::new(&view, &borrower);
    let detail = LoanDetailView::from(&view);
    let (interactions, _) = book::interactions(&state.store, &v.actor, Some(id), None, 200).await?;
    let mut interactions: Vec<InteractionView> = interactions
        .iter()
        .map(|(_, i)| InteractionView::from(i))
        .collect();
    interactions.reverse();
    let decisions = decisions::list(&state.store, &v.actor, Some(id))
        .await?
        .iter()
        .map(DecisionView::from)
        .collect();
    let work = book::loan_work(&state.store, &v.actor, id).await?;
    let score = match huifang_app::score::loan_score(&state.store, Some(&v.actor), id).await {
        Ok(s) => s,
        Err(huifang_app::AppError::Conflict(_)) => None, // no model trained yet
        Err(e) => return Err(e.into()),
    };
    let score = score.map(|s| ScoreLine {
        factors: s
            .factors
            .iter()
            .map(|f| {
                let name = if v.lang == super::i18n::Lang::En {
                    &f.en
                } else {
                    &f.zh
                };
                (
                    name.clone(),
                    f.value.clone(),
                    format!("{:.3}", f.contribution),
                )
            })
            .collect(),
        band: s.band,
        probability: s.probability_pct,
        model: s.model_version,
        scored_on: s.scored_on,
    });
    page(&LoanPage {
        score,
        reveal_error,
        tasks: work.tasks.iter().map(TaskSummary::from).rev().collect(),
        promises: work.promises.iter().map(PromiseView::from).rev().collect(),
        documents: work.documents.iter().map(DocumentMatchView::from).collect(),
        c: v.chrome("Loan", "/loans"),
        can_reveal: v.actor.role.may_reveal() && !summary.borrower.revealed,
        can_see_vehicle: huifang_core::team::location_access(v.actor.role, true).is_ok(),
        summary,
        detail,
        interactions,
        decisions,
    })
}

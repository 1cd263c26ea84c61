//! The reports over time in the console (风险分析报表): each report's sheets as tables with their
//! charts (the delinquency trend, flow rates, vintage curves, contact and hit rates), a range to
//! choose, and the report to download as CSV or an .xlsx workbook.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use huifang_app::AppError;
use huifang_app::analytics::{self, Headers, Report, ReportQuery, Sheet};
use huifang_core::calendar::parse_date;

use super::chart::{self, Bar, Series};
use super::i18n::Lang;
use super::{Chrome, ConsoleError, Viewer, page, query_of};
use crate::AppState;
use crate::tasks::policy_in_force;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(reports))
        .route("/reports/export", get(export))
}

/// The reports, with their names in the menu of the page.
const NAMES: [(&str, &str); 5] = [
    ("delinquency", "Delinquency"),
    ("roll-rates", "Roll rates"),
    ("vintage", "Vintage curves"),
    ("collection", "Collection and contact"),
    ("warnings", "Warning quality"),
];

pub struct Tab {
    pub name: &'static str,
    pub label: &'static str,
    pub active: bool,
}

pub struct Table {
    pub title: String,
    pub headers: Vec<(String, bool)>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "console/reports.html")]
struct ReportsPage {
    c: Chrome,
    tabs: Vec<Tab>,
    name: String,
    from: String,
    to: String,
    covers: String,
    charts: Vec<String>,
    tables: Vec<Table>,
    csv: String,
    xlsx: String,
    error: Option<String>,
}

type Params = Query<HashMap<String, String>>;

/// The report and range a page or a download asks for; a malformed date is refused by name.
fn asked(q: &HashMap<String, String>) -> Result<(&'static str, ReportQuery), AppError> {
    let name = q.get("name").map_or("delinquency", String::as_str);
    let name = NAMES
        .iter()
        .map(|(n, _)| *n)
        .find(|n| *n == name)
        .ok_or_else(|| AppError::NotFound {
            what: "report",
            id: name.to_string(),
        })?;
    let date = |field: &'static str| -> Result<_, AppError> {
        q.get(field)
            .filter(|v| !v.is_empty())
            .map(|v| {
                parse_date(v).ok_or_else(|| AppError::Field {
                    field,
                    reason: format!("{v:?} is not a date (YYYY-MM-DD)"),
                })
            })
            .transpose()
    };
    Ok((
        name,
        ReportQuery {
            from: date("from")?,
            to: date("to")?,
            months: None,
        },
    ))
}

async fn reports(
    State(state): State<AppState>,
    v: Viewer,
    q: Params,
) -> Result<Response, ConsoleError> {
    let c = v.chrome("Reports", "/reports");
    let name = q
        .get("name")
        .cloned()
        .unwrap_or_else(|| "delinquency".into());
    let (from, to) = (
        q.get("from").cloned().unwrap_or_default(),
        q.get("to").cloned().unwrap_or_default(),
    );
    let link = |format: &str| {
        format!(
            "/reports/export?{}",
            query_of(&[
                ("name", Some(name.as_str())),
                ("from", Some(from.as_str())),
                ("to", Some(to.as_str())),
                ("format", Some(format)),
            ])
        )
    };
    let mut p = ReportsPage {
        tabs: NAMES
            .iter()
            .map(|(n, label)| Tab {
                name: n,
                label,
                active: *n == name,
            })
            .collect(),
        csv: link("csv"),
        xlsx: link("xlsx"),
        name: name.clone(),
        from: from.clone(),
        to: to.clone(),
        covers: String::new(),
        charts: Vec::new(),
        tables: Vec::new(),
        error: None,
        c,
    };
    let policy = policy_in_force(&state).await?;
    let report = match asked(&q) {
        Ok((name, query)) => {
            analytics::report_as(state.store.for_reports(), &v.actor, &policy, name, query).await
        }
        Err(e) => Err(e),
    };
    match report {
        Ok(r) => {
            p.covers = format!("{} → {}", r.from, r.to);
            p.charts = charts(&r, v.lang);
            p.tables = r.sheets.iter().map(|s| table(s, v.lang)).collect();
            if r.name == "collection" {
                let flows = huifang_app::assistant::report(&state.store, &v.actor).await?;
                p.tables.push(assistant_table(&flows, v.lang));
            }
        }
        Err(
            e @ (AppError::Field { .. } | AppError::Refused { .. } | AppError::NotFound { .. }),
        ) => {
            p.error = Some(e.to_string());
        }
        Err(e) => return Err(e.into()),
    }
    page(&p)
}

/// The report as a file: CSV, or an .xlsx workbook with headers in the user's language.
async fn export(
    State(state): State<AppState>,
    v: Viewer,
    q: Params,
) -> Result<Response, ConsoleError> {
    let (name, query) = asked(&q)?;
    let policy = policy_in_force(&state).await?;
    let r = analytics::report_as(state.store.for_reports(), &v.actor, &policy, name, query).await?;
    let headers = match v.lang {
        Lang::Zh => Headers::Chinese,
        Lang::En => Headers::English,
    };
    let (body, kind, ext) = match q.get("format").map(String::as_str) {
        Some("csv") => (
            analytics::to_csv(&r, None)?.into_bytes(),
            "text/csv; charset=utf-8",
            "csv",
        ),
        _ => (
            analytics::to_xlsx(&r, headers)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-{}.{ext}\"",
        r.name, r.to
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

fn label(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_string(),
        Lang::En => en.to_string(),
    }
}

fn table(s: &Sheet, lang: Lang) -> Table {
    Table {
        title: label(lang, &s.zh, &s.en),
        headers: s
            .columns
            .iter()
            .map(|c| {
                (
                    label(lang, &c.zh, &c.en),
                    !matches!(c.kind, analytics::Kind::Text | analytics::Kind::Date),
                )
            })
            .collect(),
        rows: s.rows.clone(),
    }
}

/// The follow-up assistant's flows: conversations by task kind and flow, their completion and
/// hand-over rates, and why tasks went to agents.
fn assistant_table(rows: &[huifang_app::views::AssistantReportRow], lang: Lang) -> Table {
    let columns: [(&str, &str, bool); 10] = [
        ("任务类型", "Task kind", false),
        ("流程", "Flow", false),
        ("发起", "Started", true),
        ("进行中", "Active", true),
        ("完成", "Completed", true),
        ("完成率 %", "Completion %", true),
        ("转人工", "Handed over", true),
        ("转人工率 %", "Hand-over %", true),
        ("转人工原因", "Hand-over reasons", false),
        ("任务已关闭或改派", "Task closed or reassigned", true),
    ];
    Table {
        title: label(lang, "智能回访（按流程）", "Follow-up assistant by flow"),
        headers: columns
            .iter()
            .map(|(zh, en, num)| (label(lang, zh, en), *num))
            .collect(),
        rows: rows
            .iter()
            .map(|r| {
                let reasons: Vec<String> =
                    r.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
                vec![
                    r.kind.clone(),
                    r.flow.clone(),
                    r.started.to_string(),
                    r.active.to_string(),
                    r.completed.to_string(),
                    r.completion_pct.clone(),
                    r.handed_over.to_string(),
                    r.hand_over_pct.clone(),
                    reasons.join(", "),
                    r.closed.to_string(),
                ]
            })
            .collect(),
    }
}

/// A percentage ("12.34") in basis points.
pub fn bp(v: &str) -> Option<i128> {
    let (whole, frac) = v.split_once('.').unwrap_or((v, "0"));
    let frac = format!("{frac:0<2}");
    Some(whole.parse::<i128>().ok()? * 100 + frac.get(..2)?.parse::<i128>().ok()?)
}

fn sheet<'a>(r: &'a Report, name: &str) -> Option<&'a Sheet> {
    r.sheets.iter().find(|s| s.name == name)
}

/// One line per column `keys` of `s` over its rows, the categories from column `x`.
fn series_by_column(s: &Sheet, x: &str, keys: &[&str], lang: Lang) -> (Vec<String>, Vec<Series>) {
    let categories = (0..s.rows.len())
        .map(|i| s.value(i, x).unwrap_or_default().to_string())
        .collect();
    let series = keys
        .iter()
        .zip(chart::LINE_COLORS.iter().cycle())
        .filter_map(|(k, color)| {
            let col = s.columns.iter().find(|c| c.key == *k)?;
            Some(Series {
                label: label(lang, &col.zh, &col.en),
                color,
                points: (0..s.rows.len())
                    .map(|i| s.value(i, k).and_then(bp))
                    .collect(),
            })
        })
        .collect();
    (categories, series)
}

fn rate_bars(s: &Sheet, name_key: &str, rate_key: &str, skip: &[&str]) -> Vec<Bar> {
    (0..s.rows.len())
        .filter_map(|i| {
            let name = s.value(i, name_key)?;
            if skip.contains(&name) {
                return None;
            }
            let rate = s.value(i, rate_key).unwrap_or_default();
            Some(Bar {
                label: name.to_string(),
                value: bp(rate).unwrap_or(0),
                text: if rate.is_empty() {
                    "-".into()
                } else {
                    format!("{rate}%")
                },
                color: chart::LINE_COLORS.first().copied().unwrap_or("#5470c6"),
            })
        })
        .collect()
}

fn charts(r: &Report, lang: Lang) -> Vec<String> {
    let t = |en: &str| lang.t(en).to_string();
    let mut out = Vec::new();
    match r.name.as_str() {
        "delinquency" => {
            if let Some(s) = sheet(r, "trend") {
                let (cats, series) = series_by_column(
                    s,
                    "date",
                    &[
                        "overdue_rate_pct",
                        "special_mention_pct",
                        "substandard_pct",
                        "doubtful_pct",
                        "loss_pct",
                    ],
                    lang,
                );
                out.push(chart::lines(
                    &cats,
                    &series,
                    &t("Overdue rate and tiers by month-end"),
                ));
            }
        }
        "roll-rates" => {
            if let Some(s) = sheet(r, "flow") {
                let (cats, series) = series_by_column(
                    s,
                    "month_end",
                    &["m0_m1_pct", "m1_m2_pct", "m2_m3_pct", "m3_m4_pct"],
                    lang,
                );
                out.push(chart::lines(&cats, &series, &t("Flow rates by month-end")));
            }
        }
        "vintage" => {
            if let Some(s) = sheet(r, "ever_30") {
                let mobs: Vec<String> = s
                    .columns
                    .iter()
                    .filter(|c| c.key.starts_with("mob_"))
                    .map(|c| c.key.trim_start_matches("mob_").to_string())
                    .collect();
                let first = s.rows.len().saturating_sub(8);
                let series = (first..s.rows.len())
                    .zip(chart::LINE_COLORS.iter().cycle())
                    .map(|(i, color)| Series {
                        label: s.value(i, "cohort").unwrap_or_default().to_string(),
                        color,
                        points: mobs
                            .iter()
                            .map(|k| s.value(i, &format!("mob_{k}")).and_then(bp))
                            .collect(),
                    })
                    .collect::<Vec<_>>();
                out.push(chart::lines(
                    &mobs,
                    &series,
                    &t("Ever 30+ DPD by months on book"),
                ));
            }
        }
        "collection" => {
            if let Some(s) = sheet(r, "by_channel") {
                out.push(chart::bars(
                    &rate_bars(s, "channel", "contact_rate_pct", &["total"]),
                    &t("Contact rate by channel"),
                ));
            }
        }
        "warnings" => {
            if let Some(s) = sheet(r, "by_rule") {
                out.push(chart::bars(
                    &rate_bars(s, "rule", "hit_rate_pct", &[]),
                    &t("Hit rate by rule"),
                ));
            }
        }
        _ => {}
    }
    out
}

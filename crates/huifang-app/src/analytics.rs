//! The reports over time (风险分析报表): delinquency, roll rates, vintages, collection and contact,
//! warning quality. The close keeps the book at each month-end (`keep_month_end`); `backfill`
//! computes the month-ends before the first day closed by replaying each loan. Each report is
//! returned as sheets of typed columns, which the command line writes as a table, CSV, JSON or an
//! .xlsx workbook, the API as JSON or CSV, and the console draws.

use std::collections::HashMap;

use huifang_core::analytics::{
    self as core, BookCell, ContactReport, ContactTotals, Delinquency, PromiseTotals, RollMatrix,
    RollState, RollTotals, Totals, VINTAGE_DPD, WarningQuality, YearMonth, percent,
    previous_month_end,
};
use huifang_core::calendar::add_days;
use huifang_core::policy::{Bucket, Policy};
use huifang_core::status::Lifecycle;
use huifang_core::team::TaskState;
use huifang_core::{Date, LoanId, Money};
use huifang_store::{MonthEndRow, ReplayInput, Store, Tx};

use crate::team::{Actor, Role};
use crate::{AppError, require_business_date};

/// The reports, by the name the command line and the API use.
pub const REPORTS: [&str; 5] = [
    "delinquency",
    "roll-rates",
    "vintage",
    "collection",
    "warnings",
];

/// How a column's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    Date,
    Count,
    /// Yuan with two decimals, exact.
    Money,
    /// A percentage with two decimals ("12.34" is 12.34 %).
    Percent,
}

/// A column: its key (CSV and JSON), its Chinese and English headers, how its values read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Column {
    pub key: String,
    pub zh: String,
    pub en: String,
    pub kind: Kind,
}

fn col(key: &str, zh: &str, en: &str, kind: Kind) -> Column {
    Column {
        key: key.to_string(),
        zh: zh.to_string(),
        en: en.to_string(),
        kind,
    }
}

/// One table of a report (a sheet of its workbook).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Sheet {
    pub name: String,
    pub zh: String,
    pub en: String,
    pub columns: Vec<Column>,
    /// Each row's values, in the columns' order; an empty value is no value (a rate over
    /// nothing).
    pub rows: Vec<Vec<String>>,
}

impl Sheet {
    fn new(name: &str, zh: &str, en: &str, columns: Vec<Column>) -> Sheet {
        Sheet {
            name: name.to_string(),
            zh: zh.to_string(),
            en: en.to_string(),
            columns,
            rows: Vec::new(),
        }
    }

    /// The value of column `key` in row `row`.
    pub fn value(&self, row: usize, key: &str) -> Option<&str> {
        let c = self.columns.iter().position(|c| c.key == key)?;
        self.rows.get(row)?.get(c).map(String::as_str)
    }
}

/// A report: its name, the dates it covers and its sheets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Report {
    pub name: String,
    pub zh: String,
    pub en: String,
    pub from: String,
    pub to: String,
    pub sheets: Vec<Sheet>,
}

/// What a report is asked for: the date it is as of or the range it covers (each report says
/// which it reads and its defaults), and the months of a trend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportQuery {
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub months: Option<u32>,
}

/// The most months a trend or a range of month-ends covers.
pub const MAX_MONTHS: u32 = 120;

fn count(n: u64) -> String {
    n.to_string()
}

fn money(m: Money) -> String {
    m.to_string()
}

fn bucket_name(b: Bucket, last: u8) -> String {
    if b.0 >= last {
        format!("M{}+", b.0)
    } else {
        format!("M{}", b.0)
    }
}

fn state_name(s: RollState, last: u8) -> String {
    match s {
        RollState::Bucket(b) => bucket_name(b, last),
        other => other.to_string(),
    }
}

// ----- Keeping the month-ends ------------------------------------------------------------------

/// Called by the close before it closes the day after `day`: when `day` is a month-end not kept
/// yet, keeps the book as it stood at its end (every fact of that business day posted).
pub async fn keep_month_end(tx: &mut Tx, day: Date) -> Result<(), AppError> {
    if core::is_month_end(day) && !tx.month_ends().await?.iter().any(|m| m.date == day) {
        let previous = previous_month_end(day).unwrap_or(day);
        tx.keep_month_end(day, previous).await?;
    }
    Ok(())
}

/// The month-ends kept, oldest first.
pub async fn month_ends(store: &Store) -> Result<Vec<Date>, AppError> {
    let mut tx = store.begin().await?;
    let kept = tx.month_ends().await?;
    tx.rollback().await?;
    Ok(kept.into_iter().map(|m| m.date).collect())
}

/// Loans replayed per read of the backfill.
const BACKFILL_PAGE: usize = 500;

/// Computes the month-ends before the first one kept (every month-end up to the business date
/// when none is): each loan replayed as of each month-end with the payments, operations and
/// follow-up signals value-dated on or before it. Returns the month-ends written. A book imported
/// with its history gets its reports over time this way; the close keeps the month-ends after.
pub async fn backfill(store: &Store, policy: &Policy) -> Result<Vec<(Date, u64)>, AppError> {
    let mut tx = store.begin().await?;
    let business_date = require_business_date(&mut tx).await?;
    let kept = tx.month_ends().await?;
    let first_kept = kept.first().map(|m| m.date);
    // the business date's own month-end is kept by the close of the day after it
    let last = previous_month_end(first_kept.unwrap_or(business_date));
    let Some(last) = last else {
        return Ok(Vec::new());
    };
    let Some(earliest) = tx.cohorts().await?.first().and_then(|c| c.month.last_day()) else {
        return Ok(Vec::new());
    };
    let mut dates = Vec::new();
    let mut d = earliest;
    while d <= last {
        dates.push(d);
        d = YearMonth::of(add_days(d, 1))
            .last_day()
            .unwrap_or(add_days(d, 1));
    }
    if dates.is_empty() {
        return Ok(Vec::new());
    }
    let mut after = None;
    loop {
        let page = tx.status_page(after, BACKFILL_PAGE).await?;
        let Some(last_row) = page.last() else { break };
        after = Some(last_row.id);
        let ids: Vec<LoanId> = page.iter().map(|r| r.id).collect();
        let mut by_date: Vec<Vec<MonthEndRow>> = vec![Vec::new(); dates.len()];
        for input in tx.replay_inputs(&ids).await? {
            let mut prev: Option<(Bucket, Money)> = None;
            for (i, &date) in dates.iter().enumerate() {
                let Some(row) = month_end_row(&input, policy, date, prev)? else {
                    continue;
                };
                prev = (row.lifecycle == Lifecycle::Active).then_some((row.bucket, row.balance));
                let left = row.lifecycle != Lifecycle::Active;
                if let Some(rows) = by_date.get_mut(i) {
                    rows.push(row);
                }
                if left {
                    break;
                }
            }
        }
        for (date, rows) in dates.iter().zip(&by_date) {
            tx.insert_month_end_rows(*date, rows).await?;
        }
    }
    let mut written = Vec::new();
    for date in &dates {
        written.push((*date, tx.finish_backfilled_month_end(*date).await?));
    }
    if let (Some(first), Some(last)) = (first_kept, dates.last()) {
        tx.relink_month_end(first, *last).await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// A loan's row at month-end `date` replayed from its facts, `prev` its bucket and balance at the
/// month-end before when it was on the book; `None` when it is not disbursed yet, or was off the
/// book at both.
fn month_end_row(
    input: &ReplayInput,
    policy: &Policy,
    date: Date,
    prev: Option<(Bucket, Money)>,
) -> Result<Option<MonthEndRow>, AppError> {
    let Some(status) = crate::status::status_as_of(input, policy, date)? else {
        return Ok(None);
    };
    if status.lifecycle != Lifecycle::Active && prev.is_none() {
        return Ok(None);
    }
    Ok(Some(MonthEndRow {
        loan_id: input.loan.id.get(),
        lifecycle: status.lifecycle,
        bucket: status.bucket,
        classification: status.classification,
        warning_level: status.warning_level(),
        dpd: status.dpd,
        balance: status.outstanding_principal,
        prev_bucket: prev.map(|p| p.0),
        prev_balance: prev.map_or(Money::ZERO, |p| p.1),
    }))
}

// ----- The reports -------------------------------------------------------------------------------

/// A report for a user who may read the portfolio (risk officers, team leads, auditors, admins).
pub async fn report_as(
    store: &Store,
    actor: &Actor,
    policy: &Policy,
    name: &str,
    query: ReportQuery,
) -> Result<Report, AppError> {
    actor.require(Role::reads_loans, "read the portfolio's reports")?;
    report(store, policy, name, query).await
}

/// A report by name (see [`REPORTS`]).
pub async fn report(
    store: &Store,
    policy: &Policy,
    name: &str,
    query: ReportQuery,
) -> Result<Report, AppError> {
    if let Some(m) = query.months
        && !(1..=MAX_MONTHS).contains(&m)
    {
        return Err(AppError::Field {
            field: "months",
            reason: format!("must be 1 to {MAX_MONTHS}, not {m}"),
        });
    }
    let mut tx = store.begin().await?;
    let today = require_business_date(&mut tx).await?;
    let kept: Vec<Date> = tx.month_ends().await?.into_iter().map(|m| m.date).collect();
    let r = match name {
        "delinquency" => delinquency(&mut tx, policy, today, &kept, query).await?,
        "roll-rates" => roll_rates(&mut tx, policy, today, &kept, query).await?,
        "vintage" => vintage(&mut tx, today, &kept, query).await?,
        "collection" => collection(&mut tx, policy, today, &kept, query).await?,
        "warnings" => warnings(&mut tx, today, &kept, query).await?,
        other => {
            return Err(AppError::NotFound {
                what: "report",
                id: format!("{other} (the reports: {})", REPORTS.join(", ")),
            });
        }
    };
    tx.rollback().await?;
    Ok(r)
}

/// `from`..=`to` checked: both on or before the business date, in order; defaults as given.
fn range(
    q: ReportQuery,
    today: Date,
    default_from: impl FnOnce(Date) -> Date,
) -> Result<(Date, Date), AppError> {
    let to = q.to.unwrap_or(today);
    if to > today {
        return Err(AppError::Refused {
            field: "to",
            reason: format!("must be on or before the business date {today}, not {to}"),
        });
    }
    let from = q.from.unwrap_or_else(|| default_from(to));
    if from > to {
        return Err(AppError::Refused {
            field: "from",
            reason: format!("must be on or before {to}, not {from}"),
        });
    }
    Ok((from, to))
}

/// The month-ends kept within `from`..=`to`, the last `months` of them when given.
fn kept_within(kept: &[Date], from: Date, to: Date, months: Option<u32>) -> Vec<Date> {
    let within: Vec<Date> = kept
        .iter()
        .copied()
        .filter(|d| *d >= from && *d <= to)
        .collect();
    let n = months.map_or(within.len(), |m| usize::try_from(m).unwrap_or(usize::MAX));
    within
        .get(within.len().saturating_sub(n)..)
        .unwrap_or_default()
        .to_vec()
}

fn months_back(to: Date, months: u32) -> Date {
    let first = YearMonth::of(to).first_day().unwrap_or(to);
    first
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(first)
}

/// The book on `date`: the loans' states on the business date, a month-end kept, or any other
/// closed date by replaying every loan as of it.
async fn book_on(
    tx: &mut Tx,
    policy: &Policy,
    today: Date,
    kept: &[Date],
    date: Date,
) -> Result<Vec<BookCell>, AppError> {
    if date == today {
        return Ok(tx.book_now().await?);
    }
    if kept.contains(&date) {
        return Ok(tx.book_at_month_end(date).await?);
    }
    let mut cells: HashMap<(Bucket, huifang_core::policy::Classification, u8), Totals> =
        HashMap::new();
    let mut after = None;
    loop {
        let page = tx.status_page(after, BACKFILL_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<LoanId> = page.iter().map(|r| r.id).collect();
        for input in tx.replay_inputs(&ids).await? {
            if let Some(row) = month_end_row(&input, policy, date, None)? {
                let t = cells
                    .entry((row.bucket, row.classification, row.warning_level))
                    .or_default();
                t.loans += 1;
                t.balance += row.balance;
            }
        }
    }
    Ok(cells
        .into_iter()
        .map(|((bucket, classification, warning_level), t)| BookCell {
            bucket,
            classification,
            warning_level,
            loans: t.loans,
            balance: t.balance,
        })
        .collect())
}

fn totals_row(name: String, t: &Totals, share: Option<u64>) -> Vec<String> {
    vec![name, count(t.loans), money(t.balance), percent(share)]
}

fn totals_columns(first: Column) -> Vec<Column> {
    vec![
        first,
        col("loans", "笔数", "Loans", Kind::Count),
        col("balance", "余额", "Balance", Kind::Money),
        col(
            "share_pct",
            "余额占比%",
            "Share of balance %",
            Kind::Percent,
        ),
    ]
}

async fn delinquency(
    tx: &mut Tx,
    policy: &Policy,
    today: Date,
    kept: &[Date],
    q: ReportQuery,
) -> Result<Report, AppError> {
    let as_of = q.to.unwrap_or(today);
    if as_of > today {
        return Err(AppError::Refused {
            field: "as_of",
            reason: format!("must be on or before the business date {today}, not {as_of}"),
        });
    }
    let last = policy.last_bucket;
    let d = Delinquency::new(as_of, last, &book_on(tx, policy, today, kept, as_of).await?);
    let mut buckets = Sheet::new(
        "by_bucket",
        "逾期分布",
        "By bucket",
        totals_columns(col("bucket", "逾期档", "Bucket", Kind::Text)),
    );
    for (b, t) in &d.by_bucket {
        buckets
            .rows
            .push(totals_row(bucket_name(*b, last), t, d.share_bp(t)));
    }
    buckets
        .rows
        .push(totals_row("total".into(), &d.total, d.share_bp(&d.total)));
    let mut tiers = Sheet::new(
        "by_tier",
        "五级分类",
        "By tier",
        totals_columns(col("tier", "五级分类", "Tier", Kind::Text)),
    );
    for (c, t) in &d.by_tier {
        tiers
            .rows
            .push(totals_row(c.as_str().to_string(), t, d.share_bp(t)));
    }
    let mut levels = Sheet::new(
        "by_warning_level",
        "预警等级",
        "By warning level",
        totals_columns(col(
            "warning_level",
            "预警等级",
            "Warning level",
            Kind::Count,
        )),
    );
    for (l, t) in &d.by_level {
        levels
            .rows
            .push(totals_row(l.to_string(), t, d.share_bp(t)));
    }
    // the trend: the month-ends kept up to the date, and the date itself
    let months = q.months.unwrap_or(12);
    let mut dates = kept_within(kept, months_back(as_of, months), as_of, Some(months));
    if dates.last() != Some(&as_of) {
        dates.push(as_of);
    }
    let mut columns = vec![
        col("date", "日期", "Date", Kind::Date),
        col("loans", "笔数", "Loans", Kind::Count),
        col("balance", "余额", "Balance", Kind::Money),
        col(
            "overdue_rate_pct",
            "逾期率%",
            "Overdue rate %",
            Kind::Percent,
        ),
    ];
    for c in huifang_core::policy::Classification::ALL {
        columns.push(col(
            &format!("{}_pct", c.as_str()),
            &format!("{}%", c.zh()),
            &format!("{} %", c.as_str()),
            Kind::Percent,
        ));
    }
    let mut trend = Sheet::new("trend", "月度趋势", "Monthly trend", columns);
    for date in dates {
        let m = if date == as_of {
            d.clone()
        } else {
            Delinquency::new(date, last, &book_on(tx, policy, today, kept, date).await?)
        };
        let mut row = vec![
            date.to_string(),
            count(m.total.loans),
            money(m.total.balance),
            percent(m.overdue_rate_bp()),
        ];
        row.extend(m.by_tier.values().map(|t| percent(m.share_bp(t))));
        trend.rows.push(row);
    }
    Ok(Report {
        name: "delinquency".into(),
        zh: "逾期与五级分类".into(),
        en: "Delinquency".into(),
        from: as_of.to_string(),
        to: as_of.to_string(),
        sheets: vec![buckets, tiers, levels, trend],
    })
}

/// The roll matrices of the month-ends kept in `from`..=`to` that follow a kept month-end.
async fn matrices(tx: &mut Tx, kept: &[Date], dates: &[Date]) -> Result<Vec<RollMatrix>, AppError> {
    let mut out = Vec::new();
    for &date in dates {
        let linked = previous_month_end(date).is_some_and(|p| kept.contains(&p));
        if !linked {
            continue;
        }
        let mut m = RollMatrix::new(date);
        for (from, to, loans, from_balance, to_balance) in tx.roll_at_month_end(date).await? {
            m.add(
                from,
                to,
                RollTotals {
                    loans,
                    from_balance,
                    to_balance,
                },
            );
        }
        out.push(m);
    }
    Ok(out)
}

async fn roll_rates(
    tx: &mut Tx,
    policy: &Policy,
    today: Date,
    kept: &[Date],
    q: ReportQuery,
) -> Result<Report, AppError> {
    let months = q.months.unwrap_or(12);
    let (from, to) = range(q, today, |to| months_back(to, months))?;
    let dates = kept_within(
        kept,
        from,
        to,
        q.months.or(q.from.is_none().then_some(months)),
    );
    let last = policy.last_bucket;
    let mut matrix = Sheet::new(
        "matrix",
        "迁徙矩阵",
        "Transition matrix",
        vec![
            col("month_end", "月末", "Month-end", Kind::Date),
            col("from", "上月末", "From", Kind::Text),
            col("to", "本月末", "To", Kind::Text),
            col("loans", "笔数", "Loans", Kind::Count),
            col("balance_from", "上月末余额", "Balance then", Kind::Money),
            col("balance_to", "本月末余额", "Balance now", Kind::Money),
            col(
                "count_rate_pct",
                "笔数迁徙率%",
                "Rate by count %",
                Kind::Percent,
            ),
            col(
                "balance_rate_pct",
                "余额迁徙率%",
                "Rate by balance %",
                Kind::Percent,
            ),
        ],
    );
    let mut flow_cols = vec![col("month_end", "月末", "Month-end", Kind::Date)];
    for k in 0..last {
        let name = format!(
            "{}→{}",
            bucket_name(Bucket(k), last),
            bucket_name(Bucket(k + 1), last)
        );
        flow_cols.push(col(
            &format!("m{k}_m{}_pct", k + 1),
            &format!("{name} %"),
            &format!("{name} %"),
            Kind::Percent,
        ));
    }
    let mut flow = Sheet::new("flow", "滚动率", "Flow rates (by balance)", flow_cols);
    for m in matrices(tx, kept, &dates).await? {
        for ((a, b), c) in &m.cells {
            let (count_rate, balance_rate) = match a {
                RollState::New => (None, None),
                _ => (m.count_rate_bp(*a, *b), m.balance_rate_bp(*a, *b)),
            };
            matrix.rows.push(vec![
                m.month_end.to_string(),
                state_name(*a, last),
                state_name(*b, last),
                count(c.loans),
                money(c.from_balance),
                money(c.to_balance),
                percent(count_rate),
                percent(balance_rate),
            ]);
        }
        let mut row = vec![m.month_end.to_string()];
        row.extend((0..last).map(|k| percent(m.flow_rate_bp(k))));
        flow.rows.push(row);
    }
    Ok(Report {
        name: "roll-rates".into(),
        zh: "迁徙率与滚动率".into(),
        en: "Roll rates".into(),
        from: from.to_string(),
        to: to.to_string(),
        sheets: vec![matrix, flow],
    })
}

async fn vintage(
    tx: &mut Tx,
    today: Date,
    kept: &[Date],
    q: ReportQuery,
) -> Result<Report, AppError> {
    let (from, to) = range(q, today, |to| months_back(to, 24))?;
    let through = kept
        .iter()
        .rev()
        .find(|d| **d <= to)
        .map(|d| YearMonth::of(*d));
    let cohorts: Vec<_> = tx
        .cohorts()
        .await?
        .into_iter()
        .filter(|c| c.month >= YearMonth::of(from) && c.month <= YearMonth::of(to))
        .collect();
    let firsts = tx.first_late(&VINTAGE_DPD).await?;
    let curves = through.map_or_else(Vec::new, |t| core::vintages(&cohorts, &firsts, t));
    let mobs = curves.iter().map(|c| c.ever[0].len()).max().unwrap_or(0);
    let sheets = VINTAGE_DPD
        .iter()
        .enumerate()
        .map(|(t, dpd)| {
            let mut columns = vec![
                col("cohort", "放款月", "Disbursed", Kind::Text),
                col("loans", "笔数", "Loans", Kind::Count),
                col("principal", "放款金额", "Principal", Kind::Money),
            ];
            for k in 0..mobs {
                columns.push(col(
                    &format!("mob_{k}"),
                    &format!("MOB{k}%"),
                    &format!("MOB {k} %"),
                    Kind::Percent,
                ));
            }
            let mut sheet = Sheet::new(
                &format!("ever_{dpd}"),
                &format!("账龄{dpd}+"),
                &format!("Ever {dpd}+ DPD"),
                columns,
            );
            for c in &curves {
                let mut row = vec![
                    c.cohort.month.to_string(),
                    count(c.cohort.loans),
                    money(c.cohort.principal),
                ];
                row.extend((0..mobs).map(|k| percent(c.share_bp(t, k))));
                sheet.rows.push(row);
            }
            sheet
        })
        .collect();
    Ok(Report {
        name: "vintage".into(),
        zh: "账龄分析".into(),
        en: "Vintage curves".into(),
        from: from.to_string(),
        to: to.to_string(),
        sheets,
    })
}

fn contact_columns(first: Column) -> Vec<Column> {
    vec![
        first,
        col("attempts", "联系次数", "Attempts", Kind::Count),
        col("reached", "接通", "Reached", Kind::Count),
        col("right_party", "本人接通", "Right party", Kind::Count),
        col("promises", "承诺还款", "Promises", Kind::Count),
        col(
            "contact_rate_pct",
            "接通率%",
            "Contact rate %",
            Kind::Percent,
        ),
        col(
            "right_party_rate_pct",
            "本人接通率%",
            "Right-party rate %",
            Kind::Percent,
        ),
        col(
            "promise_rate_pct",
            "承诺率%",
            "Promise rate %",
            Kind::Percent,
        ),
    ]
}

fn contact_row(name: &str, t: &ContactTotals) -> Vec<String> {
    vec![
        name.to_string(),
        count(t.attempts),
        count(t.reached),
        count(t.right_party),
        count(t.promises),
        percent(t.contact_rate_bp()),
        percent(t.right_party_rate_bp()),
        percent(t.promise_rate_bp()),
    ]
}

async fn collection(
    tx: &mut Tx,
    policy: &Policy,
    today: Date,
    kept: &[Date],
    q: ReportQuery,
) -> Result<Report, AppError> {
    let (from, to) = range(q, today, |to| add_days(to, -29))?;
    let contacts = ContactReport::new(&tx.contact_cells(from, to).await?);
    let mut channels = Sheet::new(
        "by_channel",
        "按渠道",
        "By channel",
        contact_columns(col("channel", "渠道", "Channel", Kind::Text)),
    );
    for (name, t) in &contacts.by_channel {
        channels.rows.push(contact_row(name, t));
    }
    channels.rows.push(contact_row("total", &contacts.total));
    let mut queues = Sheet::new(
        "by_queue",
        "按队列",
        "By queue",
        contact_columns(col("queue", "队列", "Queue", Kind::Text)),
    );
    for (name, t) in &contacts.by_queue {
        queues.rows.push(contact_row(name, t));
    }
    let mut p = PromiseTotals::default();
    for (state, n, amount) in tx.promises_due(from, to).await? {
        let t = match state.as_str() {
            "kept" => &mut p.kept,
            "broken" => &mut p.broken,
            _ => &mut p.open,
        };
        t.loans += n;
        t.balance += amount;
    }
    let mut promises = Sheet::new(
        "promises",
        "承诺兑现",
        "Promises due",
        vec![
            col("kept", "已兑现", "Kept", Kind::Count),
            col("kept_amount", "兑现金额", "Amount kept", Kind::Money),
            col("broken", "未兑现", "Broken", Kind::Count),
            col("broken_amount", "未兑现金额", "Amount broken", Kind::Money),
            col("open", "未到期", "Open", Kind::Count),
            col("open_amount", "未到期金额", "Amount open", Kind::Money),
            col(
                "kept_rate_pct",
                "兑现率(笔数)%",
                "Kept rate by count %",
                Kind::Percent,
            ),
            col(
                "kept_amount_rate_pct",
                "兑现率(金额)%",
                "Kept rate by amount %",
                Kind::Percent,
            ),
        ],
    );
    promises.rows.push(vec![
        count(p.kept.loans),
        money(p.kept.balance),
        count(p.broken.loans),
        money(p.broken.balance),
        count(p.open.loans),
        money(p.open.balance),
        percent(p.kept_rate_bp()),
        percent(p.kept_amount_rate_bp()),
    ]);
    // cure rates over the month-ends in the period
    let last = policy.last_bucket;
    let mut cured = vec![(0u64, 0u64); usize::from(last) + 1];
    for m in matrices(tx, kept, &kept_within(kept, from, to, None)).await? {
        for k in 1..=last {
            let (c, n) = m.cured(k);
            if let Some(slot) = cured.get_mut(usize::from(k)) {
                slot.0 += c;
                slot.1 += n;
            }
        }
    }
    let mut cure = Sheet::new(
        "cure",
        "出催率",
        "Cure rate by bucket (month-ends in the period)",
        vec![
            col("bucket", "逾期档", "Bucket", Kind::Text),
            col(
                "loans",
                "上月末笔数",
                "Loans at the month-end before",
                Kind::Count,
            ),
            col("cured", "转正常或结清", "Cured or paid off", Kind::Count),
            col("cure_rate_pct", "出催率%", "Cure rate %", Kind::Percent),
        ],
    );
    for k in 1..=last {
        let (c, n) = cured.get(usize::from(k)).copied().unwrap_or_default();
        cure.rows.push(vec![
            bucket_name(Bucket(k), last),
            count(n),
            count(c),
            percent(core::rate_bp(i128::from(c), i128::from(n))),
        ]);
    }
    let mut agents = Sheet::new(
        "agents",
        "坐席产能",
        "Per agent",
        vec![
            col("username", "用户名", "Username", Kind::Text),
            col("name", "姓名", "Name", Kind::Text),
            col("attempts", "联系次数", "Attempts", Kind::Count),
            col("reached", "接通", "Reached", Kind::Count),
            col("promises", "承诺还款", "Promises", Kind::Count),
            col("tasks_done", "完成任务", "Tasks done", Kind::Count),
            col("on_time", "按时完成", "Done by the due date", Kind::Count),
            col(
                "sla_hit_pct",
                "时效达成率%",
                "SLA hit rate %",
                Kind::Percent,
            ),
        ],
    );
    for a in tx.agent_work(from, to, TaskState::Done.as_str()).await? {
        agents.rows.push(vec![
            a.username,
            a.display_name,
            count(a.attempts),
            count(a.reached),
            count(a.promises),
            count(a.tasks_done),
            count(a.done_on_time),
            percent(core::rate_bp(
                i128::from(a.done_on_time),
                i128::from(a.tasks_done),
            )),
        ]);
    }
    Ok(Report {
        name: "collection".into(),
        zh: "催收与联系".into(),
        en: "Collection and contact".into(),
        from: from.to_string(),
        to: to.to_string(),
        sheets: vec![channels, queues, promises, cure, agents],
    })
}

async fn warnings(
    tx: &mut Tx,
    today: Date,
    kept: &[Date],
    q: ReportQuery,
) -> Result<Report, AppError> {
    let (from, to) = range(q, today, |to| months_back(to, 12))?;
    let raised = tx.warnings_raised(from, to).await?;
    let first_default: HashMap<i64, Date> = tx
        .first_month_end_at(core::DEFAULT_DPD)
        .await?
        .into_iter()
        .collect();
    let first_warning: HashMap<i64, Date> = tx.first_warnings().await?.into_iter().collect();
    let last_month_end = kept.iter().rev().find(|d| **d <= today).copied();
    let q = WarningQuality::new(
        &raised,
        &first_default,
        &first_warning,
        (from, to),
        last_month_end.unwrap_or(from),
    );
    let mut rules = Sheet::new(
        "by_rule",
        "预警命中",
        "By rule and level",
        vec![
            col("rule", "规则", "Rule", Kind::Text),
            col("level", "等级", "Level", Kind::Count),
            col("raised", "预警数", "Raised", Kind::Count),
            col("matured", "满6个月", "Six months passed", Kind::Count),
            col("hits", "6个月内90+", "90+ within six months", Kind::Count),
            col("already", "预警前已90+", "Already 90+", Kind::Count),
            col("hit_rate_pct", "命中率%", "Hit rate %", Kind::Percent),
        ],
    );
    for ((rule, level), l) in &q.lines {
        rules.rows.push(vec![
            rule.clone(),
            level.to_string(),
            count(l.raised),
            count(l.matured),
            count(l.hits),
            count(l.already),
            percent(l.hit_rate_bp()),
        ]);
    }
    let mut misses = Sheet::new(
        "misses",
        "漏报",
        "90+ loans without an earlier warning",
        vec![
            col("defaults", "首次90+笔数", "Loans first at 90+", Kind::Count),
            col("missed", "无预警", "With no earlier warning", Kind::Count),
            col("miss_rate_pct", "漏报率%", "Miss rate %", Kind::Percent),
        ],
    );
    misses.rows.push(vec![
        count(q.defaults),
        count(q.missed),
        percent(q.miss_rate_bp()),
    ]);
    Ok(Report {
        name: "warnings".into(),
        zh: "预警质量".into(),
        en: "Warning quality".into(),
        from: from.to_string(),
        to: to.to_string(),
        sheets: vec![rules, misses],
    })
}

// ----- Writing a report --------------------------------------------------------------------------

/// The headers in Chinese (the default) or English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Headers {
    #[default]
    Chinese,
    English,
}

impl Headers {
    fn of<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Headers::Chinese => zh,
            Headers::English => en,
        }
    }
}

/// The sheets asked for: all, or the one named `sheet`.
fn chosen<'a>(report: &'a Report, sheet: Option<&str>) -> Result<Vec<&'a Sheet>, AppError> {
    match sheet {
        None => Ok(report.sheets.iter().collect()),
        Some(name) => report
            .sheets
            .iter()
            .find(|s| s.name == name)
            .map(|s| vec![s])
            .ok_or_else(|| AppError::NotFound {
                what: "sheet",
                id: format!(
                    "{name} in the {} report (its sheets: {})",
                    report.name,
                    report
                        .sheets
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
    }
}

/// The report as CSV: each sheet's header (the columns' keys) and rows, sheets apart by an empty
/// line; or only `sheet`.
pub fn to_csv(report: &Report, sheet: Option<&str>) -> Result<String, AppError> {
    let mut out = String::new();
    for (i, s) in chosen(report, sheet)?.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| AppError::Invalid(format!("writing CSV: {e}"));
        w.write_record(s.columns.iter().map(|c| c.key.as_str()))
            .map_err(io)?;
        for row in &s.rows {
            w.write_record(row).map_err(io)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| AppError::Invalid(format!("writing CSV: {e}")))?;
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
    Ok(out)
}

/// The report as aligned text tables, headers in `headers`' language.
pub fn to_table(
    report: &Report,
    sheet: Option<&str>,
    headers: Headers,
) -> Result<String, AppError> {
    let mut out = format!(
        "{} {} → {}\n",
        headers.of(&report.zh, &report.en),
        report.from,
        report.to
    );
    for s in chosen(report, sheet)? {
        out.push_str(&format!("\n{}\n", headers.of(&s.zh, &s.en)));
        let titles: Vec<&str> = s.columns.iter().map(|c| headers.of(&c.zh, &c.en)).collect();
        let width = |i: usize| {
            let cells = s
                .rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(|v| v.chars().count());
            cells
                .chain(titles.get(i).map(|t| display_width(t)))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..s.columns.len()).map(width).collect();
        let line = |cells: Vec<&str>| {
            let mut l = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                let pad = w.saturating_sub(display_width(cell));
                let right = s.columns.get(i).is_some_and(|c| c.kind != Kind::Text);
                if i > 0 {
                    l.push_str("  ");
                }
                if right {
                    l.push_str(&" ".repeat(pad));
                    l.push_str(cell);
                } else {
                    l.push_str(cell);
                    l.push_str(&" ".repeat(pad));
                }
            }
            l.trim_end().to_string() + "\n"
        };
        out.push_str(&line(titles.clone()));
        for row in &s.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
    }
    Ok(out)
}

/// Terminal columns of `s`: a CJK character takes two.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if u32::from(c) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// The report as an .xlsx workbook: one sheet per table, headers in `headers`' language in a
/// frozen first row; counts as numbers, amounts as numbers in yuan with two decimals and a
/// thousands separator, rates as percentages. (A spreadsheet holds numbers as binary floating
/// point: each amount is written as the number its exact decimal text reads as.)
pub fn to_xlsx(report: &Report, headers: Headers) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let xl = |e: rust_xlsxwriter::XlsxError| AppError::Invalid(format!("writing .xlsx: {e}"));
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let counts = Format::new().set_num_format("#,##0");
    let yuan = Format::new().set_num_format("#,##0.00");
    let pct = Format::new().set_num_format("0.00%");
    for s in &report.sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(&s.name).map_err(xl)?;
        for (c, column) in (0u16..).zip(&s.columns) {
            sheet
                .write_string_with_format(0, c, headers.of(&column.zh, &column.en), &bold)
                .map_err(xl)?;
            let wide = display_width(headers.of(&column.zh, &column.en)).max(10) + 2;
            sheet
                .set_column_width(c, u16::try_from(wide).unwrap_or(40))
                .map_err(xl)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xl)?;
        for (r, row) in (1u32..).zip(&s.rows) {
            for ((c, column), value) in (0u16..).zip(&s.columns).zip(row) {
                if value.is_empty() {
                    continue;
                }
                let number = |v: &str| {
                    v.parse::<f64>().map_err(|_| {
                        AppError::Invalid(format!("{}.{}: not a number: {v:?}", s.name, column.key))
                    })
                };
                match column.kind {
                    Kind::Text | Kind::Date => sheet.write_string(r, c, value).map(|_| ()),
                    Kind::Count => sheet
                        .write_number_with_format(r, c, number(value)?, &counts)
                        .map(|_| ()),
                    Kind::Money => sheet
                        .write_number_with_format(r, c, number(value)?, &yuan)
                        .map(|_| ()),
                    Kind::Percent => sheet
                        .write_number_with_format(r, c, number(value)? / 100.0, &pct)
                        .map(|_| ()),
                }
                .map_err(xl)?;
            }
        }
    }
    book.save_to_buffer().map_err(xl)
}

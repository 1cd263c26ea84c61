//! How the command line prints things: tables for people, CSV and JSON for programs.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use huifang_app::close::DayReport;
use huifang_app::loans::LoanView;
use huifang_app::status::{STATUS_COLUMNS, each_status};
use huifang_app::views;
use huifang_core::Date;
use huifang_core::schedule::Installment;
use huifang_store::{Store, SummaryRow};

/// Prints every loan's status.
pub async fn status(store: &Store, csv: bool, json: bool, out: &mut impl Write) -> Result<()> {
    if csv {
        let mut w = ::csv::Writer::from_writer(out);
        w.write_record(STATUS_COLUMNS)?;
        each_status(store, |line| {
            w.write_record(line.values())
                .map_err(|e| huifang_app::AppError::Io(e.into()))
        })
        .await?;
        w.flush()?;
    } else if json {
        writeln!(out, "[")?;
        let mut first = true;
        let mut failed = None;
        each_status(store, |line| {
            let view = views::StatusLineView::from(&line);
            let sep = if first { "" } else { ",\n" };
            first = false;
            let written = serde_json::to_string(&view)
                .map_err(std::io::Error::from)
                .and_then(|text| write!(out, "{sep}  {text}"));
            if let Err(e) = written {
                failed = Some(e);
            }
            Ok(())
        })
        .await?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        writeln!(out, "\n]")?;
    } else {
        writeln!(
            out,
            "{:<14} {:<10} {:>5} {:<4} {:<15} {:>7} {:>14} {:>7}",
            "loan", "date", "dpd", "bkt", "class", "overdue", "outstanding", "warning"
        )?;
        each_status(store, |line| {
            let v = line.values();
            writeln!(
                out,
                "{:<14} {:<10} {:>5} {:<4} {:<15} {:>7} {:>14} {:>7}",
                v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
            )
            .map_err(huifang_app::AppError::Io)
        })
        .await?;
    }
    Ok(())
}

/// The schedule as CSV.
pub fn schedule_csv(rows: &[Installment]) -> Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "n",
        "due_date",
        "principal",
        "interest",
        "payment",
        "balance_after",
    ])?;
    for i in rows {
        w.write_record([
            i.n.to_string(),
            i.due_date.to_string(),
            i.principal.to_string(),
            i.interest.to_string(),
            i.payment.to_string(),
            i.balance_after.to_string(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The schedule as a table with totals.
pub fn schedule_table(rows: &[Installment]) -> String {
    let mut s = format!(
        "{:>4}  {:<10} {:>13} {:>12} {:>13} {:>14}\n",
        "n", "due_date", "principal", "interest", "payment", "balance_after"
    );
    for i in rows {
        let _ = writeln!(
            s,
            "{:>4}  {:<10} {:>13} {:>12} {:>13} {:>14}",
            i.n, i.due_date, i.principal, i.interest, i.payment, i.balance_after
        );
    }
    let p: huifang_core::Money = rows.iter().map(|i| i.principal).sum();
    let it: huifang_core::Money = rows.iter().map(|i| i.interest).sum();
    let _ = writeln!(
        s,
        "{:>4}  {:<10} {:>13} {:>12} {:>13}",
        "",
        "total",
        p,
        it,
        p + it
    );
    s
}

/// One loan as readable text.
pub fn loan_text(v: &LoanView) -> String {
    let l = &v.loan;
    let st = &v.status;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "loan {} (borrower {}, product {})",
        l.loan.external_id, l.loan.borrower_external_id, l.product_code
    );
    let _ = writeln!(
        s,
        "  {} at {} over {} months, {}, disbursed {}",
        l.loan.terms.principal,
        l.loan.terms.annual_rate,
        l.loan.terms.term_months,
        l.loan.terms.method,
        l.loan.terms.disbursed_on
    );
    let _ = writeln!(
        s,
        "  vehicle {} VIN {} price {}, dealer {}",
        l.loan.vehicle_model, l.loan.vin, l.loan.vehicle_price, l.loan.dealer
    );
    let _ = writeln!(
        s,
        "status on {}: {} dpd {} {} {} warning level {}",
        v.business_date,
        st.lifecycle.as_str(),
        st.dpd,
        st.bucket,
        st.classification,
        st.warning_level()
    );
    let _ = writeln!(
        s,
        "  outstanding principal {}, overdue installments {}, due now {} (penalty {}), settlement quote {}",
        st.outstanding_principal,
        st.overdue_installments,
        st.overdue_amount,
        st.penalty_due,
        v.settlement_quote
    );
    if let Some(w) = &st.warning {
        let facts: Vec<String> = w.facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            s,
            "  warning: level {} rule {} ({})",
            w.level,
            w.rule,
            facts.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nschedule:\n{:>4}  {:<10} {:>12} {:>11} {:>12} {:>11} {:>10}  paid_off_on",
        "n", "due_date", "principal", "interest", "paid", "penalty", "state"
    );
    for i in &v.installments {
        let paid = i.principal_paid + i.interest_paid;
        let state = match (i.closed_by, i.paid_off_on) {
            (Some(op), _) => op.as_str().to_string(),
            (None, Some(_)) => "paid".to_string(),
            (None, None) if i.due_date < v.business_date => "overdue".to_string(),
            _ => "open".to_string(),
        };
        let _ = writeln!(
            s,
            "{:>4}  {:<10} {:>12} {:>11} {:>12} {:>11} {:>10}  {}",
            i.n,
            i.due_date,
            i.principal,
            i.interest,
            paid,
            i.penalty_paid,
            state,
            i.paid_off_on.map(|d| d.to_string()).unwrap_or_default()
        );
    }
    let _ = writeln!(s, "\npayments and their allocation:");
    for (index, p) in v.payments.iter().enumerate() {
        let backdated = if p.received_on > p.paid_on {
            format!(" (posted {}, backdated)", p.received_on)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {} {} {} via {}{backdated}",
            p.external_id, p.paid_on, p.amount, p.channel
        );
        for a in v.allocations.iter().filter(|a| a.payment == index) {
            let _ = writeln!(
                s,
                "      → installment {}: penalty {} interest {} principal {}",
                a.installment, a.penalty, a.interest, a.principal
            );
        }
    }
    if v.unapplied.is_positive() {
        let _ = writeln!(s, "  unapplied credit {}", v.unapplied);
    }
    if !v.ops.is_empty() {
        let _ = writeln!(s, "\noperations:");
        for o in &v.ops {
            let (kind, params) = huifang_store::encode_op(&o.op.op);
            let _ = writeln!(
                s,
                "  {} {kind} {params} by {}: {}",
                o.op.on, o.decided_by, o.reason
            );
        }
    }
    let _ = writeln!(s, "\nstatus history:");
    for h in &v.history {
        let _ = writeln!(
            s,
            "  {} {} {} {} warning {} ({})",
            h.business_date,
            h.summary.lifecycle.as_str(),
            h.summary.bucket,
            h.summary.classification,
            h.summary.warning_level,
            h.cause
        );
    }
    if !v.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings:");
        for w in &v.warnings {
            let cleared = w
                .cleared_on
                .map(|d| format!(", cleared {d}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  level {} {} raised {}{cleared} {}",
                w.level, w.rule, w.raised_on, w.facts
            );
        }
    }
    let _ = writeln!(s, "\nevents: {}", v.events.len());
    for e in v.events.iter().rev().take(15).rev() {
        let _ = writeln!(s, "  {} {} {}", e.business_date, e.kind, e.details);
    }
    s
}

/// The close's one-line summary (or one line per day when several were closed).
pub fn close_summary(reports: &[DayReport], through: Date) -> String {
    if reports.is_empty() {
        return format!("nothing to close: business date is already {through} or later\n");
    }
    let loans: u64 = reports.iter().map(|r| r.loans).sum();
    let events: u64 = reports.iter().map(|r| r.events).sum();
    let changes: u64 = reports.iter().map(|r| r.status_changes).sum();
    let first = reports
        .first()
        .map(|r| r.date.to_string())
        .unwrap_or_default();
    let scored: u64 = reports.iter().map(|r| r.scored).sum();
    let scoring: std::time::Duration = reports.iter().map(|r| r.scoring).sum();
    let scores = if scored > 0 {
        format!(
            ", {scored} risk scores computed again in {:.3} s",
            scoring.as_secs_f64()
        )
    } else {
        String::new()
    };
    format!(
        "closed {} day(s) {first} … {through}: {loans} loan evaluations, {events} events, {changes} status changes{scores}\n",
        reports.len()
    )
}

/// The portfolio summary as a table: by bucket, by classification, by warning level.
pub fn summary_text(date: Date, rows: &[SummaryRow]) -> String {
    let mut s = format!("portfolio on {date}\n");
    let total_loans: i64 = rows.iter().map(|r| r.loans).sum();
    let total: huifang_core::Money = rows.iter().map(|r| r.outstanding_principal).sum();
    let _ = writeln!(s, "  {total_loans} loans, outstanding principal {total}");
    // each section in its own order: buckets by months overdue, tiers from normal to loss,
    // warning levels upwards
    let mut section = |title: &str, key: &dyn Fn(&SummaryRow) -> (u32, String)| {
        let mut groups: std::collections::BTreeMap<(u32, String), (i64, huifang_core::Money)> =
            std::collections::BTreeMap::new();
        for r in rows {
            let g = groups.entry(key(r)).or_default();
            g.0 += r.loans;
            g.1 += r.outstanding_principal;
        }
        let _ = writeln!(s, "\n{title:<18} {:>8} {:>18}", "loans", "outstanding");
        for ((_, k), (n, m)) in groups {
            // the Chinese name of a tier goes last, where its double width upsets no column
            let zh = k
                .parse::<huifang_core::policy::Classification>()
                .map(|c| c.zh())
                .unwrap_or("");
            let _ = writeln!(s, "  {k:<16} {n:>8} {m:>18}  {zh}");
        }
    };
    section("lifecycle", &|r| (0, r.lifecycle.as_str().to_string()));
    // only active loans have a bucket; the others are counted under their lifecycle, in brackets
    section("bucket", &|r| {
        if r.lifecycle == huifang_core::status::Lifecycle::Active {
            (u32::from(r.bucket.0), r.bucket.to_string())
        } else {
            (u32::MAX, format!("({})", r.lifecycle.as_str()))
        }
    });
    section("classification", &|r| {
        let rank = huifang_core::policy::Classification::ALL
            .iter()
            .position(|c| *c == r.classification)
            .unwrap_or(0);
        (
            u32::try_from(rank).unwrap_or(u32::MAX),
            r.classification.as_str().to_string(),
        )
    });
    section("warning level", &|r| {
        (u32::from(r.warning_level), r.warning_level.to_string())
    });
    s
}

/// A list of views: pretty JSON (`json`), or one line each.
pub fn list<T: serde::Serialize>(
    items: &[T],
    json: bool,
    line: impl Fn(&T) -> String,
) -> Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(items)?);
    } else {
        for item in items {
            say!("{}", line(item));
        }
    }
    Ok(())
}

/// The moment a `--now` option names (RFC 3339), or now.
pub fn now_or(now: Option<&str>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    match now {
        None => Ok(chrono::Utc::now()),
        Some(t) => Ok(chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|e| anyhow::anyhow!("--now: {e}"))?
            .to_utc()),
    }
}

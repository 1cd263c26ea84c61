//! The follow-up (回访) engine against real databases: a synthetic portfolio lived through 120
//! business days with every day closed, checked against an independent recomputation (welcome
//! and initial follow-ups in their windows, a reminder exactly for each installment due 3 days
//! later, no duplicate task, each overdue loan in the queue of its bucket, promises kept or
//! broken), and the cancellations: a backdated payment that cures, a pay-off, a write-off; and a
//! loan imported long after disbursement getting its late tasks.
//!
//! Every test runs on its own SQLite file; each also runs, ignored by default, on a fresh
//! PostgreSQL database of the server named by `HUIFANG_TEST_PG_URL`.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/lived.rs"]
mod lived;
use lived::init;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use huifang_app::rows::{BorrowerRow, LoanRow, PaymentRow, ProductRow};
use huifang_app::status::{StatusLine, each_status};
use huifang_app::{close, followup, import, loans};
use huifang_core::calendar::{add_days, parse_date};
use huifang_core::followup::FollowUpPlan;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::loan::LoanOp;
use huifang_core::policy::Policy;
use huifang_core::schedule::{self, Installment, Method, ScheduleTerms};
use huifang_core::status::Lifecycle;
use huifang_core::{Date, LoanId, Money, Rate};
use huifang_store::{Interaction, NewPromise, Store, TaskRecord, User};
use huifang_testkit::{Dbs, on_both};

// ---------------------------------------------------------------------------------------------
// Databases: fresh ones of `huifang_testkit::Dbs` for every scenario

on_both!(
    lived_portfolio_has_the_follow_ups_of_an_independent_recomputation,
    backdated_payment_that_cures_cancels_collection_tasks,
    paid_off_and_written_off_loans_have_no_open_task,
    loan_imported_late_gets_late_tasks,
    plans_and_scripts_are_data,
    many_loans_at_once_in_bulk,
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn d(text: &str) -> Date {
    parse_date(text).expect("date")
}

fn money(text: &str) -> Money {
    Money::parse(text).expect("money")
}

fn lines<T: Clone>(rows: &[T]) -> Vec<(usize, T)> {
    rows.iter()
        .cloned()
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect()
}

fn product(code: &str, grace_days: u32, markup: &str) -> ProductRow {
    ProductRow {
        code: code.into(),
        name: format!("产品 {code}"),
        grace_days,
        penalty_rate_markup: Rate::parse_in(markup, 0.into(), 10.into()).expect("markup"),
    }
}

fn borrower(external_id: &str) -> BorrowerRow {
    BorrowerRow {
        external_id: external_id.into(),
        name: "张三".into(),
        id_number: ResidentId::parse("11010519491231002X").expect("id"),
        mobile: Mobile::parse("13800138000").expect("mobile"),
        employer: "上海某科技有限公司".into(),
        monthly_income: money("15000"),
        city: "上海市".into(),
        contacts: Default::default(),
    }
}

fn loan(external_id: &str, disbursed_on: &str) -> LoanRow {
    LoanRow {
        external_id: external_id.into(),
        borrower_external_id: "B1".into(),
        product_code: "P3".into(),
        principal: money("12000.00"),
        annual_rate: Rate::parse_annual("0.12").expect("rate"),
        term_months: 12,
        method: Method::Annuity,
        disbursed_on: d(disbursed_on),
        vin: Vin::parse("LVSN4BKM0R1944736").expect("vin"),
        vehicle_model: "大众 朗逸".into(),
        vehicle_price: money("150000"),
        dealer: "上海大众4S店".into(),
    }
}

fn pay(external_id: &str, loan: &str, paid_on: &str, amount: Money) -> PaymentRow {
    PaymentRow {
        external_id: external_id.into(),
        loan_external_id: loan.into(),
        paid_on: d(paid_on),
        amount,
        channel: "代扣".into(),
    }
}

fn schedule_of(l: &LoanRow) -> Vec<Installment> {
    schedule::build(&ScheduleTerms {
        principal: l.principal,
        annual_rate: l.annual_rate,
        term_months: l.term_months,
        method: l.method,
        start: l.disbursed_on,
    })
    .expect("schedule")
}

/// One hand-made loan L1 (product P3: grace 3, markup 0.5) disbursed on `disbursed`, imported
/// with the business date `today`.
async fn one_loan(store: &Store, today: &str, disbursed: &str) {
    let policy = Policy::default();
    init(store, d(today)).await;
    import::import_products(store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(store, &lines(&[borrower("B1")]))
        .await
        .unwrap();
    import::import_loans(store, &policy, &lines(&[loan("L1", disbursed)]))
        .await
        .unwrap();
}

async fn status_lines(store: &Store) -> Vec<StatusLine> {
    let mut out = Vec::new();
    each_status(store, |line| {
        out.push(line);
        Ok(())
    })
    .await
    .expect("status");
    out
}

async fn all_tasks(store: &Store) -> Vec<TaskRecord> {
    let mut tx = store.begin().await.unwrap();
    let tasks = tx.followup_tasks(None, None, false).await.unwrap();
    tx.rollback().await.unwrap();
    tasks
}

/// (reason key, state, close reason) of a loan's tasks.
async fn task_states(store: &Store, loan_id: LoanId) -> BTreeMap<String, (String, Option<String>)> {
    let mut tx = store.begin().await.unwrap();
    let tasks = tx.followup_tasks(Some(loan_id), None, false).await.unwrap();
    tx.rollback().await.unwrap();
    tasks
        .into_iter()
        .map(|t| {
            (
                t.task.reason_key,
                (t.state.as_str().to_string(), t.close_reason),
            )
        })
        .collect()
}

async fn loan_id(store: &Store, external_id: &str) -> LoanId {
    let mut tx = store.begin().await.unwrap();
    let ids = tx
        .loan_ids_by_external_id(&[external_id.to_string()])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    ids[external_id]
}

fn open(s: &(String, Option<String>)) -> bool {
    !matches!(s.0.as_str(), "done" | "failed" | "cancelled")
}

fn cancelled(reason: &str) -> (String, Option<String>) {
    ("cancelled".to_string(), Some(reason.to_string()))
}

// ---------------------------------------------------------------------------------------------
// The lived portfolio

/// A promise recorded in the test.
struct Promised {
    loan: String,
    amount: Money,
    promised_on: Date,
    due_on: Date,
}

/// The queue of a bucket under the default plan, written out again here.
fn queue_of_bucket(bucket: u8) -> &'static str {
    match bucket {
        0 => "",
        1 => "early_collection",
        2 | 3 => "senior_collection",
        _ => "legal",
    }
}

async fn lived_portfolio_has_the_follow_ups_of_an_independent_recomputation(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    let last = d("2026-06-30");
    let start = add_days(last, -120);
    // No penalty: an installment is paid exactly when the cumulative payments cover the schedule.
    let all = lived::book_without_penalty(&store, start, last, 20_261_128).await;

    let day_of = |date: Date| date.max(start);
    let days = all.by_arrival_day(start);
    // (arrives on, loan, value date, amount) of every payment.
    let mut known: Vec<(Date, String, Date, Money)> = all
        .payments
        .iter()
        .map(|p| {
            (
                day_of(p.paid_on),
                p.loan_external_id.clone(),
                p.paid_on,
                p.amount,
            )
        })
        .collect();
    for late in &all.late_payments {
        known.push((
            day_of(late.arrives_on),
            late.row.loan_external_id.clone(),
            late.row.paid_on,
            late.row.amount,
        ));
    }
    let schedules: HashMap<&str, Vec<Installment>> = all
        .loans
        .iter()
        .map(|l| (l.external_id.as_str(), schedule_of(l)))
        .collect();
    // Total known (arrived) by the end of a day, per loan.
    let paid_by = |loan: &str, day: Date| -> Money {
        known
            .iter()
            .filter(|(on, l, _, _)| l == loan && *on <= day)
            .map(|(_, _, _, a)| *a)
            .sum()
    };
    // Whether installment `k` (0-based) is unpaid given `paid`.
    let unpaid = |loan: &str, k: usize, paid: Money| -> bool {
        let through: Money = schedules[loan][..=k].iter().map(|i| i.payment).sum();
        paid < through
    };

    // A user to record promises with (interactions need one).
    let user_id = {
        let mut tx = store.begin().await.unwrap();
        let id = tx
            .insert_user(&User {
                username: "c1".into(),
                display_name: "催收员一".into(),
                role: huifang_app::team::Role::Collector,
                team_id: None,
                skills: vec![],
                password_hash: None,
            })
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let mut promised: Vec<Promised> = Vec::new();

    let mut ids: HashMap<String, LoanId> = HashMap::new();
    let mut checked_overdue = 0;
    let mut date = start;
    loop {
        if date > start {
            let reports = close::run_daily(&store, &policy, date, |_| {})
                .await
                .unwrap();
            assert_eq!(reports.len(), 1);
            huifang_testkit::assert_kept_figures_true(&store).await;
        }
        if let Some(day) = days.get(&date) {
            import::import_borrowers(&store, &lines(&day.borrowers))
                .await
                .unwrap();
            import::import_loans(&store, &policy, &lines(&day.loans))
                .await
                .unwrap();
            import::import_payments(&store, &policy, &lines(&day.payments))
                .await
                .unwrap();
        }
        let lines_today = status_lines(&store).await;
        for l in &lines_today {
            ids.insert(l.row.external_id.clone(), l.row.id);
        }
        // Every few days, the overdue loans promise to pay: some a little, some a lot.
        if date > start && (date - start).num_days() % 10 == 5 && add_days(date, 5) < last {
            let mut tx = store.begin().await.unwrap();
            for (n, l) in lines_today
                .iter()
                .filter(|l| l.dpd >= 3)
                .enumerate()
                .take(12)
            {
                let amount = if n % 2 == 0 {
                    money("100")
                } else {
                    money("900000")
                };
                let key = format!("p-{date}-{}", l.row.external_id);
                let interaction = tx
                    .insert_interaction(&Interaction {
                        idempotency_key: key.clone(),
                        task_id: None,
                        loan_id: l.row.id,
                        user_id,
                        channel: "phone".into(),
                        occurred_at: format!("{date}T10:00:00+08:00"),
                        duration_seconds: 60,
                        outcome: "promise_to_pay".into(),
                        promise_amount_fen: Some(amount.fen()),
                        promise_date: Some(add_days(date, 5)),
                        income_change_pct: None,
                        job_status: None,
                        vehicle_status: None,
                        answers: "{}".into(),
                        notes: String::new(),
                        business_date: date,
                        salt: key,
                    })
                    .await
                    .unwrap()
                    .expect("new interaction");
                tx.insert_promise(&NewPromise {
                    interaction_id: interaction,
                    loan_id: l.row.id,
                    amount_fen: amount.fen(),
                    promised_on: date,
                    due_on: add_days(date, 5),
                    paid_before_fen: 0,
                })
                .await
                .unwrap();
                promised.push(Promised {
                    loan: l.row.external_id.clone(),
                    amount,
                    promised_on: date,
                    due_on: add_days(date, 5),
                });
            }
            tx.commit().await.unwrap();
        }

        // Each overdue loan sits in the queue of its bucket, and only there; a current loan has
        // no delinquency task open.
        if date > start {
            let tasks = all_tasks(&store).await;
            let mut open_delinquency: HashMap<LoanId, Vec<&TaskRecord>> = HashMap::new();
            for t in tasks.iter().filter(|t| {
                !matches!(t.state.as_str(), "done" | "failed" | "cancelled")
                    && matches!(
                        t.task.kind.as_str(),
                        "collection_call" | "escalation" | "overdue_reminder" | "field_visit"
                    )
            }) {
                open_delinquency.entry(t.task.loan_id).or_default().push(t);
            }
            let mut wrong = Vec::new();
            for l in &lines_today {
                let open = open_delinquency.get(&l.row.id).cloned().unwrap_or_default();
                if l.row.lifecycle != Lifecycle::Active || l.dpd == 0 {
                    if !open.is_empty() {
                        wrong.push(format!(
                            "{} on {date}: dpd {} {:?} but open {:?}",
                            l.row.external_id,
                            l.dpd,
                            l.row.lifecycle,
                            open.iter().map(|t| &t.task.reason_key).collect::<Vec<_>>()
                        ));
                    }
                } else if l.dpd >= 3 {
                    checked_overdue += 1;
                    let want = queue_of_bucket(l.row.bucket.0);
                    let queues: BTreeSet<&str> = open
                        .iter()
                        .filter(|t| {
                            matches!(t.task.kind.as_str(), "collection_call" | "escalation")
                        })
                        .map(|t| t.task.queue_code.as_str())
                        .collect();
                    if queues != BTreeSet::from([want]) {
                        wrong.push(format!(
                            "{} on {date}: dpd {} {} should sit in {want}, sits in {queues:?}",
                            l.row.external_id, l.dpd, l.row.bucket
                        ));
                    }
                    let visit = open.iter().any(|t| t.task.kind == "field_visit");
                    if visit != (want == "senior_collection") {
                        wrong.push(format!(
                            "{} on {date}: {} field visit open: {visit}",
                            l.row.external_id, l.row.bucket
                        ));
                    }
                }
            }
            assert!(
                wrong.is_empty(),
                "{} loan(s) in the wrong queue, e.g.:\n{}",
                wrong.len(),
                wrong[..wrong.len().min(10)].join("\n")
            );
        }
        if date == last {
            break;
        }
        date = add_days(date, 1);
    }
    assert!(checked_overdue > 100, "the book has overdue loans");

    let tasks = all_tasks(&store).await;
    let ext: HashMap<LoanId, &str> = ids.iter().map(|(e, i)| (*i, e.as_str())).collect();

    // No duplicates: one task per loan and reason, and never two of one kind due the same day.
    let mut keys = HashSet::new();
    let mut kind_due = HashSet::new();
    for t in &tasks {
        assert!(
            keys.insert((t.task.loan_id, t.task.reason_key.clone())),
            "{t:?}"
        );
        assert!(
            kind_due.insert((
                t.task.loan_id,
                t.task.kind.clone(),
                t.task.due_on,
                t.task.reason_key.clone()
            )) && !tasks.iter().any(|o| o.id != t.id
                && o.task.loan_id == t.task.loan_id
                && o.task.kind == t.task.kind
                && o.task.due_on == t.task.due_on
                && o.task.kind != "repayment_reminder"),
            "duplicate {t:?}"
        );
    }

    // Welcome and initial follow-ups, in their windows, late exactly when imported late.
    let by_loan_key: HashMap<(&str, &str), &TaskRecord> = tasks
        .iter()
        .map(|t| ((ext[&t.task.loan_id], t.task.reason_key.as_str()), t))
        .collect();
    for l in &all.loans {
        let id = l.external_id.as_str();
        let imported = day_of(l.disbursed_on);
        let w = by_loan_key
            .get(&(id, "welcome"))
            .unwrap_or_else(|| panic!("{id}: no welcome call"));
        assert_eq!(
            (
                w.task.kind.as_str(),
                w.task.created_on,
                w.task.due_on,
                w.task.late
            ),
            (
                "welcome_call",
                imported,
                add_days(l.disbursed_on, 7),
                imported > add_days(l.disbursed_on, 7)
            ),
            "{id}"
        );
        let window_end = add_days(l.disbursed_on, 60);
        match by_loan_key.get(&(id, "initial")) {
            Some(t) => {
                assert!(imported <= window_end, "{id}: initial after its window");
                assert_eq!(
                    (
                        t.task.kind.as_str(),
                        t.task.due_on,
                        t.task.window_end_on,
                        t.task.late
                    ),
                    (
                        "initial_followup",
                        add_days(l.disbursed_on, 30),
                        Some(window_end),
                        imported > add_days(l.disbursed_on, 30)
                    ),
                    "{id}"
                );
            }
            None => assert!(imported > window_end, "{id}: no initial follow-up"),
        }
    }

    // A reminder exactly for each installment due 3 days later (and on the due date), created by
    // the close of that day for installments unpaid by then; on the first day, by the import of
    // the loans (nothing paid yet).
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    let mut day = start;
    while day <= last {
        for l in &all.loans {
            let id = l.external_id.as_str();
            let imported = day_of(l.disbursed_on);
            if imported > day || (imported == day && day > start) {
                continue; // not known to this day's close
            }
            let paid = if day == start {
                Money::ZERO
            } else {
                paid_by(id, add_days(day, -1))
            };
            for (k, inst) in schedules[id].iter().enumerate() {
                for before in [3, 0] {
                    if add_days(inst.due_date, -before) == day && unpaid(id, k, paid) {
                        want.insert((
                            id.to_string(),
                            format!("reminder:{}:{}:{before}", k + 1, inst.due_date),
                        ));
                    }
                }
            }
        }
        day = add_days(day, 1);
    }
    // The plan's reminders (3 days before and on the day); the extra ones of level 1's playbook
    // (a week before, scheduled ahead) only by a visit when its loan stood at level 1, by its
    // status history.
    let is_plan_day = |key: &str| key.ends_with(":3") || key.ends_with(":0");
    let got: BTreeSet<(String, String)> = tasks
        .iter()
        .filter(|t| t.task.kind == "repayment_reminder" && is_plan_day(&t.task.reason_key))
        .map(|t| (ext[&t.task.loan_id].to_string(), t.task.reason_key.clone()))
        .collect();
    for t in tasks
        .iter()
        .filter(|t| t.task.kind == "repayment_reminder" && !is_plan_day(&t.task.reason_key))
    {
        let view = loans::view(&store, &policy, ext[&t.task.loan_id])
            .await
            .unwrap();
        let level = view
            .history
            .iter()
            .filter(|h| h.business_date <= t.task.created_on)
            .max_by_key(|h| h.business_date)
            .map(|h| h.summary.warning_level);
        assert_eq!(level, Some(1), "{t:?}");
    }
    let missing: Vec<_> = want.difference(&got).take(5).collect();
    let extra: Vec<_> = got.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "reminders: missing {missing:?}, extra {extra:?}"
    );
    assert!(want.len() > 300);
    for t in tasks.iter().filter(|t| t.task.kind == "repayment_reminder") {
        let due = t.task.window_end_on.expect("reminder window");
        let before: i64 = t
            .task
            .reason_key
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // due on its day; the plan's created that day, the playbook's scheduled ahead
        assert_eq!(t.task.due_on, add_days(due, -before), "{t:?}");
        if is_plan_day(&t.task.reason_key) {
            assert_eq!(t.task.created_on, add_days(due, -before), "{t:?}");
        } else {
            assert!(t.task.created_on <= t.task.due_on, "{t:?}");
        }
        assert_eq!(t.task.queue_code, "reminders");
    }

    // Promises: kept exactly when the payments value-dated from the promise through its date,
    // known by the close of the day after, reach the amount; a broken one is a risk signal.
    assert!(promised.len() > 20);
    let mut tx = store.begin().await.unwrap();
    let states = tx.promise_states(None).await.unwrap();
    let mut broken_signals: HashMap<LoanId, usize> = HashMap::new();
    for (loan, id) in &ids {
        let signals = tx.loan_signals(*id).await.unwrap();
        let n = signals.iter().filter(|s| s.0 == "broken_promise").count();
        if n > 0 {
            broken_signals.insert(*id, n);
        }
        let _ = loan;
    }
    tx.rollback().await.unwrap();
    assert_eq!(states.len(), promised.len());
    let (mut kept, mut broken) = (0, 0);
    let mut want_broken: HashMap<LoanId, usize> = HashMap::new();
    for (p, s) in promised.iter().zip(&states) {
        assert_eq!(
            (ids[&p.loan], p.promised_on, p.due_on),
            (s.loan_id, s.promised_on, s.due_on)
        );
        let paid: Money = known
            .iter()
            .filter(|(on, l, value, _)| {
                *l == p.loan && *on <= p.due_on && *value >= p.promised_on && *value <= p.due_on
            })
            .map(|(_, _, _, a)| *a)
            .sum();
        let want = if paid >= p.amount { "kept" } else { "broken" };
        assert_eq!(
            (s.state.as_str(), s.resolved_on),
            (want, Some(add_days(p.due_on, 1))),
            "promise of {} {} by {}: paid {paid}",
            p.loan,
            p.amount,
            p.due_on
        );
        if want == "kept" {
            kept += 1;
        } else {
            broken += 1;
            *want_broken.entry(s.loan_id).or_default() += 1;
        }
    }
    assert!(kept > 0 && broken > 0, "kept {kept}, broken {broken}");
    assert_eq!(broken_signals, want_broken);
}

// ---------------------------------------------------------------------------------------------
// Cancellations and late tasks

async fn backdated_payment_that_cures_cancels_collection_tasks(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let policy = Policy::default();
    one_loan(&store, "2026-01-15", "2026-01-15").await;
    let id = loan_id(&store, "L1").await;
    let first = schedule_of(&loan("L1", "2026-01-15"))[0].clone();
    assert_eq!(first.due_date, d("2026-02-15"));
    // DPD 2 on 02-17: the overdue reminder, no collection call yet; DPD 3 on 02-18: the call.
    close::run_daily(&store, &policy, d("2026-02-17"), |_| {})
        .await
        .unwrap();
    let t = task_states(&store, id).await;
    assert!(t.contains_key("overdue:1:2026-02-15"));
    assert!(!t.contains_key("collect:2026-02-15"));
    close::run_daily(&store, &policy, d("2026-02-20"), |_| {})
        .await
        .unwrap();
    let t = task_states(&store, id).await;
    assert!(open(&t["collect:2026-02-15"]), "{t:?}");
    let mut tx = store.begin().await.unwrap();
    let queue = tx
        .followup_tasks(None, Some("early_collection"), true)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(
        (queue[0].task.due_on, queue[0].task.late),
        (d("2026-02-18"), false)
    );
    // Paid on its due date, posted on 02-20: the loan is cured, its collection tasks go.
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P1", "L1", "2026-02-15", first.payment)]),
    )
    .await
    .unwrap();
    let t = task_states(&store, id).await;
    assert_eq!(t["collect:2026-02-15"], cancelled("cured"));
    assert_eq!(t["overdue:1:2026-02-15"], cancelled("cured"));
    assert!(open(&t["welcome"]) && open(&t["initial"]), "{t:?}");
    // Re-posting the same file and closing more days creates nothing twice.
    let before = all_tasks(&store).await.len();
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P1", "L1", "2026-02-15", first.payment)]),
    )
    .await
    .unwrap();
    assert_eq!(all_tasks(&store).await.len(), before);
    close::run_daily(&store, &policy, d("2026-03-20"), |_| {})
        .await
        .unwrap();
    let t = task_states(&store, id).await;
    assert!(t.contains_key("reminder:2:2026-03-15:3") && t.contains_key("reminder:2:2026-03-15:0"));
    // Installment 2 unpaid: overdue again from 03-16, collection call on 03-18 for that episode.
    assert!(open(&t["collect:2026-03-15"]), "{t:?}");
    assert_eq!(t["collect:2026-02-15"], cancelled("cured"));
}

async fn paid_off_and_written_off_loans_have_no_open_task(dbs: &mut Dbs) {
    let policy = Policy::default();
    // Paid off.
    let store = dbs.fresh().await;
    one_loan(&store, "2026-01-15", "2026-01-15").await;
    let id = loan_id(&store, "L1").await;
    close::run_daily(&store, &policy, d("2026-03-20"), |_| {})
        .await
        .unwrap();
    let t = task_states(&store, id).await;
    assert!(open(&t["escalate:M2:2026-02-15"]), "DPD 33: {t:?}");
    import::import_payments(
        &store,
        &policy,
        &lines(&[pay("P1", "L1", "2026-03-20", money("20000"))]),
    )
    .await
    .unwrap();
    let view = loans::view(&store, &policy, "L1").await.unwrap();
    assert_eq!(view.status.lifecycle, Lifecycle::PaidOff);
    let t = task_states(&store, id).await;
    assert!(t.values().all(|s| !open(s)), "{t:?}");
    assert_eq!(t["welcome"], cancelled("paid_off"));
    assert_eq!(t["escalate:M2:2026-02-15"], cancelled("paid_off"));
    assert_eq!(t["collect:2026-02-15"], cancelled("escalated"));
    close::run_daily(&store, &policy, d("2026-05-20"), |_| {})
        .await
        .unwrap();
    let after = task_states(&store, id).await;
    assert_eq!(after, t, "a paid-off loan gets no new task");

    // Written off.
    let store = dbs.fresh().await;
    one_loan(&store, "2026-01-15", "2026-01-15").await;
    let id = loan_id(&store, "L1").await;
    close::run_daily(&store, &policy, d("2026-04-20"), |_| {})
        .await
        .unwrap();
    let t = task_states(&store, id).await;
    assert!(
        open(&t["escalate:M2:2026-02-15"]) && open(&t["field_visit:2026-02-15"]),
        "{t:?}"
    );
    assert_eq!(t["collect:2026-02-15"], cancelled("escalated"));
    // Nobody tried to call the borrower: however long overdue, not unreachable (no signal).
    let mut tx = store.begin().await.unwrap();
    let signals = tx.loan_signals(id).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(!signals.iter().any(|s| s.0 == "unreachable"), "{signals:?}");
    loans::operate(
        &store,
        &policy,
        "L1",
        LoanOp::WriteOff,
        None,
        "uncollectable",
        "risk.li",
    )
    .await
    .unwrap();
    let t = task_states(&store, id).await;
    assert!(t.values().all(|s| !open(s)), "{t:?}");
    assert_eq!(t["escalate:M2:2026-02-15"], cancelled("written_off"));
    close::run_daily(&store, &policy, d("2026-06-20"), |_| {})
        .await
        .unwrap();
    assert_eq!(
        task_states(&store, id).await,
        t,
        "a written-off loan gets no new task"
    );
}

async fn loan_imported_late_gets_late_tasks(dbs: &mut Dbs) {
    let policy = Policy::default();
    let store = dbs.fresh().await;
    init(&store, d("2026-03-20")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1")]))
        .await
        .unwrap();
    // day 47 of L1: welcome late, initial late (its window 03-03..04-02 has started);
    // day 443 of L2: welcome late, no initial; its continuous series starts at its first
    // evaluation with its payments (here: none, the next close).
    import::import_loans(
        &store,
        &policy,
        &lines(&[loan("L1", "2026-02-01"), loan("L2", "2025-01-01")]),
    )
    .await
    .unwrap();
    let tasks = all_tasks(&store).await;
    let l1 = loan_id(&store, "L1").await;
    type Seen<'a> = (bool, &'a str, &'a str, Date, Option<Date>, bool);
    let view: Vec<Seen<'_>> = tasks
        .iter()
        .map(|t| {
            (
                t.task.loan_id == l1,
                t.task.reason_key.as_str(),
                t.task.queue_code.as_str(),
                t.task.due_on,
                t.task.window_end_on,
                t.task.late,
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            (true, "welcome", "followup", d("2026-02-08"), None, true),
            (
                true,
                "initial",
                "followup",
                d("2026-03-03"),
                Some(d("2026-04-02")),
                true
            ),
            (false, "welcome", "followup", d("2025-01-08"), None, true),
        ]
    );
    // L2 (nothing paid) is overdue: its collection task waits for its payments, then the next
    // close creates it, late, in the queue of its bucket (DPD 430: legal).
    close::run_daily(&store, &policy, d("2026-03-21"), |_| {})
        .await
        .unwrap();
    let l2 = loan_id(&store, "L2").await;
    let mut tx = store.begin().await.unwrap();
    let open_l2 = tx.followup_tasks(Some(l2), None, true).await.unwrap();
    tx.rollback().await.unwrap();
    // the current continuous period's follow-up, late (warning level 3 at DPD 431: every 7
    // days from disbursement)
    let continuous: Vec<_> = open_l2
        .iter()
        .filter(|t| t.task.kind == "continuous_followup")
        .map(|t| (t.task.reason_key.as_str(), t.task.late))
        .collect();
    assert_eq!(continuous, [("continuous:2026-03-18", true)]);
    let legal: Vec<_> = open_l2
        .iter()
        .filter(|t| t.task.queue_code == "legal")
        .collect();
    assert_eq!(legal.len(), 1, "{open_l2:?}");
    assert_eq!(
        (legal[0].task.reason_key.as_str(), legal[0].task.late),
        ("escalate:M4:2025-02-01", true)
    );
    // L1 (installment 1 due 03-01 unpaid, DPD 20): M1, early collection.
    let mut tx = store.begin().await.unwrap();
    let open_l1 = tx.followup_tasks(Some(l1), None, true).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        open_l1
            .iter()
            .any(|t| t.task.reason_key == "collect:2026-03-01"
                && t.task.queue_code == "early_collection"),
        "{open_l1:?}"
    );
}

async fn plans_and_scripts_are_data(dbs: &mut Dbs) {
    let policy = Policy::default();
    let store = dbs.fresh().await;
    init(&store, d("2026-01-15")).await;
    followup::seed_defaults(&store).await.unwrap();
    followup::seed_defaults(&store).await.unwrap(); // idempotent
    let shown = followup::show_plan(&store, None).await.unwrap();
    assert_eq!(
        followup::plan_from_json(&shown).unwrap(),
        FollowUpPlan::default()
    );
    let script = followup::show_script(&store, huifang_core::followup::TaskKind::WelcomeCall, "zh")
        .await
        .unwrap();
    let ids: Vec<&str> = script
        .questions
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"funds_reached_dealer") && ids.contains(&"vehicle_delivered"));
    assert!(
        followup::set_plan(&store, None, r#"{"collection": {"from_dpd": "x"}}"#)
            .await
            .is_err()
    );
    // Product P3 collects from DPD 10 and reminds 5 days before only: a plan for a product not
    // imported yet is refused
    let p3 = r#"{"collection": {"from_dpd": 10}, "reminders": {"days_before": [5]}}"#;
    assert!(matches!(
        followup::set_plan(&store, Some("P3"), p3).await,
        Err(huifang_app::AppError::NotFound {
            what: "product",
            ..
        })
    ));
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    followup::set_plan(&store, Some("P3"), p3).await.unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1")]))
        .await
        .unwrap();
    import::import_loans(&store, &policy, &lines(&[loan("L1", "2026-01-15")]))
        .await
        .unwrap();
    close::run_daily(&store, &policy, d("2026-02-24"), |_| {})
        .await
        .unwrap();
    let id = loan_id(&store, "L1").await;
    let t = task_states(&store, id).await;
    assert!(t.contains_key("reminder:1:2026-02-15:5"), "{t:?}");
    assert!(!t.contains_key("reminder:1:2026-02-15:3"), "{t:?}");
    assert!(!t.contains_key("collect:2026-02-15"), "{t:?}");
    close::run_daily(&store, &policy, d("2026-02-25"), |_| {})
        .await
        .unwrap();
    let t = task_states(&store, id).await;
    assert!(open(&t["collect:2026-02-15"]), "DPD 10: {t:?}");
}

/// Thousands of loans in one import and one payments file: the bulk statements are cut into
/// chunks (more tasks than one statement holds), and every loan ends with exactly its tasks.
async fn many_loans_at_once_in_bulk(dbs: &mut Dbs) {
    const N: usize = 4_500;
    let policy = Policy::default();
    let store = dbs.fresh().await;
    init(&store, d("2026-03-20")).await;
    import::import_products(&store, &lines(&[product("P3", 3, "0.5")]))
        .await
        .unwrap();
    import::import_borrowers(&store, &lines(&[borrower("B1")]))
        .await
        .unwrap();
    let rows: Vec<LoanRow> = (0..N)
        .map(|i| loan(&format!("L{i:05}"), "2026-03-01"))
        .collect();
    import::import_loans(&store, &policy, &lines(&rows))
        .await
        .unwrap();
    let tasks = all_tasks(&store).await;
    assert_eq!(
        tasks.len(),
        2 * N,
        "a welcome call and an initial follow-up each"
    );
    // Again: nothing twice.
    import::import_loans(&store, &policy, &lines(&rows))
        .await
        .unwrap();
    assert_eq!(all_tasks(&store).await.len(), 2 * N);
    // Half of them pay everything off: their tasks are cancelled, the others' stay open.
    let pays: Vec<PaymentRow> = (0..N)
        .step_by(2)
        .map(|i| {
            pay(
                &format!("P{i:05}"),
                &format!("L{i:05}"),
                "2026-03-20",
                money("20000"),
            )
        })
        .collect();
    import::import_payments(&store, &policy, &lines(&pays))
        .await
        .unwrap();
    let tasks = all_tasks(&store).await;
    let ids: HashMap<LoanId, usize> = status_lines(&store)
        .await
        .iter()
        .map(|l| (l.row.id, l.row.external_id[1..].parse().unwrap()))
        .collect();
    for t in &tasks {
        let paid_off = ids[&t.task.loan_id].is_multiple_of(2);
        assert_eq!(
            (t.state.as_str(), t.close_reason.as_deref()),
            if paid_off {
                ("cancelled", Some("paid_off"))
            } else {
                ("open", None)
            },
            "{t:?}"
        );
    }
}

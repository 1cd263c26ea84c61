//! Early warning from repayment and follow-up facts (issue 17), against real databases: each
//! default rule raised by the situation it describes, with its level, rule id and version and
//! the facts a risk officer reads; signals weighed in the transaction that records them; a
//! warning clearing when its signal leaves the rule's window; the rule set changed from a
//! document without a rebuild, and a malformed one refused with the rule and field named.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::rows::PaymentRow;
use huifang_app::team::{self, OutcomeInput};
use huifang_app::warnings::{self as life, WarningFilter};
use huifang_app::{AppError, close, import, ledger, policy, rules};
use huifang_core::policy::Policy;
use huifang_core::warning::{WarningAction, WarningState};
use huifang_core::{Date, Money, TaskId};
use huifang_store::{Store, WarningRecord};
use huifang_testkit::{Dbs, on_both};
use serde_json::{Value, json};
use support::{book, d, ledger_size, task};

/// A moment inside the contact hours (10:00 in Asia/Shanghai), for contacts recorded by the tests.
const DAYTIME: &str = "2026-03-20T02:00:00Z";

on_both!(
    each_follow_up_signal_raises_its_rule_at_once,
    a_signal_warning_clears_when_its_window_ends,
    broken_promises_within_the_window_raise_level_two,
    an_overdue_borrower_tried_in_vain_is_level_three,
    rules_set_from_a_document_change_the_next_close,
    a_malformed_rule_set_is_refused_and_changes_nothing,
    a_risk_officer_acknowledges_acts_on_and_resolves_a_warning,
    a_false_warning_resolves_after_the_rule_sets_days,
    repayment_rules_carry_their_facts_and_playbooks,
);

/// `book(n)` with every loan current: installments 1 and 2 (due 02-15 and 03-15) paid on their
/// due dates, so that on the business date (03-20) no loan is overdue or warned.
async fn current_book(store: &Store, loans: usize) {
    book(store, loans).await;
    let rows: Vec<(usize, PaymentRow)> = (1..=loans)
        .flat_map(|n| {
            [("02-15", "a"), ("03-15", "b")].map(|(day, tag)| PaymentRow {
                external_id: format!("P{n}{tag}"),
                loan_external_id: format!("L{n}"),
                paid_on: d(&format!("2026-{day}")),
                amount: Money::parse("1100.00").unwrap(),
                channel: "代扣".into(),
            })
        })
        .enumerate()
        .map(|(i, r)| (i + 2, r))
        .collect();
    import::import_payments(store, &Policy::default(), &rows)
        .await
        .unwrap();
    for n in 1..=loans {
        assert_eq!(level(store, n).await, 0, "L{n} starts unwarned");
    }
}

/// The loan's stored warning level.
async fn level(store: &Store, loan: usize) -> u8 {
    let key = format!("L{loan}");
    let mut tx = store.begin().await.unwrap();
    let found = tx
        .loans_by_external_id(std::slice::from_ref(&key))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    found[&key].loan.evaluation.summary.warning_level
}

/// The loan's warnings, newest first.
async fn warnings(store: &Store, loan: usize) -> Vec<WarningRecord> {
    let key = format!("L{loan}");
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .loan_ids_by_external_id(std::slice::from_ref(&key))
        .await
        .unwrap()[&key];
    let w = tx.loan_warnings(id).await.unwrap();
    tx.rollback().await.unwrap();
    w
}

/// The facts of the loan's open warning.
async fn open_facts(store: &Store, loan: usize) -> (u8, String, Value) {
    let open: Vec<WarningRecord> = warnings(store, loan)
        .await
        .into_iter()
        .filter(|w| w.cleared_on.is_none())
        .collect();
    assert_eq!(open.len(), 1, "L{loan}: one open warning, got {open:?}");
    let w = &open[0];
    (
        w.level,
        w.rule.clone(),
        serde_json::from_str(&w.facts).unwrap(),
    )
}

/// The loan's tasks of `kind`: (reason key, queue, due date).
async fn tasks_of(store: &Store, loan: usize, kind: &str) -> Vec<(String, String, Date)> {
    let key = format!("L{loan}");
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .loan_ids_by_external_id(std::slice::from_ref(&key))
        .await
        .unwrap()[&key];
    let tasks = tx.followup_tasks(Some(id), None, false).await.unwrap();
    tx.rollback().await.unwrap();
    tasks
        .into_iter()
        .filter(|t| t.task.kind == kind)
        .map(|t| (t.task.reason_key, t.task.queue_code, t.task.due_on))
        .collect()
}

/// The loan's playbook tasks: (reason key, queue, due date).
async fn playbook_tasks(store: &Store, loan: usize) -> Vec<(String, String, Date)> {
    tasks_of(store, loan, "warning_review").await
}

/// The reason keys of a loan's repayment reminder tasks.
async fn reminder_keys(store: &Store, loan: usize) -> Vec<String> {
    tasks_of(store, loan, "repayment_reminder")
        .await
        .into_iter()
        .map(|(key, _, _)| key)
        .collect()
}

async fn record(store: &Store, who: &str, t: TaskId, input: &OutcomeInput) -> Option<u8> {
    let actor = team::actor(store, who).await.unwrap();
    team::record_outcome(store, &actor, t, input)
        .await
        .unwrap()
        .warning_level
}

fn contact(key: &str, outcome: &str) -> OutcomeInput {
    OutcomeInput {
        channel: "phone".into(),
        outcome: outcome.into(),
        idempotency_key: key.into(),
        occurred_at: Some(DAYTIME.into()),
        ..OutcomeInput::default()
    }
}

fn hardship(key: &str, pct: i32, job: &str) -> OutcomeInput {
    OutcomeInput {
        income_change_pct: Some(pct),
        job_status: Some(job.into()),
        ..contact(key, "hardship_reported")
    }
}

fn vehicle(key: &str, status: &str) -> OutcomeInput {
    OutcomeInput {
        vehicle_status: Some(status.into()),
        ..contact(key, "vehicle_status")
    }
}

fn life_event(key: &str, event: &str) -> OutcomeInput {
    OutcomeInput {
        answers: Some(serde_json::from_value(json!({ "life_event": event })).unwrap()),
        ..contact(key, "reached")
    }
}

async fn each_follow_up_signal_raises_its_rule_at_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    let cases: Vec<(OutcomeInput, u8, &str, &str, &str)> = vec![
        (
            hardship("k1", -40, "changed"),
            2,
            "income_down_30",
            "回访记录 2026-03-20: 收入下降 40%",
            "follow-up 2026-03-20: income down 40%",
        ),
        (
            hardship("k2", -10, "lost"),
            2,
            "job_loss",
            "回访记录 2026-03-20: 失业",
            "follow-up 2026-03-20: job lost",
        ),
        (
            hardship("k3", -5, "business_trouble"),
            2,
            "business_trouble",
            "回访记录 2026-03-20: 经营困难",
            "follow-up 2026-03-20: business in trouble",
        ),
        (
            hardship("k4", 0, "unemployed_no_income"),
            3,
            "unemployed_no_income",
            "回访记录 2026-03-20: 失业且无收入",
            "follow-up 2026-03-20: unemployed with no income",
        ),
        (
            life_event("k5", "bankruptcy"),
            3,
            "bankruptcy",
            "回访记录 2026-03-20: 破产",
            "follow-up 2026-03-20: bankrupt",
        ),
        (
            life_event("k6", "death"),
            3,
            "death",
            "回访记录 2026-03-20: 死亡",
            "follow-up 2026-03-20: deceased",
        ),
        (
            life_event("k7", "serious_illness"),
            3,
            "serious_illness",
            "回访记录 2026-03-20: 重大疾病",
            "follow-up 2026-03-20: serious illness",
        ),
        (
            life_event("k8", "imprisonment"),
            3,
            "imprisonment",
            "回访记录 2026-03-20: 被羁押或服刑",
            "follow-up 2026-03-20: imprisoned",
        ),
        (
            vehicle("k9", "sold"),
            3,
            "vehicle_sold",
            "回访记录 2026-03-20: 车辆已出售",
            "follow-up 2026-03-20: vehicle sold",
        ),
        (
            vehicle("k10", "pledged"),
            3,
            "vehicle_pledged",
            "回访记录 2026-03-20: 车辆已质押",
            "follow-up 2026-03-20: vehicle pledged",
        ),
        (
            vehicle("k11", "lost"),
            3,
            "vehicle_lost",
            "回访记录 2026-03-20: 车辆下落不明",
            "follow-up 2026-03-20: vehicle lost",
        ),
        // the agent's notes, read by the text reader, weigh as the structured answers do
        (
            OutcomeInput {
                notes: "客户说上个月把车卖给朋友了，钱拿去还别的债".into(),
                ..contact("k12", "reached")
            },
            3,
            "vehicle_sold",
            "回访记录 2026-03-20: 车辆已出售",
            "follow-up 2026-03-20: vehicle sold",
        ),
    ];
    current_book(&store, cases.len() + 1).await;
    for (i, (input, want_level, rule, zh, en)) in cases.iter().enumerate() {
        let loan = i + 1;
        let t = task(&store, loan, "welcome", "followup", "2026-03-20").await;
        let size = ledger_size(&store).await;
        // Weighed in the outcome's own transaction: no close in between.
        let got = record(&store, "a1", t, input).await;
        assert_eq!(got, Some(*want_level), "{rule}: the outcome's answer");
        assert_eq!(level(&store, loan).await, *want_level, "{rule}: status");
        let (level, stored_rule, facts) = open_facts(&store, loan).await;
        assert_eq!((level, stored_rule.as_str()), (*want_level, *rule));
        assert_eq!(facts["rule_version"], "1", "{rule}");
        assert_eq!(facts["text_zh"], *zh, "{rule}");
        assert_eq!(facts["text_en"], *en, "{rule}");
        assert_eq!(facts["signal_on"], "2026-03-20", "{rule}");
        // the interaction and the warning are both in the tamper-evident log
        assert_eq!(ledger_size(&store).await, size + 2, "{rule}");
        // the level's playbook task, once: a follow-up call within a day at level 1, a risk
        // officer's review at levels 2 (within 3 days) and 3 (within a day)
        let (queue, due) = match want_level {
            2 => ("risk_review", "2026-03-23"),
            _ => ("risk_review", "2026-03-21"),
        };
        assert_eq!(
            playbook_tasks(&store, loan).await,
            [(
                format!("warning:L{want_level}:2026-03-20"),
                queue.to_string(),
                d(due)
            )],
            "{rule}"
        );
    }
    // Income down 29 %: the signal is recorded, but no rule fires.
    let loan = cases.len() + 1;
    let t = task(&store, loan, "welcome", "followup", "2026-03-20").await;
    assert_eq!(
        record(&store, "a1", t, &hardship("k-mild", -29, "changed")).await,
        Some(0)
    );
    assert!(
        warnings(&store, loan)
            .await
            .iter()
            .all(|w| w.cleared_on.is_some())
    );
    // notes that deny the signals raise none
    let t = task(&store, loan, "denied", "followup", "2026-03-20").await;
    let denied = OutcomeInput {
        notes: "我没有失业，车也没卖，就是这个月工资晚发了".into(),
        ..contact("k-denied", "reached")
    };
    // no signal recorded: nothing to weigh
    assert_eq!(record(&store, "a1", t, &denied).await, None);
    assert_eq!(level(&store, loan).await, 0);
}

/// A rule set whose job-loss rule counts a signal for 5 days only.
fn short_job_loss_window(store_doc: &Value) -> String {
    let mut doc = store_doc.clone();
    for rule in doc["rules"].as_array_mut().unwrap() {
        if rule["id"] == "job_loss" {
            rule["when"]["within_days"] = json!(5);
        }
    }
    doc.to_string()
}

async fn a_signal_warning_clears_when_its_window_ends(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    current_book(&store, 1).await;
    rules::seed_default(&store).await.unwrap();
    let shown = serde_json::to_value(rules::show(&store).await.unwrap()).unwrap();
    rules::set(&store, &short_job_loss_window(&shown))
        .await
        .unwrap();
    let policy = policy::load(&store).await.unwrap();
    let t = task(&store, 1, "welcome", "followup", "2026-03-20").await;
    assert_eq!(
        record(&store, "a1", t, &hardship("k", -10, "lost")).await,
        Some(2)
    );
    let (_, rule, facts) = open_facts(&store, 1).await;
    assert_eq!(
        (rule.as_str(), &facts["rule_version"]),
        ("job_loss", &json!("2"))
    );
    // Observed on 03-20, counted for 5 days: through 03-24, gone on 03-25.
    close::run_daily(&store, &policy, d("2026-03-24"), |_| {})
        .await
        .unwrap();
    assert_eq!(level(&store, 1).await, 2);
    let mut visited = Vec::new();
    close::run_daily(&store, &policy, d("2026-03-25"), |r| visited.push(r.loans))
        .await
        .unwrap();
    assert_eq!(
        visited,
        [1],
        "the close visits the loan the day its signal expires"
    );
    assert_eq!(level(&store, 1).await, 0);
    // (the book's loans were imported overdue, warned, then cured: newest first)
    let w = warnings(&store, 1).await;
    assert_eq!(
        (w[0].rule.as_str(), w[0].cleared_on),
        ("job_loss", Some(d("2026-03-25")))
    );
}

async fn broken_promises_within_the_window_raise_level_two(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    current_book(&store, 1).await;
    let policy = Policy::default();
    let promise = |key: &str, due: &str| OutcomeInput {
        amount: Some("500".into()),
        date: Some(d(due)),
        ..contact(key, "promise_to_pay")
    };
    let t1 = task(&store, 1, "first", "followup", "2026-03-20").await;
    record(&store, "a1", t1, &promise("p1", "2026-03-23")).await;
    // Nothing paid by 03-23: broken in the close of 03-24, one broken promise, no warning.
    close::run_daily(&store, &policy, d("2026-03-24"), |_| {})
        .await
        .unwrap();
    assert_eq!(level(&store, 1).await, 0);
    let t2 = task(&store, 1, "second", "followup", "2026-03-24").await;
    record(&store, "a1", t2, &promise("p2", "2026-03-27")).await;
    close::run_daily(&store, &policy, d("2026-03-28"), |_| {})
        .await
        .unwrap();
    // The second broken on 03-28: two within 90 days, raised by that close.
    assert_eq!(level(&store, 1).await, 2);
    let (_, rule, facts) = open_facts(&store, 1).await;
    assert_eq!(rule, "two_broken_promises_90d");
    assert_eq!(
        facts["text_zh"],
        "90 天内 2 次承诺还款未兑现: 2026-03-24、2026-03-28"
    );
    assert_eq!(
        facts["text_en"],
        "2 promises to pay broken within 90 days: 2026-03-24, 2026-03-28"
    );
    assert_eq!(warnings(&store, 1).await[0].raised_on, d("2026-03-28"));
    assert_eq!(
        playbook_tasks(&store, 1).await,
        [(
            "warning:L2:2026-03-28".to_string(),
            "risk_review".to_string(),
            d("2026-03-31")
        )]
    );
}

async fn an_overdue_borrower_tried_in_vain_is_level_three(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    // Nothing paid: both loans overdue since 02-15 (DPD 33 on 03-20), at level 2 (dpd_31).
    book(&store, 2).await;
    assert_eq!((level(&store, 1).await, level(&store, 2).await), (2, 2));
    // Nobody has tried to call either borrower yet: neither is unreachable, however overdue.
    close::run_daily(&store, &Policy::default(), d("2026-03-21"), |_| {})
        .await
        .unwrap();
    assert_eq!((level(&store, 1).await, level(&store, 2).await), (2, 2));
    // L2's borrower is reached today; L1's does not answer: 34 days overdue, tried in vain,
    // level 3 in the attempt's own transaction.
    let t = task(&store, 2, "call", "early_collection", "2026-03-20").await;
    record(&store, "c1", t, &contact("r", "reached")).await;
    let t = task(&store, 1, "call", "early_collection", "2026-03-20").await;
    assert_eq!(
        record(&store, "c1", t, &contact("n", "no_answer")).await,
        Some(3)
    );
    assert_eq!(level(&store, 1).await, 3);
    let (_, rule, facts) = open_facts(&store, 1).await;
    assert_eq!(rule, "unreachable_30d_overdue");
    let days = facts["days"].as_str().unwrap().to_string();
    assert!(days.parse::<u32>().unwrap() >= 30, "{facts}");
    assert_eq!(
        facts["text_zh"],
        format!("逾期期间 {days} 天未能联系上借款人（2026-03-21 记录）")
    );
    assert_eq!(
        facts["text_en"],
        format!("unreachable for {days} days while overdue (recorded 2026-03-21)")
    );
    // the level-2 warning it escalates from is cleared the same day
    let w = warnings(&store, 1).await;
    assert_eq!(
        w.iter()
            .map(|w| (w.level, w.rule.as_str(), w.cleared_on))
            .collect::<Vec<_>>(),
        [
            (3, "unreachable_30d_overdue", None),
            (2, "dpd_31", Some(d("2026-03-21")))
        ]
    );
    assert_eq!(level(&store, 2).await, 2, "reached: still dpd_31 only");
    // In the risk officers' list: the level-3 warning open, the level-2 one escalated by it.
    let risk = team::actor(&store, "risk").await.unwrap();
    let all = WarningFilter {
        all: true,
        loan: Some("L1".into()),
        ..WarningFilter::default()
    };
    let rows = life::list(&store, &risk, &all).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|w| (w.warning.level, w.state))
            .collect::<Vec<_>>(),
        [(3, WarningState::Raised), (2, WarningState::Escalated)]
    );
    let (_, history) = life::show(&store, &risk, rows[1].id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.step.action, h.username.clone(), h.step.note.as_str()))
            .collect::<Vec<_>>(),
        [(WarningAction::Escalated, None, "level 3 raised on the loan")]
    );
    // Its playbook: an acceleration / repossession / legal review within a day.
    assert!(
        playbook_tasks(&store, 1).await.contains(&(
            "warning:L3:2026-03-21".to_string(),
            "risk_review".to_string(),
            d("2026-03-22")
        )),
        "{:?}",
        playbook_tasks(&store, 1).await
    );
    // The borrower pays what is overdue: the delinquency is over, and with it the rule (its
    // signal was of that delinquency). Installments 1 and 2 were both paid late: level 1, and
    // the level-3 warning resolved automatically.
    import::import_payments(
        &store,
        &Policy::default(),
        &[(
            2,
            PaymentRow {
                external_id: "L1-cure".into(),
                loan_external_id: "L1".into(),
                paid_on: d("2026-03-21"),
                amount: Money::parse("2300.00").unwrap(),
                channel: "代扣".into(),
            },
        )],
    )
    .await
    .unwrap();
    assert_eq!(level(&store, 1).await, 1);
    let rows = life::list(&store, &risk, &all).await.unwrap();
    assert_eq!(
        rows.iter()
            .map(|w| (w.warning.level, w.warning.rule.as_str(), w.state))
            .collect::<Vec<_>>(),
        [
            (1, "two_consecutive_late", WarningState::Raised),
            (3, "unreachable_30d_overdue", WarningState::Resolved),
            (2, "dpd_31", WarningState::Escalated)
        ]
    );
}

/// The rule set as `rules show` prints it, edited by `edit`.
async fn edited_rules(store: &Store, edit: impl Fn(&mut Value)) -> String {
    let mut doc = serde_json::to_value(rules::show(store).await.unwrap()).unwrap();
    edit(&mut doc);
    doc.to_string()
}

fn rule_mut<'a>(doc: &'a mut Value, id: &str) -> &'a mut Value {
    doc["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == id)
        .unwrap()
}

async fn rules_set_from_a_document_change_the_next_close(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    current_book(&store, 2).await;
    rules::seed_default(&store).await.unwrap();
    // Before: income down 25 % and a plain hardship raise nothing.
    let t1 = task(&store, 1, "welcome", "followup", "2026-03-20").await;
    assert_eq!(
        record(&store, "a1", t1, &hardship("h1", -25, "changed")).await,
        Some(0)
    );
    // A new threshold (income down 20 %) and a new signal rule (any hardship, level 1).
    let text = edited_rules(&store, |doc| {
        rule_mut(doc, "income_down_30")["when"]["pct"] = json!(20);
        doc["rules"].as_array_mut().unwrap().push(json!({
            "id": "hardship_reported",
            "level": 1,
            "when": {"kind": "signal", "signal": "hardship", "within_days": 30}
        }));
    })
    .await;
    let change = rules::set(&store, &text).await.unwrap();
    assert_eq!(
        (change.version, change.changed, change.business_date),
        (2, true, d("2026-03-20"))
    );
    let shown = serde_json::to_value(rules::show(&store).await.unwrap()).unwrap();
    assert_eq!(shown["version"], 2);
    assert_eq!(rule_mut(&mut shown.clone(), "income_down_30")["version"], 2);
    assert_eq!(
        rule_mut(&mut shown.clone(), "hardship_reported")["version"],
        2
    );
    assert_eq!(rule_mut(&mut shown.clone(), "dpd_31")["version"], 1);
    // Applies from the next close, without a rebuild: L1 is at level 2 under version 2.
    assert_eq!(level(&store, 1).await, 0);
    let policy = policy::load(&store).await.unwrap();
    close::run_daily(&store, &policy, d("2026-03-21"), |_| {})
        .await
        .unwrap();
    assert_eq!(level(&store, 1).await, 2);
    let (_, rule, facts) = open_facts(&store, 1).await;
    assert_eq!(
        (rule.as_str(), &facts["rule_version"]),
        ("income_down_30", &json!("2"))
    );
    assert_eq!(facts["text_en"], "follow-up 2026-03-20: income down 25%");
    // and a plain hardship outcome now raises level 1 at once
    let t2 = task(&store, 2, "welcome", "followup", "2026-03-21").await;
    assert_eq!(
        record(&store, "a1", t2, &hardship("h2", 0, "unchanged")).await,
        Some(1)
    );
    assert_eq!(open_facts(&store, 2).await.1, "hardship_reported");
    // level 1's playbook: a follow-up call within a day
    assert_eq!(
        playbook_tasks(&store, 2).await,
        [(
            "warning:L1:2026-03-21".to_string(),
            "followup".to_string(),
            d("2026-03-22")
        )]
    );
    // The same document again changes nothing.
    let again = rules::set(&store, &text).await.unwrap();
    assert_eq!((again.version, again.changed), (2, false));
}

async fn a_malformed_rule_set_is_refused_and_changes_nothing(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    current_book(&store, 1).await;
    rules::seed_default(&store).await.unwrap();
    let before = rules::show(&store).await.unwrap();
    let next_before = {
        let mut tx = store.begin().await.unwrap();
        let l = tx.loans_by_external_id(&["L1".into()]).await.unwrap();
        tx.rollback().await.unwrap();
        l["L1"].loan.evaluation.next_event_on
    };
    let cases: Vec<(String, &str)> = vec![
        (
            edited_rules(&store, |d| rule_mut(d, "dpd_91")["level"] = json!(4)).await,
            "rules[15].level (rule dpd_91): must be 1, 2 or 3, not 4",
        ),
        (
            edited_rules(&store, |d| rule_mut(d, "death")["id"] = json!("bankruptcy")).await,
            "rules[8].id (rule bankruptcy): \"bankruptcy\" is used by an earlier rule",
        ),
        (
            edited_rules(&store, |d| {
                rule_mut(d, "job_loss")["when"]["within_days"] = json!(0)
            })
            .await,
            "rules[2].when.within_days (rule job_loss): must be 1 to 3650, not 0",
        ),
        (
            edited_rules(&store, |d| {
                rule_mut(d, "job_loss")["when"]["signal"] = json!("income_drop")
            })
            .await,
            "rules[2].when.signal (rule job_loss): income_drop has a condition of its own: use income_down",
        ),
        (
            edited_rules(&store, |d| {
                rule_mut(d, "job_loss")["when"]["signal"] = json!("Job Loss")
            })
            .await,
            "rules[2].when.signal (rule job_loss): must be a signal name",
        ),
        (
            edited_rules(&store, |d| {
                rule_mut(d, "dpd_31")["when"] = json!({"kind": "dpd_over", "days": 31})
            })
            .await,
            "rules[5].when.kind (rule dpd_31): unknown variant `dpd_over`",
        ),
        (
            edited_rules(&store, |d| {
                rule_mut(d, "two_broken_promises_90d")["when"]["count"] = json!(0)
            })
            .await,
            "rules[4].when.count (rule two_broken_promises_90d): must be 1 to 20, not 0",
        ),
        (
            edited_rules(&store, |d| rule_mut(d, "dpd_31")["colour"] = json!("red")).await,
            "rules[5].colour (rule dpd_31): unknown field `colour`",
        ),
        (
            "{\"rules\": [".to_string(),
            "rules: EOF while parsing a list at line 1",
        ),
    ];
    for (text, want) in cases {
        let err = rules::set(&store, &text).await.unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in: {err}");
    }
    assert_eq!(
        rules::show(&store).await.unwrap(),
        before,
        "nothing changed"
    );
    let mut tx = store.begin().await.unwrap();
    let l = tx.loans_by_external_id(&["L1".into()]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(l["L1"].loan.evaluation.next_event_on, next_before);
    let _: Option<Date> = next_before;
}

async fn a_risk_officer_acknowledges_acts_on_and_resolves_a_warning(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    // L1 unpaid since 02-15: level 2 (dpd_31) raised when it was imported. L2 is current.
    book(&store, 2).await;
    let rows: Vec<(usize, PaymentRow)> = [("02-15", "a"), ("03-15", "b")]
        .iter()
        .enumerate()
        .map(|(i, (day, tag))| {
            (
                i + 2,
                PaymentRow {
                    external_id: format!("P2{tag}"),
                    loan_external_id: "L2".into(),
                    paid_on: d(&format!("2026-{day}")),
                    amount: Money::parse("1100.00").unwrap(),
                    channel: "代扣".into(),
                },
            )
        })
        .collect();
    import::import_payments(&store, &Policy::default(), &rows)
        .await
        .unwrap();
    let risk = team::actor(&store, "risk").await.unwrap();
    let open = life::list(&store, &risk, &WarningFilter::default())
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let w = &open[0];
    assert_eq!(
        (w.loan_external_id.as_str(), w.warning.level, w.state),
        ("L1", 2, WarningState::Raised)
    );
    let id = w.id;

    // Refusals change nothing: other roles may not act; an agent may not even read.
    let size = ledger_size(&store).await;
    for who in ["a1", "c1", "lead_col", "audit", "admin"] {
        let actor = team::actor(&store, who).await.unwrap();
        let err = life::acknowledge(&store, &actor, id, "").await.unwrap_err();
        assert!(matches!(err, AppError::Forbidden(_)), "{who}: {err}");
    }
    let a1 = team::actor(&store, "a1").await.unwrap();
    let err = life::list(&store, &a1, &WarningFilter::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    let audit = team::actor(&store, "audit").await.unwrap();
    assert_eq!(
        life::list(&store, &audit, &WarningFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let err = life::record_action(&store, &risk, id, None, "called")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m.contains("acknowledge the warning first")),
        "{err}"
    );
    assert!(matches!(
        life::acknowledge(&store, &risk, 999_999, "").await,
        Err(AppError::NotFound { .. })
    ));
    assert_eq!(ledger_size(&store).await, size, "nothing logged");

    // Acknowledged, then acted on with a task of its loan, then resolved with a reason.
    let w = life::acknowledge(&store, &risk, id, "看到了")
        .await
        .unwrap();
    assert_eq!(w.state, WarningState::Acknowledged);
    let err = life::acknowledge(&store, &risk, id, "").await.unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");
    let other = task(&store, 2, "review", "followup", "2026-03-20").await;
    let err = life::record_action(&store, &risk, id, Some(other), "review")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AppError::Field { field: "task", reason } if reason.contains("of loan L2")),
        "{err}"
    );
    let review = task(&store, 1, "review", "early_collection", "2026-03-20").await;
    let w = life::record_action(&store, &risk, id, Some(review), "协商延期 hardship review")
        .await
        .unwrap();
    assert_eq!(w.state, WarningState::Actioned);
    let err = life::resolve(&store, &risk, id, "  ").await.unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Field {
                field: "reason",
                ..
            }
        ),
        "{err}"
    );
    let w = life::resolve(&store, &risk, id, "deferral agreed")
        .await
        .unwrap();
    assert_eq!(
        (w.state, w.warning.cleared_on),
        (WarningState::Resolved, Some(d("2026-03-20")))
    );
    let err = life::resolve(&store, &risk, id, "again").await.unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");
    assert!(
        life::list(&store, &risk, &WarningFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // The history, each step by whom, and each in the tamper-evident log.
    let (_, history) = life::show(&store, &risk, id).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (
                h.step.action,
                h.username.as_deref(),
                h.step.task_id,
                h.step.note.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            (WarningAction::Acknowledged, Some("risk"), None, "看到了"),
            (
                WarningAction::ActionTaken,
                Some("risk"),
                Some(review),
                "协商延期 hardship review"
            ),
            (
                WarningAction::Resolved,
                Some("risk"),
                None,
                "deferral agreed"
            ),
        ]
    );
    assert!(history.iter().all(|h| h.step.occurred_at.is_some()));
    assert_eq!(ledger_size(&store).await, size + 3);
    let report = ledger::verify(&store, None).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    // Resolved by hand while its level still holds: not raised again by the next close.
    close::run_daily(&store, &Policy::default(), d("2026-03-21"), |_| {})
        .await
        .unwrap();
    let after = life::list(&store, &risk, &WarningFilter::default())
        .await
        .unwrap();
    assert!(
        after.iter().all(|w| w.warning.level == 3),
        "only a higher level is raised: {after:?}"
    );
}

async fn a_false_warning_resolves_after_the_rule_sets_days(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    current_book(&store, 1).await;
    rules::seed_default(&store).await.unwrap();
    let mut doc: Value = serde_json::from_str(&short_job_loss_window(
        &serde_json::to_value(rules::show(&store).await.unwrap()).unwrap(),
    ))
    .unwrap();
    doc["auto_resolve_days"] = json!(3);
    rules::set(&store, &doc.to_string()).await.unwrap();
    let policy = policy::load(&store).await.unwrap();
    assert_eq!(policy.warning_auto_resolve_days, 3);
    let t = task(&store, 1, "welcome", "followup", "2026-03-20").await;
    record(&store, "a1", t, &hardship("k1", -10, "lost")).await;
    let risk = team::actor(&store, "risk").await.unwrap();
    let id = life::list(&store, &risk, &WarningFilter::default())
        .await
        .unwrap()[0]
        .id;
    // The signal leaves its 5-day window on 03-25: level 0, the warning open, false since then.
    close::run_daily(&store, &policy, d("2026-03-25"), |_| {})
        .await
        .unwrap();
    assert_eq!(level(&store, 1).await, 0);
    let (w, _) = life::show(&store, &risk, id).await.unwrap();
    assert_eq!(
        (w.state, w.false_since, w.warning.cleared_on),
        (WarningState::Raised, Some(d("2026-03-25")), None)
    );
    // Still open two days later; resolved on the third.
    close::run_daily(&store, &policy, d("2026-03-27"), |_| {})
        .await
        .unwrap();
    assert_eq!(
        life::show(&store, &risk, id).await.unwrap().0.state,
        WarningState::Raised
    );
    close::run_daily(&store, &policy, d("2026-03-28"), |_| {})
        .await
        .unwrap();
    let (w, history) = life::show(&store, &risk, id).await.unwrap();
    assert_eq!(
        (w.state, w.warning.cleared_on),
        (WarningState::Resolved, Some(d("2026-03-28")))
    );
    assert_eq!(
        history
            .iter()
            .map(|h| (h.step.action, h.step.business_date))
            .collect::<Vec<_>>(),
        [
            (WarningAction::ConditionFalse, d("2026-03-25")),
            (WarningAction::AutoResolved, d("2026-03-28"))
        ]
    );

    // A warning false for a day whose condition holds again stays open, not raised twice.
    let t2 = task(&store, 1, "again", "followup", "2026-03-28").await;
    record(&store, "a1", t2, &hardship("k2", -10, "lost")).await;
    let open = life::list(&store, &risk, &WarningFilter::default())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    let second = open[0].id;
    close::run_daily(&store, &policy, d("2026-04-02"), |_| {})
        .await
        .unwrap();
    assert_eq!(
        life::show(&store, &risk, second)
            .await
            .unwrap()
            .0
            .false_since,
        Some(d("2026-04-02"))
    );
    let t3 = task(&store, 1, "third", "followup", "2026-04-02").await;
    record(&store, "a1", t3, &hardship("k3", -10, "lost")).await;
    let (w, history) = life::show(&store, &risk, second).await.unwrap();
    assert_eq!((w.state, w.false_since), (WarningState::Raised, None));
    assert_eq!(
        history.last().map(|h| h.step.action),
        Some(WarningAction::ConditionHolds)
    );
    assert_eq!(
        life::list(&store, &risk, &WarningFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn repayment_rules_carry_their_facts_and_playbooks(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    // Both loans current on 03-20 (installments 1 and 2 paid on time; grace 3 days).
    current_book(&store, 2).await;
    rules::seed_default(&store).await.unwrap();
    // Nobody tries to call L2's borrower: however long overdue, not unreachable, so its level
    // follows DPD.
    let policy = policy::load(&store).await.unwrap();
    // L1 pays installment 3 (due 04-15) ten days late; installment 4 (due 05-15) is unpaid when
    // its grace ends: the two most recent installments past due + grace were both late.
    close::run_daily(&store, &policy, d("2026-04-25"), |_| {})
        .await
        .unwrap();
    import::import_payments(
        &store,
        &policy,
        &[(
            2,
            PaymentRow {
                external_id: "P1c".into(),
                loan_external_id: "L1".into(),
                paid_on: d("2026-04-25"),
                amount: Money::parse("1100.00").unwrap(),
                channel: "代扣".into(),
            },
        )],
    )
    .await
    .unwrap();
    close::run_daily(&store, &policy, d("2026-05-18"), |_| {})
        .await
        .unwrap();
    assert_eq!(level(&store, 1).await, 0, "within installment 4's grace");
    close::run_daily(&store, &policy, d("2026-05-19"), |_| {})
        .await
        .unwrap();
    let (level1, rule, facts) = open_facts(&store, 1).await;
    assert_eq!((level1, rule.as_str()), (1, "two_consecutive_late"));
    assert_eq!(facts["text_zh"], "第 3、4 期分别逾期 10 天、4 天");
    assert_eq!(
        facts["text_en"],
        "installments 3 and 4 late by 10 and 4 days"
    );
    assert_eq!(facts["rule_version"], "1");
    assert_eq!(
        playbook_tasks(&store, 1).await,
        [(
            "warning:L1:2026-05-19".to_string(),
            "followup".to_string(),
            d("2026-05-20")
        )]
    );
    // L2 pays nothing from installment 3 (due 04-15): level 2 at DPD 31, level 3 at DPD 91,
    // each warning with its facts and its playbook task.
    close::run_daily(&store, &policy, d("2026-07-15"), |_| {})
        .await
        .unwrap();
    let (level2, rule, facts) = open_facts(&store, 2).await;
    assert_eq!((level2, rule.as_str()), (3, "dpd_91"));
    assert_eq!(facts["text_zh"], "逾期 91 天（阈值 91 天）");
    assert_eq!(facts["text_en"], "91 days past due (threshold 91)");
    let w = warnings(&store, 2).await;
    assert_eq!(
        (w[1].rule.as_str(), w[1].raised_on),
        ("dpd_31", d("2026-05-16"))
    );
    assert_eq!(
        playbook_tasks(&store, 2).await,
        [
            (
                "warning:L2:2026-05-16".to_string(),
                "risk_review".to_string(),
                d("2026-05-19")
            ),
            (
                "warning:L3:2026-07-15".to_string(),
                "risk_review".to_string(),
                d("2026-07-16")
            ),
        ]
    );
    // Level 1's playbook also sends an extra reminder a week before a due date: L1 was at level 1
    // from 05-19 to 06-14 (DPD 31 on 06-15), so installment 5 (due 06-15) had one on 06-08
    // besides the plan's 3 days before; L2, at level 2 then, had the plan's only.
    let l1 = reminder_keys(&store, 1).await;
    for days in [7, 3] {
        let key = format!("reminder:5:2026-06-15:{days}");
        assert!(l1.contains(&key), "{key} in {l1:?}");
    }
    let l2 = reminder_keys(&store, 2).await;
    assert!(
        l2.contains(&"reminder:5:2026-06-15:3".to_string()),
        "{l2:?}"
    );
    assert!(!l2.iter().any(|k| k.ends_with(":7")), "{l2:?}");
}

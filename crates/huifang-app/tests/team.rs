//! The team that works follow-up tasks (issue 3), against real databases: who may work which
//! task (a refusal records nothing), idempotent outcome recording, the assignment strategies,
//! escalation of unreachable borrowers, the interaction's ledger leaf, authentication, masking
//! and reveals, and the team lead's views.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::team::{self, Actor, OutcomeInput};
use huifang_app::{AppError, ledger};
use huifang_core::TaskId;
use huifang_core::policy::Policy;
use huifang_store::{Evaluation, Store, TaskRecord};
use huifang_testkit::{Dbs, on_both};
use support::{book, counts, d, ledger_size, task};

/// A moment inside the contact hours (10:00 in Asia/Shanghai), for contacts recorded by the tests.
const DAYTIME: &str = "2026-03-20T02:00:00Z";

on_both!(
    outsiders_cannot_work_a_task,
    same_idempotency_key_records_once,
    round_robin_least_loaded_and_sticky,
    unreachable_borrower_escalates_after_the_limit,
    interaction_is_in_the_ledger,
    login_tokens_masking_and_reveals,
    team_lead_views,
    concurrent_take_next_hands_each_task_once,
    contacts_recorded_at_once_are_recorded_one_after_another,
    a_task_moved_while_its_loan_gets_another_keeps_the_loans_keys_true,
    team_writes_wait_for_a_day_being_closed,
    an_admin_moves_people_and_sets_up_queues_scripts_and_plans,
);

async fn actor(store: &Store, name: &str) -> Actor {
    team::actor(store, name).await.unwrap()
}

/// Script answers as an API client sends them.
fn answers(v: serde_json::Value) -> huifang_app::views::ScriptAnswers {
    serde_json::from_value(v).unwrap()
}

async fn get_task(store: &Store, id: TaskId) -> TaskRecord {
    let mut tx = store.begin().await.unwrap();
    let t = tx.task(id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    t
}

fn promise(key: &str) -> OutcomeInput {
    OutcomeInput {
        channel: "phone".into(),
        outcome: "promise_to_pay".into(),
        amount: Some("3000".into()),
        date: Some(d("2026-03-25")),
        idempotency_key: key.into(),
        occurred_at: Some(DAYTIME.into()),
        notes: "客户承诺月底前还款".into(),
        duration_seconds: 95,
        ..OutcomeInput::default()
    }
}

fn no_answer(key: &str) -> OutcomeInput {
    OutcomeInput {
        channel: "phone".into(),
        outcome: "no_answer".into(),
        idempotency_key: key.into(),
        occurred_at: Some(DAYTIME.into()),
        ..OutcomeInput::default()
    }
}

async fn outsiders_cannot_work_a_task(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let t = task(&store, 1, "welcome", "followup", "2026-03-18").await;
    let before = counts(&store).await;
    let size = ledger_size(&store).await;
    let original = get_task(&store, t).await;
    // another team's collector, a risk officer, an auditor, an admin
    for who in ["c1", "lead_col", "risk", "audit", "admin"] {
        let a = actor(&store, who).await;
        let err = team::record_outcome(&store, &a, t, &promise(&format!("k-{who}")))
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Forbidden(_)), "{who}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("task {t}")), "{msg}");
    }
    let err = team::record_outcome(&store, &actor(&store, "c1").await, t, &promise("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("belongs to another team"), "{err}");
    // a task assigned to a1 cannot be worked by a2 of the same team
    team::reassign(&store, &actor(&store, "lead_fu").await, t, "a1")
        .await
        .unwrap();
    let err = team::record_outcome(&store, &actor(&store, "a2").await, t, &promise("y"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("assigned to a1"), "{err}");
    // nor seen by an agent of another team
    let policy = Policy::default();
    let err = team::show_task(&store, &policy, &actor(&store, "c1").await, t, "zh", None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)));
    // nothing recorded by any refusal
    assert_eq!(counts(&store).await, before);
    assert_eq!(ledger_size(&store).await, size);
    let after = get_task(&store, t).await;
    assert_eq!(after.state.as_str(), "assigned");
    assert_eq!(
        (after.attempts, &after.outcome),
        (original.attempts, &original.outcome)
    );
    // and a team lead may not reassign another team's task
    let err = team::reassign(&store, &actor(&store, "lead_col").await, t, "c1")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)));
    // the assignee may
    let r = team::record_outcome(&store, &actor(&store, "a1").await, t, &promise("ok"))
        .await
        .unwrap();
    assert!(r.new);
    assert_eq!(r.task.state.as_str(), "done");
    // a queue with a skill is worked only by those who have it
    team::create_queue(
        &store,
        None,
        "field_visit",
        "外访",
        "col",
        "round_robin",
        "field",
    )
    .await
    .unwrap();
    let v = task(&store, 2, "visit", "field_visit", "2026-03-18").await;
    let before = counts(&store).await;
    let err = team::record_outcome(&store, &actor(&store, "c1").await, v, &promise("v1"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs the skill"), "{err}");
    assert_eq!(counts(&store).await, before);
    assert!(
        team::my_queue(&store, &actor(&store, "c1").await, Some("field_visit"))
            .await
            .is_err()
    );
    huifang_testkit::assert_kept_figures_true(&store).await;
}

async fn same_idempotency_key_records_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let t = task(&store, 1, "dpd3", "early_collection", "2026-03-19").await;
    let c1 = actor(&store, "c1").await;
    let before = counts(&store).await;
    let first = team::record_outcome(&store, &c1, t, &promise("call-1"))
        .await
        .unwrap();
    assert!(first.new);
    assert!(first.promise_id.is_some());
    let once = counts(&store).await;
    assert_eq!(once.interactions, before.interactions + 1);
    assert_eq!(once.promises, before.promises + 1);
    let size = ledger_size(&store).await;
    let second = team::record_outcome(&store, &c1, t, &promise("call-1"))
        .await
        .unwrap();
    assert!(!second.new);
    assert_eq!(second.interaction_id, first.interaction_id);
    assert_eq!(counts(&store).await, once);
    assert_eq!(ledger_size(&store).await, size);
    // a new key on a closed task is refused
    let err = team::record_outcome(&store, &c1, t, &promise("call-2"))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");
    // invalid outcomes record nothing
    let t2 = task(&store, 2, "dpd3", "early_collection", "2026-03-19").await;
    let mut bad = promise("bad-1");
    bad.date = Some(d("2026-03-01"));
    let err = team::record_outcome(&store, &c1, t2, &bad)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("before the business date"),
        "{err}"
    );
    bad.date = Some(d("2026-03-25"));
    bad.amount = Some("0".into());
    assert!(team::record_outcome(&store, &c1, t2, &bad).await.is_err());
    let end = counts(&store).await;
    assert_eq!(
        (end.interactions, end.promises, end.risk_signals),
        (once.interactions, once.promises, once.risk_signals)
    );
    assert_eq!(get_task(&store, t2).await.state.as_str(), "open");
    huifang_testkit::assert_kept_figures_true(&store).await;
}

async fn round_robin_least_loaded_and_sticky(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 8).await;
    // round robin: a3 asks; tasks go to a1, a2, then a3 who gets the third
    let f: Vec<TaskId> = {
        let mut v = Vec::new();
        for n in 1..=4 {
            v.push(task(&store, n, "welcome", "followup", &format!("2026-03-1{n}")).await);
        }
        v
    };
    let a3 = actor(&store, "a3").await;
    let got = team::take_next(&store, &a3).await.unwrap().unwrap();
    assert_eq!(got.id, f[2]);
    assert_eq!(got.state.as_str(), "in_progress");
    let owners: Vec<Option<String>> = {
        let mut v = Vec::new();
        for id in &f {
            v.push(get_task(&store, *id).await.assignee);
        }
        v
    };
    assert_eq!(
        owners,
        [
            Some("a1".into()),
            Some("a2".into()),
            Some("a3".into()),
            None
        ]
    );
    // a1 asks: gets their own assigned task first
    let a1 = actor(&store, "a1").await;
    assert_eq!(
        team::take_next(&store, &a1).await.unwrap().unwrap().id,
        f[0]
    );
    // a1's queue view: own tasks and unassigned ones, not a2's
    let mine: Vec<TaskId> = team::my_queue(&store, &a1, None)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(mine, [f[0], f[3]]);

    // least loaded: c1 holds one task, so c2 gets the next; then the tie goes to c1
    let e: Vec<TaskId> = {
        let mut v = Vec::new();
        for n in 5..=8 {
            v.push(task(&store, n, "dpd3", "early_collection", "2026-03-15").await);
        }
        v
    };
    team::reassign(&store, &actor(&store, "lead_col").await, e[0], "c1")
        .await
        .unwrap();
    let mut picks = Vec::new();
    for id in &e[1..] {
        team::auto_assign(&store, *id).await.unwrap();
        picks.push(get_task(&store, *id).await.assignee.unwrap());
    }
    assert_eq!(picks, ["c2", "c1", "c2"]);

    // sticky: c2 works L6's task (e[1]), so a senior task for L6 goes back to c2; one for L1,
    // never worked by this team, goes to the least loaded
    let c2 = actor(&store, "c2").await;
    team::record_outcome(&store, &c2, e[1], &promise("l6-1"))
        .await
        .unwrap();
    let s6 = task(&store, 6, "m2", "senior_collection", "2026-03-18").await;
    team::auto_assign(&store, s6).await.unwrap();
    assert_eq!(get_task(&store, s6).await.assignee.as_deref(), Some("c2"));
    let s1 = task(&store, 1, "m2", "senior_collection", "2026-03-18").await;
    team::auto_assign(&store, s1).await.unwrap();
    // c1: e[0], e[2] open; c2: e[3], s6 open (e[1] is done) -> tie 2-2, lowest id c1
    assert_eq!(get_task(&store, s1).await.assignee.as_deref(), Some("c1"));
    huifang_testkit::assert_kept_figures_true(&store).await;
}

async fn unreachable_borrower_escalates_after_the_limit(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    let t = task(&store, 1, "dpd3", "early_collection", "2026-03-19").await;
    let c1 = actor(&store, "c1").await;
    let r1 = team::record_outcome(&store, &c1, t, &no_answer("n1"))
        .await
        .unwrap();
    assert_eq!(r1.task.state.as_str(), "rescheduled");
    assert_eq!(r1.task.attempts, 1);
    assert_eq!(r1.task.task.due_on, d("2026-03-21"));
    assert_eq!(r1.task.assignee.as_deref(), Some("c1"));
    assert_eq!(r1.signals, ["unreachable"]);
    let r2 = team::record_outcome(&store, &c1, t, &no_answer("n2"))
        .await
        .unwrap();
    assert_eq!(
        (r2.task.state.as_str(), r2.task.attempts),
        ("rescheduled", 2)
    );
    assert!(r2.escalation_task.is_none());
    let mut wrong = no_answer("n3");
    wrong.outcome = "wrong_number".into();
    let r3 = team::record_outcome(&store, &c1, t, &wrong).await.unwrap();
    assert_eq!((r3.task.state.as_str(), r3.task.attempts), ("failed", 3));
    let esc = get_task(&store, r3.escalation_task.expect("escalated")).await;
    assert_eq!(esc.task.kind, "escalation");
    assert_eq!(esc.task.reason_key, format!("escalate_unreachable:{t}"));
    assert_eq!(esc.task.queue_code, "senior_collection");
    assert_eq!(esc.state.as_str(), "open");
    // a follow-up task that fails goes to the team lead, in the same queue
    let signals_before = counts(&store).await.risk_signals;
    let f = task(&store, 2, "welcome", "followup", "2026-03-19").await;
    let a1 = actor(&store, "a1").await;
    let mut last = None;
    for k in 0..3 {
        last = Some(
            team::record_outcome(&store, &a1, f, &no_answer(&format!("f{k}")))
                .await
                .unwrap(),
        );
    }
    let esc = get_task(&store, last.unwrap().escalation_task.unwrap()).await;
    assert_eq!(esc.task.queue_code, "followup");
    assert_eq!(esc.assignee.as_deref(), Some("lead_fu"));
    // a signal per unanswered attempt, and one more: loan 2 is 33 days overdue and its borrower,
    // tried in vain, is now unreachable (weighed with the first attempt)
    assert_eq!(counts(&store).await.risk_signals, signals_before + 4);
    huifang_testkit::assert_kept_figures_true(&store).await;
}

async fn interaction_is_in_the_ledger(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let t = task(&store, 1, "dpd3", "early_collection", "2026-03-19").await;
    let mut input = OutcomeInput {
        channel: "visit".into(),
        outcome: "hardship_reported".into(),
        income_change_pct: Some(-45),
        job_status: Some("lost".into()),
        idempotency_key: "visit-1".into(),
        occurred_at: Some(DAYTIME.into()),
        answers: Some(answers(
            serde_json::json!({"vehicle_use": "pledged", "note": "line\nbreak"}),
        )),
        ..OutcomeInput::default()
    };
    input.notes = "上门走访".into();
    let r = team::record_outcome(&store, &actor(&store, "c1").await, t, &input)
        .await
        .unwrap();
    assert_eq!(
        r.signals,
        ["hardship", "income_drop", "job_loss", "vehicle_pledged"]
    );
    let index = r.leaf_index.unwrap();
    let cp = ledger::new_checkpoint(&store).await.unwrap();
    let proof = ledger::inclusion_proof(&store, index, cp.size)
        .await
        .unwrap();
    assert_eq!(proof.root, cp.root);
    let mut tx = store.begin().await.unwrap();
    let raw = tx
        .ledger_records(&ledger::INTERACTION, &[r.interaction_id])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let leaf = ledger::leaf_of(&ledger::INTERACTION, &raw[0]).unwrap();
    ledger::check_inclusion(&leaf, &proof, &cp.root).expect("inclusion proof verifies");
    let report = ledger::verify(&store, None).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

async fn login_tokens_masking_and_reveals(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let (token, who) = team::login(&store, "a1", support::PASSWORD).await.unwrap();
    assert_eq!(who.user.user.username, "a1");
    assert_eq!(team::authenticate(&store, &token).await.unwrap(), who);
    assert!(matches!(
        team::login(&store, "a1", "wrong password").await,
        Err(AppError::Unauthenticated(_))
    ));
    assert!(matches!(
        team::authenticate(&store, "nope").await,
        Err(AppError::Unauthenticated(_))
    ));
    let api = team::issue_api_token(&store, None, "risk", None)
        .await
        .unwrap()
        .0;
    assert_eq!(api.len(), 64);
    let risk = team::authenticate(&store, &api).await.unwrap();
    assert_eq!(risk.user.user.username, "risk");
    // an agent sees masked data and may not reveal
    let policy = Policy::default();
    let t = task(&store, 1, "welcome", "followup", "2026-03-19").await;
    let view = team::show_task(&store, &policy, &who, t, "zh", None)
        .await
        .unwrap();
    assert_eq!(view.borrower.id_number, "110105********002X");
    assert_eq!(view.borrower.mobile, "138****8000");
    let questions = view
        .script
        .as_ref()
        .and_then(|s| s.as_array())
        .expect("a script");
    assert!(questions.iter().any(|q| q["id"] == "funds_reached_dealer"));
    // structured answers raise the signals the script attaches to them
    let r = team::record_outcome(
        &store,
        &who,
        t,
        &OutcomeInput {
            channel: "phone".into(),
            outcome: "reached".into(),
            idempotency_key: "welcome-1".into(),
            occurred_at: Some(DAYTIME.into()),
            answers: Some(answers(serde_json::json!({
                "funds_reached_dealer": "no",
                "vehicle_delivered": true,
                "income_change_pct": -35,
            }))),
            ..OutcomeInput::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.signals, ["income_drop", "funds_not_at_dealer"]);
    assert!(
        team::show_task(
            &store,
            &policy,
            &who,
            t,
            "zh",
            Some("the borrower asked for a copy")
        )
        .await
        .is_err()
    );
    assert!(
        team::show_loan(&store, &policy, &who, "L1", None)
            .await
            .is_err()
    );
    // a risk officer reveals, and the reveal is logged
    let before = counts(&store).await.reveals;
    let (_, b) = team::show_loan(&store, &policy, &risk, "L1", Some("checking the account"))
        .await
        .unwrap();
    assert_eq!(b.id_number, "11010519491231002X");
    assert_eq!(counts(&store).await.reveals, before + 1);
    let (_, b) = team::show_loan(&store, &policy, &risk, "L1", None)
        .await
        .unwrap();
    assert_eq!(b.mobile, "138****8000");
    assert_eq!(counts(&store).await.reveals, before + 1);
    // only an admin (or the command line) manages users
    let err = team::create_team(&store, Some(&who), "x", "X")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)));
}

async fn team_lead_views(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 3).await;
    let t1 = task(&store, 1, "welcome", "followup", "2026-03-10").await;
    task(&store, 2, "welcome", "followup", "2026-03-25").await;
    task(&store, 3, "dpd3", "early_collection", "2026-03-01").await;
    let a1 = actor(&store, "a1").await;
    team::record_outcome(&store, &a1, t1, &promise("p"))
        .await
        .unwrap();
    let lead = actor(&store, "lead_fu").await;
    let stats = team::team_stats(&store, &lead, None, None).await.unwrap();
    assert_eq!(stats.len(), 1);
    let s = &stats[0];
    assert_eq!(s.team.code, "fu");
    assert_eq!(s.past_due, 0);
    assert_eq!(s.depth.iter().map(|r| r.tasks).sum::<i64>(), 1);
    let a1_row = s.agents.iter().find(|r| r.username == "a1").unwrap();
    assert_eq!(
        (
            a1_row.tasks_done,
            a1_row.attempts,
            a1_row.reached,
            a1_row.promises
        ),
        (1, 1, 1, 1)
    );
    let all = team::team_stats(&store, &actor(&store, "audit").await, None, None)
        .await
        .unwrap();
    let col = all.iter().find(|s| s.team.code == "col").unwrap();
    assert_eq!(col.past_due, 1);
    assert!(matches!(
        team::team_stats(&store, &a1, None, None).await,
        Err(AppError::Forbidden(_))
    ));
    // the lead sees the whole team's queue
    assert_eq!(team::my_queue(&store, &lead, None).await.unwrap().len(), 1);
    huifang_testkit::assert_kept_figures_true(&store).await;
}

async fn concurrent_take_next_hands_each_task_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 9).await;
    for n in 1..=9 {
        task(&store, n, "welcome", "followup", "2026-03-15").await;
    }
    // three agents at once, each taking and closing tasks in turn
    let mut handles = Vec::new();
    for name in ["a1", "a2", "a3"] {
        let store = store.clone();
        let a = actor(&store, name).await;
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..4 {
                let Some(t) = team::take_next(&store, &a).await.unwrap() else {
                    break;
                };
                assert_eq!(t.assignee.as_deref(), Some(name));
                let key = format!("{name}-{}", t.id);
                team::record_outcome(&store, &a, t.id, &promise(&key))
                    .await
                    .unwrap();
                got.push(t.id);
            }
            got
        }));
    }
    let mut taken = Vec::new();
    for h in handles {
        taken.extend(h.await.unwrap());
    }
    // no task was handed to two agents; every task taken was closed once
    let mut distinct = taken.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), taken.len(), "{taken:?}");
    assert_eq!(counts(&store).await.interactions, taken.len() as i64);
    // what was not taken is assigned (by round robin) and waits for its agent
    let open = team::my_queue(&store, &actor(&store, "lead_fu").await, None)
        .await
        .unwrap();
    assert_eq!(open.len() + taken.len(), 9);
    huifang_testkit::assert_kept_figures_true(&store).await;
}

/// Two loans' eight tasks, held by three agents, and the agents recording at once: two failed
/// calls on each task, then a promise. The contacts are recorded one after another: the ledger
/// logs the interactions in the order of their ids, and the book ends as the same contacts
/// recorded in that order, one at a time, leave it (the loans' state rows and the tasks).
async fn contacts_recorded_at_once_are_recorded_one_after_another(dbs: &mut Dbs) {
    const AGENTS: [&str; 3] = ["a1", "a2", "a3"];
    async fn held_tasks(store: &Store) -> Vec<TaskId> {
        book(store, 2).await;
        let lead = actor(store, "lead_fu").await;
        let mut tasks = Vec::new();
        for n in 0..8 {
            let t = task(store, n % 2 + 1, &format!("t{n}"), "followup", "2026-03-15").await;
            team::reassign(store, &lead, t, AGENTS[n % 3])
                .await
                .unwrap();
            tasks.push(t);
        }
        tasks
    }
    // the contact on task `t` in round `round`, as its agent records it
    async fn record(store: &Store, tasks: &[TaskId], t: TaskId, round: usize) {
        let who = AGENTS[tasks.iter().position(|&x| x == t).unwrap() % 3];
        let key = format!("{t}/{round}");
        let input = if round < 2 {
            no_answer(&key)
        } else {
            promise(&key)
        };
        let a = actor(store, who).await;
        assert!(
            team::record_outcome(store, &a, t, &input)
                .await
                .unwrap()
                .new
        );
    }
    async fn book_of(
        store: &Store,
        tasks: &[TaskId],
    ) -> (Vec<(String, Evaluation)>, Vec<TaskRecord>) {
        let mut tx = store.begin().await.unwrap();
        let loans = tx
            .loans_by_external_id(&["L1".into(), "L2".into()])
            .await
            .unwrap();
        let mut state: Vec<(String, Evaluation)> = loans
            .into_iter()
            .map(|(id, l)| (id, l.loan.evaluation))
            .collect();
        state.sort_by(|a, b| a.0.cmp(&b.0));
        let mut held = Vec::new();
        for &t in tasks {
            held.push(tx.task(t).await.unwrap().unwrap());
        }
        tx.rollback().await.unwrap();
        (state, held)
    }

    let store = dbs.fresh().await;
    let tasks = held_tasks(&store).await;
    let mut handles = Vec::new();
    for i in 0..AGENTS.len() {
        let (store, tasks) = (store.clone(), tasks.clone());
        handles.push(tokio::spawn(async move {
            for round in 0..3 {
                for &t in tasks.iter().skip(i).step_by(AGENTS.len()) {
                    record(&store, &tasks, t, round).await;
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }

    // one order: the ledger's is the interactions' ids'
    let mut tx = store.begin().await.unwrap();
    let logged: Vec<i64> = tx
        .ledger_leaves(0, u64::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.leaf.kind == "interaction")
        .map(|l| l.leaf.record_id)
        .collect();
    let recorded = tx.interactions_page(None, 0, 100).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(logged.len(), 24);
    assert!(
        logged.is_sorted(),
        "interactions logged out of their ids' order: {logged:?}"
    );
    huifang_testkit::assert_kept_figures_true(&store).await;

    // the same contacts, one at a time in that order
    let one = dbs.fresh().await;
    assert_eq!(held_tasks(&one).await, tasks);
    for (_, i) in &recorded {
        let (t, round) = i.interaction.idempotency_key.split_once('/').unwrap();
        let t = TaskId(t.parse().unwrap());
        record(&one, &tasks, t, round.parse().unwrap()).await;
    }
    assert_eq!(book_of(&store, &tasks).await, book_of(&one, &tasks).await);
}

/// A team lead moves a loan's task to an agent while another transaction gives the loan a new
/// task: the move waits for the loan's state row, then refreshes its open task keys from the
/// tasks as they stand, the new one among them.
async fn a_task_moved_while_its_loan_gets_another_keeps_the_loans_keys_true(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let welcome = task(&store, 1, "welcome", "followup", "2026-03-15").await;
    let mut other = store.begin().await.unwrap();
    other.lock_for_write().await.unwrap();
    let loan = other.loan_ids_by_external_id(&["L1".into()]).await.unwrap()["L1"];
    let created = other
        .insert_task(&huifang_store::Task {
            loan_id: loan,
            kind: "collection_call".into(),
            reason_key: "test:meanwhile".into(),
            queue_code: "early_collection".into(),
            assignee_id: None,
            created_on: d("2026-03-20"),
            due_on: d("2026-03-20"),
            window_end_on: None,
            late: false,
            max_attempts: 3,
        })
        .await
        .unwrap();
    assert!(created.is_some());
    let moving = tokio::spawn({
        let store = store.clone();
        let lead = actor(&store, "lead_fu").await;
        async move { team::reassign(&store, &lead, welcome, "a1").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!moving.is_finished(), "the move did not wait for the loan");
    other.commit().await.unwrap();
    let moved = moving.await.unwrap().unwrap();
    assert_eq!(moved.assignee.as_deref(), Some("a1"));
    huifang_testkit::assert_kept_figures_true(&store).await;
}

async fn team_writes_wait_for_a_day_being_closed(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 2).await;
    task(&store, 1, "welcome", "followup", "2026-03-15").await;
    let a1 = actor(&store, "a1").await;
    let t = team::take_next(&store, &a1).await.unwrap().unwrap();
    // a day being closed (or a file imported) holds the business date until it commits
    let mut closing = store.begin().await.unwrap();
    huifang_app::lock_business_date(&mut closing).await.unwrap();
    let recorder = tokio::spawn({
        let store = store.clone();
        async move { team::record_outcome(&store, &a1, t.id, &promise("during-close")).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        !recorder.is_finished(),
        "an outcome was recorded while a day was being closed"
    );
    closing.commit().await.unwrap();
    let recorded = recorder.await.unwrap().unwrap();
    assert!(recorded.new);
    assert_eq!(get_task(&store, t.id).await.state.as_str(), "done");
    huifang_testkit::assert_kept_figures_true(&store).await;
}

/// An admin changes a user's role, team and skills (the tasks they held go back to their
/// queues, their sessions end), renames a team, changes a queue, stores a script and a
/// product's plan; each refusal names its field and changes nothing.
async fn an_admin_moves_people_and_sets_up_queues_scripts_and_plans(dbs: &mut Dbs) {
    use huifang_app::followup;
    use huifang_app::team::{Account, Profile, QueueChange};
    use huifang_core::followup::TaskKind;

    let store = dbs.fresh().await;
    book(&store, 3).await;
    let admin = actor(&store, "admin").await;
    let held = task(&store, 1, "held", "followup", "2026-03-18").await;
    let started = task(&store, 2, "started", "followup", "2026-03-18").await;
    for t in [held, started] {
        team::reassign(&store, &actor(&store, "lead_fu").await, t, "a1")
            .await
            .unwrap();
    }
    let (session, _) = team::login(&store, "a1", support::PASSWORD).await.unwrap();
    assert!(team::authenticate(&store, &session).await.is_ok());

    // refusals: each names its field, nothing changes
    let before = team::users(&store, None).await.unwrap();
    let refused = [
        (
            Profile {
                team: Some(None),
                ..Profile::default()
            },
            "team",
        ),
        (
            Profile {
                role: Some(team::Role::Auditor),
                ..Profile::default()
            },
            "team",
        ),
        (
            Profile {
                display_name: Some("  ".into()),
                ..Profile::default()
            },
            "display_name",
        ),
    ];
    for (p, field) in refused {
        let err = team::change_account(&store, Some(&admin), "a1", Account::Profile(p.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AppError::Field { field: f, .. } if *f == field),
            "{p:?}: {err}"
        );
    }
    let err = team::change_account(
        &store,
        Some(&admin),
        "a1",
        Account::Profile(Profile {
            team: Some(Some("nope".into())),
            ..Profile::default()
        }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AppError::NotFound { what: "team", .. }),
        "{err}"
    );
    // an admin may not take their own role away, nor may anyone else change a profile
    let err = team::change_account(
        &store,
        Some(&admin),
        "admin",
        Account::Profile(Profile {
            role: Some(team::Role::Auditor),
            ..Profile::default()
        }),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::Conflict(_)), "{err}");
    let err = team::change_account(
        &store,
        Some(&actor(&store, "lead_fu").await),
        "a1",
        Account::Profile(Profile {
            skills: Some(vec!["x".into()]),
            ..Profile::default()
        }),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AppError::Forbidden(_)), "{err}");
    assert_eq!(team::users(&store, None).await.unwrap(), before);
    assert!(team::authenticate(&store, &session).await.is_ok());

    // new skills and name only: the sessions and tasks stay
    let done = team::change_account(
        &store,
        Some(&admin),
        "a1",
        Account::Profile(Profile {
            display_name: Some("王芳".into()),
            skills: Some(vec![
                " field".into(),
                "field".into(),
                "".into(),
                "vip".into(),
            ]),
            ..Profile::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!((done.sessions_ended, done.tasks_released), (0, 0));
    let a1 = actor(&store, "a1").await;
    assert_eq!(a1.user.user.display_name, "王芳");
    assert_eq!(a1.user.user.skills, ["field", "vip"]);
    assert_eq!(get_task(&store, held).await.assignee.as_deref(), Some("a1"));

    // a move to the collections team: the session ends, both tasks go back unassigned
    let done = team::change_account(
        &store,
        Some(&admin),
        "a1",
        Account::Profile(Profile {
            role: Some(team::Role::Collector),
            team: Some(Some("col".into())),
            ..Profile::default()
        }),
    )
    .await
    .unwrap();
    assert_eq!((done.sessions_ended, done.tasks_released), (1, 2));
    assert!(team::authenticate(&store, &session).await.is_err());
    for t in [held, started] {
        let t = get_task(&store, t).await;
        assert_eq!((t.assignee, t.state.as_str()), (None, "open"));
    }
    let a1 = actor(&store, "a1").await;
    assert_eq!(
        (a1.role, a1.user.team_code.as_deref()),
        (team::Role::Collector, Some("col"))
    );
    // the followup team's agents take them now
    let next = team::take_next(&store, &actor(&store, "a2").await)
        .await
        .unwrap();
    assert!(next.is_some_and(|t| t.id == held || t.id == started));
    huifang_testkit::assert_kept_figures_true(&store).await;

    // teams and queues
    team::rename_team(&store, Some(&admin), "fu", "回访一组")
        .await
        .unwrap();
    assert!(matches!(
        team::rename_team(&store, Some(&admin), "fu", " ").await,
        Err(AppError::Field { field: "name", .. })
    ));
    let err = team::change_queue(
        &store,
        Some(&admin),
        "followup",
        &QueueChange {
            strategy: Some("fastest".into()),
            ..QueueChange::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::Field {
                field: "strategy",
                ..
            }
        ),
        "{err}"
    );
    let q = team::change_queue(
        &store,
        Some(&admin),
        "followup",
        &QueueChange {
            strategy: Some("least_loaded".into()),
            skill: Some(" vip ".into()),
            ..QueueChange::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (q.name.as_str(), q.skill.as_str(), q.strategy.as_str()),
        ("followup", "vip", "least_loaded")
    );
    let teams = team::teams(&store, Some(&admin)).await.unwrap();
    let fu = teams.iter().find(|t| t.team.code == "fu").unwrap();
    assert_eq!((fu.team.name.as_str(), fu.members), ("回访一组", 3));
    assert_eq!(fu.queues.len(), 1);
    assert!(
        team::teams(&store, Some(&actor(&store, "audit").await))
            .await
            .is_err()
    );

    // a script: refused with the question and field named, then stored and shown
    let err = followup::set_script_as(
        &store,
        &admin,
        TaskKind::WelcomeCall,
        "zh",
        r#"{"questions":[{"id":"ok","text":"车辆已交付？","answer":"yes_no"},{"id":"ok","text":"再问","answer":"text"}]}"#,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("questions[1].id"), "{err}");
    let err = followup::set_script_as(
        &store,
        &admin,
        TaskKind::WelcomeCall,
        "zh",
        r#"{"questions":[{"id":"q","text":"?","answer":"essay"}]}"#,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("questions[0].answer"), "{err}");
    let shown = followup::set_script_as(
        &store,
        &admin,
        TaskKind::WelcomeCall,
        "zh",
        r#"[{"id":"delivered","text":"车辆已交付？","answer":"yes_no","signal_if_no":"vehicle_not_delivered"}]"#,
    )
    .await;
    // a bare list is read too (the command line's file)
    let shown = shown.unwrap();
    assert_eq!(shown.questions.as_array().unwrap().len(), 1);
    assert_eq!(
        followup::show_script(&store, TaskKind::WelcomeCall, "zh")
            .await
            .unwrap()
            .questions[0]["signal_if_no"],
        "vehicle_not_delivered"
    );
    assert!(
        followup::set_script_as(
            &store,
            &actor(&store, "risk").await,
            TaskKind::WelcomeCall,
            "zh",
            "[]"
        )
        .await
        .is_err_and(|e| matches!(e, AppError::Forbidden(_)))
    );
    assert!(matches!(
        followup::show_script(&store, TaskKind::WelcomeCall, "fr").await,
        Err(AppError::Field { field: "lang", .. })
    ));

    // a product's plan: only a product that exists
    let err = followup::set_plan_as(&store, &admin, Some("NOPE"), "{}")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppError::NotFound {
                what: "product",
                ..
            }
        ),
        "{err}"
    );
    let products = huifang_app::book::products(&store, &admin)
        .await
        .unwrap()
        .products;
    let code = products[0].code.clone();
    assert!(!products[0].own_plan);
    assert_eq!(products.iter().map(|p| p.loans).sum::<i64>(), 3);
    followup::set_plan_as(
        &store,
        &admin,
        Some(&code),
        r#"{"collection": {"from_dpd": 10}}"#,
    )
    .await
    .unwrap();
    let products = huifang_app::book::products(&store, &admin)
        .await
        .unwrap()
        .products;
    assert!(products[0].own_plan);
    assert_eq!(
        followup::show_plan(&store, Some(&code)).await.unwrap()["collection"]["from_dpd"],
        10
    );
}

//! The demo's team: its teams, queues and people (every one with the password
//! [`DEMO_PASSWORD`]), and a share of the follow-up tasks worked with realistic outcomes through
//! the team's use cases.

use std::collections::HashMap;

use huifang_core::Date;
use huifang_core::calendar::add_days;
use huifang_core::team::TaskState;
use huifang_core::{TaskId, UserId};
use huifang_store::Store;

use crate::team::{
    self, Actor, OutcomeInput, Role, UserInput, auto_assign, create_queue, create_team, create_user,
};
use crate::views::{AnswerValue, ScriptAnswers};
use crate::{AppError, ledger, require_business_date};

/// A demo user: username, name, role, team, skills.
type Person = (
    &'static str,
    &'static str,
    Role,
    Option<&'static str>,
    &'static [&'static str],
);

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "huifang-demo";

/// Adds the demo's teams, queues and people, then works a share of the tasks that exist with
/// realistic outcomes (none are worked when the follow-up engine has produced no task yet).
/// Returns a summary with the demo logins.
pub async fn demo_team(store: &Store, mut log: impl FnMut(&str)) -> Result<String, AppError> {
    // the default plan and scripts, as `huifang init` stores them (kept when present)
    crate::followup::seed_defaults(store).await?;
    let teams = [
        ("followup", "回访组"),
        ("early", "催收一组"),
        ("senior", "资深催收组"),
        ("legal", "法务组"),
        ("risk", "风控组"),
    ];
    for (code, name) in teams {
        create_team(store, None, code, name).await?;
    }
    let queues = [
        ("followup", "回访 follow-up", "followup", "sticky", ""),
        (
            "reminders",
            "还款提醒 reminders",
            "followup",
            "round_robin",
            "",
        ),
        (
            "early_collection",
            "M1 早期催收",
            "early",
            "least_loaded",
            "",
        ),
        ("senior_collection", "M2-M3 催收", "senior", "sticky", ""),
        (
            "field_visit",
            "外访 field visit",
            "senior",
            "round_robin",
            "field",
        ),
        ("legal", "法务 / 资产保全", "legal", "round_robin", "legal"),
        (
            "risk_review",
            "预警处置 warning review",
            "risk",
            "least_loaded",
            "",
        ),
    ];
    for (code, name, team, strategy, skill) in queues {
        create_queue(store, None, code, name, team, strategy, skill).await?;
    }
    let people: [Person; 19] = [
        ("wangfang", "王芳", Role::Agent, Some("followup"), &[]),
        ("lina", "李娜", Role::Agent, Some("followup"), &[]),
        ("zhangwei", "张伟", Role::Agent, Some("followup"), &[]),
        ("liuyang", "刘洋", Role::Agent, Some("followup"), &[]),
        ("chenjing", "陈静", Role::Collector, Some("early"), &[]),
        ("yanglei", "杨磊", Role::Collector, Some("early"), &[]),
        ("zhaomin", "赵敏", Role::Collector, Some("early"), &[]),
        (
            "huangqiang",
            "黄强",
            Role::Collector,
            Some("senior"),
            &["field"],
        ),
        ("zhoujie", "周杰", Role::Collector, Some("senior"), &[]),
        (
            "wuting",
            "吴婷",
            Role::Collector,
            Some("senior"),
            &["field"],
        ),
        ("xuming", "徐明", Role::Collector, Some("legal"), &["legal"]),
        ("sunli", "孙丽", Role::Collector, Some("legal"), &["legal"]),
        ("zhenglead", "郑主管", Role::TeamLead, Some("followup"), &[]),
        ("malead", "马主管", Role::TeamLead, Some("early"), &[]),
        ("hulead", "胡主管", Role::TeamLead, Some("senior"), &[]),
        ("gaolead", "高主管", Role::TeamLead, Some("legal"), &[]),
        ("risk", "风控 林晓", Role::RiskOfficer, Some("risk"), &[]),
        ("risk2", "风控 周敏", Role::RiskOfficer, Some("risk"), &[]),
        ("audit", "稽核 何静", Role::Auditor, None, &[]),
    ];
    for (username, name, role, team, skills) in people {
        create_user(
            store,
            None,
            &UserInput {
                username: username.into(),
                display_name: name.into(),
                role,
                team: team.map(String::from),
                skills: skills.iter().map(|s| s.to_string()).collect(),
                password: Some(DEMO_PASSWORD.into()),
            },
        )
        .await?;
    }
    create_user(
        store,
        None,
        &UserInput {
            username: "admin".into(),
            display_name: "系统管理员".into(),
            role: Role::Admin,
            team: None,
            skills: Vec::new(),
            password: Some(DEMO_PASSWORD.into()),
        },
    )
    .await?;
    let logins = format!(
        "demo users (password {DEMO_PASSWORD}): agents wangfang lina zhangwei liuyang; collectors chenjing yanglei zhaomin huangqiang zhoujie wuting xuming sunli; team leads zhenglead malead hulead gaolead; risk officers risk risk2; auditor audit; admin admin"
    );
    // a share of the welcome calls goes to the assistant first; what it hands over, the team works
    let assisted = super::assistant::demo_assistant(store).await?;
    log(&assisted);
    let worked = work_demo_tasks(store, &mut log).await?;
    Ok(format!("{logins}; {assisted}; {worked}"))
}

/// Works about two thirds of the open tasks due by the business date (at most 1,500), each on
/// its own due date, with a spread of outcomes.
async fn work_demo_tasks(store: &Store, log: &mut impl FnMut(&str)) -> Result<String, AppError> {
    let (ids, date) = {
        let mut tx = store.begin().await?;
        let date = require_business_date(&mut tx).await?;
        let ids = tx.task_ids(true).await?;
        tx.rollback().await?;
        (ids, date)
    };
    if ids.is_empty() {
        log("no follow-up tasks yet: no worked tasks in the demo");
        return Ok("no follow-up tasks to work yet".into());
    }
    let mut actors: HashMap<UserId, Actor> = HashMap::new();
    let (mut worked, mut interactions) = (0u64, 0u64);
    // the most recent first: the contacts and promises of the last weeks fill the reports
    for (n, id) in ids.iter().rev().enumerate() {
        if worked >= 1_500 || n % 3 == 2 {
            continue;
        }
        let Some(agent) = auto_assign(store, *id).await? else {
            continue;
        };
        let actor = match actors.get(&agent) {
            Some(a) => a.clone(),
            None => {
                let mut tx = store.begin().await?;
                let user = tx.user_by_id(agent).await?;
                tx.rollback().await?;
                let Some(user) = user else { continue };
                let a = Actor::from_user(user)?;
                actors.insert(agent, a.clone());
                a
            }
        };
        // up to three attempts, each on its own day, until the task closes
        for attempt in 0..3u64 {
            let mut tx = store.begin().await?;
            let Some(task) = tx.task(*id).await? else {
                break;
            };
            if !matches!(
                task.state,
                TaskState::Assigned | TaskState::InProgress | TaskState::Rescheduled
            ) || task.task.due_on > date
            {
                break;
            }
            let on = task.task.due_on.max(task.task.created_on).min(date);
            let input = demo_outcome(*id, attempt, task.task.kind.as_str(), on);
            match team::record_in(&mut tx, &actor, *id, &input, on).await {
                Ok(_) => {
                    tx.commit().await?;
                    interactions += 1;
                }
                Err(
                    AppError::Field { .. }
                    | AppError::Conflict(_)
                    | AppError::Forbidden(_)
                    | AppError::Blocked { .. },
                ) => {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        worked += 1;
    }
    if interactions > 0 {
        // the contacts are in the log: a signed checkpoint covers them, as a closed day's does
        ledger::new_checkpoint(store).await?;
    }
    log(&format!(
        "worked {worked} follow-up tasks with {interactions} recorded contacts"
    ));
    Ok(format!(
        "{worked} tasks worked, {interactions} contacts recorded"
    ))
}

fn demo_outcome(task_id: TaskId, attempt: u64, kind: &str, on: Date) -> OutcomeInput {
    let h = task_id
        .get()
        .cast_unsigned()
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(attempt.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        >> 40;
    let roll = h % 100;
    let collection = kind.contains("collect") || kind.contains("overdue") || kind == "escalation";
    let mut input = OutcomeInput {
        channel: if roll.is_multiple_of(7) {
            "wechat"
        } else {
            "phone"
        }
        .into(),
        duration_seconds: i64::try_from(30 + h % 400).unwrap_or(60),
        idempotency_key: format!("demo-{task_id}-{attempt}"),
        occurred_at: Some(format!("{on}T02:{:02}:00Z", 10 + h % 40)),
        ..OutcomeInput::default()
    };
    let (outcome, notes) = match roll {
        0..=24 => ("no_answer", "无人接听 / no answer"),
        25..=29 => ("wrong_number", "空号或非本人 / wrong number"),
        30..=34 => ("refused", "客户拒绝沟通 / refused"),
        35..=36 => ("dispute", "客户对账单有异议 / dispute"),
        37..=40 => ("hardship_reported", "客户反映收入下降 / hardship"),
        41..=42 => ("vehicle_status", "车辆情况核实 / vehicle checked"),
        _ if collection && roll < 75 => ("promise_to_pay", "客户承诺还款 / promise to pay"),
        _ => ("reached", "已联系客户，情况正常 / reached, all normal"),
    };
    input.outcome = outcome.into();
    input.notes = notes.into();
    match outcome {
        "promise_to_pay" => {
            input.amount = Some(format!("{}", 500 + (h % 40) * 100));
            input.date = Some(add_days(on, i64::try_from(1 + h % 7).unwrap_or(3)));
        }
        "hardship_reported" => {
            input.income_change_pct = Some(-(i32::try_from(h % 70).unwrap_or(30)));
            input.job_status = Some(
                if h.is_multiple_of(3) {
                    "lost"
                } else {
                    "changed"
                }
                .into(),
            );
        }
        "vehicle_status" => {
            input.vehicle_status = Some(
                if h.is_multiple_of(4) {
                    "lent_out"
                } else {
                    "used_by_self"
                }
                .into(),
            );
        }
        "reached" => {
            let vehicle_use = if h.is_multiple_of(11) {
                "commercial"
            } else {
                "used_by_self"
            };
            input.answers = Some(ScriptAnswers::from([
                ("vehicle_use", AnswerValue::Text(vehicle_use.into())),
                ("income_change_pct", AnswerValue::Number(0.into())),
                ("job_status", AnswerValue::Text("unchanged".into())),
            ]));
        }
        _ => {}
    }
    input
}

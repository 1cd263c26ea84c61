//! My queue and take next: the open tasks an actor may see, and the assignment of tasks by
//! their queue's strategy (round-robin, least-loaded, sticky).

use std::collections::HashMap;

use huifang_core::outcome::{self, Candidate, Strategy};
use huifang_core::team::TaskState;
use huifang_core::{TaskId, UserId};
use huifang_store::{DueFilter, OpenTaskFilter, QueueRecord, Store, TaskRecord, Tx, UserRecord};

use super::{Actor, Role, forbidden, load_task, require_team};
use crate::{AppError, require_business_date};

/// The open tasks an actor may see: an agent's, a collector's or a risk officer's own and the
/// unassigned ones of their team's queues; a team lead's whole team; an auditor's every queue. `queue` narrows to one queue.
pub async fn my_queue(
    store: &Store,
    actor: &Actor,
    queue: Option<&str>,
) -> Result<Vec<TaskRecord>, AppError> {
    my_queue_where(store, actor, queue, &OpenTaskFilter::default(), 500).await
}

/// [`my_queue`] narrowed by `filter` (due today or overdue, one kind), earliest due first, at
/// most `limit`.
pub async fn my_queue_where(
    store: &Store,
    actor: &Actor,
    queue: Option<&str>,
    filter: &OpenTaskFilter,
    limit: i64,
) -> Result<Vec<TaskRecord>, AppError> {
    let mut tx = store.begin().await?;
    let (codes, only_mine) = queue_scope(&mut tx, actor, queue).await?;
    let tasks = tx
        .open_tasks_where(&codes, only_mine.then_some(actor.id()), filter, limit)
        .await?;
    tx.rollback().await?;
    Ok(tasks)
}

/// How many tasks the views of an actor's queue hold, each counted up to `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    pub all: i64,
    pub due_today: i64,
    pub overdue: i64,
}

/// The counts of [`my_queue`]'s views on the business date `date` (of one kind when given),
/// each up to `cap`.
pub async fn my_queue_counts(
    store: &Store,
    actor: &Actor,
    date: huifang_core::Date,
    kind: Option<&str>,
    cap: i64,
) -> Result<QueueCounts, AppError> {
    let mut tx = store.begin().await?;
    let (codes, only_mine) = queue_scope(&mut tx, actor, None).await?;
    let user = only_mine.then_some(actor.id());
    let kind = kind.map(str::to_string);
    let mut count = async |due| {
        let filter = OpenTaskFilter {
            due,
            kind: kind.clone(),
        };
        tx.count_open_tasks(&codes, user, &filter, cap).await
    };
    let counts = QueueCounts {
        all: count(None).await?,
        due_today: count(Some((DueFilter::On, date))).await?,
        overdue: count(Some((DueFilter::Before, date))).await?,
    };
    tx.rollback().await?;
    Ok(counts)
}

/// The queues whose open tasks an actor sees, and whether only their own and unassigned ones.
async fn queue_scope(
    tx: &mut Tx,
    actor: &Actor,
    queue: Option<&str>,
) -> Result<(Vec<String>, bool), AppError> {
    let (queues, only_mine) = match actor.role {
        // a risk officer in a team works its queues' warning reviews as an agent works calls
        Role::Agent | Role::Collector | Role::RiskOfficer => (
            tx.queues(Some(require_team(actor)?))
                .await?
                .into_iter()
                .filter(|q| actor.has_skill(&q.skill))
                .collect::<Vec<_>>(),
            true,
        ),
        Role::TeamLead => (tx.queues(Some(require_team(actor)?)).await?, false),
        Role::Auditor => (tx.queues(None).await?, false),
        Role::Admin => {
            return Err(forbidden(format!(
                "{} has no task queue: a {} does not work follow-up tasks",
                actor.name(),
                actor.role
            )));
        }
    };
    let mut codes: Vec<String> = queues.into_iter().map(|q| q.code).collect();
    if let Some(q) = queue {
        if !codes.iter().any(|c| c == q) {
            return Err(forbidden(format!(
                "{} may not see queue {q:?}: not a queue of their team",
                actor.name()
            )));
        }
        codes = vec![q.to_string()];
    }
    Ok((codes, only_mine))
}

async fn candidates(tx: &mut Tx, queue: &QueueRecord) -> Result<Vec<Candidate>, AppError> {
    let Some(team_id) = queue.team_id else {
        return Ok(Vec::new());
    };
    let users: Vec<UserRecord> = tx
        .team_users(team_id)
        .await?
        .into_iter()
        .filter(|u| {
            u.active
                && u.user.role.works_tasks()
                && (queue.skill.is_empty() || u.user.skills.contains(&queue.skill))
        })
        .collect();
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let loads = if ids.is_empty() {
        HashMap::new()
    } else {
        tx.open_loads(&ids).await?
    };
    Ok(ids
        .into_iter()
        .map(|id| Candidate {
            user_id: id,
            open_tasks: u32::try_from(loads.get(&id).copied().unwrap_or(0)).unwrap_or(u32::MAX),
        })
        .collect())
}

/// The agent a task goes to by its queue's strategy (locks the queue; moves the round-robin
/// cursor). None when the queue has no eligible agent.
async fn dispatch(
    tx: &mut Tx,
    queue: &QueueRecord,
    task: &TaskRecord,
) -> Result<Option<UserId>, AppError> {
    let cursor = tx.lock_queue(queue.id).await?;
    let strategy = queue.strategy;
    let cands = candidates(tx, queue).await?;
    let previous = if strategy == Strategy::Sticky {
        tx.previous_agent(task.task.loan_id, task.id).await?
    } else {
        None
    };
    let pick = outcome::assign(strategy, &cands, cursor, previous);
    if let (Strategy::RoundRobin, Some(p)) = (strategy, pick) {
        tx.set_queue_cursor(queue.id, p.get()).await?;
    }
    Ok(pick)
}

/// Most tasks one `take_next` hands to colleagues (by the strategy) before giving up.
const MAX_DISPATCH: usize = 64;

/// Takes the next task: the actor's own task in progress or assigned (or rescheduled and due),
/// else the earliest-due unassigned task of their team's queues, each claimed task going to the
/// agent the queue's strategy picks until one falls to the actor. The task is then in progress.
pub async fn take_next(store: &Store, actor: &Actor) -> Result<Option<TaskRecord>, AppError> {
    if !actor.role.may_join_team() {
        return Err(forbidden(format!(
            "{} does not work follow-up tasks",
            actor.name()
        )));
    }
    let team_id = require_team(actor)?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    if let Some(t) = tx.next_own_task(actor.id(), date).await? {
        tx.set_task_assignee(t.id, Some(actor.id()), TaskState::InProgress)
            .await?;
        let t = load_task(&mut tx, t.id).await?;
        tx.commit().await?;
        return Ok(Some(t));
    }
    if !actor.role.works_tasks() {
        tx.commit().await?;
        return Ok(None);
    }
    let queues: Vec<QueueRecord> = tx
        .queues(Some(team_id))
        .await?
        .into_iter()
        .filter(|q| actor.has_skill(&q.skill))
        .collect();
    // Every queue's lock first, in code order, before any claim: a claim also writes its loan's
    // state row, and a taker that held loan rows while it waited for a queue could deadlock with
    // one that holds the queue and claims a task of the same loan (in that queue or another).
    for queue in &queues {
        tx.lock_queue(queue.id).await?;
    }
    let mut handed = 0;
    for queue in &queues {
        while handed < MAX_DISPATCH {
            let Some(id) = tx.claim_unassigned(&queue.code, actor.id(), date).await? else {
                break;
            };
            let task = load_task(&mut tx, id).await?;
            let pick = dispatch(&mut tx, queue, &task).await?.unwrap_or(actor.id());
            if pick == actor.id() {
                tx.set_task_assignee(id, Some(pick), TaskState::InProgress)
                    .await?;
                let t = load_task(&mut tx, id).await?;
                tx.commit().await?;
                return Ok(Some(t));
            }
            tx.set_task_assignee(id, Some(pick), TaskState::Assigned)
                .await?;
            handed += 1;
        }
    }
    tx.commit().await?;
    Ok(None)
}

/// Assigns one open unassigned task by its queue's strategy (the demo, a dispatcher); returns
/// the agent.
pub async fn auto_assign(store: &Store, task_id: TaskId) -> Result<Option<UserId>, AppError> {
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    tx.lock_task(task_id).await?;
    let task = load_task(&mut tx, task_id).await?;
    if task.task.assignee_id.is_some() || !task.state.is_claimable() {
        return Ok(task.task.assignee_id);
    }
    let Some(queue) = tx.queue_by_code(&task.task.queue_code).await? else {
        return Ok(None);
    };
    let pick = dispatch(&mut tx, &queue, &task).await?;
    if let Some(p) = pick {
        tx.set_task_assignee(task_id, Some(p), TaskState::Assigned)
            .await?;
    }
    tx.commit().await?;
    Ok(pick)
}

//! The work of agents, collectors and team leads: my queue, take the next task, the task page
//! (script as a form, the borrower masked, the loan's schedule and payments, earlier
//! contacts), recording an outcome; the team's queues, SLA breaches and agents, reassigning.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use huifang_app::team::{self, OutcomeInput};
use huifang_app::views::{
    AnswerValue, ContactReviewView, InstallmentView, InteractionView, LoanDetailView, PaymentView,
    QuestionView, ScriptAnswers, TaskDetail, TaskSummary, TeamStatsList, TeamStatsView,
};
use huifang_app::{AppError, business_date};
use huifang_core::TaskId;
use huifang_core::followup::TaskKind;
use huifang_core::outcome::Channel;
use huifang_store::{DueFilter, OpenTaskFilter};

use super::{
    Chrome, ConsoleError, Fields, Pager, Posted, Viewer, page, page_or_refused, query_of, to,
};
use crate::AppState;
use crate::tasks::policy_in_force;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/queue", get(queue))
        .route("/queue/next", post(next))
        .route("/tasks/{id}", get(task))
        .route("/tasks/{id}/outcome", post(outcome))
        .route("/tasks/{id}/reveal", post(reveal))
        .route("/tasks/{id}/reassign", post(reassign))
        .route("/team", get(team_page))
        .route("/team/reviews", get(reviews))
        .route("/reviews/{id}", post(review))
}

type Params = Query<HashMap<String, String>>;

/// A number from the query string; a malformed one is ignored (the first page, no filter).
pub fn number<T: std::str::FromStr>(q: &HashMap<String, String>, name: &str) -> Option<T> {
    q.get(name).and_then(|v| v.trim().parse().ok())
}

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

// ----- my queue ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    c: Chrome,
    business_date: String,
    view: String,
    kind: String,
    kinds: Vec<&'static str>,
    due_today: String,
    overdue: String,
    all: String,
    /// The view holds more tasks than are listed (the earliest due are).
    capped: bool,
    sort: String,
    tasks: Vec<TaskSummary>,
    pager: Pager,
}

/// Sorts tasks by a column of the queue: due date (default), kind, loan or state.
fn sort_tasks(tasks: &mut [TaskSummary], sort: &str) {
    match sort {
        "kind" => tasks.sort_by(|a, b| (&a.kind, &a.due_on, a.id).cmp(&(&b.kind, &b.due_on, b.id))),
        "loan" => tasks.sort_by(|a, b| (&a.loan, a.id).cmp(&(&b.loan, b.id))),
        "state" => {
            tasks.sort_by(|a, b| (&a.state, &a.due_on, a.id).cmp(&(&b.state, &b.due_on, b.id)));
        }
        "-due" => tasks.sort_by(|a, b| (&b.due_on, b.id).cmp(&(&a.due_on, a.id))),
        _ => tasks.sort_by(|a, b| (&a.due_on, a.id).cmp(&(&b.due_on, b.id))),
    }
}

/// The tasks a view of the queue lists (the earliest due first), and the cap of its counts.
const QUEUE_ROWS: i64 = 500;
const COUNT_CAP: i64 = 1_000;

async fn queue(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    let date = business_date(&state.store).await?;
    let view = param(&q, "view").unwrap_or("all").to_string();
    let kind = param(&q, "kind").unwrap_or_default().to_string();
    let sort = param(&q, "sort").unwrap_or("due").to_string();
    let filter = OpenTaskFilter {
        due: match view.as_str() {
            "today" => Some((DueFilter::On, date)),
            "overdue" => Some((DueFilter::Before, date)),
            _ => None,
        },
        kind: (!kind.is_empty()).then(|| kind.clone()),
    };
    let mut shown: Vec<TaskSummary> = team::my_queue_where(
        &state.store,
        &v.actor,
        param(&q, "queue"),
        &filter,
        QUEUE_ROWS,
    )
    .await?
    .iter()
    .map(TaskSummary::from)
    .collect();
    let counts = team::my_queue_counts(
        &state.store,
        &v.actor,
        date,
        filter.kind.as_deref(),
        COUNT_CAP,
    )
    .await?;
    sort_tasks(&mut shown, &sort);
    let query = query_of(&[
        ("view", Some(&view)),
        ("kind", Some(&kind)),
        ("sort", Some(&sort)),
    ]);
    let (tasks, pager) = Pager::slice(shown, number(&q, "page"), query);
    let c = v.chrome_done("My queue", "/queue", param(&q, "done"));
    let shown_count = |n: i64| {
        if n >= COUNT_CAP {
            format!("{}+", c.count(&n))
        } else {
            c.count(&n)
        }
    };
    page(&QueuePage {
        business_date: date.to_string(),
        view,
        kind,
        kinds: TaskKind::ALL.map(TaskKind::as_str).to_vec(),
        due_today: shown_count(counts.due_today),
        overdue: shown_count(counts.overdue),
        all: shown_count(counts.all),
        capped: i64::try_from(pager.total).unwrap_or(0) >= QUEUE_ROWS,
        sort,
        tasks,
        pager,
        c,
    })
}

async fn next(State(state): State<AppState>, posted: Posted) -> Result<Response, ConsoleError> {
    match team::take_next(&state.store, &posted.viewer.actor).await? {
        Some(task) => Ok(to(&format!("/tasks/{}", task.id.get()))),
        None => Ok(to("/queue?done=nothing")),
    }
}

// ----- a task --------------------------------------------------------------------------------

/// A script question as the form shows it, with the answer given (when the form comes back).
pub struct AskedQuestion {
    pub q: QuestionView,
    pub given: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/task.html")]
struct TaskPage {
    c: Chrome,
    detail: TaskDetail,
    schedule: Vec<InstallmentView>,
    payments: Vec<PaymentView>,
    interactions: Vec<InteractionView>,
    questions: Vec<AskedQuestion>,
    outcomes: Vec<&'static str>,
    channels: Vec<&'static str>,
    /// The form's values and errors when it comes back refused.
    form: FormState,
    /// A fresh key for this form: sending it twice records once.
    key: String,
    can_reveal: bool,
    can_work: bool,
}

/// What a form sent and what was wrong with it, by field.
#[derive(Default)]
pub struct FormState {
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
    /// An error that names no field of the form.
    pub general: Option<String>,
}

impl FormState {
    fn from_fields(fields: &Fields) -> FormState {
        FormState {
            values: fields.0.iter().cloned().collect(),
            ..FormState::default()
        }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// Whether `name` was sent as `value` (a select's option, a radio button).
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.value(name) == value
    }

    /// Puts a refusal on its field (the application names it), or on the form.
    pub fn refused(&mut self, e: AppError) -> Result<(), ConsoleError> {
        match e {
            AppError::Field { field, reason } | AppError::Refused { field, reason } => {
                self.errors.insert(field.to_string(), reason);
                Ok(())
            }
            AppError::Invalid(reason) | AppError::Conflict(reason) => {
                self.general = Some(reason);
                Ok(())
            }
            AppError::Blocked { .. } => {
                self.general = Some(e.to_string());
                Ok(())
            }
            other => Err(other.into()),
        }
    }
}

async fn task(
    State(state): State<AppState>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    let done = param(&q, "done").map(str::to_string);
    task_page(&state, v, &id, None, FormState::default(), done.as_deref()).await
}

/// The task page with the borrower revealed, for the reason the form gives (logged with it); a
/// reveal without a reason is refused on its field.
async fn reveal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    match fields.get("reason") {
        Some(reason) => {
            task_page(
                &state,
                viewer,
                &id,
                Some(reason),
                FormState::default(),
                None,
            )
            .await
        }
        None => {
            let mut form = FormState::default();
            form.errors
                .insert("reason".into(), "a reveal needs its reason".into());
            task_page(&state, viewer, &id, None, form, None).await
        }
    }
}

fn task_id(id: &str) -> Result<TaskId, ConsoleError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(TaskId)
        .ok_or_else(|| ConsoleError::Api(crate::ApiError::NotFound(format!("no task {id:?}"))))
}

async fn task_page(
    state: &AppState,
    v: Viewer,
    id: &str,
    reveal: Option<&str>,
    form: FormState,
    done: Option<&str>,
) -> Result<Response, ConsoleError> {
    let id = task_id(id)?;
    let policy = policy_in_force(state).await?;
    let view =
        team::show_task(&state.store, &policy, &v.actor, id, v.lang.as_str(), reveal).await?;
    let detail = TaskDetail::from(&view);
    let loan = LoanDetailView::from(&view.loan);
    let questions: Vec<QuestionView> = detail
        .script
        .clone()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let questions = questions
        .into_iter()
        .map(|q| AskedQuestion {
            given: form.value(&format!("answer.{}", q.id)).to_string(),
            error: form.error(&format!("answer.{}", q.id)).map(str::to_string),
            q,
        })
        .collect();
    let refused = !form.errors.is_empty() || form.general.is_some();
    let mut interactions = detail.interactions.clone();
    interactions.reverse();
    let can_work = v.actor.role.works_tasks()
        && matches!(
            detail.task.state.as_str(),
            "open" | "assigned" | "in_progress" | "rescheduled"
        );
    let page_view = TaskPage {
        c: v.chrome_done("Task", "/queue", done),
        schedule: loan.installments,
        payments: loan.payments,
        interactions,
        questions,
        outcomes: huifang_core::outcome::OUTCOME_KINDS.to_vec(),
        channels: Channel::ALL.map(Channel::as_str).to_vec(),
        form,
        key: team::new_token(),
        can_reveal: v.actor.role.may_reveal() && !detail.borrower.revealed,
        can_work,
        detail,
    };
    page_or_refused(refused, &page_view)
}

/// The outcome form as the application's input; a malformed field is put on the form.
fn outcome_input(fields: &Fields, form: &mut FormState) -> Option<OutcomeInput> {
    let mut bad = |name: &str, reason: &str| {
        form.errors.insert(name.to_string(), reason.to_string());
    };
    let date = match fields.get("date") {
        None => None,
        Some(d) => match huifang_core::calendar::parse_date(d) {
            Some(d) => Some(d),
            None => {
                bad("date", "must be a date YYYY-MM-DD");
                None
            }
        },
    };
    let income_change_pct = match fields.get("income_change_pct") {
        None => None,
        Some(n) => match n.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                bad("income_change_pct", "must be a whole number of percent");
                None
            }
        },
    };
    let duration_seconds = match fields.get("duration_minutes") {
        None => 0,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if (0..=600).contains(&n) => n * 60,
            _ => {
                bad(
                    "duration_minutes",
                    "must be a whole number of minutes from 0 to 600",
                );
                0
            }
        },
    };
    let answers: ScriptAnswers = ScriptAnswers(
        fields
            .with_prefix("answer.")
            .map(|(id, value)| (id.to_string(), AnswerValue::Text(value.to_string())))
            .collect(),
    );
    if !form.errors.is_empty() {
        return None;
    }
    Some(OutcomeInput {
        channel: fields.get("channel").unwrap_or("phone").to_string(),
        outcome: fields.text("outcome"),
        amount: fields.get("amount").map(str::to_string),
        date,
        income_change_pct,
        job_status: fields.get("job_status").map(str::to_string),
        vehicle_status: fields.get("vehicle_status").map(str::to_string),
        answers: (!answers.0.is_empty()).then_some(answers),
        notes: fields.text("notes"),
        duration_seconds,
        idempotency_key: fields.text("key"),
        occurred_at: None,
        emergency_contact: None,
    })
}

async fn outcome(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let task = task_id(&id)?;
    let Posted { viewer, fields } = posted;
    let mut form = FormState::from_fields(&fields);
    if let Some(input) = outcome_input(&fields, &mut form) {
        match team::record_outcome(&state.store, &viewer.actor, task, &input).await {
            Ok(_) => return Ok(to(&format!("/queue?done=recorded&task={}", task.get()))),
            Err(e) => form.refused(e)?,
        }
    }
    task_page(&state, viewer, &id, None, form, None).await
}

// ----- the team ------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/team.html")]
struct TeamPage {
    c: Chrome,
    teams: Vec<TeamStatsView>,
    tasks: Vec<TaskSummary>,
    members: Vec<(String, String)>,
    can_reassign: bool,
    pager: Pager,
    assignee: String,
}

async fn team_page(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    let stats = team::team_stats(&state.store, &v.actor, None, None).await?;
    let teams = TeamStatsList::new(&stats).teams;
    let members: Vec<(String, String)> = teams
        .iter()
        .flat_map(|t| {
            t.agents
                .iter()
                .map(|a| (a.username.clone(), a.name.clone()))
        })
        .collect();
    let assignee = param(&q, "assignee").unwrap_or_default().to_string();
    let mut tasks: Vec<TaskSummary> = team::my_queue(&state.store, &v.actor, None)
        .await?
        .iter()
        .map(TaskSummary::from)
        .filter(|t| assignee.is_empty() || t.assignee.as_deref() == Some(assignee.as_str()))
        .collect();
    sort_tasks(&mut tasks, param(&q, "sort").unwrap_or("due"));
    let query = query_of(&[("assignee", Some(&assignee)), ("sort", param(&q, "sort"))]);
    let (tasks, pager) = Pager::slice(tasks, number(&q, "page"), query);
    page(&TeamPage {
        c: v.chrome_done("Team", "/team", param(&q, "done")),
        can_reassign: v.actor.role.reassigns_tasks(),
        teams,
        tasks,
        members,
        pager,
        assignee,
    })
}

async fn reassign(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let task = task_id(&id)?;
    let to_user = posted.fields.text("to");
    team::reassign(&state.store, &posted.viewer.actor, task, &to_user).await?;
    Ok(to("/team?done=reassigned"))
}

// ----- quality review (质检) ----------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/reviews.html")]
struct ReviewsPage {
    c: Chrome,
    contacts: Vec<ContactReviewView>,
    unreviewed: bool,
    next: Option<i64>,
    form: FormState,
    /// The contact whose review the form's errors are about.
    refused_id: i64,
}

async fn reviews_page(
    state: &AppState,
    v: Viewer,
    q: &HashMap<String, String>,
    form: FormState,
    refused_id: i64,
) -> Result<Response, ConsoleError> {
    let unreviewed = param(q, "unreviewed") == Some("1");
    let (rows, next) = team::contacts_to_review(
        &state.store,
        &v.actor,
        number(q, "before"),
        super::PAGE_ROWS,
        unreviewed,
    )
    .await?;
    let refused = !form.errors.is_empty() || form.general.is_some();
    let view = ReviewsPage {
        c: v.chrome_done("Quality review", "/team/reviews", param(q, "done")),
        contacts: rows.iter().map(ContactReviewView::from).collect(),
        unreviewed,
        next,
        form,
        refused_id,
    };
    page_or_refused(refused, &view)
}

async fn reviews(
    State(state): State<AppState>,
    v: Viewer,
    Query(q): Params,
) -> Result<Response, ConsoleError> {
    reviews_page(&state, v, &q, FormState::default(), 0).await
}

async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response, ConsoleError> {
    let Posted { viewer, fields } = posted;
    let contact = id
        .parse::<i64>()
        .map_err(|_| ConsoleError::Api(crate::ApiError::NotFound(format!("no contact {id:?}"))))?;
    let mut form = FormState::from_fields(&fields);
    match fields.get("score").map(str::parse::<i64>) {
        Some(Ok(score)) => {
            match team::review_contact(
                &state.store,
                &viewer.actor,
                contact,
                score,
                &fields.text("comment"),
            )
            .await
            {
                Ok(_) => return Ok(to("/team/reviews?done=reviewed")),
                Err(e) => form.refused(e)?,
            }
        }
        _ => {
            form.errors.insert(
                "score".into(),
                "must be a whole number from 0 to 100".into(),
            );
        }
    }
    reviews_page(&state, viewer, &HashMap::new(), form, contact).await
}

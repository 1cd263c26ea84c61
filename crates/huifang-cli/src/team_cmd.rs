//! `huifang user …`, `huifang team …`, `huifang queue …`, `huifang task …`: the team that works
//! follow-up tasks, from the command line. `--as USER` acts as that user (whoever holds the
//! database may): the same role and team rules apply as over HTTP.

use std::io::Read;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use huifang_app::team::{self, Account, Actor, OutcomeInput, Role, UserInput};
use huifang_app::views;
use huifang_core::calendar::parse_date;
use huifang_core::policy::Policy;
use huifang_core::{Date, TaskId};
use huifang_store::{Store, TaskRecord};

/// The commands of this module, flattened into the top-level command list.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Users: add, list, disable or enable, end sessions, passwords, API tokens.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Teams: add, list, rename; statistics for a team lead.
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Queues of follow-up work.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Work follow-up tasks: list, take next, show, record an outcome, reassign.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
    /// The security record: reveals of personal data, refused requests.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user (agent, collector, team_lead, risk_officer, auditor, admin).
    Add {
        username: String,
        #[arg(long)]
        role: String,
        /// Team code (agents, collectors and team leads belong to one).
        #[arg(long)]
        team: Option<String>,
        /// Skills, comma-separated (a queue with a skill only goes to users who have it).
        #[arg(long, value_delimiter = ',')]
        skills: Vec<String>,
        /// Display name (default: the username).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue a new API token for a user (replaces the old one); it is printed once.
    Token {
        username: String,
        /// How many days it lasts (1 to 366).
        #[arg(long, default_value_t = huifang_core::team::API_TOKEN_DAYS)]
        days: u32,
    },
    /// Every user: role, team, whether they may sign in, their API token's expiry.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse a user: their sessions end and their API token is revoked.
    Disable { username: String },
    /// Let a disabled user sign in again.
    Enable { username: String },
    /// End every session of a user (they sign in again).
    EndSessions { username: String },
    /// Revoke a user's API token.
    RevokeToken { username: String },
    /// Set a user's password, read from standard input (first line); their sessions end.
    Password { username: String },
    /// Change a user's display name, role, team or skills. A new role or team ends their
    /// sessions and gives the tasks they hold back to their queues.
    Set {
        username: String,
        #[arg(long)]
        role: Option<String>,
        /// The team's code.
        #[arg(long, conflicts_with = "no_team")]
        team: Option<String>,
        /// No team (auditors, admins, a risk officer outside the teams).
        #[arg(long)]
        no_team: bool,
        /// Skills, comma-separated; an empty text clears them.
        #[arg(long)]
        skills: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
}

/// The security record, for auditors and the machine's operator.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Every reveal of a borrower's personal data, newest first.
    Reveals {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Every request refused for the caller's role or team, newest first.
    Denials {
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Every command the machine's operators ran as a user (--as), newest first: the operator's
    /// login on the machine, the user, the command and how it ended.
    Operators {
        /// Only those run as this user.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Add a team.
    Add { code: String, name: String },
    /// Every team with its members' count and its queues.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rename a team (its code stays).
    Rename { code: String, name: String },
    /// Queue depth, SLA breaches and per-agent productivity (team leads; auditors: all teams).
    Stats {
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long, value_parser = date_arg)]
        from: Option<Date>,
        #[arg(long, value_parser = date_arg)]
        to: Option<Date>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Add a queue of a team with its assignment strategy (round_robin, least_loaded, sticky).
    Add {
        code: String,
        #[arg(long)]
        team: String,
        #[arg(long, default_value = "round_robin")]
        strategy: String,
        #[arg(long, default_value = "")]
        skill: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Change a queue's name, skill or assignment strategy (tasks already assigned stay).
    Set {
        code: String,
        #[arg(long)]
        strategy: Option<String>,
        /// The skill its tasks need (an empty text: none).
        #[arg(long)]
        skill: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
}

// Parsed once per process: the size of its largest variant (recording an outcome) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// The tasks I may work (a team lead: the team's; an auditor: all).
    List {
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take the next task (assigned by the queue's strategy); it is then in progress.
    Next {
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// A task with its script and the borrower's context (masked unless --reveal).
    Show {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long, default_value = "zh")]
        lang: String,
        /// Show the full ID number and mobile (team leads, risk officers; logged).
        #[arg(long)]
        reveal: bool,
        /// Why the reveal is needed (logged with it).
        #[arg(long, requires = "reveal")]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record the outcome of a contact.
    Record {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        /// phone, sms, email, wechat, visit
        #[arg(long, default_value = "phone")]
        channel: String,
        /// reached, no_answer, wrong_number, refused, promise_to_pay, dispute,
        /// hardship_reported, vehicle_status
        #[arg(long)]
        outcome: String,
        /// Promise amount (yuan).
        #[arg(long)]
        amount: Option<String>,
        /// Promise date.
        #[arg(long, value_parser = date_arg)]
        date: Option<Date>,
        #[arg(long, allow_hyphen_values = true)]
        income_change_pct: Option<i32>,
        /// unchanged, changed, lost, business_trouble
        #[arg(long)]
        job_status: Option<String>,
        /// used_by_self, family, commercial, lent_out, sold, pledged, lost
        #[arg(long)]
        vehicle_status: Option<String>,
        /// Script answers, a JSON object.
        #[arg(long)]
        answers: Option<String>,
        #[arg(long, default_value = "")]
        notes: String,
        #[arg(long, default_value_t = 0)]
        duration_seconds: i64,
        /// Recording twice with the same key records once.
        #[arg(long)]
        idempotency_key: String,
        /// When the contact happened (RFC 3339, e.g. 2026-12-05T10:30:00+08:00); default now.
        /// The contact rules (hours, caps) are checked at this moment.
        #[arg(long)]
        at: Option<String>,
        /// The id of the borrower's emergency contact called instead (only to locate the
        /// borrower, only with their consent; see `huifang contact emergency`).
        #[arg(long)]
        emergency_contact: Option<i64>,
    },
    /// Move a task to another member of the team (team leads).
    Reassign {
        id: i64,
        #[arg(long)]
        to: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
}

fn date_arg(s: &str) -> Result<Date, String> {
    parse_date(s).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

async fn who(store: &Store, username: &str) -> Result<Actor> {
    Ok(team::actor(store, username).await?)
}

fn task_line(t: &TaskRecord) -> String {
    format!(
        "{:>8}  {:<18} {:<20} {:<12} due {}  {:<12} {}/{} {}",
        t.id,
        t.task.queue_code,
        t.task.kind,
        t.state,
        t.task.due_on,
        t.loan_external_id,
        t.attempts,
        t.task.max_attempts,
        t.assignee.as_deref().unwrap_or("-")
    )
}

/// The first line of standard input: a password, never an argument (it would show in `ps`).
fn first_line_of_stdin(what: &str) -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading {what} from standard input"))?;
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        bail!("standard input holds no {what}");
    }
    Ok(line)
}

/// An account change by the machine's operator, and what it did.
async fn account(store: &Store, username: &str, change: Account) -> Result<()> {
    let done = team::change_account(store, None, username, change).await?;
    say!(
        "{username}: {} session(s) ended{}{}",
        done.sessions_ended,
        if done.token_revoked {
            ", API token revoked"
        } else {
            ""
        },
        if done.tasks_released > 0 {
            format!(", {} task(s) back to their queues", done.tasks_released)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    say!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Runs one of this module's commands.
pub async fn run(store: &Store, policy: &Policy, command: &Commands) -> Result<()> {
    match command {
        Commands::User { command } => match command {
            UserCommand::Add {
                username,
                role,
                team: team_code,
                skills,
                name,
                password_stdin,
            } => {
                let password = if *password_stdin {
                    Some(first_line_of_stdin("the password")?)
                } else {
                    None
                };
                let role: Role = role.parse().map_err(|e| anyhow::anyhow!("role: {e}"))?;
                let id = team::create_user(
                    store,
                    None,
                    &UserInput {
                        username: username.clone(),
                        display_name: name.clone().unwrap_or_default(),
                        role,
                        team: team_code.clone(),
                        skills: skills.clone(),
                        password,
                    },
                )
                .await?;
                say!("user {username} ({role}) added, id {id}");
            }
            UserCommand::Token { username, days } => {
                let (token, expires) =
                    team::issue_api_token(store, None, username, Some(*days)).await?;
                say!("{token}");
                eprintln!(
                    "API token of {username}, valid until {expires}: shown once, only its SHA-256 is kept; send it as `Authorization: Bearer <token>`"
                );
            }
            UserCommand::List { json } => {
                let all = team::users(store, None).await?;
                let list = views::AccountList::new(&all);
                if *json {
                    return print_json(&list);
                }
                for u in &list.users {
                    say!(
                        "{:<16} {:<13} {:<12} {:<8} token {}",
                        u.user.username,
                        u.user.role,
                        u.user.team.as_deref().unwrap_or("-"),
                        if u.active { "active" } else { "disabled" },
                        u.api_token_expires_at.as_deref().unwrap_or("none")
                    );
                }
            }
            UserCommand::Disable { username } => {
                account(store, username, Account::Disable).await?;
            }
            UserCommand::Enable { username } => {
                account(store, username, Account::Enable).await?;
            }
            UserCommand::EndSessions { username } => {
                account(store, username, Account::EndSessions).await?;
            }
            UserCommand::RevokeToken { username } => {
                account(store, username, Account::RevokeToken).await?;
            }
            UserCommand::Password { username } => {
                let password = first_line_of_stdin("the new password")?;
                account(store, username, Account::SetPassword(password)).await?;
            }
            UserCommand::Set {
                username,
                role,
                team: team_code,
                no_team,
                skills,
                name,
            } => {
                let request = views::ProfileRequest {
                    display_name: name.clone(),
                    role: role.clone(),
                    team: if *no_team {
                        Some(String::new())
                    } else {
                        team_code.clone()
                    },
                    skills: skills
                        .as_deref()
                        .map(|s| s.split(',').map(str::to_string).collect()),
                };
                account(store, username, Account::Profile(request.to_profile()?)).await?;
            }
        },
        Commands::Audit { command } => match command {
            AuditCommand::Reveals { user, limit, json } => {
                let rows = team::reveals(store, None, user.as_deref(), *limit).await?;
                let list = views::RevealList::new(&rows);
                if *json {
                    return print_json(&list);
                }
                for r in &list.reveals {
                    say!(
                        "{} {:<16} borrower {} loan {} task {} fields {} reason {}",
                        r.revealed_at,
                        r.username,
                        r.borrower,
                        r.loan.as_deref().unwrap_or("-"),
                        r.task_id.map_or("-".to_string(), |t| t.to_string()),
                        r.fields,
                        if r.reason.is_empty() { "-" } else { &r.reason }
                    );
                }
            }
            AuditCommand::Denials { user, limit, json } => {
                let rows = team::denials(store, None, user.as_deref(), *limit).await?;
                let list = views::DenialList::new(&rows);
                if *json {
                    return print_json(&list);
                }
                for d in &list.denials {
                    say!(
                        "{} {:<16} {}: {}",
                        d.denied_at,
                        d.username,
                        d.action,
                        d.reason
                    );
                }
            }
            AuditCommand::Operators { user, limit, json } => {
                let rows = team::operator_actions(store, None, user.as_deref(), *limit).await?;
                let list = views::OperatorActionList::new(&rows);
                if *json {
                    return print_json(&list);
                }
                for a in &list.actions {
                    say!(
                        "{} {:<24} as {:<16} {:<8} {}",
                        a.started_at,
                        a.operator,
                        a.username,
                        a.outcome,
                        a.command
                    );
                }
            }
        },
        Commands::Team { command } => match command {
            TeamCommand::Add { code, name } => {
                let id = team::create_team(store, None, code, name).await?;
                say!("team {code} ({name}) added, id {id}");
            }
            TeamCommand::List { json } => {
                let list = views::TeamList::new(&team::teams(store, None).await?);
                if *json {
                    return print_json(&list);
                }
                for t in &list.teams {
                    say!("{:<12} {:<16} {} member(s)", t.code, t.name, t.members);
                    for q in &t.queues {
                        say!(
                            "    queue {:<20} {:<16} {:<13} skill {}",
                            q.code,
                            q.name,
                            q.strategy,
                            if q.skill.is_empty() { "-" } else { &q.skill }
                        );
                    }
                }
            }
            TeamCommand::Rename { code, name } => {
                team::rename_team(store, None, code, name).await?;
                say!("team {code} renamed {name}");
            }
            TeamCommand::Stats {
                user,
                from,
                to,
                json,
            } => {
                let actor = who(store, user).await?;
                let all = team::team_stats(store, &actor, *from, *to).await?;
                if *json {
                    return print_json(&views::TeamStatsList::new(&all).teams);
                }
                for s in &all {
                    say!(
                        "team {} {} — {} to {} (business date {})",
                        s.team.code,
                        s.team.name,
                        s.from,
                        s.to,
                        s.business_date
                    );
                    say!("  queue depth:");
                    for d in &s.depth {
                        say!("    {:<20} {:<12} {:>6}", d.queue_code, d.state, d.tasks);
                    }
                    say!("  SLA breaches (open past due): {}", s.past_due);
                    for t in s.oldest_past_due.iter().take(5) {
                        say!("    {}", task_line(t));
                    }
                    say!(
                        "  {:<14} {:<10} {:>6} {:>9} {:>8} {:>9} {:>6}",
                        "agent",
                        "name",
                        "done",
                        "attempts",
                        "reached",
                        "promises",
                        "open"
                    );
                    for a in &s.agents {
                        say!(
                            "  {:<14} {:<10} {:>6} {:>9} {:>8} {:>9} {:>6}",
                            a.username,
                            a.display_name,
                            a.tasks_done,
                            a.attempts,
                            a.reached,
                            a.promises,
                            a.open_tasks
                        );
                    }
                }
            }
        },
        Commands::Queue {
            command:
                QueueCommand::Add {
                    code,
                    team: team_code,
                    strategy,
                    skill,
                    name,
                },
        } => {
            let queue = team::create_queue(
                store,
                None,
                code,
                name.as_deref().unwrap_or(code),
                team_code,
                strategy,
                skill,
            )
            .await?;
            say!(
                "queue {code} of team {team_code} ({strategy}) added, id {}",
                queue.id
            );
        }
        Commands::Queue {
            command:
                QueueCommand::Set {
                    code,
                    strategy,
                    skill,
                    name,
                },
        } => {
            let q = team::change_queue(
                store,
                None,
                code,
                &team::QueueChange {
                    name: name.clone(),
                    skill: skill.clone(),
                    strategy: strategy.clone(),
                },
            )
            .await?;
            say!(
                "queue {} ({}): {}, skill {}",
                q.code,
                q.name,
                q.strategy.as_str(),
                if q.skill.is_empty() { "-" } else { &q.skill }
            );
        }
        Commands::Task { command } => task(store, policy, command).await?,
    }
    Ok(())
}

async fn task(store: &Store, policy: &Policy, command: &TaskCommand) -> Result<()> {
    match command {
        TaskCommand::List { user, queue, json } => {
            let actor = who(store, user).await?;
            let tasks = team::my_queue(store, &actor, queue.as_deref()).await?;
            if *json {
                return print_json(&views::TaskList::new(&tasks).tasks);
            }
            for t in &tasks {
                say!("{}", task_line(t));
            }
            eprintln!("{} task(s)", tasks.len());
        }
        TaskCommand::Next { user, json } => {
            let actor = who(store, user).await?;
            match team::take_next(store, &actor).await? {
                Some(t) if *json => print_json(&views::TaskSummary::from(&t))?,
                Some(t) => say!("{}", task_line(&t)),
                None => say!("no task waiting for {user}"),
            }
        }
        TaskCommand::Show {
            id,
            user,
            lang,
            reveal,
            reason,
            json,
        } => {
            let actor = who(store, user).await?;
            let reveal = reveal.then(|| reason.as_deref().unwrap_or_default());
            let view = team::show_task(store, policy, &actor, TaskId(*id), lang, reveal).await?;
            let v = views::TaskDetail::from(&view);
            if *json {
                return print_json(&v);
            }
            say!("{}", task_line(&view.task));
            let b = &view.borrower;
            say!(
                "borrower {} {}  ID {}  mobile {}  account {}  {}",
                b.external_id,
                b.name,
                b.id_number,
                b.mobile,
                b.bank_account.as_deref().unwrap_or("-"),
                b.city
            );
            say!("loan {}", serde_json::to_string(&v.loan)?);
            match &view.script {
                Some(s) => say!("script {}", serde_json::to_string_pretty(s)?),
                None => say!("script: none for {} in {lang}", view.task.task.kind),
            }
            for i in &view.interactions {
                say!(
                    "  contact {} {} {} {}",
                    i.interaction.business_date,
                    i.interaction.occurred_at,
                    i.interaction.channel,
                    i.interaction.outcome
                );
            }
        }
        TaskCommand::Record {
            id,
            user,
            channel,
            outcome,
            amount,
            date,
            income_change_pct,
            job_status,
            vehicle_status,
            answers,
            notes,
            duration_seconds,
            idempotency_key,
            at,
            emergency_contact,
        } => {
            let actor = who(store, user).await?;
            let answers = answers
                .as_deref()
                .map(serde_json::from_str::<views::ScriptAnswers>)
                .transpose()
                .context("--answers must be a JSON object of answers (text, true/false, a number or null)")?;
            let r = team::record_outcome(
                store,
                &actor,
                TaskId(*id),
                &OutcomeInput {
                    channel: channel.clone(),
                    outcome: outcome.clone(),
                    amount: amount.clone(),
                    date: *date,
                    income_change_pct: *income_change_pct,
                    job_status: job_status.clone(),
                    vehicle_status: vehicle_status.clone(),
                    answers,
                    notes: notes.clone(),
                    duration_seconds: *duration_seconds,
                    idempotency_key: idempotency_key.clone(),
                    occurred_at: at.clone(),
                    emergency_contact: *emergency_contact,
                },
            )
            .await?;
            if r.new {
                say!(
                    "interaction {} recorded (ledger leaf {}); task {} now {} ({}/{} attempts){}{}{}",
                    r.interaction_id,
                    r.leaf_index.map_or("-".into(), |i| i.to_string()),
                    r.task.id,
                    r.task.state,
                    r.task.attempts,
                    r.task.task.max_attempts,
                    r.promise_id
                        .map_or(String::new(), |p| format!("; promise {p} open")),
                    if r.signals.is_empty() {
                        String::new()
                    } else {
                        format!("; risk signals {}", r.signals.join(", "))
                    },
                    r.escalation_task
                        .map_or(String::new(), |t| format!("; escalated as task {t}")),
                );
            } else {
                say!(
                    "already recorded as interaction {} (idempotency key {idempotency_key}): nothing recorded",
                    r.interaction_id
                );
            }
        }
        TaskCommand::Reassign { id, to, user } => {
            let actor = who(store, user).await?;
            let t = team::reassign(store, &actor, TaskId(*id), to).await?;
            say!("{}", task_line(&t));
        }
    }
    Ok(())
}

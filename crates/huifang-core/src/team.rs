//! The team's rules: roles and what each may read, reveal and change; the life of a follow-up
//! task; who may see or work a task; how personal data is masked.
//!
//! Written once here; the application asks these functions before it reads or writes, the store
//! keeps their names, and the command line, the API and the console show their answers.

use std::fmt;
use std::str::FromStr;

use crate::UserId;
use crate::ids::{Mobile, ResidentId};
use crate::outcome::Transition;

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 回访坐席: works follow-up calls of their team's queues.
    Agent,
    /// 催收员: works overdue cases of their team's queues.
    Collector,
    /// 组长: assigns and reviews the team's work.
    TeamLead,
    /// 风控专员: reviews warnings and decides.
    RiskOfficer,
    /// 审计: reads everything, changes nothing.
    Auditor,
    /// 管理员: users, teams, queues and settings.
    Admin,
}

/// Failed sign-ins of one username within [`LOCKOUT_MINUTES`] after which its sign-ins are refused
/// until the window has passed (whether or not the user exists).
pub const LOCKOUT_FAILURES: i64 = 5;
/// The window of [`LOCKOUT_FAILURES`], in minutes.
pub const LOCKOUT_MINUTES: i64 = 15;
/// How long a login session lasts, from sign-in, in hours (absolute expiry).
pub const SESSION_HOURS: i64 = 12;
/// How long a console session lasts without use, in minutes (idle expiry).
pub const CONSOLE_IDLE_MINUTES: i64 = 30;
/// The languages of the console and of scripts: Chinese (the default) and English.
pub const LANGUAGES: [&str; 2] = ["zh", "en"];
/// How long an API token lasts unless issued for fewer days.
pub const API_TOKEN_DAYS: u32 = 90;
/// The longest an API token may be issued for, in days.
pub const MAX_API_TOKEN_DAYS: u32 = 366;

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Agent,
        Role::Collector,
        Role::TeamLead,
        Role::RiskOfficer,
        Role::Auditor,
        Role::Admin,
    ];

    /// The name used in storage, files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Collector => "collector",
            Role::TeamLead => "team_lead",
            Role::RiskOfficer => "risk_officer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// The Chinese name.
    pub fn zh(self) -> &'static str {
        match self {
            Role::Agent => "回访坐席",
            Role::Collector => "催收员",
            Role::TeamLead => "组长",
            Role::RiskOfficer => "风控专员",
            Role::Auditor => "审计",
            Role::Admin => "管理员",
        }
    }

    /// Works tasks of its team's queues (and is a candidate for assignment): agents and
    /// collectors, and risk officers in a team (its queues hold the warnings' review tasks).
    pub fn works_tasks(self) -> bool {
        matches!(self, Role::Agent | Role::Collector | Role::RiskOfficer)
    }

    /// May see a borrower's full ID number and mobile (each reveal is logged).
    pub fn may_reveal(self) -> bool {
        matches!(self, Role::TeamLead | Role::RiskOfficer)
    }

    /// May read a loan's full view and its warnings.
    pub fn reads_loans(self) -> bool {
        matches!(
            self,
            Role::RiskOfficer | Role::TeamLead | Role::Auditor | Role::Admin
        )
    }

    /// Acts on warnings: acknowledges them, records what was done, resolves them.
    pub fn works_warnings(self) -> bool {
        self == Role::RiskOfficer
    }

    /// Decides on loans (deferral, restructure, acceleration, write-off, …) and approves the
    /// decisions of others: risk officers.
    pub fn decides_loans(self) -> bool {
        self == Role::RiskOfficer
    }

    /// May record the steps of a repossession or legal case opened by a risk officer: the risk
    /// officers and the collectors who work the field (收车) and the legal queue.
    pub fn works_cases(self) -> bool {
        matches!(self, Role::RiskOfficer | Role::Collector)
    }

    /// May change the early-warning rule set: the risk officers who answer its warnings, and
    /// the administrator.
    pub fn sets_warning_rules(self) -> bool {
        matches!(self, Role::RiskOfficer | Role::Admin)
    }

    /// May register (upload) documents: every role but the auditor, who reads and changes
    /// nothing.
    pub fn registers_documents(self) -> bool {
        !matches!(self, Role::Auditor)
    }

    /// Feeds the book from core banking: pushes borrowers, loans and payments and imports files
    /// over the API (the administrator's service users; the command line's operator imports).
    pub fn feeds_book(self) -> bool {
        self == Role::Admin
    }

    /// Reads the security record: who revealed personal data, which requests were refused.
    pub fn audits(self) -> bool {
        self == Role::Auditor
    }

    /// May create teams, users, queues and API tokens.
    pub fn administers(self) -> bool {
        self == Role::Admin
    }

    /// Sees the servers and workers on the database and the daily close's progress.
    pub fn watches_processes(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    /// Works inside one team: belongs to it, sees its queues and takes its tasks (a team lead
    /// takes tasks too, and sees the whole team's).
    pub fn belongs_to_team(self) -> bool {
        matches!(self, Role::Agent | Role::Collector | Role::TeamLead)
    }

    /// May be a member of a team and work its queues: the roles that belong to one, and a risk
    /// officer, who may (the team of the warnings' review queues) or may not.
    pub fn may_join_team(self) -> bool {
        self.belongs_to_team() || self == Role::RiskOfficer
    }

    /// May record that a borrower opted out of a channel, or is not to be contacted at all, and
    /// lift it: whoever talks to borrowers or answers for those who do.
    pub fn records_opt_outs(self) -> bool {
        matches!(
            self,
            Role::Agent | Role::Collector | Role::TeamLead | Role::RiskOfficer
        )
    }

    /// May change the contact rules (hours, caps): the administrator, who keeps the settings.
    pub fn sets_contact_rules(self) -> bool {
        self == Role::Admin
    }

    /// May change the message templates: the administrator, who keeps the settings.
    pub fn sets_templates(self) -> bool {
        self == Role::Admin
    }

    /// May reassign a task of the team to another member.
    pub fn reassigns_tasks(self) -> bool {
        self == Role::TeamLead
    }

    /// Whose borrowers' personal data (name, ID number, mobile, contacts, opt-outs) the role
    /// reads: see [`BorrowerScope`].
    pub fn borrower_scope(self) -> BorrowerScope {
        match self {
            Role::Agent | Role::Collector | Role::TeamLead => BorrowerScope::TeamTasks,
            Role::RiskOfficer | Role::Auditor => BorrowerScope::Every,
            Role::Admin => BorrowerScope::NoBorrowers,
        }
    }

    /// May see the queues' depth, SLA breaches and agents' work: a team lead their own team's,
    /// an auditor every team's.
    pub fn reads_team_stats(self) -> bool {
        matches!(self, Role::TeamLead | Role::Auditor)
    }

    /// May review the quality of contacts (质检): a team lead, of their team's members' contacts.
    pub fn reviews_quality(self) -> bool {
        self == Role::TeamLead
    }
}

/// The highest score of a quality review (质检); scores run from 0.
pub const REVIEW_SCORE_MAX: i64 = 100;

/// A quality review's score: 0 to [`REVIEW_SCORE_MAX`].
pub fn check_review_score(score: i64) -> Result<(), String> {
    if (0..=REVIEW_SCORE_MAX).contains(&score) {
        Ok(())
    } else {
        Err(format!("must be 0 to {REVIEW_SCORE_MAX}, got {score}"))
    }
}

/// Whether `member` may review a contact made by a user of team `author_team`: a team lead, of a
/// contact made by a member of their own team.
pub fn review_access(member: &Member, author_team: Option<i64>) -> Result<(), String> {
    if !member.role.reviews_quality() {
        return Err("only team leads review the quality of contacts".into());
    }
    match (member.team_id, author_team) {
        (Some(mine), Some(theirs)) if mine == theirs => Ok(()),
        _ => Err("the contact was made by someone outside the reviewer's team".into()),
    }
}

/// Who may see a vehicle's locations (sensitive personal information under PIPL): risk officers,
/// who answer the trackers' warnings, and collectors while the loan has an open repossession
/// case (the field agents who recover the car). Nobody else, auditors included: they read the
/// log of who saw them.
pub fn location_access(role: Role, repossession_open: bool) -> Result<(), String> {
    match role {
        Role::RiskOfficer => Ok(()),
        Role::Collector if repossession_open => Ok(()),
        Role::Collector => Err("the loan has no open repossession case".into()),
        other => Err(format!(
            "locations are shown to risk officers and repossession agents only, not to the role {other}"
        )),
    }
}

/// Least privilege over borrowers' personal data: a team's members (agents, collectors, the
/// team lead) read only the borrowers of their team's tasks; risk officers, who answer every
/// warning, and auditors, who read everything (masked, never revealed), read every borrower's;
/// the administrator manages users and settings and reads no borrower's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorrowerScope {
    NoBorrowers,
    TeamTasks,
    Every,
}

/// A task of one of a borrower's loans, as [`borrower_access`] weighs it: the team of its queue,
/// its state and the attempts made on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BorrowerTask {
    pub team_id: i64,
    pub state: TaskState,
    pub attempts: i64,
}

/// Whether `member` may read a borrower's personal data, given the tasks of the borrower's
/// loans in teams' queues: a team follows the borrower up while one of its tasks is open, or
/// once one was worked; a task cancelled before anyone worked it gives no team the borrower.
pub fn borrower_access(member: &Member, tasks: &[BorrowerTask]) -> Result<(), String> {
    match member.role.borrower_scope() {
        BorrowerScope::Every => Ok(()),
        BorrowerScope::NoBorrowers => Err(format!(
            "a {} manages users and settings and reads no borrower's personal data",
            member.role
        )),
        BorrowerScope::TeamTasks => {
            let follows = |t: &BorrowerTask| {
                Some(t.team_id) == member.team_id
                    && (t.state != TaskState::Cancelled || t.attempts > 0)
            };
            if tasks.iter().any(follows) {
                Ok(())
            } else {
                Err("no task of the borrower's loans is in the user's team's queues".into())
            }
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a role (agent, collector, team_lead, risk_officer, auditor, admin)"
                )
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a follow-up task stands.
///
/// ```text
/// open ──claim/assign──▶ assigned ──first outcome──▶ in_progress
///   │                       │                            │
///   └───────────────────────┴──── outcome ───────────────┴──▶ done
///                                 unreachable, attempts left ▶ rescheduled (claimable again)
///                                 unreachable, limit reached ▶ failed (and escalated)
/// any open state ──the loan no longer needs it──▶ cancelled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Open,
    Assigned,
    InProgress,
    Rescheduled,
    Done,
    Failed,
    Cancelled,
}

impl TaskState {
    pub const ALL: [TaskState; 7] = [
        TaskState::Open,
        TaskState::Assigned,
        TaskState::InProgress,
        TaskState::Rescheduled,
        TaskState::Done,
        TaskState::Failed,
        TaskState::Cancelled,
    ];

    /// The states in which a task still waits for work.
    pub const OPEN: [TaskState; 4] = [
        TaskState::Open,
        TaskState::Assigned,
        TaskState::InProgress,
        TaskState::Rescheduled,
    ];

    /// The states in which a task is held by its assignee: it counts towards their open load
    /// and comes back to them when they ask for their next task.
    pub const HELD: [TaskState; 3] = [
        TaskState::Assigned,
        TaskState::InProgress,
        TaskState::Rescheduled,
    ];

    /// The states an unassigned task may be claimed or dispatched from.
    pub const CLAIMABLE: [TaskState; 2] = [TaskState::Open, TaskState::Rescheduled];

    /// The name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Assigned => "assigned",
            TaskState::InProgress => "in_progress",
            TaskState::Rescheduled => "rescheduled",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Whether the task still waits for work (an outcome may be recorded, it may be reassigned).
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// Whether an unassigned task in this state may be claimed or dispatched.
    pub fn is_claimable(self) -> bool {
        Self::CLAIMABLE.contains(&self)
    }

    /// The state after a reassignment: a rescheduled task keeps waiting for its retry date; any
    /// other open task is assigned to its new owner.
    pub fn reassigned(self) -> TaskState {
        if self == TaskState::Rescheduled {
            TaskState::Rescheduled
        } else {
            TaskState::Assigned
        }
    }

    /// The state after an outcome led to `transition`.
    pub fn after(transition: Transition) -> TaskState {
        match transition {
            Transition::Done => TaskState::Done,
            Transition::Reschedule { .. } => TaskState::Rescheduled,
            Transition::FailAndEscalate { .. } => TaskState::Failed,
        }
    }
}

impl FromStr for TaskState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a task state"))
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a user wants to do with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    View,
    Work,
}

/// The user asking, as the access rule sees them.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub user_id: UserId,
    pub role: Role,
    pub team_id: Option<i64>,
    pub skills: &'a [String],
}

impl Member<'_> {
    /// Whether the member has `skill` (an empty skill is everyone's).
    pub fn has_skill(&self, skill: &str) -> bool {
        skill.is_empty() || self.skills.iter().any(|s| s == skill)
    }
}

/// The task asked about: its queue (when the queue is set up) and its assignee.
#[derive(Debug, Clone, Copy)]
pub struct TaskPlace<'a> {
    pub queue_code: &'a str,
    /// The queue's team and skill; `None` when no queue of that code is set up.
    pub queue: Option<(Option<i64>, &'a str)>,
    pub assignee_id: Option<UserId>,
    pub assignee: Option<&'a str>,
}

/// Whether `member` may view or work the task at `place`; the refusal says why.
///
/// Auditors view every task and work none; agents, collectors and team leads see only the tasks
/// of their own team's queues; agents and collectors work a queue only with its skill (unless
/// the task is assigned to them) and never a task assigned to someone else, which a team lead
/// may view but not work; a risk officer works the tasks of their team's queues when they have
/// a team; admins do not work follow-up tasks.
pub fn task_access(member: &Member, place: &TaskPlace, access: Access) -> Result<(), String> {
    if member.role == Role::Auditor {
        return match access {
            Access::View => Ok(()),
            Access::Work => Err("auditors have read-only access".into()),
        };
    }
    if !member.role.may_join_team() || member.team_id.is_none() {
        return Err(format!(
            "a {} outside a team does not work follow-up tasks",
            member.role
        ));
    }
    let team_of_queue = place.queue.and_then(|(team, _)| team);
    if team_of_queue.is_none() || team_of_queue != member.team_id {
        return Err(match place.queue {
            Some(_) => format!("its queue {} belongs to another team", place.queue_code),
            None => format!("its queue {} is not set up for any team", place.queue_code),
        });
    }
    let skill = place.queue.map_or("", |(_, skill)| skill);
    if member.role.works_tasks()
        && !member.has_skill(skill)
        && place.assignee_id != Some(member.user_id)
    {
        return Err(format!(
            "its queue {} needs the skill {skill:?}",
            place.queue_code
        ));
    }
    let lead_viewing = member.role == Role::TeamLead && access == Access::View;
    if !lead_viewing && place.assignee_id.is_some_and(|a| a != member.user_id) {
        return Err(format!(
            "it is assigned to {}",
            place.assignee.unwrap_or("another user")
        ));
    }
    Ok(())
}

/// An ID number as shown without a reveal: `110105********002X`. A stored value that is not a
/// valid number keeps its first 3 and last 4 characters.
pub fn mask_id_number(s: &str) -> String {
    ResidentId::parse(s)
        .map(|i| i.masked())
        .unwrap_or_else(|_| mask_middle(s))
}

/// A mobile number as shown without a reveal: `138****8000`.
pub fn mask_mobile(s: &str) -> String {
    Mobile::parse(s)
        .map(|m| m.masked())
        .unwrap_or_else(|_| mask_middle(s))
}

/// A bank account as shown without a reveal: its last four digits (`************1234`).
pub fn mask_account(s: &str) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i + 4 >= n { c } else { '*' })
        .collect()
}

fn mask_middle(s: &str) -> String {
    let n = s.chars().count();
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 3 || i + 4 >= n { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_lead_reviews_the_contacts_of_their_own_team_with_a_score_of_0_to_100() {
        let member = |role, team_id| Member {
            user_id: UserId(1),
            role,
            team_id,
            skills: &[],
        };
        assert!(review_access(&member(Role::TeamLead, Some(7)), Some(7)).is_ok());
        assert!(review_access(&member(Role::TeamLead, Some(7)), Some(8)).is_err());
        assert!(review_access(&member(Role::TeamLead, Some(7)), None).is_err());
        for role in [
            Role::Agent,
            Role::Collector,
            Role::RiskOfficer,
            Role::Auditor,
            Role::Admin,
        ] {
            assert!(
                review_access(&member(role, Some(7)), Some(7)).is_err(),
                "{role}"
            );
        }
        assert!(check_review_score(0).is_ok() && check_review_score(100).is_ok());
        assert!(check_review_score(-1).is_err() && check_review_score(101).is_err());
    }

    #[test]
    fn a_team_follows_a_borrower_through_open_or_worked_tasks_only() {
        let member = |role, team_id| Member {
            user_id: UserId(1),
            role,
            team_id,
            skills: &[],
        };
        let task = |team_id, state, attempts| BorrowerTask {
            team_id,
            state,
            attempts,
        };
        let lead = member(Role::TeamLead, Some(7));
        assert!(borrower_access(&lead, &[task(7, TaskState::Open, 0)]).is_ok());
        assert!(borrower_access(&lead, &[task(7, TaskState::Cancelled, 2)]).is_ok());
        assert!(borrower_access(&lead, &[task(7, TaskState::Cancelled, 0)]).is_err());
        assert!(borrower_access(&lead, &[task(8, TaskState::Open, 0)]).is_err());
        assert!(
            borrower_access(&member(Role::Agent, None), &[task(7, TaskState::Open, 0)]).is_err()
        );
        assert!(borrower_access(&member(Role::RiskOfficer, None), &[]).is_ok());
        assert!(
            borrower_access(&member(Role::Admin, None), &[task(7, TaskState::Open, 0)]).is_err()
        );
    }

    const SKILLS: [String; 0] = [];

    fn member(role: Role, team: Option<i64>) -> Member<'static> {
        Member {
            user_id: UserId(7),
            role,
            team_id: team,
            skills: &SKILLS,
        }
    }

    fn place(team: Option<i64>, skill: &'static str, assignee: Option<i64>) -> TaskPlace<'static> {
        TaskPlace {
            queue_code: "followup",
            queue: Some((team, skill)),
            assignee_id: assignee.map(UserId),
            assignee: assignee.map(|_| "a2"),
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        for s in TaskState::ALL {
            assert_eq!(s.as_str().parse::<TaskState>(), Ok(s));
        }
        assert!("boss".parse::<Role>().is_err());
        assert!("closed".parse::<TaskState>().is_err());
    }

    #[test]
    fn task_life() {
        assert!(TaskState::OPEN.iter().all(|s| s.is_open()));
        assert!(!TaskState::Done.is_open() && !TaskState::Cancelled.is_open());
        assert!(TaskState::Rescheduled.is_claimable() && !TaskState::Assigned.is_claimable());
        assert_eq!(TaskState::Open.reassigned(), TaskState::Assigned);
        assert_eq!(TaskState::Rescheduled.reassigned(), TaskState::Rescheduled);
        assert_eq!(TaskState::after(Transition::Done), TaskState::Done);
        assert_eq!(
            TaskState::after(Transition::FailAndEscalate { attempts: 3 }),
            TaskState::Failed
        );
    }

    #[test]
    fn who_may_see_and_work_a_task() {
        let own = place(Some(1), "", None);
        let w = Access::Work;
        assert_eq!(task_access(&member(Role::Agent, Some(1)), &own, w), Ok(()));
        assert!(task_access(&member(Role::Agent, Some(2)), &own, Access::View).is_err());
        assert!(
            task_access(
                &member(Role::Agent, Some(1)),
                &place(Some(1), "zh", None),
                w
            )
            .is_err()
        );
        assert_eq!(
            task_access(
                &member(Role::Agent, Some(1)),
                &place(Some(1), "zh", Some(7)),
                w
            ),
            Ok(())
        );
        let others = place(Some(1), "", Some(8));
        assert_eq!(
            task_access(&member(Role::Agent, Some(1)), &others, w),
            Err("it is assigned to a2".into())
        );
        assert_eq!(
            task_access(&member(Role::TeamLead, Some(1)), &others, Access::View),
            Ok(())
        );
        assert!(task_access(&member(Role::TeamLead, Some(1)), &others, w).is_err());
        assert_eq!(
            task_access(&member(Role::Auditor, None), &others, Access::View),
            Ok(())
        );
        assert!(task_access(&member(Role::Auditor, None), &others, w).is_err());
        // a risk officer outside a team works no task; in one, its queues' tasks
        assert!(task_access(&member(Role::RiskOfficer, None), &own, Access::View).is_err());
        assert_eq!(
            task_access(&member(Role::RiskOfficer, Some(1)), &own, w),
            Ok(())
        );
        assert!(task_access(&member(Role::RiskOfficer, Some(2)), &own, w).is_err());
        assert!(task_access(&member(Role::Admin, Some(1)), &own, Access::View).is_err());
    }

    #[test]
    fn masking() {
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
        assert_eq!(mask_mobile("13800138000"), "138****8000");
        assert_eq!(mask_mobile("12345"), "12345");
        assert_eq!(mask_id_number("ABCDEFGHIJ"), "ABC***GHIJ");
    }
}

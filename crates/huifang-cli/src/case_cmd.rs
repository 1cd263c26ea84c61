//! `huifang case open|step|list|show`: repossession and legal cases (`huifang_app::cases`).

use anyhow::Result;
use clap::Subcommand;
use huifang_app::cases;
use huifang_app::team;
use huifang_app::views::{CaseDetailView, CaseStepRequest, CaseView};
use huifang_core::policy::Policy;
use huifang_store::Store;

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case on a loan (risk officers): repossession (收车) or legal (诉讼).
    Open {
        external_id: String,
        /// repossession or legal.
        kind: String,
        #[arg(long)]
        reason: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// Move a case to its next stage, or close it (risk officers, collectors). A sale
    /// (repossession: sold) needs --amount, posted as a payment on the loan; an enforcement
    /// may carry one.
    Step {
        id: i64,
        /// assigned → located → recovered → sold; filed → judgment → enforcement; or closed.
        stage: String,
        /// What the step collected, in yuan.
        #[arg(long)]
        amount: Option<String>,
        /// The payment's value date (default: the business date).
        #[arg(long)]
        on: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// A loan's cases, or every open case.
    List {
        #[arg(long)]
        loan: Option<String>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// One case with its steps.
    Show {
        id: i64,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
}

fn line(c: &CaseView) -> String {
    format!(
        "{:>6}  {:<10} {:<13} {:<12} opened {} by {}{}  {}",
        c.id,
        c.loan,
        c.kind,
        c.stage,
        c.opened_on,
        c.opened_by,
        c.closed_on
            .as_deref()
            .map(|d| format!(", closed {d}"))
            .unwrap_or_default(),
        c.reason
    )
}

fn detail(view: &CaseDetailView, json: bool) -> Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(view)?);
        return Ok(());
    }
    say!("{}", line(&view.case));
    for s in &view.steps {
        say!(
            "  {}  {:<12} {:<10} {}{}",
            s.business_date,
            s.stage,
            s.by,
            s.amount
                .as_deref()
                .zip(s.payment.as_deref())
                .map(|(a, p)| format!("{a} posted as payment {p}; "))
                .unwrap_or_default(),
            s.note
        );
    }
    Ok(())
}

pub async fn run(store: &Store, policy: &Policy, command: &CaseCommand) -> Result<()> {
    match command {
        CaseCommand::Open {
            external_id,
            kind,
            reason,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            let c = cases::open(store, policy, &actor, external_id, kind, reason).await?;
            detail(&CaseDetailView::from(&c), false)?;
        }
        CaseCommand::Step {
            id,
            stage,
            amount,
            on,
            note,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            let request = CaseStepRequest {
                stage: stage.clone(),
                amount: amount.clone(),
                note: note.clone(),
                on: on.clone(),
            }
            .to_request()?;
            let c = cases::step(store, policy, &actor, *id, &request).await?;
            detail(&CaseDetailView::from(&c), false)?;
        }
        CaseCommand::List { loan, user, json } => {
            let actor = team::actor(store, user).await?;
            let rows = cases::list(store, &actor, loan.as_deref()).await?;
            let items: Vec<CaseView> = rows.iter().map(CaseView::from).collect();
            crate::output::list(&items, *json, line)?;
        }
        CaseCommand::Show { id, user, json } => {
            let actor = team::actor(store, user).await?;
            let c = cases::show(store, &actor, *id).await?;
            detail(&CaseDetailView::from(&c), *json)?;
        }
    }
    Ok(())
}

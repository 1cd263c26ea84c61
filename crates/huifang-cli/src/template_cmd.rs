//! `huifang template list|show|set|preview`: the message templates (`huifang_app::templates`).

use anyhow::Result;
use clap::Subcommand;
use huifang_app::team;
use huifang_app::templates::{self, TemplateKey};
use huifang_app::views::TemplateView;
use huifang_core::policy::Policy;
use huifang_store::Store;

#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Every template in force: each event, language and channel (the lender's or the default).
    List {
        #[arg(long)]
        json: bool,
    },
    /// One template in force, with the fields its event fills.
    Show {
        /// reminder_before, reminder_due, overdue_notice, promise_confirmation or welcome.
        event: String,
        #[arg(long, default_value = "zh")]
        lang: String,
        /// sms, wechat or email.
        #[arg(long, default_value = "sms")]
        channel: String,
        #[arg(long)]
        json: bool,
    },
    /// Set the lender's template of an event, language and channel (the administrator); the
    /// body is read from a file ("-": standard input).
    Set {
        event: String,
        #[arg(long, default_value = "zh")]
        lang: String,
        #[arg(long, default_value = "sms")]
        channel: String,
        /// Email only.
        #[arg(long, default_value = "")]
        subject: String,
        #[arg(long)]
        body_file: std::path::PathBuf,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// The message a template would send about a loan today.
    Preview {
        event: String,
        #[arg(long)]
        loan: String,
        #[arg(long, default_value = "zh")]
        lang: String,
        #[arg(long, default_value = "sms")]
        channel: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
}

fn show(v: &TemplateView, json: bool) -> Result<()> {
    if json {
        say!("{}", serde_json::to_string_pretty(v)?);
        return Ok(());
    }
    say!(
        "{} {} {} ({}; fields: {})",
        v.event,
        v.lang,
        v.channel,
        v.set_on
            .as_deref()
            .map_or_else(|| "default".to_string(), |d| format!("set {d}")),
        v.fields.join(", ")
    );
    if !v.subject.is_empty() {
        say!("subject: {}", v.subject);
    }
    say!("{}", v.body);
    Ok(())
}

pub async fn run(store: &Store, policy: &Policy, command: &TemplateCommand) -> Result<()> {
    match command {
        TemplateCommand::List { json } => {
            let all = templates::list(store).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for v in &all {
                    say!(
                        "{:<21} {} {:<7} {:<8} {}",
                        v.event,
                        v.lang,
                        v.channel,
                        v.set_on.as_deref().unwrap_or("default"),
                        v.body.chars().take(40).collect::<String>()
                    );
                }
            }
        }
        TemplateCommand::Show {
            event,
            lang,
            channel,
            json,
        } => {
            let key = TemplateKey::parse(event, lang, channel)?;
            show(&templates::show(store, key).await?, *json)?;
        }
        TemplateCommand::Set {
            event,
            lang,
            channel,
            subject,
            body_file,
            user,
        } => {
            let key = TemplateKey::parse(event, lang, channel)?;
            let actor = team::actor(store, user).await?;
            let body = if body_file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(body_file)?
            };
            show(
                &templates::set(store, &actor, key, subject, &body).await?,
                false,
            )?;
        }
        TemplateCommand::Preview {
            event,
            loan,
            lang,
            channel,
            user,
        } => {
            let key = TemplateKey::parse(event, lang, channel)?;
            let actor = team::actor(store, user).await?;
            let m = templates::preview(store, policy, &actor, key, loan).await?;
            if !m.subject.is_empty() {
                say!("subject: {}", m.subject);
            }
            say!("{}", m.body);
        }
    }
    Ok(())
}

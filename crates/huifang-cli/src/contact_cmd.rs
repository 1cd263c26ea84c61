//! `huifang contact rules|opt-out|opt-in|opt-outs|blocked`: the contact rules and the
//! borrowers' opt-outs (`huifang_app::contact`).

use anyhow::Result;
use clap::Subcommand;
use huifang_app::{contact, team, views};
use huifang_store::{BlockedContactRecord, Store};

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Show the contact rules (hours, caps) as a document, or replace them from one (--set
    /// FILE, the administrator); a new document applies to the next contact.
    Rules {
        #[arg(long)]
        set: Option<std::path::PathBuf>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: Option<String>,
    },
    /// Record that a borrower opted out of a channel (phone, sms, email, wechat, visit), or is
    /// not to be contacted at all (all).
    OptOut {
        borrower: String,
        #[arg(long)]
        channel: String,
        #[arg(long, default_value = "")]
        note: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// Lift a borrower's opt-out of a channel (or all).
    OptIn {
        borrower: String,
        #[arg(long)]
        channel: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// A borrower's opt-outs.
    OptOuts {
        borrower: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// How long contacts are kept (5 years at least; nothing deletes one), and the recorded and
    /// refused contacts by year.
    Retention {
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Set a borrower's email address or WeChat open id (the channels the borrower file does
    /// not carry).
    Address {
        borrower: String,
        /// email or wechat.
        #[arg(long)]
        channel: String,
        #[arg(long)]
        address: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// A borrower's emergency contacts; with --name, --relation and --mobile, add one (or update
    /// the one with that mobile). They are called only to locate the borrower, only with their
    /// consent (--consent-on DATE).
    Emergency {
        borrower: String,
        #[arg(long, requires_all = ["relation", "mobile"])]
        name: Option<String>,
        #[arg(long)]
        relation: Option<String>,
        #[arg(long)]
        mobile: Option<String>,
        #[arg(long)]
        consent_on: Option<String>,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
    /// The contacts the rules refused, newest first.
    Blocked {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
    },
}

fn blocked_line(b: &BlockedContactRecord) -> String {
    format!(
        "{:>6}  {}  {:<10} {:<7} {:<20} by {}  {}",
        b.id,
        b.contact.attempted_at,
        b.loan_external_id,
        b.contact.channel,
        b.contact.rule,
        b.username.as_deref().unwrap_or("-"),
        b.contact.reason
    )
}

pub async fn run(store: &Store, command: &ContactCommand) -> Result<()> {
    match command {
        ContactCommand::Rules { set, user } => {
            let doc = match (set, user) {
                (Some(path), Some(user)) => {
                    let actor = team::actor(store, user).await?;
                    let text = std::fs::read_to_string(path)?;
                    contact::set_rules(store, &actor, &text).await?
                }
                (Some(_), None) => anyhow::bail!("--set needs --as USER (the administrator)"),
                (None, _) => contact::show_rules(store).await?,
            };
            say!("{}", serde_json::to_string_pretty(&doc)?);
        }
        ContactCommand::OptOut {
            borrower,
            channel,
            note,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            let changed =
                contact::set_opt_out(store, &actor, borrower, channel, true, note).await?;
            say!(
                "{borrower}: opted out of {channel}{}",
                if changed { "" } else { " (already)" }
            );
        }
        ContactCommand::OptIn {
            borrower,
            channel,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            let changed = contact::set_opt_out(store, &actor, borrower, channel, false, "").await?;
            say!(
                "{borrower}: {}",
                if changed {
                    format!("opt-out of {channel} lifted")
                } else {
                    format!("had not opted out of {channel}")
                }
            );
        }
        ContactCommand::OptOuts { borrower, user } => {
            let actor = team::actor(store, user).await?;
            for o in contact::opt_outs(store, &actor, borrower).await? {
                say!("{:<7} since {}  {}", o.channel, o.since_on, o.note);
            }
        }
        ContactCommand::Retention { user, json } => {
            let actor = team::actor(store, user).await?;
            let r = contact::retention(store, &actor).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                say!(
                    "contacts are kept {} years at least; nothing deletes one. Oldest: {} (kept until {})",
                    r.retention_years,
                    r.oldest.as_deref().unwrap_or("none"),
                    r.oldest_kept_until.as_deref().unwrap_or("-")
                );
                for y in &r.years {
                    say!(
                        "{}  {:>9} recorded {:>7} refused",
                        y.year,
                        y.contacts,
                        y.refused
                    );
                }
            }
        }
        ContactCommand::Address {
            borrower,
            channel,
            address,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            let request = views::AddressRequest {
                channel: channel.clone(),
                address: address.clone(),
            };
            contact::set_address(store, &actor, borrower, &request).await?;
            say!("{borrower}: {channel} address set");
        }
        ContactCommand::Emergency {
            borrower,
            name,
            relation,
            mobile,
            consent_on,
            user,
        } => {
            let actor = team::actor(store, user).await?;
            if let (Some(name), Some(relation), Some(mobile)) = (name, relation, mobile) {
                let request = views::EmergencyContactRequest {
                    name: name.clone(),
                    relation: relation.clone(),
                    mobile: mobile.clone(),
                    consent_on: consent_on.clone(),
                };
                contact::set_emergency_contact(store, &actor, borrower, &request).await?;
            }
            for c in contact::emergency_contacts(store, &actor, borrower).await? {
                say!(
                    "{:>5}  {:<10} {:<6} {}  consent: {}",
                    c.id,
                    c.name,
                    c.relation,
                    c.mobile,
                    c.consent_on.as_deref().unwrap_or("none")
                );
            }
        }
        ContactCommand::Blocked { limit, user } => {
            let actor = team::actor(store, user).await?;
            for b in contact::blocked(store, &actor, *limit).await? {
                say!("{}", blocked_line(&b));
            }
        }
    }
    Ok(())
}

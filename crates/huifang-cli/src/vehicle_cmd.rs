//! `huifang vehicle show|sweep|rules|places|views`: vehicle monitoring (`huifang_app::vehicles`).
//! Tracker events and places come in with `huifang import tracker-events|places FILE` or the
//! vendors' signed webhook.

use anyhow::Result;
use clap::Subcommand;
use huifang_app::team;
use huifang_app::vehicles;
use huifang_app::views::{SweepView, VehicleView};
use huifang_core::policy::Policy;
use huifang_store::Store;

#[derive(Debug, Subcommand)]
pub enum VehicleCommand {
    /// A loan's vehicle: its trackers' last positions, the stay being timed, the signals and
    /// the latest events (risk officers, and collectors on an open repossession case; the view
    /// is logged).
    Show {
        /// The loan's external id.
        loan: String,
        /// The user to act as (for the machine's operator, who holds the database): their role and
        /// team apply, and what is done is recorded as theirs.
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Signal the wired trackers silent for the rules' hours and delete the tracker events older
    /// than the retention period (`serve` does this every few minutes).
    Sweep {
        /// The moment to judge at (RFC 3339); default now.
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show the monitoring's rules, or replace them with a JSON file (risk officers, admins).
    Rules {
        #[arg(long = "as")]
        user: String,
        /// A JSON file of the rules (as shown).
        #[arg(long)]
        set: Option<std::path::PathBuf>,
    },
    /// The known pawn shops and used-car markets.
    Places {
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// The log of location views, newest first (auditors).
    Views {
        #[arg(long = "as")]
        user: String,
        /// Only this loan's.
        #[arg(long)]
        loan: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The vehicle page as text.
pub fn vehicle_text(v: &VehicleView) -> String {
    let mut out = format!(
        "loan {}  VIN {}  province of registration {} {}\n",
        v.loan,
        v.vin,
        v.province,
        v.province_name.as_deref().unwrap_or("")
    );
    out.push_str("trackers:\n");
    for t in &v.trackers {
        let at = match (&t.last_position, &t.last_position_at) {
            (Some(p), Some(when)) => format!("at {},{} ({when})", p.lat, p.lon),
            _ => "no position".to_string(),
        };
        out.push_str(&format!(
            "  {:<16} {:<8} last seen {} ({} h){}  {at}\n",
            t.device,
            t.tracker,
            t.last_seen,
            t.silent_hours,
            if t.offline { "  OFFLINE" } else { "" }
        ));
    }
    if let Some(s) = &v.stay {
        out.push_str(&format!(
            "staying near {} ({}) since {} ({} h)\n",
            s.place, s.kind, s.since, s.hours
        ));
    }
    out.push_str("signals:\n");
    for s in &v.signals {
        out.push_str(&format!(
            "  {}  {:<26} {}\n",
            s.observed_on, s.kind, s.value
        ));
    }
    out.push_str("latest events:\n");
    for e in &v.events {
        let at = e
            .position
            .as_ref()
            .map(|p| format!("{},{}", p.lat, p.lon))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {}  {:<16} {:<8} {:<10} {at}\n",
            e.at, e.device, e.tracker, e.event
        ));
    }
    out
}

fn sweep_text(s: &SweepView) -> String {
    let mut out = format!(
        "{} tracker(s) offline; {} event(s) past the retention period deleted\n",
        s.offline.len(),
        s.purged
    );
    for f in &s.offline {
        out.push_str(&format!("  {}  {}  {}\n", f.loan, f.kind, f.detail));
    }
    out
}

pub async fn run(store: &Store, policy: &Policy, command: &VehicleCommand) -> Result<()> {
    match command {
        VehicleCommand::Show { loan, user, json } => {
            let actor = team::actor(store, user).await?;
            let view = vehicles::vehicle(store, &actor, loan).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                say_text!("{}", vehicle_text(&view));
            }
        }
        VehicleCommand::Sweep { now, json } => {
            let now = crate::output::now_or(now.as_deref())?;
            let view = vehicles::sweep(store, policy, now).await?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                say_text!("{}", sweep_text(&view));
            }
        }
        VehicleCommand::Rules { user, set } => {
            let actor = team::actor(store, user).await?;
            let doc = match set {
                None => vehicles::show_settings(store, &actor).await?,
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    vehicles::set_settings(store, &actor, &text).await?
                }
            };
            say!("{}", serde_json::to_string_pretty(&doc)?);
        }
        VehicleCommand::Places { user, json } => {
            let actor = team::actor(store, user).await?;
            let places = vehicles::places(store, &actor).await?;
            crate::output::list(&places, *json, |p| {
                format!(
                    "{:<12} {:<16} {},{} r={} m  {}",
                    p.external_id, p.kind, p.lat, p.lon, p.radius_m, p.name
                )
            })?;
        }
        VehicleCommand::Views { user, loan, json } => {
            let actor = team::actor(store, user).await?;
            let rows = vehicles::location_views(store, &actor, loan.as_deref()).await?;
            crate::output::list(&rows, *json, |v| {
                format!(
                    "{:>6}  {}  {:<12} {:<12} business date {}",
                    v.id, v.viewed_at, v.username, v.loan, v.business_date
                )
            })?;
        }
    }
    Ok(())
}

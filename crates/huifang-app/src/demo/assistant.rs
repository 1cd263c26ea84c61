//! The demo's share of welcome calls taken by the follow-up assistant: welcome calls by IVR, two
//! in five of them, on the morning the team starts. The borrowers answer as a telephony
//! provider would report: most answer every question cleanly (the task done), some ask for a
//! person, say the car is sold, say the car is not delivered yet, or never pick up (each handed
//! to the team with the transcript). The calls are placed through a stand-in for the telephony
//! provider, whose reports the borrowers' answers are.

use chrono::{DateTime, Duration, Utc};
use huifang_core::assistant::{AssistantRules, Flow};
use huifang_core::followup::TaskKind;
use huifang_store::Store;

use crate::assistant::{Said, converse, heard, put_rules, run_once};
use crate::notify::{DeliveryOptions, deliver_once};
use crate::ports::{Courier, Outgoing, PortError};
use crate::{AppError, require_business_date};

/// The demo's telephony provider: it places the assistant's calls (the borrowers' answers below
/// are what it reports).
struct DemoTelephone;

impl Courier for DemoTelephone {
    fn channels(&self) -> Vec<huifang_core::outcome::Channel> {
        vec![huifang_core::outcome::Channel::Phone]
    }

    fn send(
        &self,
        message: &Outgoing,
    ) -> impl std::future::Future<Output = Result<String, PortError>> + Send {
        let id = format!("demo-call-{}", message.id);
        async move { Ok(id) }
    }
}

/// The assistant's pass at `now`, its calls placed.
async fn pass(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<crate::views::AssistantRunView, AppError> {
    let run = run_once(store, now).await?;
    deliver_once(store, &DemoTelephone, now, DeliveryOptions::default(), || 0).await?;
    Ok(run)
}

/// What a demo borrower says to each question, by the task's id.
fn answers(task_id: i64) -> Option<Vec<&'static str>> {
    match task_id.rem_euclid(10) {
        0 => Some(vec!["0"]),
        1 => Some(vec!["钱已经到了，车已经卖了"]),
        2 => Some(vec!["1", "还没有交车"]),
        3 => None, // never picks up
        _ => Some(vec!["1", "是的", "1", "对，都确认了", "知道", "1"]),
    }
}

pub async fn demo_assistant(store: &Store) -> Result<String, AppError> {
    let date = {
        let mut tx = store.begin().await?;
        let date = require_business_date(&mut tx).await?;
        tx.rollback().await?;
        date
    };
    put_rules(
        store,
        &AssistantRules {
            flows: [(TaskKind::WelcomeCall, Flow::Ivr)].into(),
            share_pct: 40,
            ..AssistantRules::default()
        },
    )
    .await?;
    // 10:30 in Beijing on the business date
    let morning: DateTime<Utc> = date
        .and_hms_opt(2, 30, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| AppError::Invalid("the demo's morning".into()))?;
    let started = pass(store, morning).await?.started;
    let tasks = {
        let mut tx = store.begin().await?;
        let s = tx.late_assistant_sessions("9999", 10_000).await?;
        tx.rollback().await?;
        s
    };
    for s in &tasks {
        let Some(said) = answers(s.task_id.get()) else {
            continue;
        };
        let mut tx = store.begin().await?;
        crate::lock_for_contacts(&mut tx).await?;
        let mut at = morning + Duration::minutes(2);
        converse(&mut tx, s.task_id, Said::Hello, at).await?;
        for text in said {
            at += Duration::seconds(20);
            if converse(&mut tx, s.task_id, Said::Heard(heard(text)), at)
                .await?
                .action
                == "hangup"
            {
                break;
            }
        }
        tx.commit().await?;
    }
    // the calls never picked up: called again after the wait, until the asks run out
    let mut handed = 0;
    for n in 1..=3 {
        handed += pass(store, morning + Duration::minutes(31 * n))
            .await?
            .handed_over;
    }
    Ok(format!(
        "the assistant took {started} welcome calls by IVR ({handed} never answered, handed to the team)"
    ))
}

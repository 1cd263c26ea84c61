//! Message templates against real databases: the defaults for every event, language and
//! channel; a template set by the administrator (refused to others, and refused naming the part
//! and field when it uses a field its event does not fill, changing nothing); previews with a
//! loan's facts: the overdue notice, the next installment's reminder, the promise confirmation.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::AppError;
use huifang_app::team::{self, OutcomeInput};
use huifang_app::templates::{self, TemplateKey};
use huifang_core::policy::Policy;
use huifang_testkit::{Dbs, on_both};
use support::{book, d, task};

on_both!(templates_are_set_checked_and_previewed);

fn key(event: &str, lang: &str, channel: &str) -> TemplateKey {
    TemplateKey::parse(event, lang, channel).unwrap()
}

async fn templates_are_set_checked_and_previewed(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    book(&store, 1).await;
    let policy = Policy::default();
    let (admin, risk, a1) = (
        team::actor(&store, "admin").await.unwrap(),
        team::actor(&store, "risk").await.unwrap(),
        team::actor(&store, "a1").await.unwrap(),
    );

    // five events × two languages × three channels, all defaults at first
    let all = templates::list(&store).await.unwrap();
    assert_eq!(all.len(), 36);
    assert!(all.iter().all(|t| t.set_on.is_none()));
    assert!(matches!(
        TemplateKey::parse("birthday", "zh", "sms"),
        Err(AppError::Field { field: "event", .. })
    ));
    assert!(matches!(
        TemplateKey::parse("welcome", "fr", "sms"),
        Err(AppError::Field { field: "lang", .. })
    ));
    assert!(matches!(
        TemplateKey::parse("welcome", "zh", "phone"),
        Err(AppError::Field {
            field: "channel",
            ..
        })
    ));

    // the overdue notice of L1 (33 days past its 2026-02-15 installment on 2026-03-20)
    let overdue = templates::preview(
        &store,
        &policy,
        &risk,
        key("overdue_notice", "zh", "sms"),
        "L1",
    )
    .await
    .unwrap();
    assert_eq!(overdue.subject, "");
    assert_eq!(
        overdue.body,
        "张1您好，您的车贷（合同L1）自 2026-02-15 起已逾期 33 天，应还 2150.38 元，请尽快还款，以免产生更多罚息并影响您的信用记录。"
    );
    let reminder = templates::preview(
        &store,
        &policy,
        &risk,
        key("reminder_before", "en", "email"),
        "L1",
    )
    .await
    .unwrap();
    assert_eq!(reminder.subject, "Repayment reminder");
    assert!(
        reminder.body.starts_with("Dear 张1, the installment of "),
        "{}",
        reminder.body
    );
    assert!(
        reminder.body.contains("is due on 2026-04-15, in 26 days"),
        "{}",
        reminder.body
    );
    assert!(matches!(
        templates::preview(&store, &policy, &a1, key("welcome", "zh", "sms"), "L1").await,
        Err(AppError::Forbidden(_))
    ));

    // a promise confirmation needs a promise
    let confirm = key("promise_confirmation", "zh", "wechat");
    assert!(matches!(
        templates::preview(&store, &policy, &risk, confirm, "L1").await,
        Err(AppError::Conflict(_))
    ));
    let t = task(&store, 1, "p", "followup", "2026-03-20").await;
    team::record_outcome(
        &store,
        &a1,
        t,
        &OutcomeInput {
            channel: "phone".into(),
            outcome: "promise_to_pay".into(),
            amount: Some("3000".into()),
            date: Some(d("2026-03-25")),
            idempotency_key: "p1".into(),
            occurred_at: Some("2026-03-20T02:00:00Z".into()),
            ..OutcomeInput::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        templates::preview(&store, &policy, &risk, confirm, "L1")
            .await
            .unwrap()
            .body,
        "张1您好，您已承诺于 2026-03-25 前归还车贷（合同L1）3000.00 元，感谢您的配合。"
    );

    // set by the administrator only; a field outside the event refused, nothing changed
    let due = key("reminder_due", "zh", "sms");
    let body = "{name}：今天是还款日（{due_date}），请还 {amount} 元。";
    assert!(matches!(
        templates::set(&store, &a1, due, "", body).await,
        Err(AppError::Forbidden(_))
    ));
    let e = templates::set(&store, &admin, due, "", "{name} {promise_amount}")
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("body: {promise_amount} is not a field of reminder_due"),
        "{e}"
    );
    let e = templates::set(&store, &admin, key("welcome", "zh", "email"), "", "{name}")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("subject: required for email"), "{e}");
    assert!(
        templates::list(&store)
            .await
            .unwrap()
            .iter()
            .all(|t| t.set_on.is_none())
    );
    let set = templates::set(&store, &admin, due, "", body).await.unwrap();
    assert_eq!(set.set_on.as_deref(), Some("2026-03-20"));
    assert_eq!(templates::show(&store, due).await.unwrap().body, body);
    assert_eq!(
        templates::show(&store, key("reminder_due", "en", "sms"))
            .await
            .unwrap()
            .set_on,
        None,
        "the other language keeps its default"
    );
    let m = templates::preview(&store, &policy, &risk, due, "L1")
        .await
        .unwrap();
    assert!(
        m.body.starts_with("张1：今天是还款日（2026-04-15），请还 "),
        "{}",
        m.body
    );
}

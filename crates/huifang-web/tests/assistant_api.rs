//! The follow-up assistant end to end over a real server on 127.0.0.1, with the telephony and
//! SMS gateways on loopback playing the providers: welcome calls by IVR and repayment reminders
//! by SMS. The contact-hour rule keeps the assistant from starting at night and holds its prompt
//! until morning; a clean IVR welcome call closes its task; a risk answer by speech, a request
//! for a person by keypad and a borrower who never answers each hand the task to an agent's
//! queue with the transcript; an SMS conversation completes on the borrower's replies; the IVR
//! webhook refuses a bad signature and a replay; the report gives each flow's rates; a task
//! reassigned meanwhile ends its conversation; a WeChat conversation completes on the WeChat
//! callback's replies.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "../../huifang-app/tests/support/team_fixture.rs"]
mod support;

mod api;

use std::sync::atomic::{AtomicU64, Ordering};

use api::{Api, Console};
use chrono::{DateTime, Duration, Utc};
use huifang_adapters::Couriers;
use huifang_app::assistant;
use huifang_app::notify::{self, DeliveryOptions};
use huifang_app::views::DeliveryView;
use huifang_core::TaskId;
use huifang_store::Store;
use huifang_testkit::gateway::{FakeGateway, Flaky};
use huifang_testkit::{Dbs, on_both};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{book, task_of_kind};

on_both!(the_assistant_takes_first_contact_by_ivr_and_sms_and_hands_over_what_needs_a_person);

const SECRET: &str = "a-shared-secret-of-the-providers";

async fn deliver(store: &Store, now: DateTime<Utc>) -> DeliveryView {
    let couriers = Couriers::from_doc(&notify::load_channels(store).await.unwrap()).unwrap();
    notify::deliver_once(store, &couriers, now, DeliveryOptions::default(), || 500)
        .await
        .unwrap()
}

static TASKS: AtomicU64 = AtomicU64::new(0);

/// A task of `kind` on loan `L{loan}` in the follow-up queue, due on the business date.
async fn task_of(store: &Store, loan: usize, kind: &str) -> TaskId {
    let n = TASKS.fetch_add(1, Ordering::Relaxed);
    task_of_kind(
        store,
        loan,
        kind,
        &format!("{kind}:{n}"),
        "followup",
        "2026-03-20",
    )
    .await
}

/// Posts `body` to `path` signed now with `secret`.
async fn signed(api: &Api, path: &str, body: &Value, secret: &str) -> (StatusCode, Value) {
    let text = body.to_string();
    let ts = Utc::now().timestamp().to_string();
    let sig = notify::sign(secret, &ts, text.as_bytes());
    let resp = api
        .client
        .post(format!("{}{path}", api.base))
        .header("Content-Type", "application/json")
        .header("X-Huifang-Timestamp", &ts)
        .header("X-Huifang-Signature", &sig)
        .body(text)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn ivr(api: &Api, call: &str, event: &str, extra: Value) -> Value {
    static EVENTS: AtomicU64 = AtomicU64::new(0);
    let n = EVENTS.fetch_add(1, Ordering::Relaxed);
    let mut body = json!({"id": format!("ev-{n}"), "call": call, "event": event});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, b) = signed(api, "/api/v1/assistant/ivr", &body, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{event}: {b}");
    b
}

async fn sms_reply(api: &Api, text: &str) -> Value {
    let body = json!({"events": [{"type": "reply", "from": "13800138000", "text": text}]});
    let (s, b) = signed(api, "/api/v1/channels/sms/callbacks", &body, SECRET).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b
}

async fn the_assistant_takes_first_contact_by_ivr_and_sms_and_hands_over_what_needs_a_person(
    dbs: &mut Dbs,
) {
    let store = dbs.fresh().await;
    book(&store, 5).await;
    let api = Api::start(&store).await;
    let (admin, lead, a1) = (
        api.login("admin").await,
        api.login("lead_fu").await,
        api.login("a1").await,
    );
    let phone = FakeGateway::start("phone-token", Flaky::RELIABLE).await;
    let sms = FakeGateway::start("sms-token", Flaky::RELIABLE).await;
    let doc = json!({
        "phone": {"url": phone.url(), "token": phone.token},
        "sms": {"url": sms.url(), "token": sms.token},
        "webhook_secret": SECRET,
    });
    let (s, b) = api
        .call("PUT", "/api/v1/channels", Some(&admin), None, Some(doc))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // the rules: a kind it may not take is refused by field; welcome calls by IVR, reminders by SMS
    let bad = json!({"flows": {"collection_call": "sms"}, "share_pct": 100, "asks": 2, "wait_minutes": 30});
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/assistant/rules",
            Some(&admin),
            None,
            Some(bad),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("flows.collection_call"),
        "{b}"
    );
    let rules = json!({"flows": {"welcome_call": "ivr", "repayment_reminder": "sms"},
                       "share_pct": 100, "asks": 2, "wait_minutes": 30});
    let (s, _) = api
        .call(
            "PUT",
            "/api/v1/assistant/rules",
            Some(&a1),
            None,
            Some(rules.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents do not set the rules");
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/assistant/rules",
            Some(&admin),
            None,
            Some(rules),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let chat = task_of(&store, 1, "repayment_reminder").await; // B1: the replies' mobile
    let clean = task_of(&store, 2, "welcome_call").await;
    let risky = task_of(&store, 3, "welcome_call").await;
    let silent = task_of(&store, 4, "repayment_reminder").await;
    let person = task_of(&store, 5, "welcome_call").await;

    // the passes run at chosen moments of the next day in Beijing (UTC+8): 22:00 is outside the
    // contact hours (08:00–21:00), 10:00 inside
    let day = (Utc::now() + Duration::days(1)).date_naive();
    let morning = day.and_hms_opt(2, 0, 0).unwrap().and_utc(); // 10:00 in Beijing
    let night = morning + Duration::hours(12); // 22:00
    let v = assistant::run_once(&store, night).await.unwrap();
    assert_eq!((v.started, v.waiting), (0, 5), "{v:?}");
    assert!(sms.log().delivered.is_empty() && phone.log().delivered.is_empty());
    let v = assistant::run_once(&store, morning).await.unwrap();
    assert_eq!(v.started, 5, "{v:?}");
    let v = assistant::run_once(&store, morning).await.unwrap();
    assert_eq!(v.started, 0, "a task is taken once");
    let (_, t) = api
        .get(&format!("/api/v1/tasks/{clean}"), Some(&lead))
        .await;
    assert_eq!(t["task"]["assignee"], "huifang-assistant", "{t}");
    let (_, mine) = api.get("/api/v1/tasks", Some(&a1)).await;
    assert!(
        !mine.to_string().contains(&format!("\"id\":{clean},")),
        "the assistant's tasks are in no agent's queue: {mine}"
    );

    // the outbox hands the prompts to the providers: three IVR calls, two text messages
    let r = deliver(&store, morning).await;
    assert_eq!((r.claimed, r.sent), (5, 5), "{r:?}");
    let calls = phone.log().delivered;
    assert_eq!(calls.len(), 3);
    for (path, body, _) in calls.values() {
        assert_eq!(
            (path.as_str(), body["event"].as_str()),
            ("/calls", Some("assistant"))
        );
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("贷款资金是否已到达经销商")
        );
    }
    let texts = sms.log().delivered;
    assert_eq!(texts.len(), 2);
    for (_, body, _) in texts.values() {
        let text = body["text"].as_str().unwrap();
        assert!(
            text.contains("（1/2）") && text.contains("回复 0 转人工"),
            "{text}"
        );
    }
    let (_, page) = api.get("/api/v1/messages?channel=phone", Some(&lead)).await;
    let call_of = |task: TaskId| {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["task_id"] == task.get())
            .and_then(|m| m["provider_id"].as_str())
            .unwrap()
            .to_string()
    };

    // the IVR webhook is signed: a wrong secret and a replay are refused
    let body = json!({"call": call_of(clean), "event": "answered"});
    let (s, _) = signed(
        &api,
        "/api/v1/assistant/ivr",
        &body,
        "not-the-providers-secret",
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // a clean welcome call: six questions answered by keypad and speech, the task done
    let call = call_of(clean);
    let first = ivr(&api, &call, "answered", json!({})).await;
    assert_eq!(first["action"], "ask");
    assert!(first["say"].as_str().unwrap().contains("按1"), "{first}");
    let text = body_text(&json!({"call": call, "event": "input", "digits": "1"}));
    let ts = Utc::now().timestamp().to_string();
    let sig = notify::sign(SECRET, &ts, text.as_bytes());
    let post = || {
        api.client
            .post(format!("{}/api/v1/assistant/ivr", api.base))
            .header("X-Huifang-Timestamp", &ts)
            .header("X-Huifang-Signature", &sig)
            .body(text.clone())
            .send()
    };
    assert_eq!(post().await.unwrap().status(), StatusCode::OK);
    let replay = post().await.unwrap();
    assert_eq!(
        replay.status(),
        StatusCode::UNAUTHORIZED,
        "a replay is refused"
    );
    for said in [
        json!({"speech": "是的，车已经交付了"}),
        json!({"digits": "1"}),
        json!({"speech": "对"}),
        json!({"speech": "知道"}),
    ] {
        assert_eq!(ivr(&api, &call, "input", said).await["action"], "ask");
    }
    let last = ivr(&api, &call, "input", json!({"digits": "1"})).await;
    assert_eq!(
        last,
        json!({"action": "hangup", "say": "感谢您的配合，再见。"})
    );
    let (_, t) = api
        .get(&format!("/api/v1/tasks/{clean}"), Some(&lead))
        .await;
    assert_eq!(
        (t["task"]["state"].as_str(), t["task"]["outcome"].as_str()),
        (Some("done"), Some("reached")),
        "{t}"
    );
    let contact = &t["interactions"][0];
    assert_eq!(contact["channel"], "phone");
    let notes = contact["notes"].as_str().unwrap();
    assert!(
        notes.starts_with("智能回访完成") && notes.contains("借款人：是的，车已经交付了"),
        "{notes}"
    );
    let (s, conv) = api
        .get(&format!("/api/v1/tasks/{clean}/assistant"), Some(&lead))
        .await;
    assert_eq!(s, StatusCode::OK, "{conv}");
    assert_eq!(conv["state"], "completed");
    assert_eq!(conv["answers"]["vehicle_delivered"], "yes");
    assert_eq!(conv["transcript"].as_array().unwrap().len(), 12);
    // a hang-up after the end is answered with goodbye and changes nothing
    assert_eq!(
        ivr(&api, &call, "hangup", json!({})).await["action"],
        "hangup"
    );

    // a risk answer by speech: the text reader hears the car sold; to an agent with the transcript
    let call = call_of(risky);
    ivr(&api, &call, "answered", json!({})).await;
    let end = ivr(
        &api,
        &call,
        "input",
        json!({"speech": "钱已经到了，车已经卖了"}),
    )
    .await;
    assert_eq!(end["action"], "hangup");
    assert!(end["say"].as_str().unwrap().contains("客服专员"), "{end}");
    let (_, t) = api
        .get(&format!("/api/v1/tasks/{risky}"), Some(&lead))
        .await;
    assert_eq!(
        (t["task"]["state"].as_str(), &t["task"]["assignee"]),
        (Some("open"), &Value::Null),
        "back in its queue, unassigned: {t}"
    );
    let notes = t["interactions"][0]["notes"].as_str().unwrap();
    assert!(
        notes.contains("转人工：风险回答（vehicle_sold）") && notes.contains("车已经卖了"),
        "{notes}"
    );
    let (_, conv) = api
        .get(&format!("/api/v1/tasks/{risky}/assistant"), Some(&lead))
        .await;
    assert_eq!(
        (conv["state"].as_str(), conv["reason"].as_str()),
        (Some("handed_over"), Some("risk"))
    );
    let risk = api.login("risk").await;
    let (_, w) = api.get("/api/v1/warnings?loan=L3", Some(&risk)).await;
    assert_eq!(
        w["warnings"][0]["rule"], "vehicle_sold",
        "the signal is weighed: {w}"
    );

    // a request for a person by keypad
    let call = call_of(person);
    ivr(&api, &call, "answered", json!({})).await;
    assert_eq!(
        ivr(&api, &call, "input", json!({"digits": "0"})).await["action"],
        "hangup"
    );
    let (_, conv) = api
        .get(&format!("/api/v1/tasks/{person}/assistant"), Some(&lead))
        .await;
    assert_eq!(conv["reason"], "person");
    // the agent takes the handed-over tasks from the queue and works them
    let (_, mine) = api.get("/api/v1/tasks", Some(&a1)).await;
    for t in [risky, person] {
        assert!(
            mine.to_string().contains(&format!("\"id\":{t},")),
            "{t}: {mine}"
        );
    }

    // SMS: the borrower's replies are the answers; the next prompt waits for the contact hours
    let b = sms_reply(&api, "知道了").await;
    assert_eq!(b["assistant_answers"], 1, "{b}");
    let r = deliver(&store, night).await;
    assert_eq!((r.held, r.sent), (1, 0), "held at 22:00: {r:?}");
    let r = deliver(&store, morning + Duration::days(1)).await;
    assert_eq!(r.sent, 1, "sent when the hours open: {r:?}");
    let second = sms
        .log()
        .delivered
        .values()
        .map(|(_, b, _)| b["text"].as_str().unwrap().to_string())
        .find(|t| t.contains("（2/2）"))
        .expect("the second question sent");
    assert!(second.contains("是否能按时足额还款"), "{second}");
    sms_reply(&api, "可以的").await;
    let (_, t) = api.get(&format!("/api/v1/tasks/{chat}"), Some(&lead)).await;
    assert_eq!(t["task"]["state"], "done", "{t}");
    assert_eq!(t["interactions"][0]["channel"], "sms");

    // no answer: asked again after the wait, then handed over when the asks (2) run out
    let v = assistant::run_once(&store, morning + Duration::minutes(31))
        .await
        .unwrap();
    assert_eq!((v.asked_again, v.handed_over), (1, 0), "{v:?}");
    let v = assistant::run_once(&store, morning + Duration::minutes(45))
        .await
        .unwrap();
    assert_eq!(
        (v.asked_again, v.handed_over),
        (0, 0),
        "not late yet: {v:?}"
    );
    let v = assistant::run_once(&store, morning + Duration::minutes(62))
        .await
        .unwrap();
    assert_eq!((v.asked_again, v.handed_over), (0, 1), "{v:?}");
    let (_, t) = api
        .get(&format!("/api/v1/tasks/{silent}"), Some(&lead))
        .await;
    assert_eq!(t["task"]["state"], "open");
    assert_eq!(t["interactions"][0]["outcome"], "no_answer");
    assert!(
        t["interactions"][0]["notes"]
            .as_str()
            .unwrap()
            .contains("多次询问未获回答")
    );

    // the report: per flow, completion and hand-over rates of the conversations ended
    let (s, rows) = api.get("/api/v1/assistant/report", Some(&lead)).await;
    assert_eq!(s, StatusCode::OK, "{rows}");
    let row = |kind: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == kind)
            .unwrap()
            .clone()
    };
    let ivr_row = row("welcome_call");
    assert_eq!(
        (
            &ivr_row["flow"],
            &ivr_row["started"],
            &ivr_row["completed"],
            &ivr_row["handed_over"]
        ),
        (&json!("ivr"), &json!(3), &json!(1), &json!(2))
    );
    assert_eq!(ivr_row["completion_pct"], "33.3");
    assert_eq!(ivr_row["hand_over_pct"], "66.7");
    assert_eq!(ivr_row["reasons"], json!({"person": 1, "risk": 1}));
    let sms_row = row("repayment_reminder");
    assert_eq!(
        (&sms_row["completed"], &sms_row["handed_over"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(sms_row["reasons"], json!({"no_answer": 1}));
    assert_eq!(sms_row["completion_pct"], "50.0");

    // in the console: the reports' collection page has the flows' rates, and the task the
    // transcript
    let console = Console::signed_in(&api.base, "lead_fu").await;
    let (s, html) = console.get("/reports?name=collection").await;
    assert_eq!(s, StatusCode::OK);
    let table = html
        .split("智能回访（按流程）")
        .nth(1)
        .expect("the assistant's table");
    assert!(
        table.contains("<td>ivr</td>") && table.contains("<td>33.3</td>"),
        "{table}"
    );
    let (_, html) = console.get(&format!("/tasks/{risky}")).await;
    assert!(html.contains("转人工：风险回答"), "{html}");

    // a task a team lead reassigns while the assistant talks is no longer its own: the
    // conversation ends as closed, nothing recorded, and the reply is read as any other
    let again = task_of(&store, 1, "repayment_reminder").await;
    let v = assistant::run_once(&store, morning + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(v.started, 1, "{v:?}");
    let (s, b) = api
        .call(
            "POST",
            &format!("/api/v1/tasks/{again}/reassign"),
            Some(&lead),
            None,
            Some(json!({"to": "a2"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let b = sms_reply(&api, "知道").await;
    assert_eq!(b["assistant_answers"], 0, "{b}");
    let (_, conv) = api
        .get(&format!("/api/v1/tasks/{again}/assistant"), Some(&lead))
        .await;
    assert_eq!(
        (conv["state"].as_str(), conv["reason"].as_str()),
        (Some("closed"), Some("reassigned"))
    );
    let (_, t) = api
        .get(&format!("/api/v1/tasks/{again}"), Some(&lead))
        .await;
    assert_eq!(t["task"]["assignee"], "a2");
    // the loan's contacts: the first reminder's conversation only
    assert_eq!(t["interactions"].as_array().unwrap().len(), 1, "{t}");
    let (_, rows) = api.get("/api/v1/assistant/report", Some(&lead)).await;
    assert!(rows.to_string().contains(r#""closed":1"#), "{rows}");

    // WeChat: reminders by WeChat now; the prompt goes to the borrower's WeChat address and the
    // replies on the WeChat callback are the answers
    let wechat = FakeGateway::start("wechat-token", Flaky::RELIABLE).await;
    let doc = json!({
        "phone": {"url": phone.url(), "token": phone.token},
        "sms": {"url": sms.url(), "token": sms.token},
        "wechat": {"url": wechat.url(), "token": wechat.token},
        "webhook_secret": SECRET,
    });
    let (s, b) = api
        .call("PUT", "/api/v1/channels", Some(&admin), None, Some(doc))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/borrowers/B1/addresses",
            Some(&a1),
            None,
            Some(json!({"channel": "wechat", "address": "o-borrower-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rules = json!({"flows": {"repayment_reminder": "wechat"},
                       "share_pct": 100, "asks": 2, "wait_minutes": 30});
    let (s, b) = api
        .call(
            "PUT",
            "/api/v1/assistant/rules",
            Some(&admin),
            None,
            Some(rules),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let by_wechat = task_of(&store, 1, "repayment_reminder").await;
    let later = morning + Duration::hours(3);
    assert_eq!(assistant::run_once(&store, later).await.unwrap().started, 1);
    deliver(&store, later).await;
    let sent = wechat.log().delivered;
    assert_eq!(sent.len(), 1);
    let (_, body, _) = sent.values().next().unwrap();
    assert_eq!(body["to"], "o-borrower-1");
    assert!(body["text"].as_str().unwrap().contains("（1/2）"), "{body}");
    for answer in ["1", "能按时还"] {
        let reply = json!({"events": [{"type": "reply", "from": "13800138000", "text": answer}]});
        let (s, b) = signed(&api, "/api/v1/channels/wechat/callbacks", &reply, SECRET).await;
        assert_eq!(
            (s, &b["assistant_answers"]),
            (StatusCode::OK, &json!(1)),
            "{b}"
        );
    }
    let (_, conv) = api
        .get(&format!("/api/v1/tasks/{by_wechat}/assistant"), Some(&lead))
        .await;
    assert_eq!(
        (conv["flow"].as_str(), conv["state"].as_str()),
        (Some("wechat"), Some("completed"))
    );
}

fn body_text(v: &Value) -> String {
    v.to_string()
}

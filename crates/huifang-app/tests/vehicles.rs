//! Vehicle monitoring against real databases: each default tracker signal built from event
//! sequences at its edges (the 48-hour silence, a stay of 23 h 59 min against 24 h, the
//! Shanghai–Jiangsu boundary of the shipped province data set), the warning each raises at
//! once; a file of events all-or-nothing and idempotent; tracks sealed at rest, kept for the
//! retention period; locations shown only to risk officers and repossession agents, every view
//! logged.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use chrono::{DateTime, Duration, Utc};
use huifang_app::files::{FileKind, ImportFormat, Source};
use huifang_app::rows::{BorrowerRow, LoanRow};
use huifang_app::warnings::{self, WarningFilter};
use huifang_app::{AppError, cases, import, policy, team, vehicles};
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::policy::Policy;
use huifang_core::schedule::Method;
use huifang_core::vehicle::Point;
use huifang_core::{Money, Rate};
use huifang_store::Store;
use huifang_testkit::{Dbs, on_both};
use sqlx::Row;
use support::{book, d};

on_both!(
    each_tracker_signal_raises_its_warning_at_its_edge,
    a_tracker_file_is_all_or_nothing_and_kept_once,
    locations_are_sealed_kept_for_their_period_and_shown_to_few,
);

/// 2026-03-20 08:00 in Beijing time: the first event of each sequence.
const T0: &str = "2026-03-20T00:00:00Z";

fn t0() -> DateTime<Utc> {
    T0.parse().unwrap()
}

/// `t0` + minutes, as a file writes it.
fn at(minutes: i64) -> String {
    (t0() + Duration::minutes(minutes)).to_rfc3339()
}

/// A resident ID number of the given region (six digits) with its check character.
fn resident_id(region: &str, serial: u32) -> ResidentId {
    let body = format!("{region}19850101{serial:03}");
    ResidentId::parse(&format!("{body}{}", ResidentId::check_character(&body))).unwrap()
}

/// A VIN of its own for loan `n`.
fn vin(n: usize) -> String {
    Vin::with_check_digit(&format!("LSVAM41{n:02}0C2{n:05}"))
        .unwrap()
        .as_str()
        .to_string()
}

/// The fixture's book (users, teams, L1) and loans V1..=V`count` of borrowers registered in
/// Shanghai (ID numbers 310101…), each on a VIN of its own; the places of the tests.
async fn monitored_book(store: &Store, count: usize) {
    book(store, 1).await;
    let borrowers: Vec<(usize, BorrowerRow)> = (1..=count)
        .map(|n| {
            (
                n + 1,
                BorrowerRow {
                    external_id: format!("SB{n}"),
                    name: format!("沪{n}"),
                    id_number: resident_id("310101", n as u32),
                    mobile: Mobile::parse("13900139000").unwrap(),
                    employer: "上海某公司".into(),
                    monthly_income: Money::parse("12000").unwrap(),
                    city: "上海市".into(),
                    contacts: Default::default(),
                },
            )
        })
        .collect();
    import::import_borrowers(store, &borrowers).await.unwrap();
    let loans: Vec<(usize, LoanRow)> = (1..=count)
        .map(|n| {
            (
                n + 1,
                LoanRow {
                    external_id: format!("V{n}"),
                    borrower_external_id: format!("SB{n}"),
                    product_code: "P3".into(),
                    principal: Money::parse("12000.00").unwrap(),
                    annual_rate: Rate::parse_annual("0.12").unwrap(),
                    term_months: 12,
                    method: Method::Annuity,
                    disbursed_on: d("2026-03-01"),
                    vin: Vin::parse(&vin(n)).unwrap(),
                    vehicle_model: "大众 朗逸".into(),
                    vehicle_price: Money::parse("150000").unwrap(),
                    dealer: "上海大众4S店".into(),
                },
            )
        })
        .collect();
    import::import_loans(store, &Policy::default(), &loans)
        .await
        .unwrap();
    huifang_app::rules::seed_default(store).await.unwrap();
    let places = "external_id,kind,name,lat,lon,radius_m\n\
                  PS1,pawn_shop,浦东某典当行,31.200000,121.550000,300\n\
                  UM1,used_car_market,闵行二手车市场,31.100000,121.400000,500\n";
    load(store, ImportFormat::Places, places).await.unwrap();
}

async fn load(
    store: &Store,
    format: ImportFormat,
    csv: &str,
) -> Result<import::ImportReport, AppError> {
    let policy = policy::load(store).await.unwrap();
    import::import_from(
        store,
        &policy,
        format,
        Source::Bytes(csv.as_bytes(), FileKind::Csv),
    )
    .await
}

/// Imports tracker events: (device, loan n, tracker, minutes after t0, lat, lon, event).
async fn events(
    store: &Store,
    rows: &[(&str, usize, &str, i64, &str, &str, &str)],
) -> Result<import::ImportReport, AppError> {
    let mut csv = String::from("device_id,vin,tracker,time,lat,lon,event\n");
    for (device, n, tracker, minutes, lat, lon, event) in rows {
        csv.push_str(&format!(
            "{device},{},{tracker},{},{lat},{lon},{event}\n",
            vin(*n),
            at(*minutes)
        ));
    }
    load(store, ImportFormat::TrackerEvents, &csv).await
}

/// The kinds of a loan's tracker signals, oldest first.
async fn signals(store: &Store, loan: &str) -> Vec<String> {
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .loan_ids_by_external_id(&[loan.to_string()])
        .await
        .unwrap()[loan];
    let out = tx
        .loan_signals(id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.0)
        .filter(|k| k.starts_with("gps_"))
        .collect();
    tx.rollback().await.unwrap();
    out
}

/// The loan's open warning: (level, rule).
async fn warning(store: &Store, loan: &str) -> Option<(u8, String)> {
    let risk = team::actor(store, "risk").await.unwrap();
    let filter = WarningFilter {
        all: false,
        level: None,
        loan: Some(loan.to_string()),
        limit: None,
    };
    warnings::list(store, &risk, &filter)
        .await
        .unwrap()
        .first()
        .map(|w| (w.warning.level, w.warning.rule.clone()))
}

async fn sweep(store: &Store, minutes: i64) -> huifang_app::views::SweepView {
    let policy = policy::load(store).await.unwrap();
    vehicles::sweep(store, &policy, t0() + Duration::minutes(minutes))
        .await
        .unwrap()
}

// Points of the shipped data set: People's Square; 2 km inside Shanghai and 2 km inside
// Jiangsu either side of the boundary west of Anting; the pawn shop and 250 m from it.
const SQUARE: (&str, &str) = ("31.230400", "121.473700");
const SH_EDGE: (&str, &str) = ("31.308800", "121.158600");
const JS_EDGE: (&str, &str) = ("31.321200", "121.119100");
const SHOP: (&str, &str) = ("31.200000", "121.550000");
const NEAR_SHOP: (&str, &str) = ("31.202250", "121.550000");

async fn each_tracker_signal_raises_its_warning_at_its_edge(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    monitored_book(&store, 6).await;

    // the shipped provinces: each city in its own
    for ((lat, lon), code) in [
        (SQUARE, "31"),
        (("31.298900", "120.585300"), "32"),
        (("39.904200", "116.407400"), "11"),
        (("23.129100", "113.264400"), "44"),
        (SH_EDGE, "31"),
        (JS_EDGE, "32"),
    ] {
        let p = Point::parse(lat, lon).unwrap();
        assert_eq!(
            vehicles::province_at(p).map(|r| r.0),
            Some(code),
            "{lat},{lon}"
        );
    }
    assert_eq!(vehicles::provinces().len(), 34);

    // V1: a wired tracker silent for 47 h 59 min is not offline; at 48 h it is, once
    events(
        &store,
        &[("W1", 1, "wired", 0, SQUARE.0, SQUARE.1, "position")],
    )
    .await
    .unwrap();
    assert!(sweep(&store, 48 * 60 - 1).await.offline.is_empty());
    assert_eq!(signals(&store, "V1").await, Vec::<String>::new());
    assert_eq!(warning(&store, "V1").await, None);
    let swept = sweep(&store, 48 * 60).await;
    assert_eq!(swept.offline.len(), 1, "{swept:?}");
    assert_eq!(swept.offline[0].loan, "V1");
    assert_eq!(swept.offline[0].at, at(48 * 60).replace("+00:00", "Z"));
    assert!(
        sweep(&store, 60 * 60).await.offline.is_empty(),
        "signalled once"
    );
    assert_eq!(signals(&store, "V1").await, ["gps_offline"]);
    assert_eq!(warning(&store, "V1").await, Some((2, "gps_offline".into())));

    // V2: a power cut is level 3 at once
    events(
        &store,
        &[
            ("W2", 2, "wired", 0, SQUARE.0, SQUARE.1, "position"),
            ("W2", 2, "wired", 5, "", "", "power_cut"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V2").await, ["gps_power_cut"]);
    assert_eq!(
        warning(&store, "V2").await,
        Some((3, "gps_power_cut".into()))
    );

    // V3: the wireless tracker 3.4 km from the wired one 40 minutes apart is no divergence;
    // 5 minutes apart it is
    events(
        &store,
        &[
            ("W3", 3, "wired", 0, SQUARE.0, SQUARE.1, "position"),
            (
                "R3",
                3,
                "wireless",
                40,
                "31.260000",
                "121.480000",
                "position",
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V3").await, Vec::<String>::new());
    events(
        &store,
        &[("W3", 3, "wired", 45, SQUARE.0, SQUARE.1, "position")],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V3").await, ["gps_diverged"]);
    assert_eq!(
        warning(&store, "V3").await,
        Some((2, "gps_diverged".into()))
    );

    // V4: 2 km inside Shanghai is home; 2 km into Jiangsu is leaving the province, once
    events(
        &store,
        &[
            ("W4", 4, "wired", 0, SH_EDGE.0, SH_EDGE.1, "position"),
            ("W4", 4, "wired", 30, SH_EDGE.0, SH_EDGE.1, "position"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V4").await, Vec::<String>::new());
    events(
        &store,
        &[
            ("W4", 4, "wired", 60, JS_EDGE.0, JS_EDGE.1, "position"),
            ("W4", 4, "wired", 90, JS_EDGE.0, JS_EDGE.1, "position"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V4").await, ["gps_left_province"]);
    assert_eq!(
        warning(&store, "V4").await,
        Some((2, "gps_left_province".into()))
    );

    // V5: 23 h 59 min within the pawn shop's radius is no stay; 24 h is, level 3
    events(
        &store,
        &[
            ("W5", 5, "wired", 0, SHOP.0, SHOP.1, "position"),
            (
                "W5",
                5,
                "wired",
                12 * 60,
                NEAR_SHOP.0,
                NEAR_SHOP.1,
                "position",
            ),
            ("W5", 5, "wired", 24 * 60 - 1, SHOP.0, SHOP.1, "position"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V5").await, Vec::<String>::new());
    events(
        &store,
        &[(
            "W5",
            5,
            "wired",
            24 * 60,
            NEAR_SHOP.0,
            NEAR_SHOP.1,
            "position",
        )],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V5").await, ["gps_pawn_shop_stay"]);
    assert_eq!(
        warning(&store, "V5").await,
        Some((3, "gps_pawn_shop_stay".into()))
    );

    // V6: leaving the radius starts the stay again; tampering is level 2
    events(
        &store,
        &[
            ("W6", 6, "wired", 0, SHOP.0, SHOP.1, "position"),
            ("W6", 6, "wired", 10 * 60, SQUARE.0, SQUARE.1, "position"),
            ("W6", 6, "wired", 11 * 60, SHOP.0, SHOP.1, "position"),
            ("W6", 6, "wired", 34 * 60, SHOP.0, SHOP.1, "position"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V6").await, Vec::<String>::new());
    events(&store, &[("W6", 6, "wired", 35 * 60, "", "", "tamper")])
        .await
        .unwrap();
    assert_eq!(signals(&store, "V6").await, ["gps_tamper"]);
    assert_eq!(warning(&store, "V6").await, Some((2, "gps_tamper".into())));

    // a silence noticed when the tracker speaks again: V6's wired tracker, silent 50 h
    events(
        &store,
        &[("W6", 6, "wired", 85 * 60, SQUARE.0, SQUARE.1, "position")],
    )
    .await
    .unwrap();
    assert_eq!(signals(&store, "V6").await, ["gps_tamper", "gps_offline"]);
}

async fn a_tracker_file_is_all_or_nothing_and_kept_once(dbs: &mut Dbs) {
    let store = dbs.fresh().await;
    monitored_book(&store, 2).await;
    let count = |store: Store| async move {
        let mut tx = store.begin().await.unwrap();
        let c = tx.vehicle_counts().await.unwrap();
        tx.rollback().await.unwrap();
        c
    };

    // an unknown VIN, a latitude out of range, a position without coordinates: every bad row
    // is named and nothing is kept
    let csv = format!(
        "device_id,vin,tracker,time,lat,lon,event\n\
         W1,{},wired,{},31.2,121.4,position\n\
         W1,LSVAM4180C2999999,wired,{},31.2,121.4,position\n\
         W2,{},wired,{},91.5,121.4,position\n\
         W2,{},wired,{},,,position\n",
        vin(1),
        at(0),
        at(1),
        vin(2),
        at(2),
        vin(2),
        at(3)
    );
    let refused = load(&store, ImportFormat::TrackerEvents, &csv)
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("line 4") && text.contains("lat"), "{text}");
    assert!(text.contains("line 5"), "{text}");
    assert_eq!(count(store.clone()).await, (0, 0, 2));
    let csv = csv
        .replace(",91.5,", ",31.5,")
        .replace(",,,position", ",31.5,121.4,position");
    let refused = load(&store, ImportFormat::TrackerEvents, &csv)
        .await
        .unwrap_err();
    let AppError::Rows(rows) = refused else {
        panic!("{refused}")
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].line, rows[0].column.as_str()), (3, "vin"));
    assert_eq!(count(store.clone()).await, (0, 0, 2));

    // the good rows: kept; the same file again adds nothing
    let good: String = csv
        .lines()
        .filter(|l| !l.contains("LSVAM4180C2999999"))
        .map(|l| format!("{l}\n"))
        .collect();
    let first = load(&store, ImportFormat::TrackerEvents, &good)
        .await
        .unwrap();
    assert_eq!((first.inserted, first.unchanged), (3, 0));
    let again = load(&store, ImportFormat::TrackerEvents, &good)
        .await
        .unwrap();
    assert_eq!((again.inserted, again.unchanged), (0, 3));
    assert_eq!(count(store.clone()).await, (2, 3, 2));

    // a tracker is bound to one vehicle and one kind
    let moved = format!(
        "device_id,vin,tracker,time,lat,lon,event\nW1,{},wired,{},31.2,121.4,position\nW2,{},wireless,{},31.2,121.4,position\n",
        vin(2),
        at(10),
        vin(2),
        at(11)
    );
    let AppError::Rows(rows) = load(&store, ImportFormat::TrackerEvents, &moved)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(
        rows.iter()
            .map(|r| (r.line, r.column.as_str()))
            .collect::<Vec<_>>(),
        [(2, "vin"), (3, "tracker")]
    );

    // a place with a radius beyond 5 km is refused, naming the field
    let refused = load(
        &store,
        ImportFormat::Places,
        "external_id,kind,name,lat,lon,radius_m\nX,pawn_shop,x,31,121,9000\n",
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("radius_m"), "{refused}");
}

async fn locations_are_sealed_kept_for_their_period_and_shown_to_few(dbs: &mut Dbs) {
    let (store, url) = dbs.fresh_with_url().await;
    monitored_book(&store, 1).await;
    events(
        &store,
        &[
            ("W1", 1, "wired", 0, SQUARE.0, SQUARE.1, "position"),
            (
                "R1",
                1,
                "wireless",
                2,
                "31.230500",
                "121.473800",
                "position",
            ),
            ("W1", 1, "wired", 200 * 24 * 60, SHOP.0, SHOP.1, "position"),
        ],
    )
    .await
    .unwrap();

    // sealed at rest: neither the events' fixes nor the watch hold a coordinate in clear
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    for sql in [
        "SELECT fix FROM tracker_events WHERE fix IS NOT NULL",
        "SELECT watch FROM vehicle_watch",
    ] {
        let rows = sqlx::query(sql).fetch_all(&mut conn).await.unwrap();
        assert!(!rows.is_empty());
        for r in rows {
            let v: String = r.try_get(0).unwrap();
            assert!(v.starts_with("pii1.ktest."), "{v}");
            assert!(!v.contains("31.2") && !v.contains("121."), "{v}");
        }
    }

    // who may see it: a risk officer; a collector only on an open repossession case; nobody else
    let risk = team::actor(&store, "risk").await.unwrap();
    let view = vehicles::vehicle(&store, &risk, "V1").await.unwrap();
    assert_eq!(view.province, "31");
    assert_eq!(view.trackers.len(), 2);
    let wired = view.trackers.iter().find(|t| t.device == "W1").unwrap();
    let last = wired.last_position.as_ref().unwrap();
    assert_eq!((last.lat.as_str(), last.lon.as_str()), SHOP);
    assert_eq!(view.events.len(), 3);
    assert_eq!(view.events[0].position.as_ref().unwrap().lat, SHOP.0);
    for user in ["c1", "a1", "lead_fu", "audit", "admin"] {
        let actor = team::actor(&store, user).await.unwrap();
        let refused = vehicles::vehicle(&store, &actor, "V1").await.unwrap_err();
        assert!(
            matches!(refused, AppError::Forbidden(_)),
            "{user}: {refused}"
        );
    }
    let policy = policy::load(&store).await.unwrap();
    cases::open(&store, &policy, &risk, "V1", "repossession", "车辆在典当行")
        .await
        .unwrap();
    let c1 = team::actor(&store, "c1").await.unwrap();
    assert_eq!(
        vehicles::vehicle(&store, &c1, "V1").await.unwrap().loan,
        "V1"
    );

    // every view is logged, for auditors alone
    let audit = team::actor(&store, "audit").await.unwrap();
    let log = vehicles::location_views(&store, &audit, Some("V1"))
        .await
        .unwrap();
    assert_eq!(
        log.iter().map(|v| v.username.as_str()).collect::<Vec<_>>(),
        ["c1", "risk"]
    );
    assert!(matches!(
        vehicles::location_views(&store, &risk, None).await,
        Err(AppError::Forbidden(_))
    ));

    // the retention period (180 days): at day 200 the first two events go, the last stays
    let swept = sweep(&store, 200 * 24 * 60).await;
    assert_eq!(swept.purged, 2);
    let view = vehicles::vehicle(&store, &risk, "V1").await.unwrap();
    assert_eq!(view.events.len(), 1);
}

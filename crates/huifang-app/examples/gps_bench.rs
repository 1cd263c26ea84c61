//! Benchmark of vehicle monitoring on SQLite: a book of VEHICLES loans (Shanghai borrowers),
//! each with a wired and a wireless tracker, and 200 known places; EVENTS tracker events
//! (positions every 5 minutes wandering around Shanghai, some near places, a few power cuts)
//! taken in webhook-sized batches of 5,000 through `vehicles::ingest`, which binds the trackers
//! by VIN, keeps each event once, judges each vehicle's events, seals the positions, records
//! the signals and lets the warning rules weigh them. Prints events per second.
//!
//!   cargo run --release -p huifang-app --example gps_bench [VEHICLES] [EVENTS]

// A benchmark program: it may panic on a broken set-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::time::Instant;

use huifang_app::files::{FileKind, ImportFormat, Source, TrackerEventRow};
use huifang_app::rows::{BorrowerRow, LoanRow, ProductRow};
use huifang_app::{import, ledger, policy, vehicles};
use huifang_core::calendar::parse_date;
use huifang_core::ids::{Mobile, ResidentId, Vin};
use huifang_core::schedule::Method;
use huifang_core::vehicle::{Point, Tracker, TrackerEvent, TrackerEventKind};
use huifang_core::{Money, Rate};
use huifang_store::Store;
use huifang_store::pii::Keyring;

const BATCH: usize = 5_000;

fn resident_id(serial: usize) -> ResidentId {
    let body = format!("31010119850101{:03}", serial % 1000);
    ResidentId::parse(&format!("{body}{}", ResidentId::check_character(&body))).unwrap()
}

fn vin(n: usize) -> String {
    Vin::with_check_digit(&format!("LSVAM4100C{n:07}"))
        .unwrap()
        .as_str()
        .to_string()
}

/// A small deterministic generator (xorshift), so that every run judges the same events.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let vehicles_n: usize = args.next().map_or(10_000, |n| n.parse().expect("VEHICLES"));
    let events_n: usize = args.next().map_or(200_000, |n| n.parse().expect("EVENTS"));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gps.db").display());
    let keys = Keyring::parse(&Keyring::new_key_line()).unwrap();
    let store = Store::connect(&url).await.unwrap().with_keys(Some(keys));
    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.set_business_date(parse_date("2026-03-20").unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    ledger::init(&store, Some("bench.huifang/log"))
        .await
        .unwrap();
    huifang_app::rules::seed_default(&store).await.unwrap();
    huifang_app::followup::seed_defaults(&store).await.unwrap();
    let started = Instant::now();
    let lines = |n: usize| n + 2;
    import::import_products(
        &store,
        &[(
            2,
            ProductRow {
                code: "P3".into(),
                name: "产品".into(),
                grace_days: 3,
                penalty_rate_markup: Rate::parse_in("0.5", 0.into(), 10.into()).unwrap(),
            },
        )],
    )
    .await
    .unwrap();
    let borrowers: Vec<(usize, BorrowerRow)> = (0..vehicles_n)
        .map(|n| {
            (
                lines(n),
                BorrowerRow {
                    external_id: format!("B{n}"),
                    name: format!("沪{n}"),
                    id_number: resident_id(n),
                    mobile: Mobile::parse("13900139000").unwrap(),
                    employer: "上海某公司".into(),
                    monthly_income: Money::parse("12000").unwrap(),
                    city: "上海市".into(),
                    contacts: Default::default(),
                },
            )
        })
        .collect();
    import::import_borrowers(&store, &borrowers).await.unwrap();
    let policy = policy::load(&store).await.unwrap();
    let loans: Vec<(usize, LoanRow)> = (0..vehicles_n)
        .map(|n| {
            (
                lines(n),
                LoanRow {
                    external_id: format!("L{n}"),
                    borrower_external_id: format!("B{n}"),
                    product_code: "P3".into(),
                    principal: Money::parse("12000.00").unwrap(),
                    annual_rate: Rate::parse_annual("0.12").unwrap(),
                    term_months: 12,
                    method: Method::Annuity,
                    disbursed_on: parse_date("2026-03-01").unwrap(),
                    vin: Vin::parse(&vin(n)).unwrap(),
                    vehicle_model: "大众 朗逸".into(),
                    vehicle_price: Money::parse("150000").unwrap(),
                    dealer: "上海大众4S店".into(),
                },
            )
        })
        .collect();
    import::import_loans(&store, &policy, &loans).await.unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut places = String::from("external_id,kind,name,lat,lon,radius_m\n");
    for i in 0..200 {
        let kind = if i % 2 == 0 {
            "pawn_shop"
        } else {
            "used_car_market"
        };
        places.push_str(&format!(
            "PL{i},{kind},地点{i},{:.6},{:.6},300\n",
            31.0 + rng.below(400_000) as f64 / 1e6,
            121.2 + rng.below(500_000) as f64 / 1e6
        ));
    }
    import::import_from(
        &store,
        &policy,
        ImportFormat::Places,
        Source::Bytes(places.as_bytes(), FileKind::Csv),
    )
    .await
    .unwrap();
    println!(
        "book: {vehicles_n} loans, 200 places, set up in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // each vehicle wanders from a point of its own; its two trackers report every 5 minutes
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-03-20T00:00:00Z")
        .unwrap()
        .timestamp();
    let mut at: Vec<(i64, i64, i64)> = (0..vehicles_n)
        .map(|_| {
            (
                t0,
                31_000_000 + rng.below(400_000),
                121_200_000 + rng.below(500_000),
            )
        })
        .collect();
    let vins: Vec<String> = (0..vehicles_n).map(vin).collect();
    let mut rows = Vec::with_capacity(events_n);
    for i in 0..events_n {
        let v = (i / 2) % vehicles_n;
        let tracker = if i % 2 == 0 {
            Tracker::Wired
        } else {
            Tracker::Wireless
        };
        let (t, lat, lon) = &mut at[v];
        if tracker == Tracker::Wired {
            *t += 300;
            *lat += rng.below(2_001) - 1_000;
            *lon += rng.below(2_001) - 1_000;
        }
        let kind = if rng.below(20_000) == 0 {
            TrackerEventKind::PowerCut
        } else {
            TrackerEventKind::Position
        };
        rows.push((
            i + 2,
            TrackerEventRow {
                vin: vins[v].clone(),
                event: TrackerEvent {
                    device: format!("{}-{v}", if tracker == Tracker::Wired { "W" } else { "R" }),
                    tracker,
                    at: *t + i64::from(tracker == Tracker::Wireless) * 30,
                    kind,
                    point: Some(Point {
                        lat_e6: *lat,
                        lon_e6: *lon,
                    }),
                },
            },
        ));
    }

    let started = Instant::now();
    let (mut kept, mut signals) = (0, 0);
    for batch in rows.chunks(BATCH) {
        let view = vehicles::ingest(&store, &policy, batch, chrono::Utc::now())
            .await
            .unwrap();
        kept += view.kept;
        signals += view.signals.len();
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "ingested and judged {events_n} tracker events of {vehicles_n} vehicles in batches of {BATCH}: {kept} kept, {signals} signals, in {took:.2} s: {:.0} events/s",
        events_n as f64 / took
    );
}

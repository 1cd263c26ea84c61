//! The demo's vehicles: trackers on the first loans of the book, two days of their events ending
//! on the morning of the last business day, with some of each tracker signal, and the places
//! they stay at.

use chrono::{NaiveTime, TimeZone};
use huifang_core::Date;
use huifang_core::policy::Policy;
use huifang_core::vehicle::{Place, PlaceKind, Point, Tracker, TrackerEvent, TrackerEventKind};
use huifang_store::Store;

use crate::AppError;
use crate::files::{PlaceRow, TrackerEventRow};

/// A point in each province's capital (GB/T 2260 code, lat, lon in micro-degrees).
const CAPITALS: [(&str, i64, i64); 31] = [
    ("11", 39_904_200, 116_407_400),
    ("12", 39_084_200, 117_200_900),
    ("13", 38_042_800, 114_514_300),
    ("14", 37_870_600, 112_548_900),
    ("15", 40_842_400, 111_749_200),
    ("21", 41_805_700, 123_431_500),
    ("22", 43_817_100, 125_323_500),
    ("23", 45_803_800, 126_534_900),
    ("31", 31_230_400, 121_473_700),
    ("32", 32_060_300, 118_796_900),
    ("33", 30_274_100, 120_155_100),
    ("34", 31_820_600, 117_227_200),
    ("35", 26_074_500, 119_296_500),
    ("36", 28_682_000, 115_858_100),
    ("37", 36_651_200, 117_120_000),
    ("41", 34_746_600, 113_625_300),
    ("42", 30_592_800, 114_305_500),
    ("43", 28_228_200, 112_938_800),
    ("44", 23_129_100, 113_264_400),
    ("45", 22_817_000, 108_366_500),
    ("46", 20_044_000, 110_198_300),
    ("50", 29_563_000, 106_551_600),
    ("51", 30_572_300, 104_066_500),
    ("52", 26_647_700, 106_630_200),
    ("53", 25_038_900, 102_718_300),
    ("54", 29_652_000, 91_172_100),
    ("61", 34_341_600, 108_939_800),
    ("62", 36_061_100, 103_834_300),
    ("63", 36_617_100, 101_778_200),
    ("64", 38_487_200, 106_230_900),
    ("65", 43_825_600, 87_616_800),
];

/// How many vehicles carry trackers.
const VEHICLES: i64 = 40;
/// Minutes between two positions.
const EVERY: i64 = 30;

/// Binds trackers to the first active loans and takes two days of their events (each vehicle
/// wandering around its borrower's capital; one power cut, one tampering, one wired tracker
/// silent, one pair of trackers apart, one trip to another province, one stay at a pawn shop and
/// one at a used-car market), then sweeps at the end of those days. Returns a line for the log.
pub async fn demo_vehicles(
    store: &Store,
    policy: &Policy,
    today: Date,
) -> Result<String, AppError> {
    let mut tx = store.begin().await?;
    let cars = tx.active_vehicles(VEHICLES).await?;
    tx.rollback().await?;
    let beijing = chrono::FixedOffset::east_opt(8 * 3_600)
        .ok_or_else(|| AppError::Invalid("UTC+8".into()))?;
    // the events end at 08:00 of the last business day, Beijing time
    let end = beijing
        .from_local_datetime(&today.and_time(NaiveTime::MIN))
        .single()
        .map_or(0, |t| t.timestamp())
        + 8 * 3_600;
    let start = end - 48 * 3_600;
    let mut places = Vec::new();
    let mut rows = Vec::new();
    let mut seed: i64 = 7;
    let mut wobble = || {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        seed % 2_001 - 1_000
    };
    for (n, car) in cars.iter().enumerate() {
        let Some(&(_, lat, lon)) = CAPITALS.iter().find(|c| c.0 == car.province) else {
            continue;
        };
        let Some(region) = crate::vehicles::provinces().get(&car.province) else {
            continue;
        };
        let offset = i64::try_from(n).unwrap_or(0) * 3_000;
        let capital = Point {
            lat_e6: lat,
            lon_e6: lon,
        };
        let spread = Point {
            lat_e6: lat + offset % 40_000 - 20_000,
            lon_e6: lon + offset % 50_000 - 25_000,
        };
        // a home well inside the province (a capital on the coast keeps its own point)
        let home = if region.contains(spread) {
            spread
        } else {
            capital
        };
        // the 7 vehicles with a story, then the ordinary ones
        let story = n % 20;
        let away = match story {
            5 | 6 => {
                let kind = if story == 5 {
                    PlaceKind::PawnShop
                } else {
                    PlaceKind::UsedCarMarket
                };
                let at = Point {
                    lat_e6: home.lat_e6 + 9_000,
                    lon_e6: home.lon_e6,
                };
                places.push(PlaceRow {
                    external_id: format!("DEMO-{}", places.len() + 1),
                    place: Place {
                        id: 0,
                        kind,
                        name: format!("{}{}", kind.words().0, places.len() + 1),
                        point: at,
                        radius_m: 300,
                    },
                });
                Some(at)
            }
            4 => CAPITALS
                .iter()
                .find(|c| c.0 != car.province)
                .map(|c| Point {
                    lat_e6: c.1,
                    lon_e6: c.2,
                }),
            _ => None,
        };
        let mut event = |device: &str, tracker, at, kind, point| {
            rows.push((
                rows.len() + 2,
                TrackerEventRow {
                    vin: car.vin.clone(),
                    event: TrackerEvent {
                        device: device.to_string(),
                        tracker,
                        at,
                        kind,
                        point,
                    },
                },
            ));
        };
        let (wired, wireless) = (format!("GW{n:04}"), format!("GR{n:04}"));
        let mut t = start;
        while t <= end {
            let hour = (t - start) / 3_600;
            let mut here = Point {
                lat_e6: home.lat_e6 + wobble(),
                lon_e6: home.lon_e6 + wobble(),
            };
            if let Some(a) = away
                && hour >= 12
            {
                here = a;
            }
            let silent = story == 2 && t > start;
            if !silent {
                event(
                    &wired,
                    Tracker::Wired,
                    t,
                    TrackerEventKind::Position,
                    Some(here),
                );
            }
            let elsewhere = if story == 3 && hour >= 30 {
                Point {
                    lat_e6: here.lat_e6 + 45_000,
                    lon_e6: here.lon_e6,
                }
            } else {
                here
            };
            event(
                &wireless,
                Tracker::Wireless,
                t + 60,
                TrackerEventKind::Position,
                Some(elsewhere),
            );
            if hour == 40 && t % 3_600 == start % 3_600 {
                match story {
                    0 => event(
                        &wired,
                        Tracker::Wired,
                        t + 120,
                        TrackerEventKind::PowerCut,
                        None,
                    ),
                    1 => event(
                        &wired,
                        Tracker::Wired,
                        t + 120,
                        TrackerEventKind::Tamper,
                        None,
                    ),
                    _ => {}
                }
            }
            t += EVERY * 60;
        }
    }
    crate::vehicles::import_places(
        store,
        &places
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i + 2, p))
            .collect::<Vec<_>>(),
        Vec::new(),
    )
    .await?;
    let received = chrono::DateTime::from_timestamp(end, 0).unwrap_or_default();
    let mut signals = 0;
    let count = rows.len();
    for batch in rows.chunks(crate::vehicles::MAX_WEBHOOK_EVENTS) {
        signals += crate::vehicles::ingest(store, policy, batch, received)
            .await?
            .signals
            .len();
    }
    let swept = crate::vehicles::sweep(store, policy, received).await?;
    Ok(format!(
        "{count} tracker events of {} vehicles: {} signals",
        cars.len(),
        signals + swept.offline.len()
    ))
}

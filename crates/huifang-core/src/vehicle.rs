//! Vehicle monitoring: GPS trackers' events read into risk signals.
//!
//! A financed car carries a wired tracker (on the car's power) and often a wireless one (on a
//! battery, hidden). Their vendors report positions and alarms; a vehicle's events are judged
//! in time order against [`MonitorRules`] and a few facts (the province of registration, the
//! known pawn shops and used-car markets), and each finding is a risk signal that the warning
//! rules weigh like the follow-ups' ones:
//!
//! - a wired tracker silent for the rules' hours ([`SignalKind::GpsOffline`]);
//! - a power cut or tampering reported ([`SignalKind::GpsPowerCut`], [`SignalKind::GpsTamper`]);
//! - the wired and the wireless tracker of one vehicle apart by more than the rules' distance
//!   at about the same time ([`SignalKind::GpsDiverged`]);
//! - a position outside the province of registration ([`SignalKind::GpsLeftProvince`]);
//! - positions within a place's radius for the rules' hours ([`SignalKind::GpsPawnShopStay`],
//!   [`SignalKind::GpsUsedCarMarketStay`]).
//!
//! A condition that lasts signals once: again only after it has ended. Times are Unix seconds,
//! given by the caller; no clock is read here. Signals name no position: a location is personal
//! data, shown only on the vehicle's page.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::warning::SignalKind;

/// Seconds in an hour.
const HOUR: i64 = 3_600;
/// The mean Earth radius in metres (IUGG).
const EARTH_RADIUS_M: f64 = 6_371_008.8;
/// Micro-degrees in a degree.
const MICRO: i64 = 1_000_000;

/// A kind of tracker: on the car's power, or on a battery of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tracker {
    Wired,
    Wireless,
}

impl Tracker {
    pub const ALL: [Tracker; 2] = [Tracker::Wired, Tracker::Wireless];

    /// The name used in files, storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Tracker::Wired => "wired",
            Tracker::Wireless => "wireless",
        }
    }
}

impl fmt::Display for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tracker {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tracker::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not wired or wireless"))
    }
}

/// What a tracker reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackerEventKind {
    /// A position fix.
    Position,
    /// The vendor's platform lost the tracker (it is not a sign of life).
    Offline,
    /// The tracker lost the car's power (a wired tracker cut off).
    PowerCut,
    /// The tracker was opened or moved.
    Tamper,
}

impl TrackerEventKind {
    pub const ALL: [TrackerEventKind; 4] = [
        TrackerEventKind::Position,
        TrackerEventKind::Offline,
        TrackerEventKind::PowerCut,
        TrackerEventKind::Tamper,
    ];

    /// The name used in files, storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TrackerEventKind::Position => "position",
            TrackerEventKind::Offline => "offline",
            TrackerEventKind::PowerCut => "power_cut",
            TrackerEventKind::Tamper => "tamper",
        }
    }
}

impl fmt::Display for TrackerEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrackerEventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrackerEventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not position, offline, power_cut or tamper"))
    }
}

/// A point on the WGS84 ellipsoid in whole micro-degrees (about 0.1 m), read exactly from its
/// decimal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Point {
    pub lat_e6: i64,
    pub lon_e6: i64,
}

/// Reads a decimal coordinate of at most six decimals within ±`limit` degrees, exactly.
pub fn parse_degrees(text: &str, limit: i64) -> Result<i64, String> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || whole.len() > 3 {
        return Err(format!("{t:?} is not a decimal number of degrees"));
    }
    if fraction.len() > 6 {
        return Err(format!("{t:?} has more than 6 decimals"));
    }
    let whole: i64 = whole
        .parse()
        .map_err(|_| format!("{t:?} is not a decimal number of degrees"))?;
    let mut micro: i64 = 0;
    let mut scale = 100_000;
    for b in fraction.bytes() {
        micro += i64::from(b - b'0') * scale;
        scale /= 10;
    }
    let value = whole * MICRO + micro;
    if value > limit * MICRO {
        return Err(format!("{t} is beyond ±{limit} degrees"));
    }
    Ok(if negative { -value } else { value })
}

impl Point {
    /// A point from its latitude and longitude texts; the error names the field.
    pub fn parse(lat: &str, lon: &str) -> Result<Point, (&'static str, String)> {
        Ok(Point {
            lat_e6: parse_degrees(lat, 90).map_err(|e| ("lat", e))?,
            lon_e6: parse_degrees(lon, 180).map_err(|e| ("lon", e))?,
        })
    }

    #[allow(clippy::as_conversions)] // micro-degrees within ±180e6: exact in an f64
    pub fn lat(self) -> f64 {
        self.lat_e6 as f64 / 1e6
    }

    #[allow(clippy::as_conversions)] // micro-degrees within ±180e6: exact in an f64
    pub fn lon(self) -> f64 {
        self.lon_e6 as f64 / 1e6
    }

    /// The great-circle distance in metres (haversine on the mean Earth radius).
    pub fn distance_m(self, other: Point) -> f64 {
        let (p1, p2) = (self.lat().to_radians(), other.lat().to_radians());
        let dp = p2 - p1;
        let dl = (other.lon() - self.lon()).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    /// `"31.230400,121.473700"`: the stored and shown form.
    pub fn text(self) -> String {
        fn degrees(v: i64) -> String {
            let sign = if v < 0 { "-" } else { "" };
            let a = v.abs();
            format!("{sign}{}.{:06}", a / MICRO, a % MICRO)
        }
        format!("{},{}", degrees(self.lat_e6), degrees(self.lon_e6))
    }

    /// Reads [`Point::text`] back.
    pub fn from_text(text: &str) -> Option<Point> {
        let (lat, lon) = text.split_once(',')?;
        Point::parse(lat, lon).ok()
    }
}

/// One event of a tracker, as its vendor reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerEvent {
    /// The vendor's device id.
    pub device: String,
    pub tracker: Tracker,
    /// When it happened, Unix seconds.
    pub at: i64,
    pub kind: TrackerEventKind,
    /// Where: required for a position, optional for an alarm.
    pub point: Option<Point>,
}

/// A kind of place where a financed car should not stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaceKind {
    /// 典当行
    PawnShop,
    /// 二手车市场
    UsedCarMarket,
}

impl PlaceKind {
    pub const ALL: [PlaceKind; 2] = [PlaceKind::PawnShop, PlaceKind::UsedCarMarket];

    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::PawnShop => "pawn_shop",
            PlaceKind::UsedCarMarket => "used_car_market",
        }
    }

    /// The signal a stay at such a place raises.
    pub fn signal(self) -> SignalKind {
        match self {
            PlaceKind::PawnShop => SignalKind::GpsPawnShopStay,
            PlaceKind::UsedCarMarket => SignalKind::GpsUsedCarMarketStay,
        }
    }

    /// The Chinese and English names.
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            PlaceKind::PawnShop => ("典当行", "pawn shop"),
            PlaceKind::UsedCarMarket => ("二手车市场", "used-car market"),
        }
    }
}

impl FromStr for PlaceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlaceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not pawn_shop or used_car_market"))
    }
}

/// The largest radius a place may have, in metres.
pub const MAX_PLACE_RADIUS_M: u32 = 5_000;

/// A known place, with the radius within which a car counts as staying there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub id: i64,
    pub kind: PlaceKind,
    pub name: String,
    pub point: Point,
    pub radius_m: u32,
}

/// The side of a grid cell of [`Places`], in micro-degrees (0.05°: 5.5 km of latitude).
const CELL_E6: i64 = 50_000;

/// Places found by position: a grid of cells, each listing the places whose circle touches it.
#[derive(Debug, Clone, Default)]
pub struct Places {
    places: Vec<Place>,
    cells: HashMap<(i64, i64), Vec<usize>>,
}

impl Places {
    pub fn new(places: Vec<Place>) -> Places {
        let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
        for (i, p) in places.iter().enumerate() {
            // a radius of ≤ 5 km spans at most the neighbouring cells (longitude cells shrink
            // towards the poles; two cells either side cover 55° of latitude and below)
            let (cy, cx) = (
                p.point.lat_e6.div_euclid(CELL_E6),
                p.point.lon_e6.div_euclid(CELL_E6),
            );
            let reach = if p.point.lat_e6.abs() < 55 * MICRO {
                1
            } else {
                3
            };
            for dy in -1..=1 {
                for dx in -reach..=reach {
                    cells.entry((cy + dy, cx + dx)).or_default().push(i);
                }
            }
        }
        Places { places, cells }
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The nearest place whose radius holds `p`.
    pub fn at(&self, p: Point) -> Option<&Place> {
        let cell = (p.lat_e6.div_euclid(CELL_E6), p.lon_e6.div_euclid(CELL_E6));
        self.cells
            .get(&cell)?
            .iter()
            .filter_map(|&i| self.places.get(i))
            .map(|place| (place.point.distance_m(p), place))
            .filter(|(d, place)| *d <= f64::from(place.radius_m))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, place)| place)
    }
}

/// A closed ring of a boundary, (longitude, latitude) in degrees, with its bounding box.
#[derive(Debug, Clone)]
struct Ring {
    points: Vec<(f64, f64)>,
    min: (f64, f64),
    max: (f64, f64),
}

/// A province's boundary: its rings (outer rings and holes alike), read even-odd, so that a
/// point inside a hole or on an island is judged right.
#[derive(Debug, Clone)]
pub struct Region {
    pub code: String,
    pub name: String,
    rings: Vec<Ring>,
    min: (f64, f64),
    max: (f64, f64),
}

impl Region {
    /// A region from its rings of (longitude, latitude); rings of fewer than 3 points are
    /// dropped.
    pub fn new(code: &str, name: &str, rings: Vec<Vec<(f64, f64)>>) -> Region {
        let rings: Vec<Ring> = rings
            .into_iter()
            .filter(|r| r.len() >= 3)
            .map(|points| {
                let mut min = (f64::INFINITY, f64::INFINITY);
                let mut max = (f64::NEG_INFINITY, f64::NEG_INFINITY);
                for &(x, y) in &points {
                    min = (min.0.min(x), min.1.min(y));
                    max = (max.0.max(x), max.1.max(y));
                }
                Ring { points, min, max }
            })
            .collect();
        let min = rings.iter().fold((f64::INFINITY, f64::INFINITY), |m, r| {
            (m.0.min(r.min.0), m.1.min(r.min.1))
        });
        let max = rings
            .iter()
            .fold((f64::NEG_INFINITY, f64::NEG_INFINITY), |m, r| {
                (m.0.max(r.max.0), m.1.max(r.max.1))
            });
        Region {
            code: code.to_string(),
            name: name.to_string(),
            rings,
            min,
            max,
        }
    }

    /// Whether the point lies inside (ray casting, even-odd over every ring).
    pub fn contains(&self, p: Point) -> bool {
        let (x, y) = (p.lon(), p.lat());
        let outside_box =
            |min: (f64, f64), max: (f64, f64)| x < min.0 || x > max.0 || y < min.1 || y > max.1;
        if outside_box(self.min, self.max) {
            return false;
        }
        let mut inside = false;
        for ring in &self.rings {
            if outside_box(ring.min, ring.max) {
                continue;
            }
            let mut previous = ring.points.last().copied().unwrap_or((x, y));
            for &(xi, yi) in &ring.points {
                let (xj, yj) = previous;
                if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                    inside = !inside;
                }
                previous = (xi, yi);
            }
        }
        inside
    }
}

/// The monitoring's rules, stored as data (the `vehicle_monitoring` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorRules {
    /// A wired tracker silent this long is offline (default 48).
    pub offline_hours: u32,
    /// The wired and wireless trackers of one vehicle farther apart than this diverge
    /// (default 2,000 m)...
    pub diverge_m: u32,
    /// ...judged on fixes at most this far apart in time (default 30 minutes).
    pub diverge_minutes: u32,
    /// Positions within a place's radius this long are a stay (default 24).
    pub stay_hours: u32,
    /// Tracker events are kept this long, then deleted (default 180 days).
    pub retention_days: u32,
}

impl Default for MonitorRules {
    fn default() -> Self {
        MonitorRules {
            offline_hours: 48,
            diverge_m: 2_000,
            diverge_minutes: 30,
            stay_hours: 24,
            retention_days: 180,
        }
    }
}

impl MonitorRules {
    /// Checks every number; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let within = |field: &'static str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err((field, format!("must be {lo} to {hi}, not {v}")))
            }
        };
        within("offline_hours", self.offline_hours, 1, 24 * 30)?;
        within("diverge_m", self.diverge_m, 100, 100_000)?;
        within("diverge_minutes", self.diverge_minutes, 1, 24 * 60)?;
        within("stay_hours", self.stay_hours, 1, 24 * 30)?;
        within("retention_days", self.retention_days, 7, 3_650)
    }

    fn offline_seconds(&self) -> i64 {
        i64::from(self.offline_hours) * HOUR
    }

    /// The latest moment a tracker may have last been heard from and be offline at `now`.
    pub fn silent_since(&self, now: i64) -> i64 {
        now - self.offline_seconds()
    }

    /// Whether a tracker of `tracker` kind last heard from at `last_seen` is offline at `now`:
    /// a wired one silent for the rules' hours (a wireless one sleeps on its battery).
    pub fn is_offline(&self, tracker: Tracker, last_seen: i64, now: i64) -> bool {
        tracker == Tracker::Wired && last_seen <= self.silent_since(now)
    }

    fn stay_seconds(&self) -> i64 {
        i64::from(self.stay_hours) * HOUR
    }

    /// The oldest event time kept at `now`: events before it are deleted.
    pub fn kept_since(&self, now: i64) -> i64 {
        now - i64::from(self.retention_days) * 24 * HOUR
    }
}

/// What is known of one tracker between its events: when it was last heard from (an offline
/// report is not a sign of life) and whether its silence has been signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub code: String,
    pub tracker: Tracker,
    pub last_seen: i64,
    pub offline_signalled: bool,
}

/// A tracker's last fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub device: String,
    pub tracker: Tracker,
    pub at: i64,
    pub point: Point,
}

/// Positions within one place's radius since `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    pub place: i64,
    pub since: i64,
    pub signalled: bool,
}

/// What is kept of one vehicle between its events (sealed at rest: it holds positions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watch {
    /// The latest position judged; an older one arriving late is kept but not judged.
    pub judged_to: i64,
    /// Outside the province of registration since the last signal.
    pub outside: bool,
    /// The trackers apart since the last signal.
    pub diverged: bool,
    pub stay: Option<Stay>,
    /// Each tracker's last fix.
    pub fixes: Vec<Fix>,
}

/// A finding: the signal, when it held, and what it says (no position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: SignalKind,
    pub at: i64,
    pub detail: String,
}

/// What a vehicle's events are judged against.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub rules: &'a MonitorRules,
    /// The province of registration's boundary, when known.
    pub region: Option<&'a Region>,
    pub places: &'a Places,
}

/// The offline finding of a wired tracker silent at `now` for the rules' hours, not yet
/// signalled.
pub fn offline_at(device: &Device, now: i64, rules: &MonitorRules) -> Option<Finding> {
    let silent = now - device.last_seen;
    (!device.offline_signalled && rules.is_offline(device.tracker, device.last_seen, now)).then(
        || Finding {
            kind: SignalKind::GpsOffline,
            at: device.last_seen + rules.offline_seconds(),
            detail: format!("wired tracker {} silent {} h", device.code, silent / HOUR),
        },
    )
}

/// Judges one event of `device` on its vehicle's `watch`; returns what it finds. The device's
/// and the watch's state move on.
pub fn observe(
    watch: &mut Watch,
    device: &mut Device,
    event: &TrackerEvent,
    cx: Context<'_>,
) -> Vec<Finding> {
    let mut found = Vec::new();
    if event.kind != TrackerEventKind::Offline {
        // a silence noticed only now that the tracker speaks again
        if event.at > device.last_seen {
            if let Some(f) = offline_at(device, event.at, cx.rules) {
                found.push(f);
            }
            device.last_seen = event.at;
            device.offline_signalled = false;
        }
    }
    match event.kind {
        TrackerEventKind::PowerCut => found.push(Finding {
            kind: SignalKind::GpsPowerCut,
            at: event.at,
            detail: format!("{} tracker {} lost power", device.tracker, device.code),
        }),
        TrackerEventKind::Tamper => found.push(Finding {
            kind: SignalKind::GpsTamper,
            at: event.at,
            detail: format!("{} tracker {} tampered with", device.tracker, device.code),
        }),
        TrackerEventKind::Offline => {}
        TrackerEventKind::Position => {}
    }
    let Some(point) = event.point else {
        return found;
    };
    if event.at < watch.judged_to {
        return found;
    }
    watch.judged_to = event.at;
    let fix = Fix {
        device: device.code.clone(),
        tracker: device.tracker,
        at: event.at,
        point,
    };

    // the other kind of tracker's fix of about the same time
    let window = i64::from(cx.rules.diverge_minutes) * 60;
    let apart = watch
        .fixes
        .iter()
        .filter(|f| f.tracker != fix.tracker && (f.at - fix.at).abs() <= window)
        .map(|f| f.point.distance_m(point))
        .max_by(f64::total_cmp);
    if let Some(d) = apart {
        if d > f64::from(cx.rules.diverge_m) {
            if !watch.diverged {
                watch.diverged = true;
                found.push(Finding {
                    kind: SignalKind::GpsDiverged,
                    at: event.at,
                    detail: format!("wired and wireless trackers {:.1} km apart", d / 1000.0),
                });
            }
        } else {
            watch.diverged = false;
        }
    }
    match watch.fixes.iter_mut().find(|f| f.device == fix.device) {
        Some(kept) => *kept = fix,
        None => watch.fixes.push(fix),
    }

    if let Some(region) = cx.region {
        if region.contains(point) {
            watch.outside = false;
        } else if !watch.outside {
            watch.outside = true;
            found.push(Finding {
                kind: SignalKind::GpsLeftProvince,
                at: event.at,
                detail: format!("outside the province of registration ({})", region.code),
            });
        }
    }

    match cx.places.at(point) {
        None => watch.stay = None,
        Some(place) => {
            let stay = match watch.stay.take() {
                Some(s) if s.place == place.id => s,
                _ => Stay {
                    place: place.id,
                    since: event.at,
                    signalled: false,
                },
            };
            let lasted = event.at - stay.since;
            let signalled = stay.signalled || lasted >= cx.rules.stay_seconds();
            if signalled && !stay.signalled {
                found.push(Finding {
                    kind: place.kind.signal(),
                    at: event.at,
                    detail: format!(
                        "{} h within {} m of a {}",
                        lasted / HOUR,
                        place.radius_m,
                        place.kind.words().1
                    ),
                });
            }
            watch.stay = Some(Stay { signalled, ..stay });
        }
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pt(lat: &str, lon: &str) -> Point {
        Point::parse(lat, lon).unwrap()
    }

    #[test]
    fn degrees_are_read_exactly() {
        assert_eq!(parse_degrees("31.2304", 90), Ok(31_230_400));
        assert_eq!(parse_degrees("-0.000001", 90), Ok(-1));
        assert_eq!(parse_degrees("180", 180), Ok(180_000_000));
        assert!(parse_degrees("180.000001", 180).is_err());
        assert!(parse_degrees("1.2345678", 90).is_err());
        assert!(parse_degrees("1e5", 90).is_err());
        assert!(parse_degrees("", 90).is_err());
        assert_eq!(pt("31.2304", "121.4737").text(), "31.230400,121.473700");
        assert_eq!(
            Point::from_text("-1.500000,-2.000001"),
            Some(pt("-1.5", "-2.000001"))
        );
    }

    #[test]
    fn distances_follow_the_haversine() {
        // one degree of latitude is 111.2 km on the mean radius
        let d = pt("30", "120").distance_m(pt("31", "120"));
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
        assert_eq!(pt("30", "120").distance_m(pt("30", "120")), 0.0);
    }

    #[test]
    fn a_square_with_a_hole() {
        let outer = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        let hole = vec![(4.0, 4.0), (6.0, 4.0), (6.0, 6.0), (4.0, 6.0)];
        let r = Region::new("99", "test", vec![outer, hole]);
        assert!(r.contains(pt("1", "1")));
        assert!(!r.contains(pt("5", "5")));
        assert!(!r.contains(pt("11", "5")));
        assert!(!r.contains(pt("-0.1", "5")));
    }

    #[test]
    fn places_are_found_within_their_radius_across_cells() {
        let shop = Place {
            id: 7,
            kind: PlaceKind::PawnShop,
            name: "x".into(),
            point: pt("31.049999", "121.4"),
            radius_m: 500,
        };
        let places = Places::new(vec![shop]);
        // 300 m north, in the next cell of the grid
        assert_eq!(places.at(pt("31.052697", "121.4")).map(|p| p.id), Some(7));
        // 600 m north: outside the radius
        assert_eq!(places.at(pt("31.055395", "121.4")), None);
    }

    #[test]
    fn rules_name_the_field_they_refuse() {
        let bad = MonitorRules {
            stay_hours: 0,
            ..MonitorRules::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "stay_hours");
        assert!(MonitorRules::default().validate().is_ok());
    }
}

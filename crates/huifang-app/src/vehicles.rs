//! Vehicle monitoring: GPS vendors' tracker events (a signed webhook, or `tracker_events.csv`)
//! bound to loans by VIN, judged by the core (`huifang_core::vehicle`) into risk signals that
//! the warning rules weigh at once; the offline sweep and the retention of tracks; places (pawn
//! shops, used-car markets) from `places.csv`; the provinces' boundaries (data/provinces.geojson);
//! and a vehicle's page, shown only to those the core lets see locations, every view logged.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use huifang_core::LoanId;
use huifang_core::vehicle::{
    self as core, Context, Device, Finding, Fix, Places, Point, Region, Stay, TrackerEvent, Watch,
};
use huifang_store::{NewTrackerEvent, Store, TrackerBinding, TrackerRecord, Tx};
use serde::{Deserialize, Serialize};

use crate::files::{PlaceRow, TrackerEventRow};
use crate::import::ImportReport;
use crate::rows::RowError;
use crate::team::{Actor, Role, forbidden, stamp};
use crate::views::{
    LocationViewView, MonitoringDoc, PlaceView, PositionView, StayView, SweepView,
    TrackerEventView, TrackerIngestView, TrackerView, VehicleSignalView, VehicleView,
};
use crate::{AppError, require_business_date};

/// The setting that holds the monitoring's rules and the vendors' webhook secret.
const MONITORING_SETTING: &str = "vehicle_monitoring";
/// The events a vehicle's page lists.
const EVENTS_SHOWN: i64 = 50;

// ----- the provinces --------------------------------------------------------------------------

/// The boundaries of China's provinces (GB/T 2260 codes), read once from the data set shipped
/// with the program (data/provinces.SOURCE.md says where it comes from).
pub fn provinces() -> &'static HashMap<String, Region> {
    static REGIONS: OnceLock<HashMap<String, Region>> = OnceLock::new();
    REGIONS.get_or_init(|| read_regions(include_str!("../data/provinces.geojson")))
}

#[derive(Deserialize)]
struct FeatureCollection {
    features: Vec<Feature>,
}

#[derive(Deserialize)]
struct Feature {
    properties: FeatureProperties,
    geometry: Geometry,
}

#[derive(Deserialize)]
struct FeatureProperties {
    code: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", content = "coordinates")]
enum Geometry {
    Polygon(Vec<Vec<(f64, f64)>>),
    MultiPolygon(Vec<Vec<Vec<(f64, f64)>>>),
}

fn read_regions(text: &str) -> HashMap<String, Region> {
    // the file is part of the program: a test reads it whole, so a broken one fails there
    let Ok(fc) = serde_json::from_str::<FeatureCollection>(text) else {
        return HashMap::new();
    };
    fc.features
        .into_iter()
        .map(|f| {
            let rings = match f.geometry {
                Geometry::Polygon(rings) => rings,
                Geometry::MultiPolygon(polygons) => polygons.into_iter().flatten().collect(),
            };
            let region = Region::new(&f.properties.code, &f.properties.name, rings);
            (f.properties.code, region)
        })
        .collect()
}

/// The province (code and name) a point lies in, if any.
pub fn province_at(p: Point) -> Option<(&'static str, &'static str)> {
    provinces()
        .values()
        .find(|r| r.contains(p))
        .map(|r| (r.code.as_str(), r.name.as_str()))
}

// ----- the settings ---------------------------------------------------------------------------

async fn monitoring_in(tx: &mut Tx) -> Result<MonitoringDoc, AppError> {
    match tx.setting(MONITORING_SETTING).await? {
        None => Ok(MonitoringDoc::default()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            AppError::Invalid(format!("the stored {MONITORING_SETTING} setting: {e}"))
        }),
    }
}

/// The monitoring's rules and webhook secret as shown (the secret hidden): risk officers and
/// administrators.
pub async fn show_settings(store: &Store, actor: &Actor) -> Result<MonitoringDoc, AppError> {
    actor.require(
        Role::sets_warning_rules,
        "read the vehicle monitoring's rules",
    )?;
    let mut tx = store.begin().await?;
    let doc = monitoring_in(&mut tx).await?;
    tx.rollback().await?;
    Ok(doc.redacted())
}

/// Replaces the monitoring's rules (JSON); a secret sent back hidden keeps the one kept. The
/// error names the field.
pub async fn set_settings(
    store: &Store,
    actor: &Actor,
    text: &str,
) -> Result<MonitoringDoc, AppError> {
    actor.require(
        Role::sets_warning_rules,
        "change the vehicle monitoring's rules",
    )?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut doc: MonitoringDoc = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| AppError::Invalid(format!("{}: {}", e.path(), e.inner())))?;
    doc.rules()
        .validate()
        .map_err(|(field, reason)| AppError::Field { field, reason })?;
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let old = monitoring_in(&mut tx).await?;
    doc.keep_hidden_secret(&old)?;
    let stored = serde_json::to_string(&doc).map_err(|e| AppError::Invalid(e.to_string()))?;
    tx.set_setting(MONITORING_SETTING, &stored).await?;
    tx.commit().await?;
    Ok(doc.redacted())
}

// ----- the watch, kept sealed ------------------------------------------------------------------

#[derive(Serialize, Deserialize, Default)]
struct WatchDoc {
    judged_to: i64,
    outside: bool,
    diverged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stay: Option<(i64, i64, bool)>,
    fixes: Vec<(String, String, i64, String)>,
}

fn watch_from_text(text: &str) -> Result<Watch, AppError> {
    let doc: WatchDoc = serde_json::from_str(text)
        .map_err(|e| AppError::Invalid(format!("a stored vehicle watch: {e}")))?;
    let mut fixes = Vec::with_capacity(doc.fixes.len());
    for (device, tracker, at, point) in doc.fixes {
        let bad = || AppError::Invalid(format!("a stored vehicle watch: fix of {device}"));
        fixes.push(Fix {
            tracker: tracker.parse().map_err(|_| bad())?,
            point: Point::from_text(&point).ok_or_else(bad)?,
            device,
            at,
        });
    }
    Ok(Watch {
        judged_to: doc.judged_to,
        outside: doc.outside,
        diverged: doc.diverged,
        stay: doc.stay.map(|(place, since, signalled)| Stay {
            place,
            since,
            signalled,
        }),
        fixes,
    })
}

fn watch_text(w: &Watch) -> Result<String, AppError> {
    let doc = WatchDoc {
        judged_to: w.judged_to,
        outside: w.outside,
        diverged: w.diverged,
        stay: w.stay.as_ref().map(|s| (s.place, s.since, s.signalled)),
        fixes: w
            .fixes
            .iter()
            .map(|f| {
                (
                    f.device.clone(),
                    f.tracker.as_str().to_string(),
                    f.at,
                    f.point.text(),
                )
            })
            .collect(),
    };
    serde_json::to_string(&doc).map_err(|e| AppError::Invalid(e.to_string()))
}

/// A moment as shown: RFC 3339, UTC.
pub fn moment_text(at: i64) -> String {
    Utc.timestamp_opt(at, 0)
        .single()
        .map_or_else(|| at.to_string(), stamp)
}

fn signal_view(loan: &str, f: &Finding) -> VehicleSignalView {
    VehicleSignalView {
        loan: loan.to_string(),
        kind: f.kind.as_str().to_string(),
        at: moment_text(f.at),
        detail: f.detail.clone(),
    }
}

// ----- ingest ---------------------------------------------------------------------------------

/// A vehicle's state while a batch is judged.
struct Vehicle {
    external_id: String,
    province: String,
    watch: Watch,
}

/// Takes tracker events (a vendor's webhook batch, or a file's rows with their lines): binds
/// new trackers to loans by VIN, keeps each event once (a tracker's event is known by its time
/// and kind: the same file sent again adds nothing), judges each vehicle's new events in time
/// order, records what they find as risk signals and lets the warning rules weigh them, all in
/// one transaction. A bad row (an unknown VIN, a tracker bound to another vehicle or reported
/// as another kind) refuses the whole batch, every bad row named.
pub async fn ingest(
    store: &Store,
    policy: &huifang_core::policy::Policy,
    rows: &[(usize, TrackerEventRow)],
    received: DateTime<Utc>,
) -> Result<TrackerIngestView, AppError> {
    ingest_signed(store, policy, rows, received, None).await
}

/// [`ingest`], the webhook's signature accepted in the same transaction (a replay is refused).
async fn ingest_signed(
    store: &Store,
    policy: &huifang_core::policy::Policy,
    rows: &[(usize, TrackerEventRow)],
    received: DateTime<Utc>,
    signature: Option<&str>,
) -> Result<TrackerIngestView, AppError> {
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    if let Some(signature) = signature
        && !tx.accept_signature(signature, &stamp(received)).await?
    {
        return Err(AppError::Unauthenticated(
            "tracker events refused: replayed".into(),
        ));
    }
    let date = require_business_date(&mut tx).await?;
    let settings = monitoring_in(&mut tx).await?;
    let rules = settings.rules();
    let received_at = stamp(received);

    // the trackers the batch names, and the loans its VINs name
    let devices: Vec<String> = unique(rows.iter().map(|(_, r)| r.event.device.clone()));
    let mut trackers: HashMap<String, TrackerRecord> = tx
        .trackers_by_device(&devices)
        .await?
        .into_iter()
        .map(|t| (t.binding.device.clone(), t))
        .collect();
    let vins: Vec<String> = unique(rows.iter().map(|(_, r)| r.vin.clone()));
    let by_vin: HashMap<String, huifang_store::VinLoan> = tx
        .loans_by_vin(&vins)
        .await?
        .into_iter()
        .map(|v| (v.vin.clone(), v))
        .collect();

    // a new tracker was last heard from at its first event of the batch
    let mut first_heard: HashMap<&str, i64> = HashMap::new();
    for (_, r) in rows {
        let at = first_heard
            .entry(r.event.device.as_str())
            .or_insert(r.event.at);
        *at = (*at).min(r.event.at);
    }
    let mut errors = Vec::new();
    let mut new_trackers: HashMap<String, TrackerBinding> = HashMap::new();
    let mut registered: HashMap<LoanId, (String, String)> = HashMap::new();
    for (line, row) in rows {
        let e = &row.event;
        let Some(vin_loan) = by_vin.get(&row.vin) else {
            errors.push(row_error(*line, "vin", "no loan has this VIN"));
            continue;
        };
        registered.insert(
            vin_loan.loan_id,
            (vin_loan.province.clone(), vin_loan.external_id.clone()),
        );
        match trackers.get(&e.device) {
            Some(t) if t.binding.loan_id != vin_loan.loan_id => errors.push(row_error(
                *line,
                "vin",
                format!("tracker {} is bound to another vehicle", e.device),
            )),
            Some(t) if t.binding.tracker != e.tracker => errors.push(row_error(
                *line,
                "tracker",
                format!("tracker {} is {}", e.device, t.binding.tracker),
            )),
            Some(_) => {}
            None => match new_trackers.get(&e.device) {
                Some(t) if t.loan_id != vin_loan.loan_id || t.tracker != e.tracker => {
                    errors.push(row_error(
                        *line,
                        "device_id",
                        "names another vehicle or kind earlier in the batch",
                    ))
                }
                Some(_) => {}
                None => {
                    let binding = TrackerBinding {
                        device: e.device.clone(),
                        loan_id: vin_loan.loan_id,
                        tracker: e.tracker,
                        last_seen: first_heard.get(e.device.as_str()).copied().unwrap_or(e.at),
                        offline_signalled: false,
                    };
                    new_trackers.insert(e.device.clone(), binding);
                }
            },
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(AppError::Rows(errors));
    }
    let bound = new_trackers.len();
    let bindings: Vec<TrackerBinding> = new_trackers.values().cloned().collect();
    for (device, id) in tx.save_trackers(&bindings, &received_at).await? {
        if let Some(binding) = new_trackers.remove(&device) {
            trackers.insert(device, TrackerRecord { id, binding });
        }
    }

    // the events not kept yet, in time order
    let since = rows.iter().map(|(_, r)| r.event.at).min().unwrap_or(0);
    let ids: Vec<i64> = trackers.values().map(|t| t.id).collect();
    let mut kept = tx.kept_tracker_events(&ids, since).await?;
    let mut fresh: Vec<(&TrackerEvent, i64, LoanId)> = Vec::with_capacity(rows.len());
    for (_, row) in rows {
        let Some(t) = trackers.get(&row.event.device) else {
            continue;
        };
        let key = (t.id, row.event.at, row.event.kind.as_str().to_string());
        if kept.insert(key) {
            fresh.push((&row.event, t.id, t.binding.loan_id));
        }
    }
    fresh.sort_by_key(|(e, id, _)| (e.at, *id));

    // each vehicle's watch
    let loans: Vec<LoanId> = unique(fresh.iter().map(|f| f.2));
    let mut vehicles: HashMap<LoanId, Vehicle> = HashMap::with_capacity(loans.len());
    for (loan, province, text) in tx.vehicle_watches(&loans).await? {
        let external_id = registered
            .get(&loan)
            .map(|p| p.1.clone())
            .unwrap_or_default();
        vehicles.insert(
            loan,
            Vehicle {
                external_id,
                province,
                watch: watch_from_text(&text)?,
            },
        );
    }
    for loan in &loans {
        if let Some((province, external_id)) = registered.get(loan) {
            vehicles.entry(*loan).or_insert_with(|| Vehicle {
                external_id: external_id.clone(),
                province: province.clone(),
                watch: Watch::default(),
            });
        }
    }
    let places = Places::new(tx.places().await?.into_iter().map(|(_, p)| p).collect());

    // judge
    let mut devices: HashMap<i64, Device> = trackers
        .values()
        .map(|t| (t.id, device_of(&t.binding)))
        .collect();
    let mut signals = Vec::new();
    let mut shown = Vec::new();
    let mut events = Vec::with_capacity(fresh.len());
    for (event, tracker_id, loan) in &fresh {
        let (Some(vehicle), Some(device)) = (vehicles.get_mut(loan), devices.get_mut(tracker_id))
        else {
            continue;
        };
        let cx = Context {
            rules: &rules,
            region: provinces().get(&vehicle.province),
            places: &places,
        };
        for f in core::observe(&mut vehicle.watch, device, event, cx) {
            shown.push(signal_view(&vehicle.external_id, &f));
            signals.push((*loan, f.kind.as_str().to_string(), f.detail, date, None));
        }
        events.push(NewTrackerEvent {
            tracker_id: *tracker_id,
            loan_id: *loan,
            at: event.at,
            kind: event.kind.as_str().to_string(),
            point: event.point,
            received_at: received_at.clone(),
        });
    }

    // write
    let moved: Vec<TrackerBinding> = trackers
        .values()
        .filter_map(|t| {
            let d = devices.get(&t.id)?;
            Some(TrackerBinding {
                last_seen: d.last_seen,
                offline_signalled: d.offline_signalled,
                ..t.binding.clone()
            })
        })
        .collect();
    tx.save_trackers(&moved, &received_at).await?;
    let mut watches = Vec::with_capacity(vehicles.len());
    for (loan, v) in &vehicles {
        watches.push((*loan, v.province.clone(), watch_text(&v.watch)?));
    }
    tx.save_vehicle_watches(&watches).await?;
    tx.insert_tracker_events(&events).await?;
    let weighed = crate::engine::record_signals(&mut tx, policy, date, &signals).await?;
    tx.commit().await?;
    Ok(TrackerIngestView {
        received: rows.len(),
        kept: events.len(),
        duplicates: rows.len() - events.len(),
        trackers_bound: bound,
        signals: shown,
        loans_weighed: weighed,
    })
}

fn device_of(t: &TrackerBinding) -> Device {
    Device {
        code: t.device.clone(),
        tracker: t.tracker,
        last_seen: t.last_seen,
        offline_signalled: t.offline_signalled,
    }
}

fn unique<T: Eq + std::hash::Hash + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

fn row_error(line: usize, column: &str, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        column: column.to_string(),
        reason: reason.into(),
    }
}

/// Imports `tracker_events.csv` rows (read by `files`): [`ingest`] at `received`.
pub(crate) async fn import_events(
    store: &Store,
    policy: &huifang_core::policy::Policy,
    rows: &[(usize, TrackerEventRow)],
    errors: Vec<RowError>,
) -> Result<ImportReport, AppError> {
    if !errors.is_empty() {
        return Err(AppError::Rows(errors));
    }
    let view = ingest(store, policy, rows, Utc::now()).await?;
    Ok(ImportReport {
        inserted: view.kept,
        unchanged: view.duplicates,
        loans_reprocessed: view.loans_weighed,
        unchanged_keys: Vec::new(),
    })
}

/// Imports `places.csv` rows: a place sent again (same external id) is updated.
pub(crate) async fn import_places(
    store: &Store,
    rows: &[(usize, PlaceRow)],
    errors: Vec<RowError>,
) -> Result<ImportReport, AppError> {
    if !errors.is_empty() {
        return Err(AppError::Rows(errors));
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let before: HashMap<String, huifang_core::vehicle::Place> =
        tx.places().await?.into_iter().collect();
    let mut unchanged_keys = Vec::new();
    let mut changed = Vec::new();
    for (_, r) in rows {
        match before.get(&r.external_id) {
            Some(p) if same_place(p, &r.place) => unchanged_keys.push(r.external_id.clone()),
            _ => changed.push((r.external_id.clone(), r.place.clone())),
        }
    }
    tx.upsert_places(&changed).await?;
    tx.commit().await?;
    Ok(ImportReport {
        inserted: changed.len(),
        unchanged: unchanged_keys.len(),
        loans_reprocessed: 0,
        unchanged_keys,
    })
}

fn same_place(a: &huifang_core::vehicle::Place, b: &huifang_core::vehicle::Place) -> bool {
    a.kind == b.kind && a.name == b.name && a.point == b.point && a.radius_m == b.radius_m
}

/// The known places.
pub async fn places(store: &Store, actor: &Actor) -> Result<Vec<PlaceView>, AppError> {
    actor.require(Role::reads_loans, "read the known places")?;
    let mut tx = store.begin().await?;
    let places = tx.places().await?;
    tx.rollback().await?;
    Ok(places
        .into_iter()
        .map(|(external_id, p)| {
            let PositionView { lat, lon } = position(p.point);
            PlaceView {
                external_id,
                kind: p.kind.as_str().to_string(),
                name: p.name,
                lat,
                lon,
                radius_m: p.radius_m,
            }
        })
        .collect())
}

// ----- the sweep and the retention ------------------------------------------------------------

/// At `now`: signals the wired trackers silent for the rules' hours (once per silence), and
/// deletes the tracker events older than the retention period. One transaction.
pub async fn sweep(
    store: &Store,
    policy: &huifang_core::policy::Policy,
    now: DateTime<Utc>,
) -> Result<SweepView, AppError> {
    let now = now.timestamp();
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    let date = require_business_date(&mut tx).await?;
    let rules = monitoring_in(&mut tx).await?.rules();
    let silent = tx.silent_trackers(rules.silent_since(now)).await?;
    let mut found = Vec::new();
    let mut signals = Vec::new();
    let mut moved = Vec::new();
    let loans: Vec<LoanId> = unique(silent.iter().map(|t| t.binding.loan_id));
    let names = loan_names(&mut tx, &loans).await?;
    for TrackerRecord { binding: t, .. } in silent {
        if let Some(f) = core::offline_at(&device_of(&t), now, &rules) {
            let name = names.get(&t.loan_id).cloned().unwrap_or_default();
            found.push(signal_view(&name, &f));
            signals.push((t.loan_id, f.kind.as_str().to_string(), f.detail, date, None));
            moved.push(TrackerBinding {
                offline_signalled: true,
                ..t
            });
        }
    }
    tx.save_trackers(&moved, &stamp(Utc::now())).await?;
    crate::engine::record_signals(&mut tx, policy, date, &signals).await?;
    let purged = tx.purge_tracker_events(rules.kept_since(now)).await?;
    tx.commit().await?;
    Ok(SweepView {
        offline: found,
        purged,
    })
}

async fn loan_names(tx: &mut Tx, loans: &[LoanId]) -> Result<HashMap<LoanId, String>, AppError> {
    Ok(tx.loan_external_ids(loans).await?.into_iter().collect())
}

// ----- a vehicle's page -------------------------------------------------------------------------

fn position(p: Point) -> PositionView {
    let text = p.text();
    let (lat, lon) = text.split_once(',').unwrap_or((&text, ""));
    PositionView {
        lat: lat.to_string(),
        lon: lon.to_string(),
    }
}

/// A loan's vehicle: its trackers with their last positions, the stay being timed, the signals
/// its trackers raised and its latest events. Locations are sensitive: only those the core's
/// rule lets see them (`team::location_access`) are shown the page, and every view is logged
/// in the same transaction.
pub async fn vehicle(
    store: &Store,
    actor: &Actor,
    loan_external_id: &str,
) -> Result<VehicleView, AppError> {
    let mut tx = store.begin().await?;
    let date = require_business_date(&mut tx).await?;
    let loan = tx
        .loans_by_external_id(&[loan_external_id.to_string()])
        .await?
        .remove(loan_external_id)
        .ok_or_else(|| AppError::NotFound {
            what: "loan",
            id: loan_external_id.to_string(),
        })?;
    let repossession = tx.open_repossession(loan.id).await?;
    huifang_core::team::location_access(actor.role, repossession)
        .map_err(|why| forbidden(format!("{} may not see locations: {why}", actor.name())))?;
    tx.insert_location_view(actor.id(), loan.id, &stamp(Utc::now()), date)
        .await?;
    let trackers = tx.loan_trackers(loan.id).await?;
    let watch = match tx.vehicle_watches(&[loan.id]).await?.pop() {
        Some((_, province, text)) => Some((province, watch_from_text(&text)?)),
        None => None,
    };
    let rules = monitoring_in(&mut tx).await?.rules();
    let now = Utc::now().timestamp();
    let places = tx.places().await?;
    let events = tx.loan_tracker_events(loan.id, EVENTS_SHOWN).await?;
    let signals = tx
        .loan_signals(loan.id)
        .await?
        .into_iter()
        .filter(|(kind, _, _)| kind.starts_with("gps_"))
        .map(|(kind, value, on)| crate::views::SignalRowView {
            kind,
            value,
            observed_on: on.to_string(),
        })
        .collect();
    tx.commit().await?;
    let (province, watch) = watch.unwrap_or_default();
    let stay = watch.stay.as_ref().and_then(|s| {
        let (_, place) = places.iter().find(|(_, p)| p.id == s.place)?;
        Some(StayView {
            place: place.name.clone(),
            kind: place.kind.as_str().to_string(),
            since: moment_text(s.since),
            hours: (now - s.since) / 3_600,
        })
    });
    Ok(VehicleView {
        loan: loan.loan.external_id.clone(),
        vin: loan.loan.vin.clone(),
        province_name: provinces().get(&province).map(|r| r.name.clone()),
        province,
        trackers: trackers
            .iter()
            .map(|TrackerRecord { binding: t, .. }| {
                let fix = watch.fixes.iter().find(|f| f.device == t.device);
                TrackerView {
                    device: t.device.clone(),
                    tracker: t.tracker.as_str().to_string(),
                    last_seen: moment_text(t.last_seen),
                    silent_hours: (now - t.last_seen).max(0) / 3_600,
                    offline: rules.is_offline(t.tracker, t.last_seen, now),
                    last_position: fix.map(|f| position(f.point)),
                    last_position_at: fix.map(|f| moment_text(f.at)),
                }
            })
            .collect(),
        stay,
        signals,
        events: events
            .into_iter()
            .map(|e| TrackerEventView {
                device: e.device,
                tracker: e.tracker.as_str().to_string(),
                at: moment_text(e.at),
                event: e.kind,
                position: e.point.map(position),
            })
            .collect(),
    })
}

/// The log of location views (of one loan, or all): auditors.
pub async fn location_views(
    store: &Store,
    actor: &Actor,
    loan_external_id: Option<&str>,
) -> Result<Vec<LocationViewView>, AppError> {
    actor.require(Role::audits, "read the log of location views")?;
    let mut tx = store.begin().await?;
    let loan = match loan_external_id {
        None => None,
        Some(id) => Some(
            tx.loans_by_external_id(&[id.to_string()])
                .await?
                .remove(id)
                .ok_or_else(|| AppError::NotFound {
                    what: "loan",
                    id: id.to_string(),
                })?
                .id,
        ),
    };
    let rows = tx.location_views(loan, 500).await?;
    tx.rollback().await?;
    Ok(rows
        .into_iter()
        .map(|r| LocationViewView {
            id: r.id,
            username: r.username,
            loan: r.loan_external_id,
            viewed_at: r.viewed_at,
            business_date: r.business_date.to_string(),
        })
        .collect())
}

// ----- the vendors' webhook ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    events: Vec<serde_json::Value>,
}

/// The most events one webhook call may carry.
pub const MAX_WEBHOOK_EVENTS: usize = 5_000;

/// Takes a GPS vendor's signed batch: `X-Huifang-Timestamp` (Unix seconds, within 5 minutes)
/// and `X-Huifang-Signature` (hex HMAC-SHA256 of "{timestamp}.{body}" with the monitoring's
/// webhook secret), as the channels' callbacks are signed; a replay is refused. The body is
/// `{"events": [{"device_id", "vin", "tracker", "time", "lat", "lon", "event"}, …]}`, each field
/// a string as in `tracker_events.csv`; a bad event refuses the batch, named by its index.
pub async fn webhook(
    store: &Store,
    policy: &huifang_core::policy::Policy,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<TrackerIngestView, AppError> {
    let mut tx = store.begin().await?;
    let secret = monitoring_in(&mut tx)
        .await?
        .webhook_secret
        .ok_or_else(|| {
            AppError::Unauthenticated(
                "tracker events refused: no webhook secret is configured".into(),
            )
        })?;
    tx.rollback().await?;
    crate::notify::verify(&secret, timestamp, signature, body, now)?;
    let parsed: WebhookBody = serde_json::from_slice(body)
        .map_err(|e| AppError::Invalid(format!("tracker events body: {e}")))?;
    if parsed.events.is_empty() || parsed.events.len() > MAX_WEBHOOK_EVENTS {
        return Err(AppError::Field {
            field: "events",
            reason: format!("must hold 1 to {MAX_WEBHOOK_EVENTS} events"),
        });
    }
    let read = crate::files::parse_tracker_events(crate::files::Source::Records(&parsed.events))?;
    if !read.errors.is_empty() {
        return Err(AppError::Items(read.errors));
    }
    match ingest_signed(store, policy, &read.rows, now, Some(signature.trim())).await {
        Err(AppError::Rows(errors)) => Err(AppError::Items(errors)),
        other => other,
    }
}

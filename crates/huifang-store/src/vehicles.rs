//! Vehicle monitoring's tables: known places, trackers bound to loans, each vehicle's sealed
//! watch, the trackers' events (positions sealed) and the log of every location view.

use std::collections::HashSet;

use huifang_core::vehicle::{Place, PlaceKind, Point, Tracker};
use huifang_core::{BorrowerId, Date, LoanId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::{Val, date_text, parse_date_col};
use crate::{Result, StoreError, Tx};

/// The sealed column of a tracker event's position.
pub(crate) const TRACKER_FIX: &str = "tracker_events.fix";
/// The sealed column of a vehicle's watch.
pub(crate) const VEHICLE_WATCH: &str = "vehicle_watch.watch";

/// A tracker bound to a loan, with what the offline sweep reads: what is written, and what a
/// [`TrackerRecord`] holds besides its key. Written again, a known tracker moves its clocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerBinding {
    pub device: String,
    pub loan_id: LoanId,
    pub tracker: Tracker,
    pub last_seen: i64,
    pub offline_signalled: bool,
}

/// A stored tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerRecord {
    pub id: i64,
    pub binding: TrackerBinding,
}

/// A loan a VIN names, with the province code of its borrower's ID number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VinLoan {
    pub vin: String,
    pub loan_id: LoanId,
    pub external_id: String,
    pub province: String,
}

/// A tracker event to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrackerEvent {
    pub tracker_id: i64,
    pub loan_id: LoanId,
    pub at: i64,
    pub kind: String,
    pub point: Option<Point>,
    pub received_at: String,
}

/// A kept tracker event, its position opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerEventRecord {
    pub device: String,
    pub tracker: Tracker,
    pub at: i64,
    pub kind: String,
    pub point: Option<Point>,
}

/// One view of a vehicle's locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationViewRecord {
    pub id: i64,
    pub username: String,
    pub loan_external_id: String,
    pub viewed_at: String,
    pub business_date: Date,
}

fn column<T: std::str::FromStr<Err = String>>(
    r: &AnyRow,
    i: usize,
    name: &'static str,
) -> Result<T> {
    let text: String = r.try_get(i)?;
    text.parse().map_err(|reason| StoreError::Column {
        column: name,
        value: text,
        reason,
    })
}

fn tracker_row(r: &AnyRow) -> Result<TrackerRecord> {
    Ok(TrackerRecord {
        id: r.try_get(0)?,
        binding: TrackerBinding {
            device: r.try_get(1)?,
            loan_id: LoanId(r.try_get(2)?),
            tracker: column(r, 3, "trackers.tracker")?,
            last_seen: r.try_get(4)?,
            offline_signalled: r.try_get::<i64, _>(5)? != 0,
        },
    })
}

const TRACKER_COLUMNS: &str = "id, device, loan_id, tracker, last_seen, offline_signalled";

fn fix_owner(tracker_id: i64, at: i64, kind: &str) -> String {
    format!("{tracker_id}/{at}/{kind}")
}

impl Tx {
    /// The loans these VINs name (the latest loan of a VIN), with their borrowers' provinces.
    pub async fn loans_by_vin(&mut self, vins: &[String]) -> Result<Vec<VinLoan>> {
        let keys: Vec<Val> = vins.iter().cloned().map(Val::Text).collect();
        let rows = self
            .fetch_in(
                "SELECT l.vin, l.id, l.external_id, b.id_number_masked FROM loans l JOIN borrowers b ON b.id = l.borrower_id WHERE l.vin IN",
                "ORDER BY l.id",
                &keys,
                |r| {
                    let masked: String = r.try_get(3)?;
                    Ok(VinLoan {
                        vin: r.try_get(0)?,
                        loan_id: LoanId(r.try_get(1)?),
                        external_id: r.try_get(2)?,
                        province: masked.chars().take(2).collect(),
                    })
                },
            )
            .await?;
        // the latest loan of each VIN wins
        let mut out: Vec<VinLoan> = Vec::with_capacity(rows.len());
        for row in rows {
            match out.iter_mut().find(|o| o.vin == row.vin) {
                Some(o) => *o = row,
                None => out.push(row),
            }
        }
        Ok(out)
    }

    /// The first `limit` loans on the book (active), with their VINs and provinces: the demo's
    /// vehicles.
    pub async fn active_vehicles(&mut self, limit: i64) -> Result<Vec<VinLoan>> {
        let rows = sqlx::query("SELECT l.vin, l.id, l.external_id, b.id_number_masked FROM loans l JOIN borrowers b ON b.id = l.borrower_id JOIN loan_state s ON s.loan_id = l.id WHERE s.lifecycle = 'active' ORDER BY l.id LIMIT $1")
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                let masked: String = r.try_get(3)?;
                Ok(VinLoan {
                    vin: r.try_get(0)?,
                    loan_id: LoanId(r.try_get(1)?),
                    external_id: r.try_get(2)?,
                    province: masked.chars().take(2).collect(),
                })
            })
            .collect()
    }

    /// The trackers with these device ids.
    pub async fn trackers_by_device(&mut self, devices: &[String]) -> Result<Vec<TrackerRecord>> {
        let keys: Vec<Val> = devices.iter().cloned().map(Val::Text).collect();
        self.fetch_in(
            &format!("SELECT {TRACKER_COLUMNS} FROM trackers WHERE device IN"),
            "",
            &keys,
            tracker_row,
        )
        .await
    }

    /// A loan's trackers.
    pub async fn loan_trackers(&mut self, loan: LoanId) -> Result<Vec<TrackerRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TRACKER_COLUMNS} FROM trackers WHERE loan_id = $1 ORDER BY id"
        )))
        .bind(loan.get())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(tracker_row).collect()
    }

    /// Wired trackers last heard from at or before `before` whose silence is not signalled yet.
    /// PostgreSQL: held until the transaction ends, those another sweep holds skipped (`FOR
    /// UPDATE SKIP LOCKED`), so that two servers' sweeps signal each silence once.
    pub async fn silent_trackers(&mut self, before: i64) -> Result<Vec<TrackerRecord>> {
        let lock = match self.dialect {
            crate::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TRACKER_COLUMNS} FROM trackers WHERE tracker = 'wired' AND offline_signalled = 0 AND last_seen <= $1 ORDER BY id{lock}"
        )))
        .bind(before)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(tracker_row).collect()
    }

    /// Writes trackers: binds the new ones (`bound_at`), moves the known ones' clocks. Returns
    /// each device's id.
    pub async fn save_trackers(
        &mut self,
        trackers: &[TrackerBinding],
        bound_at: &str,
    ) -> Result<Vec<(String, i64)>> {
        let rows: Vec<Vec<Val>> = trackers
            .iter()
            .map(|t| {
                vec![
                    Val::Text(t.device.clone()),
                    Val::from(t.loan_id),
                    Val::Text(t.tracker.as_str().to_string()),
                    Val::Text(bound_at.to_string()),
                    Val::Int(t.last_seen),
                    Val::Int(i64::from(t.offline_signalled)),
                ]
            })
            .collect();
        let out = self
            .upsert_rows_returning(
                "trackers",
                &["device", "loan_id", "tracker", "bound_at", "last_seen", "offline_signalled"],
                rows,
                "ON CONFLICT (device) DO UPDATE SET last_seen = excluded.last_seen, offline_signalled = excluded.offline_signalled",
                "RETURNING device, id",
            )
            .await?;
        out.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// The watches of these loans, opened: (loan, province of registration, watch text).
    pub async fn vehicle_watches(
        &mut self,
        loans: &[LoanId],
    ) -> Result<Vec<(LoanId, String, String)>> {
        let keys: Vec<Val> = loans.iter().map(|l| Val::from(*l)).collect();
        let rows: Vec<(LoanId, String, String)> = self
            .fetch_in(
                "SELECT loan_id, province, watch FROM vehicle_watch WHERE loan_id IN",
                "",
                &keys,
                |r| Ok((LoanId(r.try_get(0)?), r.try_get(1)?, r.try_get(2)?)),
            )
            .await?;
        if rows.is_empty() {
            return Ok(rows);
        }
        let ring = self.keyring()?;
        rows.into_iter()
            .map(|(loan, province, sealed)| {
                let watch = ring.open(VEHICLE_WATCH, &loan.get().to_string(), &sealed)?;
                Ok((loan, province, watch))
            })
            .collect()
    }

    /// Writes watches, sealed: (loan, province of registration, watch text).
    pub async fn save_vehicle_watches(
        &mut self,
        watches: &[(LoanId, String, String)],
    ) -> Result<()> {
        if watches.is_empty() {
            return Ok(());
        }
        let ring = self.keyring()?;
        let rows: Vec<Vec<Val>> = watches
            .iter()
            .map(|(loan, province, watch)| {
                vec![
                    Val::from(*loan),
                    Val::Text(province.clone()),
                    Val::Text(ring.seal(VEHICLE_WATCH, &loan.get().to_string(), watch)),
                ]
            })
            .collect();
        self.upsert_rows(
            "vehicle_watch",
            &["loan_id", "province", "watch"],
            rows,
            "ON CONFLICT (loan_id) DO UPDATE SET province = excluded.province, watch = excluded.watch",
        )
        .await?;
        Ok(())
    }

    /// The (tracker, time, kind) of the kept events of these trackers at or after `since`: what
    /// a file sent again must not add twice.
    pub async fn kept_tracker_events(
        &mut self,
        trackers: &[i64],
        since: i64,
    ) -> Result<HashSet<(i64, i64, String)>> {
        let keys: Vec<Val> = trackers.iter().map(|t| Val::Int(*t)).collect();
        let rows = self
            .fetch_in(
                "SELECT tracker_id, at, kind FROM tracker_events WHERE tracker_id IN",
                &format!("AND at >= {since}"),
                &keys,
                |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
            )
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Keeps tracker events, their positions sealed.
    pub async fn insert_tracker_events(&mut self, events: &[NewTrackerEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let ring = self.keyring()?;
        let rows: Vec<Vec<Val>> = events
            .iter()
            .map(|e| {
                let fix = e.point.map(|p| {
                    ring.seal(
                        TRACKER_FIX,
                        &fix_owner(e.tracker_id, e.at, &e.kind),
                        &p.text(),
                    )
                });
                vec![
                    Val::Int(e.tracker_id),
                    Val::from(e.loan_id),
                    Val::Int(e.at),
                    Val::Text(e.kind.clone()),
                    Val::OptText(fix),
                    Val::Text(e.received_at.clone()),
                ]
            })
            .collect();
        self.insert_rows(
            "tracker_events",
            &["tracker_id", "loan_id", "at", "kind", "fix", "received_at"],
            rows,
        )
        .await
    }

    /// A loan's latest tracker events (newest first), positions opened.
    pub async fn loan_tracker_events(
        &mut self,
        loan: LoanId,
        limit: i64,
    ) -> Result<Vec<TrackerEventRecord>> {
        let rows = sqlx::query("SELECT e.tracker_id, t.device, t.tracker, e.at, e.kind, e.fix FROM tracker_events e JOIN trackers t ON t.id = e.tracker_id WHERE e.loan_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT $2")
            .bind(loan.get())
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        let ring = self.keyring()?;
        rows.iter()
            .map(|r| {
                let tracker_id: i64 = r.try_get(0)?;
                let at: i64 = r.try_get(3)?;
                let kind: String = r.try_get(4)?;
                let fix: Option<String> = r.try_get(5)?;
                let point = match fix {
                    None => None,
                    Some(sealed) => {
                        let text =
                            ring.open(TRACKER_FIX, &fix_owner(tracker_id, at, &kind), &sealed)?;
                        Some(Point::from_text(&text).ok_or_else(|| StoreError::Column {
                            column: "tracker_events.fix",
                            value: format!("event {tracker_id}/{at}"),
                            reason: "not a position".into(),
                        })?)
                    }
                };
                Ok(TrackerEventRecord {
                    device: r.try_get(1)?,
                    tracker: column(r, 2, "trackers.tracker")?,
                    at,
                    kind,
                    point,
                })
            })
            .collect()
    }

    /// Deletes the tracker events older than `before` (the retention period). Returns how
    /// many.
    pub async fn purge_tracker_events(&mut self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM tracker_events WHERE at < $1")
            .bind(before)
            .execute(&mut *self.tx)
            .await?
            .rows_affected())
    }

    /// Counts: (trackers, tracker events, places).
    pub async fn vehicle_counts(&mut self) -> Result<(i64, i64, i64)> {
        let r = sqlx::query("SELECT (SELECT COUNT(*) FROM trackers), (SELECT COUNT(*) FROM tracker_events), (SELECT COUNT(*) FROM places)")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
    }

    /// The external ids of these loans.
    pub async fn loan_external_ids(&mut self, loans: &[LoanId]) -> Result<Vec<(LoanId, String)>> {
        let keys: Vec<Val> = loans.iter().map(|l| Val::from(*l)).collect();
        self.fetch_in(
            "SELECT id, external_id FROM loans WHERE id IN",
            "",
            &keys,
            |r| Ok((LoanId(r.try_get(0)?), r.try_get(1)?)),
        )
        .await
    }

    /// A borrower's loans on the book (active).
    pub async fn active_loans_of_borrower(&mut self, borrower: BorrowerId) -> Result<Vec<LoanId>> {
        let rows = sqlx::query("SELECT l.id FROM loans l JOIN loan_state s ON s.loan_id = l.id WHERE l.borrower_id = $1 AND s.lifecycle = 'active' ORDER BY l.id")
            .bind(borrower.get())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(|r| Ok(LoanId(r.try_get(0)?))).collect()
    }

    /// Whether the loan has an open repossession case (收车).
    pub async fn open_repossession(&mut self, loan: LoanId) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) FROM cases WHERE loan_id = $1 AND kind = 'repossession' AND closed_on IS NULL")
            .bind(loan.get())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    // ----- places -------------------------------------------------------------------------------

    /// Every known place.
    pub async fn places(&mut self) -> Result<Vec<(String, Place)>> {
        let rows = sqlx::query(
            "SELECT id, external_id, kind, name, lat_e6, lon_e6, radius_m FROM places ORDER BY id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: PlaceKind = column(r, 2, "places.kind")?;
                let radius: i64 = r.try_get(6)?;
                Ok((
                    r.try_get(1)?,
                    Place {
                        id: r.try_get(0)?,
                        kind,
                        name: r.try_get(3)?,
                        point: Point {
                            lat_e6: r.try_get(4)?,
                            lon_e6: r.try_get(5)?,
                        },
                        radius_m: u32::try_from(radius).map_err(|_| StoreError::Column {
                            column: "places.radius_m",
                            value: radius.to_string(),
                            reason: "out of range".into(),
                        })?,
                    },
                ))
            })
            .collect()
    }

    /// Writes places by external id (a place sent again is updated). Returns how many rows
    /// were written.
    pub async fn upsert_places(&mut self, places: &[(String, Place)]) -> Result<u64> {
        let rows: Vec<Vec<Val>> = places
            .iter()
            .map(|(external_id, p)| {
                vec![
                    Val::Text(external_id.clone()),
                    Val::Text(p.kind.as_str().to_string()),
                    Val::Text(p.name.clone()),
                    Val::Int(p.point.lat_e6),
                    Val::Int(p.point.lon_e6),
                    Val::Int(i64::from(p.radius_m)),
                ]
            })
            .collect();
        self.upsert_rows(
            "places",
            &["external_id", "kind", "name", "lat_e6", "lon_e6", "radius_m"],
            rows,
            "ON CONFLICT (external_id) DO UPDATE SET kind = excluded.kind, name = excluded.name, lat_e6 = excluded.lat_e6, lon_e6 = excluded.lon_e6, radius_m = excluded.radius_m",
        )
        .await
    }

    // ----- the log of location views ------------------------------------------------------------

    /// Logs a view of a vehicle's locations.
    pub async fn insert_location_view(
        &mut self,
        user: UserId,
        loan: LoanId,
        viewed_at: &str,
        business_date: Date,
    ) -> Result<()> {
        sqlx::query("INSERT INTO location_views (user_id, loan_id, viewed_at, business_date) VALUES ($1, $2, $3, $4)")
            .bind(user.get())
            .bind(loan.get())
            .bind(viewed_at)
            .bind(date_text(business_date))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The latest views of locations (of one loan, or of all), newest first.
    pub async fn location_views(
        &mut self,
        loan: Option<LoanId>,
        limit: i64,
    ) -> Result<Vec<LocationViewRecord>> {
        let rows = sqlx::query("SELECT v.id, u.username, l.external_id, v.viewed_at, v.business_date FROM location_views v JOIN users u ON u.id = v.user_id JOIN loans l ON l.id = v.loan_id WHERE ($1 = 0 OR v.loan_id = $1) ORDER BY v.id DESC LIMIT $2")
            .bind(loan.map_or(0, LoanId::get))
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LocationViewRecord {
                    id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    loan_external_id: r.try_get(2)?,
                    viewed_at: r.try_get(3)?,
                    business_date: parse_date_col(&r.try_get::<String, _>(4)?)?,
                })
            })
            .collect()
    }
}

//! Personal data at rest on both backends: ID numbers and mobiles are stored sealed (never in
//! clear) with lookup hashes and masked forms; a store without the key opens for everything but
//! personal data; a new key seals from then on and `keys::rotate` re-seals the rest (and seals
//! what an older version stored in clear) while the old key still opens what it sealed.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

#[path = "support/team_fixture.rs"]
mod support;

use huifang_app::{keys, status};
use huifang_store::pii::Keyring;
use huifang_store::{EmergencyContact, Store, StoreError};
use huifang_testkit::{Dbs, on_both, test_keys};
use sqlx::Row;
use support::book;

const ID_NUMBER: &str = "11010519491231002X";
const MOBILE: &str = "13800138000";
const CONTACT_MOBILE: &str = "13912345678";
const ACCOUNT: &str = "6222021234567890123";

async fn set_account(store: &Store, borrower: &str) {
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .borrower_ids_by_external_id(&[borrower.to_string()])
        .await
        .unwrap()[borrower];
    tx.set_bank_account(id, borrower, ACCOUNT).await.unwrap();
    tx.commit().await.unwrap();
}

/// Every stored value of `sql`'s one column.
async fn column(url: &str, sql: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
}

/// Runs one statement on a connection of its own (outside the store), binding `binds`.
async fn exec(url: &str, sql: &str, binds: &[&str]) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for b in binds {
        q = q.bind(b.to_string());
    }
    q.execute(&mut conn).await.unwrap();
}

async fn add_contact(store: &Store, borrower: &str, mobile: &str) {
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .borrower_ids_by_external_id(&[borrower.to_string()])
        .await
        .unwrap()[borrower];
    tx.upsert_emergency_contact(&EmergencyContact {
        borrower_id: id,
        name: "李四".into(),
        relation: "配偶".into(),
        mobile: mobile.into(),
        consent_on: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

on_both!(
    personal_data_is_sealed_and_still_found,
    a_new_key_seals_and_rotation_reseals_the_rest
);

async fn personal_data_is_sealed_and_still_found(dbs: &mut Dbs) {
    let (store, url) = dbs.fresh_with_url().await;
    book(&store, 3).await;
    add_contact(&store, "B1", CONTACT_MOBILE).await;
    add_contact(&store, "B1", CONTACT_MOBILE).await; // the same contact again: updated, not added
    set_account(&store, "B1").await;

    // what the database holds: sealed values under the test key, lookups, masked forms
    for value in column(&url, "SELECT id_number FROM borrowers UNION ALL SELECT mobile FROM borrowers UNION ALL SELECT mobile FROM emergency_contacts UNION ALL SELECT bank_account FROM borrowers WHERE bank_account IS NOT NULL").await {
        assert!(value.starts_with("pii1.ktest."), "{value}");
        assert!(!value.contains(MOBILE) && !value.contains(CONTACT_MOBILE) && !value.contains(ID_NUMBER) && !value.contains(ACCOUNT));
    }
    assert_eq!(
        column(
            &url,
            "SELECT bank_account_masked FROM borrowers WHERE external_id = 'B1'"
        )
        .await,
        vec!["***************0123".to_string()]
    );
    assert_eq!(
        column(&url, "SELECT mobile_masked FROM emergency_contacts").await,
        vec!["139****5678".to_string()]
    );
    assert_eq!(
        column(
            &url,
            "SELECT id_number_masked FROM borrowers WHERE external_id = 'B2'"
        )
        .await,
        vec!["110105********002X".to_string()]
    );

    // with the key: opened, and found by the mobile's lookup hash
    let mut tx = store.begin().await.unwrap();
    let b = tx
        .borrowers_by_external_id(&["B2".to_string()])
        .await
        .unwrap()
        .remove("B2")
        .unwrap();
    assert_eq!(
        (b.borrower.id_number.as_str(), b.borrower.mobile.as_str()),
        (ID_NUMBER, MOBILE)
    );
    assert_eq!(
        tx.borrower_by_mobile(MOBILE)
            .await
            .unwrap()
            .map(|b| b.get()),
        Some(1)
    );
    assert_eq!(tx.borrower_by_mobile("13700000000").await.unwrap(), None);
    assert_eq!(
        tx.bank_account("B1").await.unwrap().as_deref(),
        Some(ACCOUNT)
    );
    assert_eq!(tx.bank_account("B2").await.unwrap(), None);
    let contacts = tx.emergency_contacts(b.id).await.unwrap();
    assert!(contacts.is_empty());
    tx.rollback().await.unwrap();

    // a sealed value moved to another row does not open
    let moved = column(
        &url,
        "SELECT mobile FROM borrowers WHERE external_id = 'B1'",
    )
    .await;
    exec(
        &url,
        "UPDATE borrowers SET mobile = $1 WHERE external_id = 'B3'",
        &[&moved[0]],
    )
    .await;
    let mut tx = store.begin().await.unwrap();
    let err = tx
        .borrowers_by_external_id(&["B3".to_string()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("moved from another row"), "{err}");
    tx.rollback().await.unwrap();

    // without the key: the book opens, reports and masked cards work, personal data does not
    let closed = Store::connect(&url).await.unwrap();
    let (_, rows) = status::summary(&closed).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.loans).sum::<i64>(), 3);
    let mut tx = closed.begin().await.unwrap();
    let card = tx.borrower_card("B1").await.unwrap().unwrap();
    assert_eq!(
        (card.id_number_masked.as_str(), card.mobile_masked.as_str()),
        ("110105********002X", "138****8000")
    );
    assert!(matches!(
        tx.borrowers_by_external_id(&["B1".to_string()]).await,
        Err(StoreError::NoDataKey)
    ));
    assert!(matches!(
        tx.borrower_by_mobile(MOBILE).await,
        Err(StoreError::NoDataKey)
    ));
    tx.rollback().await.unwrap();
    closed.close().await;
}

async fn a_new_key_seals_and_rotation_reseals_the_rest(dbs: &mut Dbs) {
    let (store, url) = dbs.fresh_with_url().await;
    book(&store, 4).await;
    add_contact(&store, "B1", CONTACT_MOBILE).await;
    set_account(&store, "B2").await;
    let (_, secret) = huifang_app::webhooks::add(
        &store,
        None,
        "erp",
        "http://127.0.0.1:9/h",
        "all",
        Some("a-subscriber-secret-of-16+".into()),
    )
    .await
    .unwrap();
    // a vehicle's track, sealed under the old key
    let policy = huifang_app::policy::load(&store).await.unwrap();
    huifang_app::import::import_from(
        &store,
        &policy,
        huifang_app::files::ImportFormat::TrackerEvents,
        huifang_app::files::Source::Bytes(
            b"device_id,vin,tracker,time,lat,lon,event\nW1,LVSN4BKM0R1944736,wired,2026-03-20T08:00:00+08:00,39.904200,116.407400,position\nW1,LVSN4BKM0R1944736,wired,2026-03-20T09:00:00+08:00,,,power_cut\n",
            huifang_app::files::FileKind::Csv,
        ),
    )
    .await
    .unwrap();
    // a row as an older version stored it: in clear, without lookup or masked form
    exec(&url, "UPDATE borrowers SET id_number = $1, mobile = $2, id_number_lookup = NULL, mobile_lookup = NULL, id_number_masked = '', mobile_masked = '' WHERE external_id = 'B4'", &[ID_NUMBER, "13600000004"]).await;

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.borrower_by_mobile("13600000004")
            .await
            .unwrap()
            .map(|b| b.get()),
        Some(4)
    );
    assert_eq!(
        tx.borrower_card("B4").await.unwrap().unwrap().mobile_masked,
        "136****0004"
    );
    tx.rollback().await.unwrap();

    // a new key first: old rows still open and are still found; new rows are sealed under it
    let new_line = Keyring::new_key_line();
    let new_id = new_line.split(' ').next().unwrap().to_string();
    let ring = Keyring::parse(&format!("{new_line}\n{}", huifang_testkit::TEST_KEY_LINE)).unwrap();
    let store = store.with_keys(Some(ring));
    add_contact(&store, "B2", "13500000002").await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.borrower_by_mobile(MOBILE)
            .await
            .unwrap()
            .map(|b| b.get()),
        Some(1)
    );
    assert_eq!(
        tx.sealing_backlog().await.unwrap(),
        huifang_store::pii::SealingBacklog {
            borrowers: 4,
            emergency_contacts: 1,
            locations: 2
        }
    );
    tx.rollback().await.unwrap();

    let mut seen = Vec::new();
    let done = keys::rotate(&store, |d| seen.push(*d)).await.unwrap();
    assert_eq!(
        (
            done.borrowers,
            done.emergency_contacts,
            done.webhook_secrets,
            done.locations
        ),
        (4, 1, 1, 2)
    );
    assert!(!seen.is_empty());
    assert_eq!(keys::backlog(&store).await.unwrap(), Default::default());
    for value in column(&url, "SELECT id_number FROM borrowers UNION ALL SELECT mobile FROM borrowers UNION ALL SELECT mobile FROM emergency_contacts UNION ALL SELECT bank_account FROM borrowers WHERE bank_account IS NOT NULL UNION ALL SELECT secret FROM webhooks UNION ALL SELECT fix FROM tracker_events WHERE fix IS NOT NULL UNION ALL SELECT watch FROM vehicle_watch").await {
        assert!(value.starts_with(&format!("pii1.{new_id}.")), "{value}");
    }
    // run again: nothing left to do
    assert_eq!(
        keys::rotate(&store, |_| {}).await.unwrap(),
        Default::default()
    );

    // the new key alone opens everything; the old one alone opens nothing now
    let only_new = Store::connect(&url)
        .await
        .unwrap()
        .with_keys(Some(Keyring::parse(&new_line).unwrap()));
    let mut tx = only_new.begin().await.unwrap();
    let all = tx
        .borrowers_by_external_id(&["B1".into(), "B4".into()])
        .await
        .unwrap();
    assert_eq!(all["B4"].borrower.mobile, "13600000004");
    assert_eq!(all["B1"].borrower.id_number, ID_NUMBER);
    assert_eq!(
        tx.bank_account("B2").await.unwrap().as_deref(),
        Some(ACCOUNT)
    );
    assert_eq!(tx.webhooks().await.unwrap()[0].secret, secret);
    assert_eq!(
        tx.borrower_by_mobile("13600000004")
            .await
            .unwrap()
            .map(|b| b.get()),
        Some(4)
    );
    assert_eq!(
        tx.borrower_card("B4").await.unwrap().unwrap().mobile_masked,
        "136****0004"
    );
    let contacts = tx.emergency_contacts(all["B1"].id).await.unwrap();
    assert_eq!(contacts[0].1.mobile, CONTACT_MOBILE);
    let loan = tx.loan_ids_by_external_id(&["L4".into()]).await.unwrap()["L4"];
    let track = tx.loan_tracker_events(loan, 10).await.unwrap();
    assert_eq!(track[1].point.unwrap().text(), "39.904200,116.407400");
    assert_eq!(tx.vehicle_watches(&[loan]).await.unwrap().len(), 1);
    tx.rollback().await.unwrap();
    only_new.close().await;
    let only_old = Store::connect(&url)
        .await
        .unwrap()
        .with_keys(Some(test_keys()));
    let mut tx = only_old.begin().await.unwrap();
    let err = tx
        .borrowers_by_external_id(&["B1".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::MissingDataKey(id) if *id == new_id),
        "{err}"
    );
    tx.rollback().await.unwrap();
    only_old.close().await;
}

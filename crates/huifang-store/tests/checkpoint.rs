//! SQLite's write-ahead log is copied back into the database file by the store's background
//! thread, not inside the commits (which would make a large transaction, such as a daily close,
//! also pay for writing and syncing every page it dirtied).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use huifang_testkit::Dbs;

/// Rows of `settings` in the main database file alone (no log beside it).
fn settings_in_main_file(dir: &std::path::Path, url: &str) -> i64 {
    let file = url.strip_prefix("sqlite://").expect("sqlite url");
    let copy = dir.join("main-file-only.sqlite");
    std::fs::copy(file, &copy).expect("copy the main file");
    let conn = rusqlite::Connection::open(&copy).expect("open the copy");
    conn.query_row("SELECT COUNT(*) FROM settings", [], |r| r.get(0))
        .expect("count")
}

#[tokio::test]
async fn commits_reach_the_main_file_in_the_background_and_settle_waits_for_them() {
    let mut dbs = Dbs::new(false);
    let (store, url) = dbs.fresh_with_url().await;
    store.migrate().await.expect("migrate");
    store.settle().await;
    let before = settings_in_main_file(dbs.dir(), &url);
    for i in 0..40 {
        let mut tx = store.begin().await.expect("begin");
        tx.set_setting(&format!("test.key.{i}"), "value")
            .await
            .expect("set");
        tx.commit().await.expect("commit");
    }
    store.settle().await;
    assert_eq!(settings_in_main_file(dbs.dir(), &url), before + 40);

    // Closing runs a last checkpoint: the log beside the file holds nothing more.
    let mut tx = store.begin().await.expect("begin");
    tx.set_setting("test.last", "value").await.expect("set");
    tx.commit().await.expect("commit");
    store.close().await;
    assert_eq!(settings_in_main_file(dbs.dir(), &url), before + 41);
    dbs.finish().await;
}

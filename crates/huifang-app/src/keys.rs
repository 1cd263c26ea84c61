//! The data keys that seal personal data at rest (`huifang_store::pii`): where the key file is,
//! making one, putting a new key first, and re-sealing every row under the current key while the
//! book stays in use (`huifang keys new|rotate|status`).
//!
//! The key file never lives in the database. Unless one is named (`--data-key-file`,
//! [`KEY_FILE_ENV`]), it is `PATH.keys` beside a SQLite file `PATH`, and `huifang.keys` in the
//! current folder for PostgreSQL.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use huifang_store::Store;
use huifang_store::pii::{Keyring, Locations, SealingBacklog};

use crate::AppError;

/// The environment variable that names the key file.
pub const KEY_FILE_ENV: &str = "HUIFANG_DATA_KEY_FILE";

/// Rows re-sealed per transaction by [`rotate`]: short transactions, so that the book's other
/// writers wait little.
pub const RESEAL_BATCH: i64 = 500;

const HEADER: &str = "# Huifang data keys (personal data at rest). One key per line: ID HEX.\n# The first key seals; every key opens what it sealed. Keep this file apart from the\n# database and its backups; losing it loses the ID numbers and mobiles.\n";

/// The key file of the database at `url` when none is named.
pub fn default_key_file(url: &str) -> PathBuf {
    let sqlite = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
        .filter(|p| !p.is_empty() && !p.starts_with(':'));
    match sqlite {
        Some(path) => PathBuf::from(format!("{path}.keys")),
        None => PathBuf::from("huifang.keys"),
    }
}

/// The keys in `path`; none when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Keyring>, AppError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AppError::Invalid(format!(
                "cannot read the key file {}: {e}",
                path.display()
            )));
        }
    };
    Keyring::parse(&text)
        .map(Some)
        .map_err(|e| AppError::Invalid(format!("key file {}: {e}", path.display())))
}

/// Puts a new random key first in the key file at `path` (made, readable by its owner only, if
/// missing); the keys already there stay to open what they sealed. Returns the new key's id.
pub fn add_key(path: &Path) -> Result<String, AppError> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => {
            Keyring::parse(&text)
                .map_err(|e| AppError::Invalid(format!("key file {}: {e}", path.display())))?;
            text
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(AppError::Io(e)),
    };
    let line = Keyring::new_key_line();
    let id = line.split(' ').next().unwrap_or_default().to_string();
    let kept: String = old
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    write_private(path, &format!("{HEADER}{line}\n{kept}"))?;
    Ok(id)
}

/// Makes the key file at `path` with one key if there is none; true when it was made.
pub fn ensure(path: &Path) -> Result<bool, AppError> {
    if path.exists() {
        return Ok(false);
    }
    add_key(path)?;
    Ok(true)
}

/// Writes `text` to `path` through a temporary file beside it, readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), AppError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".huifang-keys")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| AppError::Io(e.error))?;
    Ok(())
}

/// A key held in memory only: for benchmarks' scratch books, whose personal data nobody reads
/// after the run.
pub fn ephemeral() -> Keyring {
    Keyring::parse(&Keyring::new_key_line())
        .unwrap_or_else(|_| unreachable!("a new key line parses"))
}

/// What [`rotate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    pub borrowers: u64,
    pub emergency_contacts: u64,
    /// Webhook subscribers' secrets (not personal data, sealed the same way).
    pub webhook_secrets: u64,
    /// Tracker events' positions and vehicles' watches.
    pub locations: u64,
}

/// Rows still to re-seal under the current key.
pub async fn backlog(store: &Store) -> Result<SealingBacklog, AppError> {
    let mut tx = store.begin().await?;
    let backlog = tx.sealing_backlog().await?;
    tx.rollback().await?;
    Ok(backlog)
}

/// Re-seals every borrower's and emergency contact's personal data, the vehicles' locations and
/// the webhook subscribers' secrets, under the current key (and seals what an older version stored in
/// clear), [`RESEAL_BATCH`] rows per transaction, so that servers and the close keep working
/// meanwhile. `progress` hears the rows done so far.
pub async fn rotate(
    store: &Store,
    mut progress: impl FnMut(&Rotation),
) -> Result<Rotation, AppError> {
    let mut done = Rotation::default();
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    done.webhook_secrets = tx.reseal_webhook_secrets().await?;
    tx.commit().await?;
    for table in [
        Table::Borrowers,
        Table::EmergencyContacts,
        Table::Locations(Locations::Events),
        Table::Locations(Locations::Watches),
    ] {
        let mut after = 0;
        loop {
            let mut tx = store.begin().await?;
            tx.lock_for_write().await?;
            let (last, n) = match table {
                Table::Borrowers => tx.reseal_borrowers(after, RESEAL_BATCH).await?,
                Table::EmergencyContacts => {
                    tx.reseal_emergency_contacts(after, RESEAL_BATCH).await?
                }
                Table::Locations(which) => tx.reseal_locations(which, after, RESEAL_BATCH).await?,
            };
            tx.commit().await?;
            match table {
                Table::Borrowers => done.borrowers += n,
                Table::EmergencyContacts => done.emergency_contacts += n,
                Table::Locations(_) => done.locations += n,
            }
            progress(&done);
            match last {
                Some(id) => after = id,
                None => break,
            }
        }
    }
    Ok(done)
}

#[derive(Clone, Copy)]
enum Table {
    Borrowers,
    EmergencyContacts,
    Locations(Locations),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_file_sits_beside_a_sqlite_file() {
        assert_eq!(
            default_key_file("sqlite:///tmp/a/h.db?mode=rwc"),
            PathBuf::from("/tmp/a/h.db.keys")
        );
        assert_eq!(
            default_key_file("sqlite://h.db"),
            PathBuf::from("h.db.keys")
        );
        assert_eq!(
            default_key_file("postgres://x@127.0.0.1/db"),
            PathBuf::from("huifang.keys")
        );
    }

    #[test]
    fn a_new_key_goes_first_and_the_old_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        assert!(load(&path).unwrap().is_none());
        assert!(ensure(&path).unwrap());
        assert!(!ensure(&path).unwrap());
        let first = load(&path).unwrap().unwrap().current_id().to_string();
        let second = add_key(&path).unwrap();
        let ring = load(&path).unwrap().unwrap();
        assert_eq!(ring.ids(), vec![second.as_str(), first.as_str()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "nonsense").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("line 1"));
    }
}

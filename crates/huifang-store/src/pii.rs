//! Personal data at rest (PIPL): ID numbers and mobiles (the borrowers' and their emergency
//! contacts') are stored sealed with XChaCha20-Poly1305 under a data key that lives outside the
//! database (a key file), beside a keyed hash (HMAC-SHA256) for exact lookups and the masked form
//! that pages show without a reveal.
//!
//! A key file holds one key per line, `ID HEX` (32 bytes as 64 hex digits), `#` comments; the
//! first key is the current one, which seals; every key in the file opens what it sealed. Each
//! stored value names its key (`pii1.ID.BASE64`, the 24-byte nonce then the ciphertext), so a
//! new key can be put first and the rows re-sealed under it in batches while servers keep
//! working ([`Keyring::sealed_under`], `huifang keys rotate`). A value is bound to its column and
//! owner (the associated data), so a sealed value copied to another row or column does not open.
//!
//! Lookup hashes are 16 bytes of HMAC-SHA256 under a key derived from each data key; a lookup
//! asks for the hashes under every key of the ring, so rows not yet re-sealed are still found.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use sqlx::Row;

use crate::{
    BORROWER_BANK_ACCOUNT, BORROWER_ID_NUMBER, BORROWER_MOBILE, EMERGENCY_MOBILE, Result,
    StoreError, Tx, WEBHOOK_SECRET,
};

/// The kinds of lookup hash: one kind per kind of datum, whatever its column.
pub const ID_NUMBER: &str = "id_number";
pub const MOBILE: &str = "mobile";

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "pii1.";

const NONCE_BYTES: usize = 24;
const LOOKUP_BYTES: usize = 16;

/// One data key: its id, the cipher derived from it and the key of its lookup hashes.
struct DataKey {
    id: String,
    cipher: XChaCha20Poly1305,
    lookup: [u8; 32],
}

/// The data keys at hand, the current one first.
pub struct Keyring {
    keys: Vec<DataKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A key id: 1 to 32 letters, digits, `-` or `_`.
pub fn valid_key_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Keyring {
    /// Reads a key file's text. Errors name the line.
    pub fn parse(text: &str) -> std::result::Result<Keyring, String> {
        let mut keys: Vec<DataKey> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let n = i + 1;
            let mut parts = line.split_whitespace();
            let (Some(id), Some(hex_key), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!(
                    "line {n}: expected `ID HEX` (a key id and 64 hex digits)"
                ));
            };
            if !valid_key_id(id) {
                return Err(format!(
                    "line {n}: key id {id:?} must be 1 to 32 letters, digits, - or _"
                ));
            }
            let mut master = [0u8; 32];
            hex::decode_to_slice(hex_key, &mut master)
                .map_err(|_| format!("line {n}: the key of {id} is not 64 hex digits"))?;
            if keys.iter().any(|k| k.id == id) {
                return Err(format!("line {n}: key id {id} appears twice"));
            }
            keys.push(DataKey {
                id: id.to_string(),
                cipher: XChaCha20Poly1305::new(&derive(&master, "huifang pii aead v1").into()),
                lookup: derive(&master, "huifang pii lookup v1"),
            });
        }
        if keys.is_empty() {
            return Err("the key file holds no key (lines `ID HEX`)".into());
        }
        Ok(Keyring { keys })
    }

    /// A new key's line for a key file: a random id and 32 random bytes.
    pub fn new_key_line() -> String {
        let mut rng = rand::rngs::OsRng;
        let mut id = [0u8; 4];
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut key);
        format!("k{} {}", hex::encode(id), hex::encode(key))
    }

    /// The key ids, the current one first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        self.current().id.as_str()
    }

    fn current(&self) -> &DataKey {
        // parse refuses an empty ring
        self.keys
            .first()
            .unwrap_or_else(|| unreachable!("a keyring holds at least one key"))
    }

    /// Seals `clear` for the column `what` of the row `owner` (both bound to the value).
    pub fn seal(&self, what: &str, owner: &str, clear: &str) -> String {
        let key = self.current();
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = format!("{what}\u{0}{owner}");
        let sealed = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: clear.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap_or_else(|_| unreachable!("sealing a short text cannot fail"));
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!(
            "{SEALED_PREFIX}{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// Opens a stored value of the column `what` of the row `owner`. A value stored before
    /// personal data was sealed (no `pii1.` prefix) is returned as it is.
    pub fn open(&self, what: &str, owner: &str, stored: &str) -> Result<String> {
        let Some((id, body)) = split_sealed(stored) else {
            return Ok(stored.to_string());
        };
        let corrupt = |reason: String| StoreError::Column {
            column: "personal data",
            value: format!("{what} of {owner}"),
            reason,
        };
        let key = self
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| StoreError::MissingDataKey(id.to_string()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| corrupt("the sealed value is not base64".into()))?;
        if bytes.len() < NONCE_BYTES {
            return Err(corrupt("the sealed value is too short".into()));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let aad = format!("{what}\u{0}{owner}");
        let clear = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                corrupt(format!(
                    "it does not open under key {id}: changed, or moved from another row"
                ))
            })?;
        String::from_utf8(clear).map_err(|_| corrupt("the opened value is not UTF-8".into()))
    }

    /// The lookup hash of `clear` (of the kind `kind`: "id_number", "mobile") under the current
    /// key, as stored.
    pub fn lookup(&self, kind: &str, clear: &str) -> String {
        lookup_under(self.current(), kind, clear)
    }

    /// The lookup hashes of `clear` under every key (what a search asks for).
    pub fn lookups(&self, kind: &str, clear: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| lookup_under(k, kind, clear))
            .collect()
    }
}

fn lookup_under(key: &DataKey, kind: &str, clear: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.lookup)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(clear.as_bytes());
    let full = mac.finalize().into_bytes();
    hex::encode(full.get(..LOOKUP_BYTES).unwrap_or(&full))
}

fn split_sealed(stored: &str) -> Option<(&str, &str)> {
    stored.strip_prefix(SEALED_PREFIX)?.split_once('.')
}

/// The id of the key a stored value was sealed under; none for a value stored in clear.
pub fn sealed_under(stored: &str) -> Option<&str> {
    split_sealed(stored).map(|(id, _)| id)
}

/// What pages show of a stored personal datum: its stored masked form, or the clear value
/// masked for a value stored before sealing.
pub(crate) fn shown_masked(stored: String, masked: String, mask: fn(&str) -> String) -> String {
    if sealed_under(&stored).is_none() {
        mask(&stored)
    } else {
        masked
    }
}

/// Rows whose personal data is not sealed under the current key: borrowers, emergency contacts,
/// and locations (tracker events' fixes and vehicles' watches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SealingBacklog {
    pub borrowers: i64,
    pub emergency_contacts: i64,
    pub locations: i64,
}

/// The locations [`Tx::reseal_locations`] re-seals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locations {
    Events,
    Watches,
}

impl Tx {
    /// How many rows `reseal_*` still have to re-seal under the current key.
    pub async fn sealing_backlog(&mut self) -> Result<SealingBacklog> {
        let current = format!("{SEALED_PREFIX}{}.%", self.keyring()?.current_id());
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM borrowers WHERE id_number NOT LIKE $1 OR mobile NOT LIKE $1 OR bank_account NOT LIKE $1), (SELECT COUNT(*) FROM emergency_contacts WHERE mobile NOT LIKE $1), (SELECT COUNT(*) FROM tracker_events WHERE fix NOT LIKE $1) + (SELECT COUNT(*) FROM vehicle_watch WHERE watch NOT LIKE $1)")
            .bind(current)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(SealingBacklog {
            borrowers: row.try_get(0)?,
            emergency_contacts: row.try_get(1)?,
            locations: row.try_get(2)?,
        })
    }

    /// Re-seals under the current key (and gives lookup hashes and masked forms to) up to `limit`
    /// borrowers with an id above `after` whose ID number or mobile is sealed under another key
    /// or stored in clear. Returns the last id looked at (none: no row left) and how many rows
    /// were re-sealed. A row changed since it was read is left to its writer, who sealed it
    /// under the current key.
    pub async fn reseal_borrowers(&mut self, after: i64, limit: i64) -> Result<(Option<i64>, u64)> {
        let keys = self.keyring()?;
        let current = format!("{SEALED_PREFIX}{}.%", keys.current_id());
        let rows = sqlx::query("SELECT id, external_id, id_number, mobile, bank_account FROM borrowers WHERE id > $1 AND (id_number NOT LIKE $2 OR mobile NOT LIKE $2 OR bank_account NOT LIKE $2) ORDER BY id LIMIT $3")
            .bind(after)
            .bind(current)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut last = None;
        let mut done = 0;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let owner: String = r.try_get(1)?;
            let (id_stored, mobile_stored): (String, String) = (r.try_get(2)?, r.try_get(3)?);
            let id_number = keys.open(BORROWER_ID_NUMBER, &owner, &id_stored)?;
            let mobile = keys.open(BORROWER_MOBILE, &owner, &mobile_stored)?;
            let account_stored: Option<String> = r.try_get(4)?;
            if let Some(stored) = &account_stored {
                let account = keys.open(BORROWER_BANK_ACCOUNT, &owner, stored)?;
                sqlx::query("UPDATE borrowers SET bank_account = $1, bank_account_masked = $2 WHERE id = $3 AND bank_account = $4")
                    .bind(keys.seal(BORROWER_BANK_ACCOUNT, &owner, &account))
                    .bind(huifang_core::team::mask_account(&account))
                    .bind(id)
                    .bind(stored)
                    .execute(&mut *self.tx)
                    .await?;
            }
            done += sqlx::query("UPDATE borrowers SET id_number = $1, id_number_lookup = $2, id_number_masked = $3, mobile = $4, mobile_lookup = $5, mobile_masked = $6 WHERE id = $7 AND id_number = $8 AND mobile = $9")
                .bind(keys.seal(BORROWER_ID_NUMBER, &owner, &id_number))
                .bind(keys.lookup(ID_NUMBER, &id_number))
                .bind(huifang_core::team::mask_id_number(&id_number))
                .bind(keys.seal(BORROWER_MOBILE, &owner, &mobile))
                .bind(keys.lookup(MOBILE, &mobile))
                .bind(huifang_core::team::mask_mobile(&mobile))
                .bind(id)
                .bind(id_stored)
                .bind(mobile_stored)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
            last = Some(id);
        }
        Ok((last, done))
    }

    /// Re-seals every webhook subscriber's secret not sealed under the current key (a handful
    /// of rows: all at once); how many were re-sealed.
    pub async fn reseal_webhook_secrets(&mut self) -> Result<u64> {
        let keys = self.keyring()?;
        let current = format!("{SEALED_PREFIX}{}.%", keys.current_id());
        let rows = sqlx::query("SELECT id, name, secret FROM webhooks WHERE secret NOT LIKE $1")
            .bind(current)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut done = 0;
        for r in rows {
            let (id, name, stored): (i64, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let secret = keys.open(WEBHOOK_SECRET, &name, &stored)?;
            done += sqlx::query("UPDATE webhooks SET secret = $1 WHERE id = $2 AND secret = $3")
                .bind(keys.seal(WEBHOOK_SECRET, &name, &secret))
                .bind(id)
                .bind(stored)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        }
        Ok(done)
    }

    /// [`Tx::reseal_borrowers`] for locations: the tracker events' fixes (`Locations::Events`,
    /// by event id) or the vehicles' watches (`Locations::Watches`, by loan id).
    pub async fn reseal_locations(
        &mut self,
        which: Locations,
        after: i64,
        limit: i64,
    ) -> Result<(Option<i64>, u64)> {
        let keys = self.keyring()?;
        let current = format!("{SEALED_PREFIX}{}.%", keys.current_id());
        let (select, update, what) = match which {
            Locations::Events => (
                "SELECT id, tracker_id || '/' || at || '/' || kind AS owner, fix FROM tracker_events WHERE id > $1 AND fix NOT LIKE $2 ORDER BY id LIMIT $3",
                "UPDATE tracker_events SET fix = $1 WHERE id = $2 AND fix = $3",
                crate::vehicles::TRACKER_FIX,
            ),
            Locations::Watches => (
                "SELECT loan_id, CAST(loan_id AS TEXT) AS owner, watch FROM vehicle_watch WHERE loan_id > $1 AND watch NOT LIKE $2 ORDER BY loan_id LIMIT $3",
                "UPDATE vehicle_watch SET watch = $1 WHERE loan_id = $2 AND watch = $3",
                crate::vehicles::VEHICLE_WATCH,
            ),
        };
        let rows = sqlx::query(select)
            .bind(after)
            .bind(current)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut last = None;
        let mut done = 0;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let owner: String = r.try_get(1)?;
            let stored: String = r.try_get(2)?;
            let clear = keys.open(what, &owner, &stored)?;
            done += sqlx::query(update)
                .bind(keys.seal(what, &owner, &clear))
                .bind(id)
                .bind(stored)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
            last = Some(id);
        }
        Ok((last, done))
    }

    /// [`Tx::reseal_borrowers`] for the emergency contacts' mobiles.
    pub async fn reseal_emergency_contacts(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<(Option<i64>, u64)> {
        let keys = self.keyring()?;
        let current = format!("{SEALED_PREFIX}{}.%", keys.current_id());
        let rows = sqlx::query("SELECT id, borrower_id, mobile FROM emergency_contacts WHERE id > $1 AND mobile NOT LIKE $2 ORDER BY id LIMIT $3")
            .bind(after)
            .bind(current)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut last = None;
        let mut done = 0;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let owner = r.try_get::<i64, _>(1)?.to_string();
            let stored: String = r.try_get(2)?;
            let mobile = keys.open(EMERGENCY_MOBILE, &owner, &stored)?;
            done += sqlx::query("UPDATE emergency_contacts SET mobile = $1, mobile_lookup = $2, mobile_masked = $3 WHERE id = $4 AND mobile = $5")
                .bind(keys.seal(EMERGENCY_MOBILE, &owner, &mobile))
                .bind(keys.lookup(MOBILE, &mobile))
                .bind(huifang_core::team::mask_mobile(&mobile))
                .bind(id)
                .bind(stored)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
            last = Some(id);
        }
        Ok((last, done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(lines: &[&str]) -> Keyring {
        Keyring::parse(&lines.join("\n")).unwrap()
    }

    const A: &str = "ka 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const B: &str = "kb 1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

    #[test]
    fn sealed_values_open_only_in_their_column_and_row() {
        let r = ring(&[A]);
        let s = r.seal("borrowers.mobile", "B1", "13912345678");
        assert!(s.starts_with("pii1.ka."), "{s}");
        assert!(!s.contains("13912345678"));
        assert_ne!(
            s,
            r.seal("borrowers.mobile", "B1", "13912345678"),
            "nonce reused"
        );
        assert_eq!(r.open("borrowers.mobile", "B1", &s).unwrap(), "13912345678");
        assert!(r.open("borrowers.mobile", "B2", &s).is_err());
        assert!(r.open("borrowers.id_number", "B1", &s).is_err());
        let mut tampered = s.clone();
        tampered.pop();
        tampered.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(r.open("borrowers.mobile", "B1", &tampered).is_err());
        assert_eq!(r.open("x", "y", "plain").unwrap(), "plain");
    }

    #[test]
    fn an_old_key_opens_what_it_sealed_and_lookups_cover_every_key() {
        let old = ring(&[A]);
        let s = old.seal("m", "o", "13800000000");
        let rotated = ring(&[B, A]);
        assert_eq!(rotated.current_id(), "kb");
        assert_eq!(sealed_under(&s), Some("ka"));
        assert_eq!(rotated.open("m", "o", &s).unwrap(), "13800000000");
        assert!(
            rotated
                .lookups("mobile", "13800000000")
                .contains(&old.lookup("mobile", "13800000000"))
        );
        assert_ne!(rotated.lookup("mobile", "1"), old.lookup("mobile", "1"));
        assert!(matches!(
            ring(&[B]).open("m", "o", &s),
            Err(StoreError::MissingDataKey(id)) if id == "ka"
        ));
    }

    #[test]
    fn key_files_are_checked_line_by_line() {
        assert!(Keyring::parse("").unwrap_err().contains("no key"));
        assert!(Keyring::parse("# c\nka 00").unwrap_err().contains("line 2"));
        assert!(
            Keyring::parse(&format!("{A}\n{A}"))
                .unwrap_err()
                .contains("twice")
        );
        assert!(Keyring::parse("k/a 00").unwrap_err().contains("key id"));
        let line = Keyring::new_key_line();
        assert_eq!(Keyring::parse(&line).unwrap().ids().len(), 1);
    }
}

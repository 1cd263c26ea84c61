//! The canonical leaf encoding of Huifang's records (`huifang-leaf/v1`).
//!
//! A leaf commits to one record without revealing it. Its bytes are five lines, each ending
//! with a newline (`0x0A`):
//!
//! ```text
//! huifang-leaf/v1
//! <kind>                     e.g. warning, decision, document, interaction
//! <record id>                the record's numeric id, decimal
//! <date>                     the record's business date, YYYY-MM-DD
//! <commitment>               lowercase hex of SHA-256(salt || canonical record bytes)
//! ```
//!
//! where `salt` is 16 random bytes kept with the record, and the *canonical record bytes* are
//! one line per field, in the fixed order defined for the kind: `name=value\n`, UTF-8, no
//! optional whitespace, the value escaped so that it stays on one line (`\` becomes `\\`, a line
//! feed `\n`, a carriage return `\r`). A field whose value is absent (SQL `NULL`) is written as
//! `name\n`, without `=`. Kind, record id and date are escaped the same way. Field names are
//! ASCII lowercase letters, digits and `_`.
//!
//! A verifier shown a record (its fields in order) and its salt recomputes the leaf with
//! [`leaf_bytes`], hashes it with [`leaf_hash`](crate::leaf_hash) and checks an inclusion proof.
//!
//! ```
//! use huifang_ledger::{RecordHasher, leaf_bytes, record_bytes, record_commitment};
//!
//! let salt = [7u8; 16];
//! let fields = [("loan_id", Some("12")), ("level", Some("1")), ("cleared_on", None)];
//! let record = record_bytes(fields);
//! assert_eq!(record, b"loan_id=12\nlevel=1\ncleared_on\n");
//! let commitment = record_commitment(&salt, &record);
//!
//! let mut hasher = RecordHasher::new(&salt);
//! for (name, value) in fields {
//!     hasher.field(name, value);
//! }
//! assert_eq!(hasher.finish(), commitment);
//!
//! let leaf = leaf_bytes("warning", 42, "2026-11-28", &commitment);
//! assert!(leaf.starts_with(b"huifang-leaf/v1\nwarning\n42\n2026-11-28\n"));
//! ```

use sha2::{Digest, Sha256};

use crate::hash::Hash;

/// First line of every leaf: the encoding's name and version.
pub const LEAF_VERSION: &str = "huifang-leaf/v1";

/// Length of a record's salt in bytes.
pub const SALT_LEN: usize = 16;

/// A record's salt.
pub type Salt = [u8; SALT_LEN];

/// Parses a salt from its 32 hexadecimal digits (either case); `None` if malformed.
#[must_use]
pub fn parse_salt(hex_text: &str) -> Option<Salt> {
    let mut salt = [0u8; SALT_LEN];
    hex::decode_to_slice(hex_text, &mut salt).ok()?;
    Some(salt)
}

/// Calls `out` with the escaped form of `value`, in pieces.
fn escape(value: &str, out: &mut impl FnMut(&[u8])) {
    let bytes = value.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r')) {
        out(bytes);
        return;
    }
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        let replacement: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        // start <= i < bytes.len(): start is 0 or one past an earlier i.
        out(bytes.get(start..i).unwrap_or_default());
        out(replacement);
        start = i + 1;
    }
    out(bytes.get(start..).unwrap_or_default());
}

/// Writes one field line of the canonical record bytes through `out`.
fn encode_field(name: &str, value: Option<&str>, out: &mut impl FnMut(&[u8])) {
    debug_assert!(
        name.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "field name {name:?}"
    );
    out(name.as_bytes());
    if let Some(value) = value {
        out(b"=");
        escape(value, out);
    }
    out(b"\n");
}

/// The canonical record bytes of a record's fields, in the order given.
pub fn record_bytes<'a>(fields: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    for (name, value) in fields {
        encode_field(name, value, &mut |piece| buf.extend_from_slice(piece));
    }
    buf
}

/// The commitment to a record: `SHA-256(salt || record bytes)`.
#[must_use]
pub fn record_commitment(salt: &Salt, record: &[u8]) -> Hash {
    Sha256::new()
        .chain_update(salt)
        .chain_update(record)
        .finalize()
        .into()
}

/// Computes a record's commitment field by field, without building its canonical bytes; equal
/// to [`record_commitment`] of [`record_bytes`] of the same fields.
#[derive(Clone)]
pub struct RecordHasher {
    hasher: Sha256,
}

impl RecordHasher {
    /// Starts a commitment with the record's salt.
    pub fn new(salt: &Salt) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(salt);
        Self { hasher }
    }

    /// Adds the next field (`None` for an absent value).
    pub fn field(&mut self, name: &str, value: Option<&str>) {
        let hasher = &mut self.hasher;
        encode_field(name, value, &mut |piece| hasher.update(piece));
    }

    /// The commitment.
    #[must_use]
    pub fn finish(self) -> Hash {
        self.hasher.finalize().into()
    }
}

/// Appends the leaf bytes of a record to `buf` (see the module documentation).
pub fn write_leaf_bytes(
    buf: &mut Vec<u8>,
    kind: &str,
    record_id: i64,
    date: &str,
    commitment: &Hash,
) {
    let mut push = |piece: &[u8]| buf.extend_from_slice(piece);
    push(LEAF_VERSION.as_bytes());
    push(b"\n");
    escape(kind, &mut push);
    push(b"\n");
    push(record_id.to_string().as_bytes());
    push(b"\n");
    escape(date, &mut push);
    push(b"\n");
    let mut hex_buf = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    if hex::encode_to_slice(commitment, &mut hex_buf).is_ok() {
        push(&hex_buf);
    }
    push(b"\n");
}

/// The leaf bytes of a record (see the module documentation).
#[must_use]
pub fn leaf_bytes(kind: &str, record_id: i64, date: &str, commitment: &Hash) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    write_leaf_bytes(&mut buf, kind, record_id, date, commitment);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_one_line_per_field_and_is_unambiguous() {
        let a = record_bytes([("a", Some("x\ny")), ("b", Some("z"))]);
        let b = record_bytes([("a", Some("x")), ("y", None), ("b", Some("z"))]);
        assert_eq!(a, b"a=x\\ny\nb=z\n");
        assert_ne!(a, b);
        assert_eq!(
            record_bytes([("a", Some("\\n\r\\"))]),
            b"a=\\\\n\\r\\\\\n".to_vec()
        );
        assert_eq!(record_bytes([("a", Some(""))]), b"a=\n");
        assert_eq!(record_bytes([("a", None)]), b"a\n");
        assert_eq!(
            record_bytes([("a", Some("事实 = 1"))]),
            "a=事实 = 1\n".as_bytes()
        );
    }

    #[test]
    fn hasher_equals_bytes_then_hash() {
        let salt = parse_salt("000102030405060708090a0b0c0d0e0f").unwrap();
        let fields = [
            ("loan_id", Some("7")),
            ("facts", Some("{\"dpd\":\"31\"}\n\\")),
            ("none", None),
        ];
        let mut h = RecordHasher::new(&salt);
        for (n, v) in fields {
            h.field(n, v);
        }
        assert_eq!(h.finish(), record_commitment(&salt, &record_bytes(fields)));
    }

    #[test]
    fn leaf_layout() {
        let commitment = [0xabu8; 32];
        let leaf = leaf_bytes("decision", 3, "2026-01-02", &commitment);
        let expected = format!(
            "huifang-leaf/v1\ndecision\n3\n2026-01-02\n{}\n",
            "ab".repeat(32)
        );
        assert_eq!(leaf, expected.as_bytes());
    }

    #[test]
    fn salts() {
        assert!(parse_salt("00").is_none());
        assert!(parse_salt(&"zz".repeat(16)).is_none());
        assert_eq!(parse_salt(&"FF".repeat(16)), Some([0xff; 16]));
    }
}

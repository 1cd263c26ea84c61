//! C2SP tlog-checkpoint: a signed note whose text names a log, a tree size and
//! the root hash at that size.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::LedgerError;
use crate::hash::Hash;
use crate::note::{Signer, Verifier};

/// A tree head: which log, how many leaves, and the root hash at that size.
///
/// Its note text is
///
/// ```text
/// <origin>
/// <size in decimal>
/// <base64 root hash>
/// ```
///
/// each line ending with a newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identity of the log, e.g. `huifang.example/ledger`. Non-empty,
    /// without control characters.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree at `size`.
    pub root: Hash,
}

impl Checkpoint {
    /// Creates a checkpoint.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
        }
    }

    /// The note text (the signed body), ending with a newline.
    ///
    /// Fails with [`LedgerError::InvalidOrigin`] if the origin is empty or
    /// contains a control character (a newline would change the layout).
    pub fn to_note_text(&self) -> Result<String, LedgerError> {
        if self.origin.is_empty() {
            return Err(LedgerError::InvalidOrigin("origin must not be empty"));
        }
        if self.origin.chars().any(char::is_control) {
            return Err(LedgerError::InvalidOrigin(
                "origin must not contain control characters",
            ));
        }
        Ok(format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        ))
    }

    /// Parses a checkpoint note text (without signatures).
    ///
    /// Requires a non-empty origin, a size in canonical decimal (no sign, no
    /// leading zero), a root hash in padded standard base64 decoding to 32
    /// bytes, and a final newline. Extension lines after the root are allowed
    /// if non-empty; they are not kept.
    pub fn from_note_text(text: &str) -> Result<Self, LedgerError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(LedgerError::MalformedCheckpoint(
                "text must end with a newline",
            ))?;
        if body.chars().any(|c| c < ' ' && c != '\n') {
            return Err(LedgerError::MalformedCheckpoint(
                "text must not contain control characters other than newline",
            ));
        }
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(LedgerError::MalformedCheckpoint("origin line is empty"));
        }
        let size = parse_size(
            lines
                .next()
                .ok_or(LedgerError::MalformedCheckpoint("missing tree size line"))?,
        )?;
        let root = parse_root(
            lines
                .next()
                .ok_or(LedgerError::MalformedCheckpoint("missing root hash line"))?,
        )?;
        if lines.any(str::is_empty) {
            return Err(LedgerError::MalformedCheckpoint(
                "extension lines must not be empty",
            ));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs the checkpoint and returns the signed note text.
    pub fn sign(&self, signer: &Signer) -> Result<String, LedgerError> {
        signer.sign_note(&self.to_note_text()?)
    }
}

fn parse_size(line: &str) -> Result<u64, LedgerError> {
    let canonical = !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(LedgerError::MalformedCheckpoint(
            "tree size must be a decimal number without sign or leading zeros",
        ));
    }
    line.parse()
        .map_err(|_| LedgerError::MalformedCheckpoint("tree size does not fit in 64 bits"))
}

fn parse_root(line: &str) -> Result<Hash, LedgerError> {
    let raw = BASE64
        .decode(line)
        .map_err(|_| LedgerError::MalformedCheckpoint("root hash is not valid base64"))?;
    raw.as_slice()
        .try_into()
        .map_err(|_| LedgerError::MalformedCheckpoint("root hash must be 32 bytes"))
}

/// Opens a signed checkpoint note: checks that `verifier` signed it (other
/// signatures are ignored) and parses its text.
pub fn open_checkpoint(note: &str, verifier: &Verifier) -> Result<Checkpoint, LedgerError> {
    Checkpoint::from_note_text(verifier.open_note(note)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("20852163").unwrap(), 20_852_163);
        assert_eq!(parse_size("18446744073709551615").unwrap(), u64::MAX);
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1_000",
            "0x10",
            "18446744073709551616",
            "١",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn roots() {
        assert!(parse_root(&BASE64.encode([0u8; 32])).is_ok());
        assert!(parse_root(&BASE64.encode([0u8; 31])).is_err());
        assert!(parse_root(&BASE64.encode([0u8; 33])).is_err());
        let unpadded = BASE64.encode([0u8; 32]).trim_end_matches('=').to_owned();
        assert!(parse_root(&unpadded).is_err());
        assert!(parse_root("not base64!").is_err());
    }
}

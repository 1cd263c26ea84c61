//! C2SP signed notes with Ed25519 keys, and their key strings.
//!
//! A signed note is a text ending in a newline, a blank line, and one or more
//! signature lines `— <key name> <base64(key id || signature)>`. Key strings
//! use the encoding of the Go `sumdb/note` package:
//! `<name>+<key id hex>+<base64(0x01 || public key)>` for verifiers and
//! `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>` for signers.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::error::LedgerError;

/// Signature type identifier of Ed25519 in key ids and key strings.
const ALG_ED25519: u8 = 0x01;
/// Prefix of every signature line: EM DASH (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Most signature lines a note may carry (the C2SP minimum is 16).
const MAX_SIGNATURES: usize = 100;
/// Prefix of signer (private) key strings.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// Computes the C2SP key id of an Ed25519 key: the first four bytes, read
/// big-endian, of `SHA-256(name || 0x0A || 0x01 || public_key)`.
#[must_use]
pub fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ALG_ED25519])
        .chain_update(public_key)
        .finalize();
    let [a, b, c, d, ..]: [u8; 32] = digest.into();
    u32::from_be_bytes([a, b, c, d])
}

/// A key name is non-empty and has no whitespace, `+` or control character.
fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

fn check_key_name(name: &str) -> Result<(), LedgerError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(LedgerError::InvalidKeyName(name.to_owned()))
    }
}

/// A note may hold newlines but no other ASCII control character.
fn has_forbidden_control(text: &str) -> bool {
    text.chars().any(|c| c < ' ' && c != '\n')
}

/// Parses exactly eight hexadecimal digits.
fn parse_key_id(hex_id: &str) -> Result<u32, LedgerError> {
    if hex_id.len() != 8 || !hex_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LedgerError::MalformedKey(
            "key id must be 8 hexadecimal digits",
        ));
    }
    u32::from_str_radix(hex_id, 16)
        .map_err(|_| LedgerError::MalformedKey("key id must be 8 hexadecimal digits"))
}

/// Decodes `base64(0x01 || 32 bytes)`, the key material of both key strings.
fn decode_key_material(encoded: &str) -> Result<[u8; 32], LedgerError> {
    let raw = BASE64
        .decode(encoded)
        .map_err(|_| LedgerError::MalformedKey("key is not valid base64"))?;
    let (&alg, key) = raw
        .split_first()
        .ok_or(LedgerError::MalformedKey("key is empty"))?;
    if alg != ALG_ED25519 {
        return Err(LedgerError::UnsupportedAlgorithm(alg));
    }
    key.try_into()
        .map_err(|_| LedgerError::MalformedKey("an Ed25519 key must be 32 bytes"))
}

fn encode_key_material(key: &[u8; 32]) -> String {
    let mut raw = [0u8; 33];
    raw[0] = ALG_ED25519;
    raw[1..].copy_from_slice(key);
    BASE64.encode(raw)
}

/// An Ed25519 note signing key with its name and key id.
///
/// Its [`Debug`] output shows the name and key id only, never the secret.
#[derive(Clone)]
pub struct Signer {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl Signer {
    /// Generates a new key named `name` from a cryptographically secure
    /// random number generator.
    pub fn generate<R>(name: &str, rng: &mut R) -> Result<Self, LedgerError>
    where
        R: RngCore + CryptoRng + ?Sized,
    {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let signer = Self::from_seed(name, &seed);
        seed.fill(0);
        signer
    }

    /// Builds the key named `name` from a 32-byte Ed25519 seed (the RFC 8032
    /// private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, LedgerError> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(seed);
        let key_id = ed25519_key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses a signer key string
    /// `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>`, checking that
    /// the key id matches the key.
    pub fn from_key_string(key: &str) -> Result<Self, LedgerError> {
        let rest = key
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(LedgerError::MalformedKey(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, rest) = rest
            .split_once('+')
            .ok_or(LedgerError::MalformedKey("signer key has too few fields"))?;
        let (hex_id, encoded) = rest
            .split_once('+')
            .ok_or(LedgerError::MalformedKey("signer key has too few fields"))?;
        check_key_name(name)?;
        let declared = parse_key_id(hex_id)?;
        let seed = decode_key_material(encoded)?;
        let signer = Self::from_seed(name, &seed)?;
        if signer.key_id != declared {
            return Err(LedgerError::KeyIdMismatch {
                declared,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// Encodes the key as a signer key string. The result contains the
    /// private key: store it as a secret.
    pub fn to_key_string(&self) -> String {
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_key_material(self.key.as_bytes())
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The matching verifier key string
    /// `<name>+<key id hex>+<base64(0x01 || public key)>`.
    pub fn verifier_key_string(&self) -> String {
        self.verifier().to_key_string()
    }

    /// Signs `text` and returns the signed note: the text, a blank line and
    /// one signature line.
    ///
    /// The text must end with a newline and contain no control character
    /// other than newlines.
    pub fn sign_note(&self, text: &str) -> Result<String, LedgerError> {
        if !text.ends_with('\n') {
            return Err(LedgerError::MalformedNote("text must end with a newline"));
        }
        if has_forbidden_control(text) {
            return Err(LedgerError::MalformedNote(
                "text must not contain control characters other than newline",
            ));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(4 + 64);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(raw)
        ))
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

/// An Ed25519 note verification key with its name and key id.
///
/// It displays as its verifier key string and parses from one with
/// [`FromStr`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Builds the verifier named `name` for a 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, LedgerError> {
        check_key_name(name)?;
        let key = VerifyingKey::from_bytes(public_key)
            .map_err(|_| LedgerError::MalformedKey("not a valid Ed25519 public key"))?;
        Ok(Self {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, public_key),
            key,
        })
    }

    /// Parses a verifier key string
    /// `<name>+<key id hex>+<base64(0x01 || public key)>`, checking that the
    /// key id matches the key.
    pub fn from_key_string(key: &str) -> Result<Self, LedgerError> {
        let (name, rest) = key
            .split_once('+')
            .ok_or(LedgerError::MalformedKey("verifier key has too few fields"))?;
        let (hex_id, encoded) = rest
            .split_once('+')
            .ok_or(LedgerError::MalformedKey("verifier key has too few fields"))?;
        check_key_name(name)?;
        let declared = parse_key_id(hex_id)?;
        let public_key = decode_key_material(encoded)?;
        let computed = ed25519_key_id(name, &public_key);
        if computed != declared {
            return Err(LedgerError::KeyIdMismatch { declared, computed });
        }
        Self::new(name, &public_key)
    }

    /// Encodes the verifier as a key string.
    pub fn to_key_string(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_key_material(self.key.as_bytes())
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Opens a signed note and returns its text (with its final newline).
    ///
    /// The note must be well formed (valid layout, no control character other
    /// than newline, at most 100 signature lines, each with a valid key name
    /// and base64 of at least 5 bytes). Signature lines of other keys — a key
    /// matching by name or by id but not both is another key — are ignored.
    /// Every line of this key must carry a valid signature of the text, and
    /// there must be at least one.
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, LedgerError> {
        if has_forbidden_control(note) {
            return Err(LedgerError::MalformedNote(
                "note must not contain control characters other than newline",
            ));
        }
        let split = note.rfind("\n\n").ok_or(LedgerError::MalformedNote(
            "missing blank line before the signatures",
        ))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let signatures = signatures
            .strip_suffix('\n')
            .ok_or(LedgerError::MalformedNote(
                "signatures must end with a newline",
            ))?;
        if signatures.is_empty() {
            return Err(LedgerError::MalformedNote("note has no signature line"));
        }

        let mut verified = false;
        for (count, line) in signatures.split('\n').enumerate() {
            if count == MAX_SIGNATURES {
                return Err(LedgerError::MalformedNote("too many signature lines"));
            }
            let (name, signature) = parse_signature_line(line)?;
            if name != self.name || signature.key_id != self.key_id {
                continue;
            }
            let bad = || LedgerError::BadSignature {
                name: self.name.clone(),
                key_id: self.key_id,
            };
            let bytes: [u8; 64] = signature.bytes.as_slice().try_into().map_err(|_| bad())?;
            self.key
                .verify_strict(text.as_bytes(), &Signature::from_bytes(&bytes))
                .map_err(|_| bad())?;
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(LedgerError::NoSignatureFromKey {
                name: self.name.clone(),
                key_id: self.key_id,
            })
        }
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key_string())
    }
}

impl FromStr for Verifier {
    type Err = LedgerError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_key_string(s)
    }
}

/// A decoded signature line: key id and the signature bytes after it.
struct SignatureLine {
    key_id: u32,
    bytes: Vec<u8>,
}

fn parse_signature_line(line: &str) -> Result<(&str, SignatureLine), LedgerError> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(LedgerError::MalformedNote(
            "signature line must start with an em dash and a space",
        ))?;
    let (name, encoded) = rest.split_once(' ').ok_or(LedgerError::MalformedNote(
        "signature line has no signature",
    ))?;
    if !is_valid_key_name(name) {
        return Err(LedgerError::MalformedNote(
            "signature line has an invalid key name",
        ));
    }
    let raw = BASE64
        .decode(encoded)
        .map_err(|_| LedgerError::MalformedNote("signature is not valid base64"))?;
    match raw.split_first_chunk::<4>() {
        Some((key_id, bytes)) if !bytes.is_empty() => Ok((
            name,
            SignatureLine {
                key_id: u32::from_be_bytes(*key_id),
                bytes: bytes.to_vec(),
            },
        )),
        _ => Err(LedgerError::MalformedNote("signature is too short")),
    }
}

/// Signs `text` with `signer`; see [`Signer::sign_note`].
pub fn sign_note(text: &str, signer: &Signer) -> Result<String, LedgerError> {
    signer.sign_note(text)
}

/// Opens a signed note with `verifier`; see [`Verifier::open_note`].
pub fn open_note<'a>(note: &'a str, verifier: &Verifier) -> Result<&'a str, LedgerError> {
    verifier.open_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(is_valid_key_name("example.com/log"));
        assert!(!is_valid_key_name(""));
        assert!(!is_valid_key_name("a b"));
        assert!(!is_valid_key_name("a+b"));
        assert!(!is_valid_key_name("a\u{a0}b"));
        assert!(!is_valid_key_name("a\u{1}b"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let signer = Signer::from_seed("k", &[9u8; 32]).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("\"k\""));
        assert!(!shown.contains("9, 9"));
        let encoded_seed = BASE64.encode([9u8; 32]);
        assert!(!shown.contains(&encoded_seed[..10]));
    }
}

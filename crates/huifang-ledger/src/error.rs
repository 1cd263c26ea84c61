//! The error type shared by every part of the ledger.

use std::error::Error as StdError;

/// A boxed error produced by a [`HashSource`](crate::HashSource) implementation
/// (for example a database error).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong while hashing, proving, verifying, signing or
/// opening ledger data.
///
/// Verification failures are reported as errors rather than `false`, so a
/// caller can log *why* a proof or a checkpoint was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A leaf index is not smaller than the tree size it is used with.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The offending leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },

    /// A consistency proof was requested or checked from a larger tree to a
    /// smaller one.
    #[error("tree size {first} is larger than tree size {second}")]
    SizeOrder {
        /// The size of the older tree.
        first: u64,
        /// The size of the newer tree.
        second: u64,
    },

    /// A hash source was asked for a complete subtree that it does not hold.
    #[error(
        "the complete subtree at level {level}, index {index} is not available in a tree of {size} leaves"
    )]
    SubtreeUnavailable {
        /// Height of the subtree (0 for a leaf).
        level: u32,
        /// Position of the subtree among the subtrees of the same level.
        index: u64,
        /// Number of leaves the source holds.
        size: u64,
    },

    /// A proof has the wrong number of hashes for the given sizes.
    #[error("proof has {actual} hashes, expected {expected}")]
    ProofLength {
        /// Number of hashes a valid proof has for these sizes.
        expected: usize,
        /// Number of hashes the proof has.
        actual: usize,
    },

    /// An inclusion proof does not lead to the expected root hash.
    #[error("inclusion proof does not lead to the expected root hash")]
    InclusionMismatch,

    /// A consistency proof does not reproduce the old tree's root hash.
    #[error("consistency proof does not reproduce the old root hash")]
    OldRootMismatch,

    /// A consistency proof does not reproduce the new tree's root hash.
    #[error("consistency proof does not reproduce the new root hash")]
    NewRootMismatch,

    /// A frontier was rebuilt from a size and a list of subtree hashes that do
    /// not fit together.
    #[error("a frontier of size {size} needs {expected} subtree hashes, got {actual}")]
    InvalidFrontier {
        /// The declared number of leaves.
        size: u64,
        /// Number of subtree hashes that size needs (its number of set bits).
        expected: usize,
        /// Number of subtree hashes given.
        actual: usize,
    },

    /// A [`HashSource`](crate::HashSource) failed for a reason of its own.
    #[error("hash source failed: {0}")]
    HashSource(#[source] BoxError),

    /// A key name is empty or contains a space, a `+` or a control character.
    #[error(
        "invalid key name {0:?}: it must be non-empty and contain no spaces, '+' or control characters"
    )]
    InvalidKeyName(String),

    /// A signer or verifier key string is not well formed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),

    /// A key string names a signature algorithm other than Ed25519 (0x01).
    #[error("unsupported signature algorithm 0x{0:02x}")]
    UnsupportedAlgorithm(u8),

    /// The key id written in a key string does not match the key.
    #[error("key id {declared:08x} does not match the key (computed {computed:08x})")]
    KeyIdMismatch {
        /// The key id written in the key string.
        declared: u32,
        /// The key id computed from the name and the public key.
        computed: u32,
    },

    /// A signed note is not well formed.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),

    /// A signed note carries no signature by the expected key.
    #[error("note has no signature from key {name}+{key_id:08x}")]
    NoSignatureFromKey {
        /// Name of the expected key.
        name: String,
        /// Id of the expected key.
        key_id: u32,
    },

    /// A signature line names the expected key but its signature is invalid.
    #[error("invalid signature for key {name}+{key_id:08x}")]
    BadSignature {
        /// Name of the key.
        name: String,
        /// Id of the key.
        key_id: u32,
    },

    /// A note body is not a well-formed checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),

    /// A checkpoint origin cannot be written into a note.
    #[error("invalid checkpoint origin: {0}")]
    InvalidOrigin(&'static str),
}

impl LedgerError {
    /// Wraps an error of a [`HashSource`](crate::HashSource) implementation
    /// (for example a database error) into [`LedgerError::HashSource`].
    pub fn hash_source(err: impl Into<BoxError>) -> Self {
        Self::HashSource(err.into())
    }
}

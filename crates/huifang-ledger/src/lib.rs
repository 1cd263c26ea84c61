//! The tamper-evident record of Huifang.
//!
//! Every record appended to the ledger becomes a leaf of an append-only
//! Merkle tree, and the log periodically publishes signed checkpoints of the
//! tree. This crate is the pure part of that machinery — no storage, no
//! network, no clock:
//!
//! * RFC 6962 hashing: [`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`];
//! * tree roots: [`root`] over leaf hashes, the append-only [`Frontier`]
//!   (compact range) for writers, the in-memory [`MerkleTree`];
//! * proofs: [`inclusion_proof`] and [`consistency_proof`] generated from any
//!   [`HashSource`] (leaf hashes, a [`MerkleTree`], a closure over a
//!   database), checked with [`verify_inclusion`] and [`verify_consistency`]
//!   as RFC 9162 specifies;
//! * C2SP signed notes with Ed25519 keys ([`Signer`], [`Verifier`]) and C2SP
//!   tlog checkpoints ([`Checkpoint`], [`open_checkpoint`]).
//!
//! ```
//! use huifang_ledger::{
//!     Checkpoint, Frontier, LedgerError, MerkleTree, Signer, Verifier, leaf_hash,
//!     open_checkpoint, verify_consistency, verify_inclusion,
//! };
//!
//! let mut tree = MerkleTree::new();
//! let mut frontier = Frontier::new();
//! for record in ["loan 1 disbursed", "loan 1 repaid 100", "loan 2 disbursed"] {
//!     let leaf = leaf_hash(record.as_bytes());
//!     tree.push(leaf);
//!     frontier.append(leaf);
//! }
//! assert_eq!(tree.root(), frontier.root());
//!
//! // Prove that record 1 is in the tree of size 3, and that size 3 extends size 2.
//! let proof = tree.inclusion_proof(1, 3)?;
//! verify_inclusion(1, 3, &leaf_hash(b"loan 1 repaid 100"), &proof, &tree.root())?;
//! let proof = tree.consistency_proof(2, 3)?;
//! verify_consistency(2, 3, &tree.root_at(2)?, &tree.root(), &proof)?;
//!
//! // Sign a checkpoint and open it with the public key.
//! let signer = Signer::generate("huifang.example/ledger", &mut rand::rngs::OsRng)?;
//! let verifier = Verifier::from_key_string(&signer.verifier_key_string())?;
//! let checkpoint = Checkpoint::new("huifang.example/ledger", tree.size(), tree.root());
//! let note = checkpoint.sign(&signer)?;
//! assert_eq!(open_checkpoint(&note, &verifier)?, checkpoint);
//! # Ok::<(), LedgerError>(())
//! ```

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod checkpoint;
mod error;
mod hash;
mod leaf;
mod note;
mod proof;
mod tree;

pub use checkpoint::{Checkpoint, open_checkpoint};
pub use error::{BoxError, LedgerError};
pub use hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash};
pub use leaf::{
    LEAF_VERSION, RecordHasher, SALT_LEN, Salt, leaf_bytes, parse_salt, record_bytes,
    record_commitment, write_leaf_bytes,
};
pub use note::{Signer, Verifier, ed25519_key_id, open_note, sign_note};
pub use proof::{
    HashSource, consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len,
    root_from_inclusion_proof, verify_consistency, verify_inclusion,
};
pub use tree::{CompactRange, Frontier, MerkleTree, root};

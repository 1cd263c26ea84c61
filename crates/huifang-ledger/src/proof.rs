//! Inclusion and consistency proofs: generation after RFC 6962 §2.1.1
//! (`PATH`) and §2.1.2 (`PROOF` / `SUBPROOF`), verification after RFC 9162
//! §2.1.3.2 and §2.1.4.2.

use crate::error::LedgerError;
use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::tree;

/// Where proof generation gets its hashes from.
///
/// A source answers for *complete* subtrees: the subtree at `level` and
/// `index` covers the `2^level` leaves `index * 2^level .. (index + 1) *
/// 2^level`, and its hash is the RFC 6962 Merkle tree hash of those leaves
/// (for level 0, the leaf hash itself). Generating a proof asks for
/// O(log² n) such subtrees at most, each lying entirely within the tree size
/// the proof is for, so a database-backed store can answer from a table of
/// node hashes, from tiles, or by hashing the leaf hashes of the range.
///
/// Implementations are provided for:
/// * `[Hash]` and `Vec<Hash>` (the leaf hashes; each subtree is re-hashed,
///   so a proof costs O(n) hash computations),
/// * [`MerkleTree`](crate::MerkleTree) (O(1) per subtree),
/// * any closure `Fn(u32, u64) -> Result<Hash, LedgerError>` taking
///   `(level, index)`.
///
/// ```
/// use huifang_ledger::{Hash, LedgerError, inclusion_proof, leaf_hash, root};
///
/// let leaves: Vec<Hash> = (0u8..10).map(|i| leaf_hash(&[i])).collect();
/// // A closure standing in for a store that only keeps leaf hashes.
/// let fetch = |level: u32, index: u64| -> Result<Hash, LedgerError> {
///     let start = (index << level) as usize;
///     let end = start + (1usize << level);
///     let range = leaves.get(start..end).ok_or_else(|| {
///         LedgerError::hash_source(format!("no leaves {start}..{end}"))
///     })?;
///     Ok(root(range))
/// };
/// let proof = inclusion_proof(&fetch, 3, 10)?;
/// assert_eq!(proof, inclusion_proof(leaves.as_slice(), 3, 10)?);
/// # Ok::<(), LedgerError>(())
/// ```
pub trait HashSource {
    /// Returns the hash of the complete subtree of height `level` at position
    /// `index` (covering leaves `index << level .. (index + 1) << level`).
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, LedgerError>;
}

impl HashSource for [Hash] {
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        let range = 1u64
            .checked_shl(level)
            .and_then(|width| {
                let start = index.checked_mul(width)?;
                let end = start.checked_add(width)?;
                Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
            })
            .and_then(|(start, end)| self.get(start..end))
            .ok_or(LedgerError::SubtreeUnavailable {
                level,
                index,
                size: u64::try_from(self.len()).unwrap_or(u64::MAX),
            })?;
        Ok(tree::root(range))
    }
}

impl HashSource for Vec<Hash> {
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        self.as_slice().subtree_hash(level, index)
    }
}

impl<F> HashSource for F
where
    F: Fn(u32, u64) -> Result<Hash, LedgerError>,
{
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        self(level, index)
    }
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// Merkle tree hash of the leaves `start..end`, for a range that is aligned
/// the way every range of the RFC 6962 recursion is: `start` is a multiple of
/// the smallest power of two not below `end - start`. The range is split into
/// complete subtrees, largest first, fetched from the source and folded from
/// the right.
fn range_hash<S: HashSource + ?Sized>(
    source: &S,
    start: u64,
    end: u64,
) -> Result<Hash, LedgerError> {
    let mut parts: Vec<Hash> = Vec::with_capacity(8);
    let mut at = start;
    while at < end {
        let remaining = end - at;
        let mut level = u64::BITS - 1 - remaining.leading_zeros();
        if at != 0 {
            level = level.min(at.trailing_zeros());
        }
        parts.push(source.subtree_hash(level, at >> level)?);
        at += 1u64 << level;
    }
    let mut iter = parts.iter().rev();
    Ok(match iter.next() {
        None => EMPTY_ROOT,
        Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
    })
}

/// Generates the inclusion proof (RFC 6962 `PATH`) of leaf `index` in the
/// tree of the first `size` leaves, sibling of the leaf first.
///
/// Fails with [`LedgerError::IndexOutOfRange`] if `index >= size`, or with
/// the source's error if it lacks a needed subtree.
pub fn inclusion_proof<S: HashSource + ?Sized>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, LedgerError> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(inclusion_proof_len(index, size));
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            proof.push(range_hash(source, mid, hi)?);
            hi = mid;
        } else {
            proof.push(range_hash(source, lo, mid)?);
            lo = mid;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Generates the consistency proof (RFC 6962 `PROOF`) between the tree of the
/// first `first` leaves and the tree of the first `second` leaves.
///
/// The proof is empty when `first == second` and, by convention, when
/// `first == 0` (every tree extends the empty tree). Fails with
/// [`LedgerError::SizeOrder`] if `first > second`.
pub fn consistency_proof<S: HashSource + ?Sized>(
    source: &S,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, LedgerError> {
    if first > second {
        return Err(LedgerError::SizeOrder { first, second });
    }
    if first == 0 || first == second {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], complete), unrolled: hashes found on the way down
    // come after the hashes of the deeper levels, so they are collected and
    // reversed at the end.
    let mut proof = Vec::with_capacity(consistency_proof_len(first, second));
    let (mut lo, mut hi) = (0u64, second);
    let mut complete = true;
    while first != hi {
        let mid = lo + split_point(hi - lo);
        if first <= mid {
            proof.push(range_hash(source, mid, hi)?);
            hi = mid;
        } else {
            proof.push(range_hash(source, lo, mid)?);
            lo = mid;
            complete = false;
        }
    }
    if !complete {
        proof.push(range_hash(source, lo, hi)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Number of hashes in the inclusion proof of leaf `index` in a tree of
/// `size` leaves (0 if `index >= size`).
#[must_use]
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    usize::try_from(inner + border).unwrap_or(usize::MAX)
}

/// Number of hashes in the consistency proof between trees of `first` and
/// `second` leaves (0 if `first == 0`, `first >= second`).
#[must_use]
pub fn consistency_proof_len(first: u64, second: u64) -> usize {
    if first == 0 || first >= second {
        return 0;
    }
    let index = first - 1;
    let inner = u64::BITS - (index ^ (second - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    let shift = first.trailing_zeros();
    let seed = usize::from(!first.is_power_of_two());
    seed + usize::try_from(inner - shift + border).unwrap_or(usize::MAX)
}

/// Computes the root hash that an inclusion proof leads to (RFC 9162
/// §2.1.3.2), checking the index and the proof length on the way.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, LedgerError> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    let length_error = LedgerError::ProofLength {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(length_error);
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(length_error);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(length_error);
    }
    Ok(r)
}

/// Verifies that `leaf` is the leaf hash at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
///
/// Rejects an index out of range, a proof of the wrong length and a proof
/// that leads to another root.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LedgerError> {
    if root_from_inclusion_proof(index, size, leaf, proof)? == *root {
        Ok(())
    } else {
        Err(LedgerError::InclusionMismatch)
    }
}

/// Verifies that the tree of `second` leaves with root `second_root` extends
/// the tree of `first` leaves with root `first_root` (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots; a first size of 0 needs
/// an empty proof and `first_root` equal to [`EMPTY_ROOT`].
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), LedgerError> {
    if first > second {
        return Err(LedgerError::SizeOrder { first, second });
    }
    let expected = consistency_proof_len(first, second);
    let length_error = LedgerError::ProofLength {
        expected,
        actual: proof.len(),
    };
    if proof.len() != expected {
        return Err(length_error);
    }
    if first == second {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(LedgerError::NewRootMismatch)
        };
    }
    if first == 0 {
        return if *first_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(LedgerError::OldRootMismatch)
        };
    }

    // If `first` is a power of two, the old root is the proof's implicit
    // first element.
    let (seed, rest) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        match proof.split_first() {
            Some((seed, rest)) => (*seed, rest),
            None => return Err(length_error),
        }
    };
    let mut f = first - 1;
    let mut s = second - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if s == 0 {
            return Err(length_error);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(length_error);
    }
    if fr != *first_root {
        return Err(LedgerError::OldRootMismatch);
    }
    if sr != *second_root {
        return Err(LedgerError::NewRootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn proof_lengths_match_known_cases() {
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(0, 8), 3);
        assert_eq!(inclusion_proof_len(6, 7), 2);
        assert_eq!(inclusion_proof_len(4, 5), 1);
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(consistency_proof_len(1, 8), 3);
        assert_eq!(consistency_proof_len(6, 8), 3);
        assert_eq!(consistency_proof_len(3, 7), 4);
        assert_eq!(consistency_proof_len(4, 8), 1);
        assert_eq!(consistency_proof_len(5, 5), 0);
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let leaf = [7u8; 32];
        for (index, size) in [(u64::MAX - 1, u64::MAX), (0, u64::MAX), (1 << 63, u64::MAX)] {
            let proof = vec![[1u8; 32]; inclusion_proof_len(index, size)];
            assert!(root_from_inclusion_proof(index, size, &leaf, &proof).is_ok());
        }
        let proof = vec![[1u8; 32]; consistency_proof_len(u64::MAX - 1, u64::MAX)];
        assert!(matches!(
            verify_consistency(u64::MAX - 1, u64::MAX, &leaf, &leaf, &proof),
            Err(LedgerError::OldRootMismatch)
        ));
    }
}

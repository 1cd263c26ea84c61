//! Tree roots: a one-shot [`root`] function, the append-only [`Frontier`] and
//! the fully materialised in-memory [`MerkleTree`].

use crate::error::LedgerError;
use crate::hash::{EMPTY_ROOT, Hash, node_hash};
use crate::proof::{self, HashSource};

/// Computes the RFC 6962 Merkle tree hash (`MTH`) of a list of leaf hashes.
///
/// Runs in O(n) time with O(log n) extra memory and no recursion; the empty
/// list has root [`EMPTY_ROOT`].
#[must_use]
pub fn root(leaves: &[Hash]) -> Hash {
    Frontier::from_leaf_hashes(leaves).root()
}

/// The right edge of an append-only Merkle tree (also known as a compact
/// range): the roots of the complete subtrees that together cover all leaves,
/// largest (leftmost) first.
///
/// A tree of `size` leaves has exactly one such subtree per set bit of
/// `size`, so a frontier holds at most 64 hashes. It is all a log writer needs
/// to [`append`](Frontier::append) leaves and compute the new
/// [`root`](Frontier::root) without reloading the tree; it can be persisted
/// with [`into_parts`](Frontier::into_parts) and restored with
/// [`from_parts`](Frontier::from_parts), or rebuilt from leaf hashes or from a
/// [`HashSource`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// Another name for [`Frontier`], as the structure is called in some
/// transparency-log implementations.
pub type CompactRange = Frontier;

impl Frontier {
    /// Creates the frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the frontier of the tree with the given leaf hashes, in O(n).
    pub fn from_leaf_hashes(leaves: &[Hash]) -> Self {
        let mut frontier = Self::new();
        frontier.extend(leaves.iter().copied());
        frontier
    }

    /// Restores a frontier from a stored size and its subtree hashes (largest
    /// subtree first), as returned by [`into_parts`](Frontier::into_parts).
    ///
    /// Fails with [`LedgerError::InvalidFrontier`] unless there is exactly one
    /// hash per set bit of `size`. The hashes themselves cannot be checked.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, LedgerError> {
        let expected = usize::try_from(size.count_ones()).unwrap_or(usize::MAX);
        if hashes.len() != expected {
            return Err(LedgerError::InvalidFrontier {
                size,
                expected,
                actual: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Rebuilds the frontier of the first `size` leaves of a tree from a
    /// [`HashSource`], fetching one complete subtree per set bit of `size`.
    pub fn from_source<S: HashSource + ?Sized>(source: &S, size: u64) -> Result<Self, LedgerError> {
        let mut hashes = Vec::with_capacity(usize::try_from(size.count_ones()).unwrap_or(64));
        let mut start = 0u64;
        for level in (0..u64::BITS).rev() {
            if size & (1u64 << level) != 0 {
                hashes.push(source.subtree_hash(level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(Self { size, hashes })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns `true` if no leaf has been appended.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Roots of the complete subtrees on the right edge, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Splits the frontier into its size and subtree hashes, for storage.
    pub fn into_parts(self) -> (u64, Vec<Hash>) {
        (self.size, self.hashes)
    }

    /// Appends one leaf hash, merging complete subtrees of equal height.
    ///
    /// Costs O(1) amortised hash computations (at most 64).
    pub fn append(&mut self, leaf: Hash) {
        let mut acc = leaf;
        let mut carry = self.size;
        while carry & 1 == 1 {
            // One hash per set bit of `size` is an invariant of the type.
            let Some(left) = self.hashes.pop() else { break };
            acc = node_hash(&left, &acc);
            carry >>= 1;
        }
        self.hashes.push(acc);
        self.size += 1;
    }

    /// Root hash of the tree the frontier describes.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        match iter.next() {
            None => EMPTY_ROOT,
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

impl Extend<Hash> for Frontier {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for leaf in iter {
            self.append(leaf);
        }
    }
}

/// A Merkle tree held entirely in memory, every level materialised, so that
/// any complete subtree hash is available in O(1) and proofs are generated
/// in O(log n).
///
/// Level 0 holds the leaf hashes; each following level holds the hashes of
/// pairs of the level below, an unpaired last node being carried up
/// unchanged, which yields the RFC 6962 tree. It takes about twice the memory
/// of the leaf hashes. Proofs for any earlier tree size can be generated too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` holds the leaves; never empty itself.
    levels: Vec<Vec<Hash>>,
}

impl Default for MerkleTree {
    fn default() -> Self {
        Self::new()
    }
}

impl MerkleTree {
    /// Creates an empty tree.
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new()],
        }
    }

    /// Builds the tree over the given leaf hashes, in O(n).
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> Self {
        let mut levels = vec![leaves];
        loop {
            let next: Vec<Hash> = match levels.last() {
                Some(level) if level.len() > 1 => level
                    .chunks(2)
                    .map(|pair| match pair {
                        [left, right] => node_hash(left, right),
                        [single] => *single,
                        _ => EMPTY_ROOT, // chunks(2) yields one or two items
                    })
                    .collect(),
                _ => break,
            };
            levels.push(next);
        }
        Self { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        u64::try_from(self.leaf_hashes().len()).unwrap_or(u64::MAX)
    }

    /// Returns `true` if the tree has no leaf.
    pub fn is_empty(&self) -> bool {
        self.leaf_hashes().is_empty()
    }

    /// The leaf hashes, in order.
    pub fn leaf_hashes(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }

    /// Appends one leaf hash, updating the O(log n) nodes on the right edge.
    // Hot loop, indices in bounds by construction: `levels[level]` exists (pushed when missing),
    // `position <= nodes.len()` before the write and `< nodes.len()` after it, and
    // `position - 1` is read only when `position` is odd.
    #[allow(clippy::indexing_slicing)]
    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        let mut level = 0;
        let mut value = leaf;
        let mut position = self.levels[0].len();
        loop {
            if level == self.levels.len() {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            if position < nodes.len() {
                nodes[position] = value;
            } else {
                nodes.push(value);
            }
            if nodes.len() == 1 {
                break;
            }
            value = if position % 2 == 1 {
                node_hash(&nodes[position - 1], &nodes[position])
            } else {
                nodes[position]
            };
            position /= 2;
            level += 1;
        }
    }

    /// Root hash of the whole tree.
    #[must_use]
    pub fn root(&self) -> Hash {
        match self.levels.last().map(Vec::as_slice) {
            Some(&[root]) => root,
            _ => EMPTY_ROOT,
        }
    }

    /// Root hash of the tree formed by the first `size` leaves, in O(log n).
    ///
    /// Fails with [`LedgerError::SizeOrder`] if `size` exceeds the tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size > self.size() {
            return Err(LedgerError::SizeOrder {
                first: size,
                second: self.size(),
            });
        }
        Ok(Frontier::from_source(self, size)?.root())
    }

    /// Inclusion proof of leaf `index` in the tree of the first `size` leaves;
    /// see [`inclusion_proof`](crate::inclusion_proof).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        proof::inclusion_proof(self, index, size)
    }

    /// Consistency proof between the trees of the first `first` and the first
    /// `second` leaves; see [`consistency_proof`](crate::consistency_proof).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LedgerError> {
        proof::consistency_proof(self, first, second)
    }
}

impl HashSource for MerkleTree {
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        let size = self.size();
        let unavailable = LedgerError::SubtreeUnavailable { level, index, size };
        // The subtree must be complete: it must end at or before `size`.
        let end = index
            .checked_add(1)
            .and_then(|i| i.checked_mul(1u64.checked_shl(level)?));
        if end.is_none_or(|end| end > size) {
            return Err(unavailable);
        }
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::try_from(level).ok()?)?.get(i))
            .copied()
            .ok_or(unavailable)
    }
}

impl Extend<Hash> for MerkleTree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, iter: I) {
        for leaf in iter {
            self.push(leaf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(root(&[]), EMPTY_ROOT);
        assert_eq!(MerkleTree::new().root(), EMPTY_ROOT);
        let one = leaves(1);
        assert_eq!(root(&one), one[0]);
        assert_eq!(MerkleTree::from_leaf_hashes(one.clone()).root(), one[0]);
    }

    #[test]
    fn three_leaves_by_hand() {
        let l = leaves(3);
        let expected = node_hash(&node_hash(&l[0], &l[1]), &l[2]);
        assert_eq!(root(&l), expected);
    }

    #[test]
    fn push_matches_bulk_build() {
        let all = leaves(300);
        let mut tree = MerkleTree::new();
        for (i, leaf) in all.iter().enumerate() {
            tree.push(*leaf);
            let bulk = MerkleTree::from_leaf_hashes(all[..=i].to_vec());
            assert_eq!(tree, bulk, "after {} leaves", i + 1);
        }
    }

    #[test]
    // Test code: the assertion converts a bit count with `as`.
    #[allow(clippy::as_conversions)]
    fn frontier_parts_roundtrip() {
        let frontier = Frontier::from_leaf_hashes(&leaves(1234));
        assert_eq!(frontier.hashes().len(), 1234u64.count_ones() as usize);
        let (size, hashes) = frontier.clone().into_parts();
        assert_eq!(Frontier::from_parts(size, hashes).unwrap(), frontier);
        assert!(matches!(
            Frontier::from_parts(size, vec![EMPTY_ROOT]),
            Err(LedgerError::InvalidFrontier { .. })
        ));
    }

    #[test]
    fn subtree_lookup_rejects_incomplete_subtrees() {
        let tree = MerkleTree::from_leaf_hashes(leaves(6));
        assert!(tree.subtree_hash(2, 0).is_ok());
        assert!(tree.subtree_hash(1, 2).is_ok());
        assert!(tree.subtree_hash(2, 1).is_err()); // leaves 4..8, only 4..6 exist
        assert!(tree.subtree_hash(0, 6).is_err());
        assert!(tree.subtree_hash(63, u64::MAX).is_err());
        assert!(tree.subtree_hash(200, 0).is_err());
    }
}

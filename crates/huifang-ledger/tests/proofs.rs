//! Proof generation against a literal transcription of RFC 6962, and
//! randomized checks that verification accepts every genuine proof and
//! rejects every tampered one, on trees of up to 10,000 leaves.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::cell::Cell;

use huifang_ledger::{
    EMPTY_ROOT, Frontier, Hash, HashSource, LedgerError, MerkleTree, consistency_proof,
    consistency_proof_len, inclusion_proof, inclusion_proof_len, leaf_hash, node_hash, root,
    root_from_inclusion_proof, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MAX_LEAVES: u64 = 10_000;

// ---------------------------------------------------------------------------
// RFC 6962 §2.1, transcribed recursively as written.

fn k_for(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let k = k_for(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return Vec::new();
    }
    let k = k_for(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = k_for(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

// ---------------------------------------------------------------------------

fn random_leaves(rng: &mut StdRng, n: u64) -> Vec<Hash> {
    (0..n)
        .map(|_| {
            let mut data = [0u8; 16];
            rng.fill(&mut data);
            leaf_hash(&data)
        })
        .collect()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

#[test]
fn small_trees_match_the_rfc_exhaustively() {
    let mut rng = StdRng::seed_from_u64(6962);
    for n in 0..=70u64 {
        let leaves = random_leaves(&mut rng, n);
        let tree = MerkleTree::from_leaf_hashes(leaves.clone());
        let expected_root = mth(&leaves);
        assert_eq!(root(&leaves), expected_root, "root, n={n}");
        assert_eq!(tree.root(), expected_root, "tree root, n={n}");
        assert_eq!(Frontier::from_leaf_hashes(&leaves).root(), expected_root);

        for m in 0..n {
            let want = path(m as usize, &leaves);
            assert_eq!(want.len(), inclusion_proof_len(m, n));
            assert_eq!(
                inclusion_proof(leaves.as_slice(), m, n).unwrap(),
                want,
                "PATH({m}, {n})"
            );
            assert_eq!(
                inclusion_proof(&tree, m, n).unwrap(),
                want,
                "PATH({m}, {n}) from tree"
            );
            verify_inclusion(m, n, &leaves[m as usize], &want, &expected_root).unwrap();
        }
        assert!(matches!(
            inclusion_proof(&tree, n, n),
            Err(LedgerError::IndexOutOfRange { .. })
        ));

        for m in 0..=n {
            let want = if m == 0 || m == n {
                Vec::new()
            } else {
                subproof(m as usize, &leaves, true)
            };
            assert_eq!(
                want.len(),
                consistency_proof_len(m, n),
                "length of PROOF({m}, {n})"
            );
            assert_eq!(
                consistency_proof(leaves.as_slice(), m, n).unwrap(),
                want,
                "PROOF({m}, {n})"
            );
            assert_eq!(
                consistency_proof(&tree, m, n).unwrap(),
                want,
                "PROOF({m}, {n}) from tree"
            );
            let old = mth(&leaves[..m as usize]);
            verify_consistency(m, n, &old, &expected_root, &want)
                .unwrap_or_else(|e| panic!("PROOF({m}, {n}) rejected: {e}"));
        }
        assert!(matches!(
            consistency_proof(&tree, n + 1, n),
            Err(LedgerError::SizeOrder { .. })
        ));
    }
}

#[test]
fn incremental_structures_agree_at_every_size() {
    let mut rng = StdRng::seed_from_u64(1);
    let leaves = random_leaves(&mut rng, 1100);
    let mut frontier = Frontier::new();
    let mut tree = MerkleTree::new();
    assert_eq!(frontier.root(), EMPTY_ROOT);
    for (i, leaf) in leaves.iter().enumerate() {
        frontier.append(*leaf);
        tree.push(*leaf);
        let size = i as u64 + 1;
        assert_eq!(frontier.root(), tree.root(), "size {size}");
        assert_eq!(frontier.size(), size);
        assert_eq!(Frontier::from_source(&tree, size).unwrap(), frontier);
        assert_eq!(
            Frontier::from_source(&leaves[..=i], size).unwrap(),
            frontier
        );
        let (s, hashes) = frontier.clone().into_parts();
        assert_eq!(Frontier::from_parts(s, hashes).unwrap(), frontier);
    }
    assert_eq!(root(&leaves), tree.root());
    for size in [0u64, 1, 2, 3, 511, 512, 513, 1099] {
        assert_eq!(tree.root_at(size).unwrap(), root(&leaves[..size as usize]));
    }
    assert!(tree.root_at(1101).is_err());
}

/// Checks every way of tampering with an inclusion proof that the brief and
/// RFC 9162 care about; `exhaustive_bits` also flips every bit of every hash.
fn check_inclusion(
    tree: &MerkleTree,
    index: u64,
    size: u64,
    exhaustive_bits: bool,
    rng: &mut StdRng,
) {
    let leaves = tree.leaf_hashes();
    let leaf = leaves[index as usize];
    let root = tree.root_at(size).unwrap();
    let proof = tree.inclusion_proof(index, size).unwrap();
    verify_inclusion(index, size, &leaf, &proof, &root)
        .unwrap_or_else(|e| panic!("genuine proof of {index} in {size} rejected: {e}"));
    assert_eq!(
        root_from_inclusion_proof(index, size, &leaf, &proof).unwrap(),
        root
    );

    // Wrong index, same leaf and root.
    for other in [
        index.wrapping_sub(1),
        index + 1,
        index ^ 1,
        index ^ 2,
        rng.gen_range(0..size),
    ] {
        if other != index && other < size {
            assert!(
                verify_inclusion(other, size, &leaf, &proof, &root).is_err(),
                "proof of {index} in {size} accepted for index {other}"
            );
        }
    }
    // Index out of range.
    assert!(matches!(
        verify_inclusion(size, size, &leaf, &proof, &root),
        Err(LedgerError::IndexOutOfRange { .. })
    ));
    // Wrong size, with the genuine root of that size.
    for other in [size - 1, size + 1, size * 2, rng.gen_range(1..=tree.size())] {
        if other != size && other > index && other <= tree.size() {
            let other_root = tree.root_at(other).unwrap();
            assert!(
                verify_inclusion(index, other, &leaf, &proof, &other_root).is_err(),
                "proof of {index} in {size} accepted for size {other}"
            );
        }
    }
    // Another leaf, or another root.
    let other_leaf = leaves[(index as usize + 1) % size as usize];
    if size > 1 {
        assert!(verify_inclusion(index, size, &other_leaf, &proof, &root).is_err());
    }
    if size < tree.size() {
        assert!(verify_inclusion(index, size, &leaf, &proof, &tree.root()).is_err());
    }
    // Missing and extra elements.
    for cut in 0..proof.len() {
        let mut shorter = proof.clone();
        shorter.remove(cut);
        assert!(verify_inclusion(index, size, &leaf, &shorter, &root).is_err());
    }
    if !proof.is_empty() {
        assert!(verify_inclusion(index, size, &leaf, &proof[..proof.len() - 1], &root).is_err());
        let mut reordered = proof.clone();
        reordered.rotate_left(1);
        if reordered != proof {
            assert!(verify_inclusion(index, size, &leaf, &reordered, &root).is_err());
        }
    }
    for extra in [
        root,
        leaf,
        EMPTY_ROOT,
        proof.last().copied().unwrap_or(leaf),
    ] {
        for at in [0, proof.len()] {
            let mut longer = proof.clone();
            longer.insert(at, extra);
            assert!(matches!(
                verify_inclusion(index, size, &leaf, &longer, &root),
                Err(LedgerError::ProofLength { .. })
            ));
        }
    }
    // Single-bit changes.
    let bits: Vec<usize> = if exhaustive_bits {
        (0..256).collect()
    } else {
        (0..4).map(|_| rng.gen_range(0..256)).collect()
    };
    for i in 0..proof.len() {
        for &bit in &bits {
            let mut tampered = proof.clone();
            tampered[i] = flip(&tampered[i], bit);
            assert!(
                verify_inclusion(index, size, &leaf, &tampered, &root).is_err(),
                "bit {bit} of element {i} of proof of {index} in {size}"
            );
        }
    }
    for &bit in &bits {
        assert!(verify_inclusion(index, size, &flip(&leaf, bit), &proof, &root).is_err());
        assert!(verify_inclusion(index, size, &leaf, &proof, &flip(&root, bit)).is_err());
    }
}

/// Same as [`check_inclusion`] for consistency proofs.
fn check_consistency(
    tree: &MerkleTree,
    first: u64,
    second: u64,
    exhaustive_bits: bool,
    rng: &mut StdRng,
) {
    let old = tree.root_at(first).unwrap();
    let new = tree.root_at(second).unwrap();
    let proof = tree.consistency_proof(first, second).unwrap();
    verify_consistency(first, second, &old, &new, &proof)
        .unwrap_or_else(|e| panic!("genuine proof {first} -> {second} rejected: {e}"));
    assert!(verify_consistency(second, first, &new, &old, &proof).is_err() || first == second);

    // Wrong sizes, with the genuine roots of those sizes.
    for other in [
        first.wrapping_sub(1),
        first + 1,
        first / 2,
        rng.gen_range(1..=second),
    ] {
        // Skip a claim that this very proof genuinely proves (e.g. the
        // empty proof proves both 0 -> n and n -> n).
        if other != first
            && other <= second
            && tree.consistency_proof(other, second).unwrap() != proof
        {
            let other_root = tree.root_at(other).unwrap();
            assert!(
                verify_consistency(other, second, &other_root, &new, &proof).is_err(),
                "proof {first} -> {second} accepted from size {other}"
            );
        }
    }
    for other in [
        second - 1,
        second + 1,
        second * 2,
        rng.gen_range(first..=tree.size()),
    ] {
        if other != second
            && other >= first
            && other <= tree.size()
            && tree.consistency_proof(first, other).unwrap() != proof
        {
            let other_root = tree.root_at(other).unwrap();
            assert!(
                verify_consistency(first, other, &old, &other_root, &proof).is_err(),
                "proof {first} -> {second} accepted to size {other}"
            );
        }
    }
    // Wrong roots (any root extends the empty tree, so size 0 is left out).
    if first != second && first > 0 {
        let wrong_old = tree.root_at(first - 1).unwrap();
        assert!(verify_consistency(first, second, &wrong_old, &new, &proof).is_err());
        let wrong_new = tree.root_at(second - 1).unwrap();
        assert!(verify_consistency(first, second, &old, &wrong_new, &proof).is_err());
    }
    // Missing and extra elements.
    for cut in 0..proof.len() {
        let mut shorter = proof.clone();
        shorter.remove(cut);
        assert!(verify_consistency(first, second, &old, &new, &shorter).is_err());
    }
    for extra in [old, new, EMPTY_ROOT] {
        for at in [0, proof.len()] {
            let mut longer = proof.clone();
            longer.insert(at, extra);
            assert!(matches!(
                verify_consistency(first, second, &old, &new, &longer),
                Err(LedgerError::ProofLength { .. })
            ));
        }
    }
    // Single-bit changes.
    let bits: Vec<usize> = if exhaustive_bits {
        (0..256).collect()
    } else {
        (0..4).map(|_| rng.gen_range(0..256)).collect()
    };
    for i in 0..proof.len() {
        for &bit in &bits {
            let mut tampered = proof.clone();
            tampered[i] = flip(&tampered[i], bit);
            assert!(
                verify_consistency(first, second, &old, &new, &tampered).is_err(),
                "bit {bit} of element {i} of proof {first} -> {second}"
            );
        }
    }
    for &bit in &bits {
        assert!(verify_consistency(first, second, &flip(&old, bit), &new, &proof).is_err());
        if first > 0 {
            assert!(verify_consistency(first, second, &old, &flip(&new, bit), &proof).is_err());
        }
    }
}

#[test]
fn random_trees_up_to_ten_thousand_leaves() {
    let mut rng = StdRng::seed_from_u64(20_251_128);
    let mut sizes = vec![1, 2, 3, 4096, 4097, 8191, MAX_LEAVES];
    sizes.extend((0..8).map(|_| rng.gen_range(1..=MAX_LEAVES)));
    for (round, &n) in sizes.iter().enumerate() {
        let leaves = random_leaves(&mut rng, n);
        let tree = MerkleTree::from_leaf_hashes(leaves.clone());
        assert_eq!(tree.root(), root(&leaves));
        // Bit flips are checked exhaustively on the first proofs of some
        // trees, on four random bits elsewhere.
        let exhaustive_rounds = round % 3 == 0;
        for sample in 0..12 {
            let size = if sample == 0 { n } else { rng.gen_range(1..=n) };
            let index = rng.gen_range(0..size);
            let exhaustive = exhaustive_rounds && sample < 2;
            check_inclusion(&tree, index, size, exhaustive, &mut rng);
            if sample < 3 {
                // Generation from bare leaf hashes agrees with the tree.
                assert_eq!(
                    inclusion_proof(&leaves[..size as usize], index, size).unwrap(),
                    tree.inclusion_proof(index, size).unwrap()
                );
            }

            let second = rng.gen_range(1..=n);
            let first = match sample {
                0 => 0,
                1 => second,
                2 => 1,
                _ => rng.gen_range(1..=second),
            };
            check_consistency(&tree, first, second, exhaustive, &mut rng);
            if sample < 3 {
                assert_eq!(
                    consistency_proof(&leaves[..second as usize], first, second).unwrap(),
                    tree.consistency_proof(first, second).unwrap()
                );
            }
        }
        // First sizes that are powers of two take the other branch of
        // verification.
        let mut power = 1;
        while power < n {
            check_consistency(&tree, power, n, false, &mut rng);
            power *= 2;
        }
    }
}

#[test]
fn empty_tree_edge_cases() {
    let tree = MerkleTree::from_leaf_hashes(vec![leaf_hash(b"a"), leaf_hash(b"b")]);
    let proof = tree.consistency_proof(0, 2).unwrap();
    assert!(proof.is_empty());
    verify_consistency(0, 2, &EMPTY_ROOT, &tree.root(), &proof).unwrap();
    verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
    assert!(matches!(
        verify_consistency(0, 2, &tree.root(), &tree.root(), &[]),
        Err(LedgerError::OldRootMismatch)
    ));
    assert!(matches!(
        verify_consistency(2, 2, &tree.root(), &EMPTY_ROOT, &[]),
        Err(LedgerError::NewRootMismatch)
    ));
    assert!(matches!(
        verify_consistency(2, 2, &tree.root(), &tree.root(), &[EMPTY_ROOT]),
        Err(LedgerError::ProofLength {
            expected: 0,
            actual: 1
        })
    ));
    assert!(matches!(
        verify_consistency(1, 2, &tree.root_at(1).unwrap(), &tree.root(), &[]),
        Err(LedgerError::ProofLength {
            expected: 1,
            actual: 0
        })
    ));
    assert!(matches!(
        verify_consistency(3, 2, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
        Err(LedgerError::SizeOrder {
            first: 3,
            second: 2
        })
    ));
    assert!(matches!(
        verify_inclusion(0, 0, &EMPTY_ROOT, &[], &EMPTY_ROOT),
        Err(LedgerError::IndexOutOfRange { index: 0, size: 0 })
    ));
    assert!(
        inclusion_proof(&tree, 0, 3).is_err(),
        "size beyond the source"
    );
    assert!(
        consistency_proof(&tree, 1, 3).is_err(),
        "size beyond the source"
    );
}

#[test]
fn closure_sources_are_used_sparingly_and_errors_propagate() {
    let mut rng = StdRng::seed_from_u64(7);
    let leaves = random_leaves(&mut rng, 5000);
    let tree = MerkleTree::from_leaf_hashes(leaves.clone());
    let calls = Cell::new(0u32);
    let counting = |level: u32, index: u64| {
        calls.set(calls.get() + 1);
        tree.subtree_hash(level, index)
    };
    let proof = inclusion_proof(&counting, 1234, 4999).unwrap();
    assert_eq!(proof, tree.inclusion_proof(1234, 4999).unwrap());
    assert!(calls.get() <= 13 * 13, "{} subtree fetches", calls.get());
    calls.set(0);
    let proof = consistency_proof(&counting, 1234, 4999).unwrap();
    assert_eq!(proof, tree.consistency_proof(1234, 4999).unwrap());
    assert!(calls.get() <= 13 * 13, "{} subtree fetches", calls.get());

    let failing = |_: u32, _: u64| -> Result<Hash, LedgerError> {
        Err(LedgerError::hash_source(std::io::Error::other(
            "database is down",
        )))
    };
    let err = inclusion_proof(&failing, 3, 10).unwrap_err();
    assert!(matches!(err, LedgerError::HashSource(_)));
    assert_eq!(err.to_string(), "hash source failed: database is down");
    assert!(std::error::Error::source(&err).is_some());
    assert!(consistency_proof(&failing, 3, 10).is_err());
    assert!(Frontier::from_source(&failing, 10).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn generated_proofs_verify(
        seed in any::<u64>(),
        size in 1..=MAX_LEAVES,
        index_fraction in 0.0..1.0f64,
        first_fraction in 0.0..=1.0f64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let leaves = random_leaves(&mut rng, size);
        let tree = MerkleTree::from_leaf_hashes(leaves.clone());
        let index = ((size as f64 * index_fraction) as u64).min(size - 1);
        let proof = tree.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(proof.len(), inclusion_proof_len(index, size));
        prop_assert!(verify_inclusion(index, size, &leaves[index as usize], &proof, &tree.root()).is_ok());
        if index + 1 < size {
            prop_assert!(verify_inclusion(index + 1, size, &leaves[index as usize], &proof, &tree.root()).is_err());
        }

        let first = ((size as f64 * first_fraction) as u64).min(size);
        let proof = tree.consistency_proof(first, size).unwrap();
        prop_assert_eq!(proof.len(), consistency_proof_len(first, size));
        let old = tree.root_at(first).unwrap();
        prop_assert!(verify_consistency(first, size, &old, &tree.root(), &proof).is_ok());
        if let Some(element) = proof.first() {
            let mut tampered = proof.clone();
            tampered[0] = flip(element, (seed % 256) as usize);
            prop_assert!(verify_consistency(first, size, &old, &tree.root(), &tampered).is_err());
        }
    }

    #[test]
    fn frontier_survives_storage(sizes in proptest::collection::vec(0u64..300, 1..6)) {
        // Append in batches, storing and restoring the frontier between them.
        let mut all = Vec::new();
        let mut stored = Frontier::new().into_parts();
        for (batch, n) in sizes.iter().enumerate() {
            let mut frontier = Frontier::from_parts(stored.0, stored.1).unwrap();
            for i in 0..*n {
                let leaf = leaf_hash(&[batch as u8, (i >> 8) as u8, i as u8]);
                all.push(leaf);
                frontier.append(leaf);
            }
            prop_assert_eq!(frontier.root(), root(&all));
            stored = frontier.into_parts();
        }
    }
}

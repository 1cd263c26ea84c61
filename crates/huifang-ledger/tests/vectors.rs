//! The RFC 6962 test vectors shared by every Huifang implementation.
//!
//! The file is `shared/vectors/rfc6962.json`, found next to the repository
//! (`$CARGO_MANIFEST_DIR/../../../shared/vectors`) or in the directory named by
//! `HUIFANG_VECTORS_DIR`. A missing file fails the test: it is never skipped.

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use std::path::PathBuf;

use huifang_ledger::{
    Frontier, Hash, LedgerError, MerkleTree, consistency_proof, inclusion_proof, leaf_hash,
    node_hash, root, verify_consistency, verify_inclusion,
};
use serde_json::Value;

fn vectors_path() -> PathBuf {
    let dir = match std::env::var_os("HUIFANG_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    dir.join("rfc6962.json")
}

fn load() -> Value {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read the RFC 6962 test vectors at {} ({err}); \
             set HUIFANG_VECTORS_DIR to the directory holding rfc6962.json",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("rfc6962.json is not valid JSON")
}

fn hash(hex_text: &Value) -> Hash {
    let text = hex_text.as_str().expect("hash must be a hex string");
    hex::decode(text)
        .expect("hash must be hex")
        .try_into()
        .expect("hash must be 32 bytes")
}

fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array()
        .expect("proof must be a list")
        .iter()
        .map(hash)
        .collect()
}

fn number(value: &Value) -> u64 {
    value.as_u64().expect("expected a non-negative integer")
}

struct Vectors {
    leaves: Vec<Hash>,
    roots: Vec<(u64, Hash)>,
    doc: Value,
}

fn vectors() -> Vectors {
    let doc = load();
    assert!(
        doc["hashing"]
            .as_str()
            .is_some_and(|h| h.contains("0x00") && h.contains("0x01")),
        "unexpected hashing description: {}",
        doc["hashing"]
    );
    let leaves: Vec<Hash> = doc["leaves_hex"]
        .as_array()
        .expect("leaves_hex must be a list")
        .iter()
        .map(|data| {
            leaf_hash(
                &hex::decode(data.as_str().expect("leaf must be hex")).expect("leaf must be hex"),
            )
        })
        .collect();
    let roots: Vec<(u64, Hash)> = doc["roots_by_size"]
        .as_object()
        .expect("roots_by_size must be an object")
        .iter()
        .map(|(size, root)| (size.parse().expect("sizes must be decimal"), hash(root)))
        .collect();
    assert!(
        !leaves.is_empty() && !roots.is_empty(),
        "the vector file is empty"
    );
    Vectors { leaves, roots, doc }
}

#[test]
fn roots_by_size() {
    let v = vectors();
    let tree = MerkleTree::from_leaf_hashes(v.leaves.clone());
    for &(size, expected) in &v.roots {
        let n = usize::try_from(size).unwrap();
        assert_eq!(root(&v.leaves[..n]), expected, "root() at size {size}");
        assert_eq!(
            Frontier::from_leaf_hashes(&v.leaves[..n]).root(),
            expected,
            "Frontier at size {size}"
        );
        assert_eq!(
            MerkleTree::from_leaf_hashes(v.leaves[..n].to_vec()).root(),
            expected,
            "MerkleTree at size {size}"
        );
        assert_eq!(
            tree.root_at(size).unwrap(),
            expected,
            "MerkleTree::root_at({size})"
        );
        assert_eq!(Frontier::from_source(&tree, size).unwrap().root(), expected);
    }
    // Every size from 0 to the number of leaves has a vector.
    let mut sizes: Vec<u64> = v.roots.iter().map(|(s, _)| *s).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, (0..=v.leaves.len() as u64).collect::<Vec<_>>());
}

#[test]
fn first_roots_by_hand() {
    // Guards against a vector file and an implementation that agree on a
    // wrong definition.
    let v = vectors();
    let (l0, l1, l2) = (v.leaves[0], v.leaves[1], v.leaves[2]);
    let find = |size: u64| v.roots.iter().find(|(s, _)| *s == size).unwrap().1;
    assert_eq!(l0, leaf_hash(b""));
    assert_eq!(find(1), l0);
    assert_eq!(find(2), node_hash(&l0, &l1));
    assert_eq!(find(3), node_hash(&node_hash(&l0, &l1), &l2));
}

#[test]
fn inclusion_proofs() {
    let v = vectors();
    let tree = MerkleTree::from_leaf_hashes(v.leaves.clone());
    let cases = v.doc["inclusion"]
        .as_array()
        .expect("inclusion must be a list");
    assert!(!cases.is_empty());
    for case in cases {
        let index = number(&case["leaf_index"]);
        let size = number(&case["tree_size"]);
        let expected = hashes(&case["proof"]);
        let n = usize::try_from(size).unwrap();
        assert_eq!(
            inclusion_proof(&v.leaves[..n], index, size).unwrap(),
            expected,
            "slice, {index} in {size}"
        );
        assert_eq!(
            inclusion_proof(&tree, index, size).unwrap(),
            expected,
            "tree, {index} in {size}"
        );
        let leaf = v.leaves[usize::try_from(index).unwrap()];
        let root = root(&v.leaves[..n]);
        verify_inclusion(index, size, &leaf, &expected, &root)
            .unwrap_or_else(|e| panic!("vector {index} in {size} does not verify: {e}"));
        // And a few rejections on the published vectors themselves.
        if size < tree.size() {
            let bigger = tree.root_at(size + 1).unwrap();
            assert!(verify_inclusion(index, size + 1, &leaf, &expected, &bigger).is_err());
        }
        if index > 0 {
            assert!(verify_inclusion(index - 1, size, &leaf, &expected, &root).is_err());
        }
        let mut extended = expected.clone();
        extended.push(root);
        assert!(matches!(
            verify_inclusion(index, size, &leaf, &extended, &root),
            Err(LedgerError::ProofLength { .. })
        ));
    }
}

#[test]
fn consistency_proofs() {
    let v = vectors();
    let tree = MerkleTree::from_leaf_hashes(v.leaves.clone());
    let cases = v.doc["consistency"]
        .as_array()
        .expect("consistency must be a list");
    assert!(!cases.is_empty());
    for case in cases {
        let first = number(&case["first"]);
        let second = number(&case["second"]);
        let expected = hashes(&case["proof"]);
        let n = usize::try_from(second).unwrap();
        assert_eq!(
            consistency_proof(&v.leaves[..n], first, second).unwrap(),
            expected,
            "slice, {first} -> {second}"
        );
        assert_eq!(
            consistency_proof(&tree, first, second).unwrap(),
            expected,
            "tree, {first} -> {second}"
        );
        let old = root(&v.leaves[..usize::try_from(first).unwrap()]);
        let new = root(&v.leaves[..n]);
        verify_consistency(first, second, &old, &new, &expected)
            .unwrap_or_else(|e| panic!("vector {first} -> {second} does not verify: {e}"));
        if first != second {
            assert!(verify_consistency(first, second, &new, &old, &expected).is_err());
        }
    }
}

//! Throughput of the ledger primitives.
//!
//! ```text
//! cargo run --release -p huifang-ledger --example ledger_bench -- 1000000
//! ```
//!
//! The argument is the number of leaves (default 1,000,000). Prints one line
//! per figure.

use std::hint::black_box;
use std::time::{Duration, Instant};

use huifang_ledger::{
    Checkpoint, Frontier, Hash, MerkleTree, Signer, leaf_hash, open_checkpoint, root,
    verify_consistency, verify_inclusion,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Number of proofs generated and verified per kind.
const PROOFS: usize = 100_000;
/// Number of checkpoints signed and opened.
const CHECKPOINTS: usize = 2_000;

fn per_second(count: usize, elapsed: Duration) -> f64 {
    f64::from(u32::try_from(count).unwrap_or(u32::MAX)) / elapsed.as_secs_f64()
}

fn main() {
    let n: u64 = match std::env::args().nth(1) {
        None => 1_000_000,
        Some(arg) => match arg.replace('_', "").parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("usage: ledger_bench [number of leaves > 0]");
                std::process::exit(2);
            }
        },
    };
    let mut rng = StdRng::seed_from_u64(2024);

    let started = Instant::now();
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let elapsed = started.elapsed();
    println!(
        "leaf hashes:                {n} in {:.1} ms ({:.0}/s)",
        elapsed.as_secs_f64() * 1e3,
        per_second(leaves.len(), elapsed)
    );

    let started = Instant::now();
    let tree_root = black_box(root(black_box(&leaves)));
    let elapsed = started.elapsed();
    println!(
        "root over {n} leaf hashes: {:.1} ms",
        elapsed.as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let mut frontier = Frontier::new();
    for leaf in &leaves {
        frontier.append(*leaf);
    }
    let elapsed = started.elapsed();
    assert_eq!(frontier.root(), tree_root);
    println!(
        "frontier appends:           {:.0}/s ({:.1} ms for {n})",
        per_second(leaves.len(), elapsed),
        elapsed.as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let tree = MerkleTree::from_leaf_hashes(leaves.clone());
    let elapsed = started.elapsed();
    assert_eq!(tree.root(), tree_root);
    println!(
        "in-memory tree build:       {:.1} ms for {n} leaves",
        elapsed.as_secs_f64() * 1e3
    );

    // Inclusion proofs at random indexes in the full tree.
    let indexes: Vec<u64> = (0..PROOFS).map(|_| rng.gen_range(0..n)).collect();
    let started = Instant::now();
    let proofs: Vec<Vec<Hash>> = indexes
        .iter()
        .map(|&i| tree.inclusion_proof(i, n).unwrap_or_default())
        .collect();
    let elapsed = started.elapsed();
    println!(
        "inclusion proofs:           {:.0}/s (tree of {n})",
        per_second(PROOFS, elapsed)
    );

    let started = Instant::now();
    let mut ok = 0usize;
    for (&i, proof) in indexes.iter().zip(&proofs) {
        let leaf = usize::try_from(i).ok().and_then(|i| leaves.get(i));
        ok += usize::from(
            leaf.is_some_and(|leaf| verify_inclusion(i, n, leaf, proof, &tree_root).is_ok()),
        );
    }
    let elapsed = started.elapsed();
    assert_eq!(ok, PROOFS, "every inclusion proof verifies");
    println!(
        "inclusion verifications:    {:.0}/s",
        per_second(PROOFS, elapsed)
    );

    // Consistency proofs from random earlier sizes to the full tree.
    let firsts: Vec<u64> = (0..PROOFS).map(|_| rng.gen_range(1..=n)).collect();
    let started = Instant::now();
    let proofs: Vec<Vec<Hash>> = firsts
        .iter()
        .map(|&m| tree.consistency_proof(m, n).unwrap_or_default())
        .collect();
    let elapsed = started.elapsed();
    println!(
        "consistency proofs:         {:.0}/s (to size {n})",
        per_second(PROOFS, elapsed)
    );

    let old_roots: Vec<Hash> = firsts
        .iter()
        .map(|&m| tree.root_at(m).unwrap_or_default())
        .collect();
    let started = Instant::now();
    let mut ok = 0usize;
    for ((&m, proof), old) in firsts.iter().zip(&proofs).zip(&old_roots) {
        ok += usize::from(verify_consistency(m, n, old, &tree_root, proof).is_ok());
    }
    let elapsed = started.elapsed();
    assert_eq!(ok, PROOFS, "every consistency proof verifies");
    println!(
        "consistency verifications:  {:.0}/s",
        per_second(PROOFS, elapsed)
    );

    // Proofs straight from leaf hashes, re-hashing every needed subtree.
    let count = 20;
    let started = Instant::now();
    for &i in indexes.iter().take(count) {
        black_box(huifang_ledger::inclusion_proof(leaves.as_slice(), i, n).unwrap_or_default());
    }
    let elapsed = started.elapsed();
    println!(
        "inclusion proofs from bare leaf hashes: {:.1}/s",
        per_second(count, elapsed)
    );

    // Checkpoints.
    let signer = match Signer::generate("huifang.example/ledger", &mut rand::rngs::OsRng) {
        Ok(signer) => signer,
        Err(err) => {
            eprintln!("cannot generate a key: {err}");
            std::process::exit(1);
        }
    };
    let verifier = signer.verifier();
    let checkpoint = Checkpoint::new("huifang.example/ledger", n, tree_root);
    let started = Instant::now();
    let notes: Vec<String> = (0..CHECKPOINTS)
        .map(|_| checkpoint.sign(&signer).unwrap_or_default())
        .collect();
    let elapsed = started.elapsed();
    println!(
        "checkpoint signatures:      {:.0}/s",
        per_second(CHECKPOINTS, elapsed)
    );
    let started = Instant::now();
    let opened = notes
        .iter()
        .filter(|note| open_checkpoint(note, &verifier).is_ok_and(|c| c == checkpoint))
        .count();
    let elapsed = started.elapsed();
    assert_eq!(opened, CHECKPOINTS, "every checkpoint opens");
    println!(
        "checkpoint verifications:   {:.0}/s",
        per_second(CHECKPOINTS, elapsed)
    );
}

//! The stored Merkle log: appends in transactions of random sizes, the frontier and subtree
//! nodes they leave, and proofs and roots served from the database, compared with the in-memory
//! `huifang_ledger::MerkleTree` for random sizes — on a real SQLite file, and on a fresh
//! PostgreSQL database (ignored unless run with the ignored tests; HUIFANG_TEST_PG_URL).

// Test code: it may panic on a broken fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use huifang_ledger::{
    Frontier, HashSource, LedgerError, MerkleTree, consistency_proof, inclusion_proof, leaf_hash,
    verify_consistency, verify_inclusion,
};
use huifang_store::{Leaf, Store};
use huifang_testkit::Dbs;

/// xorshift64*: deterministic test randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn leaf(i: u64) -> Leaf {
    Leaf {
        kind: if i.is_multiple_of(3) {
            "warning"
        } else {
            "decision"
        }
        .to_string(),
        record_id: i64::try_from(i).unwrap() + 1,
        bytes: format!("huifang-leaf/v1\ntest\n{i}\n2026-11-28\n{i:064x}\n").into_bytes(),
    }
}

fn node_count(size: u64) -> u64 {
    (1..64).map(|level| size >> level).sum()
}

async fn stored_proofs_equal_the_in_memory_tree(store: Store) {
    store.migrate().await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tree = MerkleTree::new();

    // An empty log, and an append rolled back, leave nothing.
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.ledger_head().await.unwrap(), (0, vec![]));
        assert_eq!(tx.ledger_append(&[]).await.unwrap(), 0);
        assert_eq!(tx.ledger_append(&[leaf(0), leaf(1)]).await.unwrap(), 0);
        tx.rollback().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.ledger_size().await.unwrap(), 0);
        assert!(tx.ledger_leaves(0, 10).await.unwrap().is_empty());
        tx.rollback().await.unwrap();
    }

    let mut checked_sizes = 0;
    while tree.size() < 1_500 {
        let cap = if rng.below(4) == 0 { 300 } else { 20 };
        let batch = 1 + rng.below(cap);
        let leaves: Vec<Leaf> = (tree.size()..tree.size() + batch).map(leaf).collect();
        let mut tx = store.begin().await.unwrap();
        let first = tx.ledger_append(&leaves).await.unwrap();
        assert_eq!(first, tree.size());
        tx.commit().await.unwrap();
        for l in &leaves {
            tree.push(leaf_hash(&l.bytes));
        }
        let size = tree.size();

        let mut tx = store.begin().await.unwrap();
        // The stored frontier is the tree's right edge.
        let (stored_size, hashes) = tx.ledger_head().await.unwrap();
        assert_eq!(stored_size, size);
        assert_eq!(
            Frontier::from_parts(size, hashes).unwrap(),
            Frontier::from_source(&tree, size).unwrap()
        );
        // Proofs and roots for random earlier sizes, from the database.
        for _ in 0..8 {
            let n = 1 + rng.below(size);
            let index = rng.below(n);
            let from_db = tx
                .ledger_prove(n, |s: &dyn HashSource| inclusion_proof(s, index, n))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                from_db,
                tree.inclusion_proof(index, n).unwrap(),
                "{index} {n}"
            );
            let root = tree.root_at(n).unwrap();
            verify_inclusion(
                index,
                n,
                &tree.leaf_hashes()[index as usize],
                &from_db,
                &root,
            )
            .unwrap();
            let m = rng.below(n + 1);
            let from_db = tx
                .ledger_prove(n, |s: &dyn HashSource| consistency_proof(s, m, n))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(from_db, tree.consistency_proof(m, n).unwrap(), "{m} {n}");
            if m > 0 {
                verify_consistency(m, n, &tree.root_at(m).unwrap(), &root, &from_db).unwrap();
            }
            let db_root = tx
                .ledger_prove(n, |s: &dyn HashSource| {
                    Ok(Frontier::from_source(s, n)?.root())
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(db_root, root);
            checked_sizes += 1;
        }
        // Beyond the tree, or a bad index: the computation's error, not the database's.
        assert!(matches!(
            tx.ledger_prove(size + 1, |s: &dyn HashSource| inclusion_proof(
                s,
                0,
                size + 1
            ))
            .await
            .unwrap(),
            Err(LedgerError::SizeOrder { .. })
        ));
        assert!(matches!(
            tx.ledger_prove(size, |s: &dyn HashSource| inclusion_proof(s, size, size))
                .await
                .unwrap(),
            Err(LedgerError::IndexOutOfRange { .. })
        ));
        tx.rollback().await.unwrap();
    }
    assert!(checked_sizes > 100);

    // Every complete subtree is stored once, and equals the tree's; leaves read back.
    let size = tree.size();
    let mut tx = store.begin().await.unwrap();
    let mut nodes = 0u64;
    let mut wrong = 0u64;
    tx.ledger_scan_nodes(|level, index, hash| {
        nodes += 1;
        let expected = tree
            .subtree_hash(u32::try_from(level).unwrap(), u64::try_from(index).unwrap())
            .unwrap();
        if hash != hex::encode(expected) {
            wrong += 1;
        }
    })
    .await
    .unwrap();
    assert_eq!((nodes, wrong), (node_count(size), 0));
    let some = tx.ledger_leaves(size - 5, size + 10).await.unwrap();
    assert_eq!(some.len(), 5);
    for l in &some {
        assert_eq!(l.hash, tree.leaf_hashes()[l.index as usize]);
        assert_eq!(l.leaf.bytes, leaf(l.index).bytes);
        assert_eq!(l.leaf.kind, leaf(l.index).kind);
    }
    let by_record = tx.ledger_leaf_of("warning", 4).await.unwrap().unwrap();
    assert_eq!(by_record.index, 3);
    assert!(tx.ledger_leaf_of("warning", 5).await.unwrap().is_none());

    // Checkpoints are stored and read back in order.
    let date = huifang_core::calendar::parse_date("2026-11-28").unwrap();
    tx.ledger_insert_checkpoint(10, &tree.root_at(10).unwrap(), "note 1\n", date)
        .await
        .unwrap();
    tx.ledger_insert_checkpoint(size, &tree.root(), "note 2\n", date)
        .await
        .unwrap();
    let all = tx.ledger_checkpoints().await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.size).collect::<Vec<_>>(),
        vec![10, size]
    );
    let latest = tx.ledger_latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(
        (latest.size, latest.root, latest.note.as_str()),
        (size, tree.root(), "note 2\n")
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn sqlite_stored_proofs_equal_the_in_memory_tree() {
    let mut dbs = Dbs::new(false);
    stored_proofs_equal_the_in_memory_tree(dbs.fresh().await).await;
    dbs.finish().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: set HUIFANG_TEST_PG_URL and run with --run-ignored all / --include-ignored"]
async fn postgres_stored_proofs_equal_the_in_memory_tree() {
    let mut dbs = Dbs::new(true);
    stored_proofs_equal_the_in_memory_tree(dbs.fresh().await).await;
    dbs.finish().await;
}

/// Two writers appending at once on PostgreSQL serialise on the log's state row: no index is
/// used twice, and the tree stays whole.
#[tokio::test]
#[ignore = "needs PostgreSQL: set HUIFANG_TEST_PG_URL and run with --run-ignored all / --include-ignored"]
async fn postgres_concurrent_appenders_serialise() {
    let mut dbs = Dbs::new(true);
    let store = dbs.fresh().await;
    store.migrate().await.unwrap();
    let mut tasks = Vec::new();
    for w in 0..4u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..10u64 {
                let mut tx = store.begin().await.unwrap();
                let leaves: Vec<Leaf> = (0..7)
                    .map(|i| leaf(1_000_000 + w * 1_000 + round * 10 + i))
                    .collect();
                tx.ledger_append(&leaves).await.unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut tx = store.begin().await.unwrap();
    let size = tx.ledger_size().await.unwrap();
    assert_eq!(size, 4 * 10 * 7);
    let leaves = tx.ledger_leaves(0, size).await.unwrap();
    let tree = MerkleTree::from_leaf_hashes(leaves.iter().map(|l| l.hash).collect());
    let (_, hashes) = tx.ledger_head().await.unwrap();
    assert_eq!(
        Frontier::from_parts(size, hashes).unwrap().root(),
        tree.root()
    );
    let mut nodes = 0;
    tx.ledger_scan_nodes(|_, _, _| nodes += 1).await.unwrap();
    assert_eq!(nodes, node_count(size));
    drop(tx);
    dbs.finish().await;
}

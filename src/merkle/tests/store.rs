//! The frontier and the node store: incremental appends against from-scratch roots, roots of
//! past sizes, reloading, and the O(log n) read bounds.

use std::cell::Cell;

use super::{entry, hx, ref_root};
use crate::merkle::hasher::{Blake3, Digest, TreeHasher};
use crate::merkle::proof::{consistency_proof, inclusion_proof};
use crate::merkle::tree::{
    CompactRange, MemoryNodes, MemoryNodesError, MissingNode, Node, NodeSource, TreeError, root,
};

const N: usize = 200;

/// Appends N entries one by one, persisting what `append` returns, and checks each root
/// against the from-scratch reference.
fn build() -> (Vec<Digest>, MemoryNodes, Vec<Vec<Node>>) {
    let leaves: Vec<Digest> = (0..N).map(|i| Blake3.hash_leaf(&entry(i))).collect();
    let mut range = CompactRange::new(Blake3);
    // A verifier's frontier: `push` keeps the same one without the nodes.
    let mut pushed = CompactRange::new(Blake3);
    let mut store = MemoryNodes::new();
    let mut emitted = Vec::new();
    assert_eq!(range.root(), Blake3.empty_root());
    for i in 0..N {
        let nodes = range.append(&entry(i)).expect("append");
        pushed.push(&entry(i)).expect("push");
        assert_eq!(
            pushed.frontier(),
            range.frontier(),
            "frontier after {} pushes",
            i + 1
        );
        assert_eq!(pushed.size(), range.size());
        for node in &nodes {
            store.put(node).expect("nodes arrive in order");
        }
        assert_eq!(
            nodes.len() as u32,
            1 + (i as u64).trailing_ones(),
            "nodes emitted by append {i}"
        );
        assert_eq!(range.size(), i as u64 + 1);
        assert_eq!(
            hx(&range.root()),
            hx(&ref_root(&Blake3, &leaves[..=i])),
            "root after {} appends",
            i + 1
        );
        emitted.push(nodes);
    }
    (leaves, store, emitted)
}

#[test]
fn incremental_appends_match_from_scratch_roots() {
    let (leaves, store, emitted) = build();
    // Amortised O(1): fewer than two nodes per append.
    let total: usize = emitted.iter().map(Vec::len).sum();
    assert!(total < 2 * N, "{total} nodes for {N} appends");
    // The store holds exactly the perfect subtrees complete at size N, each correct.
    for level in 0..8u8 {
        let count = (N as u64) >> level;
        for index in 0..count {
            let span = 1usize << level;
            let begin = index as usize * span;
            let expected = ref_root(&Blake3, &leaves[begin..begin + span]);
            assert_eq!(
                store.node(level, index),
                Ok(expected),
                "node ({level}, {index})"
            );
        }
        assert_eq!(
            store.node(level, count),
            Err(MissingNode {
                level,
                index: count
            })
        );
    }
    assert_eq!(store.size(), N as u64);
}

#[test]
fn root_of_every_past_size() {
    let (leaves, store, _) = build();
    for size in 0..=N {
        assert_eq!(
            hx(&root(&Blake3, size as u64, &store).expect("root")),
            hx(&ref_root(&Blake3, &leaves[..size])),
            "root({size})"
        );
    }
}

#[test]
fn load_at_any_size_continues_identically() {
    let (_, store, emitted) = build();
    let full = CompactRange::load(Blake3, N as u64, &store).expect("load");
    for size in 0..=N {
        let mut range = CompactRange::load(Blake3, size as u64, &store).expect("load");
        assert_eq!(range.size(), size as u64);
        assert_eq!(
            range.root(),
            root(&Blake3, size as u64, &store).expect("root")
        );
        for (i, expected) in emitted.iter().enumerate().skip(size) {
            assert_eq!(
                &range.append(&entry(i)).expect("append"),
                expected,
                "append {i} after load({size})"
            );
        }
        assert_eq!(
            range, full,
            "frontier after load({size}) and the remaining appends"
        );
    }
}

#[test]
fn memory_nodes_refuse_gaps_and_conflicts() {
    let mut store = MemoryNodes::new();
    let node = |level, index, byte| Node {
        level,
        index,
        hash: [byte; 32],
    };
    store.put(&node(0, 0, 1)).expect("first");
    store
        .put(&node(0, 0, 1))
        .expect("same node again is a no-op");
    assert_eq!(
        store.put(&node(0, 0, 2)),
        Err(MemoryNodesError::Conflict { level: 0, index: 0 })
    );
    assert_eq!(
        store.put(&node(0, 2, 3)),
        Err(MemoryNodesError::Gap {
            level: 0,
            index: 2,
            len: 1
        })
    );
    assert_eq!(
        store.put(&node(3, 1, 3)),
        Err(MemoryNodesError::Gap {
            level: 3,
            index: 1,
            len: 0
        })
    );
}

#[test]
fn missing_nodes_are_reported_not_invented() {
    let (store, _) =
        MemoryNodes::from_entries(Blake3, &[entry(0), entry(1), entry(2)]).expect("build");
    let err = root(&Blake3, 4, &store).expect_err("size 4 is beyond the store");
    assert!(
        matches!(
            err,
            TreeError::Source {
                level: 2,
                index: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("level 2, index 0"), "{err}");
    assert!(matches!(
        inclusion_proof(&Blake3, 3, 3, &store),
        Err(TreeError::IndexOutOfRange { index: 3, size: 3 })
    ));
    assert!(matches!(
        consistency_proof(&Blake3, 3, 2, &store),
        Err(TreeError::SizesOutOfOrder {
            old_size: 3,
            new_size: 2
        })
    ));
}

/// A store of any size that makes up node hashes and counts reads: only the number of
/// reads is under test.
struct Counting {
    size: u64,
    reads: Cell<u64>,
}

impl NodeSource for Counting {
    type Error = MissingNode;
    fn node(&self, level: u8, index: u64) -> Result<Digest, MissingNode> {
        self.reads.set(self.reads.get() + 1);
        // A node exists when it is complete at the current size.
        let complete = index
            .checked_add(1)
            .and_then(|i| i.checked_mul(1u64.checked_shl(u32::from(level))?))
            .is_some_and(|end| end <= self.size);
        if !complete {
            return Err(MissingNode { level, index });
        }
        let mut h = blake3::Hasher::new();
        h.update(&[level]);
        h.update(&index.to_be_bytes());
        Ok(*h.finalize().as_bytes())
    }
}

#[test]
fn reads_are_logarithmic_even_for_huge_trees() {
    for size in [
        1u64,
        2,
        3,
        1_000_000,
        (1 << 40) + 12345,
        u64::MAX / 3,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let src = Counting {
            size,
            reads: Cell::new(0),
        };
        let count = |f: &dyn Fn()| {
            src.reads.set(0);
            f();
            src.reads.get()
        };
        let r = count(&|| {
            root(&Blake3, size, &src).expect("root");
        });
        assert_eq!(r, u64::from(size.count_ones()), "root({size}) reads");
        let r = count(&|| {
            CompactRange::load(Blake3, size, &src).expect("load");
        });
        assert_eq!(r, u64::from(size.count_ones()), "load({size}) reads");
        for index in [0, size / 2, size - 1] {
            let r = count(&|| {
                inclusion_proof(&Blake3, index, size, &src).expect("inclusion");
            });
            assert!(r <= 128, "inclusion({index}, {size}): {r} reads");
        }
        for old in [1, size / 3, size - 1] {
            let r = count(&|| {
                consistency_proof(&Blake3, old, size, &src).expect("consistency");
            });
            assert!(r <= 192, "consistency({old}, {size}): {r} reads");
        }
    }
}

#[test]
fn a_full_tree_refuses_another_leaf() {
    let src = Counting {
        size: u64::MAX,
        reads: Cell::new(0),
    };
    let mut range = CompactRange::load(Blake3, u64::MAX, &src).expect("load");
    assert!(range.append(&entry(0)).is_err());
    assert_eq!(range.size(), u64::MAX);
}

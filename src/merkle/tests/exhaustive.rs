//! Every inclusion and consistency proof of every blake3 tree of 1..=64 leaves verifies, and
//! every mangled variant is rejected.

use super::{entry, ref_path, ref_root, ref_subproof};
use crate::merkle::hasher::{Blake3, Digest, TreeHasher};
use crate::merkle::proof::{
    VerifyError, consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use crate::merkle::tree::{MemoryNodes, root};

const N: usize = 64;

struct Fixture {
    leaves: Vec<Digest>,
    store: MemoryNodes,
    /// `roots[n]` is the root of the first n leaves; one extra so "size + 1" exists.
    roots: Vec<Digest>,
}

fn fixture() -> Fixture {
    let entries: Vec<Digest> = (0..=N).map(entry).collect();
    let leaves: Vec<Digest> = entries.iter().map(|e| Blake3.hash_leaf(e)).collect();
    let (store, _) = MemoryNodes::from_entries(Blake3, &entries).expect("build");
    let roots = (0..=N as u64)
        .map(|n| root(&Blake3, n, &store).expect("root"))
        .collect();
    Fixture {
        leaves,
        store,
        roots,
    }
}

/// Every way the tests mangle a proof: (description, mangled proof).
fn mangles(proof: &[Digest]) -> Vec<(String, Vec<Digest>)> {
    let mut out = Vec::new();
    for j in 0..proof.len() {
        let mut p = proof.to_vec();
        p[j][j % 32] ^= 0x01;
        out.push((format!("flipped a bit of element {j}"), p));
    }
    for j in 1..proof.len() {
        if proof[j - 1] != proof[j] {
            let mut p = proof.to_vec();
            p.swap(j - 1, j);
            out.push((format!("swapped elements {} and {j}", j - 1), p));
        }
    }
    if !proof.is_empty() {
        out.push(("truncated".into(), proof[..proof.len() - 1].to_vec()));
        out.push(("first element dropped".into(), proof[1..].to_vec()));
        let mut p = proof.to_vec();
        p.push(proof[proof.len() - 1]);
        out.push(("last element repeated".into(), p));
    }
    let mut p = proof.to_vec();
    p.push([0u8; 32]);
    out.push(("extended with zeros".into(), p));
    out
}

#[test]
fn every_inclusion_proof_verifies_and_mangled_ones_fail() {
    let f = fixture();
    let mut rejected = 0usize;
    for n in 1..=N {
        let root_n = f.roots[n];
        assert_eq!(root_n, ref_root(&Blake3, &f.leaves[..n]), "root({n})");
        for i in 0..n {
            let proof = inclusion_proof(&Blake3, i as u64, n as u64, &f.store).expect("proof");
            assert_eq!(
                proof,
                ref_path(&Blake3, i, &f.leaves[..n]),
                "PATH({i}, {n})"
            );
            let leaf = &f.leaves[i];
            verify_inclusion(&Blake3, i as u64, n as u64, leaf, &proof, &root_n)
                .unwrap_or_else(|e| panic!("inclusion {i} in {n}: {e}"));

            let mut expect_err = |what: &str, r: Result<(), VerifyError>| {
                assert!(r.is_err(), "inclusion {i} in {n} accepted with {what}");
                rejected += 1;
            };
            for (what, p) in mangles(&proof) {
                expect_err(
                    &what,
                    verify_inclusion(&Blake3, i as u64, n as u64, leaf, &p, &root_n),
                );
            }
            // Wrong size, against the root of that size (a replay against another checkpoint).
            if n < N {
                let r = verify_inclusion(
                    &Blake3,
                    i as u64,
                    n as u64 + 1,
                    leaf,
                    &proof,
                    &f.roots[n + 1],
                );
                expect_err("size + 1", r);
            }
            if i + 1 < n {
                let r = verify_inclusion(
                    &Blake3,
                    i as u64,
                    n as u64 - 1,
                    leaf,
                    &proof,
                    &f.roots[n - 1],
                );
                expect_err("size - 1", r);
            }
            // Wrong index, every one of them, in and out of range.
            for j in (0..=n).filter(|&j| j != i) {
                expect_err(
                    &format!("index {j}"),
                    verify_inclusion(&Blake3, j as u64, n as u64, leaf, &proof, &root_n),
                );
            }
            // Another leaf, and the entry hash passed where the leaf hash belongs.
            let other = &f.leaves[(i + 1) % n.max(2)];
            if other != leaf {
                expect_err(
                    "another leaf",
                    verify_inclusion(&Blake3, i as u64, n as u64, other, &proof, &root_n),
                );
            }
            expect_err(
                "the entry hash instead of the leaf hash",
                verify_inclusion(&Blake3, i as u64, n as u64, &entry(i), &proof, &root_n),
            );
        }
    }
    assert!(
        rejected > 100_000,
        "the mangling loop ran ({rejected} rejections)"
    );
}

#[test]
fn every_consistency_proof_verifies_and_mangled_ones_fail() {
    let f = fixture();
    let mut rejected = 0usize;
    for n in 1..=N {
        for m in 0..=n {
            let proof = consistency_proof(&Blake3, m as u64, n as u64, &f.store).expect("proof");
            let expected = if m == 0 {
                Vec::new()
            } else {
                ref_subproof(&Blake3, m, &f.leaves[..n], true)
            };
            assert_eq!(proof, expected, "PROOF({m}, {n})");
            let (old, new) = (&f.roots[m], &f.roots[n]);
            verify_consistency(&Blake3, m as u64, n as u64, old, new, &proof)
                .unwrap_or_else(|e| panic!("consistency {m} -> {n}: {e}"));

            let mut expect_err = |what: &str, r: Result<(), VerifyError>| {
                assert!(r.is_err(), "consistency {m} -> {n} accepted with {what}");
                rejected += 1;
            };
            for (what, p) in mangles(&proof) {
                expect_err(
                    &what,
                    verify_consistency(&Blake3, m as u64, n as u64, old, new, &p),
                );
            }
            // Wrong sizes, each with the roots of those sizes. Skipped only where the proof
            // really is the proof for those sizes (e.g. the empty proof of 0 -> 1 and 1 -> 1).
            let mut wrong_sizes = vec![(m, n + 1), (m + 1, n)];
            if n > 1 {
                wrong_sizes.push((m, n - 1));
            }
            if m > 0 {
                wrong_sizes.push((m - 1, n));
            }
            for (m2, n2) in wrong_sizes {
                if m2 > n2 || n2 > N {
                    continue;
                }
                let real =
                    consistency_proof(&Blake3, m2 as u64, n2 as u64, &f.store).expect("proof");
                if real == proof {
                    continue;
                }
                expect_err(
                    &format!("sizes {m2} -> {n2}"),
                    verify_consistency(
                        &Blake3,
                        m2 as u64,
                        n2 as u64,
                        &f.roots[m2],
                        &f.roots[n2],
                        &proof,
                    ),
                );
            }
            // Wrong roots: a forked old or new tree.
            let mut forked_old = *old;
            forked_old[0] ^= 1;
            let mut forked_new = *new;
            forked_new[31] ^= 1;
            expect_err(
                "another old root",
                verify_consistency(&Blake3, m as u64, n as u64, &forked_old, new, &proof),
            );
            // Every tree extends the empty one, so from size 0 any new root is consistent.
            if m > 0 {
                expect_err(
                    "another new root",
                    verify_consistency(&Blake3, m as u64, n as u64, old, &forked_new, &proof),
                );
            }
            // Sizes swapped.
            if m < n {
                expect_err(
                    "sizes swapped",
                    verify_consistency(&Blake3, n as u64, m as u64, new, old, &proof),
                );
            }
        }
    }
    assert!(
        rejected > 10_000,
        "the mangling loop ran ({rejected} rejections)"
    );
}

#[test]
fn verification_errors_say_what_failed() {
    let f = fixture();
    let proof = inclusion_proof(&Blake3, 5, 13, &f.store).expect("proof");
    let leaf = &f.leaves[5];
    let r13 = &f.roots[13];
    let check = |r: Result<(), VerifyError>, want: &str| {
        let msg = r.expect_err("must fail").to_string();
        assert!(msg.contains(want), "{msg:?} should mention {want:?}");
    };
    check(
        verify_inclusion(&Blake3, 13, 13, leaf, &proof, r13),
        "out of range",
    );
    check(
        verify_inclusion(&Blake3, 5, 13, leaf, &proof[..proof.len() - 1], r13),
        "too short",
    );
    let mut long = proof.clone();
    long.push([0; 32]);
    check(
        verify_inclusion(&Blake3, 5, 13, leaf, &long, r13),
        "too long",
    );
    check(
        verify_inclusion(&Blake3, 5, 13, leaf, &proof, &f.roots[12]),
        "root mismatch",
    );

    let cp = consistency_proof(&Blake3, 6, 13, &f.store).expect("proof");
    let (r6, r7) = (&f.roots[6], &f.roots[7]);
    check(
        verify_consistency(&Blake3, 13, 6, r13, r6, &cp),
        "larger than",
    );
    check(
        verify_consistency(&Blake3, 6, 13, r6, r13, &[]),
        "empty consistency proof",
    );
    check(
        verify_consistency(&Blake3, 6, 6, r6, r6, &cp),
        "expected an empty proof",
    );
    check(verify_consistency(&Blake3, 6, 6, r6, r7, &[]), "forked");
    check(
        verify_consistency(&Blake3, 6, 13, r7, r13, &cp),
        "old root mismatch",
    );
    check(
        verify_consistency(&Blake3, 6, 13, r6, r7, &cp),
        "new root mismatch",
    );
    check(
        verify_consistency(&Blake3, 0, 13, r6, r13, &[]),
        "old root mismatch",
    );
}

/// A commit's receipts are proven from [`RecentNodes`] (the frontier before the commit plus
/// the nodes it completes) without the store: for every size before a commit up to 40 and
/// every commit of up to 24 entries, every new entry's proof against every size the commit
/// reaches is the store's proof, and a size before the entry is refused, not guessed.
#[test]
fn recent_nodes_prove_every_entry_of_a_commit() {
    use crate::merkle::tree::{CompactRange, RecentNodes};
    let entries: Vec<Digest> = (0..=70).map(entry).collect();
    let (store, _) = MemoryNodes::from_entries(Blake3, &entries).expect("build");
    let mut checked = 0u64;
    for old in 0..=40u64 {
        let mut tree = CompactRange::new(Blake3);
        for e in &entries[..old as usize] {
            tree.push(e).expect("push");
        }
        let mut recent = RecentNodes::from_tree(&tree);
        for new in old + 1..=old + 24 {
            let nodes = tree.append(&entries[(new - 1) as usize]).expect("append");
            recent.extend(&nodes);
            for size in old + 1..=new {
                for i in old..size {
                    let got = inclusion_proof(&Blake3, i, size, &recent)
                        .unwrap_or_else(|e| panic!("leaf {i} size {size} (old {old}): {e}"));
                    let want = inclusion_proof(&Blake3, i, size, &store).expect("store proof");
                    assert_eq!(got, want, "leaf {i} size {size} (old {old})");
                    checked += 1;
                }
            }
        }
        // A leaf before the commit may need nodes the commit never held: it is refused.
        if old >= 3 {
            assert!(
                (0..old).any(|i| inclusion_proof(&Blake3, i, old + 24, &recent).is_err()),
                "old {old}: some older leaf's proof needs a node outside the commit"
            );
        }
    }
    assert!(checked > 100_000, "{checked}");
}

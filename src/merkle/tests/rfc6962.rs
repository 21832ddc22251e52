//! The RFC 6962 SHA-256 vectors of tests/data/rfc6962-sha256.json, through the SHA-256 hasher.

use serde_json::Value;

use super::{hx, ref_root};
use crate::merkle::hasher::{Digest, Sha256, TreeHasher};
use crate::merkle::proof::{
    consistency_proof, inclusion_proof, verify_consistency, verify_inclusion,
};
use crate::merkle::tree::{CompactRange, MemoryNodes, root};

const VECTORS: &str = include_str!("../../../tests/data/rfc6962-sha256.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vector file is JSON")
}

fn digest(v: &Value) -> Digest {
    let mut d = [0u8; 32];
    hex::decode_to_slice(v.as_str().expect("hex string"), &mut d).expect("32-byte hex");
    d
}

fn digests(v: &Value) -> Vec<Digest> {
    v.as_array().expect("array").iter().map(digest).collect()
}

fn num(v: &Value) -> u64 {
    v.as_u64().expect("number")
}

/// The leaf hashes of the vector leaves and the store built from all of them.
fn tree() -> (Vec<Digest>, MemoryNodes) {
    let leaves: Vec<Digest> = vectors()["leaves_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| Sha256.hash_leaf(&hex::decode(l.as_str().expect("hex")).expect("hex")))
        .collect();
    let (store, _) = MemoryNodes::from_leaf_hashes(Sha256, leaves.clone()).expect("build");
    (leaves, store)
}

fn roots() -> Vec<(u64, Digest)> {
    let v = vectors();
    let mut roots: Vec<(u64, Digest)> = v["roots_by_size"]
        .as_object()
        .expect("roots")
        .iter()
        .map(|(k, r)| (k.parse().expect("size"), digest(r)))
        .collect();
    roots.sort();
    roots
}

fn root_of(size: u64) -> Digest {
    roots()
        .into_iter()
        .find(|(s, _)| *s == size)
        .map(|(_, r)| r)
        .expect("a vector root for this size")
}

#[test]
fn roots_for_sizes_0_to_8() {
    let (leaves, store) = tree();
    let roots = roots();
    assert_eq!(roots.len(), 9, "the vector file has roots for sizes 0-8");
    let mut range = CompactRange::new(Sha256);
    for (size, expected) in roots {
        while range.size() < size {
            range
                .append_leaf_hash(leaves[range.size() as usize])
                .expect("append");
        }
        assert_eq!(
            hx(&root(&Sha256, size, &store).expect("root")),
            hx(&expected),
            "root({size}) from the store"
        );
        assert_eq!(
            hx(&range.root()),
            hx(&expected),
            "CompactRange root at {size}"
        );
        assert_eq!(
            hx(&ref_root(&Sha256, &leaves[..size as usize])),
            hx(&expected),
            "reference root at {size}"
        );
    }
}

#[test]
fn inclusion_proofs() {
    let (leaves, store) = tree();
    let v = vectors();
    let cases = v["inclusion"].as_array().expect("inclusion");
    assert!(!cases.is_empty());
    for case in cases {
        let (index, size) = (num(&case["index"]), num(&case["tree_size"]));
        let expected = digests(&case["proof"]);
        let proof = inclusion_proof(&Sha256, index, size, &store).expect("proof");
        assert_eq!(proof, expected, "inclusion proof of {index} in {size}");
        verify_inclusion(
            &Sha256,
            index,
            size,
            &leaves[index as usize],
            &expected,
            &root_of(size),
        )
        .unwrap_or_else(|e| panic!("inclusion {index} in {size}: {e}"));
    }
}

#[test]
fn consistency_proofs() {
    let (_, store) = tree();
    let v = vectors();
    let cases = v["consistency"].as_array().expect("consistency");
    assert!(!cases.is_empty());
    for case in cases {
        let (first, second) = (num(&case["first"]), num(&case["second"]));
        let expected = digests(&case["proof"]);
        let proof = consistency_proof(&Sha256, first, second, &store).expect("proof");
        assert_eq!(proof, expected, "consistency proof {first} -> {second}");
        verify_consistency(
            &Sha256,
            first,
            second,
            &root_of(first),
            &root_of(second),
            &expected,
        )
        .unwrap_or_else(|e| panic!("consistency {first} -> {second}: {e}"));
    }
}

//! The proof length limits of FORMAT.md §2.4 ("Proof length") at their boundary: the longest
//! proofs that trees of fewer than 2^64 leaves have are accepted, one hash more is refused.
//!
//! Trees that large cannot be built, but a tree whose leaves are all equal can be served
//! without storing it: every perfect subtree of one level has the same hash. The proofs
//! below are generated and verified by the real code over such a tree.

use std::convert::Infallible;

use proptest::prelude::*;

use super::entry;
use crate::merkle::hasher::{Blake3, Digest, TreeHasher};
use crate::merkle::proof::{
    MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES, ProofKind, VerifyError, consistency_proof,
    inclusion_proof, proof_from_bytes, proof_to_bytes, verify_consistency, verify_inclusion,
};
use crate::merkle::tree::{NodeSource, root};

/// A tree of any size whose leaves are all `H(0x00 || entry(0))`: the node of level `l` is
/// `levels[l]`, whatever its index.
struct Uniform {
    levels: Vec<Digest>,
}

impl Uniform {
    fn new() -> Self {
        let mut levels = vec![Blake3.hash_leaf(&entry(0))];
        for l in 0..63 {
            let below = levels[l];
            levels.push(Blake3.hash_children(&below, &below));
        }
        Self { levels }
    }

    fn leaf(&self) -> Digest {
        self.levels[0]
    }

    fn root(&self, size: u64) -> Digest {
        root(&Blake3, size, self).expect("root")
    }
}

impl NodeSource for Uniform {
    type Error = Infallible;

    fn node(&self, level: u8, _index: u64) -> Result<Digest, Infallible> {
        Ok(self.levels[usize::from(level)])
    }
}

#[test]
fn the_limits_are_64_and_65() {
    assert_eq!(MAX_INCLUSION_HASHES, 64);
    assert_eq!(MAX_CONSISTENCY_HASHES, 65);
    assert_eq!(ProofKind::Inclusion.max_hashes(), MAX_INCLUSION_HASHES);
    assert_eq!(ProofKind::Consistency.max_hashes(), MAX_CONSISTENCY_HASHES);
}

#[test]
fn the_longest_inclusion_proof_is_accepted_and_one_more_hash_refused() {
    let t = Uniform::new();
    let size = u64::MAX;
    let proof = inclusion_proof(&Blake3, 0, size, &t).expect("proof");
    assert_eq!(
        proof.len(),
        MAX_INCLUSION_HASHES,
        "leaf 0 of 2^64 - 1 is 64 deep"
    );
    let r = t.root(size);
    verify_inclusion(&Blake3, 0, size, &t.leaf(), &proof, &r).expect("the longest verifies");
    let bytes = proof_to_bytes(&proof);
    assert_eq!(
        proof_from_bytes(ProofKind::Inclusion, &bytes).expect("decodes"),
        proof
    );

    let mut longer = proof.clone();
    longer.push(t.leaf());
    assert_eq!(
        verify_inclusion(&Blake3, 0, size, &t.leaf(), &longer, &r),
        Err(VerifyError::ProofTooLarge {
            kind: ProofKind::Inclusion,
            len: 65
        })
    );
    assert_eq!(
        proof_from_bytes(ProofKind::Inclusion, &proof_to_bytes(&longer)),
        Err(VerifyError::ProofTooLarge {
            kind: ProofKind::Inclusion,
            len: 65
        })
    );
}

#[test]
fn the_longest_consistency_proof_is_accepted_and_one_more_hash_refused() {
    let t = Uniform::new();
    let (old, new) = ((1u64 << 63) + 1, u64::MAX);
    let proof = consistency_proof(&Blake3, old, new, &t).expect("proof");
    assert_eq!(proof.len(), MAX_CONSISTENCY_HASHES);
    let (old_root, new_root) = (t.root(old), t.root(new));
    verify_consistency(&Blake3, old, new, &old_root, &new_root, &proof)
        .expect("the longest verifies");
    let bytes = proof_to_bytes(&proof);
    assert_eq!(
        proof_from_bytes(ProofKind::Consistency, &bytes).expect("decodes"),
        proof
    );
    // The inclusion limit is lower: these bytes are not an inclusion proof.
    assert!(matches!(
        proof_from_bytes(ProofKind::Inclusion, &bytes),
        Err(VerifyError::ProofTooLarge { len: 65, .. })
    ));

    let mut longer = proof.clone();
    longer.push(t.leaf());
    let too_large = VerifyError::ProofTooLarge {
        kind: ProofKind::Consistency,
        len: 66,
    };
    assert_eq!(
        verify_consistency(&Blake3, old, new, &old_root, &new_root, &longer),
        Err(too_large.clone())
    );
    assert_eq!(
        proof_from_bytes(ProofKind::Consistency, &proof_to_bytes(&longer)),
        Err(too_large)
    );
}

/// Sizes across the whole range, with the largest ones over-represented.
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..1000,
        any::<u64>(),
        (1u64 << 63)..=u64::MAX,
        (0u32..64).prop_map(|b| 1u64 << b),
        (1u32..64).prop_map(|b| (1u64 << b) + 1),
    ]
    .prop_filter("non-empty", |&n| n > 0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No proof of any tree is longer than its kind's limit, so the limits refuse no real proof.
    #[test]
    fn no_proof_exceeds_its_limit(a in size(), b in size(), i in any::<u64>()) {
        let t = Uniform::new();
        let (old, new) = (a.min(b), a.max(b));
        let index = i % new;
        let inc = inclusion_proof(&Blake3, index, new, &t).expect("inclusion");
        prop_assert!(inc.len() <= MAX_INCLUSION_HASHES);
        let con = consistency_proof(&Blake3, old, new, &t).expect("consistency");
        prop_assert!(con.len() <= MAX_CONSISTENCY_HASHES);
        verify_consistency(&Blake3, old, new, &t.root(old), &t.root(new), &con)
            .expect("verifies");
    }
}

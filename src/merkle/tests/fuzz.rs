//! Property tests: untrusted bytes fed to the proof verifiers, the proof decoder, the
//! checkpoint parser and the key parser never panic, and mutated checkpoints never verify.

use proptest::prelude::*;

use super::entry;
use crate::merkle::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::merkle::hasher::{Blake3, Digest};
use crate::merkle::key::{CheckpointKey, VerifierKey};
use crate::merkle::proof::{ProofKind, proof_from_bytes, verify_consistency, verify_inclusion};

fn digest(bytes: &[u8]) -> Digest {
    *blake3::hash(bytes).as_bytes()
}

/// Sizes that stress the edges as well as ordinary ones.
fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..70,
        any::<u64>(),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(1u64 << 63),
    ]
}

fn signed_text() -> String {
    let key = CheckpointKey::from_seed("rotaledger.example", &[1; 32]).expect("key");
    let time = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("time");
    Checkpoint::new("rotaledger.example/d7", 42, entry(1), time)
        .expect("checkpoint")
        .sign(&key)
        .expect("sign")
        .to_text()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn proof_verifiers_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2200),
        index in size(),
        a in size(),
        b in size(),
        seed in any::<[u8; 8]>(),
    ) {
        // Decoding refuses ragged or oversized input; otherwise verify the hashes as given.
        let proof = match proof_from_bytes(ProofKind::Consistency, &bytes) {
            Ok(p) => p,
            Err(_) => bytes.chunks_exact(32).map(digest).collect(),
        };
        let (x, y) = (digest(&seed), digest(&bytes));
        let _ = verify_inclusion(&Blake3, index, a, &x, &proof, &y);
        let _ = verify_consistency(&Blake3, a, b, &x, &y, &proof);
        let _ = verify_consistency(&Blake3, a.min(b), a.max(b), &x, &y, &proof);
    }

    #[test]
    fn checkpoint_parser_never_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = SignedCheckpoint::parse_bytes(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = s.parse::<VerifierKey>();
        }
    }

    #[test]
    fn checkpoint_parser_never_panics_on_structured_noise(
        lines in proptest::collection::vec("[a-zA-Z0-9+/= \u{2014}:TZ-]{0,60}", 0..10),
    ) {
        let text = lines.join("\n");
        let _ = SignedCheckpoint::parse(&text);
    }

    /// Changing any one byte of a signed checkpoint either fails to parse, fails to verify,
    /// or (only if the text is unchanged) verifies: tampering is always caught.
    #[test]
    fn mutated_checkpoints_never_verify(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let text = signed_text();
        let key = CheckpointKey::from_seed("rotaledger.example", &[1; 32]).expect("key").verifier();
        let mut bytes = text.clone().into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let verified = SignedCheckpoint::parse_bytes(&bytes)
            .ok()
            .and_then(|s| s.verify(&key).ok().cloned());
        if verified.is_some() {
            prop_assert_eq!(bytes, text.into_bytes());
        }
    }
}

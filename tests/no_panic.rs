//! No panic on any input: random and mutated bytes fed to the decoders an outsider can reach
//! that the crate's own property tests do not cover yet (stored entry bodies, export files,
//! the access file, the private key file). Event JSON, checkpoints, verifier keys and proof
//! files are fuzzed beside their code (`src/domain/tests/props.rs`, `src/merkle/tests/fuzz.rs`,
//! `src/merkle/proof_file.rs`).

use std::io::Cursor;

use proptest::prelude::*;
use rotaledger::crypto::Profile;
use rotaledger::grpc::auth::Access;
use rotaledger::log::Entry;
use rotaledger::log::export::verify_export;
use rotaledger::merkle::CheckpointKey;

const EXPORT: &str = include_str!("../docs/examples/example-export.jsonl");

fn valid_stored() -> Vec<u8> {
    let body = br#"{"seq":3,"recorded_at":"2026-11-26T10:00:00.000000Z","actor":"a","request_id":"r","payload":{"n":1}}"#;
    Entry::seal(Profile::Blake3, 3, [7; 32], body.to_vec()).to_stored()
}

/// Runs the export verifier over `bytes`; returns whether it verified.
fn export_verifies(bytes: &[u8]) -> bool {
    let mut input = Cursor::new(bytes);
    matches!(
        verify_export(&mut input, &mut |_| {}, &mut |_| {}),
        Ok(Ok(_))
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A stored entry value of any bytes decodes or fails; its meta the same.
    #[test]
    fn stored_entries_never_panic(seq in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(e) = Entry::from_stored(seq, &bytes) {
            let _ = e.meta();
            let _ = e.computed_hash(Profile::Blake3);
        }
    }

    /// A valid stored entry with one byte changed never passes as the original: its hash
    /// check fails or it does not decode.
    #[test]
    fn mutated_stored_entries_never_pass(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut v = valid_stored();
        let i = pos.index(v.len());
        prop_assume!(v[i] != byte);
        v[i] = byte;
        if let Ok(e) = Entry::from_stored(3, &v) {
            let _ = e.meta();
            prop_assert!(e.computed_hash(Profile::Blake3) != e.hash, "byte {i} changed and still hashes");
        }
    }

    /// Random bytes as an export file never panic the verifier.
    #[test]
    fn random_exports_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = export_verifies(&bytes);
    }

    /// The example export with one byte changed or cut short never panics the verifier, and
    /// never verifies unless the change is invisible to it: whitespace between JSON tokens, or
    /// the case of a hex digit (the hash it spells is the same).
    #[test]
    fn mutated_exports_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut v = EXPORT.as_bytes().to_vec();
        let i = pos.index(v.len());
        if cut {
            v.truncate(i);
        } else {
            prop_assume!(v[i] != byte);
            v[i] = byte;
        }
        let ok = export_verifies(&v);
        if ok && !cut {
            prop_assert!(
                EXPORT.as_bytes()[i].is_ascii_whitespace()
                    || byte.is_ascii_whitespace()
                    || EXPORT.as_bytes()[i].eq_ignore_ascii_case(&byte),
                "byte {i} set to {byte} and the export still verifies"
            );
        }
    }

    /// Any text as an access file is parsed or refused, never a panic.
    #[test]
    fn access_files_never_panic(text in ".{0,300}") {
        let _ = Access::parse(&text);
    }

    /// Structured noise in the access file's own shape.
    #[test]
    fn access_file_noise_never_panics(
        name in ".{0,20}",
        role in "(writer|auditor|principal|admin|.{0,8})",
        hash in "[0-9a-f]{0,70}",
        schools in proptest::collection::vec(".{0,10}", 0..3),
    ) {
        let text = format!(
            "[[token]]\nname = {name:?}\nrole = {role:?}\nhash = {hash:?}\nschools = {schools:?}\n"
        );
        let _ = Access::parse(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Any bytes in the private key file are loaded or refused, never a panic.
    #[test]
    fn key_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), valid_prefix in any::<bool>()) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint.key");
        let mut content = if valid_prefix { b"PRIVATE+KEY+rotaledger+".to_vec() } else { Vec::new() };
        content.extend_from_slice(&bytes);
        std::fs::write(&p, &content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let _ = CheckpointKey::load(&p);
    }
}

//! Signed checkpoints: round trip, tampering, other keys, parsing errors, key files.

use chrono::{DateTime, Duration, Utc};

use super::entry;
use crate::merkle::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint, open};
use crate::merkle::key::{CheckpointKey, KeyError, VerifierKey};

const ORIGIN: &str = "rotaledger.example/district-7";

fn key(seed: u8) -> CheckpointKey {
    CheckpointKey::from_seed("rotaledger.example", &[seed; 32]).expect("key")
}

fn time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("time")
        .to_utc()
}

fn checkpoint() -> Checkpoint {
    Checkpoint::new(ORIGIN, 1234, entry(7), time()).expect("checkpoint")
}

fn signed_text() -> String {
    checkpoint().sign(&key(1)).expect("sign").to_text()
}

#[test]
fn sign_parse_verify_round_trip() {
    let text = signed_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [ORIGIN, "1234", lines[2], "time 2026-11-22T10:00:00Z"]
    );
    assert_eq!(lines[4], "");
    assert!(
        lines[5].starts_with("\u{2014} rotaledger.example "),
        "{}",
        lines[5]
    );
    assert_eq!(lines.len(), 6);

    let parsed = SignedCheckpoint::parse(&text).expect("parse");
    assert_eq!(
        parsed.to_text(),
        text,
        "parsing and printing is the identity"
    );
    assert_eq!(
        parsed.verify(&key(1).verifier()).expect("verify"),
        &checkpoint()
    );
    assert_eq!(open(&text, &key(1).verifier()).expect("open"), checkpoint());
    // Sub-second times are truncated, since the text carries whole seconds.
    let precise =
        Checkpoint::new(ORIGIN, 1, entry(0), time() + Duration::milliseconds(999)).expect("new");
    assert_eq!(precise.time, time());
}

#[test]
fn tampering_with_any_body_line_is_detected() {
    let text = signed_text();
    let lines: Vec<&str> = text.split('\n').collect();
    let replacements: [(usize, String); 5] = [
        (0, "rotaledger.example/district-8".into()),
        (1, "1235".into()),
        (
            2,
            Checkpoint::new(ORIGIN, 1234, entry(8), time())
                .expect("cp")
                .body()
                .split('\n')
                .nth(2)
                .expect("root line")
                .to_owned(),
        ),
        (3, "time 2026-11-22T10:00:01Z".into()),
        (3, "time 2025-11-22T10:00:00Z".into()),
    ];
    for (line, new) in replacements {
        let mut l = lines.clone();
        l[line] = &new;
        let tampered = l.join("\n");
        let err = open(&tampered, &key(1).verifier()).expect_err("tampered body must fail");
        assert!(
            matches!(err, CheckpointError::BadSignature { .. }),
            "line {line} -> {new}: {err}"
        );
    }
}

#[test]
fn tampering_with_the_signature_is_detected() {
    let good = SignedCheckpoint::parse(&signed_text()).expect("parse");
    for byte in [0, 31, 32, 63] {
        let mut bad = good.clone();
        bad.signatures[0].signature[byte] ^= 0x04;
        let err = bad
            .verify(&key(1).verifier())
            .expect_err("flipped signature");
        assert!(matches!(err, CheckpointError::BadSignature { .. }), "{err}");
        // And the same through the text form.
        assert!(open(&bad.to_text(), &key(1).verifier()).is_err());
    }
    let mut short = good.clone();
    short.signatures[0].signature.truncate(63);
    assert!(matches!(
        short.verify(&key(1).verifier()),
        Err(CheckpointError::BadSignature { .. })
    ));
    let mut renamed = good.clone();
    renamed.signatures[0].key_id[0] ^= 1;
    let err = renamed
        .verify(&key(1).verifier())
        .expect_err("key id changed");
    assert!(
        matches!(err, CheckpointError::NoSignatureFromKey { .. }),
        "{err}"
    );
}

#[test]
fn another_key_is_detected() {
    let text = signed_text();
    // Same name, different key: the key id differs, so no signature by it is found.
    let err = open(&text, &key(2).verifier()).expect_err("another key");
    assert!(
        matches!(err, CheckpointError::NoSignatureFromKey { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("signatures present: rotaledger.example+"),
        "{err}"
    );
    // A signature by key 2 relabelled with key 1's id does not verify under key 1.
    let mut forged = checkpoint().sign(&key(2)).expect("sign");
    forged.signatures[0].key_id = key(1).key_id();
    let err = open(&forged.to_text(), &key(1).verifier()).expect_err("forged");
    assert!(matches!(err, CheckpointError::BadSignature { .. }), "{err}");
}

#[test]
fn cosignatures_by_other_keys_are_ignored() {
    let mut signed = checkpoint().sign(&key(1)).expect("sign");
    let other = CheckpointKey::from_seed("witness.example", &[9; 32]).expect("key");
    signed.signatures.insert(
        0,
        checkpoint().sign(&other).expect("cosign").signatures[0].clone(),
    );
    let text = signed.to_text();
    assert_eq!(
        open(&text, &key(1).verifier()).expect("log key"),
        checkpoint()
    );
    assert_eq!(
        open(&text, &other.verifier()).expect("witness key"),
        checkpoint()
    );
}

#[test]
fn malformed_checkpoints_are_rejected_with_the_reason() {
    let text = signed_text();
    let body_end = text.find("\n\n").expect("separator");
    let (body, sigs) = (&text[..=body_end], &text[body_end + 2..]);
    let cases: Vec<(String, &str)> = vec![
        (body.to_owned(), "no blank line"),
        (format!("{body}\n"), "no signature lines"),
        (
            format!("{body}\n{}", sigs.trim_end()),
            "does not end with a newline",
        ),
        (
            format!("{body}\n{}", sigs.replace('\u{2014}', "--")),
            "em dash",
        ),
        (
            format!("{body}\n{}", sigs.replacen(' ', "  ", 2)),
            "malformed",
        ),
        (text.replace("\n1234\n", "\n01234\n"), "invalid size"),
        (text.replace("\n1234\n", "\n+1234\n"), "invalid size"),
        (
            text.replace("\n1234\n", "\n99999999999999999999\n"),
            "invalid size",
        ),
        (
            text.replace(
                "time 2026-11-22T10:00:00Z",
                "time 2026-11-22T10:00:00+00:00",
            ),
            "invalid time",
        ),
        (
            text.replace("time 2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"),
            "invalid time",
        ),
        (
            text.replace(
                "time 2026-11-22T10:00:00Z",
                "time 2026-11-22T10:00:00Z\nextra",
            ),
            "expected 4",
        ),
        (text.replacen(ORIGIN, "", 1), "invalid origin"),
        (text.replacen(ORIGIN, "a\tb", 1), "control character"),
        (text.replacen('=', "", 1), "invalid root"),
        ("x".repeat(70_000), "more than the maximum"),
    ];
    for (bad, reason) in cases {
        let err = SignedCheckpoint::parse(&bad).expect_err(reason);
        assert!(
            err.to_string().contains(reason),
            "{bad:?}: {err} should say {reason:?}"
        );
    }
    assert!(matches!(
        SignedCheckpoint::parse_bytes(b"\xff\n\n"),
        Err(CheckpointError::NotUtf8)
    ));
}

#[test]
fn checkpoint_fields_are_validated() {
    assert!(Checkpoint::new(" padded", 1, entry(0), time()).is_err());
    assert!(Checkpoint::new("two\nlines", 1, entry(0), time()).is_err());
    let far = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .expect("t")
        .to_utc()
        + Duration::days(1);
    assert!(matches!(
        Checkpoint::new(ORIGIN, 1, entry(0), far),
        Err(CheckpointError::TimeOutOfRange(_))
    ));
    // Fields are public: signing re-checks them rather than emit an unparseable note.
    let mut sneaky = checkpoint();
    sneaky.origin = "two\nlines".into();
    assert!(matches!(
        sneaky.sign(&key(1)),
        Err(CheckpointError::BodyLines { found: 5 })
    ));
    let mut sneaky = checkpoint();
    sneaky.time += Duration::milliseconds(5);
    assert!(matches!(
        sneaky.sign(&key(1)),
        Err(CheckpointError::TimeOutOfRange(_))
    ));
    assert!(CheckpointKey::from_seed("has space", &[1; 32]).is_err());
    assert!(CheckpointKey::from_seed("has+plus", &[1; 32]).is_err());
    assert!(CheckpointKey::from_seed("", &[1; 32]).is_err());
}

#[test]
fn verifier_key_string_round_trips_and_is_checked() {
    let k = key(1);
    let vkey = k.verifier().to_string();
    let mut parts = vkey.split('+');
    assert_eq!(parts.next(), Some("rotaledger.example"));
    assert_eq!(parts.next(), Some(hex::encode(k.key_id()).as_str()));
    assert_eq!(parts.next().map(str::len), Some(44), "base64 of 33 bytes");
    let parsed: VerifierKey = vkey.parse().expect("parse");
    assert_eq!(parsed, k.verifier());
    assert_eq!(parsed.public_key(), k.verifier().public_key());

    let wrong_id = format!(
        "rotaledger.example+00000000+{}",
        vkey.rsplit('+').next().expect("key")
    );
    assert!(matches!(
        wrong_id.parse::<VerifierKey>(),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    let renamed = vkey.replacen("rotaledger.example", "other.example", 1);
    assert!(matches!(
        renamed.parse::<VerifierKey>(),
        Err(KeyError::KeyIdMismatch { .. })
    ));
    let id = hex::encode(k.key_id());
    let cases = [
        "",
        "name",
        "name+1234",
        "a+b+c+d",
        &format!("rotaledger.example+{id}+not base64"),
        &format!("rotaledger.example+{id}+AQ=="),
        &format!(
            "rotaledger.example+zzzzzzzz+{}",
            vkey.rsplit('+').next().expect("key")
        ),
    ];
    for bad in cases {
        assert!(bad.parse::<VerifierKey>().is_err(), "{bad:?}");
    }
    // The algorithm byte must be 0x01 (Ed25519).
    let mut bytes = vec![0x02u8];
    bytes.extend_from_slice(&k.verifier().public_key());
    use base64::Engine as _;
    let other_alg = format!(
        "rotaledger.example+{id}+{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    assert!(matches!(
        other_alg.parse::<VerifierKey>(),
        Err(KeyError::UnsupportedAlgorithm(2))
    ));
}

#[test]
fn keys_whose_base64_contains_plus_round_trip() {
    let mut with_plus = 0;
    for seed in 0..64u8 {
        let k = key(seed);
        let text = k.verifier().to_string();
        with_plus += usize::from(text.matches('+').count() > 2);
        let parsed: VerifierKey = text.parse().expect("parse");
        assert_eq!(parsed, k.verifier(), "{text}");
    }
    assert!(with_plus > 0, "the seeds exercise a '+' inside the base64");
}

#[test]
fn generated_keys_differ_and_sign() {
    let a = CheckpointKey::generate("rotaledger.example").expect("generate");
    let b = CheckpointKey::generate("rotaledger.example").expect("generate");
    assert_ne!(a.verifier(), b.verifier());
    let text = checkpoint().sign(&a).expect("sign").to_text();
    assert!(open(&text, &a.verifier()).is_ok());
    assert!(open(&text, &b.verifier()).is_err());
    assert!(
        !format!("{a:?}").contains(&hex::encode([1u8; 32])),
        "Debug hides the secret"
    );
}

#[cfg(unix)]
#[test]
fn key_file_is_owner_only_and_loose_permissions_are_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("checkpoint.key");
    let k = key(1);
    k.save(&path).expect("save");
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "saved with mode {mode:o}");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.starts_with("PRIVATE+KEY+rotaledger.example+"),
        "{text}"
    );
    let loaded = CheckpointKey::load(&path).expect("load");
    assert_eq!(loaded.verifier(), k.verifier());

    assert!(
        matches!(k.save(&path), Err(KeyError::AlreadyExists(_))),
        "never overwrites"
    );

    for loose in [0o640, 0o604, 0o660, 0o644, 0o700 | 0o007] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).expect("chmod");
        let err = CheckpointKey::load(&path).expect_err("loose permissions");
        assert!(
            matches!(err, KeyError::InsecurePermissions { .. }),
            "{loose:o}: {err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).expect("chmod");
    assert!(
        CheckpointKey::load(&path).is_ok(),
        "read-only for the owner is fine"
    );

    assert!(matches!(
        CheckpointKey::load(&dir.path().join("missing")),
        Err(KeyError::Io { .. })
    ));
    let tampered = dir.path().join("tampered.key");
    std::fs::write(
        &tampered,
        text.replacen("rotaledger.example", "other.example", 1),
    )
    .expect("write");
    std::fs::set_permissions(&tampered, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    assert!(matches!(
        CheckpointKey::load(&tampered),
        Err(KeyError::KeyIdMismatch { .. })
    ));
}

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
fn keys_whose_base64_holds_a_plus_round_trip() {
    // Standard base64 uses '+': about half of all keys have one in the verifier key or the
    // key file, so both must parse with it.
    let mut seen = (false, false);
    for seed in 0..=255u8 {
        let k = key(seed);
        let vkey = k.verifier().to_string();
        let b64 = vkey.splitn(3, '+').nth(2).expect("three fields");
        if b64.contains('+') {
            seen.0 = true;
            assert_eq!(vkey.parse::<VerifierKey>().expect(&vkey), k.verifier());
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("checkpoint.key");
        k.save(&path).expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        if text.matches('+').count() > 4 {
            seen.1 = true;
            assert_eq!(
                CheckpointKey::load(&path).expect(&text).verifier(),
                k.verifier()
            );
        }
    }
    assert_eq!(seen, (true, true), "some seed gives a '+' in each form");
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

/// The ways FORMAT.md §2.5 ("Base64") says a base64 field may not be spelled, applied to the
/// canonical text `b64`: `(what, text)`. Every variant decodes to the same bytes under some
/// lenient decoder, which is what makes each one a real question.
fn base64_variants(b64: &str) -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    use base64::alphabet;
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE};
    use base64::engine::{DecodePaddingMode, general_purpose::STANDARD};

    let bytes = STANDARD.decode(b64).expect("canonical input");
    let mut out = Vec::new();
    let unpadded = b64.trim_end_matches('=');
    if unpadded.len() != b64.len() {
        out.push(("padding left out", unpadded.to_owned()));
        // The unused low bits of the last character set: decodes to the same bytes when
        // trailing bits are allowed.
        let last = unpadded.chars().last().expect("non-empty");
        let value = alphabet::STANDARD
            .as_str()
            .find(last)
            .expect("standard character");
        let flipped = alphabet::STANDARD.as_str().as_bytes()[value ^ 1] as char;
        let sloppy = format!(
            "{}{flipped}{}",
            &unpadded[..unpadded.len() - 1],
            &b64[unpadded.len()..]
        );
        let lenient = GeneralPurpose::new(
            &alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        assert_eq!(lenient.decode(&sloppy).expect("lenient"), bytes);
        out.push(("non-zero trailing bits", sloppy));
    } else {
        out.push(("padding added", format!("{b64}=")));
    }
    let indifferent = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    assert_eq!(indifferent.decode(unpadded).expect("indifferent"), bytes);
    let url = URL_SAFE.encode(&bytes);
    assert_ne!(url, b64, "the test needs bytes whose base64 has '+' or '/'");
    out.push(("URL-safe alphabet", url));
    let mid = b64.len() / 2;
    out.push(("a space inside", format!("{} {}", &b64[..mid], &b64[mid..])));
    out.push(("a tab inside", format!("{}\t{}", &b64[..mid], &b64[mid..])));
    out.push(("a trailing space", format!("{b64} ")));
    out.push(("a trailing carriage return", format!("{b64}\r")));
    out
}

/// The signed text of the test checkpoint, cosigned first by a witness key.
fn cosigned() -> (SignedCheckpoint, CheckpointKey) {
    let mut signed = checkpoint().sign(&key(1)).expect("sign");
    // A seed whose signature's base64 holds '+' or '/', so the URL-safe variant differs.
    let witness = CheckpointKey::from_seed("witness.example", &[9; 32]).expect("key");
    signed.signatures.insert(
        0,
        checkpoint().sign(&witness).expect("cosign").signatures[0].clone(),
    );
    (signed, witness)
}

/// The base64 part of signature line `i` (0-based) of `text`.
fn signature_b64(text: &str, i: usize) -> String {
    let sigs = &text[text.rfind("\n\n").expect("separator") + 2..];
    let line = sigs.lines().nth(i).expect("line");
    line.rsplit(' ').next().expect("base64").to_owned()
}

#[test]
fn signature_base64_must_be_canonical_standard_base64_in_every_line() {
    let (signed, witness) = cosigned();
    let text = signed.to_text();
    assert_eq!(
        open(&text, &key(1).verifier()).expect("as signed"),
        checkpoint()
    );
    // Line 0 is the witness's (a key the verifier does not know), line 1 the log's own: a
    // malformed line rejects the whole checkpoint whichever key it names, as a note that
    // does not parse is rejected (C2SP signed-note; Go's note.Open does the same).
    for (line, whose) in [(0, "another key's"), (1, "the verifier's")] {
        let b64 = signature_b64(&text, line);
        for (what, bad) in base64_variants(&b64) {
            let tampered = text.replacen(&b64, &bad, 1);
            for verifier in [key(1).verifier(), witness.verifier()] {
                let err = open(&tampered, &verifier).expect_err(what);
                assert!(
                    matches!(err, CheckpointError::MalformedSignatureLine { line: l, .. } if l == line + 1),
                    "{whose} line with {what}: {err}"
                );
            }
        }
    }
}

#[test]
fn root_base64_must_be_canonical_standard_base64() {
    // A root whose base64 has '+' or '/', signed, then respelled: the body no longer parses.
    let root = (0..)
        .map(super::entry)
        .find(|r| {
            use base64::Engine as _;
            let b = base64::engine::general_purpose::STANDARD.encode(r);
            b.contains('+') || b.contains('/')
        })
        .expect("some root");
    let cp = Checkpoint::new(ORIGIN, 1234, root, time()).expect("checkpoint");
    let text = cp.sign(&key(1)).expect("sign").to_text();
    let b64 = text.lines().nth(2).expect("root line").to_owned();
    for (what, bad) in base64_variants(&b64) {
        let tampered = text.replacen(&b64, &bad, 1);
        let err = open(&tampered, &key(1).verifier()).expect_err(what);
        assert!(
            matches!(
                err,
                CheckpointError::InvalidRoot(_) | CheckpointError::ControlCharacter { line: 3 }
            ),
            "root with {what}: {err}"
        );
    }
}

#[test]
fn verifier_key_base64_must_be_canonical_standard_base64() {
    // Seeds until the key's base64 holds '+' or '/' (so the URL-safe spelling differs).
    let k = (0..=255u8)
        .map(key)
        .find(|k| {
            let v = k.verifier().to_string();
            let b64 = v.splitn(3, '+').nth(2).expect("three fields");
            b64.contains('+') || b64.contains('/')
        })
        .expect("some key");
    let vkey = k.verifier().to_string();
    let b64 = vkey.splitn(3, '+').nth(2).expect("three fields").to_owned();
    assert_eq!(b64.len(), 44, "33 bytes: no padding in canonical base64");
    for (what, bad) in base64_variants(&b64) {
        let text = format!("{}{bad}", &vkey[..vkey.len() - b64.len()]);
        let err = text
            .parse::<VerifierKey>()
            .expect_err(&format!("{what}: {text:?}"));
        assert!(
            matches!(err, KeyError::MalformedVerifierKey(_)),
            "key with {what}: {err}"
        );
    }
    // Only the one final newline a key file ends with is not part of the key.
    assert_eq!(
        format!("{vkey}\n").parse::<VerifierKey>().expect("newline"),
        k.verifier()
    );
}

#[test]
fn well_formed_lines_of_unknown_keys_are_ignored_whatever_they_carry() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let ours = key(1);
    let good = checkpoint().sign(&ours).expect("sign").to_text();
    let our_id = ours.key_id();
    let body_end = good.find("\n\n").expect("separator") + 2;
    // Unknown keys (C2SP signed-note: "even if they share a name or ID (but not both)"):
    // another name with our id, our name with another id, a signature of another length
    // or type, a 1-byte signature.
    let mut other_id = our_id;
    other_id[0] ^= 0xff;
    let lines = [
        format!(
            "\u{2014} witness.example {}",
            b64(&[&our_id[..], &[7; 64]].concat())
        ),
        format!(
            "\u{2014} rotaledger.example {}",
            b64(&[&other_id[..], &[7; 64]].concat())
        ),
        format!(
            "\u{2014} witness.example {}",
            b64(&[&[1, 2, 3, 4][..], &[0; 200]].concat())
        ),
        format!("\u{2014} 见证.example {}", b64(&[1, 2, 3, 4, 5])),
    ];
    for line in &lines {
        for before in [true, false] {
            let sigs = &good[body_end..];
            let text = if before {
                format!("{}{line}\n{sigs}", &good[..body_end])
            } else {
                format!("{good}{line}\n")
            };
            assert_eq!(
                open(&text, &ours.verifier()).expect(line),
                checkpoint(),
                "{line} (before ours: {before})"
            );
        }
    }
    // But a line too short to hold a key id and a signature is malformed, whoever's.
    let short = format!("{good}\u{2014} witness.example {}\n", b64(&[1, 2, 3, 4]));
    assert!(matches!(
        open(&short, &ours.verifier()),
        Err(CheckpointError::MalformedSignatureLine { line: 2, .. })
    ));
}

#[test]
fn the_first_line_of_the_verifiers_key_decides() {
    let ours = key(1);
    let signed = checkpoint().sign(&ours).expect("sign");
    let good_line = signed.signatures[0].clone();
    let mut bad_line = good_line.clone();
    bad_line.signature[0] ^= 1;
    // A failing signature by our key rejects the checkpoint even if a good one follows ...
    let mut bad_first = signed.clone();
    bad_first.signatures = vec![bad_line.clone(), good_line.clone()];
    assert!(matches!(
        open(&bad_first.to_text(), &ours.verifier()),
        Err(CheckpointError::BadSignature { .. })
    ));
    // ... and once the first has verified, repeats of the same key are not looked at.
    let mut good_first = signed.clone();
    good_first.signatures = vec![good_line, bad_line];
    assert_eq!(
        open(&good_first.to_text(), &ours.verifier()).expect("first decides"),
        checkpoint()
    );
}

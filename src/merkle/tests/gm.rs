//! The `gm` profile's checkpoint keys (SM2 with SM3 and the standard distinguishing ID)
//! against an independent implementation, both ways: signatures made by the `openssl`
//! command verify here (and fail under another ID), and a checkpoint signed here verifies
//! with `openssl pkeyutl`; plus the worked example of docs/FORMAT.md §3.4.

use std::str::FromStr as _;

use base64::Engine as _;

use super::{entry_with, hx};
use crate::crypto::{Profile, SM2_DISTID};
use crate::merkle::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::merkle::hasher::TreeHasher;
use crate::merkle::key::{ALG_SM2, CheckpointKey, VerifierKey, sm2_key_id};
use crate::merkle::tree::{MemoryNodes, root};

/// SM2 signatures made by OpenSSL 3 (`openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt
/// distid:ID`), with how they were made (tests/data/gm/).
const VECTORS: &str = include_str!("../../../tests/data/gm/sm2-openssl-vectors.json");

/// `r || s` of a DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn der_to_rs(der: &[u8]) -> [u8; 64] {
    assert_eq!(der[0], 0x30);
    let mut at = 2;
    let mut out = [0u8; 64];
    for half in 0..2 {
        assert_eq!(der[at], 0x02);
        let len = usize::from(der[at + 1]);
        let int = &der[at + 2..at + 2 + len];
        let int = &int[int.len().saturating_sub(32)..];
        out[half * 32 + 32 - int.len()..half * 32 + 32].copy_from_slice(int);
        at += 2 + len;
    }
    out
}

/// DER of `r || s`.
fn rs_to_der(rs: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for int in [&rs[..32], &rs[32..]] {
        let int: Vec<u8> = int.iter().copied().skip_while(|&b| b == 0).collect();
        let pad = int.first().is_some_and(|&b| b >= 0x80);
        body.push(0x02);
        body.push((int.len() + usize::from(pad)) as u8);
        if pad {
            body.push(0);
        }
        body.extend_from_slice(&int);
    }
    let mut der = vec![0x30, body.len() as u8];
    der.extend_from_slice(&body);
    der
}

fn verifier_of(public: &[u8]) -> VerifierKey {
    let name = "openssl.example";
    let mut bytes = vec![ALG_SM2];
    bytes.extend_from_slice(public);
    let text = format!(
        "{name}+{}+{}",
        hex::encode(sm2_key_id(name, public)),
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    VerifierKey::from_str(&text).expect("an SM2 verifier key")
}

#[test]
fn openssl_sm2_signatures_verify_only_under_the_standard_id() {
    let doc: serde_json::Value = serde_json::from_str(VECTORS).expect("vectors");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 10);
    let (mut good, mut other_id) = (0, 0);
    for v in vectors {
        let public = hex::decode(v["public_key"].as_str().unwrap()).unwrap();
        let message = hex::decode(v["message"].as_str().unwrap()).unwrap();
        let sig = der_to_rs(&hex::decode(v["signature_der"].as_str().unwrap()).unwrap());
        let key = verifier_of(&public);
        assert_eq!(key.profile(), Profile::Gm);
        let expected = v["valid_with_id_1234567812345678"].as_bool().unwrap();
        assert_eq!(
            key.verify_bytes(&message, &sig),
            expected,
            "{} (ID {})",
            v["key"],
            v["distid"]
        );
        if expected {
            good += 1;
            let mut bent = sig;
            bent[40] ^= 1;
            assert!(!key.verify_bytes(&message, &bent));
            assert!(!key.verify_bytes(b"another message", &sig));
        } else {
            other_id += 1;
        }
    }
    assert!(
        good >= 5 && other_id >= 1,
        "{good} good, {other_id} under another ID"
    );
}

/// The gm worked example: SM3 stand-ins for three entry hashes, their tree, and a checkpoint
/// signed by an SM2 key whose secret is `SM3("rotaledger example key")`.
fn gm_example() -> (CheckpointKey, [[u8; 32]; 3], [u8; 32], String) {
    let g = Profile::Gm;
    let entries = [0, 1, 2].map(|i| entry_with(&g, i));
    let (nodes, _) = MemoryNodes::from_entries(g, &entries).expect("tree");
    let root3 = root(&g, 3, &nodes).expect("root");
    let key =
        CheckpointKey::from_sm2_secret("rotaledger.example/gm", &g.hash(b"rotaledger example key"))
            .expect("key");
    let time = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
        .expect("time")
        .to_utc();
    let text = Checkpoint::new("rotaledger.example/district-7/gm", 3, root3, time)
        .expect("checkpoint")
        .sign(&key)
        .expect("sign")
        .to_text();
    (key, entries, root3, text)
}

#[test]
fn a_gm_checkpoint_verifies_here_and_with_openssl() {
    let (key, entries, root3, text) = gm_example();
    let g = Profile::Gm;
    println!("gm entries: {:?}", entries.map(|e| hx(&e)));
    println!("gm leaves: {:?}", entries.map(|e| hx(&g.hash_leaf(&e))));
    println!(
        "gm root: {}\nverifier key: {}\n{text}",
        hx(&root3),
        key.verifier()
    );
    let signed = SignedCheckpoint::parse(&text).expect("parses");
    let cp = signed.verify(&key.verifier()).expect("verifies").clone();
    assert_eq!((cp.size, cp.root), (3, root3));
    // Deterministic (RFC 6979-style nonces): the same text every time.
    assert_eq!(gm_example().3, text);
    // The key text round-trips, and an Ed25519 key of the same name does not verify it.
    let again = VerifierKey::from_str(&key.verifier().to_string()).expect("key text");
    assert_eq!(again, key.verifier());
    let ed = CheckpointKey::from_seed(key.name(), &[3; 32]).expect("ed25519");
    assert!(signed.verify(&ed.verifier()).is_err());

    // The document shows them (§3.4).
    let format: &str = include_str!("../../../docs/FORMAT.md");
    for block in [
        format!("```\n{}\n```", key.verifier()),
        format!("```\n{text}```"),
        format!("| gm root (size 3) | `{}` |", hx(&root3)),
    ] {
        assert!(
            format.contains(&block),
            "docs/FORMAT.md §3.4 does not show what the code computes; it should read:\n\n{block}"
        );
    }

    // OpenSSL, an independent SM2, verifies the signature over the note body.
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not found: the cross-check with OpenSSL is skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let body_end = text.find("\n\n").expect("blank line") + 1;
    let line = text[body_end + 1..].trim_end();
    let b64 = line.rsplit(' ').next().expect("signature");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(sig.len(), 68);
    // SubjectPublicKeyInfo of an SM2 key: id-ecPublicKey with the SM2 curve 1.2.156.10197.1.301.
    let mut spki = hex::decode("3059301306072a8648ce3d020106082a811ccf5501822d034200").unwrap();
    spki.extend_from_slice(&key.verifier().public_key());
    let (msg, sigf, pubf) = (
        dir.path().join("msg"),
        dir.path().join("sig"),
        dir.path().join("pub.der"),
    );
    std::fs::write(&msg, &text[..body_end]).unwrap();
    std::fs::write(&sigf, rs_to_der(&sig[4..])).unwrap();
    std::fs::write(&pubf, &spki).unwrap();
    let verify = |id: &str| {
        let out = std::process::Command::new("openssl")
            .args([
                "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-keyform", "DER",
            ])
            .arg("-inkey")
            .arg(&pubf)
            .args(["-pkeyopt", &format!("distid:{id}")])
            .arg("-sigfile")
            .arg(&sigf)
            .arg("-in")
            .arg(&msg)
            .output()
            .expect("openssl runs");
        String::from_utf8_lossy(&out.stdout).contains("Signature Verified Successfully")
    };
    assert!(
        verify(SM2_DISTID),
        "OpenSSL does not verify the gm checkpoint"
    );
    assert!(
        !verify("ALICE123@YAHOO.COM"),
        "OpenSSL verifies it under another ID"
    );
}

/// GB/T 32918.1's range for an SM2 secret is [1, n-2]: 0, n-1, n and above are refused with a
/// typed error, n-2 and 1 make keys that sign.
#[test]
fn sm2_secrets_outside_the_standard_range_are_refused() {
    let n =
        hex::decode("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123").unwrap();
    let minus = |k: u8| {
        let mut b: [u8; 32] = n.clone().try_into().unwrap();
        b[31] -= k;
        b
    };
    for bad in [[0u8; 32], minus(1), minus(0), [0xff; 32]] {
        assert!(
            matches!(
                CheckpointKey::from_sm2_secret("x", &bad),
                Err(crate::merkle::KeyError::InvalidSecretKey("SM2"))
            ),
            "{}",
            hex::encode(bad)
        );
    }
    let mut one = [0u8; 32];
    one[31] = 1;
    for good in [one, minus(2)] {
        let k = CheckpointKey::from_sm2_secret("x", &good).expect("a key");
        let sig = k.sign_bytes(b"m").expect("signs");
        assert!(k.verifier().verify_bytes(b"m", &sig));
    }
}

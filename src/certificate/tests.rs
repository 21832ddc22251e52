//! Certificates built over an in-memory log of two teachers: a good one verifies, and every
//! single-byte change and every named mutation is refused with its reason.

use super::*;
use crate::log::GENESIS_HASH;
use crate::merkle::{Checkpoint, MemoryNodes, inclusion_proof, root};

/// The profile of these tests' log (the gm profile's certificates: tests/certificate.rs).
const P: crate::crypto::Profile = crate::crypto::Profile::Blake3;

const ORIGIN: &str = "rotaledger.example/test";

/// Entry bodies of a small log: teacher T1 and T2 interleaved, each with its chain link.
fn bodies() -> Vec<(Option<&'static str>, String)> {
    let payloads: Vec<(Option<&str>, String)> = vec![
        (None, r#"{"type":"school_registered","version":1,"school":"S1"}"#.into()),
        (Some("T1"), r#"{"type":"teacher_registered","version":1,"teacher":"T1"}"#.into()),
        (Some("T2"), r#"{"type":"teacher_registered","version":1,"teacher":"T2"}"#.into()),
        (
            Some("T1"),
            r#"{"type":"teacher_dispatched","version":1,"dispatch":"D1","teacher":"T1","from_school":"S1","to_school":"S2","start_date":"2021-09-01","kind":"rotation"}"#.into(),
        ),
        (
            Some("T2"),
            r#"{"type":"teacher_dispatched","version":1,"dispatch":"D2","teacher":"T2","from_school":"S1","to_school":"S2","start_date":"2021-09-01","kind":"rotation"}"#.into(),
        ),
        (
            Some("T1"),
            r#"{"type":"teacher_evaluated","version":1,"dispatch":"D1","school":"S2","school_year":2021,"grade":"good"}"#.into(),
        ),
        (
            Some("T1"),
            r#"{"type":"teacher_returned","version":1,"dispatch":"D1","end_date":"2024-09-01","reason":"term_completed"}"#.into(),
        ),
    ];
    payloads
}

/// A log of the bodies, with teacher_prev links, and its hashes.
struct Log {
    entries: Vec<(u64, Digest, Digest, String, Option<&'static str>)>,
    nodes: MemoryNodes,
}

fn log() -> Log {
    let mut entries = Vec::new();
    let mut prev = GENESIS_HASH;
    let mut last: std::collections::HashMap<&str, (u64, Digest)> = Default::default();
    for (seq, (teacher, payload)) in bodies().into_iter().enumerate() {
        let seq = seq as u64;
        let payload = match teacher {
            None => payload,
            Some(t) => {
                let link = match last.get(t) {
                    None => "null".to_owned(),
                    Some((s, h)) => format!(r#"{{"seq":{s},"hash":"{}"}}"#, hex::encode(h)),
                };
                format!(
                    "{},\"teacher_prev\":{link}}}",
                    &payload[..payload.len() - 1]
                )
            }
        };
        let body = format!(
            r#"{{"seq":{seq},"recorded_at":"2024-09-01T00:00:00.000000Z","actor":"hr","request_id":"r{seq}","payload":{payload}}}"#
        );
        let hash = entry_hash(P, seq, &prev, body.as_bytes());
        if let Some(t) = teacher {
            last.insert(t, (seq, hash));
        }
        entries.push((seq, prev, hash, body, teacher));
        prev = hash;
    }
    let hashes: Vec<Digest> = entries.iter().map(|e| e.2).collect();
    let (nodes, _) = MemoryNodes::from_entries(P, &hashes).expect("tree");
    Log { entries, nodes }
}

fn key() -> CheckpointKey {
    CheckpointKey::from_seed(ORIGIN, &[7; 32]).expect("key")
}

/// A certificate of `teacher` over the first `size` entries, signed by `k`.
fn make(l: &Log, teacher: &str, size: u64, k: &CheckpointKey) -> Certificate {
    let r = root(&P, size, &l.nodes).expect("root");
    let cp = Checkpoint::new(ORIGIN, size, r, chrono::Utc::now())
        .expect("checkpoint")
        .sign(k)
        .expect("sign");
    let mine: Vec<_> = l
        .entries
        .iter()
        .filter(|e| e.0 < size && e.4 == Some(teacher))
        .collect();
    let entries = mine
        .iter()
        .map(|(seq, prev, hash, body, _)| CertEntry {
            seq: *seq,
            prev_hash: hex::encode(prev),
            hash: hex::encode(hash),
            body: body.clone(),
            proof: inclusion_proof(&P, *seq, size, &l.nodes)
                .expect("proof")
                .iter()
                .map(hex::encode)
                .collect(),
        })
        .collect();
    let last = mine.last().expect("entries");
    let summary = r#"{"dispatches":[{"dispatch":"D1","from_school":"S1","to_school":"S2","kind":"rotation","start_date":"2021-09-01","min_end":"2024-09-01","end":"2024-09-01","status":"completed","days_served":1096}],"credits":{"rotation":{"met":true}}}"#;
    let summary = if teacher == "T1" { summary } else { "null" };
    let statement = Statement {
        format: STATEMENT_FORMAT.into(),
        version: CERTIFICATE_VERSION,
        origin: ORIGIN.into(),
        size,
        root: hex::encode(r),
        teacher: teacher.into(),
        as_of: "2025-01-01".into(),
        entries: mine.len() as u64,
        head: Head {
            seq: last.0,
            hash: hex::encode(last.2),
        },
        schools: [("S1".to_owned(), "一小".to_owned())].into(),
        summary: RawValue::from_string(summary.into()).expect("raw"),
    };
    Certificate::sign(k, &cp, &statement, entries).expect("certificate")
}

fn check(c: &Certificate) -> Result<Verified, Refusal> {
    verify(c.to_json().expect("json").as_bytes(), &key().verifier())
}

fn refused(c: &Certificate, code: &str) {
    match check(c) {
        Ok(_) => panic!("a certificate mutated for {code} verified"),
        Err(e) => assert_eq!(e.code(), code, "{e}"),
    }
}

#[test]
fn a_certificate_verifies_and_says_what_it_holds() {
    let l = log();
    let v = check(&make(&l, "T1", 7, &key())).expect("verifies");
    assert_eq!(
        v.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 3, 5, 6]
    );
    assert_eq!(v.checkpoint.size, 7);
    assert_eq!(v.summary.dispatches[0].dispatch, "D1");
    let zh = text::render(&v, Lang::Zh);
    assert!(
        zh.contains("交流轮岗证明") && zh.contains("S1 一小") && zh.contains("期满返回"),
        "{zh}"
    );
    let en = text::render(&v, Lang::En);
    assert!(
        en.contains("Rotation credit") && en.contains(": met"),
        "{en}"
    );
    // A smaller checkpoint: only the entries up to it.
    let v = check(&make(&l, "T1", 4, &key())).expect("verifies");
    assert_eq!(v.entries.len(), 2);
    assert!(check(&make(&l, "T2", 7, &key())).is_ok());
}

use crate::http::console::messages::Lang;

#[test]
fn every_single_byte_change_is_refused() {
    let text = make(&log(), "T1", 7, &key()).to_json().expect("json");
    let k = key().verifier();
    let bytes = text.as_bytes();
    for i in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b[i] ^= 0x01;
        assert!(
            verify(&b, &k).is_err(),
            "a change of byte {i} ({:?}) went unnoticed",
            &text[i.saturating_sub(20)..(i + 20).min(text.len())]
        );
    }
}

#[test]
fn each_mutation_is_refused_with_its_reason() {
    let l = log();
    let good = make(&l, "T1", 7, &key());

    // A byte of an entry changed (the JSON still well-formed): its hash.
    let mut c = good.clone();
    c.entries[1].body = c.entries[1].body.replace("2021-09-01", "2020-09-01");
    refused(&c, "entry-hash");
    // ...and with the hash recomputed too: the proof.
    let seq = c.entries[1].seq;
    let prev = hex32(&c.entries[1].prev_hash).expect("hex");
    c.entries[1].hash = hex::encode(entry_hash(P, seq, &prev, c.entries[1].body.as_bytes()));
    refused(&c, "inclusion");

    // An entry removed: from the middle the chain breaks, at the end the head is missing.
    let mut c = good.clone();
    c.entries.remove(1);
    refused(&c, "chain");
    let mut c = good.clone();
    c.entries.pop();
    refused(&c, "head");
    let mut c = good.clone();
    c.entries.remove(0);
    refused(&c, "chain");

    // Another teacher's entry added (with its good proof).
    let other = make(&l, "T2", 7, &key());
    let mut c = good.clone();
    c.entries.insert(2, other.entries[1].clone());
    refused(&c, "foreign-entry");

    // Proofs against another checkpoint (size 6).
    let older = make(&l, "T1", 6, &key());
    let mut c = good.clone();
    c.entries[0].proof = older.entries[0].proof.clone();
    refused(&c, "inclusion");
    // The checkpoint swapped for another one: the statement names a different one.
    let mut c = good.clone();
    c.checkpoint = older.checkpoint.clone();
    refused(&c, "other-checkpoint");

    // Signed by another key of the same name.
    let other_key = CheckpointKey::from_seed(ORIGIN, &[8; 32]).expect("key");
    refused(&make(&l, "T1", 7, &other_key), "checkpoint-signature");
    let mut c = good.clone();
    c.signature = make(&l, "T1", 7, &other_key).signature;
    refused(&c, "statement-signature");

    // The statement altered.
    let mut c = good.clone();
    c.statement = c.statement.replace("\"met\":true", "\"met\":false");
    refused(&c, "statement-signature");

    // Out of order, or repeated.
    let mut c = good.clone();
    c.entries.swap(0, 1);
    refused(&c, "chain");
    let mut c = good.clone();
    let twice = c.entries[1].clone();
    c.entries.insert(1, twice);
    refused(&c, "entry-order");
}

#[test]
fn a_statement_signature_is_not_a_checkpoint_signature() {
    // The prefix holds a zero byte, which no checkpoint body may hold.
    assert!(STATEMENT_PREFIX.ends_with(b"\0"));
    let body = String::from_utf8_lossy(STATEMENT_PREFIX).into_owned();
    assert!(Checkpoint::parse_body(&format!("{body}\n")).is_err());
}

#[test]
fn a_later_checkpoint_is_checked_for_consistency() {
    let l = log();
    let v = check(&make(&l, "T1", 4, &key())).expect("verifies");
    let r7 = root(&P, 7, &l.nodes).expect("root");
    let newer = Checkpoint::new(ORIGIN, 7, r7, chrono::Utc::now())
        .expect("cp")
        .sign(&key())
        .expect("sign");
    let proof = ConsistencyProof {
        profile: P,
        old_size: 4,
        new_size: 7,
        proof: crate::merkle::consistency_proof(&P, 4, 7, &l.nodes).expect("proof"),
    };
    assert!(verify_later(&v, &newer, &proof, &key().verifier()).is_ok());
    let forked = Checkpoint::new(ORIGIN, 7, [1; 32], chrono::Utc::now())
        .expect("cp")
        .sign(&key())
        .expect("sign");
    let e = verify_later(&v, &forked, &proof, &key().verifier()).unwrap_err();
    assert_eq!(e.code(), "consistency");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Any byte replaced, or the file cut short: verification never panics, and a file that
    /// still verifies proves exactly what the original did (only JSON whitespace changed).
    #[test]
    fn mutated_certificates_never_panic_nor_prove_anything_else(
        pos in proptest::prelude::any::<proptest::sample::Index>(),
        byte in proptest::prelude::any::<u8>(),
        cut in proptest::prelude::any::<bool>(),
    ) {
        let text = make(&log(), "T1", 7, &key()).to_json().expect("json");
        let original = verify(text.as_bytes(), &key().verifier()).expect("verifies").hash;
        let mut b = text.into_bytes();
        let i = pos.index(b.len());
        if cut {
            b.truncate(i);
        } else {
            b[i] = byte;
        }
        if let Ok(v) = verify(&b, &key().verifier()) {
            let _ = text::render(&v, Lang::Zh);
            proptest::prop_assert_eq!(v.hash, original);
        }
    }
}

//! The worked example of `docs/FORMAT.md` part 1, built through the real store and export, so
//! the document (and `docs/examples/example-export.jsonl`) cannot drift from the code.
//! Run `cargo test --lib log::example -- --nocapture` to print it.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::entry::{ENTRY_HASH_DOMAIN, Entry, GENESIS_HASH, encode_body, entry_hash};
use super::export::{export_store, verify_export};
use super::store::{Head, RequestRecord, Store, entry_key, node_key, request_key};
use super::{PassThrough, Writer, fingerprint};
use crate::merkle::{Blake3, CompactRange, TreeHasher};

/// The example export, as committed in the repository.
const EXPORT: &str = include_str!("../../docs/examples/example-export.jsonl");

/// `(actor, request_id, recorded_at, payloads)` of the example's two appends.
const APPENDS: [(&str, &str, &str, &[&str]); 2] = [
    (
        "hr-office",
        "req-0001",
        "2026-11-26T09:30:00.000000Z",
        &[
            r#"{"type":"TeacherRegistered","v":1,"teacher":"T-0001","name":"王芳"}"#,
            r#"{"type":"RotationPlanned","v":1,"teacher":"T-0001","to_school":"S-17"}"#,
        ],
    ),
    (
        "principal-17",
        "req-0002",
        "2026-11-26T09:30:00.250000Z",
        &[r#"{"type":"Note","v":1,"text":"交流 \"3年\"\n"}"#],
    ),
];

/// The expected body bytes, entry by entry, exactly as printed in the document.
const BODIES: [&str; 3] = [
    r#"{"seq":0,"recorded_at":"2026-11-26T09:30:00.000000Z","actor":"hr-office","request_id":"req-0001","payload":{"type":"TeacherRegistered","v":1,"teacher":"T-0001","name":"王芳"}}"#,
    r#"{"seq":1,"recorded_at":"2026-11-26T09:30:00.000000Z","actor":"hr-office","request_id":"req-0001","payload":{"type":"RotationPlanned","v":1,"teacher":"T-0001","to_school":"S-17"}}"#,
    r#"{"seq":2,"recorded_at":"2026-11-26T09:30:00.250000Z","actor":"principal-17","request_id":"req-0002","payload":{"type":"Note","v":1,"text":"交流 \"3年\"\n"}}"#,
];

/// The expected entry hashes, as printed in the document.
const HASHES: [&str; 3] = [
    "99ae820a3443a454fdf0e04833f269c94a498f0a9ef02f684bc5fd3b49bb8ed8",
    "9d3b5245f925b8117660da2063d4f2fcfc8e58f909a520879c611d024471a89d",
    "21cf6dfc4f0b09503c66b01c358df8f27a73ee5b129a3ae51ccae03a1ffa3c77",
];

/// The hashed bytes of entry 2 before its body: tag, seq, prev_hash, body length.
const PREFIX_2: &str = "726f74616c65646765722e656e7472792e763100\
                        0000000000000002\
                        9d3b5245f925b8117660da2063d4f2fcfc8e58f909a520879c611d024471a89d\
                        000000000000009f";

/// The leaf hashes `H(0x00 || entry hash)` and node (1, 0) of the Merkle tree.
const LEAVES: [&str; 3] = [
    "8517bbb6b91924fbe9f7fbdb893621e8af67860c1eee703dddb9f219ee6ee79c",
    "4dd629a9d76eb1d9fbf049d6c449ac4db05f8fa42393eea34d4b5369d81c0f98",
    "ab8e33f9598f8116321588e23bdf33d60f2a01469cbe80a619b6ff08c733108c",
];
const NODE_1_0: &str = "9f66dda9eb00efb0af21163aba81a8a0efe12e21de112431b7bb38df43e657bb";

/// The expected Merkle root over the three entry hashes.
const ROOT: &str = "4fbe6f84ad74f870f264ddd0d10f9e1a27e8ec69f9ffe92bdc3897df7f416312";

#[test]
fn worked_example_of_the_format_document() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());

    // Build the two commits exactly as the writer does (same functions, same batch contents),
    // with fixed recorded times so the bytes are reproducible.
    let mut head = Head::empty();
    let mut tree = CompactRange::new(Blake3);
    let mut entries = Vec::new();
    for (actor, request_id, recorded_at, payloads) in APPENDS {
        let mut batch = sled::Batch::default();
        let first_seq = head.size;
        let raw: Vec<Box<RawValue>> = payloads
            .iter()
            .map(|p| RawValue::from_string((*p).to_owned()).unwrap())
            .collect();
        for p in &raw {
            let seq = head.size;
            let body = encode_body(seq, recorded_at, actor, request_id, p);
            let e = Entry::seal(seq, head.hash, body);
            batch.insert(&entry_key(seq)[..], e.to_stored());
            for n in tree.append(&e.hash).unwrap() {
                batch.insert(&node_key(n.level, n.index)[..], &n.hash[..]);
            }
            head = Head {
                size: seq + 1,
                hash: e.hash,
                root: tree.root(),
            };
            entries.push(e);
        }
        let rec = RequestRecord {
            first_seq,
            count: raw.len() as u32,
            fingerprint: fingerprint(raw.iter().map(|r| r.get().as_bytes())),
        };
        batch.insert(request_key(actor, request_id), &rec.to_bytes()[..]);
        store.commit(batch, head).unwrap();
    }

    for e in &entries {
        println!("entry {}:", e.seq);
        println!(
            "  body ({} bytes): {}",
            e.body.len(),
            String::from_utf8_lossy(&e.body)
        );
        println!("  prev_hash: {}", hex::encode(e.prev_hash));
        println!("  hash:      {}", hex::encode(e.hash));
        println!(
            "  hashed prefix: {} {} {} {}",
            hex::encode(ENTRY_HASH_DOMAIN),
            hex::encode(e.seq.to_be_bytes()),
            hex::encode(e.prev_hash),
            hex::encode((e.body.len() as u64).to_be_bytes())
        );
        println!("  stored value: {} bytes", e.to_stored().len());
    }
    println!("root: {}", hex::encode(head.root));
    let rid = request_key("hr-office", "req-0001");
    let rec = store.request(&rid).unwrap().unwrap();
    println!(
        "request key {} -> {}",
        hex::encode(&rid),
        hex::encode(rec.to_bytes())
    );

    assert_eq!(hex::encode(&rid), "7268722d6f6666696365007265712d30303031");
    assert_eq!(
        hex::encode(rec.to_bytes()),
        "000000000000000000000002\
         7e068b38648d798c8743cd8fc7e348a9bd7c5967ba742fd677535236e418dec0"
    );

    let mut out = Vec::new();
    export_store(&store, store.check_head().unwrap(), &mut out, &mut |_| {}).unwrap();
    let text = String::from_utf8(out).unwrap();
    print!("{text}");

    // The document's values: if one of these fails, docs/FORMAT.md is wrong.
    for (e, body) in entries.iter().zip(BODIES) {
        assert_eq!(
            String::from_utf8(e.body.clone()).unwrap(),
            body,
            "entry {}",
            e.seq
        );
    }
    let hashes: Vec<String> = entries.iter().map(|e| hex::encode(e.hash)).collect();
    assert_eq!(hashes, HASHES);
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    assert_eq!(
        entries[2].hash,
        entry_hash(2, &entries[1].hash, BODIES[2].as_bytes())
    );
    let mut prefix = ENTRY_HASH_DOMAIN.to_vec();
    prefix.extend_from_slice(&2u64.to_be_bytes());
    prefix.extend_from_slice(&entries[1].hash);
    prefix.extend_from_slice(&(BODIES[2].len() as u64).to_be_bytes());
    assert_eq!(hex::encode(&prefix), PREFIX_2.replace(' ', ""));
    let mut preimage = prefix;
    preimage.extend_from_slice(BODIES[2].as_bytes());
    assert_eq!(hex::encode(blake3::hash(&preimage).as_bytes()), HASHES[2]);
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| Blake3.hash_leaf(&e.hash)).collect();
    assert_eq!(leaves.iter().map(hex::encode).collect::<Vec<_>>(), LEAVES);
    let node = Blake3.hash_children(&leaves[0], &leaves[1]);
    assert_eq!(hex::encode(node), NODE_1_0);
    assert_eq!(hex::encode(Blake3.hash_children(&node, &leaves[2])), ROOT);
    assert_eq!(hex::encode(head.root), ROOT);
    assert_eq!(text, EXPORT, "docs/examples/example-export.jsonl is stale");

    // And the committed example file verifies, through the same reader the CLI uses.
    let v = verify_export(&mut EXPORT.as_bytes(), &mut |_| {}, &mut |_| {})
        .unwrap()
        .unwrap();
    assert_eq!(v.head, head);

    // The writer produces this layout: the same actor, request id and payloads through the
    // real writer give bodies that differ from the example only in `recorded_at`.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Arc::new(Store::open(dir2.path()).unwrap());
    let w = Writer::start(s2.clone(), Head::empty(), PassThrough).unwrap();
    let (actor, request_id, recorded_at, payloads) = APPENDS[0];
    let raw: Vec<Box<RawValue>> = payloads
        .iter()
        .map(|p| RawValue::from_string((*p).to_owned()).unwrap())
        .collect();
    let req = super::AppendRequest {
        actor: actor.into(),
        request_id: request_id.into(),
        fingerprint: fingerprint(raw.iter().map(|r| r.get().as_bytes())),
        expected_size: None,
        input: raw,
    };
    w.append_blocking(req).unwrap();
    w.shutdown();
    for (seq, body) in BODIES.iter().enumerate().take(2) {
        let got = s2.entry(seq as u64).unwrap().unwrap();
        let got = String::from_utf8(got.body).unwrap();
        let t = got.split("\"recorded_at\":\"").nth(1).unwrap()[..27].to_owned();
        assert_eq!(got.replace(&t, recorded_at), *body);
    }
}

//! The worked example of `docs/FORMAT.md` part 1, built through the real store and export, so
//! the document (and `docs/examples/example-export.jsonl`) cannot drift from the code: every
//! computed value must also stand in the document's text (§1.10).
//! Run `cargo test --lib log::example -- --nocapture` to print it.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::entry::{ENTRY_HASH_DOMAIN, Entry, GENESIS_HASH, encode_body, entry_hash};
use super::export::{export_store, verify_export};
use super::store::{Head, RequestRecord, Store, entry_key, request_key, stage_nodes};
use super::{PassThrough, Writer, fingerprint};
use crate::crypto::Profile;
use crate::merkle::{Blake3, CompactRange, TreeHasher};

/// The example export, as committed in the repository.
const EXPORT: &str = include_str!("../../docs/examples/example-export.jsonl");

/// `docs/FORMAT.md`, which must show the values computed here.
const FORMAT: &str = include_str!("../../docs/FORMAT.md");

/// The `teacher_prev` link a stored payload carries (EVENTS.md, "Per-teacher history chain").
#[derive(Clone, Copy)]
enum Link {
    /// Not an entry about a teacher: no link.
    None,
    /// The first entry about its teacher: `"teacher_prev":null`.
    First,
    /// The latest earlier entry about the same teacher is entry `seq`.
    Prev(u64),
}

/// `(actor, request_id, recorded_at, events)` of one append: each event in canonical form
/// with its link.
type Append = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, Link)],
);

/// `(actor, request_id, recorded_at, events)` of the example's two appends: each event in
/// its canonical form (EVENTS.md) with the link the ledger adds when it stores it. The
/// ledger writes these bytes from the events as HR systems send them: the integration test
/// `format_doc` appends them to a real server and compares.
const APPENDS: [Append; 2] = [
    (
        "hr-office",
        "req-0001",
        "2026-11-26T09:30:00.000000Z",
        &[
            (
                r#"{"type":"school_registered","version":1,"school":"S001","name":"闵行区\"实验\"小学","stage":"primary","standing":"strong","rural":false,"date":"2024-09-01"}"#,
                Link::None,
            ),
            (
                r#"{"type":"teacher_registered","version":1,"teacher":"T20150123","name":"王芳","school":"S001","subject":"mathematics","title":"intermediate","key_level":"district","employed_date":"2015-09-01","date":"2024-09-01"}"#,
                Link::First,
            ),
        ],
    ),
    (
        "hr-office",
        "req-0002",
        "2026-11-26T09:30:00.250000Z",
        &[(
            r#"{"type":"teacher_profile_updated","version":1,"teacher":"T20150123","key_level":"city","date":"2025-03-01"}"#,
            Link::Prev(1),
        )],
    ),
];

/// The stored payload: the canonical event with its link, exactly as EVENTS.md builds it
/// (the final `}` replaced by the link and a `}`).
fn stored_payload(canonical: &str, link: Link, entries: &[Entry]) -> String {
    let open = &canonical[..canonical.len() - 1];
    match link {
        Link::None => canonical.to_owned(),
        Link::First => format!("{open},\"teacher_prev\":null}}"),
        Link::Prev(seq) => format!(
            "{open},\"teacher_prev\":{{\"seq\":{seq},\"hash\":\"{}\"}}}}",
            hex::encode(entries[seq as usize].hash)
        ),
    }
}

/// The expected body bytes, entry by entry, exactly as printed in the document.
const BODIES: [&str; 3] = [
    r#"{"seq":0,"recorded_at":"2026-11-26T09:30:00.000000Z","actor":"hr-office","request_id":"req-0001","payload":{"type":"school_registered","version":1,"school":"S001","name":"闵行区\"实验\"小学","stage":"primary","standing":"strong","rural":false,"date":"2024-09-01"}}"#,
    r#"{"seq":1,"recorded_at":"2026-11-26T09:30:00.000000Z","actor":"hr-office","request_id":"req-0001","payload":{"type":"teacher_registered","version":1,"teacher":"T20150123","name":"王芳","school":"S001","subject":"mathematics","title":"intermediate","key_level":"district","employed_date":"2015-09-01","date":"2024-09-01","teacher_prev":null}}"#,
    r#"{"seq":2,"recorded_at":"2026-11-26T09:30:00.250000Z","actor":"hr-office","request_id":"req-0002","payload":{"type":"teacher_profile_updated","version":1,"teacher":"T20150123","key_level":"city","date":"2025-03-01","teacher_prev":{"seq":1,"hash":"bc10191f0cfdbc1d463e167659777ef26a9dd8dce1780c4df50d5b8fae37d1a2"}}}"#,
];

/// The expected entry hashes, as printed in the document.
const HASHES: [&str; 3] = [
    "d51f92606ad495977a743116a6dc733daac0757f7663acab5296e4f02e08df3e",
    "bc10191f0cfdbc1d463e167659777ef26a9dd8dce1780c4df50d5b8fae37d1a2",
    "e1007ef6dcd3247bf8eb0432da26bb0eb5143d4ffeb0652e58595a2af185b4e8",
];

/// The hashed bytes of entry 2 before its body: tag, seq, prev_hash, body length.
const PREFIX_2: &str = "726f74616c65646765722e656e7472792e763100\
                        0000000000000002\
                        bc10191f0cfdbc1d463e167659777ef26a9dd8dce1780c4df50d5b8fae37d1a2\
                        000000000000013a";

/// The leaf hashes `H(0x00 || entry hash)` and node (1, 0) of the Merkle tree.
const LEAVES: [&str; 3] = [
    "cd667028b33db3036fedf8625bd7f6eae23fdd126e14889727b8eccc2960eb99",
    "b77f45c9649b180f5fd1c463154ae2854e081b7fdc9f6ea4980dccb4f2ae56b8",
    "b3a0a04dcd29c71ea1d117c37794e9f1a2026f2fdbd137f428fdfa1a9be41ff8",
];
const NODE_1_0: &str = "4a8c642befbfe5bcf39ace8fe811477b305b644f13ad35315b8bf63ffbcc3caf";

/// The expected Merkle root over the three entry hashes.
const ROOT: &str = "c8c61310acc622882e53e7ed467bbcc7150925c97dbca075f19fd3013cb34f31";

/// The first append's idempotency record: `be64(first_seq) || be32(count) || fingerprint`,
/// the fingerprint over the canonical events without their links (FORMAT.md §1.6).
const RECORD_1: &str =
    "000000000000000000000002015cbed538d1addc509ca88e6c069280e51b3ef7667599c951e829a9a35f5ac5";

/// The example's entries, written to a new store of `profile` exactly as the writer does
/// (same functions, same batch contents), with fixed recorded times so the bytes are
/// reproducible; and the store's export.
struct Built {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    entries: Vec<Entry>,
    head: Head,
    export: String,
}

fn build(profile: Profile) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_with(dir.path(), Some(profile)).unwrap());
    let mut head = Head::empty(profile);
    let mut tree = CompactRange::new(profile);
    let mut entries = Vec::new();
    for (actor, request_id, recorded_at, events) in APPENDS {
        let mut batch = sled::Batch::default();
        let first_seq = head.size;
        for (canonical, link) in events {
            let seq = head.size;
            let p = RawValue::from_string(stored_payload(canonical, *link, &entries)).unwrap();
            let body = encode_body(seq, recorded_at, actor, request_id, &p);
            let e = Entry::seal(profile, seq, head.hash, body);
            batch.insert(&entry_key(seq)[..], e.to_stored());
            stage_nodes(&mut batch, &tree.append(&e.hash).unwrap());
            head = Head {
                size: seq + 1,
                hash: e.hash,
                root: tree.root(),
            };
            entries.push(e);
        }
        let rec = RequestRecord {
            first_seq,
            count: events.len() as u32,
            // The fingerprint's form blanks personal fields (FORMAT.md §1.6).
            fingerprint: fingerprint(
                events
                    .iter()
                    .map(|(c, _)| crate::domain::Event::decode(c).unwrap().fingerprint_json())
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|c| c.as_bytes()),
            ),
        };
        batch.insert(request_key(actor, request_id), &rec.to_bytes()[..]);
        store.commit(batch, head).unwrap();
    }
    let mut out = Vec::new();
    export_store(&store, store.check_head().unwrap(), &mut out, &mut |_| {}).unwrap();
    Built {
        _dir: dir,
        store,
        entries,
        head,
        export: String::from_utf8(out).unwrap(),
    }
}

/// The gm profile's entry hashes of the same three appends (§3.3): entry 2's body differs
/// from the blake3 example's in its `teacher_prev` hash, the SM3 hash of entry 1.
const GM_HASHES: [&str; 3] = [
    "b6aa830b3474440023f23064321e64ea7d4f3d35004789003fc850358d93211e",
    "b415c28ed3f927b70c1661380d233dcc8b07457b168eca39bc463fc5c0f66a29",
    "7005a8615ed008114fe7f0abc6a4322ab0ee92fcc7356c418dd161cced01fdcd",
];
/// The gm leaves, node (1,0) and root (SM3, RFC 9162's prefixes).
const GM_LEAVES: [&str; 3] = [
    "71a43cd60f23459bbbd3703cc703c93bc526344acc67cdea290e4ae8c87abb29",
    "83fa97fc2a102e9873abf0e1378b77bbe8aff4273037332eead5484a82a19e68",
    "49da321c395dd8ad13c97c9e2ba310b7e84ff537ca861775c785dfab7ee150a1",
];
const GM_NODE_1_0: &str = "5556e0dfbd174764801647328528dedd3b0ccd1033f9941ceb83a3c063c0e9b3";
const GM_ROOT: &str = "7dbc64a842a60bf99fc835ad78e521e365f183ff07152aaf77e7b33759b48d6f";

#[test]
fn worked_example_of_the_gm_profile() {
    let b = build(Profile::Gm);
    let g = Profile::Gm;
    let hashes: Vec<String> = b.entries.iter().map(|e| hex::encode(e.hash)).collect();
    let leaves: Vec<[u8; 32]> = b.entries.iter().map(|e| g.hash_leaf(&e.hash)).collect();
    let node = g.hash_children(&leaves[0], &leaves[1]);
    println!("gm hashes: {hashes:?}");
    println!(
        "gm leaves: {:?}",
        leaves.iter().map(hex::encode).collect::<Vec<_>>()
    );
    println!("gm node (1,0): {}", hex::encode(node));
    println!("gm root: {}", hex::encode(b.head.root));
    print!("{}", b.export);
    // SM3 of the preimage of §1.3, computed here with the sm3 crate directly.
    for e in &b.entries {
        let pre = [
            ENTRY_HASH_DOMAIN,
            &e.seq.to_be_bytes()[..],
            &e.prev_hash,
            &(e.body.len() as u64).to_be_bytes(),
            &e.body,
        ]
        .concat();
        let sm3: [u8; 32] = <sm3::Sm3 as sm3::Digest>::digest(&pre).into();
        assert_eq!(e.hash, sm3, "entry {}", e.seq);
    }
    assert_eq!(hashes, GM_HASHES);
    assert_eq!(
        leaves.iter().map(hex::encode).collect::<Vec<_>>(),
        GM_LEAVES
    );
    assert_eq!(hex::encode(node), GM_NODE_1_0);
    assert_eq!(hex::encode(g.hash_children(&node, &leaves[2])), GM_ROOT);
    assert_eq!(hex::encode(b.head.root), GM_ROOT);
    // Bodies 0 and 1 are the blake3 example's; body 2 links to entry 1's SM3 hash.
    for (e, body) in b.entries.iter().zip(BODIES).take(2) {
        assert_eq!(String::from_utf8(e.body.clone()).unwrap(), body);
    }
    let body2 = BODIES[2].replace(HASHES[1], GM_HASHES[1]);
    assert_eq!(String::from_utf8(b.entries[2].body.clone()).unwrap(), body2);
    // The export names the profile and verifies.
    assert!(
        b.export
            .starts_with(r#"{"format":"rotaledger-export","version":1,"crypto":"gm","#)
    );
    let v = verify_export(&mut b.export.as_bytes(), &mut |_| {}, &mut |_| {})
        .unwrap()
        .unwrap();
    assert_eq!(v.head, b.head);
    // Read as blake3 (the header's `crypto` removed), the same export fails at entry 0.
    let as_blake3 = b.export.replacen(r#""crypto":"gm","#, "", 1);
    let f = verify_export(&mut as_blake3.as_bytes(), &mut |_| {}, &mut |_| {})
        .unwrap()
        .unwrap_err();
    assert_eq!(f.seq, 0);

    // The document shows these values (§3.3).
    let documented = |text: String| {
        assert!(
            FORMAT.contains(&text),
            "docs/FORMAT.md §3.3 does not show what the code computes; it should read:\n{text}"
        );
    };
    for e in &b.entries {
        documented(format!(
            "| {} | `{}` | `{}` |",
            e.seq,
            hex::encode(e.prev_hash),
            hex::encode(e.hash)
        ));
    }
    for (i, l) in GM_LEAVES.iter().enumerate() {
        documented(format!("| gm leaf {i} | `{l}` |"));
    }
    documented(format!("| gm node (1,0) | `{GM_NODE_1_0}` |"));
    documented(format!("| gm root | `{GM_ROOT}` |"));
    documented(format!("```\n{}", b.export.lines().next().unwrap()));
}

#[test]
fn worked_example_of_the_format_document() {
    let Built {
        _dir,
        store,
        entries,
        head,
        export: text,
    } = build(Profile::Blake3);

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
    for e in &entries {
        println!("leaf {}: {}", e.seq, hex::encode(Blake3.hash_leaf(&e.hash)));
    }
    let (l0, l1) = (
        Blake3.hash_leaf(&entries[0].hash),
        Blake3.hash_leaf(&entries[1].hash),
    );
    println!(
        "node (1,0): {}",
        hex::encode(Blake3.hash_children(&l0, &l1))
    );
    println!("root: {}", hex::encode(head.root));
    let rid = request_key("hr-office", "req-0001");
    let rec = store.request(&rid).unwrap().unwrap();
    println!(
        "request key {} -> {}",
        hex::encode(&rid),
        hex::encode(rec.to_bytes())
    );

    assert_eq!(hex::encode(&rid), "7268722d6f6666696365007265712d30303031");
    assert_eq!(hex::encode(rec.to_bytes()), RECORD_1);

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
        entry_hash(Profile::Blake3, 2, &entries[1].hash, BODIES[2].as_bytes())
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

    // The document shows exactly these values (§1.10).
    let documented = |text: String| {
        assert!(
            FORMAT.contains(&text),
            "docs/FORMAT.md §1.10 does not show what the code computes; it should read:\n{text}"
        );
    };
    for (e, body) in entries.iter().zip(BODIES) {
        documented(format!("entry {} ({} bytes):\n{body}\n", e.seq, body.len()));
        documented(format!(
            "| {} | `{}` | `{}` |",
            e.seq,
            hex::encode(e.prev_hash),
            hex::encode(e.hash)
        ));
    }
    for (i, l) in LEAVES.iter().enumerate() {
        let name = if i == 0 {
            "leaf 0 = `H(00 \\|\\| hash 0)`".into()
        } else {
            format!("leaf {i}")
        };
        documented(format!("| {name} | `{l}` |"));
    }
    documented(format!(
        "| node (1,0) = `H(01 \\|\\| leaf 0 \\|\\| leaf 1)` | `{NODE_1_0}` |"
    ));
    documented(format!(
        "| root = `H(01 \\|\\| node (1,0) \\|\\| leaf 2)` | `{ROOT}` |"
    ));
    // The 68 hashed bytes before entry 2's body, one field a line, notes in a column.
    let fields = [
        (&PREFIX_2[..40], "\"rotaledger.entry.v1\\0\"".to_owned()),
        (&PREFIX_2[40..56], "be64(seq = 2)".to_owned()),
        (&PREFIX_2[56..120], "prev_hash = hash of entry 1".to_owned()),
        (&PREFIX_2[120..], format!("be64({})", BODIES[2].len())),
    ];
    documented(
        fields
            .iter()
            .map(|(hex, note)| format!("{hex:<68}{note}\n"))
            .collect(),
    );
    documented(format!(
        "`0000000000000003 || {}... || {}...`",
        &HASHES[2][..8],
        &ROOT[..8]
    ));
    let name = r#""name":"闵行区\"实验\"小学""#;
    assert!(BODIES[0].contains(name));
    documented(format!(
        "the name member is\n`{}`.",
        name.bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    documented(format!(
        "verified: docs/examples/example-export.jsonl: 3 entries, head {}, root {ROOT}\n",
        HASHES[2]
    ));
    documented(format!(
        "verified: docs/examples/example-export.jsonl: 3 entries, head {}\n",
        HASHES[2]
    ));
    documented(format!(
        "with value `{} {} {}`",
        &RECORD_1[..16],
        &RECORD_1[16..24],
        &RECORD_1[24..]
    ));
    documented(format!("```\n{EXPORT}```"));
    documented(format!(
        "as `prev_hash || hash || body`\n({} bytes)",
        entries[2].to_stored().len()
    ));

    // And the committed example file verifies, through the same reader the CLI uses.
    let v = verify_export(&mut EXPORT.as_bytes(), &mut |_| {}, &mut |_| {})
        .unwrap()
        .unwrap();
    assert_eq!(v.head, head);

    // The writer produces this layout: the same actor, request id and payloads through the
    // real writer give bodies that differ from the example only in `recorded_at`. (Which
    // payloads the ledger hands the writer is checked against a real server by the
    // integration test `format_doc`.)
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Arc::new(Store::open_with(dir2.path(), Some(Profile::Blake3)).unwrap());
    let w = Writer::start(s2.clone(), Head::empty(Profile::Blake3), PassThrough).unwrap();
    let (actor, request_id, recorded_at, events) = APPENDS[0];
    let raw: Vec<Box<RawValue>> = events
        .iter()
        .map(|(c, l)| RawValue::from_string(stored_payload(c, *l, &entries)).unwrap())
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

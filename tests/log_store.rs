//! The log on a real sled store: chain round trip, corruption, atomicity, idempotency and
//! group commit.

use std::sync::Arc;

use rotaledger::log::verify::verify_store;
use rotaledger::log::{
    AppendError, Chain, Problem, Sequencer, Store, Writer, entry::GENESIS_HASH, fingerprint,
};
use serde_json::value::RawValue;

use crate::util::{append, fill, open_log, open_store, request, retry_while_locked};

fn verify_dir(
    dir: &std::path::Path,
) -> Result<rotaledger::log::Verified, rotaledger::log::Failure> {
    let store = open_store(dir);
    verify_store(&store, &mut |_| {}).unwrap()
}

#[test]
fn chain_round_trip_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let w = open_log(dir.path());
    let a = append(&w, "a", &[r#"{"k":1}"#.into(), r#"{"k":2}"#.into()]).unwrap();
    let b = append(&w, "b", &[r#"{"k":3}"#.into()]).unwrap();
    assert_eq!((a.first_seq, a.hashes.len(), b.first_seq), (0, 2, 2));
    assert_eq!(b.head.size, 3);
    assert_eq!(w.head(), b.head);
    let e1 = w.store().entry(1).unwrap().unwrap();
    assert_eq!(e1.prev_hash, a.hashes[0]);
    assert_eq!(e1.hash, a.hashes[1]);
    assert_eq!(e1.meta().unwrap().payload, r#"{"k":2}"#);
    assert_eq!(w.store().entry(0).unwrap().unwrap().prev_hash, GENESIS_HASH);
    w.shutdown();
    drop(w);
    let v = verify_dir(dir.path()).unwrap();
    assert_eq!(v.checked, 3);
    assert_eq!(v.head, b.head);
    // Reopen and go on: the chain continues from the stored head.
    let w = open_log(dir.path());
    assert_eq!(w.head(), b.head);
    let c = append(&w, "c", &[r#"{"k":4}"#.into()]).unwrap();
    assert_eq!(c.first_seq, 3);
    assert_eq!(w.store().entry(3).unwrap().unwrap().prev_hash, b.head.hash);
}

/// Damages entry `seq` of a closed store through sled directly.
fn tamper(dir: &std::path::Path, f: impl FnOnce(&sled::Db)) {
    let db = retry_while_locked(|| sled::open(dir)).unwrap();
    f(&db);
    db.flush().unwrap();
}

fn ekey(seq: u64) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

#[test]
fn every_kind_of_corruption_is_located() {
    type Damage = fn(&sled::Db);
    type Expect = fn(&Problem) -> bool;
    let cases: Vec<(&str, Damage, u64, Expect)> = vec![
        (
            "flip a payload byte",
            |db| {
                let mut v = db.get(ekey(5)).unwrap().unwrap().to_vec();
                let n = v.len();
                v[n - 3] ^= 0x01;
                db.insert(ekey(5), v).unwrap();
            },
            5,
            |p| matches!(p, Problem::HashMismatch { .. }),
        ),
        (
            "flip a stored hash byte",
            |db| {
                let mut v = db.get(ekey(7)).unwrap().unwrap().to_vec();
                v[40] ^= 0x80;
                db.insert(ekey(7), v).unwrap();
            },
            7,
            |p| matches!(p, Problem::HashMismatch { .. }),
        ),
        (
            "rewrite an entry with a fresh hash (breaks the next link)",
            |db| {
                let v = db.get(ekey(3)).unwrap().unwrap().to_vec();
                let e = rotaledger::log::Entry::from_stored(3, &v).unwrap();
                let body = String::from_utf8(e.body)
                    .unwrap()
                    .replace("\"n\":3", "\"n\":9");
                let forged = rotaledger::log::Entry::seal(
                    crate::util::profile(),
                    3,
                    e.prev_hash,
                    body.into_bytes(),
                );
                db.insert(ekey(3), forged.to_stored()).unwrap();
            },
            4,
            |p| matches!(p, Problem::BrokenLink { .. }),
        ),
        (
            "delete an entry",
            |db| {
                db.remove(ekey(4)).unwrap();
            },
            4,
            |p| {
                matches!(
                    p,
                    Problem::Gap {
                        expected: 4,
                        found: 5
                    }
                )
            },
        ),
        (
            "swap two entries",
            |db| {
                let a = db.get(ekey(2)).unwrap().unwrap();
                let b = db.get(ekey(3)).unwrap().unwrap();
                db.insert(ekey(2), b).unwrap();
                db.insert(ekey(3), a).unwrap();
            },
            2,
            |p| matches!(p, Problem::OutOfPlace { at: 2, claims: 3 }),
        ),
        (
            "delete the last entry",
            |db| {
                db.remove(ekey(9)).unwrap();
            },
            9,
            |p| {
                matches!(
                    p,
                    Problem::Truncated {
                        expected: 10,
                        found: 9
                    }
                )
            },
        ),
        (
            "append an entry past the head",
            |db| {
                let v = db.get(ekey(9)).unwrap().unwrap();
                let e = rotaledger::log::Entry::from_stored(9, &v).unwrap();
                let body = String::from_utf8(e.body)
                    .unwrap()
                    .replace("\"seq\":9", "\"seq\":10");
                let extra = rotaledger::log::Entry::seal(
                    crate::util::profile(),
                    10,
                    e.hash,
                    body.into_bytes(),
                );
                db.insert(ekey(10), extra.to_stored()).unwrap();
            },
            10,
            |p| {
                matches!(
                    p,
                    Problem::BeyondHead {
                        head_size: 10,
                        seq: 10
                    }
                )
            },
        ),
    ];
    for (name, damage, at, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), 10);
        assert!(
            verify_dir(dir.path()).is_ok(),
            "{name}: clean store verifies"
        );
        tamper(dir.path(), damage);
        let f = verify_dir(dir.path()).expect_err(name);
        assert_eq!(f.seq, at, "{name}: located at {f}");
        assert!(expected(&f.problem), "{name}: wrong problem: {f}");
    }
}

#[test]
fn startup_refuses_a_head_that_does_not_match() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 5);
    tamper(dir.path(), |db| {
        db.remove(ekey(4)).unwrap();
    });
    let store = open_store(dir.path());
    let err = store.check_head().unwrap_err().to_string();
    assert!(
        err.contains("5 entries") && err.contains("last stored entry is 3"),
        "{err}"
    );
}

/// Pushes its entries, then refuses the append when a payload says so.
struct FailWhenAsked;

impl Sequencer for FailWhenAsked {
    type Input = Vec<Box<RawValue>>;
    type Rejection = usize;
    fn sequence(&mut self, input: &Self::Input, chain: &mut Chain<'_>) -> Result<(), usize> {
        for (i, p) in input.iter().enumerate() {
            if p.get().contains("fail") {
                return Err(i);
            }
            chain.push(p);
        }
        Ok(())
    }
}

#[test]
fn an_append_that_fails_midway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let w = Writer::start(store.clone(), store.check_head().unwrap(), FailWhenAsked).unwrap();
    w.append_blocking(request("t", "ok1", &[r#"{"a":1}"#.into()]))
        .unwrap();
    let err = w
        .append_blocking(request(
            "t",
            "bad",
            &[r#"{"a":2}"#.into(), r#"{"a":3}"#.into(), r#""fail""#.into()],
        ))
        .unwrap_err();
    assert!(matches!(err, AppendError::Rejected(2)), "{err:?}");
    assert_eq!(w.head().size, 1);
    assert!(store.entry(1).unwrap().is_none());
    // The refused request id was not recorded: the corrected append may reuse it.
    let ok = w
        .append_blocking(request("t", "bad", &[r#"{"a":2}"#.into()]))
        .unwrap();
    assert_eq!((ok.first_seq, ok.duplicate), (1, false));
    w.shutdown();
    drop((w, store));
    assert_eq!(verify_dir(dir.path()).unwrap().checked, 2);
}

#[test]
fn idempotent_retry_before_and_after_restart_and_conflicting_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<String> = vec![r#"{"x":1}"#.into(), r#"{"x":2}"#.into()];
    let w = open_log(dir.path());
    append(&w, "first", &[r#"{"x":0}"#.into()]).unwrap();
    let orig = append(&w, "req-1", &items).unwrap();
    let again = append(&w, "req-1", &items).unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.first_seq, &again.hashes),
        (orig.first_seq, &orig.hashes)
    );
    assert_eq!(w.head().size, 3);
    // The same id from another actor is another request.
    let other = w
        .append_blocking(request("someone-else", "req-1", &items))
        .unwrap();
    assert!(!other.duplicate);
    let conflict = append(&w, "req-1", &[r#"{"x":9}"#.into()]).unwrap_err();
    assert!(
        matches!(
            conflict,
            AppendError::RequestIdConflict {
                first_seq: 1,
                count: 2,
                ..
            }
        ),
        "{conflict:?}"
    );
    w.shutdown();
    drop(w);
    let w = open_log(dir.path());
    let after = append(&w, "req-1", &items).unwrap();
    assert!(after.duplicate);
    assert_eq!(
        (after.first_seq, &after.hashes),
        (orig.first_seq, &orig.hashes)
    );
    assert_eq!(w.head().size, 5);
    assert!(append(&w, "req-1", &[r#"{"x":9}"#.into()]).is_err());
}

#[test]
fn expected_size_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let w = open_log(dir.path());
    append(&w, "a", &[r#"1"#.into()]).unwrap();
    let mut r = request("t", "b", &[r#"2"#.into()]);
    r.expected_size = Some(0);
    let err = w.append_blocking(r).unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::UnexpectedSize {
                expected: 0,
                actual: 1
            }
        ),
        "{err:?}"
    );
    let mut r = request("t", "b", &[r#"2"#.into()]);
    r.expected_size = Some(1);
    assert_eq!(w.append_blocking(r).unwrap().first_seq, 1);
}

#[test]
fn malformed_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = open_log(dir.path());
    for (actor, rid) in [("", "r"), ("a", ""), ("a\u{0}", "r"), ("a", "r\n")] {
        let err = w
            .append_blocking(request(actor, rid, &["1".into()]))
            .unwrap_err();
        assert!(
            matches!(err, AppendError::Invalid(_)),
            "{actor:?} {rid:?}: {err:?}"
        );
    }
    assert_eq!(w.head().size, 0);
}

#[test]
fn group_commit_batches_concurrent_appends_and_syncs_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(open_log(dir.path()));
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    append(
                        &w,
                        &format!("t{t}-{i}"),
                        &[format!(r#"{{"t":{t},"i":{i}}}"#)],
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = w.store().stats.snapshot();
    assert_eq!(s.appends, 800);
    assert_eq!(s.entries, 800);
    assert!(s.commits < s.appends, "no batching: {s:?}");
    // Every commit was followed by its own fdatasync of sled's data file before answering.
    assert_eq!(s.data_syncs, s.commits, "{s:?}");
    assert!(s.commits > 0);
    assert_eq!(w.head().size, 800);
}

/// An answer depends on the append alone: each append of a shared commit is answered with the
/// head right after its own entries (not the commit's end), and a retry (in a later commit,
/// from the store) with exactly the same outcome.
#[test]
fn appends_sharing_a_commit_each_answer_with_their_own_head_and_retries_repeat_it() {
    use rotaledger::merkle::root;
    let dir = tempfile::tempdir().unwrap();
    let w = Arc::new(open_log(dir.path()));
    let items = |t: u64, i: u64| -> Vec<String> {
        (0..1 + (t + i) % 3)
            .map(|k| format!(r#"{{"t":{t},"i":{i},"k":{k}}}"#))
            .collect()
    };
    let threads: Vec<_> = (0..16u64)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                (0..20u64)
                    .map(|i| {
                        let id = format!("t{t}-{i}");
                        (
                            id.clone(),
                            items(t, i),
                            append(&w, &id, &items(t, i)).unwrap(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let outcomes: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let s = w.store().stats.snapshot();
    assert!(s.commits < s.appends, "no batching: {s:?}");
    let store = w.store().clone();
    for (id, items, o) in &outcomes {
        let end = o.first_seq + o.hashes.len() as u64;
        assert_eq!(
            o.head.size, end,
            "{id}: the head right after its own entries"
        );
        assert_eq!(Some(&o.head.hash), o.hashes.last(), "{id}");
        assert_eq!(
            o.head.root,
            root(&crate::util::profile(), end, store.as_ref()).unwrap(),
            "{id}"
        );
        let again = append(&w, id, items).unwrap();
        assert!(again.duplicate, "{id}");
        assert_eq!(
            (again.first_seq, &again.hashes, again.head),
            (o.first_seq, &o.hashes, o.head),
            "{id}: a retry repeats the original answer"
        );
    }
}

/// The durability contract, observed: the sync counters advance only after `fdatasync`
/// returned, so reading them after an append returns shows the sync happened before the answer.
#[test]
fn every_acknowledged_append_follows_its_own_fdatasync() {
    let dir = tempfile::tempdir().unwrap();
    let w = open_log(dir.path());
    for i in 0..20 {
        let before = w.store().stats.snapshot();
        append(&w, &format!("s{i}"), &[format!(r#"{{"i":{i}}}"#)]).unwrap();
        let after = w.store().stats.snapshot();
        assert_eq!(after.commits, before.commits + 1, "append {i}: {after:?}");
        assert_eq!(
            after.data_syncs,
            before.data_syncs + 1,
            "append {i}: {after:?}"
        );
    }
    // sled keeps values over about 128 KiB in blob files of their own, which it never syncs:
    // the store must sync the new file before the append returns.
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300 * 1024));
    let before = w.store().stats.snapshot();
    append(&w, "big", &[big]).unwrap();
    let after = w.store().stats.snapshot();
    let blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap().count();
    assert!(blobs > 0, "sled wrote no blob file for a 300 KiB value");
    assert!(
        after.blob_syncs > before.blob_syncs,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.data_syncs, before.data_syncs + 1);
    // A retry writes nothing, so it needs no commit.
    let again = append(&w, "s3", &[r#"{"i":3}"#.into()]).unwrap();
    assert!(again.duplicate);
    assert_eq!(w.store().stats.snapshot().commits, after.commits);
}

#[test]
fn fingerprint_separates_payload_boundaries() {
    let a = fingerprint([b"ab".as_slice(), b"c".as_slice()]);
    let b = fingerprint([b"a".as_slice(), b"bc".as_slice()]);
    assert_ne!(a, b);
}

#[test]
fn merkle_tree_is_maintained_on_append_and_serves_proofs() {
    use rotaledger::merkle::{
        TreeHasher, consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion,
    };
    let dir = tempfile::tempdir().unwrap();
    let w = open_log(dir.path());
    let mut hashes = Vec::new();
    let mut roots = vec![crate::util::profile().empty_root()];
    for i in 0..37u64 {
        let n = 1 + (i % 3) as usize;
        let items: Vec<String> = (0..n).map(|k| format!(r#"{{"i":{i},"k":{k}}}"#)).collect();
        let o = append(&w, &format!("m{i}"), &items).unwrap();
        hashes.extend(o.hashes.iter().copied());
        // The head's root is the RFC 9162 root over every entry hash so far.
        let (mem, _) =
            rotaledger::merkle::MemoryNodes::from_entries(crate::util::profile(), hashes.iter())
                .unwrap();
        assert_eq!(
            o.head.root,
            root(&crate::util::profile(), hashes.len() as u64, &mem).unwrap()
        );
        while roots.len() < hashes.len() {
            roots.push(root(&crate::util::profile(), roots.len() as u64, &mem).unwrap());
        }
        roots.push(o.head.root);
    }
    let store = w.store();
    let size = hashes.len() as u64;
    // Every past root from the store's nodes, the stored levels and the ones recomputed from
    // the entries below them alike.
    for s in 0..=size {
        assert_eq!(
            root(&crate::util::profile(), s, store.as_ref()).unwrap(),
            roots[s as usize],
            "root of size {s} from the store"
        );
    }
    for (i, h) in hashes.iter().enumerate() {
        let proof =
            inclusion_proof(&crate::util::profile(), i as u64, size, store.as_ref()).unwrap();
        verify_inclusion(
            &crate::util::profile(),
            i as u64,
            size,
            &crate::util::profile().hash_leaf(h),
            &proof,
            &roots[size as usize],
        )
        .unwrap();
    }
    for old in [1u64, 5, 17, size - 1] {
        let proof = consistency_proof(&crate::util::profile(), old, size, store.as_ref()).unwrap();
        verify_consistency(
            &crate::util::profile(),
            old,
            size,
            &roots[old as usize],
            &roots[size as usize],
            &proof,
        )
        .unwrap();
    }
}

#[test]
fn damaged_tree_state_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 16);
    tamper(dir.path(), |db| {
        // The perfect subtree over leaves 0..16 is the frontier of size 16, and the lowest
        // level the store keeps (docs/FORMAT.md §2.7).
        let mut k = vec![b't', 4];
        k.extend_from_slice(&0u64.to_be_bytes());
        let mut v = db.get(&k).unwrap().unwrap().to_vec();
        v[0] ^= 1;
        db.insert(k, v).unwrap();
    });
    let err = open_store(dir.path()).check_head().unwrap_err().to_string();
    assert!(err.contains("Merkle tree"), "{err}");
}

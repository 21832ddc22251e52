//! A damaged store: `rotaledger serve --full-check` (or without a state snapshot) refuses to
//! start on it, naming what is wrong, with exit code 2, and repairs nothing. With a snapshot,
//! damage to the head or the Merkle nodes is still refused at start; damage to the entries
//! before the snapshot is found by the background check, after which every RPC is refused
//! with `DATA_LOSS` naming the first bad entry, and nothing is repaired either.

use std::path::Path;

use rotaledger::ledger::{Integrity, Ledger, LedgerError, LedgerOptions};
use rotaledger::log::store::{HEAD_KEY, entry_key, node_key};
use rotaledger::snapshot;

use crate::util::{
    ServeProc, copy_dir, retry_while_locked, school_event, school_events, serve_until_exit_with,
};

/// Edits the sled database directly, as a disk fault or an intruder would.
fn with_db(data: &Path, edit: impl FnOnce(&sled::Db)) {
    let db = crate::util::retry_while_locked(|| sled::open(data)).unwrap();
    edit(&db);
    db.flush().unwrap();
}

/// A store of 16 entries (so the whole Merkle tree is one stored node, level 4, the lowest
/// level the store keeps), closed gracefully: with a state snapshot at 16.
async fn build(data: &Path) {
    let l = Ledger::open(data, LedgerOptions::default()).unwrap();
    for i in 0..16 {
        l.append("tester", &format!("r{i}"), None, vec![school_event(i)])
            .await
            .unwrap();
    }
    l.shutdown();
    drop(l);
    assert!(snapshot::path(data).exists());
}

/// `Ledger::open` with `--full-check`: the whole log replayed and verified.
fn full_check_open(data: &Path) -> Result<Ledger, LedgerError> {
    retry_while_locked(|| {
        Ledger::open(
            data,
            LedgerOptions {
                full_check: true,
                ..Default::default()
            },
        )
    })
}

type Damage = fn(&Path);

/// The named damages: what, how, and what `serve --full-check` says (besides "refusing to
/// serve"); `at_start`: also refused at start with a snapshot (head and Merkle checks).
fn damages() -> Vec<(&'static str, Damage, &'static str, bool)> {
    vec![
        (
            "deleted Merkle node",
            |d| {
                with_db(d, |db| {
                    assert!(db.remove(node_key(4, 0)).unwrap().is_some());
                })
            },
            "Merkle",
            true,
        ),
        (
            "altered head hash",
            |d| {
                with_db(d, |db| {
                    let mut h = db.get(HEAD_KEY).unwrap().unwrap().to_vec();
                    h[8] ^= 1;
                    db.insert(HEAD_KEY, h).unwrap();
                })
            },
            "head",
            true,
        ),
        (
            "altered head size",
            |d| {
                with_db(d, |db| {
                    let mut h = db.get(HEAD_KEY).unwrap().unwrap().to_vec();
                    h[7] = 7;
                    db.insert(HEAD_KEY, h).unwrap();
                })
            },
            "head record says 7 entries",
            true,
        ),
        (
            "altered entry body",
            |d| {
                with_db(d, |db| {
                    let mut v = db.get(entry_key(3)).unwrap().unwrap().to_vec();
                    let at = v.windows(8).position(|w| w == b"School 3").unwrap();
                    v[at + 7] = b'9';
                    db.insert(entry_key(3), v).unwrap();
                })
            },
            "first bad entry 3",
            false,
        ),
        (
            "deleted entry",
            |d| {
                with_db(d, |db| {
                    assert!(db.remove(entry_key(2)).unwrap().is_some());
                })
            },
            "entry 2",
            false,
        ),
    ]
}

/// Flips 64 bytes of sled's file (`k < 10`) or truncates it (`k >= 10`), at ten places each.
fn raw_damage(data: &Path, k: usize, len: usize) -> String {
    let p = data.join("db");
    if k < 10 {
        let mut b = std::fs::read(&p).unwrap();
        let at = len * k / 10;
        for x in &mut b[at..(at + 64).min(len)] {
            *x ^= 0x5a;
        }
        std::fs::write(&p, b).unwrap();
        format!("64 bytes flipped at {at} of {len}")
    } else {
        let at = len * (k - 10) / 10;
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(at as u64).unwrap();
        format!("db truncated to {at} of {len} bytes")
    }
}

/// How `rotaledger serve` (with the state snapshot) treated a damaged store.
enum Served {
    /// It exited at start: code and log.
    Exited(i32, String),
    /// It started, then refused `GetHead` with `DATA_LOSS` (message); still running.
    DataLoss(ServeProc, String),
}

/// Starts `serve` on `data` and waits (bounded) until it exits or refuses with `DATA_LOSS`.
/// Panics if it is still answering normally when the background check must be long done.
async fn served(data: &Path) -> Served {
    let log = data.with_extension("serve.log");
    let mut p = ServeProc::start_logged(data, &[], &log);
    for _ in 0..1000 {
        if let Some(st) = p.child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            return Served::Exited(st.code().unwrap_or(-1), err);
        }
        if let Ok(mut c) = p.connect().ledger().await {
            match c.get_head(rotaledger::proto::GetHeadRequest {}).await {
                Err(s) if s.code() == tonic::Code::DataLoss => {
                    let m = s.message().to_owned();
                    return Served::DataLoss(p, m);
                }
                // Not yet checked (`Ok`), or the server is going away (it exited at start).
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the server kept serving a log that does not verify");
}

/// The first line of `rotaledger verify --data DIR` (stdout or stderr).
fn verify_line(data: &Path) -> String {
    let out = std::process::Command::new(crate::util::bin())
        .arg("verify")
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_damaged_store() {
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    build(&clean).await;

    for (i, (name, damage, needle, _)) in damages().into_iter().enumerate() {
        let data = base.path().join(format!("case{i}"));
        copy_dir(&clean, &data);
        damage(&data);
        let before = verify_line(&data);
        let (code, err) = serve_until_exit_with(&data, &["--full-check"]);
        assert_eq!(code, 2, "{name}: exit code; stderr: {err}");
        for n in [needle, "refusing to serve"] {
            assert!(err.contains(n), "{name}: stderr lacks {n:?}: {err}");
        }
        assert!(!err.contains("panicked"), "{name}: {err}");
        // No silent repair: the refused store still shows the same damage.
        assert_eq!(verify_line(&data), before, "{name}: the store was changed");
    }

    // Raw damage to sled's file: flipped bytes and truncation at ten places each. sled finds
    // most with its checksums; damage that misses live data leaves the same log. Either the
    // offline verifier still sees exactly the clean log, or `serve` refuses the store.
    let clean_line = verify_line(&clean);
    assert!(clean_line.contains("16 entries"), "{clean_line}");
    let len = std::fs::metadata(clean.join("db")).unwrap().len() as usize;
    let (mut refused, mut harmless) = (0, 0);
    for k in 0..20 {
        let data = base.path().join(format!("raw{k}"));
        copy_dir(&clean, &data);
        let name = raw_damage(&data, k, len);
        if verify_line(&data) == clean_line.replace("clean", &format!("raw{k}")) {
            harmless += 1;
            continue;
        }
        let (code, err) = serve_until_exit_with(&data, &["--full-check"]);
        assert_eq!(code, 2, "{name}: exit code; stderr: {err}");
        assert!(err.contains("refusing to serve"), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        refused += 1;
    }
    eprintln!("raw damage: {refused} refused, {harmless} left the log intact");
    assert!(refused >= 2, "no raw damage was noticed");

    // The undamaged store serves, so the refusals above are about the damage.
    let p = ServeProc::start_with(&clean, &["--full-check"]);
    p.ready().await;
}

/// The same damages, served with the state snapshot `build` left: refused at start when the
/// start checks see them (head, Merkle nodes, sled's own checksums), otherwise served only
/// until the background check finds them, then every RPC is refused with `DATA_LOSS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_snapshot_damage_is_refused_at_start_or_by_the_background_check() {
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    build(&clean).await;
    for (i, (name, damage, needle, at_start)) in damages().into_iter().enumerate() {
        let data = base.path().join(format!("case{i}"));
        copy_dir(&clean, &data);
        damage(&data);
        let before = verify_line(&data);
        let snap = std::fs::read(snapshot::path(&data)).unwrap();
        if at_start {
            let (code, err) = serve_until_exit_with(&data, &[]);
            assert_eq!(code, 2, "{name}: exit code; stderr: {err}");
            for n in [needle, "refusing to serve"] {
                assert!(err.contains(n), "{name}: stderr lacks {n:?}: {err}");
            }
        } else {
            let Served::DataLoss(mut p, m) = served(&data).await else {
                panic!("{name}: refused at start, but the start checks cannot see it");
            };
            assert!(m.contains(needle), "{name}: {m}");
            // Appends too.
            let mut c = p.connect().ledger().await.unwrap();
            let e = c
                .append(rotaledger::proto::AppendRequest {
                    request_id: "late".into(),
                    events: vec![school_event(99)],
                    expected_size: None,
                })
                .await
                .unwrap_err();
            assert_eq!(e.code(), tonic::Code::DataLoss, "{name}: {e:?}");
            p.kill();
            // Deleting the snapshot (the documented recovery step) gives the full check.
            let gone = base.path().join(format!("case{i}-nosnap"));
            copy_dir(&data, &gone);
            std::fs::remove_file(snapshot::path(&gone)).unwrap();
            let (code, err) = serve_until_exit_with(&gone, &[]);
            assert_eq!(code, 2, "{name} without snapshot: {err}");
            assert!(err.contains(needle), "{name} without snapshot: {err}");
        }
        assert_eq!(verify_line(&data), before, "{name}: the store was changed");
        assert_eq!(
            std::fs::read(snapshot::path(&data)).unwrap(),
            snap,
            "{name}: a snapshot was written over a damaged log"
        );
    }

    let clean_line = verify_line(&clean);
    let len = std::fs::metadata(clean.join("db")).unwrap().len() as usize;
    let (mut at_start, mut in_background, mut harmless) = (0, 0, 0);
    for k in 0..20 {
        let data = base.path().join(format!("raw{k}"));
        copy_dir(&clean, &data);
        let name = raw_damage(&data, k, len);
        if verify_line(&data) == clean_line.replace("clean", &format!("raw{k}")) {
            harmless += 1;
            continue;
        }
        // Either it refuses to start, or it starts and then refuses everything.
        let (code, err) = match served(&data).await {
            Served::Exited(code, err) => (code, err),
            Served::DataLoss(mut p, m) => {
                p.kill();
                (0, m)
            }
        };
        if code == 0 {
            in_background += 1;
        } else {
            assert_eq!(code, 2, "{name}: {err}");
            assert!(err.contains("refusing to serve"), "{name}: {err}");
            at_start += 1;
        }
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    eprintln!(
        "raw damage with a snapshot: {at_start} refused at start, {in_background} by the \
         background check, {harmless} left the log intact"
    );
    assert!(at_start + in_background >= 2, "no raw damage was noticed");
}

/// The library view of the background check: appends and `check_integrity` fail with the
/// first bad entry, and no snapshot is written over the damaged log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_check_fails_the_ledger() {
    let base = tempfile::tempdir().unwrap();
    let data = base.path().join("d");
    build(&data).await;
    with_db(&data, |db| {
        let mut v = db.get(entry_key(5)).unwrap().unwrap().to_vec();
        let at = v.windows(8).position(|w| w == b"School 5").unwrap();
        v[at + 7] = b'6';
        db.insert(entry_key(5), v).unwrap();
    });
    let snap = std::fs::read(snapshot::path(&data)).unwrap();
    let l = retry_while_locked(|| Ledger::open(&data, LedgerOptions::default())).unwrap();
    assert_eq!(l.open_report().snapshot, Some(16));
    let Integrity::Failed(f) = l.wait_integrity() else {
        panic!("the damage was not found");
    };
    assert_eq!(f.seq, 5);
    assert!(matches!(l.check_integrity(), Err(LedgerError::Corrupt(_))));
    let e = l
        .append("tester", "after", None, vec![school_event(50)])
        .await
        .unwrap_err();
    assert!(
        matches!(e, LedgerError::Corrupt(ref f) if f.seq == 5),
        "{e}"
    );
    l.shutdown();
    drop(l);
    assert_eq!(std::fs::read(snapshot::path(&data)).unwrap(), snap);
    // With --full-check (or without the snapshot) the open itself refuses.
    let r = full_check_open(&data);
    match r {
        Err(LedgerError::Corrupt(f)) => assert_eq!(f.seq, 5),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a damaged log was opened with --full-check"),
    }
}

/// A full replay reads, checks and applies entries in chunks on three threads: damage deep
/// in a long log, or at several places, is still reported at the first bad entry, whichever
/// chunk it falls in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_replay_names_the_first_bad_entry_across_chunks() {
    const N: u64 = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    {
        let l = Ledger::open(&clean, LedgerOptions::default()).unwrap();
        for (k, from) in (0..N).step_by(500).enumerate() {
            l.append(
                "tester",
                &format!("r{k}"),
                None,
                school_events(from, from + 500),
            )
            .await
            .unwrap();
        }
        l.shutdown();
    }
    let alter = |db: &sled::Db, seq: u64| {
        let mut v = db.get(entry_key(seq)).unwrap().unwrap().to_vec();
        let name = format!("School {seq}\"");
        let at = v.windows(name.len()).position(|w| w == name.as_bytes());
        let at = at.unwrap() + name.len() - 2;
        v[at] = if v[at] == b'0' { b'1' } else { b'0' };
        db.insert(entry_key(seq), v).unwrap();
    };
    type Case = (&'static str, Box<dyn Fn(&sled::Db)>, u64);
    let cases: Vec<Case> = vec![
        (
            "one altered body",
            Box::new(move |db| alter(db, 2_500)),
            2_500,
        ),
        (
            "two altered bodies",
            Box::new(move |db| {
                alter(db, 2_990);
                alter(db, 1_030);
            }),
            1_030,
        ),
        (
            "a deleted entry after an altered one",
            Box::new(move |db| {
                alter(db, 2_048);
                assert!(db.remove(entry_key(2_900)).unwrap().is_some());
            }),
            2_048,
        ),
        (
            "a deleted entry",
            Box::new(|db| assert!(db.remove(entry_key(1_024)).unwrap().is_some())),
            1_024,
        ),
    ];
    for (k, (what, damage, first_bad)) in cases.into_iter().enumerate() {
        let data = dir.path().join(format!("case{k}"));
        copy_dir(&clean, &data);
        with_db(&data, damage);
        let r = full_check_open(&data);
        match r {
            Err(LedgerError::Corrupt(f)) => assert_eq!(f.seq, first_bad, "{what}: {f}"),
            Err(e) => panic!("{what}: {e}"),
            Ok(_) => panic!("{what}: a damaged log was opened with --full-check"),
        }
    }
    // Undamaged, the same log opens with every entry applied.
    let l = full_check_open(&clean).unwrap();
    assert_eq!(l.head().size, N);
    assert_eq!(l.query(|s| s.len()).value, N);
}

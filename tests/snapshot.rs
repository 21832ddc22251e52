//! The state snapshot: a restart from it gives exactly the state a full replay gives, replays
//! only the entries after it, and any bad snapshot (damaged, cut, another version, another
//! log) is ignored with the reason said, the state rebuilt from the log.

use std::path::Path;

use rotaledger::domain::event::Event;
use rotaledger::domain::state::{Meta, State};
use rotaledger::ledger::{Integrity, Ledger, LedgerOptions, OpenReport};
use rotaledger::log::Head;
use rotaledger::snapshot::{self, FILE_NAME, Position, STATE_SCHEMA};

use crate::util::{ServeProc, copy_dir, retry_while_locked, school_events};

/// A generated district (every event type), as appends.
fn district(teachers: u32, years: u32) -> Vec<Vec<String>> {
    let config = rotaledger::generate::Config {
        teachers,
        years,
        ..Default::default()
    };
    let mut out = Vec::new();
    rotaledger::generate::generate(&config, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.to_string())
                .collect()
        })
        .collect()
}

fn open_with(dir: &Path, opts: LedgerOptions) -> Ledger {
    retry_while_locked(|| Ledger::open(dir, opts.clone())).unwrap()
}

fn open(dir: &Path) -> Ledger {
    open_with(dir, LedgerOptions::default())
}

fn full(dir: &Path) -> Ledger {
    open_with(
        dir,
        LedgerOptions {
            full_check: true,
            ..Default::default()
        },
    )
}

async fn append_all(l: &Ledger, prefix: &str, appends: &[Vec<String>]) {
    for (i, events) in appends.iter().enumerate() {
        l.append("hr", &format!("{prefix}{i}"), None, events.clone())
            .await
            .unwrap();
    }
}

fn state(l: &Ledger) -> State {
    l.snapshot().state.clone()
}

/// A store holding a small generated district, closed gracefully (so with a snapshot at its
/// head); returns its size.
async fn build(dir: &Path) -> u64 {
    let l = open(dir);
    append_all(&l, "d", &district(120, 2)).await;
    let n = l.head().size;
    l.shutdown();
    drop(l);
    assert!(snapshot::path(dir).exists(), "shutdown writes a snapshot");
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_from_the_snapshot_gives_the_replayed_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = build(d).await;
    assert!(n > 100, "{n} entries");

    let reference = {
        let l = full(d);
        assert_eq!(
            l.open_report(),
            &OpenReport {
                snapshot: None,
                snapshot_unused: Some("full check asked for".into()),
                replayed: n,
                master_key_created: None,
                erasures_finished: 0,
            }
        );
        let s = state(&l);
        drop(l); // no shutdown: the snapshot on disk stays the one `build` wrote
        s
    };

    let l = open(d);
    assert_eq!(
        l.open_report(),
        &OpenReport {
            snapshot: Some(n),
            snapshot_unused: None,
            replayed: 0,
            master_key_created: None,
            erasures_finished: 0,
        }
    );
    assert!(state(&l) == reference, "snapshot-loaded state differs");
    assert_eq!(l.wait_integrity(), Integrity::Verified);
    // Appends on top of the loaded state are judged and folded like any others. The tail is
    // longer than two of the replay's chunks (1,024 entries), starting off a chunk boundary.
    let mut live = Vec::new();
    for i in 0..5 {
        let events = school_events(9000 + i * 500, 9500 + i * 500);
        l.append("hr", &format!("more{i}"), None, events)
            .await
            .unwrap();
        live.push((l.head().size, state(&l)));
    }
    let after = state(&l);
    // A crash: no shutdown, so no snapshot of the last 2,500 entries.
    drop(l);

    let l = open(d);
    assert_eq!(l.open_report().snapshot, Some(n));
    assert_eq!(l.open_report().replayed, 2_500, "only the tail is replayed");
    assert!(
        state(&l) == after,
        "snapshot + tail differs from the live state"
    );
    drop(l);
    let l = full(d);
    assert!(
        state(&l) == after,
        "snapshot + tail differs from a full replay"
    );
    assert_eq!(l.integrity(), Integrity::Verified);
    // "As recorded up to N": a replay of a prefix equals the live state at N.
    for (size, s) in &live {
        assert!(
            l.state_at(*size).unwrap().value == *s,
            "the replay of the first {size} entries differs from the live state then"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_written_in_the_background_every_n_entries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let opts = LedgerOptions {
        snapshot_every: 10,
        ..Default::default()
    };
    let l = open_with(d, opts.clone());
    for i in 0..12 {
        l.append(
            "hr",
            &format!("r{i}"),
            None,
            school_events(i * 3, i * 3 + 3),
        )
        .await
        .unwrap();
    }
    let live = state(&l);
    // Dropping without shutdown waits for a snapshot in progress but writes none itself.
    drop(l);
    let bytes = std::fs::read(snapshot::path(d)).unwrap();
    let at = snapshot::parse(&bytes, &crate::util::snapshot_key(d))
        .unwrap()
        .position
        .head
        .size;
    // Written at a commit (3 entries each) once 10 entries were committed past the last one.
    assert!(
        (12..=36).contains(&at) && at.is_multiple_of(3),
        "background snapshot at {at}"
    );

    let l = open_with(d, opts);
    assert_eq!(l.open_report().snapshot, Some(at));
    assert_eq!(l.open_report().replayed, 36 - at);
    assert!(state(&l) == live);
    l.shutdown();
    drop(l);
    let bytes = std::fs::read(snapshot::path(d)).unwrap();
    assert_eq!(
        snapshot::parse(&bytes, &crate::util::snapshot_key(d))
            .unwrap()
            .position
            .head
            .size,
        36
    );
}

/// Rewrites a snapshot file with a valid checksum under `key` after `edit`.
fn resealed(bytes: &[u8], key: &snapshot::SnapshotKey, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = bytes[..bytes.len() - 32].to_vec();
    edit(&mut b);
    let sum = key.checksum(&b);
    b.extend_from_slice(&sum);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_snapshot_means_a_full_replay_never_a_refusal() {
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    let n = build(&clean).await;
    let reference = {
        let l = full(&clean);
        let s = state(&l);
        drop(l);
        s
    };
    let good = std::fs::read(clean.join(FILE_NAME)).unwrap();

    // Snapshots of other logs: a different one of the same size, and a longer one.
    let other = base.path().join("other");
    {
        let l = open(&other);
        let mut i = 0;
        while i < n {
            let to = (i + 500).min(n);
            l.append("hr", &format!("o{i}"), None, school_events(i, to))
                .await
                .unwrap();
            i = to;
        }
        l.shutdown();
    }
    let longer = base.path().join("longer");
    copy_dir(&clean, &longer);
    {
        let l = open(&longer);
        l.append("hr", "x", None, school_events(5000, 5001))
            .await
            .unwrap();
        l.shutdown();
    }

    let key = crate::util::snapshot_key(&clean);
    let flip = |at: usize| {
        let mut b = good.clone();
        b[at] ^= 1;
        b
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty file", Vec::new(), "damaged"),
        ("cut in half", good[..good.len() / 2].to_vec(), "checksum"),
        ("last byte cut", good[..good.len() - 1].to_vec(), "checksum"),
        ("flipped magic", flip(0), "magic"),
        ("flipped size", flip(23), "checksum"),
        ("flipped state byte", flip(good.len() / 2), "checksum"),
        ("flipped checksum", flip(good.len() - 1), "checksum"),
        (
            "older state schema",
            resealed(&good, &key, |b| {
                b[12..16].copy_from_slice(&(STATE_SCHEMA - 1).to_be_bytes())
            }),
            "schema",
        ),
        (
            "newer format",
            resealed(&good, &key, |b| {
                b[8..12].copy_from_slice(&99u32.to_be_bytes())
            }),
            "format 99",
        ),
        (
            // Another ledger's key made its checksum.
            "another log, same size",
            std::fs::read(other.join(FILE_NAME)).unwrap(),
            "checksum",
        ),
        (
            // What anyone who can write the data directory, but holds no checkpoint key,
            // could make: the state edited, an unkeyed checksum.
            "edited, unkeyed checksum",
            {
                let mut b = good[..good.len() - 32].to_vec();
                b[good.len() / 2] ^= 1;
                let sum = *blake3::hash(&b).as_bytes();
                b.extend_from_slice(&sum);
                b
            },
            "checksum",
        ),
        (
            "a longer log",
            std::fs::read(longer.join(FILE_NAME)).unwrap(),
            "not of this log",
        ),
        (
            "state cut, checksum resealed",
            resealed(&good, &key, |b| b.truncate(b.len() - 10)),
            "snapshot's state",
        ),
        (
            "wrong hash recorded, checksum resealed",
            resealed(&good, &key, |b| b[30] ^= 1),
            "not of this log",
        ),
    ];
    for (i, (name, bytes, why)) in cases.into_iter().enumerate() {
        let d = base.path().join(format!("case{i}"));
        copy_dir(&clean, &d);
        std::fs::write(d.join(FILE_NAME), &bytes).unwrap();
        let l = open(&d);
        let r = l.open_report().clone();
        assert_eq!(r.snapshot, None, "{name}: the snapshot was used");
        assert_eq!(r.replayed, n, "{name}: not a full replay");
        let unused = r.snapshot_unused.unwrap_or_default();
        assert!(
            unused.contains(why),
            "{name}: reason {unused:?} lacks {why:?}"
        );
        assert!(state(&l) == reference, "{name}: state differs");
        assert_eq!(l.integrity(), Integrity::Verified, "{name}");
        // A good one replaces it at shutdown.
        l.shutdown();
        drop(l);
        let l = open(&d);
        assert_eq!(l.open_report().snapshot, Some(n), "{name}: not rewritten");
    }
}

/// A crash while a snapshot is being written leaves the old one (the new one was a
/// `.partial` file); the next open ignores the leftover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leftover_partial_snapshot_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = build(d).await;
    std::fs::write(d.join(format!("{FILE_NAME}.partial")), b"half a snap").unwrap();
    let l = open(d);
    assert_eq!(l.open_report().snapshot, Some(n));
}

/// The binary encoding of a fixed state. If this fails, the state's layout (or what `apply`
/// makes of these events) changed: bump `snapshot::STATE_SCHEMA`, so that snapshots written
/// by older versions are ignored instead of misread, and update the expected digest.
#[test]
fn snapshot_schema_guard() {
    let mut s = State::new();
    let t0 = chrono::DateTime::from_timestamp(1_750_000_000, 123_456_000).unwrap();
    let mut seq = 0u64;
    // The generated district's names are part of the encoded state (Chinese by default).
    for events in district(40, 2) {
        for e in events {
            let event = Event::decode(&e).unwrap();
            let meta = Meta {
                seq,
                hash: *blake3::hash(&seq.to_be_bytes()).as_bytes(),
                recorded_at: t0 + chrono::Duration::seconds(seq as i64),
                actor: "hr".into(),
            };
            s.apply_decoded(meta, Some(event));
            seq += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let pos = Position {
        head: Head {
            size: seq,
            hash: [1; 32],
            root: [2; 32],
        },
        frontier: vec![[3; 32]; seq.count_ones() as usize],
    };
    let key = rotaledger::snapshot::SnapshotKey::of(
        &rotaledger::merkle::CheckpointKey::from_seed("test", &[1; 32]).unwrap(),
    );
    snapshot::write(dir.path(), &pos, &s, &key).unwrap();
    let bytes = std::fs::read(snapshot::path(dir.path())).unwrap();
    let parsed = snapshot::parse(&bytes, &key).unwrap();
    let back: State = snapshot::decode(parsed.state).unwrap();
    assert!(back == s, "the state does not survive its encoding");
    let digest = blake3::hash(parsed.state).to_hex().to_string();
    assert_eq!(
        (STATE_SCHEMA, digest.as_str()),
        (
            9,
            "28ea951a5eb19e3f64b26401250893f4bbce6bd8163e084e0823af95f3ddd599"
        ),
        "the state's binary form changed ({} entries, {} bytes): bump STATE_SCHEMA",
        seq,
        parsed.state.len()
    );
}

/// The server restarted on a snapshot answers queries exactly as after a full replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_the_same_from_a_snapshot() {
    use rotaledger::proto;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d).await;
    let (teacher, group) = {
        let l = full(d);
        let s = l.snapshot();
        let t = s.state.teachers().next().unwrap().id.to_string();
        let g = s.state.groups().next().unwrap().id.to_string();
        (t, g)
    };

    async fn answers(p: &ServeProc, teacher: &str, group: &str) -> Vec<String> {
        p.ready().await;
        let mut q = p.connect().query().await.unwrap();
        let as_of = "2025-06-30".to_string();
        vec![
            format!(
                "{:?}",
                q.terms(proto::TermsRequest {
                    as_of: as_of.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
            ),
            format!(
                "{:?}",
                q.teams(proto::TeamsRequest {
                    as_of: as_of.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
            ),
            format!(
                "{:?}",
                q.teacher_history(proto::TeacherHistoryRequest {
                    teacher: teacher.into(),
                    as_of: as_of.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
            ),
            format!(
                "{:?}",
                q.group_summary(proto::GroupSummaryRequest {
                    group: group.into(),
                    school_year: 2024,
                    as_of: as_of.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
            ),
        ]
    }

    let full_run = {
        let p = ServeProc::start_with(d, &["--full-check"]);
        answers(&p, &teacher, &group).await
    }; // SIGKILL: the snapshot stays as `build` left it
    let log = d.join("serve.log");
    let snap_run = {
        let p = ServeProc::start_logged(d, &[], &log);
        answers(&p, &teacher, &group).await
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("state loaded from the snapshot"),
        "the second server did not use the snapshot: {text}"
    );
    assert_eq!(full_run.len(), snap_run.len());
    for (a, b) in full_run.iter().zip(&snap_run) {
        assert_eq!(a, b);
    }
    assert!(full_run[0].contains("dispatch"), "no terms to compare");
}

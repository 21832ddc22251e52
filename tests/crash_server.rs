//! Crash consistency over the wire: the real `rotaledger serve` binary takes concurrent appends
//! from several gRPC clients and is SIGKILLed at random moments; after each restart on the same
//! data directory the log verifies, checkpoints stay consistent, every acknowledged append is
//! present once where it was acknowledged, and every unacknowledged one can be retried safely.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotaledger::merkle::{SignedCheckpoint, VerifierKey, verify_consistency};
use rotaledger::proto;

use crate::util::{ServeProc, bin, school_event};

/// One append as a client made it: its events, and the answer if one came back.
#[derive(Clone, Debug)]
struct Sent {
    events: Vec<String>,
    acked: Option<(Vec<u64>, Vec<Vec<u8>>)>,
}

/// Cheap deterministic randomness (no extra dependency): xorshift.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn digest(b: &[u8]) -> [u8; 32] {
    b.try_into().expect("32-byte hash")
}

/// Everything in the log: seq -> (hash, request id).
async fn read_log(p: &ServeProc) -> Vec<(Vec<u8>, String)> {
    let mut out = Vec::new();
    for e in crate::util::served_entries(&p.connect()).await {
        assert_eq!(e.seq, out.len() as u64);
        let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        out.push((e.hash, body["request_id"].as_str().unwrap().to_owned()));
    }
    out
}

/// The checks after a restart; returns the latest checkpoint (size, root).
async fn check_after_restart(
    p: &ServeProc,
    seed: u64,
    round: usize,
    sent: &mut HashMap<String, Sent>,
    seen: &[(u64, [u8; 32])],
    key: &mut Option<VerifierKey>,
) -> ((u64, [u8; 32]), usize) {
    let ctx = format!("seed {seed:#x}, round {round}");
    let mut a = p.connect().audit().await.unwrap();
    let v = a
        .verify(proto::VerifyRequest {
            from_seq: 0,
            to_seq: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(v.ok, "{ctx}: Audit.Verify failed: {:?}", v.first_bad);
    let k: VerifierKey = a
        .get_public_key(proto::GetPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner()
        .verifier_key
        .parse()
        .unwrap();
    if let Some(old) = key {
        assert_eq!(old.to_string(), k.to_string(), "{ctx}: the key changed");
    }
    *key = Some(k.clone());
    let cp = a
        .get_checkpoint(proto::GetCheckpointRequest {
            size: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .checkpoint
        .unwrap();
    let latest = SignedCheckpoint::parse(&cp.text).unwrap();
    let latest = latest.verify(&k).unwrap().clone();
    for &(size, root) in seen {
        let r = a
            .get_consistency_proof(proto::GetConsistencyProofRequest {
                old_size: size,
                new_size: Some(latest.size),
            })
            .await
            .unwrap_or_else(|e| panic!("{ctx}: consistency {size}..{}: {e}", latest.size))
            .into_inner();
        let proof: Vec<[u8; 32]> = r.hashes.iter().map(|h| digest(h)).collect();
        verify_consistency(
            &crate::util::profile(),
            size,
            latest.size,
            &root,
            &latest.root,
            &proof,
        )
        .unwrap_or_else(|e| panic!("{ctx}: checkpoint {size} is not extended: {e}"));
    }

    let log = read_log(p).await;
    assert_eq!(log.len() as u64, latest.size, "{ctx}");
    let mut by_rid: HashMap<&str, Vec<u64>> = HashMap::new();
    for (seq, (_, rid)) in log.iter().enumerate() {
        by_rid.entry(rid.as_str()).or_default().push(seq as u64);
    }
    let mut ledger = p.connect().ledger().await.unwrap();
    let mut landed_unacked = 0;
    for (rid, s) in sent.iter_mut() {
        let landed = by_rid.get(rid.as_str()).cloned().unwrap_or_default();
        match &s.acked {
            Some((seqs, hashes)) => {
                assert_eq!(
                    &landed, seqs,
                    "{ctx}: acknowledged {rid} not once at its seqs"
                );
                for (seq, h) in seqs.iter().zip(hashes) {
                    assert_eq!(&log[*seq as usize].0, h, "{ctx}: {rid} entry {seq} hash");
                }
            }
            None => {
                assert!(
                    landed.is_empty() || landed.len() == s.events.len(),
                    "{ctx}: {rid} landed in part: {landed:?}"
                );
                let r = ledger
                    .append(proto::AppendRequest {
                        events: s.events.clone(),
                        request_id: rid.clone(),
                        expected_size: None,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{ctx}: retry of {rid}: {e}"))
                    .into_inner();
                if !landed.is_empty() {
                    landed_unacked += 1;
                    assert!(r.duplicate, "{ctx}: retry of landed {rid} not a duplicate");
                    assert_eq!(r.seqs, landed, "{ctx}: retry of {rid} moved");
                } else {
                    assert!(!r.duplicate, "{ctx}: {rid} never landed yet is a duplicate");
                }
                s.acked = Some((r.seqs, r.entry_hashes));
            }
        }
    }
    // Every entry belongs to exactly one append the clients sent: nothing duplicated.
    let expected: usize = sent.values().map(|s| s.events.len()).sum();
    let size_now = ledger
        .get_head(proto::GetHeadRequest {})
        .await
        .unwrap()
        .into_inner()
        .head
        .unwrap()
        .size;
    assert_eq!(
        size_now as usize, expected,
        "{ctx}: entries beyond the appends sent"
    );
    ((latest.size, latest.root), landed_unacked)
}

/// Starts the server with frequent background snapshots (every 20 entries), so that SIGKILLs
/// also land while a snapshot is being written; its log goes to `serve-ROUND.log`.
fn start(data: &std::path::Path, dir: &std::path::Path, round: usize) -> ServeProc {
    let log = dir.join(format!("serve-{round}.log"));
    ServeProc::start_logged(data, &["--snapshot-every", "20"], &log)
}

/// After a restart: the snapshot on disk (if any) is whole, and the server did not have to
/// ignore it as damaged or foreign (a missing one is fine early on). 1 if it was used.
fn check_snapshot(data: &std::path::Path, dir: &std::path::Path, round: usize, seed: u64) -> usize {
    let ctx = format!("seed {seed:#x}, round {round}");
    if let Ok(bytes) = std::fs::read(rotaledger::snapshot::path(data))
        && let Err(e) = rotaledger::snapshot::parse(&bytes, &crate::util::snapshot_key(data))
    {
        panic!("{ctx}: the snapshot left by a SIGKILL is unusable: {e}");
    }
    let log = std::fs::read_to_string(dir.join(format!("serve-{round}.log"))).unwrap();
    for bad in [
        "is damaged",
        "not of this log",
        "snapshot's state",
        "this version reads",
    ] {
        assert!(
            !(log.contains("state snapshot not used") && log.contains(bad)),
            "{ctx}: {log}"
        );
    }
    usize::from(log.contains("state loaded from the snapshot"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let seed = std::env::var("ROTALEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            (t ^ u64::from(std::process::id())) | 1
        });
    eprintln!("crash_server seed {seed:#x} (rerun with ROTALEDGER_CRASH_SEED={seed:x})");
    let mut rng = seed;
    let sent: Arc<Mutex<HashMap<String, Sent>>> = Arc::default();
    let mut seen: Vec<(u64, [u8; 32])> = Vec::new();
    let mut key = None;
    let mut next_school = 0u64;
    let (mut acked_total, mut retried_total, mut landed_unacked) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    const ROUNDS: usize = 30;
    let mut from_snapshot = 0;
    for round in 0..ROUNDS {
        let mut p = start(&data, dir.path(), round);
        p.ready().await;
        from_snapshot += check_snapshot(&data, dir.path(), round, seed);
        {
            let mut map = sent.lock().unwrap().clone();
            retried_total += map.values().filter(|s| s.acked.is_none()).count();
            let (cp, landed) =
                check_after_restart(&p, seed, round, &mut map, &seen, &mut key).await;
            landed_unacked += landed;
            seen.push(cp);
            *sent.lock().unwrap() = map;
        }
        // Four clients append 1 to 3 new schools at a time until the server dies.
        let mut tasks = Vec::new();
        for c in 0..4u64 {
            let conn = p.connect();
            let sent = sent.clone();
            let first = next_school + c * 100_000;
            let counts: Vec<u64> = (0..1000).map(|_| 1 + next(&mut rng) % 3).collect();
            tasks.push(tokio::spawn(async move {
                let Ok(mut l) = conn.ledger().await else {
                    return;
                };
                let mut school = first;
                for (i, n) in counts.into_iter().enumerate() {
                    let rid = format!("r{round}-c{c}-{i}");
                    let events: Vec<String> = (school..school + n).map(school_event).collect();
                    school += n;
                    sent.lock().unwrap().insert(
                        rid.clone(),
                        Sent {
                            events: events.clone(),
                            acked: None,
                        },
                    );
                    match l
                        .append(proto::AppendRequest {
                            events,
                            request_id: rid.clone(),
                            expected_size: None,
                        })
                        .await
                    {
                        Ok(r) => {
                            let r = r.into_inner();
                            if let Some(s) = sent.lock().unwrap().get_mut(&rid) {
                                s.acked = Some((r.seqs, r.entry_hashes));
                            }
                        }
                        Err(_) => return,
                    }
                }
            }));
        }
        next_school += 4 * 100_000;
        let wait = 100 + next(&mut rng) % 201;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        p.kill();
        for t in tasks {
            let _ = t.await;
        }
        acked_total += sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(rid, s)| rid.starts_with(&format!("r{round}-")) && s.acked.is_some())
            .count();
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "seed {seed:#x}: {round} rounds took too long"
        );
    }
    // A last restart checks the last round, then an offline verification of the store.
    {
        let mut p = start(&data, dir.path(), ROUNDS);
        p.ready().await;
        from_snapshot += check_snapshot(&data, dir.path(), ROUNDS, seed);
        let mut map = sent.lock().unwrap().clone();
        let unacked = map.values().filter(|s| s.acked.is_none()).count();
        retried_total += unacked;
        let (cp, landed) = check_after_restart(&p, seed, ROUNDS, &mut map, &seen, &mut key).await;
        landed_unacked += landed;
        assert!(cp.0 > 0, "seed {seed:#x}: nothing was ever appended");
        p.kill();
    }
    let out = crate::util::retry_while_locked(|| {
        let out = std::process::Command::new(bin())
            .arg("verify")
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.code() == Some(0) {
            Ok(text)
        } else {
            Err(text)
        }
    })
    .unwrap_or_else(|e| panic!("seed {seed:#x}: offline verify failed: {e}"));
    assert!(out.contains("verified"), "{out}");
    assert!(
        from_snapshot > ROUNDS / 2,
        "seed {seed:#x}: only {from_snapshot} restarts used the snapshot"
    );
    eprintln!(
        "crash_server: {ROUNDS} kills, {} appends sent, {acked_total} acknowledged before a kill, \
         {retried_total} unacknowledged retried ({landed_unacked} of them had landed), \
         {from_snapshot} restarts from a state snapshot, {:?}",
        sent.lock().unwrap().len(),
        started.elapsed()
    );
}

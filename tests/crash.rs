//! Crash consistency of the log: a child process appends from several threads and reports each
//! acknowledged append on stdout; the parent SIGKILLs it at a random moment, reopens the store,
//! verifies the chain, and checks that every acknowledged append is present, whole and exactly
//! once, and that no partial append is visible.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotaledger::log::Store;
use rotaledger::log::verify::verify_store;

use crate::util::{open_log, request};

const CHILD_ENV: &str = "ROTALEDGER_CRASH_CHILD_DIR";

/// The child side: only does something when the parent sets the environment variable.
#[test]
#[ignore = "run by crash::acknowledged_appends_survive_sigkill as its child process"]
fn crash_child_append_loop() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let w = Arc::new(open_log(std::path::Path::new(&dir)));
    let round = std::env::var("ROTALEDGER_CRASH_ROUND").unwrap_or_default();
    let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (w, out, round) = (w.clone(), out.clone(), round.clone());
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let rid = format!("{round}-{t}-{i}");
                    // 1 to 4 entries per append, each naming its request and place in it.
                    let n = 1 + (i % 4);
                    let items: Vec<String> = (0..n)
                        .map(|k| format!(r#"{{"rid":"{rid}","k":{k},"n":{n}}}"#))
                        .collect();
                    let o = w.append_blocking(request("crash", &rid, &items)).unwrap();
                    let mut out = out.lock().unwrap();
                    writeln!(out, "ack {rid} {} {n}", o.first_seq).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// Cheap deterministic randomness (no extra dependency): xorshift.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let started = Instant::now();
    let mut rounds = 0;
    let mut total_acked = 0usize;
    // At least 20 rounds, and never more than about 60 seconds in all.
    while rounds < 20 || (rounds < 40 && started.elapsed() < Duration::from_secs(30)) {
        if started.elapsed() > Duration::from_secs(60) && rounds >= 20 {
            break;
        }
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash::crash_child_append_loop",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .env("ROTALEDGER_CRASH_ROUND", rounds.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let parts: Vec<&str> = line.split_whitespace().collect();
                if parts.len() == 4 && parts[0] == "ack" {
                    acks.push((
                        parts[1].to_string(),
                        parts[2].parse::<u64>().unwrap(),
                        parts[3].parse::<u64>().unwrap(),
                    ));
                }
            }
            acks
        });
        // Kill somewhere between 20 ms and 300 ms in (process start included).
        std::thread::sleep(Duration::from_millis(20 + next(&mut rng) % 280));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        total_acked += acks.len();

        let store = Store::open(dir.path()).unwrap();
        let head = store.check_head().unwrap();
        let v = verify_store(&store, &mut |_| {})
            .unwrap()
            .unwrap_or_else(|f| panic!("round {rounds}: chain does not verify: {f}"));
        assert_eq!(v.head, head);
        // Group the stored entries by request.
        let mut by_rid: HashMap<String, Vec<(u64, u64, u64)>> = HashMap::new();
        for e in store.raw_all() {
            let (seq, value) = e.unwrap();
            let entry = rotaledger::log::Entry::from_stored(seq, &value).unwrap();
            let p: serde_json::Value =
                serde_json::from_str(&entry.meta().unwrap().payload).unwrap();
            let rid = p["rid"].as_str().unwrap().to_string();
            by_rid.entry(rid).or_default().push((
                seq,
                p["k"].as_u64().unwrap(),
                p["n"].as_u64().unwrap(),
            ));
        }
        // No partial append: every request present is present whole, contiguous, once.
        for (rid, es) in &by_rid {
            let n = es[0].2;
            assert_eq!(
                es.len() as u64,
                n,
                "round {rounds}: request {rid} is partial or doubled"
            );
            for (i, (seq, k, _)) in es.iter().enumerate() {
                assert_eq!((*seq - es[0].0, *k), (i as u64, i as u64), "{rid}");
            }
        }
        // Every acknowledged append is there, where the acknowledgement said.
        for (rid, first, n) in &acks {
            let es = by_rid
                .get(rid)
                .unwrap_or_else(|| panic!("round {rounds}: acknowledged {rid} is missing"));
            assert_eq!((es[0].0, es.len() as u64), (*first, *n), "{rid}");
        }
        drop(store);
        rounds += 1;
    }
    assert!(rounds >= 20);
    assert!(total_acked > 0, "the child never acknowledged anything");
}

//! A damaged store: `rotaledger serve` refuses to start on it, naming what is wrong, with exit
//! code 2, and repairs nothing.

use std::path::Path;

use rotaledger::ledger::{Ledger, LedgerOptions};
use rotaledger::log::store::{HEAD_KEY, entry_key, node_key};

use crate::util::{ServeProc, copy_dir, school_event, serve_until_exit};

/// Edits the sled database directly, as a disk fault or an intruder would.
fn with_db(data: &Path, edit: impl FnOnce(&sled::Db)) {
    let db = crate::util::retry_while_locked(|| sled::open(data)).unwrap();
    edit(&db);
    db.flush().unwrap();
}

/// A store of 8 entries (so the whole Merkle tree is one stored node, level 3).
async fn build(data: &Path) {
    let l = Ledger::open(data, LedgerOptions::default()).unwrap();
    for i in 0..8 {
        l.append("tester", &format!("r{i}"), None, vec![school_event(i)])
            .await
            .unwrap();
    }
    l.shutdown();
    drop(l);
}

type Damage = fn(&Path);

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

    let cases: Vec<(&str, Damage, &[&str])> = vec![
        (
            "deleted Merkle node",
            |d| {
                with_db(d, |db| {
                    assert!(db.remove(node_key(3, 0)).unwrap().is_some());
                })
            },
            &["Merkle", "refusing to serve"],
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
            &["head", "refusing to serve"],
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
            &["head record says 7 entries", "refusing to serve"],
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
            &["first bad entry 3", "refusing to serve"],
        ),
        (
            "deleted entry",
            |d| {
                with_db(d, |db| {
                    assert!(db.remove(entry_key(2)).unwrap().is_some());
                })
            },
            &["entry 2", "refusing to serve"],
        ),
    ];
    for (i, (name, damage, needles)) in cases.into_iter().enumerate() {
        let data = base.path().join(format!("case{i}"));
        copy_dir(&clean, &data);
        damage(&data);
        let before = verify_line(&data);
        let (code, err) = serve_until_exit(&data);
        assert_eq!(code, 2, "{name}: exit code; stderr: {err}");
        for n in needles {
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
    assert!(clean_line.contains("8 entries"), "{clean_line}");
    let len = std::fs::metadata(clean.join("db")).unwrap().len() as usize;
    let (mut refused, mut harmless) = (0, 0);
    for k in 0..20 {
        let data = base.path().join(format!("raw{k}"));
        copy_dir(&clean, &data);
        let p = data.join("db");
        let name = if k < 10 {
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
        };
        if verify_line(&data) == clean_line.replace("clean", &format!("raw{k}")) {
            harmless += 1;
            continue;
        }
        let (code, err) = serve_until_exit(&data);
        assert_eq!(code, 2, "{name}: exit code; stderr: {err}");
        assert!(err.contains("refusing to serve"), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        refused += 1;
    }
    eprintln!("raw damage: {refused} refused, {harmless} left the log intact");
    assert!(refused >= 2, "no raw damage was noticed");

    // The undamaged store serves, so the refusals above are about the damage.
    let p = ServeProc::start(&clean);
    p.ready().await;
}

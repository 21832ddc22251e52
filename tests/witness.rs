//! Witnesses as processes: a primary configured with two witnesses, each a `rotaledger witness
//! run` process on loopback. Under appends, checkpoints cosigned by both appear and verify
//! (with `checkpoint --cosigned` and `audit export --witness-key`); a witness killed and
//! restarted goes on from its state; a primary restarted on another history (same key) is
//! caught and nothing of it is cosigned. And the log's side as a client meets it: what
//! `AddCosignature` keeps and what it refuses.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rotaledger::cli::client::Connect;
use rotaledger::merkle::{Checkpoint, CheckpointKey, SignedCheckpoint, WitnessKey};
use rotaledger::proto;

use crate::util::{
    ServeProc, TestServer, append_schools, append_to as append, bin, bounded, run_bin,
};

/// Appends of 5 events, one every 100 ms or so, while the witnesses work.
const LOAD: u64 = 60;

/// A `rotaledger witness run` child; SIGKILLed when dropped.
struct WitnessProc {
    child: std::process::Child,
    out: PathBuf,
}

impl WitnessProc {
    fn start(server: &str, key: &Path, state: &Path, out: &Path) -> WitnessProc {
        let child = std::process::Command::new(bin())
            .args(["witness", "run", "--server", server, "--interval", "1"])
            .arg("--key")
            .arg(key)
            .arg("--state")
            .arg(state)
            .env_remove("ROTALEDGER_TOKEN")
            .stdout(std::fs::File::create(out).unwrap())
            .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        WitnessProc {
            child,
            out: out.to_owned(),
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
            + &std::fs::read_to_string(self.out.with_extension("err")).unwrap_or_default()
    }

    /// Waits (bounded) for the process to exit by itself; its exit code.
    async fn exit_within(&mut self, secs: u64) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the witness did not exit within {secs} s: {}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Makes a witness key with `rotaledger witness new-key`; its key file and verifier key file.
async fn new_witness(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let (code, out, err) = run_bin(vec![
        "witness".into(),
        "new-key".into(),
        "--name".into(),
        format!("witness.example/{name}"),
        "--out".into(),
        key.display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&public, &out).unwrap();
    (key, public)
}

/// The checkpoint `req` asks for, as its note text.
async fn get_checkpoint(
    c: &Connect,
    req: proto::GetCheckpointRequest,
) -> Result<String, tonic::Status> {
    crate::util::get_checkpoint(c, req).await.map(|cp| cp.text)
}

/// The checkpoint the ledger offers its witnesses now.
async fn offer(c: &Connect) -> String {
    get_checkpoint(
        c,
        proto::GetCheckpointRequest {
            for_witness: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// The latest checkpoint with `k` cosignatures, or the refusal.
async fn with_cosignatures(c: &Connect, k: u32) -> Result<String, tonic::Status> {
    get_checkpoint(
        c,
        proto::GetCheckpointRequest {
            min_cosignatures: k,
            ..Default::default()
        },
    )
    .await
}

/// The latest checkpoint cosigned by `k` witnesses, once it covers at least `size` entries
/// (waited for, at most `secs`).
async fn cosigned(c: &Connect, k: u32, size: u64, secs: u64) -> SignedCheckpoint {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let req = proto::GetCheckpointRequest {
            min_cosignatures: k,
            ..Default::default()
        };
        if let Ok(text) = get_checkpoint(c, req).await {
            let cp = SignedCheckpoint::parse(&text).unwrap();
            if cp.checkpoint.size >= size {
                return cp;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of {size} entries or more with {k} cosignatures within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verifier(public: &Path) -> rotaledger::merkle::WitnessVerifier {
    std::fs::read_to_string(public)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_witnesses_cosign_under_appends_survive_a_kill_and_refuse_a_fork() {
    bounded(240, async {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let (k1, p1) = new_witness(dir, "w1").await;
        let (k2, p2) = new_witness(dir, "w2").await;
        let (_k3, p3) = new_witness(dir, "w3").await;
        let pd = dir.join("primary");
        let primary = ServeProc::start_with(
            &pd,
            &[
                "--witness-key",
                p1.to_str().unwrap(),
                "--witness-key",
                p2.to_str().unwrap(),
                "--witness-interval",
                "2",
            ],
        );
        primary.ready().await;
        let p = primary.connect();
        let receipt = append(&p, "a", 0, 10).await;
        let s1 = dir.join("w1.state");
        let s2 = dir.join("w2.state");
        let mut w1 = WitnessProc::start(&primary.url, &k1, &s1, &dir.join("w1.out"));
        let w2 = WitnessProc::start(&primary.url, &k2, &s2, &dir.join("w2.out"));

        // Appends keep coming while the witnesses work: they still meet on one checkpoint.
        let appender = {
            let p = p.clone();
            tokio::spawn(async move {
                for i in 0..LOAD {
                    append(&p, &format!("load-{i}"), 1000 + i * 5, 1005 + i * 5).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        // Both witnesses cosigned one checkpoint that covers some of the load's appends and
        // not all of them: they met on it while the appends were coming.
        let cp = cosigned(&p, 2, 11, 60).await;
        assert!(
            cp.checkpoint.size < 10 + LOAD * 5,
            "the witnesses met only after the load: {}",
            cp.checkpoint.size
        );
        let head_key: rotaledger::merkle::VerifierKey = crate::util::public_key(&p)
            .await
            .verifier_key
            .parse()
            .unwrap();
        cp.verify(&head_key).unwrap();
        let named = [verifier(&p1), verifier(&p2)];
        assert_eq!(
            rotaledger::merkle::require_cosignatures(&cp, &named, 2).unwrap(),
            ["witness.example/w1", "witness.example/w2"],
            "{}",
            cp.to_text()
        );
        appender.await.unwrap();
        let end = 10 + LOAD * 5;
        let cp = cosigned(&p, 2, end, 60).await;
        assert_eq!(cp.checkpoint.size, end, "the last append is witnessed too");
        // The witnessed checkpoint is also the one served at its size, and the latest.
        let at = get_checkpoint(
            &p,
            proto::GetCheckpointRequest {
                size: Some(end),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(at, cp.to_text());

        // A reader's k of n: both named witnesses cosigned; a third, unconfigured one did not.
        let args = |extra: &[&Path], k: Option<&str>| {
            let mut a: Vec<String> = vec![
                "checkpoint".into(),
                "--server".into(),
                p.server.clone(),
                "--cosigned".into(),
                "2".into(),
            ];
            for w in extra {
                a.push("--witness-key".into());
                a.push(w.display().to_string());
            }
            if let Some(k) = k {
                a.push("--witnesses".into());
                a.push(k.into());
            }
            a
        };
        let (code, out, err) = run_bin(args(&[&p1, &p2], None)).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            err.contains("cosigned by 2 of the 2 named witnesses"),
            "{err}"
        );
        let (code, out, err) = run_bin(args(&[&p1, &p2, &p3], None)).await;
        assert_eq!(code, 1, "3 of 3 required, w3 never cosigned: {out}{err}");
        assert!(err.contains("witness.example/w3: none"), "{err}");
        let (code, out, err) = run_bin(args(&[&p1, &p2, &p3], Some("2"))).await;
        assert_eq!(code, 0, "2 of 3: {out}{err}");

        // `audit export` against the witnessed checkpoint, offline, with the witnesses' keys.
        let export = dir.join("export.jsonl");
        let (code, out, err) = run_bin(vec![
            "export".into(),
            "--server".into(),
            p.server.clone(),
            "--out".into(),
            export.display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        let cp_file = dir.join("witnessed.cp");
        std::fs::write(&cp_file, cp.to_text()).unwrap();
        let key_file = dir.join("log.pub");
        std::fs::write(&key_file, head_key.to_string()).unwrap();
        let audit = |extra: Vec<String>| {
            let mut a: Vec<String> = vec![
                "audit".into(),
                "export".into(),
                "--export".into(),
                export.display().to_string(),
                "--checkpoint".into(),
                cp_file.display().to_string(),
                "--key".into(),
                key_file.display().to_string(),
            ];
            a.extend(extra);
            run_bin(a)
        };
        let wk = |p: &Path| vec!["--witness-key".to_string(), p.display().to_string()];
        let (code, out, err) = audit([wk(&p1), wk(&p2)].concat()).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("cosigned by 2 of the 2 named witnesses"),
            "{out}"
        );
        let (code, out, err) = audit(wk(&p3)).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("BAD: checkpoint"), "{out}");

        // A receipt held to the witnesses: entry 3's hash from the append's answer, proven in
        // the witnessed checkpoint with a proof file fetched from the server.
        let proof = dir.join("inc-3.json");
        let (code, out, err) = run_bin(vec![
            "audit".into(),
            "prove".into(),
            "inclusion".into(),
            "--server".into(),
            p.server.clone(),
            "--seq".into(),
            "3".into(),
            "--size".into(),
            end.to_string(),
            "--out".into(),
            proof.display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        let inclusion = |hash: String| {
            let mut a: Vec<String> = vec![
                "audit".into(),
                "inclusion".into(),
                "--proof".into(),
                proof.display().to_string(),
                "--checkpoint".into(),
                cp_file.display().to_string(),
                "--key".into(),
                key_file.display().to_string(),
                "--entry-hash".into(),
                hash,
            ];
            a.extend([wk(&p1), wk(&p2), wk(&p3)].concat());
            a.extend(["--witnesses".to_string(), "2".to_string()]);
            run_bin(a)
        };
        let (code, out, err) = inclusion(hex::encode(&receipt.entry_hashes[3])).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("cosigned by 2 of the 3 named witnesses"),
            "{out}"
        );
        let (code, out, err) = inclusion(hex::encode(&receipt.entry_hashes[4])).await;
        assert_eq!(code, 1, "another entry's hash: {out}{err}");

        // A witness SIGKILLed and restarted goes on from its state.
        w1.kill();
        let saved = |s: &Path| {
            let st = rotaledger::cli::watch::load_state(s).unwrap().unwrap();
            SignedCheckpoint::parse(&st.checkpoint.unwrap())
                .unwrap()
                .checkpoint
        };
        assert_eq!(saved(&s1).size, end);
        append(&p, "after-kill", 5000, 5007).await;
        let w1 = WitnessProc::start(&primary.url, &k1, &s1, &dir.join("w1b.out"));
        let cp = cosigned(&p, 2, end + 7, 60).await;
        assert_eq!(cp.checkpoint.size, end + 7);
        assert!(
            !w1.output().contains("WARNING"),
            "the key stays pinned: {}",
            w1.output()
        );

        // Another history under the same key, where the primary was: both witnesses catch
        // it, keep the evidence, exit 1 and cosign nothing of it. They are paused while it
        // starts, so that they first see it holding the forged entries (an empty log in
        // between would be caught too, as a rollback).
        for w in [&w1, &w2] {
            crate::util::signal(&w.child, "STOP");
        }
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::copy(pd.join("checkpoint.key"), other.join("checkpoint.key")).unwrap();
        let listen = primary.url.trim_start_matches("http://").to_owned();
        drop(primary);
        let forged = ServeProc::start_at(
            &other,
            &listen,
            &[
                "--witness-key",
                p1.to_str().unwrap(),
                "--witness-key",
                p2.to_str().unwrap(),
            ],
        );
        forged.ready().await;
        append(&forged.connect(), "fork", 9000, 9400).await;
        for w in [&w1, &w2] {
            crate::util::signal(&w.child, "CONT");
        }
        for (mut w, state) in [(w1, &s1), (w2, &s2)] {
            assert_eq!(w.exit_within(30).await, 1, "{}", w.output());
            let out = w.output();
            assert!(out.contains("FORK"), "{out}");
            assert!(out.contains("Evidence kept in"), "{out}");
            assert_eq!(
                saved(state).size,
                end + 7,
                "the state still holds the last good one"
            );
            let evidence: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(state.file_name().unwrap().to_str().unwrap())
                        && n.contains(".fork-evidence-")
                })
                .collect();
            assert_eq!(evidence.len(), 1);
            let text = std::fs::read_to_string(evidence[0].path()).unwrap();
            assert!(text.contains("--- saved checkpoint ---"), "{text}");
            assert!(text.contains("--- new checkpoint ---"), "{text}");
        }
        // Restarted, a witness that saw the fork refuses at once: its operator must look.
        let mut again = WitnessProc::start(&forged.url, &k1, &s1, &dir.join("w1c.out"));
        assert_eq!(again.exit_within(30).await, 1, "{}", again.output());
        assert!(
            again.output().contains("found the log forked before"),
            "{}",
            again.output()
        );
        let none = with_cosignatures(&forged.connect(), 1).await.unwrap_err();
        assert_eq!(none.code(), tonic::Code::NotFound, "{none:?}");
    })
    .await;
}

/// The log's side of `AddCosignature`, called as a client would: what it keeps, what it
/// refuses and with which code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_cosignature_keeps_only_valid_cosignatures_of_configured_witnesses() {
    bounded(120, async {
        let w1 = WitnessKey::from_seed("witness.example/w1", &[1; 32]).unwrap();
        let w2 = WitnessKey::from_seed("witness.example/w2", &[2; 32]).unwrap();
        let stranger = WitnessKey::from_seed("witness.example/x", &[9; 32]).unwrap();
        let keys = vec![w1.verifier(), w2.verifier()];
        let s = TestServer::start_in(tempfile::tempdir().unwrap(), move |c| {
            c.ledger.witnesses.keys = keys;
        })
        .await;
        append_schools(&s, "a", 0, 5).await;
        let c = s.connect(None);
        let offered = offer(&c).await;
        let cp = SignedCheckpoint::parse(&offered).unwrap();
        assert_eq!(cp.checkpoint.size, 5);
        assert_eq!(
            cp.signatures.len(),
            1,
            "offered with the log's signature only"
        );
        let with = |w: &WitnessKey, cp: &Checkpoint| {
            format!("{offered}{}\n", w.cosign(cp, 1_800_000_000).unwrap().line())
        };
        let add = |text: String| {
            let c = c.clone();
            async move {
                c.audit()
                    .await
                    .unwrap()
                    .add_cosignature(proto::AddCosignatureRequest { checkpoint: text })
                    .await
                    .map(|r| r.into_inner())
            }
        };
        // Nothing cosigned yet.
        let none = with_cosignatures(&c, 1).await.unwrap_err();
        assert_eq!(none.code(), tonic::Code::NotFound);

        let r = add(with(&w1, &cp.checkpoint)).await.unwrap();
        assert_eq!((r.size, r.cosignatures, r.added), (5, 1, 1));
        let r = add(with(&w1, &cp.checkpoint)).await.unwrap();
        assert_eq!(
            (r.cosignatures, r.added),
            (1, 0),
            "the same witness again adds nothing"
        );

        // A witness the log is not configured with.
        let e = add(with(&stranger, &cp.checkpoint)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
        assert!(e.message().contains("witness.example/x"), "{e:?}");
        // A cosignature over another body (a size the text does not state).
        let mut other = cp.checkpoint.clone();
        other.size = 4;
        let e = add(with(&w2, &other)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains("does not verify"), "{e:?}");
        // No cosignature at all.
        let e = add(offered.clone()).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        // A checkpoint signed by another key.
        let foreign = CheckpointKey::from_seed("rotaledger", &[7; 32]).unwrap();
        let forged = cp.checkpoint.sign(&foreign).unwrap();
        let text = format!(
            "{}{}\n",
            forged.to_text(),
            w2.cosign(&cp.checkpoint, 1).unwrap().line()
        );
        let e = add(text).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(
            e.message().contains("not a checkpoint this log signed"),
            "{e:?}"
        );
        // The log's own key over a root that is not its root at that size.
        let own = CheckpointKey::load(&s.dir.path().join("data").join("checkpoint.key")).unwrap();
        let mut lie = cp.checkpoint.clone();
        lie.root = [0xab; 32];
        let lie_text = lie.sign(&own).unwrap().to_text();
        let text = format!("{lie_text}{}\n", w2.cosign(&lie, 1).unwrap().line());
        let e = add(text).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains("not this log's root"), "{e:?}");

        // The second witness: the checkpoint now carries both, and is served with them.
        let r = add(with(&w2, &cp.checkpoint)).await.unwrap();
        assert_eq!((r.cosignatures, r.added), (2, 1));
        let served = with_cosignatures(&c, 2).await.unwrap();
        let served = SignedCheckpoint::parse(&served).unwrap();
        assert_eq!(served.checkpoint, cp.checkpoint);
        assert_eq!(
            rotaledger::merkle::require_cosignatures(&served, &[w1.verifier(), w2.verifier()], 2)
                .unwrap()
                .len(),
            2
        );
        // More than configured: out of range.
        let e = with_cosignatures(&c, 3).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::OutOfRange, "{e:?}");
        // size with for_witness: refused, naming the field.
        let e = get_checkpoint(
            &c,
            proto::GetCheckpointRequest {
                size: Some(1),
                for_witness: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");

        // Kept across a restart: served again, and offered again while the head is there.
        let dir = s.stop().await;
        let keys = vec![w1.verifier(), w2.verifier()];
        let s = TestServer::start_in(dir, move |c| c.ledger.witnesses.keys = keys).await;
        let c = s.connect(None);
        let again = with_cosignatures(&c, 2).await.unwrap();
        assert_eq!(SignedCheckpoint::parse(&again).unwrap(), served);
        let offered_again = offer(&c).await;
        assert_eq!(
            offered_again, offered,
            "the cosigned checkpoint is offered again"
        );

        // Two checkpoints of one size: the log keeps the first one cosigned, refuses
        // cosignatures on the other (FAILED_PRECONDITION, WITNESS), and offers the kept one.
        append_schools(&s, "b", 5, 8).await;
        let c = s.connect(None);
        let offer_8 = offer(&c).await;
        let offer_8 = SignedCheckpoint::parse(&offer_8).unwrap();
        assert_eq!(offer_8.checkpoint.size, 8);
        let own = CheckpointKey::load(&s.dir.path().join("data").join("checkpoint.key")).unwrap();
        let mut other = offer_8.checkpoint.clone();
        other.time -= chrono::Duration::seconds(3600);
        let other_signed = other.sign(&own).unwrap();
        let note = |cp: &SignedCheckpoint, w: &WitnessKey| {
            format!(
                "{}{}\n",
                cp.to_text(),
                w.cosign(&cp.checkpoint, 1).unwrap().line()
            )
        };
        let add = |text: String| {
            let c = c.clone();
            async move {
                c.audit()
                    .await
                    .unwrap()
                    .add_cosignature(proto::AddCosignatureRequest { checkpoint: text })
                    .await
            }
        };
        add(note(&other_signed, &w1)).await.unwrap();
        let e = add(note(&offer_8, &w2)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{e:?}");
        assert!(
            e.message().contains("another checkpoint of size 8"),
            "{e:?}"
        );
        let switched = offer(&c).await;
        assert_eq!(
            SignedCheckpoint::parse(&switched).unwrap().checkpoint,
            other,
            "the offer follows the checkpoint of its size that was cosigned"
        );
        add(note(&other_signed, &w2)).await.unwrap();
        s.stop().await;
    })
    .await;
}

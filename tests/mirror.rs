//! Mirrors as processes: a primary and two `serve --follow` mirrors on loopback. Appends
//! reach both mirrors, whose answers equal the primary's; a killed mirror or primary loses
//! nothing; a primary restarted on another history (same key) is caught as a fork and
//! nothing of the fork is served.

use std::path::Path;
use std::time::{Duration, Instant};

use rotaledger::cli::client::Connect;
use rotaledger::merkle::SignedCheckpoint;
use rotaledger::proto;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::util::{
    ServeProc, append_to as append, bounded, school_events, served_entries as entries, try_append,
};

/// `serve --follow URL` on `data`, at `listen`.
fn mirror_at(data: &Path, listen: &str, primary: &str) -> ServeProc {
    ServeProc::start_at(data, listen, &["--follow", primary])
}

async fn head(c: &Connect) -> proto::GetHeadResponse {
    c.ledger()
        .await
        .unwrap()
        .get_head(proto::GetHeadRequest {})
        .await
        .unwrap()
        .into_inner()
}

async fn checkpoint(c: &Connect) -> proto::Checkpoint {
    crate::util::get_checkpoint(c, proto::GetCheckpointRequest::default())
        .await
        .unwrap()
}

/// T1's history, as served.
async fn history_of_t1(c: &Connect) -> proto::TeacherHistoryResponse {
    c.query()
        .await
        .unwrap()
        .teacher_history(proto::TeacherHistoryRequest {
            teacher: "T1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn district(c: &Connect) -> proto::DistrictResponse {
    c.query()
        .await
        .unwrap()
        .district(proto::DistrictRequest {
            school_year: 2024,
            as_of: "2024-10-01".into(),
            recorded_up_to: None,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits (at most `secs`) until the mirror's head is `size`.
async fn caught_up(mirror: &Connect, size: u64, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(mut c) = mirror.ledger().await
            && let Ok(h) = c.get_head(proto::GetHeadRequest {}).await
            && h.into_inner().head.unwrap_or_default().size == size
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the mirror did not reach {size} entries within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (at most `secs`) until the mirror says it stands `status`.
async fn mirror_status(mirror: &Connect, status: &str, secs: u64) -> proto::MirrorState {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(mut c) = mirror.ledger().await
            && let Ok(h) = c.get_head(proto::GetHeadRequest {}).await
            && let Some(m) = h.into_inner().mirror
            && m.status == status
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "the mirror was not {status} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `rotaledger-mirror` header of a `GetHead` answer, if there is one.
async fn mirror_header(c: &Connect) -> Option<String> {
    let answer = c
        .ledger()
        .await
        .unwrap()
        .get_head(proto::GetHeadRequest {})
        .await
        .unwrap();
    answer
        .metadata()
        .get("rotaledger-mirror")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn health(c: &Connect, service: &str) -> i32 {
    let channel = tonic::transport::Endpoint::from_shared(c.server.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// `host:port` of a server's URL.
fn addr(p: &ServeProc) -> String {
    p.url.trim_start_matches("http://").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_mirrors_copy_the_primary_answer_as_it_does_and_survive_kills() {
    bounded(240, async {
        let root = tempfile::tempdir().unwrap();
        let (pd, m1d, m2d) = (
            root.path().join("primary"),
            root.path().join("m1"),
            root.path().join("m2"),
        );
        let mut primary = ServeProc::start_with(&pd, &[]);
        primary.ready().await;
        let p = primary.connect();
        // More than one part (4096 entries) to copy, in appends of 1000: the first part
        // ends at an append's end inside it.
        for i in 0..5u64 {
            append(
                &p,
                &format!("first-{i}"),
                10_000 + i * 1000,
                11_000 + i * 1000,
            )
            .await;
        }
        let mut m1 = mirror_at(&m1d, "127.0.0.1:0", &primary.url);
        let m2 = mirror_at(&m2d, "127.0.0.1:0", &primary.url);
        m1.ready().await;
        m2.ready().await;
        let (c1, c2) = (m1.connect(), m2.connect());
        caught_up(&c1, 5000, 60).await;
        caught_up(&c2, 5000, 60).await;

        // Teachers, whose names are personal fields, sealed on the primary: copied as sealed.
        let teachers: Vec<String> = (0..3)
            .map(|i| {
                format!(
                    r#"{{"type":"teacher_registered","version":1,"teacher":"T{i}","name":"王老师{i}","school":"S10000","subject":"mathematics","title":"intermediate","key_level":"none","employed_date":"2005-09-01","date":"2024-09-01"}}"#
                )
            })
            .collect();
        p.ledger()
            .await
            .unwrap()
            .append(proto::AppendRequest {
                events: teachers,
                request_id: "teachers".into(),
                expected_size: None,
            })
            .await
            .unwrap();
        let size0 = 5003;
        caught_up(&c1, size0, 30).await;

        // Appends from eight clients at once, while both mirrors follow.
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..8u64 {
                    let from = 1000 + (t * 8 + i) * 5;
                    append(&p, &format!("c{t}-{i}"), from, from + 5).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let size = head(&p).await.head.unwrap().size;
        assert_eq!(size, size0 + 8 * 8 * 5);
        caught_up(&c1, size, 30).await;
        caught_up(&c2, size, 30).await;

        // Byte for byte the same log, the same signed checkpoint, the same answers.
        let original = entries(&p).await;
        assert_eq!(original.len() as u64, size);
        assert_eq!(entries(&c1).await, original);
        assert_eq!(entries(&c2).await, original);
        let cp = checkpoint(&p).await;
        assert_eq!(checkpoint(&c1).await.root, cp.root);
        assert_eq!(checkpoint(&c2).await.size, size);
        let d = district(&p).await;
        assert_eq!(district(&c1).await, d);
        assert_eq!(district(&c2).await, d);
        let key = p
            .audit()
            .await
            .unwrap()
            .get_public_key(proto::GetPublicKeyRequest {})
            .await
            .unwrap()
            .into_inner();
        let mirrored_key = c1
            .audit()
            .await
            .unwrap()
            .get_public_key(proto::GetPublicKeyRequest {})
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mirrored_key.verifier_key, key.verifier_key);
        // The mirror's checkpoint is the primary's, and verifies with the primary's key.
        let verifier: rotaledger::merkle::VerifierKey = key.verifier_key.parse().unwrap();
        let mirrored = SignedCheckpoint::parse(&checkpoint(&c1).await.text).unwrap();
        assert_eq!(mirrored.verify(&verifier).unwrap().size, size);

        // Checkpoints only over the sizes it copied at: the first part ended at 4000, the end
        // of the fourth append (a part holds at most 4096 entries).
        let mut a1 = c1.audit().await.unwrap();
        let at_4000 = a1
            .get_checkpoint(proto::GetCheckpointRequest { size: Some(4000), ..Default::default() })
            .await
            .unwrap()
            .into_inner()
            .checkpoint
            .unwrap();
        let at_4000 = SignedCheckpoint::parse(&at_4000.text).unwrap();
        assert_eq!(at_4000.verify(&verifier).unwrap().size, 4000);
        let between = a1
            .get_checkpoint(proto::GetCheckpointRequest { size: Some(4500), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(between.code(), tonic::Code::FailedPrecondition);
        assert!(between.message().contains("4000"), "{between:?}");

        // A mirror appends nothing: FAILED_PRECONDITION, naming the primary.
        let refused = c1
            .ledger()
            .await
            .unwrap()
            .append(proto::AppendRequest {
                events: school_events(5000, 5001),
                request_id: "on-a-mirror".into(),
                expected_size: None,
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
        assert!(refused.message().contains(&primary.url), "{refused:?}");
        // Every answer of a mirror says how it stands, in a header; a primary's does not.
        let answer = c1
            .query()
            .await
            .unwrap()
            .district(proto::DistrictRequest {
                school_year: 2024,
                as_of: "2024-10-01".into(),
                recorded_up_to: None,
            })
            .await
            .unwrap();
        assert_eq!(
            answer.metadata().get("rotaledger-mirror").map(|v| v.to_str().unwrap()),
            Some("following")
        );
        assert_eq!(mirror_header(&p).await, None);
        let state = head(&c1).await.mirror.unwrap();
        assert_eq!(
            (state.status.as_str(), state.primary.as_str()),
            ("following", primary.url.as_str())
        );
        assert_eq!(health(&c1, "rotaledger.mirror").await, SERVING);
        assert_eq!(head(&p).await.mirror, None);

        // A mirror killed and restarted resumes from its own head and loses nothing.
        let m1_addr = addr(&m1);
        m1.kill();
        append(&p, "while-m1-was-down", 2000, 2100).await;
        let m1 = mirror_at(&m1d, &m1_addr, &primary.url);
        m1.ready().await;
        caught_up(&c1, size + 100, 30).await;
        caught_up(&c2, size + 100, 30).await;

        // The primary killed under the mirrors and restarted at the same address: they wait,
        // stale, then follow it again.
        let p_addr = addr(&primary);
        primary.kill();
        mirror_status(&c1, "stale", 20).await;
        assert_eq!(health(&c1, "rotaledger.mirror").await, NOT_SERVING);
        assert_eq!(mirror_header(&c1).await.as_deref(), Some("stale"));
        // Still answering, from what it verified.
        assert_eq!(head(&c1).await.head.unwrap().size, size + 100);
        let primary = ServeProc::start_at(&pd, &p_addr, &[]);
        primary.ready().await;
        append(&p, "after-restart", 3000, 3010).await;
        caught_up(&c1, size + 110, 60).await;
        caught_up(&c2, size + 110, 60).await;
        mirror_status(&c2, "following", 10).await;
        assert_eq!(entries(&c1).await, entries(&p).await);
        assert_eq!(entries(&c2).await, entries(&p).await);
        // The mirror shows no personal field (their keys stay with the primary).
        let history = history_of_t1(&c1).await;
        assert_eq!(history.summary.unwrap().name, None);
        let on_primary = history_of_t1(&p).await;
        assert_eq!(on_primary.summary.unwrap().name.as_deref(), Some("王老师1"));
        drop((m1, m2, primary));
        // The same idempotency records as the primary's: a promoted mirror answers retries
        // as the primary did.
        let (ps, ms) = (crate::util::open_store(&pd), crate::util::open_store(&m1d));
        let mut ids: Vec<String> = vec!["teachers".into(), "while-m1-was-down".into()];
        ids.extend((0..5).map(|i| format!("first-{i}")));
        ids.extend((0..64).map(|k| format!("c{}-{}", k / 8, k % 8)));
        for id in ids {
            let key = rotaledger::log::store::request_key("local", &id);
            let rec = ps.request(&key).unwrap();
            assert!(rec.is_some(), "{id}");
            assert_eq!(ms.request(&key).unwrap(), rec, "{id}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_restarted_on_another_history_is_caught_and_nothing_of_it_served() {
    bounded(180, async {
        let root = tempfile::tempdir().unwrap();
        let (pd, other, md) = (
            root.path().join("primary"),
            root.path().join("other"),
            root.path().join("mirror"),
        );
        let mut primary = ServeProc::start_with(&pd, &[]);
        primary.ready().await;
        let p = primary.connect();
        append(&p, "a", 0, 10).await;
        let mirror = mirror_at(&md, "127.0.0.1:0", &primary.url);
        mirror.ready().await;
        let m = mirror.connect();
        caught_up(&m, 10, 30).await;
        let before = entries(&m).await;
        let trusted = checkpoint(&m).await;

        // Another history signed with the same key: the operator's restored key on a store
        // that does not hold the log the mirror copied.
        std::fs::create_dir_all(&other).unwrap();
        std::fs::copy(pd.join("checkpoint.key"), other.join("checkpoint.key")).unwrap();
        let p_addr = addr(&primary);
        primary.kill();
        let forged = ServeProc::start_at(&other, &p_addr, &[]);
        forged.ready().await;
        append(&p, "b", 100, 125).await;

        let state = mirror_status(&m, "forked", 30).await;
        assert_eq!(mirror_header(&m).await.as_deref(), Some("forked"));
        assert!(state.reason.contains("consistency"), "{state:?}");
        // Nothing of the fork is served: the same entries, the same checkpoint.
        assert_eq!(entries(&m).await, before);
        assert_eq!(checkpoint(&m).await, trusted);
        assert_eq!(health(&m, "rotaledger.mirror").await, NOT_SERVING);
        // The evidence: both checkpoints, each verifying with the one key, and the proof.
        let evidence = std::fs::read_dir(&md)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("fork-evidence-")
            })
            .expect("an evidence file");
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(evidence.path()).unwrap()).unwrap();
        let key: rotaledger::merkle::VerifierKey = std::fs::read_to_string(md.join("primary.pub"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let old = SignedCheckpoint::parse(doc["trusted_checkpoint"].as_str().unwrap()).unwrap();
        let new = SignedCheckpoint::parse(doc["new_checkpoint"].as_str().unwrap()).unwrap();
        assert_eq!(old.verify(&key).unwrap().size, 10);
        assert_eq!(new.verify(&key).unwrap().size, 25);
        assert_eq!(doc["consistency_proof"]["old_size"], 10);
        assert!(
            rotaledger::merkle::verify_consistency(
                &crate::util::profile(),
                10,
                25,
                &old.checkpoint.root,
                &new.checkpoint.root,
                &doc["consistency_proof"]["hashes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| hex::decode(h.as_str().unwrap())
                        .unwrap()
                        .try_into()
                        .unwrap())
                    .collect::<Vec<[u8; 32]>>(),
            )
            .is_err()
        );
        // A restart does not forget it: the mirror stays forked, serving what it verified.
        let m_addr = addr(&mirror);
        drop(mirror);
        let mirror = mirror_at(&md, &m_addr, &forged.url);
        mirror.ready().await;
        let again = mirror_status(&m, "forked", 10).await;
        assert!(again.reason.contains("fork-evidence-"), "{again:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(entries(&m).await, before);

        // `rotaledger head` says so too.
        let (code, out, _) =
            crate::util::run_bin(vec!["head".into(), "--server".into(), m.server.clone()]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("size 10\n"), "{out}");
        assert!(out.contains("forked"), "{out}");
        drop((forged, mirror));
    })
    .await;
}

/// Sends `signal` (e.g. `-STOP`) to a child server with the system's `kill`.
fn signal(p: &ServeProc, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_primary_that_stops_answering_makes_the_mirror_stale_not_silent() {
    bounded(120, async {
        let root = tempfile::tempdir().unwrap();
        let primary = ServeProc::start_with(&root.path().join("primary"), &[]);
        primary.ready().await;
        let p = primary.connect();
        append(&p, "a", 0, 5).await;
        let mirror = mirror_at(&root.path().join("mirror"), "127.0.0.1:0", &primary.url);
        mirror.ready().await;
        let m = mirror.connect();
        caught_up(&m, 5, 30).await;
        mirror_status(&m, "following", 10).await;
        // The primary stops answering without closing its connections (a hung machine, a
        // dropped route): within two idle checks the mirror says so.
        signal(&primary, "-STOP");
        let state = mirror_status(&m, "stale", 40).await;
        assert!(state.reason.contains("did not answer"), "{state:?}");
        assert_eq!(head(&m).await.head.unwrap().size, 5);
        // Back: the mirror follows again and copies what comes next.
        signal(&primary, "-CONT");
        append(&p, "b", 5, 8).await;
        caught_up(&m, 8, 60).await;
        mirror_status(&m, "following", 10).await;
        drop((mirror, primary));
    })
    .await;
}

/// `serve --sync-mirrors 1`: no append is acknowledged before a mirror holds it durably, so
/// when the primary is SIGKILLed under concurrent appends and its data directory lost, every
/// acknowledged append is in the mirror, entry for entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_sync_mirrors_no_acknowledged_append_is_lost_with_the_primarys_disk() {
    bounded(180, async {
        let root = tempfile::tempdir().unwrap();
        let (pd, md) = (root.path().join("primary"), root.path().join("mirror"));
        let mut primary =
            ServeProc::start_with(&pd, &["--sync-mirrors", "1", "--sync-timeout", "1.5"]);
        primary.ready().await;
        let p = primary.connect();

        // No mirror yet: durable on the primary, but not acknowledged.
        let started = Instant::now();
        let refused = try_append(&p, "first", 0, 10).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
        assert!(
            refused.message().contains("0 of the 1 mirrors"),
            "{refused:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(1400));
        assert_eq!(
            head(&p).await.head.unwrap().size,
            10,
            "durable on the primary"
        );

        // A mirror arrives: the retry with the same request id is acknowledged.
        let mirror = mirror_at(&md, "127.0.0.1:0", &primary.url);
        mirror.ready().await;
        let m = mirror.connect();
        let deadline = Instant::now() + Duration::from_secs(30);
        let retried = loop {
            match try_append(&p, "first", 0, 10).await {
                Ok(r) => break r,
                Err(s) => assert!(
                    s.code() == tonic::Code::Unavailable && Instant::now() < deadline,
                    "{s:?}"
                ),
            }
        };
        assert!(retried.duplicate);
        assert!(head(&m).await.head.unwrap().size >= 10);

        // The primary restarts, forgetting what the mirror confirmed: the mirror tells it
        // again when it reconnects, so a retry is answered with nothing new appended.
        let listen = addr(&primary);
        primary.kill();
        let mut primary = ServeProc::start_at(
            &pd,
            &listen,
            &["--sync-mirrors", "1", "--sync-timeout", "5"],
        );
        primary.ready().await;
        mirror_status(&m, "following", 30).await;
        let again = append(&p, "first", 0, 10).await;
        assert!(again.duplicate, "{again:?}");
        assert!(
            std::fs::read_to_string(md.join("mirror.id"))
                .unwrap()
                .trim()
                .len()
                == 16
        );

        // Eight clients append for a while; each acknowledged append is recorded.
        let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Instant::now() + Duration::from_secs(3);
        let mut tasks = Vec::new();
        for c in 0..8u64 {
            let (p, acked) = (p.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < stop {
                    let from = 100_000 + c * 100_000 + i * 3;
                    let r = append(&p, &format!("c{c}-{i}"), from, from + 3).await;
                    acked.lock().unwrap().push(r);
                    i += 1;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // The primary's disk is lost.
        primary.kill();
        std::fs::remove_dir_all(&pd).unwrap();
        let copied = entries(&m).await;
        let acked = acked.lock().unwrap();
        assert!(
            acked.len() > 20,
            "only {} appends acknowledged",
            acked.len()
        );
        for r in acked.iter() {
            for (seq, hash) in r.seqs.iter().zip(&r.entry_hashes) {
                let e = copied
                    .get(*seq as usize)
                    .unwrap_or_else(|| panic!("acknowledged entry {seq} is not on the mirror"));
                assert_eq!(&e.hash, hash, "entry {seq}");
            }
        }
        drop(mirror);
    })
    .await;
}

/// `ReportReplicated` as the primary meets it: only the mirror (or admin) role counts, a
/// root that is not the log's own at that size confirms nothing, and once a mirror has
/// reported a size, appends up to it are acknowledged at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_counts_only_true_reports_of_mirror_tokens() {
    bounded(120, async {
        use rotaledger::grpc::auth::Access;
        let dir = tempfile::tempdir().unwrap();
        let text = crate::util::access_text(&[
            ("hr", "writer", "", "tok-writer"),
            ("auditor-1", "auditor", "", "tok-auditor"),
            ("mirror-a", "mirror", "", "tok-mirror"),
        ]);
        let access = Access::load(&crate::util::write_access_file(dir.path(), &text)).unwrap();
        let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let readyz = format!("http://{}/readyz", http.local_addr().unwrap());
        let s = crate::util::TestServer::start_in(dir, |c| {
            c.access = access;
            c.http = Some(rotaledger::server::HttpListener::bound(http));
            c.ledger.sync = rotaledger::ledger::SyncConfig {
                mirrors: 1,
                timeout: Duration::from_millis(300),
            };
        })
        .await;
        let writer = s.connect(Some("tok-writer"));
        let e = try_append(&writer, "a", 0, 4).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
        let h = head(&writer).await.head.unwrap();
        assert_eq!(h.size, 4);
        let report = |token: &'static str, size: u64, root: Vec<u8>| {
            let c = s.connect(Some(token));
            async move {
                c.audit()
                    .await
                    .unwrap()
                    .report_replicated(proto::ReportReplicatedRequest {
                        mirror_id: "m1".into(),
                        size,
                        root,
                        term: 0,
                    })
                    .await
                    .map(|r| r.into_inner().confirmed_size)
            }
        };
        let e = report("tok-auditor", 4, h.root.clone()).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        let e = report("tok-mirror", 4, vec![7; 32]).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains("another history"), "{e:?}");
        let e = report("tok-mirror", 5, h.root.clone()).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        // Nothing was confirmed by the refused reports: still unavailable.
        let e = try_append(&writer, "a", 0, 4).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
        let sync = |r: serde_json::Value| r["sync"].clone();
        let before: serde_json::Value = reqwest::get(&readyz).await.unwrap().json().await.unwrap();
        assert_eq!(before["status"], "ready", "{before}");
        assert_eq!(
            sync(before),
            serde_json::json!({"mirrors_required": 1, "confirmed_size": 0, "unconfirmed_entries": 4, "mirrors": []})
        );
        // Unconfirmed entries: a checkpoint over them goes to a mirror (it copies by it),
        // never to a reader or a witness, so that a failover cannot leave a second history
        // signed in anyone's hands.
        let checkpoint_size = |token: &'static str, size: Option<u64>| {
            let c = s.connect(Some(token));
            async move {
                crate::util::get_checkpoint(
                    &c,
                    proto::GetCheckpointRequest {
                        size,
                        ..Default::default()
                    },
                )
                .await
                .map(|cp| cp.size)
            }
        };
        assert_eq!(checkpoint_size("tok-auditor", None).await.unwrap(), 0);
        assert_eq!(checkpoint_size("tok-mirror", None).await.unwrap(), 4);
        assert_eq!(checkpoint_size("tok-mirror", Some(3)).await.unwrap(), 3);
        let e = checkpoint_size("tok-auditor", Some(3)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
        assert!(e.message().contains("not yet held by the mirrors"), "{e:?}");
        let proof = |token: &'static str| {
            let c = s.connect(Some(token));
            async move {
                c.audit()
                    .await
                    .unwrap()
                    .get_inclusion_proof(proto::GetInclusionProofRequest { seq: 1, size: None })
                    .await
                    .map(|r| r.into_inner().checkpoint.unwrap().size)
            }
        };
        let e = proof("tok-auditor").await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unavailable, "{e:?}");
        assert_eq!(proof("tok-mirror").await.unwrap(), 4);
        assert_eq!(report("tok-mirror", 4, h.root.clone()).await.unwrap(), 4);
        assert_eq!(checkpoint_size("tok-auditor", None).await.unwrap(), 4);
        assert_eq!(proof("tok-auditor").await.unwrap(), 4);
        let after: serde_json::Value = reqwest::get(&readyz).await.unwrap().json().await.unwrap();
        assert_eq!(
            sync(after),
            serde_json::json!({"mirrors_required": 1, "confirmed_size": 4, "unconfirmed_entries": 0, "mirrors": [{"mirror": "mirror-a/m1", "size": 4}]})
        );
        let again = append(&writer, "a", 0, 4).await;
        assert!(again.duplicate);
        // The data keys go to mirror tokens only; none were made here (no sealed field).
        let read_keys = |token: &'static str| {
            let c = s.connect(Some(token));
            async move {
                c.audit()
                    .await
                    .unwrap()
                    .read_data_keys(proto::ReadDataKeysRequest {
                        from: 0,
                        master_key_id: Vec::new(),
                    })
                    .await
                    .map(|r| r.into_inner())
            }
        };
        let e = read_keys("tok-auditor").await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
        let keys = read_keys("tok-mirror").await.unwrap();
        assert_eq!((keys.records.len(), keys.total), (0, 0));
        assert_eq!(keys.master_key_id.len(), 16);
        s.stop().await;
    })
    .await;
}

/// A standby mirror given the primary's master key copies the personal-data keys with the
/// entries (an erasure destroys its copy too), so that after the primary's disk is lost the
/// mirror, promoted by hand, opens the sealed names; a mirror with a master key of its own
/// copies none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standby_with_the_master_key_holds_the_data_keys_and_is_promoted_with_the_names() {
    bounded(180, async {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let (pd, sd, od) = (
            root.path().join("primary"),
            root.path().join("standby"),
            root.path().join("other"),
        );
        let master = root.path().join("master.key");
        std::fs::write(&master, format!("{}\n", "4d".repeat(32))).unwrap();
        std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = master.to_str().unwrap();
        // The standby reads with a mirror's token, the other mirror with an auditor's; the
        // primary acknowledges an append only once one mirror holds it (with its keys).
        let access = crate::util::write_access_file(
            root.path(),
            &crate::util::access_text(&[
                ("bureau", "admin", "", "tok-admin"),
                ("standby", "mirror", "", "tok-standby"),
                ("outside", "auditor", "", "tok-outside"),
            ]),
        );
        let token_file = |name: &str, token: &str| {
            let f = root.path().join(name);
            std::fs::write(&f, token).unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
            f
        };
        let (st, ot) = (
            token_file("standby.token", "tok-standby"),
            token_file("outside.token", "tok-outside"),
        );
        let primary = ServeProc::start_with(
            &pd,
            &[
                "--master-key",
                m,
                "--config",
                access.to_str().unwrap(),
                "--sync-mirrors",
                "1",
                "--sync-timeout",
                "20",
            ],
        );
        let p = Connect {
            token: Some("tok-admin".into()),
            ..primary.connect()
        };
        let standby = ServeProc::start_with(
            &sd,
            &[
                "--follow",
                &primary.url,
                "--follow-token",
                st.to_str().unwrap(),
                "--master-key",
                m,
            ],
        );
        let other = ServeProc::start_with(
            &od,
            &["--follow", &primary.url, "--follow-token", ot.to_str().unwrap()],
        );
        p.wait_serving(Duration::from_secs(30)).await.unwrap();
        standby.ready().await;
        other.ready().await;

        let keys = |d: &Path| std::fs::read(d.join("data-keys")).unwrap();
        let keys_len = |d: &Path| keys(d).len();
        let teachers: Vec<String> = (0..3)
            .map(|i| {
                format!(
                    r#"{{"type":"teacher_registered","version":1,"teacher":"T{i}","name":"王老师{i}","school":"S10000","subject":"mathematics","title":"intermediate","key_level":"none","employed_date":"2005-09-01","date":"2024-09-01"}}"#
                )
            })
            .collect();
        append(&p, "school", 10_000, 10_001).await;
        let r = p
            .ledger()
            .await
            .unwrap()
            .append(proto::AppendRequest {
                events: teachers,
                request_id: "teachers".into(),
                expected_size: None,
            })
            .await
            .unwrap()
            .into_inner();
        let size = r.head.unwrap().size;
        // Acknowledged: the standby already holds the three keys (it copies them before it
        // reports what it holds, and the primary waits for that report).
        assert_eq!(keys_len(&sd), 4 * 256, "the keys were on the standby at the acknowledgement");
        caught_up(&standby.connect(), size, 30).await;
        caught_up(&other.connect(), size, 30).await;

        // The standby's key store becomes the primary's, byte for byte.
        let same_keys = |secs: u64| {
            let (pd, sd) = (pd.clone(), sd.clone());
            async move {
                let deadline = Instant::now() + Duration::from_secs(secs);
                while keys(&pd) != keys(&sd) {
                    assert!(
                        Instant::now() < deadline,
                        "the standby's data keys are not the primary's after {secs} s"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        same_keys(30).await;
        assert_eq!(keys(&pd).len(), 4 * 256, "a header and three keys");
        assert_eq!(keys(&od).len(), 256, "the other mirror holds no key");

        // An erasure on the primary destroys the standby's copy too.
        let erase = r#"{"type":"personal_data_erased","version":1,"teacher":"T1","basis":"test: request 1","date":"2024-10-01"}"#;
        let r = p
            .ledger()
            .await
            .unwrap()
            .append(proto::AppendRequest {
                events: vec![erase.into()],
                request_id: "erase".into(),
                expected_size: None,
            })
            .await
            .unwrap()
            .into_inner();
        caught_up(&standby.connect(), r.head.unwrap().size, 30).await;
        same_keys(30).await;
        assert!(
            !keys(&sd).windows(2).any(|w| w == b"T1"),
            "nothing of T1's key is left on the standby"
        );

        // The primary's disk is lost; its checkpoint key was kept apart (RELIABILITY.md).
        let kept = root.path().join("checkpoint.key.kept");
        std::fs::copy(pd.join("checkpoint.key"), &kept).unwrap();
        drop(primary);
        std::fs::remove_dir_all(&pd).unwrap();
        // Promotion by hand: stop the standby, give it the log's checkpoint key, start it
        // without --follow (MIRRORS.md).
        drop(standby);
        std::fs::copy(&kept, sd.join("checkpoint.key")).unwrap();
        let promoted = ServeProc::start_with(&sd, &["--master-key", m]);
        promoted.ready().await;
        let n = promoted.connect();
        let name = |teacher: &'static str| {
            let n = n.clone();
            async move {
                n.query()
                    .await
                    .unwrap()
                    .teacher_history(proto::TeacherHistoryRequest {
                        teacher: teacher.into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .summary
                    .unwrap()
            }
        };
        assert_eq!(name("T0").await.name.as_deref(), Some("王老师0"));
        assert_eq!(name("T2").await.name.as_deref(), Some("王老师2"));
        let t1 = name("T1").await;
        assert_eq!(t1.name, None);
        assert!(t1.personal_data_erased_on.is_some());
        // And it takes appends as the primary.
        append(&n, "after", 20_000, 20_002).await;
        drop(other);
    })
    .await;
}

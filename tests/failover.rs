//! Failover through etcd, as processes: a real etcd (Debian's `etcd-server`) and three
//! `serve --etcd` nodes on loopback with `--sync-mirrors 1`. One is elected primary, the
//! others follow it; eight clients append; the primary is SIGKILLed under load; a standby
//! is elected within a bounded time and no acknowledged append is lost; the old primary,
//! restarted, rejoins as a standby (its unacknowledged tail set aside); a primary cut off
//! from etcd stops taking appends.
//!
//! Where etcd is not installed the test is skipped with the install line on stderr, unless
//! `ROTALEDGER_REQUIRE_ETCD=1` (set by `.ci/run`, which installs it), which makes a skip a
//! failure.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotaledger::cli::client::Connect;
use rotaledger::proto;

use crate::util::{ServeProc, bounded, school_events};

/// One append of `school_event(i)` for `i` in `from..to` to the node `c` names: the answer,
/// or why not (a node that cannot be reached: `UNAVAILABLE`).
async fn try_append(
    c: &Connect,
    request_id: &str,
    from: u64,
    to: u64,
) -> Result<proto::AppendResponse, tonic::Status> {
    let mut ledger = c
        .ledger()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    ledger
        .append(proto::AppendRequest {
            events: school_events(from, to),
            request_id: request_id.into(),
            expected_size: None,
        })
        .await
        .map(|r| r.into_inner())
}

/// Set to 1 (as `.ci/run` does) to fail instead of skipping where etcd is missing.
const REQUIRE_ETCD: &str = "ROTALEDGER_REQUIRE_ETCD";

/// The etcd server, if installed.
fn etcd_bin() -> Option<PathBuf> {
    ["/usr/bin/etcd", "/usr/local/bin/etcd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A free port on loopback (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A one-member etcd on loopback; killed when dropped.
struct Etcd {
    child: std::process::Child,
    url: String,
    dir: PathBuf,
    peer: String,
}

impl Etcd {
    fn start(bin: &Path, dir: &Path) -> Etcd {
        let url = format!("http://127.0.0.1:{}", free_port());
        let peer = format!("http://127.0.0.1:{}", free_port());
        let mut e = Etcd {
            child: Self::spawn(bin, dir, &url, &peer),
            url,
            dir: dir.to_owned(),
            peer,
        };
        e.wait_up();
        if let Some(s) = e.child.try_wait().unwrap() {
            panic!("etcd exited: {s}");
        }
        e
    }

    fn spawn(bin: &Path, dir: &Path, url: &str, peer: &str) -> std::process::Child {
        std::process::Command::new(bin)
            .args(["--name", "t", "--data-dir"])
            .arg(dir)
            .args([
                "--listen-client-urls",
                url,
                "--advertise-client-urls",
                url,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                &format!("t={peer}"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("etcd starts")
    }

    fn wait_up(&self) {
        let addr = self.url.trim_start_matches("http://").to_owned();
        for _ in 0..300 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("etcd did not come up at {}", self.url);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self, bin: &Path) {
        self.kill();
        self.child = Self::spawn(bin, &self.dir, &self.url, &self.peer);
        self.wait_up();
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What every node shares, and each node's own.
struct Group {
    root: PathBuf,
    etcd: String,
    listen: Vec<String>,
}

impl Group {
    fn data(&self, i: usize) -> PathBuf {
        self.root.join(format!("node{i}"))
    }

    fn url(&self, i: usize) -> String {
        format!("http://{}", self.listen[i])
    }

    /// `serve --etcd` for node `i`, its log in `<root>/node<i>.log`.
    fn start(&self, i: usize) -> ServeProc {
        let r = |f: &str| self.root.join(f).display().to_string();
        let token = r(&format!("mirror{i}.token"));
        let args = [
            "--etcd",
            &self.etcd,
            "--advertise",
            &self.url(i),
            "--checkpoint-key",
            &r("checkpoint.key"),
            "--master-key",
            &r("master.key"),
            "--config",
            &r("access.toml"),
            "--follow-token",
            &token,
            "--origin",
            "failover-test",
            "--lease-ttl",
            "3",
            "--sync-mirrors",
            "1",
            "--sync-timeout",
            "3",
        ];
        ServeProc::start_logged_at(
            &self.data(i),
            &self.listen[i],
            &args,
            &self.root.join(format!("node{i}.log")),
        )
    }

    fn client(&self, i: usize, token: &str) -> Connect {
        Connect {
            server: self.url(i),
            token: Some(token.into()),
            token_file: None,
            tls_ca: None,
            json: false,
        }
    }
}

/// GetHead of node `i`, bounded: `None` if it does not answer.
async fn head(c: &Connect) -> Option<proto::GetHeadResponse> {
    let ask = async {
        c.ledger()
            .await
            .ok()?
            .get_head(proto::GetHeadRequest {})
            .await
            .ok()
            .map(|r| r.into_inner())
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

/// The node serving as primary (its GetHead carries no mirror state), waiting up to `secs`.
async fn primary(g: &Group, token: &str, secs: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        for i in 0..g.listen.len() {
            if let Some(h) = head(&g.client(i, token)).await
                && h.mirror.is_none()
            {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no primary within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every entry node `c` serves.
async fn entries(c: &Connect) -> Vec<proto::Entry> {
    let mut s = c
        .audit()
        .await
        .unwrap()
        .read_entries(proto::ReadEntriesRequest {
            from_seq: 0,
            to_seq: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = s.message().await.unwrap() {
        out.push(m.entry.unwrap());
    }
    out
}

/// Waits until node `c` is a mirror following with at least `size` entries.
async fn following(c: &Connect, size: u64, secs: u64) -> proto::GetHeadResponse {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(h) = head(c).await
            && h.mirror.as_ref().is_some_and(|m| m.status == "following")
            && h.head.as_ref().is_some_and(|x| x.size >= size)
        {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "{} not following with {size} entries within {secs} s: {:?}",
            c.server,
            head(c).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_is_replaced_through_etcd_and_no_acknowledged_append_is_lost() {
    let Some(etcd_bin) = etcd_bin() else {
        assert!(
            std::env::var_os(REQUIRE_ETCD).is_none_or(|v| v != "1"),
            "etcd is required ({REQUIRE_ETCD}=1) but not installed: apt-get install etcd-server"
        );
        eprintln!("failover test skipped: no etcd (apt-get install etcd-server)");
        return;
    };
    bounded(240, async {
        let root = tempfile::tempdir().unwrap();
        let mut etcd = Etcd::start(&etcd_bin, &root.path().join("etcd"));
        let g = Group {
            root: root.path().to_owned(),
            etcd: etcd.url.clone(),
            listen: (0..3)
                .map(|_| format!("127.0.0.1:{}", free_port()))
                .collect(),
        };
        // The shared keys, the access file with a mirror token per node and a writer's.
        let (code, out, err) = crate::util::run_bin(vec![
            "keys".into(),
            "new-shared".into(),
            "--checkpoint-key".into(),
            g.root.join("checkpoint.key").display().to_string(),
            "--master-key".into(),
            g.root.join("master.key").display().to_string(),
            "--origin".into(),
            "failover-test".into(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        let mut tokens = vec![
            ("hr", "writer", "", "tok-writer"),
            ("auditor", "auditor", "", "tok-auditor"),
        ];
        let names = ["mirror0", "mirror1", "mirror2"];
        let secrets = ["tok-m0", "tok-m1", "tok-m2"];
        for i in 0..3 {
            tokens.push((names[i], "mirror", "", secrets[i]));
            let p = g.root.join(format!("mirror{i}.token"));
            std::fs::write(&p, secrets[i]).unwrap();
            std::fs::set_permissions(
                &p,
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
            )
            .unwrap();
        }
        crate::util::write_access_file(&g.root, &crate::util::access_text(&tokens));

        let mut nodes: Vec<Option<ServeProc>> = (0..3).map(|i| Some(g.start(i))).collect();
        let first = primary(&g, "tok-writer", 60).await;
        for i in (0..3).filter(|i| *i != first) {
            following(&g.client(i, "tok-writer"), 0, 60).await;
        }
        // A standby refuses appends and names the primary.
        let standby = (first + 1) % 3;
        let refused = try_append(&g.client(standby, "tok-writer"), "to-a-standby", 0, 1)
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::FailedPrecondition,
            "{refused:?}"
        );
        assert!(refused.message().contains(&g.url(first)), "{refused:?}");

        // Eight clients append; each finds the primary again after a failure and retries
        // with the same request id. Every acknowledged append is recorded.
        let acked: Arc<Mutex<Vec<proto::AppendResponse>>> = Arc::default();
        let current = Arc::new(std::sync::atomic::AtomicUsize::new(first));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let g = Arc::new(g);
        let mut tasks = Vec::new();
        for c in 0..8u64 {
            let (g, acked, current, stop) =
                (g.clone(), acked.clone(), current.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                let mut refusals = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let from = 100_000 + c * 100_000 + i * 3;
                    let node = current.load(std::sync::atomic::Ordering::Relaxed);
                    let answer = tokio::time::timeout(
                        Duration::from_secs(10),
                        try_append(
                            &g.client(node, "tok-writer"),
                            &format!("c{c}-{i}"),
                            from,
                            from + 3,
                        ),
                    )
                    .await;
                    match answer {
                        Ok(Ok(r)) => {
                            acked.lock().unwrap().push(r);
                            i += 1;
                        }
                        Ok(Err(s)) => {
                            assert!(
                                // A node killed or changing role mid-call resets the
                                // connection (`Unknown`, a transport error).
                                matches!(
                                    s.code(),
                                    tonic::Code::Unavailable
                                        | tonic::Code::FailedPrecondition
                                        | tonic::Code::Cancelled
                                ) || s.message().contains("transport error"),
                                "client {c}: {s:?}"
                            );
                            refusals += 1;
                            let p = primary(&g, "tok-writer", 60).await;
                            current.store(p, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(_) => refusals += 1,
                    }
                }
                refusals
            }));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = acked.lock().unwrap().len();
        assert!(
            before > 10,
            "only {before} appends acknowledged before the kill"
        );

        // The primary dies under load.
        let killed_at = Instant::now();
        nodes[first].take().unwrap().kill();
        let second = loop {
            let p = primary(&g, "tok-writer", 60).await;
            if p != first {
                break p;
            }
        };
        // Serving as primary: the first acknowledged append there.
        let taken = loop {
            let n = acked.lock().unwrap().len();
            if n > before && current.load(std::sync::atomic::Ordering::Relaxed) == second {
                break killed_at.elapsed();
            }
            assert!(
                killed_at.elapsed() < Duration::from_secs(60),
                "no append acknowledged after the failover"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        eprintln!(
            "failover: node {second} took over; first acknowledgement {taken:?} after the kill"
        );
        assert!(taken < Duration::from_secs(30), "failover took {taken:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;

        // The old primary comes back on its own disk: it rejoins as a standby.
        nodes[first] = Some(g.start(first));
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        let p = g.client(second, "tok-writer");
        let log = entries(&g.client(second, "tok-auditor")).await;
        assert!(
            acked.len() > before + 10,
            "{} acknowledged in all",
            acked.len()
        );
        for r in &acked {
            for (seq, hash) in r.seqs.iter().zip(&r.entry_hashes) {
                let e = log.get(*seq as usize).unwrap_or_else(|| {
                    panic!("acknowledged entry {seq} is not on the new primary")
                });
                assert_eq!(
                    &e.hash, hash,
                    "acknowledged entry {seq} differs on the new primary"
                );
            }
        }
        // Both standbys hold the new primary's log, byte for byte.
        let size = log.len() as u64;
        for i in (0..3).filter(|i| *i != second) {
            let c = g.client(i, "tok-auditor");
            let h = following(&c, size, 60).await;
            assert_eq!(h.mirror.unwrap().primary, g.url(second));
            let copy = entries(&c).await;
            assert_eq!(copy.len(), log.len());
            assert!(
                copy.iter()
                    .zip(&log)
                    .all(|(a, b)| a.hash == b.hash && a.body == b.body)
            );
        }
        // The old primary's tail, if it had one, was set aside whole, not deleted.
        let aside: Vec<_> = std::fs::read_dir(&g.root)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("node{first}.deposed-")))
            .collect();
        eprintln!("set aside: {aside:?}");

        // The primary cut off from etcd stops taking appends within its lease.
        etcd.kill();
        let cut = Instant::now();
        let mut k = 0;
        let refused = loop {
            k += 1;
            match try_append(&p, &format!("cut-{k}"), 900_000 + k, 900_001 + k).await {
                Ok(_) => {
                    assert!(
                        cut.elapsed() < Duration::from_secs(10),
                        "appends taken 10 s without etcd"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => break s,
            }
        };
        assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
        assert!(refused.message().contains("lease"), "{refused:?}");
        assert!(
            cut.elapsed() <= Duration::from_secs(4),
            "fenced after {:?}",
            cut.elapsed()
        );
        // etcd back: a primary is elected again and takes appends.
        etcd.restart(&etcd_bin);
        let back = primary(&g, "tok-writer", 60).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match try_append(
                &g.client(back, "tok-writer"),
                "after-etcd",
                950_000,
                950_001,
            )
            .await
            {
                Ok(_) => break,
                Err(s) => {
                    assert!(
                        Instant::now() < deadline,
                        "no append after etcd came back: {s:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        drop(nodes);
    })
    .await;
}

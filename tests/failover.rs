//! Failover through etcd, as processes: a real etcd (Debian's `etcd-server`) and three
//! `serve --etcd` nodes on loopback with `--sync-mirrors 1`. One is elected primary, the
//! others follow it; eight clients append throughout. The primary is SIGKILLed, then (once
//! restarted) another is frozen with SIGSTOP while the others elect a successor and thawed,
//! then another is stopped with SIGTERM: each time a standby is elected within a bounded
//! time, no acknowledged append is lost, and the old primary rejoins as a standby (an
//! unacknowledged tail set aside); the thawed one acknowledges nothing. Last, a primary cut
//! off from etcd stops taking appends within its lease.
//!
//! Where etcd is not installed the test is skipped with the install line on stderr, unless
//! `ROTALEDGER_REQUIRE_ETCD=1` (set by `.ci/run`, which installs it), which makes a skip a
//! failure.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rotaledger::cli::client::Connect;
use rotaledger::proto;

use crate::util::{ServeProc, bounded, school_events, served_entries as entries, signal};

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
    /// Each node's HTTP face.
    http: Vec<String>,
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
            "--http",
            &self.http[i],
            "--witness-key",
            &r("w1.pub"),
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

/// Eight clients appending to whichever node is primary; each finds the primary again after
/// a failure and retries with the same request id.
struct Load {
    acked: Arc<Mutex<Vec<(usize, proto::AppendResponse)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(g: &Arc<Group>, phase: u64) -> Load {
        let acked: Arc<Mutex<Vec<(usize, proto::AppendResponse)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for c in 0..8u64 {
            let (g, acked, stop) = (g.clone(), acked.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                let mut node = primary(&g, "tok-writer", 60).await;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let from = phase * 10_000_000 + c * 1_000_000 + i * 3;
                    let id = format!("p{phase}-c{c}-{i}");
                    let answer = tokio::time::timeout(
                        Duration::from_secs(3),
                        try_append(&g.client(node, "tok-writer"), &id, from, from + 3),
                    )
                    .await;
                    match answer {
                        Ok(Ok(r)) => {
                            acked.lock().unwrap().push((node, r));
                            i += 1;
                        }
                        Ok(Err(s)) => {
                            // A node killed or changing role mid-call resets the connection
                            // (`Unknown`, a transport error), or closes it under a call just
                            // sent (HTTP/2 GOAWAY, which tonic reports as `Internal` with
                            // the transport error as its source): the connection failed,
                            // the server said nothing.
                            let transport = std::error::Error::source(&s).is_some_and(|e| {
                                e.downcast_ref::<tonic::transport::Error>().is_some()
                            });
                            assert!(
                                transport
                                    || matches!(
                                        s.code(),
                                        tonic::Code::Unavailable
                                            | tonic::Code::FailedPrecondition
                                            | tonic::Code::Cancelled
                                            | tonic::Code::Unknown
                                    ),
                                "client {c}: {s:?}"
                            );
                            node = primary(&g, "tok-writer", 60).await;
                        }
                        Err(_) => node = primary(&g, "tok-writer", 60).await,
                    }
                }
            }));
        }
        Load { acked, stop, tasks }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// How long after `since` a node other than `old` first acknowledged an append.
    async fn taken_over(&self, old: usize, since: Instant) -> Duration {
        loop {
            if self.acked.lock().unwrap().iter().any(|(n, _)| *n != old) {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < Duration::from_secs(60),
                "no append acknowledged by another node within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) -> Vec<(usize, proto::AppendResponse)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        Arc::try_unwrap(self.acked).unwrap().into_inner().unwrap()
    }
}

/// Every acknowledged append is in the log of the node at `primary`, and every other node
/// follows it holding the same log, byte for byte.
async fn nothing_lost(g: &Group, primary: usize, acked: &[(usize, proto::AppendResponse)]) {
    let log = entries(&g.client(primary, "tok-auditor")).await;
    for (_, r) in acked {
        for (seq, hash) in r.seqs.iter().zip(&r.entry_hashes) {
            let e = log
                .get(*seq as usize)
                .unwrap_or_else(|| panic!("acknowledged entry {seq} is not on the primary"));
            assert_eq!(
                &e.hash, hash,
                "acknowledged entry {seq} differs on the primary"
            );
        }
    }
    let size = log.len() as u64;
    for i in (0..g.listen.len()).filter(|i| *i != primary) {
        let c = g.client(i, "tok-auditor");
        let h = following(&c, size, 90).await;
        assert_eq!(h.mirror.unwrap().primary, g.url(primary));
        let copy = entries(&c).await;
        assert_eq!(copy.len(), log.len(), "node {i}");
        assert!(
            copy.iter()
                .zip(&log)
                .all(|(a, b)| a.hash == b.hash && a.body == b.body),
            "node {i} holds another log"
        );
    }
}

/// The primary other than `old`, waiting up to 60 s.
async fn successor(g: &Group, old: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = primary(g, "tok-writer", 60).await;
        if p != old {
            return p;
        }
        assert!(Instant::now() < deadline, "node {old} is still the primary");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_primary_is_replaced_through_etcd_and_no_acknowledged_append_is_lost() {
    let Some(etcd_bin) = etcd_bin() else {
        assert!(
            std::env::var_os(REQUIRE_ETCD).is_none_or(|v| v != "1"),
            "etcd is required ({REQUIRE_ETCD}=1) but not installed: apt-get install etcd-server"
        );
        eprintln!("failover test skipped: no etcd (apt-get install etcd-server)");
        return;
    };
    bounded(420, async {
        let root = tempfile::tempdir().unwrap();
        let mut etcd = Etcd::start(&etcd_bin, &root.path().join("etcd"));
        let g = Group {
            root: root.path().to_owned(),
            etcd: etcd.url.clone(),
            listen: (0..3)
                .map(|_| format!("127.0.0.1:{}", free_port()))
                .collect(),
            http: (0..3)
                .map(|_| format!("127.0.0.1:{}", free_port()))
                .collect(),
        };
        // The shared keys, and the access file: a mirror token per node, a writer's and an
        // auditor's.
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
        // The log's verifier key, which the witness pins from the start.
        let log_key = out
            .lines()
            .find_map(|l| l.strip_prefix("verifier key "))
            .unwrap_or_else(|| panic!("no verifier key line in {out}"))
            .to_owned();
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
        // A witness run by another office, told every node's address.
        let (code, out, err) = crate::util::run_bin(vec![
            "witness".into(),
            "new-key".into(),
            "--name".into(),
            "witness.example/w1".into(),
            "--out".into(),
            g.root.join("w1.key").display().to_string(),
        ])
        .await;
        assert_eq!(code, 0, "{out}{err}");
        std::fs::write(g.root.join("w1.pub"), &out).unwrap();
        let witness_token = g.root.join("witness.token");
        std::fs::write(&witness_token, "tok-auditor").unwrap();
        std::fs::set_permissions(
            &witness_token,
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
        )
        .unwrap();

        let mut nodes: Vec<Option<ServeProc>> = (0..3).map(|i| Some(g.start(i))).collect();
        let first = primary(&g, "tok-writer", 60).await;
        let mut witness = std::process::Command::new(crate::util::bin())
            .args(["witness", "run", "--interval", "1", "--server", &g.url(0)])
            .args([
                "--also",
                &g.url(1),
                "--also",
                &g.url(2),
                "--log-key",
                &log_key,
            ])
            .arg("--token-file")
            .arg(&witness_token)
            .arg("--key")
            .arg(g.root.join("w1.key"))
            .arg("--state")
            .arg(g.root.join("w1.state.json"))
            .env_remove("ROTALEDGER_TOKEN")
            .env_remove("ROTALEDGER_SERVER")
            .stdout(std::fs::File::create(g.root.join("witness.out")).unwrap())
            .stderr(std::fs::File::create(g.root.join("witness.err")).unwrap())
            .spawn()
            .unwrap();
        for i in (0..3).filter(|i| *i != first) {
            following(&g.client(i, "tok-auditor"), 0, 60).await;
        }
        // The primary's /readyz shows its term and its lease.
        let readyz: serde_json::Value = reqwest::get(format!("http://{}/readyz", g.http[first]))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let election = &readyz["election"];
        assert_eq!(election["role"], "primary", "{readyz}");
        assert_eq!(election["lease_holds"], true, "{readyz}");
        assert!(election["epoch"].as_i64().unwrap() > 0, "{readyz}");
        let remaining = election["lease_remaining_ms"].as_u64().unwrap();
        assert!(remaining > 0 && remaining <= 3000, "{readyz}");
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
        let g = Arc::new(g);
        let mut all = Vec::new();

        // 1. SIGKILL under load; the old primary restarts on its own disk and rejoins.
        let load = Load::start(&g, 1);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            load.count() > 10,
            "only {} appends before the kill",
            load.count()
        );
        load.acked.lock().unwrap().clear();
        let at = Instant::now();
        nodes[first].take().unwrap().kill();
        let second = successor(&g, first).await;
        let taken = load.taken_over(first, at).await;
        eprintln!("SIGKILL: node {second} acknowledged {taken:?} after the kill");
        assert!(taken < Duration::from_secs(20), "failover took {taken:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        nodes[first] = Some(g.start(first));
        tokio::time::sleep(Duration::from_secs(4)).await;
        all.extend(load.stop().await);
        nothing_lost(&g, second, &all).await;
        let aside = g.data(first).with_file_name(format!(
            "{}.deposed-",
            g.data(first).file_name().unwrap().to_string_lossy()
        ));
        let set_aside: Vec<_> = std::fs::read_dir(&g.root)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.path()
                    .display()
                    .to_string()
                    .starts_with(&aside.display().to_string())
            })
            .collect();
        eprintln!("set aside after the kill: {}", set_aside.len());
        for d in &set_aside {
            // Whole: the log it held and its record of being primary.
            assert!(d.path().join("failover.json").exists(), "{:?}", d.path());
        }

        // 2. The primary freezes (SIGSTOP) under load: the others elect a successor; thawed,
        // it acknowledges nothing and rejoins.
        let load = Load::start(&g, 2);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let at = Instant::now();
        signal(&nodes[second].as_ref().unwrap().child, "STOP");
        let third = successor(&g, second).await;
        let taken = load.taken_over(second, at).await;
        eprintln!("SIGSTOP: node {third} acknowledged {taken:?} after the freeze");
        signal(&nodes[second].as_ref().unwrap().child, "CONT");
        let thawed = try_append(
            &g.client(second, "tok-writer"),
            "thawed",
            99_000_000,
            99_000_001,
        )
        .await;
        assert!(
            thawed.is_err(),
            "a deposed primary acknowledged an append: {thawed:?}"
        );
        let s = thawed.unwrap_err();
        assert!(
            s.message().contains("lease")
                || s.code() == tonic::Code::FailedPrecondition
                || s.code() == tonic::Code::Unavailable,
            "{s:?}"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        all.extend(load.stop().await);
        nothing_lost(&g, third, &all).await;

        // 3. A planned stop (SIGTERM) under load: the key is let go at once.
        let load = Load::start(&g, 3);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let at = Instant::now();
        signal(&nodes[third].as_ref().unwrap().child, "TERM");
        let fourth = successor(&g, third).await;
        let taken = load.taken_over(third, at).await;
        eprintln!("SIGTERM: node {fourth} acknowledged {taken:?} after the stop");
        assert!(taken < Duration::from_secs(20), "failover took {taken:?}");
        let mut stopped = nodes[third].take().unwrap();
        let exited = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            stopped.child.try_wait().unwrap().is_some()
        });
        assert!(exited, "SIGTERM did not stop the node");
        nodes[third] = Some(g.start(third));
        tokio::time::sleep(Duration::from_secs(3)).await;
        all.extend(load.stop().await);
        nothing_lost(&g, fourth, &all).await;
        eprintln!("{} appends acknowledged in all", all.len());
        // The witness followed the log across the three failovers and cosigned what the
        // last primary holds: it was never shown two histories.
        let size = entries(&g.client(fourth, "tok-auditor")).await.len() as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        let witnessed = loop {
            let asked = g
                .client(fourth, "tok-auditor")
                .audit()
                .await
                .unwrap()
                .get_checkpoint(proto::GetCheckpointRequest {
                    min_cosignatures: 1,
                    ..Default::default()
                })
                .await;
            if let Ok(r) = asked {
                let cp = r.into_inner().checkpoint.unwrap();
                if cp.size >= size {
                    break cp;
                }
            }
            let said = std::fs::read_to_string(g.root.join("witness.out")).unwrap_or_default()
                + &std::fs::read_to_string(g.root.join("witness.err")).unwrap_or_default();
            assert!(
                witness.try_wait().unwrap().is_none(),
                "the witness stopped: {said}"
            );
            assert!(
                Instant::now() < deadline,
                "no checkpoint of {size} entries cosigned within 60 s: {said}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            witnessed.text.contains("— witness.example/w1 "),
            "{}",
            witnessed.text
        );
        let said = std::fs::read_to_string(g.root.join("witness.out")).unwrap();
        assert!(!said.contains("FORK"), "{said}");

        // 4. The primary cut off from etcd stops taking appends within its lease.
        let p = g.client(fourth, "tok-writer");
        etcd.kill();
        let cut = Instant::now();
        let mut k = 0;
        let refused = loop {
            k += 1;
            match try_append(&p, &format!("cut-{k}"), 90_000_000 + k, 90_000_001 + k).await {
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
        // etcd back: the primary renews its lease and takes appends again.
        etcd.restart(&etcd_bin);
        let back = primary(&g, "tok-writer", 60).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match try_append(
                &g.client(back, "tok-writer"),
                "after-etcd",
                95_000_000,
                95_000_001,
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
        let _ = witness.kill();
        let _ = witness.wait();
        drop(nodes);
    })
    .await;
}

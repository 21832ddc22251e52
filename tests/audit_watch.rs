//! `rotaledger audit watch` against real servers: pinning, growth, forks, rollbacks, keys.

use rotaledger::cli::watch::load_state;
use rotaledger::ledger::KEY_FILE;
use rotaledger::merkle::{CheckpointKey, SignedCheckpoint};

use crate::util::{
    ServeProc, TestServer, append_schools, bounded, copy_dir, run_bin, school_events,
};

fn watch_args(s: &TestServer, state: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "audit".into(),
        "watch".into(),
        "--server".into(),
        format!("http://{}", s.addr),
        "--state".into(),
        state.display().to_string(),
        "--once".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The size of the checkpoint saved in a state file.
fn saved_size(state: &std::path::Path) -> u64 {
    let st = load_state(state).unwrap().unwrap();
    SignedCheckpoint::parse(&st.checkpoint.unwrap())
        .unwrap()
        .checkpoint
        .size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_pins_the_key_and_growth_is_accepted() {
    bounded(120, async {
        let s = TestServer::start().await;
        append_schools(&s, "a", 0, 3).await;
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("watch.json");
        let (code, out, err) = run_bin(watch_args(&s, &state, &[])).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(err.contains("WARNING"), "{err}");
        let pinned = load_state(&state).unwrap().unwrap().verifier_key;
        let served = s
            .audit()
            .await
            .get_public_key(rotaledger::proto::GetPublicKeyRequest {})
            .await
            .unwrap()
            .into_inner()
            .verifier_key;
        assert_eq!(pinned, served);
        assert_eq!(saved_size(&state), 3);

        append_schools(&s, "b", 3, 7).await;
        let (code, out, err) = run_bin(watch_args(&s, &state, &[])).await;
        assert_eq!(code, 0, "{out}{err}");
        assert!(!err.contains("WARNING"), "pinned already: {err}");
        assert_eq!(saved_size(&state), 7);
        // No growth is fine too.
        let (code, out, err) = run_bin(watch_args(&s, &state, &[])).await;
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(saved_size(&state), 7);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_and_a_forked_log_are_caught() {
    bounded(180, async {
        let a = TestServer::start().await;
        append_schools(&a, "a", 0, 3).await;
        let dir = a.stop().await;
        // An older copy of the store (3 entries), with the same key file.
        let older = tempfile::tempdir().unwrap();
        copy_dir(&dir.path().join("data"), &older.path().join("data"));
        let a = TestServer::start_in(dir, |_| {}).await;
        append_schools(&a, "b", 3, 5).await;

        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("watch.json");
        let (code, out, err) = run_bin(watch_args(&a, &state, &[])).await;
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(saved_size(&state), 5);
        let key_file = a.dir.path().join("data").join(KEY_FILE);

        // Rollback: a server on the older copy.
        let old = TestServer::start_in(older, |_| {}).await;
        let (code, out, err) = run_bin(watch_args(&old, &state, &[])).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("ROLLBACK"), "{out}");
        assert!(out.contains("from 5 to 3"), "{out}");
        assert_eq!(saved_size(&state), 5, "a bad round must not move the state");

        // Fork: another store with the same key, the same size, a different last entry.
        let k = key_file.clone();
        let fork = TestServer::start_with(move |c| c.ledger.key_file = Some(k)).await;
        append_schools(&fork, "a", 0, 4).await;
        append_schools(&fork, "x", 100, 101).await;
        let (code, out, err) = run_bin(watch_args(&fork, &state, &[])).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("FORK"), "{out}");
        assert!(out.contains("two different roots for size 5"), "{out}");
        assert!(out.contains("--- saved checkpoint ---"), "{out}");

        // The fork grows: now the consistency proof cannot verify.
        append_schools(&fork, "y", 101, 102).await;
        let (code, out, err) = run_bin(watch_args(&fork, &state, &[])).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("does not verify"), "{out}");

        // The real log still passes.
        let (code, out, err) = run_bin(watch_args(&a, &state, &[])).await;
        assert_eq!(code, 0, "{out}{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_caught() {
    bounded(120, async {
        let s = TestServer::start().await;
        append_schools(&s, "a", 0, 2).await;
        let tmp = tempfile::tempdir().unwrap();
        let other = CheckpointKey::generate_for(crate::util::profile(), "rotaledger")
            .unwrap()
            .verifier()
            .to_string();
        let state = tmp.path().join("watch.json");
        let (code, out, err) = run_bin(watch_args(&s, &state, &["--key", &other])).await;
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("BAD SIGNATURE"), "{out}");
        assert!(!state.exists(), "nothing is pinned before a round passes");

        // With the right key pinned, a different --key is refused rather than trusted.
        let good = tmp.path().join("good.json");
        let (code, out, err) = run_bin(watch_args(&s, &good, &[])).await;
        assert_eq!(code, 0, "{out}{err}");
        let (code, _, err) = run_bin(watch_args(&s, &good, &["--key", &other])).await;
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("differs from the key pinned"), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_once_it_loops_until_sigterm_and_exits_0() {
    bounded(120, async {
        let s = TestServer::start().await;
        append_schools(&s, "a", 0, 2).await;
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("watch.json");
        let mut args = watch_args(&s, &state, &["--interval", "1"]);
        args.retain(|a| a != "--once");
        let code = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut child = std::process::Command::new(crate::util::bin())
                .args(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
            // Two good rounds: it keeps watching.
            for _ in 0..2 {
                let line = lines.next().unwrap().unwrap();
                assert!(line.starts_with("ok: size 2"), "{line}");
            }
            let killed = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            child.wait().unwrap().code()
        })
        .await
        .unwrap();
        assert_eq!(code, Some(0));
    })
    .await;
}

/// Lines of a child's output, read on a thread, so a test can wait for one with a bound.
fn line_reader(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line of `rx` that satisfies `want`, within 30 s.
fn wait_for(
    rx: &std::sync::mpsc::Receiver<String>,
    what: &str,
    want: impl Fn(&str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if want(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line {what}: {e}"),
        }
    }
}

async fn append_to(p: &ServeProc, request_id: &str, from: u64, to: u64) {
    let mut c = p.connect().ledger().await.unwrap();
    c.append(rotaledger::proto::AppendRequest {
        events: school_events(from, to),
        request_id: request_id.into(),
        expected_size: None,
    })
    .await
    .unwrap();
}

/// A monitor outlives the server's restarts: when the server is down (at the start, or
/// killed between rounds) the watch says so on stderr and tries again next round, then goes
/// on checking from the last checkpoint that passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_once_it_waits_for_an_unreachable_server() {
    bounded(120, async {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let state = tmp.path().join("watch.json");
        // A free port, with nothing listening on it yet.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let mut child = std::process::Command::new(crate::util::bin())
            .args([
                "audit",
                "watch",
                "--server",
                &format!("http://{addr}"),
                "--interval",
                "1",
            ])
            .arg("--state")
            .arg(&state)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let out = line_reader(child.stdout.take().unwrap());
        let err = line_reader(child.stderr.take().unwrap());
        let line = wait_for(&err, "about the unreachable server", |l| {
            l.contains("trying again")
        });
        assert!(line.contains("cannot connect"), "{line}");
        assert!(child.try_wait().unwrap().is_none(), "the watch gave up");

        let mut server = ServeProc::start_listening(&data, &addr);
        server.ready().await;
        append_to(&server, "a", 0, 3).await;
        wait_for(&out, "with size 3", |l| l.starts_with("ok: size 3"));

        server.kill();
        let line = wait_for(&err, "about the failed round", |l| {
            l.contains("round failed")
        });
        assert!(line.contains("GetCheckpoint"), "{line}");
        assert!(child.try_wait().unwrap().is_none(), "the watch gave up");

        let server = ServeProc::start_listening(&data, &addr);
        server.ready().await;
        append_to(&server, "b", 3, 5).await;
        wait_for(&out, "with size 5", |l| l.starts_with("ok: size 5"));
        assert_eq!(saved_size(&state), 5);

        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        assert_eq!(child.wait().unwrap().code(), Some(0));
    })
    .await;
}

//! Helpers shared by the integration tests.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rotaledger::log::{
    AppendError, AppendOutcome, AppendRequest, PassThrough, Store, Writer, fingerprint,
};
use serde_json::value::RawValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Runs `open` again while it fails on sled's file lock, for at most 10 s.
///
/// sled 0.34 releases a dropped database's lock only when its deferred (epoch-based) garbage
/// is collected, which can be a moment after the `Db` was dropped; a test that closes a store
/// and reopens it at once (in this process or in a child) can meet the lock still held.
pub fn retry_while_locked<T, E: std::fmt::Display>(
    mut open: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open() {
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// The crypto profile new stores get in this run of the suite (`ROTALEDGER_CRYPTO`, which
/// `.ci/run` sets to `gm` for the suite's second pass; blake3 otherwise).
pub fn profile() -> rotaledger::crypto::Profile {
    rotaledger::crypto::Profile::for_new_store(None).expect("ROTALEDGER_CRYPTO names a profile")
}

/// Opens a store, waiting out a lock still held by a store just dropped (see above).
pub fn open_store(dir: &Path) -> Store {
    retry_while_locked(|| Store::open(dir)).expect("open store")
}

/// Opens a store and starts a pass-through writer on it.
pub fn open_log(dir: &Path) -> Writer<PassThrough> {
    let store = Arc::new(open_store(dir));
    let head = store.check_head().expect("head check");
    Writer::start(store, head, PassThrough).expect("start writer")
}

/// JSON payloads from strings.
pub fn payloads(items: &[String]) -> Vec<Box<RawValue>> {
    items
        .iter()
        .map(|s| RawValue::from_string(s.clone()).expect("valid json"))
        .collect()
}

/// A request for `items` as `actor`/`request_id`.
pub fn request(
    actor: &str,
    request_id: &str,
    items: &[String],
) -> AppendRequest<Vec<Box<RawValue>>> {
    let p = payloads(items);
    AppendRequest {
        actor: actor.into(),
        request_id: request_id.into(),
        fingerprint: fingerprint(p.iter().map(|r| r.get().as_bytes())),
        expected_size: None,
        input: p,
    }
}

/// Appends and waits (blocking).
pub fn append(
    w: &Writer<PassThrough>,
    request_id: &str,
    items: &[String],
) -> Result<AppendOutcome, AppendError<std::convert::Infallible>> {
    w.append_blocking(request("tester", request_id, items))
}

/// Fills a fresh log with `n` single-entry appends and closes it.
pub fn fill(dir: &Path, n: u64) {
    let w = open_log(dir);
    for i in 0..n {
        append(&w, &format!("r{i}"), &[format!(r#"{{"n":{i}}}"#)]).expect("append");
    }
    w.shutdown();
}

/// The path of the built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rotaledger")
}

/// A valid domain event, distinct for each `i` (a school registration). Every test that
/// appends through the ledger builds its events here, so the event form lives in one place.
pub fn school_event(i: u64) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"S{i:04}","name":"School {i}","stage":"primary","standing":"strong","rural":false,"date":"2024-09-01"}}"#
    )
}

/// Events `from..to` from [`school_event`].
pub fn school_events(from: u64, to: u64) -> Vec<String> {
    (from..to).map(school_event).collect()
}

/// Runs a test body with a time bound, so a hung server fails the test instead of the run.
pub async fn bounded<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(std::time::Duration::from_secs(secs), f)
        .await
        .expect("test took too long")
}

/// A real server on 127.0.0.1:0 over a temporary data directory.
pub struct TestServer {
    /// The bound address.
    pub addr: std::net::SocketAddr,
    /// The data directory (kept alive with the server).
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), rotaledger::server::ServerError>>>,
}

impl TestServer {
    /// Starts a server with default options and no access file.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after `configure` adjusts its configuration.
    pub async fn start_with(
        configure: impl FnOnce(&mut rotaledger::server::ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        TestServer::start_in(dir, configure).await
    }

    /// Starts a server on an existing directory (its `data` subdirectory).
    pub async fn start_in(
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut rotaledger::server::ServerConfig),
    ) -> TestServer {
        let mut config = rotaledger::server::ServerConfig::new(dir.path().join("data"));
        configure(&mut config);
        let tls = config.tls.is_some();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(rotaledger::server::run(listener, config, async {
            let _ = rx.await;
        }));
        let server = TestServer {
            addr,
            dir,
            stop: Some(tx),
            handle: Some(handle),
        };
        if tls {
            // A plaintext probe gets no answer: a TLS test waits for the ledger itself
            // (calls are answered UNAVAILABLE until it is open).
            return server;
        }
        // Wait until the ledger is open and served: what a readiness probe asks (the server's
        // health turns SERVING only then; it needs no token).
        for _ in 0..500 {
            if server.health("").await == Some(ServingStatus::Serving as i32) {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the server did not come up");
    }

    /// The health of `service` ("" for the server), or `None` if the server does not answer.
    pub async fn health(&self, service: &str) -> Option<i32> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .ok()?
            .connect()
            .await
            .ok()?;
        HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .ok()
            .map(|r| r.into_inner().status)
    }

    /// Connection settings for a client with `token`.
    pub fn connect(&self, token: Option<&str>) -> rotaledger::cli::client::Connect {
        rotaledger::cli::client::Connect {
            server: format!("http://{}", self.addr),
            token: token.map(str::to_owned),
            token_file: None,
            tls_ca: None,
            json: false,
        }
    }

    /// A Ledger client without a token.
    pub async fn ledger(&self) -> rotaledger::cli::client::Ledger {
        self.connect(None).ledger().await.unwrap()
    }

    /// An Audit client without a token.
    pub async fn audit(&self) -> rotaledger::cli::client::Audit {
        self.connect(None).audit().await.unwrap()
    }

    /// Signals shutdown and waits for `run` to return; returns the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Writes an access file with mode 0600 and returns its path.
pub fn write_access_file(dir: &Path, text: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("access.toml");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A `rotaledger serve` child process on 127.0.0.1:0; killed (SIGKILL) when dropped.
pub struct ServeProc {
    /// The child.
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`, read from the server's first line.
    pub url: String,
}

impl ServeProc {
    /// Starts `rotaledger serve --data DATA --listen 127.0.0.1:0 ARGS...` and reads its
    /// address.
    pub fn start_with(data: &Path, args: &[&str]) -> ServeProc {
        ServeProc::spawn(data, "127.0.0.1:0", args, None)
    }

    /// [`ServeProc::start_with`], its info-level log written to `log`.
    pub fn start_logged(data: &Path, args: &[&str], log: &Path) -> ServeProc {
        ServeProc::spawn(data, "127.0.0.1:0", args, Some(log))
    }

    /// `rotaledger serve --data DATA --listen LISTEN` (a fixed address, e.g. to restart a
    /// server where its clients expect it).
    pub fn start_listening(data: &Path, listen: &str) -> ServeProc {
        ServeProc::spawn(data, listen, &[], None)
    }

    /// [`ServeProc::start_at`], its info-level log written to `log`.
    pub fn start_logged_at(data: &Path, listen: &str, args: &[&str], log: &Path) -> ServeProc {
        ServeProc::spawn(data, listen, args, Some(log))
    }

    /// `rotaledger serve --data DATA --listen LISTEN ARGS...`.
    pub fn start_at(data: &Path, listen: &str, args: &[&str]) -> ServeProc {
        ServeProc::spawn(data, listen, args, None)
    }

    fn spawn(data: &Path, listen: &str, args: &[&str], log: Option<&Path>) -> ServeProc {
        use std::io::BufRead;
        let (level, stderr) = match log {
            Some(p) => (
                "info",
                std::process::Stdio::from(std::fs::File::create(p).unwrap()),
            ),
            None => ("error", std::process::Stdio::null()),
        };
        let mut child = std::process::Command::new(bin())
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", listen])
            // The HTTP face only where a test asks for it.
            .args(if args.contains(&"--http") {
                &[][..]
            } else {
                &["--http", "off"][..]
            })
            .args(args)
            .env("RUST_LOG", level)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut proc = ServeProc {
            child,
            url: String::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server announces its address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        proc.url = format!("http://{addr}");
        proc
    }

    /// Connection settings without a token.
    pub fn connect(&self) -> rotaledger::cli::client::Connect {
        rotaledger::cli::client::Connect {
            server: self.url.clone(),
            token: None,
            token_file: None,
            tls_ca: None,
            json: false,
        }
    }

    /// Waits (bounded) until the ledger answers GetHead.
    pub async fn ready(&self) {
        for _ in 0..600 {
            if let Ok(mut c) = self.connect().ledger().await
                && c.get_head(rotaledger::proto::GetHeadRequest {})
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the server did not come up");
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every entry the server at `c` serves (`Audit.ReadEntries` from 0).
pub async fn served_entries(c: &rotaledger::cli::client::Connect) -> Vec<rotaledger::proto::Entry> {
    let mut s = c
        .audit()
        .await
        .unwrap()
        .read_entries(rotaledger::proto::ReadEntriesRequest {
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

/// Sends `signal` (`STOP`, `CONT`, `TERM`) to a child process.
pub fn signal(child: &std::process::Child, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal}");
}

/// Runs `rotaledger serve ARGS...` on `data` and expects it to stop on its own within 20 s;
/// returns its exit code and stderr (code -1 and a note if it had to be killed).
pub fn serve_until_exit_with(data: &Path, args: &[&str]) -> (i32, String) {
    let mut child = std::process::Command::new(bin())
        .arg("serve")
        .arg("--data")
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--http", "off"])
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            return (st.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (-1, "still running after 20 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary with `args` off the async runtime; returns exit code, stdout, stderr.
pub async fn run_bin(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(bin())
            .args(&args)
            .env_remove("ROTALEDGER_SERVER")
            .env_remove("ROTALEDGER_TOKEN")
            .env_remove("ROTALEDGER_TOKEN_FILE")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// Appends `school_event(i)` for each `i` in `from..to` as one append with `request_id`.
pub async fn append_schools(s: &TestServer, request_id: &str, from: u64, to: u64) {
    let mut c = s.ledger().await;
    c.append(rotaledger::proto::AppendRequest {
        events: school_events(from, to),
        request_id: request_id.into(),
        expected_size: None,
    })
    .await
    .unwrap();
}

/// `Ledger.Append` of `school_event(i)` for each `i` in `from..to` with `request_id` through
/// `c`: the answer, or the refusal.
pub async fn try_append(
    c: &rotaledger::cli::client::Connect,
    request_id: &str,
    from: u64,
    to: u64,
) -> Result<rotaledger::proto::AppendResponse, tonic::Status> {
    c.ledger()
        .await
        .unwrap()
        .append(rotaledger::proto::AppendRequest {
            events: school_events(from, to),
            request_id: request_id.into(),
            expected_size: None,
        })
        .await
        .map(|r| r.into_inner())
}

/// [`try_append`], which must be answered.
pub async fn append_to(
    c: &rotaledger::cli::client::Connect,
    request_id: &str,
    from: u64,
    to: u64,
) -> rotaledger::proto::AppendResponse {
    try_append(c, request_id, from, to).await.unwrap()
}

/// `Audit.GetPublicKey` through `c`: the log's verifier key line and origin.
pub async fn public_key(
    c: &rotaledger::cli::client::Connect,
) -> rotaledger::proto::GetPublicKeyResponse {
    c.audit()
        .await
        .unwrap()
        .get_public_key(rotaledger::proto::GetPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// `Audit.GetCheckpoint` with `req` through `c`: the checkpoint, or the refusal.
pub async fn get_checkpoint(
    c: &rotaledger::cli::client::Connect,
    req: rotaledger::proto::GetCheckpointRequest,
) -> Result<rotaledger::proto::Checkpoint, tonic::Status> {
    Ok(c.audit()
        .await
        .unwrap()
        .get_checkpoint(req)
        .await?
        .into_inner()
        .checkpoint
        .unwrap())
}

/// Cosigns the checkpoint the ledger at `c` offers its witnesses, as `witness` at `timestamp`,
/// and hands it over (`AddCosignature`); returns the offered note and the cosignature line.
pub async fn cosign_offered(
    c: &rotaledger::cli::client::Connect,
    witness: &rotaledger::merkle::WitnessKey,
    timestamp: u64,
) -> (String, String) {
    let offered = get_checkpoint(
        c,
        rotaledger::proto::GetCheckpointRequest {
            for_witness: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .text;
    let cp = rotaledger::merkle::SignedCheckpoint::parse(&offered).unwrap();
    let line = witness.cosign(&cp.checkpoint, timestamp).unwrap().line();
    c.audit()
        .await
        .unwrap()
        .add_cosignature(rotaledger::proto::AddCosignatureRequest {
            checkpoint: format!("{offered}{line}\n"),
        })
        .await
        .unwrap();
    (offered, line)
}

/// Copies a directory tree (a stopped server's data directory).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for ent in std::fs::read_dir(from).unwrap() {
        let ent = ent.unwrap();
        let target = to.join(ent.file_name());
        if ent.file_type().unwrap().is_dir() {
            copy_dir(&ent.path(), &target);
        } else {
            std::fs::copy(ent.path(), target).unwrap();
        }
    }
}

/// An access file's text for `(name, role, school or "", token)` rows.
pub fn access_text(tokens: &[(&str, &str, &str, &str)]) -> String {
    tokens
        .iter()
        .map(|(name, role, school, tok)| {
            let schools = if school.is_empty() {
                String::new()
            } else {
                format!("schools = [\"{school}\"]\n")
            };
            format!(
                "[[token]]\nname = \"{name}\"\nrole = \"{role}\"\n{schools}hash = \"{}\"\n\n",
                rotaledger::grpc::auth::hash_token(tok)
            )
        })
        .collect()
}

/// `python3` if it can run the example verifiers for this run's crypto profile (blake3 needs
/// the blake3 and cryptography packages, gm the gmssl package); else `None`, after saying on
/// stderr that `what` is skipped. With `ROTALEDGER_REQUIRE_PYTHON=1` (set by `.ci/run`, which
/// installs the packages) a missing package fails the test instead.
pub fn python_for_verifiers(what: &str) -> Option<String> {
    let (modules, packages) = match profile() {
        rotaledger::crypto::Profile::Blake3 => {
            ("import blake3, cryptography", "blake3 cryptography")
        }
        rotaledger::crypto::Profile::Gm => ("import gmssl", "gmssl"),
    };
    python_with(what, modules, packages)
}

/// `python3` if it runs `imports` (Python statements); else `None`, after saying on stderr
/// that `what` is skipped and which `packages` to install, or, with
/// `ROTALEDGER_REQUIRE_PYTHON=1`, failing the test.
pub fn python_with(what: &str, imports: &str, packages: &str) -> Option<String> {
    let ok = std::process::Command::new("python3")
        .args(["-c", imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some("python3".into());
    }
    assert!(
        std::env::var_os("ROTALEDGER_REQUIRE_PYTHON").is_none_or(|v| v != "1"),
        "{what}: python3 with the packages {packages} is required (ROTALEDGER_REQUIRE_PYTHON=1)"
    );
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "{what}: skipped (needs python3 with: pip install {packages})"
    );
    None
}

/// The state snapshot key of the ledger in `data` (from its checkpoint key).
pub fn snapshot_key(data: &Path) -> rotaledger::snapshot::SnapshotKey {
    let key = rotaledger::merkle::CheckpointKey::load(&data.join(rotaledger::ledger::KEY_FILE))
        .expect("the ledger's checkpoint key");
    rotaledger::snapshot::SnapshotKey::of(&key)
}

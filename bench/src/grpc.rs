//! `rotaledger-bench grpc`: durable appends over gRPC on loopback, from 1, 16 and 64
//! concurrent clients, next to two floors measured in the same run, so the table shows where
//! an append's time goes:
//!
//! - **ours**: a real server (the `serve` code path: [`server::open_ledger`] then
//!   [`server::serve_ledger`] on a `127.0.0.1:0` listener, a fresh data directory) and N tonic
//!   clients, each on its own HTTP/2 connection (or, with `--connections`, sharing that many
//!   round robin), appending in a closed loop. Every event is a
//!   real domain event (a fresh teacher registered at one of 400 pre-registered schools, ids
//!   unique per client), so every append is judged by the rules and acknowledged only once
//!   durable, with its receipt (signed checkpoint and inclusion proofs).
//! - **RPC floor**: `Ledger.GetHead` from as many clients on the same server: what a unary
//!   call costs with no disk and no rules.
//! - **disk floor**: the storage work of the server's commits done directly on sled by one
//!   thread (`rotaledger-bench append`'s floor: the same keys, insert + flush + fdatasync), with as many
//!   appends per commit as the server achieved (from the store's commit counter) and payloads
//!   of the size the server stored.
//!
//! Server and clients run in one process but on separate tokio runtimes (each with a worker
//! per core), as a client process on the same machine would: they compete for the same cores.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::append::{measure_fdatasync, measure_floor};
use crate::measure::{Limits, Measured, ScratchDir, load_average, print_json, timed_bar};
use crate::rebuild::{schools, teacher_registered};
use rotaledger::cli::client::{Connect, call};
use rotaledger::cli::{CliError, Outcome};
use rotaledger::log::Store;
use rotaledger::proto;
use rotaledger::server::{self, ServerConfig, ServerError};

/// Flags of `rotaledger-bench grpc`.
#[derive(Args, Debug)]
pub struct GrpcArgs {
    /// Concurrent clients (each its own HTTP/2 connection), comma-separated: one scenario per
    /// value.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub clients: Vec<usize>,
    /// Events per append request, comma-separated: one scenario per value (at most 1000).
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    pub events_per_request: Vec<usize>,
    /// HTTP/2 connections the clients share, round robin (0: one connection per client).
    /// Requests of clients sharing a connection are multiplexed on it, so fewer connections
    /// mean fewer, larger writes and reads on both ends.
    #[arg(long, default_value_t = 0)]
    pub connections: usize,
    /// Duration of each measurement (ours, RPC floor, disk floor), in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Parent directory of the temporary data directories [default: the system temporary
    /// directory]. It must be on the disk being measured: on tmpfs fdatasync costs nothing.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One scenario: ours and the two floors.
#[derive(Debug, Serialize)]
struct Scenario {
    clients: usize,
    /// HTTP/2 connections the clients used.
    connections: usize,
    events_per_request: usize,
    /// Appends over gRPC; latency per request, sent to answered.
    ours: Measured,
    /// Appends that failed (any error fails the run).
    errors: u64,
    /// Appends per durable commit the server achieved (store counters over the measurement).
    appends_per_commit: f64,
    /// `Ledger.GetHead` over gRPC from as many clients; latency per call.
    rpc_floor: Measured,
    /// GetHead calls that failed.
    rpc_errors: u64,
    /// Appends per commit the disk floor used: the server's, rounded, at least 1.
    floor_batch: usize,
    /// Payload bytes per entry in the disk floor (the size the server stored).
    floor_payload_bytes: usize,
    /// sled insert + flush + fdatasync by one thread; latency per commit.
    disk_floor: Measured,
    /// Our events/s over the disk floor's entries/s.
    ours_vs_disk: f64,
    /// Our requests/s over the RPC floor's calls/s.
    ours_vs_rpc: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    load_before: String,
    load_after: String,
    seconds_per_measurement: f64,
    dir: PathBuf,
    /// 4 KiB overwrite in place + fdatasync, one thread.
    fdatasync: Measured,
    scenarios: Vec<Scenario>,
    /// First few error messages, if any.
    first_errors: Vec<String>,
}

/// Runs the benchmark.
pub fn run(a: &GrpcArgs) -> Result<Outcome, CliError> {
    // Duration::from_secs_f64 panics outside its range: refuse such values first.
    let seconds_ok = a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 86_400.0;
    if !seconds_ok
        || a.clients.is_empty()
        || a.events_per_request.is_empty()
        || a.clients.contains(&0)
        || a.events_per_request.iter().any(|&n| n == 0 || n > 1000)
    {
        return Err(CliError(
            "--clients must be positive, --events-per-request in 1..=1000, --seconds in (0, 86400]"
                .into(),
        ));
    }
    let limits = Limits {
        duration: Duration::from_secs_f64(a.seconds),
        max_ops: 0,
    };
    let parent = a.dir.as_deref();
    let runtimes = Runtimes::new()?;
    let load_before = load_average();
    let fdatasync = measure_fdatasync(parent, limits, false)?;
    let mut scenarios = Vec::new();
    let mut first_errors = Vec::new();
    for &per_request in &a.events_per_request {
        for &clients in &a.clients {
            let connections = match a.connections {
                0 => clients,
                n => n.min(clients),
            };
            let (s, errs) = scenario(
                &runtimes,
                parent,
                (clients, connections),
                per_request,
                limits,
            )?;
            first_errors.extend(errs);
            scenarios.push(s);
        }
    }
    first_errors.truncate(10);
    let report = Report {
        load_before,
        load_after: load_average(),
        seconds_per_measurement: a.seconds,
        dir: parent.map_or_else(std::env::temp_dir, Path::to_path_buf),
        fdatasync,
        scenarios,
        first_errors,
    };
    let failed = report
        .scenarios
        .iter()
        .any(|s| s.errors > 0 || s.rpc_errors > 0);
    if a.json {
        print_json(&report)?;
    } else {
        print_table(&report);
    }
    Ok(if failed {
        Outcome::Problem
    } else {
        Outcome::Ok
    })
}

/// The server's runtime and the clients' runtime.
pub(crate) struct Runtimes {
    /// Runs the server (tonic, the services, the ledger's async parts).
    pub(crate) server: Runtime,
    /// Runs the load: the clients, the measurement's bookkeeping.
    pub(crate) client: Runtime,
}

impl Runtimes {
    pub(crate) fn new() -> Result<Runtimes, CliError> {
        let build = |name: &str| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name(name)
                .build()
                .map_err(CliError::ctx("starting a runtime"))
        };
        Ok(Runtimes {
            server: build("bench-server")?,
            client: build("bench-client")?,
        })
    }
}

/// A server started on its own runtime over an opened ledger.
pub(crate) struct RunningServer {
    /// Where clients connect.
    pub(crate) connect: Connect,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// Serves `ledger` (opened with `config`) on a fresh `127.0.0.1:0` listener.
    pub(crate) fn start(
        rt: &Runtimes,
        config: ServerConfig,
        ledger: rotaledger::ledger::Ledger,
    ) -> Result<RunningServer, CliError> {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(CliError::ctx("binding"))?;
        std_listener
            .set_nonblocking(true)
            .map_err(CliError::ctx("binding"))?;
        let addr = std_listener
            .local_addr()
            .map_err(CliError::ctx("the listener's address"))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        // The listener is registered with the server's runtime (inside its task), so its
        // I/O is driven there and not by the clients' runtime.
        let handle = rt.server.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener)
                .map_err(|e| ServerError::Transport(e.to_string()))?;
            server::serve_ledger(listener, config, ledger, async move {
                let _ = stop_rx.await;
            })
            .await
        });
        Ok(RunningServer {
            connect: Connect {
                server: format!("http://{addr}"),
                token: None,
                token_file: None,
                tls_ca: None,
                json: false,
            },
            stop: Some(stop_tx),
            handle: Some(handle),
        })
    }

    /// Shuts the server down gracefully and waits for it (the ledger closed).
    pub(crate) fn stop(mut self, rt: &Runtimes) -> Result<(), CliError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.handle.take() {
            Some(h) => rt
                .client
                .block_on(h)
                .map_err(CliError::ctx("the server task"))?
                .map_err(CliError::ctx("the server")),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // On an early return the server still stops (and closes the ledger) with the runtime.
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Errors seen by the clients of one measurement: a count and the first few messages.
#[derive(Default)]
pub(crate) struct Errors {
    count: AtomicU64,
    first: std::sync::Mutex<Vec<String>>,
}

impl Errors {
    pub(crate) fn add(&self, what: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut v) = self.first.lock()
            && v.len() < 5
        {
            v.push(what);
        }
    }
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    pub(crate) fn first(&self) -> Vec<String> {
        self.first.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// A fresh teacher's registration for client `client`'s request `i`, event `j`: unique in
/// the run, at one of the 400 bench schools.
fn event(client: usize, i: u64, j: usize) -> String {
    let n = (client as u64).wrapping_mul(7919) + i * 31 + j as u64;
    teacher_registered(
        &format!("B{client:02}-{i:07}-{j:03}"),
        &format!("Bench teacher {client}-{i}-{j}"),
        &format!("S{:04}", n % 400),
    )
}

/// One client appending in a closed loop until `deadline`; latencies in ns.
async fn appender(
    mut ledger: rotaledger::cli::client::Ledger,
    client: usize,
    per_request: usize,
    deadline: Instant,
    done: Arc<AtomicU64>,
    errors: Arc<Errors>,
) -> Vec<u64> {
    let mut lat = Vec::new();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let req = proto::AppendRequest {
            events: (0..per_request).map(|j| event(client, i, j)).collect(),
            request_id: format!("bench-{client}-{i}"),
            expected_size: None,
        };
        let t = Instant::now();
        match ledger.append(call(req)).await {
            Ok(r) => {
                let elapsed = t.elapsed();
                let r = r.into_inner();
                // An answer that is not a fresh append of every event is not what was asked.
                if r.duplicate || r.seqs.len() != per_request {
                    errors.add(format!(
                        "request {i} of client {client}: {} entries, duplicate {}",
                        r.seqs.len(),
                        r.duplicate
                    ));
                } else {
                    lat.push(elapsed.as_nanos() as u64);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(s) => errors.add(format!("append: {}", s.message())),
        }
        i += 1;
    }
    lat
}

/// One client calling `Ledger.GetHead` in a closed loop until `deadline`; latencies in ns.
async fn head_caller(
    mut ledger: rotaledger::cli::client::Ledger,
    deadline: Instant,
    done: Arc<AtomicU64>,
    errors: Arc<Errors>,
) -> Vec<u64> {
    let mut lat = Vec::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        match ledger.get_head(call(proto::GetHeadRequest {})).await {
            Ok(_) => {
                lat.push(t.elapsed().as_nanos() as u64);
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(s) => errors.add(format!("GetHead: {}", s.message())),
        }
    }
    lat
}

/// Runs `n` copies of a client task until `limits.duration` has passed, drawing a bar;
/// returns every latency and the wall time.
pub(crate) fn drive<F, Fut>(
    rt: &Runtimes,
    n: usize,
    limits: Limits,
    what: &str,
    unit: &str,
    task: F,
) -> Result<(Vec<u64>, Duration), CliError>
where
    F: Fn(usize, Instant, Arc<AtomicU64>) -> Fut,
    Fut: std::future::Future<Output = Vec<u64>> + Send + 'static,
{
    let done = Arc::new(AtomicU64::new(0));
    let bar = timed_bar(&limits, what.to_owned());
    let start = Instant::now();
    let deadline = start + limits.duration;
    let handles: Vec<_> = (0..n)
        .map(|k| rt.client.spawn(task(k, deadline, done.clone())))
        .collect();
    rt.client.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        while handles.iter().any(|h| !h.is_finished()) {
            tick.tick().await;
            bar.set_position(start.elapsed().as_millis() as u64);
            bar.set_message(format!("{what}: {} {unit}", done.load(Ordering::Relaxed)));
        }
    });
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(
            rt.client
                .block_on(h)
                .map_err(CliError::ctx("a client task"))?,
        );
    }
    Ok((lat, elapsed))
}

/// One scenario on a fresh server: ours, then the RPC floor on the same server, then the
/// disk floor with the batching ours achieved.
fn scenario(
    rt: &Runtimes,
    parent: Option<&Path>,
    (clients, connections): (usize, usize),
    per_request: usize,
    limits: Limits,
) -> Result<(Scenario, Vec<String>), CliError> {
    let dir = ScratchDir::new(parent, "grpc")?;
    let config = ServerConfig::new(dir.path.clone());
    let setup = ProgressBar::new_spinner();
    setup.set_message(format!(
        "{clients} x {per_request}: opening a fresh ledger, registering 400 schools"
    ));
    let ledger = rt
        .client
        .block_on(server::open_ledger(&config))
        .map_err(CliError::ctx("opening the ledger"))?;
    rt.client
        .block_on(ledger.append("bench", "bench-schools", None, schools()))
        .map_err(CliError::ctx("registering the schools"))?;
    // The server's commit counter: how many appends shared a commit, for the disk floor.
    let store: Arc<Store> = ledger.store().clone();
    let first_bench_seq = ledger.head().size;
    setup.finish_and_clear();
    let srv = RunningServer::start(rt, config, ledger)?;
    // Connected before the clock starts; clients beyond `connections` share them.
    let pool = rt.client.block_on(async {
        let mut pool = Vec::with_capacity(connections);
        for _ in 0..connections {
            pool.push(srv.connect.ledger().await?);
        }
        Ok::<_, CliError>(pool)
    })?;
    let client = |k: usize| pool[k % pool.len()].clone();

    let before = store.stats.snapshot();
    let errors = Arc::new(Errors::default());
    let what = format!("grpc append {clients:>2} x {per_request:>3} ({connections} conn.)");
    let (lat, elapsed) = drive(
        rt,
        clients,
        limits,
        &what,
        "appends",
        |k, deadline, done| appender(client(k), k, per_request, deadline, done, errors.clone()),
    )?;
    let after = store.stats.snapshot();
    let commits = after.commits - before.commits;
    let appends = after.appends - before.appends;
    let ours = Measured::new(lat, after.entries - before.entries, commits, elapsed);

    let rpc_errors = Arc::new(Errors::default());
    let what = format!("grpc GetHead {clients:>2}       ({connections} conn.)");
    let (lat, elapsed) = drive(rt, clients, limits, &what, "calls", |k, deadline, done| {
        head_caller(client(k), deadline, done, rpc_errors.clone())
    })?;
    drop(pool);
    let n = lat.len() as u64;
    let rpc_floor = Measured::new(lat, n, 0, elapsed);
    srv.stop(rt)?;

    // The disk floor writes payloads of the size the server stored for these events.
    let floor_payload_bytes = match store.entry(first_bench_seq) {
        Ok(Some(e)) => e
            .meta()
            .map(|m| m.payload.len())
            .map_err(CliError::ctx(format!("entry {first_bench_seq}")))?,
        _ => event(0, 0, 0).len(),
    };
    drop(store);
    drop(dir);
    let appends_per_commit = appends as f64 / commits.max(1) as f64;
    let floor_batch = (appends_per_commit.round() as usize).max(1);
    let disk_floor = measure_floor(
        parent,
        floor_batch,
        per_request,
        floor_payload_bytes,
        limits,
    )?;
    let mut first = errors.first();
    first.extend(rpc_errors.first());
    Ok((
        Scenario {
            clients,
            connections,
            events_per_request: per_request,
            ours_vs_disk: ours.entries_per_s() / disk_floor.entries_per_s().max(1e-9),
            ours_vs_rpc: ours.ops_per_s() / rpc_floor.ops_per_s().max(1e-9),
            ours,
            errors: errors.count(),
            appends_per_commit,
            rpc_floor,
            rpc_errors: rpc_errors.count(),
            floor_batch,
            floor_payload_bytes,
            disk_floor,
        },
        first,
    ))
}

fn print_table(r: &Report) {
    println!(
        "bench grpc: {} s per measurement, loopback, data under {}",
        r.seconds_per_measurement,
        r.dir.display()
    );
    println!(
        "load average before: {}, after: {}",
        r.load_before, r.load_after
    );
    println!(
        "fdatasync floor, 4 KiB overwrite + fdatasync: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        r.fdatasync.ops_per_s(),
        r.fdatasync.p50_ms,
        r.fdatasync.p99_ms
    );
    println!();
    println!(
        "{:>7} {:>5} {:>7} {:<11} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}",
        "clients",
        "conns",
        "events/",
        "path",
        "calls/s",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "appends/",
        "vs",
        "errors"
    );
    println!(
        "{:>7} {:>5} {:>7} {:<11} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6}",
        "", "", "request", "", "", "", "", "", "", "commit", "floor", ""
    );
    for s in &r.scenarios {
        let row = |path: &str, m: &Measured, per_commit: String, vs: String, errors: String| {
            println!(
                "{:>7} {:>5} {:>7} {:<11} {:>9.0} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>7} {:>6}",
                if path == "ours" {
                    s.clients.to_string()
                } else {
                    String::new()
                },
                if path == "ours" {
                    s.connections.to_string()
                } else {
                    String::new()
                },
                if path == "ours" {
                    s.events_per_request.to_string()
                } else {
                    String::new()
                },
                path,
                m.ops_per_s(),
                m.entries_per_s(),
                m.p50_ms,
                m.p99_ms,
                m.max_ms,
                per_commit,
                vs,
                errors
            );
        };
        row(
            "ours",
            &s.ours,
            format!("{:.1}", s.appends_per_commit),
            String::new(),
            s.errors.to_string(),
        );
        row(
            "rpc floor",
            &s.rpc_floor,
            String::new(),
            format!("{:.0}%", s.ours_vs_rpc * 100.0),
            s.rpc_errors.to_string(),
        );
        row(
            "disk floor",
            &s.disk_floor,
            s.floor_batch.to_string(),
            format!("{:.0}%", s.ours_vs_disk * 100.0),
            String::new(),
        );
    }
    println!();
    println!(
        "ours: Ledger.Append over gRPC, one request sent to its durable answer (receipt included); \
         rpc floor: Ledger.GetHead from as many clients (\"vs\": ours calls/s over its calls/s); \
         disk floor: sled insert + flush + fdatasync of the same batching by one thread, latency \
         per commit (\"vs\": ours events/s over its entries/s)."
    );
    for e in &r.first_errors {
        println!("error: {e}");
    }
}

//! `rotaledger-bench server`: the server as users run it. A real `rotaledger serve` process
//! (the product binary, on a fresh data directory, an access file with a writer token, gRPC
//! on a loopback port, `--http off`) driven from this process by tonic clients, each on its
//! own HTTP/2 connection, in a closed loop; the server's CPU time is read from
//! `/proc/PID/stat` around each scenario, so CPU per request is the server's alone.
//!
//! The scenarios are the ones the append path's targets are stated in (docs/BENCHMARKS.md):
//! `Ledger.GetHead` from 64 clients (the RPC floor: what a unary call costs this server with
//! no disk and no rules), single-event appends from 1 and from 64 clients, and 100-event
//! appends from 16 clients. Every event is a real domain event (a fresh teacher registered at
//! one of 400 schools registered first, with 50 education groups), so every append is judged by the rules and answered
//! only once durable, with its receipt. The fdatasync floor of the data directory's
//! filesystem is measured first, in the same run.
//!
//! Server and clients share the machine's cores, as any client on the same box would.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use rotaledger::cli::client::{Ledger, call};
use rotaledger::cli::{CliError, Outcome};
use rotaledger::proto;
use serde::Serialize;

use crate::append::measure_fdatasync;
use crate::grpc::Errors;
use crate::measure::{Limits, Measured, ScratchDir, load_average, print_json, timed_bar};
use crate::rebuild::{schools, teacher_registered};
use crate::serve_proc::{ServeProcess, cpu_seconds, server_bin};

/// Flags of `rotaledger-bench server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// The `rotaledger` binary to serve with [default: the `rotaledger` beside this program;
    /// `cargo build --release --workspace` builds both into target/release/].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Duration of each scenario (and of the fdatasync floor), in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Parent directory of the scratch directory (the server's data directory, its access
    /// file and its log) [default: the system temporary directory]. It must be on the disk
    /// being measured: on tmpfs fdatasync costs nothing.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run only the named scenario (repeat for several), e.g. to profile the server under
    /// one load; the targets' ratios are printed only when all four ran.
    #[arg(long, value_name = "SCENARIO", value_parser = scenario_name)]
    pub only: Vec<String>,
}

/// A scenario's name, checked against [`SPECS`] so a typo is refused before anything runs.
fn scenario_name(s: &str) -> Result<String, String> {
    if SPECS.iter().any(|spec| spec.name == s) {
        Ok(s.to_string())
    } else {
        let names: Vec<&str> = SPECS.iter().map(|spec| spec.name).collect();
        Err(format!(
            "no scenario {s:?}; the scenarios are {}",
            names.join(", ")
        ))
    }
}

/// The call a scenario's clients make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rpc {
    GetHead,
    Append,
}

/// One scenario: its name, call, clients and events per append.
struct Spec {
    name: &'static str,
    rpc: Rpc,
    clients: usize,
    events_per_request: usize,
}

/// The scenarios, in the order they run (the same server throughout).
const SPECS: [Spec; 4] = [
    Spec {
        name: "get_head_64",
        rpc: Rpc::GetHead,
        clients: 64,
        events_per_request: 0,
    },
    Spec {
        name: "append_1_event_1_client",
        rpc: Rpc::Append,
        clients: 1,
        events_per_request: 1,
    },
    Spec {
        name: "append_1_event_64_clients",
        rpc: Rpc::Append,
        clients: 64,
        events_per_request: 1,
    },
    Spec {
        name: "append_100_events_16_clients",
        rpc: Rpc::Append,
        clients: 16,
        events_per_request: 100,
    },
];

/// The figures of one scenario.
#[derive(Debug, Serialize)]
struct Scenario {
    name: &'static str,
    rpc: &'static str,
    clients: usize,
    /// Events per append (0 for GetHead).
    events_per_request: usize,
    /// Calls answered (appends: fresh, with every event sequenced); latency per call, sent
    /// to answered; `entries`: events appended.
    calls: Measured,
    requests_per_s: f64,
    events_per_s: f64,
    /// Calls that failed or answered something else than asked.
    errors: u64,
    /// The server's CPU time (user + system, all threads) over the scenario, seconds.
    server_cpu_seconds: f64,
    /// The server's CPU time over wall time: cores it kept busy.
    server_cores_busy: f64,
    /// Server CPU per answered call, microseconds.
    server_cpu_us_per_request: f64,
    /// Server CPU per appended event, microseconds (appends only).
    server_cpu_us_per_event: Option<f64>,
}

/// The ratios the append path's targets are stated in (docs/BENCHMARKS.md), from this run.
#[derive(Debug, Serialize)]
struct Ratios {
    /// Single-event appends/s at 64 clients over GetHead calls/s at 64 clients (target >= 0.6).
    append_64_rate_vs_get_head: f64,
    /// Server CPU per single-event append (64 clients) over CPU per GetHead (target <= 3).
    append_cpu_vs_get_head_cpu: f64,
    /// Server CPU per event in 100-event appends, microseconds (target <= 8).
    batch_cpu_us_per_event: f64,
    /// Events/s of 100-event appends at 16 clients (target >= 100,000).
    batch_events_per_s: f64,
    /// p99 of single-event appends at 64 clients, milliseconds (target <= 5).
    append_64_p99_ms: f64,
    /// p50 of single-event appends from 1 client over the fdatasync p50 (target <= 2).
    append_1_p50_vs_fdatasync_p50: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    load_before: String,
    load_after: String,
    /// Cores this process may use and the machine's memory (`MemTotal`), for the record.
    cores: usize,
    mem_total_kib: u64,
    seconds_per_scenario: f64,
    server_bin: PathBuf,
    dir: PathBuf,
    /// 4 KiB overwrite in place + fdatasync, one thread, on the data directory's filesystem.
    fdatasync: Measured,
    scenarios: Vec<Scenario>,
    ratios: Option<Ratios>,
    /// Entries appended before the scenarios: 400 schools and 50 education groups.
    setup_entries: u64,
    /// The log's size at the end, and what the answered appends add up to (the setup + every
    /// acknowledged event): equal unless a call failed.
    log_size: u64,
    acknowledged_entries: u64,
    /// The server stopped on SIGTERM with exit status 0.
    server_stopped_cleanly: bool,
    first_errors: Vec<String>,
}

/// Runs the benchmark.
pub fn run(a: &ServerArgs) -> Result<Outcome, CliError> {
    // Duration::from_secs_f64 panics outside its range: refuse such values first.
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 86_400.0) {
        return Err(CliError("--seconds must be in (0, 86400]".into()));
    }
    let server_bin = server_bin(a.server_bin.as_deref())?;
    let limits = Limits {
        duration: Duration::from_secs_f64(a.seconds),
        max_ops: 0,
    };
    let parent = a.dir.as_deref();
    let scratch = ScratchDir::new(parent, "server")?;
    let load_before = load_average();
    // The floor first, while nothing else of this run uses the disk.
    let fdatasync = measure_fdatasync(Some(&scratch.path), limits, false)?;

    let token = format!(
        "bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let access = write_access_file(&scratch.path, &token)?;
    let data = scratch.path.join("data");
    let log = scratch.path.join("serve.log");
    let config = access.as_os_str().to_owned();
    let server = ServeProcess::start(
        &server_bin,
        &data,
        &[std::ffi::OsStr::new("--config"), &config],
        Some(&log),
    )?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .map_err(CliError::ctx("starting a runtime"))?;
    let token = Some(token);
    rt.block_on(server.ready(token.clone()))?;
    rt.block_on(register_schools(&server, token.clone()))?;

    let mut scenarios = Vec::new();
    let mut first_errors = Vec::new();
    let setup_entries = schools().len() as u64;
    let mut acknowledged = setup_entries;
    for (tag, spec) in SPECS.iter().enumerate() {
        if !a.only.is_empty() && !a.only.iter().any(|n| n == spec.name) {
            continue;
        }
        let (s, errs) = rt.block_on(scenario(&server, &token, spec, tag, limits))?;
        acknowledged += s.calls.entries;
        first_errors.extend(errs);
        scenarios.push(s);
    }
    let log_size = rt.block_on(server.ready(token.clone()))?;
    drop(rt);
    let server_stopped_cleanly = server.stop();
    first_errors.truncate(10);

    let report = Report {
        load_before,
        load_after: load_average(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total_kib: crate::rebuild::proc_status_kib("/proc/meminfo", "MemTotal").unwrap_or(0),
        seconds_per_scenario: a.seconds,
        server_bin,
        dir: parent.map_or_else(std::env::temp_dir, Path::to_path_buf),
        ratios: ratios(&scenarios, &fdatasync),
        fdatasync,
        scenarios,
        setup_entries,
        log_size,
        acknowledged_entries: acknowledged,
        server_stopped_cleanly,
        first_errors,
    };
    let failed = report.scenarios.iter().any(|s| s.errors > 0)
        || report.log_size != report.acknowledged_entries
        || !report.server_stopped_cleanly;
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

/// An access file (mode 0600, as `serve` demands) with one writer token: writers may append
/// and read the head.
fn write_access_file(dir: &Path, token: &str) -> Result<PathBuf, CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("access.toml");
    let text = format!(
        "[[token]]\nname = \"bench\"\nrole = \"writer\"\nhash = \"{}\"\n",
        rotaledger::grpc::auth::hash_token(token)
    );
    std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(CliError::ctx(path.display()))?;
    Ok(path)
}

/// The 400 schools the teachers are registered at (and 50 education groups), in one append.
async fn register_schools(server: &ServeProcess, token: Option<String>) -> Result<(), CliError> {
    let mut ledger = server.connect(token).ledger().await?;
    let events = schools();
    let n = events.len();
    let r = ledger
        .append(call(proto::AppendRequest {
            events,
            request_id: "bench-schools".into(),
            expected_size: None,
        }))
        .await
        .map_err(|s| CliError(format!("registering the schools: {}", s.message())))?
        .into_inner();
    if r.seqs.len() != n {
        return Err(CliError(format!(
            "registering the schools: {} of {n} sequenced",
            r.seqs.len()
        )));
    }
    Ok(())
}

/// A fresh teacher's registration for scenario `tag`, client `client`, request `i`, event
/// `j`: unique in the run, at one of the 400 schools.
fn event(tag: usize, client: usize, i: u64, j: usize) -> String {
    let n = (client as u64).wrapping_mul(7919) + i * 31 + j as u64;
    teacher_registered(
        &format!("V{tag}-{client:02}-{i:07}-{j:03}"),
        &format!("Bench teacher {tag}-{client}-{i}-{j}"),
        &format!("S{:04}", n % 400),
    )
}

/// One client's closed loop until `deadline`; latencies in ns of the calls answered as asked.
async fn client_loop(
    mut ledger: Ledger,
    rpc: Rpc,
    (tag, client, per_request): (usize, usize, usize),
    deadline: Instant,
    done: Arc<AtomicU64>,
    errors: Arc<Errors>,
) -> Vec<u64> {
    let mut lat = Vec::new();
    let mut i = 0u64;
    while Instant::now() < deadline {
        let t = Instant::now();
        let answered = match rpc {
            Rpc::GetHead => match ledger.get_head(call(proto::GetHeadRequest {})).await {
                Ok(_) => true,
                Err(s) => {
                    errors.add(format!("GetHead: {}", s.message()));
                    false
                }
            },
            Rpc::Append => {
                let req = proto::AppendRequest {
                    events: (0..per_request).map(|j| event(tag, client, i, j)).collect(),
                    request_id: format!("bench-{tag}-{client}-{i}"),
                    expected_size: None,
                };
                match ledger.append(call(req)).await {
                    Ok(r) => {
                        let r = r.into_inner();
                        // An answer that is not a fresh append of every event is not what
                        // was asked.
                        let ok = !r.duplicate && r.seqs.len() == per_request;
                        if !ok {
                            errors.add(format!(
                                "append {i} of client {client}: {} entries, duplicate {}",
                                r.seqs.len(),
                                r.duplicate
                            ));
                        }
                        ok
                    }
                    Err(s) => {
                        errors.add(format!("append: {}", s.message()));
                        false
                    }
                }
            }
        };
        if answered {
            lat.push(t.elapsed().as_nanos() as u64);
            done.fetch_add(1, Ordering::Relaxed);
        }
        i += 1;
    }
    lat
}

/// One scenario on the running server: clients connected first, then the clock and the
/// server's CPU time read around the closed loops.
async fn scenario(
    server: &ServeProcess,
    token: &Option<String>,
    spec: &Spec,
    tag: usize,
    limits: Limits,
) -> Result<(Scenario, Vec<String>), CliError> {
    let connect = server.connect(token.clone());
    let mut clients = Vec::with_capacity(spec.clients);
    for _ in 0..spec.clients {
        clients.push(connect.ledger().await?);
    }
    let errors = Arc::new(Errors::default());
    let done = Arc::new(AtomicU64::new(0));
    let what = format!("{:<30}", spec.name);
    let bar = timed_bar(&limits, what.clone());
    let cpu_before = cpu_seconds(server.pid)?;
    let start = Instant::now();
    let deadline = start + limits.duration;
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(k, ledger)| {
            tokio::spawn(client_loop(
                ledger,
                spec.rpc,
                (tag, k, spec.events_per_request),
                deadline,
                done.clone(),
                errors.clone(),
            ))
        })
        .collect();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while handles.iter().any(|h| !h.is_finished()) {
        tick.tick().await;
        bar.set_position(start.elapsed().as_millis() as u64);
        bar.set_message(format!("{what}: {} calls", done.load(Ordering::Relaxed)));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.map_err(CliError::ctx("a client task"))?);
    }
    let elapsed = start.elapsed();
    let cpu = cpu_seconds(server.pid)? - cpu_before;
    bar.finish_and_clear();
    let events = lat.len() as u64 * spec.events_per_request as u64;
    let calls = Measured::new(lat, events, 0, elapsed);
    let requests = calls.ops.max(1) as f64;
    Ok((
        Scenario {
            name: spec.name,
            rpc: match spec.rpc {
                Rpc::GetHead => "Ledger.GetHead",
                Rpc::Append => "Ledger.Append",
            },
            clients: spec.clients,
            events_per_request: spec.events_per_request,
            requests_per_s: calls.ops_per_s(),
            events_per_s: calls.entries_per_s(),
            errors: errors.count(),
            server_cpu_seconds: cpu,
            server_cores_busy: cpu / elapsed.as_secs_f64().max(1e-9),
            server_cpu_us_per_request: cpu * 1e6 / requests,
            server_cpu_us_per_event: (spec.rpc == Rpc::Append)
                .then(|| cpu * 1e6 / events.max(1) as f64),
            calls,
        },
        errors.first(),
    ))
}

/// The targets' ratios, when every scenario answered calls.
fn ratios(s: &[Scenario], fdatasync: &Measured) -> Option<Ratios> {
    let by = |name: &str| s.iter().find(|x| x.name == name && x.calls.ops > 0);
    let head = by(SPECS[0].name)?;
    let one = by(SPECS[1].name)?;
    let many = by(SPECS[2].name)?;
    let batch = by(SPECS[3].name)?;
    Some(Ratios {
        append_64_rate_vs_get_head: many.requests_per_s / head.requests_per_s.max(1e-9),
        append_cpu_vs_get_head_cpu: many.server_cpu_us_per_request
            / head.server_cpu_us_per_request.max(1e-9),
        batch_cpu_us_per_event: batch.server_cpu_us_per_event.unwrap_or(0.0),
        batch_events_per_s: batch.events_per_s,
        append_64_p99_ms: many.calls.p99_ms,
        append_1_p50_vs_fdatasync_p50: one.calls.p50_ms / fdatasync.p50_ms.max(1e-9),
    })
}

fn print_table(r: &Report) {
    println!(
        "bench server: {} serve in its own process, {} s per scenario, {} cores, {:.1} GiB, \
         scratch under {}",
        r.server_bin.display(),
        r.seconds_per_scenario,
        r.cores,
        r.mem_total_kib as f64 / (1024.0 * 1024.0),
        r.dir.display()
    );
    println!(
        "load average before: {}, after: {}",
        r.load_before, r.load_after
    );
    println!(
        "fdatasync floor, 4 KiB overwrite + fdatasync: {:.0}/s, p50 {:.3} ms, p99 {:.3} ms",
        r.fdatasync.ops_per_s(),
        r.fdatasync.p50_ms,
        r.fdatasync.p99_ms
    );
    println!();
    println!(
        "{:<30} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>6}",
        "scenario",
        "clients",
        "calls/s",
        "events/s",
        "p50 ms",
        "p99 ms",
        "server",
        "CPU us/",
        "CPU us/",
        "errors"
    );
    println!(
        "{:<30} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>6}",
        "", "", "", "", "", "", "cores", "call", "event", ""
    );
    for s in &r.scenarios {
        println!(
            "{:<30} {:>7} {:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>9} {:>6}",
            s.name,
            s.clients,
            s.requests_per_s,
            s.events_per_s,
            s.calls.p50_ms,
            s.calls.p99_ms,
            s.server_cores_busy,
            s.server_cpu_us_per_request,
            s.server_cpu_us_per_event
                .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
            s.errors
        );
    }
    println!();
    if let Some(x) = &r.ratios {
        println!("targets (docs/BENCHMARKS.md):");
        println!(
            "  single-event appends at 64 clients vs GetHead's rate: {:>6.1}%   (target >= 60%)",
            x.append_64_rate_vs_get_head * 100.0
        );
        println!(
            "  server CPU per append vs per GetHead:                 {:>6.2}x   (target <= 3x)",
            x.append_cpu_vs_get_head_cpu
        );
        println!(
            "  server CPU per event, 100-event appends:              {:>6.1} us (target <= 8 us)",
            x.batch_cpu_us_per_event
        );
        println!(
            "  events/s, 100-event appends at 16 clients:          {:>8.0}   (target >= 100,000)",
            x.batch_events_per_s
        );
        println!(
            "  p99 of single-event appends at 64 clients:            {:>6.2} ms (target <= 5 ms)",
            x.append_64_p99_ms
        );
        println!(
            "  1-client append p50 vs fdatasync p50:                 {:>6.2}x   (target <= 2x)",
            x.append_1_p50_vs_fdatasync_p50
        );
    }
    println!(
        "log: {} entries, {} acknowledged; server stopped cleanly: {}",
        r.log_size, r.acknowledged_entries, r.server_stopped_cleanly
    );
    for e in &r.first_errors {
        println!("error: {e}");
    }
}

//! `rotaledger bench`: throughput and latency of the log, each measured next to its raw floor
//! in the same run, so a figure always comes with what the machine itself could do.
//!
//! These are benchmarks, never tests: nothing here asserts a speed. Results and the commands
//! that produced them go in `docs/BENCHMARKS.md`.
//!
//! - `bench append`: durable appends through the real group-commit [`Writer`] (with
//!   [`PassThrough`]) from 1, 16 and 64 concurrent appenders, next to the floor of the same
//!   storage work without the writer (sled insert + flush + fdatasync with the batching the
//!   writer achieved) and a plain fdatasync rate.
//! - `bench verify`: full chain verification of a store, next to a raw sled scan and raw
//!   blake3 over the same stored bytes.
//! - `bench proofs`, `bench rebuild`, `bench soak`, `bench grpc`, `bench query`: in their own
//!   modules (`bench_*.rs`), which reuse the floors and helpers here.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::value::RawValue;

use super::{CliError, Outcome, progress};
use crate::log::entry::{encode_body, format_time};
use crate::log::store::{HEAD_KEY, entry_key, node_key, request_key};
use crate::log::verify::verify_store;
use crate::log::{AppendRequest, PassThrough, Store, Writer, fingerprint};

/// The benchmarks. New ones are added as further variants (`rotaledger bench <name>`).
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Durable appends/s and p50/p99 latency through the group-commit writer, next to the raw
    /// floor measured in the same run.
    ///
    /// For every combination of --appenders and --entries-per-append: (1) the writer: that
    /// many threads append in a closed loop on a fresh store, each append acknowledged only
    /// once durable; (2) the floor: one thread does the same storage work directly on sled
    /// (insert + flush + fdatasync, as many appends per commit as the writer achieved), with no
    /// writer, no hashing, no JSON. Before them, plain fdatasync rates (4 KiB overwritten in
    /// place, and 4 KiB appended, + fdatasync). Each measurement stops after --seconds or
    /// --appends, whichever comes first, and runs --rounds times (writer and floor
    /// alternating); the median round is reported.
    ///
    /// Stores are created in a fresh directory under --dir (default: the system temporary
    /// directory) and removed afterwards. It must be on the disk being measured: on tmpfs
    /// fdatasync costs nothing and the figures mean nothing.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 2 could
    /// not run.
    Append(AppendArgs),
    /// Full chain verification rate of a store of --entries entries, next to a raw sled scan
    /// and raw blake3 over the same stored bytes, measured in the same run.
    ///
    /// Fills a fresh store through the writer (synthetic event-like payloads), reopens it,
    /// then times --runs passes of each: `verify` (scan + decode + every hash, link and the
    /// Merkle root), the bare sled scan, and blake3 of every stored value held in memory. The
    /// median pass is reported. The OS page cache is warm: this is the CPU cost of
    /// verification, not a cold-disk read.
    ///
    /// With --keep DIR the filled store is left in DIR (which must not exist yet), e.g. for
    /// `rotaledger export --data DIR`. Prints a table on stdout (or JSON with --json). Exit 0
    /// done, 1 the filled store did not verify, 2 could not run.
    Verify(VerifyArgs),
    /// Inclusion and consistency proofs, past roots and checkpoints on a store of --entries
    /// entries, next to a raw sled node read and one blake3 node hash measured in the same run.
    Proofs(ProofsArgs),
    /// Rebuild of the domain state on open: reopen time, replay rate and peak RSS of a
    /// ledger of --entries realistic domain entries, with a full replay and with the state
    /// snapshot, next to a raw sled scan and a serde_json parse of the same entries measured
    /// in the same run.
    ///
    /// Fills a fresh ledger through the real `Ledger` (schools, groups, then per teacher:
    /// registered, dispatched, evaluated three times, returned, promoted), in appends of
    /// --batch events, with a progress bar on stderr, and closes it gracefully, in a process
    /// of its own. Then, each in a fresh process (so the fill's memory is neither counted nor
    /// held while measuring): one reopen with the full check
    /// (head check, Merkle frontier, replay and verification of every entry), after which it
    /// writes a state snapshot and times that; and one restart from that snapshot (snapshot
    /// read, position check, decode), with the time the background check of the older
    /// entries then takes. Peak RSS (`VmHWM`) after each. The store is created under --dir
    /// (default: the system temporary directory) and removed afterwards.
    /// Exit 0 done, 2 could not run.
    Rebuild(RebuildArgs),
    /// Minutes of mixed load on an in-process server over loopback, with a verdict.
    ///
    /// Starts a real server on 127.0.0.1:0 over a fresh store (under --dir, default the system
    /// temporary directory, removed afterwards) and for --seconds runs: one writer sending a
    /// generated district's append requests in order (then fresh school registrations), the
    /// other writers registering fresh schools concurrently, readers looping over Query RPCs
    /// (teacher history, eligibility, a strong school's quota, terms by school), and
    /// subscribers following Audit.Subscribe from 0, checking every entry arrives in order
    /// with no gap. Every second it samples RSS (`VmRSS`), operations and errors. Then it
    /// shuts the server down gracefully, verifies the whole log offline, and measures the RSS
    /// of a fresh `rotaledger serve` over the same store (what holding this log costs).
    ///
    /// Prints a table (per operation: count, errors, p50, p99, max), RSS at start, after one
    /// minute, at the end and the maximum, the fresh server's RSS, the log's size and a
    /// verdict (or JSON with --json): no errors, subscribers in order, the log verifies, and
    /// the end RSS within 1.5x the fresh server's + 128 MiB. Exit 0 the verdict holds, 1 it
    /// does not, 2 could not run.
    Soak(super::bench_soak::SoakArgs),
    /// Durable appends over gRPC on loopback from 1, 16 and 64 clients, next to an RPC floor
    /// and the disk floor measured in the same run.
    ///
    /// For every combination of --clients and --events-per-request, on a fresh ledger (under
    /// --dir, default the system temporary directory, removed afterwards) with 400 schools
    /// registered: (1) ours: a real server on 127.0.0.1:0 and that many tonic clients, each
    /// on its own HTTP/2 connection (or sharing --connections of them), appending fresh teacher registrations in a closed loop
    /// (every append judged by the rules, acknowledged once durable, with its receipt); (2)
    /// the RPC floor: Ledger.GetHead from as many clients on the same server; (3) the disk
    /// floor: sled insert + flush + fdatasync by one thread with as many appends per commit as
    /// the server achieved (`bench append`'s floor). Each runs for --seconds.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 1 a
    /// call failed (the output says which), 2 could not run.
    Grpc(super::bench_grpc::GrpcArgs),
    /// Latency of the teacher history, eligibility and school quota queries on a large ledger
    /// (--entries, default 1,000,000), idle and under concurrent appends, over gRPC and
    /// in-process.
    ///
    /// Builds the ledger through the real `Ledger` (`bench rebuild`'s filler, untimed, with a
    /// progress bar) or reuses the one in --data, opens it, then for each query measures for
    /// --seconds: in-process calls (the floor without gRPC), idle and while --appenders tasks
    /// append single events through the ledger; then the Query RPCs from tonic clients on a
    /// real server over the same ledger, idle and while --appenders clients append over gRPC.
    /// Random existing teachers; schools strong in --school-year.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 1 a
    /// query or append failed, 2 could not run.
    Query(super::bench_query::QueryArgs),
}

/// Flags of `bench rebuild`.
#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Entries in the ledger to rebuild.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Events per append while filling (at most 1000, the ledger's limit).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Parent directory of the temporary ledger [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Measure the ledger already in this directory instead (no fill; left in place).
    #[arg(long, conflicts_with = "dir")]
    pub existing: Option<PathBuf>,
    /// Keep the filled ledger (in --dir, as `rebuild-ledger`) instead of removing it, so
    /// later builds can be measured on the same entries with --existing.
    #[arg(long, requires = "dir")]
    pub keep: bool,
    /// With --existing: measure only the restart from the state snapshot (without it: only
    /// the full replay, then write a snapshot).
    #[arg(long, requires = "existing")]
    pub from_snapshot: bool,
    /// Internal: fill a new ledger in this directory and exit (the fill runs in a process of
    /// its own, so the memory it leaves behind does not count against the measurements).
    #[arg(long, hide = true, conflicts_with_all = ["dir", "existing"])]
    pub fill_into: Option<PathBuf>,
}

/// Flags of `bench proofs`.
#[derive(Args, Debug)]
pub struct ProofsArgs {
    /// Entries in the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Random samples measured per operation.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// Entries per append while filling.
    #[arg(long, default_value_t = 1000)]
    pub batch: u64,
    /// Use (and fill up to --entries) this store instead of a temporary one.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Flags of `bench append`.
#[derive(Args, Debug)]
pub struct AppendArgs {
    /// Concurrent appenders (threads), comma-separated: one scenario per value.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub appenders: Vec<usize>,
    /// Entries per append, comma-separated: one scenario per value.
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    pub entries_per_append: Vec<usize>,
    /// Longest duration of each measurement, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Rounds of every measurement (writer and floor alternating); the median round by
    /// throughput is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Most appends (fdatasync floor: syncs) in each measurement (0: bounded by --seconds only).
    #[arg(long, default_value_t = 0)]
    pub appends: u64,
    /// Size of each entry's payload in bytes (a JSON object padded to about this size).
    #[arg(long, default_value_t = 200)]
    pub payload_bytes: usize,
    /// Parent directory of the temporary stores [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `bench verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Entries in the store to verify.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Entries per append while filling the store.
    #[arg(long, default_value_t = 1000)]
    pub fill_batch: u64,
    /// Size of each entry's payload in bytes (a JSON object padded to about this size).
    #[arg(long, default_value_t = 200)]
    pub payload_bytes: usize,
    /// Timed passes of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Leave the filled store in this directory (it must not exist yet) instead of removing it.
    #[arg(long, conflicts_with = "dir")]
    pub keep: Option<PathBuf>,
    /// Parent directory of the temporary store [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs one benchmark.
pub fn run(cmd: BenchCommand) -> Result<Outcome, CliError> {
    match cmd {
        BenchCommand::Append(a) => bench_append(&a),
        BenchCommand::Verify(v) => bench_verify(&v),
        BenchCommand::Proofs(p) => {
            super::bench_proofs::run(p.entries, p.samples, p.batch, p.dir.as_deref())
        }
        BenchCommand::Rebuild(r) => super::bench_rebuild::run(
            r.entries,
            r.batch,
            r.dir.as_deref(),
            r.existing.as_deref(),
            r.keep,
            r.from_snapshot,
            r.fill_into.as_deref(),
        ),
        BenchCommand::Soak(s) => super::bench_soak::run(&s),
        BenchCommand::Grpc(g) => super::bench_grpc::run(&g),
        BenchCommand::Query(q) => super::bench_query::run(&q),
    }
}

/// A directory removed when dropped (unless kept).
pub(crate) struct ScratchDir {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// Left in place when dropped.
    keep: bool,
}

impl ScratchDir {
    /// A new, empty directory under `parent`.
    pub(crate) fn new(parent: Option<&Path>, what: &str) -> Result<ScratchDir, CliError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!(
            "rotaledger-bench-{}-{what}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).map_err(CliError::ctx(path.display()))?;
        Ok(ScratchDir { path, keep: false })
    }

    /// `path`, which must not exist yet, kept after the run.
    fn kept(path: &Path) -> Result<ScratchDir, CliError> {
        if path.exists() {
            return Err(CliError(format!(
                "{} already exists; --keep wants a new directory",
                path.display()
            )));
        }
        std::fs::create_dir_all(path).map_err(CliError::ctx(path.display()))?;
        Ok(ScratchDir {
            path: path.to_path_buf(),
            keep: true,
        })
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Latency percentiles and rates of one measurement.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Measured {
    /// Appends (or commits, or syncs) completed.
    pub(crate) ops: u64,
    /// Entries written.
    pub(crate) entries: u64,
    /// Wall time of the whole measurement, seconds.
    pub(crate) seconds: f64,
    /// Durable commits.
    pub(crate) commits: u64,
    /// Median latency, milliseconds.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub(crate) p99_ms: f64,
    /// Largest latency, milliseconds: one stall shows here even when it is under 1%.
    pub(crate) max_ms: f64,
}

impl Measured {
    pub(crate) fn new(
        mut lat_ns: Vec<u64>,
        entries: u64,
        commits: u64,
        elapsed: Duration,
    ) -> Measured {
        lat_ns.sort_unstable();
        Measured {
            ops: lat_ns.len() as u64,
            entries,
            seconds: elapsed.as_secs_f64(),
            commits,
            p50_ms: percentile(&lat_ns, 50) as f64 / 1e6,
            p99_ms: percentile(&lat_ns, 99) as f64 / 1e6,
            max_ms: lat_ns.last().copied().unwrap_or(0) as f64 / 1e6,
        }
    }
    pub(crate) fn ops_per_s(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }
    pub(crate) fn entries_per_s(&self) -> f64 {
        self.entries as f64 / self.seconds.max(1e-9)
    }
}

/// The `p`th percentile of sorted values (nearest rank), 0 when empty.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// When a measurement stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Longest duration.
    pub(crate) duration: Duration,
    /// Most operations (0: no limit).
    pub(crate) max_ops: u64,
}

impl Limits {
    /// Takes one more operation if the limits allow it.
    fn take(&self, start: Instant, taken: &AtomicU64) -> bool {
        if start.elapsed() >= self.duration {
            return false;
        }
        self.max_ops == 0 || taken.fetch_add(1, Ordering::Relaxed) < self.max_ops
    }
}

/// A JSON payload of about `size` bytes: event-like fields and padding.
fn payload(t: usize, i: u64, j: usize, size: usize) -> String {
    let head = format!(
        r#"{{"type":"TeacherRotated","v":1,"teacher":"T{t:03}-{i:07}","from_school":"S{:03}","to_school":"S{:03}","n":{j},"pad":""#,
        i % 997,
        i % 991
    );
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}

fn raw_json(s: String) -> Result<Box<RawValue>, CliError> {
    RawValue::from_string(s).map_err(CliError::ctx("building a payload"))
}

fn request(
    actor: &str,
    request_id: String,
    payloads: Vec<Box<RawValue>>,
) -> AppendRequest<Vec<Box<RawValue>>> {
    AppendRequest {
        actor: actor.into(),
        request_id,
        fingerprint: fingerprint(payloads.iter().map(|p| p.get().as_bytes())),
        expected_size: None,
        input: payloads,
    }
}

fn open_writer(dir: &Path) -> Result<Writer<PassThrough>, CliError> {
    let store = Arc::new(Store::open(dir).map_err(CliError::ctx(dir.display()))?);
    let head = store.check_head().map_err(CliError::ctx(dir.display()))?;
    Writer::start(store, head, PassThrough).map_err(CliError::ctx("starting the writer"))
}

/// A bar over the measurement's duration, showing operations done so far.
pub(crate) fn timed_bar(limits: &Limits, what: String) -> ProgressBar {
    let bar = ProgressBar::new(limits.duration.as_millis() as u64);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what);
    bar
}

/// Waits for worker threads, drawing progress; returns their results and the wall time.
fn join_all<T>(
    handles: Vec<JoinHandle<Result<T, CliError>>>,
    start: Instant,
    bar: &ProgressBar,
    done: &AtomicU64,
    what: &str,
) -> Result<(Vec<T>, Duration), CliError> {
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        bar.set_position(start.elapsed().as_millis() as u64);
        bar.set_message(format!("{what}: {} appends", done.load(Ordering::Relaxed)));
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.join()
                .map_err(|_| CliError("a benchmark thread panicked".into()))??,
        );
    }
    Ok((out, elapsed))
}

/// The writer: `appenders` threads append `per_append` entries each time, closed loop.
fn measure_writer(
    parent: Option<&Path>,
    appenders: usize,
    per_append: usize,
    payload_bytes: usize,
    limits: Limits,
) -> Result<Measured, CliError> {
    let dir = ScratchDir::new(parent, "writer")?;
    let writer = Arc::new(open_writer(&dir.path)?);
    let taken = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<JoinHandle<Result<Vec<u64>, CliError>>> = (0..appenders)
        .map(|t| {
            let (writer, taken, done) = (writer.clone(), taken.clone(), done.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while limits.take(start, &taken) {
                    let payloads = (0..per_append)
                        .map(|j| raw_json(payload(t, i, j, payload_bytes)))
                        .collect::<Result<Vec<_>, _>>()?;
                    let req = request("bench", format!("t{t}-{i}"), payloads);
                    let t0 = Instant::now();
                    writer
                        .append_blocking(req)
                        .map_err(CliError::ctx("append"))?;
                    lat.push(t0.elapsed().as_nanos() as u64);
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                Ok(lat)
            })
        })
        .collect();
    let what = format!("writer   {appenders:>2} x {per_append:>3}");
    let bar = timed_bar(&limits, what.clone());
    let (lats, elapsed) = join_all(handles, start, &bar, &done, &what)?;
    let stats = writer.store().stats.snapshot();
    writer.shutdown();
    let lat: Vec<u64> = lats.into_iter().flatten().collect();
    Ok(Measured::new(lat, stats.entries, stats.commits, elapsed))
}

/// The floor: the storage work of the writer's commits done directly on sled by one thread,
/// `batch` appends of `per_append` entries per commit, with values of the same sizes (entry,
/// Merkle nodes, idempotency record, head). Latency is per commit.
pub(crate) fn measure_floor(
    parent: Option<&Path>,
    batch: usize,
    per_append: usize,
    payload_bytes: usize,
    limits: Limits,
) -> Result<Measured, CliError> {
    let dir = ScratchDir::new(parent, "floor")?;
    let db = sled::Config::new()
        .path(&dir.path)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .open()
        .map_err(CliError::ctx(dir.path.display()))?;
    let data_path = dir.path.join("db");
    let data = File::open(&data_path).map_err(CliError::ctx(data_path.display()))?;
    let time = format_time(chrono::Utc::now());
    let sample = raw_json(payload(0, 0, 0, payload_bytes))?;
    let body_len = encode_body(0, &time, "bench", "t0-0", &sample).len();
    let mut value = vec![0u8; 64 + body_len];
    let (mut seq, mut appends, mut commits) = (0u64, 0u64, 0u64);
    let mut lat = Vec::new();
    let what = format!("floor    {batch:>2} x {per_append:>3}");
    let bar = timed_bar(&limits, what.clone());
    let start = Instant::now();
    while start.elapsed() < limits.duration && (limits.max_ops == 0 || appends < limits.max_ops) {
        let mut b = sled::Batch::default();
        for a in 0..batch {
            for _ in 0..per_append {
                value[..8].copy_from_slice(&seq.to_be_bytes());
                b.insert(&entry_key(seq)[..], &value[..]);
                let node = *blake3::hash(&seq.to_be_bytes()).as_bytes();
                b.insert(&node_key(0, seq)[..], &node[..]);
                for l in 1..=seq.trailing_ones() {
                    b.insert(&node_key(l as u8, ((seq + 1) >> l) - 1)[..], &node[..]);
                }
                seq += 1;
            }
            b.insert(
                request_key("bench", &format!("c{commits}-{a}")),
                &[7u8; 44][..],
            );
        }
        b.insert(HEAD_KEY, &[9u8; 72][..]);
        let t0 = Instant::now();
        db.apply_batch(b)
            .map_err(CliError::ctx("sled apply_batch"))?;
        db.flush().map_err(CliError::ctx("sled flush"))?;
        data.sync_data()
            .map_err(CliError::ctx(data_path.display()))?;
        lat.push(t0.elapsed().as_nanos() as u64);
        appends += batch as u64;
        commits += 1;
        if commits.is_multiple_of(16) {
            bar.set_position(start.elapsed().as_millis() as u64);
            bar.set_message(format!("{what}: {appends} appends"));
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let mut m = Measured::new(lat, seq, commits, elapsed);
    m.ops = appends;
    Ok(m)
}

/// Plain fdatasync rate: write 4 KiB and fdatasync, in a loop. With `grow`, each write
/// appends (the file's size changes, so ext4 must also commit metadata through its journal);
/// without, it overwrites blocks of a preallocated, synced 1 MiB file in place.
pub(crate) fn measure_fdatasync(
    parent: Option<&Path>,
    limits: Limits,
    grow: bool,
) -> Result<Measured, CliError> {
    const BLOCK: usize = 4096;
    const SLOTS: u64 = 256;
    let dir = ScratchDir::new(parent, "fdatasync")?;
    let path = dir.path.join("probe");
    let f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .map_err(CliError::ctx(path.display()))?;
    let block = [0x5au8; BLOCK];
    if !grow {
        f.write_all_at(&vec![0u8; BLOCK * SLOTS as usize], 0)
            .and_then(|()| f.sync_all())
            .map_err(CliError::ctx(path.display()))?;
    }
    let taken = AtomicU64::new(0);
    let mut lat = Vec::new();
    let mut i = 0u64;
    let bar = timed_bar(&limits, "fdatasync".into());
    let start = Instant::now();
    while limits.take(start, &taken) {
        let offset = if grow { i } else { i % SLOTS } * BLOCK as u64;
        let t0 = Instant::now();
        f.write_all_at(&block, offset)
            .and_then(|()| f.sync_data())
            .map_err(CliError::ctx(path.display()))?;
        lat.push(t0.elapsed().as_nanos() as u64);
        i += 1;
        if i.is_multiple_of(64) {
            bar.set_position(start.elapsed().as_millis() as u64);
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let n = lat.len() as u64;
    Ok(Measured::new(lat, n, n, elapsed))
}

/// One row pair of `bench append`.
#[derive(Debug, Serialize)]
struct AppendScenario {
    appenders: usize,
    entries_per_append: usize,
    writer: Measured,
    /// Appends per commit the floor used: the writer's mean, rounded, at least 1.
    floor_batch: usize,
    floor: Measured,
    /// Writer entries/s over floor entries/s.
    writer_vs_floor: f64,
}

#[derive(Debug, Serialize)]
struct AppendReport {
    /// `/proc/loadavg` before and after: other work on the machine moves every figure.
    load_before: String,
    load_after: String,
    seconds_per_measurement: f64,
    rounds: usize,
    max_appends_per_measurement: u64,
    payload_bytes: usize,
    dir: PathBuf,
    /// 4 KiB overwrite in place + fdatasync.
    fdatasync: Measured,
    /// 4 KiB append (the file grows) + fdatasync.
    fdatasync_append: Measured,
    scenarios: Vec<AppendScenario>,
}

fn bench_append(a: &AppendArgs) -> Result<Outcome, CliError> {
    // Duration::from_secs_f64 panics outside its range: refuse such values first.
    let seconds_ok = a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 86_400.0;
    if a.appenders.contains(&0) || a.entries_per_append.contains(&0) || !seconds_ok {
        return Err(CliError(
            "--appenders and --entries-per-append must be positive, --seconds in (0, 86400]".into(),
        ));
    }
    let limits = Limits {
        duration: Duration::from_secs_f64(a.seconds),
        max_ops: a.appends,
    };
    let parent = a.dir.as_deref();
    let rounds = a.rounds.max(1);
    let load_before = load_average();
    let (mut overwrite, mut append) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        overwrite.push(measure_fdatasync(parent, limits, false)?);
        append.push(measure_fdatasync(parent, limits, true)?);
    }
    let fdatasync = median_by_rate(overwrite);
    let fdatasync_append = median_by_rate(append);
    let mut scenarios = Vec::new();
    for &per_append in &a.entries_per_append {
        for &appenders in &a.appenders {
            // Writer and floor alternate, so that a burst of load elsewhere on the machine
            // hits both sides of the comparison rather than one.
            let (mut writers, mut floors, mut batches) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                let w = measure_writer(parent, appenders, per_append, a.payload_bytes, limits)?;
                let batch = if w.commits == 0 {
                    1
                } else {
                    ((w.ops as f64 / w.commits as f64).round() as usize).max(1)
                };
                floors.push(measure_floor(
                    parent,
                    batch,
                    per_append,
                    a.payload_bytes,
                    limits,
                )?);
                writers.push(w);
                batches.push(batch);
            }
            batches.sort_unstable();
            let floor_batch = batches[batches.len() / 2];
            let writer = median_by_rate(writers);
            let floor = median_by_rate(floors);
            scenarios.push(AppendScenario {
                appenders,
                entries_per_append: per_append,
                writer_vs_floor: writer.entries_per_s() / floor.entries_per_s().max(1e-9),
                writer,
                floor_batch,
                floor,
            });
        }
    }
    let report = AppendReport {
        load_before,
        load_after: load_average(),
        seconds_per_measurement: a.seconds,
        rounds,
        max_appends_per_measurement: a.appends,
        payload_bytes: a.payload_bytes,
        dir: parent.map_or_else(std::env::temp_dir, Path::to_path_buf),
        fdatasync,
        fdatasync_append,
        scenarios,
    };
    if a.json {
        print_json(&report)?;
    } else {
        print_append_table(&report);
    }
    Ok(Outcome::Ok)
}

pub(crate) fn print_json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(CliError::ctx("encoding JSON"))?;
    println!("{s}");
    Ok(())
}

fn print_append_table(r: &AppendReport) {
    println!(
        "bench append: at most {} s{} per measurement, median of {} rounds, payload ~{} B, stores under {}",
        r.seconds_per_measurement,
        if r.max_appends_per_measurement > 0 {
            format!(" or {} appends", r.max_appends_per_measurement)
        } else {
            String::new()
        },
        r.rounds,
        r.payload_bytes,
        r.dir.display()
    );
    println!(
        "load average before: {}, after: {}",
        r.load_before, r.load_after
    );
    for (what, f) in [
        ("4 KiB overwrite", &r.fdatasync),
        ("4 KiB append   ", &r.fdatasync_append),
    ] {
        println!(
            "fdatasync floor, {what} + fdatasync: {:>6.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            f.ops_per_s(),
            f.p50_ms,
            f.p99_ms
        );
    }
    println!();
    println!(
        "{:>9} {:>9} {:<7} {:>10} {:>10} {:>8} {:>8} {:>9} {:>8}",
        "appenders",
        "entries/",
        "path",
        "appends/s",
        "entries/s",
        "p50 ms",
        "p99 ms",
        "appends/",
        "vs floor"
    );
    println!(
        "{:>9} {:>9} {:<7} {:>10} {:>10} {:>8} {:>8} {:>9} {:>8}",
        "", "append", "", "", "", "", "", "commit", ""
    );
    for s in &r.scenarios {
        let w = &s.writer;
        let fl = &s.floor;
        println!(
            "{:>9} {:>9} {:<7} {:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>9.1} {:>7.0}%",
            s.appenders,
            s.entries_per_append,
            "writer",
            w.ops_per_s(),
            w.entries_per_s(),
            w.p50_ms,
            w.p99_ms,
            w.ops as f64 / (w.commits.max(1)) as f64,
            s.writer_vs_floor * 100.0
        );
        println!(
            "{:>9} {:>9} {:<7} {:>10.0} {:>10.0} {:>8.2} {:>8.2} {:>9} {:>8}",
            "",
            "",
            "floor",
            fl.ops_per_s(),
            fl.entries_per_s(),
            fl.p50_ms,
            fl.p99_ms,
            s.floor_batch,
            ""
        );
    }
    println!();
    println!(
        "writer latency: one append, submit to durable answer; floor latency: one commit \
         (apply_batch + flush + fdatasync)."
    );
}

/// The 1, 5 and 15 minute load averages, or "unknown" off Linux.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The measurement with the median throughput.
fn median_by_rate(mut v: Vec<Measured>) -> Measured {
    v.sort_by(|a, b| a.entries_per_s().total_cmp(&b.entries_per_s()));
    let i = v.len() / 2;
    v.swap_remove(i)
}

/// Median of a few timed passes.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One line of `bench verify`.
#[derive(Debug, Serialize)]
struct VerifyRow {
    what: &'static str,
    seconds: f64,
    entries_per_s: f64,
    mib_per_s: f64,
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    load_before: String,
    load_after: String,
    entries: u64,
    stored_bytes: u64,
    fill_seconds: f64,
    runs: usize,
    store: PathBuf,
    kept: bool,
    rows: Vec<VerifyRow>,
}

fn bench_verify(a: &VerifyArgs) -> Result<Outcome, CliError> {
    if a.runs == 0 || a.fill_batch == 0 {
        return Err(CliError("--runs and --fill-batch must be positive".into()));
    }
    let dir = match &a.keep {
        Some(k) => ScratchDir::kept(k)?,
        None => ScratchDir::new(a.dir.as_deref(), "verify")?,
    };
    // Fill through the real writer, so the store is exactly what the ledger writes.
    let fill_start = Instant::now();
    {
        let writer = open_writer(&dir.path)?;
        let bar = progress::entries(a.entries, "filling");
        let mut written = 0u64;
        let mut i = 0u64;
        while written < a.entries {
            let n = a.fill_batch.min(a.entries - written);
            let payloads = (0..n as usize)
                .map(|j| raw_json(payload(0, written + j as u64, j, a.payload_bytes)))
                .collect::<Result<Vec<_>, _>>()?;
            writer
                .append_blocking(request("bench", format!("fill-{i}"), payloads))
                .map_err(CliError::ctx("append"))?;
            written += n;
            i += 1;
            bar.set_position(written);
        }
        writer.shutdown();
        bar.finish_and_clear();
    }
    let fill = fill_start.elapsed();

    let load_before = load_average();
    let store = Store::open(&dir.path).map_err(CliError::ctx(dir.path.display()))?;
    let mut verify_t = Vec::new();
    let mut scan_t = Vec::new();
    let mut hash_t = Vec::new();
    let mut bytes = 0u64;
    let bar = ProgressBar::new((a.runs * 3) as u64);
    bar.set_message("measuring");
    for _ in 0..a.runs {
        let t0 = Instant::now();
        let result =
            verify_store(&store, &mut |_| {}).map_err(CliError::ctx("reading the store"))?;
        verify_t.push(t0.elapsed());
        if let Err(f) = result {
            bar.finish_and_clear();
            println!("BAD: the filled store does not verify: first bad entry {f}");
            return Ok(Outcome::Problem);
        }
        bar.inc(1);

        let t0 = Instant::now();
        let (mut n, mut b) = (0u64, 0u64);
        for item in store.raw_all() {
            let (_, v) = item.map_err(CliError::ctx("scanning"))?;
            n += 1;
            b += v.len() as u64;
        }
        scan_t.push(t0.elapsed());
        std::hint::black_box(n);
        bytes = b;
        bar.inc(1);

        // The same bytes in memory (loaded untimed), hashed one value at a time.
        let values = store
            .raw_all()
            .map(|item| item.map(|(_, v)| v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(CliError::ctx("scanning"))?;
        let t0 = Instant::now();
        for v in &values {
            std::hint::black_box(blake3::hash(v));
        }
        hash_t.push(t0.elapsed());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let row = |what, d: Duration| VerifyRow {
        what,
        seconds: d.as_secs_f64(),
        entries_per_s: a.entries as f64 / d.as_secs_f64().max(1e-9),
        mib_per_s: bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9),
    };
    let report = VerifyReport {
        load_before,
        load_after: load_average(),
        entries: a.entries,
        stored_bytes: bytes,
        fill_seconds: fill.as_secs_f64(),
        runs: a.runs,
        store: dir.path.clone(),
        kept: dir.keep,
        rows: vec![
            row("verify (full chain + Merkle root)", median(verify_t)),
            row("raw sled scan", median(scan_t)),
            row("raw blake3 of the stored values", median(hash_t)),
        ],
    };
    if a.json {
        print_json(&report)?;
    } else {
        print_verify_table(&report);
    }
    Ok(Outcome::Ok)
}

fn print_verify_table(r: &VerifyReport) {
    println!(
        "bench verify: {} entries, {:.1} MiB stored (filled in {:.1} s{}), median of {} runs",
        r.entries,
        r.stored_bytes as f64 / (1024.0 * 1024.0),
        r.fill_seconds,
        if r.kept {
            format!(", kept in {}", r.store.display())
        } else {
            String::new()
        },
        r.runs
    );
    println!(
        "load average before: {}, after: {}",
        r.load_before, r.load_after
    );
    println!();
    println!(
        "{:<36} {:>9} {:>12} {:>8} {:>10}",
        "", "seconds", "entries/s", "MiB/s", "vs verify"
    );
    let verify_s = r.rows.first().map_or(1.0, |v| v.seconds);
    for row in &r.rows {
        println!(
            "{:<36} {:>9.3} {:>12.0} {:>8.1} {:>9.2}x",
            row.what,
            row.seconds,
            row.entries_per_s,
            row.mib_per_s,
            verify_s / row.seconds.max(1e-9)
        );
    }
}

//! `rotaledger-bench append`: durable appends through the real group-commit [`Writer`] (with
//! [`PassThrough`]) from 1, 16 and 64 concurrent appenders, next to the floor of the same
//! storage work without the writer (sled insert + flush + fdatasync with the batching the
//! writer achieved) and a plain fdatasync rate, all measured in the same run.
//!
//! These are benchmarks, never tests: nothing here asserts a speed. Results and the commands
//! that produced them go in `docs/BENCHMARKS.md`. The floors ([`measure_floor`],
//! [`measure_fdatasync`]) are shared with the other benchmarks.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rotaledger::cli::{CliError, Outcome};
use rotaledger::log::entry::{encode_body, format_time};
use rotaledger::log::{AppendRequest, PassThrough, Store, Writer, fingerprint};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::AppendArgs;
use crate::measure::{
    Limits, Measured, ScratchDir, load_average, median_by_rate, print_json, timed_bar,
};

/// The floor's keys: the shapes and sizes of the store's keys as docs/FORMAT.md §1.4 lays them
/// out (entry: `"e" || be64(seq)`, 9 bytes; Merkle node: `"t" || level || be64(index)`, 10
/// bytes, at the levels §2.7 keeps; idempotency record: `"r" || actor || 0x00 || request_id`; head: `"m:head"`), written
/// by the floor into a sled database of its own. They are built here, not borrowed from the
/// store, because the floor measures raw sled with the same work, not the store's code.
mod floor_keys {
    /// An entry's key.
    pub(super) fn entry(seq: u64) -> [u8; 9] {
        let mut k = [b'e'; 9];
        k[1..].copy_from_slice(&seq.to_be_bytes());
        k
    }
    /// A Merkle node's key.
    pub(super) fn node(level: u8, index: u64) -> [u8; 10] {
        let mut k = [b't'; 10];
        k[1] = level;
        k[2..].copy_from_slice(&index.to_be_bytes());
        k
    }
    /// An idempotency record's key.
    pub(super) fn request(actor: &str, request_id: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(2 + actor.len() + request_id.len());
        k.push(b'r');
        k.extend_from_slice(actor.as_bytes());
        k.push(0);
        k.extend_from_slice(request_id.as_bytes());
        k
    }
    /// The head's key.
    pub(super) const HEAD: &[u8] = b"m:head";
}

/// A JSON payload of about `size` bytes: event-like fields and padding.
pub(crate) fn payload(t: usize, i: u64, j: usize, size: usize) -> String {
    let head = format!(
        r#"{{"type":"TeacherRotated","v":1,"teacher":"T{t:03}-{i:07}","from_school":"S{:03}","to_school":"S{:03}","n":{j},"pad":""#,
        i % 997,
        i % 991
    );
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad))
}

pub(crate) fn raw_json(s: String) -> Result<Box<RawValue>, CliError> {
    RawValue::from_string(s).map_err(CliError::ctx("building a payload"))
}

pub(crate) fn request(
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

pub(crate) fn open_writer(dir: &Path) -> Result<Writer<PassThrough>, CliError> {
    let store = Arc::new(Store::open(dir).map_err(CliError::ctx(dir.display()))?);
    let head = store.check_head().map_err(CliError::ctx(dir.display()))?;
    Writer::start(store, head, PassThrough).map_err(CliError::ctx("starting the writer"))
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
                b.insert(&floor_keys::entry(seq)[..], &value[..]);
                // The nodes the entry completes at the levels the store keeps (FORMAT.md
                // §2.7: level 4 and above).
                let node = *blake3::hash(&seq.to_be_bytes()).as_bytes();
                for l in 4..=seq.trailing_ones() {
                    b.insert(
                        &floor_keys::node(l as u8, ((seq + 1) >> l) - 1)[..],
                        &node[..],
                    );
                }
                seq += 1;
            }
            b.insert(
                floor_keys::request("bench", &format!("c{commits}-{a}")),
                &[7u8; 44][..],
            );
        }
        b.insert(floor_keys::HEAD, &[9u8; 72][..]);
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

pub(crate) fn run(a: &AppendArgs) -> Result<Outcome, CliError> {
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

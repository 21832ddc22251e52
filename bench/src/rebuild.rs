//! `rotaledger-bench rebuild`: how long opening a ledger takes (head check, Merkle frontier,
//! and the replay that rebuilds the domain state), at what rate and peak memory, next to the
//! floor of the same machine in the same run (a raw sled scan of the same entries, and a
//! `serde_json` parse of the same payloads); and how long a restart from the state snapshot
//! takes, what the snapshot costs to write and how large it is.
//!
//! The ledger is filled through the real [`Ledger`] with realistic domain history: 400
//! schools in 50 education groups, then per teacher seven entries (registered, dispatched to
//! a weak school of the group, evaluated three times, returned after the term, promoted with
//! rotation credit), in appends of `batch` events, so the rules and the stored form are
//! exactly the ledger's.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::RebuildArgs;
use rotaledger::cli::{CliError, Outcome, progress};
use rotaledger::ledger::{Ledger, LedgerError, LedgerOptions};
use rotaledger::log::{Entry, Store};

/// A memory figure of a process, in KiB, from its `/proc/<pid>/status` (`status_file`):
/// `field` is e.g. `VmRSS` (resident now) or `VmHWM` (peak resident). `None` where the file
/// or the field is not there.
pub fn proc_status_kib(status_file: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("/proc/self/status", "VmHWM")
}

/// The fixed part of the bench ledgers: 400 schools (every fourth one weak, the others
/// strong) and 50 education groups of eight, all registered on 2010-01-01.
pub(crate) fn schools() -> Vec<String> {
    let mut v = Vec::new();
    for s in 0..400 {
        let standing = if s % 4 == 3 { "weak" } else { "strong" };
        v.push(format!(
            r#"{{"type":"school_registered","version":1,"school":"S{s:04}","name":"School {s}","stage":"junior","standing":"{standing}","rural":false,"date":"2010-01-01"}}"#
        ));
    }
    for g in 0..50 {
        let members: Vec<String> = (g * 8..g * 8 + 8).map(|s| format!("\"S{s:04}\"")).collect();
        v.push(format!(
            r#"{{"type":"group_formed","version":1,"group":"G{g:02}","kind":"education_group","name":"Group {g}","lead_school":"S{:04}","schools":[{}],"date":"2010-01-01"}}"#,
            g * 8,
            members.join(",")
        ));
    }
    v
}

/// A teacher registration at `school`, dated 2010-01-01 (after every bench school): valid
/// in any ledger holding the school and no teacher `teacher` yet.
pub(crate) fn teacher_registered(teacher: &str, name: &str, school: &str) -> String {
    format!(
        r#"{{"type":"teacher_registered","version":1,"teacher":"{teacher}","name":"{name}","school":"{school}","subject":"mathematics","title":"intermediate","key_level":"none","employed_date":"2005-09-01","date":"2010-01-01"}}"#
    )
}

/// Teacher `i`'s seven entries: registered, dispatched, evaluated three times, returned,
/// promoted.
pub(crate) fn teacher(i: u64) -> [String; 7] {
    let home = (i % 100) * 4 + (i / 100) % 3;
    let weak = home - home % 4 + 3;
    let y = 2012 + (i % 7);
    let t = format!("T{i:07}");
    let d = format!("D{i:07}");
    [
        teacher_registered(&t, &format!("Teacher {i}"), &format!("S{home:04}")),
        format!(
            r#"{{"type":"teacher_dispatched","version":1,"dispatch":"{d}","teacher":"{t}","from_school":"S{home:04}","to_school":"S{weak:04}","start_date":"{y}-09-01","kind":"rotation"}}"#
        ),
        evaluation(&d, weak, y),
        evaluation(&d, weak, y + 1),
        evaluation(&d, weak, y + 2),
        format!(
            r#"{{"type":"teacher_returned","version":1,"dispatch":"{d}","return_date":"{}-09-01","reason":"term_completed"}}"#,
            y + 3
        ),
        format!(
            r#"{{"type":"teacher_promoted","version":1,"teacher":"{t}","kind":"rank","to":"level 2","date":"{}-09-01","rotation_credit":true}}"#,
            y + 3
        ),
    ]
}

fn evaluation(d: &str, school: u64, year: u64) -> String {
    format!(
        r#"{{"type":"teacher_evaluated","version":1,"dispatch":"{d}","school":"S{school:04}","school_year":{year},"grade":"good","date":"{}-07-01"}}"#,
        year + 1
    )
}

/// Opens the ledger in `dir`, waiting for a just-closed one to let go of the store's lock.
pub(crate) fn open(dir: &Path) -> Result<Ledger, CliError> {
    open_with(dir, LedgerOptions::default())
}

fn open_with(dir: &Path, opts: LedgerOptions) -> Result<Ledger, CliError> {
    let started = Instant::now();
    loop {
        match Ledger::open(dir, opts.clone()) {
            Err(e) if is_locked(&e) && started.elapsed() < Duration::from_secs(30) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.map_err(CliError::ctx(dir.display())),
        }
    }
}

fn is_locked(e: &LedgerError) -> bool {
    e.to_string().contains("could not acquire lock")
}

/// The filler's entries from entry `from` on, as the first few still to append and the
/// number of the next teacher: the schools and groups, then seven entries per teacher.
fn stream_from(from: u64) -> (Vec<String>, u64) {
    let first = schools();
    let n = first.len() as u64;
    match usize::try_from(from) {
        Ok(f) if from < n => (first[f..].to_vec(), 0),
        _ => {
            let (teacher_no, within) = ((from - n) / 7, ((from - n) % 7) as usize);
            (teacher(teacher_no)[within..].to_vec(), teacher_no + 1)
        }
    }
}

/// The filler's first `n` entries, and the number of teachers they name (the last perhaps in
/// part).
pub(crate) fn first_entries(n: u64) -> (Vec<String>, u64) {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let (mut v, mut next) = stream_from(0);
    while v.len() < n {
        v.extend(teacher(next));
        next += 1;
    }
    v.truncate(n);
    (v, next)
}

/// Fills the ledger in `dir` up to `entries` domain entries through the real [`Ledger`], in
/// appends of `batch` events (the rules checked, the stored form as in production), with a
/// progress bar on stderr; a ledger already holding some of them is continued where it
/// stands. Returns the entries it held before and after. Shared by `rotaledger-bench
/// rebuild` and `rotaledger-bench query`, so both measure the same kind of ledger.
pub(crate) fn fill(dir: &Path, entries: u64, batch: usize) -> Result<(u64, u64), CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting a runtime"))?;
    // The background check of a continued ledger would only compete with the fill; the
    // measurements that follow verify every entry.
    let ledger = open_with(
        dir,
        LedgerOptions {
            background_check: false,
            // One snapshot, at the end (shutdown): the next process or the measurement
            // starts from it; one every 100k entries would rewrite the growing state.
            snapshot_every: 0,
            ..LedgerOptions::default()
        },
    )?;
    let bar = progress::entries(entries, "filling");
    let mut written = ledger.head().size;
    let held = written;
    let (mut pending, mut next) = stream_from(written);
    bar.set_position(written);
    while written < entries {
        while pending.len() < batch {
            pending.extend(teacher(next));
            next += 1;
        }
        let take = usize::try_from(entries - written)
            .unwrap_or(usize::MAX)
            .min(batch);
        // A cut through a teacher's seven entries is fine: the rest follows in the next append.
        let events: Vec<String> = pending.drain(..take).collect();
        runtime
            .block_on(ledger.append("bench", &format!("fill-{written}"), None, events))
            .map_err(CliError::ctx(format!("the append at entry {written}")))?;
        written = ledger.head().size;
        bar.set_position(written);
    }
    bar.finish_and_clear();
    ledger.shutdown();
    Ok((held, written))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Runs the benchmark: fill a fresh ledger, then measure its rebuild, each in child
/// processes of their own (`fill_into`, `existing`), so that the peak memory is the reopen's
/// alone and no measurement shares the machine's memory with what the fill left allocated
/// (at 10M entries the filling process kept 9 GiB after closing its ledger).
///
/// The fill itself runs in processes of `per_process` entries each, every one continuing the
/// ledger where the last left it, so that a machine with less memory than the whole state
/// can still fill it. (Before the store stopped writing the Merkle tree's lowest levels,
/// sled also kept about 6 KB per entry a process wrote in batches of 1000: docs/BENCHMARKS.md,
/// "Fewer keys per entry".)
pub fn run(a: &RebuildArgs) -> Result<Outcome, CliError> {
    let (entries, batch, per_process) = (a.entries, a.batch, a.fill_per_process);
    let (dir, existing, fill_into) = (
        a.dir.as_deref(),
        a.existing.as_deref(),
        a.fill_into.as_deref(),
    );
    let (keep, from_snapshot) = (a.keep, a.from_snapshot);
    if let Some(d) = existing {
        return if from_snapshot {
            measure_restart(d)
        } else {
            measure(d)
        };
    }
    if entries == 0 || batch == 0 || batch > 1000 {
        return Err(CliError(
            "need --entries >= 1 and --batch in 1..=1000".into(),
        ));
    }
    if let Some(d) = fill_into {
        let started = Instant::now();
        let (held, n) = fill(d, entries, batch)?;
        let filled = started.elapsed();
        eprintln!(
            "filled {held}..{n}: {} entries in {:.1} s ({:.0} entries/s)",
            n - held,
            secs(filled),
            rate(n - held, filled)
        );
        return Ok(Outcome::Ok);
    }
    let scratch = Scratch(dir.map_or_else(
        || {
            std::env::temp_dir().join(format!(
                "rotaledger-bench-rebuild-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
            ))
        },
        |d| d.join("rebuild-ledger"),
    ));
    if scratch.0.exists() {
        return Err(CliError(format!("{} already exists", scratch.0.display())));
    }
    let exe = std::env::current_exe().map_err(CliError::ctx("this program's path"))?;
    let fill_started = Instant::now();
    let mut target = 0;
    while target < entries {
        target = entries.min(target + per_process);
        let status = std::process::Command::new(&exe)
            .args(["rebuild", "--fill-into"])
            .arg(&scratch.0)
            .args([
                "--entries",
                &target.to_string(),
                "--batch",
                &batch.to_string(),
            ])
            .status()
            .map_err(CliError::ctx("starting a filling process"))?;
        if !status.success() {
            return Err(CliError(format!(
                "the filling process up to {target} entries failed: {status}"
            )));
        }
    }
    if entries > per_process {
        let t = fill_started.elapsed();
        eprintln!(
            "filled {entries} entries in {:.1} s ({:.0} entries/s, {} processes)",
            secs(t),
            rate(entries, t),
            entries.div_ceil(per_process)
        );
    }
    let mut result = Ok(Outcome::Ok);
    for extra in [None, Some("--from-snapshot")] {
        let status = std::process::Command::new(&exe)
            .args(["rebuild", "--existing"])
            .arg(&scratch.0)
            .args(extra)
            .status()
            .map_err(CliError::ctx("starting the measuring process"))?;
        if !status.success() {
            result = Err(CliError(format!("the measuring process failed: {status}")));
            break;
        }
    }
    if keep {
        eprintln!(
            "kept the ledger in {} (measure it again with --existing)",
            scratch.0.display()
        );
        std::mem::forget(scratch);
    }
    result
}

/// Measures a restart from the state snapshot of the ledger in `dir` (left in place).
fn measure_restart(dir: &Path) -> Result<Outcome, CliError> {
    let before = peak_rss_kib().unwrap_or(0);
    let t = Instant::now();
    let ledger = open(dir)?;
    let reopen = t.elapsed();
    let peak = peak_rss_kib().unwrap_or(0);
    let report = ledger.open_report().clone();
    let Some(at) = report.snapshot else {
        return Err(CliError(format!(
            "the restart did not use the state snapshot: {}",
            report.snapshot_unused.unwrap_or_default()
        )));
    };
    let bytes = std::fs::metadata(rotaledger::snapshot::path(dir))
        .map(|m| m.len())
        .unwrap_or(0);
    let integrity = ledger.wait_integrity();
    let checked = t.elapsed();
    let peak_after_check = peak_rss_kib().unwrap_or(0);
    // Printed now, before the parts below (which may be skipped).
    println!(
        "  restart from the state snapshot    {:>8.2} s  snapshot of {at} entries ({:.1} MiB), {} replayed; peak RSS {} MiB (before {} MiB)",
        secs(reopen),
        bytes as f64 / (1024.0 * 1024.0),
        report.replayed,
        peak / 1024,
        before / 1024
    );
    println!(
        "  background check of the prefix    {:>8.2} s  after open ({integrity:?}); peak RSS then {} MiB",
        secs(checked - reopen),
        peak_after_check / 1024
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // Where the restart's time goes: the snapshot's parts again, on their own. They hold a
    // second copy of the snapshot's bytes and state beside what the allocator kept of the
    // first (freed memory is not all given back): skipped when the restart's own peak is
    // over a third of the machine's memory, where they would not fit (at 30M entries on
    // 24 GiB the OOM killer ended the process here).
    let total = proc_status_kib("/proc/meminfo", "MemTotal").unwrap_or(u64::MAX);
    if peak > total / 3 {
        println!(
            "    its parts, again: skipped (the restart peaked at {} MiB, over a third of this machine's {} MiB)",
            peak / 1024,
            total / 1024
        );
        return Ok(Outcome::Ok);
    }
    let t = Instant::now();
    // Mapped, as the restart reads it.
    let raw = rotaledger::snapshot::mapped(dir).map_err(CliError::ctx("snapshot"))?;
    let read = t.elapsed();
    let t = Instant::now();
    let key = rotaledger::merkle::CheckpointKey::load(&dir.join(rotaledger::ledger::KEY_FILE))
        .map_err(CliError::ctx("the checkpoint key"))?;
    let parsed = rotaledger::snapshot::parse(&raw, &rotaledger::snapshot::SnapshotKey::of(&key))
        .map_err(CliError::ctx("snapshot"))?;
    let checksum = t.elapsed();
    let t = Instant::now();
    rotaledger::snapshot::check_position(ledger.store(), ledger.head(), &parsed.position)
        .map_err(CliError::ctx("snapshot"))?;
    let position = t.elapsed();
    // No shutdown: the snapshot stays as it was for the next run. Closed before the decode,
    // so that two states are never in memory at once.
    drop(ledger);
    let t = Instant::now();
    let state: rotaledger::domain::State =
        rotaledger::snapshot::decode(parsed.state).map_err(CliError::ctx("snapshot"))?;
    let decode = t.elapsed();
    let t = Instant::now();
    drop(state);
    let free = t.elapsed();
    println!(
        "    its parts, again: read {:.3} s, checksum {:.3} s, position {:.3} s, decode {:.3} s (and freeing the state {:.3} s)",
        secs(read),
        secs(checksum),
        secs(position),
        secs(decode),
        secs(free)
    );
    Ok(Outcome::Ok)
}

/// Measures the rebuild of the ledger in `dir` (which it leaves in place).
fn measure(dir: &Path) -> Result<Outcome, CliError> {
    let before = peak_rss_kib().unwrap_or(0);
    // The rebuild: what a restart costs.
    let t = Instant::now();
    let ledger = open_with(
        dir,
        LedgerOptions {
            full_check: true,
            ..Default::default()
        },
    )?;
    let reopen = t.elapsed();
    let peak = peak_rss_kib().unwrap_or(0);
    let snap = ledger.snapshot();
    let size = snap.head.size;
    let (teachers, dispatches) = (
        snap.state.teachers().count(),
        snap.state.dispatches().count(),
    );
    drop(snap);

    // Floor 1: the bare sled scan of the same entries.
    let store = ledger.store().clone();
    let t = Instant::now();
    let mut bytes = 0usize;
    let mut scanned = 0u64;
    for r in store.raw_range(0, size) {
        let (_, v) = r.map_err(CliError::ctx("scan"))?;
        bytes += v.len();
        scanned += 1;
    }
    let scan = t.elapsed();

    // Floor 2: serde_json parse of the same payloads, already in memory.
    let payloads = payloads(&store, size)?;
    let t = Instant::now();
    let mut parsed = 0u64;
    for p in &payloads {
        let v: serde_json::Value =
            serde_json::from_str(p).map_err(CliError::ctx("payload JSON"))?;
        parsed += u64::from(v.is_object());
    }
    let parse = t.elapsed();
    drop(store);
    // The snapshot the restart below loads, written as the background writer would.
    let written = ledger
        .write_snapshot()
        .map_err(CliError::ctx("writing the state snapshot"))?
        .ok_or_else(|| CliError("no state snapshot was written".into()))?;
    // No shutdown: it would write the same snapshot again.
    drop(ledger);

    println!("rebuild of {size} entries ({teachers} teachers, {dispatches} dispatches)");
    println!(
        "  reopen, full check (replay all)    {:>8.2} s  {:>10.0} entries/s  peak RSS {} MiB (before reopen {} MiB)",
        secs(reopen),
        rate(size, reopen),
        peak / 1024,
        before / 1024
    );
    println!(
        "  state snapshot write              {:>8.2} s  {:.1} MiB",
        secs(written.elapsed),
        written.bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  floor: sled scan                   {:>8.2} s  {:>10.0} entries/s  ({} MiB stored)",
        secs(scan),
        rate(scanned, scan),
        bytes / (1024 * 1024)
    );
    println!(
        "  floor: serde_json parse            {:>8.2} s  {:>10.0} entries/s  ({parsed} objects)",
        secs(parse),
        rate(parsed, parse)
    );
    Ok(Outcome::Ok)
}

fn payloads(store: &Store, size: u64) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for r in store.raw_range(0, size) {
        let (seq, v) = r.map_err(CliError::ctx("scan"))?;
        let e = Entry::from_stored(seq, &v).map_err(CliError::ctx(format!("entry {seq}")))?;
        out.push(
            e.meta()
                .map_err(CliError::ctx(format!("entry {seq}")))?
                .payload,
        );
    }
    Ok(out)
}

/// The filled ledger's directory, removed when the benchmark ends (however it ends).
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_continues_exactly_where_the_ledger_stands() {
        let (whole, _) = first_entries(600);
        // Inside the schools and groups, at their end, and at every place in a teacher's seven.
        for from in [0, 1, 449, 450, 451, 456, 457, 458, 500, 599] {
            let (mut v, mut next) = stream_from(from as u64);
            while v.len() < 600 - from {
                v.extend(teacher(next));
                next += 1;
            }
            v.truncate(600 - from);
            assert_eq!(v, whole[from..], "continued from entry {from}");
        }
        assert_eq!(
            schools().len(),
            450,
            "the test's places assume 450 opening entries"
        );
    }
}

//! `rotaledger-bench verify`: full chain verification of a store, next to a raw sled scan and
//! raw blake3 over the same stored bytes, measured in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rotaledger::cli::{CliError, Outcome, progress};
use rotaledger::log::Store;
use rotaledger::log::verify::verify_store;
use serde::Serialize;

use crate::VerifyArgs;
use crate::append::{open_writer, payload, raw_json, request};
use crate::measure::{ScratchDir, load_average, median, print_json};

/// One line of `rotaledger-bench verify`.
#[derive(Debug, Serialize)]
struct VerifyRow {
    what: &'static str,
    seconds: f64,
    entries_per_s: f64,
    mib_per_s: f64,
}

#[derive(Debug, Serialize)]
struct VerifyReport {
    /// The store's crypto profile (`blake3`, `gm`).
    crypto: String,
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

pub(crate) fn run(a: &VerifyArgs) -> Result<Outcome, CliError> {
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
            std::hint::black_box(store.profile().hash(v));
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
        crypto: store.profile().name().into(),
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
            row("raw H of the stored values", median(hash_t)),
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
        "bench verify: {} entries ({} profile), {:.1} MiB stored (filled in {:.1} s{}), median of {} runs",
        r.entries,
        r.crypto,
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

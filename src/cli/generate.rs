//! `rotaledger generate`: writes a synthetic district as append requests (JSON Lines), with
//! `--sheets` also as the bureau's sheets (`sheet::write`), and checks such a file by appending every line through a real [`Ledger`] in a scratch store.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{CliError, Outcome};
use crate::atomic::AtomicFile;
use crate::generate::{Config, Stats, generate};
use crate::ledger::{Ledger, LedgerOptions};

/// One line of a generated file: one append request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// The request id (idempotency key) the append carries.
    pub request_id: String,
    /// The events, as JSON texts.
    pub events: Vec<Box<RawValue>>,
}

/// What appending a file through the ledger found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Lines appended.
    pub lines: u64,
    /// Entries the ledger holds afterwards.
    pub entries: u64,
    /// Lines the ledger refused.
    pub rejected: u64,
    /// The first few refusals: line number (from 1) and the ledger's error.
    pub first_rejections: Vec<(u64, String)>,
}

/// Appends every line of `input` to `ledger`, in order, counting refusals (a refused line
/// appends nothing; the next line is still tried). Fails only on unreadable input.
pub async fn check_lines(ledger: &Ledger, input: impl BufRead) -> Result<CheckReport, CliError> {
    check_lines_with(ledger, input, &mut |_| {}).await
}

/// [`check_lines`], calling `progress` with the number of events sent after each line.
pub async fn check_lines_with(
    ledger: &Ledger,
    input: impl BufRead,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<CheckReport, CliError> {
    let mut sent = 0u64;
    let mut report = CheckReport::default();
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(CliError::ctx("reading the generated file"))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line =
            serde_json::from_str(&line).map_err(CliError::ctx(format_args!("line {}", i + 1)))?;
        let events: Vec<String> = parsed.events.iter().map(|e| e.get().to_owned()).collect();
        sent += events.len() as u64;
        report.lines += 1;
        if let Err(e) = ledger
            .append("generator", &parsed.request_id, None, events)
            .await
        {
            report.rejected += 1;
            if report.first_rejections.len() < 10 {
                report.first_rejections.push((i as u64 + 1, e.to_string()));
            }
        }
        progress(sent);
    }
    report.entries = ledger.head().size;
    Ok(report)
}

/// Appends the file at `path` to a fresh ledger in `dir` (which must not hold a store).
pub fn check_file(path: &Path, dir: &Path) -> Result<CheckReport, CliError> {
    let file = File::open(path).map_err(CliError::ctx(path.display()))?;
    let ledger = Ledger::open(dir, LedgerOptions::default()).map_err(CliError::ctx(
        format_args!("opening a ledger in {}", dir.display()),
    ))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting the runtime"))?;
    let report = runtime.block_on(check_lines(&ledger, BufReader::new(file)));
    ledger.shutdown();
    report
}

/// `rotaledger generate`: writes the file (under a temporary name, renamed when complete),
/// prints what was generated as JSON, and with `check` appends it through a ledger in a
/// scratch directory (`check_dir`, or one made and removed under the system's temp dir).
pub fn run(
    config: &Config,
    out: &Path,
    check: bool,
    check_dir: Option<&Path>,
) -> Result<Outcome, CliError> {
    let mut w = AtomicFile::create(out)?;
    let started = std::time::Instant::now();
    let stats: Stats = generate(config, &mut w).map_err(CliError::ctx("generating"))?;
    w.commit()?;
    eprintln!(
        "generated {} events in {} lines to {} in {:.1?}",
        stats.events,
        stats.lines,
        out.display(),
        started.elapsed()
    );
    let json = serde_json::to_string_pretty(&stats).map_err(CliError::ctx("stats"))?;
    println!("{json}");
    if !check {
        return Ok(Outcome::Ok);
    }
    let (dir, scratch) = match check_dir {
        Some(d) => (d.to_path_buf(), false),
        None => (scratch_dir(), true),
    };
    let started = std::time::Instant::now();
    let report = check_file(out, &dir);
    if scratch {
        // Best effort: a leftover scratch store is harmless and named after this process.
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = report?;
    eprintln!(
        "checked through the ledger in {:.1?}: {} lines, {} entries, {} rejected",
        started.elapsed(),
        report.lines,
        report.entries,
        report.rejected
    );
    for (line, e) in &report.first_rejections {
        eprintln!("  line {line}: {e}");
    }
    Ok(if report.rejected == 0 {
        Outcome::Ok
    } else {
        Outcome::Problem
    })
}

/// `generate --sheets DIR`: the written file split into the bureau's sheets, in load order.
pub fn sheets(generated: &Path, dir: &Path) -> Result<(), CliError> {
    let file = File::open(generated).map_err(CliError::ctx(generated.display()))?;
    let steps = crate::sheet::write::split(BufReader::new(file), dir)?;
    let sheets = steps.iter().filter(|s| s.kind.is_some()).count();
    eprintln!(
        "wrote {} steps ({sheets} sheets, {} JSON Lines files) to {}; load them in the order of {}",
        steps.len(),
        steps.len() - sheets,
        dir.display(),
        dir.join("STEPS.txt").display()
    );
    Ok(())
}

fn scratch_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("rotaledger-check-{}-{nanos}", std::process::id()))
}

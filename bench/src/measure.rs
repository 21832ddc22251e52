//! What every benchmark shares: a measurement's figures ([`Measured`]), when it stops
//! ([`Limits`]), scratch directories removed afterwards, the progress bar over a measurement's
//! duration, the machine's load, and JSON output.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rotaledger::cli::CliError;
use serde::Serialize;

/// A directory removed when dropped (unless kept).
pub(crate) struct ScratchDir {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// Left in place when dropped.
    pub(crate) keep: bool,
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
    pub(crate) fn kept(path: &Path) -> Result<ScratchDir, CliError> {
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
pub(crate) fn percentile(sorted: &[u64], p: usize) -> u64 {
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
    pub(crate) fn take(&self, start: Instant, taken: &AtomicU64) -> bool {
        if start.elapsed() >= self.duration {
            return false;
        }
        self.max_ops == 0 || taken.fetch_add(1, Ordering::Relaxed) < self.max_ops
    }
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

pub(crate) fn print_json<T: Serialize>(v: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).map_err(CliError::ctx("encoding JSON"))?;
    println!("{s}");
    Ok(())
}

/// The 1, 5 and 15 minute load averages, or "unknown" off Linux.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The measurement with the median throughput.
pub(crate) fn median_by_rate(mut v: Vec<Measured>) -> Measured {
    v.sort_by(|a, b| a.entries_per_s().total_cmp(&b.entries_per_s()));
    let i = v.len() / 2;
    v.swap_remove(i)
}

/// Median of a few timed passes.
pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

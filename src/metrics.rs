//! Counters and histograms of the ledger's work, rendered in the Prometheus text format
//! (`GET /metrics` on the HTTP face, docs/HTTP.md).
//!
//! Counting instead of logging: an info line per append costs more than the append's own
//! bookkeeping and says less than a rate. Every figure is an atomic, so the append path and
//! the readers never wait on a lock to count (the rejections by rule, which need a name, take
//! a short mutex only when an append is refused).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A Prometheus histogram with fixed bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, ascending (the `+Inf` bucket is `count`).
    bounds: &'static [f64],
    /// Observations at or below each bound (not cumulative; summed when rendered).
    buckets: Vec<AtomicU64>,
    /// Every observation.
    count: AtomicU64,
    /// Sum of the observations, in millionths of the unit (exact integer adds).
    sum_micros: AtomicU64,
}

/// Bounds for durations in seconds: 50 µs to 10 s.
pub const SECONDS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// Bounds for counts (entries per commit): powers of two up to the writer's commit limit.
pub const COUNTS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0,
];

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int: a negative or NaN observation adds nothing to the sum.
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }

    /// Records a duration, in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Writes the histogram's lines for `name` with `labels` (`""` or `kind="teams"`).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The query kinds counted, one per Query RPC.
pub const QUERY_KINDS: &[&str] = &[
    "teacher_history",
    "eligibility",
    "terms",
    "teams",
    "school_quota",
    "group_summary",
    "rotation_duty",
    "district",
    "evaluations_owed",
    "access_record",
    // The console's lists: the names of many teachers in one question.
    "names",
];

/// What the ledger counts besides the store's own commit figures.
#[derive(Debug)]
pub struct Metrics {
    /// Appends refused by a rule, by rule code.
    rejections: Mutex<BTreeMap<String, u64>>,
    /// Appends refused before any rule: malformed input, request-id conflicts, `expected_size`.
    refused_input: AtomicU64,
    /// Query latency per kind (answered or refused, from authorization to answer).
    queries: BTreeMap<&'static str, Histogram>,
    /// Live `Audit.Subscribe` streams.
    subscribers: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            rejections: Mutex::new(BTreeMap::new()),
            refused_input: AtomicU64::new(0),
            queries: QUERY_KINDS
                .iter()
                .map(|k| (*k, Histogram::new(SECONDS)))
                .collect(),
            subscribers: AtomicI64::new(0),
        }
    }
}

/// Counts a live subscriber for as long as it lives (it moves into the stream's task).
#[derive(Debug)]
pub struct Subscriber(Arc<Metrics>);

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The store's figures `render` needs (from `log::store::Stats`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreFigures<'a> {
    /// Appends acknowledged.
    pub appends: u64,
    /// Entries written.
    pub entries: u64,
    /// Durable commits.
    pub commits: u64,
    /// fdatasync calls on sled's data file.
    pub data_syncs: u64,
    /// Entries per commit.
    pub commit_entries: Option<&'a Histogram>,
    /// Seconds a commit took to be durable (apply, flush, fdatasync).
    pub commit_seconds: Option<&'a Histogram>,
}

impl Metrics {
    /// An append refused by `rule`.
    pub fn rejected(&self, rule: &str) {
        if let Ok(mut m) = self.rejections.lock() {
            *m.entry(rule.to_owned()).or_default() += 1;
        }
    }

    /// An append refused before the rules (bad input, conflicts).
    pub fn refused_input(&self) {
        self.refused_input.fetch_add(1, Ordering::Relaxed);
    }

    /// A query of `kind` that took `d`.
    pub fn query(&self, kind: &str, d: Duration) {
        if let Some(h) = self.queries.get(kind) {
            h.observe_duration(d);
        }
    }

    /// A subscriber from now until the guard is dropped.
    pub fn subscriber(self: &Arc<Self>) -> Subscriber {
        self.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscriber(self.clone())
    }

    /// The Prometheus text exposition (format 0.0.4) of these and the store's figures, with
    /// the log's `size`.
    pub fn render(&self, store: &StoreFigures<'_>, size: u64) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {v}");
        };
        let _ = writeln!(
            out,
            "# HELP rotaledger_log_entries Entries in the log (its size)."
        );
        let _ = writeln!(out, "# TYPE rotaledger_log_entries gauge");
        let _ = writeln!(out, "rotaledger_log_entries {size}");
        counter(
            &mut out,
            "rotaledger_appends_total",
            "Appends acknowledged (durable) since start.",
            store.appends,
        );
        counter(
            &mut out,
            "rotaledger_events_total",
            "Entries written since start.",
            store.entries,
        );
        counter(
            &mut out,
            "rotaledger_commits_total",
            "Durable commits (one flush and fdatasync each) since start.",
            store.commits,
        );
        counter(
            &mut out,
            "rotaledger_fsyncs_total",
            "fdatasync calls on the store's data file since start.",
            store.data_syncs,
        );
        if let Some(h) = store.commit_entries {
            let _ = writeln!(
                out,
                "# HELP rotaledger_commit_entries Entries per durable commit (group commit)."
            );
            let _ = writeln!(out, "# TYPE rotaledger_commit_entries histogram");
            h.render(&mut out, "rotaledger_commit_entries", "");
        }
        if let Some(h) = store.commit_seconds {
            let _ = writeln!(
                out,
                "# HELP rotaledger_commit_seconds Time to make a commit durable: apply, flush, fdatasync."
            );
            let _ = writeln!(out, "# TYPE rotaledger_commit_seconds histogram");
            h.render(&mut out, "rotaledger_commit_seconds", "");
        }
        let _ = writeln!(
            out,
            "# HELP rotaledger_rejections_total Appends refused by a rule, by rule code."
        );
        let _ = writeln!(out, "# TYPE rotaledger_rejections_total counter");
        if let Ok(m) = self.rejections.lock() {
            for (rule, n) in m.iter() {
                let _ = writeln!(out, "rotaledger_rejections_total{{rule=\"{rule}\"}} {n}");
            }
        }
        counter(
            &mut out,
            "rotaledger_refused_input_total",
            "Appends refused before the rules: malformed input, request-id conflicts, expected_size.",
            self.refused_input.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP rotaledger_query_seconds Query latency by kind, from authorization to answer."
        );
        let _ = writeln!(out, "# TYPE rotaledger_query_seconds histogram");
        for (kind, h) in &self.queries {
            h.render(
                &mut out,
                "rotaledger_query_seconds",
                &format!("kind=\"{kind}\""),
            );
        }
        let _ = writeln!(
            out,
            "# HELP rotaledger_subscribers Live Audit.Subscribe streams."
        );
        let _ = writeln!(out, "# TYPE rotaledger_subscribers gauge");
        let _ = writeln!(
            out,
            "rotaledger_subscribers {}",
            self.subscribers.load(Ordering::Relaxed)
        );
        out
    }
}

/// The states a mirror can be in (`MirrorStatus::word`), each a series of
/// `rotaledger_mirror_state`.
pub const MIRROR_STATES: &[&str] = &["connecting", "following", "stale", "forked"];

/// A mirror's figures (docs/MIRRORS.md): its state as one 1 among [`MIRROR_STATES`], the
/// size of the primary's latest verified checkpoint, and how far its own `size` lags it.
pub fn render_mirror(out: &mut String, state: &str, primary_size: u64, size: u64) {
    let _ = writeln!(
        out,
        "# HELP rotaledger_mirror_state How this mirror stands with its primary (1 for the current state)."
    );
    let _ = writeln!(out, "# TYPE rotaledger_mirror_state gauge");
    for s in MIRROR_STATES {
        let v = u8::from(*s == state);
        let _ = writeln!(out, "rotaledger_mirror_state{{state=\"{s}\"}} {v}");
    }
    let _ = writeln!(
        out,
        "# HELP rotaledger_mirror_primary_entries Size of the primary's latest checkpoint this mirror verified."
    );
    let _ = writeln!(out, "# TYPE rotaledger_mirror_primary_entries gauge");
    let _ = writeln!(out, "rotaledger_mirror_primary_entries {primary_size}");
    let _ = writeln!(
        out,
        "# HELP rotaledger_mirror_lag_entries Entries of the primary's latest verified checkpoint not yet copied."
    );
    let _ = writeln!(out, "# TYPE rotaledger_mirror_lag_entries gauge");
    let _ = writeln!(
        out,
        "rotaledger_mirror_lag_entries {}",
        primary_size.saturating_sub(size)
    );
}

/// The mirrors' reports to a primary: how many entries each holds durably and how far each is
/// behind the head of `size` entries (the figures `serve --sync-mirrors` waits on).
pub fn render_confirmations(out: &mut String, held: &[(String, u64)], size: u64) {
    let _ = writeln!(
        out,
        "# HELP rotaledger_mirror_confirmed_entries Entries each mirror reported holding durably."
    );
    let _ = writeln!(out, "# TYPE rotaledger_mirror_confirmed_entries gauge");
    for (mirror, n) in held {
        let _ = writeln!(
            out,
            "rotaledger_mirror_confirmed_entries{{mirror=\"{}\"}} {n}",
            label(mirror)
        );
    }
    let _ = writeln!(
        out,
        "# HELP rotaledger_mirror_unconfirmed_entries Entries of this log each mirror has not confirmed yet."
    );
    let _ = writeln!(out, "# TYPE rotaledger_mirror_unconfirmed_entries gauge");
    for (mirror, n) in held {
        let _ = writeln!(
            out,
            "rotaledger_mirror_unconfirmed_entries{{mirror=\"{}\"}} {}",
            label(mirror),
            size.saturating_sub(*n)
        );
    }
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_confirmations_render_with_escaped_labels() {
        let mut out = String::new();
        render_confirmations(
            &mut out,
            &[("mirror-a/0a1b".into(), 7), ("x\"y".into(), 10)],
            10,
        );
        assert!(
            out.contains("rotaledger_mirror_confirmed_entries{mirror=\"mirror-a/0a1b\"} 7\n"),
            "{out}"
        );
        assert!(
            out.contains("rotaledger_mirror_unconfirmed_entries{mirror=\"mirror-a/0a1b\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("{mirror=\"x\\\"y\"} 10"), "{out}");
    }

    #[test]
    fn a_mirror_renders_its_state_and_lag() {
        let mut out = String::new();
        render_mirror(&mut out, "stale", 120, 100);
        for (state, v) in [
            ("connecting", 0),
            ("following", 0),
            ("stale", 1),
            ("forked", 0),
        ] {
            assert!(
                out.contains(&format!(
                    "rotaledger_mirror_state{{state=\"{state}\"}} {v}\n"
                )),
                "{out}"
            );
        }
        assert!(
            out.contains("rotaledger_mirror_primary_entries 120\n"),
            "{out}"
        );
        assert!(out.contains("rotaledger_mirror_lag_entries 20\n"), "{out}");
        // A mirror ahead of what it last saw of the primary lags by nothing.
        let mut out = String::new();
        render_mirror(&mut out, "following", 5, 9);
        assert!(out.contains("rotaledger_mirror_lag_entries 0\n"), "{out}");
    }

    #[test]
    fn histograms_render_cumulative_buckets() {
        let h = Histogram::new(&[1.0, 2.0, 4.0]);
        for v in [0.5, 1.0, 1.5, 3.0, 9.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "k=\"a\"");
        let want = "x_bucket{k=\"a\",le=\"1\"} 2\nx_bucket{k=\"a\",le=\"2\"} 3\n\
                    x_bucket{k=\"a\",le=\"4\"} 4\nx_bucket{k=\"a\",le=\"+Inf\"} 5\n\
                    x_sum{k=\"a\"} 15\nx_count{k=\"a\"} 5\n";
        assert_eq!(out, want);
    }

    #[test]
    fn the_exposition_names_rules_kinds_and_subscribers() {
        let m = Arc::new(Metrics::default());
        m.rejected("team.min_size");
        m.rejected("team.min_size");
        m.refused_input();
        m.query("teams", Duration::from_millis(3));
        let guard = m.subscriber();
        let text = m.render(&StoreFigures::default(), 7);
        assert!(text.contains("rotaledger_rejections_total{rule=\"team.min_size\"} 2"));
        assert!(text.contains("rotaledger_refused_input_total 1"));
        assert!(text.contains("rotaledger_query_seconds_count{kind=\"teams\"} 1"));
        assert!(text.contains("rotaledger_query_seconds_bucket{kind=\"teams\",le=\"0.005\"} 1"));
        assert!(text.contains("rotaledger_subscribers 1"));
        assert!(text.contains("rotaledger_log_entries 7"));
        drop(guard);
        assert!(
            m.render(&StoreFigures::default(), 7)
                .contains("rotaledger_subscribers 0")
        );
    }
}

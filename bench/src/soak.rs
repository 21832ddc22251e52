//! `rotaledger-bench soak`: minutes of mixed load on one in-process server over loopback
//! (ordered district appends, concurrent registry appends, queries, audit subscribers), with
//! memory, throughput, errors and latency recorded every second, then an offline verification
//! of the whole log. It answers "does it stay correct and bounded when left running", not
//! "how fast is it": the verdict is about errors, ordering, integrity and memory growth.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::watch;

use crate::rebuild::proc_status_kib;
use crate::serve_proc::{ServeProcess, default_server_bin};
use rotaledger::cli::client::{Connect, call};
use rotaledger::cli::{CliError, Outcome};
use rotaledger::generate::{Config, Rng, generate};
use rotaledger::log::Store;
use rotaledger::log::verify::verify_store;
use rotaledger::proto;
use rotaledger::server::{self, ServerConfig};

/// Flags of `rotaledger-bench soak`.
#[derive(Args, Debug)]
pub struct SoakArgs {
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// Appending tasks: one sends the generated district in order, the others register
    /// fresh schools concurrently.
    #[arg(long, default_value_t = 4)]
    pub writers: usize,
    /// Tasks looping over Query RPCs.
    #[arg(long, default_value_t = 4)]
    pub readers: usize,
    /// Tasks following Audit.Subscribe from entry 0.
    #[arg(long, default_value_t = 2)]
    pub subscribers: usize,
    /// Teachers of the generated district.
    #[arg(long, default_value_t = 3000)]
    pub teachers: u32,
    /// Parent directory of the temporary store [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The `rotaledger` binary whose fresh `serve` is measured after the soak [default: the
    /// `rotaledger` beside this program, as `cargo build --release --workspace` leaves it].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The kinds of operation measured.
const KINDS: [&str; 7] = [
    "append_ordered",
    "append_registry",
    "history",
    "eligibility",
    "quota",
    "terms",
    "subscribe_entry",
];
const APPEND_ORDERED: usize = 0;
const APPEND_REGISTRY: usize = 1;
const SUBSCRIBE: usize = 6;

/// How much more the soaked server may hold than a fresh server holding the same log.
///
/// The state is kept in memory and grows with the log, so "bounded" cannot mean "flat" while
/// the load appends thousands of entries a second. It means: what the server holds after the
/// soak is explained by the log it now holds. A fresh `rotaledger serve` process opens the
/// same store after the soak and its resident memory, once it answers, is the cost of that
/// state (plus the capped sled cache); the soaked process may exceed it by this factor plus
/// [`RSS_SLACK_KIB`] (allocator fragmentation after churn, tokio and tonic buffers of the
/// clients this process also runs). A leak (per request, per subscriber, per commit) grows
/// with the work done, not with the log, and shows as a widening gap.
const RSS_BOUND_FACTOR: f64 = 1.5;
/// Absolute slack on top of [`RSS_BOUND_FACTOR`], in KiB.
const RSS_SLACK_KIB: u64 = 128 * 1024;

/// Resident memory of a fresh `rotaledger serve` process (`bin`) over the store in `dir`,
/// read once it answers `GetHead` with `size` entries; the process is then stopped. `None` if
/// it could not be started or did not answer within two minutes.
async fn fresh_server_rss_kib(bin: &Path, dir: &Path, size: u64) -> Option<u64> {
    let server = ServeProcess::start(bin, dir, &[] as &[&str], None).ok()?;
    let c = server.connect(None);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rss = None;
    while Instant::now() < deadline {
        if let Ok(mut l) = c.ledger().await
            && let Ok(h) = l.get_head(call(proto::GetHeadRequest {})).await
            && h.into_inner().head.is_some_and(|h| h.size == size)
        {
            rss = proc_status_kib(&format!("/proc/{}/status", server.pid), "VmRSS");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop();
    rss
}

/// Log-scale latency histogram (1% wide buckets): bounded memory however long the run, so
/// the measurement itself does not grow the RSS it reports.
#[derive(Clone)]
struct Hist {
    counts: Vec<u64>,
    n: u64,
    max_ns: u64,
}

const BUCKETS: usize = 2700;

impl Hist {
    fn new() -> Hist {
        Hist {
            counts: vec![0; BUCKETS],
            n: 0,
            max_ns: 0,
        }
    }
    fn record(&mut self, d: Duration) {
        let ns = d.as_nanos().min(u128::from(u64::MAX)) as u64;
        let idx = if ns <= 1 {
            0
        } else {
            ((ns as f64).ln() / 1.01f64.ln()).ceil() as usize
        };
        self.counts[idx.min(BUCKETS - 1)] += 1;
        self.n += 1;
        self.max_ns = self.max_ns.max(ns);
    }
    fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.n += o.n;
        self.max_ns = self.max_ns.max(o.max_ns);
    }
    /// The `p`th percentile (nearest rank) in milliseconds, within 1%.
    fn percentile_ms(&self, p: u64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = (self.n * p).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let v = 1.01f64.powi(i as i32).min(self.max_ns as f64);
                return v / 1e6;
            }
        }
        self.max_ns as f64 / 1e6
    }
}

/// Counters shared by every task.
struct Shared {
    ops: [AtomicU64; 7],
    errors: [AtomicU64; 7],
    /// Entries appended (acknowledged) so far.
    entries: AtomicU64,
    first_errors: Mutex<Vec<String>>,
    deadline: Instant,
    /// Generated teachers (in registration order) and strong schools whose registration is
    /// appended: readers only ask about those.
    teachers: Vec<String>,
    strong: Vec<String>,
    teachers_known: AtomicUsize,
    strong_known: AtomicUsize,
}

impl Shared {
    fn ok(&self, kind: usize, h: &mut Hist, d: Duration) {
        self.ops[kind].fetch_add(1, Ordering::Relaxed);
        h.record(d);
    }
    fn err(&self, kind: usize, what: String) {
        self.errors[kind].fetch_add(1, Ordering::Relaxed);
        if let Ok(mut v) = self.first_errors.lock()
            && v.len() < 10
        {
            v.push(format!("{}: {what}", KINDS[kind]));
        }
    }
    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }
    fn total_ops(&self) -> u64 {
        self.ops.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }
    fn total_errors(&self) -> u64 {
        self.errors.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }
}

/// One generated append request.
#[derive(serde::Deserialize)]
struct Line {
    request_id: String,
    events: Vec<Box<RawValue>>,
}

/// The generated district, parsed: lines, and per line the teachers and strong schools it
/// registers.
struct District {
    lines: Vec<(String, Vec<String>)>,
    teachers_after: Vec<usize>,
    strong_after: Vec<usize>,
    teachers: Vec<String>,
    strong: Vec<String>,
}

fn district(teachers: u32) -> Result<District, CliError> {
    let config = Config {
        teachers,
        years: 60,
        ..Config::default()
    };
    let mut out = Vec::new();
    generate(&config, &mut out).map_err(CliError::ctx("generating the district"))?;
    let text = String::from_utf8(out).map_err(CliError::ctx("generated text"))?;
    let mut d = District {
        lines: Vec::new(),
        teachers_after: Vec::new(),
        strong_after: Vec::new(),
        teachers: Vec::new(),
        strong: Vec::new(),
    };
    for (i, l) in text.lines().enumerate() {
        let line: Line = serde_json::from_str(l).map_err(CliError::ctx(format!("line {i}")))?;
        let mut events = Vec::with_capacity(line.events.len());
        for e in line.events {
            let v: serde_json::Value =
                serde_json::from_str(e.get()).map_err(CliError::ctx(format!("line {i}")))?;
            match v["type"].as_str() {
                Some("teacher_registered") => {
                    if let Some(t) = v["teacher"].as_str() {
                        d.teachers.push(t.to_owned());
                    }
                }
                Some("school_registered") if v["standing"] == "strong" => {
                    if let Some(s) = v["school"].as_str() {
                        d.strong.push(s.to_owned());
                    }
                }
                _ => {}
            }
            events.push(e.get().to_owned());
        }
        d.lines.push((line.request_id, events));
        d.teachers_after.push(d.teachers.len());
        d.strong_after.push(d.strong.len());
    }
    Ok(d)
}

/// A fresh school's registration: valid whatever else the log holds.
fn fresh_school(writer: usize, i: u64, j: usize) -> String {
    format!(
        r#"{{"type":"school_registered","version":1,"school":"SOAK-{writer}-{i}-{j}","name":"Soak school {writer}-{i}-{j}","stage":"primary","standing":"weak","rural":false,"date":"2023-06-01"}}"#
    )
}

/// Appends fresh school registrations (5 per append) until the deadline.
async fn registry_writer(c: Connect, writer: usize, sh: Arc<Shared>) -> Hist {
    let mut h = Hist::new();
    let mut client = match c.ledger().await {
        Ok(cl) => cl,
        Err(e) => {
            sh.err(APPEND_REGISTRY, e.to_string());
            return h;
        }
    };
    let mut i = 0u64;
    while sh.running() {
        let events = (0..5).map(|j| fresh_school(writer, i, j)).collect();
        let req = proto::AppendRequest {
            events,
            request_id: format!("soak-{writer}-{i}"),
            expected_size: None,
        };
        let t = Instant::now();
        match client.append(call(req)).await {
            Ok(_) => {
                sh.ok(APPEND_REGISTRY, &mut h, t.elapsed());
                sh.entries.fetch_add(5, Ordering::Relaxed);
            }
            Err(s) => sh.err(APPEND_REGISTRY, s.message().to_owned()),
        }
        i += 1;
    }
    h
}

/// Rewrites an `entry_voided` event's `seq` from the generated numbering (entries of the
/// district alone) to the log's, where other writers' entries are interleaved.
fn renumber(event: &str, map: &[u64]) -> Result<String, String> {
    if !event.contains(r#""entry_voided""#) {
        return Ok(event.to_owned());
    }
    let mut v: serde_json::Value = serde_json::from_str(event).map_err(|e| e.to_string())?;
    let old = v["seq"].as_u64().ok_or("a void without seq")?;
    let new = *map
        .get(usize::try_from(old).map_err(|e| e.to_string())?)
        .ok_or("a void of an entry not appended")?;
    v["seq"] = serde_json::Value::from(new);
    Ok(v.to_string())
}

/// Sends the district's lines in order, then (if time is left) registers fresh schools.
async fn ordered_writer(c: Connect, d: Arc<District>, sh: Arc<Shared>) -> Hist {
    let mut h = Hist::new();
    let mut client = match c.ledger().await {
        Ok(cl) => cl,
        Err(e) => {
            sh.err(APPEND_ORDERED, e.to_string());
            return h;
        }
    };
    let mut map: Vec<u64> = Vec::new();
    for (n, (request_id, events)) in d.lines.iter().enumerate() {
        if !sh.running() {
            return h;
        }
        let events = match events.iter().map(|e| renumber(e, &map)).collect() {
            Ok(ev) => ev,
            Err(e) => {
                sh.err(APPEND_ORDERED, e);
                return h;
            }
        };
        let req = proto::AppendRequest {
            events,
            request_id: request_id.clone(),
            expected_size: None,
        };
        let t = Instant::now();
        match client.append(call(req)).await {
            Ok(r) => {
                sh.ok(APPEND_ORDERED, &mut h, t.elapsed());
                let seqs = r.into_inner().seqs;
                sh.entries.fetch_add(seqs.len() as u64, Ordering::Relaxed);
                map.extend(seqs);
                sh.teachers_known
                    .store(d.teachers_after[n], Ordering::Relaxed);
                sh.strong_known.store(d.strong_after[n], Ordering::Relaxed);
            }
            Err(s) => {
                // The rest of the district depends on this line: stop sending it.
                sh.err(APPEND_ORDERED, s.message().to_owned());
                return h;
            }
        }
    }
    let rest = registry_writer(c, 0, sh).await;
    h.merge(&rest);
    h
}

/// Loops over the Query RPCs on known teachers and strong schools.
async fn reader(c: Connect, n: usize, sh: Arc<Shared>) -> Vec<Hist> {
    let mut hs = vec![Hist::new(); 4];
    let mut client = match c.query().await {
        Ok(cl) => cl,
        Err(e) => {
            sh.err(2, e.to_string());
            return hs;
        }
    };
    let mut rng = Rng::new(0x50a1 + n as u64);
    let mut k = n;
    while sh.running() {
        let (tk, sk) = (
            sh.teachers_known.load(Ordering::Relaxed),
            sh.strong_known.load(Ordering::Relaxed),
        );
        if tk == 0 || sk == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let teacher = sh.teachers[rng.below(tk as u64) as usize].clone();
        let school = sh.strong[rng.below(sk as u64) as usize].clone();
        let kind = 2 + k % 4;
        k += 1;
        let t = Instant::now();
        let r = match kind {
            2 => client
                .teacher_history(call(proto::TeacherHistoryRequest {
                    teacher,
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            3 => client
                .eligibility(call(proto::EligibilityRequest {
                    teacher,
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            4 => client
                .school_quota(call(proto::SchoolQuotaRequest {
                    school,
                    school_year: 2023,
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
            _ => client
                .terms(call(proto::TermsRequest {
                    school: Some(school),
                    ..Default::default()
                }))
                .await
                .map(|_| ()),
        };
        match r {
            Ok(()) => sh.ok(kind, &mut hs[kind - 2], t.elapsed()),
            Err(s) => sh.err(kind, s.message().to_owned()),
        }
    }
    hs
}

/// What one subscriber saw.
struct Followed {
    /// Entries received in order with intact links.
    received: u64,
    /// Out of order, gaps or broken links.
    bad: u64,
}

/// Follows the log from 0, checking each entry's seq and link, until it has `target` entries
/// (sent once the writers stop).
async fn subscriber(
    c: Connect,
    sh: Arc<Shared>,
    mut target: watch::Receiver<Option<u64>>,
) -> Followed {
    let mut f = Followed {
        received: 0,
        bad: 0,
    };
    let mut client = match c.audit().await {
        Ok(cl) => cl,
        Err(e) => {
            sh.err(SUBSCRIBE, e.to_string());
            f.bad += 1;
            return f;
        }
    };
    let mut stream = match client
        .subscribe(proto::SubscribeRequest { from_seq: 0 })
        .await
    {
        Ok(s) => s.into_inner(),
        Err(s) => {
            sh.err(SUBSCRIBE, s.message().to_owned());
            f.bad += 1;
            return f;
        }
    };
    let mut prev = rotaledger::log::GENESIS_HASH.to_vec();
    loop {
        if let Some(t) = *target.borrow()
            && f.received >= t
        {
            return f;
        }
        tokio::select! {
            m = stream.message() => match m {
                Ok(Some(r)) => {
                    let Some(e) = r.entry else {
                        f.bad += 1;
                        sh.err(SUBSCRIBE, "a message without an entry".into());
                        continue;
                    };
                    if e.seq != f.received || e.prev_hash != prev {
                        f.bad += 1;
                        sh.err(SUBSCRIBE, format!("entry {} where {} was due", e.seq, f.received));
                        return f;
                    }
                    prev = e.hash;
                    f.received += 1;
                    sh.ops[SUBSCRIBE].fetch_add(1, Ordering::Relaxed);
                }
                Ok(None) => {
                    sh.err(SUBSCRIBE, "the stream ended".into());
                    f.bad += 1;
                    return f;
                }
                Err(s) => {
                    sh.err(SUBSCRIBE, s.message().to_owned());
                    f.bad += 1;
                    return f;
                }
            },
            c = target.changed() => if c.is_err() { return f; },
        }
    }
}

/// Resident memory of this process now (`VmRSS`), in KiB.
fn rss_kib() -> u64 {
    proc_status_kib("/proc/self/status", "VmRSS").unwrap_or(0)
}

/// One per-second sample.
#[derive(Debug, Clone, Serialize)]
struct Sample {
    second: u64,
    rss_kib: u64,
    ops: u64,
    errors: u64,
    /// Entries appended so far.
    entries: u64,
}

/// One row of the table.
#[derive(Debug, Serialize)]
struct Row {
    kind: &'static str,
    count: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    seconds: u64,
    writers: usize,
    readers: usize,
    subscribers: usize,
    teachers: u32,
    rows: Vec<Row>,
    errors: u64,
    first_errors: Vec<String>,
    rss_start_kib: u64,
    rss_1min_kib: u64,
    rss_end_kib: u64,
    rss_max_kib: u64,
    /// A fresh server's RSS over the same log after the soak (`None`: it did not start).
    rss_fresh_kib: Option<u64>,
    /// The most the soaked process may hold: factor x fresh + slack.
    rss_bound_kib: Option<u64>,
    rss_per_entry_bytes: f64,
    /// RSS growth from the one-minute sample to the end over the entries appended meanwhile.
    rss_growth_per_entry_after_1min_bytes: f64,
    log_entries: u64,
    log_bytes: u64,
    subscribers_in_order: bool,
    log_verifies: bool,
    rss_bounded: bool,
    verdict: bool,
    samples: Vec<Sample>,
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The store's directory, removed when the run ends (however it ends).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the soak.
pub fn run(a: &SoakArgs) -> Result<Outcome, CliError> {
    if a.seconds == 0 || a.seconds > 86_400 || a.writers == 0 || a.teachers == 0 {
        return Err(CliError(
            "need --seconds in 1..=86400, --writers >= 1 and --teachers >= 1".into(),
        ));
    }
    let parent = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = Scratch(parent.join(format!(
        "rotaledger-bench-soak-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    )));
    if scratch.0.exists() {
        return Err(CliError(format!("{} already exists", scratch.0.display())));
    }
    std::fs::create_dir_all(&scratch.0).map_err(CliError::ctx(scratch.0.display()))?;
    let server_bin = match &a.server_bin {
        Some(b) => b.clone(),
        None => default_server_bin()?,
    };
    let rss_start = rss_kib();
    let d = Arc::new(district(a.teachers)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::ctx("starting a runtime"))?;
    let report = runtime.block_on(soak(a, &scratch.0, &server_bin, d, rss_start))?;
    drop(runtime);
    if a.json {
        let s = serde_json::to_string_pretty(&report).map_err(CliError::ctx("encoding JSON"))?;
        println!("{s}");
    } else {
        print_table(&report);
    }
    Ok(if report.verdict {
        Outcome::Ok
    } else {
        Outcome::Problem
    })
}

async fn soak(
    a: &SoakArgs,
    dir: &Path,
    server_bin: &Path,
    d: Arc<District>,
    rss_start: u64,
) -> Result<Report, CliError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(CliError::ctx("binding 127.0.0.1:0"))?;
    let addr = listener
        .local_addr()
        .map_err(CliError::ctx("the listener's address"))?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(
        listener,
        ServerConfig::new(dir.to_path_buf()),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let c = Connect {
        server: format!("http://{addr}"),
        token: None,
        token_file: None,
        tls_ca: None,
        json: false,
    };
    // The load starts once the ledger serves: until then every call would be UNAVAILABLE.
    c.wait_serving(Duration::from_secs(600)).await?;
    let sh = Arc::new(Shared {
        ops: Default::default(),
        errors: Default::default(),
        entries: AtomicU64::new(0),
        first_errors: Mutex::new(Vec::new()),
        deadline: Instant::now() + Duration::from_secs(a.seconds),
        teachers: d.teachers.clone(),
        strong: d.strong.clone(),
        teachers_known: AtomicUsize::new(0),
        strong_known: AtomicUsize::new(0),
    });
    let start = Instant::now();
    let (target_tx, target_rx) = watch::channel(None);
    let subs: Vec<_> = (0..a.subscribers)
        .map(|_| tokio::spawn(subscriber(c.clone(), sh.clone(), target_rx.clone())))
        .collect();
    let mut writers = vec![tokio::spawn(ordered_writer(
        c.clone(),
        d.clone(),
        sh.clone(),
    ))];
    for w in 1..a.writers {
        writers.push(tokio::spawn(registry_writer(c.clone(), w, sh.clone())));
    }
    let readers: Vec<_> = (0..a.readers)
        .map(|n| tokio::spawn(reader(c.clone(), n, sh.clone())))
        .collect();

    let bar = ProgressBar::new(a.seconds);
    bar.set_style(
        ProgressStyle::with_template("soak [{bar:30}] {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while sh.running() {
        tick.tick().await;
        let s = Sample {
            second: start.elapsed().as_secs(),
            rss_kib: rss_kib(),
            ops: sh.total_ops(),
            errors: sh.total_errors(),
            entries: sh.entries.load(Ordering::Relaxed),
        };
        bar.set_position(s.second.min(a.seconds));
        bar.set_message(format!(
            "{} ops, {} errors, RSS {} MiB",
            s.ops,
            s.errors,
            s.rss_kib / 1024
        ));
        samples.push(s);
    }
    bar.finish_and_clear();

    let mut hists: Vec<Hist> = vec![Hist::new(); KINDS.len()];
    for (i, w) in writers.into_iter().enumerate() {
        let h = w.await.map_err(CliError::ctx("a writer task"))?;
        hists[if i == 0 {
            APPEND_ORDERED
        } else {
            APPEND_REGISTRY
        }]
        .merge(&h);
    }
    for r in readers {
        let hs = r.await.map_err(CliError::ctx("a reader task"))?;
        for (k, h) in hs.iter().enumerate() {
            hists[2 + k].merge(h);
        }
    }
    let head = c
        .ledger()
        .await?
        .get_head(call(proto::GetHeadRequest {}))
        .await
        .map_err(|s| CliError(format!("GetHead: {}", s.message())))?
        .into_inner()
        .head
        .unwrap_or_default();
    let _ = target_tx.send(Some(head.size));
    let mut in_order = true;
    for s in subs {
        match tokio::time::timeout(Duration::from_secs(120), s).await {
            Ok(Ok(f)) => in_order &= f.bad == 0 && f.received == head.size,
            _ => in_order = false,
        }
    }
    let rss_end = rss_kib();
    let _ = stop_tx.send(());
    server
        .await
        .map_err(CliError::ctx("the server task"))?
        .map_err(CliError::ctx("the server"))?;

    let store_dir = dir.to_path_buf();
    let verified = tokio::task::spawn_blocking(move || -> Result<Option<u64>, CliError> {
        let store = Store::open(&store_dir).map_err(CliError::ctx(store_dir.display()))?;
        let r = verify_store(&store, &mut |_| {}).map_err(CliError::ctx("reading the store"))?;
        Ok(r.ok().map(|v| v.head.size))
    })
    .await
    .map_err(CliError::ctx("the verification task"))??;
    let log_verifies = verified == Some(head.size);
    let fresh = fresh_server_rss_kib(server_bin, dir, head.size).await;

    let minute = samples
        .iter()
        .find(|s| s.second >= 60)
        .or(samples.last())
        .map_or(rss_end, |s| s.rss_kib);
    let minute_entries = samples
        .iter()
        .find(|s| s.second >= 60)
        .or(samples.last())
        .map_or(0, |s| s.entries);
    let rss_max = samples
        .iter()
        .map(|s| s.rss_kib)
        .chain([rss_end])
        .max()
        .unwrap_or(rss_end);
    let rss_bound = fresh.map(|f| (RSS_BOUND_FACTOR * f as f64) as u64 + RSS_SLACK_KIB);
    let rss_bounded = rss_bound.is_some_and(|b| rss_end <= b);
    let errors = sh.total_errors();
    let rows: Vec<Row> = KINDS
        .iter()
        .enumerate()
        .map(|(k, kind)| Row {
            kind,
            count: sh.ops[k].load(Ordering::Relaxed),
            errors: sh.errors[k].load(Ordering::Relaxed),
            p50_ms: hists[k].percentile_ms(50),
            p99_ms: hists[k].percentile_ms(99),
            max_ms: hists[k].max_ns as f64 / 1e6,
        })
        .collect();
    let first_errors = sh
        .first_errors
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    Ok(Report {
        seconds: a.seconds,
        writers: a.writers,
        readers: a.readers,
        subscribers: a.subscribers,
        teachers: a.teachers,
        rows,
        errors,
        first_errors,
        rss_start_kib: rss_start,
        rss_1min_kib: minute,
        rss_end_kib: rss_end,
        rss_max_kib: rss_max,
        rss_fresh_kib: fresh,
        rss_bound_kib: rss_bound,
        rss_per_entry_bytes: rss_end as f64 * 1024.0 / (head.size.max(1)) as f64,
        rss_growth_per_entry_after_1min_bytes: (rss_end as f64 - minute as f64) * 1024.0
            / (head.size.saturating_sub(minute_entries).max(1)) as f64,
        log_entries: head.size,
        log_bytes: dir_bytes(dir),
        subscribers_in_order: in_order,
        log_verifies,
        rss_bounded,
        verdict: errors == 0 && in_order && log_verifies && rss_bounded,
        samples,
    })
}

fn print_table(r: &Report) {
    println!(
        "bench soak: {} s, {} writers, {} readers, {} subscribers, district of {} teachers",
        r.seconds, r.writers, r.readers, r.subscribers, r.teachers
    );
    println!();
    println!(
        "{:<16} {:>10} {:>7} {:>9} {:>9} {:>9}",
        "op", "count", "errors", "p50 ms", "p99 ms", "max ms"
    );
    for row in &r.rows {
        println!(
            "{:<16} {:>10} {:>7} {:>9.2} {:>9.2} {:>9.2}",
            row.kind, row.count, row.errors, row.p50_ms, row.p99_ms, row.max_ms
        );
    }
    println!();
    println!(
        "RSS: start {} MiB, 1 min {} MiB, end {} MiB, max {} MiB ({:.0} bytes per log entry at the end, growth after 1 min {:.0} bytes per entry appended)",
        r.rss_start_kib / 1024,
        r.rss_1min_kib / 1024,
        r.rss_end_kib / 1024,
        r.rss_max_kib / 1024,
        r.rss_per_entry_bytes,
        r.rss_growth_per_entry_after_1min_bytes
    );
    println!(
        "log: {} entries, {:.1} MiB on disk",
        r.log_entries,
        r.log_bytes as f64 / (1024.0 * 1024.0)
    );
    for e in &r.first_errors {
        println!("error: {e}");
    }
    println!(
        "RSS of a fresh server holding the same log: {}; bound for the soaked process ({RSS_BOUND_FACTOR}x that + {} MiB): {}",
        r.rss_fresh_kib
            .map_or("did not start".into(), |k| format!("{} MiB", k / 1024)),
        RSS_SLACK_KIB / 1024,
        r.rss_bound_kib
            .map_or("none".into(), |k| format!("{} MiB", k / 1024)),
    );
    println!(
        "verdict: {} (errors {} == 0: {}; subscribers saw every entry in order: {}; log verifies: {}; RSS end within the bound: {})",
        if r.verdict { "PASS" } else { "FAIL" },
        r.errors,
        r.errors == 0,
        r.subscribers_in_order,
        r.log_verifies,
        r.rss_bounded
    );
}

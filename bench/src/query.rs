//! `rotaledger-bench query`: latency of the principals' queries (teacher history,
//! eligibility, school quota) on a large ledger, idle and under concurrent appends, over gRPC
//! and in-process (the floor without gRPC), measured in the same run.
//!
//! The ledger is built (outside the timed part) by `rotaledger-bench rebuild`'s filler, through the real
//! [`Ledger`]: 400 schools in 50 groups, then per teacher registered, dispatched, evaluated
//! three times, returned, promoted (about 143,000 teachers at 1M entries). With `--data` it
//! is built once and reused.
//!
//! For each query kind it measures, each for `--seconds`:
//! 1. in-process, idle: `--readers` threads calling `Ledger::teacher_history` (etc.) on random
//!    existing teachers (strong schools for quotas);
//! 2. in-process, under load: the same while `--appenders` tasks append single events (fresh
//!    teacher registrations) through `Ledger::append` in a closed loop;
//! 3. gRPC, idle: `--readers` tonic clients (each its own connection) calling the Query RPC
//!    on a real server over that ledger;
//! 4. gRPC, under load: the same while `--appenders` tonic clients append single events.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::Args;
use indicatif::ProgressBar;
use serde::Serialize;

use crate::grpc::{Errors, RunningServer, Runtimes, drive};
use crate::measure::{Limits, Measured, ScratchDir, load_average, print_json, timed_bar};
use crate::rebuild::{fill, open, teacher_registered};
use rotaledger::cli::client::{Connect, call};
use rotaledger::cli::{CliError, Outcome};
use rotaledger::domain::vocab::{SchoolYear, Standing};
use rotaledger::generate::Rng;
use rotaledger::ledger::Ledger;
use rotaledger::proto;
use rotaledger::server::ServerConfig;

/// Flags of `rotaledger-bench query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Entries in the ledger built for the run (ignored when --data holds a ledger already).
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Events per append while building (at most 1000).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Duration of each measurement, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Concurrent appenders (single-event appends in a closed loop) under load.
    #[arg(long, default_value_t = 4)]
    pub appenders: usize,
    /// Concurrent query callers (threads in-process, clients over gRPC).
    #[arg(long, default_value_t = 1)]
    pub readers: usize,
    /// The as-of date of every query (YYYY-MM-DD).
    #[arg(long, default_value = "2025-09-01")]
    pub as_of: String,
    /// The school year of the quota queries (its first calendar year).
    #[arg(long, default_value_t = 2015)]
    pub school_year: i32,
    /// Use the ledger in this directory; when it is absent or empty, build one of --entries
    /// entries there first and keep it (the next run reuses it). The appends made under load
    /// stay in it.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Parent directory of the temporary ledger [default: the system temporary directory].
    #[arg(long, conflicts_with = "data")]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The queries measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    History,
    Eligibility,
    Quota,
}

const KINDS: [Kind; 3] = [Kind::History, Kind::Eligibility, Kind::Quota];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::History => "history",
            Kind::Eligibility => "eligibility",
            Kind::Quota => "quota",
        }
    }
}

/// One measured row.
#[derive(Debug, Serialize)]
struct Row {
    query: Kind,
    /// "in-process" or "grpc".
    path: &'static str,
    /// Whether appenders ran meanwhile.
    under_load: bool,
    /// Queries: count, rate and latency (one query, asked to answered).
    queries: Measured,
    /// Queries that failed (any fails the run).
    errors: u64,
    /// Appends (single events) acknowledged meanwhile, per second, and their latency.
    appends: Option<Measured>,
    /// Appends that failed.
    append_errors: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    load_before: String,
    load_after: String,
    entries: u64,
    teachers: usize,
    strong_schools: usize,
    /// Built in this run (false: reused from --data).
    built: bool,
    build_seconds: f64,
    open_seconds: f64,
    seconds_per_measurement: f64,
    readers: usize,
    appenders: usize,
    as_of: String,
    school_year: i32,
    rows: Vec<Row>,
    first_errors: Vec<String>,
}

/// What the queries ask about.
struct Targets {
    teachers: Vec<String>,
    strong: Vec<String>,
    schools: Vec<String>,
    as_of: NaiveDate,
    year: SchoolYear,
    /// Makes this run's appended teacher ids unique in a reused ledger.
    nonce: u64,
}

/// Runs the benchmark.
pub fn run(a: &QueryArgs) -> Result<Outcome, CliError> {
    let seconds_ok = a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 86_400.0;
    if !seconds_ok || a.readers == 0 || a.entries == 0 || a.batch == 0 || a.batch > 1000 {
        return Err(CliError(
            "need --seconds in (0, 86400], --readers >= 1, --entries >= 1 and --batch in 1..=1000"
                .into(),
        ));
    }
    let as_of = rotaledger::domain::fields::parse_date(&a.as_of)
        .map_err(|p| CliError(format!("--as-of: {p}")))?;
    let limits = Limits {
        duration: Duration::from_secs_f64(a.seconds),
        max_ops: 0,
    };

    // The ledger: kept in --data, or a temporary one removed at the end.
    let scratch;
    let dir = match &a.data {
        Some(d) => d.clone(),
        None => {
            scratch = ScratchDir::new(a.dir.as_deref(), "query")?;
            scratch.path.join("ledger")
        }
    };
    let empty = std::fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none());
    let mut build_seconds = 0.0;
    if empty {
        let t = Instant::now();
        let (_, n) = fill(&dir, a.entries, a.batch)?;
        build_seconds = t.elapsed().as_secs_f64();
        eprintln!("built a ledger of {n} entries in {build_seconds:.1} s");
    }
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(200));
    spinner.set_message(format!("opening {} (replaying every entry)", dir.display()));
    let t = Instant::now();
    let ledger = open(&dir)?;
    let open_seconds = t.elapsed().as_secs_f64();
    spinner.finish_and_clear();

    let targets = targets(&ledger, as_of, a.school_year)?;
    let entries = ledger.head().size;
    let rt = Runtimes::new()?;
    let targets = Arc::new(targets);
    let errors = Errors::default();
    let c = Ctx {
        rt: &rt,
        targets: &targets,
        readers: a.readers,
        appenders: a.appenders,
        limits,
        errors: &errors,
    };
    let load_before = load_average();
    let mut rows = Vec::new();

    // In-process: the floor without gRPC.
    // With no appenders there is no "under load" to measure.
    let loads: &[bool] = if a.appenders == 0 {
        &[false]
    } else {
        &[false, true]
    };
    let ledger = Arc::new(ledger);
    for kind in KINDS {
        for &under_load in loads {
            rows.push(in_process(&c, &ledger, kind, under_load)?);
        }
    }
    // Every appender task has ended (each row waits for its own), so this is the last handle.
    let ledger = Arc::try_unwrap(ledger)
        .map_err(|_| CliError("the ledger is still in use by an appender".into()))?;

    // Over gRPC, on a real server over the same ledger.
    let config = ServerConfig::new(dir.clone());
    let srv = RunningServer::start(&rt, config, ledger)?;
    for kind in KINDS {
        for &under_load in loads {
            rows.push(over_grpc(&c, &srv.connect, kind, under_load)?);
        }
    }
    srv.stop(&rt)?;

    let report = Report {
        load_before,
        load_after: load_average(),
        entries,
        teachers: targets.teachers.len(),
        strong_schools: targets.strong.len(),
        built: empty,
        build_seconds,
        open_seconds,
        seconds_per_measurement: a.seconds,
        readers: a.readers,
        appenders: a.appenders,
        as_of: a.as_of.clone(),
        school_year: a.school_year,
        rows,
        first_errors: errors.first(),
    };
    let failed = errors.count() > 0;
    if a.json {
        print_json(&report)?;
    } else {
        print_table(&report, &dir, a.data.is_some());
    }
    Ok(if failed {
        Outcome::Problem
    } else {
        Outcome::Ok
    })
}

/// Every registered teacher, the schools strong on 1 September of the quota year, and every
/// school (where appended teachers are registered).
fn targets(ledger: &Ledger, as_of: NaiveDate, year: i32) -> Result<Targets, CliError> {
    let snap = ledger.snapshot();
    let state = &snap.state;
    let first = NaiveDate::from_ymd_opt(year, 9, 1)
        .ok_or_else(|| CliError(format!("--school-year {year} is out of range")))?;
    let teachers: Vec<String> = state.teachers().map(|t| t.id.to_string()).collect();
    let schools: Vec<String> = state.schools().map(|s| s.id.to_string()).collect();
    let strong: Vec<String> = state
        .schools()
        .filter(|s| state.standing_at(&s.id, first) == Some(Standing::Strong))
        .map(|s| s.id.to_string())
        .collect();
    if teachers.is_empty() || strong.is_empty() {
        return Err(CliError(format!(
            "the ledger has {} teachers and {} schools strong on {first}: nothing to ask about",
            teachers.len(),
            strong.len()
        )));
    }
    Ok(Targets {
        teachers,
        strong,
        schools,
        as_of,
        year: SchoolYear(year),
        nonce: snap.head.size,
    })
}

/// A fresh teacher's registration for appender `a`'s append `i` in measurement `phase`, and
/// its request id: unique in this run and, through the nonce (the log's size when the run
/// started), across runs on the same ledger.
fn fresh_teacher(
    nonce: u64,
    schools: &[String],
    phase: usize,
    a: usize,
    i: u64,
) -> (String, String) {
    let id = format!("Q{nonce}-{phase}-{a}-{i}");
    let school = &schools[(i as usize + a) % schools.len()];
    let event = teacher_registered(&id, &format!("Query bench teacher {id}"), school);
    (format!("bench-query-{id}"), event)
}

/// Asks one in-process query on random targets; `Err` with what went wrong.
fn ask_in_process(ledger: &Ledger, t: &Targets, kind: Kind, rng: &mut Rng) -> Result<(), String> {
    match kind {
        Kind::History => {
            let teacher = &t.teachers[rng.below(t.teachers.len() as u64) as usize];
            let h = ledger
                .teacher_history(teacher, t.as_of)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(h.value.entries.len());
        }
        Kind::Eligibility => {
            let teacher = &t.teachers[rng.below(t.teachers.len() as u64) as usize];
            let e = ledger
                .eligibility(teacher, t.as_of)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(&e.value);
        }
        Kind::Quota => {
            let school = &t.strong[rng.below(t.strong.len() as u64) as usize];
            let q = ledger
                .school_quota(school, t.year, t.as_of)
                .map_err(|e| e.to_string())?;
            std::hint::black_box(q.value.eligible.len());
        }
    }
    Ok(())
}

/// Asks one query over gRPC on random targets; `Err` with what went wrong.
async fn ask_grpc(
    client: &mut rotaledger::cli::client::Query,
    t: &Targets,
    kind: Kind,
    rng: &mut Rng,
) -> Result<(), String> {
    let as_of = t.as_of.format("%Y-%m-%d").to_string();
    match kind {
        Kind::History => {
            let teacher = t.teachers[rng.below(t.teachers.len() as u64) as usize].clone();
            let r = client
                .teacher_history(call(proto::TeacherHistoryRequest {
                    teacher,
                    as_of,
                    ..Default::default()
                }))
                .await
                .map_err(|s| s.message().to_owned())?;
            std::hint::black_box(r.into_inner().entries.len());
        }
        Kind::Eligibility => {
            let teacher = t.teachers[rng.below(t.teachers.len() as u64) as usize].clone();
            let r = client
                .eligibility(call(proto::EligibilityRequest {
                    teacher,
                    as_of,
                    ..Default::default()
                }))
                .await
                .map_err(|s| s.message().to_owned())?;
            std::hint::black_box(r.into_inner().eligibility.is_some());
        }
        Kind::Quota => {
            let school = t.strong[rng.below(t.strong.len() as u64) as usize].clone();
            let r = client
                .school_quota(call(proto::SchoolQuotaRequest {
                    school,
                    school_year: t.year.0,
                    as_of,
                    ..Default::default()
                }))
                .await
                .map_err(|s| s.message().to_owned())?;
            std::hint::black_box(r.into_inner().quota.is_some());
        }
    }
    Ok(())
}

/// What one measurement needs besides its kind and load.
struct Ctx<'a> {
    rt: &'a Runtimes,
    targets: &'a Arc<Targets>,
    readers: usize,
    appenders: usize,
    limits: Limits,
    /// Every error of the run, for the report.
    errors: &'a Errors,
}

/// The measurement's index, so appended ids differ between measurements.
fn phase(kind: Kind, grpc: bool, under_load: bool) -> usize {
    4 * kind as usize + 2 * usize::from(grpc) + usize::from(under_load)
}

/// Measures one query kind in-process, idle or with in-process appenders.
fn in_process(
    c: &Ctx<'_>,
    ledger: &Arc<Ledger>,
    kind: Kind,
    under_load: bool,
) -> Result<Row, CliError> {
    let phase = phase(kind, false, under_load);
    let start = Instant::now();
    let deadline = start + c.limits.duration;
    let append_errors = Arc::new(Errors::default());
    let appenders: Vec<_> = (0..if under_load { c.appenders } else { 0 })
        .map(|k| {
            let (ledger, append_errors, t) =
                (ledger.clone(), append_errors.clone(), c.targets.clone());
            c.rt.client.spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let (rid, event) = fresh_teacher(t.nonce, &t.schools, phase, k, i);
                    let t0 = Instant::now();
                    match ledger.append("bench", &rid, None, vec![event]).await {
                        Ok(_) => lat.push(t0.elapsed().as_nanos() as u64),
                        Err(e) => append_errors.add(format!("append: {e}")),
                    }
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let query_errors = Errors::default();
    let done = AtomicU64::new(0);
    let what = format!(
        "in-process {:<11} {}",
        kind.name(),
        if under_load { "under load" } else { "idle" }
    );
    let bar = timed_bar(&c.limits, what.clone());
    let lats: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..c.readers)
            .map(|r| {
                let (done, query_errors, t) = (&done, &query_errors, &**c.targets);
                s.spawn(move || {
                    let mut rng = Rng::new(0x9e37 + r as u64 * 1000 + phase as u64);
                    let mut lat = Vec::new();
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        match ask_in_process(ledger, t, kind, &mut rng) {
                            Ok(()) => {
                                lat.push(t0.elapsed().as_nanos() as u64);
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => query_errors.add(format!("{} in-process: {e}", kind.name())),
                        }
                    }
                    lat
                })
            })
            .collect();
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            bar.set_position(start.elapsed().as_millis() as u64);
            bar.set_message(format!("{what}: {} queries", done.load(Ordering::Relaxed)));
        }
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let mut append_lat = Vec::new();
    for h in appenders {
        append_lat.extend(
            c.rt.client
                .block_on(h)
                .map_err(CliError::ctx("an appender task"))?,
        );
    }
    Ok(row(
        c,
        kind,
        "in-process",
        under_load,
        (lats.into_iter().flatten().collect(), elapsed, &query_errors),
        (append_lat, &append_errors),
    ))
}

/// Measures one query kind over gRPC, idle or with gRPC appenders.
fn over_grpc(
    c: &Ctx<'_>,
    connect: &Connect,
    kind: Kind,
    under_load: bool,
) -> Result<Row, CliError> {
    let phase = phase(kind, true, under_load);
    let deadline = Instant::now() + c.limits.duration;
    let append_errors = Arc::new(Errors::default());
    let appenders: Vec<_> = (0..if under_load { c.appenders } else { 0 })
        .map(|k| {
            let (connect, append_errors, t) =
                (connect.clone(), append_errors.clone(), c.targets.clone());
            c.rt.client.spawn(async move {
                let mut lat = Vec::new();
                let mut client = match connect.ledger().await {
                    Ok(l) => l,
                    Err(e) => {
                        append_errors.add(e.to_string());
                        return lat;
                    }
                };
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let (request_id, event) = fresh_teacher(t.nonce, &t.schools, phase, k, i);
                    let req = proto::AppendRequest {
                        events: vec![event],
                        request_id,
                        expected_size: None,
                    };
                    let t0 = Instant::now();
                    match client.append(call(req)).await {
                        Ok(_) => lat.push(t0.elapsed().as_nanos() as u64),
                        Err(s) => append_errors.add(format!("append: {}", s.message())),
                    }
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let query_errors = Arc::new(Errors::default());
    let what = format!(
        "grpc       {:<11} {}",
        kind.name(),
        if under_load { "under load" } else { "idle" }
    );
    let (lat, elapsed) = drive(
        c.rt,
        c.readers,
        c.limits,
        &what,
        "queries",
        |r, deadline, done| {
            let (connect, query_errors, t) =
                (connect.clone(), query_errors.clone(), c.targets.clone());
            async move {
                let mut lat = Vec::new();
                let mut client = match connect.query().await {
                    Ok(q) => q,
                    Err(e) => {
                        query_errors.add(e.to_string());
                        return lat;
                    }
                };
                let mut rng = Rng::new(0x9e37 + r as u64 * 1000 + phase as u64);
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match ask_grpc(&mut client, &t, kind, &mut rng).await {
                        Ok(()) => {
                            lat.push(t0.elapsed().as_nanos() as u64);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => query_errors.add(format!("{} grpc: {e}", kind.name())),
                    }
                }
                lat
            }
        },
    )?;
    let mut append_lat = Vec::new();
    for h in appenders {
        append_lat.extend(
            c.rt.client
                .block_on(h)
                .map_err(CliError::ctx("an appender task"))?,
        );
    }
    Ok(row(
        c,
        kind,
        "grpc",
        under_load,
        (lat, elapsed, &query_errors),
        (append_lat, &append_errors),
    ))
}

/// Builds a row from the queries' and appends' latencies, and passes their errors on to the
/// run's.
fn row(
    c: &Ctx<'_>,
    kind: Kind,
    path: &'static str,
    under_load: bool,
    (lat, elapsed, query_errors): (Vec<u64>, Duration, &Errors),
    (append_lat, append_errors): (Vec<u64>, &Errors),
) -> Row {
    for e in query_errors
        .first()
        .into_iter()
        .chain(append_errors.first())
    {
        c.errors.add(e);
    }
    let n = lat.len() as u64;
    let appends = under_load.then(|| {
        let n = append_lat.len() as u64;
        Measured::new(append_lat, n, 0, elapsed)
    });
    Row {
        query: kind,
        path,
        under_load,
        queries: Measured::new(lat, n, 0, elapsed),
        errors: query_errors.count(),
        appends,
        append_errors: append_errors.count(),
    }
}

fn print_table(r: &Report, dir: &Path, kept: bool) {
    println!(
        "bench query: {} entries ({} teachers, {} strong schools in {}), {}{}; opened in {:.1} s",
        r.entries,
        r.teachers,
        r.strong_schools,
        r.school_year,
        if r.built {
            format!("built in {:.1} s", r.build_seconds)
        } else {
            "reused".to_owned()
        },
        if kept {
            format!(" in {}", dir.display())
        } else {
            String::new()
        },
        r.open_seconds
    );
    println!(
        "{} s per measurement, {} reader(s), {} appender(s) under load, as of {}",
        r.seconds_per_measurement, r.readers, r.appenders, r.as_of
    );
    println!(
        "load average before: {}, after: {}",
        r.load_before, r.load_after
    );
    println!();
    println!(
        "{:<12} {:<11} {:<6} {:>9} {:>8} {:>8} {:>8} {:>6} {:>9} {:>8}",
        "query",
        "path",
        "load",
        "queries/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "appends/s",
        "app p99"
    );
    for row in &r.rows {
        let q = &row.queries;
        let (rate, p99) = match &row.appends {
            Some(a) => (format!("{:.0}", a.ops_per_s()), format!("{:.2}", a.p99_ms)),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<12} {:<11} {:<6} {:>9.0} {:>8.3} {:>8.3} {:>8.3} {:>6} {:>9} {:>8}",
            row.query.name(),
            row.path,
            if row.under_load { "writes" } else { "idle" },
            q.ops_per_s(),
            q.p50_ms,
            q.p99_ms,
            q.max_ms,
            row.errors + row.append_errors,
            rate,
            p99
        );
    }
    println!();
    println!(
        "latency: one query, asked to answered; in-process: Ledger::teacher_history / eligibility / \
         school_quota called directly (appends through Ledger::append); grpc: the Query RPCs \
         from tonic clients on loopback (appends through Ledger.Append). \"writes\": appenders \
         adding single events in a closed loop meanwhile (\"app p99\": their latency, ms)."
    );
    for e in &r.first_errors {
        println!("error: {e}");
    }
}

//! `rotaledger-bench mirror`: a primary and a `serve --follow` mirror as users run them, two
//! real `rotaledger serve` processes on loopback (no access file: loopback only), driven from
//! this one.
//!
//! 1. The primary is filled with `--entries` fresh teachers' registrations (appends of 1000,
//!    4 clients), at 400 schools registered first.
//! 2. The floor: the primary verifies its whole log (`Audit.Verify`: every hash, link and the
//!    Merkle root), timed from here.
//! 3. Catch-up: a mirror starts on an empty data directory and copies the log from zero;
//!    timed from its start until its head is the primary's, with its CPU from /proc.
//! 4. Lag: 64 clients append single events to the primary for `--seconds` while a subscriber
//!    on the mirror notes when each entry is served there; an entry's lag is the time from
//!    its append's answer on the primary to its arrival from the mirror.
//! 5. Queries: the same teacher histories asked of the primary and of the mirror, one client
//!    each in turn, latency percentiles side by side.
//! 6. Synchronous mirroring: a second primary, started with `--sync-mirrors 1`, and a mirror
//!    of it take the same 64-client load as step 4; the appends' rate, their latency and the
//!    primary's CPU per append side by side with step 4's (asynchronous) figures, and the lag
//!    (which should be none: the mirror holds an entry before its append is answered).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use rotaledger::cli::client::{Connect, call};
use rotaledger::cli::{CliError, Outcome};
use rotaledger::proto;
use serde::Serialize;

use crate::measure::{ScratchDir, load_average, percentile, print_json};
use crate::rebuild::{schools, teacher_registered};
use crate::serve_proc::{ServeProcess, cpu_seconds, server_bin};

/// Flags of `rotaledger-bench mirror`.
#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// Entries in the primary's log before the mirror starts.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Duration of the lag measurement under the 64-client append load, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Teacher histories asked of each server.
    #[arg(long, default_value_t = 2000)]
    pub queries: usize,
    /// The `rotaledger` binary [default: the one beside this program].
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Parent directory of the scratch directory (both data directories and the logs)
    /// [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Latency {
    count: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl Latency {
    fn of(mut ns: Vec<u64>) -> Latency {
        ns.sort_unstable();
        Latency {
            count: ns.len(),
            p50_ms: percentile(&ns, 50) as f64 / 1e6,
            p99_ms: percentile(&ns, 99) as f64 / 1e6,
            max_ms: ns.last().copied().unwrap_or(0) as f64 / 1e6,
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    load_before: String,
    load_after: String,
    cores: usize,
    mem_total_kib: u64,
    server_bin: PathBuf,
    /// Entries in the primary's log when the mirror started.
    entries: u64,
    fill_seconds: f64,
    fill_entries_per_s: f64,
    /// The primary's `Audit.Verify` of the whole log: seconds and entries/s (the floor).
    verify_seconds: f64,
    verify_entries_per_s: f64,
    /// The mirror, from its start on an empty directory to holding the whole log.
    catch_up_seconds: f64,
    catch_up_entries_per_s: f64,
    /// Verify's rate over the catch-up rate (target <= 1.5).
    catch_up_vs_verify: f64,
    /// The mirror's CPU time while catching up, and the primary's.
    mirror_cpu_seconds: f64,
    primary_cpu_seconds: f64,
    /// Single-event appends acknowledged under the 64-client load, and their rate.
    load_appends: u64,
    load_appends_per_s: f64,
    /// Each append's latency, from the request to its answer, and the primary's CPU per
    /// append, under that load.
    append_latency: Latency,
    primary_cpu_us_per_append: f64,
    /// The same load on a fresh pair (a primary with the schools only, and its mirror),
    /// asynchronous, and on another with `--sync-mirrors 1`.
    fresh_async: PairLoad,
    fresh_sync: PairLoad,
    /// From an append's answer on the primary to its entry's arrival from the mirror.
    lag: Latency,
    /// Entries acknowledged under load that never arrived from the mirror (within 30 s).
    lag_missing: u64,
    /// Teacher histories on the primary and on the mirror.
    query_primary: Latency,
    query_mirror: Latency,
    /// Both logs the same at the end (size, head hash, root).
    same_head: bool,
    mirror_status: String,
}

/// The 64-client load on a fresh primary and its mirror.
#[derive(Debug, Serialize)]
struct PairLoad {
    /// The primary's extra flags.
    flags: Vec<String>,
    appends: u64,
    appends_per_s: f64,
    /// From each append's request to its answer.
    append_latency: Latency,
    primary_cpu_us_per_append: f64,
    /// From an append's answer to its entry's arrival from the mirror's `Subscribe` (with
    /// `--sync-mirrors`, the mirror held it durably before the answer: what is left is the
    /// stream's delivery).
    lag: Latency,
    lag_missing: u64,
}

/// Starts a primary with `flags` and a mirror of it in `<scratch>/<name>-*`, registers the
/// schools, and runs the 64-client load of step 4 for `seconds`.
fn small_pair(
    bin: &std::path::Path,
    scratch: &std::path::Path,
    name: &str,
    flags: &[&str],
    seconds: f64,
    rt: &tokio::runtime::Runtime,
) -> Result<PairLoad, CliError> {
    let mut args = vec!["--snapshot-every", "0"];
    args.extend_from_slice(flags);
    let primary = ServeProcess::start(
        bin,
        &scratch.join(format!("{name}-primary")),
        &args,
        Some(&scratch.join(format!("{name}-primary.log"))),
    )?;
    let p = primary.connect(None);
    rt.block_on(primary.ready(None))?;
    let mirror = ServeProcess::start(
        bin,
        &scratch.join(format!("{name}-mirror")),
        &["--follow", p.server.as_str(), "--snapshot-every", "0"],
        Some(&scratch.join(format!("{name}-mirror.log"))),
    )?;
    let m = mirror.connect(None);
    // With --sync-mirrors, acknowledged once the mirror (started just before) holds them.
    let size = rt.block_on(fill(&p, schools().len() as u64))?;
    rt.block_on(wait_for(&m, size, Duration::from_secs(60)))?;
    let cpu_before = cpu_seconds(primary.pid)?;
    let (appends, lag, lag_missing, took) = rt.block_on(lag_under_load(&p, &m, seconds))?;
    let cpu = cpu_seconds(primary.pid)? - cpu_before;
    eprintln!("{name} pair: {appends} appends");
    mirror.stop();
    primary.stop();
    Ok(PairLoad {
        flags: flags.iter().map(|f| f.to_string()).collect(),
        appends,
        appends_per_s: appends as f64 / seconds,
        append_latency: Latency::of(took),
        primary_cpu_us_per_append: cpu * 1e6 / appends.max(1) as f64,
        lag: Latency::of(lag),
        lag_missing,
    })
}

/// Runs the benchmark.
pub fn run(a: &MirrorArgs) -> Result<Outcome, CliError> {
    if !(a.seconds.is_finite() && a.seconds > 0.0 && a.seconds <= 3600.0) {
        return Err(CliError("--seconds must be in (0, 3600]".into()));
    }
    let bin = server_bin(a.server_bin.as_deref())?;
    let scratch = ScratchDir::new(a.dir.as_deref(), "mirror")?;
    let load_before = load_average();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .map_err(CliError::ctx("starting a runtime"))?;
    let primary = ServeProcess::start(
        &bin,
        &scratch.path.join("primary"),
        &["--snapshot-every", "0"],
        Some(&scratch.path.join("primary.log")),
    )?;
    let p = primary.connect(None);
    rt.block_on(primary.ready(None))?;

    // 1. Fill.
    let started = Instant::now();
    let filled = rt.block_on(fill(&p, a.entries))?;
    let fill_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "filled {filled} entries in {fill_seconds:.1} s ({:.0}/s)",
        filled as f64 / fill_seconds
    );

    // 2. The floor: the primary verifies its whole log.
    let started = Instant::now();
    let verified = rt.block_on(async {
        let mut audit = p.audit().await?;
        let r = audit
            .verify(call(proto::VerifyRequest {
                from_seq: 0,
                to_seq: None,
            }))
            .await
            .map_err(|s| CliError(format!("Verify: {}", s.message())))?
            .into_inner();
        if !r.ok {
            return Err(CliError(format!("the primary's log did not verify: {r:?}")));
        }
        Ok::<u64, CliError>(r.checked)
    })?;
    let verify_seconds = started.elapsed().as_secs_f64();
    eprintln!("verify: {verified} entries in {verify_seconds:.1} s");

    // 3. Catch-up from zero.
    let primary_cpu_before = cpu_seconds(primary.pid)?;
    let started = Instant::now();
    let mirror = ServeProcess::start(
        &bin,
        &scratch.path.join("mirror"),
        &["--follow", p.server.as_str(), "--snapshot-every", "0"],
        Some(&scratch.path.join("mirror.log")),
    )?;
    let m = mirror.connect(None);
    rt.block_on(wait_for(&m, filled, Duration::from_secs(3600)))?;
    let catch_up_seconds = started.elapsed().as_secs_f64();
    let mirror_cpu_seconds = cpu_seconds(mirror.pid)?;
    let primary_cpu_seconds = cpu_seconds(primary.pid)? - primary_cpu_before;
    eprintln!(
        "mirror caught up with {filled} entries in {catch_up_seconds:.1} s ({:.0}/s)",
        filled as f64 / catch_up_seconds
    );

    // 4. Lag under load.
    let cpu_before = cpu_seconds(primary.pid)?;
    let (load_appends, lag, lag_missing, append_ns) =
        rt.block_on(lag_under_load(&p, &m, a.seconds))?;
    let primary_cpu_us_per_append =
        (cpu_seconds(primary.pid)? - cpu_before) * 1e6 / load_appends.max(1) as f64;
    eprintln!("lag under load: {} entries", lag.len());

    // 5. Queries.
    let query_primary = rt.block_on(histories(&p, a.queries, filled))?;
    let query_mirror = rt.block_on(histories(&m, a.queries, filled))?;

    let (same_head, mirror_status) = rt.block_on(async {
        let size = head(&p).await?.head.unwrap_or_default().size;
        wait_for(&m, size, Duration::from_secs(60)).await?;
        let (hp, hm) = (head(&p).await?, head(&m).await?);
        Ok::<_, CliError>((
            hp.head == hm.head,
            hm.mirror.map(|s| s.status).unwrap_or_default(),
        ))
    })?;
    mirror.stop();
    primary.stop();

    // 6. Asynchronous against synchronous, like for like: two fresh pairs (a primary and its
    // mirror), the same schools, the same load; the second primary answers an append only
    // once its mirror holds it.
    let paired =
        |name: &str, flags: &[&str]| small_pair(&bin, &scratch.path, name, flags, a.seconds, &rt);
    let fresh_async = paired("async", &[])?;
    let fresh_sync = paired("sync", &["--sync-mirrors", "1"])?;
    drop(rt);
    let verify_rate = verified as f64 / verify_seconds.max(1e-9);
    let catch_up_rate = filled as f64 / catch_up_seconds.max(1e-9);
    let report = Report {
        load_before,
        load_after: load_average(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total_kib: crate::rebuild::proc_status_kib("/proc/meminfo", "MemTotal").unwrap_or(0),
        server_bin: bin,
        entries: filled,
        fill_seconds,
        fill_entries_per_s: filled as f64 / fill_seconds.max(1e-9),
        verify_seconds,
        verify_entries_per_s: verify_rate,
        catch_up_seconds,
        catch_up_entries_per_s: catch_up_rate,
        catch_up_vs_verify: verify_rate / catch_up_rate.max(1e-9),
        mirror_cpu_seconds,
        primary_cpu_seconds,
        load_appends,
        load_appends_per_s: load_appends as f64 / a.seconds,
        append_latency: Latency::of(append_ns),
        primary_cpu_us_per_append,
        fresh_async,
        fresh_sync,
        lag: Latency::of(lag),
        lag_missing,
        query_primary: Latency::of(query_primary),
        query_mirror: Latency::of(query_mirror),
        same_head,
        mirror_status,
    };
    if a.json {
        print_json(&report)?;
    } else {
        print_table(&report);
    }
    let nothing_missing = report.lag_missing == 0
        && report.fresh_async.lag_missing == 0
        && report.fresh_sync.lag_missing == 0;
    Ok(if report.same_head && nothing_missing {
        Outcome::Ok
    } else {
        Outcome::Problem
    })
}

fn print_table(r: &Report) {
    println!(
        "machine: {} cores, {} MiB; load {} -> {}",
        r.cores,
        r.mem_total_kib / 1024,
        r.load_before,
        r.load_after
    );
    println!(
        "fill            {:>10} entries  {:>8.1} s  {:>9.0} entries/s",
        r.entries, r.fill_seconds, r.fill_entries_per_s
    );
    println!(
        "verify (floor)  {:>10} entries  {:>8.1} s  {:>9.0} entries/s",
        r.entries, r.verify_seconds, r.verify_entries_per_s
    );
    println!(
        "mirror catch-up {:>10} entries  {:>8.1} s  {:>9.0} entries/s  ({:.2}x verify's time per entry; mirror CPU {:.1} s, primary CPU {:.1} s)",
        r.entries,
        r.catch_up_seconds,
        r.catch_up_entries_per_s,
        r.catch_up_vs_verify,
        r.mirror_cpu_seconds,
        r.primary_cpu_seconds
    );
    println!(
        "lag under load  {} appends ({:.0}/s) from 64 clients: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; missing {}",
        r.load_appends,
        r.load_appends_per_s,
        r.lag.p50_ms,
        r.lag.p99_ms,
        r.lag.max_ms,
        r.lag_missing
    );
    println!(
        "appends (above) {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, primary CPU {:.0} us each",
        r.load_appends_per_s,
        r.append_latency.p50_ms,
        r.append_latency.p99_ms,
        r.primary_cpu_us_per_append
    );
    for (what, l) in [
        ("fresh, async  ", &r.fresh_async),
        ("fresh, sync 1 ", &r.fresh_sync),
    ] {
        println!(
            "{what}  {} appends ({:.0}/s): p50 {:.2} ms, p99 {:.2} ms, primary CPU {:.0} us each; mirror lag p50 {:.2} ms, p99 {:.2} ms; missing {}",
            l.appends,
            l.appends_per_s,
            l.append_latency.p50_ms,
            l.append_latency.p99_ms,
            l.primary_cpu_us_per_append,
            l.lag.p50_ms,
            l.lag.p99_ms,
            l.lag_missing
        );
    }
    println!(
        "history query   primary p50 {:.3} ms p99 {:.3} ms | mirror p50 {:.3} ms p99 {:.3} ms ({} each)",
        r.query_primary.p50_ms,
        r.query_primary.p99_ms,
        r.query_mirror.p50_ms,
        r.query_mirror.p99_ms,
        r.query_mirror.count
    );
    println!(
        "same head at the end: {}; mirror {}",
        r.same_head, r.mirror_status
    );
}

async fn head(c: &Connect) -> Result<proto::GetHeadResponse, CliError> {
    Ok(c.ledger()
        .await?
        .get_head(call(proto::GetHeadRequest {}))
        .await
        .map_err(|s| CliError(format!("GetHead: {}", s.message())))?
        .into_inner())
}

/// Waits until the server's head is `size`.
async fn wait_for(c: &Connect, size: u64, limit: Duration) -> Result<(), CliError> {
    let deadline = Instant::now() + limit;
    let bar = indicatif::ProgressBar::new(size);
    let mut client = c.ledger().await?;
    loop {
        if let Ok(h) = client.get_head(call(proto::GetHeadRequest {})).await {
            let at = h.into_inner().head.unwrap_or_default().size;
            bar.set_position(at);
            if at >= size {
                bar.finish_and_clear();
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(CliError(format!(
                "{} did not reach {size} entries",
                c.server
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Teacher `i` of the fill.
fn teacher(i: u64) -> String {
    format!("M{i:08}")
}

/// Fills the primary with `entries` (schools first, then teachers in appends of 1000 from 4
/// clients); returns the log's size.
async fn fill(p: &Connect, entries: u64) -> Result<u64, CliError> {
    let mut ledger = p.ledger().await?;
    ledger
        .append(call(proto::AppendRequest {
            events: schools(),
            request_id: "mirror-bench-schools".into(),
            expected_size: None,
        }))
        .await
        .map_err(|s| CliError(format!("registering the schools: {}", s.message())))?;
    let teachers = entries.saturating_sub(schools().len() as u64);
    let bar = indicatif::ProgressBar::new(teachers);
    let mut tasks = Vec::new();
    for c in 0..4u64 {
        let p = p.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let mut ledger = p.ledger().await?;
            let mut i = c * 1000;
            while i < teachers {
                let end = (i + 1000).min(teachers);
                let events = (i..end)
                    .map(|t| {
                        teacher_registered(
                            &teacher(t),
                            &format!("Mirror teacher {t}"),
                            &format!("S{:04}", t % 400),
                        )
                    })
                    .collect();
                ledger
                    .append(call(proto::AppendRequest {
                        events,
                        request_id: format!("mirror-bench-{i}"),
                        expected_size: None,
                    }))
                    .await
                    .map_err(|s| CliError(format!("filling: {}", s.message())))?;
                bar.inc(end - i);
                i += 4000;
            }
            Ok::<(), CliError>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| CliError(e.to_string()))??;
    }
    bar.finish_and_clear();
    Ok(head(p).await?.head.unwrap_or_default().size)
}

/// 64 clients append single events to the primary for `seconds`; a subscriber on the
/// mirror notes each entry's arrival. Returns the appends acknowledged, each entry's lag (ns)
/// and how many never arrived.
async fn lag_under_load(
    p: &Connect,
    m: &Connect,
    seconds: f64,
) -> Result<(u64, Vec<u64>, u64, Vec<u64>), CliError> {
    let from = head(m).await?.head.unwrap_or_default().size;
    let arrived: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut stream = m
        .audit()
        .await?
        .subscribe(call(proto::SubscribeRequest { from_seq: from }))
        .await
        .map_err(|s| CliError(format!("Subscribe on the mirror: {}", s.message())))?
        .into_inner();
    let seen = arrived.clone();
    let watcher = tokio::spawn(async move {
        while let Ok(Some(msg)) = stream.message().await {
            if let Some(e) = msg.entry
                && let Ok(mut a) = seen.lock()
            {
                a.insert(e.seq, Instant::now());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let acked: Arc<Mutex<Vec<(u64, Instant, u64)>>> = Arc::default();
    let mut tasks = Vec::new();
    for c in 0..64u64 {
        let p = p.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let mut ledger = p.ledger().await?;
            let mut i = 0u64;
            while Instant::now() < deadline {
                let name = format!("L{c:02}{i:07}");
                let sent = Instant::now();
                let r = ledger
                    .append(call(proto::AppendRequest {
                        events: vec![teacher_registered(
                            &name,
                            &name,
                            &format!("S{:04}", i % 400),
                        )],
                        request_id: format!("lag-{c}-{i}"),
                        expected_size: None,
                    }))
                    .await
                    .map_err(|s| CliError(format!("append: {}", s.message())))?
                    .into_inner();
                let at = Instant::now();
                let took = at.duration_since(sent).as_nanos() as u64;
                if let (Some(seq), Ok(mut a)) = (r.seqs.first(), acked.lock()) {
                    a.push((*seq, at, took));
                }
                i += 1;
            }
            Ok::<(), CliError>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| CliError(e.to_string()))??;
    }
    let acked = std::mem::take(&mut *acked.lock().map_err(|_| CliError("poisoned".into()))?);
    let last = acked.iter().map(|(s, _, _)| *s).max().unwrap_or(from);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if arrived
            .lock()
            .map(|a| a.contains_key(&last))
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watcher.abort();
    let arrived = arrived.lock().map_err(|_| CliError("poisoned".into()))?;
    let mut lag = Vec::with_capacity(acked.len());
    let mut missing = 0;
    for (seq, at, _) in &acked {
        match arrived.get(seq) {
            // An entry can reach the mirror's subscribers before its append's answer reaches
            // the client: no lag then.
            Some(t) => lag.push(t.saturating_duration_since(*at).as_nanos() as u64),
            None => missing += 1,
        }
    }
    let took = acked.iter().map(|(_, _, t)| *t).collect();
    Ok((acked.len() as u64, lag, missing, took))
}

/// `n` teacher histories (teachers of the fill, spread over it), one at a time; ns each.
async fn histories(c: &Connect, n: usize, filled: u64) -> Result<Vec<u64>, CliError> {
    let mut q = c.query().await?;
    let teachers = filled.saturating_sub(schools().len() as u64).max(1);
    let mut lat = Vec::with_capacity(n);
    for k in 0..n as u64 {
        let t = teacher((k * 7919) % teachers);
        let started = Instant::now();
        q.teacher_history(call(proto::TeacherHistoryRequest {
            teacher: t.clone(),
            ..Default::default()
        }))
        .await
        .map_err(|s| CliError(format!("history of {t}: {}", s.message())))?;
        lat.push(started.elapsed().as_nanos() as u64);
    }
    Ok(lat)
}

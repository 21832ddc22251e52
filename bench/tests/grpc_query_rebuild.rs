//! `rotaledger-bench grpc`, `query` and `rebuild` end to end through the real binary,
//! with tiny settings: every scenario is listed, ran, did real work and nothing failed. What
//! they measure is never asserted (no timing in tests).

use crate::util::{run_program, run_rotaledger};

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let (code, out, err) = run_program(std::path::Path::new(crate::util::bench_bin()), args);
    (Some(code), out, err)
}

/// Every client count x events per request is a scenario with the three paths; every append
/// acknowledged by a client is one the store counted (entries = appends x events), the floors
/// did work, nothing failed, and the temporary data directories are gone afterwards.
#[test]
fn bench_grpc_runs_every_scenario_with_both_floors() {
    let parent = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&[
        "grpc",
        "--clients",
        "1,3",
        "--events-per-request",
        "1,5",
        "--seconds",
        "1",
        "--dir",
        parent.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let scenarios = r["scenarios"].as_array().unwrap();
    let mut seen = Vec::new();
    for s in scenarios {
        let (clients, per) = (
            s["clients"].as_u64().unwrap(),
            s["events_per_request"].as_u64().unwrap(),
        );
        seen.push((clients, per));
        let ours = &s["ours"];
        let appends = ours["ops"].as_u64().unwrap();
        assert!(appends > 0, "{s}");
        assert_eq!(ours["entries"].as_u64().unwrap(), appends * per, "{s}");
        assert!(ours["commits"].as_u64().unwrap() > 0, "{s}");
        assert!(s["appends_per_commit"].as_f64().unwrap() >= 1.0, "{s}");
        assert!(ours["p50_ms"].as_f64().unwrap() <= ours["max_ms"].as_f64().unwrap());
        assert_eq!(s["errors"], 0, "{s}");
        assert!(s["rpc_floor"]["ops"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["rpc_errors"], 0, "{s}");
        let floor = &s["disk_floor"];
        assert!(floor["ops"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(
            floor["entries"].as_u64().unwrap(),
            floor["ops"].as_u64().unwrap() * per,
            "{s}"
        );
        assert!(s["floor_payload_bytes"].as_u64().unwrap() > 100, "{s}");
    }
    assert_eq!(seen, [(1, 1), (3, 1), (1, 5), (3, 5)]);
    assert!(r["first_errors"].as_array().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);

    // The table names the three paths of the scenario; two clients may share a connection.
    let (code, out, err) = run(&[
        "grpc",
        "--clients",
        "2",
        "--connections",
        "1",
        "--events-per-request",
        "2",
        "--seconds",
        "0.5",
        "--dir",
        parent.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    for path in ["ours", "rpc floor", "disk floor"] {
        assert!(out.lines().any(|l| l.contains(path)), "{path}: {out}");
    }
    let ours = out.lines().find(|l| l.contains("ours")).unwrap();
    let cols: Vec<&str> = ours.split_whitespace().collect();
    assert_eq!(cols[..4], ["2", "1", "2", "ours"], "{out}");
}

/// Out-of-range flags are refused before anything starts: exit 2.
#[test]
fn bench_grpc_refuses_bad_flags() {
    for bad in [
        &["--events-per-request", "0"][..],
        &["--events-per-request", "1001"],
        &["--clients", "0"],
        &["--seconds", "0"],
    ] {
        let mut args = vec!["grpc"];
        args.extend_from_slice(bad);
        let (code, _, err) = run(&args);
        assert_eq!(code, Some(2), "{bad:?}: {err}");
    }
}

/// A small ledger is built in --data, then every query x path x load row is measured with
/// nonzero rates and no error, appends run under load; a second run reuses the ledger (with
/// this run's appends in it) and the ledger still verifies.
#[test]
fn bench_query_builds_measures_and_reuses_a_ledger() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("ledger");
    let data_s = data.to_str().unwrap();
    let args = [
        "query",
        "--entries",
        "3000",
        "--batch",
        "500",
        "--seconds",
        "0.3",
        "--appenders",
        "2",
        "--data",
        data_s,
        "--json",
    ];
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["built"], true);
    assert_eq!(r["entries"], 3000);
    assert!(r["teachers"].as_u64().unwrap() > 300, "{r}");
    assert!(r["strong_schools"].as_u64().unwrap() > 0, "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "{out}");
    for query in ["history", "eligibility", "quota"] {
        for path in ["in-process", "grpc"] {
            for load in [false, true] {
                let row = rows
                    .iter()
                    .find(|x| x["query"] == query && x["path"] == path && x["under_load"] == load)
                    .unwrap_or_else(|| panic!("no row {query} {path} {load}: {out}"));
                assert!(row["queries"]["ops"].as_u64().unwrap() > 0, "{row}");
                assert_eq!(row["errors"], 0, "{row}");
                assert_eq!(row["append_errors"], 0, "{row}");
                if load {
                    assert!(row["appends"]["ops"].as_u64().unwrap() > 0, "{row}");
                } else {
                    assert!(row["appends"].is_null(), "{row}");
                }
            }
        }
    }
    let appended: u64 = rows
        .iter()
        .filter_map(|x| x["appends"]["ops"].as_u64())
        .sum();

    // Reused: nothing built, this run's appends are in the log, the table lists every row.
    let mut again = args.to_vec();
    again.pop();
    let (code, out, err) = run(&again);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("{} entries", 3000 + appended)),
        "{out}"
    );
    assert!(out.contains("reused"), "{out}");
    for query in ["history", "eligibility", "quota"] {
        let n = out
            .lines()
            .filter(|l| l.starts_with(query) && !l.contains("error"))
            .count();
        assert_eq!(n, 4, "{query}: {out}");
    }
    let (code, out, err) = run_rotaledger(&["verify", "--data", data_s]);
    assert_eq!(code, 0, "{out}{err}");
}

/// `rebuild` fills a ledger (in a process of its own), measures the full-check reopen
/// and the restart from the snapshot it wrote, each in a fresh process, and removes the
/// ledger afterwards, or keeps it with --keep, to be measured again with --existing.
#[test]
fn bench_rebuild_fills_measures_both_reopens_and_cleans_up() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().to_str().unwrap();
    // Three filling processes, each continuing where the last stopped (mid-teacher, too):
    // the full check that follows replays every entry through the rules and verifies it.
    let (code, out, err) = run(&[
        "rebuild",
        "--entries",
        "2500",
        "--dir",
        dir,
        "--fill-per-process",
        "1001",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    for line in [
        "filled 0..1001: 1001 entries",
        "filled 1001..2002: 1001 entries",
        "filled 2002..2500: 498 entries",
        "filled 2500 entries in",
        "3 processes",
    ] {
        assert!(err.contains(line), "no {line:?} in:\n{err}");
    }
    for line in [
        "rebuild of 2500 entries",
        "reopen, full check (replay all)",
        "restart from the state snapshot",
        "2500 entries",
        "0 replayed",
        "after open (Verified)",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the ledger was left behind"
    );

    let (code, out, err) = run(&["rebuild", "--entries", "1200", "--dir", dir, "--keep"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let kept = parent.path().join("rebuild-ledger");
    assert!(kept.join("state.snapshot").exists(), "{err}");
    let (code, out, err) = run(&[
        "rebuild",
        "--existing",
        kept.to_str().unwrap(),
        "--from-snapshot",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("snapshot of 1200 entries"), "{out}");
    // A fill needs somewhere new to go.
    let (code, _, err) = run(&["rebuild", "--entries", "10", "--dir", dir, "--keep"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("already exists"), "{err}");
}

/// `rotaledger-bench state` folds the entries asked for and reports the three sizes, each a
/// positive number of bytes per entry; no entries is refused.
#[test]
fn bench_state_reports_the_state_next_to_its_floors() {
    let (code, out, err) = run(&["state", "--entries", "3000"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with("state of 3000 entries (365 teachers)"),
        "{out}"
    );
    for what in [
        "resident memory of the state",
        "the entries' JSON",
        "its snapshot encoding",
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {out}"));
        let per_entry: f64 = line
            .split_whitespace()
            .rev()
            .nth(3)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no bytes per entry in {line:?}"));
        assert!(per_entry > 0.0, "{line}");
    }
    let (code, _, err) = run(&["state", "--entries", "0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--entries"), "{err}");
}

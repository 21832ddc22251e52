//! `rotaledger-bench server` through the real binaries: a one-second run per scenario against
//! a real `rotaledger serve` process, every scenario answered calls, the server's CPU was read,
//! the log holds exactly what was acknowledged, and the scratch directory is gone afterwards.

use std::process::Command;

use crate::util::{bench_bin, bench_json};

#[test]
fn server_bench_drives_a_real_serve_process_through_every_scenario() {
    let parent = tempfile::tempdir().unwrap();
    let r = bench_json(&["server", "--seconds", "1", "--json"], parent.path());
    let scenarios = r["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "get_head_64",
            "append_1_event_1_client",
            "append_1_event_64_clients",
            "append_100_events_16_clients"
        ]
    );
    let mut events = 0;
    for s in scenarios {
        let calls = s["calls"]["ops"].as_u64().unwrap();
        assert!(calls > 0, "{s}");
        assert_eq!(s["errors"], 0, "{s}");
        let per = s["events_per_request"].as_u64().unwrap();
        assert_eq!(s["calls"]["entries"].as_u64().unwrap(), calls * per, "{s}");
        events += calls * per;
        assert!(s["server_cpu_seconds"].as_f64().unwrap() > 0.0, "{s}");
        assert!(
            s["server_cpu_us_per_request"].as_f64().unwrap() > 0.0,
            "{s}"
        );
        assert!(s["requests_per_s"].as_f64().unwrap() > 0.0, "{s}");
        assert!(s["calls"]["p50_ms"].as_f64().unwrap() <= s["calls"]["p99_ms"].as_f64().unwrap());
        if s["rpc"] == "Ledger.Append" {
            assert!(s["server_cpu_us_per_event"].as_f64().unwrap() > 0.0, "{s}");
        } else {
            assert!(s["server_cpu_us_per_event"].is_null(), "{s}");
        }
    }
    // 400 schools and 50 groups first, then every acknowledged event, and nothing else.
    assert_eq!(r["setup_entries"], 450);
    assert_eq!(r["acknowledged_entries"].as_u64().unwrap(), 450 + events);
    assert_eq!(r["log_size"], r["acknowledged_entries"]);
    assert_eq!(r["server_stopped_cleanly"], true);
    assert!(r["fdatasync"]["ops"].as_u64().unwrap() > 0);
    let ratios = &r["ratios"];
    for k in [
        "append_64_rate_vs_get_head",
        "append_cpu_vs_get_head_cpu",
        "batch_cpu_us_per_event",
        "batch_events_per_s",
        "append_64_p99_ms",
        "append_1_p50_vs_fdatasync_p50",
    ] {
        assert!(ratios[k].as_f64().unwrap() > 0.0, "{k}: {ratios}");
    }
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}

/// Bad flags and a missing server binary are refused before anything starts: exit 2.
#[test]
fn server_bench_refuses_bad_flags_and_a_missing_binary() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["server".to_owned(), "--seconds".into(), "0".into()],
        vec![
            "server".to_owned(),
            "--server-bin".into(),
            dir.path().join("no-such-binary").display().to_string(),
            "--dir".into(),
            dir.path().display().to_string(),
        ],
    ] {
        let out = Command::new(bench_bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

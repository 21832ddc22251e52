//! `rotaledger-bench soak` end to end through the real binary: a short run under mixed load
//! ends with a verdict that holds, every kind of operation done, and its store removed.

use std::process::Command;

use crate::util::{bench_bin, bench_json};

/// A three-second soak: exit 0, the JSON verdict and each of its parts hold, every operation
/// kind ran, subscribers received every entry, and the temporary store is gone afterwards.
#[test]
fn short_soak_passes_and_reports_every_operation() {
    let parent = tempfile::tempdir().unwrap();
    let r = bench_json(
        &["soak", "--seconds", "3", "--teachers", "200", "--json"],
        parent.path(),
    );
    assert_eq!(r["verdict"], true);
    assert_eq!(r["errors"], 0);
    assert_eq!(r["subscribers_in_order"], true);
    assert_eq!(r["log_verifies"], true);
    assert_eq!(r["rss_bounded"], true);
    let entries = r["log_entries"].as_u64().unwrap();
    assert!(entries > 0);
    let rows = r["rows"].as_array().unwrap();
    for kind in [
        "append_ordered",
        "append_registry",
        "history",
        "eligibility",
        "quota",
        "terms",
    ] {
        let row = rows.iter().find(|x| x["kind"] == kind).unwrap();
        assert!(row["count"].as_u64().unwrap() > 0, "{kind} never ran");
        assert_eq!(row["errors"], 0, "{kind}");
        assert!(row["p50_ms"].as_f64().unwrap() <= row["max_ms"].as_f64().unwrap());
    }
    // Two subscribers (the default), each received every entry of the log.
    let sub = rows
        .iter()
        .find(|x| x["kind"] == "subscribe_entry")
        .unwrap();
    assert_eq!(sub["count"].as_u64().unwrap(), 2 * entries);
    assert!(r["rss_start_kib"].as_u64().unwrap() > 0);
    // A fresh server over the same log was started and measured, and the bound derives from it.
    let fresh = r["rss_fresh_kib"].as_u64().unwrap();
    assert!(fresh > 0);
    assert!(r["rss_bound_kib"].as_u64().unwrap() > fresh);
    assert!(r["rss_end_kib"].as_u64().unwrap() <= r["rss_bound_kib"].as_u64().unwrap());
    assert!(!r["samples"].as_array().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0);
}

/// Out-of-range flags are refused before anything starts: exit 2.
#[test]
fn soak_refuses_zero_seconds() {
    let out = Command::new(bench_bin())
        .args(["soak", "--seconds", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seconds"));
}

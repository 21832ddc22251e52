//! `rotaledger-bench mirror` through the real binaries, tiny: a filled primary and its
//! mirror, then two fresh pairs (an asynchronous and a `--sync-mirrors 1` primary, each with a
//! mirror); every appended entry reached its mirror and the filled pair ended the same.

use std::process::Command;

use crate::util::{bench_bin, server_bin};

#[test]
fn mirror_bench_runs_both_pairs_and_loses_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let out = Command::new(bench_bin())
        .args([
            "mirror",
            "--entries",
            "2000",
            "--seconds",
            "1",
            "--queries",
            "20",
            "--json",
        ])
        .arg("--dir")
        .arg(parent.path())
        .arg("--server-bin")
        .arg(server_bin())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["entries"], 2000, "{r}");
    assert_eq!(r["same_head"], true, "{r}");
    assert_eq!(r["lag_missing"], 0, "{r}");
    assert!(r["load_appends"].as_u64().unwrap() > 0, "{r}");
    for pair in ["fresh_async", "fresh_sync"] {
        assert!(r[pair]["appends"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r[pair]["lag_missing"], 0, "{r}");
        assert!(
            r[pair]["primary_cpu_us_per_append"].as_f64().unwrap() > 0.0,
            "{r}"
        );
    }
    assert_eq!(r["fresh_sync"]["flags"][0], "--sync-mirrors", "{r}");
    assert_eq!(r["query_mirror"]["count"], 20, "{r}");
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the scratch directory is removed"
    );
}

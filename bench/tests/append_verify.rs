//! `rotaledger-bench append` and `verify` as a user runs them: both run end to end, and
//! `verify --keep` leaves a store the product's `rotaledger verify` accepts.

use crate::util::{run, run_rotaledger};

/// The benchmarks run end to end (what they print is measured, not asserted), and
/// `verify --keep` leaves a store the other commands accept.
#[test]
fn bench_commands_run_and_keep_a_verifiable_store() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept");
    let kept_s = kept.to_str().unwrap();
    let (code, out, err) = run(&[
        "verify",
        "--entries",
        "250",
        "--fill-batch",
        "100",
        "--runs",
        "1",
        "--keep",
        kept_s,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("250 entries"), "{out}");
    let (code, out, err) = run_rotaledger(&["verify", "--data", kept_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("250 entries"), "{out}");
    // --keep refuses a directory that exists.
    let (code, _, err) = run(&["verify", "--entries", "1", "--keep", kept_s]);
    assert_eq!(code, 2, "{err}");

    let parent = dir.path().to_str().unwrap();
    let (code, out, err) = run(&[
        "append",
        "--appenders",
        "1,3",
        "--entries-per-append",
        "2",
        "--appends",
        "12",
        "--rounds",
        "1",
        "--seconds",
        "30",
        "--dir",
        parent,
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2, "{out}");
    for s in scenarios {
        // Bounded by --appends: every appender stops once 12 appends were taken.
        assert_eq!(s["writer"]["ops"], 12, "{s}");
        assert_eq!(s["writer"]["entries"], 24, "{s}");
        let floor_ops = s["floor"]["ops"].as_u64().unwrap();
        assert!((12..12 + 3).contains(&floor_ops), "{s}");
    }
    // The temporary stores are removed; only the kept one is left.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

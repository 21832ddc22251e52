//! `rotaledger-bench mirror` through the real binaries, tiny: a filled primary and its
//! mirror, then two fresh pairs (an asynchronous and a `--sync-mirrors 1` primary, each with a
//! mirror); every appended entry reached its mirror and the filled pair ended the same.

use crate::util::bench_json;

#[test]
fn mirror_bench_runs_both_pairs_and_loses_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let r = bench_json(
        &[
            "mirror",
            "--entries",
            "2000",
            "--seconds",
            "1",
            "--queries",
            "20",
            "--json",
        ],
        parent.path(),
    );
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

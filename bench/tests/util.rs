//! Helpers shared by the benchmarks' tests.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The benchmark binary under test.
pub fn bench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_rotaledger-bench")
}

/// The product binary beside it (`cargo test` at the workspace's top builds both into the
/// same directory).
pub fn server_bin() -> PathBuf {
    let p = std::path::Path::new(bench_bin()).with_file_name("rotaledger");
    assert!(
        p.is_file(),
        "{} is missing: run `cargo test` at the workspace's top (or `cargo build -p rotaledger` \
         first), which builds both binaries",
        p.display()
    );
    p
}

/// Runs `program ARGS...` and returns its exit code (-1 if killed), stdout and stderr. A
/// store a process just closed may still be locked for a moment (sled releases its file
/// lock with its deferred garbage), so a run refused for that lock is retried for 10 s.
pub fn run_program(program: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new(program).args(args).output().unwrap();
        let result = (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        if result.0 == 2 && result.2.contains("could not acquire lock") && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        return result;
    }
}

/// Runs `rotaledger-bench ARGS...`.
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_program(std::path::Path::new(bench_bin()), args)
}

/// Runs the product's `rotaledger ARGS...`.
pub fn run_rotaledger(args: &[&str]) -> (i32, String, String) {
    run_program(&server_bin(), args)
}

/// Runs `rotaledger-bench ARGS... --dir DIR --server-bin <the product binary>`, which must
/// exit 0 (else its output is shown), and returns the JSON it printed (`ARGS` ask `--json`).
pub fn bench_json(args: &[&str], dir: &std::path::Path) -> serde_json::Value {
    let out = Command::new(bench_bin())
        .args(args)
        .arg("--dir")
        .arg(dir)
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
    serde_json::from_str(&stdout).unwrap()
}

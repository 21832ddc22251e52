//! The benchmarks' test binary: every benchmark runs end to end through the real
//! `rotaledger-bench` binary with tiny settings, and did real work. What they measure is
//! never asserted (no timing in tests).

mod util;

/// `append` and `verify`: both run, and `verify --keep` leaves a store `rotaledger` accepts.
mod append_verify;
/// `grpc`, `query` and `rebuild`: every scenario runs, nothing fails.
mod grpc_query_rebuild;
/// `mirror`: an asynchronous and a synchronous primary, each with a mirror, nothing lost.
mod mirror;
/// `server`: a real `rotaledger serve` process driven through every scenario, CPU read.
mod server;
/// `soak`: a short mixed-load run ends with a holding verdict.
mod soak;

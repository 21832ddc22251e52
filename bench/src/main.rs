//! `rotaledger-bench`: the benchmarks of rotaledger, a binary of their own beside the product's
//! `rotaledger`, driving only the library's public API (and, for `server`, the real
//! `rotaledger serve` binary in a process of its own).
//!
//! Every figure is measured next to its floor in the same run, so it comes with what the
//! machine itself could do. These are benchmarks, never tests: nothing here asserts a speed.
//! Results and the commands that produced them go in `docs/BENCHMARKS.md`.
//!
//! Exit codes: 0 done, 1 a measured call failed or a verdict does not hold (the output says
//! which), 2 the benchmark could not run.

mod append;
mod grpc;
mod measure;
mod mirror;
mod proofs;
mod query;
mod rebuild;
mod serve_proc;
mod server;
mod soak;
mod state_memory;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use rotaledger::cli::{CliError, Outcome};

/// rotaledger-bench: throughput and latency of rotaledger, each next to its floor measured in
/// the same run (docs/BENCHMARKS.md).
///
/// Exit codes: 0 done, 1 a measured call failed or a verdict does not hold, 2 could not run.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    which: BenchCommand,
}

/// The benchmarks. New ones are added as further variants (`rotaledger-bench <name>`).
#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Durable appends/s and p50/p99 latency through the group-commit writer, next to the raw
    /// floor measured in the same run.
    ///
    /// For every combination of --appenders and --entries-per-append: (1) the writer: that
    /// many threads append in a closed loop on a fresh store, each append acknowledged only
    /// once durable; (2) the floor: one thread does the same storage work directly on sled
    /// (insert + flush + fdatasync, as many appends per commit as the writer achieved), with no
    /// writer, no hashing, no JSON. Before them, plain fdatasync rates (4 KiB overwritten in
    /// place, and 4 KiB appended, + fdatasync). Each measurement stops after --seconds or
    /// --appends, whichever comes first, and runs --rounds times (writer and floor
    /// alternating); the median round is reported.
    ///
    /// Stores are created in a fresh directory under --dir (default: the system temporary
    /// directory) and removed afterwards. It must be on the disk being measured: on tmpfs
    /// fdatasync costs nothing and the figures mean nothing.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 2 could
    /// not run.
    Append(AppendArgs),
    /// Full chain verification rate of a store of --entries entries, next to a raw sled scan
    /// and the raw hash `H` over the same stored bytes, measured in the same run. (Every
    /// benchmark's new stores take the crypto profile of ROTALEDGER_CRYPTO: blake3 by default,
    /// `gm` for SM3/SM2; `H` is the profile's hash.)
    ///
    /// Fills a fresh store through the writer (synthetic event-like payloads), reopens it,
    /// then times --runs passes of each: `verify` (scan + decode + every hash, link and the
    /// Merkle root), the bare sled scan, and `H` of every stored value held in memory. The
    /// median pass is reported. The OS page cache is warm: this is the CPU cost of
    /// verification, not a cold-disk read.
    ///
    /// With --keep DIR the filled store is left in DIR (which must not exist yet), e.g. for
    /// `rotaledger export --data DIR`. Prints a table on stdout (or JSON with --json). Exit 0
    /// done, 1 the filled store did not verify, 2 could not run.
    Verify(VerifyArgs),
    /// Inclusion and consistency proofs, past roots and checkpoints on a store of --entries
    /// entries, next to a raw sled node read and one `H` node hash measured in the same run
    /// (checkpoints signed with Ed25519, or SM2 in the gm profile).
    Proofs(ProofsArgs),
    /// Rebuild of the domain state on open: reopen time, replay rate and peak RSS of a
    /// ledger of --entries realistic domain entries, with a full replay and with the state
    /// snapshot, next to a raw sled scan and a serde_json parse of the same entries measured
    /// in the same run.
    ///
    /// Fills a fresh ledger through the real `Ledger` (schools, groups, then per teacher:
    /// registered, dispatched, evaluated three times, returned, promoted), in appends of
    /// --batch events, with a progress bar on stderr, and closes it gracefully, in a process
    /// of its own. Then, each in a fresh process (so the fill's memory is neither counted nor
    /// held while measuring): one reopen with the full check
    /// (head check, Merkle frontier, replay and verification of every entry), after which it
    /// writes a state snapshot and times that; and one restart from that snapshot (snapshot
    /// read, position check, decode), with the time the background check of the older
    /// entries then takes. Peak RSS (`VmHWM`) after each. The store is created under --dir
    /// (default: the system temporary directory) and removed afterwards.
    /// Exit 0 done, 2 could not run.
    Rebuild(RebuildArgs),
    /// Resident memory of the domain state per entry, folded in process (no store) from
    /// --entries of `rebuild`'s entries, next to their JSON size and the state's snapshot
    /// encoding measured in the same run.
    State(state_memory::StateArgs),
    /// Minutes of mixed load on an in-process server over loopback, with a verdict.
    ///
    /// Starts a real server on 127.0.0.1:0 over a fresh store (under --dir, default the system
    /// temporary directory, removed afterwards) and for --seconds runs: one writer sending a
    /// generated district's append requests in order (then fresh school registrations), the
    /// other writers registering fresh schools concurrently, readers looping over Query RPCs
    /// (teacher history, eligibility, a strong school's quota, terms by school), and
    /// subscribers following Audit.Subscribe from 0, checking every entry arrives in order
    /// with no gap. Every second it samples RSS (`VmRSS`), operations and errors. Then it
    /// shuts the server down gracefully, verifies the whole log offline, and measures the RSS
    /// of a fresh `rotaledger serve` over the same store (what holding this log costs).
    ///
    /// Prints a table (per operation: count, errors, p50, p99, max), RSS at start, after one
    /// minute, at the end and the maximum, the fresh server's RSS, the log's size and a
    /// verdict (or JSON with --json): no errors, subscribers in order, the log verifies, and
    /// the end RSS within 1.5x the fresh server's + 128 MiB. Exit 0 the verdict holds, 1 it
    /// does not, 2 could not run.
    Soak(soak::SoakArgs),
    /// Durable appends over gRPC on loopback from 1, 16 and 64 clients, next to an RPC floor
    /// and the disk floor measured in the same run.
    ///
    /// For every combination of --clients and --events-per-request, on a fresh ledger (under
    /// --dir, default the system temporary directory, removed afterwards) with 400 schools
    /// registered: (1) ours: a real server on 127.0.0.1:0 and that many tonic clients, each
    /// on its own HTTP/2 connection (or sharing --connections of them), appending fresh teacher registrations in a closed loop
    /// (every append judged by the rules, acknowledged once durable, with its receipt); (2)
    /// the RPC floor: Ledger.GetHead from as many clients on the same server; (3) the disk
    /// floor: sled insert + flush + fdatasync by one thread with as many appends per commit as
    /// the server achieved (`rotaledger-bench append`'s floor). Each runs for --seconds.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 1 a
    /// call failed (the output says which), 2 could not run.
    Grpc(grpc::GrpcArgs),
    /// Latency of the teacher history, eligibility and school quota queries on a large ledger
    /// (--entries, default 1,000,000), idle and under concurrent appends, over gRPC and
    /// in-process.
    ///
    /// Builds the ledger through the real `Ledger` (`rotaledger-bench rebuild`'s filler, untimed, with a
    /// progress bar) or reuses the one in --data, opens it, then for each query measures for
    /// --seconds: in-process calls (the floor without gRPC), idle and while --appenders tasks
    /// append single events through the ledger; then the Query RPCs from tonic clients on a
    /// real server over the same ledger, idle and while --appenders clients append over gRPC.
    /// Random existing teachers; schools strong in --school-year.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 1 a
    /// query or append failed, 2 could not run.
    Query(query::QueryArgs),
    /// A real `rotaledger serve` process driven from this one: rate, latency and the server's
    /// CPU per request (from /proc/PID/stat) for GetHead at 64 clients, single-event appends
    /// at 1 and 64 clients and 100-event appends at 16 clients, with the fdatasync floor and
    /// the ratios of the append path's targets, measured in the same run.
    ///
    /// Starts `--server-bin` (default: the `rotaledger` beside this program; build both with
    /// `cargo build --release --workspace`) as `serve --listen 127.0.0.1:0 --http off` on a
    /// fresh data directory under --dir (default: the system temporary directory; removed
    /// afterwards), with an access file holding one writer token, its log at the default
    /// level (or RUST_LOG's) written to a file beside the data. Registers 400 schools (and 50
    /// education groups), then runs each scenario for --seconds with every client on its own
    /// HTTP/2 connection; every appended event is a fresh teacher's registration judged by
    /// the rules. At the end the
    /// log must hold exactly the acknowledged entries and the server must stop cleanly on
    /// SIGTERM.
    ///
    /// Prints a table on stdout (or JSON with --json); progress on stderr. Exit 0 done, 1 a
    /// call failed, the log does not hold what was acknowledged or the server did not stop
    /// cleanly, 2 could not run.
    Server(server::ServerArgs),
    /// A primary and a `serve --follow` mirror, two real `rotaledger serve` processes on
    /// loopback: the primary filled with --entries, the floor of its own whole-log
    /// verification (Audit.Verify), the mirror's catch-up from an empty directory (rate, CPU),
    /// the lag from an append's answer on the primary to its entry's arrival from the mirror
    /// under 64 clients of single-event appends for --seconds, and teacher-history latency
    /// on each. Scratch directory under --dir, removed afterwards.
    ///
    /// Prints a table (or JSON with --json); exit 1 if the logs differ at the end or an
    /// acknowledged entry never reached the mirror.
    Mirror(mirror::MirrorArgs),
}

/// Flags of `rotaledger-bench rebuild`.
#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// Entries in the ledger to rebuild.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Events per append while filling (at most 1000, the ledger's limit).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Parent directory of the temporary ledger [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Measure the ledger already in this directory instead (no fill; left in place).
    #[arg(long, conflicts_with = "dir")]
    pub existing: Option<PathBuf>,
    /// Keep the filled ledger (in --dir, as `rebuild-ledger`) instead of removing it, so
    /// later builds can be measured on the same entries with --existing.
    #[arg(long, requires = "dir")]
    pub keep: bool,
    /// With --existing: measure only the restart from the state snapshot (without it: only
    /// the full replay, then write a snapshot).
    #[arg(long, requires = "existing")]
    pub from_snapshot: bool,
    /// Entries each filling process appends before it exits and the next one continues the
    /// ledger (after restarting it from its snapshot). A process holds the state it builds,
    /// about 360 bytes per entry, plus sled's cache; lower this on a machine with less memory
    /// than that state.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub fill_per_process: u64,
    /// Internal: fill the ledger in this directory up to --entries and exit (the fill runs in
    /// processes of its own, so the memory they leave behind does not count against the
    /// measurements).
    #[arg(long, hide = true, conflicts_with_all = ["dir", "existing"])]
    pub fill_into: Option<PathBuf>,
}

/// Flags of `rotaledger-bench proofs`.
#[derive(Args, Debug)]
pub struct ProofsArgs {
    /// Entries in the store.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Random samples measured per operation.
    #[arg(long, default_value_t = 10_000)]
    pub samples: usize,
    /// Entries per append while filling.
    #[arg(long, default_value_t = 1000)]
    pub batch: u64,
    /// Use (and fill up to --entries) this store instead of a temporary one.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Flags of `rotaledger-bench append`.
#[derive(Args, Debug)]
pub struct AppendArgs {
    /// Concurrent appenders (threads), comma-separated: one scenario per value.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub appenders: Vec<usize>,
    /// Entries per append, comma-separated: one scenario per value.
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    pub entries_per_append: Vec<usize>,
    /// Longest duration of each measurement, in seconds.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Rounds of every measurement (writer and floor alternating); the median round by
    /// throughput is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Most appends (fdatasync floor: syncs) in each measurement (0: bounded by --seconds only).
    #[arg(long, default_value_t = 0)]
    pub appends: u64,
    /// Size of each entry's payload in bytes (a JSON object padded to about this size).
    #[arg(long, default_value_t = 200)]
    pub payload_bytes: usize,
    /// Parent directory of the temporary stores [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `rotaledger-bench verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Entries in the store to verify.
    #[arg(long, default_value_t = 100_000)]
    pub entries: u64,
    /// Entries per append while filling the store.
    #[arg(long, default_value_t = 1000)]
    pub fill_batch: u64,
    /// Size of each entry's payload in bytes (a JSON object padded to about this size).
    #[arg(long, default_value_t = 200)]
    pub payload_bytes: usize,
    /// Timed passes of each measurement; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Leave the filled store in this directory (it must not exist yet) instead of removing it.
    #[arg(long, conflicts_with = "dir")]
    pub keep: Option<PathBuf>,
    /// Parent directory of the temporary store [default: the system temporary directory].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs one benchmark.
fn run(cmd: BenchCommand) -> Result<Outcome, CliError> {
    match cmd {
        BenchCommand::Append(a) => append::run(&a),
        BenchCommand::Verify(v) => verify::run(&v),
        BenchCommand::Proofs(p) => proofs::run(p.entries, p.samples, p.batch, p.dir.as_deref()),
        BenchCommand::Rebuild(r) => rebuild::run(&r),
        BenchCommand::Soak(s) => soak::run(&s),
        BenchCommand::State(a) => state_memory::run(&a),
        BenchCommand::Grpc(g) => grpc::run(&g),
        BenchCommand::Query(q) => query::run(&q),
        BenchCommand::Server(a) => server::run(&a),
        BenchCommand::Mirror(a) => mirror::run(&a),
    }
}

/// The product binary's allocator (see its `src/main.rs`), so that what this process measures
/// in itself (the state, a restart, a replay) is what the server would see.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.which) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problem) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

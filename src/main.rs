//! The `rotaledger` binary: parses the command line and calls into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rotaledger::cli::{self, CliError, Outcome};

/// rotaledger: the tamper-evident ledger of teacher rotation (教师交流轮岗).
///
/// Exit codes: 0 success, 1 a problem was found (e.g. the log does not verify), 2 the command
/// could not run.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify the hash chain of a store (offline; no server may hold it) or of an export.
    ///
    /// Reports the first bad entry and what is wrong with it. Exit 0 verified, 1 bad, 2 could
    /// not run.
    Verify {
        /// Data directory of a store no server is using.
        #[arg(long, conflicts_with = "export", required_unless_present = "export")]
        data: Option<PathBuf>,
        /// An export file written by `rotaledger export`.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Export a store as JSON Lines carrying the exact hashed bytes (offline).
    Export {
        /// Data directory of a store no server is using.
        #[arg(long, default_value = "rotaledger-data")]
        data: PathBuf,
        /// The file to write (written under a temporary name, renamed when complete).
        #[arg(long)]
        out: PathBuf,
    },
    /// Offline audit: verify exports, proofs and checkpoints with no server; produce them
    /// from a store no server holds.
    Audit {
        #[command(subcommand)]
        command: cli::audit::AuditCommand,
    },
    /// Benchmarks (results go to docs/BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Inclusion/consistency proofs, past roots and checkpoints on a store of many entries.
    Proofs {
        /// Entries in the store.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Random samples measured per operation.
        #[arg(long, default_value_t = 10_000)]
        samples: usize,
        /// Entries per append while filling.
        #[arg(long, default_value_t = 1000)]
        batch: u64,
        /// Use (and fill up to --entries) this store instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result: Result<Outcome, CliError> = match args.command {
        Command::Verify { data, export } => match (data, export) {
            (Some(d), _) => cli::offline::verify_data(&d),
            (None, Some(f)) => cli::offline::verify_export_file(&f),
            (None, None) => Err(CliError("give --data DIR or --export FILE".into())),
        },
        Command::Export { data, out } => cli::offline::export(&data, &out),
        Command::Audit { command } => cli::audit::run(command),
        Command::Bench { command } => match command {
            BenchCommand::Proofs {
                entries,
                samples,
                batch,
                dir,
            } => cli::bench_proofs::run(entries, samples, batch, dir.as_deref()),
        },
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Problem) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

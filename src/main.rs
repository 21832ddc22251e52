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
    /// Write a synthetic district shaped like Minhang and years of rotation activity as JSON
    /// Lines of append requests (see docs/GENERATE.md).
    ///
    /// Exit 0 written (and, with --check, every line accepted), 1 the ledger refused a line,
    /// 2 could not run.
    Generate {
        /// Teachers at the start (about 400 schools per 15,000 teachers).
        #[arg(long, default_value_t = 15_000)]
        teachers: u32,
        /// School years of activity.
        #[arg(long, default_value_t = 5)]
        years: u32,
        /// Seed of every random choice: the same seed writes the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The first school year.
        #[arg(long, default_value_t = 2023)]
        first_year: i32,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Then append every line through a ledger in a scratch store and count refusals.
        #[arg(long)]
        check: bool,
        /// The (empty) directory for --check's store; default a temporary one, removed after.
        #[arg(long, requires = "check")]
        check_dir: Option<PathBuf>,
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
        Command::Generate {
            teachers,
            years,
            seed,
            first_year,
            out,
            check,
            check_dir,
        } => {
            let config = rotaledger::generate::Config {
                teachers,
                years,
                seed,
                first_year,
                ..Default::default()
            };
            cli::generate::run(&config, &out, check, check_dir.as_deref())
        }
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

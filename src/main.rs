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
    /// Checks every entry in order: its position, its hash, its link to the entry before, its
    /// body; then that the log ends where the head (or the export's header) says, with the
    /// head's hash and Merkle root. The rules are in docs/FORMAT.md.
    ///
    /// Prints `verified: ... N entries, head <hash>` or `BAD: ... first bad entry <seq>: <what
    /// is wrong>`. Exit 0 verified, 1 bad (the output names the first bad entry), 2 could not
    /// run (no store, store in use, not an export, I/O error).
    Verify {
        /// Data directory of a store no server is using. Give this, --export or --server.
        #[arg(long, conflicts_with_all = ["export", "server"], required_unless_present_any = ["export", "server"])]
        data: Option<PathBuf>,
        /// An export file written by `rotaledger export`. Give this, --data or --server.
        #[arg(long, conflicts_with = "server")]
        export: Option<PathBuf>,
        /// Ask a running server to verify its whole log (needs an auditor token).
        #[arg(long)]
        server: Option<String>,
        /// Bearer token for --server.
        #[arg(long, env = "ROTALEDGER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Print JSON instead of text (with --server).
        #[arg(long)]
        json: bool,
    },
    /// Export a store as JSON Lines carrying the exact hashed bytes (offline).
    ///
    /// One header line (size, head hash, Merkle root), then one line per entry with its
    /// sequence number, previous hash, hash and the exact stored body (docs/FORMAT.md). The
    /// file is written as `<OUT>.partial`, fsynced, then renamed to OUT, so a
    /// half-written export never carries the final name. Only the store's head is checked
    /// first, not every entry: run `rotaledger verify --export OUT` on the result. Exit 0
    /// written, 2 could not run.
    Export {
        /// Data directory of a store no server is using.
        #[arg(long, default_value = "rotaledger-data")]
        data: PathBuf,
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
        /// Export from a running server instead (a consistent snapshot at its head, every
        /// entry checked as it arrives; needs an auditor token).
        #[arg(long, conflicts_with = "data")]
        server: Option<String>,
        /// Bearer token for --server.
        #[arg(long, env = "ROTALEDGER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Also write the plain personal fields (names, return reasons) to this separate
        /// file, for a lawful request (docs/PRIVACY.md): offline, with the master key; the
        /// reveal is recorded in the access record. The export itself never holds them.
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "server",
            requires = "basis"
        )]
        reveal: Option<PathBuf>,
        /// With --reveal: the request or legal basis, recorded with the reveal.
        #[arg(long)]
        basis: Option<String>,
        /// With --reveal: only these teachers (repeat the flag; default all).
        #[arg(long = "teacher", requires = "reveal")]
        teachers: Vec<String>,
        /// With --reveal: the master key file (default <data>/master.key, or the key in
        /// ROTALEDGER_MASTER_KEY).
        #[arg(long, env = "ROTALEDGER_MASTER_KEY_FILE", value_name = "FILE")]
        master_key: Option<PathBuf>,
    },
    /// Restore a fresh store from an export (docs/RELIABILITY.md).
    ///
    /// Verifies the whole export first, then writes its entries, Merkle nodes, head and
    /// idempotency records. Exit 0 imported, 1 the export does not verify (nothing written),
    /// 2 could not run (the store is not empty or in use, not an export, I/O error).
    Import {
        /// The export file.
        #[arg(long)]
        export: PathBuf,
        /// Data directory of the new store (must be empty or absent).
        #[arg(long)]
        data: PathBuf,
        /// The key store backed up with the export (a copy of <data>/data-keys): copied into
        /// the new data directory, so the names the export holds sealed can be opened again
        /// (start the server with the master key it was made with; docs/PRIVACY.md).
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
    },
    /// Offline audit: verify exports, proofs and checkpoints with no server; produce them
    /// from a store no server holds.
    Audit {
        #[command(subcommand)]
        command: cli::audit::AuditCommand,
    },
    /// A witness for a log run by another office: make its key, and cosign each checkpoint
    /// the log offers once it is shown consistent with the last one cosigned
    /// (docs/WITNESSES.md).
    Witness {
        #[command(subcommand)]
        command: cli::witness::WitnessCommand,
    },
    /// Ask a city view (`serve --follow URL1 --follow URL2 ...`) about a teacher across the
    /// districts it follows: each district's part with its log's signed checkpoint, and the
    /// credits summed over them (docs/CITY.md).
    City {
        #[command(subcommand)]
        command: cli::city::CityCommand,
    },
    #[command(flatten)]
    Service(cli::service::ServiceCommand),
    /// The personal-data keys of a data directory (docs/PRIVACY.md).
    Keys {
        #[command(subcommand)]
        command: cli::keys::KeysCommand,
    },
    /// Spreadsheets in: check a bureau's sheet (xlsx/xls/ods, CSV in UTF-8 or GB18030) row by
    /// row against the ledger's rules without appending, or load the rows that pass
    /// (docs/SHEETS.md).
    Sheet {
        #[command(subcommand)]
        command: cli::sheet::SheetCommand,
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
        /// The language of school, group and teacher names: zh (闵行区七宝第三小学, 王建国)
        /// or en (Minhang Qibao No.3 Primary School, Wang Jianguo); nothing else differs.
        #[arg(long, value_enum, default_value = "zh")]
        names: rotaledger::generate::Names,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        /// Then append every line through a ledger in a scratch store and count refusals.
        #[arg(long)]
        check: bool,
        /// The (empty) directory for --check's store; default a temporary one, removed after.
        #[arg(long, requires = "check")]
        check_dir: Option<PathBuf>,
        /// Also write the district as the bureau's sheets in DIR: one xlsx per run of roster,
        /// dispatch, return, evaluation or promotion lines (Chinese headers) and JSON Lines for
        /// the rest, numbered in load order, listed in DIR/STEPS.txt (docs/SHEETS.md).
        #[arg(long)]
        sheets: Option<PathBuf>,
    },
}

/// mimalloc rather than the system allocator: the domain state is millions of small
/// allocations made on one thread (a restart's snapshot decode, a replay), which glibc's
/// malloc served at half the speed (docs/BENCHMARKS.md, "mimalloc, and 10M again"). Only the
/// binaries choose it; the library leaves the allocator to whoever links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    let result: Result<Outcome, CliError> = match args.command {
        Command::Verify {
            data,
            export,
            server,
            token,
            json,
        } => match (data, export, server) {
            (Some(d), _, _) => cli::offline::verify_data(&d),
            (None, Some(f), _) => cli::offline::verify_export_file(&f),
            (None, None, Some(server)) => cli::client::verify_remote(&cli::client::Connect {
                server,
                token,
                token_file: None,
                tls_ca: std::env::var_os("ROTALEDGER_TLS_CA").map(PathBuf::from),
                json,
            }),
            (None, None, None) => Err(CliError(
                "give --data DIR, --export FILE or --server URL".into(),
            )),
        },
        Command::Export {
            out,
            server: Some(server),
            token,
            ..
        } => cli::backup::export_remote(
            &cli::client::Connect {
                server,
                token,
                token_file: None,
                tls_ca: std::env::var_os("ROTALEDGER_TLS_CA").map(PathBuf::from),
                json: false,
            },
            &out,
        ),
        Command::Export {
            data,
            out,
            reveal,
            basis,
            teachers,
            master_key,
            ..
        } => cli::offline::export(&data, &out).and_then(|o| match (o, reveal) {
            (Outcome::Ok, Some(r)) => cli::keys::reveal(
                &data,
                &r,
                basis.as_deref().unwrap_or_default(),
                &teachers,
                master_key.as_deref(),
            ),
            (o, _) => Ok(o),
        }),
        Command::Keys { command } => command.run(),
        Command::Import { export, data, keys } => {
            cli::backup::import(&export, &data, keys.as_deref())
        }
        Command::Audit { command } => cli::audit::run(command),
        Command::Witness { command } => command.run(),
        Command::City { command } => command.run(),
        Command::Service(cmd) => cmd.run(),
        Command::Sheet { command } => command.run(),
        Command::Generate {
            teachers,
            years,
            seed,
            first_year,
            names,
            out,
            check,
            check_dir,
            sheets,
        } => {
            let config = rotaledger::generate::Config {
                teachers,
                years,
                seed,
                first_year,
                names,
                ..Default::default()
            };
            cli::generate::run(&config, &out, check, check_dir.as_deref()).and_then(|o| {
                match &sheets {
                    Some(dir) => cli::generate::sheets(&out, dir).map(|()| o),
                    None => Ok(o),
                }
            })
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

//! The subcommands that run or talk to a server, flattened into the binary's command list:
//! `serve`, `append`, `head`, `tail`, `checkpoint`, `token`, and the queries (`history`,
//! `eligibility`, `terms`, `teams`, `quota`, `group`, `duty`).

use std::path::PathBuf;

use clap::Subcommand;

use super::client::{self, Connect};
use super::query::{self, AsOf, TermFilters};
use super::serve::{self, ServeArgs};
use super::token::{self, TokenCommand};
use super::{CliError, Outcome};

/// Server and client subcommands.
#[derive(Subcommand, Debug, Clone)]
pub enum ServiceCommand {
    /// Run the gRPC server (Ledger, Audit, health, reflection) until SIGINT/SIGTERM.
    Serve(Box<ServeArgs>),
    /// Append the events of a JSON Lines file, in order.
    ///
    /// A line is either one event (docs/EVENTS.md; consecutive event lines are sent in
    /// batches of --batch) or one whole append request,
    /// `{"request_id": "...", "events": [...]}`, sent as it is (the form `rotaledger generate`
    /// writes: a team dispatch must arrive in one append).
    ///
    /// Resumable: a batch's request id is the one its line gave, or else derived from its
    /// content and position in the file, so running the same command again appends nothing
    /// twice.
    Append {
        #[command(flatten)]
        connect: Connect,
        /// The JSON Lines file of events.
        #[arg(long)]
        file: PathBuf,
        /// Events per append (at most the server's limit, 1000 by default).
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
    /// Print the log's size, last entry hash and Merkle root.
    Head {
        #[command(flatten)]
        connect: Connect,
    },
    /// Print entries as they are committed, from --from on (checks each hash and link).
    Tail {
        #[command(flatten)]
        connect: Connect,
        /// The first entry to print.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Stop after this many entries (default: follow until interrupted).
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Print a signed checkpoint and check its signature.
    Checkpoint {
        #[command(flatten)]
        connect: Connect,
        /// Sign over this past size instead of returning the latest checkpoint.
        #[arg(long, conflicts_with = "cosigned")]
        size: Option<u64>,
        /// The latest checkpoint carrying cosignatures by at least K of the witnesses the log
        /// is configured with (docs/WITNESSES.md); exit 1 if the named --witness-key ones
        /// are not among them.
        #[arg(long, value_name = "K")]
        cosigned: Option<u32>,
        /// The verifier key to check against (default: the server's own, from GetPublicKey).
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        witnesses: super::audit::WitnessPolicy,
    },
    /// Make access tokens and their hashes.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the access record: every answer that showed personal data (who, when, which
    /// teachers, which fields, through which door), one JSON line each, oldest first. Admins
    /// only; the output is the record's export (docs/PRIVACY.md).
    AccessRecord {
        #[command(flatten)]
        connect: Connect,
        /// Only the reveals of this teacher.
        #[arg(long)]
        teacher: Option<String>,
    },
    /// Print a teacher's history: every entry about them, with its per-teacher chain link.
    History {
        #[command(flatten)]
        connect: Connect,
        /// The teacher id.
        teacher: String,
        #[command(flatten)]
        at: AsOf,
    },
    /// Print a teacher's promotion-credit eligibility with the reasons.
    Eligibility {
        #[command(flatten)]
        connect: Connect,
        /// The teacher id.
        teacher: String,
        #[command(flatten)]
        at: AsOf,
    },
    /// Write a teacher's rotation certificate (交流轮岗证明): every entry about the teacher
    /// with an inclusion proof, a signed checkpoint, and the ledger's signed statement of
    /// their terms, evaluations, promotions and eligibility (docs/FORMAT.md §2.8). Check it
    /// offline with `rotaledger audit certificate FILE --key KEY`.
    ///
    /// Admins, a principal with the teacher in scope, or the teacher themself (whose
    /// certificate alone carries their name).
    Certificate {
        #[command(flatten)]
        connect: Connect,
        /// The teacher id.
        teacher: String,
        /// The date the statement answers for (YYYY-MM-DD; default: today, UTC+8).
        #[arg(long, value_parser = query::date_arg)]
        as_of: Option<String>,
        /// The file to write (replaced if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print dispatches' terms (start, min_end, end, status), filtered.
    Terms {
        #[command(flatten)]
        connect: Connect,
        #[command(flatten)]
        filters: TermFilters,
        #[command(flatten)]
        at: AsOf,
    },
    /// Print the teams, their strength and status.
    Teams {
        #[command(flatten)]
        connect: Connect,
        /// Only teams received by this school.
        #[arg(long)]
        school: Option<String>,
        #[command(flatten)]
        at: AsOf,
    },
    /// Print a strong school's outflow quota position for a school year.
    Quota {
        #[command(flatten)]
        connect: Connect,
        /// The school id.
        school: String,
        /// The school year's first calendar year (2025 for 2025/26).
        #[arg(long)]
        year: i32,
        #[command(flatten)]
        at: AsOf,
    },
    /// Print a district's or group's summary for a school year.
    Group {
        #[command(flatten)]
        connect: Connect,
        /// The district or group id.
        group: String,
        /// The school year's first calendar year (2025 for 2025/26).
        #[arg(long)]
        year: i32,
        #[command(flatten)]
        at: AsOf,
    },
    /// Print a school's rotation duty list: who meets rotation conditions, who is due.
    Duty {
        #[command(flatten)]
        connect: Connect,
        /// The school id.
        school: String,
        #[command(flatten)]
        at: AsOf,
    },
}

impl ServiceCommand {
    /// Runs the command.
    pub fn run(self) -> Result<Outcome, CliError> {
        match self {
            ServiceCommand::Serve(args) => serve::serve(*args),
            ServiceCommand::Append {
                connect,
                file,
                batch,
            } => client::append_file(&connect, &file, batch),
            ServiceCommand::Head { connect } => client::head(&connect),
            ServiceCommand::Tail {
                connect,
                from,
                limit,
            } => client::tail(&connect, from, limit),
            ServiceCommand::Checkpoint {
                connect,
                size,
                cosigned,
                key,
                witnesses,
            } => client::checkpoint(&connect, size, cosigned, key.as_deref(), &witnesses),
            ServiceCommand::Token(cmd) => token::run(cmd),
            ServiceCommand::AccessRecord { connect, teacher } => {
                query::access_record(&connect, teacher.as_deref())
            }
            ServiceCommand::History {
                connect,
                teacher,
                at,
            } => query::history(&connect, &teacher, &at),
            ServiceCommand::Eligibility {
                connect,
                teacher,
                at,
            } => query::eligibility(&connect, &teacher, &at),
            ServiceCommand::Certificate {
                connect,
                teacher,
                as_of,
                out,
            } => query::certificate(&connect, &teacher, as_of, &out),
            ServiceCommand::Terms {
                connect,
                filters,
                at,
            } => query::terms(&connect, &filters, &at),
            ServiceCommand::Teams {
                connect,
                school,
                at,
            } => query::teams(&connect, school, &at),
            ServiceCommand::Quota {
                connect,
                school,
                year,
                at,
            } => query::quota(&connect, &school, year, &at),
            ServiceCommand::Group {
                connect,
                group,
                year,
                at,
            } => query::group(&connect, &group, year, &at),
            ServiceCommand::Duty {
                connect,
                school,
                at,
            } => query::duty(&connect, &school, &at),
        }
    }
}

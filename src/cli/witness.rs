//! `rotaledger witness ...`: a witness run by another office (docs/WITNESSES.md). It makes
//! its own key, and follows one log: each round it checks the checkpoint the log offers its
//! witnesses against the last one it cosigned (a consistency proof), saves it, cosigns it
//! (C2SP cosignature/v1) and hands the cosignature back. On a fork or rollback it cosigns
//! nothing, keeps the evidence next to its state file and exits 1, and refuses to start again
//! while that evidence is there.

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, Outcome};
use crate::merkle::WitnessKey;

/// The `witness` subcommands.
#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Make a new witness key file (mode 0600, never over an existing file) and print its
    /// verifier key: the line the log's operator gives `serve --witness-key`, and readers
    /// give `--witness-key`.
    NewKey {
        /// The witness's name in its cosignatures, e.g. `witness.pudong.example/w1`: no
        /// spaces or '+'.
        #[arg(long)]
        name: String,
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the verifier key of a witness key file.
    PublicKey {
        /// The witness key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Witness one log: check, cosign and hand back each checkpoint it offers.
    ///
    /// Exit 1 with the evidence (printed, and kept as <STATE>.fork-evidence-*.txt) on a
    /// fork, a rollback or a bad signature, and at once on a restart while that file is there
    /// (its operator must look first); 2 if it could not run; 0 after one good round with
    /// --once, else on SIGINT/SIGTERM. A log that cannot be reached is waited for.
    Run {
        #[command(flatten)]
        connect: super::client::Connect,
        /// The witness key file (`rotaledger witness new-key`).
        #[arg(long)]
        key: PathBuf,
        /// The state file: the log's pinned key and the last checkpoint cosigned (created on
        /// the first run; one per log witnessed).
        #[arg(long)]
        state: PathBuf,
        /// The log's checkpoint key (a file holding its verifier key line, or the line).
        /// Without it and without a state file, the key the log names is trusted and pinned.
        #[arg(long)]
        log_key: Option<String>,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        /// Stop after one good round.
        #[arg(long)]
        once: bool,
        /// Another node of the log (its standbys under an election, docs/FAILOVER.md): asked
        /// when --server does not answer; a standby's refusal names the primary, which is
        /// asked then. Repeat for each.
        #[arg(long, value_name = "URL")]
        also: Vec<String>,
    },
}

impl WitnessCommand {
    /// Runs the subcommand.
    pub fn run(self) -> Result<Outcome, CliError> {
        match self {
            WitnessCommand::NewKey { name, out } => {
                let key = WitnessKey::generate(&name).map_err(CliError::ctx("--name"))?;
                key.save(&out).map_err(|e| CliError(e.to_string()))?;
                eprintln!("witness key written to {} (mode 0600)", out.display());
                println!("{}", key.verifier());
                Ok(Outcome::Ok)
            }
            WitnessCommand::PublicKey { key } => {
                let key = WitnessKey::load(&key).map_err(|e| CliError(e.to_string()))?;
                println!("{}", key.verifier());
                Ok(Outcome::Ok)
            }
            WitnessCommand::Run {
                connect,
                key,
                state,
                log_key,
                interval,
                once,
                also,
            } => {
                let witness = WitnessKey::load(&key).map_err(|e| CliError(e.to_string()))?;
                eprintln!(
                    "witness {} ({}) following {}",
                    witness.name(),
                    witness.verifier(),
                    connect.server
                );
                super::watch::run(super::watch::WatchOptions {
                    connect,
                    state,
                    key: log_key,
                    interval: interval.max(1),
                    once,
                    witness: Some(witness),
                    also,
                })
            }
        }
    }
}

//! The command-line surface: each subcommand's work, called from `main.rs` after parsing.
//!
//! Exit codes are deliberate, as `verify` needs them: 0 all good, 1 the log (or export) is bad
//! and the output says where, 2 the command could not run.

pub mod audit;
pub mod backup;
pub mod city;
pub mod client;
pub mod demo_access;
pub mod generate;
pub mod keys;
pub mod offline;
pub mod progress;
pub mod query;
pub mod serve;
pub mod service;
pub mod sheet;
pub mod token;
pub mod watch;
pub mod witness;

/// How a command ended, mapped to the process exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: a problem was found (and reported).
    Problem,
}

/// A command that could not run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    /// Wraps any displayable error with context.
    pub fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> CliError {
        move |e| CliError(format!("{what}: {e}"))
    }
}

impl From<crate::atomic::FileError> for CliError {
    fn from(e: crate::atomic::FileError) -> Self {
        CliError(e.to_string())
    }
}

/// Where the master key comes from: `--master-key FILE` (or `ROTALEDGER_MASTER_KEY_FILE`),
/// else the key itself in `ROTALEDGER_MASTER_KEY`, else `<data>/master.key`.
pub fn master_source(file: Option<&std::path::Path>) -> crate::privacy::MasterSource {
    use crate::privacy::{MASTER_KEY_VAR, MasterSource};
    match file {
        Some(f) => MasterSource::File(f.to_owned()),
        None => match std::env::var(MASTER_KEY_VAR) {
            Ok(v) if !v.trim().is_empty() => MasterSource::Value(v),
            _ => MasterSource::DataDir,
        },
    }
}

//! The integration test binary: drives the real library, binary and server the way a user
//! would, on real sled stores in temporary directories.

mod util;

/// The offline CLI: `verify` and `export`, their exit codes and messages.
mod cli_offline;
/// Crash consistency: a child process appending in a loop is SIGKILLed at random moments.
mod crash;
/// The generator: every generated append accepted by a real ledger, determinism, projections.
mod generate;
/// The domain through the ledger: input and rule errors, history links, rebuild on reopen.
mod ledger_domain;
/// The log: chain round trip, corruption detection, atomicity, idempotency, group commit.
mod log_store;

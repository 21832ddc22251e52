//! The integration test binary: drives the real library, binary and server the way a user
//! would, on real sled stores in temporary directories.

mod util;

/// The offline auditor: `audit` checkpoints, proofs and exports; forgeries, forks, rollbacks.
mod audit_offline;
/// The offline CLI: `verify`, `export` and `bench`, their exit codes and messages.
mod cli_offline;
/// Crash consistency: a child process appending in a loop is SIGKILLed at random moments.
mod crash;
/// The gRPC service over the wire: appends, errors, subscriptions, proofs, access, shutdown.
mod grpc;
/// The server binary with the CLI client: `serve`, `append --file`, `tail`, `head`.
mod grpc_cli;
/// The domain through the ledger: input and rule errors, history links, rebuild on reopen.
mod ledger_domain;
/// The log: chain round trip, corruption detection, atomicity, idempotency, group commit.
mod log_store;
/// Rotation duty, quotas, group summaries and teacher histories through the real ledger.
mod projections;

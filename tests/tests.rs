//! The integration test binary: drives the real library, binary and server the way a user
//! would, on real sled stores in temporary directories.

mod util;

/// The offline auditor: `audit` checkpoints, proofs and exports; forgeries, forks, rollbacks.
mod audit_offline;
/// `audit watch` against live servers: key pinning, growth, forks, rollbacks, wrong keys.
mod audit_watch;
/// Backup and restore: `export --server` while appends continue, `import` into a fresh store.
mod backup;
/// The bad-input catalogue: malformed requests of every kind, their codes and messages.
mod bad_input;
/// The rotation certificate: made for admin, principal and teacher, checked offline by
/// `audit certificate`, every mutation refused; the teacher role's scope.
mod certificate;

mod city;
/// The offline CLI: `verify` and `export`, their exit codes and messages.
mod cli_offline;
/// The console: sign-in, sessions, CSRF, scope on pages, languages, CSV and XLSX downloads.
mod console;
/// The console in a real headless Chromium: sign-in, teacher and school pages, screenshots.
mod console_browser;
/// The audit page's JavaScript checker against the Rust verifier, under Node.
mod console_js;
/// A damaged store: `serve` refuses it with exit code 2 and names the damage.
mod corrupt_store;
/// Crash consistency: a child process appending in a loop is SIGKILLed at random moments.
mod crash;
/// Crash consistency over the wire: `serve` SIGKILLed under concurrent gRPC appends.
mod crash_server;
/// The crypto profile as an operator meets it: `serve --crypto gm`, restarts, refusals.
mod crypto_profile;
/// `serve --demo` as its principal: the printed token, sign-in, a teacher found, the
/// due-to-rotate list downloaded, another school's teacher refused, SIGTERM.
mod demo_walk;
// A full disk through the real server (a small tmpfs).
mod disk_full;
/// Failover through a real etcd: three `serve --etcd` nodes, the primary SIGKILLed under
/// load, a standby elected, nothing acknowledged lost, the old primary rejoining, a primary
/// cut off from etcd fenced.
mod failover;
/// FORMAT.md's worked example against a real server: the documented bodies are what it stores.
mod format_doc;
/// The generator: every generated append accepted by a real ledger, determinism, projections.
mod generate;
/// The gRPC service over the wire: appends, errors, subscriptions, proofs, access, shutdown.
mod grpc;
/// The server binary with the CLI client: `serve`, `append --file`, `tail`, `head`.
mod grpc_cli;
/// The Query service over the wire: a full scenario, every projection, scope, as-of.
mod grpc_query;
/// The HTTP face: health, the JSON API beside gRPC, refusals, appends, the documented curls.
mod http;
/// The domain through the ledger: input and rule errors, history links, rebuild on reopen.
mod ledger_domain;
/// The log: chain round trip, corruption detection, atomicity, idempotency, group commit.
mod log_store;
/// Mirrors as processes: two `serve --follow` mirrors of a primary, kills and restarts, a
/// forked primary caught with its evidence.
mod mirror;
/// No panic on any input: mutated entries, exports, access files and key files.
mod no_panic;
/// Policy fidelity: team voids, the quota's basis and duty, team completion, running terms.
mod policy_fidelity;
/// Power loss: `serve` on forgetfs (keeps only what was fsynced), power cut under appends.
mod power_loss;
/// Personal data: sealed at rest, shown and recorded, erased for good with proofs intact.
mod privacy;
/// Rotation duty, quotas, group summaries and teacher histories through the real ledger.
mod projections;
/// The independent Python verifiers on a real export and on independent SM2/SM3 vectors.
mod python_verifiers;
/// `serve`'s start: refused before it listens; health `NOT_SERVING` until the ledger serves.
mod serve_start;
/// Spreadsheets in: `Ledger.Check` answers as Append would and writes nothing; `sheet check`
/// and `sheet load` on xlsx and GB18030 CSV sheets made by the test, planted errors, reloads.
mod sheet;
/// The state snapshot: restart from it, tail replay, bad snapshots ignored, schema guard.
mod snapshot;
/// Witnesses as processes: two `witness run` cosigning a primary under appends, a kill and
/// restart, a forked primary refused; what `AddCosignature` keeps and refuses.
mod witness;

//! rotaledger: a tamper-evident, event-sourced ledger of teacher rotation (教师交流轮岗).
//!
//! HR systems append events; every entry is chained to the one before by a blake3 hash and is
//! a leaf of an RFC 9162 Merkle tree, so auditors can verify the log offline and check
//! inclusion and consistency proofs against signed checkpoints. `docs/ARCHITECTURE.md` is the
//! map; `docs/FORMAT.md` the byte formats.
//!
//! # Layout
//!
//! - [`log`]: the on-disk log: entry encoding and hash chain, sled store with durable
//!   (fdatasync'd) commits, the group-commit single writer, the verifier, the JSON Lines export.
//! - [`merkle`]: the Merkle tree over entry hashes, inclusion and consistency proofs, signed
//!   checkpoints and their key. Pure computation.
//! - [`crypto`]: the crypto profile (`blake3` or `gm`: SM3, SM2, SM4) chosen once per store.
//! - [`ledger`]: the façade: log + tree + checkpoints + the domain's sequencer; durable appends
//!   answered with receipts, committed reads.
//! - `domain`: events, policy, rules, projections; plain Rust, no I/O.
//! - [`certificate`]: the rotation certificate (交流轮岗证明): a teacher's entries with their
//!   proofs, a checkpoint and the ledger's signed statement, checked offline.
//! - [`snapshot`]: the state snapshot file: the domain state at a verified log position, so a
//!   restart replays only the entries after it. A cache, never a source of truth.
//! - [`atomic`]: files that appear only complete and durable (snapshot, exports, proofs).
//! - `grpc`, `server`: the gRPC services and the server around the ledger.
//! - [`http`]: the HTTP face beside gRPC: health, metrics, the JSON API (calling the gRPC
//!   services themselves).
//! - [`mirror`]: `serve --follow`: a read-only mirror that copies a primary's log, verifying
//!   every entry and checkpoint before it serves them, and keeps the evidence of a fork.
//! - [`metrics`]: counters and histograms in the Prometheus text format.
//! - [`sheet`]: spreadsheets in: xlsx/ods/CSV rows read, mapped by header and normalised
//!   into events, the per-row report and the annotated copy (`sheet check`, `sheet load`).
//! - [`cli`]: the commands (`verify`, `export`, `serve`, the client) behind `src/main.rs`.
//! - [`proto`]: code generated from `proto/rotaledger/v1`.

pub mod merkle;

/// Code generated from `proto/rotaledger/v1` (package `rotaledger.v1`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("rotaledger.v1");
    /// Encoded file descriptor set, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("rotaledger_descriptor");
}

pub mod atomic;
pub mod certificate;
pub mod city;
pub mod cli;
pub mod crypto;
pub mod domain;
pub mod failover;
pub mod generate;
pub mod grpc;
pub mod http;
pub mod ledger;
pub mod log;
pub mod metrics;
pub mod mirror;
pub mod privacy;
pub mod server;
pub mod sheet;
pub mod snapshot;

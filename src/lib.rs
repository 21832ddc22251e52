//! rotaledger: a tamper-evident, event-sourced ledger of teacher rotation (教师交流轮岗).

pub mod merkle;

/// Code generated from `proto/rotaledger/v1` (package `rotaledger.v1`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("rotaledger.v1");
    /// Encoded file descriptor set, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("rotaledger_descriptor");
}

pub mod cli;
pub mod domain;
pub mod generate;
pub mod ledger;
pub mod log;

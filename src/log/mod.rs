//! The log: an append-only, blake3 hash-chained sequence of entries in sled.
//!
//! - [`entry`]: the stored encoding and the hash construction (`docs/FORMAT.md`).
//! - [`store`]: the sled key layout, reads, and the durable commit (flush + fdatasync).
//! - [`writer`]: the single writer thread and its group commit; atomic, idempotent appends.
//! - [`verify`]: the chain verifier shared by the server, the offline CLI and exports.
//! - [`export`]: the JSON Lines export an auditor verifies offline.
//! - [`groups`]: idempotency records rebuilt from entries written elsewhere.
//! - [`import`]: restoring a fresh store from an export (backup and restore).
//!
//! The log knows nothing of teachers: its payloads are opaque JSON. What an entry *means* is
//! the domain's business; the [`writer::Sequencer`] is the seam between the two.

pub mod entry;
pub mod export;
pub mod groups;
pub mod import;
pub mod store;
pub mod verify;
pub mod writer;

/// The worked example of `docs/FORMAT.md`, checked byte for byte.
#[cfg(test)]
mod example;

pub use entry::{Entry, GENESIS_HASH, Hash};
pub use store::{Head, Store, StoreError};
pub use verify::{Failure, Problem, Verified, Verifier};
pub use writer::{
    AppendError, AppendOutcome, AppendRequest, Chain, Replica, ReplicaError, Sequencer, Writer,
};

/// A sequencer that appends each payload as given: the log on its own, for tests, benchmarks
/// and tools that need no domain rules.
#[derive(Debug, Default)]
pub struct PassThrough;

impl Sequencer for PassThrough {
    type Input = Vec<Box<serde_json::value::RawValue>>;
    type Rejection = std::convert::Infallible;
    fn sequence(
        &mut self,
        input: &Self::Input,
        chain: &mut Chain<'_>,
    ) -> Result<(), Self::Rejection> {
        for p in input {
            chain.push(p);
        }
        Ok(())
    }
}

/// The fingerprint of a list of payloads, for idempotency: a length-prefixed blake3 digest.
pub fn fingerprint<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"rotaledger.request.v1\0");
    for p in payloads {
        h.update(&(p.len() as u64).to_be_bytes());
        h.update(p);
    }
    *h.finalize().as_bytes()
}

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

/// A store in `dir` written by the real writer with `appends` (actor, request id, entries),
/// whose payloads are `{"n":1}`, `{"n":2}`, ... in log order: for the tests of what copies a
/// log (a restore, a mirror's replication).
#[cfg(test)]
pub(crate) fn written_store(
    dir: &std::path::Path,
    appends: &[(&str, &str, usize)],
) -> std::sync::Arc<Store> {
    use serde_json::value::RawValue;
    let store = std::sync::Arc::new(Store::open(dir).unwrap());
    let head = store.check_head().unwrap();
    let w = Writer::start(store.clone(), head, PassThrough).unwrap();
    let mut n = 0u64;
    for &(actor, id, count) in appends {
        let payloads: Vec<Box<RawValue>> = (0..count)
            .map(|_| {
                n += 1;
                RawValue::from_string(format!("{{\"n\":{n}}}")).unwrap()
            })
            .collect();
        w.append_blocking(AppendRequest {
            actor: actor.into(),
            request_id: id.into(),
            fingerprint: fingerprint(payloads.iter().map(|p| p.get().as_bytes())),
            expected_size: None,
            input: payloads,
        })
        .unwrap();
    }
    w.shutdown();
    store
}

//! Reading the ledger: the committed head, checkpoints, proofs, entries, verification, and
//! the questions the services answer, each with the log position it reflects.

use std::sync::Arc;

use tokio::sync::watch;

use super::open::replay;
use super::{Ledger, LedgerError, Positioned, Snapshot, StorageError, StorageKind, sign};
use crate::domain::State;
use crate::log::verify::{verify_prefix, verify_range};
use crate::log::{Entry, Failure, Head, Store, Verified};
use crate::merkle::{
    Digest, SignedCheckpoint, VerifierKey, consistency_proof, inclusion_proof, root,
};

impl Ledger {
    /// The log's crypto profile (fixed when its store was created).
    pub fn profile(&self) -> crate::crypto::Profile {
        self.store().profile()
    }

    /// The committed head.
    pub fn head(&self) -> Head {
        self.writer.head()
    }

    /// A receiver notified of every new committed head (live subscribers).
    pub fn watch_head(&self) -> watch::Receiver<Head> {
        self.writer.watch_head()
    }

    /// The committed state.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// The log's origin name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The public key auditors verify checkpoints with.
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The latest signed checkpoint (on a mirror: see [`Ledger::latest_checkpoint`]).
    pub fn checkpoint(&self) -> Arc<SignedCheckpoint> {
        self.checkpoint.load_full()
    }

    /// The latest checkpoint: this ledger's own, or on a mirror the primary's over the
    /// mirror's head (stored with the entries it covers).
    pub fn latest_checkpoint(&self) -> Result<SignedCheckpoint, LedgerError> {
        if self.mirror.is_some() {
            return self.attested(self.head().size);
        }
        let cp = self.checkpoint();
        // The latest checkpoint with the cosignatures collected on it, if witnesses have.
        if let Some(w) = self.witnessed_at(cp.checkpoint.size)?
            && w.checkpoint == cp.checkpoint
        {
            return Ok(w);
        }
        Ok((*cp).clone())
    }

    /// The key the checkpoints this ledger serves verify with, and the log's origin: its
    /// own, or on a mirror its primary's (an error until the mirror has reached it once).
    pub fn public_key(&self) -> Result<(VerifierKey, String), LedgerError> {
        let Some(m) = &self.mirror else {
            return Ok((self.verifier_key(), self.origin.clone()));
        };
        let key = m.primary_key().ok_or_else(|| LedgerError::Mirror {
            primary: m.primary.clone(),
            what: "it has not reached its primary yet, so it holds no key; ask the primary".into(),
        })?;
        let origin = match self.attested(self.head().size) {
            Ok(cp) => cp.checkpoint.origin,
            Err(_) => String::new(),
        };
        Ok(((*key).clone(), origin))
    }

    /// The Merkle root over the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Digest, LedgerError> {
        let head = self.head();
        if size > head.size {
            return Err(LedgerError::OutOfRange(format!(
                "size {size} is beyond the log's {} entries",
                head.size
            )));
        }
        root(&self.profile(), size, self.store().as_ref())
            .map_err(|e| StorageError::tree(format!("the Merkle root of size {size}"), e).into())
    }

    /// A checkpoint over exactly `head` (a committed position): the latest one if it is
    /// that (the common case: an append alone in its commit, answered before the next), else
    /// one signed now over `head.size` and `head.root`.
    pub(super) fn checkpoint_of(&self, head: Head) -> Result<SignedCheckpoint, LedgerError> {
        let cp = self.checkpoint.load_full();
        if cp.checkpoint.size == head.size && cp.checkpoint.root == head.root {
            return Ok((*cp).clone());
        }
        sign(&self.key, &self.origin, head.size, head.root)
    }

    /// A checkpoint over the first `size` entries (any past size): the witnessed one if
    /// witnesses cosigned one of that size, else one signed now. A mirror signs nothing: it
    /// has the primary's only at the sizes it copied at.
    pub fn checkpoint_at(&self, size: u64) -> Result<SignedCheckpoint, LedgerError> {
        let head = self.head();
        if size > head.size {
            return Err(LedgerError::OutOfRange(format!(
                "size {size} is beyond the log's {} entries",
                head.size
            )));
        }
        if self.mirror.is_some() {
            return self.attested(size);
        }
        // Where witnesses cosigned one over this size, that one, with their cosignatures.
        if let Some(w) = self.witnessed_at(size)? {
            return Ok(w);
        }
        let r = self.root_at(size)?;
        sign(&self.key, &self.origin, size, r)
    }

    /// Inclusion proof of entry `seq` in the log of `size` entries.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Digest>, LedgerError> {
        let head = self.head();
        if size > head.size || seq >= size {
            return Err(LedgerError::OutOfRange(format!(
                "no entry {seq} in a log of size {size} (the log holds {})",
                head.size
            )));
        }
        inclusion_proof(&self.profile(), seq, size, self.store().as_ref()).map_err(|e| {
            StorageError::tree(format!("the inclusion proof of {seq} in {size}"), e).into()
        })
    }

    /// Consistency proof that the log of `new_size` extends the log of `old_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Digest>, LedgerError> {
        let head = self.head();
        if new_size > head.size || old_size > new_size {
            return Err(LedgerError::OutOfRange(format!(
                "need old size <= new size <= {} (got {old_size} and {new_size})",
                head.size
            )));
        }
        consistency_proof(&self.profile(), old_size, new_size, self.store().as_ref()).map_err(|e| {
            StorageError::tree(format!("the consistency proof {old_size} -> {new_size}"), e).into()
        })
    }

    /// One committed entry.
    pub fn entry(&self, seq: u64) -> Result<Entry, LedgerError> {
        if seq >= self.head().size {
            return Err(LedgerError::NotFound(format!(
                "no entry {seq}: the log holds {} entries",
                self.head().size
            )));
        }
        self.store().entry(seq)?.ok_or_else(|| {
            StorageError::bare(
                StorageKind::Corrupt,
                format!("entry {seq} is missing from the store"),
            )
            .into()
        })
    }

    /// Committed entries `from..to` (clamped to the head), read without blocking the writer.
    pub fn entries(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<Entry, LedgerError>> + use<> {
        let to = to.min(self.head().size);
        self.store().raw_range(from, to).map(|r| {
            let (seq, v) = r?;
            Entry::from_stored(seq, &v).map_err(|e| {
                StorageError::new(StorageKind::Corrupt, format!("entry {seq}"), e).into()
            })
        })
    }

    /// Verifies the whole chain (and Merkle root) or a range of it. Blocking; long.
    pub fn verify(
        &self,
        range: Option<(u64, u64)>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Result<Verified, Failure>, LedgerError> {
        let head = self.head();
        Ok(match range {
            // The store may hold entries committed after `head` was read; check up to it.
            None => verify_prefix(self.store(), head, &|| true, progress)?.ok_or_else(|| {
                StorageError::bare(StorageKind::Internal, "verification stopped before the end")
            })?,
            Some((from, to)) => verify_range(self.store(), from, to.min(head.size), progress)?,
        })
    }

    /// The state as recorded in the first `size` entries (entries `0..size`): what the
    /// ledger said at a checkpoint of that size. Replays the prefix; the current size is
    /// answered from the committed snapshot without a replay.
    pub fn state_at(&self, size: u64) -> Result<Positioned<State>, LedgerError> {
        let snap = self.snapshot.load_full();
        if size == snap.head.size {
            return Ok(Positioned {
                size,
                head_hash: snap.head.hash,
                value: snap.state.clone(),
            });
        }
        if size > snap.head.size {
            return Err(LedgerError::OutOfRange(format!(
                "size {size} is beyond the log's {} entries",
                snap.head.size
            )));
        }
        let head_hash = match size {
            0 => crate::log::GENESIS_HASH,
            n => self.entry(n - 1)?.hash,
        };
        Ok(Positioned {
            size,
            head_hash,
            value: replay(self.store(), size, None)?,
        })
    }

    /// Answers `f` on the committed state, with the log position it reflects.
    pub fn query<T>(&self, f: impl FnOnce(&State) -> T) -> Positioned<T> {
        let snap = self.snapshot.load_full();
        Positioned {
            size: snap.head.size,
            head_hash: snap.head.hash,
            value: f(&snap.state),
        }
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<Store> {
        self.writer.store()
    }
}

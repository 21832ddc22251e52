//! Witnesses: the checkpoint the ledger offers them to cosign, the cosignatures they send
//! back, and the witnessed checkpoints it serves (docs/WITNESSES.md, FORMAT.md §2.9).
//!
//! A witness (`rotaledger witness`) asks for the offered checkpoint, checks it extends the
//! last one it cosigned, cosigns it and sends the cosignature back. The offer stays the same
//! checkpoint until every configured witness has cosigned it or [`WitnessConfig::interval`]
//! has passed (and the log has grown), so that under a steady stream of appends the witnesses
//! cosign the same checkpoint and a reader finds one carrying k of them, rather than each
//! witness cosigning a different size.
//!
//! **Contracts.** A cosignature is kept only if the ledger's own signature over the
//! checkpoint verifies, its root is the log's root at its size, and it is a valid
//! cosignature/v1 of a configured witness. Adding one is acknowledged only once stored
//! durably. A stored witnessed checkpoint is only ever replaced by the same checkpoint (same
//! body, same log signature) with more cosignatures; none of this touches the log's entries.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Ledger, LedgerError, StorageError};
use crate::merkle::cosignature::cosigners;
use crate::merkle::{SignedCheckpoint, WitnessVerifier};

/// Default of [`WitnessConfig::interval`].
pub const DEFAULT_WITNESS_INTERVAL: Duration = Duration::from_secs(10);

/// The witnesses a ledger accepts cosignatures from (`serve --witness-key`).
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// The witnesses' verifier keys.
    pub keys: Vec<WitnessVerifier>,
    /// How long the offer waits for every witness before moving to the newest checkpoint.
    pub interval: Duration,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        WitnessConfig {
            keys: Vec::new(),
            interval: DEFAULT_WITNESS_INTERVAL,
        }
    }
}

/// The checkpoint offered to witnesses now.
#[derive(Debug, Clone)]
struct Offer {
    checkpoint: SignedCheckpoint,
    made: Instant,
    /// Configured witnesses whose cosignature on it is stored.
    cosigned: usize,
}

/// The ledger's witness bookkeeping.
#[derive(Debug)]
pub(super) struct Witnesses {
    config: WitnessConfig,
    offer: Mutex<Option<Offer>>,
    /// Serialises the read-merge-write of a size's stored checkpoint, and holds how many
    /// configured witnesses cosigned each stored size (read from the store on first use), so
    /// that "the latest with k" is found without verifying every stored cosignature again.
    adding: Mutex<Option<BTreeMap<u64, usize>>>,
}

impl Witnesses {
    pub(super) fn new(config: WitnessConfig) -> Self {
        Witnesses {
            config,
            offer: Mutex::new(None),
            adding: Mutex::new(None),
        }
    }
}

/// What [`Ledger::add_cosignatures`] kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The checkpoint's size.
    pub size: u64,
    /// Configured witnesses whose cosignature on it is now stored.
    pub cosignatures: usize,
    /// Cosignatures this call added (0: all were stored already).
    pub added: usize,
}

fn witness_error(what: impl Into<String>) -> LedgerError {
    LedgerError::Witness(what.into())
}

fn bad_checkpoint(problem: impl Into<String>) -> LedgerError {
    LedgerError::Input {
        index: None,
        field: "checkpoint".into(),
        problem: problem.into(),
    }
}

impl Ledger {
    /// The witnesses this ledger accepts cosignatures from.
    pub fn witness_keys(&self) -> &[WitnessVerifier] {
        &self.witnesses.config.keys
    }

    fn primary_for_witnesses(&self) -> Result<(), LedgerError> {
        match &self.mirror {
            Some(m) => Err(LedgerError::Mirror {
                primary: m.primary.clone(),
                what: "witnesses cosign the primary's checkpoints; point them at the primary"
                    .into(),
            }),
            None => Ok(()),
        }
    }

    /// The checkpoint offered to witnesses to cosign now (see the module doc for when it
    /// moves on).
    pub fn offered_checkpoint(&self) -> Result<SignedCheckpoint, LedgerError> {
        self.primary_for_witnesses()?;
        self.check_integrity()?;
        let head = self.head();
        // With --sync-mirrors, only what the mirrors hold (sync.rs, `readable_size`).
        let readable = self.readable_within(head.size)?;
        let mut offer = self
            .witnesses
            .offer
            .lock()
            .map_err(|_| StorageError::internal("the witness offer", "lock poisoned"))?;
        if let Some(o) = offer.as_ref() {
            let size = o.checkpoint.checkpoint.size;
            let everyone = o.cosigned >= self.witnesses.config.keys.len();
            let waited = o.made.elapsed() >= self.witnesses.config.interval;
            let same_stored = || match self.stored_witnessed(size) {
                Ok(Some(s)) => s.checkpoint == o.checkpoint.checkpoint,
                _ => true,
            };
            // At the head, the offer stays, unless another checkpoint of that size has been
            // cosigned meanwhile: then that one is offered, so every witness can add to it.
            if (size == readable && same_stored()) || (size < readable && !everyone && !waited) {
                return Ok(o.checkpoint.clone());
            }
        }
        // After a restart the head may be one already cosigned: offer that very checkpoint
        // again so the witnesses' cosignatures add to it.
        let (checkpoint, cosigned) = match self.stored_witnessed(readable)? {
            Some(cp) => {
                let n = cosigners(&cp, &self.witnesses.config.keys).len();
                (without_cosignatures(&cp, self), n)
            }
            None if readable == head.size => (self.checkpoint_of(head)?, 0),
            None => (self.checkpoint_at(readable)?, 0),
        };
        *offer = Some(Offer {
            checkpoint: checkpoint.clone(),
            made: Instant::now(),
            cosigned,
        });
        Ok(checkpoint)
    }

    /// The stored witnessed checkpoint over exactly `size` entries.
    fn stored_witnessed(&self, size: u64) -> Result<Option<SignedCheckpoint>, LedgerError> {
        match self.store().witnessed(size)? {
            Some(bytes) => parse_stored(size, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The witnessed checkpoint over exactly `size` entries, if witnesses cosigned one.
    pub fn witnessed_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, LedgerError> {
        if self.mirror.is_some() {
            return Ok(None);
        }
        self.stored_witnessed(size)
    }

    /// The latest checkpoint carrying valid cosignatures by at least `min` of the configured
    /// witnesses ([`LedgerError::NotFound`] if there is none yet).
    pub fn latest_witnessed(&self, min: usize) -> Result<SignedCheckpoint, LedgerError> {
        self.primary_for_witnesses()?;
        let keys = &self.witnesses.config.keys;
        if min > keys.len() {
            return Err(LedgerError::OutOfRange(format!(
                "{min} cosignatures asked for, but this log is configured with {} witnesses",
                keys.len()
            )));
        }
        let mut counts = self.witness_counts()?;
        let found = counts
            .get_or_insert_with(BTreeMap::new)
            .iter()
            .rev()
            .find(|(_, n)| **n >= min)
            .map(|(size, _)| *size);
        drop(counts);
        match found {
            Some(size) => self.stored_witnessed(size)?.ok_or_else(|| {
                StorageError::new(
                    super::StorageKind::Corrupt,
                    format!("the witnessed checkpoint of size {size}"),
                    "it is gone from the store",
                )
                .into()
            }),
            None => Err(LedgerError::NotFound(format!(
                "no checkpoint of this log carries {min} witness cosignatures yet"
            ))),
        }
    }

    /// The lock on the per-size cosignature counts, read from the store on first use.
    fn witness_counts(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, Option<BTreeMap<u64, usize>>>, LedgerError> {
        let mut counts = self
            .witnesses
            .adding
            .lock()
            .map_err(|_| StorageError::internal("the witness store", "lock poisoned"))?;
        if counts.is_none() {
            let keys = &self.witnesses.config.keys;
            let mut all = BTreeMap::new();
            for stored in self.store().witnessed_newest_first() {
                let (size, bytes) = stored?;
                let cp = parse_stored(size, &bytes)?;
                all.insert(size, cosigners(&cp, keys).len());
            }
            *counts = Some(all);
        }
        Ok(counts)
    }

    /// Keeps the cosignatures on `text`: the ledger's own signed checkpoint (its signature
    /// line) with one or more cosignature lines of configured witnesses. Returns once they
    /// are durable.
    pub fn add_cosignatures(&self, text: &str) -> Result<Cosigned, LedgerError> {
        self.primary_for_witnesses()?;
        self.check_integrity()?;
        let cp = SignedCheckpoint::parse(text).map_err(|e| bad_checkpoint(e.to_string()))?;
        let ours = self.verifier_key();
        cp.verify(&ours)
            .map_err(|e| bad_checkpoint(format!("it is not a checkpoint this log signed: {e}")))?;
        let c = &cp.checkpoint;
        if c.origin != self.origin {
            return Err(bad_checkpoint(format!(
                "origin {:?} is not this log's {:?}",
                c.origin, self.origin
            )));
        }
        if self.root_at(c.size)? != c.root {
            return Err(bad_checkpoint(format!(
                "its root is not this log's root at size {}",
                c.size
            )));
        }
        let keys = &self.witnesses.config.keys;
        let mut lines = Vec::new();
        for sig in &cp.signatures {
            if sig.key_name == ours.name() && sig.key_id == ours.key_id() {
                continue;
            }
            let Some(w) = keys
                .iter()
                .find(|w| w.name() == sig.key_name && w.key_id() == sig.key_id)
            else {
                return Err(witness_error(format!(
                    "{}+{} is not a witness this log is configured with (serve --witness-key)",
                    sig.key_name,
                    hex::encode(sig.key_id)
                )));
            };
            w.verify(c, sig)
                .map_err(|e| bad_checkpoint(e.to_string()))?;
            lines.push(sig.clone());
        }
        if lines.is_empty() {
            return Err(bad_checkpoint("it carries no cosignature"));
        }
        let mut counts = self.witness_counts()?;
        let mut stored = match self.stored_witnessed(c.size)? {
            None => without_cosignatures(&cp, self),
            Some(s) if s.checkpoint == *c => s,
            Some(s) => {
                return Err(witness_error(format!(
                    "another checkpoint of size {} (time {}) is being cosigned; ask for the \
                     offered checkpoint again and cosign that one",
                    c.size,
                    s.checkpoint
                        .time
                        .format(crate::merkle::checkpoint::TIME_FORMAT)
                )));
            }
        };
        let mut added = 0;
        for line in lines {
            let present = stored
                .signatures
                .iter()
                .any(|s| s.key_name == line.key_name && s.key_id == line.key_id);
            if !present {
                stored.signatures.push(line);
                added += 1;
            }
        }
        if stored.signatures.len() > crate::merkle::checkpoint::MAX_SIGNATURES {
            return Err(witness_error(format!(
                "the checkpoint of size {} would carry more than {} signature lines",
                c.size,
                crate::merkle::checkpoint::MAX_SIGNATURES
            )));
        }
        let cosignatures = cosigners(&stored, keys).len();
        // Written (and synced) even when nothing is new: a write whose sync failed may be
        // readable yet not durable, and this answer says the cosignature is kept.
        self.store()
            .put_witnessed(c.size, stored.to_text().as_bytes())?;
        counts
            .get_or_insert_with(BTreeMap::new)
            .insert(c.size, cosignatures);
        drop(counts);
        if let Ok(mut offer) = self.witnesses.offer.lock()
            && let Some(o) = offer.as_mut()
            && o.checkpoint.checkpoint == *c
        {
            o.cosigned = cosignatures;
        }
        Ok(Cosigned {
            size: c.size,
            cosignatures,
            added,
        })
    }
}

/// A stored witnessed checkpoint (written by this ledger): one that does not parse is damage.
fn parse_stored(size: u64, bytes: &[u8]) -> Result<SignedCheckpoint, LedgerError> {
    SignedCheckpoint::parse_bytes(bytes).map_err(|e| {
        StorageError::new(
            super::StorageKind::Corrupt,
            format!("the witnessed checkpoint of size {size}"),
            e,
        )
        .into()
    })
}

/// `cp` with the ledger's own signature line only.
fn without_cosignatures(cp: &SignedCheckpoint, ledger: &Ledger) -> SignedCheckpoint {
    let ours = ledger.verifier_key();
    SignedCheckpoint {
        checkpoint: cp.checkpoint.clone(),
        signatures: cp
            .signatures
            .iter()
            .filter(|s| s.key_name == ours.name() && s.key_id == ours.key_id())
            .take(1)
            .cloned()
            .collect(),
    }
}

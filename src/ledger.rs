//! The ledger: the log, the Merkle tree, signed checkpoints and the domain state, wired
//! together. validate -> append -> apply; rebuild on open; reads for the services above.
//!
//! **Contracts.**
//! - [`Ledger::append`] MUST return only once the append is durable (see `log::writer`), and
//!   answers with a receipt: the entries' sequence numbers and hashes, a checkpoint signed over
//!   a size that includes them, and an inclusion proof of each entry against it.
//! - Readers see committed state only: the snapshot and checkpoint are published after the
//!   commit that makes them true, never before.
//! - Opening MUST refuse a store whose head, last entry or Merkle frontier disagree; it does
//!   not repair anything.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::Utc;
use serde_json::value::RawValue;
use tokio::sync::watch;

use crate::log::verify::verify_range;
use crate::log::{
    AppendError, AppendRequest, Chain, Entry, Failure, Head, Sequencer, Store, StoreError,
    Verified, Writer, fingerprint,
};
use crate::merkle::{
    Blake3, Checkpoint, CheckpointKey, Digest, SignedCheckpoint, VerifierKey, consistency_proof,
    inclusion_proof, root,
};

/// File (in the data directory) holding the checkpoint signing key.
pub const KEY_FILE: &str = "checkpoint.key";

/// How to open a ledger.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// The log's name in checkpoints (e.g. `rotaledger/minhang`).
    pub origin: String,
    /// The signing key file; default `<data>/checkpoint.key`, generated on first start.
    pub key_file: Option<PathBuf>,
    /// Most events in one append (SPEC rule 8).
    pub max_events_per_append: usize,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            origin: "rotaledger".into(),
            key_file: None,
            max_events_per_append: 1000,
        }
    }
}

/// Everything a caller of the ledger can be told "no" about.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Malformed input: which event (if any), which field, what is wrong.
    #[error("{}{field}: {problem}", index.map(|i| format!("event {i}: ")).unwrap_or_default())]
    Input {
        /// The event's index in the append.
        index: Option<usize>,
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A rule refused the append.
    #[error("event {index}: rule {rule}: {message}")]
    Rejected {
        /// The event's index in the append.
        index: usize,
        /// The rule's stable code.
        rule: String,
        /// What a person should know.
        message: String,
        /// The values involved.
        values: Vec<(String, String)>,
    },
    /// The request id was used for another append.
    #[error(
        "request id {request_id:?} was already used for a different append (entries {first_seq}..{end})"
    )]
    RequestIdConflict {
        /// The reused id.
        request_id: String,
        /// Where the original append starts.
        first_seq: u64,
        /// One past its last entry.
        end: u64,
    },
    /// Optimistic concurrency failed.
    #[error("expected the log to hold {expected} entries, it holds {actual}")]
    UnexpectedSize {
        /// What the client expected.
        expected: u64,
        /// What the log holds.
        actual: u64,
    },
    /// Something asked for does not exist (yet).
    #[error("{0}")]
    NotFound(String),
    /// A position or range outside the log.
    #[error("{0}")]
    OutOfRange(String),
    /// The store failed.
    #[error("storage: {0}")]
    Storage(String),
    /// The ledger is not accepting appends.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

/// What an accepted append returns: proof, in hand, of what the ledger accepted.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Sequence number of the first entry.
    pub first_seq: u64,
    /// Entry hashes, in order.
    pub hashes: Vec<Digest>,
    /// The head after the commit.
    pub head: Head,
    /// True when this answers a retry and nothing new was appended.
    pub duplicate: bool,
    /// A checkpoint over a size that includes the entries.
    pub checkpoint: SignedCheckpoint,
    /// Inclusion proof of each entry against `checkpoint`.
    pub proofs: Vec<Vec<Digest>>,
}

/// Committed state as readers see it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The log position this state reflects.
    pub head: Head,
}

/// The writer-side half of the ledger: checks appends, and publishes what was committed.
struct LedgerSequencer {
    key: Arc<CheckpointKey>,
    origin: String,
    checkpoint: Arc<ArcSwap<SignedCheckpoint>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    max_events: usize,
}

/// Events of one append, already decoded and canonicalised.
pub struct Events(Vec<Box<RawValue>>);

impl Sequencer for LedgerSequencer {
    type Input = Events;
    type Rejection = LedgerError;

    fn sequence(&mut self, input: &Events, chain: &mut Chain<'_>) -> Result<(), LedgerError> {
        if input.0.len() > self.max_events {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {}",
                    input.0.len(),
                    self.max_events
                ),
            });
        }
        for e in &input.0 {
            chain.push(e);
        }
        Ok(())
    }

    fn committed(&mut self, head: Head) {
        if let Ok(cp) = sign(&self.key, &self.origin, head.size, head.root) {
            self.checkpoint.store(Arc::new(cp));
        }
        self.snapshot.store(Arc::new(Snapshot { head }));
    }
}

fn sign(
    key: &CheckpointKey,
    origin: &str,
    size: u64,
    root: Digest,
) -> Result<SignedCheckpoint, LedgerError> {
    Checkpoint::new(origin, size, root, Utc::now())
        .and_then(|c| c.sign(key))
        .map_err(|e| LedgerError::Storage(format!("signing a checkpoint: {e}")))
}

/// The ledger.
pub struct Ledger {
    writer: Writer<LedgerSequencer>,
    key: Arc<CheckpointKey>,
    origin: String,
    checkpoint: Arc<ArcSwap<SignedCheckpoint>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir`: checks the head, loads or generates the signing
    /// key, rebuilds the state, and starts the writer.
    pub fn open(dir: &Path, opts: LedgerOptions) -> Result<Ledger, LedgerError> {
        let store = Arc::new(Store::open(dir)?);
        let head = store.check_head()?;
        let key_path = opts.key_file.clone().unwrap_or_else(|| dir.join(KEY_FILE));
        let key = if key_path.exists() {
            CheckpointKey::load(&key_path)
        } else {
            CheckpointKey::generate(&opts.origin).and_then(|k| k.save(&key_path).map(|_| k))
        }
        .map_err(|e| LedgerError::Storage(format!("checkpoint key: {e}")))?;
        let key = Arc::new(key);
        let checkpoint = Arc::new(ArcSwap::from_pointee(sign(
            &key,
            &opts.origin,
            head.size,
            head.root,
        )?));
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot { head }));
        let seq = LedgerSequencer {
            key: key.clone(),
            origin: opts.origin.clone(),
            checkpoint: checkpoint.clone(),
            snapshot: snapshot.clone(),
            max_events: opts.max_events_per_append,
        };
        let writer = Writer::start(store, head, seq)?;
        Ok(Ledger {
            writer,
            key,
            origin: opts.origin,
            checkpoint,
            snapshot,
        })
    }

    /// Appends the events of one request, atomically and durably. `events` are JSON texts.
    pub async fn append(
        &self,
        actor: &str,
        request_id: &str,
        expected_size: Option<u64>,
        events: Vec<String>,
    ) -> Result<Receipt, LedgerError> {
        if events.is_empty() {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: "an append needs at least one event".into(),
            });
        }
        let mut decoded = Vec::with_capacity(events.len());
        for (i, e) in events.into_iter().enumerate() {
            decoded.push(decode_event(i, e)?);
        }
        let fp = fingerprint(decoded.iter().map(|r| r.get().as_bytes()));
        let req = AppendRequest {
            actor: actor.to_owned(),
            request_id: request_id.to_owned(),
            fingerprint: fp,
            expected_size,
            input: Events(decoded),
        };
        let out = self.writer.append(req).await.map_err(|e| match e {
            AppendError::Invalid(m) => LedgerError::Input {
                index: None,
                field: "request_id".into(),
                problem: m,
            },
            AppendError::RequestIdConflict {
                request_id,
                first_seq,
                count,
                ..
            } => LedgerError::RequestIdConflict {
                request_id,
                first_seq,
                end: first_seq + u64::from(count),
            },
            AppendError::UnexpectedSize { expected, actual } => {
                LedgerError::UnexpectedSize { expected, actual }
            }
            AppendError::Rejected(r) => r,
            AppendError::Storage(m) => LedgerError::Storage(m),
            AppendError::Unavailable(m) => LedgerError::Unavailable(m),
        })?;
        let checkpoint = self.checkpoint_covering(out.head.size.max(out.first_seq + 1))?;
        let size = checkpoint.checkpoint.size;
        let proofs = (0..out.hashes.len() as u64)
            .map(|i| self.inclusion_proof(out.first_seq + i, size))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Receipt {
            first_seq: out.first_seq,
            hashes: out.hashes,
            head: out.head,
            duplicate: out.duplicate,
            checkpoint,
            proofs,
        })
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

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Arc<SignedCheckpoint> {
        self.checkpoint.load_full()
    }

    /// The latest checkpoint if it covers `size` entries, else one signed now at the head.
    fn checkpoint_covering(&self, size: u64) -> Result<SignedCheckpoint, LedgerError> {
        let cp = self.checkpoint.load_full();
        if cp.checkpoint.size >= size {
            return Ok((*cp).clone());
        }
        let head = self.head();
        sign(&self.key, &self.origin, head.size, head.root)
    }

    /// A checkpoint signed now over the first `size` entries (any past size).
    pub fn checkpoint_at(&self, size: u64) -> Result<SignedCheckpoint, LedgerError> {
        let head = self.head();
        if size > head.size {
            return Err(LedgerError::OutOfRange(format!(
                "size {size} is beyond the log's {} entries",
                head.size
            )));
        }
        let r = root(&Blake3, size, self.store().as_ref())
            .map_err(|e| LedgerError::Storage(e.to_string()))?;
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
        inclusion_proof(&Blake3, seq, size, self.store().as_ref())
            .map_err(|e| LedgerError::Storage(e.to_string()))
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
        consistency_proof(&Blake3, old_size, new_size, self.store().as_ref())
            .map_err(|e| LedgerError::Storage(e.to_string()))
    }

    /// One committed entry.
    pub fn entry(&self, seq: u64) -> Result<Entry, LedgerError> {
        if seq >= self.head().size {
            return Err(LedgerError::NotFound(format!(
                "no entry {seq}: the log holds {} entries",
                self.head().size
            )));
        }
        self.store()
            .entry(seq)?
            .ok_or_else(|| LedgerError::Storage(format!("entry {seq} is missing from the store")))
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
            Entry::from_stored(seq, &v)
                .map_err(|e| LedgerError::Storage(format!("entry {seq}: {e}")))
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
            None => {
                // The store may hold entries committed after `head` was read; check up to it.
                let mut v = crate::log::Verifier::new();
                for e in self.entries(0, head.size) {
                    let e = e?;
                    if let Err(f) = v.check(&e) {
                        return Ok(Err(f));
                    }
                    progress(e.seq + 1);
                }
                v.finish(Some(head))
            }
            Some((from, to)) => verify_range(self.store(), from, to.min(head.size), progress)?,
        })
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<Store> {
        self.writer.store()
    }

    /// Stops accepting appends, finishes queued ones, and waits for the writer.
    pub fn shutdown(&self) {
        self.writer.shutdown();
    }
}

fn decode_event(index: usize, text: String) -> Result<Box<RawValue>, LedgerError> {
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| LedgerError::Input {
        index: Some(index),
        field: "event".into(),
        problem: format!("not JSON: {e}"),
    })?;
    if !v.get("type").is_some_and(|t| t.is_string()) {
        return Err(LedgerError::Input {
            index: Some(index),
            field: "type".into(),
            problem: "an event is a JSON object with a string field \"type\"".into(),
        });
    }
    RawValue::from_string(v.to_string()).map_err(|e| LedgerError::Input {
        index: Some(index),
        field: "event".into(),
        problem: e.to_string(),
    })
}

//! The ledger: the log, the Merkle tree, signed checkpoints and the domain state, wired
//! together, and the only door to them: the gRPC services, the HTTP face and the online CLI
//! reach the log, the tree and the state through a [`Ledger`] and nothing below it.
//!
//! - [`append`](append.rs): validate -> sequence -> commit -> apply, and the receipt;
//! - [`open`](open.rs): open a store, rebuild the state (replay and verify, or a state
//!   snapshot and the entries after it), and the background integrity check;
//! - [`check`](check.rs): the dry run, appends judged as `append` would, nothing written;
//! - [`read`](read.rs): the head, checkpoints, proofs, entries, verification, and every
//!   question the services answer, on the committed state or as recorded up to a size;
//! - [`witness`](witness.rs): the checkpoint offered to witnesses, the cosignatures they hand
//!   back, the witnessed checkpoints served;
//! - [`sync`](sync.rs): what mirrors confirm holding, and the wait of `--sync-mirrors`;
//! - [`mirror`](mirror.rs): a mirror's side (the primary's key, status, replicated parts);
//! - [`lease`](lease.rs): the fence of a primary elected through etcd.
//!
//! An append's events are decoded (strictly, `domain::event`) before they reach the writer;
//! on the writer thread each is checked by the domain rules against the state left by the
//! events before it (`domain::rules`), stored as its canonical JSON plus the per-teacher
//! history link, and applied to the pending state, which is published to readers when the
//! commit is durable (see `append.rs` for how a refused append is undone).
//!
//! **Contracts.**
//! - [`Ledger::append`] MUST return only once the append is durable (see `log::writer`), and
//!   answers with a receipt: the entries' sequence numbers and hashes, the head right after
//!   them, a checkpoint signed over that head, and an inclusion proof of each entry against
//!   it. A retry gets the same sequence numbers, hashes and head, and a checkpoint over the
//!   same size and root.
//! - Readers see committed state only: the snapshot and checkpoint are published after the
//!   commit that makes them true, never before.
//! - Opening MUST refuse a store whose head, last entry or Merkle frontier disagree; it does
//!   not repair anything. It verifies every entry it replays: all of them (no usable state
//!   snapshot, or [`LedgerOptions::full_check`]), or those after a state snapshot whose
//!   position it checked against the store (`crate::snapshot`). In the second case the entries
//!   before the snapshot are verified by a background check; if it fails, the ledger refuses
//!   all further service with [`LedgerError::Corrupt`] (see [`Ledger::integrity`]).
//! - The state snapshot is a cache: a bad one is never a reason to refuse to open.

mod append;
mod certificate;
mod check;
mod error;
mod lease;
mod mirror;
mod open;
mod personal;
mod read;
mod sync;
mod view;
mod witness;

pub use append::Events;
pub use append::fingerprint_form;
pub use certificate::CertificateAnswer;
pub use check::{CheckAppend, CheckReport, Checked, MAX_CHECK_EVENTS};
pub use error::{LedgerError, StorageError, StorageKind, io_kind, store_kind};
pub use lease::{Lease, clock_ms};
pub use mirror::{MIRROR_ID_FILE, Mirror, MirrorStatus, PRIMARY_KEY_FILE};
pub use personal::{DATA_KEY_RECORDS_PER_ANSWER, DataKeyRecords, Field, Reader};
pub use sync::{DEFAULT_SYNC_TIMEOUT, MirrorConfirmation, SyncConfig};
pub use view::View;
pub use witness::{Cosigned, DEFAULT_WITNESS_INTERVAL, WitnessConfig};

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::Utc;

use crate::domain::State;
use crate::log::{Failure, Head, Writer};
use crate::merkle::{Checkpoint, CheckpointKey, Digest, SignedCheckpoint};
use crate::metrics::{Metrics, StoreFigures};
use crate::snapshot;

use append::LedgerSequencer;
use open::IntegrityCell;

/// File (in the data directory) holding the checkpoint signing key.
pub const KEY_FILE: &str = "checkpoint.key";

/// How to open a ledger.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// The log's name in checkpoints (e.g. `rotaledger/minhang`); a `gm` ledger's checkpoints
    /// name it with `/gm` added ([`crate::crypto::Profile::checkpoint_origin`]).
    pub origin: String,
    /// The crypto profile: a new store is created with it (`None`: `ROTALEDGER_CRYPTO`, else
    /// blake3), an existing store of another profile is refused (`None`: whatever it holds).
    pub crypto: Option<crate::crypto::Profile>,
    /// The signing key file; default `<data>/checkpoint.key`, generated on first start.
    pub key_file: Option<PathBuf>,
    /// Most events in one append (SPEC rule 8).
    pub max_events_per_append: usize,
    /// Where the master key that wraps the personal-data keys comes from (docs/PRIVACY.md).
    pub master_key: crate::privacy::MasterSource,
    /// Ignore the state snapshot: replay and verify the whole log before opening
    /// (`serve --full-check`).
    pub full_check: bool,
    /// Write a state snapshot in the background every this many committed entries (and
    /// always on [`Ledger::shutdown`]); 0: only on shutdown.
    pub snapshot_every: u64,
    /// After opening from a snapshot, verify the entries before it on a background thread
    /// (and refuse service if they do not verify). Off only for measurements.
    pub background_check: bool,
    /// A read-only mirror of the primary at this address (`serve --follow URL`): the ledger
    /// appends nothing of its own and stores only what [`Ledger::replicate`] hands it.
    pub mirror_of: Option<String>,
    /// The witnesses whose cosignatures the ledger keeps (`serve --witness-key`).
    pub witnesses: WitnessConfig,
    /// Mirrors that must hold an append durably before it is acknowledged
    /// (`serve --sync-mirrors`).
    pub sync: SyncConfig,
    /// The lease of a primary elected through etcd (`serve --etcd`): no append is committed
    /// or acknowledged once it no longer holds. `None`: no election, appends as always.
    pub lease: Option<Lease>,
}

/// Default of [`LedgerOptions::snapshot_every`]: at 1M entries a snapshot takes a few seconds
/// to write on its own thread (3.7 s on a loaded 2-core machine, BENCHMARKS.md), so every
/// 100k entries costs little, and after a crash a restart replays at most ~100k entries.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100_000;

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            origin: "rotaledger".into(),
            crypto: None,
            key_file: None,
            master_key: crate::privacy::MasterSource::DataDir,
            max_events_per_append: 1000,
            full_check: false,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            background_check: true,
            mirror_of: None,
            witnesses: WitnessConfig::default(),
            sync: SyncConfig::default(),
            lease: None,
        }
    }
}

/// How [`Ledger::open`] rebuilt the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// The size of the state snapshot the state was loaded from, if one was used.
    pub snapshot: Option<u64>,
    /// Why no snapshot was used (absent, damaged, another version or log, `full_check`).
    pub snapshot_unused: Option<String>,
    /// Entries replayed and verified on open (all of them without a snapshot).
    pub replayed: u64,
    /// The master key file this start made (a new data directory with no key given).
    pub master_key_created: Option<PathBuf>,
    /// Data keys of erased teachers found still in the key store (an erasure cut by a crash
    /// before its key was destroyed) and destroyed now.
    pub erasures_finished: usize,
}

/// Whether the whole stored log is known to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// Every entry verified (on open, or since by the background check).
    Verified,
    /// Opened from a snapshot: the entries before it are being verified in the background.
    Checking {
        /// The snapshot's size: entries `0..size` are being checked.
        size: u64,
    },
    /// The entries before the snapshot were not checked: the background check is off
    /// ([`LedgerOptions::background_check`]) or was stopped (shutdown) before it finished.
    Unchecked,
    /// The background check found a bad entry: the ledger refuses all service.
    Failed(Failure),
}

/// What an accepted append returns: proof, in hand, of what the ledger accepted.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Sequence number of the first entry.
    pub first_seq: u64,
    /// Entry hashes, in order.
    pub hashes: Vec<Digest>,
    /// The head right after the append's last entry (size `first_seq + hashes.len()`), the
    /// same for a retry as for the first answer (see `log::writer`).
    pub head: Head,
    /// True when this answers a retry and nothing new was appended.
    pub duplicate: bool,
    /// A checkpoint over exactly `head` (its size and root), so it covers the entries.
    pub checkpoint: SignedCheckpoint,
    /// Inclusion proof of each entry against `checkpoint`.
    pub proofs: Vec<Vec<Digest>>,
}

/// Committed state as readers see it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The log position this state reflects.
    pub head: Head,
    /// The domain state folded from the entries `0..head.size`.
    pub state: State,
}

/// An answer together with the log position it was computed at, so a reader can tie it to
/// a checkpoint (and ask for proofs of the entries behind it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positioned<T> {
    /// Number of entries the answer reflects.
    pub size: u64,
    /// Hash of entry `size - 1` (all zero for an empty log).
    pub head_hash: Digest,
    /// The answer.
    pub value: T,
}

fn sign(
    key: &CheckpointKey,
    origin: &str,
    size: u64,
    root: Digest,
) -> Result<SignedCheckpoint, LedgerError> {
    Checkpoint::new(origin, size, root, Utc::now())
        .and_then(|c| c.sign(key))
        .map_err(|e| StorageError::internal("signing a checkpoint", e).into())
}

/// The ledger.
pub struct Ledger {
    writer: Writer<LedgerSequencer>,
    key: Arc<CheckpointKey>,
    origin: String,
    checkpoint: Arc<ArcSwap<SignedCheckpoint>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    max_events: usize,
    snapshots: Arc<snapshot::Scheduler<State>>,
    integrity: Arc<IntegrityCell>,
    opened: OpenReport,
    /// The personal-data keys and the access record.
    privacy: Arc<crate::privacy::Privacy>,
    /// Counters and histograms for `GET /metrics`.
    metrics: Arc<Metrics>,
    /// What a mirror knows of its primary (`None`: this ledger is a primary).
    mirror: Option<Arc<Mirror>>,
    /// The witnesses, their offer and their cosignatures.
    witnesses: witness::Witnesses,
    /// What the mirrors confirmed holding (synchronous mirroring).
    sync: sync::Confirmations,
    /// The fence of an elected primary ([`LedgerOptions::lease`]).
    lease: Option<Lease>,
}

impl Ledger {
    /// What the ledger counts (queries, refusals, subscribers).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Every figure of [`Ledger::metrics`] and of the store's commits, in the Prometheus text
    /// format.
    pub fn render_metrics(&self) -> String {
        let stats = &self.writer.store().stats;
        let s = stats.snapshot();
        let size = self.head().size;
        let mut out = self.metrics.render(
            &StoreFigures {
                appends: s.appends,
                entries: s.entries,
                commits: s.commits,
                data_syncs: s.data_syncs,
                commit_entries: Some(&stats.commit_entries),
                commit_seconds: Some(&stats.commit_seconds),
            },
            size,
        );
        if let Some(m) = &self.mirror {
            crate::metrics::render_mirror(&mut out, m.status().word(), m.primary_size(), size);
        }
        let held: Vec<(String, u64)> = self
            .mirror_confirmations()
            .into_iter()
            .map(|c| (c.mirror, c.size))
            .collect();
        if !held.is_empty() || self.sync_mirrors() > 0 {
            crate::metrics::render_confirmations(&mut out, &held, size);
        }
        out
    }

    /// Stops accepting appends, finishes queued ones, waits for the writer, and saves a state
    /// snapshot at the final head (so the next open replays nothing). A failed snapshot is
    /// logged, never fatal: the log is already durable.
    pub fn shutdown(&self) {
        self.writer.shutdown();
        self.integrity.stop();
        if matches!(self.integrity.get(), Integrity::Checking { .. }) {
            self.integrity.set(Integrity::Unchecked);
        }
        match self.write_snapshot() {
            Ok(Some(w)) => tracing::info!(
                entries = w.size,
                bytes = w.bytes,
                ms = w.elapsed.as_millis() as u64,
                "state snapshot written at shutdown"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "no state snapshot written at shutdown"),
        }
    }
}

impl Drop for Ledger {
    /// Without [`Ledger::shutdown`]: stop the background threads (no snapshot is written) so
    /// that the store is released when the ledger is.
    fn drop(&mut self) {
        self.integrity.stop();
        self.snapshots.stop();
    }
}

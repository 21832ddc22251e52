//! The ledger: the log, the Merkle tree, signed checkpoints and the domain state, wired
//! together. validate -> append -> apply; rebuild on open; reads for the services above.
//!
//! An append's events are decoded (strictly, `domain::event`) before they reach the writer;
//! on the writer thread each is checked by the domain rules against the state left by the
//! events before it (`domain::rules`), stored as its canonical JSON plus the per-teacher
//! history link, and applied to a pending copy of the state. The copy is published to
//! readers when the commit is durable and dropped when the append is refused or the commit
//! fails.
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

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::value::RawValue;
use tokio::sync::watch;

use crate::domain::duty::{SchoolDuty, TeacherDuty, school_duty, teacher_duty};
use crate::domain::eligibility::{Eligibility, eligibility};
use crate::domain::group_summary::{GroupSummary, group_summary};
use crate::domain::history::{TeacherHistory, teacher_history};
use crate::domain::query::QueryError;
use crate::domain::quota::{SchoolQuota, school_quota};
use crate::domain::rules::{Batch, Rejection};
use crate::domain::teams::{TeamView, team, teams};
use crate::domain::terms::{Term, TermQuery, terms};
use crate::domain::vocab::SchoolYear;
use crate::domain::{Event, Meta, State};
use crate::log::entry::{BodyRef, EntryRef};
use crate::log::store::read_ahead;
use crate::log::verify::{verify_prefix, verify_range};
use crate::log::{
    AppendError, AppendRequest, Chain, Entry, Failure, Head, Sequencer, Store, StoreError,
    Verified, Writer, fingerprint,
};
use crate::merkle::{
    Blake3, Checkpoint, CheckpointKey, CompactRange, Digest, SignedCheckpoint, VerifierKey,
    consistency_proof, inclusion_proof, root,
};
use crate::metrics::{Metrics, StoreFigures};
use crate::snapshot;

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
    /// Ignore the state snapshot: replay and verify the whole log before opening
    /// (`serve --full-check`).
    pub full_check: bool,
    /// Write a state snapshot in the background every this many committed entries (and
    /// always on [`Ledger::shutdown`]); 0: only on shutdown.
    pub snapshot_every: u64,
    /// After opening from a snapshot, verify the entries before it on a background thread
    /// (and refuse service if they do not verify). Off only for measurements.
    pub background_check: bool,
}

/// Default of [`LedgerOptions::snapshot_every`]: at 1M entries a snapshot takes a few seconds
/// to write on its own thread (3.7 s on a loaded 2-core machine, BENCHMARKS.md), so every
/// 100k entries costs little, and after a crash a restart replays at most ~100k entries.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100_000;

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            origin: "rotaledger".into(),
            key_file: None,
            max_events_per_append: 1000,
            full_check: false,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            background_check: true,
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

/// The background check's result, shared with its thread.
struct IntegrityCell {
    state: std::sync::Mutex<Integrity>,
    done: std::sync::Condvar,
    stop: std::sync::atomic::AtomicBool,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl IntegrityCell {
    fn new(i: Integrity) -> IntegrityCell {
        IntegrityCell {
            state: std::sync::Mutex::new(i),
            done: std::sync::Condvar::new(),
            stop: std::sync::atomic::AtomicBool::new(false),
            thread: std::sync::Mutex::new(None),
        }
    }

    fn get(&self) -> Integrity {
        match self.state.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, i: Integrity) {
        match self.state.lock() {
            Ok(mut g) => *g = i,
            Err(p) => *p.into_inner() = i,
        }
        self.done.notify_all();
    }

    /// Stops the check (if running) and waits for its thread.
    fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Ok(mut t) = self.thread.lock()
            && let Some(t) = t.take()
        {
            let _ = t.join();
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
    /// The stored log does not verify: the first bad entry and what is wrong. Opening refuses
    /// such a log; nothing repairs it.
    #[error("the log does not verify: first bad entry {}: {}", .0.seq, .0.problem)]
    Corrupt(Failure),
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

/// The writer-side half of the ledger: checks appends, and publishes what was committed.
struct LedgerSequencer {
    key: Arc<CheckpointKey>,
    origin: String,
    checkpoint: Arc<ArcSwap<SignedCheckpoint>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    max_events: usize,
    /// The state as of the last durable commit.
    committed: State,
    /// `committed` plus the appends sequenced since (not yet durable).
    pending: State,
    /// Background snapshots of the committed state.
    snapshots: Arc<snapshot::Scheduler<State>>,
}

/// Events of one append, already decoded.
pub struct Events(Vec<Arc<Event>>);

impl From<Rejection> for LedgerError {
    fn from(r: Rejection) -> Self {
        LedgerError::Rejected {
            index: r.index,
            rule: r.rule.to_owned(),
            message: r.message,
            values: r.values,
        }
    }
}

impl Sequencer for LedgerSequencer {
    type Input = Events;
    type Rejection = LedgerError;

    fn sequence(&mut self, input: &Events, chain: &mut Chain<'_>) -> Result<(), LedgerError> {
        let today = Utc::now().date_naive();
        let limit = self
            .max_events
            .min(self.pending.policy_at(today).max_events_per_append as usize);
        if input.0.len() > limit {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {limit}",
                    input.0.len(),
                ),
            });
        }
        // Everything below works on a clone; `self.pending` changes only if all is accepted.
        let mut batch = Batch::new(&self.pending);
        let mut stamp: Option<(DateTime<Utc>, Arc<str>)> = None;
        for (i, event) in input.0.iter().enumerate() {
            batch.check(i, event)?;
            let state = batch.state();
            let link = state
                .teacher_of(event)
                .map(|t| state.teacher_head(t.as_str()));
            let payload = RawValue::from_string(event.to_stored(link)).map_err(|e| {
                LedgerError::Storage(format!("event {i} did not encode as JSON: {e}"))
            })?;
            let (seq, hash) = chain.push(&payload);
            // Every entry of an append shares its recorded time and actor: read them back
            // from the first entry, exactly as a replay will.
            let (recorded_at, actor) = match &stamp {
                Some(s) => s.clone(),
                None => {
                    let m = chain
                        .entries()
                        .last()
                        .map(|e| e.meta())
                        .transpose()
                        .map_err(|e| LedgerError::Storage(format!("entry {seq}: {e}")))?
                        .ok_or_else(|| LedgerError::Storage(format!("entry {seq} vanished")))?;
                    let s = (m.recorded_at, Arc::<str>::from(m.actor));
                    stamp = Some(s.clone());
                    s
                }
            };
            batch.apply(
                i,
                Meta {
                    seq,
                    hash,
                    recorded_at,
                    actor,
                },
                event.clone(),
            );
        }
        self.pending = batch.finish()?;
        Ok(())
    }

    fn committed(&mut self, head: Head) {
        if let Ok(cp) = sign(&self.key, &self.origin, head.size, head.root) {
            self.checkpoint.store(Arc::new(cp));
        }
        self.committed = self.pending.clone();
        self.snapshot.store(Arc::new(Snapshot {
            head,
            state: self.committed.clone(),
        }));
        self.snapshots.committed(head, &self.committed);
    }

    fn aborted(&mut self) {
        self.pending = self.committed.clone();
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
    max_events: usize,
    snapshots: Arc<snapshot::Scheduler<State>>,
    integrity: Arc<IntegrityCell>,
    opened: OpenReport,
    /// Counters and histograms for `GET /metrics`.
    metrics: Arc<Metrics>,
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
        // The replay reads every entry it folds in anyway, so it also checks every hash, link
        // and the Merkle root against the head: a damaged log is refused here, in the same
        // pass. From a snapshot, it reads and checks only the entries after it.
        let (state, opened, check) = rebuild(dir, &store, head, &opts)?;
        if state.unreadable() > 0 {
            tracing::warn!(
                entries = state.unreadable(),
                "entries whose payload is not a domain event were ignored by the state"
            );
        }
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot {
            head,
            state: state.clone(),
        }));
        let snapshots = Arc::new(
            snapshot::Scheduler::start(
                dir,
                store.clone(),
                opts.snapshot_every,
                opened.snapshot.unwrap_or(0),
            )
            .map_err(|e| LedgerError::Storage(e.to_string()))?,
        );
        let check = check.filter(|p| p.size > 0);
        let integrity = Arc::new(IntegrityCell::new(match check {
            Some(p) if opts.background_check => Integrity::Checking { size: p.size },
            Some(_) => Integrity::Unchecked,
            None => Integrity::Verified,
        }));
        if let Some(p) = check
            && opts.background_check
        {
            start_background_check(store.clone(), p, integrity.clone(), snapshots.clone())?;
        }
        let seq = LedgerSequencer {
            key: key.clone(),
            origin: opts.origin.clone(),
            checkpoint: checkpoint.clone(),
            snapshot: snapshot.clone(),
            max_events: opts.max_events_per_append,
            committed: state.clone(),
            pending: state,
            snapshots: snapshots.clone(),
        };
        let writer = Writer::start(store, head, seq)?;
        Ok(Ledger {
            writer,
            key,
            origin: opts.origin,
            checkpoint,
            snapshot,
            max_events: opts.max_events_per_append,
            snapshots,
            integrity,
            opened,
            metrics: Arc::new(Metrics::default()),
        })
    }

    /// What the ledger counts (queries, refusals, subscribers).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Every figure of [`Ledger::metrics`] and of the store's commits, in the Prometheus text
    /// format.
    pub fn render_metrics(&self) -> String {
        let stats = &self.writer.store().stats;
        let s = stats.snapshot();
        self.metrics.render(
            &StoreFigures {
                appends: s.appends,
                entries: s.entries,
                commits: s.commits,
                data_syncs: s.data_syncs,
                commit_entries: Some(&stats.commit_entries),
                commit_seconds: Some(&stats.commit_seconds),
            },
            self.head().size,
        )
    }

    /// How open rebuilt the state: from a snapshot or not, and how many entries it replayed.
    pub fn open_report(&self) -> &OpenReport {
        &self.opened
    }

    /// Whether the whole log is known to verify (see [`Integrity`]).
    pub fn integrity(&self) -> Integrity {
        self.integrity.get()
    }

    /// Waits for the background check (if any) to end, and returns its verdict.
    pub fn wait_integrity(&self) -> Integrity {
        let mut g = match self.integrity.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        while matches!(*g, Integrity::Checking { .. }) {
            g = match self.integrity.done.wait(g) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
        g.clone()
    }

    /// `Err` once the background check found the log damaged: every service refuses from
    /// then on (the server answers `DATA_LOSS`), as it would have refused to open.
    pub fn check_integrity(&self) -> Result<(), LedgerError> {
        match self.integrity.get() {
            Integrity::Failed(f) => Err(LedgerError::Corrupt(f)),
            _ => Ok(()),
        }
    }

    /// Writes a state snapshot at the committed head now, on this thread (unless the newest
    /// snapshot is already there, the log is empty or failed its check).
    pub fn write_snapshot(&self) -> Result<Option<snapshot::Written>, LedgerError> {
        self.check_integrity()?;
        let snap = self.snapshot.load_full();
        self.snapshots
            .write_now(snap.head, &snap.state)
            .map_err(|e| LedgerError::Storage(e.to_string()))
    }

    /// Appends the events of one request, atomically and durably. `events` are JSON texts.
    pub async fn append(
        &self,
        actor: &str,
        request_id: &str,
        expected_size: Option<u64>,
        events: Vec<String>,
    ) -> Result<Receipt, LedgerError> {
        let r = self
            .append_counted(actor, request_id, expected_size, events)
            .await;
        match &r {
            Err(LedgerError::Rejected { rule, .. }) => self.metrics.rejected(rule),
            Err(
                LedgerError::Input { .. }
                | LedgerError::RequestIdConflict { .. }
                | LedgerError::UnexpectedSize { .. },
            ) => self.metrics.refused_input(),
            _ => {}
        }
        r
    }

    /// [`Ledger::append`] before its refusals are counted.
    async fn append_counted(
        &self,
        actor: &str,
        request_id: &str,
        expected_size: Option<u64>,
        events: Vec<String>,
    ) -> Result<Receipt, LedgerError> {
        self.check_integrity()?;
        if events.is_empty() {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: "an append needs at least one event".into(),
            });
        }
        if events.len() > self.max_events {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {}",
                    events.len(),
                    self.max_events
                ),
            });
        }
        let mut decoded = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let event = Event::decode(e).map_err(|d| LedgerError::Input {
                index: Some(i),
                field: d.field,
                problem: d.problem,
            })?;
            decoded.push(Arc::new(event));
        }
        // The fingerprint covers the canonical forms: a retry that spells the same events
        // differently is still the same append.
        let canonical: Vec<String> = decoded.iter().map(|e| e.to_json()).collect();
        let fp = fingerprint(canonical.iter().map(|c| c.as_bytes()));
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
        // The receipt proves the entries against the answer's own head, so the first answer
        // and every retry carry the same size and root.
        let checkpoint = self.checkpoint_of(out.head)?;
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

    /// A checkpoint over exactly `head` (a committed position): the latest one if it is
    /// that (the common case: an append alone in its commit, answered before the next), else
    /// one signed now over `head.size` and `head.root`.
    fn checkpoint_of(&self, head: Head) -> Result<SignedCheckpoint, LedgerError> {
        let cp = self.checkpoint.load_full();
        if cp.checkpoint.size == head.size && cp.checkpoint.root == head.root {
            return Ok((*cp).clone());
        }
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
            // The store may hold entries committed after `head` was read; check up to it.
            None => verify_prefix(self.store(), head, &|| true, progress)?.ok_or_else(|| {
                LedgerError::Storage("verification stopped before the end".into())
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

    /// A teacher's promotion-credit eligibility as of `as_of` (SPEC 4.3).
    pub fn eligibility(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<Eligibility>, LedgerError> {
        let p = self.query(|s| eligibility(s, teacher, as_of));
        match p.value {
            Some(value) => Ok(Positioned {
                size: p.size,
                head_hash: p.head_hash,
                value,
            }),
            None => Err(LedgerError::NotFound(format!(
                "no teacher {teacher} is registered"
            ))),
        }
    }

    /// Terms matching `q` as of `as_of` (SPEC 4.1).
    pub fn terms(&self, q: &TermQuery, as_of: NaiveDate) -> Positioned<Vec<Term>> {
        self.query(|s| terms(s, q, as_of))
    }

    /// Every team started by `as_of` (SPEC 4.2).
    pub fn teams(&self, as_of: NaiveDate) -> Positioned<Vec<TeamView>> {
        self.query(|s| teams(s, as_of))
    }

    /// One team as of `as_of` (SPEC 4.2).
    pub fn team(&self, id: &str, as_of: NaiveDate) -> Result<Positioned<TeamView>, LedgerError> {
        let p = self.query(|s| team(s, id, as_of));
        match p.value {
            Some(value) => Ok(Positioned {
                size: p.size,
                head_hash: p.head_hash,
                value,
            }),
            None => Err(LedgerError::NotFound(format!(
                "no team {id} has started by {as_of}"
            ))),
        }
    }

    /// The rotation duty of a school's teachers as of `as_of`: who meets rotation
    /// conditions and who is due to rotate (SPEC 4.4).
    pub fn school_duty(
        &self,
        school: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<SchoolDuty>, LedgerError> {
        positioned(self.query(|s| school_duty(s, school, as_of)))
    }

    /// One teacher's rotation duty as of `as_of` (SPEC 4.4).
    pub fn teacher_duty(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<TeacherDuty>, LedgerError> {
        positioned(self.query(|s| {
            teacher_duty(s, teacher, as_of).ok_or_else(|| match s.teacher(teacher) {
                Some(_) => QueryError::NoHomePost {
                    teacher: teacher.to_string(),
                    date: as_of,
                },
                None => QueryError::UnknownTeacher(teacher.to_string()),
            })
        }))
    }

    /// A strong school's quota position for a school year, as of `as_of` (SPEC 4.4).
    pub fn school_quota(
        &self,
        school: &str,
        year: SchoolYear,
        as_of: NaiveDate,
    ) -> Result<Positioned<SchoolQuota>, LedgerError> {
        positioned(self.query(|s| school_quota(s, school, year, as_of)))
    }

    /// A district's or group's summary for a school year, as of `as_of` (SPEC 4.4).
    pub fn group_summary(
        &self,
        group: &str,
        year: SchoolYear,
        as_of: NaiveDate,
    ) -> Result<Positioned<GroupSummary>, LedgerError> {
        positioned(self.query(|s| group_summary(s, group, year, as_of)))
    }

    /// Every entry about a teacher, with chain links, and their summary as of `as_of`
    /// (SPEC 4.5).
    pub fn teacher_history(
        &self,
        teacher: &str,
        as_of: NaiveDate,
    ) -> Result<Positioned<TeacherHistory>, LedgerError> {
        positioned(self.query(|s| teacher_history(s, teacher, as_of)))
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<Store> {
        self.writer.store()
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

/// Rebuilds the state for [`Ledger::open`]: from the state snapshot if there is a usable one
/// (and `opts` allow it), replaying and verifying only the entries after it, else from the
/// whole log. Returns the state, the report, and the position whose prefix still needs the
/// background check.
fn rebuild(
    dir: &Path,
    store: &Store,
    head: Head,
    opts: &LedgerOptions,
) -> Result<(State, OpenReport, Option<Head>), LedgerError> {
    let unused = if opts.full_check {
        "full check asked for".to_string()
    } else {
        match snapshot::load::<State>(dir, store, head).and_then(usable) {
            Ok((loaded, tree)) => {
                let at = loaded.position.head;
                let verifier = crate::log::Verifier::resume(at.hash, tree);
                let state = replay_onto(store, loaded.state, verifier, head.size, Some(head))?;
                tracing::info!(
                    snapshot = at.size,
                    replayed = head.size - at.size,
                    "state loaded from the snapshot; entries after it verified"
                );
                return Ok((
                    state,
                    OpenReport {
                        snapshot: Some(at.size),
                        snapshot_unused: None,
                        replayed: head.size - at.size,
                    },
                    Some(at),
                ));
            }
            Err(snapshot::SnapshotError::Absent) if head.size == 0 => "no state snapshot".into(),
            Err(e) => {
                tracing::warn!(
                    reason = %e,
                    "state snapshot not used; replaying and verifying the whole log"
                );
                e.to_string()
            }
        }
    };
    let state = replay(store, head.size, Some(head))?;
    Ok((
        state,
        OpenReport {
            snapshot: None,
            snapshot_unused: Some(unused),
            replayed: head.size,
        },
        None,
    ))
}

/// The cheap checks of a loaded snapshot's state against its position: it holds exactly the
/// entries before it, the last with the recorded hash.
fn usable(
    l: snapshot::Loaded<State>,
) -> Result<(snapshot::Loaded<State>, CompactRange<Blake3>), snapshot::SnapshotError> {
    let p = l.position.head;
    let bad = |m: String| Err(snapshot::SnapshotError::State(m));
    if l.state.len() != p.size {
        return bad(format!(
            "it holds {} entries, its position says {}",
            l.state.len(),
            p.size
        ));
    }
    if p.size > 0 && l.state.entry(p.size - 1).map(|e| e.meta.hash) != Some(p.hash) {
        return bad(format!("its entry {} is not the log's", p.size - 1));
    }
    match l.position.tree() {
        Some(tree) => Ok((l, tree)),
        None => bad("its Merkle frontier does not fit its size".into()),
    }
}

/// Verifies entries `0..at.size` against `at` on a thread of its own; on failure marks the
/// ledger failed (every service refuses from then on) and stops snapshots.
fn start_background_check(
    store: Arc<Store>,
    at: Head,
    cell: Arc<IntegrityCell>,
    snapshots: Arc<snapshot::Scheduler<State>>,
) -> Result<(), LedgerError> {
    let c = cell.clone();
    let t = std::thread::Builder::new()
        .name("rotaledger-check".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let stopped = || c.stop.load(std::sync::atomic::Ordering::Acquire);
            let mut done = 0;
            let verdict = match verify_prefix(&store, at, &|| !stopped(), &mut |n| done = n) {
                Ok(None) => return,
                Ok(Some(v)) => v.map(|_| ()),
                Err(e) => Err(Failure {
                    seq: done,
                    problem: crate::log::Problem::Undecodable(e.to_string()),
                }),
            };
            match verdict {
                Ok(()) => {
                    tracing::info!(
                        entries = at.size,
                        secs = started.elapsed().as_secs_f64(),
                        "background check: the entries before the state snapshot verify"
                    );
                    c.set(Integrity::Verified);
                }
                Err(f) => {
                    tracing::error!(
                        seq = f.seq,
                        problem = %f.problem,
                        "background check: the stored log does not verify; refusing all further \
                         service. Locate the damage with `rotaledger verify --data DIR` and \
                         restore from the last export (docs/RELIABILITY.md)"
                    );
                    snapshots.halt();
                    c.set(Integrity::Failed(f));
                }
            }
        })
        .map_err(|e| LedgerError::Storage(format!("starting the background check: {e}")))?;
    if let Ok(mut slot) = cell.thread.lock() {
        *slot = Some(t);
    }
    Ok(())
}

/// Moves a projection's error out of the position: the caller is told "no" without a
/// position, exactly as for the other queries.
fn positioned<T>(p: Positioned<Result<T, QueryError>>) -> Result<Positioned<T>, LedgerError> {
    Ok(Positioned {
        size: p.size,
        head_hash: p.head_hash,
        value: p.value?,
    })
}

impl From<QueryError> for LedgerError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::UnknownSchool(_)
            | QueryError::UnknownGroup(_)
            | QueryError::UnknownTeacher(_)
            | QueryError::NoHomePost { .. } => LedgerError::NotFound(e.to_string()),
            QueryError::NoQuotaDuty { .. } => LedgerError::Input {
                index: None,
                field: "school".into(),
                problem: e.to_string(),
            },
            QueryError::YearOutOfRange(_) => LedgerError::Input {
                index: None,
                field: "school_year".into(),
                problem: e.to_string(),
            },
        }
    }
}

/// Entries per message between the replay's threads.
const REPLAY_CHUNK: usize = 1024;

/// Rebuilds the state from the entries `0..size`, verifying them as it goes: every hash, link
/// and position, and with `head`, that the log ends exactly there with that hash and Merkle
/// root ([`LedgerError::Corrupt`] names the first bad entry otherwise).
fn replay(store: &Store, size: u64, head: Option<Head>) -> Result<State, LedgerError> {
    replay_onto(store, State::new(), crate::log::Verifier::new(), size, head)
}

/// One stored entry as read: its key's sequence number and the stored value.
type Read = (u64, sled::IVec);

/// [`replay`] continued from `state` and `verifier` (both at the same position, e.g. a state
/// snapshot's): folds in and verifies the entries from there to `size`.
///
/// Three stages, each on its own thread, in order, handing on chunks of entries: reading
/// from sled; hashing, parsing and decoding each entry and checking it against the chain;
/// applying it to the state. No stage is most of the work (1.7, 2.6 and 1.3 s of CPU at a
/// million entries, measured with perf), so on two cores a pipeline of three keeps both
/// busy, where two stages (read and decode | apply) left the applying one waiting. An error
/// travels down the pipeline behind the entries before it, so the first bad entry is still
/// the one reported.
fn replay_onto(
    store: &Store,
    state: State,
    verifier: crate::log::Verifier,
    size: u64,
    head: Option<Head>,
) -> Result<State, LedgerError> {
    let from = verifier.head().size;
    type Decoded = Vec<(Meta, Option<Event>)>;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Decoded, LedgerError>>(8);
    std::thread::scope(|scope| {
        let read_rx = read_ahead(
            scope,
            store.raw_range(from, size),
            REPLAY_CHUNK,
            8,
            |seq, v| (seq, v),
        );
        scope.spawn(move || {
            let mut verifier = verifier;
            // Appends by the same actor follow each other: share one allocation of the name.
            let mut actor: Arc<str> = Arc::from("");
            for read in read_rx {
                // A read error comes after the entries before it: those are checked first.
                let decoded = read
                    .into_iter()
                    .map(|r| decode_stored_entry(r?, &mut verifier, &mut actor))
                    .collect::<Result<Decoded, LedgerError>>();
                let failed = decoded.is_err();
                if tx.send(decoded).is_err() || failed {
                    return;
                }
            }
            let end = match head {
                Some(h) => verifier.finish(Some(h)).map(|_| ()),
                // A prefix: it must hold exactly `size` entries.
                None => verifier.finish(None).and_then(|v| {
                    if v.head.size == size {
                        Ok(())
                    } else {
                        Err(Failure {
                            seq: v.head.size,
                            problem: crate::log::Problem::Truncated {
                                expected: size,
                                found: v.head.size,
                            },
                        })
                    }
                }),
            };
            let _ = tx.send(end.map(|()| Vec::new()).map_err(LedgerError::Corrupt));
        });
        let mut state = state;
        for decoded in rx {
            for (meta, event) in decoded? {
                state.apply_decoded(meta, event);
            }
        }
        Ok(state)
    })
}

/// One stored entry as the replay needs it: its meta, and its payload decoded (`None`: not
/// a domain event). The entry is read in place (no copy of the stored value), and the payload
/// is decoded while the body is parsed: a payload that decodes is exactly one JSON value,
/// which is all the body check needs to know of it, so each payload is parsed once.
fn decode_stored_entry(
    (seq, v): Read,
    verifier: &mut crate::log::Verifier,
    actor: &mut Arc<str>,
) -> Result<(Meta, Option<Event>), LedgerError> {
    let undecodable = |e: crate::log::entry::DecodeError| {
        LedgerError::Corrupt(Failure {
            seq,
            problem: crate::log::Problem::Undecodable(e.to_string()),
        })
    };
    let entry = EntryRef::from_stored(seq, &v).map_err(undecodable)?;
    let mut event = None;
    let body = BodyRef::parse_with(entry.body, |payload| {
        event = Event::decode_stored_fast(payload).map(|(e, _)| e);
        event.is_some()
    });
    verifier
        .check_ref(&entry, body.as_ref().map(|b| b.seq))
        .map_err(LedgerError::Corrupt)?;
    // The verifier refuses an undecodable body, so this is only the type's other arm.
    let b = body.map_err(|e| LedgerError::Storage(format!("entry {seq}: {e}")))?;
    if **actor != *b.actor {
        *actor = Arc::from(&*b.actor);
    }
    let event = match event {
        Some(e) => Some(e),
        None => Event::decode_stored(b.payload).ok().map(|(e, _)| e),
    };
    Ok((
        Meta {
            seq,
            hash: *entry.hash,
            recorded_at: b.recorded_at,
            actor: actor.clone(),
        },
        event,
    ))
}

//! The single writer: group commit of concurrent appends.
//!
//! **Contracts.**
//! - An append MUST either return with durably assigned sequence numbers, or with an error
//!   and nothing of it written. Its entries become durable in one sled batch with the head and
//!   its idempotency record; the answer is sent only after [`Store::commit`] returned.
//! - Appends are atomic: a [`Sequencer`] that rejects an append discards every entry it
//!   pushed for it; nothing of it reaches the batch.
//! - Concurrent appends share a commit: the writer drains its queue, sequences every append in
//!   arrival order against the state left by the ones before, then commits them all with one
//!   flush and one fdatasync, and only then answers each waiter.
//! - An accepted append is answered with its sequence numbers, hashes and the head right
//!   after its own last entry (size `first_seq + count`, that entry's hash, the Merkle root
//!   of that size), even when later appends share its commit: an answer that depends only
//!   on the append can be given again.
//! - A retried append (same actor and request id, same fingerprint) returns the original
//!   answer (sequence numbers, hashes and head, rebuilt from the store) and appends nothing;
//!   the same id with another fingerprint is a conflict. The record is durable in the same
//!   batch as the entries, so this survives restarts.
//! - After a storage error the writer stops accepting appends (the on-disk state is then
//!   unknown until a restart re-reads it); it never acknowledges anything it could not sync.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::Utc;
use serde_json::value::RawValue;
use tokio::sync::{oneshot, watch};

use super::entry::{Entry, EntryMeta, Hash, check_id, encode_body, format_time};
use super::store::{Head, RequestRecord, Store, StoreError, entry_key, request_key, stage_nodes};
use crate::crypto::Profile;
use crate::merkle::CompactRange;
use crate::merkle::RecentNodes;

/// Most appends drained into one commit; bounds the latency a batch adds to its first waiter.
const MAX_APPENDS_PER_COMMIT: usize = 1024;
/// Stop draining once a commit holds this many entries.
const MAX_ENTRIES_PER_COMMIT: usize = 16 * 1024;

/// Turns one append's input into entries, on the writer thread, in log order.
///
/// Implementations keep whatever state they check appends against (the ledger keeps the
/// domain state). `sequence` MUST leave that state unchanged when it returns `Err`.
pub trait Sequencer: Send + 'static {
    /// What an append carries.
    type Input: Send + 'static;
    /// Why an append was refused.
    type Rejection: Send + std::fmt::Debug + 'static;
    /// Pushes the entries of `input` onto `chain`, or refuses it.
    fn sequence(
        &mut self,
        input: &Self::Input,
        chain: &mut Chain<'_>,
    ) -> Result<(), Self::Rejection>;
    /// Called before a batch is committed: whatever the sequenced entries depend on outside
    /// the store (the ledger's new data keys) must be made durable here. An error fails the
    /// commit like a store error.
    fn prepare(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Everything sequenced since the last call is durable; `head` is the new end of the log.
    fn committed(&mut self, _head: Head) {}
    /// Everything sequenced since the last commit was NOT written: forget it.
    fn aborted(&mut self) {}
    /// Folds in an entry another log wrote, already verified, that the writer is about to
    /// store as it is (a mirror's copy of its primary, see [`Writer::replicate`]), and returns
    /// the form of its payload its append was fingerprinted with (FORMAT.md §1.6), for the
    /// rebuilt idempotency record (the sequencer decodes the payload anyway). Like
    /// [`Sequencer::sequence`], it is undone by [`Sequencer::aborted`] if the commit fails.
    fn replicated(&mut self, _entry: &Entry, meta: &EntryMeta) -> String {
        meta.payload.clone()
    }
}

/// Entries another log wrote, to be stored exactly as they are: a mirror's verified copy of
/// the next part of its primary's log (see [`Writer::replicate`]).
#[derive(Debug, Clone)]
pub struct Replica {
    /// The entries, in order, starting at the log's current size; whole appends only (the
    /// last entry ends an append), so every idempotency record is complete.
    pub entries: Vec<Entry>,
    /// The Merkle root the log must have once they are appended (the primary's signed one).
    pub root: Hash,
    /// Bytes stored with them under the attestation key of the new size (the primary's
    /// signed checkpoint), in the same batch.
    pub attestation: Vec<u8>,
}

/// Why replicated entries were not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// An entry does not continue the log: wrong position, link or hash.
    #[error("entry {}: {}", .0.seq, .0.problem)]
    Invalid(super::Failure),
    /// The entries chain, but do not lead to the root they were sent with.
    #[error(
        "the Merkle root over the first {size} entries is {computed}, not the {expected} signed for them"
    )]
    Root {
        /// The log's size with the entries.
        size: u64,
        /// The root signed for it (hex).
        expected: String,
        /// The root computed here (hex).
        computed: String,
    },
    /// The store failed; nothing is stored.
    #[error("storage failure, nothing stored: {0}")]
    Storage(Arc<StoreError>),
    /// The writer is stopped.
    #[error("the ledger is not taking entries: {0}")]
    Unavailable(String),
}

/// One append as submitted to the writer.
#[derive(Debug)]
pub struct AppendRequest<I> {
    /// The authenticated principal appending.
    pub actor: String,
    /// The client's idempotency key, scoped to `actor`.
    pub request_id: String,
    /// Digest of the append's content: equal for a genuine retry, different for a reuse.
    pub fingerprint: Hash,
    /// Optimistic concurrency: the log size the client expects to append after.
    pub expected_size: Option<u64>,
    /// What the sequencer turns into entries.
    pub input: I,
}

/// What an accepted append (or its retry) returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Sequence number of the first entry written.
    pub first_seq: u64,
    /// Hash of each entry written, in order.
    pub hashes: Vec<Hash>,
    /// The head right after this append's last entry: size `first_seq + hashes.len()`, the
    /// last entry's hash, the Merkle root of that size. The same for the first answer and
    /// every retry, whatever was appended after it (in the same commit or later).
    pub head: Head,
    /// True when this answers a retry: nothing new was appended.
    pub duplicate: bool,
    /// The Merkle nodes the receipt's inclusion proofs need, from the commit that wrote the
    /// entries (see [`RecentNodes`]); `None` for a retry, whose proofs come from the store.
    pub nodes: Option<Arc<RecentNodes>>,
}

/// Why an append was not written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError<R: std::fmt::Debug> {
    /// The actor or request id is malformed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The request id was used before for different content.
    #[error(
        "request id {request_id:?} was already used by {actor:?} for a different append (entries {first_seq}..{})",
        first_seq + u64::from(*count)
    )]
    RequestIdConflict {
        /// The actor.
        actor: String,
        /// The reused id.
        request_id: String,
        /// Where the original append starts.
        first_seq: u64,
        /// How many entries it wrote.
        count: u32,
    },
    /// The log does not end where the client expected.
    #[error("expected the log to hold {expected} entries, it holds {actual}")]
    UnexpectedSize {
        /// What the client said.
        expected: u64,
        /// What the log holds (including appends committed in the same batch before it).
        actual: u64,
    },
    /// The sequencer refused the append.
    #[error("rejected: {0:?}")]
    Rejected(R),
    /// The store failed; nothing of this append is acknowledged. Shared: one failed commit
    /// answers every append it held.
    #[error("storage failure, nothing acknowledged: {0}")]
    Storage(std::sync::Arc<StoreError>),
    /// The writer stopped taking appends after a commit failed with this error: the same
    /// condition (a full disk, a failing device) until the ledger is restarted.
    #[error("the ledger stopped taking appends after a failed commit: {0}")]
    Stopped(std::sync::Arc<StoreError>),
    /// The writer is stopped (shut down, or the tree is full).
    #[error("the ledger is not accepting appends: {0}")]
    Unavailable(String),
}

/// An append's entries under construction. Nothing pushed here reaches the store unless the
/// sequencer returns `Ok`.
pub struct Chain<'a> {
    profile: Profile,
    head: Head,
    recorded_at: &'a str,
    actor: &'a str,
    request_id: &'a str,
    entries: Vec<Entry>,
}

impl Chain<'_> {
    /// The sequence number the next pushed entry will get.
    pub fn next_seq(&self) -> u64 {
        self.head.size
    }

    /// The log's end including what this chain pushed so far.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Entries pushed so far.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends an entry with `payload` (JSON) and returns its sequence number and hash.
    pub fn push(&mut self, payload: &RawValue) -> (u64, Hash) {
        let seq = self.head.size;
        let body = encode_body(seq, self.recorded_at, self.actor, self.request_id, payload);
        let entry = Entry::seal(self.profile, seq, self.head.hash, body);
        let hash = entry.hash;
        self.entries.push(entry);
        self.head.size = seq + 1;
        self.head.hash = hash;
        (seq, hash)
    }
}

/// What the writer is asked to do.
enum Job<S: Sequencer> {
    /// An append, sequenced and committed with whatever else is queued.
    Append {
        req: AppendRequest<S::Input>,
        reply: oneshot::Sender<Result<AppendOutcome, AppendError<S::Rejection>>>,
    },
    /// Replicated entries, committed on their own.
    Replicate {
        replica: Replica,
        reply: oneshot::Sender<Result<Head, ReplicaError>>,
    },
}

/// The write side of the log: submit appends, read the committed head.
pub struct Writer<S: Sequencer> {
    tx: Mutex<Option<mpsc::Sender<Job<S>>>>,
    head: watch::Receiver<Head>,
    thread: Mutex<Option<JoinHandle<()>>>,
    store: Arc<Store>,
}

impl<S: Sequencer> Writer<S> {
    /// Starts the writer thread over `store`, whose checked head is `head`.
    pub fn start(store: Arc<Store>, head: Head, sequencer: S) -> Result<Writer<S>, StoreError> {
        let tree = store.load_tree(head.size)?;
        let (tx, rx) = mpsc::channel::<Job<S>>();
        let (head_tx, head_rx) = watch::channel(head);
        let st = store.clone();
        let thread = std::thread::Builder::new()
            .name("rotaledger-writer".into())
            .spawn(move || run(st, head, tree, sequencer, rx, head_tx))
            .map_err(|e| StoreError::Io {
                path: store.dir().to_path_buf(),
                source: e,
            })?;
        Ok(Writer {
            tx: Mutex::new(Some(tx)),
            head: head_rx,
            thread: Mutex::new(Some(thread)),
            store,
        })
    }

    /// Submits an append and waits until it is durable (or refused).
    pub async fn append(
        &self,
        req: AppendRequest<S::Input>,
    ) -> Result<AppendOutcome, AppendError<S::Rejection>> {
        let rx = self.submit(req)?;
        rx.await
            .unwrap_or_else(|_| Err(AppendError::Unavailable("the writer stopped".into())))
    }

    /// Blocking variant of [`Writer::append`], for threads outside an async runtime.
    pub fn append_blocking(
        &self,
        req: AppendRequest<S::Input>,
    ) -> Result<AppendOutcome, AppendError<S::Rejection>> {
        let rx = self.submit(req)?;
        rx.blocking_recv()
            .unwrap_or_else(|_| Err(AppendError::Unavailable("the writer stopped".into())))
    }

    #[allow(clippy::type_complexity)]
    fn submit(
        &self,
        req: AppendRequest<S::Input>,
    ) -> Result<
        oneshot::Receiver<Result<AppendOutcome, AppendError<S::Rejection>>>,
        AppendError<S::Rejection>,
    > {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Append { req, reply })
            .map_err(|m| AppendError::Unavailable(m.into()))?;
        Ok(rx)
    }

    /// Hands `job` to the writer thread; why not, when it cannot take jobs any more.
    fn send(&self, job: Job<S>) -> Result<(), &'static str> {
        let guard = self.tx.lock().map_err(|_| "writer handle poisoned")?;
        let tx = guard.as_ref().ok_or("the ledger is shutting down")?;
        tx.send(job).map_err(|_| "the writer stopped")
    }

    /// Stores `replica`'s entries exactly as they are, after checking that they continue the
    /// log (position, link and hash of each) and lead to `replica.root`, and waits until they
    /// are durable. Returns the new head. Nothing is stored unless all of them are.
    pub async fn replicate(&self, replica: Replica) -> Result<Head, ReplicaError> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Replicate { replica, reply })
            .map_err(|m| ReplicaError::Unavailable(m.into()))?;
        rx.await
            .unwrap_or_else(|_| Err(ReplicaError::Unavailable("the writer stopped".into())))
    }

    /// The committed head: every entry below it is durable and acknowledged.
    pub fn head(&self) -> Head {
        *self.head.borrow()
    }

    /// A receiver that sees every change of the committed head (for live subscribers).
    pub fn watch_head(&self) -> watch::Receiver<Head> {
        self.head.clone()
    }

    /// The store underneath (for reads).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Stops accepting appends, lets the writer finish what is queued, and waits for it.
    pub fn shutdown(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut t) = self.thread.lock()
            && let Some(t) = t.take()
        {
            let _ = t.join();
        }
    }
}

impl<S: Sequencer> Drop for Writer<S> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Why the writer stopped taking appends.
enum Poison {
    /// A commit failed: later appends are answered with the same error (its kind, e.g. a
    /// full disk, is what their callers need to know), until the ledger is restarted.
    Store(Arc<StoreError>),
    /// Anything else (the tree is full).
    Other(String),
}

/// An append waiting for the commit that makes it durable.
struct Waiting<R: std::fmt::Debug> {
    reply: oneshot::Sender<Result<AppendOutcome, AppendError<R>>>,
    first_seq: u64,
    hashes: Vec<Hash>,
    /// The head right after this append's entries (see [`AppendOutcome::head`]).
    head: Head,
    duplicate: bool,
}

fn run<S: Sequencer>(
    store: Arc<Store>,
    mut head: Head,
    mut tree: CompactRange<Profile>,
    mut seq: S,
    rx: mpsc::Receiver<Job<S>>,
    head_tx: watch::Sender<Head>,
) {
    let mut last_time = Utc::now();
    let mut poisoned: Option<Poison> = None;
    // Appends received but not yet taken into a commit, in arrival order.
    let mut backlog: VecDeque<Job<S>> = VecDeque::new();
    loop {
        if backlog.is_empty() {
            match rx.recv() {
                Ok(j) => backlog.push_back(j),
                Err(_) => break,
            }
        }
        while backlog.len() < MAX_APPENDS_PER_COMMIT {
            match rx.try_recv() {
                Ok(j) => backlog.push_back(j),
                Err(_) => break,
            }
        }
        if let Some(why) = &poisoned {
            for j in backlog.drain(..) {
                match j {
                    Job::Append { reply, .. } => {
                        let _ = reply.send(Err(match why {
                            Poison::Store(e) => AppendError::Stopped(e.clone()),
                            Poison::Other(m) => AppendError::Unavailable(m.clone()),
                        }));
                    }
                    Job::Replicate { reply, .. } => {
                        let _ = reply.send(Err(match why {
                            Poison::Store(e) => ReplicaError::Storage(e.clone()),
                            Poison::Other(m) => ReplicaError::Unavailable(m.clone()),
                        }));
                    }
                }
            }
            continue;
        }
        // One recorded time per commit, never running backwards even if the clock does.
        let now = Utc::now().max(last_time);
        last_time = now;
        let recorded_at = format_time(now);

        let mut batch = sled::Batch::default();
        let mut staged = head;
        // The tree as committed, restored if the commit fails.
        let committed_tree = tree.clone();
        // What the receipts' proofs need: the committed frontier and the nodes completed now.
        let mut recent = RecentNodes::from_tree(&tree);
        let mut waiting: Vec<Waiting<S::Rejection>> = Vec::new();
        // Request ids first used in this very batch, for retries that arrive before the commit:
        // the record, the hashes and the head right after the append.
        let mut pending: HashMap<Vec<u8>, (RequestRecord, Vec<Hash>, Head)> = HashMap::new();
        let mut entries_in_batch = 0usize;
        // Replicated entries are committed on their own, after the appends queued before.
        let mut replica = None;
        // What does not fit this commit stays in the backlog, first in line for the next.
        while entries_in_batch < MAX_ENTRIES_PER_COMMIT {
            let (req, reply) = match backlog.pop_front() {
                None => break,
                Some(Job::Append { req, reply }) => (req, reply),
                Some(job @ Job::Replicate { .. }) => {
                    if waiting.is_empty() {
                        replica = Some(job);
                    } else {
                        backlog.push_front(job);
                    }
                    break;
                }
            };
            if let Err(e) =
                check_id("actor", &req.actor).and(check_id("request id", &req.request_id))
            {
                let _ = reply.send(Err(AppendError::Invalid(e)));
                continue;
            }
            let key = request_key(&req.actor, &req.request_id);
            let prior = match pending.get(&key) {
                Some((rec, hashes, head)) => Some((*rec, Some((hashes.clone(), *head)))),
                None => match store.request(&key) {
                    Ok(r) => r.map(|r| (r, None)),
                    Err(e) => {
                        let _ = reply.send(Err(AppendError::Storage(std::sync::Arc::new(e))));
                        continue;
                    }
                },
            };
            if let Some((rec, hashes)) = prior {
                if rec.fingerprint != req.fingerprint {
                    let _ = reply.send(Err(AppendError::RequestIdConflict {
                        actor: req.actor,
                        request_id: req.request_id,
                        first_seq: rec.first_seq,
                        count: rec.count,
                    }));
                    continue;
                }
                let (hashes, head) = match hashes {
                    Some(h) => h,
                    None => match read_answer(&store, &rec) {
                        Ok(h) => h,
                        Err(e) => {
                            let _ = reply.send(Err(AppendError::Storage(std::sync::Arc::new(e))));
                            continue;
                        }
                    },
                };
                waiting.push(Waiting {
                    reply,
                    first_seq: rec.first_seq,
                    hashes,
                    head,
                    duplicate: true,
                });
                continue;
            }
            if let Some(expected) = req.expected_size
                && expected != staged.size
            {
                let _ = reply.send(Err(AppendError::UnexpectedSize {
                    expected,
                    actual: staged.size,
                }));
                continue;
            }
            let mut chain = Chain {
                profile: store.profile(),
                head: staged,
                recorded_at: &recorded_at,
                actor: &req.actor,
                request_id: &req.request_id,
                entries: Vec::new(),
            };
            match seq.sequence(&req.input, &mut chain) {
                Err(r) => {
                    let _ = reply.send(Err(AppendError::Rejected(r)));
                }
                Ok(()) => {
                    let count = chain.entries.len();
                    let hashes: Vec<Hash> = chain.entries.iter().map(|e| e.hash).collect();
                    for e in &chain.entries {
                        batch.insert(&entry_key(e.seq)[..], e.to_stored());
                        match tree.append(&e.hash) {
                            Ok(nodes) => {
                                stage_nodes(&mut batch, &nodes);
                                recent.extend(&nodes);
                            }
                            // 2^64 entries: unreachable in practice, refused rather than panic.
                            Err(full) => {
                                poisoned = Some(Poison::Other(full.to_string()));
                                break;
                            }
                        }
                    }
                    let rec = RequestRecord {
                        first_seq: staged.size,
                        count: u32::try_from(count).unwrap_or(u32::MAX),
                        fingerprint: req.fingerprint,
                    };
                    let first_seq = staged.size;
                    staged = chain.head;
                    staged.root = tree.root();
                    batch.insert(key.clone(), &rec.to_bytes()[..]);
                    pending.insert(key, (rec, hashes.clone(), staged));
                    entries_in_batch += count;
                    waiting.push(Waiting {
                        reply,
                        first_seq,
                        hashes,
                        head: staged,
                        duplicate: false,
                    });
                }
            }
        }
        let ok = finish(
            &mut seq,
            &store,
            &mut head,
            staged,
            batch,
            waiting,
            Arc::new(recent),
            &head_tx,
            &mut poisoned,
        );
        if !ok {
            tree = committed_tree;
        }
        if let Some(Job::Replicate { replica, reply }) = replica {
            let done = replicate(
                &mut seq,
                &store,
                &mut head,
                &mut tree,
                replica,
                &head_tx,
                &mut poisoned,
            );
            let _ = reply.send(done);
        }
    }
}

/// Checks that `replica` continues the log at `head` and leads to its root, folds its
/// entries into the sequencer and commits them with their idempotency records and
/// attestation. On any failure nothing is stored and the sequencer is told to forget them.
fn replicate<S: Sequencer>(
    seq: &mut S,
    store: &Store,
    head: &mut Head,
    tree: &mut CompactRange<Profile>,
    replica: Replica,
    head_tx: &watch::Sender<Head>,
    poisoned: &mut Option<Poison>,
) -> Result<Head, ReplicaError> {
    // Each body is parsed once, for the check, the sequencer and the idempotency records;
    // the tree grows once, for the root and the nodes stored.
    let mut verifier = super::Verifier::starting_at(store.profile(), head.size, head.hash);
    let mut grown = tree.clone();
    let mut batch = sled::Batch::default();
    let mut metas = Vec::with_capacity(replica.entries.len());
    for e in &replica.entries {
        let meta = e.meta();
        verifier
            .check_parsed(e, &meta)
            .map_err(ReplicaError::Invalid)?;
        batch.insert(&entry_key(e.seq)[..], e.to_stored());
        let nodes = grown.append(&e.hash).map_err(|full| {
            // 2^64 entries: unreachable in practice, refused rather than panic.
            *poisoned = Some(Poison::Other(full.to_string()));
            ReplicaError::Unavailable(full.to_string())
        })?;
        stage_nodes(&mut batch, &nodes);
        metas.push(meta);
    }
    let staged = Head {
        size: grown.size(),
        hash: replica.entries.last().map_or(head.hash, |e| e.hash),
        root: grown.root(),
    };
    if staged.root != replica.root {
        return Err(ReplicaError::Root {
            size: staged.size,
            expected: hex::encode(replica.root),
            computed: hex::encode(staged.root),
        });
    }
    let mut groups = super::groups::RequestGroups::default();
    for (e, meta) in replica.entries.iter().zip(&metas) {
        // The verifier refused any body that does not parse.
        let Ok(meta) = meta else { continue };
        let form = seq.replicated(e, meta);
        groups.push(e.seq, Some(meta), |_| form, &mut batch);
    }
    groups.end(&mut batch);
    batch.insert(
        &super::store::attestation_key(staged.size)[..],
        replica.attestation,
    );
    commit(seq, store, head, staged, batch, head_tx, poisoned).map_err(ReplicaError::Storage)?;
    *tree = grown;
    Ok(staged)
}

/// Makes `batch` durable with `staged` as the new head and publishes it: the head first,
/// then what the sequencer derives from it (the ledger's checkpoint and snapshot), so that
/// whatever a reader loads from those never runs ahead of the head it checks positions
/// against. On failure the sequencer forgets what it sequenced and the writer stops taking
/// writes until a restart (the on-disk state is then unknown).
fn commit<S: Sequencer>(
    seq: &mut S,
    store: &Store,
    head: &mut Head,
    staged: Head,
    batch: sled::Batch,
    head_tx: &watch::Sender<Head>,
    poisoned: &mut Option<Poison>,
) -> Result<(), Arc<StoreError>> {
    if let Err(e) = seq.prepare().and_then(|()| store.commit(batch, staged)) {
        seq.aborted();
        tracing::error!(error = %e, "commit failed; refusing further appends until restart");
        let e = Arc::new(e);
        *poisoned = Some(Poison::Store(e.clone()));
        return Err(e);
    }
    let wrote = staged.size - head.size;
    *head = staged;
    store.stats.entries.fetch_add(wrote, Ordering::Relaxed);
    store.stats.commit_entries.observe(wrote as f64);
    head_tx.send_replace(staged);
    seq.committed(staged);
    Ok(())
}

/// Commits a batch and answers its waiters. Returns false when the commit failed.
#[allow(clippy::too_many_arguments)]
fn finish<S: Sequencer>(
    seq: &mut S,
    store: &Store,
    head: &mut Head,
    staged: Head,
    batch: sled::Batch,
    waiting: Vec<Waiting<S::Rejection>>,
    recent: Arc<RecentNodes>,
    head_tx: &watch::Sender<Head>,
    poisoned: &mut Option<Poison>,
) -> bool {
    if waiting.is_empty() {
        return true;
    }
    if staged.size > head.size
        && let Err(e) = commit(seq, store, head, staged, batch, head_tx, poisoned)
    {
        for w in waiting {
            let _ = w.reply.send(Err(AppendError::Storage(e.clone())));
        }
        return false;
    }
    for w in waiting {
        if !w.duplicate {
            store.stats.appends.fetch_add(1, Ordering::Relaxed);
        }
        let _ = w.reply.send(Ok(AppendOutcome {
            first_seq: w.first_seq,
            hashes: w.hashes,
            head: w.head,
            duplicate: w.duplicate,
            nodes: (!w.duplicate).then(|| recent.clone()),
        }));
    }
    true
}

/// The original answer to the append `rec` records, rebuilt from the store for a retry: its
/// entries' hashes and the head right after them (the Merkle root of that size from the
/// stored nodes, which are never rewritten).
fn read_answer(store: &Store, rec: &RequestRecord) -> Result<(Vec<Hash>, Head), StoreError> {
    let (first, end) = (rec.first_seq, rec.first_seq + u64::from(rec.count));
    let hashes = (first..end)
        .map(|s| {
            store.entry(s)?.map(|e| e.hash).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "entry {s} named by an idempotency record is missing"
                ))
            })
        })
        .collect::<Result<Vec<Hash>, StoreError>>()?;
    let head = store.head_at(end)?;
    Ok((hashes, head))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::log::PassThrough;
    use crate::log::store::ATTESTATION_PREFIX;

    /// A log of appends of 2, 3 and 1 entries from two actors, and its entries.
    fn original(dir: &std::path::Path) -> (Arc<Store>, Vec<Entry>) {
        let store =
            crate::log::written_store(dir, &[("hr", "a", 2), ("ops", "a", 3), ("hr", "b", 1)]);
        let entries = (0..6).map(|s| store.entry(s).unwrap().unwrap()).collect();
        (store, entries)
    }

    fn replica(entries: &[Entry], root: Hash) -> Replica {
        Replica {
            entries: entries.to_vec(),
            root,
            attestation: format!("signed over {}", entries.len()).into_bytes(),
        }
    }

    #[test]
    fn replicated_entries_are_stored_as_they_are_or_not_at_all() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (orig, entries) = original(a.path());
        let copy = Arc::new(Store::open(b.path()).unwrap());
        let w = Writer::start(copy.clone(), copy.check_head().unwrap(), PassThrough).unwrap();
        let root_at = |n: u64| orig.head_at(n).unwrap().root;

        // A root other than the entries lead to: refused, nothing stored.
        let wrong = rt.block_on(w.replicate(replica(&entries[..2], root_at(1))));
        assert!(
            matches!(wrong, Err(ReplicaError::Root { size: 2, .. })),
            "{wrong:?}"
        );
        // An entry whose body was changed: refused at that entry, nothing stored.
        let mut tampered = entries[..2].to_vec();
        let body = String::from_utf8(tampered[1].body.clone()).unwrap();
        tampered[1].body = body.replace("\"n\":2", "\"n\":9").into_bytes();
        let bad = rt.block_on(w.replicate(replica(&tampered, root_at(2))));
        assert!(
            matches!(bad, Err(ReplicaError::Invalid(ref f)) if f.seq == 1),
            "{bad:?}"
        );
        // Not starting at the log's end: refused.
        let gap = rt.block_on(w.replicate(replica(&entries[2..5], root_at(5))));
        assert!(
            matches!(gap, Err(ReplicaError::Invalid(ref f))
                if matches!(f.problem, crate::log::Problem::Gap { expected: 0, found: 2 })),
            "{gap:?}"
        );
        assert_eq!(w.head().size, 0);
        assert!(copy.is_empty());

        // Two parts, each of whole appends: the same log, records and nodes as the original,
        // plus each part's attestation.
        let h = rt
            .block_on(w.replicate(replica(&entries[..2], root_at(2))))
            .unwrap();
        assert_eq!(h, orig.head_at(2).unwrap());
        let h = rt
            .block_on(w.replicate(replica(&entries[2..], root_at(6))))
            .unwrap();
        assert_eq!(h, orig.check_head().unwrap());
        w.shutdown();
        assert_eq!(copy.check_head().unwrap(), orig.check_head().unwrap());
        let (attested, rest): (Vec<_>, Vec<_>) = copy
            .all_records()
            .into_iter()
            .partition(|(k, _)| k[0] == ATTESTATION_PREFIX);
        assert_eq!(rest, orig.all_records());
        assert_eq!(copy.attestation(2).unwrap().unwrap(), &b"signed over 2"[..]);
        assert_eq!(copy.attestation(6).unwrap().unwrap(), &b"signed over 4"[..]);
        assert_eq!(attested.len(), 2);
        assert_eq!(copy.attestation_at_most(5).unwrap().unwrap().0, 2);
    }
}

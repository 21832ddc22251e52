//! Opening a ledger: the store's head checked, the signing key loaded or made, the state
//! rebuilt (replayed and verified, or loaded from a state snapshot with the entries after it
//! verified), and the background check of the entries before that snapshot.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::append::LedgerSequencer;
use super::error::io_kind;
use super::{
    Integrity, KEY_FILE, Ledger, LedgerError, LedgerOptions, OpenReport, Snapshot, StorageError,
    StorageKind, sign,
};
use crate::crypto::Profile;
use crate::domain::{Event, Meta, State};
use crate::log::entry::{BodyRef, EntryRef};
use crate::log::store::read_ahead;
use crate::log::verify::verify_prefix;
use crate::log::{Failure, Head, Store, Writer};
use crate::merkle::{CheckpointKey, CompactRange, KeyError};
use crate::metrics::Metrics;
use crate::snapshot;

/// The background check's result, shared with its thread.
pub(super) struct IntegrityCell {
    pub(super) state: std::sync::Mutex<Integrity>,
    pub(super) done: std::sync::Condvar,
    pub(super) stop: std::sync::atomic::AtomicBool,
    pub(super) thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl IntegrityCell {
    pub(super) fn new(i: Integrity) -> IntegrityCell {
        IntegrityCell {
            state: std::sync::Mutex::new(i),
            done: std::sync::Condvar::new(),
            stop: std::sync::atomic::AtomicBool::new(false),
            thread: std::sync::Mutex::new(None),
        }
    }

    pub(super) fn get(&self) -> Integrity {
        match self.state.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(super) fn set(&self, i: Integrity) {
        match self.state.lock() {
            Ok(mut g) => *g = i,
            Err(p) => *p.into_inner() = i,
        }
        self.done.notify_all();
    }

    /// Stops the check (if running) and waits for its thread.
    pub(super) fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Ok(mut t) = self.thread.lock()
            && let Some(t) = t.take()
        {
            let _ = t.join();
        }
    }
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir`: checks the head, loads or generates the signing
    /// key, rebuilds the state, and starts the writer.
    pub fn open(dir: &Path, mut opts: LedgerOptions) -> Result<Ledger, LedgerError> {
        let key_path = opts.key_file.clone().unwrap_or_else(|| dir.join(KEY_FILE));
        let existing = key_path
            .exists()
            .then(|| CheckpointKey::load(&key_path))
            .transpose();
        // With the key at hand, the state snapshot is read, checked and decoded (most of a
        // restart's work) on a thread of its own while sled opens; its position in the log
        // is checked once the store is open (`rebuild`).
        let early = match (&existing, opts.full_check) {
            (Ok(Some(k)), false) if store_free(dir) => {
                let (dir, key) = (dir.to_path_buf(), snapshot::SnapshotKey::of(k));
                Background::start("snapshot-read", move || snapshot::read::<State>(&dir, &key))
            }
            _ => None,
        };
        let mut store = Store::open_with(dir, opts.crypto)?;
        // A store still empty takes the profile of the key a first start made (a `--crypto gm`
        // start stopped before any append must not come back as blake3 next time).
        if let (Ok(Some(k)), None) = (&existing, opts.crypto)
            && store.profile_open()
        {
            store.choose_profile(k.profile())?;
        }
        let store = Arc::new(store);
        let profile = store.profile();
        if profile == Profile::Blake3 && opts.origin.ends_with(crate::crypto::GM_ORIGIN_SUFFIX) {
            return Err(StorageError::new(
                StorageKind::Internal,
                "the origin",
                format!(
                    "{:?} ends in {:?}, which names ledgers of the gm profile; this one is blake3 (choose another --origin, or --crypto gm for a new data directory)",
                    opts.origin,
                    crate::crypto::GM_ORIGIN_SUFFIX
                ),
            )
            .into());
        }
        opts.origin = profile.checkpoint_origin(&opts.origin);
        let head = store.check_head()?;
        let key = match existing {
            Ok(Some(k)) => Ok(k),
            Ok(None) => CheckpointKey::generate_for(profile, &opts.origin)
                .and_then(|k| k.save(&key_path).map(|_| k)),
            Err(e) => Err(e),
        }
        .map_err(|e| {
            let kind = match &e {
                KeyError::Io { source, .. } => io_kind(source),
                KeyError::Randomness(_) => StorageKind::Internal,
                _ => StorageKind::Corrupt,
            };
            StorageError::new(kind, format!("checkpoint key {}", key_path.display()), e)
        })?;
        if key.profile() != profile {
            return Err(StorageError::new(
                StorageKind::Internal,
                format!("checkpoint key {}", key_path.display()),
                format!(
                    "it is a key for {} ledgers ({}), but this log's crypto profile is {profile}",
                    key.profile(),
                    match key.profile() {
                        Profile::Blake3 => "Ed25519",
                        Profile::Gm => "SM2",
                    }
                ),
            )
            .into());
        }
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
        let snapshot_key = snapshot::SnapshotKey::of(&key);
        // An existing key store is opened (every record read and unwrapped: a third of a
        // restart at a million teachers) on a thread of its own while the state is rebuilt;
        // whether one may be created depends on the state, so a missing one waits for it.
        let open_keys = |create| {
            crate::privacy::Privacy::open_with(dir, &opts.master_key, create, Some(profile))
                .map_err(|e| StorageError::new(StorageKind::Corrupt, "personal data keys", e))
        };
        let key_store_exists = dir.join(crate::privacy::KEY_STORE_FILE).exists();
        let mirror = match &opts.mirror_of {
            Some(primary) => Some(Arc::new(super::Mirror::open(primary.clone(), dir)?)),
            None => None,
        };
        let (rebuilt, early_keys) = std::thread::scope(|s| {
            let keys = key_store_exists.then(|| s.spawn(|| open_keys(true)));
            let early = early.and_then(Background::join);
            let rebuilt = rebuild(dir, &store, head, &opts, &snapshot_key, early);
            (rebuilt, keys.map(|h| h.join()))
        });
        let (state, mut opened, check) = rebuilt?;
        // A new key store (and master key) only for a log that holds nothing sealed: a log
        // restored without its key store is refused, not given keys that open nothing.
        let sealed = state.sealed_teachers();
        let privacy = match early_keys {
            Some(Ok(opened_keys)) => opened_keys?,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            // A mirror holds no data keys (they stay with the primary): its key store is
            // always an empty one of its own.
            None => open_keys(sealed.is_empty() || mirror.is_some())?,
        };
        opened.master_key_created = privacy.master_created.clone();
        if let Some(p) = &privacy.master_created {
            tracing::warn!(
                "no master key was given: made {} (mode 0600) to wrap the personal-data keys; \
                 keep a copy apart from the data directory's backups, or give your own with \
                 --master-key FILE (docs/PRIVACY.md)",
                p.display()
            );
        }
        // A mirror holds the teachers' keys only when it copies them from its primary (given
        // the primary's master key): none is required, but an erased teacher's copy goes too.
        opened.erasures_finished = if mirror.is_none() {
            settle_keys(&privacy, &state, &sealed)?
        } else {
            finish_erasures(&privacy, &state)?
        };
        let privacy = Arc::new(privacy);
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
                snapshot_key,
            )
            .map_err(|e| snapshot_failure("state snapshots", e))?,
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
            since_commit: Vec::new(),
            snapshots: snapshots.clone(),
            privacy: privacy.clone(),
            erasing: Vec::new(),
            mirror: mirror.is_some(),
            actor: Arc::from(""),
            lease: opts.lease.clone(),
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
            privacy,
            metrics: Arc::new(Metrics::default()),
            mirror,
            witnesses: super::witness::Witnesses::new(opts.witnesses),
            sync: super::sync::Confirmations::new(opts.sync, head.size),
            lease: opts.lease.clone(),
        })
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
            .map_err(|e| snapshot_failure("state snapshots", e))
    }
}

/// Whether no other process holds the store in `dir` (sled's lock on its `db` file, taken
/// and let go here at once). A second start over a store in use then fails on the lock as
/// before, without first reading and decoding a state snapshot that can be gigabytes.
fn store_free(dir: &Path) -> bool {
    std::fs::File::open(dir.join("db")).is_ok_and(|f| fs2::FileExt::try_lock_exclusive(&f).is_ok())
}

/// Work started early in [`Ledger::open`] on a thread of its own; joined when dropped, so
/// an open that fails midway leaves no thread behind.
struct Background<T>(Option<std::thread::JoinHandle<T>>);

impl<T: Send + 'static> Background<T> {
    /// `None` if no thread could be started: the caller does the work itself.
    fn start(name: &str, f: impl FnOnce() -> T + Send + 'static) -> Option<Background<T>> {
        let h = std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .ok()?;
        Some(Background(Some(h)))
    }

    /// Its result (a panic on the thread goes on here).
    fn join(mut self) -> Option<T> {
        match self.0.take()?.join() {
            Ok(t) => Some(t),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

/// Rebuilds the state for [`Ledger::open`]: from the state snapshot if there is a usable one
/// (and `opts` allow it; `read`: the snapshot already read and decoded), replaying and
/// verifying only the entries after it, else from the whole log. Returns the state, the
/// report, and the position whose prefix still needs the background check.
fn rebuild(
    dir: &Path,
    store: &Store,
    head: Head,
    opts: &LedgerOptions,
    key: &snapshot::SnapshotKey,
    read: Option<Result<snapshot::Decoded<State>, snapshot::SnapshotError>>,
) -> Result<(State, OpenReport, Option<Head>), LedgerError> {
    let unused = if opts.full_check {
        "full check asked for".to_string()
    } else {
        match read
            .unwrap_or_else(|| snapshot::read::<State>(dir, key))
            .and_then(|d| d.at(store, head))
            .and_then(|l| usable(l, store.profile()))
        {
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
                        master_key_created: None,
                        erasures_finished: 0,
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
            master_key_created: None,
            erasures_finished: 0,
        },
        None,
    ))
}

/// Brings the key store in line with the log: every teacher in `sealed` (whose personal data
/// the log holds sealed, not erased: `State::sealed_teachers`) must have a key, or the start is
/// refused (the store is not this ledger's, or was damaged); an erased teacher's key still present (an erasure cut by a
/// crash after its entry was durable) is destroyed now. Returns how many were destroyed.
fn settle_keys(
    privacy: &crate::privacy::Privacy,
    state: &State,
    sealed: &[crate::domain::id::Id],
) -> Result<usize, LedgerError> {
    let missing: Vec<_> = sealed.iter().filter(|t| !privacy.keys.has(t)).collect();
    if let Some(first) = missing.first() {
        let e = crate::privacy::PrivacyError::KeysMissing {
            store: privacy.keys.path().to_owned(),
            count: missing.len(),
            first: first.to_string(),
        };
        return Err(StorageError::new(StorageKind::Corrupt, "personal data keys", e).into());
    }
    finish_erasures(privacy, state)
}

/// Destroys the key of every erased teacher still in the key store (an erasure cut by a
/// crash after its entry was durable). Returns how many were destroyed.
fn finish_erasures(privacy: &crate::privacy::Privacy, state: &State) -> Result<usize, LedgerError> {
    let mut finished = 0;
    for t in state.erased_teachers() {
        let had = privacy.keys.erase(&t).map_err(|e| {
            StorageError::new(
                StorageKind::Internal,
                format!("erasing the data key of {t}"),
                e,
            )
        })?;
        if had {
            tracing::warn!(teacher = %t, "an erasure cut by a crash is finished: the data key is destroyed now");
            finished += 1;
        }
    }
    Ok(finished)
}

/// The cheap checks of a loaded snapshot's state against its position: it holds exactly the
/// entries before it, the last with the recorded hash.
fn usable(
    l: snapshot::Loaded<State>,
    profile: Profile,
) -> Result<(snapshot::Loaded<State>, CompactRange<Profile>), snapshot::SnapshotError> {
    let p = l.position.head;
    let bad = |m: String| Err(snapshot::SnapshotError::State(m));
    if l.state.len() != p.size {
        return bad(format!(
            "it holds {} entries, its position says {}",
            l.state.len(),
            p.size
        ));
    }
    if p.size > 0 && l.state.entry_hash(p.size - 1) != Some(p.hash) {
        return bad(format!("its entry {} is not the log's", p.size - 1));
    }
    match l.position.tree(profile) {
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
        .map_err(|e| StorageError::internal("starting the background check", e))?;
    if let Ok(mut slot) = cell.thread.lock() {
        *slot = Some(t);
    }
    Ok(())
}

/// Entries per message between the replay's threads.
const REPLAY_CHUNK: usize = 1024;

/// Rebuilds the state from the entries `0..size`, verifying them as it goes: every hash, link
/// and position, and with `head`, that the log ends exactly there with that hash and Merkle
/// root ([`LedgerError::Corrupt`] names the first bad entry otherwise).
pub(super) fn replay(store: &Store, size: u64, head: Option<Head>) -> Result<State, LedgerError> {
    replay_onto(
        store,
        State::new(),
        crate::log::Verifier::new(store.profile()),
        size,
        head,
    )
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
    let b = body.map_err(|e| StorageError::new(StorageKind::Corrupt, format!("entry {seq}"), e))?;
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

/// A state snapshot's failure as a storage error: a file's I/O error by its kind, anything
/// else a fault of the server (the snapshot is a cache; its content never fails a request).
pub(super) fn snapshot_failure(context: &str, e: snapshot::SnapshotError) -> LedgerError {
    let kind = match &e {
        snapshot::SnapshotError::File(f) => io_kind(&f.source),
        _ => StorageKind::Internal,
    };
    StorageError::new(kind, context, e).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_in_use_is_seen_before_its_snapshot_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            !store_free(dir.path()),
            "no store yet: nothing to read early"
        );
        let ledger = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
        assert!(!store_free(dir.path()), "held by the open ledger");
        ledger.shutdown();
        drop(ledger);
        // sled lets go of its lock when its last handle drops, which its threads may delay.
        let free = (0..250).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            store_free(dir.path())
        });
        assert!(free, "free once the ledger is closed");
    }
}

//! The state snapshot: the domain state as of a log position, saved so that a restart
//! replays only the entries after that position instead of the whole log.
//!
//! **Architecture Invariant:** the snapshot is a cache of derived state, never a source of
//! truth. The log is the record; a snapshot that is absent, damaged, written by another
//! version or for another log is ignored (with a warning) and the state is rebuilt from the
//! log, and deleting the file is always safe. Nothing is ever repaired or decided from it.
//!
//! The file, `<data>/state.snapshot` (byte layout in `docs/FORMAT.md` §1.11), holds a header
//! (magic, format version, [`STATE_SCHEMA`], the position: size, the hash of entry
//! `size - 1`, the Merkle root at `size` and the Merkle frontier there), the state in postcard,
//! and a keyed checksum of everything before it (blake3 in keyed mode, under a key derived from
//! the ledger's checkpoint key: [`SnapshotKey`]), so that whoever can write the data directory
//! but does not hold the checkpoint key cannot make a snapshot that a start accepts. It is
//! written through
//! [`AtomicFile`](crate::atomic::AtomicFile): a crash mid-write leaves the previous snapshot.
//!
//! [`read`] (then [`Decoded::at`]) accepts a snapshot only if its checksum and versions match
//! and its position is a position of *this* log: `size <= head.size`, the stored entry
//! `size - 1` has the recorded hash, and the stored Merkle nodes give the recorded frontier
//! and root at `size`. The ledger
//! then verifies the entries `size..head` on top of it (chain and Merkle root at the head).
//!
//! This module knows the log (positions) and serde, not the domain: the state type is a
//! parameter, so the file format is tested on its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::atomic::{AtomicFile, FileError};
use crate::crypto::Profile;
use crate::log::{GENESIS_HASH, Head, Store};
use crate::merkle::{CompactRange, Digest};

/// The snapshot's file name in the data directory.
pub const FILE_NAME: &str = "state.snapshot";
/// The first 8 bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"RLSNAPSH";
/// The layout of the file around the state (header, checksum). Bumped when it changes
/// (2: the checksum is keyed).
pub const FORMAT_VERSION: u32 = 2;
/// The layout of the serialized state, and the meaning of it (what `State::apply` makes of
/// the entries). MUST be bumped whenever a type inside `domain::State` changes shape (a field
/// added, removed, reordered or retyped; a map replaced) or `apply` folds an entry
/// differently: an older snapshot would then decode into the wrong fields or hold a state the
/// new code would not have built. `snapshot_schema_guard` in `tests/snapshot.rs` fails when
/// the encoding of a reference state changes, as a reminder.
pub const STATE_SCHEMA: u32 = 9;

/// Bytes before the frontier: magic, format, schema, size, hash, root, frontier length.
const FIXED_HEADER: usize = 8 + 4 + 4 + 8 + 32 + 32 + 1;
/// The checksum at the end.
const CHECKSUM: usize = 32;

/// Why a snapshot was not written or not used. Never a reason to refuse to open a ledger.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// There is no snapshot file.
    #[error("no state snapshot")]
    Absent,
    /// Reading or writing the file failed.
    #[error("state snapshot file: {0}")]
    File(#[from] FileError),
    /// The bytes are not a snapshot of this format: wrong magic, cut short, bad checksum.
    #[error("the state snapshot is damaged: {0}")]
    Damaged(String),
    /// Written by a version with another file format or state layout.
    #[error(
        "the state snapshot has format {format} and state schema {schema}; this version reads \
         format {FORMAT_VERSION}, schema {STATE_SCHEMA}"
    )]
    Version {
        /// The file's format version.
        format: u32,
        /// The file's state schema.
        schema: u32,
    },
    /// The recorded position is not a position of this log.
    #[error("the state snapshot is not of this log: {0}")]
    Foreign(String),
    /// The state could not be encoded or decoded.
    #[error("the state snapshot's state: {0}")]
    State(String),
}

/// A log position as the snapshot records it: enough to resume verification there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Entries covered, the hash of the last one and the Merkle root over them.
    pub head: Head,
    /// The Merkle frontier at `head.size` (largest subtree first).
    pub frontier: Vec<Digest>,
}

impl Position {
    /// The position at `head`, with its frontier read from the store.
    pub fn of(store: &Store, head: Head) -> Result<Position, SnapshotError> {
        let tree = store
            .load_tree(head.size)
            .map_err(|e| SnapshotError::Foreign(e.to_string()))?;
        Ok(Position {
            head,
            frontier: tree.frontier().to_vec(),
        })
    }

    /// The Merkle frontier as a tree to continue from.
    pub fn tree(&self, profile: Profile) -> Option<CompactRange<Profile>> {
        CompactRange::from_frontier(profile, self.head.size, self.frontier.clone())
    }
}

/// What writing a snapshot cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Entries covered.
    pub size: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Time to serialize, write and sync it.
    pub elapsed: Duration,
}

/// A snapshot accepted by [`read`] and [`Decoded::at`].
#[derive(Debug)]
pub struct Loaded<S> {
    /// Where it was taken (checked against the store).
    pub position: Position,
    /// The state as of that position.
    pub state: S,
    /// File size in bytes.
    pub bytes: u64,
}

/// The snapshot's path in data directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The key of the snapshot's checksum: derived from the ledger's checkpoint key (its secret,
/// with the crypto profile's key derivation and the context `rotaledger state snapshot v1`),
/// so only a holder of the signing key can make a snapshot the ledger accepts.
#[derive(Clone)]
pub struct SnapshotKey([u8; 32]);

impl SnapshotKey {
    /// The snapshot key of the ledger whose checkpoint key is `key`.
    pub fn of(key: &crate::merkle::CheckpointKey) -> SnapshotKey {
        SnapshotKey(key.derive("rotaledger state snapshot v1"))
    }

    /// The checksum of a snapshot's bytes before it (what [`write`] appends).
    pub fn checksum(&self, body: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.0, body).as_bytes()
    }
}

impl std::fmt::Debug for SnapshotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotKey(..)")
    }
}

/// Writes through to the file and the checksum, in large pieces (postcard writes field by
/// field; hashing a few bytes at a time would cost more than the encoding).
struct Checksummed {
    file: AtomicFile,
    hasher: blake3::Hasher,
    buf: Vec<u8>,
    bytes: u64,
}

const CHUNK: usize = 1 << 20;

impl Checksummed {
    fn flush_buf(&mut self) -> std::io::Result<()> {
        self.hasher.update(&self.buf);
        self.file.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl Write for Checksummed {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= CHUNK {
            self.flush_buf()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The header bytes of a snapshot at `position`.
fn header(position: &Position) -> Vec<u8> {
    let mut h = Vec::with_capacity(FIXED_HEADER + 32 * position.frontier.len());
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    h.extend_from_slice(&STATE_SCHEMA.to_be_bytes());
    h.extend_from_slice(&position.head.size.to_be_bytes());
    h.extend_from_slice(&position.head.hash);
    h.extend_from_slice(&position.head.root);
    // At most 64 (one per bit of the size).
    h.push(position.frontier.len() as u8);
    for d in &position.frontier {
        h.extend_from_slice(d);
    }
    h
}

/// Writes the snapshot of `state` at `position` to `<dir>/state.snapshot`, atomically: the
/// previous snapshot stays in place until the new one is complete and synced.
pub fn write<S: Serialize>(
    dir: &Path,
    position: &Position,
    state: &S,
    key: &SnapshotKey,
) -> Result<Written, SnapshotError> {
    let started = Instant::now();
    let out = path(dir);
    let file = AtomicFile::create(&out)?;
    let tmp = file.tmp().to_path_buf();
    let mut w = Checksummed {
        file,
        hasher: blake3::Hasher::new_keyed(&key.0),
        buf: Vec::with_capacity(CHUNK + 4096),
        bytes: 0,
    };
    let io = |source| FileError {
        path: tmp.clone(),
        source,
    };
    let written = w
        .write_all(&header(position))
        .map_err(io)
        .map_err(SnapshotError::from)
        .and_then(|()| {
            // Every optional field written (postcard's fields are positional), each id once.
            crate::domain::binary::writing_snapshot(|| postcard::to_io(state, &mut w))
                .map(|_| ())
                .map_err(|e| SnapshotError::State(e.to_string()))
        })
        .and_then(|()| w.flush_buf().map_err(io).map_err(SnapshotError::from));
    if let Err(e) = written {
        w.file.abandon();
        return Err(e);
    }
    let sum = *w.hasher.finalize().as_bytes();
    let mut file = w.file;
    if let Err(e) = file.write_all(&sum) {
        file.abandon();
        return Err(io(e).into());
    }
    file.commit()?;
    Ok(Written {
        size: position.head.size,
        bytes: w.bytes + CHECKSUM as u64,
        elapsed: started.elapsed(),
    })
}

/// A snapshot file's parts, checksum, magic and versions checked.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The recorded position (not yet checked against a store).
    pub position: Position,
    /// The serialized state.
    pub state: &'a [u8],
}

/// Splits a snapshot file's bytes into its position and state, checking the magic, the
/// format version, the keyed checksum and the state schema. Reads nothing else: any byte
/// string gives `Ok` or an error.
pub fn parse<'a>(bytes: &'a [u8], key: &SnapshotKey) -> Result<Parsed<'a>, SnapshotError> {
    let damaged = |m: &str| Err(SnapshotError::Damaged(m.to_owned()));
    if bytes.len() < FIXED_HEADER + CHECKSUM {
        return damaged(&format!("{} bytes, shorter than any snapshot", bytes.len()));
    }
    if bytes[..8] != MAGIC {
        return damaged("it does not start with the snapshot magic");
    }
    let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM);
    let be32 = |at: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&body[at..at + 4]);
        u32::from_be_bytes(b)
    };
    let (format, schema) = (be32(8), be32(12));
    // The format first, so that an older snapshot (another checksum) is named as such.
    if format != FORMAT_VERSION {
        return Err(SnapshotError::Version { format, schema });
    }
    // Compared in constant time (blake3's `Hash` equality).
    if blake3::keyed_hash(&key.0, body) != blake3::Hash::from_bytes(*arr32(sum)) {
        return damaged(
            "its checksum does not match its contents under this ledger's key (damaged, or not made by this ledger)",
        );
    }
    if schema != STATE_SCHEMA {
        return Err(SnapshotError::Version { format, schema });
    }
    let mut size = [0u8; 8];
    size.copy_from_slice(&body[16..24]);
    let size = u64::from_be_bytes(size);
    let digest = |at: usize| {
        let mut d = [0u8; 32];
        d.copy_from_slice(&body[at..at + 32]);
        d
    };
    let (hash, root) = (digest(24), digest(56));
    let n = usize::from(body[88]);
    if n != size.count_ones() as usize {
        return damaged(&format!(
            "its Merkle frontier has {n} hashes, a tree of {size} needs {}",
            size.count_ones()
        ));
    }
    let state_at = FIXED_HEADER + 32 * n;
    if body.len() < state_at {
        return damaged("it ends inside the Merkle frontier");
    }
    let frontier = (0..n).map(|i| digest(FIXED_HEADER + 32 * i)).collect();
    Ok(Parsed {
        position: Position {
            head: Head { size, hash, root },
            frontier,
        },
        state: &body[state_at..],
    })
}

/// Checks that `position` is a position of the log in `store`, whose (checked) head is
/// `head`: not beyond it, the stored entry `size - 1` has the recorded hash, and the stored
/// Merkle nodes give the recorded frontier and root. O(log n) reads.
pub fn check_position(store: &Store, head: Head, position: &Position) -> Result<(), SnapshotError> {
    let foreign = |m: String| Err(SnapshotError::Foreign(m));
    let p = position.head;
    if p.size > head.size {
        return foreign(format!(
            "it covers {} entries, the log holds {}",
            p.size, head.size
        ));
    }
    let stored = match p.size {
        0 => GENESIS_HASH,
        n => match store.entry(n - 1) {
            Ok(Some(e)) => e.hash,
            Ok(None) => return foreign(format!("entry {} is not stored", n - 1)),
            Err(e) => return foreign(format!("entry {}: {e}", n - 1)),
        },
    };
    if stored != p.hash {
        return foreign(format!(
            "it records hash {} for entry {}, the log has {}",
            hex::encode(p.hash),
            p.size.saturating_sub(1),
            hex::encode(stored)
        ));
    }
    let tree = store
        .load_tree(p.size)
        .map_err(|e| SnapshotError::Foreign(e.to_string()))?;
    if tree.frontier() != position.frontier.as_slice() {
        return foreign(format!(
            "its Merkle frontier at {} differs from the log's stored nodes",
            p.size
        ));
    }
    if tree.root() != p.root {
        return foreign(format!(
            "it records Merkle root {} at {}, the log's nodes give {}",
            hex::encode(p.root),
            p.size,
            hex::encode(tree.root())
        ));
    }
    Ok(())
}

/// The state in the snapshot's encoding (the bytes between the header and the checksum).
pub fn encode<S: Serialize>(state: &S) -> Result<Vec<u8>, SnapshotError> {
    crate::domain::binary::writing_snapshot(|| postcard::to_allocvec(state))
        .map_err(|e| SnapshotError::State(e.to_string()))
}

/// Decodes the state of a parsed snapshot, with its ids read as [`write`] wrote them
/// (`domain::binary::reading_snapshot`, the counterpart of `writing_snapshot`).
pub fn decode<S: DeserializeOwned>(state: &[u8]) -> Result<S, SnapshotError> {
    let (s, rest) =
        crate::domain::binary::reading_snapshot(|| postcard::take_from_bytes::<S>(state))
            .map_err(|e| SnapshotError::State(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapshotError::State(format!(
            "{} bytes left after the state",
            rest.len()
        )));
    }
    Ok(s)
}

/// The last 32 bytes as an array (`bytes` is at least that long: `parse` checked it).
fn arr32(b: &[u8]) -> &[u8; 32] {
    b.first_chunk::<32>().unwrap_or(&[0; 32])
}

/// A snapshot read and decoded but not yet checked against a store: what [`read`] can do
/// before the store is open, so that a start decodes the state while sled opens.
#[derive(Debug)]
pub struct Decoded<S> {
    position: Position,
    /// The decoded state, or why it did not decode: reported only after the position is
    /// checked, in the order the module doc gives.
    state: Result<S, SnapshotError>,
    bytes: u64,
}

/// Reads `<dir>/state.snapshot`, checks its header and keyed checksum, and decodes the state
/// (the checks that need no store). [`Decoded::at`] does the rest.
///
/// The file is mapped, not copied: its bytes are checked and decoded where the page cache
/// holds them. Why: a copy is a buffer as large as the file, in fresh memory the kernel must
/// zero before the copy fills it, held until the state is decoded beside it. At 30M entries
/// that was 4.8 GiB of a restart's 17 GiB peak, and zeroing first-touched pages was 73 % of
/// the restart's samples (docs/BENCHMARKS.md, "30M entries"); mapped pages are the page
/// cache's own, which the kernel can reclaim.
pub fn read<S: DeserializeOwned>(
    dir: &Path,
    key: &SnapshotKey,
) -> Result<Decoded<S>, SnapshotError> {
    let bytes = mapped(dir)?;
    let parsed = parse(&bytes, key)?;
    Ok(Decoded {
        position: parsed.position,
        state: decode(parsed.state),
        bytes: bytes.len() as u64,
    })
}

/// The bytes of `<dir>/state.snapshot` as [`read`] reads them: mapped, or read into memory
/// on a filesystem that cannot map files (`Absent` when there is no snapshot).
pub fn mapped(dir: &Path) -> Result<SnapshotBytes, SnapshotError> {
    let p = path(dir);
    let file = match std::fs::File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SnapshotError::Absent),
        Err(source) => return Err(FileError { path: p, source }.into()),
    };
    match map(&file) {
        Ok(m) => Ok(SnapshotBytes::Mapped(m)),
        // Some filesystems (a FUSE one with direct I/O, for one) refuse to map: read it.
        Err(_) => std::fs::read(&p)
            .map(SnapshotBytes::Read)
            .map_err(|source| FileError { path: p, source }.into()),
    }
}

/// A snapshot file's bytes: mapped, or (where the filesystem cannot map) read.
pub enum SnapshotBytes {
    /// Mapped read-only.
    Mapped(memmap2::Mmap),
    /// Read into memory.
    Read(Vec<u8>),
}

impl std::ops::Deref for SnapshotBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SnapshotBytes::Mapped(m) => m,
            SnapshotBytes::Read(v) => v,
        }
    }
}

/// `file` mapped read-only, its pages read in ahead of use (it is read once, front to back,
/// by the checksum and then by the decoder).
fn map(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: a mapping is sound while no one changes the file under it. This file is only
    // ever replaced whole: every snapshot is written to a temporary file and renamed over
    // the old one (`AtomicFile`), which leaves the inode mapped here untouched; nothing in
    // rotaledger writes a snapshot in place or truncates one. Whoever changes it in place
    // anyway (with the rights to write the data directory) can at worst make the bytes read
    // here change, which the keyed checksum and the decoder's checks reject, or, by
    // truncating it, end the process with SIGBUS during a start: no worse than what those
    // rights allow already (deleting the store).
    let map = unsafe { memmap2::MmapOptions::new().populate().map(file)? };
    // Advice only: a kernel that ignores it reads the file as it is touched.
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

impl<S> Decoded<S> {
    /// The snapshot, if it was taken at a position of the log in `store` (whose checked head
    /// is `head`) and its state decoded.
    pub fn at(self, store: &Store, head: Head) -> Result<Loaded<S>, SnapshotError> {
        check_position(store, head, &self.position)?;
        Ok(Loaded {
            position: self.position,
            state: self.state?,
            bytes: self.bytes,
        })
    }
}

/// `d` in whole microseconds (saturating): how `Scheduler` keeps times in an atomic.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// How long the snapshot thread rests after a background write, as a multiple of the write's
/// own duration: at most one tenth of the time is spent writing snapshots. A snapshot costs
/// the whole state (at 10M entries about 1.5 GB and several seconds), so "every N entries"
/// alone would have a bulk load at province scale rewriting it without pause.
pub const REST_PER_WRITE: u32 = 9;

/// Writes snapshots in the background as the log grows: at most one at a time, on a thread
/// of its own, so the writer thread only hands over an `Arc` of the committed state (an O(1)
/// clone) and never waits for serialization or disk.
pub struct Scheduler<S> {
    dir: PathBuf,
    key: SnapshotKey,
    store: Arc<Store>,
    every: u64,
    /// Size of the newest snapshot on disk (written or loaded); 0 for none.
    last: Arc<AtomicU64>,
    /// When the next background snapshot may start, in microseconds after `epoch`: the last
    /// one's end plus [`REST_PER_WRITE`] times its duration (see [`Scheduler::committed`]).
    not_before: Arc<AtomicU64>,
    epoch: Instant,
    /// A job is queued or running.
    busy: Arc<AtomicBool>,
    /// Set when snapshots must no longer be written (the log failed its check).
    halted: Arc<AtomicBool>,
    tx: Mutex<Option<mpsc::SyncSender<(Head, S)>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<S: Serialize + Send + Sync + 'static> Scheduler<S> {
    /// Starts the snapshot thread for the log in `store` (data directory `dir`): a snapshot
    /// is due once `every` entries were committed after the newest one (`last`, the size of
    /// the snapshot loaded on open, or 0). `every == 0`: only [`Scheduler::write_now`].
    pub fn start(
        dir: &Path,
        store: Arc<Store>,
        every: u64,
        last: u64,
        key: SnapshotKey,
    ) -> Result<Scheduler<S>, SnapshotError> {
        Scheduler::resting(dir, store, (every, last), key, REST_PER_WRITE)
    }

    /// [`Scheduler::start`] with the rest after a write set to `rest_per_write` times its
    /// duration.
    fn resting(
        dir: &Path,
        store: Arc<Store>,
        (every, last): (u64, u64),
        key: SnapshotKey,
        rest_per_write: u32,
    ) -> Result<Scheduler<S>, SnapshotError> {
        let (tx, rx) = mpsc::sync_channel::<(Head, S)>(1);
        let last = Arc::new(AtomicU64::new(last));
        let busy = Arc::new(AtomicBool::new(false));
        let not_before = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let thread = {
            let (to, store, last, busy, key, not_before) = (
                dir.to_path_buf(),
                store.clone(),
                last.clone(),
                busy.clone(),
                key.clone(),
                not_before.clone(),
            );
            std::thread::Builder::new()
                .name("rotaledger-snapshot".into())
                .spawn(move || {
                    for (head, state) in rx {
                        let r =
                            Position::of(&store, head).and_then(|p| write(&to, &p, &state, &key));
                        match r {
                            Ok(w) => {
                                last.store(w.size, Ordering::Release);
                                let rest = w.elapsed.saturating_mul(rest_per_write);
                                not_before.store(
                                    micros(epoch.elapsed().saturating_add(rest)),
                                    Ordering::Release,
                                );
                                tracing::info!(
                                    entries = w.size,
                                    bytes = w.bytes,
                                    ms = w.elapsed.as_millis() as u64,
                                    "state snapshot written"
                                );
                            }
                            // The previous snapshot stays; the next one is tried later.
                            Err(e) => tracing::warn!(error = %e, "state snapshot not written"),
                        }
                        drop(state);
                        busy.store(false, Ordering::Release);
                    }
                })
                .map_err(|source| FileError {
                    path: dir.to_path_buf(),
                    source,
                })?
        };
        Ok(Scheduler {
            dir: dir.to_path_buf(),
            key,
            store,
            every,
            last,
            not_before,
            epoch,
            busy,
            halted: Arc::new(AtomicBool::new(false)),
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Called after every durable commit with the committed head and state: hands them to
    /// the snapshot thread if a snapshot is due and none is in progress. Never blocks.
    ///
    /// Due: `every` entries committed since the newest snapshot, and the rest after the last
    /// background write over ([`REST_PER_WRITE`] times its duration), so that the thread
    /// writes at most a tenth of the time however large the state; a due snapshot that falls
    /// in the rest is taken at the first commit after it.
    /// Returns whether a snapshot was handed over.
    pub fn committed(&self, head: Head, state: &S) -> bool
    where
        S: Clone,
    {
        // The clock is read only for a commit that is due by its size.
        if self.every == 0
            || head.size < self.last.load(Ordering::Acquire).saturating_add(self.every)
            || micros(self.epoch.elapsed()) < self.not_before.load(Ordering::Acquire)
            || self.halted.load(Ordering::Acquire)
            || self.busy.swap(true, Ordering::AcqRel)
        {
            return false;
        }
        let sent = match self.tx.lock() {
            Ok(tx) => tx
                .as_ref()
                .is_some_and(|tx| tx.try_send((head, state.clone())).is_ok()),
            Err(_) => false,
        };
        if !sent {
            self.busy.store(false, Ordering::Release);
        }
        sent
    }

    /// Writes a snapshot of `state` at `head` now, on this thread (graceful shutdown), unless
    /// the newest one is already there, the log is empty or snapshots were halted. Stops the
    /// snapshot thread first so two writes never race.
    pub fn write_now(&self, head: Head, state: &S) -> Result<Option<Written>, SnapshotError> {
        self.stop();
        if head.size == 0 || head.size == self.last() || self.halted.load(Ordering::Acquire) {
            return Ok(None);
        }
        let w = write(
            &self.dir,
            &Position::of(&self.store, head)?,
            state,
            &self.key,
        )?;
        self.last.store(w.size, Ordering::Release);
        Ok(Some(w))
    }
}

impl<S> Scheduler<S> {
    /// No more snapshots from now on (the log failed its background check: its state must
    /// not be saved as if it were good).
    pub fn halt(&self) {
        self.halted.store(true, Ordering::Release);
    }

    /// Size of the newest snapshot on disk (0: none).
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    /// Stops the snapshot thread, letting a snapshot in progress finish.
    pub fn stop(&self) {
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

impl<S> Drop for Scheduler<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests' snapshot key.
    const KEY: SnapshotKey = SnapshotKey([7; 32]);

    fn position(size: u64) -> Position {
        Position {
            head: Head {
                size,
                hash: [7; 32],
                root: [9; 32],
            },
            frontier: (0..size.count_ones()).map(|i| [i as u8; 32]).collect(),
        }
    }

    /// A store holding `n` entries, and the head after each.
    fn store_of(dir: &Path, n: usize) -> (Arc<Store>, Vec<Head>) {
        use crate::log::{AppendRequest, PassThrough, Writer, fingerprint};
        let store = Arc::new(Store::open(dir).unwrap());
        let w = Writer::start(store.clone(), Head::empty(store.profile()), PassThrough).unwrap();
        let heads = (0..n)
            .map(|i| {
                let p = serde_json::value::RawValue::from_string(format!("{{\"i\":{i}}}")).unwrap();
                w.append_blocking(AppendRequest {
                    actor: "t".into(),
                    request_id: format!("r{i}"),
                    fingerprint: fingerprint([p.get().as_bytes()]),
                    expected_size: None,
                    input: vec![p],
                })
                .unwrap()
                .head
            })
            .collect();
        drop(w);
        (store, heads)
    }

    /// Waits (at most 10 s) until the scheduler's newest snapshot is at `size` and its
    /// thread is idle again.
    fn wait_for(s: &Scheduler<Vec<u8>>, size: u64) {
        let t = Instant::now();
        while s.last() != size || s.busy.load(Ordering::Acquire) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "no snapshot at {size}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_background_write_is_followed_by_a_rest_in_proportion() {
        let dir = tempfile::tempdir().unwrap();
        let (store, heads) = store_of(dir.path(), 3);
        let state = vec![1u8; 1000];
        // A rest of a million times the write: nothing more in this test's lifetime.
        let s = Scheduler::resting(dir.path(), store.clone(), (1, 0), KEY, 1_000_000).unwrap();
        assert!(s.committed(heads[0], &state));
        wait_for(&s, 1);
        assert!(
            !s.committed(heads[1], &state),
            "a snapshot started during the rest"
        );
        assert!(
            !s.committed(heads[2], &state),
            "a snapshot started during the rest"
        );
        s.stop();
        // No rest: every due commit gets one as soon as the previous is written.
        let s = Scheduler::resting(dir.path(), store, (1, 1), KEY, 0).unwrap();
        assert!(s.committed(heads[1], &state));
        wait_for(&s, 2);
        assert!(s.committed(heads[2], &state));
        wait_for(&s, 3);
    }

    #[test]
    fn ids_are_written_once_and_decoded_shared() {
        use crate::domain::Id;
        // Longer than an id held inline, so that the decoded ids have an allocation to share.
        let text = "S0001-a-school-code-longer-than-22-bytes";
        let ids = vec![Id::new(text).unwrap(), Id::new(text).unwrap()];
        let bytes = encode(&ids).unwrap();
        assert!(bytes.len() < postcard::to_allocvec(&ids).unwrap().len());
        let back: Vec<Id> = decode(&bytes).unwrap();
        assert_eq!(back, ids);
        assert!(back[0].shares_text_with(&back[1]));
    }

    #[test]
    fn mapped_bytes_are_the_file_and_a_missing_file_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(mapped(dir.path()), Err(SnapshotError::Absent)));
        std::fs::write(path(dir.path()), b"").unwrap();
        assert!(
            mapped(dir.path()).unwrap().is_empty(),
            "an empty file maps to no bytes"
        );
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(path(dir.path()), &bytes).unwrap();
        let m = mapped(dir.path()).unwrap();
        assert!(
            matches!(m, SnapshotBytes::Mapped(_)),
            "a local file is mapped"
        );
        assert_eq!(&m[..], &bytes[..]);
    }

    #[test]
    fn round_trip_and_every_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let state: Vec<(u64, String, Option<u32>)> = (0..1000)
            .map(|i| (i, format!("v{i}"), (i % 3 == 0).then_some(i as u32)))
            .collect();
        let pos = position(11);
        let w = write(dir.path(), &pos, &state, &KEY).unwrap();
        let bytes = std::fs::read(path(dir.path())).unwrap();
        assert_eq!(w.bytes, bytes.len() as u64);
        let p = parse(&bytes, &KEY).unwrap();
        assert_eq!(p.position, pos);
        assert_eq!(
            decode::<Vec<(u64, String, Option<u32>)>>(p.state).unwrap(),
            state
        );

        // Every single flipped byte is caught (by the checksum, or the magic before it).
        for at in (0..bytes.len()).step_by(37).chain([bytes.len() - 1]) {
            let mut b = bytes.clone();
            b[at] ^= 0x10;
            assert!(
                matches!(parse(&b, &KEY), Err(SnapshotError::Damaged(_))),
                "flip at {at}"
            );
        }
        // Cut anywhere.
        for len in [0, 5, 8, 60, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(
                parse(&bytes[..len], &KEY),
                Err(SnapshotError::Damaged(_))
            ));
        }
        // Another version, with a checksum that matches.
        let mut b = bytes[..bytes.len() - CHECKSUM].to_vec();
        b[12..16].copy_from_slice(&(STATE_SCHEMA + 1).to_be_bytes());
        let sum = *blake3::keyed_hash(&KEY.0, &b).as_bytes();
        b.extend_from_slice(&sum);
        assert!(matches!(
            parse(&b, &KEY),
            Err(SnapshotError::Version { format: FORMAT_VERSION, schema }) if schema == STATE_SCHEMA + 1
        ));
        // The same bytes under another ledger's key, or with an unkeyed checksum (what anyone
        // who can write the file but holds no checkpoint key could make): refused.
        assert!(matches!(
            parse(&bytes, &SnapshotKey([8; 32])),
            Err(SnapshotError::Damaged(_))
        ));
        let mut forged = bytes[..bytes.len() - CHECKSUM].to_vec();
        let sum = *blake3::hash(&forged).as_bytes();
        forged.extend_from_slice(&sum);
        assert!(matches!(
            parse(&forged, &KEY),
            Err(SnapshotError::Damaged(_))
        ));
        // An older format is named as such.
        let mut old = bytes.clone();
        old[8..12].copy_from_slice(&1u32.to_be_bytes());
        assert!(matches!(
            parse(&old, &KEY),
            Err(SnapshotError::Version { format: 1, .. })
        ));
        // The state of another type does not decode.
        assert!(decode::<Vec<(String, u64)>>(p.state).is_err());
    }

    #[test]
    fn a_failed_write_leaves_the_previous_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &position(3), &vec![1u8, 2, 3], &KEY).unwrap();
        let before = std::fs::read(path(dir.path())).unwrap();
        /// A state whose serialization fails halfway.
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::{Error, SerializeSeq};
                let mut seq = s.serialize_seq(Some(2))?;
                seq.serialize_element(&1u8)?;
                Err(S::Error::custom("no"))
            }
        }
        assert!(matches!(
            write(dir.path(), &position(4), &Fails, &KEY),
            Err(SnapshotError::State(_))
        ));
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), before);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from(FILE_NAME)]);
    }
}

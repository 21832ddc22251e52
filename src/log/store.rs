//! The sled store that holds the log: key layout, reads, and the durable commit.
//!
//! **Contract.** [`Store::commit`] MUST NOT return `Ok` before the batch is on stable storage:
//! it applies the batch atomically, calls sled's `flush`, and then `fdatasync`s sled's data
//! file and any new blob file itself. sled 0.34's flush on Linux only issues
//! `sync_file_range`, which neither flushes the device's write cache nor the file's metadata,
//! so on its own it is not power-loss safe (see `docs/FORMAT.md`, "Durability").
//! [`Store::open`] MUST leave the store's names durable too: a name survives a power loss
//! only once the directory holding it is synced, so it syncs the parent of every directory it
//! creates, sled's `conf` file, and the store's directory. `tests/power_loss.rs` checks both
//! promises by cutting the power under the real server (docs/RELIABILITY.md, "Power loss").
//!
//! Everything lives in sled's default tree so that one `Batch` covers entries, the head,
//! idempotency records and Merkle nodes: they become durable together or not at all.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::Histogram;

use super::entry::{Entry, EntryRef, GENESIS_HASH, Hash};
use crate::crypto::Profile;
use crate::merkle::{CompactRange, Node, NodeSource, TreeHasher};

/// Key prefix of entries: `b'e' || seq_be64`.
pub const ENTRY_PREFIX: u8 = b'e';
/// Key prefix of idempotency records: `b'r' || actor || 0x00 || request_id`.
pub const REQUEST_PREFIX: u8 = b'r';
/// Key prefix of Merkle nodes: `b't' || level || index_be64`.
pub const NODE_PREFIX: u8 = b't';
/// Key prefix of attestations: `b'a' || size_be64`. A mirror stores the primary's signed
/// checkpoint over each size it committed at, in the same batch as the entries it covers
/// (docs/FORMAT.md §1.12); the log keeps the bytes as given and never reads them itself.
pub const ATTESTATION_PREFIX: u8 = b'a';
/// Key prefix of witnessed checkpoints: `b'w' || size_be64`. The ledger's own signed
/// checkpoint over `size` entries with the witness cosignatures it has collected on it
/// (docs/FORMAT.md §2.9), written outside the log's commits since cosignatures arrive later;
/// never part of the log's history, and replaced only by the same checkpoint with more.
pub const WITNESSED_PREFIX: u8 = b'w';
/// Key of the head record: `size_be64 || hash || merkle_root`.
pub const HEAD_KEY: &[u8] = b"m:head";
/// Key of the crypto profile record: the profile's name (`blake3`, `gm`), written in the same
/// batch as the log's first commit. A store with entries and without it is a blake3 store made
/// before there were profiles; an empty store has none yet, and its profile is still open.
pub const CRYPTO_KEY: &[u8] = b"m:crypto";

/// The end of the log: how many entries it holds, the hash of the last one, and the root of
/// the Merkle tree over all entry hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Number of entries (the next entry's sequence number).
    pub size: u64,
    /// Hash of entry `size - 1`, or [`GENESIS_HASH`] when empty.
    pub hash: Hash,
    /// RFC 9162 tree root (the profile's hash) over the entry hashes `0..size`.
    pub root: Hash,
}

impl Head {
    /// The head of an empty log of this profile.
    pub fn empty(profile: Profile) -> Head {
        Head {
            size: 0,
            hash: GENESIS_HASH,
            root: profile.empty_root(),
        }
    }

    fn to_bytes(self) -> [u8; 72] {
        let mut b = [0u8; 72];
        b[..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..40].copy_from_slice(&self.hash);
        b[40..].copy_from_slice(&self.root);
        b
    }

    fn from_bytes(b: &[u8]) -> Option<Head> {
        if b.len() != 72 {
            return None;
        }
        Some(Head {
            size: u64::from_be_bytes(b[..8].try_into().ok()?),
            hash: b[8..40].try_into().ok()?,
            root: b[40..].try_into().ok()?,
        })
    }
}

/// What the store remembers about an append, keyed by actor and request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    /// Sequence number of the append's first entry.
    pub first_seq: u64,
    /// How many entries it appended.
    pub count: u32,
    /// Digest of the request's content, to tell a retry from a conflicting reuse.
    pub fingerprint: Hash,
}

impl RequestRecord {
    pub(crate) fn to_bytes(self) -> [u8; 44] {
        let mut b = [0u8; 44];
        b[..8].copy_from_slice(&self.first_seq.to_be_bytes());
        b[8..12].copy_from_slice(&self.count.to_be_bytes());
        b[12..].copy_from_slice(&self.fingerprint);
        b
    }

    fn from_bytes(b: &[u8]) -> Option<RequestRecord> {
        if b.len() != 44 {
            return None;
        }
        Some(RequestRecord {
            first_seq: u64::from_be_bytes(b[..8].try_into().ok()?),
            count: u32::from_be_bytes(b[8..12].try_into().ok()?),
            fingerprint: b[12..].try_into().ok()?,
        })
    }
}

/// Storage failures. Every one of them means the store cannot be trusted to continue as is.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an error (I/O, corruption it detected itself, or the store is locked).
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A direct file operation (fdatasync, directory sync) failed.
    #[error("file error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A stored record does not have the shape the format requires.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store was made with another crypto profile than the one asked for; a log's profile
    /// never changes.
    #[error(
        "the store in {dir} holds a {recorded} ledger; it cannot be opened as {wanted} \
         (a log's crypto profile is fixed when it is created)"
    )]
    ProfileMismatch {
        /// The store's directory.
        dir: PathBuf,
        /// The profile the store records.
        recorded: Profile,
        /// The profile asked for.
        wanted: Profile,
    },
    /// No profile could be chosen for a new store (an unknown name in `ROTALEDGER_CRYPTO`).
    #[error("{0}")]
    Profile(#[from] crate::crypto::UnknownProfile),
}

/// Counters that make group commit and the durability path observable (and testable), and
/// the commit histograms `GET /metrics` serves.
#[derive(Debug)]
pub struct Stats {
    /// Appends (requests) acknowledged as written.
    pub appends: AtomicU64,
    /// Entries written.
    pub entries: AtomicU64,
    /// Durable commits: one sled batch + flush + fdatasync each.
    pub commits: AtomicU64,
    /// `fdatasync` calls that completed on sled's data file.
    pub data_syncs: AtomicU64,
    /// Blob files synced (sled stores large values in separate files).
    pub blob_syncs: AtomicU64,
    /// Entries per durable commit (how well group commit batches).
    pub commit_entries: Histogram,
    /// Seconds from applying a commit's batch until it is durable (apply, flush, fdatasync).
    pub commit_seconds: Histogram,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            appends: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            data_syncs: AtomicU64::new(0),
            blob_syncs: AtomicU64::new(0),
            commit_entries: Histogram::new(crate::metrics::COUNTS),
            commit_seconds: Histogram::new(crate::metrics::SECONDS),
        }
    }
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// See [`Stats::appends`].
    pub appends: u64,
    /// See [`Stats::entries`].
    pub entries: u64,
    /// See [`Stats::commits`].
    pub commits: u64,
    /// See [`Stats::data_syncs`].
    pub data_syncs: u64,
    /// See [`Stats::blob_syncs`].
    pub blob_syncs: u64,
}

impl Stats {
    /// Reads all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            appends: self.appends.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            data_syncs: self.data_syncs.load(Ordering::Relaxed),
            blob_syncs: self.blob_syncs.load(Ordering::Relaxed),
        }
    }
}

/// The on-disk log.
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    /// The crypto profile the store was created with (or, while it is empty and unrecorded,
    /// will be recorded with on its first commit).
    profile: Profile,
    /// Whether the profile is settled in the store: recorded, or a store from before the
    /// profiles. False only for an empty store, until its first commit records it.
    profile_recorded: std::sync::atomic::AtomicBool,
    /// sled's data file, opened again by us so that we can fdatasync it.
    data_file: File,
    /// Blob files already synced, so each is synced once.
    synced_blobs: Mutex<HashSet<OsString>>,
    /// The test-only fault [`SKIP_FDATASYNC_ENV`]: always false in a release build.
    skip_data_sync: bool,
    /// Durability and batching counters.
    pub stats: Stats,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Key of entry `seq`.
pub fn entry_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ENTRY_PREFIX;
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Key of the attestation over the log's first `size` entries.
pub fn attestation_key(size: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ATTESTATION_PREFIX;
    k[1..].copy_from_slice(&size.to_be_bytes());
    k
}

/// Key of the witnessed checkpoint over the log's first `size` entries.
pub fn witnessed_key(size: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = WITNESSED_PREFIX;
    k[1..].copy_from_slice(&size.to_be_bytes());
    k
}

/// Key of the idempotency record of `request_id` from `actor`.
pub fn request_key(actor: &str, request_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + actor.len() + request_id.len());
    k.push(REQUEST_PREFIX);
    k.extend_from_slice(actor.as_bytes());
    k.push(0);
    k.extend_from_slice(request_id.as_bytes());
    k
}

/// sled's page cache, in bytes. sled's default (1 GiB) would let the cache alone grow to
/// a gigabyte on a long-running server; the hot part of the log (the tail, the Merkle
/// frontier, recent idempotency records) is small, and everything older is read rarely
/// (proofs, exports, subscribers catching up), so a bounded cache keeps the server's memory
/// proportional to its state, not to the log.
pub const CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// Test-only fault switch, read once by [`Store::open`] in **debug builds only**: set to `1`,
/// the store skips the `fdatasync` of sled's data file in [`Store::commit`] (and says so in a
/// warning), breaking the module contract on purpose. It exists so that the power-loss test
/// can prove it catches a store that acknowledges appends before they are durable
/// (`tests/power_loss.rs`, docs/RELIABILITY.md); a release build has no such switch.
pub const SKIP_FDATASYNC_ENV: &str = "ROTALEDGER_TEST_ONLY_SKIP_FDATASYNC";

/// Whether the [`SKIP_FDATASYNC_ENV`] fault is on (never in a release build).
fn skip_data_sync_fault() -> bool {
    if !cfg!(debug_assertions) {
        return false;
    }
    let on = std::env::var_os(SKIP_FDATASYNC_ENV).is_some_and(|v| v == "1");
    if on {
        tracing::warn!(
            "{SKIP_FDATASYNC_ENV}=1: this debug build skips the fdatasync of every commit; \
             acknowledged appends are NOT durable (a test fault, never for real data)"
        );
    }
    on
}

/// How long [`Store::open`] waits for a lock that a just-closed handle still holds.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

impl Store {
    /// Opens (or creates) the store in `dir`. Fails if another process holds it.
    ///
    /// sled 0.34 releases a closed database's file lock only once its background threads have
    /// let go of it, a moment after the last handle is dropped; so a store closed and reopened
    /// in one process (a restart in tests, `bench`, `serve --demo`) can briefly find its own
    /// lock still held. Opening waits out such a lock for up to [`LOCK_WAIT`] before it
    /// reports it, which is also how long a second server on the same store takes to fail.
    ///
    /// The store's crypto profile is the one it records; an empty store takes
    /// [`Profile::for_new_store`]`(None)` (blake3 unless `ROTALEDGER_CRYPTO` says otherwise),
    /// recorded by its first commit. [`Store::open_with`] asks for a profile.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, None)
    }

    /// [`Store::open`], asking for `want`: a new store is created with it, and an existing
    /// store of another profile is refused ([`StoreError::ProfileMismatch`]).
    pub fn open_with(dir: &Path, want: Option<Profile>) -> Result<Store, StoreError> {
        let mut store = Store::open_raw(dir)?;
        let recorded = match store.db.get(CRYPTO_KEY)? {
            Some(v) => Some(
                std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse::<Profile>().ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "the crypto profile record is not a profile name: {:?}",
                            String::from_utf8_lossy(&v)
                        ))
                    })?,
            ),
            None => None,
        };
        let fresh = store.db.get(HEAD_KEY)?.is_none()
            && store.db.scan_prefix([ENTRY_PREFIX]).next().is_none();
        store.profile = match recorded {
            Some(p) => p,
            // Empty: the profile asked for (else ROTALEDGER_CRYPTO, else blake3), recorded by
            // the first commit in the same atomic batch as the first entry, so nothing but a
            // store that holds entries is ever stamped (a read-only command on an empty
            // directory leaves it open), and no entry is ever without its profile.
            None if fresh => {
                store
                    .profile_recorded
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                Profile::for_new_store(want)?
            }
            None => Profile::Blake3,
        };
        match want {
            Some(w) if w != store.profile => Err(StoreError::ProfileMismatch {
                dir: dir.to_path_buf(),
                recorded: store.profile,
                wanted: w,
            }),
            _ => Ok(store),
        }
    }

    fn open_raw(dir: &Path) -> Result<Store, StoreError> {
        create_dir_durably(dir)?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match sled::Config::new()
                .path(dir)
                // We flush explicitly after every batch; a background flusher would only compete.
                .flush_every_ms(None)
                .mode(sled::Mode::HighThroughput)
                .cache_capacity(CACHE_BYTES)
                .open()
            {
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        let data_path = dir.join("db");
        let data_file = File::open(&data_path).map_err(io_err(&data_path))?;
        // sled writes its settings file (`conf`) without syncing it; lost, sled would silently
        // write a new one from whatever settings the next open passes.
        let conf = dir.join("conf");
        File::open(&conf)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&conf))?;
        // A newly created store's files must survive a crash too: sync the directory entry.
        sync_dir(dir)?;
        Ok(Store {
            db,
            dir: dir.to_path_buf(),
            profile: Profile::Blake3,
            profile_recorded: std::sync::atomic::AtomicBool::new(true),
            data_file,
            synced_blobs: Mutex::new(HashSet::new()),
            skip_data_sync: skip_data_sync_fault(),
            stats: Stats::default(),
        })
    }

    /// The crypto profile of the log.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Whether the store is empty and its profile not yet recorded: [`Store::choose_profile`]
    /// may still set it.
    pub fn profile_open(&self) -> bool {
        !self
            .profile_recorded
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the profile of an empty store whose profile is not recorded yet (e.g. from the
    /// type of the checkpoint key a first start made); refused once the store holds entries.
    pub fn choose_profile(&mut self, profile: Profile) -> Result<(), StoreError> {
        if !self.profile_open() && profile != self.profile {
            return Err(StoreError::ProfileMismatch {
                dir: self.dir.clone(),
                recorded: self.profile,
                wanted: profile,
            });
        }
        self.profile = profile;
        Ok(())
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head as recorded in the store (not checked against the entries).
    pub fn stored_head(&self) -> Result<Head, StoreError> {
        match self.db.get(HEAD_KEY)? {
            None => Ok(Head::empty(self.profile)),
            Some(v) => Head::from_bytes(&v).ok_or_else(|| {
                StoreError::Corrupt(format!("head record is {} bytes, not 72", v.len()))
            }),
        }
    }

    /// Startup check: the stored head must name the last stored entry, that entry's hash must
    /// recompute and link to the one before, and the Merkle frontier read from the stored nodes
    /// must give the stored root. A full check is `verify`'s job; this one costs O(log n) so
    /// that restart stays fast however long the log is.
    pub fn check_head(&self) -> Result<Head, StoreError> {
        let head = self.check_chain_head()?;
        let tree = self.load_tree(head.size)?;
        if tree.root() != head.root {
            return Err(StoreError::Corrupt(format!(
                "the Merkle tree's stored nodes give root {} but the head records root {}",
                hex::encode(tree.root()),
                hex::encode(head.root)
            )));
        }
        Ok(head)
    }

    /// The Merkle frontier at `size`, read from the stored nodes.
    pub fn load_tree(&self, size: u64) -> Result<CompactRange<Profile>, StoreError> {
        CompactRange::load(self.profile, size, self)
            .map_err(|e| StoreError::Corrupt(format!("Merkle tree: {e}")))
    }

    fn check_chain_head(&self) -> Result<Head, StoreError> {
        let head = self.stored_head()?;
        let last = self.last_entry()?;
        match (head.size, last) {
            (0, None) => Ok(head),
            (0, Some(e)) => Err(StoreError::Corrupt(format!(
                "the head record says the log is empty but entry {} is stored",
                e.seq
            ))),
            (n, None) => Err(StoreError::Corrupt(format!(
                "the head record says {n} entries but none is stored"
            ))),
            (n, Some(e)) => {
                if e.seq + 1 != n {
                    return Err(StoreError::Corrupt(format!(
                        "the head record says {n} entries but the last stored entry is {}",
                        e.seq
                    )));
                }
                if e.hash != head.hash {
                    return Err(StoreError::Corrupt(format!(
                        "the head record's hash {} differs from entry {}'s stored hash {}",
                        hex::encode(head.hash),
                        e.seq,
                        hex::encode(e.hash)
                    )));
                }
                if e.computed_hash(self.profile) != e.hash {
                    return Err(StoreError::Corrupt(format!(
                        "entry {} does not hash to its stored hash",
                        e.seq
                    )));
                }
                if e.seq > 0 {
                    let prev = self.entry(e.seq - 1)?.ok_or_else(|| {
                        StoreError::Corrupt(format!("entry {} is missing", e.seq - 1))
                    })?;
                    if prev.hash != e.prev_hash {
                        return Err(StoreError::Corrupt(format!(
                            "entry {} does not link to entry {}",
                            e.seq, prev.seq
                        )));
                    }
                }
                Ok(head)
            }
        }
    }

    /// The head as it stood when the log held `size` entries (any committed size): the hash
    /// of entry `size - 1` and the Merkle root of that size, from the stored entry and nodes
    /// (one entry read and `popcount(size)` node reads). A retried append is answered with
    /// the head right after its own entries, rebuilt here.
    pub fn head_at(&self, size: u64) -> Result<Head, StoreError> {
        let hash = match size {
            0 => GENESIS_HASH,
            n => {
                self.entry(n - 1)?
                    .ok_or_else(|| StoreError::Corrupt(format!("entry {} is missing", n - 1)))?
                    .hash
            }
        };
        let root = crate::merkle::root(&self.profile, size, self)
            .map_err(|e| StoreError::Corrupt(format!("Merkle tree: {e}")))?;
        Ok(Head { size, hash, root })
    }

    /// The entry with the highest sequence number, if any.
    pub fn last_entry(&self) -> Result<Option<Entry>, StoreError> {
        match self.db.scan_prefix([ENTRY_PREFIX]).next_back() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                let seq = seq_of_key(&k)?;
                Entry::from_stored(seq, &v)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("entry {seq}: {e}")))
            }
        }
    }

    /// One entry, undecoded beyond its hash prefix.
    pub fn entry(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        match self.db.get(entry_key(seq))? {
            None => Ok(None),
            Some(v) => Entry::from_stored(seq, &v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("entry {seq}: {e}"))),
        }
    }

    /// Raw stored entries with `from <= seq < to`, in key order, as `(seq, value)`. Gaps are
    /// not filled in: verification must see exactly what is stored.
    pub fn raw_range(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + use<> {
        self.db.range(entry_key(from)..entry_key(to)).map(|kv| {
            let (k, v) = kv?;
            Ok((seq_of_key(&k)?, v))
        })
    }

    /// All raw entries, including any stored past the head (verification reports those).
    pub fn raw_all(&self) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + use<> {
        self.db.scan_prefix([ENTRY_PREFIX]).map(|kv| {
            let (k, v) = kv?;
            Ok((seq_of_key(&k)?, v))
        })
    }

    /// True when the store holds no record at all (a restore goes only into such a store).
    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    /// Every record, in key order: for tests that compare two stores byte for byte.
    #[cfg(test)]
    pub(crate) fn all_records(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.db
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap_or_default()
    }

    /// The idempotency record of a request, if that request was appended.
    pub fn request(&self, key: &[u8]) -> Result<Option<RequestRecord>, StoreError> {
        match self.db.get(key)? {
            None => Ok(None),
            Some(v) => RequestRecord::from_bytes(&v).map(Some).ok_or_else(|| {
                StoreError::Corrupt("idempotency record of the wrong length".into())
            }),
        }
    }

    /// The attestation stored over exactly `size` entries, if any.
    pub fn attestation(&self, size: u64) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.db.get(attestation_key(size))?)
    }

    /// The attestation over the largest size at most `size`, with that size.
    pub fn attestation_at_most(&self, size: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        let found = self
            .db
            .range(attestation_key(0)..=attestation_key(size))
            .next_back()
            .transpose()?;
        Ok(found.and_then(|(k, v)| {
            let at = u64::from_be_bytes(k.get(1..9)?.try_into().ok()?);
            Some((at, v))
        }))
    }

    /// The witnessed checkpoint stored over exactly `size` entries, if any.
    pub fn witnessed(&self, size: u64) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.db.get(witnessed_key(size))?)
    }

    /// The witnessed checkpoints from the largest size down (for "the latest with k").
    pub fn witnessed_newest_first(
        &self,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + use<> {
        self.db.scan_prefix([WITNESSED_PREFIX]).rev().map(|kv| {
            let (k, v) = kv?;
            let size = k
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| {
                    StoreError::Corrupt("witnessed checkpoint key of the wrong length".into())
                })?;
            Ok((size, v))
        })
    }

    /// Stores a witnessed checkpoint over `size` entries, durably before returning (a witness
    /// is told its cosignature is kept only once it is on disk).
    pub fn put_witnessed(&self, size: u64, text: &[u8]) -> Result<(), StoreError> {
        self.db.insert(witnessed_key(size), text)?;
        self.db.flush()?;
        self.sync_files()
    }

    /// A stored value by key (Merkle nodes and other derived records).
    pub fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.db.get(key)?)
    }

    /// Applies `batch` atomically and makes it durable. See the module contract.
    pub fn commit(&self, batch: sled::Batch, head: Head) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut batch = batch;
        batch.insert(HEAD_KEY, &head.to_bytes()[..]);
        let first = self.profile_open();
        if first {
            batch.insert(CRYPTO_KEY, self.profile.name().as_bytes());
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        self.sync_files()?;
        if first {
            self.profile_recorded
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.stats
            .commit_seconds
            .observe_duration(started.elapsed());
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// fdatasync sled's data file and every blob file not synced yet.
    fn sync_files(&self) -> Result<(), StoreError> {
        if !self.skip_data_sync {
            let data_path = self.dir.join("db");
            self.data_file.sync_data().map_err(io_err(&data_path))?;
            self.stats.data_syncs.fetch_add(1, Ordering::Relaxed);
        }
        let blobs = self.dir.join("blobs");
        let Ok(listing) = std::fs::read_dir(&blobs) else {
            return Ok(());
        };
        let mut synced = self
            .synced_blobs
            .lock()
            .map_err(|_| StoreError::Corrupt("blob sync bookkeeping poisoned".into()))?;
        let mut new = false;
        let mut present = HashSet::new();
        for ent in listing {
            let ent = ent.map_err(io_err(&blobs))?;
            let name = ent.file_name();
            if !synced.contains(&name) {
                let path = ent.path();
                File::open(&path)
                    .and_then(|f| f.sync_data())
                    .map_err(io_err(&path))?;
                self.stats.blob_syncs.fetch_add(1, Ordering::Relaxed);
                new = true;
            }
            present.insert(name);
        }
        // Forget blobs sled has since removed, so the set stays as small as the directory.
        *synced = present;
        if new {
            sync_dir(&blobs)?;
        }
        Ok(())
    }
}

/// Key of Merkle node `(level, index)`.
pub fn node_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = NODE_PREFIX;
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The lowest level of the Merkle tree whose nodes are stored (docs/FORMAT.md §2.7). The
/// nodes below it cover at most `2^LOWEST_STORED_LEVEL / 2` entries each and are recomputed
/// from those entries' stored hashes when a proof or a root needs them: storing them would
/// cost two sled keys per entry (15 of every 16 nodes), the largest part of the append
/// path's storage work, to save at most 15 entry reads per proof.
pub const LOWEST_STORED_LEVEL: u8 = 4;

/// Puts into `batch` the nodes an append completed that the store keeps (those at
/// [`LOWEST_STORED_LEVEL`] and above). Every writer of the store (the append path, the
/// import of an export, the worked example) stages its nodes through here.
pub fn stage_nodes(batch: &mut sled::Batch, nodes: &[Node]) {
    for n in nodes.iter().filter(|n| n.level >= LOWEST_STORED_LEVEL) {
        batch.insert(&node_key(n.level, n.index)[..], &n.hash[..]);
    }
}

impl Store {
    /// Node `(level, index)` below [`LOWEST_STORED_LEVEL`], folded from the stored hashes of
    /// the `2^level` entries it covers; an error if any of them is not stored.
    fn computed_node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let missing =
            |why: String| StoreError::Corrupt(format!("Merkle node ({level}, {index}) {why}"));
        let width = 1u64 << level;
        let first = index
            .checked_mul(width)
            .filter(|f| f.checked_add(width).is_some())
            .ok_or_else(|| missing("is past the largest possible tree".into()))?;
        // Leaf hashes, then pairs folded level by level (a perfect subtree, so always pairs).
        let mut hashes: Vec<Hash> = Vec::with_capacity(width as usize);
        for (k, item) in self.raw_range(first, first + width).enumerate() {
            let (seq, v) = item?;
            if seq != first + k as u64 {
                break;
            }
            let e = EntryRef::from_stored(seq, &v)
                .map_err(|e| StoreError::Corrupt(format!("entry {seq}: {e}")))?;
            hashes.push(self.profile.hash_leaf(e.hash));
        }
        if hashes.len() as u64 != width {
            return Err(missing(format!(
                "is missing: entry {} is not stored",
                first + hashes.len() as u64
            )));
        }
        while hashes.len() > 1 {
            hashes = hashes
                .chunks_exact(2)
                .map(|p| self.profile.hash_children(&p[0], &p[1]))
                .collect();
        }
        hashes
            .pop()
            .ok_or_else(|| missing("covers no entry".into()))
    }
}

/// The store serves the Merkle tree's perfect-subtree hashes: those at
/// [`LOWEST_STORED_LEVEL`] and above as stored, those below recomputed from the entries.
impl NodeSource for Store {
    type Error = StoreError;
    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        if level < LOWEST_STORED_LEVEL {
            return self.computed_node(level, index);
        }
        match self.db.get(node_key(level, index))? {
            Some(v) => v.as_ref().try_into().map_err(|_| {
                StoreError::Corrupt(format!("Merkle node ({level}, {index}) is not 32 bytes"))
            }),
            None => Err(StoreError::Corrupt(format!(
                "Merkle node ({level}, {index}) is missing"
            ))),
        }
    }
}

fn seq_of_key(k: &[u8]) -> Result<u64, StoreError> {
    if k.len() != 9 || k[0] != ENTRY_PREFIX {
        return Err(StoreError::Corrupt(format!(
            "malformed entry key {}",
            hex::encode(k)
        )));
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&k[1..]);
    Ok(u64::from_be_bytes(b))
}

/// `create_dir_all`, then a sync of the parent of every directory it created: a new name is
/// durable only once the directory holding it is synced (`fsync(2)`), so without this a
/// store in a directory `open` created could vanish whole at a power loss, acknowledged
/// appends and all.
fn create_dir_durably(dir: &Path) -> Result<(), StoreError> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() {
        missing.push(at);
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    for created in missing.iter().rev() {
        match created.parent() {
            Some(p) if !p.as_os_str().is_empty() => sync_dir(p)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Reads `items` (e.g. [`Store::raw_range`]) on a thread of `scope` and hands them on, in
/// order, in chunks of `chunk` through a channel that holds `depth` chunks, each item first
/// passed through `map` on the reading thread. A read error is sent in its place, after the
/// items before it, and ends the reading; so does dropping the receiver (the reader stops at
/// its next send). The verifier and the replay read this way so that sled's scan runs on a
/// core of its own.
pub fn read_ahead<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    items: impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + Send + 'scope,
    chunk: usize,
    depth: usize,
    map: impl Fn(u64, sled::IVec) -> T + Send + 'scope,
) -> std::sync::mpsc::Receiver<Vec<Result<T, StoreError>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(depth);
    scope.spawn(move || {
        let mut buf = Vec::with_capacity(chunk);
        for item in items {
            let failed = item.is_err();
            buf.push(item.map(|(seq, value)| map(seq, value)));
            if buf.len() == chunk || failed {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(chunk));
                if tx.send(full).is_err() || failed {
                    return;
                }
            }
        }
        let _ = tx.send(buf);
    });
    rx
}

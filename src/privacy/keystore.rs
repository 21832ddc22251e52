//! The key store: one data key per teacher, wrapped by the master key, in one file of fixed
//! 256-byte records beside the log (`<data>/data-keys`, docs/FORMAT.md §1.13).
//!
//! Why not sled: sled keeps old values in its segments until it compacts them, so a removed
//! key could still be read off the disk. Here a key is erased by overwriting its record with
//! zeros in place and syncing the file: the bytes of the wrapped key are gone from the file,
//! not just unlinked from an index. A record never straddles a 4 KiB page, so the overwrite is
//! one sector write on the disks the ledger runs on.
//!
//! Durability: new keys are appended and synced *before* the log commit that uses them
//! ([`KeyStore::flush`] runs in the writer before the sled commit), so an acknowledged entry
//! never holds a value sealed under a key that could be lost. A crash can leave keys of a
//! commit that never happened: harmless, the next registration of that teacher uses its key.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use indexmap::IndexMap;

use super::master::MasterKey;
use super::seal::{DataKey, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::crypto::{Aead, Profile};

/// The key store's file name in the data directory.
pub const KEY_STORE_FILE: &str = "data-keys";

/// Bytes of the header and of every record.
pub const RECORD: usize = 256;
const MAGIC: &[u8; 16] = b"rotaledger-keys1";
/// Where the header names the profile: 0 blake3 (XChaCha20-Poly1305; stores made before there
/// were profiles have 0), 1 gm (SM4-GCM).
const PROFILE_AT: usize = 32;
const ID_MAX: usize = 64;
const SUM_AT: usize = RECORD - 32;
const ID_AT: usize = 2;
const NONCE_AT: usize = ID_AT + ID_MAX;
const WRAPPED_AT: usize = NONCE_AT + NONCE_LEN;
const WRAPPED_LEN: usize = KEY_LEN + TAG_LEN;

/// Why the key store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// A file operation failed.
    #[error("key store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a key store, or a record is damaged.
    #[error("key store {path} is damaged: {problem}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        problem: String,
    },
    /// The master key given is not the one that wrapped this store's keys.
    #[error(
        "key store {path} was made with master key {expected}, but {from} gives master key {given}: start with the master key this data directory was made with (--master-key FILE or ROTALEDGER_MASTER_KEY)"
    )]
    WrongMaster {
        /// The file.
        path: PathBuf,
        /// The id in the store's header.
        expected: String,
        /// The id of the key given.
        given: String,
        /// Where the key given came from.
        from: String,
    },
    /// The store was made for another crypto profile than the log's.
    #[error(
        "key store {path} holds {found} keys, but the log's crypto profile is {log}: it is not this ledger's key store"
    )]
    OtherProfile {
        /// The file.
        path: PathBuf,
        /// The profile its header names.
        found: Profile,
        /// The log's.
        log: Profile,
    },
    /// A teacher id longer than a record holds (ids are at most 64 bytes).
    #[error("teacher id {0:?} is longer than {ID_MAX} bytes")]
    LongId(String),
    /// No randomness for a new key.
    #[error("no randomness for a data key: {0}")]
    Randomness(String),
}

/// A durable key and the record that holds it.
#[derive(Clone, Copy)]
struct Live {
    slot: u64,
    key: DataKey,
}

/// The file and the keys made since the last flush (the writer's side).
struct FileSide {
    file: File,
    /// Records after the header.
    slots: u64,
    /// Keys made since the last flush, by teacher, in the order they were made.
    pending: IndexMap<String, DataKey>,
}

/// The open key store.
pub struct KeyStore {
    path: PathBuf,
    profile: Profile,
    /// The id of the master key that wraps the records (the header's bytes 16..32).
    master_id: [u8; 16],
    wrap: Aead,
    live: RwLock<HashMap<String, Live>>,
    side: Mutex<FileSide>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyStore({})", self.path.display())
    }
}

fn checksum(rec: &[u8]) -> [u8; 32] {
    *blake3::hash(&rec[..SUM_AT]).as_bytes()
}

fn aad(teacher: &str) -> Vec<u8> {
    let mut a = b"rotaledger data key v1\0".to_vec();
    a.extend_from_slice(teacher.as_bytes());
    a
}

fn header(master: &MasterKey, profile: Profile) -> [u8; RECORD] {
    let mut h = [0u8; RECORD];
    h[..16].copy_from_slice(MAGIC);
    h[16..32].copy_from_slice(&master.id(profile));
    h[PROFILE_AT] = match profile {
        Profile::Blake3 => 0,
        Profile::Gm => 1,
    };
    let sum = checksum(&h);
    h[SUM_AT..].copy_from_slice(&sum);
    h
}

/// The crypto profile a key store header (its first [`RECORD`] bytes) names.
pub fn header_profile(h: &[u8]) -> Option<Profile> {
    match h.get(PROFILE_AT) {
        Some(0) => Some(Profile::Blake3),
        Some(1) => Some(Profile::Gm),
        _ => None,
    }
}

/// A live record holding `key` for `teacher`, wrapped by `wrap`: its nonce (24 or 12 bytes)
/// at `NONCE_AT`, zeros after a 12-byte one.
fn record(wrap: &Aead, teacher: &str, key: &DataKey) -> Result<[u8; RECORD], KeyStoreError> {
    if teacher.is_empty() || teacher.len() > ID_MAX {
        return Err(KeyStoreError::LongId(teacher.to_owned()));
    }
    let mut nonce = [0u8; NONCE_LEN];
    let nonce = &mut nonce[..wrap.nonce_len()];
    super::entropy::fill(nonce).map_err(|e| KeyStoreError::Randomness(e.to_string()))?;
    let a = aad(teacher);
    let wrapped = wrap
        .encrypt(nonce, key, &a)
        .map_err(|_| KeyStoreError::Randomness("wrapping failed".into()))?;
    let mut r = [0u8; RECORD];
    r[0] = 1;
    r[1] = teacher.len() as u8;
    r[ID_AT..ID_AT + teacher.len()].copy_from_slice(teacher.as_bytes());
    r[NONCE_AT..NONCE_AT + nonce.len()].copy_from_slice(nonce);
    r[WRAPPED_AT..WRAPPED_AT + WRAPPED_LEN].copy_from_slice(&wrapped);
    let sum = checksum(&r);
    r[SUM_AT..].copy_from_slice(&sum);
    Ok(r)
}

/// What one record holds: nothing (erased), or a teacher's key.
fn read_record(wrap: &Aead, rec: &[u8]) -> Result<Option<(String, DataKey)>, String> {
    if rec.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    if checksum(rec) != rec[SUM_AT..] {
        return Err("its checksum does not match".into());
    }
    let len = usize::from(rec[1]);
    if rec[0] != 1 || len == 0 || len > ID_MAX {
        return Err("it is not a key record".into());
    }
    let teacher = std::str::from_utf8(&rec[ID_AT..ID_AT + len])
        .map_err(|_| "its teacher id is not UTF-8".to_string())?
        .to_owned();
    let a = aad(&teacher);
    let key = wrap
        .decrypt(
            &rec[NONCE_AT..NONCE_AT + wrap.nonce_len()],
            &rec[WRAPPED_AT..WRAPPED_AT + WRAPPED_LEN],
            &a,
        )
        .map_err(|_| format!("the key of {teacher} does not unwrap with the master key"))?;
    let key: DataKey = key
        .try_into()
        .map_err(|_| format!("the key of {teacher} is not {KEY_LEN} bytes"))?;
    Ok(Some((teacher, key)))
}

impl KeyStore {
    /// Whether a key store file exists at `path`.
    pub fn exists(path: &Path) -> bool {
        path.exists()
    }

    /// Opens the key store at `path` (creating an empty one for `profile` if there is none),
    /// checking the master key against its header and every record: a store that does not
    /// read whole is refused, like a damaged log. A torn record at the very end (a flush cut
    /// by a crash, never acknowledged) is cut off. With `profile`, a store of another profile
    /// is refused; without, the store's own is used (offline commands).
    pub fn open(
        path: &Path,
        master: &MasterKey,
        profile: Option<Profile>,
    ) -> Result<KeyStore, KeyStoreError> {
        let io = |source| KeyStoreError::Io {
            path: path.to_owned(),
            source,
        };
        let damaged = |problem: String| KeyStoreError::Damaged {
            path: path.to_owned(),
            problem,
        };
        let fresh = !path.exists();
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(io)?;
        if fresh {
            file.write_all(&header(master, profile.unwrap_or_default()))
                .map_err(io)?;
            file.sync_all().map_err(io)?;
            if let Some(dir) = path.parent() {
                crate::atomic::sync_dir(dir).map_err(io)?;
            }
        }
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() < RECORD
            || &bytes[..16] != MAGIC
            || checksum(&bytes[..RECORD]) != bytes[SUM_AT..RECORD]
        {
            return Err(damaged(
                "its header is not a rotaledger key store header".into(),
            ));
        }
        let found = header_profile(&bytes[..RECORD])
            .ok_or_else(|| damaged("its header names no crypto profile".into()))?;
        if let Some(log) = profile
            && log != found
        {
            return Err(KeyStoreError::OtherProfile {
                path: path.to_owned(),
                found,
                log,
            });
        }
        if bytes[16..32] != master.id(found) {
            return Err(KeyStoreError::WrongMaster {
                path: path.to_owned(),
                expected: hex::encode(&bytes[16..32]),
                given: hex::encode(master.id(found)),
                from: master.from.clone(),
            });
        }
        let wrap = master.wrapping(found);
        let whole = (bytes.len() - RECORD) / RECORD;
        let mut live = HashMap::with_capacity(whole);
        let mut good_end = 0usize;
        let mut bad: Option<(usize, String)> = None;
        for i in 0..whole {
            let at = RECORD + i * RECORD;
            match read_record(&wrap, &bytes[at..at + RECORD]) {
                Ok(found) => {
                    if let Some((why_slot, problem)) = bad.take() {
                        return Err(damaged(format!("record {why_slot}: {problem}")));
                    }
                    if let Some((teacher, key)) = found {
                        let slot = i as u64;
                        if live.insert(teacher.clone(), Live { slot, key }).is_some() {
                            return Err(damaged(format!("record {i}: a second key of {teacher}")));
                        }
                    }
                    good_end = i + 1;
                }
                Err(problem) => {
                    if bad.is_none() {
                        bad = Some((i, problem));
                    }
                }
            }
        }
        let slots = good_end as u64;
        let end = RECORD as u64 * (1 + slots);
        if (bytes.len() as u64) != end {
            tracing::warn!(
                path = %path.display(),
                bytes = bytes.len() as u64 - end,
                "the key store ends in a record cut by a crash (never used by the log); removing it"
            );
            file.set_len(end).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let mut master_id = [0u8; 16];
        master_id.copy_from_slice(&bytes[16..32]);
        Ok(KeyStore {
            path: path.to_owned(),
            profile: found,
            master_id,
            wrap,
            live: RwLock::new(live),
            side: Mutex::new(FileSide {
                file,
                slots,
                pending: IndexMap::new(),
            }),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The crypto profile the store was made for (its keys seal with that profile's cipher).
    pub fn profile(&self) -> Profile {
        self.profile
    }

    fn live(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Live>> {
        self.live.read().unwrap_or_else(|p| p.into_inner())
    }

    fn side(&self) -> std::sync::MutexGuard<'_, FileSide> {
        self.side.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of the master key that wraps this store's records.
    pub fn master_id(&self) -> [u8; 16] {
        self.master_id
    }

    /// Durable records after the header (live or erased): the index the next one takes.
    pub fn slots(&self) -> u64 {
        self.side().slots
    }

    /// Up to `max` durable records from index `from` on, exactly as stored (a live record, or
    /// zeros where a key was erased): what a standby copies (FORMAT.md §1.13).
    pub fn records(&self, from: u64, max: usize) -> Result<Vec<[u8; RECORD]>, KeyStoreError> {
        // One read under the lock (the writer's flush waits on it before each commit).
        let mut buf = {
            let side = self.side();
            let end = side.slots.min(from.saturating_add(max as u64));
            let n = usize::try_from(end.saturating_sub(from)).unwrap_or(0);
            let mut buf = vec![0u8; n * RECORD];
            side.file
                .read_exact_at(&mut buf, RECORD as u64 * (1 + from))
                .map_err(|source| KeyStoreError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            buf
        };
        Ok(buf
            .chunks_exact_mut(RECORD)
            .map(|c| {
                let mut r = [0u8; RECORD];
                r.copy_from_slice(c);
                r
            })
            .collect())
    }

    /// Appends records copied from another store wrapped by the same master key, starting at
    /// index `from`, each checked as a start checks it (checksum, a key that unwraps, no
    /// second key of a teacher), then synced. Records this store already holds must be the
    /// same, or erased on either side (each store erases a key once it holds the erasure's
    /// entry, not at the same moment): any
    /// other difference means the two stores no longer line up (the other was rewritten by a
    /// master key rotation, or restored), and is refused. Returns the teachers whose keys
    /// were added.
    pub fn append_copied(
        &self,
        from: u64,
        records: &[Vec<u8>],
    ) -> Result<Vec<String>, KeyStoreError> {
        let damaged = |problem: String| KeyStoreError::Damaged {
            path: self.path.clone(),
            problem,
        };
        let mut side = self.side();
        if from > side.slots {
            return Err(damaged(format!(
                "copied records start at {from}, past this store's {} records",
                side.slots
            )));
        }
        let skip = usize::try_from(side.slots - from).unwrap_or(usize::MAX);
        for (i, theirs) in records.iter().take(skip).enumerate() {
            let at = from + i as u64;
            let mut ours = [0u8; RECORD];
            side.file
                .read_exact_at(&mut ours, RECORD as u64 * (1 + at))
                .map_err(|source| KeyStoreError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            let erased = |r: &[u8]| r.iter().all(|&b| b == 0);
            if theirs.as_slice() != ours && !erased(theirs) && !erased(&ours) {
                return Err(damaged(format!(
                    "copied record {at} is not the record this store holds there: the two key \
                     stores no longer line up (the other was rewritten or restored)"
                )));
            }
        }
        let new = records.get(skip..).unwrap_or_default();
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let mut buf = Vec::with_capacity(new.len() * RECORD);
        let mut added: Vec<(String, DataKey)> = Vec::new();
        {
            let live = self.live();
            for (i, rec) in new.iter().enumerate() {
                let at = side.slots + i as u64;
                if rec.len() != RECORD {
                    return Err(damaged(format!(
                        "copied record {at} is {} bytes, not {RECORD}",
                        rec.len()
                    )));
                }
                match read_record(&self.wrap, rec) {
                    Ok(None) => {}
                    Ok(Some((teacher, key))) => {
                        if live.contains_key(&teacher) || added.iter().any(|(t, _)| *t == teacher) {
                            return Err(damaged(format!(
                                "copied record {at}: a second key of {teacher}"
                            )));
                        }
                        added.push((teacher, key));
                    }
                    Err(problem) => return Err(damaged(format!("copied record {at}: {problem}"))),
                }
                buf.extend_from_slice(rec);
            }
        }
        let io = |source| KeyStoreError::Io {
            path: self.path.clone(),
            source,
        };
        let first = side.slots;
        side.file
            .write_all_at(&buf, RECORD as u64 * (1 + first))
            .map_err(io)?;
        side.file.sync_data().map_err(io)?;
        side.slots += new.len() as u64;
        // The slots of the live records among the new ones, in order.
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        let mut next = added.iter();
        let mut teachers = Vec::with_capacity(added.len());
        for (i, rec) in new.iter().enumerate() {
            if rec.iter().all(|&b| b == 0) {
                continue;
            }
            if let Some((teacher, key)) = next.next() {
                live.insert(
                    teacher.clone(),
                    Live {
                        slot: first + i as u64,
                        key: *key,
                    },
                );
                teachers.push(teacher.clone());
            }
        }
        Ok(teachers)
    }

    /// The durable key of `teacher`, if it has one (none: never made, or erased).
    pub fn key(&self, teacher: &str) -> Option<DataKey> {
        self.live().get(teacher).map(|l| l.key)
    }

    /// Whether `teacher` has a durable key.
    pub fn has(&self, teacher: &str) -> bool {
        self.live().contains_key(teacher)
    }

    /// Number of durable keys.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    /// Whether the store holds no durable key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of `teacher` for sealing: the durable one, one made since the last flush, or a
    /// new one (durable at the next [`KeyStore::flush`], which runs before the commit).
    pub fn key_or_new(&self, teacher: &str) -> Result<DataKey, KeyStoreError> {
        if let Some(k) = self.key(teacher) {
            return Ok(k);
        }
        if teacher.is_empty() || teacher.len() > ID_MAX {
            return Err(KeyStoreError::LongId(teacher.to_owned()));
        }
        let mut side = self.side();
        if let Some(k) = side.pending.get(teacher) {
            return Ok(*k);
        }
        let mut key = [0u8; KEY_LEN];
        super::entropy::fill(&mut key).map_err(|e| KeyStoreError::Randomness(e.to_string()))?;
        side.pending.insert(teacher.to_owned(), key);
        Ok(key)
    }

    /// Makes the keys made since the last flush durable: appended as records and synced.
    /// Returns how many were written.
    pub fn flush(&self) -> Result<usize, KeyStoreError> {
        let io = |source| KeyStoreError::Io {
            path: self.path.clone(),
            source,
        };
        let mut side = self.side();
        if side.pending.is_empty() {
            return Ok(0);
        }
        let mut buf = Vec::with_capacity(side.pending.len() * RECORD);
        for (teacher, key) in &side.pending {
            buf.extend_from_slice(&record(&self.wrap, teacher, key)?);
        }
        let at = RECORD as u64 * (1 + side.slots);
        side.file.write_all_at(&buf, at).map_err(io)?;
        side.file.sync_data().map_err(io)?;
        let first = side.slots;
        let made = std::mem::take(&mut side.pending);
        side.slots += made.len() as u64;
        let n = made.len();
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        for (i, (teacher, key)) in made.into_iter().enumerate() {
            live.insert(
                teacher,
                Live {
                    slot: first + i as u64,
                    key,
                },
            );
        }
        Ok(n)
    }

    /// Erases the key of `teacher`: its record is overwritten with zeros in place and the file
    /// synced; a key not yet flushed is dropped. Returns whether there was a key.
    pub fn erase(&self, teacher: &str) -> Result<bool, KeyStoreError> {
        let io = |source| KeyStoreError::Io {
            path: self.path.clone(),
            source,
        };
        let mut side = self.side();
        let mut had = side.pending.shift_remove(teacher).is_some();
        let slot = self.live().get(teacher).map(|l| l.slot);
        if let Some(slot) = slot {
            let at = RECORD as u64 * (1 + slot);
            side.file.write_all_at(&[0u8; RECORD], at).map_err(io)?;
            side.file.sync_data().map_err(io)?;
            self.live
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(teacher);
            had = true;
        }
        Ok(had)
    }

    /// Re-wraps every key under `new`, writing the store anew (erased records left out) and
    /// renaming it over the old one: the log is not touched. Returns the number of keys.
    pub fn rewrap(path: &Path, old: &MasterKey, new: &MasterKey) -> Result<usize, KeyStoreError> {
        let store = KeyStore::open(path, old, None)?;
        let wrap = new.wrapping(store.profile);
        let mut out = crate::atomic::AtomicFile::create(path).map_err(|e| KeyStoreError::Io {
            path: e.path,
            source: e.source,
        })?;
        let werr = |source| KeyStoreError::Io {
            path: path.to_owned(),
            source,
        };
        out.write_all(&header(new, store.profile)).map_err(werr)?;
        let live = store.live();
        let mut keys: Vec<(&String, &Live)> = live.iter().collect();
        keys.sort_by_key(|(_, l)| l.slot);
        for (teacher, l) in &keys {
            out.write_all(&record(&wrap, teacher, &l.key)?)
                .map_err(werr)?;
        }
        let n = keys.len();
        drop(live);
        out.commit().map_err(|e| KeyStoreError::Io {
            path: e.path,
            source: e.source,
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(b: u8) -> MasterKey {
        MasterKey::from_hex(&hex::encode([b; 32]), format!("test {b}")).unwrap()
    }

    #[test]
    fn keys_are_durable_after_flush_and_gone_after_erase() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(KEY_STORE_FILE);
        let m = master(1);
        let ks = KeyStore::open(&p, &m, None).unwrap();
        let a = ks.key_or_new("T1").unwrap();
        assert_eq!(ks.key_or_new("T1").unwrap(), a, "a pending key is reused");
        assert_eq!(ks.key("T1"), None, "not durable before the flush");
        let b = ks.key_or_new("T2").unwrap();
        assert_eq!(ks.flush().unwrap(), 2);
        drop(ks);
        let ks = KeyStore::open(&p, &m, None).unwrap();
        assert_eq!(ks.key("T1"), Some(a));
        assert_eq!(ks.key("T2"), Some(b));
        assert!(ks.erase("T1").unwrap());
        assert!(!ks.erase("T1").unwrap());
        drop(ks);
        let raw = std::fs::read(&p).unwrap();
        assert!(
            raw[RECORD..2 * RECORD].iter().all(|&x| x == 0),
            "the record is zeros"
        );
        assert!(!raw.windows(2).any(|w| w == b"T1"), "nothing of T1 is left");
        let ks = KeyStore::open(&p, &m, None).unwrap();
        assert_eq!(ks.key("T1"), None);
        assert_eq!(ks.key("T2"), Some(b));
    }

    #[test]
    fn a_wrong_master_key_and_damage_are_refused_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(KEY_STORE_FILE);
        let ks = KeyStore::open(&p, &master(1), None).unwrap();
        ks.key_or_new("T1").unwrap();
        ks.key_or_new("T2").unwrap();
        ks.flush().unwrap();
        drop(ks);
        let e = KeyStore::open(&p, &master(2), None).unwrap_err();
        assert!(matches!(e, KeyStoreError::WrongMaster { .. }), "{e}");
        assert!(e.to_string().contains("test 2"), "{e}");
        // A torn append at the end is cut off.
        let mut raw = std::fs::read(&p).unwrap();
        raw.extend_from_slice(&[5u8; 100]);
        std::fs::write(&p, &raw).unwrap();
        let ks = KeyStore::open(&p, &master(1), None).unwrap();
        assert_eq!(ks.len(), 2);
        drop(ks);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 3 * RECORD as u64);
        // A changed byte inside the first record is damage.
        let mut raw = std::fs::read(&p).unwrap();
        raw[RECORD + 70] ^= 1;
        std::fs::write(&p, &raw).unwrap();
        let e = KeyStore::open(&p, &master(1), None).unwrap_err();
        assert!(matches!(e, KeyStoreError::Damaged { .. }), "{e}");
        assert!(e.to_string().contains("record 0"), "{e}");
    }

    #[test]
    fn rewrapping_keeps_the_keys_under_a_new_master() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(KEY_STORE_FILE);
        let ks = KeyStore::open(&p, &master(1), None).unwrap();
        let a = ks.key_or_new("T1").unwrap();
        ks.key_or_new("T2").unwrap();
        ks.flush().unwrap();
        ks.erase("T2").unwrap();
        drop(ks);
        assert_eq!(KeyStore::rewrap(&p, &master(1), &master(3)).unwrap(), 1);
        assert!(KeyStore::open(&p, &master(1), None).is_err());
        let ks = KeyStore::open(&p, &master(3), None).unwrap();
        assert_eq!(ks.key("T1"), Some(a));
        assert_eq!(ks.len(), 1);
    }

    #[test]
    fn a_copy_under_the_same_master_is_the_same_file_and_refuses_another_master() {
        let dir = tempfile::tempdir().unwrap();
        let (p, q, r) = (
            dir.path().join("primary"),
            dir.path().join("standby"),
            dir.path().join("other"),
        );
        let primary = KeyStore::open(&p, &master(1), None).unwrap();
        let a = primary.key_or_new("T1").unwrap();
        primary.key_or_new("T2").unwrap();
        primary.key_or_new("T3").unwrap();
        primary.flush().unwrap();
        primary.erase("T2").unwrap();
        let standby = KeyStore::open(&q, &master(1), None).unwrap();
        assert_eq!(standby.master_id(), primary.master_id());
        // In two pieces, the second overlapping the first.
        let first: Vec<Vec<u8>> = primary
            .records(0, 2)
            .unwrap()
            .iter()
            .map(|r| r.to_vec())
            .collect();
        assert_eq!(standby.append_copied(0, &first).unwrap(), ["T1"]);
        let all: Vec<Vec<u8>> = primary
            .records(0, 100)
            .unwrap()
            .iter()
            .map(|r| r.to_vec())
            .collect();
        assert_eq!(all.len(), 3);
        assert_eq!(standby.append_copied(0, &all).unwrap(), ["T3"]);
        assert_eq!(standby.append_copied(3, &[]).unwrap(), Vec::<String>::new());
        assert_eq!(standby.slots(), 3);
        assert_eq!(standby.key("T1"), Some(a));
        assert_eq!(
            standby.key("T2"),
            None,
            "an erased record is copied as zeros"
        );
        drop(standby);
        assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(&q).unwrap());
        // It opens again, whole.
        let standby = KeyStore::open(&q, &master(1), None).unwrap();
        assert_eq!(standby.len(), 2);
        // A gap, a second key of a teacher, or another master's records are refused, and
        // nothing of them is written.
        assert!(standby.append_copied(5, &all).is_err());
        let other = KeyStore::open(&r, &master(2), None).unwrap();
        let e = other.append_copied(0, &all).unwrap_err();
        assert!(e.to_string().contains("does not unwrap"), "{e}");
        assert_eq!(other.slots(), 0);
        let mut twice = all.clone();
        twice.push(all[0].clone());
        let e = standby.append_copied(0, &twice).unwrap_err();
        assert!(e.to_string().contains("a second key of T1"), "{e}");
        assert_eq!(standby.slots(), 3);
        // A primary rewritten since (its records renumbered) no longer lines up: refused.
        drop(primary);
        KeyStore::rewrap(&p, &master(1), &master(1)).unwrap();
        let rewritten = KeyStore::open(&p, &master(1), None).unwrap();
        let now: Vec<Vec<u8>> = rewritten
            .records(0, 100)
            .unwrap()
            .iter()
            .map(|r| r.to_vec())
            .collect();
        assert_eq!(now.len(), 2, "the erased record left out");
        let e = standby.append_copied(0, &now).unwrap_err();
        assert!(e.to_string().contains("no longer line up"), "{e}");
        drop(standby);
        assert_eq!(std::fs::metadata(&q).unwrap().len(), 4 * RECORD as u64);
    }
}

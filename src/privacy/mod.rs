//! Personal data under PIPL (docs/PRIVACY.md): sealed in entries, erasable, and every reveal
//! recorded.
//!
//! - [`seal`]: one field sealed (XChaCha20-Poly1305, or SM4-GCM in the `gm` crypto profile)
//!   under a teacher's data key;
//! - [`master`]: the master key that wraps the data keys (a file or a variable);
//! - [`keystore`]: the data keys, one per teacher, in a file beside the log where an erased
//!   key is overwritten in place;
//! - [`access`]: the hash-chained record of who was shown which personal fields;
//! - `entropy`: the random bytes keys and nonces are made of.
//!
//! The domain never opens a sealed value (no rule depends on one); the ledger seals on the
//! writer thread before an entry is hashed, and the services open when they answer.

pub mod access;
pub(crate) mod entropy;
pub mod keystore;
pub mod master;
pub mod seal;

use std::path::{Path, PathBuf};

use crate::crypto::Profile;
use crate::domain::Event;
use crate::domain::personal::Personal;

pub use access::{ACCESS_FILE, Access, AccessError, AccessRecord};
pub use keystore::{KEY_STORE_FILE, KeyStore, KeyStoreError};
pub use master::{MASTER_KEY_FILE, MASTER_KEY_VAR, MasterError, MasterKey, MasterSource};
pub use seal::{Place, SealError};

/// Why personal data could not be sealed, opened or the stores opened.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The master key could not be had.
    #[error(transparent)]
    Master(#[from] MasterError),
    /// The key store could not be used.
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    /// The access record could not be used.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A key store exists but its master key does not.
    #[error(
        "the key store {store} exists but its master key {key} does not: give the master key this data directory was made with (--master-key FILE or {MASTER_KEY_VAR}); a new key would leave every sealed name unreadable"
    )]
    MissingMaster {
        /// The key store.
        store: PathBuf,
        /// The master key file looked for.
        key: PathBuf,
    },
    /// The log holds sealed data of teachers the key store has no key for.
    #[error(
        "the key store {store} has no data key for {count} teacher(s) whose personal data the log holds sealed (first: {first}); it is not this ledger's key store, or it was damaged: restore it from the backup taken with this data directory"
    )]
    KeysMissing {
        /// The key store.
        store: PathBuf,
        /// How many teachers.
        count: usize,
        /// The first of them.
        first: String,
    },
    /// A rotation away from an operator's key needs the new key from the operator.
    #[error(
        "the master key was given by the operator: give the new one with --new-master-key FILE (the ledger writes only its own <data>/master.key)"
    )]
    NewKeyNeeded,
    /// An offline command found no key store.
    #[error(
        "{0} does not exist: this data directory holds no personal-data keys (after a restore, copy the key store backed up with the export: `rotaledger import --keys FILE`, and give its master key)"
    )]
    NoKeyStore(PathBuf),
    /// A personal field of an event whose teacher is unknown (refused by the rules first).
    #[error("no teacher to seal {0} under")]
    NoTeacher(&'static str),
}

/// The file a rotation of the data directory's own master key writes first.
pub const NEW_MASTER_KEY_FILE: &str = "master.key.new";

/// Finishes a rotation of `<data>/master.key` cut by a crash after the key store was rewritten
/// under `master.key.new` but before that file took the old one's name.
fn finish_rotation(dir: &Path, store: &Path) -> Result<(), PrivacyError> {
    let new = dir.join(NEW_MASTER_KEY_FILE);
    if !new.exists() || !store.exists() {
        return Ok(());
    }
    let key = MasterKey::load(&new)?;
    let header = std::fs::read(store)
        .ok()
        .filter(|h| h.len() >= keystore::RECORD);
    let rewrapped = header
        .is_some_and(|h| keystore::header_profile(&h).is_some_and(|p| h[16..32] == key.id(p)));
    if rewrapped {
        let path = dir.join(MASTER_KEY_FILE);
        std::fs::rename(&new, &path)
            .and_then(|()| crate::atomic::sync_dir(dir))
            .map_err(|source| MasterError::Io { path, source })?;
        tracing::warn!(
            "a master key rotation cut short is finished: {} is the new key",
            new.display()
        );
    }
    Ok(())
}

/// Re-wraps every data key of the data directory `dir` under a new master key: `new` if
/// given (the operator's file), else a new random key that becomes `<data>/master.key`.
/// The log is not touched. Returns the number of keys and where the new key is.
pub fn rotate_master(
    dir: &Path,
    old: &MasterSource,
    new: Option<&Path>,
) -> Result<(usize, PathBuf), PrivacyError> {
    let store = dir.join(KEY_STORE_FILE);
    if !store.exists() {
        return Err(PrivacyError::NoKeyStore(store));
    }
    let old_key = match old {
        MasterSource::File(p) => MasterKey::load(p)?,
        MasterSource::Value(v) => MasterKey::from_hex(v, format!("variable {MASTER_KEY_VAR}"))?,
        MasterSource::DataDir => {
            finish_rotation(dir, &store)?;
            MasterKey::load(&dir.join(MASTER_KEY_FILE))?
        }
    };
    match new {
        Some(p) => {
            let new_key = MasterKey::load(p)?;
            let n = KeyStore::rewrap(&store, &old_key, &new_key)?;
            Ok((n, p.to_owned()))
        }
        None => {
            if *old != MasterSource::DataDir {
                return Err(PrivacyError::NewKeyNeeded);
            }
            let staged = dir.join(NEW_MASTER_KEY_FILE);
            let _ = std::fs::remove_file(&staged);
            let new_key = MasterKey::create(&staged)?;
            let n = KeyStore::rewrap(&store, &old_key, &new_key)?;
            finish_rotation(dir, &store)?;
            Ok((n, dir.join(MASTER_KEY_FILE)))
        }
    }
}

/// What a caller is shown of a personal field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revealed {
    /// The text.
    Text(String),
    /// The teacher's personal data was erased (or the key is gone).
    Erased,
}

/// The key store, the access record and how the master key came.
#[derive(Debug)]
pub struct Privacy {
    /// The data keys.
    pub keys: KeyStore,
    /// The record of reveals.
    pub access: AccessRecord,
    /// Where the master key came from (for messages).
    pub master_from: String,
    /// The master key file made by this start, if one was.
    pub master_created: Option<PathBuf>,
}

impl Privacy {
    /// Opens (or, in a new data directory, creates) the key store and the access record in
    /// `dir`, with the master key from `source`. Refuses a wrong or missing master key and a
    /// damaged store rather than start and show ciphertext.
    pub fn open(dir: &Path, source: &MasterSource) -> Result<Privacy, PrivacyError> {
        Privacy::open_with(dir, source, true, None)
    }

    /// [`Privacy::open`] for an offline command: nothing is created (no master key, no key
    /// store, no access record where there was none).
    pub fn open_existing(dir: &Path, source: &MasterSource) -> Result<Privacy, PrivacyError> {
        Privacy::open_with(dir, source, false, None)
    }

    /// [`Privacy::open`], creating a missing key store (and master key file) only if
    /// `create`, for the log's crypto `profile` if given (a store of another one is refused;
    /// a new store without one is blake3's).
    pub fn open_with(
        dir: &Path,
        source: &MasterSource,
        create: bool,
        profile: Option<Profile>,
    ) -> Result<Privacy, PrivacyError> {
        let store = dir.join(KEY_STORE_FILE);
        if !create && !store.exists() {
            return Err(PrivacyError::NoKeyStore(store));
        }
        let mut created = None;
        let master = match source {
            MasterSource::File(p) => MasterKey::load(p)?,
            MasterSource::Value(v) => MasterKey::from_hex(v, format!("variable {MASTER_KEY_VAR}"))?,
            MasterSource::DataDir => {
                let p = dir.join(MASTER_KEY_FILE);
                finish_rotation(dir, &store)?;
                if p.exists() {
                    MasterKey::load(&p)?
                } else if store.exists() || !create {
                    return Err(PrivacyError::MissingMaster { store, key: p });
                } else {
                    let k = MasterKey::create(&p)?;
                    created = Some(p);
                    k
                }
            }
        };
        let keys = KeyStore::open(&store, &master, profile)?;
        let access = AccessRecord::open(&dir.join(ACCESS_FILE), keys.profile())?;
        Ok(Privacy {
            keys,
            access,
            master_from: master.from.clone(),
            master_created: created,
        })
    }

    /// The event with its plain personal fields sealed under `teacher`'s key (made if new; it
    /// is durable before the commit, see [`KeyStore::flush`]). Sealed fields stay as they are.
    pub fn seal_event(&self, event: &Event, teacher: Option<&str>) -> Result<Event, PrivacyError> {
        event.map_personal(|field, p| match p {
            Personal::Sealed(_) => Ok(p.clone()),
            Personal::Plain(text) => {
                let teacher = teacher.ok_or(PrivacyError::NoTeacher(field))?;
                let key = self.keys.key_or_new(teacher)?;
                let b = seal::seal(self.keys.profile(), &key, Place { teacher, field }, text)?;
                Ok(Personal::Sealed(b.into()))
            }
        })
    }

    /// Opens a personal field of `teacher` (a plain one, from a log written before sealing,
    /// is given as it is). No key (erased): [`Revealed::Erased`]. A value that does not open
    /// under the teacher's key is an error (the log and the key store disagree).
    pub fn reveal(
        &self,
        teacher: &str,
        field: &'static str,
        value: &Personal,
    ) -> Result<Revealed, SealError> {
        match value {
            Personal::Plain(t) => Ok(Revealed::Text(t.clone())),
            Personal::Sealed(b) => match self.keys.key(teacher) {
                None => Ok(Revealed::Erased),
                Some(k) => seal::open(self.keys.profile(), &k, Place { teacher, field }, b)
                    .map(Revealed::Text),
            },
        }
    }
}

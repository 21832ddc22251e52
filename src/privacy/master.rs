//! The master key: 32 random bytes that wrap every data key (envelope encryption). It is never
//! in the log, an export or the key store; it comes from a file (`--master-key FILE`, by
//! default `<data>/master.key`, made on the first start) or from the environment variable
//! `ROTALEDGER_MASTER_KEY` (64 hex digits).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::crypto::{Aead, Profile};

/// The variable that can hold the master key itself (64 hex digits).
pub const MASTER_KEY_VAR: &str = "ROTALEDGER_MASTER_KEY";
/// The master key file's name in the data directory when none is given.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Where the master key comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MasterSource {
    /// `<data>/master.key`, made (0600) on the first start of a new key store.
    #[default]
    DataDir,
    /// A file given by the operator (never made by the ledger).
    File(PathBuf),
    /// The value of [`MASTER_KEY_VAR`].
    Value(String),
}

/// Why the master key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// The file could not be read or written.
    #[error("master key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file or variable does not hold 64 hex digits.
    #[error("master key {from} does not hold a key: expected 64 hex digits (32 bytes)")]
    Malformed {
        /// The file or variable.
        from: String,
    },
    /// No randomness to make a key.
    #[error("no randomness for a master key: {0}")]
    Randomness(String),
}

/// The master key and where it came from (for messages).
pub struct MasterKey {
    bytes: [u8; 32],
    /// `file /path` or `variable ROTALEDGER_MASTER_KEY`: what a message names.
    pub from: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MasterKey({}, id {})",
            self.from,
            hex::encode(self.id(Profile::Blake3))
        )
    }
}

impl MasterKey {
    /// A key from its 64 hex digits; `from` names the file or variable in errors.
    pub fn from_hex(text: &str, from: String) -> Result<MasterKey, MasterError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|_| MasterError::Malformed { from: from.clone() })?;
        Ok(MasterKey { bytes, from })
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<MasterKey, MasterError> {
        let text = std::fs::read_to_string(path).map_err(|source| MasterError::Io {
            path: path.to_owned(),
            source,
        })?;
        MasterKey::from_hex(&text, format!("file {}", path.display()))
    }

    /// Makes a new random key and writes it to `path` (mode 0600, created only if absent,
    /// synced with its directory).
    pub fn create(path: &Path) -> Result<MasterKey, MasterError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| MasterError::Randomness(e.to_string()))?;
        let io = |source| MasterError::Io {
            path: path.to_owned(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
            .map_err(io)?;
        f.sync_all().map_err(io)?;
        if let Some(dir) = path.parent() {
            crate::atomic::sync_dir(dir).map_err(io)?;
        }
        Ok(MasterKey {
            bytes,
            from: format!("file {}", path.display()),
        })
    }

    /// The key's public id: 16 bytes derived from it, stored in the key store's header so a
    /// wrong master key is named at start rather than found by failing to unwrap.
    /// Derived with the profile's key derivation (blake3, or HMAC-SM3 in the `gm` profile).
    pub fn id(&self, profile: Profile) -> [u8; 16] {
        let d = profile.derive_key("rotaledger master key id v1", &self.bytes);
        let mut id = [0u8; 16];
        id.copy_from_slice(&d[..16]);
        id
    }

    /// The cipher that wraps data keys (a key derived from the master key for that use alone):
    /// the profile's (XChaCha20-Poly1305, or SM4-GCM in the `gm` profile).
    pub fn wrapping(&self, profile: Profile) -> Aead {
        let k = profile.derive_key("rotaledger data key wrapping v1", &self.bytes);
        Aead::new(profile, &k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_key_file_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.key");
        let k = MasterKey::create(&p).unwrap();
        let again = MasterKey::load(&p).unwrap();
        assert_eq!(k.id(Profile::Blake3), again.id(Profile::Blake3));
        assert_ne!(k.id(Profile::Blake3), k.id(Profile::Gm));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(MasterKey::create(&p), Err(MasterError::Io { .. })));
    }

    #[test]
    fn a_malformed_key_is_named() {
        let e = MasterKey::from_hex("abc", "variable X".into()).unwrap_err();
        assert!(e.to_string().contains("variable X"), "{e}");
        let ok = MasterKey::from_hex(&"ab".repeat(32), "v".into()).unwrap();
        let other = MasterKey::from_hex(&"cd".repeat(32), "v".into()).unwrap();
        assert_ne!(ok.id(Profile::Gm), other.id(Profile::Gm));
    }
}

//! The ledger's checkpoint key: generation, the owner-only key file, and the one-line
//! verifier key handed to auditors. Ed25519 for a blake3 ledger, SM2 (with SM3 and the
//! standard distinguishing ID) for a `gm` one: the key's type byte says which, so a verifier
//! key alone tells an auditor which profile the log it checks is in (`crate::crypto`).
//!
//! Text forms follow the C2SP signed-note conventions (as in Go's `golang.org/x/mod/sumdb/note`),
//! so existing note tooling can read them (Ed25519 keys; SM2 has no assigned signed-note type):
//!
//! - key id: the first 4 bytes of `SHA-256(name || "\n" || 0x01 || public key)` for Ed25519,
//!   of `SM3(name || "\n" || 0xff || public key)` for SM2, big-endian;
//! - verifier key: `<name>+<key id, 8 hex digits>+<base64(type || public key)>`;
//! - key file: `PRIVATE+KEY+<name>+<key id hex>+<base64(type || 32-byte secret)>` and a newline.
//!
//! **Contract:** [`CheckpointKey::save`] MUST NOT overwrite an existing file, creates the
//! file with mode 0600, and MUST NOT return before the file and its name are durable (the
//! file and its directory synced); [`CheckpointKey::load`] MUST refuse a key file that group
//! or others can access (on Unix), because anyone who can read it can sign checkpoints.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::Digest as _;
use sm2::elliptic_curve::sec1::ToEncodedPoint as _;

use crate::crypto::{Profile, SM2_DISTID};

/// The signed-note signature type byte of Ed25519.
pub const ALG_ED25519: u8 = 0x01;

/// The type byte of an SM2 key: `0xff`, a value outside the C2SP signed-note registry (which
/// assigns none to SM2).
pub const ALG_SM2: u8 = 0xff;

/// `n - 1` of the SM2 curve (GB/T 32918.5), the one scalar below `n` that is no secret key.
const SM2_N_MINUS_1: [u8; 32] = [
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x72, 0x03, 0xdf, 0x6b, 0x21, 0xc6, 0x05, 0x2b, 0x53, 0xbb, 0xf4, 0x09, 0x39, 0xd5, 0x41, 0x22,
];

/// The type bytes a checkpoint key may have.
const CHECKPOINT_ALGS: &[u8] = &[ALG_ED25519, ALG_SM2];

/// Bytes of an SM2 public key: the SEC1 uncompressed point `04 || x || y`.
pub const SM2_PUBLIC_LEN: usize = 65;

/// Prefix of the key file's single line.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// A key file larger than this is not a key file; refuse before reading it all.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why a key could not be made, parsed, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Names appear in signature lines and key strings, where spaces and `+` are separators.
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, control characters or '+'"
    )]
    InvalidName(String),
    /// The operating system's random source failed.
    #[error("no randomness from the operating system: {0}")]
    Randomness(String),
    /// Reading or writing the key file failed.
    #[error("key file {}: {source}", .path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Saving never replaces a key: the old one may have signed checkpoints auditors hold.
    #[error("key file {} already exists; refusing to overwrite a signing key", .0.display())]
    AlreadyExists(PathBuf),
    /// The key file can be read or written by group or others.
    #[error(
        "key file {} is accessible by group or others (mode {mode:03o}); restrict it with chmod 600",
        .path.display()
    )]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is larger than any key file.
    #[error("key file {} is too large to be a key file", .0.display())]
    FileTooLarge(PathBuf),
    /// The private key text is not `PRIVATE+KEY+name+keyid+base64`.
    #[error("malformed private key: {0}")]
    MalformedPrivateKey(&'static str),
    /// The verifier key text is not `name+keyid+base64`.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// Only Ed25519 (type 0x01) and SM2 (type 0xff) keys exist.
    #[error(
        "unsupported signature algorithm {0:#04x}; only 0x01 (Ed25519) and 0xff (SM2) are supported"
    )]
    UnsupportedAlgorithm(u8),
    /// The bytes are not a public key of their type (an Ed25519 point, an SM2 point).
    #[error("the public key is not a valid {0} public key")]
    InvalidPublicKey(&'static str),
    /// The bytes are not a secret key of their type (an SM2 scalar must be in 1..n-1).
    #[error("the secret key is not a valid {0} secret key")]
    InvalidSecretKey(&'static str),
    /// The stated key id is not the one computed from the name and key.
    #[error("key id mismatch: the text says {stated}, the name and key give {computed}")]
    KeyIdMismatch {
        /// Key id written in the text (hex).
        stated: String,
        /// Key id computed (hex).
        computed: String,
    },
    /// Signing failed (not expected with an in-memory ed25519 key).
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Checks a signed-note key name: non-empty, no Unicode whitespace, no control
/// characters, no `+`.
pub fn check_key_name(name: &str) -> Result<(), KeyError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '+';
    if name.is_empty() || name.chars().any(bad) {
        return Err(KeyError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// Decodes base64 as checkpoints and keys spell it (FORMAT.md §2.5, "Base64"): the standard
/// alphabet of RFC 4648 §4 with `=` padding, nothing else (no whitespace, no URL-safe `-`
/// or `_`), and canonical: the unused low bits of the last character are zero, so the text
/// is exactly what encoding the bytes gives. One spelling per value means a signed text and
/// a key have one form, and a verifier written from the document agrees with this one.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // The STANDARD engine already requires canonical padding and zero trailing bits;
    // re-encoding makes the rule explicit rather than a property of the crate's defaults.
    let bytes = BASE64.decode(text).ok()?;
    (BASE64.encode(&bytes) == text).then_some(bytes)
}

/// The signed-note key id of an Ed25519 key: `SHA-256(name || "\n" || 0x01 || key)[..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The key id of an SM2 key: `SM3(name || "\n" || 0xff || 65-byte public key)[..4]`.
pub fn sm2_key_id(name: &str, public_key: &[u8]) -> [u8; 4] {
    let mut h = Profile::Gm.hasher();
    h.update(name.as_bytes())
        .update(b"\n")
        .update(&[ALG_SM2])
        .update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Splits `name+keyid+base64(type || key bytes)` into its checked parts: the name, the
/// stated key id, the type byte and the key bytes (their length not yet checked).
pub(crate) fn parse_key_text(
    text: &str,
    allowed: &[u8],
    err: fn(&'static str) -> KeyError,
) -> Result<(String, [u8; 4], u8, Vec<u8>), KeyError> {
    // Names never hold '+' and key ids are hex, but the standard base64 alphabet has '+':
    // only the first two '+' separate fields (as Go's `note` package splits them).
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(err("expected three '+'-separated fields: name+keyid+key"));
    };
    check_key_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err("key id must be 8 hex digits"));
    }
    let mut id = [0u8; 4];
    hex::decode_to_slice(id_hex, &mut id).map_err(|_| err("key id must be 8 hex digits"))?;
    let bytes = decode_base64(b64).ok_or(err("key is not canonical standard base64"))?;
    let (&alg, key) = bytes.split_first().ok_or(err("key is empty"))?;
    if !allowed.contains(&alg) {
        return Err(KeyError::UnsupportedAlgorithm(alg));
    }
    Ok((name.to_owned(), id, alg, key.to_vec()))
}

/// The secret half of a checkpoint key, of either type.
#[derive(Clone)]
enum Secret {
    Ed25519(Box<SigningKey>),
    Sm2(Box<sm2::dsa::SigningKey>),
}

/// The public half, of either type.
#[derive(Clone, Debug)]
enum Public {
    Ed25519(VerifyingKey),
    Sm2(Box<sm2::dsa::VerifyingKey>),
}

/// Keys are equal when their type and public bytes are (the sm2 crate's key has no `Eq`).
impl PartialEq for Public {
    fn eq(&self, other: &Public) -> bool {
        self.alg() == other.alg() && self.bytes() == other.bytes()
    }
}

impl Eq for Public {}

impl Public {
    fn profile(&self) -> Profile {
        match self {
            Public::Ed25519(_) => Profile::Blake3,
            Public::Sm2(_) => Profile::Gm,
        }
    }

    fn alg(&self) -> u8 {
        match self {
            Public::Ed25519(_) => ALG_ED25519,
            Public::Sm2(_) => ALG_SM2,
        }
    }

    /// The key bytes after the type byte: 32 for Ed25519, the 65-byte SEC1 point for SM2.
    fn bytes(&self) -> Vec<u8> {
        match self {
            Public::Ed25519(k) => k.as_bytes().to_vec(),
            Public::Sm2(k) => k.as_affine().to_encoded_point(false).as_bytes().to_vec(),
        }
    }

    fn key_id(&self, name: &str) -> [u8; 4] {
        match self {
            Public::Ed25519(k) => key_id(name, k.as_bytes()),
            Public::Sm2(_) => sm2_key_id(name, &self.bytes()),
        }
    }

    /// Parses the key bytes of type `alg`.
    fn from_bytes(
        alg: u8,
        key: &[u8],
        err: fn(&'static str) -> KeyError,
    ) -> Result<Self, KeyError> {
        match alg {
            ALG_ED25519 => {
                let key: [u8; 32] = key
                    .try_into()
                    .map_err(|_| err("an Ed25519 key is 32 bytes after the type byte"))?;
                VerifyingKey::from_bytes(&key)
                    .map(Public::Ed25519)
                    .map_err(|_| KeyError::InvalidPublicKey("Ed25519"))
            }
            ALG_SM2 => {
                if key.len() != SM2_PUBLIC_LEN || key[0] != 0x04 {
                    return Err(err(
                        "an SM2 key is the 65-byte uncompressed point (04 || x || y) after the type byte",
                    ));
                }
                sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, key)
                    .map(|k| Public::Sm2(Box::new(k)))
                    .map_err(|_| KeyError::InvalidPublicKey("SM2"))
            }
            other => Err(KeyError::UnsupportedAlgorithm(other)),
        }
    }
}

/// Compares a stated key id with the computed one.
fn check_key_id(stated: [u8; 4], computed: [u8; 4]) -> Result<(), KeyError> {
    if stated != computed {
        return Err(KeyError::KeyIdMismatch {
            stated: hex::encode(stated),
            computed: hex::encode(computed),
        });
    }
    Ok(())
}

/// The ledger's private checkpoint key, with the name signatures are made under.
///
/// `Debug` shows the name and key id only. ed25519-dalek and the sm2 crate zeroize the
/// secret on drop; the transient text of the key file is not (the file holds it anyway).
#[derive(Clone)]
pub struct CheckpointKey {
    /// Key name: appears in every signature line (`— <name> ...`).
    name: String,
    /// The secret key.
    signing: Secret,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id()))
            .finish_non_exhaustive()
    }
}

impl CheckpointKey {
    /// A fresh Ed25519 key (the blake3 profile's) from the operating system's randomness.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        Self::generate_for(Profile::Blake3, name)
    }

    /// A fresh key of the profile's type (Ed25519 or SM2) from the operating system's
    /// randomness.
    pub fn generate_for(profile: Profile, name: &str) -> Result<Self, KeyError> {
        loop {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| KeyError::Randomness(e.to_string()))?;
            let key = match profile {
                Profile::Blake3 => Self::from_seed(name, &seed),
                Profile::Gm => Self::from_sm2_secret(name, &seed),
            };
            seed.fill(0);
            match key {
                // 32 random bytes are an SM2 scalar in 1..n-1 but for a chance of about
                // 2^-32; draw again rather than fail.
                Err(KeyError::InvalidSecretKey(_)) => continue,
                other => return other,
            }
        }
    }

    /// The key with this 32-byte Ed25519 seed (deterministic: for tests and examples).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            signing: Secret::Ed25519(Box::new(SigningKey::from_bytes(seed))),
        })
    }

    /// The SM2 key with this 32-byte secret scalar (big-endian, in 1..n-1), for SM3 and the
    /// standard distinguishing ID (deterministic: for tests and examples).
    pub fn from_sm2_secret(name: &str, secret: &[u8; 32]) -> Result<Self, KeyError> {
        check_key_name(name)?;
        // GB/T 32918.1 takes the secret from [1, n-2]: with d = n-1, 1 + d has no inverse and
        // no signature can be made. (The crate refuses 0 and n and above.)
        if *secret == SM2_N_MINUS_1 {
            return Err(KeyError::InvalidSecretKey("SM2"));
        }
        let k = sm2::dsa::SigningKey::from_slice(SM2_DISTID, secret)
            .map_err(|_| KeyError::InvalidSecretKey("SM2"))?;
        Ok(Self {
            name: name.to_owned(),
            signing: Secret::Sm2(Box::new(k)),
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The crypto profile this key signs for: blake3 (Ed25519) or gm (SM2).
    pub fn profile(&self) -> Profile {
        self.public().profile()
    }

    fn public(&self) -> Public {
        match &self.signing {
            Secret::Ed25519(k) => Public::Ed25519(k.verifying_key()),
            Secret::Sm2(k) => Public::Sm2(Box::new(k.verifying_key().clone())),
        }
    }

    /// The signed-note key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.public().key_id(&self.name)
    }

    /// The public half, to hand to auditors.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id(),
            key: self.public(),
        }
    }

    /// A 32-byte key for a local use named by `context` (a fixed, versioned string), derived
    /// from the secret with the profile's key derivation: only the key's holder can compute
    /// it (the state snapshot's checksum key).
    pub fn derive(&self, context: &str) -> [u8; 32] {
        match &self.signing {
            Secret::Ed25519(k) => Profile::Blake3.derive_key(context, k.as_bytes()),
            Secret::Sm2(k) => Profile::Gm.derive_key(context, &k.to_bytes()),
        }
    }

    /// A signature over `message`: Ed25519 (RFC 8032), or SM2 with SM3 and the standard
    /// distinguishing ID as `r || s`; 64 bytes either way.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        match &self.signing {
            Secret::Ed25519(k) => {
                let sig: Signature = k
                    .try_sign(message)
                    .map_err(|e| KeyError::Signing(e.to_string()))?;
                Ok(sig.to_bytes())
            }
            Secret::Sm2(k) => {
                let sig: sm2::dsa::Signature =
                    sm2::dsa::signature::Signer::try_sign(k.as_ref(), message)
                        .map_err(|e| KeyError::Signing(e.to_string()))?;
                Ok(sig.to_bytes())
            }
        }
    }

    /// The key file text: `PRIVATE+KEY+<name>+<keyid>+<base64(type || secret)>`.
    fn to_private_text(&self) -> String {
        let mut bytes = Vec::with_capacity(33);
        match &self.signing {
            Secret::Ed25519(k) => {
                bytes.push(ALG_ED25519);
                bytes.extend_from_slice(k.as_bytes());
            }
            Secret::Sm2(k) => {
                bytes.push(ALG_SM2);
                bytes.extend_from_slice(&k.to_bytes());
            }
        }
        let text = private_text(&self.name, self.key_id(), &bytes);
        bytes.fill(0);
        text
    }

    /// Parses the key file text (one line, trailing newline optional).
    fn from_private_text(text: &str) -> Result<Self, KeyError> {
        let (name, id, alg, mut secret) = parse_private_text(text, CHECKPOINT_ALGS)?;
        let key = match <[u8; 32]>::try_from(secret.as_slice()) {
            Ok(mut s) => {
                let key = match alg {
                    ALG_SM2 => Self::from_sm2_secret(&name, &s),
                    _ => Self::from_seed(&name, &s),
                };
                s.fill(0);
                key
            }
            Err(_) => Err(KeyError::MalformedPrivateKey(
                "a secret key is 32 bytes after the type byte",
            )),
        };
        secret.fill(0);
        let key = key?;
        check_key_id(id, key.key_id())?;
        Ok(key)
    }

    /// Writes the key to a new file at `path`, readable and writable by the owner only
    /// (0600 on Unix). Refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        save_private_text(path, &self.to_private_text())
    }

    /// Reads a key file written by [`CheckpointKey::save`]. On Unix, refuses a file that
    /// group or others can access.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        Self::from_private_text(&load_private_text(path)?)
    }
}

/// Splits a key file's text (one line, trailing newline optional) into its checked parts, as
/// [`parse_key_text`] does, the type byte one of `allowed`.
pub(crate) fn parse_private_text(
    text: &str,
    allowed: &[u8],
) -> Result<(String, [u8; 4], u8, Vec<u8>), KeyError> {
    let line = text.strip_suffix('\n').unwrap_or(text);
    let rest = line
        .strip_prefix(PRIVATE_PREFIX)
        .ok_or(KeyError::MalformedPrivateKey("missing PRIVATE+KEY+ prefix"))?;
    parse_key_text(rest, allowed, KeyError::MalformedPrivateKey)
}

/// The key file text `PRIVATE+KEY+<name>+<keyid>+<base64(type || secret)>` and a newline.
pub(crate) fn private_text(name: &str, key_id: [u8; 4], typed_secret: &[u8]) -> String {
    format!(
        "{PRIVATE_PREFIX}{name}+{}+{}\n",
        hex::encode(key_id),
        BASE64.encode(typed_secret)
    )
}

/// Writes a key file's text to a new file at `path`, mode 0600, the file and its name durable
/// before returning; never over an existing file (the module's contract).
pub(crate) fn save_private_text(path: &Path, text: &str) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::AlreadyExists(path.to_owned())
        } else {
            io(e)
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    // The file's name is durable only once its directory is synced (fsync(2)). Without
    // it a power loss could drop the key after it signed, and the next start would generate
    // another one that everyone pinning the first rejects.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| KeyError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Reads a key file's text; on Unix, refuses a file that group or others can access.
pub(crate) fn load_private_text(path: &Path) -> Result<String, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Check the permissions of the file actually opened, not of the path, so a swap
    // between the check and the read cannot slip a different file in.
    let meta = file.metadata().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyError::FileTooLarge(path.to_owned()));
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES)
        .read_to_string(&mut text)
        .map_err(io)?;
    Ok(text)
}

/// The public key an auditor verifies checkpoints with, as one line:
/// `<name>+<keyid hex>+<base64(type || public key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    /// Key name, matched against the signature line's name.
    name: String,
    /// Key id, matched against the first 4 bytes of the signature.
    key_id: [u8; 4],
    /// The public key.
    key: Public,
}

impl VerifierKey {
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key id.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The crypto profile of the log this key signs for: blake3 (Ed25519) or gm (SM2).
    pub fn profile(&self) -> Profile {
        self.key.profile()
    }

    /// The raw public key after its type byte: 32 bytes (Ed25519) or 65 (SM2, `04 || x || y`).
    pub fn public_key(&self) -> Vec<u8> {
        self.key.bytes()
    }

    /// Checks a signature: Ed25519 strictly (no malleable or small-order encodings), SM2 as
    /// `r || s` with SM3 and the standard distinguishing ID.
    pub(crate) fn verify_bytes(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            Public::Ed25519(k) => {
                let Ok(sig) = Signature::from_slice(signature) else {
                    return false;
                };
                k.verify_strict(message, &sig).is_ok()
            }
            Public::Sm2(k) => {
                let Ok(sig) = sm2::dsa::Signature::from_slice(signature) else {
                    return false;
                };
                sm2::dsa::signature::Verifier::verify(k.as_ref(), message, &sig).is_ok()
            }
        }
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(1 + SM2_PUBLIC_LEN);
        bytes.push(self.key.alg());
        bytes.extend_from_slice(&self.key.bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            BASE64.encode(bytes)
        )
    }
}

impl FromStr for VerifierKey {
    type Err = KeyError;

    /// Parses the one-line form; the key id must match the name and key.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (name, id, alg, public) = parse_key_text(
            s.trim_end_matches('\n'),
            CHECKPOINT_ALGS,
            KeyError::MalformedVerifierKey,
        )?;
        let key = Public::from_bytes(alg, &public, KeyError::MalformedVerifierKey)?;
        check_key_id(id, key.key_id(&name))?;
        Ok(Self {
            name,
            key_id: id,
            key,
        })
    }
}

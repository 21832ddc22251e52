//! The crypto profile of a ledger: which hash, signature and cipher its evidence rests on.
//!
//! A store is created with a profile and keeps it for its life (the store records it; every
//! export header names it; a `gm` ledger's checkpoint origin ends in [`GM_ORIGIN_SUFFIX`]):
//!
//! | profile | hash `H` | checkpoint and statement signatures | personal-data seal |
//! | --- | --- | --- | --- |
//! | `blake3` (default) | blake3 | Ed25519 | XChaCha20-Poly1305 |
//! | `gm` (national cryptography, 国密) | SM3 (GB/T 32905) | SM2 with SM3 (GB/T 32918.2) | SM4-GCM (GB/T 32907) |
//!
//! so that a deployment assessed under GB/T 39786-2021 (密评) has every piece of evidence on
//! the national algorithms. The byte layouts (domain tags, prefixes, orders) are the same in
//! both profiles; only the primitives change (docs/FORMAT.md, "Crypto profiles").
//!
//! **Architecture Invariant:** the profile is chosen once, when a store is opened or an export
//! read, and travels as a [`Profile`] value into everything that hashes, signs or seals; no
//! other module asks which profile it is in beyond handing the value on. The one exception
//! is the checkpoint key, whose own type (Ed25519 or SM2) says which profile it belongs to.
//!
//! Local checksums that are not evidence (the state snapshot's, the key store's record
//! checksums, idempotency fingerprints) stay blake3 in both profiles: they guard against a
//! torn write or a cache from another log, and no auditor ever checks them.

use std::fmt;
use std::str::FromStr;

use hmac::Mac as _;
use sm3::Digest as _;

use crate::merkle::hasher::{Digest, TreeHasher, children_with, leaf_with};

/// The environment variable naming the profile of a **new** store when none is given
/// (`serve --crypto`'s variable): `blake3` or `gm`.
pub const CRYPTO_VAR: &str = "ROTALEDGER_CRYPTO";

/// The end of a `gm` ledger's checkpoint origin (and of its key name): `rotaledger/gm`.
pub const GM_ORIGIN_SUFFIX: &str = "/gm";

/// The SM2 distinguishing identifier: the default of GB/T 35276-2017 (and GM/T 0009),
/// `1234567812345678`, which every SM2 toolkit uses when none is agreed.
pub const SM2_DISTID: &str = "1234567812345678";

/// A ledger's crypto profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Profile {
    /// blake3, Ed25519, XChaCha20-Poly1305: the default.
    #[default]
    #[value(name = "blake3")]
    Blake3,
    /// The national algorithms: SM3, SM2, SM4-GCM (国密).
    #[value(name = "gm")]
    Gm,
}

/// A profile name that is neither `blake3` nor `gm`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown crypto profile {0:?}: expected \"blake3\" or \"gm\"")]
pub struct UnknownProfile(pub String);

impl Profile {
    /// Both profiles.
    pub const ALL: [Profile; 2] = [Profile::Blake3, Profile::Gm];

    /// The profile's name, as stores, exports and `--crypto` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Blake3 => "blake3",
            Profile::Gm => "gm",
        }
    }

    /// The name of the hash `H`, as proof files and certificates spell it (`blake3`, `sm3`).
    pub fn hash_name(self) -> &'static str {
        match self {
            Profile::Blake3 => "blake3",
            Profile::Gm => "sm3",
        }
    }

    /// The profile whose hash [`Profile::hash_name`] is `name`.
    pub fn from_hash_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.hash_name() == name)
    }

    /// The profile for a new store: `explicit` if given, else [`CRYPTO_VAR`] if set, else
    /// `blake3`. An unknown name in the variable is an error, not a silent default.
    pub fn for_new_store(explicit: Option<Profile>) -> Result<Profile, UnknownProfile> {
        if let Some(p) = explicit {
            return Ok(p);
        }
        match std::env::var(CRYPTO_VAR) {
            Ok(v) if !v.is_empty() => v.parse(),
            _ => Ok(Profile::Blake3),
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Digest {
        match self {
            Profile::Blake3 => *blake3::hash(data).as_bytes(),
            Profile::Gm => sm3::Sm3::digest(data).into(),
        }
    }

    /// An incremental `H`.
    pub fn hasher(self) -> Hasher {
        match self {
            Profile::Blake3 => Hasher::Blake3(Box::default()),
            Profile::Gm => Hasher::Sm3(sm3::Sm3::new()),
        }
    }

    /// A 32-byte value derived from `material` for the purpose named by `context` (a fixed,
    /// versioned string): blake3's `derive_key` mode, or HMAC-SM3 (RFC 2104, GB/T 15852.2)
    /// keyed with `context` over `material`, as HKDF's extract step keys HMAC with its salt.
    pub fn derive_key(self, context: &str, material: &[u8]) -> [u8; 32] {
        match self {
            Profile::Blake3 => blake3::derive_key(context, material),
            Profile::Gm => {
                // HMAC accepts a key of any length, so `new_from_slice` cannot fail.
                let mut mac = match hmac::Hmac::<sm3::Sm3>::new_from_slice(context.as_bytes()) {
                    Ok(m) => m,
                    Err(_) => unreachable_hmac(),
                };
                mac.update(material);
                mac.finalize().into_bytes().into()
            }
        }
    }

    /// The checkpoint origin (and key name) of a ledger configured with `origin`: unchanged
    /// for blake3, with [`GM_ORIGIN_SUFFIX`] for gm (added once).
    pub fn checkpoint_origin(self, origin: &str) -> String {
        match self {
            Profile::Gm if !origin.ends_with(GM_ORIGIN_SUFFIX) => {
                format!("{origin}{GM_ORIGIN_SUFFIX}")
            }
            _ => origin.to_owned(),
        }
    }
}

/// The profile's authenticated cipher for personal data and the keys that seal it:
/// XChaCha20-Poly1305 (24-byte nonces) or SM4-GCM (12-byte nonces, GB/T 32907 with the GCM
/// of NIST SP 800-38D, as RFC 8998 uses it); 16-byte tags either way.
#[derive(Clone)]
pub enum Aead {
    /// XChaCha20-Poly1305 under a 32-byte key.
    XChaCha(chacha20poly1305::XChaCha20Poly1305),
    /// SM4-GCM under the first 16 bytes of the 32-byte key (SM4 keys are 128 bits).
    Sm4Gcm(Box<aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>>),
}

/// Bytes of the authentication tag of either cipher.
pub const AEAD_TAG_LEN: usize = 16;

/// Opening failed: another key, another associated data, or changed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sealed bytes do not open with this key and associated data")]
pub struct AeadFailure;

impl Aead {
    /// The profile's cipher under `key`.
    pub fn new(profile: Profile, key: &[u8; 32]) -> Aead {
        use aes_gcm::KeyInit as _;
        match profile {
            Profile::Blake3 => Aead::XChaCha(chacha20poly1305::XChaCha20Poly1305::new(key.into())),
            Profile::Gm => {
                let k = aes_gcm::Key::<aes_gcm::AesGcm<sm4::Sm4, aes_gcm::aead::consts::U12>>::from_slice(
                    &key[..16],
                );
                Aead::Sm4Gcm(Box::new(aes_gcm::AesGcm::new(k)))
            }
        }
    }

    /// Bytes of this cipher's nonce (24 or 12).
    pub fn nonce_len(&self) -> usize {
        match self {
            Aead::XChaCha(_) => 24,
            Aead::Sm4Gcm(_) => 12,
        }
    }

    /// `ciphertext || tag` of `msg` under `nonce` (exactly [`Aead::nonce_len`] bytes) and `aad`.
    pub fn encrypt(&self, nonce: &[u8], msg: &[u8], aad: &[u8]) -> Result<Vec<u8>, AeadFailure> {
        use aes_gcm::aead::{Aead as _, Payload};
        if nonce.len() != self.nonce_len() {
            return Err(AeadFailure);
        }
        let p = Payload { msg, aad };
        match self {
            Aead::XChaCha(c) => c.encrypt(chacha20poly1305::XNonce::from_slice(nonce), p),
            Aead::Sm4Gcm(c) => c.encrypt(aes_gcm::Nonce::from_slice(nonce), p),
        }
        .map_err(|_| AeadFailure)
    }

    /// The plaintext of `ciphertext || tag` made by [`Aead::encrypt`] with this nonce and `aad`.
    pub fn decrypt(&self, nonce: &[u8], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, AeadFailure> {
        use aes_gcm::aead::{Aead as _, Payload};
        if nonce.len() != self.nonce_len() {
            return Err(AeadFailure);
        }
        let p = Payload { msg: sealed, aad };
        match self {
            Aead::XChaCha(c) => c.decrypt(chacha20poly1305::XNonce::from_slice(nonce), p),
            Aead::Sm4Gcm(c) => c.decrypt(aes_gcm::Nonce::from_slice(nonce), p),
        }
        .map_err(|_| AeadFailure)
    }
}

/// HMAC's `new_from_slice` only fails for MACs with fixed key sizes, which HMAC is not.
#[cold]
fn unreachable_hmac() -> ! {
    unreachable!("HMAC accepts keys of every length")
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        match s {
            "blake3" => Ok(Profile::Blake3),
            "gm" => Ok(Profile::Gm),
            other => Err(UnknownProfile(other.to_owned())),
        }
    }
}

/// An incremental `H` of either profile.
#[derive(Clone)]
pub enum Hasher {
    /// blake3 (boxed: its state is ~2 KiB).
    Blake3(Box<blake3::Hasher>),
    /// SM3.
    Sm3(sm3::Sm3),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        match self {
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Sm3(h) => h.update(data),
        }
        self
    }

    /// The digest.
    pub fn finalize(self) -> Digest {
        match self {
            Hasher::Blake3(h) => *h.finalize().as_bytes(),
            Hasher::Sm3(h) => h.finalize().into(),
        }
    }
}

impl TreeHasher for Profile {
    fn empty_root(&self) -> Digest {
        self.hash(b"")
    }

    fn hash_leaf(&self, data: &[u8]) -> Digest {
        match self {
            Profile::Blake3 => crate::merkle::Blake3.hash_leaf(data),
            Profile::Gm => leaf_with::<sm3::Sm3>(data),
        }
    }

    fn hash_children(&self, left: &Digest, right: &Digest) -> Digest {
        match self {
            Profile::Blake3 => crate::merkle::Blake3.hash_children(left, right),
            Profile::Gm => children_with::<sm3::Sm3>(left, right),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GB/T 32905-2016, appendix A: the two examples.
    #[test]
    fn sm3_matches_the_standard_examples() {
        assert_eq!(
            hex::encode(Profile::Gm.hash(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        let abcd = b"abcd".repeat(16);
        assert_eq!(
            hex::encode(Profile::Gm.hash(&abcd)),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
        let mut h = Profile::Gm.hasher();
        h.update(b"ab").update(b"c");
        assert_eq!(h.finalize(), Profile::Gm.hash(b"abc"));
    }

    #[test]
    fn blake3_is_unchanged() {
        assert_eq!(
            Profile::Blake3.hash(b"abc"),
            *blake3::hash(b"abc").as_bytes()
        );
        assert_eq!(
            Profile::Blake3.derive_key("ctx", b"k"),
            blake3::derive_key("ctx", b"k")
        );
    }

    /// The tree constructions are RFC 9162's with SM3: checked against SM3 of the
    /// concatenated bytes.
    #[test]
    fn the_gm_tree_prefixes_leaves_and_nodes() {
        let (a, b) = ([7u8; 32], [9u8; 32]);
        let g = Profile::Gm;
        assert_eq!(g.empty_root(), g.hash(b""));
        assert_eq!(g.hash_leaf(b"abc"), g.hash(&[&[0u8][..], b"abc"].concat()));
        assert_eq!(
            g.hash_children(&a, &b),
            g.hash(&[&[1u8][..], &a, &b].concat())
        );
    }

    /// HMAC-SM3 checked against its RFC 2104 definition over SM3 (ipad/opad), keyed with the
    /// context.
    #[test]
    fn hmac_sm3_is_the_rfc_2104_construction() {
        let key = b"context v1";
        let msg = "rotaledger master";
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Profile::Gm.hash(&[&ipad[..], msg.as_bytes()].concat());
        let outer = Profile::Gm.hash(&[&opad[..], &inner[..]].concat());
        assert_eq!(Profile::Gm.derive_key("context v1", msg.as_bytes()), outer);
    }

    /// RFC 8998, appendix A.1: the SM4-GCM test vector (key, IV, AAD, plaintext, ciphertext
    /// and tag), with the 16-byte key as the first half of the 32 bytes `Aead` takes.
    #[test]
    fn sm4_gcm_matches_rfc_8998() {
        let h = |s: &str| hex::decode(s).unwrap();
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&h("0123456789ABCDEFFEDCBA9876543210"));
        let iv = h("00001234567800000000ABCD");
        let aad = h("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let plain = h(concat!(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD",
            "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
        ));
        let expected = h(concat!(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735",
            "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
            "83DE3541E4C2B58177E065A9BF7B62EC"
        ));
        let c = Aead::new(Profile::Gm, &key);
        assert_eq!(c.nonce_len(), 12);
        assert_eq!(c.encrypt(&iv, &plain, &aad).unwrap(), expected);
        assert_eq!(c.decrypt(&iv, &expected, &aad).unwrap(), plain);
        let mut bent = expected.clone();
        bent[0] ^= 1;
        assert_eq!(c.decrypt(&iv, &bent, &aad), Err(AeadFailure));
        assert_eq!(c.decrypt(&iv, &expected, b"other"), Err(AeadFailure));
    }

    #[test]
    fn names_round_trip_and_the_origin_gets_its_suffix_once() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        assert!("sm3".parse::<Profile>().is_err());
        assert_eq!(Profile::Gm.checkpoint_origin("rotaledger"), "rotaledger/gm");
        assert_eq!(Profile::Gm.checkpoint_origin("x/gm"), "x/gm");
        assert_eq!(Profile::Blake3.checkpoint_origin("x"), "x");
    }
}

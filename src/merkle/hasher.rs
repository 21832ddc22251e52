//! Leaf and interior-node hashing of the Merkle tree, generic over the hash function.
//!
//! The ledger hashes with blake3 ([`Blake3`]); the same tree code is checked against the
//! published RFC 6962 vectors through [`Sha256`]. Both follow RFC 9162 §2.1.1:
//!
//! - empty tree: `H("")`
//! - leaf:       `H(0x00 || data)`
//! - node:       `H(0x01 || left || right)`
//!
//! The one-byte prefixes keep a leaf from ever being mistaken for an interior node (the
//! second-preimage attack on unprefixed Merkle trees).

use sha2::Digest as _;

/// A 32-byte hash: every digest in the tree, proofs and checkpoints has this size.
pub type Digest = [u8; 32];

/// Domain-separation prefix of a leaf hash (RFC 9162 §2.1.1).
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 9162 §2.1.1).
pub const NODE_PREFIX: u8 = 0x01;

/// The three hash constructions the tree needs.
///
/// Implementations are stateless (unit structs), so the tree algorithms take them by
/// reference and never need to allocate one.
pub trait TreeHasher {
    /// The root of the empty tree: `H("")`.
    fn empty_root(&self) -> Digest;
    /// A leaf hash: `H(0x00 || data)`. In the ledger `data` is the 32-byte entry hash.
    fn hash_leaf(&self, data: &[u8]) -> Digest;
    /// An interior node: `H(0x01 || left || right)`.
    fn hash_children(&self, left: &Digest, right: &Digest) -> Digest;
}

/// blake3 with 32-byte output: the hash of the rotaledger tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blake3;

impl TreeHasher for Blake3 {
    fn empty_root(&self) -> Digest {
        *blake3::hash(b"").as_bytes()
    }

    // The inputs are assembled on the stack and hashed in one call: `blake3::hash` on a
    // short input skips the incremental hasher's set-up, which otherwise costs more than the
    // one or two compressions a leaf or node needs (a verification or replay computes about
    // two per entry).
    fn hash_leaf(&self, data: &[u8]) -> Digest {
        if data.len() <= 64 {
            let mut buf = [0u8; 65];
            buf[0] = LEAF_PREFIX;
            buf[1..=data.len()].copy_from_slice(data);
            return *blake3::hash(&buf[..=data.len()]).as_bytes();
        }
        let mut h = blake3::Hasher::new();
        h.update(&[LEAF_PREFIX]);
        h.update(data);
        *h.finalize().as_bytes()
    }

    fn hash_children(&self, left: &Digest, right: &Digest) -> Digest {
        let mut buf = [0u8; 65];
        buf[0] = NODE_PREFIX;
        buf[1..33].copy_from_slice(left);
        buf[33..].copy_from_slice(right);
        *blake3::hash(&buf).as_bytes()
    }
}

/// SHA-256: the hash of RFC 6962 / Certificate Transparency. Not used by the ledger; it exists
/// so the tree and proof algorithms are tested against the published vectors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sha256;

impl TreeHasher for Sha256 {
    fn empty_root(&self) -> Digest {
        sha2::Sha256::digest(b"").into()
    }

    fn hash_leaf(&self, data: &[u8]) -> Digest {
        leaf_with::<sha2::Sha256>(data)
    }

    fn hash_children(&self, left: &Digest, right: &Digest) -> Digest {
        children_with::<sha2::Sha256>(left, right)
    }
}

/// A 32-byte RustCrypto hash (SHA-256 here, SM3 in `crate::crypto`).
pub trait Digest32:
    sha2::Digest + sha2::digest::OutputSizeUser<OutputSize = sha2::digest::consts::U32>
{
}

impl<D: sha2::Digest + sha2::digest::OutputSizeUser<OutputSize = sha2::digest::consts::U32>>
    Digest32 for D
{
}

/// `H(0x00 || data)` with the hash `D`.
pub fn leaf_with<D: Digest32>(data: &[u8]) -> Digest {
    let mut h = D::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// `H(0x01 || left || right)` with the hash `D`.
pub fn children_with<D: Digest32>(left: &Digest, right: &Digest) -> Digest {
    let mut h = D::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: hash the concatenated bytes in one call, so a prefix or order mistake in
    /// the incremental hashers above shows up.
    fn blake3_of(parts: &[&[u8]]) -> Digest {
        *blake3::hash(&parts.concat()).as_bytes()
    }

    #[test]
    fn blake3_constructions_match_their_definitions() {
        let h = Blake3;
        let (a, b) = ([7u8; 32], [9u8; 32]);
        assert_eq!(h.empty_root(), blake3_of(&[]));
        assert_eq!(h.hash_leaf(b"abc"), blake3_of(&[&[0x00], b"abc"]));
        assert_eq!(h.hash_children(&a, &b), blake3_of(&[&[0x01], &a, &b]));
        assert_ne!(h.hash_children(&a, &b), h.hash_children(&b, &a));
    }

    #[test]
    fn sha256_empty_root_is_the_well_known_value() {
        assert_eq!(
            hex::encode(Sha256.empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

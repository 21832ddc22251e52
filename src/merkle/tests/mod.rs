//! Tests of the merkle module against references written straight from the RFC definitions.

/// Signed checkpoints and keys.
mod checkpoint;
/// The worked example of docs/FORMAT.md §2.6.
mod example;
/// Every proof of every tree up to 64 leaves, and mangled proofs rejected.
mod exhaustive;
/// Untrusted input never panics.
mod fuzz;
/// SM2 checkpoint keys against OpenSSL, both ways, and the gm worked example.
mod gm;
/// The proof length limits at their boundary, on trees of nearly 2^64 leaves.
mod limits;
/// The published RFC 6962 SHA-256 vectors.
mod rfc6962;
/// The frontier, the node store and the cost of reads.
mod store;

use super::hasher::{Digest, TreeHasher};

/// `MTH(D[n])` of RFC 9162 §2.1.1, recursively over leaf hashes.
pub(super) fn ref_root<H: TreeHasher>(h: &H, leaves: &[Digest]) -> Digest {
    match leaves.len() {
        0 => h.empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_pow2_below(n);
            h.hash_children(&ref_root(h, &leaves[..k]), &ref_root(h, &leaves[k..]))
        }
    }
}

/// `PATH(m, D[n])` of RFC 9162 §2.1.3.1, recursively.
pub(super) fn ref_path<H: TreeHasher>(h: &H, m: usize, leaves: &[Digest]) -> Vec<Digest> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = largest_pow2_below(n);
    if m < k {
        let mut p = ref_path(h, m, &leaves[..k]);
        p.push(ref_root(h, &leaves[k..]));
        p
    } else {
        let mut p = ref_path(h, m - k, &leaves[k..]);
        p.push(ref_root(h, &leaves[..k]));
        p
    }
}

/// `SUBPROOF(m, D[n], b)` of RFC 9162 §2.1.4.1, recursively.
pub(super) fn ref_subproof<H: TreeHasher>(
    h: &H,
    m: usize,
    leaves: &[Digest],
    b: bool,
) -> Vec<Digest> {
    let n = leaves.len();
    if m == n {
        return if b {
            Vec::new()
        } else {
            vec![ref_root(h, leaves)]
        };
    }
    let k = largest_pow2_below(n);
    if m <= k {
        let mut p = ref_subproof(h, m, &leaves[..k], b);
        p.push(ref_root(h, &leaves[k..]));
        p
    } else {
        let mut p = ref_subproof(h, m - k, &leaves[k..], false);
        p.push(ref_root(h, &leaves[..k]));
        p
    }
}

/// The largest power of two strictly below `n` (`n >= 2`), computed the slow, obvious way.
fn largest_pow2_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The stand-in entry hashes used throughout: `blake3("entry-<i>")`.
pub(super) fn entry(i: usize) -> Digest {
    *blake3::hash(format!("entry-{i}").as_bytes()).as_bytes()
}

/// The same stand-in made with the profile's hash: `H("entry-<i>")`.
pub(super) fn entry_with(p: &crate::crypto::Profile, i: usize) -> Digest {
    p.hash(format!("entry-{i}").as_bytes())
}

/// Hex of a digest, for readable assertion failures.
pub(super) fn hx(d: &Digest) -> String {
    hex::encode(d)
}

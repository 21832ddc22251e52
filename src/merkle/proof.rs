//! Inclusion and consistency proofs: generated from a [`NodeSource`] in O(log n) reads
//! (RFC 9162 §2.1.3.1, §2.1.4.1) and verified exactly by the algorithms of RFC 9162
//! §2.1.3.2 and §2.1.4.2.
//!
//! A proof is a list of 32-byte hashes, deepest first; on the wire it is their plain
//! concatenation ([`proof_to_bytes`], [`proof_from_bytes`]).
//!
//! Verification never answers a bare `false`: every failure is a [`VerifyError`] that says
//! which check failed, so an auditor can report it.
//!
//! Note that a verifier trusts a `(size, root)` pair only together, as signed in a
//! checkpoint: an inclusion proof is checked against the root of the size it claims.

use super::hasher::{Digest, TreeHasher};
use super::tree::{NodeSource, TreeError, range_root, split_point};

/// The most hashes an inclusion proof can have (FORMAT.md §2.4, "Proof length"): one sibling
/// per level between the leaf and the root, and a leaf of a tree of `n < 2^64` leaves is at
/// most `⌈log2 n⌉ <= 64` levels deep (64 for `n > 2^63`, e.g. leaf 0).
pub const MAX_INCLUSION_HASHES: usize = 64;

/// The most hashes a consistency proof can have (FORMAT.md §2.4, "Proof length"): `SUBPROOF`
/// adds one hash per level it descends (at most 64) and, when it stops at a node that is not
/// the whole old tree, that node's hash: 65 at most, reached e.g. from size `2^63 + 1` to
/// size `2^64 - 1`, whose old tree ends at a leaf 64 levels deep.
pub const MAX_CONSISTENCY_HASHES: usize = 65;

/// Which proof some hashes are: the two kinds have different length limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofKind {
    /// An inclusion proof (`PATH`, RFC 9162 §2.1.3).
    Inclusion,
    /// A consistency proof (`PROOF`, RFC 9162 §2.1.4).
    Consistency,
}

impl ProofKind {
    /// The most hashes a proof of this kind can have.
    pub const fn max_hashes(self) -> usize {
        match self {
            ProofKind::Inclusion => MAX_INCLUSION_HASHES,
            ProofKind::Consistency => MAX_CONSISTENCY_HASHES,
        }
    }

    /// The kind's name, as in proof files and messages.
    pub const fn name(self) -> &'static str {
        match self {
            ProofKind::Inclusion => "inclusion",
            ProofKind::Consistency => "consistency",
        }
    }
}

impl std::fmt::Display for ProofKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1
/// `PATH(index, D[0:size])`), deepest sibling first.
///
/// Reads: every left sibling is a perfect subtree (one read); at most one right sibling is
/// ragged (at most 64 reads), so the total is O(log n).
pub fn inclusion_proof<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    index: u64,
    size: u64,
    src: &S,
) -> Result<Vec<Digest>, TreeError<S::Error>> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::new();
    let (mut begin, mut end) = (0u64, size);
    while end - begin > 1 {
        let k = split_point(end - begin);
        if index < begin + k {
            // PATH(m, D[0:k]) : MTH(D[k:n])
            path.push(range_root(hasher, src, begin + k, end)?);
            end = begin + k;
        } else {
            // PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.push(range_root(hasher, src, begin, begin + k)?);
            begin += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from the tree of `old_size` leaves to the tree of `new_size`
/// (RFC 9162 §2.1.4.1 `PROOF(old_size, D[0:new_size])`).
///
/// For `old_size == new_size` and for `old_size == 0` the proof is empty (the RFC leaves
/// these cases out; [`verify_consistency`] documents how they are checked).
pub fn consistency_proof<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    old_size: u64,
    new_size: u64,
    src: &S,
) -> Result<Vec<Digest>, TreeError<S::Error>> {
    if old_size > new_size {
        return Err(TreeError::SizesOutOfOrder { old_size, new_size });
    }
    let mut path = Vec::new();
    if old_size == 0 || old_size == new_size {
        return Ok(path);
    }
    // SUBPROOF(m, D[begin:end], b), unrolled: m is relative to `begin`.
    let (mut begin, mut end, mut m, mut whole) = (0u64, new_size, old_size, true);
    loop {
        let n = end - begin;
        if m == n {
            // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
            if !whole {
                path.push(range_root(hasher, src, begin, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            path.push(range_root(hasher, src, begin + k, end)?);
            end = begin + k;
        } else {
            // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            path.push(range_root(hasher, src, begin, begin + k)?);
            begin += k;
            m -= k;
            whole = false;
        }
    }
    path.reverse();
    Ok(path)
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old size {old_size} is larger than new size {new_size}")]
    SizesOutOfOrder {
        /// Claimed old size.
        old_size: u64,
        /// Claimed new size.
        new_size: u64,
    },
    /// The proof has more hashes than the path from the leaf (or old tree) to the root.
    #[error("proof too long: {len} hashes, but the path to the root ends after {used}")]
    ProofTooLong {
        /// Hashes in the proof.
        len: usize,
        /// Hashes the path used.
        used: usize,
    },
    /// The proof ran out of hashes before reaching the root.
    #[error("proof too short: {len} hashes do not reach the root")]
    ProofTooShort {
        /// Hashes in the proof.
        len: usize,
    },
    /// A consistency proof between two different sizes must not be empty.
    #[error("empty consistency proof from size {old_size} to {new_size}")]
    EmptyProof {
        /// Claimed old size.
        old_size: u64,
        /// Claimed new size.
        new_size: u64,
    },
    /// Equal sizes, or an empty old tree, need no proof; one was given anyway.
    #[error("expected an empty proof from size {old_size} to {new_size}, got {len} hashes")]
    ProofNotEmpty {
        /// Claimed old size.
        old_size: u64,
        /// Claimed new size.
        new_size: u64,
        /// Hashes given.
        len: usize,
    },
    /// The root recomputed from the leaf and proof is not the root given.
    #[error("root mismatch: proof leads to {}, expected {}", hex::encode(.computed), hex::encode(.expected))]
    RootMismatch {
        /// Root computed from the proof.
        computed: Digest,
        /// Root given (from a checkpoint).
        expected: Digest,
    },
    /// The proof does not lead to the old root: the old tree is not a prefix of the new one
    /// as claimed.
    #[error("old root mismatch: proof leads to {}, expected {}", hex::encode(.computed), hex::encode(.expected))]
    OldRootMismatch {
        /// Old root computed from the proof.
        computed: Digest,
        /// Old root given.
        expected: Digest,
    },
    /// The proof does not lead to the new root: the new tree does not extend the old one.
    #[error("new root mismatch: proof leads to {}, expected {}", hex::encode(.computed), hex::encode(.expected))]
    NewRootMismatch {
        /// New root computed from the proof.
        computed: Digest,
        /// New root given.
        expected: Digest,
    },
    /// Same size, different roots: two different logs (a fork).
    #[error("same size {size} but different roots {} and {}: the log forked", hex::encode(.old_root), hex::encode(.new_root))]
    RootsDiffer {
        /// The size of both trees.
        size: u64,
        /// The first root.
        old_root: Digest,
        /// The second root.
        new_root: Digest,
    },
    /// Proof bytes are not a whole number of 32-byte hashes.
    #[error("proof is {len} bytes, not a multiple of 32")]
    BadProofLength {
        /// Length of the bytes.
        len: usize,
    },
    /// More hashes than any proof of its kind can have (refused before any hashing).
    #[error("{kind} proof has {len} hashes, more than the {} any {kind} proof can have", .kind.max_hashes())]
    ProofTooLarge {
        /// Which kind of proof.
        kind: ProofKind,
        /// Hashes given.
        len: usize,
    },
}

/// Refuses more hashes than a proof of `kind` can have. The algorithms below would refuse
/// such a proof too (as too long for the tree), but only after hashing what they were given;
/// this states the limit once and refuses before any work.
fn check_len(kind: ProofKind, len: usize) -> Result<(), VerifyError> {
    if len > kind.max_hashes() {
        return Err(VerifyError::ProofTooLarge { kind, len });
    }
    Ok(())
}

/// Right-shift both counters, as the RFC algorithms do after each step.
fn shift(fn_: &mut u64, sn: &mut u64) {
    *fn_ >>= 1;
    *sn >>= 1;
}

/// Verifies that `leaf_hash` is leaf `leaf_index` of the tree of `size` leaves with root
/// `root` (RFC 9162 §2.1.3.2). For a ledger entry, `leaf_hash` is
/// `hasher.hash_leaf(entry_hash)`, not the entry hash itself.
pub fn verify_inclusion<H: TreeHasher>(
    hasher: &H,
    leaf_index: u64,
    size: u64,
    leaf_hash: &Digest,
    proof: &[Digest],
    root: &Digest,
) -> Result<(), VerifyError> {
    check_len(ProofKind::Inclusion, proof.len())?;
    // 1. leaf_index must be below tree_size.
    if leaf_index >= size {
        return Err(VerifyError::IndexOutOfRange {
            index: leaf_index,
            size,
        });
    }
    // 2-3.
    let (mut fn_, mut sn) = (leaf_index, size - 1);
    let mut r = *leaf_hash;
    // 4.
    for (used, p) in proof.iter().enumerate() {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong {
                len: proof.len(),
                used,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = hasher.hash_children(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    shift(&mut fn_, &mut sn);
                }
            }
        } else {
            r = hasher.hash_children(&r, p);
        }
        shift(&mut fn_, &mut sn);
    }
    // 5.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort { len: proof.len() });
    }
    if r != *root {
        return Err(VerifyError::RootMismatch {
            computed: r,
            expected: *root,
        });
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Two cases the RFC algorithm does not cover are decided as follows: equal sizes need an
/// empty proof and equal roots (different roots are a fork); an old size of 0 needs an
/// empty proof and `old_root == H("")`, since every tree extends the empty one.
pub fn verify_consistency<H: TreeHasher>(
    hasher: &H,
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
) -> Result<(), VerifyError> {
    verify_consistency_traced(
        hasher,
        old_size,
        new_size,
        old_root,
        new_root,
        proof,
        |_| {},
    )
}

/// What [`verify_consistency_traced`] did, step by step (the numbers are those of RFC 9162
/// §2.1.4.2 and of FORMAT.md §2.4). `fn` and `sn` are given as `(fn, sn)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsistencyStep {
    /// Steps 2-5: the path, `fn` and `sn`, and the starting `fr = sr`.
    Start {
        /// Step 2: the old size is a power of two, so the path is the old root and then the
        /// proof (otherwise the path is the proof).
        old_root_prepended: bool,
        /// Step 3: `(old_size - 1, new_size - 1)`.
        initial: (u64, u64),
        /// After step 4 (both shifted right while `fn` is odd).
        shifted: (u64, u64),
        /// Step 5: the first hash of the path, the starting `fr` and `sr`.
        first: Digest,
    },
    /// Step 6, for one further hash `c` of the path.
    Hash {
        /// Its position in the path (1 for the first hash after `first`).
        position: usize,
        /// The hash.
        c: Digest,
        /// `(fn, sn)` before the step.
        before: (u64, u64),
        /// `fn` was odd or equal to `sn`: `c` was a left sibling on both paths, so both
        /// `fr` and `sr` were updated; otherwise it was a right sibling of the new tree's
        /// path only, and only `sr` was.
        both: bool,
        /// `fr` after the step.
        fr: Digest,
        /// `sr` after the step.
        sr: Digest,
        /// With `both` and an even `fn`: `(fn, sn)` after shifting right until `fn` is odd
        /// or 0 (step 6.b.ii).
        inner: Option<(u64, u64)>,
        /// `(fn, sn)` after the final shift of the step (6.c).
        after: (u64, u64),
    },
}

/// [`verify_consistency`], handing every step of the RFC algorithm to `trace` as it is
/// taken: the worked example of FORMAT.md §2.6 is this trace, printed. Nothing is traced for
/// the cases decided before step 2 (equal sizes, an empty old tree, refusals).
pub fn verify_consistency_traced<H: TreeHasher>(
    hasher: &H,
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    proof: &[Digest],
    mut trace: impl FnMut(ConsistencyStep),
) -> Result<(), VerifyError> {
    check_len(ProofKind::Consistency, proof.len())?;
    if old_size > new_size {
        return Err(VerifyError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(VerifyError::ProofNotEmpty {
                old_size,
                new_size,
                len: proof.len(),
            });
        }
        if old_size == new_size {
            if old_root != new_root {
                return Err(VerifyError::RootsDiffer {
                    size: old_size,
                    old_root: *old_root,
                    new_root: *new_root,
                });
            }
        } else if *old_root != hasher.empty_root() {
            return Err(VerifyError::OldRootMismatch {
                computed: hasher.empty_root(),
                expected: *old_root,
            });
        }
        return Ok(());
    }
    // 1. An empty path fails.
    if proof.is_empty() {
        return Err(VerifyError::EmptyProof { old_size, new_size });
    }
    // 2. If first is an exact power of 2, prepend first_hash to the path.
    let old_root_prepended = old_size.is_power_of_two();
    let (first, rest) = if old_root_prepended {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    // Count of proof hashes consumed before `rest`, for error messages.
    let offset = proof.len() - rest.len();
    // 3.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    let initial = (fn_, sn);
    // 4. If LSB(fn) is set, right-shift both until it is not.
    while fn_ & 1 == 1 {
        shift(&mut fn_, &mut sn);
    }
    // 5.
    let (mut fr, mut sr) = (first, first);
    trace(ConsistencyStep::Start {
        old_root_prepended,
        initial,
        shifted: (fn_, sn),
        first,
    });
    // 6.
    for (i, c) in rest.iter().enumerate() {
        if sn == 0 {
            return Err(VerifyError::ProofTooLong {
                len: proof.len(),
                used: offset + i,
            });
        }
        let before = (fn_, sn);
        let both = fn_ & 1 == 1 || fn_ == sn;
        let mut inner = None;
        if both {
            fr = hasher.hash_children(c, &fr);
            sr = hasher.hash_children(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    shift(&mut fn_, &mut sn);
                }
                inner = Some((fn_, sn));
            }
        } else {
            sr = hasher.hash_children(&sr, c);
        }
        shift(&mut fn_, &mut sn);
        trace(ConsistencyStep::Hash {
            position: i + 1,
            c: *c,
            before,
            both,
            fr,
            sr,
            inner,
            after: (fn_, sn),
        });
    }
    // 7.
    if sn != 0 {
        return Err(VerifyError::ProofTooShort { len: proof.len() });
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch {
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(VerifyError::NewRootMismatch {
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}

/// A proof on the wire: its hashes concatenated, deepest first.
pub fn proof_to_bytes(proof: &[Digest]) -> Vec<u8> {
    proof.concat()
}

/// Decodes [`proof_to_bytes`] output of a proof of `kind`, refusing ragged input and more
/// hashes than such a proof can have.
pub fn proof_from_bytes(kind: ProofKind, bytes: &[u8]) -> Result<Vec<Digest>, VerifyError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(VerifyError::BadProofLength { len: bytes.len() });
    }
    check_len(kind, bytes.len() / 32)?;
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut d = [0u8; 32];
            d.copy_from_slice(c);
            d
        })
        .collect())
}

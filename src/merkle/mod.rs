//! The Merkle tree over the entry hashes, its proofs, and signed checkpoints (SPEC §5).
//!
//! Pure computation: the node store is behind [`NodeSource`], so this module does no I/O
//! except loading and saving the checkpoint key file ([`key`]).
//!
//! # Layout
//!
//! - [`hasher`]: leaf/node hashing (RFC 9162 §2.1.1), blake3 for the ledger, SHA-256 for the
//!   RFC 6962 test vectors.
//! - [`tree`]: the tree over a store of perfect subtrees: roots of any past size, the
//!   [`CompactRange`] frontier maintained on append, an in-memory store.
//! - [`proof`]: inclusion and consistency proofs, generation and verification.
//! - [`proof_file`]: the JSON proof file an auditor checks offline against checkpoints.
//! - [`checkpoint`]: the signed checkpoint text (C2SP tlog-checkpoint + signed-note).
//! - [`key`]: the ed25519 checkpoint key, its file, and the one-line verifier key.
//! - [`cosignature`]: witness keys and their C2SP cosignatures on checkpoints.
//!
//! The byte-level formats are in `docs/FORMAT.md`, part 2.

pub mod checkpoint;
pub mod cosignature;
pub mod hasher;
pub mod key;
pub mod proof;
pub mod proof_file;
pub mod tree;

#[cfg(test)]
mod tests;

pub use checkpoint::{Checkpoint, CheckpointError, NoteSignature, SignedCheckpoint};
pub use cosignature::{CosignatureError, WitnessKey, WitnessVerifier, require_cosignatures};
pub use hasher::{Blake3, Digest, Sha256, TreeHasher};
pub use key::{CheckpointKey, KeyError, VerifierKey};
pub use proof::{
    ConsistencyStep, MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES, ProofKind, VerifyError,
    consistency_proof, inclusion_proof, proof_from_bytes, proof_to_bytes, verify_consistency,
    verify_consistency_traced, verify_inclusion,
};
pub use proof_file::{ConsistencyProof, InclusionProof, ProofFile, ProofFileError, ProofMismatch};
pub use tree::{
    CompactRange, MemoryNodes, MemoryNodesError, MissingNode, Node, NodeSource, RecentNodes,
    TreeError, TreeFull, root,
};

//! The evidence a mirror keeps when its primary shows a history inconsistent with the copy
//! it verified: both signed checkpoints (the primary's last one the mirror trusted, over its
//! own size, and the one that contradicts it) and the failed proof, in one JSON file an
//! auditor can check by hand (docs/MIRRORS.md, "A fork").

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;

use crate::ledger::{Ledger, Mirror};
use crate::merkle::SignedCheckpoint;

/// A fork, as the mirror saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Fork {
    /// The primary's address.
    pub primary: String,
    /// When the mirror saw it (RFC 3339, UTC).
    pub detected_at: String,
    /// What does not hold, for a person.
    pub problem: String,
    /// How many entries the mirror holds (verified).
    pub mirror_size: u64,
    /// The Merkle root over them, computed by the mirror (hex).
    pub mirror_root: String,
    /// The primary's signed checkpoint over `mirror_size` entries that the mirror stored
    /// with them (`None`: the mirror held none at that size).
    pub trusted_checkpoint: Option<String>,
    /// The primary's signed checkpoint that contradicts it.
    pub new_checkpoint: String,
    /// The consistency proof the primary gave between the two sizes, if it gave one.
    pub consistency_proof: Option<Proof>,
}

/// A consistency proof as received.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// The smaller size (the mirror's).
    pub old_size: u64,
    /// The larger size (the new checkpoint's).
    pub new_size: u64,
    /// The proof's hashes (hex), as the primary sent them.
    pub hashes: Vec<String>,
}

impl Fork {
    /// The fork seen by `mirror` (of `ledger`) against `theirs`.
    pub fn new(
        mirror: &Mirror,
        ledger: &Ledger,
        theirs: &SignedCheckpoint,
        proof: Option<(u64, u64, Vec<[u8; 32]>)>,
        problem: String,
    ) -> Fork {
        let head = ledger.head();
        Fork {
            primary: mirror.primary.clone(),
            detected_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            problem,
            mirror_size: head.size,
            mirror_root: hex::encode(head.root),
            trusted_checkpoint: ledger.latest_checkpoint().ok().map(|c| c.to_text()),
            new_checkpoint: theirs.to_text(),
            consistency_proof: proof.map(|(old_size, new_size, hashes)| Proof {
                old_size,
                new_size,
                hashes: hashes.iter().map(hex::encode).collect(),
            }),
        }
    }

    /// Writes the evidence to `<dir>/fork-evidence-<time>.json` (complete or not at all) and
    /// returns its path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, crate::atomic::FileError> {
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        let path = dir.join(format!("fork-evidence-{stamp}.json"));
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        crate::atomic::AtomicFile::write_all(&path, text.as_bytes())?;
        Ok(path)
    }
}

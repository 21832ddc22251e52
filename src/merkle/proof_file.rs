//! The proof file: an inclusion or consistency proof as a small JSON document that travels
//! from the ledger's owner to an auditor, who checks it against a signed checkpoint offline.
//!
//! ```text
//! {
//!   "format": "rotaledger-proof",
//!   "version": 1,
//!   "kind": "inclusion",            // or "consistency"
//!   "hash": "blake3",               // or "sm3": the log's hash (its crypto profile)
//!   "index": 3, "size": 10,         // inclusion: leaf index and tree size
//!   "entry_hash": "<64 hex digits>",// inclusion: the entry the proof is about
//!   "old_size": 5, "new_size": 10,  // consistency: the two tree sizes
//!   "proof": ["<64 hex digits>", ...]
//! }
//! ```
//!
//! The file carries no root: roots come only from signed checkpoints, so a proof file on its
//! own cannot convince anyone of anything. Parsing is strict (unknown fields, fields of the
//! other kind, upper-case or short hex, more hashes than a proof of its kind can have
//! ([`ProofKind::max_hashes`]) are refused) and
//! errors name the line and column, because an auditor holding a broken file needs to know
//! where it broke. The byte-level description is in `docs/AUDIT.md`.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::checkpoint::Checkpoint;
use super::hasher::{Digest, TreeHasher};
use super::proof::{ProofKind, VerifyError, verify_consistency, verify_inclusion};
use crate::crypto::Profile;

/// The `format` field of every proof file.
pub const PROOF_FORMAT: &str = "rotaledger-proof";
/// The `version` field this code writes and reads.
pub const PROOF_VERSION: u32 = 1;
/// The `hash` field of a blake3 ledger's proofs (RFC 9162 constructions over blake3); a `gm`
/// ledger's say `sm3` ([`Profile::hash_name`]).
pub const PROOF_HASH: &str = "blake3";
/// A proof file is a few kilobytes at most (at most 65 hashes); refuse anything much larger
/// unread.
pub const MAX_PROOF_FILE_BYTES: usize = 64 * 1024;

/// A proof file, parsed and checked for shape (not yet verified against anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofFile {
    /// "Entry `index` with hash `entry_hash` is in the log of `size` entries."
    Inclusion(InclusionProof),
    /// "The log of `new_size` entries extends the log of `old_size` entries."
    Consistency(ConsistencyProof),
}

/// The content of an inclusion proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The log's crypto profile: its hash is the tree's (the file's `hash` field).
    pub profile: Profile,
    /// The entry's sequence number (its leaf index).
    pub index: u64,
    /// The tree size the proof leads to; it must be the checkpoint's size.
    pub size: u64,
    /// The entry hash (the leaf is `H(0x00 || entry_hash)`).
    pub entry_hash: Digest,
    /// The sibling hashes, deepest first.
    pub proof: Vec<Digest>,
}

/// The content of a consistency proof file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The log's crypto profile: its hash is the tree's (the file's `hash` field).
    pub profile: Profile,
    /// The size of the older tree; it must be the older checkpoint's size.
    pub old_size: u64,
    /// The size of the newer tree; it must be the newer checkpoint's size.
    pub new_size: u64,
    /// The RFC 9162 consistency path.
    pub proof: Vec<Digest>,
}

/// Why a proof file could not be read. These are "cannot run" errors: the file is not a
/// proof file at all, as opposed to a proof that does not verify ([`ProofMismatch`]).
#[derive(Debug, thiserror::Error)]
pub enum ProofFileError {
    /// Larger than [`MAX_PROOF_FILE_BYTES`].
    #[error("{len} bytes, more than the {MAX_PROOF_FILE_BYTES} a proof file can have")]
    TooLarge {
        /// Length of the input.
        len: usize,
    },
    /// Not JSON, or a field with a wrong type or value; serde_json's message names the
    /// line and column.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A field required by the file's kind is absent.
    #[error("{kind} proofs need the field {field:?}")]
    MissingField {
        /// `inclusion` or `consistency`.
        kind: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// More proof hashes than any proof of the file's kind can have (FORMAT.md §2.4).
    #[error("{kind} proof has {len} hashes, more than the {} any {kind} proof can have", .kind.max_hashes())]
    TooManyHashes {
        /// The file's kind.
        kind: ProofKind,
        /// Hashes in the file.
        len: usize,
    },
    /// A field of the other kind is present (the file is ambiguous).
    #[error("{kind} proofs must not have the field {field:?}")]
    ForeignField {
        /// `inclusion` or `consistency`.
        kind: &'static str,
        /// The field that does not belong.
        field: &'static str,
    },
}

/// Why a well-formed proof does not hold against the checkpoint(s) it is checked with: what
/// an auditor reports as a problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofMismatch {
    /// The proof is for a tree of another size than the checkpoint's.
    #[error("the proof is for a log of {proof} entries, {which} is for {checkpoint}")]
    SizeMismatch {
        /// Which checkpoint: "the checkpoint", "the old checkpoint" or "the new checkpoint".
        which: &'static str,
        /// Size stated by the proof.
        proof: u64,
        /// Size stated by the checkpoint.
        checkpoint: u64,
    },
    /// The entry asked about is not the one the proof is about.
    #[error(
        "the proof is about entry hash {}, the entry checked has hash {}",
        hex::encode(.proof),
        hex::encode(.given)
    )]
    EntryMismatch {
        /// The proof file's entry hash.
        proof: Digest,
        /// The entry hash given to check.
        given: Digest,
    },
    /// The two checkpoints name different logs.
    #[error("the checkpoints are of different logs: origin {old:?} and {new:?}")]
    OriginMismatch {
        /// Origin of the older checkpoint.
        old: String,
        /// Origin of the newer checkpoint.
        new: String,
    },
    /// The "new" checkpoint has fewer entries than the "old": the log was rolled back (or
    /// the checkpoints were given the wrong way round).
    #[error(
        "the new checkpoint has {new_size} entries, fewer than the old checkpoint's {old_size}: the log was rolled back"
    )]
    RolledBack {
        /// Size of the older checkpoint.
        old_size: u64,
        /// Size of the newer checkpoint.
        new_size: u64,
    },
    /// The proof itself fails (RFC 9162 verification).
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

impl InclusionProof {
    /// Checks that `entry_hash` is leaf `self.index` of the tree that `checkpoint` (already
    /// signature-checked by the caller) commits to.
    pub fn verify(
        &self,
        entry_hash: &Digest,
        checkpoint: &Checkpoint,
    ) -> Result<(), ProofMismatch> {
        if self.size != checkpoint.size {
            return Err(ProofMismatch::SizeMismatch {
                which: "the checkpoint",
                proof: self.size,
                checkpoint: checkpoint.size,
            });
        }
        if *entry_hash != self.entry_hash {
            return Err(ProofMismatch::EntryMismatch {
                proof: self.entry_hash,
                given: *entry_hash,
            });
        }
        let leaf = self.profile.hash_leaf(entry_hash);
        verify_inclusion(
            &self.profile,
            self.index,
            self.size,
            &leaf,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(())
    }
}

impl ConsistencyProof {
    /// Checks that the log `new` commits to extends the log `old` commits to (both already
    /// signature-checked by the caller): same origin, no rollback, sizes as the proof says,
    /// and the RFC 9162 proof.
    pub fn verify(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), ProofMismatch> {
        if old.origin != new.origin {
            return Err(ProofMismatch::OriginMismatch {
                old: old.origin.clone(),
                new: new.origin.clone(),
            });
        }
        if new.size < old.size {
            return Err(ProofMismatch::RolledBack {
                old_size: old.size,
                new_size: new.size,
            });
        }
        for (which, proof, checkpoint) in [
            ("the old checkpoint", self.old_size, old.size),
            ("the new checkpoint", self.new_size, new.size),
        ] {
            if proof != checkpoint {
                return Err(ProofMismatch::SizeMismatch {
                    which,
                    proof,
                    checkpoint,
                });
            }
        }
        verify_consistency(
            &self.profile,
            self.old_size,
            self.new_size,
            &old.root,
            &new.root,
            &self.proof,
        )?;
        Ok(())
    }
}

/// A 32-byte hash as exactly 64 lower-case hex digits. Decoding errors are raised inside the
/// deserializer, so serde_json reports the line and column of the bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hex(Digest);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let canonical = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let bytes = hex::decode(s.as_ref()).ok().filter(|_| canonical);
        let digest = bytes
            .and_then(|b| Digest::try_from(b).ok())
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "expected a hash as 64 lower-case hex digits, got {s:?}"
                ))
            })?;
        Ok(Hex(digest))
    }
}

/// A string field that must have one exact value (`format`, `hash`).
fn exact<'de, D: Deserializer<'de>>(d: D, field: &str, expected: &str) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s != expected {
        return Err(de::Error::custom(format!(
            "{field} is {s:?}, expected {expected:?}"
        )));
    }
    Ok(s)
}

fn format_field<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    exact(d, "format", PROOF_FORMAT)
}

fn hash_field<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if Profile::from_hash_name(&s).is_none() {
        return Err(de::Error::custom(format!(
            "hash is {s:?}, expected \"blake3\" or \"sm3\""
        )));
    }
    Ok(s)
}

fn version_field<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = u32::deserialize(d)?;
    if v != PROOF_VERSION {
        return Err(de::Error::custom(format!(
            "version {v} is not supported (this program reads version {PROOF_VERSION})"
        )));
    }
    Ok(v)
}

/// Which proof a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Inclusion,
    Consistency,
}

/// The file as JSON: one flat object (not an internally tagged enum, which would buffer the
/// input and lose the positions of errors).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(deserialize_with = "format_field")]
    format: String,
    #[serde(deserialize_with = "version_field")]
    version: u32,
    kind: Kind,
    #[serde(deserialize_with = "hash_field")]
    hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entry_hash: Option<Hex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    old_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new_size: Option<u64>,
    /// Its length is checked against the kind's limit after parsing: `kind` may come later.
    proof: Vec<Hex>,
}

fn present<T>(kind: &'static str, field: &'static str, v: Option<T>) -> Result<T, ProofFileError> {
    v.ok_or(ProofFileError::MissingField { kind, field })
}

fn absent<T>(kind: &'static str, field: &'static str, v: &Option<T>) -> Result<(), ProofFileError> {
    match v {
        Some(_) => Err(ProofFileError::ForeignField { kind, field }),
        None => Ok(()),
    }
}

impl ProofFile {
    /// Parses a proof file. The caller adds the file name to the error.
    pub fn parse(bytes: &[u8]) -> Result<ProofFile, ProofFileError> {
        if bytes.len() > MAX_PROOF_FILE_BYTES {
            return Err(ProofFileError::TooLarge { len: bytes.len() });
        }
        let w: Wire = serde_json::from_slice(bytes)?;
        let kind = match w.kind {
            Kind::Inclusion => ProofKind::Inclusion,
            Kind::Consistency => ProofKind::Consistency,
        };
        if w.proof.len() > kind.max_hashes() {
            return Err(ProofFileError::TooManyHashes {
                kind,
                len: w.proof.len(),
            });
        }
        let proof: Vec<Digest> = w.proof.iter().map(|h| h.0).collect();
        // `hash_field` let only the profiles' hash names through.
        let profile = Profile::from_hash_name(&w.hash).unwrap_or_default();
        Ok(match w.kind {
            Kind::Inclusion => {
                let k = "inclusion";
                absent(k, "old_size", &w.old_size)?;
                absent(k, "new_size", &w.new_size)?;
                ProofFile::Inclusion(InclusionProof {
                    profile,
                    index: present(k, "index", w.index)?,
                    size: present(k, "size", w.size)?,
                    entry_hash: present(k, "entry_hash", w.entry_hash)?.0,
                    proof,
                })
            }
            Kind::Consistency => {
                let k = "consistency";
                absent(k, "index", &w.index)?;
                absent(k, "size", &w.size)?;
                absent(k, "entry_hash", &w.entry_hash)?;
                ProofFile::Consistency(ConsistencyProof {
                    profile,
                    old_size: present(k, "old_size", w.old_size)?,
                    new_size: present(k, "new_size", w.new_size)?,
                    proof,
                })
            }
        })
    }

    /// The file text: pretty-printed JSON (two-space indent) and a final newline.
    pub fn to_json(&self) -> String {
        let hexes = |p: &[Digest]| p.iter().map(|d| Hex(*d)).collect();
        let w = match self {
            ProofFile::Inclusion(p) => Wire {
                format: PROOF_FORMAT.into(),
                version: PROOF_VERSION,
                kind: Kind::Inclusion,
                hash: p.profile.hash_name().into(),
                index: Some(p.index),
                size: Some(p.size),
                entry_hash: Some(Hex(p.entry_hash)),
                old_size: None,
                new_size: None,
                proof: hexes(&p.proof),
            },
            ProofFile::Consistency(p) => Wire {
                format: PROOF_FORMAT.into(),
                version: PROOF_VERSION,
                kind: Kind::Consistency,
                hash: p.profile.hash_name().into(),
                index: None,
                size: None,
                entry_hash: None,
                old_size: Some(p.old_size),
                new_size: Some(p.new_size),
                proof: hexes(&p.proof),
            },
        };
        // Serialising plain strings and integers cannot fail.
        let mut text = serde_json::to_string_pretty(&w).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            ProofFile::Inclusion(_) => "inclusion",
            ProofFile::Consistency(_) => "consistency",
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::merkle::{Blake3, MemoryNodes, consistency_proof, inclusion_proof, root};

    /// A tree over `n` made-up entry hashes.
    fn tree(n: u64) -> (Vec<Digest>, MemoryNodes) {
        let entries: Vec<Digest> = (0..n)
            .map(|i| *blake3::hash(format!("entry-{i}").as_bytes()).as_bytes())
            .collect();
        let (nodes, _) = MemoryNodes::from_entries(Blake3, &entries).unwrap();
        (entries, nodes)
    }

    fn checkpoint(nodes: &MemoryNodes, origin: &str, size: u64) -> Checkpoint {
        let r = root(&Blake3, size, nodes).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        Checkpoint::new(origin, size, r, t).unwrap()
    }

    fn inclusion(entries: &[Digest], nodes: &MemoryNodes, index: u64, size: u64) -> ProofFile {
        ProofFile::Inclusion(InclusionProof {
            profile: Profile::Blake3,
            index,
            size,
            entry_hash: entries[index as usize],
            proof: inclusion_proof(&Blake3, index, size, nodes).unwrap(),
        })
    }

    fn consistency(nodes: &MemoryNodes, old_size: u64, new_size: u64) -> ProofFile {
        ProofFile::Consistency(ConsistencyProof {
            profile: Profile::Blake3,
            old_size,
            new_size,
            proof: consistency_proof(&Blake3, old_size, new_size, nodes).unwrap(),
        })
    }

    fn parse_err(text: &str) -> String {
        ProofFile::parse(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn files_round_trip_and_verify() {
        let (entries, nodes) = tree(21);
        for (index, size) in [(0, 1), (3, 10), (20, 21), (7, 8)] {
            let f = inclusion(&entries, &nodes, index, size);
            let back = ProofFile::parse(f.to_json().as_bytes()).unwrap();
            assert_eq!(back, f);
            let ProofFile::Inclusion(p) = back else {
                panic!("kind changed")
            };
            p.verify(&entries[index as usize], &checkpoint(&nodes, "o", size))
                .unwrap();
        }
        for (old, new) in [(0, 5), (5, 5), (4, 21), (13, 21)] {
            let f = consistency(&nodes, old, new);
            let back = ProofFile::parse(f.to_json().as_bytes()).unwrap();
            assert_eq!(back, f);
            let ProofFile::Consistency(p) = back else {
                panic!("kind changed")
            };
            p.verify(&checkpoint(&nodes, "o", old), &checkpoint(&nodes, "o", new))
                .unwrap();
        }
    }

    #[test]
    fn every_flipped_proof_bit_is_caught() {
        let (entries, nodes) = tree(21);
        let ProofFile::Inclusion(good) = inclusion(&entries, &nodes, 6, 21) else {
            unreachable!()
        };
        let cp = checkpoint(&nodes, "o", 21);
        for h in 0..good.proof.len() {
            for bit in [0u8, 7] {
                let mut bad = good.clone();
                bad.proof[h][h % 32] ^= 1 << bit;
                let err = bad.verify(&entries[6], &cp).unwrap_err();
                assert!(
                    matches!(err, ProofMismatch::Verify(VerifyError::RootMismatch { .. })),
                    "{err}"
                );
            }
        }
        let ProofFile::Consistency(good) = consistency(&nodes, 13, 21) else {
            unreachable!()
        };
        let (old, new) = (checkpoint(&nodes, "o", 13), checkpoint(&nodes, "o", 21));
        for h in 0..good.proof.len() {
            let mut bad = good.clone();
            bad.proof[h][0] ^= 0x80;
            assert!(matches!(
                bad.verify(&old, &new).unwrap_err(),
                ProofMismatch::Verify(_)
            ));
        }
    }

    #[test]
    fn mismatches_between_proof_and_checkpoints_are_named() {
        let (entries, nodes) = tree(21);
        let ProofFile::Inclusion(p) = inclusion(&entries, &nodes, 6, 20) else {
            unreachable!()
        };
        assert_eq!(
            p.verify(&entries[6], &checkpoint(&nodes, "o", 21)),
            Err(ProofMismatch::SizeMismatch {
                which: "the checkpoint",
                proof: 20,
                checkpoint: 21
            })
        );
        assert_eq!(
            p.verify(&entries[5], &checkpoint(&nodes, "o", 20)),
            Err(ProofMismatch::EntryMismatch {
                proof: entries[6],
                given: entries[5]
            })
        );
        let ProofFile::Consistency(c) = consistency(&nodes, 10, 20) else {
            unreachable!()
        };
        let (c10, c20) = (checkpoint(&nodes, "o", 10), checkpoint(&nodes, "o", 20));
        assert_eq!(
            c.verify(&c10, &checkpoint(&nodes, "other", 20)),
            Err(ProofMismatch::OriginMismatch {
                old: "o".into(),
                new: "other".into()
            })
        );
        assert_eq!(
            c.verify(&c20, &c10),
            Err(ProofMismatch::RolledBack {
                old_size: 20,
                new_size: 10
            })
        );
        assert_eq!(
            c.verify(&c10, &checkpoint(&nodes, "o", 21)),
            Err(ProofMismatch::SizeMismatch {
                which: "the new checkpoint",
                proof: 20,
                checkpoint: 21
            })
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// Untrusted bytes never panic the parser, and no mutation of a valid file yields a
        /// different proof that still verifies: a mutated file is refused or found out.
        #[test]
        fn mutated_files_never_pass_as_another_proof(
            flips in proptest::collection::vec((0usize..4096, 1u8..=255), 1..4),
            junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let _ = ProofFile::parse(&junk);
            let (entries, nodes) = tree(21);
            let cp = checkpoint(&nodes, "o", 21);
            let good = inclusion(&entries, &nodes, 6, 21);
            let mut bytes = good.to_json().into_bytes();
            for (at, x) in &flips {
                let i = at % bytes.len();
                bytes[i] ^= x;
            }
            if let Ok(ProofFile::Inclusion(p)) = ProofFile::parse(&bytes)
                && p.verify(&p.entry_hash, &cp).is_ok()
            {
                proptest::prop_assert_eq!(ProofFile::Inclusion(p), good);
            }
        }
    }

    #[test]
    fn malformed_files_are_refused_with_their_position() {
        let (entries, nodes) = tree(8);
        let good = inclusion(&entries, &nodes, 3, 8).to_json();
        let first_hash = hex::encode(entries[3]);
        let cases: Vec<(String, &str)> = vec![
            (
                good.replace("\"blake3\"", "\"sha256\""),
                "hash is \"sha256\", expected \"blake3\" or \"sm3\" at line 5",
            ),
            (
                good.replace("rotaledger-proof", "other"),
                "format is \"other\", expected \"rotaledger-proof\" at line 2",
            ),
            (
                good.replace("\"version\": 1", "\"version\": 2"),
                "version 2 is not supported",
            ),
            (
                good.replace(&first_hash, &first_hash.to_uppercase()),
                "64 lower-case hex digits, got",
            ),
            (good.replace(&first_hash, &first_hash[..62]), "at line 8"),
            (
                good.replace("\"inclusion\"", "\"exclusion\""),
                "unknown variant `exclusion`",
            ),
            (
                good.replace("\"index\": 3,", ""),
                "need the field \"index\"",
            ),
            (
                good.replace("\"index\": 3,", "\"index\": 3, \"new_size\": 4,"),
                "inclusion proofs must not have the field \"new_size\"",
            ),
            (
                good.replace("\"index\"", "\"extra\": 1, \"index\""),
                "unknown field `extra`",
            ),
            (good[..good.len() - 3].to_string(), "EOF while parsing"),
            (String::new(), "EOF while parsing"),
            (good.replace("\"index\": 3", "\"index\": -3"), "at line 6"),
        ];
        for (text, expected) in cases {
            let err = parse_err(&text);
            assert!(
                err.contains(expected),
                "expected {expected:?} in {err:?} for\n{text}"
            );
        }
        let huge = " ".repeat(MAX_PROOF_FILE_BYTES + 1);
        assert!(parse_err(&huge).contains("more than the"));
    }

    /// A file with `len` proof hashes in place of `file`'s proof.
    fn with_hashes(file: &ProofFile, len: usize) -> String {
        let hashes = vec![format!("\"{}\"", "ab".repeat(32)); len].join(",");
        let text = file.to_json();
        let start = text.find("\"proof\": [").unwrap();
        format!("{}\"proof\": [{hashes}]\n}}\n", &text[..start])
    }

    #[test]
    fn proof_length_limits_per_kind_at_the_boundary() {
        // FORMAT.md §2.4 "Proof length": 64 hashes for inclusion, 65 for consistency.
        let (entries, nodes) = tree(8);
        let inc = inclusion(&entries, &nodes, 3, 8);
        let con = consistency(&nodes, 3, 8);
        for (file, max) in [(&inc, 64), (&con, 65)] {
            let at = with_hashes(file, max);
            match ProofFile::parse(at.as_bytes()) {
                Ok(ProofFile::Inclusion(p)) => assert_eq!(p.proof.len(), max),
                Ok(ProofFile::Consistency(p)) => assert_eq!(p.proof.len(), max),
                Err(e) => panic!("{} hashes in a {} file refused: {e}", max, file.kind()),
            }
            let over = with_hashes(file, max + 1);
            let err = ProofFile::parse(over.as_bytes()).unwrap_err();
            assert!(
                matches!(err, ProofFileError::TooManyHashes { len, .. } if len == max + 1),
                "{err}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "{} proof has {} hashes, more than the {max} any {} proof can have",
                    file.kind(),
                    max + 1,
                    file.kind()
                )
            );
        }
    }
}

//! Chain verification: recompute every hash and link, and name the first bad entry.
//!
//! The same [`Verifier`] checks a live store, an offline store and an export, so the three
//! can never disagree about what "verified" means.

use super::entry::{DecodeError, Entry, EntryMeta, GENESIS_HASH, Hash};
use super::store::{Head, Store, StoreError};
use crate::merkle::{Blake3, CompactRange};

/// What is wrong with the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Entries are missing: the log jumps from `expected` to `found`.
    #[error("gap in sequence numbers: expected entry {expected}, found entry {found}")]
    Gap {
        /// The sequence number that should have come next.
        expected: u64,
        /// The one that did.
        found: u64,
    },
    /// An entry appears again or before its turn.
    #[error("entry {found} is out of order: expected entry {expected}")]
    OutOfOrder {
        /// The sequence number that should have come next.
        expected: u64,
        /// The one that did.
        found: u64,
    },
    /// The body stored at this position says it belongs at another.
    #[error(
        "the entry stored at position {at} says it is entry {claims}: entries were moved or swapped"
    )]
    OutOfPlace {
        /// The position it is stored at.
        at: u64,
        /// The sequence number inside its body.
        claims: u64,
    },
    /// The recomputed hash differs from the stored one: the body, the stored hash or the
    /// stored link was altered.
    #[error(
        "hash mismatch: stored {}, recomputed {}",
        hex::encode(stored),
        hex::encode(computed)
    )]
    HashMismatch {
        /// The hash stored with the entry.
        stored: Hash,
        /// The hash of what is stored.
        computed: Hash,
    },
    /// The entry does not name the previous entry's hash.
    #[error(
        "broken link: names previous hash {}, but the previous entry's hash is {}",
        hex::encode(named),
        hex::encode(actual)
    )]
    BrokenLink {
        /// What the entry says came before.
        named: Hash,
        /// What did come before.
        actual: Hash,
    },
    /// The stored bytes cannot be read as an entry.
    #[error("undecodable entry: {0}")]
    Undecodable(String),
    /// The log ends before the head record (or export header) says it should.
    #[error("the log ends after {found} entries but its head says {expected}")]
    Truncated {
        /// Entries the head or header announces.
        expected: u64,
        /// Entries present.
        found: u64,
    },
    /// The log holds more entries than its head says.
    #[error("entries beyond the head: the head says {head_size} entries, entry {seq} is stored")]
    BeyondHead {
        /// Entries the head announces.
        head_size: u64,
        /// The first entry past it.
        seq: u64,
    },
    /// The Merkle root recomputed from the entries is not the one the head records.
    #[error(
        "Merkle root mismatch: the head records {}, the entries give {}",
        hex::encode(head),
        hex::encode(computed)
    )]
    RootMismatch {
        /// The root the head or header records.
        head: Hash,
        /// The root of the tree over the entries checked.
        computed: Hash,
    },
    /// The last entry's hash is not the head's.
    #[error(
        "the head names hash {}, the last entry's hash is {}",
        hex::encode(head),
        hex::encode(last)
    )]
    HeadMismatch {
        /// The head's hash.
        head: Hash,
        /// The last entry's hash.
        last: Hash,
    },
}

/// The first bad entry and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq}: {problem}")]
pub struct Failure {
    /// The sequence number (or position) of the first bad entry.
    pub seq: u64,
    /// What is wrong.
    pub problem: Problem,
}

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// First entry checked.
    pub from: u64,
    /// Entries checked.
    pub checked: u64,
    /// The head at the end of the checked range.
    pub head: Head,
}

/// Streaming verifier: feed entries in order, then [`Verifier::finish`].
#[derive(Debug, Clone)]
pub struct Verifier {
    from: u64,
    next: u64,
    prev: Hash,
    /// The Merkle tree over the checked entries, when checking from the start.
    tree: Option<CompactRange<Blake3>>,
}

impl Verifier {
    /// Verifies from the start of the log.
    pub fn new() -> Verifier {
        Verifier {
            from: 0,
            next: 0,
            prev: GENESIS_HASH,
            tree: Some(CompactRange::new(Blake3)),
        }
    }

    /// Verifies a range starting at `seq`, whose predecessor's hash is trusted to be `prev`.
    pub fn starting_at(seq: u64, prev: Hash) -> Verifier {
        Verifier {
            from: seq,
            next: seq,
            prev,
            tree: None,
        }
    }

    /// Continues a verification from a trusted position: `tree` is the Merkle frontier over
    /// the first `tree.size()` entries and `prev` the hash of the last of them (the state
    /// snapshot's position, checked against the store). [`Verifier::finish`] then checks the
    /// root at the end, as if the verification had started at entry 0.
    pub fn resume(prev: Hash, tree: CompactRange<Blake3>) -> Verifier {
        let at = tree.size();
        Verifier {
            from: at,
            next: at,
            prev,
            tree: Some(tree),
        }
    }

    /// Checks the next entry. `entry.seq` is the position it was found at (its key, or its
    /// place in an export).
    pub fn check(&mut self, entry: &Entry) -> Result<(), Failure> {
        self.check_parsed(entry, &entry.meta())
    }

    /// [`Verifier::check`] with the body already parsed (`entry.meta()`), for callers that
    /// need the fields too and should parse each body once (the ledger's replay).
    pub fn check_parsed(
        &mut self,
        entry: &Entry,
        meta: &Result<EntryMeta, DecodeError>,
    ) -> Result<(), Failure> {
        let fail = |problem| Failure {
            seq: entry.seq,
            problem,
        };
        if entry.seq > self.next {
            return Err(Failure {
                seq: self.next,
                problem: Problem::Gap {
                    expected: self.next,
                    found: entry.seq,
                },
            });
        }
        if entry.seq < self.next {
            return Err(fail(Problem::OutOfOrder {
                expected: self.next,
                found: entry.seq,
            }));
        }
        if let Ok(m) = meta
            && m.seq != entry.seq
        {
            return Err(fail(Problem::OutOfPlace {
                at: entry.seq,
                claims: m.seq,
            }));
        }
        let computed = entry.computed_hash();
        if computed != entry.hash {
            return Err(fail(Problem::HashMismatch {
                stored: entry.hash,
                computed,
            }));
        }
        if entry.prev_hash != self.prev {
            return Err(fail(Problem::BrokenLink {
                named: entry.prev_hash,
                actual: self.prev,
            }));
        }
        if let Err(e) = meta {
            return Err(fail(Problem::Undecodable(e.to_string())));
        }
        if let Some(t) = &mut self.tree
            && t.append(&entry.hash).is_err()
        {
            return Err(fail(Problem::Undecodable(
                "the log is full (2^64 entries)".into(),
            )));
        }
        self.prev = entry.hash;
        self.next += 1;
        Ok(())
    }

    /// The head after the entries checked so far (its root is meaningful only when checking
    /// from the start; a range check reports all zeros).
    pub fn head(&self) -> Head {
        Head {
            size: self.next,
            hash: self.prev,
            root: self.tree.as_ref().map(|t| t.root()).unwrap_or_default(),
        }
    }

    /// Ends verification; with `expected`, checks that the log ends exactly there.
    pub fn finish(self, expected: Option<Head>) -> Result<Verified, Failure> {
        let head = self.head();
        if let Some(exp) = expected {
            if exp.size > head.size {
                return Err(Failure {
                    seq: head.size,
                    problem: Problem::Truncated {
                        expected: exp.size,
                        found: head.size,
                    },
                });
            }
            if exp.size < head.size {
                return Err(Failure {
                    seq: exp.size,
                    problem: Problem::BeyondHead {
                        head_size: exp.size,
                        seq: exp.size,
                    },
                });
            }
            if exp.hash != head.hash {
                return Err(Failure {
                    seq: head.size.saturating_sub(1),
                    problem: Problem::HeadMismatch {
                        head: exp.hash,
                        last: head.hash,
                    },
                });
            }
            if self.tree.is_some() && exp.root != head.root {
                return Err(Failure {
                    seq: head.size.saturating_sub(1),
                    problem: Problem::RootMismatch {
                        head: exp.root,
                        computed: head.root,
                    },
                });
            }
        }
        Ok(Verified {
            from: self.from,
            checked: head.size - self.from,
            head,
        })
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

/// Verifies a whole store against its stored head. The outer error is a failure to *read*;
/// the inner one is what verification found.
pub fn verify_store(
    store: &Store,
    progress: &mut dyn FnMut(u64),
) -> Result<Result<Verified, Failure>, StoreError> {
    let head = store.stored_head()?;
    let mut v = Verifier::new();
    for item in store.raw_all() {
        let (seq, value) = item?;
        if seq >= head.size && seq == v.head().size {
            return Ok(Err(Failure {
                seq,
                problem: Problem::BeyondHead {
                    head_size: head.size,
                    seq,
                },
            }));
        }
        let entry = match Entry::from_stored(seq, &value) {
            Ok(e) => e,
            Err(e) => {
                return Ok(Err(Failure {
                    seq,
                    problem: Problem::Undecodable(e.to_string()),
                }));
            }
        };
        if let Err(f) = v.check(&entry) {
            return Ok(Err(f));
        }
        progress(seq + 1);
    }
    Ok(v.finish(Some(head)))
}

/// Verifies entries `from..to` of a store, trusting entry `from - 1`'s stored hash as the
/// starting link.
pub fn verify_range(
    store: &Store,
    from: u64,
    to: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Result<Verified, Failure>, StoreError> {
    let prev = if from == 0 {
        GENESIS_HASH
    } else {
        match store.entry(from - 1)? {
            Some(e) => e.hash,
            None => {
                return Ok(Err(Failure {
                    seq: from - 1,
                    problem: Problem::Undecodable("entry before the range is missing".into()),
                }));
            }
        }
    };
    let mut v = Verifier::starting_at(from, prev);
    for item in store.raw_range(from, to) {
        let (seq, value) = item?;
        let entry = match Entry::from_stored(seq, &value) {
            Ok(e) => e,
            Err(e) => {
                return Ok(Err(Failure {
                    seq,
                    problem: Problem::Undecodable(e.to_string()),
                }));
            }
        };
        if let Err(f) = v.check(&entry) {
            return Ok(Err(f));
        }
        progress(seq + 1);
    }
    let end = v.head();
    if end.size < to {
        return Ok(Err(Failure {
            seq: end.size,
            problem: Problem::Truncated {
                expected: to,
                found: end.size,
            },
        }));
    }
    Ok(v.finish(None))
}

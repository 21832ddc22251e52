//! Chain verification: recompute every hash and link, and name the first bad entry.
//!
//! The same [`Verifier`] checks a live store, an offline store and an export, so the three
//! can never disagree about what "verified" means.

use super::entry::{BodyRef, DecodeError, Entry, EntryMeta, EntryRef, GENESIS_HASH, Hash};
use super::store::{Head, Store, StoreError};
use crate::crypto::Profile;
use crate::merkle::CompactRange;

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
    /// The log's crypto profile.
    profile: Profile,
    /// The Merkle tree over the checked entries, when checking from the start.
    tree: Option<CompactRange<Profile>>,
}

impl Verifier {
    /// Verifies a log of this profile from its start.
    pub fn new(profile: Profile) -> Verifier {
        Verifier {
            from: 0,
            next: 0,
            prev: GENESIS_HASH,
            profile,
            tree: Some(CompactRange::new(profile)),
        }
    }

    /// Verifies a range starting at `seq`, whose predecessor's hash is trusted to be `prev`.
    pub fn starting_at(profile: Profile, seq: u64, prev: Hash) -> Verifier {
        Verifier {
            from: seq,
            next: seq,
            prev,
            profile,
            tree: None,
        }
    }

    /// Continues a verification from a trusted position: `tree` is the Merkle frontier over
    /// the first `tree.size()` entries and `prev` the hash of the last of them (the state
    /// snapshot's position, checked against the store). [`Verifier::finish`] then checks the
    /// root at the end, as if the verification had started at entry 0.
    pub fn resume(prev: Hash, tree: CompactRange<Profile>) -> Verifier {
        let at = tree.size();
        Verifier {
            from: at,
            next: at,
            prev,
            profile: *tree.hasher(),
            tree: Some(tree),
        }
    }

    /// Checks the next entry. `entry.seq` is the position it was found at (its key, or its
    /// place in an export).
    pub fn check(&mut self, entry: &Entry) -> Result<(), Failure> {
        let view = entry.view();
        let body = view.body();
        self.check_ref(&view, body.as_ref().map(|b| b.seq))
    }

    /// [`Verifier::check`] with the body already parsed (`entry.meta()`), for callers that
    /// need the fields too and should parse each body once.
    pub fn check_parsed(
        &mut self,
        entry: &Entry,
        meta: &Result<EntryMeta, DecodeError>,
    ) -> Result<(), Failure> {
        self.check_ref(&entry.view(), meta.as_ref().map(|m| m.seq))
    }

    /// Checks the next entry, borrowed from its stored value, given what parsing its body
    /// gave: the `seq` it claims, or why it does not parse (`docs/FORMAT.md` §1.8 step 3).
    pub fn check_ref(
        &mut self,
        entry: &EntryRef<'_>,
        body_seq: Result<u64, &DecodeError>,
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
        if let Ok(claims) = body_seq
            && claims != entry.seq
        {
            return Err(fail(Problem::OutOfPlace {
                at: entry.seq,
                claims,
            }));
        }
        let computed = entry.computed_hash(self.profile);
        if &computed != entry.hash {
            return Err(fail(Problem::HashMismatch {
                stored: *entry.hash,
                computed,
            }));
        }
        if entry.prev_hash != &self.prev {
            return Err(fail(Problem::BrokenLink {
                named: *entry.prev_hash,
                actual: self.prev,
            }));
        }
        if let Err(e) = body_seq {
            return Err(fail(Problem::Undecodable(e.to_string())));
        }
        if let Some(t) = &mut self.tree
            && t.push(entry.hash).is_err()
        {
            return Err(fail(Problem::Undecodable(
                "the log is full (2^64 entries)".into(),
            )));
        }
        self.prev = *entry.hash;
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

/// Stored entries handed from the reading thread to the checking one per message.
const READ_AHEAD_CHUNK: usize = 512;

/// A stored entry read by the reading thread, its body already parsed there.
struct ReadAhead {
    seq: u64,
    value: sled::IVec,
    /// The `seq` the body claims or why it does not parse; `None` when the value is shorter
    /// than the hash prefix (so there is no body).
    body: Option<Result<u64, DecodeError>>,
}

impl ReadAhead {
    /// Checks this entry as the verifier's next one.
    fn check(&self, v: &mut Verifier) -> Result<(), Failure> {
        let (Ok(entry), Some(body)) = (EntryRef::from_stored(self.seq, &self.value), &self.body)
        else {
            return Err(Failure {
                seq: self.seq,
                problem: Problem::Undecodable(DecodeError::TooShort(self.value.len()).to_string()),
            });
        };
        v.check_ref(&entry, body.as_ref().copied())
    }
}

/// Runs `each` on every stored entry in order, on this thread, while another thread reads
/// the store and parses the bodies ahead of it: verification is CPU-bound (sled's scan and
/// the JSON parse on one side, blake3 and the Merkle tree on the other), and splitting it
/// this way keeps both cores of a small server busy. Stops at the first failure.
fn each_read_ahead<E>(
    items: impl Iterator<Item = Result<(u64, sled::IVec), StoreError>> + Send,
    mut each: impl FnMut(&ReadAhead) -> Result<(), E>,
) -> Result<Result<(), E>, StoreError> {
    std::thread::scope(|scope| {
        let rx = super::store::read_ahead(scope, items, READ_AHEAD_CHUNK, 4, |seq, value| {
            let body = value.get(64..).map(|b| BodyRef::parse(b).map(|b| b.seq));
            ReadAhead { seq, value, body }
        });
        // Returning drops `rx`, which ends the reading thread at its next send.
        for chunk in rx {
            for item in chunk {
                if let Err(f) = each(&item?) {
                    return Ok(Err(f));
                }
            }
        }
        Ok(Ok(()))
    })
}

/// Verifies a whole store against its stored head. The outer error is a failure to *read*;
/// the inner one is what verification found.
pub fn verify_store(
    store: &Store,
    progress: &mut dyn FnMut(u64),
) -> Result<Result<Verified, Failure>, StoreError> {
    let head = store.stored_head()?;
    let mut v = Verifier::new(store.profile());
    let checked = each_read_ahead(store.raw_all(), |item| {
        if item.seq >= head.size && item.seq == v.head().size {
            return Err(Failure {
                seq: item.seq,
                problem: Problem::BeyondHead {
                    head_size: head.size,
                    seq: item.seq,
                },
            });
        }
        item.check(&mut v)?;
        progress(item.seq + 1);
        Ok(())
    })?;
    if let Err(f) = checked {
        return Ok(Err(f));
    }
    Ok(v.finish(Some(head)))
}

/// Verifies the first `at.size` entries of a store from the genesis, and that they end
/// exactly at `at` (hash and Merkle root): the full check of the log up to a known position
/// (the head on `verify`, a state snapshot's position in the background check). Before each
/// entry it asks `keep_going`; when that says no, it stops and returns `Ok(None)`.
pub fn verify_prefix(
    store: &Store,
    at: Head,
    keep_going: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<Result<Verified, Failure>>, StoreError> {
    let mut v = Verifier::new(store.profile());
    // `None`: stopped by `keep_going`.
    let checked = each_read_ahead(store.raw_range(0, at.size), |item| {
        if !keep_going() {
            return Err(None);
        }
        item.check(&mut v).map_err(Some)?;
        progress(item.seq + 1);
        Ok(())
    })?;
    match checked {
        Ok(()) => Ok(Some(v.finish(Some(at)))),
        Err(Some(f)) => Ok(Some(Err(f))),
        Err(None) => Ok(None),
    }
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
    let mut v = Verifier::starting_at(store.profile(), from, prev);
    let checked = each_read_ahead(store.raw_range(from, to), |item| {
        item.check(&mut v)?;
        progress(item.seq + 1);
        Ok(())
    })?;
    if let Err(f) = checked {
        return Ok(Err(f));
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

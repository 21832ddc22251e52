//! The dry run (`Ledger.Check`): appends judged exactly as [`Ledger::append`] judges them,
//! against the committed state, without appending anything.
//!
//! **Contracts.**
//! - [`Ledger::check`] MUST NOT write: it never reaches the writer or the store's write path,
//!   and reads only the published snapshot of the committed state and the store's
//!   idempotency records.
//! - Each append is answered as `Append` would answer it if the accepted appends before it in
//!   the same check had been appended (in order) and nothing else had: the same decoding, the
//!   same request-id checks and idempotency (a retry is a duplicate, a reused id a conflict),
//!   the same `expected_size` test, the same limits and the same rules, so the same refusal.
//! - A refused append is reported and left out; the ones after it are still judged.
//!
//! What a check cannot promise is that an append made later is accepted: other appends may
//! be committed in between.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use super::{Ledger, LedgerError};
use crate::domain::rules::Batch;
use crate::domain::{Meta, State};
use crate::log::entry::check_id;
use crate::log::store::request_key;
use crate::log::{Hash, Head};

/// Most events over all appends of one check: a check holds its appends' decoded events
/// and judges them on one thread, so one request is bounded.
pub const MAX_CHECK_EVENTS: usize = 100_000;

/// One append to judge: the fields of an append request.
#[derive(Debug, Clone)]
pub struct CheckAppend {
    /// The client's request id (scoped to the caller, as for an append).
    pub request_id: String,
    /// Refuse unless the log would hold exactly this many entries.
    pub expected_size: Option<u64>,
    /// The events' JSON texts.
    pub events: Vec<String>,
}

/// What `Append` would answer for one append.
#[derive(Debug)]
pub enum Checked {
    /// Accepted: its entries would be `first_seq..first_seq + count`.
    Accepted {
        /// The sequence number the first event would get.
        first_seq: u64,
        /// How many entries it would append.
        count: u64,
    },
    /// A retry of a recorded append (or of an earlier append of the check): nothing would
    /// be appended; the original entries are `first_seq..first_seq + count`.
    Duplicate {
        /// The original append's first entry.
        first_seq: u64,
        /// Its number of entries.
        count: u64,
    },
    /// Refused, with the error `Append` would answer.
    Refused(LedgerError),
}

/// The answer to a check.
#[derive(Debug)]
pub struct CheckReport {
    /// The committed head the appends were judged against.
    pub head: Head,
    /// One result per append, in order.
    pub results: Vec<Checked>,
}

/// An append of this check that would be recorded: what a later retry of it is told.
struct Recorded {
    fingerprint: Hash,
    first_seq: u64,
    count: u64,
}

impl Ledger {
    /// Judges `appends` in order as [`Ledger::append`] would (see the module contracts) and
    /// appends nothing. Fails as a whole only when the ledger cannot serve (a failed
    /// integrity check, a store read error) or the check is too large.
    pub fn check(
        &self,
        actor: &str,
        appends: Vec<CheckAppend>,
    ) -> Result<CheckReport, LedgerError> {
        self.check_integrity()?;
        // A dry run seals personal fields as an append would, which takes data keys a mirror
        // does not hold (and must not make).
        self.primary_only("check appends there")?;
        let total: usize = appends.iter().map(|a| a.events.len()).sum();
        if total > MAX_CHECK_EVENTS {
            return Err(LedgerError::Input {
                index: None,
                field: "appends".into(),
                problem: format!(
                    "{total} events in one check, more than the limit of {MAX_CHECK_EVENTS}; \
                     split them into several checks"
                ),
            });
        }
        let snapshot = self.snapshot.load_full();
        let head = snapshot.head;
        let mut state: State = snapshot.state.clone();
        let mut size = head.size;
        let mut recorded: HashMap<Vec<u8>, Recorded> = HashMap::new();
        let mut results = Vec::with_capacity(appends.len());
        for append in appends {
            let r = self.check_one(actor, append, &mut state, &mut size, &mut recorded)?;
            results.push(r);
        }
        Ok(CheckReport { head, results })
    }

    /// Judges one append on top of `state` (the log holding `size` entries), and on
    /// acceptance moves both past it. `Err` only for a failure to read the store.
    fn check_one(
        &self,
        actor: &str,
        append: CheckAppend,
        state: &mut State,
        size: &mut u64,
        recorded: &mut HashMap<Vec<u8>, Recorded>,
    ) -> Result<Checked, LedgerError> {
        // Before the writer, as `Ledger::append` does: count, then strict decoding.
        let decoded = match self.decode_append(&append.events) {
            Ok(d) => d,
            Err(e) => return Ok(Checked::Refused(e)),
        };
        // The fingerprint `Ledger::append` stores: any other form would read a retry as a
        // reused request id.
        let fp = super::append::fingerprint_of(&decoded);
        // The writer's order: ids, the idempotency record, `expected_size`, the rules.
        if let Err(m) = check_id("actor", actor).and(check_id("request id", &append.request_id)) {
            return Ok(Checked::Refused(LedgerError::Input {
                index: None,
                field: "request_id".into(),
                problem: m,
            }));
        }
        let key = request_key(actor, &append.request_id);
        let prior = match recorded.get(&key) {
            Some(r) => Some((r.fingerprint, r.first_seq, r.count)),
            None => self
                .writer
                .store()
                .request(&key)?
                .map(|r| (r.fingerprint, r.first_seq, u64::from(r.count))),
        };
        if let Some((prior_fp, first_seq, count)) = prior {
            if prior_fp != fp {
                return Ok(Checked::Refused(LedgerError::RequestIdConflict {
                    request_id: append.request_id,
                    first_seq,
                    end: first_seq + count,
                }));
            }
            return Ok(Checked::Duplicate { first_seq, count });
        }
        if let Some(expected) = append.expected_size
            && expected != *size
        {
            return Ok(Checked::Refused(LedgerError::UnexpectedSize {
                expected,
                actual: *size,
            }));
        }
        let today = Utc::now().date_naive();
        let limit = self
            .max_events
            .min(state.policy_at(today).max_events_per_append as usize);
        if decoded.len() > limit {
            return Ok(Checked::Refused(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {limit}",
                    decoded.len(),
                ),
            }));
        }
        // The rules, on an O(1) clone of the state: a refusal drops it.
        let mut batch = Batch::new(state);
        let recorded_at = Utc::now();
        let actor_name: Arc<str> = Arc::from(actor);
        let count = decoded.len() as u64;
        for (i, event) in decoded.into_iter().enumerate() {
            if let Err(r) = batch.check(i, &event) {
                return Ok(Checked::Refused(r.into()));
            }
            // A stand-in for the entry: its hash is not known without writing it, and no
            // rule reads it.
            let meta = Meta {
                seq: *size + i as u64,
                hash: [0u8; 32],
                recorded_at,
                actor: actor_name.clone(),
            };
            batch.apply(i, meta, event);
        }
        match batch.finish() {
            Ok(next) => {
                let first_seq = *size;
                *state = next;
                *size += count;
                recorded.insert(
                    key,
                    Recorded {
                        fingerprint: fp,
                        first_seq,
                        count,
                    },
                );
                Ok(Checked::Accepted { first_seq, count })
            }
            Err(r) => Ok(Checked::Refused(r.into())),
        }
    }
}

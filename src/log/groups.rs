//! Idempotency records rebuilt from entries written elsewhere (a restore from an export, a
//! mirror's copy of its primary), so the copy answers a retry of an old append as the
//! original did.
//!
//! An append's entries are consecutive and share actor and request id (FORMAT.md §1.6): a
//! change of either starts the next append. Two appends never share both, since a second
//! append under the same id is a retry and writes nothing.

use super::entry::EntryMeta;
use super::store::{RequestRecord, request_key};

/// One append being rebuilt: its idempotency key, first entry and payloads' fingerprint forms.
struct Group {
    key: Vec<u8>,
    first_seq: u64,
    count: u32,
    canonical: Vec<String>,
}

/// Groups entries into appends and writes each append's record once it has ended.
#[derive(Default)]
pub struct RequestGroups {
    group: Option<Group>,
    /// Records written so far.
    pub written: u64,
}

impl RequestGroups {
    /// Takes in the next entry (its position and parsed body; `None`: a body that does not
    /// parse, which belongs to no append). When it starts another append, the record of the one before
    /// goes into `batch` and this returns true (a caller may commit `batch` then: the new
    /// append's record is only written once it ends). `canonical` maps a stored payload to
    /// the form its append was fingerprinted with.
    pub fn push(
        &mut self,
        seq: u64,
        meta: Option<&EntryMeta>,
        canonical: impl FnOnce(&str) -> String,
        batch: &mut sled::Batch,
    ) -> bool {
        let key = meta.map(|m| request_key(&m.actor, &m.request_id));
        let same = matches!((&self.group, &key), (Some(g), Some(k)) if &g.key == k);
        if !same {
            self.end(batch);
            self.group = key.map(|key| Group {
                key,
                first_seq: seq,
                count: 0,
                canonical: Vec::new(),
            });
        }
        if let (Some(g), Some(m)) = (&mut self.group, meta) {
            g.count = g.count.saturating_add(1);
            g.canonical.push(canonical(&m.payload));
        }
        !same
    }

    /// Writes the record of the append taken in last into `batch`: call it when the entries
    /// end at an append's end.
    pub fn end(&mut self, batch: &mut sled::Batch) {
        if let Some(g) = self.group.take() {
            let rec = RequestRecord {
                first_seq: g.first_seq,
                count: g.count,
                fingerprint: super::fingerprint(g.canonical.iter().map(|s| s.as_bytes())),
            };
            batch.insert(g.key, &rec.to_bytes()[..]);
            self.written += 1;
        }
    }
}

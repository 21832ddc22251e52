//! The log's entries as the state keeps them: a few dozen packed bytes each, decoded when
//! asked.
//!
//! Why: an entry kept as a record holding its decoded `Event` cost about 380 bytes of memory
//! (the event's allocation, one per id inside it, the record in the vector): more than half
//! the whole state, and 11 GiB of a province's 30 million entries. The rules and projections
//! read a past entry's event rarely (a void undoing it, a teacher's history, a certificate),
//! so each entry is packed once, when it is folded in, and decoded on those reads:
//!
//! - its hash first, 32 raw bytes, so the link to a teacher's latest entry (wanted by every
//!   append about them) is read without decoding;
//! - then its recorded time, actor, teacher and event in postcard (positional: every field
//!   written, see `super::binary`).
//!
//! The packed bytes sit in append-only chunks of [`CHUNK`] bytes shared by the state's
//! clones: a clone (one per commit) copies no entry, and the writer's next entry copies at
//! most the last, partly filled chunk. A slot per entry (16 bytes) says where its bytes start
//! and which entry voided it. Chunks are cut by byte counts alone, so the same entries give
//! the same chunks whether folded one by one, replayed, or read back from a snapshot.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use imbl::Vector;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::event::Event;
use super::id::Id;
use super::records::EntryRecord;
use super::state::Meta;

/// Bytes per chunk of packed entries (an entry larger than this has a chunk of its own).
pub const CHUNK: usize = 16 * 1024;

/// `voided_by` of an entry not voided (no entry can void itself, so no real value collides).
const NOT_VOIDED: u64 = u64::MAX;

/// Where an entry's bytes are, and what voided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Slot {
    chunk: u32,
    offset: u32,
    voided_by: u64,
}

/// One chunk of packed entries; its serde form is its bytes as they are.
#[derive(Clone, PartialEq, Eq)]
struct Chunk(Arc<Vec<u8>>);

impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

struct ChunkBytes;

impl serde::de::Visitor<'_> for ChunkBytes {
    type Value = Chunk;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chunk of packed entries")
    }

    fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<Chunk, E> {
        Ok(Chunk(Arc::new(b.to_vec())))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, b: Vec<u8>) -> Result<Chunk, E> {
        Ok(Chunk(Arc::new(b)))
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Chunk, D::Error> {
        d.deserialize_byte_buf(ChunkBytes)
    }
}

/// What follows an entry's hash, as written.
#[derive(Serialize)]
struct PackedRef<'a> {
    #[serde(with = "super::binary::time")]
    recorded_at: DateTime<Utc>,
    actor: &'a str,
    teacher: Option<&'a Id>,
    event: Option<&'a Event>,
}

/// What follows an entry's hash, as read back.
#[derive(Deserialize)]
struct Packed {
    #[serde(with = "super::binary::time")]
    recorded_at: DateTime<Utc>,
    actor: String,
    teacher: Option<Id>,
    event: Option<Event>,
}

/// The teacher and event of a packed entry, when only those are wanted.
#[derive(Deserialize)]
struct PackedTail<'a> {
    #[serde(with = "super::binary::time")]
    _recorded_at: DateTime<Utc>,
    _actor: &'a str,
    teacher: Option<Id>,
}

/// Every entry folded into a state, packed (see the module doc).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryLog {
    slots: Vector<Slot>,
    chunks: Vector<Chunk>,
}

impl fmt::Debug for EntryLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryLog")
            .field("entries", &self.slots.len())
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl EntryLog {
    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.slots.len() as u64
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Appends the next entry: its meta, the teacher it is about and its event (`None`: it
    /// did not decode).
    pub fn push(&mut self, meta: &Meta, teacher: Option<&Id>, event: Option<&Event>) {
        let mut bytes = Vec::with_capacity(160);
        bytes.extend_from_slice(&meta.hash);
        let packed = PackedRef {
            recorded_at: meta.recorded_at,
            actor: &meta.actor,
            teacher,
            event,
        };
        // Writing to a vector fails only for types serde cannot express; ours are all
        // plain data. Were it ever to fail, the entry keeps its hash and reads as
        // undecodable rather than being lost from the index.
        let bytes = super::binary::positional(|| postcard::to_extend(&packed, bytes))
            .unwrap_or_else(|_| meta.hash.to_vec());
        self.push_bytes(&bytes);
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.0.len() + bytes.len() <= CHUNK);
        if !fits {
            self.chunks
                .push_back(Chunk(Arc::new(Vec::with_capacity(CHUNK.max(bytes.len())))));
        }
        let index = self.chunks.len() - 1;
        let Some(last) = self.chunks.back_mut() else {
            return;
        };
        let offset = last.0.len();
        // Shared with a published clone: copy it (at most CHUNK bytes), keeping its full
        // capacity so that it is copied once per commit, never regrown.
        if Arc::get_mut(&mut last.0).is_none() {
            let mut own = Vec::with_capacity(CHUNK.max(offset + bytes.len()));
            own.extend_from_slice(&last.0);
            last.0 = Arc::new(own);
        }
        if let Some(v) = Arc::get_mut(&mut last.0) {
            v.extend_from_slice(bytes);
        }
        self.slots.push_back(Slot {
            chunk: u32::try_from(index).unwrap_or(u32::MAX),
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            voided_by: NOT_VOIDED,
        });
    }

    /// The packed bytes of entry `seq` (and whatever follows it in its chunk).
    fn bytes(&self, seq: u64) -> Option<&[u8]> {
        let slot = self.slots.get(usize::try_from(seq).ok()?)?;
        let chunk = self.chunks.get(slot.chunk as usize)?;
        chunk.0.get(slot.offset as usize..)
    }

    /// Entry `seq`'s hash.
    pub fn hash(&self, seq: u64) -> Option<[u8; 32]> {
        self.bytes(seq)?.get(..32)?.try_into().ok()
    }

    /// The entry that voided entry `seq`, if any.
    pub fn voided_by(&self, seq: u64) -> Option<u64> {
        let slot = self.slots.get(usize::try_from(seq).ok()?)?;
        (slot.voided_by != NOT_VOIDED).then_some(slot.voided_by)
    }

    /// Marks entry `seq` voided by entry `by`.
    pub fn set_voided(&mut self, seq: u64, by: u64) {
        if let Some(slot) = usize::try_from(seq)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
        {
            slot.voided_by = by;
        }
    }

    /// The teacher entry `seq` is about, if any.
    pub fn teacher(&self, seq: u64) -> Option<Id> {
        let b = self.bytes(seq)?;
        postcard::from_bytes::<PackedTail>(b.get(32..)?)
            .ok()?
            .teacher
    }

    /// Entry `seq`, decoded. `None` past the end (or, were the packed bytes ever damaged,
    /// for an entry that cannot be read back).
    pub fn get(&self, seq: u64) -> Option<EntryRecord> {
        let b = self.bytes(seq)?;
        let hash: [u8; 32] = b.get(..32)?.try_into().ok()?;
        let p: Packed = postcard::from_bytes(b.get(32..)?).ok()?;
        Some(EntryRecord {
            meta: Meta {
                seq,
                hash,
                recorded_at: p.recorded_at,
                actor: Arc::from(p.actor),
            },
            event: p.event.map(Arc::new),
            teacher: p.teacher,
            voided_by: self.voided_by(seq),
        })
    }

    /// Every entry, decoded, in log order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = EntryRecord> + '_ {
        (0..self.len()).filter_map(|seq| self.get(seq))
    }

    /// The voided entries' sequence numbers, in log order (read from the slots alone).
    pub fn voided(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.voided_by != NOT_VOIDED)
            .map(|(i, _)| i as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(seq: u64, actor: &str) -> Meta {
        Meta {
            seq,
            hash: [seq as u8; 32],
            recorded_at: DateTime::from_timestamp(1_700_000_000 + seq as i64, 7).unwrap(),
            actor: Arc::from(actor),
        }
    }

    fn event(i: u64) -> Event {
        Event::decode_stored(&format!(
            r#"{{"type":"teacher_promoted","version":1,"teacher":"T{i}","kind":"rank","to":"level {i}","date":"2024-09-01","rotation_credit":false}}"#
        ))
        .unwrap()
        .0
    }

    #[test]
    fn entries_read_back_as_they_were_pushed() {
        let mut log = EntryLog::default();
        let mut published = Vec::new();
        for i in 0..3000u64 {
            let t = Id::new(&format!("T{i}")).unwrap();
            let e = (i % 10 != 3).then(|| event(i));
            log.push(&meta(i, "hr"), (i % 2 == 0).then_some(&t), e.as_ref());
            if i % 7 == 0 {
                // A published clone at each "commit": the writer must not disturb it.
                published.push((i, log.clone()));
            }
        }
        log.set_voided(5, 2999);
        assert!(log.chunks.len() > 3, "several chunks: {:?}", log);
        for i in 0..3000u64 {
            let r = log.get(i).unwrap();
            assert_eq!(r.meta, meta(i, "hr"));
            assert_eq!(log.hash(i), Some([i as u8; 32]));
            assert_eq!(r.event.as_deref(), (i % 10 != 3).then(|| event(i)).as_ref());
            let t = (i % 2 == 0).then(|| Id::new(&format!("T{i}")).unwrap());
            assert_eq!(r.teacher, t);
            assert_eq!(log.teacher(i), t);
            assert_eq!(r.voided_by, (i == 5).then_some(2999));
        }
        assert_eq!(log.voided().collect::<Vec<_>>(), vec![5]);
        assert!(log.get(3000).is_none() && log.hash(3000).is_none());
        for (at, p) in published {
            assert_eq!(p.len(), at + 1);
            assert_eq!(p.get(at).unwrap().meta, meta(at, "hr"));
            assert_eq!(
                p.voided_by(5),
                None,
                "a clone is not touched by later voids"
            );
        }
    }

    #[test]
    fn chunks_depend_on_the_entries_alone() {
        let mut one = EntryLog::default();
        let mut cloned = EntryLog::default();
        let mut keep = Vec::new();
        for i in 0..2000u64 {
            one.push(&meta(i, "a"), None, Some(&event(i)));
            cloned.push(&meta(i, "a"), None, Some(&event(i)));
            keep.push(cloned.clone());
        }
        assert_eq!(one, cloned);
        let bytes = postcard::to_allocvec(&one).unwrap();
        let back: EntryLog = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, one);
        assert_eq!(back.get(1999), one.get(1999));
    }

    #[test]
    fn a_large_entry_has_a_chunk_of_its_own() {
        let mut log = EntryLog::default();
        let big = "x".repeat(CHUNK * 2);
        log.push(&meta(0, "a"), None, None);
        log.push(&meta(1, &big), None, None);
        log.push(&meta(2, "a"), None, None);
        assert_eq!(&*log.get(1).unwrap().meta.actor, big.as_str());
        assert_eq!(log.get(2).unwrap().meta, meta(2, "a"));
    }
}

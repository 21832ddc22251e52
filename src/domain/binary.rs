//! The state's binary form (the state snapshot, `crate::snapshot`) next to the events' JSON
//! form (the log).
//!
//! The event types derive one `Serialize` for both. Their canonical JSON leaves absent
//! optional fields out (`skip_serializing_if`), which a self-describing format can read back
//! but a positional one (postcard, whose fields have no names) cannot: the reader would take
//! the next field's bytes for the missing one. So optional fields are skipped with
//! [`absent`], which skips them only outside [`positional`]: inside it (the snapshot writer,
//! on its own thread) every field is written, and the derived `Deserialize` reads them back in
//! order. The JSON form is unchanged (the worked examples of `docs/EVENTS.md` and
//! `docs/FORMAT.md` are asserted byte for byte).
//!
//! Dates, times and hashes keep their text form in JSON and take a compact one in a binary
//! (not human-readable) format: `#[serde(with = "binary::date")]` and its kin below. Parsing
//! millions of dates back from text was most of the time a snapshot took to load.
//!
//! Ids are written once each in the snapshot ([`writing_snapshot`], [`reading_snapshot`]).
//!
//! No I/O here: thread-local modes and the forms the binary decoder reads back.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::id::Id;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    static POSITIONAL: Cell<bool> = const { Cell::new(false) };
    static IDS_WRITTEN: RefCell<Option<HashMap<Id, u32>>> = const { RefCell::new(None) };
    static IDS_READ: RefCell<Option<Vec<Id>>> = const { RefCell::new(None) };
}

/// Runs `f` (the state snapshot's encoder) in the snapshot's form: every optional field
/// written ([`positional`]), and each distinct id written once: its first occurrence as its
/// text, every later one as the number of that first occurrence ([`IdRef`]).
///
/// Why: ids are most of what a state holds by count (every record, index and timeline names
/// some), and reading them back as text meant validating, hashing and comparing a string per
/// occurrence, the larger part of a restart's decoding. A number is a vector index, and
/// every occurrence of an id longer than `id::INLINE_ID_LEN` comes back as one shared
/// allocation, as in the state that was written (which shares its ids: `State::school_id`);
/// a shorter id is held inline and has no allocation to share.
pub fn writing_snapshot<R>(f: impl FnOnce() -> R) -> R {
    let _restore = Scoped::enter(&IDS_WRITTEN, HashMap::new());
    positional(f)
}

/// Runs `f` (the state snapshot's decoder) reading ids in the form [`writing_snapshot`]
/// wrote them.
pub fn reading_snapshot<R>(f: impl FnOnce() -> R) -> R {
    let _restore = Scoped::enter(&IDS_READ, Vec::new());
    f()
}

/// A table of ids set for the length of one call: the previous one (none, or a caller's)
/// comes back when the call returns or panics.
struct Scoped<T: 'static> {
    key: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    previous: Option<T>,
}

impl<T> Scoped<T> {
    fn enter(key: &'static std::thread::LocalKey<RefCell<Option<T>>>, t: T) -> Scoped<T> {
        let previous = key.with(|k| k.borrow_mut().replace(t));
        Scoped { key, previous }
    }
}

impl<T> Drop for Scoped<T> {
    fn drop(&mut self) {
        let previous = self.previous.take();
        self.key.with(|k| *k.borrow_mut() = previous);
    }
}

/// An id in the snapshot's form (postcard: variant `0` and the text, or variant `1` and a
/// varint): its first occurrence, or the number of its first occurrence (0 for the first
/// distinct id written, 1 for the second, ...).
#[derive(Serialize, Deserialize)]
enum IdRef<'a> {
    New(#[serde(borrow)] &'a str),
    Seen(u32),
}

/// Serializes `id`: in the snapshot's form inside [`writing_snapshot`] (binary formats
/// only), else as its text.
pub(crate) fn serialize_id<S: Serializer>(id: &Id, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        return s.serialize_str(id.as_str());
    }
    let seen = IDS_WRITTEN.with(|t| {
        let mut t = t.borrow_mut();
        let t = t.as_mut()?;
        if let Some(n) = t.get(id) {
            return Some(Some(*n));
        }
        let n = u32::try_from(t.len()).ok()?;
        t.insert(id.clone(), n);
        Some(None)
    });
    match seen {
        None => s.serialize_str(id.as_str()),
        Some(None) => IdRef::New(id.as_str()).serialize(s),
        Some(Some(n)) => IdRef::Seen(n).serialize(s),
    }
}

/// Deserializes an id written by [`serialize_id`], validated again (a snapshot is a cache,
/// not trusted input).
pub(crate) fn deserialize_id<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
    let reading = !d.is_human_readable() && IDS_READ.with(|t| t.borrow().is_some());
    if !reading {
        return from_text(d, "id", Id::new);
    }
    match IdRef::deserialize(d)? {
        IdRef::New(text) => {
            let id = Id::new(text).map_err(|p| D::Error::custom(format!("id {text:?}: {p}")))?;
            IDS_READ.with(|t| {
                if let Some(t) = t.borrow_mut().as_mut() {
                    t.push(id.clone());
                }
            });
            Ok(id)
        }
        IdRef::Seen(n) => IDS_READ
            .with(|t| t.borrow().as_ref().and_then(|t| t.get(n as usize).cloned()))
            .ok_or_else(|| D::Error::custom(format!("id number {n} comes before its text"))),
    }
}

/// `skip_serializing_if` for optional fields: absent from the JSON form when `None`, always
/// present in the positional form.
pub fn absent<T>(v: &Option<T>) -> bool {
    v.is_none() && !POSITIONAL.with(Cell::get)
}

/// Runs `f` with every optional field serialized (for a positional format). Nested calls and
/// panics restore the previous mode.
pub fn positional<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            POSITIONAL.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(POSITIONAL.with(|p| p.replace(true)));
    f()
}

/// A `Deserialize` visitor for values written as their text form (ids, vocabulary
/// spellings, ratios): `parse` turns the text back into the value or says what is wrong.
pub(crate) struct FromText<T> {
    pub(crate) what: &'static str,
    pub(crate) parse: fn(&str) -> Result<T, String>,
}

impl<T> serde::de::Visitor<'_> for FromText<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} as text", self.what)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<T, E> {
        (self.parse)(s).map_err(|problem| E::custom(format!("{} {s:?}: {problem}", self.what)))
    }
}

/// Deserializes a value written as text (see [`FromText`]).
pub(crate) fn from_text<'de, D: serde::Deserializer<'de>, T>(
    d: D,
    what: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    d.deserialize_str(FromText { what, parse })
}

/// A date: its text (`2024-09-01`) in JSON, days since 0001-01-01 (`i32`) in binary.
pub mod date {
    use super::*;

    /// Serializes `d`.
    pub fn serialize<S: Serializer>(d: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            d.serialize(s)
        } else {
            s.serialize_i32(d.num_days_from_ce())
        }
    }

    /// Deserializes a date.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        if d.is_human_readable() {
            NaiveDate::deserialize(d)
        } else {
            let n = i32::deserialize(d)?;
            NaiveDate::from_num_days_from_ce_opt(n)
                .ok_or_else(|| D::Error::custom(format!("day {n} is out of range")))
        }
    }
}

/// A date in the form of [`date`], to nest in other types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        date::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        date::deserialize(d).map(Date)
    }
}

/// An optional date in the form of [`date`].
pub mod opt_date {
    use super::*;

    /// Serializes `d`.
    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Date).serialize(s)
    }

    /// Deserializes an optional date.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        Ok(Option::<Date>::deserialize(d)?.map(|d| d.0))
    }
}

/// A point in time: RFC 3339 text in JSON, seconds and nanoseconds since the epoch in binary.
pub mod time {
    use super::*;

    /// Serializes `t`.
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            t.serialize(s)
        } else {
            (t.timestamp(), t.timestamp_subsec_nanos()).serialize(s)
        }
    }

    /// Deserializes a point in time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        if d.is_human_readable() {
            DateTime::<Utc>::deserialize(d)
        } else {
            let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
            DateTime::from_timestamp(secs, nanos)
                .ok_or_else(|| D::Error::custom(format!("time {secs}.{nanos} is out of range")))
        }
    }
}

/// A 32-byte hash: an array of numbers in JSON, 32 raw bytes in binary.
pub mod hash {
    use super::*;

    /// Serializes `h`.
    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            h.serialize(s)
        } else {
            s.serialize_bytes(h)
        }
    }

    struct Bytes;

    impl serde::de::Visitor<'_> for Bytes {
        type Value = [u8; 32];

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("32 bytes")
        }

        fn visit_bytes<E: serde::de::Error>(self, b: &[u8]) -> Result<[u8; 32], E> {
            b.try_into()
                .map_err(|_| E::custom(format!("a hash of {} bytes", b.len())))
        }
    }

    /// Deserializes a hash.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        if d.is_human_readable() {
            <[u8; 32]>::deserialize(d)
        } else {
            d.deserialize_bytes(Bytes)
        }
    }
}

/// A timeline's changes, `((date, seq), value)`, with dates in the form of [`date`].
pub mod timeline {
    use super::*;

    /// What a timeline holds.
    type Changes<T> = [((NaiveDate, u64), T)];

    /// Serializes the changes.
    pub fn serialize<S: Serializer, T: Serialize>(v: &Changes<T>, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for ((d, n), t) in v.iter() {
            seq.serialize_element(&(Date(*d), n, t))?;
        }
        seq.end()
    }

    /// The changes as read: exactly one, or any other number.
    pub enum Read<T> {
        /// One change (a timeline holds it inline: read without a vector).
        One(((NaiveDate, u64), T)),
        /// None, or two and more.
        Many(Vec<((NaiveDate, u64), T)>),
    }

    /// Deserializes the changes.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Read<T>, D::Error> {
        d.deserialize_seq(ChangesVisitor(std::marker::PhantomData))
    }

    struct ChangesVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ChangesVisitor<T> {
        type Value = Read<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a timeline's changes")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Read<T>, A::Error> {
            let Some((Date(d), n, t)) = seq.next_element::<(Date, u64, T)>()? else {
                return Ok(Read::Many(Vec::new()));
            };
            let Some((Date(d2), n2, t2)) = seq.next_element::<(Date, u64, T)>()? else {
                return Ok(Read::One(((d, n), t)));
            };
            // The length is the file's word: a bound on what is reserved ahead.
            let ahead = seq.size_hint().unwrap_or(0).min(64);
            let mut v = Vec::with_capacity(2 + ahead);
            v.push(((d, n), t));
            v.push(((d2, n2), t2));
            while let Some((Date(d), n, t)) = seq.next_element::<(Date, u64, T)>()? {
                v.push(((d, n), t));
            }
            Ok(Read::Many(v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_mode_is_scoped_to_the_call() {
        assert!(absent::<u8>(&None));
        positional(|| {
            assert!(!absent::<u8>(&None));
            positional(|| assert!(!absent::<u8>(&None)));
            assert!(!absent::<u8>(&None), "a nested call restores, not clears");
        });
        assert!(absent::<u8>(&None));
        assert!(!absent(&Some(1)));
        let r = std::panic::catch_unwind(|| positional(|| panic!("boom")));
        assert!(r.is_err());
        assert!(absent::<u8>(&None), "a panic restores the JSON mode");
    }

    #[test]
    fn snapshot_ids_are_written_once_and_read_back_shared() {
        // Two allocations of S1, as a state may hold before its ids are shared.
        let ids = vec![
            Id::new("S1").unwrap(),
            Id::new("S2").unwrap(),
            Id::new("S1").unwrap(),
            Id::new("S1").unwrap(),
        ];
        let plain = postcard::to_allocvec(&ids).unwrap();
        let table = writing_snapshot(|| postcard::to_allocvec(&ids)).unwrap();
        // Text the first time (variant 0, length, bytes), a number after (variant 1, n).
        assert_eq!(table, [4, 0, 2, b'S', b'1', 0, 2, b'S', b'2', 1, 0, 1, 0]);
        assert_eq!(
            plain,
            [
                4, 2, b'S', b'1', 2, b'S', b'2', 2, b'S', b'1', 2, b'S', b'1'
            ]
        );
        // docs/FORMAT.md §1.11's example.
        let example = writing_snapshot(|| postcard::to_allocvec(&ids[..3])).unwrap();
        assert_eq!(example, [3, 0, 2, 0x53, 0x31, 0, 2, 0x53, 0x32, 1, 0]);
        let back: Vec<Id> = reading_snapshot(|| postcard::from_bytes(&table)).unwrap();
        assert_eq!(back, ids);
        // An id too long to be held inline comes back as one shared allocation.
        let long = Id::new(&"S".repeat(super::super::id::INLINE_ID_LEN + 1)).unwrap();
        let longs = vec![long.clone(), Id::new("S1").unwrap(), long];
        let bytes = writing_snapshot(|| postcard::to_allocvec(&longs)).unwrap();
        let back_long: Vec<Id> = reading_snapshot(|| postcard::from_bytes(&bytes)).unwrap();
        assert_eq!(back_long, longs);
        assert!(back_long[0].shares_text_with(&back_long[2]));
        // Outside the scope, ids are their text both ways.
        assert_eq!(postcard::from_bytes::<Vec<Id>>(&plain).unwrap(), ids);
        assert!(postcard::from_bytes::<Vec<Id>>(&table).is_err());
    }

    #[test]
    fn snapshot_ids_are_checked_on_reading() {
        // (postcard keeps no message of a custom error: these are refusals, not texts.)
        let read = |b: &[u8]| reading_snapshot(|| postcard::from_bytes::<Vec<Id>>(b));
        assert!(read(&[1, 1, 0]).is_err(), "a number before its text");
        assert!(
            read(&[2, 0, 1, b'a', 1, 1]).is_err(),
            "a number past the table"
        );
        assert!(read(&[1, 0, 3, b'a', b' ', b'b']).is_err(), "not an id");
        assert!(read(&[1, 2, 0]).is_err(), "no such variant");
        let ok = read(&[2, 0, 1, b'a', 1, 0]).unwrap();
        assert_eq!(ok, [Id::new("a").unwrap(), Id::new("a").unwrap()]);
    }

    #[test]
    fn snapshot_modes_are_scoped_to_the_call() {
        let id = Id::new("S1").unwrap();
        let r = std::panic::catch_unwind(|| writing_snapshot(|| panic!("boom")));
        assert!(r.is_err());
        IDS_WRITTEN.with(|t| assert!(t.borrow().is_none(), "a panic drops the table"));
        assert!(absent::<u8>(&None), "and leaves the positional mode");
        let r = std::panic::catch_unwind(|| reading_snapshot(|| panic!("boom")));
        assert!(r.is_err());
        IDS_READ.with(|t| assert!(t.borrow().is_none()));
        // Nested: the inner call has a table of its own; the outer one's comes back after it.
        let (inner, outer) = writing_snapshot(|| {
            let first = postcard::to_allocvec(&id).unwrap();
            let inner = writing_snapshot(|| postcard::to_allocvec(&id).unwrap());
            (inner, [first, postcard::to_allocvec(&id).unwrap()])
        });
        assert_eq!(inner, [0, 2, b'S', b'1']);
        assert_eq!(outer, [vec![0, 2, b'S', b'1'], vec![1, 0]]);
    }
}

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
//! No I/O here: a thread-local flag and the forms the binary decoder reads back.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::id::Id;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    static POSITIONAL: Cell<bool> = const { Cell::new(false) };
    static SHARED_IDS: RefCell<Option<Vec<Option<Id>>>> = const { RefCell::new(None) };
}

/// Slots of the table of recent ids [`sharing_ids`] keeps (a power of two).
const SHARED_SLOTS: usize = 1 << 13;

/// Runs `f` (a decoder of the state snapshot) with the ids it decodes shared where cheap:
/// an id equal to one recently decoded is a clone of it, not an allocation of its own. A
/// state built by folding entries shares its ids (`State::school_id`), so a state read
/// back from its snapshot comes closer to the memory of the one that wrote it.
///
/// The table is direct-mapped (an id's slot is a hash of its text; a collision replaces
/// the slot's id): ids named over and over (schools, subjects) stay in it and are shared,
/// while the decoder pays no probing. A complete table was tried and decoded 2x slower (a
/// cache miss per id), for 10% less memory. Nested calls share one table; it is dropped
/// when the outermost call returns or panics.
pub fn sharing_ids<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            if self.0 {
                SHARED_IDS.with(|t| t.borrow_mut().take());
            }
        }
    }
    let outermost = SHARED_IDS.with(|t| {
        let mut t = t.borrow_mut();
        let outermost = t.is_none();
        if outermost {
            *t = Some(vec![None; SHARED_SLOTS]);
        }
        outermost
    });
    let _restore = Restore(outermost);
    f()
}

/// The id `s` (made by `new` the first time), shared inside [`sharing_ids`].
pub(crate) fn shared_id(s: &str, new: fn(&str) -> Result<Id, String>) -> Result<Id, String> {
    SHARED_IDS.with(|t| match t.borrow_mut().as_mut() {
        None => new(s),
        Some(ids) => {
            // FNV-1a: a few cycles per byte of a short id.
            let h = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            let slot = (h as usize) & (SHARED_SLOTS - 1);
            if let Some(Some(id)) = ids.get(slot)
                && id.as_str() == s
            {
                return Ok(id.clone());
            }
            let id = new(s)?;
            if let Some(x) = ids.get_mut(slot) {
                *x = Some(id.clone());
            }
            Ok(id)
        }
    })
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
    type Changes<T> = Arc<[((NaiveDate, u64), T)]>;

    /// Serializes the changes.
    pub fn serialize<S: Serializer, T: Serialize>(v: &Changes<T>, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for ((d, n), t) in v.iter() {
            seq.serialize_element(&(Date(*d), n, t))?;
        }
        seq.end()
    }

    /// Deserializes the changes.
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Changes<T>, D::Error> {
        let v = Vec::<(Date, u64, T)>::deserialize(d)?;
        Ok(v.into_iter().map(|(Date(d), n, t)| ((d, n), t)).collect())
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
    fn ids_are_shared_only_inside_the_scope() {
        let decode = |s: &str| shared_id(s, Id::new).unwrap();
        let (a, b) = sharing_ids(|| (decode("S1"), sharing_ids(|| decode("S1"))));
        assert!(
            Arc::ptr_eq(&a.as_arc(), &b.as_arc()),
            "shared inside the scope"
        );
        let (c, d) = (decode("S1"), decode("S1"));
        assert!(!Arc::ptr_eq(&c.as_arc(), &d.as_arc()), "not outside it");
        assert_eq!(a, c);
        assert!(
            sharing_ids(|| shared_id("a b", Id::new)).is_err(),
            "still validated"
        );
        let r = std::panic::catch_unwind(|| sharing_ids(|| panic!("boom")));
        assert!(r.is_err());
        SHARED_IDS.with(|t| assert!(t.borrow().is_none(), "a panic drops the table"));
    }
}

//! Identifiers and free text as the HR systems send them, validated once at the edge.
//!
//! Ids are opaque to the ledger (as issued by the HR system) but they end up in error
//! messages, exports and audit reports, so they must be printable and unambiguous: non-empty,
//! at most [`MAX_ID_LEN`] bytes, no whitespace and no control characters.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest name (of a school, group or teacher) accepted, in bytes.
pub const MAX_NAME_LEN: usize = 200;
/// Longest free text (a void's reason, an early return's explanation) accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 1000;

/// Longest id kept inside the `Id` itself rather than in an allocation of its own, in bytes.
///
/// Why: the state keys its large maps by id, and a lookup compares the sought id with a
/// dozen or more keys. With every id behind a pointer, each comparison read another
/// allocation: a profile of a school's quota at 1M entries put 60 % of its time in
/// `memcmp` waiting for those reads. An id of up to this many bytes (every id the HR systems
/// we know of issue: school codes, teacher numbers, an 18-digit national id) sits in the map's
/// node next to its neighbours, and a clone copies 24 bytes instead of touching a shared
/// count.
pub const INLINE_ID_LEN: usize = 22;

/// A validated identifier (of a school, group, teacher, dispatch or team).
///
/// Cheap to clone: up to [`INLINE_ID_LEN`] bytes held inline, a longer one shared. Compared,
/// ordered and hashed as its text, whichever way it is held.
#[derive(Clone)]
pub struct Id(Repr);

#[derive(Clone)]
enum Repr {
    /// The text's length, then its bytes (the rest zero).
    Inline(u8, [u8; INLINE_ID_LEN]),
    Shared(Arc<str>),
}

impl Id {
    /// Validates `s` as an id; the error says what is wrong, for a person to fix.
    pub fn new(s: &str) -> Result<Id, String> {
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > MAX_ID_LEN {
            return Err(format!("is {} bytes, longer than {MAX_ID_LEN}", s.len()));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("contains whitespace or a control character".into());
        }
        Ok(Id(match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE_ID_LEN => {
                let mut bytes = [0u8; INLINE_ID_LEN];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Repr::Inline(len, bytes)
            }
            _ => Repr::Shared(Arc::from(s)),
        }))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Not validated again: every lookup of a map keyed by ids borrows each key it
            // compares as text (`Borrow<str>`), and checking the bytes there was a few
            // percent of a school's quota.
            // SAFETY: an inline id is only ever made by `Id::new`, which copies all the bytes
            // of a `&str` (so valid UTF-8) and records their length; `Repr` is private to
            // this module and its bytes are never changed after, so `bytes()` is exactly that
            // string's bytes.
            Repr::Inline(..) => unsafe { std::str::from_utf8_unchecked(self.bytes()) },
            Repr::Shared(s) => s,
        }
    }

    /// The text's bytes (what ids are compared by: `str`'s order is its bytes' order).
    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(len, bytes) => &bytes[..usize::from(*len)],
            Repr::Shared(s) => s.as_bytes(),
        }
    }

    /// Whether `self` and `other` share one allocation of their text (only ids longer than
    /// [`INLINE_ID_LEN`] have one).
    #[cfg(test)]
    pub(crate) fn shares_text_with(&self, other: &Id) -> bool {
        match (&self.0, &other.0) {
            (Repr::Shared(a), Repr::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Whether the text is held inline (no allocation).
    #[cfg(test)]
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(..))
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Id {}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Id) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Id) -> std::cmp::Ordering {
        self.bytes().cmp(other.bytes())
    }
}

/// As its text: maps keyed by `Id` are looked up by `&str` (`Borrow<str>`), which requires
/// the same hash.
impl std::hash::Hash for Id {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Id {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Its text; in the state snapshot, written once and referred to by number after
/// (`binary::writing_snapshot`).
impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::binary::serialize_id(self, s)
    }
}

/// Read back validated again (a snapshot is a cache, not trusted input); inside
/// `binary::reading_snapshot`, every occurrence of one id is one shared allocation (when it
/// has one: a short id is held inline).
impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::binary::deserialize_id(d)
    }
}

/// Checks free text (a name or an explanation): non-empty after trimming, at most `max`
/// bytes, no control characters (names and reasons are single lines of text).
pub fn check_text(s: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("is empty".into());
    }
    if s.len() > max {
        return Err(format!("is {} bytes, longer than {max}", s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(Id::new("S001").is_ok());
        assert!(Id::new("教师-7").is_ok());
        assert!(Id::new(&"x".repeat(64)).is_ok());
        assert_eq!(
            Id::new(&"x".repeat(65)).unwrap_err(),
            "is 65 bytes, longer than 64"
        );
        assert_eq!(Id::new("").unwrap_err(), "is empty");
        assert!(Id::new("a b").is_err());
        assert!(Id::new("a\u{0}").is_err());
        assert!(Id::new("a\u{3000}b").is_err(), "ideographic space");
    }

    #[test]
    fn short_ids_are_inline_and_every_id_is_its_text() {
        use std::collections::HashSet;
        use std::hash::{BuildHasher, RandomState};
        let texts = [
            "S1",
            "T00000001",
            "教师-7",
            &"x".repeat(INLINE_ID_LEN),
            &"x".repeat(INLINE_ID_LEN + 1),
            &"y".repeat(MAX_ID_LEN),
            "x",
            "xx",
        ];
        let ids: Vec<Id> = texts.iter().map(|t| Id::new(t).unwrap()).collect();
        for (t, id) in texts.iter().zip(&ids) {
            assert_eq!(id.as_str(), *t);
            assert_eq!(id.is_inline(), t.len() <= INLINE_ID_LEN, "{t}");
            let h = RandomState::new();
            assert_eq!(h.hash_one(id), h.hash_one(*t), "hashed as its text: {t}");
        }
        // Ordered as the texts are, inline and shared alike.
        for (a, ta) in ids.iter().zip(texts) {
            for (b, tb) in ids.iter().zip(texts) {
                assert_eq!(a.cmp(b), ta.cmp(tb), "{ta} against {tb}");
                assert_eq!(a == b, ta == tb);
            }
        }
        let set: HashSet<Id> = ids.iter().cloned().collect();
        assert!(texts.iter().all(|t| set.contains(*t)), "found by &str");
        assert_eq!(std::mem::size_of::<Id>(), 24);
    }

    #[test]
    fn text_is_validated() {
        assert!(check_text("Minhang No.1 Primary", MAX_NAME_LEN).is_ok());
        assert!(check_text("  ", MAX_NAME_LEN).is_err());
        assert!(check_text("a\nb", MAX_NAME_LEN).is_err());
        assert!(check_text(&"x".repeat(201), MAX_NAME_LEN).is_err());
    }
}

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

/// A validated identifier (of a school, group, teacher, dispatch or team).
///
/// Cheap to clone (shared), because the state keys many maps by it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(Arc<str>);

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
        Ok(Id(Arc::from(s)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared text itself (whether two ids are one allocation).
    #[cfg(test)]
    pub(crate) fn as_arc(&self) -> Arc<str> {
        self.0.clone()
    }
}

impl std::ops::Deref for Id {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Id {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
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
/// `binary::reading_snapshot`, every occurrence of one id is one shared allocation.
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
    fn text_is_validated() {
        assert!(check_text("Minhang No.1 Primary", MAX_NAME_LEN).is_ok());
        assert!(check_text("  ", MAX_NAME_LEN).is_err());
        assert!(check_text("a\nb", MAX_NAME_LEN).is_err());
        assert!(check_text(&"x".repeat(201), MAX_NAME_LEN).is_err());
    }
}

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
//! No I/O here: a thread-local flag and the string forms the binary decoder parses back.

use std::cell::Cell;

thread_local! {
    static POSITIONAL: Cell<bool> = const { Cell::new(false) };
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
}

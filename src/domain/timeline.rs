//! A value that changes over effective dates (a school's standing, a teacher's home school),
//! answerable as of any date, with each change traceable to the entry that made it.

use std::sync::Arc;

use chrono::NaiveDate;

/// One change: (effective date, sequence number) and the value from then on.
type Change<T> = ((NaiveDate, u64), T);

/// Changes keyed by (effective date, sequence number): the value as of a date is the last
/// change on or before it, and among changes on the same date the later entry wins. Keeping
/// the sequence number in the key lets a void remove exactly the change its entry made.
///
/// A timeline holds a handful of changes, and most hold exactly one (a teacher's name,
/// subject, title, key level, retirement date and home school are set once at registration
/// and seldom changed), so a single change is held inline and only two or more share a sorted
/// slice (`Arc<[_]>`, as `super::small`'s collections). Why: a teacher alone has six
/// timelines, and six allocations per teacher (each with its count and the allocator's
/// rounding) were about a third of a teacher's records at a million entries, and most of the
/// objects a restart rebuilds. A clone is O(1) either way (an inline change is a few words
/// copied), and a change copies the few entries.
#[derive(Debug, Clone)]
pub struct Timeline<T: Clone>(Repr<T>);

/// How the changes are held: exactly one inline, else (none, or two and more) shared.
#[derive(Debug, Clone)]
enum Repr<T> {
    One(Change<T>),
    Shared(Arc<[Change<T>]>),
}

impl<T: Clone> Default for Timeline<T> {
    fn default() -> Self {
        Timeline(Repr::Shared(Arc::new([])))
    }
}

/// Equal when the changes are: however they are held (the form follows the count, but equality
/// must not depend on it).
impl<T: Clone + PartialEq> PartialEq for Timeline<T> {
    fn eq(&self, other: &Self) -> bool {
        self.slice() == other.slice()
    }
}

impl<T: Clone + Eq> Eq for Timeline<T> {}

impl<T: Clone + serde::Serialize> serde::Serialize for Timeline<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        super::binary::timeline::serialize(self.slice(), s)
    }
}

impl<'de, T: Clone + serde::Deserialize<'de>> serde::Deserialize<'de> for Timeline<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match super::binary::timeline::deserialize(d)? {
            super::binary::timeline::Read::One(c) => Timeline(Repr::One(c)),
            super::binary::timeline::Read::Many(v) => Timeline::held(v.into()),
        })
    }
}

impl<T: Clone> Timeline<T> {
    /// A timeline with a single change.
    pub fn starting(date: NaiveDate, seq: u64, v: T) -> Timeline<T> {
        Timeline(Repr::One(((date, seq), v)))
    }

    /// The timeline of `changes` (in key order), held as its count says.
    fn held(changes: Arc<[Change<T>]>) -> Timeline<T> {
        match &*changes {
            [one] => Timeline(Repr::One(one.clone())),
            _ => Timeline(Repr::Shared(changes)),
        }
    }

    /// The changes, in key order.
    fn slice(&self) -> &[Change<T>] {
        match &self.0 {
            Repr::One(c) => std::slice::from_ref(c),
            Repr::Shared(v) => v,
        }
    }

    /// Records that entry `seq` set the value to `v` from `date`.
    pub fn set(&mut self, date: NaiveDate, seq: u64, v: T) {
        let key = (date, seq);
        match self.slice().binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => match &mut self.0 {
                Repr::One(c) => c.1 = v,
                Repr::Shared(s) => Arc::make_mut(s)[i].1 = v,
            },
            Err(i) => *self = Timeline::held(super::small::inserted(self.slice(), i, (key, v))),
        }
    }

    /// Removes the change entry `seq` made on `date` (a void).
    pub fn unset(&mut self, date: NaiveDate, seq: u64) -> Option<T> {
        let key = (date, seq);
        let changes = self.slice();
        let i = changes.binary_search_by(|(k, _)| k.cmp(&key)).ok()?;
        let v = changes[i].1.clone();
        *self = Timeline::held(super::small::removed(changes, i));
        Some(v)
    }

    /// The value as of `date`, if any change took effect on or before it.
    pub fn at(&self, date: NaiveDate) -> Option<&T> {
        let changes = self.slice();
        let end = changes.partition_point(|((d, _), _)| *d <= date);
        end.checked_sub(1).map(|i| &changes[i].1)
    }

    /// The latest value, whatever its date.
    pub fn latest(&self) -> Option<&T> {
        self.slice().last().map(|(_, v)| v)
    }

    /// The date of the latest change.
    pub fn latest_date(&self) -> Option<NaiveDate> {
        self.slice().last().map(|((d, _), _)| *d)
    }

    /// Every change: (date, seq, value), in date order.
    pub fn changes(&self) -> impl Iterator<Item = (NaiveDate, u64, &T)> {
        self.slice().iter().map(|((d, s), v)| (*d, *s, v))
    }

    /// Whether no change is recorded.
    pub fn is_empty(&self) -> bool {
        self.slice().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn as_of_dates_and_voids() {
        let mut t = Timeline::starting(d("2024-01-01"), 0, "a");
        t.set(d("2025-01-01"), 5, "b");
        t.set(d("2025-01-01"), 3, "c");
        assert_eq!(t.at(d("2023-12-31")), None);
        assert_eq!(t.at(d("2024-06-01")), Some(&"a"));
        assert_eq!(
            t.at(d("2025-01-01")),
            Some(&"b"),
            "later entry wins on a date"
        );
        assert_eq!(t.unset(d("2025-01-01"), 5), Some("b"));
        assert_eq!(t.at(d("2025-01-01")), Some(&"c"));
        assert_eq!(t.latest_date(), Some(d("2025-01-01")));
    }

    #[test]
    fn one_change_is_held_inline_and_equality_ignores_the_form() {
        let one = |t: &Timeline<&str>| matches!(t.0, Repr::One(_));
        let mut t = Timeline::starting(d("2024-01-01"), 0, "a");
        assert!(one(&t));
        t.set(d("2024-01-01"), 0, "a2");
        assert!(one(&t), "the same key replaced in place");
        assert_eq!(t.latest(), Some(&"a2"));
        t.set(d("2025-01-01"), 5, "b");
        assert!(!one(&t));
        t.set(d("2025-01-01"), 5, "b2");
        assert_eq!(t.at(d("2025-06-01")), Some(&"b2"));
        assert_eq!(t.unset(d("2025-01-01"), 5), Some("b2"));
        assert!(one(&t), "back to one change: inline again");
        assert_eq!(t, Timeline::starting(d("2024-01-01"), 0, "a2"));
        let shared_one = Timeline(Repr::Shared(Arc::new([((d("2024-01-01"), 0), "a2")])));
        assert_eq!(shared_one, t, "equal whatever the form");
        assert_eq!(t.unset(d("2024-01-01"), 0), Some("a2"));
        assert!(t.is_empty());
        assert_eq!(t, Timeline::default());
        assert_eq!(t.unset(d("2024-01-01"), 0), None);
        t.set(d("2024-02-01"), 7, "c");
        assert!(one(&t), "from none to one: inline");
        assert_eq!(t.at(d("2024-03-01")), Some(&"c"));
        assert_eq!(t.at(d("2024-01-31")), None);
    }

    #[test]
    fn the_snapshot_form_is_the_list_of_changes_whatever_the_form() {
        let mut many = Timeline::starting(d("2024-01-01"), 0, 1u8);
        many.set(d("2025-01-01"), 5, 2);
        for t in [
            Timeline::starting(d("2024-01-01"), 0, 1u8),
            many,
            Timeline::default(),
        ] {
            let bytes = postcard::to_allocvec(&t).unwrap();
            let list: Vec<(NaiveDate, u64, u8)> = t.changes().map(|(d, s, v)| (d, s, *v)).collect();
            let back: Timeline<u8> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, t);
            assert_eq!(back.changes().count(), list.len());
            assert_eq!(
                matches!(back.0, Repr::One(_)),
                list.len() == 1,
                "read back in its form"
            );
        }
    }
}

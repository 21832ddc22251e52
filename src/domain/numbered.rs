//! Records by number: the teachers and the dispatches, each given a number the first time
//! its id is recorded, with the records in a persistent array at that number.
//!
//! Why: the projections that walk a school (its quota, its duty list, its terms) go from an
//! index of the school to each of its teachers and their dispatches. Looked up by id, each
//! step was a walk down a persistent B-tree of every teacher of the jurisdiction, comparing
//! 24-byte keys at every level (three per teacher of the school, most of a quota's time). By
//! number it is a walk down an array's tree by index arithmetic, without a comparison. The
//! ids stay the way in from outside (a query names a teacher), and every listing by id is
//! still by id (`State` sorts what a walk of a school collects); only what holds numbers
//! (a teacher's dispatches) is in the order the numbers were given.
//!
//! A number is never given back: a voided registration leaves its number with no record, and
//! a later record of the same id takes the same number again. Numbers are given in the order
//! records are first made, so the same entries give the same numbers however they were folded
//! (one by one, replayed, or read back from a snapshot).

use std::sync::Arc;

use imbl::{OrdMap, Vector};

use super::id::Id;

/// Records of type `T` by id, each kept at its number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "T: serde::Serialize",
    deserialize = "T: serde::Deserialize<'de> + Clone"
))]
pub struct Numbered<T: Clone> {
    /// Every id ever given a number (also those whose record is gone), by id.
    numbers: OrdMap<Id, u32>,
    /// The records at their numbers (`None`: the record was removed).
    records: Vector<Option<Arc<T>>>,
}

impl<T: Clone> Default for Numbered<T> {
    fn default() -> Self {
        Numbered {
            numbers: OrdMap::new(),
            records: Vector::new(),
        }
    }
}

impl<T: Clone> Numbered<T> {
    /// The number of `id`, if it was ever given one.
    pub fn number(&self, id: &str) -> Option<u32> {
        self.numbers.get(id).copied()
    }

    /// The record of `id`.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.at(self.number(id)?)
    }

    /// The record at number `n`.
    pub fn at(&self, n: u32) -> Option<&T> {
        self.records.get(usize::try_from(n).ok()?)?.as_deref()
    }

    /// Whether `id` has a record.
    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The record of `id`, to change (copied first if it is shared with another state).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let n = self.number(id)?;
        self.at_mut(n)
    }

    /// The record at number `n`, to change (copied first if shared).
    pub fn at_mut(&mut self, n: u32) -> Option<&mut T> {
        self.records
            .get_mut(usize::try_from(n).ok()?)?
            .as_mut()
            .map(Arc::make_mut)
    }

    /// The map's own copy of `id` (a key it holds), if `id` was ever given a number.
    pub fn key(&self, id: &Id) -> Option<&Id> {
        self.numbers.get_key_value(id).map(|(k, _)| k)
    }

    /// Puts `record` as the record of `id`, at the number `id` has or at the next one, and
    /// answers the number. `None` only when all 2^32 numbers are taken: nothing is put.
    pub fn put(&mut self, id: &Id, record: T) -> Option<u32> {
        let n = match self.number(id) {
            Some(n) => n,
            None => {
                let n = u32::try_from(self.records.len()).ok()?;
                self.numbers.insert(id.clone(), n);
                self.records.push_back(None);
                n
            }
        };
        *self.records.get_mut(usize::try_from(n).ok()?)? = Some(Arc::new(record));
        Some(n)
    }

    /// Removes the record of `id` (its number stays `id`'s) and answers it.
    pub fn remove(&mut self, id: &str) -> Option<Arc<T>> {
        let n = self.number(id)?;
        self.records.get_mut(usize::try_from(n).ok()?)?.take()
    }

    /// Every record, by id.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.numbers.values().filter_map(|n| self.at(*n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Id::new(s).unwrap()
    }

    #[test]
    fn numbers_are_given_once_in_order_and_kept_by_a_removed_record() {
        let mut m: Numbered<String> = Numbered::default();
        assert_eq!(m.put(&id("T2"), "two".into()), Some(0));
        assert_eq!(m.put(&id("T1"), "one".into()), Some(1));
        // Listed by id, whatever the numbers.
        assert_eq!(m.values().cloned().collect::<Vec<_>>(), ["one", "two"]);
        assert_eq!(m.at(1).map(String::as_str), Some("one"));

        let shared = m.clone();
        m.get_mut("T1").unwrap().push('!');
        assert_eq!(m.get("T1").map(String::as_str), Some("one!"));
        assert_eq!(
            shared.get("T1").map(String::as_str),
            Some("one"),
            "a clone is its own"
        );

        assert_eq!(m.remove("T2").as_deref().map(String::as_str), Some("two"));
        assert_eq!(m.remove("T2"), None);
        assert!(!m.contains("T2"));
        assert_eq!(m.values().count(), 1);
        // The same id again takes its old number; a new id the next one.
        assert_eq!(m.put(&id("T2"), "again".into()), Some(0));
        assert_eq!(m.put(&id("T3"), "three".into()), Some(2));
        assert_eq!(m.values().count(), 3);
        assert_eq!(m.number("T9"), None);
        assert_eq!(m.get_mut("T9"), None);
    }
}

//! A value that changes over effective dates (a school's standing, a teacher's home school),
//! answerable as of any date, with each change traceable to the entry that made it.

use std::sync::Arc;

use chrono::NaiveDate;

/// Changes keyed by (effective date, sequence number): the value as of a date is the last
/// change on or before it, and among changes on the same date the later entry wins. Keeping
/// the sequence number in the key lets a void remove exactly the change its entry made.
///
/// A timeline holds a handful of changes (most hold one), so it is a shared sorted slice
/// (`Arc<[_]>`, as `super::small`'s collections): a clone is O(1) like a persistent map's, a
/// change copies the few entries, and a one-change timeline costs one small allocation
/// instead of a map node (a teacher alone has six timelines; at a million entries the map
/// nodes dominated the state's memory).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "T: serde::Serialize",
    deserialize = "T: serde::Deserialize<'de>"
))]
pub struct Timeline<T: Clone>(
    #[serde(with = "super::binary::timeline")] Arc<[((NaiveDate, u64), T)]>,
);

impl<T: Clone> Default for Timeline<T> {
    fn default() -> Self {
        Timeline(Arc::new([]))
    }
}

impl<T: Clone> Timeline<T> {
    /// A timeline with a single change.
    pub fn starting(date: NaiveDate, seq: u64, v: T) -> Timeline<T> {
        Timeline(Arc::new([((date, seq), v)]))
    }

    /// Records that entry `seq` set the value to `v` from `date`.
    pub fn set(&mut self, date: NaiveDate, seq: u64, v: T) {
        let key = (date, seq);
        match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => Arc::make_mut(&mut self.0)[i].1 = v,
            Err(i) => self.0 = super::small::inserted(&self.0, i, (key, v)),
        }
    }

    /// Removes the change entry `seq` made on `date` (a void).
    pub fn unset(&mut self, date: NaiveDate, seq: u64) -> Option<T> {
        let key = (date, seq);
        let i = self.0.binary_search_by(|(k, _)| k.cmp(&key)).ok()?;
        let v = self.0[i].1.clone();
        self.0 = super::small::removed(&self.0, i);
        Some(v)
    }

    /// The value as of `date`, if any change took effect on or before it.
    pub fn at(&self, date: NaiveDate) -> Option<&T> {
        let end = self.0.partition_point(|((d, _), _)| *d <= date);
        end.checked_sub(1).map(|i| &self.0[i].1)
    }

    /// The latest value, whatever its date.
    pub fn latest(&self) -> Option<&T> {
        self.0.last().map(|(_, v)| v)
    }

    /// The date of the latest change.
    pub fn latest_date(&self) -> Option<NaiveDate> {
        self.0.last().map(|((d, _), _)| *d)
    }

    /// Every change: (date, seq, value), in date order.
    pub fn changes(&self) -> impl Iterator<Item = (NaiveDate, u64, &T)> {
        self.0.iter().map(|((d, s), v)| (*d, *s, v))
    }

    /// Whether no change is recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
}

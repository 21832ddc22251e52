//! Small sorted collections shared by clones: the sets and maps *inside* a record (a
//! teacher's dispatches, a dispatch's evaluations, a team's members, a teacher's entries).
//!
//! Why not `imbl`'s maps here: a persistent map allocates whole nodes (64 slots of keys
//! and values plus 65 child pointers) even for one element, so a dispatch's three evaluations
//! cost ~5 KiB and a teacher's one dispatch ~1.5 KiB; at a million entries those nodes were
//! most of the state's memory and much of the time spent folding it. These collections hold a
//! handful of elements, so a sorted slice behind an `Arc` does the same job: a clone is
//! O(1) like a persistent map's (the state is cloned for every append and every reader
//! snapshot), and a change copies the few elements into a new slice. An `Arc<[T]>` rather
//! than an `Arc<Vec<T>>`: one allocation, sized exactly, instead of two with a vector's
//! spare capacity; at province scale a teacher holds about ten of these.

use std::borrow::Borrow;
use std::iter::once;
use std::sync::Arc;

/// `v` with `x` inserted at `i`, in one allocation.
pub(super) fn inserted<T: Clone>(v: &[T], i: usize, x: T) -> Arc<[T]> {
    let (a, b) = v.split_at(i.min(v.len()));
    a.iter()
        .cloned()
        .chain(once(x))
        .chain(b.iter().cloned())
        .collect()
}

/// `v` without its element `i`, in one allocation.
pub(super) fn removed<T: Clone>(v: &[T], i: usize) -> Arc<[T]> {
    v.iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, x)| x.clone())
        .collect()
}

/// A sorted set of a few elements.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmallSet<T>(Arc<[T]>);

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        SmallSet(Arc::new([]))
    }
}

impl<T: Ord + Clone> SmallSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of one element.
    pub fn unit(v: T) -> Self {
        SmallSet(Arc::new([v]))
    }

    /// Adds `v`; false if it was already there.
    pub fn insert(&mut self, v: T) -> bool {
        // Elements mostly arrive in order (sequence numbers, ids registered one after
        // another): one comparison with the last then, not a binary search.
        if self.0.last().is_none_or(|last| *last < v) {
            self.0 = inserted(&self.0, self.0.len(), v);
            return true;
        }
        match self.0.binary_search(&v) {
            Ok(_) => false,
            Err(i) => {
                self.0 = inserted(&self.0, i, v);
                true
            }
        }
    }

    /// Removes `v`; false if it was not there.
    pub fn remove<Q>(&mut self, v: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.0.binary_search_by(|x| x.borrow().cmp(v)) {
            Ok(i) => {
                self.0 = removed(&self.0, i);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `v` is in the set.
    pub fn contains<Q>(&self, v: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|x| x.borrow().cmp(v)).is_ok()
    }
}

impl<T> SmallSet<T> {
    /// The elements in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The largest element.
    pub fn last(&self) -> Option<&T> {
        self.0.last()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Ord + Clone> FromIterator<T> for SmallSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v: Vec<T> = iter.into_iter().collect();
        v.sort();
        v.dedup();
        SmallSet(Arc::from(v))
    }
}

/// A sorted map of a few entries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmallMap<K, V>(Arc<[(K, V)]>);

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap(Arc::new([]))
    }
}

impl<K: Ord + Clone, V: Clone> SmallMap<K, V> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q>(&self, k: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|(x, _)| x.borrow().cmp(k))
    }

    /// Sets `k` to `v`, returning the value it replaced.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        if self.0.last().is_none_or(|(last, _)| *last < k) {
            self.0 = inserted(&self.0, self.0.len(), (k, v));
            return None;
        }
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut Arc::make_mut(&mut self.0)[i].1, v)),
            Err(i) => {
                self.0 = inserted(&self.0, i, (k, v));
                None
            }
        }
    }

    /// Removes `k`, returning its value.
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(k).ok()?;
        let v = self.0[i].1.clone();
        self.0 = removed(&self.0, i);
        Some(v)
    }

    /// The value of `k`.
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(k).ok().map(|i| &self.0[i].1)
    }

    /// Whether `k` has a value.
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(k).is_ok()
    }
}

impl<K, V> SmallMap<K, V> {
    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Ord + Clone, V: Clone> FromIterator<(K, V)> for SmallMap<K, V> {
    /// Later pairs win over earlier ones with the same key, as repeated `insert`s would.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = SmallMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn a_change_to_a_clone_leaves_the_original() {
        let mut a = SmallSet::unit(2u64);
        let b = a.clone();
        assert!(a.insert(1));
        assert!(!a.insert(2));
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(b.iter().copied().collect::<Vec<_>>(), [2]);
        let mut m: SmallMap<u64, &str> = SmallMap::new();
        m.insert(1, "a");
        let n = m.clone();
        assert_eq!(m.insert(1, "b"), Some("a"));
        assert_eq!((m.get(&1), n.get(&1)), (Some(&"b"), Some(&"a")));
    }

    #[test]
    fn lookups_by_borrowed_keys() {
        let mut s: SmallSet<String> = ["b", "a"].iter().map(|s| s.to_string()).collect();
        assert!(s.contains("a") && !s.contains("c"));
        assert!(s.remove("a") && !s.remove("a"));
        assert_eq!(s.len(), 1);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Insert(k % 16, v)),
            any::<u8>().prop_map(|k| Op::Remove(k % 16)),
        ]
    }

    proptest! {
        /// Both collections behave exactly like the standard ordered ones.
        #[test]
        fn same_as_btree(ops in proptest::collection::vec(op(), 0..64)) {
            let (mut m, mut bm) = (SmallMap::new(), BTreeMap::new());
            let (mut s, mut bs) = (SmallSet::new(), BTreeSet::new());
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(m.insert(k, v), bm.insert(k, v));
                        prop_assert_eq!(s.insert(k), bs.insert(k));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(m.remove(&k), bm.remove(&k));
                        prop_assert_eq!(s.remove(&k), bs.remove(&k));
                    }
                }
                prop_assert_eq!(m.len(), bm.len());
                prop_assert!(m.iter().map(|(k, v)| (*k, *v)).eq(bm.iter().map(|(k, v)| (*k, *v))));
                prop_assert!(s.iter().eq(bs.iter()));
                for k in 0..16u8 {
                    prop_assert_eq!(m.get(&k), bm.get(&k));
                    prop_assert_eq!(s.contains(&k), bs.contains(&k));
                }
            }
        }
    }
}

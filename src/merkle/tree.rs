//! The RFC 9162 tree over a node store: roots of any past size, and the right frontier
//! ([`CompactRange`]) that is updated on every append.
//!
//! # Storage model
//!
//! The tree is never rebuilt. The store (sled in the ledger, [`MemoryNodes`] in tests and in
//! the offline auditor) holds the hash of every **perfect** subtree that is complete at the
//! current size, addressed by `(level, index)`: the subtree covering leaves
//! `[index << level, (index + 1) << level)`. Level 0 is the leaf hash `H(0x00 || entry_hash)`.
//!
//! **Architecture Invariant:** a stored node never changes once written. A perfect subtree
//! only covers leaves that exist, and leaves are never edited, so the store is append-only
//! like the log itself, and every past size can still be answered from it.
//!
//! The RFC tree of size `n` splits at the largest power of two strictly smaller than `n`,
//! so its left children are always perfect and only the right edge can be ragged. A ragged
//! range `[begin, end)` is the right-fold of at most 64 perfect subtrees (one per set bit of
//! `end - begin`), which is why the root of any size costs at most `popcount(size)` reads.

use super::hasher::{Digest, TreeHasher};

/// Where the tree reads its perfect-subtree hashes from.
pub trait NodeSource {
    /// The store's own failure (I/O, corruption, a node that should exist but does not).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hash of the perfect subtree covering leaves `[index << level, (index + 1) << level)`.
    ///
    /// Implementations MUST return every node that is complete at the store's current size,
    /// and MUST return an error (not a made-up value) for any other.
    fn node(&self, level: u8, index: u64) -> Result<Digest, Self::Error>;
}

/// One perfect-subtree hash the store must persist: see [`CompactRange::append`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    /// Height of the subtree: 0 for a leaf, `l` for a subtree of `2^l` leaves.
    pub level: u8,
    /// Position among the subtrees of this level: it covers `[index << level, (index+1) << level)`.
    pub index: u64,
    /// `H(0x00 || entry_hash)` at level 0, `H(0x01 || left || right)` above.
    pub hash: Digest,
}

/// Why a tree computation failed. `E` is the node store's error.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    /// The store could not produce a node the computation needs.
    #[error("node store failed to read node (level {level}, index {index}): {source}")]
    Source {
        /// Level of the node that was asked for.
        level: u8,
        /// Index of the node that was asked for.
        index: u64,
        /// The store's error.
        #[source]
        source: E,
    },
    /// The leaf asked for does not exist in a tree of this size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size it was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old size {old_size} is larger than new size {new_size}")]
    SizesOutOfOrder {
        /// The size the proof should start from.
        old_size: u64,
        /// The size the proof should lead to.
        new_size: u64,
    },
}

/// The tree already holds `u64::MAX` leaves: one more would overflow its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree is full: it cannot hold more than u64::MAX leaves")]
pub struct TreeFull;

/// `x` with its `n` lowest bits cleared (`n` may be 64).
fn clear_low_bits(x: u64, n: u32) -> u64 {
    x.checked_shr(n).map_or(0, |v| v << n)
}

/// The largest power of two strictly smaller than `n` (the RFC 9162 split point); `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Reads one node, tagging a store failure with the node it was about.
pub(crate) fn read<S: NodeSource + ?Sized>(
    src: &S,
    level: u32,
    index: u64,
) -> Result<Digest, TreeError<S::Error>> {
    // `level` comes from a bit position of a u64, so it is at most 63.
    let level = level as u8;
    src.node(level, index).map_err(|source| TreeError::Source {
        level,
        index,
        source,
    })
}

/// `MTH(D[begin:end])` for a range of the RFC recursion, where `begin` is a multiple of a
/// power of two at least `end - begin`. Such a range is the right-fold of the perfect
/// subtrees given by the set bits of its length, largest (leftmost) first, each aligned, so
/// each is one stored node: at most 64 reads.
pub(crate) fn range_root<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    src: &S,
    begin: u64,
    end: u64,
) -> Result<Digest, TreeError<S::Error>> {
    let len = end - begin;
    let mut acc: Option<Digest> = None;
    // From the smallest piece (rightmost) to the largest (leftmost), folding right to left.
    for level in 0..64u32 {
        if (len >> level) & 1 == 0 {
            continue;
        }
        let start = begin + clear_low_bits(len, level + 1);
        let piece = read(src, level, start >> level)?;
        acc = Some(match acc {
            None => piece,
            Some(right) => hasher.hash_children(&piece, &right),
        });
    }
    Ok(acc.unwrap_or_else(|| hasher.empty_root()))
}

/// The root of the tree of `size` leaves (any size up to the store's current one), in at most
/// `popcount(size)` node reads. Size 0 gives `H("")`.
pub fn root<H: TreeHasher, S: NodeSource + ?Sized>(
    hasher: &H,
    size: u64,
    src: &S,
) -> Result<Digest, TreeError<S::Error>> {
    range_root(hasher, src, 0, size)
}

/// The right frontier of the tree: one perfect-subtree hash per set bit of the size.
///
/// It is all the state needed to append a leaf and to know the new root, so the ledger keeps
/// one in memory, reloads it with [`CompactRange::load`] on start, and persists the nodes
/// that [`CompactRange::append`] returns in the same atomic batch as the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactRange<H> {
    /// The hash function; a unit struct in practice.
    hasher: H,
    /// Number of leaves appended so far.
    size: u64,
    /// Roots of the perfect subtrees `size` decomposes into, largest (leftmost) first:
    /// `frontier.len() == size.count_ones()` at all times.
    frontier: Vec<Digest>,
}

impl<H: TreeHasher> CompactRange<H> {
    /// The hash function.
    pub fn hasher(&self) -> &H {
        &self.hasher
    }

    /// The empty tree.
    pub fn new(hasher: H) -> Self {
        Self {
            hasher,
            size: 0,
            frontier: Vec::new(),
        }
    }

    /// The frontier of the tree of `size` leaves, read from the store in `popcount(size)`
    /// reads (at most 64).
    pub fn load<S: NodeSource + ?Sized>(
        hasher: H,
        size: u64,
        src: &S,
    ) -> Result<Self, TreeError<S::Error>> {
        let mut frontier = Vec::with_capacity(size.count_ones() as usize);
        for level in (0..64u32).rev() {
            if (size >> level) & 1 == 1 {
                let start = clear_low_bits(size, level + 1);
                frontier.push(read(src, level, start >> level)?);
            }
        }
        Ok(Self {
            hasher,
            size,
            frontier,
        })
    }

    /// The tree of `size` leaves from its frontier (largest subtree first, as
    /// [`CompactRange::frontier`] gives it), e.g. as saved in the state snapshot; `None` unless
    /// it holds exactly `popcount(size)` hashes.
    pub fn from_frontier(hasher: H, size: u64, frontier: Vec<Digest>) -> Option<Self> {
        (frontier.len() == size.count_ones() as usize).then_some(Self {
            hasher,
            size,
            frontier,
        })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The current root (`H("")` when empty), computed from the frontier without reads.
    pub fn root(&self) -> Digest {
        let mut nodes = self.frontier.iter().rev();
        let Some(last) = nodes.next() else {
            return self.hasher.empty_root();
        };
        nodes.fold(*last, |right, left| self.hasher.hash_children(left, &right))
    }

    /// The frontier hashes, largest subtree first (for diagnostics and tests).
    pub fn frontier(&self) -> &[Digest] {
        &self.frontier
    }

    /// Appends the leaf for `entry_hash` (leaf hash `H(0x00 || entry_hash)`).
    ///
    /// Returns the perfect subtrees completed by this leaf, which the store MUST persist
    /// (atomically with the entry) before the new size is used: the level-0 leaf node first,
    /// then one node per trailing one bit of the old size, bottom up. That is
    /// `1 + trailing_ones(old_size)` nodes: 2 on average, at most 64.
    pub fn append(&mut self, entry_hash: &Digest) -> Result<Vec<Node>, TreeFull> {
        let leaf = self.hasher.hash_leaf(entry_hash);
        self.append_leaf_hash(leaf)
    }

    /// Like [`CompactRange::append`] for an already computed leaf hash (the RFC test vectors
    /// have leaves of arbitrary length).
    pub fn append_leaf_hash(&mut self, leaf_hash: Digest) -> Result<Vec<Node>, TreeFull> {
        let mut nodes = Vec::with_capacity(self.size.trailing_ones() as usize + 1);
        self.add_leaf(leaf_hash, |n| nodes.push(n))?;
        Ok(nodes)
    }

    /// [`CompactRange::append`] for a reader that only needs the new root (a verifier):
    /// the same frontier, without collecting the completed nodes.
    pub fn push(&mut self, entry_hash: &Digest) -> Result<(), TreeFull> {
        let leaf = self.hasher.hash_leaf(entry_hash);
        self.add_leaf(leaf, |_| {})
    }

    /// Adds a leaf to the frontier, handing each completed node to `completed`, bottom up.
    fn add_leaf(
        &mut self,
        leaf_hash: Digest,
        mut completed: impl FnMut(Node),
    ) -> Result<(), TreeFull> {
        let old_size = self.size;
        let new_size = old_size.checked_add(1).ok_or(TreeFull)?;
        let merges = old_size.trailing_ones();
        completed(Node {
            level: 0,
            index: old_size,
            hash: leaf_hash,
        });
        let mut hash = leaf_hash;
        for level in 1..=merges {
            // Each trailing one bit of the old size is a perfect subtree of the frontier
            // that the new leaf now completes into one twice its size.
            let Some(left) = self.frontier.pop() else {
                break; // unreachable: frontier.len() == count_ones(size) >= trailing_ones
            };
            hash = self.hasher.hash_children(&left, &hash);
            completed(Node {
                level: level as u8,
                index: (new_size >> level) - 1,
                hash,
            });
        }
        self.frontier.push(hash);
        self.size = new_size;
        Ok(())
    }
}

/// A node that should exist in a [`MemoryNodes`] store but does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no node (level {level}, index {index}) in the in-memory tree")]
pub struct MissingNode {
    /// Level asked for.
    pub level: u8,
    /// Index asked for.
    pub index: u64,
}

/// Why a node could not be put into a [`MemoryNodes`] store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoryNodesError {
    /// Nodes must arrive in order: the index is past the end of its level.
    #[error("node (level {level}, index {index}) leaves a gap: level holds {len} nodes")]
    Gap {
        /// Level of the node.
        level: u8,
        /// Its index.
        index: u64,
        /// How many nodes the level holds.
        len: u64,
    },
    /// A node already stored with a different hash: stored nodes never change.
    #[error("node (level {level}, index {index}) is already stored with a different hash")]
    Conflict {
        /// Level of the node.
        level: u8,
        /// Its index.
        index: u64,
    },
    /// See [`TreeFull`].
    #[error(transparent)]
    Full(#[from] TreeFull),
}

/// The nodes a receipt's inclusion proofs need, held in memory by the writer: the perfect
/// subtrees of the tree as it stood before a commit (its frontier) and every node the commit
/// completes.
///
/// Why this suffices: in the RFC 9162 tree, the left siblings on the path of leaf `i` are the
/// perfect subtrees `i` decomposes into (the frontier of the tree of `i` leaves), and its
/// right siblings lie wholly after `i`. For a leaf appended by the commit, each left sibling
/// is either a frontier subtree of the tree before the commit or was completed by a leaf of
/// the commit, and each right sibling is built from nodes the commit completed. So the proof
/// of every new entry, against any size the commit reaches, is computed here without reading
/// the store: O(log n) lookups instead of O(log n) sled reads per entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentNodes {
    nodes: std::collections::HashMap<(u8, u64), Digest>,
}

impl RecentNodes {
    /// The frontier nodes of `tree`: what the nodes completed from here on build upon.
    pub fn from_tree<H: TreeHasher>(tree: &CompactRange<H>) -> Self {
        let size = tree.size();
        let mut nodes = std::collections::HashMap::new();
        let mut hashes = tree.frontier().iter();
        for level in (0..64u32).rev() {
            if (size >> level) & 1 == 1 {
                let start = clear_low_bits(size, level + 1);
                if let Some(h) = hashes.next() {
                    // `level < 64`: the cast cannot truncate.
                    nodes.insert((level as u8, start >> level), *h);
                }
            }
        }
        RecentNodes { nodes }
    }

    /// Adds nodes completed by an append ([`CompactRange::append`]'s answer).
    pub fn extend(&mut self, completed: &[Node]) {
        for n in completed {
            self.nodes.insert((n.level, n.index), n.hash);
        }
    }

    /// Number of nodes held.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeSource for RecentNodes {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Digest, MissingNode> {
        self.nodes
            .get(&(level, index))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

/// An in-memory node store: for tests, and for the offline auditor, which rebuilds the tree
/// of an export and then asks it for roots and proofs like the ledger would.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryNodes {
    /// `levels[l][i]` is node `(l, i)`. Level `l` holds `size >> l` nodes.
    levels: Vec<Vec<Digest>>,
}

impl MemoryNodes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the store (and returns the frontier) for a sequence of entry hashes.
    pub fn from_entries<'a, H: TreeHasher>(
        hasher: H,
        entries: impl IntoIterator<Item = &'a Digest>,
    ) -> Result<(Self, CompactRange<H>), MemoryNodesError> {
        let leaves: Vec<Digest> = entries.into_iter().map(|e| hasher.hash_leaf(e)).collect();
        Self::from_leaf_hashes(hasher, leaves)
    }

    /// Builds the store (and returns the frontier) for a sequence of leaf hashes.
    pub fn from_leaf_hashes<H: TreeHasher>(
        hasher: H,
        leaves: impl IntoIterator<Item = Digest>,
    ) -> Result<(Self, CompactRange<H>), MemoryNodesError> {
        let mut store = Self::new();
        let mut range = CompactRange::new(hasher);
        for leaf in leaves {
            for node in range.append_leaf_hash(leaf)? {
                store.put(&node)?;
            }
        }
        Ok((store, range))
    }

    /// Stores one node. Nodes of a level must arrive in index order; storing the same node
    /// twice is a no-op, storing a different hash at an existing position is refused.
    pub fn put(&mut self, node: &Node) -> Result<(), MemoryNodesError> {
        let level = usize::from(node.level);
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
        }
        let nodes = &mut self.levels[level];
        let len = nodes.len() as u64;
        match node.index {
            i if i == len => nodes.push(node.hash),
            i if i > len => {
                return Err(MemoryNodesError::Gap {
                    level: node.level,
                    index: i,
                    len,
                });
            }
            i if nodes[i as usize] != node.hash => {
                return Err(MemoryNodesError::Conflict {
                    level: node.level,
                    index: i,
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Number of leaves stored.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }
}

impl NodeSource for MemoryNodes {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Digest, MissingNode> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

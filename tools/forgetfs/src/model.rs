//! The filesystem as two views: what processes see (volatile) and what a power cut leaves
//! (durable), and the rules that move state from the first to the second.
//!
//! The rules are those of `fsync(2)` read strictly, the weakest guarantees a POSIX filesystem
//! on Linux gives, so that a program passing here relies on nothing more:
//!
//! - a file's **contents and size** become durable only when the file is `fsync`ed or
//!   `fdatasync`ed (both are treated alike: fdatasync also covers the size, as Linux's does);
//! - a **directory entry** (create, mkdir, unlink, rmdir, rename) becomes durable only when
//!   the directory holding it is `fsync`ed; fsyncing a file does not make its name durable;
//! - everything else is forgotten at a power cut: [`Cut::Everything`] forgets every unsynced
//!   byte, [`Cut::Torn`] keeps a seeded random half of the unsynced 4 KiB blocks (the pages
//!   the kernel happened to write back before the power went), so that a recovery meets torn,
//!   out-of-order tails and not only clean prefixes.
//!
//! Directory operations are never kept in part: a journaling filesystem commits them in
//! order, and a subset of them could describe a tree no real disk can hold.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

use fuser::{Errno, FileAttr, FileType, INodeNo};

use crate::image::{Image, Node};

/// The unit in which unsynced file data is tracked and, in a torn cut, kept or lost.
pub const BLOCK: u64 = 4096;

/// What a power cut keeps of what was never synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Nothing: every unsynced write, size change and directory operation is lost.
    Everything,
    /// Each unsynced block of file data survives or not by a coin toss from this seed (and a
    /// pending size change likewise); unsynced directory operations are still all lost.
    Torn(u64),
}

/// Counters of what the filesystem was asked to do, for tests to report and check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `write` calls.
    pub writes: u64,
    /// `fsync`/`fdatasync` of files.
    pub file_syncs: u64,
    /// `fsync` of directories.
    pub dir_syncs: u64,
}

/// A file's two views of its bytes.
#[derive(Debug, Default)]
struct FileData {
    /// What reads return.
    live: Vec<u8>,
    /// What a power cut leaves.
    durable: Vec<u8>,
    /// Blocks of `live` that may differ from `durable`: written, or cut by a truncation.
    dirty: BTreeSet<u64>,
}

impl FileData {
    fn mark(&mut self, from: u64, to: u64) {
        if to > from {
            self.dirty.extend(from / BLOCK..to.div_ceil(BLOCK));
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        let end = offset as usize + data.len();
        if self.live.len() < end {
            self.live.resize(end, 0);
        }
        self.live[offset as usize..end].copy_from_slice(data);
        self.mark(offset, end as u64);
    }

    fn set_len(&mut self, len: u64) {
        let old = self.live.len() as u64;
        // Both a cut and an extension change bytes between the two lengths (an extension
        // reads as zeros where the durable file may still hold old bytes).
        self.mark(len.min(old), len.max(old));
        self.live.resize(len as usize, 0);
    }

    /// Makes block `b` of the live file durable (the durable file grows or shrinks to match
    /// where the block ends).
    fn persist_block(&mut self, b: u64) {
        let len = self.live.len();
        let start = (b * BLOCK) as usize;
        let end = (start + BLOCK as usize).min(len);
        if start >= len {
            return;
        }
        if self.durable.len() < end {
            self.durable.resize(end, 0);
        }
        self.durable[start..end].copy_from_slice(&self.live[start..end]);
    }

    fn sync(&mut self) {
        self.durable.resize(self.live.len(), 0);
        for b in std::mem::take(&mut self.dirty) {
            self.persist_block(b);
        }
    }

    /// What a torn cut leaves: each dirty block kept with probability 1/2, the live length
    /// kept with probability 1/2 (else the durable length stands, grown to cover kept blocks).
    fn torn(&self, rng: &mut u64) -> Vec<u8> {
        let mut copy = FileData {
            live: self.live.clone(),
            durable: self.durable.clone(),
            dirty: BTreeSet::new(),
        };
        for &b in &self.dirty {
            if coin(rng) {
                copy.persist_block(b);
            }
        }
        if coin(rng) {
            copy.durable.resize(self.live.len(), 0);
        }
        copy.durable
    }
}

/// xorshift64: a coin that depends only on the seed, so a torn cut can be replayed.
fn coin(state: &mut u64) -> bool {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state & 1 == 1
}

#[derive(Debug)]
enum Content {
    File(FileData),
    Dir {
        /// What lookups and readdir see.
        live: BTreeMap<OsString, u64>,
        /// What a power cut leaves.
        durable: BTreeMap<OsString, u64>,
    },
}

#[derive(Debug)]
struct Inode {
    parent: u64,
    perm: u16,
    durable_perm: u16,
    uid: u32,
    gid: u32,
    mtime: SystemTime,
    ctime: SystemTime,
    content: Content,
}

/// The whole filesystem. Inodes are never freed before a power cut: an unlinked file may be
/// open, and its durable self may still be named by a durable directory entry.
#[derive(Debug)]
pub struct Model {
    inodes: HashMap<u64, Inode>,
    next_ino: u64,
    /// Set by a power cut: from then on every operation fails with EIO.
    off: bool,
    stats: Stats,
}

type Res<T> = Result<T, Errno>;

impl Model {
    /// A filesystem holding `image`, all of it durable (as a disk after a reboot).
    pub fn new(image: &Image, uid: u32, gid: u32) -> Model {
        let mut m = Model {
            inodes: HashMap::new(),
            next_ino: INodeNo::ROOT.0,
            off: false,
            stats: Stats::default(),
        };
        let root = m.alloc(INodeNo::ROOT.0, image.root_perm, uid, gid, true);
        m.load(root, &image.root, uid, gid);
        m
    }

    fn load(&mut self, dir: u64, entries: &BTreeMap<OsString, Node>, uid: u32, gid: u32) {
        for (name, node) in entries {
            let ino = match node {
                Node::File { perm, data } => {
                    let ino = self.alloc(dir, *perm, uid, gid, false);
                    if let Some(Content::File(f)) = self.content_mut(ino) {
                        f.live = data.clone();
                        f.durable = data.clone();
                    }
                    ino
                }
                Node::Dir { perm, entries } => {
                    let ino = self.alloc(dir, *perm, uid, gid, true);
                    self.load(ino, entries, uid, gid);
                    ino
                }
            };
            if let Some(Content::Dir { live, durable }) = self.content_mut(dir) {
                live.insert(name.clone(), ino);
                durable.insert(name.clone(), ino);
            }
        }
    }

    fn content_mut(&mut self, ino: u64) -> Option<&mut Content> {
        self.inodes.get_mut(&ino).map(|i| &mut i.content)
    }

    fn alloc(&mut self, parent: u64, perm: u16, uid: u32, gid: u32, dir: bool) -> u64 {
        let ino = self.next_ino;
        self.next_ino += 1;
        let now = SystemTime::now();
        let content = if dir {
            Content::Dir {
                live: BTreeMap::new(),
                durable: BTreeMap::new(),
            }
        } else {
            Content::File(FileData::default())
        };
        self.inodes.insert(
            ino,
            Inode {
                parent,
                perm,
                durable_perm: perm,
                uid,
                gid,
                mtime: now,
                ctime: now,
                content,
            },
        );
        ino
    }

    fn on(&self) -> Res<()> {
        if self.off { Err(Errno::EIO) } else { Ok(()) }
    }

    fn inode(&self, ino: u64) -> Res<&Inode> {
        self.on()?;
        self.inodes.get(&ino).ok_or(Errno::ENOENT)
    }

    fn inode_mut(&mut self, ino: u64) -> Res<&mut Inode> {
        self.on()?;
        self.inodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    fn dir_live(&self, ino: u64) -> Res<&BTreeMap<OsString, u64>> {
        match &self.inode(ino)?.content {
            Content::Dir { live, .. } => Ok(live),
            Content::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn dir_live_mut(&mut self, ino: u64) -> Res<&mut BTreeMap<OsString, u64>> {
        let node = self.inode_mut(ino)?;
        node.mtime = SystemTime::now();
        node.ctime = node.mtime;
        match &mut node.content {
            Content::Dir { live, .. } => Ok(live),
            Content::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn file_mut(&mut self, ino: u64) -> Res<&mut FileData> {
        match &mut self.inode_mut(ino)?.content {
            Content::File(f) => Ok(f),
            Content::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    /// The attributes of `ino` as `stat` shows them.
    pub fn attr(&self, ino: u64) -> Res<FileAttr> {
        let node = self.inode(ino)?;
        let (kind, size, nlink) = match &node.content {
            Content::File(f) => (FileType::RegularFile, f.live.len() as u64, 1),
            Content::Dir { live, .. } => (FileType::Directory, BLOCK, 2 + live.len() as u32),
        };
        Ok(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: node.mtime,
            mtime: node.mtime,
            ctime: node.ctime,
            crtime: node.ctime,
            kind,
            perm: node.perm,
            nlink,
            uid: node.uid,
            gid: node.gid,
            rdev: 0,
            blksize: BLOCK as u32,
            flags: 0,
        })
    }

    /// The inode `name` in `parent` names.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Res<FileAttr> {
        let ino = *self.dir_live(parent)?.get(name).ok_or(Errno::ENOENT)?;
        self.attr(ino)
    }

    /// Creates a file or directory `name` in `parent`.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        perm: u16,
        (uid, gid): (u32, u32),
        dir: bool,
    ) -> Res<FileAttr> {
        if self.dir_live(parent)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let ino = self.alloc(parent, perm, uid, gid, dir);
        self.dir_live_mut(parent)?.insert(name.to_owned(), ino);
        self.attr(ino)
    }

    /// Removes `name` from `parent`: a file (`dir` false) or an empty directory.
    pub fn remove(&mut self, parent: u64, name: &OsStr, dir: bool) -> Res<()> {
        let ino = *self.dir_live(parent)?.get(name).ok_or(Errno::ENOENT)?;
        match (&self.inode(ino)?.content, dir) {
            (Content::File(_), true) => return Err(Errno::ENOTDIR),
            (Content::Dir { .. }, false) => return Err(Errno::EISDIR),
            (Content::Dir { live, .. }, true) if !live.is_empty() => {
                return Err(Errno::ENOTEMPTY);
            }
            _ => {}
        }
        self.dir_live_mut(parent)?.remove(name);
        Ok(())
    }

    /// `rename(2)`, with `RENAME_NOREPLACE` as `no_replace`.
    pub fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        no_replace: bool,
    ) -> Res<()> {
        let ino = *self.dir_live(parent)?.get(name).ok_or(Errno::ENOENT)?;
        self.dir_live(new_parent)?;
        let moving_dir = matches!(self.inode(ino)?.content, Content::Dir { .. });
        if moving_dir {
            // A directory may not move into itself or below itself.
            let mut at = new_parent;
            while at != INodeNo::ROOT.0 {
                if at == ino {
                    return Err(Errno::EINVAL);
                }
                at = self.inode(at)?.parent;
            }
        }
        if let Some(&target) = self.dir_live(new_parent)?.get(new_name) {
            if target == ino {
                return Ok(());
            }
            if no_replace {
                return Err(Errno::EEXIST);
            }
            match (&self.inode(target)?.content, moving_dir) {
                (Content::Dir { live, .. }, true) if !live.is_empty() => {
                    return Err(Errno::ENOTEMPTY);
                }
                (Content::Dir { .. }, false) => return Err(Errno::EISDIR),
                (Content::File(_), true) => return Err(Errno::ENOTDIR),
                _ => {}
            }
        }
        self.dir_live_mut(parent)?.remove(name);
        self.dir_live_mut(new_parent)?
            .insert(new_name.to_owned(), ino);
        self.inode_mut(ino)?.parent = new_parent;
        Ok(())
    }

    /// `chmod`, `truncate` and time changes; returns the new attributes.
    pub fn set_attr(&mut self, ino: u64, perm: Option<u16>, size: Option<u64>) -> Res<FileAttr> {
        if let Some(size) = size {
            self.file_mut(ino)?.set_len(size);
        }
        let node = self.inode_mut(ino)?;
        if let Some(perm) = perm {
            node.perm = perm;
        }
        node.mtime = SystemTime::now();
        node.ctime = node.mtime;
        self.attr(ino)
    }

    /// Up to `size` bytes of `ino` from `offset`.
    pub fn read(&self, ino: u64, offset: u64, size: u32) -> Res<Vec<u8>> {
        match &self.inode(ino)?.content {
            Content::File(f) => {
                let start = (offset as usize).min(f.live.len());
                let end = (start + size as usize).min(f.live.len());
                Ok(f.live[start..end].to_vec())
            }
            Content::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    /// Writes `data` at `offset`; the bytes are visible at once and durable at the next sync.
    pub fn write(&mut self, ino: u64, offset: u64, data: &[u8]) -> Res<u32> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::EFBIG)?;
        self.file_mut(ino)?.write(offset, data);
        self.inode_mut(ino)?.mtime = SystemTime::now();
        self.stats.writes += 1;
        Ok(len)
    }

    /// `fsync`/`fdatasync` of a file, or `fsync` of a directory: makes its contents (for a
    /// directory, its entries) durable. Nothing else: not the names of a file, not the
    /// entries of subdirectories.
    pub fn sync(&mut self, ino: u64) -> Res<()> {
        let node = self.inode_mut(ino)?;
        node.durable_perm = node.perm;
        match &mut node.content {
            Content::File(f) => {
                f.sync();
                self.stats.file_syncs += 1;
            }
            Content::Dir { live, durable } => {
                *durable = live.clone();
                self.stats.dir_syncs += 1;
            }
        }
        Ok(())
    }

    /// The names in directory `ino` with their inodes and kinds, `.` and `..` first.
    pub fn list(&self, ino: u64) -> Res<Vec<(u64, FileType, OsString)>> {
        let parent = self.inode(ino)?.parent;
        let mut out = vec![
            (ino, FileType::Directory, OsString::from(".")),
            (parent, FileType::Directory, OsString::from("..")),
        ];
        for (name, &child) in self.dir_live(ino)? {
            let kind = match self.inode(child)?.content {
                Content::File(_) => FileType::RegularFile,
                Content::Dir { .. } => FileType::Directory,
            };
            out.push((child, kind, name.clone()));
        }
        Ok(out)
    }

    /// What the filesystem was asked to do so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The power goes off: returns what the disk holds, and every later operation fails
    /// with EIO (a process still running sees its disk gone, as it would for that instant).
    pub fn power_cut(&mut self, cut: Cut) -> Image {
        self.off = true;
        let mut rng = match cut {
            Cut::Everything => 0,
            // xorshift never leaves 0; any other seed is a stream of its own.
            Cut::Torn(seed) => seed | 1,
        };
        let root_perm = self
            .inodes
            .get(&INodeNo::ROOT.0)
            .map_or(0o755, |i| i.durable_perm);
        Image {
            root_perm,
            root: self.durable_tree(INodeNo::ROOT.0, cut, &mut rng, 0),
        }
    }

    fn durable_tree(
        &self,
        dir: u64,
        cut: Cut,
        rng: &mut u64,
        depth: usize,
    ) -> BTreeMap<OsString, Node> {
        let mut out = BTreeMap::new();
        // Durable entries form a tree as long as renames are synced in order; a cycle could
        // only come from a rename synced in one directory and not the other, so stop deep.
        if depth > 64 {
            return out;
        }
        let Some(Inode {
            content: Content::Dir { durable, .. },
            ..
        }) = self.inodes.get(&dir)
        else {
            return out;
        };
        for (name, ino) in durable {
            let Some(node) = self.inodes.get(ino) else {
                continue;
            };
            let entry = match &node.content {
                Content::File(f) => Node::File {
                    perm: node.durable_perm,
                    data: match cut {
                        Cut::Everything => f.durable.clone(),
                        Cut::Torn(_) => f.torn(rng),
                    },
                },
                Content::Dir { .. } => Node::Dir {
                    perm: node.durable_perm,
                    entries: self.durable_tree(*ino, cut, rng, depth + 1),
                },
            };
            out.insert(name.clone(), entry);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: (u32, u32) = (0, 0);
    const ROOT: u64 = 1;

    fn fresh() -> Model {
        Model::new(&Image::empty(), 0, 0)
    }

    fn file<'a>(img: &'a Image, path: &[&str]) -> Option<&'a Vec<u8>> {
        let mut entries = &img.root;
        let (last, dirs) = path.split_last()?;
        for d in dirs {
            match entries.get(OsStr::new(d))? {
                Node::Dir { entries: e, .. } => entries = e,
                Node::File { .. } => return None,
            }
        }
        match entries.get(OsStr::new(last))? {
            Node::File { data, .. } => Some(data),
            Node::Dir { .. } => None,
        }
    }

    /// A file whose name was made durable (directory synced) but whose data was not.
    fn named_file(m: &mut Model, name: &str) -> u64 {
        let f = m.create(ROOT, OsStr::new(name), 0o644, ME, false).unwrap();
        m.sync(ROOT).unwrap();
        f.ino.0
    }

    #[test]
    fn unsynced_data_is_lost_and_synced_data_kept() {
        let mut m = fresh();
        let f = named_file(&mut m, "db");
        m.write(f, 0, b"acknowledged").unwrap();
        m.sync(f).unwrap();
        m.write(f, 12, b" and then more").unwrap();
        m.write(f, 0, b"ACK").unwrap();
        assert_eq!(m.read(f, 0, 100).unwrap(), b"ACKnowledged and then more");
        let img = m.power_cut(Cut::Everything);
        assert_eq!(file(&img, &["db"]).unwrap(), b"acknowledged");
        assert_eq!(
            m.read(f, 0, 1),
            Err(Errno::EIO),
            "the disk is gone after the cut"
        );
    }

    #[test]
    fn a_new_name_needs_its_directory_synced() {
        let mut m = fresh();
        let a = m
            .create(ROOT, OsStr::new("a"), 0o600, ME, false)
            .unwrap()
            .ino
            .0;
        m.write(a, 0, b"key").unwrap();
        m.sync(a).unwrap();
        let mut without = Model::new(&Image::empty(), 0, 0);
        let b = without
            .create(ROOT, OsStr::new("a"), 0o600, ME, false)
            .unwrap()
            .ino
            .0;
        without.write(b, 0, b"key").unwrap();
        without.sync(b).unwrap();
        without.sync(ROOT).unwrap();
        assert_eq!(file(&m.power_cut(Cut::Everything), &["a"]), None);
        let img = without.power_cut(Cut::Everything);
        assert_eq!(file(&img, &["a"]).unwrap(), b"key");
    }

    #[test]
    fn a_durable_name_without_synced_data_is_an_empty_file() {
        let mut m = fresh();
        let f = named_file(&mut m, "conf");
        m.write(f, 0, b"settings").unwrap();
        assert_eq!(file(&m.power_cut(Cut::Everything), &["conf"]).unwrap(), b"");
    }

    #[test]
    fn rename_and_unlink_are_undone_unless_the_directory_is_synced() {
        let mut m = fresh();
        let old = named_file(&mut m, "snap");
        m.write(old, 0, b"old").unwrap();
        m.sync(old).unwrap();
        let new = m
            .create(ROOT, OsStr::new("snap.partial"), 0o644, ME, false)
            .unwrap();
        m.write(new.ino.0, 0, b"new").unwrap();
        m.sync(new.ino.0).unwrap();
        m.rename(
            ROOT,
            OsStr::new("snap.partial"),
            ROOT,
            OsStr::new("snap"),
            false,
        )
        .unwrap();
        assert_eq!(m.lookup(ROOT, OsStr::new("snap")).unwrap().ino.0, new.ino.0);
        let mut synced = Model::new(&m.power_cut(Cut::Everything), 0, 0);
        let img = synced.power_cut(Cut::Everything);
        assert_eq!(file(&img, &["snap"]).unwrap(), b"old");
        assert_eq!(file(&img, &["snap.partial"]), None);

        let mut m = Model::new(&img, 0, 0);
        let new = m
            .create(ROOT, OsStr::new("snap.partial"), 0o644, ME, false)
            .unwrap();
        m.write(new.ino.0, 0, b"new").unwrap();
        m.sync(new.ino.0).unwrap();
        m.rename(
            ROOT,
            OsStr::new("snap.partial"),
            ROOT,
            OsStr::new("snap"),
            false,
        )
        .unwrap();
        m.sync(ROOT).unwrap();
        m.remove(ROOT, OsStr::new("snap"), false).unwrap();
        let img = m.power_cut(Cut::Everything);
        assert_eq!(
            file(&img, &["snap"]).unwrap(),
            b"new",
            "the unlink was not synced"
        );
    }

    #[test]
    fn subdirectories_need_their_own_sync_and_their_parents() {
        let mut m = fresh();
        let d = m
            .create(ROOT, OsStr::new("data"), 0o755, ME, true)
            .unwrap()
            .ino
            .0;
        let f = m
            .create(d, OsStr::new("db"), 0o644, ME, false)
            .unwrap()
            .ino
            .0;
        m.write(f, 0, b"x").unwrap();
        m.sync(f).unwrap();
        m.sync(d).unwrap();
        // `data` itself was never named durably: nothing under it survives.
        assert!(m.power_cut(Cut::Everything).root.is_empty());

        let mut m = fresh();
        let d = m
            .create(ROOT, OsStr::new("data"), 0o755, ME, true)
            .unwrap()
            .ino
            .0;
        m.sync(ROOT).unwrap();
        let f = m
            .create(d, OsStr::new("db"), 0o644, ME, false)
            .unwrap()
            .ino
            .0;
        m.write(f, 0, b"x").unwrap();
        m.sync(f).unwrap();
        let img = m.power_cut(Cut::Everything);
        assert!(
            matches!(img.root.get(OsStr::new("data")), Some(Node::Dir { entries, .. }) if entries.is_empty())
        );
    }

    #[test]
    fn truncation_is_data_too() {
        let mut m = fresh();
        let f = named_file(&mut m, "db");
        m.write(f, 0, &[7u8; 10_000]).unwrap();
        m.sync(f).unwrap();
        m.set_attr(f, None, Some(100)).unwrap();
        m.write(f, 5000, b"tail").unwrap();
        let mut copy = Model::new(&m.power_cut(Cut::Everything), 0, 0);
        assert_eq!(copy.read(2, 0, 20_000).unwrap(), vec![7u8; 10_000]);
        let _ = copy.power_cut(Cut::Everything);

        let mut m = fresh();
        let f = named_file(&mut m, "db");
        m.write(f, 0, &[7u8; 10_000]).unwrap();
        m.sync(f).unwrap();
        m.set_attr(f, None, Some(100)).unwrap();
        m.write(f, 5000, b"tail").unwrap();
        m.sync(f).unwrap();
        let img = m.power_cut(Cut::Everything);
        let data = file(&img, &["db"]).unwrap();
        assert_eq!(data.len(), 5004);
        assert!(data[..100].iter().all(|&b| b == 7));
        assert!(
            data[100..5000].iter().all(|&b| b == 0),
            "the cut bytes are gone"
        );
        assert_eq!(&data[5000..], b"tail");
    }

    #[test]
    fn a_torn_cut_keeps_some_unsynced_blocks_and_every_synced_one() {
        let mut kept_some = false;
        let mut lost_some = false;
        for seed in 1..40u64 {
            let mut m = fresh();
            let f = named_file(&mut m, "db");
            m.write(f, 0, &[1u8; 8192]).unwrap();
            m.sync(f).unwrap();
            m.write(f, 8192, &[2u8; 4 * 4096]).unwrap();
            let img = m.power_cut(Cut::Torn(seed));
            let data = file(&img, &["db"]).unwrap();
            assert!(data.len() >= 8192, "seed {seed}: synced bytes lost");
            assert!(data[..8192].iter().all(|&b| b == 1), "seed {seed}");
            let unsynced = &data[8192..];
            kept_some |= unsynced.contains(&2);
            lost_some |= unsynced.len() < 4 * 4096 || unsynced.contains(&0);
            // A kept block is whole: every block is all 2s or all 0s.
            for block in unsynced.chunks(4096) {
                assert!(block.iter().all(|&b| b == 2) || block.iter().all(|&b| b == 0));
            }
        }
        assert!(
            kept_some && lost_some,
            "a torn cut should vary with the seed"
        );
    }

    #[test]
    fn names_errors_like_posix() {
        let mut m = fresh();
        let d = m
            .create(ROOT, OsStr::new("d"), 0o755, ME, true)
            .unwrap()
            .ino
            .0;
        m.create(d, OsStr::new("f"), 0o644, ME, false).unwrap();
        assert_eq!(
            m.create(ROOT, OsStr::new("d"), 0o644, ME, false).err(),
            Some(Errno::EEXIST)
        );
        assert_eq!(m.remove(ROOT, OsStr::new("d"), true), Err(Errno::ENOTEMPTY));
        assert_eq!(m.remove(ROOT, OsStr::new("d"), false), Err(Errno::EISDIR));
        assert_eq!(
            m.rename(ROOT, OsStr::new("d"), d, OsStr::new("inside"), false),
            Err(Errno::EINVAL)
        );
        m.create(ROOT, OsStr::new("g"), 0o644, ME, false).unwrap();
        assert_eq!(
            m.rename(d, OsStr::new("f"), ROOT, OsStr::new("g"), true),
            Err(Errno::EEXIST)
        );
        m.rename(d, OsStr::new("f"), ROOT, OsStr::new("g"), false)
            .unwrap();
        assert_eq!(m.lookup(d, OsStr::new("f")).err(), Some(Errno::ENOENT));
        assert_eq!(m.list(ROOT).unwrap().len(), 4);
    }
}

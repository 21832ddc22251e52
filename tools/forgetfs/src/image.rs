//! A disk's contents after a power cut: a tree of directories and files with their bytes
//! and permissions, from which the next mount starts, and which can be written out to (or
//! read from) a real directory to look at or keep.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// One name in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A regular file.
    File {
        /// Permission bits.
        perm: u16,
        /// Contents.
        data: Vec<u8>,
    },
    /// A directory.
    Dir {
        /// Permission bits.
        perm: u16,
        /// Its names.
        entries: BTreeMap<OsString, Node>,
    },
}

/// The whole filesystem's durable contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Permission bits of the root directory.
    pub root_perm: u16,
    /// The names in the root directory.
    pub root: BTreeMap<OsString, Node>,
}

impl Image {
    /// A freshly formatted disk.
    pub fn empty() -> Image {
        Image {
            root_perm: 0o755,
            root: BTreeMap::new(),
        }
    }

    /// Bytes held in files, all told.
    pub fn bytes(&self) -> u64 {
        fn sum(entries: &BTreeMap<OsString, Node>) -> u64 {
            entries
                .values()
                .map(|n| match n {
                    Node::File { data, .. } => data.len() as u64,
                    Node::Dir { entries, .. } => sum(entries),
                })
                .sum()
        }
        sum(&self.root)
    }

    /// Writes the image into `dir` (created if missing; names already there are kept or
    /// overwritten), e.g. to keep the disk a failed test left.
    pub fn save_to(&self, dir: &Path) -> std::io::Result<()> {
        fn save(entries: &BTreeMap<OsString, Node>, dir: &Path) -> std::io::Result<()> {
            for (name, node) in entries {
                let path = dir.join(name);
                match node {
                    Node::File { perm, data } => {
                        std::fs::write(&path, data)?;
                        std::fs::set_permissions(
                            &path,
                            PermissionsExt::from_mode(u32::from(*perm)),
                        )?;
                    }
                    Node::Dir { perm, entries } => {
                        std::fs::create_dir_all(&path)?;
                        save(entries, &path)?;
                        std::fs::set_permissions(
                            &path,
                            PermissionsExt::from_mode(u32::from(*perm)),
                        )?;
                    }
                }
            }
            Ok(())
        }
        std::fs::create_dir_all(dir)?;
        save(&self.root, dir)
    }

    /// Reads a real directory tree as an image (regular files and directories only; other
    /// kinds of file are refused).
    pub fn load_from(dir: &Path) -> std::io::Result<Image> {
        fn load(dir: &Path) -> std::io::Result<BTreeMap<OsString, Node>> {
            let mut out = BTreeMap::new();
            for ent in std::fs::read_dir(dir)? {
                let ent = ent?;
                let meta = ent.metadata()?;
                let perm = (meta.permissions().mode() & 0o7777) as u16;
                let node = if meta.is_dir() {
                    Node::Dir {
                        perm,
                        entries: load(&ent.path())?,
                    }
                } else if meta.is_file() {
                    Node::File {
                        perm,
                        data: std::fs::read(ent.path())?,
                    }
                } else {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::Unsupported,
                        format!("{}: neither a file nor a directory", ent.path().display()),
                    ));
                };
                out.insert(ent.file_name(), node);
            }
            Ok(out)
        }
        let perm = (std::fs::metadata(dir)?.permissions().mode() & 0o7777) as u16;
        Ok(Image {
            root_perm: perm,
            root: load(dir)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_survives_a_trip_through_a_directory() {
        let mut sub = BTreeMap::new();
        sub.insert(
            OsString::from("db"),
            Node::File {
                perm: 0o644,
                data: vec![1, 2, 3],
            },
        );
        sub.insert(
            OsString::from("checkpoint.key"),
            Node::File {
                perm: 0o600,
                data: b"PRIVATE".to_vec(),
            },
        );
        let mut root = BTreeMap::new();
        root.insert(
            OsString::from("data"),
            Node::Dir {
                perm: 0o750,
                entries: sub,
            },
        );
        let img = Image {
            root_perm: 0o755,
            root,
        };
        let tmp = std::env::temp_dir().join(format!("forgetfs-image-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        img.save_to(&tmp).unwrap();
        let back = Image::load_from(&tmp).unwrap();
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(back.root, img.root);
        assert_eq!(back.bytes(), 10);
    }
}

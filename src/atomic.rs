//! Files that appear under their final name only when complete and durable: the state
//! snapshot, exports, proofs, checkpoints, generated districts, the watcher's state.
//!
//! Written under `<name>.partial`, flushed, fdatasync'd, renamed over the final name, and the
//! directory synced, so that after a crash a reader finds either the old file or the whole new
//! one, never a half-written file under the name it trusts.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file operation that failed, with the file it was about.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    /// The file or directory.
    pub path: PathBuf,
    /// What the OS said.
    #[source]
    pub source: std::io::Error,
}

fn on(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError {
        path: path.to_path_buf(),
        source,
    }
}

/// Syncs a directory, so the names created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir).and_then(|d| d.sync_all())
}

/// A file being written; nothing is visible under its final name until [`AtomicFile::commit`].
pub struct AtomicFile {
    out: PathBuf,
    tmp: PathBuf,
    writer: BufWriter<File>,
}

impl AtomicFile {
    /// Starts writing what will become `out`.
    pub fn create(out: &Path) -> Result<AtomicFile, FileError> {
        let mut name = out.as_os_str().to_owned();
        name.push(".partial");
        let tmp = PathBuf::from(name);
        let file = File::create(&tmp).map_err(on(&tmp))?;
        Ok(AtomicFile {
            out: out.to_path_buf(),
            tmp,
            writer: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// The temporary file's path (for messages).
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Makes the file durable and gives it its final name.
    pub fn commit(self) -> Result<(), FileError> {
        let tmp = self.tmp;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| on(&tmp)(e.into_error()))?;
        file.sync_all().map_err(on(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, &self.out).map_err(on(&self.out))?;
        let dir = match self.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir).and_then(|d| d.sync_all()).map_err(on(dir))
    }

    /// Gives up: removes the temporary file (best effort) and leaves the final name alone.
    pub fn abandon(self) {
        let tmp = self.tmp;
        drop(self.writer);
        let _ = std::fs::remove_file(tmp);
    }

    /// Writes `bytes` to `out` in one go.
    pub fn write_all(out: &Path, bytes: &[u8]) -> Result<(), FileError> {
        let mut f = AtomicFile::create(out)?;
        let tmp = f.tmp.clone();
        f.write_all(bytes).map_err(on(&tmp))?;
        f.commit()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_under_the_final_name_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export.jsonl");
        std::fs::write(&out, "old").unwrap();
        let mut f = AtomicFile::create(&out).unwrap();
        f.write_all(b"new contents").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
        assert!(dir.path().join("export.jsonl.partial").exists());
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new contents");
        assert!(!dir.path().join("export.jsonl.partial").exists());

        let f = AtomicFile::create(&out).unwrap();
        f.abandon();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "new contents");
        assert!(!dir.path().join("export.jsonl.partial").exists());

        AtomicFile::write_all(&dir.path().join("cp.txt"), b"checkpoint").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("cp.txt")).unwrap(),
            "checkpoint"
        );
    }
}

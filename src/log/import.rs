//! Restoring a store from an export: verify the whole export first, then write every entry
//! with its exact stored bytes, the Merkle nodes, the head and the idempotency records, so
//! the restored store is the same log (same size, head hash and root) and a server started
//! on it answers retries of old appends as the original did.
//!
//! The keys and values written are the writer's own ([`entry_key`], [`stage_nodes`],
//! [`request_key`], [`RequestRecord`]) and every batch goes through [`Store::commit`], so the
//! durability contract and the key layout live in one place. Batches end on append
//! boundaries, so a restore cut short never leaves an entry without its idempotency record.
//! Each batch's head counts the first entry of the next append, which the batch does not
//! hold, so a store cut between batches does not verify (its head is one entry past its
//! entries): the known limit of `docs/RELIABILITY.md` "Restore into a fresh store", which
//! `tests/power_loss.rs` asserts.

use std::io::BufRead;

use super::entry::Entry;
use super::export::{ExportError, Line, parse_hash, read_header, verify_export};
use super::groups::RequestGroups;
use super::store::{Head, Store, StoreError, entry_key, stage_nodes};
use super::verify::{Failure, Verifier};
use crate::crypto::Profile;
use crate::merkle::CompactRange;

/// Entries per durable commit while restoring (rounded up to the end of an append).
const ENTRIES_PER_COMMIT: usize = 4096;

/// Why a restore could not run, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The export could not be read, or is not an export.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target store already holds something: a restore only goes into a fresh store.
    #[error("the store is not empty ({0}); restore into a fresh data directory")]
    NotEmpty(String),
    /// The export changed between the verifying pass and the writing pass.
    #[error(
        "the export changed while it was restored (entry {0}); the store holds a partial log: delete it and restore again"
    )]
    Changed(u64),
}

/// What a restore wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// The restored store's head (equal to the export's header).
    pub head: Head,
    /// Idempotency records written (one per append found in the log).
    pub requests: u64,
}

/// Refuses a store that holds anything at all (entries, head, records or nodes).
pub fn check_empty(store: &Store) -> Result<(), ImportError> {
    let head = store.stored_head()?;
    if head.size != 0 {
        return Err(ImportError::NotEmpty(format!("{} entries", head.size)));
    }
    if !store.is_empty() {
        return Err(ImportError::NotEmpty("it holds records".into()));
    }
    Ok(())
}

/// Restores an export into the empty `store`.
///
/// `open` opens the export (called twice: one pass to verify it completely, one to write).
/// `canonical` maps a stored payload to the form its append was fingerprinted with (the
/// ledger fingerprints events without their history links); the log itself does not know
/// what a payload means. `progress` gets the number of entries written so far.
///
/// Returns `Ok(Err(failure))`, writing nothing, when the export does not verify.
pub fn import_export(
    open: &mut dyn FnMut() -> std::io::Result<Box<dyn BufRead>>,
    store: &Store,
    canonical: &dyn Fn(&str) -> String,
    verify_progress: &mut dyn FnMut(u64),
    progress: &mut dyn FnMut(u64),
) -> Result<Result<Imported, Failure>, ImportError> {
    check_empty(store)?;
    let mut input = open().map_err(ExportError::from)?;
    if let Err(f) = verify_export(&mut input, verify_progress, &mut |_| {})? {
        return Ok(Err(f));
    }
    drop(input);
    let mut input = open().map_err(ExportError::from)?;
    let header = read_header(&mut input)?;
    let profile = header.profile()?;
    if profile != store.profile() {
        return Err(ImportError::Store(StoreError::ProfileMismatch {
            dir: store.dir().to_path_buf(),
            recorded: store.profile(),
            wanted: profile,
        }));
    }
    let expected = Head {
        size: header.size,
        hash: parse_hash("head_hash", &header.head_hash).map_err(ExportError::BadHeader)?,
        root: parse_hash("root", &header.root).map_err(ExportError::BadHeader)?,
    };
    let mut w = Restorer {
        store,
        canonical,
        verifier: Verifier::new(profile),
        tree: CompactRange::new(profile),
        batch: sled::Batch::default(),
        in_batch: 0,
        groups: RequestGroups::default(),
    };
    let mut buf = String::new();
    loop {
        buf.clear();
        if input.read_line(&mut buf).map_err(ExportError::from)? == 0 {
            break;
        }
        let at = w.verifier.head().size;
        let text = buf.strip_suffix('\n').unwrap_or(&buf);
        let entry = serde_json::from_str::<Line>(text)
            .map_err(|_| ImportError::Changed(at))?
            .to_entry()
            .map_err(|_| ImportError::Changed(at))?;
        w.push(&entry)?;
        progress(entry.seq + 1);
    }
    w.groups.end(&mut w.batch);
    w.commit()?;
    let Restorer {
        verifier, groups, ..
    } = w;
    let at = verifier.head().size;
    let verified = verifier
        .finish(Some(expected))
        .map_err(|_| ImportError::Changed(at))?;
    Ok(Ok(Imported {
        head: verified.head,
        requests: groups.written,
    }))
}

struct Restorer<'a> {
    store: &'a Store,
    canonical: &'a dyn Fn(&str) -> String,
    verifier: Verifier,
    tree: CompactRange<Profile>,
    batch: sled::Batch,
    in_batch: usize,
    groups: RequestGroups,
}

impl Restorer<'_> {
    fn push(&mut self, entry: &Entry) -> Result<(), ImportError> {
        let meta = entry.meta();
        self.verifier
            .check_parsed(entry, &meta)
            .map_err(|f| ImportError::Changed(f.seq))?;
        // Commits end at an append's end, so a restore cut short never leaves an entry
        // without its idempotency record.
        let canonical = self.canonical;
        if self
            .groups
            .push(entry.seq, meta.as_ref().ok(), canonical, &mut self.batch)
            && self.in_batch >= ENTRIES_PER_COMMIT
        {
            self.commit()?;
        }
        self.batch
            .insert(&entry_key(entry.seq)[..], entry.to_stored());
        let nodes = self
            .tree
            .append(&entry.hash)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        stage_nodes(&mut self.batch, &nodes);
        self.in_batch += 1;
        Ok(())
    }

    /// Commits the batch with the head so far.
    fn commit(&mut self) -> Result<(), ImportError> {
        if self.in_batch == 0 {
            return Ok(());
        }
        let v = self.verifier.head();
        let head = Head {
            size: v.size,
            hash: v.hash,
            root: self.tree.root(),
        };
        let batch = std::mem::take(&mut self.batch);
        self.store.commit(batch, head)?;
        self.in_batch = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::Arc;

    use super::*;
    use crate::log::export::export_store;

    /// A store written by the real writer: appends of 1, 3 and 5000 entries (the last spans
    /// more than one restore batch), from two actors.
    fn original(dir: &std::path::Path) -> Arc<Store> {
        crate::log::written_store(dir, &[("hr", "a", 1), ("hr", "b", 3), ("ops", "a", 5000)])
    }

    fn export_of(store: &Store) -> Vec<u8> {
        let mut out = Vec::new();
        let head = store.check_head().unwrap();
        export_store(store, head, &mut out, &mut |_| {}).unwrap();
        out
    }

    fn restore(bytes: &[u8], store: &Store) -> Result<Result<Imported, Failure>, ImportError> {
        let mut open =
            || -> std::io::Result<Box<dyn BufRead>> { Ok(Box::new(Cursor::new(bytes.to_vec()))) };
        import_export(
            &mut open,
            store,
            &|p: &str| p.to_owned(),
            &mut |_| {},
            &mut |_| {},
        )
    }

    #[test]
    fn restored_store_holds_the_same_records_byte_for_byte() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let orig = original(a.path());
        let bytes = export_of(&orig);
        let copy = Store::open(b.path()).unwrap();
        let done = restore(&bytes, &copy).unwrap().unwrap();
        assert_eq!(done.head, orig.check_head().unwrap());
        assert_eq!(done.requests, 3);
        assert_eq!(copy.check_head().unwrap(), done.head);
        // Entries, Merkle nodes, head and idempotency records: all identical.
        assert_eq!(copy.all_records(), orig.all_records());
    }

    #[test]
    fn a_tampered_export_writes_nothing_and_a_full_store_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let orig = original(a.path());
        let bytes = export_of(&orig);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let bad = text.replacen("{\\\"n\\\":3}", "{\\\"n\\\":9}", 1);
        assert_ne!(bad, text);
        let copy = Store::open(b.path()).unwrap();
        let failure = restore(bad.as_bytes(), &copy).unwrap().unwrap_err();
        assert_eq!(failure.seq, 2);
        assert!(copy.is_empty());
        restore(&bytes, &copy).unwrap().unwrap();
        assert!(matches!(
            restore(&bytes, &copy),
            Err(ImportError::NotEmpty(_))
        ));
    }
}

//! Personal data through the ledger's door: opening sealed fields for a caller (each reveal
//! recorded, durably, before the answer leaves) and reading the access record.

use super::{Ledger, LedgerError, StorageError, StorageKind, io_kind};
use crate::domain::personal::Personal;
use crate::privacy::{Access, AccessError, Privacy, Revealed};

/// One personal field to open: the teacher, the field name, the value as the log holds it.
pub type Field<'a> = (&'a str, &'static str, &'a Personal);

/// Who is asking, for the access record.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// The token's name.
    pub actor: &'a str,
    /// Its role.
    pub role: &'a str,
    /// The door: `grpc TeacherHistory`, `console`, ...
    pub via: &'a str,
}

fn access_error(e: AccessError) -> LedgerError {
    let kind = match &e {
        AccessError::Io { source, .. } => io_kind(source),
        AccessError::Damaged { .. } => StorageKind::Corrupt,
    };
    LedgerError::Storage(StorageError::new(kind, "the access record", e))
}

impl Ledger {
    /// The key store and the access record.
    pub fn privacy(&self) -> &Privacy {
        &self.privacy
    }

    /// Opens `fields` for `reader`: the text of each (`None` once erased, and always on a
    /// mirror). Every field shown
    /// is recorded in the access record (one record for the call), and synced, before this
    /// returns; if it cannot be recorded, nothing is shown.
    pub fn reveal(
        &self,
        reader: Reader<'_>,
        fields: &[Field<'_>],
    ) -> Result<Vec<Option<String>>, LedgerError> {
        // A mirror holds no data keys: it shows no personal field (and so records no reveal);
        // they open only on the primary.
        if self.mirror.is_some() {
            return Ok(vec![None; fields.len()]);
        }
        let mut out = Vec::with_capacity(fields.len());
        let mut teachers: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (teacher, field, value) in fields {
            let shown = match self.privacy.reveal(teacher, field, value) {
                Ok(Revealed::Text(t)) => Some(t),
                Ok(Revealed::Erased) => None,
                Err(e) => {
                    return Err(LedgerError::Storage(StorageError::new(
                        StorageKind::Corrupt,
                        format!("the {field} of {teacher} does not open with its data key"),
                        e,
                    )));
                }
            };
            if shown.is_some() {
                if !teachers.iter().any(|t| t == teacher) {
                    teachers.push((*teacher).to_owned());
                }
                if !names.iter().any(|f| f == field) {
                    names.push((*field).to_owned());
                }
            }
            out.push(shown);
        }
        if !teachers.is_empty() {
            self.privacy
                .access
                .record(
                    reader.actor,
                    reader.role,
                    reader.via,
                    teachers,
                    names,
                    chrono::Utc::now(),
                )
                .map_err(access_error)?;
        }
        Ok(out)
    }

    /// Every reveal recorded so far, the chain checked.
    pub fn access_record(&self) -> Result<Vec<Access>, LedgerError> {
        self.privacy.access.all().map_err(access_error)
    }
}

/// Most key-store records one `Audit.ReadDataKeys` answer carries (1 MiB).
pub const DATA_KEY_RECORDS_PER_ANSWER: usize = 4096;

/// Records of the key store, as a standby copies them (`Audit.ReadDataKeys`).
#[derive(Debug, Clone)]
pub struct DataKeyRecords {
    /// The id of the master key that wraps them (the key store header's bytes 16..32).
    pub master_key_id: [u8; 16],
    /// The index of the first record.
    pub from: u64,
    /// The records, exactly as stored (zeros where a key was erased).
    pub records: Vec<[u8; crate::privacy::keystore::RECORD]>,
    /// The records the store holds in all.
    pub total: u64,
}

fn keys_error(what: &str, e: crate::privacy::KeyStoreError) -> LedgerError {
    let kind = match &e {
        crate::privacy::KeyStoreError::Io { source, .. } => io_kind(source),
        _ => StorageKind::Corrupt,
    };
    LedgerError::Storage(StorageError::new(kind, what.to_owned(), e))
}

impl Ledger {
    /// Up to [`DATA_KEY_RECORDS_PER_ANSWER`] durable records of the primary's key store from
    /// index `from` on, for a standby mirror that holds the same master key (docs/MIRRORS.md,
    /// "Personal-data keys on a standby"). Each is wrapped by the master key: without it they
    /// open nothing.
    /// With `asker_master` (the asker's own master key id, when it says it), no record is
    /// sent to an asker whose master key is another: they would open nothing there.
    pub fn data_key_records(
        &self,
        from: u64,
        asker_master: Option<&[u8]>,
    ) -> Result<DataKeyRecords, LedgerError> {
        self.primary_only("read the data keys on the primary")?;
        let keys = &self.privacy.keys;
        let total = keys.slots();
        let other = asker_master.is_some_and(|m| !m.is_empty() && m != keys.master_id());
        let records = if other {
            Vec::new()
        } else {
            keys.records(from, DATA_KEY_RECORDS_PER_ANSWER)
                .map_err(|e| keys_error("reading the data keys", e))?
        };
        Ok(DataKeyRecords {
            master_key_id: keys.master_id(),
            from,
            records,
            total,
        })
    }

    /// The id of the master key this ledger's key store is wrapped by.
    pub fn data_key_master_id(&self) -> [u8; 16] {
        self.privacy.keys.master_id()
    }

    /// Records this ledger's key store holds (live or erased).
    pub fn data_key_slots(&self) -> u64 {
        self.privacy.keys.slots()
    }

    /// Keys held in this ledger's key store.
    pub fn data_keys_held(&self) -> usize {
        self.privacy.keys.len()
    }

    /// A mirror's copy of its primary's key-store records from index `from` on, wrapped by the
    /// master key this mirror holds too: each checked (it must unwrap), appended and synced.
    /// A copied key of a teacher whose erasure this mirror already holds is destroyed at once
    /// (the primary destroys its own a moment after the erasure is durable; a copy taken in
    /// that moment must not outlive it). Returns how many keys were added.
    pub fn copy_data_keys(&self, from: u64, records: &[Vec<u8>]) -> Result<usize, LedgerError> {
        if self.mirror.is_none() {
            return Err(LedgerError::Unavailable(
                "only a mirror copies another ledger's data keys".into(),
            ));
        }
        let keys = &self.privacy.keys;
        let added = keys
            .append_copied(from, records)
            .map_err(|e| keys_error("copying the primary's data keys", e))?;
        if !added.is_empty() {
            let erased = self.snapshot().state.erased_teachers();
            for t in added
                .iter()
                .filter(|t| erased.iter().any(|e| e.as_str() == t.as_str()))
            {
                keys.erase(t)
                    .map_err(|e| keys_error("erasing a copied data key", e))?;
            }
        }
        Ok(added.len())
    }
}

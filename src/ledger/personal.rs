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

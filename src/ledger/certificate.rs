//! Making a rotation certificate (`crate::certificate`): every entry about a teacher in the
//! view's log prefix, each with its inclusion proof, one signed checkpoint over exactly that
//! prefix, and the statement signed with the checkpoint key.
//!
//! **Contract.** A certificate MUST verify before it leaves: [`Ledger::certificate`] checks
//! what it made with the ledger's own verifier key (the check an auditor runs), so a broken
//! chain or proof in the store is reported as the ledger's fault, never handed out.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::value::RawValue;

use super::{Ledger, LedgerError, StorageError, View};
use crate::certificate::{
    CERTIFICATE_VERSION, CertEntry, Certificate, Head, STATEMENT_FORMAT, Statement, verify,
};

/// What the caller's answer adds to the entries: the summary (the JSON form of the
/// TeacherHistory summary, as the caller may see it) and the names of its schools.
#[derive(Debug, Clone)]
pub struct CertificateAnswer {
    /// The summary, JSON text.
    pub summary: String,
    /// School names by id.
    pub schools: BTreeMap<String, String>,
}

impl Ledger {
    /// A certificate for `teacher` over the view's log prefix, its summary as of `as_of`.
    pub fn certificate(
        &self,
        view: &View,
        teacher: &str,
        as_of: NaiveDate,
        answer: CertificateAnswer,
    ) -> Result<Certificate, LedgerError> {
        self.primary_only("a certificate is signed by the primary; ask it there")?;
        let size = view.size();
        self.check_readable(size)?;
        let history = view.teacher_history(teacher, as_of)?;
        let Some(last) = history.entries.last() else {
            return Err(LedgerError::NotFound(format!(
                "no entry is about teacher {teacher}"
            )));
        };
        let latest = self.checkpoint();
        let checkpoint = if latest.checkpoint.size == size {
            (*latest).clone()
        } else {
            self.checkpoint_at(size)?
        };
        let mut entries = Vec::with_capacity(history.entries.len());
        for h in &history.entries {
            let e = self.entry(h.seq)?;
            let proof = self.inclusion_proof(h.seq, size)?;
            let body = String::from_utf8(e.body).map_err(|_| {
                StorageError::internal(format!("entry {}", h.seq), "the stored body is not UTF-8")
            })?;
            entries.push(CertEntry {
                seq: e.seq,
                prev_hash: hex::encode(e.prev_hash),
                hash: hex::encode(e.hash),
                body,
                proof: proof.iter().map(hex::encode).collect(),
            });
        }
        let summary = RawValue::from_string(answer.summary)
            .map_err(|e| StorageError::internal("the certificate's summary", e))?;
        let statement = Statement {
            format: STATEMENT_FORMAT.into(),
            version: CERTIFICATE_VERSION,
            origin: checkpoint.checkpoint.origin.clone(),
            size,
            root: hex::encode(checkpoint.checkpoint.root),
            teacher: teacher.to_owned(),
            as_of: as_of.format("%Y-%m-%d").to_string(),
            entries: history.entries.len() as u64,
            head: Head {
                seq: last.seq,
                hash: hex::encode(last.hash),
            },
            schools: answer.schools,
            summary,
        };
        let cert = Certificate::sign(&self.key, &checkpoint, &statement, entries)
            .map_err(|e| StorageError::internal("signing the certificate", e))?;
        let json = cert
            .to_json()
            .map_err(|e| StorageError::internal("writing the certificate", e))?;
        verify(json.as_bytes(), &self.verifier_key()).map_err(|e| {
            StorageError::internal(
                format!("the certificate of {teacher} does not verify"),
                e.to_string(),
            )
        })?;
        Ok(cert)
    }
}

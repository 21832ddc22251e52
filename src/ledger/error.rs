//! What the ledger can refuse or fail with, typed so that each face can tell a caller how to
//! react: fix the request, retry the same request later, free disk space, or stop and call
//! the operator because stored data is damaged.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::domain::query::QueryError;
use crate::domain::rules::Rejection;
use crate::log::{Failure, StoreError};
use crate::merkle::TreeError;

/// Everything a caller of the ledger can be told "no" about.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Malformed input: which event (if any), which field, what is wrong.
    #[error("{}{field}: {problem}", index.map(|i| format!("event {i}: ")).unwrap_or_default())]
    Input {
        /// The event's index in the append.
        index: Option<usize>,
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A rule refused the append.
    #[error("event {index}: rule {rule}: {message}")]
    Rejected {
        /// The event's index in the append.
        index: usize,
        /// The rule's stable code.
        rule: String,
        /// What a person should know.
        message: String,
        /// The values involved.
        values: Vec<(String, String)>,
    },
    /// The request id was used for another append.
    #[error(
        "request id {request_id:?} was already used for a different append (entries {first_seq}..{end})"
    )]
    RequestIdConflict {
        /// The reused id.
        request_id: String,
        /// Where the original append starts.
        first_seq: u64,
        /// One past its last entry.
        end: u64,
    },
    /// Optimistic concurrency failed.
    #[error("expected the log to hold {expected} entries, it holds {actual}")]
    UnexpectedSize {
        /// What the client expected.
        expected: u64,
        /// What the log holds.
        actual: u64,
    },
    /// Something asked for does not exist (yet).
    #[error("{0}")]
    NotFound(String),
    /// A position or range outside the log.
    #[error("{0}")]
    OutOfRange(String),
    /// The store, a file or the signing key failed; what kind of failure says how a caller
    /// should react ([`StorageKind`]).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The ledger is not accepting appends.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// This ledger is a mirror: appends (and whatever else only the primary can do) go to
    /// the primary it names.
    #[error("this server is a read-only mirror of {primary}: {what}")]
    Mirror {
        /// The primary's address, as the mirror follows it.
        primary: String,
        /// What to do there instead.
        what: String,
    },
    /// A witness's cosignature that this ledger does not keep: not a configured witness, or
    /// another checkpoint of the same size is being cosigned.
    #[error("witness: {0}")]
    Witness(String),
    /// The stored log does not verify: the first bad entry and what is wrong. Opening refuses
    /// such a log; nothing repairs it.
    #[error("the log does not verify: first bad entry {}: {}", .0.seq, .0.problem)]
    Corrupt(Failure),
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Storage(StorageError::store("the store", e))
    }
}

/// What kind of storage failure happened, which decides the answer a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Stored data is damaged or missing (a record of the wrong shape, an entry that is not
    /// there, sled's own corruption check): retrying cannot help (`DATA_LOSS`).
    Corrupt,
    /// The disk or the user's quota is full: retry once space is freed (`RESOURCE_EXHAUSTED`).
    Full,
    /// An I/O error that may pass (a failed write or sync): retry later with the same request
    /// id (`UNAVAILABLE`).
    Transient,
    /// A fault of the server itself (signing failed, a thread could not start, sled reported
    /// a bug): not the caller's to retry (`INTERNAL`).
    Internal,
}

impl fmt::Display for StorageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageKind::Corrupt => "stored data damaged",
            StorageKind::Full => "disk full",
            StorageKind::Transient => "I/O error",
            StorageKind::Internal => "internal fault",
        })
    }
}

/// A storage failure: what was being done, what kind of failure it is, and the error below.
#[derive(Debug)]
pub struct StorageError {
    /// How a caller should react.
    pub kind: StorageKind,
    /// What the ledger was doing (`reading entry 7`, `signing a checkpoint`).
    pub context: String,
    /// The error below, if there is one.
    pub source: Option<Box<dyn StdError + Send + Sync>>,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.context, self.kind)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl StdError for StorageError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// The kind of an I/O error: a full disk or quota, or one that may pass.
pub fn io_kind(e: &io::Error) -> StorageKind {
    /// ENOSPC and EDQUOT on Linux, for errors that reach here without a mapped kind.
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => StorageKind::Full,
        _ if matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT)) => StorageKind::Full,
        _ => StorageKind::Transient,
    }
}

/// The kind of a store error.
pub fn store_kind(e: &StoreError) -> StorageKind {
    match e {
        StoreError::Sled(sled::Error::Io(io)) => io_kind(io),
        StoreError::Sled(sled::Error::Corruption { .. }) => StorageKind::Corrupt,
        StoreError::Sled(_) => StorageKind::Internal,
        StoreError::Io { source, .. } => io_kind(source),
        StoreError::Corrupt(_) => StorageKind::Corrupt,
        // Asked for the wrong profile: a configuration fault, no retry helps.
        StoreError::ProfileMismatch { .. } | StoreError::Profile(_) => StorageKind::Internal,
    }
}

impl StorageError {
    /// A failure of kind `kind` while doing `context`, caused by `source`.
    pub fn new(
        kind: StorageKind,
        context: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> StorageError {
        StorageError {
            kind,
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// A failure with no error below it (`entry 7 is missing from the store`).
    pub fn bare(kind: StorageKind, context: impl Into<String>) -> StorageError {
        StorageError {
            kind,
            context: context.into(),
            source: None,
        }
    }

    /// A store error while doing `context`, of the kind the error says.
    pub fn store(context: impl Into<String>, e: StoreError) -> StorageError {
        StorageError::new(store_kind(&e), context, e)
    }

    /// A Merkle computation over the store's nodes failed: the store's own error decides the
    /// kind; a tree the store cannot describe is damaged.
    pub fn tree(context: impl Into<String>, e: TreeError<StoreError>) -> StorageError {
        let kind = match &e {
            TreeError::Source { source, .. } => store_kind(source),
            _ => StorageKind::Corrupt,
        };
        StorageError::new(kind, context, e)
    }

    /// A fault of the server itself.
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> StorageError {
        StorageError::new(StorageKind::Internal, context, source)
    }
}

impl From<Rejection> for LedgerError {
    fn from(r: Rejection) -> Self {
        LedgerError::Rejected {
            index: r.index,
            rule: r.rule.to_owned(),
            message: r.message,
            values: r.values,
        }
    }
}

impl From<QueryError> for LedgerError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::UnknownSchool(_)
            | QueryError::UnknownGroup(_)
            | QueryError::UnknownTeacher(_)
            | QueryError::NoHomePost { .. } => LedgerError::NotFound(e.to_string()),
            QueryError::NoQuotaDuty { .. } => LedgerError::Input {
                index: None,
                field: "school".into(),
                problem: e.to_string(),
            },
            QueryError::YearOutOfRange(_) => LedgerError::Input {
                index: None,
                field: "school_year".into(),
                problem: e.to_string(),
            },
        }
    }
}

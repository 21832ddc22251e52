//! A mirror's ledger: a read-only copy of a primary's log (`serve --follow`, docs/MIRRORS.md).
//!
//! The follower (`crate::mirror`) fetches the primary's entries and signed checkpoints and
//! hands each verified part to [`Ledger::replicate`]; the writer checks again that the entries
//! continue this log and lead to the signed root, stores them exactly as the primary did
//! (same hashes, same Merkle nodes, the same idempotency records) with the primary's signed
//! checkpoint over the new size (an attestation, FORMAT.md §1.12), and folds them into the
//! domain state as a replay would. Everything the services answer then comes from this
//! ledger's own store and state, at its own head.
//!
//! **Contracts.**
//! - A mirror appends nothing of its own: [`Ledger::append`] is refused with
//!   [`LedgerError::Mirror`], naming the primary.
//! - It signs nothing: the checkpoints it serves are the primary's, as verified and stored
//!   with the entries they cover, so they hold only at the sizes it committed at.
//! - An entry is served only once it is durable here together with a checkpoint of the
//!   primary that covers it and whose root this ledger computed from its own entries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;

use super::{Ledger, LedgerError, StorageError, StorageKind};
use crate::log::{Entry, Head, Replica, ReplicaError};
use crate::merkle::{SignedCheckpoint, VerifierKey};

/// File (in a mirror's data directory) holding the primary's checkpoint verifier key, pinned
/// on the first contact (or given with `--follow-key`).
pub const PRIMARY_KEY_FILE: &str = "primary.pub";

/// File (in a mirror's data directory) holding the id it reports to its primary under
/// (`serve --sync-mirrors` on the primary counts mirrors by it), made on its first start.
pub const MIRROR_ID_FILE: &str = "mirror.id";

/// How a mirror stands with its primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorStatus {
    /// Not in touch with the primary since this start (yet): serving what it holds.
    Connecting,
    /// In touch with the primary and copying its new entries as they come.
    Following,
    /// Not following: serving the last verified state, which may lag the primary.
    Stale {
        /// Why, for a person.
        reason: String,
        /// True when the primary showed a history inconsistent with this copy: the mirror
        /// stopped following for good (until an operator decides).
        fork: bool,
        /// Where the evidence of a fork was written.
        evidence: Option<PathBuf>,
    },
}

impl MirrorStatus {
    /// Why the mirror is stale or forked, and where the evidence of a fork is.
    pub fn reason(&self) -> Option<(&str, Option<&Path>)> {
        match self {
            MirrorStatus::Stale {
                reason, evidence, ..
            } => Some((reason, evidence.as_deref())),
            _ => None,
        }
    }

    /// One word for logs, metrics and health: `connecting`, `following`, `stale`, `forked`.
    pub fn word(&self) -> &'static str {
        match self {
            MirrorStatus::Connecting => "connecting",
            MirrorStatus::Following => "following",
            MirrorStatus::Stale { fork: false, .. } => "stale",
            MirrorStatus::Stale { fork: true, .. } => "forked",
        }
    }
}

/// What a mirror ledger knows of its primary.
#[derive(Debug)]
pub struct Mirror {
    /// The primary's address, as followed (named in every refusal).
    pub primary: String,
    dir: PathBuf,
    key: ArcSwapOption<VerifierKey>,
    status: tokio::sync::watch::Sender<MirrorStatus>,
    /// The size of the primary's latest checkpoint the mirror saw (0: none yet).
    primary_size: AtomicU64,
    /// The id this mirror reports its durable size under ([`MIRROR_ID_FILE`]).
    id: String,
    /// The primary refused the last report (logged once, not at every part).
    report_refused: std::sync::atomic::AtomicBool,
    /// Why the primary's data keys are not being copied (None: copied, or not tried yet).
    keys_note: std::sync::Mutex<Option<String>>,
}

/// The mirror's id: read from [`MIRROR_ID_FILE`], or made (16 random hex digits) and written
/// durably on the first start, so a restarted mirror reports as the same mirror.
fn mirror_id(dir: &Path) -> Result<String, LedgerError> {
    let path = dir.join(MIRROR_ID_FILE);
    let io = |e: std::io::Error| -> LedgerError {
        StorageError::new(super::io_kind(&e), format!("{}", path.display()), e).into()
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| StorageError::internal("making the mirror's id", e.to_string()))?;
    let id = hex::encode(bytes);
    crate::atomic::AtomicFile::write_all(&path, format!("{id}\n").as_bytes())
        .map_err(|e| StorageError::internal("writing the mirror's id", e))?;
    Ok(id)
}

impl Mirror {
    /// A mirror of `primary` whose data directory is `dir`; the primary's key is read from
    /// [`PRIMARY_KEY_FILE`] if it was pinned before.
    pub(super) fn open(primary: String, dir: &Path) -> Result<Mirror, LedgerError> {
        let path = dir.join(PRIMARY_KEY_FILE);
        let key = match std::fs::read_to_string(&path) {
            Ok(text) => Some(Arc::new(text.trim().parse::<VerifierKey>().map_err(
                |e| StorageError::new(StorageKind::Corrupt, format!("{}", path.display()), e),
            )?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(StorageError::new(
                    super::io_kind(&e),
                    format!("{}", path.display()),
                    e,
                )
                .into());
            }
        };
        // A fork recorded before stays a fork: the mirror does not follow again until an
        // operator has moved the data directory aside (docs/MIRRORS.md).
        let status = match recorded_fork(dir) {
            Some(evidence) => MirrorStatus::Stale {
                reason: format!(
                    "a fork of the primary was recorded in {}; this mirror does not follow it \
                     again (docs/MIRRORS.md, \"A fork\")",
                    evidence.display()
                ),
                fork: true,
                evidence: Some(evidence),
            },
            None => MirrorStatus::Connecting,
        };
        Ok(Mirror {
            primary,
            dir: dir.to_path_buf(),
            key: ArcSwapOption::new(key),
            status: tokio::sync::watch::Sender::new(status),
            primary_size: AtomicU64::new(0),
            id: mirror_id(dir)?,
            report_refused: std::sync::atomic::AtomicBool::new(false),
            keys_note: std::sync::Mutex::new(None),
        })
    }

    /// The id this mirror reports its durable size to the primary under.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records whether the primary refused the last report; true when that is news (the
    /// first refusal after an accepted report), so it is logged once.
    pub fn report_refused(&self, refused: bool) -> bool {
        self.report_refused.swap(refused, Ordering::Relaxed) != refused && refused
    }

    /// Records why the primary's data keys are not copied (`None`: they are); true when the
    /// reason changed to a new one (for saying it once).
    pub fn keys_note(&self, why: Option<String>) -> bool {
        let mut note = self.keys_note.lock().unwrap_or_else(|p| p.into_inner());
        let changed = *note != why && why.is_some();
        *note = why;
        changed
    }

    /// Why the primary's data keys are not being copied, if they are not.
    pub fn keys_not_copied(&self) -> Option<String> {
        self.keys_note
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The primary's checkpoint key, once pinned.
    pub fn primary_key(&self) -> Option<Arc<VerifierKey>> {
        self.key.load_full()
    }

    /// Pins `key` as the primary's: written to [`PRIMARY_KEY_FILE`] (durably) the first
    /// time. A different key than the one pinned is refused: a primary whose key changed is
    /// not the log this mirror copies.
    pub fn pin_key(&self, key: &VerifierKey) -> Result<(), LedgerError> {
        if let Some(pinned) = self.key.load_full() {
            if pinned.to_string() == key.to_string() {
                return Ok(());
            }
            return Err(LedgerError::Mirror {
                primary: self.primary.clone(),
                what: format!(
                    "its checkpoint key is {key}, but this mirror copies the log signed by {pinned} \
                     ({}); a log under another key is another log",
                    self.dir.join(PRIMARY_KEY_FILE).display()
                ),
            });
        }
        let path = self.dir.join(PRIMARY_KEY_FILE);
        crate::atomic::AtomicFile::write_all(&path, format!("{key}\n").as_bytes()).map_err(
            |e| StorageError::new(StorageKind::Transient, format!("{}", path.display()), e),
        )?;
        self.key.store(Some(Arc::new(key.clone())));
        Ok(())
    }

    /// How the mirror stands now.
    pub fn status(&self) -> MirrorStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every change of [`Mirror::status`] (the server's health).
    pub fn watch_status(&self) -> tokio::sync::watch::Receiver<MirrorStatus> {
        self.status.subscribe()
    }

    /// Records the size of the primary's latest checkpoint, as seen (verified).
    pub fn seen_primary(&self, size: u64) {
        self.primary_size.fetch_max(size, Ordering::Relaxed);
    }

    /// The size of the primary's latest checkpoint seen since this start (0: none yet).
    pub fn primary_size(&self) -> u64 {
        self.primary_size.load(Ordering::Relaxed)
    }

    /// Records how the mirror stands (the follower's job).
    pub fn set_status(&self, status: MirrorStatus) {
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }
}

/// The first fork evidence file in `dir` (`fork-evidence-*.json`), if any.
fn recorded_fork(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("fork-evidence-") && n.ends_with(".json"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

impl Ledger {
    /// What this ledger knows of its primary, when it is a mirror (`serve --follow`).
    pub fn mirror(&self) -> Option<&Mirror> {
        self.mirror.as_deref()
    }

    /// Refuses what only the primary does, on a mirror: `what` says what to do there.
    pub(super) fn primary_only(&self, what: &str) -> Result<(), LedgerError> {
        match &self.mirror {
            Some(m) => Err(LedgerError::Mirror {
                primary: m.primary.clone(),
                what: what.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// Stores the next part of the primary's log: `entries` (whole appends, starting at this
    /// ledger's size) with `checkpoint`, the primary's checkpoint over the log ending with
    /// them, whose signature the caller verified with the pinned key. The writer refuses
    /// them unless every entry continues this log and the Merkle root over them is the one
    /// signed; nothing of a refused part is stored. Returns the new head once durable.
    pub async fn replicate(
        &self,
        entries: Vec<Entry>,
        checkpoint: &SignedCheckpoint,
    ) -> Result<Head, LedgerError> {
        if self.mirror.is_none() {
            return Err(LedgerError::Unavailable(
                "only a mirror stores another log's entries".into(),
            ));
        }
        self.check_integrity()?;
        let end = self.head().size + entries.len() as u64;
        if checkpoint.checkpoint.size != end {
            return Err(LedgerError::OutOfRange(format!(
                "a checkpoint over {} entries does not end a part that ends at {end}",
                checkpoint.checkpoint.size
            )));
        }
        let replica = Replica {
            entries,
            root: checkpoint.checkpoint.root,
            attestation: checkpoint.to_text().into_bytes(),
        };
        // What the primary sent does not hold is an input error (the follower treats it as
        // a fork), never `Corrupt`, which says this ledger's own store is damaged.
        self.writer.replicate(replica).await.map_err(|e| match e {
            ReplicaError::Invalid(_) => LedgerError::Input {
                index: None,
                field: "entries".into(),
                problem: e.to_string(),
            },
            ReplicaError::Root { .. } => LedgerError::Input {
                index: None,
                field: "root".into(),
                problem: e.to_string(),
            },
            ReplicaError::Storage(s) => LedgerError::Storage(StorageError::new(
                super::store_kind(&s),
                "committing replicated entries",
                s,
            )),
            ReplicaError::Unavailable(m) => LedgerError::Unavailable(m),
        })
    }

    /// On a mirror: the primary's checkpoint over exactly `size` entries, as stored with
    /// them; an error naming the nearest one below when it holds none at that size.
    pub(super) fn attested(&self, size: u64) -> Result<SignedCheckpoint, LedgerError> {
        let store = self.store();
        let corrupt = |e: crate::merkle::CheckpointError| {
            StorageError::new(
                StorageKind::Corrupt,
                format!("the stored checkpoint over {size} entries"),
                e,
            )
        };
        if let Some(text) = store.attestation(size)? {
            return Ok(SignedCheckpoint::parse_bytes(&text).map_err(corrupt)?);
        }
        let nearest = store.attestation_at_most(size)?.map(|(at, _)| at);
        let primary = self.mirror.as_ref().map(|m| m.primary.clone());
        Err(LedgerError::Mirror {
            primary: primary.unwrap_or_default(),
            what: match (size, nearest) {
                (0, _) | (_, None) if self.head().size == 0 => {
                    "it holds no checkpoint of its primary yet (it has copied nothing)".into()
                }
                (_, Some(n)) => format!(
                    "it holds its primary's signed checkpoints only at the sizes it copied at \
                     (the nearest at or below {size} is {n}); ask the primary for one over {size}"
                ),
                (_, None) => format!(
                    "it holds no checkpoint of its primary at or below {size}; ask the primary"
                ),
            },
        })
    }
}

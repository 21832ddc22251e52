//! The append path: an append's events are decoded (strictly, `domain::event`) before they
//! reach the writer; on the writer thread each is checked by the domain rules against the
//! state left by the events before it (`domain::rules`), stored as its canonical JSON plus
//! the per-teacher history link, and applied in place to the pending state (the committed
//! state plus the appends sequenced since). It is published to readers when the commit is
//! durable; a refused append is undone by rebuilding it from the committed state and the
//! entries accepted since, and a failed commit resets it to the committed state. The answer is
//! a receipt proving the entries against its own head, from the commit's own Merkle nodes.

use std::sync::Arc;

use super::Lease;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::error::store_kind;
use super::{Ledger, LedgerError, Receipt, Snapshot, StorageError, StorageKind, sign};
use crate::domain::id::Id;
use crate::domain::rules::Batch;
use crate::domain::{Event, Meta, State};
use crate::log::entry::EntryMeta;
use crate::log::{AppendError, AppendRequest, Chain, Head, Sequencer, fingerprint};
use crate::merkle::{CheckpointKey, SignedCheckpoint, inclusion_proof};
use crate::privacy::{KeyStoreError, Privacy};
use crate::snapshot;

/// The writer-side half of the ledger: checks appends, and publishes what was committed.
pub(super) struct LedgerSequencer {
    pub(super) key: Arc<CheckpointKey>,
    pub(super) origin: String,
    pub(super) checkpoint: Arc<ArcSwap<SignedCheckpoint>>,
    pub(super) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(super) max_events: usize,
    /// The state as of the last durable commit.
    pub(super) committed: State,
    /// `committed` plus the appends sequenced since (not yet durable).
    pub(super) pending: State,
    /// The entries of those appends, in order: how `pending` is rebuilt from `committed`
    /// when an append is refused after some of its events were applied to it in place.
    pub(super) since_commit: Vec<(Meta, Arc<Event>)>,
    /// Background snapshots of the committed state.
    pub(super) snapshots: Arc<snapshot::Scheduler<State>>,
    /// The data keys personal fields are sealed under.
    pub(super) privacy: Arc<Privacy>,
    /// Teachers erased by the appends sequenced since the last commit: their keys are
    /// destroyed once the commit is durable.
    pub(super) erasing: Vec<Id>,
    /// A mirror signs no checkpoint of its own (it serves its primary's).
    pub(super) mirror: bool,
    /// The actor of the last replicated entry (appends by one actor follow each other:
    /// one allocation of the name).
    pub(super) actor: Arc<str>,
    /// The fence of a primary elected through etcd: checked again as each append is
    /// sequenced, so that one queued while the lease held is not committed after it lapsed.
    pub(super) lease: Option<Lease>,
}

/// The refusal of a node whose lease as the elected primary does not hold.
const NOT_PRIMARY: &str = "this node's lease as the elected primary does not hold (it lost \
     etcd, or another node was elected): not the primary now; find the primary in etcd or \
     from a mirror's refusal, and {what}";

/// Events of one append, already decoded.
pub struct Events(Vec<Arc<Event>>);

impl Sequencer for LedgerSequencer {
    type Input = Events;
    type Rejection = LedgerError;

    fn sequence(&mut self, input: &Events, chain: &mut Chain<'_>) -> Result<(), LedgerError> {
        if let Some(l) = &self.lease
            && l.held().is_none()
        {
            return Err(LedgerError::Unavailable(
                NOT_PRIMARY.replace("{what}", "retry there"),
            ));
        }
        let today = Utc::now().date_naive();
        let limit = self
            .max_events
            .min(self.pending.policy_at(today).max_events_per_append as usize);
        if input.0.len() > limit {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {limit}",
                    input.0.len(),
                ),
            });
        }
        // The events are applied to `pending` in place (a copy per append would copy the
        // state's shared paths per append, its largest cost); a refusal after some of them
        // were applied rebuilds `pending` from `committed` and the entries since.
        let mut batch = Batch::over(std::mem::take(&mut self.pending));
        let mut applied: Vec<(Meta, Arc<Event>)> = Vec::with_capacity(input.0.len());
        let outcome = judge(&mut batch, input, chain, &mut applied, &self.privacy);
        let (state, verdict) = batch.end();
        match outcome.and_then(|()| verdict.map_err(LedgerError::from)) {
            Ok(()) => {
                self.pending = state;
                for (_, e) in &applied {
                    if let Event::PersonalDataErased(x) = &**e {
                        self.erasing.push(x.teacher.clone());
                    }
                }
                self.since_commit.extend(applied);
                Ok(())
            }
            Err(e) => {
                if applied.is_empty() {
                    self.pending = state;
                } else {
                    drop(state);
                    self.pending = self.committed.clone();
                    for (meta, event) in &self.since_commit {
                        self.pending.apply(meta.clone(), event.clone());
                    }
                }
                Err(e)
            }
        }
    }

    fn prepare(&mut self) -> Result<(), crate::log::StoreError> {
        // The keys the sequenced entries were sealed under must outlive any crash that the
        // entries survive: durable before the commit.
        self.privacy.keys.flush().map(|_| ()).map_err(|e| match e {
            KeyStoreError::Io { path, source } => crate::log::StoreError::Io { path, source },
            other => crate::log::StoreError::Corrupt(other.to_string()),
        })
    }

    fn committed(&mut self, head: Head) {
        // The erasures are durable: destroy their keys now. A failure (or a crash before
        // this) leaves the key to the next start, which destroys the key of every erased
        // teacher before serving.
        for t in std::mem::take(&mut self.erasing) {
            if let Err(e) = self.privacy.keys.erase(&t) {
                tracing::error!(teacher = %t, error = %e, "the data key of an erased teacher could not be destroyed; the next start will");
            }
        }
        if !self.mirror
            && let Ok(cp) = sign(&self.key, &self.origin, head.size, head.root)
        {
            self.checkpoint.store(Arc::new(cp));
        }
        self.committed = self.pending.clone();
        self.since_commit.clear();
        self.snapshot.store(Arc::new(Snapshot {
            head,
            state: self.committed.clone(),
        }));
        self.snapshots.committed(head, &self.committed);
    }

    fn aborted(&mut self) {
        self.erasing.clear();
        self.pending = self.committed.clone();
        self.since_commit.clear();
    }

    fn replicated(&mut self, entry: &crate::log::Entry, body: &EntryMeta) -> String {
        // Exactly what a replay folds in (an undecodable payload is counted, not applied).
        if *self.actor != *body.actor {
            self.actor = Arc::from(body.actor.as_str());
        }
        let event = Event::decode_stored(&body.payload).ok().map(|(e, _)| e);
        let form = form_of(event.as_ref(), &body.payload);
        // A mirror that holds its primary's data keys destroys an erased teacher's copy once
        // the erasure is durable here, as the primary does.
        if let Some(Event::PersonalDataErased(x)) = &event {
            self.erasing.push(x.teacher.clone());
        }
        self.pending.apply_decoded(
            Meta {
                seq: entry.seq,
                hash: entry.hash,
                recorded_at: body.recorded_at,
                actor: self.actor.clone(),
            },
            event,
        );
        form
    }
}

/// The form the ledger fingerprinted an event with (FORMAT.md §1.6): its canonical JSON,
/// without the history link the stored payload adds. A payload that is not a domain event (a
/// log written without the domain) was fingerprinted as stored. Restores and mirrors rebuild
/// idempotency records with it.
pub fn fingerprint_form(payload: &str) -> String {
    let event = Event::decode_stored(payload).ok().map(|(e, _)| e);
    form_of(event.as_ref(), payload)
}

/// [`fingerprint_form`] of a payload already decoded (`None`: not a domain event).
fn form_of(event: Option<&Event>, payload: &str) -> String {
    event.map_or_else(|| payload.to_owned(), Event::fingerprint_json)
}

/// Checks and applies an append's events to `batch` in order, each against the state the
/// ones before it left, pushing each to the chain and to `applied` once applied.
fn judge(
    batch: &mut Batch,
    input: &Events,
    chain: &mut Chain<'_>,
    applied: &mut Vec<(Meta, Arc<Event>)>,
    privacy: &Privacy,
) -> Result<(), LedgerError> {
    let mut stamp: Option<(DateTime<Utc>, Arc<str>)> = None;
    for (i, event) in input.0.iter().enumerate() {
        batch.check(i, event)?;
        let state = batch.state();
        let teacher = state.teacher_of(event);
        // Personal fields are sealed before the entry is hashed: the log only ever holds
        // their ciphertext (docs/PRIVACY.md).
        let sealed;
        let event = if event.personal().iter().any(|(_, p)| !p.is_sealed()) {
            sealed = Arc::new(privacy.seal_event(event, teacher.as_deref()).map_err(|e| {
                LedgerError::Storage(StorageError::internal(
                    format!("event {i}: sealing its personal fields"),
                    e,
                ))
            })?);
            &sealed
        } else {
            event
        };
        let link = teacher.map(|t| state.teacher_head(t.as_str()));
        let payload = RawValue::from_string(event.to_stored(link)).map_err(|e| {
            LedgerError::Storage(StorageError::internal(
                format!("event {i} did not encode as JSON"),
                e,
            ))
        })?;
        let (seq, hash) = chain.push(&payload);
        // Every entry of an append shares its recorded time and actor: read them back
        // from the first entry, exactly as a replay will.
        let (recorded_at, actor) = match &stamp {
            Some(s) => s.clone(),
            None => {
                let m = chain
                    .entries()
                    .last()
                    .map(|e| e.meta())
                    .transpose()
                    .map_err(|e| {
                        StorageError::new(StorageKind::Internal, format!("entry {seq}"), e)
                    })?
                    .ok_or_else(|| {
                        StorageError::bare(StorageKind::Internal, format!("entry {seq} vanished"))
                    })?;
                let s = (m.recorded_at, Arc::<str>::from(m.actor));
                stamp = Some(s.clone());
                s
            }
        };
        let meta = Meta {
            seq,
            hash,
            recorded_at,
            actor,
        };
        batch.apply(i, meta.clone(), event.clone());
        applied.push((meta, event.clone()));
    }
    Ok(())
}

/// The fingerprint of an append's decoded events (FORMAT.md §1.6): the one
/// [`Ledger::append`] stores in the idempotency record, and the one `Ledger::check` compares
/// with it. It covers the canonical forms, personal fields blanked, so a retry that spells the
/// same events differently is the same append.
pub(super) fn fingerprint_of(events: &[Arc<Event>]) -> crate::log::Hash {
    let canonical: Vec<String> = events.iter().map(|e| e.fingerprint_json()).collect();
    fingerprint(canonical.iter().map(|c| c.as_bytes()))
}

impl Ledger {
    /// What an append's events must pass before the writer (and what `Ledger::check` checks
    /// the same way): at least one event, at most the ledger's limit, each decoded strictly.
    pub(super) fn decode_append(&self, events: &[String]) -> Result<Vec<Arc<Event>>, LedgerError> {
        if events.is_empty() {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: "an append needs at least one event".into(),
            });
        }
        if events.len() > self.max_events {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {}",
                    events.len(),
                    self.max_events
                ),
            });
        }
        events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                Event::decode(e)
                    .map(Arc::new)
                    .map_err(|d| LedgerError::Input {
                        index: Some(i),
                        field: d.field,
                        problem: d.problem,
                    })
            })
            .collect()
    }

    /// Appends the events of one request, atomically and durably. `events` are JSON texts.
    pub async fn append(
        &self,
        actor: &str,
        request_id: &str,
        expected_size: Option<u64>,
        events: Vec<String>,
    ) -> Result<Receipt, LedgerError> {
        let r = match self.fenced("append there") {
            Err(e) => Err(e),
            Ok(()) => match self
                .append_counted(actor, request_id, expected_size, events)
                .await
            {
                // Durable here; acknowledged once the mirrors `serve --sync-mirrors` asks for
                // hold it too (a retry waits for them again), and only while this node is
                // still the elected primary.
                Ok(receipt) => {
                    let mirrored = self.wait_for_mirrors(receipt.head.size).await;
                    // The lease first: a node whose lease lapsed while it waited is not the
                    // primary now, whatever its mirrors did, and says so.
                    self.fenced("retry there with the same request id")
                        .and(mirrored)
                        .map(|()| receipt)
                }
                e => e,
            },
        };
        match &r {
            Err(LedgerError::Rejected { rule, .. }) => self.metrics.rejected(rule),
            Err(
                LedgerError::Input { .. }
                | LedgerError::RequestIdConflict { .. }
                | LedgerError::UnexpectedSize { .. },
            ) => self.metrics.refused_input(),
            _ => {}
        }
        r
    }

    /// The fence of a primary elected through etcd (`None`: no election, or a mirror).
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// Refuses, once this node's lease as the elected primary no longer holds, what lets
    /// others take its entries as the log's: a checkpoint (to a mirror, a reader or a
    /// witness) and a mirror's report. A standby copies nothing more from a deposed primary,
    /// so what an election heard from it stays true.
    pub fn lease_holds(&self) -> Result<(), LedgerError> {
        self.fenced("ask the primary etcd names")
    }

    /// Refuses when this node was elected primary through etcd and its lease no longer holds
    /// (deposed, or cut off from etcd): an append committed before is durable here but not
    /// acknowledged, as when mirrors do not confirm it in time.
    pub(super) fn fenced(&self, what: &str) -> Result<(), LedgerError> {
        match &self.lease {
            Some(l) if l.held().is_none() => Err(LedgerError::Unavailable(
                NOT_PRIMARY.replace("{what}", what),
            )),
            _ => Ok(()),
        }
    }

    /// [`Ledger::append`] before its refusals are counted.
    async fn append_counted(
        &self,
        actor: &str,
        request_id: &str,
        expected_size: Option<u64>,
        events: Vec<String>,
    ) -> Result<Receipt, LedgerError> {
        self.check_integrity()?;
        self.primary_only("append there")?;
        let decoded = self.decode_append(&events)?;
        // The fingerprint covers the canonical forms: a retry that spells the same events
        // differently is still the same append.
        let fp = fingerprint_of(&decoded);
        let req = AppendRequest {
            actor: actor.to_owned(),
            request_id: request_id.to_owned(),
            fingerprint: fp,
            expected_size,
            input: Events(decoded),
        };
        let out = self.writer.append(req).await.map_err(|e| match e {
            AppendError::Invalid(m) => LedgerError::Input {
                index: None,
                field: "request_id".into(),
                problem: m,
            },
            AppendError::RequestIdConflict {
                request_id,
                first_seq,
                count,
                ..
            } => LedgerError::RequestIdConflict {
                request_id,
                first_seq,
                end: first_seq + u64::from(count),
            },
            AppendError::UnexpectedSize { expected, actual } => {
                LedgerError::UnexpectedSize { expected, actual }
            }
            AppendError::Rejected(r) => r,
            AppendError::Storage(e) => LedgerError::Storage(StorageError::new(
                store_kind(&e),
                "committing the append",
                e,
            )),
            AppendError::Stopped(e) => LedgerError::Storage(StorageError::new(
                store_kind(&e),
                "the ledger stopped taking appends after a failed commit (until it is restarted)",
                e,
            )),
            AppendError::Unavailable(m) => LedgerError::Unavailable(m),
        })?;
        // The receipt proves the entries against the answer's own head, so the first answer
        // and every retry carry the same size and root.
        let checkpoint = self.checkpoint_of(out.head)?;
        let size = checkpoint.checkpoint.size;
        let proofs = (0..out.hashes.len() as u64)
            .map(|i| {
                let seq = out.first_seq + i;
                // From the nodes the commit held, without reading the store; a retry's (or,
                // were a node ever missing there, anyone's) from the store.
                match out
                    .nodes
                    .as_deref()
                    .and_then(|n| inclusion_proof(&self.profile(), seq, size, n).ok())
                {
                    Some(p) => Ok(p),
                    None => self.inclusion_proof(seq, size),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Receipt {
            first_seq: out.first_seq,
            hashes: out.hashes,
            head: out.head,
            duplicate: out.duplicate,
            checkpoint,
            proofs,
        })
    }
}

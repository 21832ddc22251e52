//! `serve --follow URL`: a mirror follows its primary's log (docs/MIRRORS.md).
//!
//! One follower task per mirror. Each session with the primary:
//! 1. pins the primary's checkpoint key (first contact, or `--follow-key`) and refuses
//!    a primary under another key;
//! 2. checks that the primary's latest signed checkpoint extends what the mirror holds: a
//!    consistency proof from the mirror's size to the primary's, verified against the root
//!    the mirror computed itself (or, for a primary that holds fewer entries, the mirror's
//!    own root at that size). A failure is a fork: the mirror stops following, keeps serving
//!    its last verified state, flagged `forked`, and writes the evidence (`evidence.rs`);
//! 3. subscribes from its own size and copies the entries in parts that end at an append's
//!    end: each part is handed to [`Ledger::replicate`] with the primary's signed checkpoint
//!    over exactly its end, and the writer stores it only if every entry continues the log
//!    and the Merkle root over it is the one signed. Nothing is served before that.
//!
//! A lost connection, a primary restarting or behind the mirror, a refused part: the mirror
//! says it is `stale` (health, metrics, logs), keeps serving, and tries again after a pause,
//! from its own head.

pub mod evidence;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::cli::client::{Audit, Connect, call, describe};
use crate::ledger::{Ledger, LedgerError, Mirror, MirrorStatus};
use crate::log::Entry;
use crate::merkle::{SignedCheckpoint, VerifierKey, verify_consistency};
use crate::proto;

use evidence::Fork;

/// Most entries copied in one commit while catching up: bounds the mirror's memory and the
/// work lost to a dropped connection.
pub const PART_ENTRIES: usize = 4096;

/// Default pause before the next session after a failed one.
pub const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// How long a following mirror waits for an entry before it asks the primary whether it is
/// still there (and still the same log).
pub const IDLE_CHECK: Duration = Duration::from_secs(10);

/// Longest pause between tries while the primary stays unreachable.
pub const MAX_RETRY: Duration = Duration::from_secs(30);

/// How to follow the primary.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// The primary's address and the token (an auditor's) to read it with.
    pub connect: Connect,
    /// The primary's checkpoint key, if given (`--follow-key`); else pinned on first contact.
    pub key: Option<VerifierKey>,
    /// Pause before the next session after a failed one (doubling, up to [`MAX_RETRY`],
    /// while the primary stays away).
    pub retry: Duration,
    /// The term of the primary in an election through etcd (`serve --etcd`): recorded in
    /// the data directory once the copy is found to be a prefix of the primary's log, and
    /// before anything is reported to it (docs/FAILOVER.md). `None`: no election.
    pub term: Option<i64>,
}

/// Why a session with the primary ended.
enum Stop {
    /// The server is shutting down.
    Stopping,
    /// Try again after a pause: the primary is unreachable, restarting or behind.
    Retry(String),
    /// The primary showed a history inconsistent with this copy.
    Fork(Box<Fork>),
}

impl From<LedgerError> for Stop {
    fn from(e: LedgerError) -> Stop {
        Stop::Retry(e.to_string())
    }
}

/// Completes once the server is shutting down (or its sender is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    while !*stopping.borrow() {
        if stopping.changed().await.is_err() {
            return;
        }
    }
}

/// Follows the primary until the server stops, or until a fork is seen.
pub async fn follow(ledger: Arc<Ledger>, cfg: FollowConfig, mut stopping: watch::Receiver<bool>) {
    let Some(mirror) = ledger.mirror() else {
        return;
    };
    if let MirrorStatus::Stale { fork: true, .. } = mirror.status() {
        tracing::error!(
            primary = %mirror.primary,
            status = ?mirror.status(),
            "mirror forked before this start: not following; serving the last verified state"
        );
        return;
    }
    if let Some(k) = &cfg.key
        && let Err(e) = mirror.pin_key(k)
    {
        tracing::error!(error = %e, "mirror: --follow-key is not the key pinned before; not following");
        mirror.set_status(MirrorStatus::Stale {
            reason: e.to_string(),
            fork: false,
            evidence: None,
        });
        return;
    }
    let mut delay = cfg.retry;
    let mut last_reason = String::new();
    loop {
        let stop = tokio::select! {
            () = stopped(&mut stopping) => Stop::Stopping,
            s = session(&ledger, mirror, &cfg) => s,
        };
        match stop {
            Stop::Stopping => {
                tracing::debug!("mirror: stopped following (shutting down)");
                return;
            }
            Stop::Retry(reason) => {
                // After a session that followed, the next try comes soon; while the primary
                // stays away, ever later (up to MAX_RETRY), and the same reason is logged once.
                if mirror.status() == MirrorStatus::Following {
                    delay = cfg.retry;
                    last_reason.clear();
                }
                if reason != last_reason {
                    tracing::warn!(
                        primary = %mirror.primary,
                        entries = ledger.head().size,
                        %reason,
                        "mirror stale: serving the last verified state; trying again"
                    );
                    last_reason.clone_from(&reason);
                }
                mirror.set_status(MirrorStatus::Stale {
                    reason,
                    fork: false,
                    evidence: None,
                });
                tokio::select! {
                    () = stopped(&mut stopping) => return,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(MAX_RETRY.max(cfg.retry));
            }
            Stop::Fork(fork) => {
                let written = fork.write(ledger.store().dir());
                let evidence = match &written {
                    Ok(p) => Some(p.clone()),
                    Err(e) => {
                        tracing::error!(error = %e, "mirror: the fork evidence could not be written");
                        None
                    }
                };
                tracing::error!(
                    primary = %mirror.primary,
                    problem = %fork.problem,
                    evidence = ?evidence,
                    "mirror forked: the primary shows a history inconsistent with this copy; \
                     stopped following, serving the last verified state"
                );
                mirror.set_status(MirrorStatus::Stale {
                    reason: fork.problem.clone(),
                    fork: true,
                    evidence,
                });
                return;
            }
        }
    }
}

/// The primary's signed checkpoint (the latest, or over `size`), verified with `key`.
async fn checkpoint(
    audit: &mut Audit,
    size: Option<u64>,
    key: &VerifierKey,
) -> Result<SignedCheckpoint, Stop> {
    let answer = audit
        .get_checkpoint(call(proto::GetCheckpointRequest {
            size,
            ..Default::default()
        }))
        .await
        .map_err(|s| Stop::Retry(format!("GetCheckpoint: {}", describe(&s))))?
        .into_inner();
    let text = answer.checkpoint.map(|c| c.text).unwrap_or_default();
    let cp = SignedCheckpoint::parse(&text)
        .map_err(|e| Stop::Retry(format!("the primary's checkpoint does not parse: {e}")))?;
    cp.verify(key).map_err(|e| {
        Stop::Retry(format!(
            "the primary's checkpoint over {} entries does not verify with its key: {e}",
            cp.checkpoint.size
        ))
    })?;
    if let Some(want) = size
        && cp.checkpoint.size != want
    {
        return Err(Stop::Retry(format!(
            "asked for a checkpoint over {want} entries, the primary signed one over {}",
            cp.checkpoint.size
        )));
    }
    Ok(cp)
}

/// One session with the primary; returns why it ended.
async fn session(ledger: &Arc<Ledger>, mirror: &Mirror, cfg: &FollowConfig) -> Stop {
    match follow_once(ledger, mirror, cfg).await {
        Ok(never) => match never {},
        Err(stop) => stop,
    }
}

async fn follow_once(
    ledger: &Arc<Ledger>,
    mirror: &Mirror,
    cfg: &FollowConfig,
) -> Result<std::convert::Infallible, Stop> {
    let (_, profile) = cfg
        .connect
        .head_and_profile()
        .await
        .map_err(|e| Stop::Retry(e.0))?;
    if profile != ledger.profile() {
        return Err(Stop::Retry(format!(
            "the primary's log is of the {profile} profile, this mirror's store of {}: start \
             the mirror on a new data directory with --crypto {profile}",
            ledger.profile()
        )));
    }
    let mut audit = cfg.connect.audit().await.map_err(|e| Stop::Retry(e.0))?;
    let answer = audit
        .get_public_key(call(proto::GetPublicKeyRequest {}))
        .await
        .map_err(|s| Stop::Retry(format!("GetPublicKey: {}", describe(&s))))?
        .into_inner();
    let key: VerifierKey = answer
        .verifier_key
        .parse()
        .map_err(|e| Stop::Retry(format!("the primary's key does not parse: {e}")))?;
    mirror.pin_key(&key)?;
    let latest = checkpoint(&mut audit, None, &key).await?;
    consistent(ledger, mirror, &mut audit, &latest).await?;
    mirror.seen_primary(latest.checkpoint.size);
    // The copy is a prefix of this primary's log: an election may count it as of its term
    // from now on, and not before, since reports below let the primary acknowledge appends.
    if let Some(term) = cfg.term {
        let dir = ledger.store().dir().to_path_buf();
        tokio::task::spawn_blocking(move || crate::failover::record_term(&dir, term))
            .await
            .map_err(|e| Stop::Retry(format!("recording the term: {e}")))?
            .map_err(|e| Stop::Retry(format!("recording the term {term}: {e}")))?;
    }
    mirror.set_status(MirrorStatus::Following);
    // The primary keeps what mirrors hold in memory only: a restarted primary (or one that
    // missed a report) learns it again now, so an append retried there is not left waiting
    // for the next part.
    if copy_keys(ledger, mirror, &mut audit).await == Keys::Settled {
        report(mirror, &mut audit, &ledger.head(), cfg.term).await;
    }
    tracing::info!(
        primary = %mirror.primary,
        entries = ledger.head().size,
        primary_entries = latest.checkpoint.size,
        "mirror following"
    );

    // The stream is read on a task of its own, so that "nothing more has arrived" is known
    // exactly (an empty channel) rather than guessed from a timeout.
    let from = ledger.head().size;
    let mut stream = audit
        .subscribe(call(proto::SubscribeRequest { from_seq: from }))
        .await
        .map_err(|s| Stop::Retry(format!("Subscribe: {}", describe(&s))))?
        .into_inner();
    let (tx, mut rx) = mpsc::channel::<Result<Entry, String>>(PART_ENTRIES);
    let reader = tokio::spawn(async move {
        loop {
            let next = match stream.message().await {
                Ok(Some(m)) => m
                    .entry
                    .ok_or_else(|| "a Subscribe message without an entry".to_owned())
                    .and_then(crate::grpc::convert::entry_from),
                Ok(None) => Err("the primary ended the stream".to_owned()),
                Err(s) => Err(format!("Subscribe: {}", describe(&s))),
            };
            let end = next.is_err();
            if tx.send(next).await.is_err() || end {
                return;
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let mut part: Vec<Entry> = Vec::new();
    // The primary's size as last seen: while the mirror has received less, more is on its
    // way and the primary need not be asked; once it has received that much and nothing
    // more is waiting, the primary's latest checkpoint decides what can be committed.
    let mut known = latest.checkpoint.size;
    // Entries are waiting for a checkpoint the primary has not published yet: ask again soon.
    let mut ask_again = false;
    loop {
        let next = if ask_again {
            match tokio::time::timeout(Duration::from_millis(20), rx.recv()).await {
                Ok(n) => n,
                Err(_) => {
                    ask_again = commit_part(
                        ledger, mirror, &mut audit, &key, &mut part, &mut known, cfg.term,
                    )
                    .await?;
                    continue;
                }
            }
        } else {
            match tokio::time::timeout(IDLE_CHECK, rx.recv()).await {
                Ok(n) => n,
                Err(_) => {
                    // Nothing for a while: ask the primary (bounded), so that a primary gone
                    // without closing the connection makes the mirror stale, not silent, and
                    // a stream that stalled while the primary grew is opened again.
                    let asked =
                        tokio::time::timeout(IDLE_CHECK, checkpoint(&mut audit, None, &key))
                            .await
                            .map_err(|_| {
                                Stop::Retry(format!(
                                    "the primary did not answer GetCheckpoint within {} s",
                                    IDLE_CHECK.as_secs()
                                ))
                            })??;
                    mirror.seen_primary(asked.checkpoint.size);
                    consistent(ledger, mirror, &mut audit, &asked).await?;
                    // Again while idle, in case the last report was lost.
                    if copy_keys(ledger, mirror, &mut audit).await == Keys::Settled {
                        report(mirror, &mut audit, &ledger.head(), cfg.term).await;
                    }
                    let end = ledger.head().size + part.len() as u64;
                    if asked.checkpoint.size > end {
                        return Err(Stop::Retry(format!(
                            "the primary holds {} entries but sent none past {end} for {} s",
                            asked.checkpoint.size,
                            IDLE_CHECK.as_secs()
                        )));
                    }
                    continue;
                }
            }
        };
        let entry = match next {
            Some(Ok(e)) => e,
            Some(Err(why)) => return Err(Stop::Retry(why)),
            None => return Err(Stop::Retry("the stream reader stopped".into())),
        };
        let end = ledger.head().size + part.len() as u64;
        if entry.seq != end {
            return Err(Stop::Retry(format!(
                "the primary sent entry {} where {end} was due",
                entry.seq
            )));
        }
        part.push(entry);
        // A full part is committed at its last change of append (looked for again at each
        // further PART_ENTRIES while one append fills it).
        if part.len().is_multiple_of(PART_ENTRIES) || (rx.is_empty() && end + 1 >= known) {
            ask_again = commit_part(
                ledger, mirror, &mut audit, &key, &mut part, &mut known, cfg.term,
            )
            .await?;
        }
    }
}

/// Aborts a task when dropped (a session's stream reader ends with the session).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The identity of the append an entry belongs to: its actor and request id.
fn append_of(e: &Entry) -> Option<(String, String)> {
    e.meta().ok().map(|m| (m.actor, m.request_id))
}

/// Commits the longest prefix of `part` that ends at an append's end known for certain (the
/// primary's latest checkpoint, or, for a full part, a change of append inside it), with the
/// primary's checkpoint over exactly that size; `known` becomes the primary's latest size.
/// Tells the primary what the mirror now holds durably (`ReportReplicated`), so that a primary
/// with `serve --sync-mirrors` can acknowledge the appends it covers. A refusal (a token
/// without the mirror role, an older primary) is logged once and changes nothing else: the
/// mirror goes on copying.
async fn report(mirror: &Mirror, audit: &mut Audit, head: &crate::log::Head, term: Option<i64>) {
    let req = proto::ReportReplicatedRequest {
        mirror_id: mirror.id().to_owned(),
        size: head.size,
        root: head.root.to_vec(),
        term: term.unwrap_or(0),
    };
    // Bounded: a primary that stopped answering is noticed by the idle check, not here.
    let answer = tokio::time::timeout(IDLE_CHECK, audit.report_replicated(call(req)))
        .await
        .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("no answer in time")));
    match answer {
        Ok(_) => {
            mirror.report_refused(false);
        }
        Err(s) if mirror.report_refused(true) => tracing::warn!(
            primary = %mirror.primary,
            error = %describe(&s),
            "mirror: the primary did not take this mirror's report of what it holds; it does not \
             count for the primary's --sync-mirrors until a report is taken (a token of the \
             mirror role is needed)"
        ),
        Err(s) => tracing::debug!(error = %describe(&s), "mirror: report not taken"),
    }
}

/// What [`copy_keys`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    /// Every record the primary holds is here (or this mirror is no standby: another master
    /// key, or a token the primary does not give keys to). The report may go.
    Settled,
    /// A standby that could not copy them: the report must not go, or a primary with
    /// `--sync-mirrors` would acknowledge appends whose keys are not here.
    Failed,
}

/// Says `why` once (until it changes) at the level `warn` or `error`.
fn keys_note(mirror: &Mirror, why: String, error: bool) {
    if mirror.keys_note(Some(why.clone())) {
        if error {
            tracing::error!(primary = %mirror.primary, "mirror: {why}");
        } else {
            tracing::warn!(primary = %mirror.primary, "mirror: {why}");
        }
    }
}

/// Copies the primary's new personal-data key records when this mirror holds the same master
/// key (a standby that may be promoted, docs/MIRRORS.md): before each report, so that a
/// primary with `--sync-mirrors` counts an append only once the keys its sealed fields need
/// are here too. A mirror with another master key, or whose token the primary gives no keys
/// to, is no standby: said once (logs, `/readyz`), and it reports as before. A standby that
/// cannot copy (the primary unreachable, a store that no longer lines up with the primary's,
/// a disk error) says why and does not report until it can.
async fn copy_keys(ledger: &Arc<Ledger>, mirror: &Mirror, audit: &mut Audit) -> Keys {
    let own = ledger.data_key_master_id();
    loop {
        let held = ledger.data_key_slots();
        // One record back, so that the two stores are seen to line up.
        let from = held.saturating_sub(1);
        let asked = tokio::time::timeout(
            IDLE_CHECK,
            audit.read_data_keys(call(proto::ReadDataKeysRequest {
                from,
                master_key_id: own.to_vec(),
            })),
        )
        .await
        .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("no answer in time")));
        let r = match asked {
            Ok(r) => r.into_inner(),
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::PermissionDenied
                        | tonic::Code::Unimplemented
                        | tonic::Code::FailedPrecondition
                ) =>
            {
                keys_note(
                    mirror,
                    format!(
                        "the primary gives this mirror no data keys ({}): it is no standby; a \
                         standby needs a token of the mirror role and the primary's master key",
                        describe(&s)
                    ),
                    false,
                );
                return Keys::Settled;
            }
            Err(s) => {
                keys_note(
                    mirror,
                    format!(
                        "the primary's data keys could not be read: {}",
                        describe(&s)
                    ),
                    true,
                );
                return Keys::Failed;
            }
        };
        if r.master_key_id != own {
            keys_note(
                mirror,
                format!(
                    "the primary's data keys are wrapped by master key {}, this mirror's key \
                     store by {}: none copied, so this mirror could not open sealed names if \
                     promoted; to make it a standby, give it the primary's master key \
                     (--master-key; MIRRORS.md)",
                    hex::encode(&r.master_key_id),
                    hex::encode(own)
                ),
                false,
            );
            return Keys::Settled;
        }
        if r.total < held {
            keys_note(
                mirror,
                format!(
                    "the primary's key store holds {} records, this standby's {held}: it was \
                     rewritten (keys rotate) or restored, and the copy no longer lines up; stop \
                     this mirror, remove its data-keys and start it again (MIRRORS.md)",
                    r.total
                ),
                true,
            );
            return Keys::Failed;
        }
        let n = r.records.len() as u64;
        if n > 0 {
            let l = ledger.clone();
            let copied = tokio::task::spawn_blocking(move || l.copy_data_keys(from, &r.records))
                .await
                .map_err(|e| e.to_string())
                .and_then(|c| c.map_err(|e| e.to_string()));
            if let Err(e) = copied {
                keys_note(
                    mirror,
                    format!("copying the primary's data keys failed: {e}"),
                    true,
                );
                return Keys::Failed;
            }
        }
        if n == 0 || from + n >= r.total {
            mirror.keys_note(None);
            return Keys::Settled;
        }
    }
}

/// Returns true when entries are left waiting for a checkpoint the primary has not published
/// yet (it publishes its checkpoint a moment after its subscribers see the entries).
async fn commit_part(
    ledger: &Arc<Ledger>,
    mirror: &Mirror,
    audit: &mut Audit,
    key: &VerifierKey,
    part: &mut Vec<Entry>,
    known: &mut u64,
    term: Option<i64>,
) -> Result<bool, Stop> {
    if part.is_empty() {
        return Ok(false);
    }
    let at = ledger.head().size;
    let end = at + part.len() as u64;
    let latest = checkpoint(audit, None, key).await?;
    mirror.seen_primary(latest.checkpoint.size);
    let m = latest.checkpoint.size;
    *known = m;
    if !(m > at && m <= end) {
        // Not the end of this part: still a signed statement of the primary's history, which
        // must extend (or, at or below this size, agree with) what the mirror holds.
        consistent(ledger, mirror, audit, &latest).await?;
    }
    let (cut, cp) = if m > at && m <= end {
        // A committed head of the primary: always the end of an append.
        (m, latest)
    } else {
        // The last change of append inside the part; the part's own end is not known to end
        // an append until the primary's checkpoint says so.
        let boundary = (1..part.len())
            .rev()
            .find(|&i| append_of(&part[i - 1]) != append_of(&part[i]));
        match boundary {
            Some(i) if part.len() >= PART_ENTRIES => {
                let cut = at + i as u64;
                (cut, checkpoint(audit, Some(cut), key).await?)
            }
            // The primary is ahead: the rest of its entries are on their way.
            _ if m > end => return Ok(false),
            _ => return Ok(true),
        }
    };
    // Under an election a standby may be made primary with what it holds: the data keys of
    // a part's teachers are copied before the part (the primary made them durable before
    // it committed the entries), so it never holds a sealed field it cannot open.
    if term.is_some() && copy_keys(ledger, mirror, audit).await == Keys::Failed {
        return Err(Stop::Retry(
            "the primary's data keys could not be copied; the entries wait for them".into(),
        ));
    }
    let entries: Vec<Entry> = part.drain(..(cut - at) as usize).collect();
    match ledger.replicate(entries, &cp).await {
        Ok(head) => {
            tracing::debug!(entries = head.size, "mirror: copied");
            if term.is_some() || copy_keys(ledger, mirror, audit).await == Keys::Settled {
                report(mirror, audit, &head, term).await;
            }
            // What is left past the checkpoint waits for the next one, unless more is coming.
            Ok(!part.is_empty() && head.size + part.len() as u64 >= *known)
        }
        Err(e @ LedgerError::Input { .. }) => {
            // The primary's entries do not continue this copy, or do not lead to the root it
            // signed over them: either its history differs from this one (a consistency
            // proof decides) or it served entries its own checkpoint contradicts.
            consistent(ledger, mirror, audit, &cp).await?;
            Err(Stop::Fork(Box::new(Fork::new(
                mirror,
                ledger,
                &cp,
                None,
                format!("the primary's entries up to {cut} do not match its own checkpoint: {e}"),
            ))))
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks that `theirs`, a verified checkpoint of the primary, is consistent with what this
/// mirror holds; a fork otherwise. A primary behind the mirror is a reason to wait.
async fn consistent(
    ledger: &Ledger,
    mirror: &Mirror,
    audit: &mut Audit,
    theirs: &SignedCheckpoint,
) -> Result<(), Stop> {
    let head = ledger.head();
    let (n, m) = (head.size, theirs.checkpoint.size);
    if n == 0 {
        return Ok(());
    }
    let fork = |proof: Option<(u64, u64, Vec<[u8; 32]>)>, problem: String| {
        Stop::Fork(Box::new(Fork::new(mirror, ledger, theirs, proof, problem)))
    };
    if m < n {
        let ours = ledger.root_at(m)?;
        if ours != theirs.checkpoint.root {
            return Err(fork(
                None,
                format!(
                    "the primary signed root {} over {m} entries; this mirror's first {m} \
                     entries have root {}",
                    hex::encode(theirs.checkpoint.root),
                    hex::encode(ours)
                ),
            ));
        }
        return Err(Stop::Retry(format!(
            "the primary holds {m} entries, fewer than this mirror's {n} (restored from an \
             older backup?); waiting for it to catch up"
        )));
    }
    if m == n {
        if theirs.checkpoint.root != head.root {
            return Err(fork(
                None,
                format!(
                    "the primary signed root {} over {n} entries; this mirror's root over them \
                     is {}",
                    hex::encode(theirs.checkpoint.root),
                    hex::encode(head.root)
                ),
            ));
        }
        return Ok(());
    }
    let answer = audit
        .get_consistency_proof(call(proto::GetConsistencyProofRequest {
            old_size: n,
            new_size: Some(m),
        }))
        .await
        .map_err(|s| Stop::Retry(format!("GetConsistencyProof: {}", describe(&s))))?
        .into_inner();
    let proof: Vec<[u8; 32]> = answer
        .hashes
        .iter()
        .map(|h| h.as_slice().try_into())
        .collect::<Result<_, _>>()
        .map_err(|_| Stop::Retry("a consistency proof hash is not 32 bytes".into()))?;
    if let Err(e) = verify_consistency(
        &ledger.profile(),
        n,
        m,
        &head.root,
        &theirs.checkpoint.root,
        &proof,
    ) {
        return Err(fork(
            Some((n, m, proof)),
            format!(
                "the primary's consistency proof from this mirror's {n} entries to its {m} \
                 does not verify: {e}"
            ),
        ));
    }
    Ok(())
}

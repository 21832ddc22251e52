//! Synchronous mirroring (`serve --sync-mirrors N`): an append is acknowledged only once at
//! least N mirrors have made it durable too, as PostgreSQL's synchronous standbys do, so the
//! loss of the primary's disk loses no acknowledged append (docs/MIRRORS.md).
//!
//! Each mirror reports, after every part it stored durably, the size and Merkle root it now
//! holds (`Audit.ReportReplicated`, with a token of the `mirror` role). The ledger checks the
//! root against its own at that size, so a mirror holding another history confirms nothing,
//! and keeps each mirror's largest confirmed size. The **confirmed size** is the largest size
//! at least N mirrors hold. An append waits, after its own durable commit, until the
//! confirmed size covers it, at most [`SyncConfig::timeout`]; past that it is answered
//! `UNAVAILABLE`: durable here, not yet confirmed, to be retried with the same request id
//! (which answers the same receipt once the mirrors have it). A primary elected through etcd
//! stops waiting as soon as its lease lapses, and refuses the append for the lease.
//!
//! A mirror is counted by the name of its token: one token, one mirror, however many ids it
//! reports under (the id it keeps in its data directory, `mirror.id`, names it in logs and
//! metrics). The root a report carries proves only that the mirror's copy is this log, not
//! that it holds it (the root is public to readers): the guarantee rests on tokens of the
//! `mirror` role being given to real mirrors only, one each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use super::{Ledger, LedgerError, StorageError};
use crate::merkle::Digest;

/// Default of [`SyncConfig::timeout`].
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(10);

/// How many mirrors must confirm an append before it is acknowledged.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Mirrors that must hold an append durably (0: asynchronous, as without the flag).
    pub mirrors: usize,
    /// How long an append waits for them before it is answered `UNAVAILABLE`.
    pub timeout: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            mirrors: 0,
            timeout: DEFAULT_SYNC_TIMEOUT,
        }
    }
}

/// What the mirrors have confirmed.
#[derive(Debug)]
pub(super) struct Confirmations {
    config: SyncConfig,
    /// Each mirror's largest confirmed size, by token name, with the id it last reported under.
    held: Mutex<HashMap<String, (String, u64)>>,
    /// The largest size at least `config.mirrors` mirrors hold.
    confirmed: watch::Sender<u64>,
    /// The log's size when this ledger opened: checkpoints over up to this many entries may
    /// have been handed out before (by this node's previous run, or by the primary it was
    /// elected to replace), and the mirrors' reports are not known yet. Until they confirm
    /// it, readers get no checkpoint rather than one smaller than what they may hold.
    floor: u64,
}

impl Confirmations {
    pub(super) fn new(config: SyncConfig, opened_at: u64) -> Self {
        Confirmations {
            config,
            held: Mutex::new(HashMap::new()),
            confirmed: watch::Sender::new(0),
            floor: opened_at,
        }
    }
}

/// The largest size at least `n` of `sizes` reach (`u64::MAX` for `n == 0`: nothing to
/// wait for; 0 when fewer than `n` mirrors reported).
fn kth_largest(sizes: impl Iterator<Item = u64>, n: usize) -> u64 {
    if n == 0 {
        return u64::MAX;
    }
    let mut v: Vec<u64> = sizes.collect();
    if v.len() < n {
        return 0;
    }
    v.sort_unstable_by(|a, b| b.cmp(a));
    v[n - 1]
}

/// One mirror's standing, for `GetHead`, `/readyz` and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorConfirmation {
    /// `<token name>/<mirror id>` (the id it last reported under).
    pub mirror: String,
    /// The largest size it confirmed holding durably.
    pub size: u64,
}

impl Ledger {
    /// Mirrors that must confirm an append before it is acknowledged (0: none).
    pub fn sync_mirrors(&self) -> usize {
        self.sync.config.mirrors
    }

    /// The largest size at least [`Ledger::sync_mirrors`] mirrors hold durably.
    pub fn confirmed_size(&self) -> u64 {
        *self.sync.confirmed.borrow()
    }

    /// The largest size over which a signed checkpoint is handed to anyone but a mirror:
    /// with `--sync-mirrors`, what the mirrors confirmed; else the head. Entries beyond it are
    /// durable here but may be lost with this machine, and a primary replaced through a
    /// failover (docs/FAILOVER.md) never had them acknowledged: a checkpoint over them in a
    /// reader's or a witness's hands would, after the failover, be a second history signed
    /// with the log's key. Mirrors are given them, since they copy by them. Refused
    /// (`UNAVAILABLE`, for a moment) until the mirrors have confirmed the size this ledger
    /// opened with: a smaller checkpoint would look like a rollback to whoever holds one over
    /// that size.
    pub fn readable_size(&self) -> Result<u64, LedgerError> {
        self.readable_within(self.head().size)
    }

    /// [`Ledger::readable_size`] of a log of `head` entries (a head read once by the caller).
    pub(super) fn readable_within(&self, head: u64) -> Result<u64, LedgerError> {
        self.lease_holds()?;
        if self.sync_mirrors() == 0 {
            return Ok(head);
        }
        let confirmed = self.confirmed_size().min(head);
        let floor = self.sync.floor.min(head);
        if confirmed < floor {
            return Err(LedgerError::Unavailable(format!(
                "the mirrors serve --sync-mirrors requires have not yet confirmed holding the \
                 {floor} entries this primary opened with (they hold {confirmed}); no \
                 checkpoint is given out before: ask again shortly"
            )));
        }
        Ok(confirmed)
    }

    /// Refuses a checkpoint over `size` to a reader when `size` is beyond
    /// [`Ledger::readable_size`].
    pub fn check_readable(&self, size: u64) -> Result<(), LedgerError> {
        if size > self.head().size {
            // Beyond the head: the caller's own error, said by whoever reads it.
            return Ok(());
        }
        let readable = self.readable_size()?;
        if size <= readable {
            return Ok(());
        }
        Err(LedgerError::Unavailable(format!(
            "entries {readable}..{size} are not yet held by the mirrors serve --sync-mirrors \
             requires, and no checkpoint over them is given out before: ask for a size up to \
             {readable}, or again shortly"
        )))
    }

    /// The size a checkpoint or proof is given at when the caller names none: the head to a
    /// mirror (it copies by it), [`Ledger::readable_size`] to anyone else. Nothing to anyone
    /// from a primary whose lease no longer holds.
    pub fn default_size_for(&self, mirror: bool) -> Result<u64, LedgerError> {
        if mirror {
            self.lease_holds()?;
            Ok(self.head().size)
        } else {
            self.readable_size()
        }
    }

    /// Refuses a checkpoint over `size` that this caller may not be given: any, to a mirror,
    /// from a primary whose lease no longer holds; one beyond [`Ledger::readable_size`] to
    /// anyone else ([`Ledger::check_readable`]).
    pub fn check_checkpoint_for(&self, size: u64, mirror: bool) -> Result<(), LedgerError> {
        if mirror {
            self.lease_holds()
        } else {
            self.check_readable(size)
        }
    }

    /// Waits (at most the sync timeout) until the mirrors hold the head, so that an answer
    /// carrying a checkpoint over it can be given to a reader ([`Ledger::check_readable`]
    /// refuses it otherwise). At once without `--sync-mirrors`.
    pub async fn wait_readable(&self) {
        if self.sync_mirrors() > 0 {
            let _ = self.wait_for_mirrors(self.head().size).await;
        }
    }

    /// Every mirror's last confirmation, by name.
    pub fn mirror_confirmations(&self) -> Vec<MirrorConfirmation> {
        let held = match self.sync.held.lock() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        let mut out: Vec<MirrorConfirmation> = held
            .iter()
            .map(|(token, (id, s))| MirrorConfirmation {
                mirror: format!("{token}/{id}"),
                size: *s,
            })
            .collect();
        out.sort_by(|a, b| a.mirror.cmp(&b.mirror));
        out
    }

    /// A mirror's report: it holds the first `size` entries, whose Merkle root is `root`,
    /// durably. Refused if this ledger is itself a mirror, if `size` is beyond the head or if
    /// `root` is not this log's root at `size` (the mirror holds another history). Returns the
    /// confirmed size after it.
    pub fn report_replicated(
        &self,
        token: &str,
        mirror_id: &str,
        size: u64,
        root: Digest,
        term: i64,
    ) -> Result<u64, LedgerError> {
        self.primary_only("report to the primary")?;
        self.lease_holds()?;
        // An elected primary counts only a mirror that recorded its term (docs/FAILOVER.md):
        // a report under an older one would let it acknowledge appends on the word of a node
        // an election may rank below one of its own term.
        if let Some(own) = self.lease.as_ref().and_then(|l| l.held())
            && term != own
        {
            return Err(LedgerError::Input {
                index: None,
                field: "term".into(),
                problem: format!(
                    "reported under term {term}; this primary's term is {own}: the mirror counts \
                     once it follows this term"
                ),
            });
        }
        let bad = |problem: String| LedgerError::Input {
            index: None,
            field: "size".into(),
            problem,
        };
        if mirror_id.is_empty() || mirror_id.len() > 128 || mirror_id.chars().any(char::is_control)
        {
            return Err(LedgerError::Input {
                index: None,
                field: "mirror_id".into(),
                problem: "1 to 128 characters, no control characters".into(),
            });
        }
        let head = self.head().size;
        if size > head {
            return Err(bad(format!(
                "{size} entries reported, but this log holds {head}"
            )));
        }
        if self.root_at(size)? != root {
            return Err(LedgerError::Input {
                index: None,
                field: "root".into(),
                problem: format!(
                    "not this log's root at size {size}: the mirror holds another history"
                ),
            });
        }
        let mut held =
            self.sync.held.lock().map_err(|_| {
                StorageError::internal("the mirrors' confirmations", "lock poisoned")
            })?;
        let at = held.entry(token.to_owned()).or_insert((String::new(), 0));
        *at = (mirror_id.to_owned(), at.1.max(size));
        let confirmed = kth_largest(held.values().map(|(_, s)| *s), self.sync.config.mirrors);
        drop(held);
        self.sync.confirmed.send_if_modified(|c| {
            let grew = confirmed > *c;
            if grew {
                *c = confirmed;
            }
            grew
        });
        Ok(self.confirmed_size())
    }

    /// Waits until at least [`Ledger::sync_mirrors`] mirrors hold the first `size` entries
    /// (at once when none are required), at most the configured timeout.
    pub(super) async fn wait_for_mirrors(&self, size: u64) -> Result<(), LedgerError> {
        let need = self.sync.config.mirrors;
        if need == 0 {
            return Ok(());
        }
        let mut rx = self.sync.confirmed.subscribe();
        let deadline = tokio::time::Instant::now() + self.sync.config.timeout;
        loop {
            // A primary elected through etcd stops waiting once its lease lapses: from then on
            // it takes no mirror's report, so nothing could confirm the append, and the reason
            // to give is that it is not the primary now.
            self.fenced("retry there with the same request id")?;
            let until = match &self.lease {
                Some(l) => deadline.min(tokio::time::Instant::now() + l.remaining()),
                None => deadline,
            };
            match tokio::time::timeout_at(until, rx.wait_for(|c| *c >= size)).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(_)) => {
                    return Err(LedgerError::Unavailable("the ledger is stopping".into()));
                }
                // The lease's time was up: looked at again above (renewed, or lapsed).
                Err(_) if tokio::time::Instant::now() < deadline => {}
                Err(_) => break,
            }
        }
        let holding = self
            .mirror_confirmations()
            .iter()
            .filter(|m| m.size >= size)
            .count();
        Err(LedgerError::Unavailable(format!(
            "the append is durable on this primary but {holding} of the {need} mirrors \
             required (serve --sync-mirrors) confirmed holding it within {} s; it is not \
             acknowledged",
            self.sync.config.timeout.as_secs_f64()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::kth_largest;

    #[test]
    fn the_confirmed_size_is_the_kth_largest() {
        assert_eq!(kth_largest([5, 9, 7].into_iter(), 1), 9);
        assert_eq!(kth_largest([5, 9, 7].into_iter(), 2), 7);
        assert_eq!(kth_largest([5, 9, 7].into_iter(), 3), 5);
        assert_eq!(kth_largest([5, 9, 7].into_iter(), 4), 0, "too few mirrors");
        assert_eq!(kth_largest(std::iter::empty(), 1), 0);
        assert_eq!(kth_largest(std::iter::empty(), 0), u64::MAX);
    }
}

//! Failover without a consensus protocol of our own (`serve --etcd`, docs/FAILOVER.md).
//!
//! Every node of one log (a primary and its standbys) runs `serve` with the same `--etcd`
//! endpoints, checkpoint key, master key and access file, and its own `--advertise` URL. An
//! existing coordination service, etcd, decides which node is the primary:
//!
//! - each node holds an etcd lease and keeps its record under `<prefix>/nodes/<url>`: its
//!   URL and the size of the log it holds (`null` while its ledger opens);
//! - the primary is the node whose lease holds `<prefix>/leader`; the key's create revision
//!   numbers its term;
//! - when the key is gone (its lease lapsed: the primary died or lost etcd), the node that
//!   holds the longest log (ties: the smallest URL) creates it in one compare-and-create
//!   transaction, once every live node has published a size. With `--sync-mirrors N` every
//!   acknowledged append is on at least N standbys, so the longest holds them all;
//! - the primary's appends are fenced by its lease ([`crate::ledger::Lease`]): none is
//!   committed or acknowledged once the lease may have lapsed, so a deposed primary that
//!   does not know it yet acknowledges nothing;
//! - every other node follows the primary the key names, as a verified mirror
//!   ([`crate::mirror`]); a node that was primary in an earlier term and holds entries the
//!   new primary does not (appended but never acknowledged) sets its data directory aside,
//!   whole, and copies the log again ([`role`]).
//!
//! Without `--etcd` none of this runs.

pub mod etcd;
pub mod role;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ledger::{Lease, Ledger, MirrorStatus, clock_ms};
use etcd::{Etcd, EtcdError};

/// Default `--lease-ttl`: how long a primary that stopped renewing its lease stays primary.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);

/// The part of the lease a primary gives up, to be sure it stops before etcd lets another
/// node take the leader key (clocks drift; a renewal's answer takes time).
const MARGIN: Duration = Duration::from_millis(500);

/// How an election runs.
#[derive(Debug, Clone)]
pub struct Election {
    /// etcd's endpoints (`http://host:2379`).
    pub endpoints: Vec<String>,
    /// The keys of this log live under it (default `/rotaledger/<origin>`).
    pub prefix: String,
    /// The URL other nodes and clients reach this node's gRPC at; names the node.
    pub advertise: String,
    /// The lease's time to live.
    pub ttl: Duration,
    /// The nodes' `--sync-mirrors`: how many standbys hold every acknowledged append, so
    /// how many of the others an election must hear from ([`choose`]).
    pub sync_mirrors: usize,
}

impl Election {
    /// How often the lease is renewed and the leader key read: three times per lease.
    pub fn tick(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(200))
    }

    /// The etcd key `<prefix>/<tail>`.
    fn key(&self, tail: &str) -> Vec<u8> {
        format!("{}/{tail}", self.prefix).into_bytes()
    }

    fn leader_key(&self) -> Vec<u8> {
        self.key("leader")
    }

    fn nodes_prefix(&self) -> Vec<u8> {
        self.key("nodes/")
    }

    fn node_key(&self) -> Vec<u8> {
        self.key(&format!("nodes/{}", self.advertise))
    }

    /// Not leased: the last term elected, rewritten by each election in the same
    /// transaction as the leader key, so that a node that missed a whole term still knows a
    /// term began after it last found the key gone.
    fn last_term_key(&self) -> Vec<u8> {
        self.key("last-term")
    }

    fn members_prefix(&self) -> Vec<u8> {
        self.key("members/")
    }

    fn member_key(&self) -> Vec<u8> {
        self.key(&format!("members/{}", self.advertise))
    }
}

/// What this node is in the current term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Not known yet (etcd not reached, or no primary elected): serves what it holds,
    /// read-only.
    Undecided,
    /// The primary of term `epoch`.
    Primary {
        /// The leader key's create revision.
        epoch: i64,
    },
    /// A mirror of the primary at `leader`.
    Mirror {
        /// The primary's URL.
        leader: String,
        /// Its term.
        epoch: i64,
    },
    /// Was primary in an earlier term and holds entries the primary of `epoch` does not:
    /// sets its data directory aside and follows `leader` from nothing.
    Deposed {
        /// The primary's URL.
        leader: String,
        /// Its term.
        epoch: i64,
    },
}

impl Role {
    /// Whether `self` and `other` are served by the same run of the server: a deposed node
    /// follows the same primary once its data is set aside.
    pub fn same_run(&self, other: &Role) -> bool {
        match (self, other) {
            (
                Role::Mirror { leader, epoch } | Role::Deposed { leader, epoch },
                Role::Mirror {
                    leader: l,
                    epoch: e,
                },
            ) => leader == l && epoch == e,
            (a, b) => a == b,
        }
    }
}

/// A node's record under `<prefix>/nodes/`, living by its lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its `--advertise` URL.
    pub url: String,
    /// The entries its log holds; `None` while its ledger opens.
    pub size: Option<u64>,
    /// The last term its log is known to be a prefix of ([`NodeState::term`]).
    pub term: i64,
    /// Whether it can serve as primary: not a log whose integrity check failed.
    pub ready: bool,
}

/// The value of `<prefix>/leader`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaderRecord {
    /// The primary's `--advertise` URL.
    pub url: String,
    /// The entries it held when elected.
    pub size: u64,
}

/// The ledger the current run serves, seen without keeping it open (the server closes it
/// when the run ends).
pub type LedgerCell = Arc<Mutex<Weak<Ledger>>>;

fn current(cell: &LedgerCell) -> Option<Arc<Ledger>> {
    cell.lock().ok().and_then(|w| w.upgrade())
}

/// The file, in the data directory, that keeps what this node knows of the terms
/// ([`NodeState`]).
pub const STATE_FILE: &str = "failover.json";

/// What [`STATE_FILE`] holds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeState {
    /// The last term whose log this node's log is a prefix of: the term it was elected for,
    /// or the term of a primary it verified it follows (recorded before it reports holding
    /// anything to that primary, so no append of that term is acknowledged on its word
    /// while it claims an older term). Elections prefer the latest term, then the longest
    /// log: a longer log of an older term holds entries never acknowledged.
    pub term: i64,
    /// The last term this node was primary for (0: never): a node that finds a newer
    /// primary and a log forked from it knows by it that the entries only it holds are its
    /// own unacknowledged tail, not a primary's lie.
    pub elected: i64,
}

/// What the node whose data is in `dir` knows of the terms (all zero: nothing).
pub fn node_state(dir: &Path) -> NodeState {
    std::fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write_state(dir: &Path, state: NodeState) -> Result<(), String> {
    use std::io::Write as _;
    let mut file =
        crate::atomic::AtomicFile::create(&dir.join(STATE_FILE)).map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
    file.write_all(&body).map_err(|e| e.to_string())?;
    file.commit().map_err(|e| e.to_string())
}

/// Records, durably, that the log in `dir` is a prefix of term `term`'s (never lowers it).
pub fn record_term(dir: &Path, term: i64) -> Result<(), String> {
    let state = node_state(dir);
    if state.term >= term {
        return Ok(());
    }
    write_state(
        dir,
        NodeState {
            term,
            elected: state.elected,
        },
    )
}

/// Records, durably, that this node is primary for term `epoch`.
pub fn record_elected(dir: &Path, epoch: i64) -> Result<(), String> {
    let state = node_state(dir);
    write_state(
        dir,
        NodeState {
            term: state.term.max(epoch),
            elected: state.elected.max(epoch),
        },
    )
}

/// Who should be primary, of the nodes heard from since the leader key was found gone
/// (`fresh`), among `members` nodes in all, with `sync_mirrors` standbys holding every
/// acknowledged append; or why not yet.
///
/// - At least `members - max(sync_mirrors, 1)` nodes must have been heard from: then at
///   least one of them holds every acknowledged append (the old primary among the absent).
/// - None of them may still be opening (its size unknown): it may hold the most.
/// - Of those ready, the latest term wins, then the longest log, then the smallest URL.
pub fn choose(
    fresh: &[NodeRecord],
    members: usize,
    sync_mirrors: usize,
) -> Result<&NodeRecord, String> {
    let need = members.saturating_sub(sync_mirrors.max(1)).max(1);
    if fresh.len() < need {
        return Err(format!(
            "heard from {} of {members} nodes; an election needs {need} (--sync-mirrors {sync_mirrors})",
            fresh.len()
        ));
    }
    if let Some(n) = fresh.iter().find(|n| n.size.is_none()) {
        return Err(format!("{} is still opening its ledger", n.url));
    }
    fresh
        .iter()
        .filter(|n| n.ready)
        .max_by(|a, b| {
            (a.term, a.size)
                .cmp(&(b.term, b.size))
                .then_with(|| b.url.cmp(&a.url))
        })
        .ok_or_else(|| "no node heard from can serve as primary yet".to_owned())
}

/// The coordinator: renews this node's lease, publishes its record, reads the leader key,
/// campaigns when it is free and this node should hold it, and tells the server which role
/// to run in. Runs until `stopping`; then lets the lease go, so that a successor is elected
/// at once rather than after the lease's time to live.
pub async fn coordinate(
    election: Election,
    etcd: Etcd,
    data: PathBuf,
    ledger: LedgerCell,
    lease: Lease,
    role: watch::Sender<Role>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut node = Node {
        election,
        etcd,
        data,
        ledger,
        lease,
        role,
        id: None,
        said: None,
        published: None,
        member: false,
        absent_since: None,
    };
    // Each round starts one tick after the last one started, and a round that etcd keeps
    // waiting is cut at one tick: the lease (renewed first thing in a round) is renewed at
    // least every two ticks, two thirds of its time to live, however slow the other calls.
    let every = node.election.tick();
    loop {
        let started = tokio::time::Instant::now();
        let tick = async {
            match tokio::time::timeout(every, node.tick()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => node.say(format!("etcd: {e}"), true),
                Err(_) => node.say(
                    format!("etcd: a round took longer than {every:?}; cut short"),
                    true,
                ),
            }
        };
        tokio::select! {
            () = tick => {}
            r = stopping.wait_for(|s| *s) => {
                let _ = r;
                break;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + every) => {}
            r = stopping.wait_for(|s| *s) => {
                let _ = r;
                break;
            }
        }
    }
    node.step_down().await;
}

/// The coordinator's state.
struct Node {
    election: Election,
    etcd: Etcd,
    data: PathBuf,
    ledger: LedgerCell,
    lease: Lease,
    role: watch::Sender<Role>,
    /// This node's etcd lease.
    id: Option<i64>,
    /// The last thing said about etcd (said again only when it changes).
    said: Option<String>,
    /// The record last put, and how many ticks ago.
    published: Option<(NodeRecord, u32)>,
    /// Whether this node's member key is in etcd.
    member: bool,
    /// The store's revision when the leader key was first found gone, this time: records
    /// put after it are current (none can grow without a primary).
    absent_since: Option<i64>,
}

/// A record not changed is put again after this many ticks anyway (and at every tick while
/// no primary holds the leader key, so that an election hears from every node afresh).
const REPUBLISH_TICKS: u32 = 15;

impl Node {
    fn say(&mut self, what: String, warn: bool) {
        if self.said.as_deref() != Some(what.as_str()) {
            if warn {
                tracing::warn!(node = %self.election.advertise, "failover: {what}");
            } else {
                tracing::info!(node = %self.election.advertise, "failover: {what}");
            }
            self.said = Some(what);
        }
    }

    fn set_role(&self, role: Role) {
        self.role.send_if_modified(|r| {
            if *r == role {
                return false;
            }
            tracing::info!(node = %self.election.advertise, from = ?r, to = ?role, "failover: role");
            *r = role;
            true
        });
    }

    /// This node's record now (the ledger is looked at, not kept open).
    fn record(&self) -> (NodeRecord, bool) {
        let (size, forked, ready) = match current(&self.ledger) {
            Some(l) => {
                let forked = l
                    .mirror()
                    .is_some_and(|m| matches!(m.status(), MirrorStatus::Stale { fork: true, .. }));
                let ready = !matches!(l.integrity(), crate::ledger::Integrity::Failed(_));
                (Some(l.head().size), forked, ready)
            }
            None => (None, false, false),
        };
        let record = NodeRecord {
            url: self.election.advertise.clone(),
            size,
            term: node_state(&self.data).term,
            ready,
        };
        (record, forked)
    }

    /// One round: the lease, the leader key, the record; then the role. The lease time it
    /// gains counts from before the renewal was sent.
    async fn tick(&mut self) -> Result<(), EtcdError> {
        let sent = clock_ms();
        let (ttl, renewed) = self.renew().await?;
        let until = sent + (ttl.saturating_sub(MARGIN)).as_millis() as u64;
        let id = self.id.unwrap_or_default();
        // The leader key lives by this lease: while the same lease is renewed, a key this
        // node held is still its own (only this node deletes it, at shutdown). A new lease
        // holds no key: a primary whose lease lapsed is primary no more.
        let primary = match *self.role.borrow() {
            Role::Primary { epoch } => Some(epoch),
            _ => None,
        };
        match primary {
            Some(epoch) if renewed => self.lease.hold_until(until, epoch),
            Some(_) => {
                self.lease.release();
                self.set_role(Role::Undecided);
            }
            None => {}
        }
        if !self.member {
            self.etcd.put(&self.election.member_key(), b"", 0).await?;
            self.member = true;
        }
        let key = self.election.leader_key();
        let (leader, revision) = self.etcd.get(&key).await?;
        let absent_since = match (&leader, self.absent_since) {
            (Some(_), _) => None,
            (None, Some(r)) => Some(r),
            (None, None) => Some(revision),
        };
        self.absent_since = absent_since;
        let (record, forked) = self.record();
        // The size matters only to an election: while a primary holds the key it changes
        // with every commit and is not put for that alone.
        let stale = match &self.published {
            Some((r, ticks)) => {
                (&r.url, r.term, r.ready, r.size.is_some())
                    != (
                        &record.url,
                        record.term,
                        record.ready,
                        record.size.is_some(),
                    )
                    || *ticks >= REPUBLISH_TICKS
            }
            None => true,
        };
        if stale || leader.is_none() {
            let value = serde_json::to_vec(&record).unwrap_or_default();
            self.etcd.put(&self.election.node_key(), &value, id).await?;
            self.published = Some((record.clone(), 0));
        } else if let Some((_, ticks)) = &mut self.published {
            *ticks += 1;
        }
        match leader {
            Some(k) if k.lease == id => {
                self.lease.hold_until(until, k.create_revision);
                self.said = None;
                self.set_role(Role::Primary {
                    epoch: k.create_revision,
                });
            }
            Some(k) => {
                self.lease.release();
                let Ok(l) = serde_json::from_slice::<LeaderRecord>(&k.value) else {
                    self.say(
                        format!("the leader key holds no leader record: {:?}", k.value),
                        true,
                    );
                    return Ok(());
                };
                if l.url == self.election.advertise {
                    // Held by this node's previous run, whose lease has not lapsed yet.
                    self.say(
                        "the leader key names this node under an older lease; waiting for it to lapse"
                            .into(),
                        false,
                    );
                    self.set_role(Role::Undecided);
                    return Ok(());
                }
                self.said = None;
                let epoch = k.create_revision;
                let elected = node_state(&self.data).elected;
                let role = if forked && elected > 0 && elected < epoch {
                    Role::Deposed {
                        leader: l.url,
                        epoch,
                    }
                } else {
                    Role::Mirror {
                        leader: l.url,
                        epoch,
                    }
                };
                self.set_role(role);
            }
            None => {
                // No primary. A node still serving as primary stops at once; a mirror
                // keeps serving what it holds (following a primary that is gone is
                // harmless) until the election's outcome.
                self.lease.release();
                if matches!(*self.role.borrow(), Role::Primary { .. }) {
                    self.set_role(Role::Undecided);
                }
                self.campaign(id, &record, absent_since.unwrap_or(revision), until)
                    .await?;
            }
        }
        Ok(())
    }

    /// Renews this node's lease, or takes a new one if it lapsed: its time to live, and
    /// whether it is the same lease as before.
    async fn renew(&mut self) -> Result<(Duration, bool), EtcdError> {
        if let Some(id) = self.id {
            let left = self.etcd.keep_alive(id).await?;
            if left > 0 {
                return Ok((Duration::from_secs(left as u64), true));
            }
            self.lease.release();
            self.published = None;
            self.say("this node's lease lapsed; taking a new one".into(), true);
        }
        let (id, ttl) = self
            .etcd
            .grant(self.election.ttl.as_secs().max(1) as i64)
            .await?;
        self.id = Some(id);
        self.published = None;
        Ok((Duration::from_secs(ttl.max(0) as u64), false))
    }

    /// No primary: takes the leader key if this node should hold it ([`choose`]), judged
    /// on the records put since the key was found gone (at `revision`).
    async fn campaign(
        &mut self,
        id: i64,
        mine: &NodeRecord,
        revision: i64,
        until: u64,
    ) -> Result<(), EtcdError> {
        let Some(size) = mine.size else {
            return Ok(());
        };
        // A term began and ended since the key was first found gone (this node missed it):
        // the records put before then are not current. Count afresh from now.
        let (last, now) = self.etcd.get(&self.election.last_term_key()).await?;
        if last.is_some_and(|k| k.mod_revision > revision) {
            self.absent_since = Some(now);
            return Ok(());
        }
        let members = self
            .etcd
            .prefixed(&self.election.members_prefix())
            .await?
            .len()
            .max(1);
        let fresh: Vec<NodeRecord> = self
            .etcd
            .prefixed(&self.election.nodes_prefix())
            .await?
            .into_iter()
            .filter(|k| k.mod_revision > revision)
            .filter_map(|k| serde_json::from_slice(&k.value).ok())
            .collect();
        let best = match choose(&fresh, members, self.election.sync_mirrors) {
            Ok(best) => best,
            Err(why) => {
                self.say(format!("no primary; {why}"), false);
                return Ok(());
            }
        };
        if best.url != self.election.advertise {
            self.say(
                format!(
                    "no primary; {} holds the latest log (term {}, {} entries) and should take it",
                    best.url,
                    best.term,
                    best.size.unwrap_or_default()
                ),
                false,
            );
            return Ok(());
        }
        let value = serde_json::to_vec(&LeaderRecord {
            url: self.election.advertise.clone(),
            size,
        })
        .unwrap_or_default();
        let last = self.election.last_term_key();
        if let Some(epoch) = self
            .etcd
            .create(&self.election.leader_key(), &value, id, (&last, b""))
            .await?
        {
            tracing::info!(
                node = %self.election.advertise,
                epoch,
                entries = size,
                "failover: elected primary"
            );
            self.said = None;
            self.lease.hold_until(until, epoch);
            self.set_role(Role::Primary { epoch });
        }
        Ok(())
    }

    /// At shutdown: no more appends here, and the leader key and record go with the lease.
    async fn step_down(&mut self) {
        self.lease.release();
        if let Some(id) = self.id.take() {
            let _ = self
                .etcd
                .delete_if_leased(&self.election.leader_key(), id)
                .await;
            if let Err(e) = self.etcd.revoke(id).await {
                tracing::warn!(error = %e, "failover: the lease could not be revoked; it lapses by itself");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(url: &str, term: i64, size: Option<u64>) -> NodeRecord {
        NodeRecord {
            url: url.into(),
            size,
            term,
            ready: true,
        }
    }

    fn chosen(nodes: &[NodeRecord], members: usize, sync: usize) -> Result<&str, String> {
        choose(nodes, members, sync).map(|n| n.url.as_str())
    }

    #[test]
    fn the_latest_term_then_the_longest_log_is_chosen_and_ties_go_to_the_smallest_url() {
        let nodes = [n("http://b", 4, Some(10)), n("http://a", 4, Some(9))];
        assert_eq!(chosen(&nodes, 3, 1), Ok("http://b"));
        let nodes = [n("http://b", 4, Some(10)), n("http://a", 4, Some(10))];
        assert_eq!(chosen(&nodes, 3, 1), Ok("http://a"));
        // A longer log of an older term holds what was never acknowledged.
        let nodes = [n("http://old", 3, Some(105)), n("http://a", 4, Some(103))];
        assert_eq!(chosen(&nodes, 3, 1), Ok("http://a"));
        let mut not_ready = n("http://b", 4, Some(200));
        not_ready.ready = false;
        let nodes = [not_ready, n("http://a", 4, Some(10))];
        assert_eq!(chosen(&nodes, 3, 1), Ok("http://a"));
    }

    #[test]
    fn an_election_waits_for_enough_nodes_and_for_those_still_opening() {
        // Three nodes, one standby confirming: both others must be heard from.
        let one = [n("http://a", 4, Some(10))];
        assert!(
            chosen(&one, 3, 1)
                .unwrap_err()
                .contains("heard from 1 of 3")
        );
        // Two confirming standbys of four: two others suffice.
        let two = [n("http://a", 4, Some(10)), n("http://b", 4, Some(11))];
        assert_eq!(chosen(&two, 4, 2), Ok("http://b"));
        let opening = [n("http://a", 4, Some(10)), n("http://b", 4, None)];
        assert!(
            chosen(&opening, 3, 1)
                .unwrap_err()
                .contains("still opening")
        );
        // A single node elects itself.
        assert_eq!(chosen(&one, 1, 0), Ok("http://a"));
        assert!(chosen(&[], 1, 0).is_err());
    }

    #[test]
    fn the_terms_recorded_never_go_back_and_survive_a_reread() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(node_state(dir.path()), NodeState::default());
        record_term(dir.path(), 5).unwrap();
        record_term(dir.path(), 3).unwrap();
        assert_eq!(
            node_state(dir.path()),
            NodeState {
                term: 5,
                elected: 0
            }
        );
        record_elected(dir.path(), 7).unwrap();
        record_term(dir.path(), 6).unwrap();
        assert_eq!(
            node_state(dir.path()),
            NodeState {
                term: 7,
                elected: 7
            }
        );
        // A damaged file reads as nothing known (never as a later term).
        std::fs::write(dir.path().join(STATE_FILE), b"{").unwrap();
        assert_eq!(node_state(dir.path()), NodeState::default());
    }

    #[test]
    fn a_deposed_node_follows_in_the_same_run_as_a_mirror() {
        let m = Role::Mirror {
            leader: "http://a".into(),
            epoch: 4,
        };
        let d = Role::Deposed {
            leader: "http://a".into(),
            epoch: 4,
        };
        assert!(d.same_run(&m));
        assert!(m.same_run(&m));
        assert!(!m.same_run(&Role::Primary { epoch: 4 }));
        assert!(!m.same_run(&Role::Mirror {
            leader: "http://a".into(),
            epoch: 5
        }));
    }
}

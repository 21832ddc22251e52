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

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ledger::{Lease, Ledger, MirrorStatus};
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
}

impl Election {
    /// How often the lease is renewed and the leader key read: three times per lease.
    pub fn tick(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(200))
    }

    fn leader_key(&self) -> Vec<u8> {
        format!("{}/leader", self.prefix).into_bytes()
    }

    fn nodes_prefix(&self) -> Vec<u8> {
        format!("{}/nodes/", self.prefix).into_bytes()
    }

    fn node_key(&self) -> Vec<u8> {
        format!("{}/nodes/{}", self.prefix, self.advertise).into_bytes()
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

/// A node's record under `<prefix>/nodes/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its `--advertise` URL.
    pub url: String,
    /// The entries its log holds; `None` while its ledger opens.
    pub size: Option<u64>,
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

/// The file, in the data directory, that records the terms this node was elected for: a
/// node that finds a newer primary and a log forked from it knows by it that the entries
/// only it holds are its own unacknowledged tail, not a primary's lie.
pub const ELECTED_FILE: &str = "elected.json";

/// What [`ELECTED_FILE`] holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Elected {
    /// The last term this node was primary for.
    pub epoch: i64,
}

/// The last term the node whose data is in `dir` was primary for (0: never).
pub fn elected_epoch(dir: &std::path::Path) -> i64 {
    std::fs::read(dir.join(ELECTED_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<Elected>(&b).ok())
        .map(|e| e.epoch)
        .unwrap_or(0)
}

/// Who should be primary among `nodes` (the longest log; ties to the smallest URL), or
/// `None` while a live node's size is not known yet (its ledger is still opening: it may
/// hold the longest log).
pub fn choose(nodes: &[NodeRecord]) -> Option<&NodeRecord> {
    if nodes.iter().any(|n| n.size.is_none()) {
        return None;
    }
    nodes
        .iter()
        .max_by(|a, b| a.size.cmp(&b.size).then_with(|| b.url.cmp(&a.url)))
}

/// The coordinator: renews this node's lease, publishes its record, reads the leader key,
/// campaigns when it is free and this node should hold it, and tells the server which role
/// to run in. Runs until `stopping`; then lets the lease go, so that a successor is elected
/// at once rather than after the lease's time to live.
pub async fn coordinate(
    election: Election,
    etcd: Etcd,
    data: std::path::PathBuf,
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
    };
    loop {
        if let Err(e) = node.tick().await {
            node.say(format!("etcd unreachable: {e}"), true);
        }
        tokio::select! {
            _ = tokio::time::sleep(node.election.tick()) => {}
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
    data: std::path::PathBuf,
    ledger: LedgerCell,
    lease: Lease,
    role: watch::Sender<Role>,
    /// This node's etcd lease.
    id: Option<i64>,
    /// The last thing said about etcd (said again only when it changes).
    said: Option<String>,
}

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

    /// One round: the lease, the record, the leader key. The lease time it gains counts
    /// from before the renewal was sent.
    async fn tick(&mut self) -> Result<(), EtcdError> {
        let sent = Instant::now();
        let ttl = self.renew().await?;
        let until = sent + ttl.saturating_sub(MARGIN);
        let id = self.id.unwrap_or_default();
        let open = current(&self.ledger);
        let size = open.as_ref().map(|l| l.head().size);
        let record = NodeRecord {
            url: self.election.advertise.clone(),
            size,
        };
        let value = serde_json::to_vec(&record).unwrap_or_default();
        self.etcd.put(&self.election.node_key(), &value, id).await?;
        let key = self.election.leader_key();
        let leader = self.etcd.get(&key).await?;
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
                let forked = open
                    .as_ref()
                    .and_then(|l| l.mirror())
                    .is_some_and(|m| matches!(m.status(), MirrorStatus::Stale { fork: true, .. }));
                let mine = elected_epoch(&self.data);
                let role = if forked && mine > 0 && mine < epoch {
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
                self.lease.release();
                self.campaign(id, size, until).await?;
            }
        }
        Ok(())
    }

    /// Renews this node's lease, or takes a new one if it lapsed: its time to live.
    async fn renew(&mut self) -> Result<Duration, EtcdError> {
        if let Some(id) = self.id {
            let left = self.etcd.keep_alive(id).await?;
            if left > 0 {
                return Ok(Duration::from_secs(left as u64));
            }
            self.lease.release();
            self.say("this node's lease lapsed; taking a new one".into(), true);
        }
        let (id, ttl) = self
            .etcd
            .grant(self.election.ttl.as_secs().max(1) as i64)
            .await?;
        self.id = Some(id);
        Ok(Duration::from_secs(ttl.max(0) as u64))
    }

    /// No primary: takes the leader key if this node holds the longest log of the live
    /// nodes.
    async fn campaign(
        &mut self,
        id: i64,
        size: Option<u64>,
        until: Instant,
    ) -> Result<(), EtcdError> {
        self.set_role(Role::Undecided);
        let Some(size) = size else {
            return Ok(());
        };
        let nodes: Vec<NodeRecord> = self
            .etcd
            .prefixed(&self.election.nodes_prefix())
            .await?
            .into_iter()
            .filter_map(|k| serde_json::from_slice(&k.value).ok())
            .collect();
        let Some(best) = choose(&nodes) else {
            self.say(
                "no primary; waiting for every node to publish the size of its log".into(),
                false,
            );
            return Ok(());
        };
        if best.url != self.election.advertise {
            self.say(
                format!(
                    "no primary; {} holds the longest log ({} entries) and should take it",
                    best.url,
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
        if let Some(epoch) = self
            .etcd
            .create(&self.election.leader_key(), &value, id)
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

    fn n(url: &str, size: Option<u64>) -> NodeRecord {
        NodeRecord {
            url: url.into(),
            size,
        }
    }

    #[test]
    fn the_longest_log_is_chosen_and_ties_go_to_the_smallest_url() {
        let nodes = [n("http://b", Some(10)), n("http://a", Some(9))];
        assert_eq!(choose(&nodes).map(|n| n.url.as_str()), Some("http://b"));
        let nodes = [n("http://b", Some(10)), n("http://a", Some(10))];
        assert_eq!(choose(&nodes).map(|n| n.url.as_str()), Some("http://a"));
        let nodes = [n("http://b", Some(10)), n("http://a", None)];
        assert_eq!(choose(&nodes), None, "a node still opening may hold more");
        assert_eq!(choose(&[]), None);
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

//! The server's runs under an election: each role the coordinator decides is served by one
//! run of the ledger's server ([`crate::server::run`]) on the same addresses, opened for that
//! role (primary, mirror of the primary etcd names, or read-only while undecided); a change
//! of role ends the run gracefully (in-flight calls finish, the ledger is closed and its
//! snapshot written) and the next starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Election, LedgerCell, Role, coordinate, etcd::Etcd};
use crate::ledger::{Lease, LedgerOptions};
use crate::mirror::FollowConfig;
use crate::server::{self, HttpListener, ServerConfig, ServerError};

/// What a mirror run reads a primary with (`--follow-token`, `--follow-tls-ca`); the
/// primary's URL comes from etcd.
#[derive(Debug, Clone)]
pub struct Peers {
    /// Token and CA, with an empty `server`.
    pub connect: crate::cli::client::Connect,
    /// The key every primary of this log signs with (the shared `--checkpoint-key`).
    pub key: crate::merkle::VerifierKey,
}

/// What a read-only run names as its primary before one is elected.
pub const UNDECIDED: &str = "no primary elected yet (serve --etcd)";

/// Serves `config`'s ledger in the role the election gives this node, run after run, until
/// `shutdown` completes. The first run uses `listener` (and the HTTP listener of
/// `config`); later ones bind the same addresses again.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    election: Election,
    peers: Peers,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    let http_addr = config.http.as_ref().and_then(|h| h.local_addr());
    let etcd = Etcd::connect(
        &election.endpoints,
        election.tick().max(Duration::from_secs(1)),
    )
    .map_err(|e| ServerError::Config(e.to_string()))?;
    let (stop_tx, stopping) = watch::channel(false);
    let (role_tx, roles) = watch::channel(Role::Undecided);
    let lease = Lease::default();
    let cell: LedgerCell = Arc::new(Mutex::new(Weak::new()));
    let coordinator = tokio::spawn(coordinate(
        election,
        etcd,
        config.data.clone(),
        cell.clone(),
        lease.clone(),
        role_tx,
        stopping,
    ));
    let runs = Runs {
        config,
        peers,
        lease,
        cell,
        addr,
        http_addr,
    };
    let result = runs.serve(listener, roles, shutdown).await;
    // Whatever ended the runs: no more appends here, and the coordinator lets the lease go,
    // so a successor is elected at once.
    runs.lease.release();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), coordinator).await;
    result
}

/// What every run shares.
struct Runs {
    config: ServerConfig,
    peers: Peers,
    lease: Lease,
    cell: LedgerCell,
    addr: SocketAddr,
    http_addr: Option<SocketAddr>,
}

impl Runs {
    /// Runs the server in each role in turn until `shutdown`.
    async fn serve(
        &self,
        listener: TcpListener,
        mut roles: watch::Receiver<Role>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ServerError> {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut first = Some((listener, self.config.http.clone()));
        // The last run's ledger, until it is closed.
        let mut last: Weak<crate::ledger::Ledger> = Weak::new();
        loop {
            let role = roles.borrow_and_update().clone();
            if let Role::Deposed { leader, epoch } = &role {
                self.set_aside(*epoch, leader, &last).await?;
            }
            if let Role::Primary { epoch } = role {
                let data = self.config.data.clone();
                tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
                    super::record_elected(&data, epoch)
                })
                .await
                .map_err(|e| ServerError::Config(e.to_string()))?
                .map_err(|e| {
                    ServerError::Config(format!(
                        "recording the election in {}: {e}",
                        self.config.data.display()
                    ))
                })?;
            }
            let (listener, http) = match first.take() {
                Some(l) => l,
                None => rebind(self.addr, self.http_addr).await?,
            };
            let run_config = self.for_role(&role, http);
            tracing::info!(?role, "failover: serving in this role");
            let mut stopped = false;
            let mut coordinator_gone = false;
            let ended = {
                let roles = &mut roles;
                let stopped = &mut stopped;
                let gone = &mut coordinator_gone;
                let shutdown = &mut shutdown;
                let role = role.clone();
                server::run(listener, run_config, async move {
                    tokio::select! {
                        () = shutdown => *stopped = true,
                        r = roles.wait_for(|r| !role.same_run(r)) => *gone = r.is_err(),
                    }
                })
                .await
            };
            // The coordinator no longer looks at that run's ledger.
            if let Ok(mut c) = self.cell.lock() {
                last = std::mem::take(&mut *c);
            }
            ended?;
            if stopped {
                return Ok(());
            }
            if coordinator_gone {
                return Err(ServerError::Config(
                    "the failover coordinator stopped; not serving without it".into(),
                ));
            }
        }
    }

    /// Moves a deposed node's data directory aside, whole (its unacknowledged tail, its fork
    /// evidence, everything), so that it copies the log of the primary of `epoch` from
    /// nothing. Nothing is deleted: an operator may read what only this node held. Waits
    /// until the last run's ledger is closed.
    async fn set_aside(
        &self,
        epoch: i64,
        leader: &str,
        last: &Weak<crate::ledger::Ledger>,
    ) -> Result<(), ServerError> {
        let data = &self.config.data;
        let to = set_aside_dir(data, epoch);
        for _ in 0..100 {
            if last.strong_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if last.strong_count() > 0 {
            return Err(ServerError::Config(format!(
                "{} is still open 10 s after its run ended; not setting it aside",
                data.display()
            )));
        }
        if to.exists() {
            return Err(ServerError::Config(format!(
                "{} holds entries the primary {leader} does not, and {} (where it would be set \
                 aside) exists already: move one of them away",
                data.display(),
                to.display()
            )));
        }
        std::fs::rename(data, &to)
            .and_then(|()| std::fs::create_dir_all(data))
            .map_err(|e| {
                ServerError::Config(format!(
                    "setting {} aside as {}: {e}",
                    data.display(),
                    to.display()
                ))
            })?;
        if let Some(parent) = data.parent() {
            let _ = crate::atomic::sync_dir(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            });
        }
        tracing::error!(
            data = %data.display(),
            set_aside = %to.display(),
            primary = %leader,
            epoch,
            "failover: this node was primary in an earlier term and holds entries the primary \
             does not (appended, never acknowledged): its data directory is set aside whole, \
             and the log is copied again from the primary"
        );
        Ok(())
    }

    /// The server's configuration for one run in `role`.
    fn for_role(&self, role: &Role, http: Option<HttpListener>) -> ServerConfig {
        let base = &self.config;
        let (follow, mirror_of, fence) = match role {
            Role::Primary { epoch } => (None, None, Some(self.lease.for_term(*epoch))),
            Role::Mirror { leader, epoch } | Role::Deposed { leader, epoch } => {
                let mut connect = self.peers.connect.clone();
                connect.server = leader.clone();
                let follow = FollowConfig {
                    connect,
                    key: Some(self.peers.key.clone()),
                    retry: crate::mirror::DEFAULT_RETRY,
                    term: Some(*epoch),
                };
                (Some(follow), Some(leader.clone()), None)
            }
            Role::Undecided => (None, Some(UNDECIDED.to_owned()), None),
        };
        ServerConfig {
            data: base.data.clone(),
            ledger: LedgerOptions {
                // A mirror waits for no mirror of its own.
                sync: if mirror_of.is_some() {
                    crate::ledger::SyncConfig {
                        mirrors: 0,
                        ..base.ledger.sync.clone()
                    }
                } else {
                    base.ledger.sync.clone()
                },
                mirror_of,
                lease: fence,
                ..base.ledger.clone()
            },
            access: base.access.clone(),
            tls: base.tls.clone(),
            max_message_bytes: base.max_message_bytes,
            shutdown_grace: base.shutdown_grace,
            http,
            follow,
            opened: Some(self.cell.clone()),
        }
    }
}

/// Binds the gRPC and HTTP addresses again for the next run (the last run's listeners were
/// closed with it); tries for a while, since a socket may linger a moment.
async fn rebind(
    addr: SocketAddr,
    http: Option<SocketAddr>,
) -> Result<(TcpListener, Option<HttpListener>), ServerError> {
    let mut tries = 0;
    loop {
        let bound = async {
            let l = TcpListener::bind(addr).await?;
            let h = match http {
                Some(a) => Some(HttpListener::bound(std::net::TcpListener::bind(a)?)),
                None => None,
            };
            Ok::<_, std::io::Error>((l, h))
        }
        .await;
        match bound {
            Ok(b) => return Ok(b),
            Err(e) if tries < 50 => {
                tries += 1;
                tracing::debug!(error = %e, "failover: binding again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(ServerError::Transport(format!(
                    "cannot listen on {addr} again for the next role: {e}"
                )));
            }
        }
    }
}

/// Where a deposed node's data directory is set aside for the term `epoch`.
pub fn set_aside_dir(data: &Path, epoch: i64) -> PathBuf {
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    data.with_file_name(format!("{name}.deposed-{epoch}"))
}

//! The gRPC server: opens the ledger, serves the Ledger and Audit services, health and
//! reflection on an already bound listener, and shuts down gracefully.
//!
//! **Contracts.**
//! - [`run`] MUST refuse to serve without an access file on a non-loopback address.
//! - On shutdown the server stops accepting connections, lets in-flight requests finish (so
//!   every append a client sees acknowledged is durable, and every append handed to the
//!   writer completes), ends live subscriptions with `UNAVAILABLE`, stops the writer, and
//!   only then returns, so the data directory can be reopened at once.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::grpc::audit_service::AuditService;
use crate::grpc::auth::Access;
use crate::grpc::ledger_service::LedgerService;
use crate::grpc::query_service::QueryService;
use crate::grpc::{Shared, auth};
use crate::ledger::{Ledger, LedgerError, LedgerOptions};
use crate::proto::audit_server::AuditServer;
use crate::proto::ledger_server::LedgerServer;
use crate::proto::query_server::QueryServer;

/// Default largest gRPC message, either way: room for a full append of 1000 events.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Default time shutdown waits for open connections.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Certificate and key files (PEM) for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// The HTTP face's listener (docs/HTTP.md), bound by the caller so that a test or a script
/// can listen on port 0 and learn the port. Cloning shares the one listener: the first
/// server to start takes it.
#[derive(Debug, Clone)]
pub struct HttpListener(Arc<std::sync::Mutex<Option<std::net::TcpListener>>>);

impl HttpListener {
    /// The HTTP face on an already bound listener.
    pub fn bound(l: std::net::TcpListener) -> HttpListener {
        HttpListener(Arc::new(std::sync::Mutex::new(Some(l))))
    }

    fn take(&self) -> Option<std::net::TcpListener> {
        self.0.lock().ok().and_then(|mut l| l.take())
    }
}

/// Everything the server needs besides its listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The data directory.
    pub data: PathBuf,
    /// How to open the ledger (origin, key file, events per append).
    pub ledger: LedgerOptions,
    /// Who may do what ([`Access::Open`] without an access file).
    pub access: Access,
    /// TLS, if any.
    pub tls: Option<TlsFiles>,
    /// Largest message accepted or sent.
    pub max_message_bytes: usize,
    /// How long shutdown waits for connections to finish before closing them (a client
    /// that stops reading a stream must not keep the server up forever).
    pub shutdown_grace: Duration,
    /// The HTTP face, if any (`serve --http`; off in [`ServerConfig::new`]).
    pub http: Option<HttpListener>,
}

impl ServerConfig {
    /// A configuration with defaults for everything but the data directory.
    pub fn new(data: PathBuf) -> ServerConfig {
        ServerConfig {
            data,
            ledger: LedgerOptions::default(),
            access: Access::Open,
            tls: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            http: None,
        }
    }
}

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No access file, and not on loopback.
    #[error(
        "refusing to listen on {0} without an access file: without one everyone is admin. \
         Give --config FILE (see `rotaledger token new`), or listen on 127.0.0.1"
    )]
    OpenOnPublicAddress(std::net::SocketAddr),
    /// The ledger could not be opened.
    #[error(
        "cannot open the ledger in {data}: {source}; refusing to serve. Locate the damage with \
         `rotaledger verify --data {data}` and restore from the last export (docs/RELIABILITY.md)"
    )]
    Ledger {
        /// The data directory.
        data: String,
        /// What went wrong.
        source: LedgerError,
    },
    /// The stored log does not verify from its head: the server will not serve it, and does
    /// not repair it (a silent repair would hide tampering or lose acknowledged entries).
    #[error(
        "the log in {data} does not verify: first bad entry {seq}: {problem}; refusing to serve. \
         Locate the damage with `rotaledger verify --data {data}` and restore from the last \
         export (docs/RELIABILITY.md)"
    )]
    Corrupt {
        /// The data directory.
        data: String,
        /// The first bad entry (or position).
        seq: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// TLS files could not be read or used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listener or the transport failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// Serves on `listener` until `shutdown` completes, then shuts down gracefully.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    check_listener(&listener, &config)?;
    let ledger = open_ledger(&config).await?;
    serve_opened(listener, config, ledger, shutdown).await
}

/// Refuses an open (no access file) server on a non-loopback address, and says loudly that a
/// loopback one is open.
fn check_listener(listener: &TcpListener, config: &ServerConfig) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    if config.access.is_open() {
        if !addr.ip().is_loopback() {
            return Err(ServerError::OpenOnPublicAddress(addr));
        }
        tracing::warn!(
            %addr,
            "no access file: every caller is admin and appends are recorded as actor {:?}; \
             listening on loopback only",
            auth::LOCAL_ACTOR
        );
    }
    Ok(())
}

/// Starts the HTTP face on `listener` over the same services, refused like the gRPC one on a
/// non-loopback address without an access file.
fn start_http(
    listener: std::net::TcpListener,
    config: &ServerConfig,
    shared: Shared,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    if config.access.is_open() && !addr.ip().is_loopback() {
        return Err(ServerError::OpenOnPublicAddress(addr));
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::Transport(format!("HTTP listener: {e}")))?;
    let listener = TcpListener::from_std(listener)
        .map_err(|e| ServerError::Transport(format!("HTTP listener: {e}")))?;
    let router = crate::http::router(shared.clone(), config.max_message_bytes);
    let stopping = shared.stopping.clone();
    tracing::info!(%addr, "serving HTTP");
    Ok(tokio::spawn(async move {
        if let Err(e) = crate::http::serve(listener, router, stopping).await {
            tracing::error!(error = %e, "the HTTP face stopped");
        }
    }))
}

/// Opens the ledger of `config` and checks the whole log before anything is served; a log
/// that does not verify is refused, never repaired.
pub async fn open_ledger(config: &ServerConfig) -> Result<Ledger, ServerError> {
    let data = config.data.clone();
    let opts = config.ledger.clone();
    let shown = config.data.display().to_string();
    // Opening replays every entry and checks each hash, link and the Merkle root against the
    // stored head in the same pass, so a damaged body or node is found here rather than by the
    // first auditor who asks.
    let ledger = tokio::task::spawn_blocking(move || Ledger::open(&data, opts))
        .await
        .map_err(|e| ServerError::Transport(format!("opening the ledger: {e}")))?
        .map_err(|source| match source {
            LedgerError::Corrupt(f) => ServerError::Corrupt {
                data: shown.clone(),
                seq: f.seq,
                problem: f.problem.to_string(),
            },
            source => ServerError::Ledger {
                data: shown.clone(),
                source,
            },
        })?;
    Ok(ledger)
}

/// Serves an already opened `ledger` on `listener` until `shutdown` completes, then shuts
/// down gracefully and closes the ledger. `serve --demo` opens the ledger with
/// [`open_ledger`], loads it, then hands it here.
pub async fn serve_ledger(
    listener: TcpListener,
    config: ServerConfig,
    ledger: Ledger,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    if let Err(e) = check_listener(&listener, &config) {
        let _ = tokio::task::spawn_blocking(move || ledger.shutdown()).await;
        return Err(e);
    }
    serve_opened(listener, config, ledger, shutdown).await
}

/// [`serve_ledger`] once the listener is checked.
async fn serve_opened(
    listener: TcpListener,
    config: ServerConfig,
    ledger: Ledger,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    let tls = match &config.tls {
        Some(t) => {
            let cert = std::fs::read(&t.cert)
                .map_err(|e| ServerError::Tls(format!("{}: {e}", t.cert.display())))?;
            let key = std::fs::read(&t.key)
                .map_err(|e| ServerError::Tls(format!("{}: {e}", t.key.display())))?;
            Some(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
        }
        None => None,
    };

    let ledger = Arc::new(ledger);
    let head = ledger.head();
    tracing::info!(
        data = %config.data.display(),
        entries = head.size,
        head = %hex::encode(head.hash),
        key = %ledger.verifier_key(),
        "ledger open"
    );

    let (stop_tx, stopping) = watch::channel(false);
    let shared = Shared {
        ledger: ledger.clone(),
        access: Arc::new(config.access.clone()),
        max_events: config.ledger.max_events_per_append,
        stopping,
    };
    let n = config.max_message_bytes;
    let http = match config.http.as_ref().and_then(HttpListener::take) {
        Some(l) => Some(start_http(l, &config, shared.clone())?),
        None => None,
    };
    let ledger_svc = LedgerServer::new(LedgerService::new(shared.clone()))
        .max_decoding_message_size(n)
        .max_encoding_message_size(n);
    let audit_svc = AuditServer::new(AuditService::new(shared.clone()))
        .max_decoding_message_size(n)
        .max_encoding_message_size(n);
    let query_svc = QueryServer::new(QueryService::new(shared.clone()))
        .max_decoding_message_size(n)
        .max_encoding_message_size(n);

    let (health, health_svc) = tonic_health::server::health_reporter();
    health.set_serving::<LedgerServer<LedgerService>>().await;
    health.set_serving::<AuditServer<AuditService>>().await;
    health.set_serving::<QueryServer<QueryService>>().await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Transport(format!("reflection: {e}")))?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ServerError::Transport(format!("reflection: {e}")))?;

    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
    }
    let router = builder
        .add_service(health_svc)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ledger_svc)
        .add_service(audit_svc)
        .add_service(query_svc);

    let (grace_tx, grace_rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = {
        let health = health.clone();
        async move {
            shutdown.await;
            let _ = grace_tx.send(());
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            health
                .set_not_serving::<LedgerServer<LedgerService>>()
                .await;
            health.set_not_serving::<AuditServer<AuditService>>().await;
            health.set_not_serving::<QueryServer<QueryService>>().await;
            let _ = stop_tx.send(true);
        }
    };
    tracing::info!(%addr, tls = config.tls.is_some(), "serving");
    // Nagle's algorithm on the accepted sockets holds a small response back until the
    // client's delayed ACK (~40 ms on Linux): every unary answer would take that long.
    // `Server::tcp_nodelay` only applies to listeners tonic binds itself, so set it here.
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.and_then(|stream| {
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    });
    let serve = router.serve_with_incoming_shutdown(incoming, stopped);
    let grace = config.shutdown_grace;
    let grace_over = async move {
        match grace_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            // The transport ended on its own; `serve` completes first.
            Err(_) => std::future::pending().await,
        }
    };
    let served = tokio::select! {
        r = serve => r.map_err(|e| ServerError::Transport(e.to_string())),
        () = grace_over => {
            tracing::warn!(?grace, "connections still open after the grace period; closing them");
            Ok(())
        }
    };

    // The HTTP face stops with the gRPC one (it watches the same `stopping`), within the
    // same grace.
    if let Some(h) = http
        && tokio::time::timeout(grace, h).await.is_err()
    {
        tracing::warn!(?grace, "HTTP connections still open after the grace period");
    }
    // Whatever happened to the transport, stop the writer so queued appends finish and the
    // store is flushed before returning.
    drop(shared);
    let l = ledger.clone();
    let _ = tokio::task::spawn_blocking(move || l.shutdown()).await;
    // Streams still draining hold clones of the ledger for a moment; wait for them (bounded)
    // so the store is closed when `run` returns.
    let mut ledger = ledger;
    for _ in 0..200 {
        match Arc::try_unwrap(ledger) {
            Ok(l) => {
                drop(l);
                tracing::info!("ledger closed");
                return served;
            }
            Err(still_shared) => {
                ledger = still_shared;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
    tracing::warn!("ledger still referenced after shutdown; closing when the last reader ends");
    served
}

//! The gRPC server: opens the ledger, serves the Ledger and Audit services, health and
//! reflection on an already bound listener, and shuts down gracefully.
//!
//! **Contracts.**
//! - [`run`] MUST refuse to serve without an access file on a non-loopback address.
//! - While the ledger opens (replaying and verifying the log), the server MUST answer at once:
//!   health `NOT_SERVING`, every rotaledger call `UNAVAILABLE`. Health turns `SERVING`, and
//!   `ready` is logged, only when the ledger serves.
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
use tokio::task::JoinHandle;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::grpc::audit_service::AuditService;
use crate::grpc::auth::Access;
use crate::grpc::gate::Gate;
use crate::grpc::ledger_service::LedgerService;
use crate::grpc::query_service::QueryService;
use crate::grpc::wire::RequestErrors;
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

    /// The address it listens on (`None` once taken by a server).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.0
            .lock()
            .ok()
            .and_then(|l| l.as_ref().and_then(|l| l.local_addr().ok()))
    }

    pub(crate) fn take(&self) -> Option<std::net::TcpListener> {
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
    /// Follow a primary as its mirror (`serve --follow`; the ledger must be opened with
    /// [`LedgerOptions::mirror_of`]).
    pub follow: Option<crate::mirror::FollowConfig>,
    /// Where the ledger is shown, once open, to whoever watches it without keeping it open
    /// (the failover coordinator reads its size and how it follows).
    pub opened: Option<crate::failover::LedgerCell>,
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
            follow: None,
            opened: None,
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
    /// The options given cannot be served as they are.
    #[error("{0}")]
    Config(String),
}

/// Serves on `listener` until `shutdown` completes, then shuts down gracefully.
///
/// Connections are accepted and health is answered from the start; the ledger is opened
/// meanwhile (replaying and verifying the log). Until it serves, `grpc.health.v1.Health`
/// answers `NOT_SERVING` and every rotaledger call `UNAVAILABLE`, at once; then health turns
/// `SERVING` and a `ready` line is logged.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    check_listener(&listener, &config)?;
    let tls = tls_config(&config)?;
    let open = open_ledger(&config);
    serve_with(listener, config, tls, Opening::Pending(open), shutdown).await
}

/// Refuses an open server (no access file) on a non-loopback address: the check `serve`
/// makes before it binds, and [`run`] again on the listener it is given.
pub fn check_access(addr: std::net::SocketAddr, access: &Access) -> Result<(), ServerError> {
    if access.is_open() && !addr.ip().is_loopback() {
        return Err(ServerError::OpenOnPublicAddress(addr));
    }
    Ok(())
}

/// Refuses an open (no access file) server on a non-loopback address, and says loudly that a
/// loopback one is open.
pub(crate) fn check_listener(
    listener: &TcpListener,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    check_access(addr, &config.access)?;
    if config.access.is_open() {
        tracing::warn!(
            %addr,
            "no access file: every caller is admin and appends are recorded as actor {:?}; \
             listening on loopback only",
            auth::LOCAL_ACTOR
        );
    }
    Ok(())
}

/// Reads the TLS certificate and key, before anything is served.
pub(crate) fn tls_config(config: &ServerConfig) -> Result<Option<ServerTlsConfig>, ServerError> {
    let Some(t) = &config.tls else {
        return Ok(None);
    };
    let cert = std::fs::read(&t.cert)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", t.cert.display())))?;
    let key =
        std::fs::read(&t.key).map_err(|e| ServerError::Tls(format!("{}: {e}", t.key.display())))?;
    Ok(Some(
        ServerTlsConfig::new().identity(Identity::from_pem(cert, key)),
    ))
}

/// The HTTP face's listener, and its TLS when gRPC has TLS.
pub(crate) struct HttpFace {
    pub(crate) listener: TcpListener,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
}

/// Readies the HTTP face's listener, refused like the gRPC one on a non-loopback address
/// without an access file, with the same certificate as gRPC when there is one.
pub(crate) fn prepare_http(
    listener: std::net::TcpListener,
    config: &ServerConfig,
) -> Result<HttpFace, ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    check_access(addr, &config.access)?;
    let tls = match &config.tls {
        Some(t) => {
            let cert = std::fs::read(&t.cert)
                .map_err(|e| ServerError::Tls(format!("{}: {e}", t.cert.display())))?;
            let key = std::fs::read(&t.key)
                .map_err(|e| ServerError::Tls(format!("{}: {e}", t.key.display())))?;
            Some(crate::http::tls::server_config(&cert, &key).map_err(ServerError::Tls)?)
        }
        None => None,
    };
    listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::Transport(format!("HTTP listener: {e}")))?;
    let listener = TcpListener::from_std(listener)
        .map_err(|e| ServerError::Transport(format!("HTTP listener: {e}")))?;
    Ok(HttpFace { listener, tls })
}

/// Opens the ledger of `config` and checks the whole log before anything is served; a log
/// that does not verify is refused, never repaired. The future owns what it needs, so it can
/// run while the server answers health checks.
pub fn open_ledger(
    config: &ServerConfig,
) -> impl Future<Output = Result<Ledger, ServerError>> + Send + 'static {
    let data = config.data.clone();
    let opts = config.ledger.clone();
    let shown = config.data.display().to_string();
    async move {
        // Opening replays every entry and checks each hash, link and the Merkle root against
        // the stored head in the same pass, so a damaged body or node is found here rather
        // than by the first auditor who asks.
        tokio::task::spawn_blocking(move || Ledger::open(&data, opts))
            .await
            .map_err(|e| ServerError::Transport(format!("opening the ledger: {e}")))?
            .map_err(|source| not_opened(&shown, source))
    }
}

/// Why the ledger in `data` could not be opened: a log that does not verify names its first
/// bad entry.
pub(crate) fn not_opened(data: &str, source: LedgerError) -> ServerError {
    match source {
        LedgerError::Corrupt(f) => ServerError::Corrupt {
            data: data.to_owned(),
            seq: f.seq,
            problem: f.problem.to_string(),
        },
        source => ServerError::Ledger {
            data: data.to_owned(),
            source,
        },
    }
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
    let tls = check_listener(&listener, &config).and_then(|()| tls_config(&config));
    match tls {
        Ok(tls) => {
            let opened = Opening::<std::future::Pending<_>>::Opened(Box::new(ledger));
            serve_with(listener, config, tls, opened, shutdown).await
        }
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || ledger.shutdown()).await;
            Err(e)
        }
    }
}

/// The ledger to serve: already open, or being opened.
enum Opening<F> {
    /// Open: served as soon as the transport is.
    Opened(Box<Ledger>),
    /// Being opened: the transport answers (health `NOT_SERVING`, calls `UNAVAILABLE`)
    /// until it is.
    Pending(F),
}

/// The rotaledger services, each answering `UNAVAILABLE` until the ledger is open.
#[derive(Default)]
struct Gates {
    ledger: Gate<RequestErrors<LedgerServer<LedgerService>>>,
    audit: Gate<RequestErrors<AuditServer<AuditService>>>,
    query: Gate<RequestErrors<QueryServer<QueryService>>>,
}

impl Gates {
    /// Lets calls through to services over `shared`, with messages of at most `n` bytes.
    fn open(&self, shared: &Shared, n: usize) {
        self.ledger.open(RequestErrors::new(
            LedgerServer::new(LedgerService::new(shared.clone()))
                .max_decoding_message_size(n)
                .max_encoding_message_size(n),
            n,
        ));
        self.audit.open(RequestErrors::new(
            AuditServer::new(AuditService::new(shared.clone()))
                .max_decoding_message_size(n)
                .max_encoding_message_size(n),
            n,
        ));
        self.query.open(RequestErrors::new(
            QueryServer::new(QueryService::new(shared.clone()))
                .max_decoding_message_size(n)
                .max_encoding_message_size(n),
            n,
        ));
    }
}

/// Sets the health of each rotaledger service, then of the server (""): a readiness probe
/// that sees the server `SERVING` sees every service so too.
async fn set_health(health: &HealthReporter, status: ServingStatus) {
    for service in [
        <LedgerServer<LedgerService> as NamedService>::NAME,
        <AuditServer<AuditService> as NamedService>::NAME,
        <QueryServer<QueryService> as NamedService>::NAME,
        "",
    ] {
        health.set_service_status(service, status).await;
    }
}

/// The response header every answer of a mirror carries: how it stands with its primary
/// (`connecting`, `following`, `stale`, `forked`), so that a client that reads only answers
/// still sees that they may lag the primary (docs/MIRRORS.md).
pub const MIRROR_HEADER: &str = "rotaledger-mirror";

/// Where the mirror's status is read from once the ledger is open (unset on a primary).
type MirrorCell = Arc<std::sync::OnceLock<watch::Receiver<crate::ledger::MirrorStatus>>>;

/// Adds [`MIRROR_HEADER`] to every gRPC answer of a mirror.
#[derive(Clone, Default)]
struct MirrorHeader(MirrorCell);

impl<S> tower::Layer<S> for MirrorHeader {
    type Service = MirrorHeaderService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MirrorHeaderService {
            inner,
            status: self.0.clone(),
        }
    }
}

/// The service of [`MirrorHeader`].
#[derive(Clone)]
struct MirrorHeaderService<S> {
    inner: S,
    status: MirrorCell,
}

impl<S, Req, B> tower::Service<Req> for MirrorHeaderService<S>
where
    S: tower::Service<Req, Response = axum::http::Response<B>>,
    S::Future: Send + 'static,
{
    type Response = axum::http::Response<B>;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<axum::http::Response<B>, S::Error>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let word = self.status.get().map(|s| s.borrow().word());
        let answer = self.inner.call(req);
        Box::pin(async move {
            let mut res = answer.await?;
            if let Some(w) = word {
                res.headers_mut()
                    .insert(MIRROR_HEADER, axum::http::HeaderValue::from_static(w));
            }
            Ok(res)
        })
    }
}

/// The health service name that tells whether a mirror is following its primary.
pub const MIRROR_HEALTH: &str = "rotaledger.mirror";

/// Keeps [`MIRROR_HEALTH`] `SERVING` while the mirror follows its primary and `NOT_SERVING`
/// otherwise (connecting, stale, forked); the server itself stays `SERVING` meanwhile, since
/// a mirror answers from what it verified.
async fn mirror_health(
    mut status: watch::Receiver<crate::ledger::MirrorStatus>,
    health: HealthReporter,
) {
    loop {
        let following = matches!(
            *status.borrow_and_update(),
            crate::ledger::MirrorStatus::Following
        );
        let s = if following {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        health.set_service_status(MIRROR_HEALTH, s).await;
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// What serving an open ledger takes, shared by the startup paths.
struct Serving<'a> {
    config: &'a ServerConfig,
    gates: &'a Gates,
    health: &'a HealthReporter,
    /// Given to the services, so live streams end at shutdown.
    stopping: watch::Receiver<bool>,
    addr: std::net::SocketAddr,
    tls: bool,
    /// Read by [`MirrorHeader`] on every answer.
    mirror_header: MirrorCell,
    /// The HTTP face, which answers with the services from the same moment the gates open.
    face: &'a crate::http::Face,
}

impl Serving<'_> {
    /// Opens the gates to services over `ledger` and the HTTP face's routes, turns health
    /// `SERVING` and logs `ready`: whoever sees either of the last two is served on both
    /// faces.
    async fn start(&self, ledger: Ledger) -> (Arc<Ledger>, Shared) {
        let ledger = Arc::new(ledger);
        let head = ledger.head();
        tracing::info!(
            data = %self.config.data.display(),
            entries = head.size,
            head = %hex::encode(head.hash),
            key = %ledger.verifier_key(),
            "ledger open"
        );
        let shared = Shared {
            ledger: ledger.clone(),
            access: Arc::new(self.config.access.clone()),
            max_events: self.config.ledger.max_events_per_append,
            stopping: self.stopping.clone(),
        };
        // Gates first: once health says SERVING, every call is served.
        self.gates.open(&shared, self.config.max_message_bytes);
        self.face
            .serving(shared.clone(), self.config.max_message_bytes);
        set_health(self.health, ServingStatus::Serving).await;
        if let Some(follow) = &self.config.follow {
            tokio::spawn(crate::mirror::follow(
                ledger.clone(),
                follow.clone(),
                self.stopping.clone(),
            ));
        }
        if let Some(cell) = &self.config.opened
            && let Ok(mut c) = cell.lock()
        {
            *c = Arc::downgrade(&ledger);
        }
        if let Some(m) = ledger.mirror() {
            tokio::spawn(mirror_health(m.watch_status(), self.health.clone()));
            let _ = self.mirror_header.set(m.watch_status());
        }
        tracing::info!(addr = %self.addr, tls = self.tls, entries = head.size, "ready: serving the ledger");
        (ledger, shared)
    }
}

/// Serves on `listener` from now on, the ledger once it is open; shuts down gracefully when
/// `shutdown` completes (also while the ledger is still opening).
async fn serve_with<F>(
    listener: TcpListener,
    config: ServerConfig,
    tls: Option<ServerTlsConfig>,
    opening: Opening<F>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError>
where
    F: Future<Output = Result<Ledger, ServerError>> + Send,
{
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    let http_listener = match config.http.as_ref().and_then(HttpListener::take) {
        Some(l) => Some(prepare_http(l, &config)?),
        None => None,
    };

    let (health, health_svc) = tonic_health::server::health_reporter();
    set_health(&health, ServingStatus::NotServing).await;
    let gates = Gates::default();

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
    let tls_on = tls.is_some();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
    }
    let mirror_header = MirrorHeader::default();
    let router = builder
        .layer(mirror_header.clone())
        .add_service(health_svc)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(gates.ledger.clone())
        .add_service(gates.audit.clone())
        .add_service(gates.query.clone());

    let (stop_tx, stopping) = watch::channel(false);
    // The HTTP face answers from the moment it listens: `/healthz` at once, the rest once the
    // ledger serves (503 `opening` before).
    let face = crate::http::Face::default();
    let serving = Serving {
        config: &config,
        gates: &gates,
        health: &health,
        stopping,
        addr,
        tls: tls_on,
        mirror_header: mirror_header.0.clone(),
        face: &face,
    };
    // An open ledger is served before the first connection is accepted, so no call ever
    // sees the gates closed.
    // `Ok`: served already; `Err`: the open still to wait for.
    let served_or_opening = match opening {
        Opening::Opened(l) => Ok(serving.start(*l).await),
        Opening::Pending(open) => Err(open),
    };

    let incoming = incoming(listener);
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
    let mut transport = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = close_rx.await;
    }));
    let grace = config.shutdown_grace;
    let mut shutdown = std::pin::pin!(shutdown);
    let http = http_listener.map(|h| spawn_http(h, face.app(), serving.stopping.clone()));

    let (ledger, shared) = match served_or_opening {
        Ok(served) => served,
        Err(open) => {
            tracing::info!(%addr, tls = tls_on, "accepting connections; not serving until the ledger is open");
            let mut open = std::pin::pin!(open);
            let opened = tokio::select! {
                r = &mut open => r,
                () = &mut shutdown => {
                    tracing::info!("shutting down while the ledger opens; it is closed once open");
                    let _ = stop_tx.send(true);
                    let _ = close_tx.send(());
                    let r = open.await;
                    let _ = finish_transport(transport, grace).await;
                    if let Ok(l) = r {
                        let _ = tokio::task::spawn_blocking(move || l.shutdown()).await;
                    }
                    return Ok(());
                }
            };
            match opened {
                Ok(l) => serving.start(l).await,
                Err(e) => {
                    let _ = stop_tx.send(true);
                    let _ = close_tx.send(());
                    let _ = finish_transport(transport, grace).await;
                    return Err(e);
                }
            }
        }
    };

    let served = tokio::select! {
        () = &mut shutdown => {
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            set_health(&health, ServingStatus::NotServing).await;
            let _ = stop_tx.send(true);
            let _ = close_tx.send(());
            finish_transport(transport, grace).await
        }
        // The transport ended on its own (the listener failed).
        r = &mut transport => joined(r),
    };

    // The HTTP face stops with the gRPC one (it watches the same `stopping`), within the
    // same grace.
    if let Some(h) = http
        && tokio::time::timeout(grace, h).await.is_err()
    {
        tracing::warn!(?grace, "HTTP connections still open after the grace period");
    }

    // Whatever happened to the transport, stop the writer so queued appends finish and the
    // store is flushed before returning. The services (in the gates) hold the ledger too.
    drop(shared);
    drop(serving);
    drop(gates);
    // The HTTP face keeps the services it was handed (even with no listener): let go of them.
    drop(face);
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

/// The accepted connections of `listener`, each with Nagle's algorithm off: it holds a small
/// response back until the client's delayed ACK (~40 ms on Linux), so every unary answer
/// would take that long. `Server::tcp_nodelay` only applies to listeners tonic binds itself,
/// so it is set here.
pub(crate) fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|conn| {
        conn.and_then(|stream| {
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    })
}

/// Serves `app` on the HTTP face `h` (with its TLS, if any) until `stopping` turns true.
pub(crate) fn spawn_http(
    h: HttpFace,
    app: axum::Router,
    stopping: watch::Receiver<bool>,
) -> JoinHandle<()> {
    if let Ok(a) = h.listener.local_addr() {
        tracing::info!(addr = %a, tls = h.tls.is_some(), "serving HTTP");
    }
    tokio::spawn(async move {
        match h.tls {
            Some(tls) => crate::http::tls::serve(h.listener, app, tls, stopping).await,
            None => {
                if let Err(e) = crate::http::serve(h.listener, app, stopping).await {
                    tracing::error!(error = %e, "the HTTP face stopped");
                }
            }
        }
    })
}

/// The transport task's outcome.
pub(crate) type TransportTask = JoinHandle<Result<(), tonic::transport::Error>>;

/// What the transport task ended with.
pub(crate) fn joined(
    r: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>,
) -> Result<(), ServerError> {
    match r {
        Ok(r) => r.map_err(|e| ServerError::Transport(e.to_string())),
        Err(e) => Err(ServerError::Transport(format!(
            "the transport task failed: {e}"
        ))),
    }
}

/// Waits for the transport, told to close, to finish its connections; after `grace` closes
/// the ones still open (a client that stops reading a stream must not keep the server up
/// forever).
pub(crate) async fn finish_transport(
    mut transport: TransportTask,
    grace: Duration,
) -> Result<(), ServerError> {
    match tokio::time::timeout(grace, &mut transport).await {
        Ok(r) => joined(r),
        Err(_) => {
            tracing::warn!(
                ?grace,
                "connections still open after the grace period; closing them"
            );
            transport.abort();
            let _ = transport.await;
            Ok(())
        }
    }
}

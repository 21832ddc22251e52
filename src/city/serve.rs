//! Serving a city view: opens a copy per followed log, follows each as a mirror, and answers
//! the City service (gRPC) and `/api/v1/city/...` (HTTP) until shutdown.
//!
//! As a single ledger's server does, it accepts connections and answers health at once:
//! while the copies open (each replays and verifies its log), gRPC health is `NOT_SERVING`,
//! City calls are `UNAVAILABLE` and HTTP answers `503 OPENING`; then everything serves and
//! `ready: serving the city view` is logged. A copy that is not following its primary is said
//! in `City.Sources`, in `/readyz` and in the logs, and answered from what it verified.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::{City, Source, source_dir};
use crate::grpc::city_service::CityService;
use crate::grpc::gate::Gate;
use crate::grpc::wire::RequestErrors;
use crate::ledger::{Ledger, LedgerError, LedgerOptions};
use crate::mirror::FollowConfig;
use crate::proto::city_server::CityServer;
use crate::server::{ServerConfig, ServerError};

/// The City service, answering `UNAVAILABLE` until the copies are open.
type CityGate = Gate<RequestErrors<CityServer<CityService>>>;

/// Refuses two `--follow` that would share one copy (the same address written twice).
fn check_distinct(config: &ServerConfig, follows: &[FollowConfig]) -> Result<(), ServerError> {
    for (i, f) in follows.iter().enumerate() {
        let dir = source_dir(&config.data, &f.connect.server);
        if let Some(g) = follows[..i]
            .iter()
            .find(|g| source_dir(&config.data, &g.connect.server) == dir)
        {
            return Err(ServerError::Config(format!(
                "--follow {} and --follow {} name the same log (both would be kept in {})",
                g.connect.server,
                f.connect.server,
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Opens the copy of the log `f` follows under `config.data`.
async fn open_source(config: &ServerConfig, f: &FollowConfig) -> Result<Source, ServerError> {
    let url = f.connect.server.clone();
    let dir = source_dir(&config.data, &url);
    let shown = dir.display().to_string();
    let opts = LedgerOptions {
        mirror_of: Some(url.clone()),
        ..config.ledger.clone()
    };
    let open_dir = dir.clone();
    let ledger = tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&open_dir).map_err(|e| {
            LedgerError::from(crate::ledger::StorageError::new(
                crate::ledger::io_kind(&e),
                open_dir.display().to_string(),
                e,
            ))
        })?;
        Ledger::open(&open_dir, opts)
    })
    .await
    .map_err(|e| ServerError::Transport(format!("opening {shown}: {e}")))?
    .map_err(|source| crate::server::not_opened(&shown, source))?;
    tracing::info!(%url, data = %shown, entries = ledger.head().size, "city view: copy open");
    Ok(Source {
        url,
        ledger: Arc::new(ledger),
        follow: f.clone(),
    })
}

/// Opens every copy, one after the other; on a failure, closes the ones already open.
async fn open_sources(
    config: &ServerConfig,
    follows: &[FollowConfig],
) -> Result<Vec<Source>, ServerError> {
    let mut sources: Vec<Source> = Vec::new();
    for f in follows {
        match open_source(config, f).await {
            Ok(s) => sources.push(s),
            Err(e) => {
                close(sources.into_iter().map(|s| s.ledger).collect()).await;
                return Err(e);
            }
        }
    }
    Ok(sources)
}

/// Stops each ledger's writer (flushing it and writing its snapshot), then waits (bounded)
/// for the last readers to let go, so the stores are closed when this returns.
async fn close(ledgers: Vec<Arc<Ledger>>) {
    for l in &ledgers {
        let l = l.clone();
        let _ = tokio::task::spawn_blocking(move || l.shutdown()).await;
    }
    for mut ledger in ledgers {
        let mut closed = false;
        for _ in 0..200 {
            match Arc::try_unwrap(ledger) {
                Ok(l) => {
                    drop(l);
                    closed = true;
                    break;
                }
                Err(still_shared) => {
                    ledger = still_shared;
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
            }
        }
        if !closed {
            tracing::warn!(
                "a copy is still referenced after shutdown; closing when the last reader ends"
            );
        }
    }
}

async fn set_health(health: &HealthReporter, status: ServingStatus) {
    for service in [<CityServer<CityService> as NamedService>::NAME, ""] {
        health.set_service_status(service, status).await;
    }
}

/// Serves a city view over the logs of `follows` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    follows: Vec<FollowConfig>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    crate::server::check_listener(&listener, &config)?;
    check_distinct(&config, &follows)?;
    let tls = crate::server::tls_config(&config)?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Transport(e.to_string()))?;
    let http_listener = match config
        .http
        .as_ref()
        .and_then(crate::server::HttpListener::take)
    {
        Some(l) => Some(crate::server::prepare_http(l, &config)?),
        None => None,
    };

    let (health, health_svc) = tonic_health::server::health_reporter();
    set_health(&health, ServingStatus::NotServing).await;
    let mut builder = Server::builder();
    let tls_on = tls.is_some();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
    }
    let gate = CityGate::default();
    let router = builder
        .add_service(health_svc)
        .add_service(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .build_v1()
                .map_err(|e| ServerError::Transport(format!("reflection: {e}")))?,
        )
        .add_service(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .build_v1alpha()
                .map_err(|e| ServerError::Transport(format!("reflection: {e}")))?,
        )
        .add_service(gate.clone());

    let (stop_tx, stopping) = watch::channel(false);
    let opened: Arc<OnceLock<Arc<City>>> = Arc::default();
    let http = http_listener.map(|h| {
        let app = crate::http::city::router(
            opened.clone(),
            Arc::new(config.access.clone()),
            stopping.clone(),
            config.max_message_bytes,
        );
        crate::server::spawn_http(h, app, stopping.clone())
    });
    let incoming = crate::server::incoming(listener);
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
    let mut transport = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = close_rx.await;
    }));
    let grace = config.shutdown_grace;
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::info!(%addr, tls = tls_on, "accepting connections; not serving until every copy is open");

    // The copies open while health and HTTP already answer; a stop request meanwhile is
    // honoured once the copy being opened is open (and closed again).
    let stop_all = |stop_tx: watch::Sender<bool>, close_tx: tokio::sync::oneshot::Sender<()>| {
        let _ = stop_tx.send(true);
        let _ = close_tx.send(());
    };
    let sources = tokio::select! {
        r = open_sources(&config, &follows) => r,
        () = &mut shutdown => {
            tracing::info!("shutting down while the copies open");
            stop_all(stop_tx, close_tx);
            let _ = crate::server::finish_transport(transport, grace).await;
            if let Some(h) = http {
                let _ = tokio::time::timeout(grace, h).await;
            }
            return Ok(());
        }
    };
    let sources = match sources {
        Ok(s) => s,
        Err(e) => {
            stop_all(stop_tx, close_tx);
            let _ = crate::server::finish_transport(transport, grace).await;
            return Err(e);
        }
    };
    let n = config.max_message_bytes;
    let city = Arc::new(City::new(sources, Arc::new(config.access.clone())));
    for s in city.sources() {
        tokio::spawn(crate::mirror::follow(
            s.ledger.clone(),
            s.follow.clone(),
            stopping.clone(),
        ));
    }
    gate.open(RequestErrors::new(
        CityServer::new(CityService::new(city.clone()))
            .max_decoding_message_size(n)
            .max_encoding_message_size(n),
        n,
    ));
    let _ = opened.set(city.clone());
    set_health(&health, ServingStatus::Serving).await;
    tracing::info!(%addr, tls = tls_on, logs = city.sources().len(), "ready: serving the city view");

    let served = tokio::select! {
        () = &mut shutdown => {
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            set_health(&health, ServingStatus::NotServing).await;
            stop_all(stop_tx, close_tx);
            crate::server::finish_transport(transport, grace).await
        }
        r = &mut transport => {
            let _ = stop_tx.send(true);
            crate::server::joined(r)
        }
    };
    if let Some(h) = http
        && tokio::time::timeout(grace, h).await.is_err()
    {
        tracing::warn!(?grace, "HTTP connections still open after the grace period");
    }
    let ledgers = city.sources().iter().map(|s| s.ledger.clone()).collect();
    drop(gate);
    drop(city);
    drop(opened);
    close(ledgers).await;
    tracing::info!("city view closed");
    served
}

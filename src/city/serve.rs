//! Serving a city view: opens a copy per followed log, follows each as a mirror, and answers
//! the City service (gRPC) and `/api/v1/city/...` (HTTP) until shutdown.
//!
//! Health: `grpc.health.v1.Health` answers `SERVING` for the server and
//! `rotaledger.v1.City` once every copy is open; a copy that is not following its primary is
//! said in `City.Sources`, in `/readyz` and in the logs, and answered from what it verified.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use super::{City, Source, source_dir};
use crate::grpc::city_service::CityService;
use crate::ledger::{Ledger, LedgerError, LedgerOptions};
use crate::mirror::FollowConfig;
use crate::proto::city_server::CityServer;
use crate::server::{ServerConfig, ServerError};

/// Opens the copy of each log of `follows` under `config.data`, one after the other.
async fn open_sources(
    config: &ServerConfig,
    follows: &[FollowConfig],
) -> Result<Vec<Source>, ServerError> {
    let mut sources: Vec<Source> = Vec::new();
    for f in follows {
        let url = f.connect.server.clone();
        let dir = source_dir(&config.data, &url);
        if let Some(s) = sources
            .iter()
            .find(|s| source_dir(&config.data, &s.url) == dir)
        {
            return Err(ServerError::Transport(format!(
                "--follow {url} and --follow {} name the same log (both kept in {})",
                s.url,
                dir.display()
            )));
        }
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
        .map_err(|source| ServerError::Ledger {
            data: shown.clone(),
            source,
        })?;
        tracing::info!(%url, data = %shown, entries = ledger.head().size, "city view: copy open");
        sources.push(Source {
            url,
            ledger: Arc::new(ledger),
            follow: f.clone(),
        });
    }
    Ok(sources)
}

/// Serves a city view over the logs of `follows` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    follows: Vec<FollowConfig>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    crate::server::check_listener(&listener, &config)?;
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
    let sources = open_sources(&config, &follows).await?;
    let city = Arc::new(City::new(sources, Arc::new(config.access.clone())));

    let (health, health_svc) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ServerError::Transport(format!("reflection: {e}")))?;
    let mut builder = Server::builder();
    let tls_on = tls.is_some();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
    }
    let n = config.max_message_bytes;
    let router = builder
        .add_service(health_svc)
        .add_service(reflection)
        .add_service(
            CityServer::new(CityService::new(city.clone()))
                .max_decoding_message_size(n)
                .max_encoding_message_size(n),
        );
    for service in [<CityServer<CityService> as NamedService>::NAME, ""] {
        health
            .set_service_status(service, ServingStatus::Serving)
            .await;
    }

    let (stop_tx, stopping) = watch::channel(false);
    for s in city.sources() {
        tokio::spawn(crate::mirror::follow(
            s.ledger.clone(),
            s.follow.clone(),
            stopping.clone(),
        ));
    }
    let http = http_listener.map(|h| {
        if let Ok(a) = h.listener.local_addr() {
            tracing::info!(addr = %a, tls = h.tls.is_some(), "serving HTTP");
        }
        let app = crate::http::city::router(city.clone(), n);
        let stopping = stopping.clone();
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
    });
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.and_then(|stream| {
            stream.set_nodelay(true)?;
            Ok(stream)
        })
    });
    let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
    let mut transport = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = close_rx.await;
    }));
    tracing::info!(
        %addr,
        tls = tls_on,
        logs = city.sources().len(),
        "ready: serving the city view"
    );
    let grace = config.shutdown_grace;
    let served = tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            let _ = stop_tx.send(true);
            let _ = close_tx.send(());
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
    for s in city.sources() {
        let l = s.ledger.clone();
        let _ = tokio::task::spawn_blocking(move || l.shutdown()).await;
    }
    drop(city);
    tracing::info!("city view closed");
    served
}

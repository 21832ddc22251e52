//! The HTTP face (`serve --http ADDR`, default `127.0.0.1:8080`): health for load balancers
//! and probes, the JSON API under `/api/v1/` for callers that cannot speak gRPC, and the
//! console for people (docs/HTTP.md).
//!
//! # Layout
//!
//! - [`api`]: one endpoint per Query RPC and read-only Audit RPC, plus `GET /api/v1/head` and
//!   `POST /api/v1/append`, `POST /api/v1/check`; each calls the gRPC service method itself, in process.
//! - [`params`]: strict query-string parameters.
//! - [`error`]: gRPC statuses (and the HTTP layer's own refusals) as JSON with HTTP statuses.
//! - [`tls`]: HTTPS with gRPC's certificate when `serve` has one.
//! - [`console`]: the console, HTML pages for people (sign-in, teacher and school pages,
//!   CSV/XLSX downloads), calling the same gRPC methods.
//!
//! **Contracts.**
//! - An endpoint MUST answer exactly what its gRPC call answers: it calls that call, with the
//!   caller's bearer token as metadata, so access, scope, validation and reason codes are one
//!   piece of code. A signed-in console session stands for its token on GET requests only
//!   (the audit page's checks call the API from the browser); POST needs the header.
//! - `/healthz` answers 200 while the process serves; `/readyz` 200 only while the ledger is
//!   open, its log not known to be damaged, and the server not shutting down (503 otherwise).
//! - A body over the server's message limit is refused with 413 before it is parsed.

pub mod api;
pub mod city;
pub mod console;
pub mod error;
pub mod params;
pub mod tls;

use std::sync::{Arc, OnceLock};

use tower::ServiceExt as _;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::grpc::Shared;
use crate::grpc::audit_service::AuditService;
use crate::grpc::ledger_service::LedgerService;
use crate::grpc::query_service::QueryService;
use crate::ledger::Integrity;
use api::Services;

/// What the health endpoints look at.
#[derive(Clone)]
struct Health {
    shared: Shared,
}

/// The HTTP face's routes over the services of `shared`; bodies above `max_body` bytes are
/// refused (413).
pub fn router(shared: Shared, max_body: usize) -> Router {
    let services = Services {
        ledger: Arc::new(LedgerService::new(shared.clone())),
        audit: Arc::new(AuditService::new(shared.clone())),
        query: Arc::new(QueryService::new(shared.clone())),
        log: shared.ledger.clone(),
    };
    // One set of sessions: the console's pages, and the JSON API a signed-in page calls.
    let sessions = Arc::new(console::session::Sessions::default());
    let console = console::routes(services.clone(), shared.access.clone(), sessions.clone());
    let api = Router::new()
        .route("/teachers/{id}/history", get(api::teacher_history))
        .route("/teachers/{id}/eligibility", get(api::eligibility))
        .route("/teachers/{id}/certificate", get(api::certificate))
        .route("/terms", get(api::terms))
        .route("/teams", get(api::teams))
        .route("/schools/{id}/quota", get(api::school_quota))
        .route("/schools/{id}/duty", get(api::rotation_duty))
        .route("/groups/{id}/summary", get(api::group_summary))
        .route("/district", get(api::district))
        .route("/access-record", get(api::access_record))
        .route("/schools/{id}/evaluations-owed", get(api::evaluations_owed))
        .route("/head", get(api::head))
        .route("/checkpoint", get(api::checkpoint))
        .route("/public-key", get(api::public_key))
        .route("/proofs/inclusion", get(api::inclusion_proof))
        .route("/proofs/consistency", get(api::consistency_proof))
        .route("/verify", get(api::verify))
        .route("/entries", get(api::entries))
        .route("/append", post(api::append))
        .route("/check", post(api::check))
        .fallback(not_an_endpoint)
        .with_state(services)
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            console::session::bearer_from_session,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Health { shared })
        .nest("/api/v1", api)
        .merge(console)
        .layer(DefaultBodyLimit::max(max_body))
}

pub(crate) async fn not_an_endpoint(uri: axum::http::Uri) -> Response {
    error::ApiError::plain(
        StatusCode::NOT_FOUND,
        tonic::Code::NotFound,
        "NO_SUCH_ENDPOINT",
        format!(
            "{} is not an endpoint of this API (docs/HTTP.md)",
            uri.path()
        ),
    )
    .into_response()
}

/// `GET /healthz`: the process is up and answering.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

/// `GET /metrics`: the Prometheus text exposition of the append path, queries and
/// subscribers. Open like `/healthz`: counts only, no ids or contents.
async fn metrics(State(h): State<Health>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.shared.ledger.render_metrics(),
    )
        .into_response()
}

/// `GET /readyz`: ready to serve the ledger's answers.
async fn readyz(State(h): State<Health>) -> Response {
    let ledger = &h.shared.ledger;
    let head = ledger.head();
    let integrity = match ledger.integrity() {
        Integrity::Verified => "verified",
        Integrity::Checking { .. } => "checking",
        Integrity::Unchecked => "unchecked",
        Integrity::Failed(_) => "failed",
    };
    let stopping = *h.shared.stopping.borrow();
    let ready = !stopping && !matches!(ledger.integrity(), Integrity::Failed(_));
    let mut body = json!({
        "status": if ready { "ready" } else if stopping { "stopping" } else { "failed" },
        "size": head.size,
        "integrity": integrity,
    });
    // A mirror serves while stale: ready, with how it stands beside.
    if let Some(m) = ledger.mirror() {
        let status = m.status();
        let reason = status.reason().map(|(r, _)| r);
        let evidence = status
            .reason()
            .and_then(|(_, e)| e)
            .map(|p| p.display().to_string());
        body["mirror"] = json!({
            "primary": m.primary,
            "status": status.word(),
            "reason": reason,
            "evidence": evidence,
            "primary_size": m.primary_size(),
            "data_keys": ledger.data_keys_held(),
            "data_keys_not_copied": m.keys_not_copied(),
        });
    }
    // A primary elected through etcd (serve --etcd): its term and how long its lease holds
    // (0: fenced, taking no append until it renews it or another node is elected).
    if let Some(l) = ledger.lease() {
        body["election"] = json!({
            "role": "primary",
            "epoch": l.epoch(),
            "lease_holds": l.held().is_some(),
            "lease_remaining_ms": l.remaining().as_millis() as u64,
        });
    }
    // A primary with --sync-mirrors serves reads while appends wait for mirrors: ready, with
    // how far the mirrors have confirmed beside.
    let required = ledger.sync_mirrors();
    if required > 0 {
        let confirmed = ledger.confirmed_size().min(head.size);
        let mirrors: Vec<_> = ledger
            .mirror_confirmations()
            .into_iter()
            .map(|c| json!({ "mirror": c.mirror, "size": c.size }))
            .collect();
        body["sync"] = json!({
            "mirrors_required": required,
            "confirmed_size": confirmed,
            "unconfirmed_entries": head.size - confirmed,
            "mirrors": mirrors,
        });
    }
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `msg` as a gRPC request carrying `authorization` (`Bearer <token>`) as its metadata, the
/// way a gRPC client sends it; `None` when the value cannot be metadata (not visible ASCII).
/// Every call the HTTP face makes on a caller's behalf is built here.
pub fn authorized<T>(msg: T, authorization: &str) -> Option<tonic::Request<T>> {
    let v = tonic::metadata::AsciiMetadataValue::try_from(authorization).ok()?;
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert("authorization", v);
    req.extensions_mut().insert(crate::grpc::auth::Door("http"));
    Some(req)
}

/// The HTTP face across the server's life. It answers from the moment it listens: until the
/// ledger serves, `/healthz` is 200 and every other path 503 (`"status":"opening"`), at once,
/// never a connection left waiting; then every path is [`router`]'s.
#[derive(Clone, Default)]
pub struct Face {
    routes: Arc<OnceLock<Router>>,
}

impl Face {
    /// From now on, answer with the services of `shared` (once; later calls change nothing).
    pub fn serving(&self, shared: Shared, max_body: usize) {
        let _ = self.routes.set(router(shared, max_body));
    }

    /// The application to serve.
    pub fn app(&self) -> Router {
        let routes = self.routes.clone();
        Router::new().route("/healthz", get(healthz)).fallback(
            move |req: axum::extract::Request| {
                let routes = routes.clone();
                async move {
                    match routes.get() {
                        Some(r) => match r.clone().oneshot(req).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        },
                        None => opening(),
                    }
                }
            },
        )
    }
}

/// The answer of every path but `/healthz` while the ledger opens.
pub(crate) fn opening() -> Response {
    let mut e = error::ApiError::plain(
        StatusCode::SERVICE_UNAVAILABLE,
        tonic::Code::Unavailable,
        "OPENING",
        "the ledger is opening (replaying and verifying the log); retry shortly".into(),
    )
    .into_response();
    e.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    e
}

/// Serves `router` on `listener` until `stopping` turns true, then lets in-flight requests
/// finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(stopped(stopping))
        .await
}

/// Completes when `stopping` turns true (or its sender is gone).
async fn stopped(mut stopping: watch::Receiver<bool>) {
    while !*stopping.borrow_and_update() {
        if stopping.changed().await.is_err() {
            break;
        }
    }
}

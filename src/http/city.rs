//! A city view's HTTP face (docs/CITY.md): `/api/v1/city/...` answers as `rotaledger.v1.City`
//! does, by calling it in process with the caller's `Authorization` header, like the rest of
//! the JSON API (`api.rs`); `/healthz` and `/readyz` as on any server.

use std::sync::{Arc, OnceLock};

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

use super::api::grpc;
use super::error::ApiError;
use super::params::Params;
use crate::city::City;
use crate::proto;

type Pairs = Query<Vec<(String, String)>>;

/// What the routes answer from: the city once its copies are open.
#[derive(Clone)]
struct CityFace {
    city: Arc<OnceLock<Arc<City>>>,
    stopping: watch::Receiver<bool>,
}

impl CityFace {
    /// The city; `None` while its copies open.
    fn city(&self) -> Option<Arc<City>> {
        self.city.get().cloned()
    }
}

/// Runs `f` on the city on a blocking thread; its answer as JSON.
async fn answer<T: serde::Serialize + Send + 'static>(
    face: &CityFace,
    f: impl FnOnce(&City) -> Result<T, tonic::Status> + Send + 'static,
) -> Response {
    let Some(city) = face.city() else {
        return super::opening();
    };
    let r = tokio::task::spawn_blocking(move || f(&city))
        .await
        .map_err(|e| tonic::Status::internal(format!("city task failed: {e}")))
        .and_then(|r| r);
    match r {
        Ok(v) => Json(v).into_response(),
        Err(s) => ApiError::from(s).into_response(),
    }
}

/// `GET /api/v1/city/sources`
async fn sources(State(face): State<CityFace>, headers: HeaderMap) -> Response {
    let req = match grpc(proto::CitySourcesRequest {}, &headers) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    answer(&face, move |c| c.list(&req)).await
}

/// `GET /api/v1/city/teachers/{id}/history?as_of=&with_proofs=`
async fn teacher_history(
    State(face): State<CityFace>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> Response {
    let req = (|| {
        let mut p = Params::new(q)?;
        let msg = proto::CityTeacherHistoryRequest {
            teacher,
            as_of: p.text_or_empty("as_of"),
            with_proofs: p.flag("with_proofs")?.unwrap_or(false),
        };
        p.finish()?;
        grpc(msg, &headers)
    })();
    match req {
        Ok(req) => answer(&face, move |c| c.teacher_history(req)).await,
        Err(e) => e.into_response(),
    }
}

/// `GET /api/v1/city/teachers/{id}/eligibility?as_of=`
async fn eligibility(
    State(face): State<CityFace>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> Response {
    let req = (|| {
        let mut p = Params::new(q)?;
        let msg = proto::CityEligibilityRequest {
            teacher,
            as_of: p.text_or_empty("as_of"),
        };
        p.finish()?;
        grpc(msg, &headers)
    })();
    match req {
        Ok(req) => answer(&face, move |c| c.eligibility(req)).await,
        Err(e) => e.into_response(),
    }
}

/// `GET /readyz`: ready while every copy is open and none is known to be damaged, with how
/// each copy stands (open like `/healthz`: addresses and sizes, no ids, no contents). A stale
/// copy leaves the view ready: it answers from what it verified.
async fn readyz(State(face): State<CityFace>) -> Response {
    let stopping = *face.stopping.borrow();
    let Some(city) = face.city.get() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": if stopping { "stopping" } else { "opening" } })),
        )
            .into_response();
    };
    let mut failed = false;
    let logs: Vec<_> = city
        .sources()
        .iter()
        .map(|s| {
            let status = s.ledger.mirror().map(|m| m.status());
            let integrity = s.ledger.check_integrity().is_ok();
            failed |= !integrity;
            json!({
                "url": s.url,
                "size": s.ledger.head().size,
                "integrity": if integrity { "ok" } else { "failed" },
                "status": status.as_ref().map(|m| m.word()),
                "reason": status.as_ref().and_then(|m| m.reason()).map(|(r, _)| r),
            })
        })
        .collect();
    let (code, word) = match (stopping, failed) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "stopping"),
        (false, true) => (StatusCode::SERVICE_UNAVAILABLE, "failed"),
        (false, false) => (StatusCode::OK, "ready"),
    };
    (code, Json(json!({ "status": word, "logs": logs }))).into_response()
}

/// The city view's routes, answering from `city` once it is set (`503 OPENING` before):
/// health, the JSON API and the console (signed in against `access`); bodies above
/// `max_body` bytes are refused (413).
pub fn router(
    city: Arc<OnceLock<Arc<City>>>,
    access: Arc<crate::grpc::auth::Access>,
    stopping: watch::Receiver<bool>,
    max_body: usize,
) -> Router {
    // One set of sessions: the console's pages, and the JSON API a signed-in page calls.
    let sessions = Arc::new(super::console::session::Sessions::default());
    let console = super::console::city::routes(super::console::city::CityConsole {
        city: city.clone(),
        access,
        sessions: sessions.clone(),
    });
    let face = CityFace { city, stopping };
    let api = Router::new()
        .route("/city/sources", get(sources))
        .route("/city/teachers/{id}/history", get(teacher_history))
        .route("/city/teachers/{id}/eligibility", get(eligibility))
        .fallback(super::not_an_endpoint)
        .with_state(face.clone())
        .layer(axum::middleware::from_fn_with_state(
            sessions,
            super::console::session::bearer_from_session,
        ));
    Router::new()
        .route("/healthz", get(super::healthz))
        .route("/readyz", get(readyz))
        .with_state(face)
        .nest("/api/v1", api)
        .merge(console)
        .fallback(super::not_an_endpoint)
        .layer(DefaultBodyLimit::max(max_body))
}

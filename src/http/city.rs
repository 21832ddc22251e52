//! A city view's HTTP face (docs/CITY.md): `/api/v1/city/...` answers as `rotaledger.v1.City`
//! does, by calling it in process with the caller's `Authorization` header, like the rest of
//! the JSON API (`api.rs`); `/healthz` and `/readyz` as on any server.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::api::grpc;
use super::error::ApiError;
use super::params::Params;
use crate::city::City;
use crate::proto;

type Pairs = Query<Vec<(String, String)>>;

/// Runs `f` on the city on a blocking thread; its answer as JSON.
async fn answer<T: serde::Serialize + Send + 'static>(
    city: Arc<City>,
    f: impl FnOnce(&City) -> Result<T, tonic::Status> + Send + 'static,
) -> Result<Response, ApiError> {
    let r = tokio::task::spawn_blocking(move || f(&city))
        .await
        .map_err(|e| tonic::Status::internal(format!("city task failed: {e}")))??;
    Ok(Json(r).into_response())
}

/// `GET /api/v1/city/sources`
async fn sources(State(city): State<Arc<City>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let req = grpc(proto::CitySourcesRequest {}, &headers)?;
    answer(city, move |c| c.list(&req)).await
}

/// `GET /api/v1/city/teachers/{id}/history?as_of=&with_proofs=`
async fn teacher_history(
    State(city): State<Arc<City>>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut p = Params::new(q)?;
    let msg = proto::CityTeacherHistoryRequest {
        teacher,
        as_of: p.text_or_empty("as_of"),
        with_proofs: p.flag("with_proofs")?.unwrap_or(false),
    };
    p.finish()?;
    let req = grpc(msg, &headers)?;
    answer(city, move |c| c.teacher_history(req)).await
}

/// `GET /api/v1/city/teachers/{id}/eligibility?as_of=`
async fn eligibility(
    State(city): State<Arc<City>>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut p = Params::new(q)?;
    let msg = proto::CityEligibilityRequest {
        teacher,
        as_of: p.text_or_empty("as_of"),
    };
    p.finish()?;
    let req = grpc(msg, &headers)?;
    answer(city, move |c| c.eligibility(req)).await
}

/// `GET /readyz`: serving, with how each copy stands (open like `/healthz`: no ids, no
/// contents).
async fn readyz(State(city): State<Arc<City>>) -> Response {
    let logs: Vec<_> = city
        .sources()
        .iter()
        .map(|s| {
            let status = s.ledger.mirror().map(|m| m.status());
            json!({
                "url": s.url,
                "size": s.ledger.head().size,
                "status": status.as_ref().map(|m| m.word()),
                "reason": status.as_ref().and_then(|m| m.reason()).map(|(r, _)| r),
            })
        })
        .collect();
    (
        StatusCode::OK,
        Json(json!({ "status": "ready", "logs": logs })),
    )
        .into_response()
}

/// The city view's routes; bodies above `max_body` bytes are refused (413).
pub fn router(city: Arc<City>, max_body: usize) -> Router {
    let api = Router::new()
        .route("/city/sources", get(sources))
        .route("/city/teachers/{id}/history", get(teacher_history))
        .route("/city/teachers/{id}/eligibility", get(eligibility))
        .fallback(super::not_an_endpoint)
        .with_state(city.clone());
    Router::new()
        .route("/healthz", get(super::healthz))
        .route("/readyz", get(readyz))
        .with_state(city)
        .nest("/api/v1", api)
        .fallback(super::not_an_endpoint)
        .layer(DefaultBodyLimit::max(max_body))
}

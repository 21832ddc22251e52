//! `/api/v1/...`: the JSON API. Every endpoint calls the gRPC service method that answers
//! the same question, in process, with the caller's `Authorization` header as its metadata:
//! one function answers both faces, so roles, scopes, reason codes and figures cannot drift
//! apart. The answer is the gRPC response message as JSON (docs/HTTP.md).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_stream::StreamExt as _;
use tonic::Code;

use super::error::ApiError;
use super::params::Params;
use crate::grpc::audit_service::AuditService;
use crate::grpc::ledger_service::LedgerService;
use crate::grpc::query_service::QueryService;
use crate::proto;
use crate::proto::audit_server::Audit as _;
use crate::proto::ledger_server::Ledger as _;
use crate::proto::query_server::Query as _;

/// Most entries one `GET /api/v1/entries` answers; `next` says where to go on.
pub const MAX_ENTRIES_PER_PAGE: u64 = 1000;

/// The gRPC services the endpoints call.
#[derive(Clone)]
pub struct Services {
    /// `rotaledger.v1.Ledger`.
    pub ledger: Arc<LedgerService>,
    /// `rotaledger.v1.Audit`.
    pub audit: Arc<AuditService>,
    /// `rotaledger.v1.Query`.
    pub query: Arc<QueryService>,
    /// The ledger, for the committed head a page of entries ends at.
    pub log: Arc<crate::ledger::Ledger>,
}

type Pairs = Query<Vec<(String, String)>>;
type ApiResult = Result<Response, ApiError>;

/// The gRPC request for `msg` on behalf of the HTTP caller: its bearer token goes along as
/// the `authorization` metadata the services authorize.
pub(crate) fn grpc<T>(msg: T, headers: &HeaderMap) -> Result<tonic::Request<T>, ApiError> {
    let Some(v) = headers.get(AUTHORIZATION) else {
        let mut req = tonic::Request::new(msg);
        req.extensions_mut().insert(crate::grpc::auth::Door("http"));
        return Ok(req);
    };
    v.to_str()
        .ok()
        .and_then(|s| super::authorized(msg, s))
        .ok_or_else(|| {
            ApiError::plain(
                axum::http::StatusCode::UNAUTHORIZED,
                Code::Unauthenticated,
                "UNAUTHENTICATED",
                "the authorization header is not text".into(),
            )
        })
}

fn json<T: Serialize>(r: Result<tonic::Response<T>, tonic::Status>) -> ApiResult {
    Ok(Json(r?.into_inner()).into_response())
}

/// `GET /api/v1/teachers/{id}/history?as_of=&recorded_up_to=&with_proofs=`
pub async fn teacher_history(
    State(s): State<Services>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::TeacherHistoryRequest {
        teacher,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
        with_proofs: p.flag("with_proofs")?.unwrap_or(false),
    };
    p.finish()?;
    json(s.query.teacher_history(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/teachers/{id}/eligibility?as_of=&recorded_up_to=`
pub async fn eligibility(
    State(s): State<Services>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::EligibilityRequest {
        teacher,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.eligibility(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/teachers/{id}/certificate?as_of=`: the certificate file itself
/// (`application/json`, as `rotaledger certificate --out` writes it), to save as it is.
pub async fn certificate(
    State(s): State<Services>,
    Path(teacher): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::CertificateRequest {
        as_of: p.text_or_empty("as_of"),
        teacher,
    };
    p.finish()?;
    let r = s
        .query
        .certificate(grpc(msg, &headers)?)
        .await?
        .into_inner();
    Ok(certificate_file(&r))
}

/// A certificate as a download: `certificate-<teacher>-<size>.json`.
pub fn certificate_file(r: &proto::CertificateResponse) -> Response {
    let size = r.position.as_ref().map_or(0, |p| p.size);
    let teacher = serde_json::from_str::<serde_json::Value>(&r.certificate)
        .ok()
        .and_then(|v| {
            let st = v.get("statement")?.as_str()?.to_owned();
            let st: serde_json::Value = serde_json::from_str(&st).ok()?;
            Some(st.get("teacher")?.as_str()?.to_owned())
        })
        .unwrap_or_default();
    // Ids are ASCII letters, digits and - _ . in practice; anything else is left out of the
    // file name.
    let safe: String = teacher
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"certificate-{safe}-{size}.json\""),
            ),
        ],
        r.certificate.clone(),
    )
        .into_response()
}

/// `GET /api/v1/terms?teacher=&school=&group=&status=&ends_before=&as_of=&recorded_up_to=`
pub async fn terms(State(s): State<Services>, Query(q): Pairs, headers: HeaderMap) -> ApiResult {
    let mut p = Params::new(q)?;
    let status = match p.text("status") {
        None => proto::TermStatus::Unspecified,
        Some(name) => crate::grpc::query_convert::term_status_by_name(&name).ok_or_else(|| {
            ApiError::invalid(
                "status",
                &format!(
                    "{name:?} is not a term status: serving, serving_beyond_minimum, \
                     completed or returned_early"
                ),
            )
        })?,
    };
    let msg = proto::TermsRequest {
        teacher: p.text("teacher"),
        school: p.text("school"),
        group: p.text("group"),
        status: status as i32,
        ends_before: p.text("ends_before"),
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.terms(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/teams?school=&as_of=&recorded_up_to=`
pub async fn teams(State(s): State<Services>, Query(q): Pairs, headers: HeaderMap) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::TeamsRequest {
        school: p.text("school"),
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.teams(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/schools/{id}/quota?year=&as_of=&recorded_up_to=`
pub async fn school_quota(
    State(s): State<Services>,
    Path(school): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::SchoolQuotaRequest {
        school,
        school_year: p.int("year")?,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.school_quota(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/schools/{id}/duty?as_of=&recorded_up_to=`
pub async fn rotation_duty(
    State(s): State<Services>,
    Path(school): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::RotationDutyRequest {
        school,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.rotation_duty(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/groups/{id}/summary?year=&as_of=&recorded_up_to=`
pub async fn group_summary(
    State(s): State<Services>,
    Path(group): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::GroupSummaryRequest {
        group,
        school_year: p.int("year")?,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.group_summary(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/district?year=&as_of=&recorded_up_to=`
pub async fn district(State(s): State<Services>, Query(q): Pairs, headers: HeaderMap) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::DistrictRequest {
        school_year: p.int("year")?,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.district(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/access-record?teacher=&from=&limit=` (admins)
pub async fn access_record(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::AccessRecordRequest {
        teacher: p.text_or_empty("teacher"),
        from: p.uint("from")?.unwrap_or(0),
        limit: u32::try_from(p.uint("limit")?.unwrap_or(0)).unwrap_or(u32::MAX),
    };
    p.finish()?;
    json(s.query.access_record(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/schools/{id}/evaluations-owed?as_of=&recorded_up_to=`
pub async fn evaluations_owed(
    State(s): State<Services>,
    Path(school): Path<String>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::EvaluationsOwedRequest {
        school,
        as_of: p.text_or_empty("as_of"),
        recorded_up_to: p.uint("recorded_up_to")?,
    };
    p.finish()?;
    json(s.query.evaluations_owed(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/head`
pub async fn head(State(s): State<Services>, Query(q): Pairs, headers: HeaderMap) -> ApiResult {
    Params::new(q)?.finish()?;
    json(
        s.ledger
            .get_head(grpc(proto::GetHeadRequest {}, &headers)?)
            .await,
    )
}

/// `GET /api/v1/checkpoint?size=&cosigned=`
pub async fn checkpoint(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::GetCheckpointRequest {
        size: p.uint("size")?,
        for_witness: false,
        min_cosignatures: p
            .uint("cosigned")?
            .map_or(0, |k| u32::try_from(k).unwrap_or(u32::MAX)),
    };
    p.finish()?;
    json(s.audit.get_checkpoint(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/public-key`
pub async fn public_key(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    Params::new(q)?.finish()?;
    json(
        s.audit
            .get_public_key(grpc(proto::GetPublicKeyRequest {}, &headers)?)
            .await,
    )
}

/// `GET /api/v1/proofs/inclusion?seq=&size=`
pub async fn inclusion_proof(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::GetInclusionProofRequest {
        seq: p
            .uint("seq")?
            .ok_or_else(|| ApiError::invalid("seq", "is required"))?,
        size: p.uint("size")?,
    };
    p.finish()?;
    json(s.audit.get_inclusion_proof(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/proofs/consistency?old_size=&new_size=`
pub async fn consistency_proof(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::GetConsistencyProofRequest {
        old_size: p
            .uint("old_size")?
            .ok_or_else(|| ApiError::invalid("old_size", "is required"))?,
        new_size: p.uint("new_size")?,
    };
    p.finish()?;
    json(s.audit.get_consistency_proof(grpc(msg, &headers)?).await)
}

/// `GET /api/v1/verify?from=&to=`
pub async fn verify(State(s): State<Services>, Query(q): Pairs, headers: HeaderMap) -> ApiResult {
    let mut p = Params::new(q)?;
    let msg = proto::VerifyRequest {
        from_seq: p.uint("from")?.unwrap_or(0),
        to_seq: p.uint("to")?,
    };
    p.finish()?;
    json(s.audit.verify(grpc(msg, &headers)?).await)
}

/// One page of entries.
#[derive(Serialize)]
struct EntriesPage {
    /// The entries, in order.
    entries: Vec<proto::Entry>,
    /// Where the next page starts, if the range goes on.
    next: Option<u64>,
}

/// `GET /api/v1/entries?from=&to=`: at most [`MAX_ENTRIES_PER_PAGE`] entries of the range,
/// and `next` when there are more.
pub async fn entries(State(s): State<Services>, Query(q): Pairs, headers: HeaderMap) -> ApiResult {
    let mut p = Params::new(q)?;
    let from = p.uint("from")?.unwrap_or(0);
    let to = p.uint("to")?;
    p.finish()?;
    // One page only, so the service reads no more than it sends; without `to` the range
    // ends at the committed head (asking past it is refused, so ask for what exists, and let
    // the read refuse a `from` beyond it).
    let page_end = from.saturating_add(MAX_ENTRIES_PER_PAGE);
    let end = to
        .unwrap_or_else(|| s.log.head().size.max(from))
        .min(page_end);
    let msg = proto::ReadEntriesRequest {
        from_seq: from,
        to_seq: Some(end),
    };
    let mut stream = s
        .audit
        .read_entries(grpc(msg, &headers)?)
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(item) = stream.next().await {
        if let Some(e) = item?.entry {
            out.push(e);
        }
    }
    let next = match to {
        Some(t) => (end < t).then_some(end),
        None => (end == page_end).then_some(end),
    };
    Ok(Json(EntriesPage { entries: out, next }).into_response())
}

/// The body of `POST /api/v1/append`: the events as JSON objects (kept byte for byte, so
/// the ledger judges exactly what was sent), the request id, and optionally the size the log
/// must have.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendBody {
    request_id: String,
    events: Vec<Box<RawValue>>,
    #[serde(default)]
    expected_size: Option<u64>,
}

impl From<AppendBody> for proto::AppendRequest {
    fn from(b: AppendBody) -> Self {
        proto::AppendRequest {
            events: b.events.into_iter().map(|e| e.get().to_owned()).collect(),
            request_id: b.request_id,
            expected_size: b.expected_size,
        }
    }
}

/// `POST /api/v1/append`: `Ledger.Append`, same rules, same idempotency, same receipt.
pub async fn append(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
    body: Result<Json<AppendBody>, JsonRejection>,
) -> ApiResult {
    Params::new(q)?.finish()?;
    let Json(body) = body.map_err(rejected)?;
    json(s.ledger.append(grpc(body.into(), &headers)?).await)
}

/// The body of `POST /api/v1/check`: the appends to judge, each in the form of
/// [`AppendBody`].
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    appends: Vec<AppendBody>,
}

/// `POST /api/v1/check`: `Ledger.Check`, the dry run: each append judged as `append` would
/// judge it, nothing appended.
pub async fn check(
    State(s): State<Services>,
    Query(q): Pairs,
    headers: HeaderMap,
    body: Result<Json<CheckBody>, JsonRejection>,
) -> ApiResult {
    Params::new(q)?.finish()?;
    let Json(body) = body.map_err(rejected)?;
    let msg = proto::CheckRequest {
        appends: body.appends.into_iter().map(Into::into).collect(),
    };
    json(s.ledger.check(grpc(msg, &headers)?).await)
}

/// A body the JSON extractor refused: too large (413), or not the documented object (400).
fn rejected(r: JsonRejection) -> ApiError {
    let status = r.status();
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::plain(
            status,
            Code::ResourceExhausted,
            "BODY_TOO_LARGE",
            "the request body is larger than the server accepts (serve --max-message-bytes)".into(),
        );
    }
    ApiError::invalid(
        "body",
        &format!(
            "{}; send {{\"request_id\":...,\"events\":[{{...}}],\"expected_size\":...}}",
            r.body_text()
        ),
    )
}

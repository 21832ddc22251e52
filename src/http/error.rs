//! The HTTP face's errors: a gRPC `Status` (the one the same call answers over gRPC) or a
//! problem with the HTTP request itself, as a JSON body with an HTTP status that fits.
//!
//! The body carries everything the gRPC status carries (`google.rpc` details included), so an
//! HTTP client branches on the same reason codes as a gRPC one:
//!
//! ```json
//! {"error":{"code":"INVALID_ARGUMENT","http_status":400,"reason":"INVALID_INPUT",
//!   "message":"as_of: ...","metadata":{"field":"as_of"},
//!   "field_violations":[{"field":"as_of","description":"..."}]}}
//! ```

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The HTTP status for a gRPC code: 400 bad input, 401 no or unknown token, 403 not allowed or
/// out of scope, 404 unknown, 409 a rule or the log's state refuses it, 413 too large, 503
/// not now (retry), 500 the server's fault.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::PAYLOAD_TOO_LARGE,
        Code::Unavailable | Code::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::DataLoss | Code::Internal | Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The gRPC code's canonical name (`INVALID_ARGUMENT`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// One bad field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldViolation {
    /// The field (`as_of`, `events[2].school`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// One rule a request breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreconditionViolation {
    /// The rule code (`team.min_size`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where (`events[1]`).
    pub subject: String,
    /// What a person should know.
    pub description: String,
}

/// The error body's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The gRPC code's name.
    pub code: &'static str,
    /// The HTTP status, repeated in the body.
    pub http_status: u16,
    /// The stable reason (the gRPC `ErrorInfo.reason`: a rule code, `OUT_OF_SCOPE`, ...).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// For a person.
    pub message: String,
    /// The values involved, by name (`ErrorInfo.metadata`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Bad fields (`BadRequest`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub field_violations: Vec<FieldViolation>,
    /// Broken rules (`PreconditionFailure`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub precondition_violations: Vec<PreconditionViolation>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a ErrorBody,
}

/// An error answer of the HTTP face.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body (boxed: an error travels through many `Result`s).
    pub body: Box<ErrorBody>,
}

impl ApiError {
    /// The answer for a gRPC status, details and all.
    pub fn from_status(s: &Status) -> ApiError {
        let details = s.get_error_details();
        // A full disk is the server's condition, not a body too large: 507, not 413.
        let status = match details.error_info() {
            Some(i) if i.reason == crate::grpc::status::reason::STORAGE_FULL => {
                StatusCode::INSUFFICIENT_STORAGE
            }
            _ => http_status(s.code()),
        };
        let (reason, metadata) = details
            .error_info()
            .map(|i| {
                (
                    i.reason.clone(),
                    i.metadata.clone().into_iter().collect::<BTreeMap<_, _>>(),
                )
            })
            .unwrap_or_default();
        let field_violations = details
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| FieldViolation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let precondition_violations = details
            .precondition_failure()
            .map(|p| {
                p.violations
                    .iter()
                    .map(|v| PreconditionViolation {
                        kind: v.r#type.clone(),
                        subject: v.subject.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ApiError {
            status,
            body: Box::new(ErrorBody {
                code: code_name(s.code()),
                http_status: status.as_u16(),
                reason,
                message: s.message().to_owned(),
                metadata,
                field_violations,
                precondition_violations,
            }),
        }
    }

    /// A bad query parameter or body field of the HTTP request (400), named like gRPC's
    /// `INVALID_INPUT` answers.
    pub fn invalid(field: &str, problem: &str) -> ApiError {
        ApiError::from_status(&crate::grpc::status::invalid_argument(field, problem))
    }

    /// An answer the HTTP layer gives itself (no gRPC call behind it).
    pub fn plain(status: StatusCode, code: Code, reason: &str, message: String) -> ApiError {
        ApiError {
            status,
            body: Box::new(ErrorBody {
                code: code_name(code),
                http_status: status.as_u16(),
                reason: reason.to_owned(),
                message,
                metadata: BTreeMap::new(),
                field_violations: Vec::new(),
                precondition_violations: Vec::new(),
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(Envelope { error: &self.body })).into_response()
    }
}

impl From<Status> for ApiError {
    fn from(s: Status) -> ApiError {
        ApiError::from_status(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_fitting_http_status() {
        let cases = [
            (Code::InvalidArgument, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::FailedPrecondition, 409),
            (Code::ResourceExhausted, 413),
            (Code::Unavailable, 503),
            (Code::DataLoss, 500),
        ];
        for (code, want) in cases {
            assert_eq!(http_status(code).as_u16(), want, "{code:?}");
        }
    }

    #[test]
    fn a_status_keeps_its_details() {
        let s = crate::grpc::status::invalid_argument("as_of", "\"x\" is not a date");
        let e = ApiError::from_status(&s);
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.body.code, "INVALID_ARGUMENT");
        assert_eq!(e.body.field_violations[0].field, "as_of");
        assert!(!e.body.reason.is_empty());
        let json = serde_json::to_value(Envelope { error: &e.body }).unwrap();
        assert_eq!(json["error"]["http_status"], 400);
    }
}

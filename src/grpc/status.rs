//! The one place where ledger and access errors become gRPC `Status` codes with structured
//! details (`google.rpc.BadRequest`, `ErrorInfo`, `PreconditionFailure`).
//!
//! A client reacts to the code; the details tell a program which event and field, which rule
//! and which values; the message tells a person what to do about it.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::ledger::{LedgerError, StorageKind};

/// The `ErrorInfo.domain` of every error this service returns.
pub const DOMAIN: &str = "rotaledger";

/// `ErrorInfo.reason` values that are not rule codes (rule rejections carry the rule's code).
pub mod reason {
    /// An event or field is malformed.
    pub const INVALID_INPUT: &str = "INVALID_INPUT";
    /// The request id was already used for a different append.
    pub const REQUEST_ID_REUSED: &str = "REQUEST_ID_REUSED";
    /// The log does not hold the expected number of entries.
    pub const UNEXPECTED_SIZE: &str = "UNEXPECTED_SIZE";
    /// Something asked for does not exist.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// A position or range lies outside the log.
    pub const OUT_OF_RANGE: &str = "OUT_OF_RANGE";
    /// The store failed with an I/O error that may pass: retry with the same request id.
    pub const STORAGE: &str = "STORAGE";
    /// The disk or quota is full: retry once the operator has freed space.
    pub const STORAGE_FULL: &str = "STORAGE_FULL";
    /// Stored data is damaged or missing, or the log does not verify: never retry.
    pub const CORRUPT: &str = "CORRUPT";
    /// A fault of the server itself (e.g. it could not sign a checkpoint): not the caller's
    /// to retry.
    pub const INTERNAL: &str = "INTERNAL";
    /// The ledger is not accepting appends (shutting down).
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// No credentials, or credentials that match no token.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The token's role does not allow the call.
    pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
    /// A principal asked about a teacher, school or group outside its schools (or one that
    /// exists nowhere: the two are not told apart).
    pub const OUT_OF_SCOPE: &str = "OUT_OF_SCOPE";
    /// The server is a read-only mirror: the call goes to the primary (named in the
    /// metadata's `primary`).
    pub const MIRROR: &str = "MIRROR";
    /// A cosignature the log does not keep: not by a witness it is configured with, or for
    /// another checkpoint of a size already being cosigned.
    pub const WITNESS: &str = "WITNESS";
    /// A city view follows two logs under one origin: their ids cannot be told apart.
    pub const SAME_ORIGIN: &str = "SAME_ORIGIN";
    /// A request message larger than the server accepts.
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
}

fn info(reason: &str, metadata: &[(&str, String)]) -> ErrorDetails {
    let md: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    ErrorDetails::with_error_info(reason, DOMAIN, md)
}

/// The field path of an input problem as a client sees it: `events[3].date`.
fn field_path(index: Option<usize>, field: &str) -> String {
    match index {
        Some(i) if field == "event" => format!("events[{i}]"),
        Some(i) => format!("events[{i}].{field}"),
        None => field.to_owned(),
    }
}

/// Maps a ledger error to a status with details and an actionable message.
pub fn ledger_status(e: &LedgerError) -> Status {
    match e {
        LedgerError::Input {
            index,
            field,
            problem,
        } => {
            let path = field_path(*index, field);
            let mut md = vec![("field", path.clone())];
            if let Some(i) = index {
                md.push(("event_index", i.to_string()));
            }
            let mut d = info(reason::INVALID_INPUT, &md);
            d.add_bad_request_violation(path.clone(), problem.clone());
            Status::with_error_details(
                Code::InvalidArgument,
                format!("{path}: {problem}; fix the request and send it again"),
                d,
            )
        }
        LedgerError::Rejected {
            index,
            rule,
            message,
            values,
        } => {
            let mut md: Vec<(&str, String)> = values
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            md.push(("event_index", index.to_string()));
            let mut d = info(rule, &md);
            d.add_precondition_failure_violation(
                rule.clone(),
                format!("events[{index}]"),
                message.clone(),
            );
            Status::with_error_details(
                Code::FailedPrecondition,
                format!(
                    "event {index} breaks rule {rule}: {message}; nothing was appended, \
                     correct or reorder the events and send them again"
                ),
                d,
            )
        }
        LedgerError::RequestIdConflict {
            request_id,
            first_seq,
            end,
        } => {
            let d = info(
                reason::REQUEST_ID_REUSED,
                &[
                    ("request_id", request_id.clone()),
                    ("first_seq", first_seq.to_string()),
                    ("end", end.to_string()),
                ],
            );
            Status::with_error_details(
                Code::AlreadyExists,
                format!(
                    "request id {request_id:?} was already used for a different append \
                     (entries {first_seq}..{end}); use a new request id for new events"
                ),
                d,
            )
        }
        LedgerError::UnexpectedSize { expected, actual } => {
            let mut d = info(
                reason::UNEXPECTED_SIZE,
                &[
                    ("expected_size", expected.to_string()),
                    ("actual_size", actual.to_string()),
                ],
            );
            d.add_precondition_failure_violation(
                reason::UNEXPECTED_SIZE,
                "expected_size",
                format!("expected {expected} entries, the log holds {actual}"),
            );
            Status::with_error_details(
                Code::Aborted,
                format!(
                    "expected the log to hold {expected} entries, it holds {actual}; \
                     read the new entries, re-decide, and retry with expected_size {actual}"
                ),
                d,
            )
        }
        LedgerError::NotFound(m) => {
            Status::with_error_details(Code::NotFound, m.clone(), info(reason::NOT_FOUND, &[]))
        }
        LedgerError::OutOfRange(m) => {
            Status::with_error_details(Code::OutOfRange, m.clone(), info(reason::OUT_OF_RANGE, &[]))
        }
        LedgerError::Storage(e) => {
            tracing::error!(error = %e, kind = ?e.kind, "storage failure");
            let (code, why, advice) = match e.kind {
                StorageKind::Transient => (
                    Code::Unavailable,
                    reason::STORAGE,
                    "nothing was acknowledged; retry later with the same request id",
                ),
                StorageKind::Full => (
                    Code::ResourceExhausted,
                    reason::STORAGE_FULL,
                    "nothing was acknowledged; retry with the same request id once the \
                     operator has freed disk space",
                ),
                StorageKind::Corrupt => (
                    Code::DataLoss,
                    reason::CORRUPT,
                    "stored data is damaged; do not retry, tell the operator \
                     (docs/RELIABILITY.md)",
                ),
                StorageKind::Internal => (
                    Code::Internal,
                    reason::INTERNAL,
                    "a fault of the server; do not retry automatically, tell the operator",
                ),
            };
            Status::with_error_details(
                code,
                format!("storage failure: {e}; {advice}"),
                info(why, &[]),
            )
        }
        LedgerError::Unavailable(m) => Status::with_error_details(
            Code::Unavailable,
            format!("{m}; retry with the same request id"),
            info(reason::UNAVAILABLE, &[]),
        ),
        LedgerError::Mirror { primary, what } => {
            let mut d = info(reason::MIRROR, &[("primary", primary.clone())]);
            d.add_precondition_failure_violation(
                reason::MIRROR,
                "server",
                format!("a read-only mirror of {primary}"),
            );
            Status::with_error_details(
                Code::FailedPrecondition,
                format!("this server is a read-only mirror of {primary}: {what}"),
                d,
            )
        }
        LedgerError::Witness(m) => {
            let mut d = info(reason::WITNESS, &[]);
            d.add_precondition_failure_violation(reason::WITNESS, "checkpoint", m.clone());
            Status::with_error_details(Code::FailedPrecondition, m.clone(), d)
        }
        LedgerError::Corrupt(f) => {
            tracing::error!(seq = f.seq, problem = %f.problem, "the stored log does not verify");
            Status::with_error_details(
                Code::DataLoss,
                format!(
                    "the stored log does not verify: first bad entry {}: {}; do not retry, \
                     tell the operator (docs/RELIABILITY.md)",
                    f.seq, f.problem
                ),
                info(reason::CORRUPT, &[("seq", f.seq.to_string())]),
            )
        }
    }
}

impl From<LedgerError> for Status {
    fn from(e: LedgerError) -> Status {
        ledger_status(&e)
    }
}

/// No or unknown credentials.
pub fn unauthenticated(why: &str) -> Status {
    Status::with_error_details(
        Code::Unauthenticated,
        format!(
            "{why}; send `authorization: Bearer <token>` with a token from the server's access file"
        ),
        info(reason::UNAUTHENTICATED, &[]),
    )
}

/// Known credentials without the needed role.
pub fn permission_denied(name: &str, role: &str, needs: &str) -> Status {
    Status::with_error_details(
        Code::PermissionDenied,
        format!("token {name:?} has role {role}, which may not {needs}"),
        info(
            reason::PERMISSION_DENIED,
            &[
                ("token", name.to_owned()),
                ("role", role.to_owned()),
                ("needs", needs.to_owned()),
            ],
        ),
    )
}

/// A principal asked about something outside its schools: `what` names it ("teacher T1",
/// "school S2"), `why` says what scope it missed.
pub fn out_of_scope(name: &str, what: &str, why: &str) -> Status {
    Status::with_error_details(
        Code::PermissionDenied,
        format!("token {name:?} may not see {what}: {why}"),
        info(
            reason::OUT_OF_SCOPE,
            &[("token", name.to_owned()), ("subject", what.to_owned())],
        ),
    )
}

/// A city view asked while two of its logs show the same origin (docs/CITY.md).
pub fn same_origin(origin: &str, first: &str, second: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        format!(
            "the logs at {first} and {second} have the same origin {origin:?}: their ids cannot \
             be told apart; give each district's primary its own --origin (docs/CITY.md)"
        ),
        info(
            reason::SAME_ORIGIN,
            &[
                ("origin", origin.to_owned()),
                ("first", first.to_owned()),
                ("second", second.to_owned()),
            ],
        ),
    )
}

/// A malformed request field found by the gRPC layer itself.
pub fn invalid_argument(field: &str, problem: &str) -> Status {
    ledger_status(&LedgerError::Input {
        index: None,
        field: field.to_owned(),
        problem: problem.to_owned(),
    })
}

/// A request body the transport could not read as the method's protobuf message (a bad
/// varint, an unknown wire type, a field cut short, a string that is not UTF-8, a gRPC frame
/// cut short). tonic answers these `INTERNAL`, as gRPC's status table says; this API answers
/// `INVALID_ARGUMENT`, because its clients retry `INTERNAL` (a failed store) with the same
/// request, and these bytes can never succeed. `method` is the request path,
/// `/rotaledger.v1.Ledger/Append`; `why` tonic's own words.
pub fn undecodable(method: &str, why: &str) -> Status {
    invalid_argument(
        "request",
        &format!(
            "the body of this {method} call could not be decoded as its protobuf message ({why})"
        ),
    )
}

/// A request message over the server's limit (`serve --max-message-bytes`): tonic answers
/// `OUT_OF_RANGE`; gRPC's status table, and this API, say `RESOURCE_EXHAUSTED`. `why` is
/// tonic's own words (they carry the message's length).
pub fn message_too_large(limit: usize, why: &str) -> Status {
    Status::with_error_details(
        Code::ResourceExhausted,
        format!(
            "the request message is too large: the server accepts at most {limit} bytes ({why}); \
             send a smaller request (an append's events can be split over several appends)"
        ),
        info(
            reason::MESSAGE_TOO_LARGE,
            &[("limit_bytes", limit.to_string())],
        ),
    )
}

/// A call that arrived while the ledger is still opening (replaying and verifying the log).
pub fn opening() -> Status {
    ledger_status(&LedgerError::Unavailable(
        "the ledger is opening (the server replays and verifies the log before it serves); \
         grpc.health.v1.Health/Check answers SERVING once it serves"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{StorageError, io_kind};

    fn reason_of(s: &Status) -> String {
        s.get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default()
    }

    #[test]
    fn every_ledger_error_has_its_code_and_reason() {
        let cases: Vec<(LedgerError, Code, &str)> = vec![
            (
                LedgerError::Input {
                    index: Some(2),
                    field: "date".into(),
                    problem: "not a date".into(),
                },
                Code::InvalidArgument,
                reason::INVALID_INPUT,
            ),
            (
                LedgerError::Rejected {
                    index: 1,
                    rule: "team_too_small".into(),
                    message: "a team needs 3 dispatches".into(),
                    values: vec![("team".into(), "T1".into()), ("size".into(), "2".into())],
                },
                Code::FailedPrecondition,
                "team_too_small",
            ),
            (
                LedgerError::RequestIdConflict {
                    request_id: "r".into(),
                    first_seq: 4,
                    end: 6,
                },
                Code::AlreadyExists,
                reason::REQUEST_ID_REUSED,
            ),
            (
                LedgerError::UnexpectedSize {
                    expected: 1,
                    actual: 2,
                },
                Code::Aborted,
                reason::UNEXPECTED_SIZE,
            ),
            (
                LedgerError::NotFound("x".into()),
                Code::NotFound,
                reason::NOT_FOUND,
            ),
            (
                LedgerError::OutOfRange("x".into()),
                Code::OutOfRange,
                reason::OUT_OF_RANGE,
            ),
            (
                LedgerError::Storage(StorageError::new(
                    StorageKind::Transient,
                    "committing",
                    std::io::Error::other("EIO"),
                )),
                Code::Unavailable,
                reason::STORAGE,
            ),
            (
                LedgerError::Storage(StorageError::new(
                    io_kind(&std::io::Error::from_raw_os_error(28)),
                    "committing",
                    std::io::Error::from_raw_os_error(28),
                )),
                Code::ResourceExhausted,
                reason::STORAGE_FULL,
            ),
            (
                LedgerError::Storage(StorageError::store(
                    "reading entry 3",
                    crate::log::StoreError::Corrupt("entry 3 is missing".into()),
                )),
                Code::DataLoss,
                reason::CORRUPT,
            ),
            (
                LedgerError::Storage(StorageError::internal(
                    "signing a checkpoint",
                    std::io::Error::other("no key"),
                )),
                Code::Internal,
                reason::INTERNAL,
            ),
            (
                LedgerError::Unavailable("stopping".into()),
                Code::Unavailable,
                reason::UNAVAILABLE,
            ),
            (
                LedgerError::Mirror {
                    primary: "https://primary:50051".into(),
                    what: "append there".into(),
                },
                Code::FailedPrecondition,
                reason::MIRROR,
            ),
            (
                LedgerError::Corrupt(crate::log::Failure {
                    seq: 7,
                    problem: crate::log::Problem::Gap {
                        expected: 7,
                        found: 9,
                    },
                }),
                Code::DataLoss,
                reason::CORRUPT,
            ),
        ];
        for (e, code, reason) in cases {
            let s = ledger_status(&e);
            assert_eq!(s.code(), code, "{e}");
            assert_eq!(reason_of(&s), reason, "{e}");
        }
    }

    #[test]
    fn rejections_carry_the_rule_values_and_the_event() {
        let s = ledger_status(&LedgerError::Rejected {
            index: 1,
            rule: "team_too_small".into(),
            message: "a team needs 3 dispatches".into(),
            values: vec![("team".into(), "T1".into()), ("size".into(), "2".into())],
        });
        let d = s.get_error_details();
        let info = d.error_info().unwrap();
        assert_eq!(info.metadata["team"], "T1");
        assert_eq!(info.metadata["size"], "2");
        assert_eq!(info.metadata["event_index"], "1");
        let pf = d.precondition_failure().unwrap();
        assert_eq!(pf.violations[0].subject, "events[1]");
        assert_eq!(pf.violations[0].r#type, "team_too_small");
        assert!(s.message().contains("event 1 breaks rule team_too_small"));
    }

    #[test]
    fn input_errors_name_the_field_path() {
        let s = ledger_status(&LedgerError::Input {
            index: Some(3),
            field: "date".into(),
            problem: "not a date".into(),
        });
        let d = s.get_error_details();
        let br = d.bad_request().unwrap();
        assert_eq!(br.field_violations[0].field, "events[3].date");
        assert_eq!(br.field_violations[0].description, "not a date");
        let s = ledger_status(&LedgerError::Input {
            index: None,
            field: "request_id".into(),
            problem: "empty".into(),
        });
        assert_eq!(
            s.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "request_id"
        );
    }
}

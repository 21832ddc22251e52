//! `rotaledger.v1.Ledger`: appends from writers, and the head.

use tonic::{Request, Response, Status};
use tonic_types::StatusExt;

use super::auth::{Permission, Role};
use super::status::permission_denied;
use super::{Shared, convert};
use crate::ledger::{CheckAppend, Checked, LedgerError};
use crate::proto;
use crate::proto::ledger_server::Ledger;

/// The Ledger service.
pub struct LedgerService {
    /// Ledger, access and limits.
    shared: Shared,
}

impl LedgerService {
    /// A service over `shared`.
    pub fn new(shared: Shared) -> LedgerService {
        LedgerService { shared }
    }
}

#[tonic::async_trait]
impl Ledger for LedgerService {
    async fn append(
        &self,
        request: Request<proto::AppendRequest>,
    ) -> Result<Response<proto::AppendResponse>, Status> {
        let caller = self.shared.authorize(&request, Permission::Append)?;
        let req = request.into_inner();
        if req.events.len() > self.shared.max_events {
            return Err(LedgerError::Input {
                index: None,
                field: "events".into(),
                problem: format!(
                    "{} events in one append, more than the limit of {}; split them into several appends",
                    req.events.len(),
                    self.shared.max_events
                ),
            }
            .into());
        }
        let count = req.events.len();
        erasure_needs_admin(&caller, &req.events)?;
        // The append runs in its own task: if the client gives up (deadline, disconnect) the
        // handler's future is dropped, but an append handed to the writer still completes and
        // a retry with the same request id gets its answer.
        let ledger = self.shared.ledger.clone();
        let actor = caller.name.clone();
        let request_id = req.request_id.clone();
        let receipt = tokio::spawn(async move {
            ledger
                .append(&actor, &request_id, req.expected_size, req.events)
                .await
        })
        .await
        .map_err(|e| Status::internal(format!("append task failed: {e}")))?
        .map_err(|e| {
            tracing::debug!(actor = %caller.name, request_id = %req.request_id, error = %e, "append refused");
            Status::from(e)
        })?;
        // Debug, not info: an info line per append cost more than the append's bookkeeping;
        // the counters of `GET /metrics` say how many and how fast.
        tracing::debug!(
            actor = %caller.name,
            request_id = %req.request_id,
            events = count,
            first_seq = receipt.first_seq,
            duplicate = receipt.duplicate,
            "append"
        );
        Ok(Response::new(convert::append_response(&receipt)))
    }

    async fn get_head(
        &self,
        request: Request<proto::GetHeadRequest>,
    ) -> Result<Response<proto::GetHeadResponse>, Status> {
        self.shared.authorize(&request, Permission::ReadHead)?;
        Ok(Response::new(proto::GetHeadResponse {
            head: Some(convert::head(&self.shared.ledger.head())),
            crypto: self.shared.ledger.profile().name().into(),
            mirror: self.shared.ledger.mirror().map(convert::mirror_state),
        }))
    }

    async fn check(
        &self,
        request: Request<proto::CheckRequest>,
    ) -> Result<Response<proto::CheckResponse>, Status> {
        let caller = self.shared.authorize(&request, Permission::Append)?;
        let req = request.into_inner();
        for a in &req.appends {
            erasure_needs_admin(&caller, &a.events)?;
        }
        let max = self.shared.max_events;
        // An append over the service's limit is refused here by `append` before the ledger
        // sees it; the check answers it the same way, and leaves it out of the ledger's check.
        let mut too_many: Vec<Option<LedgerError>> = Vec::with_capacity(req.appends.len());
        let mut appends = Vec::with_capacity(req.appends.len());
        for a in req.appends {
            if a.events.len() > max {
                too_many.push(Some(too_many_events(a.events.len(), max)));
            } else {
                too_many.push(None);
                appends.push(CheckAppend {
                    request_id: a.request_id,
                    expected_size: a.expected_size,
                    events: a.events,
                });
            }
        }
        // Judging is CPU work on the committed state: off the async workers.
        let ledger = self.shared.ledger.clone();
        let actor = caller.name.clone();
        let report = tokio::task::spawn_blocking(move || ledger.check(&actor, appends))
            .await
            .map_err(|e| Status::internal(format!("check task failed: {e}")))?
            .map_err(Status::from)?;
        let mut judged = report.results.into_iter();
        let mut results = Vec::with_capacity(too_many.len());
        for over in too_many {
            let r = match over {
                Some(e) => refused(&e),
                None => match judged.next() {
                    Some(c) => check_result(c),
                    None => return Err(Status::internal("the check lost an append's result")),
                },
            };
            results.push(r);
        }
        Ok(Response::new(proto::CheckResponse {
            head: Some(convert::head(&report.head)),
            results,
        }))
    }
}

/// The refusal of an append with more events than the service takes.
fn too_many_events(count: usize, max: usize) -> LedgerError {
    LedgerError::Input {
        index: None,
        field: "events".into(),
        problem: format!(
            "{count} events in one append, more than the limit of {max}; split them into several appends"
        ),
    }
}

/// One append's verdict as the wire says it.
fn check_result(c: Checked) -> proto::CheckResult {
    match c {
        Checked::Accepted { first_seq, count } => proto::CheckResult {
            seqs: (first_seq..first_seq + count).collect(),
            duplicate: false,
            refusal: None,
        },
        Checked::Duplicate { first_seq, count } => proto::CheckResult {
            seqs: (first_seq..first_seq + count).collect(),
            duplicate: true,
            refusal: None,
        },
        Checked::Refused(e) => refused(&e),
    }
}

/// The refusal `Append` would answer for `e`, as data: built from the very `Status` that
/// `Append` answers with, so the two cannot differ.
fn refused(e: &LedgerError) -> proto::CheckResult {
    let status = super::status::ledger_status(e);
    let details = status.get_error_details();
    let (reason, metadata) = details
        .error_info()
        .map(|i| (i.reason.clone(), i.metadata.clone()))
        .unwrap_or_default();
    let field = details
        .bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .or_else(|| {
            details
                .precondition_failure()
                .and_then(|p| p.violations.first().map(|v| v.subject.clone()))
        })
        .unwrap_or_default();
    let event_index = metadata
        .get("event_index")
        .and_then(|i| i.parse::<u32>().ok());
    proto::CheckResult {
        seqs: Vec::new(),
        duplicate: false,
        refusal: Some(proto::CheckRefusal {
            code: status.code() as u32,
            reason,
            message: status.message().to_owned(),
            metadata,
            event_index,
            field,
        }),
    }
}

/// Erasing personal data is an admin's act (docs/PRIVACY.md): `PERMISSION_DENIED` for anyone
/// else whose append (or check) holds a `personal_data_erased` event. The text search keeps the
/// parse off the path of every other append.
fn erasure_needs_admin(caller: &super::auth::Caller, events: &[String]) -> Result<(), Status> {
    if caller.role != Role::Admin
        && events
            .iter()
            .any(|e| e.contains("personal_data_erased") && is_erasure(e))
    {
        return Err(permission_denied(
            &caller.name,
            caller.role.as_str(),
            "append personal_data_erased (admin only)",
        ));
    }
    Ok(())
}

/// Whether an event's JSON text is a `personal_data_erased` event (its `type` member).
fn is_erasure(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Type<'a> {
        #[serde(rename = "type", borrow)]
        ty: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Type<'_>>(text)
        .ok()
        .and_then(|t| t.ty)
        .is_some_and(|t| t == "personal_data_erased")
}

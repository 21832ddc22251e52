//! `rotaledger.v1.Ledger`: appends from writers, and the head.

use tonic::{Request, Response, Status};

use super::auth::{Permission, Role};
use super::status::permission_denied;
use super::{Shared, convert};
use crate::ledger::LedgerError;
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
        // Erasing personal data is an admin's act (docs/PRIVACY.md); the text search keeps
        // the parse off the path of every other append.
        if caller.role != Role::Admin
            && req
                .events
                .iter()
                .any(|e| e.contains("personal_data_erased") && is_erasure(e))
        {
            return Err(permission_denied(
                &caller.name,
                caller.role.as_str(),
                "append personal_data_erased (admin only)",
            ));
        }
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
        }))
    }
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

//! `/audit`: the log's head and its latest signed checkpoint (Ledger.GetHead and
//! Audit.GetCheckpoint), for auditors and admins. The checkpoint is shown as the signed note
//! it is, to be checked with `rotaledger audit` or any C2SP signed-note verifier; the page
//! does not verify anything itself.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;

use super::html::esc;
use super::messages::M;
use super::{Console, Ctx, Problem, html};
use crate::proto;
use crate::proto::audit_server::Audit as _;
use crate::proto::ledger_server::Ledger as _;

/// `GET /audit`.
pub async fn page(State(c): State<Console>, headers: HeaderMap, uri: Uri) -> Response {
    let ctx = match c.enter(&headers, &uri) {
        Ok(ctx) => ctx,
        Err(r) => return *r,
    };
    let r = draw(&c, &ctx).await;
    c.finish(&ctx, r)
}

async fn draw(c: &Console, ctx: &Ctx) -> Result<Response, Problem> {
    let l = ctx.lang;
    // The checkpoint first: it needs the Audit permission, so a principal is refused before
    // anything is shown (the head alone is open to every role).
    let checkpoint = c
        .services
        .audit
        .get_checkpoint(ctx.grpc(proto::GetCheckpointRequest { size: None })?)
        .await?
        .into_inner()
        .checkpoint
        .unwrap_or_default();
    let head = c
        .services
        .ledger
        .get_head(ctx.grpc(proto::GetHeadRequest {})?)
        .await?
        .into_inner()
        .head
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><h2>{}</h2><dl class=\"profile\">\
         <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd><dt>{}</dt><dd><code>{}</code></dd></dl>\
         <h2>{}</h2><p class=\"help\">{}</p><pre class=\"note\">{}</pre>",
        esc(M::AuditTitle.t(l)),
        esc(M::Head.t(l)),
        esc(M::LogSize.t(l)),
        head.size,
        esc(M::HeadHash.t(l)),
        hex::encode(&head.hash),
        esc(M::MerkleRoot.t(l)),
        hex::encode(&head.root),
        esc(M::Checkpoint.t(l)),
        esc(M::CheckpointHelp.t(l)),
        esc(&checkpoint.text),
    );
    let page = ctx.frame().page(M::AuditTitle.t(l), &body);
    Ok(html(StatusCode::OK, page))
}

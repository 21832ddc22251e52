//! What the transport answers for a request no handler ever saw, in this API's codes: a body
//! that is not the method's protobuf message is `INVALID_ARGUMENT`, a message over the size
//! limit `RESOURCE_EXHAUSTED` (docs/API.md §5).
//!
//! tonic decodes a request before it calls the handler, and answers a failure itself:
//! `INTERNAL` for an undecodable body (from prost, or from its own framing: a frame cut
//! short, no message at all) and `OUT_OF_RANGE` for a message over
//! `max_decoding_message_size`. Neither passes through a codec or a handler of ours, so
//! [`RequestErrors`] wraps each rotaledger service and rewrites those answers on the way
//! out. It tells them from a handler's own `INTERNAL` or `OUT_OF_RANGE` by a mark the
//! handler sets: every handler starts with `Shared::authorize`, which calls [`reached`], so
//! an error answered without the mark was answered before any handler ran.
//!
//! A codec set through `tonic_prost_build`'s codec option would have seen only prost's
//! errors (not a frame cut short, not the size limit), and the generated clients share it,
//! so a client would have reported a server's undecodable answer as its own invalid
//! argument.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::{Code, Status};

use super::status;

/// Set once a handler has the decoded request: carried in the request's extensions.
#[derive(Clone, Default)]
struct Reached(Arc<AtomicBool>);

/// Marks `req` as having reached its handler (called by `Shared::authorize`, the first thing
/// every handler does). A request that did not come through [`RequestErrors`] has no mark
/// to set.
pub fn reached<T>(req: &tonic::Request<T>) {
    if let Some(r) = req.extensions().get::<Reached>() {
        r.0.store(true, Ordering::Release);
    }
}

/// A rotaledger service whose pre-handler refusals are answered in this API's codes.
#[derive(Clone)]
pub struct RequestErrors<S> {
    inner: S,
    /// The server's message limit, for the `RESOURCE_EXHAUSTED` message.
    limit: usize,
}

impl<S> RequestErrors<S> {
    /// Wraps `inner`, whose decoding limit is `limit` bytes.
    pub fn new(inner: S, limit: usize) -> RequestErrors<S> {
        RequestErrors { inner, limit }
    }
}

impl<S: NamedService> NamedService for RequestErrors<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for RequestErrors<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let mark = Reached::default();
        req.extensions_mut().insert(mark.clone());
        let method = req.uri().path().to_owned();
        let limit = self.limit;
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await?;
            if mark.0.load(Ordering::Acquire) {
                return Ok(resp);
            }
            // A refusal before the handler is a trailers-only response: the status is in
            // the headers.
            let Some(refused) = Status::from_header_map(resp.headers()) else {
                return Ok(resp);
            };
            let answer = match refused.code() {
                Code::Internal => status::undecodable(&method, refused.message()),
                Code::OutOfRange => status::message_too_large(limit, refused.message()),
                _ => return Ok(resp),
            };
            tracing::debug!(%method, code = ?answer.code(), why = %refused.message(), "request refused before its handler");
            Ok(answer.into_http())
        })
    }
}

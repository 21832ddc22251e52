//! A service that answers `UNAVAILABLE` at once until it is opened with the real one: the
//! server accepts connections (and answers health checks) while the ledger is still being
//! opened, and a call made in that time is told so instead of waiting for an open that can
//! take minutes on a large log.

use std::convert::Infallible;
use std::future::poll_fn;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;

use super::status;

/// `S` once opened, `UNAVAILABLE` (reason `UNAVAILABLE`, "the ledger is opening") before.
/// Clones share the opening.
pub struct Gate<S> {
    inner: Arc<OnceLock<S>>,
}

impl<S> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Gate {
            inner: self.inner.clone(),
        }
    }
}

impl<S> Default for Gate<S> {
    fn default() -> Self {
        Gate {
            inner: Arc::new(OnceLock::new()),
        }
    }
}

impl<S> Gate<S> {
    /// A closed gate.
    pub fn new() -> Gate<S> {
        Gate::default()
    }

    /// Lets calls through to `service` from now on (the first service given stays).
    pub fn open(&self, service: S) {
        let _ = self.inner.set(service);
    }
}

impl<S: NamedService> NamedService for Gate<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for Gate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness is the inner service's, asked per call on its own clone below.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match self.inner.get() {
            Some(s) => {
                let mut s = s.clone();
                Box::pin(async move {
                    poll_fn(|cx| s.poll_ready(cx)).await?;
                    s.call(req).await
                })
            }
            None => Box::pin(std::future::ready(Ok(status::opening().into_http()))),
        }
    }
}

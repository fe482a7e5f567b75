//! A tower layer for the gRPC server that counts, times and logs every
//! call, so no RPC handler has to.
//!
//! A unary call that fails answers "trailers-only": its `grpc-status` is in
//! the response headers, and the call is recorded when they arrive. Every
//! other call (successes, streams) carries its status in the trailers, so
//! the response body is wrapped and the call is recorded when the trailers
//! go out; the latency then covers the whole response.

use super::{Call, Metrics, Protocol};
use crate::pb::google::rpc::Code;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tonic::codegen::http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

/// Records every call of the service it wraps in [`Metrics`].
#[derive(Debug, Clone)]
pub struct CallMetricsLayer {
    metrics: Arc<Metrics>,
}

impl CallMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for CallMetricsLayer {
    type Service = CallMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`CallMetricsLayer`] makes.
#[derive(Debug, Clone)]
pub struct CallMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, ResBody> Service<Request<B>> for CallMetrics<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let rpc = self.metrics.rpc_for_path(request.uri().path());
        let call = Call::start(Protocol::Grpc, rpc);
        CallFuture {
            inner: self.inner.call(request),
            call: Some(call),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`CallMetrics`].
    pub struct CallFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, ResBody, E> Future for CallFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ObservedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        let response = match result {
            Ok(response) => response,
            Err(err) => {
                if let Some(call) = call {
                    call.finish(Code::Unknown);
                }
                return Poll::Ready(Err(err));
            }
        };
        if let Some(code) = grpc_status(response.headers()) {
            if let Some(call) = call.take() {
                call.finish(code);
            }
        }
        Poll::Ready(Ok(response.map(|inner| ObservedBody { inner, call })))
    }
}

pin_project_lite::pin_project! {
    /// A response body that records its call when the trailers go out. A
    /// body dropped before that (the client went away) records CANCELLED.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let code = match &frame {
            Some(Ok(frame)) => frame
                .trailers_ref()
                .map(|t| grpc_status(t).unwrap_or(Code::Unknown)),
            // A gRPC response must end in a status; one that does not failed.
            Some(Err(_)) | None => Some(Code::Unknown),
        };
        if let Some(code) = code {
            if let Some(call) = this.call.take() {
                call.finish(code);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The `grpc-status` of a header or trailer block, if it has one.
fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let code = value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .and_then(|v| Code::try_from(v).ok())
        .unwrap_or(Code::Unknown);
    Some(code)
}

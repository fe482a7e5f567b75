//! The one layer every gRPC call passes. It
//!
//! - counts, times and logs the call in [`Metrics`], so no handler has to;
//! - answers DEADLINE_EXCEEDED when the call outlives the per-call timeout
//!   (tonic's own timeout answers CANCELLED, which tells the client the
//!   wrong story);
//! - gives two faults of the caller's request the codes clients check for
//!   ([`client_faults_named`]).
//!
//! These are one layer, with one unboxed future, because they run on every
//! call: the call's start time and its answer's status are read once and
//! serve all three.
//!
//! A unary call that fails answers "trailers-only": its `grpc-status` is in
//! the response headers, and the call is recorded when they arrive. Every
//! other call (successes, streams) carries its status in the trailers, so
//! the response body is wrapped and the call is recorded when the trailers
//! go out. A stream's latency runs to that point; a unary call's is taken
//! when its answer is ready ([`Call::answered`]).

use super::accept::{CallGuard, Peer};
use crate::metrics::{Call, Metrics, Protocol};
use crate::pb::google::rpc::Code;
use http::{HeaderMap, HeaderName, Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use quanta::Instant;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// Wraps a router: see the module docs.
#[derive(Debug, Clone)]
pub struct CallLayer {
    /// `None`: calls pass through unrecorded and without a deadline.
    recording: Option<Recording>,
}

/// Where calls are recorded, and how long each may take.
#[derive(Debug, Clone)]
struct Recording {
    metrics: Arc<Metrics>,
    timeout: Duration,
}

impl CallLayer {
    /// Records every call in `metrics` and answers it DEADLINE_EXCEEDED
    /// after `timeout`.
    pub fn new(metrics: Arc<Metrics>, timeout: Duration) -> Self {
        Self {
            recording: Some(Recording { metrics, timeout }),
        }
    }

    /// Lets calls pass untouched, for the listeners whose calls are not the
    /// API's: they are served with the API's [`super::Transport`] type all
    /// the same (see [`super::serve`]).
    pub fn off() -> Self {
        Self { recording: None }
    }
}

impl<S> tower::Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallService {
            inner,
            recording: self.recording.clone(),
        }
    }
}

/// The service [`CallLayer`] makes.
#[derive(Debug, Clone)]
pub struct CallService<S> {
    inner: S,
    recording: Option<Recording>,
}

impl<S, B, ResBody> tower::Service<Request<B>> for CallService<S>
where
    S: tower::Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ObservedBody<ResBody>>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let timed = self.recording.as_ref().map(|recording| {
            let rpc = recording.metrics.rpc_for_path(request.uri().path());
            let started = Instant::now();
            Timed {
                call: Some(Call::started_at(Protocol::Grpc, rpc, started)),
                started,
                timeout: recording.timeout,
                timer: None,
            }
        });
        // The connection counts the call as in progress until its answer's
        // body is dropped, so the connection is not closed as idle.
        let conn = request
            .extensions()
            .get::<Peer>()
            .and_then(Peer::begin_call);
        CallFuture {
            inner: self.inner.call(request),
            timed,
            conn,
        }
    }
}

pin_project! {
    /// A call's answer; `timed` is `None` when the layer is off.
    pub struct CallFuture<F> {
        #[pin]
        inner: F,
        timed: Option<Timed>,
        conn: Option<CallGuard>,
    }
}

/// A recorded call under its deadline. The timer is armed only if the call
/// does not finish at its first poll: most answers are ready at once, and
/// they then cost no timer.
struct Timed {
    call: Option<Call>,
    started: Instant,
    timeout: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<F, ResBody, E> Future for CallFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<Response<ObservedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(timed) = this.timed.as_mut() else {
            let response = ready!(this.inner.poll(cx))?;
            let conn = this.conn.take();
            return Poll::Ready(Ok(response.map(|inner| ObservedBody {
                inner,
                call: None,
                _conn: conn,
            })));
        };
        let response = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => {
                let elapsed = timed.started.elapsed();
                if let Some(call) = timed.call.as_mut() {
                    call.answered(elapsed);
                }
                // A handler that computes without yielding finishes in one
                // poll however long it takes; its answer is late all the same.
                if elapsed <= timed.timeout {
                    response
                } else {
                    late(timed.timeout)
                }
            }
            Poll::Ready(Err(err)) => {
                if let Some(call) = timed.call.take() {
                    call.finish(Code::Unknown);
                }
                return Poll::Ready(Err(err));
            }
            Poll::Pending => {
                let (started, timeout) = (timed.started, timed.timeout);
                let timer = timed.timer.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep(
                        timeout.saturating_sub(started.elapsed()),
                    ))
                });
                ready!(timer.as_mut().poll(cx));
                late(timed.timeout)
            }
        };
        let mut call = timed.call.take();
        let response = match header_status(response.headers()) {
            // Success: the status comes in the trailers.
            None => response,
            Some(sent) => {
                let (response, code) = client_faults_named(response, sent);
                if let Some(call) = call.take() {
                    call.finish(code);
                }
                response
            }
        };
        let conn = this.conn.take();
        Poll::Ready(Ok(response.map(|inner| ObservedBody {
            inner,
            call,
            _conn: conn,
        })))
    }
}

/// The answer to a call that outlived the per-call timeout.
fn late<B: Default>(timeout: Duration) -> Response<B> {
    let status = tonic::Status::deadline_exceeded(format!(
        "the call took longer than the server's per-call timeout of {timeout:?}"
    ));
    status.into_http()
}

pin_project! {
    /// A response body that records its call when the trailers go out. A
    /// body dropped before that (the client went away) records CANCELLED.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        _conn: Option<CallGuard>,
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
                .map(|t| header_status(t).unwrap_or(Code::Unknown)),
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

/// The gRPC status headers, named once rather than parsed on each lookup.
const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The `grpc-status` of a header or trailer block, if it has one. The
/// blocks a gRPC server sends hold a few entries, so walking them costs less
/// than hashing the name for a lookup; this runs twice on every call.
fn header_status(headers: &HeaderMap) -> Option<Code> {
    headers
        .iter()
        .find(|(name, _)| **name == GRPC_STATUS)
        .map(|(_, value)| code_of(value.as_bytes()))
}

/// A `grpc-status` value as a code; one that is not a code is UNKNOWN.
fn code_of(status: &[u8]) -> Code {
    std::str::from_utf8(status)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .and_then(|v| Code::try_from(v).ok())
        .unwrap_or(Code::Unknown)
}

/// The start of tonic's grpc-message for a request over the size limit.
const OVERSIZE: &str = "Error,%20decoded%20message%20length%20too%20large";
/// The start of tonic's grpc-message for request bytes that are not the
/// request message.
const UNDECODABLE: &str = "failed%20to%20decode%20Protobuf%20message";

/// tonic answers two faults of the caller's request with codes that blame
/// the server: a message over the size limit is OUT_OF_RANGE, and bytes that
/// do not decode as the request message are INTERNAL. The gRPC
/// specification and the other implementations report RESOURCE_EXHAUSTED
/// and INVALID_ARGUMENT, which is what clients check for. tonic's message
/// is kept: for bad bytes it names the field and the fault. Given the code
/// the headers carry, returns the answer and the code it now carries.
fn client_faults_named<B>(mut response: Response<B>, sent: Code) -> (Response<B>, Code) {
    let (fault, named, code) = match sent {
        Code::OutOfRange => (OVERSIZE, "8", Code::ResourceExhausted),
        Code::Internal => (UNDECODABLE, "3", Code::InvalidArgument),
        other => return (response, other),
    };
    let is_fault = response
        .headers()
        .get(GRPC_MESSAGE)
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| m.starts_with(fault));
    if !is_fault {
        return (response, sent);
    }
    response
        .headers_mut()
        .insert(GRPC_STATUS, http::HeaderValue::from_static(named));
    (response, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, SharedCatalog};
    use std::convert::Infallible;
    use tonic::body::Body;
    use tower::{Layer, Service, ServiceExt};

    fn metrics() -> Arc<Metrics> {
        let catalog = SharedCatalog::new(Catalog::embedded().expect("embedded catalog"));
        Arc::new(Metrics::new(catalog, &[]))
    }

    /// The status `layer` answers for a service that takes a minute to
    /// give `answer`.
    async fn after_a_minute(layer: CallLayer, answer: fn() -> Response<Body>) -> tonic::Status {
        let slow = tower::service_fn(move |_: Request<()>| async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(answer())
        });
        let mut service = layer.layer(slow);
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(Request::new(()))
            .await
            .expect("answered");
        tonic::Status::from_header_map(response.headers()).expect("a status")
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_is_answered_deadline_exceeded() {
        let layer = CallLayer::new(metrics(), Duration::from_secs(1));
        let status = after_a_minute(layer, || Response::new(Body::empty())).await;
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(status.message().contains("1s"), "{}", status.message());
    }

    #[tokio::test(start_paused = true)]
    async fn a_layer_that_is_off_lets_calls_pass_untouched() {
        let undecodable = || {
            tonic::Status::internal("failed to decode Protobuf message: bad").into_http::<Body>()
        };
        let status = after_a_minute(CallLayer::off(), undecodable).await;
        assert_eq!(
            status.code(),
            tonic::Code::Internal,
            "no deadline, no rewrite"
        );
    }

    #[test]
    fn only_tonics_client_fault_statuses_are_rewritten() {
        let response = |status: &'static str, message: &'static str| {
            let mut r = Response::new(());
            r.headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static(status));
            r.headers_mut()
                .insert("grpc-message", http::HeaderValue::from_static(message));
            let (r, code) = client_faults_named(r, code_of(status.as_bytes()));
            let sent = r.headers()["grpc-status"]
                .to_str()
                .expect("ascii")
                .to_owned();
            assert_eq!(
                code_of(sent.as_bytes()),
                code,
                "the code recorded is the one sent"
            );
            sent
        };
        let oversize = "Error,%20decoded%20message%20length%20too%20large:%20found%202000%20bytes";
        assert_eq!(response("11", oversize), "8");
        assert_eq!(response("11", "out%20of%20range"), "11");
        assert_eq!(response("3", oversize), "3");
        let undecodable = "failed%20to%20decode%20Protobuf%20message:%20buffer%20underflow";
        assert_eq!(response("13", undecodable), "3");
        assert_eq!(response("13", "internal%20error"), "13");
        assert_eq!(response("11", undecodable), "11");
        assert_eq!(code_of(b"x"), Code::Unknown);
    }
}

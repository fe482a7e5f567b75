//! The API listener's hard limits, and the pieces tonic does not provide:
//! a cap on open connections, a per-call deadline answered with
//! DEADLINE_EXCEEDED, and RESOURCE_EXHAUSTED for oversized messages.

use futures_util::stream::{self, Stream};
use pin_project_lite::pin_project;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Limits of the API listener. Defaults are in [`crate::config`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request message, encoded, in bytes.
    pub max_message_bytes: usize,
    /// HTTP/2 streams one connection may have open at once; a client that
    /// opens more waits for one to finish (the HTTP/2 SETTINGS contract).
    pub max_concurrent_streams: u32,
    /// How long one call may take before it is answered DEADLINE_EXCEEDED.
    pub call_timeout: Duration,
    /// How often an idle connection is pinged, and how long a ping may go
    /// unanswered before the connection is closed.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are
    /// accepted, and their clients see UNAVAILABLE and may retry.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        use crate::config as c;
        Self {
            max_message_bytes: c::DEFAULT_MAX_MESSAGE_SIZE,
            max_concurrent_streams: c::DEFAULT_MAX_CONCURRENT_STREAMS,
            call_timeout: Duration::from_secs(5),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_connections: c::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// A connection that holds one of the listener's permits while open, and
/// closes by lingering ([`linger`]).
pub struct Capped {
    /// Always `Some` until the connection is dropped.
    io: Option<TcpStream>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Capped {
    fn io(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match &mut self.io {
            Some(io) => Ok(Pin::new(io)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Drop for Capped {
    fn drop(&mut self) {
        let (Some(io), Some(permit)) = (self.io.take(), self.permit.take()) else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(io, permit));
        }
    }
}

/// Longest a closed connection keeps reading what its client still sends.
const LINGER_TIME: Duration = Duration::from_secs(1);
/// Most bytes a closed connection reads and discards.
const LINGER_BYTES: usize = 1 << 20;

/// Closes a connection without losing answers already written. A socket
/// closed with unread input sends a reset, and a reset makes the client's
/// kernel discard what it has received but not yet read: a client that
/// sent a request as the server finished draining would lose the answers
/// before it. So the write side is shut first (the client reads every
/// answer, then end of stream), and what still arrives is read and
/// discarded until the client closes, for a second at most.
async fn linger(mut io: TcpStream, _permit: OwnedSemaphorePermit) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if io.shutdown().await.is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    let drain = async {
        let mut left = LINGER_BYTES;
        while left > 0 {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

impl Connected for Capped {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        match &self.io {
            Some(io) => io.connect_info(),
            None => TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            },
        }
    }
}

impl AsyncRead for Capped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().io()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for Capped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io()?.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io()?.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(TcpStream::is_write_vectored)
    }
}

/// Connections over the cap that are still told why, at most.
const MAX_REFUSING: usize = 64;
/// How long a refused connection stays open to answer its calls.
const REFUSAL_WINDOW: Duration = Duration::from_secs(1);

/// Accepted connections, at most `max` open at once. The listener closes
/// when the stream is dropped, which is when the server begins draining.
pub fn capped(listener: TcpListener, max: usize) -> impl Stream<Item = io::Result<Capped>> {
    let permits = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    stream::unfold((listener, permits), move |(listener, permits)| {
        let refusing = refusing.clone();
        async move {
            loop {
                let io = match listener.accept().await {
                    Ok((io, _)) => io,
                    Err(err) => {
                        // Out of file descriptors and the like: let the
                        // condition pass rather than spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        return Some((Err(err), (listener, permits)));
                    }
                };
                if let Err(err) = io.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {err}");
                }
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let capped = Capped {
                            io: Some(io),
                            permit: Some(permit),
                        };
                        return Some((Ok(capped), (listener, permits)));
                    }
                    Err(_) => {
                        tracing::warn!(max, "connection refused: the connection cap is reached");
                        if let Ok(permit) = refusing.clone().try_acquire_owned() {
                            tokio::spawn(refuse(io, max, permit));
                        }
                    }
                }
            }
        }
    })
}

/// Answers every call on an over-the-cap connection RESOURCE_EXHAUSTED for
/// a moment, then closes it: a client learns why, rather than seeing the
/// connection vanish.
async fn refuse(io: TcpStream, max: usize, _permit: OwnedSemaphorePermit) {
    let service =
        hyper::service::service_fn(move |_: http::Request<hyper::body::Incoming>| async move {
            let status = tonic::Status::resource_exhausted(format!(
                "the server's connection cap ({max}) is reached; retry later"
            ));
            Ok::<_, std::convert::Infallible>(status.into_http::<tonic::body::Body>())
        });
    let connection = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    let _ = tokio::time::timeout(REFUSAL_WINDOW, connection).await;
}

/// The per-call limits every API answer passes: DEADLINE_EXCEEDED when a
/// call outlives the per-call timeout (tonic's own timeout answers
/// CANCELLED, which tells the client the wrong story), and the right
/// codes for a request over the size limit or one that does not decode
/// ([`client_faults_named`]). One layer with an unboxed future,
/// as it runs on every call.
#[derive(Debug, Clone)]
pub struct DeadlineLayer(pub Duration);

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            timeout: self.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> tower::Service<http::Request<B>> for Deadline<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        DeadlineFuture {
            call: self.inner.call(request),
            started: tokio::time::Instant::now(),
            timeout: self.timeout,
            timer: None,
        }
    }
}

pin_project! {
    /// The timer is armed only if the call does not finish at its first
    /// poll: most answers are ready at once, and they then cost no timer.
    pub struct DeadlineFuture<F> {
        #[pin]
        call: F,
        started: tokio::time::Instant,
        timeout: Duration,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.call.poll(cx) {
            // A handler that computes without yielding finishes in one poll
            // however long it takes; its answer is late all the same.
            return Poll::Ready(if this.started.elapsed() <= *this.timeout {
                answer.map(client_faults_named)
            } else {
                Ok(late(*this.timeout))
            });
        }
        let deadline = *this.started + *this.timeout;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(late(*this.timeout))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn late(timeout: Duration) -> http::Response<tonic::body::Body> {
    tonic::Status::deadline_exceeded(format!(
        "the call took longer than the server's per-call timeout of {timeout:?}"
    ))
    .into_http()
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
/// is kept: for bad bytes it names the field and the fault.
pub fn client_faults_named<B>(mut response: http::Response<B>) -> http::Response<B> {
    // A successful answer carries its status in the trailers, so its
    // headers hold no grpc-status: one lookup, and done.
    let headers = response.headers();
    let (fault, named) = match headers.get("grpc-status").map(|s| s.as_bytes()) {
        Some(b"11") => (OVERSIZE, "8"),
        Some(b"13") => (UNDECODABLE, "3"),
        _ => return response,
    };
    let is_fault = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| m.starts_with(fault));
    if is_fault {
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static(named));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::{Layer, Service, ServiceExt};

    #[tokio::test(start_paused = true)]
    async fn a_slow_call_is_answered_deadline_exceeded() {
        let slow = tower::service_fn(|_: http::Request<()>| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, Infallible>(http::Response::new(tonic::body::Body::empty()))
        });
        let mut service = DeadlineLayer(Duration::from_secs(1)).layer(slow);
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(http::Request::new(()))
            .await
            .expect("answered");
        let status = tonic::Status::from_header_map(response.headers()).expect("a status");
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(status.message().contains("1s"), "{}", status.message());
    }

    #[test]
    fn only_tonics_client_fault_statuses_are_rewritten() {
        let response = |status: &'static str, message: &'static str| {
            let mut r = http::Response::new(());
            r.headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static(status));
            r.headers_mut()
                .insert("grpc-message", http::HeaderValue::from_static(message));
            client_faults_named(r)
        };
        let oversize = "Error,%20decoded%20message%20length%20too%20large:%20found%202000%20bytes";
        assert_eq!(response("11", oversize).headers()["grpc-status"], "8");
        assert_eq!(
            response("11", "out%20of%20range").headers()["grpc-status"],
            "11"
        );
        assert_eq!(response("3", oversize).headers()["grpc-status"], "3");
        let undecodable = "failed%20to%20decode%20Protobuf%20message:%20buffer%20underflow";
        assert_eq!(response("13", undecodable).headers()["grpc-status"], "3");
        assert_eq!(
            response("13", "internal%20error").headers()["grpc-status"],
            "13"
        );
        assert_eq!(response("11", undecodable).headers()["grpc-status"], "11");
    }
}

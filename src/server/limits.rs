//! The API listener's hard limits, and the piece tonic does not provide: a
//! cap on open connections. The per-call deadline is in [`super::call`].

use futures_util::stream::{self, Stream};
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
    // hyper may have shut the write side already; reading on is what
    // matters, so a failure here changes nothing.
    let _ = io.shutdown().await;
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

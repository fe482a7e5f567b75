//! Accepting connections, and closing them without losing answers.
//!
//! Every listener's connections are [`Accepted`]: `TCP_NODELAY` set (a
//! small reply must not wait for the peer's delayed ACK), small answers
//! written together ([`Writes`]), and closed by lingering ([`linger`]). The
//! API listener's are also capped ([`capped`]); the others' are not
//! ([`uncapped`]).

use futures_util::stream::{self, Stream};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted connection. It closes by lingering ([`linger`]), and holds
/// its listener's permit, if the listener is capped, until it has closed.
pub struct Accepted {
    /// Always `Some` until the connection is dropped.
    io: Option<TcpStream>,
    permit: Option<OwnedSemaphorePermit>,
    /// Whether the HTTP stack has been told how the connection writes: see
    /// [`Writes`].
    told: AtomicBool,
}

/// How a connection answers its HTTP stack's question whether it writes
/// vectored ([`AsyncWrite::is_write_vectored`]).
///
/// h2, hyper's HTTP/2, asks once when a connection starts, to choose which
/// DATA frames to copy into its write buffer: those under 1 KiB if the
/// answer is no, only those under 256 bytes if it is yes. A frame it does
/// not copy must be written out before the next frame is buffered, so with
/// "yes" every answer of errmap's usual size (about 900 bytes) costs a
/// system call of its own, while with "no" the answers to all the calls
/// that arrived together leave in one write. Afterwards h2 asks before each
/// write whether it may hand over its buffer and an uncopied frame in one
/// call, and there the truth (yes) saves a system call. hyper's HTTP/1
/// asks once too, and with "no" copies its small writes into one buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// "No" the first time, the truth after: small answers are written
    /// together. Twice the unary calls a CPU serves (BENCHMARKS.md, "Write
    /// coalescing").
    Coalesced,
    /// The truth every time: each answer over 256 bytes is written on its
    /// own. Kept for the benchmarks' comparison.
    OneByOne,
}

impl Accepted {
    fn new(io: TcpStream, permit: Option<OwnedSemaphorePermit>, writes: Writes) -> Self {
        if let Err(err) = io.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {err}");
        }
        Self {
            io: Some(io),
            permit,
            told: AtomicBool::new(writes == Writes::OneByOne),
        }
    }

    fn io(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match &mut self.io {
            Some(io) => Ok(Pin::new(io)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        let Some(io) = self.io.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(io, self.permit.take()));
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
async fn linger(mut io: TcpStream, _permit: Option<OwnedSemaphorePermit>) {
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

impl Connected for Accepted {
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

impl AsyncRead for Accepted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().io()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for Accepted {
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

    /// See [`Writes`]: the first answer may be "no" so that small frames
    /// are copied and written together.
    fn is_write_vectored(&self) -> bool {
        if !self.told.load(Ordering::Relaxed) {
            self.told.store(true, Ordering::Relaxed);
            return false;
        }
        self.io.as_ref().is_some_and(TcpStream::is_write_vectored)
    }
}

/// Connections over the cap that are still told why, at most.
const MAX_REFUSING: usize = 64;
/// How long a refused connection stays open to answer its calls.
const REFUSAL_WINDOW: Duration = Duration::from_secs(1);

/// Accepted connections, any number at once. The listener closes when the
/// stream is dropped, which is when the server begins draining.
pub fn uncapped(listener: TcpListener) -> impl Stream<Item = io::Result<Accepted>> {
    stream::unfold(listener, |listener| async move {
        let accepted = accept(&listener)
            .await
            .map(|io| Accepted::new(io, None, Writes::Coalesced));
        Some((accepted, listener))
    })
}

/// One connection from `listener`.
async fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    match listener.accept().await {
        Ok((io, _)) => Ok(io),
        Err(err) => {
            // Out of file descriptors and the like: let the condition pass
            // rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(err)
        }
    }
}

/// Accepted connections, at most `max` open at once. The listener closes
/// when the stream is dropped, which is when the server begins draining.
pub fn capped(
    listener: TcpListener,
    max: usize,
    writes: Writes,
) -> impl Stream<Item = io::Result<Accepted>> {
    let permits = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    stream::unfold((listener, permits), move |(listener, permits)| {
        let refusing = refusing.clone();
        async move {
            loop {
                let io = match accept(&listener).await {
                    Ok(io) => io,
                    Err(err) => return Some((Err(err), (listener, permits))),
                };
                match permits.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let accepted = Accepted::new(io, Some(permit), writes);
                        return Some((Ok(accepted), (listener, permits)));
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

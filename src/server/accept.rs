//! Accepting connections, holding each listener to its cap, and closing
//! connections without losing answers.
//!
//! Every listener's connections pass a [`Gate`] and become [`Accepted`]:
//!
//! - **a budget per address** ([`Budget`]): an address that opens
//!   connections faster than its budget has the excess closed at once, so a
//!   client that reconnects in a loop (each connection good for at most
//!   [`MAX_LOCAL_RESETS`] reset streams before its GOAWAY) gets a bounded
//!   share of a core;
//! - **a handshake timeout**: a connection must send the HTTP/2 preface, or
//!   start an HTTP/1.1 request, within it, so silent and slowloris sockets
//!   cannot hold places for long;
//! - **a cap**: at the cap, an open connection that has not completed its
//!   handshake, or else one with no call in progress, is closed to make
//!   room; only when every connection is busy is the new one refused (and
//!   the listener then reports itself saturated, see [`Gate::saturated`]);
//! - `TCP_NODELAY` (a small reply must not wait for the peer's delayed
//!   ACK), small answers written together ([`Writes`]), and closing by
//!   lingering (`linger`) once a connection has served a call.

use crate::metrics::connections::{Closed, ConnectionStats};
use futures_util::stream::{self, Stream};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Streams the server may reset on its own (for a client's protocol error,
/// such as a flow-control window pushed past 2^31-1) on one connection
/// before it sends GOAWAY. hyper's own default; tonic would otherwise lift
/// the limit, and one connection could make the server reset streams
/// without end.
pub const MAX_LOCAL_RESETS: usize = 1024;

/// The HTTP/2 connection preface every HTTP/2 client sends first.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a listener admits connections.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a connection has to send the HTTP/2 preface or start an
    /// HTTP/1.1 request.
    pub handshake_timeout: Duration,
    /// How answers are written ([`Writes`]).
    pub writes: Writes,
}

/// A listener's open connections, and its counts.
#[derive(Debug)]
pub struct Gate {
    admission: Admission,
    open: Mutex<Open>,
    /// Closed connections still lingering, at most one per place under the
    /// cap; beyond that a connection closes at once.
    lingering: Arc<Semaphore>,
    stats: Arc<ConnectionStats>,
}

#[derive(Debug, Default)]
struct Open {
    next: u64,
    /// By age: the oldest first.
    conns: BTreeMap<u64, Arc<Conn>>,
}

/// What the gate and the call layer know of one open connection.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    /// It sent the HTTP/2 preface or started a request.
    handshaken: AtomicBool,
    /// It has started a call: closing it lingers.
    served: AtomicBool,
    /// Calls in progress.
    calls: AtomicUsize,
    /// Fired to close it when it is idle and the cap is reached.
    evict: Mutex<Option<oneshot::Sender<()>>>,
}

impl Conn {
    fn is_idle(&self) -> bool {
        self.calls.load(Ordering::Relaxed) == 0
    }

    fn is_handshaken(&self) -> bool {
        self.handshaken.load(Ordering::Relaxed)
    }
}

impl Gate {
    pub fn new(admission: Admission, stats: Arc<ConnectionStats>) -> Arc<Self> {
        Arc::new(Self {
            admission,
            open: Mutex::default(),
            lingering: Arc::new(Semaphore::new(admission.max_connections)),
            stats,
        })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        // The map stays consistent whatever panicked while it was held.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the listener is at its cap with every connection busy, so
    /// that a new connection would be refused.
    pub fn saturated(&self) -> bool {
        let open = self.open();
        open.conns.len() >= self.admission.max_connections
            && !open
                .conns
                .values()
                .any(|conn| !conn.is_handshaken() || conn.is_idle())
    }

    /// The cap.
    pub fn max_connections(&self) -> usize {
        self.admission.max_connections
    }

    /// A place for a new connection, making room at the cap by closing the
    /// oldest connection that has not completed its handshake, else the
    /// oldest idle one. `None`: every connection is busy.
    fn admit(&self) -> Option<(Arc<Conn>, oneshot::Receiver<()>)> {
        let mut open = self.open();
        if open.conns.len() >= self.admission.max_connections {
            let mut idle = None;
            let mut victim = None;
            for (&id, conn) in &open.conns {
                if !conn.is_handshaken() {
                    victim = Some(id);
                    break;
                }
                if idle.is_none() && conn.is_idle() {
                    idle = Some(id);
                }
            }
            let conn = open.conns.remove(&victim.or(idle)?)?;
            self.stats.closed(Closed::Evicted);
            self.stats.dropped();
            let evict = conn
                .evict
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(evict) = evict {
                let _ = evict.send(());
            }
        }
        let (evict, evicted) = oneshot::channel();
        let id = open.next;
        open.next += 1;
        let conn = Arc::new(Conn {
            id,
            handshaken: AtomicBool::new(false),
            served: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
            evict: Mutex::new(Some(evict)),
        });
        open.conns.insert(id, conn.clone());
        self.stats.opened();
        Some((conn, evicted))
    }

    fn remove(&self, id: u64) {
        if self.open().conns.remove(&id).is_some() {
            self.stats.dropped();
        }
    }
}

/// What the HTTP stack is told of a connection, and hands every request on
/// it: the addresses, and the connection's record for the call layer.
#[derive(Debug, Clone)]
pub struct Peer {
    pub tcp: TcpConnectInfo,
    conn: Option<Arc<Conn>>,
}

impl Peer {
    /// Marks a call in progress on this connection until the guard drops.
    pub fn begin_call(&self) -> Option<CallGuard> {
        let conn = self.conn.as_ref()?;
        conn.calls.fetch_add(1, Ordering::Relaxed);
        if !conn.served.load(Ordering::Relaxed) {
            conn.served.store(true, Ordering::Relaxed);
            conn.handshaken.store(true, Ordering::Relaxed);
        }
        Some(CallGuard(conn.clone()))
    }
}

/// A call in progress on a connection (see [`Peer::begin_call`]).
#[derive(Debug)]
pub struct CallGuard(Arc<Conn>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.calls.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An accepted connection. It holds its place under the cap until dropped,
/// then closes by lingering (`linger`) if it served a call.
pub struct Accepted {
    /// Always `Some` until the connection is dropped.
    io: Option<TcpStream>,
    gate: Arc<Gate>,
    conn: Arc<Conn>,
    /// Fires when the gate closes this connection to make room.
    evicted: Option<oneshot::Receiver<()>>,
    /// Until the handshake completes: its deadline, and how much of the
    /// HTTP/2 preface has arrived (`None` once the bytes are not the
    /// preface: an HTTP/1.1 request, which completes when it starts).
    handshake: Option<(Pin<Box<Sleep>>, Option<usize>)>,
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
    fn new(
        io: TcpStream,
        gate: Arc<Gate>,
        conn: Arc<Conn>,
        evicted: oneshot::Receiver<()>,
    ) -> Self {
        if let Err(err) = io.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {err}");
        }
        let admission = gate.admission;
        Self {
            io: Some(io),
            gate,
            conn,
            evicted: Some(evicted),
            handshake: Some((
                Box::pin(tokio::time::sleep(admission.handshake_timeout)),
                Some(0),
            )),
            told: AtomicBool::new(admission.writes == Writes::OneByOne),
        }
    }

    fn io(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match &mut self.io {
            Some(io) => Ok(Pin::new(io)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Follows the handshake through the bytes just read; an error once
    /// its time is up.
    fn check_handshake(
        &mut self,
        read: &[u8],
        pending: bool,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        let Some((deadline, preface)) = self.handshake.as_mut() else {
            return Ok(());
        };
        if let Some(seen) = preface {
            let want = &PREFACE[*seen..];
            let n = read.len().min(want.len());
            if read[..n] == want[..n] {
                *seen += n;
            } else {
                *preface = None;
            }
        }
        let done = *preface == Some(PREFACE.len()) || self.conn.is_handshaken();
        if done {
            self.conn.handshaken.store(true, Ordering::Relaxed);
            self.handshake = None;
            return Ok(());
        }
        if pending && deadline.as_mut().poll(cx).is_ready() {
            self.handshake = None;
            self.gate.stats.closed(Closed::Handshake);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no HTTP/2 preface or HTTP/1.1 request within the handshake timeout",
            ));
        }
        Ok(())
    }
}

impl Drop for Accepted {
    fn drop(&mut self) {
        self.gate.remove(self.conn.id);
        let Some(io) = self.io.take() else {
            return;
        };
        // A connection that never served a call has no answer to lose.
        if !self.conn.served.load(Ordering::Relaxed) {
            return;
        }
        let Ok(permit) = self.gate.lingering.clone().try_acquire_owned() else {
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

impl Connected for Accepted {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Self::ConnectInfo {
        let tcp = match &self.io {
            Some(io) => io.connect_info(),
            None => TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            },
        };
        Peer {
            tcp,
            conn: Some(self.conn.clone()),
        }
    }
}

impl AsyncRead for Accepted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(evicted) = this.evicted.as_mut() {
            match Pin::new(evicted).poll(cx) {
                Poll::Ready(Ok(())) => {
                    this.evicted = None;
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "closed to make room: the connection cap is reached and this connection was idle",
                    )));
                }
                Poll::Ready(Err(_)) => this.evicted = None,
                Poll::Pending => {}
            }
        }
        let before = buf.filled().len();
        let polled = this.io()?.poll_read(cx, buf);
        if this.handshake.is_some() {
            let read = &buf.filled()[before..];
            this.check_handshake(read, polled.is_pending(), cx)?;
        }
        polled
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

/// New connections one address may open in a burst.
pub const BUDGET_BURST: f64 = 256.0;
/// New connections one address may open a second, over time.
pub const BUDGET_RATE: f64 = 32.0;
/// Addresses whose budgets are remembered; past this, full budgets are
/// forgotten (they are what a new address starts with anyway).
const BUDGET_ADDRESSES: usize = 4096;

/// Each address's budget of new connections: a token bucket of
/// [`BUDGET_BURST`] refilled at [`BUDGET_RATE`] a second. A sidecar's
/// clients hold their connections, so a healthy one never comes near it;
/// a client that reconnects in a loop is held to the rate, and each of its
/// connections can cost at most [`MAX_LOCAL_RESETS`] resets.
#[derive(Debug, Default)]
pub struct Budget {
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl Budget {
    /// Takes one connection from `ip`'s budget; `false` if it is spent.
    pub fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.buckets.len() >= BUDGET_ADDRESSES {
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * BUDGET_RATE < BUDGET_BURST
            });
        }
        // Still full: this many addresses at once are forgiven together
        // rather than remembered without bound.
        if self.buckets.len() >= BUDGET_ADDRESSES {
            self.buckets.clear();
        }
        let (tokens, at) = self.buckets.entry(ip).or_insert((BUDGET_BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * BUDGET_RATE).min(BUDGET_BURST);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Connections over the cap that are still told why, at most.
const MAX_REFUSING: usize = 64;
/// How long a refused connection stays open to answer its calls.
const REFUSAL_WINDOW: Duration = Duration::from_secs(1);
/// Least time between two warnings of one listener about closed
/// connections: a flood must not become a flood of log lines.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The listener's connections as its gate admits them (see the module
/// docs). The listener closes when the stream is dropped, which is when
/// the server begins draining.
pub fn incoming(
    listener: TcpListener,
    gate: Arc<Gate>,
) -> impl Stream<Item = io::Result<Accepted>> {
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let state = (listener, gate, Budget::default(), None::<Instant>);
    stream::unfold(state, move |(listener, gate, mut budget, mut warned)| {
        let refusing = refusing.clone();
        async move {
            loop {
                let (io, peer) = match accept(&listener).await {
                    Ok(accepted) => accepted,
                    Err(err) => return Some((Err(err), (listener, gate, budget, warned))),
                };
                let now = Instant::now();
                let mut warn = |what: &str| {
                    if warned.is_none_or(|at| now.duration_since(at) >= WARN_EVERY) {
                        warned = Some(now);
                        tracing::warn!(%peer, max = gate.max_connections(), "{what}");
                    }
                };
                if !budget.admit(peer.ip(), now) {
                    gate.stats.closed(Closed::Rate);
                    warn("connection closed: its address opens connections faster than its budget (further ones are counted, not logged, for 10s)");
                    continue;
                }
                if let Some((conn, evicted)) = gate.admit() {
                    let accepted = Accepted::new(io, gate.clone(), conn, evicted);
                    return Some((Ok(accepted), (listener, gate, budget, warned)));
                }
                gate.stats.closed(Closed::Cap);
                warn("connection refused: the connection cap is reached and every connection is busy (further ones are counted, not logged, for 10s)");
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(refuse(io, gate.max_connections(), permit));
                }
            }
        }
    })
}

/// One connection from `listener`, with its peer's address.
async fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok(accepted) => Ok(accepted),
        Err(err) => {
            // Out of file descriptors and the like: let the condition pass
            // rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(err)
        }
    }
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
    let mut builder =
        hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder.max_local_error_reset_streams(Some(MAX_LOCAL_RESETS));
    let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    let _ = tokio::time::timeout(REFUSAL_WINDOW, connection).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_burst_then_its_rate() {
        let mut budget = Budget::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let start = Instant::now();
        let admitted = (0..1000).filter(|_| budget.admit(ip, start)).count();
        assert_eq!(admitted as f64, BUDGET_BURST);
        assert!(budget.admit(other, start), "another address has its own");
        let later = start + Duration::from_secs(1);
        let refilled = (0..1000).filter(|_| budget.admit(ip, later)).count();
        assert_eq!(refilled as f64, BUDGET_RATE);
    }

    #[test]
    fn forgotten_addresses_keep_the_map_bounded() {
        let mut budget = Budget::default();
        let start = Instant::now();
        for i in 0..(BUDGET_ADDRESSES as u32 * 3) {
            let ip: IpAddr = std::net::Ipv4Addr::from(i).into();
            assert!(budget.admit(ip, start + Duration::from_secs(60)));
        }
        assert!(budget.buckets.len() <= BUDGET_ADDRESSES + 1);
    }
}

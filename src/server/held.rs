//! Requests read to their end after an early answer.
//!
//! A call can be answered before its request has ended: a method errmap
//! lacks, a message over the limit, a path the HTTP listener does not
//! serve, a call past its deadline. The request's end may still be on its
//! way. Were the request body simply dropped with the answer, h2 would
//! reset the stream (`NO_ERROR`), one reset a call, and the peer's end,
//! arriving later, could land on a stream h2 no longer remembers. h2
//! answers such a frame with a reset of its own making, which counts
//! towards `MAX_LOCAL_RESETS`: past it, the connection is closed with
//! `GOAWAY(ENHANCE_YOUR_CALM)`, failing every call on it. With h2 0.4.20,
//! which remembered 50 resets for a second, a client calling a method
//! errmap lacks, busy enough that its requests' ends came a read after
//! their headers, met that after 1,200 calls (`tests/grpc/attack.rs`);
//! 0.4.21 remembers twice the streams a connection may have open, for 5
//! s, so it now takes ends later or further apart than that, and the
//! resets remain.
//!
//! So every listener hands each request body to the handler in a
//! [`HeldBody`]. One dropped before its end is given to a task that reads
//! the rest, and the stream closes when the peer ends it: no reset either
//! way. The task gives up after [`Hold`]'s bytes or time, and the stream
//! is then reset as before; a peer that sends more than a message or takes
//! longer than a call gets what it would have had.
//!
//! On the HTTP listener's HTTP/1.1 connections the same hold keeps the
//! connection: hyper closes one whose request body was left unread, so an
//! early answer (a 404, say) used to cost the client its connection.
//!
//! The time bound is kept by one [`Clock`] per listener, ticking only
//! while bodies are held, not a timer per held body. Behind Envoy every
//! ext_proc stream is held, for the moment until Envoy's half-close, and
//! a timer due before every other one the runtime has (a call's time,
//! 5 s, against the connections' keep-alive, 30 s) makes tokio wake its
//! own driver with an `eventfd` write: 0.41 system calls per processed
//! response at full speed, 0.95 paced, of 0.66 and 2.95 in all
//! (BENCHMARKS.md, "The hold's clock").

use http::Request;
use http_body::{Body, Frame, SizeHint};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// The ticks a held body waits for, past the one it was dropped in: it is
/// held for at least `TICKS - 1` periods (a call's time) and at most
/// `TICKS` (a quarter more).
const TICKS: u64 = 5;

/// How much of an answered request is read after the answer, at most.
#[derive(Debug, Clone)]
pub struct Hold {
    bytes: usize,
    clock: Clock,
}

impl Hold {
    /// Reads up to `bytes` more, for at least `within` and at most a
    /// quarter more (4 to 5 ms for a `within` under 4 ms: the clock's
    /// period is at least 1 ms).
    pub fn new(bytes: usize, within: Duration) -> Self {
        Self {
            bytes,
            clock: Clock::new(within / (TICKS - 1) as u32),
        }
    }
}

/// One listener's count of periods, kept by a task that ticks it; every
/// held body watches it. The task is started on the runtime of a body held
/// when none runs, and ends at a tick that finds no body held (an idle
/// listener wakes for nothing) or the listener's last [`Hold`] gone.
#[derive(Debug, Clone)]
struct Clock(Arc<Ticks>);

#[derive(Debug)]
struct Ticks {
    /// The periods counted; its receivers are the bodies held.
    count: watch::Sender<u64>,
    period: Duration,
    /// Whether a task ticks the count.
    running: AtomicBool,
}

impl Clock {
    fn new(period: Duration) -> Self {
        // tokio's interval refuses a zero period.
        let period = period.max(Duration::from_millis(1));
        Self(Arc::new(Ticks {
            count: watch::Sender::new(0),
            period,
            running: AtomicBool::new(false),
        }))
    }

    /// The count to watch and the tick at which a body held now is let go;
    /// starts the ticking task on `runtime` if none runs yet.
    fn expiry(&self, runtime: &tokio::runtime::Handle) -> (watch::Receiver<u64>, u64) {
        // Watched before the task is looked for, so that a task about to
        // end for want of bodies sees this one (see `tick`).
        let count = self.0.count.subscribe();
        if !self.0.running.swap(true, Ordering::SeqCst) {
            runtime.spawn(tick(Arc::downgrade(&self.0), self.0.period));
        }
        let now = *count.borrow();
        (count, now + TICKS)
    }
}

/// Counts `ticks`' periods while bodies are held and the listener lasts.
async fn tick(ticks: Weak<Ticks>, period: Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once.
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(ticks) = ticks.upgrade() else {
            return;
        };
        ticks.count.send_modify(|count| *count += 1);
        if ticks.count.receiver_count() == 0 {
            ticks.running.store(false, Ordering::SeqCst);
            // A body held since the count was looked at found this task
            // running and started none: it is ticked for, unless it has
            // started another since.
            if ticks.count.receiver_count() == 0 || ticks.running.swap(true, Ordering::SeqCst) {
                return;
            }
        }
    }
}

/// Hands every request body to the service in a [`HeldBody`].
#[derive(Debug, Clone)]
pub struct HoldLayer(Hold);

impl HoldLayer {
    pub fn new(hold: Hold) -> Self {
        Self(hold)
    }
}

impl<S> tower::Layer<S> for HoldLayer {
    type Service = HoldService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HoldService {
            inner,
            hold: self.0.clone(),
        }
    }
}

/// The service [`HoldLayer`] makes.
#[derive(Debug, Clone)]
pub struct HoldService<S> {
    inner: S,
    hold: Hold,
}

impl<S, B> tower::Service<Request<B>> for HoldService<S>
where
    S: tower::Service<Request<HeldBody<B>>>,
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let hold = self.hold.clone();
        self.inner.call(request.map(|body| HeldBody {
            body: Some(body),
            hold,
        }))
    }
}

/// A request body that, dropped before its end, is read to it by a task
/// of its own; see the module docs.
pub struct HeldBody<B>
where
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
{
    /// `None` once the body has ended or failed: nothing is left to read.
    body: Option<B>,
    hold: Hold,
}

impl<B> Body for HeldBody<B>
where
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = ready!(Pin::new(body).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            this.body = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B> Drop for HeldBody<B>
where
    B: Body + Unpin + Send + 'static,
    B::Data: Send,
{
    fn drop(&mut self) {
        let Some(body) = self.body.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // Outside a runtime (no listener is) there is no stream to keep.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (count, expires) = self.hold.clock.expiry(&runtime);
            runtime.spawn(read_to_end(body, self.hold.bytes, count, expires));
        }
    }
}

/// Reads `body` to its end, its failure, `bytes` more, or `count` reaching
/// `expires` (or its listener's end).
async fn read_to_end<B>(mut body: B, bytes: usize, mut count: watch::Receiver<u64>, expires: u64)
where
    B: Body + Unpin,
{
    let mut left = bytes;
    let reading = async {
        while let Some(Ok(frame)) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let len = frame.data_ref().map_or(0, bytes::Buf::remaining);
            match left.checked_sub(len) {
                Some(rest) => left = rest,
                None => return,
            }
        }
    };
    let expiring = async {
        while count.changed().await.is_ok() {
            if *count.borrow_and_update() >= expires {
                return;
            }
        }
    };
    tokio::select! {
        biased;
        () = reading => {}
        () = expiring => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::ReceiverStream;

    type Chunks = StreamBody<ReceiverStream<Result<Frame<Bytes>, std::convert::Infallible>>>;

    type Feed = mpsc::Sender<Result<Frame<Bytes>, std::convert::Infallible>>;

    /// A body fed by the test, and a count of the frames read from it.
    fn fed(hold: Hold) -> (HeldBody<Counted>, Feed, Arc<AtomicUsize>) {
        let (feed, chunks) = mpsc::channel(16);
        let read = Arc::new(AtomicUsize::new(0));
        let body = Counted {
            inner: StreamBody::new(ReceiverStream::new(chunks)),
            read: read.clone(),
        };
        (
            HeldBody {
                body: Some(body),
                hold,
            },
            feed,
            read,
        )
    }

    struct Counted {
        inner: Chunks,
        read: Arc<AtomicUsize>,
    }

    impl Body for Counted {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
            if frame.is_some() {
                self.read.fetch_add(1, Ordering::SeqCst);
            }
            Poll::Ready(frame)
        }
    }

    fn chunk(len: usize) -> Result<Frame<Bytes>, std::convert::Infallible> {
        Ok(Frame::data(Bytes::from(vec![0; len])))
    }

    /// Lets the reading task run until `read` reaches `count`.
    async fn until_read(read: &AtomicUsize, count: usize) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while read.load(Ordering::SeqCst) < count {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the frames are read");
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_is_read_to_it() {
        let (mut body, feed, read) = fed(Hold::new(1000, Duration::from_secs(60)));
        feed.send(chunk(10)).await.expect("send");
        let first = body.frame().await.expect("a frame").expect("data");
        assert_eq!(first.into_data().expect("data").len(), 10);
        drop(body);
        for _ in 0..3 {
            feed.send(chunk(10)).await.expect("the rest is still read");
        }
        until_read(&read, 4).await;
    }

    #[tokio::test]
    async fn the_reading_stops_past_the_bytes() {
        let (body, feed, read) = fed(Hold::new(25, Duration::from_secs(60)));
        drop(body);
        feed.send(chunk(10)).await.expect("send");
        feed.send(chunk(10)).await.expect("send");
        feed.send(chunk(10)).await.expect("send");
        until_read(&read, 3).await;
        // The third chunk went past 25 bytes: the body is dropped.
        tokio::time::timeout(Duration::from_secs(5), feed.closed())
            .await
            .expect("the body is let go");
    }

    #[tokio::test(start_paused = true)]
    async fn the_reading_stops_after_the_time() {
        // The listener keeps its hold; so does the test.
        let hold = Hold::new(1000, Duration::from_secs(5));
        let (body, feed, _read) = fed(hold.clone());
        drop(body);
        let start = tokio::time::Instant::now();
        tokio::time::timeout(Duration::from_millis(6300), feed.closed())
            .await
            .expect("the body is let go by a quarter past 5 s");
        assert!(
            start.elapsed() >= Duration::from_secs(5),
            "held {:?}, less than 5 s",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bodies_held_at_different_times_are_each_held_their_time() {
        let hold = Hold::new(1000, Duration::from_secs(4));
        let (first, first_feed, _) = fed(hold.clone());
        let (second, second_feed, _) = fed(hold.clone());
        let start = tokio::time::Instant::now();
        drop(first);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        drop(second);
        first_feed.closed().await;
        let first_held = start.elapsed();
        second_feed.closed().await;
        let second_held = start.elapsed() - Duration::from_millis(2500);
        for held in [first_held, second_held] {
            assert!(
                (Duration::from_secs(4)..=Duration::from_secs(5)).contains(&held),
                "held {held:?}, not 4-5 s"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_stops_with_nothing_held_and_starts_again() {
        let hold = Hold::new(1000, Duration::from_secs(4));
        let running = || hold.clock.0.running.load(Ordering::SeqCst);
        assert!(!running(), "no clock before a body is held");
        for _ in 0..2 {
            let (body, feed, _) = fed(hold.clone());
            let start = tokio::time::Instant::now();
            drop(body);
            assert!(running());
            feed.closed().await;
            let held = start.elapsed();
            assert!(
                (Duration::from_secs(4)..=Duration::from_secs(5)).contains(&held),
                "held {held:?}, not 4-5 s"
            );
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(!running(), "the clock stopped with nothing held");
        }
    }

    /// Bodies held from several threads while the clock stops and starts
    /// between them: each is let go.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn bodies_held_while_the_clock_stops_are_each_let_go() {
        let hold = Hold::new(1000, Duration::from_millis(8));
        let mut feeds = Vec::new();
        let mut drops = Vec::new();
        for i in 0..400u64 {
            let (body, feed, _) = fed(hold.clone());
            feeds.push(feed);
            drops.push(tokio::spawn(async move {
                // Spread over a few periods, some after a gap of several.
                tokio::time::sleep(Duration::from_millis(i % 7 * (i % 5))).await;
                drop(body);
            }));
        }
        for dropped in drops {
            dropped.await.expect("dropped");
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            for feed in &feeds {
                feed.closed().await;
            }
        })
        .await
        .expect("every body is let go");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_held_past_its_listeners_end_is_let_go() {
        let hold = Hold::new(1000, Duration::from_secs(60));
        let ticks = Arc::downgrade(&hold.clock.0);
        let (body, feed, _) = fed(hold.clone());
        drop(body);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(!feed.is_closed(), "held while the listener lasts");
        drop(hold);
        assert_eq!(ticks.strong_count(), 0, "the clock is gone with its holds");
        tokio::time::timeout(Duration::from_secs(1), feed.closed())
            .await
            .expect("the body is let go with its listener");
    }

    #[tokio::test]
    async fn an_ended_body_leaves_nothing_behind() {
        let (mut body, feed, _read) = fed(Hold::new(1000, Duration::from_secs(60)));
        drop(feed);
        assert!(body.frame().await.is_none());
        assert!(body.body.is_none(), "nothing left to read");
        assert!(body.is_end_stream());
    }
}

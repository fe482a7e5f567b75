//! Answers handed to HTTP/2 in pieces small enough to be written together.
//!
//! h2 copies a DATA frame under 1 KiB into its write buffer, where it
//! leaves with the other answers of the moment in one write
//! ([`super::accept::Writes`]). A larger frame is written on its own, which
//! costs a system call and a wake-up of the client per answer. A gRPC
//! message may span any number of DATA frames, so a response body chunk a
//! little over the limit is handed over as several pieces under it; the
//! peer sees the same bytes. Chunks over [`PiecesLayer`]'s maximum are
//! left whole: past a few KiB, one write per answer costs less than many
//! frames.

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// The largest DATA frame h2 copies into its write buffer.
pub const PIECE_BYTES: usize = 1023;

/// Body chunks up to this size are cut into pieces, by default.
pub const DEFAULT_MAX_PIECED: usize = 8 * 1024;

/// Cuts response body chunks of `PIECE_BYTES + 1` to `max` bytes into
/// pieces of at most [`PIECE_BYTES`]; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct PiecesLayer {
    max: usize,
}

impl PiecesLayer {
    /// Cuts chunks of up to `max` bytes; 0 leaves every chunk whole.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl Default for PiecesLayer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PIECED)
    }
}

impl<S> tower::Layer<S> for PiecesLayer {
    type Service = Pieces<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Pieces {
            inner,
            max: self.max,
        }
    }
}

/// The service [`PiecesLayer`] makes.
#[derive(Debug, Clone)]
pub struct Pieces<S> {
    inner: S,
    max: usize,
}

impl<S, B, ResBody> tower::Service<Request<B>> for Pieces<S>
where
    S: tower::Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<PiecedBody<ResBody>>;
    type Error = S::Error;
    type Future = PiecesFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        PiecesFuture {
            inner: self.inner.call(request),
            max: self.max,
        }
    }
}

pin_project! {
    /// The future [`Pieces`] returns.
    pub struct PiecesFuture<F> {
        #[pin]
        inner: F,
        max: usize,
    }
}

impl<F, ResBody, E> Future for PiecesFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<PiecedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let max = *this.max;
        let response = ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(response.map(|inner| PiecedBody {
            inner,
            max,
            rest: Bytes::new(),
        })))
    }
}

pin_project! {
    /// A response body whose data chunks come in pieces.
    pub struct PiecedBody<B> {
        #[pin]
        inner: B,
        max: usize,
        // What is left of the chunk being cut.
        rest: Bytes,
    }
}

impl<B: Body<Data = Bytes>> Body for PiecedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if !this.rest.is_empty() {
            let piece = cut(this.rest);
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        let frame = match ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other),
        };
        let frame = match frame.into_data() {
            Ok(mut data) if data.len() > PIECE_BYTES && data.len() <= *this.max => {
                let piece = cut(&mut data);
                *this.rest = data;
                Frame::data(piece)
            }
            Ok(data) => Frame::data(data),
            Err(frame) => frame,
        };
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

/// The next piece of `rest`, taken off its front; no bytes are copied.
fn cut(rest: &mut Bytes) -> Bytes {
    rest.split_to(rest.len().min(PIECE_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    /// The data chunks of `body` as the HTTP stack would see them.
    async fn chunks<B>(body: B) -> Vec<usize>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Debug,
    {
        let mut body = body;
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                sizes.push(data.len());
            }
        }
        sizes
    }

    fn pieced<B>(inner: B, max: usize) -> PiecedBody<B> {
        PiecedBody {
            inner,
            max,
            rest: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn chunks_over_a_piece_are_cut_and_keep_their_bytes() {
        let bytes: Vec<u8> = (0..2100u32).map(|i| (i % 251) as u8).collect();
        let body = pieced(Full::new(Bytes::from(bytes.clone())), DEFAULT_MAX_PIECED);
        let collected = body.collect().await.expect("body").to_bytes();
        assert_eq!(collected.as_ref(), bytes.as_slice());

        let body = pieced(Full::new(Bytes::from(bytes)), DEFAULT_MAX_PIECED);
        assert_eq!(chunks(body).await, [1023, 1023, 54]);
    }

    #[tokio::test]
    async fn small_and_large_chunks_stay_whole_and_trailers_pass() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = vec![
            Ok(Frame::data(Bytes::from(vec![1; PIECE_BYTES]))),
            Ok(Frame::data(Bytes::from(vec![2; 9000]))),
            Ok(Frame::data(Bytes::from(vec![3; 1500]))),
            Ok(Frame::trailers(trailers)),
        ];
        let mut body = pieced(StreamBody::new(futures_util::stream::iter(frames)), 8192);
        let mut sizes = Vec::new();
        let mut saw_trailers = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("frame");
            if frame.is_trailers() {
                saw_trailers = true;
            }
            if let Ok(data) = frame.into_data() {
                sizes.push(data.len());
            }
        }
        assert_eq!(sizes, [1023, 9000, 1023, 477]);
        assert!(saw_trailers);
    }

    #[tokio::test]
    async fn a_maximum_of_zero_cuts_nothing() {
        let body = pieced(Full::new(Bytes::from(vec![0; 3000])), 0);
        assert_eq!(chunks(body).await, [3000]);
    }
}

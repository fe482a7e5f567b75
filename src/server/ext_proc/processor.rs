//! The gRPC service Envoy's ext_proc filter calls: one [`Exchange`] per
//! stream.
//!
//! The glue is what envoy-types' generated server does for the method,
//! over tonic's `Grpc::streaming`, less what costs each stream and buys
//! errmap nothing: the codec's 8 KiB buffers, a boxed future for a call
//! that waits for nothing, a boxed answer stream, a route with a
//! wildcard (BENCHMARKS.md, "Fewer instructions per processed
//! response"). Envoy's messages are read as errmap's own type
//! ([`super::inbound`]).

use super::exchange::{Exchange, Translator};
use super::inbound::ProcessingRequest;
use envoy_types::pb::envoy::service::ext_proc::v3::ProcessingResponse;
use futures_util::{Stream, StreamExt};
use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready as ready_poll, Context, Poll};
use tonic::body::Body;
use tonic::codec::{BufferSettings, Codec};
use tonic::server::{Grpc, StreamingService};
use tonic::service::Routes;
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

/// The path of the one method.
const PROCESS: &str = "/envoy.service.ext_proc.v3.ExternalProcessor/Process";

/// Room for one of Envoy's messages or one answer, before either grows:
/// under glibc's 1 KiB line, above which an allocation first sweeps the
/// allocator's small free chunks (tonic's default is 8 KiB, two such a
/// stream).
const BUFFER: usize = 1000;

/// The gRPC service Envoy calls.
#[derive(Debug, Clone)]
pub struct Processor {
    translator: Arc<Translator>,
    max_decoding: usize,
}

impl Processor {
    pub fn new(translator: Translator, max_decoding: usize) -> Self {
        Self {
            translator: Arc::new(translator),
            max_decoding,
        }
    }

    /// `routes` with the one method added at its path. tonic's
    /// `add_service` would route `/{service}/{*rest}`, and axum would then
    /// store the captured rest in each request's extensions: about 2,000
    /// instructions a stream. Other methods of the service get `routes`'
    /// answer to unknown paths, `UNIMPLEMENTED`.
    pub fn route(self, routes: Routes) -> Routes {
        Routes::from(routes.into_axum_router().route_service(PROCESS, self))
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl<B> tower::Service<http::Request<B>> for Processor
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = Method(self.translator.clone());
        let max_decoding = self.max_decoding;
        Box::pin(async move {
            let mut grpc = Grpc::new(Small).max_decoding_message_size(max_decoding);
            Ok(grpc.streaming(method, request).await)
        })
    }
}

/// prost's codec with [`BUFFER`]-byte buffers.
#[derive(Debug, Clone, Copy)]
struct Small;

impl Codec for Small {
    type Encode = ProcessingResponse;
    type Decode = ProcessingRequest;
    type Encoder = <ProstCodec<ProcessingResponse, ProcessingRequest> as Codec>::Encoder;
    type Decoder = <ProstCodec<ProcessingResponse, ProcessingRequest> as Codec>::Decoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<ProcessingResponse, ProcessingRequest>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<ProcessingResponse, ProcessingRequest>::raw_decoder(settings())
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER, 32 * 1024)
}

/// The method: an [`Exchange`] for the stream's route, made at once, so
/// the call's future is ready rather than boxed.
struct Method(Arc<Translator>);

impl StreamingService<ProcessingRequest> for Method {
    type Response = ProcessingResponse;
    type ResponseStream = Answers;
    type Future = Ready<Result<Response<Answers>, Status>>;

    fn call(&mut self, request: Request<Streaming<ProcessingRequest>>) -> Self::Future {
        let route = self.0.route(request.metadata());
        let exchange = self.0.exchange(route);
        ready(Ok(Response::new(Answers {
            inbound: Some(request.into_inner()),
            exchange,
        })))
    }
}

/// One answer per message, in order; a message that needs none
/// (observability mode) gets none. A broken inbound stream ends the
/// answers: Envoy has gone. So does the answer to the last message Envoy
/// can send (`Exchange::finished`): errmap's side of the stream ends with
/// it, and the request side is dropped, to be read to its end by the
/// listener's hold layer (`server/held.rs`).
///
/// Envoy half-closes a stream once it has the answer to its last message
/// (with `ext_proc_graceful_grpc_close`; without it, it resets the
/// stream), often after errmap's trailers have ended errmap's side. Were
/// the request side simply dropped, h2 would reset the stream and Envoy's
/// half-close could land on a stream h2 no longer remembers: with h2
/// 0.4.20, at full speed, Envoy's connection was closed by GOAWAY 4 to 9
/// times in 70,000 calls, failing the streams still on it
/// (`server/held.rs` says why).
struct Answers {
    inbound: Option<Streaming<ProcessingRequest>>,
    exchange: Exchange,
}

impl Stream for Answers {
    type Item = Result<ProcessingResponse, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(inbound) = this.inbound.as_mut() else {
                return Poll::Ready(None);
            };
            let Some(Ok(message)) = ready_poll!(inbound.poll_next_unpin(cx)) else {
                this.inbound = None;
                return Poll::Ready(None);
            };
            if let Some(answer) = this.exchange.step(&message) {
                if this.exchange.finished() {
                    this.inbound = None;
                }
                return Poll::Ready(Some(Ok(answer)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::SERVICE_NAME;
    use super::*;
    use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server;

    #[test]
    fn the_service_and_its_method_are_envoys() {
        assert_eq!(SERVICE_NAME, external_processor_server::SERVICE_NAME);
        assert_eq!(PROCESS, format!("/{SERVICE_NAME}/Process"));
    }
}

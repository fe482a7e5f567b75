//! The gRPC service Envoy's ext_proc filter calls: one [`Exchange`] per
//! stream.

use super::exchange::{Exchange, Translator};
use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::{
    ExternalProcessor, ExternalProcessorServer,
};
use envoy_types::pb::envoy::service::ext_proc::v3::{ProcessingRequest, ProcessingResponse};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status, Streaming};

/// The gRPC service Envoy calls.
#[derive(Debug, Clone)]
pub struct Processor {
    translator: Arc<Translator>,
}

impl Processor {
    pub fn new(translator: Translator) -> Self {
        Self {
            translator: Arc::new(translator),
        }
    }

    /// The service, ready to add to a router.
    pub fn into_server(self) -> ExternalProcessorServer<Processor> {
        ExternalProcessorServer::new(self)
    }
}

type Answers = Pin<Box<dyn Stream<Item = Result<ProcessingResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExternalProcessor for Processor {
    type ProcessStream = Answers;

    async fn process(
        &self,
        request: Request<Streaming<ProcessingRequest>>,
    ) -> Result<Response<Self::ProcessStream>, Status> {
        let route = self.translator.route(request.metadata());
        let exchange: Exchange = self.translator.exchange(route);
        // One answer per message, in order; a message that needs none
        // (observability mode) gets none. A broken inbound stream ends the
        // answers: Envoy has gone. So does the answer to the last message
        // Envoy can send (`Exchange::finished`): errmap's side of the
        // stream ends with it, and the request side is held until Envoy
        // ends it ([`linger`]).
        let inbound = request.into_inner();
        let answers = futures_util::stream::unfold(Some((inbound, exchange)), |state| async move {
            let (mut inbound, mut exchange) = state?;
            loop {
                let message = inbound.next().await?.ok()?;
                if let Some(answer) = exchange.step(&message) {
                    if exchange.finished() {
                        tokio::spawn(linger(inbound));
                        return Some((Ok(answer), None));
                    }
                    return Some((Ok(answer), Some((inbound, exchange))));
                }
            }
        });
        Ok(Response::new(Box::pin(answers)))
    }
}

/// Holds the request side of a stream errmap has answered in full until
/// Envoy ends it. Envoy half-closes a stream once it has the answer to its
/// last message (with `ext_proc_graceful_grpc_close`; without it, it
/// resets the stream), often after errmap's trailers have ended errmap's
/// side. Were the request side dropped with the answer, h2 would reset the
/// stream (`NO_ERROR`), and Envoy's half-close could then land on a stream
/// h2 no longer remembers (it keeps the last 50 resets, for a second): h2
/// answers that with a reset of its own, which counts towards
/// `MAX_LOCAL_RESETS`: at full speed, Envoy's connection was closed by
/// GOAWAY 4 to 9 times in 70,000 calls, failing the streams still on it.
/// Held here, the stream ends with Envoy's half-close, no reset either
/// way. Like any open stream it counts towards the connection's concurrent
/// streams until then, and ends with the connection at the latest.
async fn linger(mut inbound: Streaming<ProcessingRequest>) {
    while let Some(Ok(_)) = inbound.next().await {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::server::NamedService;

    #[test]
    fn the_service_name_is_envoys() {
        assert_eq!(
            <ExternalProcessorServer<Processor> as NamedService>::NAME,
            super::super::settings::SERVICE_NAME
        );
    }
}

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
        // Envoy can send (`Exchange::finished`): the stream ends with it.
        let inbound = request.into_inner();
        let answers = futures_util::stream::unfold(Some((inbound, exchange)), |state| async move {
            let (mut inbound, mut exchange) = state?;
            loop {
                let message = inbound.next().await?.ok()?;
                if let Some(answer) = exchange.step(&message) {
                    let next = (!exchange.finished()).then_some((inbound, exchange));
                    return Some((Ok(answer), next));
                }
            }
        });
        Ok(Response::new(Box::pin(answers)))
    }
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

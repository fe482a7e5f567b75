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
        let mut exchange: Exchange = self.translator.exchange(route);
        // One answer per message, in order; a message that needs none
        // (observability mode) gets none. A broken inbound stream ends the
        // answers: Envoy has gone.
        let answers = request
            .into_inner()
            .take_while(|message| futures_util::future::ready(message.is_ok()))
            .filter_map(move |message| {
                let answer = message.ok().and_then(|m| exchange.step(&m)).map(Ok);
                futures_util::future::ready(answer)
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

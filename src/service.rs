//! The `errmap.v1.ErrorMapService` gRPC service: decode the request, ask
//! the engine (through the prepared answers, [`prepared`]), encode the
//! answer. Errors become statuses only in [`error`].

pub mod background;
pub mod error;
mod options;
mod page;
pub mod prepared;
mod snapshot;
mod tally;

use crate::catalog::{Catalog, SharedCatalog};
use crate::engine::validate::{self, Prefix};
use crate::engine::{self, Answer, Context, EngineError};
use crate::pb::errmap::v1::error_map_service_server::{ErrorMapService, ErrorMapServiceServer};
use crate::pb::errmap::v1::{self as pb, batch_query::Query, batch_result::Result as BatchOutcome};
use crate::pb::wire::BatchBuilder;
use prost::Message;
use snapshot::{Cache, Preparer, Snapshot};
use std::sync::Arc;
use tally::Tally;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

pub use crate::engine::{Observer, DEFAULT_MAX_BATCH};
pub use options::{Options, DEFAULT_LOCALE};

/// The gRPC name of the service, as the generated code spells it.
pub const SERVICE_NAME: &str = <ErrorMapServiceServer<ErrorMap> as NamedService>::NAME;

/// The `accept-language` metadata of a call, if readable.
fn accept_language<T>(request: &Request<T>) -> Option<&str> {
    // By the standard header's name, which needs no parsing per call.
    let headers: &http::HeaderMap = request.metadata().as_ref();
    headers
        .get(http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

/// The service. Each call works on one catalog snapshot.
#[derive(Debug, Clone)]
pub struct ErrorMap {
    catalog: SharedCatalog,
    options: Options,
    observer: Option<Arc<dyn Observer>>,
    /// `None` when answers are not prepared (`Options::prepare_answers`).
    prepared: Option<Arc<Preparer>>,
}

impl ErrorMap {
    /// The service; with `prepare_answers`, the catalog's answers are
    /// prepared now, so the first call is as fast as the rest.
    pub fn new(catalog: SharedCatalog, options: Options) -> Self {
        let prepared = options
            .prepare_answers
            .then(|| Arc::new(Preparer::new(&catalog, &options)));
        Self {
            catalog,
            options,
            observer: None,
            prepared,
        }
    }

    /// Tells `observer` of every resolution and unknown code from now on.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Prepares the answers of the catalog now in service, on the calling
    /// thread, and puts them in service. For whoever replaces the catalog
    /// and can wait (on a blocking thread), so that no call after it runs
    /// without prepared answers; without it, the first call that sees the
    /// new catalog starts the same work on a thread of its own.
    pub fn prepare(&self) {
        if let Some(prepared) = &self.prepared {
            prepared.prepare(&self.catalog, &self.options);
        }
    }

    /// The catalog in service, with its answers if they are prepared.
    fn snapshot(&self) -> Snapshot {
        match &self.prepared {
            Some(prepared) => prepared.snapshot(&self.catalog, &self.options),
            None => Snapshot::Catalog(self.catalog.current()),
        }
    }

    /// The engine's context for a call on `catalog`.
    fn context<'a>(&'a self, catalog: &'a Catalog, accept: Option<&'a str>) -> Context<'a> {
        self.options
            .context(catalog, accept, self.observer.as_deref())
    }

    /// Tells the observer of an answer the engine did not compute (and so
    /// did not tell of).
    fn prepared_answer(&self, answer: &prepared::Answer) {
        if let Some(observer) = &self.observer {
            observer.resolved(answer.match_kind);
        }
    }

    /// One query of a batch, appended to the response.
    fn batch_item(
        ctx: &Context<'_>,
        cache: &Cache<'_>,
        tally: &Tally,
        index: usize,
        query: &pb::BatchQuery,
        out: &mut BatchBuilder,
    ) {
        let result = match engine::batch_query(ctx, index, query, cache) {
            Ok(Answer::Cached(answer)) => {
                tally.add(answer.match_kind);
                return out.push_encoded(&answer.encoded);
            }
            Ok(Answer::Computed(resolution)) => BatchOutcome::Resolution(resolution),
            Err(err) => BatchOutcome::Error(error::status_proto(&err)),
        };
        out.push(&pb::BatchResult {
            result: Some(result),
        });
    }

    fn list(&self, request: &pb::ListErrorsRequest) -> Result<pb::ListErrorsResponse, EngineError> {
        let page_size = page::page_size(request.page_size)?;
        let table = validate::table(Prefix::ROOT, "table", request.table)?;
        let status = request
            .http_status
            .map(|s| validate::http_status(Prefix::ROOT, "http_status", s))
            .transpose()?;
        let grpc_code = request
            .grpc_code
            .map(|c| validate::grpc_code(Prefix::ROOT, "grpc_code", c))
            .transpose()?;
        let filters = format!(
            "{}:{}:{}",
            table as i32,
            status.map_or(-1, |s| s),
            grpc_code.map_or(-1, |c| c as i32)
        );
        let offset = page::decode_token(&request.page_token, &filters)?;
        let catalog = self.catalog.current();
        let matching: Vec<&pb::CatalogEntry> = catalog
            .entries()
            .iter()
            .filter(|e| table == pb::Table::Unspecified || e.table == table as i32)
            .filter(|e| status.is_none_or(|s| e.http_status == s))
            .filter(|e| grpc_code.is_none_or(|c| e.grpc_code == c as i32))
            .collect();
        let end = offset.saturating_add(page_size).min(matching.len());
        let entries = matching
            .get(offset.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|e| (*e).clone())
            .collect();
        let next_page_token = if end < matching.len() {
            page::encode_token(end, &filters)
        } else {
            String::new()
        };
        Ok(pb::ListErrorsResponse {
            entries,
            next_page_token,
            total_size: i32::try_from(matching.len()).unwrap_or(i32::MAX),
            catalog_version: catalog.version().to_owned(),
        })
    }
}

/// Decodes one query of a batch into `scratch`, keeping the buffers of the
/// query before it, so a batch of plain queries allocates nothing per query.
fn decode_query(scratch: &mut pb::BatchQuery, raw: &[u8]) -> Result<(), String> {
    match &mut scratch.query {
        Some(Query::GatewayError(q)) => q.clear(),
        Some(Query::GrpcStatus(q)) => q.clear(),
        None => {}
    }
    scratch
        .merge(raw)
        .map_err(|err| format!("must be an encoded BatchQuery ({err})"))?;
    // The reused message keeps its last kind; a query that set neither
    // must still read as unset.
    if !sets_a_query(raw) {
        scratch.query = None;
    }
    Ok(())
}

/// Whether an encoded `BatchQuery` holds field 1 or 2 (the oneof).
fn sets_a_query(mut raw: &[u8]) -> bool {
    use prost::encoding::{decode_key, skip_field, DecodeContext};
    while !raw.is_empty() {
        let Ok((tag, wire_type)) = decode_key(&mut raw) else {
            return false;
        };
        if tag == 1 || tag == 2 {
            return true;
        }
        if skip_field(wire_type, tag, &mut raw, DecodeContext::default()).is_err() {
            return false;
        }
    }
    false
}

#[tonic::async_trait]
impl ErrorMapService for ErrorMap {
    async fn resolve_gateway_error(
        &self,
        request: Request<pb::ResolveGatewayErrorRequest>,
    ) -> Result<Response<pb::ResolveGatewayErrorResponse>, Status> {
        let snapshot = self.snapshot();
        let ctx = self.context(snapshot.catalog(), accept_language(&request));
        let answer = engine::gateway(&ctx, Prefix::ROOT, request.get_ref(), &snapshot.cache());
        Ok(Response::new(
            match answer.map_err(|e| error::status(&e))? {
                Answer::Cached(answer) => {
                    self.prepared_answer(answer);
                    pb::ResolveGatewayErrorResponse::prepared(answer.encoded.clone())
                }
                Answer::Computed(resolution) => pb::ResolveGatewayErrorResponse::new(resolution),
            },
        ))
    }

    async fn resolve_grpc_status(
        &self,
        request: Request<pb::ResolveGrpcStatusRequest>,
    ) -> Result<Response<pb::ResolveGrpcStatusResponse>, Status> {
        let snapshot = self.snapshot();
        let ctx = self.context(snapshot.catalog(), accept_language(&request));
        let answer = engine::grpc(&ctx, Prefix::ROOT, request.get_ref(), &snapshot.cache());
        Ok(Response::new(
            match answer.map_err(|e| error::status(&e))? {
                Answer::Cached(answer) => {
                    self.prepared_answer(answer);
                    pb::ResolveGrpcStatusResponse::prepared(answer.encoded.clone())
                }
                Answer::Computed(resolution) => pb::ResolveGrpcStatusResponse::new(resolution),
            },
        ))
    }

    async fn batch_resolve(
        &self,
        request: Request<pb::BatchResolveRequest>,
    ) -> Result<Response<pb::BatchResolveResponse>, Status> {
        let batch = request.get_ref();
        let view = engine::batch_view(batch.len(), batch.view, self.options.max_batch)
            .map_err(|e| error::status(&e))?;
        let snapshot = self.snapshot();
        let cache = snapshot.cache();
        let tally = Tally::default();
        let ctx = Context {
            view,
            ..self.context(snapshot.catalog(), accept_language(&request))
        };
        let mut out = pb::BatchResolveResponse::builder(batch.len());
        for (index, query) in batch.queries.iter().enumerate() {
            Self::batch_item(&ctx, &cache, &tally, index, query, &mut out);
        }
        // Decoded queries are read one at a time into one reused message.
        let mut scratch = pb::BatchQuery::default();
        let offset = batch.queries.len();
        for (i, raw) in batch.received.iter().enumerate() {
            let index = offset + i;
            match decode_query(&mut scratch, raw) {
                Ok(()) => Self::batch_item(&ctx, &cache, &tally, index, &scratch, &mut out),
                Err(why) => out.push(&pb::BatchResult {
                    result: Some(BatchOutcome::Error(error::status_proto(
                        &EngineError::invalid(format!("queries[{index}]"), why),
                    ))),
                }),
            }
        }
        tally.report(self.observer.as_deref());
        Ok(Response::new(out.finish(snapshot.catalog().version())))
    }

    async fn get_error(
        &self,
        request: Request<pb::GetErrorRequest>,
    ) -> Result<Response<pb::GetErrorResponse>, Status> {
        let catalog = self.catalog.current();
        let ctx = self.context(&catalog, None);
        let found = engine::get_error(&ctx, request.get_ref()).map_err(|e| error::status(&e))?;
        Ok(Response::new(found))
    }

    async fn list_errors(
        &self,
        request: Request<pb::ListErrorsRequest>,
    ) -> Result<Response<pb::ListErrorsResponse>, Status> {
        let page = self
            .list(request.get_ref())
            .map_err(|e| error::status(&e))?;
        Ok(Response::new(page))
    }
}

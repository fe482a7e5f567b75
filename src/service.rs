//! The `errmap.v1.ErrorMapService` gRPC service: validate the request, ask
//! the domain core, convert the answer. Errors become statuses only in
//! [`error`].

mod convert;
pub mod error;
mod observe;
mod page;
pub mod prepared;
pub mod resolve;
pub mod validate;

use crate::catalog::{Catalog, SharedCatalog};
use crate::locale::Locale;
use crate::mapping;
use crate::pb::errmap::v1::error_map_service_server::ErrorMapService;
use crate::pb::errmap::v1::{self as pb, batch_query::Query, batch_result::Result as BatchOutcome};
use crate::present::DEFAULT_ERROR_DOMAIN;
use crate::wire::BatchBuilder;
use arc_swap::{ArcSwap, Guard};
use error::ApiError;
pub use observe::Observer;
use prepared::Prepared;
use prost::Message;
use resolve::CallContext;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The default and the bound of `--max-batch`.
pub const DEFAULT_MAX_BATCH: usize = 1000;

/// Settings of the service itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// The most queries one `BatchResolve` call may carry.
    pub max_batch: usize,
    /// The locale when neither the request nor its metadata names one.
    pub default_locale: Locale,
    /// The `ErrorInfo.domain` of the statuses errmap builds.
    pub error_domain: String,
    /// Answer plain queries from answers prepared when a catalog first
    /// serves ([`prepared`]). Off, every answer is computed per call; the
    /// bytes are the same either way.
    pub prepare_answers: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_batch: DEFAULT_MAX_BATCH,
            default_locale: Locale::ZhCn,
            error_domain: DEFAULT_ERROR_DOMAIN.to_owned(),
            prepare_answers: true,
        }
    }
}

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
    prepared: Option<Arc<Preparing>>,
}

/// The prepared answers in use, and whether newer ones are being made.
#[derive(Debug)]
struct Preparing {
    current: ArcSwap<Generation>,
    /// Set while a thread of its own prepares the answers of a newer
    /// catalog: for a large catalog that takes long enough to stall calls,
    /// so calls are computed from the new catalog until it is done.
    busy: AtomicBool,
}

/// Prepared answers, and the catalog generation they were made for.
#[derive(Debug)]
struct Generation {
    number: u64,
    answers: Prepared,
}

impl Generation {
    /// The answers of the catalog in service.
    fn prepare(catalog: &SharedCatalog, options: &Options) -> Self {
        // Read before the catalog: if a replacement comes in between, the
        // newer catalog is marked older, and is prepared again.
        let number = catalog.generation();
        let answers = Prepared::build(catalog.snapshot(), options);
        Self { number, answers }
    }
}

/// What one call works on: the prepared answers and the catalog they were
/// made from, or the catalog alone when answers are not prepared. One guard
/// either way.
enum Snapshot {
    Prepared(Guard<Arc<Generation>>),
    Catalog(Guard<Arc<Catalog>>),
}

impl Snapshot {
    fn prepared(&self) -> Option<&Prepared> {
        match self {
            Snapshot::Prepared(generation) => Some(&generation.answers),
            Snapshot::Catalog(_) => None,
        }
    }

    fn catalog(&self) -> &Catalog {
        match self {
            Snapshot::Prepared(generation) => generation.answers.catalog(),
            Snapshot::Catalog(catalog) => catalog,
        }
    }
}

impl ErrorMap {
    /// The service; with `prepare_answers`, the catalog's answers are
    /// prepared now, so the first call is as fast as the rest.
    pub fn new(catalog: SharedCatalog, options: Options) -> Self {
        let prepared = options.prepare_answers.then(|| {
            Arc::new(Preparing {
                current: ArcSwap::from_pointee(Generation::prepare(&catalog, &options)),
                busy: AtomicBool::new(false),
            })
        });
        Self {
            catalog,
            options,
            observer: None,
            prepared,
        }
    }

    /// The catalog in service, with its answers if they are prepared; if
    /// the catalog was replaced since, answers for it are prepared on
    /// another thread, and until they are the call works on the catalog.
    fn snapshot(&self) -> Snapshot {
        let Some(prepared) = &self.prepared else {
            return Snapshot::Catalog(self.catalog.current());
        };
        let current = prepared.current.load();
        if current.number == self.catalog.generation() {
            return Snapshot::Prepared(current);
        }
        drop(current);
        self.prepare_in_background(prepared);
        Snapshot::Catalog(self.catalog.current())
    }

    /// Starts preparing the answers of the catalog in service, unless that
    /// is under way already.
    fn prepare_in_background(&self, prepared: &Arc<Preparing>) {
        if prepared.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        let (catalog, options, preparing) =
            (self.catalog.clone(), self.options.clone(), prepared.clone());
        let started = std::thread::Builder::new()
            .name("errmap-prepare".into())
            .spawn(move || {
                crate::reload::priority::lower_this_thread();
                loop {
                    let generation = Generation::prepare(&catalog, &options);
                    let number = generation.number;
                    let old = preparing.current.swap(Arc::new(generation));
                    crate::catalog::free_when_unshared(old);
                    preparing.busy.store(false, Ordering::Release);
                    // A replacement that came meanwhile is prepared next,
                    // unless a call has started another thread for it.
                    if catalog.generation() == number || preparing.busy.swap(true, Ordering::AcqRel)
                    {
                        break;
                    }
                }
            });
        if let Err(err) = started {
            // Calls go on being computed; the next one tries again.
            tracing::warn!("cannot start a thread to prepare answers: {err}");
            prepared.busy.store(false, Ordering::Release);
        }
    }

    /// Tells `observer` of every resolution and unknown code from now on.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn context<'a>(
        &'a self,
        catalog: &'a Catalog,
        prepared: Option<&'a Prepared>,
        accept: Option<&'a str>,
    ) -> CallContext<'a> {
        CallContext {
            catalog,
            accept_language: accept,
            options: &self.options,
            observer: self.observer.as_deref(),
            basic: false,
            prepared,
            tally: None,
        }
    }

    /// One query of a batch, appended to the response: prepared if it is
    /// plain, else computed.
    fn batch_item(
        ctx: &CallContext<'_>,
        index: usize,
        query: &pb::BatchQuery,
        out: &mut BatchBuilder,
    ) {
        let prepared = match &query.query {
            Some(Query::GatewayError(q)) => resolve::prepared_gateway(ctx, q),
            Some(Query::GrpcStatus(q)) => resolve::prepared_grpc(ctx, q),
            None => None,
        };
        match prepared {
            Some(answer) => out.push_encoded(&answer.encoded),
            None => out.push(&Self::batch_result(ctx, index, query)),
        }
    }

    fn batch_result(
        ctx: &CallContext<'_>,
        index: usize,
        query: &pb::BatchQuery,
    ) -> pb::BatchResult {
        let outcome = match &query.query {
            Some(Query::GatewayError(q)) => {
                resolve::gateway(ctx, &format!("queries[{index}].gateway_error"), q)
            }
            Some(Query::GrpcStatus(q)) => {
                resolve::grpc(ctx, &format!("queries[{index}].grpc_status"), q)
            }
            None => Err(ApiError::invalid(
                format!("queries[{index}]"),
                "set one of gateway_error or grpc_status",
            )),
        };
        pb::BatchResult {
            result: Some(match outcome {
                Ok(resolution) => BatchOutcome::Resolution(resolution),
                Err(err) => BatchOutcome::Error(err.into_status_proto()),
            }),
        }
    }

    fn list(&self, request: &pb::ListErrorsRequest) -> Result<pb::ListErrorsResponse, ApiError> {
        let page_size = page::page_size(request.page_size)?;
        let table = validate::table("", "table", request.table)?;
        let status = request
            .http_status
            .map(|s| validate::http_status("", "http_status", s))
            .transpose()?;
        let grpc_code = request
            .grpc_code
            .map(|c| validate::grpc_code("", "grpc_code", c))
            .transpose()?;
        let filters = format!(
            "{}:{}:{}",
            table as i32,
            status.map_or(-1, |s| s),
            grpc_code.map_or(-1, |c| c as i32)
        );
        let offset = page::decode_token(&request.page_token, &filters)?;
        let catalog = self.catalog.snapshot();
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

/// The prepared answers a [`ErrorMap::prepared`] guard holds, if any.
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
        let ctx = self.context(
            snapshot.catalog(),
            snapshot.prepared(),
            accept_language(&request),
        );
        if let Some(answer) = resolve::prepared_gateway(&ctx, request.get_ref()) {
            let encoded = answer.encoded.clone();
            return Ok(Response::new(pb::ResolveGatewayErrorResponse::prepared(
                encoded,
            )));
        }
        let resolution = resolve::gateway(&ctx, "", request.get_ref())?;
        Ok(Response::new(pb::ResolveGatewayErrorResponse::new(
            resolution,
        )))
    }

    async fn resolve_grpc_status(
        &self,
        request: Request<pb::ResolveGrpcStatusRequest>,
    ) -> Result<Response<pb::ResolveGrpcStatusResponse>, Status> {
        let snapshot = self.snapshot();
        let ctx = self.context(
            snapshot.catalog(),
            snapshot.prepared(),
            accept_language(&request),
        );
        if let Some(answer) = resolve::prepared_grpc(&ctx, request.get_ref()) {
            let encoded = answer.encoded.clone();
            return Ok(Response::new(pb::ResolveGrpcStatusResponse::prepared(
                encoded,
            )));
        }
        let resolution = resolve::grpc(&ctx, "", request.get_ref())?;
        Ok(Response::new(pb::ResolveGrpcStatusResponse::new(
            resolution,
        )))
    }

    async fn batch_resolve(
        &self,
        request: Request<pb::BatchResolveRequest>,
    ) -> Result<Response<pb::BatchResolveResponse>, Status> {
        let batch = request.get_ref();
        let max_batch = self.options.max_batch;
        if batch.len() > max_batch {
            return Err(ApiError::invalid(
                "queries",
                format!(
                    "must hold at most {} queries (the server's batch limit), got {}",
                    max_batch,
                    batch.len()
                ),
            )
            .into());
        }
        let basic = match pb::ResolutionView::try_from(batch.view) {
            Ok(pb::ResolutionView::Basic) => true,
            Ok(pb::ResolutionView::Full | pb::ResolutionView::Unspecified) => false,
            Err(_) => {
                return Err(ApiError::invalid(
                    "view",
                    format!(
                        "must be RESOLUTION_VIEW_BASIC (1) or RESOLUTION_VIEW_FULL (2), got {}",
                        batch.view
                    ),
                )
                .into())
            }
        };
        let snapshot = self.snapshot();
        let tally = observe::Tally::default();
        let ctx = CallContext {
            basic,
            tally: Some(&tally),
            ..self.context(
                snapshot.catalog(),
                snapshot.prepared(),
                accept_language(&request),
            )
        };
        let mut out = pb::BatchResolveResponse::builder(batch.len());
        for (index, query) in batch.queries.iter().enumerate() {
            Self::batch_item(&ctx, index, query, &mut out);
        }
        // Decoded queries are read one at a time into one reused message.
        let mut scratch = pb::BatchQuery::default();
        let offset = batch.queries.len();
        for (i, raw) in batch.received.iter().enumerate() {
            let index = offset + i;
            match decode_query(&mut scratch, raw) {
                Ok(()) => Self::batch_item(&ctx, index, &scratch, &mut out),
                Err(why) => out.push(&pb::BatchResult {
                    result: Some(BatchOutcome::Error(
                        ApiError::invalid(format!("queries[{index}]"), why).into_status_proto(),
                    )),
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
        let request = request.get_ref();
        validate::code_text("", "code", &request.code)?;
        if request.code.trim().is_empty() {
            return Err(ApiError::invalid("code", "must name a gateway code or alias").into());
        }
        let status = request
            .http_status
            .map(|s| validate::http_status("", "http_status", s))
            .transpose()?;
        let catalog = self.catalog.snapshot();
        let found = mapping::get_entry(&catalog, &request.code, status);
        observe::lookup(self.observer.as_deref(), &found);
        let (entry, others) = found.map_err(ApiError::from)?;
        Ok(Response::new(pb::GetErrorResponse {
            entry: Some(entry.clone()),
            other_rows: others.into_iter().map(convert::candidate).collect(),
            catalog_version: catalog.version().to_owned(),
        }))
    }

    async fn list_errors(
        &self,
        request: Request<pb::ListErrorsRequest>,
    ) -> Result<Response<pb::ListErrorsResponse>, Status> {
        Ok(Response::new(self.list(request.get_ref())?))
    }
}

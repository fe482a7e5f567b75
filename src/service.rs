//! The `errmap.v1.ErrorMapService` gRPC service: validate the request, ask
//! the domain core, convert the answer. Errors become statuses only in
//! [`error`].

mod convert;
pub mod error;
mod observe;
mod page;
pub mod resolve;
pub mod validate;

use crate::catalog::{Catalog, SharedCatalog};
use crate::locale::Locale;
use crate::mapping;
use crate::pb::errmap::v1::error_map_service_server::ErrorMapService;
use crate::pb::errmap::v1::{self as pb, batch_query::Query, batch_result::Result as BatchOutcome};
use crate::present::DEFAULT_ERROR_DOMAIN;
use error::ApiError;
pub use observe::Observer;
use resolve::CallContext;
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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_batch: DEFAULT_MAX_BATCH,
            default_locale: Locale::ZhCn,
            error_domain: DEFAULT_ERROR_DOMAIN.to_owned(),
        }
    }
}

/// The `accept-language` metadata of a call, if readable.
fn accept_language<T>(request: &Request<T>) -> Option<&str> {
    request
        .metadata()
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
}

/// The service. Each call works on one catalog snapshot.
#[derive(Debug, Clone)]
pub struct ErrorMap {
    catalog: SharedCatalog,
    options: Options,
    observer: Option<Arc<dyn Observer>>,
}

impl ErrorMap {
    pub fn new(catalog: SharedCatalog, options: Options) -> Self {
        Self {
            catalog,
            options,
            observer: None,
        }
    }

    /// Tells `observer` of every resolution and unknown code from now on.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn context<'a>(&'a self, catalog: &'a Catalog, accept: Option<&'a str>) -> CallContext<'a> {
        CallContext {
            catalog,
            accept_language: accept,
            options: &self.options,
            observer: self.observer.as_deref(),
        }
    }

    fn batch_item(ctx: &CallContext<'_>, index: usize, query: &pb::BatchQuery) -> pb::BatchResult {
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

#[tonic::async_trait]
impl ErrorMapService for ErrorMap {
    async fn resolve_gateway_error(
        &self,
        request: Request<pb::ResolveGatewayErrorRequest>,
    ) -> Result<Response<pb::ResolveGatewayErrorResponse>, Status> {
        let catalog = self.catalog.snapshot();
        let ctx = self.context(&catalog, accept_language(&request));
        let resolution = resolve::gateway(&ctx, "", request.get_ref())?;
        Ok(Response::new(pb::ResolveGatewayErrorResponse {
            resolution: Some(resolution),
        }))
    }

    async fn resolve_grpc_status(
        &self,
        request: Request<pb::ResolveGrpcStatusRequest>,
    ) -> Result<Response<pb::ResolveGrpcStatusResponse>, Status> {
        let catalog = self.catalog.snapshot();
        let ctx = self.context(&catalog, accept_language(&request));
        let resolution = resolve::grpc(&ctx, "", request.get_ref())?;
        Ok(Response::new(pb::ResolveGrpcStatusResponse {
            resolution: Some(resolution),
        }))
    }

    async fn batch_resolve(
        &self,
        request: Request<pb::BatchResolveRequest>,
    ) -> Result<Response<pb::BatchResolveResponse>, Status> {
        let queries = &request.get_ref().queries;
        let max_batch = self.options.max_batch;
        if queries.len() > max_batch {
            return Err(ApiError::invalid(
                "queries",
                format!(
                    "must hold at most {} queries (the server's batch limit), got {}",
                    max_batch,
                    queries.len()
                ),
            )
            .into());
        }
        let catalog = self.catalog.snapshot();
        let ctx = self.context(&catalog, accept_language(&request));
        let results = queries
            .iter()
            .enumerate()
            .map(|(i, q)| Self::batch_item(&ctx, i, q))
            .collect();
        Ok(Response::new(pb::BatchResolveResponse {
            results,
            catalog_version: catalog.version().to_owned(),
        }))
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

//! The HTTP/JSON face, for clients with no gRPC stack. Each route calls the
//! gRPC service's own method, so validation, answers and errors are the
//! same; only the encoding differs (proto3 JSON, see [`json`]):
//!
//! | Route | RPC |
//! |---|---|
//! | `GET /v1/errors/{code}?http_status=` | `GetError` |
//! | `GET /v1/errors?table=&http_status=&grpc_code=&page_size=&page_token=` | `ListErrors` |
//! | `POST /v1/resolve/gateway` | `ResolveGatewayError` |
//! | `POST /v1/resolve/grpc` | `ResolveGrpcStatus` |
//! | `POST /v1/resolve:batch` | `BatchResolve` |
//!
//! A failed call answers with a `google.rpc.Status` in JSON and the HTTP
//! status `google/rpc/code.proto` gives its code (400 for
//! INVALID_ARGUMENT, 404 for NOT_FOUND, ...).

pub mod json;

use crate::echo;
use crate::mapping::http_status_for;
use crate::metrics::{Call, Metrics, Protocol};
use crate::pb::errmap::v1::error_map_service_server::ErrorMapService;
use crate::pb::google::rpc::Code;
use crate::service::{ErrorMap, SERVICE_NAME};
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use json::{Codec, CodecError};
use prost::Message;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tonic::metadata::MetadataMap;
use tonic::{Extensions, Status};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

const JSON: &str = "application/json";

#[derive(Debug, Clone)]
struct HttpState {
    api: ErrorMap,
    metrics: Arc<Metrics>,
    codec: Codec,
}

/// The routes, behind request ids (`x-request-id`, made when absent and
/// echoed), a tracing span per request, a timeout, a body limit and gzip.
/// The timeout and the body limit are the gRPC API's own (`--call-timeout`,
/// `--max-message-size`), so both faces hold clients to the same bounds.
pub fn router(
    api: ErrorMap,
    metrics: Arc<Metrics>,
    request_timeout: Duration,
    max_body_bytes: usize,
) -> Result<Router, CodecError> {
    let state = HttpState {
        api,
        metrics,
        codec: Codec::new(SERVICE_NAME)?,
    };
    // Calls log themselves (see `metrics::Call`); the trace layer adds the
    // span they log in, and a line for failures that never reach a route.
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let request_id = request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::debug_span!(
                "http",
                method = %request.method(),
                path = request.uri().path(),
                request_id,
            )
        })
        .on_request(())
        .on_response(())
        .on_failure(DefaultOnFailure::new().level(Level::WARN));
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            request_timeout,
        ))
        .layer(CompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(max_body_bytes));
    Ok(Router::new()
        .route("/v1/errors", get(list_errors))
        .route("/v1/errors/{code}", get(get_error))
        .route("/v1/resolve/gateway", post(resolve_gateway))
        .route("/v1/resolve/grpc", post(resolve_grpc))
        .route("/v1/resolve:batch", post(batch_resolve))
        .fallback(not_found)
        .with_state(state)
        .layer(middleware))
}

async fn get_error(
    State(state): State<HttpState>,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut fields = query_pairs(query.as_deref());
    fields.push(("code".to_owned(), code));
    let input = Input::Fields(fields);
    unary(&state, "GetError", headers, input, |api, r| async move {
        api.get_error(r).await
    })
    .await
}

async fn list_errors(
    State(state): State<HttpState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let input = Input::Fields(query_pairs(query.as_deref()));
    unary(&state, "ListErrors", headers, input, |api, r| async move {
        api.list_errors(r).await
    })
    .await
}

async fn resolve_gateway(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = Input::Body(&body);
    unary(
        &state,
        "ResolveGatewayError",
        headers,
        input,
        |api, r| async move { api.resolve_gateway_error(r).await },
    )
    .await
}

async fn resolve_grpc(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let input = Input::Body(&body);
    unary(
        &state,
        "ResolveGrpcStatus",
        headers,
        input,
        |api, r| async move { api.resolve_grpc_status(r).await },
    )
    .await
}

async fn batch_resolve(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = Input::Body(&body);
    unary(
        &state,
        "BatchResolve",
        headers,
        input,
        |api, r| async move { api.batch_resolve(r).await },
    )
    .await
}

async fn not_found(request: Request<Body>) -> Response {
    let status = Status::not_found(format!(
        "no route for {} {}; see /v1/errors, /v1/errors/{{code}}, /v1/resolve/gateway, \
         /v1/resolve/grpc and /v1/resolve:batch",
        echo::cut(request.method().as_str(), echo::MAX_ECHO),
        echo::cut(request.uri().path(), echo::MAX_ECHO_TEXT)
    ));
    let body = serde_json::json!({ "code": status.code() as i32, "message": status.message() });
    json_response(StatusCode::NOT_FOUND, body.to_string().into_bytes())
}

/// Where a request's fields come from.
enum Input<'a> {
    Body(&'a [u8]),
    Fields(Vec<(String, String)>),
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Decodes the request, calls the RPC, encodes its answer; counts, times
/// and logs the call like the gRPC server does.
async fn unary<Req, Res, F, Fut>(
    state: &HttpState,
    method: &'static str,
    headers: HeaderMap,
    input: Input<'_>,
    rpc: F,
) -> Response
where
    Req: Message + Default,
    Res: Message,
    F: FnOnce(ErrorMap, tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
{
    let path = format!("/{SERVICE_NAME}/{method}");
    let call = Call::start(Protocol::Http, state.metrics.rpc_for_path(&path));
    let outcome = match state.codec.method(method) {
        Some(desc) => answer(state, &desc, headers, input, rpc).await,
        None => Err(Status::unimplemented(format!(
            "{SERVICE_NAME} has no {method}"
        ))),
    };
    match outcome {
        Ok(body) => {
            call.finish(Code::Ok);
            json_response(StatusCode::OK, body)
        }
        Err(status) => {
            let code = Code::try_from(status.code() as i32).unwrap_or(Code::Unknown);
            call.finish(code);
            let http = u16::try_from(http_status_for(code))
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(http, state.codec.status_json(&status))
        }
    }
}

async fn answer<Req, Res, F, Fut>(
    state: &HttpState,
    desc: &prost_reflect::MethodDescriptor,
    headers: HeaderMap,
    input: Input<'_>,
    rpc: F,
) -> Result<Vec<u8>, Status>
where
    Req: Message + Default,
    Res: Message,
    F: FnOnce(ErrorMap, tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Res>, Status>>,
{
    let request: Req = match input {
        Input::Body(body) => state.codec.from_body(&desc.input(), body)?,
        Input::Fields(fields) => state.codec.from_fields(&desc.input(), fields)?,
    };
    // The headers become the call's metadata, as they do over gRPC.
    let request = tonic::Request::from_parts(
        MetadataMap::from_headers(headers),
        Extensions::default(),
        request,
    );
    let response = rpc(state.api.clone(), request).await?;
    state
        .codec
        .to_json(desc.output(), response.get_ref())
        .ok_or_else(|| Status::internal("encoding the answer as JSON failed"))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, JSON)], body).into_response()
}

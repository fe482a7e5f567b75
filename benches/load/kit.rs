//! What `benches/load.sh` needs besides errmap itself:
//!
//! - `kit bodies DIR` writes the request bodies h2load sends, as gRPC
//!   messages (a flag byte, a 4-byte big-endian length, the protobuf).
//! - `kit baseline ADDR [RUNTIME]` serves the limit of errmap's own stack:
//!   the same generated service, runtime, HTTP/2 settings and accepted
//!   connections, served by the same `server::serve` (so the HTTP/2 code is
//!   compiled for the same types as errmap's), with the call layer off (no
//!   metrics, no deadline) and handlers that do no work. Each returns the
//!   reply errmap gives to the same request, prepared once at start-up, so
//!   both servers send the same bytes. On SIGTERM or SIGINT it prints how
//!   many calls it answered.
//!   RUNTIME is a worker count as errmap's `--worker-threads` takes it, or
//!   `multi:N` for a multi-thread runtime even with one worker.
//!   `KIT_H2` tries other settings, for BENCHMARKS.md's tuning table: a
//!   comma-separated list of `adaptive-window`, `frame-64k`,
//!   `window-64k`, `one-by-one` (answers written one by one, see
//!   `errmap::server::accept::Writes`), `whole` (answers not cut into
//!   pieces, see `errmap::server::pieces`), `pieces-64k` (answers of up to
//!   64 KiB cut).
//! - `kit stock-processor ADDR` serves Envoy's `ExternalProcessor/Process`
//!   as a service written the obvious way would: envoy-types' generated
//!   server on tonic's own `Server`, on a single-threaded runtime (as
//!   errmap's ext_proc listener runs), answering every message "continue"
//!   with nothing changed. `benches/ext_proc.py --stock` puts it behind a
//!   third Envoy: what any processor costs Envoy's calls and its own CPU,
//!   against which errmap's translation is measured.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::{
    ExternalProcessor, ExternalProcessorServer,
};
use envoy_types::pb::envoy::service::ext_proc::v3::{
    processing_request::Request as In, processing_response::Response as Out, BodyResponse,
    HeadersResponse, ProcessingRequest, ProcessingResponse, TrailersResponse,
};
use errmap::catalog::{Catalog, SharedCatalog};
use errmap::pb::errmap::v1::error_map_service_server::{ErrorMapService, ErrorMapServiceServer};
use errmap::pb::errmap::v1::{self as pb, batch_query::Query};
use errmap::pb::google::rpc::Code;
use errmap::server::accept::{self, Writes};
use errmap::server::pieces::PiecesLayer;
use errmap::server::{self, CallLayer, Limits};
use errmap::service::{ErrorMap, Options};
use futures_util::StreamExt;
use prost::Message;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

/// The batch sizes the load script sends.
const BATCH_SIZES: [usize; 2] = [100, 1000];

fn gateway_request() -> pb::ResolveGatewayErrorRequest {
    pb::ResolveGatewayErrorRequest {
        code: "APIGW_NONCE_CONFLICT".into(),
        ..Default::default()
    }
}

fn grpc_request() -> pb::ResolveGrpcStatusRequest {
    pb::ResolveGrpcStatusRequest {
        code: Code::Unavailable as i32,
        ..Default::default()
    }
}

/// A batch that walks the whole catalog: three gateway codes, then one gRPC
/// code, over and over.
fn batch_request(
    catalog: &Catalog,
    size: usize,
    view: pb::ResolutionView,
) -> pb::BatchResolveRequest {
    let entries = catalog.entries();
    let queries = (0..size)
        .map(|i| {
            let query = if i % 4 == 3 {
                Query::GrpcStatus(pb::ResolveGrpcStatusRequest {
                    code: (i % 17) as i32,
                    ..Default::default()
                })
            } else {
                Query::GatewayError(pb::ResolveGatewayErrorRequest {
                    code: entries[i % entries.len()].code.clone(),
                    ..Default::default()
                })
            };
            pb::BatchQuery { query: Some(query) }
        })
        .collect();
    pb::BatchResolveRequest {
        queries,
        view: view as i32,
        ..Default::default()
    }
}

fn framed(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = Vec::with_capacity(body.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
    framed.extend_from_slice(&body);
    framed
}

fn views() -> [(pb::ResolutionView, &'static str); 2] {
    [
        (pb::ResolutionView::Full, "full"),
        (pb::ResolutionView::Basic, "basic"),
    ]
}

fn write_bodies(dir: &str) -> std::io::Result<()> {
    let catalog = Catalog::embedded().map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(format!("{dir}/gateway.bin"), framed(&gateway_request()))?;
    std::fs::write(format!("{dir}/grpc.bin"), framed(&grpc_request()))?;
    for size in BATCH_SIZES {
        for (view, name) in views() {
            let request = batch_request(&catalog, size, view);
            std::fs::write(format!("{dir}/batch{size}-{name}.bin"), framed(&request))?;
        }
    }
    Ok(())
}

/// Replies prepared at start-up; handlers only clone them.
struct Baseline {
    gateway: pb::ResolveGatewayErrorResponse,
    grpc: pb::ResolveGrpcStatusResponse,
    batches: HashMap<(usize, i32), pb::BatchResolveResponse>,
    calls: Arc<AtomicU64>,
}

impl Baseline {
    async fn prepare(calls: Arc<AtomicU64>) -> Result<Self, Box<dyn std::error::Error>> {
        let shared = SharedCatalog::new(Catalog::embedded()?);
        let catalog = shared.snapshot();
        let errmap = ErrorMap::new(shared, Options::default());
        let gateway = errmap
            .resolve_gateway_error(Request::new(gateway_request()))
            .await?
            .into_inner();
        let grpc = errmap
            .resolve_grpc_status(Request::new(grpc_request()))
            .await?
            .into_inner();
        let mut batches = HashMap::new();
        for size in BATCH_SIZES {
            for (view, _) in views() {
                let request = batch_request(&catalog, size, view);
                let reply = errmap.batch_resolve(Request::new(request)).await?;
                batches.insert((size, view as i32), reply.into_inner());
            }
        }
        Ok(Self {
            gateway,
            grpc,
            batches,
            calls,
        })
    }

    fn answered<T>(&self, reply: T) -> Result<Response<T>, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(Response::new(reply))
    }
}

#[tonic::async_trait]
impl ErrorMapService for Baseline {
    async fn resolve_gateway_error(
        &self,
        _: Request<pb::ResolveGatewayErrorRequest>,
    ) -> Result<Response<pb::ResolveGatewayErrorResponse>, Status> {
        self.answered(self.gateway.clone())
    }

    async fn resolve_grpc_status(
        &self,
        _: Request<pb::ResolveGrpcStatusRequest>,
    ) -> Result<Response<pb::ResolveGrpcStatusResponse>, Status> {
        self.answered(self.grpc.clone())
    }

    async fn batch_resolve(
        &self,
        request: Request<pb::BatchResolveRequest>,
    ) -> Result<Response<pb::BatchResolveResponse>, Status> {
        let key = (request.get_ref().len(), request.get_ref().view);
        match self.batches.get(&key) {
            Some(reply) => self.answered(reply.clone()),
            None => Err(Status::unimplemented(
                "the baseline knows only the load script's batches",
            )),
        }
    }

    async fn get_error(
        &self,
        _: Request<pb::GetErrorRequest>,
    ) -> Result<Response<pb::GetErrorResponse>, Status> {
        Err(Status::unimplemented("not part of the load test"))
    }

    async fn list_errors(
        &self,
        _: Request<pb::ListErrorsRequest>,
    ) -> Result<Response<pb::ListErrorsResponse>, Status> {
        Err(Status::unimplemented("not part of the load test"))
    }
}

async fn baseline(addr: &str, runtime: &str) -> Result<(), Box<dyn std::error::Error>> {
    let calls = Arc::new(AtomicU64::new(0));
    let service = Baseline::prepare(calls.clone()).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let tries = std::env::var("KIT_H2").unwrap_or_default();
    let tried = |name: &str| tries.split(',').any(|t| t == name);
    let writes = if tried("one-by-one") {
        Writes::OneByOne
    } else {
        Writes::Coalesced
    };
    let limits = Limits::default();
    let gate = accept::Gate::new(
        limits.admission(limits.max_connections, writes),
        std::sync::Arc::default(),
    );
    let incoming = accept::incoming(listener, gate);
    println!("baseline listening on {addr} ({runtime})");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let stop = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let pieces = if tried("whole") {
        PiecesLayer::new(0)
    } else if tried("pieces-64k") {
        PiecesLayer::new(64 * 1024)
    } else {
        PiecesLayer::default()
    };
    let mut transport = server::transport(&limits, pieces, CallLayer::off());
    if tried("adaptive-window") {
        transport = transport.http2_adaptive_window(Some(true));
    }
    if tried("frame-64k") {
        transport = transport.max_frame_size(Some(64 * 1024));
    }
    if tried("window-64k") {
        transport = transport
            .initial_stream_window_size(Some(64 * 1024))
            .initial_connection_window_size(Some(64 * 1024));
    }
    let routes = Routes::new(
        ErrorMapServiceServer::new(service).max_decoding_message_size(limits.max_message_bytes),
    );
    server::serve(transport, routes, incoming, stop).await?;
    println!("baseline answered {} calls", calls.load(Ordering::Relaxed));
    Ok(())
}

/// A processor that changes nothing: each message Envoy sends is answered
/// "continue" in the phase it came in, and the stream ends when Envoy ends
/// its side.
struct Stock;

#[tonic::async_trait]
impl ExternalProcessor for Stock {
    type ProcessStream = std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<ProcessingResponse, Status>> + Send>,
    >;

    async fn process(
        &self,
        request: Request<tonic::Streaming<ProcessingRequest>>,
    ) -> Result<Response<Self::ProcessStream>, Status> {
        let answers = request.into_inner().map(|message| {
            let request = message?.request;
            let response = request.map(|request| match request {
                In::RequestHeaders(_) => Out::RequestHeaders(HeadersResponse::default()),
                In::ResponseHeaders(_) => Out::ResponseHeaders(HeadersResponse::default()),
                In::RequestBody(_) => Out::RequestBody(BodyResponse::default()),
                In::ResponseBody(_) => Out::ResponseBody(BodyResponse::default()),
                In::RequestTrailers(_) => Out::RequestTrailers(TrailersResponse::default()),
                In::ResponseTrailers(_) => Out::ResponseTrailers(TrailersResponse::default()),
            });
            Ok(ProcessingResponse {
                response,
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(answers)))
    }
}

async fn stock_processor(addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let addr: std::net::SocketAddr = addr.parse()?;
    println!("stock processor listening on {addr}");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(ExternalProcessorServer::new(Stock))
        .serve_with_shutdown(addr, async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["bodies", dir] => write_bodies(dir).map_err(Into::into),
        ["baseline", addr, rest @ ..] => {
            let choice = rest.first().copied().unwrap_or_default();
            let (runtime, described) = match choice.strip_prefix("multi:") {
                Some(n) => (
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(n.parse().unwrap_or(1))
                        .enable_all()
                        .build(),
                    format!("multi-thread, {n} workers"),
                ),
                None => {
                    let workers = choice.parse().ok();
                    (
                        errmap::app::runtime::build(workers),
                        errmap::app::runtime::describe(workers),
                    )
                }
            };
            match runtime {
                Ok(runtime) => runtime.block_on(baseline(addr, &described)),
                Err(err) => Err(err.into()),
            }
        }
        ["stock-processor", addr] => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(stock_processor(addr)),
            Err(err) => Err(err.into()),
        },
        _ => Err(
            "usage: kit bodies DIR | kit baseline ADDR [WORKERS | multi:N] | kit stock-processor ADDR"
                .into(),
        ),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kit: {err}");
            ExitCode::FAILURE
        }
    }
}

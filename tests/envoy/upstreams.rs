//! The upstreams behind Envoy: a tonic gRPC server that fails as the
//! request's metadata says, and an HTTP server that answers as the JD
//! gateway does when it refuses a call.

use bytes::Bytes;
use errmap::gateway_body;
use futures_util::Stream;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_types::{ErrorDetails, StatusExt};

/// The gRPC code to fail with (a number).
pub const FAIL_CODE: &str = "x-fail-code";
/// A gateway code for the failure's own ErrorInfo.
pub const FAIL_REASON: &str = "x-fail-reason";
/// The `grpc-message` the upstream fails with.
pub const UPSTREAM_MESSAGE: &str = "upstream failed";
/// A length for the failure's message instead (that many `m`s).
pub const FAIL_MESSAGE_LEN: &str = "x-fail-message-len";
/// The domain of the upstream's own ErrorInfo.
pub const UPSTREAM_DOMAIN: &str = "upstream.example.com";

/// The failure the metadata asks for, if any.
fn failure(metadata: &MetadataMap) -> Option<Status> {
    let code: i32 = metadata.get(FAIL_CODE)?.to_str().ok()?.parse().ok()?;
    let code = Code::from_i32(code);
    if let Some(len) = metadata
        .get(FAIL_MESSAGE_LEN)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        return Some(Status::new(code, "m".repeat(len)));
    }
    Some(
        match metadata.get(FAIL_REASON).and_then(|v| v.to_str().ok()) {
            Some(reason) => {
                let details = ErrorDetails::with_error_info(
                    reason,
                    UPSTREAM_DOMAIN,
                    std::collections::HashMap::<String, String>::new(),
                );
                Status::with_error_details(code, UPSTREAM_MESSAGE, details)
            }
            None => Status::new(code, UPSTREAM_MESSAGE),
        },
    )
}

struct Failing;

type Watch = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Health for Failing {
    /// Unary: a failure goes out trailers-only.
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match failure(request.metadata()) {
            Some(status) => Err(status),
            None => Ok(Response::new(HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            })),
        }
    }

    type WatchStream = Watch;

    /// Streaming: one message, then the failure in real trailers.
    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let first = Ok(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        });
        let items: Vec<_> = std::iter::once(first)
            .chain(failure(request.metadata()).map(Err))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }
}

/// Starts the gRPC upstream; its address.
pub async fn grpc() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(HealthServer::new(Failing))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    addr
}

/// The HTTP status the gateway upstream answers with.
pub const GW_STATUS: &str = "x-gw-status";
/// The gateway code in its body.
pub const GW_CODE: &str = "x-gw-code";
/// What kind of body: `gateway` (the default), `truncated`, `html`,
/// `plain`, `huge`.
pub const GW_KIND: &str = "x-gw-kind";
/// The request id in the gateway's bodies.
pub const GW_REQUEST_ID: &str = "gw-request-1";

/// The body the gateway upstream sends for `status`, `code` and `kind`.
pub fn gateway_reply(status: u16, code: &str, kind: &str) -> (&'static str, Vec<u8>) {
    let body = gateway_body::render(GW_REQUEST_ID, i32::from(status), code, "refused");
    match kind {
        "truncated" => (
            "application/json",
            body.as_bytes()[..body.len() / 2].to_vec(),
        ),
        "html" => (
            "text/html",
            b"<html><body>403 Forbidden</body></html>".to_vec(),
        ),
        "plain" => ("application/json", b"forbidden, and not JSON".to_vec()),
        "huge" => {
            let message = "x".repeat(100 * 1024);
            let huge = gateway_body::render(GW_REQUEST_ID, i32::from(status), code, &message);
            ("application/json", huge.into_bytes())
        }
        _ => ("application/json", body.into_bytes()),
    }
}

/// Starts the gateway-like HTTP/1.1 upstream; its address.
pub async fn http() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let text = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let status: u16 = text(GW_STATUS).parse().unwrap_or(200);
                        let (content_type, body) =
                            gateway_reply(status, &text(GW_CODE), &text(GW_KIND));
                        let response = hyper::Response::builder()
                            .status(status)
                            .header("content-type", content_type)
                            .body(Full::new(Bytes::from(body)))
                            .expect("a valid response");
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

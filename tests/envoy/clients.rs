//! The clients that call through Envoy: tonic (gRPC) and hyper (HTTP/1.1).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

/// A gRPC call's outcome, headers included.
pub type Outcome = Result<tonic::Response<HealthCheckResponse>, tonic::Status>;

pub async fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        // Room for Envoy's largest header block (60 KiB by default), so
        // the tests see what Envoy sends rather than the client's limit.
        .http2_max_header_list_size(256 * 1024)
        .connect()
        .await
        .expect("connect to Envoy")
}

/// A health request carrying `metadata`.
fn request(metadata: &[(&'static str, String)]) -> tonic::Request<HealthCheckRequest> {
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    for (name, value) in metadata {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("an ASCII value"));
    }
    request
}

/// A unary call through Envoy with the given metadata.
pub async fn check(channel: &Channel, metadata: &[(&'static str, String)]) -> Outcome {
    let request = request(metadata);
    HealthClient::new(channel.clone()).check(request).await
}

/// A unary call of `path`, a method the gRPC upstream lacks (it answers
/// UNIMPLEMENTED, trailers-only), with the given metadata.
pub async fn call(
    channel: &Channel,
    path: &'static str,
    metadata: &[(&'static str, String)],
) -> Outcome {
    let request = request(metadata);
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
}

/// A server-streaming call: its first message, then how it ended.
pub async fn watch(
    channel: &Channel,
    metadata: &[(&'static str, String)],
) -> (usize, Result<(), tonic::Status>) {
    let request = request(metadata);
    let mut stream = match HealthClient::new(channel.clone()).watch(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return (0, Err(status)),
    };
    let mut received = 0;
    loop {
        match stream.message().await {
            Ok(Some(_)) => received += 1,
            Ok(None) => return (received, Ok(())),
            Err(status) => return (received, Err(status)),
        }
    }
}

/// An HTTP/1.1 answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body_text()))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// One HTTP/1.1 request; `None` when no answer came.
pub async fn try_http1(addr: SocketAddr, method: &str, path: &str) -> Option<Reply> {
    send(addr, method, path, &[], Vec::new()).await
}

/// One HTTP/1.1 request, which must be answered.
pub async fn http1(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Reply {
    send(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|| panic!("no answer to {method} {path}"))
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Option<Reply> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(body))).ok()?;
    let response = client.request(request).await.ok()?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .ok()?
        .to_bytes()
        .to_vec();
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// A HealthCheckRequest framed as gRPC sends it: an empty message.
pub const EMPTY_GRPC_FRAME: [u8; 5] = [0, 0, 0, 0, 0];

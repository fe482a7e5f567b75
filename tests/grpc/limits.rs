//! Each limit of the API listener: the client that exceeds it gets the
//! right status, and the server carries on serving others.

use crate::support::TestServer;
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::error_map_service_client::ErrorMapServiceClient;
use errmap::pb::errmap::v1::{
    BatchQuery, BatchResolveRequest, GetErrorRequest, ResolveGatewayErrorRequest,
};
use errmap::server::{Limits, ServerConfig};
use std::time::Duration;
use tonic::transport::Channel;

fn with_limits(limits: Limits) -> ServerConfig {
    ServerConfig {
        limits,
        ..Default::default()
    }
}

async fn small_call(client: &mut ErrorMapServiceClient<Channel>) -> Result<(), tonic::Status> {
    client
        .get_error(GetErrorRequest {
            code: "UNAVAILABLE".into(),
            http_status: None,
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn an_oversized_message_is_resource_exhausted() {
    let server = TestServer::start_with(with_limits(Limits {
        max_message_bytes: 1024,
        ..Default::default()
    }))
    .await;
    let mut client = server.client();
    let status = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            http_status: Some(502),
            body: vec![b' '; 2000],
            ..Default::default()
        })
        .await
        .expect_err("over the limit");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("1024"), "{}", status.message());
    small_call(&mut client)
        .await
        .expect("the server carries on");
    server.stop().await;
}

#[tokio::test]
async fn a_call_over_the_timeout_is_deadline_exceeded() {
    let server = TestServer::start_with(with_limits(Limits {
        call_timeout: Duration::from_millis(1),
        ..Default::default()
    }))
    .await;
    let mut client = server.client();
    // Unknown codes are the slowest queries: each is compared with every
    // catalogued code for suggestions (about 20 µs each).
    let queries: Vec<BatchQuery> = (0..1000)
        .map(|i| BatchQuery {
            query: Some(Query::GatewayError(ResolveGatewayErrorRequest {
                code: format!("APIGW_NO_SUCH_CODE_{i}"),
                ..Default::default()
            })),
        })
        .collect();
    let status = client
        .batch_resolve(BatchResolveRequest::new(queries))
        .await
        .expect_err("a thousand unknown codes take more than a millisecond");
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    // Small calls fit the millisecond; one of a few tries always does.
    let mut served = false;
    for _ in 0..50 {
        if small_call(&mut client).await.is_ok() {
            served = true;
            break;
        }
    }
    assert!(served, "the server carries on");
    server.stop().await;
}

/// A connection with a call in progress that stays open: a health watch.
async fn busy_connection(
    addr: &str,
) -> (
    ErrorMapServiceClient<Channel>,
    tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
) {
    let channel = Channel::from_shared(addr.to_owned())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let watch = health
        .watch(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("watch")
        .into_inner();
    (ErrorMapServiceClient::new(channel), watch)
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_when_all_are_busy() {
    let server = TestServer::start_with(with_limits(Limits {
        max_connections: 2,
        ..Default::default()
    }))
    .await;
    let addr = format!("http://{}", server.grpc_addr);
    // The test server's own idle channel gives up its place to these.
    let first = busy_connection(&addr).await;
    let second = busy_connection(&addr).await;

    let mut third = ErrorMapServiceClient::connect(addr.clone())
        .await
        .expect("TCP and HTTP/2 connect");
    let refused = small_call(&mut third)
        .await
        .expect_err("a third connection is over the cap");
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("connection cap (2)"),
        "{}",
        refused.message()
    );
    drop(third);

    drop(second);
    let mut again = None;
    for _ in 0..100 {
        if let Ok(mut client) = ErrorMapServiceClient::connect(addr.clone()).await {
            if small_call(&mut client).await.is_ok() {
                again = Some(client);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        again.is_some(),
        "a freed place is taken by a new connection"
    );
    drop(first);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_connection_makes_room_at_the_cap() {
    let server = TestServer::start_with(with_limits(Limits {
        max_connections: 1,
        ..Default::default()
    }))
    .await;
    let mut idle = server.client();
    small_call(&mut idle).await.expect("the first connection");
    let addr = format!("http://{}", server.grpc_addr);
    let mut newer = ErrorMapServiceClient::connect(addr).await.expect("connect");
    small_call(&mut newer)
        .await
        .expect("served in the idle connection's place");
    server.stop().await;
}

#[tokio::test]
async fn calls_over_the_stream_limit_wait_their_turn() {
    let server = TestServer::start_with(with_limits(Limits {
        max_concurrent_streams: 1,
        ..Default::default()
    }))
    .await;
    let calls = (0..20).map(|_| {
        let mut client = server.client();
        tokio::spawn(async move { small_call(&mut client).await })
    });
    for call in calls {
        call.await
            .expect("joined")
            .expect("every call is served in turn");
    }
    server.stop().await;
}

#[tokio::test]
async fn keepalive_pings_keep_an_idle_connection_usable() {
    let server = TestServer::start_with(with_limits(Limits {
        keepalive_interval: Duration::from_millis(50),
        keepalive_timeout: Duration::from_millis(500),
        ..Default::default()
    }))
    .await;
    let mut client = server.client();
    small_call(&mut client).await.expect("before");
    tokio::time::sleep(Duration::from_millis(400)).await;
    small_call(&mut client).await.expect("after several pings");
    server.stop().await;
}

//! Health, reflection (v1 and v1alpha) and graceful shutdown.

use crate::support::{reflected_services_v1alpha, TestServer};
use errmap::pb::errmap::v1::ResolveGrpcStatusRequest;
use errmap::server::{ServerConfig, Stopped};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

const SERVICES: [&str; 4] = [
    "errmap.v1.ErrorMapService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

#[tokio::test]
async fn health_reports_serving_for_the_server_and_the_api() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in ["", "errmap.v1.ErrorMapService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn reflection_v1_lists_every_service_and_describes_details() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel.clone());
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("google.rpc.BadRequest".into()),
        MessageRequest::FileContainingSymbol("errmap.v1.ErrorMapService".into()),
    ]
    .map(|m| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(m),
    });
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .expect("reflection stream")
        .into_inner();
    match responses
        .next()
        .await
        .expect("a response")
        .expect("ok")
        .message_response
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            for service in SERVICES {
                assert!(names.iter().any(|n| n == service), "{service} in {names:?}");
            }
        }
        other => panic!("expected a service list, got {other:?}"),
    }
    for _ in 0..2 {
        match responses
            .next()
            .await
            .expect("a response")
            .expect("ok")
            .message_response
        {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                assert!(!files.file_descriptor_proto.is_empty());
            }
            other => panic!("expected file descriptors, got {other:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn reflection_v1alpha_lists_every_service() {
    let server = TestServer::start().await;
    assert_eq!(
        reflected_services_v1alpha(server.channel.clone()).await,
        SERVICES
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_flips_health_to_not_serving_and_stops_within_the_grace() {
    let mut server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_millis(500),
        service: errmap::service::Options {
            max_batch: 10,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut health = HealthClient::new(server.channel.clone());
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "errmap.v1.ErrorMapService".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("first status").expect("ok");
    assert_eq!(first.status(), ServingStatus::Serving);

    server.begin_stop();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("a status change arrives")
        .expect("stream open")
        .expect("ok");
    assert_eq!(next.status(), ServingStatus::NotServing);

    // The open watch stream is an in-flight call: the grace period bounds it.
    let stopped = tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("the server stops within the grace period");
    assert_eq!(stopped, Stopped::GraceExpired);
}

#[tokio::test]
async fn an_idle_server_drains_and_stops_cleanly() {
    let server = TestServer::start().await;
    let mut client = server.client();
    client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code: 14,
            ..Default::default()
        })
        .await
        .expect("a call before shutdown");
    drop(client);
    let stopped = tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("stops promptly");
    assert_eq!(stopped, Stopped::Drained);
}

//! The ext_proc listener without Envoy: a tonic client speaking Envoy's
//! side of the protocol, health and metrics on that listener.

use crate::support::{http_get, reflected_services_v1alpha, TestServer};
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_client::ExternalProcessorClient;
use envoy_types::pb::envoy::service::ext_proc::v3::{
    processing_request, processing_response, HttpHeaders, ProcessingRequest,
};
use errmap::server::ext_proc::SERVICE_NAME;
use errmap::server::{ServerConfig, Stopped};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

fn headers(pairs: &[(&str, &str)]) -> Option<HeaderMap> {
    Some(HeaderMap {
        headers: pairs
            .iter()
            .map(|(k, v)| HeaderValue {
                key: (*k).to_owned(),
                value: String::new(),
                raw_value: v.as_bytes().to_vec(),
            })
            .collect(),
    })
}

async fn channel(server: &TestServer) -> Channel {
    Channel::from_shared(format!("http://{}", server.ext_proc_addr))
        .expect("uri")
        .connect()
        .await
        .expect("connect to the ext_proc listener")
}

#[tokio::test]
async fn one_stream_answers_each_message_in_turn() {
    let server = TestServer::start().await;
    let mut client = ExternalProcessorClient::new(channel(&server).await);
    let messages = [
        processing_request::Request::RequestHeaders(HttpHeaders {
            headers: headers(&[
                (":path", "/pkg.Svc/Call"),
                ("content-type", "application/grpc"),
            ]),
            ..Default::default()
        }),
        processing_request::Request::ResponseHeaders(HttpHeaders {
            headers: headers(&[
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", "14"),
            ]),
            end_of_stream: true,
            ..Default::default()
        }),
    ]
    .map(|request| ProcessingRequest {
        request: Some(request),
        ..Default::default()
    });
    let mut answers = client
        .process(tokio_stream::iter(messages))
        .await
        .expect("the stream opens")
        .into_inner();
    let first = answers
        .next()
        .await
        .expect("an answer")
        .expect("not an error");
    assert!(matches!(
        first.response,
        Some(processing_response::Response::RequestHeaders(_))
    ));
    let second = answers
        .next()
        .await
        .expect("an answer")
        .expect("not an error");
    let Some(processing_response::Response::ResponseHeaders(h)) = second.response else {
        panic!("a response headers answer: {second:?}");
    };
    let set: Vec<String> = h
        .response
        .and_then(|r| r.header_mutation)
        .map(|m| {
            m.set_headers
                .into_iter()
                .filter_map(|o| o.header)
                .map(|h| h.key)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(set, ["grpc-status-details-bin"]);
    assert!(
        answers.next().await.is_none(),
        "the stream ends with Envoy's side"
    );

    let metrics = http_get(server.admin_addr, "/metrics").await.body;
    for line in [
        r#"errmap_ext_proc_messages_total{action="passed"} 1"#,
        r#"errmap_ext_proc_messages_total{action="enriched"} 1"#,
        r#"errmap_connections{listener="ext_proc"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    server.stop().await;
}

#[tokio::test]
async fn health_on_the_ext_proc_listener_names_the_processor() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(channel(&server).await);
    for service in ["", SERVICE_NAME] {
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
    server.stop().await;
}

/// `Process` is routed by its whole path; any other method of the
/// service is unknown to errmap, and says so.
#[tokio::test]
async fn another_method_of_the_processor_is_unimplemented() {
    use envoy_types::pb::envoy::service::ext_proc::v3::ProcessingResponse;
    use tonic_prost::ProstCodec;
    let server = TestServer::start().await;
    let mut grpc = tonic::client::Grpc::new(channel(&server).await);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static(
        "/envoy.service.ext_proc.v3.ExternalProcessor/Processes",
    );
    let status = grpc
        .unary::<ProcessingRequest, ProcessingResponse, _>(
            tonic::Request::new(ProcessingRequest::default()),
            path,
            ProstCodec::default(),
        )
        .await
        .expect_err("no such method");
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn reflection_on_the_ext_proc_listener_describes_the_processor() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let server = TestServer::start().await;
    let channel = channel(&server).await;
    assert_eq!(
        reflected_services_v1alpha(channel.clone()).await,
        [
            SERVICE_NAME,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );
    // What grpcurl's describe asks: the file defining the service, then
    // each file it imports, by name.
    use prost::Message;
    let client = ServerReflectionClient::new(channel);
    let ask = |message: MessageRequest| {
        let mut client = client.clone();
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message),
        };
        async move {
            let answer = client
                .server_reflection_info(tokio_stream::iter([request]))
                .await
                .expect("reflection stream")
                .into_inner()
                .next()
                .await
                .expect("an answer")
                .expect("ok");
            let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response
            else {
                panic!("a file descriptor answer: {answer:?}");
            };
            files
                .file_descriptor_proto
                .iter()
                .map(|raw| {
                    prost_types::FileDescriptorProto::decode(raw.as_slice()).expect("decodes")
                })
                .collect::<Vec<_>>()
        }
    };
    let files = ask(MessageRequest::FileContainingSymbol(SERVICE_NAME.into())).await;
    let service_file = &files[0];
    assert_eq!(
        service_file.name(),
        "envoy/service/ext_proc/v3/external_processor.proto"
    );
    let methods: Vec<&str> = service_file.service[0]
        .method
        .iter()
        .map(|m| m.name())
        .collect();
    assert_eq!(methods, ["Process"]);
    let mut imported = service_file.dependency.clone();
    imported.sort();
    assert_eq!(
        imported,
        [
            "envoy/config/core/v3/base.proto",
            "envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto",
            "envoy/type/v3/http_status.proto",
            "google/protobuf/struct.proto",
        ]
    );
    for file in imported {
        let found = ask(MessageRequest::FileByFilename(file.clone())).await;
        assert_eq!(found[0].name(), file);
    }
    server.stop().await;
}

#[tokio::test]
async fn on_shutdown_the_processor_turns_unhealthy_and_finishes_its_streams() {
    let mut server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let channel = channel(&server).await;
    let (to_errmap, outgoing) = tokio::sync::mpsc::channel(4);
    let mut answers = ExternalProcessorClient::new(channel.clone())
        .process(tokio_stream::wrappers::ReceiverStream::new(outgoing))
        .await
        .expect("the stream opens")
        .into_inner();
    let message = |request| ProcessingRequest {
        request: Some(request),
        ..Default::default()
    };
    to_errmap
        .send(message(processing_request::Request::RequestHeaders(
            HttpHeaders {
                headers: headers(&[("content-type", "application/grpc")]),
                ..Default::default()
            },
        )))
        .await
        .expect("sent");
    answers.next().await.expect("an answer").expect("ok");

    let mut health = HealthClient::new(channel)
        .watch(HealthCheckRequest {
            service: SERVICE_NAME.into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = health.next().await.expect("a status").expect("ok");
    assert_eq!(first.status(), ServingStatus::Serving);
    server.begin_stop();
    let next = tokio::time::timeout(Duration::from_secs(5), health.next())
        .await
        .expect("a status change arrives")
        .expect("stream open")
        .expect("ok");
    assert_eq!(next.status(), ServingStatus::NotServing);
    drop(health);

    // The request in flight is still processed while errmap drains.
    to_errmap
        .send(message(processing_request::Request::ResponseHeaders(
            HttpHeaders {
                headers: headers(&[("content-type", "application/grpc"), ("grpc-status", "14")]),
                end_of_stream: true,
                ..Default::default()
            },
        )))
        .await
        .expect("sent");
    let answer = answers.next().await.expect("an answer").expect("ok");
    assert!(matches!(
        answer.response,
        Some(processing_response::Response::ResponseHeaders(_))
    ));
    drop(to_errmap);
    assert!(
        answers.next().await.is_none(),
        "the stream ends with Envoy's side"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("stops within the grace");
    assert_eq!(stopped, Stopped::Drained);
}

/// Envoy (with its graceful close) half-closes a `Process` stream once
/// errmap has answered its last message, often after errmap's trailers.
/// errmap keeps such a stream until Envoy closes it: were it reset on
/// errmap's side at the end of the answer, Envoy's half-close would, once
/// busy, land on a stream h2 has forgotten ([`late_ends`] says what
/// follows). Spoken here frame by frame, as a busy Envoy does.
///
/// [`late_ends`]: crate::frames::late_ends
#[tokio::test]
async fn half_closes_after_the_answers_cost_no_reset_and_no_goaway() {
    use crate::frames::{grpc_message, late_ends, ROUND, ROUNDS};
    use prost::Message;

    let server = TestServer::start().await;
    let request = ProcessingRequest {
        request: Some(processing_request::Request::ResponseHeaders(HttpHeaders {
            headers: headers(&[
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", "5"),
            ]),
            end_of_stream: true,
            ..Default::default()
        })),
        ..Default::default()
    }
    .encode_to_vec();
    let seen = late_ends(
        server.ext_proc_addr,
        &format!("/{SERVICE_NAME}/Process"),
        &grpc_message(&request),
    )
    .await;

    assert_eq!(seen.answers, ROUNDS * ROUND, "one answer per stream");
    assert_eq!(seen.ended, ROUNDS * ROUND, "every stream ended by errmap");
    assert_eq!(seen.resets, 0, "no stream reset by errmap");
    let metrics = http_get(server.admin_addr, "/metrics").await.body;
    let line = format!(
        r#"errmap_ext_proc_messages_total{{action="enriched"}} {}"#,
        ROUNDS * ROUND
    );
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
    server.stop().await;
}

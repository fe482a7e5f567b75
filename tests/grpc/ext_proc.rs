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

/// Streams opened at once in each round of the next test: more than h2
/// remembers resets of (50 in the last second), under the listener's cap
/// of concurrent streams.
const ROUND: u32 = 200;
/// Rounds: in all, more streams than the resets errmap makes on its own
/// before it sends GOAWAY (`MAX_LOCAL_RESETS`).
const ROUNDS: u32 = 8;

/// Envoy (with its graceful close) half-closes a `Process` stream once
/// errmap has answered its last message, often after errmap's trailers.
/// errmap keeps such a stream until Envoy closes it: were it reset on
/// errmap's side at the end of the answer, Envoy's half-close would, once
/// busy, land on a stream h2 has forgotten, which h2 answers with a reset
/// of its own; after `MAX_LOCAL_RESETS` of those, a GOAWAY would fail the
/// streams in flight (their responses untranslated). Spoken here frame by
/// frame, as a busy Envoy does: each round's streams answered, then
/// half-closed together.
#[tokio::test]
async fn half_closes_after_the_answers_cost_no_reset_and_no_goaway() {
    use crate::frames::{
        frame, goaway_code, read_frame, request_block, ACK, DATA, END_HEADERS, END_STREAM, GOAWAY,
        HEADERS, PING, PREFACE, RST_STREAM, SETTINGS, WINDOW_UPDATE,
    };
    use prost::Message;
    use tokio::io::AsyncWriteExt;

    let server = TestServer::start().await;
    let socket = tokio::net::TcpStream::connect(server.ext_proc_addr)
        .await
        .expect("connect to the ext_proc listener");
    let (mut reader, mut writer) = socket.into_split();
    let mut out = PREFACE.to_vec();
    out.extend(frame(SETTINGS, 0, 0, &[]));
    // Room for every answer on the connection.
    out.extend(frame(WINDOW_UPDATE, 0, 0, &0x4000_0000u32.to_be_bytes()));
    writer.write_all(&out).await.expect("write");

    let block = request_block(&format!("/{SERVICE_NAME}/Process"));
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
    let mut message = vec![0];
    message.extend(u32::try_from(request.len()).expect("small").to_be_bytes());
    message.extend(request);

    let mut resets = 0;
    let mut answers = 0;
    let mut ended = 0;
    // Reads until `done` says so, acknowledging the server's settings and
    // counting answers, ends and resets; a GOAWAY or a closed connection
    // fails the test.
    macro_rules! read_until {
        ($done:expr) => {
            while !$done {
                let f = tokio::time::timeout(Duration::from_secs(10), read_frame(&mut reader))
                    .await
                    .expect("a frame within 10 s")
                    .expect("the connection stays open");
                match f.kind {
                    SETTINGS if f.flags & ACK == 0 => writer
                        .write_all(&frame(SETTINGS, ACK, 0, &[]))
                        .await
                        .expect("write"),
                    DATA if f.payload.len() > 5 => answers += 1,
                    HEADERS if f.flags & END_STREAM != 0 => ended += 1,
                    RST_STREAM => resets += 1,
                    GOAWAY => panic!(
                        "GOAWAY (code {:?}) after {ended} streams",
                        goaway_code(&f.payload)
                    ),
                    PING if f.flags & ACK != 0 => break,
                    _ => {}
                }
            }
        };
    }

    for round in 0..ROUNDS {
        let ids: Vec<u32> = (0..ROUND).map(|i| 1 + 2 * (round * ROUND + i)).collect();
        let mut out = Vec::new();
        for &id in &ids {
            out.extend(frame(HEADERS, END_HEADERS, id, &block));
            out.extend(frame(DATA, 0, id, &message));
        }
        writer.write_all(&out).await.expect("write");
        read_until!(ended == (round + 1) * ROUND);
        let mut out = Vec::new();
        for &id in &ids {
            out.extend(frame(DATA, END_STREAM, id, &[]));
        }
        writer.write_all(&out).await.expect("write");
    }
    // The server answers a PING after the frames before it.
    writer
        .write_all(&frame(PING, 0, 0, &[7; 8]))
        .await
        .expect("write");
    read_until!(false);

    assert_eq!(answers, ROUNDS * ROUND, "one answer per stream");
    assert_eq!(ended, ROUNDS * ROUND, "every stream ended by errmap");
    assert_eq!(resets, 0, "no stream reset by errmap");
    drop((reader, writer));
    let metrics = http_get(server.admin_addr, "/metrics").await.body;
    let line = format!(
        r#"errmap_ext_proc_messages_total{{action="enriched"}} {}"#,
        ROUNDS * ROUND
    );
    assert!(metrics.contains(&line), "{line} in\n{metrics}");
    server.stop().await;
}

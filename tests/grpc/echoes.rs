//! What a client sends comes back cut short and marked as cut, on every
//! face; params with control characters are refused, not changed.

use crate::support::{bad_fields, http_post, resolve_grpc, TestServer};
use errmap::pb::errmap::v1::batch_query::Query;
use errmap::pb::errmap::v1::batch_result::Result as Outcome;
use errmap::pb::errmap::v1::{
    BatchQuery, BatchResolveRequest, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::{ErrorInfo, Status};
use prost::Message;
use std::collections::{BTreeMap, HashMap};

/// The longest text an echo may grow to: the cut value, quotes and escapes
/// for it, and the mark.
const ECHO_ROOM: usize = 64 * 6 + 64;

fn status_with(info: &ErrorInfo) -> Status {
    Status {
        code: 7,
        message: String::new(),
        details: vec![prost_types::Any {
            type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
            value: info.encode_to_vec(),
        }],
    }
}

fn error_info_of(status: &Status) -> ErrorInfo {
    errmap::present::error_info(status).expect("an ErrorInfo detail")
}

#[tokio::test]
async fn a_huge_error_info_reason_is_not_echoed_whole() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let reason = "R".repeat(1024 * 1024);
    let info = ErrorInfo {
        reason: reason.clone(),
        ..Default::default()
    };
    // As a message, and as the encoded bytes (which are capped at 64 KiB).
    let small = ErrorInfo {
        reason: "R".repeat(60 * 1024),
        ..Default::default()
    };
    let requests = [
        ResolveGrpcStatusRequest {
            code: 7,
            status: Some(status_with(&info)),
            ..Default::default()
        },
        ResolveGrpcStatusRequest {
            code: 7,
            status_details_bin: status_with(&small).encode_to_vec(),
            ..Default::default()
        },
    ];
    for request in requests {
        let r = resolve_grpc(&mut client, request).await;
        assert!(r.note.contains("names no catalog entry"), "{}", r.note);
        assert!(r.note.len() < 512, "note of {} bytes", r.note.len());
        assert!(r.note.contains("… (cut at 64 of "), "{}", r.note);
        let encoded = r.encoded_len();
        assert!(encoded < 8 * 1024, "answer of {encoded} bytes");
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_codes_are_quoted_cut() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let code = "Z".repeat(128);
    let status = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: code.clone(),
            ..Default::default()
        })
        .await
        .expect_err("an unknown code");
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
    assert!(
        status.message().contains("… (cut at 64 of 128 bytes)"),
        "{}",
        status.message()
    );
    assert!(!status.message().contains(&code), "{}", status.message());
    // With a status to fall back on, the note quotes the code cut too.
    let r = crate::support::resolve_gateway(
        &mut client,
        ResolveGatewayErrorRequest {
            code,
            http_status: Some(404),
            ..Default::default()
        },
    )
    .await;
    assert!(r.note.contains("… (cut at 64 of 128 bytes)"), "{}", r.note);
    server.stop().await;
}

fn assert_control_refused(status: &tonic::Status, field: &str) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert_eq!(
        status.message(),
        format!("{field}: must not contain control characters")
    );
    assert_eq!(bad_fields(status), vec![field.to_owned()]);
}

#[tokio::test]
async fn params_with_control_characters_are_refused() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for value in [
        "vpc\n1\u{0}",
        "disk\u{7}-9",
        "a\u{85}b",
        "tab\there",
        "\u{7f}",
    ] {
        let params = HashMap::from([("resource".to_owned(), value.to_owned())]);
        let status = client
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: "HTTP_FORBIDDEN".into(),
                params: params.clone(),
                ..Default::default()
            })
            .await
            .expect_err("a control character");
        assert_control_refused(&status, "params[resource]");
        let status = client
            .resolve_grpc_status(ResolveGrpcStatusRequest {
                code: 7,
                params: params.clone(),
                ..Default::default()
            })
            .await
            .expect_err("a control character");
        assert_control_refused(&status, "params[resource]");
        let queries = vec![
            BatchQuery {
                query: Some(Query::GatewayError(ResolveGatewayErrorRequest {
                    code: "HTTP_FORBIDDEN".into(),
                    params: params.clone(),
                    ..Default::default()
                })),
            },
            BatchQuery {
                query: Some(Query::GrpcStatus(ResolveGrpcStatusRequest {
                    code: 7,
                    params,
                    ..Default::default()
                })),
            },
        ];
        let results = client
            .batch_resolve(BatchResolveRequest::new(queries))
            .await
            .expect("a batch answers item by item")
            .into_inner()
            .results;
        for (i, within) in [(0, "gateway_error"), (1, "grpc_status")] {
            let Some(Outcome::Error(error)) = &results[i].result else {
                panic!("item {i}: {:?}", results[i]);
            };
            let field = format!("queries[{i}].{within}.params[resource]");
            assert_eq!(error.code, tonic::Code::InvalidArgument as i32);
            assert_eq!(
                error.message,
                format!("{field}: must not contain control characters")
            );
        }
    }
    // Printable text, non-ASCII included, is taken as it is.
    let params = HashMap::from([("resource".to_owned(), "云盘 disk-9".to_owned())]);
    let r = crate::support::resolve_gateway(
        &mut client,
        ResolveGatewayErrorRequest {
            code: "HTTP_FORBIDDEN".into(),
            params,
            locale: "en-US".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(r.message.contains("云盘 disk-9"), "{}", r.message);
    server.stop().await;
}

#[tokio::test]
async fn error_info_metadata_that_is_no_valid_param_is_left_out_and_said() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let long_name = "n".repeat(1000);
    let metadata: BTreeMap<String, String> = [
        ("resource", "vpc\n1\u{0}".to_owned()),
        ("permission", "write".to_owned()),
        ("zone", "z".repeat(257)),
        (long_name.as_str(), "v".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let info = ErrorInfo {
        reason: "HTTP_FORBIDDEN".into(),
        domain: "example.com".into(),
        metadata,
    };
    let r = resolve_grpc(
        &mut client,
        ResolveGrpcStatusRequest {
            code: 7,
            locale: "en-US".into(),
            status: Some(status_with(&info)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        r.entry.as_ref().map(|e| e.code.as_str()),
        Some("HTTP_FORBIDDEN")
    );
    // The valid entry fills its word; the control-laden one is not used,
    // changed or not, so its word stays as written.
    assert_eq!(r.message, "No write access to resource");
    let out = error_info_of(r.status.as_ref().expect("a status"));
    assert_eq!(
        out.metadata.get("permission").map(String::as_str),
        Some("write")
    );
    assert!(!out.metadata.contains_key("resource"), "{:?}", out.metadata);
    assert!(
        r.note
            .contains("3 ErrorInfo.metadata entries not used as params"),
        "{}",
        r.note
    );
    assert!(r.note.contains("\"resource\""), "{}", r.note);
    assert!(r.note.contains("… (cut at 64 of 1000 bytes)"), "{}", r.note);
    assert!(!r.note.contains(&long_name), "{}", r.note);
    assert!(
        r.ignored_params.iter().all(|p| p.len() <= 64),
        "{:?}",
        r.ignored_params
    );

    // Past MAX_PARAMS entries the rest are left out too, and said.
    let many: BTreeMap<String, String> = (0..100)
        .map(|i| (format!("k{i:03}"), "v".to_owned()))
        .collect();
    let r = resolve_grpc(
        &mut client,
        ResolveGrpcStatusRequest {
            code: 7,
            status: Some(status_with(&ErrorInfo {
                metadata: many,
                ..Default::default()
            })),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(r.ignored_params.len(), 16, "{:?}", r.ignored_params);
    assert!(
        r.note.contains("84 ErrorInfo.metadata entries"),
        "{}",
        r.note
    );
    assert!(r.note.len() < ECHO_ROOM * 4, "{}", r.note);
    server.stop().await;
}

#[tokio::test]
async fn the_http_face_cuts_what_it_repeats() {
    let server = TestServer::start().await;
    let long = "k".repeat(10_000);
    let bodies = [
        ("/v1/resolve/gateway", format!(r#"{{"{long}":1}}"#)),
        ("/v1/resolve/grpc", format!(r#"{{"code":"{long}"}}"#)),
        ("/v1/resolve/gateway", format!(r#"{{"profile":"{long}"}}"#)),
        ("/v1/resolve/gateway", format!(r#""{long}""#)),
        ("/v1/resolve/gateway", format!(r#"{{"code":"A","{long}"#)),
    ];
    for (path, body) in bodies {
        let reply = http_post(server.http_addr, path, &body).await;
        assert_eq!(
            reply.status,
            400,
            "{path} {}",
            &reply.body[..200.min(reply.body.len())]
        );
        assert!(
            reply.body.len() < 2 * 1024,
            "{path}: {} bytes: {}",
            reply.body.len(),
            &reply.body[..300.min(reply.body.len())]
        );
        assert!(!reply.body.contains(&"k".repeat(600)), "{}", reply.body);
    }
    let reply = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"code":"HTTP_FORBIDDEN","params":{"resource":"vpc\n1\u0000"}}"#,
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(
        reply.json()["message"],
        "params[resource]: must not contain control characters"
    );
    let path = format!("/v1/{}", "p".repeat(4000));
    let reply = crate::support::http_get(server.http_addr, &path).await;
    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(reply.body.len() < 2 * 1024, "{} bytes", reply.body.len());
    assert!(
        reply.body.contains("… (cut at 512 of 4004 bytes)"),
        "{}",
        reply.body
    );
    server.stop().await;
}

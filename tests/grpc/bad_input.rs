//! Every malformed request gets INVALID_ARGUMENT naming the field and the
//! allowed range; nothing panics and nothing answers INTERNAL.

use crate::support::{bad_fields, TestServer};
use errmap::pb::errmap::v1::{
    GetErrorRequest, ListErrorsRequest, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};

fn assert_invalid(
    result: Result<impl std::fmt::Debug, tonic::Status>,
    field: &str,
    words: &[&str],
) {
    let status = result.expect_err("the request is invalid");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with(&format!("{field}: ")),
        "{}",
        status.message()
    );
    for word in words {
        assert!(
            status.message().contains(word),
            "{:?} lacks {word:?}",
            status.message()
        );
    }
    assert_eq!(bad_fields(&status), vec![field.to_owned()]);
}

#[tokio::test]
async fn http_status_outside_100_to_599() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for status in [0, 99, 600, -1, i32::MAX, i32::MIN] {
        let result = client
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: "APIGW_NONCE_CONFLICT".into(),
                http_status: Some(status),
                ..Default::default()
            })
            .await;
        assert_invalid(
            result,
            "http_status",
            &["between 100 and 599", &status.to_string()],
        );
        let result = client
            .get_error(GetErrorRequest {
                code: "NOT_FOUND".into(),
                http_status: Some(status),
            })
            .await;
        assert_invalid(result, "http_status", &["between 100 and 599"]);
    }
    server.stop().await;
}

#[tokio::test]
async fn nothing_to_resolve() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for code in ["", "   ", "\u{3000}"] {
        let result = client
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: code.into(),
                http_status: None,
                ..Default::default()
            })
            .await;
        assert_invalid(result, "code", &["nothing to resolve", "100-599"]);
    }
    server.stop().await;
}

#[tokio::test]
async fn codes_too_long_or_with_control_characters() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let long = "A".repeat(129);
    let result = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: long.clone(),
            http_status: None,
            ..Default::default()
        })
        .await;
    assert_invalid(result, "code", &["at most 128 bytes", "129"]);
    let at_limit = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "A".repeat(128),
            http_status: Some(500),
            ..Default::default()
        })
        .await
        .expect("128 bytes is allowed");
    assert!(at_limit.into_inner().resolution.is_some());
    for code in ["APIGW\u{0}NONCE", "A\u{1b}[31m", "A\nB", "\u{7f}"] {
        let result = client
            .resolve_gateway_error(ResolveGatewayErrorRequest {
                code: code.into(),
                http_status: None,
                ..Default::default()
            })
            .await;
        assert_invalid(result, "code", &["control characters"]);
    }
    let result = client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code: 14,
            message: String::new(),
            reason: long,
            ..Default::default()
        })
        .await;
    assert_invalid(result, "reason", &["at most 128 bytes"]);
    let result = client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code: 14,
            message: "x".repeat(4097),
            reason: String::new(),
            ..Default::default()
        })
        .await;
    assert_invalid(result, "message", &["at most 4096 bytes"]);
    let result = client
        .get_error(GetErrorRequest {
            code: "A\tB".into(),
            http_status: None,
        })
        .await;
    assert_invalid(result, "code", &["control characters"]);
    let result = client
        .get_error(GetErrorRequest {
            code: " ".into(),
            http_status: None,
        })
        .await;
    assert_invalid(result, "code", &["must name"]);
    server.stop().await;
}

#[tokio::test]
async fn list_filters_and_paging_out_of_range() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let list = |request: ListErrorsRequest| {
        let mut client = client.clone();
        async move { client.list_errors(request).await }
    };
    assert_invalid(
        list(ListErrorsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await,
        "page_size",
        &["between 0 and 1000", "-1"],
    );
    assert_invalid(
        list(ListErrorsRequest {
            table: 4,
            ..Default::default()
        })
        .await,
        "table",
        &["between 0 (TABLE_UNSPECIFIED) and 3 (TABLE_CONSOLE)", "4"],
    );
    assert_invalid(
        list(ListErrorsRequest {
            http_status: Some(42),
            ..Default::default()
        })
        .await,
        "http_status",
        &["between 100 and 599"],
    );
    assert_invalid(
        list(ListErrorsRequest {
            grpc_code: Some(17),
            ..Default::default()
        })
        .await,
        "grpc_code",
        &["between 0 (OK) and 16 (UNAUTHENTICATED)"],
    );
    for token in ["zz", "abc", "00", "7631"] {
        assert_invalid(
            list(ListErrorsRequest {
                page_token: token.into(),
                ..Default::default()
            })
            .await,
            "page_token",
            &["next_page_token"],
        );
    }
    client
        .list_errors(ListErrorsRequest::default())
        .await
        .expect("still serving");
    server.stop().await;
}

/// Bytes that are not the request message get INVALID_ARGUMENT naming the
/// fault, on every RPC; sent raw over HTTP/2, as no generated client can.
#[tokio::test]
async fn request_bytes_that_do_not_decode_are_invalid_argument() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client as HttpClient;
    use hyper_util::rt::TokioExecutor;

    let server = TestServer::start().await;
    let client = HttpClient::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    // Field 1 says 5 bytes follow and one does; a lone varint key; a field
    // number 0, which protobuf forbids.
    let bodies: [&[u8]; 3] = [&[0x0a, 0x05, 0x01], &[0x10], &[0x00, 0x01]];
    for method in [
        "ResolveGatewayError",
        "ResolveGrpcStatus",
        "BatchResolve",
        "GetError",
        "ListErrors",
    ] {
        for message in bodies {
            let mut framed = vec![0];
            framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
            framed.extend_from_slice(message);
            let request = hyper::Request::post(format!(
                "http://{}/errmap.v1.ErrorMapService/{method}",
                server.grpc_addr
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from(framed)))
            .expect("a request");
            let response = client.request(request).await.expect("an HTTP/2 answer");
            let mut headers = response.headers().clone();
            if let Ok(collected) = response.into_body().collect().await {
                if let Some(trailers) = collected.trailers() {
                    headers.extend(trailers.clone());
                }
            }
            let status = tonic::Status::from_header_map(&headers).expect("a gRPC status");
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "{method} {message:?}: {status:?}"
            );
            assert!(
                status.message().contains("failed to decode"),
                "{method} {message:?}: {status:?}"
            );
        }
    }
    server.stop().await;
}

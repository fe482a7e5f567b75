//! The HTTP/JSON face: the same RPCs over HTTP/1.1, in proto3 JSON.

use crate::support::{http, http_get, http_post, TestServer};
use errmap::pb::errmap::v1::ResolveGatewayErrorRequest;
use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The status line answering a POST that declares a body of `length` bytes
/// and sends none of it: the limit is enforced on the declared length, so
/// no test has to push megabytes through a socket.
async fn declared_length_status(addr: SocketAddr, length: usize) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/resolve/gateway HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .await
        .expect("read the status line");
    line.trim_end().to_owned()
}

/// The `field` of each `BadRequest` violation in a JSON `google.rpc.Status`.
fn bad_fields(status: &Value) -> Vec<String> {
    status["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["field"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn get_error_answers_the_entry_in_proto3_json() {
    let server = TestServer::start().await;
    let reply = http_get(server.http_addr, "/v1/errors/apigw_nonce_conflict").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    assert!(
        !reply.header("x-request-id").is_empty(),
        "a request id is made"
    );
    let entry = &reply.json()["entry"];
    assert_eq!(entry["code"], "APIGW_NONCE_CONFLICT");
    assert_eq!(entry["httpStatus"], 403);
    assert_eq!(entry["table"], "TABLE_SDK");
    assert_eq!(entry["grpcCode"], "PERMISSION_DENIED");
    assert_eq!(entry["messageEn"], "Duplicate access");

    let by_status = http_get(
        server.http_addr,
        "/v1/errors/FAILED_PRECONDITION?http_status=409",
    )
    .await;
    assert_eq!(by_status.status, 200, "{by_status:?}");
    let body = by_status.json();
    assert_eq!(body["entry"]["httpStatus"], 409);
    assert_eq!(body["otherRows"][0]["httpStatus"], 400);
    server.stop().await;
}

#[tokio::test]
async fn get_error_failures_are_json_statuses_with_matching_http_statuses() {
    let server = TestServer::start().await;
    let unknown = http_get(server.http_addr, "/v1/errors/APIGW_NONCE_CONFLCT").await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let status = unknown.json();
    assert_eq!(status["code"], 5);
    assert!(status["message"]
        .as_str()
        .is_some_and(|m| m.contains("APIGW_NONCE_CONFLICT")));
    let info = status["details"]
        .as_array()
        .and_then(|d| {
            d.iter()
                .find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo")
        })
        .cloned()
        .expect("an ErrorInfo detail");
    assert_eq!(info["reason"], "UNKNOWN_GATEWAY_CODE");

    let bad = http_get(
        server.http_addr,
        "/v1/errors/APIGW_NONCE_CONFLICT?http_status=700",
    )
    .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    let status = bad.json();
    assert_eq!(status["code"], 3);
    assert!(status["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("http_status:")));
    assert_eq!(bad_fields(&status), ["http_status"]);

    let not_a_number = http_get(
        server.http_addr,
        "/v1/errors/APIGW_NONCE_CONFLICT?http_status=soon",
    )
    .await;
    assert_eq!(not_a_number.status, 400, "{not_a_number:?}");
    assert_eq!(bad_fields(&not_a_number.json()), ["http_status"]);

    let stray = http_get(
        server.http_addr,
        "/v1/errors/APIGW_NONCE_CONFLICT?colour=red",
    )
    .await;
    assert_eq!(stray.status, 400, "{stray:?}");
    assert!(stray.body.contains("colour"), "{}", stray.body);
    server.stop().await;
}

#[tokio::test]
async fn list_errors_filters_and_pages_by_query_parameters() {
    let server = TestServer::start().await;
    let first = http_get(
        server.http_addr,
        "/v1/errors?table=TABLE_COMMON&page_size=5",
    )
    .await;
    assert_eq!(first.status, 200, "{first:?}");
    let page = first.json();
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 5);
    assert!(entries.iter().all(|e| e["table"] == "TABLE_COMMON"));
    let total = page["totalSize"].as_i64().expect("totalSize");
    assert!(total > 5);
    let token = page["nextPageToken"].as_str().expect("a next page");
    let second = http_get(
        server.http_addr,
        &format!("/v1/errors?table=2&pageSize=5&page_token={token}"),
    )
    .await;
    assert_eq!(second.status, 200, "{second:?}");
    let second = second.json();
    assert_ne!(second["entries"][0]["code"], entries[0]["code"]);

    let unavailable = http_get(server.http_addr, "/v1/errors?grpc_code=UNAVAILABLE").await;
    assert_eq!(unavailable.status, 200);
    let rows = unavailable.json()["entries"]
        .as_array()
        .cloned()
        .expect("entries");
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|e| e["grpcCode"] == "UNAVAILABLE"));

    let bad = http_get(server.http_addr, "/v1/errors?page_size=-1").await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad_fields(&bad.json()), ["page_size"]);
    server.stop().await;
}

#[tokio::test]
async fn resolve_gateway_matches_the_grpc_answer() {
    let server = TestServer::start().await;
    let reply = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"code":"APIGW_NONCE_CONFLICT","http_status":403}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let resolution = &reply.json()["resolution"];
    assert_eq!(resolution["matchKind"], "MATCH_KIND_CODE");
    assert_eq!(resolution["grpcCode"], "PERMISSION_DENIED");
    assert_eq!(resolution["httpStatus"], 403);

    let grpc = server
        .client()
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "APIGW_NONCE_CONFLICT".into(),
            http_status: Some(403),
            ..Default::default()
        })
        .await
        .expect("resolves over gRPC")
        .into_inner()
        .resolution
        .expect("a resolution");
    assert_eq!(resolution["note"], grpc.note.as_str());
    assert_eq!(
        resolution["entry"]["message"],
        grpc.entry.expect("entry").message
    );

    let status_only = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"httpStatus":503}"#,
    )
    .await;
    assert_eq!(status_only.status, 200, "{status_only:?}");
    let resolution = &status_only.json()["resolution"];
    assert_eq!(resolution["matchKind"], "MATCH_KIND_STATUS_ONLY");
    assert_eq!(resolution["grpcCode"], "UNAVAILABLE");
    server.stop().await;
}

#[tokio::test]
async fn success_is_said_in_json_where_an_ok_grpc_code_is_left_out() {
    let server = TestServer::start().await;
    let success = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"code":"APIGATEWAY_SUCCESS","httpStatus":200}"#,
    )
    .await;
    assert_eq!(success.status, 200, "{success:?}");
    let resolution = &success.json()["resolution"];
    assert_eq!(resolution["success"], true, "{resolution}");
    assert!(
        resolution.get("grpcCode").is_none(),
        "OK is proto3's default: {resolution}"
    );
    assert_eq!(resolution["entry"]["code"], "APIGATEWAY_SUCCESS");
    assert_eq!(
        resolution["status"]["message"].as_str().map(str::is_empty),
        Some(false)
    );

    let ok = http_post(server.http_addr, "/v1/resolve/grpc", r#"{"code":"OK"}"#).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["resolution"]["success"], true, "{ok:?}");

    // false is proto3's default: an error answer leaves the field out.
    let error = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"code":"APIGW_NONCE_CONFLICT","httpStatus":403}"#,
    )
    .await;
    let resolution = &error.json()["resolution"];
    assert_eq!(resolution["grpcCode"], "PERMISSION_DENIED");
    assert!(resolution.get("success").is_none(), "{resolution}");

    let batch = http_post(
        server.http_addr,
        "/v1/resolve:batch",
        r#"{"view":"RESOLUTION_VIEW_BASIC","queries":[
            {"gatewayError":{"code":"APIGATEWAY_SUCCESS"}},
            {"grpcStatus":{"code":"UNAVAILABLE"}}
        ]}"#,
    )
    .await;
    assert_eq!(batch.status, 200, "{batch:?}");
    let results = batch.json()["results"].clone();
    assert_eq!(results[0]["resolution"]["success"], true, "{results}");
    assert!(
        results[1]["resolution"].get("success").is_none(),
        "{results}"
    );
    server.stop().await;
}

#[tokio::test]
async fn resolve_gateway_rejects_bad_input_naming_the_field() {
    let server = TestServer::start().await;
    let out_of_range = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"httpStatus":700}"#,
    )
    .await;
    assert_eq!(out_of_range.status, 400, "{out_of_range:?}");
    let status = out_of_range.json();
    assert_eq!(status["code"], 3);
    assert_eq!(bad_fields(&status), ["http_status"]);

    let wrong_type = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"httpStatus":"soon"}"#,
    )
    .await;
    assert_eq!(wrong_type.status, 400, "{wrong_type:?}");
    assert_eq!(bad_fields(&wrong_type.json()), ["httpStatus"]);

    let malformed = http_post(server.http_addr, "/v1/resolve/gateway", r#"{"code":"#).await;
    assert_eq!(malformed.status, 400, "{malformed:?}");
    let status = malformed.json();
    assert_eq!(status["code"], 3);
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid JSON")),
        "{status}"
    );

    let empty = http_post(server.http_addr, "/v1/resolve/gateway", "").await;
    assert_eq!(empty.status, 400, "{empty:?}");
    assert_eq!(bad_fields(&empty.json()), ["code"]);

    let unknown = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"code":"NO_SUCH_CODE"}"#,
    )
    .await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.json()["code"], 5);
    server.stop().await;
}

#[tokio::test]
async fn resolve_grpc_takes_codes_by_name_or_number() {
    let server = TestServer::start().await;
    for body in [r#"{"code":"UNAVAILABLE"}"#, r#"{"code":14}"#] {
        let reply = http_post(server.http_addr, "/v1/resolve/grpc", body).await;
        assert_eq!(reply.status, 200, "{body}: {reply:?}");
        let resolution = &reply.json()["resolution"];
        assert_eq!(resolution["httpStatus"], 503, "{body}");
        assert_eq!(resolution["entry"]["code"], "UNAVAILABLE", "{body}");
    }
    let out_of_range = http_post(server.http_addr, "/v1/resolve/grpc", r#"{"code":99}"#).await;
    assert_eq!(out_of_range.status, 400, "{out_of_range:?}");
    assert_eq!(bad_fields(&out_of_range.json()), ["code"]);
    let no_such_name = http_post(
        server.http_addr,
        "/v1/resolve/grpc",
        r#"{"code":"SNOWING"}"#,
    )
    .await;
    assert_eq!(no_such_name.status, 400, "{no_such_name:?}");
    assert_eq!(bad_fields(&no_such_name.json()), ["code"]);
    server.stop().await;
}

#[tokio::test]
async fn batch_resolve_answers_each_query_at_the_colon_path() {
    let server = TestServer::start().await;
    let body = r#"{"queries":[
        {"gatewayError":{"code":"APIGW_NONCE_CONFLICT"}},
        {"grpc_status":{"code":"NOT_FOUND"}},
        {"gatewayError":{"code":"NO_SUCH_CODE"}}
    ]}"#;
    let reply = http_post(server.http_addr, "/v1/resolve:batch", body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let results = reply.json()["results"]
        .as_array()
        .cloned()
        .expect("results");
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["resolution"]["grpcCode"], "PERMISSION_DENIED");
    assert_eq!(results[1]["resolution"]["httpStatus"], 404);
    assert_eq!(results[2]["error"]["code"], 5);
    assert!(results[2]["resolution"].is_null());

    let both = http_post(
        server.http_addr,
        "/v1/resolve:batch",
        r#"{"queries":[{"gatewayError":{},"grpcStatus":{}}]}"#,
    )
    .await;
    assert_eq!(both.status, 400, "{both:?}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_methods_and_oversized_bodies_are_refused() {
    let server = TestServer::start().await;
    let nowhere = http_get(server.http_addr, "/v2/anything").await;
    assert_eq!(nowhere.status, 404);
    assert_eq!(nowhere.json()["code"], 5);

    let wrong_method = http_get(server.http_addr, "/v1/resolve/gateway").await;
    assert_eq!(wrong_method.status, 405);

    assert_eq!(
        declared_length_status(server.http_addr, 5 * 1024 * 1024).await,
        "HTTP/1.1 413 Payload Too Large"
    );

    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_and_answers_gzipped_on_request() {
    let server = TestServer::start().await;
    let path = "/v1/errors/UNAVAILABLE";
    let echoed = http(
        server.http_addr,
        "GET",
        path,
        "",
        &[("x-request-id", "req-42")],
    )
    .await;
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.header("x-request-id"), "req-42");

    let gzipped = http(
        server.http_addr,
        "GET",
        path,
        "",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.header("content-encoding"), "gzip");
    let plain = http_get(server.http_addr, path).await;
    assert_eq!(plain.header("content-encoding"), "");
    assert_eq!(plain.json()["entry"]["code"], "UNAVAILABLE");
    server.stop().await;
}

/// An HTTP/1.1 request answered before its body has all arrived (here a
/// path the face does not serve) leaves the connection open for the next
/// request: errmap reads the rest of the body after the answer
/// (`server/held.rs`), where it used to close the connection.
#[tokio::test]
async fn a_connection_answered_before_its_body_ended_serves_the_next_request() {
    use tokio::io::AsyncReadExt;

    /// Reads one response whose body is `content-length` bytes long;
    /// returns its status line.
    async fn response(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        let mut status = String::new();
        reader.read_line(&mut status).await.expect("status line");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("header line");
            if line.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("a length");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await.expect("body");
        status.trim_end().to_owned()
    }

    let server = TestServer::start().await;
    let addr = server.http_addr;
    let (reader, mut writer) = TcpStream::connect(addr)
        .await
        .expect("connect")
        .into_split();
    let mut reader = BufReader::new(reader);
    let head = format!(
        "POST /no/such/path HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    writer
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    writer
        .write_all(&[b' '; 50])
        .await
        .expect("send half the body");
    assert_eq!(response(&mut reader).await, "HTTP/1.1 404 Not Found");
    writer.write_all(&[b' '; 50]).await.expect("send the rest");

    let next = format!("GET /v1/errors/UNAVAILABLE HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    writer
        .write_all(next.as_bytes())
        .await
        .expect("send the next request");
    let status = tokio::time::timeout(std::time::Duration::from_secs(5), response(&mut reader))
        .await
        .expect("answered within 5 s");
    assert_eq!(status, "HTTP/1.1 200 OK");
    server.stop().await;
}

//! Ready-to-attach statuses: details, locales, templates, the gateway body.

use crate::support::{bad_fields, resolve_gateway, Client, TestServer};
use errmap::pb::errmap::v1::{
    GetErrorRequest, ListErrorsRequest, MatchKind, Resolution, ResolveGatewayErrorRequest,
};
use errmap::pb::google::rpc::{ErrorInfo, Help, LocalizedMessage, RetryInfo, Status};
use errmap::server::ServerConfig;
use prost::Message;
use std::collections::HashMap;
use std::time::Duration;

/// The byte budget of an encoded status (docs/status-details.md): it rides
/// base64-encoded in a trailer, well under the common 8 KiB header limits.
const STATUS_BUDGET: usize = 2048;

pub async fn all_entries(client: &mut Client) -> Vec<errmap::pb::errmap::v1::CatalogEntry> {
    client
        .list_errors(ListErrorsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .entries
}

fn details<T: Message + Default>(status: &Status, name: &str) -> Vec<T> {
    status
        .details
        .iter()
        .filter(|d| d.type_url == format!("type.googleapis.com/google.rpc.{name}"))
        .map(|d| T::decode(d.value.as_slice()).expect("detail decodes"))
        .collect()
}

fn key(code: &str, http_status: i32) -> ResolveGatewayErrorRequest {
    ResolveGatewayErrorRequest {
        code: code.into(),
        http_status: Some(http_status),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_entry_carries_a_status_built_as_aip_193_asks() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let mut retryable = Vec::new();
    for entry in all_entries(&mut client).await {
        let r = resolve_gateway(&mut client, key(&entry.code, entry.http_status)).await;
        let status = r.status.clone().expect("a status");
        assert_eq!(status.code, entry.grpc_code, "{}", entry.code);
        assert_eq!(status.message, entry.message_en, "{}", entry.code);
        assert!(status.message.is_ascii(), "{}", entry.code);

        let infos: Vec<ErrorInfo> = details(&status, "ErrorInfo");
        assert_eq!(infos.len(), 1, "exactly one ErrorInfo for {}", entry.code);
        assert_eq!(infos[0].reason, entry.code);
        assert_eq!(infos[0].domain, "apigateway.jdcloud.com");
        let http = entry.http_status.to_string();
        assert_eq!(infos[0].metadata.get("httpStatus"), Some(&http));
        assert!(infos[0]
            .metadata
            .get("table")
            .is_some_and(|t| t.starts_with("TABLE_")));

        let localized: Vec<LocalizedMessage> = details(&status, "LocalizedMessage");
        assert_eq!(localized.len(), 1);
        assert_eq!(
            (localized[0].locale.as_str(), localized[0].message.as_str()),
            ("zh-CN", entry.message.as_str())
        );
        assert_eq!(r.locale, "zh-CN");
        assert_eq!(r.message, entry.message);

        let help: Vec<Help> = details(&status, "Help");
        if entry.solution.is_empty() {
            assert!(help.is_empty(), "{} has no solution", entry.code);
        } else {
            assert_eq!(help.len(), 1);
            assert_eq!(help[0].links[0].description, entry.solution);
        }
        let retry: Vec<RetryInfo> = details(&status, "RetryInfo");
        assert_eq!(
            retry.len(),
            usize::from(entry.retry_delay.is_some()),
            "{}",
            entry.code
        );
        if !retry.is_empty() {
            retryable.push(entry.code.clone());
        }
        assert_eq!(
            Status::decode(r.status_details_bin.as_slice()).expect("decodes"),
            status
        );
    }
    // docs/mapping.md: the UNAVAILABLE entries and the rate limit.
    assert_eq!(
        retryable,
        [
            "HTTP_BAD_GATEWAY",
            "RATE_LIMIT_EXCEEDED",
            "SOURCE_UNAVAILABLE",
            "UNAVAILABLE"
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn the_largest_status_fits_the_byte_budget() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let mut largest = (0, String::new());
    for entry in all_entries(&mut client).await {
        for locale in ["zh-CN", "en-US"] {
            // Every placeholder filled with the longest value allowed, in
            // three-byte characters.
            let params: HashMap<String, String> = entry
                .placeholders
                .iter()
                .map(|p| (p.clone(), "值".repeat(256 / 3)))
                .collect();
            let r = resolve_gateway(
                &mut client,
                ResolveGatewayErrorRequest {
                    params,
                    locale: locale.into(),
                    ..key(&entry.code, entry.http_status)
                },
            )
            .await;
            if r.status_details_bin.len() > largest.0 {
                largest = (
                    r.status_details_bin.len(),
                    format!("{} {locale}", entry.code),
                );
            }
        }
    }
    assert!(
        largest.0 <= STATUS_BUDGET,
        "{} takes {} bytes",
        largest.1,
        largest.0
    );
    server.stop().await;
}

#[tokio::test]
async fn the_error_domain_is_configurable() {
    let server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_secs(5),
        service: errmap::service::Options {
            error_domain: "errors.example.com".into(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let r = resolve_gateway(&mut server.client(), key("UNAVAILABLE", 503)).await;
    let infos: Vec<ErrorInfo> = details(&r.status.expect("status"), "ErrorInfo");
    assert_eq!(infos[0].domain, "errors.example.com");
    server.stop().await;
}

async fn locale_of(client: &mut Client, field: &str, header: Option<&str>) -> Resolution {
    let mut request = tonic::Request::new(ResolveGatewayErrorRequest {
        locale: field.into(),
        ..key("APIGW_NONCE_CONFLICT", 403)
    });
    if let Some(header) = header {
        request
            .metadata_mut()
            .insert("accept-language", header.parse().expect("ascii header"));
    }
    resolve_gateway(client, request).await
}

#[tokio::test]
async fn the_locale_comes_from_the_field_then_accept_language_then_the_default() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for (field, header, expected) in [
        ("en-US", Some("zh-CN"), "en-US"),
        ("zh", Some("en"), "zh-CN"),
        ("en-GB", None, "en-US"),
        ("zh-TW", None, "zh-CN"),
        ("", Some("en-GB"), "en-US"),
        ("", Some("zh"), "zh-CN"),
        ("", Some("fr-FR, en;q=0.8, zh;q=0.9"), "zh-CN"),
        ("", Some("fr-FR, zh;q=0, en;q=0.1"), "en-US"),
        ("", Some("de, fr"), "zh-CN"),
        ("", Some("*"), "zh-CN"),
        ("", Some(""), "zh-CN"),
        ("", None, "zh-CN"),
    ] {
        let r = locale_of(&mut client, field, header).await;
        assert_eq!(r.locale, expected, "field {field:?} header {header:?}");
        let expected_message = if expected == "en-US" {
            "Duplicate access"
        } else {
            "重复访问"
        };
        assert_eq!(r.message, expected_message);
    }
    let status = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            locale: "fr-FR".into(),
            ..key("UNAVAILABLE", 503)
        })
        .await
        .expect_err("unsupported locale");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("locale: must be zh-CN or en-US"),
        "{}",
        status.message()
    );
    assert_eq!(bad_fields(&status), ["locale"]);
    server.stop().await;
}

#[tokio::test]
async fn the_server_default_locale_is_configurable() {
    let server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_secs(5),
        service: errmap::service::Options {
            default_locale: errmap::locale::Locale::EnUs,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let r = locale_of(&mut server.client(), "", None).await;
    assert_eq!(
        (r.locale.as_str(), r.message.as_str()),
        ("en-US", "Duplicate access")
    );
    server.stop().await;
}

#[tokio::test]
async fn get_and_list_return_both_languages() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let entries = all_entries(&mut client).await;
    assert_eq!(entries.len(), 82);
    for entry in &entries {
        assert!(
            !entry.message.is_empty() && !entry.message_en.is_empty(),
            "{}",
            entry.code
        );
        assert_eq!(
            entry.solution.is_empty(),
            entry.solution_en.is_empty(),
            "{}",
            entry.code
        );
    }
    let entry = client
        .get_error(GetErrorRequest {
            code: "NOT_IMPLEMENTED".into(),
            http_status: None,
        })
        .await
        .expect("found")
        .into_inner()
        .entry
        .expect("entry");
    assert_eq!(
        (entry.message.as_str(), entry.message_en.as_str()),
        ("目前不支持 method", "method is not supported yet")
    );
    server.stop().await;
}

#[tokio::test]
async fn templates_fill_in_both_languages() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let params = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    };
    let cases = [
        (
            "HTTP_FORBIDDEN",
            403,
            params(&[("resource", "vpc-1"), ("permission", "write")]),
            "没有对资源 vpc-1 的 write 权限",
            "No write access to vpc-1",
        ),
        (
            "ARGUMENT_WRONG_FORMAT",
            400,
            params(&[("argument", "size"), ("format", "int32")]),
            "参数 size  类型应该是 int32",
            "Parameter size should be of type int32",
        ),
        (
            "NOT_IMPLEMENTED",
            501,
            params(&[("method", "DeleteVpc")]),
            "目前不支持 DeleteVpc",
            "DeleteVpc is not supported yet",
        ),
        // A missing param leaves its word as written.
        (
            "ARGUMENT_MISMATCH",
            400,
            params(&[("argument", "zone")]),
            "资源 resource 不存在参数 zone",
            "Resource resource has no parameter zone",
        ),
        (
            "NOT_FOUND",
            404,
            params(&[("resource", "disk-9")]),
            "找不到 disk-9",
            "Cannot find disk-9",
        ),
        (
            "APIGATEWAY_PATH_PARAMETERS_MUST_BE_DEFINED",
            400,
            params(&[("param", "id")]),
            "请在下面的查询参数Parameter Path中定义此路径参数:id",
            "Define this path parameter in the Parameter Path query parameters below: id",
        ),
    ];
    for (code, status, params, zh, en) in cases {
        for (locale, expected) in [("zh-CN", zh), ("en-US", en)] {
            let r = resolve_gateway(
                &mut client,
                ResolveGatewayErrorRequest {
                    params: params.clone(),
                    locale: locale.into(),
                    ..key(code, status)
                },
            )
            .await;
            assert_eq!(r.message, expected, "{code} {locale}");
            assert!(r.ignored_params.is_empty());
            let localized: Vec<LocalizedMessage> =
                details(r.status.as_ref().expect("status"), "LocalizedMessage");
            assert_eq!(localized[0].message, expected);
            let info: Vec<ErrorInfo> = details(r.status.as_ref().expect("status"), "ErrorInfo");
            for name in params.keys() {
                assert!(
                    info[0].metadata.contains_key(name),
                    "{code}: metadata has {name}"
                );
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn without_params_every_message_is_the_catalog_text() {
    let server = TestServer::start().await;
    let mut client = server.client();
    for entry in all_entries(&mut client).await {
        for (locale, text) in [("zh-CN", &entry.message), ("en-US", &entry.message_en)] {
            let r = resolve_gateway(
                &mut client,
                ResolveGatewayErrorRequest {
                    locale: locale.into(),
                    ..key(&entry.code, entry.http_status)
                },
            )
            .await;
            assert_eq!(
                r.message.as_bytes(),
                text.as_bytes(),
                "{} {locale}",
                entry.code
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_params_are_ignored_and_reported_and_values_are_bounded() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let params: HashMap<String, String> = [("resource", "r1"), ("colour", "red"), ("zone", "z")]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let r = resolve_gateway(
        &mut client,
        ResolveGatewayErrorRequest {
            params,
            ..key("NOT_FOUND", 404)
        },
    )
    .await;
    assert_eq!(r.message, "找不到 r1");
    assert_eq!(r.ignored_params, ["colour", "zone"]);

    let long: HashMap<String, String> = [("resource".to_owned(), "x".repeat(257))].into();
    let status = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            params: long,
            ..key("NOT_FOUND", 404)
        })
        .await
        .expect_err("too long");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .starts_with("params[resource]: must be at most 256 bytes"),
        "{}",
        status.message()
    );
    let bad_name: HashMap<String, String> = [("re source".to_owned(), "x".into())].into();
    let status = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            params: bad_name,
            ..key("NOT_FOUND", 404)
        })
        .await
        .expect_err("bad name");
    assert!(
        status.message().starts_with("params: names must be"),
        "{}",
        status.message()
    );
    let many: HashMap<String, String> = (0..17).map(|i| (format!("p{i}"), "v".into())).collect();
    let status = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            params: many,
            ..key("NOT_FOUND", 404)
        })
        .await
        .expect_err("too many");
    assert!(
        status.message().starts_with("params: must hold at most 16"),
        "{}",
        status.message()
    );
    server.stop().await;
}

#[tokio::test]
async fn every_resolution_renders_the_gateway_body() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let r = resolve_gateway(
        &mut client,
        ResolveGatewayErrorRequest {
            request_id: "req-42".into(),
            locale: "en-US".into(),
            ..key("APIGW_NONCE_CONFLICT", 403)
        },
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&r.gateway_error_body).expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({"requestId": "req-42", "error": {"code": 403, "status": "APIGW_NONCE_CONFLICT", "message": "Duplicate access"}})
    );
    let r = resolve_gateway(
        &mut client,
        ResolveGatewayErrorRequest {
            http_status: Some(418),
            ..Default::default()
        },
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&r.gateway_error_body).expect("JSON");
    assert_eq!(body["error"]["code"], 418);
    assert_eq!(body["error"]["status"], "FAILED_PRECONDITION");
    server.stop().await;
}

#[tokio::test]
async fn gateway_bodies_are_read_and_bad_ones_fall_back_to_the_status() {
    let server = TestServer::start().await;
    let mut client = server.client();
    let with_body = |status: Option<i32>, body: &[u8]| ResolveGatewayErrorRequest {
        http_status: status,
        body: body.to_vec(),
        ..Default::default()
    };
    let good = r#"{"requestId":"c2f1","error":{"code":403,"status":"APIGW_NONCE_CONFLICT","message":"重复访问"}}"#.as_bytes();
    let r = resolve_gateway(&mut client, with_body(Some(403), good)).await;
    assert_eq!(r.match_kind(), MatchKind::Code);
    assert_eq!(r.entry.expect("entry").code, "APIGW_NONCE_CONFLICT");
    assert!(
        r.gateway_error_body.contains("\"requestId\":\"c2f1\""),
        "{}",
        r.gateway_error_body
    );
    // The body alone is enough: its error.code is the status.
    let r = resolve_gateway(
        &mut client,
        with_body(
            None,
            br#"{"error":{"code":409,"status":"FAILED_PRECONDITION"}}"#,
        ),
    )
    .await;
    assert_eq!(r.entry.expect("entry").http_status, 409);

    for bad in [
        &b"<html><body>502 Bad Gateway</body></html>"[..],
        br#"{"requestId":"x","error":{"code":502,"sta"#,
        br#"{"requestId":"x"}"#,
        br#"{"error":{"message":"only a message"}}"#,
        br#"[1,2,3]"#,
        &[0xff, 0x00, 0x13][..],
    ] {
        let r = resolve_gateway(&mut client, with_body(Some(502), bad)).await;
        assert_eq!(r.match_kind(), MatchKind::StatusOnly, "{bad:?}");
        assert_eq!((r.http_status, r.grpc_code), (502, 14));
        assert!(r.note.contains("resolved without it"), "{}", r.note);
    }
    let status = client
        .resolve_gateway_error(with_body(None, b"not json"))
        .await
        .expect_err("nothing to resolve");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("not a gateway error body"),
        "{}",
        status.message()
    );
    let status = client
        .resolve_gateway_error(with_body(Some(502), &vec![b' '; 64 * 1024 + 1]))
        .await
        .expect_err("too large");
    assert!(
        status
            .message()
            .starts_with("body: must be at most 65536 bytes"),
        "{}",
        status.message()
    );
    server.stop().await;
}

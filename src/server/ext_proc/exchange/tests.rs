//! The decisions, one message at a time, with the engine's own answers as
//! the expected values.

use super::*;
use crate::catalog::Catalog;
use crate::engine::Context as EngineContext;
use crate::locale::Locale;
use crate::pb::errmap::v1::Profile;
use crate::pb::google::rpc::{Code, ErrorInfo, LocalizedMessage};
use crate::server::ext_proc::inbound::{HeaderMap, HeaderValue};
use crate::server::ext_proc::settings::Directions;
use bytes::Bytes;
use processing_request::Request as In;
use processing_response::Response as Out;

fn translator() -> Arc<Translator> {
    translator_with(Settings::default())
}

fn translator_with(settings: Settings) -> Arc<Translator> {
    let catalog = SharedCatalog::new(Catalog::embedded().expect("embedded catalog"));
    Arc::new(Translator::new(catalog, Options::default(), settings))
}

fn route(directions: Directions) -> Route {
    Route {
        directions,
        default_locale: Locale::ZhCn,
        profile: Profile::Unspecified,
        grpc_client: None,
    }
}

fn map(pairs: &[(&str, &[u8])]) -> Option<HeaderMap> {
    Some(HeaderMap {
        headers: pairs
            .iter()
            .map(|(k, v)| HeaderValue {
                key: Bytes::copy_from_slice(k.as_bytes()),
                value: Bytes::new(),
                raw_value: Bytes::copy_from_slice(v),
            })
            .collect(),
    })
}

fn message(request: In) -> ProcessingRequest {
    ProcessingRequest {
        request: Some(request),
        ..Default::default()
    }
}

fn request_headers(pairs: &[(&str, &[u8])]) -> ProcessingRequest {
    message(In::RequestHeaders(HttpHeaders {
        headers: map(pairs),
        end_of_stream: false,
    }))
}

fn response_headers(pairs: &[(&str, &[u8])], end_of_stream: bool) -> ProcessingRequest {
    message(In::ResponseHeaders(HttpHeaders {
        headers: map(pairs),
        end_of_stream,
    }))
}

fn response_body(body: &[u8], end_of_stream: bool) -> ProcessingRequest {
    message(In::ResponseBody(HttpBody {
        body: Bytes::copy_from_slice(body),
        end_of_stream,
    }))
}

fn response_trailers(pairs: &[(&str, &[u8])]) -> ProcessingRequest {
    message(In::ResponseTrailers(HttpTrailers {
        trailers: map(pairs),
    }))
}

/// Header names and values.
type Pairs<'a> = &'a [(&'a str, &'a [u8])];

const GRPC: &[(&str, &[u8])] = &[
    (":method", b"POST"),
    ("content-type", b"application/grpc"),
    ("accept-language", b"en-US"),
    ("x-request-id", b"req-7"),
];
const BROWSER: &[(&str, &[u8])] = &[
    (":method", b"GET"),
    ("accept", b"application/json"),
    ("x-request-id", b"req-8"),
];

/// The value a response sets for `name`, if it sets one.
fn set_value(mutation: Option<&HeaderMutation>, name: &str) -> Option<Vec<u8>> {
    mutation?
        .set_headers
        .iter()
        .filter_map(|o| o.header.as_ref())
        .find(|h| h.key == name)
        .map(|h| h.raw_value.clone())
}

fn headers_mutation(answer: &ProcessingResponse) -> Option<&HeaderMutation> {
    match answer.response.as_ref()? {
        Out::ResponseHeaders(h) | Out::RequestHeaders(h) => {
            h.response.as_ref()?.header_mutation.as_ref()
        }
        _ => None,
    }
}

fn details_of(answer_value: Option<Vec<u8>>) -> StatusProto {
    let raw = answer_value.expect("grpc-status-details-bin is set");
    let bytes = headers::decode_bin(&raw).expect("base64");
    StatusProto::decode(bytes.as_slice()).expect("a google.rpc.Status")
}

fn detail<M: Message + Default>(status: &StatusProto, type_url: &str) -> Option<M> {
    status
        .details
        .iter()
        .find(|d| d.type_url == type_url)
        .and_then(|d| M::decode(d.value.as_slice()).ok())
}

const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
const LOCALIZED: &str = "type.googleapis.com/google.rpc.LocalizedMessage";

/// What the engine answers for a gRPC code, in `locale`.
fn expected_grpc(code: Code, locale: Locale) -> Resolution {
    let catalog = Catalog::embedded().expect("embedded catalog");
    let ctx = EngineContext {
        default_locale: locale,
        ..EngineContext::new(&catalog)
    };
    engine::resolve_grpc(
        &ctx,
        &ResolveGrpcStatusRequest {
            code: code as i32,
            ..Default::default()
        },
    )
    .expect("resolves")
}

#[test]
fn successful_responses_pass_without_a_body() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let answer = exchange.step(&request_headers(GRPC)).expect("answered");
    assert!(matches!(answer.response, Some(Out::RequestHeaders(_))));
    let answer = exchange
        .step(&response_headers(
            &[(":status", b"200"), ("content-type", b"application/grpc")],
            false,
        ))
        .expect("answered");
    assert_eq!(headers_mutation(&answer), None);
    let mode = answer.mode_override.expect("the trailers are asked for");
    assert_eq!(
        mode.response_body_mode,
        BodySendMode::None as i32,
        "no body"
    );
    assert_eq!(mode.response_trailer_mode, HeaderSendMode::Send as i32);
    let answer = exchange
        .step(&response_trailers(&[("grpc-status", b"0")]))
        .expect("answered");
    assert_eq!(
        answer.response,
        Some(Out::ResponseTrailers(TrailersResponse::default()))
    );
}

#[test]
fn a_trailers_only_grpc_error_gains_details_in_the_clients_locale() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    let answer = exchange
        .step(&response_headers(
            &[
                (":status", b"200"),
                ("content-type", b"application/grpc"),
                ("grpc-status", b"14"),
                ("grpc-message", b"backend%20down"),
            ],
            true,
        ))
        .expect("answered");
    let mutation = headers_mutation(&answer);
    assert_eq!(set_value(mutation, "grpc-status"), None, "the code stays");
    let status = details_of(set_value(mutation, "grpc-status-details-bin"));
    assert_eq!(status.code, Code::Unavailable as i32);
    assert_eq!(
        status.message, "backend down",
        "the upstream's message stays"
    );
    let expected = expected_grpc(Code::Unavailable, Locale::EnUs);
    let entry = expected.entry.as_ref().expect("an entry");
    let info: ErrorInfo = detail(&status, ERROR_INFO).expect("ErrorInfo");
    assert_eq!(info.reason, entry.code);
    let localized: LocalizedMessage = detail(&status, LOCALIZED).expect("LocalizedMessage");
    assert_eq!(localized.locale, "en-US");
    assert_eq!(localized.message, expected.message);
}

#[test]
fn an_error_in_real_trailers_gains_details_and_keeps_the_upstreams() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    exchange.step(&response_headers(
        &[(":status", b"200"), ("content-type", b"application/grpc")],
        false,
    ));
    // The upstream's own ErrorInfo names a gateway code: that entry wins.
    let theirs = StatusProto {
        code: Code::ResourceExhausted as i32,
        message: "slow down".to_owned(),
        details: vec![prost_types::Any {
            type_url: ERROR_INFO.to_owned(),
            value: ErrorInfo {
                reason: "RATE_LIMIT_EXCEEDED".to_owned(),
                domain: "example.com".to_owned(),
                ..Default::default()
            }
            .encode_to_vec(),
        }],
    };
    let bin = headers::encode_bin(&theirs.encode_to_vec());
    let answer = exchange
        .step(&response_trailers(&[
            ("grpc-status", b"8"),
            ("grpc-message", b"slow down"),
            ("grpc-status-details-bin", bin.as_bytes()),
        ]))
        .expect("answered");
    let Some(Out::ResponseTrailers(trailers)) = &answer.response else {
        panic!("a trailers answer: {answer:?}");
    };
    let status = details_of(set_value(
        trailers.header_mutation.as_ref(),
        "grpc-status-details-bin",
    ));
    assert_eq!(status.code, Code::ResourceExhausted as i32);
    let infos: Vec<&prost_types::Any> = status
        .details
        .iter()
        .filter(|d| d.type_url == ERROR_INFO)
        .collect();
    assert_eq!(
        infos.len(),
        1,
        "the upstream's ErrorInfo is kept, not doubled"
    );
    let info = ErrorInfo::decode(infos[0].value.as_slice()).expect("decodes");
    assert_eq!(info.domain, "example.com");
    let localized: LocalizedMessage =
        detail(&status, LOCALIZED).expect("errmap's LocalizedMessage");
    assert_eq!(localized.locale, "en-US");
}

#[test]
fn a_grpc_error_to_an_http_client_becomes_the_gateway_error() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(BROWSER));
    let answer = exchange
        .step(&response_headers(
            &[
                (":status", b"200"),
                ("content-type", b"application/grpc+proto"),
                ("grpc-status", b"5"),
            ],
            true,
        ))
        .expect("answered");
    let Some(Out::ImmediateResponse(reply)) = &answer.response else {
        panic!("an immediate response: {answer:?}");
    };
    let expected = expected_grpc(Code::NotFound, Locale::ZhCn);
    assert_eq!(reply.status.map(|s| s.code), Some(expected.http_status));
    assert_eq!(
        set_value(reply.headers.as_ref(), "content-type").as_deref(),
        Some(&b"application/json"[..])
    );
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
    let entry = expected.entry.as_ref().expect("an entry");
    assert_eq!(body["error"]["status"], entry.code.as_str());
    assert_eq!(body["error"]["code"], expected.http_status);
    assert_eq!(body["requestId"], "req-8");
    assert_eq!(reply.grpc_status, None);
}

#[test]
fn a_gateway_error_to_a_grpc_client_becomes_a_grpc_status() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    let answer = exchange
        .step(&response_headers(
            &[
                (":status", b"403"),
                ("content-type", b"application/json; charset=utf-8"),
            ],
            false,
        ))
        .expect("answered");
    assert_eq!(
        answer.mode_override.map(|m| m.response_body_mode),
        Some(BodySendMode::BufferedPartial as i32),
        "the body is asked for"
    );
    let body = gateway_body::render("gw-1", 403, "APIGW_NONCE_CONFLICT", "x");
    let answer = exchange
        .step(&response_body(body.as_bytes(), true))
        .expect("answered");
    let Some(Out::ImmediateResponse(reply)) = &answer.response else {
        panic!("an immediate response: {answer:?}");
    };
    let catalog = Catalog::embedded().expect("embedded catalog");
    let entry = catalog
        .entries()
        .iter()
        .find(|e| e.code == "APIGW_NONCE_CONFLICT" && e.http_status == 403)
        .expect("in the catalog");
    assert_eq!(
        reply.grpc_status.map(|g| g.status),
        u32::try_from(entry.grpc_code).ok()
    );
    let status = details_of(set_value(reply.headers.as_ref(), "grpc-status-details-bin"));
    assert_eq!(status.code, entry.grpc_code);
    assert_eq!(
        reply.body,
        status.message.as_bytes(),
        "grpc-message is the status's"
    );
    let info: ErrorInfo = detail(&status, ERROR_INFO).expect("ErrorInfo");
    assert_eq!(info.reason, "APIGW_NONCE_CONFLICT");
    let localized: LocalizedMessage = detail(&status, LOCALIZED).expect("LocalizedMessage");
    assert_eq!(localized.locale, "en-US");
}

#[test]
fn bodies_that_are_not_the_gateways_pass_unchanged() {
    for (body, end) in [
        (&b"<html>403</html>"[..], true),
        (&br#"{"requestId":"x","err"#[..], true),
        (&br#"{"message":"nope"}"#[..], true),
        (&[0xff, 0xfe, 0x00][..], true),
        // A part of a body: Envoy's buffer ran over.
        (
            &br#"{"requestId":"x","error":{"code":403,"status":"APIGW_NONCE_CONFLICT"}}"#[..],
            false,
        ),
    ] {
        let mut exchange = Exchange::new(translator(), route(Directions::ALL));
        exchange.step(&request_headers(GRPC));
        exchange.step(&response_headers(&[(":status", b"403")], false));
        let answer = exchange.step(&response_body(body, end)).expect("answered");
        assert_eq!(
            answer.response,
            Some(Out::ResponseBody(BodyResponse::default())),
            "{body:?}"
        );
    }
}

#[test]
fn an_unknown_code_in_a_gateway_body_falls_back_on_the_status() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    exchange.step(&response_headers(&[(":status", b"429")], false));
    let body = gateway_body::render("gw-2", 429, "NO_SUCH_CODE_HERE", "x");
    let answer = exchange
        .step(&response_body(body.as_bytes(), true))
        .expect("answered");
    let Some(Out::ImmediateResponse(reply)) = &answer.response else {
        panic!("an immediate response: {answer:?}");
    };
    let expected = crate::mapping::google_code_for_status(429);
    assert_eq!(reply.grpc_status.map(|g| g.status), Some(expected as u32));
}

/// `to_grpc` reads the body itself and asks the engine by code and status;
/// its answer is the one the engine gives when it reads the body, for
/// every catalog row and for bodies the engine reads in its own ways.
#[test]
fn a_gateway_body_read_once_answers_as_the_engine_reading_it() {
    let catalog = Catalog::embedded().expect("embedded catalog");
    let mut bodies: Vec<(i32, String)> = catalog
        .entries()
        .iter()
        .map(|e| {
            let body = gateway_body::render("gw-9", e.http_status, &e.code, "x");
            (e.http_status, body)
        })
        .collect();
    bodies.extend(
        [
            // The code padded, as the engine's lookups allow.
            (
                403,
                r#"{"error":{"status":" APIGW_NONCE_CONFLICT\t","code":403}}"#,
            ),
            // A code with a control character: the status decides.
            (
                403,
                r#"{"error":{"status":"APIGW_\u0001NONCE","code":403}}"#,
            ),
            // Too long to be a code.
            (
                404,
                &*format!(r#"{{"error":{{"status":"{}"}}}}"#, "A".repeat(300)),
            ),
            // No code, the status alone, as a string.
            (502, r#"{"requestId":"r","error":{"code":"502"}}"#),
            // The body's status differs from Envoy's: Envoy's comes first.
            (
                503,
                r#"{"error":{"status":"APIGW_NONCE_CONFLICT","code":403}}"#,
            ),
            (500, r#"{"error":{"status":"NO_SUCH_CODE","code":500}}"#),
            // A request id the engine refuses: not in the status either way.
            (
                429,
                r#"{"requestId":"a\u0000b","error":{"status":"APIGW_NONCE_CONFLICT"}}"#,
            ),
        ]
        .map(|(status, body)| (status, body.to_owned())),
    );
    for (language, profile) in [
        (b"en-US", Profile::Unspecified),
        (b"zh-CN", Profile::GrpcProxy),
    ] {
        let mut exchange = Exchange::new(
            translator(),
            Route {
                profile,
                ..route(Directions::ALL)
            },
        );
        exchange.step(&request_headers(&[
            ("content-type", b"application/grpc"),
            ("accept-language", language),
        ]));
        for (status, body) in &bodies {
            let current = exchange.translator.catalog.current();
            let ctx = exchange.context(&current, View::Status);
            let request = ResolveGatewayErrorRequest {
                http_status: Some(*status),
                body: body.as_bytes().to_vec(),
                profile: profile as i32,
                ..Default::default()
            };
            let expected = engine::resolve_gateway(&ctx, &request)
                .expect("the engine resolves it")
                .status
                .expect("a status");
            let reply = exchange.to_grpc(*status, body.as_bytes());
            if expected.code == 0 {
                // The catalog's success row: nothing to turn into an error.
                assert_eq!(reply, None, "{status} {body}");
                continue;
            }
            let reply = reply.unwrap_or_else(|| panic!("translated: {status} {body}"));
            assert_eq!(
                reply.grpc_status.map(|g| g.status),
                u32::try_from(expected.code).ok(),
                "{status} {body}"
            );
            let status_bin = set_value(reply.headers.as_ref(), "grpc-status-details-bin");
            assert_eq!(details_of(status_bin), expected, "{status} {body}");
            assert_eq!(reply.body, expected.message.as_bytes(), "{status} {body}");
        }
    }
}

#[test]
fn no_body_is_asked_for_where_none_could_be_translated() {
    let cases: [(Pairs<'_>, Pairs<'_>, bool, Directions); 7] = [
        // Success.
        (
            GRPC,
            &[(":status", b"200"), ("content-type", b"application/json")],
            false,
            Directions::ALL,
        ),
        // An HTTP client: nothing to turn into gRPC.
        (
            BROWSER,
            &[(":status", b"403"), ("content-type", b"application/json")],
            false,
            Directions::ALL,
        ),
        // Announced larger than the cap.
        (
            GRPC,
            &[(":status", b"403"), ("content-length", b"65537")],
            false,
            Directions::ALL,
        ),
        // Not JSON: an HTML error page, an event stream.
        (
            GRPC,
            &[(":status", b"502"), ("content-type", b"text/html")],
            false,
            Directions::ALL,
        ),
        (
            GRPC,
            &[(":status", b"503"), ("content-type", b"text/event-stream")],
            false,
            Directions::ALL,
        ),
        // No body at all.
        (GRPC, &[(":status", b"403")], true, Directions::ALL),
        // The direction is off.
        (
            GRPC,
            &[(":status", b"403")],
            false,
            Directions::parse("grpc-details,grpc-to-http").expect("parses"),
        ),
    ];
    for (request, response, end, directions) in cases {
        let mut exchange = Exchange::new(translator(), route(directions));
        exchange.step(&request_headers(request));
        let answer = exchange
            .step(&response_headers(response, end))
            .expect("answered");
        assert_eq!(answer.mode_override, None, "{response:?}");
        assert_eq!(headers_mutation(&answer), None, "{response:?}");
    }
}

#[test]
fn directions_turned_off_pass_grpc_errors_unchanged() {
    let trailers_only: &[(&str, &[u8])] = &[
        (":status", b"200"),
        ("content-type", b"application/grpc"),
        ("grpc-status", b"7"),
    ];
    for client in [GRPC, BROWSER] {
        let mut exchange = Exchange::new(translator(), route(Directions::NONE));
        exchange.step(&request_headers(client));
        let answer = exchange
            .step(&response_headers(trailers_only, true))
            .expect("answered");
        assert_eq!(
            answer.response,
            Some(Out::ResponseHeaders(HeadersResponse::default()))
        );
    }
}

#[test]
fn unreadable_grpc_statuses_pass_unchanged() {
    for status in [&b"99"[..], b"-1", b"seven", b"", b"\xff"] {
        let mut exchange = Exchange::new(translator(), route(Directions::ALL));
        exchange.step(&request_headers(GRPC));
        let answer = exchange
            .step(&response_headers(
                &[
                    ("content-type", b"application/grpc"),
                    ("grpc-status", status),
                ],
                true,
            ))
            .expect("answered");
        assert_eq!(headers_mutation(&answer), None, "{status:?}");
    }
}

#[test]
fn headers_that_would_outgrow_envoys_limit_pass_as_they_are() {
    let big = vec![b'm'; 31 * 1024];
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    let answer = exchange
        .step(&response_headers(
            &[
                ("content-type", b"application/grpc"),
                ("grpc-status", b"13"),
                ("grpc-message", &big),
            ],
            true,
        ))
        .expect("answered");
    assert_eq!(
        answer.response,
        Some(Out::ResponseHeaders(HeadersResponse::default()))
    );
}

#[test]
fn garbage_details_and_huge_headers_still_get_an_answer() {
    let huge = vec![b'a'; 256 * 1024];
    let long = vec![b'a'; 8 * 1024];
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(&[
        ("content-type", b"application/grpc"),
        ("accept-language", &huge),
        ("x-request-id", &huge),
    ]));
    let answer = exchange
        .step(&response_headers(
            &[
                ("content-type", b"application/grpc"),
                ("grpc-status", b"3"),
                ("grpc-message", &long),
                ("grpc-status-details-bin", b"!!not base64!!"),
            ],
            true,
        ))
        .expect("answered");
    let status = details_of(set_value(
        headers_mutation(&answer),
        "grpc-status-details-bin",
    ));
    assert_eq!(status.code, Code::InvalidArgument as i32);
}

/// Details that are base64 but not a `google.rpc.Status` are as good as
/// none: the answer is the one for the same error without them.
#[test]
fn details_that_are_no_status_answer_as_none() {
    let answer_for = |details: Option<&[u8]>| {
        let mut exchange = Exchange::new(translator(), route(Directions::ALL));
        exchange.step(&request_headers(GRPC));
        let mut pairs: Vec<(&str, &[u8])> = vec![
            ("content-type", b"application/grpc"),
            ("grpc-status", b"5"),
            ("grpc-message", b"no such thing"),
        ];
        if let Some(details) = details {
            pairs.push(("grpc-status-details-bin", details));
        }
        let answer = exchange
            .step(&response_headers(&pairs, true))
            .expect("answered");
        details_of(set_value(
            headers_mutation(&answer),
            "grpc-status-details-bin",
        ))
    };
    let none = answer_for(None);
    assert_eq!(none.code, Code::NotFound as i32);
    assert_eq!(none.message, "no such thing");
    // 0xff 0xff: a field number of 0 with a truncated varint.
    let not_a_status = headers::encode_bin(&[0xff, 0xff]);
    assert_eq!(answer_for(Some(not_a_status.as_bytes())), none);
    assert_eq!(answer_for(Some(b"")), none);
}

#[test]
fn without_request_headers_a_grpc_error_is_only_enriched() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let answer = exchange
        .step(&response_headers(
            &[
                ("content-type", b"application/grpc"),
                ("grpc-status", b"16"),
            ],
            true,
        ))
        .expect("answered");
    let status = details_of(set_value(
        headers_mutation(&answer),
        "grpc-status-details-bin",
    ));
    assert_eq!(status.code, Code::Unauthenticated as i32);
}

#[test]
fn observability_mode_gets_no_answers() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let mut observed = request_headers(GRPC);
    observed.observability_mode = true;
    assert_eq!(exchange.step(&observed), None);
    assert_eq!(exchange.step(&ProcessingRequest::default()), None);
}

#[test]
fn a_body_larger_than_the_cap_passes() {
    let settings = Settings {
        max_body: 16,
        ..Settings::default()
    };
    let mut exchange = Exchange::new(translator_with(settings), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    exchange.step(&response_headers(&[(":status", b"403")], false));
    let body = gateway_body::render("gw-3", 403, "APIGW_NONCE_CONFLICT", "x");
    let answer = exchange
        .step(&response_body(body.as_bytes(), true))
        .expect("answered");
    assert_eq!(
        answer.response,
        Some(Out::ResponseBody(BodyResponse::default()))
    );
}

#[test]
fn an_error_naming_the_success_row_never_reaches_an_http_client_as_a_success() {
    let info = ErrorInfo {
        reason: "APIGATEWAY_SUCCESS".to_owned(),
        ..Default::default()
    };
    let status = StatusProto {
        code: Code::NotFound as i32,
        message: String::new(),
        details: vec![prost_types::Any {
            type_url: ERROR_INFO.to_owned(),
            value: info.encode_to_vec(),
        }],
    };
    let bin = headers::encode_bin(&status.encode_to_vec());
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(BROWSER));
    let answer = exchange
        .step(&response_headers(
            &[
                ("content-type", b"application/grpc"),
                ("grpc-status", b"5"),
                ("grpc-status-details-bin", bin.as_bytes()),
            ],
            true,
        ))
        .expect("answered");
    assert_eq!(
        answer.response,
        Some(Out::ResponseHeaders(HeadersResponse::default())),
        "passed on as it is"
    );
}

#[test]
fn trailers_are_asked_for_only_where_details_could_go() {
    let grpc_headers: Pairs<'_> = &[(":status", b"200"), ("content-type", b"application/grpc")];
    let off = Directions::parse("grpc-to-http,http-to-grpc").expect("parses");
    for (client, directions) in [(BROWSER, Directions::ALL), (GRPC, off)] {
        let mut exchange = Exchange::new(translator(), route(directions));
        exchange.step(&request_headers(client));
        let answer = exchange
            .step(&response_headers(grpc_headers, false))
            .expect("answered");
        assert_eq!(answer.mode_override, None, "{client:?} {directions}");
    }
}

#[test]
fn bare_codes_get_the_engines_details_from_the_cache_as_when_computed() {
    let translator = translator();
    for locale in [Locale::ZhCn, Locale::EnUs] {
        for code in 1..=16 {
            let expected = expected_grpc(Code::try_from(code).expect("a code"), locale);
            let ours = expected.status.expect("a status");
            for (message, header) in [
                (ours.message.clone(), &b""[..]),
                ("x y".to_owned(), b"x%20y"),
            ] {
                let want = StatusProto {
                    code,
                    message,
                    details: ours.details.clone(),
                }
                .encode_to_vec();
                // The first call fills the cache, the second reads it.
                for _ in 0..2 {
                    let mut exchange = Exchange::new(translator.clone(), route(Directions::ALL));
                    exchange.step(&request_headers(&[
                        ("content-type", b"application/grpc"),
                        ("accept-language", locale.tag().as_bytes()),
                    ]));
                    let code_text = code.to_string();
                    let mut pairs: Vec<(&str, &[u8])> = vec![
                        ("content-type", b"application/grpc"),
                        ("grpc-status", code_text.as_bytes()),
                    ];
                    if !header.is_empty() {
                        pairs.push(("grpc-message", header));
                    }
                    let answer = exchange
                        .step(&response_headers(&pairs, true))
                        .expect("answered");
                    let raw = set_value(headers_mutation(&answer), "grpc-status-details-bin")
                        .expect("details");
                    let got = headers::decode_bin(&raw).expect("base64");
                    assert_eq!(got, want, "code {code} {locale:?}");
                }
            }
        }
    }
}

/// `message` with the request's headers `pairs` in its attributes, as
/// Envoy sends them for `response_attributes` when the request headers were
/// not sent (the filter behind a matcher).
fn with_request_attributes(mut message: ProcessingRequest, pairs: Pairs<'_>) -> ProcessingRequest {
    use envoy_types::pb::envoy::service::ext_proc::v3 as envoy;
    use envoy_types::pb::google::protobuf::{value::Kind, Struct, Value};
    let fields = pairs
        .iter()
        .map(|(name, value)| {
            let kind = Kind::StringValue(String::from_utf8_lossy(value).into_owned());
            let value = Value { kind: Some(kind) };
            (format!("request.headers['{name}']"), value)
        })
        .collect();
    let sent = envoy::ProcessingRequest {
        attributes: [("envoy.filters.http.ext_proc".to_owned(), Struct { fields })].into(),
        ..Default::default()
    };
    message.attributes = ProcessingRequest::decode(sent.encode_to_vec().as_slice())
        .expect("decodes")
        .attributes;
    message
}

#[test]
fn attributes_stand_for_request_headers_not_sent() {
    let trailers_only: Pairs<'_> = &[
        (":status", b"200"),
        ("content-type", b"application/grpc"),
        ("grpc-status", b"5"),
    ];
    // A gRPC client: details in its accept-language.
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let first = with_request_attributes(response_headers(trailers_only, true), GRPC);
    let answer = exchange.step(&first).expect("answered");
    let status = details_of(set_value(
        headers_mutation(&answer),
        "grpc-status-details-bin",
    ));
    let localized: LocalizedMessage = detail(&status, LOCALIZED).expect("LocalizedMessage");
    assert_eq!(localized.locale, "en-US");

    // A client that is not gRPC (no content-type): the gateway's error.
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let first = with_request_attributes(response_headers(trailers_only, true), BROWSER);
    let answer = exchange.step(&first).expect("answered");
    let Some(Out::ImmediateResponse(reply)) = &answer.response else {
        panic!("an immediate response: {answer:?}");
    };
    let body: serde_json::Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(body["requestId"], "req-8");

    // An error in real trailers, the first message of the stream.
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let first = with_request_attributes(response_trailers(&[("grpc-status", b"14")]), GRPC);
    let answer = exchange.step(&first).expect("answered");
    let Some(Out::ResponseTrailers(trailers)) = &answer.response else {
        panic!("a trailers answer: {answer:?}");
    };
    let status = details_of(set_value(
        trailers.header_mutation.as_ref(),
        "grpc-status-details-bin",
    ));
    assert_eq!(status.code, Code::Unavailable as i32);
    let localized: LocalizedMessage = detail(&status, LOCALIZED).expect("LocalizedMessage");
    assert_eq!(localized.locale, "en-US");

    // A gateway error to a gRPC client: its body is asked for.
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let first = with_request_attributes(
        response_headers(
            &[(":status", b"403"), ("content-type", b"application/json")],
            false,
        ),
        GRPC,
    );
    let answer = exchange.step(&first).expect("answered");
    assert_eq!(
        answer.mode_override.map(|m| m.response_body_mode),
        Some(BodySendMode::BufferedPartial as i32)
    );
}

#[test]
fn the_route_names_the_client_when_nothing_else_does() {
    let trailers_only: Pairs<'_> = &[
        (":status", b"200"),
        ("content-type", b"application/grpc"),
        ("grpc-status", b"5"),
    ];
    let said = |grpc| Route {
        grpc_client: Some(grpc),
        ..route(Directions::ALL)
    };
    let answer_to = |route: Route, message: ProcessingRequest| {
        Exchange::new(translator(), route)
            .step(&message)
            .expect("answered")
    };
    let locale_of = |answer: &ProcessingResponse| {
        let status = details_of(set_value(
            headers_mutation(answer),
            "grpc-status-details-bin",
        ));
        let localized: LocalizedMessage = detail(&status, LOCALIZED).expect("LocalizedMessage");
        localized.locale
    };
    let immediate =
        |answer: &ProcessingResponse| matches!(answer.response, Some(Out::ImmediateResponse(_)));

    // A gRPC client, no attributes: details in the route's locale.
    let answer = answer_to(said(true), response_headers(trailers_only, true));
    assert_eq!(locale_of(&answer), "zh-CN");

    // A gRPC client meeting a gateway error: its body is asked for, which
    // a client of unknown kind does not get.
    let json: Pairs<'_> = &[(":status", b"403"), ("content-type", b"application/json")];
    for (route, asked) in [(said(true), true), (route(Directions::ALL), false)] {
        let answer = answer_to(route, response_headers(json, false));
        assert_eq!(
            answer.mode_override.map(|m| m.response_body_mode)
                == Some(BodySendMode::BufferedPartial as i32),
            asked,
            "{route:?}"
        );
    }

    // An HTTP client: the gateway's error.
    let answer = answer_to(said(false), response_headers(trailers_only, true));
    assert!(immediate(&answer), "{answer:?}");

    // The request's own content-type, as an attribute, wins over the route.
    let answer = answer_to(
        said(true),
        with_request_attributes(
            response_headers(trailers_only, true),
            &[("content-type", b"application/json")],
        ),
    );
    assert!(immediate(&answer), "{answer:?}");

    // Attributes without it leave the route's word, and give the locale.
    let answer = answer_to(
        said(true),
        with_request_attributes(
            response_headers(trailers_only, true),
            &[("accept-language", b"en-US")],
        ),
    );
    assert_eq!(locale_of(&answer), "en-US");
}

#[test]
fn the_stream_is_finished_after_the_last_message_envoy_can_send() {
    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    assert!(!exchange.finished(), "the response is still to come");
    let body_first = &[
        (":status", &b"200"[..]),
        ("content-type", b"application/grpc"),
    ];
    exchange.step(&response_headers(body_first, false));
    assert!(!exchange.finished(), "a body and trailers may follow");
    exchange.step(&response_trailers(&[("grpc-status", b"0")]));
    assert!(exchange.finished(), "trailers end the response");

    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    let trailers_only = &[
        (":status", &b"200"[..]),
        ("content-type", b"application/grpc"),
        ("grpc-status", b"5"),
    ];
    exchange.step(&response_headers(trailers_only, true));
    assert!(exchange.finished(), "headers that end the response");

    let mut exchange = Exchange::new(translator(), route(Directions::ALL));
    exchange.step(&request_headers(GRPC));
    let json = &[
        (":status", &b"403"[..]),
        ("content-type", b"application/json"),
    ];
    exchange.step(&response_headers(json, false));
    assert!(!exchange.finished(), "the body was asked for");
    let body = gateway_body::render("gw-1", 403, "APIGW_NONCE_CONFLICT", "x");
    exchange.step(&response_body(body.as_bytes(), true));
    assert!(exchange.finished(), "an immediate response ends it");
}

#[test]
fn the_counters_are_indexed_in_declaration_order() {
    assert!(Action::ALL
        .iter()
        .enumerate()
        .all(|(i, &a)| a as usize == i));
    assert!(Heard::ALL.iter().enumerate().all(|(i, &h)| h as usize == i));
}

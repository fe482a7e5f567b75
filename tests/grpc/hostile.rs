//! Hostile input over the socket: whatever a client sends, the server
//! answers with a well-formed resolution or fails precisely, with
//! INVALID_ARGUMENT naming the field or NOT_FOUND naming the code. Any other
//! status (INTERNAL, UNKNOWN, UNAVAILABLE...) means a panic, a dropped
//! connection or a bug. Also invariants that must hold for every catalog
//! entry, whatever the spelling of its code.

use crate::support::{Client, TestServer};
use errmap::pb::errmap::v1::{
    batch_query::Query, batch_result::Result as Outcome, BatchQuery, BatchResolveRequest,
    CatalogEntry, GetErrorRequest, ListErrorsRequest, MatchKind, Resolution,
    ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::{BadRequest, ErrorInfo, Status};
use proptest::prelude::*;
use proptest::sample::select;
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};
use tonic::metadata::MetadataValue;
use tonic_types::StatusExt;

/// The catalog as the server lists it, and the runtime every property
/// drives its calls on.
struct Shared {
    runtime: tokio::runtime::Runtime,
    entries: Vec<CatalogEntry>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let entries = runtime.block_on(async {
            let server = TestServer::start().await;
            let page = server
                .client()
                .list_errors(ListErrorsRequest {
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("lists the catalog")
                .into_inner();
            assert!(page.next_page_token.is_empty(), "the catalog fits one page");
            assert_eq!(page.total_size as usize, page.entries.len());
            server.stop().await;
            page.entries
        });
        Shared { runtime, entries }
    })
}

/// A client of the named property's own server, started on first use and
/// shared by all its cases (one server per case would dominate the run
/// time). A call that breaks its connection then fails only the property
/// that made it, not the others running alongside.
fn client(property: &'static str) -> Client {
    static SERVERS: Mutex<BTreeMap<&'static str, TestServer>> = Mutex::new(BTreeMap::new());
    let mut servers = SERVERS.lock().unwrap_or_else(PoisonError::into_inner);
    servers
        .entry(property)
        .or_insert_with(|| block_on(TestServer::start()))
        .client()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    shared().runtime.block_on(future)
}

// ---------------------------------------------------------------------------
// What a precise failure and a well-formed answer look like.

/// A field path as errmap writes it: `code`, `params[zone]`,
/// `queries[3].grpc_status.status_details_bin`.
fn is_field_path(field: &str) -> bool {
    !field.is_empty()
        && field.split('.').all(|segment| {
            let (name, index) = match segment.find('[') {
                Some(i) => (&segment[..i], Some(&segment[i..])),
                None => (segment, None),
            };
            let name_ok =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            let index_ok = index.is_none_or(|index| {
                index.len() > 2
                    && index.ends_with(']')
                    && index[1..index.len() - 1]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            name_ok && index_ok
        })
}

/// A failure is INVALID_ARGUMENT whose message starts with the one bad
/// field's path, within `within` (a batch item's `queries[i]`), or
/// NOT_FOUND about a code.
fn check_failure(
    code: tonic::Code,
    message: &str,
    fields: &[String],
    within: &str,
) -> Result<(), TestCaseError> {
    match code {
        tonic::Code::InvalidArgument => {
            prop_assert_eq!(fields.len(), 1, "one bad field per error: {}", message);
            let field = &fields[0];
            prop_assert!(is_field_path(field), "not a field path: {:?}", field);
            let prefix = format!("{field}: ");
            prop_assert!(
                message.starts_with(&prefix),
                "message {:?} does not start with {:?}",
                message,
                prefix
            );
            prop_assert!(
                within.is_empty() || field == within || field.starts_with(&format!("{within}.")),
                "field {:?} is not within {:?}",
                field,
                within
            );
        }
        tonic::Code::NotFound => {
            prop_assert!(
                message.starts_with("no catalog entry has code "),
                "NOT_FOUND message: {:?}",
                message
            );
        }
        other => {
            prop_assert!(false, "status {:?} ({:?})", other, message);
        }
    }
    Ok(())
}

fn check_status(status: &tonic::Status) -> Result<(), TestCaseError> {
    let fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    check_failure(status.code(), status.message(), &fields, "")
}

/// A batch item's error, as the `google.rpc.Status` message it travels as.
fn check_status_proto(status: &Status, within: &str) -> Result<(), TestCaseError> {
    let fields: Vec<String> = status
        .details
        .iter()
        .filter(|d| d.type_url.ends_with("/google.rpc.BadRequest"))
        .filter_map(|d| BadRequest::decode(d.value.as_slice()).ok())
        .flat_map(|b| b.field_violations.into_iter().map(|v| v.field))
        .collect();
    check_failure(
        tonic::Code::from_i32(status.code),
        &status.message,
        &fields,
        within,
    )
}

fn is_catalog_entry(entry: &CatalogEntry) -> bool {
    shared().entries.iter().any(|e| e == entry)
}

fn check_resolution(r: &Resolution) -> Result<(), TestCaseError> {
    prop_assert_ne!(r.match_kind(), MatchKind::Unspecified);
    prop_assert!((0..=16).contains(&r.grpc_code), "grpc_code {}", r.grpc_code);
    prop_assert!(
        (100..=599).contains(&r.http_status),
        "http_status {}",
        r.http_status
    );
    prop_assert!(
        r.locale == "zh-CN" || r.locale == "en-US",
        "locale {:?}",
        r.locale
    );
    if let Some(entry) = &r.entry {
        prop_assert!(is_catalog_entry(entry), "not a catalog entry: {:?}", entry);
    }
    let status = r.status.as_ref().expect("a resolution carries a status");
    prop_assert_eq!(status.code, r.grpc_code);
    let decoded = Status::decode(r.status_details_bin.as_slice()).ok();
    prop_assert_eq!(decoded.as_ref(), Some(status), "status_details_bin");
    let body = errmap::gateway_body::parse(r.gateway_error_body.as_bytes());
    prop_assert!(
        body.is_ok(),
        "gateway_error_body {:?}",
        r.gateway_error_body
    );
    let body = body.unwrap_or_default();
    prop_assert_eq!(body.http_status, Some(i64::from(r.http_status)));
    if let Some(entry) = &r.entry {
        prop_assert_eq!(body.code.as_deref(), Some(entry.code.as_str()));
    }
    Ok(())
}

fn check_outcome<T>(
    outcome: Result<tonic::Response<T>, tonic::Status>,
    resolution: impl FnOnce(T) -> Option<Resolution>,
) -> Result<(), TestCaseError> {
    match outcome {
        Ok(response) => {
            let r = resolution(response.into_inner());
            prop_assert!(r.is_some(), "an answer without a resolution");
            check_resolution(&r.unwrap_or_default())
        }
        Err(status) => check_status(&status),
    }
}

// ---------------------------------------------------------------------------
// Strategies.

/// Every code and alias the catalog knows.
fn known_names() -> Vec<String> {
    shared()
        .entries
        .iter()
        .flat_map(|e| std::iter::once(e.code.clone()).chain(e.aliases.iter().cloned()))
        .collect()
}

/// Flips the case of the ASCII letters whose bit is set in `mask`.
fn mangle_case(code: &str, mask: u64) -> String {
    code.chars()
        .enumerate()
        .map(|(i, c)| {
            if (mask >> (i % 64)) & 1 == 1 {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// White space that lookups ignore around a code (Unicode's, as
/// `str::trim` reads it, U+0085 included although it is also a control).
fn white_space() -> impl Strategy<Value = String> {
    prop::collection::vec(
        select(vec![
            " ", "\t", "\n", "\r", "\u{b}", "\u{c}", "\u{85}", "\u{a0}", "\u{2003}", "\u{3000}",
        ]),
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

/// A known code or alias in random ASCII case, wrapped in white space.
fn mangled_known_code() -> impl Strategy<Value = String> {
    (
        select(known_names()),
        any::<u64>(),
        white_space(),
        white_space(),
    )
        .prop_map(|(code, mask, lead, trail)| format!("{lead}{}{trail}", mangle_case(&code, mask)))
}

/// Strings no client should send: any Unicode, control characters, format
/// characters, and now and then a very long one.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{200b}-\\u{200f}\\u{2028}\\u{feff} a-zA-Z_.-]{0,24}",
        1 => Just(String::new()),
        1 => (any::<char>(), 100usize..20_000).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
        1 => ("\\PC{1,4}", 100usize..5_000).prop_map(|(s, n)| s.repeat(n)),
    ]
}

/// Short hostile strings, for places that repeat (params, batch items).
fn small_hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        1 => "[\\x00-\\x1f\\x7f\\u{85}\\u{feff} a-z_]{0,12}",
        1 => Just(String::new()),
        1 => (any::<char>(), 200usize..400).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

/// A code field: mostly something a lookup could match, sometimes junk.
fn code_field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => mangled_known_code(),
        2 => hostile_string(),
        1 => "[A-Z_]{1,30}",
        1 => Just(String::new()),
    ]
}

fn small_code_field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => mangled_known_code(),
        2 => small_hostile_string(),
        1 => Just(String::new()),
    ]
}

/// Numbers for enum and range fields: in range, near it, and the extremes.
fn number() -> impl Strategy<Value = i32> {
    prop_oneof![
        2 => any::<i32>(),
        2 => -5..20i32,
        3 => 95..605i32,
        1 => select(vec![i32::MIN, i32::MIN + 1, -1, 0, i32::MAX - 1, i32::MAX]),
    ]
}

fn http_status_field() -> impl Strategy<Value = Option<i32>> {
    prop::option::weighted(0.7, number())
}

fn enum_field() -> impl Strategy<Value = i32> {
    prop_oneof![3 => 0..4i32, 1 => number()]
}

fn locale_field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "", "zh-CN", "en-US", "zh", "en", "EN_gb", "zh-Hant-TW", " en ", "fr", "*", "-", "zh-",
        ])
        .prop_map(str::to_owned),
        1 => hostile_string(),
    ]
}

fn accept_language() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(
        0.3,
        prop_oneof![
            select(vec![
                "en",
                "zh-CN,en;q=0.5",
                "fr, *;q=0.1",
                "en;q=0",
                "*",
                ";;,,q="
            ])
            .prop_map(str::to_owned),
            "[ -~]{0,40}",
        ],
    )
}

/// Params: placeholder names the catalog uses, other names, bad names, and
/// values of any length.
fn params_field(max: usize) -> impl Strategy<Value = HashMap<String, String>> {
    let key = prop_oneof![
        2 => select(vec!["argument", "resource", "permission", "method", "param", "format"])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_]{1,70}",
        1 => small_hostile_string(),
    ];
    let value = prop_oneof![
        3 => "\\PC{0,20}",
        1 => small_hostile_string(),
    ];
    prop::collection::hash_map(key, value, 0..max)
}

fn request_id_field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9-]{0,40}",
        1 => hostile_string(),
    ]
}

/// A body: nothing, a gateway error body (sometimes with odd types), JSON
/// fragments, random bytes, or more than the 64 KiB allowed.
fn body_field() -> impl Strategy<Value = Vec<u8>> {
    let json_value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        number().prop_map(|n| format!("\"{n}\"")),
        small_code_field().prop_map(|s| serde_json::Value::String(s).to_string()),
        select(vec![
            "null",
            "true",
            "[]",
            "{}",
            "4.03e2",
            "1e400",
            "-0",
            "\"\"",
            "{\"a\":[]}",
        ])
        .prop_map(str::to_owned),
    ];
    let gateway_body = (
        json_value.clone(),
        json_value.clone(),
        json_value,
        any::<bool>(),
    )
        .prop_map(|(request_id, code, status, wrap)| {
            let error = format!("{{\"code\":{code},\"status\":{status},\"message\":\"m\"}}");
            let mut body = format!("{{\"requestId\":{request_id},\"error\":{error}}}").into_bytes();
            if !wrap {
                // Cut anywhere, even inside a UTF-8 sequence.
                body.truncate(body.len() / 2);
            }
            body
        });
    prop_oneof![
        3 => Just(Vec::new()),
        3 => gateway_body,
        2 => prop::collection::vec(any::<u8>(), 1..256),
        1 => (any::<u8>(), 65_530usize..65_545).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn small_body_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        1 => small_code_field()
            .prop_map(|code| {
                let status = serde_json::Value::String(code);
                format!("{{\"error\":{{\"code\":404,\"status\":{status}}}}}").into_bytes()
            }),
        1 => prop::collection::vec(any::<u8>(), 1..64),
    ]
}

/// An `ErrorInfo` whose reason and metadata may be anything.
fn error_info() -> impl Strategy<Value = ErrorInfo> {
    let metadata_key = prop_oneof![
        2 => select(vec!["httpStatus", "table", "argument", "resource", "format"])
            .prop_map(str::to_owned),
        1 => small_hostile_string(),
    ];
    let metadata_value = prop_oneof![
        2 => number().prop_map(|n| n.to_string()),
        2 => small_hostile_string(),
        1 => (any::<char>(), 250usize..300).prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ];
    (
        small_code_field(),
        small_hostile_string(),
        prop::collection::btree_map(metadata_key, metadata_value, 0..6),
    )
        .prop_map(|(reason, domain, metadata)| ErrorInfo {
            reason,
            domain,
            metadata,
        })
}

/// A `google.rpc.Status` with details that may or may not decode.
fn status_message() -> impl Strategy<Value = Status> {
    let type_url = prop_oneof![
        3 => Just("type.googleapis.com/google.rpc.ErrorInfo".to_owned()),
        1 => Just("google.rpc.ErrorInfo".to_owned()),
        1 => small_hostile_string(),
    ];
    let value = prop_oneof![
        3 => error_info().prop_map(|info| info.encode_to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    let detail =
        (type_url, value).prop_map(|(type_url, value)| prost_types::Any { type_url, value });
    (
        number(),
        small_hostile_string(),
        prop::collection::vec(detail, 0..4),
    )
        .prop_map(|(code, message, details)| Status {
            code,
            message,
            details,
        })
}

/// status_details_bin: nothing, an encoded status, random or truncated
/// bytes, or more than the 64 KiB allowed.
fn details_bin_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        3 => status_message().prop_map(|s| s.encode_to_vec()),
        1 => (status_message(), any::<prop::sample::Index>()).prop_map(|(s, cut)| {
            let bytes = s.encode_to_vec();
            bytes[..cut.index(bytes.len() + 1)].to_vec()
        }),
        2 => prop::collection::vec(any::<u8>(), 1..128),
        1 => (any::<u8>(), 65_530usize..65_545).prop_map(|(b, n)| vec![b; n]),
    ]
}

prop_compose! {
    fn gateway_request()(
        code in code_field(),
        http_status in http_status_field(),
        params in params_field(20),
        locale in locale_field(),
        request_id in request_id_field(),
        body in body_field(),
        profile in enum_field(),
    ) -> ResolveGatewayErrorRequest {
        ResolveGatewayErrorRequest { code, http_status, params, locale, request_id, body, profile }
    }
}

prop_compose! {
    fn grpc_request()(
        code in prop_oneof![3 => 0..17i32, 1 => number()],
        message in prop_oneof![3 => "\\PC{0,40}", 1 => hostile_string()],
        reason in prop_oneof![1 => code_field(), 1 => Just(String::new())],
        params in params_field(20),
        locale in locale_field(),
        request_id in request_id_field(),
        status_details_bin in details_bin_field(),
        status in prop::option::weighted(0.2, status_message()),
    ) -> ResolveGrpcStatusRequest {
        ResolveGrpcStatusRequest {
            code, message, reason, params, locale, request_id, status_details_bin, status,
        }
    }
}

prop_compose! {
    fn small_gateway_request()(
        code in small_code_field(),
        http_status in http_status_field(),
        params in params_field(4),
        locale in prop_oneof![3 => Just(String::new()), 1 => small_hostile_string()],
        request_id in prop_oneof![3 => Just(String::new()), 1 => small_hostile_string()],
        body in small_body_field(),
        profile in enum_field(),
    ) -> ResolveGatewayErrorRequest {
        ResolveGatewayErrorRequest { code, http_status, params, locale, request_id, body, profile }
    }
}

prop_compose! {
    fn small_grpc_request()(
        code in prop_oneof![3 => 0..17i32, 1 => number()],
        reason in prop_oneof![1 => small_code_field(), 1 => Just(String::new())],
        params in params_field(4),
        locale in prop_oneof![3 => Just(String::new()), 1 => small_hostile_string()],
        status_details_bin in prop_oneof![
            3 => Just(Vec::new()),
            1 => status_message().prop_map(|s| s.encode_to_vec()),
            1 => prop::collection::vec(any::<u8>(), 1..32),
        ],
        status in prop::option::weighted(0.1, status_message()),
    ) -> ResolveGrpcStatusRequest {
        ResolveGrpcStatusRequest {
            code, reason, params, locale, status_details_bin, status, ..Default::default()
        }
    }
}

fn batch_query() -> impl Strategy<Value = BatchQuery> {
    prop_oneof![
        4 => small_gateway_request().prop_map(|q| BatchQuery { query: Some(Query::GatewayError(q)) }),
        4 => small_grpc_request().prop_map(|q| BatchQuery { query: Some(Query::GrpcStatus(q)) }),
        1 => Just(BatchQuery { query: None }),
    ]
}

/// A page token: none, one errmap could have issued (for any offset and
/// any filters), or anything at all.
fn page_token_field() -> impl Strategy<Value = String> {
    let offset = prop_oneof![
        (0u64..200).prop_map(|n| n.to_string()),
        select(vec![
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "",
            "1e3"
        ])
        .prop_map(str::to_owned),
    ];
    let filters = prop_oneof![
        Just("0:-1:-1".to_owned()),
        (0..4i32, number(), number()).prop_map(|(t, s, c)| format!("{t}:{s}:{c}")),
        small_hostile_string(),
    ];
    let issued = (offset, filters).prop_map(|(offset, filters)| {
        format!("v1:{offset}:{filters}")
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
    prop_oneof![
        2 => Just(String::new()),
        3 => issued,
        1 => "[0-9a-fA-F]{0,41}",
        1 => hostile_string(),
    ]
}

fn with_accept_language<T>(message: T, accept: Option<String>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(value) = accept.and_then(|v| MetadataValue::try_from(v.as_str()).ok()) {
        request.metadata_mut().insert("accept-language", value);
    }
    request
}

// ---------------------------------------------------------------------------
// Catalog-wide facts the entry properties check against.

/// The HTTP status google/rpc/code.proto gives each code, read from the
/// comments above its values ("... (HTTP 503).").
fn code_proto_http_statuses() -> BTreeMap<i32, i32> {
    let text = include_str!("../../proto/google/rpc/code.proto");
    let mut out = BTreeMap::new();
    let mut http = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("//") {
            if let Some(start) = rest.find("(HTTP ") {
                let digits = &rest[start + 6..start + 9];
                http = Some(digits.parse::<i32>().expect("three digits after (HTTP "));
            }
        } else if let (Some(status), Some((_, value))) = (http, line.split_once(" = ")) {
            let value = value.trim_end_matches(';').parse::<i32>().expect("a value");
            out.insert(value, status);
            http = None;
        }
    }
    assert_eq!(out.len(), 17, "every google.rpc.Code has an HTTP status");
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        // A failure is reported with its minimal input; the files proptest
        // would otherwise write next to the sources are not kept here.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// ResolveGatewayError answers anything with a resolution or a precise
    /// failure.
    #[test]
    fn hostile_gateway_requests_fail_precisely(
        request in gateway_request(),
        accept in accept_language(),
    ) {
        let mut client = client("gateway");
        let outcome = block_on(client.resolve_gateway_error(with_accept_language(request, accept)));
        check_outcome(outcome, |r| r.resolution)?;
    }

    /// ResolveGrpcStatus answers anything with a resolution or a precise
    /// failure, whatever its status details hold.
    #[test]
    fn hostile_grpc_requests_fail_precisely(
        request in grpc_request(),
        accept in accept_language(),
    ) {
        let mut client = client("grpc");
        let outcome = block_on(client.resolve_grpc_status(with_accept_language(request, accept)));
        check_outcome(outcome, |r| r.resolution)?;
    }

    /// A batch of any mix answers every query in order: one result each,
    /// each a resolution or an error naming a field of its own query.
    #[test]
    fn hostile_batches_answer_every_query(
        queries in prop::collection::vec(batch_query(), 0..50),
        accept in accept_language(),
    ) {
        let mut client = client("batch");
        let request = BatchResolveRequest::new(queries.clone());
        let response = block_on(client.batch_resolve(with_accept_language(request, accept)));
        let results = match response {
            Ok(response) => response.into_inner().results,
            Err(status) => return Err(TestCaseError::fail(format!("batch failed: {status:?}"))),
        };
        prop_assert_eq!(results.len(), queries.len());
        for (i, result) in results.iter().enumerate() {
            match &result.result {
                Some(Outcome::Resolution(r)) => check_resolution(r)?,
                Some(Outcome::Error(status)) => {
                    check_status_proto(status, &format!("queries[{i}]"))?
                }
                None => prop_assert!(false, "result {} is empty", i),
            }
        }
    }

    /// GetError finds a catalog entry or fails precisely.
    #[test]
    fn hostile_get_error_requests_fail_precisely(
        code in code_field(),
        http_status in http_status_field(),
    ) {
        let mut client = client("get_error");
        let request = GetErrorRequest { code: code.clone(), http_status };
        match block_on(client.get_error(request)) {
            Ok(response) => {
                let response = response.into_inner();
                let entry = response.entry.unwrap_or_default();
                prop_assert!(is_catalog_entry(&entry), "{:?}", entry);
                let asked = errmap::catalog::normalize_code(&code);
                let names_it = errmap::catalog::normalize_code(&entry.code) == asked
                    || entry.aliases.iter().any(|a| errmap::catalog::normalize_code(a) == asked);
                prop_assert!(names_it, "{:?} gave {}", code, entry.code);
                if let Some(status) = http_status {
                    prop_assert_eq!(entry.http_status, status);
                }
                for other in &response.other_rows {
                    prop_assert_eq!(&other.code, &entry.code);
                }
            }
            Err(status) => check_status(&status)?,
        }
    }

    /// ListErrors pages through any filters and tokens or fails precisely;
    /// a page's own next token always works.
    #[test]
    fn hostile_list_requests_fail_precisely(
        page_size in prop_oneof![2 => -5..120i32, 1 => number()],
        page_token in page_token_field(),
        table in enum_field(),
        http_status in http_status_field(),
        grpc_code in prop::option::weighted(0.4, prop_oneof![3 => 0..17i32, 1 => number()]),
    ) {
        let mut client = client("list");
        let mut request = ListErrorsRequest { page_size, page_token, table, http_status, grpc_code };
        let page = match block_on(client.list_errors(request.clone())) {
            Ok(page) => page.into_inner(),
            Err(status) => return check_status(&status),
        };
        let limit = match page_size {
            0 => 50,
            n => n.min(1000) as usize,
        };
        prop_assert!(page.entries.len() <= limit);
        prop_assert!(page.total_size as usize <= shared().entries.len());
        for entry in &page.entries {
            prop_assert!(is_catalog_entry(entry));
            prop_assert!(table == 0 || entry.table == table);
            prop_assert!(http_status.is_none_or(|s| entry.http_status == s));
            prop_assert!(grpc_code.is_none_or(|c| entry.grpc_code == c));
        }
        if !page.next_page_token.is_empty() {
            request.page_token = page.next_page_token;
            let next = block_on(client.list_errors(request));
            prop_assert!(next.is_ok(), "the next page token fails: {:?}", next.err());
        }
    }
}

proptest! {
    // Each case resolves the whole catalog in one batch.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every entry resolves to itself by its code in any ASCII case and with
    /// white space around it; GetError and the reason of a gRPC query read
    /// the code the same way. One batch per case covers the whole catalog.
    #[test]
    fn every_code_resolves_whatever_its_case_and_white_space(
        mask in any::<u64>(),
        lead in white_space(),
        trail in white_space(),
        pick in any::<prop::sample::Index>(),
    ) {
        let entries = &shared().entries;
        let spell = |code: &str| format!("{lead}{}{trail}", mangle_case(code, mask));
        // Each code, then each alias, with the canonical code it must give.
        let asked: Vec<(String, &str, MatchKind)> = entries
            .iter()
            .map(|e| (spell(&e.code), e.code.as_str(), MatchKind::Code))
            .chain(entries.iter().flat_map(|e| {
                e.aliases
                    .iter()
                    .map(|a| (spell(a), e.code.as_str(), MatchKind::Alias))
            }))
            .collect();
        let queries = asked
            .iter()
            .map(|(code, _, _)| BatchQuery {
                query: Some(Query::GatewayError(ResolveGatewayErrorRequest {
                    code: code.clone(),
                    ..Default::default()
                })),
            })
            .collect();
        let mut client = client("spelling");
        let results = block_on(client.batch_resolve(BatchResolveRequest::new(queries)))
            .expect("the batch resolves")
            .into_inner()
            .results;
        prop_assert_eq!(results.len(), asked.len());
        for ((code, canonical, kind), result) in asked.iter().zip(&results) {
            let r = match &result.result {
                Some(Outcome::Resolution(r)) => r,
                other => return Err(TestCaseError::fail(format!("{code:?}: {other:?}"))),
            };
            let found = r.entry.as_ref().map(|e| e.code.as_str());
            prop_assert_eq!(found, Some(*canonical), "{:?}", code);
            prop_assert_eq!(r.match_kind(), *kind, "{:?}", code);
        }

        let entry = pick.get(entries);
        let got = block_on(client.get_error(GetErrorRequest {
            code: spell(&entry.code),
            http_status: Some(entry.http_status),
        }))
        .ok()
        .and_then(|r| r.into_inner().entry);
        prop_assert_eq!(got.as_ref(), Some(entry), "{:?}", spell(&entry.code));

        let by_reason = block_on(client.resolve_grpc_status(ResolveGrpcStatusRequest {
            code: entry.grpc_code,
            reason: spell(&entry.code),
            ..Default::default()
        }))
        .map(|r| r.into_inner().resolution.and_then(|r| r.entry).map(|e| e.code));
        prop_assert_eq!(by_reason.ok().flatten(), Some(entry.code.clone()));
    }
}

/// Every entry, asked for by its own code and status, is what answers, as
/// an exact code match; and its gRPC code, translated back, gives the HTTP
/// status code.proto assigns that code.
#[test]
fn every_entry_answers_its_own_key_and_its_grpc_code_maps_back() {
    let http_for = code_proto_http_statuses();
    let entries = &shared().entries;
    let mut client = client("own_key");
    block_on(async {
        for entry in entries {
            let r = client
                .resolve_gateway_error(ResolveGatewayErrorRequest {
                    code: entry.code.clone(),
                    http_status: Some(entry.http_status),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|s| panic!("{} {}: {s:?}", entry.code, entry.http_status))
                .into_inner()
                .resolution
                .expect("a resolution");
            assert_eq!(r.match_kind(), MatchKind::Code, "{}", entry.code);
            assert_eq!(r.entry.as_ref(), Some(entry));
            assert_eq!(r.grpc_code, entry.grpc_code, "{}", entry.code);
            assert_eq!(r.http_status, entry.http_status, "{}", entry.code);

            let back = client
                .resolve_grpc_status(ResolveGrpcStatusRequest {
                    code: entry.grpc_code,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|s| panic!("{}: {s:?}", entry.grpc_code))
                .into_inner()
                .resolution
                .expect("a resolution");
            assert_eq!(
                back.http_status, http_for[&entry.grpc_code],
                "gRPC code {} of {}",
                entry.grpc_code, entry.code
            );
        }
    });
}

/// Errors that quote the request (a locale, a param name) stay within what
/// a client accepts as headers: the quote travels in grpc-message and, in
/// the BadRequest, in grpc-status-details-bin. Too large a header block is
/// a connection error for the client (INTERNAL "h2 protocol error") that
/// also fails the other calls in flight on the same connection.
#[test]
fn long_quoted_values_still_fail_precisely() {
    let long = "a".repeat(10_000);
    let mut client = client("long_quotes");
    let locale = block_on(client.resolve_gateway_error(ResolveGatewayErrorRequest {
        code: "NOT_FOUND".into(),
        locale: long.clone(),
        ..Default::default()
    }))
    .expect_err("an unknown locale");
    assert_eq!(locale.code(), tonic::Code::InvalidArgument, "{locale:?}");
    assert!(locale.message().starts_with("locale: "), "{locale:?}");

    let params = HashMap::from([(long, "v".to_owned())]);
    let param = block_on(client.resolve_grpc_status(ResolveGrpcStatusRequest {
        code: 14,
        params,
        ..Default::default()
    }))
    .expect_err("a bad param name");
    assert_eq!(param.code(), tonic::Code::InvalidArgument, "{param:?}");
    assert!(param.message().starts_with("params: "), "{param:?}");
}

//! One `Process` stream: what errmap answers each message Envoy sends for
//! one HTTP request. Plain synchronous code over Envoy's messages, so the
//! decisions are tested (and fuzzed) without a network.
//!
//! | Envoy sends | errmap answers |
//! |---|---|
//! | request headers | continue; notes whether the client speaks gRPC, its `accept-language` and `x-request-id` |
//! | any message with the request's headers in its attributes (the request headers not sent) | notes the same from them (`attributes.rs`), then answers the message as below |
//! | any message on a stream whose route names the client (`x-errmap-client`), neither of the above telling its `content-type` | takes the client to be what the route says |
//! | response headers, gRPC, `grpc-status` ≠ 0 in them (trailers-only), gRPC client | continue, with `grpc-status-details-bin` set |
//! | the same, any other client | an immediate response: the gateway's HTTP status and JSON error body |
//! | response headers, gRPC, no `grpc-status` (it will come in the trailers), gRPC client | continue, asking for the trailers (`mode_override`: `response_trailer_mode: SEND`), where Envoy is set not to send them |
//! | response headers, not gRPC, status ≥ 400, JSON (or no content type), at most the body cap announced, gRPC client | continue, asking for the body (`mode_override`: `BUFFERED_PARTIAL`) |
//! | that body, whole, within the cap, in the gateway's error shape | an immediate response: the mapped `grpc-status`, `grpc-message` and `grpc-status-details-bin` |
//! | response trailers, `grpc-status` ≠ 0, gRPC client | continue, with `grpc-status-details-bin` set |
//! | anything else | continue, unchanged |
//!
//! Whatever fails to read or to resolve (a status out of range, details
//! that do not decode, a body that is not the gateway's, headers that
//! errmap's details would push past `MAX_HEADER_BYTES`) falls back to
//! passing the message on unchanged: errmap never refuses Envoy's traffic.

use super::attributes;
use super::bare::{Bare, BareCache};
use super::headers::{self, Headers};
use super::inbound::{processing_request, HttpBody, HttpHeaders, HttpTrailers, ProcessingRequest};
use super::settings::{Route, Settings};
use crate::catalog::SharedCatalog;
use crate::engine::validate::{self, Prefix};
use crate::engine::{self, Context, View};
use crate::gateway_body;
use crate::metrics::Metrics;
use crate::pb::errmap::v1::{
    MatchKind, Resolution, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use crate::pb::google::rpc::Status as StatusProto;
use crate::service::Options;
use envoy_types::pb::envoy::config::core::v3::HeaderValueOption;
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::{
    processing_mode::{BodySendMode, HeaderSendMode},
    ProcessingMode,
};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::ext_proc::v3::{
    processing_response, BodyResponse, CommonResponse, GrpcStatus, HeaderMutation, HeadersResponse,
    ImmediateResponse, ProcessingResponse, TrailersResponse,
};
use prometheus_client::metrics::counter::Counter;
use prost::Message;
use std::sync::Arc;
use tonic::metadata::MetadataMap;

/// The longest `grpc-message` passed to the engine (its limit).
const MAX_MESSAGE: usize = 4096;
/// The longest `accept-language` or `x-request-id` kept.
const MAX_KEPT: usize = 256;
/// The most header bytes errmap leaves after adding its details: well
/// under Envoy's default limit of 60 KiB (`max_response_headers_kb`), past
/// which Envoy would reset the stream rather than send them. Headers that
/// would grow past it pass as they are.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What errmap did with one message, as counted in
/// `errmap_ext_proc_messages_total{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Passed on unchanged.
    Passed,
    /// A gRPC error's details added.
    Enriched,
    /// A gRPC error sent as the gateway's HTTP error.
    ToHttp,
    /// A gateway error sent as a gRPC status.
    ToGrpc,
    /// An error response's body asked for.
    BodyAsked,
    /// A message errmap could read but not translate (an unreadable body, a
    /// status out of range), passed on unchanged.
    Untranslated,
}

impl Action {
    /// Every action, in declaration order (`Action as usize` indexes it),
    /// so that each series is exported from the start, at 0: a counter
    /// whose series is born between two scrapes shows no rate for its
    /// first increments.
    pub const ALL: [Action; 6] = [
        Action::Passed,
        Action::Enriched,
        Action::ToHttp,
        Action::ToGrpc,
        Action::BodyAsked,
        Action::Untranslated,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Passed => "passed",
            Action::Enriched => "enriched",
            Action::ToHttp => "grpc_to_http",
            Action::ToGrpc => "http_to_grpc",
            Action::BodyAsked => "body_asked",
            Action::Untranslated => "untranslated",
        }
    }
}

/// Where a stream learned what its client speaks, as counted in
/// `errmap_ext_proc_streams_total{client}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The request's headers, sent by Envoy.
    Headers,
    /// Attributes carrying the request's headers.
    Attributes,
    /// The route's `x-errmap-client`.
    Route,
    /// Nowhere: a gRPC error is enriched, nothing else translated.
    Unknown,
}

impl Heard {
    /// Every source, in declaration order (`Heard as usize` indexes it).
    pub const ALL: [Heard; 4] = [
        Heard::Headers,
        Heard::Attributes,
        Heard::Route,
        Heard::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Heard::Headers => "headers",
            Heard::Attributes => "attributes",
            Heard::Route => "route",
            Heard::Unknown => "unknown",
        }
    }
}

/// Who sent the request, as far as its headers tell.
#[derive(Debug, Clone, Default)]
struct Client {
    /// `None` until the request headers are seen (Envoy may be set to skip
    /// them), unless the route says (`x-errmap-client`).
    grpc: Option<bool>,
    accept_language: Option<String>,
    request_id: Option<String>,
}

impl Client {
    /// The client as the request's headers (or the attributes that carry
    /// them) describe it: a request with no `content-type` is not gRPC.
    fn of(request: &attributes::Request<'_>) -> Self {
        let kept = |v: Option<&str>| v.map(|v| headers::cut(v, MAX_KEPT).to_owned());
        Self {
            grpc: Some(
                request
                    .content_type
                    .is_some_and(headers::is_grpc_content_type),
            ),
            accept_language: kept(request.accept_language),
            request_id: kept(request.request_id),
        }
    }
}

/// A gRPC error as its headers or trailers carry it.
#[derive(Debug, Clone)]
struct GrpcError {
    code: i32,
    message: String,
    /// The upstream's `grpc-status-details-bin`, decoded once here for the
    /// engine and the merge both; `None` when absent, empty or not a
    /// status (errmap's details then stand alone, as for a bare code).
    details: Option<StatusProto>,
    /// The bytes of the headers (or trailers) it came in, but for its
    /// details, which errmap's replace.
    other_header_bytes: usize,
}

/// The state of one stream.
#[derive(Debug)]
pub struct Exchange {
    translator: Arc<Translator>,
    route: Route,
    client: Client,
    /// Whether the request's headers, or attributes carrying them, were
    /// seen: they describe the client better than the route can.
    heard: bool,
    /// Whether the stream was counted, at its first message.
    counted: bool,
    /// The `:status` of a gateway-shaped error whose body was asked for.
    asked_body: Option<i32>,
    /// Set once Envoy can send nothing more on this stream.
    finished: bool,
}

impl Exchange {
    pub fn new(translator: Arc<Translator>, route: Route) -> Self {
        Self {
            translator,
            client: Client {
                grpc: route.grpc_client,
                ..Client::default()
            },
            route,
            heard: false,
            counted: false,
            asked_body: None,
            finished: false,
        }
    }

    /// Whether the last message answered was the last Envoy can send: the
    /// response's end (headers or a body that end it, or its trailers), or
    /// one errmap answered with an immediate response. errmap then ends its
    /// side of the stream with its answer, rather than after Envoy's, so
    /// that Envoy reads the answer and the stream's end together. Envoy
    /// takes a stream the processor ends with OK as done with.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The answer to one message; `None` when Envoy expects none
    /// (observability mode) or sent nothing errmap knows.
    pub fn step(&mut self, message: &ProcessingRequest) -> Option<ProcessingResponse> {
        use processing_request::Request as In;
        if !self.heard {
            if let Some(request) = attributes::request(&message.attributes) {
                self.client = Client::of(&request);
                // Attributes without the content-type say nothing of the
                // client's kind: the route's word, if any, stands.
                if request.content_type.is_none() && self.route.grpc_client.is_some() {
                    self.client.grpc = self.route.grpc_client;
                }
                self.heard = true;
            }
        }
        if !self.counted {
            self.counted = true;
            let heard = if matches!(message.request, Some(In::RequestHeaders(_))) {
                Heard::Headers
            } else if self.heard {
                Heard::Attributes
            } else if self.route.grpc_client.is_some() {
                Heard::Route
            } else {
                Heard::Unknown
            };
            self.translator.count_stream(heard);
        }
        if message.observability_mode {
            return None;
        }
        let (answer, action) = match message.request.as_ref()? {
            In::RequestHeaders(h) => {
                self.request_headers(h);
                (headers_continue(true, None), Action::Passed)
            }
            In::ResponseHeaders(h) => self.response_headers(h),
            In::ResponseBody(b) => self.response_body(b),
            In::ResponseTrailers(t) => self.response_trailers(t),
            In::RequestBody(_) => (
                body_continue(processing_response::Response::RequestBody),
                Action::Passed,
            ),
            In::RequestTrailers(_) => (
                trailers_continue(processing_response::Response::RequestTrailers),
                Action::Passed,
            ),
        };
        self.translator.count(action);
        self.finished = matches!(
            answer.response,
            Some(processing_response::Response::ImmediateResponse(_))
        ) || match message.request.as_ref() {
            Some(In::ResponseHeaders(h)) => h.end_of_stream,
            Some(In::ResponseBody(b)) => b.end_of_stream,
            Some(In::ResponseTrailers(_)) => true,
            _ => false,
        };
        Some(answer)
    }

    fn request_headers(&mut self, message: &HttpHeaders) {
        let headers = Headers::of(message.headers.as_ref());
        self.client = Client::of(&attributes::Request {
            content_type: headers.text("content-type"),
            accept_language: headers.text("accept-language"),
            request_id: headers.text("x-request-id"),
        });
        self.heard = true;
    }

    fn response_headers(&mut self, message: &HttpHeaders) -> (ProcessingResponse, Action) {
        let headers = Headers::of(message.headers.as_ref());
        let directions = self.route.directions;
        let pass = (headers_continue(false, None), Action::Passed);
        if headers.is_grpc() {
            // Trailers-only: the status is in the headers.
            let Some(error) = grpc_error(&headers) else {
                // The status comes in the trailers: have them sent, where
                // Envoy is set not to (Envoy Gateway sends none).
                let wants_trailers = headers.grpc_status().is_none()
                    && !message.end_of_stream
                    && self.client.grpc != Some(false)
                    && directions.grpc_details;
                if wants_trailers {
                    let mode = ProcessingMode {
                        response_trailer_mode: HeaderSendMode::Send as i32,
                        ..Default::default()
                    };
                    return (
                        headers_continue(false, None).with_mode(mode),
                        Action::Passed,
                    );
                }
                return pass;
            };
            return match self.client.grpc {
                Some(true) | None if directions.grpc_details => match self.enriched(error) {
                    Some(set) => (headers_continue(false, Some(set)), Action::Enriched),
                    None => (pass.0, Action::Untranslated),
                },
                Some(false) if directions.grpc_to_http => match self.to_http(error) {
                    Some(reply) => (immediate(reply), Action::ToHttp),
                    None => (pass.0, Action::Untranslated),
                },
                _ => pass,
            };
        }
        let wanted = self.client.grpc == Some(true)
            && directions.http_to_grpc
            && !message.end_of_stream
            && headers.status().is_some_and(|s| (400..=599).contains(&s))
            && headers
                .text("content-type")
                .is_none_or(|t| t.to_ascii_lowercase().contains("json"))
            && headers
                .text("content-length")
                .and_then(|n| n.parse::<usize>().ok())
                .is_none_or(|n| n <= self.translator.settings.max_body);
        if !wanted {
            return pass;
        }
        self.asked_body = headers.status();
        let mode = ProcessingMode {
            response_body_mode: BodySendMode::BufferedPartial as i32,
            ..Default::default()
        };
        (
            headers_continue(false, None).with_mode(mode),
            Action::BodyAsked,
        )
    }

    fn response_body(&mut self, message: &HttpBody) -> (ProcessingResponse, Action) {
        let pass = body_continue(processing_response::Response::ResponseBody);
        let Some(status) = self.asked_body.take() else {
            return (pass, Action::Passed);
        };
        // Part of a body (it outgrew Envoy's buffer) or too much of one is
        // passed on: it cannot be read whole.
        if !message.end_of_stream || message.body.len() > self.translator.settings.max_body {
            return (pass, Action::Untranslated);
        }
        match self.to_grpc(status, &message.body) {
            Some(reply) => (immediate(reply), Action::ToGrpc),
            None => (pass, Action::Untranslated),
        }
    }

    fn response_trailers(&mut self, message: &HttpTrailers) -> (ProcessingResponse, Action) {
        let pass = trailers_continue(processing_response::Response::ResponseTrailers);
        let trailers = Headers::of(message.trailers.as_ref());
        let gets_details = self.client.grpc != Some(false) && self.route.directions.grpc_details;
        let Some(error) = grpc_error(&trailers).filter(|_| gets_details) else {
            return (pass, Action::Passed);
        };
        match self.enriched(error) {
            Some(set) => {
                let answer = ProcessingResponse {
                    response: Some(processing_response::Response::ResponseTrailers(
                        TrailersResponse {
                            header_mutation: Some(HeaderMutation {
                                set_headers: set,
                                remove_headers: Vec::new(),
                            }),
                        },
                    )),
                    ..Default::default()
                };
                (answer, Action::Enriched)
            }
            None => (pass, Action::Untranslated),
        }
    }

    /// The engine's context for this stream, answering in `view`.
    fn context<'a>(&'a self, catalog: &'a crate::catalog::Catalog, view: View) -> Context<'a> {
        let translator = &*self.translator;
        let observer = translator
            .metrics
            .as_deref()
            .map(|m| m as &dyn crate::engine::Observer);
        Context {
            default_locale: self.route.default_locale,
            view,
            ..translator
                .options
                .context(catalog, self.client.accept_language.as_deref(), observer)
        }
    }

    /// Resolves a gRPC error in `view`; a request id or details the engine
    /// refuses are left out rather than the translation given up.
    ///
    /// The error's message and details are lent to the request and given
    /// back, not copied.
    fn resolve_grpc(&self, error: &mut GrpcError, view: View) -> Option<Resolution> {
        let catalog = self.translator.catalog.current();
        let ctx = self.context(&catalog, view);
        let mut request = ResolveGrpcStatusRequest {
            code: error.code,
            message: std::mem::take(&mut error.message),
            request_id: self.client.request_id.clone().unwrap_or_default(),
            status: error.details.take(),
            ..Default::default()
        };
        let resolved = engine::resolve_grpc(&ctx, &request).or_else(|_| {
            let bare = ResolveGrpcStatusRequest {
                code: error.code,
                ..Default::default()
            };
            engine::resolve_grpc(&ctx, &bare)
        });
        error.message = std::mem::take(&mut request.message);
        error.details = request.status.take();
        resolved.ok()
    }

    /// The headers that carry errmap's details for a gRPC error: the
    /// upstream's own details are kept, and errmap's are added after them
    /// (one of each kind). The status inside keeps the upstream's code and
    /// message, which clients check against `grpc-status`.
    fn enriched(&self, error: GrpcError) -> Option<Vec<HeaderValueOption>> {
        let other_header_bytes = error.other_header_bytes;
        let value = if error.details.is_none() {
            self.bare_value(&error)?
        } else {
            headers::encode_bin(&self.merged_status(error)?)
        };
        if other_header_bytes + value.len() > MAX_HEADER_BYTES {
            return None;
        }
        Some(vec![headers::set("grpc-status-details-bin", value)])
    }

    /// The header value for an error with no details of its own: its code
    /// and message, then errmap's details for the code (computed once per
    /// catalog, code and locale, [`BareCache`]). With no message either,
    /// the whole value was computed then too.
    fn bare_value(&self, error: &GrpcError) -> Option<String> {
        let catalog = self.translator.catalog.current();
        let ctx = self.context(&catalog, View::Status);
        let locale =
            validate::locale(Prefix::ROOT, "", ctx.accept_language, ctx.default_locale).ok()?;
        let cache = &self.translator.bare;
        let bare = match cache.get(catalog.version(), error.code, locale) {
            Some(bare) => {
                if let Some(observer) = ctx.observer {
                    observer.resolved(bare.match_kind);
                }
                bare
            }
            None => {
                let request = ResolveGrpcStatusRequest {
                    code: error.code,
                    locale: locale.tag().to_owned(),
                    ..Default::default()
                };
                let resolution = engine::resolve_grpc(&ctx, &request).ok()?;
                let match_kind = MatchKind::try_from(resolution.match_kind).unwrap_or_default();
                let ours = resolution.status?;
                let details = StatusProto {
                    details: ours.details,
                    ..Default::default()
                }
                .encode_to_vec();
                let value = headers::encode_bin(&status_with(error.code, &ours.message, &details));
                let bare = Arc::new(Bare {
                    details,
                    value,
                    match_kind,
                });
                cache.put(catalog.version(), error.code, locale, bare.clone());
                bare
            }
        };
        if error.message.is_empty() {
            return Some(bare.value.clone());
        }
        Some(headers::encode_bin(&status_with(
            error.code,
            &error.message,
            &bare.details,
        )))
    }

    /// The encoded status for an error with details of its own: those
    /// first, then errmap's of the kinds it lacks.
    fn merged_status(&self, mut error: GrpcError) -> Option<Vec<u8>> {
        let resolution = self.resolve_grpc(&mut error, View::Status)?;
        let ours = resolution.status?;
        let mut status = error.details.unwrap_or_default();
        status.code = error.code;
        status.message = if error.message.is_empty() {
            ours.message
        } else {
            error.message
        };
        for detail in ours.details {
            if status.details.iter().all(|d| d.type_url != detail.type_url) {
                status.details.push(detail);
            }
        }
        Some(status.encode_to_vec())
    }

    /// A gRPC error as the gateway's HTTP error.
    fn to_http(&self, mut error: GrpcError) -> Option<ImmediateResponse> {
        let resolution = self.resolve_grpc(&mut error, View::Full)?;
        // An upstream ErrorInfo may name the gateway's success row (200):
        // an error must not reach an HTTP client as a success.
        if resolution.gateway_error_body.is_empty()
            || !(400..=599).contains(&resolution.http_status)
        {
            return None;
        }
        Some(ImmediateResponse {
            status: Some(HttpStatus {
                code: resolution.http_status,
            }),
            headers: Some(HeaderMutation {
                set_headers: vec![headers::set("content-type", "application/json")],
                remove_headers: Vec::new(),
            }),
            body: resolution.gateway_error_body.into_bytes(),
            grpc_status: None,
            details: "errmap_grpc_to_http".to_owned(),
        })
    }

    /// A gateway error body as a gRPC status. Only a body in the gateway's
    /// error shape is one; an unknown code in it falls back on the HTTP
    /// status, as `ResolveGatewayError` does.
    ///
    /// The body is read here, once, and the engine is asked by its code and
    /// Envoy's status: what else the engine would take from the body (its
    /// request id, its `error.code`, a note on why it did not help) is not
    /// in the status view, and Envoy's status comes first anyway.
    fn to_grpc(&self, status: i32, body: &[u8]) -> Option<ImmediateResponse> {
        if body.len() > gateway_body::MAX_BODY {
            return None;
        }
        let parsed = gateway_body::parse(body).ok()?;
        // A code the engine would refuse leaves the status to decide, as
        // the engine does with such a code in a body.
        let code = parsed
            .code
            .as_deref()
            .and_then(validate::body_code)
            .unwrap_or_default();
        let catalog = self.translator.catalog.current();
        let ctx = self.context(&catalog, View::Status);
        let request = ResolveGatewayErrorRequest {
            code: code.to_owned(),
            http_status: Some(status),
            profile: self.route.profile as i32,
            ..Default::default()
        };
        let resolution = engine::resolve_gateway(&ctx, &request).ok()?;
        let rich = resolution.status?;
        let code = u32::try_from(rich.code).ok().filter(|&c| c != 0)?;
        let details = headers::encode_bin(&rich.encode_to_vec());
        Some(ImmediateResponse {
            // Envoy sends a gRPC reply as HTTP 200, its body as grpc-message.
            status: Some(HttpStatus { code: 200 }),
            headers: Some(HeaderMutation {
                set_headers: vec![headers::set("grpc-status-details-bin", details)],
                remove_headers: Vec::new(),
            }),
            body: rich.message.into_bytes(),
            grpc_status: Some(GrpcStatus { status: code }),
            details: "errmap_http_to_grpc".to_owned(),
        })
    }
}

/// A `google.rpc.Status` of `code` and `message` whose encoded `details`
/// fields follow: the fields of a message may come in any order, and
/// repeated ones add up, so the bytes join without decoding.
fn status_with(code: i32, message: &str, details: &[u8]) -> Vec<u8> {
    let mut status = StatusProto {
        code,
        message: message.to_owned(),
        details: Vec::new(),
    }
    .encode_to_vec();
    status.extend_from_slice(details);
    status
}

/// The error a gRPC status in `headers` names, if it is one (not OK).
fn grpc_error(headers: &Headers<'_>) -> Option<GrpcError> {
    let code = headers.grpc_status().filter(|&c| c != 0)?;
    let mut message = headers
        .get("grpc-message")
        .map(headers::decode_message)
        .unwrap_or_default();
    message.truncate(headers::cut(&message, MAX_MESSAGE).len());
    let raw_details = headers.get("grpc-status-details-bin").unwrap_or_default();
    let details = headers::decode_bin(raw_details)
        .filter(|bytes| !bytes.is_empty())
        .and_then(|bytes| StatusProto::decode(bytes.as_slice()).ok());
    Some(GrpcError {
        code,
        message,
        details,
        other_header_bytes: headers.size().saturating_sub(raw_details.len()),
    })
}

/// Continue with the request (`request`) or response headers, setting
/// `set` if given.
fn headers_continue(request: bool, set: Option<Vec<HeaderValueOption>>) -> ProcessingResponse {
    let answer = HeadersResponse {
        response: set.map(|set_headers| CommonResponse {
            header_mutation: Some(HeaderMutation {
                set_headers,
                remove_headers: Vec::new(),
            }),
            ..Default::default()
        }),
    };
    let response = if request {
        processing_response::Response::RequestHeaders(answer)
    } else {
        processing_response::Response::ResponseHeaders(answer)
    };
    ProcessingResponse {
        response: Some(response),
        ..Default::default()
    }
}

fn body_continue(kind: fn(BodyResponse) -> processing_response::Response) -> ProcessingResponse {
    ProcessingResponse {
        response: Some(kind(BodyResponse::default())),
        ..Default::default()
    }
}

fn trailers_continue(
    kind: fn(TrailersResponse) -> processing_response::Response,
) -> ProcessingResponse {
    ProcessingResponse {
        response: Some(kind(TrailersResponse::default())),
        ..Default::default()
    }
}

fn immediate(reply: ImmediateResponse) -> ProcessingResponse {
    ProcessingResponse {
        response: Some(processing_response::Response::ImmediateResponse(reply)),
        ..Default::default()
    }
}

trait WithMode {
    fn with_mode(self, mode: ProcessingMode) -> Self;
}

impl WithMode for ProcessingResponse {
    fn with_mode(mut self, mode: ProcessingMode) -> Self {
        self.mode_override = Some(mode);
        self
    }
}

/// What every stream shares: the catalog, the service's settings (locale,
/// error domain) and where translations are counted.
#[derive(Debug, Clone)]
pub struct Translator {
    catalog: SharedCatalog,
    options: Options,
    settings: Settings,
    metrics: Option<Arc<Metrics>>,
    counters: Option<Counters>,
    bare: Arc<BareCache>,
}

/// The counter of each action and of each source of the client's kind,
/// looked up once (indexed by `Action as usize` and `Heard as usize`).
#[derive(Debug, Clone)]
struct Counters {
    actions: [Counter; Action::ALL.len()],
    streams: [Counter; Heard::ALL.len()],
}

impl Translator {
    pub fn new(catalog: SharedCatalog, options: Options, settings: Settings) -> Self {
        Self {
            catalog,
            options,
            settings,
            metrics: None,
            counters: None,
            bare: Arc::default(),
        }
    }

    /// Counts translations, resolutions and unknown codes in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.counters = Some(Counters {
            actions: Action::ALL.map(|a| metrics.ext_proc_counter(a.as_str())),
            streams: Heard::ALL.map(|h| metrics.ext_proc_stream_counter(h.as_str())),
        });
        self.metrics = Some(metrics);
        self
    }

    /// The settings of a stream whose metadata is `metadata`.
    pub fn route(&self, metadata: &MetadataMap) -> Route {
        Route::from_metadata(&self.settings, self.options.default_locale, metadata)
    }

    /// A new stream's state.
    pub fn exchange(self: &Arc<Self>, route: Route) -> Exchange {
        Exchange::new(self.clone(), route)
    }

    fn count(&self, action: Action) {
        if let Some(counters) = &self.counters {
            counters.actions[action as usize].inc();
        }
    }

    fn count_stream(&self, heard: Heard) {
        if let Some(counters) = &self.counters {
            counters.streams[heard as usize].inc();
        }
    }
}

#[cfg(test)]
mod tests;

//! Any bytes as what Envoy's ext_proc filter sends on one stream: a run of
//! length-delimited `ProcessingRequest`s, each handed in turn to one
//! `Exchange`, with the stream's settings read from the first bytes. Every
//! message is answered by the kind Envoy expects (or by an immediate
//! response where errmap may send one), never by a panic, and what errmap
//! writes is what Envoy accepts.

#![no_main]

use envoy_types::pb::envoy::service::ext_proc::v3::processing_response::Response as Out;
use errmap::catalog::{Catalog, SharedCatalog};
use errmap::server::ext_proc::inbound::{processing_request::Request as In, ProcessingRequest};
use errmap::locale::Locale;
use errmap::pb::errmap::v1::Profile;
use errmap::server::ext_proc::{Directions, Exchange, Route, Settings, Translator};
use errmap::service::Options;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use std::sync::{Arc, OnceLock};

fn translator(max_body: usize) -> Arc<Translator> {
    static CATALOG: OnceLock<SharedCatalog> = OnceLock::new();
    let catalog = CATALOG
        .get_or_init(|| SharedCatalog::new(Catalog::embedded().expect("embedded catalog")))
        .clone();
    let settings = Settings {
        directions: Directions::ALL,
        max_body,
    };
    Arc::new(Translator::new(catalog, Options::default(), settings))
}

/// The route from one byte: three direction bits, the locale, the profile,
/// and whether it names the client (the top bit; then gRPC unless the
/// small-cap bit is set).
fn route(bits: u8) -> Route {
    Route {
        directions: Directions {
            grpc_details: bits & 1 != 0,
            grpc_to_http: bits & 2 != 0,
            http_to_grpc: bits & 4 != 0,
        },
        default_locale: if bits & 8 != 0 {
            Locale::EnUs
        } else {
            Locale::ZhCn
        },
        profile: match bits >> 4 & 3 {
            1 => Profile::Google,
            2 => Profile::GrpcProxy,
            _ => Profile::Unspecified,
        },
        grpc_client: (bits & 0x80 != 0).then_some(bits & 0x40 == 0),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&bits, mut rest)) = data.split_first() else {
        return;
    };
    // A small cap now and then, so bodies over it are tried too.
    let max_body = if bits & 0x40 != 0 { 64 } else { 64 * 1024 };
    let mut exchange = Exchange::new(translator(max_body), route(bits));
    while !rest.is_empty() {
        let Ok(message) = ProcessingRequest::decode_length_delimited(&mut rest) else {
            return;
        };
        let answer = exchange.step(&message);
        let Some(request) = message
            .request
            .as_ref()
            .filter(|_| !message.observability_mode)
        else {
            assert!(
                answer.is_none(),
                "answered what needs no answer: {answer:?}"
            );
            continue;
        };
        let answer = answer.expect("every message but an observed one is answered");
        let response = answer.response.as_ref().expect("an answer says what to do");
        let fits = match (request, response) {
            (In::RequestHeaders(_), Out::RequestHeaders(_))
            | (In::RequestBody(_), Out::RequestBody(_))
            | (In::RequestTrailers(_), Out::RequestTrailers(_))
            | (In::ResponseHeaders(_), Out::ResponseHeaders(_) | Out::ImmediateResponse(_))
            | (In::ResponseBody(_), Out::ResponseBody(_) | Out::ImmediateResponse(_))
            | (In::ResponseTrailers(_), Out::ResponseTrailers(_)) => true,
            _ => false,
        };
        assert!(fits, "{request:?} answered with {response:?}");
        if let Out::ImmediateResponse(reply) = response {
            match reply.grpc_status {
                Some(grpc) => assert!((1..=16).contains(&grpc.status), "{reply:?}"),
                None => {
                    let status = reply.status.map(|s| s.code).unwrap_or_default();
                    assert!((400..=599).contains(&status), "{reply:?}");
                }
            }
        }
        // Every header errmap sets is a valid HTTP header value.
        let mutations = match response {
            Out::ResponseHeaders(h) => h.response.as_ref().and_then(|r| r.header_mutation.as_ref()),
            Out::ResponseTrailers(t) => t.header_mutation.as_ref(),
            Out::ImmediateResponse(i) => i.headers.as_ref(),
            _ => None,
        };
        for set in mutations.into_iter().flat_map(|m| &m.set_headers) {
            let header = set.header.as_ref().expect("a header to set");
            assert!(
                http::HeaderValue::from_bytes(&header.raw_value).is_ok(),
                "{header:?}"
            );
        }
    }
});

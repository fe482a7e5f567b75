//! The request's headers as Envoy's attributes carry them, for a stream
//! that starts at the response.
//!
//! Wired behind a matcher (`deploy/envoy/envoy.yaml`), the ext_proc filter
//! comes into being only when a response shows an error, so Envoy never
//! sends errmap the request headers. It sends instead, with the first
//! message, the values of the filter's `response_attributes`: each is a CEL
//! expression, and a header absent from the request is left out. errmap
//! reads the three it needs, written as the shipped configuration writes
//! them (either quote):
//!
//! | Attribute | Used for |
//! |---|---|
//! | `request.headers['content-type']` | whether the client speaks gRPC |
//! | `request.headers['accept-language']` | the locale of the details |
//! | `request.headers['x-request-id']` | the request id of the gateway body (for clients that are not gRPC) |

use super::inbound::Attributes;
use std::str::from_utf8;

/// The request headers errmap reads from attributes.
pub(super) const NAMES: [&str; 3] = ["content-type", "accept-language", "x-request-id"];

/// The request headers errmap reads, from the attributes here or, where
/// Envoy sends them, from the request headers themselves.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Request<'a> {
    pub content_type: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// The request headers in `attributes` (by filter name, then by
/// expression), or `None` when it carries none of [`NAMES`]: then nothing
/// is known of the request. A value that is not text is passed over.
pub(super) fn request(attributes: &[Attributes]) -> Option<Request<'_>> {
    let mut seen = Request::default();
    let mut any = false;
    let fields = attributes
        .iter()
        .filter_map(|a| a.values.as_ref())
        .flat_map(|s| s.fields.iter());
    for field in fields {
        let Some(name) = from_utf8(&field.name).ok().and_then(header_name) else {
            continue;
        };
        let text = field.value.as_ref().and_then(|v| v.string_value.as_ref());
        let Some(text) = text.and_then(|t| from_utf8(t).ok()) else {
            continue;
        };
        let slot = match name {
            "content-type" => &mut seen.content_type,
            "accept-language" => &mut seen.accept_language,
            "x-request-id" => &mut seen.request_id,
            _ => continue,
        };
        *slot = Some(text.trim());
        any = true;
    }
    any.then_some(seen)
}

/// `NAME` of `request.headers['NAME']` or `request.headers["NAME"]`,
/// white space around the parts allowed; names compare as lower case.
fn header_name(expression: &str) -> Option<&'static str> {
    let inner = expression
        .trim()
        .strip_prefix("request.headers")?
        .trim_start()
        .strip_prefix('[')?
        .strip_suffix(']')?
        .trim();
    let quoted = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))?;
    NAMES
        .into_iter()
        .find(|name| name.eq_ignore_ascii_case(quoted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ext_proc::inbound::ProcessingRequest;
    use envoy_types::pb::envoy::service::ext_proc::v3 as envoy;
    use envoy_types::pb::google::protobuf::{value::Kind, Struct, Value};
    use prost::Message;
    use std::collections::HashMap;

    /// The attributes as Envoy writes them (envoy-types' message), as
    /// errmap reads them.
    fn attributes(pairs: &[(&str, Kind)]) -> Vec<Attributes> {
        let fields = pairs
            .iter()
            .map(|(k, v)| {
                let value = Value {
                    kind: Some(v.clone()),
                };
                ((*k).to_owned(), value)
            })
            .collect();
        let sent = envoy::ProcessingRequest {
            attributes: HashMap::from([(
                "envoy.filters.http.ext_proc".to_owned(),
                Struct { fields },
            )]),
            ..Default::default()
        };
        ProcessingRequest::decode(sent.encode_to_vec().as_slice())
            .expect("decodes")
            .attributes
    }

    fn text(s: &str) -> Kind {
        Kind::StringValue(s.to_owned())
    }

    #[test]
    fn the_three_headers_are_read_in_either_quoting() {
        let attrs = attributes(&[
            ("request.headers['content-type']", text("application/grpc")),
            ("request.headers[\"Accept-Language\"]", text(" en-US ")),
            ("request.headers [ 'x-request-id' ]", text("r-1")),
            ("request.id", text("envoy's own")),
        ]);
        assert_eq!(
            request(&attrs),
            Some(Request {
                content_type: Some("application/grpc"),
                accept_language: Some("en-US"),
                request_id: Some("r-1"),
            })
        );
    }

    #[test]
    fn other_attributes_or_none_say_nothing_of_the_request() {
        assert_eq!(request(&[]), None);
        let attrs = attributes(&[
            ("request.id", text("x")),
            ("request.headers['cookie']", text("secret")),
            ("request.headers['content-type']", Kind::NumberValue(3.0)),
            ("request.headers", text("CelMap value")),
        ]);
        assert_eq!(request(&attrs), None);
    }

    #[test]
    fn one_header_is_enough_to_know_the_rest_were_absent() {
        let attrs = attributes(&[("request.headers['accept-language']", text("zh-CN"))]);
        assert_eq!(
            request(&attrs),
            Some(Request {
                accept_language: Some("zh-CN"),
                ..Request::default()
            })
        );
    }
}

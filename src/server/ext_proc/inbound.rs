//! Envoy's `ProcessingRequest`, as errmap reads it: the fields it uses, by
//! their numbers in `envoy/service/ext_proc/v3/external_processor.proto`
//! and `envoy/config/core/v3/base.proto` (the listener's reflection serves
//! those files, `proto/`).
//!
//! Header names and values and bodies are [`Bytes`] that share the
//! buffer the message arrived in: envoy-types' generated message copies
//! each header's name into a `String` of its own (checking its UTF-8) and
//! its value into a `Vec`, which made decoding a plain failing call's
//! response headers about a tenth of errmap's instructions per processed
//! response (BENCHMARKS.md, "Fewer instructions per processed response").
//! Fields errmap does not read (`metadata_context`, `protocol_config`,
//! ...) are skipped as unknown ones. The answers errmap writes are still
//! envoy-types' messages.

use bytes::Bytes;

/// One message of a `Process` stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProcessingRequest {
    /// The phase of the HTTP request it concerns, with what Envoy sends
    /// of it.
    #[prost(oneof = "processing_request::Request", tags = "2, 3, 4, 5, 6, 7")]
    pub request: Option<processing_request::Request>,
    /// The attributes the filter was set up to send, by filter name (a
    /// `map<string, google.protobuf.Struct>`, read as its entries).
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<Attributes>,
    /// Envoy does not wait for an answer.
    #[prost(bool, tag = "10")]
    pub observability_mode: bool,
}

pub mod processing_request {
    use super::{HttpBody, HttpHeaders, HttpTrailers};

    /// The phases, by their field numbers.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Request {
        #[prost(message, tag = "2")]
        RequestHeaders(HttpHeaders),
        #[prost(message, tag = "3")]
        ResponseHeaders(HttpHeaders),
        #[prost(message, tag = "4")]
        RequestBody(HttpBody),
        #[prost(message, tag = "5")]
        ResponseBody(HttpBody),
        #[prost(message, tag = "6")]
        RequestTrailers(HttpTrailers),
        #[prost(message, tag = "7")]
        ResponseTrailers(HttpTrailers),
    }
}

/// One entry of the attributes map: on the wire a map is a repeated
/// message of `key` (1) and `value` (2).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Attributes {
    /// The filter's name.
    #[prost(bytes = "bytes", tag = "1")]
    pub filter: Bytes,
    #[prost(message, optional, tag = "2")]
    pub values: Option<Fields>,
}

/// A `google.protobuf.Struct`: its `fields` map (1), read as its entries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Fields {
    #[prost(message, repeated, tag = "1")]
    pub fields: Vec<Field>,
}

/// One entry of a `Struct`'s fields: an attribute's expression and value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Field {
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Value>,
}

/// A `google.protobuf.Value` as errmap reads it: its `string_value` (3);
/// a value of another kind has none.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub string_value: Option<Bytes>,
}

/// A request's or a response's headers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpHeaders {
    #[prost(message, optional, tag = "1")]
    pub headers: Option<HeaderMap>,
    /// No body or trailers follow.
    #[prost(bool, tag = "3")]
    pub end_of_stream: bool,
}

/// A body, or the part of it Envoy buffered.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpBody {
    #[prost(bytes = "bytes", tag = "1")]
    pub body: Bytes,
    #[prost(bool, tag = "2")]
    pub end_of_stream: bool,
}

/// Trailers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpTrailers {
    #[prost(message, optional, tag = "1")]
    pub trailers: Option<HeaderMap>,
}

/// `envoy.config.core.v3.HeaderMap`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderMap {
    #[prost(message, repeated, tag = "1")]
    pub headers: Vec<HeaderValue>,
}

/// `envoy.config.core.v3.HeaderValue`: `key` and `value` are `string`s
/// on the wire, which are length-delimited bytes as `bytes` are; their
/// text is read where it matters (names are compared as ASCII, values
/// checked where used as text).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderValue {
    #[prost(bytes = "bytes", tag = "1")]
    pub key: Bytes,
    /// Set instead of `raw_value` by an Envoy told to.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
    #[prost(bytes = "bytes", tag = "3")]
    pub raw_value: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3 as core;
    use envoy_types::pb::envoy::service::ext_proc::v3 as envoy;
    use prost::Message;

    fn header(key: &str, raw: &[u8]) -> core::HeaderValue {
        core::HeaderValue {
            key: key.to_owned(),
            value: String::new(),
            raw_value: raw.to_vec(),
        }
    }

    /// What envoy-types writes, this type reads, field by field.
    #[test]
    fn envoys_messages_read_the_same() {
        let headers = core::HeaderMap {
            headers: vec![header(":status", b"200"), header("grpc-status", b"5")],
        };
        let full = envoy::ProcessingRequest {
            request: Some(envoy::processing_request::Request::ResponseHeaders(
                envoy::HttpHeaders {
                    headers: Some(headers),
                    end_of_stream: true,
                    ..Default::default()
                },
            )),
            observability_mode: true,
            protocol_config: Some(envoy::ProtocolConfiguration::default()),
            ..Default::default()
        };
        let read = ProcessingRequest::decode(full.encode_to_vec().as_slice()).expect("decodes");
        let Some(processing_request::Request::ResponseHeaders(h)) = read.request else {
            panic!("response headers: {:?}", read.request);
        };
        assert!(h.end_of_stream);
        assert!(read.observability_mode);
        let pairs: Vec<_> = h
            .headers
            .unwrap_or_default()
            .headers
            .into_iter()
            .map(|v| (v.key, v.raw_value))
            .collect();
        assert_eq!(
            pairs,
            [
                (Bytes::from(":status"), Bytes::from("200")),
                (Bytes::from("grpc-status"), Bytes::from("5")),
            ]
        );

        let body = envoy::ProcessingRequest {
            request: Some(envoy::processing_request::Request::ResponseBody(
                envoy::HttpBody {
                    body: b"{}".to_vec(),
                    end_of_stream: true,
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let read = ProcessingRequest::decode(body.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(
            read.request,
            Some(processing_request::Request::ResponseBody(HttpBody {
                body: Bytes::from_static(b"{}"),
                end_of_stream: true,
            }))
        );
    }
}

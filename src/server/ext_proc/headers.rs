//! Reading the header maps Envoy sends and writing the mutations errmap
//! answers with, and the two encodings gRPC uses in headers: percent
//! encoding (`grpc-message`) and base64 (`*-bin`).

use super::inbound::{HeaderMap, HeaderValue};
use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use envoy_types::pb::envoy::config::core::v3::{
    header_value_option::HeaderAppendAction, HeaderValue as Mutation, HeaderValueOption,
};

/// `*-bin` values: gRPC senders omit the padding and receivers take both.
const BIN: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The header map of one message from Envoy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Headers<'a>(&'a [HeaderValue]);

impl<'a> Headers<'a> {
    pub(super) fn of(map: Option<&'a HeaderMap>) -> Self {
        Self(map.map_or(&[], |m| m.headers.as_slice()))
    }

    /// The first value of `name` (lower case, as Envoy sends names).
    /// Envoy fills `raw_value` (or, configured so, `value`).
    pub(super) fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.0
            .iter()
            .find(|h| h.key.eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| {
                if h.raw_value.is_empty() {
                    &h.value[..]
                } else {
                    &h.raw_value[..]
                }
            })
    }

    /// Bytes of every name and value, as Envoy counts them against its
    /// header size limit.
    pub(super) fn size(&self) -> usize {
        self.0
            .iter()
            .map(|h| h.key.len() + h.value.len() + h.raw_value.len())
            .sum()
    }

    /// The value of `name` as text, surrounding white space trimmed.
    pub(super) fn text(&self, name: &str) -> Option<&'a str> {
        self.get(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// `:status`, when it is a number.
    pub(super) fn status(&self) -> Option<i32> {
        self.text(":status").and_then(|s| s.parse().ok())
    }

    /// `grpc-status`, when present and a number.
    pub(super) fn grpc_status(&self) -> Option<i32> {
        self.text("grpc-status").and_then(|s| s.parse().ok())
    }

    /// Whether `content-type` says gRPC (not gRPC-Web, whose framing
    /// carries its trailers in the body).
    pub(super) fn is_grpc(&self) -> bool {
        self.text("content-type").is_some_and(is_grpc_content_type)
    }
}

/// `application/grpc`, `application/grpc+proto`, `application/grpc;...`.
pub(super) fn is_grpc_content_type(value: &str) -> bool {
    let value = value.trim();
    let Some(rest) = value
        .get(..16)
        .filter(|head| head.eq_ignore_ascii_case("application/grpc"))
        .and_then(|_| value.get(16..))
    else {
        return false;
    };
    rest.is_empty() || rest.starts_with('+') || rest.starts_with(';')
}

/// Sets `name` to `value`, replacing what is there.
pub(super) fn set(name: &str, value: impl Into<Vec<u8>>) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(Mutation {
            key: name.to_owned(),
            value: String::new(),
            raw_value: value.into(),
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..Default::default()
    }
}

/// A `*-bin` header's bytes; `None` when it is not base64.
pub(super) fn decode_bin(value: &[u8]) -> Option<Vec<u8>> {
    let trimmed = value.trim_ascii();
    BIN.decode(trimmed).ok()
}

/// Bytes as a `*-bin` header value.
pub(super) fn encode_bin(bytes: &[u8]) -> String {
    BIN.encode(bytes)
}

/// A `grpc-message` as text: percent-decoded, invalid UTF-8 replaced. A
/// `%` not followed by two hex digits stands for itself.
pub(super) fn decode_message(value: &[u8]) -> String {
    // Most messages have no `%` (the percent-encoding crate would find
    // that byte by byte).
    if !value.contains(&b'%') {
        return String::from_utf8_lossy(value).into_owned();
    }
    percent_encoding::percent_decode(value)
        .decode_utf8_lossy()
        .into_owned()
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
pub(super) fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        for yes in [
            "application/grpc",
            "application/grpc+proto",
            "Application/GRPC; charset=utf-8",
        ] {
            assert!(is_grpc_content_type(yes), "{yes}");
        }
        for no in [
            "application/grpc-web",
            "application/grpc-web+proto",
            "application/json",
            "",
            "application/grp",
        ] {
            assert!(!is_grpc_content_type(no), "{no}");
        }
    }

    #[test]
    fn bin_values_decode_with_or_without_padding() {
        let bytes = [1u8, 2, 3, 4];
        let unpadded = encode_bin(&bytes);
        assert!(!unpadded.ends_with('='));
        assert_eq!(decode_bin(unpadded.as_bytes()), Some(bytes.to_vec()));
        assert_eq!(decode_bin(b"AQIDBA=="), Some(bytes.to_vec()));
        assert_eq!(decode_bin(b"not base64!"), None);
    }

    #[test]
    fn messages_are_percent_decoded() {
        assert_eq!(decode_message(b"a%20b%E4%BD%A0"), "a b你");
        // A stray or short escape is kept as it is.
        assert_eq!(decode_message(b"100%"), "100%");
        assert_eq!(decode_message(b"%zz%4"), "%zz%4");
        assert_eq!(decode_message(b"%FF"), "\u{FFFD}");
        // No escape at all: the text as it is, invalid UTF-8 replaced.
        assert_eq!(
            decode_message(b"no such code: \"X\""),
            "no such code: \"X\""
        );
        assert_eq!(decode_message(b"a\xffb"), "a\u{FFFD}b");
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("你好", 4), "你");
        assert_eq!(cut("abc", 10), "abc");
    }
}

//! Request checks, shared by every face. Each returns the domain query or
//! an [`EngineError`] naming the field (with its path inside a batch) and
//! the allowed range.

use super::error::EngineError;
use crate::catalog::validate::MAX_CODE_LEN;
use crate::gateway_body::{self, Parsed, MAX_BODY};
use crate::locale::Locale;
use crate::mapping::{GatewayQuery, GrpcQuery, Profile, ReasonFrom};
use crate::pb::errmap::v1::{ResolveGatewayErrorRequest, ResolveGrpcStatusRequest, Table};
use crate::pb::google::rpc::{Code, Status as StatusProto};
use crate::render::{MAX_PARAMS, MAX_PARAM_VALUE};
use prost::Message;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// The longest `message` a gRPC status query may carry.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The longest `request_id` accepted, in bytes.
pub const MAX_REQUEST_ID: usize = 128;
/// The longest param name accepted, in bytes.
pub const MAX_PARAM_NAME: usize = 64;

/// A client's value as quoted in an error: short, because errors travel in
/// response headers (grpc-message, grpc-status-details-bin), which clients
/// cap at a few KiB.
pub use crate::echo::quoted;

/// Whether a text holds control characters (C0, DEL or C1), looked for
/// byte by byte when the text is ASCII, as most is.
pub fn has_control(value: &str) -> bool {
    if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    }
}

/// Where a request's fields sit: at the top of a call, or in one query of
/// a batch (`queries[3].gateway_error`). Spelled out only when an error
/// names a field, so a batch query that is answered costs no string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefix {
    /// The query's index and the oneof field that holds it.
    query: Option<(usize, &'static str)>,
}

impl Prefix {
    /// The fields of a single call's request.
    pub const ROOT: Prefix = Prefix { query: None };

    /// The fields of query `index` of a batch, held in `field`
    /// (`gateway_error` or `grpc_status`).
    pub const fn query(index: usize, field: &'static str) -> Self {
        Prefix {
            query: Some((index, field)),
        }
    }
}

/// Joins a prefix and a field name.
pub fn path(prefix: Prefix, field: &str) -> String {
    match prefix.query {
        None => field.to_owned(),
        Some((index, within)) => format!("queries[{index}].{within}.{field}"),
    }
}

/// A code-like string: bounded, no control characters.
pub fn code_text(prefix: Prefix, field: &str, value: &str) -> Result<(), EngineError> {
    if value.len() > MAX_CODE_LEN {
        return Err(EngineError::invalid(
            path(prefix, field),
            format!("must be at most {MAX_CODE_LEN} bytes, got {}", value.len()),
        ));
    }
    // Surrounding white space (tabs and newlines too) is ignored by lookups.
    if has_control(value.trim()) {
        return Err(EngineError::invalid(
            path(prefix, field),
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An HTTP status, 100-599.
pub fn http_status(prefix: Prefix, field: &str, value: i32) -> Result<i32, EngineError> {
    if (100..=599).contains(&value) {
        Ok(value)
    } else {
        Err(EngineError::invalid(
            path(prefix, field),
            format!("must be an HTTP status between 100 and 599, got {value}"),
        ))
    }
}

/// A `google.rpc.Code` value, 0-16.
pub fn grpc_code(prefix: Prefix, field: &str, value: i32) -> Result<Code, EngineError> {
    Code::try_from(value).map_err(|_| {
        EngineError::invalid(
            path(prefix, field),
            format!(
                "must be a google.rpc.Code between 0 (OK) and 16 (UNAUTHENTICATED), got {value}"
            ),
        )
    })
}

/// A table filter: unset, or one of the three tables.
pub fn table(prefix: Prefix, field: &str, value: i32) -> Result<Table, EngineError> {
    Table::try_from(value).map_err(|_| {
        EngineError::invalid(
            path(prefix, field),
            format!(
                "must be a Table between 0 (TABLE_UNSPECIFIED) and 3 (TABLE_CONSOLE), got {value}"
            ),
        )
    })
}

/// A gateway query and what reading the body added to it.
#[derive(Debug)]
pub struct GatewayFound<'r> {
    /// What to translate.
    pub query: GatewayQuery<'r>,
    /// Why the body did not help, when it did not.
    pub note: Option<String>,
    /// The body's request id, when it had a usable one.
    pub request_id: Option<String>,
}

/// The request's code and status, completed from the gateway body where
/// the request leaves them out. An unreadable body is not an error: the
/// answer falls back to the status and the note says why.
pub fn gateway_query<'r>(
    prefix: Prefix,
    request: &'r ResolveGatewayErrorRequest,
    body: Option<&'r Result<Parsed, String>>,
    profile: Profile,
) -> Result<GatewayFound<'r>, EngineError> {
    code_text(prefix, "code", &request.code)?;
    let mut http_status = request
        .http_status
        .map(|s| http_status(prefix, "http_status", s))
        .transpose()?;
    let mut code = Some(request.code.trim()).filter(|c| !c.is_empty());
    let mut note = None;
    let mut request_id = None;
    match body {
        Some(Ok(parsed)) => {
            match parsed.code.as_deref().map(body_code) {
                Some(Some(c)) => code = code.or(Some(c)),
                Some(None) => {
                    note = Some("the body's error.status is not a usable code".to_owned())
                }
                None => {}
            }
            let body_status = parsed.http_status.and_then(|s| i32::try_from(s).ok());
            match body_status {
                Some(s) if (100..=599).contains(&s) => http_status = http_status.or(Some(s)),
                Some(s) => note = Some(format!("the body's error.code {s} is not an HTTP status")),
                None => {}
            }
            request_id = parsed
                .request_id
                .clone()
                .filter(|id| id.len() <= MAX_REQUEST_ID && !id.chars().any(char::is_control));
        }
        Some(Err(why)) => note = Some(format!("{why}; resolved without it")),
        None => {}
    }
    if code.is_none() && http_status.is_none() {
        let mut description =
            "nothing to resolve: set code, http_status (100-599), or both".to_owned();
        if let Some(note) = note {
            description.push_str(&format!(" ({note})"));
        }
        return Err(EngineError::invalid(path(prefix, "code"), description));
    }
    Ok(GatewayFound {
        query: GatewayQuery {
            code,
            http_status,
            profile,
            // The engine narrows it to the view it answers with.
            explain: true,
        },
        note,
        request_id,
    })
}

/// A gateway body's `error.status` as a code to look up: trimmed, or
/// `None` when the engine would refuse it as a request's code. One rule
/// for every face that reads a body.
pub fn body_code(status: &str) -> Option<&str> {
    let code = status.trim();
    code_text(Prefix::ROOT, "", code).is_ok().then_some(code)
}

/// A gateway error body: bounded in size, then read as far as it goes.
pub fn body(prefix: Prefix, bytes: &[u8]) -> Result<Option<Result<Parsed, String>>, EngineError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() > MAX_BODY {
        return Err(EngineError::invalid(
            path(prefix, "body"),
            format!("must be at most {MAX_BODY} bytes, got {}", bytes.len()),
        ));
    }
    Ok(Some(gateway_body::parse(bytes)))
}

/// The locale: the request's field, else `accept-language`, else the
/// server's default.
pub fn locale(
    prefix: Prefix,
    requested: &str,
    accept_language: Option<&str>,
    default: Locale,
) -> Result<Locale, EngineError> {
    if !requested.trim().is_empty() {
        return requested.parse().map_err(|_| {
            EngineError::invalid(
                path(prefix, "locale"),
                format!(
                    "must be zh-CN or en-US (or another zh-* or en-* tag), got {}",
                    quoted(requested)
                ),
            )
        });
    }
    Ok(accept_language
        .and_then(|header| Locale::from_accept_language(header, default))
        .unwrap_or(default))
}

/// Message params: a bounded number of named, bounded values.
pub fn params(
    prefix: Prefix,
    params: &HashMap<String, String>,
) -> Result<BTreeMap<String, String>, EngineError> {
    if params.len() > MAX_PARAMS {
        return Err(EngineError::invalid(
            path(prefix, "params"),
            format!(
                "must hold at most {MAX_PARAMS} entries, got {}",
                params.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (key, value) in params {
        match param_fault(key, value) {
            None => {}
            Some(ParamFault::Name) => {
                return Err(EngineError::invalid(
                    path(prefix, "params"),
                    format!(
                        "names must be 1-{MAX_PARAM_NAME} ASCII letters, digits or '_', got {}",
                        quoted(key)
                    ),
                ))
            }
            Some(ParamFault::Long) => {
                return Err(EngineError::invalid(
                    path(prefix, &format!("params[{key}]")),
                    format!(
                        "must be at most {MAX_PARAM_VALUE} bytes, got {}",
                        value.len()
                    ),
                ))
            }
            Some(ParamFault::Control) => {
                return Err(EngineError::invalid(
                    path(prefix, &format!("params[{key}]")),
                    "must not contain control characters",
                ))
            }
        }
        out.insert(key.clone(), value.clone());
    }
    Ok(out)
}

/// Why a param cannot fill a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamFault {
    /// The name is empty, too long, or not `[A-Za-z0-9_]`.
    Name,
    /// The value is longer than [`MAX_PARAM_VALUE`].
    Long,
    /// The value holds control characters, which would reach the message
    /// and the `ErrorInfo` metadata as they are.
    Control,
}

/// Why one param cannot be used, if it cannot: the rule request params
/// and `ErrorInfo` metadata alike are held to.
pub fn param_fault(key: &str, value: &str) -> Option<ParamFault> {
    let valid_key = !key.is_empty()
        && key.len() <= MAX_PARAM_NAME
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_key {
        Some(ParamFault::Name)
    } else if value.len() > MAX_PARAM_VALUE {
        Some(ParamFault::Long)
    } else if has_control(value) {
        Some(ParamFault::Control)
    } else {
        None
    }
}

/// A request id: bounded, no control characters.
pub fn request_id(prefix: Prefix, value: &str) -> Result<(), EngineError> {
    if value.len() > MAX_REQUEST_ID {
        return Err(EngineError::invalid(
            path(prefix, "request_id"),
            format!(
                "must be at most {MAX_REQUEST_ID} bytes, got {}",
                value.len()
            ),
        ));
    }
    if has_control(value) {
        return Err(EngineError::invalid(
            path(prefix, "request_id"),
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// A profile: unset (the google one) or one of the two.
pub fn profile(prefix: Prefix, value: i32) -> Result<Profile, EngineError> {
    match Profile::try_from(value) {
        Ok(Profile::Unspecified | Profile::Google) => Ok(Profile::Google),
        Ok(Profile::GrpcProxy) => Ok(Profile::GrpcProxy),
        Err(_) => Err(EngineError::invalid(
            path(prefix, "profile"),
            format!("must be a Profile between 0 (PROFILE_UNSPECIFIED) and 2 (PROFILE_GRPC_PROXY), got {value}"),
        )),
    }
}

/// The details of an incoming status, from bytes or from a message.
pub fn details<'r>(
    prefix: Prefix,
    bytes: &[u8],
    status: Option<&'r StatusProto>,
) -> Result<Option<Cow<'r, StatusProto>>, EngineError> {
    match (bytes.is_empty(), status) {
        (true, None) => Ok(None),
        // A status already decoded (a face that has read it for itself)
        // is read where it is.
        (true, Some(status)) => Ok(Some(Cow::Borrowed(status))),
        (false, Some(_)) => Err(EngineError::invalid(
            path(prefix, "status_details_bin"),
            "set at most one of status_details_bin and status",
        )),
        (false, None) if bytes.len() > MAX_BODY => Err(EngineError::invalid(
            path(prefix, "status_details_bin"),
            format!("must be at most {MAX_BODY} bytes, got {}", bytes.len()),
        )),
        (false, None) => StatusProto::decode(bytes)
            .map(|status| Some(Cow::Owned(status)))
            .map_err(|_| {
                EngineError::invalid(
                    path(prefix, "status_details_bin"),
                    "must be an encoded google.rpc.Status (the grpc-status-details-bin bytes)",
                )
            }),
    }
}

/// The gRPC code and reason of a request, checked.
pub fn grpc_query<'r>(
    prefix: Prefix,
    request: &'r ResolveGrpcStatusRequest,
) -> Result<GrpcQuery<'r>, EngineError> {
    let code = grpc_code(prefix, "code", request.code)?;
    code_text(prefix, "reason", &request.reason)?;
    if request.message.len() > MAX_MESSAGE_LEN {
        return Err(EngineError::invalid(
            path(prefix, "message"),
            format!(
                "must be at most {MAX_MESSAGE_LEN} bytes, got {}",
                request.message.len()
            ),
        ));
    }
    let reason = Some(request.reason.trim()).filter(|r| !r.is_empty());
    Ok(GrpcQuery {
        code,
        reason,
        reason_from: ReasonFrom::Request,
        http_status: None,
        explain: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_values_with_control_characters_are_refused_by_name() {
        for value in ["vpc\n1\u{0}", "a\u{85}b", "\u{7f}", "tab\t"] {
            let params = HashMap::from([("resource".to_owned(), value.to_owned())]);
            let err = super::params(Prefix::query(2, "grpc_status"), &params)
                .expect_err("a control character");
            assert_eq!(
                err.to_string(),
                "queries[2].grpc_status.params[resource]: must not contain control characters"
            );
        }
        let params = HashMap::from([("resource".to_owned(), "云盘 vpc-1".to_owned())]);
        let checked = super::params(Prefix::ROOT, &params).expect("printable text");
        assert_eq!(checked["resource"], "云盘 vpc-1");
    }

    #[test]
    fn one_rule_for_every_param() {
        assert_eq!(param_fault("resource", "vpc-1"), None);
        assert_eq!(param_fault("", "v"), Some(ParamFault::Name));
        assert_eq!(param_fault("a-b", "v"), Some(ParamFault::Name));
        assert_eq!(param_fault(&"n".repeat(65), "v"), Some(ParamFault::Name));
        let long = "v".repeat(MAX_PARAM_VALUE + 1);
        assert_eq!(param_fault("k", &long), Some(ParamFault::Long));
        assert_eq!(param_fault("k", "a\u{85}"), Some(ParamFault::Control));
    }

    #[test]
    fn long_names_are_quoted_cut() {
        let name = "-".repeat(10_000);
        let params = HashMap::from([(name, "v".to_owned())]);
        let err = super::params(Prefix::ROOT, &params).expect_err("a bad name");
        let text = err.to_string();
        assert!(text.starts_with("params: names must be"), "{text}");
        assert!(text.ends_with("… (cut at 64 of 10000 bytes)"), "{text}");
        assert!(text.len() < 256, "{text}");
    }
}

//! Turns a resolution into what a caller hands on: the message in the
//! caller's language with the blanks filled in, a `google.rpc.Status` with
//! details built the way AIP-193 asks, and the gateway's JSON error body.

use crate::gateway_body;
use crate::locale::Locale;
use crate::mapping::Resolution;
use crate::pb::errmap::v1::{CatalogEntry, Table};
use crate::pb::google::rpc::{ErrorInfo, Help, LocalizedMessage, RetryInfo, Status};
use crate::render::{render, Params};
use prost::Message;
use std::collections::BTreeMap;

/// The default `ErrorInfo.domain`: the system the reasons belong to.
pub const DEFAULT_ERROR_DOMAIN: &str = "apigateway.jdcloud.com";

/// A detail's `type_url`: the prefix of every Google API type, then the
/// message's full name, joined when errmap is built, so that no status
/// formats it (three `format!`s were a third of a computed status's
/// presentation).
macro_rules! type_url {
    ($name:literal) => {
        concat!("type.googleapis.com/", $name)
    };
}

/// What the caller chose for the answer's presentation.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    /// The language of the message and the localized details.
    pub locale: Locale,
    /// Values for the entry's placeholders.
    pub params: &'a BTreeMap<String, String>,
    /// The request id the gateway body and `RequestInfo` carry.
    pub request_id: &'a str,
    /// The `ErrorInfo.domain`.
    pub error_domain: &'a str,
}

/// A resolution, ready to hand on.
#[derive(Debug, Clone, PartialEq)]
pub struct Presented {
    /// The message, in the chosen locale, with params filled in.
    pub message: String,
    /// The rich status a gRPC server would answer with.
    pub status: Status,
    /// `status`, encoded: the `grpc-status-details-bin` bytes.
    pub status_details_bin: Vec<u8>,
    /// The gateway's JSON error body for the same answer.
    pub gateway_error_body: String,
    /// Params the entry does not use.
    pub ignored_params: Vec<String>,
}

/// The entry's message in a locale, with params filled in.
pub fn message_in(
    entry: &CatalogEntry,
    locale: Locale,
    params: &BTreeMap<String, String>,
) -> String {
    match locale {
        Locale::ZhCn => render(&entry.message, params),
        Locale::EnUs => render(&entry.message_en, params),
    }
}

/// The message of an answer with no catalog entry, in either locale.
pub fn status_only_message(http_status: i32) -> String {
    format!("HTTP status {http_status}")
}

fn solution_in(entry: &CatalogEntry, locale: Locale) -> &str {
    match locale {
        Locale::ZhCn => &entry.solution,
        Locale::EnUs => &entry.solution_en,
    }
}

/// A resolution as a caller hands it on.
pub fn present(resolution: &Resolution<'_>, how: Presentation<'_>) -> Presented {
    let params = Params::for_entry(resolution.entry, how.params);
    let (reason, message, english) = texts(resolution, how.locale, &params);
    let status = status(resolution, how, &reason, &english, &message, &params);
    Presented {
        gateway_error_body: gateway_body::render(
            how.request_id,
            resolution.http_status,
            &reason,
            &message,
        ),
        status_details_bin: status.encode_to_vec(),
        status,
        message,
        ignored_params: params.ignored,
    }
}

/// The message and the rich status [`present`] gives, without the rest.
pub fn status_only(resolution: &Resolution<'_>, how: Presentation<'_>) -> (String, Status) {
    let params = Params::for_entry(resolution.entry, how.params);
    let (reason, message, english) = texts(resolution, how.locale, &params);
    let status = status(resolution, how, &reason, &english, &message, &params);
    (message, status)
}

/// The `ErrorInfo.reason`, the message in `locale` and the English one.
fn texts(resolution: &Resolution<'_>, locale: Locale, params: &Params) -> (String, String, String) {
    match resolution.entry {
        Some(entry) => (
            entry.code.clone(),
            message_in(entry, locale, &params.used),
            entry.message_en.clone(),
        ),
        None => {
            // No entry: the gRPC code's name is the reason, as the common
            // table names its rows after gRPC codes.
            let name = resolution.grpc_code.as_str_name().to_owned();
            let text = status_only_message(resolution.http_status);
            (name, text.clone(), text)
        }
    }
}

fn status(
    resolution: &Resolution<'_>,
    how: Presentation<'_>,
    reason: &str,
    english: &str,
    localized: &str,
    params: &Params,
) -> Status {
    let mut metadata: BTreeMap<String, String> = params
        .used
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    metadata.insert("httpStatus".into(), resolution.http_status.to_string());
    if let Some(table) = resolution.entry.and_then(|e| Table::try_from(e.table).ok()) {
        metadata.insert("table".into(), table.as_str_name().into());
    }
    let mut details = vec![
        any(
            type_url!("google.rpc.ErrorInfo"),
            &ErrorInfo {
                reason: reason.to_owned(),
                domain: how.error_domain.to_owned(),
                metadata,
            },
        ),
        any(
            type_url!("google.rpc.LocalizedMessage"),
            &LocalizedMessage {
                locale: how.locale.tag().to_owned(),
                message: localized.to_owned(),
            },
        ),
    ];
    if let Some(entry) = resolution.entry {
        let solution = solution_in(entry, how.locale);
        if !solution.is_empty() {
            let link = crate::pb::google::rpc::help::Link {
                description: solution.to_owned(),
                url: String::new(),
            };
            details.push(any(
                type_url!("google.rpc.Help"),
                &Help { links: vec![link] },
            ));
        }
        if let Some(delay) = entry.retry_delay {
            let retry = RetryInfo {
                retry_delay: Some(delay),
            };
            details.push(any(type_url!("google.rpc.RetryInfo"), &retry));
        }
    }
    Status {
        code: resolution.grpc_code as i32,
        message: english.to_owned(),
        details,
    }
}

fn any(type_url: &'static str, message: &impl Message) -> prost_types::Any {
    prost_types::Any {
        type_url: type_url.to_owned(),
        value: message.encode_to_vec(),
    }
}

/// The `ErrorInfo` of a status, if it has one.
pub fn error_info(status: &Status) -> Option<ErrorInfo> {
    status
        .details
        .iter()
        .find(|d| d.type_url.rsplit('/').next() == Some("google.rpc.ErrorInfo"))
        .and_then(|d| ErrorInfo::decode(d.value.as_slice()).ok())
}

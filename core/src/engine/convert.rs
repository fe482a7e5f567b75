//! Domain answers as the API's messages.

use crate::locale::Locale;
use crate::mapping::{MatchKind, Resolution};
use crate::pb::errmap::v1 as pb;
use crate::pb::google::rpc::Code;
use crate::present::{self, Presented};
use crate::render::Params;
use std::collections::BTreeMap;

pub(crate) fn match_kind(kind: MatchKind) -> pb::MatchKind {
    match kind {
        MatchKind::Code => pb::MatchKind::Code,
        MatchKind::Alias => pb::MatchKind::Alias,
        MatchKind::CodeStatusMismatch => pb::MatchKind::CodeStatusMismatch,
        MatchKind::StatusOnly => pb::MatchKind::StatusOnly,
        MatchKind::StatusFallback => pb::MatchKind::StatusFallback,
        MatchKind::GrpcCode => pb::MatchKind::GrpcCode,
        MatchKind::GrpcReason => pb::MatchKind::GrpcReason,
        MatchKind::ErrorInfo => pb::MatchKind::ErrorInfo,
    }
}

/// Whether an answer has no error to raise: `Resolution.success`, said
/// plainly so a caller need not know that proto3 JSON hides a `grpc_code`
/// of OK, nor that the success entry still carries a status.
pub(crate) fn is_success(code: Code) -> bool {
    code == Code::Ok
}

pub(crate) fn candidate(entry: &pb::CatalogEntry) -> pb::Candidate {
    pb::Candidate {
        code: entry.code.clone(),
        http_status: entry.http_status,
        grpc_code: entry.grpc_code,
        table: entry.table,
    }
}

pub(crate) fn resolution(
    resolution: Resolution<'_>,
    presented: Presented,
    locale: Locale,
    profile: pb::Profile,
) -> pb::Resolution {
    pb::Resolution {
        match_kind: match_kind(resolution.match_kind) as i32,
        grpc_code: resolution.grpc_code as i32,
        http_status: resolution.http_status,
        entry: resolution.entry.cloned(),
        candidates: resolution.candidates.into_iter().map(candidate).collect(),
        note: resolution.note,
        locale: locale.tag().to_owned(),
        message: presented.message,
        status: Some(presented.status),
        status_details_bin: presented.status_details_bin,
        gateway_error_body: presented.gateway_error_body,
        ignored_params: presented.ignored_params,
        profile: profile as i32,
        catalog_version: String::new(),
        success: is_success(resolution.grpc_code),
    }
}

/// The status view ([`super::View::Status`]): codes, message and rich
/// status.
pub(crate) fn status_view(
    resolution: &Resolution<'_>,
    message: String,
    status: crate::pb::google::rpc::Status,
) -> pb::Resolution {
    pb::Resolution {
        match_kind: match_kind(resolution.match_kind) as i32,
        grpc_code: resolution.grpc_code as i32,
        http_status: resolution.http_status,
        message,
        status: Some(status),
        success: is_success(resolution.grpc_code),
        ..Default::default()
    }
}

/// The basic view (`RESOLUTION_VIEW_BASIC`): what a bulk caller acts on.
pub(crate) fn basic(
    resolution: &Resolution<'_>,
    locale: Locale,
    params: &BTreeMap<String, String>,
) -> pb::Resolution {
    let (entry, message) = match resolution.entry {
        Some(entry) => (
            Some(pb::CatalogEntry {
                code: entry.code.clone(),
                ..Default::default()
            }),
            present::message_in(entry, locale, &Params::for_entry(Some(entry), params).used),
        ),
        None => (None, present::status_only_message(resolution.http_status)),
    };
    pb::Resolution {
        match_kind: match_kind(resolution.match_kind) as i32,
        grpc_code: resolution.grpc_code as i32,
        http_status: resolution.http_status,
        entry,
        message,
        success: is_success(resolution.grpc_code),
        ..Default::default()
    }
}

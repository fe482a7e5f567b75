//! Translation rules, as plain data and functions over a [`Catalog`].
//!
//! The catalog stores each entry's gRPC code; this module only decides
//! which entry answers a query and which HTTP status goes with a gRPC code.
//! `docs/mapping.md` gives the reasons behind each table here.

use crate::catalog::{Catalog, CodeMatch};
use crate::echo::quoted;
use crate::pb::errmap::v1::{CatalogEntry, Table};
use crate::pb::google::rpc::Code;

/// How many "did you mean" codes an unknown-code answer suggests.
pub const SUGGESTIONS: usize = 3;

/// The HTTP status Google's `google/rpc/code.proto` gives each gRPC code.
pub const fn http_status_for(code: Code) -> i32 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::Unknown => 500,
        Code::InvalidArgument => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::FailedPrecondition => 400,
        Code::Aborted => 409,
        Code::OutOfRange => 400,
        Code::Unimplemented => 501,
        Code::Internal => 500,
        Code::Unavailable => 503,
        Code::DataLoss => 500,
        Code::Unauthenticated => 401,
    }
}

/// Which table turns a bare HTTP status into a gRPC code: the API's own
/// enum, so a request's profile reaches the answer unconverted. Unset
/// means [`Profile::Google`].
pub use crate::pb::errmap::v1::Profile;

/// The gRPC code for a bare HTTP status under a profile.
pub const fn grpc_code_for_status(status: i32, profile: Profile) -> Code {
    match profile {
        Profile::Google | Profile::Unspecified => google_code_for_status(status),
        Profile::GrpcProxy => proxy_code_for_status(status),
    }
}

/// The gRPC specification's "HTTP to gRPC status code mapping", for
/// replies that come from a proxy rather than a gRPC server: every status
/// it does not list is UNKNOWN, 2xx included.
pub const fn proxy_code_for_status(status: i32) -> Code {
    match status {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// The gRPC code for a bare HTTP status, where no gateway code says more.
/// Follows code.proto where it names the status, and the gRPC project's
/// HTTP mapping for 502; classes of status take a class-wide answer.
pub const fn google_code_for_status(status: i32) -> Code {
    match status {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::Aborted,
        429 => Code::ResourceExhausted,
        499 => Code::Cancelled,
        500 => Code::Internal,
        501 => Code::Unimplemented,
        502 | 503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => match status / 100 {
            2 => Code::Ok,
            4 => Code::FailedPrecondition,
            _ => Code::Unknown,
        },
    }
}

/// The gateway code reported for a gRPC code when the request gives no
/// reason: the same-named common code where there is one.
pub const fn default_gateway_code(code: Code) -> &'static str {
    match code {
        Code::Ok => "APIGATEWAY_SUCCESS",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "HTTP_FORBIDDEN",
        Code::ResourceExhausted => "QUOTA_EXCEEDED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "NOT_IMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "INTERNAL",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// How a resolution was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// By the code, with its own HTTP status or none.
    Code,
    /// By an alias of a code.
    Alias,
    /// By the code, though the catalog gives it another HTTP status.
    CodeStatusMismatch,
    /// By the HTTP status; no code was given.
    StatusOnly,
    /// By the HTTP status, as the code was unknown.
    StatusFallback,
    /// By the gRPC code's default gateway code.
    GrpcCode,
    /// By the gateway code the request's reason names.
    GrpcReason,
    /// By the gateway code the status details' `ErrorInfo.reason` names.
    ErrorInfo,
}

/// The answer to one query.
#[derive(Debug, Clone)]
pub struct Resolution<'c> {
    /// How the answer was reached.
    pub match_kind: MatchKind,
    /// The gRPC code.
    pub grpc_code: Code,
    /// The HTTP status.
    pub http_status: i32,
    /// The entry that answers, if one does.
    pub entry: Option<&'c CatalogEntry>,
    /// Other entries that could have answered.
    pub candidates: Vec<&'c CatalogEntry>,
    /// How the answer was chosen, in words.
    pub note: String,
}

/// A gateway error to translate. The service layer has already checked
/// that the status is 100-599 and the code is sane.
#[derive(Debug, Clone, Copy)]
pub struct GatewayQuery<'a> {
    /// The gateway's string code.
    pub code: Option<&'a str>,
    /// The HTTP status.
    pub http_status: Option<i32>,
    /// The table for a bare status.
    pub profile: Profile,
    /// Whether the resolution says how it was reached (its note and its
    /// candidates), as [`GrpcQuery::explain`].
    pub explain: bool,
}

/// A gRPC status to translate.
#[derive(Debug, Clone, Copy)]
pub struct GrpcQuery<'a> {
    /// The gRPC code.
    pub code: Code,
    /// A gateway code naming the entry to report.
    pub reason: Option<&'a str>,
    /// Where the reason came from.
    pub reason_from: ReasonFrom,
    /// The HTTP status that picks between rows sharing the reason's code.
    pub http_status: Option<i32>,
    /// Whether the resolution says how it was reached (its note and its
    /// candidates). Only the full view shows them; working them out for
    /// the status view cost a call with upstream details behind Envoy
    /// about 4,900 of its 114,500 instructions.
    pub explain: bool,
}

/// Where a gRPC query's reason came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonFrom {
    /// The request's `reason` field.
    Request,
    /// The `ErrorInfo.reason` of the status details the request carried.
    ErrorInfo,
}

/// Why a query has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The code is not in the catalog, and no status was given.
    #[error("no catalog entry has code {}", quoted(.code))]
    UnknownCode {
        /// The code as asked, trimmed.
        code: String,
        /// The known codes closest to it, best first.
        suggestions: Vec<String>,
    },
    /// The code is in the catalog, but not with this HTTP status.
    #[error("no catalog entry has code {code:?} with HTTP status {http_status}")]
    UnknownKey {
        /// The code's canonical spelling.
        code: String,
        /// The status asked for.
        http_status: i32,
    },
    /// Neither a code nor a status.
    #[error("nothing to resolve: give a code, an HTTP status, or both")]
    NothingToResolve,
}

/// Gateway error → gRPC code and catalog entry.
pub fn resolve_gateway<'c>(
    catalog: &'c Catalog,
    query: GatewayQuery<'_>,
) -> Result<Resolution<'c>, ResolveError> {
    let found = query.code.and_then(|code| catalog.lookup(code));
    resolve_gateway_found(catalog, query, found)
}

/// [`resolve_gateway`], given what `catalog.lookup` found for the query's
/// code, for a caller that has looked it up already.
pub fn resolve_gateway_found<'c>(
    catalog: &'c Catalog,
    query: GatewayQuery<'_>,
    found: Option<CodeMatch<'c>>,
) -> Result<Resolution<'c>, ResolveError> {
    let code = query.code.map(str::trim).filter(|c| !c.is_empty());
    match (code, query.http_status) {
        (Some(code), status) => match found {
            Some(found) => Ok(by_code(catalog, code, found, status, query.explain)),
            None => match status {
                Some(status) => {
                    let note = query.explain.then(|| {
                        format!(
                            "unknown code {}; resolved by HTTP status {status} instead",
                            quoted(code)
                        )
                    });
                    let kind = MatchKind::StatusFallback;
                    Ok(by_status(catalog, status, query.profile, kind, note))
                }
                None => Err(ResolveError::UnknownCode {
                    code: code.to_owned(),
                    suggestions: catalog.suggest(code, SUGGESTIONS),
                }),
            },
        },
        (None, Some(status)) => {
            let note = query
                .explain
                .then(|| format!("resolved by HTTP status {status} alone"));
            Ok(by_status(
                catalog,
                status,
                query.profile,
                MatchKind::StatusOnly,
                note,
            ))
        }
        (None, None) => Err(ResolveError::NothingToResolve),
    }
}

fn by_code<'c>(
    catalog: &'c Catalog,
    asked: &str,
    found: CodeMatch<'c>,
    status: Option<i32>,
    explain: bool,
) -> Resolution<'c> {
    let entries = found.rows.iter().map(|&row| catalog.entry(row));
    let exact = status.and_then(|s| entries.clone().position(|e| e.http_status == s));
    let chosen = exact.unwrap_or(0);
    let entry = catalog.entry(found.rows[chosen]);
    let match_kind = match (status, exact) {
        (Some(_), None) => MatchKind::CodeStatusMismatch,
        _ if found.alias => MatchKind::Alias,
        _ => MatchKind::Code,
    };
    let (note, candidates) = if explain {
        let note = match (match_kind, status) {
            (MatchKind::CodeStatusMismatch, Some(given)) => format!(
                "code {} is catalogued with HTTP status {}, not {given}; answered by code",
                entry.code, entry.http_status
            ),
            (MatchKind::Alias, _) => {
                format!("{} is an alias of {}", quoted(asked.trim()), entry.code)
            }
            _ => format!("matched code {}", entry.code),
        };
        let others = entries.enumerate().filter(|&(i, _)| i != chosen);
        (note, others.map(|(_, e)| e).collect())
    } else {
        (String::new(), Vec::new())
    };
    Resolution {
        match_kind,
        grpc_code: grpc_code_of(entry),
        http_status: entry.http_status,
        entry: Some(entry),
        candidates,
        note,
    }
}

/// A status-level answer: the gRPC code follows from the status; the entry,
/// if any, is the default one for that gRPC code when it carries the status,
/// else the first common entry with the status and the same gRPC code.
/// With a `note` (the query explains), the other rows with the status are
/// the candidates.
fn by_status(
    catalog: &Catalog,
    status: i32,
    profile: Profile,
    match_kind: MatchKind,
    note: Option<String>,
) -> Resolution<'_> {
    let grpc_code = grpc_code_for_status(status, profile);
    let rows = catalog
        .rows_with_status(status)
        .iter()
        .map(|&row| catalog.entry(row));
    let entry = catalog
        .find(default_gateway_code(grpc_code), status)
        .or_else(|| {
            rows.clone()
                .find(|e| e.table == Table::Common as i32 && e.grpc_code == grpc_code as i32)
        });
    let candidates = match note {
        Some(_) => rows
            .filter(|e| !entry.is_some_and(|chosen| std::ptr::eq(chosen, *e)))
            .collect(),
        None => Vec::new(),
    };
    Resolution {
        match_kind,
        grpc_code,
        http_status: status,
        entry,
        candidates,
        note: note.unwrap_or_default(),
    }
}

/// gRPC code → HTTP status and the gateway code to report.
pub fn resolve_grpc<'c>(catalog: &'c Catalog, query: GrpcQuery<'_>) -> Resolution<'c> {
    let reason = query.reason.map(str::trim).filter(|r| !r.is_empty());
    let mut note = String::new();
    if let Some(reason) = reason {
        match catalog.lookup(reason) {
            Some(found) => return by_reason(catalog, query, reason, found.rows),
            None => {
                let source = match query.reason_from {
                    ReasonFrom::Request => "reason",
                    ReasonFrom::ErrorInfo => "ErrorInfo.reason",
                };
                if query.explain {
                    note = format!(
                        "{source} {} names no catalog entry and was ignored; ",
                        quoted(reason)
                    );
                }
            }
        }
    }
    let http_status = http_status_for(query.code);
    let default = default_gateway_code(query.code);
    let entry = catalog.find(default, http_status).or_else(|| {
        catalog
            .lookup(default)
            .map(|found| catalog.entry(found.rows[0]))
    });
    let mut candidates = Vec::new();
    if query.explain {
        note.push_str(&match entry {
            Some(_) => format!("default gateway code for {}", query.code.as_str_name()),
            None => format!(
                "the catalog lacks {default}, the default for {}",
                query.code.as_str_name()
            ),
        });
        candidates = same_grpc_code(catalog, query.code, entry);
    }
    Resolution {
        match_kind: MatchKind::GrpcCode,
        grpc_code: query.code,
        http_status,
        entry,
        candidates,
        note,
    }
}

/// The reason's entry: the row with the given HTTP status, else the row
/// with the query's gRPC code, else the first.
fn by_reason<'c>(
    catalog: &'c Catalog,
    query: GrpcQuery<'_>,
    reason: &str,
    rows: &[usize],
) -> Resolution<'c> {
    let code = query.code;
    let entries = rows.iter().map(|&row| catalog.entry(row));
    let entry = query
        .http_status
        .and_then(|s| entries.clone().find(|e| e.http_status == s))
        .or_else(|| entries.clone().find(|e| e.grpc_code == code as i32))
        .unwrap_or_else(|| catalog.entry(rows[0]));
    let (match_kind, source) = match query.reason_from {
        ReasonFrom::Request => (MatchKind::GrpcReason, "reason"),
        ReasonFrom::ErrorInfo => (MatchKind::ErrorInfo, "ErrorInfo.reason"),
    };
    let (mut note, mut candidates) = (String::new(), Vec::new());
    if query.explain {
        note = format!("{source} {} selected {}", quoted(reason), entry.code);
        if entry.grpc_code != code as i32 {
            note.push_str(&format!(
                "; the catalog maps it to {}, not {}",
                grpc_code_of(entry).as_str_name(),
                code.as_str_name()
            ));
        }
        candidates = same_grpc_code(catalog, code, Some(entry));
    }
    Resolution {
        match_kind,
        grpc_code: code,
        http_status: entry.http_status,
        entry: Some(entry),
        candidates,
        note,
    }
}

/// Every other entry that translates to the same gRPC code.
fn same_grpc_code<'c>(
    catalog: &'c Catalog,
    code: Code,
    chosen: Option<&CatalogEntry>,
) -> Vec<&'c CatalogEntry> {
    catalog
        .entries()
        .iter()
        .filter(|e| e.grpc_code == code as i32)
        .filter(|e| !chosen.is_some_and(|c| std::ptr::eq(c, *e)))
        .collect()
}

/// An entry's gRPC code; the catalog validated it when it loaded.
pub fn grpc_code_of(entry: &CatalogEntry) -> Code {
    Code::try_from(entry.grpc_code).unwrap_or(Code::Unknown)
}

/// One entry by code (or alias), optionally picking the row by status.
pub fn get_entry<'c>(
    catalog: &'c Catalog,
    code: &str,
    http_status: Option<i32>,
) -> Result<(&'c CatalogEntry, Vec<&'c CatalogEntry>), ResolveError> {
    let found = catalog
        .lookup(code)
        .ok_or_else(|| ResolveError::UnknownCode {
            code: code.trim().to_owned(),
            suggestions: catalog.suggest(code, SUGGESTIONS),
        })?;
    let rows: Vec<&CatalogEntry> = found.rows.iter().map(|&r| catalog.entry(r)).collect();
    let chosen = match http_status {
        Some(status) => rows
            .iter()
            .position(|e| e.http_status == status)
            .ok_or_else(|| ResolveError::UnknownKey {
                code: rows[0].code.clone(),
                http_status: status,
            })?,
        None => 0,
    };
    let others = rows
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != chosen)
        .map(|(_, e)| *e)
        .collect();
    Ok((rows[chosen], others))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without `explain`, a gateway query gets the same answer, less its
    /// note and candidates: by code (exact, an alias, another status), by
    /// an unknown code's status, and by status alone.
    #[test]
    fn a_gateway_query_not_explained_differs_only_in_its_note_and_candidates() {
        let catalog = Catalog::embedded().expect("the embedded catalog");
        let mut codes: Vec<&str> = Vec::new();
        for entry in catalog.entries() {
            codes.push(&entry.code);
            codes.extend(entry.aliases.iter().map(String::as_str));
        }
        codes.push("NO_SUCH_CODE");
        let mut statuses: Vec<Option<i32>> = catalog
            .entries()
            .iter()
            .map(|e| Some(e.http_status))
            .collect();
        statuses.extend([None, Some(418), Some(599)]);
        let mut explained_some = 0;
        for code in codes.iter().map(|&c| Some(c)).chain([None]) {
            for &http_status in &statuses {
                let query = GatewayQuery {
                    code,
                    http_status,
                    profile: Profile::Google,
                    explain: true,
                };
                let plain = GatewayQuery {
                    explain: false,
                    ..query
                };
                let (Ok(full), Ok(bare)) = (
                    resolve_gateway(&catalog, query),
                    resolve_gateway(&catalog, plain),
                ) else {
                    assert_eq!(
                        resolve_gateway(&catalog, query).err(),
                        resolve_gateway(&catalog, plain).err(),
                        "{code:?} {http_status:?}"
                    );
                    continue;
                };
                assert!(!full.note.is_empty(), "{code:?} {http_status:?}");
                explained_some += usize::from(!full.candidates.is_empty());
                assert_eq!(
                    (full.match_kind, full.grpc_code, full.http_status),
                    (bare.match_kind, bare.grpc_code, bare.http_status),
                    "{code:?} {http_status:?}"
                );
                assert!(
                    full.entry.map(|e| e as *const CatalogEntry)
                        == bare.entry.map(|e| e as *const CatalogEntry),
                    "{code:?} {http_status:?}"
                );
                assert!(bare.note.is_empty() && bare.candidates.is_empty());
            }
        }
        assert!(explained_some > 0, "some answers have candidates");
    }
}

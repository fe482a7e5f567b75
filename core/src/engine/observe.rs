//! What the engine tells an [`Observer`] (metrics, in practice): how each
//! query resolved, and which codes it did not know. Kept apart from the
//! request handling so the engine works the same with no observer at all.

use super::convert;
use crate::mapping::{GatewayQuery, GrpcQuery, MatchKind, Resolution, ResolveError};
use crate::pb::errmap::v1 as pb;

/// Told of each resolution (batch items included) and of each code a
/// lookup could not find.
pub trait Observer: std::fmt::Debug + Send + Sync {
    /// A query resolved, by this kind of match.
    fn resolved(&self, kind: pb::MatchKind);
    /// `count` queries resolved by this kind of match.
    fn resolved_many(&self, kind: pb::MatchKind, count: u64) {
        for _ in 0..count {
            self.resolved(kind);
        }
    }
    /// A gateway code (or a gRPC reason) named no catalog entry.
    fn unknown_code(&self, code: &str);
}

/// After a gateway query: how it resolved, or the code it did not know.
pub(crate) fn gateway(
    observer: Option<&dyn Observer>,
    query: GatewayQuery<'_>,
    outcome: &Result<Resolution<'_>, ResolveError>,
) {
    let Some(observer) = observer else {
        return;
    };
    match outcome {
        Ok(resolution) => {
            // A fallback to the status still means the code was unknown.
            if resolution.match_kind == MatchKind::StatusFallback {
                if let Some(code) = query.code {
                    observer.unknown_code(code);
                }
            }
            observer.resolved(convert::match_kind(resolution.match_kind));
        }
        Err(ResolveError::UnknownCode { code, .. }) => observer.unknown_code(code),
        Err(_) => {}
    }
}

/// After a gRPC query: how it resolved, and its reason if that was unknown.
pub(crate) fn grpc(
    observer: Option<&dyn Observer>,
    query: GrpcQuery<'_>,
    resolution: &Resolution<'_>,
) {
    let Some(observer) = observer else {
        return;
    };
    // A reason that matched nothing leaves the answer to the gRPC code.
    if let (Some(reason), MatchKind::GrpcCode) = (query.reason, resolution.match_kind) {
        observer.unknown_code(reason);
    }
    observer.resolved(convert::match_kind(resolution.match_kind));
}

/// After a catalog lookup by code, such as `GetError`.
pub(crate) fn lookup<T>(observer: Option<&dyn Observer>, found: &Result<T, ResolveError>) {
    if let (Some(observer), Err(ResolveError::UnknownCode { code, .. })) = (observer, found) {
        observer.unknown_code(code);
    }
}

//! What the service tells an [`Observer`] (metrics, in practice): how each
//! query resolved, and which codes it did not know. Kept apart from the
//! request handling so the service works the same with no observer at all.

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
pub(super) fn gateway(
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
pub(super) fn grpc(
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
pub(super) fn lookup<T>(observer: Option<&dyn Observer>, found: &Result<T, ResolveError>) {
    if let (Some(observer), Err(ResolveError::UnknownCode { code, .. })) = (observer, found) {
        observer.unknown_code(code);
    }
}

/// Prepared answers of one batch, counted by match kind and told to the
/// observer once at the end: one atomic add per kind, not per query.
#[derive(Debug, Default)]
pub struct Tally([std::cell::Cell<u64>; MATCH_KINDS]);

const MATCH_KINDS: usize = 9;

impl Tally {
    pub fn add(&self, kind: pb::MatchKind) {
        if let Some(cell) = self.0.get(kind as usize) {
            cell.set(cell.get() + 1);
        }
    }

    pub fn report(&self, observer: Option<&dyn Observer>) {
        let Some(observer) = observer else {
            return;
        };
        for (i, cell) in self.0.iter().enumerate() {
            let count = cell.get();
            let kind = i32::try_from(i)
                .ok()
                .and_then(|i| pb::MatchKind::try_from(i).ok());
            if let (Some(kind), true) = (kind, count > 0) {
                observer.resolved_many(kind, count);
            }
        }
    }
}

//! Answers kept in front of the engine, and the keys they are kept by.

use super::context::View;
use crate::locale::Locale;
use crate::mapping::Profile;
use crate::pb::errmap::v1 as pb;
use crate::pb::google::rpc::Code;

/// What a plain gateway query's answer depends on besides the catalog: a
/// code matched by its own spelling (not an alias), with at most its own
/// HTTP status, and no params, request id or body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GatewayKey {
    /// The catalog row the code and status name.
    pub row: usize,
    /// [`Profile::Google`] or [`Profile::GrpcProxy`], never unset.
    pub profile: Profile,
    /// The answer's locale.
    pub locale: Locale,
    /// The answer's view.
    pub view: View,
}

/// What a bare gRPC code's answer depends on besides the catalog: no
/// reason, params, request id or details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrpcKey {
    /// The gRPC code.
    pub code: Code,
    /// The answer's locale.
    pub locale: Locale,
    /// The answer's view.
    pub view: View,
}

/// Answers kept ready for plain queries, asked before computing. A key
/// names everything such an answer depends on besides the catalog, so a
/// cache must hold answers of the context's catalog only.
pub trait AnswerCache {
    /// A kept answer (in practice, its encoding or a reference to it).
    type Answer;
    /// The answer to a gateway code matched by its own spelling.
    fn gateway(&self, key: GatewayKey) -> Option<Self::Answer>;
    /// The answer to a bare gRPC code.
    fn grpc(&self, key: GrpcKey) -> Option<Self::Answer>;
}

/// The cache that holds nothing: every answer is computed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl AnswerCache for NoCache {
    type Answer = std::convert::Infallible;
    fn gateway(&self, _: GatewayKey) -> Option<Self::Answer> {
        None
    }
    fn grpc(&self, _: GrpcKey) -> Option<Self::Answer> {
        None
    }
}

/// An answer, kept or computed.
// Not boxed: a computed answer goes straight to its encoder, and a box
// would be one more allocation per computed call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    /// From the [`AnswerCache`]; the observer has not been told of it.
    Cached(T),
    /// Computed now; the observer has been told.
    Computed(pb::Resolution),
}

impl<T> Answer<T> {
    /// The same answer, with a kept one changed by `f`.
    pub fn map_cached<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        match self {
            Answer::Cached(answer) => Answer::Cached(f(answer)),
            Answer::Computed(resolution) => Answer::Computed(resolution),
        }
    }
}

impl Answer<std::convert::Infallible> {
    /// The resolution of an answer that cannot have come from a cache.
    pub fn computed(self) -> pb::Resolution {
        match self {
            Answer::Computed(resolution) => resolution,
            Answer::Cached(never) => match never {},
        }
    }
}

//! The engine: one plain function per question a caller asks, each taking
//! the API's request message and returning the API's answer or an
//! [`EngineError`] naming what was wrong.
//!
//! - [`resolve_gateway`]: a gateway error (code, HTTP status, body) to a
//!   gRPC status and its catalog entry.
//! - [`resolve_grpc`]: a gRPC status (code, reason, details) to the
//!   gateway's HTTP status and code.
//! - [`resolve_batch`]: many of both, each answered or failed on its own.
//! - [`get_error`]: one catalog entry by code.
//!
//! Every face (the gRPC service, the HTTP/JSON face, the CLI, a Rust
//! program in process) asks these. A face that keeps ready answers puts
//! them in front of the engine as an [`AnswerCache`]: the engine checks the
//! request once, asks the cache with the key of what it would compute, and
//! computes only on a miss.

mod batch;
mod convert;
mod error;
mod gateway;
mod grpc;
mod lookup;
mod observe;
pub mod validate;

pub use batch::{batch_query, batch_view, resolve_batch, DEFAULT_MAX_BATCH};
pub use error::EngineError;
pub use gateway::{gateway, resolve_gateway, GatewayKey};
pub use grpc::{grpc, resolve_grpc, GrpcKey};
pub use lookup::get_error;
pub use observe::Observer;
pub use validate::Prefix;

use crate::catalog::Catalog;
use crate::locale::Locale;
use crate::mapping::Resolution;
use crate::pb::errmap::v1 as pb;
use crate::present::{present, Presentation, DEFAULT_ERROR_DOMAIN};
use std::collections::BTreeMap;

/// Which `ResolutionView` an answer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum View {
    /// Everything: the entry, the rich status, the gateway body.
    #[default]
    Full,
    /// What a bulk caller acts on: codes, status and message.
    Basic,
}

/// What the engine answers with and for: one catalog, the caller's
/// settings, and the call's own choices. Cheap to copy; a batch shares one.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The catalog every query of the call is answered from.
    pub catalog: &'a Catalog,
    /// The locale when neither the request nor `accept_language` names one.
    pub default_locale: Locale,
    /// The `ErrorInfo.domain` of the statuses the answers carry.
    pub error_domain: &'a str,
    /// The caller's `Accept-Language`, if any.
    pub accept_language: Option<&'a str>,
    /// The view answers are given in.
    pub view: View,
    /// Told how each query resolved and which codes were unknown.
    pub observer: Option<&'a dyn Observer>,
}

impl<'a> Context<'a> {
    /// Answers from `catalog` with the defaults: zh-CN, the gateway's error
    /// domain, the full view, no observer.
    pub fn new(catalog: &'a Catalog) -> Self {
        Self {
            catalog,
            default_locale: Locale::ZhCn,
            error_domain: DEFAULT_ERROR_DOMAIN,
            accept_language: None,
            view: View::Full,
            observer: None,
        }
    }

    fn locale(&self, prefix: Prefix, requested: &str) -> Result<Locale, EngineError> {
        validate::locale(prefix, requested, self.accept_language, self.default_locale)
    }

    /// The resolution as the API's message, in the context's view.
    fn finish(
        &self,
        resolution: Resolution<'_>,
        locale: Locale,
        params: &BTreeMap<String, String>,
        request_id: &str,
        profile: pb::Profile,
    ) -> pb::Resolution {
        if self.view == View::Basic {
            return convert::basic(&resolution, locale, params);
        }
        let presented = present(
            &resolution,
            Presentation {
                locale,
                params,
                request_id,
                error_domain: self.error_domain,
            },
        );
        let mut answer = convert::resolution(resolution, presented, locale, profile);
        answer.catalog_version = self.catalog.version().to_owned();
        answer
    }
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

//! What the engine answers with and for.

use super::convert;
use super::error::EngineError;
use super::observe::Observer;
use super::validate::{self, Prefix};
use crate::catalog::Catalog;
use crate::locale::Locale;
use crate::mapping::Resolution;
use crate::pb::errmap::v1 as pb;
use crate::present::{present, status_only, Presentation, DEFAULT_ERROR_DOMAIN};
use std::collections::BTreeMap;

/// Which `ResolutionView` an answer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum View {
    /// Everything: the entry, the rich status, the gateway body.
    #[default]
    Full,
    /// What a bulk caller acts on: codes, status and message.
    Basic,
    /// The codes, the message and the rich status alone: for a caller that
    /// passes the status on (Envoy's processor adding details to a gRPC
    /// error), to which the entry, the gateway body and the status encoded
    /// again would be work thrown away (about 9,000 instructions of an
    /// answer's 29,000).
    Status,
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

    pub(crate) fn locale(&self, prefix: Prefix, requested: &str) -> Result<Locale, EngineError> {
        validate::locale(prefix, requested, self.accept_language, self.default_locale)
    }

    /// The resolution as the API's message, in the context's view.
    pub(crate) fn finish(
        &self,
        resolution: Resolution<'_>,
        locale: Locale,
        params: &BTreeMap<String, String>,
        request_id: &str,
        profile: pb::Profile,
    ) -> pb::Resolution {
        let how = Presentation {
            locale,
            params,
            request_id,
            error_domain: self.error_domain,
        };
        match self.view {
            View::Full => {}
            View::Basic => return convert::basic(&resolution, locale, params),
            View::Status => {
                let (message, status) = status_only(&resolution, how);
                return convert::status_view(&resolution, message, status);
            }
        }
        let presented = present(&resolution, how);
        let mut answer = convert::resolution(resolution, presented, locale, profile);
        answer.catalog_version = self.catalog.version().to_owned();
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gateway::resolve_gateway;
    use crate::engine::grpc::resolve_grpc;
    use crate::pb::errmap::v1::{ResolveGatewayErrorRequest, ResolveGrpcStatusRequest};

    /// The status view answers with the full view's codes, message and
    /// status, and nothing else, for every row and every gRPC code.
    #[test]
    fn the_status_view_is_the_full_views_status() {
        let catalog = Catalog::embedded().expect("the embedded catalog");
        let full = Context::new(&catalog);
        let status = Context {
            view: View::Status,
            ..full
        };
        let same = |f: pb::Resolution, s: pb::Resolution| {
            let expected = pb::Resolution {
                match_kind: f.match_kind,
                grpc_code: f.grpc_code,
                http_status: f.http_status,
                message: f.message.clone(),
                status: f.status.clone(),
                success: f.success,
                ..Default::default()
            };
            assert!(
                f.status.is_some() && !f.gateway_error_body.is_empty(),
                "{f:?}"
            );
            assert_eq!(s, expected);
        };
        for entry in catalog.entries() {
            let request = ResolveGatewayErrorRequest {
                code: entry.code.clone(),
                http_status: Some(entry.http_status),
                locale: "en-US".to_owned(),
                ..Default::default()
            };
            let answers = (
                resolve_gateway(&full, &request).expect("full"),
                resolve_gateway(&status, &request).expect("status"),
            );
            same(answers.0, answers.1);
        }
        for code in 1..=16 {
            let request = ResolveGrpcStatusRequest {
                code,
                message: "upstream".to_owned(),
                ..Default::default()
            };
            let answers = (
                resolve_grpc(&full, &request).expect("full"),
                resolve_grpc(&status, &request).expect("status"),
            );
            same(answers.0, answers.1);
        }
    }
}

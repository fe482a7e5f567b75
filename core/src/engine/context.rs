//! What the engine answers with and for.

use super::convert;
use super::error::EngineError;
use super::observe::Observer;
use super::validate::{self, Prefix};
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

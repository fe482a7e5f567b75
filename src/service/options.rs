//! The service's settings, and the engine context they give a call.

use crate::catalog::Catalog;
use crate::engine::{Context, Observer, View, DEFAULT_MAX_BATCH};
use crate::locale::Locale;
use crate::present::DEFAULT_ERROR_DOMAIN;

/// Settings of the service itself.
#[derive(Debug, Clone)]
pub struct Options {
    /// The most queries one `BatchResolve` call may carry.
    pub max_batch: usize,
    /// The locale when neither the request nor its metadata names one.
    pub default_locale: Locale,
    /// The `ErrorInfo.domain` of the statuses errmap builds.
    pub error_domain: String,
    /// Answer plain queries from answers prepared for each catalog
    /// ([`super::prepared`]). Off, every answer is computed per call; the
    /// bytes are the same either way.
    pub prepare_answers: bool,
}

/// The locale of answers when a call names none: the gateway's own.
pub const DEFAULT_LOCALE: Locale = Locale::ZhCn;

impl Default for Options {
    fn default() -> Self {
        Self {
            max_batch: DEFAULT_MAX_BATCH,
            default_locale: DEFAULT_LOCALE,
            error_domain: DEFAULT_ERROR_DOMAIN.to_owned(),
            prepare_answers: true,
        }
    }
}

impl Options {
    /// The engine's context for one call on `catalog`.
    pub fn context<'a>(
        &'a self,
        catalog: &'a Catalog,
        accept_language: Option<&'a str>,
        observer: Option<&'a dyn Observer>,
    ) -> Context<'a> {
        Context {
            catalog,
            default_locale: self.default_locale,
            error_domain: &self.error_domain,
            accept_language,
            view: View::Full,
            observer,
        }
    }
}

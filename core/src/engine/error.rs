//! Why the engine could not answer. The texts are the ones callers see: a
//! server sends them as the status message, a CLI prints them.

use crate::echo::quoted;
use crate::mapping::ResolveError;

/// Why a request failed: a field out of its range, or a code the catalog
/// does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// A field is out of its allowed range or malformed.
    #[error("{field}: {description}")]
    InvalidField {
        /// The field's path in the request (`queries[3].gateway_error.code`
        /// inside a batch).
        field: String,
        /// What the field must be, and what it was.
        description: String,
    },
    /// A gateway code that is not in the catalog.
    #[error("no catalog entry has code {}{}", quoted(.code), closest(.suggestions))]
    UnknownCode {
        /// The code as asked, trimmed.
        code: String,
        /// The known codes closest to it, best first.
        suggestions: Vec<String>,
    },
    /// A code that exists, but not with the HTTP status asked for.
    #[error("no catalog entry has code {code:?} with HTTP status {http_status}")]
    UnknownKey {
        /// The code's canonical spelling.
        code: String,
        /// The status asked for.
        http_status: i32,
    },
}

fn closest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; closest known codes: {}", suggestions.join(", "))
    }
}

impl EngineError {
    /// A field that is out of range or malformed.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        EngineError::InvalidField {
            field: field.into(),
            description: description.into(),
        }
    }
}

impl From<ResolveError> for EngineError {
    fn from(err: ResolveError) -> Self {
        match err {
            ResolveError::UnknownCode { code, suggestions } => {
                EngineError::UnknownCode { code, suggestions }
            }
            ResolveError::UnknownKey { code, http_status } => {
                EngineError::UnknownKey { code, http_status }
            }
            ResolveError::NothingToResolve => EngineError::invalid(
                "code",
                "nothing to resolve: set code, http_status (100-599), or both",
            ),
        }
    }
}

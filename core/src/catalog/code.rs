//! How codes are compared: folded, so that surrounding white space and
//! letter case do not matter.

/// Folds a code the way every lookup does: surrounding white space and
/// letter case do not matter.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

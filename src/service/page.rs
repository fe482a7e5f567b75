//! AIP-158 pagination for `ListErrors`: bounded page sizes and opaque page
//! tokens that only work with the filters they were issued for.

use crate::engine::EngineError;

/// Page size when the request leaves `page_size` at 0.
pub(super) const DEFAULT_PAGE_SIZE: usize = 50;
/// Larger page sizes are read as this one, as AIP-158 asks.
pub(super) const MAX_PAGE_SIZE: usize = 1000;

/// The page size a request asks for, after defaults and the cap.
pub(super) fn page_size(requested: i32) -> Result<usize, EngineError> {
    match usize::try_from(requested) {
        Ok(0) => Ok(DEFAULT_PAGE_SIZE),
        Ok(n) => Ok(n.min(MAX_PAGE_SIZE)),
        Err(_) => Err(EngineError::invalid(
            "page_size",
            format!("must be between 0 and {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE}), got {requested}"),
        )),
    }
}

/// A token for the page starting at `offset` under the given filters.
pub(super) fn encode_token(offset: usize, filters: &str) -> String {
    let plain = format!("v1:{offset}:{filters}");
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The offset a token points at, if it was issued for these filters.
pub(super) fn decode_token(token: &str, filters: &str) -> Result<usize, EngineError> {
    if token.is_empty() {
        return Ok(0);
    }
    let invalid = || {
        EngineError::invalid(
            "page_token",
            "must be a next_page_token returned by ListErrors with the same filters",
        )
    };
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    let plain = String::from_utf8(bytes).map_err(|_| invalid())?;
    let rest = plain.strip_prefix("v1:").ok_or_else(invalid)?;
    let (offset, issued_for) = rest.split_once(':').ok_or_else(invalid)?;
    if issued_for != filters {
        return Err(invalid());
    }
    offset.parse().map_err(|_| invalid())
}

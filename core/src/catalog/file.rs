//! Reading a catalog file: bounded in size before any of it is parsed, and
//! required to be UTF-8 text.

use super::error::CatalogError;
use super::limits::MAX_FILE_BYTES;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The file's text, or why it cannot serve as a catalog file. Reads at
/// most one byte past the limit, whatever the file is (`/dev/zero`
/// included).
pub fn read(path: &Path) -> Result<String, CatalogError> {
    let source = path.display().to_string();
    let failed = |reason: String| CatalogError::Read {
        file: source.clone(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(CatalogError::TooLarge { file: source });
    }
    String::from_utf8(bytes).map_err(|e| {
        failed(format!(
            "the file is not UTF-8 text (invalid bytes at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// What a file held when it was read: its length and SHA-256, to tell
/// whether it changed without parsing it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    len: usize,
    sha256: [u8; 32],
}

impl Fingerprint {
    /// The fingerprint of a file's text.
    pub fn of(text: &str) -> Self {
        Self {
            len: text.len(),
            sha256: Sha256::digest(text.as_bytes()).into(),
        }
    }
}

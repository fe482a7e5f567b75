//! Why a catalog text or file could not be put in service.

use super::limits::{MAX_FILE_BYTES, MAX_FILE_ENTRIES};
use super::source::{Location, CATALOG_MESSAGE};
use super::validate::Problem;

/// Why a catalog text could not be put in service.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The schema built into the binary could not be read.
    #[error("catalog descriptors are unusable: {0}")]
    Descriptors(String),
    /// The text is not an `errmap.v1.Catalog` in protobuf text format.
    #[error("{location}: not valid protobuf text format for {CATALOG_MESSAGE}: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// What the parser expected.
        message: String,
    },
    /// The entries parse, but break rules: every problem, not just the first.
    #[error("catalog is invalid ({} problem(s)):\n{}", .0.len(), problems_list(.0))]
    Invalid(Vec<Problem>),
    /// The file could not be read.
    #[error("cannot read {file}: {reason}")]
    Read {
        /// The file's path.
        file: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is over the size limit; no more than the limit was read.
    #[error("{file}: the file is larger than the {MAX_FILE_BYTES}-byte limit for a catalog file")]
    TooLarge {
        /// The file's path.
        file: String,
    },
    /// The file holds more entries than a catalog file may.
    #[error(
        "{file}: the file holds {entries} entries, more than the limit of {MAX_FILE_ENTRIES} for a catalog file"
    )]
    TooManyEntries {
        /// The file's path.
        file: String,
        /// The entries it holds.
        entries: usize,
    },
    /// A file being rewritten in place is empty for a moment; serving the
    /// embedded catalog alone then would answer with rows the file changed.
    #[error("{file}: the file holds no catalog entries; an empty file is refused")]
    EmptyFile {
        /// The file's path.
        file: String,
    },
}

fn problems_list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

//! Bounds on a catalog file, so a mistaken or hostile file is refused with
//! a message naming the bound instead of taking the memory or the CPU of
//! the sidecar. README.md ("Custom catalogs and hot reload") lists them.

/// The largest catalog file read, in bytes. The embedded catalog's 82
/// entries take 23,218 bytes (283 each), so this leaves room for 100,000
/// entries twice that size.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The most entries one catalog file may hold.
pub const MAX_FILE_ENTRIES: usize = 100_000;

/// The longest text field of an entry (message, solution, their English
/// versions, placeholders), in bytes. The longest in the gateway's tables
/// is 94 bytes; an English message travels in the `grpc-message`
/// header, which proxies commonly hold to 8 KB.
pub const MAX_TEXT_BYTES: usize = 4096;

/// The most characters of a file's own text quoted in an error: enough to
/// recognise a token, too few to disclose a file named by mistake.
pub const MAX_EXCERPT_CHARS: usize = 24;

/// The most aliases, and the most placeholders, one entry may have. The
/// gateway's tables have at most 1 alias and 2 placeholders per entry;
/// every placeholder is sought in both messages.
pub const MAX_VALUES_PER_FIELD: usize = 16;

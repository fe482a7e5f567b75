//! The gateway's error catalog: parsed from protobuf text format, validated
//! as a whole, and indexed for lookups. Nothing here knows about gRPC
//! transport; the service layer turns these answers into responses.

pub mod code;
mod error;
pub mod excerpt;
pub mod file;
pub mod limits;
pub mod source;
pub mod validate;

use crate::pb::errmap::v1::CatalogEntry;
use arc_swap::ArcSwap;
use limits::MAX_FILE_ENTRIES;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use code::normalize_code;
pub use error::CatalogError;
pub use source::{Location, Source, CATALOG_MESSAGE};
pub use validate::{Problem, Rule};

/// The catalog built into the binary: every row of the gateway's three
/// error tables.
pub const EMBEDDED: &str = include_str!("../../catalog/catalog.textproto");

/// The name problems in the embedded catalog are reported under.
pub const EMBEDDED_NAME: &str = "embedded";

/// A name a lookup can match: a canonical code, or an alias of one.
#[derive(Debug)]
struct Name {
    /// Rows of the code in catalog order (two for FAILED_PRECONDITION).
    rows: Vec<usize>,
    alias: bool,
}

/// What a code lookup found.
#[derive(Debug, Clone, Copy)]
pub struct CodeMatch<'c> {
    /// Every row with the code, in catalog order; never empty.
    pub rows: &'c [usize],
    /// The lookup matched an alias rather than the canonical code.
    pub alias: bool,
}

/// A validated, indexed, immutable catalog.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
    /// Codes and aliases, folded. FxHash: the keys are the catalog's own,
    /// so there is no flooding to defend against, and it hashes a short
    /// code several times faster than SipHash.
    names: FxHashMap<String, Name>,
    by_status: BTreeMap<i32, Vec<usize>>,
    version: String,
    /// The file laid over the embedded catalog, as it was read.
    file: Option<file::Fingerprint>,
}

/// Codes up to this long are folded to upper case without allocating.
const FOLD_ON_STACK: usize = 128;

impl Catalog {
    /// The embedded catalog with a file's text laid over it, marked with
    /// the fingerprint of the text ([`file::Fingerprint`]).
    pub fn load_file(path: &std::path::Path) -> Result<Self, CatalogError> {
        let text = file::read(path)?;
        Ok(Self::overlay(path, &text)?.read_from(file::Fingerprint::of(&text)))
    }

    /// The embedded catalog with `text`, read from `path`, laid over it.
    pub fn overlay(path: &std::path::Path, text: &str) -> Result<Self, CatalogError> {
        let name = path.display().to_string();
        Self::load(Some(Source { name: &name, text }))
    }

    /// The catalog built into the binary.
    pub fn embedded() -> Result<Self, CatalogError> {
        Self::load(None)
    }

    /// Parses and validates one catalog text on its own. Either the whole
    /// catalog is valid, or every problem is reported and nothing is
    /// returned.
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let source = Source {
            name: "catalog",
            text,
        };
        let offsets = source.entry_offsets();
        let entries = source.parse_at(&offsets)?;
        refuse_too_many(&source, entries.len())?;
        let origins = locate(&source, &offsets, entries.len());
        Self::from_entries(entries, origins)
    }

    /// The embedded catalog with a file's entries laid over it: an entry
    /// whose code and HTTP status match a built-in row replaces that row in
    /// place; any other entry is added after the built-in rows, in file
    /// order. The result is validated as a whole.
    pub fn load(overrides: Option<Source<'_>>) -> Result<Self, CatalogError> {
        let embedded = Source {
            name: EMBEDDED_NAME,
            text: EMBEDDED,
        };
        let offsets = embedded.entry_offsets();
        let mut entries = embedded.parse_at(&offsets)?;
        let mut origins = locate(&embedded, &offsets, entries.len());
        if let Some(file) = overrides {
            let offsets = file.entry_offsets();
            let added = file.parse_at(&offsets)?;
            if added.is_empty() {
                return Err(CatalogError::EmptyFile {
                    file: file.name.to_owned(),
                });
            }
            refuse_too_many(&file, added.len())?;
            let added_origins = locate(&file, &offsets, added.len());
            // The built-in rows by key, so each override finds its row in
            // one step instead of a scan of every row.
            let mut built_in: FxHashMap<(String, i32), usize> = FxHashMap::default();
            for (row, entry) in entries.iter().enumerate() {
                built_in
                    .entry((normalize_code(&entry.code), entry.http_status))
                    .or_insert(row);
            }
            let mut seen = rustc_hash::FxHashSet::default();
            for (entry, origin) in added.into_iter().zip(added_origins) {
                let key = (normalize_code(&entry.code), entry.http_status);
                // A key the file repeats is added again, so validation
                // reports the duplicate instead of the last one winning.
                let same = built_in.get(&key).copied().filter(|_| seen.insert(key));
                match same {
                    Some(row) => {
                        entries[row] = entry;
                        origins[row] = origin;
                    }
                    None => {
                        entries.push(entry);
                        origins.push(origin);
                    }
                }
            }
        }
        Self::from_entries(entries, origins)
    }

    fn from_entries(
        entries: Vec<CatalogEntry>,
        origins: Vec<Option<Location>>,
    ) -> Result<Self, CatalogError> {
        let mut problems = validate::check(&entries);
        if !problems.is_empty() {
            for problem in &mut problems {
                problem.location = origins.get(problem.entry).cloned().flatten();
            }
            return Err(CatalogError::Invalid(problems));
        }
        let mut names: FxHashMap<String, Name> = FxHashMap::default();
        let mut by_status: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (row, entry) in entries.iter().enumerate() {
            names
                .entry(normalize_code(&entry.code))
                .or_insert_with(|| Name {
                    rows: Vec::new(),
                    alias: false,
                })
                .rows
                .push(row);
            for alias in &entry.aliases {
                let name = names.entry(normalize_code(alias)).or_insert_with(|| Name {
                    rows: Vec::new(),
                    alias: true,
                });
                if !name.rows.contains(&row) {
                    name.rows.push(row);
                }
            }
            by_status.entry(entry.http_status).or_default().push(row);
        }
        let version = version_of(&entries);
        Ok(Self {
            entries,
            names,
            by_status,
            version,
            file: None,
        })
    }

    /// Marks the catalog as read from a file that held these bytes.
    pub fn read_from(mut self, file: file::Fingerprint) -> Self {
        self.file = Some(file);
        self
    }

    /// What the file the catalog was read from held, if it came from one.
    pub fn file(&self) -> Option<file::Fingerprint> {
        self.file
    }

    /// Every entry, in catalog order.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// The entry at a row index returned by a lookup.
    pub fn entry(&self, row: usize) -> &CatalogEntry {
        &self.entries[row]
    }

    /// A content hash of the entries in effect, to tell catalogs apart:
    /// equal catalogs have equal versions, whatever texts they came from.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Looks a code or alias up, ignoring surrounding white space and case.
    pub fn lookup(&self, code: &str) -> Option<CodeMatch<'_>> {
        let code = code.trim();
        // Codes are upper case as callers usually send them; fold a copy
        // only when they are not, on the stack when they fit.
        let found = if code.bytes().any(|b| b.is_ascii_lowercase()) {
            let mut folded = [0u8; FOLD_ON_STACK];
            match folded.get_mut(..code.len()) {
                Some(slot) => {
                    slot.copy_from_slice(code.as_bytes());
                    slot.make_ascii_uppercase();
                    std::str::from_utf8(slot)
                        .ok()
                        .and_then(|folded| self.names.get(folded))
                }
                None => self.names.get(&code.to_ascii_uppercase()),
            }
        } else {
            self.names.get(code)
        };
        found.map(|name| CodeMatch {
            rows: &name.rows,
            alias: name.alias,
        })
    }

    /// The row of a code (or alias) with a given HTTP status, if any.
    pub fn find(&self, code: &str, http_status: i32) -> Option<&CatalogEntry> {
        let found = self.lookup(code)?;
        found
            .rows
            .iter()
            .map(|&row| &self.entries[row])
            .find(|entry| entry.http_status == http_status)
    }

    /// Rows with a given HTTP status, in catalog order.
    pub fn rows_with_status(&self, http_status: i32) -> &[usize] {
        self.by_status
            .get(&http_status)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The known codes closest to an unknown one, best first, for "did you
    /// mean" answers. Aliases count, but the canonical code is reported.
    pub fn suggest(&self, code: &str, limit: usize) -> Vec<String> {
        let wanted = normalize_code(code);
        let mut scored: Vec<(f64, &str)> = self
            .names
            .iter()
            .map(|(name, found)| {
                let canonical = self.entries[found.rows[0]].code.as_str();
                (strsim::jaro_winkler(&wanted, name), canonical)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let mut out: Vec<String> = Vec::with_capacity(limit);
        for (_, canonical) in scored {
            if out.len() == limit {
                break;
            }
            if !out.iter().any(|c| c == canonical) {
                out.push(canonical.to_owned());
            }
        }
        out
    }
}

/// The catalog in service. Readers take a snapshot without locking and keep
/// it for a whole call (a batch sees one catalog throughout); replacing the
/// catalog swaps in a complete, validated one at once.
#[derive(Debug, Clone)]
pub struct SharedCatalog {
    current: Arc<ArcSwap<Catalog>>,
    reloads: Arc<ReloadStats>,
}

impl SharedCatalog {
    /// Puts `catalog` in service.
    pub fn new(catalog: Catalog) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(catalog)),
            reloads: Arc::default(),
        }
    }

    /// The catalog now in service.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// The catalog now in service, for the length of one call: cheaper
    /// than [`SharedCatalog::snapshot`], but not to be held for long.
    pub fn current(&self) -> arc_swap::Guard<Arc<Catalog>> {
        self.current.load()
    }

    /// Puts a new catalog in service; calls already running keep theirs.
    /// Returns the catalog replaced, for the caller to free when it likes.
    pub fn replace(&self, catalog: Catalog) -> Arc<Catalog> {
        let old = self.current.swap(Arc::new(catalog));
        // After the swap: whoever sees the new count sees the new catalog.
        self.reloads.succeeded.fetch_add(1, Ordering::Release);
        old
    }

    /// How many times the catalog has been replaced. Reading it costs a
    /// load, where [`SharedCatalog::current`] costs a guard: a holder of
    /// something derived from one catalog checks it on every call.
    pub fn generation(&self) -> u64 {
        self.reloads.succeeded.load(Ordering::Acquire)
    }

    /// Records a reload that failed, keeping the catalog in service.
    pub fn reload_failed(&self, why: String) {
        self.reloads.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.reloads.last_error.lock() {
            *last = why;
        }
    }

    /// How reloads have gone so far.
    pub fn reloads(&self) -> &ReloadStats {
        &self.reloads
    }
}

/// How long [`free_when_unshared`] waits for the last other holder.
const FREE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Frees something replaced (a catalog, the answers made from one) on this
/// thread once nothing else holds it, so its many small allocations are
/// not freed by a call on a serving thread; after `FREE_WAIT`, whoever
/// lets go of it last frees it.
pub fn free_when_unshared<T>(mut old: Arc<T>) {
    let deadline = std::time::Instant::now() + FREE_WAIT;
    while std::time::Instant::now() < deadline {
        match Arc::try_unwrap(old) {
            Ok(value) => return drop(value),
            Err(shared) => old = shared,
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Counts of reload outcomes, for metrics and tests.
#[derive(Debug, Default)]
pub struct ReloadStats {
    /// Catalogs put in service since the first.
    pub succeeded: AtomicU64,
    /// Reloads that kept the catalog in service.
    pub failed: AtomicU64,
    last_error: Mutex<String>,
}

impl ReloadStats {
    /// Why the last failed reload failed, if one has.
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }
}

/// Where each of a text's entries starts.
fn locate(source: &Source<'_>, offsets: &[usize], count: usize) -> Vec<Option<Location>> {
    let mut located = source.locations(offsets).into_iter();
    (0..count).map(|_| located.next()).collect()
}

fn refuse_too_many(source: &Source<'_>, entries: usize) -> Result<(), CatalogError> {
    if entries > MAX_FILE_ENTRIES {
        return Err(CatalogError::TooManyEntries {
            file: source.name.to_owned(),
            entries,
        });
    }
    Ok(())
}

/// The catalog's version: SHA-256 over the protobuf encoding of an
/// `errmap.v1.Catalog` holding the entries in effect, in catalog order
/// (prost encodes fields in field order, and an entry has no map fields,
/// so the encoding is canonical), as `sha256:` and 16 hex digits.
fn version_of(entries: &[CatalogEntry]) -> String {
    let mut hasher = Sha256::new();
    let mut field = Vec::new();
    for entry in entries {
        field.clear();
        // Field 1, `entries`, one entry at a time: the same bytes as the
        // whole message, without a copy of every entry.
        prost::encoding::message::encode(1, entry, &mut field);
        hasher.update(&field);
    }
    let digest = hasher.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::{normalize_code, Catalog};
    use proptest::prelude::*;

    /// The lookup folds case on the stack for speed; it must find exactly
    /// what a lookup of the allocated, folded code finds.
    fn same_as_folded(catalog: &Catalog, code: &str) {
        let fast = catalog.lookup(code).map(|f| (f.rows.to_vec(), f.alias));
        let slow = catalog
            .names
            .get(&normalize_code(code))
            .map(|n| (n.rows.clone(), n.alias));
        assert_eq!(fast, slow, "{code:?}");
    }

    #[test]
    fn lookup_folds_like_normalize_code() {
        let catalog = Catalog::embedded().expect("the embedded catalog loads");
        let long = format!("{}{}", "a".repeat(200), "apigw_nonce_conflict");
        for code in [
            "APIGW_NONCE_CONFLICT",
            " apigw_nonce_conflict\t",
            "Apigw_Key_Not_Exist",
            "apigw_nonce_conflıct",
            "ß_apigw",
            "",
            long.as_str(),
            &"x".repeat(128),
            &"x".repeat(129),
        ] {
            same_as_folded(&catalog, code);
        }
        for entry in catalog.entries() {
            same_as_folded(&catalog, &entry.code.to_lowercase());
        }
    }

    proptest! {
        #[test]
        fn any_code_folds_like_normalize_code(code in "\\PC{0,140}|[a-zA-Z_ ]{0,40}") {
            let catalog = Catalog::embedded().expect("the embedded catalog loads");
            same_as_folded(&catalog, &code);
        }
    }
}

//! The gateway's error catalog: parsed from protobuf text format, validated
//! as a whole, and indexed for lookups. Nothing here knows about gRPC
//! transport; the service layer turns these answers into responses.

pub mod source;
pub mod validate;

use crate::pb::errmap::v1::CatalogEntry;
use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use source::{Location, Source, CATALOG_MESSAGE};
pub use validate::{Problem, Rule};

/// The catalog built into the binary: every row of the gateway's three
/// error tables.
pub const EMBEDDED: &str = include_str!("../../catalog/catalog.textproto");

/// The name problems in the embedded catalog are reported under.
pub const EMBEDDED_NAME: &str = "embedded";

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
}

fn problems_list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

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
}

/// Codes up to this long are folded to upper case without allocating.
const FOLD_ON_STACK: usize = 128;

/// Folds a code the way every lookup does: surrounding white space and
/// letter case do not matter.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

impl Catalog {
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
        let entries = source.parse()?;
        let origins = locate(&source, entries.len());
        Self::from_entries(entries, origins, &version_of(&[text]))
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
        let mut entries = embedded.parse()?;
        let mut origins = locate(&embedded, entries.len());
        let mut texts = vec![EMBEDDED];
        if let Some(file) = overrides {
            texts.push(file.text);
            let added = file.parse()?;
            let added_origins = locate(&file, added.len());
            let mut seen = std::collections::HashSet::new();
            for (entry, origin) in added.into_iter().zip(added_origins) {
                let key = (normalize_code(&entry.code), entry.http_status);
                // A key the file repeats is added again, so validation
                // reports the duplicate instead of the last one winning.
                let same = seen
                    .insert(key.clone())
                    .then(|| {
                        entries
                            .iter()
                            .position(|e| (normalize_code(&e.code), e.http_status) == key)
                    })
                    .flatten();
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
        Self::from_entries(entries, origins, &version_of(&texts))
    }

    fn from_entries(
        entries: Vec<CatalogEntry>,
        origins: Vec<Option<Location>>,
        version: &str,
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
        Ok(Self {
            entries,
            names,
            by_status,
            version: version.to_owned(),
        })
    }

    /// Every entry, in catalog order.
    pub fn entries(&self) -> &[CatalogEntry] {
        &self.entries
    }

    /// The entry at a row index returned by a lookup.
    pub fn entry(&self, row: usize) -> &CatalogEntry {
        &self.entries[row]
    }

    /// A content hash of the catalog text, to tell catalogs apart.
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
    pub fn replace(&self, catalog: Catalog) {
        self.current.store(Arc::new(catalog));
        // After the store: whoever sees the new count sees the new catalog.
        self.reloads.succeeded.fetch_add(1, Ordering::Release);
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
fn locate(source: &Source<'_>, count: usize) -> Vec<Option<Location>> {
    let offsets = source.entry_offsets();
    (0..count)
        .map(|i| offsets.get(i).map(|&offset| source.location(offset)))
        .collect()
}

/// A content hash over every text the catalog was built from.
fn version_of(texts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for text in texts {
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
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

//! Any string as a gateway code: normalization is idempotent, and lookups
//! and "did you mean" suggestions on the embedded catalog never panic and
//! only ever name codes the catalog has.

#![no_main]

use errmap::catalog::{normalize_code, Catalog};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// Parsed once: the catalog is the fixed backdrop, not the input.
static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::embedded().expect("the embedded catalog loads"));

fuzz_target!(|data: &[u8]| {
    // Codes reach the service as protobuf strings, which are UTF-8.
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = &*CATALOG;
    let once = normalize_code(code);
    assert_eq!(
        normalize_code(&once),
        once,
        "normalizing twice changes {code:?}"
    );

    let found = catalog.lookup(code);
    let found_normalized = catalog.lookup(&once);
    assert_eq!(
        found.map(|f| (f.rows, f.alias)),
        found_normalized.map(|f| (f.rows, f.alias)),
        "lookup of {code:?} and of its normal form {once:?} differ"
    );
    if let Some(found) = found {
        assert!(!found.rows.is_empty(), "{code:?} matched no rows");
        for &row in found.rows {
            let entry = catalog.entry(row);
            let names_it = normalize_code(&entry.code) == once
                || entry.aliases.iter().any(|a| normalize_code(a) == once);
            assert!(names_it, "{code:?} matched row {row} ({})", entry.code);
        }
    }

    for limit in [0, 1, 3] {
        let suggestions = catalog.suggest(code, limit);
        assert!(suggestions.len() <= limit, "{code:?}: {suggestions:?}");
        for (i, suggestion) in suggestions.iter().enumerate() {
            assert!(
                catalog.entries().iter().any(|e| &e.code == suggestion),
                "{code:?}: suggestion {suggestion:?} is not a catalog code"
            );
            assert!(
                !suggestions[..i].contains(suggestion),
                "{code:?}: {suggestion:?} is suggested twice"
            );
        }
    }
});

//! Any UTF-8 text handed to the catalog parser: it answers Ok or Err and
//! never panics, and a catalog it accepts can find each of its own rows.

#![no_main]

use errmap::catalog::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Catalog files are read as UTF-8 before parsing, so other bytes never
    // reach the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(catalog) = Catalog::parse(text) else {
        return;
    };
    assert!(
        !catalog.entries().is_empty(),
        "an accepted catalog has rows"
    );
    for (row, entry) in catalog.entries().iter().enumerate() {
        let found = catalog
            .lookup(&entry.code)
            .unwrap_or_else(|| panic!("row {row}: code {:?} is not found", entry.code));
        assert!(
            found.rows.contains(&row),
            "row {row}: lookup of {:?} gives rows {:?}",
            entry.code,
            found.rows
        );
        assert!(!found.alias, "row {row}: its own code matched as an alias");
        // (code, http_status) is the catalog's key, so it names this row.
        let exact = catalog.find(&entry.code, entry.http_status);
        assert!(
            exact.is_some_and(|e| std::ptr::eq(e, entry)),
            "row {row}: find({:?}, {}) picks another row",
            entry.code,
            entry.http_status
        );
        for alias in &entry.aliases {
            let by_alias = catalog
                .lookup(alias)
                .unwrap_or_else(|| panic!("row {row}: alias {alias:?} is not found"));
            assert!(
                by_alias.alias,
                "row {row}: alias {alias:?} matched as a code"
            );
            assert!(
                by_alias.rows.contains(&row),
                "row {row}: alias {alias:?} gives rows {:?}",
                by_alias.rows
            );
        }
    }
});

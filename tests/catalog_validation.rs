//! A bad catalog is refused whole, with every problem named; the embedded
//! one loads.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use errmap::catalog::{Catalog, CatalogError, Rule, Source};

const GOOD: &str = r#"
entries {
  code: "ONE"
  http_status: 400
  table: TABLE_COMMON
  grpc_code: INVALID_ARGUMENT
  message: "参数 argument 不支持"
  message_en: "Parameter argument is not supported"
  placeholders: "argument"
}
"#;

fn entry(code: &str, status: i32, grpc: &str, extra: &str) -> String {
    format!(
        "entries {{ code: {code:?} http_status: {status} table: TABLE_SDK grpc_code: {grpc} \
         message: \"m\" message_en: \"m\" {extra} }}\n"
    )
}

fn rules(text: &str) -> Vec<Rule> {
    match Catalog::parse(text) {
        Err(CatalogError::Invalid(problems)) => problems.into_iter().map(|p| p.rule).collect(),
        Err(other) => panic!("expected validation problems, got {other}"),
        Ok(_) => panic!("expected the catalog to be refused"),
    }
}

#[test]
fn the_embedded_catalog_loads_with_82_entries() {
    let catalog = Catalog::embedded().expect("embedded catalog is valid");
    assert_eq!(catalog.entries().len(), 82);
    assert!(catalog.version().starts_with("sha256:"));
}

#[test]
fn a_small_valid_catalog_loads() {
    let catalog = Catalog::parse(GOOD).expect("valid");
    assert_eq!(catalog.entries().len(), 1);
    assert!(catalog.lookup(" one ").is_some());
}

#[test]
fn duplicate_keys_are_refused_but_one_code_may_have_two_statuses() {
    let twice = entry("A", 400, "INVALID_ARGUMENT", "") + &entry("a", 400, "ABORTED", "");
    assert_eq!(rules(&twice), vec![Rule::DuplicateKey]);
    let two_statuses = entry("A", 400, "INVALID_ARGUMENT", "") + &entry("A", 409, "ABORTED", "");
    assert!(Catalog::parse(&two_statuses).is_ok());
}

#[test]
fn status_grpc_code_and_table_must_be_in_range() {
    assert_eq!(
        rules(&entry("A", 99, "OK", "")),
        vec![Rule::StatusOutOfRange]
    );
    assert_eq!(
        rules(&entry("A", 600, "OK", "")),
        vec![Rule::StatusOutOfRange]
    );
    assert_eq!(
        rules(&entry("A", 400, "17", "")),
        vec![Rule::UnknownGrpcCode]
    );
    let no_table = "entries { code: \"A\" http_status: 400 message: \"m\" message_en: \"m\" }";
    assert_eq!(rules(no_table), vec![Rule::UnknownTable]);
}

#[test]
fn aliases_collide_with_no_other_code() {
    let text = entry("A", 400, "OK", "aliases: \"b\"") + &entry("B", 400, "OK", "");
    assert_eq!(rules(&text), vec![Rule::AliasCollision]);
    let text = entry("A", 400, "OK", "aliases: \"X\"") + &entry("B", 400, "OK", "aliases: \"x\"");
    assert_eq!(rules(&text), vec![Rule::AliasCollision]);
    let text = entry("A", 400, "OK", "aliases: \"a\"");
    assert_eq!(rules(&text), vec![Rule::AliasCollision]);
}

#[test]
fn placeholders_must_match_the_message() {
    let undeclared = r#"entries { code: "A" http_status: 400 table: TABLE_SDK grpc_code: OK
        message: "资源 resource 不存在" message_en: "Object missing" }"#;
    assert_eq!(rules(undeclared), vec![Rule::UndeclaredPlaceholder]);
    let missing = r#"entries { code: "A" http_status: 400 table: TABLE_SDK grpc_code: OK
        message: "不存在" message_en: "missing" placeholders: "resource" }"#;
    assert_eq!(
        rules(missing),
        vec![Rule::MissingPlaceholder, Rule::MissingPlaceholder]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = entry("A", 99, "OK", "") + &entry("B", 700, "42", "") + &entry("A", 99, "OK", "");
    let found = rules(&text);
    assert_eq!(
        found
            .iter()
            .filter(|r| **r == Rule::StatusOutOfRange)
            .count(),
        3
    );
    assert!(found.contains(&Rule::UnknownGrpcCode));
    assert!(found.contains(&Rule::DuplicateKey));
    let message = Catalog::parse(&text).expect_err("invalid").to_string();
    assert!(message.contains("catalog:2:1: \"B\""), "{message}");
}

#[test]
fn syntax_errors_and_empty_catalogs_are_refused() {
    match Catalog::parse("entries {\n  code: \"A\"\n  http_status: 4OO\n}") {
        Err(CatalogError::Syntax { location, .. }) => {
            assert_eq!((location.line, location.column), (3, 16), "{location}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(matches!(
        Catalog::parse("nonsense: 1"),
        Err(CatalogError::Syntax { .. })
    ));
    assert_eq!(rules(""), vec![Rule::EmptyCatalog]);
}

fn overlay(text: &str) -> Result<Catalog, CatalogError> {
    Catalog::load(Some(Source {
        name: "custom.textproto",
        text,
    }))
}

#[test]
fn a_file_overrides_built_in_rows_by_key_and_adds_new_ones() {
    let embedded = Catalog::embedded().expect("embedded");
    let text = entry("unavailable", 503, "UNAVAILABLE", "")
        + &entry(
            "MY_NEW_CODE",
            418,
            "FAILED_PRECONDITION",
            "aliases: \"MY_OLD_CODE\"",
        );
    let catalog = overlay(&text).expect("valid overlay");
    assert_eq!(catalog.entries().len(), 83);
    let replaced = catalog.find("UNAVAILABLE", 503).expect("still there");
    assert_eq!(replaced.message, "m");
    let position = |c: &Catalog, code: &str| {
        c.entries()
            .iter()
            .position(|e| e.code.eq_ignore_ascii_case(code))
    };
    assert_eq!(
        position(&catalog, "UNAVAILABLE"),
        position(&embedded, "UNAVAILABLE"),
        "replaced in place"
    );
    assert_eq!(
        catalog.entries()[82].code,
        "MY_NEW_CODE",
        "added after the built-in rows"
    );
    assert!(catalog.lookup("my_old_code").is_some());
    assert_ne!(catalog.version(), embedded.version());
}

#[test]
fn overlay_problems_point_at_the_file() {
    let text = format!(
        "# custom\n\n{}{}",
        entry("A", 400, "OK", ""),
        entry("A", 400, "OK", "")
    );
    match overlay(&text) {
        Err(CatalogError::Invalid(problems)) => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].rule, Rule::DuplicateKey);
            let location = problems[0].location.as_ref().expect("located");
            assert_eq!(
                (location.source.as_str(), location.line),
                ("custom.textproto", 4)
            );
            assert!(problems[0]
                .to_string()
                .starts_with("custom.textproto:4:1: "));
        }
        other => panic!("expected problems, got {other:?}"),
    }
    let collision = entry("NEW", 400, "OK", "aliases: \"APIGW_NONCE_CONFLICT\"");
    let message = overlay(&collision)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("alias-collision"), "{message}");
}

#[test]
fn an_empty_or_comment_only_file_is_refused() {
    for text in ["", "\n\n", "# all entries removed\n"] {
        match overlay(text) {
            Err(CatalogError::EmptyFile { file }) => assert_eq!(file, "custom.textproto"),
            other => panic!("{text:?}: expected the empty file to be refused, got {other:?}"),
        }
    }
}

#[test]
fn the_version_is_the_hash_of_the_entries_in_effect() {
    let embedded = Catalog::embedded().expect("embedded");
    let over_itself = overlay(errmap::catalog::EMBEDDED).expect("the embedded text is valid");
    assert_eq!(over_itself.entries(), embedded.entries());
    assert_eq!(over_itself.version(), embedded.version());
    // The same rows, written differently, are the same catalog.
    let written = entry("UNAVAILABLE", 503, "UNAVAILABLE", "");
    let rewritten = format!(
        "# a comment\n{}\n",
        written.replace(' ', "\n    ").replace("\"m\"", "'m'")
    );
    let a = overlay(&written).expect("valid");
    let b = overlay(&rewritten).expect("valid");
    assert_eq!(a.version(), b.version());
    assert_ne!(a.version(), embedded.version());
    assert!(a.version().starts_with("sha256:") && a.version().len() == 23);
    // Standalone, the same text is the same catalog too.
    assert_eq!(
        Catalog::parse(GOOD).expect("valid").version(),
        Catalog::parse(&format!("\n\n{GOOD}# end\n"))
            .expect("valid")
            .version()
    );
}

#[test]
fn syntax_errors_quote_only_a_short_printable_excerpt() {
    let secret = format!("s3cret_{}", "x".repeat(10_000));
    for text in [
        format!("{secret}: 1\n"),
        format!("entries {{ {secret} }}"),
        format!("entries {{ code: \"A\" table: {secret} }}"),
        format!("entries {{ http_status: {} }}", "9".repeat(5_000)),
        format!("entries {{ code: \"A\" }} \"\u{7}{secret}\""),
    ] {
        let err = overlay(&text).expect_err("not a catalog");
        let message = err.to_string();
        assert!(matches!(err, CatalogError::Syntax { .. }), "{message}");
        assert!(
            message.len() < 300,
            "{} bytes: {message:.400}",
            message.len()
        );
        assert!(!message.chars().any(char::is_control), "{message:?}");
        assert!(!message.contains(&"x".repeat(40)), "{message:.400}");
    }
}

#[test]
fn text_fields_aliases_and_placeholders_are_bounded() {
    use errmap::catalog::limits::{MAX_TEXT_BYTES, MAX_VALUES_PER_FIELD};
    let long = "m".repeat(MAX_TEXT_BYTES + 1);
    let text = format!(
        "entries {{ code: \"A\" http_status: 400 table: TABLE_SDK grpc_code: OK \
         message: {long:?} message_en: \"m\" }}"
    );
    assert_eq!(rules(&text), vec![Rule::TextTooLong]);
    let message = Catalog::parse(&text).expect_err("refused").to_string();
    assert!(message.contains(&MAX_TEXT_BYTES.to_string()), "{message}");
    assert!(message.contains("message is"), "{message}");
    let at_limit = text.replace(&long, &long[1..]);
    assert!(Catalog::parse(&at_limit).is_ok());

    let aliases: String = (0..=MAX_VALUES_PER_FIELD)
        .map(|i| format!("aliases: \"ALIAS_{i}\" "))
        .collect();
    assert_eq!(
        rules(&entry("A", 400, "OK", &aliases)),
        vec![Rule::TooManyValues]
    );
    let code = "C".repeat(100_000);
    let message = Catalog::parse(&entry(&code, 400, "OK", ""))
        .expect_err("refused")
        .to_string();
    assert!(message.len() < 300, "{message:.400}");
}

#[test]
fn a_file_may_hold_at_most_the_entry_limit() {
    use errmap::catalog::limits::MAX_FILE_ENTRIES;
    let text = "entries {}\n".repeat(MAX_FILE_ENTRIES + 1);
    match overlay(&text) {
        Err(CatalogError::TooManyEntries { entries, .. }) => {
            assert_eq!(entries, MAX_FILE_ENTRIES + 1)
        }
        other => panic!("expected the entry limit, got {:?}", other.map(|_| ())),
    }
    let message = overlay(&text).expect_err("refused").to_string();
    assert!(message.contains(&MAX_FILE_ENTRIES.to_string()), "{message}");
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    use errmap::catalog::limits::MAX_FILE_BYTES;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.textproto");
    let size = usize::try_from(MAX_FILE_BYTES).expect("fits") + 1;
    std::fs::write(&path, "#".repeat(size)).expect("write");
    let message = errmap::catalog::Catalog::load_file(&path)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(message.contains(&MAX_FILE_BYTES.to_string()), "{message}");
    assert!(message.contains("big.textproto"), "{message}");
    let not_text = dir.path().join("binary");
    std::fs::write(&not_text, [0xff, 0xfe, 0x00]).expect("write");
    let message = errmap::catalog::Catalog::load_file(&not_text)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(message.contains("not UTF-8"), "{message}");
}

#[test]
fn a_large_file_loads_with_every_entry_located() {
    let count = 20_000;
    let text: String = (0..count)
        .map(|i| entry(&format!("CODE_{i}"), 400 + (i % 100) as i32, "OK", ""))
        .collect::<String>()
        + &entry("CODE_0", 400, "OK", "");
    match overlay(&text) {
        Err(CatalogError::Invalid(problems)) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].rule, Rule::DuplicateKey);
            let location = problems[0].location.as_ref().expect("located");
            assert_eq!(location.line, count + 1);
        }
        other => panic!("expected the duplicate, got {:?}", other.map(|_| ())),
    }
    let catalog =
        overlay(&text[..text.len() - entry("CODE_0", 400, "OK", "").len()]).expect("valid");
    assert_eq!(catalog.entries().len(), 82 + count);
    assert!(catalog.find("code_19999", 499).is_some());
}

//! The rules a catalog must follow before it may serve. All problems are
//! collected, so a broken file is fixed in one pass rather than one error
//! at a time.

use super::code::normalize_code;
use super::excerpt::quoted;
use super::limits::{MAX_TEXT_BYTES, MAX_VALUES_PER_FIELD};
use super::source::Location;
use crate::pb::errmap::v1::{CatalogEntry, Table};
use crate::pb::google::rpc::Code;
use rustc_hash::FxHashMap;
use std::fmt;

/// Placeholder words the gateway's messages use. A message that contains one
/// of them as a word must declare it, so no template goes unnoticed.
pub const PLACEHOLDER_WORDS: &[&str] = &[
    "argument",
    "resource",
    "permission",
    "method",
    "param",
    "format",
];

/// The longest code a catalog may hold; requests are held to the same bound.
pub const MAX_CODE_LEN: usize = 128;

/// The rule a problem breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The catalog has no entries.
    EmptyCatalog,
    /// A code or alias is not a usable code.
    BadCode,
    /// Two entries share a code and HTTP status.
    DuplicateKey,
    /// An HTTP status outside 100-599.
    StatusOutOfRange,
    /// A gRPC code outside `google.rpc.Code`.
    UnknownGrpcCode,
    /// A table that is none of the three.
    UnknownTable,
    /// An entry without its (Chinese) message.
    EmptyMessage,
    /// An alias that names another code, or another entry's alias.
    AliasCollision,
    /// A text holds a placeholder word the entry does not declare.
    UndeclaredPlaceholder,
    /// A declared placeholder does not appear exactly once.
    MissingPlaceholder,
    /// An English text missing where the Chinese one is set.
    MissingEnglish,
    /// An English message that is not ASCII.
    NonAsciiEnglish,
    /// A text field over its length limit.
    TextTooLong,
    /// More aliases or placeholders than an entry may have.
    TooManyValues,
}

impl Rule {
    /// The rule's name, as problems are reported.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::EmptyCatalog => "empty-catalog",
            Rule::BadCode => "bad-code",
            Rule::DuplicateKey => "duplicate-key",
            Rule::StatusOutOfRange => "status-out-of-range",
            Rule::UnknownGrpcCode => "unknown-grpc-code",
            Rule::UnknownTable => "unknown-table",
            Rule::EmptyMessage => "empty-message",
            Rule::AliasCollision => "alias-collision",
            Rule::UndeclaredPlaceholder => "undeclared-placeholder",
            Rule::MissingPlaceholder => "missing-placeholder",
            Rule::MissingEnglish => "missing-english",
            Rule::NonAsciiEnglish => "non-ascii-english",
            Rule::TextTooLong => "text-too-long",
            Rule::TooManyValues => "too-many-values",
        }
    }
}

/// One broken rule, located by entry index (0-based, in the merged
/// catalog), code and, where known, its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The entry's index in the merged catalog.
    pub entry: usize,
    /// The entry's code, as written.
    pub code: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong, in words.
    pub detail: String,
    /// Where the entry starts in its text, when known.
    pub location: Option<Location>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            return write!(
                f,
                "{location}: {}: {} [{}]",
                quoted(&self.code),
                self.detail,
                self.rule.as_str()
            );
        }
        write!(
            f,
            "entry #{} ({}): {} [{}]",
            self.entry + 1,
            quoted(&self.code),
            self.detail,
            self.rule.as_str()
        )
    }
}

/// Checks every rule over every entry.
pub fn check(entries: &[CatalogEntry]) -> Vec<Problem> {
    let mut problems = Vec::new();
    if entries.is_empty() {
        problems.push(Problem {
            entry: 0,
            code: String::new(),
            rule: Rule::EmptyCatalog,
            detail: "the catalog has no entries".into(),
            location: None,
        });
    }
    for (index, entry) in entries.iter().enumerate() {
        let mut report = |rule, detail: String| {
            problems.push(Problem {
                entry: index,
                code: entry.code.clone(),
                rule,
                detail,
                location: None,
            })
        };
        check_entry(entry, &mut report);
    }
    check_keys(entries, &mut problems);
    problems
}

fn check_entry(entry: &CatalogEntry, report: &mut impl FnMut(Rule, String)) {
    if let Err(why) = check_code_text(&entry.code) {
        report(Rule::BadCode, format!("code {why}"));
    }
    for alias in &entry.aliases {
        if let Err(why) = check_code_text(alias) {
            report(Rule::BadCode, format!("alias {} {why}", quoted(alias)));
        }
    }
    if !(100..=599).contains(&entry.http_status) {
        report(
            Rule::StatusOutOfRange,
            format!("http_status must be 100-599, got {}", entry.http_status),
        );
    }
    if Code::try_from(entry.grpc_code).is_err() {
        report(
            Rule::UnknownGrpcCode,
            format!(
                "grpc_code must be a google.rpc.Code, 0-16, got {}",
                entry.grpc_code
            ),
        );
    }
    match Table::try_from(entry.table) {
        Ok(Table::Unspecified) | Err(_) => report(
            Rule::UnknownTable,
            format!(
                "table must be TABLE_SDK, TABLE_COMMON or TABLE_CONSOLE, got {}",
                entry.table
            ),
        ),
        Ok(_) => {}
    }
    if entry.message.trim().is_empty() {
        report(Rule::EmptyMessage, "message is empty".into());
    }
    if entry.message_en.trim().is_empty() {
        report(Rule::MissingEnglish, "message_en is empty".into());
    }
    // message_en becomes the status message, which travels in the
    // grpc-message header: ASCII reads the same in every client.
    if !entry.message_en.is_ascii() {
        report(Rule::NonAsciiEnglish, "message_en must be ASCII".into());
    }
    if entry.solution_en.trim().is_empty() != entry.solution.trim().is_empty() {
        report(
            Rule::MissingEnglish,
            "solution_en must be set exactly when solution is".into(),
        );
    }
    check_lengths(entry, report);
    if entry.placeholders.len() <= MAX_VALUES_PER_FIELD {
        check_placeholders(entry, report);
    }
}

/// Text fields are bounded, so one mistaken field cannot fill the memory
/// of every reply that carries it.
fn check_lengths(entry: &CatalogEntry, report: &mut impl FnMut(Rule, String)) {
    let fields = [
        ("message", &entry.message),
        ("message_en", &entry.message_en),
        ("solution", &entry.solution),
        ("solution_en", &entry.solution_en),
    ];
    let placeholders = entry.placeholders.iter().map(|p| ("placeholders", p));
    for (field, values) in [
        ("aliases", entry.aliases.len()),
        ("placeholders", entry.placeholders.len()),
    ] {
        if values > MAX_VALUES_PER_FIELD {
            report(
                Rule::TooManyValues,
                format!(
                    "{field} has {values} values, more than the limit of {MAX_VALUES_PER_FIELD}"
                ),
            );
        }
    }
    for (field, text) in fields.into_iter().chain(placeholders) {
        if text.len() > MAX_TEXT_BYTES {
            report(
                Rule::TextTooLong,
                format!(
                    "{field} is {} bytes, longer than the limit of {MAX_TEXT_BYTES} bytes",
                    text.len()
                ),
            );
        }
    }
}

fn check_code_text(code: &str) -> Result<(), String> {
    if code.is_empty() {
        return Err("is empty".into());
    }
    if code.len() > MAX_CODE_LEN {
        return Err(format!("is longer than {MAX_CODE_LEN} bytes"));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return Err("may hold only ASCII letters, digits, '_', '-' and '.'".into());
    }
    Ok(())
}

/// The ASCII words of a text: placeholders are ASCII words set in Chinese
/// text, so "某format" holds the word "format" but "Parameter" is not "param".
pub fn ascii_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|word| !word.is_empty())
}

fn check_placeholders(entry: &CatalogEntry, report: &mut impl FnMut(Rule, String)) {
    for (field, text) in [
        ("message", &entry.message),
        ("message_en", &entry.message_en),
    ] {
        if field == "message_en" && text.is_empty() {
            continue;
        }
        // Exactly once: a value fills every occurrence, so a placeholder
        // word that also serves as an ordinary word would be replaced too.
        for declared in &entry.placeholders {
            let count = ascii_words(text).filter(|word| word == declared).count();
            if count != 1 {
                report(
                    Rule::MissingPlaceholder,
                    format!(
                        "placeholder {} must appear exactly once in {field}, found {count}",
                        quoted(declared)
                    ),
                );
            }
        }
        for word in ascii_words(text) {
            if PLACEHOLDER_WORDS.contains(&word) && !entry.placeholders.iter().any(|p| p == word) {
                report(
                    Rule::UndeclaredPlaceholder,
                    format!("{field} contains placeholder word {word:?} but placeholders does not declare it"),
                );
            }
        }
    }
}

/// Keys (code, HTTP status) are unique, and every alias names one code only.
/// FxHash, as for the catalog's index: the keys are the operator's file's,
/// and it hashes short codes several times faster than SipHash.
fn check_keys(entries: &[CatalogEntry], problems: &mut Vec<Problem>) {
    let mut keys: FxHashMap<(String, i32), usize> = FxHashMap::default();
    let mut codes: FxHashMap<String, usize> = FxHashMap::default();
    for (index, entry) in entries.iter().enumerate() {
        let code = normalize_code(&entry.code);
        if let Some(first) = keys.insert((code.clone(), entry.http_status), index) {
            problems.push(Problem {
                entry: index,
                code: entry.code.clone(),
                rule: Rule::DuplicateKey,
                detail: format!(
                    "code and http_status {} repeat entry #{}",
                    entry.http_status,
                    first + 1
                ),
                location: None,
            });
        }
        codes.entry(code).or_insert(index);
    }
    let mut aliases: FxHashMap<String, usize> = FxHashMap::default();
    for (index, entry) in entries.iter().enumerate() {
        let own = normalize_code(&entry.code);
        for alias in &entry.aliases {
            let name = normalize_code(alias);
            let clash = if name == own {
                Some("is the entry's own code".to_owned())
            } else if let Some(&other) = codes.get(&name) {
                Some(format!("is the code of entry #{}", other + 1))
            } else {
                match aliases.get(&name) {
                    Some(&other) if normalize_code(&entries[other].code) != own => {
                        Some(format!("is also an alias of entry #{}", other + 1))
                    }
                    _ => None,
                }
            };
            if let Some(clash) = clash {
                problems.push(Problem {
                    entry: index,
                    code: entry.code.clone(),
                    rule: Rule::AliasCollision,
                    detail: format!("alias {} {clash}", quoted(alias)),
                    location: None,
                });
            }
            aliases.entry(name).or_insert(index);
        }
    }
}

//! Writes a changed document back as YAML that every Kubernetes tool reads
//! the same way.
//!
//! Kubernetes reads YAML 1.1 (Go's yaml.v2 under kubectl), where a plain
//! `on`, `y` or `0644` is a boolean or a number; the parser here follows
//! YAML 1.2, where they are strings. So a string is written plain only when
//! it is a string under both versions and safe anywhere in block context;
//! every other string is quoted. Block style throughout, lists indented
//! under their key as people write manifests.

use serde_norway::{Mapping, Number, Value};
use std::fmt::Write;

/// Why a value cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("a mapping key that is itself a list or a mapping cannot be written back")]
    ComplexKey,
}

/// The document `value` as YAML text, ending in a line break.
pub fn document(value: &Value) -> Result<String, EmitError> {
    let mut out = String::new();
    match value {
        Value::Mapping(map) if !map.is_empty() => mapping(&mut out, map, 0)?,
        Value::Sequence(items) if !items.is_empty() => sequence(&mut out, items, 0)?,
        other => {
            // A scalar or an empty collection: the child form after a key,
            // without its leading space.
            let mut line = String::new();
            child(&mut line, other, 0)?;
            out.push_str(line.trim_start_matches(' '));
        }
    }
    Ok(out)
}

fn indent(out: &mut String, width: usize) {
    out.extend(std::iter::repeat_n(' ', width));
}

fn mapping(out: &mut String, map: &Mapping, width: usize) -> Result<(), EmitError> {
    for (key, value) in map {
        indent(out, width);
        out.push_str(&key_text(key)?);
        out.push(':');
        child(out, value, width)?;
    }
    Ok(())
}

fn sequence(out: &mut String, items: &[Value], width: usize) -> Result<(), EmitError> {
    for item in items {
        indent(out, width);
        out.push('-');
        match item {
            // A collection's first line goes on the dash's line.
            Value::Mapping(map) if !map.is_empty() => {
                let mut block = String::new();
                mapping(&mut block, map, width + 2)?;
                out.push(' ');
                out.push_str(&block[width + 2..]);
            }
            Value::Sequence(inner) if !inner.is_empty() => {
                let mut block = String::new();
                sequence(&mut block, inner, width + 2)?;
                out.push(' ');
                out.push_str(&block[width + 2..]);
            }
            other => child(out, other, width)?,
        }
    }
    Ok(())
}

/// Writes `value` as the value of a key (or list item) at `width`: on the
/// same line after a space, or on the lines below, indented.
fn child(out: &mut String, value: &Value, width: usize) -> Result<(), EmitError> {
    match value {
        Value::Mapping(map) if map.is_empty() => out.push_str(" {}\n"),
        Value::Sequence(items) if items.is_empty() => out.push_str(" []\n"),
        Value::Mapping(map) => {
            out.push('\n');
            mapping(out, map, width + 2)?;
        }
        Value::Sequence(items) => {
            out.push('\n');
            sequence(out, items, width + 2)?;
        }
        Value::Tagged(tagged) => {
            let _ = write!(out, " {}", tagged.tag);
            child(out, &tagged.value, width)?;
        }
        Value::String(text) => {
            out.push(' ');
            string(out, text, width + 2);
            out.push('\n');
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    Ok(())
}

fn key_text(key: &Value) -> Result<String, EmitError> {
    match key {
        Value::String(text) if text.contains(['\n', '\r']) => Ok(double_quoted(text)),
        Value::String(text) => {
            let mut out = String::new();
            string(&mut out, text, 0);
            Ok(out)
        }
        Value::Mapping(_) | Value::Sequence(_) | Value::Tagged(_) => Err(EmitError::ComplexKey),
        scalar => Ok(scalar_text(scalar)),
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        // Collections and strings are written by their callers.
        _ => String::new(),
    }
}

/// A number as both YAML versions read it: a float keeps a `.` and a
/// signed exponent (YAML 1.1 wants both).
fn number(n: &Number) -> String {
    let text = n.to_string();
    if !n.is_f64() || text.starts_with(['.', '-', '+']) && text.contains("inf") || text == ".nan" {
        return text;
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m.to_owned(), Some(e.to_owned())),
        None => (text.clone(), None),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
    } else {
        format!("{mantissa}.0")
    };
    match exponent {
        None => mantissa,
        Some(e) if e.starts_with(['-', '+']) => format!("{mantissa}e{e}"),
        Some(e) => format!("{mantissa}e+{e}"),
    }
}

/// Writes a string: plain when safe, as a literal block when it spans
/// lines (its lines at `width`), else quoted.
fn string(out: &mut String, text: &str, width: usize) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else if let Some(chomp) = literal_chomp(text) {
        out.push('|');
        out.push_str(chomp);
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, width);
                out.push_str(line);
            }
        }
    } else if text.chars().any(needs_escape) || !text.contains(['"', '\\']) {
        out.push_str(&double_quoted(text));
    } else {
        // Quotes or backslashes, such as JSON: easier to read unescaped.
        out.push('\'');
        out.push_str(&text.replace('\'', "''"));
        out.push('\'');
    }
}

/// Characters a single-quoted or plain scalar cannot hold as they are.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// The chomping indicator for `text` as a literal block, if it can be one:
/// it holds a line break and some text, nothing that needs escaping, does
/// not start with white space (the block's indentation is read from its
/// first line), and ends in at most one line break.
fn literal_chomp(text: &str) -> Option<&'static str> {
    let body = text.strip_suffix('\n');
    let lines = body.unwrap_or(text);
    let fits = text.contains('\n')
        && !lines.is_empty()
        && !lines.starts_with([' ', '\t', '\n'])
        && !lines.ends_with('\n')
        && !lines
            .chars()
            .any(|c| c != '\n' && c != '\t' && needs_escape(c))
        && !lines.split('\n').any(|line| line.ends_with([' ', '\t']));
    match (fits, body) {
        (false, _) => None,
        (true, Some(_)) => Some(""),
        (true, None) => Some("-"),
    }
}

fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words YAML 1.1 or 1.2 read as a boolean or null, and the 1.1 merge and
/// value keys.
const SPECIAL_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "<<",
    "=",
];

/// Whether `text` reads back as this very string, plain, under YAML 1.1
/// and 1.2 alike, anywhere a block scalar may stand.
pub fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if text.trim() != text
        || text.chars().any(needs_escape)
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || SPECIAL_WORDS.contains(&text)
    {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    if matches!(lower.trim_start_matches('+'), ".inf" | ".nan") {
        return false;
    }
    // Anything that starts like a number and holds nothing but what
    // numbers, sexagesimals and timestamps of either version are made of
    // is quoted: "10s" and "16Mi" stay plain, "1_000", "0x1F",
    // "127.0.0.1:8080" and "2026-01-02T03:04:05Z" do not.
    if first.is_ascii_digit() || first == '+' || first == '.' {
        let numeric = text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoO_+-.:tTzZ ".contains(c));
        if numeric {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn strings_that_could_read_otherwise_are_quoted() {
        for text in [
            "on",
            "Off",
            "y",
            "N",
            "yes",
            "~",
            "null",
            "true",
            "0644",
            "1_000",
            "0x1F",
            "1e3",
            "1:30",
            ".5",
            ".inf",
            "+12",
            "2026-11-02",
            "2026-11-02T08:15:00Z",
            "127.0.0.1:50051",
            "",
            " a",
            "a ",
            "- a",
            "a: b",
            "a #b",
            "{\"a\":1}",
            "<<",
            "=",
            "@x",
            "!x",
            "*x",
            "&x",
            "%x",
        ] {
            assert!(!is_plain_safe(text), "{text:?}");
        }
        for text in [
            "10s",
            "16Mi",
            "200m",
            "IfNotPresent",
            "/etc/errmap",
            "registry.example.com/errmap:0.1.0",
            "a:b",
            "a#b",
            "ünïcode",
            "1.0-rc1x",
            ".hidden",
            "example.com/owner",
        ] {
            assert!(is_plain_safe(text), "{text:?}");
        }
    }

    #[test]
    fn documents_read_back_the_same() {
        let source = "a: 'on'\nb: '0644'\nc: \"x\\ty\"\nd: |\n  line 1\n\n  line 3\ne: \"no\\nend\"\n\
                      f: [1, 2.5, -3, 1.0e+20, .inf, null, true]\ng: {}\nh: []\ni: !custom {x: 1}\n\
                      j: [[1, 2], [], {k: v, l: [m]}]\nk: \"'q'\"\nl: \" lead\\nx\"\nm: \"\\u00e9\\u0085\"\n\
                      n: '{\"a\":\"b\"}'\n\"on\": 1\n2: two\no: \"{\\\"a\\\": 1}\\n\"\np: \"\\n\"\n";
        let value = yaml(source);
        let text = document(&value).unwrap();
        assert_eq!(yaml(&text), value, "{text}");
        assert!(
            text.contains("a: \"on\"\n")
                && text.contains("d: |\n  line 1\n\n  line 3\ne: |-\n  no\n  end\n"),
            "{text}"
        );
        assert!(text.contains("\"on\": 1\n"), "{text}");
        // "n" is a YAML 1.1 boolean, as a key too.
        assert!(text.contains("\"n\": '{\"a\":\"b\"}'\n"), "{text}");
        assert!(text.contains("k: \"'q'\"\n"), "{text}");
        // JSON with a final line break, as kubectl's last-applied annotation.
        assert!(text.contains("o: |\n  {\"a\": 1}\np: \"\\n\"\n"), "{text}");
        assert!(text.contains("f:\n  - 1\n  - 2.5\n"), "{text}");
        // Written again, the same text.
        assert_eq!(document(&yaml(&text)).unwrap(), text);
    }

    #[test]
    fn floats_carry_a_point_and_a_signed_exponent() {
        assert_eq!(document(&yaml("1e300")).unwrap(), "1.0e+300\n");
        assert_eq!(document(&yaml("2.0")).unwrap(), "2.0\n");
        assert_eq!(document(&yaml("-.inf")).unwrap(), "-.inf\n");
    }

    /// Any tree of maps, lists and scalars, with strings drawn to hit
    /// the quoting rules: words and numbers of either YAML version,
    /// indicators, line breaks, control and non-ASCII characters.
    fn any_value() -> impl Strategy<Value = Value> {
        let string = prop_oneof![
            "\\PC{0,12}",
            "[ -~]{0,12}",
            "[0-9a-fxob_+.:eTZ -]{1,10}",
            "(on|yes|No|y|~|null|true|<<|=|\\.inf|0644|1_000|-1)",
            "[a-z#:|>'\" \\n\\t\r\u{85}\u{2028}\u{feff}-]{0,12}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<f64>()
                .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
                .prop_map(|f| Value::Number(f.into())),
            string.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Sequence),
                prop::collection::vec((string.clone(), inner), 0..5).prop_map(|entries| {
                    Value::Mapping(
                        entries
                            .into_iter()
                            .map(|(k, v)| (Value::String(k), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_reads_back_and_writes_the_same(value in any_value()) {
            let text = document(&value).unwrap();
            let back: Value = serde_norway::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(&back, &value, "{}", text);
            prop_assert_eq!(document(&back).unwrap(), text.clone());
            // No plain scalar it writes reads otherwise in YAML 1.1.
            for event in saphyr_parser::Parser::new_from_str(&text) {
                let (event, _) = event.map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
                if let saphyr_parser::Event::Scalar(s, saphyr_parser::ScalarStyle::Plain, _, _) = event {
                    prop_assert!(!SPECIAL_WORDS.contains(&s.as_ref()) || matches!(s.as_ref(), "null" | "true" | "false"), "{}", text);
                }
            }
        }
    }

    #[test]
    fn complex_keys_are_refused() {
        assert_eq!(document(&yaml("? [a]\n: b\n")), Err(EmitError::ComplexKey));
    }
}

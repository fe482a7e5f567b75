//! Quoting a catalog file's text in errors and logs: short and printable,
//! whatever the file holds, since the file may be one that was never meant
//! to be a catalog (a mistaken path or symlink) and errors reach logs.

use crate::catalog::limits::MAX_EXCERPT_CHARS;
use crate::catalog::validate::MAX_CODE_LEN;

/// At most [`MAX_EXCERPT_CHARS`] characters of `text`, control and other
/// invisible characters escaped, and "…" where it was cut.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_EXCERPT_CHARS {
            out.push('…');
            break;
        }
        push_printable(&mut out, c);
    }
    out
}

/// A code or other short value of the file, quoted as `{:?}` does when it
/// is within the length a code may have, and cut to an excerpt otherwise.
pub fn quoted(value: &str) -> String {
    if value.len() <= MAX_CODE_LEN {
        format!("{value:?}")
    } else {
        format!("\"{}\" ({} bytes)", excerpt(value), value.len())
    }
}

/// A message of the text-format parser, with every quoted token cut to an
/// excerpt and the whole message bounded: the parser quotes what it found,
/// which can be any length and any bytes.
pub fn parser_message(message: &str) -> String {
    /// The parser's own words around the tokens are under 100 characters.
    const MAX_MESSAGE_CHARS: usize = 160;
    let mut out = String::new();
    let mut quoted = 0usize;
    let mut inside = false;
    for c in message.chars() {
        if out.chars().count() >= MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        if c == '\'' {
            inside = !inside;
            quoted = 0;
            out.push(c);
            continue;
        }
        if inside {
            quoted += 1;
            if quoted > MAX_EXCERPT_CHARS {
                if quoted == MAX_EXCERPT_CHARS + 1 {
                    out.push('…');
                }
                continue;
            }
        }
        push_printable(&mut out, c);
    }
    out
}

fn push_printable(out: &mut String, c: char) {
    if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{feff}')
    {
        out.extend(c.escape_unicode());
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("ABC"), "ABC");
        assert_eq!(excerpt("a\nb\u{0}"), "a\\u{a}b\\u{0}");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(&long).chars().count(), MAX_EXCERPT_CHARS + 1);
    }

    #[test]
    fn parser_messages_keep_their_words_and_cut_their_tokens() {
        let token = "y".repeat(10_000);
        let message = format!("expected a field name, but found '{token}'");
        let cut = parser_message(&message);
        assert!(
            cut.starts_with("expected a field name, but found 'yyy"),
            "{cut}"
        );
        assert!(cut.ends_with("…'"), "{cut}");
        assert!(cut.len() < 100, "{cut}");
        assert_eq!(parser_message("field 'a\u{1b}' x"), "field 'a\\u{1b}' x");
    }
}

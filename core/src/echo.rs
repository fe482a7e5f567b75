//! Client values as errmap repeats them: in error messages, in their
//! details, and in an answer's `note`. A repeated value is cut to a few
//! bytes and marked as cut, so an answer stays small whatever a request
//! carries, and a reader can tell a cut value from a short one. Every
//! place that repeats a client's value goes through here.

use std::borrow::Cow;

/// The most bytes of one client value (a code, a reason, a name) that an
/// answer repeats.
pub const MAX_ECHO: usize = 64;
/// The most bytes of a parser's message about a request (which may quote
/// the request, e.g. an unknown JSON key) that an answer repeats.
pub const MAX_ECHO_TEXT: usize = 512;

/// `value`, whole when it fits in `max` bytes, else its first `max` bytes
/// (backed off to a character boundary) and a mark saying where it was
/// cut and how long it was.
pub fn cut(value: &str, max: usize) -> Cow<'_, str> {
    if value.len() <= max {
        return Cow::Borrowed(value);
    }
    let head = head(value, max);
    Cow::Owned(format!("{head}{}", mark(max, value.len())))
}

/// A client value inside a message, `{:?}`-quoted (so control characters
/// show as escapes) and cut at [`MAX_ECHO`] bytes, the mark outside the
/// quotes: `"APIGW_…"… (cut at 64 of 3000 bytes)`.
pub fn quoted(value: &str) -> String {
    if value.len() <= MAX_ECHO {
        format!("{value:?}")
    } else {
        format!("{:?}{}", head(value, MAX_ECHO), mark(MAX_ECHO, value.len()))
    }
}

/// A parser's message about a request, cut at [`MAX_ECHO_TEXT`] bytes.
pub fn text(message: &str) -> Cow<'_, str> {
    cut(message, MAX_ECHO_TEXT)
}

/// The longest prefix of `value` of at most `max` bytes that ends on a
/// character boundary.
fn head(value: &str, max: usize) -> &str {
    let mut end = max.min(value.len());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

fn mark(max: usize, len: usize) -> String {
    format!("… (cut at {max} of {len} bytes)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_repeated_whole() {
        assert_eq!(cut("abc", 3), "abc");
        assert!(matches!(cut("abc", 3), Cow::Borrowed(_)));
        assert_eq!(quoted("a\nb"), r#""a\nb""#);
        assert_eq!(
            quoted(&"x".repeat(MAX_ECHO)),
            format!("{:?}", "x".repeat(64))
        );
    }

    #[test]
    fn long_values_are_cut_and_marked() {
        let long = "x".repeat(3 * 1024 * 1024);
        let echoed = cut(&long, MAX_ECHO);
        assert_eq!(
            echoed,
            format!("{}… (cut at 64 of 3145728 bytes)", "x".repeat(64))
        );
        let quoted = quoted(&long);
        assert!(
            quoted.starts_with(&format!("\"{}\"…", "x".repeat(64))),
            "{quoted}"
        );
        assert!(quoted.ends_with("(cut at 64 of 3145728 bytes)"), "{quoted}");
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        // "资" is three bytes: 64 bytes end inside the 22nd.
        let text = "资".repeat(30);
        let echoed = cut(&text, MAX_ECHO);
        assert!(echoed.starts_with(&"资".repeat(21)), "{echoed}");
        assert!(!echoed.starts_with(&"资".repeat(22)), "{echoed}");
        assert!(echoed.ends_with("(cut at 64 of 90 bytes)"), "{echoed}");
        assert_eq!(head("ab", 64), "ab");
    }
}

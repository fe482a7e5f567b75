//! Splits a YAML stream into its documents by their markers, so that each
//! document is parsed on its own (an error names its document and line)
//! and a document left unchanged is written back byte for byte.
//!
//! YAML forbids a line that starts with `---` or `...` followed by a space,
//! a tab or the end of the line anywhere inside a document's content, even
//! inside a quoted or block scalar; so such lines are the boundaries, and
//! finding them needs no parser.

/// One document of a stream, verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Document<'a> {
    /// Its text: directives and comments before it, its `---` marker, its
    /// content and its `...` end marker, each when present. The texts of a
    /// stream's documents, in order, make up the stream.
    pub text: &'a str,
    /// The stream's line (from 1) on which `text` starts.
    pub line: usize,
    /// Whether it holds more than comments, blank lines, directives and
    /// markers. A document with no content is an empty one (or, without a
    /// marker, the stream's trailing comments) and describes no object.
    pub has_content: bool,
}

/// Whether `line` is the marker `marker` (`---` or `...`): the marker at
/// the start, then a space, a tab or the end of the line.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// Whether `line` holds nothing but white space or a comment.
pub fn is_trivia(line: &str) -> bool {
    let rest = line.trim_start_matches([' ', '\t']);
    rest.is_empty() || rest.starts_with(['#', '\r', '\n'])
}

/// The documents of `stream`, in order; their texts concatenated are
/// `stream`. A stream with no text has no documents.
pub fn split(stream: &str) -> Vec<Document<'_>> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut has_content = false;
    let mut has_marker = false;
    let mut offset = 0;
    let mut line_number = 1;
    for raw in stream.split_inclusive('\n') {
        // A byte order mark may open any document of a stream.
        let line = if offset == start {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        if is_marker(line, "---") {
            if has_content || has_marker {
                documents.push(Document {
                    text: &stream[start..offset],
                    line: start_line,
                    has_content,
                });
                start = offset;
                start_line = line_number;
                has_content = false;
            }
            has_marker = true;
            if !is_trivia(&line[3..]) {
                has_content = true;
            }
        } else if is_marker(line, "...") {
            offset += raw.len();
            line_number += 1;
            documents.push(Document {
                text: &stream[start..offset],
                line: start_line,
                has_content,
            });
            start = offset;
            start_line = line_number;
            has_content = false;
            has_marker = false;
            continue;
        } else if has_content || !(is_trivia(line) || (!has_marker && line.starts_with('%'))) {
            has_content = true;
        }
        offset += raw.len();
        line_number += 1;
    }
    if start < stream.len() {
        documents.push(Document {
            text: &stream[start..],
            line: start_line,
            has_content,
        });
    }
    documents
}

/// The parts of a document kept when its content is written anew: the
/// lines before the content (directives, comments, a bare `---`), with a
/// `---` of its own when the marker line carried content; and the comment
/// lines at column 0 after the content, without the blank lines between
/// (a blank line after a block scalar could join it).
pub fn frame(text: &str) -> (String, String) {
    let mut head = String::new();
    let mut lines = text.split_inclusive('\n').peekable();
    let mut first = true;
    let mut has_marker = false;
    while let Some(raw) = lines.peek() {
        let line = if first {
            raw.strip_prefix('\u{feff}').unwrap_or(raw)
        } else {
            raw
        };
        first = false;
        if is_marker(line, "---") {
            has_marker = true;
            if !is_trivia(&line[3..]) {
                head.push_str("---\n");
                break;
            }
        } else if !(is_trivia(line) || (!has_marker && line.starts_with('%'))) {
            break;
        }
        head.push_str(raw);
        lines.next();
    }
    let rest: Vec<&str> = lines.collect();
    let mut tail_start = rest.len();
    while tail_start > 0 {
        let line = rest[tail_start - 1];
        if is_marker(line, "...") || line.starts_with('#') || line.trim().is_empty() {
            tail_start -= 1;
        } else {
            break;
        }
    }
    let mut tail = String::new();
    for line in &rest[tail_start..] {
        if line.starts_with('#') || is_marker(line, "...") {
            tail.push_str(line);
            if !line.ends_with('\n') {
                tail.push('\n');
            }
        }
    }
    (head, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(stream: &str) -> Vec<(&str, usize, bool)> {
        split(stream)
            .into_iter()
            .map(|d| (d.text, d.line, d.has_content))
            .collect()
    }

    #[test]
    fn markers_start_documents_and_texts_add_up() {
        let stream = "a: 1\n---\nb: 2\n--- # c\nc: 3\n";
        assert_eq!(
            texts(stream),
            [
                ("a: 1\n", 1, true),
                ("---\nb: 2\n", 2, true),
                ("--- # c\nc: 3\n", 4, true)
            ]
        );
    }

    #[test]
    fn directives_and_comments_belong_to_the_next_marker() {
        let stream = "# head\n%YAML 1.2\n---\na: 1\n...\n%YAML 1.2\n---\nb: 2\n";
        assert_eq!(
            texts(stream),
            [
                ("# head\n%YAML 1.2\n---\na: 1\n...\n", 1, true),
                ("%YAML 1.2\n---\nb: 2\n", 6, true)
            ]
        );
    }

    #[test]
    fn empty_documents_and_trailing_comments_have_no_content() {
        let stream = "---\n---\na: 1\n...\n# end\n";
        assert_eq!(
            texts(stream),
            [
                ("---\n", 1, false),
                ("---\na: 1\n...\n", 2, true),
                ("# end\n", 5, false)
            ]
        );
        assert!(split("").is_empty());
    }

    #[test]
    fn lines_that_only_start_like_markers_are_content() {
        let stream = "a: |\n  ---\n----\nb: ---x\n";
        assert_eq!(texts(stream), [(stream, 1, true)]);
        // Windows line ends and no final line end.
        assert_eq!(
            texts("a: 1\r\n---\r\nb: 2"),
            [("a: 1\r\n", 1, true), ("---\r\nb: 2", 2, true)]
        );
        // A byte order mark opening a document is no content.
        assert_eq!(
            texts("...\n\u{feff}"),
            [("...\n", 1, false), ("\u{feff}", 2, false)]
        );
    }

    #[test]
    fn frames_keep_the_head_and_column_0_comments_after() {
        let (head, tail) = frame("# app\n---\nkind: Pod\n  # inner\n\n# next\n");
        assert_eq!(head, "# app\n---\n");
        assert_eq!(tail, "# next\n");
        let (head, tail) = frame("--- !!map\nkind: Pod\n...\n");
        assert_eq!(head, "---\n");
        assert_eq!(tail, "...\n");
    }
}

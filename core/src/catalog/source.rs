//! Catalog text: parsing it, and telling where in it each entry and each
//! syntax error sits, so problems are reported as `file:line:column`.

use super::error::CatalogError;
use super::excerpt;
use crate::pb::errmap::v1::{Catalog as CatalogProto, CatalogEntry};
use miette::Diagnostic;
use prost_reflect::DynamicMessage;
use std::fmt;

/// The protobuf message a catalog file holds.
pub const CATALOG_MESSAGE: &str = "errmap.v1.Catalog";

/// A place in a catalog text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The text's name ([`Source::name`]).
    pub source: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.line, self.column)
    }
}

/// A named catalog text: a file path, or "embedded".
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// What problems are reported under.
    pub name: &'a str,
    /// The catalog, in protobuf text format.
    pub text: &'a str,
}

impl Source<'_> {
    /// The 1-based line and column (in characters) of a byte offset.
    pub fn location(&self, offset: usize) -> Location {
        self.locations(&[offset]).pop().unwrap_or_else(|| Location {
            source: self.name.to_owned(),
            line: 1,
            column: 1,
        })
    }

    /// The locations of ascending byte offsets, in one pass over the text:
    /// locating each offset from the top made loading quadratic in the
    /// number of entries.
    pub fn locations(&self, offsets: &[usize]) -> Vec<Location> {
        let mut out = Vec::with_capacity(offsets.len());
        // Line and column (in characters) at byte `scanned`.
        let (mut line, mut column, mut scanned) = (1usize, 1usize, 0usize);
        for &offset in offsets {
            let offset = offset.min(self.text.len());
            if offset < scanned {
                // Not ascending: start again from the top for this one.
                (line, column, scanned) = (1, 1, 0);
            }
            for &b in self
                .text
                .as_bytes()
                .get(scanned..offset)
                .unwrap_or_default()
            {
                if b == b'\n' {
                    line += 1;
                    column = 1;
                } else if b & 0xC0 != 0x80 {
                    // Not a UTF-8 continuation byte: a character starts.
                    column += 1;
                }
            }
            scanned = offset;
            out.push(Location {
                source: self.name.to_owned(),
                line,
                column,
            });
        }
        out
    }

    /// Parses the entries; a syntax error says where it is, and quotes at
    /// most a short excerpt of the text.
    ///
    /// Each top-level `entries` field is parsed on its own and turned into
    /// a [`CatalogEntry`] at once: the parser's dynamic form of a whole
    /// large file took several times the memory of the text. A catalog's
    /// only field is `entries`, so the fields are independent and the
    /// entries are those of the whole text; should any piece fail (or the
    /// pieces be cut wrongly), the whole text is parsed instead, so errors
    /// are reported exactly as for the whole.
    pub fn parse(&self) -> Result<Vec<CatalogEntry>, CatalogError> {
        self.parse_at(&self.entry_offsets())
    }

    /// [`Source::parse`], given the text's [`Source::entry_offsets`].
    pub fn parse_at(&self, offsets: &[usize]) -> Result<Vec<CatalogEntry>, CatalogError> {
        let pool = crate::pb::descriptor_pool()
            .ok_or_else(|| CatalogError::Descriptors("the built-in set does not decode".into()))?;
        let descriptor = pool
            .get_message_by_name(CATALOG_MESSAGE)
            .ok_or_else(|| CatalogError::Descriptors(format!("{CATALOG_MESSAGE} is missing")))?;
        let mut entries = Vec::with_capacity(offsets.len());
        for (i, &start) in offsets.iter().enumerate() {
            // The first piece keeps what comes before it (comments).
            let start = if i == 0 { 0 } else { start };
            let end = offsets.get(i + 1).copied().unwrap_or(self.text.len());
            let piece = self.text.get(start..end).and_then(|piece| {
                let dynamic = DynamicMessage::parse_text_format(descriptor.clone(), piece).ok()?;
                dynamic.transcode_to::<CatalogProto>().ok()
            });
            match piece {
                Some(proto) => entries.extend(proto.entries),
                None => return self.parse_whole(descriptor),
            }
        }
        if offsets.is_empty() {
            return self.parse_whole(descriptor);
        }
        Ok(entries)
    }

    fn parse_whole(
        &self,
        descriptor: prost_reflect::MessageDescriptor,
    ) -> Result<Vec<CatalogEntry>, CatalogError> {
        let dynamic = DynamicMessage::parse_text_format(descriptor, self.text).map_err(|e| {
            let offset = e
                .labels()
                .and_then(|mut labels| labels.next())
                .map_or(0, |label| label.offset());
            CatalogError::Syntax {
                location: self.location(offset),
                message: excerpt::parser_message(&e.to_string()),
            }
        })?;
        let proto: CatalogProto = dynamic.transcode_to().map_err(|e| CatalogError::Syntax {
            location: self.location(0),
            message: excerpt::parser_message(&e.to_string()),
        })?;
        Ok(proto.entries)
    }

    /// The byte offset of each top-level `entries` field, in order, so the
    /// n-th parsed entry can be located in the text.
    pub fn entry_offsets(&self) -> Vec<usize> {
        let bytes = self.text.as_bytes();
        let mut offsets = Vec::new();
        let mut depth = 0usize;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                quote @ (b'"' | b'\'') => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'{' | b'<' => depth += 1,
                b'}' | b'>' => depth = depth.saturating_sub(1),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
                    {
                        i += 1;
                    }
                    if depth == 0 && &bytes[start..i] == b"entries" {
                        offsets.push(start);
                    }
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_located_past_comments_and_strings() {
        let text = "# entries {\nentries {\n  message: \"entries { }\"\n}\n  entries <>";
        let source = Source { name: "f", text };
        let offsets = source.entry_offsets();
        assert_eq!(offsets.len(), 2);
        assert_eq!(source.location(offsets[0]).to_string(), "f:2:1");
        assert_eq!(source.location(offsets[1]).to_string(), "f:5:3");
    }

    #[test]
    fn locating_many_offsets_at_once_agrees_with_one_at_a_time() {
        let text = "a\nbé\n\n  entries {}\nxyz";
        let source = Source { name: "f", text };
        let offsets: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        let counted = |offset: usize| {
            let before = &text[..offset];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            (
                before.matches('\n').count() + 1,
                before[line_start..].chars().count() + 1,
            )
        };
        let together = source.locations(&offsets);
        assert_eq!(together.len(), offsets.len());
        for (&offset, location) in offsets.iter().zip(&together) {
            assert_eq!(
                (location.line, location.column),
                counted(offset),
                "{offset}"
            );
        }
        assert_eq!(source.location(text.len()).to_string(), "f:5:4");
        assert_eq!(source.location(5).to_string(), "f:2:3");
    }

    /// Parsed piece by piece or whole, a text gives the same entries, or
    /// the same error.
    #[test]
    fn pieces_parse_as_the_whole_text_does() {
        let texts = [
            "# top\nentries { code: \"A\" }\n# mid\nentries <code: 'B'> entries: { code: \"C\" }",
            "entries [{ code: \"A\" }, { code: \"B\" }]\nentries { code: \"C\" };",
            "entries { message: \"entries { }\" } entries { code: \"D\" }",
            "entries { code: \"A\" } 12entries { }",
            "entries { code: \"A\" } entries { code: \"B\" http_status: 4OO }",
            "entries { code: \"A\" } bogus: 1 entries {}",
            "entries { } entries",
        ];
        let pool = crate::pb::descriptor_pool().expect("descriptors");
        let descriptor = pool.get_message_by_name(CATALOG_MESSAGE).expect("catalog");
        for text in texts {
            let source = Source { name: "f", text };
            let pieces = source.parse().map_err(|e| e.to_string());
            let whole = source
                .parse_whole(descriptor.clone())
                .map_err(|e| e.to_string());
            assert_eq!(pieces, whole, "{text}");
        }
    }
}

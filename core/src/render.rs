//! Message templates: the gateway's messages hold placeholder words
//! ("参数 argument 不支持"); a request's params fill them in.

use crate::catalog::validate::ascii_words;
use crate::pb::errmap::v1::CatalogEntry;
use std::collections::BTreeMap;

/// The longest param value accepted, in bytes: values travel in status
/// details, which must stay small (see docs/status-details.md).
pub const MAX_PARAM_VALUE: usize = 256;
/// The most params one request may carry.
pub const MAX_PARAMS: usize = 16;
/// In the Chinese text "某" ("some") marks a blank: "类型应该是 某format"
/// reads `should be of type <format>`, so a filled-in value replaces both.
const ZH_BLANK_MARK: char = '某';

/// The params that apply to an entry, and the ones that do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// Params the entry declares, with their values.
    pub used: BTreeMap<String, String>,
    /// Names of the params the entry does not declare.
    pub ignored: Vec<String>,
}

impl Params {
    /// Splits request params into the entry's placeholders and the rest.
    /// Values are taken as they are: the engine refuses control characters
    /// rather than change a value. An empty value counts as not given.
    pub fn for_entry(entry: Option<&CatalogEntry>, params: &BTreeMap<String, String>) -> Self {
        let mut out = Params::default();
        for (key, value) in params {
            let declared = entry.is_some_and(|e| e.placeholders.iter().any(|p| p == key));
            if !declared {
                out.ignored.push(key.clone());
                continue;
            }
            if !value.is_empty() {
                out.used.insert(key.clone(), value.clone());
            }
        }
        out
    }
}

/// Fills placeholders in a message. Words without a value stay as written,
/// so an empty params map gives the catalog's text back byte for byte.
pub fn render(text: &str, params: &BTreeMap<String, String>) -> String {
    if params.is_empty() || !ascii_words(text).any(|w| params.contains_key(w)) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut word = String::new();
    let flush = |out: &mut String, word: &mut String| {
        if let Some(value) = params.get(word.as_str()) {
            if out.ends_with(ZH_BLANK_MARK) {
                out.pop();
            }
            out.push_str(value);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut out, &mut word);
            out.push(c);
        }
    }
    flush(&mut out, &mut word);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fills_words_and_keeps_the_rest() {
        let p = params(&[("resource", "vpc-1"), ("permission", "write")]);
        assert_eq!(
            render("没有对资源 resource 的 permission 权限", &p),
            "没有对资源 vpc-1 的 write 权限"
        );
        assert_eq!(render("resources resource", &p), "resources vpc-1");
    }

    #[test]
    fn the_blank_mark_goes_with_its_placeholder() {
        let p = params(&[("argument", "size"), ("format", "int")]);
        assert_eq!(
            render("参数 argument  类型应该是 某format", &p),
            "参数 size  类型应该是 int"
        );
    }

    #[test]
    fn without_params_the_text_is_unchanged() {
        let text = "参数 argument  类型应该是 某format";
        assert_eq!(render(text, &BTreeMap::new()), text);
        assert_eq!(render(text, &params(&[("resource", "x")])), text);
    }
}

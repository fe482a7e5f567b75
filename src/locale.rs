//! The two languages errmap answers in, and how a request picks one.

use std::fmt;
use std::str::FromStr;

/// A supported locale. zh-CN is the gateway's own text; en-US is errmap's
/// translation of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    ZhCn,
    EnUs,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::EnUs];

    /// The position in [`Locale::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Locale::ZhCn => 0,
            Locale::EnUs => 1,
        }
    }

    /// The BCP 47 tag.
    pub const fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::EnUs => "en-US",
        }
    }

    /// The supported locale a language tag falls back to: any Chinese tag
    /// ("zh", "zh-TW", "zh-Hans-CN") to zh-CN, any English one to en-US.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?;
        if primary.eq_ignore_ascii_case("zh") {
            Some(Locale::ZhCn)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Locale::EnUs)
        } else {
            None
        }
    }

    /// The best supported locale of an `accept-language` value, honouring
    /// q-values (q=0 means "not this one"); `*` means the default.
    pub fn from_accept_language(header: &str, default: Locale) -> Option<Locale> {
        accept_language::parse_with_quality(header)
            .into_iter()
            .filter(|(_, quality)| *quality > 0.0)
            .find_map(|(tag, _)| {
                if tag == "*" {
                    Some(default)
                } else {
                    Locale::from_tag(&tag)
                }
            })
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl FromStr for Locale {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Locale::from_tag(s).ok_or_else(|| {
            format!("must be zh-CN or en-US (or another zh-* or en-* tag), got {s:?}")
        })
    }
}

//! The two languages errmap answers in, and how a request picks one.

use std::fmt;
use std::str::FromStr;

/// A supported locale. zh-CN is the gateway's own text; en-US is errmap's
/// translation of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// Simplified Chinese, the catalog's first language.
    ZhCn,
    /// English.
    EnUs,
}

impl Locale {
    /// Both, in index order.
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
    /// q-values (q=0 means "not this one"; a malformed one counts as 0);
    /// `*` means the default. Among equal q-values the first listed wins.
    /// Read in place, without allocating: it runs on every call that sets
    /// no locale of its own.
    pub fn from_accept_language(header: &str, default: Locale) -> Option<Locale> {
        let mut best: Option<(f32, Locale)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let quality = parts.next().map_or(1.0, quality);
            let acceptable = quality > 0.0; // false for NaN too
            if tag.is_empty() || !acceptable {
                continue;
            }
            let locale = if tag == "*" {
                Some(default)
            } else {
                Locale::from_tag(tag)
            };
            if let Some(locale) = locale {
                if best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, locale));
                }
            }
        }
        best.map(|(_, locale)| locale)
    }
}

/// The value of a `q=0.5` parameter; 0 when it is not one.
fn quality(parameter: &str) -> f32 {
    let mut sides = parameter.split('=');
    match (sides.next(), sides.next(), sides.next()) {
        (Some(name), Some(value), None) if name.trim().eq_ignore_ascii_case("q") => {
            value.trim().parse().unwrap_or(0.0)
        }
        _ => 0.0,
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

#[cfg(test)]
mod tests {
    use super::Locale::{self, EnUs, ZhCn};

    #[test]
    fn accept_language_takes_the_best_supported_q_value() {
        let cases: [(&str, Option<Locale>); 9] = [
            ("en;q=0.5, zh", Some(ZhCn)),
            ("fr, en-GB;q=0.8, zh-TW;q=0.8", Some(EnUs)),
            ("fr, en;q=0", None),
            ("fr;q=0.9, *;q=0.1", Some(EnUs)),
            ("en;q=abc, zh;q=0.1", Some(ZhCn)),
            ("en;level=1, zh;q=0.2", Some(ZhCn)),
            (" ZH-cn ; Q=1 ", Some(ZhCn)),
            ("", None),
            (",,;", None),
        ];
        for (header, expected) in cases {
            assert_eq!(
                Locale::from_accept_language(header, EnUs),
                expected,
                "{header:?}"
            );
        }
    }
}

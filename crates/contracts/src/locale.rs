//! The locale of an account or a message: a short BCP 47 tag in a language the platform
//! writes messages in.
//!
//! One parser for every service, so a tag accepted by one is accepted by all and is stored in
//! one canonical form (`zh-CN`, never `zh_cn`). Only the common shape
//! `language[-Script][-REGION]` is accepted: variants, extensions and private-use subtags
//! would let a client store and forward arbitrary text (a 1.5 MB "locale" once stopped every
//! code from being delivered).

use std::fmt;

/// The languages the platform has messages in (notification's catalogs); a tag of another
/// language is refused rather than silently answered in English.
pub const SUPPORTED_LANGUAGES: &[&str] = &["en", "zh"];

/// The longest tag accepted, in bytes: `zh-Hans-CN` is 10; RFC 5646 §4.4.1 asks
/// implementations to take at least 35, which covers every tag of the accepted shape.
pub const MAX_LOCALE_LEN: usize = 35;

/// A canonical, supported language tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Locale(String);

/// Why a text is not a supported locale; its `Display` is the client-facing problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidLocale {
    /// Not a tag of the shape `language[-Script][-REGION]`, or longer than [`MAX_LOCALE_LEN`].
    Malformed,
    /// Well formed, but its language is not in [`SUPPORTED_LANGUAGES`].
    Unsupported,
}

impl fmt::Display for InvalidLocale {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => formatter.write_str(
                "must be a BCP 47 language tag such as en or zh-CN (language, script, region)",
            ),
            Self::Unsupported => write!(
                formatter,
                "must be in a supported language: {}",
                SUPPORTED_LANGUAGES.join(", ")
            ),
        }
    }
}

impl std::error::Error for InvalidLocale {}

impl Locale {
    /// Parses a tag, `_` taken for `-` and case ignored, into its canonical form.
    pub fn parse(raw: &str) -> Result<Self, InvalidLocale> {
        let raw = raw.trim();
        // Checked before anything is copied: the input may be megabytes long.
        if raw.len() > MAX_LOCALE_LEN || !raw.is_ascii() {
            return Err(InvalidLocale::Malformed);
        }
        let mut subtags = raw.split(['-', '_']).peekable();
        let language = subtags.next().unwrap_or_default();
        if !is_alpha(language, 2..=3) {
            return Err(InvalidLocale::Malformed);
        }
        let mut canonical = language.to_ascii_lowercase();
        if let Some(script) = subtags.next_if(|subtag| is_alpha(subtag, 4..=4)) {
            let (first, rest) = script.split_at(1);
            canonical.push('-');
            canonical.push_str(&first.to_ascii_uppercase());
            canonical.push_str(&rest.to_ascii_lowercase());
        }
        if let Some(region) = subtags.next_if(|subtag| {
            is_alpha(subtag, 2..=2)
                || (subtag.len() == 3 && subtag.bytes().all(|b| b.is_ascii_digit()))
        }) {
            canonical.push('-');
            canonical.push_str(&region.to_ascii_uppercase());
        }
        if subtags.next().is_some() {
            return Err(InvalidLocale::Malformed);
        }
        if !SUPPORTED_LANGUAGES.contains(&&canonical[..language.len()]) {
            return Err(InvalidLocale::Unsupported);
        }
        Ok(Self(canonical))
    }

    /// English, the locale of a request that names none.
    pub fn english() -> Self {
        Self("en".to_owned())
    }

    /// The language subtag: `zh` of `zh-Hans-CN`.
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// The canonical tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical tag, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

fn is_alpha(subtag: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_tags_take_their_canonical_form() {
        for (raw, canonical) in [
            ("en", "en"),
            (" zh_cn ", "zh-CN"),
            ("ZH-hans-cn", "zh-Hans-CN"),
            ("en-GB", "en-GB"),
            ("en-419", "en-419"),
        ] {
            assert_eq!(
                Locale::parse(raw).map(Locale::into_string),
                Ok(canonical.into())
            );
        }
        let chinese = Locale::parse("zh-Hans-CN").expect("supported");
        assert_eq!(chinese.language(), "zh");
    }

    #[test]
    fn other_shapes_lengths_and_languages_are_refused() {
        let huge = format!("en-{}", "a".repeat(1_500_000));
        for raw in [
            "",
            "e",
            "english",
            "en-",
            "en-GB-oxendict",
            "en-x-private",
            "en-US-US",
            "en\u{0}",
            "zh-汉字",
            huge.as_str(),
        ] {
            assert_eq!(
                Locale::parse(raw),
                Err(InvalidLocale::Malformed),
                "{raw:.20}"
            );
        }
        assert_eq!(Locale::parse("fr-FR"), Err(InvalidLocale::Unsupported));
        assert!(InvalidLocale::Unsupported.to_string().contains("en, zh"));
    }
}

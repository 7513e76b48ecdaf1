//! The error texts of each language, rendered from an error's reason and `ErrorInfo`
//! metadata. The texts are in `crates/platform/error-messages/` (how they are written is at
//! the top of `en.toml`).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use mi_contracts::Locale;
use minijinja::{Environment, Value, context};
use serde::Deserialize;

/// The built-in catalogs; the first is the fallback.
const BUILT_IN: [(&str, &str); 2] = [
    ("en.toml", include_str!("../../error-messages/en.toml")),
    (
        "zh-CN.toml",
        include_str!("../../error-messages/zh-CN.toml"),
    ),
];

/// The `[limits]` entry for a subject no other entry names.
const OTHER_LIMIT: &str = "other";

/// One language's file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    locale: String,
    reasons: BTreeMap<String, String>,
    fields: BTreeMap<String, String>,
    limits: BTreeMap<String, String>,
    phrases: BTreeMap<String, String>,
}

/// The `[phrases]` every catalog has: the pieces of the values a text may use.
const PHRASES: [&str; 6] = [
    "hours",
    "minutes",
    "seconds",
    "tries_left",
    "try_again_in",
    "try_again_later",
];

/// One language's labels; its texts are templates in [`ErrorMessages`]' environment, named
/// `<locale>:<REASON>` and `<locale>:phrases.<name>`.
#[derive(Debug)]
struct Catalog {
    locale: Locale,
    fields: BTreeMap<String, String>,
    limits: BTreeMap<String, String>,
}

/// A text for a person and the locale it is written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Localized {
    pub(crate) locale: String,
    pub(crate) message: String,
}

/// Every language's error texts.
#[derive(Debug)]
pub(crate) struct ErrorMessages {
    catalogs: Vec<Catalog>,
    templates: Environment<'static>,
}

impl ErrorMessages {
    /// The built-in catalogs, every template parsed: a broken one stops the service at start.
    pub(crate) fn built_in() -> anyhow::Result<Self> {
        let mut templates = Environment::new();
        let mut catalogs = Vec::new();
        for (file, text) in BUILT_IN {
            let parsed: CatalogFile =
                toml::from_str(text).with_context(|| format!("invalid error messages {file}"))?;
            let locale = Locale::parse(&parsed.locale)
                .with_context(|| format!("invalid locale in error messages {file}"))?;
            if !parsed.limits.contains_key(OTHER_LIMIT) {
                bail!("error messages {file} have no [limits] {OTHER_LIMIT}");
            }
            if !parsed.phrases.keys().eq(PHRASES.iter()) {
                bail!("error messages {file} must have exactly these [phrases]: {PHRASES:?}");
            }
            let phrases = parsed
                .phrases
                .into_iter()
                .map(|(name, source)| (format!("phrases.{name}"), source));
            for (name, source) in parsed.reasons.into_iter().chain(phrases) {
                let name = format!("{locale}:{name}");
                templates
                    .add_template_owned(name.clone(), source)
                    .with_context(|| format!("invalid template {name} in {file}"))?;
            }
            catalogs.push(Catalog {
                locale,
                fields: parsed.fields,
                limits: parsed.limits,
            });
        }
        Ok(Self {
            catalogs,
            templates,
        })
    }

    /// The catalog for `locale`: its exact tag, else its language, else the fallback.
    fn catalog(&self, locale: &Locale) -> &Catalog {
        self.catalogs
            .iter()
            .find(|catalog| catalog.locale == *locale)
            .or_else(|| {
                self.catalogs
                    .iter()
                    .find(|catalog| catalog.locale.language() == locale.language())
            })
            .unwrap_or(&self.catalogs[0])
    }

    /// The text of an error with this `ErrorInfo` reason and metadata in `locale`'s catalog,
    /// else in the fallback's (a reason not translated yet is still explained); `None` for a
    /// reason no catalog knows (a newer service's) or a template that fails.
    pub(crate) fn localize(
        &self,
        locale: &Locale,
        reason: &str,
        metadata: &HashMap<String, String>,
    ) -> Option<Localized> {
        for catalog in [self.catalog(locale), &self.catalogs[0]] {
            match self.render(catalog, reason, metadata) {
                Ok(None) => {}
                Ok(Some(message)) => {
                    return Some(Localized {
                        locale: catalog.locale.to_string(),
                        message,
                    });
                }
                Err(error) => {
                    tracing::warn!(%reason, locale = %catalog.locale, error = format!("{error:#}"), "error message template failed");
                    return None;
                }
            }
        }
        None
    }

    fn render(
        &self,
        catalog: &Catalog,
        reason: &str,
        metadata: &HashMap<String, String>,
    ) -> anyhow::Result<Option<String>> {
        let Ok(template) = self
            .templates
            .get_template(&format!("{}:{reason}", catalog.locale))
        else {
            return Ok(None);
        };
        let number = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.parse::<u64>().ok())
        };
        // Only the values the metadata gives are defined, so a text's `{% if %}` sees the rest
        // as absent (and `{{ }}` prints them as nothing).
        let mut values = BTreeMap::new();
        if let Some(attempts_left) = number("attempts_left") {
            let tries_left = self.phrase(catalog, "tries_left", context! { n => attempts_left })?;
            values.insert("tries_left", tries_left);
        }
        let try_again = match number("retry_after_seconds") {
            Some(seconds) => {
                let wait = self.duration(catalog, seconds)?;
                let try_again =
                    self.phrase(catalog, "try_again_in", context! { wait => wait.clone() })?;
                values.insert("wait", wait);
                try_again
            }
            None => self.phrase(catalog, "try_again_later", context! {})?,
        };
        values.insert("try_again", try_again);
        if let Some(label) = metadata
            .get("field")
            .and_then(|field| catalog.fields.get(field))
        {
            values.insert("field", label.clone());
        }
        // The subject's first word says who hit the limit: `destination per hour`, `client …`.
        let subject = metadata
            .get("subject")
            .map(String::as_str)
            .unwrap_or_default();
        let who = subject.split(' ').next().unwrap_or_default();
        let limit = catalog
            .limits
            .get(who)
            .or_else(|| catalog.limits.get(OTHER_LIMIT))
            .cloned()
            .unwrap_or_default();
        values.insert("limit", limit);
        Ok(Some(template.render(values)?.trim().to_owned()))
    }

    /// A `[phrases]` entry filled in with `values`.
    fn phrase(&self, catalog: &Catalog, name: &str, values: Value) -> anyhow::Result<String> {
        let template = self
            .templates
            .get_template(&format!("{}:phrases.{name}", catalog.locale))?;
        Ok(template.render(values)?)
    }

    /// A wait in the largest whole unit that fits, rounded up so it is never too short:
    /// 45 seconds, 2 minutes (for 61 s), 20 hours.
    fn duration(&self, catalog: &Catalog, seconds: u64) -> anyhow::Result<String> {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        match seconds {
            0..MINUTE => self.phrase(catalog, "seconds", context! { n => seconds.max(1) }),
            MINUTE..HOUR => self.phrase(
                catalog,
                "minutes",
                context! { n => seconds.div_ceil(MINUTE) },
            ),
            _ => self.phrase(catalog, "hours", context! { n => seconds.div_ceil(HOUR) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use mi_contracts::Reason;
    use strum::IntoEnumIterator;

    use super::*;

    fn messages() -> ErrorMessages {
        ErrorMessages::built_in().expect("the built-in catalogs load")
    }

    fn locale(tag: &str) -> Locale {
        Locale::parse(tag).unwrap()
    }

    fn metadata(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn text(locale_tag: &str, reason: Reason, pairs: &[(&str, &str)]) -> String {
        messages()
            .localize(&locale(locale_tag), reason.as_str(), &metadata(pairs))
            .expect("a text")
            .message
    }

    #[test]
    fn every_reason_has_a_text_in_every_language() {
        let messages = messages();
        let full = metadata(&[
            ("attempts_left", "3"),
            ("retry_after_seconds", "75"),
            ("field", "destination"),
            ("subject", "destination per hour"),
        ]);
        for reason in Reason::iter() {
            let mut english = Vec::new();
            type IsWrittenIn = fn(&str) -> bool;
            let languages: [(&str, IsWrittenIn); 2] = [
                ("en", |text| text.is_ascii()),
                ("zh-CN", |text| {
                    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
                }),
            ];
            for (tag, is_written_in) in languages {
                for values in [&HashMap::new(), &full] {
                    let localized = messages
                        .localize(&locale(tag), reason.as_str(), values)
                        .unwrap_or_else(|| panic!("no text for {reason}"));
                    let text = localized.message;
                    assert_eq!(localized.locale, tag, "{tag} has no text for {reason}");
                    assert!(
                        !text.is_empty()
                            && !text.contains("  ")
                            && !text.contains(['{', '}', '%'])
                            && is_written_in(&text),
                        "{tag} {reason} with {values:?}: {text:?}"
                    );
                    if tag == "en" {
                        english.push(text);
                    } else {
                        assert!(!english.contains(&text), "{reason} is not translated");
                    }
                }
            }
        }
    }

    #[test]
    fn metadata_fills_in_tries_waits_fields_and_limits() {
        assert_eq!(
            text("en", Reason::CodeMismatch, &[("attempts_left", "4")]),
            "The code is wrong. 4 tries left."
        );
        assert_eq!(
            text("en", Reason::CodeMismatch, &[("attempts_left", "1")]),
            "The code is wrong. 1 try left."
        );
        assert_eq!(text("en", Reason::CodeMismatch, &[]), "The code is wrong.");
        assert_eq!(
            text("zh-CN", Reason::CodeMismatch, &[("attempts_left", "4")]),
            "验证码错误。还可以尝试 4 次。"
        );
        assert_eq!(
            text(
                "en",
                Reason::RateLimited,
                &[
                    ("retry_after_seconds", "61"),
                    ("subject", "destination per hour")
                ]
            ),
            "Too many codes were sent to this phone number or email. Try again in 2 minutes."
        );
        assert_eq!(
            text(
                "zh-CN",
                Reason::PasswordDelayed,
                &[("retry_after_seconds", "1")]
            ),
            "密码错误次数过多。请在 1 秒后再试。您也可以重置密码。"
        );
        assert_eq!(
            text("en", Reason::RateLimited, &[("subject", "something new")]),
            "Too many requests. Try again later."
        );
        assert_eq!(
            text("en", Reason::InvalidArgument, &[("field", "display_name")]),
            "The name is not valid. Please check it."
        );
        assert_eq!(
            text("zh-CN", Reason::InvalidArgument, &[("field", "page_token")]),
            "输入的信息有误，请检查。"
        );
    }

    #[test]
    fn a_locale_takes_its_language_catalog_and_unknown_reasons_get_none() {
        let messages = messages();
        let none = HashMap::new();
        for (tag, catalog) in [("zh", "zh-CN"), ("zh-TW", "zh-CN"), ("en-GB", "en")] {
            let localized = messages
                .localize(&locale(tag), "WRONG_PASSWORD", &none)
                .unwrap();
            assert_eq!(localized.locale, catalog, "{tag}");
        }
        assert_eq!(
            messages.localize(&locale("en"), "NO_SUCH_REASON", &none),
            None
        );
    }
}

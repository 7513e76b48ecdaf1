//! The documents a person accepts to hold an account — the terms of service and the privacy
//! policy — in their current versions, with where to read each per locale: what a sign-up or
//! an acceptance must name, and which documents an account has still to accept after a new
//! version (the sign-in then asks, as Keycloak's "terms and conditions" required action does).

use std::collections::BTreeMap;
use std::time::Duration;

use mi_contracts::{Locale, UnixMillis, text};
use serde::Deserialize;

use super::Consent;

/// The most characters of a version, as configured and as a request names it.
pub const MAX_VERSION_CHARS: usize = 64;
/// The most characters of a document's URL.
const MAX_URL_CHARS: usize = 2048;
/// The version embedded mode serves when none is configured.
const PLACEHOLDER_VERSION: &str = "2024-01";

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// The terms of service.
    TermsOfService,
    /// The privacy policy.
    PrivacyPolicy,
}

impl DocumentKind {
    /// The request field that names its accepted version (SignUp, AcceptLegalDocuments).
    pub fn field(self) -> &'static str {
        match self {
            Self::TermsOfService => "accepted_terms_version",
            Self::PrivacyPolicy => "accepted_privacy_policy_version",
        }
    }

    /// Its settings key.
    pub fn setting(self) -> &'static str {
        match self {
            Self::TermsOfService => "identity.legal.terms",
            Self::PrivacyPolicy => "identity.legal.privacy_policy",
        }
    }
}

/// One document as configured: its current version and a URL per locale.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DocumentSettings {
    /// The current version, e.g. `2025-06`: what SignUp and AcceptLegalDocuments must name.
    #[serde(deserialize_with = "version_text")]
    pub version: String,
    /// Locale (BCP 47; `zh_CN` is taken for `zh-CN`, as environment variables need) → URL.
    /// `en` is required: it is the fallback for every other locale.
    pub urls: BTreeMap<String, String>,
}

/// A version as text, also when an environment variable's value reads as a whole number
/// (`2025`); one that reads as a decimal (`2025.10`, which would lose its zero) is refused
/// with how to quote it.
fn version_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = String;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("a version such as 2025-06")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }

        fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<String, E> {
            Ok(number.to_string())
        }

        fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<String, E> {
            Ok(number.to_string())
        }

        fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<String, E> {
            Err(E::custom(format!(
                "the version {number} reads as a number; quote it (e.g. '\"2025.10\"')"
            )))
        }
    }
    deserializer.deserialize_any(Text)
}

impl DocumentSettings {
    /// What embedded mode serves when the document is not configured: a version that names
    /// no real document, at URLs under the reserved `.example` domain (RFC 2606).
    pub fn placeholder(kind: DocumentKind) -> Self {
        let name = match kind {
            DocumentKind::TermsOfService => "terms",
            DocumentKind::PrivacyPolicy => "privacy",
        };
        let urls = ["en", "zh-CN"]
            .into_iter()
            .map(|locale| {
                let url =
                    format!("https://mi-account.example/{name}/{PLACEHOLDER_VERSION}/{locale}");
                (locale.to_owned(), url)
            })
            .collect();
        Self {
            version: PLACEHOLDER_VERSION.to_owned(),
            urls,
        }
    }
}

/// The documents (`identity.legal`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LegalSettings {
    /// The terms of service; unset means the embedded placeholder, refused with PostgreSQL.
    pub terms: Option<DocumentSettings>,
    /// The privacy policy; unset as for `terms`.
    pub privacy_policy: Option<DocumentSettings>,
    /// How long a sign-in waits for the person to accept new versions (time to read them).
    #[serde(with = "humantime_serde")]
    pub consent_ttl: Duration,
}

impl Default for LegalSettings {
    fn default() -> Self {
        Self {
            terms: None,
            privacy_policy: None,
            consent_ttl: Duration::from_secs(30 * 60),
        }
    }
}

/// A document in its current version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Document {
    kind: DocumentKind,
    version: String,
    /// By canonical locale tag; `en` is always there.
    urls: BTreeMap<String, String>,
}

impl Document {
    fn parse(kind: DocumentKind, settings: &DocumentSettings) -> Result<Self, String> {
        let setting = kind.setting();
        let version = settings.version.trim();
        let version_ok = !version.is_empty()
            && version.chars().count() <= MAX_VERSION_CHARS
            && !version.contains(char::is_whitespace)
            && text::check_displayed(version).is_ok();
        if !version_ok {
            return Err(format!(
                "{setting}.version must be 1 to {MAX_VERSION_CHARS} visible characters without spaces, e.g. 2025-06"
            ));
        }
        let mut urls = BTreeMap::new();
        for (locale, url) in &settings.urls {
            let canonical = Locale::parse(locale)
                .map_err(|problem| format!("{setting}.urls.{locale}: the locale {problem}"))?;
            let url = url.trim();
            let url_ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= MAX_URL_CHARS
                && !url.contains(char::is_whitespace)
                && text::check_displayed(url).is_ok();
            if !url_ok {
                return Err(format!(
                    "{setting}.urls.{locale} must be an http(s) URL of at most {MAX_URL_CHARS} characters"
                ));
            }
            urls.insert(canonical.into_string(), url.to_owned());
        }
        if !urls.contains_key("en") {
            return Err(format!(
                "{setting}.urls needs an en URL, the one shown for every locale without its own"
            ));
        }
        Ok(Self {
            kind,
            version: version.to_owned(),
            urls,
        })
    }

    /// The URL for `locale`: its exact tag, else one of its language, else English.
    fn view(&self, locale: &Locale) -> DocumentView {
        let wanted = locale.as_str();
        let language = wanted.split('-').next().unwrap_or_default();
        let (locale, url) = self
            .urls
            .get_key_value(wanted)
            .or_else(|| {
                self.urls
                    .iter()
                    .find(|(tag, _)| tag.split('-').next() == Some(language))
            })
            .or_else(|| self.urls.get_key_value("en"))
            .expect("parse keeps an en URL");
        DocumentView {
            kind: self.kind,
            version: self.version.clone(),
            url: url.clone(),
            locale: locale.clone(),
        }
    }
}

/// A document as a client reads it, in one locale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentView {
    /// Which document.
    pub kind: DocumentKind,
    /// Its current version.
    pub version: String,
    /// Where to read it.
    pub url: String,
    /// The locale of that page.
    pub locale: String,
}

/// A version named in a request that is not the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutdatedVersion {
    /// Which document.
    pub kind: DocumentKind,
    /// Its current version.
    pub current: String,
}

/// Why the versions a request names do not make a consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentRefusal {
    /// A document to accept is not named at all.
    NotAccepted,
    /// Versions that are not the current ones (old, or never published).
    Outdated(Vec<OutdatedVersion>),
}

/// The current terms of service and privacy policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalDocuments {
    terms: Document,
    privacy_policy: Document,
}

impl LegalDocuments {
    /// The documents as configured; the problem names the setting.
    pub fn new(
        terms: &DocumentSettings,
        privacy_policy: &DocumentSettings,
    ) -> Result<Self, String> {
        Ok(Self {
            terms: Document::parse(DocumentKind::TermsOfService, terms)?,
            privacy_policy: Document::parse(DocumentKind::PrivacyPolicy, privacy_policy)?,
        })
    }

    fn documents(&self) -> [&Document; 2] {
        [&self.terms, &self.privacy_policy]
    }

    /// Both documents, read in `locale`.
    pub fn in_locale(&self, locale: &Locale) -> Vec<DocumentView> {
        self.documents()
            .into_iter()
            .map(|document| document.view(locale))
            .collect()
    }

    /// The documents `consent` does not cover in their current version, read in `locale`
    /// (an account's stored locale; English if it no longer parses).
    pub fn to_accept(&self, consent: &Consent, locale: &str) -> Vec<DocumentView> {
        let locale = Locale::parse(locale).unwrap_or_else(|_| Locale::english());
        let accepted = [&consent.terms_version, &consent.privacy_policy_version];
        self.documents()
            .into_iter()
            .zip(accepted)
            .filter(|(document, accepted)| document.version != **accepted)
            .map(|(document, _)| document.view(&locale))
            .collect()
    }

    /// The consent the named versions give at `now`: each must be the current one, except
    /// that one `already` accepted in its current version may be left empty.
    pub fn consent(
        &self,
        terms_version: &str,
        privacy_policy_version: &str,
        already: Option<&Consent>,
        now: UnixMillis,
    ) -> Result<Consent, ConsentRefusal> {
        let named = [terms_version.trim(), privacy_policy_version.trim()];
        let accepted = already.map(|consent| {
            [
                consent.terms_version.as_str(),
                consent.privacy_policy_version.as_str(),
            ]
        });
        let mut outdated = Vec::new();
        let mut missing = false;
        for (index, document) in self.documents().into_iter().enumerate() {
            let covered = accepted.is_some_and(|accepted| accepted[index] == document.version);
            match named[index] {
                "" => missing |= !covered,
                version if version == document.version => {}
                _ => outdated.push(OutdatedVersion {
                    kind: document.kind,
                    current: document.version.clone(),
                }),
            }
        }
        if !outdated.is_empty() {
            return Err(ConsentRefusal::Outdated(outdated));
        }
        if missing {
            return Err(ConsentRefusal::NotAccepted);
        }
        Ok(Consent {
            terms_version: self.terms.version.clone(),
            privacy_policy_version: self.privacy_policy.version.clone(),
            accepted_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents(terms: &str, privacy: &str) -> LegalDocuments {
        let with_version = |kind, version: &str| DocumentSettings {
            version: version.into(),
            ..DocumentSettings::placeholder(kind)
        };
        LegalDocuments::new(
            &with_version(DocumentKind::TermsOfService, terms),
            &with_version(DocumentKind::PrivacyPolicy, privacy),
        )
        .expect("valid")
    }

    fn consent(terms: &str, privacy: &str) -> Consent {
        Consent {
            terms_version: terms.into(),
            privacy_policy_version: privacy.into(),
            accepted_at: UnixMillis::from_i64(1),
        }
    }

    #[test]
    fn urls_follow_the_locale_then_its_language_then_english() {
        let mut terms = DocumentSettings::placeholder(DocumentKind::TermsOfService);
        terms
            .urls
            .insert("zh_cn".into(), "https://legal.example/zh".into());
        let legal = LegalDocuments::new(
            &terms,
            &DocumentSettings::placeholder(DocumentKind::PrivacyPolicy),
        )
        .expect("valid");
        let view = |tag: &str| legal.in_locale(&Locale::parse(tag).expect("tag"))[0].clone();
        assert_eq!(view("zh-CN").url, "https://legal.example/zh");
        assert_eq!(view("zh-TW").locale, "zh-CN", "same language");
        assert_eq!(view("en-GB").locale, "en");
        assert_eq!(view("en-GB").version, PLACEHOLDER_VERSION);
    }

    #[test]
    fn settings_need_a_plain_version_and_an_english_url() {
        let good = DocumentSettings::placeholder(DocumentKind::TermsOfService);
        let privacy = DocumentSettings::placeholder(DocumentKind::PrivacyPolicy);
        let refused =
            |terms: DocumentSettings| LegalDocuments::new(&terms, &privacy).expect_err("refused");
        let mut no_english = good.clone();
        no_english.urls.remove("en");
        assert!(refused(no_english).contains("identity.legal.terms.urls needs an en URL"));
        for version in ["", "2025 06", "v\u{202e}1", &"9".repeat(65)] {
            let problem = refused(DocumentSettings {
                version: version.into(),
                ..good.clone()
            });
            assert!(
                problem.contains("identity.legal.terms.version"),
                "{problem}"
            );
        }
        let mut bad_url = good.clone();
        bad_url
            .urls
            .insert("en".into(), "javascript:alert(1)".into());
        assert!(refused(bad_url).contains("http(s) URL"));
        let mut bad_locale = good;
        bad_locale
            .urls
            .insert("english".into(), "https://x.example".into());
        assert!(refused(bad_locale).contains("urls.english"));
    }

    #[test]
    fn only_the_current_versions_make_a_consent() {
        let legal = documents("2025-06", "2025-03");
        let now = UnixMillis::from_i64(42);
        let given = legal
            .consent(" 2025-06 ", "2025-03", None, now)
            .expect("current");
        assert_eq!(
            given,
            Consent {
                accepted_at: now,
                ..consent("2025-06", "2025-03")
            }
        );

        let Err(ConsentRefusal::Outdated(outdated)) = legal.consent("banana", "2024-01", None, now)
        else {
            panic!("old and unknown versions must be refused");
        };
        assert_eq!(
            outdated,
            [
                OutdatedVersion {
                    kind: DocumentKind::TermsOfService,
                    current: "2025-06".into()
                },
                OutdatedVersion {
                    kind: DocumentKind::PrivacyPolicy,
                    current: "2025-03".into()
                },
            ]
        );
        assert_eq!(
            legal.consent("2025-06", "", None, now),
            Err(ConsentRefusal::NotAccepted),
            "a sign-up names both"
        );
    }

    #[test]
    fn a_document_accepted_in_its_current_version_may_go_unnamed() {
        let legal = documents("2025-06", "2025-03");
        let previous = consent("2024-01", "2025-03");
        let to_accept = legal.to_accept(&previous, "zh-CN");
        assert_eq!(to_accept.len(), 1);
        assert_eq!(
            (to_accept[0].kind, to_accept[0].locale.as_str()),
            (DocumentKind::TermsOfService, "zh-CN")
        );
        let now = UnixMillis::from_i64(7);
        assert!(legal.consent("2025-06", "", Some(&previous), now).is_ok());
        assert_eq!(
            legal.consent("", "2025-03", Some(&previous), now),
            Err(ConsentRefusal::NotAccepted),
            "the changed one must be named"
        );
        assert!(
            legal
                .to_accept(&consent("2025-06", "2025-03"), "en")
                .is_empty()
        );
    }
}

//! Which language a request's errors are written in.

use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderValue, header::ACCEPT_LANGUAGE};
use mi_contracts::Locale;

/// What the server learns of a request's language, in the order it counts: the request's own
/// locale field, the signed-in account's locale, the `accept-language` metadata. The layer puts
/// one in every request's extensions; handlers fill in the first two.
#[derive(Debug, Default)]
pub(crate) struct LocaleHints {
    request: OnceLock<Locale>,
    account: OnceLock<Locale>,
    accept_language: Option<HeaderValue>,
}

impl LocaleHints {
    /// The hints of a request with these headers; `accept-language` is read only if an error
    /// needs it.
    pub(crate) fn new(headers: &HeaderMap) -> Self {
        Self {
            accept_language: headers.get(ACCEPT_LANGUAGE).cloned(),
            ..Self::default()
        }
    }

    /// The locale of the request's error messages: the request's, the account's, the first
    /// supported language `accept-language` accepts, else English.
    pub(crate) fn chosen(&self) -> Locale {
        self.request
            .get()
            .or_else(|| self.account.get())
            .cloned()
            .or_else(|| {
                let accept_language = self.accept_language.as_ref()?.to_str().ok()?;
                negotiate(accept_language)
            })
            .unwrap_or_else(Locale::english)
    }
}

/// The first tag of an `accept-language` value, by quality (its order among equals), that is
/// a supported locale; tags of quality 0 ("not this one") and `*` are skipped.
fn negotiate(accept_language: &str) -> Option<Locale> {
    accept_language::parse_with_quality(accept_language)
        .into_iter()
        .filter(|(_, quality)| *quality > 0.0)
        .find_map(|(tag, _)| Locale::parse(&tag).ok())
}

/// Tells the error layer the locale the request names in its own field (SendCode's `locale`,
/// SignUp's `locale`): its errors are then written in it. A malformed or unsupported tag is
/// ignored (its own refusal, if any, follows the other hints).
pub fn prefer_request_locale<T>(request: &tonic::Request<T>, locale: &str) {
    hint(request, &|hints| &hints.request, locale);
}

/// Tells the error layer the locale of the signed-in account calling: its errors are written
/// in it unless the request names its own.
pub fn prefer_account_locale<T>(request: &tonic::Request<T>, locale: &str) {
    hint(request, &|hints| &hints.account, locale);
}

fn hint<T>(
    request: &tonic::Request<T>,
    slot: &dyn Fn(&LocaleHints) -> &OnceLock<Locale>,
    raw: &str,
) {
    // No hints outside the server (a handler called directly, in a unit test): nothing to tell.
    let Some(hints) = request.extensions().get::<Arc<LocaleHints>>() else {
        return;
    };
    if let Ok(locale) = Locale::parse(raw) {
        // The first word counts: a request is one person's, in one language.
        let _ = slot(hints).set(locale);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(accept_language: Option<&str>) -> Arc<LocaleHints> {
        let mut headers = HeaderMap::new();
        if let Some(value) = accept_language {
            headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
        }
        Arc::new(LocaleHints::new(&headers))
    }

    fn request_with(hints: &Arc<LocaleHints>) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(Arc::clone(hints));
        request
    }

    #[test]
    fn accept_language_picks_the_most_wanted_supported_language() {
        for (header, chosen) in [
            ("zh-CN", "zh-CN"),
            ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
            ("fr-FR, en;q=0.5, zh;q=0.7", "zh"),
            ("de, *;q=0.5", "en"),
            ("zh;q=0, en-GB", "en-GB"),
            ("", "en"),
            ("not a header at all;;;", "en"),
        ] {
            assert_eq!(hints(Some(header)).chosen().as_str(), chosen, "{header}");
        }
        assert_eq!(hints(None).chosen(), Locale::english());
    }

    #[test]
    fn the_request_wins_over_the_account_which_wins_over_accept_language() {
        let hints = hints(Some("en"));
        let request = request_with(&hints);
        prefer_account_locale(&request, "zh-CN");
        assert_eq!(hints.chosen().as_str(), "zh-CN");
        prefer_request_locale(&request, "en-US");
        assert_eq!(hints.chosen().as_str(), "en-US");

        let hints = self::hints(Some("zh-CN"));
        let request = request_with(&hints);
        prefer_request_locale(&request, "no such locale");
        prefer_account_locale(&request, "");
        assert_eq!(
            hints.chosen().as_str(),
            "zh-CN",
            "unusable hints are ignored"
        );
    }
}

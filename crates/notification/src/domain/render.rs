//! The text of each message, from localized templates (English and Simplified Chinese built
//! in), chosen by the request's locale with fallback to the language, then to English.
//! Verification codes are written here; security alerts in `alerts`. (A push wake-up is data
//! for a device app, not words for a person: `wake_ups` writes it.)

mod alerts;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use mi_contracts::{Channel, Purpose};
use minijinja::{Environment, Value, context};
use serde::Deserialize;

use super::OutgoingMessage;

const FALLBACK_LOCALE: &str = "en";
const BUILT_IN: [(&str, &str); 2] = [
    ("en", include_str!("../../templates/en.toml")),
    ("zh-CN", include_str!("../../templates/zh-CN.toml")),
];

/// One locale's messages.
#[derive(Debug, Deserialize)]
struct Catalog {
    email_subject: String,
    email_body: String,
    sms: String,
    voice: String,
    purposes: HashMap<String, String>,
    alerts: alerts::AlertCatalog,
}

/// The message catalogs, by lower-case locale tag.
#[derive(Debug)]
pub(crate) struct Templates {
    catalogs: HashMap<String, Catalog>,
    environment: Environment<'static>,
}

impl Templates {
    /// The built-in catalogs.
    pub(crate) fn built_in() -> anyhow::Result<Self> {
        let catalogs = BUILT_IN
            .iter()
            .map(|(locale, text)| {
                let catalog: Catalog =
                    toml::from_str(text).with_context(|| format!("invalid {locale} templates"))?;
                Ok((locale.to_lowercase(), catalog))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            catalogs,
            environment: Environment::new(),
        })
    }

    /// The catalog for `locale`: exact tag, else same language, else English.
    fn catalog(&self, locale: &str) -> &Catalog {
        let wanted = locale.trim().replace('_', "-").to_lowercase();
        let language = wanted.split('-').next().unwrap_or_default();
        self.catalogs
            .get(&wanted)
            .or_else(|| {
                self.catalogs
                    .iter()
                    .find(|(tag, _)| tag.split('-').next() == Some(language))
                    .map(|(_, catalog)| catalog)
            })
            .or_else(|| self.catalogs.get(FALLBACK_LOCALE))
            .unwrap_or_else(|| unreachable!("the English catalog is built in"))
    }

    /// The message carrying a verification code for `purpose`, worded by the catalog's entry
    /// under its stored name (e.g. `sign_up`), or that name itself if the catalog has none.
    pub(crate) fn code_message(
        &self,
        locale: &str,
        destination: &str,
        channel: Channel,
        purpose: Purpose,
        code: &str,
        valid_for: Duration,
    ) -> anyhow::Result<OutgoingMessage> {
        let catalog = self.catalog(locale);
        let purpose = catalog
            .purposes
            .get(purpose.as_str())
            .map_or(purpose.as_str(), String::as_str);
        let minutes = valid_for.as_secs().div_ceil(60).max(1);
        // Digits read one by one, with pauses, so a voice call is understood.
        let spoken_code = code
            .chars()
            .map(String::from)
            .collect::<Vec<_>>()
            .join(", ");
        let values = context! { code, purpose, minutes, spoken_code };
        let body = match channel {
            Channel::Email => &catalog.email_body,
            Channel::Sms => &catalog.sms,
            Channel::Voice => &catalog.voice,
            Channel::Push => anyhow::bail!("verification codes never travel by push"),
        };
        Ok(OutgoingMessage {
            destination: destination.to_owned(),
            channel,
            subject: self.render(&catalog.email_subject, &values)?,
            body: self.render(body, &values)?,
        })
    }

    /// Fills one template in; every message goes through here.
    fn render(&self, template: &str, values: &Value) -> anyhow::Result<String> {
        self.environment
            .render_str(template, values)
            .context("message template failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(locale: &str, channel: Channel) -> OutgoingMessage {
        let templates = Templates::built_in().expect("templates");
        templates
            .code_message(
                locale,
                "+8613800138000",
                channel,
                Purpose::SignUp,
                "042042",
                Duration::from_secs(599),
            )
            .expect("render")
    }

    #[test]
    fn english_sms_says_code_purpose_and_validity() {
        let message = render("en", Channel::Sms);
        assert!(message.body.contains("042042"));
        assert!(message.body.contains("create your Mi Account"));
        assert!(message.body.contains("10 minutes"));
        assert!(
            !format!("{message:?}").contains("042042"),
            "Debug must hide the code"
        );
    }

    #[test]
    fn chinese_is_chosen_by_locale_and_language() {
        for locale in ["zh-CN", "zh_cn", "zh"] {
            let message = render(locale, Channel::Email);
            assert!(
                message.body.contains("验证码是 042042"),
                "{locale}: {}",
                message.body
            );
            assert!(message.body.contains("创建小米账号"), "{locale}");
            assert!(message.subject.contains("小米账号"), "{locale}");
        }
    }

    #[test]
    fn unknown_locales_fall_back_to_english() {
        for locale in ["", "fr-FR", "pt"] {
            assert!(
                render(locale, Channel::Sms)
                    .body
                    .starts_with("[Mi Account]"),
                "{locale}"
            );
        }
    }

    #[test]
    fn no_code_is_written_for_push() {
        let templates = Templates::built_in().expect("templates");
        let pushed = templates.code_message(
            "en",
            "push-token",
            Channel::Push,
            Purpose::SignUp,
            "042042",
            Duration::from_secs(599),
        );
        assert!(pushed.is_err());
    }

    #[test]
    fn voice_reads_digits_one_by_one() {
        let message = render("en", Channel::Voice);
        assert!(
            message.body.contains("0, 4, 2, 0, 4, 2"),
            "{}",
            message.body
        );
    }
}

//! The `identity` config section. The parameters each family needs are defined in its domain
//! module and composed here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mi_platform::client::{IpNet, ProxyTrust};
use mi_platform::config::InfraConfig;
use mi_platform::service::ServiceSettings;
use secrecy::SecretString;
use serde::Deserialize;

pub use crate::domain::{
    Argon2Settings, BruteForceSettings, ChallengeSettings, DocumentSettings, LegalSettings,
    OWASP_ARGON2_MINIMUMS, PasswordResetSettings, PasswordSettings,
};
use crate::domain::{DocumentKind, LegalDocuments, SessionLifetimes};

/// Settings of the identity service (`MI_IDENTITY__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// gRPC metadata header set by a trusted proxy with the client address (the last entry
    /// of its last line counts); unset uses the peer address of the connection.
    pub trusted_proxy_header: Option<String>,
    /// Peers whose `trusted_proxy_header` is believed (CIDRs, e.g. `["10.0.0.0/8"]`); empty
    /// ignores the header, so a client cannot name its own address.
    pub trusted_proxies: Vec<IpNet>,
    /// Public keys of the verification service (`kid:x`) that sign verification tokens, as a
    /// list or one string separated by commas or whitespace (so a `*_FILE` secret works); in
    /// embedded mode, empty means the development key in the data directory.
    #[serde(deserialize_with = "list_or_separated")]
    pub verification_public_keys: Vec<String>,
    /// How long a password or second factor counts as recent for sensitive changes.
    #[serde(with = "humantime_serde")]
    pub recent_auth_window: Duration,
    /// Encrypts TOTP secrets at rest (base64, 32 bytes); generated in embedded mode.
    pub totp_encryption_key: Option<SecretString>,
    /// Passwords: policy and hashing.
    pub password: PasswordSettings,
    /// Brute-force protection of passwords: CAPTCHA, delays, alerts.
    pub brute_force: BruteForceSettings,
    /// Second-factor challenges.
    pub second_factor: ChallengeSettings,
    /// Password resets started from an identifier (StartPasswordReset).
    pub password_reset: PasswordResetSettings,
    /// Access and refresh tokens.
    pub tokens: TokenSettings,
    /// The terms of service and privacy policy a person accepts.
    pub legal: LegalSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            trusted_proxy_header: None,
            trusted_proxies: Vec::new(),
            verification_public_keys: Vec::new(),
            recent_auth_window: Duration::from_secs(300),
            totp_encryption_key: None,
            password: PasswordSettings::default(),
            brute_force: BruteForceSettings::default(),
            second_factor: ChallengeSettings::default(),
            password_reset: PasswordResetSettings::default(),
            tokens: TokenSettings::default(),
            legal: LegalSettings::default(),
        }
    }
}

impl Settings {
    /// Whose client-address header is believed.
    pub fn proxy_trust(&self) -> ProxyTrust {
        ProxyTrust::new(
            self.trusted_proxy_header.clone(),
            self.trusted_proxies.clone(),
        )
    }

    /// The current documents. In embedded mode an unset one is the placeholder; with
    /// PostgreSQL each must be configured: people would otherwise accept, and be recorded as
    /// accepting, documents that do not exist.
    pub fn legal_documents(&self, infra: &InfraConfig) -> anyhow::Result<LegalDocuments> {
        self.documents(infra.is_embedded())
    }

    /// The documents configured, the unset ones as placeholders if `placeholders` allows.
    fn documents(&self, placeholders: bool) -> anyhow::Result<LegalDocuments> {
        let document = |kind: DocumentKind, configured: &Option<DocumentSettings>| match configured
        {
            Some(settings) => Ok(settings.clone()),
            None if placeholders => Ok(DocumentSettings::placeholder(kind)),
            None => {
                let key = kind.setting();
                let variable = format!("MI_{}", key.to_ascii_uppercase().replace('.', "__"));
                Err(anyhow::anyhow!(
                    "invalid configuration: {key} is required with postgres.url set (its current \
                     version and URLs), e.g. {variable}__VERSION=2025-06 and \
                     {variable}__URLS__EN=https://… ({variable}__URLS__ZH_CN for zh-CN)"
                ))
            }
        };
        let terms = document(DocumentKind::TermsOfService, &self.legal.terms)?;
        let privacy_policy = document(DocumentKind::PrivacyPolicy, &self.legal.privacy_policy)?;
        LegalDocuments::new(&terms, &privacy_policy)
            .map_err(|problem| anyhow::anyhow!("invalid configuration: {problem}"))
    }
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// Refuses settings that would make the service unsafe or useless.
    fn validate(&self) -> anyhow::Result<()> {
        let password = &self.password;
        anyhow::ensure!(
            password.min_length >= 8 && password.min_length <= password.max_length,
            "invalid configuration: identity.password.min_length must be at least 8 and at most max_length"
        );
        anyhow::ensure!(
            password.min_strength_score <= 4,
            "invalid configuration: identity.password.min_strength_score is 0 to 4"
        );
        anyhow::ensure!(
            password.argon2.meets_owasp_minimum(),
            "invalid configuration: identity.password.argon2 is below OWASP's minimum: memory_kib \
             and iterations must reach one of {OWASP_ARGON2_MINIMUMS:?} (KiB, passes), with \
             parallelism at least 1"
        );
        let brute_force = &self.brute_force;
        anyhow::ensure!(
            brute_force.captcha_after >= 1
                && brute_force.captcha_after <= brute_force.delay_after
                && !brute_force.base_delay.is_zero()
                && brute_force.base_delay <= brute_force.max_delay,
            "invalid configuration: identity.brute_force needs 1 <= captcha_after <= delay_after and 0 < base_delay <= max_delay"
        );
        anyhow::ensure!(
            self.second_factor.max_attempts >= 1 && !self.second_factor.challenge_ttl.is_zero(),
            "invalid configuration: identity.second_factor needs max_attempts >= 1 and a positive challenge_ttl"
        );
        anyhow::ensure!(
            self.password_reset.starts_per_client_per_hour >= 1
                && !self.password_reset.ttl.is_zero(),
            "invalid configuration: identity.password_reset needs starts_per_client_per_hour >= 1 and a positive ttl"
        );
        let delays = &self.second_factor.delays;
        anyhow::ensure!(
            delays.free_failures >= 1
                && !delays.base_delay.is_zero()
                && delays.base_delay <= delays.max_delay,
            "invalid configuration: identity.second_factor.delays needs free_failures >= 1 and 0 < base_delay <= max_delay"
        );
        anyhow::ensure!(
            !self.legal.consent_ttl.is_zero(),
            "invalid configuration: identity.legal.consent_ttl must be positive"
        );
        // The documents that are configured are checked here; whether one may be left unset
        // depends on the mode (`legal_documents`).
        self.documents(true)?;
        anyhow::ensure!(
            !self.tokens.access_ttl.is_zero()
                && !self.tokens.refresh_idle_ttl.is_zero()
                && !self.tokens.session_max_lifetime.is_zero(),
            "invalid configuration: identity.tokens ttls and session_max_lifetime must be positive"
        );
        Ok(())
    }
}

/// Reads a list of strings given either as a list or as one separated string.
fn list_or_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    let items = match ListOrText::deserialize(deserializer)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::to_owned)
            .collect(),
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

impl TokenSettings {
    /// The lifetimes the domain's token issuer works with.
    pub fn lifetimes(&self) -> SessionLifetimes {
        SessionLifetimes {
            access_ttl: self.access_ttl,
            refresh_idle_ttl: self.refresh_idle_ttl,
            max_lifetime: self.session_max_lifetime,
            reuse_grace: self.refresh_reuse_grace,
        }
    }
}

/// Access and refresh tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    /// Lifetime of an access token.
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    /// A session ends when its refresh token goes unused this long.
    #[serde(with = "humantime_serde")]
    pub refresh_idle_ttl: Duration,
    /// A session ends this long after sign-in however often it is refreshed.
    #[serde(with = "humantime_serde")]
    pub session_max_lifetime: Duration,
    /// How long a traded-in refresh token still gets the same successor (concurrent refreshes).
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_grace: Duration,
    /// Ed25519 seed (base64, 32 bytes) signing access tokens; generated in embedded mode.
    pub signing_key: Option<SecretString>,
    /// The key id published with the key; default: a hash of the public key.
    pub key_id: Option<String>,
    /// Retired public keys still published while their tokens may be in use, as `kid:x`.
    pub previous_public_keys: Vec<String>,
    /// Where to write the JWK set at start, for services that read keys from a file;
    /// default `{data_dir}/identity-jwks.json`.
    pub jwks_path: Option<PathBuf>,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_idle_ttl: Duration::from_secs(30 * 24 * 3600),
            session_max_lifetime: Duration::from_secs(90 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(10),
            signing_key: None,
            key_id: None,
            previous_public_keys: Vec::new(),
            jwks_path: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_keys_read_from_a_list_or_a_secret_file_line() {
        let from_text: Settings = serde_json::from_value(
            serde_json::json!({ "verification_public_keys": "k1:aaa, k2:bbb\n" }),
        )
        .expect("text");
        assert_eq!(from_text.verification_public_keys, ["k1:aaa", "k2:bbb"]);
        let from_list: Settings =
            serde_json::from_value(serde_json::json!({ "verification_public_keys": ["k1:aaa"] }))
                .expect("list");
        assert_eq!(from_list.verification_public_keys, ["k1:aaa"]);
    }

    #[test]
    fn server_mode_must_name_its_documents_while_embedded_mode_has_placeholders() {
        let embedded = InfraConfig::default();
        let mut server = InfraConfig::default();
        server.postgres.url = Some("postgres://db:5432".into());
        let unset = Settings::default();
        let placeholders = unset.legal_documents(&embedded).expect("embedded");
        let english = mi_contracts::Locale::english();
        assert!(
            placeholders.in_locale(&english)[0]
                .url
                .starts_with("https://mi-account.example/")
        );
        let refused = unset.legal_documents(&server).expect_err("server mode");
        assert!(
            refused
                .to_string()
                .contains("identity.legal.terms is required")
                && refused
                    .to_string()
                    .contains("MI_IDENTITY__LEGAL__TERMS__URLS__EN"),
            "{refused}"
        );

        let configured: Settings = serde_json::from_value(serde_json::json!({ "legal": {
            "terms": { "version": "2025-06", "urls": { "en": "https://legal.example/tos" } },
            "privacy_policy": {
                "version": "2025-03",
                "urls": { "en": "https://legal.example/pp", "zh_cn": "https://legal.example/pp/zh" },
            },
        }}))
        .expect("settings");
        configured.validate().expect("valid");
        let documents = configured.legal_documents(&server).expect("configured");
        let chinese = mi_contracts::Locale::parse("zh-CN").expect("tag");
        let views = documents.in_locale(&chinese);
        assert_eq!(
            (views[0].url.as_str(), views[1].url.as_str()),
            ("https://legal.example/tos", "https://legal.example/pp/zh")
        );

        let mut no_english = configured;
        if let Some(terms) = no_english.legal.terms.as_mut() {
            terms.urls.clear();
        }
        let error = no_english.validate().expect_err("no en URL");
        assert!(error.to_string().contains("needs an en URL"), "{error}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API
    fn documents_are_set_by_environment_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("MI_IDENTITY__LEGAL__TERMS__VERSION", "2025");
            jail.set_env(
                "MI_IDENTITY__LEGAL__TERMS__URLS__EN",
                "https://legal.example/tos",
            );
            jail.set_env(
                "MI_IDENTITY__LEGAL__TERMS__URLS__ZH_CN",
                "https://legal.example/zh",
            );
            let loader = mi_platform::config::ConfigLoader::from_env().expect("load");
            let settings: Settings = loader.section("identity").expect("identity");
            let terms = settings.legal.terms.clone().expect("configured");
            assert_eq!(terms.version, "2025", "a version that looks like a number");
            let documents = settings
                .legal_documents(&InfraConfig::default())
                .expect("valid");
            let chinese = mi_contracts::Locale::parse("zh-CN").expect("tag");
            assert_eq!(
                documents.in_locale(&chinese)[0].url,
                "https://legal.example/zh"
            );

            jail.set_env("MI_IDENTITY__LEGAL__TERMS__VERSION", "2025.10");
            let loader = mi_platform::config::ConfigLoader::from_env().expect("load");
            let refused = loader.section::<Settings>("identity").expect_err("decimal");
            assert!(format!("{refused:#}").contains("quote it"), "{refused:#}");
            jail.set_env("MI_IDENTITY__LEGAL__TERMS__VERSION", "\"2025.10\"");
            let loader = mi_platform::config::ConfigLoader::from_env().expect("load");
            let settings: Settings = loader.section("identity").expect("quoted");
            assert_eq!(settings.legal.terms.expect("set").version, "2025.10");
            Ok(())
        });
    }

    #[test]
    fn argon2_costs_below_owasp_minimums_are_refused_at_start() {
        let with = |memory_kib: u32, iterations: u32, parallelism: u32| {
            let mut settings = Settings::default();
            settings.password.argon2 = Argon2Settings {
                memory_kib,
                iterations,
                parallelism,
            };
            settings.validate()
        };
        Settings::default()
            .validate()
            .expect("the defaults are OWASP's");
        for (memory_kib, iterations) in OWASP_ARGON2_MINIMUMS {
            with(memory_kib, iterations, 1).expect("an OWASP pair");
            let error = with(memory_kib - 1, iterations, 1).expect_err("less memory");
            assert!(error.to_string().contains("OWASP"), "{error}");
        }
        with(8 * 1024, 1, 1).expect_err("the former floor");
        with(19 * 1024, 1, 1).expect_err("19 MiB needs 2 passes");
        with(64 * 1024, 3, 0).expect_err("no lane");
    }
}

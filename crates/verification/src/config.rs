//! The `verification` config section. The limits it holds are the domain's (`domain/policy.rs`);
//! this file composes them.

use std::net::SocketAddr;
use std::time::Duration;

use mi_platform::client::{IpNet, ProxyTrust};
use mi_platform::service::ServiceSettings;
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::{CountrySettings, LimitSettings, Policy};

/// Settings of the verification service (`MI_VERIFICATION__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// How long a code is accepted after it is sent.
    #[serde(with = "humantime_serde")]
    pub code_ttl: Duration,
    /// How long a verification is kept after its code expired (`MI_VERIFICATION__RECORD_RETENTION`):
    /// the destination, purpose, attempts and outcome (the code only as a hash) stay for
    /// support and fraud analysis, e.g. an SMS-pumping bill disputed at the end of the
    /// provider's monthly billing cycle; the retention job deletes it then.
    #[serde(with = "humantime_serde")]
    pub record_retention: Duration,
    /// Wrong codes allowed before the verification locks.
    pub max_check_attempts: u32,
    /// Codes one verification may send in all (the first send and its resends).
    pub max_sends_per_verification: u32,
    /// HMAC key for stored code hashes (base64, 32 bytes); generated in embedded mode.
    pub code_hash_key: Option<SecretString>,
    /// gRPC metadata header set by a trusted proxy with the client address (the last entry
    /// of its last line counts); unset uses the peer address of the connection.
    pub trusted_proxy_header: Option<String>,
    /// Peers whose `trusted_proxy_header` is believed (CIDRs, e.g. `["10.0.0.0/8"]`); empty
    /// ignores the header, so a client cannot name its own address.
    pub trusted_proxies: Vec<IpNet>,
    /// CAPTCHA challenges.
    pub captcha: CaptchaSettings,
    /// Rate limits and fraud guard.
    pub limits: LimitSettings,
    /// Which countries phone codes may go to.
    pub countries: CountrySettings,
    /// Verification tokens.
    pub token: TokenSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50052)),
            code_ttl: Duration::from_secs(600),
            record_retention: Duration::from_secs(30 * 24 * 3600),
            max_check_attempts: 5,
            max_sends_per_verification: 5,
            code_hash_key: None,
            trusted_proxy_header: None,
            trusted_proxies: Vec::new(),
            captcha: CaptchaSettings::default(),
            limits: LimitSettings::default(),
            countries: CountrySettings::default(),
            token: TokenSettings::default(),
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
}

impl ServiceSettings for Settings {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// Refuses settings that would make the service unsafe or useless.
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.code_ttl.is_zero(),
            "invalid configuration: verification.code_ttl must be positive"
        );
        anyhow::ensure!(
            self.max_check_attempts >= 1 && self.max_sends_per_verification >= 1,
            "invalid configuration: verification.max_check_attempts and max_sends_per_verification must be at least 1"
        );
        anyhow::ensure!(
            (4..=8).contains(&self.captcha.length),
            "invalid configuration: verification.captcha.length must be 4 to 8"
        );
        anyhow::ensure!(
            !self.token.ttl.is_zero() && !self.captcha.pass_ttl.is_zero(),
            "invalid configuration: verification.token.ttl and verification.captcha.pass_ttl must be positive"
        );
        if let Some(provider) = &self.captcha.provider {
            anyhow::ensure!(
                provider.url.starts_with("https://") || provider.url.starts_with("http://"),
                "invalid configuration: verification.captcha.provider.url must be an http(s) URL"
            );
        }
        for code in self.countries.allowed.iter().chain(&self.countries.denied) {
            anyhow::ensure!(
                code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()),
                "invalid configuration: country codes are ISO 3166-1 alpha-2, upper case, e.g. CN (got {code})"
            );
        }
        Ok(())
    }
}

impl Settings {
    /// What the verifier enforces.
    pub fn policy(&self) -> Policy {
        Policy {
            code_ttl: self.code_ttl,
            max_check_attempts: self.max_check_attempts,
            max_sends_per_verification: self.max_sends_per_verification,
            captcha_risk_threshold: self.captcha.risk_threshold,
            limits: self.limits.clone(),
            countries: self.countries.clone(),
        }
    }
}

/// CAPTCHA challenges.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CaptchaSettings {
    /// How long a challenge can be answered.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Characters in a challenge.
    pub length: u32,
    /// From this many sends in an hour to one destination or from one client address on, a
    /// send needs a solved CAPTCHA (sign-up always needs one).
    pub risk_threshold: u32,
    /// A third-party CAPTCHA accepted beside the image one; unset accepts images only.
    pub provider: Option<CaptchaProviderSettings>,
    /// How long a CAPTCHA pass (PassCaptcha) is good for: long enough to send the sign-in it
    /// is for, as reCAPTCHA's tokens last two minutes.
    #[serde(with = "humantime_serde")]
    pub pass_ttl: Duration,
    /// Embedded mode only: every image CAPTCHA also accepts the documented answer
    /// `test-captcha`, so that a program can drive sign-up; refused with PostgreSQL.
    pub test_mode: bool,
}

impl Default for CaptchaSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            length: 5,
            risk_threshold: 3,
            provider: None,
            pass_ttl: Duration::from_secs(120),
            test_mode: false,
        }
    }
}

/// A third-party CAPTCHA's siteverify endpoint (hCaptcha, Cloudflare Turnstile, reCAPTCHA).
#[derive(Debug, Clone, Deserialize)]
pub struct CaptchaProviderSettings {
    /// E.g. `https://api.hcaptcha.com/siteverify`,
    /// `https://challenges.cloudflare.com/turnstile/v0/siteverify` or
    /// `https://www.google.com/recaptcha/api/siteverify`.
    pub url: String,
    /// This site's secret with the provider.
    pub secret: SecretString,
    /// How long to wait for the provider.
    #[serde(default = "provider_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn provider_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Verification tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TokenSettings {
    /// How long a token is valid.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Ed25519 seed (base64, 32 bytes); generated in embedded mode.
    pub signing_key: Option<SecretString>,
    /// The key id published with the key; default: a hash of the public key.
    pub key_id: Option<String>,
    /// Retired public keys still published while their tokens may be in use, as `kid:x`.
    pub previous_public_keys: Vec<String>,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            signing_key: None,
            key_id: None,
            previous_public_keys: Vec::new(),
        }
    }
}

//! The `verification` config section.

use std::net::SocketAddr;
use std::time::Duration;

use mi_platform::service::ServiceSettings;
use secrecy::SecretString;
use serde::Deserialize;

/// Settings of the verification service (`MI_VERIFICATION__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// How long a code is accepted after it is sent.
    #[serde(with = "humantime_serde")]
    pub code_ttl: Duration,
    /// Wrong codes allowed before the verification locks.
    pub max_check_attempts: u32,
    /// Codes one verification may send in all (the first send and its resends).
    pub max_sends_per_verification: u32,
    /// HMAC key for stored code hashes (base64, 32 bytes); generated in embedded mode.
    pub code_hash_key: Option<SecretString>,
    /// gRPC metadata header set by a trusted proxy with the client address (its last entry
    /// counts); unset uses the peer address of the connection.
    pub trusted_proxy_header: Option<String>,
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
            max_check_attempts: 5,
            max_sends_per_verification: 5,
            code_hash_key: None,
            trusted_proxy_header: None,
            captcha: CaptchaSettings::default(),
            limits: LimitSettings::default(),
            countries: CountrySettings::default(),
            token: TokenSettings::default(),
        }
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
            !self.token.ttl.is_zero(),
            "invalid configuration: verification.token.ttl must be positive"
        );
        for code in self.countries.allowed.iter().chain(&self.countries.denied) {
            anyhow::ensure!(
                code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()),
                "invalid configuration: country codes are ISO 3166-1 alpha-2, upper case, e.g. CN (got {code})"
            );
        }
        Ok(())
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
}

impl Default for CaptchaSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            length: 5,
            risk_threshold: 3,
        }
    }
}

/// Rate limits; every send must fit all of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LimitSettings {
    /// The shortest time between two sends to one destination.
    #[serde(with = "humantime_serde")]
    pub send_cooldown: Duration,
    /// Sends to one destination per hour.
    pub destination_per_hour: u32,
    /// Sends to one destination per day.
    pub destination_per_day: u32,
    /// Sends requested from one client address per hour.
    pub client_per_hour: u32,
    /// Phone sends to one country per hour (SMS-pumping budget).
    pub country_per_hour: u32,
    /// Code checks from one client address per hour.
    pub checks_per_client_per_hour: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            send_cooldown: Duration::from_secs(60),
            destination_per_hour: 5,
            destination_per_day: 10,
            client_per_hour: 20,
            country_per_hour: 1_000,
            checks_per_client_per_hour: 100,
        }
    }
}

/// Countries phone codes may go to, as ISO 3166-1 alpha-2 codes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CountrySettings {
    /// If not empty, only these countries.
    pub allowed: Vec<String>,
    /// Never these countries.
    pub denied: Vec<String>,
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

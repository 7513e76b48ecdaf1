//! The `identity` config section.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mi_platform::service::ServiceSettings;
use secrecy::SecretString;
use serde::Deserialize;

/// Settings of the identity service (`MI_IDENTITY__...`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub listen_addr: SocketAddr,
    /// gRPC metadata header set by a trusted proxy with the client address (its last entry
    /// counts); unset uses the peer address of the connection.
    pub trusted_proxy_header: Option<String>,
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
    /// Brute-force protection of password sign-in.
    pub lockout: LockoutSettings,
    /// Second-factor challenges.
    pub second_factor: SecondFactorSettings,
    /// Access and refresh tokens.
    pub tokens: TokenSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            trusted_proxy_header: None,
            verification_public_keys: Vec::new(),
            recent_auth_window: Duration::from_secs(300),
            totp_encryption_key: None,
            password: PasswordSettings::default(),
            lockout: LockoutSettings::default(),
            second_factor: SecondFactorSettings::default(),
            tokens: TokenSettings::default(),
        }
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
            password.argon2.memory_kib >= 8 * 1024 && password.argon2.iterations >= 1,
            "invalid configuration: identity.password.argon2 needs at least 8 MiB and 1 iteration"
        );
        anyhow::ensure!(
            self.lockout.max_failures >= 1
                && !self.lockout.base_duration.is_zero()
                && self.lockout.base_duration <= self.lockout.max_duration,
            "invalid configuration: identity.lockout needs max_failures >= 1 and 0 < base_duration <= max_duration"
        );
        anyhow::ensure!(
            self.second_factor.max_attempts >= 1 && !self.second_factor.challenge_ttl.is_zero(),
            "invalid configuration: identity.second_factor needs max_attempts >= 1 and a positive challenge_ttl"
        );
        anyhow::ensure!(
            !self.tokens.access_ttl.is_zero() && !self.tokens.refresh_idle_ttl.is_zero(),
            "invalid configuration: identity.tokens ttls must be positive"
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

/// Password policy and hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PasswordSettings {
    /// Shortest password accepted.
    pub min_length: usize,
    /// Longest password accepted (bounds hashing work).
    pub max_length: usize,
    /// Require both lower-case and upper-case letters.
    pub require_mixed_case: bool,
    /// Require a digit or a symbol.
    pub require_digit_or_symbol: bool,
    /// Lowest zxcvbn score accepted (0 to 4).
    pub min_strength_score: u8,
    /// Server-side secret mixed into every hash (base64, 32 bytes); generated in embedded mode.
    pub pepper: Option<SecretString>,
    /// Argon2id cost; a hash made with other parameters is redone at the next sign-in.
    pub argon2: Argon2Settings,
    /// Hashes computed at once; default one per CPU core.
    pub hash_threads: Option<usize>,
    /// Hash in worker processes of this executable, in a scheduling group of their own, so
    /// saturated hashing does not delay cheap RPCs; false (or an executable that serves no
    /// workers) hashes on threads of the service.
    pub hash_processes: bool,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            require_mixed_case: true,
            require_digit_or_symbol: true,
            min_strength_score: 3,
            pepper: None,
            argon2: Argon2Settings::default(),
            hash_threads: None,
            hash_processes: true,
        }
    }
}

/// Argon2id parameters; defaults are OWASP's (19 MiB, 2 iterations, 1 lane).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Argon2Settings {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Brute-force protection: after `max_failures` consecutive wrong passwords the account's
/// password sign-in is refused for `base_duration`, doubling with each further failure up to
/// `max_duration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LockoutSettings {
    /// Off only for load tests.
    pub enabled: bool,
    /// Consecutive failures that lock the account.
    pub max_failures: u32,
    /// The first lock's length.
    #[serde(with = "humantime_serde")]
    pub base_duration: Duration,
    /// The longest lock.
    #[serde(with = "humantime_serde")]
    pub max_duration: Duration,
    /// How long failures are remembered without a new one.
    #[serde(with = "humantime_serde")]
    pub failure_memory: Duration,
    /// Failed sign-ins allowed from one client address per hour, across accounts.
    pub client_failures_per_hour: u32,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            base_duration: Duration::from_secs(60),
            max_duration: Duration::from_secs(15 * 60),
            failure_memory: Duration::from_secs(24 * 3600),
            client_failures_per_hour: 100,
        }
    }
}

/// Second-factor challenges.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SecondFactorSettings {
    /// How long a challenge can be answered.
    #[serde(with = "humantime_serde")]
    pub challenge_ttl: Duration,
    /// Wrong answers before a challenge locks.
    pub max_attempts: u32,
    /// Also challenge a sign-in from a device the account never used, when the account has a
    /// verified contact to send a code to.
    pub challenge_new_devices: bool,
}

impl Default for SecondFactorSettings {
    fn default() -> Self {
        Self {
            challenge_ttl: Duration::from_secs(300),
            max_attempts: 5,
            challenge_new_devices: false,
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
}

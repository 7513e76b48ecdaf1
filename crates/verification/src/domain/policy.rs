//! The limits a verifier enforces. Defined here, next to the rules that read them; `config.rs`
//! composes them from the service's settings (and reads the two tables below as they are).

use std::time::Duration;

use serde::Deserialize;

/// Everything configurable about sending and checking codes.
#[derive(Debug, Clone)]
pub struct Policy {
    /// How long a code is accepted after it is sent.
    pub code_ttl: Duration,
    /// Wrong codes allowed before the verification locks.
    pub max_check_attempts: u32,
    /// Codes one verification may send in all (the first send and its resends).
    pub max_sends_per_verification: u32,
    /// From this many sends in an hour to one destination or from one client address on, a
    /// send needs a solved CAPTCHA (sign-up always needs one).
    pub captcha_risk_threshold: u32,
    /// Rate limits.
    pub limits: LimitSettings,
    /// Which countries phone codes may go to.
    pub countries: CountrySettings,
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
    /// Phone sends to all countries together per hour: the most an SMS-pumping or toll-fraud
    /// attack spread over many countries can cost in an hour.
    pub global_per_hour: u32,
    /// Code checks from one client address per hour.
    pub checks_per_client_per_hour: u32,
    /// CAPTCHA challenges created for one client address per hour: enough for a person who
    /// gets a few wrong, too few to farm images for training a solver.
    pub captchas_per_client_per_hour: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            send_cooldown: Duration::from_secs(60),
            destination_per_hour: 5,
            destination_per_day: 10,
            client_per_hour: 20,
            country_per_hour: 1_000,
            global_per_hour: 10_000,
            checks_per_client_per_hour: 100,
            captchas_per_client_per_hour: 100,
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

//! The challenge a sign-in waits on when it needs a second factor, and its settings.

use std::time::Duration;

use mi_contracts::{MiId, UnixMillis};
use serde::Deserialize;

use crate::domain::{DeviceInfo, FactorDelaySettings, SecondFactorMethod};

/// Second-factor challenges (`identity.second_factor`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChallengeSettings {
    /// How long a challenge can be answered.
    #[serde(with = "humantime_serde")]
    pub challenge_ttl: Duration,
    /// Wrong answers before a challenge locks.
    pub max_attempts: u32,
    /// Also challenge a sign-in from a device the account never used, when the account has a
    /// verified contact to send a code to.
    pub challenge_new_devices: bool,
    /// Delays after wrong proofs, per account across challenges and Reauthenticate.
    pub delays: FactorDelaySettings,
}

impl Default for ChallengeSettings {
    fn default() -> Self {
        Self {
            challenge_ttl: Duration::from_secs(300),
            max_attempts: 5,
            challenge_new_devices: false,
            delays: FactorDelaySettings::default(),
        }
    }
}

/// Why a challenge was issued, stored and shown by its snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum ChallengeReason {
    /// The account has two-factor authentication on.
    TwoFactor,
    /// The device is new to the account and the policy asks for a code.
    NewDevice,
}

impl ChallengeReason {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// A UUIDv4 (not guessable).
    pub challenge_id: String,
    /// Whose sign-in.
    pub mi_id: MiId,
    /// The device signing in.
    pub device: DeviceInfo,
    /// The client address of the sign-in.
    pub client_address: String,
    /// Why it was issued.
    pub reason: ChallengeReason,
    /// How it may be answered.
    pub methods: Vec<SecondFactorMethod>,
    /// The device had never signed in to the account.
    pub new_device: bool,
    /// Wrong answers so far.
    pub attempts: u32,
    /// When it expires.
    pub expires_at: UnixMillis,
    /// Answered already.
    pub completed: bool,
}

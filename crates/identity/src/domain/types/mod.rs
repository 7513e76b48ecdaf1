//! The plain types every family shares: the account and its parts, the session, the device,
//! and contacts (`contact.rs`). The Mi ID is [`mi_contracts::MiId`].

mod contact;

use mi_contracts::{MiId, UnixMillis, text};
use serde::{Deserialize, Serialize};

pub use self::contact::{Contact, ContactKind, ContactValue, Identifier};

/// The versions of the documents accepted at sign-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Terms of service version.
    pub terms_version: String,
    /// Privacy policy version.
    pub privacy_policy_version: String,
    /// When they were accepted.
    pub accepted_at: UnixMillis,
}

/// Which second factors are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TwoFactorStatus {
    /// An authenticator app is confirmed.
    pub totp: bool,
    /// SMS/email codes to verified contacts.
    pub codes: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

impl TwoFactorStatus {
    /// Whether sign-in asks for a second factor.
    pub fn enabled(self) -> bool {
        self.totp || self.codes
    }
}

/// An account as stored, without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its Mi ID.
    pub mi_id: MiId,
    /// The name shown to the person.
    pub display_name: String,
    /// ISO 3166-1 alpha-2 region.
    pub region: String,
    /// BCP 47 language tag.
    pub locale: String,
    /// When it was created.
    pub created_at: UnixMillis,
    /// Phone numbers and email addresses, the primary one first.
    pub contacts: Vec<Contact>,
    /// Second factors.
    pub two_factor: TwoFactorStatus,
    /// What was accepted at sign-up.
    pub consent: Consent,
}

impl Account {
    /// The verified contacts' values, for security alerts and second-factor codes.
    pub fn contact_values(&self) -> Vec<String> {
        self.contacts
            .iter()
            .map(|contact| contact.value.as_str().to_owned())
            .collect()
    }
}

/// What the person signs in on, as the client describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// A stable id chosen by the client.
    pub device_id: String,
    /// E.g. "Redmi Note 13".
    pub model: String,
    /// E.g. "HyperOS 2.0".
    pub os: String,
    /// The name the person gave it.
    pub name: String,
}

impl DeviceInfo {
    /// The most characters each field may have.
    pub const MAX_FIELD_CHARS: usize = 128;

    /// Trims and bounds each field, refusing hidden characters (the name, model and OS are
    /// shown in alerts and device lists); a device id is required.
    pub fn parse(device: Self) -> Result<Self, (&'static str, String)> {
        let field = |name: &'static str, value: String| -> Result<String, (&'static str, String)> {
            let value = value.trim().to_owned();
            if value.chars().count() > Self::MAX_FIELD_CHARS {
                let problem = format!("must be at most {} characters", Self::MAX_FIELD_CHARS);
                return Err((name, problem));
            }
            text::check_displayed(&value).map_err(|problem| (name, problem.to_owned()))?;
            Ok(value)
        };
        let parsed = Self {
            device_id: field("device.device_id", device.device_id)?,
            model: field("device.model", device.model)?,
            os: field("device.os", device.os)?,
            name: field("device.name", device.name)?,
        };
        if parsed.device_id.is_empty() {
            return Err(("device.device_id", "is required".into()));
        }
        Ok(parsed)
    }
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// A UUIDv7.
    pub session_id: String,
    /// Whose session.
    pub mi_id: MiId,
    /// The device signed in on.
    pub device: DeviceInfo,
    /// The client address at sign-in.
    pub client_address: String,
    /// Authentication methods (`pwd`, `otp`, `sms`, ...).
    pub methods: Vec<String>,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it was last refreshed.
    pub last_used_at: UnixMillis,
    /// When a password or second factor was last proven.
    pub auth_time: UnixMillis,
}

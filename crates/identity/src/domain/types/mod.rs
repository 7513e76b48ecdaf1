//! The plain types every family shares: the account and its parts, the session, the device,
//! and contacts (`contact.rs`). The Mi ID is [`mi_contracts::MiId`].

mod contact;

use mi_contracts::{MiId, UnixMillis};
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

/// What the person signs in on, as the client describes it: the description every service
/// shares.
pub use mi_contracts::DeviceInfo;

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

impl Session {
    /// Where the session stands in the account's list.
    pub fn position(&self) -> SessionPosition {
        SessionPosition {
            created_at: self.created_at,
            session_id: self.session_id.clone(),
        }
    }
}

/// A place in an account's session list, which is ordered newest first, then by session id
/// (descending, so two sessions of one millisecond keep one order). Serialized into page
/// tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPosition {
    /// The creation time of the session at this place.
    pub created_at: UnixMillis,
    /// Its session id.
    pub session_id: String,
}

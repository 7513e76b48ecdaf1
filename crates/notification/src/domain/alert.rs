//! Security alerts: what happened to an account, in the terms its owner is told.

/// A security event the account's owner is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityAlert {
    /// The account, named so that someone with several accounts knows which one it is.
    pub mi_id: u64,
    /// What happened.
    pub kind: AlertKind,
}

/// What happened to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertKind {
    /// The password was changed while signed in (`reset` false) or reset with a code.
    PasswordChanged {
        /// Reset through "forgot password" rather than changed.
        reset: bool,
    },
    /// Too many wrong passwords blocked password sign-in for a while.
    AccountLocked {
        /// Wrong passwords in a row.
        failures: u32,
        /// How long password sign-in stays blocked, rounded up.
        minutes: u64,
    },
    /// A second factor was turned on.
    TwoFactorEnabled {
        /// `totp` (an authenticator app) or `code` (codes by SMS or email).
        method: String,
    },
    /// A second factor was turned off.
    TwoFactorDisabled {
        /// `totp` (an authenticator app) or `code` (codes by SMS or email).
        method: String,
    },
    /// A recovery phone number or email address was added.
    RecoveryContactAdded {
        /// The contact in full; alerts show it masked.
        contact: String,
    },
    /// A recovery phone number or email address was removed.
    RecoveryContactRemoved {
        /// The contact in full; alerts show it masked.
        contact: String,
    },
    /// The account signed in on a device it had never used before.
    NewDeviceSignIn {
        /// The name the person gave the device; may be empty.
        device_name: String,
        /// E.g. "Redmi Note 13"; may be empty.
        device_model: String,
        /// Where the sign-in came from; may be empty.
        client_address: String,
    },
}

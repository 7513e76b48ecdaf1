//! What happened to an account, as the domain records it: plain values handed to the store
//! with the change they describe, written in the same transaction. `publish.rs` is the one
//! place that turns them into the protobuf payloads other services read.

use mi_contracts::MiId;

use super::{Account, Consent, ContactValue, Session};

/// The people a security alert about an account goes to: its verified contacts and locale,
/// carried in the event so the notification service needs no copy of accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The verified contacts' values.
    pub contacts: Vec<String>,
    /// BCP 47 language tag.
    pub locale: String,
}

impl Audience {
    /// Everyone `account` lists.
    pub fn of(account: &Account) -> Self {
        Self {
            contacts: account.contact_values(),
            locale: account.locale.clone(),
        }
    }
}

/// Which second factor a [`IdentityEvent::TwoFactorChanged`] is about, named in the event by
/// its snake_case name.
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
pub enum TwoFactorKind {
    /// The authenticator app.
    Totp,
    /// Codes sent to verified contacts.
    Code,
}

impl TwoFactorKind {
    /// The name the event carries.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One event about an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityEvent {
    /// A new account, with the contact it was created with.
    AccountCreated {
        /// The account as created.
        account: Account,
        /// The contact proven at sign-up.
        contact: ContactValue,
    },
    /// A session started.
    SignedIn {
        /// Whose session.
        mi_id: MiId,
        /// The session.
        session: Session,
        /// The device had never signed in to the account.
        new_device: bool,
        /// Who hears of it.
        audience: Audience,
    },
    /// Wrong passwords for one of the account's identifiers made a CAPTCHA necessary (at most
    /// once per alert period).
    PasswordFailures {
        /// Whose password.
        mi_id: MiId,
        /// Wrong passwords in a row for that identifier so far.
        failures: u32,
        /// Who hears of it.
        audience: Audience,
    },
    /// Wrong second-factor proofs used up the free ones: further proofs wait. The password was
    /// right (a challenge or a session exists), so the owner should change it.
    SecondFactorFailures {
        /// Whose second factor.
        mi_id: MiId,
        /// Wrong proofs in a row so far.
        failures: u32,
        /// Who hears of it.
        audience: Audience,
    },
    /// A session ended.
    SessionRevoked {
        /// Whose session.
        mi_id: MiId,
        /// Which session.
        session_id: String,
        /// Why, e.g. `signed_out` or `password_changed`.
        reason: String,
    },
    /// The password changed, or was reset.
    PasswordChanged {
        /// Whose password.
        mi_id: MiId,
        /// Reset with a verification token rather than changed with the old password.
        reset: bool,
        /// Who hears of it.
        audience: Audience,
    },
    /// A recovery contact was added; the audience lists it.
    RecoveryContactAdded {
        /// Whose contact.
        mi_id: MiId,
        /// The contact.
        contact: ContactValue,
        /// Who hears of it.
        audience: Audience,
    },
    /// A recovery contact was removed; the audience still lists it, so it hears of it too.
    RecoveryContactRemoved {
        /// Whose contact.
        mi_id: MiId,
        /// The contact.
        contact: ContactValue,
        /// Who hears of it.
        audience: Audience,
    },
    /// A second factor was turned on or off.
    TwoFactorChanged {
        /// Whose second factor.
        mi_id: MiId,
        /// Which one.
        kind: TwoFactorKind,
        /// On or off.
        enabled: bool,
        /// Who hears of it.
        audience: Audience,
    },
    /// The profile changed.
    ProfileUpdated {
        /// The account with its new profile.
        account: Account,
        /// The fields named in the update.
        changed_fields: Vec<String>,
    },
    /// New versions of the documents were accepted at a sign-in that asked for them (those
    /// accepted at sign-up travel in `AccountCreated`).
    LegalDocumentsAccepted {
        /// Whose consent.
        mi_id: MiId,
        /// The versions and when.
        consent: Consent,
    },
    /// What other services project of the account as it stands: published for every existing
    /// account by the snapshot backfill (`snapshots.rs`).
    AccountSnapshot {
        /// Whose account.
        mi_id: MiId,
        /// Who its alerts go to.
        audience: Audience,
        /// Whether it has a second factor.
        has_second_factor: bool,
    },
    /// The account is gone.
    AccountDeleted {
        /// Whose account.
        mi_id: MiId,
    },
}

/// A new account.
pub fn account_created(account: &Account, contact: &ContactValue) -> IdentityEvent {
    IdentityEvent::AccountCreated {
        account: account.clone(),
        contact: contact.clone(),
    }
}

/// A session of `account` started.
pub fn signed_in(account: &Account, session: &Session, new_device: bool) -> IdentityEvent {
    IdentityEvent::SignedIn {
        mi_id: account.mi_id,
        session: session.clone(),
        new_device,
        audience: Audience::of(account),
    }
}

/// Wrong passwords made a CAPTCHA necessary.
pub fn password_failures(account: &Account, failures: u32) -> IdentityEvent {
    IdentityEvent::PasswordFailures {
        mi_id: account.mi_id,
        failures,
        audience: Audience::of(account),
    }
}

/// Wrong second-factor proofs used up the free ones.
pub fn second_factor_failures(account: &Account, failures: u32) -> IdentityEvent {
    IdentityEvent::SecondFactorFailures {
        mi_id: account.mi_id,
        failures,
        audience: Audience::of(account),
    }
}

/// A session ended.
pub fn session_revoked(mi_id: MiId, session_id: &str, reason: &str) -> IdentityEvent {
    IdentityEvent::SessionRevoked {
        mi_id,
        session_id: session_id.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The password changed (or was reset).
pub fn password_changed(account: &Account, reset: bool) -> IdentityEvent {
    IdentityEvent::PasswordChanged {
        mi_id: account.mi_id,
        reset,
        audience: Audience::of(account),
    }
}

/// A recovery contact was added; `account` already lists it.
pub fn recovery_contact_added(account: &Account, contact: &ContactValue) -> IdentityEvent {
    IdentityEvent::RecoveryContactAdded {
        mi_id: account.mi_id,
        contact: contact.clone(),
        audience: Audience::of(account),
    }
}

/// A recovery contact was removed; `account` still lists it, so it hears of it too.
pub fn recovery_contact_removed(account: &Account, contact: &ContactValue) -> IdentityEvent {
    IdentityEvent::RecoveryContactRemoved {
        mi_id: account.mi_id,
        contact: contact.clone(),
        audience: Audience::of(account),
    }
}

/// A second factor was turned on or off.
pub fn two_factor_changed(account: &Account, kind: TwoFactorKind, enabled: bool) -> IdentityEvent {
    IdentityEvent::TwoFactorChanged {
        mi_id: account.mi_id,
        kind,
        enabled,
        audience: Audience::of(account),
    }
}

/// The profile changed.
pub fn profile_updated(account: &Account, changed_fields: Vec<String>) -> IdentityEvent {
    IdentityEvent::ProfileUpdated {
        account: account.clone(),
        changed_fields,
    }
}

/// The current documents were accepted.
pub fn legal_documents_accepted(mi_id: MiId, consent: &Consent) -> IdentityEvent {
    IdentityEvent::LegalDocumentsAccepted {
        mi_id,
        consent: consent.clone(),
    }
}

/// The account as other services project it.
pub fn account_snapshot(account: &Account) -> IdentityEvent {
    IdentityEvent::AccountSnapshot {
        mi_id: account.mi_id,
        audience: Audience::of(account),
        has_second_factor: account.two_factor.enabled(),
    }
}

/// The account is gone.
pub fn account_deleted(mi_id: MiId) -> IdentityEvent {
    IdentityEvent::AccountDeleted { mi_id }
}

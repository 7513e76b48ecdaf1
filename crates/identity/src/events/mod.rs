//! The events identity publishes on its topic (`{prefix}identity.events`) through the outbox,
//! keyed by Mi ID. Alert-worthy events carry their audience (the account's contacts and
//! locale) so the notification service needs no copy of accounts.

use mi_platform::clock;
use mi_platform::outbox::Outbox;
use mi_proto::events::v1 as events;
use mi_proto::identity::v1 as api;
use sqlx::AnyConnection;

use crate::domain::{Account, ContactKind, ContactValue, DeviceInfo, MiId, Session};

/// Declares [`IdentityEvent`] with one variant per payload type, and its one way to the outbox.
macro_rules! identity_events {
    ($($name:ident),+ $(,)?) => {
        /// One event about an account, ready for the outbox.
        #[derive(Debug, Clone)]
        pub enum IdentityEvent {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name(events::$name),
            )+
        }

        impl IdentityEvent {
            /// Writes the event to the outbox inside the caller's transaction, keyed by its
            /// account.
            pub async fn enqueue(
                &self,
                outbox: &Outbox,
                connection: &mut AnyConnection,
                mi_id: MiId,
            ) -> anyhow::Result<()> {
                let key = mi_id.to_string();
                match self {
                    $(Self::$name(event) => outbox.enqueue(connection, &key, event).await?,)+
                };
                Ok(())
            }
        }
    };
}

identity_events!(
    AccountCreated,
    SignedIn,
    AccountLocked,
    SessionRevoked,
    PasswordChanged,
    RecoveryContactAdded,
    RecoveryContactRemoved,
    TwoFactorEnabled,
    TwoFactorDisabled,
    ProfileUpdated,
    AccountDeleted,
);

/// The people a security alert about `account` goes to.
pub fn audience(account: &Account) -> events::AlertAudience {
    events::AlertAudience {
        contacts: account.contact_values(),
        locale: account.locale.clone(),
    }
}

/// The wire form of a contact kind.
pub fn contact_kind(kind: ContactKind) -> api::ContactKind {
    match kind {
        ContactKind::Phone => api::ContactKind::Phone,
        ContactKind::Email => api::ContactKind::Email,
    }
}

/// The wire form of a device.
pub fn device(device: &DeviceInfo) -> api::DeviceInfo {
    api::DeviceInfo {
        device_id: device.device_id.clone(),
        model: device.model.clone(),
        os: device.os.clone(),
        name: device.name.clone(),
    }
}

/// A new account.
pub fn account_created(account: &Account, contact: &ContactValue) -> IdentityEvent {
    IdentityEvent::AccountCreated(events::AccountCreated {
        mi_id: account.mi_id.get(),
        contact_kind: contact_kind(contact.kind()).into(),
        contact: contact.as_str().to_owned(),
        region: account.region.clone(),
        locale: account.locale.clone(),
        terms_version: account.consent.terms_version.clone(),
        privacy_policy_version: account.consent.privacy_policy_version.clone(),
    })
}

/// A session started.
pub fn signed_in(account: &Account, session: &Session, new_device: bool) -> IdentityEvent {
    IdentityEvent::SignedIn(events::SignedIn {
        mi_id: account.mi_id.get(),
        session_id: session.session_id.clone(),
        device: Some(device(&session.device)),
        client_address: session.client_address.clone(),
        new_device,
        methods: session.methods.clone(),
        audience: Some(audience(account)),
    })
}

/// Password sign-in locked.
pub fn account_locked(account: &Account, failures: u32, locked_until: i64) -> IdentityEvent {
    IdentityEvent::AccountLocked(events::AccountLocked {
        mi_id: account.mi_id.get(),
        failures,
        locked_until: Some(clock::millis_to_timestamp(locked_until)),
        audience: Some(audience(account)),
    })
}

/// A session ended.
pub fn session_revoked(mi_id: MiId, session_id: &str, reason: &str) -> IdentityEvent {
    IdentityEvent::SessionRevoked(events::SessionRevoked {
        mi_id: mi_id.get(),
        session_id: session_id.to_owned(),
        reason: reason.to_owned(),
    })
}

/// The password changed (or was reset).
pub fn password_changed(account: &Account, reset: bool) -> IdentityEvent {
    IdentityEvent::PasswordChanged(events::PasswordChanged {
        mi_id: account.mi_id.get(),
        reset,
        audience: Some(audience(account)),
    })
}

/// A recovery contact was added; `account` already lists it.
pub fn recovery_contact_added(account: &Account, contact: &ContactValue) -> IdentityEvent {
    IdentityEvent::RecoveryContactAdded(events::RecoveryContactAdded {
        mi_id: account.mi_id.get(),
        kind: contact_kind(contact.kind()).into(),
        value: contact.as_str().to_owned(),
        audience: Some(audience(account)),
    })
}

/// A recovery contact was removed; `account` still lists it, so it hears of it too.
pub fn recovery_contact_removed(account: &Account, contact: &ContactValue) -> IdentityEvent {
    IdentityEvent::RecoveryContactRemoved(events::RecoveryContactRemoved {
        mi_id: account.mi_id.get(),
        kind: contact_kind(contact.kind()).into(),
        value: contact.as_str().to_owned(),
        audience: Some(audience(account)),
    })
}

/// A second factor was turned on or off: `method` is `totp` or `code`.
pub fn two_factor_changed(account: &Account, method: &str, enabled: bool) -> IdentityEvent {
    let (mi_id, method, audience) = (
        account.mi_id.get(),
        method.to_owned(),
        Some(audience(account)),
    );
    if enabled {
        IdentityEvent::TwoFactorEnabled(events::TwoFactorEnabled {
            mi_id,
            method,
            audience,
        })
    } else {
        IdentityEvent::TwoFactorDisabled(events::TwoFactorDisabled {
            mi_id,
            method,
            audience,
        })
    }
}

/// The profile changed.
pub fn profile_updated(account: &Account, changed_fields: Vec<String>) -> IdentityEvent {
    IdentityEvent::ProfileUpdated(events::ProfileUpdated {
        mi_id: account.mi_id.get(),
        display_name: account.display_name.clone(),
        region: account.region.clone(),
        locale: account.locale.clone(),
        changed_fields,
    })
}

/// The account is gone.
pub fn account_deleted(mi_id: MiId) -> IdentityEvent {
    IdentityEvent::AccountDeleted(events::AccountDeleted { mi_id: mi_id.get() })
}

//! What identity publishes on its topic (`{prefix}identity.events`) through the outbox, keyed
//! by Mi ID: the one place that turns the domain's [`IdentityEvent`]s into `mi.events.v1`
//! payloads. Alert-worthy events carry their audience (the account's contacts and locale) so
//! the notification service needs no copy of accounts.

use mi_contracts::MiId;
use mi_platform::outbox::Outbox;
use mi_proto::contracts::device_to_wire;
use mi_proto::events::v1 as events;
use sqlx::{AnyConnection, Row};

use crate::domain::events::{Audience, IdentityEvent};
use crate::wire::contact_kind;

/// Writes `event` to the outbox inside the caller's transaction, keyed by `mi_id`.
pub(crate) async fn enqueue(
    outbox: &Outbox,
    connection: &mut AnyConnection,
    mi_id: MiId,
    event: &IdentityEvent,
) -> anyhow::Result<()> {
    let key = mi_id.to_string();
    let _event_id = match event.clone() {
        IdentityEvent::AccountCreated { account, contact } => {
            let payload = events::AccountCreated {
                mi_id: account.mi_id.get(),
                contact_kind: contact_kind(contact.kind()).into(),
                contact: contact.as_str().to_owned(),
                region: account.region,
                locale: account.locale,
                terms_version: account.consent.terms_version,
                privacy_policy_version: account.consent.privacy_policy_version,
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::SignedIn {
            mi_id,
            session,
            new_device,
            audience,
        } => {
            let has_second_factor = has_second_factor(connection, mi_id).await?;
            let payload = events::SignedIn {
                mi_id: mi_id.get(),
                session_id: session.session_id,
                device: Some(device_to_wire(&session.device)),
                client_address: session.client_address,
                new_device,
                methods: session.methods,
                audience: Some(alert_audience(audience)),
                has_second_factor: Some(has_second_factor),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::PasswordFailures {
            mi_id,
            failures,
            audience,
        } => {
            let payload = events::PasswordFailures {
                mi_id: mi_id.get(),
                failures,
                audience: Some(alert_audience(audience)),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::SecondFactorFailures {
            mi_id,
            failures,
            audience,
        } => {
            let payload = events::SecondFactorFailures {
                mi_id: mi_id.get(),
                failures,
                audience: Some(alert_audience(audience)),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::SessionRevoked {
            mi_id,
            session_id,
            reason,
        } => {
            let payload = events::SessionRevoked {
                mi_id: mi_id.get(),
                session_id,
                reason,
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::PasswordChanged {
            mi_id,
            reset,
            audience,
        } => {
            let payload = events::PasswordChanged {
                mi_id: mi_id.get(),
                reset,
                audience: Some(alert_audience(audience)),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::RecoveryContactAdded {
            mi_id,
            contact,
            audience,
        } => {
            let payload = events::RecoveryContactAdded {
                mi_id: mi_id.get(),
                kind: contact_kind(contact.kind()).into(),
                value: contact.as_str().to_owned(),
                audience: Some(alert_audience(audience)),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::RecoveryContactRemoved {
            mi_id,
            contact,
            audience,
        } => {
            let payload = events::RecoveryContactRemoved {
                mi_id: mi_id.get(),
                kind: contact_kind(contact.kind()).into(),
                value: contact.as_str().to_owned(),
                audience: Some(alert_audience(audience)),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::TwoFactorChanged {
            mi_id,
            kind,
            enabled,
            audience,
        } => {
            let has_second_factor = Some(has_second_factor(connection, mi_id).await?);
            let (mi_id, method, audience) = (
                mi_id.get(),
                kind.as_str().to_owned(),
                Some(alert_audience(audience)),
            );
            if enabled {
                let payload = events::TwoFactorEnabled {
                    mi_id,
                    method,
                    audience,
                    has_second_factor,
                };
                outbox.enqueue(connection, &key, &payload).await
            } else {
                let payload = events::TwoFactorDisabled {
                    mi_id,
                    method,
                    audience,
                    has_second_factor,
                };
                outbox.enqueue(connection, &key, &payload).await
            }
        }
        IdentityEvent::ProfileUpdated {
            account,
            changed_fields,
        } => {
            let payload = events::ProfileUpdated {
                mi_id: account.mi_id.get(),
                display_name: account.display_name,
                region: account.region,
                locale: account.locale,
                changed_fields,
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::LegalDocumentsAccepted { mi_id, consent } => {
            let payload = events::LegalDocumentsAccepted {
                mi_id: mi_id.get(),
                terms_version: consent.terms_version,
                privacy_policy_version: consent.privacy_policy_version,
                accept_time: Some(consent.accepted_at.to_timestamp()),
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::AccountSnapshot {
            mi_id,
            audience,
            has_second_factor,
        } => {
            let payload = events::AccountSnapshot {
                mi_id: mi_id.get(),
                audience: Some(alert_audience(audience)),
                has_second_factor,
            };
            outbox.enqueue(connection, &key, &payload).await
        }
        IdentityEvent::AccountDeleted { mi_id } => {
            let payload = events::AccountDeleted { mi_id: mi_id.get() };
            outbox.enqueue(connection, &key, &payload).await
        }
    }?;
    Ok(())
}

/// Whether account `mi_id` has a second factor, read in the caller's transaction: for a
/// `TwoFactorEnabled` / `TwoFactorDisabled`, after the change (turning one method off may leave
/// the other on); for a `SignedIn`, under the account's row lock its transaction holds
/// (`insert_session`), which turning a second factor on or off takes too, so the flag is the one
/// current at commit and a change made meanwhile publishes its event after this one. The account
/// the domain read before checking the password may be older, so no event takes the flag from
/// it.
async fn has_second_factor(connection: &mut AnyConnection, mi_id: MiId) -> anyhow::Result<bool> {
    let row = sqlx::query("SELECT totp_secret, code_second_factor FROM accounts WHERE mi_id = $1")
        .bind(mi_id.as_i64())
        .fetch_one(connection)
        .await?;
    let totp_secret: Option<Vec<u8>> = row.try_get("totp_secret")?;
    let code_second_factor: i64 = row.try_get("code_second_factor")?;
    Ok(totp_secret.is_some() || code_second_factor == 1)
}

/// The people a security alert goes to.
fn alert_audience(audience: Audience) -> events::AlertAudience {
    events::AlertAudience {
        contacts: audience.contacts,
        locale: audience.locale,
    }
}

//! Security alerts: what happened to an account, in the terms its owner is told, and their
//! delivery to every contact of the account.

use mi_contracts::{Channel, MiId};

use super::{MessageKind, Notifier};

/// A security event the account's owner is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecurityAlert {
    /// The account, named so that someone with several accounts knows which one it is.
    pub mi_id: MiId,
    /// What happened.
    pub kind: AlertKind,
}

/// What happened to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AlertKind {
    /// The password was changed while signed in (`reset` false) or reset with a code.
    PasswordChanged {
        /// Reset through "forgot password" rather than changed.
        reset: bool,
    },
    /// Wrong passwords in a row for one of the account's identifiers: signing in with it now
    /// asks for a CAPTCHA.
    PasswordFailures {
        /// Wrong passwords in a row.
        failures: u32,
    },
    /// Wrong second-factor proofs after a right password: further proofs are slowed down.
    SecondFactorFailures {
        /// Wrong proofs in a row.
        failures: u32,
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
    /// A device was linked to the account for the first time.
    DeviceLinked {
        /// The name the person gave the device; may be empty.
        device_name: String,
        /// E.g. "Redmi Note 13"; may be empty.
        device_model: String,
    },
    /// The owner removed a device from the account.
    DeviceRemoved {
        /// The device's name; may be empty.
        device_name: String,
    },
    /// Find Device was turned off on a device (with the owner's password or second factor).
    FindDeviceDisabled {
        /// The device's name; may be empty.
        device_name: String,
    },
    /// The device confirmed Lost Mode on (`enabled`) or off.
    LostModeChanged {
        /// The device's name; may be empty.
        device_name: String,
        /// On or off.
        enabled: bool,
    },
    /// The owner asked for a device to be erased; it happens when the device comes online.
    EraseIssued {
        /// The device's name; may be empty.
        device_name: String,
    },
    /// A device confirmed it was erased.
    DeviceErased {
        /// The device's name; may be empty.
        device_name: String,
    },
}

/// Who is told: the account's verified contacts, in the account's locale.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AlertAudience {
    /// BCP 47 tag for the messages.
    pub locale: String,
    /// Phone numbers and email addresses; blanks and repeats are skipped.
    pub contacts: Vec<String>,
}

impl AlertAudience {
    /// Whether there is no one to tell: no contact that is not blank.
    pub(crate) fn is_empty(&self) -> bool {
        distinct_contacts(&self.contacts).is_empty()
    }
}

impl Notifier {
    /// Sends `alert`, which event `source_event_id` asked for, to every contact of its
    /// audience. Each contact is a delivery of its own: when one fails the event fails and
    /// comes again, and the contacts already reached are not sent to a second time.
    pub(crate) async fn deliver_alert(
        &self,
        source_event_id: &str,
        alert: &SecurityAlert,
        audience: &AlertAudience,
    ) -> anyhow::Result<()> {
        let contacts = distinct_contacts(&audience.contacts);
        if contacts.is_empty() {
            tracing::warn!("security alert has no contact to go to");
            return Ok(());
        }
        // Every contact is tried, so one unreachable contact does not hold back the others.
        let mut failures = Vec::new();
        for (position, contact) in contacts.iter().enumerate() {
            let channel = Channel::for_contact(contact);
            let message =
                self.templates
                    .alert_message(&audience.locale, contact, channel, alert)?;
            // Stable across redeliveries: the same event lists the same contacts in order.
            let idempotency_key = format!("{source_event_id}-{}", position + 1);
            if let Err(error) = self
                .dispatcher
                .deliver(
                    source_event_id,
                    &idempotency_key,
                    MessageKind::SecurityAlert,
                    &message,
                )
                .await
            {
                failures.push(error);
            }
        }
        let failed = failures.len();
        match failures.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(first.context(format!(
                "{failed} of {} alert messages not delivered",
                contacts.len()
            ))),
        }
    }
}

/// The audience's contacts without blanks or repeats, in their order.
fn distinct_contacts(contacts: &[String]) -> Vec<&str> {
    let mut distinct: Vec<&str> = Vec::new();
    for contact in contacts.iter().map(|contact| contact.trim()) {
        if !contact.is_empty() && !distinct.contains(&contact) {
            distinct.push(contact);
        }
    }
    distinct
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, Send};
    use super::*;

    fn locked() -> SecurityAlert {
        SecurityAlert {
            mi_id: MiId::new(7).expect("Mi ID"),
            kind: AlertKind::PasswordFailures { failures: 5 },
        }
    }

    #[tokio::test]
    async fn each_contact_is_told_once_and_a_retry_reaches_only_the_missed_ones() {
        let fixture = Fixture::with_external_sms();
        let audience = AlertAudience {
            locale: "en".into(),
            contacts: vec![
                " +8613800138000".into(),
                "user@example.com".into(),
                "+8613800138000".into(),
                String::new(),
            ],
        };
        fixture.sms.fail_next();
        let first = fixture
            .notifier
            .deliver_alert("e1", &locked(), &audience)
            .await;
        assert!(first.is_err(), "the failed SMS fails the event");
        assert_eq!(fixture.store.inbox_destinations(), ["user@example.com"]);

        fixture
            .notifier
            .deliver_alert("e1", &locked(), &audience)
            .await
            .expect("retry");
        fixture
            .notifier
            .deliver_alert("e1", &locked(), &audience)
            .await
            .expect("redelivery");
        assert_eq!(
            fixture.sms.sends(),
            [
                Send::failed("+8613800138000", "e1-1"),
                Send::ok("+8613800138000", "e1-1"),
            ]
        );
        assert_eq!(fixture.store.inbox_destinations(), ["user@example.com"]);
    }

    #[test]
    fn an_audience_of_blanks_is_empty() {
        let blanks = AlertAudience {
            locale: "en".into(),
            contacts: vec![String::new(), "  ".into()],
        };
        assert!(blanks.is_empty());
        assert!(AlertAudience::default().is_empty());
        let one = AlertAudience {
            contacts: vec![" a@example.com ".into()],
            ..blanks
        };
        assert!(!one.is_empty());
    }
}

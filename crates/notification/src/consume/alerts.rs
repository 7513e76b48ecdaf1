//! Security alerts: identity's security events become the domain's [`SecurityAlert`] and its
//! [`AlertAudience`]. Other identity events are not the owner's concern (`AccountSnapshot`
//! among them: identity's backfill for projections, which says nothing new).

use mi_proto::EventPayload;
use mi_proto::events::v1::{
    EventEnvelope, PasswordChanged, PasswordFailures, RecoveryContactAdded, RecoveryContactRemoved,
    SecondFactorFailures, SignedIn, TwoFactorDisabled, TwoFactorEnabled,
};

use super::{NotificationEventsHandler, addressed_alert, decode};
use crate::domain::{AlertAudience, AlertKind, SecurityAlert};

impl NotificationEventsHandler {
    /// Sends the alert an event asks for to every contact of its audience; events that need no
    /// alert are ignored.
    pub(super) async fn deliver_alert(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        let Some((alert, audience)) = security_alert(event)? else {
            return Ok(());
        };
        self.notifier
            .deliver_alert(&event.event_id, &alert, &audience)
            .await
    }
}

/// The alert an event asks for and who is to get it; `None` for events that need none.
fn security_alert(event: &EventEnvelope) -> anyhow::Result<Option<(SecurityAlert, AlertAudience)>> {
    let (mi_id, kind, audience) = match event.event_type.as_str() {
        PasswordChanged::EVENT_TYPE => {
            let changed: PasswordChanged = decode(event)?;
            let kind = AlertKind::PasswordChanged {
                reset: changed.reset,
            };
            (changed.mi_id, kind, changed.audience)
        }
        PasswordFailures::EVENT_TYPE => {
            let failed: PasswordFailures = decode(event)?;
            let kind = AlertKind::PasswordFailures {
                failures: failed.failures,
            };
            (failed.mi_id, kind, failed.audience)
        }
        SecondFactorFailures::EVENT_TYPE => {
            let failed: SecondFactorFailures = decode(event)?;
            let kind = AlertKind::SecondFactorFailures {
                failures: failed.failures,
            };
            (failed.mi_id, kind, failed.audience)
        }
        TwoFactorEnabled::EVENT_TYPE => {
            let enabled: TwoFactorEnabled = decode(event)?;
            let kind = AlertKind::TwoFactorEnabled {
                method: enabled.method,
            };
            (enabled.mi_id, kind, enabled.audience)
        }
        TwoFactorDisabled::EVENT_TYPE => {
            let disabled: TwoFactorDisabled = decode(event)?;
            let kind = AlertKind::TwoFactorDisabled {
                method: disabled.method,
            };
            (disabled.mi_id, kind, disabled.audience)
        }
        RecoveryContactAdded::EVENT_TYPE => {
            let added: RecoveryContactAdded = decode(event)?;
            let kind = AlertKind::RecoveryContactAdded {
                contact: added.value,
            };
            (added.mi_id, kind, added.audience)
        }
        RecoveryContactRemoved::EVENT_TYPE => {
            let removed: RecoveryContactRemoved = decode(event)?;
            let kind = AlertKind::RecoveryContactRemoved {
                contact: removed.value,
            };
            (removed.mi_id, kind, removed.audience)
        }
        SignedIn::EVENT_TYPE => {
            let signed_in: SignedIn = decode(event)?;
            // Signing in on a known device is routine; only a new one is worth an alert.
            if !signed_in.new_device {
                return Ok(None);
            }
            let device = signed_in.device.unwrap_or_default();
            let kind = AlertKind::NewDeviceSignIn {
                device_name: device.name,
                device_model: device.model,
                client_address: signed_in.client_address,
            };
            (signed_in.mi_id, kind, signed_in.audience)
        }
        _ => return Ok(None),
    };
    addressed_alert(event, mi_id, kind, audience).map(Some)
}

//! Find Device: the device registry's events become push wake-ups ([`WakeUp`]) and security
//! alerts about the account's devices. Locate, ring and sync commands, finished commands and
//! Find Device turned on are no alert's concern.

use anyhow::Context;
use mi_contracts::MiId;
use mi_proto::EventPayload;
use mi_proto::events::v1::{
    DeviceCommandIssued, DeviceErased, DeviceLinked, DeviceRemoved, EventEnvelope,
    FindDeviceDisabled, LostModeChanged,
};

use super::{NotificationEventsHandler, addressed_alert, decode};
use crate::domain::{AlertAudience, AlertKind, SecurityAlert, WakeUp};

/// The command action that erases a device (`DeviceCommandIssued.action`).
const ERASE: &str = "erase";

/// What one device event asks for: a push to the device, an alert to its owner, or both.
#[derive(Debug, PartialEq, Eq)]
struct DeviceNotices {
    wake_up: Option<WakeUp>,
    alert: Option<(SecurityAlert, AlertAudience)>,
}

impl NotificationEventsHandler {
    /// Wakes the device and alerts its owner as a device event asks; false for events that ask
    /// for neither (and for other topics' events).
    pub(super) async fn deliver_device_notices(
        &self,
        event: &EventEnvelope,
    ) -> anyhow::Result<bool> {
        let Some(notices) = device_notices(event)? else {
            return Ok(false);
        };
        // The push first: a waiting command is what the owner is looking at. Both are tried;
        // one that fails fails the event, and a redelivery redoes only what is unfinished.
        let woken = match &notices.wake_up {
            Some(wake_up) => self.notifier.wake_device(&event.event_id, wake_up).await,
            None => Ok(()),
        };
        let alerted = match &notices.alert {
            Some((alert, audience)) => {
                self.notifier
                    .deliver_alert(&event.event_id, alert, audience)
                    .await
            }
            None => Ok(()),
        };
        woken.and(alerted)?;
        Ok(true)
    }
}

/// The push and alert a device event asks for; `None` when it asks for neither.
fn device_notices(event: &EventEnvelope) -> anyhow::Result<Option<DeviceNotices>> {
    let mut wake_up = None;
    let (mi_id, kind, audience) = match event.event_type.as_str() {
        DeviceLinked::EVENT_TYPE => {
            let linked: DeviceLinked = decode(event)?;
            // A new key for a device already linked is routine; a new device is worth an alert.
            if !linked.new_device {
                return Ok(None);
            }
            let device = linked.device.unwrap_or_default();
            let kind = AlertKind::DeviceLinked {
                device_name: device.name,
                device_model: device.model,
            };
            (linked.mi_id, Some(kind), linked.audience)
        }
        DeviceRemoved::EVENT_TYPE => {
            let removed: DeviceRemoved = decode(event)?;
            let kind = AlertKind::DeviceRemoved {
                device_name: removed.device_name,
            };
            (removed.mi_id, Some(kind), removed.audience)
        }
        FindDeviceDisabled::EVENT_TYPE => {
            let disabled: FindDeviceDisabled = decode(event)?;
            let kind = AlertKind::FindDeviceDisabled {
                device_name: disabled.device_name,
            };
            (disabled.mi_id, Some(kind), disabled.audience)
        }
        LostModeChanged::EVENT_TYPE => {
            let changed: LostModeChanged = decode(event)?;
            let kind = AlertKind::LostModeChanged {
                device_name: changed.device_name,
                enabled: changed.enabled,
            };
            (changed.mi_id, Some(kind), changed.audience)
        }
        DeviceErased::EVENT_TYPE => {
            let erased: DeviceErased = decode(event)?;
            let kind = AlertKind::DeviceErased {
                device_name: erased.device_name,
            };
            (erased.mi_id, Some(kind), erased.audience)
        }
        DeviceCommandIssued::EVENT_TYPE => {
            let issued: DeviceCommandIssued = decode(event)?;
            // The registry sets the token only for a device with no open command channel.
            if !issued.push_token.trim().is_empty() {
                wake_up = Some(WakeUp {
                    mi_id: MiId::new(issued.mi_id)
                        .context("DeviceCommandIssued has no valid mi_id")?,
                    device_id: issued.device_id.clone(),
                    command_id: issued.command_id.clone(),
                    push_token: issued.push_token.trim().to_owned(),
                });
            }
            let kind = (issued.action == ERASE).then_some(AlertKind::EraseIssued {
                device_name: issued.device_name,
            });
            (issued.mi_id, kind, issued.audience)
        }
        _ => return Ok(None),
    };
    let alert = match kind {
        Some(kind) => {
            let (alert, audience) = addressed_alert(event, mi_id, kind, audience)?;
            if audience.is_empty() {
                // The registry names no contact until it has learned the account's from
                // identity's events; nobody to tell is not a failure.
                tracing::debug!(
                    event_id = %event.event_id,
                    event_type = %event.event_type,
                    "device event with an empty audience; no alert"
                );
                None
            } else {
                Some((alert, audience))
            }
        }
        None => None,
    };
    if wake_up.is_none() && alert.is_none() {
        return Ok(None);
    }
    Ok(Some(DeviceNotices { wake_up, alert }))
}

#[cfg(test)]
mod tests {
    use mi_platform::events;
    use mi_proto::common::v1::DeviceInfo;
    use mi_proto::events::v1::{
        AlertAudience as WireAudience, DeviceCommandCompleted, FindDeviceEnabled,
        SyncSettingsChanged,
    };

    use super::*;

    const MI_ID: u64 = 1_234_567_890;
    const PHONE: &str = "+8613800138000";

    fn envelope<P: EventPayload>(payload: &P) -> EventEnvelope {
        events::envelope("device", &format!("{MI_ID}/device-1"), payload)
    }

    fn audience() -> Option<WireAudience> {
        Some(WireAudience {
            contacts: vec![PHONE.into()],
            locale: "zh-CN".into(),
        })
    }

    fn issued(action: &str, push_token: &str) -> DeviceCommandIssued {
        DeviceCommandIssued {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            device_name: "Lei's phone".into(),
            command_id: "command-1".into(),
            action: action.into(),
            push_token: push_token.into(),
            session_id: "session-1".into(),
            audience: audience(),
        }
    }

    fn alert_kind(event: &EventEnvelope) -> Option<AlertKind> {
        let notices = device_notices(event).expect("mapped")?;
        let (alert, audience) = notices.alert?;
        assert_eq!(alert.mi_id, MiId::new(MI_ID).expect("Mi ID"));
        assert_eq!(
            (audience.locale.as_str(), audience.contacts.as_slice()),
            ("zh-CN", [PHONE.to_owned()].as_slice())
        );
        Some(alert.kind)
    }

    #[test]
    fn a_command_with_a_push_token_wakes_the_device_and_only_erase_alerts() {
        let locate = device_notices(&envelope(&issued("locate", " token-1 ")))
            .expect("mapped")
            .expect("a push");
        assert_eq!(
            locate.wake_up,
            Some(WakeUp {
                mi_id: MiId::new(MI_ID).expect("Mi ID"),
                device_id: "device-1".into(),
                command_id: "command-1".into(),
                push_token: "token-1".into(),
            })
        );
        assert_eq!(locate.alert, None, "no alert for locate");

        let erase = device_notices(&envelope(&issued("erase", "token-1")))
            .expect("mapped")
            .expect("a push and an alert");
        assert!(erase.wake_up.is_some());
        assert_eq!(
            alert_kind(&envelope(&issued("erase", ""))),
            Some(AlertKind::EraseIssued {
                device_name: "Lei's phone".into()
            })
        );
        for action in ["locate", "ring", "apply_sync_settings", "enable_lost_mode"] {
            let connected = device_notices(&envelope(&issued(action, ""))).expect("mapped");
            assert_eq!(
                connected, None,
                "{action}: a connected device needs no push"
            );
        }
    }

    #[test]
    fn remote_actions_alert_the_owner_naming_the_device() {
        let name = || "Lei's phone".to_owned();
        let removed = DeviceRemoved {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            removed_by_session_id: "session-1".into(),
            hardware_id: "hw-1".into(),
            audience: audience(),
            device_name: name(),
        };
        assert_eq!(
            alert_kind(&envelope(&removed)),
            Some(AlertKind::DeviceRemoved {
                device_name: name()
            })
        );
        let disabled = FindDeviceDisabled {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            device_name: name(),
            audience: audience(),
        };
        assert_eq!(
            alert_kind(&envelope(&disabled)),
            Some(AlertKind::FindDeviceDisabled {
                device_name: name()
            })
        );
        for enabled in [true, false] {
            let changed = LostModeChanged {
                mi_id: MI_ID,
                device_id: "device-1".into(),
                device_name: name(),
                enabled,
                audience: audience(),
            };
            assert_eq!(
                alert_kind(&envelope(&changed)),
                Some(AlertKind::LostModeChanged {
                    device_name: name(),
                    enabled
                })
            );
        }
        let erased = DeviceErased {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            device_name: name(),
            hardware_id: "hw-1".into(),
            audience: audience(),
        };
        assert_eq!(
            alert_kind(&envelope(&erased)),
            Some(AlertKind::DeviceErased {
                device_name: name()
            })
        );
    }

    #[test]
    fn only_a_new_device_linked_is_alerted() {
        let linked = |new_device| DeviceLinked {
            mi_id: MI_ID,
            device: Some(DeviceInfo {
                device_id: "device-1".into(),
                name: "Lei's phone".into(),
                model: "Redmi Note 13".into(),
                ..DeviceInfo::default()
            }),
            new_device,
            audience: audience(),
        };
        assert_eq!(
            alert_kind(&envelope(&linked(true))),
            Some(AlertKind::DeviceLinked {
                device_name: "Lei's phone".into(),
                device_model: "Redmi Note 13".into(),
            })
        );
        assert_eq!(
            device_notices(&envelope(&linked(false))).expect("mapped"),
            None
        );
    }

    #[test]
    fn events_that_need_no_notice_and_empty_audiences_send_nothing() {
        let enabled = FindDeviceEnabled {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            device_name: "phone".into(),
            audience: audience(),
        };
        let completed = DeviceCommandCompleted {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            device_name: "phone".into(),
            command_id: "command-1".into(),
            action: "erase".into(),
            outcome: "succeeded".into(),
            audience: audience(),
        };
        let synced = SyncSettingsChanged {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            version: 2,
            updated_by: "owner".into(),
        };
        for event in [envelope(&enabled), envelope(&completed), envelope(&synced)] {
            assert_eq!(
                device_notices(&event).expect("mapped"),
                None,
                "{}",
                event.event_type
            );
        }

        let unaddressed = DeviceErased {
            mi_id: MI_ID,
            device_id: "device-1".into(),
            device_name: "phone".into(),
            hardware_id: String::new(),
            audience: Some(WireAudience {
                contacts: vec![" ".into()],
                locale: "en".into(),
            }),
        };
        assert_eq!(
            device_notices(&envelope(&unaddressed)).expect("mapped"),
            None
        );
        let erase_without_audience = DeviceCommandIssued {
            audience: None,
            ..issued("erase", "token-1")
        };
        let notices = device_notices(&envelope(&erase_without_audience))
            .expect("mapped")
            .expect("the push still goes");
        assert!(notices.wake_up.is_some() && notices.alert.is_none());
    }

    #[test]
    fn an_undecodable_device_event_fails() {
        let mut event = envelope(&issued("erase", "token-1"));
        event.payload = vec![0xff, 0xff, 0xff];
        assert!(device_notices(&event).is_err());
    }
}

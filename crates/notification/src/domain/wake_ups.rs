//! Push wake-ups: a Find Device command for a device with no open command channel wakes it
//! through its push token, once per event however often the event arrives; the device then
//! connects and receives every pending command.

use mi_contracts::{Channel, MiId};
use serde_json::json;

use super::{MessageKind, Notifier, OutgoingMessage};

/// The `kind` of every wake-up's data, which tells the device app what the push is for.
const WAKE: &str = "wake";

/// A device to wake for a command.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct WakeUp {
    /// Whose device.
    pub mi_id: MiId,
    /// Which device.
    pub device_id: String,
    /// The command waiting for it.
    pub command_id: String,
    /// Where the push goes; whoever holds it can push to the device, so it is never logged.
    pub push_token: String,
}

impl std::fmt::Debug for WakeUp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WakeUp")
            .field("mi_id", &self.mi_id)
            .field("device_id", &self.device_id)
            .field("command_id", &self.command_id)
            .finish_non_exhaustive()
    }
}

impl WakeUp {
    /// The push: to the token, its body the data the device app receives, all values strings
    /// (as FCM's `data` wants them). The subject is only for the dev inbox.
    fn message(&self) -> OutgoingMessage {
        let data = json!({
            "kind": WAKE,
            "mi_id": self.mi_id.to_string(),
            "device_id": self.device_id,
            "command_id": self.command_id,
        });
        OutgoingMessage {
            destination: self.push_token.clone(),
            channel: Channel::Push,
            subject: WAKE.to_owned(),
            body: data.to_string(),
        }
    }
}

impl Notifier {
    /// Pushes `wake_up`, which event `source_event_id` asked for, to its device; the event's
    /// id names the push to the provider, so a retry after a lost answer is recognized.
    pub(crate) async fn wake_device(
        &self,
        source_event_id: &str,
        wake_up: &WakeUp,
    ) -> anyhow::Result<()> {
        self.dispatcher
            .deliver(
                source_event_id,
                source_event_id,
                MessageKind::PushWakeUp,
                &wake_up.message(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, Send};
    use super::*;

    fn wake_up() -> WakeUp {
        WakeUp {
            mi_id: MiId::new(1_234_567_890).expect("Mi ID"),
            device_id: "device-1".into(),
            command_id: "command-1".into(),
            push_token: "push-token-1".into(),
        }
    }

    #[test]
    fn the_push_carries_the_command_as_string_data() {
        let message = wake_up().message();
        assert_eq!(
            (message.channel, message.destination.as_str()),
            (Channel::Push, "push-token-1")
        );
        let data: serde_json::Value = serde_json::from_str(&message.body).expect("JSON");
        assert_eq!(
            data,
            json!({
                "kind": "wake",
                "mi_id": "1234567890",
                "device_id": "device-1",
                "command_id": "command-1",
            })
        );
        assert!(!format!("{:?}", wake_up()).contains("push-token-1"));
    }

    #[tokio::test]
    async fn a_device_is_woken_once_under_the_event_id_and_a_failed_push_is_retried() {
        let fixture = Fixture::with_external_sms();
        fixture.push.fail_next();
        let first = fixture.notifier.wake_device("e1", &wake_up()).await;
        assert!(first.is_err(), "a refused push fails the event");
        for _ in 0..2 {
            fixture
                .notifier
                .wake_device("e1", &wake_up())
                .await
                .expect("retried, then redelivered");
        }
        assert_eq!(
            fixture.push.sends(),
            [
                Send::failed("push-token-1", "e1"),
                Send::ok("push-token-1", "e1"),
            ]
        );
        assert_eq!(fixture.store.delivered(), ["e1"]);
        assert!(fixture.sms.sends().is_empty());
    }
}

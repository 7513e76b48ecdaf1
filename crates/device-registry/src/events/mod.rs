//! Consumes identity's events: a `SignedIn` links its device to the account, an
//! `AccountDeleted` unlinks every device of the account. The device registry publishes its own
//! events on `{prefix}device.events` through the outbox.

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use mi_platform::consumer::EventHandler;
use mi_platform::{clock, events};
use mi_proto::events::v1::{AccountDeleted, EventEnvelope, SignedIn};

use crate::domain::Device;
use crate::storage::DeviceStore;

/// Links and unlinks devices as accounts sign in and go away.
#[derive(Debug)]
pub struct IdentityEventsHandler {
    devices: Arc<dyn DeviceStore>,
}

impl IdentityEventsHandler {
    /// A handler over the device store.
    pub fn new(devices: Arc<dyn DeviceStore>) -> Self {
        Self { devices }
    }
}

#[async_trait]
impl EventHandler for IdentityEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(signed_in) = events::payload::<SignedIn>(event) {
            let signed_in = signed_in.context("undecodable SignedIn")?;
            let reported = signed_in.device.unwrap_or_default();
            let linked_at = event.occurred_at.map_or_else(clock::now_millis, |time| {
                time.seconds.saturating_mul(1000) + i64::from(time.nanos / 1_000_000)
            });
            let device = Device {
                device_id: reported.device_id,
                mi_id: signed_in.mi_id,
                model: reported.model,
                os: reported.os,
                name: reported.name,
                linked_at,
            };
            if self.devices.link(&event.event_id, &device).await? {
                tracing::info!(mi_id = device.mi_id, device_id = %device.device_id, "device linked");
            }
            return Ok(());
        }
        if let Some(deleted) = events::payload::<AccountDeleted>(event) {
            let deleted = deleted.context("undecodable AccountDeleted")?;
            if self
                .devices
                .unlink_account(&event.event_id, deleted.mi_id)
                .await?
            {
                tracing::info!(
                    mi_id = deleted.mi_id,
                    "devices of a deleted account unlinked"
                );
            }
        }
        Ok(())
    }
}

//! Consumes the device registry's events (protobuf → domain): a `DeviceRemoved` ends every
//! session the removed device held and releases its hardware's reactivation lock; a
//! `DeviceErased` binds the erased device's hardware to its account.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::consumer::EventHandler;
use mi_platform::events;
use mi_proto::events::v1::{DeviceErased, DeviceRemoved, EventEnvelope};

use crate::domain::{ReactivationLocks, Sessions};

/// Ends the sessions of removed devices, and keeps the reactivation locks.
#[derive(Debug)]
pub(crate) struct DeviceEventsHandler {
    sessions: Sessions,
    locks: ReactivationLocks,
}

impl DeviceEventsHandler {
    /// A handler over the sessions family and the reactivation locks.
    pub(crate) fn new(sessions: Sessions, locks: ReactivationLocks) -> Self {
        Self { sessions, locks }
    }
}

#[async_trait]
impl EventHandler for DeviceEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(erased) = events::payload::<DeviceErased>(event) {
            let erased = erased.context("undecodable DeviceErased")?;
            let mi_id = MiId::new(erased.mi_id).context("DeviceErased has no valid mi_id")?;
            return self
                .locks
                .lock(&event.event_id, &erased.hardware_id, mi_id)
                .await;
        }
        let Some(removed) = events::payload::<DeviceRemoved>(event) else {
            return Ok(());
        };
        let removed = removed.context("undecodable DeviceRemoved")?;
        let mi_id = MiId::new(removed.mi_id).context("DeviceRemoved has no valid mi_id")?;
        // Sessions started after the removal are a new link of the device and stay, so a
        // redelivered event ends nothing it should not: no processed-event record is needed.
        let removed_at = event
            .occurred_at
            .as_ref()
            .map_or_else(UnixMillis::now, UnixMillis::from_timestamp);
        let revoked = self
            .sessions
            .revoke_device_sessions(mi_id, &removed.device_id, removed_at)
            .await?;
        tracing::info!(%mi_id, device_id = %removed.device_id, revoked, "sessions of a removed device revoked");
        self.locks
            .release(&event.event_id, &removed.hardware_id, mi_id)
            .await
    }
}

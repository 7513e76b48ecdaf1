//! Consumes the device registry's events (protobuf → domain): a `DeviceRemoved` ends every
//! session the removed device held.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::consumer::EventHandler;
use mi_platform::events;
use mi_proto::events::v1::{DeviceRemoved, EventEnvelope};

use crate::domain::Sessions;

/// Ends the sessions of removed devices.
#[derive(Debug)]
pub(crate) struct DeviceEventsHandler {
    sessions: Sessions,
}

impl DeviceEventsHandler {
    /// A handler over the sessions family.
    pub(crate) fn new(sessions: Sessions) -> Self {
        Self { sessions }
    }
}

#[async_trait]
impl EventHandler for DeviceEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
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
        Ok(())
    }
}

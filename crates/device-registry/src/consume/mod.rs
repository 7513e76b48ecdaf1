//! Consumes identity's events (protobuf → domain): a `SignedIn` links its device (with the key
//! it brought) to the account, an `AccountDeleted` unlinks every device of the account.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::consumer::EventHandler;
use mi_platform::events;
use mi_proto::contracts::device_from_wire;
use mi_proto::events::v1::{AccountDeleted, EventEnvelope, SignedIn};

use crate::domain::DeviceRegistry;

/// Links and unlinks devices as accounts sign in and go away.
#[derive(Debug)]
pub(crate) struct IdentityEventsHandler {
    registry: DeviceRegistry,
}

impl IdentityEventsHandler {
    /// A handler over the registry.
    pub(crate) fn new(registry: DeviceRegistry) -> Self {
        Self { registry }
    }
}

#[async_trait]
impl EventHandler for IdentityEventsHandler {
    async fn handle(&self, event: &EventEnvelope) -> anyhow::Result<()> {
        if let Some(signed_in) = events::payload::<SignedIn>(event) {
            let signed_in = signed_in.context("undecodable SignedIn")?;
            // Identity parsed the description at sign-in, with the same parser.
            let info = device_from_wire(signed_in.device)
                .map_err(|(field, problem)| anyhow::anyhow!("SignedIn {field} {problem}"))?;
            let linked_at = event
                .occurred_at
                .as_ref()
                .map_or_else(UnixMillis::now, UnixMillis::from_timestamp);
            let mi_id = MiId::new(signed_in.mi_id).context("SignedIn has no valid mi_id")?;
            self.registry
                .link(&event.event_id, mi_id, info, linked_at)
                .await?;
            return Ok(());
        }
        if let Some(deleted) = events::payload::<AccountDeleted>(event) {
            let deleted = deleted.context("undecodable AccountDeleted")?;
            self.registry
                .unlink_account(
                    &event.event_id,
                    MiId::new(deleted.mi_id).context("AccountDeleted has no valid mi_id")?,
                )
                .await?;
        }
        Ok(())
    }
}

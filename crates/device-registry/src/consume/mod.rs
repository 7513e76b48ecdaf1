//! Consumes identity's events (protobuf → domain): a `SignedIn` links its device (with the key
//! it brought) to the account, an `AccountDeleted` unlinks every device of the account and
//! forgets it, and every event with an alert audience updates the account's audience (and the
//! two-factor events, `AccountSnapshot` and a `SignedIn` that says, its second-factor flag).
//!
//! Each event overwrites what the projection holds, with no version to compare, and that is
//! enough: identity keys its topic by Mi ID and its outbox relays one account's events in the
//! order they were written (per-aggregate order), and it reads the account for an
//! `AccountSnapshot` (and the flag of a `SignedIn`) under the row lock that turning a second
//! factor on or off takes. So a snapshot written before a `TwoFactorEnabled` is applied before
//! it and cannot undo it, and one written after it says the same: the last event applied is the
//! newest state.

use anyhow::Context;
use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use mi_platform::consumer::EventHandler;
use mi_platform::events;
use mi_proto::EventPayload;
use mi_proto::contracts::device_from_wire;
use mi_proto::events::v1::{
    AccountDeleted, AccountSnapshot, AlertAudience, EventEnvelope, PasswordChanged,
    PasswordFailures, RecoveryContactAdded, RecoveryContactRemoved, SecondFactorFailures, SignedIn,
    TwoFactorDisabled, TwoFactorEnabled,
};

use crate::domain::events::Audience;
use crate::domain::{AccountNews, DeviceRegistry};

/// Links and unlinks devices as accounts sign in and go away, and keeps what the registry
/// knows of each account.
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
            let news = AccountNews {
                audience: Some(audience_from_wire(signed_in.audience)),
                // Absent from sign-ins identity published before it said.
                has_second_factor: signed_in.has_second_factor,
            };
            self.registry
                .link(&event.event_id, mi_id, info, linked_at, &news)
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
            return Ok(());
        }
        if let Some((mi_id, news)) = account_news(event)? {
            let mi_id = MiId::new(mi_id).context("an identity event has no valid mi_id")?;
            self.registry
                .apply_account_news(&event.event_id, mi_id, &news)
                .await?;
        }
        Ok(())
    }
}

/// The account and what the event says of it, for the identity events that carry an audience
/// (besides `SignedIn`, which links a device with it); `None` for any other event.
fn account_news(event: &EventEnvelope) -> anyhow::Result<Option<(u64, AccountNews)>> {
    /// The Mi ID and audience of a decoded event, and what it says of the second factor.
    fn news<P: EventPayload>(
        event: &EventEnvelope,
        parts: impl FnOnce(P) -> (u64, Option<AlertAudience>, Option<bool>),
    ) -> anyhow::Result<Option<(u64, AccountNews)>> {
        let Some(payload) = events::payload::<P>(event) else {
            return Ok(None);
        };
        let payload = payload.with_context(|| format!("undecodable {}", P::EVENT_TYPE))?;
        let (mi_id, audience, has_second_factor) = parts(payload);
        let news = AccountNews {
            audience: audience.map(|audience| audience_from_wire(Some(audience))),
            has_second_factor,
        };
        Ok(Some((mi_id, news)))
    }
    let found = [
        news(event, |e: PasswordChanged| (e.mi_id, e.audience, None))?,
        news(event, |e: PasswordFailures| (e.mi_id, e.audience, None))?,
        news(event, |e: SecondFactorFailures| (e.mi_id, e.audience, None))?,
        news(event, |e: RecoveryContactAdded| (e.mi_id, e.audience, None))?,
        news(event, |e: RecoveryContactRemoved| {
            (e.mi_id, e.audience, None)
        })?,
        news(event, |e: TwoFactorEnabled| {
            (
                e.mi_id,
                e.audience,
                Some(e.has_second_factor.unwrap_or(true)),
            )
        })?,
        // The other method may still be on; older events did not say, and meant none.
        news(event, |e: TwoFactorDisabled| {
            (
                e.mi_id,
                e.audience,
                Some(e.has_second_factor.unwrap_or(false)),
            )
        })?,
        news(event, |e: AccountSnapshot| {
            (e.mi_id, e.audience, Some(e.has_second_factor))
        })?,
    ];
    Ok(found.into_iter().flatten().next())
}

fn audience_from_wire(audience: Option<AlertAudience>) -> Audience {
    let audience = audience.unwrap_or_default();
    Audience {
        contacts: audience.contacts,
        locale: audience.locale,
    }
}

#[cfg(test)]
mod tests;

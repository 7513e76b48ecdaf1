//! Linking: a sign-in links its device to the account (identity's `SignedIn`), EnrollDevice
//! links the calling device with the key it made, an account deletion unlinks every device of
//! the account. The reactivation lock: hardware an erased device holds links to no other
//! account until the owner removes that device.

use mi_contracts::{DeviceInfo, MiId, UnixMillis};
use mi_platform::auth::check_device_key;

use super::events::Actor;
use super::{AccountNews, Device, DeviceRegistry, LinkOutcome, NewLink, Owner};

/// Why EnrollDevice was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnrollError {
    /// A field of the description is wrong: its path and the problem.
    #[error("invalid {field}: {problem}")]
    InvalidDevice {
        /// The proto path, e.g. `device.credential.public_key`.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The access token's authentication is not recent: a stolen token must not be able to
    /// put its own key on a device.
    #[error("reauthentication required")]
    ReauthenticationRequired,
    /// The hardware belongs to an erased device of another account.
    #[error("reactivation locked")]
    ReactivationLocked,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DeviceRegistry {
    /// Links the device of a sign-in (event `event_id`, carrying what it says of the account)
    /// linked at `linked_at`; a credential it brings that is no usable key is left out
    /// (identity checked only its shape), so the device is linked without one. Returns how it
    /// went.
    pub(crate) async fn link(
        &self,
        event_id: &str,
        mi_id: MiId,
        info: DeviceInfo,
        linked_at: UnixMillis,
        account: &AccountNews,
    ) -> anyhow::Result<LinkOutcome> {
        let mut info = info;
        if let Some(credential) = &info.credential
            && let Err(problem) = check_device_key(credential)
        {
            tracing::warn!(%mi_id, device_id = %info.device_id, problem, "sign-in device key refused");
            info.credential = None;
        }
        let outcome = self
            .store
            .link(&NewLink {
                event_id: Some(event_id),
                mi_id,
                info: &info,
                linked_at,
                actor: Actor::Registry,
                account: Some(account),
                restore_command_id: uuid::Uuid::now_v7().to_string(),
            })
            .await?;
        match outcome {
            LinkOutcome::Linked { new_device, .. } => {
                tracing::info!(%mi_id, device_id = %info.device_id, new_device, "device linked");
            }
            LinkOutcome::ReactivationLocked => {
                tracing::warn!(%mi_id, device_id = %info.device_id, "not linked: the hardware of an erased device of another account (reactivation lock)");
            }
            LinkOutcome::AlreadyApplied => {}
        }
        Ok(outcome)
    }

    /// EnrollDevice: links the owner's calling device with the key it made (replacing the one
    /// it had) and its push token.
    pub(crate) async fn enroll(
        &self,
        owner: &Owner,
        info: DeviceInfo,
    ) -> Result<Device, EnrollError> {
        let invalid = |(field, problem): (&'static str, String)| EnrollError::InvalidDevice {
            field,
            problem,
        };
        let info = DeviceInfo::parse(info).map_err(invalid)?;
        let Some(credential) = &info.credential else {
            return Err(invalid(("device.credential", "is required".into())));
        };
        check_device_key(credential)
            .map_err(|problem| invalid(("device.credential.public_key", problem.into())))?;
        if !self.is_recent(owner) {
            return Err(EnrollError::ReauthenticationRequired);
        }
        let outcome = self
            .store
            .link(&NewLink {
                event_id: None,
                mi_id: owner.mi_id,
                info: &info,
                linked_at: UnixMillis::now(),
                actor: owner.actor(),
                account: None,
                restore_command_id: uuid::Uuid::now_v7().to_string(),
            })
            .await?;
        if outcome == LinkOutcome::ReactivationLocked {
            return Err(EnrollError::ReactivationLocked);
        }
        tracing::info!(mi_id = %owner.mi_id, device_id = %info.device_id, "device enrolled");
        self.store
            .get(owner.mi_id, &info.device_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("an enrolled device is missing").into())
    }

    /// Unlinks every device of account `mi_id` because of event `event_id`; false if that event
    /// was applied before.
    pub(crate) async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool> {
        let unlinked = self.store.unlink_account(event_id, mi_id).await?;
        if unlinked {
            tracing::info!(%mi_id, "devices of a deleted account unlinked");
        }
        Ok(unlinked)
    }
}

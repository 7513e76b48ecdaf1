//! Cloud-sync settings per device: whether it syncs, only over Wi-Fi, and which data types.
//! The owner (access token) and the device (device token) both read and change them; every
//! change names the version it was made from, and a change made from an older version is
//! refused, not lost. The storage of the synced data itself is elsewhere.

#[cfg(test)]
pub(super) mod memory;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};
use serde::{Deserialize, Serialize};

use super::events::Actor;
use super::{DeviceCaller, DeviceRegistry, Owner};

/// What a device syncs: the choices a person makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SyncChoices {
    /// Sync at all.
    pub sync_enabled: bool,
    /// Only over Wi-Fi.
    pub wifi_only: bool,
    /// Which data types.
    pub data_types: DataTypes,
}

/// Each data type on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DataTypes {
    /// Photos and videos.
    pub gallery: bool,
    /// The address book.
    pub contacts: bool,
    /// Text messages.
    pub messages: bool,
    /// The call log.
    pub call_history: bool,
    /// Notes.
    pub notes: bool,
    /// Calendar events.
    pub calendar: bool,
    /// Voice recordings.
    pub recordings: bool,
    /// Saved Wi-Fi networks.
    pub wifi_networks: bool,
    /// Browser bookmarks and history.
    pub browser: bool,
}

/// A device that never chose: sync on, over Wi-Fi only (a phone's first backup must not eat
/// its mobile data), every data type on (what a person who turns sync on expects to be kept).
impl Default for SyncChoices {
    fn default() -> Self {
        Self {
            sync_enabled: true,
            wifi_only: true,
            data_types: DataTypes {
                gallery: true,
                contacts: true,
                messages: true,
                call_history: true,
                notes: true,
                calendar: true,
                recordings: true,
                wifi_networks: true,
                browser: true,
            },
        }
    }
}

/// Which side made a change, stored by its snake_case name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, Serialize, Deserialize,
)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum SyncSide {
    /// The owner, with an access token.
    Owner,
    /// The device itself, with its device token.
    Device,
}

/// A device's settings and their version. Serialized into the `apply_sync_settings` command
/// that carries an owner's change to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct SyncSettings {
    /// What it syncs.
    pub choices: SyncChoices,
    /// Raised by one on every change; 0 for a device that never set them (the defaults).
    pub version: u64,
    /// When the last change was made, and by which side; `None` at version 0.
    pub updated: Option<(UnixMillis, SyncSide)>,
}

/// A change to a device's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncChange {
    /// The version the change was made from: it applies only if that is still the current one.
    pub from_version: u64,
    /// The new choices.
    pub choices: SyncChoices,
    /// When it is made.
    pub at: UnixMillis,
    /// Who makes it.
    pub editor: SyncEditor,
    /// For the owner's change: the `apply_sync_settings` command that carries it to the
    /// device, queued in the same transaction, so the device cannot miss it.
    pub delivery: Option<SyncDelivery>,
}

/// The command that carries an owner's change to the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncDelivery {
    /// Its id.
    pub command_id: String,
    /// When it expires if the device never takes it (the device reads its settings again when
    /// it next connects anyway).
    pub expires_at: UnixMillis,
}

/// Who changes settings, with what the audit trail keeps of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncEditor {
    /// The owner, through an access token of `session_id`.
    Owner {
        /// The access token's session.
        session_id: String,
        /// The caller's address as the registry saw it; empty if unknown.
        client_address: String,
    },
    /// The device itself.
    Device {
        /// The caller's address as the registry saw it; empty if unknown.
        client_address: String,
    },
}

/// How a change went in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncUpdate {
    /// Applied: the settings now.
    Updated(SyncSettings),
    /// The settings are at another version: nothing changed.
    Stale,
    /// The account has no such device.
    NoDevice,
}

/// Cloud-sync settings of devices. `storage/sql_sync.rs` implements it.
#[async_trait]
pub(crate) trait SyncSettingsStore: Send + Sync + std::fmt::Debug {
    /// A device's settings (the defaults at version 0 if it never set them); `None` if the
    /// account has no such device.
    async fn sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> anyhow::Result<Option<SyncSettings>>;

    /// Applies `change` if the device's settings are at `change.from_version`: the version goes
    /// up by one, and `SyncSettingsChanged` is recorded in the same transaction.
    async fn update_sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
        change: &SyncChange,
    ) -> anyhow::Result<SyncUpdate>;
}

/// Why GetSyncSettings or GetOwnSyncSettings was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GetSyncSettingsError {
    /// The account has no such device (for the device itself: it was removed).
    #[error("device not found")]
    NotFound,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why UpdateSyncSettings or UpdateOwnSyncSettings was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpdateSyncSettingsError {
    /// The account has no such device (for the device itself: it was removed).
    #[error("device not found")]
    NotFound,
    /// The change was made from a version that is no longer the current one.
    #[error("the settings changed since version {from_version}")]
    Stale {
        /// The version the change was made from.
        from_version: u64,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl SyncEditor {
    /// The side the change comes from.
    pub(crate) fn side(&self) -> SyncSide {
        match self {
            Self::Owner { .. } => SyncSide::Owner,
            Self::Device { .. } => SyncSide::Device,
        }
    }

    /// The change's author in the `SyncSettingsChanged` event.
    pub(crate) fn actor(&self) -> Actor {
        match self {
            Self::Owner {
                session_id,
                client_address,
            } => Actor::Owner {
                session_id: session_id.clone(),
                client_address: client_address.clone(),
            },
            Self::Device { client_address } => Actor::Device {
                client_address: client_address.clone(),
            },
        }
    }
}

impl DeviceRegistry {
    /// The settings of device `device_id` of account `mi_id`, for its owner or for itself.
    pub(crate) async fn sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> Result<SyncSettings, GetSyncSettingsError> {
        self.sync_settings
            .sync_settings(mi_id, device_id)
            .await?
            .ok_or(GetSyncSettingsError::NotFound)
    }

    /// The owner changes a device's settings from version `from_version`, in session
    /// `owner.session_id` from `client_address`.
    pub(crate) async fn update_sync_settings_as_owner(
        &self,
        owner: &Owner,
        client_address: &str,
        device_id: &str,
        from_version: u64,
        choices: SyncChoices,
        delivery: SyncDelivery,
    ) -> Result<SyncSettings, UpdateSyncSettingsError> {
        let editor = SyncEditor::Owner {
            session_id: owner.session_id.clone(),
            client_address: client_address.to_owned(),
        };
        self.update_sync_settings(
            owner.mi_id,
            device_id,
            (from_version, choices),
            editor,
            Some(delivery),
        )
        .await
    }

    /// The device changes its own settings from version `from_version`, from
    /// `client_address`.
    pub(crate) async fn update_sync_settings_as_device(
        &self,
        device: &DeviceCaller,
        client_address: &str,
        from_version: u64,
        choices: SyncChoices,
    ) -> Result<SyncSettings, UpdateSyncSettingsError> {
        let editor = SyncEditor::Device {
            client_address: client_address.to_owned(),
        };
        // The device made the change itself: nothing to carry back to it.
        self.update_sync_settings(
            device.mi_id,
            &device.device_id,
            (from_version, choices),
            editor,
            None,
        )
        .await
    }

    async fn update_sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
        (from_version, choices): (u64, SyncChoices),
        editor: SyncEditor,
        delivery: Option<SyncDelivery>,
    ) -> Result<SyncSettings, UpdateSyncSettingsError> {
        let change = SyncChange {
            from_version,
            choices,
            at: UnixMillis::now(),
            editor,
            delivery,
        };
        match self
            .sync_settings
            .update_sync_settings(mi_id, device_id, &change)
            .await?
        {
            SyncUpdate::Updated(settings) => {
                tracing::info!(%mi_id, device_id, version = settings.version, side = %change.editor.side(), "sync settings changed");
                Ok(settings)
            }
            SyncUpdate::Stale => Err(UpdateSyncSettingsError::Stale { from_version }),
            SyncUpdate::NoDevice => Err(UpdateSyncSettingsError::NotFound),
        }
    }
}

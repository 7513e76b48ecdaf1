//! An in-memory [`SyncSettingsStore`] for the domain's unit tests, with the SQL store's
//! semantics: defaults at version 0, a compare-and-set on the version, the event recorded with
//! the change.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use mi_contracts::MiId;

use super::{SyncChange, SyncSettings, SyncSettingsStore, SyncUpdate};
use crate::domain::events::DeviceEvent;

/// Devices' settings and the events recorded, in memory.
#[derive(Debug, Default)]
pub(in crate::domain) struct MemorySyncSettingsStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    devices: HashMap<(MiId, String), SyncSettings>,
    events: Vec<DeviceEvent>,
}

impl MemorySyncSettingsStore {
    /// Adds a device that never set its settings.
    pub(in crate::domain) fn add_device(&self, mi_id: MiId, device_id: &str) {
        let mut state = self.state.lock().expect("lock");
        state
            .devices
            .insert((mi_id, device_id.to_owned()), SyncSettings::default());
    }

    /// The events recorded so far.
    pub(in crate::domain) fn events(&self) -> Vec<DeviceEvent> {
        self.state.lock().expect("lock").events.clone()
    }
}

#[async_trait]
impl SyncSettingsStore for MemorySyncSettingsStore {
    async fn sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> anyhow::Result<Option<SyncSettings>> {
        let state = self.state.lock().expect("lock");
        Ok(state.devices.get(&(mi_id, device_id.to_owned())).copied())
    }

    async fn update_sync_settings(
        &self,
        mi_id: MiId,
        device_id: &str,
        change: &SyncChange,
    ) -> anyhow::Result<SyncUpdate> {
        let mut state = self.state.lock().expect("lock");
        let Some(settings) = state.devices.get_mut(&(mi_id, device_id.to_owned())) else {
            return Ok(SyncUpdate::NoDevice);
        };
        if settings.version != change.from_version {
            return Ok(SyncUpdate::Stale);
        }
        *settings = SyncSettings {
            choices: change.choices,
            version: settings.version + 1,
            updated: Some((change.at, change.editor.side())),
        };
        let updated = *settings;
        state.events.push(DeviceEvent::SyncSettingsChanged {
            mi_id,
            device_id: device_id.to_owned(),
            version: updated.version,
            actor: change.editor.actor(),
        });
        Ok(SyncUpdate::Updated(updated))
    }
}

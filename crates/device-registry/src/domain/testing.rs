//! An in-memory [`DeviceStore`] for the domain's unit tests, with the SQL store's semantics:
//! events applied once, relinks keeping the first link time and the key, keyset order, events
//! recorded with their change, tokens spent once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use mi_contracts::{DeviceCredential, DeviceInfo, MiId, UnixMillis};

use super::events::{Actor, Audience, DeviceEvent};
use super::{Device, DevicePosition, DeviceStatus, DeviceStore, FindDeviceState, LinkOutcome};

/// Devices, their keys, spent tokens, applied event ids and recorded events in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryDeviceStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    devices: Vec<Device>,
    credentials: HashMap<(MiId, String), DeviceCredential>,
    spent_tokens: HashSet<(MiId, String, String)>,
    applied_events: HashSet<String>,
    events: Vec<DeviceEvent>,
}

impl MemoryDeviceStore {
    /// The events recorded so far.
    pub(super) fn events(&self) -> Vec<DeviceEvent> {
        self.state.lock().expect("lock").events.clone()
    }
}

/// The Mi ID `raw`, which a test knows to be valid.
pub(super) fn mi_id(raw: u64) -> MiId {
    MiId::new(raw).expect("Mi ID")
}

/// A device description with id `device_id`.
pub(super) fn info(device_id: &str) -> DeviceInfo {
    DeviceInfo {
        device_id: device_id.to_owned(),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2".into(),
        name: device_id.to_owned(),
        ..DeviceInfo::default()
    }
}

#[async_trait]
impl DeviceStore for MemoryDeviceStore {
    async fn list(
        &self,
        mi_id: MiId,
        after: Option<&DevicePosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<Device>> {
        let sort_key = |position: &DevicePosition| {
            (
                std::cmp::Reverse(position.linked_at),
                position.device_id.clone(),
            )
        };
        let mut devices: Vec<Device> = self.state.lock().expect("lock").devices.clone();
        devices.retain(|device| device.mi_id == mi_id);
        devices.retain(|device| {
            after.is_none_or(|after| sort_key(&device.position()) > sort_key(after))
        });
        devices.sort_by_key(|device| sort_key(&device.position()));
        devices.truncate(usize::try_from(limit)?);
        Ok(devices)
    }

    async fn get(&self, mi_id: MiId, device_id: &str) -> anyhow::Result<Option<Device>> {
        let state = self.state.lock().expect("lock");
        Ok(state
            .devices
            .iter()
            .find(|device| device.mi_id == mi_id && device.info.device_id == device_id)
            .cloned())
    }

    async fn credential(
        &self,
        mi_id: MiId,
        device_id: &str,
    ) -> anyhow::Result<Option<DeviceCredential>> {
        let state = self.state.lock().expect("lock");
        Ok(state
            .credentials
            .get(&(mi_id, device_id.to_owned()))
            .cloned())
    }

    async fn link(
        &self,
        event_id: Option<&str>,
        mi_id: MiId,
        info: &DeviceInfo,
        linked_at: UnixMillis,
    ) -> anyhow::Result<LinkOutcome> {
        let mut state = self.state.lock().expect("lock");
        if let Some(event_id) = event_id
            && !state.applied_events.insert(event_id.to_owned())
        {
            return Ok(LinkOutcome::AlreadyApplied);
        }
        let key = (mi_id, info.device_id.clone());
        if let Some(credential) = &info.credential {
            state.credentials.insert(key.clone(), credential.clone());
        }
        let enrolled = state.credentials.contains_key(&key);
        let known = state
            .devices
            .iter_mut()
            .find(|known| known.mi_id == mi_id && known.info.device_id == info.device_id);
        let new_device = known.is_none();
        match known {
            Some(known) => {
                known.info = info.without_credential();
                known.enrolled = enrolled;
            }
            None => state.devices.push(Device {
                mi_id,
                info: info.without_credential(),
                linked_at,
                enrolled,
                status: DeviceStatus::default(),
                find_device: FindDeviceState::default(),
            }),
        }
        if new_device || info.credential.is_some() {
            state.events.push(DeviceEvent::Linked {
                mi_id,
                info: info.without_credential(),
                new_device,
                actor: Actor::Registry,
                audience: Audience::default(),
            });
        }
        Ok(LinkOutcome::Linked { new_device })
    }

    async fn remove(&self, mi_id: MiId, device_id: &str, session_id: &str) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        let Some(position) = state
            .devices
            .iter()
            .position(|device| device.mi_id == mi_id && device.info.device_id == device_id)
        else {
            return Ok(false);
        };
        let removed = state.devices.remove(position);
        state.credentials.remove(&(mi_id, device_id.to_owned()));
        state.events.push(DeviceEvent::Removed {
            mi_id,
            device_id: device_id.to_owned(),
            device_name: removed.info.name,
            hardware_id: removed.info.hardware_id,
            actor: Actor::Owner {
                session_id: session_id.to_owned(),
                client_address: String::new(),
            },
            audience: Audience::default(),
        });
        Ok(true)
    }

    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        if !state.applied_events.insert(event_id.to_owned()) {
            return Ok(false);
        }
        state.devices.retain(|device| device.mi_id != mi_id);
        state.credentials.retain(|(owner, _), _| *owner != mi_id);
        Ok(true)
    }

    async fn spend_token(
        &self,
        mi_id: MiId,
        device_id: &str,
        jti: &str,
        _expires_at: UnixMillis,
    ) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        Ok(state
            .spent_tokens
            .insert((mi_id, device_id.to_owned(), jti.to_owned())))
    }

    async fn report_status(
        &self,
        mi_id: MiId,
        device_id: &str,
        status: &DeviceStatus,
    ) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        let device = state
            .devices
            .iter_mut()
            .find(|device| device.mi_id == mi_id && device.info.device_id == device_id);
        Ok(device
            .map(|device| device.status = status.clone())
            .is_some())
    }
}

// --- For the command queue's tests (domain/commands/tests.rs) ---

impl MemoryDeviceStore {
    /// Links `device` as it is, Find Device state and all.
    pub(super) fn put(&self, device: Device) {
        let mut state = self.state.lock().expect("lock");
        state.devices.retain(|known| {
            (known.mi_id, &known.info.device_id) != (device.mi_id, &device.info.device_id)
        });
        state.devices.push(device);
    }
}

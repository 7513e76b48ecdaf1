//! An in-memory [`DeviceStore`] for the domain's unit tests, with the SQL store's semantics:
//! events applied once, relinks keeping the first link time, keyset order.

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::{Device, DevicePosition, DeviceStore};

/// Devices and applied event ids in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryDeviceStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    devices: Vec<Device>,
    applied_events: HashSet<String>,
}

impl MemoryDeviceStore {
    /// Runs `change` unless `event_id` was applied; false if it was.
    fn once(&self, event_id: &str, change: impl FnOnce(&mut Vec<Device>)) -> bool {
        let mut state = self.state.lock().expect("lock");
        if !state.applied_events.insert(event_id.to_owned()) {
            return false;
        }
        change(&mut state.devices);
        true
    }
}

/// The Mi ID `raw`, which a test knows to be valid.
pub(super) fn mi_id(raw: u64) -> MiId {
    MiId::new(raw).expect("Mi ID")
}

/// A device of account `raw_mi_id` linked at `linked_at` (milliseconds since the epoch).
pub(super) fn device(raw_mi_id: u64, device_id: &str, linked_at: i64) -> Device {
    Device {
        device_id: device_id.to_owned(),
        mi_id: mi_id(raw_mi_id),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2".into(),
        name: device_id.to_owned(),
        linked_at: UnixMillis::from_i64(linked_at),
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

    async fn link(&self, event_id: &str, device: &Device) -> anyhow::Result<bool> {
        Ok(self.once(event_id, |devices| {
            let known = devices
                .iter_mut()
                .find(|known| known.mi_id == device.mi_id && known.device_id == device.device_id);
            match known {
                Some(known) => {
                    *known = Device {
                        linked_at: known.linked_at,
                        ..device.clone()
                    }
                }
                None => devices.push(device.clone()),
            }
        }))
    }

    async fn unlink_account(&self, event_id: &str, mi_id: MiId) -> anyhow::Result<bool> {
        Ok(self.once(event_id, |devices| {
            devices.retain(|device| device.mi_id != mi_id);
        }))
    }
}

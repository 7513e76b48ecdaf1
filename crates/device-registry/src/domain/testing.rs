//! An in-memory [`DeviceStore`] for the domain's unit tests, with the SQL store's semantics:
//! events applied once, relinks keeping the first link time and the key, keyset order, events
//! recorded with their change (with the account's audience and an audit entry), tokens spent
//! once, the reactivation lock.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use mi_contracts::{DeviceCredential, DeviceInfo, MiId, UnixMillis};

use super::events::{Actor, Audience, DeviceEvent};
use super::{
    AccountNews, AuditEntry, AuditPosition, Device, DevicePosition, DeviceStatus, DeviceStore,
    FindDeviceState, LinkOutcome, LostMode, NewLink,
};

/// Devices, their keys, spent tokens, applied event ids, accounts, and recorded events and
/// audit entries in memory.
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
    /// Audience and second-factor flag per account.
    accounts: HashMap<MiId, (Audience, bool)>,
    events: Vec<DeviceEvent>,
    audit: Vec<AuditEntry>,
}

impl State {
    fn apply_news(&mut self, mi_id: MiId, news: &AccountNews) {
        let account = self.accounts.entry(mi_id).or_default();
        if let Some(audience) = &news.audience {
            account.0 = audience.clone();
        }
        if let Some(has_second_factor) = news.has_second_factor {
            account.1 = has_second_factor;
        }
    }

    fn audience(&self, mi_id: MiId) -> Audience {
        self.accounts
            .get(&mi_id)
            .map(|(audience, _)| audience.clone())
            .unwrap_or_default()
    }

    /// Records `event` and its audit entry, numbered in order like the SQL store's v7 ids.
    fn record(&mut self, event: DeviceEvent) {
        let entry_id = format!("{:08}", self.audit.len());
        self.audit
            .push(AuditEntry::of(&event, entry_id, UnixMillis::now()));
        self.events.push(event);
    }

    fn device_mut(&mut self, mi_id: MiId, device_id: &str) -> Option<&mut Device> {
        self.devices
            .iter_mut()
            .find(|device| device.mi_id == mi_id && device.info.device_id == device_id)
    }
}

impl MemoryDeviceStore {
    /// The events recorded so far.
    pub(super) fn events(&self) -> Vec<DeviceEvent> {
        self.state.lock().expect("lock").events.clone()
    }

    /// Marks a device erased at `erased_at` with `lost_mode` (what the `commands` slice does
    /// when the device acknowledges an erase), for tests of the reactivation lock.
    pub(super) fn mark_erased(
        &self,
        mi_id: MiId,
        device_id: &str,
        erased_at: UnixMillis,
        lost_mode: Option<LostMode>,
    ) {
        let mut state = self.state.lock().expect("lock");
        let device = state.device_mut(mi_id, device_id).expect("a linked device");
        device.find_device.erased_at = Some(erased_at);
        device.find_device.lost_mode = lost_mode;
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

    async fn link(&self, link: &NewLink<'_>) -> anyhow::Result<LinkOutcome> {
        let mut state = self.state.lock().expect("lock");
        if let Some(event_id) = link.event_id
            && !state.applied_events.insert(event_id.to_owned())
        {
            return Ok(LinkOutcome::AlreadyApplied);
        }
        let (mi_id, info) = (link.mi_id, link.info);
        if let Some(news) = link.account {
            state.apply_news(mi_id, news);
        }
        let erased_here = |device: &Device| {
            !info.hardware_id.is_empty()
                && device.info.hardware_id == info.hardware_id
                && device.find_device.erased_at.is_some()
        };
        if state
            .devices
            .iter()
            .any(|device| device.mi_id != mi_id && erased_here(device))
        {
            return Ok(LinkOutcome::ReactivationLocked);
        }
        let restored = state
            .devices
            .iter()
            .filter(|device| device.mi_id == mi_id && erased_here(device))
            .find_map(|device| device.find_device.lost_mode.clone());
        let key = (mi_id, info.device_id.clone());
        if let Some(credential) = &info.credential {
            state.credentials.insert(key.clone(), credential.clone());
        }
        let enrolled = state.credentials.contains_key(&key);
        let known = state.device_mut(mi_id, &info.device_id);
        let new_device = known.is_none();
        let lost_mode_restored = match known {
            Some(known) => {
                known.info = info.without_credential();
                known.enrolled = enrolled;
                known.find_device.erased_at.is_some() && known.find_device.lost_mode.is_some()
            }
            None => {
                let lost_mode_restored = restored.is_some();
                state.devices.push(Device {
                    mi_id,
                    info: info.without_credential(),
                    linked_at: link.linked_at,
                    enrolled,
                    status: DeviceStatus::default(),
                    find_device: FindDeviceState {
                        lost_mode: restored,
                        ..FindDeviceState::default()
                    },
                });
                lost_mode_restored
            }
        };
        if new_device || info.credential.is_some() {
            let audience = match link.account {
                Some(_) => Audience::default(),
                None => state.audience(mi_id),
            };
            state.record(DeviceEvent::Linked {
                mi_id,
                info: info.without_credential(),
                new_device,
                actor: link.actor.clone(),
                audience,
            });
        }
        Ok(LinkOutcome::Linked {
            new_device,
            lost_mode_restored,
        })
    }

    async fn remove(&self, mi_id: MiId, device_id: &str, actor: &Actor) -> anyhow::Result<bool> {
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
        let audience = state.audience(mi_id);
        state.record(DeviceEvent::Removed {
            mi_id,
            device_id: device_id.to_owned(),
            device_name: removed.info.name,
            hardware_id: removed.info.hardware_id,
            actor: actor.clone(),
            audience,
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
        state.accounts.remove(&mi_id);
        state.audit.retain(|entry| entry.mi_id != mi_id);
        Ok(true)
    }

    async fn apply_account_news(
        &self,
        event_id: &str,
        mi_id: MiId,
        news: &AccountNews,
    ) -> anyhow::Result<bool> {
        let mut state = self.state.lock().expect("lock");
        if !state.applied_events.insert(event_id.to_owned()) {
            return Ok(false);
        }
        state.apply_news(mi_id, news);
        Ok(true)
    }

    async fn has_second_factor(&self, mi_id: MiId) -> anyhow::Result<bool> {
        let state = self.state.lock().expect("lock");
        Ok(state.accounts.get(&mi_id).is_some_and(|(_, flag)| *flag))
    }

    async fn set_find_device(
        &self,
        mi_id: MiId,
        device_id: &str,
        enabled: bool,
        actor: &Actor,
    ) -> anyhow::Result<Option<Device>> {
        let mut state = self.state.lock().expect("lock");
        let audience = state.audience(mi_id);
        let Some(device) = state.device_mut(mi_id, device_id) else {
            return Ok(None);
        };
        let changed = device.find_device.enabled != enabled;
        device.find_device.enabled = enabled;
        if !enabled {
            device.find_device.last_location = None;
        }
        let device = device.clone();
        if changed {
            state.record(DeviceEvent::FindDeviceChanged {
                mi_id,
                device_id: device_id.to_owned(),
                device_name: device.info.name.clone(),
                enabled,
                actor: actor.clone(),
                audience,
            });
        }
        Ok(Some(device))
    }

    async fn list_audit(
        &self,
        mi_id: MiId,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> anyhow::Result<Vec<AuditEntry>> {
        let sort_key = |position: &AuditPosition| {
            std::cmp::Reverse((position.recorded_at, position.entry_id.clone()))
        };
        let mut entries: Vec<AuditEntry> = self.state.lock().expect("lock").audit.clone();
        entries.retain(|entry| entry.mi_id == mi_id);
        entries.retain(|entry| {
            after.is_none_or(|after| sort_key(&entry.position()) > sort_key(after))
        });
        entries.sort_by_key(|entry| sort_key(&entry.position()));
        entries.truncate(usize::try_from(limit)?);
        Ok(entries)
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

//! An in-memory [`LocationStore`] for the domain's unit tests, with the SQL store's semantics:
//! nothing kept while Find Device is off, one location per device and time, the last location
//! never moving back in time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::{Appended, LocationStore};
use crate::domain::Location;

/// Devices, their Find Device switch, history and last location, in memory.
#[derive(Debug, Default)]
pub(in crate::domain) struct MemoryLocationStore {
    devices: Mutex<HashMap<(MiId, String), Tracked>>,
}

#[derive(Debug, Default)]
struct Tracked {
    find_device_on: bool,
    history: BTreeMap<UnixMillis, Location>,
    last: Option<Location>,
}

impl MemoryLocationStore {
    /// Adds a device with Find Device on or off.
    pub(in crate::domain) fn add_device(&self, mi_id: MiId, device_id: &str, find_device_on: bool) {
        self.devices.lock().expect("lock").insert(
            (mi_id, device_id.to_owned()),
            Tracked {
                find_device_on,
                ..Tracked::default()
            },
        );
    }

    /// A device's last location.
    pub(in crate::domain) fn last(&self, mi_id: MiId, device_id: &str) -> Option<Location> {
        let devices = self.devices.lock().expect("lock");
        devices
            .get(&(mi_id, device_id.to_owned()))
            .and_then(|tracked| tracked.last)
    }
}

#[async_trait]
impl LocationStore for MemoryLocationStore {
    async fn append(
        &self,
        mi_id: MiId,
        device_id: &str,
        locations: &[Location],
    ) -> anyhow::Result<Appended> {
        let mut devices = self.devices.lock().expect("lock");
        let Some(tracked) = devices.get_mut(&(mi_id, device_id.to_owned())) else {
            return Ok(Appended::NoDevice);
        };
        if !tracked.find_device_on {
            return Ok(Appended::FindDeviceOff);
        }
        for location in locations {
            tracked
                .history
                .entry(location.measured_at)
                .or_insert(*location);
            if tracked
                .last
                .is_none_or(|last| last.measured_at < location.measured_at)
            {
                tracked.last = Some(*location);
            }
        }
        Ok(Appended::Kept(u32::try_from(locations.len())?))
    }

    async fn history(
        &self,
        mi_id: MiId,
        device_id: &str,
        since: UnixMillis,
        before: Option<UnixMillis>,
        limit: i64,
    ) -> anyhow::Result<Option<Vec<Location>>> {
        let devices = self.devices.lock().expect("lock");
        let Some(tracked) = devices.get(&(mi_id, device_id.to_owned())) else {
            return Ok(None);
        };
        let end = before.unwrap_or(UnixMillis::from_i64(i64::MAX));
        Ok(Some(
            tracked
                .history
                .range(since..end)
                .rev()
                .take(usize::try_from(limit)?)
                .map(|(_, location)| *location)
                .collect(),
        ))
    }
}

//! Devices, free of gRPC and SQL: the bottom layer. `linking` links devices as accounts sign
//! in or enroll them (the reactivation lock refusing an erased device to another account), and
//! unlinks them as accounts go away; `listing` reads an account's devices; `removal` is the
//! owner unlinking one; `device_calls` authenticates a device's own calls by the key it
//! enrolled; `commands` is the Find Device command queue; `find_device` is the device's Find
//! Device switch; `locations` keeps what devices report of where they are and `sync_settings`
//! what they sync to the cloud; `accounts` what identity's events say about accounts; `audit`
//! the owner's trail; `store` is what they need from storage and `events` what they record.

mod accounts;
mod audit;
pub(crate) mod commands;
mod device_calls;
pub(crate) mod events;
mod find_device;
#[cfg(test)]
mod find_device_tests;
mod linking;
mod listing;
pub(crate) mod locations;
mod removal;
mod store;
pub(crate) mod sync_settings;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{DeviceInfo, MiId, UnixMillis};
use serde::{Deserialize, Serialize};

pub(crate) use accounts::AccountNews;
pub(crate) use audit::{AuditEntry, AuditPosition};
pub(crate) use device_calls::{DeviceAuthError, DeviceCaller, StatusReport};
pub(crate) use find_device::SetFindDeviceError;
pub(crate) use linking::EnrollError;
pub(crate) use listing::GetDeviceError;
pub(crate) use locations::LocationStore;
pub(crate) use removal::RemoveDeviceError;
pub(crate) use store::{DeviceStore, LinkOutcome, NewLink};
pub(crate) use sync_settings::SyncSettingsStore;

/// A device linked to an account.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Device {
    /// The account it is linked to.
    pub mi_id: MiId,
    /// How it describes itself, without its credential.
    pub info: DeviceInfo,
    /// When it was first linked.
    pub linked_at: UnixMillis,
    /// Whether it enrolled a key.
    pub enrolled: bool,
    /// What it last reported.
    pub status: DeviceStatus,
    /// Find Device on it: the switch, Lost Mode, erase, its last location and queue.
    pub find_device: FindDeviceState,
}

/// A device's Find Device state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FindDeviceState {
    /// Whether Find Device is on.
    pub enabled: bool,
    /// Lost Mode as the device last confirmed it; `None` when off.
    pub lost_mode: Option<LostMode>,
    /// When the device acknowledged an erase; its hardware id stays bound to the account
    /// (reactivation lock) until the owner removes it.
    pub erased_at: Option<UnixMillis>,
    /// The last location it reported while Find Device was on.
    pub last_location: Option<Location>,
    /// Commands queued or delivered and not yet finished.
    pub pending_commands: u32,
}

/// Lost Mode: the screen locked with a message for whoever finds the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LostMode {
    /// Shown on the lock screen.
    pub message: String,
    /// A number to call; may be empty.
    pub phone_number: String,
    /// Smaller text under the message; may be empty.
    pub footnote: String,
    /// When the device confirmed it; `None` in a command not yet acknowledged.
    pub since: Option<UnixMillis>,
}

/// Where a device was, as it measured it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Location {
    /// -90 to 90.
    pub latitude: f64,
    /// -180 to 180.
    pub longitude: f64,
    /// Radius of 68% confidence, metres.
    pub accuracy_meters: f64,
    /// When the device measured it.
    pub measured_at: UnixMillis,
    /// How.
    pub source: Option<LocationSource>,
    /// 0 to 100, when known.
    pub battery_percent: Option<u32>,
}

/// How a device measured a location, stored by its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum LocationSource {
    /// Satellites.
    Gps,
    /// The mobile network.
    Network,
    /// Nearby Wi-Fi networks.
    Wifi,
}

/// What a device last reported about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DeviceStatus {
    /// When it last made a device-side call (the registry's clock).
    pub last_seen_at: Option<UnixMillis>,
    /// 0 to 100.
    pub battery_percent: Option<u32>,
    /// How it reaches the network.
    pub network: Option<NetworkType>,
}

/// How a device reaches the network, stored by its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub(crate) enum NetworkType {
    /// Wi-Fi.
    Wifi,
    /// A mobile network.
    Cellular,
    /// A cable.
    Ethernet,
}

impl Device {
    /// Where the device stands in its account's list, which pages start after.
    pub(crate) fn position(&self) -> DevicePosition {
        DevicePosition {
            linked_at: self.linked_at,
            device_id: self.info.device_id.clone(),
        }
    }
}

/// A place in an account's device list, which is ordered most recently linked first, then by
/// device id. Serialized into page tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DevicePosition {
    /// The link time of the device at this place.
    pub linked_at: UnixMillis,
    /// Its device id.
    pub device_id: String,
}

/// The signed-in owner of an owner-side call, from the access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// Whose account.
    pub mi_id: MiId,
    /// The session of the access token.
    pub session_id: String,
    /// When the session last proved a password or second factor.
    pub auth_time: UnixMillis,
    /// The caller's address, for the audit trail; empty if unknown.
    pub client_address: String,
    /// How (RFC 8176 methods, e.g. `pwd`, `otp`, `mfa`), from the access token's `amr`.
    pub amr: Vec<String>,
}

impl Owner {
    /// The owner as the actor of a change it makes.
    pub(crate) fn actor(&self) -> events::Actor {
        events::Actor::Owner {
            session_id: self.session_id.clone(),
            client_address: self.client_address.clone(),
        }
    }

    /// Whether the owner proved a password or second factor within `window` of now.
    pub(crate) fn authenticated_within(&self, window: Duration) -> bool {
        self.auth_time.saturating_add(window) > UnixMillis::now()
    }
}

/// The device registry's rules over its store; see [`DeviceRegistry::list_devices`],
/// [`DeviceRegistry::link`], [`DeviceRegistry::remove_device`] and
/// [`DeviceRegistry::authenticate_device`].
#[derive(Debug, Clone)]
pub(crate) struct DeviceRegistry {
    store: Arc<dyn DeviceStore>,
    recent_auth_window: Duration,
    locations: Arc<dyn LocationStore>,
    location_history: Duration,
    sync_settings: Arc<dyn SyncSettingsStore>,
}

impl DeviceRegistry {
    /// A registry over its stores; owner-side changes that need a recent authentication accept
    /// one within `recent_auth_window`; locations are kept for `location_history`.
    pub(crate) fn new(
        store: Arc<dyn DeviceStore>,
        locations: Arc<dyn LocationStore>,
        sync_settings: Arc<dyn SyncSettingsStore>,
        recent_auth_window: Duration,
        location_history: Duration,
    ) -> Self {
        Self {
            store,
            recent_auth_window,
            locations,
            location_history,
            sync_settings,
        }
    }

    /// Whether `owner` proved a password or second factor recently enough for a sensitive
    /// change.
    fn is_recent(&self, owner: &Owner) -> bool {
        owner.authenticated_within(self.recent_auth_window)
    }
}

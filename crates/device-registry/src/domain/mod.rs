//! Devices, free of gRPC and SQL: the bottom layer. `linking` links and unlinks devices as
//! accounts sign in and go away; `listing` lists an account's devices; `store` is what both
//! need from storage.

mod linking;
mod listing;
mod store;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use mi_contracts::{MiId, UnixMillis};
use serde::{Deserialize, Serialize};

pub(crate) use listing::ListDevicesError;
pub(crate) use store::DeviceStore;

/// A device linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    /// The id the device reports for itself.
    pub device_id: String,
    /// The account it is linked to.
    pub mi_id: MiId,
    /// E.g. "Redmi Note 13".
    pub model: String,
    /// E.g. "HyperOS 2".
    pub os: String,
    /// The name the person gave it.
    pub name: String,
    /// When it was first linked.
    pub linked_at: UnixMillis,
}

impl Device {
    /// Where the device stands in its account's list, which pages start after.
    pub(crate) fn position(&self) -> DevicePosition {
        DevicePosition {
            linked_at: self.linked_at,
            device_id: self.device_id.clone(),
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

/// The device registry's rules over its store; see [`DeviceRegistry::list_devices`],
/// [`DeviceRegistry::link`] and [`DeviceRegistry::unlink_account`].
#[derive(Debug, Clone)]
pub(crate) struct DeviceRegistry {
    store: Arc<dyn DeviceStore>,
}

impl DeviceRegistry {
    /// A registry over its store.
    pub(crate) fn new(store: Arc<dyn DeviceStore>) -> Self {
        Self { store }
    }
}

//! Domain devices as `mi.device.v1` messages, and back.

use mi_proto::contracts::device_to_wire;
use mi_proto::device::v1 as api;

use crate::domain::{Device, NetworkType};

/// A device as the owner sees it, without its credential.
pub(super) fn device(device: Device) -> api::Device {
    api::Device {
        mi_id: device.mi_id.get(),
        link_time: Some(device.linked_at.to_timestamp()),
        info: Some(device_to_wire(&device.info.without_credential())),
        enrolled: device.enrolled,
        last_seen_time: device
            .status
            .last_seen_at
            .map(|seen_at| seen_at.to_timestamp()),
        battery_percent: device.status.battery_percent,
        network_type: network_to_wire(device.status.network).into(),
    }
}

fn network_to_wire(network: Option<NetworkType>) -> api::NetworkType {
    match network {
        None => api::NetworkType::Unspecified,
        Some(NetworkType::Wifi) => api::NetworkType::Wifi,
        Some(NetworkType::Cellular) => api::NetworkType::Cellular,
        Some(NetworkType::Ethernet) => api::NetworkType::Ethernet,
    }
}

/// The network of a report; `None` for unspecified, `Err` for a number this build does not
/// know.
pub(super) fn network_from_wire(value: i32) -> Result<Option<NetworkType>, ()> {
    match api::NetworkType::try_from(value).map_err(|_| ())? {
        api::NetworkType::Unspecified => Ok(None),
        api::NetworkType::Wifi => Ok(Some(NetworkType::Wifi)),
        api::NetworkType::Cellular => Ok(Some(NetworkType::Cellular)),
        api::NetworkType::Ethernet => Ok(Some(NetworkType::Ethernet)),
    }
}

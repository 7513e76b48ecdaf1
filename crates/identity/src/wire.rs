//! Domain values as the protobuf messages both the gRPC answers (`grpc/`) and the published
//! events (`publish.rs`) carry them in.

use mi_proto::identity::v1 as api;

use crate::domain::{ContactKind, DeviceInfo};

/// The wire form of a contact kind.
pub(crate) fn contact_kind(kind: ContactKind) -> api::ContactKind {
    match kind {
        ContactKind::Phone => api::ContactKind::Phone,
        ContactKind::Email => api::ContactKind::Email,
    }
}

/// The wire form of a device.
pub(crate) fn device(device: &DeviceInfo) -> api::DeviceInfo {
    api::DeviceInfo {
        device_id: device.device_id.clone(),
        model: device.model.clone(),
        os: device.os.clone(),
        name: device.name.clone(),
    }
}

/// The domain form of a device as the client sent it (checked later by the domain).
pub(crate) fn device_from_wire(device: Option<api::DeviceInfo>) -> DeviceInfo {
    let device = device.unwrap_or_default();
    DeviceInfo {
        device_id: device.device_id,
        model: device.model,
        os: device.os,
        name: device.name,
    }
}

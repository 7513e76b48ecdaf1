//! Domain values as the protobuf messages both the gRPC answers (`grpc/`) and the published
//! events (`publish.rs`) carry them in.

use mi_platform::ServiceError;
use mi_proto::identity::v1 as api;

use crate::domain::{ContactKind, DeviceInfo};

/// The wire form of a contact kind.
pub(crate) fn contact_kind(kind: ContactKind) -> api::ContactKind {
    match kind {
        ContactKind::Phone => api::ContactKind::Phone,
        ContactKind::Email => api::ContactKind::Email,
    }
}

/// The domain form of a device as the client sent it (its fields checked later by the
/// domain); an unknown capability or key algorithm is refused here.
pub(crate) fn device_from_wire(
    device: Option<mi_proto::common::v1::DeviceInfo>,
) -> Result<DeviceInfo, ServiceError> {
    mi_proto::contracts::device_from_wire(device)
        .map_err(|(field, problem)| ServiceError::invalid_field(field, problem))
}

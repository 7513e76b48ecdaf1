//! Domain devices as `mi.device.v1` messages, and back.

use mi_proto::contracts::device_to_wire;
use mi_proto::device::v1 as api;

use crate::domain::commands::{Action, Command, CommandState};
use crate::domain::{Device, Location, LocationSource, LostMode, NetworkType};

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
        find_device_enabled: device.find_device.enabled,
        lost_mode: device.find_device.lost_mode.as_ref().map(lost_mode),
        last_location: device.find_device.last_location.as_ref().map(location),
        pending_commands: device.find_device.pending_commands,
        erased_time: device
            .find_device
            .erased_at
            .map(|erased_at| erased_at.to_timestamp()),
    }
}

/// Lost Mode as the wire shows it.
pub(super) fn lost_mode(lost_mode: &LostMode) -> api::LostMode {
    api::LostMode {
        message: lost_mode.message.clone(),
        phone_number: lost_mode.phone_number.clone(),
        footnote: lost_mode.footnote.clone(),
        since_time: lost_mode.since.map(|since| since.to_timestamp()),
    }
}

/// A location as the wire shows it.
pub(super) fn location(location: &Location) -> api::Location {
    api::Location {
        latitude: location.latitude,
        longitude: location.longitude,
        accuracy_meters: location.accuracy_meters,
        time: Some(location.measured_at.to_timestamp()),
        source: match location.source {
            None => api::LocationSource::Unspecified,
            Some(LocationSource::Gps) => api::LocationSource::Gps,
            Some(LocationSource::Network) => api::LocationSource::Network,
            Some(LocationSource::Wifi) => api::LocationSource::Wifi,
        }
        .into(),
        battery_percent: location.battery_percent,
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

/// A command as the wire shows it.
pub(super) fn command(command: Command) -> api::Command {
    use api::command_action::Action as Wire;
    let action = match &command.action {
        Action::Locate => Wire::Locate(api::Locate {}),
        Action::Ring => Wire::Ring(api::Ring {}),
        Action::EnableLostMode(mode) => Wire::EnableLostMode(lost_mode(mode)),
        Action::DisableLostMode => Wire::DisableLostMode(api::DisableLostMode {}),
        Action::Erase => Wire::Erase(api::Erase {}),
        Action::ApplySyncSettings(settings) => Wire::ApplySyncSettings(
            super::sync_settings::settings_to_wire(command.device_id.clone(), settings),
        ),
    };
    let state = match command.state {
        CommandState::Queued => api::CommandState::Queued,
        CommandState::Delivered => api::CommandState::Delivered,
        CommandState::NotNow => api::CommandState::NotNow,
        CommandState::Succeeded => api::CommandState::Succeeded,
        CommandState::Failed => api::CommandState::Failed,
        CommandState::Expired => api::CommandState::Expired,
        CommandState::Canceled => api::CommandState::Canceled,
    };
    let (error_code, error_message) = command.error.unwrap_or_default();
    api::Command {
        command_id: command.command_id,
        device_id: command.device_id,
        action: Some(api::CommandAction {
            action: Some(action),
        }),
        state: state.into(),
        create_time: Some(command.created_at.to_timestamp()),
        deliver_time: command.delivered_at.map(|at| at.to_timestamp()),
        complete_time: command.completed_at.map(|at| at.to_timestamp()),
        expire_time: command.expires_at.map(|at| at.to_timestamp()),
        not_now_count: command.not_now_count,
        location: command.location.as_ref().map(location),
        error_code,
        error_message,
    }
}

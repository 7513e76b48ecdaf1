//! Cloud-sync settings: GetSyncSettings / UpdateSyncSettings for the owner (access token),
//! GetOwnSyncSettings / UpdateOwnSyncSettings for the device (device token).

use mi_contracts::Reason;
use mi_platform::{ErrorCode, ServiceError};
use mi_proto::device::v1 as api;
use tonic::{Request, Response, Status};

use super::DeviceRegistryHandler;
use super::device_side::device_auth_error;
use super::owner::{check_device_id, not_found};
use crate::domain::DeviceAuthError;
use crate::domain::sync_settings::{
    DataTypes, GetSyncSettingsError, SyncChoices, SyncSettings, UpdateSyncSettingsError,
};

impl DeviceRegistryHandler {
    pub(super) async fn sync_settings_for_owner(
        &self,
        request: Request<api::GetSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        let owner = self.owner(&request)?;
        let device_id = request.into_inner().device_id;
        check_device_id(&device_id)?;
        let settings = self
            .registry
            .sync_settings(owner.mi_id, &device_id)
            .await
            .map_err(|error| match error {
                GetSyncSettingsError::NotFound => not_found(),
                GetSyncSettingsError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(settings_to_wire(device_id, &settings)))
    }

    pub(super) async fn update_sync_settings_for_owner(
        &self,
        request: Request<api::UpdateSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        let owner = self.owner(&request)?;
        let client_address = client_address(&request);
        let (from_version, choices, device_id) = change_from_wire(request.into_inner().settings)?;
        check_device_id(&device_id)?;
        let settings = self
            .registry
            .update_sync_settings_as_owner(
                &owner,
                &client_address,
                &device_id,
                from_version,
                choices,
                self.commands.sync_delivery(),
            )
            .await
            .map_err(|error| update_error(error, not_found))?;
        Ok(Response::new(settings_to_wire(device_id, &settings)))
    }

    pub(super) async fn sync_settings_for_device(
        &self,
        request: Request<api::GetOwnSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        let device = self.device(&request).await?;
        let settings = self
            .registry
            .sync_settings(device.mi_id, &device.device_id)
            .await
            .map_err(|error| match error {
                GetSyncSettingsError::NotFound => device_gone(),
                GetSyncSettingsError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(settings_to_wire(device.device_id, &settings)))
    }

    pub(super) async fn update_sync_settings_for_device(
        &self,
        request: Request<api::UpdateOwnSyncSettingsRequest>,
    ) -> Result<Response<api::SyncSettings>, Status> {
        // Bad input is refused before the token's jti is spent, so the device may retry it.
        let (from_version, choices, _ignored_device_id) =
            change_from_wire(request.get_ref().settings.clone())?;
        let device = self.device(&request).await?;
        let settings = self
            .registry
            .update_sync_settings_as_device(
                &device,
                &client_address(&request),
                from_version,
                choices,
            )
            .await
            .map_err(|error| update_error(error, device_gone))?;
        Ok(Response::new(settings_to_wire(device.device_id, &settings)))
    }
}

/// The caller's address as the registry saw it, for the audit trail; empty if unknown.
fn client_address<T>(request: &Request<T>) -> String {
    request
        .remote_addr()
        .map(|address| address.ip().to_canonical().to_string())
        .unwrap_or_default()
}

/// A device removed after its token was checked: refused like a bad token.
fn device_gone() -> ServiceError {
    device_auth_error(DeviceAuthError::Invalid("no enrolled key"))
}

fn update_error(
    error: UpdateSyncSettingsError,
    no_device: impl FnOnce() -> ServiceError,
) -> ServiceError {
    match error {
        UpdateSyncSettingsError::NotFound => no_device(),
        UpdateSyncSettingsError::Stale { from_version } => ServiceError::new(
            ErrorCode::Aborted,
            format!(
                "the sync settings changed since version {from_version}: read them again, then \
                 change them"
            ),
        )
        .with_reason(Reason::SyncSettingsStale),
        UpdateSyncSettingsError::Unexpected(error) => ServiceError::internal(&error),
    }
}

/// The version a change was made from, the new choices and the device it names.
fn change_from_wire(
    settings: Option<api::SyncSettings>,
) -> Result<(u64, SyncChoices, String), ServiceError> {
    let settings =
        settings.ok_or_else(|| ServiceError::invalid_field("settings", "is required"))?;
    let choices = SyncChoices {
        sync_enabled: settings.sync_enabled,
        wifi_only: settings.wifi_only,
        data_types: DataTypes {
            gallery: settings.gallery,
            contacts: settings.contacts,
            messages: settings.messages,
            call_history: settings.call_history,
            notes: settings.notes,
            calendar: settings.calendar,
            recordings: settings.recordings,
            wifi_networks: settings.wifi_networks,
            browser: settings.browser,
        },
    };
    Ok((settings.version, choices, settings.device_id))
}

/// A device's settings as the wire shows them (also the `apply_sync_settings` command's).
pub(super) fn settings_to_wire(device_id: String, settings: &SyncSettings) -> api::SyncSettings {
    let choices = &settings.choices;
    let types = &choices.data_types;
    api::SyncSettings {
        device_id,
        version: settings.version,
        sync_enabled: choices.sync_enabled,
        wifi_only: choices.wifi_only,
        gallery: types.gallery,
        contacts: types.contacts,
        messages: types.messages,
        call_history: types.call_history,
        notes: types.notes,
        calendar: types.calendar,
        recordings: types.recordings,
        wifi_networks: types.wifi_networks,
        browser: types.browser,
        update_time: settings.updated.map(|(at, _)| at.to_timestamp()),
        updated_by: settings
            .updated
            .map(|(_, side)| side.to_string())
            .unwrap_or_default(),
    }
}

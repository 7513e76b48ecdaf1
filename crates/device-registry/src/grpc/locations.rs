//! ReportLocations (device side) and ListLocations (owner side): wire ↔ domain locations.

use mi_contracts::UnixMillis;
use mi_platform::ServiceError;
use mi_platform::paging::PageRequest;
use mi_proto::device::v1 as api;
use tonic::{Request, Response, Status};

use super::device_side::device_auth_error;
use super::owner::{check_device_id, not_found};
use super::{DeviceRegistryHandler, convert};
use crate::domain::locations::{InvalidReport, ListLocationsError, ReportLocationsError};
use crate::domain::{DeviceAuthError, Location, LocationSource};

/// The most field violations one refusal lists: a report of 100 bad locations would otherwise
/// answer with an error larger than gRPC's headers allow.
const MAX_LISTED_VIOLATIONS: usize = 20;

impl DeviceRegistryHandler {
    pub(super) async fn take_locations(
        &self,
        request: Request<api::ReportLocationsRequest>,
    ) -> Result<Response<api::ReportLocationsResponse>, Status> {
        // Bad input is refused before the token's jti is spent, so the device may retry it.
        let locations = locations_from_wire(&request.get_ref().locations)?;
        let report = self
            .registry
            .check_report(locations)
            .map_err(invalid_report)?;
        let device = self.device(&request).await?;
        let accepted = self
            .registry
            .report_locations(&device, report)
            .await
            .map_err(|error| match error {
                ReportLocationsError::DeviceGone => {
                    device_auth_error(DeviceAuthError::Invalid("no enrolled key"))
                }
                ReportLocationsError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        Ok(Response::new(api::ReportLocationsResponse { accepted }))
    }

    pub(super) async fn location_history(
        &self,
        request: Request<api::ListLocationsRequest>,
    ) -> Result<Response<api::ListLocationsResponse>, Status> {
        let owner = self.owner(&request)?;
        let request = request.into_inner();
        check_device_id(&request.device_id)?;
        let page = PageRequest::<UnixMillis>::from_wire(request.page_size, &request.page_token)?;
        let locations = self
            .registry
            .list_locations(
                owner.mi_id,
                &request.device_id,
                page.after,
                page.fetch_limit(),
            )
            .await
            .map_err(|error| match error {
                ListLocationsError::NotFound => not_found(),
                ListLocationsError::Unexpected(error) => ServiceError::internal(&error),
            })?;
        // A device has one location per time, so the time is the key pages start after.
        let page = page.page(locations, |location| location.measured_at);
        Ok(Response::new(api::ListLocationsResponse {
            locations: page.items.iter().map(convert::location).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

/// A reported location as the domain sees it; what is missing or unknown on the wire, by the
/// field of `mi.device.v1.Location`.
pub(super) fn location_from_wire(
    location: &api::Location,
) -> Result<Location, Vec<(&'static str, &'static str)>> {
    let mut problems = Vec::new();
    let source = match api::LocationSource::try_from(location.source) {
        Ok(api::LocationSource::Unspecified) => None,
        Ok(api::LocationSource::Gps) => Some(LocationSource::Gps),
        Ok(api::LocationSource::Network) => Some(LocationSource::Network),
        Ok(api::LocationSource::Wifi) => Some(LocationSource::Wifi),
        Err(_) => {
            problems.push(("source", "must be a known location source"));
            None
        }
    };
    let Some(time) = &location.time else {
        problems.push(("time", "is required"));
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Location {
        latitude: location.latitude,
        longitude: location.longitude,
        accuracy_meters: location.accuracy_meters,
        measured_at: UnixMillis::from_timestamp(time),
        source,
        battery_percent: location.battery_percent,
    })
}

/// Every location of a report, or the field violations of those the wire cannot carry into
/// the domain.
fn locations_from_wire(wire: &[api::Location]) -> Result<Vec<Location>, ServiceError> {
    let mut locations = Vec::with_capacity(wire.len());
    let mut violations = Vec::new();
    for (index, location) in wire.iter().enumerate() {
        match location_from_wire(location) {
            Ok(location) => locations.push(location),
            Err(problems) => violations.extend(
                problems
                    .into_iter()
                    .map(|(field, problem)| (format!("locations[{index}].{field}"), problem)),
            ),
        }
    }
    if violations.is_empty() {
        Ok(locations)
    } else {
        Err(invalid_report(InvalidReport(violations)))
    }
}

/// INVALID_ARGUMENT naming each bad field of a report (the first
/// [`MAX_LISTED_VIOLATIONS`]).
fn invalid_report(InvalidReport(violations): InvalidReport) -> ServiceError {
    ServiceError::invalid_fields(
        violations
            .into_iter()
            .take(MAX_LISTED_VIOLATIONS)
            .map(|(field, problem)| (field, problem.to_owned()))
            .collect(),
    )
}

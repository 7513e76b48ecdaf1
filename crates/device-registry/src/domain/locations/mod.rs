//! Location reports: a device reports where it was (ReportLocations, device token) and the
//! owner reads the history of the last `device.location_history`, newest first
//! (ListLocations). Nothing is kept while Find Device is off; the device's last location only
//! ever moves forward in time.

#[cfg(test)]
pub(super) mod memory;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::{DeviceCaller, DeviceRegistry, Location};

/// The most locations one report carries.
pub(crate) const MAX_LOCATIONS_PER_REPORT: usize = 100;
/// How far ahead of the registry's clock a measurement may be: device clocks drift.
const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(5 * 60);
/// The largest accuracy radius accepted, in metres: beyond it a location says nothing useful.
const MAX_ACCURACY_METERS: f64 = 100_000.0;

/// What became of a report in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Find Device is on: this many locations of the report are in the history.
    Kept(u32),
    /// Find Device is off: nothing was kept.
    FindDeviceOff,
    /// The account has no such device (it was removed meanwhile).
    NoDevice,
}

/// Location history and last locations. `storage/sql_locations.rs` implements it.
#[async_trait]
pub(crate) trait LocationStore: Send + Sync + std::fmt::Debug {
    /// While the device has Find Device on: adds `locations` to its history (one per
    /// measurement time: a location at a time already kept is not stored again) and makes the
    /// newest of them its last location, unless its last location is newer. Visible to
    /// readers as soon as this returns.
    async fn append(
        &self,
        mi_id: MiId,
        device_id: &str,
        locations: &[Location],
    ) -> anyhow::Result<Appended>;

    /// At most `limit` locations of a device measured at or after `since`, newest first,
    /// measured before `before` when given; `None` if the account has no such device.
    async fn history(
        &self,
        mi_id: MiId,
        device_id: &str,
        since: UnixMillis,
        before: Option<UnixMillis>,
        limit: i64,
    ) -> anyhow::Result<Option<Vec<Location>>>;
}

/// Locations that passed [`DeviceRegistry::check_report`]: 1 to 100, each plausible.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LocationReport(Vec<Location>);

/// The field violations of a refused report, each a proto field path (`locations[3].latitude`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid location report: {0:?}")]
pub(crate) struct InvalidReport(pub Vec<(String, &'static str)>);

/// Why ReportLocations was refused after the report was checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportLocationsError {
    /// The device was removed after its token was checked: refused like a bad token.
    #[error("the device is gone")]
    DeviceGone,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why ListLocations was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ListLocationsError {
    /// The account has no such device (another account's device is not told apart).
    #[error("device not found")]
    NotFound,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Location {
    /// What is wrong with this location as a report at `now` with a history of `window`: each
    /// problem names the field of `mi.device.v1.Location`. Empty when nothing is.
    pub(crate) fn problems(
        &self,
        now: UnixMillis,
        window: Duration,
    ) -> Vec<(&'static str, &'static str)> {
        let within =
            |value: f64, bound: f64| value.is_finite() && (-bound..=bound).contains(&value);
        let mut problems = Vec::new();
        if !within(self.latitude, 90.0) {
            problems.push(("latitude", "must be -90 to 90"));
        }
        if !within(self.longitude, 180.0) {
            problems.push(("longitude", "must be -180 to 180"));
        }
        if !(self.accuracy_meters.is_finite()
            && (0.0..=MAX_ACCURACY_METERS).contains(&self.accuracy_meters))
        {
            problems.push(("accuracy_meters", "must be 0 to 100000"));
        }
        if self.measured_at > now.saturating_add(MAX_CLOCK_AHEAD) {
            problems.push((
                "time",
                "must not be more than 5 minutes ahead of the registry",
            ));
        } else if self.measured_at < now.saturating_sub(window) {
            problems.push(("time", "is older than the location history keeps"));
        }
        if self.battery_percent.is_some_and(|percent| percent > 100) {
            problems.push(("battery_percent", "must be 0 to 100"));
        }
        problems
    }
}

impl LocationReport {
    /// The locations, as reported.
    pub(crate) fn locations(&self) -> &[Location] {
        &self.0
    }
}

impl DeviceRegistry {
    /// The report of `locations`, or every field violation in it (`locations` itself when there
    /// are none or more than [`MAX_LOCATIONS_PER_REPORT`]).
    pub(crate) fn check_report(
        &self,
        locations: Vec<Location>,
    ) -> Result<LocationReport, InvalidReport> {
        if !(1..=MAX_LOCATIONS_PER_REPORT).contains(&locations.len()) {
            return Err(InvalidReport(vec![(
                "locations".to_owned(),
                "must hold 1 to 100 locations",
            )]));
        }
        let now = UnixMillis::now();
        let violations: Vec<(String, &'static str)> = locations
            .iter()
            .enumerate()
            .flat_map(|(index, location)| {
                location
                    .problems(now, self.location_history)
                    .into_iter()
                    .map(move |(field, problem)| (format!("locations[{index}].{field}"), problem))
            })
            .collect();
        if violations.is_empty() {
            Ok(LocationReport(locations))
        } else {
            Err(InvalidReport(violations))
        }
    }

    /// Keeps what `device` reported while its Find Device is on; returns how many of the
    /// report's locations are in its history (0 while Find Device is off).
    pub(crate) async fn report_locations(
        &self,
        device: &DeviceCaller,
        report: LocationReport,
    ) -> Result<u32, ReportLocationsError> {
        let appended = self
            .locations
            .append(device.mi_id, &device.device_id, report.locations())
            .await?;
        match appended {
            Appended::Kept(kept) => Ok(kept),
            Appended::FindDeviceOff => Ok(0),
            Appended::NoDevice => Err(ReportLocationsError::DeviceGone),
        }
    }

    /// At most `limit` locations of the owner's device within the history window, newest
    /// first, measured before `before` when given (the previous page's last).
    pub(crate) async fn list_locations(
        &self,
        mi_id: MiId,
        device_id: &str,
        before: Option<UnixMillis>,
        limit: i64,
    ) -> Result<Vec<Location>, ListLocationsError> {
        // The retention job deletes older rows now and then; the window is exact here.
        let since = UnixMillis::now().saturating_sub(self.location_history);
        self.locations
            .history(mi_id, device_id, since, before, limit)
            .await?
            .ok_or(ListLocationsError::NotFound)
    }
}

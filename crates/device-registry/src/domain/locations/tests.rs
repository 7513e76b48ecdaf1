//! Location reports against the in-memory store: what is refused and how, what is kept, the
//! last location, and the history's window and pages.

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::UnixMillis;

use super::memory::MemoryLocationStore;
use super::*;
use crate::domain::LocationSource;
use crate::domain::sync_settings::memory::MemorySyncSettingsStore;
use crate::domain::testing::{MemoryDeviceStore, mi_id};

const HISTORY: Duration = Duration::from_secs(24 * 60 * 60);
const MINUTE: i64 = 60_000;

fn registry() -> (DeviceRegistry, Arc<MemoryLocationStore>) {
    let locations = Arc::new(MemoryLocationStore::default());
    let registry = DeviceRegistry::new(
        Arc::new(MemoryDeviceStore::default()),
        Arc::clone(&locations) as _,
        Arc::new(MemorySyncSettingsStore::default()),
        Duration::from_secs(300),
        HISTORY,
    );
    (registry, locations)
}

fn caller(device_id: &str) -> DeviceCaller {
    DeviceCaller {
        mi_id: mi_id(1001),
        device_id: device_id.to_owned(),
    }
}

/// A plausible location measured `minutes_ago` minutes ago (negative: ahead).
fn at(minutes_ago: i64) -> Location {
    Location {
        latitude: 39.9042,
        longitude: 116.4074,
        accuracy_meters: 12.5,
        measured_at: UnixMillis::from_i64(UnixMillis::now().as_i64() - minutes_ago * MINUTE),
        source: Some(LocationSource::Gps),
        battery_percent: Some(80),
    }
}

fn fields(refused: Result<LocationReport, InvalidReport>) -> Vec<String> {
    let InvalidReport(violations) = refused.expect_err("refused");
    violations.into_iter().map(|(field, _)| field).collect()
}

#[test]
fn each_bad_field_is_named_with_its_place_in_the_report() {
    let (registry, _) = registry();
    let cases: [(Location, &str); 9] = [
        (
            Location {
                latitude: 90.01,
                ..at(1)
            },
            "latitude",
        ),
        (
            Location {
                latitude: -91.0,
                ..at(1)
            },
            "latitude",
        ),
        (
            Location {
                longitude: f64::NAN,
                ..at(1)
            },
            "longitude",
        ),
        (
            Location {
                longitude: 180.5,
                ..at(1)
            },
            "longitude",
        ),
        (
            Location {
                accuracy_meters: -1.0,
                ..at(1)
            },
            "accuracy_meters",
        ),
        (
            Location {
                accuracy_meters: 100_000.1,
                ..at(1)
            },
            "accuracy_meters",
        ),
        (at(-6), "time"),
        (at(24 * 60 + 1), "time"),
        (
            Location {
                battery_percent: Some(101),
                ..at(1)
            },
            "battery_percent",
        ),
    ];
    for (bad, field) in cases {
        let refused = registry.check_report(vec![at(2), at(1), bad]);
        assert_eq!(
            fields(refused),
            [format!("locations[2].{field}")],
            "{bad:?}"
        );
    }
    let several = Location {
        latitude: f64::INFINITY,
        battery_percent: Some(200),
        ..at(1)
    };
    assert_eq!(
        fields(registry.check_report(vec![several])),
        ["locations[0].latitude", "locations[0].battery_percent"]
    );
}

#[test]
fn a_report_holds_one_to_a_hundred_plausible_locations() {
    let (registry, _) = registry();
    assert_eq!(fields(registry.check_report(Vec::new())), ["locations"]);
    assert_eq!(
        fields(registry.check_report(vec![at(1); 101])),
        ["locations"]
    );
    // The bounds themselves are fine.
    let edges = vec![
        Location {
            latitude: 90.0,
            longitude: -180.0,
            accuracy_meters: 0.0,
            battery_percent: Some(100),
            source: None,
            ..at(-4)
        },
        Location {
            latitude: -90.0,
            longitude: 180.0,
            accuracy_meters: 100_000.0,
            battery_percent: None,
            ..at(24 * 60 - 1)
        },
    ];
    assert!(registry.check_report(edges).is_ok());
    assert!(registry.check_report(vec![at(1); 100]).is_ok());
}

#[tokio::test]
async fn reports_are_kept_while_find_device_is_on_and_the_last_location_never_goes_back() {
    let (registry, store) = registry();
    let phone = caller("phone-1");
    store.add_device(phone.mi_id, "phone-1", true);
    let (older, newer) = (at(10), at(5));
    let report = registry.check_report(vec![older, newer]).unwrap();
    assert_eq!(registry.report_locations(&phone, report).await.unwrap(), 2);
    assert_eq!(store.last(phone.mi_id, "phone-1"), Some(newer));

    // A late report of an earlier place joins the history but is not the last location.
    let late = Location {
        latitude: 31.2304,
        ..at(20)
    };
    let report = registry.check_report(vec![late]).unwrap();
    assert_eq!(registry.report_locations(&phone, report).await.unwrap(), 1);
    assert_eq!(store.last(phone.mi_id, "phone-1"), Some(newer));
    let listed = registry
        .list_locations(phone.mi_id, "phone-1", None, 10)
        .await
        .unwrap();
    assert_eq!(listed, [newer, older, late], "newest first");
}

#[tokio::test]
async fn nothing_is_kept_while_find_device_is_off() {
    let (registry, store) = registry();
    let phone = caller("phone-1");
    store.add_device(phone.mi_id, "phone-1", false);
    let report = registry.check_report(vec![at(1)]).unwrap();
    assert_eq!(registry.report_locations(&phone, report).await.unwrap(), 0);
    assert_eq!(store.last(phone.mi_id, "phone-1"), None);
    let listed = registry
        .list_locations(phone.mi_id, "phone-1", None, 10)
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn a_removed_device_cannot_report_and_an_unknown_one_has_no_history() {
    let (registry, _) = registry();
    let report = registry.check_report(vec![at(1)]).unwrap();
    assert!(matches!(
        registry.report_locations(&caller("gone"), report).await,
        Err(ReportLocationsError::DeviceGone)
    ));
    assert!(matches!(
        registry.list_locations(mi_id(1001), "gone", None, 10).await,
        Err(ListLocationsError::NotFound)
    ));
}

#[tokio::test]
async fn the_history_is_listed_a_page_at_a_time_within_its_window() {
    let (registry, store) = registry();
    let phone = caller("phone-1");
    store.add_device(phone.mi_id, "phone-1", true);
    // Stored before the window moved past it: listed no more, though not yet deleted.
    let expired = at(24 * 60 + 5);
    store
        .append(phone.mi_id, "phone-1", &[expired])
        .await
        .unwrap();
    let reported: Vec<Location> = (1..=5).map(at).collect();
    let report = registry.check_report(reported.clone()).unwrap();
    registry.report_locations(&phone, report).await.unwrap();

    let first = registry
        .list_locations(phone.mi_id, "phone-1", None, 3)
        .await
        .unwrap();
    assert_eq!(first, reported[..3]);
    let rest = registry
        .list_locations(phone.mi_id, "phone-1", Some(first[2].measured_at), 3)
        .await
        .unwrap();
    assert_eq!(rest, reported[3..], "the expired location is not listed");
}

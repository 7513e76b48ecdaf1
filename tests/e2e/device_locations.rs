//! Location reports end to end: a device reports with its device token, the owner lists the
//! history with an access token. Bad reports are refused field by field and change nothing;
//! while Find Device is off (every device here: the switch is another change) nothing is kept;
//! another account's device is NOT_FOUND. What is kept while Find Device is on, and its
//! paging, is tested against the store itself on both backends
//! (`crates/device-registry/src/storage/tests.rs`).

use crate::device_credentials::{DeviceKey, FRESH, registry};
use crate::support::{
    Backends, TestPlatform, authed, expect_refusal, field_violations, in_both_modes,
    unique_phone_number, unix_now,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::device::v1::{
    EnrollDeviceRequest, GetDeviceRequest, ListLocationsRequest, Location, LocationSource,
    ReportLocationsRequest,
};
use tonic::Code;

/// A plausible location measured `seconds_ago` seconds ago.
fn location(seconds_ago: i64) -> Location {
    let now = i64::try_from(unix_now()).unwrap();
    Location {
        latitude: 39.9042,
        longitude: 116.4074,
        accuracy_meters: 15.0,
        time: Some(prost_types::Timestamp {
            seconds: now - seconds_ago,
            nanos: 0,
        }),
        source: LocationSource::Gps.into(),
        battery_percent: Some(71),
    }
}

fn report(locations: Vec<Location>) -> ReportLocationsRequest {
    ReportLocationsRequest { locations }
}

fn list(device_id: &str, page_size: i32, page_token: &str) -> ListLocationsRequest {
    ListLocationsRequest {
        device_id: device_id.into(),
        page_size,
        page_token: page_token.into(),
    }
}

async fn reports_are_checked_and_kept_only_while_find_device_is_on(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (owner, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("phone-7")),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();

    // Bad reports: each refused with the path of its bad field, before the token is spent.
    let token = key.token(owner.mi_id, "phone-7", FRESH);
    let cases: Vec<(Vec<Location>, &[&str])> = vec![
        (Vec::new(), &["locations"]),
        (vec![location(5); 101], &["locations"]),
        (
            vec![
                location(9),
                Location {
                    latitude: 90.5,
                    ..location(8)
                },
            ],
            &["locations[1].latitude"],
        ),
        (
            vec![Location {
                longitude: f64::NAN,
                accuracy_meters: 100_001.0,
                battery_percent: Some(101),
                ..location(5)
            }],
            &[
                "locations[0].longitude",
                "locations[0].accuracy_meters",
                "locations[0].battery_percent",
            ],
        ),
        (vec![location(-600)], &["locations[0].time"]),
        (vec![location(25 * 3600)], &["locations[0].time"]),
        (
            vec![
                Location {
                    time: None,
                    ..location(5)
                },
                Location {
                    source: 42,
                    ..location(4)
                },
            ],
            &["locations[0].time", "locations[1].source"],
        ),
    ];
    for (locations, expected) in cases {
        let refused = expect_refusal(
            registry
                .report_locations(authed(report(locations), &token))
                .await,
            Code::InvalidArgument,
            Some(Reason::InvalidArgument),
            &format!("a report with bad {expected:?}"),
        );
        let fields: Vec<String> = field_violations(&refused)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, expected, "{refused:?}");
    }

    // A good report with the same token: accepted, and nothing kept while Find Device is off.
    let reported = registry
        .report_locations(authed(report(vec![location(60), location(30)]), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reported.accepted, 0);
    let device = registry
        .get_device(authed(
            GetDeviceRequest {
                device_id: "phone-7".into(),
            },
            &owner.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!device.find_device_enabled);
    assert_eq!(device.last_location, None);
    let listed = registry
        .list_locations(authed(list("phone-7", 0, ""), &owner.access_token))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.locations.is_empty(), "{listed:?}");
    assert_eq!(listed.next_page_token, "");

    // Tokens are what they were for every other device-side call.
    expect_refusal(
        registry
            .report_locations(authed(report(vec![location(1)]), &token))
            .await,
        Code::Unauthenticated,
        Some(Reason::DeviceTokenInvalid),
        "a spent device token",
    );
    expect_refusal(
        registry
            .report_locations(authed(report(vec![location(1)]), &owner.access_token))
            .await,
        Code::Unauthenticated,
        Some(Reason::DeviceTokenInvalid),
        "an access token for a device-side call",
    );
    platform.stop().await;
}

async fn the_history_is_the_owners_alone(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (owner, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (stranger, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("phone-8")),
            },
            &owner.access_token,
        ))
        .await
        .unwrap();
    expect_refusal(
        registry
            .list_locations(authed(list("phone-8", 0, ""), &stranger.access_token))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "another account's device",
    );
    expect_refusal(
        registry
            .list_locations(tonic::Request::new(list("phone-8", 0, "")))
            .await,
        Code::Unauthenticated,
        Some(Reason::MissingAccessToken),
        "no access token",
    );
    for (request, field) in [
        (list("phone-8", -1, ""), "page_size"),
        (list("phone-8", 0, "not a token"), "page_token"),
        (list(&"d".repeat(129), 0, ""), "device_id"),
    ] {
        let refused = expect_refusal(
            registry
                .list_locations(authed(request, &owner.access_token))
                .await,
            Code::InvalidArgument,
            Some(Reason::InvalidArgument),
            field,
        );
        assert_eq!(field_violations(&refused)[0].0, field);
    }
    platform.stop().await;
}

in_both_modes!(
    reports_are_checked_and_kept_only_while_find_device_is_on,
    the_history_is_the_owners_alone,
);

//! The location-report scenario: one device per client, enrolled with a key of its own (untimed)
//! on an account made before the run, Find Device turned on; then each client reports
//! `--locations-per-call` fresh locations per ReportLocations call, each call with a new device
//! token it signs. The target (issue 12): at least 5,000 reports a second on the servers with
//! p99 under 50 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{Location, LocationSource, ReportLocationsRequest};
use tonic::transport::Channel;

use crate::driver::{self, Report};
use crate::phones::Phone;

/// ReportLocations from every phone for `duration`; prints how many locations were kept.
pub(crate) async fn report_locations(
    channels: Arc<Vec<Channel>>,
    phones: Arc<Vec<Phone>>,
    locations_per_call: usize,
    duration: Duration,
) -> anyhow::Result<Report> {
    let kept = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&kept);
    let report = driver::run(phones.len(), duration, u64::MAX, move |client, _| {
        let mut registry =
            DeviceRegistryServiceClient::new(channels[client % channels.len()].clone());
        let phones = Arc::clone(&phones);
        let kept = Arc::clone(&counted);
        async move {
            let phone = &phones[client];
            let request = phone
                .request(fresh_locations(client, locations_per_call))
                .map_err(|error| error.to_string())?;
            let start = Instant::now();
            let reported = registry
                .report_locations(request)
                .await
                .map_err(|status| status.to_string())?;
            let latency = start.elapsed();
            kept.fetch_add(u64::from(reported.into_inner().accepted), Ordering::Relaxed);
            Ok(latency)
        }
    })
    .await?;
    let kept = kept.load(Ordering::Relaxed);
    #[allow(clippy::print_stdout)] // the report is this program's output
    {
        println!(
            "locations     {kept} kept ({:.0} /s)",
            kept as f64 / report.elapsed.as_secs_f64()
        );
    }
    Ok(report)
}

/// `count` locations measured now, a millisecond apart (one per time is kept), somewhere
/// around Beijing.
fn fresh_locations(client: usize, count: usize) -> ReportLocationsRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
    let offset = (client % 1000) as f64 / 10_000.0;
    ReportLocationsRequest {
        locations: (0..count)
            .map(|index| {
                let measured_ms = now_ms - i64::try_from(count - index).unwrap_or(0);
                Location {
                    latitude: 39.9 + offset,
                    longitude: 116.4 + offset,
                    accuracy_meters: 20.0,
                    time: Some(prost_types::Timestamp {
                        seconds: measured_ms.div_euclid(1000),
                        nanos: i32::try_from(measured_ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
                    }),
                    source: LocationSource::Gps.into(),
                    battery_percent: Some(80),
                }
            })
            .collect(),
    }
}

//! The location-report scenario: one device per client, enrolled with a key of its own (untimed)
//! on an account made before the run, Find Device turned on; then each client reports
//! `--locations-per-call` fresh locations per ReportLocations call, each call with a new device
//! token it signs. The target (issue 12): at least 5,000 reports a second on the servers with
//! p99 under 50 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mi_platform::auth::{DEVICE_TOKEN_AUDIENCE, DeviceClaims};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::{DeviceCapability, DeviceCredential, DeviceInfo, DeviceKeyAlgorithm};
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    EnrollDeviceRequest, Location, LocationSource, ReportLocationsRequest, SetFindDeviceRequest,
};
use tonic::transport::Channel;

use crate::driver::{self, Report};
use crate::identity::Prepared;

/// A client's device: its id, account and key.
#[derive(Debug)]
pub(crate) struct Phone {
    device_id: String,
    mi_id: u64,
    key: TokenSigner,
}

impl Phone {
    /// A device token for one call: each is accepted once.
    fn token(&self) -> anyhow::Result<String> {
        let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
        self.key.sign(&DeviceClaims {
            aud: DEVICE_TOKEN_AUDIENCE.into(),
            sub: self.device_id.clone(),
            mi_id: self.mi_id,
            iat: now,
            exp: now + 120,
            jti: uuid::Uuid::new_v4().to_string(),
        })
    }
}

fn bearer<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

/// Enrolls one device per client on the prepared accounts and turns Find Device on for each
/// (untimed). Fails if Find Device cannot be turned on: reports would then be accepted and not
/// kept, which measures nothing of the writes.
pub(crate) async fn prepare_phones(
    channel: Channel,
    accounts: &[Prepared],
    clients: usize,
) -> anyhow::Result<Arc<Vec<Phone>>> {
    let mut registry = DeviceRegistryServiceClient::new(channel);
    let mut phones = Vec::with_capacity(clients);
    for client in 0..clients {
        let account = &accounts[client % accounts.len()];
        let key = TokenSigner::from_seed(&SecretKey::generate(), None)?;
        let device_id = format!("loadgen-phone-{client}");
        let device = DeviceInfo {
            device_id: device_id.clone(),
            model: "Redmi Note 13".into(),
            os: "HyperOS 2.0".into(),
            name: format!("Load generator phone {client}"),
            hardware_id: format!("loadgen:{}", uuid::Uuid::new_v4()),
            capabilities: vec![DeviceCapability::Locate.into()],
            credential: Some(DeviceCredential {
                algorithm: DeviceKeyAlgorithm::Ed25519.into(),
                public_key: URL_SAFE_NO_PAD.decode(&key.public_key().x)?,
                push_token: String::new(),
            }),
        };
        let enrolled = registry
            .enroll_device(bearer(
                EnrollDeviceRequest {
                    device: Some(device),
                },
                &account.tokens.access_token,
            )?)
            .await
            .context("EnrollDevice")?
            .into_inner();
        let phone = Phone {
            device_id,
            mi_id: enrolled.mi_id,
            key,
        };
        registry
            .set_find_device(bearer(
                SetFindDeviceRequest {
                    enabled: true,
                    owner_access_token: String::new(),
                },
                &phone.token()?,
            )?)
            .await
            .context("SetFindDevice (turning Find Device on)")?;
        phones.push(phone);
    }
    Ok(Arc::new(phones))
}

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
            let token = phone.token().map_err(|error| error.to_string())?;
            let request = bearer(fresh_locations(client, locations_per_call), &token)
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

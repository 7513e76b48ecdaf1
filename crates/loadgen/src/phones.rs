//! Phones for the Find Device scenarios: devices enrolled with keys of their own on the accounts
//! made before a run, Find Device turned on, each able to sign the device tokens its calls need.
//! Made untimed, many at once.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::{StreamExt, TryStreamExt};
use mi_platform::auth::{DEVICE_TOKEN_AUDIENCE, DeviceClaims};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::{DeviceCapability, DeviceCredential, DeviceInfo, DeviceKeyAlgorithm};
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{EnrollDeviceRequest, SetFindDeviceRequest};
use tonic::transport::Channel;

use crate::identity::Prepared;

/// Enrollments in flight at once while phones are made.
const PREPARING_AT_ONCE: usize = 32;

/// A phone: its id, account (an index into the prepared accounts) and key.
#[derive(Debug)]
pub(crate) struct Phone {
    pub device_id: String,
    pub mi_id: u64,
    /// The prepared account it belongs to, whose access token commands it.
    pub account: usize,
    key: TokenSigner,
}

impl Phone {
    /// A device token for one call: each is accepted once.
    pub(crate) fn token(&self) -> anyhow::Result<String> {
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

    /// `message` with this phone's fresh device token.
    pub(crate) fn request<T>(&self, message: T) -> anyhow::Result<tonic::Request<T>> {
        bearer(message, &self.token()?)
    }
}

/// `message` with `Authorization: Bearer <token>`.
pub(crate) fn bearer<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

/// Enrolls `count` phones (ids `loadgen-<run>-<index>`, spread over the prepared accounts)
/// that can locate and ring, with a push token each, and turns Find Device on for each. Fails
/// if Find Device cannot be turned on: commands and locations would then be refused or not
/// kept, which measures nothing.
pub(crate) async fn prepare(
    channel: Channel,
    accounts: &Arc<Vec<Prepared>>,
    count: usize,
) -> anyhow::Result<Arc<Vec<Phone>>> {
    anyhow::ensure!(!accounts.is_empty(), "phones need an account");
    // Ids of their own per run, so that a second run against the same platform does not
    // re-enroll the first run's devices.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let phones: Vec<Phone> = futures::stream::iter(0..count)
        .map(|index| {
            let registry = DeviceRegistryServiceClient::new(channel.clone());
            let accounts = Arc::clone(accounts);
            let run = run[..8].to_owned();
            async move { enroll(registry, &accounts, index, &run).await }
        })
        .buffered(PREPARING_AT_ONCE)
        .try_collect()
        .await?;
    Ok(Arc::new(phones))
}

async fn enroll(
    mut registry: DeviceRegistryServiceClient<Channel>,
    accounts: &[Prepared],
    index: usize,
    run: &str,
) -> anyhow::Result<Phone> {
    let account = index % accounts.len();
    let key = TokenSigner::from_seed(&SecretKey::generate(), None)?;
    let device_id = format!("loadgen-{run}-{index}");
    let push_token = format!("loadgen-push-{run}-{index}");
    let device = DeviceInfo {
        device_id: device_id.clone(),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: format!("Load generator phone {index}"),
        hardware_id: format!("loadgen:{}", uuid::Uuid::new_v4()),
        capabilities: vec![
            DeviceCapability::Locate.into(),
            DeviceCapability::Ring.into(),
        ],
        credential: Some(DeviceCredential {
            algorithm: DeviceKeyAlgorithm::Ed25519.into(),
            public_key: URL_SAFE_NO_PAD.decode(&key.public_key().x)?,
            push_token,
        }),
    };
    let enrolled = registry
        .enroll_device(bearer(
            EnrollDeviceRequest {
                device: Some(device),
            },
            &accounts[account].tokens.access_token,
        )?)
        .await
        .context("EnrollDevice")?
        .into_inner();
    let phone = Phone {
        device_id,
        mi_id: enrolled.mi_id,
        account,
        key,
    };
    registry
        .set_find_device(phone.request(SetFindDeviceRequest {
            enabled: true,
            owner_access_token: String::new(),
        })?)
        .await
        .context("SetFindDevice (turning Find Device on)")?;
    Ok(phone)
}

//! The agent: one phone, its state file and the services it talks to. Every command of the
//! binary is one method here, so tests drive the same code in-process.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use mi_contracts::UnixMillis;
use mi_proto::common::v1::{DeviceCapability, DeviceInfo};
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    Device, EnrollDeviceRequest, NetworkType, ReportDeviceStatusRequest,
    ReportDeviceStatusResponse, ReportLocationsRequest, SetFindDeviceRequest,
};
use mi_proto::identity::v1::SecondFactorChallenge;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::UnboundedSender;

use crate::did::Did;
use crate::key::DeviceKey;
use crate::link::{DeviceAuth, DeviceClient, device_client, lazy_channel};
use crate::phone::wire_location;
use crate::run::{RunEnd, RunOptions};
use crate::session::{self, IdentityClient};
use crate::state::{AgentState, DeviceProfile, Position, StateFile};

/// Where identity and the device registry listen, as URLs (`http://127.0.0.1:50051`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `mi.identity.v1.IdentityService`.
    pub identity: String,
    /// `mi.device.v1.DeviceRegistryService`.
    pub registry: String,
}

/// How the phone describes itself at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDescription {
    /// E.g. "Redmi Note 13".
    pub model: String,
    /// E.g. "HyperOS 2.0".
    pub os: String,
    /// The name its owner gives it.
    pub name: String,
    /// The serial number; only its hash leaves the agent, as the hardware id. None: no
    /// hardware id.
    pub serial: Option<String>,
    /// The push provider's token; empty when none.
    pub push_token: String,
}

/// A simulated walk: from one point to another in equal steps, one location report per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walk {
    /// Where it starts (not reported: the first report is one step along).
    pub from: Position,
    /// Where it ends; its accuracy is used for every step.
    pub to: Position,
    /// How many reports.
    pub steps: u32,
    /// The wait between two reports.
    pub every: Duration,
}

impl Walk {
    /// Where the walk is after `step` of its steps.
    pub fn at(&self, step: u32) -> Position {
        let fraction = f64::from(step) / f64::from(self.steps.max(1));
        Position {
            latitude: self.from.latitude + (self.to.latitude - self.from.latitude) * fraction,
            longitude: self.from.longitude + (self.to.longitude - self.from.longitude) * fraction,
            accuracy_meters: self.to.accuracy_meters,
        }
    }
}

/// One phone.
#[derive(Debug)]
pub struct Agent {
    file: StateFile,
    endpoints: Endpoints,
}

impl Agent {
    /// The phone whose state is (or will be, after [`Self::sign_in`]) at `state_path`.
    pub fn new(state_path: impl Into<PathBuf>, endpoints: Endpoints) -> Self {
        Self {
            file: StateFile::new(state_path),
            endpoints,
        }
    }

    /// Its state file.
    pub fn state_file(&self) -> &StateFile {
        &self.file
    }

    /// Signs in to identity with a device key: a new key and device id at the first sign-in,
    /// the same ones again on a state that has them (as an installed app does). Identity links
    /// the device and the registry enrolls its key. `second_factor` answers a challenge.
    pub async fn sign_in<F, Fut>(
        &self,
        identifier: &str,
        password: &SecretString,
        phone: &PhoneDescription,
        second_factor: F,
    ) -> anyhow::Result<AgentState>
    where
        F: FnOnce(SecondFactorChallenge) -> Fut,
        Fut: Future<Output = anyhow::Result<String>>,
    {
        let earlier = self.file.load_if_present()?;
        let (key, device_id) = match &earlier {
            Some(state) => (
                DeviceKey::from_base64(&state.device_key)?,
                state.device.device_id.clone(),
            ),
            None => (DeviceKey::generate(), uuid::Uuid::new_v4().to_string()),
        };
        let profile = DeviceProfile {
            device_id,
            model: phone.model.clone(),
            os: phone.os.clone(),
            name: phone.name.clone(),
            hardware_id: phone.serial.as_deref().map(hardware_id).unwrap_or_default(),
            push_token: phone.push_token.clone(),
        };
        let tokens = session::sign_in(
            &mut self.identity()?,
            identifier,
            password,
            device_info(&profile, &key),
            second_factor,
        )
        .await?;
        let state = AgentState {
            mi_id: tokens.mi_id,
            session_id: tokens.session_id,
            refresh_token: tokens.refresh_token,
            device: profile,
            device_key: key.to_base64(),
            acknowledged: earlier
                .as_ref()
                .map(|state| state.acknowledged.clone())
                .unwrap_or_default(),
            position: earlier.as_ref().and_then(|state| state.position),
            sync_settings: earlier.and_then(|state| state.sync_settings),
        };
        self.file.save(&state)?;
        Ok(state)
    }

    /// Enrolls the device key with EnrollDevice (for a state signed in already, e.g. after a
    /// lost enrollment); proves `password` first, as the registry asks a recent one.
    pub async fn enroll(&self, password: &SecretString) -> anyhow::Result<Device> {
        let mut state = self.file.load()?;
        let access_token = self.recent_access_token(&mut state, password).await?;
        let key = DeviceKey::from_base64(&state.device_key)?;
        let request = EnrollDeviceRequest {
            device: Some(device_info(&state.device, &key)),
        };
        let mut registry =
            DeviceRegistryServiceClient::new(lazy_channel(&self.endpoints.registry)?);
        Ok(registry
            .enroll_device(session::bearer(request, &access_token)?)
            .await
            .context("the registry refused the enrollment")?
            .into_inner())
    }

    /// Tells the registry the device is alive, with its battery and network.
    pub async fn report_status(
        &self,
        battery_percent: Option<u32>,
        network: NetworkType,
    ) -> anyhow::Result<ReportDeviceStatusResponse> {
        let request = ReportDeviceStatusRequest {
            battery_percent,
            network_type: network.into(),
        };
        Ok(self
            .device_client()?
            .report_device_status(request)
            .await
            .context("the registry refused the status report")?
            .into_inner())
    }

    /// Turns Find Device on, or off with the owner's password proven in the same call.
    pub async fn set_find_device(
        &self,
        enabled: bool,
        password: Option<&SecretString>,
    ) -> anyhow::Result<Device> {
        let owner_access_token = if enabled {
            String::new()
        } else {
            let password = password.context("turning Find Device off needs the password")?;
            let mut state = self.file.load()?;
            self.recent_access_token(&mut state, password).await?
        };
        let request = SetFindDeviceRequest {
            enabled,
            owner_access_token,
        };
        Ok(self
            .device_client()?
            .set_find_device(request)
            .await
            .context("the registry refused to switch Find Device")?
            .into_inner())
    }

    /// Moves the phone to `position` (what a Locate answers from now on), then reports it.
    /// Returns how many locations the registry kept.
    pub async fn report_location(&self, position: Position) -> anyhow::Result<u32> {
        let mut state = self.file.load()?;
        state.position = Some(position);
        self.file.save(&state)?;
        let request = ReportLocationsRequest {
            locations: vec![wire_location(position, UnixMillis::now())],
        };
        Ok(self
            .device_client()?
            .report_locations(request)
            .await
            .context("the registry refused the location")?
            .into_inner()
            .accepted)
    }

    /// Walks: reports each step of `walk`, waiting `walk.every` between two, and tells
    /// `on_step` where it is after each report.
    pub async fn walk(&self, walk: Walk, mut on_step: impl FnMut(Position)) -> anyhow::Result<()> {
        for step in 1..=walk.steps {
            if step > 1 {
                tokio::time::sleep(walk.every).await;
            }
            let position = walk.at(step);
            self.report_location(position).await?;
            on_step(position);
        }
        Ok(())
    }

    /// Keeps the command channel open and obeys commands until `stop` completes or the phone
    /// is erased; tells `did` what it does.
    pub async fn run_until(
        &self,
        options: &RunOptions,
        stop: impl Future<Output = ()>,
        did: UnboundedSender<Did>,
    ) -> anyhow::Result<RunEnd> {
        let mut link = self.device_client()?;
        crate::run::run_until(&mut link, &self.file, options, stop, did).await
    }

    fn identity(&self) -> anyhow::Result<IdentityClient> {
        Ok(IdentityClient::new(lazy_channel(&self.endpoints.identity)?))
    }

    /// The registry, called as this device.
    fn device_client(&self) -> anyhow::Result<DeviceClient> {
        let state = self.file.load()?;
        let key = DeviceKey::from_base64(&state.device_key)?;
        let auth = DeviceAuth::new(key, state.mi_id, &state.device.device_id);
        Ok(device_client(lazy_channel(&self.endpoints.registry)?, auth))
    }

    /// An access token whose session proved `password` just now: refresh (identity's
    /// Reauthenticate needs an access token), reauthenticate, refresh again for a token that
    /// says so. Each new refresh token is saved at once: the old one no longer works.
    async fn recent_access_token(
        &self,
        state: &mut AgentState,
        password: &SecretString,
    ) -> anyhow::Result<String> {
        let mut identity = self.identity()?;
        let tokens = session::refresh(&mut identity, &state.refresh_token).await?;
        state.refresh_token = tokens.refresh_token;
        self.file.save(state)?;
        session::reauthenticate(&mut identity, &tokens.access_token, password).await?;
        let tokens = session::refresh(&mut identity, &state.refresh_token).await?;
        state.refresh_token = tokens.refresh_token;
        self.file.save(state)?;
        Ok(tokens.access_token)
    }
}

/// The device as identity and the registry take it: with its key and every capability.
fn device_info(profile: &DeviceProfile, key: &DeviceKey) -> DeviceInfo {
    DeviceInfo {
        device_id: profile.device_id.clone(),
        model: profile.model.clone(),
        os: profile.os.clone(),
        name: profile.name.clone(),
        hardware_id: profile.hardware_id.clone(),
        capabilities: [
            DeviceCapability::Locate,
            DeviceCapability::Ring,
            DeviceCapability::Lock,
            DeviceCapability::Erase,
        ]
        .map(i32::from)
        .to_vec(),
        credential: Some(key.credential(&profile.push_token)),
    }
}

/// The hardware id of a serial number: its SHA-256, never the serial itself.
fn hardware_id(serial: &str) -> String {
    let digest: String = Sha256::digest(serial.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_goes_in_equal_steps_and_ends_where_it_should() {
        let walk = Walk {
            from: Position {
                latitude: 10.0,
                longitude: 20.0,
                accuracy_meters: 50.0,
            },
            to: Position {
                latitude: 11.0,
                longitude: 22.0,
                accuracy_meters: 8.0,
            },
            steps: 4,
            every: Duration::from_secs(1),
        };
        let halfway = walk.at(2);
        assert!((halfway.latitude - 10.5).abs() < 1e-9, "{halfway:?}");
        assert!((halfway.longitude - 21.0).abs() < 1e-9, "{halfway:?}");
        assert_eq!(walk.at(4), walk.to);
    }

    #[test]
    fn the_hardware_id_hashes_the_serial() {
        let id = hardware_id("SN-123");
        assert!(id.starts_with("sha256:") && id.len() == 7 + 64, "{id}");
        assert!(!id.contains("SN-123"));
        assert_eq!(id, hardware_id("SN-123"), "stable across reinstalls");
    }

    #[test]
    fn the_device_offers_every_find_device_capability_with_its_key() {
        let key = DeviceKey::generate();
        let profile = DeviceProfile {
            device_id: "d".into(),
            model: "m".into(),
            os: "o".into(),
            name: "n".into(),
            hardware_id: String::new(),
            push_token: "fcm-1".into(),
        };
        let info = device_info(&profile, &key);
        assert_eq!(info.capabilities, [1, 2, 3, 4]);
        let credential = info.credential.unwrap();
        assert_eq!(credential.public_key, key.public_key());
        assert_eq!(credential.push_token, "fcm-1");
    }
}

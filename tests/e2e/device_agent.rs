//! The reference device agent (as a library, the code its binary runs) against the running
//! services: it signs in with a key it made, the registry enrolls that key, and the agent's
//! device tokens are accepted for its own device; its state survives a restart; EnrollDevice
//! after proving the password; a second factor answered; a key that is not the enrolled one
//! refused. The command channel flows are added once the registry side of Find Device lands.

use std::os::unix::fs::PermissionsExt;

use mi_contracts::Reason;
use mi_device_agent::{Agent, AgentState, DeviceKey, Endpoints, PhoneDescription, StateFile};
use mi_proto::common::v1::{Channel as CodeChannel, DeviceCapability};
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{Device, GetDeviceRequest, NetworkType};
use mi_proto::identity::v1::SecondFactorMethod;
use secrecy::SecretString;
use tonic::Code;

use crate::device_linking::{device_id, wait_for_devices};
use crate::support::{Backends, TestPlatform, authed, in_both_modes, reason, unique_phone_number};

pub(crate) fn endpoints(platform: &TestPlatform) -> Endpoints {
    Endpoints {
        identity: format!("http://{}", platform.addresses.identity),
        registry: format!("http://{}", platform.addresses.device),
    }
}

pub(crate) fn phone() -> PhoneDescription {
    PhoneDescription {
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: "Agent phone".into(),
        serial: Some("SN-AGENT-1".into()),
        push_token: "fcm-agent-1".into(),
    }
}

/// Waits until the registry lists the agent's device as enrolled (identity's SignedIn carries
/// the key to it through the bus), and returns it.
pub(crate) async fn enrolled_device(
    platform: &TestPlatform,
    state: &AgentState,
    access_token: &str,
) -> Device {
    let listed = wait_for_devices(platform, (state.mi_id, access_token), |listed| {
        listed
            .iter()
            .any(|device| device_id(device) == state.device.device_id && device.enrolled)
    })
    .await;
    listed
        .into_iter()
        .find(|device| device_id(device) == state.device.device_id)
        .unwrap()
}

async fn get_device(platform: &TestPlatform, access_token: &str, device_id: &str) -> Device {
    let channel = crate::support::channel(platform.addresses.device).await;
    let request = GetDeviceRequest {
        device_id: device_id.to_owned(),
    };
    DeviceRegistryServiceClient::new(channel)
        .get_device(authed(request, access_token))
        .await
        .unwrap()
        .into_inner()
}

/// The agent signs in to `mi_id`'s account with `password` on its phone ([`phone`]); an account
/// without a second factor, so a challenge fails the test.
pub(crate) async fn sign_in_as(
    agent: &Agent,
    mi_id: u64,
    password: &SecretString,
) -> anyhow::Result<AgentState> {
    agent
        .sign_in(
            &mi_id.to_string(),
            password,
            &phone(),
            |challenge| async move { panic!("no second factor was expected: {challenge:?}") },
        )
        .await
}

/// The status of a refusal the agent passed on.
fn status_of(error: &anyhow::Error) -> &tonic::Status {
    error
        .downcast_ref::<tonic::Status>()
        .unwrap_or_else(|| panic!("not a refusal by a service: {error:?}"))
}

async fn the_agent_signs_in_with_its_own_key_and_acts_as_its_device(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (owner, password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let password = SecretString::from(password);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("phone.json");
    let agent = Agent::new(&path, endpoints(&platform));

    let state = sign_in_as(&agent, owner.mi_id, &password).await.unwrap();
    assert_eq!(state.mi_id, owner.mi_id);
    uuid::Uuid::parse_str(&state.device.device_id).expect("a per-install UUID");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the state file is the owner's alone: {mode:o}"
    );
    assert_eq!(StateFile::new(&path).load().unwrap(), state);

    let device = enrolled_device(&platform, &state, &owner.access_token).await;
    let info = device.info.unwrap();
    assert_eq!(
        (info.model.as_str(), info.os.as_str(), info.name.as_str()),
        ("Redmi Note 13", "HyperOS 2.0", "Agent phone")
    );
    assert!(info.hardware_id.starts_with("sha256:"), "{info:?}");
    assert!(
        !info.hardware_id.contains("SN-AGENT-1"),
        "only a hash of the serial"
    );
    assert_eq!(
        info.capabilities,
        [
            DeviceCapability::Locate,
            DeviceCapability::Ring,
            DeviceCapability::Lock,
            DeviceCapability::Erase
        ]
        .map(i32::from)
    );

    // The registry accepts the agent's device tokens for its own device.
    let reported = agent
        .report_status(Some(64), NetworkType::Cellular)
        .await
        .unwrap();
    let seen = get_device(&platform, &owner.access_token, &state.device.device_id).await;
    assert_eq!(seen.last_seen_time, reported.last_seen_time);
    assert_eq!(seen.battery_percent, Some(64));
    assert_eq!(seen.network_type(), NetworkType::Cellular);

    // Restarted, the agent signs with the key kept in its state file.
    let restarted = Agent::new(&path, endpoints(&platform));
    restarted
        .report_status(Some(63), NetworkType::Wifi)
        .await
        .unwrap();
    let seen = get_device(&platform, &owner.access_token, &state.device.device_id).await;
    assert_eq!(seen.battery_percent, Some(63));

    // EnrollDevice for a signed-in state needs the password proven again: a wrong one is
    // refused by identity and nothing is enrolled.
    let wrong = agent
        .enroll(&SecretString::from("not the password".to_owned()))
        .await
        .unwrap_err();
    let status = status_of(&wrong);
    assert_eq!(status.code(), Code::InvalidArgument, "{wrong:?}");
    assert_eq!(reason(status), Some(Reason::WrongPassword));
    // With the right one it enrolls. Each refresh on the way spent the refresh token it
    // presented, so this works only if the agent kept every new one.
    let enrolled = agent.enroll(&password).await.unwrap();
    assert!(enrolled.enrolled);
    assert_eq!(device_id(&enrolled), state.device.device_id);
    let after_enroll = StateFile::new(&path).load().unwrap();
    assert_ne!(after_enroll.refresh_token, state.refresh_token);

    // Signing in again on the same state keeps the install's device id and key.
    let again = sign_in_as(&agent, owner.mi_id, &password).await.unwrap();
    assert_eq!(again.device.device_id, state.device.device_id);
    assert_eq!(again.device_key, state.device_key);
    assert_ne!(again.session_id, state.session_id);
    agent.report_status(None, NetworkType::Wifi).await.unwrap();
    platform.stop().await;
}

async fn a_key_that_is_not_the_enrolled_one_is_refused(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (owner, password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("phone.json");
    let agent = Agent::new(&path, endpoints(&platform));
    let state = sign_in_as(&agent, owner.mi_id, &SecretString::from(password))
        .await
        .unwrap();
    enrolled_device(&platform, &state, &owner.access_token).await;

    // A copy of the state with another key: the same device id and account, forged.
    let forged_path = directory.path().join("forged.json");
    StateFile::new(&forged_path)
        .save(&AgentState {
            device_key: DeviceKey::generate().to_base64(),
            ..state.clone()
        })
        .unwrap();
    let forger = Agent::new(&forged_path, endpoints(&platform));
    let refused = forger
        .report_status(Some(1), NetworkType::Wifi)
        .await
        .unwrap_err();
    let status = status_of(&refused);
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(reason(status), Some(Reason::DeviceTokenInvalid));
    let seen = get_device(&platform, &owner.access_token, &state.device.device_id).await;
    assert_eq!(seen.battery_percent, None, "the refusal changed nothing");
    platform.stop().await;
}

async fn the_agent_answers_a_second_factor_challenge(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (owner, password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let totp = platform.enable_totp(&owner.access_token).await;
    let directory = tempfile::tempdir().unwrap();
    let agent = Agent::new(directory.path().join("phone.json"), endpoints(&platform));
    let state = agent
        .sign_in(
            &owner.mi_id.to_string(),
            &SecretString::from(password),
            &phone(),
            |challenge| async move {
                assert!(
                    challenge
                        .methods()
                        .any(|method| method == SecondFactorMethod::Totp),
                    "{challenge:?}"
                );
                Ok(totp.fresh_code().1)
            },
        )
        .await
        .unwrap();
    assert_eq!(state.mi_id, owner.mi_id);
    enrolled_device(&platform, &state, &owner.access_token).await;
    agent
        .report_status(Some(90), NetworkType::Wifi)
        .await
        .unwrap();
    platform.stop().await;
}

in_both_modes!(
    the_agent_signs_in_with_its_own_key_and_acts_as_its_device,
    a_key_that_is_not_the_enrolled_one_is_refused,
    the_agent_answers_a_second_factor_challenge,
);

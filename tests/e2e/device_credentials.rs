//! Device credentials end to end: a device enrolls a key it made (at sign-in or with
//! EnrollDevice), signs short-lived device tokens with it for its own calls, and nothing else
//! passes for it; the owner reads and removes devices with an access token, and removing one
//! ends its sessions.

use std::time::Duration;

use crate::device_linking::wait_for_devices;
use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestPlatform, access_claims_for, authed, expect_refusal,
    field_violations, in_both_modes, test_device, unique_phone_number, unix_now,
};
use mi_contracts::Reason;
use mi_platform::auth::{DEVICE_TOKEN_AUDIENCE, DeviceClaims};
use mi_platform::crypto::SecretKey;
use mi_platform::tokens::TokenSigner;
use mi_proto::common::v1::{
    Channel as CodeChannel, DeviceCapability, DeviceCredential, DeviceInfo, DeviceKeyAlgorithm,
};
use mi_proto::device::v1::device_registry_service_client::DeviceRegistryServiceClient;
use mi_proto::device::v1::{
    EnrollDeviceRequest, GetDeviceRequest, NetworkType, RemoveDeviceRequest,
    ReportDeviceStatusRequest,
};
use tonic::Code;
use tonic::transport::Channel;

/// A key a device made; its private half never leaves the test.
pub(crate) struct DeviceKey(TokenSigner);

impl DeviceKey {
    pub(crate) fn new() -> Self {
        Self(TokenSigner::from_seed(&SecretKey::generate(), None).unwrap())
    }

    fn public_key(&self) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0.public_key().x)
            .unwrap()
    }

    /// Device `device_id` of `mi_id` with this key and every capability.
    pub(crate) fn device(&self, device_id: &str) -> DeviceInfo {
        DeviceInfo {
            hardware_id: format!("sha256:{device_id}"),
            capabilities: vec![
                DeviceCapability::Locate.into(),
                DeviceCapability::Ring.into(),
            ],
            credential: Some(DeviceCredential {
                algorithm: DeviceKeyAlgorithm::Ed25519.into(),
                public_key: self.public_key(),
                push_token: "fcm-token-1".into(),
            }),
            ..test_device(device_id)
        }
    }

    /// A device token issued `age_secs` ago that lives `lifetime_secs`.
    pub(crate) fn token(
        &self,
        mi_id: u64,
        device_id: &str,
        (age_secs, lifetime_secs): (i64, i64),
    ) -> String {
        let iat = i64::try_from(unix_now()).unwrap() - age_secs;
        self.0
            .sign(&DeviceClaims {
                aud: DEVICE_TOKEN_AUDIENCE.into(),
                sub: device_id.into(),
                mi_id,
                iat,
                exp: iat + lifetime_secs,
                jti: uuid::Uuid::new_v4().to_string(),
            })
            .unwrap()
    }
}

pub(crate) const FRESH: (i64, i64) = (0, 120);

pub(crate) async fn registry(platform: &TestPlatform) -> DeviceRegistryServiceClient<Channel> {
    DeviceRegistryServiceClient::new(crate::support::channel(platform.addresses.device).await)
}

pub(crate) fn status_report() -> ReportDeviceStatusRequest {
    ReportDeviceStatusRequest {
        battery_percent: Some(57),
        network_type: NetworkType::Wifi.into(),
    }
}

async fn a_device_acts_only_with_tokens_its_own_key_signed(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (bob, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let (phone_key, tablet_key, bob_key) = (DeviceKey::new(), DeviceKey::new(), DeviceKey::new());
    for (owner, device_id, key) in [
        (&alice, "alice-phone", &phone_key),
        (&alice, "alice-tablet", &tablet_key),
        (&bob, "bob-phone", &bob_key),
    ] {
        let request = EnrollDeviceRequest {
            device: Some(key.device(device_id)),
        };
        let enrolled = registry
            .enroll_device(authed(request, &owner.access_token))
            .await
            .unwrap()
            .into_inner();
        assert!(enrolled.enrolled);
        let info = enrolled.info.unwrap();
        assert_eq!(info.credential, None, "the key is never shown");
        assert_eq!(info.capabilities.len(), 2);
    }

    let token = phone_key.token(alice.mi_id, "alice-phone", FRESH);
    let reported = registry
        .report_device_status(authed(status_report(), &token))
        .await
        .unwrap()
        .into_inner();
    assert!(reported.last_seen_time.is_some());
    let seen = registry
        .get_device(authed(
            GetDeviceRequest {
                device_id: "alice-phone".into(),
            },
            &alice.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.last_seen_time, reported.last_seen_time);
    assert_eq!(seen.battery_percent, Some(57));
    assert_eq!(seen.network_type(), NetworkType::Wifi);

    // A forged signature: the payload of another claim under the real signature.
    let other = phone_key.token(alice.mi_id, "alice-phone", FRESH);
    let (header, rest) = other.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let (_, real_payload_and_signature) = token.split_once('.').unwrap();
    let (real_payload, _) = real_payload_and_signature.split_once('.').unwrap();
    let forged = format!("{header}.{real_payload}x.{signature}");
    let refused = [
        ("a replayed token", token),
        ("a forged signature", forged),
        (
            "another device's key",
            tablet_key.token(alice.mi_id, "alice-phone", FRESH),
        ),
        (
            "expired",
            phone_key.token(alice.mi_id, "alice-phone", (600, 60)),
        ),
        (
            "living longer than five minutes",
            phone_key.token(alice.mi_id, "alice-phone", (0, 3600)),
        ),
        (
            "another account's device, signed with the caller's key",
            phone_key.token(bob.mi_id, "bob-phone", FRESH),
        ),
        (
            "another account's device id under the caller's account",
            bob_key.token(alice.mi_id, "bob-phone", FRESH),
        ),
        ("an access token", alice.access_token.clone()),
    ];
    for (what, token) in refused {
        expect_refusal(
            registry
                .report_device_status(authed(status_report(), &token))
                .await,
            Code::Unauthenticated,
            Some(Reason::DeviceTokenInvalid),
            what,
        );
    }
    expect_refusal(
        registry
            .report_device_status(tonic::Request::new(status_report()))
            .await,
        Code::Unauthenticated,
        Some(Reason::MissingAccessToken),
        "no token",
    );

    // The owner sees only its own devices: another account's id is NOT_FOUND.
    expect_refusal(
        registry
            .get_device(authed(
                GetDeviceRequest {
                    device_id: "bob-phone".into(),
                },
                &alice.access_token,
            ))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "another account's device",
    );
    platform.stop().await;
}

async fn bad_device_input_is_refused_field_by_field(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    let with_key = |public_key: Vec<u8>| {
        let mut device = key.device("phone-9");
        device.credential.as_mut().unwrap().public_key = public_key;
        device
    };
    let cases = [
        (
            "device.name",
            DeviceInfo {
                name: "n".repeat(129),
                ..key.device("phone-9")
            },
        ),
        (
            "device.credential.push_token",
            DeviceInfo {
                credential: Some(DeviceCredential {
                    push_token: "p".repeat(513),
                    ..key.device("x").credential.unwrap()
                }),
                ..key.device("phone-9")
            },
        ),
        ("device.credential.public_key", with_key(vec![1; 31])),
        (
            "device.credential.public_key",
            with_key([2].into_iter().chain([0; 31]).collect()),
        ),
        (
            "device.credential",
            DeviceInfo {
                credential: None,
                ..key.device("phone-9")
            },
        ),
        (
            "device.capabilities",
            DeviceInfo {
                capabilities: vec![99],
                ..key.device("phone-9")
            },
        ),
    ];
    for (field, device) in cases {
        let refused = expect_refusal(
            registry
                .enroll_device(authed(
                    EnrollDeviceRequest {
                        device: Some(device),
                    },
                    &alice.access_token,
                ))
                .await,
            Code::InvalidArgument,
            Some(Reason::InvalidArgument),
            field,
        );
        let fields: Vec<String> = field_violations(&refused)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(fields, [field], "{refused:?}");
    }
    // A sign-in with a key of the wrong length is refused by identity the same way.
    let refused = expect_refusal(
        platform
            .sign_in(&alice.mi_id.to_string(), &password, with_key(vec![1; 16]))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "SignIn with a short key",
    );
    assert_eq!(
        field_violations(&refused)[0].0,
        "device.credential.public_key"
    );
    expect_refusal(
        registry
            .report_device_status(tonic::Request::new(ReportDeviceStatusRequest {
                battery_percent: Some(101),
                network_type: 0,
            }))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "a battery over 100 %",
    );
    let listed = crate::device_linking::devices(&platform, &alice.access_token).await;
    assert!(
        listed.iter().all(|device| !device.enrolled),
        "refusals change nothing: {listed:?}"
    );
    platform.stop().await;
}

async fn removing_a_device_needs_recent_authentication_and_ends_its_sessions(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (owner, password) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = DeviceKey::new();
    // The tablet signs in with its key: linked and enrolled from identity's SignedIn.
    let tablet = platform
        .sign_in_for_tokens(&owner.mi_id.to_string(), &password, key.device("tablet-7"))
        .await;
    let linked = wait_for_devices(&platform, (owner.mi_id, &owner.access_token), |listed| {
        listed.iter().any(|device| device.enrolled)
    })
    .await;
    assert_eq!(linked.len(), 2, "{linked:?}");
    let token = key.token(owner.mi_id, "tablet-7", FRESH);
    registry
        .report_device_status(authed(status_report(), &token))
        .await
        .unwrap();

    let remove = |access_token: &str, device_id: &str| {
        authed(
            RemoveDeviceRequest {
                device_id: device_id.into(),
            },
            access_token,
        )
    };
    // An access token whose password proof is an hour old.
    let claims = platform.access_claims(&owner.access_token).await;
    let stale = platform
        .config
        .sign_access_token(&mi_platform::auth::AccessClaims {
            auth_time: claims.auth_time - 3600,
            ..access_claims_for(owner.mi_id, &claims.sid)
        });
    expect_refusal(
        registry.remove_device(remove(&stale, "tablet-7")).await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        "RemoveDevice without a recent authentication",
    );
    let (stranger, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    expect_refusal(
        registry
            .remove_device(remove(&stranger.access_token, "tablet-7"))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "RemoveDevice of another account's device",
    );
    platform.refresh(&tablet.refresh_token).await.unwrap();

    registry
        .remove_device(remove(&owner.access_token, "tablet-7"))
        .await
        .unwrap();
    expect_refusal(
        registry
            .get_device(authed(
                GetDeviceRequest {
                    device_id: "tablet-7".into(),
                },
                &owner.access_token,
            ))
            .await,
        Code::NotFound,
        Some(Reason::NotFound),
        "a removed device",
    );
    expect_refusal(
        registry
            .report_device_status(authed(
                status_report(),
                &key.token(owner.mi_id, "tablet-7", FRESH),
            ))
            .await,
        Code::Unauthenticated,
        Some(Reason::DeviceTokenInvalid),
        "the removed device's key",
    );
    // Identity consumes DeviceRemoved and ends the tablet's session; the owner's stays.
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    let mut refresh_token = tablet.refresh_token.clone();
    loop {
        match platform.refresh(&refresh_token).await {
            Ok(tokens) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the removed device's session still refreshes"
                );
                refresh_token = tokens.refresh_token;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
                break;
            }
        }
    }
    platform.account(&owner.access_token).await.unwrap();
    platform.stop().await;
}

in_both_modes!(
    a_device_acts_only_with_tokens_its_own_key_signed,
    bad_device_input_is_refused_field_by_field,
    removing_a_device_needs_recent_authentication_and_ends_its_sessions,
);

//! P-256 device keys end to end: a device whose keystore holds a P-256 key enrolls it and
//! signs its calls with ES256 device tokens; a token of another key, or of the other
//! algorithm, is refused, and so is a point off the curve.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64_URL;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

use crate::device_credentials::{DeviceKey, FRESH, registry, status_report};
use crate::support::{
    Backends, TestPlatform, authed, expect_refusal, field_violations, in_both_modes,
    unique_phone_number, unix_now,
};
use mi_contracts::Reason;
use mi_platform::auth::{DEVICE_TOKEN_AUDIENCE, DEVICE_TOKEN_TYPE, DeviceClaims};
use mi_platform::crypto::SecretKey;
use mi_proto::common::v1::{
    Channel as CodeChannel, DeviceCredential, DeviceInfo, DeviceKeyAlgorithm,
};
use mi_proto::device::v1::EnrollDeviceRequest;
use tonic::Code;

/// A P-256 key a device made.
struct P256Key(SigningKey);

impl P256Key {
    fn new() -> Self {
        // 32 random bytes are a valid scalar but with negligible likelihood.
        Self(SigningKey::from_slice(SecretKey::generate().as_bytes()).unwrap())
    }

    /// The 65-byte uncompressed SEC1 point.
    fn public_key(&self) -> Vec<u8> {
        self.0
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    fn device(&self, device_id: &str, public_key: Vec<u8>) -> DeviceInfo {
        DeviceInfo {
            credential: Some(DeviceCredential {
                algorithm: DeviceKeyAlgorithm::P256.into(),
                public_key,
                push_token: String::new(),
            }),
            ..crate::support::test_device(device_id)
        }
    }

    /// A live ES256 device token (RFC 7515 with the raw r || s signature of RFC 7518 §3.4).
    fn token(&self, mi_id: u64, device_id: &str) -> String {
        let iat = i64::try_from(unix_now()).unwrap();
        let header = serde_json::json!({ "alg": "ES256", "typ": DEVICE_TOKEN_TYPE });
        let claims = DeviceClaims {
            aud: DEVICE_TOKEN_AUDIENCE.into(),
            sub: device_id.into(),
            mi_id,
            iat,
            exp: iat + 60,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let signed = format!(
            "{}.{}",
            BASE64_URL.encode(serde_json::to_vec(&header).unwrap()),
            BASE64_URL.encode(serde_json::to_vec(&claims).unwrap())
        );
        let signature: Signature = self.0.sign(signed.as_bytes());
        format!("{signed}.{}", BASE64_URL.encode(signature.to_bytes()))
    }
}

async fn a_p256_device_enrolls_and_signs_its_calls_with_es256(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let mut registry = registry(&platform).await;
    let (alice, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let key = P256Key::new();
    let mut off_curve = key.public_key();
    off_curve[64] ^= 1;
    let refused = expect_refusal(
        registry
            .enroll_device(authed(
                EnrollDeviceRequest {
                    device: Some(key.device("p256-phone", off_curve)),
                },
                &alice.access_token,
            ))
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "a point off the curve",
    );
    assert_eq!(
        field_violations(&refused)[0].0,
        "device.credential.public_key"
    );

    let enrolled = registry
        .enroll_device(authed(
            EnrollDeviceRequest {
                device: Some(key.device("p256-phone", key.public_key())),
            },
            &alice.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(enrolled.enrolled);
    let reported = registry
        .report_device_status(authed(
            status_report(),
            &key.token(alice.mi_id, "p256-phone"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(reported.last_seen_time.is_some());

    let refusals = [
        (
            "another P-256 key",
            P256Key::new().token(alice.mi_id, "p256-phone"),
        ),
        (
            "an EdDSA token for the P-256 device",
            DeviceKey::new().token(alice.mi_id, "p256-phone", FRESH),
        ),
    ];
    for (what, token) in refusals {
        expect_refusal(
            registry
                .report_device_status(authed(status_report(), &token))
                .await,
            Code::Unauthenticated,
            Some(Reason::DeviceTokenInvalid),
            what,
        );
    }
    platform.stop().await;
}

in_both_modes!(a_p256_device_enrolls_and_signs_its_calls_with_es256);

//! The device description identity and the device registry share (`mi.common.v1.DeviceInfo`),
//! with its one parser.

use serde::{Deserialize, Serialize};

use crate::text;

/// A Find Device action a device supports, stored by its snake_case name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeviceCapability {
    /// Reports where it is.
    Locate,
    /// Plays a sound.
    Ring,
    /// Locks its screen with a message.
    Lock,
    /// Erases itself.
    Erase,
}

/// The signature algorithm of a device key.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DeviceKeyAlgorithm {
    /// EdDSA over Curve25519, 32-byte public keys.
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256 (JWS `ES256`), 65-byte uncompressed SEC1 points:
    /// what phones' hardware keystores (Android StrongBox, the Secure Enclave) can hold.
    P256,
}

impl DeviceKeyAlgorithm {
    /// The length of a public key of this algorithm, in bytes.
    pub fn public_key_len(self) -> usize {
        match self {
            Self::Ed25519 => 32,
            Self::P256 => 65,
        }
    }
}

/// How a device proves who it is: the public half of a key it made, and its push token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCredential {
    /// The key's algorithm.
    pub algorithm: DeviceKeyAlgorithm,
    /// The raw public key.
    pub public_key: Vec<u8>,
    /// The push provider's token; empty when the device has none.
    #[serde(default)]
    pub push_token: String,
}

impl DeviceCredential {
    /// The most characters of a push token (FCM's are about 160, APNs' 64).
    pub const MAX_PUSH_TOKEN_CHARS: usize = 512;
}

/// What a device says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// The per-install id chosen by the client.
    pub device_id: String,
    /// E.g. "Redmi Note 13".
    pub model: String,
    /// E.g. "HyperOS 2.0".
    pub os: String,
    /// The name the person gave it.
    pub name: String,
    /// A hash of the serial number or IMEI, stable across reinstalls; may be empty.
    #[serde(default)]
    pub hardware_id: String,
    /// What it supports for Find Device, each once, in order.
    #[serde(default)]
    pub capabilities: Vec<DeviceCapability>,
    /// Its key and push token, when it sent them.
    #[serde(default)]
    pub credential: Option<DeviceCredential>,
}

/// A field of a device description that is wrong: its proto path (under `device.`) and the
/// problem.
pub type DeviceProblem = (&'static str, String);

impl DeviceInfo {
    /// The most characters each string field may have.
    pub const MAX_FIELD_CHARS: usize = 128;
    /// The most capabilities a device may list: each of them once.
    pub const MAX_CAPABILITIES: usize = 4;

    /// Trims and bounds each field, refusing hidden characters (the name, model and OS are
    /// shown in alerts and device lists, and the ids in logs); a device id is required,
    /// capabilities are kept once each, and a key must have its algorithm's length.
    pub fn parse(device: Self) -> Result<Self, DeviceProblem> {
        let field = |name: &'static str, value: String| -> Result<String, DeviceProblem> {
            let value = value.trim().to_owned();
            if value.chars().count() > Self::MAX_FIELD_CHARS {
                let problem = format!("must be at most {} characters", Self::MAX_FIELD_CHARS);
                return Err((name, problem));
            }
            text::check_displayed(&value).map_err(|problem| (name, problem.to_owned()))?;
            Ok(value)
        };
        if device.capabilities.len() > Self::MAX_CAPABILITIES {
            let problem = format!("must have at most {} items", Self::MAX_CAPABILITIES);
            return Err(("device.capabilities", problem));
        }
        let mut capabilities = device.capabilities;
        capabilities.sort_unstable();
        capabilities.dedup();
        let parsed = Self {
            device_id: field("device.device_id", device.device_id)?,
            model: field("device.model", device.model)?,
            os: field("device.os", device.os)?,
            name: field("device.name", device.name)?,
            hardware_id: field("device.hardware_id", device.hardware_id)?,
            capabilities,
            credential: device.credential.map(parse_credential).transpose()?,
        };
        if parsed.device_id.is_empty() {
            return Err(("device.device_id", "is required".into()));
        }
        Ok(parsed)
    }

    /// The description without its credential, as answers and events show it.
    pub fn without_credential(&self) -> Self {
        Self {
            credential: None,
            ..self.clone()
        }
    }
}

fn parse_credential(credential: DeviceCredential) -> Result<DeviceCredential, DeviceProblem> {
    let expected = credential.algorithm.public_key_len();
    if credential.public_key.len() != expected {
        let problem = format!("a {} public key is {expected} bytes", credential.algorithm);
        return Err(("device.credential.public_key", problem));
    }
    // Only the uncompressed form (0x04 || x || y): one encoding per key, as the wire says.
    if credential.algorithm == DeviceKeyAlgorithm::P256 && credential.public_key[0] != 0x04 {
        let problem = "a p256 public key is an uncompressed SEC1 point (0x04 || x || y)";
        return Err(("device.credential.public_key", problem.to_owned()));
    }
    let push_token = credential.push_token.trim().to_owned();
    if push_token.chars().count() > DeviceCredential::MAX_PUSH_TOKEN_CHARS
        || push_token
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        let problem = format!(
            "must be at most {} characters, without spaces or control characters",
            DeviceCredential::MAX_PUSH_TOKEN_CHARS
        );
        return Err(("device.credential.push_token", problem));
    }
    Ok(DeviceCredential {
        push_token,
        ..credential
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone() -> DeviceInfo {
        DeviceInfo {
            device_id: " phone-1 ".into(),
            model: "Redmi Note 13".into(),
            capabilities: vec![
                DeviceCapability::Ring,
                DeviceCapability::Locate,
                DeviceCapability::Ring,
            ],
            credential: Some(DeviceCredential {
                algorithm: DeviceKeyAlgorithm::Ed25519,
                public_key: vec![7; 32],
                push_token: "fcm:abc".into(),
            }),
            ..DeviceInfo::default()
        }
    }

    #[test]
    fn a_description_is_trimmed_and_its_capabilities_kept_once() {
        let parsed = DeviceInfo::parse(phone()).expect("valid");
        assert_eq!(parsed.device_id, "phone-1");
        assert_eq!(
            parsed.capabilities,
            [DeviceCapability::Locate, DeviceCapability::Ring]
        );
        assert_eq!(parsed.without_credential().credential, None);
    }

    #[test]
    fn each_bad_field_is_named_by_its_path() {
        let cases: [(&str, DeviceInfo); 5] = [
            (
                "device.device_id",
                DeviceInfo {
                    device_id: "  ".into(),
                    ..phone()
                },
            ),
            (
                "device.hardware_id",
                DeviceInfo {
                    hardware_id: "imei\u{202e}".into(),
                    ..phone()
                },
            ),
            (
                "device.name",
                DeviceInfo {
                    name: "n".repeat(129),
                    ..phone()
                },
            ),
            (
                "device.capabilities",
                DeviceInfo {
                    capabilities: vec![DeviceCapability::Ring; 5],
                    ..phone()
                },
            ),
            (
                "device.credential.public_key",
                DeviceInfo {
                    credential: Some(DeviceCredential {
                        algorithm: DeviceKeyAlgorithm::Ed25519,
                        public_key: vec![1; 31],
                        push_token: String::new(),
                    }),
                    ..phone()
                },
            ),
        ];
        for (field, device) in cases {
            let refused = DeviceInfo::parse(device).expect_err(field);
            assert_eq!(refused.0, field);
        }
    }

    #[test]
    fn a_p256_key_is_an_uncompressed_point_of_65_bytes() {
        let with_key = |public_key: Vec<u8>| DeviceInfo {
            credential: Some(DeviceCredential {
                algorithm: DeviceKeyAlgorithm::P256,
                public_key,
                push_token: String::new(),
            }),
            ..phone()
        };
        let uncompressed: Vec<u8> = [4].into_iter().chain([7; 64]).collect();
        assert!(DeviceInfo::parse(with_key(uncompressed)).is_ok());
        for refused in [vec![4; 33], vec![2; 65], vec![4; 32]] {
            let problem = DeviceInfo::parse(with_key(refused)).expect_err("refused");
            assert_eq!(problem.0, "device.credential.public_key");
        }
    }
}

//! The shared enums of `mi.common.v1` and the typed contracts of `mi_contracts`, converted once
//! for every handler and consumer.
//!
//! Writing is infallible (`common::v1::Channel::from(channel)`); reading is not, since the wire
//! also carries `UNSPECIFIED` and numbers a newer peer may add: [`channel_from_wire`] and
//! [`purpose_from_wire`] read an enum field as a message carries it.

// Hand-written: the crate's allowances are for the generated code only.
#![warn(missing_docs, missing_debug_implementations, clippy::all)]

use std::fmt;

use mi_contracts::{
    Channel, DeviceCapability, DeviceCredential, DeviceInfo, DeviceKeyAlgorithm, DeviceProblem,
    Purpose,
};

use crate::common::v1 as wire;

/// A wire value that names no contract value: `UNSPECIFIED`, or a number this build does not
/// know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unspecified;

impl fmt::Display for Unspecified {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("unspecified or unknown enum value")
    }
}

impl std::error::Error for Unspecified {}

impl TryFrom<wire::Channel> for Channel {
    type Error = Unspecified;

    fn try_from(channel: wire::Channel) -> Result<Self, Unspecified> {
        match channel {
            wire::Channel::Sms => Ok(Self::Sms),
            wire::Channel::Email => Ok(Self::Email),
            wire::Channel::Voice => Ok(Self::Voice),
            wire::Channel::Push => Ok(Self::Push),
            wire::Channel::Unspecified => Err(Unspecified),
        }
    }
}

impl From<Channel> for wire::Channel {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Sms => Self::Sms,
            Channel::Email => Self::Email,
            Channel::Voice => Self::Voice,
            Channel::Push => Self::Push,
        }
    }
}

impl TryFrom<wire::Purpose> for Purpose {
    type Error = Unspecified;

    fn try_from(purpose: wire::Purpose) -> Result<Self, Unspecified> {
        match purpose {
            wire::Purpose::SignUp => Ok(Self::SignUp),
            wire::Purpose::SignInSecondFactor => Ok(Self::SignInSecondFactor),
            wire::Purpose::PasswordReset => Ok(Self::PasswordReset),
            wire::Purpose::AddRecoveryContact => Ok(Self::AddRecoveryContact),
            wire::Purpose::DeviceAction => Ok(Self::DeviceAction),
            wire::Purpose::Unspecified => Err(Unspecified),
        }
    }
}

impl From<Purpose> for wire::Purpose {
    fn from(purpose: Purpose) -> Self {
        match purpose {
            Purpose::SignUp => Self::SignUp,
            Purpose::SignInSecondFactor => Self::SignInSecondFactor,
            Purpose::PasswordReset => Self::PasswordReset,
            Purpose::AddRecoveryContact => Self::AddRecoveryContact,
            Purpose::DeviceAction => Self::DeviceAction,
        }
    }
}

/// The channel of an enum field as a message carries it (an `i32`).
pub fn channel_from_wire(value: i32) -> Result<Channel, Unspecified> {
    wire::Channel::try_from(value)
        .map_err(|_| Unspecified)?
        .try_into()
}

/// The purpose of an enum field as a message carries it (an `i32`).
pub fn purpose_from_wire(value: i32) -> Result<Purpose, Unspecified> {
    wire::Purpose::try_from(value)
        .map_err(|_| Unspecified)?
        .try_into()
}

/// The value a message carries for `channel`.
pub fn channel_to_wire(channel: Channel) -> i32 {
    wire::Channel::from(channel).into()
}

/// The value a message carries for `purpose`.
pub fn purpose_to_wire(purpose: Purpose) -> i32 {
    wire::Purpose::from(purpose).into()
}

/// The maxima of a device description's free-text fields under `device.`, for
/// `mi_contracts::text::check_lengths` at the edge, before anything else reads the request.
pub fn device_length_limits(device: Option<&wire::DeviceInfo>) -> Vec<(&'static str, &str, usize)> {
    let Some(device) = device else {
        return Vec::new();
    };
    let max = DeviceInfo::MAX_FIELD_CHARS;
    let mut limits = vec![
        ("device.device_id", device.device_id.as_str(), max),
        ("device.model", &device.model, max),
        ("device.os", &device.os, max),
        ("device.name", &device.name, max),
        ("device.hardware_id", &device.hardware_id, max),
    ];
    if let Some(credential) = &device.credential {
        limits.push((
            "device.credential.push_token",
            &credential.push_token,
            DeviceCredential::MAX_PUSH_TOKEN_CHARS,
        ));
    }
    limits
}

/// The domain form of a device description as a request or event carries it (its form is
/// checked by [`DeviceInfo::parse`]); an unknown capability or key algorithm is refused.
pub fn device_from_wire(device: Option<wire::DeviceInfo>) -> Result<DeviceInfo, DeviceProblem> {
    let device = device.unwrap_or_default();
    let capabilities = device
        .capabilities
        .iter()
        .map(|&value| match wire::DeviceCapability::try_from(value) {
            Ok(wire::DeviceCapability::Locate) => Ok(DeviceCapability::Locate),
            Ok(wire::DeviceCapability::Ring) => Ok(DeviceCapability::Ring),
            Ok(wire::DeviceCapability::Lock) => Ok(DeviceCapability::Lock),
            Ok(wire::DeviceCapability::Erase) => Ok(DeviceCapability::Erase),
            Ok(wire::DeviceCapability::Unspecified) | Err(_) => Err((
                "device.capabilities",
                "must list only known capabilities".to_owned(),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let credential = device
        .credential
        .map(|credential| {
            let algorithm = match wire::DeviceKeyAlgorithm::try_from(credential.algorithm) {
                Ok(wire::DeviceKeyAlgorithm::Ed25519) => DeviceKeyAlgorithm::Ed25519,
                Ok(wire::DeviceKeyAlgorithm::P256) => DeviceKeyAlgorithm::P256,
                Ok(wire::DeviceKeyAlgorithm::Unspecified) | Err(_) => {
                    return Err((
                        "device.credential.algorithm",
                        "must be a supported key algorithm (ED25519, P256)".to_owned(),
                    ));
                }
            };
            Ok(DeviceCredential {
                algorithm,
                public_key: credential.public_key,
                push_token: credential.push_token,
            })
        })
        .transpose()?;
    Ok(DeviceInfo {
        device_id: device.device_id,
        model: device.model,
        os: device.os,
        name: device.name,
        hardware_id: device.hardware_id,
        capabilities,
        credential,
    })
}

/// The wire form of a device description, credential included when it has one.
pub fn device_to_wire(device: &DeviceInfo) -> wire::DeviceInfo {
    let capabilities = device
        .capabilities
        .iter()
        .map(|capability| {
            let capability = match capability {
                DeviceCapability::Locate => wire::DeviceCapability::Locate,
                DeviceCapability::Ring => wire::DeviceCapability::Ring,
                DeviceCapability::Lock => wire::DeviceCapability::Lock,
                DeviceCapability::Erase => wire::DeviceCapability::Erase,
            };
            i32::from(capability)
        })
        .collect();
    let credential = device
        .credential
        .as_ref()
        .map(|credential| wire::DeviceCredential {
            algorithm: match credential.algorithm {
                DeviceKeyAlgorithm::Ed25519 => wire::DeviceKeyAlgorithm::Ed25519.into(),
                DeviceKeyAlgorithm::P256 => wire::DeviceKeyAlgorithm::P256.into(),
            },
            public_key: credential.public_key.clone(),
            push_token: credential.push_token.clone(),
        });
    wire::DeviceInfo {
        device_id: device.device_id.clone(),
        model: device.model.clone(),
        os: device.os.clone(),
        name: device.name.clone(),
        hardware_id: device.hardware_id.clone(),
        capabilities,
        credential,
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn every_contract_value_round_trips_and_unspecified_is_refused() {
        for channel in Channel::iter() {
            assert_eq!(channel_from_wire(channel_to_wire(channel)), Ok(channel));
        }
        for purpose in Purpose::iter() {
            assert_eq!(purpose_from_wire(purpose_to_wire(purpose)), Ok(purpose));
        }
        for unknown in [0, 99, -1] {
            assert_eq!(channel_from_wire(unknown), Err(Unspecified));
            assert_eq!(purpose_from_wire(unknown), Err(Unspecified));
        }
        assert_eq!(channel_to_wire(Channel::Voice), 3);
        assert_eq!(purpose_to_wire(Purpose::SignUp), 1);
    }

    #[test]
    fn a_device_round_trips_and_unknown_enums_are_refused() {
        for algorithm in DeviceKeyAlgorithm::iter() {
            let device = DeviceInfo {
                device_id: "phone-1".into(),
                credential: Some(DeviceCredential {
                    algorithm,
                    public_key: vec![4; algorithm.public_key_len()],
                    push_token: "token".into(),
                }),
                ..DeviceInfo::default()
            };
            assert_eq!(device_from_wire(Some(device_to_wire(&device))), Ok(device));
        }
        let device = DeviceInfo {
            device_id: "phone-1".into(),
            capabilities: DeviceCapability::iter().collect(),
            credential: Some(DeviceCredential {
                algorithm: DeviceKeyAlgorithm::Ed25519,
                public_key: vec![9; 32],
                push_token: "token".into(),
            }),
            ..DeviceInfo::default()
        };
        let wire_device = device_to_wire(&device);
        assert_eq!(device_from_wire(Some(wire_device.clone())), Ok(device));

        let unknown_capability = wire::DeviceInfo {
            capabilities: vec![0],
            ..wire_device.clone()
        };
        assert_eq!(
            device_from_wire(Some(unknown_capability)).map_err(|problem| problem.0),
            Err("device.capabilities")
        );
        for unknown in [0, 42] {
            let mut unknown_algorithm = wire_device.clone();
            if let Some(credential) = unknown_algorithm.credential.as_mut() {
                credential.algorithm = unknown;
            }
            assert_eq!(
                device_from_wire(Some(unknown_algorithm)).map_err(|problem| problem.0),
                Err("device.credential.algorithm")
            );
        }
    }
}

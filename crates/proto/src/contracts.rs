//! The shared enums of `mi.common.v1` and the typed contracts of `mi_contracts`, converted once
//! for every handler and consumer.
//!
//! Writing is infallible (`common::v1::Channel::from(channel)`); reading is not, since the wire
//! also carries `UNSPECIFIED` and numbers a newer peer may add: [`channel_from_wire`] and
//! [`purpose_from_wire`] read an enum field as a message carries it.

// Hand-written: the crate's allowances are for the generated code only.
#![warn(missing_docs, missing_debug_implementations, clippy::all)]

use std::fmt;

use mi_contracts::{Channel, Purpose};

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
}

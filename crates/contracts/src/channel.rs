//! How a code or a message travels.

use serde::{Deserialize, Serialize};

/// The channel of a code or message, stored and logged by its snake_case name.
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
pub enum Channel {
    /// A text message to a mobile number.
    Sms,
    /// An email message.
    Email,
    /// A phone call that reads the code out.
    Voice,
    /// A push notification to a device app; the destination is the device's push token. It
    /// wakes a device for its Find Device commands and never carries a code.
    Push,
}

impl Channel {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether a code sent one way may be resent the other way: SMS and voice reach the same
    /// phone; email and push each reach only their own kind of destination.
    pub fn same_family(self, other: Self) -> bool {
        self == other || (self.is_phone() && other.is_phone())
    }

    /// Whether verification codes may travel this way (every channel but push, whose
    /// destination is an app install, not a person's contact).
    pub fn carries_codes(self) -> bool {
        self != Self::Push
    }

    /// Whether the destination is a phone number.
    pub fn is_phone(self) -> bool {
        matches!(self, Self::Sms | Self::Voice)
    }

    /// The channel that reaches a contact: SMS for a phone number (E.164, so it starts with
    /// `+`), email for anything else.
    pub fn for_contact(contact: &str) -> Self {
        if contact.starts_with('+') {
            Self::Sms
        } else {
            Self::Email
        }
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn stored_names_round_trip() {
        for channel in Channel::iter() {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
        }
        assert_eq!(Channel::Sms.as_str(), "sms");
        assert!("fax".parse::<Channel>().is_err());
    }

    #[test]
    fn phone_channels_are_one_family() {
        assert!(Channel::Sms.same_family(Channel::Voice));
        assert!(!Channel::Sms.same_family(Channel::Email));
        assert!(Channel::Email.same_family(Channel::Email));
        for other in [Channel::Sms, Channel::Voice, Channel::Email] {
            assert!(!Channel::Push.same_family(other), "{other}");
            assert!(!other.same_family(Channel::Push), "{other}");
        }
        assert!(!Channel::Push.is_phone());
        assert!(!Channel::Push.carries_codes());
        assert_eq!(Channel::Push.as_str(), "push");
        assert_eq!(Channel::for_contact("+8613800138000"), Channel::Sms);
        assert_eq!(Channel::for_contact("a@example.com"), Channel::Email);
    }
}

//! A normalized phone number or email address, checked against its channel.

use mi_platform::contact::{self, LineType};

use mi_contracts::Channel;

/// Where a code goes: an E.164 mobile number for SMS, a lower-cased-domain address for email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination(String);

impl Destination {
    /// Validates and normalizes `raw` for `channel`; the error says what is wrong.
    pub fn parse(raw: &str, channel: Channel) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        match channel {
            Channel::Sms => parse_phone_number(raw, true),
            Channel::Voice => parse_phone_number(raw, false),
            Channel::Email => parse_email(raw),
            // The edge refuses push first; this keeps the domain from ever storing a code for it.
            Channel::Push => Err("codes travel by SMS, voice call or email, never by push".into()),
        }
    }

    /// The ISO 3166-1 alpha-2 country of a phone number; `None` for email addresses.
    pub fn country(&self) -> Option<String> {
        if !self.0.starts_with('+') {
            return None;
        }
        contact::phone_country(&self.0)
    }

    /// Wraps a value that was normalized before it was stored.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The normalized text: where the code goes, as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The destination with most of it hidden, for "code sent to …": `+86 138****8000`.
    pub fn masked(&self) -> String {
        contact::mask(&self.0)
    }

    /// Who the destination is, whatever its case: the key of its limits and CAPTCHA risk, and
    /// the subject of its tokens (`mi_platform::contact::canonical`, as identity compares).
    pub fn canonical(&self) -> String {
        contact::canonical(&self.0)
    }
}

/// Codes go to people's own lines only: premium-rate, shared-cost and other non-personal
/// numbers are refused for SMS and voice alike (toll fraud: whoever owns such a number is
/// paid for every code sent to it); fixed lines take calls, not SMS.
fn parse_phone_number(raw: &str, mobile_only: bool) -> Result<Destination, String> {
    let number = contact::parse_phone_number(raw)?;
    match number.line {
        LineType::NotPersonal => Err(
            "is a premium-rate, shared-cost or other non-personal number; codes go only to mobile and fixed-line numbers"
                .into(),
        ),
        LineType::FixedLine if mobile_only => {
            Err("is not a mobile number, so it cannot receive SMS; try a voice call".into())
        }
        LineType::Mobile | LineType::FixedLineOrMobile | LineType::FixedLine => {
            Ok(Destination(number.e164))
        }
    }
}

fn parse_email(raw: &str) -> Result<Destination, String> {
    contact::parse_email(raw).map(Destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalized_to_e164() {
        let parsed = Destination::parse(" +86 138 0013 8000 ", Channel::Sms).expect("valid");
        assert_eq!(parsed.as_str(), "+8613800138000");
    }

    #[test]
    fn bad_phone_numbers_are_refused() {
        for raw in [
            "",
            "13800138000",
            "+86 123",
            "+1 800 555 0100x",
            "not a number",
        ] {
            assert!(
                Destination::parse(raw, Channel::Sms).is_err(),
                "{raw} accepted"
            );
        }
    }

    #[test]
    fn email_domain_is_lower_cased_and_local_part_kept() {
        let parsed = Destination::parse("Mi.User@Example.COM", Channel::Email).expect("valid");
        assert_eq!(parsed.as_str(), "Mi.User@example.com");
    }

    #[test]
    fn bad_emails_are_refused() {
        for raw in [
            "",
            "user",
            "user@",
            "@example.com",
            "user@localhost",
            "A <a@example.com>",
        ] {
            assert!(
                Destination::parse(raw, Channel::Email).is_err(),
                "{raw} accepted"
            );
        }
    }

    #[test]
    fn voice_takes_fixed_lines_and_phone_numbers_know_their_country() {
        let landline = "+861012345678";
        assert!(Destination::parse(landline, Channel::Sms).is_err());
        let parsed = Destination::parse(landline, Channel::Voice).expect("voice");
        assert_eq!(parsed.country().as_deref(), Some("CN"));
        let indian = Destination::parse("+919876543210", Channel::Sms).expect("mobile");
        assert_eq!(indian.country().as_deref(), Some("IN"));
        let email = Destination::parse("a@example.com", Channel::Email).expect("email");
        assert_eq!(email.country(), None);
    }

    #[test]
    fn a_channel_only_takes_its_own_kind_of_destination() {
        assert!(Destination::parse("user@example.com", Channel::Sms).is_err());
        assert!(Destination::parse("+8613800138000", Channel::Email).is_err());
        assert!(Destination::parse("+8613800138000", Channel::Push).is_err());
    }

    #[test]
    fn premium_rate_shared_cost_and_other_non_personal_numbers_are_refused() {
        for raw in [
            "+449098790000",
            "+19005550100",
            "+448431234567",
            "+448001234567",
        ] {
            for channel in [Channel::Sms, Channel::Voice] {
                let refused = Destination::parse(raw, channel).expect_err(raw);
                assert!(refused.contains("non-personal"), "{raw}: {refused}");
            }
        }
        // A US number may be mobile or fixed: SMS and voice both take it.
        for channel in [Channel::Sms, Channel::Voice] {
            assert!(Destination::parse("+12025550123", channel).is_ok());
        }
    }
}

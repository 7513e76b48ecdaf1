//! The text of each message.

use std::time::Duration;

use super::{Channel, OutgoingMessage};

/// What a code is for, in words a person understands.
fn purpose_phrase(purpose: mi_proto::verification::v1::Purpose) -> &'static str {
    use mi_proto::verification::v1::Purpose;
    match purpose {
        Purpose::SignUp => "create your Mi Account",
        Purpose::SignInSecondFactor => "sign in to your Mi Account",
        Purpose::PasswordReset => "reset your Mi Account password",
        Purpose::AddRecoveryContact => "add this contact to your Mi Account",
        Purpose::DeviceAction => "confirm an action on your device",
        Purpose::Unspecified => "verify your Mi Account",
    }
}

/// The message carrying a verification code.
pub fn code_message(
    destination: &str,
    channel: Channel,
    purpose: mi_proto::verification::v1::Purpose,
    code: &str,
    valid_for: Duration,
) -> OutgoingMessage {
    let minutes = valid_for.as_secs().div_ceil(60).max(1);
    let body = format!(
        "Your verification code is {code}. Use it to {} within {minutes} minutes. Never share this code with anyone.",
        purpose_phrase(purpose)
    );
    OutgoingMessage {
        destination: destination.to_owned(),
        channel,
        subject: "Your Mi Account verification code".to_owned(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mi_proto::verification::v1::Purpose;

    #[test]
    fn code_message_says_code_purpose_and_validity() {
        let message = code_message(
            "+8613800138000",
            Channel::Sms,
            Purpose::SignUp,
            "042042",
            Duration::from_secs(599),
        );
        assert!(message.body.contains("042042"));
        assert!(message.body.contains("create your Mi Account"));
        assert!(message.body.contains("10 minutes"));
        assert!(!format!("{message:?}").contains("042042"));
    }
}

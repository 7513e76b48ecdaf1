//! What SendCode answers a person can read, and when they may ask again: the destination
//! echoed masked ("code sent to +86 138****8000"), and a cooldown per purpose under a
//! destination budget shared by every purpose.

use crate::codes::{quota_subject, request};
use crate::support::{
    Backends, TestConfig, TestPlatform, code_in, in_both_modes, unique_email, unique_phone_number,
};
use mi_proto::common::v1::{Channel, Purpose};
use tonic::Code;

in_both_modes!(
    replies_show_the_destination_masked,
    the_cooldown_is_per_purpose_and_the_budget_shared,
);

async fn replies_show_the_destination_masked(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let phone = unique_phone_number();
    let sent = platform.sign_up(&phone, Channel::Sms).await;
    let masked = format!("+86 {}****{}", &phone[3..6], &phone[phone.len() - 4..]);
    assert_eq!(sent.masked_destination, masked);
    let message = platform.wait_for_inbox(&phone, 1).await;
    let checked = platform
        .check(&sent.verification_id, &code_in(&message[0]))
        .await
        .unwrap();
    // A destination the client typed is echoed in full by CheckCode too.
    assert_eq!(
        (
            checked.destination.as_str(),
            checked.masked_destination.as_str()
        ),
        (phone.as_str(), masked.as_str())
    );

    let email = unique_email();
    let sent = platform.sign_up(&email, Channel::Email).await;
    assert_eq!(sent.masked_destination, "us***@example.com");
    platform.stop().await;
}

/// A sign-in code does not make a password-reset code wait (the cooldown is per purpose); a
/// second reset code does; every purpose counts against the destination's hourly budget.
async fn the_cooldown_is_per_purpose_and_the_budget_shared(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_value("verification.limits.destination_per_hour", 3)
        .with_value("verification.captcha.risk_threshold", 1000);
    let platform = TestPlatform::start_with(config).await;
    let client = platform.verification().await;
    let phone = unique_phone_number();
    let send = |purpose: Purpose| {
        let request = request(&phone, Channel::Sms, purpose);
        let mut client = client.clone();
        async move { client.send_code(request).await }
    };
    send(Purpose::SignInSecondFactor).await.unwrap();
    send(Purpose::PasswordReset).await.unwrap();
    let again = send(Purpose::PasswordReset).await.unwrap_err();
    assert_eq!(again.code(), Code::ResourceExhausted);
    assert_eq!(quota_subject(&again), "destination per minute");
    send(Purpose::AddRecoveryContact).await.unwrap();
    let over_budget = send(Purpose::DeviceAction).await.unwrap_err();
    assert_eq!(quota_subject(&over_budget), "destination per hour");
    platform.stop().await;
}

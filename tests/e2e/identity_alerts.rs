//! Security alerts over gRPC: a new recovery contact, a password change, two-factor turned on
//! and wrong passwords that make a CAPTCHA necessary each reach every contact of the account
//! once, in its locale.

use std::time::Duration;

use crate::support::{
    Backends, DELIVERY_TIMEOUT, TestPlatform, in_both_modes, profile_update, strong_password,
    unique_email, unique_phone_number,
};
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::notification::v1::InboxMessage;

in_both_modes!(security_alerts);

/// Waits (polling, up to the delivery timeout) for a new message to `destination`, after the
/// first `before` ones, that names account `mi_id` and contains `needle`; asserts exactly one
/// such message has arrived and returns it.
async fn wait_for_alert(
    platform: &TestPlatform,
    destination: &str,
    before: usize,
    mi_id: u64,
    needle: &str,
) -> InboxMessage {
    let mi_id = mi_id.to_string();
    let is_alert = |message: &InboxMessage| {
        message.body.contains(&mi_id) && message.body.to_lowercase().contains(needle)
    };
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let messages = platform.inbox(destination).await;
        let alerts: Vec<InboxMessage> = messages
            .iter()
            .skip(before)
            .filter(|message| is_alert(message))
            .cloned()
            .collect();
        if let Some(alert) = alerts.first() {
            assert_eq!(
                alerts.len(),
                1,
                "one alert per contact per event; {destination} got {alerts:?}"
            );
            return alert.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no security alert containing {needle:?} for account {mi_id} reached {destination} \
             within {DELIVERY_TIMEOUT:?}; new messages: {:?}",
            messages.iter().skip(before).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Security changes reach the account's contacts as alerts, in the account's locale.
async fn security_alerts(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    let mi_id = tokens.mi_id;

    // A recovery contact added: the existing contact is told.
    let email = unique_email();
    let token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::AddRecoveryContact)
        .await;
    let phone_before = platform.inbox(&phone).await.len();
    platform
        .add_recovery_contact(&access, &token)
        .await
        .unwrap();
    wait_for_alert(&platform, &phone, phone_before, mi_id, "added").await;

    // From here on both contacts get every alert.
    let counts = || async {
        (
            platform.inbox(&phone).await.len(),
            platform.inbox(&email).await.len(),
        )
    };

    let (phone_before, email_before) = counts().await;
    let new_password = strong_password();
    platform
        .change_password(&access, &password, &new_password)
        .await
        .unwrap();
    wait_for_alert(&platform, &phone, phone_before, mi_id, "changed").await;
    let alert = wait_for_alert(&platform, &email, email_before, mi_id, "changed").await;
    assert!(!alert.subject.is_empty(), "an email alert has a subject");

    let (phone_before, email_before) = counts().await;
    platform.enable_totp(&access).await;
    wait_for_alert(&platform, &phone, phone_before, mi_id, "turned on").await;
    wait_for_alert(&platform, &email, email_before, mi_id, "turned on").await;

    let (phone_before, email_before) = counts().await;
    platform.fail_until_captcha(&phone, &new_password).await;
    wait_for_alert(&platform, &phone, phone_before, mi_id, "in a row").await;
    wait_for_alert(&platform, &email, email_before, mi_id, "in a row").await;

    // An account in Chinese is alerted in Chinese.
    let chinese_phone = unique_phone_number();
    let (chinese, password) = platform
        .create_account(&chinese_phone, CodeChannel::Sms)
        .await;
    platform
        .update_profile(
            &chinese.access_token,
            profile_update("", "", "zh-CN", Some(&["locale"])),
        )
        .await
        .unwrap();
    let before = platform.inbox(&chinese_phone).await.len();
    platform
        .change_password(&chinese.access_token, &password, &strong_password())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
    loop {
        let messages = platform.inbox(&chinese_phone).await;
        if messages.iter().skip(before).any(|message| {
            message.body.contains(&chinese.mi_id.to_string()) && message.body.chars().any(is_cjk)
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Chinese alert for a zh-CN account within {DELIVERY_TIMEOUT:?}; new messages: {:?}",
            messages.iter().skip(before).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    platform.stop().await;
}

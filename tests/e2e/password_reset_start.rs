//! A forgotten password recovered from a Mi ID: StartPasswordReset offers the account's
//! contacts masked with send tokens, a code goes to one of them without the client knowing it,
//! and ResetPassword takes the verification token. An identifier no account has gets a reply
//! of the same shape; starts are limited per client address.

use crate::support::{
    Backends, TestConfig, TestPlatform, contact_request, expect_refusal, in_both_modes,
    retry_after, strong_password, test_device, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::identity::v1::{ContactKind, ResetPasswordRequest};
use tonic::Code;

in_both_modes!(a_reset_started_from_a_mi_id_reaches_reset_password);

async fn a_reset_started_from_a_mi_id_reaches_reset_password(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.password_reset.starts_per_client_per_hour", 3);
    let platform = TestPlatform::start_with(config).await;
    let phone = unique_phone_number();
    let (tokens, _) = platform.create_account(&phone, CodeChannel::Sms).await;
    let mi_id = tokens.mi_id.to_string();

    let started = platform.start_reset(&mi_id).await.unwrap();
    let [contact] = started.contacts.as_slice() else {
        panic!("one contact expected: {started:?}");
    };
    assert_eq!(contact.kind(), ContactKind::Phone);
    assert!(
        !format!("{started:?}").contains(&phone[3..]),
        "the number is shown masked only: {started:?}"
    );
    let now = i64::try_from(crate::support::unix_now()).unwrap();
    assert!(started.expire_time.unwrap().seconds > now);

    let request = contact_request(
        &started.challenge_id,
        contact,
        CodeChannel::Sms,
        Purpose::PasswordReset,
    );
    let (sent, checked) = platform.code_via_contact(request, &phone).await;
    assert_eq!(sent.masked_destination, contact.masked);
    let new_password = strong_password();
    let reset = platform
        .identity()
        .await
        .reset_password(ResetPasswordRequest {
            verification_token: checked.verification_token,
            new_password: new_password.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.mi_id, tokens.mi_id);
    platform
        .sign_in_for_tokens(&mi_id, &new_password, test_device("phone-1"))
        .await;

    // Identifiers no account has: the same shape, no contacts.
    for unknown in ["9999999999", &unique_phone_number()] {
        let reply = platform.start_reset(unknown).await.unwrap();
        assert!(reply.contacts.is_empty(), "{reply:?}");
        assert!(!reply.challenge_id.is_empty() && reply.expire_time.is_some());
    }
    // The fourth start from this address within the hour is refused, and says when to retry.
    let limited = expect_refusal(
        platform.start_reset(&mi_id).await,
        Code::ResourceExhausted,
        Some(Reason::RateLimited),
        "a fourth start",
    );
    assert!(retry_after(&limited).is_some(), "{limited:?}");
    platform.stop().await;
}

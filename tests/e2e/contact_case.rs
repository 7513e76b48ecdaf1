//! One canonical form of a contact across services (issue 10, item 5): an email address in
//! any case is one person, lower-cased whole (`mi_platform::contact::canonical`, as Google,
//! Apple and Keycloak compare addresses), for verification's limits and token subjects and
//! for identity's lookups.

use crate::support::{
    Backends, TestPlatform, expect_refusal, in_both_modes, strong_password, test_device,
    unique_email,
};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::identity::v1::ResetPasswordRequest;
use tonic::Code;

in_both_modes!(
    sends_to_an_address_in_any_case_share_its_limits,
    a_token_for_an_address_in_any_case_proves_the_same_account
);

/// `user-…@example.com` with its local part capitalized, `User-…@example.com`: the domain
/// stays lower-case so the dev inbox files the message under the same text.
fn capitalized(email: &str) -> String {
    let mut letters = email.chars();
    let first = letters.next().expect("an address").to_uppercase();
    format!("{first}{}", letters.as_str())
}

/// While `user@` cools down after a send (default 60 s), a send to `User@` is refused too.
async fn sends_to_an_address_in_any_case_share_its_limits(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let email = unique_email();
    platform.sign_up(&email, CodeChannel::Email).await;
    let request = platform
        .sign_up_request(&capitalized(&email), CodeChannel::Email)
        .await;
    let refused = expect_refusal(
        platform.verification().await.send_code(request).await,
        Code::ResourceExhausted,
        None,
        "a send to the capitalized address during the cooldown",
    );
    assert!(
        refused.message().contains("destination per minute"),
        "{refused:?}"
    );
    platform.stop().await;
}

/// A token for `User@` resets the password of `user@`'s account, and cannot sign up a second
/// account beside it.
async fn a_token_for_an_address_in_any_case_proves_the_same_account(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let email = unique_email();
    let shouted = capitalized(&email);
    let (tokens, _) = platform.create_account(&email, CodeChannel::Email).await;

    let token = platform
        .verification_token(&shouted, CodeChannel::Email, Purpose::SignUp)
        .await;
    expect_refusal(
        platform
            .identity()
            .await
            .sign_up(
                platform
                    .sign_up_form(&shouted, &token, &strong_password())
                    .await,
            )
            .await,
        Code::AlreadyExists,
        Some(Reason::AccountExists),
        "a sign-up with a token for the capitalized address",
    );

    let token = platform
        .verification_token(&shouted, CodeChannel::Email, Purpose::PasswordReset)
        .await;
    let new_password = strong_password();
    let reset = platform
        .identity()
        .await
        .reset_password(ResetPasswordRequest {
            verification_token: token,
            new_password: new_password.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.mi_id, tokens.mi_id, "the same account");
    let signed_in = platform
        .sign_in_for_tokens(&email, &new_password, test_device("phone-1"))
        .await;
    assert_eq!(signed_in.mi_id, tokens.mi_id);
    platform.stop().await;
}

//! Over-long passwords (issue 10, item 15): a 1.1 M-character password is never hashed (the
//! hashing worker's frames are bounded) and never answers INTERNAL. As a current password (at
//! SignIn, Reauthenticate, ChangePassword) it is simply wrong, as Django answers one over its
//! cap; as a new password it breaks the policy's maximum length.

use crate::support::{
    Backends, TestPlatform, authed, expect_refusal, field_violations, in_both_modes, test_device,
    unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::identity::v1::ReauthenticateRequest;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use tonic::Code;

in_both_modes!(over_long_passwords_are_wrong_or_refused_never_internal);

/// 1.1 M characters, over the worker's 1 MiB frame and the policy's 128 characters.
fn over_long() -> String {
    "Aa1-".repeat(275_000)
}

async fn over_long_passwords_are_wrong_or_refused_never_internal(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    let long = over_long();

    expect_refusal(
        platform
            .sign_in(&phone, &long, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "SignIn with a 1.1 M-character password",
    );
    let unknown = unique_phone_number();
    expect_refusal(
        platform
            .sign_in(&unknown, &long, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "SignIn of an unknown account with a 1.1 M-character password",
    );
    let request = ReauthenticateRequest {
        proof: Some(ReauthProof::Password(long.clone())),
    };
    expect_refusal(
        platform
            .identity()
            .await
            .reauthenticate(authed(request, &access))
            .await,
        Code::InvalidArgument,
        Some(Reason::WrongPassword),
        "Reauthenticate with a 1.1 M-character password",
    );
    expect_refusal(
        platform.change_password(&access, &long, &password).await,
        Code::InvalidArgument,
        Some(Reason::WrongPassword),
        "ChangePassword from a 1.1 M-character current password",
    );
    let refused = expect_refusal(
        platform.change_password(&access, &password, &long).await,
        Code::InvalidArgument,
        Some(Reason::PasswordPolicy),
        "ChangePassword to a 1.1 M-character password",
    );
    let violations = field_violations(&refused);
    assert!(
        violations
            .iter()
            .any(|(field, problem)| field == "new_password" && problem.contains("128")),
        "{violations:?}"
    );

    // The right password still signs in: three wrong ones do not lock the account.
    platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    platform.stop().await;
}

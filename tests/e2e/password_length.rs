//! Over-long passwords (issue 10, items 1 and 15): a 1.1 M-character password is never hashed
//! (the hashing worker's frames are bounded) and never answers INTERNAL. Every password field
//! has the policy's maximum length as its documented maximum, checked at the edge: one longer
//! is refused with INVALID_ARGUMENT naming the field, as a current password (SignIn,
//! Reauthenticate, ChangePassword) and as a new one alike.

use crate::support::{
    Backends, TestPlatform, authed, expect_refusal, field_violations, in_both_modes, test_device,
    unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::identity::v1::ReauthenticateRequest;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use tonic::Code;

in_both_modes!(over_long_passwords_are_refused_at_the_edge_never_internal);

/// 1.1 M characters, over the worker's 1 MiB frame and the policy's 128 characters.
fn over_long() -> String {
    "Aa1-".repeat(275_000)
}

async fn over_long_passwords_are_refused_at_the_edge_never_internal(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    let long = over_long();

    let unknown = unique_phone_number();
    let request = ReauthenticateRequest {
        proof: Some(ReauthProof::Password(long.clone())),
    };
    let refusals = [
        (
            platform
                .sign_in(&phone, &long, test_device("phone-1"))
                .await
                .map(drop),
            "password",
        ),
        (
            platform
                .sign_in(&unknown, &long, test_device("phone-1"))
                .await
                .map(drop),
            "password",
        ),
        (
            platform
                .identity()
                .await
                .reauthenticate(authed(request, &access))
                .await
                .map(drop),
            "password",
        ),
        (
            platform
                .change_password(&access, &long, &password)
                .await
                .map(drop),
            "current_password",
        ),
        (
            platform
                .change_password(&access, &password, &long)
                .await
                .map(drop),
            "new_password",
        ),
    ];
    for (refused, field) in refusals {
        let status = expect_refusal(
            refused,
            Code::InvalidArgument,
            Some(Reason::InvalidArgument),
            &format!("a 1.1 M-character {field}"),
        );
        assert_eq!(
            field_violations(&status),
            [(
                field.to_owned(),
                "must be at most 128 characters".to_owned()
            )]
        );
    }

    // The right password still signs in: none of those locked the account.
    platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    platform.stop().await;
}

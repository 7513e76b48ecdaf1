//! Passwords over gRPC: a forgotten password reset with a PASSWORD_RESET token (which ends
//! every session and clears the counts of wrong passwords, but leaves two-factor
//! authentication on), and
//! ChangePassword (which needs the current password and ends every other session).

use crate::support::{
    Backends, TestPlatform, WRONG_PASSWORD, expect_refusal, expect_tokens, field_violations,
    in_both_modes, offers_method, strong_password, test_device, unique_email, unique_phone_number,
};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::events::v1::PasswordChanged;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{ResetPasswordRequest, SecondFactorMethod};
use tonic::{Code, Status};

in_both_modes!(forgot_password, change_password);

/// ResetPassword with a PASSWORD_RESET verification token; returns the account's Mi ID.
async fn reset_password(
    platform: &TestPlatform,
    verification_token: &str,
    new_password: &str,
) -> Result<u64, Status> {
    let request = ResetPasswordRequest {
        verification_token: verification_token.to_owned(),
        new_password: new_password.to_owned(),
    };
    Ok(platform
        .identity()
        .await
        .reset_password(request)
        .await?
        .into_inner()
        .mi_id)
}

/// ResetPassword with a PASSWORD_RESET token: the new password works, the old one and every
/// session end, the counts of wrong passwords are cleared (no CAPTCHA needed); a weak password
/// changes nothing; an unknown contact is NOT_FOUND.
async fn forgot_password(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (first, old_password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let second = platform
        .sign_in_for_tokens(&phone, &old_password, test_device("tablet-1"))
        .await;
    platform.fail_until_captcha(&phone, &old_password).await;

    // A weak new password is refused and changes nothing.
    let weak_token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::PasswordReset)
        .await;
    let weak = expect_refusal(
        reset_password(&platform, &weak_token, "password").await,
        Code::InvalidArgument,
        Some(Reason::PasswordPolicy),
        "ResetPassword with a weak password",
    );
    let fields: Vec<String> = field_violations(&weak)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, vec!["new_password".to_owned()], "{weak:?}");
    platform
        .account(&first.access_token)
        .await
        .expect("a refused reset leaves the sessions alone");
    expect_refusal(
        platform
            .sign_in(&phone, &old_password, test_device("phone-1"))
            .await,
        Code::FailedPrecondition,
        Some(Reason::CaptchaRequired),
        "a refused reset leaves the CAPTCHA requirement",
    );

    let token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::PasswordReset)
        .await;
    let new_password = strong_password();
    let mi_id = reset_password(&platform, &token, &new_password)
        .await
        .unwrap();
    assert_eq!(mi_id, first.mi_id);

    // The counts are gone: the new password signs in at once, no CAPTCHA; the old one is wrong.
    let after = platform
        .sign_in_for_tokens(&phone, &new_password, test_device("phone-1"))
        .await;
    assert_eq!(after.mi_id, mi_id);
    expect_refusal(
        platform
            .sign_in(&phone, &old_password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "the old password after a reset",
    );
    platform
        .assert_session_ended(&first, "the sign-up session after a reset")
        .await;
    platform
        .assert_session_ended(&second, "the tablet session after a reset")
        .await;
    platform.account(&after.access_token).await.unwrap();

    let reset: PasswordChanged = platform.identity_event(mi_id).await;
    assert!(reset.reset, "{reset:?}");
    expect_refusal(
        reset_password(&platform, &token, &strong_password()).await,
        Code::FailedPrecondition,
        Some(Reason::VerificationTokenUsed),
        "a reset token used twice",
    );

    // A contact no account has.
    let nobody = unique_email();
    let token = platform
        .verification_token(&nobody, CodeChannel::Email, Purpose::PasswordReset)
        .await;
    expect_refusal(
        reset_password(&platform, &token, &strong_password()).await,
        Code::NotFound,
        None,
        "a reset for a contact without an account",
    );

    // A reset does not turn two-factor authentication off.
    let email = unique_email();
    let (tokens, _) = platform.create_account(&email, CodeChannel::Email).await;
    let totp = platform.enable_totp(&tokens.access_token).await;
    let token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::PasswordReset)
        .await;
    let new_password = strong_password();
    reset_password(&platform, &token, &new_password)
        .await
        .unwrap();
    let challenge = platform
        .sign_in_for_challenge(&email, &new_password, test_device("phone-1"))
        .await;
    assert!(
        offers_method(&challenge, SecondFactorMethod::Totp),
        "{challenge:?}"
    );
    let signed_in = expect_tokens(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::RecoveryCode(totp.recovery_codes[0].clone()),
            )
            .await
            .unwrap(),
    );
    let two_factor = platform.two_factor(&signed_in.access_token).await;
    assert!(
        two_factor.enabled && two_factor.totp_enabled,
        "{two_factor:?}"
    );
    platform.stop().await;
}

/// ChangePassword needs the current password; it ends every other session and keeps the
/// calling one.
async fn change_password(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (current, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let mi_id = current.mi_id;
    let tablet = platform
        .sign_in_for_tokens(&phone, &password, test_device("tablet-1"))
        .await;
    let laptop = platform
        .sign_in_for_tokens(&mi_id.to_string(), &password, test_device("laptop-1"))
        .await;

    let new_password = strong_password();
    expect_refusal(
        platform
            .change_password(&current.access_token, WRONG_PASSWORD, &new_password)
            .await,
        Code::InvalidArgument,
        Some(Reason::WrongPassword),
        "ChangePassword with a wrong current password",
    );
    let weak = expect_refusal(
        platform
            .change_password(&current.access_token, &password, "password")
            .await,
        Code::InvalidArgument,
        Some(Reason::PasswordPolicy),
        "ChangePassword to a weak password",
    );
    assert!(
        field_violations(&weak)
            .iter()
            .any(|(field, _)| field == "new_password"),
        "{weak:?}"
    );
    platform.account(&tablet.access_token).await.unwrap();

    let changed = platform
        .change_password(&current.access_token, &password, &new_password)
        .await
        .unwrap();
    assert_eq!(changed.sessions_revoked, 2);
    platform
        .assert_session_ended(&tablet, "the tablet session after ChangePassword")
        .await;
    platform
        .assert_session_ended(&laptop, "the laptop session after ChangePassword")
        .await;
    // The calling session goes on, refresh included.
    platform.account(&current.access_token).await.unwrap();
    let refreshed = platform.refresh(&current.refresh_token).await.unwrap();
    assert_eq!(refreshed.session_id, current.session_id);
    platform.account(&refreshed.access_token).await.unwrap();

    expect_refusal(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "the old password after ChangePassword",
    );
    platform
        .sign_in_for_tokens(&phone, &new_password, test_device("phone-1"))
        .await;
    let event: PasswordChanged = platform.identity_event(mi_id).await;
    assert!(!event.reset, "{event:?}");
    platform.stop().await;
}

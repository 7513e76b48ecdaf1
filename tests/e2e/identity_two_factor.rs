//! Two-factor authentication over gRPC: an authenticator app (enrollment, TOTP codes and
//! recovery codes each accepted once, a challenge locked by wrong answers, turning it off) and
//! SMS/email codes as the second factor.

use crate::support::{
    Backends, EnabledTotp, TestPlatform, authed, base32_decode, error_metadata, expect_refusal,
    expect_tokens, in_both_modes, offers_method, reason, test_device, totp_at_step,
    unique_phone_number, unix_now, wrong_totp_code,
};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::events::v1::{TwoFactorDisabled, TwoFactorEnabled};
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    ChallengeReason, ConfirmTotpRequest, ContactKind, DisableTotpRequest, SecondFactorMethod,
    SetCodeSecondFactorRequest,
};
use tonic::Code;

in_both_modes!(totp, code_second_factor);

/// Authenticator-app enrollment, sign-in challenges answered with TOTP codes (each accepted
/// once) and recovery codes (each accepted once), locking after wrong answers, and turning it
/// off.
async fn totp(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    let mi_id = tokens.mi_id;

    let enrollment = platform.enroll_totp(&access).await;
    let secret = base32_decode(&enrollment.secret);
    assert!(secret.len() >= 16, "a {}-byte secret", secret.len());
    let uri = &enrollment.otpauth_uri;
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    for part in [
        format!("secret={}", enrollment.secret),
        "issuer=Mi%20Account".to_owned(),
        "digits=6".to_owned(),
        "period=30".to_owned(),
        mi_id.to_string(),
    ] {
        assert!(uri.contains(&part), "{uri} lacks {part}");
    }
    assert!(
        enrollment.qr_code_png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the QR code is not a PNG"
    );

    let confirm = |code: String| authed(ConfirmTotpRequest { code }, &access);
    expect_refusal(
        identity
            .confirm_totp(confirm(wrong_totp_code(&secret)))
            .await,
        Code::InvalidArgument,
        Some(Reason::WrongCode),
        "ConfirmTotp with a wrong code",
    );
    let confirmed_step = unix_now() / 30;
    let recovery_codes = identity
        .confirm_totp(confirm(totp_at_step(&secret, confirmed_step)))
        .await
        .unwrap()
        .into_inner()
        .recovery_codes;
    assert_eq!(recovery_codes.len(), 10, "{recovery_codes:?}");
    let distinct: std::collections::HashSet<&String> = recovery_codes.iter().collect();
    assert_eq!(distinct.len(), 10, "{recovery_codes:?}");
    assert!(
        recovery_codes.iter().all(|code| code.len() >= 8),
        "{recovery_codes:?}"
    );
    let totp = EnabledTotp {
        secret,
        recovery_codes,
        confirmed_step,
    };

    let two_factor = platform.two_factor(&access).await;
    assert!(
        two_factor.enabled && two_factor.totp_enabled,
        "{two_factor:?}"
    );
    assert!(!two_factor.code_enabled, "{two_factor:?}");
    assert_eq!(two_factor.recovery_codes_left, 10);
    let enabled: TwoFactorEnabled = platform.identity_event(mi_id).await;
    assert_eq!(enabled.method, "totp");

    let sign_in = || platform.sign_in_for_challenge(&phone, &password, test_device("phone-1"));

    // A TOTP code answers a challenge.
    let challenge = sign_in().await;
    assert!(
        offers_method(&challenge, SecondFactorMethod::Totp),
        "{challenge:?}"
    );
    assert!(
        offers_method(&challenge, SecondFactorMethod::RecoveryCode),
        "{challenge:?}"
    );
    assert_eq!(challenge.reason(), ChallengeReason::TwoFactor);
    assert!(challenge.contacts.is_empty(), "no code answers it");
    assert!(!challenge.challenge_id.is_empty());
    let expire = challenge.expire_time.unwrap().seconds;
    assert!(
        expire > i64::try_from(unix_now()).unwrap(),
        "expires at {expire}"
    );
    let (_, code) = totp.fresh_code();
    let signed_in = expect_tokens(
        platform
            .complete_sign_in(&challenge.challenge_id, Proof::TotpCode(code.clone()))
            .await
            .unwrap(),
    );
    assert_eq!(signed_in.mi_id, mi_id);
    let claims = platform.access_claims(&signed_in.access_token).await;
    assert!(
        claims.amr.iter().any(|method| method == "otp"),
        "amr {:?}",
        claims.amr
    );
    assert!(
        claims.amr.iter().any(|method| method == "pwd"),
        "amr {:?}",
        claims.amr
    );
    let answered = platform
        .complete_sign_in(&challenge.challenge_id, Proof::TotpCode(code.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(answered.code(), Code::NotFound | Code::FailedPrecondition),
        "an answered challenge cannot be answered again: {answered:?}"
    );

    // The same TOTP code is accepted once; a recovery code answers instead.
    let challenge = sign_in().await;
    expect_refusal(
        platform
            .complete_sign_in(&challenge.challenge_id, Proof::TotpCode(code))
            .await,
        Code::Unauthenticated,
        Some(Reason::SecondFactorInvalid),
        "a TOTP code used a second time",
    );
    let by_recovery_code = expect_tokens(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::RecoveryCode(totp.recovery_codes[0].clone()),
            )
            .await
            .unwrap(),
    );
    assert_eq!(by_recovery_code.mi_id, mi_id);

    // A recovery code is accepted once.
    let challenge = sign_in().await;
    expect_refusal(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::RecoveryCode(totp.recovery_codes[0].clone()),
            )
            .await,
        Code::Unauthenticated,
        Some(Reason::SecondFactorInvalid),
        "a recovery code used a second time",
    );
    let two_factor = platform.two_factor(&access).await;
    assert_eq!(two_factor.recovery_codes_left, 9);

    // Wrong answers lock the challenge (identity.second_factor.max_attempts, default 5):
    // afterwards even a right answer is refused.
    let challenge = sign_in().await;
    let wrong = wrong_totp_code(&totp.secret);
    for attempt in 1..=5 {
        let status = platform
            .complete_sign_in(&challenge.challenge_id, Proof::TotpCode(wrong.clone()))
            .await
            .unwrap_err();
        if attempt < 5 {
            assert_eq!(
                (status.code(), reason(&status)),
                (Code::Unauthenticated, Some(Reason::SecondFactorInvalid)),
                "wrong code {attempt}: {status:?}"
            );
            let left = format!("{} attempt", 5 - attempt);
            assert!(
                status.message().contains(&left),
                "wrong code {attempt}: the message gives the attempts left: {status:?}"
            );
            assert_eq!(
                error_metadata(&status, "attempts_left"),
                Some((5 - attempt).to_string()),
                "wrong code {attempt}: ErrorInfo gives the attempts left"
            );
        } else {
            assert!(
                matches!(
                    reason(&status),
                    Some(Reason::SecondFactorInvalid | Reason::ChallengeLocked)
                ),
                "wrong code {attempt}: {status:?}"
            );
        }
    }
    expect_refusal(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::RecoveryCode(totp.recovery_codes[1].clone()),
            )
            .await,
        Code::FailedPrecondition,
        Some(Reason::ChallengeLocked),
        "a right answer after 5 wrong ones",
    );
    expect_refusal(
        platform
            .complete_sign_in(
                "0190b6e4-2f6a-7cc3-9d61-5f1b7c0d2a11",
                Proof::RecoveryCode(totp.recovery_codes[1].clone()),
            )
            .await,
        Code::NotFound,
        None,
        "an unknown challenge",
    );

    // Turned off (the sign-up session is recent), the password alone signs in.
    identity
        .disable_totp(authed(DisableTotpRequest {}, &access))
        .await
        .unwrap();
    let two_factor = platform.two_factor(&access).await;
    assert!(
        !two_factor.enabled && !two_factor.totp_enabled,
        "{two_factor:?}"
    );
    let disabled: TwoFactorDisabled = platform.identity_event(mi_id).await;
    assert_eq!(disabled.method, "totp");
    platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    platform.stop().await;
}

/// SMS/email codes as the second factor: the challenge names the contacts masked, a
/// SIGN_IN_SECOND_FACTOR token for one of them answers it once, a token for another contact
/// does not.
async fn code_second_factor(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    let mi_id = tokens.mi_id;

    let set = |enabled: bool| authed(SetCodeSecondFactorRequest { enabled }, &access);
    let account = identity
        .set_code_second_factor(set(true))
        .await
        .unwrap()
        .into_inner()
        .account
        .expect("SetCodeSecondFactor returns the account");
    let two_factor = account.two_factor.unwrap_or_default();
    assert!(
        two_factor.enabled && two_factor.code_enabled,
        "{two_factor:?}"
    );
    assert!(!two_factor.totp_enabled, "{two_factor:?}");
    let enabled: TwoFactorEnabled = platform.identity_event(mi_id).await;
    assert_eq!(enabled.method, "code");

    let sign_in = || platform.sign_in_for_challenge(&phone, &password, test_device("phone-1"));
    let challenge = sign_in().await;
    assert!(
        offers_method(&challenge, SecondFactorMethod::VerificationCode),
        "{challenge:?}"
    );
    assert_eq!(challenge.contacts.len(), 1, "{challenge:?}");
    assert_eq!(challenge.contacts[0].kind(), ContactKind::Phone);
    let masked = &challenge.contacts[0].masked;
    assert!(
        masked.contains('*') && !masked.contains(&phone[3..]),
        "{masked} is not masked"
    );
    assert!(
        masked.ends_with(&phone[phone.len() - 4..]),
        "{masked} does not end like {phone}"
    );

    // A token for a contact the account does not have.
    let stranger = unique_phone_number();
    let foreign_token = platform
        .verification_token(&stranger, CodeChannel::Sms, Purpose::SignInSecondFactor)
        .await;
    expect_refusal(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::VerificationToken(foreign_token),
            )
            .await,
        Code::Unauthenticated,
        Some(Reason::SecondFactorInvalid),
        "a second-factor token for another phone",
    );

    let token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::SignInSecondFactor)
        .await;
    let signed_in = expect_tokens(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::VerificationToken(token.clone()),
            )
            .await
            .unwrap(),
    );
    assert_eq!(signed_in.mi_id, mi_id);
    platform.account(&signed_in.access_token).await.unwrap();

    let challenge = sign_in().await;
    expect_refusal(
        platform
            .complete_sign_in(&challenge.challenge_id, Proof::VerificationToken(token))
            .await,
        Code::FailedPrecondition,
        Some(Reason::VerificationTokenUsed),
        "a second-factor token used twice",
    );
    let wrong_purpose = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::PasswordReset)
        .await;
    expect_refusal(
        platform
            .complete_sign_in(
                &challenge.challenge_id,
                Proof::VerificationToken(wrong_purpose),
            )
            .await,
        Code::FailedPrecondition,
        Some(Reason::VerificationTokenInvalid),
        "a PASSWORD_RESET token as a second factor",
    );

    let account = identity
        .set_code_second_factor(set(false))
        .await
        .unwrap()
        .into_inner()
        .account
        .expect("SetCodeSecondFactor returns the account");
    let two_factor = account.two_factor.unwrap_or_default();
    assert!(
        !two_factor.enabled && !two_factor.code_enabled,
        "{two_factor:?}"
    );
    platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    platform.stop().await;
}

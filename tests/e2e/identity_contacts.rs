//! Recovery contacts and recent authentication over gRPC: adding, listing, signing in with,
//! promoting and removing a recovery contact, the refusals that change nothing, and the
//! sensitive changes that need a password or second factor proven recently (Reauthenticate).

use std::time::Duration;

use crate::support::{
    Backends, TestConfig, TestPlatform, WRONG_PASSWORD, account_contacts, authed, expect_refusal,
    in_both_modes, reason, test_device, unique_email, unique_phone_number, unix_now,
};
use mi_contracts::Reason;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::events::v1::{RecoveryContactAdded, RecoveryContactRemoved};
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use mi_proto::identity::v1::{
    ContactKind, DeleteAccountRequest, DisableTotpRequest, ReauthenticateRequest,
    RegenerateRecoveryCodesRequest, RemoveRecoveryContactRequest, SetCodeSecondFactorRequest,
    SetPrimaryContactRequest,
};
use tonic::Code;

in_both_modes!(recovery_contacts, recent_authentication);

/// A recovery email is added, listed, signs in, becomes primary; the primary cannot be
/// removed, the other can; a contact of another account or a token of another purpose is
/// refused.
async fn recovery_contacts(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();

    let email = unique_email();
    let token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::AddRecoveryContact)
        .await;
    let added = platform
        .add_recovery_contact(&access, &token)
        .await
        .unwrap();
    let both = vec![
        (ContactKind::Phone, phone.clone(), true),
        (ContactKind::Email, email.clone(), false),
    ];
    assert_eq!(account_contacts(&added), both);
    assert_eq!(
        account_contacts(&platform.account(&access).await.unwrap()),
        both
    );
    let event: RecoveryContactAdded = platform.identity_event(tokens.mi_id).await;
    assert_eq!(
        (event.kind(), event.value.as_str()),
        (ContactKind::Email, email.as_str())
    );
    let audience = event.audience.unwrap_or_default();
    assert!(audience.contacts.contains(&phone), "{audience:?}");
    assert_eq!(audience.locale, "en");

    // The recovery email signs in with the password, to the same account.
    let by_email = platform
        .sign_in_for_tokens(&email, &password, test_device("phone-1"))
        .await;
    assert_eq!(by_email.mi_id, tokens.mi_id);

    let email_primary = identity
        .set_primary_contact(authed(
            SetPrimaryContactRequest {
                value: email.clone(),
            },
            &access,
        ))
        .await
        .unwrap()
        .into_inner()
        .account
        .expect("SetPrimaryContact returns the account");
    assert_eq!(
        account_contacts(&email_primary),
        vec![
            (ContactKind::Phone, phone.clone(), false),
            (ContactKind::Email, email.clone(), true),
        ]
    );

    let remove = |value: &str| {
        authed(
            RemoveRecoveryContactRequest {
                value: value.to_owned(),
            },
            &access,
        )
    };
    expect_refusal(
        identity.remove_recovery_contact(remove(&email)).await,
        Code::FailedPrecondition,
        None,
        "removing the primary contact",
    );
    let phone_removed = identity
        .remove_recovery_contact(remove(&phone))
        .await
        .unwrap()
        .into_inner()
        .account
        .expect("RemoveRecoveryContact returns the account");
    assert_eq!(
        account_contacts(&phone_removed),
        vec![(ContactKind::Email, email.clone(), true)]
    );
    assert_eq!(
        account_contacts(&platform.account(&access).await.unwrap()),
        vec![(ContactKind::Email, email.clone(), true)]
    );
    let removed: RecoveryContactRemoved = platform.identity_event(tokens.mi_id).await;
    assert_eq!(
        (removed.kind(), removed.value.as_str()),
        (ContactKind::Phone, phone.as_str())
    );
    assert!(
        removed
            .audience
            .unwrap_or_default()
            .contacts
            .contains(&phone),
        "the removed contact is told too"
    );
    expect_refusal(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        Some(Reason::InvalidCredentials),
        "signing in with a removed phone number",
    );

    // A contact that another account has is refused, as is a token of another purpose.
    let other_phone = unique_phone_number();
    platform
        .create_account(&other_phone, CodeChannel::Sms)
        .await;
    let token = platform
        .verification_token(&other_phone, CodeChannel::Sms, Purpose::AddRecoveryContact)
        .await;
    expect_refusal(
        platform.add_recovery_contact(&access, &token).await,
        Code::AlreadyExists,
        Some(Reason::ContactInUse),
        "adding another account's phone number",
    );
    let reset_token = platform
        .verification_token(&unique_email(), CodeChannel::Email, Purpose::PasswordReset)
        .await;
    expect_refusal(
        platform.add_recovery_contact(&access, &reset_token).await,
        Code::FailedPrecondition,
        Some(Reason::VerificationTokenInvalid),
        "adding a contact with a PASSWORD_RESET token",
    );
    assert_eq!(
        account_contacts(&platform.account(&access).await.unwrap()),
        vec![(ContactKind::Email, email, true)],
        "refusals change nothing"
    );
    platform.stop().await;
}

/// Sensitive changes need a password or second factor proven within the window; after it,
/// they are refused until Reauthenticate, which a wrong password does not pass.
async fn recent_authentication(backends: Backends) {
    let config = TestConfig::new(backends)
        .with_repeatable_codes()
        .with_value("identity.recent_auth_window", "2s");
    let platform = TestPlatform::start_with(config).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    // Signing up counts as authenticating: TOTP can be turned on right away.
    let totp = platform.enable_totp(&access).await;
    assert_eq!(totp.recovery_codes.len(), 10);
    let email = unique_email();
    let email_token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::AddRecoveryContact)
        .await;

    // Wait until the window has passed, polling a harmless sensitive change (new recovery
    // codes; these are not used here).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let stale = loop {
        let request = authed(RegenerateRecoveryCodesRequest {}, &access);
        match identity.regenerate_recovery_codes(request).await {
            Ok(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "authentication still recent 15 s after sign-up with a 2 s window"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => break status,
        }
    };
    assert_eq!(
        (stale.code(), reason(&stale)),
        (
            Code::FailedPrecondition,
            Some(Reason::ReauthenticationRequired)
        ),
        "{stale:?}"
    );

    let what = "after the recent-auth window";
    expect_refusal(
        platform.add_recovery_contact(&access, &email_token).await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        &format!("AddRecoveryContact {what}"),
    );
    expect_refusal(
        identity
            .disable_totp(authed(DisableTotpRequest {}, &access))
            .await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        &format!("DisableTotp {what}"),
    );
    expect_refusal(
        identity
            .set_code_second_factor(authed(
                SetCodeSecondFactorRequest { enabled: true },
                &access,
            ))
            .await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        &format!("SetCodeSecondFactor {what}"),
    );
    expect_refusal(
        identity
            .delete_account(authed(DeleteAccountRequest {}, &access))
            .await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        &format!("DeleteAccount {what}"),
    );
    // Reading the account needs no recent authentication.
    let account = platform.account(&access).await.unwrap();
    assert_eq!(
        account_contacts(&account),
        vec![(ContactKind::Phone, phone.clone(), true)]
    );
    assert!(account.two_factor.unwrap_or_default().totp_enabled);

    let reauthenticate = |password: &str| {
        authed(
            ReauthenticateRequest {
                proof: Some(ReauthProof::Password(password.to_owned())),
            },
            &access,
        )
    };
    expect_refusal(
        identity
            .reauthenticate(reauthenticate(WRONG_PASSWORD))
            .await,
        Code::InvalidArgument,
        Some(Reason::WrongPassword),
        "Reauthenticate with a wrong password",
    );
    expect_refusal(
        platform.add_recovery_contact(&access, &email_token).await,
        Code::FailedPrecondition,
        Some(Reason::ReauthenticationRequired),
        "AddRecoveryContact after a wrong password",
    );

    let recent_until = identity
        .reauthenticate(reauthenticate(&password))
        .await
        .unwrap()
        .into_inner()
        .recent_until
        .unwrap()
        .seconds;
    let now = i64::try_from(unix_now()).unwrap();
    assert!(
        (now..=now + 3).contains(&recent_until),
        "recent until {recent_until}, now {now}, window 2 s"
    );
    let added = platform
        .add_recovery_contact(&access, &email_token)
        .await
        .unwrap();
    assert_eq!(
        account_contacts(&added),
        vec![
            (ContactKind::Phone, phone.clone(), true),
            (ContactKind::Email, email, false),
        ]
    );
    identity
        .disable_totp(authed(DisableTotpRequest {}, &access))
        .await
        .unwrap();
    // With TOTP off, the password alone signs in again.
    let signed_in = platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    assert_eq!(signed_in.mi_id, tokens.mi_id);
    platform.stop().await;
}

//! Account security over gRPC, in embedded mode and on PostgreSQL + Kafka + Redis: recovery
//! contacts, recent authentication, forgot and change password, authenticator-app (TOTP) and
//! code second factors, profile updates, account deletion, and the security alerts those
//! changes send to the account's contacts.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::time::Duration;

use mi_e2e::{
    Backends, DELIVERY_TIMEOUT, TestConfig, TestPlatform, authed, base32_decode, expect_challenge,
    expect_tokens, field_violations, reason, retry_after, rfc6238_code, strong_password,
    test_device, unique_email, unique_phone_number, unix_now,
};
use mi_platform::events;
use mi_proto::EventPayload;
use mi_proto::events::v1::{
    AccountDeleted, EventEnvelope, PasswordChanged, ProfileUpdated, RecoveryContactAdded,
    RecoveryContactRemoved, TwoFactorDisabled, TwoFactorEnabled,
};
use mi_proto::identity::v1::identity_service_client::IdentityServiceClient;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    Account, AddRecoveryContactRequest, ChangePasswordRequest, ChangePasswordResponse,
    CompleteSignInRequest, ConfirmTotpRequest, ContactKind, DeleteAccountRequest,
    DisableTotpRequest, EnrollTotpRequest, EnrollTotpResponse, ReauthenticateRequest,
    RefreshSessionRequest, RegenerateRecoveryCodesRequest, RemoveRecoveryContactRequest,
    ResetPasswordRequest, SecondFactorChallenge, SecondFactorMethod, SecondFactorProof,
    SessionTokens, SetCodeSecondFactorRequest, SetPrimaryContactRequest, SignInResponse,
    UpdateProfileRequest,
};
use mi_proto::notification::v1::InboxMessage;
use mi_proto::verification::v1::{Channel as CodeChannel, Purpose};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// A wrong password that meets no account's password.
const WRONG_PASSWORD: &str = "Not-The-Password-42!";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The platform for account tests (codes can be sent to one destination again right away),
/// with some settings overridden.
async fn start(backends: Backends, settings: &[(&str, &str)]) -> TestPlatform {
    let mut config = TestConfig::new(backends).with_repeatable_codes();
    for (key, value) in settings {
        config = config.with_value(key, *value);
    }
    TestPlatform::start_with(config).await
}

/// Asserts a refusal's code and ErrorInfo reason (none checked when `expected_reason` is
/// empty) and returns it.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    expected_reason: &str,
    what: &str,
) -> Status {
    let status = match result {
        Ok(value) => panic!("{what}: expected {code:?} {expected_reason}, got Ok({value:?})"),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        code,
        "{what}: wrong code; status {status:?} (reason {:?})",
        reason(&status)
    );
    if !expected_reason.is_empty() {
        assert_eq!(
            reason(&status),
            expected_reason,
            "{what}: wrong reason; status {status:?}"
        );
    }
    status
}

/// The contacts of an account as (kind, value, primary), phones first.
fn contacts(account: &Account) -> Vec<(ContactKind, String, bool)> {
    for contact in &account.contacts {
        assert!(
            contact.verify_time.is_some(),
            "contact {} has no verify_time",
            contact.value
        );
    }
    let mut contacts: Vec<_> = account
        .contacts
        .iter()
        .map(|contact| (contact.kind(), contact.value.clone(), contact.primary))
        .collect();
    contacts.sort();
    contacts
}

fn has_method(challenge: &SecondFactorChallenge, method: SecondFactorMethod) -> bool {
    challenge.methods.contains(&i32::from(method))
}

async fn complete(
    platform: &TestPlatform,
    challenge_id: &str,
    proof: Proof,
) -> Result<SignInResponse, Status> {
    let request = CompleteSignInRequest {
        challenge_id: challenge_id.to_owned(),
        proof: Some(SecondFactorProof { proof: Some(proof) }),
    };
    Ok(platform
        .identity()
        .await
        .complete_sign_in(request)
        .await?
        .into_inner())
}

async fn refresh(platform: &TestPlatform, refresh_token: &str) -> Result<SessionTokens, Status> {
    let request = RefreshSessionRequest {
        refresh_token: refresh_token.to_owned(),
    };
    Ok(platform
        .identity()
        .await
        .refresh_session(request)
        .await?
        .into_inner())
}

/// Asserts that a session's access token and refresh token are both refused.
async fn assert_session_ended(platform: &TestPlatform, tokens: &SessionTokens, what: &str) {
    refused(
        platform.account(&tokens.access_token).await,
        Code::Unauthenticated,
        "",
        &format!("{what}: access token"),
    );
    refused(
        refresh(platform, &tokens.refresh_token).await,
        Code::Unauthenticated,
        "",
        &format!("{what}: refresh token"),
    );
}

async fn change_password(
    identity: &mut IdentityServiceClient<Channel>,
    access_token: &str,
    current: &str,
    new: &str,
) -> Result<ChangePasswordResponse, Status> {
    let request = ChangePasswordRequest {
        current_password: current.to_owned(),
        new_password: new.to_owned(),
    };
    Ok(identity
        .change_password(authed(request, access_token))
        .await?
        .into_inner())
}

async fn add_recovery_contact(
    identity: &mut IdentityServiceClient<Channel>,
    access_token: &str,
    verification_token: &str,
) -> Result<Account, Status> {
    let request = AddRecoveryContactRequest {
        verification_token: verification_token.to_owned(),
    };
    Ok(identity
        .add_recovery_contact(authed(request, access_token))
        .await?
        .into_inner())
}

async fn reset_password(
    identity: &mut IdentityServiceClient<Channel>,
    verification_token: &str,
    new_password: &str,
) -> Result<u64, Status> {
    let request = ResetPasswordRequest {
        verification_token: verification_token.to_owned(),
        new_password: new_password.to_owned(),
    };
    Ok(identity.reset_password(request).await?.into_inner().mi_id)
}

async fn update_profile(
    identity: &mut IdentityServiceClient<Channel>,
    access_token: &str,
    request: UpdateProfileRequest,
) -> Result<Account, Status> {
    Ok(identity
        .update_profile(authed(request, access_token))
        .await?
        .into_inner())
}

fn profile_update(
    display_name: &str,
    region: &str,
    locale: &str,
    paths: Option<&[&str]>,
) -> UpdateProfileRequest {
    let mut request = UpdateProfileRequest {
        display_name: display_name.to_owned(),
        region: region.to_owned(),
        locale: locale.to_owned(),
        update_mask: None,
    };
    if let Some(paths) = paths {
        let mut mask = request.update_mask.take().unwrap_or_default();
        mask.paths = paths.iter().map(|path| (*path).to_owned()).collect();
        request.update_mask = Some(mask);
    }
    request
}

/// The TOTP code of a 30-second time step.
fn totp_at_step(secret: &[u8], step: u64) -> String {
    rfc6238_code(secret, step * 30, 6)
}

/// A 6-digit code that is not the code of any step near now.
fn wrong_totp_code(secret: &[u8]) -> String {
    let step = unix_now() / 30;
    let near: Vec<String> = (step - 3..=step + 3)
        .map(|step| totp_at_step(secret, step))
        .collect();
    ["000000", "123456", "999999", "424242"]
        .into_iter()
        .find(|candidate| !near.iter().any(|code| code == candidate))
        .unwrap()
        .to_owned()
}

/// Authenticator-app two-factor authentication, turned on.
struct Totp {
    secret: Vec<u8>,
    recovery_codes: Vec<String>,
    /// The time step of the code that confirmed enrollment; a later code is needed next.
    confirmed_step: u64,
}

impl Totp {
    /// A code the service has not accepted yet: of the current step, or the next one if the
    /// current step's code confirmed enrollment (one step of clock drift is allowed).
    fn fresh_code(&self) -> (u64, String) {
        let step = (unix_now() / 30).max(self.confirmed_step + 1);
        (step, totp_at_step(&self.secret, step))
    }
}

async fn enroll_totp(platform: &TestPlatform, access_token: &str) -> EnrollTotpResponse {
    platform
        .identity()
        .await
        .enroll_totp(authed(EnrollTotpRequest {}, access_token))
        .await
        .unwrap()
        .into_inner()
}

/// Enrolls and confirms an authenticator app for the account.
async fn enable_totp(platform: &TestPlatform, access_token: &str) -> Totp {
    let enrollment = enroll_totp(platform, access_token).await;
    let secret = base32_decode(&enrollment.secret);
    let confirmed_step = unix_now() / 30;
    let recovery_codes = platform
        .identity()
        .await
        .confirm_totp(authed(
            ConfirmTotpRequest {
                code: totp_at_step(&secret, confirmed_step),
            },
            access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .recovery_codes;
    Totp {
        secret,
        recovery_codes,
        confirmed_step,
    }
}

/// The first event of type `P` about account `mi_id` on `identity.events`.
async fn identity_event<P: EventPayload>(platform: &TestPlatform, mi_id: u64) -> P {
    let aggregate_id = mi_id.to_string();
    let event = platform
        .first_event("identity.events", |event: &EventEnvelope| {
            event.aggregate_id == aggregate_id && events::payload::<P>(event).is_some()
        })
        .await;
    events::payload::<P>(&event).unwrap().unwrap()
}

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

/// Signs in with a wrong password until the account locks (`identity.lockout.max_failures`,
/// default 5); asserts a locked account refuses even the right password.
async fn lock_account(platform: &TestPlatform, identifier: &str, password: &str) {
    for attempt in 1..=5 {
        let status = platform
            .sign_in(identifier, WRONG_PASSWORD, test_device("phone-1"))
            .await
            .unwrap_err();
        if attempt < 5 {
            assert_eq!(
                (status.code(), reason(&status).as_str()),
                (Code::Unauthenticated, "INVALID_CREDENTIALS"),
                "wrong password {attempt}: {status:?}"
            );
        } else {
            assert!(
                matches!(
                    status.code(),
                    Code::Unauthenticated | Code::ResourceExhausted
                ),
                "wrong password {attempt}: {status:?}"
            );
        }
    }
    let locked = refused(
        platform
            .sign_in(identifier, password, test_device("phone-1"))
            .await,
        Code::ResourceExhausted,
        "ACCOUNT_LOCKED",
        "the right password on a locked account",
    );
    let retry = retry_after(&locked).expect("ACCOUNT_LOCKED carries retry info");
    assert!(
        retry > Duration::ZERO && retry <= Duration::from_secs(60),
        "locked for {retry:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Recovery contacts
// ---------------------------------------------------------------------------------------------

/// A recovery email is added, listed, signs in, becomes primary; the primary cannot be
/// removed, the other can; a contact of another account or a token of another purpose is
/// refused.
async fn recovery_contacts(backends: Backends) {
    let platform = start(backends, &[]).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();

    let email = unique_email();
    let token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::AddRecoveryContact)
        .await;
    let added = add_recovery_contact(&mut identity, &access, &token)
        .await
        .unwrap();
    let both = vec![
        (ContactKind::Phone, phone.clone(), true),
        (ContactKind::Email, email.clone(), false),
    ];
    assert_eq!(contacts(&added), both);
    assert_eq!(contacts(&platform.account(&access).await.unwrap()), both);
    let event: RecoveryContactAdded = identity_event(&platform, tokens.mi_id).await;
    assert_eq!(
        (event.kind(), event.value.as_str()),
        (ContactKind::Email, email.as_str())
    );
    let audience = event.audience.unwrap_or_default();
    assert!(audience.contacts.contains(&phone), "{audience:?}");
    assert_eq!(audience.locale, "en");

    // The recovery email signs in with the password, to the same account.
    let by_email = expect_tokens(
        platform
            .sign_in(&email, &password, test_device("phone-1"))
            .await
            .unwrap(),
    );
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
        .into_inner();
    assert_eq!(
        contacts(&email_primary),
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
    refused(
        identity.remove_recovery_contact(remove(&email)).await,
        Code::FailedPrecondition,
        "",
        "removing the primary contact",
    );
    let phone_removed = identity
        .remove_recovery_contact(remove(&phone))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        contacts(&phone_removed),
        vec![(ContactKind::Email, email.clone(), true)]
    );
    assert_eq!(
        contacts(&platform.account(&access).await.unwrap()),
        vec![(ContactKind::Email, email.clone(), true)]
    );
    let removed: RecoveryContactRemoved = identity_event(&platform, tokens.mi_id).await;
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
    refused(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
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
    refused(
        add_recovery_contact(&mut identity, &access, &token).await,
        Code::AlreadyExists,
        "CONTACT_IN_USE",
        "adding another account's phone number",
    );
    let reset_token = platform
        .verification_token(&unique_email(), CodeChannel::Email, Purpose::PasswordReset)
        .await;
    refused(
        add_recovery_contact(&mut identity, &access, &reset_token).await,
        Code::FailedPrecondition,
        "VERIFICATION_TOKEN_INVALID",
        "adding a contact with a PASSWORD_RESET token",
    );
    assert_eq!(
        contacts(&platform.account(&access).await.unwrap()),
        vec![(ContactKind::Email, email, true)],
        "refusals change nothing"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_contacts_in_embedded_mode() {
    recovery_contacts(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_contacts_on_postgres_kafka_redis() {
    recovery_contacts(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// Recent authentication
// ---------------------------------------------------------------------------------------------

/// Sensitive changes need a password or second factor proven within the window; after it,
/// they are refused until Reauthenticate, which a wrong password does not pass.
async fn recent_authentication(backends: Backends) {
    let platform = start(backends, &[("identity.recent_auth_window", "2s")]).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    // Signing up counts as authenticating: TOTP can be turned on right away.
    let totp = enable_totp(&platform, &access).await;
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
        (stale.code(), reason(&stale).as_str()),
        (Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED"),
        "{stale:?}"
    );

    let what = "after the recent-auth window";
    refused(
        add_recovery_contact(&mut identity, &access, &email_token).await,
        Code::FailedPrecondition,
        "REAUTHENTICATION_REQUIRED",
        &format!("AddRecoveryContact {what}"),
    );
    refused(
        identity
            .disable_totp(authed(DisableTotpRequest {}, &access))
            .await,
        Code::FailedPrecondition,
        "REAUTHENTICATION_REQUIRED",
        &format!("DisableTotp {what}"),
    );
    refused(
        identity
            .set_code_second_factor(authed(
                SetCodeSecondFactorRequest { enabled: true },
                &access,
            ))
            .await,
        Code::FailedPrecondition,
        "REAUTHENTICATION_REQUIRED",
        &format!("SetCodeSecondFactor {what}"),
    );
    refused(
        identity
            .delete_account(authed(DeleteAccountRequest {}, &access))
            .await,
        Code::FailedPrecondition,
        "REAUTHENTICATION_REQUIRED",
        &format!("DeleteAccount {what}"),
    );
    // Reading the account needs no recent authentication.
    let account = platform.account(&access).await.unwrap();
    assert_eq!(
        contacts(&account),
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
    refused(
        identity
            .reauthenticate(reauthenticate(WRONG_PASSWORD))
            .await,
        Code::InvalidArgument,
        "WRONG_PASSWORD",
        "Reauthenticate with a wrong password",
    );
    refused(
        add_recovery_contact(&mut identity, &access, &email_token).await,
        Code::FailedPrecondition,
        "REAUTHENTICATION_REQUIRED",
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
    let added = add_recovery_contact(&mut identity, &access, &email_token)
        .await
        .unwrap();
    assert_eq!(
        contacts(&added),
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
    let signed_in = expect_tokens(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await
            .unwrap(),
    );
    assert_eq!(signed_in.mi_id, tokens.mi_id);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_authentication_in_embedded_mode() {
    recent_authentication(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_authentication_on_postgres_kafka_redis() {
    recent_authentication(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// Forgot password
// ---------------------------------------------------------------------------------------------

/// ResetPassword with a PASSWORD_RESET token: the new password works, the old one and every
/// session end, the lockout is cleared; a weak password changes nothing; an unknown contact is
/// NOT_FOUND.
async fn forgot_password(backends: Backends) {
    let platform = start(backends, &[("identity.lockout.base_duration", "60s")]).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (first, old_password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let second = expect_tokens(
        platform
            .sign_in(&phone, &old_password, test_device("tablet-1"))
            .await
            .unwrap(),
    );
    lock_account(&platform, &phone, &old_password).await;

    // A weak new password is refused and changes nothing.
    let weak_token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::PasswordReset)
        .await;
    let weak = refused(
        reset_password(&mut identity, &weak_token, "password").await,
        Code::InvalidArgument,
        "PASSWORD_POLICY",
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
    refused(
        platform
            .sign_in(&phone, &old_password, test_device("phone-1"))
            .await,
        Code::ResourceExhausted,
        "ACCOUNT_LOCKED",
        "a refused reset leaves the lockout",
    );

    let token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::PasswordReset)
        .await;
    let new_password = strong_password();
    let mi_id = reset_password(&mut identity, &token, &new_password)
        .await
        .unwrap();
    assert_eq!(mi_id, first.mi_id);

    // The lockout is gone: the new password signs in at once; the old one is wrong.
    let after = expect_tokens(
        platform
            .sign_in(&phone, &new_password, test_device("phone-1"))
            .await
            .unwrap(),
    );
    assert_eq!(after.mi_id, mi_id);
    refused(
        platform
            .sign_in(&phone, &old_password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
        "the old password after a reset",
    );
    assert_session_ended(&platform, &first, "the sign-up session after a reset").await;
    assert_session_ended(&platform, &second, "the tablet session after a reset").await;
    platform.account(&after.access_token).await.unwrap();

    let reset: PasswordChanged = identity_event(&platform, mi_id).await;
    assert!(reset.reset, "{reset:?}");
    refused(
        reset_password(&mut identity, &token, &strong_password()).await,
        Code::FailedPrecondition,
        "VERIFICATION_TOKEN_USED",
        "a reset token used twice",
    );

    // A contact no account has.
    let nobody = unique_email();
    let token = platform
        .verification_token(&nobody, CodeChannel::Email, Purpose::PasswordReset)
        .await;
    refused(
        reset_password(&mut identity, &token, &strong_password()).await,
        Code::NotFound,
        "",
        "a reset for a contact without an account",
    );

    // A reset does not turn two-factor authentication off.
    let email = unique_email();
    let (tokens, _) = platform.create_account(&email, CodeChannel::Email).await;
    let totp = enable_totp(&platform, &tokens.access_token).await;
    let token = platform
        .verification_token(&email, CodeChannel::Email, Purpose::PasswordReset)
        .await;
    let new_password = strong_password();
    reset_password(&mut identity, &token, &new_password)
        .await
        .unwrap();
    let challenge = expect_challenge(
        platform
            .sign_in(&email, &new_password, test_device("phone-1"))
            .await
            .unwrap(),
    );
    assert!(
        has_method(&challenge, SecondFactorMethod::Totp),
        "{challenge:?}"
    );
    let signed_in = expect_tokens(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::RecoveryCode(totp.recovery_codes[0].clone()),
        )
        .await
        .unwrap(),
    );
    let two_factor = platform
        .account(&signed_in.access_token)
        .await
        .unwrap()
        .two_factor
        .unwrap_or_default();
    assert!(
        two_factor.enabled && two_factor.totp_enabled,
        "{two_factor:?}"
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_in_embedded_mode() {
    forgot_password(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_on_postgres_kafka_redis() {
    forgot_password(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// Change password
// ---------------------------------------------------------------------------------------------

/// ChangePassword needs the current password; it ends every other session and keeps the
/// calling one.
async fn change_password_flow(backends: Backends) {
    let platform = start(backends, &[]).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (current, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let mi_id = current.mi_id;
    let tablet = expect_tokens(
        platform
            .sign_in(&phone, &password, test_device("tablet-1"))
            .await
            .unwrap(),
    );
    let laptop = expect_tokens(
        platform
            .sign_in(&mi_id.to_string(), &password, test_device("laptop-1"))
            .await
            .unwrap(),
    );

    let new_password = strong_password();
    refused(
        change_password(
            &mut identity,
            &current.access_token,
            WRONG_PASSWORD,
            &new_password,
        )
        .await,
        Code::InvalidArgument,
        "WRONG_PASSWORD",
        "ChangePassword with a wrong current password",
    );
    let weak = refused(
        change_password(&mut identity, &current.access_token, &password, "password").await,
        Code::InvalidArgument,
        "PASSWORD_POLICY",
        "ChangePassword to a weak password",
    );
    assert!(
        field_violations(&weak)
            .iter()
            .any(|(field, _)| field == "new_password"),
        "{weak:?}"
    );
    platform.account(&tablet.access_token).await.unwrap();

    let changed = change_password(
        &mut identity,
        &current.access_token,
        &password,
        &new_password,
    )
    .await
    .unwrap();
    assert_eq!(changed.sessions_revoked, 2);
    assert_session_ended(
        &platform,
        &tablet,
        "the tablet session after ChangePassword",
    )
    .await;
    assert_session_ended(
        &platform,
        &laptop,
        "the laptop session after ChangePassword",
    )
    .await;
    // The calling session goes on, refresh included.
    platform.account(&current.access_token).await.unwrap();
    let refreshed = refresh(&platform, &current.refresh_token).await.unwrap();
    assert_eq!(refreshed.session_id, current.session_id);
    platform.account(&refreshed.access_token).await.unwrap();

    refused(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await,
        Code::Unauthenticated,
        "INVALID_CREDENTIALS",
        "the old password after ChangePassword",
    );
    expect_tokens(
        platform
            .sign_in(&phone, &new_password, test_device("phone-1"))
            .await
            .unwrap(),
    );
    let event: PasswordChanged = identity_event(&platform, mi_id).await;
    assert!(!event.reset, "{event:?}");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_in_embedded_mode() {
    change_password_flow(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_on_postgres_kafka_redis() {
    change_password_flow(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// TOTP
// ---------------------------------------------------------------------------------------------

/// Authenticator-app enrollment, sign-in challenges answered with TOTP codes (each accepted
/// once) and recovery codes (each accepted once), locking after wrong answers, and turning it
/// off.
async fn totp(backends: Backends) {
    let platform = start(backends, &[]).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let access = tokens.access_token.clone();
    let mi_id = tokens.mi_id;

    let enrollment = enroll_totp(&platform, &access).await;
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
    refused(
        identity
            .confirm_totp(confirm(wrong_totp_code(&secret)))
            .await,
        Code::InvalidArgument,
        "WRONG_CODE",
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
    let totp = Totp {
        secret,
        recovery_codes,
        confirmed_step,
    };

    let two_factor = platform
        .account(&access)
        .await
        .unwrap()
        .two_factor
        .unwrap_or_default();
    assert!(
        two_factor.enabled && two_factor.totp_enabled,
        "{two_factor:?}"
    );
    assert!(!two_factor.code_enabled, "{two_factor:?}");
    assert_eq!(two_factor.recovery_codes_left, 10);
    let enabled: TwoFactorEnabled = identity_event(&platform, mi_id).await;
    assert_eq!(enabled.method, "totp");

    let sign_in = || async {
        expect_challenge(
            platform
                .sign_in(&phone, &password, test_device("phone-1"))
                .await
                .unwrap(),
        )
    };

    // A TOTP code answers a challenge.
    let challenge = sign_in().await;
    assert!(
        has_method(&challenge, SecondFactorMethod::Totp),
        "{challenge:?}"
    );
    assert!(
        has_method(&challenge, SecondFactorMethod::RecoveryCode),
        "{challenge:?}"
    );
    assert_eq!(challenge.reason, "two_factor");
    assert!(!challenge.challenge_id.is_empty());
    let expire = challenge.expire_time.unwrap().seconds;
    assert!(
        expire > i64::try_from(unix_now()).unwrap(),
        "expires at {expire}"
    );
    let (_, code) = totp.fresh_code();
    let signed_in = expect_tokens(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::TotpCode(code.clone()),
        )
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
    let answered = complete(
        &platform,
        &challenge.challenge_id,
        Proof::TotpCode(code.clone()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(answered.code(), Code::NotFound | Code::FailedPrecondition),
        "an answered challenge cannot be answered again: {answered:?}"
    );

    // The same TOTP code is accepted once; a recovery code answers instead.
    let challenge = sign_in().await;
    refused(
        complete(&platform, &challenge.challenge_id, Proof::TotpCode(code)).await,
        Code::Unauthenticated,
        "SECOND_FACTOR_INVALID",
        "a TOTP code used a second time",
    );
    let by_recovery_code = expect_tokens(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::RecoveryCode(totp.recovery_codes[0].clone()),
        )
        .await
        .unwrap(),
    );
    assert_eq!(by_recovery_code.mi_id, mi_id);

    // A recovery code is accepted once.
    let challenge = sign_in().await;
    refused(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::RecoveryCode(totp.recovery_codes[0].clone()),
        )
        .await,
        Code::Unauthenticated,
        "SECOND_FACTOR_INVALID",
        "a recovery code used a second time",
    );
    let two_factor = platform
        .account(&access)
        .await
        .unwrap()
        .two_factor
        .unwrap_or_default();
    assert_eq!(two_factor.recovery_codes_left, 9);

    // Wrong answers lock the challenge (identity.second_factor.max_attempts, default 5):
    // afterwards even a right answer is refused.
    let challenge = sign_in().await;
    let wrong = wrong_totp_code(&totp.secret);
    for attempt in 1..=5 {
        let status = complete(
            &platform,
            &challenge.challenge_id,
            Proof::TotpCode(wrong.clone()),
        )
        .await
        .unwrap_err();
        if attempt < 5 {
            assert_eq!(
                (status.code(), reason(&status).as_str()),
                (Code::Unauthenticated, "SECOND_FACTOR_INVALID"),
                "wrong code {attempt}: {status:?}"
            );
            let left = format!("{} attempt", 5 - attempt);
            assert!(
                status.message().contains(&left),
                "wrong code {attempt}: the message gives the attempts left: {status:?}"
            );
        } else {
            assert!(
                matches!(
                    reason(&status).as_str(),
                    "SECOND_FACTOR_INVALID" | "CHALLENGE_LOCKED"
                ),
                "wrong code {attempt}: {status:?}"
            );
        }
    }
    refused(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::RecoveryCode(totp.recovery_codes[1].clone()),
        )
        .await,
        Code::FailedPrecondition,
        "CHALLENGE_LOCKED",
        "a right answer after 5 wrong ones",
    );
    refused(
        complete(
            &platform,
            "0190b6e4-2f6a-7cc3-9d61-5f1b7c0d2a11",
            Proof::RecoveryCode(totp.recovery_codes[1].clone()),
        )
        .await,
        Code::NotFound,
        "",
        "an unknown challenge",
    );

    // Turned off (the sign-up session is recent), the password alone signs in.
    identity
        .disable_totp(authed(DisableTotpRequest {}, &access))
        .await
        .unwrap();
    let two_factor = platform
        .account(&access)
        .await
        .unwrap()
        .two_factor
        .unwrap_or_default();
    assert!(
        !two_factor.enabled && !two_factor.totp_enabled,
        "{two_factor:?}"
    );
    let disabled: TwoFactorDisabled = identity_event(&platform, mi_id).await;
    assert_eq!(disabled.method, "totp");
    expect_tokens(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await
            .unwrap(),
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_in_embedded_mode() {
    totp(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_on_postgres_kafka_redis() {
    totp(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// Code second factor
// ---------------------------------------------------------------------------------------------

/// SMS/email codes as the second factor: the challenge names the contacts masked, a
/// SIGN_IN_SECOND_FACTOR token for one of them answers it once, a token for another contact
/// does not.
async fn code_second_factor(backends: Backends) {
    let platform = start(backends, &[]).await;
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
        .into_inner();
    let two_factor = account.two_factor.unwrap_or_default();
    assert!(
        two_factor.enabled && two_factor.code_enabled,
        "{two_factor:?}"
    );
    assert!(!two_factor.totp_enabled, "{two_factor:?}");
    let enabled: TwoFactorEnabled = identity_event(&platform, mi_id).await;
    assert_eq!(enabled.method, "code");

    let sign_in = || async {
        expect_challenge(
            platform
                .sign_in(&phone, &password, test_device("phone-1"))
                .await
                .unwrap(),
        )
    };
    let challenge = sign_in().await;
    assert!(
        has_method(&challenge, SecondFactorMethod::VerificationCode),
        "{challenge:?}"
    );
    assert_eq!(challenge.masked_contacts.len(), 1, "{challenge:?}");
    let masked = &challenge.masked_contacts[0];
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
    refused(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::VerificationToken(foreign_token),
        )
        .await,
        Code::Unauthenticated,
        "SECOND_FACTOR_INVALID",
        "a second-factor token for another phone",
    );

    let token = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::SignInSecondFactor)
        .await;
    let signed_in = expect_tokens(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::VerificationToken(token.clone()),
        )
        .await
        .unwrap(),
    );
    assert_eq!(signed_in.mi_id, mi_id);
    platform.account(&signed_in.access_token).await.unwrap();

    let challenge = sign_in().await;
    refused(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::VerificationToken(token),
        )
        .await,
        Code::FailedPrecondition,
        "VERIFICATION_TOKEN_USED",
        "a second-factor token used twice",
    );
    let wrong_purpose = platform
        .verification_token(&phone, CodeChannel::Sms, Purpose::PasswordReset)
        .await;
    refused(
        complete(
            &platform,
            &challenge.challenge_id,
            Proof::VerificationToken(wrong_purpose),
        )
        .await,
        Code::FailedPrecondition,
        "VERIFICATION_TOKEN_INVALID",
        "a PASSWORD_RESET token as a second factor",
    );

    let account = identity
        .set_code_second_factor(set(false))
        .await
        .unwrap()
        .into_inner();
    let two_factor = account.two_factor.unwrap_or_default();
    assert!(
        !two_factor.enabled && !two_factor.code_enabled,
        "{two_factor:?}"
    );
    expect_tokens(
        platform
            .sign_in(&phone, &password, test_device("phone-1"))
            .await
            .unwrap(),
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_second_factor_in_embedded_mode() {
    code_second_factor(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_second_factor_on_postgres_kafka_redis() {
    code_second_factor(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------------------------

/// UpdateProfile changes only the fields its mask names, and says so in an event.
async fn profile(backends: Backends) {
    let platform = start(backends, &[]).await;
    let mut identity = platform.identity().await;
    let (tokens, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let access = tokens.access_token.clone();
    let before = platform.account(&access).await.unwrap();
    assert_eq!(
        (before.region.as_str(), before.locale.as_str()),
        ("CN", "en")
    );

    let request = profile_update("Lei", "DE", "zh-CN", Some(&["display_name", "locale"]));
    let updated = update_profile(&mut identity, &access, request)
        .await
        .unwrap();
    let expected = Account {
        display_name: "Lei".into(),
        locale: "zh-CN".into(),
        ..before.clone()
    };
    assert_eq!(updated, expected, "only the masked fields change");
    assert_eq!(platform.account(&access).await.unwrap(), expected);

    let event: ProfileUpdated = identity_event(&platform, tokens.mi_id).await;
    let mut changed = event.changed_fields.clone();
    changed.sort();
    assert_eq!(changed, vec!["display_name", "locale"], "{event:?}");
    assert_eq!(
        (
            event.display_name.as_str(),
            event.region.as_str(),
            event.locale.as_str()
        ),
        ("Lei", "CN", "zh-CN")
    );

    let region = update_profile(
        &mut identity,
        &access,
        profile_update("", "DE", "", Some(&["region"])),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            region.display_name.as_str(),
            region.region.as_str(),
            region.locale.as_str()
        ),
        ("Lei", "DE", "zh-CN")
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_in_embedded_mode() {
    profile(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_on_postgres_kafka_redis() {
    profile(Backends::Servers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_profile_updates_are_refused_and_change_nothing() {
    let platform = start(Backends::Embedded, &[]).await;
    let mut identity = platform.identity().await;
    let (tokens, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let access = tokens.access_token.clone();
    let before = platform.account(&access).await.unwrap();

    let masks: [(&str, Option<&[&str]>); 4] = [
        ("an unknown path", Some(&["email"])),
        (
            "a known and an unknown path",
            Some(&["display_name", "mi_id"]),
        ),
        ("an empty mask", Some(&[])),
        ("no mask", None),
    ];
    for (what, paths) in masks {
        refused(
            update_profile(
                &mut identity,
                &access,
                profile_update("Changed", "DE", "de", paths),
            )
            .await,
            Code::InvalidArgument,
            "",
            &format!("UpdateProfile with {what}"),
        );
    }
    for region in ["China", "cn1", "C", "ZZZ"] {
        let status = refused(
            update_profile(
                &mut identity,
                &access,
                profile_update("", region, "", Some(&["region"])),
            )
            .await,
            Code::InvalidArgument,
            "",
            &format!("UpdateProfile to region {region:?}"),
        );
        let fields: Vec<String> = field_violations(&status)
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            vec!["region".to_owned()],
            "region {region:?}: {status:?}"
        );
    }
    assert_eq!(
        platform.account(&access).await.unwrap(),
        before,
        "refused updates change nothing"
    );
    platform.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------------

/// DeleteAccount ends every session and frees the phone number for a new account.
async fn delete_account(backends: Backends) {
    let platform = start(backends, &[]).await;
    let mut identity = platform.identity().await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, CodeChannel::Sms).await;
    let mi_id = tokens.mi_id;
    let tablet = expect_tokens(
        platform
            .sign_in(&phone, &password, test_device("tablet-1"))
            .await
            .unwrap(),
    );

    identity
        .delete_account(authed(DeleteAccountRequest {}, &tokens.access_token))
        .await
        .unwrap();
    for identifier in [phone.clone(), mi_id.to_string()] {
        refused(
            platform
                .sign_in(&identifier, &password, test_device("phone-1"))
                .await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
            &format!("signing in to a deleted account by {identifier}"),
        );
    }
    assert_session_ended(
        &platform,
        &tokens,
        "the calling session after DeleteAccount",
    )
    .await;
    assert_session_ended(&platform, &tablet, "another session after DeleteAccount").await;
    let deleted: AccountDeleted = identity_event(&platform, mi_id).await;
    assert_eq!(deleted.mi_id, mi_id);

    let (again, _) = platform.create_account(&phone, CodeChannel::Sms).await;
    assert_ne!(again.mi_id, mi_id, "a new account, with a new Mi ID");
    assert_eq!(
        contacts(&platform.account(&again.access_token).await.unwrap()),
        vec![(ContactKind::Phone, phone, true)]
    );
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_account_in_embedded_mode() {
    delete_account(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_account_on_postgres_kafka_redis() {
    delete_account(Backends::Servers).await;
}

// ---------------------------------------------------------------------------------------------
// Security alerts
// ---------------------------------------------------------------------------------------------

/// Security changes reach the account's contacts as alerts, in the account's locale.
async fn security_alerts(backends: Backends) {
    let platform = start(backends, &[]).await;
    let mut identity = platform.identity().await;
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
    add_recovery_contact(&mut identity, &access, &token)
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
    change_password(&mut identity, &access, &password, &new_password)
        .await
        .unwrap();
    wait_for_alert(&platform, &phone, phone_before, mi_id, "changed").await;
    let alert = wait_for_alert(&platform, &email, email_before, mi_id, "changed").await;
    assert!(!alert.subject.is_empty(), "an email alert has a subject");

    let (phone_before, email_before) = counts().await;
    enable_totp(&platform, &access).await;
    wait_for_alert(&platform, &phone, phone_before, mi_id, "turned on").await;
    wait_for_alert(&platform, &email, email_before, mi_id, "turned on").await;

    let (phone_before, email_before) = counts().await;
    lock_account(&platform, &phone, &new_password).await;
    wait_for_alert(&platform, &phone, phone_before, mi_id, "in a row").await;
    wait_for_alert(&platform, &email, email_before, mi_id, "in a row").await;

    // An account in Chinese is alerted in Chinese.
    let chinese_phone = unique_phone_number();
    let (chinese, password) = platform
        .create_account(&chinese_phone, CodeChannel::Sms)
        .await;
    update_profile(
        &mut identity,
        &chinese.access_token,
        profile_update("", "", "zh-CN", Some(&["locale"])),
    )
    .await
    .unwrap();
    let before = platform.inbox(&chinese_phone).await.len();
    change_password(
        &mut identity,
        &chinese.access_token,
        &password,
        &strong_password(),
    )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_alerts_in_embedded_mode() {
    security_alerts(Backends::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_alerts_on_postgres_kafka_redis() {
    security_alerts(Backends::Servers).await;
}

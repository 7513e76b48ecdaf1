//! Every free-text and repeated field of every identity RPC has a documented maximum (its proto
//! comment and the README's "free-text maxima" table say the same), checked at the edge: one
//! character (or item) over it is refused with INVALID_ARGUMENT naming that field, before any
//! hashing or database work; at the maximum it is not refused for its length. One table of
//! cases drives every RPC; values are written in `é` (two bytes), so a maximum counts
//! characters, not bytes.

use mi_contracts::Reason;
use mi_proto::common::v1::Channel as CodeChannel;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::identity::v1::identity_service_client::IdentityServiceClient;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    AddRecoveryContactRequest, ChangePasswordRequest, CompleteSignInRequest, ConfirmTotpRequest,
    ReauthenticateRequest, RefreshSessionRequest, RemoveRecoveryContactRequest,
    ResetPasswordRequest, RevokeSessionRequest, SecondFactorProof, SetPrimaryContactRequest,
    SignInRequest, SignUpRequest, StartPasswordResetRequest, UpdateProfileRequest,
};
use prost_types::FieldMask;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{
    Backends, TestPlatform, WRONG_PASSWORD, authed, field_violations, in_both_modes, reason,
    test_device, unique_phone_number,
};

in_both_modes!(every_identity_field_is_refused_over_its_maximum_and_not_at_it);

/// `identity.password.max_length`'s default, which the tests keep.
const PASSWORD: usize = 128;
/// Verification tokens (EdDSA JWTs of about 800 characters at most).
const VERIFICATION_TOKEN: usize = 2048;
/// Ids identity hands out (UUIDs).
const ID: usize = 64;
/// TOTP codes.
const CODE: usize = 16;
/// Recovery codes as typed.
const RECOVERY_CODE: usize = 32;
/// Phone numbers, email addresses and Mi IDs.
const CONTACT: usize = 254;
/// Device id, model, OS and name.
const DEVICE: usize = 128;
/// Accepted terms and privacy-policy versions.
const VERSION: usize = 64;

/// One identity request, built around the value of the field under test.
enum Call {
    SignUp(SignUpRequest),
    SignIn(SignInRequest),
    CompleteSignIn(CompleteSignInRequest),
    RefreshSession(RefreshSessionRequest),
    Reauthenticate(ReauthenticateRequest),
    RevokeSession(RevokeSessionRequest),
    UpdateProfile(UpdateProfileRequest),
    AddRecoveryContact(AddRecoveryContactRequest),
    RemoveRecoveryContact(RemoveRecoveryContactRequest),
    SetPrimaryContact(SetPrimaryContactRequest),
    StartPasswordReset(StartPasswordResetRequest),
    ResetPassword(ResetPasswordRequest),
    ChangePassword(ChangePasswordRequest),
    ConfirmTotp(ConfirmTotpRequest),
}

/// A field with a maximum: its path as a field violation names it, the maximum, and the
/// request carrying a value of a given length (characters, or items for a repeated field).
struct Case {
    field: &'static str,
    max: usize,
    build: fn(usize) -> Call,
}

/// `length` characters of two bytes each.
fn text(length: usize) -> String {
    "é".repeat(length)
}

/// A sign-up that is well formed apart from its (unverifiable) token. The document versions
/// need not be current: lengths are checked before anything else.
fn sign_up() -> SignUpRequest {
    SignUpRequest {
        verification_token: "not-a-verification-token".into(),
        password: "Tangerine-Orbit-47".into(),
        region: "CN".into(),
        locale: "en".into(),
        display_name: String::new(),
        accepted_terms_version: "2024-01".into(),
        accepted_privacy_policy_version: "2024-01".into(),
        device: Some(test_device("phone-1")),
    }
}

fn sign_in() -> SignInRequest {
    SignInRequest {
        // An account no test creates: its failures (soon a CAPTCHA requirement) touch nobody.
        identifier: "+8613999999999".into(),
        password: WRONG_PASSWORD.into(),
        device: Some(test_device("phone-1")),
        captcha_pass: String::new(),
    }
}

fn with_device(edit: impl FnOnce(&mut DeviceInfo)) -> DeviceInfo {
    let mut device = test_device("phone-1");
    edit(&mut device);
    device
}

fn complete_sign_in(proof: Proof) -> Call {
    Call::CompleteSignIn(CompleteSignInRequest {
        challenge_id: "0193b1c2-0000-7000-8000-000000000000".into(),
        proof: Some(SecondFactorProof { proof: Some(proof) }),
    })
}

fn reauthenticate(proof: ReauthProof) -> Call {
    Call::Reauthenticate(ReauthenticateRequest { proof: Some(proof) })
}

fn reauthenticate_with(proof: Proof) -> Call {
    reauthenticate(ReauthProof::SecondFactor(SecondFactorProof {
        proof: Some(proof),
    }))
}

fn update_profile(paths: Vec<String>, edit: impl FnOnce(&mut UpdateProfileRequest)) -> Call {
    let mut request = UpdateProfileRequest {
        display_name: "Lei".into(),
        region: "CN".into(),
        locale: "zh-CN".into(),
        update_mask: Some(FieldMask { paths }),
    };
    edit(&mut request);
    Call::UpdateProfile(request)
}

fn display_name_only() -> Vec<String> {
    vec!["display_name".into()]
}

fn change_password(current_password: String, new_password: String) -> Call {
    Call::ChangePassword(ChangePasswordRequest {
        current_password,
        new_password,
    })
}

/// Every identity request field that has a maximum.
fn cases() -> Vec<Case> {
    let case = |field, max, build| Case { field, max, build };
    vec![
        case("verification_token", VERIFICATION_TOKEN, |n| {
            Call::SignUp(SignUpRequest {
                verification_token: text(n),
                ..sign_up()
            })
        }),
        case("password", PASSWORD, |n| {
            Call::SignUp(SignUpRequest {
                password: text(n),
                ..sign_up()
            })
        }),
        case("region", 2, |n| {
            Call::SignUp(SignUpRequest {
                region: text(n),
                ..sign_up()
            })
        }),
        case("locale", 35, |n| {
            Call::SignUp(SignUpRequest {
                locale: text(n),
                ..sign_up()
            })
        }),
        case("display_name", 64, |n| {
            Call::SignUp(SignUpRequest {
                display_name: text(n),
                ..sign_up()
            })
        }),
        case("accepted_terms_version", VERSION, |n| {
            Call::SignUp(SignUpRequest {
                accepted_terms_version: text(n),
                ..sign_up()
            })
        }),
        case("accepted_privacy_policy_version", VERSION, |n| {
            Call::SignUp(SignUpRequest {
                accepted_privacy_policy_version: text(n),
                ..sign_up()
            })
        }),
        case("device.device_id", DEVICE, |n| {
            Call::SignUp(SignUpRequest {
                device: Some(with_device(|device| device.device_id = text(n))),
                ..sign_up()
            })
        }),
        case("device.model", DEVICE, |n| {
            Call::SignUp(SignUpRequest {
                device: Some(with_device(|device| device.model = text(n))),
                ..sign_up()
            })
        }),
        case("device.os", DEVICE, |n| {
            Call::SignUp(SignUpRequest {
                device: Some(with_device(|device| device.os = text(n))),
                ..sign_up()
            })
        }),
        case("device.name", DEVICE, |n| {
            Call::SignUp(SignUpRequest {
                device: Some(with_device(|device| device.name = text(n))),
                ..sign_up()
            })
        }),
        case("identifier", CONTACT, |n| {
            Call::SignIn(SignInRequest {
                identifier: text(n),
                ..sign_in()
            })
        }),
        case("identifier", CONTACT, |n| {
            Call::StartPasswordReset(StartPasswordResetRequest {
                identifier: text(n),
            })
        }),
        case("password", PASSWORD, |n| {
            Call::SignIn(SignInRequest {
                password: text(n),
                ..sign_in()
            })
        }),
        case("captcha_pass", VERIFICATION_TOKEN, |n| {
            Call::SignIn(SignInRequest {
                captcha_pass: text(n),
                ..sign_in()
            })
        }),
        case("device.device_id", DEVICE, |n| {
            Call::SignIn(SignInRequest {
                device: Some(with_device(|device| device.device_id = text(n))),
                ..sign_in()
            })
        }),
        case("device.model", DEVICE, |n| {
            Call::SignIn(SignInRequest {
                device: Some(with_device(|device| device.model = text(n))),
                ..sign_in()
            })
        }),
        case("device.os", DEVICE, |n| {
            Call::SignIn(SignInRequest {
                device: Some(with_device(|device| device.os = text(n))),
                ..sign_in()
            })
        }),
        case("device.name", DEVICE, |n| {
            Call::SignIn(SignInRequest {
                device: Some(with_device(|device| device.name = text(n))),
                ..sign_in()
            })
        }),
        case("challenge_id", ID, |n| {
            Call::CompleteSignIn(CompleteSignInRequest {
                challenge_id: text(n),
                proof: Some(SecondFactorProof {
                    proof: Some(Proof::TotpCode("123456".into())),
                }),
            })
        }),
        case("proof.totp_code", CODE, |n| {
            complete_sign_in(Proof::TotpCode(text(n)))
        }),
        case("proof.recovery_code", RECOVERY_CODE, |n| {
            complete_sign_in(Proof::RecoveryCode(text(n)))
        }),
        case("proof.verification_token", VERIFICATION_TOKEN, |n| {
            complete_sign_in(Proof::VerificationToken(text(n)))
        }),
        case("refresh_token", 256, |n| {
            Call::RefreshSession(RefreshSessionRequest {
                refresh_token: text(n),
            })
        }),
        case("password", PASSWORD, |n| {
            reauthenticate(ReauthProof::Password(text(n)))
        }),
        case("second_factor.totp_code", CODE, |n| {
            reauthenticate_with(Proof::TotpCode(text(n)))
        }),
        case("second_factor.recovery_code", RECOVERY_CODE, |n| {
            reauthenticate_with(Proof::RecoveryCode(text(n)))
        }),
        case(
            "second_factor.verification_token",
            VERIFICATION_TOKEN,
            |n| reauthenticate_with(Proof::VerificationToken(text(n))),
        ),
        case("session_id", ID, |n| {
            Call::RevokeSession(RevokeSessionRequest {
                session_id: text(n),
            })
        }),
        case("display_name", 64, |n| {
            update_profile(display_name_only(), |request| {
                request.display_name = text(n);
            })
        }),
        case("region", 2, |n| {
            update_profile(display_name_only(), |request| request.region = text(n))
        }),
        case("locale", 35, |n| {
            update_profile(display_name_only(), |request| request.locale = text(n))
        }),
        // Items: a mask names each of the three fields at most once.
        case("update_mask.paths", 3, |n| {
            update_profile(vec!["display_name".into(); n], |_| {})
        }),
        // Characters of one path.
        case("update_mask.paths", 32, |n| {
            update_profile(vec![text(n)], |_| {})
        }),
        case("verification_token", VERIFICATION_TOKEN, |n| {
            Call::AddRecoveryContact(AddRecoveryContactRequest {
                verification_token: text(n),
            })
        }),
        case("value", CONTACT, |n| {
            Call::RemoveRecoveryContact(RemoveRecoveryContactRequest { value: text(n) })
        }),
        case("value", CONTACT, |n| {
            Call::SetPrimaryContact(SetPrimaryContactRequest { value: text(n) })
        }),
        case("verification_token", VERIFICATION_TOKEN, |n| {
            Call::ResetPassword(ResetPasswordRequest {
                verification_token: text(n),
                new_password: "Tangerine-Orbit-47".into(),
            })
        }),
        case("new_password", PASSWORD, |n| {
            Call::ResetPassword(ResetPasswordRequest {
                verification_token: "not-a-verification-token".into(),
                new_password: text(n),
            })
        }),
        case("current_password", PASSWORD, |n| {
            change_password(text(n), "Tangerine-Orbit-47".into())
        }),
        case("new_password", PASSWORD, |n| {
            change_password(WRONG_PASSWORD.into(), text(n))
        }),
        case("code", CODE, |n| {
            Call::ConfirmTotp(ConfirmTotpRequest { code: text(n) })
        }),
    ]
}

/// Sends `call` with the access token (ignored by the RPCs that take none).
async fn send(
    client: &mut IdentityServiceClient<Channel>,
    access: &str,
    call: Call,
) -> Result<(), Status> {
    match call {
        Call::SignUp(request) => client.sign_up(authed(request, access)).await.map(drop),
        Call::SignIn(request) => client.sign_in(authed(request, access)).await.map(drop),
        Call::CompleteSignIn(request) => client
            .complete_sign_in(authed(request, access))
            .await
            .map(drop),
        Call::RefreshSession(request) => client
            .refresh_session(authed(request, access))
            .await
            .map(drop),
        Call::Reauthenticate(request) => client
            .reauthenticate(authed(request, access))
            .await
            .map(drop),
        Call::RevokeSession(request) => client
            .revoke_session(authed(request, access))
            .await
            .map(drop),
        Call::UpdateProfile(request) => client
            .update_profile(authed(request, access))
            .await
            .map(drop),
        Call::AddRecoveryContact(request) => client
            .add_recovery_contact(authed(request, access))
            .await
            .map(drop),
        Call::RemoveRecoveryContact(request) => client
            .remove_recovery_contact(authed(request, access))
            .await
            .map(drop),
        Call::SetPrimaryContact(request) => client
            .set_primary_contact(authed(request, access))
            .await
            .map(drop),
        Call::StartPasswordReset(request) => client.start_password_reset(request).await.map(drop),
        Call::ResetPassword(request) => client
            .reset_password(authed(request, access))
            .await
            .map(drop),
        Call::ChangePassword(request) => client
            .change_password(authed(request, access))
            .await
            .map(drop),
        Call::ConfirmTotp(request) => client.confirm_totp(authed(request, access)).await.map(drop),
    }
}

impl Call {
    fn rpc(&self) -> &'static str {
        match self {
            Self::SignUp(_) => "SignUp",
            Self::SignIn(_) => "SignIn",
            Self::CompleteSignIn(_) => "CompleteSignIn",
            Self::RefreshSession(_) => "RefreshSession",
            Self::Reauthenticate(_) => "Reauthenticate",
            Self::RevokeSession(_) => "RevokeSession",
            Self::UpdateProfile(_) => "UpdateProfile",
            Self::AddRecoveryContact(_) => "AddRecoveryContact",
            Self::RemoveRecoveryContact(_) => "RemoveRecoveryContact",
            Self::SetPrimaryContact(_) => "SetPrimaryContact",
            Self::StartPasswordReset(_) => "StartPasswordReset",
            Self::ResetPassword(_) => "ResetPassword",
            Self::ChangePassword(_) => "ChangePassword",
            Self::ConfirmTotp(_) => "ConfirmTotp",
        }
    }
}

/// The problems of `status`'s violations of `field` that are about its length.
fn length_problems(status: &Status, field: &str) -> Vec<String> {
    field_violations(status)
        .into_iter()
        .filter(|(named, problem)| named == field && problem.contains("at most"))
        .map(|(_, problem)| problem)
        .collect()
}

/// A refusal in one line: code, reason and field violations.
fn summary(status: &Status) -> String {
    let violations = field_violations(status);
    format!("{:?} {:?} {violations:.80?}", status.code(), reason(status))
}

/// Whether `status` refuses `field`, and only it, for being over `max`.
fn refused_over(status: &Status, field: &str, max: usize) -> bool {
    status.code() == Code::InvalidArgument
        && reason(status) == Some(Reason::InvalidArgument)
        && field_violations(status).len() == 1
        && length_problems(status, field)
            .iter()
            .any(|problem| problem.contains(&format!("at most {max} ")))
}

async fn every_identity_field_is_refused_over_its_maximum_and_not_at_it(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let (tokens, _) = platform
        .create_account(&unique_phone_number(), CodeChannel::Sms)
        .await;
    let access = tokens.access_token;
    let mut client = platform.identity().await;
    let mut failures = Vec::new();
    for Case { field, max, build } in cases() {
        let over = build(max + 1);
        let what = format!("{} with {field} one over {max}", over.rpc());
        match send(&mut client, &access, over).await {
            Err(status) if refused_over(&status, field, max) => {}
            Err(status) => failures.push(format!("{what}: {}", summary(&status))),
            Ok(()) => failures.push(format!("{what}: accepted")),
        }

        let at_max = build(max);
        let what = format!("{} with {field} at {max}", at_max.rpc());
        match send(&mut client, &access, at_max).await {
            Err(status) if !length_problems(&status, field).is_empty() => {
                failures.push(format!(
                    "{what}: refused for its length: {}",
                    summary(&status)
                ));
            }
            Err(status) if matches!(status.code(), Code::Internal | Code::Unknown) => {
                failures.push(format!("{what}: {}", summary(&status)));
            }
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases().len(),
        failures.join("\n")
    );
    platform.stop().await;
}

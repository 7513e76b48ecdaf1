//! The documented maxima of identity's free-text and repeated request fields (the proto
//! comments and the README's table say the same), checked before a request reaches the domain:
//! an over-long field is refused with INVALID_ARGUMENT and a field violation naming its proto
//! path, before any password is hashed or any row read. The domain's own parsers then check
//! each field's form.

use mi_contracts::MAX_LOCALE_LEN;
use mi_contracts::text::{self, MAX_CODE_CHARS, MAX_ID_CHARS, TooLong};
use mi_platform::contact::MAX_CONTACT_CHARS;
use mi_proto::contracts::device_length_limits;
use mi_proto::identity::v1 as api;

use crate::domain::MAX_DISPLAY_NAME_CHARS;
use crate::domain::legal::MAX_VERSION_CHARS;

/// Verification tokens are EdDSA JWTs of at most about 800 characters (the subject, a contact,
/// is the longest claim).
const MAX_VERIFICATION_TOKEN_CHARS: usize = 2048;
/// CAPTCHA passes are EdDSA JWTs like verification tokens, with an identifier as subject.
const MAX_CAPTCHA_PASS_CHARS: usize = 2048;
/// Refresh tokens are `<session id>.<43 base64url characters>`, 80 characters.
const MAX_REFRESH_TOKEN_CHARS: usize = 256;
/// Recovery codes are `xxxxx-xxxxx`; room for spaces a person types.
const MAX_RECOVERY_CODE_CHARS: usize = 32;
/// ISO 3166-1 alpha-2.
const MAX_REGION_CHARS: usize = 2;
/// An update mask names each of the three profile fields at most once.
const MAX_MASK_PATHS: usize = 3;
/// The longest profile path is 12 characters.
const MAX_MASK_PATH_CHARS: usize = 32;

/// One field: its proto path, its value and its maximum.
type Field<'a> = (&'static str, &'a str, usize);

/// A second-factor proof's one field, named by `paths`; none when the proof is missing.
fn proof(paths: ProofPaths, proof: Option<&api::SecondFactorProof>) -> Option<Field<'_>> {
    use api::second_factor_proof::Proof;
    Some(match proof?.proof.as_ref()? {
        Proof::TotpCode(code) => (paths.totp_code, code.as_str(), MAX_CODE_CHARS),
        Proof::RecoveryCode(code) => (paths.recovery_code, code.as_str(), MAX_RECOVERY_CODE_CHARS),
        Proof::VerificationToken(token) => (
            paths.verification_token,
            token.as_str(),
            MAX_VERIFICATION_TOKEN_CHARS,
        ),
    })
}

/// The paths of a proof's fields in one request message.
#[derive(Clone, Copy)]
struct ProofPaths {
    totp_code: &'static str,
    recovery_code: &'static str,
    verification_token: &'static str,
}

/// CompleteSignIn's `proof`.
const PROOF: ProofPaths = ProofPaths {
    totp_code: "proof.totp_code",
    recovery_code: "proof.recovery_code",
    verification_token: "proof.verification_token",
};

/// Reauthenticate's `second_factor`.
const SECOND_FACTOR: ProofPaths = ProofPaths {
    totp_code: "second_factor.totp_code",
    recovery_code: "second_factor.recovery_code",
    verification_token: "second_factor.verification_token",
};

/// SignUp's fields; passwords are bounded by the policy's `max_password_chars`.
pub(super) fn sign_up(
    request: &api::SignUpRequest,
    max_password_chars: usize,
) -> Result<(), TooLong> {
    let mut fields = vec![
        (
            "verification_token",
            request.verification_token.as_str(),
            MAX_VERIFICATION_TOKEN_CHARS,
        ),
        ("password", &request.password, max_password_chars),
        ("region", &request.region, MAX_REGION_CHARS),
        ("locale", &request.locale, MAX_LOCALE_LEN),
        (
            "display_name",
            &request.display_name,
            MAX_DISPLAY_NAME_CHARS,
        ),
    ];
    fields.extend(versions(
        &request.accepted_terms_version,
        &request.accepted_privacy_policy_version,
    ));
    fields.extend(device_length_limits(request.device.as_ref()));
    text::check_lengths(&fields)
}

/// SignIn's fields.
pub(super) fn sign_in(
    request: &api::SignInRequest,
    max_password_chars: usize,
) -> Result<(), TooLong> {
    let mut fields = vec![
        ("identifier", request.identifier.as_str(), MAX_CONTACT_CHARS),
        ("password", &request.password, max_password_chars),
        (
            "captcha_pass",
            &request.captcha_pass,
            MAX_CAPTCHA_PASS_CHARS,
        ),
    ];
    fields.extend(device_length_limits(request.device.as_ref()));
    text::check_lengths(&fields)
}

/// CompleteSignIn's fields.
pub(super) fn complete_sign_in(request: &api::CompleteSignInRequest) -> Result<(), TooLong> {
    let mut fields = vec![("challenge_id", request.challenge_id.as_str(), MAX_ID_CHARS)];
    fields.extend(proof(PROOF, request.proof.as_ref()));
    text::check_lengths(&fields)
}

/// Reauthenticate's fields.
pub(super) fn reauthenticate(
    request: &api::ReauthenticateRequest,
    max_password_chars: usize,
) -> Result<(), TooLong> {
    use api::reauthenticate_request::Proof;
    let field = match &request.proof {
        Some(Proof::Password(password)) => {
            Some(("password", password.as_str(), max_password_chars))
        }
        Some(Proof::SecondFactor(second_factor)) => proof(SECOND_FACTOR, Some(second_factor)),
        None => None,
    };
    text::check_lengths(field.as_slice())
}

/// RefreshSession's fields.
pub(super) fn refresh_session(request: &api::RefreshSessionRequest) -> Result<(), TooLong> {
    text::check_lengths(&[(
        "refresh_token",
        &request.refresh_token,
        MAX_REFRESH_TOKEN_CHARS,
    )])
}

/// RevokeSession's fields.
pub(super) fn revoke_session(request: &api::RevokeSessionRequest) -> Result<(), TooLong> {
    text::check_lengths(&[("session_id", &request.session_id, MAX_ID_CHARS)])
}

/// UpdateProfile's fields, every one whether the mask names it or not.
pub(super) fn update_profile(request: &api::UpdateProfileRequest) -> Result<(), TooLong> {
    let paths = request
        .update_mask
        .as_ref()
        .map_or(&[][..], |mask| mask.paths.as_slice());
    text::check_items("update_mask.paths", paths.len(), MAX_MASK_PATHS)?;
    let mut fields = vec![
        (
            "display_name",
            request.display_name.as_str(),
            MAX_DISPLAY_NAME_CHARS,
        ),
        ("region", &request.region, MAX_REGION_CHARS),
        ("locale", &request.locale, MAX_LOCALE_LEN),
    ];
    fields.extend(
        paths
            .iter()
            .map(|path| ("update_mask.paths", path.as_str(), MAX_MASK_PATH_CHARS)),
    );
    text::check_lengths(&fields)
}

/// AddRecoveryContact's fields.
pub(super) fn add_recovery_contact(
    request: &api::AddRecoveryContactRequest,
) -> Result<(), TooLong> {
    text::check_lengths(&[(
        "verification_token",
        &request.verification_token,
        MAX_VERIFICATION_TOKEN_CHARS,
    )])
}

/// RemoveRecoveryContact's and SetPrimaryContact's one field, the contact's value.
pub(super) fn contact_value(value: &str) -> Result<(), TooLong> {
    text::check_lengths(&[("value", value, MAX_CONTACT_CHARS)])
}

/// StartPasswordReset's one field.
pub(super) fn start_password_reset(
    request: &api::StartPasswordResetRequest,
) -> Result<(), TooLong> {
    text::check_lengths(&[("identifier", &request.identifier, MAX_CONTACT_CHARS)])
}

/// AcceptLegalDocuments' fields.
pub(super) fn accept_legal_documents(
    request: &api::AcceptLegalDocumentsRequest,
) -> Result<(), TooLong> {
    let mut fields = vec![("challenge_id", request.challenge_id.as_str(), MAX_ID_CHARS)];
    fields.extend(versions(
        &request.accepted_terms_version,
        &request.accepted_privacy_policy_version,
    ));
    text::check_lengths(&fields)
}

/// The accepted document versions, named as SignUp and AcceptLegalDocuments name them.
fn versions<'a>(terms: &'a str, privacy_policy: &'a str) -> [(&'static str, &'a str, usize); 2] {
    [
        ("accepted_terms_version", terms, MAX_VERSION_CHARS),
        (
            "accepted_privacy_policy_version",
            privacy_policy,
            MAX_VERSION_CHARS,
        ),
    ]
}

/// ResetPassword's fields.
pub(super) fn reset_password(
    request: &api::ResetPasswordRequest,
    max_password_chars: usize,
) -> Result<(), TooLong> {
    text::check_lengths(&[
        (
            "verification_token",
            &request.verification_token,
            MAX_VERIFICATION_TOKEN_CHARS,
        ),
        ("new_password", &request.new_password, max_password_chars),
    ])
}

/// ChangePassword's fields.
pub(super) fn change_password(
    request: &api::ChangePasswordRequest,
    max_password_chars: usize,
) -> Result<(), TooLong> {
    text::check_lengths(&[
        (
            "current_password",
            &request.current_password,
            max_password_chars,
        ),
        ("new_password", &request.new_password, max_password_chars),
    ])
}

/// ConfirmTotp's fields.
pub(super) fn confirm_totp(request: &api::ConfirmTotpRequest) -> Result<(), TooLong> {
    text::check_lengths(&[("code", &request.code, MAX_CODE_CHARS)])
}

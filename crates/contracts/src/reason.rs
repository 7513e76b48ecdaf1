//! The machine-readable reasons of the errors a client can see, in `google.rpc.ErrorInfo`.

/// The `ErrorInfo.domain` of every error this platform returns.
pub const ERROR_DOMAIN: &str = "mi-account";

/// Why a request failed, sent as `ErrorInfo.reason` (SCREAMING_SNAKE_CASE on the wire). A UI
/// branches on these, never on the message text; servers and tests both name them through
/// this enum, so a renamed reason cannot drift between them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// An account already uses this phone number or email.
    AccountExists,
    /// The request needs a solved CAPTCHA first: an answer (SendCode, ResendCode) or a CAPTCHA
    /// pass from PassCaptcha (SignIn, after failed sign-ins for the identifier).
    CaptchaRequired,
    /// The sign-in challenge is past its lifetime: sign in again.
    ChallengeExpired,
    /// Too many wrong second-factor proofs for this challenge.
    ChallengeLocked,
    /// This client sends too often and is blocked for a while.
    ClientBlocked,
    /// The code is wrong (verification's CheckCode).
    CodeMismatch,
    /// A terms-of-service or privacy-policy version that is not the current one (an old one,
    /// or one that never existed): show the current documents (GetLegalDocuments), ask again.
    ConsentVersionOutdated,
    /// The contact belongs to an account already.
    ContactInUse,
    /// Codes cannot be sent to this country.
    CountryNotSupported,
    /// The device does not support this Find Device command (e.g. it cannot ring).
    CapabilityUnsupported,
    /// The Find Device command finished already (done, failed or expired): it can no longer be
    /// canceled.
    CommandFinished,
    /// The device acknowledged an erase already: it cannot be erased again.
    DeviceErased,
    /// An erase of the device is waiting for it already.
    ErasePending,
    /// Find Device is off on the device: turn it on on the device first.
    FindDeviceOff,
    /// The device token is malformed, not signed by the enrolled key of that account's device,
    /// expired, too long-lived or replayed.
    DeviceTokenInvalid,
    /// The access token is invalid, expired or of another kind.
    InvalidAccessToken,
    /// The identifier or password is wrong.
    InvalidCredentials,
    /// The second-factor method is not one this account or challenge allows.
    MethodNotAllowed,
    /// No access token was sent.
    MissingAccessToken,
    /// Too many wrong passwords for this identifier: no password is checked for it until the
    /// retry delay is over (the same for an identifier that names no account).
    PasswordDelayed,
    /// The new password does not meet the policy.
    PasswordPolicy,
    /// The account's primary contact cannot be removed.
    PrimaryContact,
    /// The device was erased and its hardware stays bound to its owner's account (reactivation
    /// lock) until the owner removes it; metadata `owner_contact` names the owner's masked
    /// contact where identity refuses a sign-in.
    ReactivationLocked,
    /// This action needs a recent re-authentication.
    ReauthenticationRequired,
    /// The refresh token is unknown or expired.
    RefreshTokenInvalid,
    /// A refresh token was used twice: the session is revoked.
    RefreshTokenReused,
    /// Too many wrong second-factor proofs for the account: wait for the retry delay.
    SecondFactorDelayed,
    /// The second-factor proof is wrong.
    SecondFactorInvalid,
    /// The send token of a challenge contact is past its time (the challenge's): sign in, or
    /// start the password reset, again.
    SendTokenExpired,
    /// The send token of a challenge contact is forged or altered, or was used with another
    /// challenge, contact or purpose than it was issued for.
    SendTokenInvalid,
    /// The session reached its maximum lifetime (`identity.tokens.session_max_lifetime`):
    /// sign in again.
    SessionExpired,
    /// The session was revoked.
    SessionRevoked,
    /// A device's cloud-sync settings changed since the version the update was made from:
    /// read them again, then change them.
    SyncSettingsStale,
    /// The terms or the privacy policy were not accepted.
    TermsNotAccepted,
    /// The account has the most recovery contacts allowed.
    TooManyContacts,
    /// Too many codes were sent to this destination.
    TooManySends,
    /// TOTP is enabled already.
    TotpAlreadyEnabled,
    /// TOTP is not enabled.
    TotpNotEnabled,
    /// TOTP enrollment was not started.
    TotpNotEnrolled,
    /// Two-factor authentication is not enabled.
    TwoFactorNotEnabled,
    /// The verification was approved already.
    VerificationAlreadyApproved,
    /// The verification expired: send a new code.
    VerificationExpired,
    /// Too many wrong codes: the verification is locked.
    VerificationLocked,
    /// The verification token is invalid, expired or for another purpose.
    VerificationTokenInvalid,
    /// The verification token was used already.
    VerificationTokenUsed,
    /// The code is wrong (a code checked by identity).
    WrongCode,
    /// The password is wrong.
    WrongPassword,

    // The default reason of each status code, for errors that name no more precise one.
    /// A field is missing, too long or malformed; metadata `field` names it.
    InvalidArgument,
    /// The named entity does not exist (or is not the caller's).
    NotFound,
    /// The entity to create exists already.
    AlreadyExists,
    /// The operation is not allowed in the current state.
    FailedPrecondition,
    /// A concurrent change won: read again, then retry.
    Aborted,
    /// A limit was hit; metadata `retry_after_seconds` says when to retry.
    RateLimited,
    /// The caller is not authenticated.
    Unauthenticated,
    /// The caller may not do this.
    PermissionDenied,
    /// A dependency is down; retry later.
    Unavailable,
    /// A bug or an unexpected failure; nothing about it is revealed.
    Internal,
}

impl Reason {
    /// The reason as sent in `ErrorInfo.reason`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn wire_names_are_screaming_snake_case_and_round_trip() {
        for reason in Reason::iter() {
            let name = reason.as_str();
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
            assert_eq!(name.parse::<Reason>(), Ok(reason));
        }
        assert_eq!(
            Reason::VerificationTokenUsed.as_str(),
            "VERIFICATION_TOKEN_USED"
        );
        assert_eq!(Reason::TotpNotEnrolled.to_string(), "TOTP_NOT_ENROLLED");
    }
}

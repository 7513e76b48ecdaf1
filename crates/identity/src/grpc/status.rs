//! The refusals several families share, built once; each family's file maps its own error
//! enum onto these and onto its own.

use std::time::Duration;

use mi_contracts::Reason;
use mi_platform::{ErrorCode, ServiceError};

use crate::domain::OutdatedVersion;

/// A verification token that is invalid, expired or for another purpose.
pub(super) fn token_invalid() -> ServiceError {
    ServiceError::failed_precondition(
        Reason::VerificationTokenInvalid,
        "verification_token",
        "the verification token is invalid, expired or for another purpose; verify the contact again",
    )
}

/// A verification token spent before.
pub(super) fn token_used() -> ServiceError {
    ServiceError::failed_precondition(
        Reason::VerificationTokenUsed,
        "verification_token",
        "this verification token was already used; verify the contact again",
    )
}

/// The device's hardware is locked to another account after an erase; the refusal names
/// that account's masked contact, so whoever holds the device knows whom to ask.
pub(super) fn reactivation_locked(owner_contact: &str) -> ServiceError {
    ServiceError::failed_precondition(
        Reason::ReactivationLocked,
        "device.hardware_id",
        format!(
            "this device was erased and stays locked to the account of {owner_contact}; sign in \
             to that account, or ask its owner to remove the device"
        ),
    )
    .with_metadata("owner_contact", owner_contact)
}

/// Too many wrong passwords for the identifier: the next one waits, unchecked.
pub(super) fn password_delayed(retry_after: Duration) -> ServiceError {
    too_many(
        Reason::PasswordDelayed,
        "identifier password attempts",
        ("too many wrong passwords", " or reset the password"),
        retry_after,
    )
}

/// Too many wrong second-factor proofs: the next one waits.
pub(super) fn factor_delayed(retry_after: Duration) -> ServiceError {
    too_many(
        Reason::SecondFactorDelayed,
        "account second-factor attempts",
        ("too many wrong codes", ""),
        retry_after,
    )
}

/// RESOURCE_EXHAUSTED for `subject` with retry info: "{what}; try again in N s{advice}".
fn too_many(
    reason: Reason,
    subject: &str,
    (what, advice): (&str, &str),
    retry_after: Duration,
) -> ServiceError {
    let seconds = retry_after.as_secs().max(1);
    let description = format!("{what}; try again in {seconds} s{advice}");
    ServiceError::rate_limited(subject, description, retry_after).with_reason(reason)
}

/// A new password that breaks the policy.
pub(super) fn weak_password(field: &str, problem: &str) -> ServiceError {
    ServiceError::invalid_field(field, problem).with_reason(Reason::PasswordPolicy)
}

/// A wrong current password, in `field`.
pub(super) fn wrong_password(field: &str) -> ServiceError {
    ServiceError::invalid_field(field, "is wrong").with_reason(Reason::WrongPassword)
}

/// The caller's account is gone.
pub(super) fn account_gone() -> ServiceError {
    ServiceError::new(ErrorCode::NotFound, "the account no longer exists")
}

/// A sensitive change without a recent password or second factor.
pub(super) fn reauthentication_required() -> ServiceError {
    ServiceError::reauthentication_required()
}

/// A document to accept that the request does not name.
pub(super) fn terms_not_accepted() -> ServiceError {
    ServiceError::failed_precondition(
        Reason::TermsNotAccepted,
        "accepted_terms_version",
        "accept the terms of service and the privacy policy to continue",
    )
}

/// Document versions that are not the current ones, each a field violation naming the
/// current version.
pub(super) fn consent_outdated(outdated: &[OutdatedVersion]) -> ServiceError {
    let first = outdated
        .first()
        .map_or("accepted_terms_version", |one| one.kind.field());
    outdated
        .iter()
        .fold(
            ServiceError::new(
                ErrorCode::InvalidArgument,
                "not the current terms of service or privacy policy",
            ),
            |error, one| {
                let problem = format!("is not the current version {}", one.current);
                error.with_field_violation(one.kind.field(), problem)
            },
        )
        .with_reason(Reason::ConsentVersionOutdated)
        .with_metadata("field", first)
}

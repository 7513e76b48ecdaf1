//! Helpers for account-security tests: recovery contacts, password changes, profile updates,
//! an authenticator app turned on with the harness's own RFC 6238 codes, and an identifier that
//! failed until it needs a CAPTCHA.

use mi_contracts::Reason;
use mi_proto::identity::v1::{
    Account, AddRecoveryContactRequest, ChangePasswordRequest, ChangePasswordResponse,
    ConfirmTotpRequest, ContactKind, EnrollTotpRequest, EnrollTotpResponse, TwoFactorStatus,
    UpdateProfileRequest,
};
use tonic::{Code, Status};

use crate::support::{
    TestPlatform, authed, base32_decode, expect_refusal, test_device, totp_at_step, unix_now,
};

/// A wrong password that meets no account's password.
pub(crate) const WRONG_PASSWORD: &str = "Not-The-Password-42!";

impl TestPlatform {
    /// AddRecoveryContact with an ADD_RECOVERY_CONTACT verification token for the new contact.
    pub(crate) async fn add_recovery_contact(
        &self,
        access_token: &str,
        verification_token: &str,
    ) -> Result<Account, Status> {
        let request = AddRecoveryContactRequest {
            verification_token: verification_token.to_owned(),
        };
        Ok(self
            .identity()
            .await
            .add_recovery_contact(authed(request, access_token))
            .await?
            .into_inner()
            .account
            .expect("AddRecoveryContact returns the account"))
    }

    /// ChangePassword from `current` to `new`.
    pub(crate) async fn change_password(
        &self,
        access_token: &str,
        current: &str,
        new: &str,
    ) -> Result<ChangePasswordResponse, Status> {
        let request = ChangePasswordRequest {
            current_password: current.to_owned(),
            new_password: new.to_owned(),
        };
        Ok(self
            .identity()
            .await
            .change_password(authed(request, access_token))
            .await?
            .into_inner())
    }

    /// UpdateProfile with a request (see [`profile_update`]).
    pub(crate) async fn update_profile(
        &self,
        access_token: &str,
        request: UpdateProfileRequest,
    ) -> Result<Account, Status> {
        Ok(self
            .identity()
            .await
            .update_profile(authed(request, access_token))
            .await?
            .into_inner())
    }

    /// The two-factor settings GetAccount shows (the default when it shows none).
    pub(crate) async fn two_factor(&self, access_token: &str) -> TwoFactorStatus {
        self.account(access_token)
            .await
            .unwrap()
            .two_factor
            .unwrap_or_default()
    }

    /// EnrollTotp: a new authenticator-app secret, not yet confirmed.
    pub(crate) async fn enroll_totp(&self, access_token: &str) -> EnrollTotpResponse {
        self.identity()
            .await
            .enroll_totp(authed(EnrollTotpRequest {}, access_token))
            .await
            .unwrap()
            .into_inner()
    }

    /// Enrolls and confirms an authenticator app for the account.
    pub(crate) async fn enable_totp(&self, access_token: &str) -> EnabledTotp {
        let enrollment = self.enroll_totp(access_token).await;
        let secret = base32_decode(&enrollment.secret);
        let confirmed_step = unix_now() / 30;
        let recovery_codes = self
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
        EnabledTotp {
            secret,
            recovery_codes,
            confirmed_step,
        }
    }

    /// Signs in with a wrong password until the identifier needs a CAPTCHA
    /// (`identity.brute_force.captcha_after`, default 5); asserts the right password is then
    /// refused without a CAPTCHA pass.
    pub(crate) async fn fail_until_captcha(&self, identifier: &str, password: &str) {
        for attempt in 1..=5 {
            expect_refusal(
                self.sign_in(identifier, WRONG_PASSWORD, test_device("phone-1"))
                    .await,
                Code::Unauthenticated,
                Some(Reason::InvalidCredentials),
                &format!("wrong password {attempt}"),
            );
        }
        expect_refusal(
            self.sign_in(identifier, password, test_device("phone-1"))
                .await,
            Code::FailedPrecondition,
            Some(Reason::CaptchaRequired),
            "the right password without a CAPTCHA after 5 wrong ones",
        );
    }
}

/// Authenticator-app two-factor authentication, turned on.
#[derive(Debug, Clone)]
pub(crate) struct EnabledTotp {
    /// The shared secret, decoded from base32.
    pub secret: Vec<u8>,
    /// The recovery codes ConfirmTotp returned.
    pub recovery_codes: Vec<String>,
    /// The time step of the code that confirmed enrollment; a later code is needed next.
    pub confirmed_step: u64,
}

impl EnabledTotp {
    /// A code the service has not accepted yet, with its step: of the current step, or the
    /// next one if the current step's code confirmed enrollment (one step of drift is allowed).
    pub(crate) fn fresh_code(&self) -> (u64, String) {
        let step = (unix_now() / 30).max(self.confirmed_step + 1);
        (step, totp_at_step(&self.secret, step))
    }
}

/// The contacts of an account as (kind, value, primary), phones first; asserts each has a
/// verify_time.
pub(crate) fn account_contacts(account: &Account) -> Vec<(ContactKind, String, bool)> {
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

/// An UpdateProfile request with these fields and, unless `paths` is None, a mask of `paths`.
pub(crate) fn profile_update(
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

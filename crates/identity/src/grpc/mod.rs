//! The gRPC face of the identity service: one file per RPC family maps the wire onto that
//! family's domain service and its error enum onto `Status` — `sign_up.rs`, `sign_in.rs`
//! (with Reauthenticate), `legal.rs` (GetLegalDocuments, AcceptLegalDocuments), `sessions.rs`
//! (with ListSigningKeys), `contacts.rs`, `passwords.rs`, `two_factor.rs` and `profile.rs`;
//! each first checks its request's fields against their documented maxima (`limits.rs`). The
//! trait below only routes each RPC to its family.

mod caller;
mod contacts;
mod convert;
mod legal;
mod limits;
mod passwords;
mod profile;
mod sessions;
mod sign_in;
mod sign_up;
mod status;
mod two_factor;

use std::sync::Arc;

use mi_platform::client::ProxyTrust;
use mi_proto::identity::v1 as api;
use mi_proto::identity::v1::identity_service_server::IdentityService;
use tonic::{Request, Response, Status};

use self::caller::Callers;
use self::contacts::ContactRpcs;
use self::legal::LegalRpcs;
use self::passwords::PasswordRpcs;
use self::profile::ProfileRpcs;
use self::sessions::SessionRpcs;
use self::sign_in::SignInRpcs;
use self::sign_up::SignUpRpcs;
use self::two_factor::TwoFactorRpcs;
use crate::domain::IdentityServices;

/// Serves `mi.identity.v1.IdentityService`.
#[derive(Debug)]
pub(crate) struct IdentityHandler {
    sign_up: SignUpRpcs,
    sign_in: SignInRpcs,
    legal: LegalRpcs,
    sessions: SessionRpcs,
    contacts: ContactRpcs,
    passwords: PasswordRpcs,
    two_factor: TwoFactorRpcs,
    profile: ProfileRpcs,
}

impl IdentityHandler {
    /// A handler over the families' services; `proxy_trust` says where the client address is,
    /// `max_password_chars` is the password policy's maximum, every password field's.
    pub(crate) fn new(
        services: IdentityServices,
        proxy_trust: ProxyTrust,
        max_password_chars: usize,
    ) -> anyhow::Result<Self> {
        let callers = Arc::new(Callers::new(services.sessions.clone(), proxy_trust)?);
        Ok(Self {
            sign_up: SignUpRpcs {
                service: services.sign_up,
                callers: Arc::clone(&callers),
                max_password_chars,
            },
            legal: LegalRpcs {
                documents: services.legal,
                sign_in: services.sign_in.clone(),
                callers: Arc::clone(&callers),
            },
            sign_in: SignInRpcs {
                service: services.sign_in,
                callers: Arc::clone(&callers),
                max_password_chars,
            },
            sessions: SessionRpcs {
                service: services.sessions,
                callers: Arc::clone(&callers),
            },
            contacts: ContactRpcs {
                service: services.contacts,
                callers: Arc::clone(&callers),
            },
            passwords: PasswordRpcs {
                service: services.passwords,
                callers: Arc::clone(&callers),
                max_password_chars,
            },
            two_factor: TwoFactorRpcs {
                service: services.two_factor,
                callers: Arc::clone(&callers),
            },
            profile: ProfileRpcs {
                service: services.profile,
                callers,
            },
        })
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityHandler {
    async fn get_legal_documents(
        &self,
        request: Request<api::GetLegalDocumentsRequest>,
    ) -> Result<Response<api::GetLegalDocumentsResponse>, Status> {
        self.legal.get_legal_documents(request)
    }

    async fn sign_up(
        &self,
        request: Request<api::SignUpRequest>,
    ) -> Result<Response<api::SignUpResponse>, Status> {
        self.sign_up.sign_up(request).await
    }

    async fn sign_in(
        &self,
        request: Request<api::SignInRequest>,
    ) -> Result<Response<api::SignInResponse>, Status> {
        self.sign_in.sign_in(request).await
    }

    async fn complete_sign_in(
        &self,
        request: Request<api::CompleteSignInRequest>,
    ) -> Result<Response<api::CompleteSignInResponse>, Status> {
        self.sign_in.complete_sign_in(request).await
    }

    async fn accept_legal_documents(
        &self,
        request: Request<api::AcceptLegalDocumentsRequest>,
    ) -> Result<Response<api::AcceptLegalDocumentsResponse>, Status> {
        self.legal.accept_legal_documents(request).await
    }

    async fn refresh_session(
        &self,
        request: Request<api::RefreshSessionRequest>,
    ) -> Result<Response<api::SessionTokens>, Status> {
        self.sessions.refresh_session(request).await
    }

    async fn reauthenticate(
        &self,
        request: Request<api::ReauthenticateRequest>,
    ) -> Result<Response<api::ReauthenticateResponse>, Status> {
        self.sign_in.reauthenticate(request).await
    }

    async fn list_sessions(
        &self,
        request: Request<api::ListSessionsRequest>,
    ) -> Result<Response<api::ListSessionsResponse>, Status> {
        self.sessions.list_sessions(request).await
    }

    async fn revoke_session(
        &self,
        request: Request<api::RevokeSessionRequest>,
    ) -> Result<Response<api::RevokeSessionResponse>, Status> {
        self.sessions.revoke_session(request).await
    }

    async fn revoke_all_sessions(
        &self,
        request: Request<api::RevokeAllSessionsRequest>,
    ) -> Result<Response<api::RevokeAllSessionsResponse>, Status> {
        self.sessions.revoke_all_sessions(request).await
    }

    async fn get_account(
        &self,
        request: Request<api::GetAccountRequest>,
    ) -> Result<Response<api::Account>, Status> {
        self.profile.get_account(request).await
    }

    async fn update_profile(
        &self,
        request: Request<api::UpdateProfileRequest>,
    ) -> Result<Response<api::Account>, Status> {
        self.profile.update_profile(request).await
    }

    async fn delete_account(
        &self,
        request: Request<api::DeleteAccountRequest>,
    ) -> Result<Response<api::DeleteAccountResponse>, Status> {
        self.profile.delete_account(request).await
    }

    async fn add_recovery_contact(
        &self,
        request: Request<api::AddRecoveryContactRequest>,
    ) -> Result<Response<api::AddRecoveryContactResponse>, Status> {
        self.contacts.add_recovery_contact(request).await
    }

    async fn remove_recovery_contact(
        &self,
        request: Request<api::RemoveRecoveryContactRequest>,
    ) -> Result<Response<api::RemoveRecoveryContactResponse>, Status> {
        self.contacts.remove_recovery_contact(request).await
    }

    async fn set_primary_contact(
        &self,
        request: Request<api::SetPrimaryContactRequest>,
    ) -> Result<Response<api::SetPrimaryContactResponse>, Status> {
        self.contacts.set_primary_contact(request).await
    }

    async fn start_password_reset(
        &self,
        request: Request<api::StartPasswordResetRequest>,
    ) -> Result<Response<api::StartPasswordResetResponse>, Status> {
        self.passwords.start_password_reset(request).await
    }

    async fn reset_password(
        &self,
        request: Request<api::ResetPasswordRequest>,
    ) -> Result<Response<api::ResetPasswordResponse>, Status> {
        self.passwords.reset_password(request).await
    }

    async fn change_password(
        &self,
        request: Request<api::ChangePasswordRequest>,
    ) -> Result<Response<api::ChangePasswordResponse>, Status> {
        self.passwords.change_password(request).await
    }

    async fn enroll_totp(
        &self,
        request: Request<api::EnrollTotpRequest>,
    ) -> Result<Response<api::EnrollTotpResponse>, Status> {
        self.two_factor.enroll_totp(request).await
    }

    async fn confirm_totp(
        &self,
        request: Request<api::ConfirmTotpRequest>,
    ) -> Result<Response<api::ConfirmTotpResponse>, Status> {
        self.two_factor.confirm_totp(request).await
    }

    async fn disable_totp(
        &self,
        request: Request<api::DisableTotpRequest>,
    ) -> Result<Response<api::DisableTotpResponse>, Status> {
        self.two_factor.disable_totp(request).await
    }

    async fn set_code_second_factor(
        &self,
        request: Request<api::SetCodeSecondFactorRequest>,
    ) -> Result<Response<api::SetCodeSecondFactorResponse>, Status> {
        self.two_factor.set_code_second_factor(request).await
    }

    async fn regenerate_recovery_codes(
        &self,
        request: Request<api::RegenerateRecoveryCodesRequest>,
    ) -> Result<Response<api::RegenerateRecoveryCodesResponse>, Status> {
        self.two_factor.regenerate_recovery_codes(request).await
    }

    async fn list_signing_keys(
        &self,
        _request: Request<api::ListSigningKeysRequest>,
    ) -> Result<Response<api::ListSigningKeysResponse>, Status> {
        Ok(self.sessions.list_signing_keys())
    }
}

//! The gRPC face of the identity service: maps the wire onto the domain and back.

mod convert;
mod errors;

use mi_platform::tokens::jwk_set_json;
use mi_platform::{ServiceError, clock, server};
use mi_proto::identity::v1 as api;
use mi_proto::identity::v1::identity_service_server::IdentityService;
use secrecy::SecretString;
use tonic::{Request, Response, Status};

use crate::domain::{
    Accounts, Caller, DeviceInfo, ProfileUpdate, Reauthentication, SecondFactorProof,
    SignInOutcome, SignInRequest, SignUpRequest,
};

/// Serves `mi.identity.v1.IdentityService`.
#[derive(Debug)]
pub struct IdentityHandler {
    accounts: Accounts,
    trusted_proxy_header: Option<String>,
}

impl IdentityHandler {
    /// A handler over the accounts; `trusted_proxy_header` names where a proxy puts the
    /// client address.
    pub fn new(accounts: Accounts, trusted_proxy_header: Option<String>) -> Self {
        Self {
            accounts,
            trusted_proxy_header,
        }
    }

    fn client<T>(&self, request: &Request<T>) -> String {
        server::client_address(request, self.trusted_proxy_header.as_deref())
    }

    /// The caller of an authenticated RPC: a valid access token of an active session.
    async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let claims = self
            .accounts
            .access_tokens()
            .authenticate(request.metadata())?;
        self.accounts.caller(&claims).await.map_err(errors::account)
    }
}

fn device_from_wire(device: Option<api::DeviceInfo>) -> DeviceInfo {
    let device = device.unwrap_or_default();
    DeviceInfo {
        device_id: device.device_id,
        model: device.model,
        os: device.os,
        name: device.name,
    }
}

fn proof_from_wire(proof: Option<api::SecondFactorProof>) -> Result<SecondFactorProof, Status> {
    use api::second_factor_proof::Proof;
    match proof.and_then(|proof| proof.proof) {
        Some(Proof::TotpCode(code)) => Ok(SecondFactorProof::Totp(code)),
        Some(Proof::RecoveryCode(code)) => Ok(SecondFactorProof::RecoveryCode(code)),
        Some(Proof::VerificationToken(token)) => Ok(SecondFactorProof::VerificationToken(token)),
        None => Err(ServiceError::invalid_field(
            "proof",
            "give a totp_code, a recovery_code or a verification_token",
        )
        .into()),
    }
}

fn sign_in_response(outcome: SignInOutcome) -> api::SignInResponse {
    let result = match outcome {
        SignInOutcome::SignedIn(tokens) => {
            api::sign_in_response::Result::Tokens(convert::tokens(tokens))
        }
        SignInOutcome::Challenged {
            challenge,
            masked_contacts,
        } => {
            api::sign_in_response::Result::Challenge(convert::challenge(challenge, masked_contacts))
        }
    };
    api::SignInResponse {
        result: Some(result),
    }
}

#[tonic::async_trait]
impl IdentityService for IdentityHandler {
    async fn sign_up(
        &self,
        request: Request<api::SignUpRequest>,
    ) -> Result<Response<api::SignInResponse>, Status> {
        let client_address = self.client(&request);
        let request = request.into_inner();
        let tokens = self
            .accounts
            .sign_up(SignUpRequest {
                verification_token: request.verification_token,
                password: SecretString::from(request.password),
                region: request.region,
                locale: request.locale,
                display_name: request.display_name,
                terms_version: request.accepted_terms_version,
                privacy_policy_version: request.accepted_privacy_policy_version,
                device: device_from_wire(request.device),
                client_address,
            })
            .await
            .map_err(errors::sign_up)?;
        Ok(Response::new(sign_in_response(SignInOutcome::SignedIn(
            tokens,
        ))))
    }

    async fn sign_in(
        &self,
        request: Request<api::SignInRequest>,
    ) -> Result<Response<api::SignInResponse>, Status> {
        let client_address = self.client(&request);
        let request = request.into_inner();
        let outcome = self
            .accounts
            .sign_in(SignInRequest {
                identifier: request.identifier,
                password: SecretString::from(request.password),
                device: device_from_wire(request.device),
                client_address,
            })
            .await
            .map_err(errors::sign_in)?;
        Ok(Response::new(sign_in_response(outcome)))
    }

    async fn complete_sign_in(
        &self,
        request: Request<api::CompleteSignInRequest>,
    ) -> Result<Response<api::SignInResponse>, Status> {
        let request = request.into_inner();
        let proof = proof_from_wire(request.proof)?;
        let tokens = self
            .accounts
            .complete_sign_in(&request.challenge_id, proof)
            .await
            .map_err(errors::sign_in)?;
        Ok(Response::new(sign_in_response(SignInOutcome::SignedIn(
            tokens,
        ))))
    }

    async fn refresh_session(
        &self,
        request: Request<api::RefreshSessionRequest>,
    ) -> Result<Response<api::SessionTokens>, Status> {
        let (session, tokens) = self
            .accounts
            .refresh(&request.into_inner().refresh_token)
            .await
            .map_err(errors::refresh)?;
        Ok(Response::new(convert::tokens(
            crate::domain::SessionTokens { session, tokens },
        )))
    }

    async fn reauthenticate(
        &self,
        request: Request<api::ReauthenticateRequest>,
    ) -> Result<Response<api::ReauthenticateResponse>, Status> {
        let caller = self.caller(&request).await?;
        let client_address = self.client(&request);
        let proof = match request.into_inner().proof {
            Some(api::reauthenticate_request::Proof::Password(password)) => {
                Reauthentication::Password(SecretString::from(password))
            }
            Some(api::reauthenticate_request::Proof::SecondFactor(proof)) => {
                Reauthentication::SecondFactor(proof_from_wire(Some(proof))?)
            }
            None => {
                return Err(ServiceError::invalid_field(
                    "proof",
                    "give the password or a second factor",
                )
                .into());
            }
        };
        let recent_until = self
            .accounts
            .reauthenticate(&caller, proof, &client_address)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::ReauthenticateResponse {
            recent_until: Some(clock::millis_to_timestamp(recent_until)),
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<api::ListSessionsRequest>,
    ) -> Result<Response<api::ListSessionsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let sessions = self
            .accounts
            .list_sessions(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::ListSessionsResponse {
            sessions: sessions
                .into_iter()
                .map(|session| convert::session(session, &caller.session_id))
                .collect(),
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<api::RevokeSessionRequest>,
    ) -> Result<Response<api::RevokeSessionResponse>, Status> {
        let caller = self.caller(&request).await?;
        self.accounts
            .revoke_session(&caller, &request.into_inner().session_id)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::RevokeSessionResponse {}))
    }

    async fn revoke_all_sessions(
        &self,
        request: Request<api::RevokeAllSessionsRequest>,
    ) -> Result<Response<api::RevokeAllSessionsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let revoked = self
            .accounts
            .revoke_all_sessions(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::RevokeAllSessionsResponse { revoked }))
    }

    async fn get_account(
        &self,
        request: Request<api::GetAccountRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.caller(&request).await?;
        let account = self
            .accounts
            .get_account(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(convert::account(account)))
    }

    async fn update_profile(
        &self,
        request: Request<api::UpdateProfileRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        let update = ProfileUpdate::parse(
            &paths,
            &request.display_name,
            &request.region,
            &request.locale,
        )
        .map_err(|(field, problem)| ServiceError::invalid_field(field, problem))?;
        let account = self
            .accounts
            .update_profile(&caller, update)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(convert::account(account)))
    }

    async fn delete_account(
        &self,
        request: Request<api::DeleteAccountRequest>,
    ) -> Result<Response<api::DeleteAccountResponse>, Status> {
        let caller = self.caller(&request).await?;
        self.accounts
            .delete_account(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::DeleteAccountResponse {}))
    }

    async fn add_recovery_contact(
        &self,
        request: Request<api::AddRecoveryContactRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.caller(&request).await?;
        let account = self
            .accounts
            .add_recovery_contact(&caller, &request.into_inner().verification_token)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(convert::account(account)))
    }

    async fn remove_recovery_contact(
        &self,
        request: Request<api::RemoveRecoveryContactRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.caller(&request).await?;
        let account = self
            .accounts
            .remove_recovery_contact(&caller, &request.into_inner().value)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(convert::account(account)))
    }

    async fn set_primary_contact(
        &self,
        request: Request<api::SetPrimaryContactRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.caller(&request).await?;
        let account = self
            .accounts
            .set_primary_contact(&caller, &request.into_inner().value)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(convert::account(account)))
    }

    async fn reset_password(
        &self,
        request: Request<api::ResetPasswordRequest>,
    ) -> Result<Response<api::ResetPasswordResponse>, Status> {
        let request = request.into_inner();
        let mi_id = self
            .accounts
            .reset_password(
                &request.verification_token,
                &SecretString::from(request.new_password),
            )
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::ResetPasswordResponse {
            mi_id: mi_id.get(),
        }))
    }

    async fn change_password(
        &self,
        request: Request<api::ChangePasswordRequest>,
    ) -> Result<Response<api::ChangePasswordResponse>, Status> {
        let caller = self.caller(&request).await?;
        let client_address = self.client(&request);
        let request = request.into_inner();
        let sessions_revoked = self
            .accounts
            .change_password(
                &caller,
                &SecretString::from(request.current_password),
                &SecretString::from(request.new_password),
                &client_address,
            )
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::ChangePasswordResponse {
            sessions_revoked,
        }))
    }

    async fn enroll_totp(
        &self,
        request: Request<api::EnrollTotpRequest>,
    ) -> Result<Response<api::EnrollTotpResponse>, Status> {
        let caller = self.caller(&request).await?;
        let enrollment = self
            .accounts
            .enroll_totp(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::EnrollTotpResponse {
            secret: enrollment.secret_base32,
            otpauth_uri: enrollment.otpauth_uri,
            qr_code_png: enrollment.qr_png,
        }))
    }

    async fn confirm_totp(
        &self,
        request: Request<api::ConfirmTotpRequest>,
    ) -> Result<Response<api::ConfirmTotpResponse>, Status> {
        let caller = self.caller(&request).await?;
        let recovery_codes = self
            .accounts
            .confirm_totp(&caller, &request.into_inner().code)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::ConfirmTotpResponse { recovery_codes }))
    }

    async fn disable_totp(
        &self,
        request: Request<api::DisableTotpRequest>,
    ) -> Result<Response<api::DisableTotpResponse>, Status> {
        let caller = self.caller(&request).await?;
        self.accounts
            .disable_totp(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::DisableTotpResponse {}))
    }

    async fn set_code_second_factor(
        &self,
        request: Request<api::SetCodeSecondFactorRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let caller = self.caller(&request).await?;
        let account = self
            .accounts
            .set_code_second_factor(&caller, request.into_inner().enabled)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(convert::account(account)))
    }

    async fn regenerate_recovery_codes(
        &self,
        request: Request<api::RegenerateRecoveryCodesRequest>,
    ) -> Result<Response<api::RegenerateRecoveryCodesResponse>, Status> {
        let caller = self.caller(&request).await?;
        let recovery_codes = self
            .accounts
            .regenerate_recovery_codes(&caller)
            .await
            .map_err(errors::account)?;
        Ok(Response::new(api::RegenerateRecoveryCodesResponse {
            recovery_codes,
        }))
    }

    async fn list_signing_keys(
        &self,
        _request: Request<api::ListSigningKeysRequest>,
    ) -> Result<Response<api::ListSigningKeysResponse>, Status> {
        let keys = self.accounts.public_keys();
        Ok(Response::new(api::ListSigningKeysResponse {
            jwks_json: jwk_set_json(&keys),
            keys: keys
                .into_iter()
                .map(|key| api::SigningKey {
                    key_id: key.key_id,
                    algorithm: "EdDSA".into(),
                    public_key: key.x,
                })
                .collect(),
        }))
    }
}

//! The gRPC face of the verification service: maps the wire onto the domain and back.

mod errors;

use mi_platform::{ServiceError, clock, server};
use mi_proto::verification::v1 as api;
use mi_proto::verification::v1::verification_service_server::VerificationService;
use tonic::{Request, Response, Status};

use crate::domain::{
    CaptchaAnswer, Channel, ClientAddress, Purpose, ResendCodeRequest, SendCodeRequest, Verifier,
};
use crate::publish;

/// Serves `mi.verification.v1.VerificationService`.
#[derive(Debug)]
pub struct VerificationHandler {
    verifier: Verifier,
    trusted_proxy_header: Option<String>,
}

impl VerificationHandler {
    /// A handler over a verifier; `trusted_proxy_header` names where a proxy puts the client address.
    pub fn new(verifier: Verifier, trusted_proxy_header: Option<String>) -> Self {
        Self {
            verifier,
            trusted_proxy_header,
        }
    }

    fn client<T>(&self, request: &Request<T>) -> ClientAddress {
        ClientAddress(server::client_address(
            request,
            self.trusted_proxy_header.as_deref(),
        ))
    }
}

#[tonic::async_trait]
impl VerificationService for VerificationHandler {
    async fn create_captcha(
        &self,
        _request: Request<api::CreateCaptchaRequest>,
    ) -> Result<Response<api::Captcha>, Status> {
        let captcha = self
            .verifier
            .create_captcha()
            .await
            .map_err(|error| ServiceError::internal(&error))?;
        Ok(Response::new(api::Captcha {
            captcha_id: captcha.captcha_id,
            image_png: captcha.image_png,
            expire_time: Some(clock::millis_to_timestamp(captcha.expires_at)),
        }))
    }

    async fn send_code(
        &self,
        request: Request<api::SendCodeRequest>,
    ) -> Result<Response<api::SendCodeResponse>, Status> {
        let client = self.client(&request);
        let request = request.into_inner();
        let sent = self
            .verifier
            .send_code(SendCodeRequest {
                destination: request.destination,
                channel: channel_from_wire(request.channel),
                purpose: purpose_from_wire(request.purpose),
                locale: request.locale,
                captcha: captcha_from_wire(request.captcha),
                client,
            })
            .await
            .map_err(errors::send_code)?;
        Ok(Response::new(api::SendCodeResponse {
            verification_id: sent.verification_id,
            expire_time: Some(clock::millis_to_timestamp(sent.expires_at)),
            resend_time: Some(clock::millis_to_timestamp(sent.resend_at)),
            resends_left: i32::try_from(sent.resends_left).unwrap_or(i32::MAX),
        }))
    }

    async fn resend_code(
        &self,
        request: Request<api::ResendCodeRequest>,
    ) -> Result<Response<api::ResendCodeResponse>, Status> {
        let client = self.client(&request);
        let request = request.into_inner();
        let channel = match request.channel {
            0 => None,
            value => Some(channel_from_wire(value).ok_or_else(|| {
                ServiceError::invalid_field(
                    "channel",
                    "must be CHANNEL_SMS, CHANNEL_VOICE or CHANNEL_EMAIL",
                )
            })?),
        };
        let sent = self
            .verifier
            .resend_code(ResendCodeRequest {
                verification_id: request.verification_id,
                channel,
                locale: request.locale,
                captcha: captcha_from_wire(request.captcha),
                client,
            })
            .await
            .map_err(errors::resend_code)?;
        Ok(Response::new(api::ResendCodeResponse {
            verification_id: sent.verification_id,
            expire_time: Some(clock::millis_to_timestamp(sent.expires_at)),
            resend_time: Some(clock::millis_to_timestamp(sent.resend_at)),
            resends_left: i32::try_from(sent.resends_left).unwrap_or(i32::MAX),
            channel: publish::channel(sent.channel).into(),
        }))
    }

    async fn check_code(
        &self,
        request: Request<api::CheckCodeRequest>,
    ) -> Result<Response<api::CheckCodeResponse>, Status> {
        let client = self.client(&request);
        let request = request.into_inner();
        let checked = self
            .verifier
            .check_code(&request.verification_id, &request.code, &client)
            .await
            .map_err(errors::check_code)?;
        let verification = checked.verification;
        Ok(Response::new(api::CheckCodeResponse {
            verification_id: verification.verification_id,
            destination: verification.destination.as_str().to_owned(),
            channel: publish::channel(verification.channel).into(),
            purpose: publish::purpose(verification.purpose).into(),
            approve_time: Some(clock::millis_to_timestamp(checked.approved_at)),
            verification_token: checked.token,
            token_expire_time: Some(clock::millis_to_timestamp(checked.token_expires_at)),
        }))
    }

    async fn list_verification_keys(
        &self,
        _request: Request<api::ListVerificationKeysRequest>,
    ) -> Result<Response<api::ListVerificationKeysResponse>, Status> {
        let keys = self.verifier.public_keys();
        Ok(Response::new(api::ListVerificationKeysResponse {
            jwks_json: mi_platform::tokens::jwk_set_json(&keys),
            keys: keys
                .into_iter()
                .map(|key| api::VerificationKey {
                    key_id: key.key_id,
                    algorithm: "EdDSA".into(),
                    public_key: key.x,
                })
                .collect(),
        }))
    }
}

fn channel_from_wire(value: i32) -> Option<Channel> {
    match api::Channel::try_from(value).ok()? {
        api::Channel::Sms => Some(Channel::Sms),
        api::Channel::Email => Some(Channel::Email),
        api::Channel::Voice => Some(Channel::Voice),
        api::Channel::Unspecified => None,
    }
}

fn purpose_from_wire(value: i32) -> Option<Purpose> {
    match api::Purpose::try_from(value).ok()? {
        api::Purpose::SignUp => Some(Purpose::SignUp),
        api::Purpose::SignInSecondFactor => Some(Purpose::SignInSecondFactor),
        api::Purpose::PasswordReset => Some(Purpose::PasswordReset),
        api::Purpose::AddRecoveryContact => Some(Purpose::AddRecoveryContact),
        api::Purpose::DeviceAction => Some(Purpose::DeviceAction),
        api::Purpose::Unspecified => None,
    }
}

fn captcha_from_wire(answer: Option<api::CaptchaAnswer>) -> Option<CaptchaAnswer> {
    answer
        .filter(|answer| !answer.captcha_id.is_empty())
        .map(|answer| CaptchaAnswer {
            captcha_id: answer.captcha_id,
            answer: answer.answer,
        })
}

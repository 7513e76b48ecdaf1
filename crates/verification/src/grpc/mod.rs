//! The gRPC face of the verification service: maps the wire onto the domain and back.

mod errors;
mod limits;

use mi_contracts::Channel;
use mi_platform::ServiceError;
use mi_platform::client::ProxyTrust;
use mi_platform::localized;
use mi_proto::contracts::{channel_from_wire, channel_to_wire, purpose_from_wire, purpose_to_wire};
use mi_proto::verification::v1 as api;
use mi_proto::verification::v1::verification_service_server::VerificationService;
use tonic::{Request, Response, Status};

use crate::domain::{
    CaptchaAnswer, ChallengeContact, ClientAddress, ResendCodeRequest, SendCodeRequest, SendTarget,
    Verifier,
};

/// Serves `mi.verification.v1.VerificationService`.
#[derive(Debug)]
pub(crate) struct VerificationHandler {
    verifier: Verifier,
    proxy_trust: ProxyTrust,
}

impl VerificationHandler {
    /// A handler over a verifier; `proxy_trust` says where the client address is.
    pub(crate) fn new(verifier: Verifier, proxy_trust: ProxyTrust) -> Self {
        Self {
            verifier,
            proxy_trust,
        }
    }

    fn client<T>(&self, request: &Request<T>) -> ClientAddress {
        ClientAddress(self.proxy_trust.client_address(request))
    }
}

#[tonic::async_trait]
impl VerificationService for VerificationHandler {
    async fn create_captcha(
        &self,
        request: Request<api::CreateCaptchaRequest>,
    ) -> Result<Response<api::Captcha>, Status> {
        let captcha = self
            .verifier
            .create_captcha(&self.client(&request))
            .await
            .map_err(errors::create_captcha)?;
        Ok(Response::new(api::Captcha {
            captcha_id: captcha.captcha_id,
            image_png: captcha.image_png,
            expire_time: Some(captcha.expires_at.to_timestamp()),
        }))
    }

    async fn send_code(
        &self,
        request: Request<api::SendCodeRequest>,
    ) -> Result<Response<api::SendCodeResponse>, Status> {
        let client = self.client(&request);
        localized::prefer_request_locale(&request, &request.get_ref().locale);
        let request = request.into_inner();
        limits::send_code(&request).map_err(ServiceError::from)?;
        let sent = self
            .verifier
            .send_code(SendCodeRequest {
                target: target_from_wire(request.target),
                channel: code_channel_from_wire(request.channel),
                purpose: purpose_from_wire(request.purpose).ok(),
                locale: request.locale,
                captcha: captcha_from_wire(request.captcha),
                client,
            })
            .await
            .map_err(errors::send_code)?;
        Ok(Response::new(api::SendCodeResponse {
            verification_id: sent.verification_id,
            expire_time: Some(sent.expires_at.to_timestamp()),
            resend_time: Some(sent.resend_at.to_timestamp()),
            resends_left: i32::try_from(sent.resends_left).unwrap_or(i32::MAX),
            masked_destination: sent.masked_destination,
        }))
    }

    async fn resend_code(
        &self,
        request: Request<api::ResendCodeRequest>,
    ) -> Result<Response<api::ResendCodeResponse>, Status> {
        let client = self.client(&request);
        localized::prefer_request_locale(&request, &request.get_ref().locale);
        let request = request.into_inner();
        limits::resend_code(&request).map_err(ServiceError::from)?;
        let channel = match request.channel {
            0 => None,
            value => Some(code_channel_from_wire(value).ok_or_else(|| {
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
            expire_time: Some(sent.expires_at.to_timestamp()),
            resend_time: Some(sent.resend_at.to_timestamp()),
            resends_left: i32::try_from(sent.resends_left).unwrap_or(i32::MAX),
            channel: channel_to_wire(sent.channel),
        }))
    }

    async fn check_code(
        &self,
        request: Request<api::CheckCodeRequest>,
    ) -> Result<Response<api::CheckCodeResponse>, Status> {
        let client = self.client(&request);
        let request = request.into_inner();
        limits::check_code(&request).map_err(ServiceError::from)?;
        let checked = self
            .verifier
            .check_code(&request.verification_id, &request.code, &client)
            .await
            .map_err(errors::check_code)?;
        let verification = checked.verification;
        // A challenge contact's client knows the destination only masked; so it stays.
        let destination = if verification.destination_hidden {
            String::new()
        } else {
            verification.destination.as_str().to_owned()
        };
        Ok(Response::new(api::CheckCodeResponse {
            masked_destination: verification.destination.masked(),
            verification_id: verification.verification_id,
            destination,
            channel: channel_to_wire(verification.channel),
            purpose: purpose_to_wire(verification.purpose),
            approve_time: Some(checked.approved_at.to_timestamp()),
            verification_token: checked.token,
            token_expire_time: Some(checked.token_expires_at.to_timestamp()),
        }))
    }

    async fn pass_captcha(
        &self,
        request: Request<api::PassCaptchaRequest>,
    ) -> Result<Response<api::PassCaptchaResponse>, Status> {
        let client = self.client(&request);
        let request = request.into_inner();
        limits::pass_captcha(&request).map_err(ServiceError::from)?;
        let pass = self
            .verifier
            .pass_captcha(
                captcha_from_wire(request.captcha).as_ref(),
                &request.subject,
                &client,
            )
            .await
            .map_err(errors::pass_captcha)?;
        Ok(Response::new(api::PassCaptchaResponse {
            captcha_pass: pass.token,
            expire_time: Some(pass.expires_at.to_timestamp()),
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

/// Where a code goes; no target is an empty destination, refused as such.
fn target_from_wire(target: Option<api::send_code_request::Target>) -> SendTarget {
    use api::send_code_request::Target;
    match target {
        Some(Target::Destination(destination)) => SendTarget::Destination(destination),
        Some(Target::ChallengeContact(contact)) => SendTarget::ChallengeContact(ChallengeContact {
            challenge_id: contact.challenge_id,
            contact_id: contact.contact_id,
            send_token: contact.send_token,
        }),
        None => SendTarget::Destination(String::new()),
    }
}

/// The channel a code is asked for, or `None` for one it cannot travel by: unspecified,
/// unknown, or push (a device's push token is no contact a person reads codes at).
fn code_channel_from_wire(value: i32) -> Option<Channel> {
    channel_from_wire(value)
        .ok()
        .filter(|channel| channel.carries_codes())
}

fn captcha_from_wire(answer: Option<api::CaptchaAnswer>) -> Option<CaptchaAnswer> {
    let answer = answer?;
    if !answer.provider_token.is_empty() {
        return Some(CaptchaAnswer::ProviderToken(answer.provider_token));
    }
    (!answer.captcha_id.is_empty()).then_some(CaptchaAnswer::Image {
        captcha_id: answer.captcha_id,
        answer: answer.answer,
    })
}

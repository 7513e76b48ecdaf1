//! The agent's calls to identity: signing in (answering a second-factor challenge), refreshing
//! the session, and proving the password again for the calls that need a recent one.

use std::future::Future;

use anyhow::Context;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::identity::v1::identity_service_client::IdentityServiceClient;
use mi_proto::identity::v1::reauthenticate_request::Proof as ReauthProof;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    CompleteSignInRequest, ReauthenticateRequest, RefreshSessionRequest, SecondFactorChallenge,
    SecondFactorProof, SessionTokens, SignInRequest, complete_sign_in_response, sign_in_response,
};
use secrecy::{ExposeSecret, SecretString};
use tonic::transport::Channel;

/// Identity, called by the agent.
pub(crate) type IdentityClient = IdentityServiceClient<Channel>;

/// Signs in with `identifier` and `password` on `device`; when identity asks for a second
/// factor, `second_factor` gives the code for the challenge.
pub(crate) async fn sign_in<F, Fut>(
    identity: &mut IdentityClient,
    identifier: &str,
    password: &SecretString,
    device: DeviceInfo,
    second_factor: F,
) -> anyhow::Result<SessionTokens>
where
    F: FnOnce(SecondFactorChallenge) -> Fut,
    Fut: Future<Output = anyhow::Result<String>>,
{
    let request = SignInRequest {
        identifier: identifier.to_owned(),
        password: password.expose_secret().to_owned(),
        device: Some(device),
        captcha_pass: String::new(),
    };
    let response = identity
        .sign_in(request)
        .await
        .context("identity refused the sign-in")?
        .into_inner();
    let challenge = match response.result {
        Some(sign_in_response::Result::Tokens(tokens)) => return Ok(tokens),
        Some(sign_in_response::Result::Challenge(challenge)) => challenge,
        Some(sign_in_response::Result::ConsentRequired(_)) => return Err(consent_required()),
        None => anyhow::bail!("identity answered the sign-in with nothing"),
    };
    let challenge_id = challenge.challenge_id.clone();
    let code = second_factor(challenge).await?;
    let request = CompleteSignInRequest {
        challenge_id,
        proof: Some(second_factor_proof(code.trim())),
    };
    let response = identity
        .complete_sign_in(request)
        .await
        .context("identity refused the second factor")?
        .into_inner();
    match response.result {
        Some(complete_sign_in_response::Result::Tokens(tokens)) => Ok(tokens),
        Some(complete_sign_in_response::Result::ConsentRequired(_)) => Err(consent_required()),
        None => anyhow::bail!("identity answered the second factor with nothing"),
    }
}

fn consent_required() -> anyhow::Error {
    anyhow::anyhow!(
        "the account has not accepted the current terms and privacy policy: sign in once with \
         an app that shows them (AcceptLegalDocuments), then sign the agent in again"
    )
}

/// The proof a code is: six to eight digits from an authenticator app, a recovery code
/// (`xxxxx-xxxxx`), or else a verification token from VerificationService/CheckCode.
pub(crate) fn second_factor_proof(code: &str) -> SecondFactorProof {
    let is_totp = (6..=8).contains(&code.len()) && code.bytes().all(|byte| byte.is_ascii_digit());
    let is_recovery_code = code.split_once('-').is_some_and(|(left, right)| {
        [left, right]
            .iter()
            .all(|half| half.len() == 5 && half.bytes().all(|byte| byte.is_ascii_alphanumeric()))
    });
    let proof = if is_totp {
        Proof::TotpCode(code.to_owned())
    } else if is_recovery_code {
        Proof::RecoveryCode(code.to_owned())
    } else {
        Proof::VerificationToken(code.to_owned())
    };
    SecondFactorProof { proof: Some(proof) }
}

/// New tokens for the session: the old refresh token stops working, so the caller must keep
/// the new one.
pub(crate) async fn refresh(
    identity: &mut IdentityClient,
    refresh_token: &str,
) -> anyhow::Result<SessionTokens> {
    let request = RefreshSessionRequest {
        refresh_token: refresh_token.to_owned(),
    };
    Ok(identity
        .refresh_session(request)
        .await
        .context("identity refused to refresh the session; sign in again")?
        .into_inner())
}

/// Proves the password again for the session of `access_token`.
pub(crate) async fn reauthenticate(
    identity: &mut IdentityClient,
    access_token: &str,
    password: &SecretString,
) -> anyhow::Result<()> {
    let request = ReauthenticateRequest {
        proof: Some(ReauthProof::Password(password.expose_secret().to_owned())),
    };
    identity
        .reauthenticate(bearer(request, access_token)?)
        .await
        .context("identity refused the password")?;
    Ok(())
}

/// `message` with `authorization: Bearer <token>`.
pub(crate) fn bearer<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .context("the token is not ASCII")?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_as_the_proof_it_looks_like() {
        let proof = |code: &str| second_factor_proof(code).proof.unwrap();
        assert_eq!(proof("123456"), Proof::TotpCode("123456".into()));
        assert_eq!(
            proof("abcde-12345"),
            Proof::RecoveryCode("abcde-12345".into())
        );
        assert_eq!(
            proof("eyJhbGciOi.x.y"),
            Proof::VerificationToken("eyJhbGciOi.x.y".into())
        );
        assert_eq!(proof("12345"), Proof::VerificationToken("12345".into()));
        assert_eq!(
            proof("abcd-123456"),
            Proof::VerificationToken("abcd-123456".into())
        );
    }
}

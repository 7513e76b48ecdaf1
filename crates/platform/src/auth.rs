//! Access tokens: the claims identity signs, and their offline verification by any service.
//!
//! A client sends `authorization: Bearer <access token>`; a service verifies the EdDSA
//! signature against identity's published keys, the issuer, the audience and the expiry.

use mi_contracts::Reason;
use serde::{Deserialize, Serialize};
use tonic::metadata::MetadataMap;

use crate::ServiceError;
use crate::tokens::{PublicKey, TokenError, TokenVerifier};

/// The issuer of access tokens.
pub const ACCESS_TOKEN_ISSUER: &str = "mi-identity";
/// The audience of access tokens: the services of the account platform.
pub const ACCESS_TOKEN_AUDIENCE: &str = "mi-account";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The Mi ID, in decimal.
    pub sub: String,
    /// The session the token belongs to.
    pub sid: String,
    /// Authentication methods (RFC 8176), e.g. `pwd`, `otp`.
    pub amr: Vec<String>,
    /// When the person last proved a password or second factor, seconds since the epoch.
    pub auth_time: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

impl AccessClaims {
    /// The Mi ID the token is for.
    pub fn mi_id(&self) -> Option<u64> {
        self.sub.parse().ok()
    }
}

/// Verifies access tokens offline against identity's public keys.
#[derive(Debug, Clone)]
pub struct AccessTokenVerifier {
    verifier: TokenVerifier,
}

impl AccessTokenVerifier {
    /// Trusts tokens signed by any of `keys`.
    pub fn new(keys: &[PublicKey]) -> anyhow::Result<Self> {
        Ok(Self {
            verifier: TokenVerifier::new(keys, ACCESS_TOKEN_ISSUER, ACCESS_TOKEN_AUDIENCE)?,
        })
    }

    /// The claims of the bearer token in `metadata`, or UNAUTHENTICATED saying what is wrong.
    pub fn authenticate(&self, metadata: &MetadataMap) -> Result<AccessClaims, ServiceError> {
        let token = bearer_token(metadata)?;
        let claims: AccessClaims = self.verifier.verify(token).map_err(|error| {
            let description = match error {
                TokenError::UnknownKey => "the access token is signed with an unknown key",
                TokenError::Invalid(_) => "the access token is invalid or expired; refresh it",
            };
            ServiceError::unauthenticated(Reason::InvalidAccessToken, description)
        })?;
        if claims.mi_id().is_none() {
            return Err(ServiceError::unauthenticated(
                Reason::InvalidAccessToken,
                "the access token names no account",
            ));
        }
        Ok(claims)
    }
}

/// The token of an `authorization: Bearer <token>` header.
fn bearer_token(metadata: &MetadataMap) -> Result<&str, ServiceError> {
    let missing = || {
        ServiceError::unauthenticated(
            Reason::MissingAccessToken,
            "send the access token as `authorization: Bearer <token>`",
        )
    };
    let value = metadata
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;
    use crate::tokens::TokenSigner;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ACCESS_TOKEN_ISSUER.into(),
            aud: ACCESS_TOKEN_AUDIENCE.into(),
            sub: "4070000001".into(),
            sid: "s1".into(),
            amr: vec!["pwd".into()],
            auth_time: 0,
            iat: 0,
            exp,
            jti: "j".into(),
        }
    }

    fn metadata(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value.parse().expect("ascii"));
        metadata
    }

    #[test]
    fn bearer_tokens_are_checked_offline() {
        let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let verifier = AccessTokenVerifier::new(&[signer.public_key().clone()]).expect("verifier");
        let later = crate::clock::now_millis() / 1000 + 600;
        let token = signer.sign(&claims(later)).expect("sign");

        let accepted = verifier
            .authenticate(&metadata(&format!("Bearer {token}")))
            .expect("valid");
        assert_eq!(accepted.mi_id(), Some(4_070_000_001));

        for refused in [
            MetadataMap::new(),
            metadata("Basic abc"),
            metadata("Bearer "),
            metadata("Bearer not.a.jwt"),
            metadata(&format!(
                "Bearer {}",
                signer.sign(&claims(later - 1200)).expect("sign")
            )),
        ] {
            let status: tonic::Status =
                verifier.authenticate(&refused).expect_err("refused").into();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
        }
    }
}

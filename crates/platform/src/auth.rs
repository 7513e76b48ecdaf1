//! The kinds of signed token, each written once: access tokens (identity signs them, any
//! service checks them offline), verification tokens and CAPTCHA passes (verification signs
//! them, identity checks them offline), and device tokens (a device signs them with the key it
//! enrolled, the device registry checks them against that key).
//!
//! A client sends `authorization: Bearer <access token>`; a service verifies the EdDSA
//! signature against identity's published keys, the token type, the issuer, the audience and
//! the expiry. Each kind has its own header `typ`, so one is never accepted as the other.

use mi_contracts::{Channel, DeviceCredential, DeviceKeyAlgorithm, Purpose, Reason};
use serde::{Deserialize, Serialize};
use tonic::metadata::MetadataMap;

use crate::ServiceError;
use crate::tokens::{PublicKey, TokenError, TokenKind, TokenVerifier};

/// The issuer of access tokens.
pub const ACCESS_TOKEN_ISSUER: &str = "mi-identity";
/// The audience of access tokens: the services of the account platform.
pub const ACCESS_TOKEN_AUDIENCE: &str = "mi-account";
/// The header `typ` of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The issuer of verification tokens.
pub const VERIFICATION_TOKEN_ISSUER: &str = "mi-verification";
/// The audience of verification tokens: the services of the account platform.
pub const VERIFICATION_TOKEN_AUDIENCE: &str = "mi-account";
/// The header `typ` of verification tokens.
pub const VERIFICATION_TOKEN_TYPE: &str = "mi-verification+jwt";
/// The header `typ` of CAPTCHA passes (issued by verification with the same key, issuer and
/// audience as verification tokens; the type alone keeps one from passing for the other).
pub const CAPTCHA_PASS_TYPE: &str = "mi-captcha+jwt";

/// The audience of device tokens: the device registry.
pub const DEVICE_TOKEN_AUDIENCE: &str = "mi-device-registry";
/// The header `typ` of device tokens.
pub const DEVICE_TOKEN_TYPE: &str = "mi-device+jwt";
/// The longest a device token may live, from `iat` to `exp`: a stolen one is of little use.
pub const DEVICE_TOKEN_MAX_LIFETIME_SECS: i64 = 300;
/// The longest `jti` of a device token; the registry remembers each one until it expires.
pub const DEVICE_TOKEN_MAX_ID_CHARS: usize = 64;

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

    /// Whether the person proved a password or second factor within `window` of now:
    /// sensitive changes ask for it.
    pub fn authenticated_within(&self, window: std::time::Duration) -> bool {
        let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        let now_secs = mi_contracts::UnixMillis::now().as_i64() / 1000;
        self.auth_time.saturating_add(window_secs) > now_secs
    }
}

impl TokenKind for AccessClaims {
    const TYP: &'static str = ACCESS_TOKEN_TYPE;
}

/// What a verification token says: the signed proof that a destination was verified for a
/// purpose. `channel` and `purpose` travel by their snake_case names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The verified destination; for a code sent to a contact the client saw only masked, the
    /// verification id instead, with the destination in `sealed_sub`.
    pub sub: String,
    /// The destination sealed under the send-token key
    /// ([`crate::send_token::SendTokenSealer::seal_subject`]), when the client must not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_sub: Option<String>,
    /// Unique token id; a consumer spends it once.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// The verification id.
    pub vid: String,
    /// How the code travelled.
    pub channel: Channel,
    /// What the verification proves.
    pub purpose: Purpose,
}

impl TokenKind for VerificationClaims {
    const TYP: &'static str = VERIFICATION_TOKEN_TYPE;
}

/// What a CAPTCHA pass says: someone solved a CAPTCHA to sign in as `sub`, a moment ago.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptchaPassClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The sign-in identifier it was solved for, in its canonical form
    /// ([`crate::contact::canonical_identifier`]).
    pub sub: String,
    /// Unique pass id; a consumer spends it once.
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
}

impl TokenKind for CaptchaPassClaims {
    const TYP: &'static str = CAPTCHA_PASS_TYPE;
}

/// What a device token says: a device of an account, signing with the key it enrolled, asks
/// the device registry for one call. Like a JWT client assertion (RFC 7523 §3) it is short-lived
/// and its `jti` is accepted once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaims {
    /// Audience: [`DEVICE_TOKEN_AUDIENCE`].
    pub aud: String,
    /// The device id.
    pub sub: String,
    /// The account the device is linked to: device ids are the client's choice, so only the
    /// pair names one device.
    pub mi_id: u64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch; at most [`DEVICE_TOKEN_MAX_LIFETIME_SECS`] after
    /// `iat`.
    pub exp: i64,
    /// Unique token id, at most [`DEVICE_TOKEN_MAX_ID_CHARS`] characters.
    pub jti: String,
}

impl TokenKind for DeviceClaims {
    const TYP: &'static str = DEVICE_TOKEN_TYPE;
}

impl DeviceClaims {
    /// Which device a token claims to come from, before anything about it is trusted: the
    /// registry needs it to find the key that must have signed it ([`Self::verify`]).
    pub fn claimed(token: &str) -> Result<Self, TokenError> {
        jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|error| TokenError::Invalid(error.to_string()))
    }

    /// The claims of `token` if the device's `credential` signed it, it is a device token for
    /// the device registry, and it is live and short-lived at `now_secs`. The `jti` is not
    /// spent here: the caller remembers it.
    pub fn verify(
        token: &str,
        credential: &DeviceCredential,
        now_secs: i64,
    ) -> Result<Self, TokenError> {
        // Each key verifies its own algorithm only: the token's `alg` header never chooses.
        let (key, algorithm) = match credential.algorithm {
            DeviceKeyAlgorithm::Ed25519 => (
                jsonwebtoken::DecodingKey::from_ed_der(&credential.public_key),
                jsonwebtoken::Algorithm::EdDSA,
            ),
            // Despite its name, jsonwebtoken reads an EC "DER" key as the SEC1 point it is.
            DeviceKeyAlgorithm::P256 => (
                jsonwebtoken::DecodingKey::from_ec_der(&credential.public_key),
                jsonwebtoken::Algorithm::ES256,
            ),
        };
        let claims: Self =
            crate::tokens::verify_with_key(token, &key, algorithm, DEVICE_TOKEN_AUDIENCE)?;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if !(0..=DEVICE_TOKEN_MAX_LIFETIME_SECS).contains(&lifetime) {
            return Err(TokenError::Invalid(format!(
                "a device token lives at most {DEVICE_TOKEN_MAX_LIFETIME_SECS} s"
            )));
        }
        // A token from the future would outlive its lifetime cap; allow the usual clock skew.
        if claims.iat > now_secs.saturating_add(crate::tokens::LEEWAY_SECS) {
            return Err(TokenError::Invalid("issued in the future".into()));
        }
        if claims.jti.is_empty() || claims.jti.chars().count() > DEVICE_TOKEN_MAX_ID_CHARS {
            return Err(TokenError::Invalid(format!(
                "jti is required, at most {DEVICE_TOKEN_MAX_ID_CHARS} characters"
            )));
        }
        Ok(claims)
    }
}

/// Whether `credential`'s public key is one a device could sign with: a valid curve point,
/// not of small order (Ed25519) and on the curve (P-256), either of which would let anyone
/// forge signatures.
pub fn check_device_key(credential: &DeviceCredential) -> Result<(), &'static str> {
    match credential.algorithm {
        DeviceKeyAlgorithm::Ed25519 => {
            let bytes: [u8; 32] = credential
                .public_key
                .as_slice()
                .try_into()
                .map_err(|_| "an Ed25519 public key is 32 bytes")?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| "is not an Ed25519 public key")?;
            if key.is_weak() {
                return Err("is a weak Ed25519 key");
            }
            Ok(())
        }
        DeviceKeyAlgorithm::P256 => {
            // A point off the curve (or the identity) would let a forger choose signatures.
            if credential.public_key.first() != Some(&0x04) {
                return Err("a P-256 public key is an uncompressed SEC1 point");
            }
            p256::PublicKey::from_sec1_bytes(&credential.public_key)
                .map_err(|_| "is not a point on P-256")?;
            Ok(())
        }
    }
}

/// The bearer token of `metadata`, unverified: device-side calls carry a device token there.
pub fn bearer_token_of(metadata: &MetadataMap) -> Result<&str, ServiceError> {
    bearer_token(metadata)
}

/// Verifies what the verification service signs, offline against its public keys:
/// verification tokens and CAPTCHA passes.
#[derive(Debug, Clone)]
pub struct VerificationTokenVerifier {
    verifier: TokenVerifier,
}

impl VerificationTokenVerifier {
    /// Trusts tokens signed by any of `keys`.
    pub fn new(keys: &[PublicKey]) -> anyhow::Result<Self> {
        Ok(Self {
            verifier: TokenVerifier::new(
                keys,
                VERIFICATION_TOKEN_ISSUER,
                VERIFICATION_TOKEN_AUDIENCE,
            )?,
        })
    }

    /// The claims of a valid verification token.
    pub fn verify(&self, token: &str) -> Result<VerificationClaims, TokenError> {
        self.verifier.verify(token)
    }

    /// The claims of a valid CAPTCHA pass.
    pub fn verify_captcha_pass(&self, token: &str) -> Result<CaptchaPassClaims, TokenError> {
        self.verifier.verify(token)
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
        self.verify(bearer_token(metadata)?)
    }

    /// The claims of access token `token`, wherever the call carried it (a device passes its
    /// owner's on in the request), or UNAUTHENTICATED saying what is wrong.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, ServiceError> {
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

    fn verification_claims(exp: i64) -> VerificationClaims {
        VerificationClaims {
            iss: VERIFICATION_TOKEN_ISSUER.into(),
            aud: VERIFICATION_TOKEN_AUDIENCE.into(),
            sub: "+8613800138000".into(),
            sealed_sub: None,
            jti: "j".into(),
            iat: 0,
            exp,
            vid: "v".into(),
            channel: Channel::Sms,
            purpose: Purpose::SignUp,
        }
    }

    /// Access claims signed with the verification token type.
    #[derive(Serialize, Deserialize)]
    struct AccessTypedAsVerification(AccessClaims);

    impl TokenKind for AccessTypedAsVerification {
        const TYP: &'static str = VERIFICATION_TOKEN_TYPE;
    }

    /// Verification claims signed with the access token type.
    #[derive(Serialize, Deserialize)]
    struct VerificationTypedAsAccess(VerificationClaims);

    impl TokenKind for VerificationTypedAsAccess {
        const TYP: &'static str = ACCESS_TOKEN_TYPE;
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
        let later = mi_contracts::UnixMillis::now().as_i64() / 1000 + 600;
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

    #[test]
    fn verification_tokens_keep_their_json_shape_and_are_checked_offline() {
        let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let verifier =
            VerificationTokenVerifier::new(&[signer.public_key().clone()]).expect("verifier");
        let later = mi_contracts::UnixMillis::now().as_i64() / 1000 + 600;
        let claims = verification_claims(later);
        let json = serde_json::to_value(&claims).expect("json");
        assert_eq!(
            (json["channel"].as_str(), json["purpose"].as_str()),
            (Some("sms"), Some("sign_up"))
        );

        let token = signer.sign(&claims).expect("sign");
        assert_eq!(verifier.verify(&token).expect("valid"), claims);
        let expired = signer
            .sign(&verification_claims(later - 1200))
            .expect("sign");
        assert!(verifier.verify(&expired).is_err());
    }

    #[test]
    fn captcha_passes_and_verification_tokens_are_never_taken_for_each_other() {
        let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let verifier =
            VerificationTokenVerifier::new(&[signer.public_key().clone()]).expect("verifier");
        let later = mi_contracts::UnixMillis::now().as_i64() / 1000 + 120;
        let pass = CaptchaPassClaims {
            iss: VERIFICATION_TOKEN_ISSUER.into(),
            aud: VERIFICATION_TOKEN_AUDIENCE.into(),
            sub: "alice@example.com".into(),
            jti: "p".into(),
            iat: 0,
            exp: later,
        };
        let signed_pass = signer.sign(&pass).expect("sign");
        assert_eq!(
            verifier.verify_captcha_pass(&signed_pass).expect("valid"),
            pass
        );
        assert!(
            verifier.verify(&signed_pass).is_err(),
            "a pass is no verification token"
        );
        let token = signer.sign(&verification_claims(later)).expect("sign");
        assert!(
            verifier.verify_captcha_pass(&token).is_err(),
            "a verification token is no pass"
        );
        let expired = signer
            .sign(&CaptchaPassClaims {
                exp: later - 600,
                ..pass
            })
            .expect("sign");
        assert!(verifier.verify_captcha_pass(&expired).is_err());
    }

    #[test]
    fn a_token_of_one_kind_is_refused_as_the_other() {
        let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let later = mi_contracts::UnixMillis::now().as_i64() / 1000 + 600;
        let access_verifier =
            AccessTokenVerifier::new(&[signer.public_key().clone()]).expect("verifier");
        let verification_verifier =
            VerificationTokenVerifier::new(&[signer.public_key().clone()]).expect("verifier");

        let access_as_verification = signer
            .sign(&AccessTypedAsVerification(claims(later)))
            .expect("sign");
        let status: tonic::Status = access_verifier
            .authenticate(&metadata(&format!("Bearer {access_as_verification}")))
            .expect_err("a verification-typed token is no access token")
            .into();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);

        let verification_as_access = signer
            .sign(&VerificationTypedAsAccess(verification_claims(later)))
            .expect("sign");
        assert!(
            verification_verifier
                .verify(&verification_as_access)
                .is_err(),
            "an access-typed token is no verification token"
        );
    }

    /// A device's P-256 key, from 32 random bytes (a scalar of the group with overwhelming
    /// likelihood).
    fn p256_key() -> p256::SecretKey {
        p256::SecretKey::from_slice(SecretKey::generate().as_bytes()).expect("a P-256 scalar")
    }

    fn p256_credential(key: &p256::SecretKey) -> DeviceCredential {
        DeviceCredential {
            algorithm: DeviceKeyAlgorithm::P256,
            public_key: key.public_key().to_sec1_bytes().to_vec(),
            push_token: String::new(),
        }
    }

    fn device_claims(now: i64) -> DeviceClaims {
        DeviceClaims {
            aud: DEVICE_TOKEN_AUDIENCE.into(),
            sub: "phone-1".into(),
            mi_id: 4_070_000_001,
            iat: now,
            exp: now + 60,
            jti: "j1".into(),
        }
    }

    /// `claims` signed with `alg: ES256` by a P-256 key.
    fn es256_token(key: &p256::SecretKey, claims: &DeviceClaims) -> String {
        use p256::pkcs8::EncodePrivateKey;
        let der = key.to_pkcs8_der().expect("pkcs8");
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some(DEVICE_TOKEN_TYPE.into());
        let key = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    }

    #[test]
    fn device_tokens_verify_against_the_enrolled_key_of_either_algorithm() {
        let now = mi_contracts::UnixMillis::now().as_i64() / 1000;
        let claims = device_claims(now);

        let ed_signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let ed_credential = DeviceCredential {
            algorithm: DeviceKeyAlgorithm::Ed25519,
            public_key: {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(&ed_signer.public_key().x)
                    .expect("base64url")
            },
            push_token: String::new(),
        };
        let ed_token = ed_signer.sign(&claims).expect("sign");
        assert_eq!(
            DeviceClaims::verify(&ed_token, &ed_credential, now).expect("EdDSA"),
            claims
        );

        let p256 = p256_key();
        let p256_credential = p256_credential(&p256);
        assert_eq!(check_device_key(&p256_credential), Ok(()));
        let es_token = es256_token(&p256, &claims);
        assert_eq!(
            DeviceClaims::verify(&es_token, &p256_credential, now).expect("ES256"),
            claims
        );

        // Another P-256 key's signature, an expired token, and each algorithm's token against
        // the other algorithm's key are refused.
        let other = es256_token(&p256_key(), &claims);
        assert!(DeviceClaims::verify(&other, &p256_credential, now).is_err());
        let expired = es256_token(
            &p256,
            &DeviceClaims {
                iat: now - 600,
                exp: now - 540,
                ..claims.clone()
            },
        );
        assert!(DeviceClaims::verify(&expired, &p256_credential, now).is_err());
        assert!(
            DeviceClaims::verify(&es_token, &ed_credential, now).is_err(),
            "an ES256 token against an Ed25519 key"
        );
        assert!(
            DeviceClaims::verify(&ed_token, &p256_credential, now).is_err(),
            "an EdDSA token against a P-256 key"
        );
    }

    #[test]
    fn a_p256_key_must_be_an_uncompressed_point_on_the_curve() {
        let key = p256_credential(&p256_key());
        let mut off_curve = key.clone();
        off_curve.public_key[64] ^= 1;
        let compressed = DeviceCredential {
            public_key: p256_key().public_key().to_sec1_bytes()[..33].to_vec(),
            ..key.clone()
        };
        let mut compressed_tag = key.clone();
        compressed_tag.public_key[0] = 0x02;
        for refused in [off_curve, compressed, compressed_tag] {
            assert!(check_device_key(&refused).is_err(), "{refused:?}");
        }
    }
}

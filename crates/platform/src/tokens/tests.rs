//! Signing and verifying: kinds, required claims, key ids and the JWK set.

use super::*;

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: u64,
}

impl TokenKind for Claims {
    const TYP: &'static str = "test+jwt";
}

/// Claims with no issuer and no audience.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
struct Anonymous {
    sub: String,
    exp: u64,
}

impl TokenKind for Anonymous {
    const TYP: &'static str = "test+jwt";
}

/// The same claims as [`Claims`], signed as another kind of token.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
struct OtherKind(Claims);

impl TokenKind for OtherKind {
    const TYP: &'static str = "other+jwt";
}

fn claims(exp: u64) -> Claims {
    Claims {
        iss: "mi-verification".into(),
        aud: "mi-account".into(),
        sub: "+8613800138000".into(),
        exp,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

#[test]
fn signed_tokens_verify_with_the_published_key_only() {
    let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
    let expires = now() + 600;
    let token = signer.sign(&claims(expires)).expect("sign");
    let verifier = verifier_for(&signer);
    assert_eq!(
        verifier.verify::<Claims>(&token).expect("valid"),
        claims(expires)
    );

    let stranger =
        TokenSigner::from_seed(&SecretKey::generate(), Some(&signer.public_key().key_id))
            .expect("signer");
    assert!(
        verifier
            .verify::<Claims>(&stranger.sign(&claims(now() + 600)).expect("sign"))
            .is_err()
    );
    let other_kid = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
    assert!(matches!(
        verifier.verify::<Claims>(&other_kid.sign(&claims(now() + 600)).expect("sign")),
        Err(TokenError::UnknownKey)
    ));
    assert!(
        verifier
            .verify::<Claims>(&signer.sign(&claims(now() - 60)).expect("sign"))
            .is_err(),
        "expired"
    );
    let other_audience = TokenVerifier::new(
        &[signer.public_key().clone()],
        "mi-verification",
        "elsewhere",
    )
    .expect("verifier");
    assert!(other_audience.verify::<Claims>(&token).is_err());
}

fn verifier_for(signer: &TokenSigner) -> TokenVerifier {
    TokenVerifier::new(
        &[signer.public_key().clone()],
        "mi-verification",
        "mi-account",
    )
    .expect("verifier")
}

#[test]
fn tokens_without_issuer_or_audience_are_refused() {
    let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
    let anonymous = signer
        .sign(&Anonymous {
            sub: "+8613800138000".into(),
            exp: now() + 600,
        })
        .expect("sign");
    assert!(
        verifier_for(&signer)
            .verify::<Anonymous>(&anonymous)
            .is_err()
    );
}

#[test]
fn untyped_tokens_and_tokens_of_another_kind_are_refused() {
    let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
    let verifier = verifier_for(&signer);
    let mut untyped = Header::new(Algorithm::EdDSA);
    untyped.kid = Some(signer.public_key().key_id.clone());
    untyped.typ = None;
    let untyped =
        jsonwebtoken::encode(&untyped, &claims(now() + 600), &signer.encoding_key).expect("sign");
    assert!(verifier.verify::<Claims>(&untyped).is_err(), "no typ");

    let other_kind = signer.sign(&OtherKind(claims(now() + 600))).expect("sign");
    assert!(verifier.verify::<Claims>(&other_kind).is_err(), "other typ");
    assert!(verifier.verify::<OtherKind>(&other_kind).is_ok());
}

#[test]
fn header_types_compare_as_media_types() {
    assert!(is_type("at+jwt", "at+jwt"));
    assert!(is_type("application/AT+JWT", "at+jwt"));
    assert!(!is_type("JWT", "at+jwt"));
    assert!(!is_type("application/mi-verification+jwt", "at+jwt"));
}

#[test]
fn public_keys_round_trip_through_config_text_and_jwks() {
    let signer = TokenSigner::from_seed(&SecretKey::generate(), Some("k1")).expect("signer");
    let key = signer.public_key();
    assert_eq!(
        PublicKey::parse(&format!("{}:{}", key.key_id, key.x)).expect("parse"),
        *key
    );
    assert!(PublicKey::parse("k1:short").is_err());
    let jwks: serde_json::Value =
        serde_json::from_str(&jwk_set_json(std::slice::from_ref(key))).expect("json");
    assert_eq!(jwks["keys"][0]["kid"], "k1");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
}

/// The same key id and `x` as the openssl recipe in deploy/secrets/README.md gives.
#[test]
fn public_key_matches_the_documented_openssl_derivation() {
    let seed = SecretKey::parse_base64(&secrecy::SecretString::from(
        "LsklO1/bawHtrT6eQMLpNEX1g2Sfi1Mlnaj2Hu1iHC8=",
    ))
    .expect("seed");
    let key = TokenSigner::from_seed(&seed, None)
        .expect("signer")
        .public_key()
        .clone();
    assert_eq!(
        format!("{}:{}", key.key_id, key.x),
        "1fe676842529442a:cGJCjPaPjc6tqjPsVscjmHKHVeGX5EW2uhA_BP8e4ts"
    );
}

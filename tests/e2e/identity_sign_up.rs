//! Sign-up over gRPC with real codes from the dev inbox: the account it creates, the access
//! token it returns (verified offline with the published keys), and every refusal, which
//! creates nothing.

use crate::support::{
    Backends, TestConfig, TestPlatform, field_violations, in_both_modes, reason, strong_password,
    unique_email, unique_phone_number,
};
use mi_contracts::Reason;
use mi_platform::events;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::events::v1::AccountCreated;
use mi_proto::identity::v1::{ContactKind, ListSigningKeysRequest, SignUpRequest};
use tonic::Code;

in_both_modes!(
    sign_up_by_phone_creates_a_signed_in_account,
    sign_up_by_email_creates_a_signed_in_account,
    refused_sign_ups_create_nothing,
    an_existing_contact_is_told_to_reset_the_password,
);

/// The checks both sign-ups share: the account GetAccount shows and the offline token.
async fn assert_new_account(
    platform: &TestPlatform,
    destination: &str,
    kind: ContactKind,
    region: &str,
) -> u64 {
    let (tokens, _) = platform
        .create_account(destination, channel_for(kind))
        .await;
    assert!(
        (1_000_000_000..=9_999_999_999).contains(&tokens.mi_id),
        "a Mi ID has 10 digits: {}",
        tokens.mi_id
    );
    assert!(!tokens.session_id.is_empty());
    assert!(!tokens.access_token.is_empty() && !tokens.refresh_token.is_empty());
    assert_ne!(tokens.access_token, tokens.refresh_token);
    let now = i64::try_from(crate::support::unix_now()).unwrap();
    assert!(tokens.access_token_expire_time.unwrap().seconds > now);
    assert!(
        tokens.refresh_token_expire_time.unwrap().seconds
            > tokens.access_token_expire_time.unwrap().seconds
    );

    let account = platform.account(&tokens.access_token).await.unwrap();
    assert_eq!(account.mi_id, tokens.mi_id);
    assert_eq!(
        (account.region.as_str(), account.locale.as_str()),
        (region, "en")
    );
    assert!(account.create_time.is_some());
    assert_eq!(account.contacts.len(), 1, "{:?}", account.contacts);
    let contact = &account.contacts[0];
    assert_eq!(contact.kind, i32::from(kind));
    assert_eq!(contact.value, destination);
    assert!(contact.primary);
    assert!(contact.verify_time.is_some());
    let consent = account.consent.unwrap();
    assert_eq!(
        (consent.terms_version, consent.privacy_policy_version),
        platform.current_versions().await
    );
    assert!(consent.accept_time.is_some());
    let two_factor = account.two_factor.unwrap_or_default();
    assert!(!two_factor.enabled && !two_factor.totp_enabled);

    let published = platform
        .identity()
        .await
        .list_signing_keys(ListSigningKeysRequest {})
        .await
        .unwrap()
        .into_inner();
    let jwks: serde_json::Value = serde_json::from_str(&published.jwks_json).unwrap();
    for (key, jwk) in published.keys.iter().zip(jwks["keys"].as_array().unwrap()) {
        assert_eq!(jwk["kid"], key.key_id.as_str());
        assert_eq!(jwk["x"], key.public_key.as_str());
        assert_eq!(
            (jwk["kty"].as_str(), jwk["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
    }
    assert_eq!(jwks["keys"].as_array().unwrap().len(), published.keys.len());

    let claims = platform.access_claims(&tokens.access_token).await;
    assert_eq!(claims.sub, tokens.mi_id.to_string());
    assert_eq!(claims.sid, tokens.session_id);
    assert!(
        claims.amr.iter().any(|method| method == "pwd"),
        "{claims:?}"
    );
    assert!(claims.exp > claims.iat && claims.auth_time > 0);
    tokens.mi_id
}

fn channel_for(kind: ContactKind) -> Channel {
    match kind {
        ContactKind::Email => Channel::Email,
        _ => Channel::Sms,
    }
}

async fn sign_up_by_phone_creates_a_signed_in_account(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let first = assert_new_account(&platform, &phone, ContactKind::Phone, "CN").await;
    let second =
        assert_new_account(&platform, &unique_phone_number(), ContactKind::Phone, "CN").await;
    assert!(
        first.abs_diff(second) > 1,
        "Mi IDs must not be consecutive: {first}, {second}"
    );

    let created = platform
        .first_event("identity.events", |event| {
            event.aggregate_id == first.to_string()
                && events::payload::<AccountCreated>(event).is_some()
        })
        .await;
    let created: AccountCreated = events::payload(&created).unwrap().unwrap();
    assert_eq!(created.mi_id, first);
    assert_eq!(created.contact_kind, i32::from(ContactKind::Phone));
    assert_eq!(created.contact, phone);
    assert_eq!(created.region, "CN");
    let (terms, privacy_policy) = platform.current_versions().await;
    assert_eq!(
        (created.terms_version, created.privacy_policy_version),
        (terms, privacy_policy)
    );
    platform.stop().await;
}

async fn sign_up_by_email_creates_a_signed_in_account(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    assert_new_account(&platform, &unique_email(), ContactKind::Email, "US").await;
    platform.stop().await;
}

/// Calls SignUp and returns the refusal.
async fn refused(platform: &TestPlatform, request: SignUpRequest) -> tonic::Status {
    let described = format!("password {:?}", request.password);
    match platform.identity().await.sign_up(request).await {
        Ok(response) => panic!("sign-up with {described} accepted: {response:?}"),
        Err(status) => status,
    }
}

async fn refused_sign_ups_create_nothing(backends: Backends) {
    // Two of the weak passwords below are refused by the composition rule only, which is off
    // by default (NIST SP 800-63B-4) and switched on here.
    let platform = TestPlatform::start_with(
        TestConfig::new(backends)
            .with_repeatable_codes()
            .with_value("identity.password.require_mixed_case", true),
    )
    .await;
    let phone = unique_phone_number();
    let email = unique_email();

    let garbage = refused(
        &platform,
        platform
            .sign_up_form(&phone, "not-a-token", &strong_password())
            .await,
    )
    .await;
    assert_eq!(garbage.code(), Code::FailedPrecondition, "{garbage:?}");
    assert_eq!(reason(&garbage), Some(Reason::VerificationTokenInvalid));

    let reset_token = platform
        .verification_token(&phone, Channel::Sms, Purpose::PasswordReset)
        .await;
    let other_purpose = refused(
        &platform,
        platform
            .sign_up_form(&phone, &reset_token, &strong_password())
            .await,
    )
    .await;
    assert_eq!(
        other_purpose.code(),
        Code::FailedPrecondition,
        "{other_purpose:?}"
    );
    assert_eq!(
        reason(&other_purpose),
        Some(Reason::VerificationTokenInvalid)
    );

    let phone_token = platform
        .verification_token(&phone, Channel::Sms, Purpose::SignUp)
        .await;
    let email_token = platform
        .verification_token(&email, Channel::Email, Purpose::SignUp)
        .await;

    let no_terms = refused(
        &platform,
        SignUpRequest {
            accepted_terms_version: String::new(),
            ..platform
                .sign_up_form(&phone, &phone_token, &strong_password())
                .await
        },
    )
    .await;
    assert_eq!(no_terms.code(), Code::FailedPrecondition, "{no_terms:?}");
    assert_eq!(reason(&no_terms), Some(Reason::TermsNotAccepted));
    let no_privacy = refused(
        &platform,
        SignUpRequest {
            accepted_privacy_policy_version: String::new(),
            ..platform
                .sign_up_form(&phone, &phone_token, &strong_password())
                .await
        },
    )
    .await;
    assert_eq!(reason(&no_privacy), Some(Reason::TermsNotAccepted));

    let phone_digits = &phone[phone.len() - 8..];
    let email_local = email.split('@').next().unwrap();
    let weak_passwords = [
        (&phone, &phone_token, "Ab3-xyz".to_owned()),
        (&phone, &phone_token, "tangerine-orbit-42-kq".to_owned()),
        (&phone, &phone_token, "TANGERINE-ORBIT-42-KQ".to_owned()),
        (&phone, &phone_token, "Password123!".to_owned()),
        (&phone, &phone_token, "Qwerty12345".to_owned()),
        (&phone, &phone_token, format!("Orbit-{phone_digits}-Kq")),
        (&email, &email_token, format!("Kq-{email_local}-Orbit7")),
    ];
    for (destination, token, password) in &weak_passwords {
        let status = refused(
            &platform,
            platform.sign_up_form(destination, token, password).await,
        )
        .await;
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{password}: {status:?}"
        );
        let violations = field_violations(&status);
        assert!(
            violations.iter().any(|(field, _)| field == "password"),
            "{password}: {violations:?}"
        );
    }

    // Nothing was created and the tokens were not spent: good passwords still sign up.
    for (destination, token) in [(&phone, &phone_token), (&email, &email_token)] {
        let password = strong_password();
        let response = platform
            .identity()
            .await
            .sign_up(platform.sign_up_form(destination, token, &password).await)
            .await
            .unwrap_or_else(|status| panic!("{destination}: {status:?}"))
            .into_inner();
        let tokens = crate::support::expect_tokens(response);
        let account = platform.account(&tokens.access_token).await.unwrap();
        assert_eq!(account.contacts[0].value, *destination);
    }

    // A spent token is refused, even though its contact now has an account.
    let replayed = refused(
        &platform,
        platform
            .sign_up_form(&phone, &phone_token, &strong_password())
            .await,
    )
    .await;
    assert_eq!(replayed.code(), Code::FailedPrecondition, "{replayed:?}");
    assert_eq!(reason(&replayed), Some(Reason::VerificationTokenUsed));
    platform.stop().await;
}

async fn an_existing_contact_is_told_to_reset_the_password(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, Channel::Sms).await;

    let token = platform
        .verification_token(&phone, Channel::Sms, Purpose::SignUp)
        .await;
    let exists = refused(
        &platform,
        platform
            .sign_up_form(&phone, &token, &strong_password())
            .await,
    )
    .await;
    assert_eq!(exists.code(), Code::AlreadyExists, "{exists:?}");
    assert_eq!(reason(&exists), Some(Reason::AccountExists));
    assert!(
        exists.message().to_lowercase().contains("reset"),
        "the message points to a password reset: {}",
        exists.message()
    );

    // The existing account is untouched: its password still signs in.
    let signed_in = platform
        .sign_in(&phone, &password, crate::support::test_device("phone-1"))
        .await
        .unwrap();
    assert_eq!(crate::support::expect_tokens(signed_in).mi_id, tokens.mi_id);
    platform.stop().await;
}

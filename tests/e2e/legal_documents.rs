//! The terms of service and privacy policy (issue 11): GetLegalDocuments serves the current
//! versions with their URLs per locale, SignUp takes only those and records the consent, and
//! after a new version the next sign-in — after its second factor — returns consent_required
//! instead of tokens until AcceptLegalDocuments accepts the current versions. Every version
//! here comes from a reply; none is typed in.

use mi_contracts::Reason;
use mi_proto::common::v1::{Channel, Purpose};
use mi_proto::events::v1::LegalDocumentsAccepted;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::{
    AcceptLegalDocumentsRequest, AcceptLegalDocumentsResponse, ConsentRequired,
    GetLegalDocumentsRequest, LegalDocumentKind, SignUpRequest,
};
use tonic::{Code, Status};

use crate::support::{
    Backends, TestConfig, TestPlatform, error_metadata, expect_consent_required, expect_refusal,
    expect_tokens, field_violations, in_both_modes, strong_password, test_device,
    unique_phone_number, unix_now,
};

in_both_modes!(
    the_current_documents_are_served_in_english_and_chinese,
    sign_up_takes_only_the_current_versions_and_records_the_consent,
    a_new_version_is_accepted_at_the_next_sign_in_before_any_token,
    with_a_second_factor_the_documents_come_after_it,
);

async fn the_current_documents_are_served_in_english_and_chinese(backends: Backends) {
    let platform = TestPlatform::start(backends).await;
    let english = platform.legal_documents("en").await;
    let chinese = platform.legal_documents("zh-CN").await;
    for (en, zh) in english.iter().zip(&chinese) {
        assert!(!en.version.is_empty(), "{en:?}");
        assert_eq!(en.version, zh.version, "one version whatever the language");
        assert_eq!((en.locale.as_str(), zh.locale.as_str()), ("en", "zh-CN"));
        assert!(en.url.starts_with("https://") && zh.url.starts_with("https://"));
        assert_ne!(en.url, zh.url, "each language has its page");
    }
    assert_eq!(
        platform.legal_documents("").await,
        english,
        "no locale: English"
    );
    assert_eq!(
        platform.legal_documents("en-GB").await,
        english,
        "its language"
    );
    assert_eq!(
        platform.legal_documents("zh-TW").await,
        chinese,
        "its language"
    );

    let refused = expect_refusal(
        platform
            .identity()
            .await
            .get_legal_documents(GetLegalDocumentsRequest {
                locale: "fr".into(),
            })
            .await,
        Code::InvalidArgument,
        Some(Reason::InvalidArgument),
        "GetLegalDocuments in an unsupported language",
    );
    assert_eq!(error_metadata(&refused, "field").as_deref(), Some("locale"));
    platform.stop().await;
}

async fn sign_up_takes_only_the_current_versions_and_records_the_consent(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let token = platform
        .verification_token(&phone, Channel::Sms, Purpose::SignUp)
        .await;
    let form = platform
        .sign_up_form(&phone, &token, &strong_password())
        .await;
    let (terms, privacy_policy) = platform.current_versions().await;

    let outdated = [
        ("accepted_terms_version", "banana", privacy_policy.as_str()),
        ("accepted_terms_version", "1999-01", privacy_policy.as_str()),
        ("accepted_privacy_policy_version", terms.as_str(), "1999-01"),
    ];
    for (field, terms_version, privacy_policy_version) in outdated {
        let refused = expect_refusal(
            platform
                .identity()
                .await
                .sign_up(SignUpRequest {
                    accepted_terms_version: terms_version.into(),
                    accepted_privacy_policy_version: privacy_policy_version.into(),
                    ..form.clone()
                })
                .await,
            Code::InvalidArgument,
            Some(Reason::ConsentVersionOutdated),
            &format!("SignUp accepting {terms_version}/{privacy_policy_version}"),
        );
        assert_eq!(error_metadata(&refused, "field").as_deref(), Some(field));
        let violations = field_violations(&refused);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].0, field);
    }

    // The refusals spent nothing: the same token signs up with the current versions.
    let before = unix_now();
    let response = platform.identity().await.sign_up(form).await.unwrap();
    let tokens = expect_tokens(response.into_inner());
    let consent = platform
        .account(&tokens.access_token)
        .await
        .unwrap()
        .consent
        .unwrap();
    assert_eq!(
        (consent.terms_version, consent.privacy_policy_version),
        (terms, privacy_policy)
    );
    let accepted = consent.accept_time.unwrap().seconds;
    assert!(
        (i64::try_from(before).unwrap()..=i64::try_from(unix_now()).unwrap()).contains(&accepted),
        "accepted at {accepted}, signed up from {before}"
    );
    assert_eq!(consent_records(&platform, tokens.mi_id).await, 1);
    platform.stop().await;
}

async fn a_new_version_is_accepted_at_the_next_sign_in_before_any_token(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, Channel::Sms).await;
    let (old_terms, privacy_policy) = platform.current_versions().await;
    let first_consent = platform
        .account(&tokens.access_token)
        .await
        .unwrap()
        .consent
        .unwrap();
    let platform = raise_version(platform, "terms", "2099-01").await;

    // No tokens, however often the password is right: the new terms come first.
    let step = consent_step(&platform, &phone, &password).await;
    let again = consent_step(&platform, &phone, &password).await;
    assert_ne!(step.challenge_id, again.challenge_id);
    assert_eq!(
        step.documents.len(),
        1,
        "only the changed document: {step:?}"
    );
    let terms = &step.documents[0];
    assert_eq!(terms.kind, i32::from(LegalDocumentKind::TermsOfService));
    assert_eq!(terms.version, "2099-01");
    assert_eq!(terms.locale, "en", "the account's locale");
    assert_eq!(terms, &platform.legal_documents("en").await[0]);
    let now = i64::try_from(unix_now()).unwrap();
    assert!(step.expire_time.unwrap().seconds > now);

    let accept = |challenge_id: &str, terms: &str, privacy: &str| AcceptLegalDocumentsRequest {
        challenge_id: challenge_id.to_owned(),
        accepted_terms_version: terms.to_owned(),
        accepted_privacy_policy_version: privacy.to_owned(),
    };
    let id = step.challenge_id.as_str();
    let old = expect_refusal(
        accept_documents(&platform, accept(id, &old_terms, &privacy_policy)).await,
        Code::InvalidArgument,
        Some(Reason::ConsentVersionOutdated),
        "accepting the terms accepted before",
    );
    assert_eq!(
        error_metadata(&old, "field").as_deref(),
        Some("accepted_terms_version")
    );
    expect_refusal(
        accept_documents(&platform, accept(id, "", &privacy_policy)).await,
        Code::FailedPrecondition,
        Some(Reason::TermsNotAccepted),
        "accepting without the new terms",
    );
    let too_long = expect_refusal(
        accept_documents(&platform, accept(id, &"9".repeat(65), "")).await,
        Code::InvalidArgument,
        None,
        "a version over its 64 characters",
    );
    assert_eq!(field_violations(&too_long)[0].0, "accepted_terms_version");
    let unknown = uuid::Uuid::new_v4().to_string();
    expect_refusal(
        accept_documents(&platform, accept(&unknown, &terms.version, "")).await,
        Code::NotFound,
        Some(Reason::NotFound),
        "an unknown consent step",
    );

    // The version the step named (the unchanged privacy policy may stay unnamed).
    let signed_in = accept_documents(&platform, accept(id, &terms.version, ""))
        .await
        .unwrap()
        .tokens
        .unwrap();
    assert_eq!(signed_in.mi_id, tokens.mi_id);
    let claims = platform.access_claims(&signed_in.access_token).await;
    assert_eq!(claims.amr, ["pwd"]);
    let consent = platform
        .account(&signed_in.access_token)
        .await
        .unwrap()
        .consent
        .unwrap();
    assert_eq!(
        (
            consent.terms_version.as_str(),
            consent.privacy_policy_version
        ),
        ("2099-01", privacy_policy.clone())
    );
    assert!(consent.accept_time.unwrap().seconds >= first_consent.accept_time.unwrap().seconds);
    assert_eq!(consent_records(&platform, tokens.mi_id).await, 2);
    let published: LegalDocumentsAccepted = platform.identity_event(tokens.mi_id).await;
    assert_eq!(
        (
            published.terms_version.as_str(),
            published.privacy_policy_version
        ),
        ("2099-01", privacy_policy)
    );

    expect_refusal(
        accept_documents(&platform, accept(id, &terms.version, "")).await,
        Code::FailedPrecondition,
        Some(Reason::ChallengeExpired),
        "the same consent step again",
    );
    platform
        .sign_in_for_tokens(&phone, &password, test_device("phone-1"))
        .await;
    platform.stop().await;
}

async fn with_a_second_factor_the_documents_come_after_it(backends: Backends) {
    let platform = TestPlatform::start_for_identity(backends).await;
    let phone = unique_phone_number();
    let (tokens, password) = platform.create_account(&phone, Channel::Sms).await;
    let totp = platform.enable_totp(&tokens.access_token).await;
    let platform = raise_version(platform, "privacy_policy", "2099-02").await;

    let challenge = platform
        .sign_in_for_challenge(&phone, &password, test_device("phone-1"))
        .await;
    let proof = Proof::RecoveryCode(totp.recovery_codes[0].clone());
    let completed = platform
        .complete_sign_in(&challenge.challenge_id, proof)
        .await
        .unwrap();
    let step = expect_consent_required(completed);
    let kinds: Vec<i32> = step
        .documents
        .iter()
        .map(|document| document.kind)
        .collect();
    assert_eq!(kinds, [i32::from(LegalDocumentKind::PrivacyPolicy)]);

    let request = AcceptLegalDocumentsRequest {
        challenge_id: step.challenge_id.clone(),
        accepted_terms_version: String::new(),
        accepted_privacy_policy_version: step.documents[0].version.clone(),
    };
    let signed_in = accept_documents(&platform, request).await.unwrap();
    let claims = platform
        .access_claims(&signed_in.tokens.unwrap().access_token)
        .await;
    assert_eq!(claims.amr, ["pwd", "rec", "mfa"]);
    platform.stop().await;
}

/// Restarts the platform with a new current `version` of `document`.
async fn raise_version(platform: TestPlatform, document: &str, version: &str) -> TestPlatform {
    let config: TestConfig = platform.stop().await;
    TestPlatform::start_with(config.with_documents(document, version)).await
}

/// SignIn with the right password, which must return the consent step.
async fn consent_step(platform: &TestPlatform, phone: &str, password: &str) -> ConsentRequired {
    let response = platform
        .sign_in(phone, password, test_device("phone-1"))
        .await
        .unwrap();
    expect_consent_required(response)
}

async fn accept_documents(
    platform: &TestPlatform,
    request: AcceptLegalDocumentsRequest,
) -> Result<AcceptLegalDocumentsResponse, Status> {
    Ok(platform
        .identity()
        .await
        .accept_legal_documents(request)
        .await?
        .into_inner())
}

/// How many consents identity keeps for the account.
async fn consent_records(platform: &TestPlatform, mi_id: u64) -> i64 {
    let database = platform.config.database("identity").await;
    sqlx::query_scalar("SELECT COUNT(*) FROM consents WHERE mi_id = $1")
        .bind(i64::try_from(mi_id).unwrap())
        .fetch_one(database.pool())
        .await
        .unwrap()
}

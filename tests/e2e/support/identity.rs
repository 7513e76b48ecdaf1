//! Helpers for account tests: identity clients, verification tokens from real codes in the dev
//! inbox, ready-made accounts, bearer metadata, error details, and an independent RFC 6238
//! implementation to answer authenticator-app challenges.
//!
//! Sending several codes to one destination (sign-up, then a password reset, then a second
//! factor) needs [`TestPlatform::start_for_identity`] (or [`TestConfig::with_repeatable_codes`]):
//! the default cooldown allows one code per destination per minute.
//!
//! [`TestConfig::with_repeatable_codes`]: crate::support::TestConfig::with_repeatable_codes

use std::time::Duration;

use mi_platform::auth::{AccessClaims, AccessTokenVerifier};
use mi_platform::events;
use mi_platform::tokens::PublicKey;
use mi_proto::EventPayload;
use mi_proto::common::v1::DeviceInfo;
use mi_proto::common::v1::{Channel as CodeChannel, Purpose};
use mi_proto::identity::v1::complete_sign_in_response::Result as CompleteSignInResult;
use mi_proto::identity::v1::identity_service_client::IdentityServiceClient;
use mi_proto::identity::v1::second_factor_proof::Proof;
use mi_proto::identity::v1::sign_in_response::Result as SignInResult;
use mi_proto::identity::v1::{
    Account, CompleteSignInRequest, CompleteSignInResponse, ConsentRequired, GetAccountRequest,
    GetLegalDocumentsRequest, LegalDocument, LegalDocumentKind, ListSigningKeysRequest,
    RefreshSessionRequest, SecondFactorChallenge, SecondFactorMethod, SecondFactorProof,
    SessionTokens, SignInRequest, SignInResponse, SignUpRequest, SignUpResponse,
};
use mi_proto::notification::v1::InboxMessage;
use mi_proto::verification::v1::send_code_request::Target;
use mi_proto::verification::v1::{PassCaptchaRequest, SendCodeRequest};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::support::{
    DELIVERY_TIMEOUT, TestConfig, TestPlatform, channel, code_in, expect_refusal,
};

/// What the English code messages say just before the code.
pub(crate) const CODE_MARKER: &str = "verification code is";

impl TestPlatform {
    pub(crate) async fn identity(&self) -> IdentityServiceClient<Channel> {
        IdentityServiceClient::new(channel(self.addresses.identity).await)
    }

    /// A verification token for `destination` and `purpose`, the way a client gets one: SendCode
    /// (with a solved CAPTCHA, which sign-up always needs), the code read from the new message
    /// in the dev inbox, CheckCode.
    pub(crate) async fn verification_token(
        &self,
        destination: &str,
        channel: CodeChannel,
        purpose: Purpose,
    ) -> String {
        let before = self.inbox(destination).await.len();
        let request = SendCodeRequest {
            target: Some(Target::Destination(destination.to_owned())),
            channel: channel.into(),
            purpose: purpose.into(),
            locale: "en".into(),
            captcha: Some(self.solved_captcha().await),
        };
        let sent = match self.verification().await.send_code(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => panic!(
                "SendCode to {destination} for {purpose:?} refused: {status:?}; to send several \
                 codes to one destination, start the platform with \
                 TestPlatform::start_for_identity or TestConfig::with_repeatable_codes"
            ),
        };
        let code = code_in(&self.wait_for_new_code_message(destination, before).await);
        self.check(&sent.verification_id, &code)
            .await
            .unwrap_or_else(|status| {
                panic!("CheckCode for {destination} ({purpose:?}) refused: {status:?}")
            })
            .verification_token
    }

    /// The first code message for `destination` after the first `before` messages (security
    /// alerts to the same destination are skipped).
    pub(crate) async fn wait_for_new_code_message(
        &self,
        destination: &str,
        before: usize,
    ) -> InboxMessage {
        let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
        loop {
            let messages = self.inbox(destination).await;
            if let Some(message) = messages
                .into_iter()
                .skip(before)
                .find(|message| message.body.contains(CODE_MARKER))
            {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new code message for {destination} within {DELIVERY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signs up with a fresh verification token for `destination` and a strong unique
    /// password, on [`test_device`]`("phone-1")`; returns the tokens and the password.
    pub(crate) async fn create_account(
        &self,
        destination: &str,
        channel: CodeChannel,
    ) -> (SessionTokens, String) {
        let verification_token = self
            .verification_token(destination, channel, Purpose::SignUp)
            .await;
        let password = strong_password();
        let request = self
            .sign_up_form(destination, &verification_token, &password)
            .await;
        let response = self
            .identity()
            .await
            .sign_up(request)
            .await
            .unwrap_or_else(|status| panic!("sign-up of {destination} refused: {status:?}"))
            .into_inner();
        (expect_tokens(response), password)
    }

    /// The current documents, read in `locale`: GetLegalDocuments.
    pub(crate) async fn legal_documents(&self, locale: &str) -> Vec<LegalDocument> {
        let request = GetLegalDocumentsRequest {
            locale: locale.to_owned(),
        };
        let documents = self
            .identity()
            .await
            .get_legal_documents(request)
            .await
            .unwrap_or_else(|status| panic!("GetLegalDocuments({locale}) refused: {status:?}"))
            .into_inner()
            .documents;
        let kinds: Vec<i32> = documents.iter().map(|document| document.kind).collect();
        let expected = [
            LegalDocumentKind::TermsOfService,
            LegalDocumentKind::PrivacyPolicy,
        ];
        assert_eq!(
            kinds,
            expected.map(i32::from),
            "the terms, then the privacy policy"
        );
        documents
    }

    /// The current terms-of-service and privacy-policy versions, as a client learns them.
    pub(crate) async fn current_versions(&self) -> (String, String) {
        let documents = self.legal_documents("en").await;
        (documents[0].version.clone(), documents[1].version.clone())
    }

    /// A complete sign-up request accepting the current documents: region CN for +86
    /// numbers, else US; locale en; device [`test_device`]`("phone-1")`.
    pub(crate) async fn sign_up_form(
        &self,
        destination: &str,
        verification_token: &str,
        password: &str,
    ) -> SignUpRequest {
        let (terms, privacy_policy) = self.current_versions().await;
        let region = if destination.starts_with("+86") {
            "CN"
        } else {
            "US"
        };
        SignUpRequest {
            verification_token: verification_token.to_owned(),
            password: password.to_owned(),
            region: region.into(),
            locale: "en".into(),
            display_name: String::new(),
            accepted_terms_version: terms,
            accepted_privacy_policy_version: privacy_policy,
            device: Some(test_device("phone-1")),
        }
    }

    /// SignIn with an identifier (Mi ID, phone or email), a password and a device.
    pub(crate) async fn sign_in(
        &self,
        identifier: &str,
        password: &str,
        device: DeviceInfo,
    ) -> Result<SignInResponse, Status> {
        self.sign_in_with_pass(identifier, password, device, "")
            .await
    }

    /// SignIn with a CAPTCHA pass too (empty: none).
    pub(crate) async fn sign_in_with_pass(
        &self,
        identifier: &str,
        password: &str,
        device: DeviceInfo,
        captcha_pass: &str,
    ) -> Result<SignInResponse, Status> {
        let request = SignInRequest {
            identifier: identifier.to_owned(),
            password: password.to_owned(),
            device: Some(device),
            captcha_pass: captcha_pass.to_owned(),
        };
        Ok(self.identity().await.sign_in(request).await?.into_inner())
    }

    /// A CAPTCHA pass for `subject` (a sign-in identifier as typed), the way a client gets one:
    /// a solved CAPTCHA traded with PassCaptcha.
    pub(crate) async fn captcha_pass(&self, subject: &str) -> String {
        let request = PassCaptchaRequest {
            captcha: Some(self.solved_captcha().await),
            subject: subject.to_owned(),
        };
        self.verification()
            .await
            .pass_captcha(request)
            .await
            .unwrap_or_else(|status| panic!("PassCaptcha for {subject} refused: {status:?}"))
            .into_inner()
            .captcha_pass
    }

    /// SignIn that must succeed at once; returns its tokens (panics on a refusal or challenge).
    pub(crate) async fn sign_in_for_tokens(
        &self,
        identifier: &str,
        password: &str,
        device: DeviceInfo,
    ) -> SessionTokens {
        expect_tokens(self.accepted_sign_in(identifier, password, device).await)
    }

    /// SignIn that must ask for a second factor; returns the challenge (panics otherwise).
    pub(crate) async fn sign_in_for_challenge(
        &self,
        identifier: &str,
        password: &str,
        device: DeviceInfo,
    ) -> SecondFactorChallenge {
        expect_challenge(self.accepted_sign_in(identifier, password, device).await)
    }

    /// SignIn's reply; panics on a refusal.
    async fn accepted_sign_in(
        &self,
        identifier: &str,
        password: &str,
        device: DeviceInfo,
    ) -> SignInResponse {
        self.sign_in(identifier, password, device)
            .await
            .unwrap_or_else(|status| panic!("sign-in as {identifier} refused: {status:?}"))
    }

    /// GetAccount with an access token.
    pub(crate) async fn account(&self, access_token: &str) -> Result<Account, Status> {
        Ok(self
            .identity()
            .await
            .get_account(authed(GetAccountRequest {}, access_token))
            .await?
            .into_inner())
    }

    /// CompleteSignIn: answers a second-factor challenge with a proof.
    pub(crate) async fn complete_sign_in(
        &self,
        challenge_id: &str,
        proof: Proof,
    ) -> Result<CompleteSignInResponse, Status> {
        let request = CompleteSignInRequest {
            challenge_id: challenge_id.to_owned(),
            proof: Some(SecondFactorProof { proof: Some(proof) }),
        };
        Ok(self
            .identity()
            .await
            .complete_sign_in(request)
            .await?
            .into_inner())
    }

    /// RefreshSession with a refresh token.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<SessionTokens, Status> {
        let request = RefreshSessionRequest {
            refresh_token: refresh_token.to_owned(),
        };
        Ok(self
            .identity()
            .await
            .refresh_session(request)
            .await?
            .into_inner())
    }

    /// Asserts GetAccount refuses an access token with UNAUTHENTICATED.
    pub(crate) async fn assert_access_refused(&self, access_token: &str, what: &str) {
        expect_refusal(
            self.account(access_token).await,
            Code::Unauthenticated,
            None,
            what,
        );
    }

    /// Asserts that a session's access token and refresh token are both refused.
    pub(crate) async fn assert_session_ended(&self, tokens: &SessionTokens, what: &str) {
        self.assert_access_refused(&tokens.access_token, &format!("{what}: access token"))
            .await;
        expect_refusal(
            self.refresh(&tokens.refresh_token).await,
            Code::Unauthenticated,
            None,
            &format!("{what}: refresh token"),
        );
    }

    /// The first event of type `P` about account `mi_id` on `identity.events`.
    pub(crate) async fn identity_event<P: EventPayload>(&self, mi_id: u64) -> P {
        let aggregate_id = mi_id.to_string();
        let event = self
            .first_event("identity.events", |event| {
                event.aggregate_id == aggregate_id && events::payload::<P>(event).is_some()
            })
            .await;
        events::payload::<P>(&event).unwrap().unwrap()
    }

    /// The public keys ListSigningKeys publishes.
    pub(crate) async fn signing_keys(&self) -> Vec<PublicKey> {
        self.identity()
            .await
            .list_signing_keys(ListSigningKeysRequest {})
            .await
            .unwrap()
            .into_inner()
            .keys
            .into_iter()
            .map(|key| {
                assert_eq!(key.algorithm, "EdDSA");
                PublicKey::parse(&format!("{}:{}", key.key_id, key.public_key)).unwrap()
            })
            .collect()
    }

    /// The claims of an access token, verified offline with the keys ListSigningKeys publishes.
    pub(crate) async fn access_claims(&self, access_token: &str) -> AccessClaims {
        let verifier = AccessTokenVerifier::new(&self.signing_keys().await).unwrap();
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert(
            "authorization",
            format!("Bearer {access_token}").parse().unwrap(),
        );
        verifier
            .authenticate(&metadata)
            .unwrap_or_else(|error| panic!("access token refused offline: {error:?}"))
    }
}

impl TestConfig {
    /// An access token signed with identity's own key, with any claims (e.g. expired ones).
    pub(crate) fn sign_access_token(&self, claims: &AccessClaims) -> String {
        mi_platform::tokens::TokenSigner::from_seed(&self.identity_signing_key, None)
            .unwrap()
            .sign(claims)
            .unwrap()
    }
}

/// Claims as identity issues them, valid for ten minutes from now.
pub(crate) fn access_claims_for(mi_id: u64, session_id: &str) -> AccessClaims {
    let now = i64::try_from(unix_now()).unwrap();
    AccessClaims {
        iss: mi_platform::auth::ACCESS_TOKEN_ISSUER.into(),
        aud: mi_platform::auth::ACCESS_TOKEN_AUDIENCE.into(),
        sub: mi_id.to_string(),
        sid: session_id.to_owned(),
        amr: vec!["pwd".into()],
        auth_time: now,
        iat: now,
        exp: now + 600,
        jti: uuid::Uuid::new_v4().to_string(),
    }
}

/// A password that meets the policy (zxcvbn score 4, mixed case, digits, symbols), different on
/// every call and free of any test phone number or email local part.
pub(crate) fn strong_password() -> String {
    let suffix = &mi_test_support::unique_name("")[..8];
    format!("Tangerine-Orbit-{suffix}-Kq")
}

/// A device with a given id and a fixed model, OS and name.
pub(crate) fn test_device(id: &str) -> DeviceInfo {
    DeviceInfo {
        device_id: id.to_owned(),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: format!("Test {id}"),
        ..DeviceInfo::default()
    }
}

/// A request carrying `authorization: Bearer <access_token>`.
pub(crate) fn authed<T>(message: T, access_token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {access_token}")
            .parse()
            .expect("an access token is ASCII"),
    );
    request
}

/// A reply that signs in or asks for a next step. SignUp, SignIn and CompleteSignIn each have
/// their own message; tests read them alike, as SignIn's steps.
pub(crate) trait SignInReply {
    /// The reply's step, in SignIn's terms.
    fn step(self) -> Option<SignInResult>;
}

impl SignInReply for SignInResponse {
    fn step(self) -> Option<SignInResult> {
        self.result
    }
}

impl SignInReply for CompleteSignInResponse {
    fn step(self) -> Option<SignInResult> {
        self.result.map(|result| match result {
            CompleteSignInResult::Tokens(tokens) => SignInResult::Tokens(tokens),
            CompleteSignInResult::ConsentRequired(step) => SignInResult::ConsentRequired(step),
        })
    }
}

impl SignInReply for SignUpResponse {
    fn step(self) -> Option<SignInResult> {
        self.tokens.map(SignInResult::Tokens)
    }
}

/// The consent step of a sign-in reply; panics on tokens or a second-factor challenge.
pub(crate) fn expect_consent_required(response: impl SignInReply) -> ConsentRequired {
    match response.step() {
        Some(SignInResult::ConsentRequired(step)) => step,
        other => panic!("expected consent_required, got {other:?}"),
    }
}

/// The tokens of a sign-in reply; panics on a challenge.
pub(crate) fn expect_tokens(response: impl SignInReply) -> SessionTokens {
    match response.step() {
        Some(SignInResult::Tokens(tokens)) => tokens,
        other => panic!("expected tokens, got {other:?}"),
    }
}

/// The challenge of a sign-in reply; panics on tokens.
pub(crate) fn expect_challenge(response: impl SignInReply) -> SecondFactorChallenge {
    match response.step() {
        Some(SignInResult::Challenge(challenge)) => challenge,
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

/// Whether a challenge offers a second-factor method.
pub(crate) fn offers_method(challenge: &SecondFactorChallenge, method: SecondFactorMethod) -> bool {
    challenge.methods.contains(&i32::from(method))
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

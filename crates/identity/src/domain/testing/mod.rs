//! What the domain's unit tests stand on: [`FakeStore`], every store trait in memory
//! (`store.rs` for reads, sign-up, sign-in and sessions; `consent.rs` for the consent step;
//! `changes.rs` for contacts, passwords, two-factor and profile; `reactivation.rs` for the
//! reactivation locks), and [`World`], every family's service over one fake with cheap hashing
//! and its own keys.

mod changes;
mod consent;
mod reactivation;
mod sessions;
mod store;

use std::sync::Arc;
use std::time::Duration;

use mi_contracts::{Channel, Purpose, UnixMillis};
use mi_platform::auth::{
    CaptchaPassClaims, VERIFICATION_TOKEN_AUDIENCE, VERIFICATION_TOKEN_ISSUER, VerificationClaims,
};
use mi_platform::crypto::{CodeCipher, SecretKey};
use mi_platform::ephemeral::MemoryEphemeralStore;
use mi_platform::limiter::MemoryRateLimiter;
use mi_platform::send_token::SendTokenSealer;
use mi_platform::tokens::TokenSigner;
use secrecy::SecretString;

pub(crate) use self::store::FakeStore;
use super::events::IdentityEvent;
use super::{
    Argon2Settings, BruteForce, BruteForceSettings, Caller, ChallengeSettings, DeviceInfo,
    DocumentKind, DocumentSettings, FactorFailures, IdentityParts, IdentityServices,
    LegalDocuments, PasswordHasher, PasswordResetSettings, PasswordSettings, RecoveryCodes,
    ResetStarts, SendTokens, SessionLifetimes, SessionTokens, SignInOutcome, SignInRequest,
    SignUpRequest, TokenIssuer, TotpSecrets, VerificationTokens,
};

/// A password the policy accepts.
pub(crate) const STRONG_PASSWORD: &str = "Tangerine-Orbit-47";
/// The primary contact of [`World::signed_up`] accounts.
pub(crate) const PHONE: &str = "+8613800138000";
/// The current terms-of-service version of every world.
pub(crate) const TERMS_VERSION: &str = "2025-01";
/// The current privacy-policy version of every world.
pub(crate) const PRIVACY_VERSION: &str = "2025-02";

/// Every family's service over one [`FakeStore`].
pub(crate) struct World {
    pub(crate) store: Arc<FakeStore>,
    pub(crate) services: IdentityServices,
    /// Opens the send tokens the services seal, as verification does.
    pub(crate) send_tokens: SendTokenSealer,
    verification_signer: TokenSigner,
}

impl World {
    /// A world with the default settings, 8 MiB hashes on one thread.
    pub(crate) fn new() -> Self {
        Self::with_challenges(ChallengeSettings::default())
    }

    /// A world whose sign-ins are challenged as `challenges` says.
    pub(crate) fn with_challenges(challenges: ChallengeSettings) -> Self {
        Self::build(challenges, Duration::ZERO)
    }

    /// A world where a traded-in refresh token gets the same successor for `reuse_grace`
    /// (none in the other worlds, where any second use is a reuse).
    pub(crate) fn with_reuse_grace(reuse_grace: Duration) -> Self {
        Self::build(ChallengeSettings::default(), reuse_grace)
    }

    fn build(challenges: ChallengeSettings, reuse_grace: Duration) -> Self {
        let store = Arc::new(FakeStore::default());
        let pepper = SecretKey::generate();
        let cheap = Argon2Settings {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(&cheap, pepper.clone(), Some(1), None).expect("hasher");
        let access_signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let verification_signer =
            TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let send_tokens = SendTokenSealer::new(&SecretKey::generate());
        let offers = SendTokens::new(send_tokens.clone());
        let parts = IdentityParts {
            hasher,
            password: PasswordSettings::default(),
            brute_force: BruteForce::new(
                Arc::new(MemoryEphemeralStore::new()),
                Arc::new(MemoryRateLimiter::new()),
                BruteForceSettings::default(),
            ),
            factor_failures: FactorFailures::new(
                Arc::new(MemoryEphemeralStore::new()),
                challenges.delays.clone(),
            ),
            issuer: TokenIssuer::new(
                access_signer,
                Vec::new(),
                SessionLifetimes {
                    access_ttl: Duration::from_secs(900),
                    refresh_idle_ttl: Duration::from_secs(30 * 24 * 3600),
                    max_lifetime: Duration::from_secs(90 * 24 * 3600),
                    reuse_grace,
                },
                SecretKey::generate(),
            ),
            verification_tokens: VerificationTokens::new(
                &[verification_signer.public_key().clone()],
                send_tokens.clone(),
            )
            .expect("verifier"),
            send_tokens: offers.clone(),
            resets: ResetStarts::new(
                offers,
                Arc::new(MemoryRateLimiter::new()),
                PasswordResetSettings {
                    starts_per_client_per_hour: 3,
                    ..PasswordResetSettings::default()
                },
            ),
            totp: TotpSecrets::new(CodeCipher::new(&SecretKey::generate())),
            recovery_codes: RecoveryCodes::new(pepper),
            challenges,
            recent_auth_window: Duration::from_secs(300),
            legal: current_documents(),
            consent_ttl: Duration::from_secs(1800),
            reactivation_locks: Arc::new(reactivation::MemoryReactivationLocks::default()),
        };
        Self {
            services: IdentityServices::new(Arc::clone(&store), parts),
            store,
            send_tokens,
            verification_signer,
        }
    }

    /// A verification token proving `contact` for `purpose`, as the verification service
    /// signs it.
    pub(crate) fn verification_token(&self, contact: &str, purpose: Purpose) -> String {
        let now_seconds = UnixMillis::now().as_i64() / 1000;
        let claims = VerificationClaims {
            iss: VERIFICATION_TOKEN_ISSUER.into(),
            aud: VERIFICATION_TOKEN_AUDIENCE.into(),
            sub: contact.into(),
            sealed_sub: None,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now_seconds,
            exp: now_seconds + 600,
            vid: uuid::Uuid::new_v4().to_string(),
            channel: Channel::for_contact(contact),
            purpose,
        };
        self.verification_signer.sign(&claims).expect("sign")
    }

    /// A CAPTCHA pass for the canonical identifier `subject`, as the verification service
    /// signs it.
    pub(crate) fn captcha_pass(&self, subject: &str) -> SecretString {
        let now_seconds = UnixMillis::now().as_i64() / 1000;
        let claims = CaptchaPassClaims {
            iss: VERIFICATION_TOKEN_ISSUER.into(),
            aud: VERIFICATION_TOKEN_AUDIENCE.into(),
            sub: subject.into(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now_seconds,
            exp: now_seconds + 120,
        };
        SecretString::from(self.verification_signer.sign(&claims).expect("sign"))
    }

    /// What SignUp gets for `contact` with the strong password on `device-1`.
    pub(crate) fn sign_up_request(&self, token: String) -> SignUpRequest {
        SignUpRequest {
            verification_token: token,
            password: SecretString::from(STRONG_PASSWORD),
            region: "CN".into(),
            locale: "zh-CN".into(),
            display_name: "Jane".into(),
            terms_version: TERMS_VERSION.into(),
            privacy_policy_version: PRIVACY_VERSION.into(),
            device: device("device-1"),
            client_address: "203.0.113.7".into(),
        }
    }

    /// An account signed up on [`PHONE`], and its first session.
    pub(crate) async fn signed_up(&self) -> SessionTokens {
        let token = self.verification_token(PHONE, Purpose::SignUp);
        self.services
            .sign_up
            .sign_up(self.sign_up_request(token))
            .await
            .expect("sign up")
    }

    /// Another session of the [`PHONE`] account, signed in with the password on `device_id`.
    pub(crate) async fn signed_in_on(&self, device_id: &str) -> SessionTokens {
        let request = SignInRequest {
            identifier: PHONE.into(),
            password: SecretString::from(STRONG_PASSWORD),
            device: device(device_id),
            client_address: "203.0.113.8".into(),
            captcha_pass: None,
        };
        match self.services.sign_in.sign_in(request).await {
            Ok(SignInOutcome::SignedIn(tokens)) => tokens,
            other => panic!("expected a session, got {other:?}"),
        }
    }

    /// The caller of a session's access token.
    pub(crate) fn caller(&self, tokens: &SessionTokens) -> Caller {
        Caller {
            mi_id: tokens.session.mi_id,
            session_id: tokens.session.session_id.clone(),
            auth_time: tokens.session.auth_time,
            locale: self
                .store
                .state()
                .account(tokens.session.mi_id)
                .map(|account| account.locale)
                .unwrap_or_default(),
        }
    }

    /// The caller of a session that proved its password long ago.
    pub(crate) fn stale_caller(&self, tokens: &SessionTokens) -> Caller {
        Caller {
            auth_time: tokens
                .session
                .auth_time
                .saturating_sub(Duration::from_secs(3600)),
            ..self.caller(tokens)
        }
    }

    /// Every event recorded so far, oldest first.
    pub(crate) fn events(&self) -> Vec<IdentityEvent> {
        self.store.events()
    }

    /// Forgets the events recorded so far.
    pub(crate) fn clear_events(&self) {
        self.store.clear_events();
    }
}

/// [`TERMS_VERSION`] and [`PRIVACY_VERSION`], at the placeholder URLs.
fn current_documents() -> LegalDocuments {
    let current = |kind, version: &str| DocumentSettings {
        version: version.into(),
        ..DocumentSettings::placeholder(kind)
    };
    LegalDocuments::new(
        &current(DocumentKind::TermsOfService, TERMS_VERSION),
        &current(DocumentKind::PrivacyPolicy, PRIVACY_VERSION),
    )
    .expect("valid documents")
}

/// A device as the client describes it.
pub(crate) fn device(device_id: &str) -> DeviceInfo {
    DeviceInfo {
        device_id: device_id.into(),
        model: "Redmi Note 13".into(),
        os: "HyperOS 2.0".into(),
        name: "Phone".into(),
        ..DeviceInfo::default()
    }
}

//! An in-memory [`VerificationStore`] with the SQL store's conditional updates, and a verifier
//! over it with in-memory limiter and CAPTCHA store, for the domain's unit tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mi_contracts::{Channel, Purpose, UnixMillis};
use mi_platform::crypto::{CodeCipher, SecretKey};
use mi_platform::ephemeral::MemoryEphemeralStore;
use mi_platform::limiter::MemoryRateLimiter;
use mi_platform::send_token::SendTokenSealer;
use mi_platform::tokens::TokenSigner;

use super::{
    Captchas, ClientAddress, CodeHasher, CodeIssued, CountrySettings, LimitSettings, Policy,
    SendCodeRequest, SendTarget, Status, Verification, VerificationApproved, VerificationLocked,
    VerificationStore, VerificationTokens, Verifier, VerifierParts,
};

/// An event the store was asked to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Published {
    Issued(CodeIssued),
    Approved(VerificationApproved),
    Locked(VerificationLocked),
}

/// Verifications and published events in memory.
#[derive(Debug, Default)]
pub(super) struct MemoryVerificationStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    verifications: HashMap<String, Verification>,
    published: Vec<Published>,
}

impl MemoryVerificationStore {
    /// Applies `change` to a verification that `applies` accepts, publishing `event`; false
    /// (and nothing changed) otherwise.
    fn apply(
        &self,
        verification_id: &str,
        applies: impl FnOnce(&Verification) -> bool,
        change: impl FnOnce(&mut Verification),
        event: Published,
    ) -> bool {
        let mut state = self.state.lock().expect("lock");
        let Some(verification) = state.verifications.get_mut(verification_id) else {
            return false;
        };
        if !applies(verification) {
            return false;
        }
        change(verification);
        state.published.push(event);
        true
    }

    /// The events published so far, oldest first.
    pub(super) fn published(&self) -> Vec<Published> {
        self.state.lock().expect("lock").published.clone()
    }

    /// The stored verification.
    pub(super) fn stored(&self, verification_id: &str) -> Option<Verification> {
        let state = self.state.lock().expect("lock");
        state.verifications.get(verification_id).cloned()
    }
}

#[async_trait]
impl VerificationStore for MemoryVerificationStore {
    async fn insert(&self, verification: &Verification, event: &CodeIssued) -> anyhow::Result<()> {
        let mut state = self.state.lock().expect("lock");
        let id = verification.verification_id.clone();
        anyhow::ensure!(!state.verifications.contains_key(&id), "duplicate id");
        state.verifications.insert(id, verification.clone());
        state.published.push(Published::Issued(event.clone()));
        Ok(())
    }

    async fn reissue(
        &self,
        verification: &Verification,
        max_sends: u32,
        _now: UnixMillis,
        event: &CodeIssued,
    ) -> anyhow::Result<bool> {
        Ok(self.apply(
            &verification.verification_id,
            |stored| stored.status == Status::Pending && stored.send_count < max_sends,
            |stored| {
                *stored = Verification {
                    attempts: 0,
                    send_count: stored.send_count + 1,
                    ..verification.clone()
                }
            },
            Published::Issued(event.clone()),
        ))
    }

    async fn get(&self, verification_id: &str) -> anyhow::Result<Option<Verification>> {
        Ok(self.stored(verification_id))
    }

    async fn count_wrong_attempt(
        &self,
        verification_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<u32>> {
        let mut state = self.state.lock().expect("lock");
        Ok(state
            .verifications
            .get_mut(verification_id)
            .filter(|stored| stored.status == Status::Pending && stored.expires_at > now)
            .map(|stored| {
                stored.attempts += 1;
                stored.attempts
            }))
    }

    async fn approve(
        &self,
        verification_id: &str,
        code_hash: &[u8],
        max_attempts: u32,
        now: UnixMillis,
        event: &VerificationApproved,
    ) -> anyhow::Result<bool> {
        Ok(self.apply(
            verification_id,
            |stored| {
                stored.status == Status::Pending
                    && stored.expires_at > now
                    && stored.code_hash == code_hash
                    && stored.attempts < max_attempts
            },
            |stored| {
                stored.status = Status::Approved;
                stored.attempts += 1;
            },
            Published::Approved(event.clone()),
        ))
    }

    async fn lock(
        &self,
        verification_id: &str,
        _now: UnixMillis,
        event: &VerificationLocked,
    ) -> anyhow::Result<bool> {
        Ok(self.apply(
            verification_id,
            |stored| stored.status == Status::Pending,
            |stored| stored.status = Status::Locked,
            Published::Locked(event.clone()),
        ))
    }
}

/// A verifier over an in-memory store, with the cipher that opens its sealed codes.
#[derive(Debug)]
pub(super) struct Fixture {
    pub(super) verifier: Verifier,
    pub(super) store: Arc<MemoryVerificationStore>,
    /// Seals send tokens as identity would.
    pub(super) send_tokens: SendTokenSealer,
    cipher: CodeCipher,
}

/// Wrong codes a verification takes before it locks, in the fixture.
pub(super) const MAX_CHECK_ATTEMPTS: u32 = 3;

impl Fixture {
    /// A verifier allowing 3 attempts and 5 sends, with no cooldown and no CAPTCHA below
    /// 100 sends, so that tests meet only the rule they test.
    pub(super) fn new() -> Self {
        Self::with_limits(LimitSettings {
            send_cooldown: Duration::ZERO,
            ..LimitSettings::default()
        })
    }

    /// The same verifier with other rate limits.
    pub(super) fn with_limits(limits: LimitSettings) -> Self {
        let store = Arc::new(MemoryVerificationStore::default());
        let cipher = CodeCipher::new(&SecretKey::generate());
        let send_tokens = SendTokenSealer::new(&SecretKey::generate());
        let signer = TokenSigner::from_seed(&SecretKey::generate(), None).expect("signer");
        let ten_minutes = Duration::from_secs(600);
        let verifier = Verifier::new(VerifierParts {
            store: Arc::clone(&store) as _,
            limiter: Arc::new(MemoryRateLimiter::new()),
            captchas: Captchas::new(Arc::new(MemoryEphemeralStore::new()), ten_minutes, 5),
            hasher: CodeHasher::new(&SecretKey::generate()),
            cipher: cipher.clone(),
            send_tokens: send_tokens.clone(),
            tokens: VerificationTokens::new(
                signer,
                Vec::new(),
                ten_minutes,
                ten_minutes,
                send_tokens.clone(),
            ),
            policy: Policy {
                code_ttl: ten_minutes,
                max_check_attempts: MAX_CHECK_ATTEMPTS,
                max_sends_per_verification: 5,
                captcha_risk_threshold: 100,
                limits,
                countries: CountrySettings::default(),
            },
        });
        Self {
            verifier,
            store,
            send_tokens,
            cipher,
        }
    }

    /// A password-reset code request (no CAPTCHA needed) to `destination`.
    pub(super) fn request(destination: &str, channel: Channel) -> SendCodeRequest {
        SendCodeRequest {
            target: SendTarget::Destination(destination.to_owned()),
            channel: Some(channel),
            purpose: Some(Purpose::PasswordReset),
            locale: "en".into(),
            captcha: None,
            client: ClientAddress("192.0.2.1".into()),
        }
    }

    /// The digits of the last code issued for the verification, opened as notification would.
    pub(super) fn last_code(&self, verification_id: &str) -> String {
        let sealed = self
            .store
            .published()
            .into_iter()
            .rev()
            .find_map(|event| match event {
                Published::Issued(issued) if issued.verification_id == verification_id => {
                    Some(issued.sealed_code)
                }
                _ => None,
            })
            .expect("a code was issued");
        let code = self.cipher.open(verification_id, &sealed).expect("opens");
        String::from_utf8(code).expect("digits")
    }
}

/// A 6-digit code other than `code`.
pub(super) fn other_code(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

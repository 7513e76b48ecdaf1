//! What the sign-in family needs stored: the account a sign-in names, its challenges, spent
//! verification tokens, and the consent step (`ConsentStore`).

use async_trait::async_trait;
use mi_contracts::{MiId, UnixMillis};

use super::{Challenge, ConsentChallenge};
use crate::domain::events::IdentityEvent;
use crate::domain::{Account, Consent, Identifier, NewSession, StoredHash, VerifiedContact};

/// An account as a password sign-in finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInCandidate {
    /// The account, with its contacts and second-factor state.
    pub account: Account,
    /// Its password hash.
    pub password: StoredHash,
    /// Whether the account signed in on this device before.
    pub known_device: bool,
}

/// How answering a challenge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// Completed; what follows it (the session, or the consent step) is stored.
    Completed,
    /// Completed, expired or locked meanwhile.
    NotPending,
    /// The verification token was spent before.
    TokenSpent,
}

/// Password sign-ins and their challenges.
#[async_trait]
pub trait SignInStore: Send + Sync + std::fmt::Debug {
    /// What a password sign-in on `device_id` needs of the account a Mi ID or contact names,
    /// in one read.
    async fn sign_in_candidate(
        &self,
        identifier: &Identifier,
        device_id: &str,
    ) -> anyhow::Result<Option<SignInCandidate>>;

    /// Replaces a hash made with old parameters, if it is still the stored one.
    async fn upgrade_password_hash(
        &self,
        mi_id: MiId,
        old: &StoredHash,
        new: &StoredHash,
    ) -> anyhow::Result<()>;

    /// Stores a new challenge.
    async fn create_challenge(&self, challenge: &Challenge) -> anyhow::Result<()>;

    /// A challenge by id.
    async fn challenge(&self, challenge_id: &str) -> anyhow::Result<Option<Challenge>>;

    /// Counts a wrong answer to a pending challenge; the attempts so far, or `None` if it is
    /// no longer pending.
    async fn count_challenge_attempt(
        &self,
        challenge_id: &str,
        now: UnixMillis,
    ) -> anyhow::Result<Option<u32>>;

    /// Completes a pending challenge with fewer than `max_attempts` attempts, spending
    /// `token` if given, and starts the session, with the events, in one transaction.
    async fn complete_challenge(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CompleteOutcome>;

    /// Spends a verification token on its own (Reauthenticate); false if it was spent before.
    async fn spend_token(&self, token: &VerifiedContact) -> anyhow::Result<bool>;
}

/// The consent step of sign-ins: sign-ins waiting for the person to accept the current
/// documents, and the consent that ends them.
#[async_trait]
pub trait ConsentStore: Send + Sync + std::fmt::Debug {
    /// Stores a new consent step of a password-only sign-in.
    async fn create_consent_challenge(&self, challenge: &ConsentChallenge) -> anyhow::Result<()>;

    /// A consent step by id.
    async fn consent_challenge(
        &self,
        challenge_id: &str,
    ) -> anyhow::Result<Option<ConsentChallenge>>;

    /// Completes a pending second-factor challenge with fewer than `max_attempts` attempts,
    /// spending `token` if given, and stores the consent step that follows it instead of a
    /// session, in one transaction.
    async fn complete_challenge_for_consent(
        &self,
        challenge_id: &str,
        max_attempts: u32,
        token: Option<&VerifiedContact>,
        consent_challenge: &ConsentChallenge,
    ) -> anyhow::Result<CompleteOutcome>;

    /// Completes a pending consent step: records `consent` as the account's (with the client
    /// address it came from) and starts the session, with the events, in one transaction.
    async fn accept_consent(
        &self,
        challenge_id: &str,
        consent: &Consent,
        client_address: &str,
        session: &NewSession,
        events: &[IdentityEvent],
    ) -> anyhow::Result<CompleteOutcome>;
}
